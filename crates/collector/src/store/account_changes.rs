//! Storage for incremental account health: the change log ingest writes
//! (`accounts_dirty`), the accounts it leads to, one account's events, and
//! when each account was last assessed.
//!
//! **Why a change log and not a cursor over events.** A cursor ("events
//! after seq N") misses a transaction that took a lower seq but committed
//! after the cursor moved past it, which Postgres allows. A row written in
//! the event's own transaction cannot be missed: the worker sees it once
//! it is committed, whenever that is. Rows are claimed with a lease (`FOR
//! UPDATE SKIP LOCKED` on Postgres), so two collectors never work on the
//! same change, and removed only if no new event marked them meanwhile
//! (`version`).

use touchpoint_protocol::{Event, EventKind};

use super::{DbError, Store, StoredActivity};

/// One person or account whose accounts may need reassessing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChange {
    pub project_key: String,
    pub kind: ChangeKind,
    pub subject: String,
    /// As claimed: the row is removed after processing only if it is still this.
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// An identified user's event: their accounts (a `group` may have moved them from one to another).
    User,
    /// An event before `identify`: the accounts of the users seen on that browser.
    Browser,
    /// An account named by the event (`group`, or `track` with `props.account_id`).
    Account,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::User => "user",
            ChangeKind::Browser => "browser",
            ChangeKind::Account => "account",
        }
    }

    fn parse(s: &str) -> Option<ChangeKind> {
        match s {
            "user" => Some(ChangeKind::User),
            "browser" => Some(ChangeKind::Browser),
            "account" => Some(ChangeKind::Account),
            _ => None,
        }
    }
}

/// What a stored event marks for the accounts worker.
pub fn marks(e: &Event) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(2);
    match &e.user_id {
        Some(user) => out.push((ChangeKind::User.as_str(), user.clone())),
        None => out.push((ChangeKind::Browser.as_str(), e.anonymous_id.clone())),
    }
    match &e.kind {
        EventKind::Group { account_id, .. } => out.push((ChangeKind::Account.as_str(), account_id.clone())),
        EventKind::Track { props, .. } => {
            if let Some(account) = props.get("account_id").and_then(|v| v.as_str()) {
                out.push((ChangeKind::Account.as_str(), account.to_string()));
            }
        }
        _ => {}
    }
    out
}

fn change(project_key: String, kind: String, subject: String, version: i64) -> Option<AccountChange> {
    ChangeKind::parse(&kind).map(|kind| AccountChange { project_key, kind, subject, version })
}

/// The rows of an account's members (every user with a `group` naming it;
/// whose latest `group` it is, is for the caller), of every browser they
/// were seen on, and `track` events naming the account: `{1}` is the
/// project key, `{2}` the account ids. A union of indexed lookups, so the
/// cost follows the accounts' size, not the project's history.
///
/// On SQLite `+project_key` keeps the planner on the user and browser
/// indexes (a plain `project_key = ?` lets it scan the whole project).
const ACCOUNT_ROWS_SQLITE: &str = "rowid IN (
    SELECT rowid FROM events WHERE +project_key = ?1 AND user_id IN (SELECT user_id FROM events
        WHERE project_key = ?1 AND type = 'group' AND json_extract(body, '$.account_id') IN (SELECT value FROM json_each(?2)))
    UNION
    SELECT rowid FROM events WHERE +project_key = ?1 AND anonymous_id IN (SELECT anonymous_id FROM events
        WHERE +project_key = ?1 AND user_id IN (SELECT user_id FROM events
            WHERE project_key = ?1 AND type = 'group' AND json_extract(body, '$.account_id') IN (SELECT value FROM json_each(?2))))
    UNION
    SELECT rowid FROM events WHERE project_key = ?1 AND type = 'track'
        AND json_extract(body, '$.props.account_id') IN (SELECT value FROM json_each(?2)))";

