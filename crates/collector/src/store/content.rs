//! Content per project: immutable published versions and one draft per
//! item (`content_versions`, `content_drafts`; see [`crate::content`]).
//!
//! A publish names the version it follows (`after`): it inserts `after + 1`
//! only if that is still the item's next number, in one transaction with
//! any other items of the same push. Two editors (or two collectors) that
//! publish from the same version therefore cannot both win: the second gets
//! [`Publish::Stale`] and nothing of its batch is written.

mod postgres;
mod sqlite;

use async_trait::async_trait;

use super::DbError;

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

#[async_trait]
pub trait ContentStore: Send + Sync {
    /// The live (highest) version of every item of `kind`, by id.
    async fn content_live_all(&self, project_key: String, kind: &'static str) -> Result<Vec<ContentVersion>, DbError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM content_versions v WHERE project_key = ?1 AND kind = ?2
             AND version = (SELECT MAX(version) FROM content_versions w
                            WHERE w.project_key = v.project_key AND w.kind = v.kind AND w.item_id = v.item_id)
             ORDER BY item_id"
        );
        self.content_versions_where(sql, project_key, kind, None).await
    }

    /// The live version of one item, `None` if it was never published.
    async fn content_live(
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
    async fn content_history(
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
    async fn content_version(
        &self,
        project_key: String,
        kind: &'static str,
        item_id: String,
        version: i64,
    ) -> Result<Option<ContentVersion>, DbError>;

    #[doc(hidden)]
    async fn content_versions_where(
        &self,
        sql: String,
        project_key: String,
        kind: &'static str,
        item_id: Option<String>,
    ) -> Result<Vec<ContentVersion>, DbError>;

    /// Ids of the items of `kind` that have a draft.
    async fn content_draft_ids(&self, project_key: String, kind: &'static str) -> Result<Vec<String>, DbError>;

    async fn content_draft(
        &self,
        project_key: String,
        kind: &'static str,
        item_id: String,
    ) -> Result<Option<ContentDraft>, DbError>;

    /// Saves (or replaces) the draft of an item.
    async fn save_content_draft(
        &self,
        project_key: String,
        kind: &'static str,
        item_id: String,
        draft: ContentDraft,
    ) -> Result<(), DbError>;

    /// Publishes every version in one transaction, or none of them if any
    /// item moved on since the version it follows.
    async fn publish_content(&self, project_key: String, versions: Vec<NewVersion>) -> Result<Publish, DbError>;
}
