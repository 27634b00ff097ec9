//! Accounts: health, stage, tier and routing, for the dashboard and exports.
//!
//! - `GET /v1/accounts[?now=<ms>]` — `{"accounts": [{"account_id", "name",
//!   "owner", "tier", "stage", "health", "trend", "users", "lists"}]}`,
//!   lowest health first. `trend` is the change of the score over 7 days:
//!   now minus the last recorded score at least 7 days old (or the oldest
//!   recorded, for younger accounts); `null` before any history.
//! - `GET /v1/accounts/{id}[?now=<ms>]` — one account: its traits, users
//!   (last seen, latest NPS, checklist), NPS answers over time, the score's
//!   breakdown (each signal's points and why), the stage's reason, the
//!   health history, account-level checklist items with who did them,
//!   cases (its users' and routing's) and routing decisions.
//! - `GET /v1/accounts/routing` — every routing decision, newest first, with
//!   its reason and what it did.
//! - `GET /v1/accounts/lists` — `{"lists": {"<list>": [{"account_id", "rule_id", "reason", "added_at"}]}}`.
//! - `GET /v1/export/accounts.csv` — the accounts table as CSV.
//!
//! All need `Authorization: Bearer <secret_key>` and answer 404 when the
//! collector runs without an accounts file. `now` (for tests and what-if
//! reading) only changes the live assessment; history is what the worker recorded.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::accounts::{compute, AccountView, AccountsCatalog};
use crate::auth::SecretKey;
use crate::checklists::account_tally::account_tally;
use crate::dashboard::{csv_record, Cell};
use crate::error::AppError;
use crate::extract::Query;
use crate::store::{HealthSnapshot, RoutingDecision};
use crate::AppState;

const WEEK_MS: i64 = 7 * 86_400_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts", get(list))
        .route("/v1/accounts/routing", get(routing))
        .route("/v1/accounts/lists", get(lists))
        .route("/v1/accounts/{id}", get(one))
        .route("/v1/export/accounts.csv", get(csv))
}

fn catalog(state: &AppState) -> Result<Arc<AccountsCatalog>, AppError> {
    state.accounts.clone().ok_or_else(|| AppError::NotFound("no accounts are configured on this collector".into()))
}

#[derive(Deserialize)]
struct NowParams {
    now: Option<String>,
}

fn now_of(p: &NowParams) -> Result<i64, AppError> {
    match &p.now {
        None => Ok(crate::now_ms()),
        Some(now) => now.trim().parse().map_err(|_| {
            AppError::bad_request(format!("now must be milliseconds since the epoch, not {now:?}"), Some("now"))
        }),
    }
}

/// Score change over 7 days from the recorded history (oldest first).
pub fn trend(history: &[&HealthSnapshot], score: u8, now: i64) -> Option<i64> {
    let base = history.iter().rev().find(|h| h.computed_at <= now - WEEK_MS).or(history.first())?;
    Some(i64::from(score) - base.score)
}

struct Table {
    views: Vec<AccountView>,
    history: Vec<HealthSnapshot>,
    lists: BTreeMap<String, Vec<String>>,
}

async fn table(state: &AppState, key: &str, now: i64) -> Result<Table, AppError> {
    let catalog = catalog(state)?;
    let mut views = compute(state, &catalog, key, now).await?;
    views.sort_by_key(|v| (v.assessment.health.score, v.account_id.clone()));
    let history = state.db.health_history(key.to_string(), None).await?;
    let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in state.db.account_lists(key.to_string()).await? {
        lists.entry(l.account_id).or_default().push(l.list);
    }
    Ok(Table { views, history, lists })
}

fn row(t: &Table, v: &AccountView, now: i64) -> Value {
    let a = &v.assessment;
    let history: Vec<&HealthSnapshot> = t.history.iter().filter(|h| h.account_id == v.account_id).collect();
    json!({
        "account_id": v.account_id,
        "name": v.traits.get("name").and_then(Value::as_str),
        "owner": v.owner,
        "tier": a.tier,
        "stage": a.stage,
        "health": a.health.score,
        "trend": trend(&history, a.health.score, now),
        "users": v.members.len(),
        "lists": t.lists.get(&v.account_id).cloned().unwrap_or_default(),
    })
}

async fn list(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(params): Query<NowParams>,
) -> Result<axum::Json<Value>, AppError> {
    let now = now_of(&params)?;
    let t = table(&state, &project.project.public_key, now).await?;
    let accounts: Vec<Value> = t.views.iter().map(|v| row(&t, v, now)).collect();
    Ok(axum::Json(json!({ "now": now, "accounts": accounts })))
}

