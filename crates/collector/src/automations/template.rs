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
//!
//! A `Content-Type: text/html` header makes the body HTML; the default is
//! plain text. A file `templates/<name>.html` next to a plain-text
//! `<name>.eml` is the HTML part of the same message (sent as
//! `multipart/alternative`, the text part first for clients that show no HTML).
//!
//! **Locales.** `templates/<name>.<locale>.eml` (and `.html`), e.g.
//! `trial_extension.de.eml`, is the template for users whose `locale` trait
//! is that locale or a regional form of it (`de-AT` → `de`); everyone else
//! gets `<name>.eml`.
//!
//! **Values are escaped for where they go**, because traits and event
//! fields are whatever a page sent: in a header (`Subject`, `Reply-To`, the
//! rule's `to`) and in a plain-text body, control characters (CR, LF, …)
//! become spaces, so a value can neither start a header nor a line of its
//! own; in an HTML body, `& < > " '` become entities; inside a URL (a
//! placeholder after `http://`, `https://` or `mailto:` in the same word,
//! or inside an HTML `href`/`src` attribute) every byte but letters, digits
//! and `-._~` is percent-encoded. A `|default` is the template author's own
//! text and is used as written.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub subject: Vec<Part>,
    pub reply_to: Option<Vec<Part>>,
    pub body: Vec<Part>,
    /// The body is HTML (`Content-Type: text/html`).
    pub html: bool,
    /// The HTML part of a plain-text template (`<name>.html`).
    pub html_alternative: Option<Vec<Part>>,
}

/// One template name's files: the default and one per locale.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalizedTemplate {
    pub default: Template,
    /// By lower-cased locale tag.
    pub locales: std::collections::BTreeMap<String, Template>,
}

impl LocalizedTemplate {
    /// The template for `locale` (a user's `locale` trait): the exact tag,
    /// then its language, then the default. Returns the locale it chose.
    pub fn pick(&self, locale: Option<&str>) -> (&Template, Option<&str>) {
        let Some(wanted) = locale.map(str::to_ascii_lowercase) else { return (&self.default, None) };
        let wanted = wanted.replace('_', "-");
        let language = wanted.split('-').next().unwrap_or_default();
        for tag in [wanted.as_str(), language] {
            if let Some((tag, t)) = self.locales.get_key_value(tag) {
                return (t, Some(tag));
            }
        }
        (&self.default, None)
    }

    /// Reads `<name>.eml`, `<name>.html` and their `<name>.<locale>.*` forms
    /// from `dir`. Errors name the file and line.
    pub fn load(dir: &std::path::Path, name: &str) -> Result<LocalizedTemplate, Vec<String>> {
        let mut errors = Vec::new();
        let mut read = |file: &str, required: bool| -> Option<String> {
            let path = dir.join(file);
            match std::fs::read_to_string(&path) {
                Ok(text) => Some(text),
                Err(e) if required || e.kind() != std::io::ErrorKind::NotFound => {
                    errors.push(format!("cannot read the template {}: {e}", path.display()));
                    None
                }
                Err(_) => None,
            }
        };
        let mut locales_found = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let locale = file
                    .strip_prefix(name)
                    .and_then(|r| r.strip_prefix('.'))
                    .and_then(|r| r.strip_suffix(".eml").or_else(|| r.strip_suffix(".html")));
                if let Some(locale) = locale.filter(|l| !l.is_empty() && !l.contains('.')) {
                    locales_found.push(locale.to_string());
                }
            }
        }
        locales_found.sort();
        locales_found.dedup();
        let one = |stem: &str, errors: &mut Vec<String>, read: &mut dyn FnMut(&str, bool) -> Option<String>| {
            let text = read(&format!("{stem}.eml"), true)?;
            let mut t = match Template::parse(&text) {
                Ok(t) => t,
                Err(e) => {
                    errors.extend(
                        e.into_iter().map(|e| format!("template {}: {e}", dir.join(format!("{stem}.eml")).display())),
                    );
                    return None;
                }
            };
            if let Some(html) = read(&format!("{stem}.html"), false) {
                if t.html {
                    errors.push(format!(
                        "template {}: is already HTML (Content-Type: text/html); remove it or {stem}.html",
                        dir.join(format!("{stem}.eml")).display()
                    ));
                }
                match Template::parse_html_part(&html) {
                    Ok(parts) => t.html_alternative = Some(parts),
                    Err(e) => errors.extend(
                        e.into_iter().map(|e| format!("template {}: {e}", dir.join(format!("{stem}.html")).display())),
                    ),
                }
            }
            Some(t)
        };
        let mut local_errors = Vec::new();
        let default = one(name, &mut local_errors, &mut read);
        let mut locales = std::collections::BTreeMap::new();
        for locale in locales_found {
            if !locale.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')) {
                local_errors.push(format!("template {name}.{locale}: a locale may only use letters, digits, - and _"));
                continue;
            }
            if let Some(t) = one(&format!("{name}.{locale}"), &mut local_errors, &mut read) {
                locales.insert(locale.to_ascii_lowercase().replace('_', "-"), t);
            }
        }
        errors.extend(local_errors);
        match default {
            Some(default) if errors.is_empty() => Ok(LocalizedTemplate { default, locales }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Field { name: String, default: Option<String>, within: Within },
}

/// Where a placeholder's value goes, which decides how it is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    /// A header value: one line.
    Header,
    /// A plain-text body: one line of text.
    Text,
    /// An HTML body.
    Html,
    /// A URL, in either body.
    Url,
}

