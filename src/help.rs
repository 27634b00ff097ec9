//! The help content in the page: fetched once per page from the collector,
//! kept in localStorage so search works offline after the first load.

use std::sync::Arc;

use serde::Deserialize;
use touchpoint_core::help::{markdown::safe_url, Article, Index};

use crate::browser::{self, LocalStore};

pub struct Content {
    pub articles: Vec<Article>,
    pub index: Index,
}

#[derive(Deserialize)]
struct Wire {
    articles: Vec<Article>,
}

/// Loads the articles: from the collector, else the copy saved by an
/// earlier page. `Ok(None)` when the collector has no help content.
pub async fn load(endpoint: &str, key: &str) -> Result<Option<Arc<Content>>, String> {
    let cache_key = format!("touchpoint:{key}:help");
    let url = format!("{endpoint}/v1/help?key={}", String::from(js_sys::encode_uri_component(key)));
    let text = match browser::get_text(&url).await {
        Ok(Some(text)) => {
            LocalStore::open().set(&cache_key, &text);
            text
        }
        Ok(None) => return Ok(None),
        Err(e) => match LocalStore::open().get(&cache_key) {
            Some(saved) => {
                browser::warn(&format!("{e}; using the help content saved by an earlier visit"));
                saved
            }
            None => return Err(e),
        },
    };
    let wire: Wire =
        serde_json::from_str(&text).map_err(|e| format!("help content from {url} is not readable: {e}"))?;
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
    Ok(Some(Arc::new(Content { articles, index })))
}
