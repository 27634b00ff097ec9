//! The automations file (`--automations FILE`), read by hand from
//! `serde_json::Value` so that every problem names its JSON path, checked
//! against the surveys, checklists and projects this collector serves, and
//! reported all at once (`automations.json: rules[1].when.score.max: …`).
//!
//! ```json
//! {
//!   "email": { "from": "Acme <success@acme.example>", "templates_dir": "templates" },
//!   "webhooks": { "first_retry_ms": 5000, "max_retry_ms": 3600000, "max_attempts": 10, "timeout_ms": 10000 },
//!   "projects": { "pk_demo": { "webhook_secret": "whsec_…" } },
//!   "churn_scan_every_s": 3600,
//!   "response_settle_ms": 600000,
//!   "rules": [
//!     { "id": "detractor", "project": "pk_demo",
//!       "when": { "score": { "survey": "nps", "min": 0, "max": 6 } },
//!       "do": [ { "action": "webhook", "url": "https://crm.example/hooks/nps" },
//!               { "action": "case", "title": "Detractor: reply personally" } ] }
//!   ]
//! }
//! ```
//!
//! Triggers (`when`, exactly one key): `answer` (`survey`, `question`, and
//! `value` or `in`), `score` (`survey`, optional `question` — the survey's
//! NPS question by default — `min`, `max`), `ending_action` (`action`,
//! optional `survey`, `ending`, and any further fields the action must carry,
//! e.g. `"code": "trial_extension_14d"`), `checklist_completed` (optional
//! `checklist`), `churn_risk` (`days`). Actions (`do`): `webhook` (`url`,
//! optional `secret` / `secret_env`, else the project's `webhook_secret` /
//! `webhook_secret_env`), `email` (`template`, optional `to`, default
//! `{{traits.email}}`), `case` (`title`).
//!
//! A rule may say `"require_verified": true`: it then runs only for a
//! verified user (a project with an `identity_secret`, and a trigger event
//! whose user id came with its proof or from the host's backend).
//!
//! `streams` (event streams to the host's backend) are read by
//! [`crate::streams::config`] with the same problem list; a file of streams
//! alone needs no `rules`.
//!
//! Survey triggers (`answer`, `score`, `ending_action`) act on the
//! response's final answers, once per response: when the response closes
//! (completed or dismissed), or `response_settle_ms` (default ten minutes)
//! after its last answer if it never closes (the user left the page).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use touchpoint_core::survey::{QuestionKind, Survey};

pub use super::reading::Context;
use super::reading::{join, Problems};
use super::smtp::{is_loopback, SmtpSettings, SmtpTls};
use super::template::{LocalizedTemplate, Template};
use crate::config_file::{self, Definition, FileError};

/// A whole automations file, valid.
#[derive(Debug)]
pub struct AutomationsConfig {
    pub file: PathBuf,
    pub rules: Vec<Rule>,
    pub email_from: String,
    /// A project's own From address (`projects.<key>.email_from`), by public key.
    pub project_email_from: HashMap<String, String>,
    /// The `List-Unsubscribe` target (`email.unsubscribe`: an `https:` or
    /// `mailto:` URL, placeholders allowed); by default a `mailto:` to the From address.
    pub unsubscribe: Option<Vec<super::template::Part>>,
    /// Send over SMTP; `None`: write `.eml` files to the outbox folder.
    pub smtp: Option<SmtpSettings>,
    /// By name (the file name without `.eml`).
    pub templates: HashMap<String, LocalizedTemplate>,
    pub retry: RetryPolicy,
    /// Webhook signing secrets of projects, by public key.
    pub project_secrets: HashMap<String, String>,
    pub churn_scan_every_ms: i64,
    /// How long after a response's last answer its answer rules act, if it neither completes nor is dismissed.
    pub response_settle_ms: i64,
    /// The dashboard's address (`dashboard_url`), for links to cases in chat messages.
    pub dashboard_url: Option<String>,
    /// Event streams: every accepted event forwarded to the host's backend ([`crate::streams`]).
    pub streams: Vec<crate::streams::StreamSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Wait after the first failed attempt; doubled after each further one.
    pub first_retry_ms: i64,
    pub max_retry_ms: i64,
    /// Attempts in all, the first included; after the last failure the delivery is `failed`.
    pub max_attempts: i64,
    /// Per webhook request.
    pub timeout_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { first_retry_ms: 5_000, max_retry_ms: 3_600_000, max_attempts: 10, timeout_ms: 10_000 }
    }
}

