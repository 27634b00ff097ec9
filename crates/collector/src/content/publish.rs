//! Saving drafts and publishing versions: every body validated first, each
//! version with its diff against the one it follows.

use serde_json::Value;

use super::diff::diff;
use super::{stored_text, Kind, Problem};
use crate::error::AppError;
use crate::store::content::{ContentDraft, NewVersion, Publish};
use crate::AppState;

/// Where a version came from, which decides whether a push may replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The admin API (the dashboard's editor).
    Editor,
    /// `touchpoint-collector push`, from files.
    Push,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Editor => "editor",
            Origin::Push => "push",
        }
    }
}

/// The survey ids project `key` serves, which targeting may name.
pub async fn survey_ids(state: &AppState, key: &str) -> Result<Vec<String>, AppError> {
    Ok(super::surveys::all(state, key).await?.into_iter().map(|(id, _)| id).collect())
}

/// Every problem of `body` as item `id`, or none.
pub async fn check(state: &AppState, key: &str, kind: Kind, id: &str, body: &Value) -> Result<(), AppError> {
    let surveys = if kind == Kind::Targeting { survey_ids(state, key).await? } else { Vec::new() };
    let problems = kind.validate(id, body, &surveys);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(problems))
    }
}

/// Saves a valid draft; an invalid one is refused (422) and the previous draft kept.
pub async fn save_draft(
    state: &AppState,
    key: &str,
    kind: Kind,
    id: &str,
    body: &Value,
    by: String,
) -> Result<(), AppError> {
    check(state, key, kind, id, body).await?;
    let live = state.db.content_live(key.to_string(), kind.as_str(), id.to_string()).await?;
    let draft = ContentDraft {
        body: stored_text(body),
        base_version: live.map(|l| l.version),
        saved_by: by,
        saved_at: crate::now_ms(),
    };
    state.db.save_content_draft(key.to_string(), kind.as_str(), id.to_string(), draft).await?;
    Ok(())
}

/// One version to publish, checked and with its diff: `after` is the live version it follows.
pub struct Prepared(pub NewVersion);

/// A body to publish as item `id` of `kind`, by `by`.
pub struct Edit<'a> {
    pub kind: Kind,
    pub id: &'a str,
    pub body: &'a Value,
    pub by: &'a str,
    /// Why, when it is not an edit (e.g. "rollback to version 1").
    pub note: Option<String>,
}

/// Validates the edit (targeting against `surveys`, the ids the project
/// serves) and writes down what it changes against `live`.
pub fn prepare(
    edit: Edit<'_>,
    live: Option<(i64, &str)>,
    origin: Origin,
    surveys: &[String],
) -> Result<Prepared, Vec<Problem>> {
    let problems = edit.kind.validate(edit.id, edit.body, surveys);
    if !problems.is_empty() {
        return Err(problems);
    }
    let before: Option<Value> = live.and_then(|(_, text)| serde_json::from_str(text).ok());
    let changes = diff(before.as_ref(), edit.body);
    Ok(Prepared(NewVersion {
        kind: edit.kind.as_str(),
        item_id: edit.id.to_string(),
        after: live.map_or(0, |(v, _)| v),
        body: stored_text(edit.body),
        published_by: edit.by.to_string(),
        published_at: crate::now_ms(),
        origin: origin.as_str(),
        diff: serde_json::to_string(&changes).unwrap_or_else(|_| "[]".into()),
        note: edit.note,
        clear_draft: origin == Origin::Editor,
    }))
}

/// Publishes one item's `body` after its live version (which must be
/// `expected` when given), checked as [`prepare`] does.
pub async fn publish_one(state: &AppState, key: &str, edit: Edit<'_>, expected: Option<i64>) -> Result<i64, AppError> {
    let (kind, id) = (edit.kind, edit.id);
    let surveys = if kind == Kind::Targeting { survey_ids(state, key).await? } else { Vec::new() };
    let live = state.db.content_live(key.to_string(), kind.as_str(), id.to_string()).await?;
    let now = live.as_ref().map_or(0, |l| l.version);
    if expected.is_some_and(|e| e != now) {
        return Err(AppError::Conflict(format!(
            "{id:?} is at version {now}, not the version {} this edit started from; reload it and edit again",
            expected.unwrap_or_default()
        )));
    }
    let live_ref = live.as_ref().map(|l| (l.version, l.body.as_str()));
    let prepared = prepare(edit, live_ref, Origin::Editor, &surveys).map_err(AppError::Invalid)?;
    let version = prepared.0.after + 1;
    commit(state, key, vec![prepared]).await?;
    Ok(version)
}

/// Writes the versions together, or answers 409 naming the item someone else published meanwhile.
pub async fn commit(state: &AppState, key: &str, versions: Vec<Prepared>) -> Result<(), AppError> {
    let versions = versions.into_iter().map(|p| p.0).collect();
    match state.db.publish_content(key.to_string(), versions).await? {
        Publish::Done => Ok(()),
        Publish::Stale { item_id, live } => Err(AppError::Conflict(format!(
            "{item_id:?} was published meanwhile (it is at version {live} now); reload it, then publish again"
        ))),
    }
}
