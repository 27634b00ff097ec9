//! The dock's panels, in plain DOM like the card: the checklist's and the
//! help's, at most one open, above the launchers. `launchers` alone decides
//! which is open and tells the panels; a panel closed from inside (its close
//! button) tells the launchers through `signal`, and they record it, so an open or close never
//! comes back here. Each panel keeps its elements and updates them in place
//! (focus and the search box's caret survive an update).
//!
//! One listener per event kind on the panels' container: a control names
//! what it does in `data-tp-act` (and its item in `data-tp-id`). Handlers
//! work on the panels with the state borrowed, and call out (events, the
//! launchers) only after letting go of it: a call out may come back in.

use std::cell::RefCell;
use std::sync::Arc;

use touchpoint_core::checklist::Checklist;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::checklist_panel::ChecklistView;
use crate::help::Content;
use crate::help_panel::{self, HelpView};
use crate::host;
use crate::page;
use crate::signal::{self, Change, Panel};

pub(crate) struct Panels {
    root: web_sys::HtmlElement,
    pub open: Panel,
    /// The user's segment (from the checklist choice), for help suggestions.
    pub segment: Option<String>,
    /// The page path, updated on client-side navigation.
    pub path: String,
    pub checklist: Option<ChecklistView>,
    _listeners: [Closure<dyn FnMut(web_sys::Event)>; 3],
}

thread_local! {
    static PANELS: RefCell<Option<Panels>> = const { RefCell::new(None) };
}

/// Runs `f` on the mounted panels; `None` if there are none.
pub(crate) fn with<R>(f: impl FnOnce(&mut Panels) -> R) -> Option<R> {
    PANELS.with(|p| p.borrow_mut().as_mut().map(f))
}

/// Mounts the panels into `container` (the dock's, inside the widget's shadow root).
pub fn mount(container: web_sys::HtmlElement, path: String) -> Result<(), String> {
    let listen = |kind: &str, f: fn(web_sys::Event)| -> Result<Closure<dyn FnMut(web_sys::Event)>, String> {
        let cb = Closure::<dyn FnMut(web_sys::Event)>::new(f);
        container
            .add_event_listener_with_callback(kind, cb.as_ref().unchecked_ref())
            .map_err(|e| page::describe(&e))?;
        Ok(cb)
    };
    let listeners = [listen("click", on_click)?, listen("input", on_input)?, listen("submit", on_submit)?];
    let panels =
        Panels { root: container, open: Panel::Nothing, segment: None, path, checklist: None, _listeners: listeners };
    PANELS.with(|p| *p.borrow_mut() = Some(panels));
    Ok(())
}

/// Shows `checklist`, chosen for `segment`, in place of any before it.
pub fn checklist(checklist: Arc<Checklist>, segment: &str) -> Result<(), String> {
    let view = ChecklistView::build(checklist).map_err(|e| page::describe(&e))?;
    with(|p| {
        if let Some(old) = p.checklist.take() {
            old.section.remove();
        }
        // The checklist's panel comes first, as its launcher does.
        let _ = p.root.prepend_with_node_1(&view.section);
        p.segment = Some(segment.to_owned());
        p.checklist = Some(view);
        p.refresh_help();
    })
    .ok_or("the panels are not mounted")?;
    progress();
    Ok(())
}

/// The checklist's progress, dismissal or contributors changed.
pub fn progress() {
    let Some(state) = crate::checklist::panel_state() else { return };
    with(|p| {
        let open = p.open == Panel::Checklist;
        if let Some(c) = &mut p.checklist {
            c.show(state, open);
        }
    });
}

/// Removes the checklist (after `reset()`).
pub fn clear_checklist() {
    with(|p| {
        if let Some(old) = p.checklist.take() {
            old.section.remove();
        }
        p.segment = None;
        p.refresh_help();
    });
}

/// Adds the help panel.
pub fn help(content: Arc<Content>) -> Result<(), String> {
    let view = HelpView::build(content).map_err(|e| page::describe(&e))?;
    with(|p| {
        let _ = p.root.append_child(&view.section);
        view.set_open(p.open == Panel::Help);
        help_panel::replace(Some(view));
        p.refresh_help();
    })
    .ok_or("the panels are not mounted")?;
    Ok(())
}

/// Opens `panel` (`Nothing` closes) as `launchers` decided; `quiet`: a
/// nudge's opening, which leaves focus where the user has it.
pub fn open(panel: Panel, quiet: bool) {
    let Some(before) = with(|p| std::mem::replace(&mut p.open, panel)) else { return };
    if before == panel {
        return;
    }
    with(|p| {
        if let Some(c) = &mut p.checklist {
            c.set_open(panel == Panel::Checklist);
        }
        help_panel::show(panel == Panel::Help);
    });
    if panel == Panel::Help {
        host::emit(touchpoint_protocol::EventKind::HelpOpened {});
    }
    if !quiet {
        move_focus(before, panel);
    }
}

/// The user closed the open panel from inside it.
pub(crate) fn close_from_inside() {
    let before = with(|p| p.open).unwrap_or(Panel::Nothing);
    open(Panel::Nothing, false);
    if before != Panel::Nothing {
        signal::send(Change::PanelClosed);
    }
}

/// Sets the help search box (`openHelp(query)`).
pub fn query(q: String) {
    help_panel::query(q);
}

/// The page's path after client-side navigation (help suggestions follow it).
pub fn path(path: String) {
    with(|p| {
        p.path = path;
        p.refresh_help();
    });
}

impl Panels {
    /// Help's suggestions follow the page and the segment.
    fn refresh_help(&mut self) {
        help_panel::follow(&self.path, self.segment.as_deref());
    }
}

/// Focus moves into a panel when it opens, and back to its launcher when it
/// closes — but only if focus was in the dock: a panel closed by the host's
/// code must not pull focus out of the page.
fn move_focus(before: Panel, now: Panel) {
    let (selector, only_if_inside) = match (before, now) {
        (_, Panel::Checklist) => (".tp-cl-panel .tp-cl-toggle", false),
        (_, Panel::Help) => ("#tp-help-q, .tp-help-panel .tp-back", false),
        (Panel::Checklist, Panel::Nothing) => (".tp-cl-launcher", true),
        (Panel::Help, Panel::Nothing) => (".tp-help-launcher", true),
        (Panel::Nothing, Panel::Nothing) => return,
    };
    // The launchers are in the panels' shadow root too, outside the panels.
    if let Some(root) = with(|p| p.root.clone()) {
        page::focus_soon(root.into(), selector, only_if_inside);
    }
}

fn on_click(ev: web_sys::Event) {
    let Some(act) = crate::dom::closest_attribute(ev.target(), "data-tp-act") else { return };
    let id = crate::dom::closest_attribute(ev.target(), "data-tp-id").unwrap_or_default();
    match act.as_str() {
        "close" => close_from_inside(),
        "dismiss" => {
            close_from_inside();
            crate::checklist::dismiss();
        }
        "toggle" => {
            with(|p| p.checklist.as_mut().map(|c| c.toggle(&id)));
        }
        "cta" => {
            let name = crate::dom::closest_attribute(ev.target(), "data-tp-name").unwrap_or_default();
            host::cta(&name, &id);
        }
        other => help_panel::act(other, &id),
    }
}

fn on_input(ev: web_sys::Event) {
    let Some(target) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else { return };
    help_panel::typed(&target);
}

fn on_submit(ev: web_sys::Event) {
    ev.prevent_default();
    help_panel::submit();
}
