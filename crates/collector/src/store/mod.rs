//! Storage: SQLite (the embedded default) or Postgres (chosen by a
//! `postgres://` `DATABASE_URL`), behind one [`Store`] whose methods are
//! the only queries the rest of the collector makes. They come in a trait
//! per aggregate (events, automations, cases, accounts and their change
//! log, content, people, streams), each implemented once for SQLite (`Db`)
//! and once for Postgres (`PgStore`) in its own pair of files
//! (`events/sqlite.rs`, `events/postgres.rs`, …); [`Backend`] is all of them.
//!
//! **API boundary:** routes, reports and the automation worker call `Store`
//! methods with plain Rust types; no SQL and no driver type leaves this
//! module. Each backend writes its own SQL (the dialects differ in JSON,
//! upserts, row locks and identity columns), and the same test suite runs
//! over both (`DATABASE_URL=postgres://… cargo test -p touchpoint-collector`).
//!
//! **Invariants both backends keep:**
//! - Ingest is idempotent on the event id within its project (the primary
//!   key is `(project_key, id)`: ids are the client's, so another project
//!   may use the same one); a request is answered only after its
//!   transaction committed.
//! - A stored event may be `rejected` (with the reason): kept for the
//!   record, but never counted (NPS, reports, replays) and never acted on.
//! - An accepted event that some automation rule listens to is queued for
//!   the automation worker *in the same transaction* as the event itself
//!   (`automation_queue`), so a crash between commit and processing loses
//!   nothing; the worker is only woken after the commit.
//! - A survey event of a survey some rule watches puts its response in
//!   `response_queue` in the same transaction (due at once when the
//!   response closes, after a quiet time otherwise).
//! - An automation rule runs at most once per trigger: `automation_runs` has
//!   the primary key `(project_key, trigger_id, rule_id)`, and a run's
//!   outbox rows, cases and email quota rows are written in the same
//!   transaction as its run row. `email_quota`'s key is what limits a
//!   project without identity verification to one email per address per
//!   day, across collectors.
//! - An event stream's cursor (`stream_cursors`) moves on only by its
//!   lease holder, from where it was leased ([`streams`]).
//! - "Arrival order" is SQLite's `rowid` or Postgres' identity column `seq`;
//!   both are exposed as [`StoredEvent::seq`]. "Latest wins" (the NPS
//!   answer of a response, traits, accounts) is by the server's
//!   `received_at`, then arrival, never by the client's `ts`.

pub mod account_changes;
pub mod accounts;
pub mod automations;
pub mod cases;
pub mod checklist_progress;
pub mod content;
pub mod events;
pub mod people;
pub mod person_facts;
mod pg_group_commit;
pub mod pg_tls;
pub mod postgres;
pub mod sqlite;
pub mod streams;

use std::fmt;
use std::sync::Arc;

use touchpoint_protocol::Event;

pub use self::account_changes::AccountChangeStore;
pub use self::accounts::AccountStore;
pub use self::automations::AutomationStore;
pub use self::cases::CaseStore;
pub use self::checklist_progress::ChecklistProgressStore;
pub use self::content::ContentStore;
pub use self::events::EventStore;
pub use self::people::PeopleStore;
pub use self::postgres::PgStore;
pub use self::sqlite::{Db, DB_FILE};
pub use self::streams::StreamStore;
pub use self::streams::{StreamCursor, StreamLease, StreamStatus};

/// A parsed event together with the JSON it arrived as.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event: Event,
    pub body: String,
    /// Queue it for the automation worker if it is stored (some rule listens to its kind).
    pub automate: bool,
    /// Stored, but contradicted by what the collector knows: why. Such an
    /// event is neither queued nor counted.
    pub rejected: Option<String>,
    /// Why its `ts` is not believed (outside the window around the server's clock).
    pub ts_flag: Option<String>,
    pub source: Source,
    /// Put its response in the response queue (some rule watches its survey).
    pub response_due: Option<ResponseDue>,
    /// Mark who and which account it touches for the accounts worker
    /// (`accounts_dirty`; see `crate::accounts::changes`).
    pub account_marks: bool,
    /// The case it opens by itself if stored (a help request; see `crate::cases::help_case`).
    pub opens_case: Option<EventCase>,
}

/// A case an event opens by being stored, written in the event's
/// transaction, so it exists exactly once whatever automations are configured.
#[derive(Debug, Clone, PartialEq)]
pub struct EventCase {
    pub id: String,
    pub rule_id: String,
    pub title: String,
    pub detail: String,
}

impl NewEvent {
    /// An event as the page sent it, nothing to flag and nothing to queue.
    pub fn new(event: Event, body: String) -> NewEvent {
        NewEvent {
            event,
            body,
            automate: false,
            rejected: None,
            ts_flag: None,
            source: Source::Page,
            response_due: None,
            account_marks: false,
            opens_case: None,
        }
    }
}

