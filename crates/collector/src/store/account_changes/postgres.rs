//! The accounts worker's change log on Postgres: claims with `SKIP LOCKED`, removals in the order ingest marks them.

use async_trait::async_trait;

use crate::store::postgres::PgStore;

use super::*;

/// The rows of an account's members, of every browser they were seen on,
/// and `track` events naming the account (see the SQLite twin). The ids are
/// gathered first, as an array, and then read by the primary key
/// `(project_key, id)`: written as `(project_key, id) IN (… UNION …)` the
/// planner expected half the project and hash-joined a scan of every event
/// (1.6 s a pass at a million events; 5 ms this way). The `LIKE` is the
/// predicate of `events_by_named_account` (migration 0012), which must be
/// in the query for the planner to take that partial index.
const ACCOUNT_ROWS_POSTGRES: &str = "project_key = $1 AND id = ANY(ARRAY(
    WITH members AS (SELECT DISTINCT user_id FROM events
        WHERE project_key = $1 AND type = 'group' AND ((body::jsonb) ->> 'account_id') = ANY($2))
    SELECT id FROM events WHERE project_key = $1 AND user_id = ANY(ARRAY(SELECT user_id FROM members))
    UNION
    SELECT id FROM events WHERE project_key = $1 AND anonymous_id = ANY(ARRAY(
        SELECT DISTINCT anonymous_id FROM events
        WHERE project_key = $1 AND user_id = ANY(ARRAY(SELECT user_id FROM members))))
    UNION
    SELECT id FROM events WHERE project_key = $1 AND type = 'track' AND body LIKE '%\"account_id\"%'
        AND ((body::jsonb) -> 'props' ->> 'account_id') = ANY($2)))";

/// Which accounts these users (`$2`) and browsers (`$3`, through their
/// owner) were grouped into, from the users' `group` events alone.
const ACCOUNTS_OF_POSTGRES: &str = "SELECT DISTINCT (body::jsonb) ->> 'account_id' FROM events
     WHERE project_key = $1 AND type = 'group' AND rejected IS NULL
       AND user_id = ANY(ARRAY(SELECT unnest($2::text[])
                               UNION SELECT user_id FROM browser_owners
                                     WHERE project_key = $1 AND anonymous_id = ANY($3)))";

