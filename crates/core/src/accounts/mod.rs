//! Accounts: the customer a user belongs to (`Touchpoint.group(accountId,
//! traits)`), and what a success team decides about it — its tier, a health
//! score that explains itself, a lifecycle stage and where it is routed.
//!
//! One definition file (the collector's `--accounts`, `accounts.json`) holds
//! all four, validated together into an [`AccountsConfig`]:
//!
//! ```json
//! { "owner_trait": "owner",
//!   "nps": { "survey": "nps", "question": "score" },
//!   "tiers": [ { "id": "high_touch", "when": { "seats": { ">=": 51 } } },
//!              { "id": "low_touch", "when": { "seats": { ">=": 6 } } },
//!              { "id": "tech_touch" } ],                       // no "when": the default, last
//!   "health": { "signals": [
//!     { "signal": "nps", "weight": 30 },
//!     { "signal": "checklist", "weight": 20 },
//!     { "signal": "behaviors", "weight": 20, "events": ["imported_data", "created_report"] },
//!     { "signal": "recency", "weight": 15, "full_days": 3, "zero_days": 30 },
//!     { "signal": "frequency", "weight": 10, "window_days": 14, "target_days": 7 },
//!     { "signal": "open_cases", "weight": 5, "zero_at": 3 } ] },
//!   "stages": [ { "id": "at_risk", "when": { "health": { "<": 40 }, "age_days": { ">=": 7 } } },
//!               { "id": "champion", "when": { "health": { ">=": 80 } } },
//!               { "id": "adopted", "when": { "checklist": { ">=": 75 } } },
//!               { "id": "onboarding" } ],
//!   "routing": [ { "id": "at_risk_to_owner", "when": { "stage": { "equals": "at_risk" } },
//!                  "do": [ { "action": "case", "title": "Account at risk" },
//!                          { "action": "webhook", "url": "https://crm.example/hook" },
//!                          { "action": "list", "list": "at_risk" } ] } ] }
//! ```
//!
//! - [`health`]: the score 0–100, a weighted mean of signals each in 0–1, with
//!   every signal's contribution in points and in words.
//! - Tiers and stages: first match wins, the last one (without `"when"`) is
//!   the default. Conditions use the checklist's predicate syntax on the
//!   account's [`facts`](health::Facts) (`health`, `nps`, `checklist`,
//!   `days_inactive`, `age_days`, `active_days`, `open_cases`, `users`, `tier`, `stage`,
//!   and the account's traits as `account.<trait>`); tiers read the account's
//!   traits by their own names.
//! - [`routing`]: which rules fire, and *once per trigger*: a rule on the
//!   account's state fires when its conditions become true and again only
//!   after they were false in between; a rule with an `"event"` fires once
//!   per matching event.
//!
//! Checklist items can count across an account's users
//! (`"scope": "account"` in `checklists.json`; see [`crate::checklist`]).

mod config;
pub mod health;
mod problem;
pub mod routing;

pub use config::{AccountsConfig, RouteAction, RoutingRule, Signal, Stage, Tier, WeightedSignal};
pub use health::{Contribution, Facts, Health, Inputs};
pub use problem::AccountsProblem;

use serde_json::{Map, Value};

use crate::checklist::Predicate;

/// True when every predicate holds on `facts`. No predicates: true.
pub(crate) fn holds(preds: &[Predicate], facts: &Map<String, Value>) -> bool {
    preds.iter().all(|p| p.ops.iter().all(|op| op.holds(facts.get(&p.key))))
}

/// Why conditions hold, in words: `health 32 < 40, stage "at_risk"`.
pub fn explain(preds: &[Predicate], facts: &Map<String, Value>) -> String {
    use crate::checklist::Op;
    let mut parts = Vec::new();
    for p in preds {
        let v = facts.get(&p.key);
        let shown = match v {
            Some(Value::String(s)) => format!("{s:?}"),
            Some(v) => v.to_string(),
            None => "missing".into(),
        };
        for op in &p.ops {
            let cond = match op {
                Op::Equals(x) => format!("= {x}"),
                Op::In(xs) => format!("in {}", Value::Array(xs.clone())),
                Op::Gte(x) => format!(">= {x}"),
                Op::Gt(x) => format!("> {x}"),
                Op::Lte(x) => format!("<= {x}"),
                Op::Lt(x) => format!("< {x}"),
                Op::Exists(true) => "exists".into(),
                Op::Exists(false) => "is missing".into(),
            };
            parts.push(format!("{} {shown} ({cond})", p.key));
        }
    }
    if parts.is_empty() {
        "always".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests;
