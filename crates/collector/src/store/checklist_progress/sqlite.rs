//! Checklist pointers on SQLite: the backfill on the writer thread (so no
//! ingest interleaves with it), reads on the read connections.

use std::collections::BTreeSet;

use async_trait::async_trait;
use touchpoint_protocol::Event;

use super::{
    backfill_plan, sqlite, write_sqlite, AccountPart, ChecklistProgressStore, Fold, GROUPED_INTO, INDEXED, TYPES,
};
use crate::store::sqlite::Db;
use crate::store::{DbError, StoredActivity};

/// The events the pointers name (`?2`, a JSON array of ids).
const POINTED: &str = "SELECT anonymous_id, user_id, ts, received_at, body FROM events
     WHERE project_key = ?1 AND id IN (SELECT value FROM json_each(?2)) AND rejected IS NULL
     ORDER BY received_at, rowid";

#[async_trait]
impl ChecklistProgressStore for Db {
    async fn indexed_rules(&self, project_key: String) -> Result<BTreeSet<String>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(&sqlite(INDEXED))?;
            let rows = q.query_map([project_key], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn backfill_checklist_rules(
        &self,
        project_key: String,
        wanted: BTreeSet<String>,
        now: i64,
    ) -> Result<(), DbError> {
        self.write(move |tx| {
            let indexed: BTreeSet<String> = {
                let mut q = tx.prepare_cached(&sqlite(INDEXED))?;
                let rows = q.query_map([&project_key], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let missing: Vec<String> = wanted.difference(&indexed).cloned().collect();
            if missing.is_empty() {
                return Ok(());
            }
            let (rules, parts) = backfill_plan(&indexed, missing.clone());
            let mut fold = Fold::default();
            {
                let mut q = tx.prepare(&format!(
                    "SELECT rowid, received_at, body FROM events
                     WHERE project_key = ?1 AND rejected IS NULL AND type IN ({TYPES})"
                ))?;
                let mut rows = q.query([&project_key])?;
                while let Some(r) = rows.next()? {
                    let body: String = r.get(2)?;
                    if let Ok(e) = serde_json::from_str::<Event>(&body) {
                        fold.add(&rules, parts, &e, (r.get(1)?, r.get(0)?));
                    }
                }
            }
            write_sqlite(tx, &project_key, fold)?;
            let mut add = tx.prepare_cached(
                "INSERT OR IGNORE INTO checklist_rules (project_key, rule, indexed_at) VALUES (?1, ?2, ?3)",
            )?;
            for rule in &missing {
                add.execute(rusqlite::params![project_key, rule, now])?;
            }
            Ok(())
        })
        .await
    }

    async fn pointed_activity(
        &self,
        project_key: String,
        pointers: &'static str,
        who: String,
    ) -> Result<(usize, Vec<StoredActivity>), DbError> {
        self.read(move |conn| {
            let ids: Vec<String> = {
                let mut q = conn.prepare_cached(&sqlite(pointers))?;
                let rows = q.query_map([&project_key, &who], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let mut q = conn.prepare_cached(POINTED)?;
            let ids_json = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
            let rows = q.query_map(rusqlite::params![project_key, ids_json], |r| {
                Ok(StoredActivity {
                    anonymous_id: r.get(0)?,
                    user_id: r.get(1)?,
                    ts: r.get(2)?,
                    received_at: r.get(3)?,
                    body: Some(r.get(4)?),
                })
            })?;
            Ok((ids.len(), rows.collect::<rusqlite::Result<Vec<_>>>()?))
        })
        .await
    }

    async fn grouped_into(&self, project_key: String, account: String) -> Result<Vec<String>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(&sqlite(GROUPED_INTO))?;
            let rows = q.query_map([project_key, account], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn account_part(&self, project_key: String, user: String) -> Result<AccountPart, DbError> {
        let [marks, counts, moments] = super::account_part_queries();
        self.read(move |conn| {
            let params = [&project_key, &user];
            let mut q = conn.prepare_cached(&sqlite(&marks))?;
            let marks = q.query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            let mut q = conn.prepare_cached(&sqlite(&counts))?;
            let counts = q.query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            let mut q = conn.prepare_cached(&sqlite(&moments))?;
            let moments = q
                .query_map(params, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<Result<_, _>>()?;
            Ok(AccountPart::of(marks, counts, moments))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::{account_part_queries, BROWSER_EVENTS, USER_EVENTS};
    use super::*;
    use crate::store::sqlite::tests::assert_read_by_index;

    /// `/v1/checklists/state` reads one person's pointers and the events
    /// they name, and for account-level items the account's members: each
    /// by an index narrower than the project, whatever its history.
    #[test]
    fn a_persons_checklist_read_is_by_index() {
        for q in [USER_EVENTS, BROWSER_EVENTS, GROUPED_INTO] {
            assert_read_by_index(&sqlite(q), 2);
        }
        for q in account_part_queries() {
            assert_read_by_index(&sqlite(&q), 2);
        }
        assert_read_by_index(POINTED, 2);
    }
}
