//! Content per project: immutable published versions and one draft per
//! item (`content_versions`, `content_drafts`; see [`crate::content`]).
//!
//! A publish names the version it follows (`after`): it inserts `after + 1`
//! only if that is still the item's next number, in one transaction with
//! any other items of the same push. Two editors (or two collectors) that
//! publish from the same version therefore cannot both win: the second gets
//! [`Publish::Stale`] and nothing of its batch is written.

use rusqlite::{params, OptionalExtension};
use tokio_postgres::error::SqlState;

use super::{DbError, Store};

/// One published version of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentVersion {
    pub item_id: String,
    pub version: i64,
    pub body: String,
    pub published_by: String,
    pub published_at: i64,
    pub origin: String,
    /// JSON: the changes against the previous version.
    pub diff: String,
    pub note: Option<String>,
}

/// The draft of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentDraft {
    pub body: String,
    pub base_version: Option<i64>,
    pub saved_by: String,
    pub saved_at: i64,
}

/// A version to publish.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub kind: &'static str,
    pub item_id: String,
    /// The live version this one follows (0: the item is new).
    pub after: i64,
    pub body: String,
    pub published_by: String,
    pub published_at: i64,
    pub origin: &'static str,
    pub diff: String,
    pub note: Option<String>,
    /// Remove the item's draft in the same transaction (it is what is published).
    pub clear_draft: bool,
}

/// What became of a publish.
#[derive(Debug, Clone, PartialEq)]
pub enum Publish {
    Done,
    /// Someone published `item_id` after the version this one follows.
    Stale {
        item_id: String,
        live: i64,
    },
}

const VERSION_COLUMNS: &str = "item_id, version, body, published_by, published_at, origin, diff, note";

fn version_lite(r: &rusqlite::Row) -> rusqlite::Result<ContentVersion> {
    Ok(ContentVersion {
        item_id: r.get(0)?,
        version: r.get(1)?,
        body: r.get(2)?,
        published_by: r.get(3)?,
        published_at: r.get(4)?,
        origin: r.get(5)?,
        diff: r.get(6)?,
        note: r.get(7)?,
    })
}

fn version_pg(r: &tokio_postgres::Row) -> Result<ContentVersion, DbError> {
    Ok(ContentVersion {
        item_id: r.try_get(0)?,
        version: r.try_get(1)?,
        body: r.try_get(2)?,
        published_by: r.try_get(3)?,
        published_at: r.try_get(4)?,
        origin: r.try_get(5)?,
        diff: r.try_get(6)?,
        note: r.try_get(7)?,
    })
}

/// `?N` for SQLite, `$N` for Postgres, in the same SQL text.
fn pg(sql: &str) -> String {
    sql.replace('?', "$")
}

