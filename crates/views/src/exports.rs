//! What the widget calls: mount the dock into the shadow root it made, then
//! push it the checklist, its progress, the help content, the page path and
//! the panel to open. Each call is a whole state, never a diff, so the dock
//! cannot drift from the widget that owns the rules.

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;
use serde::Deserialize;
use touchpoint_core::checklist::{ChecklistSet, Contributor, Progress};
use touchpoint_core::i18n::Catalog;
use wasm_bindgen::prelude::*;

use crate::checklist_panel::Live;
use crate::dock::{Dock, DockView, Open};
use crate::host::{self, Host};

thread_local! {
    static DOCK: RefCell<Option<(Box<dyn Any>, Dock)>> = const { RefCell::new(None) };
    static LOCALES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn dock() -> Option<Dock> {
    DOCK.with(|d| d.borrow().as_ref().map(|(_, d)| *d))
}

#[derive(Deserialize)]
struct Init {
    /// The `messages` option as given to `init` (validated by the widget).
    #[serde(default)]
    messages: serde_json::Value,
    /// The locale the widget chose.
    locale: String,
    /// The reader's languages, most preferred first (for checklist texts).
    locales: Vec<String>,
    path: String,
}

/// Mounts the dock into `container` (inside the widget's shadow root).
#[wasm_bindgen]
pub fn mount(host: Host, container: web_sys::HtmlElement, init: &str) -> Result<(), String> {
    let init: Init = serde_json::from_str(init).map_err(|e| format!("dock: unreadable start state: {e}"))?;
    let catalog = if init.messages.is_null() {
        Catalog::default()
    } else {
        Catalog::from_value(&init.messages).map_err(|e| format!("dock: messages: {}", e.join("; ")))?
    };
    host::set(host, catalog.messages(&init.locale));
    LOCALES.with(|l| *l.borrow_mut() = init.locales);
    if let Some((_, old)) = DOCK.with(|d| d.borrow_mut().take()) {
        old.open.set(Open::Nothing);
    }
    let dock = Dock {
        open: RwSignal::new(Open::Nothing),
        checklist: RwSignal::new(None),
        help: RwSignal::new(None),
        segment: RwSignal::new(None),
        path: RwSignal::new(init.path),
        query: RwSignal::new(String::new()),
        quiet: StoredValue::new(false),
    };
    let view = leptos::mount::mount_to(container, move || view! { <DockView dock /> });
    DOCK.with(|d| *d.borrow_mut() = Some((Box::new(view), dock)));
    Ok(())
}

/// Shows checklist `id` of the set `set` (the collector's `/v1/checklists` text), chosen for `segment`.
#[wasm_bindgen]
pub fn checklist(set: &str, id: &str, segment: &str) -> Result<(), String> {
    let dock = dock().ok_or("dock: not mounted")?;
    let locales = LOCALES.with(|l| l.borrow().clone());
    let set = ChecklistSet::from_json_in(set, &locales).map_err(|e| e.to_string())?;
    let checklist = set.checklist(id).ok_or_else(|| format!("dock: no checklist {id:?} in the set"))?.clone();
    let live = Live {
        checklist: StoredValue::new(Arc::new(checklist)),
        progress: RwSignal::new(Progress::default()),
        dismissed: RwSignal::new(false),
        by: RwSignal::new(BTreeMap::new()),
    };
    dock.segment.set(Some(segment.to_owned()));
    dock.checklist.set(Some(live));
    Ok(())
}

#[derive(Deserialize)]
struct State {
    progress: Progress,
    dismissed: bool,
    #[serde(default)]
    by: BTreeMap<String, Vec<Contributor>>,
}

/// The checklist's progress now: `{ progress, dismissed, by }`.
#[wasm_bindgen]
pub fn progress(state: &str) -> Result<(), String> {
    let state: State = serde_json::from_str(state).map_err(|e| format!("dock: unreadable progress: {e}"))?;
    let Some(live) = dock().and_then(|d| d.checklist.get_untracked()) else { return Ok(()) };
    // Most track() calls change nothing the panel shows: only a change re-renders.
    live.progress.maybe_update(|p| {
        let changed = *p != state.progress;
        *p = state.progress;
        changed
    });
    if live.dismissed.get_untracked() != state.dismissed {
        live.dismissed.set(state.dismissed);
    }
    if live.by.with_untracked(|b| *b != state.by) {
        live.by.set(state.by);
    }
    Ok(())
}

/// Removes the checklist (after `reset()`).
#[wasm_bindgen(js_name = clearChecklist)]
pub fn clear_checklist() {
    if let Some(dock) = dock() {
        dock.checklist.set(None);
        dock.segment.set(None);
    }
}

/// Adds the help launcher and panel (the collector's `/v1/help` text).
#[wasm_bindgen]
pub fn help(text: &str) -> Result<(), String> {
    let dock = dock().ok_or("dock: not mounted")?;
    let content = crate::help::parse(text)?;
    dock.help.set(Some(StoredValue::new(content)));
    Ok(())
}

/// Opens `panel` (`"checklist"`, `"help"`, `"nothing"` closes); `quiet`: a
/// nudge's opening, which leaves focus where the user has it.
#[wasm_bindgen]
pub fn open(panel: &str, quiet: bool) {
    let Some(dock) = dock() else { return };
    let panel = match panel {
        "checklist" => Open::Checklist,
        "help" => Open::Help,
        _ => Open::Nothing,
    };
    if panel != dock.open.get_untracked() {
        dock.quiet.set_value(quiet);
        dock.open.set(panel);
    }
}

/// Sets the help search box (`openHelp(query)`).
#[wasm_bindgen]
pub fn query(q: String) {
    if let Some(dock) = dock() {
        dock.query.set(q);
    }
}

/// The page's path after client-side navigation (help suggestions follow it).
#[wasm_bindgen]
pub fn path(p: String) {
    if let Some(dock) = dock() {
        dock.path.set(p);
    }
}

/// The dock's name for a panel, as the widget spells it.
pub fn panel_name(open: Open) -> &'static str {
    match open {
        Open::Checklist => "checklist",
        Open::Help => "help",
        Open::Nothing => "nothing",
    }
}