/// What placeholders are filled from.
#[derive(Clone)]
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
        let mut html = false;
        for (i, line) in head.lines().enumerate() {
            let n = i + 1;
            let Some((name, value)) = line.split_once(':') else {
                errors.push(format!("line {n}: expected \"Header: value\", got {line:?}"));
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            if name == "content-type" {
                match value.trim().to_ascii_lowercase().as_str() {
                    "text/html" => html = true,
                    "text/plain" => html = false,
                    other => {
                        errors.push(format!("line {n}: Content-Type must be text/plain or text/html, not {other:?}"))
                    }
                }
                continue;
            }
            let parsed = match Template::parse_line(value.trim()) {
                Ok(parts) => parts,
                Err(e) => {
                    errors.push(format!("line {n}: {e}"));
                    continue;
                }
            };
            match name.as_str() {
                "subject" => subject = Some(parsed),
                "reply-to" => reply_to = Some(parsed),
                other => errors
                    .push(format!("line {n}: unknown header {other:?} (expected Subject, Reply-To or Content-Type)")),
            }
        }
        if subject.is_none() {
            errors.push("line 1: a Subject: header is required".into());
        }
        let first_body_line = head.lines().count() + 2;
        let mut body_parts = Vec::new();
        let within = if html { Within::Html } else { Within::Text };
        for (i, line) in body.split_inclusive('\n').enumerate() {
            match parse_parts(line, within, html) {
                Ok(parts) => body_parts.extend(parts),
                Err(e) => errors.push(format!("line {}: {e}", first_body_line + i)),
            }
        }
        match (errors.is_empty(), subject) {
            (true, Some(subject)) => Ok(Template { subject, reply_to, body: body_parts, html, html_alternative: None }),
            _ => Err(errors),
        }
    }

    /// The HTML part of a plain-text template: a body only, no headers.
    pub fn parse_html_part(text: &str) -> Result<Vec<Part>, Vec<String>> {
        let mut parts = Vec::new();
        let mut errors = Vec::new();
        for (i, line) in text.replace("\r\n", "\n").split_inclusive('\n').enumerate() {
            match parse_parts(line, Within::Html, true) {
                Ok(p) => parts.extend(p),
                Err(e) => errors.push(format!("line {}: {e}", i + 1)),
            }
        }
        if errors.is_empty() {
            Ok(parts)
        } else {
            Err(errors)
        }
    }

    /// A URL with placeholders (`email.unsubscribe`): every value percent-encoded.
    pub fn parse_url(text: &str) -> Result<Vec<Part>, String> {
        parse_parts(text, Within::Text, false)
    }

    /// One header line (a value such as the rule's `to`).
    pub fn parse_line(text: &str) -> Result<Vec<Part>, String> {
        parse_parts(text, Within::Header, false)
    }
}

/// The parts of one line whose placeholders go `within` (in a body, those
/// inside a URL go [`Within::Url`] instead).
fn parse_parts(text: &str, within: Within, html: bool) -> Result<Vec<Part>, String> {
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
        let before = &text[..text.len() - rest.len() + start];
        let within = if within != Within::Header && in_url(before, html) { Within::Url } else { within };
        parts.push(Part::Field { name: name.to_string(), default, within });
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(parts)
}

