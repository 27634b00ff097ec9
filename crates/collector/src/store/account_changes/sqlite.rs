//! The accounts worker's change log on SQLite.

use async_trait::async_trait;

use crate::store::sqlite::Db;

use super::*;

/// The rows of an account's members (every user with a `group` naming it;
/// whose latest `group` it is, is for the caller), of every browser they
/// were seen on, and `track` events naming the account: `?1` is the
/// project key, `?2` the account ids (a JSON array). A union of indexed lookups, so the
/// cost follows the accounts' size, not the project's history.
///
/// SQLite plans without statistics, and left to itself it read the named
/// account through `events_by_project_arrival`: every event of the project,
/// 0.9 s a pass at a million events. So the account lookups name their index
/// (`INDEXED BY` fails the query rather than scan if it cannot be used), and
/// `+project_key` keeps the member lookups on the user and browser indexes.
/// `UNION ALL`, as `IN` needs no distinct list (with `UNION` SQLite 3.54
/// merged the branches in rowid order). `tests::the_account_rows_are_read_by_index`
/// holds the plan to all this.
const ACCOUNT_ROWS_SQLITE: &str = "rowid IN (
    SELECT rowid FROM events WHERE +project_key = ?1 AND user_id IN (SELECT user_id FROM events INDEXED BY events_by_group_account
        WHERE project_key = ?1 AND type = 'group' AND json_extract(body, '$.account_id') IN (SELECT value FROM json_each(?2)))
    UNION ALL
    SELECT rowid FROM events WHERE +project_key = ?1 AND anonymous_id IN (SELECT anonymous_id FROM events
        WHERE +project_key = ?1 AND user_id IN (SELECT user_id FROM events INDEXED BY events_by_group_account
            WHERE project_key = ?1 AND type = 'group' AND json_extract(body, '$.account_id') IN (SELECT value FROM json_each(?2))))
    UNION ALL
    SELECT rowid FROM events INDEXED BY events_by_named_account WHERE project_key = ?1 AND type = 'track'
        AND json_extract(body, '$.props.account_id') IN (SELECT value FROM json_each(?2)))";

/// Which accounts these users (`?2`) and browsers (`?3`, through their
/// owner, whose events their anonymous ones count as) were grouped into:
/// from the users' `group` events alone. The browsers are looked up by the
/// owners' primary key, which SQLite would pass over for `browser_owners_by_user`
/// and the project's every browser.
const ACCOUNTS_OF_SQLITE: &str =
    "SELECT DISTINCT json_extract(body, '$.account_id') FROM events INDEXED BY events_groups_by_user
     WHERE project_key = ?1 AND type = 'group' AND rejected IS NULL
       AND user_id IN (SELECT value FROM json_each(?2)
                       UNION SELECT user_id FROM browser_owners INDEXED BY sqlite_autoindex_browser_owners_1
                             WHERE project_key = ?1 AND anonymous_id IN (SELECT value FROM json_each(?3)))";

