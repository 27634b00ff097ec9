//! JSON → [`AccountsConfig`], all problems at once, each with its path.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::holds;
use super::AccountsProblem;
use crate::checklist::Predicate;
use crate::definition::{join, Reader};
use crate::definition::{DefinitionError, DefinitionErrors, Problem};

/// Tiers, the health model, stages and routing rules, validated together.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountsConfig {
    /// The account trait naming its owner (routing assigns cases to them).
    pub owner_trait: String,
    /// Which survey question is the NPS (its latest answer per user counts).
    pub nps_survey: String,
    pub nps_question: String,
    pub tiers: Vec<Tier>,
    pub signals: Vec<WeightedSignal>,
    pub stages: Vec<Stage>,
    pub routing: Vec<RoutingRule>,
}

/// A tier chosen from the account's traits (first match; the last is the default).
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    pub id: String,
    pub when: Vec<Predicate>,
}

/// A lifecycle stage chosen from the account's facts (first match; the last is the default).
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub id: String,
    pub when: Vec<Predicate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WeightedSignal {
    pub signal: Signal,
    /// Positive; the score divides by the sum of the weights.
    pub weight: f64,
}

/// One input of the health score, each worth 0–1.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// The NPS of the users' latest answers, −100..100 mapped to 0..1; no answers: 0.5.
    Nps,
    /// The users' mean checklist progress (done / items); no checklist: 0.5.
    Checklist,
    /// The share of these behaviors (`track` names) some user of the account did.
    Behaviors { events: Vec<String> },
    /// 1 up to `full_days` since the last activity, 0 from `zero_days`, linear between.
    Recency { full_days: f64, zero_days: f64 },
    /// Days with any activity in the last `window_days`, over `target_days`, capped at 1.
    Frequency { window_days: u32, target_days: u32 },
    /// 1 with no open case, 0 from `zero_at` open cases, linear between.
    OpenCases { zero_at: u32 },
    /// Billing facts the host's backend reports as `track` events: 0 while the
    /// latest of them is one of `failed` (e.g. `payment_failed`), 1 otherwise
    /// (none yet, or a `recovered` one such as `payment_succeeded` came after).
    Billing { failed: Vec<String>, recovered: Vec<String> },
    /// Revenue: the account's number trait `trait_name` (e.g. `mrr`, from
    /// `group` or a fact the host's backend sent) over `full_at`, capped at 1;
    /// unknown: 0.5.
    Revenue { trait_name: String, full_at: f64 },
    /// The runway to renewal: the account's date trait `trait_name` (epoch ms
    /// or `YYYY-MM-DD`); 1 from `full_days` before it, 0 within `zero_days`
    /// (or once it has passed), linear between; unknown: 0.5.
    Renewal { trait_name: String, full_days: f64, zero_days: f64 },
}

impl AccountsConfig {
    /// The account traits the host's backend may report as facts (the
    /// `revenue` and `renewal` signals' traits).
    pub fn fact_traits(&self) -> Vec<&str> {
        self.signals
            .iter()
            .filter_map(|ws| match &ws.signal {
                Signal::Revenue { trait_name, .. } | Signal::Renewal { trait_name, .. } => Some(trait_name.as_str()),
                _ => None,
            })
            .collect()
    }
}

