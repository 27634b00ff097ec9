//! SQLite storage: one writer thread that owns the write connection, and one
//! read connection.
//!
//! **Writes** go through [`Db::insert`] to the writer thread, which takes
//! every batch waiting in its queue and stores them in *one* transaction
//! ("group commit"), then answers each. Under load a commit (and its fsync)
//! is shared by many requests; alone, a batch is committed at once. A request
//! is answered only after its transaction committed, with
//! `synchronous = FULL`: what was acknowledged survives a crash or power loss.
//!
//! **Reads** run on tokio's blocking pool through [`Db::read`]; with WAL they
//! never wait for the writer.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};
use touchpoint_protocol::{Event, EventKind, EventStatus};

pub const DB_FILE: &str = "touchpoint.db";

/// Applied in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] =
    &[include_str!("../migrations/0001_events.sql"), include_str!("../migrations/0002_events_by_user.sql")];

/// Most batches stored in one transaction; bounds the wait of the last one.
const MAX_GROUP: usize = 64;
/// Batches waiting for the writer before `insert` itself waits (backpressure).
const QUEUE: usize = 256;

/// Handles to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    reader: Arc<Mutex<Connection>>,
    writer: mpsc::Sender<Job>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

enum Job {
    Insert {
        batch: Batch,
        reply: oneshot::Sender<Result<Vec<EventStatus>, DbError>>,
    },
    /// Store everything queued before this, then stop.
    Close,
}

/// One request's valid events.
struct Batch {
    project_key: String,
    received_at: i64,
    events: Vec<NewEvent>,
}

#[derive(Debug)]
pub struct OpenError {
    path: PathBuf,
    message: String,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot open database {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for OpenError {}

#[derive(Debug, Clone)]
pub enum DbError {
    Sqlite(String),
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

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "{e}"),
            DbError::Task(e) => write!(f, "blocking task failed: {e}"),
            DbError::Closed => write!(f, "the database writer has stopped"),
        }
    }
}

impl Db {
    /// Opens (creating if needed) `data_dir/touchpoint.db`, brings its schema
    /// up to date and starts the writer thread.
    pub fn open(data_dir: &Path) -> Result<Db, OpenError> {
        let path = data_dir.join(DB_FILE);
        let fail = |message: String| OpenError { path: path.clone(), message };
        std::fs::create_dir_all(data_dir).map_err(|e| fail(format!("cannot create {}: {e}", data_dir.display())))?;
        let mut conn = Connection::open(&path).map_err(|e| fail(e.to_string()))?;
        configure(&conn).map_err(|e| fail(e.to_string()))?;
        migrate(&mut conn).map_err(fail)?;
        let reader =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .and_then(|r| r.busy_timeout(std::time::Duration::from_secs(5)).map(|()| r))
                .map_err(|e| fail(format!("read connection: {e}")))?;

        let (writer, jobs) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("touchpoint-db-writer".into())
            .spawn(move || write_loop(conn, jobs))
            .map_err(|e| fail(format!("cannot start the writer thread: {e}")))?;
        Ok(Db { reader: Arc::new(Mutex::new(reader)), writer, thread: Arc::new(Mutex::new(Some(thread))) })
    }

    /// Stores one request's events (in one transaction, possibly shared with
    /// other requests) and returns, per event in order, `Accepted` or
    /// `Duplicate`. Returns only once the transaction committed.
    pub async fn insert(
        &self,
        project_key: String,
        received_at: i64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<EventStatus>, DbError> {
        let (reply, answer) = oneshot::channel();
        let batch = Batch { project_key, received_at, events };
        self.writer.send(Job::Insert { batch, reply }).await.map_err(|_| DbError::Closed)?;
        answer.await.map_err(|_| DbError::Closed)?
    }

    /// Runs a read on the blocking pool, so a slow disk never stalls the runtime.
    pub async fn read<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&conn)
        })
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

