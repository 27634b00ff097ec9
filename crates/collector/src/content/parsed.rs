//! Published versions, parsed once: by (project, item, version). A version
//! never changes once written, so an entry is never stale; the map is
//! emptied when it grows past [`CACHED`] rather than tracking use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::AppError;
use crate::store::content::ContentVersion;

const CACHED: usize = 1000;

pub struct Parsed<T> {
    map: Mutex<HashMap<(String, String, i64), Arc<T>>>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Parsed { map: Mutex::default() }
    }
}

impl<T> Parsed<T> {
    /// `row` of project `key`, parsed by `parse` the first time it is asked for.
    pub fn get(
        &self,
        key: &str,
        row: &ContentVersion,
        parse: impl FnOnce(&ContentVersion) -> Result<T, AppError>,
    ) -> Result<Arc<T>, AppError> {
        let k = (key.to_string(), row.item_id.clone(), row.version);
        if let Some(t) = self.map.lock().unwrap_or_else(PoisonError::into_inner).get(&k) {
            return Ok(t.clone());
        }
        let t = Arc::new(parse(row)?);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CACHED {
            map.clear();
        }
        map.insert(k, t.clone());
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(item: &str, version: i64, body: &str) -> ContentVersion {
        ContentVersion {
            item_id: item.into(),
            version,
            body: body.into(),
            published_by: String::new(),
            published_at: 0,
            origin: String::new(),
            diff: String::new(),
            note: None,
        }
    }

    #[test]
    fn a_version_is_parsed_once_per_project_and_a_new_one_again() {
        let cache = Parsed::<String>::default();
        let parses = std::cell::Cell::new(0);
        let parse = |r: &ContentVersion| {
            parses.set(parses.get() + 1);
            Ok(r.body.to_uppercase())
        };
        assert_eq!(*cache.get("pk_a", &row("x", 1, "one"), parse).unwrap(), "ONE");
        assert_eq!(*cache.get("pk_a", &row("x", 1, "one"), parse).unwrap(), "ONE");
        assert_eq!(parses.get(), 1);
        assert_eq!(*cache.get("pk_b", &row("x", 1, "other"), parse).unwrap(), "OTHER");
        assert_eq!(*cache.get("pk_a", &row("x", 2, "two"), parse).unwrap(), "TWO");
        assert_eq!(parses.get(), 3);
    }
}
