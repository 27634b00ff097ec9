//! The event streams' storage: one cursor row per (project, stream) in
//! `stream_cursors`, leased by one worker at a time, over the events'
//! arrival order (SQLite's `rowid`, Postgres' `seq`). See
//! [`crate::streams`] for why a cursor, a lease and a settle window are
//! enough for "nothing twice, nothing skipped" across collectors.

use rusqlite::{params, OptionalExtension};

use super::{postgres, sqlite, DbError, Store, StoredEvent};

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

impl Store {
    /// The stream's cursor, `None` if it never ran.
    pub async fn stream_cursor(&self, project_key: String, stream_id: String) -> Result<Option<StreamCursor>, DbError> {
        const SQL_LITE: &str =
            "SELECT after_seq, next_attempt_at, lease_until FROM stream_cursors WHERE project_key = ?1 AND stream_id = ?2";
        const SQL_PG: &str =
            "SELECT after_seq, next_attempt_at, lease_until FROM stream_cursors WHERE project_key = $1 AND stream_id = $2";
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    conn.query_row(SQL_LITE, params![project_key, stream_id], |r| {
                        Ok(StreamCursor { after_seq: r.get(0)?, next_attempt_at: r.get(1)?, lease_until: r.get(2)? })
                    })
                    .optional()
                })
                .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let row = client.query_opt(SQL_PG, &[&project_key, &stream_id]).await?;
                row.map(|r| {
                    Ok(StreamCursor {
                        after_seq: r.try_get(0)?,
                        next_attempt_at: r.try_get(1)?,
                        lease_until: r.try_get(2)?,
                    })
                })
                .transpose()
            }
        }
    }

    /// Takes the stream for `holder` until `now + lease_ms` if no one holds it
    /// and its next attempt is due (creating its cursor at the start of the
    /// project's events the first time). `None`: not now.
    pub async fn lease_stream(
        &self,
        project_key: String,
        stream_id: String,
        holder: String,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<StreamLease>, DbError> {
        let until = now + lease_ms;
        let taken = match self {
            Store::Sqlite(db) => {
                let (key, id, holder) = (project_key.clone(), stream_id.clone(), holder.clone());
                db.write(move |tx| {
                    tx.execute(
                        "INSERT OR IGNORE INTO stream_cursors (project_key, stream_id) VALUES (?1, ?2)",
                        params![key, id],
                    )?;
                    tx.query_row(
                        "UPDATE stream_cursors SET lease_holder = ?3, lease_until = ?4
                         WHERE project_key = ?1 AND stream_id = ?2 AND next_attempt_at <= ?5
                           AND (lease_until IS NULL OR lease_until <= ?5)
                         RETURNING after_seq, attempts",
                        params![key, id, holder, until, now],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                })
                .await?
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                client
                    .execute(
                        "INSERT INTO stream_cursors (project_key, stream_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        &[&project_key, &stream_id],
                    )
                    .await?;
                // SKIP LOCKED: a replica that finds another one taking the row moves on instead of waiting.
                let row = client
                    .query_opt(
                        "UPDATE stream_cursors SET lease_holder = $3, lease_until = $4
                         WHERE (project_key, stream_id) IN
                               (SELECT project_key, stream_id FROM stream_cursors
                                WHERE project_key = $1 AND stream_id = $2 AND next_attempt_at <= $5
                                  AND (lease_until IS NULL OR lease_until <= $5)
                                FOR UPDATE SKIP LOCKED)
                         RETURNING after_seq, attempts",
                        &[&project_key, &stream_id, &holder, &until, &now],
                    )
                    .await?;
                row.map(|r| Ok::<_, DbError>((r.try_get(0)?, r.try_get(1)?))).transpose()?
            }
        };
        Ok(taken.map(|(after_seq, attempts)| StreamLease {
            project_key,
            stream_id,
            holder,
            after_seq,
            attempts,
            until,
        }))
    }

    /// Up to `limit` events of the project after `after_seq`, in arrival
    /// order, rejected ones too (the cursor passes them without sending them).
    pub async fn events_after(
        &self,
        project_key: String,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, DbError> {
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    let mut q = conn.prepare_cached(&format!(
                        "SELECT {} FROM events WHERE project_key = ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3",
                        sqlite::EVENT_COLUMNS
                    ))?;
                    let rows = q.query_map(params![project_key, after_seq, limit], sqlite::stored_event)?;
                    rows.collect()
                })
                .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let rows = client
                    .query(
                        &format!(
                            "SELECT {} FROM events WHERE project_key = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                            postgres::EVENT_COLUMNS
                        ),
                        &[&project_key, &after_seq, &i64::from(limit)],
                    )
                    .await?;
                rows.iter().map(postgres::stored_event).collect()
            }
        }
    }

    /// The holder moves the cursor on to `to_seq` after `delivered` events
    /// reached the receiver (0: the events passed were not for this stream),
    /// and lets the stream go. `false`: the lease was lost (it ran out and
    /// another worker took the stream), and nothing changed.
    pub async fn stream_advanced(
        &self,
        lease: &StreamLease,
        to_seq: i64,
        delivered: i64,
        now: i64,
    ) -> Result<bool, DbError> {
        let l = lease.clone();
        let at = (delivered > 0).then_some(now);
        let n = match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
                    tx.execute(
                        "UPDATE stream_cursors
                         SET after_seq = ?5, delivered = delivered + ?6,
                             last_delivered_at = COALESCE(?7, last_delivered_at), attempts = 0, next_attempt_at = 0,
                             lease_holder = NULL, lease_until = NULL
                         WHERE project_key = ?1 AND stream_id = ?2 AND lease_holder = ?3 AND after_seq = ?4",
                        params![l.project_key, l.stream_id, l.holder, l.after_seq, to_seq, delivered, at],
                    )
                })
                .await?
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let n = client
                    .execute(
                        "UPDATE stream_cursors
                         SET after_seq = $5, delivered = delivered + $6,
                             last_delivered_at = COALESCE($7, last_delivered_at), attempts = 0, next_attempt_at = 0,
                             lease_holder = NULL, lease_until = NULL
                         WHERE project_key = $1 AND stream_id = $2 AND lease_holder = $3 AND after_seq = $4",
                        &[&l.project_key, &l.stream_id, &l.holder, &l.after_seq, &to_seq, &delivered, &at],
                    )
                    .await?;
                usize::try_from(n).unwrap_or(0)
            }
        };
        Ok(n == 1)
    }

    /// The holder records a failed attempt: the cursor stays, the next try
    /// waits until `retry_at`, and the stream is let go.
    pub async fn stream_failed(
        &self,
        lease: &StreamLease,
        error: String,
        now: i64,
        retry_at: i64,
    ) -> Result<(), DbError> {
        let l = lease.clone();
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
                    tx.execute(
                        "UPDATE stream_cursors
                         SET attempts = attempts + 1, last_error = ?4, last_error_at = ?5, next_attempt_at = ?6,
                             lease_holder = NULL, lease_until = NULL
                         WHERE project_key = ?1 AND stream_id = ?2 AND lease_holder = ?3",
                        params![l.project_key, l.stream_id, l.holder, error, now, retry_at],
                    )
                })
                .await?;
            }
            Store::Postgres(pg) => {
                pg.client()
                    .await?
                    .execute(
                        "UPDATE stream_cursors
                         SET attempts = attempts + 1, last_error = $4, last_error_at = $5, next_attempt_at = $6,
                             lease_holder = NULL, lease_until = NULL
                         WHERE project_key = $1 AND stream_id = $2 AND lease_holder = $3",
                        &[&l.project_key, &l.stream_id, &l.holder, &error, &now, &retry_at],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Lets the stream go with nothing changed (nothing had settled yet).
    pub async fn stream_released(&self, lease: &StreamLease) -> Result<(), DbError> {
        let l = lease.clone();
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
                    tx.execute(
                        "UPDATE stream_cursors SET lease_holder = NULL, lease_until = NULL
                         WHERE project_key = ?1 AND stream_id = ?2 AND lease_holder = ?3",
                        params![l.project_key, l.stream_id, l.holder],
                    )
                })
                .await?;
            }
            Store::Postgres(pg) => {
                pg.client()
                    .await?
                    .execute(
                        "UPDATE stream_cursors SET lease_holder = NULL, lease_until = NULL
                         WHERE project_key = $1 AND stream_id = $2 AND lease_holder = $3",
                        &[&l.project_key, &l.stream_id, &l.holder],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// The stream's delivery state and its lag: the accepted events of
    /// `types` after its cursor (a stream that never ran is behind by all of them).
    pub async fn stream_status(
        &self,
        project_key: String,
        stream_id: String,
        types: TypeFilter,
    ) -> Result<StreamStatus, DbError> {
        let types_json = types.map(|t| serde_json::to_string(&t).unwrap_or_else(|_| "[]".into()));
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    let mut s = conn
                        .query_row(
                            &format!(
                                "SELECT {STATUS_COLUMNS} FROM stream_cursors WHERE project_key = ?1 AND stream_id = ?2"
                            ),
                            params![project_key, stream_id],
                            |r| {
                                Ok(StreamStatus {
                                    after_seq: r.get(0)?,
                                    delivered: r.get(1)?,
                                    last_delivered_at: r.get(2)?,
                                    attempts: r.get(3)?,
                                    next_attempt_at: r.get(4)?,
                                    last_error: r.get(5)?,
                                    last_error_at: r.get(6)?,
                                    ..StreamStatus::default()
                                })
                            },
                        )
                        .optional()?
                        .unwrap_or_default();
                    (s.behind, s.oldest_undelivered_at) = conn.query_row(
                        "SELECT COUNT(*), MIN(received_at) FROM events
                         WHERE project_key = ?1 AND rowid > ?2 AND rejected IS NULL
                           AND (?3 IS NULL OR type IN (SELECT value FROM json_each(?3)))",
                        params![project_key, s.after_seq, types_json],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )?;
                    Ok(s)
                })
                .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let row = client
                    .query_opt(
                        &format!(
                            "SELECT {STATUS_COLUMNS} FROM stream_cursors WHERE project_key = $1 AND stream_id = $2"
                        ),
                        &[&project_key, &stream_id],
                    )
                    .await?;
                let mut s = match row {
                    Some(r) => StreamStatus {
                        after_seq: r.try_get(0)?,
                        delivered: r.try_get(1)?,
                        last_delivered_at: r.try_get(2)?,
                        attempts: r.try_get(3)?,
                        next_attempt_at: r.try_get(4)?,
                        last_error: r.try_get(5)?,
                        last_error_at: r.try_get(6)?,
                        ..StreamStatus::default()
                    },
                    None => StreamStatus::default(),
                };
                let lag = client
                    .query_one(
                        "SELECT COUNT(*), MIN(received_at) FROM events
                         WHERE project_key = $1 AND seq > $2 AND rejected IS NULL
                           AND ($3::text IS NULL OR type IN (SELECT jsonb_array_elements_text($3::text::jsonb)))",
                        &[&project_key, &s.after_seq, &types_json],
                    )
                    .await?;
                (s.behind, s.oldest_undelivered_at) = (lag.try_get(0)?, lag.try_get(1)?);
                Ok(s)
            }
        }
    }
}
