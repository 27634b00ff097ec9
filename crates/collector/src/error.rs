//! Every error a client can see, in one shape: `{"error": "...", "field": "..."}`.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::db::DbError;

#[derive(Debug)]
pub enum AppError {
    /// The request is malformed; `field` is the JSON path or parameter at fault.
    BadRequest {
        message: String,
        field: Option<String>,
    },
    UnknownProjectKey,
    NotFound(String),
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
            AppError::NotFound(what) => (StatusCode::NOT_FOUND, what.clone(), None),
            AppError::PayloadTooLarge { limit } => {
                (StatusCode::PAYLOAD_TOO_LARGE, format!("request body is larger than {limit} bytes"), None)
            }
            AppError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with content-type: application/json".into(),
                None,
            ),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into(), None),
        };
        let mut response = (status, axum::Json(Body { error: &message, field })).into_response();
        if let AppError::Internal(detail) = self {
            response.extensions_mut().insert(InternalDetail(detail.into()));
        }
        response
    }
}

/// Middleware (`axum::middleware::map_response`) that logs internal errors.
pub async fn log_internal_errors(response: Response) -> Response {
    if let Some(InternalDetail(detail)) = response.extensions().get::<InternalDetail>() {
        eprintln!("touchpoint-collector: internal error: {detail}");
    }
    response
}
