//! SQLite storage: one writer thread that owns the write connection, and a
//! small pool of read connections.
//!
//! **Writes** go through [`Db::insert`] to the writer thread, which takes
//! every batch waiting in its queue and stores them in *one* transaction
//! ("group commit"), then answers each. Under load a commit (and its fsync)
//! is shared by many requests; alone, a batch is committed at once. A request
//! is answered only after its transaction committed, with
//! `synchronous = FULL`: what was acknowledged survives a crash or power loss.
//! The automation worker's writes ([`Db::write`]) go to the same thread, each
//! in its own transaction, so SQLite never sees two writers.
//!
//! **Reads** run on tokio's blocking pool through [`Db::read`], each on a
//! free connection of [`READERS`]; with WAL they never wait for the writer,
//! and one slow read (a report over a whole project) does not queue every
//! widget read behind it.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use tokio::sync::{mpsc, oneshot};
use touchpoint_protocol::EventStatus;

use super::{
    AfterAttempt, Attempt, Case, Claimed, ClaimedResponse, DbError, Dequeue, HealthSnapshot, ListEntry, NewEvent,
    OpenError, OutboxItem, RoutingDecision, RunEffects, StoredEvent,
};

pub const DB_FILE: &str = "touchpoint.db";

/// Applied in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_events.sql"),
    include_str!("../../migrations/0002_events_by_user.sql"),
    include_str!("../../migrations/0003_automations.sql"),
    include_str!("../../migrations/0004_accounts.sql"),
    include_str!("../../migrations/0005_trust.sql"),
    include_str!("../../migrations/0006_streams.sql"),
    include_str!("../../migrations/0008_data_rights.sql"),
    include_str!("../../migrations/0009_content.sql"),
    include_str!("../../migrations/0010_cases.sql"),
];

/// Most batches stored in one transaction; bounds the wait of the last one.
const MAX_GROUP: usize = 64;
/// Batches waiting for the writer before `insert` itself waits (backpressure).
const QUEUE: usize = 256;

/// Read connections: enough for a slow report and the widget's reads side
/// by side on a small machine, few enough that each keeps a warm page cache.
pub const READERS: usize = 4;