/// Who sent an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// With the public key: anyone who can read the page.
    Page,
    /// With the secret key: the host's backend.
    Server,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Page => "page",
            Source::Server => "server",
        }
    }
}

/// When the response of a survey event is due for the automation worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseDue {
    pub at: i64,
    /// The response closed (completed, dismissed): due at once, sooner than
    /// any quiet time already waiting. Otherwise a new answer pushes the
    /// due time later.
    pub closes: bool,
}

/// A response in the queue, claimed by the automation worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedResponse {
    pub project_key: String,
    pub response_id: String,
    pub survey_id: String,
    /// As claimed: the row is removed after processing only if no new event moved it since.
    pub due_at: i64,
}

/// What a processed trigger takes off its queue, in the transaction of its runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Dequeue {
    Event(String),
    /// Unless a new event of the response moved `due_at` meanwhile (then it is processed again).
    Response {
        response_id: String,
        due_at: i64,
    },
}

/// Events of `project_key`; `None` fields match everything.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub project_key: String,
    pub survey_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub kind: Option<String>,
    pub limit: u32,
}

/// A page of a project's events with every stored column, oldest first (by
/// `ts`, then arrival), for reports and exports.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub project_key: String,
    /// Only these types; empty means every type.
    pub kinds: Vec<String>,
    pub survey_id: Option<String>,
    /// Keyset pagination: only events after this `(ts, seq)`.
    pub after: Option<(i64, i64)>,
    pub limit: u32,
    /// Include rejected events (exports do; reports do not count them).
    pub with_rejected: bool,
}

/// A stored event as the replay reads it: who, when, and the body only for
/// the kinds it interprets (`identify`, `track`, `checklist_*`, `group`,
/// `survey_answered`).
#[derive(Debug, Clone)]
pub struct StoredActivity {
    pub anonymous_id: String,
    pub user_id: Option<String>,
    pub ts: i64,
    /// The server's clock when it arrived: what "latest" is decided by.
    pub received_at: i64,
    pub body: Option<String>,
}

/// One stored row of `events`, every column.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Arrival order (SQLite rowid, Postgres identity).
    pub seq: i64,
    pub id: String,
    pub project_key: String,
    pub kind: String,
    pub ts: i64,
    pub received_at: i64,
    pub anonymous_id: String,
    pub user_id: Option<String>,
    pub survey_id: Option<String>,
    pub response_id: Option<String>,
    pub question_id: Option<String>,
    pub url: String,
    pub body: String,
    /// See [`NewEvent::rejected`].
    pub rejected: Option<String>,
    /// See [`NewEvent::ts_flag`].
    pub ts_flag: Option<String>,
    /// `page` or `server`.
    pub source: String,
}

/// A webhook or email waiting to be delivered, delivered, or given up on.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// The delivery id: stable across retries, sent to receivers so they can deduplicate.
    pub id: String,
    pub project_key: String,
    pub rule_id: String,
    pub trigger_id: String,
    /// `webhook` or `email`.
    pub kind: String,
    /// The webhook URL, or the email's recipient.
    pub target: String,
    /// The exact body sent (webhooks) or the whole message (emails, RFC 5322).
    pub payload: String,
    /// Webhooks: which configured secret signs each attempt
    /// ([`crate::signature::SigningKey`], stored in the column `signature`),
    /// never the secret itself.
    pub signing_key: Option<String>,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
}

/// One try at delivering an [`OutboxItem`], as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub delivery_id: String,
    /// 1 for the first try.
    pub attempt: i64,
    pub started_at: i64,
    pub duration_ms: i64,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<i64>,
    /// Why the attempt failed; `None` when it succeeded.
    pub error: Option<String>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AfterAttempt {
    Delivered { at: i64 },
    Retry { at: i64 },
    Failed,
}

/// A case for a person to follow up on.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: String,
    pub project_key: String,
    pub rule_id: String,
    pub trigger_id: String,
    pub title: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// JSON: the triggering event, or the churn-risk finding.
    pub detail: String,
    /// `open`, `waiting` (on the customer) or `solved` ([`crate::cases::CaseStatus`]).
    pub status: String,
    pub created_at: i64,
    /// When it was solved.
    pub closed_at: Option<i64>,
    pub note: Option<String>,
    /// `low`, `normal`, `high` or `urgent` ([`crate::cases::Priority`]).
    pub priority: String,
    /// Who works it: the account's owner by default.
    pub assignee: Option<String>,
    /// The first reply to the user.
    pub first_response_at: Option<i64>,
    /// The user's "How did we do?" answer, 1 to 5.
    pub csat_score: Option<i64>,
}

