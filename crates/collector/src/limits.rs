//! What one connection or one client may cost the collector.
//!
//! - **Connections** ([`ServerLimits`], enforced by [`crate::serve`]): at most
//!   `max_connections` at once (further ones wait in the kernel's listen
//!   queue); a connection that has not sent a whole request head within
//!   `header_timeout` is closed, idle keep-alive ones included, so
//!   half-open and slow-header clients cannot pile up.
//! - **Bodies** ([`body_deadline`]): a request body must arrive in full
//!   within `body_timeout` (one deadline for the whole body, not per chunk,
//!   so a client dripping a byte a second does not keep it open); else 408.
//! - **Clients** ([`ClientBuckets`]): beside each project's budget
//!   ([`crate::rate_limit::RateLimit`]), one client — its IP address and the
//!   project key it uses — has its own token buckets, one for ingest (counted
//!   in events) and one for the widget's public reads (`/v1/config`,
//!   `/v1/checklists/state`, …; one token a request). One abusive browser
//!   gets `429` while the project's other users are served.
//!
//! **Which address is the client's.** The socket's peer address, unless
//! `--client-ip-header` names the header a load balancer in front sets:
//! then that header only (for `X-Forwarded-For`, its last entry, the one
//! the balancer appended; earlier entries are the client's own word). A
//! client-supplied header is never believed without that flag.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::projects::ProjectEntry;
use crate::rate_limit::{ClientLimits, RateLimit, TokenBucket};
use crate::AppState;

/// Connection and body limits of the server (flags `--header-timeout-ms`,
/// `--body-timeout-ms`, `--max-connections`, `--client-ip-header`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerLimits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    /// `None`: the client is the socket's peer.
    pub client_ip_header: Option<HeaderName>,
    /// After SIGTERM: how long `/readyz` says 503 while requests are still
    /// served, before the listener closes.
    pub drain: Duration,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 4096,
            client_ip_header: None,
            drain: Duration::ZERO,
        }
    }
}

/// The bucket `limits` gives one client for `kind` of request.
fn bucket_of(limits: &ClientLimits, kind: Kind) -> RateLimit {
    match kind {
        Kind::Ingest => RateLimit { events_per_second: limits.events_per_second, burst: limits.event_burst },
        Kind::Read => RateLimit { events_per_second: limits.reads_per_second, burst: limits.read_burst },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Ingest,
    Read,
}

/// Buckets beyond this many are swept of the full (idle) ones; a flood of
/// new addresses cannot grow the map without bound.
const MAX_TRACKED_CLIENTS: usize = 100_000;

/// Every client's buckets, by (address, project key, kind).
#[derive(Debug, Default)]
pub struct ClientBuckets {
    buckets: Mutex<HashMap<(IpAddr, String, Kind), TokenBucket>>,
}

impl ClientBuckets {
    /// Charges `events` (at least 1) to `client`'s ingest bucket in `project`.
    pub fn admit_events(&self, client: IpAddr, project: &ProjectEntry, events: usize) -> Result<(), AppError> {
        let cost = u32::try_from(events).unwrap_or(u32::MAX).max(1);
        self.admit(client, project, Kind::Ingest, cost)
    }

    /// Charges one read to `client`'s read bucket in `project`.
    pub fn admit_read(&self, client: IpAddr, project: &ProjectEntry) -> Result<(), AppError> {
        self.admit(client, project, Kind::Read, 1)
    }

    fn admit(&self, client: IpAddr, project: &ProjectEntry, kind: Kind, cost: u32) -> Result<(), AppError> {
        let limits = project.project.client_limits;
        let limit = bucket_of(&limits, kind);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED_CLIENTS {
            // A bucket that would be full by now is the same as a new one.
            buckets.retain(|_, bucket| !bucket.is_full(now));
        }
        let bucket = buckets
            .entry((client, project.project.public_key.clone(), kind))
            .or_insert_with(|| TokenBucket::new(limit, now));
        bucket.try_take(cost, now).map_err(|wait| {
            let what = match kind {
                Kind::Ingest => format!("{} events/s (burst {})", limits.events_per_second, limits.event_burst),
                Kind::Read => format!("{} reads/s (burst {})", limits.reads_per_second, limits.read_burst),
            };
            let message = format!(
                "rate limit of {what} per client exceeded for this project key from {client}; retry after {} s",
                crate::error::retry_after_seconds(wait)
            );
            AppError::RateLimited { message, retry_after: wait }
        })
    }
}

/// The client's address as [`crate::limits`] defines it. A request that
/// reached us without the configured header (past the balancer) counts as
/// its peer's. `None` only when the router is driven in-process, without a
/// socket.
pub fn client_ip(headers: &HeaderMap, extensions: &axum::http::Extensions, limits: &ServerLimits) -> Option<IpAddr> {
    let from_header = limits.client_ip_header.as_ref().and_then(|name| {
        let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
        value.rsplit(',').next()?.trim().parse().ok()
    });
    from_header.or_else(|| extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip()))
}

