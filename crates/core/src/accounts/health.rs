//! The health score of one account: a weighted mean of signals, each worth
//! 0–1, scaled to 0–100, with every signal's contribution in points and in
//! words, so a success manager can see *why* an account scores what it does.
//! Then the facts stages and routing rules read, and the stage.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::config::{AccountsConfig, Signal};
use crate::nps::Category;

const DAY_MS: i64 = 86_400_000;

/// What is known about one account's users, gathered by the caller (the
/// collector reads it from stored events). `now` is passed in: core reads no clock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    pub now: i64,
    /// Users tied to the account (by `group`).
    pub users: usize,
    /// The account's traits (from `group`, merged oldest to newest).
    pub traits: Map<String, Value>,
    /// The latest NPS score of each user who answered.
    pub nps_scores: Vec<u8>,
    /// Each user's checklist progress as (items done, items).
    pub checklist: Vec<(usize, usize)>,
    /// Names of the `track` events any user of the account made.
    pub behaviors: BTreeSet<String>,
    /// `ts` of every event of the account's users.
    pub activity: Vec<i64>,
    /// Open cases of the account (its users' and its own).
    pub open_cases: u32,
    /// `(ts, name)` of the `track` events about the account: its users', and
    /// those naming it in `props.account_id` (facts from the host's backend,
    /// such as `payment_failed`, that no user of it made).
    pub account_events: Vec<(i64, String)>,
}

/// The score and how each signal made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// 0–100.
    pub score: u8,
    pub contributions: Vec<Contribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub signal: String,
    pub weight: f64,
    /// The signal's own value, 0–1.
    pub value: f64,
    /// What it adds to the score (one decimal); the points add up to the score, give or take rounding.
    pub points: f64,
    /// What it could add at most.
    pub max_points: f64,
    /// The input in words, e.g. "3 latest answers: 0 promoters, 3 detractors (NPS -100)".
    pub detail: String,
}

/// Tier, health, facts and stage of one account.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub tier: String,
    pub health: Health,
    pub stage: String,
    /// Why the stage: its conditions with the values that met them.
    pub stage_reason: String,
    /// What stages and routing rules read (with `stage`).
    pub facts: Facts,
}

/// Named values of an account: `health`, `nps` (absent without answers),
/// `checklist` (percent), `days_inactive` and `age_days` (since the first
/// activity; both absent without activity),
/// `active_days`, `open_cases`, `users`, `tier`, `stage`, `account.<trait>`.
pub type Facts = Map<String, Value>;

/// The score of `inputs` under `config`'s weights.
pub fn score(config: &AccountsConfig, inputs: &Inputs) -> Health {
    let total = config.weights_total();
    let mut contributions = Vec::new();
    let mut sum = 0.0;
    for ws in &config.signals {
        let (value, detail) = signal_value(&ws.signal, inputs);
        let value = value.clamp(0.0, 1.0);
        let max_points = if total > 0.0 { ws.weight / total * 100.0 } else { 0.0 };
        let points = value * max_points;
        sum += points;
        contributions.push(Contribution {
            signal: ws.signal.name().into(),
            weight: ws.weight,
            value: round(value, 3),
            points: round(points, 1),
            max_points: round(max_points, 1),
            detail,
        });
    }
    Health { score: sum.round().clamp(0.0, 100.0) as u8, contributions }
}

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

/// The NPS (−100..100) of these scores; `None` without any.
pub fn nps_of(scores: &[u8]) -> Option<i64> {
    if scores.is_empty() {
        return None;
    }
    let n = scores.len() as f64;
    let p = scores.iter().filter(|s| Category::of(**s) == Some(Category::Promoter)).count() as f64;
    let d = scores.iter().filter(|s| Category::of(**s) == Some(Category::Detractor)).count() as f64;
    Some(((p - d) / n * 100.0).round() as i64)
}

