//! One person's checklist progress, rebuilt from their stored events.
//!
//! **Who is one person.** Events with a `user_id` are that user's. A
//! browser's events without a `user_id` (sent before `identify`) belong to
//! the first user identified on that browser, its *owner* (the earliest of
//! its events that carries a `user_id`), so behaviors tracked before
//! `identify` count for the user. A browser never identified is a person of
//! its own, known by its `anonymous_id`. Each event belongs to exactly one
//! person, so reports never count a behavior twice.
//!
//! **Replay.** Events run in `(ts, arrival)` order. The segment and checklist
//! are chosen from the traits of all `identify` events merged (later wins),
//! with the traits of the person's `group` events as `account.<trait>`,
//! as they are now; then `track` events go through `Progress::observe` and
//! `checklist_item_completed` events whose rule is a manual completion
//! through `Progress::complete`. Completions the widget reported for rules
//! the collector can replay itself are not trusted: replaying the `track`
//! events gives the same result from the source.

use std::collections::{BTreeMap, HashMap};

use serde_json::Map;
use touchpoint_core::checklist::{Checklist, ChecklistSet, Progress, Segment, Trigger};
use touchpoint_protocol::{Event, EventKind};

use crate::store::StoredActivity;

/// A stored event as the replay reads it.
#[derive(Debug, Clone)]
pub struct Activity {
    pub anonymous_id: String,
    pub user_id: Option<String>,
    pub ts: i64,
    /// The server's clock when it arrived.
    pub received_at: i64,
    /// Only for the kinds the replay interprets; `None` for the rest, which
    /// still count for first and last seen.
    pub kind: Option<EventKind>,
    /// The event's id, known with its `kind`.
    pub event_id: Option<String>,
}

impl TryFrom<StoredActivity> for Activity {
    type Error = String;

    fn try_from(row: StoredActivity) -> Result<Activity, String> {
        let (kind, event_id) = match row.body {
            Some(body) => {
                let e = serde_json::from_str::<Event>(&body)
                    .map_err(|e| format!("stored event body is not an event: {e}"))?;
                (Some(e.kind), Some(e.id))
            }
            None => (None, None),
        };
        Ok(Activity {
            anonymous_id: row.anonymous_id,
            user_id: row.user_id,
            ts: row.ts,
            received_at: row.received_at,
            kind,
            event_id,
        })
    }
}

/// Whose progress: an identified user, or a browser never identified.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Person {
    User(String),
    Anonymous(String),
}

/// Splits `rows` (in replay order) per person, keeping the order.
pub fn by_person(rows: Vec<Activity>) -> BTreeMap<Person, Vec<Activity>> {
    let mut owners: HashMap<&str, &str> = HashMap::new();
    for row in &rows {
        if let Some(user) = &row.user_id {
            owners.entry(&row.anonymous_id).or_insert(user);
        }
    }
    let people: Vec<Person> = rows
        .iter()
        .map(|row| match (&row.user_id, owners.get(row.anonymous_id.as_str())) {
            (Some(user), _) => Person::User(user.clone()),
            (None, Some(owner)) => Person::User((*owner).to_owned()),
            (None, None) => Person::Anonymous(row.anonymous_id.clone()),
        })
        .collect();
    let mut split: BTreeMap<Person, Vec<Activity>> = BTreeMap::new();
    for (person, row) in people.into_iter().zip(rows) {
        split.entry(person).or_default().push(row);
    }
    split
}

/// The owner of a browser, given all of that browser's rows in replay order.
pub fn owner(browser_rows: &[Activity]) -> Option<&str> {
    browser_rows.iter().find_map(|row| row.user_id.as_deref())
}

/// One person's checklist, as their events say.
#[derive(Debug)]
pub struct Replayed<'a> {
    pub segment: &'a Segment,
    pub checklist: &'a Checklist,
    pub progress: Progress,
    /// They dismissed this checklist (`checklist_dismissed` with its id).
    pub dismissed: bool,
    /// `ts` of their earliest and latest event of any kind; `None` without events.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
}

/// Replays one person's `rows`, which must be in `(ts, arrival)` order.
pub fn replay<'a>(set: &'a ChecklistSet, rows: &[Activity]) -> Replayed<'a> {
    replay_choosing(set, rows, None)
}

