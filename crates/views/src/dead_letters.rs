//! The dead letters: events the collector rejected by themselves, which the
//! first module keeps in `localStorage` (`src/dead_letters.rs` writes them
//! and owns the format: `touchpoint:<key>:dead:<queue key suffix>` → the
//! reason as a JSON string, a newline, the event's JSON). Here they are
//! listed for the debug overlay and put back in the queue (under the queue
//! key they had) by `replayDeadLetters()`; the first module's next send
//! finds them in storage, as it finds other tabs' events.

use crate::page;

/// One dead letter, as the debug overlay shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Letter {
    /// `track "name"`, or the event's type.
    pub what: String,
    pub reason: String,
}

/// `(key, value)` of each dead letter of project `key`, oldest first.
fn stored(key: &str) -> Vec<(String, String)> {
    let Some(storage) = touchpoint_web::local_storage() else { return Vec::new() };
    let prefix = format!("touchpoint:{key}:dead:");
    let n = storage.length().unwrap_or(0);
    let mut keys: Vec<String> =
        (0..n).filter_map(|i| storage.key(i).ok().flatten()).filter(|k| k.starts_with(&prefix)).collect();
    keys.sort_unstable();
    keys.into_iter().filter_map(|k| Some((storage.get_item(&k).ok().flatten()?, k))).map(|(v, k)| (k, v)).collect()
}

/// The reason and the event of a stored dead letter.
fn split(value: &str) -> (String, &str) {
    match value.split_once('\n') {
        Some((reason, event)) => (serde_json::from_str(reason).unwrap_or_default(), event),
        None => (String::new(), value),
    }
}

pub fn list(key: &str) -> Vec<Letter> {
    stored(key)
        .iter()
        .map(|(_, value)| {
            let (reason, event) = split(value);
            let event: serde_json::Value = serde_json::from_str(event).unwrap_or_default();
            let field = |name: &str| event[name].as_str().unwrap_or("?").to_owned();
            let what = if field("type") == "track" { format!("track {:?}", field("name")) } else { field("type") };
            Letter { what, reason }
        })
        .collect()
}

/// Moves every dead letter back into the queue; how many.
pub fn replay(key: &str) -> usize {
    let Some(storage) = touchpoint_web::local_storage() else { return 0 };
    let dead = format!("touchpoint:{key}:dead:");
    let mut moved = 0;
    for (k, value) in stored(key) {
        let queued = format!("touchpoint:{key}:q:{}", k.strip_prefix(&dead).unwrap_or_default());
        // Written before it is removed: a full storage loses nothing. The
        // queue checks what it reads back, like any entry.
        match storage.set_item(&queued, split(&value).1) {
            Ok(()) => {
                let _ = storage.remove_item(&k);
                moved += 1;
            }
            Err(e) => page::warn(&format!("could not put a dead letter back in the queue: {}", page::describe(&e))),
        }
    }
    moved
}
