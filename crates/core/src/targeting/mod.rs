//! The attention budget: may this experience (a survey, or a nudge that
//! opens a panel) claim the user's attention on this page, now? If not, the
//! first rule that blocks it, with its data, so `Touchpoint.why(id)`, the
//! debug overlay and the collector's dry run can say why. The widget and the
//! collector run this same code, so they always agree.
//!
//! A remote-config file, validated into [`Experiences`] (every problem with its path):
//!
//! ```json
//! { "cooldown_hours": 24,                  // after anything was shown, before the next; default 0
//!   "per_session": 1,                      // at most this many per browser session (tab); default no cap
//!   "kinds": { "survey": { "cooldown_hours": 720 },   // between two of the same kind; default 0
//!              "nudge": { "cooldown_hours": 24 } },
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
//!         "delay_ms": 2000 } } ],          // after page load, default 0, at most an hour
//!   "nudges": [                            // open a panel unasked; same fields as a survey, plus
//!     { "id": "finish-setup", "opens": "checklist" } ] }   // "checklist" or "help"
//! ```
//!
//! [`evaluate`] checks the rules in this fixed order ([`Rule::ORDER`]) and
//! returns the first that blocks as a [`Reason`]:
//!
//! 1. **on screen** — something of ours is on screen (a survey, a panel);
//! 2. **busy** — the host said so (`setBusy`), a host dialog is open, or the user is typing;
//! 3. **session cap** — `per_session` experiences were already shown in this session;
//! 4. **recontact** — this experience was shown within `recontact_days`;
//! 5. **kind cooldown** — one of the same kind was shown within its `kinds` cooldown;
//! 6. **cooldown** — anything was shown within `cooldown_hours`;
//! 7. **available** — a nudge's panel has nothing for this user;
//! 8. **url** — the page path matches none of `urls`;
//! 9. **segment** — the user's segment is not one of `segments`;
//! 10. **traits** — a trait condition fails (the first by trait name, then operator, alphabetically);
//! 11. **first seen** — the user was first seen fewer than `min_days_since_first_seen` days ago;
//! 12. **event** — the event was done fewer than `count` times;
//! 13. **sampling** — the user's [`bucket`] is not below `sample_percent`.
//!
//! Otherwise it is eligible, at `max(now, page_loaded_at + delay_ms)`.
//! [`Experiences::schedule`] then picks the one to show (highest priority,
//! then smallest id); the other eligible ones wait as **queued** behind it.
//! A showing counts for recontact and cooldowns whether it was answered or
//! dismissed; the caller records it in [`History`] (the widget folds its
//! events into [`Facts`], merged across devices for identified users).

mod choose;
mod context;
mod definition;
mod facts;
mod problem;
mod rules;
mod sampling;

pub use choose::{pick, Pick, Schedule};
pub use context::{Busy, Context, History, OnScreen};
pub use definition::{Caps, EventRule, Experience, Experiences, Kind, Opens, Targeting, DEFAULT_RECONTACT_DAYS};
pub use facts::Facts;
pub use problem::TargetingProblem;
pub use rules::{evaluate, Reason, Rule, Verdict};
pub use sampling::bucket;

#[cfg(test)]
mod tests;
