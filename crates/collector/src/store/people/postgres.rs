//! A person's rows, export and erasure on Postgres: the sweep reads the schema from `information_schema`.

use async_trait::async_trait;
use tokio_postgres::Transaction;

use crate::store::postgres::{case, outbox_item, stored_event, PgStore, CASE_COLUMNS, EVENT_COLUMNS, OUTBOX_COLUMNS};

use super::*;

#[async_trait]
impl PeopleStore for PgStore {
    async fn person_rows(&self, project_key: String, user_id: String) -> Result<PersonRows, DbError> {
        let mut client = self.client().await?;
        let tx = client.build_transaction().read_only(true).start().await?;
        let rows = person_rows(&tx, &project_key, &user_id).await?;
        tx.commit().await?;
        Ok(rows)
    }

    async fn erase_person(
        &self,
        project_key: String,
        user_id: String,
        subject_hash: String,
        now: i64,
    ) -> Result<Erased, DbError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let erased = erase(&tx, &project_key, &user_id).await?;
        let counts = serde_json::to_string(&erased).unwrap_or_default();
        tx.execute(
            "INSERT INTO erasures (project_key, subject_hash, erased_at, counts) VALUES ($1, $2, $3, $4)",
            &[&project_key, &subject_hash, &now, &counts],
        )
        .await?;
        tx.commit().await?;
        Ok(erased)
    }

    async fn erasures(&self, project_key: String) -> Result<Vec<ErasureRecord>, DbError> {
        const SQL: &str = "SELECT project_key, subject_hash, erased_at, counts FROM erasures WHERE project_key = ";
        let client = self.client().await?;
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

    async fn delete_events_before(&self, project_key: String, before: i64, limit: u32) -> Result<u64, DbError> {
        let mut client = self.client().await?;
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
        let found = if scoped { tx.query(&sql, &[&idents, &key]).await? } else { tx.query(&sql, &[&idents]).await? };
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
            tx.execute(&format!("UPDATE \"{table}\" SET {} WHERE ctid = ($1::text)::tid", sets.join(", ")), &params)
                .await?;
            erased.scrub(table);
        }
    }
    Ok(())
}
