//! The events aggregate: ingest (with what it queues in the same
//! transaction), the reads of reports, replays and exports, and the person
//! facts ingest keeps up to date. SQLite in `events/sqlite.rs`, Postgres in
//! `events/postgres.rs`.

pub(super) mod postgres;
pub(super) mod sqlite;

pub(super) use self::sqlite::insert_batches;

use std::collections::HashMap;

use async_trait::async_trait;
use touchpoint_protocol::{EventKind, EventStatus};

use super::person_facts::FactRow;
use super::{DbError, EventFilter, EventQuery, NewEvent, StoredActivity, StoredEvent};

/// One request's valid events, as ingest hands them to a store's writer.
pub(super) struct Batch {
    pub project_key: String,
    pub received_at: i64,
    pub events: Vec<NewEvent>,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores one request's events (one transaction) and returns, per event
    /// in order, `Accepted` or `Duplicate`. Returns once the transaction committed.
    async fn insert(
        &self,
        project_key: String,
        received_at: i64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<EventStatus>, DbError>;

    /// Stored events (rejected ones too), oldest first by the client's clock, then by arrival.
    async fn list_events(&self, filter: EventFilter) -> Result<Vec<StoredEvent>, DbError>;

    /// Every stored column of a page of events, oldest first (by `ts`, then arrival).
    async fn events(&self, query: EventQuery) -> Result<Vec<StoredEvent>, DbError>;

    /// The events of these responses of `project_key` that are not
    /// rejected, in arrival order (`received_at`, then arrival).
    async fn response_events(
        &self,
        project_key: String,
        response_ids: Vec<String>,
    ) -> Result<Vec<StoredEvent>, DbError>;

    /// The bodies of the `identify` events the host's backend sent (with
    /// the secret key) for `user_id`, in arrival order.
    async fn server_identifies(&self, project_key: String, user_id: String) -> Result<Vec<String>, DbError>;

    /// Every event of `project_key` that is not rejected, in arrival order (`received_at`, then arrival).
    async fn project_activity(&self, project_key: String) -> Result<Vec<StoredActivity>, DbError>;

    /// Events of `user_id` and every event of each browser they were seen on
    /// (whose anonymous events may be theirs), in arrival order; not the rejected ones.
    async fn user_activity(&self, project_key: String, user_id: String) -> Result<Vec<StoredActivity>, DbError>;

    /// Every event of one browser, in arrival order; not the rejected ones.
    async fn browser_activity(&self, project_key: String, anonymous_id: String)
        -> Result<Vec<StoredActivity>, DbError>;

    /// The score of each response to `question_id`, counting only its latest
    /// answer (by `received_at`, then arrival): going back and changing a
    /// score must not count the response twice. Non-numeric answers count as
    /// no score; rejected ones do not count.
    async fn latest_scores(
        &self,
        project_key: String,
        survey_id: String,
        question_id: String,
    ) -> Result<Vec<u8>, DbError>;

    /// The facts of an identified user (their own and their browsers' anonymous events).
    async fn user_facts(&self, project_key: String, user_id: String) -> Result<Vec<FactRow>, DbError>;

    /// The facts of a browser never identified.
    async fn browser_facts(&self, project_key: String, anonymous_id: String) -> Result<Vec<FactRow>, DbError>;

    /// The first user identified on `anonymous_id`, if any.
    async fn browser_owner(&self, project_key: String, anonymous_id: String) -> Result<Option<String>, DbError>;

    /// Drops the facts of browsers and users not heard from since `before`
    /// (the server's clock): what the retention worker leaves of people whose events all expired.
    async fn expire_person_facts(&self, project_key: String, before: i64) -> Result<u64, DbError>;
}

/// The activity read of the events `filter` keeps, in arrival order:
/// `received_at`, then `arrival`, the store's insertion counter (SQLite's
/// `rowid`, Postgres' `seq`). Only the kinds a replay reads carry their body.
fn activity_sql(filter: &str, arrival: &str) -> String {
    format!(
        "SELECT anonymous_id, user_id, ts, received_at,
                CASE WHEN type IN ('identify', 'track', 'checklist_item_completed', 'checklist_dismissed', 'survey_shown',
                                 'nudge_shown', 'group', 'survey_answered')
                     THEN body END
         FROM events WHERE ({filter}) AND rejected IS NULL ORDER BY received_at, {arrival}"
    )
}

/// The last score of each response, from `(response, score)` rows in arrival
/// order: a later answer replaces an earlier one; no score (not a number,
/// out of range) counts as none.
fn latest_scores(rows: impl IntoIterator<Item = (String, Option<i64>)>) -> Vec<u8> {
    let latest: HashMap<String, Option<i64>> = rows.into_iter().collect();
    latest.into_values().filter_map(|v| v.and_then(|v| u8::try_from(v).ok())).collect()
}

/// The response and question columns of a survey event.
fn response_and_question(kind: &EventKind) -> (Option<&str>, Option<&str>) {
    match kind {
        EventKind::SurveyAnswered { response_id, question_id, .. }
        | EventKind::SurveyDismissed { response_id, question_id, .. } => (Some(response_id), Some(question_id)),
        EventKind::SurveyShown { response_id, .. } | EventKind::SurveyCompleted { response_id, .. } => {
            (Some(response_id), None)
        }
        // Track, identify, client errors, and any kind added later: neither.
        _ => (None, None),
    }
}
