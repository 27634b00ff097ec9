//! Judging the events of one batch one by one, so a single bad event is
//! rejected with its reason while the rest of the batch is still stored.

use serde_json::Value;
use touchpoint_protocol::{Event, EventKind, EventResult, EventStatus, MAX_EVENT_BYTES};

use crate::extract::field_of;
use crate::projects::ProjectEntry;
use crate::store::NewEvent;

pub enum Checked {
    /// Boxed: an event is far larger than a rejection.
    Valid(Box<NewEvent>),
    Rejected(EventResult),
}

/// Judges the event at `index` of its batch. Reasons start with the JSON
/// path at fault, e.g. `events[3].ts: invalid type: string "x", expected i64`.
pub fn check(index: usize, mut raw: Value, project: &ProjectEntry) -> Checked {
    let id = raw.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    let reject = |field: Option<&str>, reason: String| {
        let at = match field {
            Some(field) => format!("events[{index}].{field}"),
            None => format!("events[{index}]"),
        };
        Checked::Rejected(EventResult {
            id: id.clone(),
            status: EventStatus::Rejected,
            reason: Some(format!("{at}: {reason}")),
        })
    };

    // Checked below, never stored: it is a credential for the user id.
    let user_hash = raw.as_object_mut().and_then(|o| o.remove("user_hash"));
    let body = raw.to_string();
    if body.len() > MAX_EVENT_BYTES {
        return reject(None, format!("event is {} bytes, more than the limit of {MAX_EVENT_BYTES}", body.len()));
    }
    let event: Event = match serde_path_to_error::deserialize(raw) {
        Ok(event) => event,
        Err(e) => {
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
    if let Some(user) = &event.user_id {
        let hash = match &user_hash {
            None | Some(Value::Null) => None,
            Some(Value::String(h)) => Some(h.as_str()),
            Some(other) => return reject(Some("user_hash"), format!("must be a string, not {other}")),
        };
        if let Err(e) = project.verify_user(user, hash) {
            return reject(Some("user_hash"), e.to_string());
        }
    }
    if let (Some(schema), EventKind::Track { name, props }) = (&project.project.events, &event.kind) {
        if let Err(p) = schema.check(name, props) {
            return reject(Some(&p.at), p.message);
        }
    }
    Checked::Valid(Box::new(NewEvent { event, body, automate: false }))
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
        super::check(index, raw, &demo())
    }

    fn check_rejected(raw: Value, expected_id: &str, expected_reason: &str) {
        match check(3, raw.clone()) {
            Checked::Rejected(r) => {
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
        let Checked::Rejected(r) =
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
        let Checked::Valid(ok) = super::check(0, as_alice(json!(hash)), verified) else { panic!("rejected") };
        assert_eq!(ok.event.user_id.as_deref(), Some("alice"));
        assert!(!ok.body.contains("user_hash") && !ok.body.contains(&hash), "{}", ok.body);

        for (h, why) in [(json!(null), "needs its user_hash"), (json!("beef"), "is not the HMAC-SHA256")] {
            let Checked::Rejected(r) = super::check(2, as_alice(h.clone()), verified) else { panic!("{h} accepted") };
            let reason = r.reason.unwrap_or_default();
            assert!(reason.starts_with("events[2].user_hash: ") && reason.contains(why), "{reason}");
        }
        // Anonymous events need no hash.
        assert!(matches!(super::check(0, track("t2"), verified), Checked::Valid(_)));
        // Projects without a secret take the user id as given, and still drop a stray hash.
        let Checked::Valid(e) = check(0, as_alice(json!("whatever"))) else { panic!("rejected") };
        assert!(!e.body.contains("user_hash"));
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
        assert!(matches!(super::check(0, tracked("imported_data", json!({"rows": 3})), strict), Checked::Valid(_)));
        let reason = |raw: Value| match super::check(4, raw, strict) {
            Checked::Rejected(r) => r.reason.unwrap_or_default(),
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
        assert!(matches!(super::check(0, page, strict), Checked::Valid(_)));
    }
}
