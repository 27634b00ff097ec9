//! Postgres storage, chosen by a `postgres://` `DATABASE_URL`: a small pool of
//! connections (`deadpool-postgres`), one transaction per ingest request
//! (Postgres handles concurrent writers itself, so there is no writer thread
//! or group commit here), and row claims with `FOR UPDATE SKIP LOCKED`, so
//! several collectors can share one database and one automation queue.
//!
//! TLS follows the URL's `sslmode` (see [`super::pg_tls`]). Which schema the tables live in follows the server's
//! `search_path`, which the URL can set
//! (`postgres://…/db?options=-c%20search_path%3Dtouchpoint`); the tests give
//! each test a schema of its own that way.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::Row;
use touchpoint_protocol::{EventKind, EventStatus};

use super::pg_tls::{describe, PgTls, SslMode};
use super::{
    AfterAttempt, Attempt, Case, Claimed, ClaimedResponse, DbError, Dequeue, EventFilter, EventQuery, HealthSnapshot,
    ListEntry, NewEvent, OpenError, OutboxItem, RoutingDecision, RunEffects, StoredActivity, StoredEvent,
};

/// Applied in order; the table `touchpoint_schema` records which have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_schema.sql"),
    include_str!("../../migrations/postgres/0002_accounts.sql"),
    include_str!("../../migrations/postgres/0003_trust.sql"),
    include_str!("../../migrations/postgres/0004_streams.sql"),
    include_str!("../../migrations/postgres/0006_data_rights.sql"),
    include_str!("../../migrations/postgres/0007_content.sql"),
    include_str!("../../migrations/postgres/0008_cases.sql"),
    include_str!("../../migrations/postgres/0010_checklist_progress.sql"),
];

/// Serialises migrations of collectors starting at once against one database.
const MIGRATION_LOCK: i64 = 0x746f_7563_6870_7431; // "touchpt1"

const POOL_SIZE: usize = 16;

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Connections handed out, and nanoseconds spent waiting for them (`/metrics`).
    waits: Arc<(AtomicU64, AtomicU64)>,
}

pub(super) const EVENT_COLUMNS: &str =
    "seq, id, project_key, type, ts, received_at, anonymous_id, user_id, survey_id, \
                             response_id, question_id, url, body, rejected, ts_flag, source";
pub(super) const OUTBOX_COLUMNS: &str =
    "id, project_key, rule_id, trigger_id, kind, target, payload, signature, status, \
                              attempts, next_attempt_at, created_at, delivered_at, last_error";
pub(super) const CASE_COLUMNS: &str =
    "id, project_key, rule_id, trigger_id, title, user_id, anonymous_id, detail, status, \
                            created_at, closed_at, note, priority, assignee, first_response_at, csat_score";

impl PgStore {
    /// Connects (checking the URL and the server at once, so a wrong URL
    /// stops startup) and brings the schema up to date.
    pub async fn open(url: &str) -> Result<PgStore, OpenError> {
        // Never echo the URL: it may hold a password.
        let tls = PgTls::from_url(url).map_err(OpenError)?;
        let mut config = tokio_postgres::Config::from_str(&tls.url)
            .map_err(|e| OpenError(format!("DATABASE_URL is not a valid Postgres URL: {e}")))?;
        let connector = tls.connector().map_err(OpenError)?;
        config.ssl_mode(tls.wire_mode());
        if tls.mode == SslMode::Prefer {
            // Settle it once: TLS for every connection if the server speaks it, so
            // that no later connection can be talked down to plain text.
            let mut probe = config.clone();
            probe.ssl_mode(tokio_postgres::config::SslMode::Require);
            match probe.connect(connector.clone()).await {
                Ok(_) => config.ssl_mode(tokio_postgres::config::SslMode::Require),
                Err(e) if e.to_string().contains("does not support TLS") || source_says(&e, "does not support TLS") => {
                    tracing::warn!(
                        "Postgres: the server does not offer TLS, so the connection is NOT encrypted \
                         (sslmode=prefer); use sslmode=require or verify-full to refuse that"
                    );
                    config.ssl_mode(tokio_postgres::config::SslMode::Disable)
                }
                Err(e) => return Err(OpenError(format!("cannot connect to Postgres: {}", describe(&e)))),
            };
        }
        let manager =
            Manager::from_config(config, connector, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| OpenError(format!("cannot set up the Postgres pool: {e}")))?;
        let mut client =
            pool.get().await.map_err(|e| OpenError(format!("cannot connect to Postgres: {}", describe(&e))))?;
        migrate(&mut client).await.map_err(|e| OpenError(format!("cannot migrate the Postgres schema: {e}")))?;
        Ok(PgStore { pool, waits: Arc::default() })
    }

