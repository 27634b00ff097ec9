use serde_json::json;

use super::*;

fn policy() -> Policy {
    Policy { backoff_base_ms: 1000, backoff_max_ms: 60_000, max_batch_events: 3, max_queued: 5, ..Policy::default() }
}

#[test]
fn backoff_doubles_with_equal_jitter_and_caps() {
    let p = policy();
    // Lowest (random = 0) and highest (random → 1) delay for each retry.
    let bounds: Vec<(u32, u32)> = (1..=8).map(|n| (p.backoff_ms(n, 0.0), p.backoff_ms(n, 0.999_999))).collect();
    assert_eq!(
        bounds,
        [
            (500, 999),
            (1000, 1999),
            (2000, 3999),
            (4000, 7999),
            (8000, 15999),
            (16000, 31999),
            (30000, 59999),
            (30000, 59999)
        ]
    );
    assert_eq!(p.backoff_ms(1000, 0.0), 30_000, "huge failure counts must not overflow");
}

#[test]
fn verdicts() {
    let p = policy();
    assert_eq!(p.verdict(Some(200), None, 0, 0.0), Verdict::Delivered);
    assert_eq!(p.verdict(None, None, 1, 0.0), Verdict::RetryIn(500), "network error or timeout");
    assert_eq!(p.verdict(Some(500), None, 3, 0.0), Verdict::RetryIn(2000));
    assert_eq!(p.verdict(Some(503), None, 1, 0.0), Verdict::RetryIn(500));
    assert_eq!(p.verdict(Some(408), None, 1, 0.0), Verdict::RetryIn(500));
    assert_eq!(p.verdict(Some(429), Some(7000), 1, 0.0), Verdict::RetryIn(7000), "Retry-After wins");
    assert_eq!(p.verdict(Some(429), Some(86_400_000), 1, 0.0), Verdict::RetryIn(600_000), "but is capped");
    for status in [400, 401, 403, 404, 413, 415] {
        assert_eq!(p.verdict(Some(status), None, 1, 0.0), Verdict::Refused, "{status}");
    }
}

#[test]
fn batches_take_oldest_first_within_count_and_bytes() {
    let p = policy();
    assert_eq!(p.take_batch(&[100, 100, 100, 100], 10_000), 3, "event count cap");
    assert_eq!(p.take_batch(&[100, 100, 100], 256 + 202), 2, "byte budget");
    assert_eq!(p.take_batch(&[], 10_000), 0);
    assert_eq!(p.take_batch(&[70_000], 60 * 1024), 0, "too big for a keepalive budget stays queued");
}

#[test]
fn a_batch_filled_one_event_at_a_time_takes_what_take_batch_takes_and_then_stops() {
    let p = policy();
    let check = |sizes: &[usize], budget: usize| {
        let mut fill = p.batch(budget);
        let mut taken = 0;
        for &s in sizes {
            if fill.is_full() || !fill.offer(s) {
                break;
            }
            taken += 1;
        }
        assert_eq!(taken, p.take_batch(sizes, budget), "{sizes:?} within {budget}");
        assert!(fill.is_full() || taken == sizes.len(), "{sizes:?}: stopped early without being full");
    };
    check(&[100, 100, 100, 100], 10_000);
    check(&[100, 100, 100], 256 + 202);
    check(&[], 10_000);
    check(&[70_000], 60 * 1024);
    check(&[100, 70_000, 100], 60 * 1024);
    // Once one event does not fit, a smaller younger one does not jump ahead.
    let mut fill = p.batch(256 + 150);
    assert!(fill.offer(100));
    assert!(!fill.offer(100));
    assert!(!fill.offer(10));
    assert!(fill.is_full());
}

#[test]
fn overflow_drops_just_enough_of_the_oldest() {
    let p = policy();
    assert_eq!(p.overflow(3), 0);
    assert_eq!(p.overflow(4), 0);
    assert_eq!(p.overflow(5), 1);
    assert_eq!(p.overflow(9), 5);
}

#[test]
fn full_batches_go_out_at_once() {
    let p = Policy { flush_delay_ms: 1000, ..policy() };
    assert_eq!(p.flush_in_ms(1), 1000);
    assert_eq!(p.flush_in_ms(3), 0);
}

#[test]
fn stored_entries_are_read_defensively() {
    let good = json!({"id":"e1","ts":1,"anonymous_id":"a","url":"u","type":"track","name":"x","props":{}}).to_string();
    assert_eq!(read_stored(&good), Stored::Event);
    for raw in [
        "{garbage",
        "null",
        "42",
        r#"{"id":"e","type":"track"}"#,
        r#"{"id":"","ts":1,"anonymous_id":"a","url":"u","type":"track","name":"x"}"#,
    ] {
        assert!(matches!(read_stored(raw), Stored::Corrupt { .. }), "{raw}");
    }
}

#[test]
fn settling_matches_results_by_id_not_position() {
    use touchpoint_protocol::{EventResult, EventStatus};
    let r =
        |id: &str, status, reason: Option<&str>| EventResult { id: id.into(), status, reason: reason.map(Into::into) };
    let results = [
        r("c", EventStatus::Rejected, Some("events[2].ts: invalid type")),
        r("a", EventStatus::Accepted, None),
        r("zzz", EventStatus::Accepted, None), // not ours: ignored
        r("b", EventStatus::Duplicate, None),
        r("a", EventStatus::Rejected, Some("second answer for a: ignored")),
    ];
    assert_eq!(
        settle(&["a", "b", "c", "d"], &results),
        [Fate::Done, Fate::Done, Fate::Dead("events[2].ts: invalid type".into()), Fate::Keep]
    );
    assert_eq!(settle(&["x"], &[r("x", EventStatus::Rejected, None)]), [Fate::Dead("no reason given".into())]);
}
