//! The user's onboarding checklist in the page: loads the definitions and
//! the collector's progress (the source of truth), merges them with the local
//! copy ("completed stays completed"), completes items live from `track()`,
//! and persists locally for an instant paint on the next load.
//!
//! The rules run here from the first `track()` (those made before this
//! module started are handed over by the first module, in order); the
//! panel shows the state it reads ([`panel_state`], on `signal::Change::Checklist`).
//!
//! Everything is one person's: the local copy is keyed by their id, and a
//! change of person ([`clear`]) drops what was loaded or kept for the one
//! before, whose late answers are then ignored.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::Deserialize;
use touchpoint_core::checklist::{Checklist, ChecklistSet, Contributor, Progress};
use touchpoint_protocol::{EventKind, Props};

use crate::context::{self, Person};
use crate::host;
use crate::page::{self, LocalStore};
use crate::signal::{self, Change};

struct Loaded {
    checklist: Checklist,
    progress: Progress,
    dismissed: bool,
    /// Account-level items: who in the account did them (from the collector).
    by: BTreeMap<String, Vec<Contributor>>,
    storage_key: String,
    /// The segment chosen from the user's traits (targeting may ask for one).
    segment: String,
}

thread_local! {
    static LOADED: RefCell<Option<Loaded>> = const { RefCell::new(None) };
    /// `track()` calls made before the checklist loaded, replayed into it.
    static EARLY: RefCell<Vec<(String, Props, i64)>> = const { RefCell::new(Vec::new()) };
    /// The collector has no checklists configured: nothing to keep `track()`s for.
    static NONE_CONFIGURED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[derive(Deserialize)]
struct ServerState {
    checklist: ServerChecklist,
    progress: Progress,
    #[serde(default)]
    dismissed: bool,
    #[serde(default)]
    account: Option<ServerAccount>,
}

#[derive(Deserialize)]
struct ServerAccount {
    #[serde(default)]
    by: BTreeMap<String, Vec<Contributor>>,
}

#[derive(Deserialize)]
struct ServerChecklist {
    id: String,
}

/// Loads and shows the checklist for this user. Safe to call again after
/// `identify` (it reloads for the new user).
pub async fn load(endpoint: String, key: String, person: Person, traits: Props) -> Result<(), String> {
    let (who, id) = (person.param, person.id.clone());
    // Segments can read the account's traits (from `group()`) as `account.<trait>`.
    let mut traits = traits;
    let account_traits: Props = LocalStore::open()
        .get(&format!("touchpoint:{key}:account_traits"))
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    traits.extend(account_traits.into_iter().map(|(k, v)| (format!("account.{k}"), v)));
    let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
    let set_text = page::get_text(&format!("{endpoint}/v1/checklists?key={}", enc(&key))).await?;
    let Some(set_text) = set_text else {
        // No checklists configured: stop keeping track() calls for one.
        NONE_CONFIGURED.with(|n| n.set(true));
        EARLY.with(|e| e.borrow_mut().clear());
        return Ok(());
    };
    let set = ChecklistSet::from_json_in(&set_text, &context::locales()).map_err(|e| e.to_string())?;
    let (segment, checklist) = set.choose(&traits);
    let (segment, checklist) = (segment.id.clone(), checklist.clone());

    let storage_key = format!("touchpoint:{key}:checklist:{}:{id}", checklist.id);
    let mut progress: Progress =
        LocalStore::open().get(&storage_key).and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
    let mut dismissed = LocalStore::open().get(&format!("{storage_key}:dismissed")).is_some();
    let mut state_url = format!("{endpoint}/v1/checklists/state?key={}&{who}={}", enc(&key), enc(&id));
    if let Some(hash) = &person.user_hash {
        state_url.push_str(&format!("&user_hash={}", enc(hash)));
    }
    // The account set by `group()` and the checklist chosen here, in case the
    // collector has not stored this user's `group` / `identify` yet.
    if let Some(account) = LocalStore::open().get(&format!("touchpoint:{key}:account_id")) {
        state_url.push_str(&format!("&account_id={}", enc(&account)));
    }
    state_url.push_str(&format!("&checklist={}", enc(&checklist.id)));
    let mut by = BTreeMap::new();
    match page::get_text(&state_url).await {
        Ok(Some(text)) => match serde_json::from_str::<ServerState>(&text) {
            // Right after `identify` the collector may not have the new traits
            // yet and answer for another checklist, whose item ids mean other
            // things: only the same checklist's progress is merged.
            Ok(server) if server.checklist.id == checklist.id => {
                progress.merge(&server.progress);
                dismissed |= server.dismissed;
                by = server.account.map(|a| a.by).unwrap_or_default();
            }
            Ok(_) => {}
            Err(e) => page::warn(&format!(
                "checklist progress from the collector was unreadable ({e}); using this browser's copy"
            )),
        },
        Ok(None) => {}
        Err(e) => page::warn(&format!("{e}; showing this browser's copy of the checklist progress")),
    }
    // Another person may have been identified while this one's progress was
    // on its way: theirs loads instead, and this one must not show or count.
    if context::person().as_ref() != Some(&person) {
        return Ok(());
    }
    let now = page::now_ms();
    let mut newly = progress.settle(&checklist, now);
    for (name, props, at) in EARLY.with(|e| std::mem::take(&mut *e.borrow_mut())) {
        newly.extend(progress.observe(&checklist, &name, &props, at));
    }
    let checklist_id = checklist.id.clone();
    let announced = announce(&checklist, &progress, newly);
    LOADED.with(|l| {
        *l.borrow_mut() = Some(Loaded { checklist, progress, dismissed, by, storage_key, segment: segment.clone() })
    });
    send(announced);
    persist();
    let shown = LOADED.with(|l| l.borrow().as_ref().map(|l| std::sync::Arc::new(l.checklist.clone())));
    if let Some(shown) = shown {
        signal::send(Change::ChecklistShown { checklist: shown, segment: segment.clone() });
    }
    if !dismissed {
        host::emit(EventKind::ChecklistShown { checklist_id, segment });
    }
    // A survey may target this segment.
    signal::send(Change::Decide);
    Ok(())
}

/// The segment of the loaded checklist, if one is loaded.
pub fn segment() -> Option<String> {
    LOADED.with(|l| l.borrow().as_ref().map(|l| l.segment.clone()))
}

/// Whether the user dismissed the loaded checklist.
pub fn dismissed() -> bool {
    LOADED.with(|l| l.borrow().as_ref().is_some_and(|l| l.dismissed))
}

/// Items done and items in all, of the loaded checklist.
pub fn done_of() -> Option<(usize, usize)> {
    LOADED.with(|l| l.borrow().as_ref().map(|l| (l.progress.done(&l.checklist), l.checklist.items.len())))
}

/// Whether every item of the loaded checklist is done.
pub fn is_complete() -> bool {
    LOADED.with(|l| l.borrow().as_ref().is_some_and(|l| l.progress.is_complete(&l.checklist)))
}

/// Feeds a `track()` made at `at` into the checklist (or keeps it until one is loaded).
pub fn observe(name: &str, props: &Props, at: i64) {
    let outcome = LOADED.with(|l| {
        let mut l = l.borrow_mut();
        let l = l.as_mut()?;
        // Most behaviors count for no item: the dock is told only of a change.
        let counted = |p: &Progress| p.counts.values().map(|&n| u64::from(n)).sum::<u64>();
        let before = counted(&l.progress);
        let newly = l.progress.observe(&l.checklist, name, props, at);
        let changed = !newly.is_empty() || counted(&l.progress) != before;
        Some((changed, announce(&l.checklist, &l.progress, newly)))
    });
    match outcome {
        None => {
            if !NONE_CONFIGURED.with(|n| n.get()) {
                EARLY.with(|e| e.borrow_mut().push((name.to_owned(), props.clone(), at)));
            }
        }
        Some((changed, announced)) => {
            if !announced.is_empty() {
                persist();
            }
            if changed {
                signal::send(Change::Checklist);
            }
            send(announced);
        }
    }
}

/// Forgets the loaded checklist and the behaviors kept for one still
/// loading (the person changed); a new one loads for the next person.
pub fn clear() {
    LOADED.with(|l| l.borrow_mut().take());
    EARLY.with(|e| e.borrow_mut().clear());
    NONE_CONFIGURED.with(|n| n.set(false));
}

/// `Touchpoint.complete(itemId)`.
pub fn complete(item: &str) -> bool {
    let result = LOADED.with(|l| {
        let mut l = l.borrow_mut();
        let l = l.as_mut()?;
        Some(
            l.progress
                .complete(&l.checklist, item, page::now_ms())
                .map(|newly| announce(&l.checklist, &l.progress, newly)),
        )
    });
    match result {
        None => {
            page::error(&format!("complete({item:?}): no checklist is loaded for this user"));
            false
        }
        Some(Ok(announced)) => {
            persist();
            signal::send(Change::Checklist);
            send(announced);
            true
        }
        Some(Err(msg)) => {
            page::error(&format!("complete: {msg}"));
            false
        }
    }
}

pub fn dismiss() {
    let dismissed = LOADED.with(|l| {
        let mut l = l.borrow_mut();
        let l = l.as_mut()?;
        l.dismissed = true;
        LocalStore::open().set(&format!("{}:dismissed", l.storage_key), "1");
        Some(l.checklist.id.clone())
    });
    if let Some(checklist_id) = dismissed {
        signal::send(Change::Checklist);
        host::emit(EventKind::ChecklistDismissed { checklist_id });
    }
}

/// An event and an `on()` notification per newly completed item (with the
/// rule that fired), and `checklist_completed` when that was the last one.
/// Built while the state is borrowed, sent after ([`send`]): emitting runs
/// targeting, which reads the checklist.
fn announce(
    checklist: &Checklist,
    progress: &Progress,
    newly: Vec<String>,
) -> Vec<(EventKind, &'static str, serde_json::Value)> {
    let mut out = Vec::new();
    if newly.is_empty() {
        return out;
    }
    let id = &checklist.id;
    for item in newly {
        let rule = progress.completed.get(&item).map(|c| c.trigger.to_string()).unwrap_or_default();
        let payload = serde_json::json!({ "checklistId": id, "itemId": item, "rule": rule });
        let kind = EventKind::ChecklistItemCompleted { checklist_id: id.clone(), item_id: item, rule };
        out.push((kind, "checklist:item_completed", payload));
    }
    if progress.is_complete(checklist) {
        let payload = serde_json::json!({ "checklistId": id });
        out.push((EventKind::ChecklistCompleted { checklist_id: id.clone() }, "checklist:completed", payload));
    }
    out
}

fn send(announced: Vec<(EventKind, &'static str, serde_json::Value)>) {
    for (kind, name, payload) in announced {
        host::emit(kind);
        host::dispatch(name, &payload);
    }
}

/// What the checklist's panel shows of the loaded checklist.
pub fn panel_state() -> Option<crate::checklist_panel::State> {
    LOADED.with(|l| {
        let l = l.borrow();
        let l = l.as_ref()?;
        Some(crate::checklist_panel::State { progress: l.progress.clone(), dismissed: l.dismissed, by: l.by.clone() })
    })
}

fn persist() {
    LOADED.with(|l| {
        if let Some(l) = l.borrow().as_ref() {
            if let Ok(json) = serde_json::to_string(&l.progress) {
                LocalStore::open().set(&l.storage_key, &json);
            }
        }
    });
}
