//! What only the accounts file can get wrong (see `definition` for the rest).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum AccountsProblem {
    UnknownSignal { name: String },
    NotAfter { earlier: String },
}

impl fmt::Display for AccountsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountsProblem::UnknownSignal { name } => {
                write!(f, "unknown signal {name:?}; expected one of {}", super::Signal::NAMES.join(", "))
            }
            AccountsProblem::NotAfter { earlier } => write!(f, "must be greater than {earlier}"),
        }
    }
}
