//! Help content for the widget.
//!
//! - `GET /v1/help?key=<public_key>` — `{"articles": [{"id", "title", "tags",
//!   "segments", "urls", "video", "body"}]}` (`body` is the Markdown source;
//!   the widget renders it through the same safe subset). 404 when the
//!   collector runs without help content.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::auth::PublicKey;
use crate::error::AppError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/help", get(articles))
}

async fn articles(State(state): State<AppState>, _: PublicKey) -> Result<impl IntoResponse, AppError> {
    let help = state
        .help
        .clone()
        .ok_or_else(|| AppError::NotFound("no help content is configured on this collector".into()))?;
    // Content changes only with a restart; a short cache spares repeat page loads.
    Ok(([(CONTENT_TYPE, "application/json"), (CACHE_CONTROL, "max-age=300")], help.json.clone()))
}
