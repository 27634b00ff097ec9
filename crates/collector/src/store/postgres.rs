//! Postgres storage, chosen by a `postgres://` `DATABASE_URL`: a small pool of
//! connections (`deadpool-postgres`), ingest by a few writer tasks that merge
//! concurrent requests into one transaction (group commit, see
//! [`super::pg_group_commit`]), and row claims with `FOR UPDATE SKIP LOCKED`, so
//! several collectors can share one database and one automation queue.
//! This is the pool every aggregate's Postgres implementation
//! (`events/postgres.rs`, `cases/postgres.rs`, …) runs on, with the row
//! mappers they share.
//!
//! TLS follows the URL's `sslmode` (see [`super::pg_tls`]). Which schema the tables live in follows the server's
//! `search_path`, which the URL can set
//! (`postgres://…/db?options=-c%20search_path%3Dtouchpoint`); the tests give
//! each test a schema of its own that way.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::Row;

use touchpoint_protocol::EventStatus;

use super::events::Batch;
use super::pg_group_commit::{GroupCommit, WRITERS};
use super::pg_tls::{describe, PgTls, SslMode};
use super::{Case, DbError, OpenError, OutboxItem, StoredEvent};

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
    include_str!("../../migrations/postgres/0011_lookups.sql"),
    include_str!("../../migrations/postgres/0012_cheaper_ingest.sql"),
    include_str!("../../migrations/postgres/0013_byte_order_keys.sql"),
];

/// Serialises migrations of collectors starting at once against one database.
const MIGRATION_LOCK: i64 = 0x746f_7563_6870_7431; // "touchpt1"

const POOL_SIZE: usize = 16;

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The ingest writers.
    group: Arc<GroupCommit>,
}

/// The pool, counting the waits for it.
#[derive(Clone)]
pub(super) struct PgPool {
    pool: Pool,
    /// Connections handed out, and nanoseconds spent waiting for them (`/metrics`).
    waits: Arc<(AtomicU64, AtomicU64)>,
}

impl PgPool {
    pub(super) async fn client(&self) -> Result<Object, DbError> {
        let started = std::time::Instant::now();
        let client = self.pool.get().await;
        let (count, nanos) = &*self.waits;
        count.fetch_add(1, Ordering::Relaxed);
        nanos.fetch_add(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        Ok(client?)
    }
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
        let pool = PgPool { pool, waits: Arc::default() };
        let group = Arc::new(GroupCommit::start(pool.clone(), WRITERS));
        Ok(PgStore { pool, group })
    }

    pub(super) async fn client(&self) -> Result<Object, DbError> {
        self.pool.client().await
    }

    /// Stores one request's events through the group commit (see [`super::pg_group_commit`]).
    pub(super) async fn insert_batch(&self, batch: Batch) -> Result<Vec<EventStatus>, DbError> {
        self.group.insert(batch).await
    }

    pub fn pool_stats(&self) -> crate::metrics::PoolStats {
        let status = self.pool.pool.status();
        let (count, nanos) = &*self.pool.waits;
        crate::metrics::PoolStats {
            size: status.size,
            available: status.available,
            waiting: status.waiting,
            waits: count.load(Ordering::Relaxed),
            wait_seconds: nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }

    /// Stores the requests queued for the writers, then closes the pool.
    pub async fn close(&self) {
        self.group.close().await;
        self.pool.pool.close();
    }
}

/// Accounts: health history, routing decisions, lists.
impl PgStore {}

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

#[async_trait::async_trait]
impl super::Backend for PgStore {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn pool_stats(&self) -> Option<crate::metrics::PoolStats> {
        Some(PgStore::pool_stats(self))
    }

    async fn close(&self) {
        PgStore::close(self).await
    }
}
