//! JSON → [`Experiences`], all problems at once, each with its path.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::TargetingProblem;
use crate::checklist::Predicate;
use crate::definition::{join, Reader};
use crate::definition::{DefinitionErrors, Problem};

/// The experiences of one project's remote config, validated together.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiences {
    cooldown_hours: u32,
    /// Surveys first, then nudges, each in file order. Ids are unique across both.
    experiences: Vec<Experience>,
}

/// What claims the user's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A survey card.
    Survey,
    /// Opens one of the widget's panels unasked, e.g. the checklist to nudge
    /// the user towards finishing it.
    Nudge(Opens),
}

/// The panel a nudge opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Opens {
    Checklist,
    Help,
}

impl Kind {
    /// The kind's name in the file's `kinds` caps and in answers: `survey`, `nudge`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Survey => "survey",
            Kind::Nudge(_) => "nudge",
        }
    }
}

impl Opens {
    pub fn name(self) -> &'static str {
        match self {
            Opens::Checklist => "checklist",
            Opens::Help => "help",
        }
    }
}

/// One experience and the rules for showing it. Only validation makes one,
/// so evaluation never re-checks a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Experience {
    id: String,
    kind: Kind,
    targeting: Targeting,
    recontact_days: u32,
    priority: i32,
    /// The file's caps, copied in so one experience can be evaluated on its own.
    caps: Caps,
}

/// The attention budget shared by every experience of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps {
    /// Hours after any experience was shown before another may be.
    pub cooldown_hours: u32,
    /// Hours after an experience of the same kind was shown (`kinds.<kind>.cooldown_hours`).
    pub kind_cooldown_hours: u32,
    /// Experiences shown per browser session (tab), at most; `None`: no cap.
    pub per_session: Option<u32>,
}

/// Who, where and when. Every field is optional in JSON; an absent one
/// restricts nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Targeting {
    /// Page path patterns (`*` matches anything); any one must match. Empty: every page.
    pub urls: Vec<String>,
    pub event: Option<EventRule>,
    /// All must hold on the user's traits (same syntax as a checklist's `where`).
    pub traits: Vec<Predicate>,
    /// Segment ids; the user's segment must be one of them. Empty: every user.
    pub segments: Vec<String>,
    pub min_days_since_first_seen: u32,
    /// 0–100; 100 shows to everyone.
    pub sample_percent: u8,
    /// How long after page load to show it.
    pub delay_ms: u32,
}

/// Shown once the user has done `name` at least `count` times.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRule {
    pub name: String,
    pub count: u32,
}

/// A survey is not shown again to the same user within this many days.
pub const DEFAULT_RECONTACT_DAYS: u32 = 90;

impl Experiences {
    pub fn from_json(text: &str) -> Result<Experiences, DefinitionErrors> {
        crate::definition::validate_text(text, Reader::experiences)
    }

    pub fn from_value(value: &Value) -> Result<Experiences, DefinitionErrors> {
        crate::definition::validate(value, Reader::experiences)
    }

    /// Hours that must pass after any experience was shown before another is.
    pub fn cooldown_hours(&self) -> u32 {
        self.cooldown_hours
    }

    /// Surveys, then nudges, each in file order.
    pub fn all(&self) -> &[Experience] {
        &self.experiences
    }

    pub fn surveys(&self) -> impl Iterator<Item = &Experience> {
        self.experiences.iter().filter(|e| e.kind == Kind::Survey)
    }

    pub fn get(&self, id: &str) -> Option<&Experience> {
        self.experiences.iter().find(|s| s.id == id)
    }
}

impl Experience {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn targeting(&self) -> &Targeting {
        &self.targeting
    }

    /// 0: no recontact period.
    pub fn recontact_days(&self) -> u32 {
        self.recontact_days
    }

