//! Insight for the dashboard; every route needs `Authorization: Bearer <secret_key>`.
//!
//! - `GET /v1/insight/behaviors?days=7&unit=user|account&min_group=10[&now=<ms>]`
//!   — success-behavior discovery ([`crate::insight::discovery`]): per
//!   tracked event done within `days` of first seen, those who did it
//!   against those who did not on staying active in weeks 4–8 (rates, lift
//!   with its interval), NPS and health (differences with intervals),
//!   ranked; `verdict` `too_few_to_tell` below `min_group` in a group;
//!   `checklist_items` and `advice`; `caution` (correlation is not causation).
//! - `GET /v1/insight/backtest?horizon_days=30&step_days=7&threshold=40[&max_accounts=2000][&now=<ms>]`
//!   — today's health weights against the accounts that went inactive
//!   ([`crate::insight::backtest`]): `auc`, `precision`, `recall`,
//!   `summary`, `weights`; `sampled` (`{accounts, of}`) when more accounts
//!   exist than `max_accounts` (at most, and by default,
//!   [`insight::MAX_BACKTEST_ACCOUNTS`]), and `rows_read`. 404 without an
//!   accounts file.
//! - `GET /v1/insight/breakdown?survey_id=&by=segment|tier|plan&interval=week`
//!   with the dashboard's filters — NPS and response rate per group with
//!   sample sizes, NPS trend per group, and with `from` and `to` the
//!   previous period of equal length and the change.
//!
//! The dashboard's filters ([`crate::insight::filter`]) are read by
//! [`audience`], which the survey report, the CSV exports, the funnel, the
//! churn-risk list and cases use too.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::auth::SecretKey;
use crate::checklists::activities;
use crate::checklists::replay::{by_person, Activity, Person};
use crate::dashboard;
use crate::error::AppError;
use crate::extract::Query;
use crate::insight::breakdown::{self, By};
use crate::insight::filter::{profiles, Audience, Filter, Profile};
use crate::insight::{self, backtest, Unit, MAX_BACKTEST_ACCOUNTS, MAX_CUTOFFS};
use crate::time::Interval;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/insight/behaviors", get(behaviors))
        .route("/v1/insight/backtest", get(run_backtest))
        .route("/v1/insight/breakdown", get(run_breakdown))
}

type Pairs = Vec<(String, String)>;

fn param<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty())
}

fn number<T: std::str::FromStr>(pairs: &Pairs, name: &str, default: T, what: &str) -> Result<T, AppError> {
    match param(pairs, name) {
        None => Ok(default),
        Some(v) => {
            v.trim().parse().map_err(|_| AppError::bad_request(format!("{name} must be {what}, not {v:?}"), Some(name)))
        }
    }
}

fn now(pairs: &Pairs) -> Result<i64, AppError> {
    number(pairs, "now", crate::now_ms(), "milliseconds since the epoch")
}

