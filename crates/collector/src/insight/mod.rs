//! Insight over a project's history: which behaviors go with success
//! ([`discovery`]), whether today's health weights would have foreseen the
//! accounts that went quiet ([`backtest`]), and the dashboard's filters and
//! breakdowns ([`filter`], [`breakdown`]). The arithmetic lives in pure
//! modules ([`stats`] and the two above); this module only gathers their
//! inputs from stored events.
//!
//! **How the cost is bounded.** Each answer reads the project's events once
//! (the same read as the checklist funnel) and folds them into one small
//! record per person — first seen, the first time of each event name, the
//! days they were active, their latest NPS — so memory follows people and
//! event names, not events. Above [`MAX_SUBJECTS`] people (or accounts), a
//! fixed hash sample of that many is compared, and the answer says so.
//! The backtest scores every account at each of at most
//! [`MAX_CUTOFFS`] past moments.

pub mod backtest;
pub mod breakdown;
pub mod discovery;
pub mod filter;
pub mod stats;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use touchpoint_core::checklist::CompleteWhen;
use touchpoint_protocol::{AnswerValue, EventKind};

use crate::accounts::{assess_all, memberships, AccountsCatalog};
use crate::checklists::replay::{by_person, Activity, Person};
use crate::checklists::{activities, ChecklistCatalog};
use crate::error::AppError;
use crate::AppState;
use discovery::{Subject, DAY_MS};

/// Above this many people (or accounts), discovery compares a fixed hash sample of this many.
pub const MAX_SUBJECTS: usize = 50_000;
/// The backtest scores accounts at no more than this many past moments.
pub const MAX_CUTOFFS: usize = 12;

/// Whom discovery compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    User,
    /// The users of one account (by their latest `group`) together.
    Account,
}

#[derive(Debug, Serialize)]
pub struct DiscoveryAnswer {
    pub unit: Unit,
    /// Every person (or account) there was, and whether a sample was compared.
    pub population: usize,
    pub sampled: bool,
    /// Which survey question is the NPS outcome (`survey/question`), if any.
    pub nps_question: Option<String>,
    #[serde(flatten)]
    pub discovery: discovery::Discovery,
    pub caution: &'static str,
}

pub const CAUTION: &str = "Correlation is not causation: people who do a thing early may be the ones who would have \
                           stayed anyway. To test whether a behavior causes success, run an A/B split of its \
                           checklist item: show the item to a random half of new users (targeting sample_percent: \
                           50) and compare both halves' weeks 4–8.";

/// The NPS question outcomes read: the accounts file's, else the first survey with an NPS question.
fn nps_question(state: &AppState) -> Option<(String, String)> {
    if let Some(a) = &state.accounts {
        return Some((a.config.nps_survey.clone(), a.config.nps_question.clone()));
    }
    state.surveys.all().find_map(|s| s.nps_question().map(|q| (s.id().to_string(), q.id().to_string())))
}

/// Every project person's rows, split per person as reports do.
async fn people(state: &AppState, key: &str) -> Result<BTreeMap<Person, Vec<Activity>>, AppError> {
    let rows = state.db.project_activity(key.to_string()).await?;
    tokio::task::spawn_blocking(move || Ok(by_person(activities(rows)?)))
        .await
        .map_err(|e| AppError::Internal(format!("insight task failed: {e}")))?
}

/// For each event name, the checklist items (`checklist/item`) it completes.
pub fn checklist_items(catalog: Option<&ChecklistCatalog>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in catalog.map(|c| c.set.checklists()).unwrap_or_default() {
        for item in &c.items {
            if let CompleteWhen::Event { event, .. } = &item.complete_when {
                out.entry(event.clone()).or_default().push(format!("{}/{}", c.id, item.id));
            }
        }
    }
    out
}

/// One identified user's discovery record (health is filled in by the caller).
fn subject(user: &str, rows: &[Activity], nps: Option<&(String, String)>) -> Option<Subject> {
    let first_seen = rows.iter().map(|r| r.ts).min()?;
    let mut s = Subject { id: user.to_string(), first_seen, ..Subject::default() };
    let mut latest_nps: Option<(i64, u8)> = None;
    for r in rows {
        s.active_days.insert(r.ts.div_euclid(DAY_MS));
        match &r.kind {
            Some(EventKind::Track { name, .. }) => {
                let at = s.first_done.entry(name.clone()).or_insert(r.ts);
                *at = (*at).min(r.ts);
            }
            Some(EventKind::SurveyAnswered { survey_id, question_id, value: AnswerValue::Score(score), .. })
                if nps.is_some_and(|(sv, q)| sv == survey_id && q == question_id) =>
            {
                // Latest by the server's clock, as everywhere.
                if latest_nps.is_none_or(|(at, _)| r.received_at >= at) {
                    latest_nps = Some((r.received_at, *score));
                }
            }
            _ => {}
        }
    }
    s.nps.extend(latest_nps.map(|(_, score)| score));
    Some(s)
}

