//! Declared events: which `track()` names a project expects and the type of
//! each property, so the collector can refuse a misspelled event in strict
//! mode and `touchpoint-collector types` can give `tsc` the same list.
//!
//! In a project of the projects file:
//!
//! ```json
//! "events": { "strict": true,
//!             "declared": { "imported_data": { "rows": "integer", "source": "string?" },
//!                           "invited_teammate": {} } }
//! ```
//!
//! Types: `string`, `number`, `integer`, `boolean`, `object`, `array`; a
//! trailing `?` makes the property optional. A declared event is always
//! checked (missing, undeclared or mistyped properties); `strict` also
//! refuses names that are not declared.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::definition::{join, Reader};
use crate::definition::{DefinitionErrors, Problem};

/// A project's declared events, validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventSchema {
    pub strict: bool,
    /// By event name (sorted, so generated types are stable).
    pub declared: BTreeMap<String, BTreeMap<String, PropType>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropType {
    pub kind: PropKind,
    pub optional: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropKind {
    String,
    Number,
    Integer,
    Boolean,
    Object,
    Array,
}

impl PropKind {
    const ALL: [(&'static str, PropKind); 6] = [
        ("string", PropKind::String),
        ("number", PropKind::Number),
        ("integer", PropKind::Integer),
        ("boolean", PropKind::Boolean),
        ("object", PropKind::Object),
        ("array", PropKind::Array),
    ];

    fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, k)| *k == self).map_or("?", |(n, _)| n)
    }

    fn holds(self, v: &Value) -> bool {
        match self {
            PropKind::String => v.is_string(),
            PropKind::Number => v.is_number(),
            PropKind::Integer => v.is_i64() || v.is_u64(),
            PropKind::Boolean => v.is_boolean(),
            PropKind::Object => v.is_object(),
            PropKind::Array => v.is_array(),
        }
    }

    fn typescript(self) -> &'static str {
        match self {
            PropKind::String => "string",
            PropKind::Number | PropKind::Integer => "number",
            PropKind::Boolean => "boolean",
            PropKind::Object => "Record<string, unknown>",
            PropKind::Array => "unknown[]",
        }
    }
}

/// Why a `track` does not fit the declared events; `at` is relative to the
/// event (`name`, `props.rows`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventProblem {
    pub at: String,
    pub message: String,
}

impl fmt::Display for EventProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

const FIELDS: &[&str] = &["strict", "declared"];

impl EventSchema {
    pub fn from_value(value: &Value) -> Result<EventSchema, DefinitionErrors> {
        crate::definition::validate(value, Reader::event_schema)
    }

    /// The first problem of `track(name, props)`, if any.
    pub fn check(&self, name: &str, props: &Map<String, Value>) -> Result<(), EventProblem> {
        let problem = |at: String, message: String| Err(EventProblem { at, message });
        let Some(declared) = self.declared.get(name) else {
            if !self.strict {
                return Ok(());
            }
            let known: Vec<&str> = self.declared.keys().map(String::as_str).collect();
            let hint = closest(name, &known).map(|k| format!("; did you mean {k:?}?")).unwrap_or_default();
            return problem(
                "name".into(),
                format!("{name:?} is not a declared event (declared: {}){hint}", known.join(", ")),
            );
        };
        for (key, ty) in declared {
            match props.get(key) {
                None | Some(Value::Null) if ty.optional => {}
                None | Some(Value::Null) => {
                    return problem(
                        format!("props.{key}"),
                        format!("missing; {name} declares it as {}", ty.kind.name()),
                    )
                }
                Some(v) if !ty.kind.holds(v) => {
                    return problem(format!("props.{key}"), format!("expected {}, got {v}", ty.kind.name()))
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = props.keys().find(|k| !declared.contains_key(*k)) {
            let known: Vec<&str> = declared.keys().map(String::as_str).collect();
            return problem(
                format!("props.{extra}"),
                format!("{name} declares no property {extra:?} (declared: {})", known.join(", ")),
            );
        }
        Ok(())
    }

    /// A TypeScript module augmentation of `@touchpoint/widget`'s `EventMap`,
    /// so `track()` names and properties are checked by `tsc`.
    pub fn typescript(&self, source: &str) -> String {
        let mut out = format!(
            "// Generated by `touchpoint-collector types` from {source}. Do not edit; regenerate.\n\
             export {{}};\n\ndeclare module \"@touchpoint/widget\" {{\n  interface EventMap {{\n"
        );
        for (name, props) in &self.declared {
            let fields: Vec<String> = props
                .iter()
                .map(|(k, t)| {
                    format!("{}{}: {}", json_string(k), if t.optional { "?" } else { "" }, t.kind.typescript())
                })
                .collect();
            out.push_str(&format!("    {}: {{ {} }};\n", json_string(name), fields.join("; ")));
        }
        out.push_str("  }\n}\n");
        out
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// A declared name within two edits of `name`, for "did you mean".
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known.iter().map(|k| (edit_distance(name, k), *k)).filter(|(d, _)| *d <= 2).min().map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(cur).min(row[j]) };
            prev = cur;
        }
    }
    row[b.len()]
}

impl Reader {
    fn event_schema(&mut self, v: &Value) -> Option<EventSchema> {
        let map = self.object(v, "", FIELDS)?;
        let strict = match map.get("strict") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.err("strict", Problem::WrongType { expected: "true or false" });
                false
            }
        };
        let mut declared = BTreeMap::new();
        match map.get("declared") {
            None => self.err("declared", Problem::MissingField),
            Some(Value::Object(events)) => {
                for (name, props) in events {
                    let path = join("declared", name);
                    if name.trim().is_empty() {
                        self.err(&path, Problem::Empty);
                    }
                    let Some(props) = props.as_object() else {
                        self.err(&path, Problem::WrongType { expected: "an object of property types" });
                        continue;
                    };
                    let mut types = BTreeMap::new();
                    for (key, ty) in props {
                        let p = join(&path, key);
                        let Some(text) = ty.as_str() else {
                            self.err(p, Problem::WrongType { expected: "a type name such as \"string\"" });
                            continue;
                        };
                        let (base, optional) = match text.strip_suffix('?') {
                            Some(b) => (b, true),
                            None => (text, false),
                        };
                        match PropKind::ALL.iter().find(|(n, _)| *n == base) {
                            Some((_, kind)) => {
                                types.insert(key.clone(), PropType { kind: *kind, optional });
                            }
                            None => self.err(
                                p,
                                Problem::NotOneOf {
                                    expected: "string, number, integer, boolean, object or array (? for optional)",
                                    got: ty.to_string(),
                                },
                            ),
                        }
                    }
                    declared.insert(name.clone(), types);
                }
            }
            Some(_) => self.err("declared", Problem::WrongType { expected: "an object of events" }),
        }
        Some(EventSchema { strict, declared })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(strict: bool) -> EventSchema {
        EventSchema::from_value(&json!({ "strict": strict, "declared": {
            "imported_data": { "rows": "integer", "source": "string?" },
            "invited_teammate": {},
            "saved_view": { "filters": "object", "columns": "array?", "shared": "boolean", "score": "number?" } } }))
        .unwrap()
    }

