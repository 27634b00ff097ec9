//! Cases (see [`crate::cases`]). All need `Authorization: Bearer <secret_key>`.
//! Cases come from automation rules, account routing and the help widget's
//! "Contact us" (`rule` `help_contact`).
//!
//! - `GET /v1/cases?status=open|waiting|solved|all&assignee=&tag=` (default
//!   `open`; `closed` is `solved`) — `{"cases": [case…]}`, newest first.
//! - `GET /v1/cases/{id}` — the case with `"timeline": [{"seq", "at",
//!   "kind", "author", "body", "delivery_id"}]` (kinds `note`, `reply`,
//!   `status`, `priority`, `assignee`, `tags`, `csat`).
//! - `PATCH /v1/cases/{id}` — `{"status", "priority", "assignee", "tags",
//!   "by"}`, each optional (`"assignee": null` unassigns); every change is
//!   logged on the timeline.
//! - `POST /v1/cases/{id}/notes` — `{"body", "by"}`: an internal note.
//! - `POST /v1/cases/{id}/reply` — `{"body", "by"}`: emailed to the user
//!   (through the automations' email settings, from the outbox) and kept on
//!   the timeline; a first reply sets `first_response_at`, and an open case
//!   then waits on the customer. 409 if the user has no known address.
//! - `POST /v1/cases/{id}/close` — `{"note"}` optional: solves the case.
//! - `GET /v1/cases/roadblocks` — `{"roadblocks": [{"tag", "cases", "unsolved"}]}`, most cases first.
//! - `GET /v1/cases/timings` — `{"weeks": [{"week", "opened", "solved",
//!   "median_first_response_ms", "median_resolution_ms"}]}`, by week opened.
//!
//! A case is `{"id", "rule", "title", "status", "priority", "assignee",
//! "tags", "user_id", "anonymous_id", "trigger_id", "detail", "created_at",
//! "closed_at", "first_response_at", "csat", "note"}`; `detail` is `{"event":
//! …}`, `{"churn_risk": …}`, or for help requests `{"message", "email", "url",
//! "last_article", "last_failed_search"}`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::SecretKey;
use crate::cases::{check_tag, timings, CaseStatus, Priority};
use crate::error::AppError;
use crate::extract::{Json, Query};
use crate::store::cases::{CaseFilter, CaseUpdate, NewEntry, TimelineEntry};
use crate::store::{Case, OutboxItem};
use crate::AppState;

const MAX_NOTE_CHARS: usize = 2000;
const MAX_REPLY_CHARS: usize = 20_000;
/// The subject of a reply's email.
const REPLY_SUBJECT: &str = "A reply to your feedback";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cases", get(list))
        .route("/v1/cases/roadblocks", get(roadblocks))
        .route("/v1/cases/timings", get(week_timings))
        .route("/v1/cases/{id}", get(one).patch(update))
        .route("/v1/cases/{id}/notes", post(note))
        .route("/v1/cases/{id}/reply", post(reply))
        .route("/v1/cases/{id}/close", post(close))
}

pub fn case_json(c: &Case) -> Value {
    with_tags(c, &[])
}

fn with_tags(c: &Case, tags: &[String]) -> Value {
    json!({
        "id": c.id,
        "rule": c.rule_id,
        "title": c.title,
        "status": c.status,
        "priority": c.priority,
        "assignee": c.assignee,
        "tags": tags,
        "user_id": c.user_id,
        "anonymous_id": c.anonymous_id,
        "trigger_id": c.trigger_id,
        "detail": serde_json::from_str::<Value>(&c.detail).unwrap_or(Value::Null),
        "created_at": c.created_at,
        "closed_at": c.closed_at,
        "first_response_at": c.first_response_at,
        "csat": c.csat_score,
        "note": c.note,
    })
}

fn entry_json(e: &TimelineEntry) -> Value {
    json!({ "seq": e.seq, "at": e.at, "kind": e.kind, "author": e.author, "body": e.body, "delivery_id": e.delivery_id })
}