    pub(super) async fn client(&self) -> Result<Object, DbError> {
        let started = std::time::Instant::now();
        let client = self.pool.get().await;
        let (count, nanos) = &*self.waits;
        count.fetch_add(1, Ordering::Relaxed);
        nanos.fetch_add(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        Ok(client?)
    }

    pub fn pool_stats(&self) -> crate::metrics::PoolStats {
        let status = self.pool.status();
        let (count, nanos) = &*self.waits;
        crate::metrics::PoolStats {
            size: status.size,
            available: status.available,
            waiting: status.waiting,
            waits: count.load(Ordering::Relaxed),
            wait_seconds: nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }

    pub async fn close(&self) {
        self.pool.close();
    }

    /// One transaction per request, in a handful of statements whatever the
    /// batch's size: the events in one multi-row insert, then what the stored
    /// ones add to the queues, the person facts and the accounts worker's
    /// change log, each folded to one row per key first. A round trip per
    /// event and per fact held Postgres to a few thousand events a second,
    /// and the same fact row updated once per event of a batch.
    ///
    /// Rows of the shared tables are written in key order, as the accounts
    /// worker removes its changes: two transactions that lock rows in one
    /// order wait for each other but never deadlock.
    pub async fn insert(
        &self,
        project_key: String,
        received_at: i64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<EventStatus>, DbError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO events (id, project_key, type, ts, received_at, anonymous_id, user_id,
                                     survey_id, response_id, question_id, url, body, rejected, ts_flag, source)
                 SELECT id, $1, type, ts, $2, anonymous_id, user_id, survey_id, response_id, question_id, url, body,
                        rejected, ts_flag, source
                 FROM UNNEST($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[],
                             $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
                      AS e(id, type, ts, anonymous_id, user_id, survey_id, response_id, question_id, url, body,
                           rejected, ts_flag, source)
                 ON CONFLICT (project_key, id) DO NOTHING
                 RETURNING id, seq",
            )
            .await?;
        let columns = EventColumns::of(&events);
        let stored: Vec<(String, i64)> = tx
            .query(
                &insert,
                &[
                    &project_key,
                    &received_at,
                    &columns.id,
                    &columns.kind,
                    &columns.ts,
                    &columns.anonymous_id,
                    &columns.user_id,
                    &columns.survey_id,
                    &columns.response_id,
                    &columns.question_id,
                    &columns.url,
                    &columns.body,
                    &columns.rejected,
                    &columns.ts_flag,
                    &columns.source,
                ],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        // The first event of each stored id is the one inserted; a repeat of
        // it later in the same batch is a duplicate, as it would be in a later batch.
        let mut fresh: HashMap<&str, i64> = stored.iter().map(|(id, seq)| (id.as_str(), *seq)).collect();
        let inserted: Vec<Option<i64>> = events.iter().map(|n| fresh.remove(n.event.id.as_str())).collect();

        let mut follow = FollowUps::default();
        for (n, inserted) in events.iter().zip(&inserted) {
            if inserted.is_some() && n.rejected.is_none() {
                follow.add(n);
            }
        }
        follow.write(&tx, &project_key, received_at).await?;
        let accepted = events.iter().zip(&inserted).filter(|(n, _)| n.rejected.is_none());
        let accepted = accepted.filter_map(|(n, seq)| seq.map(|seq| (&n.event, seq)));
        super::checklist_progress::ingest_postgres(&tx, &project_key, received_at, accepted).await?;
        tx.commit().await?;
        Ok(inserted
            .into_iter()
            .map(|i| if i.is_some() { EventStatus::Accepted } else { EventStatus::Duplicate })
            .collect())
    }

    pub async fn list_events(&self, f: EventFilter) -> Result<Vec<StoredEvent>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                     WHERE project_key = $1
                       AND ($2::text IS NULL OR survey_id = $2) AND ($3::text IS NULL OR anonymous_id = $3)
                       AND ($4::text IS NULL OR type = $4)
                     ORDER BY ts, seq LIMIT $5"
                ),
                &[&f.project_key, &f.survey_id, &f.anonymous_id, &f.kind, &i64::from(f.limit)],
            )
            .await?;
        rows.iter().map(stored_event).collect()
    }