impl Store {
    /// The live (highest) version of every item of `kind`, by id.
    pub async fn content_live_all(
        &self,
        project_key: String,
        kind: &'static str,
    ) -> Result<Vec<ContentVersion>, DbError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM content_versions v WHERE project_key = ?1 AND kind = ?2
             AND version = (SELECT MAX(version) FROM content_versions w
                            WHERE w.project_key = v.project_key AND w.kind = v.kind AND w.item_id = v.item_id)
             ORDER BY item_id"
        );
        self.content_versions_where(sql, project_key, kind, None).await
    }

    /// The live version of one item, `None` if it was never published.
    pub async fn content_live(
        &self,
        project_key: String,
        kind: &'static str,
        item_id: String,
    ) -> Result<Option<ContentVersion>, DbError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM content_versions WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3
             ORDER BY version DESC LIMIT 1"
        );
        Ok(self.content_versions_where(sql, project_key, kind, Some(item_id)).await?.pop())
    }

    /// Every version of one item, newest first.
    pub async fn content_history(
        &self,
        project_key: String,
        kind: &'static str,
        item_id: String,
    ) -> Result<Vec<ContentVersion>, DbError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM content_versions WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3
             ORDER BY version DESC"
        );
        self.content_versions_where(sql, project_key, kind, Some(item_id)).await
    }

    /// One version of one item.
    pub async fn content_version(
        &self,
        project_key: String,
        kind: &'static str,
        item_id: String,
        version: i64,
    ) -> Result<Option<ContentVersion>, DbError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM content_versions
             WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3 AND version = ?4"
        );
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    conn.query_row(&sql, params![project_key, kind, item_id, version], version_lite).optional()
                })
                .await
            }
            Store::Postgres(p) => {
                let client = p.client().await?;
                let row = client.query_opt(&pg(&sql), &[&project_key, &kind, &item_id, &version]).await?;
                row.as_ref().map(version_pg).transpose()
            }
        }
    }

    async fn content_versions_where(
        &self,
        sql: String,
        project_key: String,
        kind: &'static str,
        item_id: Option<String>,
    ) -> Result<Vec<ContentVersion>, DbError> {
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    let mut stmt = conn.prepare(&sql)?;
                    let rows = match &item_id {
                        Some(id) => stmt.query_map(params![project_key, kind, id], version_lite)?,
                        None => stmt.query_map(params![project_key, kind], version_lite)?,
                    };
                    rows.collect()
                })
                .await
            }
            Store::Postgres(p) => {
                let client = p.client().await?;
                let sql = pg(&sql);
                let rows = match &item_id {
                    Some(id) => client.query(&sql, &[&project_key, &kind, id]).await?,
                    None => client.query(&sql, &[&project_key, &kind]).await?,
                };
                rows.iter().map(version_pg).collect()
            }
        }
    }

    /// Ids of the items of `kind` that have a draft.
    pub async fn content_draft_ids(&self, project_key: String, kind: &'static str) -> Result<Vec<String>, DbError> {
        const SQL: &str = "SELECT item_id FROM content_drafts WHERE project_key = ?1 AND kind = ?2 ORDER BY item_id";
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    let mut stmt = conn.prepare(SQL)?;
                    let rows = stmt.query_map(params![project_key, kind], |r| r.get(0))?;
                    rows.collect()
                })
                .await
            }
            Store::Postgres(p) => {
                let client = p.client().await?;
                let rows = client.query(&pg(SQL), &[&project_key, &kind]).await?;
                rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
            }
        }
    }

    pub async fn content_draft(
        &self,
        project_key: String,
        kind: &'static str,
        item_id: String,
    ) -> Result<Option<ContentDraft>, DbError> {
        const SQL: &str = "SELECT body, base_version, saved_by, saved_at FROM content_drafts
                           WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3";
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    conn.query_row(SQL, params![project_key, kind, item_id], |r| {
                        Ok(ContentDraft {
                            body: r.get(0)?,
                            base_version: r.get(1)?,
                            saved_by: r.get(2)?,
                            saved_at: r.get(3)?,
                        })
                    })
                    .optional()
                })
                .await
            }
            Store::Postgres(p) => {
                let client = p.client().await?;
                let row = client.query_opt(&pg(SQL), &[&project_key, &kind, &item_id]).await?;
                row.map(|r| {
                    Ok(ContentDraft {
                        body: r.try_get(0)?,
                        base_version: r.try_get(1)?,
                        saved_by: r.try_get(2)?,
                        saved_at: r.try_get(3)?,
                    })
                })
                .transpose()
            }
        }
    }

    /// Saves (or replaces) the draft of an item.
    pub async fn save_content_draft(
        &self,
        project_key: String,
        kind: &'static str,
        item_id: String,
        draft: ContentDraft,
    ) -> Result<(), DbError> {
        const SQL: &str =
            "INSERT INTO content_drafts (project_key, kind, item_id, body, base_version, saved_by, saved_at)
                           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                           ON CONFLICT (project_key, kind, item_id) DO UPDATE SET body = excluded.body,
                             base_version = excluded.base_version, saved_by = excluded.saved_by,
                             saved_at = excluded.saved_at";
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
                    tx.execute(
                        SQL,
                        params![
                            project_key,
                            kind,
                            item_id,
                            draft.body,
                            draft.base_version,
                            draft.saved_by,
                            draft.saved_at
                        ],
                    )
                    .map(drop)
                })
                .await
            }
            Store::Postgres(p) => {
                let client = p.client().await?;
                client
                    .execute(
                        &pg(SQL),
                        &[
                            &project_key,
                            &kind,
                            &item_id,
                            &draft.body,
                            &draft.base_version,
                            &draft.saved_by,
                            &draft.saved_at,
                        ],
                    )
                    .await?;
                Ok(())
            }
        }
    }

    /// Publishes every version in one transaction, or none of them if any
    /// item moved on since the version it follows.
    pub async fn publish_content(&self, project_key: String, versions: Vec<NewVersion>) -> Result<Publish, DbError> {
        const LIVE: &str =
            "SELECT COALESCE(MAX(version), 0) FROM content_versions WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3";
        const INSERT: &str = "INSERT INTO content_versions
            (project_key, kind, item_id, version, body, published_by, published_at, origin, diff, note)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
        const CLEAR: &str = "DELETE FROM content_drafts WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3";
        match self {
            Store::Sqlite(db) => {
                // The single writer serialises publishes, so the check and the insert cannot interleave.
                db.write(move |tx| {
                    for v in &versions {
                        let live: i64 = tx.query_row(LIVE, params![project_key, v.kind, v.item_id], |r| r.get(0))?;
                        if live != v.after {
                            return Ok(Publish::Stale { item_id: v.item_id.clone(), live });
                        }
                    }
                    for v in &versions {
                        tx.execute(
                            INSERT,
                            params![
                                project_key,
                                v.kind,
                                v.item_id,
                                v.after + 1,
                                v.body,
                                v.published_by,
                                v.published_at,
                                v.origin,
                                v.diff,
                                v.note
                            ],
                        )?;
                        if v.clear_draft {
                            tx.execute(CLEAR, params![project_key, v.kind, v.item_id])?;
                        }
                    }
                    Ok(Publish::Done)
                })
                .await
            }
            Store::Postgres(p) => {
                let mut client = p.client().await?;
                let tx = client.transaction().await?;
                for v in &versions {
                    let live: i64 = tx.query_one(&pg(LIVE), &[&project_key, &v.kind, &v.item_id]).await?.try_get(0)?;
                    if live != v.after {
                        return Ok(Publish::Stale { item_id: v.item_id.clone(), live });
                    }
                }
                for v in &versions {
                    let next = v.after + 1;
                    // Another collector may insert the same number between our read and this
                    // insert; the primary key refuses the second, which is then stale.
                    let inserted = tx
                        .execute(
                            &pg(INSERT),
                            &[
                                &project_key,
                                &v.kind,
                                &v.item_id,
                                &next,
                                &v.body,
                                &v.published_by,
                                &v.published_at,
                                &v.origin,
                                &v.diff,
                                &v.note,
                            ],
                        )
                        .await;
                    match inserted {
                        Ok(_) => {}
                        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                            return Ok(Publish::Stale { item_id: v.item_id.clone(), live: next });
                        }
                        Err(e) => return Err(e.into()),
                    }
                    if v.clear_draft {
                        tx.execute(&pg(CLEAR), &[&project_key, &v.kind, &v.item_id]).await?;
                    }
                }
                tx.commit().await?;
                Ok(Publish::Done)
            }
        }
    }
}
