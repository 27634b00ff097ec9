//! The read APIs' credentials.
//!
//! [`SecretKey`], for servers: `Authorization: Bearer <secret_key>`. No header (or not a Bearer one) is 401 with `WWW-Authenticate: Bearer`;
//! a key that is not some project's secret key is 403. The public key is
//! refused too, with a message saying which key is needed: it is in every
//! page that embeds the widget, so it must never read project-wide data.
//!
//! [`PublicKey`], for the few reads the widget makes from the page about its
//! own user (checklist definitions and progress, targeting facts):
//! `?key=<public_key>`, from an origin the project allows, checked like
//! ingest. Which user is [`person`]'s business: with identity verification
//! on, a `user_id` needs its `user_hash`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, ORIGIN};
use axum::http::request::Parts;
use serde::Deserialize;

use crate::checklists::replay::Person;
use crate::error::AppError;
use crate::projects::ProjectEntry;
use crate::AppState;

/// The project whose secret key the request carries; reads are scoped to it.
pub struct SecretKey(pub Arc<ProjectEntry>);

impl FromRequestParts<AppState> for SecretKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Err(AppError::Unauthorized(
                "this API needs the project's secret key: Authorization: Bearer <secret_key>".into(),
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| AppError::Unauthorized("the Authorization header must be \"Bearer <secret_key>\"".into()))?;
        if let Some(project) = state.projects.by_secret_key(token) {
            return Ok(SecretKey(project.clone()));
        }
        let message = if state.projects.by_public_key(token).is_some() {
            "that is a public ingest key; this API needs the project's secret key"
        } else {
            "this secret key belongs to no project"
        };
        Err(AppError::Forbidden { message: message.into(), field: "authorization" })
    }
}

/// The project whose public key is the `key` query parameter.
pub struct PublicKey(pub Arc<ProjectEntry>);

#[derive(Deserialize)]
struct KeyParam {
    key: Option<String>,
}

impl FromRequestParts<AppState> for PublicKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let key = axum::extract::Query::<KeyParam>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.key)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| {
                AppError::bad_request("this API needs the project's public key: ?key=<public_key>", Some("key"))
            })?;
        let Some(project) = state.projects.by_public_key(&key) else {
            if state.projects.by_secret_key(&key).is_some() {
                let message = "that is a secret key, which must never be in a page; use the project's public key";
                return Err(AppError::Forbidden { message: message.into(), field: "key" });
            }
            return Err(AppError::UnknownProjectKey);
        };
        // As for ingest: browsers always say where they call from; other
        // clients may not, and the key is public anyway.
        if let Some(origin) = parts.headers.get(ORIGIN) {
            let origin = String::from_utf8_lossy(origin.as_bytes());
            if !project.allows_origin(&origin) {
                let message = format!("origin {origin:?} is not allowed to use this project key");
                return Err(AppError::Forbidden { message, field: "origin" });
            }
        }
        if let Some(client) = crate::limits::client_ip(&parts.headers, &parts.extensions, &state.config.limits) {
            state.clients.admit_read(client, project)?;
        }
        Ok(PublicKey(project.clone()))
    }
}

/// The person a widget read is about: `user_id` (believed only with the
/// right `user_hash` when the project verifies identities) wins over
/// `anonymous_id`; empty values count as absent.
pub fn person(
    project: &ProjectEntry,
    user_id: Option<String>,
    user_hash: Option<String>,
    anonymous_id: Option<String>,
) -> Result<Person, AppError> {
    let who = named(user_id, anonymous_id)
        .ok_or_else(|| AppError::bad_request("give the user as ?user_id=… or ?anonymous_id=…", Some("user_id")))?;
    if let Person::User(user) = &who {
        project
            .verify_user(user, user_hash.as_deref())
            .map_err(|e| AppError::Forbidden { message: e.to_string(), field: "user_hash" })?;
    }
    Ok(who)
}

/// The person `user_id` or else `anonymous_id` names, without checking the
/// identity (for reads with the secret key); `None` if neither is given.
pub fn named(user_id: Option<String>, anonymous_id: Option<String>) -> Option<Person> {
    let given = |v: Option<String>| v.filter(|v| !v.is_empty());
    match (given(user_id), given(anonymous_id)) {
        (Some(user), _) => Some(Person::User(user)),
        (None, Some(browser)) => Some(Person::Anonymous(browser)),
        (None, None) => None,
    }
}
