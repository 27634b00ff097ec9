//! Events, as the widget sends them and as their project reads them back.
//!
//! - `POST /v1/events` — body [`EventBatch`](touchpoint_protocol::EventBatch)
//!   (`content-type: application/json` or `text/plain`, for `sendBeacon`);
//!   answers [`IngestResponse`] with one result per event, in order.
//! - `GET /v1/events?survey_id=&anonymous_id=&type=&limit=` — `{"events": [...]}`,
//!   the project's stored events, oldest first (by `ts`, then arrival).
//!   Needs `Authorization: Bearer <secret_key>`.
//!
//! **Ingest invariant:** a request is refused as a whole (4xx, nothing
//! stored) or judged event by event (200; each event accepted, duplicate or
//! rejected with a reason). Every whole-request check runs before the write,
//! and the write is one transaction.

use std::time::Instant;

use axum::extract::State;
use axum::http::header::ORIGIN;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;
use touchpoint_protocol::{EventResult, EventStatus, IngestResponse, MAX_BATCH_EVENTS};

use crate::auth::SecretKey;
use crate::error::AppError;
use crate::extract::{Json, Query};
use crate::ingest::{self, Checked};
use crate::store::EventFilter;
use crate::AppState;

const DEFAULT_LIMIT: u32 = 1000;
const MAX_LIMIT: u32 = 10_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", post(ingest).get(list))
}

/// An `EventBatch` whose events are not parsed yet: each one is judged on
/// its own, so one bad event cannot fail the whole batch.
#[derive(Deserialize)]
#[serde(expecting = "a batch: {\"key\": …, \"events\": […]}")]
struct RawBatch {
    key: String,
    events: Vec<Value>,
}

async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(batch): Json<RawBatch>,
) -> Result<axum::Json<IngestResponse>, AppError> {
    if batch.key.is_empty() {
        return Err(AppError::bad_request("the project key must not be empty", Some("key")));
    }
    let project = state.projects.by_public_key(&batch.key).ok_or(AppError::UnknownProjectKey)?;
    // Browsers always send `Origin` on a cross-origin POST; other clients
    // (servers, curl) may omit it, and an ingest key is public anyway. The
    // check keeps other *websites* from sending events with this key.
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = String::from_utf8_lossy(origin.as_bytes());
        if !project.allows_origin(&origin) {
            let message = format!("origin {origin:?} is not allowed to send events for this project key");
            return Err(AppError::Forbidden { message, field: "origin" });
        }
    }
    let count = batch.events.len();
    if count > MAX_BATCH_EVENTS {
        let message = format!("a batch holds at most {MAX_BATCH_EVENTS} events, this one has {count}");
        return Err(AppError::bad_request(message, Some("events")));
    }
    if let Err(wait) = project.admit(count, Instant::now()) {
        let limit = project.project.rate_limit;
        let message = format!(
            "rate limit of {} events/s (burst {}) exceeded for this project key; retry after {} s",
            limit.events_per_second,
            limit.burst,
            crate::error::retry_after_seconds(wait)
        );
        return Err(AppError::RateLimited { message, retry_after: wait });
    }

    let automations = state.automations.as_deref();
    // `None` marks the slots that the database fills in.
    let mut results: Vec<Option<EventResult>> = Vec::with_capacity(count);
    let mut valid = Vec::with_capacity(count);
    for (index, raw) in batch.events.into_iter().enumerate() {
        match ingest::check(index, raw, project) {
            Checked::Valid(mut event) => {
                event.automate =
                    automations.is_some_and(|a| a.watches(&project.project.public_key, event.event.kind.name()));
                results.push(None);
                valid.push(*event);
            }
            Checked::Rejected(result) => results.push(Some(result)),
        }
    }

    let ids: Vec<String> = valid.iter().map(|e| e.event.id.clone()).collect();
    let queued: Vec<bool> = valid.iter().map(|e| e.automate).collect();
    let statuses = state.db.insert(project.project.public_key.clone(), crate::now_ms(), valid).await?;
    // After the commit: the worker reads what was queued with the events.
    if let Some(automations) = automations {
        if queued.iter().zip(&statuses).any(|(&q, s)| q && *s == EventStatus::Accepted) {
            automations.wake();
        }
    }
    if let Some(accounts) = &state.accounts {
        if statuses.contains(&EventStatus::Accepted) {
            accounts.wake();
        }
    }
    let mut stored = ids.into_iter().zip(statuses).map(|(id, status)| EventResult { id, status, reason: None });
    let results =
        results.into_iter().map(|slot| slot.or_else(|| stored.next()).expect("one status per valid event")).collect();
    Ok(axum::Json(IngestResponse { results }))
}

#[derive(Deserialize)]
struct ListParams {
    survey_id: Option<String>,
    anonymous_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Value>, AppError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(AppError::bad_request(format!("limit must be at most {MAX_LIMIT}"), Some("limit")));
    }
    let filter = EventFilter {
        project_key: project.project.public_key.clone(),
        survey_id: params.survey_id,
        anonymous_id: params.anonymous_id,
        kind: params.kind,
        limit,
    };
    let bodies = state.db.list_events(filter).await?;
    let events = bodies
        .iter()
        .map(|body| serde_json::from_str(body))
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| AppError::Internal(format!("stored event body is not JSON: {e}")))?;
    Ok(axum::Json(serde_json::json!({ "events": events })))
}