    pub async fn response_events(&self, key: String, response_ids: Vec<String>) -> Result<Vec<StoredEvent>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                     WHERE project_key = $1 AND response_id = ANY($2) AND rejected IS NULL
                     ORDER BY received_at, seq"
                ),
                &[&key, &response_ids],
            )
            .await?;
        rows.iter().map(stored_event).collect()
    }

    pub async fn server_identifies(&self, key: String, user_id: String) -> Result<Vec<String>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT body FROM events
                 WHERE project_key = $1 AND user_id = $2 AND type = 'identify' AND source = 'server'
                   AND rejected IS NULL
                 ORDER BY received_at, seq",
                &[&key, &user_id],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub async fn events(&self, q: EventQuery) -> Result<Vec<StoredEvent>, DbError> {
        let client = self.client().await?;
        let (after_ts, after_seq) = q.after.unwrap_or((i64::MIN, i64::MIN));
        let rows = client
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                     WHERE project_key = $1
                       AND (cardinality($2::text[]) = 0 OR type = ANY($2))
                       AND ($3::text IS NULL OR survey_id = $3)
                       AND (ts > $4 OR (ts = $4 AND seq > $5))
                       AND ($7 OR rejected IS NULL)
                     ORDER BY ts, seq LIMIT $6"
                ),
                &[&q.project_key, &q.kinds, &q.survey_id, &after_ts, &after_seq, &i64::from(q.limit), &q.with_rejected],
            )
            .await?;
        rows.iter().map(stored_event).collect()
    }

    pub(super) async fn activity(
        &self,
        filter: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<StoredActivity>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT anonymous_id, user_id, ts, received_at,
                            CASE WHEN type IN ('identify', 'track', 'checklist_item_completed', 'checklist_dismissed', 'survey_shown',
                                 'nudge_shown', 'group', 'survey_answered')
                                 THEN body END
                     FROM events WHERE ({filter}) AND rejected IS NULL ORDER BY received_at, seq"
                ),
                params,
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| StoredActivity {
                anonymous_id: r.get(0),
                user_id: r.get(1),
                ts: r.get(2),
                received_at: r.get(3),
                body: r.get(4),
            })
            .collect())
    }

    pub async fn project_activity(&self, key: String) -> Result<Vec<StoredActivity>, DbError> {
        self.activity("project_key = $1", &[&key]).await
    }

    pub async fn user_activity(&self, key: String, user_id: String) -> Result<Vec<StoredActivity>, DbError> {
        self.activity(
            "project_key = $1 AND (user_id = $2 OR anonymous_id IN
                (SELECT anonymous_id FROM events WHERE project_key = $1 AND user_id = $2 AND rejected IS NULL))",
            &[&key, &user_id],
        )
        .await
    }

    pub async fn browser_activity(&self, key: String, anonymous_id: String) -> Result<Vec<StoredActivity>, DbError> {
        self.activity("project_key = $1 AND anonymous_id = $2", &[&key, &anonymous_id]).await
    }

    pub async fn latest_scores(&self, key: String, survey_id: String, question_id: String) -> Result<Vec<u8>, DbError> {
        let client = self.client().await?;
        // The stored body is the event's JSON text; a score is a JSON integer.
        let rows = client
            .query(
                "SELECT response_id,
                        CASE WHEN jsonb_typeof(body::jsonb -> 'value') = 'number'
                                  AND (body::jsonb ->> 'value') ~ '^[0-9]{1,3}$'
                             THEN (body::jsonb ->> 'value')::bigint END
                 FROM events
                 WHERE type = 'survey_answered' AND survey_id = $1 AND question_id = $2 AND project_key = $3
                   AND rejected IS NULL
                 ORDER BY received_at, seq",
                &[&survey_id, &question_id, &key],
            )
            .await?;
        let mut latest: HashMap<String, Option<i64>> = HashMap::new();
        for row in rows {
            latest.insert(row.get(0), row.get(1));
        }
        Ok(latest.into_values().filter_map(|v| v.and_then(|v| u8::try_from(v).ok())).collect())
    }

    pub async fn claim_queued(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<Claimed>, DbError> {
        let client = self.client().await?;
        let claimed: Vec<(String, String)> = client
            .query(
                "UPDATE automation_queue SET lease_until = $1
                 WHERE (project_key, event_id) IN
                       (SELECT project_key, event_id FROM automation_queue
                        WHERE lease_until IS NULL OR lease_until <= $2
                        ORDER BY enqueued_at, project_key, event_id LIMIT $3
                        FOR UPDATE SKIP LOCKED)
                 RETURNING project_key, event_id",
                &[&(now + lease_ms), &now, &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let (keys, ids): (Vec<String>, Vec<String>) = claimed.into_iter().unzip();
        let rows = client
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                     WHERE (project_key, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
                     ORDER BY ts, seq"
                ),
                &[&keys, &ids],
            )
            .await?;
        rows.iter().map(stored_event).collect()
    }

    pub async fn claim_responses(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<ClaimedResponse>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE response_queue SET lease_until = $1
                 WHERE (project_key, response_id) IN
                       (SELECT project_key, response_id FROM response_queue
                        WHERE due_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
                        ORDER BY due_at, project_key, response_id LIMIT $3
                        FOR UPDATE SKIP LOCKED)
                 RETURNING project_key, response_id, survey_id, due_at",
                &[&(now + lease_ms), &now, &i64::from(limit)],
            )
            .await?;
        let mut claimed: Vec<ClaimedResponse> = rows
            .iter()
            .map(|r| {
                Ok(ClaimedResponse {
                    project_key: r.try_get(0)?,
                    response_id: r.try_get(1)?,
                    survey_id: r.try_get(2)?,
                    due_at: r.try_get(3)?,
                })
            })
            .collect::<Result<_, DbError>>()?;
        claimed.sort_by(|a, b| (a.due_at, &a.response_id).cmp(&(b.due_at, &b.response_id)));
        Ok(claimed)
    }

    pub async fn apply_runs(
        &self,
        key: String,
        trigger_id: String,
        dequeue: Option<Dequeue>,
        runs: Vec<RunEffects>,
        now: i64,
    ) -> Result<Vec<String>, DbError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut ran = Vec::new();
        for run in runs {
            if store_run(&tx, &key, &trigger_id, &run, now).await? {
                ran.push(run.rule_id);
            }
        }
        match dequeue {
            Some(Dequeue::Event(event_id)) => {
                tx.execute("DELETE FROM automation_queue WHERE project_key = $1 AND event_id = $2", &[&key, &event_id])
                    .await?;
            }
            Some(Dequeue::Response { response_id, due_at }) => {
                tx.execute(
                    "DELETE FROM response_queue WHERE project_key = $1 AND response_id = $2 AND due_at = $3",
                    &[&key, &response_id, &due_at],
                )
                .await?;
            }
            None => {}
        }
        tx.commit().await?;
        Ok(ran)
    }

    pub async fn rule_runs(&self, key: String, rule_id: String) -> Result<HashSet<String>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT trigger_id FROM automation_runs WHERE project_key = $1 AND rule_id = $2", &[&key, &rule_id])
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub async fn claim_due(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<OutboxItem>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "UPDATE outbox SET lease_until = $1
                     WHERE id IN (SELECT id FROM outbox
                                  WHERE status = 'pending' AND next_attempt_at <= $2
                                    AND (lease_until IS NULL OR lease_until <= $2)
                                  ORDER BY next_attempt_at, id LIMIT $3
                                  FOR UPDATE SKIP LOCKED)
                     RETURNING {OUTBOX_COLUMNS}"
                ),
                &[&(now + lease_ms), &now, &i64::from(limit)],
            )
            .await?;
        let mut items: Vec<OutboxItem> = rows.iter().map(outbox_item).collect::<Result<_, _>>()?;
        items.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
        Ok(items)
    }

    pub async fn next_due_at(&self) -> Result<Option<i64>, DbError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT MIN(at) FROM
                   (SELECT GREATEST(next_attempt_at, COALESCE(lease_until, 0)) AS at FROM outbox WHERE status = 'pending'
                    UNION ALL
                    SELECT GREATEST(due_at, COALESCE(lease_until, 0)) FROM response_queue) AS due",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }

    pub async fn record_attempt(&self, a: Attempt, after: AfterAttempt) -> Result<(), DbError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (delivery_id, attempt) DO UPDATE
             SET started_at = EXCLUDED.started_at, duration_ms = EXCLUDED.duration_ms,
                 status_code = EXCLUDED.status_code, error = EXCLUDED.error",
            &[&a.delivery_id, &a.attempt, &a.started_at, &a.duration_ms, &a.status_code, &a.error],
        )
        .await?;
        let (status, next, delivered): (&str, Option<i64>, Option<i64>) = match after {
            AfterAttempt::Delivered { at } => ("delivered", None, Some(at)),
            AfterAttempt::Retry { at } => ("pending", Some(at), None),
            AfterAttempt::Failed => ("failed", None, None),
        };
        tx.execute(
            "UPDATE outbox SET status = $2, attempts = $3, next_attempt_at = COALESCE($4, next_attempt_at),
                               delivered_at = $5, last_error = $6, lease_until = NULL
             WHERE id = $1",
            &[&a.delivery_id, &status, &a.attempt, &next, &delivered, &a.error],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn deliveries(
        &self,
        key: String,
        status: Option<String>,
        limit: u32,
    ) -> Result<Vec<(OutboxItem, Vec<Attempt>)>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE project_key = $1 AND ($2::text IS NULL OR status = $2)
                     ORDER BY created_at DESC, id LIMIT $3"
                ),
                &[&key, &status, &i64::from(limit)],
            )
            .await?;
        let items: Vec<OutboxItem> = rows.iter().map(outbox_item).collect::<Result<_, _>>()?;
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        let attempt_rows = client
            .query(
                "SELECT delivery_id, attempt, started_at, duration_ms, status_code, error
                 FROM delivery_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt",
                &[&ids],
            )
            .await?;
        let mut attempts: HashMap<String, Vec<Attempt>> = HashMap::new();
        for r in attempt_rows {
            let a = Attempt {
                delivery_id: r.try_get(0)?,
                attempt: r.try_get(1)?,
                started_at: r.try_get(2)?,
                duration_ms: r.try_get(3)?,
                status_code: r.try_get(4)?,
                error: r.try_get(5)?,
            };
            attempts.entry(a.delivery_id.clone()).or_default().push(a);
        }
        Ok(items
            .into_iter()
            .map(|item| {
                let list = attempts.remove(&item.id).unwrap_or_default();
                (item, list)
            })
            .collect())
    }

    pub async fn cases(&self, key: String, status: Option<String>) -> Result<Vec<Case>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {CASE_COLUMNS} FROM cases WHERE project_key = $1 AND ($2::text IS NULL OR status = $2)
                     ORDER BY created_at DESC, id"
                ),
                &[&key, &status],
            )
            .await?;
        rows.iter().map(case).collect()
    }

    pub async fn close_case(
        &self,
        key: String,
        id: String,
        note: Option<String>,
        now: i64,
    ) -> Result<Option<Case>, DbError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE cases SET status = 'solved', closed_at = $3, note = $4
                 WHERE project_key = $1 AND id = $2 AND status <> 'solved'",
                &[&key, &id, &now, &note],
            )
            .await?;
        let row = client
            .query_opt(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE project_key = $1 AND id = $2"), &[&key, &id])
            .await?;
        row.as_ref().map(case).transpose()
    }
}

