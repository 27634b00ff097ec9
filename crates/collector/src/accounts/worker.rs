//! Reassesses the accounts new events touched as they arrive (woken after
//! each ingest commit, at most every [`SETTLE`]; see [`super::changes`]:
//! a pass reads only those accounts' events), and every [`PERIOD`] the
//! accounts assessed longest ago (recency decays with time alone): keeps a
//! health snapshot when an account's score, stage or tier changed, and stores the routing decisions
//! `touchpoint_core::accounts::routing::plan` makes — with the rule's run
//! row, cases and signed webhooks in one transaction, so each happens once
//! per trigger. Webhooks are delivered by the automation worker's outbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use touchpoint_core::accounts::routing::{plan, Past};
use touchpoint_core::accounts::RouteAction;

use super::{changes, compute, AccountView, AccountsCatalog};
use crate::automations::effect_id;
use crate::signature::SigningKey;
use crate::store::{Case, HealthSnapshot, OutboxItem, RoutingDecision, RunEffects};
use crate::worker::{Job, Stop};
use crate::AppState;

/// Wait after a wake-up so a burst of requests is assessed once.
const SETTLE: Duration = Duration::from_millis(200);
/// Time between two reassessments of the stalest accounts.
const PERIOD: Duration = Duration::from_secs(60);

/// The accounts worker's job: the accounts new events touched, then the
/// stalest ones each [`PERIOD`].
pub struct Assessing {
    catalog: Arc<AccountsCatalog>,
    last_refresh: tokio::time::Instant,
}

impl Job for Assessing {
    const NAME: &'static str = "accounts";

    /// The job if `state` has accounts.
    fn of(state: &AppState) -> Option<Assessing> {
        let catalog = state.accounts.clone()?;
        Some(Assessing { catalog, last_refresh: tokio::time::Instant::now() })
    }

    async fn pass(&mut self, state: &AppState, _stop: &Stop) -> Duration {
        if let Err(e) = changes::pass(state, &self.catalog, crate::now_ms()).await {
            tracing::warn!("accounts: {e}");
        }
        if self.last_refresh.elapsed() >= PERIOD {
            self.last_refresh = tokio::time::Instant::now();
            let older_than = i64::try_from(PERIOD.as_millis()).unwrap_or(i64::MAX);
            if let Err(e) = changes::refresh_stale(state, &self.catalog, crate::now_ms(), older_than).await {
                tracing::warn!("accounts: {e}");
            }
        }
        // At least a millisecond: zero would mean "go on at once".
        (self.last_refresh + PERIOD)
            .saturating_duration_since(tokio::time::Instant::now())
            .max(Duration::from_millis(1))
    }

    /// Then a short settle, so a burst of requests is assessed once.
    fn woken(&self) -> impl std::future::Future<Output = ()> + Send {
        let catalog = self.catalog.clone();
        async move {
            catalog.woken().await;
            tokio::time::sleep(SETTLE).await;
        }
    }
}

/// Assesses every account of `key` at `now`, records what changed and routes.
/// Returns the routing decisions stored now. Public for tests.
pub async fn assess_project(
    state: &AppState,
    catalog: &AccountsCatalog,
    key: &str,
    now: i64,
) -> Result<Vec<RoutingDecision>, String> {
    let views = compute(state, catalog, key, now).await.map_err(|e| format!("{e:?}"))?;
    record(state, catalog, key, &views, None, now).await
}

/// Records what changed for these assessed accounts (a health snapshot when
/// score, stage or tier moved) and stores their routing decisions.
/// `accounts`: the history and routing log to compare with are read for
/// those accounts only (an incremental pass); `None`: for the whole project.
pub(super) async fn record(
    state: &AppState,
    catalog: &AccountsCatalog,
    key: &str,
    views: &[AccountView],
    accounts: Option<&[String]>,
    now: i64,
) -> Result<Vec<RoutingDecision>, String> {
    if views.is_empty() {
        return Ok(Vec::new());
    }
    let db = &state.db;
    let scopes: Vec<Option<String>> = match accounts {
        Some(ids) => ids.iter().cloned().map(Some).collect(),
        None => vec![None],
    };
    let (mut history, mut log) = (Vec::new(), Vec::new());
    for scope in scopes {
        history.extend(db.health_history(key.to_string(), scope.clone()).await.map_err(|e| e.to_string())?);
        log.extend(db.routing_log(key.to_string(), scope).await.map_err(|e| e.to_string())?);
    }
    let mut latest: HashMap<&str, &HealthSnapshot> = HashMap::new();
    for h in &history {
        latest.insert(&h.account_id, h);
    }
    let mut snapshots = Vec::new();
    for v in views {
        let a = &v.assessment;
        let changed = latest
            .get(v.account_id.as_str())
            .is_none_or(|h| h.score != i64::from(a.health.score) || h.stage != a.stage || h.tier != a.tier);
        if changed {
            snapshots.push(HealthSnapshot {
                project_key: key.to_string(),
                account_id: v.account_id.clone(),
                computed_at: now,
                score: i64::from(a.health.score),
                stage: a.stage.clone(),
                tier: a.tier.clone(),
                breakdown: serde_json::to_string(&a.health.contributions).unwrap_or_default(),
            });
        }
    }
    if !snapshots.is_empty() {
        db.record_health(snapshots).await.map_err(|e| e.to_string())?;
    }

    let mut stored = Vec::new();
    let mut queued_delivery = false;
    for v in views {
        let past: Vec<Past> = log
            .iter()
            .filter(|d| d.account_id == v.account_id)
            .map(|d| Past { trigger_id: d.trigger_id.clone(), rule_id: d.rule_id.clone(), open: d.closed_at.is_none() })
            .collect();
        let p = plan(&catalog.config, &v.account_id, &v.assessment.facts, &v.events, &past);
        if !p.close.is_empty() {
            db.close_routing(key.to_string(), p.close, now).await.map_err(|e| e.to_string())?;
        }
        for fire in p.fire {
            let (run, lists, actions) = effects(state, catalog, key, v, fire.rule, &fire.trigger_id, &fire.reason, now);
            queued_delivery |= !run.outbox.is_empty();
            let decision = RoutingDecision {
                trigger_id: fire.trigger_id.clone(),
                rule_id: fire.rule.id.clone(),
                project_key: key.to_string(),
                account_id: v.account_id.clone(),
                reason: fire.reason.clone(),
                actions: actions.to_string(),
                assigned_to: v.owner.clone(),
                decided_at: now,
                // An event rule's decision is over when taken.
                closed_at: (!fire.open).then_some(now),
            };
            if db.apply_routing(decision.clone(), run, lists).await.map_err(|e| e.to_string())? {
                stored.push(decision);
            }
        }
    }
    if queued_delivery {
        if let Some(a) = &state.automations {
            a.wake();
        }
    }
    Ok(stored)
}

