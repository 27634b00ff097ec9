//! The rules, in their fixed order, and the reason the first failing one gives.

use std::fmt;

use serde_json::{Map, Value};

use super::context::{Busy, Context, OnScreen};
use super::definition::{Experience, Kind, Opens};
use super::sampling::bucket;
use crate::checklist::{Op, Predicate};
use crate::help::path_matches;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// May it be shown, and when; or the first rule that blocks it.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Show at `show_at_ms`: now, or later when `delay_ms` after page load has not passed yet.
    Eligible {
        show_at_ms: i64,
    },
    Blocked(Reason),
}

impl Verdict {
    /// One experience's answer, as `why()` and the dry run give it:
    /// `{"id", "kind", "eligible": true, "show_at_ms"}`, or
    /// `{"id", "kind", "eligible": false, "rule", "reason", "data"}` with the
    /// blocking rule's name, the sentence, and its figures.
    pub fn explain(&self, experience: &Experience) -> Value {
        let mut out = serde_json::json!({ "id": experience.id(), "kind": experience.kind().name() });
        if let Kind::Nudge(opens) = experience.kind() {
            out["opens"] = opens.name().into();
        }
        match self {
            Verdict::Eligible { show_at_ms } => {
                out["eligible"] = true.into();
                out["show_at_ms"] = (*show_at_ms).into();
            }
            Verdict::Blocked(r) => {
                out["eligible"] = false.into();
                out["rule"] = r.rule().name().into();
                out["reason"] = r.to_string().into();
                out["data"] = r.data();
            }
        }
        out
    }

    pub fn is_eligible(&self) -> bool {
        matches!(self, Verdict::Eligible { .. })
    }

    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Verdict::Eligible { .. } => None,
            Verdict::Blocked(r) => Some(r),
        }
    }
}

/// The rules, in the order [`evaluate`] checks them. The attention budget
/// comes first (what is on screen, whether the moment is right, what the
/// user has just seen), then targeting from the cheapest and most visible
/// condition to sampling, which is last so that a sampled-out user is one
/// who would otherwise have seen the experience. [`Rule::Queue`] is the
/// scheduler's, not a check of one experience: an eligible experience that
/// waits behind a higher-priority one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    OnScreen,
    Busy,
    SessionCap,
    Recontact,
    KindCooldown,
    Cooldown,
    Available,
    Url,
    Segment,
    Traits,
    FirstSeen,
    Event,
    Sampling,
    Queue,
}

impl Rule {
    pub const ORDER: [Rule; 13] = [
        Rule::OnScreen,
        Rule::Busy,
        Rule::SessionCap,
        Rule::Recontact,
        Rule::KindCooldown,
        Rule::Cooldown,
        Rule::Available,
        Rule::Url,
        Rule::Segment,
        Rule::Traits,
        Rule::FirstSeen,
        Rule::Event,
        Rule::Sampling,
    ];

    /// A stable machine name (for `why()` answers and the dry run).
    pub fn name(self) -> &'static str {
        match self {
            Rule::OnScreen => "on_screen",
            Rule::Busy => "busy",
            Rule::SessionCap => "session_cap",
            Rule::KindCooldown => "kind_cooldown",
            Rule::Available => "available",
            Rule::Queue => "queued",
            Rule::Recontact => "recontact",
            Rule::Cooldown => "cooldown",
            Rule::Url => "url",
            Rule::Segment => "segment",
            Rule::Traits => "traits",
            Rule::FirstSeen => "first_seen",
            Rule::Event => "event",
            Rule::Sampling => "sampling",
        }
    }
}