impl Signal {
    pub const NAMES: &'static [&'static str] =
        &["nps", "checklist", "behaviors", "recency", "frequency", "open_cases", "billing", "revenue", "renewal"];

    pub fn name(&self) -> &'static str {
        match self {
            Signal::Nps => "nps",
            Signal::Checklist => "checklist",
            Signal::Behaviors { .. } => "behaviors",
            Signal::Recency { .. } => "recency",
            Signal::Frequency { .. } => "frequency",
            Signal::OpenCases { .. } => "open_cases",
            Signal::Billing { .. } => "billing",
            Signal::Revenue { .. } => "revenue",
            Signal::Renewal { .. } => "renewal",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoutingRule {
    pub id: String,
    /// Conditions on the account's facts (with `stage`); all must hold.
    pub when: Vec<Predicate>,
    /// Fire once per `track` event of this name (of a user of the account)
    /// while `when` holds; `None`: fire when `when` becomes true.
    pub event: Option<String>,
    pub actions: Vec<RouteAction>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RouteAction {
    /// A case assigned to the account's owner.
    Case { title: String },
    /// A signed webhook; the secret is the project's, or this environment variable's.
    Webhook { url: String, secret_env: Option<String> },
    /// Adds the account to a named list (e.g. `upsell`, `at_risk`).
    List { list: String },
}

impl AccountsConfig {
    pub fn from_json(text: &str) -> Result<AccountsConfig, DefinitionErrors> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            DefinitionErrors(vec![DefinitionError {
                path: String::new(),
                problem: Problem::InvalidJson(e.to_string()),
            }])
        })?;
        AccountsConfig::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<AccountsConfig, DefinitionErrors> {
        let mut r = Reader::default();
        match r.accounts(value) {
            Some(c) if r.errors.is_empty() => Ok(c),
            _ => Err(DefinitionErrors(r.errors)),
        }
    }

    /// The tier of an account with these traits.
    pub fn tier(&self, traits: &Map<String, Value>) -> &Tier {
        self.tiers.iter().find(|t| holds(&t.when, traits)).expect("the default tier matches everything")
    }

    /// The stage these facts put an account in.
    pub fn stage(&self, facts: &Map<String, Value>) -> &Stage {
        self.stages.iter().find(|s| holds(&s.when, facts)).expect("the default stage matches everything")
    }

    pub fn weights_total(&self) -> f64 {
        self.signals.iter().map(|s| s.weight).sum()
    }
}

const FIELDS: &[&str] = &["owner_trait", "nps", "tiers", "health", "stages", "routing"];
const NPS_FIELDS: &[&str] = &["survey", "question"];
const CHOICE_FIELDS: &[&str] = &["id", "when"];
const HEALTH_FIELDS: &[&str] = &["signals"];
const RULE_FIELDS: &[&str] = &["id", "when", "event", "do"];

impl Reader {
    fn accounts(&mut self, v: &Value) -> Option<AccountsConfig> {
        let map = self.object(v, "", FIELDS)?;
        let owner_trait = self.opt_text(map, "", "owner_trait").unwrap_or_else(|| "owner".into());
        let (mut nps_survey, mut nps_question) = ("nps".to_string(), "score".to_string());
        if let Some(nps) = map.get("nps").and_then(|n| self.object(n, "nps", NPS_FIELDS)) {
            nps_survey = self.opt_text(nps, "nps", "survey").unwrap_or(nps_survey);
            nps_question = self.opt_text(nps, "nps", "question").unwrap_or(nps_question);
        }
        let tiers = self.ordered_choices(map, "tiers").into_iter().map(|(id, when)| Tier { id, when }).collect();
        let stages = self.ordered_choices(map, "stages").into_iter().map(|(id, when)| Stage { id, when }).collect();
        let signals = match map.get("health") {
            None => {
                self.err("health", Problem::MissingField);
                Vec::new()
            }
            Some(h) => self.signals(h),
        };
        let mut routing = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        for (i, raw) in self.array(map, "", "routing").unwrap_or_default().iter().enumerate() {
            let path = format!("routing[{i}]");
            if let Some(rule) = self.routing_rule(raw, &path) {
                if let Some(first) = seen.insert(rule.id.clone(), path.clone()) {
                    self.err(join(&path, "id"), Problem::DuplicateId { id: rule.id.clone(), first });
                }
                routing.push(rule);
            }
        }
        Some(AccountsConfig { owner_trait, nps_survey, nps_question, tiers, signals, stages, routing })
    }

    /// `tiers` / `stages`: ids with optional conditions, the last without (the default).
    fn ordered_choices(&mut self, map: &Map<String, Value>, key: &str) -> Vec<(String, Vec<Predicate>)> {
        let Some(raw) = self.array(map, "", key) else {
            self.err(key, Problem::MissingField);
            return Vec::new();
        };
        if raw.is_empty() {
            self.err(key, Problem::Empty);
        }
        let mut out = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        for (i, c) in raw.iter().enumerate() {
            let path = format!("{key}[{i}]");
            let Some(m) = self.object(c, &path, CHOICE_FIELDS) else { continue };
            let id = self.text(m, &path, "id");
            let when = m.get("when").map(|w| self.predicates(w, &join(&path, "when"))).unwrap_or_default();
            if m.get("when").is_none() && i + 1 < raw.len() {
                self.err(&path, Problem::DefaultNotLast { id: id.clone().unwrap_or_default() });
            }
            let Some(id) = id else { continue };
            if let Some(first) = seen.insert(id.clone(), path.clone()) {
                self.err(join(&path, "id"), Problem::DuplicateId { id: id.clone(), first });
            }
            out.push((id, when));
        }
        if raw.last().is_some_and(|s| s.get("when").is_some()) {
            self.err(key, Problem::NoDefaultSegment);
        }
        out
    }

