//! Content on Postgres: a publish that lost the race to another collector is told so (a unique violation on the version).

use async_trait::async_trait;
use tokio_postgres::error::SqlState;

use crate::store::postgres::PgStore;

use super::*;

#[async_trait]
impl ContentStore for PgStore {
    async fn content_version(
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
        let client = self.client().await?;
        let row = client.query_opt(&pg(&sql), &[&project_key, &kind, &item_id, &version]).await?;
        row.as_ref().map(version_pg).transpose()
    }

    async fn content_versions_where(
        &self,
        sql: String,
        project_key: String,
        kind: &'static str,
        item_id: Option<String>,
    ) -> Result<Vec<ContentVersion>, DbError> {
        let client = self.client().await?;
        let sql = pg(&sql);
        let rows = match &item_id {
            Some(id) => client.query(&sql, &[&project_key, &kind, id]).await?,
            None => client.query(&sql, &[&project_key, &kind]).await?,
        };
        rows.iter().map(version_pg).collect()
    }

    async fn content_draft_ids(&self, project_key: String, kind: &'static str) -> Result<Vec<String>, DbError> {
        const SQL: &str = "SELECT item_id FROM content_drafts WHERE project_key = ?1 AND kind = ?2 ORDER BY item_id";
        let client = self.client().await?;
        let rows = client.query(&pg(SQL), &[&project_key, &kind]).await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    async fn content_draft(
        &self,
        project_key: String,
        kind: &'static str,
        item_id: String,
    ) -> Result<Option<ContentDraft>, DbError> {
        const SQL: &str = "SELECT body, base_version, saved_by, saved_at FROM content_drafts
                           WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3";
        let client = self.client().await?;
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

    async fn save_content_draft(
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
        let client = self.client().await?;
        client
            .execute(
                &pg(SQL),
                &[&project_key, &kind, &item_id, &draft.body, &draft.base_version, &draft.saved_by, &draft.saved_at],
            )
            .await?;
        Ok(())
    }

    async fn publish_content(&self, project_key: String, versions: Vec<NewVersion>) -> Result<Publish, DbError> {
        const LIVE: &str =
            "SELECT COALESCE(MAX(version), 0) FROM content_versions WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3";
        const INSERT: &str = "INSERT INTO content_versions
            (project_key, kind, item_id, version, body, published_by, published_at, origin, diff, note)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
        const CLEAR: &str = "DELETE FROM content_drafts WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3";
        let mut client = self.client().await?;
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
