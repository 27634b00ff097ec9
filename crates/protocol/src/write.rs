//! Writing events as JSON by hand, byte for byte as `serde_json::to_string`
//! writes [`Event`](crate::Event), for the widget's first module: it builds
//! every event it queues without serde, `core::fmt` or a JSON value tree
//! (each costs the host page kilobytes before the survey shows). The tests
//! hold this writer and the serde derive together.
//!
//! Usage: [`Envelope::open`] writes `{"id":…,…,"type":"<kind>"`, then one
//! [`field_str`] / [`field_raw`] / … per field of the kind, then [`close`].
//! [`Envelope::splice`] writes an envelope around a kind serialized elsewhere
//! (the second module's events, which it serializes with serde).

/// The envelope fields every event carries (see [`crate::Event`]).
pub struct Envelope<'a> {
    pub id: &'a str,
    pub ts: i64,
    pub anonymous_id: &'a str,
    pub user_id: Option<&'a str>,
    pub user_hash: Option<&'a str>,
    pub url: &'a str,
}

impl Envelope<'_> {
    /// `{"id":…,"ts":…,"anonymous_id":…[,"user_id":…][,"user_hash":…],"url":…` (no closing brace).
    fn head(&self, out: &mut String) {
        out.push_str("{\"id\":");
        push_str(out, self.id);
        out.push_str(",\"ts\":");
        push_i64(out, self.ts);
        out.push_str(",\"anonymous_id\":");
        push_str(out, self.anonymous_id);
        if let Some(u) = self.user_id {
            out.push_str(",\"user_id\":");
            push_str(out, u);
        }
        if let Some(h) = self.user_hash {
            out.push_str(",\"user_hash\":");
            push_str(out, h);
        }
        out.push_str(",\"url\":");
        push_str(out, self.url);
    }

    /// Starts an event of type `kind` (its wire name, e.g. `survey_shown`).
    pub fn open(&self, out: &mut String, kind: &str) {
        self.head(out);
        out.push_str(",\"type\":");
        push_str(out, kind);
    }

    /// The whole event: this envelope around `kind_json`, a serialized
    /// [`crate::EventKind`] (`{"type":…,…}`). `None` if `kind_json` is not a
    /// JSON object with at least one member.
    pub fn splice(&self, kind_json: &str) -> Option<String> {
        let members = kind_json.trim().strip_prefix('{')?.trim_start();
        if members.starts_with('}') || members.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(160 + kind_json.len());
        self.head(&mut out);
        out.push(',');
        out.push_str(members);
        Some(out)
    }
}

/// `,"name":"value"`.
pub fn field_str(out: &mut String, name: &str, value: &str) {
    push_name(out, name);
    push_str(out, value);
}

/// `,"name":<json>` for JSON text made elsewhere (e.g. by `JSON.stringify`).
pub fn field_raw(out: &mut String, name: &str, json: &str) {
    push_name(out, name);
    out.push_str(json);
}

/// `,"name":<n>`.
pub fn field_u64(out: &mut String, name: &str, n: u64) {
    push_name(out, name);
    push_u64(out, n);
}

/// `,"name":["a","b"]`.
pub fn field_strs<'a>(out: &mut String, name: &str, values: impl IntoIterator<Item = &'a str>) {
    push_name(out, name);
    push_strs(out, values);
}

/// `["a","b"]`.
pub fn push_strs<'a>(out: &mut String, values: impl IntoIterator<Item = &'a str>) {
    out.push('[');
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, v);
    }
    out.push(']');
}

/// Ends the event.
pub fn close(out: &mut String) {
    out.push('}');
}

fn push_name(out: &mut String, name: &str) {
    out.push(',');
    push_str(out, name);
    out.push(':');
}

/// `s` as a JSON string, escaped as serde_json escapes it.
pub fn push_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `start` and `i` are at ASCII bytes, so `get` always succeeds; unlike indexing it
        // brings no panic path (which formats: kilobytes in the widget's first module).
        out.push_str(s.get(start..i).unwrap_or_default());
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// `n` in decimal.
pub fn push_u64(out: &mut String, n: u64) {
    push_padded(out, n, 1);
}

