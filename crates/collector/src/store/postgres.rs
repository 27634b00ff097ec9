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

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::Row;

use super::pg_tls::{describe, PgTls, SslMode};
use super::{
    AfterAttempt, Attempt, Case, Claimed, ClaimedResponse, DbError, Dequeue, HealthSnapshot, ListEntry, OpenError,
    OutboxItem, RoutingDecision, RunEffects, StoredEvent,
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
