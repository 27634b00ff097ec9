//! Accounts on the collector: the definition file loaded at startup
//! ([`AccountsCatalog`]), every account of a project gathered from stored
//! events and assessed ([`compute`]), and the background [`worker`] that records health
//! history and routes accounts as events arrive.
//!
//! **Who is in an account.** A user belongs to the account of their latest
//! `group` event; an account's traits are all `group` traits for it, merged
//! oldest to newest. Users are split into people exactly as the checklist
//! replay does ([`crate::checklists::replay::by_person`]).
//!
//! **Architecture invariant:** tiers, the health score, stages, routing (and
//! its once-per-trigger rule) and account-level checklist items are
//! `touchpoint_core::accounts` / `touchpoint_core::checklist`'s. This module
//! only gathers their inputs from storage and stores their decisions.

pub mod changes;
mod record;
pub mod worker;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::Notify;
use touchpoint_core::accounts::health::{assess, Assessment, Inputs};
use touchpoint_core::accounts::routing::AccountEvent;
use touchpoint_core::accounts::{AccountsConfig, RouteAction};
use touchpoint_protocol::{AnswerValue, EventKind};

use crate::checklists::account_tally::account_tally;
use crate::checklists::replay::{self, by_person, memberships, Activity, Person};
use crate::checklists::{activities, ChecklistCatalog};
use crate::config_file::{self, Definition, FileError};
use crate::error::AppError;
use crate::AppState;

/// Read when no `--accounts` is given, if present.
pub const DEFAULT_ACCOUNTS_FILE: &str = "./accounts.json";

/// The accounts definition this collector runs, loaded once at startup.
pub struct AccountsCatalog {
    pub config: AccountsConfig,
    pub file: PathBuf,
    /// Webhook secrets named by `secret_env`, read at startup.
    pub env_secrets: HashMap<String, String>,
    wake: Notify,
}

