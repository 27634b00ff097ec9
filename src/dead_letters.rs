//! Dead letters: events the collector rejected by themselves, out of the
//! queue but not thrown away. Each is kept in `localStorage` under
//! `touchpoint:<project>:dead:<ts>.<seq>:<id>` (its queue key's suffix, so
//! they sort by age too) as the reason (a JSON string, so with no newline in
//! it), a newline, and the event's JSON as it was queued. The second module
//! shows them (`debug()`) and puts them back in the queue
//! (`replayDeadLetters()`): this format is the contract with
//! `crates/views/src/dead_letters.rs`.
//!
//! Bounded by count and by bytes (`Policy::dead_over`): storage is the host
//! page's too. Where storage is missing there are none.

use touchpoint_core::queue::Policy;
use touchpoint_protocol::write::push_str;

use crate::text::cat;

/// Keys of `storage` that start with `prefix`, sorted (ours sort by age).
pub fn listed(storage: &web_sys::Storage, prefix: &str) -> Vec<String> {
    let n = storage.length().unwrap_or(0);
    let mut keys = Vec::new();
    for i in 0..n {
        if let Some(k) = storage.key(i).ok().flatten().filter(|k| k.starts_with(prefix)) {
            keys.push(k);
        }
    }
    crate::text::sort(&mut keys);
    keys
}

pub struct DeadLetters {
    /// `touchpoint:<project>:dead:`.
    prefix: String,
}

impl DeadLetters {
    pub fn new(project: &str) -> DeadLetters {
        DeadLetters { prefix: cat(&["touchpoint:", project, ":dead:"]) }
    }

    /// Keeps event `raw` (queued under the key suffix `suffix`) with why it
    /// was rejected. `None` if storage is missing or full; else how many of
    /// the oldest were dropped to make room.
    pub fn keep(
        &self,
        storage: Option<&web_sys::Storage>,
        policy: &Policy,
        suffix: &str,
        raw: &str,
        reason: &str,
    ) -> Option<usize> {
        let storage = storage?;
        let mut value = String::with_capacity(reason.len() + raw.len() + 8);
        push_str(&mut value, reason);
        value.push('\n');
        value.push_str(raw);
        storage.set_item(&cat(&[&self.prefix, suffix]), &value).ok()?;
        let keys = listed(storage, &self.prefix);
        let sizes: Vec<usize> =
            keys.iter().map(|k| storage.get_item(k).ok().flatten().map_or(0, |v| v.len())).collect();
        let over = policy.dead_over(&sizes);
        for k in keys.iter().take(over) {
            let _ = storage.remove_item(k);
        }
        Some(over)
    }

    pub fn clear(&self, storage: &web_sys::Storage) {
        for key in listed(storage, &self.prefix) {
            let _ = storage.remove_item(&key);
        }
    }
}