    /// Higher wins when several are eligible.
    pub fn priority(&self) -> i32 {
        self.priority
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn caps(&self) -> Caps {
        self.caps
    }
}

const TOP_FIELDS: &[&str] = &["cooldown_hours", "per_session", "kinds", "surveys", "nudges"];
const SURVEY_FIELDS: &[&str] = &["id", "targeting", "recontact_days", "priority"];
const NUDGE_FIELDS: &[&str] = &["id", "opens", "targeting", "recontact_days", "priority"];
const KIND_FIELDS: &[&str] = &["survey", "nudge"];
const KIND_CAP_FIELDS: &[&str] = &["cooldown_hours"];
const TARGETING_FIELDS: &[&str] =
    &["urls", "event", "traits", "segments", "min_days_since_first_seen", "sample_percent", "delay_ms"];
const EVENT_FIELDS: &[&str] = &["name", "count"];

/// Bounds of the numeric fields (inclusive): wide enough for any real use,
/// narrow enough that no arithmetic on them overflows.
const MAX_DAYS: i64 = 3650;
const MAX_COOLDOWN_HOURS: i64 = 24 * 365;
const MAX_DELAY_MS: i64 = 3_600_000;
const MAX_PRIORITY: i64 = 1000;
const MAX_PER_SESSION: i64 = 100;

impl Reader {
    fn experiences(&mut self, v: &Value) -> Option<Experiences> {
        let map = self.object(v, "", TOP_FIELDS)?;
        let cooldown_hours = self.whole(map, "", "cooldown_hours", 0, MAX_COOLDOWN_HOURS).unwrap_or(0) as u32;
        let per_session = self.whole(map, "", "per_session", 1, MAX_PER_SESSION).map(|n| n as u32);
        let mut kind_cooldown = [0u32; 2];
        if let Some(kinds) = map.get("kinds").and_then(|k| self.object(k, "kinds", KIND_FIELDS)) {
            for (i, name) in KIND_FIELDS.iter().enumerate() {
                let path = join("kinds", name);
                if let Some(caps) = kinds.get(*name).and_then(|c| self.object(c, &path, KIND_CAP_FIELDS)) {
                    kind_cooldown[i] =
                        self.whole(caps, &path, "cooldown_hours", 0, MAX_COOLDOWN_HOURS).unwrap_or(0) as u32;
                }
            }
        }
        if !map.contains_key("surveys") && !map.contains_key("nudges") {
            self.err("surveys", Problem::MissingField);
        }
        let caps = |kind: Kind| Caps {
            cooldown_hours,
            kind_cooldown_hours: kind_cooldown[usize::from(kind != Kind::Survey)],
            per_session,
        };
        let mut experiences = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        for key in ["surveys", "nudges"] {
            for (i, e) in self.array(map, "", key).unwrap_or_default().iter().enumerate() {
                let path = format!("{key}[{i}]");
                let Some(e) = self.experience(e, &path, key == "nudges", &caps) else { continue };
                if let Some(first) = seen.insert(e.id.clone(), path.clone()) {
                    self.err(join(&path, "id"), Problem::DuplicateId { id: e.id.clone(), first });
                }
                experiences.push(e);
            }
        }
        Some(Experiences { cooldown_hours, experiences })
    }

    fn experience(&mut self, v: &Value, path: &str, nudge: bool, caps: &dyn Fn(Kind) -> Caps) -> Option<Experience> {
        let map = self.object(v, path, if nudge { NUDGE_FIELDS } else { SURVEY_FIELDS })?;
        let id = self.text(map, path, "id");
        let kind = if nudge {
            let opens = match map.get("opens").map(|o| (o, o.as_str())) {
                Some((_, Some("checklist"))) => Some(Opens::Checklist),
                Some((_, Some("help"))) => Some(Opens::Help),
                Some((o, _)) => {
                    let problem = Problem::NotOneOf { expected: "\"checklist\" or \"help\"", got: o.to_string() };
                    self.err(join(path, "opens"), problem);
                    None
                }
                None => {
                    self.err(join(path, "opens"), Problem::MissingField);
                    None
                }
            };
            Kind::Nudge(opens?)
        } else {
            Kind::Survey
        };
        let targeting = match map.get("targeting") {
            None => Some(Targeting::everyone()),
            Some(t) => self.targeting(t, &join(path, "targeting")),
        };
        let recontact_days = self.whole(map, path, "recontact_days", 0, MAX_DAYS);
        let priority = self.whole(map, path, "priority", -MAX_PRIORITY, MAX_PRIORITY);
        Some(Experience {
            id: id?,
            kind,
            targeting: targeting?,
            recontact_days: recontact_days.map_or(DEFAULT_RECONTACT_DAYS, |d| d as u32),
            priority: priority.unwrap_or(0) as i32,
            caps: caps(kind),
        })
    }