impl RetryPolicy {
    /// How long to wait after failed attempt number `attempt` (1-based):
    /// `first_retry_ms`, then twice that, … capped at `max_retry_ms`.
    pub fn delay_after(&self, attempt: i64) -> i64 {
        let doublings = u32::try_from((attempt - 1).clamp(0, 40)).unwrap_or(40);
        self.first_retry_ms.saturating_mul(1_i64 << doublings).min(self.max_retry_ms)
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    /// Only this project's events; `None`: every project's.
    pub project: Option<String>,
    pub when: Trigger,
    pub actions: Vec<ActionSpec>,
    /// Runs only for a verified user (see the module docs).
    pub require_verified: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `survey_answered` to `question` with one of `values` (a multi-choice
    /// answer matches if it includes one).
    Answer { survey: String, question: String, values: Vec<Value> },
    /// `survey_answered` with a score in `min..=max`.
    Score { survey: String, question: String, min: u8, max: u8 },
    /// `survey_completed` whose actions include one named `action` carrying
    /// every field of `params` with the same value.
    EndingAction { survey: Option<String>, ending: Option<String>, action: String, params: Map<String, Value> },
    /// `checklist_completed` (of `checklist`, or any).
    ChecklistCompleted { checklist: Option<String> },
    /// An identified user who completed no checklist item within `days` of
    /// first being seen (the churn-risk report), found by a periodic scan.
    ChurnRisk { days: i64 },
}

impl Trigger {
    /// The event type this trigger reads one event at a time (through the
    /// automation queue); `None` for the survey triggers, which read a whole
    /// response ([`Trigger::survey`]), and the scanned churn risk.
    pub fn event_type(&self) -> Option<&'static str> {
        match self {
            Trigger::ChecklistCompleted { .. } => Some("checklist_completed"),
            Trigger::Answer { .. }
            | Trigger::Score { .. }
            | Trigger::EndingAction { .. }
            | Trigger::ChurnRisk { .. } => None,
        }
    }

    /// For a survey trigger, the survey it reads: `Some(None)` for any survey.
    pub fn survey(&self) -> Option<Option<&str>> {
        match self {
            Trigger::Answer { survey, .. } | Trigger::Score { survey, .. } => Some(Some(survey)),
            Trigger::EndingAction { survey, .. } => Some(survey.as_deref()),
            Trigger::ChecklistCompleted { .. } | Trigger::ChurnRisk { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionSpec {
    /// `secret: None`: sign with the project's `webhook_secret`.
    Webhook {
        url: String,
        secret: Option<String>,
    },
    Email {
        template: String,
        to: String,
    },
    Case {
        title: String,
    },
    /// A Slack incoming webhook ([`super::slack`]).
    Slack {
        url: String,
    },
    /// A Microsoft Teams incoming webhook: the same message as an Adaptive Card.
    Teams {
        url: String,
    },
}

const DEFAULT_FROM: &str = "Touchpoint <touchpoint@localhost>";
const DEFAULT_TO: &str = "{{traits.email}}";
const DEFAULT_CHURN_SCAN_S: i64 = 3600;
const DEFAULT_RESPONSE_SETTLE_MS: i64 = 10 * 60 * 1000;

impl AutomationsConfig {
    /// The From of `project_key`'s emails: its own, or `email.from`.
    pub fn from_for(&self, project_key: &str) -> &str {
        self.project_email_from.get(project_key).map_or(self.email_from.as_str(), String::as_str)
    }

    /// Reads and validates `file`; templates are read from `email.templates_dir`
    /// (default `templates`), relative to the file's folder.
    pub fn load(file: &Path, cx: &Context) -> Result<AutomationsConfig, FileError> {
        let base = file.parent().unwrap_or(Path::new("."));
        config_file::load(Definition::Automations, file, |text| AutomationsConfig::from_json(text, file, base, cx))
    }

    /// `file` names the config in messages; `base` is where relative paths start.
    pub fn from_json(text: &str, file: &Path, base: &Path, cx: &Context) -> Result<AutomationsConfig, Vec<String>> {
        let root: Value = serde_json::from_str(text).map_err(|e| vec![format!("not valid JSON: {e}")])?;
        let mut p = Problems::default();
        let Some(root) = p.object(&root, "") else { return Err(p.0) };
        p.only(
            root,
            "",
            &[
                "email",
                "webhooks",
                "projects",
                "churn_scan_every_s",
                "response_settle_ms",
                "rules",
                "streams",
                "dashboard_url",
            ],
        );

        // email
        let mut email_from = DEFAULT_FROM.to_string();
        let mut templates_dir = base.join("templates");
        let mut smtp = None;
        let mut unsubscribe = None;
        if let Some(email) = root.get("email").and_then(|v| p.object(v, "email")) {
            p.only(email, "email", &["from", "templates_dir", "smtp", "unsubscribe"]);
            if let Some(spec) = email.get("smtp").and_then(|v| p.object(v, "email.smtp")) {
                smtp = p.smtp(spec, "email.smtp", cx);
            }
            if let Some(url) = p.opt_str(email, "email", "unsubscribe") {
                let lower = url.to_ascii_lowercase();
                if !(lower.starts_with("https://") || lower.starts_with("mailto:")) || url.contains(char::is_whitespace)
                {
                    p.at("email.unsubscribe", format!("{url:?} must be an https: or mailto: URL without spaces"));
                }
                match Template::parse_url(url) {
                    Ok(parts) => unsubscribe = Some(parts),
                    Err(e) => p.at("email.unsubscribe", e),
                }
            }
            if let Some(from) = p.opt_str(email, "email", "from") {
                if from.contains(['\r', '\n']) || !from.contains('@') {
                    p.at("email.from", format!("{from:?} is not an address (e.g. \"Acme <success@acme.example>\")"));
                }
                email_from = from.to_string();
            }
            if let Some(dir) = p.opt_str(email, "email", "templates_dir") {
                templates_dir = base.join(dir);
            }
        }

        // webhooks
        let mut retry = RetryPolicy::default();
        if let Some(w) = root.get("webhooks").and_then(|v| p.object(v, "webhooks")) {
            p.only(w, "webhooks", &["first_retry_ms", "max_retry_ms", "max_attempts", "timeout_ms"]);
            let int = |p: &mut Problems, key: &str, range: std::ops::RangeInclusive<i64>, into: &mut i64| {
                if let Some(v) = p.opt_int(w, "webhooks", key, range) {
                    *into = v;
                }
            };
            int(&mut p, "first_retry_ms", 1..=86_400_000, &mut retry.first_retry_ms);
            int(&mut p, "max_retry_ms", 1..=7 * 86_400_000, &mut retry.max_retry_ms);
            int(&mut p, "max_attempts", 1..=100, &mut retry.max_attempts);
            int(&mut p, "timeout_ms", 100..=120_000, &mut retry.timeout_ms);
            if retry.max_retry_ms < retry.first_retry_ms {
                p.at("webhooks.max_retry_ms", format!("must be at least first_retry_ms ({})", retry.first_retry_ms));
            }
        }

        // projects
        let mut project_secrets = HashMap::new();
        let mut project_email_from = HashMap::new();
        if let Some(projects) = root.get("projects").and_then(|v| p.object(v, "projects")) {
            for (key, spec) in projects {
                let at = format!("projects.{key}");
                if cx.projects.by_public_key(key).is_none() {
                    p.at(&at, format!("{key:?} is not the public key of a configured project"));
                }
                let Some(spec) = p.object(spec, &at) else { continue };
                p.only(spec, &at, &["webhook_secret", "webhook_secret_env", "email_from"]);
                if let Some(secret) = p.secret(spec, &at, "webhook_secret", cx) {
                    project_secrets.insert(key.clone(), secret);
                }
                if let Some(from) = p.opt_str(spec, &at, "email_from") {
                    if from.contains(['\r', '\n']) || !from.contains('@') {
                        p.at(
                            &join(&at, "email_from"),
                            format!("{from:?} is not an address (e.g. \"Acme <success@acme.example>\")"),
                        );
                    }
                    project_email_from.insert(key.clone(), from.to_string());
                }
            }
        }

        let dashboard_url = p.opt_str(root, "", "dashboard_url").map(|url| {
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(char::is_whitespace) {
                p.at("dashboard_url", format!("{url:?} is not an http(s) URL"));
            }
            url.trim_end_matches('/').to_string()
        });
        let churn_scan_every_ms =
            p.opt_int(root, "", "churn_scan_every_s", 1..=7 * 86_400).unwrap_or(DEFAULT_CHURN_SCAN_S) * 1000;
        let response_settle_ms =
            p.opt_int(root, "", "response_settle_ms", 100..=86_400_000).unwrap_or(DEFAULT_RESPONSE_SETTLE_MS);

        // rules
        let mut rules = Vec::new();
        let mut template_names = BTreeMap::new();
        match root.get("rules") {
            // A file may only declare streams.
            None if root.contains_key("streams") => {}
            None => p.at("rules", "is required (a list of rules)".into()),
            Some(Value::Array(list)) => {
                let mut ids = HashSet::new();
                for (i, raw) in list.iter().enumerate() {
                    let at = format!("rules[{i}]");
                    if let Some(rule) = p.rule(raw, &at, cx, &project_secrets, &mut template_names) {
                        if !ids.insert(rule.id.clone()) {
                            p.at(&format!("{at}.id"), format!("{:?} is already the id of another rule", rule.id));
                        }
                        rules.push(rule);
                    }
                }
            }
            Some(_) => p.at("rules", "must be a list of rules".into()),
        }

        let streams = crate::streams::config::streams(&mut p, root.get("streams"), cx, &project_secrets);

        // templates, each read once however many rules use it
        let mut templates = HashMap::new();
        for (name, used_at) in template_names {
            match LocalizedTemplate::load(&templates_dir, &name) {
                Ok(t) => {
                    templates.insert(name, t);
                }
                Err(errors) => p.0.extend(errors.into_iter().map(|e| format!("{used_at}: {e}"))),
            }
        }

        if !p.0.is_empty() {
            return Err(p.0);
        }
        Ok(AutomationsConfig {
            file: file.to_path_buf(),
            rules,
            email_from,
            project_email_from,
            unsubscribe,
            smtp,
            templates,
            retry,
            project_secrets,
            churn_scan_every_ms,
            response_settle_ms,
            streams,
            dashboard_url,
        })
    }
}

impl Problems {
    /// `email.smtp`: `host`, `port`, `tls` (`starttls` | `implicit` | `none`),
    /// `user_env` and `password_env` (names of environment variables).
    fn smtp(&mut self, spec: &Map<String, Value>, at: &str, cx: &Context) -> Option<SmtpSettings> {
        self.only(spec, at, &["host", "port", "tls", "user_env", "password_env"]);
        let host = self.str(spec, at, "host");
        let tls = match self.opt_str(spec, at, "tls") {
            None => Some(SmtpTls::StartTls),
            Some(t) => SmtpTls::parse(t).or_else(|| {
                self.at(&join(at, "tls"), format!("{t:?} is not one of starttls, implicit, none"));
                None
            }),
        };
        let port = self.opt_int(spec, at, "port", 1..=65_535);
        if let (Some(host), Some(SmtpTls::None)) = (host, tls) {
            if !is_loopback(host) {
                self.at(
                    &join(at, "tls"),
                    format!(
                        "\"none\" sends passwords and users' answers in clear text: allowed only to a loopback \
                         host (127.0.0.1, ::1, localhost), not {host:?}; use starttls or implicit"
                    ),
                );
            }
        }
        let mut var = |key: &str| -> Option<Option<String>> {
            let Some(name) = self.opt_str(spec, at, key) else { return Some(None) };
            match (cx.env)(name).filter(|v| !v.is_empty()) {
                Some(v) => Some(Some(v)),
                None => {
                    self.at(&join(at, key), format!("the environment variable {name} is not set"));
                    None
                }
            }
        };
        let user = var("user_env")?;
        let password = var("password_env")?;
        let credentials = match (user, password) {
            (Some(u), Some(pw)) => Some((u, pw)),
            (None, None) => None,
            _ => {
                self.at(at, "give both user_env and password_env, or neither".into());
                return None;
            }
        };
        let tls = tls?;
        Some(SmtpSettings {
            host: host?.to_string(),
            port: port.map_or(tls.default_port(), |p| u16::try_from(p).unwrap_or(25)),
            tls,
            credentials,
        })
    }

    fn rule(
        &mut self,
        raw: &Value,
        at: &str,
        cx: &Context,
        project_secrets: &HashMap<String, String>,
        templates: &mut BTreeMap<String, String>,
    ) -> Option<Rule> {
        let map = self.object(raw, at)?;
        self.only(map, at, &["id", "project", "when", "do", "require_verified"]);
        let id = self.str(map, at, "id").map(str::to_string);
        if let Some(id) = &id {
            if !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
                self.at(&join(at, "id"), format!("{id:?} may only use letters, digits, _, - and ."));
            }
        }
        let project = self.opt_str(map, at, "project").map(str::to_string);
        if let Some(key) = &project {
            if cx.projects.by_public_key(key).is_none() {
                self.at(&join(at, "project"), format!("{key:?} is not the public key of a configured project"));
            }
        }
        let require_verified = match map.get("require_verified") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.at(&join(at, "require_verified"), format!("must be true or false, not {other}"));
                false
            }
        };
        if require_verified {
            let verifies =
                |key: &str| cx.projects.by_public_key(key).is_some_and(|p| p.project.identity_secret.is_some());
            let could_run = match &project {
                Some(key) => verifies(key),
                None => cx.projects.public_keys().any(verifies),
            };
            if !could_run {
                let whose = match project.as_deref() {
                    Some(key) => format!("project {key:?} does not verify identities (it has no identity_secret)"),
                    None => "no project verifies identities (none has an identity_secret)".to_string(),
                };
                self.at(
                    &join(at, "require_verified"),
                    format!("{whose}, so no user is ever verified and this rule could never run"),
                );
            }
        }
        let when = match map.get("when") {
            None => {
                self.at(&join(at, "when"), "is required".into());
                None
            }
            Some(v) => self.trigger(v, &join(at, "when"), cx),
        };
        let mut actions = Vec::new();
        match map.get("do") {
            Some(Value::Array(list)) if !list.is_empty() => {
                for (i, a) in list.iter().enumerate() {
                    let at = format!("{at}.do[{i}]");
                    if let Some(a) = self.action(a, &at, cx, project.as_deref(), project_secrets, templates) {
                        actions.push(a);
                    }
                }
            }
            Some(_) => self.at(&join(at, "do"), "must be a non-empty list of actions".into()),
            None => self.at(&join(at, "do"), "is required (a list of actions)".into()),
        }
        Some(Rule { id: id?, project, when: when?, actions, require_verified })
    }

    fn trigger(&mut self, raw: &Value, at: &str, cx: &Context) -> Option<Trigger> {
        const KINDS: [&str; 5] = ["answer", "score", "ending_action", "checklist_completed", "churn_risk"];
        let map = self.object(raw, at)?;
        if map.len() != 1 {
            self.at(at, format!("must have exactly one of: {}", KINDS.join(", ")));
            return None;
        }
        let (kind, spec) = map.iter().next()?;
        let at = join(at, kind);
        let spec = self.object(spec, &at)?;
        match kind.as_str() {
            "answer" => {
                self.only(spec, &at, &["survey", "question", "value", "in"]);
                let survey = self.survey(spec, &at, cx);
                let question = self.str(spec, &at, "question");
                let values = match (spec.get("value"), spec.get("in")) {
                    (Some(v), None) => vec![v.clone()],
                    (None, Some(Value::Array(list))) if !list.is_empty() => list.clone(),
                    (None, Some(_)) => {
                        self.at(&join(&at, "in"), "must be a non-empty list of values".into());
                        return None;
                    }
                    _ => {
                        self.at(&at, "needs \"value\" or \"in\" (not both)".into());
                        return None;
                    }
                };
                let (survey, question) = (survey?, question?);
                let q = self.question(survey, question, &join(&at, "question"))?;
                let values_at = if spec.contains_key("in") { join(&at, "in") } else { join(&at, "value") };
                for v in &values {
                    let ok = match q.kind() {
                        QuestionKind::SingleChoice { choices } | QuestionKind::MultiChoice { choices } => {
                            v.as_str().is_some_and(|id| choices.iter().any(|c| c.id == id))
                        }
                        kind @ (QuestionKind::Nps { .. } | QuestionKind::Rating { .. }) => v
                            .as_u64()
                            .and_then(|n| u8::try_from(n).ok())
                            .is_some_and(|n| kind.scale().is_some_and(|s| s.contains(&n))),
                        QuestionKind::Text { .. } => v.is_string(),
                    };
                    if !ok {
                        let expected = match q.kind() {
                            QuestionKind::SingleChoice { choices } | QuestionKind::MultiChoice { choices } => {
                                let ids: Vec<&str> = choices.iter().map(|c| c.id.as_str()).collect();
                                format!("a choice id of {question:?} ({})", ids.join(", "))
                            }
                            QuestionKind::Text { .. } => "a string".into(),
                            kind => {
                                let s = kind.scale().unwrap_or(0..=0);
                                format!("a score from {} to {}", s.start(), s.end())
                            }
                        };
                        self.at(&values_at, format!("{v} is not {expected}"));
                    }
                }
                Some(Trigger::Answer { survey: survey.id().to_string(), question: question.to_string(), values })
            }
            "score" => {
                self.only(spec, &at, &["survey", "question", "min", "max"]);
                let survey = self.survey(spec, &at, cx)?;
                let question = match self.opt_str(spec, &at, "question") {
                    Some(q) => self.question(survey, q, &join(&at, "question"))?,
                    None => match survey.nps_question() {
                        Some(q) => q,
                        None => {
                            self.at(&join(&at, "question"), format!("survey {:?} has no nps question", survey.id()));
                            return None;
                        }
                    },
                };
                let Some(scale) = question.kind().scale() else {
                    let message =
                        format!("{:?} is a {} question, not a score question", question.id(), question.kind().name());
                    self.at(&join(&at, "question"), message);
                    return None;
                };
                let (lo, hi) = (i64::from(*scale.start()), i64::from(*scale.end()));
                let min = self.opt_int(spec, &at, "min", lo..=hi).unwrap_or(lo);
                let max = self.opt_int(spec, &at, "max", lo..=hi).unwrap_or(hi);
                if !spec.contains_key("min") && !spec.contains_key("max") {
                    self.at(&at, "needs \"min\", \"max\" or both".into());
                }
                if min > max {
                    self.at(&join(&at, "max"), format!("must be at least min ({min})"));
                }
                Some(Trigger::Score {
                    survey: survey.id().to_string(),
                    question: question.id().to_string(),
                    min: u8::try_from(min).ok()?,
                    max: u8::try_from(max).ok()?,
                })
            }
            "ending_action" => {
                let action = self.str(spec, &at, "action")?.to_string();
                let survey = match spec.get("survey") {
                    Some(_) => Some(self.survey(spec, &at, cx)?),
                    None => None,
                };
                let ending = self.opt_str(spec, &at, "ending").map(str::to_string);
                let params: Map<String, Value> = spec
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "action" | "survey" | "ending"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                // The rule must be able to fire: some ending has such an action.
                let surveys: Vec<&Survey> = match survey {
                    Some(s) => vec![s],
                    None => cx.surveys.all().collect(),
                };
                if let (Some(ending), Some(s)) = (&ending, survey) {
                    if !s.endings().iter().any(|e| e.id() == ending) {
                        let ids: Vec<&str> = s.endings().iter().map(|e| e.id()).collect();
                        let message =
                            format!("survey {:?} has no ending {ending:?} (endings: {})", s.id(), ids.join(", "));
                        self.at(&join(&at, "ending"), message);
                        return None;
                    }
                }
                let fires = surveys.iter().any(|s| {
                    s.endings().iter().filter(|e| ending.as_deref().is_none_or(|id| e.id() == id)).any(|e| {
                        e.actions()
                            .iter()
                            .any(|a| a.action == action && params.iter().all(|(k, v)| a.params.get(k) == Some(v)))
                    })
                });
                if !fires {
                    let mut wanted = Map::new();
                    wanted.insert("action".into(), Value::String(action.clone()));
                    wanted.extend(params.clone());
                    let whose = match survey {
                        Some(s) => format!("survey {:?}", s.id()),
                        None => "any survey".into(),
                    };
                    let message = format!(
                        "no ending of {whose} has the action {}; this rule could never run",
                        Value::Object(wanted)
                    );
                    self.at(&at, message);
                }
                Some(Trigger::EndingAction { survey: survey.map(|s| s.id().to_string()), ending, action, params })
            }
            "checklist_completed" => {
                self.only(spec, &at, &["checklist"]);
                let Some(catalog) = cx.checklists else {
                    self.at(&at, "needs checklists (--checklists), and this collector has none".into());
                    return None;
                };
                let checklist = self.opt_str(spec, &at, "checklist").map(str::to_string);
                if let Some(id) = &checklist {
                    if !catalog.set.checklists().iter().any(|c| &c.id == id) {
                        let ids: Vec<&str> = catalog.set.checklists().iter().map(|c| c.id.as_str()).collect();
                        self.at(
                            &join(&at, "checklist"),
                            format!("no checklist {id:?} (checklists: {})", ids.join(", ")),
                        );
                    }
                }
                Some(Trigger::ChecklistCompleted { checklist })
            }
            "churn_risk" => {
                self.only(spec, &at, &["days"]);
                if cx.checklists.is_none() {
                    self.at(&at, "needs checklists (--checklists): churn risk is read from checklist progress".into());
                    return None;
                }
                let days = self.opt_int(spec, &at, "days", 1..=365);
                if !spec.contains_key("days") {
                    self.at(&join(&at, "days"), "is required".into());
                }
                Some(Trigger::ChurnRisk { days: days? })
            }
            other => {
                self.at(&at, format!("unknown trigger {other:?} (expected one of: {})", KINDS.join(", ")));
                None
            }
        }
    }

    fn survey<'c>(&mut self, spec: &Map<String, Value>, at: &str, cx: &Context<'c>) -> Option<&'c Survey> {
        let id = self.str(spec, at, "survey")?;
        match cx.surveys.get(id) {
            Some(entry) => Some(&entry.survey),
            None => {
                let ids: Vec<&str> = cx.surveys.all().map(|s| s.id()).collect();
                self.at(&join(at, "survey"), format!("no survey {id:?} (surveys: {})", ids.join(", ")));
                None
            }
        }
    }

