//! The background worker: claims queued events and due responses and runs
//! the rules they trigger, scans for churn risk now and then, and delivers
//! due webhooks and emails, logging every attempt. Woken after each commit
//! that queued something; otherwise it sleeps until the next retry or
//! response is due (at most [`POLL`], so work queued by another collector on
//! the same Postgres is picked up too). Errors are logged and retried; the
//! worker never stops on its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tokio::task::JoinSet;
use touchpoint_protocol::{Event, EventKind};

use super::config::Trigger;
use super::{may_run, AccountInfo, Automations, Identity, TriggerContext, DELIVERY_HEADER, SIGNATURE_HEADER};
use crate::checklists::replay::{Activity, Person};
use crate::checklists::{person_activity, report, with_users};
use crate::responses::Response;
use crate::signature::SigningKey;
use crate::store::{AfterAttempt, Attempt, ClaimedResponse, Dequeue, OutboxItem, StoredEvent};
use crate::worker::{Job, Stop};
use crate::AppState;

/// Longest sleep between looks at the queue and the outbox.
const POLL: Duration = Duration::from_secs(2);
/// Queued events claimed at once.
const CLAIM: u32 = 50;
/// Deliveries sent at once.
const PARALLEL_DELIVERIES: u32 = 8;
/// A claimed event not finished in this time can be claimed again.
const QUEUE_LEASE_MS: i64 = 60_000;

/// The automation worker's job: queued events and due responses run
/// through the rules, the churn-risk scan when due, then due deliveries.
pub struct Automating {
    automations: Arc<Automations>,
    has_churn_rules: bool,
    next_scan: Instant,
}

impl Job for Automating {
    const NAME: &'static str = "automations";

    /// The job if `state` has automations.
    fn of(state: &AppState) -> Option<Automating> {
        let automations = state.automations.clone()?;
        let has_churn_rules = automations.config.rules.iter().any(|r| matches!(r.when, Trigger::ChurnRisk { .. }));
        Some(Automating { automations, has_churn_rules, next_scan: Instant::now() })
    }

    async fn pass(&mut self, state: &AppState, _stop: &Stop) -> Duration {
        let automations = &self.automations;
        let mut busy = false;
        match process_queue(state, automations).await {
            Ok(n) => busy |= n > 0,
            Err(e) => log(&format!("processing queued events: {e}")),
        }
        match process_responses(state, automations).await {
            Ok(n) => busy |= n > 0,
            Err(e) => log(&format!("processing due responses: {e}")),
        }
        if self.has_churn_rules && Instant::now() >= self.next_scan {
            if let Err(e) = scan_churn_risk(state, automations).await {
                log(&format!("churn-risk scan: {e}"));
            }
            let every = u64::try_from(automations.config.churn_scan_every_ms).unwrap_or(3_600_000);
            self.next_scan = Instant::now() + Duration::from_millis(every);
        }
        match deliver_due(state, automations).await {
            Ok(n) => busy |= n > 0,
            Err(e) => log(&format!("delivering: {e}")),
        }
        if busy {
            return Duration::ZERO;
        }
        let mut wait = POLL;
        if let Ok(Some(due)) = state.db.next_due_at().await {
            let ms = u64::try_from(due - crate::now_ms()).unwrap_or(0);
            wait = wait.min(Duration::from_millis(ms));
        }
        if self.has_churn_rules {
            wait = wait.min(self.next_scan.saturating_duration_since(Instant::now()));
        }
        wait
    }

    fn woken(&self) -> impl std::future::Future<Output = ()> + Send {
        self.automations.woken()
    }
}

fn log(message: &str) {
    tracing::warn!("automations: {message}");
}

/// Runs the rules of every queued event; returns how many were claimed.
async fn process_queue(state: &AppState, automations: &Automations) -> Result<usize, String> {
    let claimed = state.db.claim_queued(crate::now_ms(), QUEUE_LEASE_MS, CLAIM).await.map_err(|e| e.to_string())?;
    let n = claimed.len();
    for row in claimed {
        let id = row.id.clone();
        if let Err(e) = process_event(state, automations, row).await {
            // Left in the queue: claimed again when its lease runs out.
            log(&format!("event {id:?}: {e}"));
        }
    }
    Ok(n)
}

