//! The `streams` part of the automations file, checked like the rest of it
//! (every problem named by its JSON path, all at once):
//!
//! ```json
//! "streams": [
//!   { "id": "warehouse", "url": "https://warehouse.example/touchpoint", "types": ["*"],
//!     "project": "pk_demo", "secret_env": "WAREHOUSE_SECRET",
//!     "batch_size": 100, "settle_ms": 5000, "first_retry_ms": 1000, "max_retry_ms": 300000, "timeout_ms": 10000 }
//! ]
//! ```
//!
//! `types` lists event types (`survey_answered`, `track`, …) or is `["*"]`.
//! `project` (default: every project) limits the stream to one project.
//! Batches are signed like webhooks: with `secret` / `secret_env`, else the
//! project's `webhook_secret`. The rest tune delivery (see [`Delivery`]).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use crate::automations::reading::{join, Context, Problems};

/// One stream, valid.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    pub id: String,
    pub url: String,
    /// Only this project's events; `None`: every project's.
    pub project: Option<String>,
    pub types: EventTypes,
    /// `None`: sign with the project's `webhook_secret`.
    pub secret: Option<String>,
    pub delivery: Delivery,
}

impl StreamSpec {
    pub fn applies_to(&self, project_key: &str) -> bool {
        self.project.as_deref().is_none_or(|p| p == project_key)
    }
}

/// Which event types a stream carries.
#[derive(Debug, Clone, PartialEq)]
pub enum EventTypes {
    All,
    Only(BTreeSet<String>),
}

impl EventTypes {
    pub fn includes(&self, kind: &str) -> bool {
        match self {
            EventTypes::All => true,
            EventTypes::Only(set) => set.contains(kind),
        }
    }

    /// `None` for every type.
    pub fn names(&self) -> Option<Vec<String>> {
        match self {
            EventTypes::All => None,
            EventTypes::Only(set) => Some(set.iter().cloned().collect()),
        }
    }
}

/// How a stream delivers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery {
    /// Most events in one request.
    pub batch_size: u32,
    /// Only events that arrived at least this long ago are sent (see [`super`] for why).
    pub settle_ms: i64,
    /// Wait after the first failed attempt; doubled after each further one.
    pub first_retry_ms: i64,
    pub max_retry_ms: i64,
    /// Per request.
    pub timeout_ms: i64,
}

impl Default for Delivery {
    fn default() -> Delivery {
        Delivery { batch_size: 100, settle_ms: 5_000, first_retry_ms: 1_000, max_retry_ms: 300_000, timeout_ms: 10_000 }
    }
}

impl Delivery {
    /// How long to wait after failed attempt number `attempt` (1-based).
    /// There is no last attempt: a stream never skips an event, it waits
    /// (and the dashboard shows it failing).
    pub fn delay_after(&self, attempt: i64) -> i64 {
        let doublings = u32::try_from((attempt - 1).clamp(0, 40)).unwrap_or(40);
        self.first_retry_ms.saturating_mul(1_i64 << doublings).min(self.max_retry_ms)
    }
}

/// Every event type of the `/v1` protocol, from its published schema (so
/// a new kind is known here without editing this file).
fn known_types() -> BTreeSet<String> {
    touchpoint_protocol::schema::documents()
        .into_iter()
        .filter_map(|(path, _)| path.strip_prefix("events/")?.strip_suffix(".json").map(str::to_string))
        .collect()
}

/// Reads `streams` (absent: none).
pub(crate) fn streams(
    p: &mut Problems,
    raw: Option<&Value>,
    cx: &Context,
    project_secrets: &HashMap<String, String>,
) -> Vec<StreamSpec> {
    let list = match raw {
        None => return Vec::new(),
        Some(Value::Array(list)) => list,
        Some(_) => {
            p.at("streams", "must be a list of streams".into());
            return Vec::new();
        }
    };
    let known = known_types();
    let mut ids = HashSet::new();
    let mut out = Vec::new();
    for (i, raw) in list.iter().enumerate() {
        let at = format!("streams[{i}]");
        if let Some(spec) = stream(p, raw, &at, cx, project_secrets, &known) {
            if !ids.insert(spec.id.clone()) {
                p.at(&join(&at, "id"), format!("{:?} is already the id of another stream", spec.id));
            }
            out.push(spec);
        }
    }
    out
}

