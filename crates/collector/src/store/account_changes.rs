//! Storage for incremental account health: the change log ingest writes
//! (`accounts_dirty`), the accounts it leads to, one account's events, and
//! when each account was last assessed.
//!
//! **Why a change log and not a cursor over events.** A cursor ("events
//! after seq N") misses a transaction that took a lower seq but committed
//! after the cursor moved past it, which Postgres allows. A row written in
//! the event's own transaction cannot be missed: the worker sees it once
//! it is committed, whenever that is. Rows are claimed with a lease (`FOR
//! UPDATE SKIP LOCKED` on Postgres), so two collectors never work on the
//! same change, and removed only if no new event marked them meanwhile
//! (`version`).

mod postgres;
mod sqlite;

use async_trait::async_trait;
use touchpoint_protocol::{Event, EventKind};

use super::{DbError, StoredActivity};

/// One person or account whose accounts may need reassessing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChange {
    pub project_key: String,
    pub kind: ChangeKind,
    pub subject: String,
    /// As claimed: the row is removed after processing only if it is still this.
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// An identified user's event: their accounts (a `group` may have moved them from one to another).
    User,
    /// An event before `identify`: the accounts of the users seen on that browser.
    Browser,
    /// An account named by the event (`group`, or `track` with `props.account_id`).
    Account,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::User => "user",
            ChangeKind::Browser => "browser",
            ChangeKind::Account => "account",
        }
    }

    fn parse(s: &str) -> Option<ChangeKind> {
        match s {
            "user" => Some(ChangeKind::User),
            "browser" => Some(ChangeKind::Browser),
            "account" => Some(ChangeKind::Account),
            _ => None,
        }
    }
}

/// What a stored event marks for the accounts worker.
pub fn marks(e: &Event) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(2);
    match &e.user_id {
        Some(user) => out.push((ChangeKind::User.as_str(), user.clone())),
        None => out.push((ChangeKind::Browser.as_str(), e.anonymous_id.clone())),
    }
    match &e.kind {
        EventKind::Group { account_id, .. } => out.push((ChangeKind::Account.as_str(), account_id.clone())),
        EventKind::Track { props, .. } => {
            if let Some(account) = props.get("account_id").and_then(|v| v.as_str()) {
                out.push((ChangeKind::Account.as_str(), account.to_string()));
            }
        }
        _ => {}
    }
    out
}

fn change(project_key: String, kind: String, subject: String, version: i64) -> Option<AccountChange> {
    ChangeKind::parse(&kind).map(|kind| AccountChange { project_key, kind, subject, version })
}

#[async_trait]
pub trait AccountChangeStore: Send + Sync {
    /// Claims up to `limit` changes for `lease_ms`.
    async fn claim_account_changes(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<AccountChange>, DbError>;

    /// Done with `changes`: each goes, unless a new event marked it since it
    /// was claimed (then its lease is dropped and the next pass takes it).
    async fn finish_account_changes(&self, changes: Vec<AccountChange>) -> Result<(), DbError>;

    /// Every account a `group` event of these users, or of a user seen on
    /// these browsers, named (their current and former accounts).
    async fn accounts_of(
        &self,
        project_key: String,
        users: Vec<String>,
        browsers: Vec<String>,
    ) -> Result<Vec<String>, DbError>;

    /// Every account a `group` event of the project named, not rejected, each
    /// once (by the group-account index: memory follows accounts, not events).
    async fn project_accounts(&self, project_key: String) -> Result<Vec<String>, DbError>;

    /// The rows `accounts` are assessed from (their members', their
    /// members' browsers', the facts naming them), not rejected, in arrival order.
    async fn accounts_activity(
        &self,
        project_key: String,
        accounts: Vec<String>,
    ) -> Result<Vec<StoredActivity>, DbError>;

    /// Records that `accounts` were assessed at `now`.
    async fn mark_assessed(&self, project_key: String, accounts: Vec<String>, now: i64) -> Result<(), DbError>;

    /// Takes up to `limit` of the project's accounts last assessed before
    /// `before`, stalest first, and records them as assessed at `now` (so
    /// another collector takes others).
    async fn claim_stale_accounts(
        &self,
        project_key: String,
        before: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<String>, DbError>;

    /// Whether the project's accounts were assessed in full once.
    async fn accounts_seeded(&self, project_key: String) -> Result<bool, DbError>;

    async fn set_accounts_seeded(&self, project_key: String, now: i64) -> Result<(), DbError>;
}
