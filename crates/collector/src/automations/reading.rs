//! Reading a definition file by hand from `serde_json::Value`, every problem
//! under its JSON path: what the automations file and its `streams` part
//! share (so neither reader imports the other).

use serde_json::{Map, Value};

use crate::catalog::SurveyCatalog;
use crate::checklists::ChecklistCatalog;
use crate::projects::Projects;

/// What the rules are checked against.
pub struct Context<'a> {
    pub surveys: &'a SurveyCatalog,
    pub checklists: Option<&'a ChecklistCatalog>,
    pub projects: &'a Projects,
    /// Reads an environment variable (a parameter so tests need not touch the process environment).
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Collected problems, each `path: message` (shared with the streams' part of the file).
#[derive(Default)]
pub(crate) struct Problems(pub(crate) Vec<String>);

impl Problems {
    pub(crate) fn at(&mut self, path: &str, message: String) {
        if path.is_empty() {
            self.0.push(message);
        } else {
            self.0.push(format!("{path}: {message}"));
        }
    }

    pub(crate) fn object<'v>(&mut self, v: &'v Value, at: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(map) => Some(map),
            _ => {
                self.at(at, "must be an object".into());
                None
            }
        }
    }

    /// Reports every key of `map` not in `known`.
    pub(crate) fn only(&mut self, map: &Map<String, Value>, at: &str, known: &[&str]) {
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                let path = join(at, key);
                self.at(&path, format!("unknown field (expected one of: {})", known.join(", ")));
            }
        }
    }

    pub(crate) fn opt_str<'v>(&mut self, map: &'v Map<String, Value>, at: &str, key: &str) -> Option<&'v str> {
        match map.get(key)? {
            Value::String(s) if !s.trim().is_empty() => Some(s),
            Value::String(_) => {
                self.at(&join(at, key), "must not be empty".into());
                None
            }
            _ => {
                self.at(&join(at, key), "must be a string".into());
                None
            }
        }
    }

    pub(crate) fn str<'v>(&mut self, map: &'v Map<String, Value>, at: &str, key: &str) -> Option<&'v str> {
        if !map.contains_key(key) {
            self.at(&join(at, key), "is required".into());
            return None;
        }
        self.opt_str(map, at, key)
    }

    pub(crate) fn opt_int(
        &mut self,
        map: &Map<String, Value>,
        at: &str,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let v = map.get(key)?;
        match v.as_i64() {
            Some(n) if range.contains(&n) => Some(n),
            _ => {
                let (lo, hi) = (range.start(), range.end());
                self.at(&join(at, key), format!("must be a whole number from {lo} to {hi}, not {v}"));
                None
            }
        }
    }

    /// `key` (a literal secret) or `<key>_env` (the name of an environment variable holding it).
    pub(crate) fn secret(&mut self, map: &Map<String, Value>, at: &str, key: &str, cx: &Context) -> Option<String> {
        let env_key = format!("{key}_env");
        match (map.contains_key(key), map.contains_key(&env_key)) {
            (true, true) => {
                self.at(&join(at, key), format!("give {key} or {env_key}, not both"));
                None
            }
            (true, false) => {
                let secret = self.opt_str(map, at, key)?;
                if secret.len() < 16 {
                    self.at(&join(at, key), "must be at least 16 characters long".into());
                }
                Some(secret.to_string())
            }
            (false, true) => {
                let var = self.opt_str(map, at, &env_key)?;
                match (cx.env)(var).filter(|v| !v.is_empty()) {
                    Some(secret) => Some(secret),
                    None => {
                        self.at(&join(at, &env_key), format!("the environment variable {var} is not set"));
                        None
                    }
                }
            }
            (false, false) => None,
        }
    }
}

pub(crate) fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}