/// Read connections, each used by one read at a time.
struct ReadPool {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl ReadPool {
    /// A free connection if there is one, else the next in turn (waiting for it).
    fn get(&self) -> std::sync::MutexGuard<'_, Connection> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.conns.len();
        for i in 0..n {
            if let Ok(conn) = self.conns[(start + i) % n].try_lock() {
                return conn;
            }
        }
        self.conns[start % n].lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Handles to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    readers: Arc<ReadPool>,
    writer: mpsc::Sender<Job>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

type WriteFn = Box<dyn FnOnce(&mut Connection) + Send>;

enum Job {
    Insert {
        batch: Batch,
        reply: oneshot::Sender<Result<Vec<EventStatus>, DbError>>,
    },
    /// Any other write, run on the writer's connection (it opens its own transaction).
    Write(WriteFn),
    /// Store everything queued before this, then stop.
    Close,
}

/// One request's valid events.
pub(super) struct Batch {
    pub project_key: String,
    pub received_at: i64,
    pub events: Vec<NewEvent>,
}

impl Db {
    /// Opens (creating if needed) `data_dir/touchpoint.db`, brings its schema
    /// up to date and starts the writer thread.
    pub fn open(data_dir: &Path) -> Result<Db, OpenError> {
        let path = data_dir.join(DB_FILE);
        let fail = |message: String| OpenError(format!("cannot open database {}: {message}", path.display()));
        std::fs::create_dir_all(data_dir).map_err(|e| fail(format!("cannot create {}: {e}", data_dir.display())))?;
        crate::private_files::ensure(&path).map_err(|e| fail(format!("cannot make it private: {e}")))?;
        let mut conn = Connection::open(&path).map_err(|e| fail(e.to_string()))?;
        configure(&conn).map_err(|e| fail(e.to_string()))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.clone().into_os_string();
            side.push(suffix);
            crate::private_files::restrict(Path::new(&side))
                .map_err(|e| fail(format!("cannot make {suffix} private: {e}")))?;
        }
        migrate(&mut conn).map_err(fail)?;
        let readers = (0..READERS)
            .map(|_| {
                Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                    .and_then(|r| r.busy_timeout(std::time::Duration::from_secs(5)).map(|()| Mutex::new(r)))
                    .map_err(|e| fail(format!("read connection: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let (writer, jobs) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("touchpoint-db-writer".into())
            .spawn(move || write_loop(conn, jobs))
            .map_err(|e| fail(format!("cannot start the writer thread: {e}")))?;
        let readers = Arc::new(ReadPool { conns: readers, next: AtomicUsize::new(0) });
        Ok(Db { readers, writer, thread: Arc::new(Mutex::new(Some(thread))) })
    }

    /// Stores one request's events (in one transaction, possibly shared with
    /// other requests) and returns, per event in order, `Accepted` or
    /// `Duplicate`. Returns only once the transaction committed.
    pub(super) async fn insert_batch(&self, batch: Batch) -> Result<Vec<EventStatus>, DbError> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(Job::Insert { batch, reply }).await.map_err(|_| DbError::Closed)?;
        answer.await.map_err(|_| DbError::Closed)?
    }

    /// Runs `f` in a transaction of its own on the writer thread; commits if it returns `Ok`.
    pub async fn write<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&Transaction) -> rusqlite::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: WriteFn = Box::new(move |conn: &mut Connection| {
            let result = conn.transaction().and_then(|tx| {
                let r = f(&tx)?;
                tx.commit()?;
                Ok(r)
            });
            let _ = reply.send(result.map_err(DbError::from));
        });
        self.writer.send(Job::Write(job)).await.map_err(|_| DbError::Closed)?;
        answer.await.map_err(|_| DbError::Closed)?
    }

    /// Runs a read on the blocking pool, so a slow disk never stalls the runtime.
    pub async fn read<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || f(&readers.get()))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?
            .map_err(DbError::from)
    }

