//! Automations: rules from a config file ([`config`]) that turn stored
//! events — an answer, a score range, an ending's action, a completed
//! checklist — and the churn-risk report into follow-ups: a signed webhook,
//! an email rendered from a template ([`template`]), or a case for a person.
//!
//! **Flow.** Ingest stores an event that some rule listens to together with a
//! row in `automation_queue` (same transaction) and wakes the [`worker`]
//! after the commit. The worker claims queued events, matches the rules,
//! and per matching rule writes, in one transaction, the run
//! (`automation_runs`, primary key `(project_key, trigger_id, rule_id)`),
//! its outbox rows and its cases, and removes the queue row.
//!
//! **Survey outcomes are the collector's.** Survey events reach rules only
//! through their response (`response_queue`): ingest has already stored a
//! survey event its survey contradicts as rejected (see
//! [`crate::responses`]), and the worker replays the response's consistent
//! events through the survey. Answer and score rules read the *final*
//! answers on the response's path; ending rules read the ending the answers
//! lead to, with the actions the definition gives it (the page's `actions`
//! are never read). Each rule runs once per response (the run key is
//! `response:<response_id>`), when the response closes or has been quiet
//! for `response_settle_ms`: firing on every answer would open a detractor
//! case for a user who answered 3, went back and answered 9, and a webhook
//! cannot be taken back.
//!
//! **Who gets an email.** Where a project verifies identities, the
//! recipient (`to`) is rendered only from what is proven: the verified
//! `user_id` and the traits the host's backend sent with the secret key;
//! the page's traits never choose a recipient. Where it does not, anyone
//! with the public key can name any address, so each address gets at most
//! one follow-up email per project per day (`email_quota`). Rules with
//! `"require_verified": true` run only for verified users. Template values
//! are escaped for where they go ([`template`]), and a message is composed
//! so that nothing a user wrote can add a header or a recipient
//! ([`message`]). It then delivers due outbox rows: webhooks signed at each
//! attempt ([`crate::signature`]), Slack messages ([`slack`]), emails to an
//! SMTP server ([`smtp`]) or, by default, as `.eml` files in the outbox
//! folder. Each attempt is logged (`delivery_attempts`); a failure is retried
//! with exponential backoff until `max_attempts` (an SMTP server's permanent
//! 5xx refusal fails at once).
//!
//! **Exactly once.** A rule runs at most once per trigger: the run row, the
//! case and the outbox row are written together, and a second run of the same
//! rule for the same trigger (a retried claim, a second collector on the same
//! Postgres) finds the run row and stores nothing. A delivery may be *sent*
//! more than once only if the collector dies between the receiver's answer
//! and recording it; every send carries the same `X-Touchpoint-Delivery` id
//! (and an email the same file name and `Message-ID`), so receivers can
//! deduplicate.
//!
//! **Ingest is never blocked:** it only writes the queue row; matching,
//! rendering and sending happen in the worker, after the commit.

pub mod config;
pub mod message;
pub(crate) mod reading;
pub mod slack;
pub mod smtp;
pub mod template;
pub mod worker;

use std::collections::HashSet;
use std::path::PathBuf;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use touchpoint_core::survey::Survey;
use touchpoint_protocol::{AnswerValue, Event, EventKind};

use self::config::{ActionSpec, AutomationsConfig, Context, Rule, Trigger};
use self::message::{compose, is_address, Compose};
use self::template::{render, Template, Vars};
use crate::config_file::{Definition, FileError};
use crate::responses::{completed_as_defined, Response};
use crate::signature::SigningKey;
use crate::store::{Case, OutboxItem, RunEffects};

pub use crate::signature::SIGNATURE_HEADER;
/// Header carrying the delivery id, the same on every retry.
pub const DELIVERY_HEADER: &str = "X-Touchpoint-Delivery";

/// The loaded rules plus what the worker needs to act on them.
pub struct Automations {
    pub config: AutomationsConfig,
    /// Where emails are written as `<delivery id>.eml`.
    pub outbox_dir: PathBuf,
    watched: HashSet<&'static str>,
    wake: Notify,
}

impl Automations {
    /// Loads `file` (see [`config`]) and creates `outbox_dir` if needed.
    pub fn load(file: &std::path::Path, outbox_dir: PathBuf, cx: &Context) -> Result<Automations, FileError> {
        let config = AutomationsConfig::load(file, cx)?;
        std::fs::create_dir_all(&outbox_dir).map_err(|e| {
            let problem = format!("cannot create the email outbox folder {}: {e}", outbox_dir.display());
            FileError::new(Definition::Automations, file, vec![problem])
        })?;
        Ok(Automations::new(config, outbox_dir))
    }

