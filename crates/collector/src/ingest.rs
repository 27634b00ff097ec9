//! Judging the events of one batch one by one, so a single bad event is
//! rejected with its reason while the rest of the batch is still stored.
//!
//! Two verdicts: an event that is not an event (bad JSON, a user id without
//! its proof, …) is refused and not stored ([`check`]); an event that is
//! well formed but not believed is stored with a flag: its `ts` far from the
//! server's clock ([`ts_flag`]), or a survey event its survey contradicts
//! (`crate::responses`, stored rejected).

use serde::Deserialize;
use serde_json::Value;
use touchpoint_protocol::{Event, EventKind, EventResult, EventStatus, MAX_EVENT_BYTES};

use crate::extract::field_of;
use crate::projects::ProjectEntry;
use crate::store::{NewEvent, Source};

/// How far behind the server's clock a client's `ts` is still believed. An
/// outbox legitimately holds events for a while (offline, retries), not for days.
pub const TS_BEHIND_MS: i64 = 24 * 60 * 60 * 1000;
/// How far ahead of the server's clock: clocks drift by seconds or minutes, not more.
pub const TS_AHEAD_MS: i64 = 10 * 60 * 1000;

/// Why `ts` is not believed, if it is outside [`TS_BEHIND_MS`] before to
/// [`TS_AHEAD_MS`] after `received_at`. The event is kept either way; what
/// orders events ("latest wins") is `received_at`, so a wrong clock or a
/// forged `ts` cannot put an event ahead of later ones.
pub fn ts_flag(ts: i64, received_at: i64) -> Option<String> {
    let window = "the collector believes ts from 24 h before to 10 min after its own clock";
    let off = ts.saturating_sub(received_at);
    if off > TS_AHEAD_MS {
        Some(format!("ts is {} ahead of the server's clock; {window}", duration(off)))
    } else if off < -TS_BEHIND_MS {
        Some(format!("ts is {} behind the server's clock; {window}", duration(off.saturating_neg())))
    } else {
        None
    }
}

/// `ms` in the largest whole unit that fits: days, hours or minutes.
fn duration(ms: i64) -> String {
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    match ms {
        ms if ms >= 2 * DAY => format!("{} days", ms / DAY),
        ms if ms >= 2 * HOUR => format!("{} h", ms / HOUR),
        ms => format!("{} min", ms / MINUTE),
    }
}

pub use crate::metrics::Rejection;

pub enum Checked {
    /// Boxed: an event is far larger than a rejection.
    Valid(Box<NewEvent>),
    /// The result for the client, and the kind of problem (for `/metrics`).
    Rejected(EventResult, Rejection),
}

