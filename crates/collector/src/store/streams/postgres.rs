//! Event streams' cursors on Postgres: leases taken with `SKIP LOCKED`, so two replicas never hold one stream.

use async_trait::async_trait;

use crate::store::postgres::{stored_event, PgStore, EVENT_COLUMNS};

use super::*;

#[async_trait]
impl StreamStore for PgStore {
    async fn stream_cursor(&self, project_key: String, stream_id: String) -> Result<Option<StreamCursor>, DbError> {
        const SQL: &str =
            "SELECT after_seq, next_attempt_at, lease_until FROM stream_cursors WHERE project_key = $1 AND stream_id = $2";
        let client = self.client().await?;
        let row = client.query_opt(SQL, &[&project_key, &stream_id]).await?;
        row.map(|r| {
            Ok(StreamCursor { after_seq: r.try_get(0)?, next_attempt_at: r.try_get(1)?, lease_until: r.try_get(2)? })
        })
        .transpose()
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
            let client = self.client().await?;
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
        };
        Ok(StreamLease::taken(project_key, stream_id, holder, until, taken))
    }

    async fn events_after(&self, project_key: String, after_seq: i64, limit: u32) -> Result<Vec<StoredEvent>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {} FROM events WHERE project_key = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    EVENT_COLUMNS
                ),
                &[&project_key, &after_seq, &i64::from(limit)],
            )
            .await?;
        rows.iter().map(stored_event).collect()
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
            let client = self.client().await?;
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
        };
        Ok(n == 1)
    }

    async fn stream_failed(&self, lease: &StreamLease, error: String, now: i64, retry_at: i64) -> Result<(), DbError> {
        let l = lease.clone();
        {
            self.client()
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
        Ok(())
    }

    async fn stream_released(&self, lease: &StreamLease) -> Result<(), DbError> {
        let l = lease.clone();
        {
            self.client()
                .await?
                .execute(
                    "UPDATE stream_cursors SET lease_holder = NULL, lease_until = NULL
                         WHERE project_key = $1 AND stream_id = $2 AND lease_holder = $3",
                    &[&l.project_key, &l.stream_id, &l.holder],
                )
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
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {STATUS_COLUMNS} FROM stream_cursors WHERE project_key = $1 AND stream_id = $2"),
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
