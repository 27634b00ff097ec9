//! The event streams' state, for the dashboard. Needs `Authorization:
//! Bearer <secret_key>`; answers 404 when the collector runs without an
//! automations file.
//!
//! - `GET /v1/streams` — `{"streams": [{"id", "url", "types", "delivered",
//!   "last_delivered_at", "behind", "oldest_undelivered_at",
//!   "oldest_undelivered_age_ms", "attempts", "last_error", "last_error_at",
//!   "next_attempt_at"}]}`: each stream of the project, how far behind it is
//!   (accepted events of its types not delivered yet, and the age of the
//!   oldest), and its failures (`attempts`: failed tries since the last
//!   success; `last_error` stays after a success, with its time).

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::auth::SecretKey;
use crate::error::AppError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/streams", get(streams))
}

async fn streams(State(state): State<AppState>, SecretKey(project): SecretKey) -> Result<axum::Json<Value>, AppError> {
    // Without an automations file there are no streams: an empty list, which the dashboard shows
    // as "none configured" (a 404 would be an error on every dashboard of such a collector).
    let Some(automations) = &state.automations else { return Ok(axum::Json(json!({ "streams": [] }))) };
    let key = &project.project.public_key;
    let now = crate::now_ms();
    let mut list = Vec::new();
    for spec in automations.config.streams.iter().filter(|s| s.applies_to(key)) {
        let s = state.db.stream_status(key.clone(), spec.id.clone(), spec.types.names()).await?;
        list.push(json!({
            "id": spec.id,
            "url": spec.url,
            "types": spec.types.names().unwrap_or_else(|| vec!["*".into()]),
            "delivered": s.delivered,
            "last_delivered_at": s.last_delivered_at,
            "behind": s.behind,
            "oldest_undelivered_at": s.oldest_undelivered_at,
            "oldest_undelivered_age_ms": s.oldest_undelivered_at.map(|at| (now - at).max(0)),
            "attempts": s.attempts,
            "last_error": s.last_error,
            "last_error_at": s.last_error_at,
            "next_attempt_at": (s.attempts > 0).then_some(s.next_attempt_at),
        }));
    }
    Ok(axum::Json(json!({ "streams": list })))
}