/// Accounts: health history, routing decisions, lists.
impl PgStore {
    pub async fn record_health(&self, snapshots: Vec<HealthSnapshot>) -> Result<(), DbError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for h in &snapshots {
            tx.execute(
                "INSERT INTO account_health (project_key, account_id, computed_at, score, stage, tier, breakdown)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[&h.project_key, &h.account_id, &h.computed_at, &h.score, &h.stage, &h.tier, &h.breakdown],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn health_history(&self, key: String, account: Option<String>) -> Result<Vec<HealthSnapshot>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT project_key, account_id, computed_at, score, stage, tier, breakdown FROM account_health
                 WHERE project_key = $1 AND ($2::text IS NULL OR account_id = $2) ORDER BY account_id, computed_at",
                &[&key, &account],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(HealthSnapshot {
                    project_key: r.try_get(0)?,
                    account_id: r.try_get(1)?,
                    computed_at: r.try_get(2)?,
                    score: r.try_get(3)?,
                    stage: r.try_get(4)?,
                    tier: r.try_get(5)?,
                    breakdown: r.try_get(6)?,
                })
            })
            .collect()
    }

    pub async fn apply_routing(
        &self,
        d: RoutingDecision,
        run: RunEffects,
        lists: Vec<String>,
    ) -> Result<bool, DbError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !store_run(&tx, &d.project_key, &d.trigger_id, &run, d.decided_at).await? {
            tx.commit().await?;
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO account_routing (trigger_id, rule_id, project_key, account_id, reason, actions,
                                          assigned_to, decided_at, closed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &d.trigger_id,
                &d.rule_id,
                &d.project_key,
                &d.account_id,
                &d.reason,
                &d.actions,
                &d.assigned_to,
                &d.decided_at,
                &d.closed_at,
            ],
        )
        .await?;
        for list in &lists {
            tx.execute(
                "INSERT INTO account_lists (project_key, list, account_id, rule_id, reason, added_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[&d.project_key, list, &d.account_id, &d.rule_id, &d.reason, &d.decided_at],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn close_routing(&self, key: String, trigger_ids: Vec<String>, now: i64) -> Result<(), DbError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE account_routing SET closed_at = $3
                 WHERE project_key = $1 AND trigger_id = ANY($2) AND closed_at IS NULL",
                &[&key, &trigger_ids, &now],
            )
            .await?;
        Ok(())
    }

    pub async fn routing_log(&self, key: String, account: Option<String>) -> Result<Vec<RoutingDecision>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT trigger_id, rule_id, project_key, account_id, reason, actions, assigned_to, decided_at,
                        closed_at
                 FROM account_routing WHERE project_key = $1 AND ($2::text IS NULL OR account_id = $2)
                 ORDER BY decided_at DESC, trigger_id",
                &[&key, &account],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RoutingDecision {
                    trigger_id: r.try_get(0)?,
                    rule_id: r.try_get(1)?,
                    project_key: r.try_get(2)?,
                    account_id: r.try_get(3)?,
                    reason: r.try_get(4)?,
                    actions: r.try_get(5)?,
                    assigned_to: r.try_get(6)?,
                    decided_at: r.try_get(7)?,
                    closed_at: r.try_get(8)?,
                })
            })
            .collect()
    }

    pub async fn account_lists(&self, key: String) -> Result<Vec<ListEntry>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT project_key, list, account_id, rule_id, reason, added_at FROM account_lists
                 WHERE project_key = $1 ORDER BY list, added_at, account_id",
                &[&key],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ListEntry {
                    project_key: r.try_get(0)?,
                    list: r.try_get(1)?,
                    account_id: r.try_get(2)?,
                    rule_id: r.try_get(3)?,
                    reason: r.try_get(4)?,
                    added_at: r.try_get(5)?,
                })
            })
            .collect()
    }
}