/// [`replay`], but a person none of whose `identify` events is stored yet
/// (the widget's may still be on its way) is replayed on the checklist with
/// id `unknown_traits`, if there is one: the one the widget chose from the
/// traits it has.
pub fn replay_choosing<'a>(set: &'a ChecklistSet, rows: &[Activity], unknown_traits: Option<&str>) -> Replayed<'a> {
    let mut traits = Map::new();
    let mut identified = false;
    for row in rows {
        match &row.kind {
            Some(EventKind::Identify { traits: t }) => {
                identified = true;
                traits.extend(t.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            // Segments can read the account's traits as `account.<trait>`.
            Some(EventKind::Group { traits: t, .. }) => {
                traits.extend(t.iter().map(|(k, v)| (format!("account.{k}"), v.clone())));
            }
            _ => {}
        }
    }
    let (mut segment, mut checklist) = set.choose(&traits);
    if let (false, Some(wanted)) = (identified, unknown_traits) {
        if let Some(s) = set.segments().iter().find(|s| set.checklist_of(s).id == wanted) {
            (segment, checklist) = (s, set.checklist_of(s));
        }
    }

    let manual = Trigger::Manual.to_string();
    let mut progress = Progress::default();
    let mut dismissed = false;
    for row in rows {
        match &row.kind {
            Some(EventKind::Track { name, props }) => {
                progress.observe(checklist, name, props, row.ts);
            }
            Some(EventKind::ChecklistItemCompleted { checklist_id, item_id, rule })
                if *checklist_id == checklist.id && *rule == manual =>
            {
                // An item id this checklist does not have (renamed since) is
                // refused by core and simply does not count.
                let _ = progress.complete(checklist, item_id, row.ts);
            }
            Some(EventKind::ChecklistDismissed { checklist_id }) if *checklist_id == checklist.id => dismissed = true,
            _ => {}
        }
    }
    Replayed {
        segment,
        checklist,
        progress,
        dismissed,
        first_seen: rows.iter().map(|r| r.ts).min(),
        last_seen: rows.iter().map(|r| r.ts).max(),
    }
}

/// Which account each identified user of these people is in (their latest `group`).
/// `people`'s rows may be owned or borrowed (the backtest borrows what was known at a cutoff).
pub fn memberships<R: AsRef<[Activity]>>(people: &BTreeMap<Person, R>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (person, rows) in people {
        let Person::User(user) = person else { continue };
        let latest = rows.as_ref().iter().rev().find_map(|r| match &r.kind {
            Some(EventKind::Group { account_id, .. }) => Some(account_id.clone()),
            _ => None,
        });
        if let Some(account) = latest {
            out.insert(user.clone(), account);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(anon: &str, user: Option<&str>, ts: i64) -> Activity {
        Activity {
            anonymous_id: anon.into(),
            user_id: user.map(Into::into),
            ts,
            received_at: ts,
            kind: None,
            event_id: None,
        }
    }

    fn summary(split: &BTreeMap<Person, Vec<Activity>>) -> Vec<(Person, Vec<i64>)> {
        split.iter().map(|(p, rows)| (p.clone(), rows.iter().map(|r| r.ts).collect())).collect()
    }

    #[test]
    fn anonymous_events_belong_to_the_first_user_of_their_browser() {
        let rows = vec![
            row("a1", None, 1),       // before identify on a1: u1's
            row("a1", Some("u1"), 2), // identify u1 on a1
            row("a2", None, 3),       // never identified: its own person
            row("a1", Some("u2"), 4), // u2 later on the same browser
            row("a1", None, 5),       // still u1's: u1 owns a1
            row("a3", Some("u1"), 6), // u1 on a second browser
        ];
        assert_eq!(
            summary(&by_person(rows.clone())),
            vec![
                (Person::User("u1".into()), vec![1, 2, 5, 6]),
                (Person::User("u2".into()), vec![4]),
                (Person::Anonymous("a2".into()), vec![3]),
            ]
        );
        assert_eq!(owner(&rows[..2]), Some("u1"));
        assert_eq!(owner(&rows[2..3]), None);
    }
}
