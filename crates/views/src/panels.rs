//! The panels (Leptos) as the launchers drive them: mount into the dock's
//! container, then set the checklist, its progress, the help content, the
//! page path and the panel to open. Each call is a whole state, never a diff.

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;
use serde::Deserialize;
use touchpoint_core::checklist::{ChecklistSet, Contributor, Progress};

use crate::checklist_panel::Live;
use crate::dock::{Dock, DockView, Open};

thread_local! {
    static DOCK: RefCell<Option<(Box<dyn Any>, Dock)>> = const { RefCell::new(None) };
}

fn dock() -> Option<Dock> {
    DOCK.with(|d| d.borrow().as_ref().map(|(_, d)| *d))
}

/// Mounts the dock into `container` (inside the widget's shadow root).
pub fn mount(container: web_sys::HtmlElement, path: String) -> Result<(), String> {
    if let Some((_, old)) = DOCK.with(|d| d.borrow_mut().take()) {
        old.open.set(Open::Nothing);
    }
    let dock = Dock {
        open: RwSignal::new(Open::Nothing),
        checklist: RwSignal::new(None),
        help: RwSignal::new(None),
        segment: RwSignal::new(None),
        path: RwSignal::new(path),
        query: RwSignal::new(String::new()),
        quiet: StoredValue::new(false),
    };
    let view = leptos::mount::mount_to(container, move || view! { <DockView dock /> });
    DOCK.with(|d| *d.borrow_mut() = Some((Box::new(view), dock)));
    Ok(())
}

/// Shows checklist `id` of the set `set` (the collector's `/v1/checklists` text), chosen for `segment`.
pub fn checklist(set: &str, id: &str, segment: &str) -> Result<(), String> {
    let dock = dock().ok_or("dock: not mounted")?;
    let locales = crate::context::locales();
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
pub fn clear_checklist() {
    if let Some(dock) = dock() {
        dock.checklist.set(None);
        dock.segment.set(None);
    }
}

/// Adds the help launcher and panel (the collector's `/v1/help` text).
pub fn help(text: &str) -> Result<(), String> {
    let dock = dock().ok_or("dock: not mounted")?;
    let content = crate::help::parse(text)?;
    dock.help.set(Some(StoredValue::new(content)));
    Ok(())
}

/// Opens `panel` (`"checklist"`, `"help"`, `"nothing"` closes); `quiet`: a
/// nudge's opening, which leaves focus where the user has it.
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
pub fn query(q: String) {
    if let Some(dock) = dock() {
        dock.query.set(q);
    }
}

/// The page's path after client-side navigation (help suggestions follow it).
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
