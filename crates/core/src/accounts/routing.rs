//! Which routing rules fire for an account now, exactly once per trigger.
//!
//! **A rule on state** (no `"event"`) fires when its conditions become true:
//! its trigger is `account:<id>:<rule>:<n>`, where `n` counts the rule's
//! earlier episodes for the account. The decision stays *open* while the
//! conditions hold (nothing fires again), and is *closed* once they no longer
//! do; when they hold again, episode `n + 1` fires.
//!
//! **A rule with an `"event"`** fires once per matching `track` event of a
//! user of the account (trigger `account:<id>:<rule>:event:<event id>`),
//! if its conditions hold when the event is seen.
//!
//! The caller stores each fired trigger under a unique key, so a trigger
//! planned twice (two collectors, a retry) is stored, and acted on, once.

use serde_json::{Map, Value};

use super::config::{AccountsConfig, RoutingRule};
use super::{explain, holds};

/// A decision taken earlier, from the routing log.
#[derive(Debug, Clone, PartialEq)]
pub struct Past {
    pub trigger_id: String,
    pub rule_id: String,
    /// A state rule's episode that has not been closed.
    pub open: bool,
}

/// A `track` event of one of the account's users.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountEvent {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fire<'a> {
    pub rule: &'a RoutingRule,
    pub trigger_id: String,
    /// The conditions (and event) with the values that met them.
    pub reason: String,
    /// A state rule's episode: stays open until its conditions no longer hold.
    pub open: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan<'a> {
    pub fire: Vec<Fire<'a>>,
    /// Open episodes whose conditions no longer hold.
    pub close: Vec<String>,
}

/// What to do for `account_id` given its `facts` (with `stage`), its users'
/// `track` events and the decisions already taken for it.
pub fn plan<'a>(
    config: &'a AccountsConfig,
    account_id: &str,
    facts: &Map<String, Value>,
    events: &[AccountEvent],
    past: &[Past],
) -> Plan<'a> {
    let mut out = Plan::default();
    for rule in &config.routing {
        let now_holds = holds(&rule.when, facts);
        match &rule.event {
            None => {
                let open = past.iter().find(|p| p.rule_id == rule.id && p.open);
                match (now_holds, open) {
                    (true, None) => {
                        let n = past.iter().filter(|p| p.rule_id == rule.id).count();
                        out.fire.push(Fire {
                            rule,
                            trigger_id: format!("account:{account_id}:{}:{n}", rule.id),
                            reason: explain(&rule.when, facts),
                            open: true,
                        });
                    }
                    (false, Some(p)) => out.close.push(p.trigger_id.clone()),
                    _ => {}
                }
            }
            Some(name) if now_holds => {
                for e in events.iter().filter(|e| &e.name == name) {
                    let trigger_id = format!("account:{account_id}:{}:event:{}", rule.id, e.id);
                    if past.iter().any(|p| p.trigger_id == trigger_id) {
                        continue;
                    }
                    let conditions =
                        if rule.when.is_empty() { String::new() } else { format!("; {}", explain(&rule.when, facts)) };
                    out.fire.push(Fire {
                        rule,
                        trigger_id,
                        reason: format!("event {name} ({}){conditions}", e.id),
                        open: false,
                    });
                }
            }
            Some(_) => {}
        }
    }
    out
}
