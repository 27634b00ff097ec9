//! The toolkit every definition is read with: [`Reader`] (a JSON reader
//! that records each problem with its path and reads on), and the problems
//! it records ([`DefinitionErrors`]). The collector validates with it (and
//! its `lint` command prints what it finds); the page never does.

mod problem;
mod reader;

pub use problem::{
    AccountsProblem, ChecklistProblem, DefinitionError, DefinitionErrors, Problem, SurveyProblem, TargetingProblem,
};
pub use reader::{join, pick_locale, validate, validate_in, validate_text, validate_text_in, Reader};
