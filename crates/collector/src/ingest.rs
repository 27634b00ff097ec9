//! Judging the events of one batch one by one, so a single bad event is
//! rejected with its reason while the rest of the batch is still stored.

use serde_json::Value;
use touchpoint_protocol::{Event, EventResult, EventStatus, MAX_EVENT_BYTES};

use crate::db::NewEvent;

pub enum Checked {
    Valid(NewEvent),
    Rejected(EventResult),
}

pub fn check(raw: Value) -> Checked {
    let id = raw.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    let reject = |reason: String| {
        Checked::Rejected(EventResult { id: id.clone(), status: EventStatus::Rejected, reason: Some(reason) })
    };

    let body = raw.to_string();
    if body.len() > MAX_EVENT_BYTES {
        return reject(format!("event is {} bytes, more than the limit of {MAX_EVENT_BYTES}", body.len()));
    }
    let event: Event = match serde_json::from_value(raw) {
        Ok(event) => event,
        Err(e) => return reject(format!("invalid event: {e}")),
    };
    if event.id.is_empty() {
        return reject("invalid event: id must not be empty".into());
    }
    Checked::Valid(NewEvent { event, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_rejected(raw: Value, expected_id: &str, reason_contains: &str) {
        match check(raw.clone()) {
            Checked::Rejected(r) => {
                assert_eq!(r.id, expected_id, "{raw}");
                let reason = r.reason.unwrap_or_default();
                assert!(reason.contains(reason_contains), "{raw}: reason {reason:?} lacks {reason_contains:?}");
            }
            Checked::Valid(_) => panic!("{raw} was accepted"),
        }
    }

    fn track(id: &str) -> Value {
        json!({"id": id, "ts": 1, "anonymous_id": "a", "url": "u", "type": "track", "name": "clicked"})
    }

    #[test]
    fn rejection_reasons_name_the_problem() {
        check_rejected(json!({"ts": 1}), "", "missing field `id`");
        check_rejected(json!(42), "", "invalid event");
        check_rejected(json!({"id": "e1", "ts": 1, "anonymous_id": "a", "url": "u"}), "e1", "missing field `type`");
        check_rejected(
            json!({"id": "e2", "ts": 1, "anonymous_id": "a", "url": "u", "type": "survey_exploded"}),
            "e2",
            "survey_exploded",
        );
        check_rejected(
            json!({"id": "e3", "ts": "yesterday", "anonymous_id": "a", "url": "u", "type": "identify"}),
            "e3",
            "invalid type",
        );
        check_rejected(track(""), "", "id must not be empty");
    }

    #[test]
    fn size_limit_is_on_the_serialized_event() {
        let mut big = track("big");
        let filler = MAX_EVENT_BYTES - big.to_string().len() - r#","props":{"x":""}"#.len();
        big["props"] = json!({ "x": "y".repeat(filler) });
        assert_eq!(big.to_string().len(), MAX_EVENT_BYTES);
        assert!(matches!(check(big.clone()), Checked::Valid(_)));

        big["props"]["x"] = json!("y".repeat(filler + 1));
        check_rejected(big, "big", &format!("more than the limit of {MAX_EVENT_BYTES}"));
    }

    #[test]
    fn valid_event_keeps_its_json() {
        let Checked::Valid(e) = check(track("t1")) else { panic!("rejected") };
        assert_eq!(e.event.id, "t1");
        assert_eq!(serde_json::from_str::<Value>(&e.body).unwrap(), track("t1"));
    }
}