/// The requesting client's address ([`client_ip`]), as an extractor.
pub struct ClientIp(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(&parts.headers, &parts.extensions, &state.config.limits)))
    }
}

/// Reads the whole request body before the handler runs, within
/// `body_timeout` from the request head; 408 if it does not arrive in time.
/// Bodies are small (at most [`crate::MAX_BODY_BYTES`]), so holding one is cheap.
pub async fn body_deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    // One past the limit, so that a body over it is still told 413 by the extractor.
    let read = axum::body::to_bytes(body, crate::MAX_BODY_BYTES + 1);
    let bytes = match tokio::time::timeout(state.config.limits.body_timeout, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_length_limit(&e) => {
            return AppError::PayloadTooLarge { limit: crate::MAX_BODY_BYTES }.into_response()
        }
        Ok(Err(e)) => return AppError::bad_request(format!("cannot read the request body: {e}"), None).into_response(),
        Err(_) => {
            let message =
                format!("the request body did not arrive within {} ms", state.config.limits.body_timeout.as_millis());
            let mut res = AppError::bad_request(message, None).into_response();
            *res.status_mut() = StatusCode::REQUEST_TIMEOUT;
            res.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
            return res;
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(headers: &[(&str, &str)], peer: Option<&str>, header: Option<&str>) -> Option<String> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(HeaderName::try_from(*k).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let mut ext = axum::http::Extensions::new();
        if let Some(peer) = peer {
            ext.insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        }
        let limits =
            ServerLimits { client_ip_header: header.map(|h| HeaderName::try_from(h).unwrap()), ..Default::default() };
        client_ip(&map, &ext, &limits).map(|ip| ip.to_string())
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_header_is_configured() {
        let xff = [("x-forwarded-for", "6.6.6.6")];
        // Not configured: the header is the client's word and is ignored.
        assert_eq!(ip(&xff, Some("10.0.0.1:5000"), None).as_deref(), Some("10.0.0.1"));
        assert_eq!(ip(&xff, None, None), None);
        // Configured: the last entry, the one the balancer appended.
        let forged = [("x-forwarded-for", "6.6.6.6, 203.0.113.7")];
        assert_eq!(ip(&forged, Some("10.0.0.1:5000"), Some("x-forwarded-for")).as_deref(), Some("203.0.113.7"));
        let two = [("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.8")];
        assert_eq!(ip(&two, None, Some("x-forwarded-for")).as_deref(), Some("203.0.113.8"));
        assert_eq!(ip(&[("x-real-ip", "::1")], None, Some("x-real-ip")).as_deref(), Some("::1"));
        // Configured but absent or garbage (a request that bypassed the balancer): the peer.
        assert_eq!(ip(&[], Some("10.0.0.1:5000"), Some("x-forwarded-for")).as_deref(), Some("10.0.0.1"));
        assert_eq!(ip(&[("x-forwarded-for", "nope")], None, Some("x-forwarded-for")), None);
    }
}