    pub fn new(config: AutomationsConfig, outbox_dir: PathBuf) -> Automations {
        let watched = config.rules.iter().filter_map(|r| r.when.event_type()).collect();
        Automations { config, outbox_dir, watched, wake: Notify::new() }
    }

    /// Does some rule for `project_key` listen to events of this type? Such
    /// events are queued for the worker when stored.
    pub fn watches(&self, project_key: &str, kind: &str) -> bool {
        self.watched.contains(kind)
            && self.config.rules.iter().any(|r| applies_to(r, project_key) && r.when.event_type() == Some(kind))
    }

    /// Does some rule for `project_key` read responses to this survey? Their
    /// events put the response in the response queue when stored.
    pub fn watches_survey(&self, project_key: &str, survey_id: &str) -> bool {
        // A CSAT answer is stored on its case by the worker.
        survey_id == crate::cases::CSAT_SURVEY
            || self.config.rules.iter().any(|r| {
                applies_to(r, project_key) && r.when.survey().is_some_and(|s| s.is_none_or(|s| s == survey_id))
            })
    }

    /// Tells the worker there is work (after a commit).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// The event-queue rules `event` (of `project_key`) triggers. Survey
    /// events trigger nothing here: see [`Automations::response_triggers`].
    pub fn matching(&self, project_key: &str, event: &Event) -> Vec<(&Rule, Option<Map<String, Value>>)> {
        self.config
            .rules
            .iter()
            .filter(|r| applies_to(r, project_key) && r.when.event_type().is_some())
            .filter_map(|r| matches(&r.when, &event.kind).map(|action| (r, action)))
            .collect()
    }

