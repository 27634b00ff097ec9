//! Events on SQLite: ingest runs on the writer thread (group commit, see
//! `store::sqlite`), reads on the read connections.

use async_trait::async_trait;
use rusqlite::{params, Connection};
use touchpoint_protocol::EventStatus;

use crate::store::person_facts::{self, FactRow};
use crate::store::sqlite::{stored_event, Db, EVENT_COLUMNS};
use crate::store::{DbError, EventFilter, EventQuery, NewEvent, StoredActivity, StoredEvent};

use super::{response_and_question, Batch, EventStore};

#[async_trait]
impl EventStore for Db {
    async fn insert(
        &self,
        project_key: String,
        received_at: i64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<EventStatus>, DbError> {
        self.insert_batch(Batch { project_key, received_at, events }).await
    }

    async fn list_events(&self, filter: EventFilter) -> Result<Vec<StoredEvent>, DbError> {
        self.read(move |conn| list_events(conn, &filter)).await
    }

    async fn response_events(&self, key: String, response_ids: Vec<String>) -> Result<Vec<StoredEvent>, DbError> {
        self.read(move |conn| {
            let ids = serde_json::to_string(&response_ids).unwrap_or_else(|_| "[]".into());
            let mut q = conn.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events
                 WHERE project_key = ?1 AND response_id IN (SELECT value FROM json_each(?2)) AND rejected IS NULL
                 ORDER BY received_at, rowid"
            ))?;
            let rows = q.query_map(params![key, ids], stored_event)?;
            rows.collect()
        })
        .await
    }

    async fn server_identifies(&self, key: String, user_id: String) -> Result<Vec<String>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(
                "SELECT body FROM events
                 WHERE project_key = ?1 AND user_id = ?2 AND type = 'identify' AND source = 'server'
                   AND rejected IS NULL
                 ORDER BY received_at, rowid",
            )?;
            let rows = q.query_map(params![key, user_id], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn events(&self, query: EventQuery) -> Result<Vec<StoredEvent>, DbError> {
        self.read(move |conn| events(conn, &query)).await
    }

    async fn project_activity(&self, key: String) -> Result<Vec<StoredActivity>, DbError> {
        self.read(move |conn| activity(conn, "project_key = ?1", params![key])).await
    }

    async fn user_activity(&self, key: String, user_id: String) -> Result<Vec<StoredActivity>, DbError> {
        self.read(move |conn| {
            activity(
                conn,
                // `+project_key`: on the user and browser indexes, not a scan of the whole project.
                "+project_key = ?1 AND (user_id = ?2 OR anonymous_id IN
                    (SELECT anonymous_id FROM events WHERE +project_key = ?1 AND user_id = ?2 AND rejected IS NULL))",
                params![key, user_id],
            )
        })
        .await
    }

    async fn browser_activity(&self, key: String, anonymous_id: String) -> Result<Vec<StoredActivity>, DbError> {
        self.read(move |conn| activity(conn, "project_key = ?1 AND anonymous_id = ?2", params![key, anonymous_id]))
            .await
    }

    async fn latest_scores(&self, key: String, survey_id: String, question_id: String) -> Result<Vec<u8>, DbError> {
        self.read(move |conn| latest_scores(conn, &key, &survey_id, &question_id)).await
    }

    async fn user_facts(&self, key: String, user_id: String) -> Result<Vec<FactRow>, DbError> {
        self.read(move |conn| fact_rows(conn, person_facts::USER_ROWS, key, user_id)).await
    }

    async fn browser_facts(&self, key: String, anonymous_id: String) -> Result<Vec<FactRow>, DbError> {
        self.read(move |conn| fact_rows(conn, person_facts::BROWSER_ROWS, key, anonymous_id)).await
    }

    async fn browser_owner(&self, key: String, anonymous_id: String) -> Result<Option<String>, DbError> {
        self.read(move |conn| {
            use rusqlite::OptionalExtension;
            let sql = person_facts::sqlite(person_facts::BROWSER_OWNER);
            conn.prepare_cached(&sql)?.query_row([key, anonymous_id], |r| r.get(0)).optional()
        })
        .await
    }

    async fn expire_person_facts(&self, key: String, before: i64) -> Result<u64, DbError> {
        let sql = person_facts::sqlite(person_facts::EXPIRE);
        self.write(move |tx| tx.execute(&sql, params![key, before]).map(|n| n as u64)).await
    }
}

