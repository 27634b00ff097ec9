//! The automations aggregate: the queues of events and responses some rule
//! watches, the run keys (a rule runs once per trigger), and the outbox of
//! webhooks and emails with its attempts. SQLite in `automations/sqlite.rs`,
//! Postgres in `automations/postgres.rs`.

pub(super) mod postgres;
pub(super) mod sqlite;

use std::collections::HashSet;

use async_trait::async_trait;

use super::{AfterAttempt, Attempt, Claimed, ClaimedResponse, DbError, Dequeue, OutboxItem, RunEffects};

#[async_trait]
pub trait AutomationStore: Send + Sync {
    /// Claims up to `limit` queued events for the automation worker for
    /// `lease_ms` (another worker may take them after that), with their rows.
    async fn claim_queued(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<Claimed>, DbError>;

    /// Claims up to `limit` due responses of the response queue for `lease_ms`.
    async fn claim_responses(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<ClaimedResponse>, DbError>;

    /// In one transaction: for each rule of `runs` that has not run for
    /// `trigger_id` yet, records the run and stores its outbox rows and
    /// cases; takes `dequeue` off its queue. Returns the rules
    /// that ran now (the others had run before: nothing of theirs is stored again).
    async fn apply_runs(
        &self,
        project_key: String,
        trigger_id: String,
        dequeue: Option<Dequeue>,
        runs: Vec<RunEffects>,
        now: i64,
    ) -> Result<Vec<String>, DbError>;

    /// The triggers `rule_id` has already run for in `project_key`.
    async fn rule_runs(&self, project_key: String, rule_id: String) -> Result<HashSet<String>, DbError>;

    /// Claims up to `limit` pending deliveries that are due, for `lease_ms`.
    async fn claim_due(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<OutboxItem>, DbError>;

    /// When the next pending delivery or queued response is due (`None`: nothing is waiting).
    async fn next_due_at(&self) -> Result<Option<i64>, DbError>;

    /// Logs `attempt` and moves its delivery on, in one transaction.
    async fn record_attempt(&self, attempt: Attempt, after: AfterAttempt) -> Result<(), DbError>;

    /// The project's deliveries, newest first, each with its attempts (oldest first).
    async fn deliveries(
        &self,
        project_key: String,
        status: Option<String>,
        limit: u32,
    ) -> Result<Vec<(OutboxItem, Vec<Attempt>)>, DbError>;
}
