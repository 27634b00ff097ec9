//! - `GET /v1/openapi.json` — the OpenAPI 3.1 description of the public
//!   routes (see [`crate::openapi`]). Public: it describes, it reveals nothing.

use std::sync::OnceLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(openapi))
}

async fn openapi() -> impl IntoResponse {
    // The document depends only on the binary: build it once.
    static DOC: OnceLock<String> = OnceLock::new();
    let body = DOC.get_or_init(|| crate::openapi::document().to_string()).clone();
    ([(CONTENT_TYPE, "application/json"), (CACHE_CONTROL, "max-age=300")], body)
}
