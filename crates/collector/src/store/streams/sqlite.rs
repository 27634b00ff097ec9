//! Event streams' cursors on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use crate::store::sqlite::{stored_event, Db, EVENT_COLUMNS};

use super::*;

#[async_trait]
impl StreamStore for Db {
    async fn stream_cursor(&self, project_key: String, stream_id: String) -> Result<Option<StreamCursor>, DbError> {
        const SQL: &str =
            "SELECT after_seq, next_attempt_at, lease_until FROM stream_cursors WHERE project_key = ?1 AND stream_id = ?2";
        self.read(move |conn| {
            conn.query_row(SQL, params![project_key, stream_id], |r| {
                Ok(StreamCursor { after_seq: r.get(0)?, next_attempt_at: r.get(1)?, lease_until: r.get(2)? })
            })
            .optional()
        })
        .await
    }

    async fn lease_stream(
        &self,
        project_key: String,
        stream_id: String,
        holder: String,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<StreamLease>, DbError> {
        let until = now + lease_ms;
        let taken = {
            let (key, id, holder) = (project_key.clone(), stream_id.clone(), holder.clone());
            self.write(move |tx| {
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
        };
        Ok(StreamLease::taken(project_key, stream_id, holder, until, taken))
    }

    async fn events_after(&self, project_key: String, after_seq: i64, limit: u32) -> Result<Vec<StoredEvent>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(&format!(
                "SELECT {} FROM events WHERE project_key = ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3",
                EVENT_COLUMNS
            ))?;
            let rows = q.query_map(params![project_key, after_seq, limit], stored_event)?;
            rows.collect()
        })
        .await
    }

    async fn stream_advanced(
        &self,
        lease: &StreamLease,
        to_seq: i64,
        delivered: i64,
        now: i64,
    ) -> Result<bool, DbError> {
        let l = lease.clone();
        let at = (delivered > 0).then_some(now);
        let n = {
            self.write(move |tx| {
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
        };
        Ok(n == 1)
    }

    async fn stream_failed(&self, lease: &StreamLease, error: String, now: i64, retry_at: i64) -> Result<(), DbError> {
        let l = lease.clone();
        {
            self.write(move |tx| {
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
        Ok(())
    }

    async fn stream_released(&self, lease: &StreamLease) -> Result<(), DbError> {
        let l = lease.clone();
        {
            self.write(move |tx| {
                tx.execute(
                    "UPDATE stream_cursors SET lease_holder = NULL, lease_until = NULL
                         WHERE project_key = ?1 AND stream_id = ?2 AND lease_holder = ?3",
                    params![l.project_key, l.stream_id, l.holder],
                )
            })
            .await?;
        }
        Ok(())
    }

    async fn stream_status(
        &self,
        project_key: String,
        stream_id: String,
        types: TypeFilter,
    ) -> Result<StreamStatus, DbError> {
        let types_json = types.map(|t| serde_json::to_string(&t).unwrap_or_else(|_| "[]".into()));
        self.read(move |conn| {
            let mut s = conn
                .query_row(
                    &format!("SELECT {STATUS_COLUMNS} FROM stream_cursors WHERE project_key = ?1 AND stream_id = ?2"),
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
}
