//! What the caller knows about the user, the page and the moment. Core reads
//! no clock and no storage: the widget fills this from the browser and its
//! persisted history, the collector from stored events (a dry run).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::definition::{Kind, Opens};

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
    /// What of ours is on screen now, if anything: nothing else may claim attention meanwhile.
    pub on_screen: Option<OnScreen>,
    /// The page or the user is busy: wait.
    pub busy: Option<Busy>,
    /// Experiences shown in this browser session (tab) so far.
    pub session_shown: u32,
    /// Panels a nudge could open now (e.g. the user has a checklist to finish).
    pub openable: Vec<Opens>,
    pub page_loaded_at_ms: i64,
}

/// Ours, on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnScreen {
    Survey(String),
    /// A panel, whether the user or a nudge opened it.
    Panel(Opens),
}

impl std::fmt::Display for OnScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OnScreen::Survey(id) => write!(f, "survey {id:?}"),
            OnScreen::Panel(p) => write!(f, "the {} panel", p.name()),
        }
    }
}

/// Why now is a bad moment to interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// The host called `Touchpoint.setBusy(true)`.
    Host,
    /// A modal of the host's is open (`<dialog open>`, `aria-modal="true"`).
    Modal,
    /// The user is typing in a field of the page.
    Typing,
}

impl Busy {
    pub fn name(self) -> &'static str {
        match self {
            Busy::Host => "host",
            Busy::Modal => "modal",
            Busy::Typing => "typing",
        }
    }
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Busy::Host => "the page said it is busy (setBusy)",
            Busy::Modal => "a dialog of the page is open",
            Busy::Typing => "the user is typing in a field",
        })
    }
}

/// When experiences were last shown to this user. A showing counts whether it
/// was answered or dismissed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    /// Per survey id.
    pub last_shown_ms: BTreeMap<String, i64>,
    /// Of any experience, including ones no longer in the config.
    pub last_any_ms: Option<i64>,
    /// Per kind name (`survey`, `nudge`).
    pub last_kind_ms: BTreeMap<String, i64>,
}

impl History {
    /// Records a showing of `survey_id` at `at_ms` (both fields; never moves them back in time).
    pub fn record(&mut self, survey_id: &str, at_ms: i64) {
        keep_latest(&mut self.last_shown_ms, survey_id, at_ms);
        self.last_any_ms = Some(self.last_any_ms.map_or(at_ms, |t| t.max(at_ms)));
    }

    /// [`History::record`], counting for `kind`'s cooldown too.
    pub fn record_kind(&mut self, kind: Kind, id: &str, at_ms: i64) {
        self.record(id, at_ms);
        keep_latest(&mut self.last_kind_ms, kind.name(), at_ms);
    }
}

/// Sets `map[key]` to `at_ms` unless it already holds a later time: showings
/// never move back in time, whichever view or device reports them first.
pub(super) fn keep_latest(map: &mut BTreeMap<String, i64>, key: &str, at_ms: i64) {
    let last = map.entry(key.to_owned()).or_insert(at_ms);
    *last = (*last).max(at_ms);
}
