//! Extractors whose rejections are [`AppError`]s, so a bad body or query gets
//! our JSON error format instead of axum's plain-text one.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::MAX_BODY_BYTES;

/// A JSON request body, with `content-type: application/json`, `+json` or
/// `text/plain`; reports the JSON path of a type error as `field`.
///
/// Why `text/plain`: `navigator.sendBeacon(url, string)` can only send a
/// string as `text/plain;charset=UTF-8`, and the page is unloading when it
/// does, so there is no second chance. A `text/plain` POST is also a CORS
/// "simple request" (no preflight round trip), which matters in `pagehide`.
/// Accepting it opens nothing new: any page could already send such a
/// request, and the project's allowed origins are still checked on the
/// request itself (the `Origin` header), not only in preflights.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if !is_json(req.headers()) {
            return Err(AppError::UnsupportedMediaType);
        }
        // The limit itself is `DefaultBodyLimit` on the router; here we only
        // translate its rejection.
        let bytes = Bytes::from_request(req, state).await.map_err(|r| match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge { limit: MAX_BODY_BYTES },
            _ => AppError::bad_request(r.body_text(), None),
        })?;
        // A lone surrogate in one string would otherwise refuse the whole body.
        let bytes = crate::surrogates::replace_lone(&bytes).map_or(bytes, Bytes::from);
        // Tracking the path costs an allocation per key read (ingest reads
        // every key of every event), so it is paid only to describe a body
        // that failed: the same bytes are read again, with the path.
        if let Ok(value) = serde_json::from_slice(&bytes) {
            return Ok(Json(value));
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let message = e.inner().to_string();
            let field = field_of(&e.path().to_string(), &message);
            AppError::BadRequest { message: format!("invalid JSON body: {message}"), field }
        })?;
        de.end().map_err(|e| AppError::bad_request(format!("invalid JSON body: {e}"), None))?;
        Ok(Json(value))
    }
}

/// The JSON path at fault. A missing field is reported by serde at its
/// parent's path, so the field's own name is taken from the message.
pub fn field_of(path: &str, message: &str) -> Option<String> {
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split_once('`')).map(|(name, _)| name);
    match (path, missing) {
        (".", None) => None,
        (".", Some(name)) => Some(name.to_string()),
        (path, Some(name)) => Some(format!("{path}.{name}")),
        (path, None) => Some(path.to_string()),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json"
        || essence == "text/plain"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Query-string parameters; a bad one is a 400 in our format.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|r| AppError::bad_request(r.body_text(), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_content_types() {
        for (ct, ok) in [
            (Some("application/json"), true),
            (Some("Application/JSON; charset=utf-8"), true),
            (Some("application/vnd.touchpoint+json"), true),
            (Some("text/plain;charset=UTF-8"), true),
            (Some("text/html"), false),
            (Some("application/x-www-form-urlencoded"), false),
            (Some("application/jsonx"), false),
            (None, false),
        ] {
            let mut h = HeaderMap::new();
            if let Some(ct) = ct {
                h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
            }
            assert_eq!(is_json(&h), ok, "{ct:?}");
        }
    }

    #[test]
    fn the_field_is_the_json_path_or_the_missing_field() {
        for (path, message, field) in [
            (".", "trailing characters at line 1 column 3", None),
            (".", "missing field `key`", Some("key")),
            ("events[2]", "missing field `ts`", Some("events[2].ts")),
            ("events[2].ts", "invalid type: string \"x\", expected i64", Some("events[2].ts")),
        ] {
            assert_eq!(field_of(path, message).as_deref(), field, "{path} {message}");
        }
    }
}