/// The filter of a request's query string.
pub fn filter_of(pairs: &[(String, String)]) -> Result<Filter, AppError> {
    Filter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Who the request's filter keeps; people are read and profiled only when
/// the filter describes people (segment, tier, traits, account, locale).
pub async fn audience(state: &AppState, key: &str, filter: Filter) -> Result<Audience, AppError> {
    if !filter.about_people() {
        return Ok(Audience::everyone(filter));
    }
    let (people, profiles) = profiled(state, key).await?;
    Ok(Audience::resolve(filter, &people, &profiles))
}

pub type People = BTreeMap<Person, Vec<Activity>>;

pub async fn profiled(state: &AppState, key: &str) -> Result<(People, BTreeMap<Person, Profile>), AppError> {
    let rows = state.db.project_activity(key.to_string()).await?;
    let checklists = state.checklists.clone();
    let accounts = state.accounts.clone();
    tokio::task::spawn_blocking(move || {
        let people = by_person(activities(rows)?);
        let profiles = profiles(&people, checklists.as_deref(), accounts.as_deref().map(|a| &a.config));
        Ok((people, profiles))
    })
    .await
    .map_err(|e| AppError::Internal(format!("profile task failed: {e}")))?
}

async fn behaviors(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(pairs): Query<Pairs>,
) -> Result<axum::Json<Value>, AppError> {
    let days: u32 = number(&pairs, "days", 7, "a whole number of days")?;
    if !(1..=365).contains(&days) {
        return Err(AppError::bad_request("days must be between 1 and 365", Some("days")));
    }
    let unit = match param(&pairs, "unit") {
        None | Some("user") => Unit::User,
        Some("account") => Unit::Account,
        Some(other) => {
            return Err(AppError::bad_request(format!("unit must be user or account, not {other:?}"), Some("unit")))
        }
    };
    let min_group: usize = number(&pairs, "min_group", 10, "a whole number")?;
    let answer =
        insight::discover(&state, &project.project.public_key, days, unit, min_group.max(2), now(&pairs)?).await?;
    Ok(axum::Json(json!(answer)))
}

async fn run_backtest(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(pairs): Query<Pairs>,
) -> Result<axum::Json<Value>, AppError> {
    let accounts = state
        .accounts
        .clone()
        .ok_or_else(|| AppError::NotFound("no accounts are configured on this collector".into()))?;
    let params = backtest::Params {
        now: now(&pairs)?,
        horizon_days: number(&pairs, "horizon_days", 30, "a whole number of days")?.clamp(1, 365),
        step_days: number(&pairs, "step_days", 7, "a whole number of days")?.clamp(1, 365),
        max_cutoffs: MAX_CUTOFFS,
        threshold: number(&pairs, "threshold", 40, "a score from 0 to 100")?.min(100),
    };
    let max_accounts: usize = number(&pairs, "max_accounts", MAX_BACKTEST_ACCOUNTS, "a whole number of accounts")?;
    let max_accounts = max_accounts.clamp(1, MAX_BACKTEST_ACCOUNTS);
    let answer = insight::backtest(&state, accounts, &project.project.public_key, params, max_accounts).await?;
    let mut value = json!(answer);
    // The per-sample detail is for tests and tools; the page needs the figures.
    if param(&pairs, "detail") != Some("true") {
        value.as_object_mut().map(|o| o.remove("detail"));
    }
    Ok(axum::Json(value))
}

async fn run_breakdown(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(pairs): Query<Pairs>,
) -> Result<axum::Json<Value>, AppError> {
    let key = project.project.public_key.clone();
    let id = param(&pairs, "survey_id")
        .ok_or_else(|| AppError::bad_request("give the survey as ?survey_id=…", Some("survey_id")))?
        .to_string();
    let entry = state
        .surveys
        .get(&id)
        .ok_or_else(|| AppError::bad_request(format!("no survey with id {id:?}"), Some("survey_id")))?;
    let by = By::parse(param(&pairs, "by")).map_err(|m| AppError::bad_request(m, Some("by")))?;
    let interval = match param(&pairs, "interval") {
        None | Some("week") => Interval::Week,
        Some("day") => Interval::Day,
        Some("month") => Interval::Month,
        Some(other) => {
            return Err(AppError::bad_request(
                format!("interval must be day, week or month, not {other:?}"),
                Some("interval"),
            ))
        }
    };
    let filter = filter_of(&pairs)?;
    let (people, profiles) = profiled(&state, &key).await?;
    let events = dashboard::load_events(&state.db, &key, &[], Some(&id)).await?;
    let now_audience = Audience::resolve(filter.clone(), &people, &profiles);
    let pick = |a: &Audience| -> Vec<dashboard::Response> {
        let kept: Vec<_> = events.iter().filter(|e| a.keeps(e)).cloned().collect();
        dashboard::responses(&kept)
    };
    let current = pick(&now_audience);
    let previous = filter.previous_period().map(|p| pick(&Audience::resolve(p, &people, &profiles)));
    let owners = now_audience.clone();
    let group_of = |r: &dashboard::Response| {
        let person = owners.person_of(r.user_id.as_deref(), &r.anonymous_id);
        let p = profiles.get(&person);
        let label = match by {
            By::Segment => p.and_then(|p| p.segment.clone()),
            By::Tier => p.and_then(|p| p.tier.clone()),
            By::Plan => p.and_then(|p| {
                p.traits.get("plan").or_else(|| p.traits.get("account.plan")).map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            }),
        };
        label.unwrap_or_else(|| breakdown::NONE.to_string())
    };
    let nps_question = entry.survey.nps_question().map(|q| q.id().to_string());
    let groups = breakdown::breakdown(&current, previous.as_deref(), nps_question.as_deref(), interval, group_of);
    Ok(axum::Json(json!({
        "survey_id": id, "by": by, "interval": dashboard::interval_name(interval),
        "previous_period": filter.previous_period().map(|p| json!({ "from": p.from, "to": p.to })),
        "groups": groups,
    })))
}