/// Whole days since the account's latest activity; `None` without activity.
pub fn days_inactive(inputs: &Inputs) -> Option<i64> {
    inputs.activity.iter().max().map(|last| ((inputs.now - last).max(0)) / DAY_MS)
}

/// Distinct days (UTC) with activity in the `window` days up to `now`.
pub fn active_days(inputs: &Inputs, window: u32) -> usize {
    let from = inputs.now - i64::from(window) * DAY_MS;
    inputs
        .activity
        .iter()
        .filter(|t| **t > from && **t <= inputs.now)
        .map(|t| t.div_euclid(DAY_MS))
        .collect::<BTreeSet<_>>()
        .len()
}

/// Percent of checklist items done, over all users; `None` without checklists.
pub fn checklist_percent(inputs: &Inputs) -> Option<f64> {
    let with_items: Vec<f64> =
        inputs.checklist.iter().filter(|(_, n)| *n > 0).map(|(d, n)| *d as f64 / *n as f64).collect();
    (!with_items.is_empty()).then(|| with_items.iter().sum::<f64>() / with_items.len() as f64 * 100.0)
}

fn signal_value(signal: &Signal, i: &Inputs) -> (f64, String) {
    match signal {
        Signal::Nps => match nps_of(&i.nps_scores) {
            None => (0.5, "no NPS answers yet (counted as neutral)".into()),
            Some(nps) => {
                let count = |c: Category| i.nps_scores.iter().filter(|s| Category::of(**s) == Some(c)).count();
                let n = i.nps_scores.len();
                (
                    (nps as f64 + 100.0) / 200.0,
                    format!(
                        "{n} user{} answered: {} promoter{}, {} passive, {} detractor{} (NPS {nps})",
                        if n == 1 { "" } else { "s" },
                        count(Category::Promoter),
                        if count(Category::Promoter) == 1 { "" } else { "s" },
                        count(Category::Passive),
                        count(Category::Detractor),
                        if count(Category::Detractor) == 1 { "" } else { "s" },
                    ),
                )
            }
        },
        Signal::Checklist => match checklist_percent(i) {
            None => (0.5, "no checklist progress known (counted as neutral)".into()),
            Some(p) => (p / 100.0, format!("{p:.0}% of checklist items done across {} user(s)", i.checklist.len())),
        },
        Signal::Behaviors { events } => {
            let done: Vec<&str> = events.iter().filter(|e| i.behaviors.contains(*e)).map(String::as_str).collect();
            let detail = if done.is_empty() {
                format!("none of {} success behaviors reached", events.len())
            } else {
                format!("{} of {} success behaviors reached: {}", done.len(), events.len(), done.join(", "))
            };
            (done.len() as f64 / events.len().max(1) as f64, detail)
        }
        Signal::Recency { full_days, zero_days } => match i.activity.iter().max() {
            None => (0.0, "no activity".into()),
            Some(last) => {
                let days = (i.now - last).max(0) as f64 / DAY_MS as f64;
                let v = if days <= *full_days { 1.0 } else { 1.0 - (days - full_days) / (zero_days - full_days) };
                (v, format!("last activity {days:.0} day(s) ago (full marks up to {full_days}, none from {zero_days})"))
            }
        },
        Signal::Frequency { window_days, target_days } => {
            let n = active_days(i, *window_days);
            (
                n as f64 / f64::from(*target_days),
                format!("active on {n} of the last {window_days} days (target {target_days})"),
            )
        }
        Signal::Billing { failed, recovered } => {
            let latest = |names: &[String]| {
                i.account_events.iter().filter(|(_, n)| names.contains(n)).max_by_key(|(ts, _)| *ts).cloned()
            };
            let days = |ts: i64| (i.now - ts).max(0) / DAY_MS;
            match (latest(failed), latest(recovered)) {
                (None, _) => (1.0, format!("no billing problem reported ({})", failed.join(", "))),
                (Some((f, name)), Some((r, fix))) if r >= f => {
                    (1.0, format!("{name} {} day(s) ago, then {fix} {} day(s) ago", days(f), days(r)))
                }
                (Some((f, name)), _) => (
                    0.0,
                    format!(
                        "{name} reported {} day(s) ago and not followed by {}",
                        days(f),
                        if recovered.is_empty() {
                            "anything that clears it".to_string()
                        } else {
                            recovered.join(" or ")
                        }
                    ),
                ),
            }
        }
        Signal::Revenue { trait_name, full_at } => match i.traits.get(trait_name).and_then(number) {
            None => (0.5, format!("no {trait_name} known (counted as neutral)")),
            Some(x) => (x / full_at, format!("{trait_name} {x} (full marks from {full_at})")),
        },
        Signal::Renewal { trait_name, full_days, zero_days } => match i.traits.get(trait_name).and_then(date_ms) {
            None => (0.5, format!("no {trait_name} known (counted as neutral)")),
            Some(at) => {
                let days = (at - i.now) as f64 / DAY_MS as f64;
                let v = if days >= *full_days {
                    1.0
                } else if days <= *zero_days {
                    0.0
                } else {
                    (days - zero_days) / (full_days - zero_days)
                };
                let when = if days < 0.0 {
                    format!("renewal was due {:.0} day(s) ago", -days)
                } else {
                    format!("renews in {days:.0} day(s)")
                };
                (v, format!("{when} (full marks from {full_days} days before, none within {zero_days})"))
            }
        },
        Signal::OpenCases { zero_at } => {
            let v = 1.0 - f64::from(i.open_cases) / f64::from(*zero_at);
            (v, format!("{} open case(s) (none counts fully, {zero_at} or more count nothing)", i.open_cases))
        }
    }
}

