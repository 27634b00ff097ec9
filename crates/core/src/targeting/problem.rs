//! What only targeting can get wrong (see `definition` for the rest).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum TargetingProblem {
    BadUrlPattern { pattern: String },
}

impl fmt::Display for TargetingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetingProblem::BadUrlPattern { pattern } => write!(
                f,
                "URL pattern {pattern:?} must start with / or * (it is matched against the page path, e.g. /app/*)"
            ),
        }
    }
}
