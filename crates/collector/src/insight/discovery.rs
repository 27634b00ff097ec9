//! Success-behavior discovery: for each tracked event, the people (or
//! accounts) who did it within their first N days against those who did
//! not, on three outcomes — still active in weeks 4–8, NPS, health score —
//! ranked by lift in the first.
//!
//! Pure: [`discover`] takes one compact [`Subject`] per person or account
//! (first seen, the first time each event was done, the days they were
//! active, their NPS answers and health) and the time `now`; the caller
//! gathers those from storage. The figures are associations: a behavior
//! that goes with staying may only mark the people who would have stayed
//! anyway. The page says so, and offers an A/B split of the checklist item
//! as the test of cause.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::stats::{self, Estimate};

pub const DAY_MS: i64 = 86_400_000;
/// "Still active in weeks 4–8": any activity on days 28–55 after first seen.
pub const RETAINED_FROM_DAY: i64 = 28;
pub const RETAINED_UNTIL_DAY: i64 = 56;

/// One person (or account), as much as discovery needs of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subject {
    pub id: String,
    pub first_seen: i64,
    /// The first `ts` of each `track` event name.
    pub first_done: BTreeMap<String, i64>,
    /// Days (since the epoch, UTC) with any activity.
    pub active_days: BTreeSet<i64>,
    /// Latest NPS score of each respondent (one for a person, each user's for an account).
    pub nps: Vec<u8>,
    /// Current health score (a person's is their account's).
    pub health: Option<u8>,
}

impl Subject {
    /// Did `event` within `window_days` of first being seen.
    pub fn did_early(&self, event: &str, window_days: u32) -> bool {
        self.first_done.get(event).is_some_and(|&at| at - self.first_seen <= i64::from(window_days) * DAY_MS)
    }

    /// Active on some day 28–55 after the day they were first seen.
    pub fn retained(&self) -> bool {
        let first = self.first_seen.div_euclid(DAY_MS);
        self.active_days.range(first + RETAINED_FROM_DAY..first + RETAINED_UNTIL_DAY).next().is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Count an event only when done within this many days of first seen.
    pub window_days: u32,
    pub now: i64,
    /// A group smaller than this (in either arm) is "too few to tell".
    pub min_group: usize,
}

/// What the comparison on retention says, in words a team can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Fewer than `min_group` people in one of the two groups.
    TooFewToTell,
    /// The interval of the lift includes 1.
    NoClearDifference,
    /// Those who did it stay more often; the interval lies above 1.
    StayMoreOften,
    /// Those who did it stay less often; the interval lies below 1.
    StayLessOften,
}

/// A rate of one group: `count` of `of`, with its Wilson interval.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    pub count: usize,
    pub of: usize,
    pub rate: Option<Estimate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetentionComparison {
    pub did: Rate,
    pub did_not: Rate,
    /// Retention rate of those who did it over that of those who did not.
    pub lift: Option<Estimate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeanComparison {
    /// Mean (for NPS: the NPS) and sample size of each group.
    pub did: Option<f64>,
    pub did_n: usize,
    pub did_not: Option<f64>,
    pub did_not_n: usize,
    /// `did − did_not`, with its interval; `None` when a group has no values.
    pub difference: Option<Estimate>,
}

/// One tracked event's comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Behavior {
    pub event: String,
    /// Subjects old enough to have had the whole window, who did / did not do it in it.
    pub did: usize,
    pub did_not: usize,
    pub retention: RetentionComparison,
    pub nps: MeanComparison,
    pub health: MeanComparison,
    pub verdict: Verdict,
    /// Checklist items (as `checklist/item`) this event completes.
    pub checklist_items: Vec<String>,
    /// What to do about it.
    pub advice: String,
}

/// The ranked comparisons of every event any subject did.
#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    pub window_days: u32,
    /// Subjects first seen at least `window_days` ago (the others are still in their window).
    pub subjects: usize,
    /// Of those, first seen at least 56 days ago: their weeks 4–8 are over.
    pub retention_subjects: usize,
    pub min_group: usize,
    pub behaviors: Vec<Behavior>,
}

