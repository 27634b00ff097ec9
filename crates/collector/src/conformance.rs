//! `touchpoint-collector conformance <url>`: drives an events endpoint —
//! ours or one a host wrote in its own backend — through the points of the
//! `POST /v1/events` contract the widget relies on, and reports each as
//! pass, fail or not observed. Blocking and sequential on purpose: it is a
//! command-line probe, and the order of the points matters (the rate-limit
//! probe goes last so that a limit it trips cannot fail the others).
//!
//! Every probe event is a `track` named `touchpoint_conformance` with fresh
//! UUIDs, so a receiver's real data is easy to tell apart from it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use touchpoint_protocol::{uuid_v4_from_bytes, MAX_BATCH_EVENTS};

use crate::MAX_BODY_BYTES;

/// What to probe, and as whom.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The events URL (`…/v1/events`), or a base URL that it is appended to.
    pub url: String,
    /// The public key put in each batch.
    pub key: String,
    /// The `Origin` of the probing "page"; the endpoint must allow it.
    pub origin: String,
    /// How many full batches the rate-limit probe may send looking for a `429`.
    pub rate_batches: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// The point could not be provoked (a `429` needs a limit low enough for
    /// the probe to reach); not a failure, but not a pass either.
    NotObserved,
}

/// One point of the contract, and what the probe saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub point: &'static str,
    pub verdict: Verdict,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub url: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict != Verdict::Fail)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance of {}", self.url)?;
        for c in &self.checks {
            let v = match c.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "FAIL",
                Verdict::NotObserved => "not observed",
            };
            writeln!(f, "  {v:<12} {}: {}", c.point, c.detail)?;
        }
        let fails = self.checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
        if fails == 0 {
            writeln!(f, "conforms")
        } else {
            writeln!(f, "{fails} point(s) failed")
        }
    }
}

pub const PER_EVENT_RESULTS: &str = "per-event results";
pub const IDEMPOTENCY: &str = "idempotency by event id";
pub const SIZE_LIMIT: &str = "size limit (413)";
pub const BEACON_CORS: &str = "CORS for a text/plain beacon";
pub const RATE_LIMIT: &str = "429 with Retry-After";

/// An answer as the probe needs it.
struct Answer {
    status: u16,
    allow_origin: Option<String>,
    retry_after: Option<String>,
    body: String,
}

struct Probe {
    agent: ureq::Agent,
    url: String,
    opts: Options,
    ids: u64,
}

impl Probe {
    fn post(&self, content_type: &str, body: &[u8]) -> Result<Answer, String> {
        let mut res = self
            .agent
            .post(&self.url)
            .header("Content-Type", content_type)
            .header("Origin", &self.opts.origin)
            .send(body)
            .map_err(|e| format!("cannot reach {}: {e}", self.url))?;
        let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (allow_origin, retry_after) = (header("access-control-allow-origin"), header("retry-after"));
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().unwrap_or_default();
        Ok(Answer { status, allow_origin, retry_after, body })
    }

