//! Incremental account health: the worker reassesses only the accounts that
//! new events touched, reading only those accounts' events, so a pass costs
//! what arrived since the last one, not the project's history.
//!
//! - Ingest marks, in the event's transaction, its user (or browser) and any
//!   account it names (`store::account_changes`).
//! - A pass claims those marks (leased, so two collectors on one Postgres
//!   split them), turns them into accounts (every account a `group` of those
//!   users named: a move from one account to another touches both), reads
//!   those accounts' rows with indexed lookups, assesses them with the same
//!   [`super::assess_all`] as a full computation, records and routes them,
//!   and removes the marks (unless marked again meanwhile).
//! - Time alone moves health (recency, frequency, age): [`refresh_stale`]
//!   reassesses the [`STALE_BATCH`] accounts assessed longest ago, claimed
//!   in `account_state` so collectors take different ones.
//! - A project's first pass assesses it in full once (events stored before
//!   the marks existed), then never again.
//!
//! Routing stays exactly once per trigger whoever assesses (the run key in
//! `automation_runs`); two collectors assessing one account at the same
//! moment can at worst both record the same health snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::accounts::record::record;
use crate::accounts::{assess_all, compute, AccountsCatalog};
use crate::checklists::activities;
use crate::checklists::replay::by_person;
use crate::store::account_changes::{AccountChange, ChangeKind};
use crate::store::RoutingDecision;
use crate::AppState;

/// Changes claimed at once.
pub const CLAIM: u32 = 512;
/// How long a claim holds before another collector may take the changes.
pub const LEASE_MS: i64 = 60_000;
/// Accounts reassessed for time alone per pass and project.
pub const STALE_BATCH: u32 = 100;

/// What one pass did, for the log, tests and the benchmark.
#[derive(Debug, Default, Clone)]
pub struct Pass {
    /// Marks processed.
    pub changes: usize,
    /// `(project, account)` assessed.
    pub assessed: Vec<(String, String)>,
    /// Stored events read to assess them.
    pub rows_read: usize,
    pub routed: Vec<RoutingDecision>,
    /// Projects assessed in full (their first pass).
    pub seeded: Vec<String>,
}

/// Seeds projects never assessed, then processes every mark waiting.
pub async fn pass(state: &AppState, catalog: &AccountsCatalog, now: i64) -> Result<Pass, String> {
    let mut out = Pass::default();
    let keys: Vec<String> = state.projects.public_keys().map(str::to_string).collect();
    for key in &keys {
        if state.db.accounts_seeded(key.clone()).await.map_err(|e| e.to_string())? {
            continue;
        }
        let views = compute(state, catalog, key, now).await.map_err(|e| format!("{e:?}"))?;
        out.routed.extend(record(state, catalog, key, &views, None, now).await?);
        let ids: Vec<String> = views.iter().map(|v| v.account_id.clone()).collect();
        state.db.mark_assessed(key.clone(), ids, now).await.map_err(|e| e.to_string())?;
        state.db.set_accounts_seeded(key.clone(), now).await.map_err(|e| e.to_string())?;
        out.seeded.push(key.clone());
    }
    loop {
        let changes = state.db.claim_account_changes(now, LEASE_MS, CLAIM).await.map_err(|e| e.to_string())?;
        if changes.is_empty() {
            break;
        }
        let full = changes.len() == CLAIM as usize;
        out.changes += changes.len();
        let mut by_project: BTreeMap<&str, Vec<&AccountChange>> = BTreeMap::new();
        for c in &changes {
            by_project.entry(&c.project_key).or_default().push(c);
        }
        for (key, changes) in by_project {
            let subjects = |kind: ChangeKind| -> Vec<String> {
                changes.iter().filter(|c| c.kind == kind).map(|c| c.subject.clone()).collect()
            };
            let mut accounts: BTreeSet<String> = subjects(ChangeKind::Account).into_iter().collect();
            let (users, browsers) = (subjects(ChangeKind::User), subjects(ChangeKind::Browser));
            if !users.is_empty() || !browsers.is_empty() {
                let of = state.db.accounts_of(key.to_string(), users, browsers).await.map_err(|e| e.to_string())?;
                accounts.extend(of);
            }
            assess_some(state, catalog, key, accounts.into_iter().collect(), now, &mut out).await?;
        }
        state.db.finish_account_changes(changes).await.map_err(|e| e.to_string())?;
        if !full {
            break;
        }
    }
    Ok(out)
}

/// Reassesses up to [`STALE_BATCH`] accounts per project not assessed for `older_than_ms`.
pub async fn refresh_stale(
    state: &AppState,
    catalog: &AccountsCatalog,
    now: i64,
    older_than_ms: i64,
) -> Result<Pass, String> {
    let mut out = Pass::default();
    let keys: Vec<String> = state.projects.public_keys().map(str::to_string).collect();
    for key in keys {
        let stale = state
            .db
            .claim_stale_accounts(key.clone(), now - older_than_ms, now, STALE_BATCH)
            .await
            .map_err(|e| e.to_string())?;
        assess_some(state, catalog, &key, stale, now, &mut out).await?;
    }
    Ok(out)
}

/// Assesses `accounts` of `key` from their own rows, records and routes them.
async fn assess_some(
    state: &AppState,
    catalog: &AccountsCatalog,
    key: &str,
    accounts: Vec<String>,
    now: i64,
    out: &mut Pass,
) -> Result<(), String> {
    if accounts.is_empty() {
        return Ok(());
    }
    let rows = state.db.accounts_activity(key.to_string(), accounts.clone()).await.map_err(|e| e.to_string())?;
    out.rows_read += rows.len();
    let open_cases = state.db.cases(key.to_string(), Some("open".into())).await.map_err(|e| e.to_string())?;
    let mut cases_of: HashMap<String, u32> = HashMap::new();
    for c in &open_cases {
        if let Some(u) = &c.user_id {
            *cases_of.entry(u.clone()).or_default() += 1;
        }
    }
    let checklists = state.checklists.clone();
    let config = catalog.config.clone();
    let wanted: BTreeSet<String> = accounts.iter().cloned().collect();
    let views = tokio::task::spawn_blocking(move || {
        let people = by_person(activities(rows).map_err(|e| format!("{e:?}"))?);
        let mut views = assess_all(&config, checklists.as_deref(), &people, &cases_of, now);
        // A member who moved to an account not asked for makes a partial view of it: not ours to record.
        views.retain(|v| wanted.contains(&v.account_id));
        Ok::<_, String>(views)
    })
    .await
    .map_err(|e| format!("accounts task failed: {e}"))??;
    let assessed: Vec<String> = views.iter().map(|v| v.account_id.clone()).collect();
    out.routed.extend(record(state, catalog, key, &views, Some(&assessed), now).await?);
    out.assessed.extend(assessed.iter().map(|a| (key.to_string(), a.clone())));
    state.db.mark_assessed(key.to_string(), assessed, now).await.map_err(|e| e.to_string())?;
    Ok(())
}