    /// The survey rules of `project_key` that `response` to `survey` triggers.
    pub fn response_triggers(
        &self,
        project_key: &str,
        survey: &std::sync::Arc<Survey>,
        response: &Response,
    ) -> Vec<Fired<'_>> {
        let finals = response.final_answers(survey);
        let completion = response.completion(survey).map(|(ending, e)| completed_as_defined(e, ending));
        let mut fired = Vec::new();
        for rule in self.config.rules.iter().filter(|r| applies_to(r, project_key)) {
            let candidates: Vec<&Event> = match &rule.when {
                Trigger::Answer { .. } | Trigger::Score { .. } => finals.iter().map(|a| &a.event).collect(),
                Trigger::EndingAction { .. } => completion.iter().collect(),
                Trigger::ChecklistCompleted { .. } | Trigger::ChurnRisk { .. } => continue,
            };
            // At most one final answer per question, and one completion: at most one trigger per rule.
            if let Some((event, action)) =
                candidates.into_iter().find_map(|e| matches(&rule.when, &e.kind).map(|action| (e, action)))
            {
                fired.push(Fired { rule, trigger: event.clone(), action });
            }
        }
        fired
    }

    /// What `rule` does for one trigger, ready to store.
    pub fn effects(&self, rule: &Rule, t: &TriggerContext) -> RunEffects {
        let mut run = RunEffects {
            rule_id: rule.id.clone(),
            one_email_a_day: matches!(t.identity, Identity::Unverified),
            ..RunEffects::default()
        };
        for (i, action) in rule.actions.iter().enumerate() {
            let id = effect_id(&t.project_key, &t.trigger_id, &rule.id, i);
            let item = |kind: &str, target: String, payload: String| OutboxItem {
                id: id.clone(),
                project_key: t.project_key.clone(),
                rule_id: rule.id.clone(),
                trigger_id: t.trigger_id.clone(),
                kind: kind.into(),
                target,
                payload,
                signing_key: None,
                status: "pending".into(),
                attempts: 0,
                next_attempt_at: t.now,
                created_at: t.now,
                delivered_at: None,
                last_error: None,
            };
            match action {
                ActionSpec::Webhook { url, secret } => {
                    let payload = json!({
                        "delivery_id": id,
                        "rule": rule.id,
                        "project": t.project_key,
                        "trigger": t.kind,
                        "event": t.event,
                        "churn_risk": t.churn_risk,
                        "user": { "user_id": t.user_id, "anonymous_id": t.anonymous_id, "traits": t.traits },
                        "created_at": t.now,
                    })
                    .to_string();
                    // The secret is looked up again at each attempt, which signs its own time.
                    let key = match secret {
                        Some(_) => Some(SigningKey::Action { rule: rule.id.clone(), index: i }),
                        None => self
                            .config
                            .project_secrets
                            .contains_key(&t.project_key)
                            .then(|| SigningKey::Project(t.project_key.clone())),
                    };
                    let mut o = item("webhook", url.clone(), String::new());
                    match key {
                        Some(key) => o.signing_key = Some(key.to_string()),
                        // Validation requires a secret for every project a webhook rule applies to.
                        None => fail(&mut o, "no signing secret for this project"),
                    }
                    o.payload = payload;
                    run.outbox.push(o);
                }
                ActionSpec::Email { template, to } => {
                    let vars = Vars {
                        rule: &rule.id,
                        user_id: t.user_id.as_deref(),
                        anonymous_id: t.anonymous_id.as_deref(),
                        traits: &t.traits,
                        event: t.event.as_ref(),
                        action: t.action.as_ref(),
                    };
                    // The recipient comes only from what is proven, where identities are verified.
                    let recipient_vars = match &t.identity {
                        Identity::Unverified => vars.clone(),
                        Identity::Verified { user_id, server_traits } => Vars {
                            rule: &rule.id,
                            user_id: user_id.as_deref(),
                            anonymous_id: None,
                            traits: server_traits,
                            event: None,
                            action: None,
                        },
                    };
                    let to = Template::parse_line(to).map(|parts| render(&parts, &recipient_vars)).unwrap_or_default();
                    let to = to.trim().to_string();
                    let mut o = item("email", to.clone(), String::new());
                    match self.config.templates.get(template) {
                        Some(localized) => {
                            // The user's own `locale` trait picks the language (the page's word is enough here).
                            let locale = t.traits.get("locale").and_then(Value::as_str);
                            let (tpl, locale) = localized.pick(locale);
                            o.payload = compose(&Compose {
                                from: self.config.from_for(&t.project_key),
                                to: &to,
                                template: tpl,
                                locale,
                                vars: &vars,
                                id: &id,
                                trigger_id: &t.trigger_id,
                                now: t.now,
                                unsubscribe: self.config.unsubscribe.as_deref(),
                            });
                            if !is_address(&to) {
                                let who = t.user_id.as_deref().or(t.anonymous_id.as_deref()).unwrap_or("?");
                                let why = match t.identity {
                                    Identity::Unverified => String::new(),
                                    Identity::Verified { .. } => " (this project verifies identities: the recipient \
                                        is filled only from the verified user id and from traits the host's backend \
                                        sent with the secret key, never from the page's)"
                                        .to_string(),
                                };
                                let message =
                                    format!("no valid recipient for {who}: {to:?} (the \"to\" of the rule){why}");
                                fail(&mut o, &message);
                            }
                        }
                        None => fail(&mut o, &format!("no template {template:?}")),
                    }
                    run.outbox.push(o);
                }
                ActionSpec::Case { title } => run.cases.push(Case {
                    id,
                    project_key: t.project_key.clone(),
                    rule_id: rule.id.clone(),
                    trigger_id: t.trigger_id.clone(),
                    title: title.clone(),
                    user_id: t.user_id.clone(),
                    anonymous_id: t.anonymous_id.clone(),
                    detail: t.detail().to_string(),
                    status: "open".into(),
                    created_at: t.now,
                    closed_at: None,
                    note: None,
                    priority: "normal".into(),
                    assignee: t.account.as_ref().and_then(|a| a.owner.clone()),
                    first_response_at: None,
                    csat_score: None,
                }),
                ActionSpec::Slack { url } | ActionSpec::Teams { url } => {
                    // The case this rule opens for the same trigger, if it opens one.
                    let case_url =
                        rule.actions.iter().position(|a| matches!(a, ActionSpec::Case { .. })).and_then(|at| {
                            let case_id = effect_id(&t.project_key, &t.trigger_id, &rule.id, at);
                            self.config.dashboard_url.as_ref().map(|base| format!("{base}#case={case_id}"))
                        });
                    let (kind, payload) = match action {
                        ActionSpec::Teams { .. } => ("teams", slack::teams_message(&rule.id, t, case_url.as_deref())),
                        _ => ("slack", slack::message(&rule.id, t, case_url.as_deref())),
                    };
                    run.outbox.push(item(kind, url.clone(), payload.to_string()));
                }
            }
        }
        run
    }
}

/// A rule a response triggers, with its trigger event (the final answer, or
/// the completion with the definition's actions) and the ending action
/// that matched, if the trigger is one.
#[derive(Debug)]
pub struct Fired<'a> {
    pub rule: &'a Rule,
    pub trigger: Event,
    pub action: Option<Map<String, Value>>,
}

