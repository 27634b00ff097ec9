//! CORS, per project. A request that names its project (`?key=<public
//! key>`, as every widget read does) is answered for the origins *that*
//! project allows, so one project allowing `*` opens no other project's
//! reads. Requests without a key: ingest (`POST /v1/events`, whose key is
//! in the body, so its preflight cannot know the project; the handler
//! checks the origin against the body's project and answers 403), the
//! public survey definitions and the widget's own files (a page imports the
//! module and compiles the wasm across origins) get the origins any project
//! allows. No other API answers a browser on another origin: the
//! secret-key APIs are for servers, and the dashboard is same-origin.
//!
//! `Authorization` is deliberately not an allowed header: secret keys are
//! for servers, not pages. `Retry-After` is exposed so the widget can
//! honour a 429.

use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method};
use serde::Deserialize;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::projects::Projects;

#[derive(Deserialize)]
struct KeyParam {
    key: Option<String>,
}

/// Whether a browser on `origin` may read the answer to this request.
pub fn allows(projects: &Projects, origin: &str, parts: &Parts) -> bool {
    let key = axum::extract::Query::<KeyParam>::try_from_uri(&parts.uri).ok().and_then(|q| q.0.key);
    match key {
        Some(key) => projects.by_public_key(&key).is_some_and(|p| p.allows_origin(origin)),
        None => {
            let path = parts.uri.path();
            // `/v1/surveys/{id}`, not its secret-key `/nps`.
            let definition = path.strip_prefix("/v1/surveys/").is_some_and(|id| !id.is_empty() && !id.contains('/'));
            // Posting events (or its preflight), not the secret-key `GET /v1/events`.
            let preflight_of_post = parts.method == Method::OPTIONS
                && parts.headers.get(header::ACCESS_CONTROL_REQUEST_METHOD).is_some_and(|m| m == "POST");
            let ingest = path == "/v1/events" && (parts.method == Method::POST || preflight_of_post);
            // The widget's files: a page on another origin imports the module and compiles the wasm with CORS.
            let api = path.starts_with("/v1/") || path.starts_with("/segment/");
            (ingest || definition || !api) && projects.any_allows_origin(origin)
        }
    }
}

pub fn layer(projects: Arc<Projects>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, parts: &Parts| {
            origin.to_str().is_ok_and(|origin| allows(&projects, origin, parts))
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}
