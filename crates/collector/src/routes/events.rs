//! Events, as the widget sends them and as tests read them back.
//!
//! - `POST /v1/events` — body [`EventBatch`](touchpoint_protocol::EventBatch);
//!   answers [`IngestResponse`] with one result per event, in order.
//! - `GET /v1/events?survey_id=&anonymous_id=&type=&limit=` — `{"events": [...]}`,
//!   the stored events, oldest first (by `ts`, then arrival).

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;
use touchpoint_protocol::{EventResult, IngestResponse, MAX_BATCH_EVENTS};

use crate::db::{self, EventFilter};
use crate::error::AppError;
use crate::extract::{Json, Query};
use crate::ingest::{self, Checked};
use crate::AppState;

const DEFAULT_LIMIT: u32 = 1000;
const MAX_LIMIT: u32 = 10_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", post(ingest).get(list))
}

/// An `EventBatch` whose events are not parsed yet: each one is judged on
/// its own, so one bad event cannot fail the whole batch.
#[derive(Deserialize)]
struct RawBatch {
    key: String,
    events: Vec<Value>,
}

async fn ingest(
    State(state): State<AppState>,
    Json(batch): Json<RawBatch>,
) -> Result<axum::Json<IngestResponse>, AppError> {
    if batch.key != state.config.project_key {
        return Err(AppError::UnknownProjectKey);
    }
    if batch.events.len() > MAX_BATCH_EVENTS {
        let message = format!("a batch holds at most {MAX_BATCH_EVENTS} events, this one has {}", batch.events.len());
        return Err(AppError::bad_request(message, Some("events")));
    }

    // `None` marks the slots that the database fills in.
    let mut results: Vec<Option<EventResult>> = Vec::with_capacity(batch.events.len());
    let mut valid = Vec::new();
    for raw in batch.events {
        match ingest::check(raw) {
            Checked::Valid(event) => {
                results.push(None);
                valid.push(event);
            }
            Checked::Rejected(result) => results.push(Some(result)),
        }
    }

    let key = state.config.project_key.clone();
    let received_at = now_ms();
    let stored = state
        .db
        .call(move |conn| {
            let statuses = db::insert_events(conn, &key, received_at, &valid)?;
            Ok(valid.into_iter().zip(statuses).map(|(e, status)| EventResult { id: e.event.id, status, reason: None }))
        })
        .await?;

    let mut stored = stored.into_iter();
    let results =
        results.into_iter().map(|slot| slot.or_else(|| stored.next()).expect("one status per valid event")).collect();
    Ok(axum::Json(IngestResponse { results }))
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Deserialize)]
struct ListParams {
    survey_id: Option<String>,
    anonymous_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<u32>,
}

async fn list(State(state): State<AppState>, Query(params): Query<ListParams>) -> Result<axum::Json<Value>, AppError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(AppError::bad_request(format!("limit must be at most {MAX_LIMIT}"), Some("limit")));
    }
    let filter =
        EventFilter { survey_id: params.survey_id, anonymous_id: params.anonymous_id, kind: params.kind, limit };
    let bodies = state.db.call(move |conn| db::list_events(conn, &filter)).await?;
    let events = bodies
        .iter()
        .map(|body| serde_json::from_str(body))
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| AppError::Internal(format!("stored event body is not JSON: {e}")))?;
    Ok(axum::Json(serde_json::json!({ "events": events })))
}