/// Why an experience is not shown, with the data behind it. `Display` gives
/// a sentence an operator understands.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// One thing of ours on screen at a time.
    OnScreen { what: OnScreen },
    /// Not while the page or the user is busy.
    Busy { busy: Busy },
    /// Enough was shown in this browser session.
    SessionCap { shown: u32, cap: u32 },
    /// An experience of the same kind was shown within the kind's cooldown.
    KindCooldown { kind: &'static str, hours_ago: i64, needs_hours: u32, eligible_at_ms: i64 },
    /// A nudge's panel has nothing to show this user.
    Unavailable { opens: Opens },
    /// Eligible, but `first` (of higher priority, or equal and first by id) goes first.
    Queued { first: String, first_priority: i32, priority: i32 },
    /// This survey was shown within its recontact period.
    Recontact { days_ago: i64, needs_days: u32, eligible_at_ms: i64 },
    /// Some survey was shown within the global cooldown.
    Cooldown { hours_ago: i64, needs_hours: u32, eligible_at_ms: i64 },
    /// The page path matches none of the patterns.
    Url { path: String, patterns: Vec<String> },
    /// The user's segment (if any) is not one of those targeted.
    Segment { segment: Option<String>, wanted: Vec<String> },
    /// The first trait condition that fails: `value` is `None` when the trait is missing or null.
    Trait { key: String, value: Option<Value>, op: Op },
    /// The user is too new.
    FirstSeen { days_ago: i64, needs_days: u32, eligible_at_ms: i64 },
    /// The user has not done the event often enough yet.
    Event { name: String, count: u32, needs: u32 },
    /// Outside the sample: `bucket` (see [`bucket`](super::bucket)) is not below `percent`.
    SampledOut { bucket: u8, percent: u8 },
}

impl Reason {
    pub fn rule(&self) -> Rule {
        match self {
            Reason::OnScreen { .. } => Rule::OnScreen,
            Reason::Busy { .. } => Rule::Busy,
            Reason::SessionCap { .. } => Rule::SessionCap,
            Reason::KindCooldown { .. } => Rule::KindCooldown,
            Reason::Unavailable { .. } => Rule::Available,
            Reason::Queued { .. } => Rule::Queue,
            Reason::Recontact { .. } => Rule::Recontact,
            Reason::Cooldown { .. } => Rule::Cooldown,
            Reason::Url { .. } => Rule::Url,
            Reason::Segment { .. } => Rule::Segment,
            Reason::Trait { .. } => Rule::Traits,
            Reason::FirstSeen { .. } => Rule::FirstSeen,
            Reason::Event { .. } => Rule::Event,
            Reason::SampledOut { .. } => Rule::Sampling,
        }
    }

    /// The reason's figures as JSON (snake_case keys), for `why()` answers,
    /// the debug overlay and the dry run: `{"days_ago": 12, "needs_days": 90, …}`.
    pub fn data(&self) -> Value {
        use serde_json::json;
        match self {
            Reason::OnScreen { what: OnScreen::Survey(id) } => json!({ "survey": id }),
            Reason::OnScreen { what: OnScreen::Panel(p) } => json!({ "panel": p.name() }),
            Reason::Busy { busy } => json!({ "busy": busy.name() }),
            Reason::SessionCap { shown, cap } => json!({ "shown": shown, "cap": cap }),
            Reason::Recontact { days_ago, needs_days, eligible_at_ms } => {
                json!({ "days_ago": days_ago, "needs_days": needs_days, "eligible_at_ms": eligible_at_ms })
            }
            Reason::KindCooldown { kind, hours_ago, needs_hours, eligible_at_ms } => json!({
                "kind": kind, "hours_ago": hours_ago, "needs_hours": needs_hours, "eligible_at_ms": eligible_at_ms
            }),
            Reason::Cooldown { hours_ago, needs_hours, eligible_at_ms } => {
                json!({ "hours_ago": hours_ago, "needs_hours": needs_hours, "eligible_at_ms": eligible_at_ms })
            }
            Reason::Unavailable { opens } => json!({ "opens": opens.name() }),
            Reason::Url { path, patterns } => json!({ "path": path, "patterns": patterns }),
            Reason::Segment { segment, wanted } => json!({ "segment": segment, "wanted": wanted }),
            Reason::Trait { key, value, op } => json!({ "trait": key, "value": value, "needs": Needs(op).to_string() }),
            Reason::FirstSeen { days_ago, needs_days, eligible_at_ms } => {
                json!({ "days_ago": days_ago, "needs_days": needs_days, "eligible_at_ms": eligible_at_ms })
            }
            Reason::Event { name, count, needs } => json!({ "event": name, "count": count, "needs": needs }),
            Reason::SampledOut { bucket, percent } => json!({ "bucket": bucket, "percent": percent }),
            Reason::Queued { first, first_priority, priority } => {
                json!({ "first": first, "first_priority": first_priority, "priority": priority })
            }
        }
    }

