//! The user's onboarding checklist in the page: loads the definitions and
//! the collector's progress (the source of truth), merges them with the local
//! copy ("completed stays completed"), completes items live from `track()`,
//! and persists locally for an instant paint on the next load.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;
use serde::Deserialize;
use touchpoint_core::checklist::{Checklist, ChecklistSet, Contributor, Progress};
use touchpoint_protocol::{EventKind, Props};

use crate::browser::{self, LocalStore};
use crate::{bus, sdk, ui};

/// What the page shows; signals the panel reads.
#[derive(Clone, Copy)]
pub struct Live {
    pub checklist: StoredValue<Arc<Checklist>>,
    pub progress: RwSignal<Progress>,
    pub dismissed: RwSignal<bool>,
    /// Account-level items: who in the account did them (from the collector).
    pub by: RwSignal<BTreeMap<String, Vec<Contributor>>>,
}

struct Loaded {
    live: Live,
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
pub async fn load(
    endpoint: String,
    key: String,
    person: crate::targeting::Person,
    traits: Props,
) -> Result<(), String> {
    let (who, id) = (person.param, person.id);
    // Segments can read the account's traits (from `group()`) as `account.<trait>`.
    let mut traits = traits;
    let account_traits: Props = LocalStore::open()
        .get(&format!("touchpoint:{key}:account_traits"))
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    traits.extend(account_traits.into_iter().map(|(k, v)| (format!("account.{k}"), v)));
    let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
    let set_text = browser::get_text(&format!("{endpoint}/v1/checklists?key={}", enc(&key))).await?;
    let Some(set_text) = set_text else {
        // No checklists configured: stop keeping track() calls for one.
        NONE_CONFIGURED.with(|n| n.set(true));
        EARLY.with(|e| e.borrow_mut().clear());
        return Ok(());
    };
    let set = ChecklistSet::from_json_in(&set_text, &sdk::locales()).map_err(|e| e.to_string())?;
    let (segment, checklist) = set.choose(&traits);
    let (segment, checklist) = (segment.id.clone(), Arc::new(checklist.clone()));

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
    match browser::get_text(&state_url).await {
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
            Err(e) => browser::warn(&format!(
                "checklist progress from the collector was unreadable ({e}); using this browser's copy"
            )),
        },
        Ok(None) => {}
        Err(e) => browser::warn(&format!("{e}; showing this browser's copy of the checklist progress")),
    }
    let now = browser::now_ms();
    let mut newly = progress.settle(&checklist, now);
    for (name, props, at) in EARLY.with(|e| std::mem::take(&mut *e.borrow_mut())) {
        newly.extend(progress.observe(&checklist, &name, &props, at));
    }
    let live = Live {
        checklist: StoredValue::new(checklist.clone()),
        progress: RwSignal::new(progress),
        dismissed: RwSignal::new(dismissed),
        by: RwSignal::new(by),
    };
    LOADED.with(|l| *l.borrow_mut() = Some(Loaded { live, storage_key, segment: segment.clone() }));
    announce(&checklist, newly);
    persist();
    ui::show_checklist(live, segment.clone())?;
    if !dismissed {
        sdk::emit(EventKind::ChecklistShown { checklist_id: checklist.id.clone(), segment });
    }
    // A survey may target this segment.
    crate::targeting::decide();
    Ok(())
}

/// The segment of the loaded checklist, if one is loaded.
pub fn segment() -> Option<String> {
    LOADED.with(|l| l.borrow().as_ref().map(|l| l.segment.clone()))
}

/// Feeds a `track()` into the checklist (or keeps it until one is loaded).
pub fn observe(name: &str, props: &Props) {
    let at = browser::now_ms();
    let Some((live, checklist)) = current() else {
        if !NONE_CONFIGURED.with(|n| n.get()) {
            EARLY.with(|e| e.borrow_mut().push((name.to_owned(), props.clone(), at)));
        }
        return;
    };
    let mut newly = Vec::new();
    // Most behaviors count for no item: the panel is told only of a change.
    live.progress.maybe_update(|p| {
        let counted = |p: &Progress| p.counts.values().map(|&n| u64::from(n)).sum::<u64>();
        let before = counted(p);
        newly = p.observe(&checklist, name, props, at);
        !newly.is_empty() || counted(p) != before
    });
    if !newly.is_empty() {
        announce(&checklist, newly);
        persist();
    }
}

/// `Touchpoint.complete(itemId)`.
pub fn complete(item: &str) -> bool {
    let Some((live, checklist)) = current() else {
        browser::error(&format!("complete({item:?}): no checklist is loaded for this user"));
        return false;
    };
    let mut result = Ok(Vec::new());
    live.progress.update(|p| result = p.complete(&checklist, item, browser::now_ms()));
    match result {
        Ok(newly) => {
            announce(&checklist, newly);
            persist();
            true
        }
        Err(msg) => {
            browser::error(&format!("complete: {msg}"));
            false
        }
    }
}

pub fn dismiss() {
    let Some((live, checklist)) = current() else { return };
    live.dismissed.set(true);
    if let Some(key) = LOADED.with(|l| l.borrow().as_ref().map(|l| l.storage_key.clone())) {
        LocalStore::open().set(&format!("{key}:dismissed"), "1");
    }
    sdk::emit(EventKind::ChecklistDismissed { checklist_id: checklist.id.clone() });
}

fn current() -> Option<(Live, Arc<Checklist>)> {
    LOADED.with(|l| l.borrow().as_ref().map(|l| (l.live, l.live.checklist.get_value())))
}

/// Emits an event per newly completed item (with the rule that fired), and
/// `checklist_completed` when that was the last one.
fn announce(checklist: &Checklist, newly: Vec<String>) {
    if newly.is_empty() {
        return;
    }
    let Some((live, _)) = current() else { return };
    let progress = live.progress.get_untracked();
    for item in &newly {
        let rule = progress.completed.get(item).map(|c| c.trigger.to_string()).unwrap_or_default();
        sdk::emit(EventKind::ChecklistItemCompleted {
            checklist_id: checklist.id.clone(),
            item_id: item.clone(),
            rule: rule.clone(),
        });
        bus::dispatch_json(
            "checklist:item_completed",
            &serde_json::json!({ "checklistId": checklist.id, "itemId": item, "rule": rule }),
        );
    }
    if progress.is_complete(checklist) {
        sdk::emit(EventKind::ChecklistCompleted { checklist_id: checklist.id.clone() });
        bus::dispatch_json("checklist:completed", &serde_json::json!({ "checklistId": checklist.id }));
    }
}

fn persist() {
    LOADED.with(|l| {
        if let Some(l) = l.borrow().as_ref() {
            if let Ok(json) = serde_json::to_string(&l.live.progress.get_untracked()) {
                LocalStore::open().set(&l.storage_key, &json);
            }
        }
    });
}
