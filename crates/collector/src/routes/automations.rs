//! Cases to follow up and the automations' delivery log. All need
//! `Authorization: Bearer <secret_key>`. Cases come from automation rules and
//! from the help widget's "Contact us" (always on, `rule` `help_contact`); the
//! delivery log answers 404 when the collector runs without automations.
//!
//! - `GET /v1/cases?status=open|closed|all` (default `open`) — `{"cases":
//!   [{"id", "rule", "title", "status", "user_id", "anonymous_id",
//!   "trigger_id", "detail", "created_at", "closed_at", "note"}]}`, newest
//!   first; `detail` is `{"event": …}`, `{"churn_risk": …}`, or for help
//!   requests `{"message", "email", "url", "last_article", "last_failed_search"}`.
//! - `POST /v1/cases/{id}/close` — optional JSON body `{"note": "…"}`;
//!   answers the case. Closing a closed case changes nothing.
//! - `GET /v1/automations/deliveries?status=pending|delivered|failed&limit=`
//!   — `{"deliveries": [{"id", "rule", "trigger_id", "kind", "target",
//!   "status", "attempts", "next_attempt_at", "created_at", "delivered_at",
//!   "last_error", "payload", "log": [{"attempt", "started_at",
//!   "duration_ms", "status_code", "error"}]}]}`, newest first.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::SecretKey;
use crate::error::AppError;
use crate::extract::Query;
use crate::store::Case;
use crate::AppState;

const MAX_NOTE_CHARS: usize = 2000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cases", get(cases))
        .route("/v1/cases/{id}/close", post(close))
        .route("/v1/automations/deliveries", get(deliveries))
}

fn configured(state: &AppState) -> Result<(), AppError> {
    match state.automations {
        Some(_) => Ok(()),
        None => Err(AppError::NotFound("no automations are configured on this collector".into())),
    }
}

#[derive(Deserialize)]
struct CasesParams {
    status: Option<String>,
}

async fn cases(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(params): Query<CasesParams>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<axum::Json<Value>, AppError> {
    // The dashboard's filters: the case's person, and when it was opened.
    let key = project.project.public_key.clone();
    let audience = crate::routes::insight::audience(&state, &key, crate::routes::insight::filter_of(&pairs)?).await?;
    let status = match params.status.as_deref() {
        None | Some("open") => Some("open".to_string()),
        Some("closed") => Some("closed".to_string()),
        Some("all") => None,
        Some(other) => {
            let message = format!("status must be open, closed or all, not {other:?}");
            return Err(AppError::bad_request(message, Some("status")));
        }
    };
    let cases = state.db.cases(key, status).await?;
    let kept = cases.iter().filter(|c| {
        audience.filter.in_range(c.created_at)
            && match (&c.user_id, &c.anonymous_id) {
                (None, None) => !audience.filter.about_people(),
                (user, anonymous) => audience.has_person(user.as_deref(), anonymous.as_deref().unwrap_or_default()),
            }
    });
    Ok(axum::Json(json!({ "cases": kept.map(case_json).collect::<Vec<_>>() })))
}

pub fn case_json(c: &Case) -> Value {
    json!({
        "id": c.id,
        "rule": c.rule_id,
        "title": c.title,
        "status": c.status,
        "user_id": c.user_id,
        "anonymous_id": c.anonymous_id,
        "trigger_id": c.trigger_id,
        "detail": serde_json::from_str::<Value>(&c.detail).unwrap_or(Value::Null),
        "created_at": c.created_at,
        "closed_at": c.closed_at,
        "note": c.note,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    note: Option<String>,
}

async fn close(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<axum::Json<Value>, AppError> {
    let note = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let parsed: CloseBody = serde_json::from_slice(&body)
            .map_err(|e| AppError::bad_request(format!("invalid JSON body: {e}"), Some("note")))?;
        parsed.note.filter(|n| !n.trim().is_empty())
    };
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(AppError::bad_request(format!("note is longer than {MAX_NOTE_CHARS} characters"), Some("note")));
    }
    let key = project.project.public_key.clone();
    match state.db.close_case(key, id.clone(), note, crate::now_ms()).await? {
        Some(case) => Ok(axum::Json(case_json(&case))),
        None => Err(AppError::NotFound(format!("no case {id:?}"))),
    }
}

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