/// An outbox row that can never be delivered is stored as `failed` at once,
/// so the problem shows in the deliveries log instead of vanishing.
fn fail(o: &mut OutboxItem, why: &str) {
    o.status = "failed".into();
    o.last_error = Some(why.into());
}

/// Everything a rule's actions may use about one trigger.
#[derive(Debug, Clone)]
pub struct TriggerContext {
    pub project_key: String,
    /// The event id, or `churn_risk:<project>:<user>`.
    pub trigger_id: String,
    /// `event` or `churn_risk`.
    pub kind: &'static str,
    pub event: Option<Value>,
    pub churn_risk: Option<Value>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    /// The person's `identify` traits, merged oldest to newest.
    pub traits: Map<String, Value>,
    /// The ending action that matched an `ending_action` rule.
    pub action: Option<Map<String, Value>>,
    /// What of the person is proven.
    pub identity: Identity,
    /// The account of the person's latest `group` call.
    pub account: Option<AccountInfo>,
    /// A survey trigger's response: its final answers in path order.
    pub answers: Vec<Answer>,
    pub now: i64,
}

/// One final answer of a trigger's response, with what its question asks.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub question_id: String,
    /// The question's kind (`nps`, `rating`, `text`, …).
    pub kind: &'static str,
    pub value: Value,
}

/// The account a trigger's person belongs to, as far as it is known.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountInfo {
    pub id: String,
    /// The `name` trait of its `group` calls.
    pub name: Option<String>,
    /// The accounts file's `owner_trait` (default `owner`): whom its cases are assigned to.
    pub owner: Option<String>,
    /// The account worker's latest health score and stage.
    pub health: Option<i64>,
    pub stage: Option<String>,
}

/// What the collector can vouch for about the person of a trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// The project does not verify identities: user ids and traits are the page's word.
    Unverified,
    /// The project verifies identities. `user_id`: proven for the trigger
    /// (`None`: an anonymous person). `server_traits`: the traits the host's
    /// backend sent for that user with the secret key.
    Verified { user_id: Option<String>, server_traits: Map<String, Value> },
}

impl Identity {
    /// A user whose id is proven: what `"require_verified": true` asks for.
    pub fn is_verified_user(&self) -> bool {
        matches!(self, Identity::Verified { user_id: Some(_), .. })
    }
}

/// Whether `rule` may run for a person known as `identity`.
pub fn may_run(rule: &Rule, identity: &Identity) -> bool {
    !rule.require_verified || identity.is_verified_user()
}

impl TriggerContext {
    /// What a case records: the event, or the churn-risk finding.
    fn detail(&self) -> Value {
        match (&self.event, &self.churn_risk) {
            (Some(e), _) => json!({ "event": e }),
            (None, Some(c)) => json!({ "churn_risk": c }),
            (None, None) => Value::Null,
        }
    }
}

fn applies_to(rule: &Rule, project_key: &str) -> bool {
    rule.project.as_deref().is_none_or(|p| p == project_key)
}

/// `Some(matched ending action)` if `trigger` fires on an event of `kind`.
pub fn matches(trigger: &Trigger, kind: &EventKind) -> Option<Option<Map<String, Value>>> {
    match (trigger, kind) {
        (
            Trigger::Answer { survey, question, values },
            EventKind::SurveyAnswered { survey_id, question_id, value, .. },
        ) if survey == survey_id && question == question_id => {
            let hit = values.iter().any(|v| match value {
                AnswerValue::Score(n) => v.as_u64() == Some(u64::from(*n)),
                AnswerValue::Text(s) => v.as_str() == Some(s),
                AnswerValue::Choices(list) => v.as_str().is_some_and(|c| list.iter().any(|x| x == c)),
            });
            hit.then_some(None)
        }
        (
            Trigger::Score { survey, question, min, max },
            EventKind::SurveyAnswered { survey_id, question_id, value: AnswerValue::Score(n), .. },
        ) if survey == survey_id && question == question_id && (min..=max).contains(&n) => Some(None),
        (
            Trigger::EndingAction { survey, ending, action, params },
            EventKind::SurveyCompleted { survey_id, ending_id, actions, .. },
        ) if survey.as_ref().is_none_or(|s| s == survey_id) && ending.as_ref().is_none_or(|e| e == ending_id) => {
            let found = actions
                .iter()
                .find(|a| a.action == *action && params.iter().all(|(k, v)| a.params.get(k) == Some(v)))?;
            let mut map = found.params.clone();
            map.insert("action".into(), Value::String(found.action.clone()));
            Some(Some(map))
        }
        (Trigger::ChecklistCompleted { checklist }, EventKind::ChecklistCompleted { checklist_id }) => {
            checklist.as_ref().is_none_or(|c| c == checklist_id).then_some(None)
        }
        _ => None,
    }
}

