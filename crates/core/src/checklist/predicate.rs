//! Conditions on properties (of a `track` event) or traits (of a user).

use serde_json::{Map, Value};

/// All of these must hold for the value under one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicate {
    pub key: String,
    pub ops: Vec<Op>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Equals(Value),
    In(Vec<Value>),
    Gte(f64),
    Gt(f64),
    Lte(f64),
    Lt(f64),
    Exists(bool),
}

impl Op {
    pub const NAMES: &'static [&'static str] = &["equals", "in", ">=", ">", "<=", "<", "exists"];

    /// Whether the operator holds for `v` (`None`: the key is missing).
    pub fn holds(&self, v: Option<&Value>) -> bool {
        let num = || v.and_then(Value::as_f64);
        match self {
            Op::Exists(want) => v.is_some_and(|v| !v.is_null()) == *want,
            Op::Equals(x) => v == Some(x),
            Op::In(xs) => v.is_some_and(|v| xs.contains(v)),
            Op::Gte(x) => num().is_some_and(|n| n >= *x),
            Op::Gt(x) => num().is_some_and(|n| n > *x),
            Op::Lte(x) => num().is_some_and(|n| n <= *x),
            Op::Lt(x) => num().is_some_and(|n| n < *x),
        }
    }
}

/// True when every predicate holds on `props`. No predicates: true.
pub fn all_hold(preds: &[Predicate], props: &Map<String, Value>) -> bool {
    preds.iter().all(|p| p.ops.iter().all(|op| op.holds(props.get(&p.key))))
}
