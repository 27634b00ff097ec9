//! Static files, for the demo and the end-to-end tests.
//!
//! - `GET /pkg/...` — the widget build, from `--pkg-dir`.
//! - `GET /...` — the demo site from `--www-dir` (`/` is its `index.html`),
//!   only if that directory exists.
//!
//! `Cache-Control: no-cache`: a rebuilt widget must never be shadowed by a
//! cached one while developing. MIME types come from the file extension
//! (`.wasm` is `application/wasm`, which streaming compilation requires).

use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderValue;
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::AppState;

pub fn router(config: &Config) -> Router<AppState> {
    let router = Router::new().nest_service("/pkg", ServeDir::new(&config.pkg_dir));
    let router = if config.www_dir.is_dir() {
        router.fallback_service(ServeDir::new(&config.www_dir))
    } else {
        router.fallback(crate::not_found)
    };
    router.layer(SetResponseHeaderLayer::overriding(CACHE_CONTROL, HeaderValue::from_static("no-cache")))
}