impl AccountsCatalog {
    /// `Some(file)`: that file, which must exist and be valid. `None`:
    /// [`DEFAULT_ACCOUNTS_FILE`] if it exists, otherwise no accounts.
    pub fn load_configured(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<AccountsCatalog>, FileError> {
        match file {
            Some(file) => AccountsCatalog::load(file, env).map(Some),
            None if Path::new(DEFAULT_ACCOUNTS_FILE).exists() => {
                AccountsCatalog::load(Path::new(DEFAULT_ACCOUNTS_FILE), env).map(Some)
            }
            None => Ok(None),
        }
    }

    pub fn load(file: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<AccountsCatalog, FileError> {
        config_file::load(Definition::Accounts, file, |text| AccountsCatalog::from_json(text, file, env))
    }

    pub fn from_json(
        text: &str,
        file: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AccountsCatalog, Vec<String>> {
        let config =
            AccountsConfig::from_json(text).map_err(|e| e.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        let mut env_secrets = HashMap::new();
        let mut problems = Vec::new();
        for (i, rule) in config.routing.iter().enumerate() {
            for (j, action) in rule.actions.iter().enumerate() {
                if let RouteAction::Webhook { secret_env: Some(var), .. } = action {
                    match env(var).filter(|v| !v.is_empty()) {
                        Some(secret) => {
                            env_secrets.insert(var.clone(), secret);
                        }
                        None => problems.push(format!(
                            "routing[{i}].do[{j}].secret_env: the environment variable {var} is not set"
                        )),
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(AccountsCatalog { config, file: file.to_path_buf(), env_secrets, wake: Notify::new() })
    }

    /// Tells the worker events arrived (after a commit).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// One user of an account, as the account page shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub user_id: String,
    pub last_seen: Option<i64>,
    /// Their latest NPS score.
    pub nps: Option<u8>,
    /// Their checklist: (id, items done, items).
    pub checklist: Option<(String, usize, usize)>,
}

/// One NPS answer of a user of the account.
#[derive(Debug, Clone, Serialize)]
pub struct NpsAnswer {
    pub user_id: String,
    pub score: u8,
    pub ts: i64,
}

/// An account with everything known about it, assessed now.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub account_id: String,
    pub traits: Map<String, Value>,
    pub owner: Option<String>,
    pub members: Vec<Member>,
    pub nps_history: Vec<NpsAnswer>,
    /// `track` events of its users, for event routing rules.
    pub events: Vec<AccountEvent>,
    pub assessment: Assessment,
}

/// Every account of the project `key`, assessed at `now`.
pub async fn compute(
    state: &AppState,
    catalog: &AccountsCatalog,
    key: &str,
    now: i64,
) -> Result<Vec<AccountView>, AppError> {
    let rows = state.db.project_activity(key.to_string()).await?;
    let open_cases = state.db.cases(key.to_string(), Some("open".into())).await?;
    let mut cases_of: HashMap<String, u32> = HashMap::new();
    for c in &open_cases {
        if let Some(u) = &c.user_id {
            *cases_of.entry(u.clone()).or_default() += 1;
        }
    }
    let checklists = state.checklists.clone();
    let config = catalog.config.clone();
    tokio::task::spawn_blocking(move || {
        let people = by_person(activities(rows)?);
        Ok(assess_all(&config, checklists.as_deref(), &people, &cases_of, now))
    })
    .await
    .map_err(|e| AppError::Internal(format!("accounts task failed: {e}")))?
}

pub(crate) fn assess_all<R: AsRef<[Activity]>>(
    config: &AccountsConfig,
    checklists: Option<&ChecklistCatalog>,
    people: &BTreeMap<Person, R>,
    cases_of: &HashMap<String, u32>,
    now: i64,
) -> Vec<AccountView> {
    let member_of = memberships(people);
    let mut users_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (user, account) in &member_of {
        users_of.entry(account).or_default().push(user);
    }
    // Facts about an account that no user of it made: `track` events naming
    // it in `props.account_id`, typically sent by the host's backend (billing).
    let mut named: HashMap<&str, Vec<(i64, String)>> = HashMap::new();
    // Their props also carry the account's revenue and renewal date
    // (`subscription_renewed` with `mrr` and `renewal_date`): the traits the
    // `revenue` and `renewal` signals read, the latest by `ts` winning over `group` traits.
    let fact_traits = config.fact_traits();
    let mut facts: HashMap<&str, Vec<(i64, &str, &Value)>> = HashMap::new();
    for r in people.values().flat_map(AsRef::as_ref) {
        if let Some(EventKind::Track { name, props }) = &r.kind {
            if let Some(account) = props.get("account_id").and_then(Value::as_str) {
                named.entry(account).or_default().push((r.ts, name.clone()));
                for (k, v) in props.iter().filter(|(k, _)| fact_traits.contains(&k.as_str())) {
                    facts.entry(account).or_default().push((r.ts, k.as_str(), v));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (account_id, users) in users_of {
        let rows_of = |u: &str| people.get(&Person::User(u.to_string())).map(AsRef::as_ref).unwrap_or_default();
        // Traits: every group event for this account, in arrival order (a page's ts cannot put its traits last).
        let mut group_rows: Vec<(i64, &Map<String, Value>)> = Vec::new();
        for u in &users {
            for r in rows_of(u) {
                if let Some(EventKind::Group { account_id: a, traits }) = &r.kind {
                    if a == account_id {
                        group_rows.push((r.received_at, traits));
                    }
                }
            }
        }
        group_rows.sort_by_key(|(received_at, _)| *received_at);
        let mut traits = Map::new();
        for (_, t) in group_rows {
            traits.extend(t.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(facts) = facts.get_mut(account_id) {
            facts.sort_by_key(|(ts, _, _)| *ts);
            traits.extend(facts.iter().map(|(_, k, v)| (k.to_string(), (*v).clone())));
        }
        let owner = traits.get(&config.owner_trait).and_then(Value::as_str).map(str::to_string);

        let tally = checklists.map(|c| account_tally(&c.set, users.iter().map(|u| (*u, rows_of(u)))));
        let mut inputs = Inputs { now, users: users.len(), traits: traits.clone(), ..Inputs::default() };
        inputs.account_events = named.get(account_id).cloned().unwrap_or_default();
        let mut members = Vec::new();
        let mut nps_history = Vec::new();
        let mut events = Vec::new();
        for u in &users {
            let rows = rows_of(u);
            let mut latest = None;
            for r in rows {
                inputs.activity.push(r.ts);
                match &r.kind {
                    Some(EventKind::SurveyAnswered {
                        survey_id, question_id, value: AnswerValue::Score(s), ..
                    }) if *survey_id == config.nps_survey && *question_id == config.nps_question => {
                        latest = Some(*s);
                        nps_history.push(NpsAnswer { user_id: u.to_string(), score: *s, ts: r.ts });
                    }
                    Some(EventKind::Track { name, props }) => {
                        inputs.behaviors.insert(name.clone());
                        // Those naming an account are counted above, once.
                        if !props.contains_key("account_id") {
                            inputs.account_events.push((r.ts, name.clone()));
                        }
                        if let Some(id) = &r.event_id {
                            events.push(AccountEvent { id: id.clone(), name: name.clone() });
                        }
                    }
                    _ => {}
                }
            }
            inputs.nps_scores.extend(latest);
            inputs.open_cases += cases_of.get(*u).copied().unwrap_or(0);
            let checklist = checklists.map(|c| {
                let mut r = replay::replay(&c.set, rows);
                if let Some(t) = tally.as_ref().and_then(|t| t.get(&r.checklist.id)) {
                    r.progress.with_account(r.checklist, t);
                }
                (r.checklist.id.clone(), r.progress.done(r.checklist), r.checklist.items.len())
            });
            if let Some((_, done, total)) = &checklist {
                inputs.checklist.push((*done, *total));
            }
            members.push(Member {
                user_id: u.to_string(),
                last_seen: rows.iter().map(|r| r.ts).max(),
                nps: latest,
                checklist,
            });
        }
        nps_history.sort_by_key(|a| a.ts);
        let assessment = assess(config, &inputs);
        out.push(AccountView {
            account_id: account_id.to_string(),
            traits,
            owner,
            members,
            nps_history,
            events,
            assessment,
        });
    }
    out
}
