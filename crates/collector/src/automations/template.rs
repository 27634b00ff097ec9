//! Email templates: `templates/<name>.eml`, a `Subject:` header (and
//! optionally `Reply-To:`), a blank line, then the plain-text body.
//! Placeholders are `{{name}}` or `{{name|default}}`, where `name` is
//! `user_id`, `anonymous_id`, `rule`, `traits.<trait>` (from the user's
//! `identify` calls), `event.<field>` (the triggering event) or
//! `action.<field>` (the ending's action that matched an `ending_action`
//! rule, e.g. `{{action.code}}`). A value that is missing renders as the
//! default, or as nothing.
//!
//! Templates are checked when the collector starts (unknown placeholders,
//! a missing subject, unknown headers are errors naming the line).

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub subject: Vec<Part>,
    pub reply_to: Option<Vec<Part>>,
    pub body: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Field { name: String, default: Option<String> },
}

/// What placeholders are filled from.
pub struct Vars<'a> {
    pub rule: &'a str,
    pub user_id: Option<&'a str>,
    pub anonymous_id: Option<&'a str>,
    pub traits: &'a Map<String, Value>,
    pub event: Option<&'a Value>,
    pub action: Option<&'a Map<String, Value>>,
}

const ROOTS: &str = "user_id, anonymous_id, rule, traits.<name>, event.<field>, action.<field>";

impl Template {
    /// Errors are `line N: …`.
    pub fn parse(text: &str) -> Result<Template, Vec<String>> {
        let mut errors = Vec::new();
        let text = text.replace("\r\n", "\n");
        let Some((head, body)) = text.split_once("\n\n") else {
            return Err(vec!["expected headers (Subject: …), a blank line, then the body".into()]);
        };
        let mut subject = None;
        let mut reply_to = None;
        for (i, line) in head.lines().enumerate() {
            let n = i + 1;
            let Some((name, value)) = line.split_once(':') else {
                errors.push(format!("line {n}: expected \"Header: value\", got {line:?}"));
                continue;
            };
            let parsed = match Template::parse_line(value.trim()) {
                Ok(parts) => parts,
                Err(e) => {
                    errors.push(format!("line {n}: {e}"));
                    continue;
                }
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "subject" => subject = Some(parsed),
                "reply-to" => reply_to = Some(parsed),
                other => errors.push(format!("line {n}: unknown header {other:?} (expected Subject or Reply-To)")),
            }
        }
        if subject.is_none() {
            errors.push("line 1: a Subject: header is required".into());
        }
        let first_body_line = head.lines().count() + 2;
        let mut body_parts = Vec::new();
        for (i, line) in body.split_inclusive('\n').enumerate() {
            match Template::parse_line(line) {
                Ok(parts) => body_parts.extend(parts),
                Err(e) => errors.push(format!("line {}: {e}", first_body_line + i)),
            }
        }
        match (errors.is_empty(), subject) {
            (true, Some(subject)) => Ok(Template { subject, reply_to, body: body_parts }),
            _ => Err(errors),
        }
    }

    /// One line (or any text without line-spanning placeholders).
    pub fn parse_line(text: &str) -> Result<Vec<Part>, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| format!("{{{{ without a closing }}}} in {text:?}"))?;
            let inner = &after[..end];
            let (name, default) = match inner.split_once('|') {
                Some((n, d)) => (n.trim(), Some(d.to_string())),
                None => (inner.trim(), None),
            };
            check_name(name)?;
            parts.push(Part::Field { name: name.to_string(), default });
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(parts)
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = match name.split_once('.') {
        None => matches!(name, "user_id" | "anonymous_id" | "rule"),
        Some((root, field)) => {
            matches!(root, "traits" | "event" | "action")
                && !field.is_empty()
                && field.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("unknown placeholder {{{{{name}}}}} (known: {ROOTS})"))
    }
}

/// Renders `parts`; a missing value is its default or nothing.
pub fn render(parts: &[Part], vars: &Vars) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Field { name, default } => match lookup(name, vars) {
                Some(v) if !v.is_empty() => out.push_str(&v),
                _ => out.push_str(default.as_deref().unwrap_or("")),
            },
        }
    }
    out
}

fn lookup(name: &str, vars: &Vars) -> Option<String> {
    let text = |v: &Value| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    match name.split_once('.') {
        None => match name {
            "user_id" => vars.user_id.map(str::to_string),
            "anonymous_id" => vars.anonymous_id.map(str::to_string),
            "rule" => Some(vars.rule.to_string()),
            _ => None,
        },
        Some(("traits", field)) => vars.traits.get(field).and_then(text),
        Some(("event", field)) => vars.event.and_then(|e| e.get(field)).and_then(text),
        Some(("action", field)) => vars.action.and_then(|a| a.get(field)).and_then(text),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars<'a>(traits: &'a Map<String, Value>, event: &'a Value, action: &'a Map<String, Value>) -> Vars<'a> {
        Vars {
            rule: "r1",
            user_id: Some("u1"),
            anonymous_id: Some("a1"),
            traits,
            event: Some(event),
            action: Some(action),
        }
    }

    #[test]
    fn placeholders_render_with_defaults() {
        let t = Template::parse(
            "Subject: Hi {{traits.name|there}}\n\nCode {{action.code}} for {{user_id}}.\n{{traits.nope}}!\n",
        )
        .unwrap();
        let traits = json!({"plan": "trial"}).as_object().unwrap().clone();
        let action = json!({"code": "trial_extension_14d"}).as_object().unwrap().clone();
        let event = json!({"ending_id": "trial_offer"});
        let v = vars(&traits, &event, &action);
        assert_eq!(render(&t.subject, &v), "Hi there");
        assert_eq!(render(&t.body, &v), "Code trial_extension_14d for u1.\n!\n");
    }

    #[test]
    fn problems_name_their_line() {
        for (text, expected) in [
            ("Subject: x\n\nHello {{who}}\n", "line 3: unknown placeholder {{who}}"),
            ("Subject: x\nBcc: y\n\nbody", "line 2: unknown header \"bcc\""),
            ("From: x\n\nbody", "line 1: a Subject: header is required"),
            ("Subject: {{rule\n\nbody", "line 1: {{ without a closing }}"),
            ("no headers at all", "expected headers"),
        ] {
            let errors = Template::parse(text).unwrap_err();
            assert!(errors.iter().any(|e| e.starts_with(expected)), "{text:?}: {errors:?}");
        }
    }
}