/// Compares, for every event name, those who did it early with those who did
/// not, and ranks the events: first those whose samples tell something, by
/// lift (highest first), then those too few to tell, by how many did them.
/// `checklist_items` maps an event name to the items it completes.
pub fn discover(subjects: &[Subject], params: Params, checklist_items: &BTreeMap<String, Vec<String>>) -> Discovery {
    let window_ms = i64::from(params.window_days) * DAY_MS;
    let in_window: Vec<&Subject> = subjects.iter().filter(|s| params.now - s.first_seen >= window_ms).collect();
    let observed = |s: &&&Subject| params.now - s.first_seen >= RETAINED_UNTIL_DAY * DAY_MS;
    let retention_subjects = in_window.iter().filter(observed).count();
    let events: BTreeSet<&str> = in_window.iter().flat_map(|s| s.first_done.keys().map(String::as_str)).collect();

    let mut behaviors: Vec<Behavior> = events
        .into_iter()
        .map(|event| {
            let (did, did_not): (Vec<&Subject>, Vec<&Subject>) =
                in_window.iter().partition(|s| s.did_early(event, params.window_days));
            let retention = {
                let tally = |group: &[&Subject]| {
                    let observed: Vec<&&Subject> = group.iter().filter(observed).collect();
                    let kept = observed.iter().filter(|s| s.retained()).count();
                    Rate { count: kept, of: observed.len(), rate: stats::wilson(kept, observed.len()) }
                };
                let (a, b) = (tally(&did), tally(&did_not));
                let lift = stats::risk_ratio(a.count, a.of, b.count, b.of);
                RetentionComparison { did: a, did_not: b, lift }
            };
            let nps = {
                let points = |group: &[&Subject]| {
                    stats::nps_points(&group.iter().flat_map(|s| s.nps.iter().copied()).collect::<Vec<_>>())
                };
                means(&points(&did), &points(&did_not))
            };
            let health = {
                let values =
                    |group: &[&Subject]| group.iter().filter_map(|s| s.health.map(f64::from)).collect::<Vec<_>>();
                means(&values(&did), &values(&did_not))
            };
            let verdict = match retention.lift {
                _ if retention.did.of < params.min_group || retention.did_not.of < params.min_group => {
                    Verdict::TooFewToTell
                }
                Some(l) if l.low > 1.0 => Verdict::StayMoreOften,
                Some(l) if l.high < 1.0 => Verdict::StayLessOften,
                _ => Verdict::NoClearDifference,
            };
            let items = checklist_items.get(event).cloned().unwrap_or_default();
            let advice = advice(event, verdict, &items, params.min_group);
            Behavior {
                event: event.to_string(),
                did: did.len(),
                did_not: did_not.len(),
                retention,
                nps,
                health,
                verdict,
                checklist_items: items,
                advice,
            }
        })
        .collect();
    behaviors.sort_by(|a, b| {
        let tells = |x: &Behavior| x.verdict != Verdict::TooFewToTell;
        let lift = |x: &Behavior| x.retention.lift.map_or(0.0, |l| l.value);
        tells(b)
            .cmp(&tells(a))
            .then_with(|| if tells(a) { lift(b).total_cmp(&lift(a)) } else { b.did.cmp(&a.did) })
            .then_with(|| a.event.cmp(&b.event))
    });
    Discovery {
        window_days: params.window_days,
        subjects: in_window.len(),
        retention_subjects,
        min_group: params.min_group,
        behaviors,
    }
}

fn means(a: &[f64], b: &[f64]) -> MeanComparison {
    let mean = |v: &[f64]| stats::mean_var(v).map(|(m, _)| m);
    MeanComparison {
        did: mean(a),
        did_n: a.len(),
        did_not: mean(b),
        did_not_n: b.len(),
        difference: stats::mean_difference(a, b),
    }
}

