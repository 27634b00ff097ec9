//! What can be wrong with a definition (a survey, a checklist file, targeting,
//! accounts, declared events): every problem with its JSON path, all at once,
//! so an author can fix them in one pass. Problems any definition can have
//! are [`Problem`]'s own variants; the rest belong to one domain each
//! ([`SurveyProblem`], [`ChecklistProblem`], [`TargetingProblem`],
//! [`AccountsProblem`]), so a domain's validation names only its own.

use std::fmt;

pub use crate::accounts::AccountsProblem;
pub use crate::checklist::ChecklistProblem;
pub use crate::survey::SurveyProblem;
pub use crate::targeting::TargetingProblem;

/// Everything wrong with a definition.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionErrors(pub Vec<DefinitionError>);

impl DefinitionErrors {
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().map(|e| &e.problem)
    }
}

impl fmt::Display for DefinitionErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "invalid definition ({n} problem{}):", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DefinitionErrors {}

/// One problem, at a JSON path such as `questions[1].rules[0].next`.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionError {
    pub path: String,
    pub problem: Problem,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    InvalidJson(String),
    WrongType {
        expected: &'static str,
    },
    MissingField,
    UnknownField {
        allowed: &'static [&'static str],
    },
    Empty,
    DuplicateId {
        id: String,
        first: String,
    },
    NotOneOf {
        expected: &'static str,
        got: String,
    },
    OutOfRange {
        min: i64,
        max: i64,
        got: String,
    },
    NumberOutOfRange {
        min: f64,
        max: f64,
        got: String,
    },
    BadCount,
    BadLocale {
        tag: String,
    },
    /// Segments (a checklist file's, accounts' tiers) need a last one that matches everyone.
    NoDefaultSegment,
    DefaultNotLast {
        id: String,
    },
    /// A link target that looks like a path but leads to another host.
    OffSite {
        url: String,
        why: crate::links::OffSite,
    },
    Survey(SurveyProblem),
    Checklist(ChecklistProblem),
    Targeting(TargetingProblem),
    Accounts(AccountsProblem),
}

macro_rules! domain {
    ($($ty:ident => $variant:ident),*) => {$(
        impl From<$ty> for Problem {
            fn from(p: $ty) -> Problem {
                Problem::$variant(p)
            }
        }
    )*};
}
domain!(SurveyProblem => Survey, ChecklistProblem => Checklist, TargetingProblem => Targeting, AccountsProblem => Accounts);

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Problem::*;
        match self {
            InvalidJson(e) => write!(f, "not valid JSON: {e}"),
            WrongType { expected } => write!(f, "expected {expected}"),
            MissingField => write!(f, "is required but missing"),
            UnknownField { allowed } => write!(f, "unknown field; allowed here: {}", allowed.join(", ")),
            Empty => write!(f, "must not be empty"),
            DuplicateId { id, first } => write!(f, "duplicate id {id:?}, already used at {first}"),
            NotOneOf { expected, got } => write!(f, "must be {expected}, got {got}"),
            OutOfRange { min, max, got } => write!(f, "must be a whole number from {min} to {max}, got {got}"),
            NumberOutOfRange { min, max, got } => write!(f, "must be a number from {min} to {max}, got {got}"),
            BadCount => write!(f, "count must be a whole number of at least 1"),
            BadLocale { tag } => write!(f, "{tag:?} is not a locale tag such as \"en\" or \"pt-BR\""),
            NoDefaultSegment => {
                write!(f, "no default segment: add a last segment without \"when\" for users who match no other")
            }
            DefaultNotLast { id } => {
                write!(
                    f,
                    "segment {id:?} has no \"when\", so it matches everyone and the segments after it never apply"
                )
            }
            OffSite { url, why } => write!(f, "{url:?} {why}"),
            Survey(p) => p.fmt(f),
            Checklist(p) => p.fmt(f),
            Targeting(p) => p.fmt(f),
            Accounts(p) => p.fmt(f),
        }
    }
}
