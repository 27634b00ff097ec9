//! Every error a client can see, in one shape: `{"error": "...", "field": "..."}`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::DbError;

#[derive(Debug)]
pub enum AppError {
    /// The request is malformed; `field` is the JSON path or parameter at fault.
    BadRequest {
        message: String,
        field: Option<String>,
    },
    /// The public key in an ingest body names no project.
    UnknownProjectKey,
    /// A read API without usable `Authorization: Bearer <secret_key>`.
    Unauthorized(String),
    /// Credentials or origin understood and refused; `field` names what was refused.
    Forbidden {
        message: String,
        field: &'static str,
    },
    /// Over the project's rate limit; `Retry-After` says when to try again.
    RateLimited {
        message: String,
        retry_after: Duration,
    },
    NotFound(String),
    /// The request is understood but the resource's state does not allow it.
    Conflict(String),
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedMediaType,
    /// Details stay in the server log (see [`log_internal_errors`]), never in the body.
    Internal(String),
}

impl AppError {
    pub fn bad_request(message: impl Into<String>, field: Option<&str>) -> AppError {
        AppError::BadRequest { message: message.into(), field: field.map(str::to_string) }
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> AppError {
        AppError::Internal(format!("database: {e}"))
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

/// Carries an internal error's details from `into_response` to the logging
/// middleware, which is the only place that prints them.
#[derive(Clone)]
struct InternalDetail(Arc<str>);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message, field) = match &self {
            AppError::BadRequest { message, field } => (StatusCode::BAD_REQUEST, message.clone(), field.as_deref()),
            AppError::UnknownProjectKey => (StatusCode::UNAUTHORIZED, "unknown project key".into(), Some("key")),
            AppError::Unauthorized(message) => (StatusCode::UNAUTHORIZED, message.clone(), Some("authorization")),
            AppError::Forbidden { message, field } => (StatusCode::FORBIDDEN, message.clone(), Some(*field)),
            AppError::RateLimited { message, .. } => (StatusCode::TOO_MANY_REQUESTS, message.clone(), None),
            AppError::NotFound(what) => (StatusCode::NOT_FOUND, what.clone(), None),
            AppError::Conflict(what) => (StatusCode::CONFLICT, what.clone(), None),
            AppError::PayloadTooLarge { limit } => {
                (StatusCode::PAYLOAD_TOO_LARGE, format!("request body is larger than {limit} bytes"), None)
            }
            AppError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with content-type: application/json (or text/plain)".into(),
                None,
            ),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into(), None),
        };
        let mut response = (status, axum::Json(Body { error: &message, field })).into_response();
        match self {
            AppError::Internal(detail) => {
                response.extensions_mut().insert(InternalDetail(detail.into()));
            }
            AppError::Unauthorized(_) => {
                response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            AppError::RateLimited { retry_after, .. } => {
                response.headers_mut().insert(RETRY_AFTER, retry_after_seconds(retry_after).into());
            }
            _ => {}
        }
        response
    }
}

/// Whole seconds, rounded up and at least 1: `Retry-After: 0` would invite
/// an immediate retry that is refused again.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Middleware (`axum::middleware::map_response`) that logs internal errors.
pub async fn log_internal_errors(response: Response) -> Response {
    if let Some(InternalDetail(detail)) = response.extensions().get::<InternalDetail>() {
        tracing::error!("internal error: {detail}");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        for (ms, secs) in [(0, 1), (1, 1), (999, 1), (1000, 1), (1001, 2), (2500, 3)] {
            assert_eq!(retry_after_seconds(Duration::from_millis(ms)), secs, "{ms} ms");
        }
    }
}