/// A trait as a number: a JSON number, or a string holding one (`"450.00"`).
fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()).filter(|x: &f64| x.is_finite())
}

/// A trait as a time: epoch ms, or a `YYYY-MM-DD` date (midnight UTC; a
/// longer ISO timestamp counts by its date).
pub fn date_ms(v: &Value) -> Option<i64> {
    if let Some(ms) = v.as_i64() {
        return Some(ms);
    }
    let s = v.as_str()?.get(..10)?;
    let mut parts = s.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm): no calendar crate in core.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * DAY_MS)
}

/// Tier, score, facts and stage of one account.
pub fn assess(config: &AccountsConfig, inputs: &Inputs) -> Assessment {
    let tier = config.tier(&inputs.traits).id.clone();
    let health = score(config, inputs);
    let mut facts = Map::new();
    facts.insert("health".into(), json!(health.score));
    if let Some(nps) = nps_of(&inputs.nps_scores) {
        facts.insert("nps".into(), json!(nps));
    }
    if let Some(p) = checklist_percent(inputs) {
        facts.insert("checklist".into(), json!(p.round() as i64));
    }
    if let Some(d) = days_inactive(inputs) {
        facts.insert("days_inactive".into(), json!(d));
    }
    if let Some(first) = inputs.activity.iter().min() {
        facts.insert("age_days".into(), json!((inputs.now - first).max(0) / DAY_MS));
    }
    let window = config
        .signals
        .iter()
        .find_map(|s| match s.signal {
            Signal::Frequency { window_days, .. } => Some(window_days),
            _ => None,
        })
        .unwrap_or(14);
    facts.insert("active_days".into(), json!(active_days(inputs, window)));
    facts.insert("open_cases".into(), json!(inputs.open_cases));
    facts.insert("users".into(), json!(inputs.users));
    facts.insert("tier".into(), json!(tier));
    for (k, v) in &inputs.traits {
        facts.insert(format!("account.{k}"), v.clone());
    }
    let stage = config.stage(&facts);
    let stage_reason = super::explain(&stage.when, &facts);
    let stage_id = stage.id.clone();
    facts.insert("stage".into(), json!(stage_id));
    Assessment { tier, health, stage: stage_id, stage_reason, facts }
}
