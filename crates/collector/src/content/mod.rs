//! Content per project — surveys, checklists, help articles and targeting —
//! kept in the database, versioned, and served on the widget's next load
//! without a restart.
//!
//! An item is a [`Kind`] and an id within one project. Its draft is saved
//! only when it validates (with the same `touchpoint_core` code that checks
//! the files at startup); a publish copies the draft into a new immutable
//! version with who published it, when, and the [`diff`] against the
//! previous one. A rollback publishes an old version's body again as a new
//! version. The highest version is live.
//!
//! The files given at startup (`--surveys-dir`, …) stay a way in: they are
//! what a project sees for an item it never published, and
//! `touchpoint-collector push <dir>` ([`push`]) publishes them into one
//! project, refusing, with the item named, when an edit made in the
//! dashboard would be overwritten; `--import-content` does the same into
//! every project at startup ([`import`]).
//!
//! **Invariant:** nothing invalid is ever published: a body is validated
//! when its draft is saved, again when it is published, and a version once
//! written never changes (so a survey's versions may be cached forever; see
//! [`surveys`]).
//!
//! **Scale-out:** the live version is read from the database on each
//! widget load, so a publish through one collector is served by every
//! other at once; two publishes from the same version cannot both succeed
//! (`store::content`).

pub mod checklists;
pub mod diff;
pub mod help_preview;
pub mod import;
pub mod kind;
pub mod lint;
pub mod parsed;
pub mod publish;
pub mod push;
pub mod surveys;
pub mod templates;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::kind::Kind;

/// One thing wrong with a definition, at a JSON path such as
/// `questions[1].rules[0].next` (empty: the whole body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// The file it is in, for content read from files (`push`, `lint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { file: None, path: path.into(), message: message.into() }
    }

    pub fn in_file(self, file: &str) -> Problem {
        Problem { file: Some(file.to_string()), ..self }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Who did something, for the version history: the name the editor gave,
/// trimmed and bounded, or who the key says it was.
pub fn author(given: Option<&str>, fallback: &str) -> String {
    match given.map(str::trim).filter(|s| !s.is_empty()) {
        Some(name) => name.chars().take(100).collect(),
        None => fallback.to_string(),
    }
}

/// A body as it is stored: pretty JSON, so versions read well side by side.
pub fn stored_text(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}
