//! Content on SQLite: drafts and published versions.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use crate::store::sqlite::Db;

use super::*;

#[async_trait]
impl ContentStore for Db {
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
        self.read(move |conn| {
            conn.query_row(&sql, params![project_key, kind, item_id, version], version_lite).optional()
        })
        .await
    }

    async fn content_versions_where(
        &self,
        sql: String,
        project_key: String,
        kind: &'static str,
        item_id: Option<String>,
    ) -> Result<Vec<ContentVersion>, DbError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(&sql)?;
            let rows = match &item_id {
                Some(id) => stmt.query_map(params![project_key, kind, id], version_lite)?,
                None => stmt.query_map(params![project_key, kind], version_lite)?,
            };
            rows.collect()
        })
        .await
    }

    async fn content_draft_ids(&self, project_key: String, kind: &'static str) -> Result<Vec<String>, DbError> {
        const SQL: &str = "SELECT item_id FROM content_drafts WHERE project_key = ?1 AND kind = ?2 ORDER BY item_id";
        self.read(move |conn| {
            let mut stmt = conn.prepare(SQL)?;
            let rows = stmt.query_map(params![project_key, kind], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn content_draft(
        &self,
        project_key: String,
        kind: &'static str,
        item_id: String,
    ) -> Result<Option<ContentDraft>, DbError> {
        const SQL: &str = "SELECT body, base_version, saved_by, saved_at FROM content_drafts
                           WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3";
        self.read(move |conn| {
            conn.query_row(SQL, params![project_key, kind, item_id], |r| {
                Ok(ContentDraft { body: r.get(0)?, base_version: r.get(1)?, saved_by: r.get(2)?, saved_at: r.get(3)? })
            })
            .optional()
        })
        .await
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
        self.write(move |tx| {
            tx.execute(
                SQL,
                params![project_key, kind, item_id, draft.body, draft.base_version, draft.saved_by, draft.saved_at],
            )
            .map(drop)
        })
        .await
    }

    async fn publish_content(&self, project_key: String, versions: Vec<NewVersion>) -> Result<Publish, DbError> {
        const LIVE: &str =
            "SELECT COALESCE(MAX(version), 0) FROM content_versions WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3";
        const INSERT: &str = "INSERT INTO content_versions
            (project_key, kind, item_id, version, body, published_by, published_at, origin, diff, note)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
        const CLEAR: &str = "DELETE FROM content_drafts WHERE project_key = ?1 AND kind = ?2 AND item_id = ?3";
        // The single writer serialises publishes, so the check and the insert cannot interleave.
        self.write(move |tx| {
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
}

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
