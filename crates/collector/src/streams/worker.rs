//! The streams' background worker: for every (stream, project) it looks at
//! the cursor and the next stored event (two reads, no write, while a stream
//! is idle), and when a settled event waits, leases the stream, sends one
//! batch and records the outcome. Every collector runs one; the lease
//! decides which sends (see [`super`]). Errors are logged and the stream is
//! tried again; the worker never stops on its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{plan, settled, Batch, Plan, StreamSpec, STREAM_HEADER};
use crate::automations::{Automations, DELIVERY_HEADER, SIGNATURE_HEADER};
use crate::signature::sign;
use crate::store::{Store, StreamLease};
use crate::worker::{Job, Stop};
use crate::AppState;

/// Longest sleep between looks at the streams when none had anything to send.
const POLL: Duration = Duration::from_millis(250);
/// A lease outlives the request's timeout by this much, so a live holder always records its outcome first.
const LEASE_MARGIN_MS: i64 = 30_000;

/// The running worker; [`Worker::stop`] ends it after the batch in flight.
/// The streams worker's job: one look at every (stream, project).
pub struct Streaming {
    automations: Arc<Automations>,
    /// This worker's name on the leases it takes.
    holder: String,
}

impl Job for Streaming {
    const NAME: &'static str = "streams";

    /// The job if `state`'s automations file declares streams.
    fn of(state: &AppState) -> Option<Streaming> {
        let automations = state.automations.clone().filter(|a| !a.config.streams.is_empty())?;
        Some(Streaming { automations, holder: holder() })
    }

    async fn pass(&mut self, state: &AppState, stop: &Stop) -> Duration {
        let automations = &self.automations;
        let mut moved = false;
        for spec in &automations.config.streams {
            for key in state.projects.public_keys().filter(|k| spec.applies_to(k)) {
                let secret =
                    spec.secret.as_deref().or_else(|| automations.config.project_secrets.get(key).map(String::as_str));
                match step(&state.db, spec, key, secret, &self.holder).await {
                    Ok(Step::Moved) => moved = true,
                    Ok(Step::Idle | Step::Failed) => {}
                    Err(e) => log(&format!("stream {:?} of {key}: {e}", spec.id)),
                }
                if stop.requested() {
                    return POLL;
                }
            }
        }
        if moved {
            Duration::ZERO
        } else {
            POLL
        }
    }
}

/// What one look at a stream did.
#[derive(Debug, PartialEq)]
enum Step {
    /// Nothing settled to send, or not due, or another worker holds it.
    Idle,
    /// The cursor moved (a batch acknowledged, or events not for this stream passed).
    Moved,
    Failed,
}

/// A name for this worker's leases, unique across processes and restarts.
fn holder() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}-{}", std::process::id(), crate::now_ms(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn log(message: &str) {
    eprintln!("touchpoint-collector: streams: {message}");
}

async fn step(db: &Store, spec: &StreamSpec, key: &str, secret: Option<&str>, holder: &str) -> Result<Step, String> {
    let err = |e: crate::store::DbError| e.to_string();
    let d = spec.delivery;
    let now = crate::now_ms();
    // Look before leasing, so an idle stream costs no write.
    if let Some(cursor) = db.stream_cursor(key.into(), spec.id.clone()).await.map_err(err)? {
        if cursor.next_attempt_at > now || cursor.lease_until.is_some_and(|until| until > now) {
            return Ok(Step::Idle);
        }
        let next = db.events_after(key.into(), cursor.after_seq, 1).await.map_err(err)?;
        if settled(&next, now, d.settle_ms).is_empty() {
            return Ok(Step::Idle);
        }
    }
    let lease_ms = d.timeout_ms + LEASE_MARGIN_MS;
    let Some(lease) = db.lease_stream(key.into(), spec.id.clone(), holder.into(), now, lease_ms).await.map_err(err)?
    else {
        return Ok(Step::Idle);
    };
    let events = db.events_after(key.into(), lease.after_seq, d.batch_size).await.map_err(err)?;
    let now = crate::now_ms();
    let batch = match plan(spec, key, settled(&events, now, d.settle_ms)) {
        None => {
            db.stream_released(&lease).await.map_err(err)?;
            return Ok(Step::Idle);
        }
        Some(Plan::Pass { to_seq }) => return advance(db, &lease, to_seq, 0).await,
        Some(Plan::Send(batch)) => batch,
    };
    let Some(secret) = secret else {
        // Validation requires a secret for every project a stream applies to.
        return fail(db, spec, &lease, "no signing secret for this project".into()).await;
    };
    let timeout = Duration::from_millis(u64::try_from(d.timeout_ms).unwrap_or(10_000));
    let (url, stream_id, attempt) = (spec.url.clone(), spec.id.clone(), lease.attempts + 1);
    // Signed at each attempt, like webhooks: the time is part of what is signed.
    let signature = sign(secret, crate::now_ms() / 1000, batch.body.as_bytes());
    let (to_seq, count) = (batch.to_seq, batch.count);
    let sent = tokio::task::spawn_blocking(move || post(&url, &stream_id, &batch, &signature, attempt, timeout)).await;
    match sent {
        Ok(Ok(status)) if (200..300).contains(&status) => advance(db, &lease, to_seq, count).await,
        Ok(Ok(status)) => fail(db, spec, &lease, format!("the receiver answered HTTP {status}")).await,
        Ok(Err(e)) => fail(db, spec, &lease, e).await,
        Err(e) => fail(db, spec, &lease, format!("send task failed: {e}")).await,
    }
}

async fn advance(db: &Store, lease: &StreamLease, to_seq: i64, delivered: usize) -> Result<Step, String> {
    let delivered = i64::try_from(delivered).unwrap_or(i64::MAX);
    let held = db.stream_advanced(lease, to_seq, delivered, crate::now_ms()).await.map_err(|e| e.to_string())?;
    if !held {
        // The lease ran out mid-send and another worker went on from the same cursor: it resends (at least once).
        log(&format!(
            "stream {:?} of {}: the lease ran out before the batch was recorded; it will be sent again",
            lease.stream_id, lease.project_key
        ));
    }
    Ok(Step::Moved)
}

async fn fail(db: &Store, spec: &StreamSpec, lease: &StreamLease, error: String) -> Result<Step, String> {
    let now = crate::now_ms();
    let retry_at = now + spec.delivery.delay_after(lease.attempts + 1);
    db.stream_failed(lease, error, now, retry_at).await.map_err(|e| e.to_string())?;
    Ok(Step::Failed)
}

fn post(
    url: &str,
    stream_id: &str,
    batch: &Batch,
    signature: &str,
    attempt: i64,
    timeout: Duration,
) -> Result<u16, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        // A redirect is a receiver to fix, not somewhere to send signed events.
        .max_redirects(0)
        .proxy(None)
        .user_agent(concat!("touchpoint-collector/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header(DELIVERY_HEADER, &batch.id)
        .header(STREAM_HEADER, stream_id)
        .header("X-Touchpoint-Attempt", attempt.to_string())
        .header(SIGNATURE_HEADER, signature)
        .send(batch.body.as_bytes())
        .map_err(|e| format!("cannot deliver: {e}"))?;
    Ok(response.status().as_u16())
}