    /// Stores every batch queued so far, stops the writer and waits for it.
    /// Inserts after this fail with [`DbError::Closed`].
    pub async fn close(&self) {
        let _ = self.writer.send(Job::Close).await;
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    pub async fn claim_queued(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<Claimed>, DbError> {
        self.write(move |tx| {
            let ids: Vec<(String, String)> = {
                let mut claim = tx.prepare_cached(
                    "UPDATE automation_queue SET lease_until = ?1
                     WHERE rowid IN (SELECT rowid FROM automation_queue
                                     WHERE lease_until IS NULL OR lease_until <= ?2
                                     ORDER BY enqueued_at, project_key, event_id LIMIT ?3)
                     RETURNING project_key, event_id",
                )?;
                let rows = claim.query_map(params![now + lease_ms, now, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let mut select =
                tx.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE project_key = ?1 AND id = ?2"))?;
            let mut claimed = Vec::with_capacity(ids.len());
            for (key, id) in ids {
                match select.query_row([&key, &id], stored_event).optional()? {
                    Some(event) => claimed.push(event),
                    // Cannot happen (events are never deleted); do not let it block the queue.
                    None => {
                        tx.execute(
                            "DELETE FROM automation_queue WHERE project_key = ?1 AND event_id = ?2",
                            [&key, &id],
                        )?;
                    }
                }
            }
            claimed.sort_by_key(|e| (e.ts, e.seq));
            Ok(claimed)
        })
        .await
    }

    pub async fn claim_responses(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<ClaimedResponse>, DbError> {
        self.write(move |tx| {
            let mut claim = tx.prepare_cached(
                "UPDATE response_queue SET lease_until = ?1
                 WHERE rowid IN (SELECT rowid FROM response_queue
                                 WHERE due_at <= ?2 AND (lease_until IS NULL OR lease_until <= ?2)
                                 ORDER BY due_at, project_key, response_id LIMIT ?3)
                 RETURNING project_key, response_id, survey_id, due_at",
            )?;
            let rows = claim.query_map(params![now + lease_ms, now, limit], |r| {
                Ok(ClaimedResponse {
                    project_key: r.get(0)?,
                    response_id: r.get(1)?,
                    survey_id: r.get(2)?,
                    due_at: r.get(3)?,
                })
            })?;
            let mut claimed: Vec<ClaimedResponse> = rows.collect::<rusqlite::Result<_>>()?;
            claimed.sort_by(|a, b| (a.due_at, &a.response_id).cmp(&(b.due_at, &b.response_id)));
            Ok(claimed)
        })
        .await
    }

    pub async fn apply_runs(
        &self,
        key: String,
        trigger_id: String,
        dequeue: Option<Dequeue>,
        runs: Vec<RunEffects>,
        now: i64,
    ) -> Result<Vec<String>, DbError> {
        self.write(move |tx| {
            let mut ran = Vec::new();
            for run in runs {
                if store_run(tx, &key, &trigger_id, &run, now)? {
                    ran.push(run.rule_id);
                }
            }
            match dequeue {
                Some(Dequeue::Event(event_id)) => {
                    tx.execute(
                        "DELETE FROM automation_queue WHERE project_key = ?1 AND event_id = ?2",
                        params![key, event_id],
                    )?;
                }
                Some(Dequeue::Response { response_id, due_at }) => {
                    tx.execute(
                        "DELETE FROM response_queue WHERE project_key = ?1 AND response_id = ?2 AND due_at = ?3",
                        params![key, response_id, due_at],
                    )?;
                }
                None => {}
            }
            Ok(ran)
        })
        .await
    }

    pub async fn rule_runs(&self, key: String, rule_id: String) -> Result<HashSet<String>, DbError> {
        self.read(move |conn| {
            let mut q =
                conn.prepare_cached("SELECT trigger_id FROM automation_runs WHERE project_key = ?1 AND rule_id = ?2")?;
            let rows = q.query_map(params![key, rule_id], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    pub async fn claim_due(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<OutboxItem>, DbError> {
        self.write(move |tx| {
            let mut claim = tx.prepare_cached(&format!(
                "UPDATE outbox SET lease_until = ?1
                 WHERE id IN (SELECT id FROM outbox
                              WHERE status = 'pending' AND next_attempt_at <= ?2
                                AND (lease_until IS NULL OR lease_until <= ?2)
                              ORDER BY next_attempt_at, id LIMIT ?3)
                 RETURNING {OUTBOX_COLUMNS}"
            ))?;
            let rows = claim.query_map(params![now + lease_ms, now, limit], outbox_item)?;
            let mut items: Vec<OutboxItem> = rows.collect::<rusqlite::Result<_>>()?;
            items.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
            Ok(items)
        })
        .await
    }

    pub async fn next_due_at(&self) -> Result<Option<i64>, DbError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT MIN(at) FROM
                   (SELECT MAX(next_attempt_at, COALESCE(lease_until, 0)) AS at FROM outbox WHERE status = 'pending'
                    UNION ALL
                    SELECT MAX(due_at, COALESCE(lease_until, 0)) FROM response_queue)",
                [],
                |r| r.get(0),
            )
        })
        .await
    }

    pub async fn record_attempt(&self, a: Attempt, after: AfterAttempt) -> Result<(), DbError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![a.delivery_id, a.attempt, a.started_at, a.duration_ms, a.status_code, a.error],
            )?;
            let (status, next, delivered) = match after {
                AfterAttempt::Delivered { at } => ("delivered", None, Some(at)),
                AfterAttempt::Retry { at } => ("pending", Some(at), None),
                AfterAttempt::Failed => ("failed", None, None),
            };
            tx.execute(
                "UPDATE outbox SET status = ?2, attempts = ?3, next_attempt_at = COALESCE(?4, next_attempt_at),
                                   delivered_at = ?5, last_error = ?6, lease_until = NULL
                 WHERE id = ?1",
                params![a.delivery_id, status, a.attempt, next, delivered, a.error],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn deliveries(
        &self,
        key: String,
        status: Option<String>,
        limit: u32,
    ) -> Result<Vec<(OutboxItem, Vec<Attempt>)>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE project_key = ?1 AND (?2 IS NULL OR status = ?2)
                 ORDER BY created_at DESC, id LIMIT ?3"
            ))?;
            let items: Vec<OutboxItem> =
                q.query_map(params![key, status, limit], outbox_item)?.collect::<rusqlite::Result<_>>()?;
            let mut attempts = conn.prepare_cached(
                "SELECT delivery_id, attempt, started_at, duration_ms, status_code, error
                 FROM delivery_attempts WHERE delivery_id = ?1 ORDER BY attempt",
            )?;
            items
                .into_iter()
                .map(|item| {
                    let list = attempts
                        .query_map([&item.id], |r| {
                            Ok(Attempt {
                                delivery_id: r.get(0)?,
                                attempt: r.get(1)?,
                                started_at: r.get(2)?,
                                duration_ms: r.get(3)?,
                                status_code: r.get(4)?,
                                error: r.get(5)?,
                            })
                        })?
                        .collect::<rusqlite::Result<_>>()?;
                    Ok((item, list))
                })
                .collect()
        })
        .await
    }

    pub async fn cases(&self, key: String, status: Option<String>) -> Result<Vec<Case>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE project_key = ?1 AND (?2 IS NULL OR status = ?2)
                 ORDER BY created_at DESC, id"
            ))?;
            let rows = q.query_map(params![key, status], case)?;
            rows.collect()
        })
        .await
    }

    pub async fn close_case(
        &self,
        key: String,
        id: String,
        note: Option<String>,
        now: i64,
    ) -> Result<Option<Case>, DbError> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE cases SET status = 'solved', closed_at = ?3, note = ?4
                 WHERE project_key = ?1 AND id = ?2 AND status <> 'solved'",
                params![key, id, now, note],
            )?;
            tx.query_row(
                &format!("SELECT {CASE_COLUMNS} FROM cases WHERE project_key = ?1 AND id = ?2"),
                params![key, id],
                case,
            )
            .optional()
        })
        .await
    }
}