/// By the primary key `(project_key, id)`: `seq` has no index of its own.
const ACCOUNT_ROWS_POSTGRES: &str = "(project_key, id) IN (
    WITH members AS (SELECT DISTINCT user_id FROM events
        WHERE project_key = $1 AND type = 'group' AND ((body::jsonb) ->> 'account_id') = ANY($2))
    SELECT project_key, id FROM events WHERE project_key = $1 AND user_id IN (SELECT user_id FROM members)
    UNION
    SELECT project_key, id FROM events WHERE project_key = $1 AND anonymous_id IN
        (SELECT anonymous_id FROM events WHERE project_key = $1 AND user_id IN (SELECT user_id FROM members))
    UNION
    SELECT project_key, id FROM events WHERE project_key = $1 AND type = 'track'
        AND ((body::jsonb) -> 'props' ->> 'account_id') = ANY($2))";

impl Store {
    /// Claims up to `limit` changes for `lease_ms`.
    pub async fn claim_account_changes(
        &self,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<AccountChange>, DbError> {
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
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
            Store::Postgres(pg) => {
                let client = pg.client().await?;
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
        }
    }

    /// Done with `changes`: each goes, unless a new event marked it since it
    /// was claimed (then its lease is dropped and the next pass takes it).
    pub async fn finish_account_changes(&self, changes: Vec<AccountChange>) -> Result<(), DbError> {
        const DELETE: &str =
            "DELETE FROM accounts_dirty WHERE project_key = {1} AND kind = {2} AND subject = {3} AND version = {4}";
        const RELEASE: &str =
            "UPDATE accounts_dirty SET lease_until = NULL WHERE project_key = {1} AND kind = {2} AND subject = {3}";
        let sqlite = |s: &str| s.replace("{1}", "?1").replace("{2}", "?2").replace("{3}", "?3").replace("{4}", "?4");
        let pg = |s: &str| s.replace("{1}", "$1").replace("{2}", "$2").replace("{3}", "$3").replace("{4}", "$4");
        match self {
            Store::Sqlite(db) => {
                let (delete, release) = (sqlite(DELETE), sqlite(RELEASE));
                db.write(move |tx| {
                    for c in &changes {
                        let gone = tx.execute(
                            &delete,
                            rusqlite::params![c.project_key, c.kind.as_str(), c.subject, c.version],
                        )?;
                        if gone == 0 {
                            tx.execute(&release, rusqlite::params![c.project_key, c.kind.as_str(), c.subject])?;
                        }
                    }
                    Ok(())
                })
                .await
            }
            Store::Postgres(store) => {
                // In key order, as ingest marks them: never a deadlock with an ingest in flight.
                let mut changes = changes;
                // By the kind's name, as ingest's `BTreeSet<(&str, String)>` orders them (not by the enum's order).
                changes.sort_by(|a, b| {
                    (&a.project_key, a.kind.as_str(), &a.subject).cmp(&(&b.project_key, b.kind.as_str(), &b.subject))
                });
                let mut client = store.client().await?;
                let tx = client.transaction().await?;
                for c in &changes {
                    let kind = c.kind.as_str();
                    let gone = tx.execute(&pg(DELETE), &[&c.project_key, &kind, &c.subject, &c.version]).await?;
                    if gone == 0 {
                        tx.execute(&pg(RELEASE), &[&c.project_key, &kind, &c.subject]).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }
    }

    /// Every account a `group` event of these users, or of a user seen on
    /// these browsers, named (their current and former accounts).
    pub async fn accounts_of(
        &self,
        project_key: String,
        users: Vec<String>,
        browsers: Vec<String>,
    ) -> Result<Vec<String>, DbError> {
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    let users = serde_json::to_string(&users).unwrap_or_default();
                    let browsers = serde_json::to_string(&browsers).unwrap_or_default();
                    let mut q = conn.prepare_cached(
                        "SELECT DISTINCT json_extract(body, '$.account_id') FROM events
                         WHERE +project_key = ?1 AND type = 'group' AND rejected IS NULL
                           AND (user_id IN (SELECT value FROM json_each(?2))
                                OR user_id IN (SELECT user_id FROM events WHERE +project_key = ?1 AND user_id IS NOT NULL
                                                 AND anonymous_id IN (SELECT value FROM json_each(?3))))",
                    )?;
                    let rows = q.query_map(rusqlite::params![project_key, users, browsers], |r| r.get(0))?;
                    Ok(rows.collect::<rusqlite::Result<Vec<Option<String>>>>()?.into_iter().flatten().collect())
                })
                .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let rows = client
                    .query(
                        "SELECT DISTINCT (body::jsonb) ->> 'account_id' FROM events
                         WHERE project_key = $1 AND type = 'group' AND rejected IS NULL
                           AND (user_id = ANY($2)
                                OR user_id IN (SELECT user_id FROM events WHERE project_key = $1 AND user_id IS NOT NULL
                                                 AND anonymous_id = ANY($3)))",
                        &[&project_key, &users, &browsers],
                    )
                    .await?;
                Ok(rows.iter().filter_map(|r| r.get::<_, Option<String>>(0)).collect())
            }
        }
    }