#[async_trait]
impl AccountChangeStore for Db {
    async fn claim_account_changes(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<AccountChange>, DbError> {
        self.write(move |tx| {
            let mut q = tx.prepare_cached(
                "UPDATE accounts_dirty SET lease_until = ?1
                     WHERE rowid IN (SELECT rowid FROM accounts_dirty
                                     WHERE lease_until IS NULL OR lease_until <= ?2 LIMIT ?3)
                     RETURNING project_key, kind, subject, version",
            )?;
            let rows = q.query_map(rusqlite::params![now + lease_ms, now, limit], |r| {
                Ok(change(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.into_iter().flatten().collect())
        })
        .await
    }

    async fn finish_account_changes(&self, changes: Vec<AccountChange>) -> Result<(), DbError> {
        const DELETE: &str =
            "DELETE FROM accounts_dirty WHERE project_key = {1} AND kind = {2} AND subject = {3} AND version = {4}";
        const RELEASE: &str =
            "UPDATE accounts_dirty SET lease_until = NULL WHERE project_key = {1} AND kind = {2} AND subject = {3}";
        let sqlite = |s: &str| s.replace("{1}", "?1").replace("{2}", "?2").replace("{3}", "?3").replace("{4}", "?4");
        let (delete, release) = (sqlite(DELETE), sqlite(RELEASE));
        self.write(move |tx| {
            for c in &changes {
                let gone =
                    tx.execute(&delete, rusqlite::params![c.project_key, c.kind.as_str(), c.subject, c.version])?;
                if gone == 0 {
                    tx.execute(&release, rusqlite::params![c.project_key, c.kind.as_str(), c.subject])?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn accounts_of(
        &self,
        project_key: String,
        users: Vec<String>,
        browsers: Vec<String>,
    ) -> Result<Vec<String>, DbError> {
        self.read(move |conn| {
            let users = serde_json::to_string(&users).unwrap_or_default();
            let browsers = serde_json::to_string(&browsers).unwrap_or_default();
            let mut q = conn.prepare_cached(ACCOUNTS_OF_SQLITE)?;
            let rows = q.query_map(rusqlite::params![project_key, users, browsers], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<Option<String>>>>()?.into_iter().flatten().collect())
        })
        .await
    }

    async fn project_accounts(&self, project_key: String) -> Result<Vec<String>, DbError> {
        self.read(move |conn| {
            // The project's group events by their index (named: SQLite, without statistics, may
            // otherwise prefer walking the project by `events_by_project_arrival`).
            let mut q = conn.prepare_cached(
                "SELECT DISTINCT json_extract(body, '$.account_id') FROM events INDEXED BY events_by_group_account
                     WHERE project_key = ?1 AND type = 'group' AND rejected IS NULL",
            )?;
            let rows = q.query_map([project_key], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<Option<String>>>>()?.into_iter().flatten().collect())
        })
        .await
    }

    async fn accounts_activity(
        &self,
        project_key: String,
        accounts: Vec<String>,
    ) -> Result<Vec<StoredActivity>, DbError> {
        let accounts = serde_json::to_string(&accounts).unwrap_or_default();
        self.read(move |conn| {
            crate::store::events::sqlite::activity(conn, ACCOUNT_ROWS_SQLITE, rusqlite::params![project_key, accounts])
        })
        .await
    }

    async fn mark_assessed(&self, project_key: String, accounts: Vec<String>, now: i64) -> Result<(), DbError> {
        const SQL: &str = "INSERT INTO account_state (project_key, account_id, assessed_at) VALUES ({1}, {2}, {3})
                           ON CONFLICT (project_key, account_id) DO UPDATE SET assessed_at = excluded.assessed_at";
        self.write(move |tx| {
            let sql = SQL.replace("{1}", "?1").replace("{2}", "?2").replace("{3}", "?3");
            for a in &accounts {
                tx.execute(&sql, rusqlite::params![project_key, a, now])?;
            }
            Ok(())
        })
        .await
    }

    async fn claim_stale_accounts(
        &self,
        project_key: String,
        before: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<String>, DbError> {
        self.write(move |tx| {
            let mut q = tx.prepare_cached(
                "UPDATE account_state SET assessed_at = ?3
                     WHERE project_key = ?1 AND account_id IN
                       (SELECT account_id FROM account_state WHERE project_key = ?1 AND assessed_at < ?2
                        ORDER BY assessed_at LIMIT ?4)
                     RETURNING account_id",
            )?;
            let rows = q.query_map(rusqlite::params![project_key, before, now, limit], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn accounts_seeded(&self, project_key: String) -> Result<bool, DbError> {
        self.read(move |conn| {
            conn.query_row("SELECT COUNT(*) FROM accounts_seeded WHERE project_key = ?1", [project_key], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
        })
        .await
    }

    async fn set_accounts_seeded(&self, project_key: String, now: i64) -> Result<(), DbError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO accounts_seeded (project_key, seeded_at) VALUES (?1, ?2)",
                rusqlite::params![project_key, now],
            )
            .map(drop)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::tests::assert_read_by_index;

    /// The accounts worker's pass costs what it reads: these plans must not
    /// walk the project (see [`ACCOUNT_ROWS_SQLITE`]).
    #[test]
    fn the_account_rows_are_read_by_index() {
        assert_read_by_index(&crate::store::events::sqlite::activity_sql(ACCOUNT_ROWS_SQLITE), 2);
        assert_read_by_index(ACCOUNTS_OF_SQLITE, 3);
    }
}