#[derive(Deserialize)]
struct ListParams {
    status: Option<String>,
    assignee: Option<String>,
    tag: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(params): Query<ListParams>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<axum::Json<Value>, AppError> {
    // The dashboard's filters: the case's person, and when it was opened.
    let key = project.project.public_key.clone();
    let audience = crate::routes::insight::audience(&state, &key, crate::routes::insight::filter_of(&pairs)?).await?;
    let status = match params.status.as_deref() {
        None => Some(CaseStatus::Open.as_str().to_string()),
        Some("all") => None,
        Some(s) => match CaseStatus::parse(s) {
            Some(s) => Some(s.as_str().to_string()),
            None => {
                let message = format!("status must be open, waiting, solved or all, not {s:?}");
                return Err(AppError::bad_request(message, Some("status")));
            }
        },
    };
    let tag = params.tag.as_deref().filter(|t| !t.is_empty()).map(check_tag).transpose();
    let tag = tag.map_err(|e| AppError::bad_request(e, Some("tag")))?;
    let filter = CaseFilter { status, assignee: params.assignee.filter(|a| !a.is_empty()), tag };
    let cases = state.db.cases_where(key, filter).await?;
    let kept = cases.iter().filter(|(c, _)| {
        audience.filter.in_range(c.created_at)
            && match (&c.user_id, &c.anonymous_id) {
                (None, None) => !audience.filter.about_people(),
                (user, anonymous) => audience.has_person(user.as_deref(), anonymous.as_deref().unwrap_or_default()),
            }
    });
    Ok(axum::Json(json!({ "cases": kept.map(|(c, t)| with_tags(c, t)).collect::<Vec<_>>() })))
}

async fn one(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    match state.db.case_detail(project.project.public_key.clone(), id.clone()).await? {
        Some((case, tags, timeline)) => {
            let mut v = with_tags(&case, &tags);
            v["timeline"] = timeline.iter().map(entry_json).collect();
            Ok(axum::Json(v))
        }
        None => Err(AppError::NotFound(format!("no case {id:?}"))),
    }
}

/// `"assignee": null` must mean "unassign", not "leave as it is".
fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    status: Option<String>,
    priority: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    assignee: Option<Option<String>>,
    tags: Option<Vec<String>>,
    by: Option<String>,
}

fn author(by: Option<String>) -> Result<Option<String>, AppError> {
    let by = by.map(|b| b.trim().to_string()).filter(|b| !b.is_empty());
    if by.as_ref().is_some_and(|b| b.chars().count() > 200 || b.chars().any(char::is_control)) {
        return Err(AppError::bad_request("by must be a name of at most 200 characters on one line", Some("by")));
    }
    Ok(by)
}