    /// For reasons that pass with time alone: when this one stops blocking
    /// (a scheduler can look again then; a later rule may still block).
    pub fn eligible_at_ms(&self) -> Option<i64> {
        match self {
            Reason::Recontact { eligible_at_ms, .. }
            | Reason::Cooldown { eligible_at_ms, .. }
            | Reason::KindCooldown { eligible_at_ms, .. }
            | Reason::FirstSeen { eligible_at_ms, .. } => Some(*eligible_at_ms),
            _ => None,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::OnScreen { what } => write!(f, "waiting: {what} is on screen"),
            Reason::Busy { busy } => write!(f, "waiting: {busy}"),
            Reason::SessionCap { shown, cap } => write!(f, "session cap: {shown} shown in this session, at most {cap}"),
            Reason::KindCooldown { kind, hours_ago, needs_hours, .. } => {
                write!(f, "{kind} cooldown: a {kind} was shown {} ago, needs {needs_hours}", plural(*hours_ago, "hour"))
            }
            Reason::Unavailable { opens: Opens::Checklist } => {
                write!(f, "nothing to open: no unfinished checklist for this user")
            }
            Reason::Unavailable { opens: Opens::Help } => write!(f, "nothing to open: no help content"),
            Reason::Queued { first, first_priority, priority } => {
                write!(f, "waiting: {first:?} goes first (priority {first_priority}, this one {priority})")
            }
            Reason::Recontact { days_ago, needs_days, .. } => {
                write!(f, "recontact period: last shown {} ago, needs {needs_days}", plural(*days_ago, "day"))
            }
            Reason::Cooldown { hours_ago, needs_hours, .. } => {
                write!(f, "cooldown: something was shown {} ago, needs {needs_hours}", plural(*hours_ago, "hour"))
            }
            Reason::Url { path, patterns } => write!(f, "URL {path} does not match {}", patterns.join(" or ")),
            Reason::Segment { segment: Some(s), wanted } => {
                write!(f, "segment {s:?} is not one of {}", list(wanted.iter().map(|w| format!("{w:?}"))))
            }
            Reason::Segment { segment: None, wanted } => {
                write!(f, "no segment, needs one of {}", list(wanted.iter().map(|w| format!("{w:?}"))))
            }
            Reason::Trait { key, value, op } => {
                write!(f, "trait {key}: ")?;
                match (value, op) {
                    (None, Op::Exists(true)) => write!(f, "missing, needs a value"),
                    (Some(v), Op::Exists(false)) => write!(f, "{v} is set, needs none"),
                    (None, op) => write!(f, "missing, needs {}", Needs(op)),
                    (Some(v), op) => write!(f, "{v} is not {}", Needs(op)),
                }
            }
            Reason::FirstSeen { days_ago, needs_days, .. } => {
                write!(f, "first seen {} ago, needs {needs_days}", plural(*days_ago, "day"))
            }
            Reason::Event { name, count, needs } => write!(f, "event {name}: {count} of {needs}"),
            Reason::SampledOut { bucket, percent } => write!(f, "sampled out (bucket {bucket} ≥ {percent})"),
        }
    }
}

/// What an operator asks for, as the end of "is not …".
struct Needs<'a>(&'a Op);

impl fmt::Display for Needs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Op::Equals(x) => write!(f, "{x}"),
            Op::In(xs) => write!(f, "one of {}", list(xs.iter().map(Value::to_string))),
            Op::Gte(x) => write!(f, "≥ {x}"),
            Op::Gt(x) => write!(f, "> {x}"),
            Op::Lte(x) => write!(f, "≤ {x}"),
            Op::Lt(x) => write!(f, "< {x}"),
            Op::Exists(true) => write!(f, "set"),
            Op::Exists(false) => write!(f, "unset"),
        }
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// Whether `experience` may be shown in `ctx`: the rules of [`Rule::ORDER`]
/// one by one, stopping at the first that blocks.
///
/// Times before "now" count as now-ish: a last showing stamped in the future
/// (another device's clock) blocks as if it had just happened.
pub fn evaluate(experience: &Experience, ctx: &Context) -> Verdict {
    for rule in Rule::ORDER {
        if let Some(reason) = check(rule, experience, ctx) {
            return Verdict::Blocked(reason);
        }
    }
    let delay = i64::from(experience.targeting().delay_ms);
    Verdict::Eligible { show_at_ms: ctx.now_ms.max(ctx.page_loaded_at_ms.saturating_add(delay)) }
}

