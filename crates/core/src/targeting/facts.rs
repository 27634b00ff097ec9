//! What targeting knows about one person, folded from their events: when
//! they were first seen, how often they did each thing, and when each survey
//! was last shown to them. The collector folds stored events (every device of
//! an identified user); the widget folds the events it makes (this browser,
//! at once, before they are sent). Both use [`Facts::observe`], and the
//! widget [`Facts::merge`]s the two.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use touchpoint_protocol::EventKind;

use super::context::{keep_latest, History};

/// Folded from events. Times are Unix ms on the end user's clock (event `ts`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Facts {
    pub first_seen_ms: Option<i64>,
    /// `track` calls per event name.
    pub event_counts: BTreeMap<String, u32>,
    /// Per survey id, the latest `survey_shown` (a showing counts whether it
    /// was answered or dismissed).
    pub last_shown_ms: BTreeMap<String, i64>,
    /// Per kind (`survey`, `nudge`), the latest showing of any experience of it.
    pub last_kind_ms: BTreeMap<String, i64>,
}

impl Facts {
    /// Folds one event in. `kind` is `None` for events whose body the caller
    /// did not read: they still count as being seen.
    pub fn observe(&mut self, ts: i64, kind: Option<&EventKind>) {
        self.first_seen_ms = Some(self.first_seen_ms.map_or(ts, |t| t.min(ts)));
        match kind {
            Some(EventKind::Track { name, .. }) => self.count(name),
            Some(EventKind::SurveyShown { survey_id, .. }) => self.shown("survey", survey_id, ts),
            Some(EventKind::NudgeShown { nudge_id, .. }) => self.shown("nudge", nudge_id, ts),
            _ => {}
        }
    }

    pub fn count(&mut self, name: &str) {
        // Looked up before inserting: a count that exists (most calls) costs no allocation.
        match self.event_counts.get_mut(name) {
            Some(n) => *n = n.saturating_add(1),
            None => {
                self.event_counts.insert(name.to_owned(), 1);
            }
        }
    }

    /// `id`, an experience of `kind` (its name), was shown at `at_ms`.
    pub fn shown(&mut self, kind: &str, id: &str, at_ms: i64) {
        keep_latest(&mut self.last_shown_ms, id, at_ms);
        keep_latest(&mut self.last_kind_ms, kind, at_ms);
    }

    /// Combines two views of the same person: the earliest first sighting,
    /// the latest showings, and per event the larger count. The larger, not
    /// the sum: both views usually hold the same events (this browser's,
    /// once the collector has them), so a sum would count them twice. Events
    /// of another device still in flight are missed until they arrive; that
    /// errs towards showing a survey a little later, never towards nagging.
    pub fn merge(&mut self, other: &Facts) {
        if let Some(t) = other.first_seen_ms {
            self.first_seen_ms = Some(self.first_seen_ms.map_or(t, |s| s.min(t)));
        }
        for (name, &n) in &other.event_counts {
            let mine = self.event_counts.entry(name.clone()).or_default();
            *mine = (*mine).max(n);
        }
        for (mine, theirs) in
            [(&mut self.last_shown_ms, &other.last_shown_ms), (&mut self.last_kind_ms, &other.last_kind_ms)]
        {
            for (key, &at) in theirs {
                keep_latest(mine, key, at);
            }
        }
    }

    /// The throttling history [`evaluate`](super::evaluate) reads.
    pub fn history(&self) -> History {
        History {
            last_shown_ms: self.last_shown_ms.clone(),
            last_any_ms: self.last_shown_ms.values().copied().max(),
            last_kind_ms: self.last_kind_ms.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn track(name: &str) -> EventKind {
        EventKind::Track { name: name.into(), props: Map::new() }
    }

    fn shown(id: &str) -> EventKind {
        EventKind::SurveyShown { survey_id: id.into(), response_id: "r".into(), survey_version: None }
    }

    #[test]
    fn observe_counts_tracks_and_keeps_the_latest_showing() {
        let mut f = Facts::default();
        f.observe(50, None);
        f.observe(10, Some(&track("report_created")));
        f.observe(20, Some(&track("report_created")));
        f.observe(30, Some(&shown("nps")));
        f.observe(25, Some(&shown("nps")));
        f.observe(40, Some(&EventKind::Page { props: Map::new() }));
        assert_eq!(f.first_seen_ms, Some(10));
        assert_eq!(f.event_counts.get("report_created"), Some(&2));
        assert_eq!(f.event_counts.len(), 1, "page views are not tracks");
        assert_eq!(f.last_shown_ms.get("nps"), Some(&30));
        let h = f.history();
        assert_eq!(h.last_any_ms, Some(30));
        assert_eq!(h.last_shown_ms.get("nps"), Some(&30));
        f.observe(35, Some(&EventKind::NudgeShown { nudge_id: "finish".into(), opens: "checklist".into() }));
        let h = f.history();
        assert_eq!((h.last_kind_ms.get("survey"), h.last_kind_ms.get("nudge")), (Some(&30), Some(&35)));
        assert_eq!(h.last_any_ms, Some(35));
    }

    #[test]
    fn merge_takes_earliest_first_seen_latest_showing_and_larger_count() {
        let mut local = Facts::default();
        local.observe(100, Some(&track("a")));
        local.observe(110, Some(&shown("nps")));
        let mut server = Facts::default();
        server.observe(50, Some(&track("a")));
        server.observe(60, Some(&track("a")));
        server.observe(70, Some(&track("b")));
        server.observe(80, Some(&shown("nps")));
        server.observe(90, Some(&shown("csat")));
        local.merge(&server);
        assert_eq!(local.first_seen_ms, Some(50));
        assert_eq!(local.event_counts.get("a"), Some(&2), "max, not sum");
        assert_eq!(local.event_counts.get("b"), Some(&1));
        assert_eq!(local.last_shown_ms.get("nps"), Some(&110));
        assert_eq!(local.last_shown_ms.get("csat"), Some(&90));
        assert_eq!(local.history().last_any_ms, Some(110));
        assert_eq!(local.last_kind_ms.get("survey"), Some(&110));
        // Merging is idempotent.
        let once = local.clone();
        local.merge(&server);
        assert_eq!(local, once);
    }

    #[test]
    fn reads_partial_and_empty_json() {
        let f: Facts = serde_json::from_str(r#"{"event_counts": {"x": 3}}"#).unwrap();
        assert_eq!(f.event_counts.get("x"), Some(&3));
        assert_eq!(f.first_seen_ms, None);
        assert_eq!(serde_json::from_str::<Facts>("{}").unwrap(), Facts::default());
    }
}
