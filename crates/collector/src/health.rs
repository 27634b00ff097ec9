//! Probes and metrics for whoever runs the collector.
//!
//! - `GET /healthz` — `ok` when the process answers *and* its database
//!   does (a query runs); `503` with the reason otherwise. For restarts.
//! - `GET /readyz` — `ready` when this collector should get traffic: the
//!   database answers and it is not shutting down (after SIGTERM it says
//!   `503` for `--drain-ms` while still serving, so a load balancer takes
//!   it out before it stops accepting). The port only opens once
//!   migrations are done, so a migrating collector is never reachable.
//! - `GET /metrics` — see [`crate::metrics`].
//!
//! All three are public, like `/healthz` always was, and say nothing about
//! any project.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

/// Whether this collector wants traffic.
#[derive(Debug, Default)]
pub struct Readiness {
    stopping: AtomicBool,
}

impl Readiness {
    /// From now on `/readyz` answers 503.
    pub fn stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

async fn database(state: &AppState) -> Result<(), Response> {
    match state.db.next_due_at().await {
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::error!("health check: database: {e}");
            Err((StatusCode::SERVICE_UNAVAILABLE, "the database does not answer").into_response())
        }
    }
}

async fn healthz(State(state): State<AppState>) -> Response {
    match database(&state).await {
        Ok(()) => "ok".into_response(),
        Err(res) => res,
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.readiness.stopping.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    match database(&state).await {
        Ok(()) => "ready".into_response(),
        Err(res) => res,
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(state.db.pool_stats());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Counts `POST /v1/events` requests refused as a whole (whatever refused
/// them: the body limit, its deadline, the extractor, the handler).
pub async fn count_refused_ingest(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ingest = req.method() == Method::POST && req.uri().path() == "/v1/events";
    let res = next.run(req).await;
    if ingest && res.status() != StatusCode::OK {
        state.metrics.refused(res.status().as_u16());
    }
    res
}