/// A fixed pseudo-random order of ids (FNV-1a), so a sample is the same on every call and replica.
fn sample_key(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Discovery over the project's identified users (or their accounts) at `now`.
pub async fn discover(
    state: &AppState,
    key: &str,
    window_days: u32,
    unit: Unit,
    min_group: usize,
    now: i64,
) -> Result<DiscoveryAnswer, AppError> {
    let people = people(state, key).await?;
    let cases = match state.accounts {
        Some(_) => state.db.cases(key.to_string(), Some("open".into())).await?,
        None => Vec::new(),
    };
    let accounts = state.accounts.clone();
    let checklists = state.checklists.clone();
    let nps = nps_question(state);
    tokio::task::spawn_blocking(move || {
        let member_of = memberships(&people);
        let health = current_health(accounts.as_deref(), checklists.as_deref(), &people, &cases, now);
        let mut users: Vec<Subject> = people
            .iter()
            .filter_map(|(person, rows)| match person {
                Person::User(u) => {
                    let mut s = subject(u, rows, nps.as_ref())?;
                    s.health = member_of.get(u).and_then(|a| health.get(a)).copied();
                    Some(s)
                }
                Person::Anonymous(_) => None,
            })
            .collect();
        let mut subjects = match unit {
            Unit::User => users,
            Unit::Account => {
                let mut by_account: BTreeMap<String, Subject> = BTreeMap::new();
                for u in users.drain(..) {
                    let Some(account) = member_of.get(&u.id) else { continue };
                    let a = by_account.entry(account.clone()).or_insert_with(|| Subject {
                        id: account.clone(),
                        first_seen: u.first_seen,
                        health: health.get(account).copied(),
                        ..Subject::default()
                    });
                    a.first_seen = a.first_seen.min(u.first_seen);
                    for (name, at) in u.first_done {
                        let e = a.first_done.entry(name).or_insert(at);
                        *e = (*e).min(at);
                    }
                    a.active_days.extend(u.active_days);
                    a.nps.extend(u.nps);
                }
                by_account.into_values().collect()
            }
        };
        let population = subjects.len();
        let sampled = population > MAX_SUBJECTS;
        if sampled {
            subjects.sort_by_cached_key(|s| sample_key(&s.id));
            subjects.truncate(MAX_SUBJECTS);
        }
        let params = discovery::Params { window_days, now, min_group };
        let items = checklist_items(checklists.as_deref());
        DiscoveryAnswer {
            unit,
            population,
            sampled,
            nps_question: nps.map(|(s, q)| format!("{s}/{q}")),
            discovery: discovery::discover(&subjects, params, &items),
            caution: CAUTION,
        }
    })
    .await
    .map_err(|e| AppError::Internal(format!("discovery task failed: {e}")))
}

/// Each account's health score now (empty without an accounts file).
fn current_health(
    accounts: Option<&AccountsCatalog>,
    checklists: Option<&ChecklistCatalog>,
    people: &BTreeMap<Person, Vec<Activity>>,
    cases: &[crate::store::Case],
    now: i64,
) -> HashMap<String, u8> {
    let Some(accounts) = accounts else { return HashMap::new() };
    let mut cases_of: HashMap<String, u32> = HashMap::new();
    for c in cases {
        if let Some(u) = &c.user_id {
            *cases_of.entry(u.clone()).or_default() += 1;
        }
    }
    assess_all(&accounts.config, checklists, people, &cases_of, now)
        .into_iter()
        .map(|v| (v.account_id, v.assessment.health.score))
        .collect()
}

#[derive(Debug, Serialize)]
pub struct BacktestAnswer {
    #[serde(flatten)]
    pub backtest: backtest::Backtest,
    /// Today's weights, each signal's name and weight, shown beside the figure.
    pub weights: Vec<(String, f64)>,
    pub method: &'static str,
}

pub const BACKTEST_METHOD: &str = "At each cutoff, every account active in the horizon before it is scored with \
                                   today's weights on its events up to the cutoff (cases count as none: their \
                                   history is not replayed), and counted as gone inactive if it had no activity \
                                   in the horizon after it.";

/// The backtest of today's health configuration over the project's history.
pub async fn backtest(
    state: &AppState,
    accounts: std::sync::Arc<AccountsCatalog>,
    key: &str,
    params: backtest::Params,
) -> Result<BacktestAnswer, AppError> {
    let people = people(state, key).await?;
    let checklists = state.checklists.clone();
    tokio::task::spawn_blocking(move || {
        let member_of = memberships(&people);
        let mut activity: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for (person, rows) in &people {
            let Person::User(u) = person else { continue };
            if let Some(account) = member_of.get(u) {
                activity.entry(account).or_default().extend(rows.iter().map(|r| r.ts));
            }
        }
        let histories: Vec<backtest::History> = activity
            .into_iter()
            .map(|(account_id, activity)| backtest::History { account_id: account_id.to_string(), activity })
            .collect();
        // One assessment of every account per cutoff, on what was known by then.
        let mut scored: HashMap<i64, HashMap<String, u8>> = HashMap::new();
        let no_cases = HashMap::new();
        let result = backtest::run(&histories, params, |h, cutoff| {
            let scores = scored.entry(cutoff).or_insert_with(|| {
                let known: BTreeMap<Person, Vec<Activity>> = people
                    .iter()
                    .map(|(p, rows)| (p.clone(), rows.iter().filter(|r| r.ts <= cutoff).cloned().collect::<Vec<_>>()))
                    .filter(|(_, rows)| !rows.is_empty())
                    .collect();
                assess_all(&accounts.config, checklists.as_deref(), &known, &no_cases, cutoff)
                    .into_iter()
                    .map(|v| (v.account_id, v.assessment.health.score))
                    .collect()
            });
            scores.get(&h.account_id).copied()
        });
        let weights = accounts.config.signals.iter().map(|s| (s.signal.name().to_string(), s.weight)).collect();
        BacktestAnswer { backtest: result, weights, method: BACKTEST_METHOD }
    })
    .await
    .map_err(|e| AppError::Internal(format!("backtest task failed: {e}")))
}