    fn signals(&mut self, v: &Value) -> Vec<WeightedSignal> {
        let Some(map) = self.object(v, "health", HEALTH_FIELDS) else { return Vec::new() };
        let Some(raw) = self.array(map, "health", "signals") else {
            self.err("health.signals", Problem::MissingField);
            return Vec::new();
        };
        if raw.is_empty() {
            self.err("health.signals", Problem::Empty);
        }
        let mut out = Vec::new();
        let mut seen: HashMap<&'static str, String> = HashMap::new();
        for (i, s) in raw.iter().enumerate() {
            let path = format!("health.signals[{i}]");
            let Some(m) = s.as_object() else {
                self.err(&path, Problem::WrongType { expected: "an object" });
                continue;
            };
            let Some(name) = self.text(m, &path, "signal") else { continue };
            let allowed: &'static [&'static str] = match name.as_str() {
                "nps" | "checklist" => &["signal", "weight"],
                "behaviors" => &["signal", "weight", "events"],
                "recency" => &["signal", "weight", "full_days", "zero_days"],
                "frequency" => &["signal", "weight", "window_days", "target_days"],
                "open_cases" => &["signal", "weight", "zero_at"],
                "billing" => &["signal", "weight", "failed", "recovered"],
                "revenue" => &["signal", "weight", "trait", "full_at"],
                "renewal" => &["signal", "weight", "trait", "full_days", "zero_days"],
                other => {
                    self.err(join(&path, "signal"), AccountsProblem::UnknownSignal { name: other.to_owned() });
                    continue;
                }
            };
            self.object(s, &path, allowed);
            let weight = self.number(m, &path, "weight", 0.0, 1000.0, None);
            let signal = match name.as_str() {
                "nps" => Some(Signal::Nps),
                "checklist" => Some(Signal::Checklist),
                "behaviors" => {
                    let mut events = Vec::new();
                    match self.array(m, &path, "events") {
                        None => self.err(join(&path, "events"), Problem::MissingField),
                        Some([]) => self.err(join(&path, "events"), Problem::Empty),
                        Some(list) => {
                            for (j, e) in list.iter().enumerate() {
                                events.extend(self.nonempty_str(e, format!("{path}.events[{j}]")));
                            }
                        }
                    }
                    Some(Signal::Behaviors { events })
                }
                "recency" => {
                    let full = self.number(m, &path, "full_days", 0.0, 3650.0, Some(3.0));
                    let zero = self.number(m, &path, "zero_days", 0.0, 3650.0, Some(30.0));
                    match (full, zero) {
                        (Some(full), Some(zero)) if zero <= full => {
                            self.err(
                                join(&path, "zero_days"),
                                AccountsProblem::NotAfter { earlier: "full_days".into() },
                            );
                            None
                        }
                        (Some(full_days), Some(zero_days)) => Some(Signal::Recency { full_days, zero_days }),
                        _ => None,
                    }
                }
                "frequency" => {
                    let window = self.number(m, &path, "window_days", 1.0, 365.0, Some(14.0));
                    let target = self.number(m, &path, "target_days", 1.0, 365.0, Some(7.0));
                    match (window, target) {
                        (Some(w), Some(t)) if t > w => {
                            self.err(
                                join(&path, "target_days"),
                                AccountsProblem::NotAfter { earlier: "window_days".into() },
                            );
                            None
                        }
                        (Some(w), Some(t)) => Some(Signal::Frequency { window_days: w as u32, target_days: t as u32 }),
                        _ => None,
                    }
                }
                "billing" => {
                    let mut names = |key: &str, default: &[&str]| match self.array(m, &path, key) {
                        None => default.iter().map(|s| s.to_string()).collect(),
                        Some(list) => {
                            let mut out = Vec::new();
                            for (j, e) in list.iter().enumerate() {
                                out.extend(self.nonempty_str(e, format!("{path}.{key}[{j}]")));
                            }
                            out
                        }
                    };
                    let failed = names("failed", &["payment_failed"]);
                    let recovered = names("recovered", &["payment_succeeded", "subscription_renewed"]);
                    Some(Signal::Billing { failed, recovered })
                }
                "revenue" => {
                    let trait_name = self.opt_text(m, &path, "trait").unwrap_or_else(|| "mrr".into());
                    self.number(m, &path, "full_at", 0.01, 1e12, None)
                        .map(|full_at| Signal::Revenue { trait_name, full_at })
                }
                "renewal" => {
                    let trait_name = self.opt_text(m, &path, "trait").unwrap_or_else(|| "renewal_date".into());
                    let full = self.number(m, &path, "full_days", 0.0, 3650.0, Some(90.0));
                    let zero = self.number(m, &path, "zero_days", 0.0, 3650.0, Some(14.0));
                    match (full, zero) {
                        (Some(full), Some(zero)) if full <= zero => {
                            self.err(
                                join(&path, "full_days"),
                                AccountsProblem::NotAfter { earlier: "zero_days".into() },
                            );
                            None
                        }
                        (Some(full_days), Some(zero_days)) => {
                            Some(Signal::Renewal { trait_name, full_days, zero_days })
                        }
                        _ => None,
                    }
                }
                _ => self
                    .number(m, &path, "zero_at", 1.0, 1000.0, Some(3.0))
                    .map(|z| Signal::OpenCases { zero_at: z as u32 }),
            };
            let (Some(signal), Some(weight)) = (signal, weight) else { continue };
            if let Some(first) = seen.insert(signal.name(), path.clone()) {
                self.err(join(&path, "signal"), Problem::DuplicateId { id: name.clone(), first });
            }
            out.push(WeightedSignal { signal, weight });
        }
        if !out.is_empty() && out.iter().all(|s| s.weight == 0.0) {
            self.err("health.signals", Problem::WrongType { expected: "at least one signal with a weight above 0" });
        }
        out
    }

    /// A number in `min..=max`; `default` when absent (`None`: required).
    fn number(
        &mut self,
        m: &Map<String, Value>,
        path: &str,
        key: &str,
        min: f64,
        max: f64,
        default: Option<f64>,
    ) -> Option<f64> {
        let p = join(path, key);
        match (m.get(key), default) {
            (None, Some(d)) => Some(d),
            (None, None) => {
                self.err(p, Problem::MissingField);
                None
            }
            (Some(v), _) => match v.as_f64() {
                Some(n) if (min..=max).contains(&n) => Some(n),
                _ => {
                    self.err(p, Problem::NumberOutOfRange { min, max, got: v.to_string() });
                    None
                }
            },
        }
    }

    fn routing_rule(&mut self, v: &Value, path: &str) -> Option<RoutingRule> {
        let m = self.object(v, path, RULE_FIELDS)?;
        let id = self.text(m, path, "id");
        let when = m.get("when").map(|w| self.predicates(w, &join(path, "when"))).unwrap_or_default();
        let event = self.opt_text(m, path, "event");
        if m.get("when").is_none() && event.is_none() {
            self.err(path, Problem::WrongType { expected: r#"a rule with "when" conditions, an "event", or both"# });
        }
        let mut actions = Vec::new();
        match self.array(m, path, "do") {
            None => self.err(join(path, "do"), Problem::MissingField),
            Some([]) => self.err(join(path, "do"), Problem::Empty),
            Some(list) => {
                for (i, a) in list.iter().enumerate() {
                    actions.extend(self.route_action(a, &format!("{path}.do[{i}]")));
                }
            }
        }
        Some(RoutingRule { id: id?, when, event, actions })
    }

    fn route_action(&mut self, v: &Value, path: &str) -> Option<RouteAction> {
        let kind = v.get("action").and_then(Value::as_str);
        let allowed: &'static [&'static str] = match kind {
            Some("case") => &["action", "title"],
            Some("webhook") => &["action", "url", "secret_env"],
            Some("list") => &["action", "list"],
            _ => {
                self.err(join(path, "action"), Problem::WrongType { expected: r#""case", "webhook" or "list""# });
                return None;
            }
        };
        let m = self.object(v, path, allowed)?;
        match kind {
            Some("case") => Some(RouteAction::Case { title: self.text(m, path, "title")? }),
            Some("webhook") => {
                let url = self.text(m, path, "url")?;
                let lower = url.to_ascii_lowercase();
                if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                    self.err(join(path, "url"), Problem::WrongType { expected: "an http(s) URL" });
                    return None;
                }
                Some(RouteAction::Webhook { url, secret_env: self.opt_text(m, path, "secret_env") })
            }
            _ => Some(RouteAction::List { list: self.text(m, path, "list")? }),
        }
    }
}
