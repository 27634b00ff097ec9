//! Logs: `tracing` to stderr, as text or one JSON object per line
//! (`--log-format json`), and a request id on every request.
//!
//! **Request ids.** Each request runs in a span carrying its id: the
//! client's `x-request-id` when it sent a sensible one (a load balancer's,
//! so one id follows the request through both logs), else a new one. The
//! answer echoes it in `x-request-id`, so a user reporting a failure can
//! quote the line to look for.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("--log-format {other:?}: use text or json")),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// Installs the global subscriber (once per process; later calls do nothing).
/// `TOUCHPOINT_LOG_LEVEL` (`error`, `warn`, `info`, `debug`, `trace`;
/// default `info`) sets how much is written; `debug` adds a line per
/// request with its status and time.
pub fn init(format: LogFormat) {
    let level = std::env::var("TOUCHPOINT_LOG_LEVEL")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).with_max_level(level);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}

/// A client's id is taken if it is short and plain (it goes into our logs).
fn acceptable(id: &HeaderValue) -> bool {
    (1..=128).contains(&id.len())
        && id.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A new id: this process's start time and a counter, unique enough to find
/// a line, and cheap.
fn new_id() -> HeaderValue {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| crate::now_ms().unsigned_abs());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    HeaderValue::from_str(&format!("{start:x}-{n:x}")).expect("hex is a valid header value")
}

/// Gives the request its id, runs it in a span with that id, logs one line
/// when it is answered, and echoes the id.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req.headers().get(&REQUEST_ID).filter(|id| acceptable(id)).cloned().unwrap_or_else(new_id);
    req.headers_mut().insert(REQUEST_ID, id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id.to_str().unwrap_or_default(),
        method = %req.method(),
        path = %req.uri().path(),
    );
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let status = res.status().as_u16();
    span.in_scope(|| {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, ms, "answered");
        } else {
            tracing::debug!(status, ms, "answered");
        }
    });
    res.headers_mut().insert(REQUEST_ID, id);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_ids_are_taken_from_clients() {
        for ok in ["abc", "req-1_2.3:4", &"a".repeat(128)] {
            assert!(acceptable(&HeaderValue::from_str(ok).unwrap()), "{ok}");
        }
        for bad in ["", "a b", "x\ty", &"a".repeat(129), "<script>"] {
            assert!(!acceptable(&HeaderValue::from_str(bad).unwrap()), "{bad}");
        }
        assert_ne!(new_id(), new_id());
    }
}