/// The writer thread: waits for a batch, takes whatever else is queued (up to
/// [`MAX_GROUP`]), stores them all in one transaction, answers each.
fn write_loop(mut conn: Connection, mut jobs: mpsc::Receiver<Job>) {
    let mut closing = false;
    while !closing {
        let Some(first) = jobs.blocking_recv() else { break };
        let mut group = Vec::new();
        for job in std::iter::once(first).chain(std::iter::from_fn(|| jobs.try_recv().ok())) {
            match job {
                Job::Insert { batch, reply } => group.push((batch, reply)),
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
        match insert_batches(&mut conn, &batches) {
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

/// A parsed event together with the JSON it arrived as.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event: Event,
    pub body: String,
}

/// Stores `batches` in one transaction. Returns, per batch and per event in
/// order, `Accepted` or `Duplicate` (its id was already stored, possibly
/// earlier in this very transaction).
fn insert_batches(conn: &mut Connection, batches: &[&Batch]) -> rusqlite::Result<Vec<Vec<EventStatus>>> {
    let tx = conn.transaction()?;
    let mut all = Vec::with_capacity(batches.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO events (id, project_key, type, ts, received_at, anonymous_id, user_id,
                                           survey_id, response_id, question_id, url, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for batch in batches {
            let mut statuses = Vec::with_capacity(batch.events.len());
            for NewEvent { event: e, body } in &batch.events {
                let (response_id, question_id) = response_and_question(&e.kind);
                let inserted = insert.execute(params![
                    e.id,
                    batch.project_key,
                    e.kind.name(),
                    e.ts,
                    batch.received_at,
                    e.anonymous_id,
                    e.user_id,
                    e.kind.survey_id(),
                    response_id,
                    question_id,
                    e.url,
                    body,
                ])?;
                statuses.push(if inserted == 1 { EventStatus::Accepted } else { EventStatus::Duplicate });
            }
            all.push(statuses);
        }
    }
    tx.commit()?;
    Ok(all)
}

fn response_and_question(kind: &EventKind) -> (Option<&str>, Option<&str>) {
    match kind {
        EventKind::SurveyAnswered { response_id, question_id, .. }
        | EventKind::SurveyDismissed { response_id, question_id, .. } => (Some(response_id), Some(question_id)),
        EventKind::SurveyShown { response_id, .. } | EventKind::SurveyCompleted { response_id, .. } => {
            (Some(response_id), None)
        }
        // Track, identify, client errors, and any kind added later: neither.
        _ => (None, None),
    }
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

/// Stored bodies, oldest first by the client's clock, then by arrival.
pub fn list_events(conn: &Connection, filter: &EventFilter) -> rusqlite::Result<Vec<String>> {
    let mut query = conn.prepare_cached(
        "SELECT body FROM events
         WHERE project_key = ?1
           AND (?2 IS NULL OR survey_id = ?2) AND (?3 IS NULL OR anonymous_id = ?3) AND (?4 IS NULL OR type = ?4)
         ORDER BY ts, rowid LIMIT ?5",
    )?;
    let f = filter;
    let rows = query.query_map(params![f.project_key, f.survey_id, f.anonymous_id, f.kind, f.limit], |r| r.get(0))?;
    rows.collect()
}

/// A stored event as the checklist replay reads it: who, when, and the body
/// only for the kinds it interprets (`identify`, `track`, `checklist_*`).
#[derive(Debug, Clone)]
pub struct StoredActivity {
    pub anonymous_id: String,
    pub user_id: Option<String>,
    pub ts: i64,
    pub body: Option<String>,
}

/// Every event of `project_key`, oldest first (by `ts`, then arrival).
pub fn project_activity(conn: &Connection, project_key: &str) -> rusqlite::Result<Vec<StoredActivity>> {
    activity(conn, "project_key = ?1", params![project_key])
}

/// Events of `user_id` and every event of each browser they were seen on
/// (whose anonymous events may be theirs), oldest first.
pub fn user_activity(conn: &Connection, project_key: &str, user_id: &str) -> rusqlite::Result<Vec<StoredActivity>> {
    activity(
        conn,
        "project_key = ?1 AND (user_id = ?2 OR anonymous_id IN
            (SELECT anonymous_id FROM events WHERE project_key = ?1 AND user_id = ?2))",
        params![project_key, user_id],
    )
}

/// Every event of one browser, oldest first.
pub fn browser_activity(
    conn: &Connection,
    project_key: &str,
    anonymous_id: &str,
) -> rusqlite::Result<Vec<StoredActivity>> {
    activity(conn, "project_key = ?1 AND anonymous_id = ?2", params![project_key, anonymous_id])
}

fn activity(conn: &Connection, filter: &str, params: impl rusqlite::Params) -> rusqlite::Result<Vec<StoredActivity>> {
    let mut query = conn.prepare_cached(&format!(
        "SELECT anonymous_id, user_id, ts,
                CASE WHEN type IN ('identify', 'track', 'checklist_item_completed', 'checklist_dismissed')
                     THEN body END
         FROM events WHERE {filter} ORDER BY ts, rowid"
    ))?;
    let rows = query.query_map(params, |r| {
        Ok(StoredActivity { anonymous_id: r.get(0)?, user_id: r.get(1)?, ts: r.get(2)?, body: r.get(3)? })
    })?;
    rows.collect()
}

/// The score of each response to `question_id`, counting only its latest
/// answer: going back and changing a score must not count the response twice.
/// Non-numeric answers count as no score. Only `project_key`'s events count.
pub fn latest_scores(
    conn: &Connection,
    project_key: &str,
    survey_id: &str,
    question_id: &str,
) -> rusqlite::Result<Vec<u8>> {
    // "Latest" is by the client's ts (one response comes from one browser, so
    // its clock is consistent with itself), then by arrival for equal ts.
    let mut query = conn.prepare_cached(
        "SELECT response_id,
                CASE json_type(body, '$.value') WHEN 'integer' THEN json_extract(body, '$.value') END
         FROM events
         WHERE type = 'survey_answered' AND survey_id = ?1 AND question_id = ?2 AND project_key = ?3
         ORDER BY ts, rowid",
    )?;
    let mut latest: HashMap<String, Option<i64>> = HashMap::new();
    let mut rows = query.query(params![survey_id, question_id, project_key])?;
    while let Some(row) = rows.next()? {
        latest.insert(row.get(0)?, row.get(1)?);
    }
    Ok(latest.into_values().filter_map(|v| v.and_then(|v| u8::try_from(v).ok())).collect())
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
}
