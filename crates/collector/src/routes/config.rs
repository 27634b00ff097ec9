//! The widget's remote config: what may show on its own, and what the
//! collector knows about this person for deciding it.
//!
//! - `GET /v1/config?key=<public_key>&user_id=…[&user_hash=…]` (or
//!   `&anonymous_id=…`) — `{"targeting": <the targeting file as loaded, or
//!   null>, "facts": {"first_seen_ms", "event_counts": {name: n},
//!   "last_shown_ms": {survey_id: ms}}}`, facts folded from the person's
//!   stored events on every device (see [`crate::checklists::replay`] for who
//!   is one person). With identity verification on, a `user_id` needs its
//!   `user_hash` (403 otherwise).
//!
//! The public key, from an allowed origin, like the widget's other reads.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{person, PublicKey};
use crate::checklists::person_activity;
use crate::error::AppError;
use crate::extract::Query;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/config", get(config))
}

#[derive(Deserialize)]
struct ConfigParams {
    user_id: Option<String>,
    user_hash: Option<String>,
    anonymous_id: Option<String>,
}

async fn config(
    State(state): State<AppState>,
    PublicKey(project): PublicKey,
    Query(params): Query<ConfigParams>,
) -> Result<axum::Json<Value>, AppError> {
    let who = person(&project, params.user_id, params.user_hash, params.anonymous_id)?;
    let rows = person_activity(&state.db, project.project.public_key.clone(), who).await?;
    let facts = crate::targeting::facts(&rows);
    let targeting = match &state.targeting {
        Some(t) => serde_json::from_str::<Value>(&t.definition).map_err(|e| AppError::Internal(e.to_string()))?,
        None => Value::Null,
    };
    Ok(axum::Json(json!({ "targeting": targeting, "facts": facts })))
}