fn check(rule: Rule, exp: &Experience, ctx: &Context) -> Option<Reason> {
    let t = exp.targeting();
    let since = |at: i64| ctx.now_ms.saturating_sub(at).max(0);
    match rule {
        Rule::OnScreen => ctx.on_screen.as_ref().map(|s| Reason::OnScreen { what: s.clone() }),
        Rule::Busy => ctx.busy.map(|busy| Reason::Busy { busy }),
        Rule::SessionCap => {
            let cap = exp.caps().per_session?;
            (ctx.session_shown >= cap).then_some(Reason::SessionCap { shown: ctx.session_shown, cap })
        }
        Rule::KindCooldown => {
            let needs_hours = exp.caps().kind_cooldown_hours;
            let kind = exp.kind().name();
            let last = *ctx.history.last_kind_ms.get(kind)?;
            let period = i64::from(needs_hours) * HOUR_MS;
            (since(last) < period).then(|| Reason::KindCooldown {
                kind,
                hours_ago: since(last) / HOUR_MS,
                needs_hours,
                eligible_at_ms: last.saturating_add(period),
            })
        }
        Rule::Available => match exp.kind() {
            Kind::Survey => None,
            Kind::Nudge(opens) => (!ctx.openable.contains(&opens)).then_some(Reason::Unavailable { opens }),
        },
        Rule::Queue => None,
        Rule::Recontact => {
            let needs_days = exp.recontact_days();
            let last = *ctx.history.last_shown_ms.get(exp.id())?;
            let period = i64::from(needs_days) * DAY_MS;
            (since(last) < period).then(|| Reason::Recontact {
                days_ago: since(last) / DAY_MS,
                needs_days,
                eligible_at_ms: last.saturating_add(period),
            })
        }
        Rule::Cooldown => {
            let needs_hours = exp.caps().cooldown_hours;
            let last = ctx.history.last_any_ms?;
            let period = i64::from(needs_hours) * HOUR_MS;
            (since(last) < period).then(|| Reason::Cooldown {
                hours_ago: since(last) / HOUR_MS,
                needs_hours,
                eligible_at_ms: last.saturating_add(period),
            })
        }
        Rule::Url => (!t.urls.is_empty() && !t.urls.iter().any(|p| path_matches(p, &ctx.path)))
            .then(|| Reason::Url { path: ctx.path.clone(), patterns: t.urls.clone() }),
        Rule::Segment => (!t.segments.is_empty() && !ctx.segment.as_ref().is_some_and(|s| t.segments.contains(s)))
            .then(|| Reason::Segment { segment: ctx.segment.clone(), wanted: t.segments.clone() }),
        Rule::Traits => first_failing(&t.traits, &ctx.traits),
        Rule::FirstSeen => {
            let needs_days = t.min_days_since_first_seen;
            let period = i64::from(needs_days) * DAY_MS;
            (since(ctx.first_seen_ms) < period).then(|| Reason::FirstSeen {
                days_ago: since(ctx.first_seen_ms) / DAY_MS,
                needs_days,
                eligible_at_ms: ctx.first_seen_ms.saturating_add(period),
            })
        }
        Rule::Event => {
            let rule = t.event.as_ref()?;
            let count = ctx.event_counts.get(&rule.name).copied().unwrap_or(0);
            (count < rule.count).then(|| Reason::Event { name: rule.name.clone(), count, needs: rule.count })
        }
        Rule::Sampling => {
            let b = bucket(exp.id(), &ctx.user_key);
            (b >= t.sample_percent).then_some(Reason::SampledOut { bucket: b, percent: t.sample_percent })
        }
    }
}

/// The first condition that does not hold, by trait name and then operator
/// name, alphabetically: a JSON object's keys have no order, and the widget
/// and the collector must name the same one.
fn first_failing(preds: &[Predicate], traits: &Map<String, Value>) -> Option<Reason> {
    let mut preds: Vec<&Predicate> = preds.iter().collect();
    crate::sort::by_key(&mut preds, |p| &p.key);
    preds.into_iter().find_map(|p| {
        let v = traits.get(&p.key);
        let mut ops: Vec<&Op> = p.ops.iter().collect();
        crate::sort::by_key(&mut ops, |op| op_name(op));
        let op = ops.into_iter().find(|op| !op.holds(v))?;
        Some(Reason::Trait { key: p.key.clone(), value: v.filter(|v| !v.is_null()).cloned(), op: op.clone() })
    })
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Equals(_) => "equals",
        Op::In(_) => "in",
        Op::Gte(_) => ">=",
        Op::Gt(_) => ">",
        Op::Lte(_) => "<=",
        Op::Lt(_) => "<",
        Op::Exists(_) => "exists",
    }
}
