//! A person's targeting facts, kept up to date at ingest, so that
//! `/v1/config` reads a handful of rows however long their history.
//!
//! Ingest adds each stored (not rejected) event to `person_facts` in its own
//! transaction: per `(browser, user or '')` and per thing counted — `seen`
//! (every event: first seen), `track` (by name), `survey` and `nudge`
//! (showings by id) — a count, the first and last `ts` and when the last one
//! arrived. `browser_owners` keeps the first user identified on each
//! browser, whose anonymous events are theirs (the checklist replay's
//! stitching). A person's facts are the sum of their rows: by their user id,
//! and the anonymous rows of the browsers they own. Everything in
//! `touchpoint_core::targeting::Facts` is a count, a minimum or a maximum,
//! so the sum is what replaying their events gives.
//!
//! Ownership is decided by insertion: on Postgres two transactions naming
//! different users for one new browser at the same instant may commit in
//! the other order than their arrival; the replay (by arrival) and these
//! facts can then disagree about that browser's anonymous events.

use touchpoint_protocol::{Event, EventKind};

use super::{DbError, Store};

/// One counted thing of one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactRow {
    /// `seen`, `track`, `survey` or `nudge`.
    pub kind: String,
    /// The event name, survey or nudge id; empty for `seen`.
    pub item: String,
    pub n: i64,
    pub first_ts: i64,
    pub last_ts: i64,
}

/// What a stored event adds: `(kind, item)` pairs.
pub fn items(e: &Event) -> Vec<(&'static str, String)> {
    let mut out = vec![("seen", String::new())];
    match &e.kind {
        EventKind::Track { name, .. } => out.push(("track", name.clone())),
        EventKind::SurveyShown { survey_id, .. } => out.push(("survey", survey_id.clone())),
        EventKind::NudgeShown { nudge_id, .. } => out.push(("nudge", nudge_id.clone())),
        _ => {}
    }
    out
}

/// The upsert ingest runs per item; parameters: project, browser, user ('' before identify),
/// kind, item, ts, received_at.
pub(super) const ADD_SQLITE: &str =
    "INSERT INTO person_facts (project_key, anonymous_id, user_id, kind, item, n, first_ts, last_ts, last_received)
     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6, ?7)
     ON CONFLICT (project_key, anonymous_id, user_id, kind, item) DO UPDATE SET
       n = n + 1, first_ts = MIN(first_ts, excluded.first_ts), last_ts = MAX(last_ts, excluded.last_ts),
       last_received = MAX(last_received, excluded.last_received)";
/// On Postgres, for a whole batch folded per row: project, arrival, then arrays of
/// browser, user, kind, item, count, first and last `ts`, one row per key.
pub(super) const ADD_MANY_POSTGRES: &str =
    "INSERT INTO person_facts (project_key, anonymous_id, user_id, kind, item, n, first_ts, last_ts, last_received)
     SELECT $1, anonymous_id, user_id, kind, item, n, first_ts, last_ts, $2
     FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[])
          AS f(anonymous_id, user_id, kind, item, n, first_ts, last_ts)
     ON CONFLICT (project_key, anonymous_id, user_id, kind, item) DO UPDATE SET
       n = person_facts.n + EXCLUDED.n, first_ts = LEAST(person_facts.first_ts, EXCLUDED.first_ts),
       last_ts = GREATEST(person_facts.last_ts, EXCLUDED.last_ts),
       last_received = GREATEST(person_facts.last_received, EXCLUDED.last_received)";
/// Parameters: project, browser, user.
pub(super) const OWN_SQLITE: &str =
    "INSERT OR IGNORE INTO browser_owners (project_key, anonymous_id, user_id) VALUES (?1, ?2, ?3)";
/// On Postgres, for a whole batch: project, then arrays of browser and user, one row per browser.
pub(super) const OWN_MANY_POSTGRES: &str = "INSERT INTO browser_owners (project_key, anonymous_id, user_id)
     SELECT $1, anonymous_id, user_id FROM UNNEST($2::text[], $3::text[]) AS o(anonymous_id, user_id)
     ON CONFLICT DO NOTHING";