/// Records that `run`'s rule ran for `trigger_id` and stores its outbox rows
/// and cases, unless it ran for that trigger before (then stores nothing).
pub(super) fn store_run(
    tx: &Transaction,
    key: &str,
    trigger_id: &str,
    run: &RunEffects,
    now: i64,
) -> rusqlite::Result<bool> {
    let new = tx.execute(
        "INSERT OR IGNORE INTO automation_runs (trigger_id, rule_id, project_key, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![trigger_id, run.rule_id, key, now],
    )? == 1;
    if !new {
        return Ok(false);
    }
    for o in &run.outbox {
        let mut o = std::borrow::Cow::Borrowed(o);
        if run.one_email_a_day && o.kind == "email" && o.status == "pending" {
            let within = tx.execute(
                "INSERT OR IGNORE INTO email_quota (project_key, address, day, delivery_id) VALUES (?1, ?2, ?3, ?4)",
                params![o.project_key, o.target.to_lowercase(), super::utc_day(o.created_at), o.id],
            )? == 1;
            if !within {
                let o = o.to_mut();
                o.status = "failed".into();
                o.last_error = Some(super::OVER_EMAIL_QUOTA.into());
            }
        }
        tx.execute(
            "INSERT INTO outbox (id, project_key, rule_id, trigger_id, kind, target, payload, signature,
                                 status, attempts, next_attempt_at, created_at, delivered_at, last_error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                o.id,
                o.project_key,
                o.rule_id,
                o.trigger_id,
                o.kind,
                o.target,
                o.payload,
                o.signing_key,
                o.status,
                o.attempts,
                o.next_attempt_at,
                o.created_at,
                o.delivered_at,
                o.last_error
            ],
        )?;
    }
    for c in &run.cases {
        tx.execute(
            "INSERT INTO cases (id, project_key, rule_id, trigger_id, title, user_id, anonymous_id, detail,
                                status, created_at, closed_at, note, priority, assignee)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                c.id,
                c.project_key,
                c.rule_id,
                c.trigger_id,
                c.title,
                c.user_id,
                c.anonymous_id,
                c.detail,
                c.status,
                c.created_at,
                c.closed_at,
                c.note,
                c.priority,
                c.assignee
            ],
        )?;
    }
    Ok(true)
}

