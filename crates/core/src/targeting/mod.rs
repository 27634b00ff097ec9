//! Eligibility: may this experience (today: a survey) be shown to this user,
//! on this page, now? If not, the first rule that blocks it, with its data,
//! so `Touchpoint.why(id)` and the collector's dry run can say why. The
//! widget and the collector run this same code, so they always agree.
//!
//! A remote-config file, validated into [`Experiences`] (every problem with its path):
//!
//! ```json
//! { "cooldown_hours": 24,                  // between any two surveys; default 0
//!   "surveys": [
//!     { "id": "nps",
//!       "priority": 10,                    // higher wins; default 0, -1000..=1000
//!       "recontact_days": 90,              // default 90; 0 = no recontact period
//!       "targeting": {                     // optional; every field optional
//!         "urls": ["/app/*", "/projects/*"],   // page path patterns, any matches
//!         "event": { "name": "report_created", "count": 3 },   // done ≥ 3 times (count default 1)
//!         "traits": { "plan": { "in": ["pro", "team"] } },     // as a checklist's `where`
//!         "segments": ["large_org"],       // the user's segment is one of these
//!         "min_days_since_first_seen": 7,
//!         "sample_percent": 50,            // 0–100, default 100
//!         "delay_ms": 2000 } } ] }         // after page load, default 0, at most an hour
//! ```
//!
//! [`evaluate`] checks the rules in this fixed order ([`Rule::ORDER`]) and
//! returns the first that blocks as a [`Reason`]:
//!
//! 1. **on screen** — a survey is on screen (at most one at a time);
//! 2. **recontact** — this survey was shown within `recontact_days`;
//! 3. **cooldown** — any survey was shown within `cooldown_hours`;
//! 4. **url** — the page path matches none of `urls`;
//! 5. **segment** — the user's segment is not one of `segments`;
//! 6. **traits** — a trait condition fails (the first by trait name, then operator, alphabetically);
//! 7. **first seen** — the user was first seen fewer than `min_days_since_first_seen` days ago;
//! 8. **event** — the event was done fewer than `count` times;
//! 9. **sampling** — the user's [`bucket`] is not below `sample_percent`.
//!
//! Otherwise the verdict is eligible, at `max(now, page_loaded_at + delay_ms)`.
//! A showing counts for recontact and cooldown whether it was answered or
//! dismissed; the caller records it in [`History`] (persisted, and synced
//! across devices for identified users, by the caller).

mod choose;
mod context;
mod definition;
mod facts;
mod rules;
mod sampling;

pub use choose::{pick, Pick};
pub use context::{Context, History};
pub use definition::{EventRule, Experience, Experiences, Targeting, DEFAULT_RECONTACT_DAYS};
pub use facts::Facts;
pub use rules::{evaluate, Reason, Rule, Verdict};
pub use sampling::bucket;

#[cfg(test)]
mod tests;
