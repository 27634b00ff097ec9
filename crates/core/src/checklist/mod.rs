//! Onboarding checklists: which checklist a user gets (segments chosen from
//! `identify` traits, first match wins, with a default), and which items
//! their behavior has completed.
//!
//! A definition file holds both, validated together into a [`ChecklistSet`]:
//!
//! ```json
//! { "segments": [
//!     { "id": "large_org", "when": { "team_size": { ">=": 51 } }, "checklist": "large_org" },
//!     { "id": "small_team", "checklist": "small_team" } ],          // no "when": the default, last
//!   "checklists": [
//!     { "id": "small_team", "title": "Get started",
//!       "items": [
//!         { "id": "import", "title": "Import your data", "description": "…",
//!           "cta": { "label": "Import CSV", "url": "/import" },
//!           "complete_when": { "event": "imported_data", "where": { "rows": { ">=": 1 } } } },
//!         { "id": "invite", "title": "Invite two teammates", "depends_on": ["import"],
//!           "complete_when": { "event": "invited_teammate", "count": 2 } },
//!         { "id": "billing", "title": "Add billing details", "complete_when": "manual" } ] } ] }
//! ```
//!
//! Any item can also be completed by the host with `Touchpoint.complete(id)`;
//! `"manual"` means that is the only way.
//!
//! An item with `"scope": "account"` counts the behaviors of every user of
//! the account (`Touchpoint.group`): "three teammates invited" by anyone in
//! the team. [`AccountProgress`] tallies them with who did what, and
//! [`Progress::with_account`] folds that into one user's progress.

mod account;
mod engine;
mod predicate;
mod problem;
mod validate;

pub use account::{AccountProgress, Contributor};
pub use engine::{Completion, Progress, Trigger};
pub use predicate::{Op, Predicate};
pub use problem::ChecklistProblem;
pub use validate::{Checklist, ChecklistSet, CompleteWhen, Cta, Item, Scope, Segment};

#[cfg(test)]
mod tests;
