//! The help content the widget fetched (or read from its offline copy),
//! parsed into articles and a search index.

use std::sync::Arc;

use serde::Deserialize;
use touchpoint_core::help::{markdown::safe_url, Article, Index};

pub struct Content {
    pub articles: Vec<Article>,
    pub index: Index,
}

#[derive(Deserialize)]
struct Wire {
    articles: Vec<Article>,
}

pub fn parse(text: &str) -> Result<Arc<Content>, String> {
    let wire: Wire = serde_json::from_str(text).map_err(|e| format!("help content is not readable: {e}"))?;
    // The collector validated these; a video URL is still checked here because it becomes an iframe.
    let articles: Vec<Article> = wire
        .articles
        .into_iter()
        .map(|mut a| {
            a.video = a.video.filter(|v| safe_url(v, true));
            a
        })
        .collect();
    let index = Index::new(&articles);
    Ok(Arc::new(Content { articles, index }))
}
