//! Delivery policy for the widget's outbox: what to send next, when to
//! retry, what to evict, how to read what storage holds. The browser layer
//! (`src/outbox.rs`) does the I/O and asks this module every decision, so the
//! rules are tested here, on the host, with time and randomness passed in.
//! (Reading a `Retry-After` date is I/O too: the browser's `Date.parse`
//! does it, which costs the page no parser of its own; its bounds are here.)

use touchpoint_protocol::{EventResult, EventStatus, MAX_BATCH_EVENTS, MAX_EVENT_BYTES};

/// The knobs, with defaults that suit a host page.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Events per request (the collector accepts up to [`MAX_BATCH_EVENTS`]).
    pub max_batch_events: usize,
    /// Bytes per request body.
    pub max_batch_bytes: usize,
    /// Wait this long after the first queued event before sending, so that a
    /// burst of `track()` calls goes out as one request.
    pub flush_delay_ms: u32,
    /// At most this many events wait; beyond it the oldest are dropped (and reported).
    pub max_queued: usize,
    /// A single event larger than this is refused when it is created.
    pub max_event_bytes: usize,
    /// Bytes a `fetch(…, {keepalive: true})` may carry while the page unloads
    /// (browsers allow 64 KiB in flight per page, shared by all keepalive requests).
    pub keepalive_bytes: usize,
    /// A request not answered within this is abandoned and retried.
    pub request_timeout_ms: u32,
    pub backoff_base_ms: u32,
    pub backoff_max_ms: u32,
    /// Dead letters kept, at most, by count and by bytes; beyond either the oldest go.
    pub max_dead: usize,
    pub max_dead_bytes: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            max_batch_events: MAX_BATCH_EVENTS,
            max_batch_bytes: 512 * 1024,
            flush_delay_ms: 1000,
            max_queued: 1000,
            max_event_bytes: MAX_EVENT_BYTES,
            keepalive_bytes: 60 * 1024,
            request_timeout_ms: 10_000,
            backoff_base_ms: 1000,
            backoff_max_ms: 60_000,
            max_dead: 100,
            max_dead_bytes: 256 * 1024,
        }
    }
}

/// What an answer from the collector means for the batch that was sent.
///
/// Only the collector's per-event results ([`settle`]) can take an event out
/// of the queue for good: an answer to the request as a whole (a 403 from a
/// misconfigured CDN, a 404 during a deploy, a gateway's 413) says nothing
/// about the events themselves, and the next request may well succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Per-event results are in the body.
    Delivered,
    /// The request was not taken (network error, timeout, 401, 403, 404,
    /// 408, 429, 5xx, …): every event stays queued; try again after this many ms.
    RetryIn(u32),
    /// The body as a whole was refused (413, or 400: the collector judges
    /// events one by one, so a whole-body 400 means one event spoils the
    /// body): every event stays queued; try again after `retry_in_ms` with
    /// at most `max_events` per request.
    Split { retry_in_ms: u32, max_events: usize },
    /// A request carrying this one event alone was refused as a whole (413,
    /// 400): the event is refused by itself.
    Refused,
}

/// `Retry-After` is obeyed within these bounds: a server saying `0` (or a
/// date in the past) must not get a request per millisecond from every tab,
/// and a confused one must not park the queue for a day.
pub const RETRY_AFTER_MIN_MS: u32 = 1000;
pub const RETRY_AFTER_MAX_MS: u32 = 5 * 60_000;

/// Overhead of `{"key":"…","events":[…]}` around the events, generously.
const ENVELOPE_BYTES: usize = 256;

impl Policy {
    /// Delay before retry number `failures` (1-based): exponential from the
    /// base, capped, with "equal jitter" (half fixed, half random) so that
    /// many clients knocked off by one outage do not come back in lockstep.
    /// `random` is in `[0, 1)`.
    pub fn backoff_ms(&self, failures: u32, random: f64) -> u32 {
        let exp = failures.saturating_sub(1).min(20);
        let full = (self.backoff_base_ms as u64).saturating_mul(1 << exp).min(self.backoff_max_ms as u64) as f64;
        (full / 2.0 + full / 2.0 * random.clamp(0.0, 1.0)) as u32
    }

    /// Classifies an HTTP answer to a request of `sent` events. `status` is
    /// `None` for a network error or a timeout; `failures` counts this one.
    /// A `Retry-After` (already parsed to ms) wins over backoff, within
    /// [`RETRY_AFTER_MIN_MS`] and [`RETRY_AFTER_MAX_MS`].
    pub fn verdict(
        &self,
        status: Option<u16>,
        retry_after_ms: Option<u32>,
        failures: u32,
        random: f64,
        sent: usize,
    ) -> Verdict {
        let wait = retry_after_ms
            .map_or_else(|| self.backoff_ms(failures, random), |ms| ms.clamp(RETRY_AFTER_MIN_MS, RETRY_AFTER_MAX_MS));
        match status {
            Some(200..=299) => Verdict::Delivered,
            Some(400 | 413) if sent <= 1 => Verdict::Refused,
            Some(400 | 413) => Verdict::Split { retry_in_ms: wait, max_events: sent / 2 },
            _ => Verdict::RetryIn(wait),
        }
    }

    /// Events per request after a batch of `max_events` was delivered: back
    /// up towards the full batch, doubling, so that a limit met once (a
    /// proxy's body size) is not met again on every request.
    pub fn regrow(&self, max_events: usize) -> usize {
        // Not `clamp`: its bounds check panics with a formatted message,
        // which would pull `core::fmt` into the widget's first module.
        max_events.saturating_mul(2).max(1).min(self.max_batch_events)
    }