/// What one rule does for one account: its cases and webhooks, the lists,
/// and a JSON summary for the routing log.
#[allow(clippy::too_many_arguments)]
fn effects(
    state: &AppState,
    catalog: &AccountsCatalog,
    key: &str,
    v: &AccountView,
    rule: &touchpoint_core::accounts::RoutingRule,
    trigger_id: &str,
    reason: &str,
    now: i64,
) -> (RunEffects, Vec<String>, Value) {
    let a = &v.assessment;
    let account = json!({
        "id": v.account_id,
        "traits": v.traits,
        "owner": v.owner,
        "tier": a.tier,
        "stage": a.stage,
        "health": a.health.score,
        "breakdown": a.health.contributions,
        "users": v.members.iter().map(|m| &m.user_id).collect::<Vec<_>>(),
    });
    let mut run = RunEffects { rule_id: rule.id.clone(), ..RunEffects::default() };
    let mut lists = Vec::new();
    let mut done = Vec::new();
    for (i, action) in rule.actions.iter().enumerate() {
        let id = effect_id(key, trigger_id, &rule.id, i);
        match action {
            RouteAction::Case { title } => {
                let owner = v.owner.as_deref().unwrap_or("no owner");
                run.cases.push(Case {
                    id: id.clone(),
                    project_key: key.to_string(),
                    rule_id: rule.id.clone(),
                    trigger_id: trigger_id.to_string(),
                    title: format!("{title} — account {} (owner: {owner})", v.account_id),
                    user_id: None,
                    anonymous_id: None,
                    detail: json!({ "account": account, "assigned_to": v.owner, "reason": reason }).to_string(),
                    status: "open".into(),
                    created_at: now,
                    closed_at: None,
                    note: None,
                    priority: "normal".into(),
                    assignee: v.owner.clone(),
                    first_response_at: None,
                    csat_score: None,
                });
                done.push(json!({ "action": "case", "id": id, "assigned_to": v.owner }));
            }
            RouteAction::Webhook { url, secret_env } => {
                let payload = json!({
                    "delivery_id": id,
                    "rule": rule.id,
                    "project": key,
                    "trigger": "account_routing",
                    "trigger_id": trigger_id,
                    "reason": reason,
                    "account": account,
                    "created_at": now,
                })
                .to_string();
                // The secret is looked up again at each attempt, which signs its own time.
                let signing_key = match secret_env {
                    Some(var) => catalog.env_secrets.contains_key(var).then(|| SigningKey::Env(var.clone())),
                    None => state
                        .automations
                        .as_ref()
                        .is_some_and(|a| a.config.project_secrets.contains_key(key))
                        .then(|| SigningKey::Project(key.to_string())),
                };
                let (status, signing_key, last_error) = match signing_key {
                    Some(signing_key) => ("pending", Some(signing_key.to_string()), None),
                    None => (
                        "failed",
                        None,
                        Some(
                            "no signing secret: give secret_env, or a webhook_secret for the project in --automations"
                                .to_string(),
                        ),
                    ),
                };
                run.outbox.push(OutboxItem {
                    id: id.clone(),
                    project_key: key.to_string(),
                    rule_id: rule.id.clone(),
                    trigger_id: trigger_id.to_string(),
                    kind: "webhook".into(),
                    target: url.clone(),
                    payload,
                    signing_key,
                    status: status.into(),
                    attempts: 0,
                    next_attempt_at: now,
                    created_at: now,
                    delivered_at: None,
                    last_error,
                });
                done.push(json!({ "action": "webhook", "id": id, "url": url, "status": status }));
            }
            RouteAction::List { list } => {
                lists.push(list.clone());
                done.push(json!({ "action": "list", "list": list }));
            }
        }
    }
    (run, lists, Value::Array(done))
}