async fn one(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path(id): Path<String>,
    Query(params): Query<NowParams>,
) -> Result<axum::Json<Value>, AppError> {
    let now = now_of(&params)?;
    let key = project.project.public_key.clone();
    let t = table(&state, &key, now).await?;
    let Some(v) = t.views.iter().find(|v| v.account_id == id) else {
        return Err(AppError::NotFound(format!("no account {id:?} (no user was grouped into it)")));
    };
    let a = &v.assessment;
    let history: Vec<Value> = t
        .history
        .iter()
        .filter(|h| h.account_id == id)
        .map(|h| json!({ "at": h.computed_at, "score": h.score, "stage": h.stage, "tier": h.tier }))
        .collect();
    let users: Vec<&str> = v.members.iter().map(|m| m.user_id.as_str()).collect();
    let cases: Vec<Value> = state
        .db
        .cases(key.clone(), None)
        .await?
        .into_iter()
        .filter(|c| {
            c.user_id.as_deref().is_some_and(|u| users.contains(&u))
                || c.trigger_id.starts_with(&format!("account:{id}:"))
        })
        .map(|c| {
            let assigned_to = serde_json::from_str::<Value>(&c.detail).ok().and_then(|d| d.get("assigned_to").cloned());
            json!({ "id": c.id, "rule_id": c.rule_id, "title": c.title, "user_id": c.user_id, "status": c.status,
                    "created_at": c.created_at, "assigned_to": assigned_to })
        })
        .collect();
    let routing: Vec<Value> = state.db.routing_log(key.clone(), Some(id.clone())).await?.iter().map(decision).collect();
    // Account-level checklist items with who did them.
    let mut account_items = Vec::new();
    if let Some(c) = &state.checklists {
        let rows = state.db.project_activity(key.clone()).await?;
        let people = crate::checklists::replay::by_person(crate::checklists::activities(rows)?);
        let tally = account_tally(
            &c.set,
            users.iter().map(|u| {
                let p = crate::checklists::replay::Person::User(u.to_string());
                (*u, people.get(&p).map(Vec::as_slice).unwrap_or_default())
            }),
        );
        // Only the checklists the account's users have.
        let theirs: Vec<&str> = v.members.iter().filter_map(|m| m.checklist.as_ref().map(|c| c.0.as_str())).collect();
        for (checklist_id, t) in tally {
            let Some(checklist) = c.set.checklist(&checklist_id).filter(|_| theirs.contains(&checklist_id.as_str()))
            else {
                continue;
            };
            for item in checklist.items.iter().filter(|i| i.scope == touchpoint_core::checklist::Scope::Account) {
                account_items.push(json!({
                    "checklist_id": checklist_id, "item_id": item.id, "title": item.title,
                    "count": t.counts.get(&item.id), "done_at": t.reached_at.get(&item.id),
                    "by": t.by.get(&item.id),
                }));
            }
        }
    }
    Ok(axum::Json(json!({
        "now": now,
        "account": row(&t, v, now),
        "traits": v.traits,
        "users": v.members,
        "nps_history": v.nps_history,
        "breakdown": a.health.contributions,
        "stage_reason": a.stage_reason,
        "facts": a.facts,
        "history": history,
        "account_checklist": account_items,
        "cases": cases,
        "routing": routing,
    })))
}

fn decision(d: &RoutingDecision) -> Value {
    json!({
        "trigger_id": d.trigger_id, "rule_id": d.rule_id, "account_id": d.account_id, "reason": d.reason,
        "actions": serde_json::from_str::<Value>(&d.actions).unwrap_or(Value::Null),
        "assigned_to": d.assigned_to, "decided_at": d.decided_at, "closed_at": d.closed_at,
    })
}

async fn routing(State(state): State<AppState>, SecretKey(project): SecretKey) -> Result<axum::Json<Value>, AppError> {
    catalog(&state)?;
    let log = state.db.routing_log(project.project.public_key.clone(), None).await?;
    Ok(axum::Json(json!({ "decisions": log.iter().map(decision).collect::<Vec<_>>() })))
}

async fn lists(State(state): State<AppState>, SecretKey(project): SecretKey) -> Result<axum::Json<Value>, AppError> {
    catalog(&state)?;
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for l in state.db.account_lists(project.project.public_key.clone()).await? {
        out.entry(l.list).or_default().push(
            json!({ "account_id": l.account_id, "rule_id": l.rule_id, "reason": l.reason, "added_at": l.added_at }),
        );
    }
    Ok(axum::Json(json!({ "lists": out })))
}

async fn csv(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(params): Query<NowParams>,
) -> Result<Response, AppError> {
    let now = now_of(&params)?;
    let t = table(&state, &project.project.public_key, now).await?;
    let mut out = String::new();
    let header = ["account_id", "name", "owner", "tier", "stage", "health", "trend_7d", "users", "lists", "breakdown"];
    csv_record(&mut out, &header.map(Cell::Text));
    for v in &t.views {
        let r = row(&t, v, now);
        let text = |k: &str| r[k].as_str().map(str::to_string);
        let breakdown: Vec<String> = v
            .assessment
            .health
            .contributions
            .iter()
            .map(|c| format!("{} {}/{}", c.signal, c.points, c.max_points))
            .collect();
        let lists: Vec<&str> = r["lists"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        csv_record(
            &mut out,
            &[
                Cell::Text(v.account_id.clone()),
                Cell::opt(text("name")),
                Cell::opt(text("owner")),
                Cell::Text(v.assessment.tier.clone()),
                Cell::Text(v.assessment.stage.clone()),
                Cell::Number(i64::from(v.assessment.health.score)),
                r["trend"].as_i64().map_or(Cell::Empty, Cell::Number),
                Cell::Number(v.members.len() as i64),
                Cell::Text(lists.join(" ")),
                Cell::Text(breakdown.join("; ")),
            ],
        );
    }
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, "attachment; filename=\"accounts.csv\"".to_string()),
            (CACHE_CONTROL, "no-store".to_string()),
            (X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        out,
    )
        .into_response())
}
