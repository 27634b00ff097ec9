//! The event streams' storage: one cursor row per (project, stream) in
//! `stream_cursors`, leased by one worker at a time, over the events'
//! arrival order (SQLite's `rowid`, Postgres' `seq`). See
//! [`crate::streams`] for why a cursor, a lease and a settle window are
//! enough for "nothing twice, nothing skipped" across collectors.

mod postgres;
mod sqlite;

use async_trait::async_trait;

use super::{DbError, StoredEvent};

/// A stream's cursor, as read without taking it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamCursor {
    /// The last arrival position passed on (delivered, or skipped as not for this stream).
    pub after_seq: i64,
    pub next_attempt_at: i64,
    /// Another worker holds the stream until then.
    pub lease_until: Option<i64>,
}

/// A stream held by one worker until `until`: only its holder can move the
/// cursor on, and only from where it was leased.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamLease {
    pub project_key: String,
    pub stream_id: String,
    pub holder: String,
    pub after_seq: i64,
    /// Failed attempts since the last success.
    pub attempts: i64,
    pub until: i64,
}

impl StreamLease {
    /// The lease `holder` took until `until`, if the cursor's row said so (`(after_seq, attempts)`).
    fn taken(
        project_key: String,
        stream_id: String,
        holder: String,
        until: i64,
        row: Option<(i64, i64)>,
    ) -> Option<StreamLease> {
        row.map(|(after_seq, attempts)| StreamLease { project_key, stream_id, holder, after_seq, attempts, until })
    }
}

/// What the dashboard shows of one stream of a project.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamStatus {
    pub after_seq: i64,
    /// Events delivered in all.
    pub delivered: i64,
    pub last_delivered_at: Option<i64>,
    /// Failed attempts since the last success.
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    /// Accepted events of the stream's types not delivered yet.
    pub behind: i64,
    /// When the oldest of them arrived (the server's clock).
    pub oldest_undelivered_at: Option<i64>,
}

/// `None`: every type.
pub type TypeFilter = Option<Vec<String>>;

const STATUS_COLUMNS: &str =
    "after_seq, delivered, last_delivered_at, attempts, next_attempt_at, last_error, last_error_at";

#[async_trait]
pub trait StreamStore: Send + Sync {
    /// The stream's cursor, `None` if it never ran.
    async fn stream_cursor(&self, project_key: String, stream_id: String) -> Result<Option<StreamCursor>, DbError>;

    /// Takes the stream for `holder` until `now + lease_ms` if no one holds it
    /// and its next attempt is due (creating its cursor at the start of the
    /// project's events the first time). `None`: not now.
    async fn lease_stream(
        &self,
        project_key: String,
        stream_id: String,
        holder: String,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<StreamLease>, DbError>;

    /// Up to `limit` events of the project after `after_seq`, in arrival
    /// order, rejected ones too (the cursor passes them without sending them).
    async fn events_after(&self, project_key: String, after_seq: i64, limit: u32) -> Result<Vec<StoredEvent>, DbError>;

    /// The holder moves the cursor on to `to_seq` after `delivered` events
    /// reached the receiver (0: the events passed were not for this stream),
    /// and lets the stream go. `false`: the lease was lost (it ran out and
    /// another worker took the stream), and nothing changed.
    async fn stream_advanced(
        &self,
        lease: &StreamLease,
        to_seq: i64,
        delivered: i64,
        now: i64,
    ) -> Result<bool, DbError>;

    /// The holder records a failed attempt: the cursor stays, the next try
    /// waits until `retry_at`, and the stream is let go.
    async fn stream_failed(&self, lease: &StreamLease, error: String, now: i64, retry_at: i64) -> Result<(), DbError>;

    /// Lets the stream go with nothing changed (nothing had settled yet).
    async fn stream_released(&self, lease: &StreamLease) -> Result<(), DbError>;

    /// The stream's delivery state and its lag: the accepted events of
    /// `types` after its cursor (a stream that never ran is behind by all of them).
    async fn stream_status(
        &self,
        project_key: String,
        stream_id: String,
        types: TypeFilter,
    ) -> Result<StreamStatus, DbError>;
}