    /// The rows `accounts` are assessed from (their members', their
    /// members' browsers', the facts naming them), not rejected, in arrival order.
    pub async fn accounts_activity(
        &self,
        project_key: String,
        accounts: Vec<String>,
    ) -> Result<Vec<StoredActivity>, DbError> {
        match self {
            Store::Sqlite(db) => {
                let accounts = serde_json::to_string(&accounts).unwrap_or_default();
                db.read(move |conn| {
                    super::events::sqlite::activity(conn, ACCOUNT_ROWS_SQLITE, rusqlite::params![project_key, accounts])
                })
                .await
            }
            Store::Postgres(pg) => {
                super::events::postgres::activity(pg, ACCOUNT_ROWS_POSTGRES, &[&project_key, &accounts]).await
            }
        }
    }

    /// Records that `accounts` were assessed at `now`.
    pub async fn mark_assessed(&self, project_key: String, accounts: Vec<String>, now: i64) -> Result<(), DbError> {
        const SQL: &str = "INSERT INTO account_state (project_key, account_id, assessed_at) VALUES ({1}, {2}, {3})
                           ON CONFLICT (project_key, account_id) DO UPDATE SET assessed_at = excluded.assessed_at";
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
                    let sql = SQL.replace("{1}", "?1").replace("{2}", "?2").replace("{3}", "?3");
                    for a in &accounts {
                        tx.execute(&sql, rusqlite::params![project_key, a, now])?;
                    }
                    Ok(())
                })
                .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let sql = SQL.replace("{1}", "$1").replace("{2}", "$2").replace("{3}", "$3");
                for a in &accounts {
                    client.execute(&sql, &[&project_key, a, &now]).await?;
                }
                Ok(())
            }
        }
    }

    /// Takes up to `limit` of the project's accounts last assessed before
    /// `before`, stalest first, and records them as assessed at `now` (so
    /// another collector takes others).
    pub async fn claim_stale_accounts(
        &self,
        project_key: String,
        before: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<String>, DbError> {
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
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
            Store::Postgres(pg) => {
                let client = pg.client().await?;
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
        }
    }

    /// Whether the project's accounts were assessed in full once.
    pub async fn accounts_seeded(&self, project_key: String) -> Result<bool, DbError> {
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    conn.query_row("SELECT COUNT(*) FROM accounts_seeded WHERE project_key = ?1", [project_key], |r| {
                        r.get::<_, i64>(0)
                    })
                    .map(|n| n > 0)
                })
                .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let row = client
                    .query_one("SELECT COUNT(*) FROM accounts_seeded WHERE project_key = $1", &[&project_key])
                    .await?;
                Ok(row.get::<_, i64>(0) > 0)
            }
        }
    }

    pub async fn set_accounts_seeded(&self, project_key: String, now: i64) -> Result<(), DbError> {
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
                    tx.execute(
                        "INSERT OR IGNORE INTO accounts_seeded (project_key, seeded_at) VALUES (?1, ?2)",
                        rusqlite::params![project_key, now],
                    )
                    .map(drop)
                })
                .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                client
                    .execute(
                        "INSERT INTO accounts_seeded (project_key, seeded_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        &[&project_key, &now],
                    )
                    .await?;
                Ok(())
            }
        }
    }
}
