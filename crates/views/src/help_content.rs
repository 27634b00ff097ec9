//! The help content in the page: fetched once per page from the collector,
//! kept in localStorage so search works offline after the first load. The
//! text goes to the dock module as is; it parses and indexes it there.

use crate::page::{self, LocalStore};

/// The collector's help content, else the copy saved by an earlier page.
/// `Ok(None)` when the collector has no help content.
pub async fn load(endpoint: &str, key: &str) -> Result<Option<String>, String> {
    let cache_key = format!("touchpoint:{key}:help");
    let url = format!("{endpoint}/v1/help?key={}", String::from(js_sys::encode_uri_component(key)));
    match page::get_text(&url).await {
        Ok(Some(text)) => {
            LocalStore::open().set(&cache_key, &text);
            Ok(Some(text))
        }
        Ok(None) => Ok(None),
        Err(e) => match LocalStore::open().get(&cache_key) {
            Some(saved) => {
                page::warn(&format!("{e}; using the help content saved by an earlier visit"));
                Ok(Some(saved))
            }
            None => Err(e),
        },
    }
}