/// Records that `run`'s rule ran for `trigger_id` and stores its outbox rows
/// and cases, unless it ran for that trigger before (then stores nothing).
pub(super) async fn store_run(
    tx: &deadpool_postgres::Transaction<'_>,
    key: &str,
    trigger_id: &str,
    run: &RunEffects,
    now: i64,
) -> Result<bool, DbError> {
    let new = tx
        .execute(
            "INSERT INTO automation_runs (trigger_id, rule_id, project_key, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&trigger_id, &run.rule_id, &key, &now],
        )
        .await?
        == 1;
    if !new {
        return Ok(false);
    }
    for o in &run.outbox {
        let mut o = std::borrow::Cow::Borrowed(o);
        if run.one_email_a_day && o.kind == "email" && o.status == "pending" {
            // Another collector inserting the same key waits for this transaction, then finds the row.
            let within = tx
                .execute(
                    "INSERT INTO email_quota (project_key, address, day, delivery_id) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[&o.project_key, &o.target.to_lowercase(), &super::utc_day(o.created_at), &o.id],
                )
                .await?
                == 1;
            if !within {
                let o = o.to_mut();
                o.status = "failed".into();
                o.last_error = Some(super::OVER_EMAIL_QUOTA.into());
            }
        }
        tx.execute(
            "INSERT INTO outbox (id, project_key, rule_id, trigger_id, kind, target, payload, signature,
                                 status, attempts, next_attempt_at, created_at, delivered_at, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &o.id,
                &o.project_key,
                &o.rule_id,
                &o.trigger_id,
                &o.kind,
                &o.target,
                &o.payload,
                &o.signing_key,
                &o.status,
                &o.attempts,
                &o.next_attempt_at,
                &o.created_at,
                &o.delivered_at,
                &o.last_error,
            ],
        )
        .await?;
    }
    for c in &run.cases {
        tx.execute(
            "INSERT INTO cases (id, project_key, rule_id, trigger_id, title, user_id, anonymous_id, detail,
                                status, created_at, closed_at, note, priority, assignee)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &c.id,
                &c.project_key,
                &c.rule_id,
                &c.trigger_id,
                &c.title,
                &c.user_id,
                &c.anonymous_id,
                &c.detail,
                &c.status,
                &c.created_at,
                &c.closed_at,
                &c.note,
                &c.priority,
                &c.assignee,
            ],
        )
        .await?;
    }
    Ok(true)
}

