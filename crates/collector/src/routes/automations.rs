//! The automations' delivery log (cases are in [`super::cases`]). Needs
//! `Authorization: Bearer <secret_key>`; answers 404 when the collector runs
//! without automations.
//!
//! - `GET /v1/automations/deliveries?status=pending|delivered|failed&limit=`
//!   — `{"deliveries": [{"id", "rule", "trigger_id", "kind", "target",
//!   "status", "attempts", "next_attempt_at", "created_at", "delivered_at",
//!   "last_error", "payload", "log": [{"attempt", "started_at",
//!   "duration_ms", "status_code", "error"}]}]}`, newest first.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::SecretKey;
use crate::error::AppError;
use crate::extract::Query;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/automations/deliveries", get(deliveries))
}

fn configured(state: &AppState) -> Result<(), AppError> {
    match state.automations {
        Some(_) => Ok(()),
        None => Err(AppError::NotFound("no automations are configured on this collector".into())),
    }
}

pub use super::cases::case_json;

#[derive(Deserialize)]
struct DeliveriesParams {
    status: Option<String>,
    limit: Option<u32>,
}

async fn deliveries(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(params): Query<DeliveriesParams>,
) -> Result<axum::Json<Value>, AppError> {
    configured(&state)?;
    if let Some(status) = &params.status {
        if !matches!(status.as_str(), "pending" | "delivered" | "failed") {
            let message = format!("status must be pending, delivered or failed, not {status:?}");
            return Err(AppError::bad_request(message, Some("status")));
        }
    }
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::bad_request("limit must be from 1 to 1000", Some("limit")));
    }
    let list = state.db.deliveries(project.project.public_key.clone(), params.status, limit).await?;
    let deliveries: Vec<Value> = list
        .into_iter()
        .map(|(d, attempts)| {
            json!({
                "id": d.id,
                "rule": d.rule_id,
                "trigger_id": d.trigger_id,
                "kind": d.kind,
                "target": d.target,
                "status": d.status,
                "attempts": d.attempts,
                "next_attempt_at": d.next_attempt_at,
                "created_at": d.created_at,
                "delivered_at": d.delivered_at,
                "last_error": d.last_error,
                "payload": d.payload,
                "log": attempts.iter().map(|a| json!({
                    "attempt": a.attempt,
                    "started_at": a.started_at,
                    "duration_ms": a.duration_ms,
                    "status_code": a.status_code,
                    "error": a.error,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "deliveries": deliveries })))
}
