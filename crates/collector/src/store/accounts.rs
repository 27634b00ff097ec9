//! The accounts aggregate: health snapshots, routing decisions (each with
//! its run key, so a rule acts once per episode), and account lists; the
//! accounts worker's change log is `account_changes`. SQLite in
//! `accounts/sqlite.rs`, Postgres in `accounts/postgres.rs`.

mod postgres;
mod sqlite;

use async_trait::async_trait;

use super::{DbError, HealthSnapshot, ListEntry, RoutingDecision, RunEffects};

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Appends health snapshots (one already stored for the same account and time is kept).
    async fn record_health(&self, snapshots: Vec<HealthSnapshot>) -> Result<(), DbError>;

    /// The project's health snapshots (of one account, or all), oldest first per account.
    async fn health_history(
        &self,
        project_key: String,
        account_id: Option<String>,
    ) -> Result<Vec<HealthSnapshot>, DbError>;

    /// In one transaction, unless `run`'s rule already ran for the decision's
    /// trigger (then nothing is stored and this returns `false`): the run row,
    /// its cases and outbox rows, the decision, and the account on `lists`.
    async fn apply_routing(
        &self,
        decision: RoutingDecision,
        run: RunEffects,
        lists: Vec<String>,
    ) -> Result<bool, DbError>;

    /// Marks open decisions as closed (their conditions no longer hold).
    async fn close_routing(&self, project_key: String, trigger_ids: Vec<String>, now: i64) -> Result<(), DbError>;

    /// The project's routing decisions (of one account, or all), newest first.
    async fn routing_log(
        &self,
        project_key: String,
        account_id: Option<String>,
    ) -> Result<Vec<RoutingDecision>, DbError>;

    /// The project's account lists, by list then time added.
    async fn account_lists(&self, project_key: String) -> Result<Vec<ListEntry>, DbError>;
}
