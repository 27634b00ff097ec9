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
    let check = |status: Option<u16>, retry_after: Option<u32>, failures: u32, sent: usize, expected: Verdict| {
        assert_eq!(p.verdict(status, retry_after, failures, 0.0, sent), expected, "{status:?} {retry_after:?} {sent}");
    };
    check(Some(200), None, 0, 10, Verdict::Delivered);
    check(None, None, 1, 10, Verdict::RetryIn(500)); // network error or timeout
    check(Some(500), None, 3, 10, Verdict::RetryIn(2000));
    check(Some(503), None, 1, 10, Verdict::RetryIn(500));
    check(Some(408), None, 1, 10, Verdict::RetryIn(500));
    check(Some(429), Some(7000), 1, 10, Verdict::RetryIn(7000)); // Retry-After wins…
    check(Some(429), Some(86_400_000), 1, 10, Verdict::RetryIn(300_000)); // …capped…
    check(Some(503), Some(0), 1, 10, Verdict::RetryIn(1000)); // …with a floor: `0` or a past date
    check(Some(503), Some(10), 7, 10, Verdict::RetryIn(1000)); // (the floor, not the backoff)
                                                               // A request refused as a whole keeps its events, whatever the status, even for one event.
    for status in [401, 403, 404, 405, 409, 415, 422, 451] {
        check(Some(status), None, 2, 100, Verdict::RetryIn(1000));
        check(Some(status), None, 2, 1, Verdict::RetryIn(1000));
    }
    // A body refused as a whole is split; an event alone refused as a whole is refused by itself.
    check(Some(413), None, 1, 100, Verdict::Split { retry_in_ms: 500, max_events: 50 });
    check(Some(413), Some(3000), 1, 3, Verdict::Split { retry_in_ms: 3000, max_events: 1 });
    check(Some(400), None, 2, 2, Verdict::Split { retry_in_ms: 1000, max_events: 1 });
    check(Some(413), None, 1, 1, Verdict::Refused);
    check(Some(400), None, 1, 1, Verdict::Refused);
}

#[test]
fn split_batches_grow_back_after_deliveries() {
    let p = policy(); // max_batch_events: 3
    assert_eq!(p.regrow(1), 2);
    assert_eq!(p.regrow(2), 3);
    assert_eq!(p.regrow(3), 3);
    assert_eq!(p.regrow(0), 1);
    let mut fill = p.batch(10_000).at_most(2);
    assert!(fill.offer(10) && fill.offer(10));
    assert!(fill.is_full());
    let mut fill = p.batch(10_000).at_most(0);
    assert!(fill.offer(10), "at least one event per request");
    assert!(fill.is_full());
}

#[test]
fn dead_letters_keep_the_newest_within_count_and_bytes() {
    let p = Policy { max_dead: 3, max_dead_bytes: 100, ..policy() };
    assert_eq!(p.dead_over(&[]), 0);
    assert_eq!(p.dead_over(&[10, 10, 10]), 0);
    assert_eq!(p.dead_over(&[10, 10, 10, 10, 10]), 2, "by count");
    assert_eq!(p.dead_over(&[60, 30, 30]), 1, "by bytes");
    assert_eq!(p.dead_over(&[10, 10, 10, 60, 50]), 4, "by count, then by bytes");
    assert_eq!(p.dead_over(&[500]), 1, "one over the byte cap alone is not kept either");
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
