//! What only a checklist file can get wrong (see `definition` for the rest).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum ChecklistProblem {
    UnknownItem { id: String },
    DependencyCycle { ids: Vec<String> },
    UnknownChecklist { id: String },
    UnknownOperator { op: String },
}

impl fmt::Display for ChecklistProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ChecklistProblem::*;
        match self {
            UnknownItem { id } => write!(f, "{id:?} is not an item of this checklist"),
            DependencyCycle { ids } => write!(f, "items depend on each other in a circle: {}", ids.join(" → ")),
            UnknownChecklist { id } => write!(f, "{id:?} is not the id of a checklist in this file"),
            UnknownOperator { op } => {
                write!(f, "unknown operator {op:?}; expected one of {}", super::Op::NAMES.join(", "))
            }
        }
    }
}
