//! The Touchpoint reference collector: receives the widget's `/v1` events
//! into SQLite, serves survey definitions and their NPS, and serves the demo
//! site and widget build for local development and end-to-end tests.
//!
//! [`router`] is the whole HTTP surface and needs no socket, so tests drive it
//! with `tower::ServiceExt::oneshot`; `main.rs` only adds config, binding and
//! shutdown. Routes are listed at the top of each module in [`routes`].
//!
//! **Architecture invariant:** survey rules and NPS arithmetic are called from
//! `touchpoint-core`, never re-implemented here; wire types come from
//! `touchpoint-protocol`.

pub mod catalog;
pub mod config;
pub mod db;
pub mod error;
mod extract;
mod ingest;
pub mod routes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, Method};
use axum::routing::{any, get};
use axum::Router;
use tower_http::cors::{Any, CorsLayer};

use crate::catalog::SurveyCatalog;
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Shared handles, cloned into every request.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub surveys: Arc<SurveyCatalog>,
    pub config: Arc<Config>,
}

impl AppState {
    pub fn new(config: Config, db: Db, surveys: SurveyCatalog) -> AppState {
        AppState { db, surveys: Arc::new(surveys), config: Arc::new(config) }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(routes::events::router())
        .merge(routes::surveys::router())
        // Unknown API paths get our JSON 404, never the demo site's.
        .route("/v1/{*rest}", any(not_found))
        .merge(routes::assets::router(&state.config))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors())
        .layer(axum::middleware::map_response(error::log_internal_errors))
        .with_state(state)
}

/// Any page may send events for now; restricting origins per project is a later step.
fn cors() -> CorsLayer {
    CorsLayer::new().allow_origin(Any).allow_methods([Method::GET, Method::POST]).allow_headers([header::CONTENT_TYPE])
}

async fn not_found() -> AppError {
    AppError::NotFound("no such route".into())
}