fn advice(event: &str, verdict: Verdict, items: &[String], min_group: usize) -> String {
    let ab = |item: &str| {
        format!(
            "to learn whether it causes staying, show the item {item} to a random half of new users (an A/B split) \
             and compare their weeks 4–8"
        )
    };
    match (verdict, items.first()) {
        (Verdict::TooFewToTell, _) => {
            format!("too few to tell: fewer than {min_group} people in one of the groups whose weeks 4–8 are over")
        }
        (Verdict::StayMoreOften, Some(item)) => format!("already a checklist item ({item}); {}", ab(item)),
        (Verdict::StayMoreOften, None) => format!(
            "not a checklist item: suggest adding \"{event}\" to the onboarding checklist, {}",
            ab("as a new item")
        ),
        (Verdict::StayLessOften, _) => "those who do it early stay less often: look at what goes wrong there".into(),
        (Verdict::NoClearDifference, Some(item)) => {
            format!("checklist item {item} shows no clear difference in staying; {}", ab(item))
        }
        (Verdict::NoClearDifference, None) => "no clear difference in staying".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 200 * DAY_MS;

    /// A person first seen on `day`, who did `events` on the given day after
    /// that, and was active on the given days after first seen.
    fn subject(id: &str, day: i64, events: &[(&str, i64)], active: &[i64], nps: Option<u8>) -> Subject {
        let first_seen = day * DAY_MS + 3_600_000;
        Subject {
            id: id.into(),
            first_seen,
            first_done: events.iter().map(|(e, d)| (e.to_string(), first_seen + d * DAY_MS)).collect(),
            active_days: std::iter::once(day).chain(active.iter().map(|d| day + d)).collect(),
            nps: nps.into_iter().collect(),
            health: None,
        }
    }

    fn params() -> Params {
        Params { window_days: 7, now: NOW, min_group: 5 }
    }

    #[test]
    fn retained_means_active_on_days_28_to_55() {
        assert!(subject("a", 0, &[], &[28], None).retained());
        assert!(subject("a", 0, &[], &[55], None).retained());
        assert!(!subject("a", 0, &[], &[27, 56], None).retained());
        let s = subject("a", 0, &[("x", 7), ("y", 8)], &[], None);
        assert!(s.did_early("x", 7) && !s.did_early("y", 7) && !s.did_early("z", 7));
    }

    #[test]
    fn a_behavior_that_goes_with_staying_ranks_first_with_its_interval() {
        let mut people = Vec::new();
        // 10 invited in week one: 9 stayed. 10 did not: 2 stayed.
        for i in 0..10 {
            let active: &[i64] = if i < 9 { &[30] } else { &[] };
            people.push(subject(&format!("inv{i}"), 10, &[("invited_teammate", 2), ("opened", 0)], active, Some(10)));
        }
        for i in 0..10 {
            let active: &[i64] = if i < 2 { &[40] } else { &[] };
            people.push(subject(&format!("not{i}"), 10, &[("opened", 0)], active, Some(3)));
        }
        // A rare event, done by 2 people only.
        for i in [0, 11] {
            let at = people[i].first_seen + DAY_MS;
            people[i].first_done.insert("exported_pdf".into(), at);
        }
        // Invited too late to count: day 9 is outside the 7-day window.
        people.push(subject("late", 10, &[("invited_teammate", 9), ("opened", 0)], &[], None));
        // First seen 3 days ago: not in the comparison at all.
        people.push(subject("new", 197, &[("invited_teammate", 0)], &[], None));

        let items = BTreeMap::from([("invited_teammate".to_string(), vec!["get_started/invite_teammate".to_string()])]);
        let d = discover(&people, params(), &items);
        assert_eq!((d.subjects, d.retention_subjects), (21, 21));
        let names: Vec<&str> = d.behaviors.iter().map(|b| b.event.as_str()).collect();
        // `opened` was done by everyone: nobody to compare with, so too few to tell, like the rare one.
        assert_eq!(names, ["invited_teammate", "opened", "exported_pdf"]);

        let top = &d.behaviors[0];
        assert_eq!((top.did, top.did_not), (10, 11));
        assert_eq!((top.retention.did.count, top.retention.did.of), (9, 10));
        assert_eq!((top.retention.did_not.count, top.retention.did_not.of), (2, 11));
        let lift = top.retention.lift.unwrap();
        assert!((lift.value - (0.9 / (2.0 / 11.0))).abs() < 1e-9 && lift.low > 1.0, "{lift:?}");
        assert_eq!(top.verdict, Verdict::StayMoreOften);
        assert_eq!(top.checklist_items, ["get_started/invite_teammate"]);
        assert!(top.advice.contains("A/B split"), "{}", top.advice);
        // NPS: 10 promoters (100) against 10 detractors and one without an answer (−100).
        assert_eq!(
            (top.nps.did, top.nps.did_n, top.nps.did_not, top.nps.did_not_n),
            (Some(100.0), 10, Some(-100.0), 10)
        );
        assert_eq!(top.nps.difference.unwrap().value, 200.0);
        assert_eq!(top.health.difference, None);

        let rare = &d.behaviors[2];
        assert_eq!((rare.did, rare.verdict), (2, Verdict::TooFewToTell));
        assert!(rare.advice.starts_with("too few to tell"));
    }

    #[test]
    fn a_behavior_outside_the_checklist_is_suggested() {
        let mut people = Vec::new();
        for i in 0..8 {
            people.push(subject(&format!("a{i}"), 0, &[("used_api", 1)], &[29, 35], None));
            people.push(subject(&format!("b{i}"), 0, &[], if i == 0 { &[29] } else { &[] }, None));
        }
        let d = discover(&people, params(), &BTreeMap::new());
        assert_eq!(d.behaviors[0].verdict, Verdict::StayMoreOften);
        assert!(d.behaviors[0].advice.starts_with("not a checklist item: suggest adding \"used_api\""));
    }

    #[test]
    fn no_difference_and_health_means() {
        let mut people = Vec::new();
        for i in 0..10 {
            let mut s = subject(&format!("p{i}"), 0, if i % 2 == 0 { &[("x", 0)] } else { &[] }, &[30], None);
            s.health = Some(if i % 2 == 0 { 80 } else { 60 });
            people.push(s);
        }
        let d = discover(&people, params(), &BTreeMap::new());
        let x = &d.behaviors[0];
        assert_eq!(x.verdict, Verdict::NoClearDifference);
        assert_eq!((x.health.did, x.health.did_not), (Some(80.0), Some(60.0)));
        assert_eq!(x.health.difference.unwrap().value, 20.0);
    }
}
