//! What changed between two versions of a definition, by JSON path, so the
//! history says "questions[0].text changed" rather than showing two blobs.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// `questions[0].text`; empty for the whole body.
    pub path: String,
    /// `None`: added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// `None`: removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// Every change from `before` to `after` (`None`: the item is new), deepest
/// path first where both sides are objects or arrays.
pub fn diff(before: Option<&Value>, after: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    match before {
        None => changes.push(Change { path: String::new(), before: None, after: Some(after.clone()) }),
        Some(before) => walk(String::new(), before, after, &mut changes),
    }
    changes
}

fn walk(path: String, before: &Value, after: &Value, out: &mut Vec<Change>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, va) in a {
                let p = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match b.get(key) {
                    Some(vb) => walk(p, va, vb, out),
                    None => out.push(Change { path: p, before: Some(va.clone()), after: None }),
                }
            }
            for (key, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                let p = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                out.push(Change { path: p, before: None, after: Some(vb.clone()) });
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let p = format!("{path}[{i}]");
                match (a.get(i), b.get(i)) {
                    (Some(va), Some(vb)) => walk(p, va, vb, out),
                    (Some(va), None) => out.push(Change { path: p, before: Some(va.clone()), after: None }),
                    (None, Some(vb)) => out.push(Change { path: p, before: None, after: Some(vb.clone()) }),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => out.push(Change { path, before: Some(a.clone()), after: Some(b.clone()) }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(before: Value, after: Value) -> Vec<String> {
        diff(Some(&before), &after).into_iter().map(|c| c.path).collect()
    }

    #[test]
    fn names_each_change_by_path() {
        let before = json!({"id": "s", "questions": [{"text": "A"}, {"text": "B"}], "title": "T"});
        let after = json!({"id": "s", "questions": [{"text": "A2"}], "endings": []});
        assert_eq!(paths(before, after), ["questions[0].text", "questions[1]", "title", "endings"]);
    }

    #[test]
    fn the_same_body_has_no_changes() {
        assert!(paths(json!({"a": [1, {"b": 2}]}), json!({"a": [1, {"b": 2}]})).is_empty());
    }

    #[test]
    fn a_new_item_is_one_change_of_the_whole_body() {
        let changes = diff(None, &json!({"id": "s"}));
        assert_eq!(changes, vec![Change { path: String::new(), before: None, after: Some(json!({"id": "s"})) }]);
    }
}