    fn targeting(&mut self, v: &Value, path: &str) -> Option<Targeting> {
        let map = self.object(v, path, TARGETING_FIELDS)?;
        let urls = self.strings(map, path, "urls");
        for (i, u) in urls.iter().enumerate() {
            if !(u.starts_with('/') || u.starts_with('*')) {
                self.err(
                    format!("{}[{i}]", join(path, "urls")),
                    TargetingProblem::BadUrlPattern { pattern: u.clone() },
                );
            }
        }
        let event = map.get("event").and_then(|e| self.event_rule(e, &join(path, "event")));
        let traits = map.get("traits").map(|t| self.predicates(t, &join(path, "traits"))).unwrap_or_default();
        let segments = self.strings(map, path, "segments");
        let min_days = self.whole(map, path, "min_days_since_first_seen", 0, MAX_DAYS);
        let sample = self.whole(map, path, "sample_percent", 0, 100);
        let delay = self.whole(map, path, "delay_ms", 0, MAX_DELAY_MS);
        Some(Targeting {
            urls,
            event,
            traits,
            segments,
            min_days_since_first_seen: min_days.unwrap_or(0) as u32,
            sample_percent: sample.unwrap_or(100) as u8,
            delay_ms: delay.unwrap_or(0) as u32,
        })
    }

    fn event_rule(&mut self, v: &Value, path: &str) -> Option<EventRule> {
        let map = self.object(v, path, EVENT_FIELDS)?;
        let name = self.text(map, path, "name");
        let count = match map.get("count") {
            None => 1,
            Some(c) => match c.as_u64() {
                Some(n @ 1..=1_000_000) => n as u32,
                _ => {
                    self.err(join(path, "count"), Problem::BadCount);
                    1
                }
            },
        };
        Some(EventRule { name: name?, count })
    }

    /// A list of non-blank strings that, when present, is not empty (an empty
    /// list would read as both "nobody" and "everyone").
    fn strings(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Vec<String> {
        let Some(items) = self.array(map, path, key) else { return Vec::new() };
        let p = join(path, key);
        if items.is_empty() {
            self.err(&p, Problem::Empty);
        }
        items.iter().enumerate().filter_map(|(i, v)| self.nonempty_str(v, format!("{p}[{i}]"))).collect()
    }

    /// An optional whole number within `min..=max`.
    fn whole(&mut self, map: &Map<String, Value>, path: &str, key: &str, min: i64, max: i64) -> Option<i64> {
        let v = map.get(key)?;
        let p = join(path, key);
        let Value::Number(n) = v else {
            self.err(p, Problem::WrongType { expected: "a number" });
            return None;
        };
        match n.as_i64() {
            Some(x) if (min..=max).contains(&x) => Some(x),
            _ => {
                self.err(p, Problem::OutOfRange { min, max, got: n.to_string() });
                None
            }
        }
    }
}

impl Targeting {
    /// No restriction at all (what an absent `targeting` means).
    pub fn everyone() -> Targeting {
        Targeting {
            urls: Vec::new(),
            event: None,
            traits: Vec::new(),
            segments: Vec::new(),
            min_days_since_first_seen: 0,
            sample_percent: 100,
            delay_ms: 0,
        }
    }
}

impl Default for Targeting {
    fn default() -> Targeting {
        Targeting::everyone()
    }
}
