//! Storage for people's data rights and for retention: everything stored
//! about one identified person (for an export), their erasure in one
//! transaction, the erasure log, and deleting a project's old events.
//!
//! **Whose rows.** A person's events are those carrying their `user_id`
//! and the anonymous events (no `user_id`) of every browser they were seen
//! on: the checklist replay stitches those to the browser's first user, and
//! an erasure cannot know that a shared browser's anonymous events were not
//! theirs, so it errs on the side of erasing. Their cases are those naming
//! them or opened by their events; their deliveries are those their events
//! or responses triggered, emails to their addresses, and any payload
//! naming them (a signed payload cannot be rewritten, so it goes).
//!
//! **The sweep.** After those rows are gone, every table of the schema (read
//! from the database, not from a list here, so tables added later are
//! covered) is searched for text naming them (the user id, their email
//! addresses): a row whose primary key names them is deleted, any other
//! such text is rewritten to [`ERASED`]. That is what takes them out of
//! account routing reasons, routing webhooks' account summaries and
//! whatever other rows mention them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::{Case, DbError, OutboxItem, Store, StoredEvent};

/// What erased text reads afterwards.
pub const ERASED: &str = "[erased]";

/// Tables the sweep leaves alone: the erasure log (it holds hashes only)
/// and the schema's own bookkeeping.
const NOT_SWEPT: &[&str] = &["erasures", "touchpoint_schema"];

/// Everything stored about one identified person of a project.
#[derive(Debug, Clone, Default)]
pub struct PersonRows {
    /// The browsers (anonymous ids) they were seen on.
    pub browsers: Vec<String>,
    /// Their events, rejected ones too, in arrival order.
    pub events: Vec<StoredEvent>,
    /// Email addresses their events gave (see [`emails_in`]).
    pub emails: Vec<String>,
    pub cases: Vec<Case>,
    /// Webhooks and emails about them.
    pub outbox: Vec<OutboxItem>,
}

/// One erasure as logged: never the id, only a keyed hash and counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErasureRecord {
    pub project_key: String,
    pub subject_hash: String,
    pub erased_at: i64,
    /// JSON: [`Erased`].
    pub counts: String,
}

/// What one erasure removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Erased {
    /// Rows deleted, per table.
    pub deleted: BTreeMap<String, u64>,
    /// Rows whose text named them, rewritten, per table.
    pub scrubbed: BTreeMap<String, u64>,
    /// Ids of the email deliveries deleted: their `.eml` files go too.
    #[serde(skip)]
    pub email_deliveries: Vec<String>,
}

impl Erased {
    fn delete(&mut self, table: &str, n: u64) {
        if n > 0 {
            *self.deleted.entry(table.to_string()).or_default() += n;
        }
    }

    fn scrub(&mut self, table: &str) {
        *self.scrubbed.entry(table.to_string()).or_default() += 1;
    }

    /// Rows deleted and rewritten, in all.
    pub fn total(&self) -> u64 {
        self.deleted.values().chain(self.scrubbed.values()).sum()
    }
}