/// A batch of events as one array per column, for `UNNEST`.
struct EventColumns<'a> {
    id: Vec<&'a str>,
    kind: Vec<&'a str>,
    ts: Vec<i64>,
    anonymous_id: Vec<&'a str>,
    user_id: Vec<Option<&'a str>>,
    survey_id: Vec<Option<&'a str>>,
    response_id: Vec<Option<&'a str>>,
    question_id: Vec<Option<&'a str>>,
    url: Vec<&'a str>,
    body: Vec<&'a str>,
    rejected: Vec<Option<&'a str>>,
    ts_flag: Vec<Option<&'a str>>,
    source: Vec<&'a str>,
}

impl<'a> EventColumns<'a> {
    fn of(events: &'a [NewEvent]) -> EventColumns<'a> {
        let mut c = EventColumns {
            id: Vec::with_capacity(events.len()),
            kind: Vec::with_capacity(events.len()),
            ts: Vec::with_capacity(events.len()),
            anonymous_id: Vec::with_capacity(events.len()),
            user_id: Vec::with_capacity(events.len()),
            survey_id: Vec::with_capacity(events.len()),
            response_id: Vec::with_capacity(events.len()),
            question_id: Vec::with_capacity(events.len()),
            url: Vec::with_capacity(events.len()),
            body: Vec::with_capacity(events.len()),
            rejected: Vec::with_capacity(events.len()),
            ts_flag: Vec::with_capacity(events.len()),
            source: Vec::with_capacity(events.len()),
        };
        for n in events {
            let e = &n.event;
            let (response_id, question_id) = response_and_question(&e.kind);
            c.id.push(&e.id);
            c.kind.push(e.kind.name());
            c.ts.push(e.ts);
            c.anonymous_id.push(&e.anonymous_id);
            c.user_id.push(e.user_id.as_deref());
            c.survey_id.push(e.kind.survey_id());
            c.response_id.push(response_id);
            c.question_id.push(question_id);
            c.url.push(&e.url);
            c.body.push(&n.body);
            c.rejected.push(n.rejected.as_deref());
            c.ts_flag.push(n.ts_flag.as_deref());
            c.source.push(n.source.as_str());
        }
        c
    }
}

/// `(browser, user or '', kind, item)` → count, first and last `ts`.
type FactSums<'a> = BTreeMap<(&'a str, &'a str, &'static str, String), (i64, i64, i64)>;