fn fact_rows(conn: &Connection, sql: &str, key: String, who: String) -> rusqlite::Result<Vec<FactRow>> {
    let mut q = conn.prepare_cached(&person_facts::sqlite(sql))?;
    let rows = q.query_map([key, who], |r| {
        Ok(FactRow { kind: r.get(0)?, item: r.get(1)?, n: r.get(2)?, first_ts: r.get(3)?, last_ts: r.get(4)? })
    })?;
    rows.collect()
}

fn events(conn: &Connection, q: &EventQuery) -> rusqlite::Result<Vec<StoredEvent>> {
    // Types as a JSON array, so one cached statement serves any number of them.
    let kinds = serde_json::to_string(&q.kinds).unwrap_or_else(|_| "[]".into());
    let (after_ts, after_seq) = q.after.unwrap_or((i64::MIN, i64::MIN));
    let mut query = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE project_key = ?1
           AND (?2 = '[]' OR type IN (SELECT value FROM json_each(?2)))
           AND (?3 IS NULL OR survey_id = ?3)
           AND (ts > ?4 OR (ts = ?4 AND rowid > ?5))
           AND (?7 OR rejected IS NULL)
         ORDER BY ts, rowid LIMIT ?6"
    ))?;
    let rows = query.query_map(
        params![q.project_key, kinds, q.survey_id, after_ts, after_seq, q.limit, q.with_rejected],
        stored_event,
    )?;
    rows.collect()
}

/// Stores `batches` in one transaction. Returns, per batch and per event in
/// order, `Accepted` or `Duplicate` (its id was already stored, possibly
/// earlier in this very transaction).
pub(in crate::store) fn insert_batches(
    conn: &mut Connection,
    batches: &[&Batch],
) -> rusqlite::Result<Vec<Vec<EventStatus>>> {
    let tx = conn.transaction()?;
    let mut all = Vec::with_capacity(batches.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO events (id, project_key, type, ts, received_at, anonymous_id, user_id,
                                           survey_id, response_id, question_id, url, body, rejected, ts_flag, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        let mut enqueue = tx.prepare_cached(
            "INSERT OR IGNORE INTO automation_queue (event_id, project_key, enqueued_at) VALUES (?1, ?2, ?3)",
        )?;
        // A close makes the response due at once; an answer moves a quiet time on.
        let mut response_closes = tx.prepare_cached(
            "INSERT INTO response_queue (project_key, response_id, survey_id, due_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (project_key, response_id) DO UPDATE SET due_at = MIN(due_at, excluded.due_at)",
        )?;
        let mut response_answered = tx.prepare_cached(
            "INSERT INTO response_queue (project_key, response_id, survey_id, due_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (project_key, response_id) DO UPDATE SET due_at = MAX(due_at, excluded.due_at)",
        )?;
        let mut add_fact = tx.prepare_cached(person_facts::ADD_SQLITE)?;
        let mut own_browser = tx.prepare_cached(person_facts::OWN_SQLITE)?;
        let mut mark_account = tx.prepare_cached(
            "INSERT INTO accounts_dirty (project_key, kind, subject, version) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (project_key, kind, subject) DO UPDATE SET version = version + 1",
        )?;
        let mut open_case = tx.prepare_cached(
            "INSERT OR IGNORE INTO cases (id, project_key, rule_id, trigger_id, title, user_id, anonymous_id, detail,
                                          status, created_at, closed_at, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9, NULL, NULL)",
        )?;
        for batch in batches {
            let mut statuses = Vec::with_capacity(batch.events.len());
            let indexed = crate::store::checklist_progress::indexed_sqlite(&tx, &batch.project_key)?;
            let mut progress = crate::store::checklist_progress::Fold::default();
            for NewEvent {
                event: e,
                body,
                automate,
                rejected,
                ts_flag,
                source,
                response_due,
                account_marks,
                opens_case,
            } in &batch.events
            {
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
                    rejected,
                    ts_flag,
                    source.as_str(),
                ])?;
                let acted_on = inserted == 1 && rejected.is_none();
                if acted_on {
                    indexed.add(&mut progress, e, (batch.received_at, tx.last_insert_rowid()));
                }
                if acted_on && *automate {
                    enqueue.execute(params![e.id, batch.project_key, batch.received_at])?;
                }
                if let (true, Some(due), Some(response_id), Some(survey_id)) =
                    (acted_on, response_due, response_id, e.kind.survey_id())
                {
                    let upsert = if due.closes { &mut response_closes } else { &mut response_answered };
                    upsert.execute(params![batch.project_key, response_id, survey_id, due.at])?;
                }
                if acted_on {
                    let user = e.user_id.as_deref().unwrap_or_default();
                    for (kind, item) in person_facts::items(e) {
                        add_fact.execute(params![
                            batch.project_key,
                            e.anonymous_id,
                            user,
                            kind,
                            item,
                            e.ts,
                            batch.received_at
                        ])?;
                    }
                    if let Some(user) = &e.user_id {
                        own_browser.execute(params![batch.project_key, e.anonymous_id, user])?;
                    }
                }
                if acted_on && *account_marks {
                    for (kind, subject) in crate::store::account_changes::marks(e) {
                        mark_account.execute(params![batch.project_key, kind, subject])?;
                    }
                }
                if let Some(c) = opens_case.as_ref().filter(|_| acted_on) {
                    open_case.execute(params![
                        c.id,
                        batch.project_key,
                        c.rule_id,
                        e.id,
                        c.title,
                        e.user_id,
                        e.anonymous_id,
                        c.detail,
                        batch.received_at
                    ])?;
                }
                statuses.push(if inserted == 1 { EventStatus::Accepted } else { EventStatus::Duplicate });
            }
            crate::store::checklist_progress::write_sqlite(&tx, &batch.project_key, progress)?;
            all.push(statuses);
        }
    }
    tx.commit()?;
    Ok(all)
}