/// Judges the event at `index` of its batch. Reasons start with the JSON
/// path at fault, e.g. `events[3].ts: invalid type: string "x", expected i64`.
/// Events from the host's backend ([`Source::Server`]) need no `user_hash`:
/// the secret key vouches for them.
pub fn check(index: usize, mut raw: Value, project: &ProjectEntry, source: Source) -> Checked {
    let id = raw.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    let reject_as = |kind: Rejection, field: Option<&str>, reason: String| {
        let at = match field {
            Some(field) => format!("events[{index}].{field}"),
            None => format!("events[{index}]"),
        };
        let result =
            EventResult { id: id.clone(), status: EventStatus::Rejected, reason: Some(format!("{at}: {reason}")) };
        Checked::Rejected(result, kind)
    };
    let reject = |field: Option<&str>, reason: String| reject_as(Rejection::Invalid, field, reason);

    // Checked below, never stored: it is a credential for the user id.
    let user_hash = raw.as_object_mut().and_then(|o| o.remove("user_hash"));
    let body = raw.to_string();
    if body.len() > MAX_EVENT_BYTES {
        let why = format!("event is {} bytes, more than the limit of {MAX_EVENT_BYTES}", body.len());
        return reject_as(Rejection::TooLarge, None, why);
    }
    // As in `extract::Json`: the path is tracked only to describe an event
    // that failed, read again from its JSON text (the same value).
    let event: Event = match Event::deserialize(raw) {
        Ok(event) => event,
        Err(first) => {
            let e = match serde_json::from_str::<Value>(&body).map(serde_path_to_error::deserialize::<_, Event>) {
                Ok(Err(e)) => e,
                // Not expected: the text of a value reads back as that value.
                _ => return reject(None, first.to_string()),
            };
            let message = e.inner().to_string();
            // Fields of the event's kind are read through serde's `flatten`,
            // which loses the path; the tag is the one we can still name.
            let field = field_of(&e.path().to_string(), &message)
                .or_else(|| message.starts_with("unknown variant").then(|| "type".to_string()));
            return reject(field.as_deref(), message);
        }
    };
    if event.id.is_empty() {
        return reject(Some("id"), "must not be empty".into());
    }
    if let (Some(user), Source::Page) = (&event.user_id, source) {
        let hash = match &user_hash {
            None | Some(Value::Null) => None,
            Some(Value::String(h)) => Some(h.as_str()),
            Some(other) => return reject(Some("user_hash"), format!("must be a string, not {other}")),
        };
        if let Err(e) = project.verify_user(user, hash) {
            return reject_as(Rejection::Identity, Some("user_hash"), e.to_string());
        }
    }
    if let (Some(schema), EventKind::Track { name, props }) = (&project.project.events, &event.kind) {
        if let Err(p) = schema.check(name, props) {
            return reject_as(Rejection::Undeclared, Some(&p.at), p.message);
        }
    }
    Checked::Valid(Box::new(NewEvent { source, ..NewEvent::new(event, body) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::Projects;
    use serde_json::json;

    fn demo() -> std::sync::Arc<ProjectEntry> {
        Projects::demo().by_public_key(crate::projects::DEMO_PUBLIC_KEY).unwrap().clone()
    }

    fn check(index: usize, raw: Value) -> Checked {
        super::check(index, raw, &demo(), Source::Page)
    }

    fn check_rejected(raw: Value, expected_id: &str, expected_reason: &str) {
        match check(3, raw.clone()) {
            Checked::Rejected(r, _) => {
                assert_eq!(r.id, expected_id, "{raw}");
                assert_eq!(r.reason.as_deref(), Some(expected_reason), "{raw}");
            }
            Checked::Valid(_) => panic!("{raw} was accepted"),
        }
    }

    fn track(id: &str) -> Value {
        json!({"id": id, "ts": 1, "anonymous_id": "a", "url": "u", "type": "track", "name": "clicked"})
    }

    #[test]
    fn rejection_reasons_name_the_field() {
        check_rejected(json!({"ts": 1}), "", "events[3].id: missing field `id`");
        check_rejected(json!(42), "", "events[3]: invalid type: integer `42`, expected struct Event");
        check_rejected(
            json!({"id": "e1", "ts": 1, "anonymous_id": "a", "url": "u"}),
            "e1",
            "events[3].type: missing field `type`",
        );
        let Checked::Rejected(r, _) =
            check(3, json!({"id": "e2", "ts": 1, "anonymous_id": "a", "url": "u", "type": "survey_exploded"}))
        else {
            panic!("an unknown type was accepted")
        };
        let reason = r.reason.unwrap_or_default();
        let expected = "events[3].type: unknown variant `survey_exploded`, expected one of `survey_shown`";
        assert!(reason.starts_with(expected), "{reason}");
        check_rejected(
            json!({"id": "e3", "ts": "yesterday", "anonymous_id": "a", "url": "u", "type": "identify"}),
            "e3",
            "events[3].ts: invalid type: string \"yesterday\", expected i64",
        );
        check_rejected(
            json!({"id": "e4", "ts": 1, "anonymous_id": ["a"], "url": "u", "type": "identify"}),
            "e4",
            "events[3].anonymous_id: invalid type: sequence, expected a string",
        );
        check_rejected(
            json!({"id": "e5", "ts": 1, "anonymous_id": "a", "url": "u", "type": "track"}),
            "e5",
            "events[3].name: missing field `name`",
        );
        check_rejected(track(""), "", "events[3].id: must not be empty");
    }

    #[test]
    fn size_limit_is_on_the_serialized_event() {
        let mut big = track("big");
        let filler = MAX_EVENT_BYTES - big.to_string().len() - r#","props":{"x":""}"#.len();
        big["props"] = json!({ "x": "y".repeat(filler) });
        assert_eq!(big.to_string().len(), MAX_EVENT_BYTES);
        assert!(matches!(check(0, big.clone()), Checked::Valid(_)));

        big["props"]["x"] = json!("y".repeat(filler + 1));
        let size = MAX_EVENT_BYTES + 1;
        check_rejected(
            big,
            "big",
            &format!("events[3]: event is {size} bytes, more than the limit of {MAX_EVENT_BYTES}"),
        );
    }

    #[test]
    fn valid_event_keeps_its_json() {
        let Checked::Valid(e) = check(0, track("t1")) else { panic!("rejected") };
        assert_eq!(e.event.id, "t1");
        assert_eq!(serde_json::from_str::<Value>(&e.body).unwrap(), track("t1"));
    }

    #[test]
    fn verified_projects_reject_unproven_user_ids_and_never_store_the_hash() {
        let projects = Projects::from_json(
            r#"[{"public_key": "pk_v", "secret_key": "sk_v", "allowed_origins": ["*"],
                 "identity_secret": "0123456789abcdef-secret"}]"#,
        )
        .unwrap();
        let verified = projects.by_public_key("pk_v").unwrap();
        let hash = crate::projects::user_hash_of("0123456789abcdef-secret", "alice");
        let as_alice = |h: Value| {
            let mut e = track("t1");
            e["user_id"] = json!("alice");
            e["user_hash"] = h;
            e
        };
        let Checked::Valid(ok) = super::check(0, as_alice(json!(hash)), verified, Source::Page) else {
            panic!("rejected")
        };
        assert_eq!(ok.event.user_id.as_deref(), Some("alice"));
        assert!(!ok.body.contains("user_hash") && !ok.body.contains(&hash), "{}", ok.body);

        for (h, why) in [(json!(null), "needs its user_hash"), (json!("beef"), "is not the HMAC-SHA256")] {
            let Checked::Rejected(r, _) = super::check(2, as_alice(h.clone()), verified, Source::Page) else {
                panic!("{h} accepted")
            };
            let reason = r.reason.unwrap_or_default();
            assert!(reason.starts_with("events[2].user_hash: ") && reason.contains(why), "{reason}");
        }
        // The host's backend needs none: the secret key vouches for it.
        assert!(matches!(super::check(0, as_alice(json!(null)), verified, Source::Server), Checked::Valid(_)));
        // Anonymous events need no hash.
        assert!(matches!(super::check(0, track("t2"), verified, Source::Page), Checked::Valid(_)));
        // Projects without a secret take the user id as given, and still drop a stray hash.
        let Checked::Valid(e) = check(0, as_alice(json!("whatever"))) else { panic!("rejected") };
        assert!(!e.body.contains("user_hash"));
    }

    #[test]
    fn ts_is_believed_within_a_day_behind_and_ten_minutes_ahead() {
        const NOW: i64 = 1_800_000_000_000;
        for (ts, expected) in [
            (NOW, None),
            (NOW - TS_BEHIND_MS, None),
            (NOW + TS_AHEAD_MS, None),
            (NOW - TS_BEHIND_MS - 1, Some("ts is 24 h behind the server's clock")),
            (NOW - 3 * TS_BEHIND_MS, Some("ts is 3 days behind the server's clock")),
            (NOW + TS_AHEAD_MS + 60_000, Some("ts is 11 min ahead of the server's clock")),
            (i64::MAX, Some("days ahead of the server's clock")),
            (0, Some("days behind the server's clock")),
        ] {
            let flag = ts_flag(ts, NOW);
            match expected {
                None => assert_eq!(flag, None, "{ts}"),
                Some(part) => {
                    let flag = flag.unwrap_or_default();
                    assert!(flag.contains(part) && flag.ends_with("to 10 min after its own clock"), "{ts}: {flag}");
                }
            }
        }
    }

    #[test]
    fn declared_events_are_checked_and_strict_projects_refuse_undeclared_ones() {
        let projects = Projects::from_json(
            r#"[{"public_key": "pk_s", "secret_key": "sk_s", "allowed_origins": ["*"],
                 "events": {"strict": true, "declared": {"imported_data": {"rows": "integer"}}}}]"#,
        )
        .unwrap();
        let strict = projects.by_public_key("pk_s").unwrap();
        let tracked = |name: &str, props: Value| {
            let mut e = track("t9");
            e["name"] = json!(name);
            e["props"] = props;
            e
        };
        assert!(matches!(
            super::check(0, tracked("imported_data", json!({"rows": 3})), strict, Source::Page),
            Checked::Valid(_)
        ));
        let reason = |raw: Value| match super::check(4, raw, strict, Source::Page) {
            Checked::Rejected(r, _) => r.reason.unwrap_or_default(),
            Checked::Valid(_) => "accepted".into(),
        };
        assert_eq!(
            reason(tracked("imprted_data", json!({}))),
            "events[4].name: \"imprted_data\" is not a declared event (declared: imported_data); did you mean \
             \"imported_data\"?"
        );
        assert_eq!(
            reason(tracked("imported_data", json!({"rows": "3"}))),
            "events[4].props.rows: expected integer, got \"3\""
        );
        // Other kinds are not tracks: not checked.
        let page = json!({"id": "p1", "ts": 1, "anonymous_id": "a", "url": "u", "type": "page"});
        assert!(matches!(super::check(0, page, strict, Source::Page), Checked::Valid(_)));
    }
}