/// What one rule does for one trigger; stored only if the rule has not run
/// for that trigger before.
#[derive(Debug, Clone, Default)]
pub struct RunEffects {
    pub rule_id: String,
    pub outbox: Vec<OutboxItem>,
    pub cases: Vec<Case>,
    /// Its emails go out at most once per address per day (the project does
    /// not verify identities, so anyone can name the recipient); the others
    /// are stored as failed, saying why.
    pub one_email_a_day: bool,
}

/// Why an email over the daily quota was not sent.
pub const OVER_EMAIL_QUOTA: &str = "not sent: this address already got a follow-up email from this project today \
                                    (projects without identity verification send at most one per address per day)";

/// Days since the epoch (UTC) of `ms`: the quota's day.
pub fn utc_day(ms: i64) -> i64 {
    ms.div_euclid(24 * 60 * 60 * 1000)
}

/// One health assessment of an account, kept when its score, stage or tier changed.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSnapshot {
    pub project_key: String,
    pub account_id: String,
    pub computed_at: i64,
    pub score: i64,
    pub stage: String,
    pub tier: String,
    /// JSON: the score's contributions.
    pub breakdown: String,
}

/// A routing decision: which rule fired for which account, why, and what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingDecision {
    pub trigger_id: String,
    pub rule_id: String,
    pub project_key: String,
    pub account_id: String,
    pub reason: String,
    /// JSON: the rule's actions as done (cases, webhooks, lists).
    pub actions: String,
    /// The account's owner, whom its cases are assigned to.
    pub assigned_to: Option<String>,
    pub decided_at: i64,
    /// When a state rule's conditions stopped holding (its episode ended).
    pub closed_at: Option<i64>,
}

/// An account on a named list (e.g. `upsell`, `at_risk`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListEntry {
    pub project_key: String,
    pub list: String,
    pub account_id: String,
    pub rule_id: String,
    pub reason: String,
    pub added_at: i64,
}

/// A queued event claimed by the automation worker.
pub type Claimed = StoredEvent;

#[derive(Debug)]
pub struct OpenError(pub String);

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OpenError {}

#[derive(Debug, Clone)]
pub enum DbError {
    Sqlite(String),
    Postgres(String),
    /// The blocking task panicked or was cancelled.
    Task(String),
    /// The writer has stopped (the collector is shutting down).
    Closed,
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError::Sqlite(e.to_string())
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> DbError {
        // The server's own message (e.g. a constraint name) is more useful than "db error".
        match e.as_db_error() {
            Some(db) => DbError::Postgres(format!("{}: {}", db.code().code(), db.message())),
            None => DbError::Postgres(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(e: deadpool_postgres::PoolError) -> DbError {
        DbError::Postgres(format!("connection pool: {e}"))
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "sqlite: {e}"),
            DbError::Postgres(e) => write!(f, "postgres: {e}"),
            DbError::Task(e) => write!(f, "blocking task failed: {e}"),
            DbError::Closed => write!(f, "the database writer has stopped"),
        }
    }
}

impl std::error::Error for DbError {}

/// `postgres://` or `postgresql://`: the URL names a Postgres server.
pub fn is_postgres_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Every aggregate's storage, implemented once per database (`Db`,
/// `PgStore`); each aggregate's methods are in its own trait and file pair.
#[async_trait::async_trait]
pub trait Backend:
    EventStore
    + AutomationStore
    + CaseStore
    + ChecklistProgressStore
    + AccountStore
    + AccountChangeStore
    + ContentStore
    + PeopleStore
    + StreamStore
{
    /// `sqlite` or `postgres`, for the startup line.
    fn name(&self) -> &'static str;

    /// The Postgres pool's state, for `/metrics`; `None` on SQLite (one writer thread, no pool).
    fn pool_stats(&self) -> Option<crate::metrics::PoolStats>;

    /// Stores what is queued and stops (SQLite's writer); closes the pool (Postgres).
    async fn close(&self);
}

/// Where everything is stored; cheap to clone. Its methods are the
/// aggregates' ([`Backend`]), on the database chosen at startup.
#[derive(Clone)]
pub struct Store(Arc<dyn Backend>);

impl std::ops::Deref for Store {
    type Target = dyn Backend;

    fn deref(&self) -> &(dyn Backend + 'static) {
        &*self.0
    }
}

impl Store {
    /// SQLite in `data_dir`, or Postgres if `database_url` is given (it must
    /// then be a `postgres://` URL).
    pub async fn open(data_dir: &std::path::Path, database_url: Option<&str>) -> Result<Store, OpenError> {
        let backend: Arc<dyn Backend> = match database_url {
            None => Arc::new(Db::open(data_dir)?),
            Some(url) if is_postgres_url(url) => Arc::new(PgStore::open(url).await?),
            Some(_) => {
                return Err(OpenError(
                    "DATABASE_URL must be a postgres:// URL (leave it unset for the embedded SQLite database)".into(),
                ))
            }
        };
        Ok(Store(backend))
    }
}
