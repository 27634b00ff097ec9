//! What the caller knows about the user, the page and the moment. Core reads
//! no clock and no storage: the widget fills this from the browser and its
//! persisted history, the collector from stored events (a dry run).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Everything [`evaluate`](super::evaluate) looks at. Times are Unix ms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Context {
    pub now_ms: i64,
    /// The page path (`location.pathname`), matched against `urls`.
    pub path: String,
    /// From `identify`.
    pub traits: Map<String, Value>,
    /// The segment id the user is in, if any.
    pub segment: Option<String>,
    /// How many times the user has `track`ed each event name.
    pub event_counts: BTreeMap<String, u32>,
    /// When this user (or browser, before `identify`) was first seen.
    pub first_seen_ms: i64,
    /// The stable key sampling hashes: the user id once identified, else the anonymous id.
    pub user_key: String,
    pub history: History,
    /// The id of the survey on screen now, if one is.
    pub on_screen: Option<String>,
    pub page_loaded_at_ms: i64,
}

/// When surveys were last shown to this user. A showing counts whether it
/// was answered or dismissed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    /// Per survey id.
    pub last_shown_ms: BTreeMap<String, i64>,
    /// Of any survey, including ones no longer in the config.
    pub last_any_ms: Option<i64>,
}

impl History {
    /// Records a showing of `survey_id` at `at_ms` (both fields; never moves them back in time).
    pub fn record(&mut self, survey_id: &str, at_ms: i64) {
        let last = self.last_shown_ms.entry(survey_id.to_owned()).or_insert(at_ms);
        *last = (*last).max(at_ms);
        self.last_any_ms = Some(self.last_any_ms.map_or(at_ms, |t| t.max(at_ms)));
    }
}
