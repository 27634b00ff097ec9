//! A person's rows, export and erasure on SQLite: the sweep reads the schema from `sqlite_master`.

use async_trait::async_trait;
use rusqlite::{params, Connection};

use crate::store::sqlite::{case, outbox_item, stored_event, Db, CASE_COLUMNS, EVENT_COLUMNS, OUTBOX_COLUMNS};

use super::*;

#[async_trait]
impl PeopleStore for Db {
    async fn person_rows(&self, project_key: String, user_id: String) -> Result<PersonRows, DbError> {
        self.read(move |conn| person_rows(conn, &project_key, &user_id)).await
    }

    async fn erase_person(
        &self,
        project_key: String,
        user_id: String,
        subject_hash: String,
        now: i64,
    ) -> Result<Erased, DbError> {
        self.write(move |tx| {
            let erased = erase(tx, &project_key, &user_id)?;
            let counts = serde_json::to_string(&erased).unwrap_or_default();
            tx.execute(
                "INSERT INTO erasures (project_key, subject_hash, erased_at, counts) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![project_key, subject_hash, now, counts],
            )?;
            Ok(erased)
        })
        .await
    }

    async fn erasures(&self, project_key: String) -> Result<Vec<ErasureRecord>, DbError> {
        const SQL: &str = "SELECT project_key, subject_hash, erased_at, counts FROM erasures WHERE project_key = ";
        self.read(move |conn| {
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

    async fn delete_events_before(&self, project_key: String, before: i64, limit: u32) -> Result<u64, DbError> {
        self.write(move |tx| {
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
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn their_events() -> String {
    THEIR_EVENTS.replace("{1}", "?1").replace("{2}", "?2").replace("{+}", "+")
}

pub fn person_rows(conn: &Connection, key: &str, user: &str) -> rusqlite::Result<PersonRows> {
    let browsers: Vec<String> = conn
        .prepare_cached("SELECT DISTINCT anonymous_id FROM events WHERE project_key = ?1 AND user_id = ?2 ORDER BY 1")?
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
            &format!("DELETE FROM {table} WHERE project_key = ?1 AND {column} IN (SELECT value FROM json_each(?2))"),
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
