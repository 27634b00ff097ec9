//! Storage for people's data rights and for retention: everything stored
//! about one identified person (for an export), their erasure in one
//! transaction, the erasure log, and deleting a project's old events.
//!
//! **Whose rows.** A person's events are those carrying their `user_id`
//! and the anonymous events (no `user_id`) of every browser they were seen
//! on: the checklist replay stitches those to the browser's first user, and
//! an erasure cannot know that a shared browser's anonymous events were not
//! theirs, so it errs on the side of erasing. Their cases are those naming
//! them or opened by their events; their deliveries are those their events
//! or responses triggered, emails to their addresses, and any payload
//! naming them (a signed payload cannot be rewritten, so it goes).
//!
//! **The sweep.** After those rows are gone, every table of the schema (read
//! from the database, not from a list here, so tables added later are
//! covered) is searched for text naming them (the user id, their email
//! addresses): a row whose primary key names them is deleted, any other
//! such text is rewritten to [`ERASED`]. That is what takes them out of
//! account routing reasons, routing webhooks' account summaries and
//! whatever other rows mention them.

mod postgres;
mod sqlite;

use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::{Case, DbError, OutboxItem, StoredEvent};

/// What erased text reads afterwards.
pub const ERASED: &str = "[erased]";

/// Tables the sweep leaves alone: the erasure log (it holds hashes only)
/// and the schema's own bookkeeping.
const NOT_SWEPT: &[&str] = &["erasures", "touchpoint_schema"];

/// Everything stored about one identified person of a project.
#[derive(Debug, Clone, Default)]
pub struct PersonRows {
    /// The browsers (anonymous ids) they were seen on.
    pub browsers: Vec<String>,
    /// Their events, rejected ones too, in arrival order.
    pub events: Vec<StoredEvent>,
    /// Email addresses their events gave (see [`emails_in`]).
    pub emails: Vec<String>,
    pub cases: Vec<Case>,
    /// Webhooks and emails about them.
    pub outbox: Vec<OutboxItem>,
}

/// One erasure as logged: never the id, only a keyed hash and counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErasureRecord {
    pub project_key: String,
    pub subject_hash: String,
    pub erased_at: i64,
    /// JSON: [`Erased`].
    pub counts: String,
}

/// What one erasure removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Erased {
    /// Rows deleted, per table.
    pub deleted: BTreeMap<String, u64>,
    /// Rows whose text named them, rewritten, per table.
    pub scrubbed: BTreeMap<String, u64>,
    /// Ids of the email deliveries deleted: their `.eml` files go too.
    #[serde(skip)]
    pub email_deliveries: Vec<String>,
}

impl Erased {
    fn delete(&mut self, table: &str, n: u64) {
        if n > 0 {
            *self.deleted.entry(table.to_string()).or_default() += n;
        }
    }

    fn scrub(&mut self, table: &str) {
        *self.scrubbed.entry(table.to_string()).or_default() += 1;
    }

    /// Rows deleted and rewritten, in all.
    pub fn total(&self) -> u64 {
        self.deleted.values().chain(self.scrubbed.values()).sum()
    }
}

