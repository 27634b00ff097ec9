//! SQLite storage: one writer thread that owns the write connection, and a
//! small pool of read connections. This is the machinery every aggregate's
//! SQLite implementation (`events/sqlite.rs`, `cases/sqlite.rs`, …) runs on,
//! and the row mappers they share.
//!
//! **Ingest** goes through `Db::insert_batch` to the writer thread, which takes
//! every batch waiting in its queue and stores them in *one* transaction
//! ("group commit"), then answers each. Under load a commit (and its fsync)
//! is shared by many requests; alone, a batch is committed at once. A request
//! is answered only after its transaction committed, with
//! `synchronous = FULL`: what was acknowledged survives a crash or power loss.
//! Every other write ([`Db::write`]) goes to the same thread, each in its own
//! transaction, so SQLite never sees two writers.
//!
//! **Reads** run on tokio's blocking pool through [`Db::read`], each on a
//! free connection of [`READERS`]; with WAL they never wait for the writer,
//! and one slow read (a report over a whole project) does not queue every
//! widget read behind it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags, Transaction};
use tokio::sync::{mpsc, oneshot};
use touchpoint_protocol::EventStatus;

use super::events::Batch;
use super::{Case, DbError, OpenError, OutboxItem, StoredEvent};

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
    include_str!("../../migrations/0012_checklist_progress.sql"),
    include_str!("../../migrations/0013_lookups.sql"),
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
impl Db {}

#[async_trait::async_trait]
impl super::Backend for Db {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn pool_stats(&self) -> Option<crate::metrics::PoolStats> {
        None
    }

    async fn close(&self) {
        Db::close(self).await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use rusqlite::params;

    use super::*;

    /// Fails unless every table `sql` reads (with `params` text parameters)
    /// is reached through an index that narrows it below the project: no
    /// `SCAN` of a table, no search by `project_key` alone. The collector
    /// keeps no statistics (no `ANALYZE`), so SQLite's plan does not depend
    /// on the data: the plan on this empty database is the plan at a million
    /// events.
    pub(crate) fn assert_read_by_index(sql: &str, params: usize) {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let mut q = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap_or_else(|e| panic!("{e}: {sql}"));
        let args = vec!["[]"; params];
        let steps: Vec<String> =
            q.query_map(rusqlite::params_from_iter(args), |r| r.get(3)).unwrap().map(Result::unwrap).collect();
        let walks = |s: &&String| {
            (s.starts_with("SCAN ") && !s.starts_with("SCAN json_each")) || s.ends_with("(project_key=?)")
        };
        let bad: Vec<&String> = steps.iter().filter(walks).collect();
        assert!(bad.is_empty(), "{bad:?} walk a whole table or project; the plan:\n{}\n{sql}", steps.join("\n"));
    }

    /// The check itself: the account rows as the accounts worker read them
    /// before their lookups named an index fail it (SQLite took the named
    /// account through `events_by_project_arrival`).
    #[test]
    #[should_panic(expected = "events_by_project_arrival")]
    fn a_lookup_by_the_project_alone_fails_the_plan_check() {
        let unnamed = "rowid IN (
            SELECT rowid FROM events WHERE +project_key = ?1 AND user_id IN (SELECT user_id FROM events
                WHERE project_key = ?1 AND type = 'group' AND json_extract(body, '$.account_id') IN (SELECT value FROM json_each(?2)))
            UNION
            SELECT rowid FROM events WHERE project_key = ?1 AND type = 'track'
                AND json_extract(body, '$.props.account_id') IN (SELECT value FROM json_each(?2)))";
        assert_read_by_index(&crate::store::events::sqlite::activity_sql(unnamed), 2);
    }

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