    fn question<'s>(
        &mut self,
        survey: &'s Survey,
        id: &str,
        at: &str,
    ) -> Option<&'s touchpoint_core::survey::Question> {
        let found = survey.question(id);
        if found.is_none() {
            let ids: Vec<&str> = survey.questions().iter().map(|q| q.id()).collect();
            self.at(at, format!("survey {:?} has no question {id:?} (questions: {})", survey.id(), ids.join(", ")));
        }
        found
    }

    fn action(
        &mut self,
        raw: &Value,
        at: &str,
        cx: &Context,
        project: Option<&str>,
        project_secrets: &HashMap<String, String>,
        templates: &mut BTreeMap<String, String>,
    ) -> Option<ActionSpec> {
        let map = self.object(raw, at)?;
        let kind = self.str(map, at, "action")?;
        match kind {
            "webhook" => {
                self.only(map, at, &["action", "url", "secret", "secret_env"]);
                let url = self.str(map, at, "url");
                if let Some(url) = url {
                    if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(char::is_whitespace)
                    {
                        self.at(&join(at, "url"), format!("{url:?} is not an http(s) URL"));
                    }
                }
                let secret = match self.secret(map, at, "secret", cx) {
                    Some(s) => Some(Some(s)),
                    None if map.contains_key("secret") || map.contains_key("secret_env") => None,
                    // The project's secret; a rule for every project needs one from each.
                    None => {
                        let keys: Vec<&str> = match project {
                            Some(key) => vec![key],
                            None => cx.projects.public_keys().collect(),
                        };
                        let missing: Vec<&str> =
                            keys.iter().copied().filter(|k| !project_secrets.contains_key(*k)).collect();
                        if missing.is_empty() {
                            Some(None)
                        } else {
                            self.at(
                                &join(at, "secret"),
                                format!(
                                    "a webhook is signed: give \"secret\" (or \"secret_env\") here, or \
                                     projects.<key>.webhook_secret for {}",
                                    missing.join(", ")
                                ),
                            );
                            None
                        }
                    }
                };
                Some(ActionSpec::Webhook { url: url?.to_string(), secret: secret? })
            }
            "email" => {
                self.only(map, at, &["action", "template", "to"]);
                let template = self.str(map, at, "template")?;
                if !template.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')) {
                    self.at(&join(at, "template"), format!("{template:?} may only use letters, digits, _ and -"));
                    return None;
                }
                templates.entry(template.to_string()).or_insert_with(|| join(at, "template"));
                let to = self.opt_str(map, at, "to").unwrap_or(DEFAULT_TO).to_string();
                if let Err(e) = Template::parse_line(&to) {
                    self.at(&join(at, "to"), e);
                }
                Some(ActionSpec::Email { template: template.to_string(), to })
            }
            "slack" | "teams" => {
                self.only(map, at, &["action", "url"]);
                let url = self.str(map, at, "url")?;
                if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
                    self.at(&join(at, "url"), format!("{url:?} is not an http(s) URL (an incoming webhook)"));
                }
                let url = url.to_string();
                Some(if kind == "slack" { ActionSpec::Slack { url } } else { ActionSpec::Teams { url } })
            }
            "case" => {
                self.only(map, at, &["action", "title"]);
                let title = self.str(map, at, "title")?;
                Some(ActionSpec::Case { title: title.to_string() })
            }
            other => {
                self.at(
                    &join(at, "action"),
                    format!("unknown action {other:?} (expected webhook, email, case, slack or teams)"),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_delay_up_to_the_cap() {
        let p = RetryPolicy { first_retry_ms: 100, max_retry_ms: 1000, max_attempts: 10, timeout_ms: 1000 };
        let delays: Vec<i64> = (1..=6).map(|n| p.delay_after(n)).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.delay_after(1000), 1000);
    }
}
