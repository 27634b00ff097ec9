//! Events, as the widget sends them and as their project reads them back.
//!
//! - `POST /v1/events` — body [`EventBatch`](touchpoint_protocol::EventBatch)
//!   (`content-type: application/json` or `text/plain`, for `sendBeacon`);
//!   answers [`IngestResponse`] with one result per event, in order. With
//!   `Authorization: Bearer <secret_key>` the batch is the host's backend
//!   speaking: user ids need no `user_hash`, and its `identify` traits are
//!   the ones believed as email recipients where identities are verified.
//! - `GET /v1/events?survey_id=&anonymous_id=&type=&limit=` —
//!   `{"events": [...], "flags": {"<id>": {"rejected"?, "ts_flag"?}}}`, the
//!   project's stored events as sent, oldest first (by `ts`, then arrival);
//!   `flags` names those of them stored rejected (with the reason) or with a
//!   distrusted `ts`. Needs `Authorization: Bearer <secret_key>`.
//!
//! **Ingest invariant:** a request is refused as a whole (4xx, nothing
//! stored) or judged event by event (200; each event accepted, duplicate or
//! rejected with a reason). Every whole-request check runs before the write,
//! and the write is one transaction.
//!
//! A rejected event is not stored, except a survey event that contradicts
//! its survey (see [`crate::responses`]): that one is kept for the record,
//! flagged `rejected` with the reason, and never counted or acted on; its
//! result says `rejected` all the same (resending it will not help). An
//! event whose `ts` is far from the server's clock is accepted and flagged
//! (`ts_flag`, see [`crate::ingest::ts_flag`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, ORIGIN};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;
use touchpoint_core::survey::Survey;
use touchpoint_protocol::{EventKind, EventResult, EventStatus, IngestResponse, MAX_BATCH_EVENTS};

use crate::auth::SecretKey;
use crate::error::AppError;
use crate::extract::{Json, Query};
use crate::ingest::{self, Checked};
use crate::limits::ClientIp;
use crate::responses::{self, Response};
use crate::store::{EventFilter, NewEvent, ResponseDue, Source, StoredEvent};
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
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    Json(batch): Json<RawBatch>,
) -> Result<axum::Json<IngestResponse>, AppError> {
    if batch.key.is_empty() {
        return Err(AppError::bad_request("the project key must not be empty", Some("key")));
    }
    let project = state.projects.by_public_key(&batch.key).ok_or(AppError::UnknownProjectKey)?;
    let source = source(&headers, &state, project)?;
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
    // The host's backend (secret key) speaks for many users from one address: only the project's budget applies.
    if let (Some(client), Source::Page) = (client, source) {
        state.clients.admit_events(client, project, batch.events.len())?;
    }
    store_batch(&state, project, source, batch.events).await.map(axum::Json)
}

/// Judges and stores the events of one batch from `project`, each on its
/// own: the rate limit, then every event's checks, then one transaction.
/// Shared by every ingest shape (ours, Segment's) so that they cannot differ
/// in what they accept.
pub(crate) async fn store_batch(
    state: &AppState,
    project: &crate::projects::ProjectEntry,
    source: Source,
    events: Vec<Value>,
) -> Result<IngestResponse, AppError> {
    let count = events.len();
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

    let key = project.project.public_key.clone();
    let received_at = crate::now_ms();
    // `None` marks the slots that the database fills in.
    let mut results: Vec<Option<EventResult>> = Vec::with_capacity(count);
    let mut valid = Vec::with_capacity(count);
    let mut indexes = Vec::with_capacity(count);
    for (index, raw) in events.into_iter().enumerate() {
        match ingest::check(index, raw, project, source) {
            Checked::Valid(mut event) => {
                event.ts_flag = ingest::ts_flag(event.event.ts, received_at);
                results.push(None);
                valid.push(*event);
                indexes.push(index);
            }
            Checked::Rejected(result, why) => {
                state.metrics.rejected(why);
                results.push(Some(result));
            }
        }
    }
    judge_survey_events(state, &key, &mut valid).await?;
    let automations = state.automations.as_deref();
    for e in valid.iter_mut().filter(|e| e.rejected.is_none()) {
        e.automate = automations.is_some_and(|a| a.watches(&key, e.event.kind.name()));
        e.response_due = response_due(state, &key, &e.event.kind, received_at);
        e.account_marks = state.accounts.is_some();
        e.opens_case = crate::cases::help_case(&e.event);
    }

    let judged: Vec<(String, Option<String>)> =
        valid.iter().map(|e| (e.event.id.clone(), e.rejected.clone())).collect();
    let queued: Vec<bool> = valid.iter().map(|e| e.automate || e.response_due.is_some()).collect();
    let statuses = state.db.insert(key, received_at, valid).await?;
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
    let mut stored = judged.into_iter().zip(indexes).zip(statuses).map(|(((id, rejected), index), status)| {
        match (status, rejected) {
            // Stored for the record, not taken: the page is told why.
            (EventStatus::Accepted, Some(why)) => {
                state.metrics.rejected(crate::metrics::Rejection::Survey);
                EventResult { id, status: EventStatus::Rejected, reason: Some(format!("events[{index}]: {why}")) }
            }
            (status, _) => {
                state.metrics.stored(status);
                EventResult { id, status, reason: None }
            }
        }
    });
    let results =
        results.into_iter().map(|slot| slot.or_else(|| stored.next()).expect("one status per valid event")).collect();
    Ok(IngestResponse { results })
}

