//! People's data rights and the erasure log. All need `Authorization:
//! Bearer <secret_key>`; see [`crate::people`] for what is a person's.
//!
//! - `GET /v1/people/{user_id}/export` — everything held about the user as
//!   one JSON document (a download): `{"user_id", "exported_at",
//!   "browsers", "email_addresses", "events": [{"id", "type", "ts",
//!   "received_at", "anonymous_id", "user_id", "url", "source", "rejected",
//!   "ts_flag", "event"}], "responses": [{"response_id", "survey_id",
//!   "answers", "completed"}], "accounts": [{"account_id", "traits",
//!   "received_at"}], "cases", "deliveries", "email_files": [{"file",
//!   "message"}]}`. A user with nothing stored gets the same shape, empty.
//! - `DELETE /v1/people/{user_id}` — erases the user: `{"erased":
//!   {"subject_hash", "erased_at", "deleted": {"<table>": n}, "scrubbed":
//!   {"<table>": n}, "files": n}}`. Repeating it answers the same shape with
//!   nothing deleted.
//! - `GET /v1/erasures` — `{"retention_days": n | null, "erasures":
//!   [{"subject_hash", "erased_at", "counts"}]}`, oldest first: the log
//!   names nobody; recompute a user's hash with the secret key to find them.

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;
use serde_json::{json, Value};

use crate::auth::SecretKey;
use crate::error::AppError;
use crate::people;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/people/{user_id}", delete(erase))
        .route("/v1/people/{user_id}/export", get(export))
        .route("/v1/erasures", get(erasures))
}

async fn export(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path(user_id): Path<String>,
) -> Result<Response, AppError> {
    people::check_user_id(&user_id)?;
    let doc = people::export(&state, &project.project, &user_id, crate::now_ms()).await?;
    let body = serde_json::to_string_pretty(&doc).map_err(|e| AppError::Internal(format!("export: {e}")))?;
    Ok((
        [
            (CONTENT_TYPE, "application/json".to_string()),
            (CACHE_CONTROL, "no-store".to_string()),
            (CONTENT_DISPOSITION, "attachment; filename=\"person-export.json\"".to_string()),
        ],
        body,
    )
        .into_response())
}

async fn erase(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path(user_id): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    people::check_user_id(&user_id)?;
    let report = people::erase(&state, &project.project, &user_id, crate::now_ms()).await?;
    Ok(axum::Json(json!({ "erased": report })))
}

async fn erasures(State(state): State<AppState>, SecretKey(project): SecretKey) -> Result<axum::Json<Value>, AppError> {
    let log = state.db.erasures(project.project.public_key.clone()).await?;
    let log: Vec<Value> = log
        .iter()
        .map(|r| {
            json!({
                "subject_hash": r.subject_hash,
                "erased_at": r.erased_at,
                "counts": serde_json::from_str::<Value>(&r.counts).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "retention_days": project.project.retention_days, "erasures": log })))
}
