//! Progress through one checklist: counts behaviors, completes items when
//! their rule holds and their dependencies are done, and merges copies of
//! the same progress from two places ("completed stays completed").

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::predicate::all_hold;
use super::validate::{Checklist, CompleteWhen};

/// One user's progress. Serializable: the widget keeps it in localStorage for
/// an instant first paint; the collector rebuilds it from stored events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Matching events seen per item, capped at what the item needs.
    #[serde(default)]
    pub counts: BTreeMap<String, u32>,
    /// Items the host completed by hand (`Touchpoint.complete`).
    #[serde(default)]
    pub manual: BTreeMap<String, i64>,
    /// Items done: when, and what did it.
    #[serde(default)]
    pub completed: BTreeMap<String, Completion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub trigger: Trigger,
}

/// The rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    Event { event: String, count: u32 },
    Manual,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Event { event, count: 1 } => write!(f, "event {event}"),
            Trigger::Event { event, count } => write!(f, "event {event} ×{count}"),
            Trigger::Manual => write!(f, "complete() called by the host"),
        }
    }
}

impl Progress {
    /// Counts a `track(name, props)` and returns the items it completed
    /// (including items that were only waiting for a dependency).
    pub fn observe(&mut self, c: &Checklist, name: &str, props: &Map<String, Value>, at: i64) -> Vec<String> {
        for item in &c.items {
            if self.completed.contains_key(&item.id) {
                continue;
            }
            if let CompleteWhen::Event { event, where_, count } = &item.complete_when {
                if event == name && all_hold(where_, props) {
                    let n = self.counts.entry(item.id.clone()).or_default();
                    *n = (*n + 1).min(*count);
                }
            }
        }
        self.settle(c, at)
    }

    /// The host says `item` is done. Unknown ids are refused so a typo shows.
    pub fn complete(&mut self, c: &Checklist, item: &str, at: i64) -> Result<Vec<String>, String> {
        if c.item(item).is_none() {
            let known: Vec<&str> = c.items.iter().map(|i| i.id.as_str()).collect();
            return Err(format!("checklist {:?} has no item {item:?} (items: {})", c.id, known.join(", ")));
        }
        self.manual.entry(item.to_owned()).or_insert(at);
        Ok(self.settle(c, at))
    }

    /// Completes every item whose rule holds and whose dependencies are done,
    /// until nothing changes; returns the newly completed ids in item order.
    pub fn settle(&mut self, c: &Checklist, at: i64) -> Vec<String> {
        let mut newly = Vec::new();
        loop {
            let mut changed = false;
            for item in &c.items {
                if self.completed.contains_key(&item.id) {
                    continue;
                }
                // A host's explicit complete() wins over dependencies.
                let trigger = if self.manual.contains_key(&item.id) {
                    Some(Trigger::Manual)
                } else {
                    let deps_done = item.depends_on.iter().all(|d| self.completed.contains_key(&c.items[*d].id));
                    match &item.complete_when {
                        CompleteWhen::Event { event, count, .. }
                            if deps_done && self.counts.get(&item.id).copied().unwrap_or(0) >= *count =>
                        {
                            Some(Trigger::Event { event: event.clone(), count: *count })
                        }
                        _ => None,
                    }
                };
                if let Some(trigger) = trigger {
                    self.completed.insert(item.id.clone(), Completion { at, trigger });
                    newly.push(item.id.clone());
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        crate::sort::by_key(&mut newly, |id| c.items.iter().position(|i| &i.id == id));
        newly
    }

    /// Folds in the same user's progress from elsewhere (another device, the
    /// collector): completed stays completed (earliest time wins), counts take
    /// the larger. Call [`Progress::settle`] afterwards.
    pub fn merge(&mut self, other: &Progress) {
        for (id, n) in &other.counts {
            let mine = self.counts.entry(id.clone()).or_default();
            *mine = (*mine).max(*n);
        }
        for (id, at) in &other.manual {
            let mine = self.manual.entry(id.clone()).or_insert(*at);
            *mine = (*mine).min(*at);
        }
        for (id, done) in &other.completed {
            match self.completed.get(id) {
                Some(mine) if mine.at <= done.at => {}
                _ => {
                    self.completed.insert(id.clone(), done.clone());
                }
            }
        }
    }

    /// Items of `c` that are done.
    pub fn done(&self, c: &Checklist) -> usize {
        c.items.iter().filter(|i| self.completed.contains_key(&i.id)).count()
    }

    pub fn is_complete(&self, c: &Checklist) -> bool {
        self.done(c) == c.items.len()
    }
}
