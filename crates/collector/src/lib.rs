//! The Touchpoint reference collector: receives the widget's `/v1` events
//! into SQLite (or Postgres, [`store`]), serves survey definitions and their
//! NPS, onboarding checklists with each user's progress and their funnel and
//! churn-risk reports, runs follow-up automations (webhooks, emails, cases:
//! [`automations`]), forwards every event to the host's backend ([`streams`]), assesses and routes accounts ([`accounts`]), serves the dashboard and CSV exports ([`dashboard`]),
//! and the demo site and widget build for local development and end-to-end
//! tests.
//!
//! [`router`] is the whole HTTP surface and needs no socket, so tests drive it
//! with `tower::ServiceExt::oneshot`; `main.rs` only adds config, binding and
//! shutdown. Routes are listed at the top of each module in [`routes`].
//!
//! **Architecture invariant:** survey rules, checklist rules and NPS
//! arithmetic are called from `touchpoint-core`, never re-implemented here;
//! wire types come from `touchpoint-protocol`. Checklist progress is not
//! stored: it is replayed from the stored events ([`checklists`]).
//!
//! **Security boundary:** projects ([`projects`]) decide who may write (the
//! public key in the body, from an allowed `Origin`, within the rate limit)
//! and who may read (the secret key as `Authorization: Bearer`). The widget's
//! own reads (checklist definitions and one user's progress) take the public
//! key and an allowed `Origin`, like ingest. Only survey definitions,
//! `/healthz`, `/readyz`, `/metrics` (totals only), the dashboard's page and script (which hold no data) and the
//! static files are public.

pub mod accounts;
mod auth;
pub mod automations;
pub mod cases;
pub mod catalog;
pub mod checklists;
pub mod config;
pub mod config_file;
pub mod conformance;
pub mod content;
pub mod cors;
pub mod dashboard;
pub mod error;
mod extract;
pub mod health;
pub mod help;
mod ingest;
pub mod insight;
pub mod limits;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod people;
mod private_files;
pub mod projects;
mod rate_limit;
pub mod responses;
pub mod retention;
pub mod routes;
pub mod serve;
pub mod signature;
mod startup;
pub mod store;
pub mod streams;
mod surrogates;
pub mod targeting;
pub mod time;
pub mod worker;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::any;
use axum::Router;

use crate::automations::Automations;
use crate::catalog::SurveyCatalog;
use crate::checklists::ChecklistCatalog;
use crate::config::Config;
use crate::error::AppError;
use crate::projects::Projects;
pub use crate::startup::StartupError;
use crate::store::Store;

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Shared handles, cloned into every request.
#[derive(Clone)]
pub struct AppState {
    pub db: Store,
    /// The surveys of the files: what a project serves for an id it never published.
    pub surveys: Arc<SurveyCatalog>,
    /// Published survey versions, parsed ([`content::surveys`]).
    pub survey_cache: Arc<content::parsed::Parsed<touchpoint_core::survey::Survey>>,
    /// Published checklist versions, parsed and validated (`routes::checklists`).
    pub checklist_cache: Arc<content::parsed::Parsed<ChecklistCatalog>>,
    pub projects: Arc<Projects>,
    pub config: Arc<Config>,
    /// `None`: the collector runs without checklists (their routes answer 404).
    pub checklists: Option<Arc<ChecklistCatalog>>,
    /// `None`: no help content (its route answers 404).
    pub help: Option<Arc<help::HelpCatalog>>,
    /// `None`: no automations (their routes answer 404, nothing is queued).
    pub automations: Option<Arc<Automations>>,
    /// `None`: no survey shows on its own (`/v1/config` says `"targeting": null`).
    pub targeting: Option<Arc<targeting::TargetingCatalog>>,
    /// `None`: no accounts definition (account routes answer 404).
    pub accounts: Option<Arc<accounts::AccountsCatalog>>,
    /// Per-client token buckets ([`limits`]).
    pub clients: Arc<limits::ClientBuckets>,
    pub metrics: Arc<metrics::Metrics>,
    /// Whether `/readyz` says ready ([`health`]).
    pub readiness: Arc<health::Readiness>,
}

impl AppState {
    /// A state without checklists; see [`AppState::with_checklists`].
    pub fn new(config: Config, projects: Projects, db: Store, surveys: SurveyCatalog) -> AppState {
        AppState {
            db,
            surveys: Arc::new(surveys),
            survey_cache: Arc::default(),
            checklist_cache: Arc::default(),
            projects: Arc::new(projects),
            config: Arc::new(config),
            checklists: None,
            help: None,
            automations: None,
            targeting: None,
            accounts: None,
            clients: Arc::default(),
            metrics: Arc::default(),
            readiness: Arc::default(),
        }
    }

    pub fn with_checklists(self, checklists: Option<ChecklistCatalog>) -> AppState {
        AppState { checklists: checklists.map(Arc::new), ..self }
    }

    pub fn with_help(self, help: Option<help::HelpCatalog>) -> AppState {
        AppState { help: help.map(Arc::new), ..self }
    }

    pub fn with_targeting(self, targeting: Option<targeting::TargetingCatalog>) -> AppState {
        AppState { targeting: targeting.map(Arc::new), ..self }
    }

    /// Start the worker with `worker::Worker::start::<automations::worker::Automating>`.
    pub fn with_automations(self, automations: Option<Automations>) -> AppState {
        AppState { automations: automations.map(Arc::new), ..self }
    }

    /// Start the worker with `worker::Worker::start::<accounts::worker::Assessing>`.
    pub fn with_accounts(self, accounts: Option<accounts::AccountsCatalog>) -> AppState {
        AppState { accounts: accounts.map(Arc::new), ..self }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(routes::events::router())
        .merge(routes::surveys::router())
        .merge(routes::checklists::router())
        .merge(routes::config::router())
        .merge(routes::help::router())
        .merge(routes::automations::router())
        .merge(routes::cases::router())
        .merge(routes::dashboard::router())
        .merge(routes::insight::router())
        .merge(routes::accounts::router())
        .merge(routes::openapi::router())
        .merge(routes::people::router())
        .merge(routes::segment::router())
        .merge(routes::streams::router())
        .merge(routes::content::router())
        .merge(routes::editor::router())
        // Unknown API paths get our JSON 404, never the demo site's.
        .route("/v1/{*rest}", any(not_found))
        .merge(routes::assets::router(&state.config))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::body_deadline))
        .layer(axum::middleware::from_fn_with_state(state.clone(), health::count_refused_ingest))
        .layer(compression())
        .layer(cors::layer(state.projects.clone()))
        .layer(axum::middleware::map_response(error::log_internal_errors))
        .layer(axum::middleware::from_fn(observe::request_id))
        .with_state(state)
}

/// API answers (survey card forms, help, checklists, event lists) compressed as the client
/// allows. The widget's own files are precompressed at build time and pass through untouched: a
/// response that already has a `Content-Encoding` is never compressed again. Brotli at quality 5,
/// not 11: these bodies are written per request, and 5 is within a few percent of 11 on JSON of
/// this size at a fraction of the CPU.
fn compression() -> tower_http::compression::CompressionLayer {
    tower_http::compression::CompressionLayer::new().quality(tower_http::CompressionLevel::Precise(5))
}

/// The server's clock, in ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

async fn not_found() -> AppError {
    AppError::NotFound("no such route".into())
}
