//! Onboarding checklists: definitions, one user's progress, and reports.
//!
//! - `GET /v1/checklists?key=<public_key>` — the project's published
//!   checklists ([`crate::content`]), else the definition file exactly as
//!   loaded (`{"segments": [...], "checklists": [...]}`), so the widget can
//!   choose and complete with the same core rules. Every route here reads
//!   the project's published version on each request.
//! - `GET /v1/checklists/state?key=<public_key>&user_id=…` (or
//!   `&anonymous_id=…`; `user_id` wins if both; with identity verification
//!   on, `user_id` needs `&user_hash=…`; until their events are stored,
//!   `&account_id=` names the account `group()` set and `&checklist=` the
//!   checklist the widget chose from the user's traits) — `{"segment", "checklist":
//!   {"id", "title", "items": [{"id", "title", "description", "cta",
//!   "depends_on", "scope"}]}, "progress", "dismissed", "account"?}`, rebuilt
//!   from the person's stored events (see [`crate::checklists::replay`]). A
//!   person without events gets the default segment and empty progress. For
//!   a user grouped into an account, items with `"scope": "account"` count
//!   every user of the account, and `account` is `{"id", "by": {"<item>":
//!   [{"user_id", "count"}]}}`: who did what.
//! - `GET /v1/checklists/funnel?segment=` — `{"segments": [{"segment",
//!   "checklist", "users", "items": [{"item_id", "users_completed",
//!   "median_ms_to_complete"}]}]}`, every segment or the one named.
//! - `GET /v1/checklists/churn-risk?days=7&now=<ms>` — `{"days", "now",
//!   "users": [{"user", "segment", "checklist", "first_seen", "last_seen"}]}`:
//!   users first seen more than `days` (1..=365, default 7) days before `now`
//!   (default: the server's clock) who completed no item within `days` days
//!   of first being seen.
//!
//! The first two are for the widget: the public key, from an allowed origin.
//! The reports need `Authorization: Bearer <secret_key>`, and count only
//! identified users (see [`crate::checklists::report`]). Every route answers
//! 404 when the collector runs without checklists.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use touchpoint_core::checklist::{Checklist, Cta, Progress};

use crate::auth::{person, PublicKey, SecretKey};
use crate::checklists::replay;
use crate::checklists::report;
use crate::checklists::report::UserProgress;
use crate::checklists::{widget_checklist_activity, with_users_where};
use crate::content::checklists::catalog;
use crate::error::AppError;
use crate::extract::Query;
use crate::AppState;

const DEFAULT_CHURN_DAYS: i64 = 7;
const MAX_CHURN_DAYS: i64 = 365;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/checklists", get(definition))
        .route("/v1/checklists/state", get(user_state))
        .route("/v1/checklists/funnel", get(funnel))
        .route("/v1/checklists/churn-risk", get(churn_risk))
}

async fn definition(
    State(state): State<AppState>,
    PublicKey(project): PublicKey,
) -> Result<impl IntoResponse, AppError> {
    Ok((
        [(CONTENT_TYPE, "application/json")],
        catalog(&state, &project.project.public_key).await?.definition.to_string(),
    ))
}

#[derive(Deserialize)]
struct StateParams {
    user_id: Option<String>,
    user_hash: Option<String>,
    anonymous_id: Option<String>,
    /// The account the widget's `group()` named (used until a `group` event is stored).
    account_id: Option<String>,
    /// The checklist the widget chose (used until an `identify` event is stored).
    checklist: Option<String>,
}

#[derive(Serialize)]
struct UserState<'a> {
    segment: &'a str,
    checklist: ChecklistView<'a>,
    progress: Progress,
    dismissed: bool,
    /// The user's account, when they were grouped into one and the checklist
    /// has account-level items: `{"id", "by": {"<item>": [{"user_id", "count"}]}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<Value>,
}

async fn user_state(
    State(state): State<AppState>,
    PublicKey(project): PublicKey,
    Query(params): Query<StateParams>,
) -> Result<axum::Json<Value>, AppError> {
    let catalog = catalog(&state, &project.project.public_key).await?;
    let given = |v: Option<String>| v.filter(|v| !v.is_empty());
    // A claimed account is only a stand-in for an unstored `group` event; where
    // identities are verified, only stored (verified) events say who is in an account.
    let claimed = given(params.account_id).filter(|_| project.project.identity_secret.is_none());
    let who = person(&project, params.user_id, params.user_hash, params.anonymous_id)?;
    let key = project.project.public_key.clone();
    let (rows, user) = widget_checklist_activity(&state.db, &project, who, &catalog).await?;
    let mut r = replay::replay_choosing(&catalog.set, &rows, given(params.checklist).as_deref());
    // Account-level items count every user of the account (see crate::accounts).
    let mut account = None;
    if let Some(user) = user.as_deref() {
        if let Some((id, tally)) =
            crate::checklists::account_progress::account_checklist(&state.db, &catalog, &key, user, claimed.as_deref())
                .await?
        {
            let t = tally.get(&r.checklist.id).cloned().unwrap_or_default();
            r.progress.with_account(r.checklist, &t);
            account = Some(json!({ "id": id, "by": t.by }));
        }
    }
    let body = UserState {
        segment: &r.segment.id,
        checklist: ChecklistView::of(r.checklist),
        progress: r.progress,
        dismissed: r.dismissed,
        account,
    };
    Ok(axum::Json(serde_json::to_value(body).map_err(|e| AppError::Internal(e.to_string()))?))
}