/// `n` in decimal, with leading zeros to `width` digits (at most 20).
pub fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let (mut i, mut n) = (digits.len(), n);
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(digits.len().saturating_sub(width));
    out.extend(digits[start..].iter().map(|&d| d as char));
}

/// `n` in decimal, with its sign.
pub fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, AnswerValue, Event, EventKind, Props};
    use serde_json::json;

    const ODD: &str = "odd \u{1} \u{1f} \u{8} \u{c} \"q\" \\ é ☃ \n\r\t end";

    fn event(kind: EventKind, user: Option<(&str, Option<&str>)>) -> Event {
        Event {
            id: "0b0e3a2c-1111-4222-8333-444455556666".into(),
            ts: 1_764_000_000_123,
            anonymous_id: "anon \"1\"".into(),
            user_id: user.map(|(u, _)| u.to_owned()),
            user_hash: user.and_then(|(_, h)| h.map(str::to_owned)),
            url: "http://127.0.0.1:8787/app?q=\"x\"\\".into(),
            kind,
        }
    }

    fn envelope(e: &Event) -> Envelope<'_> {
        Envelope {
            id: &e.id,
            ts: e.ts,
            anonymous_id: &e.anonymous_id,
            user_id: e.user_id.as_deref(),
            user_hash: e.user_hash.as_deref(),
            url: &e.url,
        }
    }

    /// A survey event's first fields, as the first module writes them.
    fn ids(out: &mut String, survey_id: &str, response_id: &str, version: Option<u32>) {
        field_str(out, "survey_id", survey_id);
        field_str(out, "response_id", response_id);
        if let Some(v) = version {
            field_u64(out, "survey_version", u64::from(v));
        }
    }

    /// What the first module writes for `e`, field by field.
    fn by_hand(e: &Event) -> String {
        let mut out = String::new();
        envelope(e).open(&mut out, e.kind.name());
        match &e.kind {
            EventKind::SurveyShown { survey_id, response_id, survey_version } => {
                ids(&mut out, survey_id, response_id, *survey_version);
            }
            EventKind::SurveyAnswered { survey_id, response_id, survey_version, question_id, value } => {
                ids(&mut out, survey_id, response_id, *survey_version);
                field_str(&mut out, "question_id", question_id);
                match value {
                    AnswerValue::Score(n) => field_u64(&mut out, "value", u64::from(*n)),
                    AnswerValue::Text(t) => field_str(&mut out, "value", t),
                    AnswerValue::Choices(c) => field_strs(&mut out, "value", c.iter().map(String::as_str)),
                }
            }
            EventKind::SurveyCompleted { survey_id, response_id, survey_version, ending_id, actions } => {
                ids(&mut out, survey_id, response_id, *survey_version);
                field_str(&mut out, "ending_id", ending_id);
                field_raw(&mut out, "actions", &serde_json::to_string(actions).unwrap());
            }
            EventKind::SurveyDismissed { survey_id, response_id, survey_version, question_id } => {
                ids(&mut out, survey_id, response_id, *survey_version);
                field_str(&mut out, "question_id", question_id);
            }
            EventKind::Track { name, props } => {
                field_str(&mut out, "name", name);
                field_raw(&mut out, "props", &serde_json::to_string(props).unwrap());
            }
            EventKind::Page { props } | EventKind::Identify { traits: props } => {
                let name = if matches!(e.kind, EventKind::Page { .. }) { "props" } else { "traits" };
                field_raw(&mut out, name, &serde_json::to_string(props).unwrap());
            }
            EventKind::Group { account_id, traits } => {
                field_str(&mut out, "account_id", account_id);
                field_raw(&mut out, "traits", &serde_json::to_string(traits).unwrap());
            }
            EventKind::ClientError { code, message, event_ids } => {
                field_str(&mut out, "code", code);
                field_str(&mut out, "message", message);
                field_strs(&mut out, "event_ids", event_ids.iter().map(String::as_str));
            }
            other => panic!("the first module does not write {}", other.name()),
        }
        close(&mut out);
        out
    }

    fn kinds() -> Vec<EventKind> {
        let props: Props = json!({ "plan": "pro", "n": 3, "nested": { "q": ODD } }).as_object().unwrap().clone();
        let ids = || (String::from("nps"), String::from("r-1"));
        let (s, r) = ids();
        vec![
            EventKind::SurveyShown { survey_id: s.clone(), response_id: r.clone(), survey_version: None },
            EventKind::SurveyShown { survey_id: s.clone(), response_id: r.clone(), survey_version: Some(7) },
            EventKind::SurveyAnswered {
                survey_id: s.clone(),
                response_id: r.clone(),
                survey_version: Some(3),
                question_id: "score".into(),
                value: AnswerValue::Score(10),
            },
            EventKind::SurveyAnswered {
                survey_id: s.clone(),
                response_id: r.clone(),
                survey_version: Some(3),
                question_id: "why".into(),
                value: AnswerValue::Text(ODD.into()),
            },
            EventKind::SurveyAnswered {
                survey_id: s.clone(),
                response_id: r.clone(),
                survey_version: Some(3),
                question_id: "what".into(),
                value: AnswerValue::Choices(vec!["a".into(), ODD.into()]),
            },
            EventKind::SurveyAnswered {
                survey_id: s.clone(),
                response_id: r.clone(),
                survey_version: Some(3),
                question_id: "what".into(),
                value: AnswerValue::Choices(vec![]),
            },
            EventKind::SurveyCompleted {
                survey_id: s.clone(),
                response_id: r.clone(),
                survey_version: Some(2),
                ending_id: "trial".into(),
                actions: vec![Action {
                    action: "offer".into(),
                    params: json!({"code": "trial_extension_14d"}).as_object().unwrap().clone(),
                }],
            },
            EventKind::SurveyDismissed {
                survey_id: s,
                response_id: r,
                survey_version: None,
                question_id: "score".into(),
            },
            EventKind::Track { name: ODD.into(), props: props.clone() },
            EventKind::Page { props: Props::new() },
            EventKind::Identify { traits: props.clone() },
            EventKind::Group { account_id: "acme".into(), traits: props },
            EventKind::ClientError {
                code: "queue_overflow".into(),
                message: ODD.into(),
                event_ids: vec!["e1".into(), "e2".into()],
            },
        ]
    }

    #[test]
    fn writes_what_serde_writes_for_every_kind_the_first_module_makes() {
        for kind in kinds() {
            for user in [None, Some(("u\t1", None)), Some(("u1", Some("ab12")))] {
                let e = event(kind.clone(), user);
                assert_eq!(by_hand(&e), serde_json::to_string(&e).unwrap(), "{}", kind.name());
            }
        }
    }

    #[test]
    fn splices_an_envelope_around_a_serialized_kind() {
        let kind = EventKind::HelpCaseCreated {
            message: ODD.into(),
            email: Some("a@b.example".into()),
            last_article: None,
            last_failed_search: Some("exprot".into()),
        };
        for user in [None, Some(("u1", Some("ab12")))] {
            let e = event(kind.clone(), user);
            let spliced = envelope(&e).splice(&serde_json::to_string(&e.kind).unwrap()).unwrap();
            assert_eq!(spliced, serde_json::to_string(&e).unwrap());
        }
        let e = event(EventKind::HelpOpened {}, None);
        let spliced = envelope(&e).splice(&serde_json::to_string(&e.kind).unwrap()).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&spliced).unwrap(), e);
        for bad in ["", "{}", "{ }", "[1]", "\"x\""] {
            assert_eq!(envelope(&e).splice(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers() {
        for n in [0i64, 7, 10, 99, 1_764_000_000_123, -1, -10, i64::MAX, i64::MIN] {
            let mut out = String::new();
            push_i64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
        for (n, width, text) in
            [(7u64, 6, "000007"), (1_764_000_000_123, 13, "1764000000123"), (42, 1, "42"), (0, 3, "000")]
        {
            let mut out = String::new();
            push_padded(&mut out, n, width);
            assert_eq!(out, text);
        }
    }
}
