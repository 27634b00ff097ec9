//! Event streams: every accepted event, forwarded in batches to a URL of the
//! host's backend (a warehouse loader, a CDP, a queue), declared in the
//! automations file ([`config`]) and sent by a background [`worker`].
//!
//! **What a receiver gets.** `POST <url>` with a JSON body
//! `{"stream", "project", "batch_id", "events": [{"id", "received_at",
//! "source", "event": <the event as stored>}]}`, signed like the webhooks
//! (`X-Touchpoint-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "{t}.{body}">`), with
//! `X-Touchpoint-Delivery: <batch_id>` and `X-Touchpoint-Stream: <id>`. Any
//! 2xx acknowledges the whole batch; anything else (or no answer within the
//! timeout) is retried with exponential backoff, forever: a stream never
//! skips an event, it waits, and the dashboard shows it failing and how far
//! behind it is. Delivery is at least once: a batch may arrive again (a
//! collector that dies between the receiver's 2xx and recording it), so
//! receivers deduplicate by event `id`. Within a stream events arrive in
//! arrival order, so each person's events arrive in the order they were stored.
//! Rejected events (see [`crate::responses`]) are never sent.
//!
//! **Where a stream is.** One durable cursor per (project, stream):
//! `stream_cursors.after_seq`, the last arrival position (SQLite `rowid`,
//! Postgres `seq`) passed on. A new stream starts at the project's first
//! event: it backfills.
//!
//! **Two collectors, one Postgres: nothing twice, nothing skipped.** The
//! decision, and why:
//! - *Nothing twice* — a lease on the cursor row. A worker takes the stream
//!   with a conditional `UPDATE` over `SELECT … FOR UPDATE SKIP LOCKED`
//!   (holder and expiry written on the row), sends one batch, and moves the
//!   cursor only if it still holds the lease *and* the cursor is where it
//!   leased it. The lease outlives the request timeout by a margin, so a
//!   live holder always finishes first; the only resend is after a crash.
//!   A time lease rather than a row lock held across the HTTP request: a
//!   transaction open for a whole send would pin a pooled connection and, on
//!   SQLite, the single writer.
//! - *Nothing skipped* — a settle window. Postgres hands out `seq` when a
//!   row is inserted but the row becomes visible when its transaction
//!   commits, so seq 41 may appear after seq 42 has been read; a cursor
//!   that had moved to 42 would never see 41. So a worker only forwards the
//!   run of events, from the cursor on, that arrived at least `settle_ms`
//!   (default 5 s) ago, and stops at the first younger one: an ingest
//!   transaction commits within milliseconds of stamping `received_at`, far
//!   inside the window. We chose this over a per-event outbox row written in
//!   the ingest transaction because it adds nothing to ingest (no second
//!   row per event, per stream) and keeps one ordered position per stream,
//!   which is what "in order per person" and "how far behind" need. Its
//!   cost: events leave at least `settle_ms` after they arrive, and the
//!   window assumes ingest transactions commit within it and the replicas'
//!   clocks agree to well within it (`received_at` is the ingesting
//!   collector's clock, compared with the sending one's). SQLite writes
//!   through one thread, so its rowids become visible in order; the window
//!   costs it only latency.

pub mod config;
pub mod worker;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub use self::config::{Delivery, EventTypes, StreamSpec};
use crate::store::StoredEvent;

/// Header naming the stream a batch belongs to.
pub const STREAM_HEADER: &str = "X-Touchpoint-Stream";

/// The leading `events` (in arrival order) that arrived at least `settle_ms`
/// before `now`, up to the first that did not: a younger event may still
/// have an older neighbour in a transaction that has not committed, so
/// nothing after it is settled either.
pub fn settled(events: &[StoredEvent], now: i64, settle_ms: i64) -> &[StoredEvent] {
    let n = events.iter().position(|e| e.received_at > now - settle_ms).unwrap_or(events.len());
    &events[..n]
}

/// What to do with the settled events read after a stream's cursor.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Nothing for this stream among them (other types, rejected): move the cursor past them.
    Pass {
        to_seq: i64,
    },
    Send(Batch),
}

/// One request to a stream's receiver.
#[derive(Debug, PartialEq)]
pub struct Batch {
    /// The same for a retry of the same events.
    pub id: String,
    pub body: String,
    /// The cursor after this batch is acknowledged.
    pub to_seq: i64,
    pub count: usize,
}

