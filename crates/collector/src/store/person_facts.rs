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
/// On Postgres, for a whole group folded per row: project, then arrays of
/// browser, user, kind, item, count, first and last `ts`, last arrival, one row per key.
pub(super) const ADD_MANY_POSTGRES: &str =
    "INSERT INTO person_facts (project_key, anonymous_id, user_id, kind, item, n, first_ts, last_ts, last_received)
     SELECT $1, anonymous_id, user_id, kind, item, n, first_ts, last_ts, last_received
     FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[],
                 $9::bigint[])
          AS f(anonymous_id, user_id, kind, item, n, first_ts, last_ts, last_received)
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
pub(super) const USER_ROWS: &str = "SELECT kind, item, CAST(SUM(n) AS BIGINT), MIN(first_ts), MAX(last_ts) FROM (
       SELECT kind, item, n, first_ts, last_ts FROM person_facts WHERE project_key = {1} AND user_id = {2}
       UNION ALL
       SELECT kind, item, n, first_ts, last_ts FROM person_facts
       WHERE project_key = {1} AND {+}user_id = '' AND anonymous_id IN
         (SELECT anonymous_id FROM browser_owners WHERE project_key = {1} AND user_id = {2})) AS f
     GROUP BY kind, item ORDER BY kind, item";
pub(super) const BROWSER_ROWS: &str =
    "SELECT kind, item, CAST(SUM(n) AS BIGINT), MIN(first_ts), MAX(last_ts) FROM person_facts
     WHERE project_key = {1} AND anonymous_id = {2} AND {+}user_id = ''
     GROUP BY kind, item ORDER BY kind, item";
/// The first user identified on a browser.
pub(super) const BROWSER_OWNER: &str =
    "SELECT user_id FROM browser_owners WHERE project_key = {1} AND anonymous_id = {2}";
/// The facts of people not heard from since a time.
pub(super) const EXPIRE: &str = "DELETE FROM person_facts WHERE project_key = {1} AND last_received < {2}";

/// The shared SQL text with SQLite's placeholders.
pub(super) fn sqlite(sql: &str) -> String {
    sql.replace("{1}", "?1").replace("{2}", "?2").replace("{+}", "+")
}

/// The shared SQL text with Postgres' placeholders.
pub(super) fn postgres(sql: &str) -> String {
    sql.replace("{1}", "$1").replace("{2}", "$2").replace("{+}", "")
}