fn stream(
    p: &mut Problems,
    raw: &Value,
    at: &str,
    cx: &Context,
    project_secrets: &HashMap<String, String>,
    known: &BTreeSet<String>,
) -> Option<StreamSpec> {
    let map = p.object(raw, at)?;
    p.only(
        map,
        at,
        &[
            "id",
            "url",
            "types",
            "project",
            "secret",
            "secret_env",
            "batch_size",
            "settle_ms",
            "first_retry_ms",
            "max_retry_ms",
            "timeout_ms",
        ],
    );
    let id = p.str(map, at, "id").map(str::to_string);
    if let Some(id) = &id {
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            p.at(&join(at, "id"), format!("{id:?} may only use letters, digits, _, - and ."));
        }
    }
    let url = p.str(map, at, "url").map(str::to_string);
    if let Some(url) = &url {
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(char::is_whitespace) {
            p.at(&join(at, "url"), format!("{url:?} is not an http(s) URL"));
        }
    }
    let types = event_types(p, map.get("types"), &join(at, "types"), known);
    let project = p.opt_str(map, at, "project").map(str::to_string);
    let unknown_project = project.as_ref().is_some_and(|key| cx.projects.by_public_key(key).is_none());
    if let (Some(key), true) = (&project, unknown_project) {
        p.at(&join(at, "project"), format!("{key:?} is not the public key of a configured project"));
    }
    let secret = match p.secret(map, at, "secret", cx) {
        Some(s) => Some(Some(s)),
        None if map.contains_key("secret") || map.contains_key("secret_env") || unknown_project => None,
        None => {
            let keys: Vec<&str> = match &project {
                Some(key) => vec![key.as_str()],
                None => cx.projects.public_keys().collect(),
            };
            let missing: Vec<&str> = keys.into_iter().filter(|k| !project_secrets.contains_key(*k)).collect();
            if missing.is_empty() {
                Some(None)
            } else {
                let message = format!(
                    "a stream's batches are signed: give \"secret\" (or \"secret_env\") here, or \
                     projects.<key>.webhook_secret for {}",
                    missing.join(", ")
                );
                p.at(&join(at, "secret"), message);
                None
            }
        }
    };
    let mut delivery = Delivery::default();
    if let Some(n) = p.opt_int(map, at, "batch_size", 1..=1000) {
        delivery.batch_size = u32::try_from(n).unwrap_or(100);
    }
    for (key, range, into) in [
        ("settle_ms", 0..=600_000, &mut delivery.settle_ms),
        ("first_retry_ms", 1..=86_400_000, &mut delivery.first_retry_ms),
        ("max_retry_ms", 1..=7 * 86_400_000, &mut delivery.max_retry_ms),
        ("timeout_ms", 100..=120_000, &mut delivery.timeout_ms),
    ] {
        if let Some(v) = p.opt_int(map, at, key, range) {
            *into = v;
        }
    }
    if delivery.max_retry_ms < delivery.first_retry_ms {
        p.at(&join(at, "max_retry_ms"), format!("must be at least first_retry_ms ({})", delivery.first_retry_ms));
    }
    Some(StreamSpec { id: id?, url: url?, project, types: types?, secret: secret?, delivery })
}

fn event_types(p: &mut Problems, raw: Option<&Value>, at: &str, known: &BTreeSet<String>) -> Option<EventTypes> {
    let list = match raw {
        None => {
            p.at(at, "is required (a list of event types, or [\"*\"] for every type)".into());
            return None;
        }
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(_) => {
            p.at(at, "must be a non-empty list of event types, or [\"*\"] for every type".into());
            return None;
        }
    };
    let mut names = BTreeSet::new();
    let mut all = false;
    let mut ok = true;
    for (i, v) in list.iter().enumerate() {
        let at = format!("{at}[{i}]");
        match v.as_str() {
            Some("*") => all = true,
            Some(name) if known.contains(name) => {
                if !names.insert(name.to_string()) {
                    p.at(&at, format!("{name:?} is listed twice"));
                }
            }
            Some(name) => {
                let list: Vec<&str> = known.iter().map(String::as_str).collect();
                p.at(&at, format!("{name:?} is not an event type (types: {})", list.join(", ")));
                ok = false;
            }
            None => {
                p.at(&at, format!("must be an event type (a string), not {v}"));
                ok = false;
            }
        }
    }
    if all && (!names.is_empty() || list.len() > 1) {
        p.at(at, "\"*\" already means every type: list it alone".into());
        return None;
    }
    match (ok, all) {
        (false, _) => None,
        (true, true) => Some(EventTypes::All),
        (true, false) => Some(EventTypes::Only(names)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_never_gives_up() {
        let d = Delivery { first_retry_ms: 100, max_retry_ms: 1000, ..Delivery::default() };
        let delays: Vec<i64> = (1..=6).map(|n| d.delay_after(n)).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(d.delay_after(10_000), 1000);
    }

    #[test]
    fn the_known_types_are_the_protocols() {
        let known = known_types();
        for kind in ["survey_answered", "track", "identify", "group", "checklist_item_completed", "help_case_created"] {
            assert!(known.contains(kind), "{kind}");
        }
        assert!(!known.contains("survey"));
    }
}
