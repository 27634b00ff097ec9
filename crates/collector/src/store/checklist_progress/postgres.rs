//! Checklist pointers on Postgres: the backfill holds a lock that makes
//! ingest (and another collector's backfill) wait for it.

use std::collections::BTreeSet;

use async_trait::async_trait;
use touchpoint_protocol::Event;

use super::{
    backfill_plan, postgres, write_postgres, AccountPart, ChecklistProgressStore, Fold, GROUPED_INTO, INDEXED, TYPES,
};
use crate::store::postgres::PgStore;
use crate::store::{DbError, StoredActivity};

#[async_trait]
impl ChecklistProgressStore for PgStore {
    async fn indexed_rules(&self, project_key: String) -> Result<BTreeSet<String>, DbError> {
        let client = self.client().await?;
        let q = client.prepare_cached(&postgres(INDEXED)).await?;
        Ok(client.query(&q, &[&project_key]).await?.iter().map(|r| r.get(0)).collect())
    }

    async fn backfill_checklist_rules(
        &self,
        project_key: String,
        wanted: BTreeSet<String>,
        now: i64,
    ) -> Result<(), DbError> {
        use futures_util::TryStreamExt;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Ingest waits while this runs, and this waits for the ingest in flight (see the module
        // docs); so does another collector's backfill, which then finds the rules indexed.
        tx.batch_execute("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE").await?;
        let indexed: BTreeSet<String> =
            tx.query(&postgres(INDEXED), &[&project_key]).await?.iter().map(|r| r.get(0)).collect();
        let missing: Vec<String> = wanted.difference(&indexed).cloned().collect();
        if missing.is_empty() {
            return Ok(());
        }
        let (rules, parts) = backfill_plan(&indexed, missing.clone());
        let mut fold = Fold::default();
        let sql = format!(
            "SELECT seq, received_at, body FROM events
             WHERE project_key = $1 AND rejected IS NULL AND type IN ({TYPES})"
        );
        let mut rows = std::pin::pin!(tx.query_raw(&sql, [&project_key]).await?);
        while let Some(r) = rows.try_next().await? {
            let body: String = r.get(2);
            if let Ok(e) = serde_json::from_str::<Event>(&body) {
                fold.add(&rules, parts, &e, (r.get(1), r.get(0)));
            }
        }
        write_postgres(&tx, &project_key, fold).await?;
        tx.execute(
            "INSERT INTO checklist_rules (project_key, rule, indexed_at)
             SELECT $1, UNNEST($2::text[]), $3 ON CONFLICT DO NOTHING",
            &[&project_key, &missing, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pointed_activity(
        &self,
        project_key: String,
        pointers: &'static str,
        who: String,
    ) -> Result<(usize, Vec<StoredActivity>), DbError> {
        let client = self.client().await?;
        let q = client.prepare_cached(&postgres(pointers)).await?;
        let ids: Vec<String> = client.query(&q, &[&project_key, &who]).await?.iter().map(|r| r.get(0)).collect();
        let q = client
            .prepare_cached(
                "SELECT anonymous_id, user_id, ts, received_at, body FROM events
                 WHERE project_key = $1 AND id = ANY($2) AND rejected IS NULL ORDER BY received_at, seq",
            )
            .await?;
        let rows = client.query(&q, &[&project_key, &ids]).await?;
        let rows = rows
            .iter()
            .map(|r| StoredActivity {
                anonymous_id: r.get(0),
                user_id: r.get(1),
                ts: r.get(2),
                received_at: r.get(3),
                body: Some(r.get(4)),
            })
            .collect();
        Ok((ids.len(), rows))
    }

    async fn grouped_into(&self, project_key: String, account: String) -> Result<Vec<String>, DbError> {
        let client = self.client().await?;
        let q = client.prepare_cached(&postgres(GROUPED_INTO)).await?;
        Ok(client.query(&q, &[&project_key, &account]).await?.iter().map(|r| r.get(0)).collect())
    }

    async fn account_part(&self, project_key: String, user: String) -> Result<AccountPart, DbError> {
        let [marks, counts, moments] = super::account_part_queries();
        let client = self.client().await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&project_key, &user];
        let q = client.prepare_cached(&postgres(&marks)).await?;
        let marks = client.query(&q, &params).await?.iter().map(|r| (r.get(0), r.get(1))).collect();
        let q = client.prepare_cached(&postgres(&counts)).await?;
        let counts = client.query(&q, &params).await?.iter().map(|r| (r.get(0), r.get(1))).collect();
        let q = client.prepare_cached(&postgres(&moments)).await?;
        let moments = client
            .query(&q, &params)
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        Ok(AccountPart::of(marks, counts, moments))
    }
}