    fn new_id(&mut self) -> String {
        self.ids += 1;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        let digest = Sha256::new()
            .chain_update(nanos.to_le_bytes())
            .chain_update(std::process::id().to_le_bytes())
            .chain_update(self.ids.to_le_bytes())
            .finalize();
        let mut bytes = [0; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid_v4_from_bytes(bytes)
    }

    fn event(&mut self, step: &str) -> Value {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
        json!({ "id": self.new_id(), "ts": now, "anonymous_id": "touchpoint-conformance",
                "url": format!("{}/conformance", self.opts.origin), "type": "track",
                "name": "touchpoint_conformance", "props": { "step": step } })
    }

    fn batch(&self, events: &[Value]) -> Vec<u8> {
        json!({ "key": self.opts.key, "events": events }).to_string().into_bytes()
    }
}

/// The `results` of an answer, checked against the ids sent, in order.
fn results_for(answer: &Answer, sent: &[&Value]) -> Result<Vec<String>, String> {
    if answer.status != 200 {
        return Err(format!("answered {} (want 200): {}", answer.status, short(&answer.body)));
    }
    let body: Value = serde_json::from_str(&answer.body)
        .map_err(|_| format!("answered 200 without a JSON body: {}", short(&answer.body)))?;
    let Some(results) = body["results"].as_array() else {
        return Err(format!("answered 200 without a \"results\" array: {}", short(&answer.body)));
    };
    if results.len() != sent.len() {
        return Err(format!("{} results for {} events", results.len(), sent.len()));
    }
    let mut statuses = Vec::new();
    for (i, (r, e)) in results.iter().zip(sent).enumerate() {
        if r["id"] != e["id"] {
            return Err(format!(
                "results[{i}].id is {} but event {i} is {} (results must be in the batch's order)",
                r["id"], e["id"]
            ));
        }
        match r["status"].as_str() {
            Some(s @ ("accepted" | "duplicate" | "rejected")) => statuses.push(s.to_string()),
            _ => return Err(format!("results[{i}].status is {} (want accepted, duplicate or rejected)", r["status"])),
        }
    }
    Ok(statuses)
}

fn short(body: &str) -> String {
    let mut s: String = body.chars().take(120).collect();
    if s.len() < body.len() {
        s.push('…');
    }
    if s.is_empty() {
        "(empty body)".into()
    } else {
        s
    }
}

fn check(point: &'static str, outcome: Result<String, String>) -> Check {
    match outcome {
        Ok(detail) => Check { point, verdict: Verdict::Pass, detail },
        Err(detail) => Check { point, verdict: Verdict::Fail, detail },
    }
}

/// Runs every point against `opts.url`.
pub fn run(opts: Options) -> Report {
    let url = if opts.url.trim_end_matches('/').ends_with("/v1/events") {
        opts.url.clone()
    } else {
        format!("{}/v1/events", opts.url.trim_end_matches('/'))
    };
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .user_agent(concat!("touchpoint-conformance/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut p = Probe { agent, url: url.clone(), opts, ids: 0 };
    let mut checks = Vec::new();

    // Per-event results: two good events, judged one by one, in order.
    let (a, b) = (p.event("first"), p.event("second"));
    let first = p.post("application/json", &p.batch(&[a.clone(), b.clone()]));
    checks.push(check(
        PER_EVENT_RESULTS,
        first.and_then(|ans| results_for(&ans, &[&a, &b])).and_then(|s| match s.as_slice() {
            [x, y] if x == "accepted" && y == "accepted" => Ok("two new events answered accepted, in order".into()),
            other => Err(format!("two new events answered {other:?} (want accepted, accepted)")),
        }),
    ));

    // Idempotency: the same event id again is a duplicate, next to a new one.
    let c = p.event("third");
    let again = p.post("application/json", &p.batch(&[a.clone(), c.clone()]));
    checks.push(check(
        IDEMPOTENCY,
        again.and_then(|ans| results_for(&ans, &[&a, &c])).and_then(|s| match s.as_slice() {
            [x, y] if x == "duplicate" && y == "accepted" => {
                Ok("a resent id answered duplicate, a new one accepted".into())
            }
            other => Err(format!("a resent id and a new one answered {other:?} (want duplicate, accepted)")),
        }),
    ));

    // Size limit: a body over the widget's largest batch is refused whole.
    let mut big = p.event("oversize");
    big["props"]["padding"] = Value::String("x".repeat(MAX_BODY_BYTES + 1024));
    let oversize = p.post("application/json", &p.batch(&[big]));
    checks.push(check(
        SIZE_LIMIT,
        oversize.and_then(|ans| match ans.status {
            413 => Ok(format!("a {} KiB body answered 413", (MAX_BODY_BYTES + 1024) / 1024)),
            s => Err(format!("a {} KiB body answered {s} (want 413)", (MAX_BODY_BYTES + 1024) / 1024)),
        }),
    ));

    // A beacon: text/plain needs no preflight, and the page may read the answer only with ACAO.
    let d = p.event("beacon");
    let beacon = p.post("text/plain;charset=UTF-8", &p.batch(std::slice::from_ref(&d)));
    let origin = p.opts.origin.clone();
    checks.push(check(
        BEACON_CORS,
        beacon.and_then(|ans| {
            results_for(&ans, &[&d])?;
            match ans.allow_origin.as_deref() {
                Some(o) if o == origin || o == "*" => {
                    Ok(format!("text/plain accepted with Access-Control-Allow-Origin: {o}"))
                }
                Some(o) => Err(format!("Access-Control-Allow-Origin is {o:?}, not the page's {origin:?}")),
                None => Err("text/plain accepted but without Access-Control-Allow-Origin".into()),
            }
        }),
    ));

    checks.push(rate_limit(&mut p));
    Report { url, checks }
}

/// Full batches until a `429` or `rate_batches` of them; a `429` must say
/// when to come back.
fn rate_limit(p: &mut Probe) -> Check {
    for n in 1..=p.opts.rate_batches {
        let events: Vec<Value> = (0..MAX_BATCH_EVENTS).map(|_| p.event("rate")).collect();
        let ans = match p.post("application/json", &p.batch(&events)) {
            Ok(a) => a,
            Err(e) => return check(RATE_LIMIT, Err(e)),
        };
        match ans.status {
            429 => {
                return check(
                    RATE_LIMIT,
                    match ans.retry_after.as_deref().map(|v| (v, v.trim().parse::<u64>())) {
                        Some((v, Ok(_))) => Ok(format!("429 after {n} full batch(es), Retry-After: {v}")),
                        Some((v, Err(_))) => Err(format!("429 with Retry-After {v:?} (want whole seconds)")),
                        None => Err("429 without Retry-After".into()),
                    },
                )
            }
            200 => {}
            s => return check(RATE_LIMIT, Err(format!("a full batch answered {s} (want 200 or 429)"))),
        }
    }
    Check {
        point: RATE_LIMIT,
        verdict: Verdict::NotObserved,
        detail: format!(
            "no 429 in {} batches of {MAX_BATCH_EVENTS} events; lower the project's rate limit (or pass --rate-batches) to probe it",
            p.opts.rate_batches
        ),
    }
}