/// What a batch's stored events add beside themselves, folded per key (in
/// `BTreeMap`s, so rows are written in key order).
#[derive(Default)]
struct FollowUps<'a> {
    /// Events some automation rule listens to.
    queued: Vec<&'a str>,
    /// `(response, survey)` and the due time, in the batch's order: a close
    /// and an answer move the due time in opposite directions.
    responses: Vec<(&'a str, &'a str, super::ResponseDue)>,
    facts: FactSums<'a>,
    /// Browser → the first user seen on it in this batch.
    owners: BTreeMap<&'a str, &'a str>,
    /// `(kind, subject)` the accounts worker is to look at.
    marks: BTreeSet<(&'static str, String)>,
    cases: Vec<(&'a touchpoint_protocol::Event, super::HelpCase)>,
}

impl<'a> FollowUps<'a> {
    fn add(&mut self, n: &'a NewEvent) {
        let e = &n.event;
        if n.automate {
            self.queued.push(&e.id);
        }
        let (response_id, _) = response_and_question(&e.kind);
        if let (Some(due), Some(response_id), Some(survey_id)) = (n.response_due, response_id, e.kind.survey_id()) {
            self.responses.push((response_id, survey_id, due));
        }
        let user = e.user_id.as_deref().unwrap_or_default();
        for (kind, item) in super::person_facts::items(e) {
            let fact = self.facts.entry((&e.anonymous_id, user, kind, item)).or_insert((0, e.ts, e.ts));
            *fact = (fact.0 + 1, fact.1.min(e.ts), fact.2.max(e.ts));
        }
        if let Some(user) = &e.user_id {
            self.owners.entry(&e.anonymous_id).or_insert(user);
        }
        if n.account_marks {
            self.marks.extend(super::account_changes::marks(e));
        }
        if let Some(c) = super::help_case(e) {
            self.cases.push((e, c));
        }
    }

    async fn write(
        self,
        tx: &deadpool_postgres::Transaction<'_>,
        project_key: &str,
        received_at: i64,
    ) -> Result<(), DbError> {
        if !self.queued.is_empty() {
            let mut queued = self.queued;
            queued.sort_unstable();
            let enqueue = tx
                .prepare_cached(
                    "INSERT INTO automation_queue (event_id, project_key, enqueued_at)
                     SELECT id, $1, $2 FROM UNNEST($3::text[]) AS q(id)
                     ON CONFLICT (project_key, event_id) DO NOTHING",
                )
                .await?;
            tx.execute(&enqueue, &[&project_key, &received_at, &queued]).await?;
        }
        if !self.responses.is_empty() {
            // A close makes the response due at once; an answer moves a quiet time on.
            let closes = tx
                .prepare_cached(
                    "INSERT INTO response_queue (project_key, response_id, survey_id, due_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (project_key, response_id)
                     DO UPDATE SET due_at = LEAST(response_queue.due_at, EXCLUDED.due_at)",
                )
                .await?;
            let answered = tx
                .prepare_cached(
                    "INSERT INTO response_queue (project_key, response_id, survey_id, due_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (project_key, response_id)
                     DO UPDATE SET due_at = GREATEST(response_queue.due_at, EXCLUDED.due_at)",
                )
                .await?;
            for (response_id, survey_id, due) in &self.responses {
                let upsert = if due.closes { &closes } else { &answered };
                tx.execute(upsert, &[&project_key, response_id, survey_id, &due.at]).await?;
            }
        }
        if !self.facts.is_empty() {
            let add = tx.prepare_cached(super::person_facts::ADD_MANY_POSTGRES).await?;
            let (mut browsers, mut users, mut kinds, mut items) = (vec![], vec![], vec![], vec![]);
            let (mut counts, mut firsts, mut lasts) = (vec![], vec![], vec![]);
            for ((browser, user, kind, item), (n, first, last)) in &self.facts {
                browsers.push(*browser);
                users.push(*user);
                kinds.push(*kind);
                items.push(item.as_str());
                counts.push(*n);
                firsts.push(*first);
                lasts.push(*last);
            }
            tx.execute(
                &add,
                &[&project_key, &received_at, &browsers, &users, &kinds, &items, &counts, &firsts, &lasts],
            )
            .await?;
        }
        if !self.owners.is_empty() {
            let own = tx.prepare_cached(super::person_facts::OWN_MANY_POSTGRES).await?;
            let (browsers, users): (Vec<&str>, Vec<&str>) = self.owners.into_iter().unzip();
            tx.execute(&own, &[&project_key, &browsers, &users]).await?;
        }
        if !self.marks.is_empty() {
            let mark = tx
                .prepare_cached(
                    "INSERT INTO accounts_dirty (project_key, kind, subject, version)
                     SELECT $1, kind, subject, 1 FROM UNNEST($2::text[], $3::text[]) AS m(kind, subject)
                     ON CONFLICT (project_key, kind, subject) DO UPDATE SET version = accounts_dirty.version + 1",
                )
                .await?;
            let (kinds, subjects): (Vec<&str>, Vec<&str>) = self.marks.iter().map(|(k, s)| (*k, s.as_str())).unzip();
            tx.execute(&mark, &[&project_key, &kinds, &subjects]).await?;
        }
        if !self.cases.is_empty() {
            let open_case = tx
                .prepare_cached(
                    "INSERT INTO cases (id, project_key, rule_id, trigger_id, title, user_id, anonymous_id, detail,
                                        status, created_at, closed_at, note)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, NULL, NULL)
                     ON CONFLICT (project_key, id) DO NOTHING",
                )
                .await?;
            let rule = super::HELP_CASE_RULE;
            for (e, c) in &self.cases {
                tx.execute(
                    &open_case,
                    &[
                        &c.id,
                        &project_key,
                        &rule,
                        &e.id,
                        &c.title,
                        &e.user_id,
                        &e.anonymous_id,
                        &c.detail,
                        &received_at,
                    ],
                )
                .await?;
            }
        }
        Ok(())
    }
}

