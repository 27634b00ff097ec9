//! SQLite storage. The functions here are synchronous and take a
//! `Connection`; handlers reach them through [`Db::call`], which runs them on
//! tokio's blocking pool so a slow disk never stalls the async runtime.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{params, Connection};
use touchpoint_protocol::{Event, EventKind, EventStatus};

pub const DB_FILE: &str = "touchpoint.db";

/// Applied in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/0001_events.sql")];

/// A shared connection. One connection behind a mutex is plenty for a
/// reference collector and keeps every batch's transaction trivially serial.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
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

#[derive(Debug)]
pub enum DbError {
    Sqlite(rusqlite::Error),
    /// The blocking task panicked or was cancelled.
    Task(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "{e}"),
            DbError::Task(e) => write!(f, "blocking task failed: {e}"),
        }
    }
}

impl Db {
    /// Opens (creating if needed) `data_dir/touchpoint.db` and brings its
    /// schema up to date.
    pub fn open(data_dir: &Path) -> Result<Db, OpenError> {
        let path = data_dir.join(DB_FILE);
        let fail = |message: String| OpenError { path: path.clone(), message };
        std::fs::create_dir_all(data_dir).map_err(|e| fail(format!("cannot create {}: {e}", data_dir.display())))?;
        let mut conn = Connection::open(&path).map_err(|e| fail(e.to_string()))?;
        configure(&conn).map_err(|e| fail(e.to_string()))?;
        migrate(&mut conn).map_err(fail)?;
        Ok(Db { conn: Arc::new(Mutex::new(conn)) })
    }

    pub async fn call<R, F>(&self, f: F) -> Result<R, DbError>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-written batch:
            // the transaction rolls back when it drops. So the poison is moot.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
        .map_err(DbError::Sqlite)
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // WAL: readers (tests, a sqlite3 shell) never block the writer.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // With WAL, NORMAL loses at most the last commits on power loss, never integrity.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
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

/// Stores `events` in one transaction. Returns, per event in order,
/// `Accepted` or `Duplicate` (its id was already stored, possibly earlier in
/// this very batch).
pub fn insert_events(
    conn: &mut Connection,
    project_key: &str,
    received_at: i64,
    events: &[NewEvent],
) -> rusqlite::Result<Vec<EventStatus>> {
    let tx = conn.transaction()?;
    let mut statuses = Vec::with_capacity(events.len());
    {
        let mut insert = tx.prepare(
            "INSERT OR IGNORE INTO events (id, project_key, type, ts, received_at, anonymous_id, user_id,
                                           survey_id, response_id, question_id, url, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for NewEvent { event: e, body } in events {
            let (response_id, question_id) = response_and_question(&e.kind);
            let inserted = insert.execute(params![
                e.id,
                project_key,
                e.kind.name(),
                e.ts,
                received_at,
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
    }
    tx.commit()?;
    Ok(statuses)
}

fn response_and_question(kind: &EventKind) -> (Option<&str>, Option<&str>) {
    match kind {
        EventKind::SurveyAnswered { response_id, question_id, .. }
        | EventKind::SurveyDismissed { response_id, question_id, .. } => (Some(response_id), Some(question_id)),
        EventKind::SurveyShown { response_id, .. } | EventKind::SurveyCompleted { response_id, .. } => {
            (Some(response_id), None)
        }
        EventKind::Track { .. } | EventKind::Identify { .. } | EventKind::ClientError { .. } => (None, None),
    }
}

/// `None` fields match everything.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub survey_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub kind: Option<String>,
    pub limit: u32,
}

/// Stored bodies, oldest first by the client's clock, then by arrival.
pub fn list_events(conn: &Connection, filter: &EventFilter) -> rusqlite::Result<Vec<String>> {
    let mut query = conn.prepare_cached(
        "SELECT body FROM events
         WHERE (?1 IS NULL OR survey_id = ?1) AND (?2 IS NULL OR anonymous_id = ?2) AND (?3 IS NULL OR type = ?3)
         ORDER BY ts, rowid LIMIT ?4",
    )?;
    let rows =
        query.query_map(params![filter.survey_id, filter.anonymous_id, filter.kind, filter.limit], |r| r.get(0))?;
    rows.collect()
}

/// The score of each response to `question_id`, counting only its latest
/// answer: going back and changing a score must not count the response twice.
/// Non-numeric answers count as no score.
pub fn latest_scores(conn: &Connection, survey_id: &str, question_id: &str) -> rusqlite::Result<Vec<u8>> {
    // "Latest" is by the client's ts (one response comes from one browser, so
    // its clock is consistent with itself), then by arrival for equal ts.
    let mut query = conn.prepare_cached(
        "SELECT response_id,
                CASE json_type(body, '$.value') WHEN 'integer' THEN json_extract(body, '$.value') END
         FROM events
         WHERE type = 'survey_answered' AND survey_id = ?1 AND question_id = ?2
         ORDER BY ts, rowid",
    )?;
    let mut latest: HashMap<String, Option<i64>> = HashMap::new();
    let mut rows = query.query(params![survey_id, question_id])?;
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