/// Who is sending: a page (the public key alone), or the host's backend
/// (`Authorization: Bearer` with this project's secret key). A wrong secret
/// is refused rather than taken as a page: the sender meant to be trusted.
fn source(headers: &HeaderMap, state: &AppState, project: &crate::projects::ProjectEntry) -> Result<Source, AppError> {
    let Some(value) = headers.get(AUTHORIZATION) else { return Ok(Source::Page) };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .unwrap_or_default();
    match state.projects.by_secret_key(token) {
        Some(owner) if owner.project.public_key == project.project.public_key => Ok(Source::Server),
        _ => Err(AppError::Forbidden {
            message: "the Authorization header must carry this project's secret key (Bearer <secret_key>); pages \
                      send no Authorization header"
                .into(),
            field: "authorization",
        }),
    }
}

/// Checks every survey event of the batch against its survey and its
/// response (the stored events, then those before it in the batch), and
/// marks the inconsistent ones rejected with the reason.
async fn judge_survey_events(state: &AppState, key: &str, events: &mut [NewEvent]) -> Result<(), AppError> {
    let mut ids: Vec<String> =
        events.iter().filter_map(|e| responses::response_id(&e.event.kind)).map(str::to_string).collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort();
    ids.dedup();
    let stored = state.db.response_events(key.to_string(), ids).await?;
    let stored: Vec<touchpoint_protocol::Event> =
        stored.iter().filter_map(|row| serde_json::from_str(&row.body).ok()).collect();
    let mut so_far = Response::from_events(&stored);
    // Each survey in the version its events say was shown, looked up once per batch.
    let mut shown: HashMap<(String, Option<u32>), Option<Arc<Survey>>> = HashMap::new();
    for e in events.iter() {
        let Some(id) = e.event.kind.survey_id() else { continue };
        let wanted = (id.to_string(), e.event.kind.survey_version());
        let version = wanted.1;
        if let std::collections::hash_map::Entry::Vacant(slot) = shown.entry(wanted) {
            slot.insert(crate::content::surveys::at_version(state, key, id, version).await?.map(|s| s.survey));
        }
    }
    for e in events.iter_mut() {
        let Some(response_id) = responses::response_id(&e.event.kind) else { continue };
        let response = so_far.entry(response_id.to_string()).or_default();
        // A resend: it will be reported as a duplicate, as it was judged before.
        if response.has(&e.event.id) {
            continue;
        }
        let wanted = (e.event.kind.survey_id().unwrap_or_default().to_string(), e.event.kind.survey_version());
        match response.check(shown.get(&wanted).and_then(Option::as_ref), &e.event.kind) {
            Ok(()) => response.record(&e.event),
            Err(why) => e.rejected = Some(why.to_string()),
        }
    }
    Ok(())
}

/// When the response of a survey event is due for the automation worker,
/// if some rule reads responses to its survey: at once when it closes, a
/// quiet time after an answer (see `crate::automations`).
fn response_due(state: &AppState, key: &str, kind: &EventKind, received_at: i64) -> Option<ResponseDue> {
    let automations = state.automations.as_deref()?;
    let survey_id = kind.survey_id()?;
    if !automations.watches_survey(key, survey_id) {
        return None;
    }
    match kind {
        EventKind::SurveyAnswered { .. } => {
            Some(ResponseDue { at: received_at.saturating_add(automations.config.response_settle_ms), closes: false })
        }
        EventKind::SurveyCompleted { .. } | EventKind::SurveyDismissed { .. } => {
            Some(ResponseDue { at: received_at, closes: true })
        }
        _ => None,
    }
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
    let rows = state.db.list_events(filter).await?;
    let events = rows
        .iter()
        .map(|row| serde_json::from_str(&row.body))
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| AppError::Internal(format!("stored event body is not JSON: {e}")))?;
    // Beside the events, so each still reads exactly as it was sent.
    let flags: serde_json::Map<String, Value> = rows.iter().filter_map(flags_of).collect();
    Ok(axum::Json(serde_json::json!({ "events": events, "flags": flags })))
}

/// What the collector did not believe about a stored event, if anything.
fn flags_of(row: &StoredEvent) -> Option<(String, Value)> {
    let mut flags = serde_json::Map::new();
    if let Some(why) = &row.rejected {
        flags.insert("rejected".into(), Value::String(why.clone()));
    }
    if let Some(flag) = &row.ts_flag {
        flags.insert("ts_flag".into(), Value::String(flag.clone()));
    }
    (!flags.is_empty()).then(|| (row.id.clone(), Value::Object(flags)))
}