/// Email addresses in a person's events: `identify` and `group` traits and
/// the address a help request gave; each as written and in lowercase (as the
/// email quota keeps them), since text elsewhere may hold either.
pub fn emails_in(events: &[StoredEvent]) -> Vec<String> {
    let mut found = BTreeSet::new();
    for e in events {
        let Ok(body) = serde_json::from_str::<Value>(&e.body) else { continue };
        let mut strings = Vec::new();
        match e.kind.as_str() {
            "identify" | "group" => collect_strings(&body["traits"], &mut strings),
            "help_case_created" => collect_strings(&body["email"], &mut strings),
            _ => {}
        }
        for s in strings.into_iter().map(str::trim).filter(|s| looks_like_email(s)) {
            found.insert(s.to_string());
            found.insert(s.to_lowercase());
        }
    }
    found.into_iter().collect()
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

fn looks_like_email(s: &str) -> bool {
    let s = s.trim();
    s.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.')) && !s.contains(' ')
}

/// The words that name a person, as the sweep searches for them: the user
/// id and each address (as stored and lowercase).
pub fn identifiers(user_id: &str, emails: &[String]) -> Vec<String> {
    let mut out: BTreeSet<String> = emails.iter().cloned().collect();
    out.insert(user_id.to_string());
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// `text` with every whole occurrence of an identifier replaced by
/// [`ERASED`]. "Whole": not inside a longer id (`u1` is not erased out of
/// `u10`), where ids are made of letters, digits and `_.@+-`.
pub fn scrub(text: &str, idents: &[String]) -> String {
    let in_word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '+' | '-');
    let mut out = text.to_string();
    for ident in idents {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        let mut before: Option<char> = None;
        while let Some(at) = rest.find(ident.as_str()) {
            let prev = rest[..at].chars().next_back().or(if at == 0 { before } else { None });
            let next = rest[at + ident.len()..].chars().next();
            result.push_str(&rest[..at]);
            if prev.is_some_and(in_word) || next.is_some_and(in_word) {
                result.push_str(ident);
            } else {
                result.push_str(ERASED);
            }
            before = ident.chars().next_back();
            rest = &rest[at + ident.len()..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

impl Store {
    /// Everything stored about `user_id` in `project_key`.
    pub async fn person_rows(&self, project_key: String, user_id: String) -> Result<PersonRows, DbError> {
        match self {
            Store::Sqlite(db) => db.read(move |conn| sqlite::person_rows(conn, &project_key, &user_id)).await,
            Store::Postgres(pg) => {
                let mut client = pg.client().await?;
                let tx = client.build_transaction().read_only(true).start().await?;
                let rows = postgres::person_rows(&tx, &project_key, &user_id).await?;
                tx.commit().await?;
                Ok(rows)
            }
        }
    }

    /// Erases `user_id` from `project_key` in one transaction (see the module
    /// docs) and logs it as `subject_hash` with its counts. Running it again
    /// finds nothing and logs an erasure of nothing.
    pub async fn erase_person(
        &self,
        project_key: String,
        user_id: String,
        subject_hash: String,
        now: i64,
    ) -> Result<Erased, DbError> {
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
                    let erased = sqlite::erase(tx, &project_key, &user_id)?;
                    let counts = serde_json::to_string(&erased).unwrap_or_default();
                    tx.execute(
                        "INSERT INTO erasures (project_key, subject_hash, erased_at, counts) VALUES (?1, ?2, ?3, ?4)",
                        rusqlite::params![project_key, subject_hash, now, counts],
                    )?;
                    Ok(erased)
                })
                .await
            }
            Store::Postgres(pg) => {
                let mut client = pg.client().await?;
                let tx = client.transaction().await?;
                let erased = postgres::erase(&tx, &project_key, &user_id).await?;
                let counts = serde_json::to_string(&erased).unwrap_or_default();
                tx.execute(
                    "INSERT INTO erasures (project_key, subject_hash, erased_at, counts) VALUES ($1, $2, $3, $4)",
                    &[&project_key, &subject_hash, &now, &counts],
                )
                .await?;
                tx.commit().await?;
                Ok(erased)
            }
        }
    }

    /// The project's erasure log, oldest first.
    pub async fn erasures(&self, project_key: String) -> Result<Vec<ErasureRecord>, DbError> {
        const SQL: &str = "SELECT project_key, subject_hash, erased_at, counts FROM erasures WHERE project_key = ";
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    let mut q = conn.prepare_cached(&format!("{SQL} ?1 ORDER BY erased_at, rowid"))?;
                    let rows = q.query_map([project_key], |r| {
                        Ok(ErasureRecord {
                            project_key: r.get(0)?,
                            subject_hash: r.get(1)?,
                            erased_at: r.get(2)?,
                            counts: r.get(3)?,
                        })
                    })?;
                    rows.collect()
                })
                .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let rows = client.query(&format!("{SQL} $1 ORDER BY erased_at, seq"), &[&project_key]).await?;
                rows.iter()
                    .map(|r| {
                        Ok(ErasureRecord {
                            project_key: r.try_get(0)?,
                            subject_hash: r.try_get(1)?,
                            erased_at: r.try_get(2)?,
                            counts: r.try_get(3)?,
                        })
                    })
                    .collect()
            }
        }
    }

    /// Deletes up to `limit` events of `project_key` received before
    /// `before` (the server's clock), and the automation queue's rows of
    /// them; returns how many events went. Call again until it returns less than `limit`.
    pub async fn delete_events_before(&self, project_key: String, before: i64, limit: u32) -> Result<u64, DbError> {
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
                    let n = tx.execute(
                        "DELETE FROM events WHERE rowid IN
                           (SELECT rowid FROM events WHERE project_key = ?1 AND received_at < ?2 LIMIT ?3)",
                        rusqlite::params![project_key, before, limit],
                    )?;
                    tx.execute(
                        "DELETE FROM automation_queue WHERE project_key = ?1 AND NOT EXISTS
                           (SELECT 1 FROM events e WHERE e.project_key = ?1 AND e.id = automation_queue.event_id)",
                        [&project_key],
                    )?;
                    Ok(n as u64)
                })
                .await
            }
            Store::Postgres(pg) => {
                let mut client = pg.client().await?;
                let tx = client.transaction().await?;
                let n = tx
                    .execute(
                        "DELETE FROM events WHERE ctid IN
                           (SELECT ctid FROM events WHERE project_key = $1 AND received_at < $2 LIMIT $3)",
                        &[&project_key, &before, &i64::from(limit)],
                    )
                    .await?;
                tx.execute(
                    "DELETE FROM automation_queue q WHERE q.project_key = $1 AND NOT EXISTS
                       (SELECT 1 FROM events e WHERE e.project_key = $1 AND e.id = q.event_id)",
                    &[&project_key],
                )
                .await?;
                tx.commit().await?;
                Ok(n)
            }
        }
    }
}