/// Whether a placeholder after `before` (the line up to it) is inside a URL:
/// the word it is in starts with a scheme, or, in HTML, an `href`/`src`
/// attribute is open.
fn in_url(before: &str, html: bool) -> bool {
    let word_start = before.rfind(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '(' | ')'));
    let word = before[word_start.map_or(0, |i| i + 1)..].to_ascii_lowercase();
    if ["http://", "https://", "mailto:"].iter().any(|scheme| word.starts_with(scheme)) {
        return true;
    }
    if html {
        let lower = before.to_ascii_lowercase();
        for attr in ["href=\"", "src=\"", "href='", "src='"] {
            if let Some(at) = lower.rfind(attr) {
                let quote = attr.chars().last().unwrap_or('"');
                if !lower[at + attr.len()..].contains(quote) {
                    return true;
                }
            }
        }
    }
    false
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

/// Renders `parts`, each value escaped for where it goes; a missing value
/// is its default or nothing.
pub fn render(parts: &[Part], vars: &Vars) -> String {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Field { name, default, within } => match lookup(name, vars) {
                Some(v) if !v.is_empty() => out.push_str(&escape(&v, *within)),
                _ => out.push_str(default.as_deref().unwrap_or("")),
            },
        }
    }
    out
}

/// `value` made safe `within` its part of the message.
pub fn escape(value: &str, within: Within) -> String {
    let one_line = || value.chars().map(|c| if c.is_control() { ' ' } else { c });
    match within {
        Within::Header | Within::Text => one_line().collect(),
        Within::Html => {
            let mut out = String::with_capacity(value.len());
            for c in one_line() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#39;"),
                    c => out.push(c),
                }
            }
            out
        }
        Within::Url => {
            let mut out = String::with_capacity(value.len());
            for b in value.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out
        }
    }
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
    fn values_are_escaped_for_where_they_go() {
        let t = Template::parse(
            "Subject: Hi {{traits.name}}\n\nHi {{traits.name}},\nhttps://acme.example/r?u={{user_id}}&n={{traits.name}}\n\
             (https://acme.example/{{traits.name}}) {{traits.name|friend}}\n",
        )
        .unwrap();
        let traits =
            json!({"name": "Eve\r\nBcc: all@x.io\n\nClick <a href=\"x\">here</a> & go"}).as_object().unwrap().clone();
        let v = Vars {
            rule: "r",
            user_id: Some("a b/c?d"),
            anonymous_id: None,
            traits: &traits,
            event: None,
            action: None,
        };
        assert_eq!(render(&t.subject, &v), "Hi Eve  Bcc: all@x.io  Click <a href=\"x\">here</a> & go");
        let enc = "Eve%0D%0ABcc%3A%20all%40x.io%0A%0AClick%20%3Ca%20href%3D%22x%22%3Ehere%3C%2Fa%3E%20%26%20go";
        assert_eq!(
            render(&t.body, &v),
            format!(
                "Hi Eve  Bcc: all@x.io  Click <a href=\"x\">here</a> & go,\nhttps://acme.example/r?u=a%20b%2Fc%3Fd&n={enc}\n\
                 (https://acme.example/{enc}) Eve  Bcc: all@x.io  Click <a href=\"x\">here</a> & go\n"
            )
        );
        assert!(!t.html);

        let h = Template::parse(
            "Subject: x\nContent-Type: text/html\n\n<p>Hi {{traits.name}}</p><a href=\"https://acme.example/?u={{user_id}}\">go</a>\n",
        )
        .unwrap();
        assert!(h.html);
        assert_eq!(
            render(&h.body, &v),
            "<p>Hi Eve  Bcc: all@x.io  Click &lt;a href=&quot;x&quot;&gt;here&lt;/a&gt; &amp; go</p>\
             <a href=\"https://acme.example/?u=a%20b%2Fc%3Fd\">go</a>\n"
        );
    }

    #[test]
    fn problems_name_their_line() {
        for (text, expected) in [
            ("Subject: x\n\nHello {{who}}\n", "line 3: unknown placeholder {{who}}"),
            ("Subject: x\nBcc: y\n\nbody", "line 2: unknown header \"bcc\""),
            ("Subject: x\nContent-Type: image/png\n\nbody", "line 2: Content-Type must be text/plain or text/html"),
            ("From: x\n\nbody", "line 1: a Subject: header is required"),
            ("Subject: {{rule\n\nbody", "line 1: {{ without a closing }}"),
            ("no headers at all", "expected headers"),
        ] {
            let errors = Template::parse(text).unwrap_err();
            assert!(errors.iter().any(|e| e.starts_with(expected)), "{text:?}: {errors:?}");
        }
    }
}
