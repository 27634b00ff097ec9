//! Help content for the widget.
//!
//! - `GET /v1/help?key=<public_key>` — `{"articles": [{"id", "title", "tags",
//!   "segments", "urls", "video", "body"}]}` (`body` is the Markdown source;
//!   the widget renders it through the same safe subset). 404 when the
//!   collector runs without help content. A project's published articles
//!   ([`crate::content`]) are served with the files' (theirs win by id),
//!   read on every request.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use serde_json::{json, Value};
use touchpoint_core::help::Article;

use crate::auth::PublicKey;
use crate::content::Kind;
use crate::error::AppError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/help", get(articles))
}

async fn articles(State(state): State<AppState>, PublicKey(project): PublicKey) -> Result<impl IntoResponse, AppError> {
    let key = project.project.public_key.clone();
    let published = state.db.content_live_all(key, Kind::Help.as_str()).await?;
    if published.is_empty() {
        let help = state
            .help
            .clone()
            .ok_or_else(|| AppError::NotFound("no help content is configured on this collector".into()))?;
        // The files change only with a restart; a short cache spares repeat page loads.
        return Ok(([(CONTENT_TYPE, "application/json"), (CACHE_CONTROL, "max-age=300")], help.json.clone()));
    }
    // The project's published articles, and the files' under the ids it has not published.
    let mut articles: Vec<Article> = Vec::new();
    for v in &published {
        let body: Value = serde_json::from_str(&v.body).unwrap_or(Value::Null);
        let markdown = body["markdown"].as_str().unwrap_or_default();
        let article = Article::parse(&format!("{}.md", v.item_id), markdown).map_err(|_| {
            AppError::Internal(format!("stored help article {:?} version {} no longer parses", v.item_id, v.version))
        })?;
        articles.push(article);
    }
    for a in state.help.iter().flat_map(|h| h.articles.iter()) {
        if !articles.iter().any(|p| p.id == a.id) {
            articles.push(a.clone());
        }
    }
    articles.sort_by(|a, b| a.id.cmp(&b.id));
    let json = json!({ "articles": articles }).to_string();
    // Published content is read on every load, so a publish is seen on the next one.
    Ok(([(CONTENT_TYPE, "application/json"), (CACHE_CONTROL, "no-cache")], json))
}