pub(super) const EVENT_COLUMNS: &str =
    "rowid, id, project_key, type, ts, received_at, anonymous_id, user_id, survey_id, \
                             response_id, question_id, url, body, rejected, ts_flag, source";
pub(super) const OUTBOX_COLUMNS: &str =
    "id, project_key, rule_id, trigger_id, kind, target, payload, signature, status, \
                              attempts, next_attempt_at, created_at, delivered_at, last_error";
pub(super) const CASE_COLUMNS: &str =
    "id, project_key, rule_id, trigger_id, title, user_id, anonymous_id, detail, status, \
                            created_at, closed_at, note, priority, assignee, first_response_at, csat_score";

pub(super) fn stored_event(r: &rusqlite::Row) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        seq: r.get(0)?,
        id: r.get(1)?,
        project_key: r.get(2)?,
        kind: r.get(3)?,
        ts: r.get(4)?,
        received_at: r.get(5)?,
        anonymous_id: r.get(6)?,
        user_id: r.get(7)?,
        survey_id: r.get(8)?,
        response_id: r.get(9)?,
        question_id: r.get(10)?,
        url: r.get(11)?,
        body: r.get(12)?,
        rejected: r.get(13)?,
        ts_flag: r.get(14)?,
        source: r.get(15)?,
    })
}

pub(super) fn outbox_item(r: &rusqlite::Row) -> rusqlite::Result<OutboxItem> {
    Ok(OutboxItem {
        id: r.get(0)?,
        project_key: r.get(1)?,
        rule_id: r.get(2)?,
        trigger_id: r.get(3)?,
        kind: r.get(4)?,
        target: r.get(5)?,
        payload: r.get(6)?,
        signing_key: r.get(7)?,
        status: r.get(8)?,
        attempts: r.get(9)?,
        next_attempt_at: r.get(10)?,
        created_at: r.get(11)?,
        delivered_at: r.get(12)?,
        last_error: r.get(13)?,
    })
}

pub(super) fn case(r: &rusqlite::Row) -> rusqlite::Result<Case> {
    Ok(Case {
        id: r.get(0)?,
        project_key: r.get(1)?,
        rule_id: r.get(2)?,
        trigger_id: r.get(3)?,
        title: r.get(4)?,
        user_id: r.get(5)?,
        anonymous_id: r.get(6)?,
        detail: r.get(7)?,
        status: r.get(8)?,
        created_at: r.get(9)?,
        closed_at: r.get(10)?,
        note: r.get(11)?,
        priority: r.get(12)?,
        assignee: r.get(13)?,
        first_response_at: r.get(14)?,
        csat_score: r.get(15)?,
    })
}