/// The id of effect `index` of `rule` for `trigger` of `project_key`:
/// stable (a retry makes the same id), distinct across projects (event ids
/// are the clients' and only unique per project), and safe as a file name
/// whatever the (client-chosen) event id.
pub fn effect_id(project_key: &str, trigger_id: &str, rule_id: &str, index: usize) -> String {
    let mut h = Sha256::new();
    h.update(project_key.as_bytes());
    h.update([0]);
    h.update(trigger_id.as_bytes());
    h.update([0]);
    h.update(rule_id.as_bytes());
    h.update([0]);
    h.update(index.to_string().as_bytes());
    hex(&h.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use touchpoint_protocol::Action;

    fn answered(question: &str, value: AnswerValue) -> EventKind {
        EventKind::SurveyAnswered {
            survey_id: "nps".into(),
            response_id: "r".into(),
            survey_version: None,
            question_id: question.into(),
            value,
        }
    }

    #[test]
    fn triggers_match_the_events_they_name() {
        let score = Trigger::Score { survey: "nps".into(), question: "score".into(), min: 0, max: 6 };
        let answer =
            Trigger::Answer { survey: "nps".into(), question: "obstacle".into(), values: vec![json!("not_ready")] };
        let offer = Trigger::EndingAction {
            survey: Some("nps".into()),
            ending: None,
            action: "offer".into(),
            params: json!({"code": "trial_extension_14d"}).as_object().unwrap().clone(),
        };
        let done = Trigger::ChecklistCompleted { checklist: Some("get_started".into()) };
        let completed = |actions: Vec<Action>| EventKind::SurveyCompleted {
            survey_id: "nps".into(),
            response_id: "r".into(),
            survey_version: None,
            ending_id: "trial_offer".into(),
            actions,
        };
        let action = |name: &str, code: Option<&str>| Action {
            action: name.into(),
            params: code.map(|c| json!({"code": c}).as_object().unwrap().clone()).unwrap_or_default(),
        };
        for (trigger, kind, expected) in [
            (&score, answered("score", AnswerValue::Score(0)), true),
            (&score, answered("score", AnswerValue::Score(6)), true),
            (&score, answered("score", AnswerValue::Score(7)), false),
            (&score, answered("other", AnswerValue::Score(3)), false),
            (&answer, answered("obstacle", AnswerValue::Text("not_ready".into())), true),
            (&answer, answered("obstacle", AnswerValue::Text("too_hard".into())), false),
            (&answer, answered("obstacle", AnswerValue::Choices(vec!["x".into(), "not_ready".into()])), true),
            (&offer, completed(vec![action("webhook", None), action("offer", Some("trial_extension_14d"))]), true),
            (&offer, completed(vec![action("offer", Some("discount_10"))]), false),
            (&offer, completed(vec![]), false),
            (&done, EventKind::ChecklistCompleted { checklist_id: "get_started".into() }, true),
            (&done, EventKind::ChecklistCompleted { checklist_id: "rollout".into() }, false),
            (&done, answered("score", AnswerValue::Score(1)), false),
        ] {
            assert_eq!(matches(trigger, &kind).is_some(), expected, "{trigger:?} on {kind:?}");
        }
        let params = matches(&offer, &completed(vec![action("offer", Some("trial_extension_14d"))])).unwrap().unwrap();
        assert_eq!(Value::Object(params), json!({"action": "offer", "code": "trial_extension_14d"}));
    }

    #[test]
    fn effect_ids_are_stable_and_distinct() {
        assert_eq!(effect_id("pk", "e1", "r1", 0), effect_id("pk", "e1", "r1", 0));
        assert_ne!(effect_id("pk", "e1", "r1", 0), effect_id("pk", "e1", "r1", 1));
        assert_ne!(effect_id("pk", "e1", "r1", 0), effect_id("pk", "e1", "r2", 0));
        assert_ne!(effect_id("pk", "e1", "r1", 0), effect_id("pk_other", "e1", "r1", 0), "ids are per project");
        assert_eq!(effect_id("pk", "../../etc/passwd", "r", 0).len(), 32);
    }
}