async fn migrate(client: &mut Object) -> Result<(), DbError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1::bigint)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS touchpoint_schema (version BIGINT PRIMARY KEY, applied_at BIGINT)")
        .await?;
    let done: i64 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM touchpoint_schema", &[]).await?.get(0);
    let known = i64::try_from(MIGRATIONS.len()).expect("a handful of migrations");
    if done > known {
        return Err(DbError::Postgres(format!(
            "schema version {done} is newer than this collector knows ({known}); refusing to touch it"
        )));
    }
    for (version, sql) in (1_i64..).zip(MIGRATIONS).skip(usize::try_from(done).unwrap_or(0)) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO touchpoint_schema (version, applied_at) VALUES ($1, $2)",
            &[&version, &crate::now_ms()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn response_and_question(kind: &EventKind) -> (Option<&str>, Option<&str>) {
    super::sqlite::response_and_question(kind)
}

pub(super) fn stored_event(r: &Row) -> Result<StoredEvent, DbError> {
    Ok(StoredEvent {
        seq: r.try_get(0)?,
        id: r.try_get(1)?,
        project_key: r.try_get(2)?,
        kind: r.try_get(3)?,
        ts: r.try_get(4)?,
        received_at: r.try_get(5)?,
        anonymous_id: r.try_get(6)?,
        user_id: r.try_get(7)?,
        survey_id: r.try_get(8)?,
        response_id: r.try_get(9)?,
        question_id: r.try_get(10)?,
        url: r.try_get(11)?,
        body: r.try_get(12)?,
        rejected: r.try_get(13)?,
        ts_flag: r.try_get(14)?,
        source: r.try_get(15)?,
    })
}

pub(super) fn outbox_item(r: &Row) -> Result<OutboxItem, DbError> {
    Ok(OutboxItem {
        id: r.try_get(0)?,
        project_key: r.try_get(1)?,
        rule_id: r.try_get(2)?,
        trigger_id: r.try_get(3)?,
        kind: r.try_get(4)?,
        target: r.try_get(5)?,
        payload: r.try_get(6)?,
        signing_key: r.try_get(7)?,
        status: r.try_get(8)?,
        attempts: r.try_get(9)?,
        next_attempt_at: r.try_get(10)?,
        created_at: r.try_get(11)?,
        delivered_at: r.try_get(12)?,
        last_error: r.try_get(13)?,
    })
}

pub(super) fn case(r: &Row) -> Result<Case, DbError> {
    Ok(Case {
        id: r.try_get(0)?,
        project_key: r.try_get(1)?,
        rule_id: r.try_get(2)?,
        trigger_id: r.try_get(3)?,
        title: r.try_get(4)?,
        user_id: r.try_get(5)?,
        anonymous_id: r.try_get(6)?,
        detail: r.try_get(7)?,
        status: r.try_get(8)?,
        created_at: r.try_get(9)?,
        closed_at: r.try_get(10)?,
        note: r.try_get(11)?,
        priority: r.try_get(12)?,
        assignee: r.try_get(13)?,
        first_response_at: r.try_get(14)?,
        csat_score: r.try_get(15)?,
    })
}

/// Whether `e` or one of its sources says `what`.
fn source_says(e: &tokio_postgres::Error, what: &str) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if err.to_string().contains(what) {
            return true;
        }
        source = err.source();
    }
    false
}