/// Email addresses in a person's events: `identify` and `group` traits and
/// the address a help request gave; each as written and in lowercase (as the
/// email quota keeps them), since text elsewhere may hold either.
pub fn emails_in(events: &[StoredEvent]) -> Vec<String> {
    let mut found = BTreeSet::new();
    for e in events {
        let Ok(body) = serde_json::from_str::<Value>(&e.body) else { continue };
        let mut strings = Vec::new();
        match e.kind.as_str() {
            "identify" | "group" => collect_strings(&body["traits"], &mut strings),
            "help_case_created" => collect_strings(&body["email"], &mut strings),
            _ => {}
        }
        for s in strings.into_iter().map(str::trim).filter(|s| looks_like_email(s)) {
            found.insert(s.to_string());
            found.insert(s.to_lowercase());
        }
    }
    found.into_iter().collect()
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

fn looks_like_email(s: &str) -> bool {
    let s = s.trim();
    s.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.')) && !s.contains(' ')
}

/// The words that name a person, as the sweep searches for them: the user
/// id and each address (as stored and lowercase).
pub fn identifiers(user_id: &str, emails: &[String]) -> Vec<String> {
    let mut out: BTreeSet<String> = emails.iter().cloned().collect();
    out.insert(user_id.to_string());
    out.into_iter().filter(|s| !s.is_empty()).collect()
}

/// `text` with every whole occurrence of an identifier replaced by
/// [`ERASED`]. "Whole": not inside a longer id (`u1` is not erased out of
/// `u10`), where ids are made of letters, digits and `_.@+-`.
pub fn scrub(text: &str, idents: &[String]) -> String {
    let in_word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '+' | '-');
    let mut out = text.to_string();
    for ident in idents {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        let mut before: Option<char> = None;
        while let Some(at) = rest.find(ident.as_str()) {
            let prev = rest[..at].chars().next_back().or(if at == 0 { before } else { None });
            let next = rest[at + ident.len()..].chars().next();
            result.push_str(&rest[..at]);
            if prev.is_some_and(in_word) || next.is_some_and(in_word) {
                result.push_str(ident);
            } else {
                result.push_str(ERASED);
            }
            before = ident.chars().next_back();
            rest = &rest[at + ident.len()..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// Everything stored about `user_id` in `project_key`.
    async fn person_rows(&self, project_key: String, user_id: String) -> Result<PersonRows, DbError>;

    /// Erases `user_id` from `project_key` in one transaction (see the module
    /// docs) and logs it as `subject_hash` with its counts. Running it again
    /// finds nothing and logs an erasure of nothing.
    async fn erase_person(
        &self,
        project_key: String,
        user_id: String,
        subject_hash: String,
        now: i64,
    ) -> Result<Erased, DbError>;

    /// The project's erasure log, oldest first.
    async fn erasures(&self, project_key: String) -> Result<Vec<ErasureRecord>, DbError>;

    /// Deletes up to `limit` events of `project_key` received before
    /// `before` (the server's clock), and the automation queue's rows of
    /// them; returns how many events went. Call again until it returns less than `limit`.
    async fn delete_events_before(&self, project_key: String, before: i64, limit: u32) -> Result<u64, DbError>;
}

/// What is derived from a person's events and kept beside them: their
/// targeting facts (theirs, and the anonymous ones of their browsers), the
/// browsers they own (a browser another user owns stays theirs), the rows
/// their checklist state is replayed from (`store::checklist_progress`), changes
/// waiting for the accounts worker. `{1}` the project, `{2}` the user id,
/// `{3}` their browsers; the flag: whether the statement names `{3}`.
const DERIVED: &[(&str, bool, &str)] = &[
    (
        "person_facts",
        true,
        "DELETE FROM person_facts WHERE project_key = {1} AND (user_id = {2} OR (user_id = '' AND anonymous_id IN {3}))",
    ),
    (
        "checklist_marks",
        true,
        "DELETE FROM checklist_marks WHERE project_key = {1} AND (user_id = {2} OR (user_id = '' AND anonymous_id IN {3}))",
    ),
    (
        "checklist_moments",
        true,
        "DELETE FROM checklist_moments WHERE project_key = {1} AND (user_id = {2} OR (user_id = '' AND anonymous_id IN {3}))",
    ),
    (
        "checklist_counts",
        true,
        "DELETE FROM checklist_counts WHERE project_key = {1} AND (user_id = {2} OR (user_id = '' AND anonymous_id IN {3}))",
    ),
    ("browser_owners", false, "DELETE FROM browser_owners WHERE project_key = {1} AND user_id = {2}"),
    (
        "accounts_dirty",
        true,
        "DELETE FROM accounts_dirty WHERE project_key = {1} AND ((kind = 'user' AND subject = {2})
                                                              OR (kind = 'browser' AND subject IN {3}))",
    ),
];

/// The events of a person (see the module docs), as a condition on `events`
/// with the project key as parameter 1 and the user id as parameter 2.
/// `{+}`: SQLite's unary plus, which keeps its planner on the user and browser indexes.
const THEIR_EVENTS: &str = "{+}project_key = {1} AND (user_id = {2} OR (user_id IS NULL AND anonymous_id IN
     (SELECT anonymous_id FROM events WHERE {+}project_key = {1} AND user_id = {2})))";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_erases_whole_ids_only() {
        let idents = vec!["u1".to_string(), "erin@example.org".to_string()];
        assert_eq!(scrub(r#"{"users":["u1","u10"]}"#, &idents), r#"{"users":["[erased]","u10"]}"#);
        assert_eq!(scrub("To: erin@example.org\r\n", &idents), "To: [erased]\r\n");
        assert_eq!(scrub("u1u1 xu1 u1", &idents), "u1u1 xu1 [erased]");
        assert_eq!(scrub("churn_risk:7:u1", &idents), "churn_risk:7:[erased]");
    }

    #[test]
    fn emails_come_from_traits_and_help_requests() {
        let event = |kind: &str, body: &str| StoredEvent {
            seq: 0,
            id: "e".into(),
            project_key: "pk".into(),
            kind: kind.into(),
            ts: 0,
            received_at: 0,
            anonymous_id: "a".into(),
            user_id: None,
            survey_id: None,
            response_id: None,
            question_id: None,
            url: String::new(),
            body: body.into(),
            rejected: None,
            ts_flag: None,
            source: "page".into(),
        };
        let found = emails_in(&[
            event("identify", r#"{"traits":{"email":"Erin@Example.org","name":"Erin","work":{"alt":"e@x.io"}}}"#),
            event("help_case_created", r#"{"email":"help@erin.dev","message":"hi a@b.c"}"#),
            event("track", r#"{"props":{"email":"not@counted.io"}}"#),
        ]);
        assert_eq!(found, ["Erin@Example.org", "e@x.io", "erin@example.org", "help@erin.dev"]);
    }
}