async fn update(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> Result<axum::Json<Value>, AppError> {
    let status = body.status.as_deref().map(|s| {
        CaseStatus::parse(s).map(|s| s.as_str().to_string()).ok_or_else(|| {
            AppError::bad_request(format!("status must be open, waiting or solved, not {s:?}"), Some("status"))
        })
    });
    let priority = body.priority.as_deref().map(|p| {
        Priority::parse(p).map(|p| p.as_str().to_string()).ok_or_else(|| {
            AppError::bad_request(format!("priority must be low, normal, high or urgent, not {p:?}"), Some("priority"))
        })
    });
    let mut tags = match body.tags {
        None => None,
        Some(list) => Some(
            list.iter()
                .map(|t| check_tag(t))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AppError::bad_request(e, Some("tags")))?,
        ),
    };
    if let Some(t) = tags.as_mut() {
        t.sort();
        t.dedup();
    }
    let assignee = body.assignee.map(|a| a.map(|a| a.trim().to_string()).filter(|a| !a.is_empty()));
    if assignee
        .as_ref()
        .is_some_and(|a| a.as_ref().is_some_and(|a| a.chars().count() > 200 || a.chars().any(char::is_control)))
    {
        return Err(AppError::bad_request("assignee must be at most 200 characters on one line", Some("assignee")));
    }
    let u = CaseUpdate { status: status.transpose()?, priority: priority.transpose()?, assignee, tags };
    let key = project.project.public_key.clone();
    match state.db.update_case(key, id.clone(), u, author(body.by)?, crate::now_ms()).await? {
        Some(_) => one(State(state), SecretKey(project), Path(id)).await,
        None => Err(AppError::NotFound(format!("no case {id:?}"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextBody {
    body: String,
    by: Option<String>,
}

fn text(body: &str, max: usize) -> Result<String, AppError> {
    let t = body.trim();
    if t.is_empty() {
        return Err(AppError::bad_request("body must not be empty", Some("body")));
    }
    if t.chars().count() > max {
        return Err(AppError::bad_request(format!("body is longer than {max} characters"), Some("body")));
    }
    Ok(t.to_string())
}

async fn note(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path(id): Path<String>,
    Json(b): Json<TextBody>,
) -> Result<axum::Json<Value>, AppError> {
    let entry = NewEntry { author: author(b.by)?, body: text(&b.body, MAX_NOTE_CHARS)?, reply: None };
    let key = project.project.public_key.clone();
    match state.db.add_to_case(key, id.clone(), entry, crate::now_ms()).await? {
        Some(_) => one(State(state), SecretKey(project), Path(id)).await,
        None => Err(AppError::NotFound(format!("no case {id:?}"))),
    }
}

async fn reply(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path(id): Path<String>,
    Json(b): Json<TextBody>,
) -> Result<axum::Json<Value>, AppError> {
    let Some(automations) = state.automations.clone() else {
        return Err(AppError::NotFound(
            "replies are emailed with the automations' email settings: start the collector with --automations".into(),
        ));
    };
    let by = author(b.by)?;
    let body = text(&b.body, MAX_REPLY_CHARS)?;
    let key = project.project.public_key.clone();
    let Some((case, _, timeline)) = state.db.case_detail(key.clone(), id.clone()).await? else {
        return Err(AppError::NotFound(format!("no case {id:?}")));
    };
    let to = crate::automations::worker::case_recipient(&state, &key, &case)
        .await
        .map_err(AppError::Internal)?
        .ok_or_else(|| {
            AppError::Conflict(
                "the user of this case has no known email address (an email trait, proven where the project \
                 verifies identities): reply another way and add a note"
                    .into(),
            )
        })?;
    let now = crate::now_ms();
    // Stable for this reply: its place on the timeline.
    let n = timeline.len().to_string();
    let delivery_id = crate::automations::effect_id(&key, &format!("reply:{id}"), &n, now.unsigned_abs() as usize);
    let config = &automations.config;
    let payload = crate::cases::reply_email(
        config.from_for(&key),
        &to,
        REPLY_SUBJECT,
        &body,
        &delivery_id,
        &case,
        config.unsubscribe.as_deref(),
        now,
    );
    let item = OutboxItem {
        id: delivery_id,
        project_key: key.clone(),
        rule_id: "case_reply".into(),
        trigger_id: id.clone(),
        kind: "email".into(),
        target: to,
        payload,
        signing_key: None,
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        delivered_at: None,
        last_error: None,
    };
    let entry = NewEntry { author: by, body, reply: Some(item) };
    match state.db.add_to_case(key, id.clone(), entry, now).await? {
        Some(_) => {
            automations.wake();
            one(State(state), SecretKey(project), Path(id)).await
        }
        None => Err(AppError::NotFound(format!("no case {id:?}"))),
    }
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

async fn roadblocks(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
) -> Result<axum::Json<Value>, AppError> {
    let list = state.db.roadblocks(project.project.public_key.clone()).await?;
    let list: Vec<Value> =
        list.iter().map(|r| json!({ "tag": r.tag, "cases": r.cases, "unsolved": r.unsolved })).collect();
    Ok(axum::Json(json!({ "roadblocks": list })))
}

async fn week_timings(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
) -> Result<axum::Json<Value>, AppError> {
    let cases = state.db.cases(project.project.public_key.clone(), None).await?;
    let weeks: Vec<Value> = timings(&cases)
        .iter()
        .map(|w| {
            json!({ "week": w.week, "opened": w.opened, "solved": w.solved,
                    "median_first_response_ms": w.median_first_response_ms,
                    "median_resolution_ms": w.median_resolution_ms })
        })
        .collect();
    Ok(axum::Json(json!({ "weeks": weeks })))
}