    fn problem(s: &EventSchema, name: &str, props: Value) -> String {
        match s.check(name, props.as_object().unwrap()) {
            Ok(()) => "ok".into(),
            Err(p) => p.to_string(),
        }
    }

    #[test]
    fn declared_events_are_checked_property_by_property() {
        for s in [schema(true), schema(false)] {
            assert_eq!(problem(&s, "imported_data", json!({ "rows": 120 })), "ok");
            assert_eq!(problem(&s, "imported_data", json!({ "rows": 120, "source": "csv" })), "ok");
            assert_eq!(problem(&s, "imported_data", json!({ "rows": 1, "source": null })), "ok");
            assert_eq!(
                problem(&s, "imported_data", json!({ "rows": "120" })),
                "props.rows: expected integer, got \"120\""
            );
            assert_eq!(problem(&s, "imported_data", json!({ "rows": 1.5 })), "props.rows: expected integer, got 1.5");
            assert_eq!(
                problem(&s, "imported_data", json!({})),
                "props.rows: missing; imported_data declares it as integer"
            );
            assert_eq!(
                problem(&s, "imported_data", json!({ "rows": 1, "sorce": "csv" })),
                "props.sorce: imported_data declares no property \"sorce\" (declared: rows, source)"
            );
            assert_eq!(problem(&s, "invited_teammate", json!({})), "ok");
            assert_eq!(
                problem(&s, "saved_view", json!({ "filters": {}, "shared": true, "columns": [], "score": 2.5 })),
                "ok"
            );
            assert_eq!(
                problem(&s, "saved_view", json!({ "filters": [], "shared": true })),
                "props.filters: expected object, got []"
            );
        }
    }

    #[test]
    fn strict_mode_refuses_undeclared_names_with_a_suggestion() {
        assert_eq!(
            problem(&schema(true), "imprted_data", json!({})),
            "name: \"imprted_data\" is not a declared event (declared: imported_data, invited_teammate, saved_view); \
             did you mean \"imported_data\"?"
        );
        assert_eq!(
            problem(&schema(true), "logged_in", json!({})),
            "name: \"logged_in\" is not a declared event (declared: imported_data, invited_teammate, saved_view)"
        );
        assert_eq!(problem(&schema(false), "logged_in", json!({ "anything": 1 })), "ok");
    }

    #[test]
    fn typescript_declares_every_event_and_property() {
        assert_eq!(
            schema(true).typescript("projects.json"),
            "// Generated by `touchpoint-collector types` from projects.json. Do not edit; regenerate.\n\
             export {};\n\n\
             declare module \"@touchpoint/widget\" {\n  interface EventMap {\n\
             \x20   \"imported_data\": { \"rows\": number; \"source\"?: string };\n\
             \x20   \"invited_teammate\": {  };\n\
             \x20   \"saved_view\": { \"columns\"?: unknown[]; \"filters\": Record<string, unknown>; \"score\"?: number; \"shared\": boolean };\n\
             \x20 }\n}\n"
        );
    }

    #[test]
    fn bad_declarations_name_their_path() {
        let errors = |v: Value| match EventSchema::from_value(&v) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect::<Vec<_>>(),
        };
        assert_eq!(
            errors(json!({ "strict": "yes", "declared": { "a": { "n": "float", "m": 3 }, "b": [] }, "extra": 1 })),
            [
                "extra: unknown field; allowed here: strict, declared",
                "strict: expected true or false",
                "declared.a.m: expected a type name such as \"string\"",
                "declared.a.n: must be string, number, integer, boolean, object or array (? for optional), got \"float\"",
                "declared.b: expected an object of property types",
            ]
        );
        assert_eq!(errors(json!({ "strict": true })), ["declared: is required but missing"]);
    }
}
