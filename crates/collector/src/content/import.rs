//! Import at startup (`--import-content`): the content files the collector
//! was started with (`--surveys-dir`, `--checklists`, `--help-dir`,
//! `--targeting`) published into every project, as `push` would publish
//! them, so "surveys as code" reaches the database on a deploy.
//!
//! A project without content gets every file as version 1. Later starts
//! publish only what changed in the files since; when that would overwrite
//! an edit made in the dashboard (a version published there, or a draft),
//! the whole import into that project is refused and a log line names each
//! conflict, exactly as `push` refuses — the collector still starts, serving
//! what is live.
//!
//! **Scale-out:** replicas starting together on one Postgres each try the
//! import; publishes are guarded by the version they follow, so one wins and
//! the others, on trying again, find every item unchanged.

use super::push::{self, PushItem, PushReport, PushRequest, Sources};
use super::Problem;
use crate::error::AppError;
use crate::AppState;

/// Who the version history says published an import.
pub const BY: &str = "import at startup";

/// What an import did in one project.
#[derive(Debug)]
pub enum Outcome {
    Imported(PushReport),
    /// Refused: the message names each dashboard edit the files would overwrite.
    Refused(String),
    /// A file's problems (the collector checks the files before it starts, so
    /// these are problems only against the project, e.g. targeting).
    Invalid(Vec<Problem>),
    Failed(String),
}

/// The files `state` was started with.
pub fn sources(state: &AppState) -> Sources {
    Sources {
        surveys: Some(state.config.surveys_dir.clone()),
        checklists: state.checklists.as_ref().map(|c| c.file.clone()),
        help: state.help.as_ref().map(|h| h.dir.clone()),
        targeting: state.targeting.as_ref().map(|t| t.file.clone()),
    }
}

/// Imports the files into every project, logging what happened in each.
pub async fn at_startup(state: &AppState) -> Vec<(String, Outcome)> {
    let items = match push::read(&sources(state), None) {
        Ok(items) => items,
        Err(problems) => {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            tracing::warn!("content import skipped: cannot read the content files:\n  {}", lines.join("\n  "));
            return Vec::new();
        }
    };
    let mut outcomes = Vec::new();
    for project in state.projects.all() {
        let key = project.project.public_key.clone();
        let outcome = into_project(state, &key, &items).await;
        match &outcome {
            Outcome::Imported(r) => tracing::info!(
                "content import into project {key}: {} published, {} unchanged",
                r.published.len(),
                r.unchanged.len()
            ),
            Outcome::Refused(why) => tracing::warn!("content import into project {key} refused: {why}"),
            Outcome::Invalid(problems) => {
                let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
                tracing::warn!(
                    "content import into project {key} refused, nothing was published:\n  {}",
                    lines.join("\n  ")
                );
            }
            Outcome::Failed(e) => tracing::error!("content import into project {key} failed: {e}"),
        }
        outcomes.push((key, outcome));
    }
    outcomes
}

async fn into_project(state: &AppState, key: &str, items: &[PushItem]) -> Outcome {
    let request = || PushRequest { items: items.to_vec(), overwrite: false };
    let mut result = push::push(state, key, request(), BY).await;
    // Another replica may have published the same files a moment ago: once
    // more, and they are unchanged (a dashboard edit is still refused).
    if matches!(result, Err(AppError::Conflict(_))) {
        result = push::push(state, key, request(), BY).await;
    }
    match result {
        Ok(report) => Outcome::Imported(report),
        Err(AppError::Conflict(why)) => Outcome::Refused(why),
        Err(AppError::Invalid(problems)) => Outcome::Invalid(problems),
        Err(AppError::Internal(e)) => Outcome::Failed(e),
        Err(other) => Outcome::Failed(format!("{other:?}")),
    }
}
