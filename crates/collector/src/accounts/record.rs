//! What an assessment changes: a health snapshot when an account's score,
//! stage or tier moved, and the routing decisions
//! `touchpoint_core::accounts::routing::plan` makes — with the rule's run
//! row, cases and signed webhooks in one transaction, so each happens once
//! per trigger. Webhooks are delivered by the automation worker's outbox.
//! Both the worker's passes ([`super::changes`]) and a full assessment
//! ([`super::worker::assess_project`]) record through here.

use std::collections::HashMap;

use serde_json::{json, Value};
use touchpoint_core::accounts::routing::{plan, Past};
use touchpoint_core::accounts::RouteAction;

use super::{AccountView, AccountsCatalog};
use crate::automations::effect_id;
use crate::signature::SigningKey;
use crate::store::{Case, HealthSnapshot, OutboxItem, RoutingDecision, RunEffects};
use crate::AppState;

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