/// Stored events, rejected ones too, oldest first by the client's clock, then by arrival.
fn list_events(conn: &Connection, filter: &EventFilter) -> rusqlite::Result<Vec<StoredEvent>> {
    let mut query = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE project_key = ?1
           AND (?2 IS NULL OR survey_id = ?2) AND (?3 IS NULL OR anonymous_id = ?3) AND (?4 IS NULL OR type = ?4)
         ORDER BY ts, rowid LIMIT ?5"
    ))?;
    let f = filter;
    let rows = query.query_map(params![f.project_key, f.survey_id, f.anonymous_id, f.kind, f.limit], stored_event)?;
    rows.collect()
}

/// The activity read of the events `filter` keeps.
pub(in crate::store) fn activity_sql(filter: &str) -> String {
    super::activity_sql(filter, "rowid")
}

pub(in crate::store) fn activity(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<StoredActivity>> {
    let mut query = conn.prepare_cached(&activity_sql(filter))?;
    let rows = query.query_map(params, |r| {
        Ok(StoredActivity {
            anonymous_id: r.get(0)?,
            user_id: r.get(1)?,
            ts: r.get(2)?,
            received_at: r.get(3)?,
            body: r.get(4)?,
        })
    })?;
    rows.collect()
}

/// The score of each response to `question_id`, counting only its latest
/// answer: going back and changing a score must not count the response twice.
/// Non-numeric answers count as no score. Only `project_key`'s events count.
fn latest_scores(
    conn: &Connection,
    project_key: &str,
    survey_id: &str,
    question_id: &str,
) -> rusqlite::Result<Vec<u8>> {
    // "Latest" is by the server's clock, then by arrival: a client's ts can be anything.
    let mut query = conn.prepare_cached(
        "SELECT response_id,
                CASE json_type(body, '$.value') WHEN 'integer' THEN json_extract(body, '$.value') END
         FROM events
         WHERE type = 'survey_answered' AND survey_id = ?1 AND question_id = ?2 AND project_key = ?3
           AND rejected IS NULL
         ORDER BY received_at, rowid",
    )?;
    let rows = query.query_map(params![survey_id, question_id, project_key], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(super::latest_scores(rows.collect::<rusqlite::Result<Vec<_>>>()?))
}