/// What is derived from a person's events and kept beside them: their
/// targeting facts (theirs, and the anonymous ones of their browsers), the
/// browsers they own (a browser another user owns stays theirs), the rows
/// their checklist state is replayed from (`store::checklist_progress`), changes
/// waiting for the accounts worker. `{1}` the project, `{2}` the user id,
/// `{3}` their browsers; the flag: whether the statement names `{3}`.
const DERIVED: &[(&str, bool, &str)] = &[
    (
        "person_facts",
        true,
        "DELETE FROM person_facts WHERE project_key = {1} AND (user_id = {2} OR (user_id = '' AND anonymous_id IN {3}))",
    ),
    (
        "checklist_marks",
        true,
        "DELETE FROM checklist_marks WHERE project_key = {1} AND (user_id = {2} OR (user_id = '' AND anonymous_id IN {3}))",
    ),
    (
        "checklist_moments",
        true,
        "DELETE FROM checklist_moments WHERE project_key = {1} AND (user_id = {2} OR (user_id = '' AND anonymous_id IN {3}))",
    ),
    (
        "checklist_counts",
        true,
        "DELETE FROM checklist_counts WHERE project_key = {1} AND (user_id = {2} OR (user_id = '' AND anonymous_id IN {3}))",
    ),
    ("browser_owners", false, "DELETE FROM browser_owners WHERE project_key = {1} AND user_id = {2}"),
    (
        "accounts_dirty",
        true,
        "DELETE FROM accounts_dirty WHERE project_key = {1} AND ((kind = 'user' AND subject = {2})
                                                              OR (kind = 'browser' AND subject IN {3}))",
    ),
];

/// The events of a person (see the module docs), as a condition on `events`
/// with the project key as parameter 1 and the user id as parameter 2.
/// `{+}`: SQLite's unary plus, which keeps its planner on the user and browser indexes.
const THEIR_EVENTS: &str = "{+}project_key = {1} AND (user_id = {2} OR (user_id IS NULL AND anonymous_id IN
     (SELECT anonymous_id FROM events WHERE {+}project_key = {1} AND user_id = {2})))";

mod sqlite {
    use rusqlite::{params, Connection};

    use super::super::sqlite::{case, outbox_item, stored_event, CASE_COLUMNS, EVENT_COLUMNS, OUTBOX_COLUMNS};
    use super::*;