/// The plan for `settled` events (non-empty, in arrival order) of `project_key`.
pub fn plan(spec: &StreamSpec, project_key: &str, settled: &[StoredEvent]) -> Option<Plan> {
    let to_seq = settled.last()?.seq;
    let sending: Vec<&StoredEvent> =
        settled.iter().filter(|e| e.rejected.is_none() && spec.types.includes(&e.kind)).collect();
    let (Some(first), Some(last)) = (sending.first(), sending.last()) else { return Some(Plan::Pass { to_seq }) };
    let id = batch_id(project_key, &spec.id, first.seq, last.seq);
    let events: Vec<Value> = sending
        .iter()
        .map(|e| {
            // Stored bodies are the JSON the event arrived as; one that is not is sent as text rather than lost.
            let event = serde_json::from_str::<Value>(&e.body).unwrap_or_else(|_| Value::String(e.body.clone()));
            json!({ "id": e.id, "received_at": e.received_at, "source": e.source, "event": event })
        })
        .collect();
    let count = events.len();
    let body = json!({ "stream": spec.id, "project": project_key, "batch_id": id, "events": events }).to_string();
    Some(Plan::Send(Batch { id, body, to_seq, count }))
}

/// Stable for the same first and last event of the same stream of the same project.
fn batch_id(project_key: &str, stream_id: &str, first_seq: i64, last_seq: i64) -> String {
    let mut h = Sha256::new();
    for part in [project_key.as_bytes(), stream_id.as_bytes(), &first_seq.to_be_bytes(), &last_seq.to_be_bytes()] {
        h.update(part);
        h.update([0]);
    }
    h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn stored(seq: i64, kind: &str, received_at: i64) -> StoredEvent {
        StoredEvent {
            seq,
            id: format!("e{seq}"),
            project_key: "pk".into(),
            kind: kind.into(),
            ts: received_at,
            received_at,
            anonymous_id: "a".into(),
            user_id: None,
            survey_id: None,
            response_id: None,
            question_id: None,
            url: "https://app.example/".into(),
            body: format!(r#"{{"id":"e{seq}","type":"{kind}"}}"#),
            rejected: None,
            ts_flag: None,
            source: "page".into(),
        }
    }

    #[test]
    fn only_the_settled_run_from_the_cursor_is_forwarded() {
        // e3 arrived late in seq order but is young; e4 is old again (a slow commit elsewhere): stop at e3.
        let events =
            [stored(1, "track", 1000), stored(2, "track", 2000), stored(3, "track", 9500), stored(4, "track", 1500)];
        let ids = |s: &[StoredEvent]| s.iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(ids(settled(&events, 10_000, 1000)), [1, 2]);
        assert_eq!(ids(settled(&events, 10_500, 1000)), [1, 2, 3, 4]);
        assert_eq!(ids(settled(&events, 1500, 1000)), Vec::<i64>::new());
        assert_eq!(ids(settled(&events, 10_000, 0)), [1, 2, 3, 4]);
    }

    #[test]
    fn a_batch_carries_the_streams_types_and_passes_the_rest() {
        let spec = StreamSpec {
            id: "warehouse".into(),
            url: "http://127.0.0.1:1/".into(),
            project: None,
            types: EventTypes::Only(BTreeSet::from(["track".to_string()])),
            secret: None,
            delivery: Delivery::default(),
        };
        let mut rejected = stored(3, "track", 0);
        rejected.rejected = Some("contradicts the survey".into());
        let Some(Plan::Send(batch)) = plan(&spec, "pk", &[stored(1, "page", 0), stored(2, "track", 0), rejected])
        else {
            panic!("a batch")
        };
        assert_eq!((batch.to_seq, batch.count), (3, 1));
        let body: Value = serde_json::from_str(&batch.body).unwrap();
        assert_eq!(
            body["events"],
            json!([{"id": "e2", "received_at": 0, "source": "page", "event": {"id": "e2", "type": "track"}}])
        );
        assert_eq!(body["batch_id"], batch.id.as_str());
        assert_eq!(plan(&spec, "pk", &[stored(4, "page", 0)]), Some(Plan::Pass { to_seq: 4 }));
        assert_eq!(plan(&spec, "pk", &[]), None);
        assert_ne!(batch_id("pk", "w", 1, 2), batch_id("pk2", "w", 1, 2));
    }
}
