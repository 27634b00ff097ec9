//! A reader for hand-validated JSON definitions: every problem is recorded
//! with its path and reading goes on, so an author sees all problems at once.
//! Survey and checklist validation build on it.

use serde_json::{Map, Value};

use crate::survey::{DefinitionError, DefinitionErrors, Problem};

/// Runs `read` over `value`: the result only when nothing was wrong,
/// otherwise every problem found.
pub(crate) fn validate<T>(
    value: &Value,
    read: impl FnOnce(&mut Reader, &Value) -> Option<T>,
) -> Result<T, DefinitionErrors> {
    let mut r = Reader::default();
    match read(&mut r, value) {
        Some(t) if r.errors.is_empty() => Ok(t),
        _ => Err(DefinitionErrors(r.errors)),
    }
}

/// [`validate`] for JSON text; a syntax error is one `InvalidJson` problem at the root.
pub(crate) fn validate_text<T>(
    text: &str,
    read: impl FnOnce(&mut Reader, &Value) -> Option<T>,
) -> Result<T, DefinitionErrors> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        DefinitionErrors(vec![DefinitionError { path: String::new(), problem: Problem::InvalidJson(e.to_string()) }])
    })?;
    validate(&value, read)
}

#[derive(Default)]
pub(crate) struct Reader {
    pub errors: Vec<DefinitionError>,
}

impl Reader {
    pub fn err(&mut self, path: impl Into<String>, problem: Problem) {
        self.errors.push(DefinitionError { path: path.into(), problem });
    }

    pub fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &str,
        allowed: &'static [&'static str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = v.as_object() else {
            self.err(path, Problem::WrongType { expected: "an object" });
            return None;
        };
        for key in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.err(join(path, key), Problem::UnknownField { allowed });
        }
        Some(map)
    }

    /// A string field that must be present and not blank.
    pub fn text(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        let p = join(path, key);
        match map.get(key) {
            None => {
                self.err(p, Problem::MissingField);
                None
            }
            Some(v) => self.nonempty_str(v, p),
        }
    }

    pub fn opt_text(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        map.get(key).and_then(|v| self.nonempty_str(v, join(path, key)))
    }

    pub fn nonempty_str(&mut self, v: &Value, path: String) -> Option<String> {
        match v.as_str() {
            None => {
                self.err(path, Problem::WrongType { expected: "a string" });
                None
            }
            Some(s) if s.trim().is_empty() => {
                self.err(path, Problem::Empty);
                None
            }
            Some(s) => Some(s.to_owned()),
        }
    }

    pub fn array<'v>(&mut self, map: &'v Map<String, Value>, path: &str, key: &str) -> Option<&'v [Value]> {
        match map.get(key)? {
            Value::Array(items) => Some(items),
            _ => {
                self.err(join(path, key), Problem::WrongType { expected: "an array" });
                None
            }
        }
    }
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}