    /// How many of the oldest dead letters to drop so that what is kept
    /// stays within [`Policy::max_dead`] and [`Policy::max_dead_bytes`].
    /// `sizes` are the stored sizes, oldest first.
    pub fn dead_over(&self, sizes: &[usize]) -> usize {
        let mut bytes: usize = sizes.iter().sum();
        let mut drop = sizes.len().saturating_sub(self.max_dead);
        bytes -= sizes[..drop].iter().sum::<usize>();
        while bytes > self.max_dead_bytes && drop < sizes.len() {
            bytes -= sizes[drop];
            drop += 1;
        }
        drop
    }

    /// The next batch: the oldest events first, up to the event count and
    /// `budget` bytes. `sizes` are the serialized sizes, oldest first. At
    /// least one event is taken if it fits the budget at all.
    pub fn take_batch(&self, sizes: &[usize], budget: usize) -> usize {
        let mut fill = self.batch(budget);
        sizes.iter().take_while(|&&s| fill.offer(s)).count()
    }

    /// The next batch, filled one event at a time (oldest first), so the
    /// outbox reads no more of a long queue than one batch takes. Takes the
    /// same events as [`Policy::take_batch`].
    pub fn batch(&self, budget: usize) -> BatchFill {
        BatchFill { max_events: self.max_batch_events, budget, used: ENVELOPE_BYTES, n: 0, closed: false }
    }

    /// How many of the oldest events to drop so that one more fits.
    pub fn overflow(&self, queued: usize) -> usize {
        (queued + 1).saturating_sub(self.max_queued)
    }

    /// When to send after an event is queued: at once when a full batch is
    /// waiting, otherwise after the flush delay.
    pub fn flush_in_ms(&self, queued: usize) -> u32 {
        if queued >= self.max_batch_events {
            0
        } else {
            self.flush_delay_ms
        }
    }
}

/// A batch being filled: see [`Policy::batch`].
#[derive(Debug, Clone)]
pub struct BatchFill {
    max_events: usize,
    budget: usize,
    used: usize,
    n: usize,
    /// An event did not fit: nothing younger may jump ahead of it.
    closed: bool,
}

impl BatchFill {
    /// Offers the next event's serialized size: `true` if it joins the batch.
    pub fn offer(&mut self, size: usize) -> bool {
        // +1 for the comma between events.
        if self.is_full() || self.used + size + 1 > self.budget {
            self.closed = true;
            return false;
        }
        self.used += size + 1;
        self.n += 1;
        true
    }

    /// At most `n` events (at least one), fewer than the policy's batch:
    /// after a [`Verdict::Split`].
    pub fn at_most(mut self, n: usize) -> BatchFill {
        self.max_events = self.max_events.min(n.max(1));
        self
    }

    /// No further event can join: stop reading the queue.
    pub fn is_full(&self) -> bool {
        self.closed || self.n >= self.max_events
    }
}

/// What happens to one sent event once the collector has answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Stored now or before (`accepted` / `duplicate`): remove it from the queue.
    Done,
    /// Refused for good: move it to the dead letters, with the reason.
    Dead(String),
    /// Not answered for (the collector skipped it): keep it and send it again.
    Keep,
}

/// Matches the collector's per-event results to the batch that was sent, by
/// id: order is not trusted, results for ids we did not send are ignored, and
/// an id answered twice takes its first answer.
pub fn settle(sent: &[&str], results: &[EventResult]) -> Vec<Fate> {
    sent.iter()
        .map(|id| match results.iter().find(|r| r.id == *id) {
            None => Fate::Keep,
            Some(r) => match r.status {
                EventStatus::Accepted | EventStatus::Duplicate => Fate::Done,
                EventStatus::Rejected => Fate::Dead(r.reason.clone().unwrap_or_else(|| "no reason given".into())),
            },
        })
        .collect()
}

/// One entry read back from storage.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// Looks like an event we wrote; the collector validates it fully.
    Event,
    /// Not an event we wrote: truncated, edited, or from another program.
    Corrupt { reason: String },
}

/// Reads a stored event. Storage is shared with the host page and the user,
/// so anything can be there. The check is structural (an object with a
/// non-empty `id`, a `type` and an integer `ts`) rather than a full
/// `Event` parse: the widget sends the stored text as it is, and a full
/// parse would pull serde's buffering of flattened enums into the wasm.
pub fn read_stored(raw: &str) -> Stored {
    let v: serde_json::Value = match serde_json::from_str(raw) {
        Ok(v) => v,
        Err(e) => return Stored::Corrupt { reason: e.to_string() },
    };
    let Some(obj) = v.as_object() else { return Stored::Corrupt { reason: "not a JSON object".into() } };
    let field = |k: &str| obj.get(k);
    if field("id").and_then(|v| v.as_str()).is_none_or(|s| s.is_empty()) {
        return Stored::Corrupt { reason: "event without an id".into() };
    }
    if !field("type").is_some_and(|v| v.is_string()) {
        return Stored::Corrupt { reason: "event without a type".into() };
    }
    if !field("ts").is_some_and(|v| v.is_i64()) {
        return Stored::Corrupt { reason: "event without an integer ts".into() };
    }
    if !field("anonymous_id").is_some_and(|v| v.is_string()) || !field("url").is_some_and(|v| v.is_string()) {
        return Stored::Corrupt { reason: "event without anonymous_id or url".into() };
    }
    Stored::Event
}

#[cfg(test)]
mod tests;
