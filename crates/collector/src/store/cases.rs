//! Working a case: filters, status / priority / assignee / tag changes, the
//! timeline (notes, replies, changes, the CSAT answer), the roadblocks report
//! and the CSAT question after solving. See [`crate::cases`].
//!
//! Every change and its timeline entry are written in one transaction; a
//! reply's outbox row too, so a reply is on the case exactly when its email
//! is queued (and it is sent once, through the outbox's leases, whichever
//! collector's worker takes it).

mod postgres;
mod sqlite;

use async_trait::async_trait;
use std::collections::HashMap;

use super::{Case, DbError, OutboxItem};

/// One entry of a case's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub seq: i64,
    pub at: i64,
    /// `note`, `reply`, `status`, `priority`, `assignee`, `tags` or `csat`.
    pub kind: String,
    pub author: Option<String>,
    pub body: String,
    /// A reply's email in the outbox.
    pub delivery_id: Option<String>,
}

/// Which cases to list; `None` matches any.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub tag: Option<String>,
}

/// What to change on a case; `None` leaves it as it is.
#[derive(Debug, Clone, Default)]
pub struct CaseUpdate {
    pub status: Option<String>,
    pub priority: Option<String>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

/// A note or a reply to add to a case's timeline.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub author: Option<String>,
    pub body: String,
    /// A reply: the email that carries it.
    pub reply: Option<OutboxItem>,
}

/// A reason tag and how many cases carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Roadblock {
    pub tag: String,
    pub cases: i64,
    /// Of those, not solved.
    pub unsolved: i64,
}

/// The changes `u` makes to `before`, as timeline entries `(kind, body)`.
fn changes(before: &Case, before_tags: &[String], u: &CaseUpdate) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(s) = u.status.as_ref().filter(|s| **s != before.status) {
        out.push(("status", s.clone()));
    }
    if let Some(p) = u.priority.as_ref().filter(|p| **p != before.priority) {
        out.push(("priority", p.clone()));
    }
    if let Some(a) = u.assignee.as_ref().filter(|a| **a != before.assignee) {
        out.push(("assignee", a.clone().unwrap_or_default()));
    }
    if let Some(t) = u.tags.as_ref().filter(|t| *t != before_tags) {
        out.push(("tags", t.join(", ")));
    }
    out
}

/// Each case with its tags, from `(case id, tag)` pairs.
fn with_tags(cases: Vec<Case>, tags: Vec<(String, String)>) -> Vec<(Case, Vec<String>)> {
    let mut by_case: HashMap<String, Vec<String>> = HashMap::new();
    for (case, tag) in tags {
        by_case.entry(case).or_default().push(tag);
    }
    cases.into_iter().map(|c| (by_case.remove(&c.id).unwrap_or_default(), c)).map(|(t, c)| (c, t)).collect()
}

#[async_trait]
pub trait CaseStore: Send + Sync {
    /// The project's cases with `status` (all if `None`), newest first.
    async fn cases(&self, project_key: String, status: Option<String>) -> Result<Vec<Case>, DbError>;

    /// Closes a case of `project_key` (a closed one stays as it was closed);
    /// `None` if it has no such case.
    async fn close_case(
        &self,
        project_key: String,
        id: String,
        note: Option<String>,
        now: i64,
    ) -> Result<Option<Case>, DbError>;

    /// The project's cases matching `filter`, newest first, each with its tags.
    async fn cases_where(&self, key: String, f: CaseFilter) -> Result<Vec<(Case, Vec<String>)>, DbError>;

    /// One case with its tags and timeline (oldest first); `None` if the project has no such case.
    async fn case_detail(
        &self,
        key: String,
        id: String,
    ) -> Result<Option<(Case, Vec<String>, Vec<TimelineEntry>)>, DbError>;

    /// Applies `u` and logs each change on the timeline, in one transaction.
    /// Solving sets `closed_at`; reopening clears it. `None`: no such case.
    async fn update_case(
        &self,
        key: String,
        id: String,
        u: CaseUpdate,
        author: Option<String>,
        now: i64,
    ) -> Result<Option<Case>, DbError>;

    /// Adds a note, or a reply with its email queued in the same transaction
    /// (a first reply sets `first_response_at`; an open case then waits on the customer).
    async fn add_to_case(&self, key: String, id: String, entry: NewEntry, now: i64) -> Result<Option<Case>, DbError>;

    /// Every reason tag of the project's cases, most cases first (then by tag).
    async fn roadblocks(&self, key: String) -> Result<Vec<Roadblock>, DbError>;

    /// The user's most recently solved case (solved at or after `since`) that
    /// has no CSAT answer yet: what "How did we do?" asks about.
    async fn csat_pending(&self, key: String, user_id: String, since: i64) -> Result<Option<Case>, DbError>;

    /// Stores the CSAT answer on the case (the first answer counts) and on its
    /// timeline; `false` if the case is not solved or already has one.
    async fn record_csat(&self, key: String, id: String, score: i64, now: i64) -> Result<bool, DbError>;
}