/// The writer thread: waits for a job; for a batch, takes whatever other
/// batches are queued (up to [`MAX_GROUP`]), stores them all in one
/// transaction and answers each. Other writes run one by one, in queue order.
fn write_loop(mut conn: Connection, mut jobs: mpsc::Receiver<Job>) {
    let mut closing = false;
    let mut pending: Option<Job> = None;
    while !closing {
        let Some(first) = pending.take().or_else(|| jobs.blocking_recv()) else { break };
        let mut group = Vec::new();
        for job in std::iter::once(first).chain(std::iter::from_fn(|| jobs.try_recv().ok())) {
            match job {
                Job::Insert { batch, reply } => group.push((batch, reply)),
                Job::Write(write) if group.is_empty() => {
                    write(&mut conn);
                    break;
                }
                // Keep the order: the batches before it are stored first.
                job @ Job::Write(_) => {
                    pending = Some(job);
                    break;
                }
                Job::Close => {
                    closing = true;
                    break;
                }
            }
            if group.len() == MAX_GROUP {
                break;
            }
        }
        if group.is_empty() {
            continue;
        }
        let batches: Vec<&Batch> = group.iter().map(|(batch, _)| batch).collect();
        match super::events::insert_batches(&mut conn, &batches) {
            Ok(statuses) => {
                for ((_, reply), statuses) in group.into_iter().zip(statuses) {
                    let _ = reply.send(Ok(statuses));
                }
            }
            // The transaction rolled back: no batch of the group was stored, none is acknowledged.
            Err(e) => {
                let e = DbError::from(e);
                for (_, reply) in group {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // WAL: readers (tests, a sqlite3 shell) never block the writer.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk before the request is answered, even across a
    // power loss. Group commit (see the module docs) is what keeps it cheap.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
}

fn migrate(conn: &mut Connection) -> Result<(), String> {
    let done: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| e.to_string())?;
    let done = usize::try_from(done).map_err(|_| format!("schema version {done} is not a version"))?;
    if done > MIGRATIONS.len() {
        return Err(format!(
            "schema version {done} is newer than this collector knows ({}); refusing to touch it",
            MIGRATIONS.len()
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let version = i64::try_from(i + 1).expect("a handful of migrations");
        apply(conn, sql, version).map_err(|e| format!("migration {version} failed: {e}"))?;
    }
    Ok(())
}

/// A migration and its version bump commit together or not at all.
fn apply(conn: &mut Connection, sql: &str, version: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(sql)?;
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()
}

/// Accounts: health history, routing decisions, lists.
impl Db {
    pub async fn record_health(&self, snapshots: Vec<HealthSnapshot>) -> Result<(), DbError> {
        self.write(move |tx| {
            for h in &snapshots {
                tx.execute(
                    "INSERT OR IGNORE INTO account_health
                         (project_key, account_id, computed_at, score, stage, tier, breakdown)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![h.project_key, h.account_id, h.computed_at, h.score, h.stage, h.tier, h.breakdown],
                )?;
            }
            Ok(())
        })
        .await
    }

    pub async fn health_history(&self, key: String, account: Option<String>) -> Result<Vec<HealthSnapshot>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(
                "SELECT project_key, account_id, computed_at, score, stage, tier, breakdown FROM account_health
                 WHERE project_key = ?1 AND (?2 IS NULL OR account_id = ?2) ORDER BY account_id, computed_at",
            )?;
            let rows = q.query_map(params![key, account], |r| {
                Ok(HealthSnapshot {
                    project_key: r.get(0)?,
                    account_id: r.get(1)?,
                    computed_at: r.get(2)?,
                    score: r.get(3)?,
                    stage: r.get(4)?,
                    tier: r.get(5)?,
                    breakdown: r.get(6)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    pub async fn apply_routing(
        &self,
        d: RoutingDecision,
        run: RunEffects,
        lists: Vec<String>,
    ) -> Result<bool, DbError> {
        self.write(move |tx| {
            if !store_run(tx, &d.project_key, &d.trigger_id, &run, d.decided_at)? {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO account_routing (trigger_id, rule_id, project_key, account_id, reason, actions,
                                              assigned_to, decided_at, closed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    d.trigger_id,
                    d.rule_id,
                    d.project_key,
                    d.account_id,
                    d.reason,
                    d.actions,
                    d.assigned_to,
                    d.decided_at,
                    d.closed_at
                ],
            )?;
            for list in &lists {
                tx.execute(
                    "INSERT OR IGNORE INTO account_lists (project_key, list, account_id, rule_id, reason, added_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![d.project_key, list, d.account_id, d.rule_id, d.reason, d.decided_at],
                )?;
            }
            Ok(true)
        })
        .await
    }

    pub async fn close_routing(&self, key: String, trigger_ids: Vec<String>, now: i64) -> Result<(), DbError> {
        self.write(move |tx| {
            for id in &trigger_ids {
                tx.execute(
                    "UPDATE account_routing SET closed_at = ?3
                     WHERE project_key = ?1 AND trigger_id = ?2 AND closed_at IS NULL",
                    params![key, id, now],
                )?;
            }
            Ok(())
        })
        .await
    }

    pub async fn routing_log(&self, key: String, account: Option<String>) -> Result<Vec<RoutingDecision>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(
                "SELECT trigger_id, rule_id, project_key, account_id, reason, actions, assigned_to, decided_at,
                        closed_at
                 FROM account_routing WHERE project_key = ?1 AND (?2 IS NULL OR account_id = ?2)
                 ORDER BY decided_at DESC, trigger_id",
            )?;
            let rows = q.query_map(params![key, account], |r| {
                Ok(RoutingDecision {
                    trigger_id: r.get(0)?,
                    rule_id: r.get(1)?,
                    project_key: r.get(2)?,
                    account_id: r.get(3)?,
                    reason: r.get(4)?,
                    actions: r.get(5)?,
                    assigned_to: r.get(6)?,
                    decided_at: r.get(7)?,
                    closed_at: r.get(8)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    pub async fn account_lists(&self, key: String) -> Result<Vec<ListEntry>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(
                "SELECT project_key, list, account_id, rule_id, reason, added_at FROM account_lists
                 WHERE project_key = ?1 ORDER BY list, added_at, account_id",
            )?;
            let rows = q.query_map([key], |r| {
                Ok(ListEntry {
                    project_key: r.get(0)?,
                    list: r.get(1)?,
                    account_id: r.get(2)?,
                    rule_id: r.get(3)?,
                    reason: r.get(4)?,
                    added_at: r.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_a_newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);

        conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1).unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(err.contains("newer than this collector"), "{err}");
    }

    /// The per-project key is a table rebuild on SQLite: stored rows, their
    /// arrival order and the queue must come through it.
    #[test]
    fn the_per_project_key_migration_keeps_rows_and_their_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (i, sql) in MIGRATIONS[..4].iter().enumerate() {
            apply(&mut conn, sql, i as i64 + 1).unwrap();
        }
        for (id, key) in [("b", "pk_a"), ("a", "pk_a"), ("c", "pk_b")] {
            conn.execute(
                "INSERT INTO events (id, project_key, type, ts, received_at, anonymous_id, url, body)
                 VALUES (?1, ?2, 'track', 1, 2, 'x', 'u', '{}')",
                params![id, key],
            )
            .unwrap();
        }
        conn.execute("INSERT INTO automation_queue (event_id, project_key, enqueued_at) VALUES ('b', 'pk_a', 2)", [])
            .unwrap();
        conn.execute(
            "INSERT INTO cases (id, project_key, rule_id, trigger_id, title, detail, status, created_at)
             VALUES ('help-a', 'pk_a', 'help_contact', 'a', 't', '{}', 'open', 2)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();

        let order: Vec<String> = conn
            .prepare("SELECT id FROM events ORDER BY rowid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(order, ["b", "a", "c"]);
        let flags: (Option<String>, Option<String>, String) = conn
            .query_row("SELECT rejected, ts_flag, source FROM events WHERE id = 'a'", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(flags, (None, None, "page".to_string()));
        // Another project may now use the same ids; the same project may not.
        let insert = |key: &str, id: &str| {
            conn.execute(
                "INSERT OR IGNORE INTO events (id, project_key, type, ts, received_at, anonymous_id, url, body)
                 VALUES (?1, ?2, 'track', 1, 2, 'x', 'u', '{}')",
                params![id, key],
            )
            .unwrap()
        };
        assert_eq!((insert("pk_b", "a"), insert("pk_a", "a")), (1, 0));
        let kept: (i64, i64) = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM automation_queue WHERE project_key = 'pk_a' AND event_id = 'b'),
                        (SELECT COUNT(*) FROM cases WHERE project_key = 'pk_a' AND id = 'help-a')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(kept, (1, 1));
    }
}
