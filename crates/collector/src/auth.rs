//! The read APIs' credential: `Authorization: Bearer <secret_key>`.
//!
//! No header (or not a Bearer one) is 401 with `WWW-Authenticate: Bearer`;
//! a key that is not some project's secret key is 403. The public key is
//! refused too, with a message saying which key is needed: it is in every
//! page that embeds the widget, so it must never read data.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

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