    fn json<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
    }

    fn their_events() -> String {
        THEIR_EVENTS.replace("{1}", "?1").replace("{2}", "?2").replace("{+}", "+")
    }

    pub fn person_rows(conn: &Connection, key: &str, user: &str) -> rusqlite::Result<PersonRows> {
        let browsers: Vec<String> = conn
            .prepare_cached(
                "SELECT DISTINCT anonymous_id FROM events WHERE project_key = ?1 AND user_id = ?2 ORDER BY 1",
            )?
            .query_map(params![key, user], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let events: Vec<StoredEvent> = conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE {} ORDER BY received_at, rowid",
                their_events()
            ))?
            .query_map(params![key, user], stored_event)?
            .collect::<rusqlite::Result<_>>()?;
        let emails = emails_in(&events);
        let triggers: BTreeSet<&str> =
            events.iter().flat_map(|e| std::iter::once(e.id.as_str()).chain(e.response_id.as_deref())).collect();
        let cases: Vec<Case> = conn
            .prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE project_key = ?1
                   AND (user_id = ?2 OR (user_id IS NULL AND anonymous_id IN (SELECT value FROM json_each(?3)))
                        OR trigger_id IN (SELECT value FROM json_each(?4)))
                 ORDER BY created_at, id"
            ))?
            .query_map(params![key, user, json(&browsers), json(&triggers)], case)?
            .collect::<rusqlite::Result<_>>()?;
        let outbox: Vec<OutboxItem> = conn
            .prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE project_key = ?1
                   AND (trigger_id IN (SELECT value FROM json_each(?2))
                        OR (kind = 'email' AND lower(target) IN (SELECT value FROM json_each(?3)))
                        OR EXISTS (SELECT 1 FROM json_each(?4) j WHERE instr(payload, j.value) > 0))
                 ORDER BY created_at, id"
            ))?
            .query_map(params![key, json(&triggers), json(&emails), json(&identifiers(user, &emails))], outbox_item)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(PersonRows { browsers, events, emails, cases, outbox })
    }

    pub fn erase(conn: &Connection, key: &str, user: &str) -> rusqlite::Result<Erased> {
        let rows = person_rows(conn, key, user)?;
        let mut erased = Erased::default();
        let events: Vec<&str> = rows.events.iter().map(|e| e.id.as_str()).collect();
        let responses: BTreeSet<&str> = rows.events.iter().filter_map(|e| e.response_id.as_deref()).collect();
        let triggers: Vec<&str> = events.iter().copied().chain(responses.iter().copied()).collect();
        let cases: Vec<&str> = rows.cases.iter().map(|c| c.id.as_str()).collect();
        let outbox: Vec<&str> = rows.outbox.iter().map(|o| o.id.as_str()).collect();
        erased.email_deliveries = rows.outbox.iter().filter(|o| o.kind == "email").map(|o| o.id.clone()).collect();
        let by_key = |table: &str, column: &str, ids: &[&str]| -> rusqlite::Result<u64> {
            let n = conn.execute(
                &format!(
                    "DELETE FROM {table} WHERE project_key = ?1 AND {column} IN (SELECT value FROM json_each(?2))"
                ),
                params![key, json(&ids)],
            )?;
            Ok(n as u64)
        };
        erased.delete("automation_queue", by_key("automation_queue", "event_id", &events)?);
        erased.delete(
            "response_queue",
            by_key("response_queue", "response_id", &responses.iter().copied().collect::<Vec<_>>())?,
        );
        erased.delete("automation_runs", by_key("automation_runs", "trigger_id", &triggers)?);
        // A case's timeline and tags go with it (they name the case, not the person).
        erased.delete("case_timeline", by_key("case_timeline", "case_id", &cases)?);
        erased.delete("case_tags", by_key("case_tags", "case_id", &cases)?);
        erased.delete("cases", by_key("cases", "id", &cases)?);
        erased.delete("outbox", by_key("outbox", "id", &outbox)?);
        let attempts = conn.execute(
            "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT value FROM json_each(?1))",
            [json(&outbox)],
        )?;
        erased.delete("delivery_attempts", attempts as u64);
        let quota = conn.execute(
            "DELETE FROM email_quota WHERE project_key = ?1
               AND (delivery_id IN (SELECT value FROM json_each(?2)) OR address IN (SELECT value FROM json_each(?3)))",
            params![key, json(&outbox), json(&rows.emails)],
        )?;
        erased.delete("email_quota", quota as u64);
        erased.delete("events", by_key("events", "id", &events)?);
        let browsers = json(&rows.browsers);
        for (table, with_browsers, sql) in DERIVED {
            let sql = sql.replace("{1}", "?1").replace("{2}", "?2").replace("{3}", "(SELECT value FROM json_each(?3))");
            let n = match with_browsers {
                true => conn.execute(&sql, params![key, user, browsers])?,
                false => conn.execute(&sql, params![key, user])?,
            };
            erased.delete(table, n as u64);
        }
        sweep(conn, key, &identifiers(user, &rows.emails), &mut erased)?;
        Ok(erased)
    }

    /// See the module docs: every table's text columns, as the schema lists them.
    fn sweep(conn: &Connection, key: &str, idents: &[String], erased: &mut Erased) -> rusqlite::Result<()> {
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for table in tables.iter().filter(|t| !NOT_SWEPT.contains(&t.as_str())) {
            // (name, declared type, position in the primary key)
            let columns: Vec<(String, String, i64)> = conn
                .prepare(&format!("PRAGMA table_info(\"{table}\")"))?
                .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(5)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let text: Vec<&(String, String, i64)> = columns
                .iter()
                .filter(|(_, ty, _)| {
                    let ty = ty.to_ascii_uppercase();
                    ty.is_empty() || ty.contains("TEXT") || ty.contains("CHAR") || ty.contains("CLOB")
                })
                .collect();
            if text.is_empty() {
                continue;
            }
            let scoped = columns.iter().any(|(name, ..)| name == "project_key");
            let names: Vec<String> = text.iter().map(|(n, ..)| format!("\"{n}\"")).collect();
            let any = names.iter().map(|n| format!("instr({n}, j.value) > 0")).collect::<Vec<_>>().join(" OR ");
            let scope = if scoped { "project_key = ?1 AND" } else { "?1 IS NOT NULL AND" };
            let sql = format!(
                "SELECT rowid, {} FROM \"{table}\" WHERE {scope} EXISTS (SELECT 1 FROM json_each(?2) j WHERE {any})",
                names.join(", ")
            );
            let found: Vec<(i64, Vec<Option<String>>)> = conn
                .prepare(&sql)?
                .query_map(params![key, json(&idents)], |r| {
                    let values = (1..=names.len()).map(|i| r.get::<_, Option<String>>(i)).collect::<Result<_, _>>()?;
                    Ok((r.get(0)?, values))
                })?
                .collect::<rusqlite::Result<_>>()?;
            for (rowid, values) in found {
                let mut changes = Vec::new();
                for ((name, _, pk), value) in text.iter().zip(&values) {
                    let Some(value) = value else { continue };
                    let scrubbed = scrub(value, idents);
                    if scrubbed != *value {
                        changes.push((name, *pk > 0, scrubbed));
                    }
                }
                if changes.is_empty() {
                    continue;
                }
                if changes.iter().any(|(_, pk, _)| *pk) {
                    conn.execute(&format!("DELETE FROM \"{table}\" WHERE rowid = ?1"), [rowid])?;
                    erased.delete(table, 1);
                    continue;
                }
                for (name, _, value) in changes {
                    conn.execute(
                        &format!("UPDATE \"{table}\" SET \"{name}\" = ?1 WHERE rowid = ?2"),
                        params![value, rowid],
                    )?;
                }
                erased.scrub(table);
            }
        }
        Ok(())
    }
}