#[async_trait]
impl AccountChangeStore for PgStore {
    async fn claim_account_changes(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<AccountChange>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE accounts_dirty SET lease_until = $1
                     WHERE (project_key, kind, subject) IN
                           (SELECT project_key, kind, subject FROM accounts_dirty
                            WHERE lease_until IS NULL OR lease_until <= $2 LIMIT $3
                            FOR UPDATE SKIP LOCKED)
                     RETURNING project_key, kind, subject, version",
                &[&(now + lease_ms), &now, &i64::from(limit)],
            )
            .await?;
        Ok(rows.iter().filter_map(|r| change(r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }

    /// In three statements whatever their number: the rows are locked in
    /// key order first (as ingest marks them: never a deadlock with an
    /// ingest in flight), then those still at their claimed version go and
    /// the others' leases are dropped.
    async fn finish_account_changes(&self, changes: Vec<AccountChange>) -> Result<(), DbError> {
        let mut changes = changes;
        // By the kind's name, as ingest's `BTreeSet<(&str, String)>` orders them (not by the enum's order).
        changes.sort_by(|a, b| {
            (&a.project_key, a.kind.as_str(), &a.subject).cmp(&(&b.project_key, b.kind.as_str(), &b.subject))
        });
        let keys: Vec<&str> = changes.iter().map(|c| c.project_key.as_str()).collect();
        let kinds: Vec<&str> = changes.iter().map(|c| c.kind.as_str()).collect();
        let subjects: Vec<&str> = changes.iter().map(|c| c.subject.as_str()).collect();
        let versions: Vec<i64> = changes.iter().map(|c| c.version).collect();
        const DONE: &str = "UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY
                            AS d(project_key, kind, subject, version, i)";
        const SAME: &str = "a.project_key = d.project_key AND a.kind = d.kind AND a.subject = d.subject";
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The array's order is the sort above: `ORDER BY d.i` locks in it (not in the column's collation).
        let lock = format!("SELECT 1 FROM {DONE} JOIN accounts_dirty a ON {SAME} ORDER BY d.i FOR UPDATE OF a");
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&keys, &kinds, &subjects, &versions];
        tx.execute(&lock, &params).await?;
        let delete = format!("DELETE FROM accounts_dirty a USING {DONE} WHERE {SAME} AND a.version = d.version");
        tx.execute(&delete, &params).await?;
        // What is left was marked again since the claim: the next pass takes it.
        let release = format!("UPDATE accounts_dirty a SET lease_until = NULL FROM {DONE} WHERE {SAME}");
        tx.execute(&release, &params).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn accounts_of(
        &self,
        project_key: String,
        users: Vec<String>,
        browsers: Vec<String>,
    ) -> Result<Vec<String>, DbError> {
        let client = self.client().await?;
        let rows = client.query(ACCOUNTS_OF_POSTGRES, &[&project_key, &users, &browsers]).await?;
        Ok(rows.iter().filter_map(|r| r.get::<_, Option<String>>(0)).collect())
    }

    async fn project_accounts(&self, project_key: String) -> Result<Vec<String>, DbError> {
        let client = self.client().await?;
        // The expression and `type = 'group'` as `events_by_group_account` has them, so it is used.
        let rows = client
            .query(
                "SELECT DISTINCT (body::jsonb) ->> 'account_id' FROM events
                     WHERE project_key = $1 AND type = 'group' AND rejected IS NULL",
                &[&project_key],
            )
            .await?;
        Ok(rows.iter().filter_map(|r| r.get::<_, Option<String>>(0)).collect())
    }

    async fn accounts_activity(
        &self,
        project_key: String,
        accounts: Vec<String>,
    ) -> Result<Vec<StoredActivity>, DbError> {
        crate::store::events::postgres::activity(self, ACCOUNT_ROWS_POSTGRES, &[&project_key, &accounts]).await
    }

    async fn mark_assessed(&self, project_key: String, accounts: Vec<String>, now: i64) -> Result<(), DbError> {
        const SQL: &str = "INSERT INTO account_state (project_key, account_id, assessed_at) VALUES ({1}, {2}, {3})
                           ON CONFLICT (project_key, account_id) DO UPDATE SET assessed_at = excluded.assessed_at";
        let client = self.client().await?;
        let sql = SQL.replace("{1}", "$1").replace("{2}", "$2").replace("{3}", "$3");
        for a in &accounts {
            client.execute(&sql, &[&project_key, a, &now]).await?;
        }
        Ok(())
    }

    async fn claim_stale_accounts(
        &self,
        project_key: String,
        before: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<String>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE account_state SET assessed_at = $3
                     WHERE project_key = $1 AND account_id IN
                       (SELECT account_id FROM account_state WHERE project_key = $1 AND assessed_at < $2
                        ORDER BY assessed_at LIMIT $4 FOR UPDATE SKIP LOCKED)
                     RETURNING account_id",
                &[&project_key, &before, &now, &i64::from(limit)],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn accounts_seeded(&self, project_key: String) -> Result<bool, DbError> {
        let client = self.client().await?;
        let row =
            client.query_one("SELECT COUNT(*) FROM accounts_seeded WHERE project_key = $1", &[&project_key]).await?;
        Ok(row.get::<_, i64>(0) > 0)
    }

    async fn set_accounts_seeded(&self, project_key: String, now: i64) -> Result<(), DbError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO accounts_seeded (project_key, seeded_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&project_key, &now],
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ACCOUNT_ROWS_POSTGRES;
    use crate::store::events::postgres::activity_sql;

    /// The accounts worker's read of an account's rows on Postgres reaches
    /// the named accounts through the partial indexes made for them, never
    /// by a walk of the table or of the project (at a million events that
    /// walk was most of a pass). The planner keeps no index whose predicate
    /// the query does not imply: dropping the `LIKE` from the query, or
    /// changing the index, fails this. Runs when `DATABASE_URL` is Postgres.
    #[tokio::test]
    async fn account_rows_are_read_through_the_account_indexes() {
        let Some(base) = std::env::var("DATABASE_URL").ok().filter(|u| crate::store::is_postgres_url(u)) else {
            return;
        };
        let schema = format!("plan_account_rows_{}", std::process::id());
        let admin = crate::store::pg_tls::connect(&base).await.unwrap();
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await.unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path(), Some(&url)).await.unwrap();

        let client = crate::store::pg_tls::connect(&url).await.unwrap();
        // Postgres plans by statistics: a project of 20 000 events from
        // 2 000 people (half of them signed in), 200 of them in accounts by
        // `group`, 200 `track`s naming an account.
        client
            .batch_execute(
                "INSERT INTO events (id, project_key, type, ts, received_at, anonymous_id, user_id, url, body)
                 SELECT 'e' || g, 'pk_a', 'track', g, g, 'anon-' || (g % 2000),
                        CASE WHEN g % 2 = 0 THEN 'user-' || (g % 2000) END, 'u',
                        CASE WHEN g % 100 = 1 THEN '{\"props\":{\"account_id\":\"acct-' || (g % 50) || '\"}}'
                             ELSE '{\"props\":{}}' END
                 FROM generate_series(1, 20000) g;
                 INSERT INTO events (id, project_key, type, ts, received_at, anonymous_id, user_id, url, body)
                 SELECT 'g' || g, 'pk_a', 'group', g, g, 'anon-' || (g * 10), 'user-' || (g * 10), 'u',
                        '{\"account_id\":\"acct-' || (g % 50) || '\"}'
                 FROM generate_series(1, 200) g;
                 ANALYZE events",
            )
            .await
            .unwrap();
        let explain = format!("EXPLAIN {}", activity_sql(ACCOUNT_ROWS_POSTGRES));
        let accounts = vec!["acct-7".to_string()];
        let plan: Vec<String> =
            client.query(&explain, &[&"pk_a", &accounts]).await.unwrap().iter().map(|r| r.get(0)).collect();
        let plan = plan.join("\n");
        for index in ["events_by_named_account", "events_by_group_account"] {
            assert!(plan.contains(index), "the plan does not use {index}:\n{plan}");
        }
        for walk in ["Seq Scan on events", "using events_by_project "] {
            assert!(!plan.contains(walk), "the plan walks the events ({walk}):\n{plan}");
        }

        store.close().await;
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
    }
}