#[derive(Deserialize)]
struct FunnelParams {
    segment: Option<String>,
}

async fn funnel(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(params): Query<FunnelParams>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<axum::Json<Value>, AppError> {
    let catalog = catalog(&state, &project.project.public_key).await?;
    if let Some(id) = &params.segment {
        if !catalog.set.segments().iter().any(|s| &s.id == id) {
            let known: Vec<&str> = catalog.set.segments().iter().map(|s| s.id.as_str()).collect();
            let message = format!("no segment {id:?} (segments: {})", known.join(", "));
            return Err(AppError::bad_request(message, Some("segment")));
        }
    }
    let key = project.project.public_key.clone();
    let keep = filtered(&state, &key, &pairs).await?;
    let only = params.segment;
    let segments = with_users_where(&state.db, catalog, key, keep, move |catalog, users| {
        report::funnel(catalog, users, only.as_deref())
    })
    .await?;
    Ok(axum::Json(json!({ "segments": segments })))
}

/// The dashboard's filters over users: who they are, and a date range on when they were first seen.
async fn filtered(
    state: &AppState,
    key: &str,
    pairs: &[(String, String)],
) -> Result<impl Fn(&UserProgress<'_>) -> bool + Send + 'static, AppError> {
    let audience = crate::routes::insight::audience(state, key, crate::routes::insight::filter_of(pairs)?).await?;
    Ok(move |u: &UserProgress<'_>| {
        audience.has_user(&u.user_id) && u.replayed.first_seen.is_none_or(|t| audience.filter.in_range(t))
    })
}

#[derive(Deserialize)]
struct ChurnParams {
    days: Option<String>,
    now: Option<String>,
}

async fn churn_risk(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(params): Query<ChurnParams>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<axum::Json<Value>, AppError> {
    let catalog = catalog(&state, &project.project.public_key).await?;
    let days = match params.days {
        None => DEFAULT_CHURN_DAYS,
        Some(days) => days.trim().parse().ok().filter(|d| (1..=MAX_CHURN_DAYS).contains(d)).ok_or_else(|| {
            let message = format!("days must be a whole number of days from 1 to {MAX_CHURN_DAYS}, not {days:?}");
            AppError::bad_request(message, Some("days"))
        })?,
    };
    let now = match params.now {
        None => crate::now_ms(),
        Some(now) => now.trim().parse().map_err(|_| {
            AppError::bad_request(format!("now must be milliseconds since the epoch, not {now:?}"), Some("now"))
        })?,
    };
    let key = project.project.public_key.clone();
    let keep = filtered(&state, &key, &pairs).await?;
    let users =
        with_users_where(&state.db, catalog, key, keep, move |_, users| report::churn_risk(users, days, now)).await?;
    Ok(axum::Json(json!({ "days": days, "now": now, "users": users })))
}

/// A checklist as the widget renders it: dependencies by item id, the call
/// to action as in the definition file.
#[derive(Serialize)]
struct ChecklistView<'a> {
    id: &'a str,
    title: &'a str,
    items: Vec<ItemView<'a>>,
}

#[derive(Serialize)]
struct ItemView<'a> {
    id: &'a str,
    title: &'a str,
    description: Option<&'a str>,
    cta: Option<CtaView<'a>>,
    depends_on: Vec<&'a str>,
    scope: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum CtaView<'a> {
    Url { label: &'a str, url: &'a str },
    Callback { label: &'a str, callback: &'a str },
}

impl<'a> ChecklistView<'a> {
    fn of(c: &'a Checklist) -> ChecklistView<'a> {
        let items = c
            .items
            .iter()
            .map(|item| ItemView {
                id: &item.id,
                title: &item.title,
                description: item.description.as_deref(),
                cta: item.cta.as_ref().map(|cta| match cta {
                    Cta::Url { label, url } => CtaView::Url { label, url },
                    Cta::Callback { label, name } => CtaView::Callback { label, callback: name },
                }),
                depends_on: item.depends_on.iter().map(|&d| c.items[d].id.as_str()).collect(),
                scope: match item.scope {
                    touchpoint_core::checklist::Scope::User => "user",
                    touchpoint_core::checklist::Scope::Account => "account",
                },
            })
            .collect();
        ChecklistView { id: &c.id, title: &c.title, items }
    }
}