mod postgres {
    use tokio_postgres::Transaction;

    use super::super::postgres::{case, outbox_item, stored_event, CASE_COLUMNS, EVENT_COLUMNS, OUTBOX_COLUMNS};
    use super::*;

    fn their_events() -> String {
        THEIR_EVENTS.replace("{1}", "$1").replace("{2}", "$2").replace("{+}", "")
    }

    pub async fn person_rows(tx: &Transaction<'_>, key: &str, user: &str) -> Result<PersonRows, DbError> {
        let browsers: Vec<String> = tx
            .query(
                "SELECT DISTINCT anonymous_id FROM events WHERE project_key = $1 AND user_id = $2 ORDER BY 1",
                &[&key, &user],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let events = tx
            .query(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE {} ORDER BY received_at, seq", their_events()),
                &[&key, &user],
            )
            .await?
            .iter()
            .map(stored_event)
            .collect::<Result<Vec<_>, _>>()?;
        let emails = emails_in(&events);
        let triggers: Vec<String> = events
            .iter()
            .flat_map(|e| std::iter::once(e.id.clone()).chain(e.response_id.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let cases = tx
            .query(
                &format!(
                    "SELECT {CASE_COLUMNS} FROM cases WHERE project_key = $1
                       AND (user_id = $2 OR (user_id IS NULL AND anonymous_id = ANY($3)) OR trigger_id = ANY($4))
                     ORDER BY created_at, id"
                ),
                &[&key, &user, &browsers, &triggers],
            )
            .await?
            .iter()
            .map(case)
            .collect::<Result<Vec<_>, _>>()?;
        let idents = identifiers(user, &emails);
        let outbox = tx
            .query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE project_key = $1
                       AND (trigger_id = ANY($2) OR (kind = 'email' AND lower(target) = ANY($3))
                            OR EXISTS (SELECT 1 FROM unnest($4::text[]) j(v) WHERE strpos(payload, j.v) > 0))
                     ORDER BY created_at, id"
                ),
                &[&key, &triggers, &emails, &idents],
            )
            .await?
            .iter()
            .map(outbox_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PersonRows { browsers, events, emails, cases, outbox })
    }

    pub async fn erase(tx: &Transaction<'_>, key: &str, user: &str) -> Result<Erased, DbError> {
        let rows = person_rows(tx, key, user).await?;
        let mut erased = Erased::default();
        let ids = |it: &mut dyn Iterator<Item = String>| it.collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>();
        let events = ids(&mut rows.events.iter().map(|e| e.id.clone()));
        let responses = ids(&mut rows.events.iter().filter_map(|e| e.response_id.clone()));
        let triggers: Vec<String> = events.iter().chain(&responses).cloned().collect();
        let cases = ids(&mut rows.cases.iter().map(|c| c.id.clone()));
        let outbox = ids(&mut rows.outbox.iter().map(|o| o.id.clone()));
        erased.email_deliveries = rows.outbox.iter().filter(|o| o.kind == "email").map(|o| o.id.clone()).collect();
        for (table, column, list) in [
            ("automation_queue", "event_id", &events),
            ("response_queue", "response_id", &responses),
            ("automation_runs", "trigger_id", &triggers),
            ("case_timeline", "case_id", &cases),
            ("case_tags", "case_id", &cases),
            ("cases", "id", &cases),
            ("outbox", "id", &outbox),
        ] {
            let n = tx
                .execute(&format!("DELETE FROM {table} WHERE project_key = $1 AND {column} = ANY($2)"), &[&key, list])
                .await?;
            erased.delete(table, n);
        }
        let n = tx.execute("DELETE FROM delivery_attempts WHERE delivery_id = ANY($1)", &[&outbox]).await?;
        erased.delete("delivery_attempts", n);
        let n = tx
            .execute(
                "DELETE FROM email_quota WHERE project_key = $1 AND (delivery_id = ANY($2) OR address = ANY($3))",
                &[&key, &outbox, &rows.emails],
            )
            .await?;
        erased.delete("email_quota", n);
        let n = tx.execute("DELETE FROM events WHERE project_key = $1 AND id = ANY($2)", &[&key, &events]).await?;
        erased.delete("events", n);
        for (table, with_browsers, sql) in DERIVED {
            let sql = sql.replace("{1}", "$1").replace("{2}", "$2").replace("IN {3}", "= ANY($3)");
            let n = match with_browsers {
                true => tx.execute(&sql, &[&key, &user, &rows.browsers]).await?,
                false => tx.execute(&sql, &[&key, &user]).await?,
            };
            erased.delete(table, n);
        }
        sweep(tx, key, &identifiers(user, &rows.emails), &mut erased).await?;
        Ok(erased)
    }

    /// See the module docs: every table's text columns, as the schema lists them.
    async fn sweep(tx: &Transaction<'_>, key: &str, idents: &[String], erased: &mut Erased) -> Result<(), DbError> {
        let columns = tx
            .query(
                "SELECT c.table_name::text, c.column_name::text,
                        c.data_type IN ('text', 'character varying', 'character'),
                        EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a
                                  ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                                WHERE i.indisprimary AND i.indrelid = (quote_ident(c.table_name))::regclass
                                  AND a.attname = c.column_name)
                 FROM information_schema.columns c JOIN information_schema.tables t
                   ON t.table_schema = c.table_schema AND t.table_name = c.table_name
                 WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
                 ORDER BY c.table_name, c.ordinal_position",
                &[],
            )
            .await?;
        #[derive(Default)]
        struct Table {
            columns: Vec<String>,
            /// (name, in the primary key)
            text: Vec<(String, bool)>,
        }
        let mut tables: BTreeMap<String, Table> = BTreeMap::new();
        for r in &columns {
            let (table, column, is_text, pk): (String, String, bool, bool) = (r.get(0), r.get(1), r.get(2), r.get(3));
            let entry = tables.entry(table).or_default();
            entry.columns.push(column.clone());
            if is_text {
                entry.text.push((column, pk));
            }
        }
        for (table, Table { columns: all, text }) in tables.iter().filter(|(t, _)| !NOT_SWEPT.contains(&t.as_str())) {
            if text.is_empty() {
                continue;
            }
            let names: Vec<String> = text.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            let any = names.iter().map(|n| format!("strpos({n}, j.v) > 0")).collect::<Vec<_>>().join(" OR ");
            let scoped = all.iter().any(|c| c == "project_key");
            let (scope, idents_at) = if scoped { ("project_key = $2 AND", "$1") } else { ("", "$1") };
            let sql = format!(
                "SELECT ctid::text, {} FROM \"{table}\" WHERE {scope}
                   EXISTS (SELECT 1 FROM unnest({idents_at}::text[]) j(v) WHERE {any})",
                names.join(", ")
            );
            let found =
                if scoped { tx.query(&sql, &[&idents, &key]).await? } else { tx.query(&sql, &[&idents]).await? };
            for row in found {
                let ctid: String = row.get(0);
                let mut changes = Vec::new();
                for (i, (name, pk)) in text.iter().enumerate() {
                    let Some(value) = row.get::<_, Option<String>>(i + 1) else { continue };
                    let scrubbed = scrub(&value, idents);
                    if scrubbed != value {
                        changes.push((name, *pk, scrubbed));
                    }
                }
                if changes.is_empty() {
                    continue;
                }
                if changes.iter().any(|(_, pk, _)| *pk) {
                    tx.execute(&format!("DELETE FROM \"{table}\" WHERE ctid = ($1::text)::tid"), &[&ctid]).await?;
                    erased.delete(table, 1);
                    continue;
                }
                let sets: Vec<String> =
                    changes.iter().enumerate().map(|(i, (name, ..))| format!("\"{name}\" = ${}", i + 2)).collect();
                let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&ctid];
                params.extend(changes.iter().map(|(_, _, v)| v as &(dyn tokio_postgres::types::ToSql + Sync)));
                tx.execute(
                    &format!("UPDATE \"{table}\" SET {} WHERE ctid = ($1::text)::tid", sets.join(", ")),
                    &params,
                )
                .await?;
                erased.scrub(table);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_erases_whole_ids_only() {
        let idents = vec!["u1".to_string(), "erin@example.org".to_string()];
        assert_eq!(scrub(r#"{"users":["u1","u10"]}"#, &idents), r#"{"users":["[erased]","u10"]}"#);
        assert_eq!(scrub("To: erin@example.org\r\n", &idents), "To: [erased]\r\n");
        assert_eq!(scrub("u1u1 xu1 u1", &idents), "u1u1 xu1 [erased]");
        assert_eq!(scrub("churn_risk:7:u1", &idents), "churn_risk:7:[erased]");
    }

    #[test]
    fn emails_come_from_traits_and_help_requests() {
        let event = |kind: &str, body: &str| StoredEvent {
            seq: 0,
            id: "e".into(),
            project_key: "pk".into(),
            kind: kind.into(),
            ts: 0,
            received_at: 0,
            anonymous_id: "a".into(),
            user_id: None,
            survey_id: None,
            response_id: None,
            question_id: None,
            url: String::new(),
            body: body.into(),
            rejected: None,
            ts_flag: None,
            source: "page".into(),
        };
        let found = emails_in(&[
            event("identify", r#"{"traits":{"email":"Erin@Example.org","name":"Erin","work":{"alt":"e@x.io"}}}"#),
            event("help_case_created", r#"{"email":"help@erin.dev","message":"hi a@b.c"}"#),
            event("track", r#"{"props":{"email":"not@counted.io"}}"#),
        ]);
        assert_eq!(found, ["Erin@Example.org", "e@x.io", "erin@example.org", "help@erin.dev"]);
    }
}