async fn process_event(state: &AppState, automations: &Automations, row: StoredEvent) -> Result<(), String> {
    let now = crate::now_ms();
    state.metrics.automation_lag(Duration::from_millis(u64::try_from(now - row.received_at).unwrap_or(0)));
    let value: Value = serde_json::from_str(&row.body).map_err(|e| format!("stored body is not JSON: {e}"))?;
    let runs = match serde_json::from_value::<Event>(value.clone()) {
        Ok(event) => {
            let matching = automations.matching(&row.project_key, &event);
            let mut runs = Vec::with_capacity(matching.len());
            for (rule, action) in matching {
                if let EventKind::ChecklistCompleted { checklist_id } = &event.kind {
                    if !completion_confirmed(state, &row.project_key, &event, checklist_id).await? {
                        log(&format!(
                            "rule {:?} not run for event {:?}: the stored events of its person do not complete \
                             checklist {checklist_id:?}",
                            rule.id, row.id
                        ));
                        continue;
                    }
                }
                if let Some(run) =
                    run_for(state, automations, &row.project_key, rule, &event, value.clone(), action, Vec::new(), now)
                        .await?
                {
                    runs.push(run);
                }
            }
            runs
        }
        // Stored events were valid when stored; one this build cannot read runs no rule.
        Err(e) => {
            log(&format!("event {:?} is not readable by this version ({e}); no rule runs for it", row.id));
            Vec::new()
        }
    };
    let dequeue = Some(Dequeue::Event(row.id.clone()));
    state.db.apply_runs(row.project_key, row.id, dequeue, runs, now).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Whether `event`'s person really completed `checklist_id`: their stored
/// events say so on the checklists the project serves now. Without
/// checklists there is nothing a completion could be of.
async fn completion_confirmed(state: &AppState, key: &str, event: &Event, checklist_id: &str) -> Result<bool, String> {
    let catalog = match crate::content::checklists::catalog(state, key).await {
        Ok(catalog) => catalog,
        Err(crate::error::AppError::NotFound(_)) => return Ok(false),
        Err(e) => return Err(format!("{e:?}")),
    };
    let who = crate::auth::named(event.user_id.clone(), Some(event.anonymous_id.clone()))
        .ok_or("an event without a person")?;
    crate::checklists::confirms_completion(state, &catalog, key, who, checklist_id).await.map_err(|e| format!("{e:?}"))
}

/// Runs the survey rules of every due response; returns how many were claimed.
async fn process_responses(state: &AppState, automations: &Automations) -> Result<usize, String> {
    let claimed = state.db.claim_responses(crate::now_ms(), QUEUE_LEASE_MS, CLAIM).await.map_err(|e| e.to_string())?;
    let n = claimed.len();
    for c in claimed {
        let id = c.response_id.clone();
        if let Err(e) = process_response(state, automations, c).await {
            // Left in the queue: claimed again when its lease runs out.
            log(&format!("response {id:?}: {e}"));
        }
    }
    Ok(n)
}

/// Replays the response's consistent events through its survey and runs
/// the rules its final answers and its ending trigger. Each rule runs once
/// per response: the run key is the response, not the event, so a later
/// look at the same response (a completion after a quiet time ran the
/// answer rules) only runs the rules that had nothing to act on before.
async fn process_response(state: &AppState, automations: &Automations, c: ClaimedResponse) -> Result<(), String> {
    let now = crate::now_ms();
    let rows = state
        .db
        .response_events(c.project_key.clone(), vec![c.response_id.clone()])
        .await
        .map_err(|e| e.to_string())?;
    let mut events = Vec::with_capacity(rows.len());
    let mut bodies = std::collections::HashMap::new();
    for row in &rows {
        let value: Value = serde_json::from_str(&row.body).map_err(|e| format!("stored body is not JSON: {e}"))?;
        match serde_json::from_value::<Event>(value.clone()) {
            Ok(event) => {
                bodies.insert(event.id.clone(), value);
                events.push(event);
            }
            Err(e) => log(&format!("event {:?} is not readable by this version ({e}); left out", row.id)),
        }
    }
    let mut runs = Vec::new();
    // Replayed through the version the response was shown (its events name it).
    let version = events.iter().find_map(|e| e.kind.survey_version());
    let served = crate::content::surveys::at_version(state, &c.project_key, &c.survey_id, version)
        .await
        .map_err(|e| format!("{e:?}"))?;
    // A survey no longer served: nothing to replay against, so nothing runs.
    if let Some(entry) = served {
        let response = Response::from_events(&events).remove(&c.response_id).unwrap_or_default();
        let answers: Vec<super::Answer> = response
            .final_answers(&entry.survey)
            .iter()
            .filter_map(|a| match &a.event.kind {
                EventKind::SurveyAnswered { question_id, value, .. } => Some(super::Answer {
                    kind: entry.survey.question(question_id).map_or("unknown", |q| q.kind().name()),
                    question_id: question_id.clone(),
                    value: serde_json::to_value(value).unwrap_or_default(),
                }),
                _ => None,
            })
            .collect();
        for super::Fired { rule, trigger, action } in
            automations.response_triggers(&c.project_key, &entry.survey, &response)
        {
            let mut value = bodies.get(&trigger.id).cloned().unwrap_or(Value::Null);
            // The definition's actions, whatever the page sent (the same, for a consistent completion).
            if let (EventKind::SurveyCompleted { actions, .. }, Some(map)) = (&trigger.kind, value.as_object_mut()) {
                map.insert("actions".into(), serde_json::to_value(actions).unwrap_or_default());
            }
            if let Some(run) =
                run_for(state, automations, &c.project_key, rule, &trigger, value, action, answers.clone(), now).await?
            {
                runs.push(run);
            }
        }
    }
    if c.survey_id == crate::cases::CSAT_SURVEY {
        store_csat(state, &c.project_key, &events, now).await?;
    }
    let trigger_id = format!("response:{}", c.response_id);
    let dequeue = Some(Dequeue::Response { response_id: c.response_id, due_at: c.due_at });
    state.db.apply_runs(c.project_key, trigger_id, dequeue, runs, now).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// A "How did we do?" rating goes on the user's case that awaits it (the
/// response's latest rating; a case keeps the first rating it got).
async fn store_csat(state: &AppState, key: &str, events: &[Event], now: i64) -> Result<(), String> {
    let rating = events.iter().rev().find_map(|e| match (&e.kind, &e.user_id) {
        (EventKind::SurveyAnswered { value: touchpoint_protocol::AnswerValue::Score(n), .. }, Some(user)) => {
            Some((user.clone(), i64::from(*n)))
        }
        _ => None,
    });
    if let Some((user, rating)) = rating {
        crate::cases::record_csat(&state.db, key, &user, rating, now).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// What `rule` does for `event` (stored as `value`), or `None` if it may not
/// run for this person (`require_verified`).
#[allow(clippy::too_many_arguments)]
async fn run_for(
    state: &AppState,
    automations: &Automations,
    key: &str,
    rule: &super::config::Rule,
    event: &Event,
    value: Value,
    action: Option<Map<String, Value>>,
    answers: Vec<super::Answer>,
    now: i64,
) -> Result<Option<crate::store::RunEffects>, String> {
    let identity = identity(state, key, event.user_id.as_deref()).await?;
    if !may_run(rule, &identity) {
        return Ok(None);
    }
    let who = match &event.user_id {
        Some(user) => Person::User(user.clone()),
        None => Person::Anonymous(event.anonymous_id.clone()),
    };
    let (user_id, traits, account) = person(state, key, who).await?;
    let t = TriggerContext {
        project_key: key.to_string(),
        trigger_id: event.id.clone(),
        kind: "event",
        event: Some(value),
        churn_risk: None,
        user_id: event.user_id.clone().or(user_id),
        anonymous_id: Some(event.anonymous_id.clone()),
        traits,
        action,
        identity,
        account,
        answers,
        now,
    };
    Ok(Some(automations.effects(rule, &t)))
}

/// Where a reply to the person of `case` goes: where the project verifies
/// identities, an address only from what is proven (the verified user id,
/// traits the host's backend sent); otherwise the person's `email` trait,
/// or for a help request the address they typed into "Contact us".
pub(crate) async fn case_recipient(
    state: &AppState,
    key: &str,
    case: &crate::store::Case,
) -> Result<Option<String>, String> {
    let address = |v: Option<&Value>| {
        v.and_then(Value::as_str).map(str::trim).filter(|a| super::message::is_address(a)).map(str::to_string)
    };
    let who = match (&case.user_id, &case.anonymous_id) {
        (Some(user), _) => Some(Person::User(user.clone())),
        (None, Some(anon)) => Some(Person::Anonymous(anon.clone())),
        (None, None) => None,
    };
    let typed = || serde_json::from_str::<Value>(&case.detail).ok().and_then(|d| address(d.get("email")));
    Ok(match (identity(state, key, case.user_id.as_deref()).await?, who) {
        (Identity::Verified { user_id, server_traits }, _) => {
            address(server_traits.get("email")).or_else(|| user_id.filter(|u| super::message::is_address(u)))
        }
        (Identity::Unverified, Some(who)) => address(person(state, key, who).await?.1.get("email")).or_else(typed),
        (Identity::Unverified, None) => typed(),
    })
}

/// What is proven about `user_id` (the trigger's own, `None`: anonymous) in
/// project `key`. Where identities are verified, a stored event's user id
/// was proven at ingest (or came from the host's backend).
async fn identity(state: &AppState, key: &str, user_id: Option<&str>) -> Result<Identity, String> {
    let verifies = state.projects.by_public_key(key).is_some_and(|p| p.project.identity_secret.is_some());
    if !verifies {
        return Ok(Identity::Unverified);
    }
    let mut server_traits = Map::new();
    if let Some(user) = user_id {
        let bodies = state.db.server_identifies(key.to_string(), user.to_string()).await.map_err(|e| e.to_string())?;
        for body in bodies {
            if let Ok(Event { kind: EventKind::Identify { traits }, .. }) = serde_json::from_str::<Event>(&body) {
                server_traits.extend(traits);
            }
        }
    }
    Ok(Identity::Verified { user_id: user_id.map(str::to_string), server_traits })
}

/// The person's user id (if identified), their traits (merged oldest to
/// newest) and the account of their latest `group` call.
async fn person(
    state: &AppState,
    key: &str,
    who: Person,
) -> Result<(Option<String>, Map<String, Value>, Option<AccountInfo>), String> {
    let rows: Vec<Activity> = person_activity(&state.db, key.to_string(), who).await.map_err(|e| format!("{e:?}"))?;
    let user_id = rows.iter().find_map(|r| r.user_id.clone());
    let mut traits = Map::new();
    for row in &rows {
        if let Some(EventKind::Identify { traits: t }) = &row.kind {
            traits.extend(t.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let account_id = rows.iter().rev().find_map(|r| match &r.kind {
        Some(EventKind::Group { account_id, .. }) => Some(account_id.clone()),
        _ => None,
    });
    let account = match account_id {
        None => None,
        Some(id) => {
            let mut group_traits = Map::new();
            for row in &rows {
                if let Some(EventKind::Group { account_id, traits: t }) = &row.kind {
                    if *account_id == id {
                        group_traits.extend(t.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                }
            }
            let owner_trait = state.accounts.as_ref().map_or("owner", |a| a.config.owner_trait.as_str());
            let text = |k: &str| group_traits.get(k).and_then(Value::as_str).map(str::to_string);
            // The account worker's latest assessment; none yet for a new account.
            let history =
                state.db.health_history(key.to_string(), Some(id.clone())).await.map_err(|e| e.to_string())?;
            let latest = history.last();
            Some(AccountInfo {
                name: text("name"),
                owner: text(owner_trait),
                health: latest.map(|h| h.score),
                stage: latest.map(|h| h.stage.clone()),
                id,
            })
        }
    };
    Ok((user_id, traits, account))
}

/// Runs every churn-risk rule for the users now at risk that it has not run for.
async fn scan_churn_risk(state: &AppState, automations: &Automations) -> Result<(), String> {
    let Some(catalog) = state.checklists.clone() else { return Ok(()) };
    let now = crate::now_ms();
    for rule in &automations.config.rules {
        let Trigger::ChurnRisk { days } = rule.when else { continue };
        let keys: Vec<String> = match &rule.project {
            Some(key) => vec![key.clone()],
            None => state.projects.public_keys().map(str::to_string).collect(),
        };
        for key in keys {
            let at_risk = with_users(&state.db, catalog.clone(), key.clone(), move |_, users| {
                report::churn_risk(users, days, now)
            })
            .await
            .map_err(|e| format!("{e:?}"))?;
            let done = state.db.rule_runs(key.clone(), rule.id.clone()).await.map_err(|e| e.to_string())?;
            for user in at_risk {
                let trigger_id = format!("churn_risk:{key}:{}", user.user);
                if done.contains(&trigger_id) {
                    continue;
                }
                let identity = identity(state, &key, Some(&user.user)).await?;
                if !may_run(rule, &identity) {
                    continue;
                }
                let (_, traits, account) = person(state, &key, Person::User(user.user.clone())).await?;
                let t = TriggerContext {
                    project_key: key.clone(),
                    trigger_id: trigger_id.clone(),
                    kind: "churn_risk",
                    event: None,
                    churn_risk: Some(json!({
                        "days": days, "user": user.user, "segment": user.segment, "checklist": user.checklist,
                        "first_seen": user.first_seen, "last_seen": user.last_seen,
                    })),
                    user_id: Some(user.user.clone()),
                    anonymous_id: None,
                    traits,
                    action: None,
                    identity,
                    account,
                    answers: Vec::new(),
                    now,
                };
                let run = automations.effects(rule, &t);
                state.db.apply_runs(key.clone(), trigger_id, None, vec![run], now).await.map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

/// Sends what is due; returns how many deliveries were attempted.
async fn deliver_due(state: &AppState, automations: &Arc<Automations>) -> Result<usize, String> {
    let db = &state.db;
    let retry = automations.config.retry;
    // Long enough for the request to time out and be recorded.
    let lease = retry.timeout_ms + 30_000;
    let due = db.claim_due(crate::now_ms(), lease, PARALLEL_DELIVERIES).await.map_err(|e| e.to_string())?;
    let n = due.len();
    let mut running = JoinSet::new();
    for item in due {
        let automations = automations.clone();
        let db = db.clone();
        let state = state.clone();
        running.spawn(async move {
            let attempt_no = item.attempts + 1;
            let started_at = crate::now_ms();
            let clock = Instant::now();
            let Tried { status_code, error, permanent } = attempt(&state, &automations, &item).await;
            let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
            let after = match &error {
                None => AfterAttempt::Delivered { at: crate::now_ms() },
                Some(_) if permanent || attempt_no >= retry.max_attempts => AfterAttempt::Failed,
                Some(_) => AfterAttempt::Retry { at: crate::now_ms() + retry.delay_after(attempt_no) },
            };
            let record = Attempt {
                delivery_id: item.id.clone(),
                attempt: attempt_no,
                started_at,
                duration_ms,
                status_code,
                error,
            };
            if let Err(e) = db.record_attempt(record, after).await {
                // The lease runs out and the delivery is tried again, with the same id.
                log(&format!("recording attempt {attempt_no} of delivery {}: {e}", item.id));
            }
        });
    }
    while running.join_next().await.is_some() {}
    Ok(n)
}

/// The outcome of one try.
struct Tried {
    /// The HTTP status, or the SMTP server's reply code.
    status_code: Option<i64>,
    error: Option<String>,
    /// Retrying cannot help (an SMTP server's 5xx refusal).
    permanent: bool,
}

impl Tried {
    fn from(status_code: Option<i64>, error: Option<String>) -> Tried {
        Tried { status_code, error, permanent: false }
    }
}

/// One try.
async fn attempt(state: &AppState, automations: &Automations, item: &OutboxItem) -> Tried {
    let timeout = Duration::from_millis(u64::try_from(automations.config.retry.timeout_ms).unwrap_or(10_000));
    match item.kind.as_str() {
        "webhook" => {
            // Rows of collectors that stored the signature itself name no key: their project's secret signs them.
            let key = item
                .signing_key
                .as_deref()
                .and_then(SigningKey::parse)
                .unwrap_or_else(|| SigningKey::Project(item.project_key.clone()));
            let Some(secret) = key.secret(state) else {
                return Tried::from(
                    None,
                    Some(format!("no signing secret for {key} in this collector's configuration")),
                );
            };
            let item = item.clone();
            let attempt_no = item.attempts + 1;
            let sent =
                tokio::task::spawn_blocking(move || post_webhook(&item, Some(&secret), attempt_no, timeout)).await;
            http_outcome(sent)
        }
        // Chat webhooks: the URL is the secret; they check no signature.
        "slack" | "teams" => {
            let item = item.clone();
            let attempt_no = item.attempts + 1;
            http_outcome(tokio::task::spawn_blocking(move || post_webhook(&item, None, attempt_no, timeout)).await)
        }
        "email" => match &automations.config.smtp {
            None => match write_email(&automations.outbox_dir, item).await {
                Ok(()) => Tried::from(None, None),
                Err(e) => Tried::from(None, Some(e)),
            },
            Some(settings) => {
                let settings = settings.clone();
                let from = super::message::address_of(automations.config.from_for(&item.project_key)).to_string();
                let (to, payload) = (item.target.clone(), item.payload.clone());
                let sent = tokio::task::spawn_blocking(move || {
                    super::smtp::send(&settings, &from, &to, payload.as_bytes(), timeout)
                })
                .await;
                match sent {
                    Ok(Ok(code)) => Tried::from(Some(i64::from(code)), None),
                    Ok(Err(f)) => {
                        Tried { status_code: f.code.map(i64::from), error: Some(f.message), permanent: f.permanent }
                    }
                    Err(e) => Tried::from(None, Some(format!("send task failed: {e}"))),
                }
            }
        },
        other => Tried::from(None, Some(format!("unknown delivery kind {other:?}"))),
    }
}

fn http_outcome(sent: Result<Result<u16, String>, tokio::task::JoinError>) -> Tried {
    match sent {
        Ok(Ok(status)) if (200..300).contains(&status) => Tried::from(Some(i64::from(status)), None),
        Ok(Ok(status)) => Tried::from(Some(i64::from(status)), Some(format!("the receiver answered HTTP {status}"))),
        Ok(Err(e)) => Tried::from(None, Some(e)),
        Err(e) => Tried::from(None, Some(format!("send task failed: {e}"))),
    }
}

/// POSTs the row's JSON payload; signed with `secret` when there is one
/// (a chat webhook URL is its own secret and checks no signature).
fn post_webhook(item: &OutboxItem, secret: Option<&str>, attempt_no: i64, timeout: Duration) -> Result<u16, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        // A receiver's redirect is a failure to fix, not something to follow with a signed body.
        .max_redirects(0)
        .proxy(None)
        .user_agent(concat!("touchpoint-collector/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let request = agent
        .post(&item.target)
        .header("Content-Type", "application/json")
        .header(DELIVERY_HEADER, &item.id)
        .header("X-Touchpoint-Rule", &item.rule_id)
        .header("X-Touchpoint-Attempt", attempt_no.to_string());
    // Signed just before sending: the receiver checks `t` against its clock.
    let request = match secret {
        Some(secret) => {
            let signature = crate::signature::sign(secret, crate::now_ms().div_euclid(1000), item.payload.as_bytes());
            request.header(SIGNATURE_HEADER, signature)
        }
        None => request,
    };
    let response = request.send(item.payload.as_bytes()).map_err(|e| format!("cannot deliver: {e}"))?;
    Ok(response.status().as_u16())
}

/// Writes `<outbox>/<delivery id>.eml` atomically (a temporary file renamed
/// into place), so a reader never sees half a message and a retry after a
/// crash replaces the file instead of adding a second one.
async fn write_email(dir: &std::path::Path, item: &OutboxItem) -> Result<(), String> {
    let path = dir.join(format!("{}.eml", item.id));
    let tmp = dir.join(format!(".{}.eml.tmp", item.id));
    let payload = item.payload.clone();
    tokio::task::spawn_blocking(move || {
        let write = || -> std::io::Result<()> {
            let mut file = crate::private_files::create(&tmp)?;
            std::io::Write::write_all(&mut file, payload.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
    })
    .await
    .map_err(|e| format!("write task failed: {e}"))?
}
