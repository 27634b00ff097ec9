//! Surveys: a JSON definition is validated once into a typed graph
//! ([`Survey`]); a [`Session`] walks that graph one answer at a time.
//!
//! ```json
//! { "id": "nps",
//!   "questions": [
//!     { "id": "score", "kind": "nps", "text": "How likely …?",
//!       "rules": [ { "when": { "score": { "min": 0, "max": 6 } }, "next": "obstacle" },
//!                  { "when": { "score": { "min": 7, "max": 10 } }, "next": "thanks" } ] },
//!     { "id": "obstacle", "kind": "single_choice", "text": "What got in the way?",
//!       "choices": [ { "id": "not_ready", "label": "Not ready to upgrade" }, … ],
//!       "rules": [ { "when": { "choice": "not_ready" }, "next": "trial" },
//!                  { "when": "any", "next": "thanks" } ] } ],
//!   "endings": [ { "id": "trial", "message": "…",
//!                  "actions": [ { "action": "offer", "code": "trial_extension_14d" } ] } ] }
//! ```
//!
//! A question may also carry `"next": "<id>"`, shorthand for a last
//! `{"when": "any"}` rule. The first question is where every showing starts.

mod card;
mod graph;
mod problem;
mod session;
mod validate;

pub use graph::{Choice, Condition, Ending, Question, QuestionKind, Rule, Survey, Target};
pub use problem::SurveyProblem;
pub use session::{AnswerError, Session, Step, Stopped};