/// Their own rows, and the anonymous rows of the browsers they own; each
/// branch on its index (`{+}` is SQLite's unary plus, which keeps its planner
/// off the `user_id = ''` rows of the whole project).
const USER_ROWS: &str = "SELECT kind, item, CAST(SUM(n) AS BIGINT), MIN(first_ts), MAX(last_ts) FROM (
       SELECT kind, item, n, first_ts, last_ts FROM person_facts WHERE project_key = {1} AND user_id = {2}
       UNION ALL
       SELECT kind, item, n, first_ts, last_ts FROM person_facts
       WHERE project_key = {1} AND {+}user_id = '' AND anonymous_id IN
         (SELECT anonymous_id FROM browser_owners WHERE project_key = {1} AND user_id = {2})) AS f
     GROUP BY kind, item ORDER BY kind, item";
const BROWSER_ROWS: &str = "SELECT kind, item, CAST(SUM(n) AS BIGINT), MIN(first_ts), MAX(last_ts) FROM person_facts
     WHERE project_key = {1} AND anonymous_id = {2} AND {+}user_id = ''
     GROUP BY kind, item ORDER BY kind, item";

fn sqlite(sql: &str) -> String {
    sql.replace("{1}", "?1").replace("{2}", "?2").replace("{+}", "+")
}

fn postgres(sql: &str) -> String {
    sql.replace("{1}", "$1").replace("{2}", "$2").replace("{+}", "")
}

impl Store {
    /// The facts of an identified user (their own and their browsers' anonymous events).
    pub async fn user_facts(&self, project_key: String, user_id: String) -> Result<Vec<FactRow>, DbError> {
        self.fact_rows(USER_ROWS, project_key, user_id).await
    }

    /// The facts of a browser never identified.
    pub async fn browser_facts(&self, project_key: String, anonymous_id: String) -> Result<Vec<FactRow>, DbError> {
        self.fact_rows(BROWSER_ROWS, project_key, anonymous_id).await
    }

    async fn fact_rows(&self, sql: &'static str, key: String, who: String) -> Result<Vec<FactRow>, DbError> {
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    let mut q = conn.prepare_cached(&sqlite(sql))?;
                    let rows = q.query_map([key, who], |r| {
                        Ok(FactRow {
                            kind: r.get(0)?,
                            item: r.get(1)?,
                            n: r.get(2)?,
                            first_ts: r.get(3)?,
                            last_ts: r.get(4)?,
                        })
                    })?;
                    rows.collect()
                })
                .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let q = client.prepare_cached(&postgres(sql)).await?;
                let rows = client.query(&q, &[&key, &who]).await?;
                rows.iter()
                    .map(|r| {
                        Ok(FactRow {
                            kind: r.try_get(0)?,
                            item: r.try_get(1)?,
                            n: r.try_get(2)?,
                            first_ts: r.try_get(3)?,
                            last_ts: r.try_get(4)?,
                        })
                    })
                    .collect()
            }
        }
    }

    /// The first user identified on `anonymous_id`, if any.
    pub async fn browser_owner(&self, project_key: String, anonymous_id: String) -> Result<Option<String>, DbError> {
        const SQL: &str = "SELECT user_id FROM browser_owners WHERE project_key = {1} AND anonymous_id = {2}";
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    use rusqlite::OptionalExtension;
                    conn.prepare_cached(&sqlite(SQL))?.query_row([project_key, anonymous_id], |r| r.get(0)).optional()
                })
                .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let row = client.query_opt(&postgres(SQL), &[&project_key, &anonymous_id]).await?;
                Ok(row.map(|r| r.get(0)))
            }
        }
    }

    /// Drops the facts of browsers and users not heard from since `before`
    /// (the server's clock): what the retention worker leaves of people whose events all expired.
    pub async fn expire_person_facts(&self, project_key: String, before: i64) -> Result<u64, DbError> {
        const SQL: &str = "DELETE FROM person_facts WHERE project_key = {1} AND last_received < {2}";
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| tx.execute(&sqlite(SQL), rusqlite::params![project_key, before]).map(|n| n as u64))
                    .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                Ok(client.execute(&postgres(SQL), &[&project_key, &before]).await?)
            }
        }
    }
}
