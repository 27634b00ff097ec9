//! The dock: the checklist and help launchers ("Get started k/n", "Help",
//! plain DOM) and which panel is open. The panels themselves (`panels`) are
//! built the first time one opens, so a page whose users never open one
//! never builds them. This module alone decides what is open; the panels
//! tell it when the user closes one from inside.
//!
//! Targeting asks what is open and what could be opened synchronously, so
//! those answers come from this state.

use std::cell::RefCell;
use std::sync::Arc;

use touchpoint_core::checklist::Checklist;

use wasm_bindgen::prelude::*;
use web_sys::Element;

use crate::help::Content;
use crate::signal::{self, Change};
use crate::{host, page, panels};

pub use crate::signal::Panel;

struct ChecklistShown {
    checklist: Arc<Checklist>,
    segment: String,
}

/// The panels, built at the first opening.
#[derive(PartialEq)]
enum Panels {
    NotMounted,
    Mounted,
    /// Could not be mounted (said on the console); not retried on this page.
    Failed,
}

/// The dock's own elements.
struct Drawn {
    /// Marked `data-survey` while a survey is on screen: where the card and
    /// the dock cannot sit side by side, the dock steps aside (`dock.css`).
    dock: Element,
    /// Where the panels module mounts, above the launchers.
    panels: web_sys::HtmlElement,
    checklist: Element,
    pill: Element,
    help: Element,
    _listeners: [Closure<dyn FnMut(web_sys::Event)>; 2],
}

struct State {
    panels: Panels,
    /// `None` until there is something to launch; `Err` when it could not be drawn.
    drawn: Option<Result<Drawn, ()>>,
    checklist: Option<ChecklistShown>,
    help: Option<Arc<Content>>,
    open: Panel,
    query: Option<String>,
    /// Panels whose content is on its way (help, the person's checklist).
    loading: Vec<Panel>,
    /// A panel the host asked for from code while its content was on its
    /// way: it opens when the content arrives (a call right after load must
    /// not depend on how fast the collector answers).
    wanted: Option<Panel>,
}

thread_local! {
    static STATE: RefCell<State> = const { RefCell::new(State {
        panels: Panels::NotMounted,
        drawn: None,
        checklist: None,
        help: None,
        open: Panel::Nothing,
        query: None,
        loading: Vec::new(),
        wanted: None,
    }) };
}

/// Whether the panels are mounted.
fn mounted_now() -> bool {
    STATE.with(|s| s.borrow().panels == Panels::Mounted)
}

fn report(what: &str, result: Result<(), String>) {
    if let Err(e) = result {
        page::error(&format!("{what}: {e}"));
    }
}

/// Shows (or, for a new user, replaces) `checklist`, chosen for `segment`.
pub fn show_checklist(checklist: Arc<Checklist>, segment: String) {
    if mounted_now() {
        report("checklist", panels::checklist(checklist.clone(), &segment));
    }
    STATE.with(|s| s.borrow_mut().checklist = Some(ChecklistShown { checklist, segment }));
    checklist_changed();
    open_if_wanted(Panel::Checklist);
}

/// The checklist's progress or dismissal changed: the launcher's count, and
/// the panel if it is there.
pub fn checklist_changed() {
    if mounted_now() {
        panels::progress();
    }
    paint();
}

/// Removes the checklist (after `reset()`), until one loads for the new visitor.
pub fn clear_checklist() {
    STATE.with(|s| s.borrow_mut().checklist = None);
    if mounted_now() {
        panels::clear_checklist();
    }
    if open_panel_now() == Some(Panel::Checklist) {
        open_panel(Panel::Nothing);
    }
    paint();
}

/// Adds the help launcher and panel.
pub fn show_help(content: Arc<Content>) {
    if mounted_now() {
        report("help", panels::help(content.clone()));
    }
    STATE.with(|s| s.borrow_mut().help = Some(content));
    paint();
    open_if_wanted(Panel::Help);
}

/// `panel`'s content is being fetched (`true`) or has been, with or without
/// something to show (`false`). A host's ask for a panel that turned out to
/// have nothing is answered on the console.
pub fn loading(panel: Panel, now: bool) {
    let unanswered = STATE.with(|s| {
        let mut s = s.borrow_mut();
        // One entry per fetch in flight (a change of person starts another).
        if now {
            s.loading.push(panel);
        } else if let Some(i) = s.loading.iter().position(|p| *p == panel) {
            s.loading.remove(i);
        }
        let settled = !s.loading.contains(&panel);
        (settled && s.wanted == Some(panel)).then(|| s.wanted.take())
    });
    if unanswered.is_some() && !available(panel) {
        page::error(&format!("the {} panel was asked for, but there is nothing in it to show", panel.name()));
    }
}

fn open_if_wanted(panel: Panel) {
    let wanted = STATE.with(|s| {
        let mut s = s.borrow_mut();
        (s.wanted == Some(panel)).then(|| s.wanted.take())
    });
    if wanted.is_some() {
        set_open(panel, false);
    }
}

/// The host's `showChecklist()` / `openHelp()`: opens `panel` now, or as soon
/// as its content arrives if it is still on its way (`true` either way);
/// `false` when there is nothing to show.
pub fn ask(panel: Panel) -> bool {
    STATE.with(|s| s.borrow_mut().wanted = None);
    if available(panel) {
        return set_open(panel, false);
    }
    let on_its_way = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let on_its_way = s.loading.contains(&panel);
        if on_its_way {
            s.wanted = Some(panel);
        }
        on_its_way
    });
    on_its_way
}

fn available(panel: Panel) -> bool {
    STATE.with(|s| {
        let s = s.borrow();
        match panel {
            Panel::Checklist => s.checklist.is_some() && !crate::checklist::dismissed(),
            Panel::Help => s.help.is_some(),
            Panel::Nothing => true,
        }
    })
}

/// Opens a dock panel (`Nothing` closes); `false` when it has nothing to show.
pub fn open_panel(panel: Panel) -> bool {
    set_open(panel, false)
}

fn set_open(panel: Panel, quiet: bool) -> bool {
    if !available(panel) {
        return false;
    }
    record_open(panel);
    if mounted_now() {
        panels::open(panel, quiet);
    } else if panel != Panel::Nothing {
        // Opened at mount (quietly if this is a nudge's).
        mount(quiet);
    }
    paint();
    true
}

/// Records which panel is open. A panel that closes frees the screen:
/// something may be waiting for it.
fn record_open(now: Panel) {
    let was = STATE.with(|s| std::mem::replace(&mut s.borrow_mut().open, now));
    if now == Panel::Nothing && was != Panel::Nothing {
        page::set_timeout(0, || signal::send(Change::Decide));
    }
}

/// The panel open now, if one is.
pub fn open_panel_now() -> Option<Panel> {
    Some(STATE.with(|s| s.borrow().open)).filter(|p| *p != Panel::Nothing)
}

/// Whether a nudge could open `panel`: a checklist the user has not
/// finished or dismissed; help content.
pub fn can_nudge(panel: Panel) -> bool {
    match panel {
        Panel::Checklist => available(panel) && !crate::checklist::is_complete(),
        Panel::Help => available(panel),
        Panel::Nothing => false,
    }
}

/// Opens `panel` for a nudge: like [`open_panel`], without taking focus.
pub fn nudge_open(panel: Panel) -> bool {
    set_open(panel, true)
}

pub fn open_help(query: Option<String>) -> bool {
    let opened = ask(Panel::Help);
    if let (true, Some(q)) = (opened, query) {
        if mounted_now() {
            panels::query(q.clone());
        }
        STATE.with(|s| s.borrow_mut().query = Some(q));
    }
    opened
}

/// Mounts the panels, once, the first time one opens.
fn mount(quiet: bool) {
    let container = STATE.with(|s| {
        let s = s.borrow();
        match (&s.panels, &s.drawn) {
            (Panels::NotMounted, Some(Ok(d))) => Some(Some(d.panels.clone())),
            (Panels::NotMounted, _) => Some(None),
            _ => None,
        }
    });
    let Some(container) = container else { return };
    // The dock could not be drawn (already said on the console): nothing to mount into.
    let Some(container) = container else { return failed("the checklist and help have no dock to open in".into()) };
    match panels::mount(container, crate::route::current_path()) {
        Ok(()) => mounted(quiet),
        Err(e) => failed(format!("the checklist and help could not be shown: {e}")),
    }
}

fn failed(message: String) {
    page::error(&message);
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.panels = Panels::Failed;
        s.open = Panel::Nothing;
    });
    paint();
}

/// A survey came on screen or left it.
pub fn survey_changed() {
    paint();
}

/// Draws the dock (once) and brings the launchers up to date with the state.
fn paint() {
    let fresh = STATE.with(|s| s.borrow().drawn.is_none());
    let has_something = STATE.with(|s| s.borrow().checklist.is_some() || s.borrow().help.is_some());
    if fresh && has_something {
        let drawn = draw().map_err(|e| page::error(&format!("could not add the help and checklist dock: {e}")));
        STATE.with(|s| s.borrow_mut().drawn = Some(drawn));
    }
    STATE.with(|s| {
        let s = s.borrow();
        let Some(Ok(d)) = &s.drawn else { return };
        let _ = d.dock.toggle_attribute_with_force("data-survey", host::survey_on_screen().is_some());
        let usable = s.panels != Panels::Failed;
        let checklist = s.checklist.is_some() && usable && !crate::checklist::dismissed();
        let _ = d.checklist.toggle_attribute_with_force("hidden", !checklist);
        let _ = d.help.toggle_attribute_with_force("hidden", !(s.help.is_some() && usable));
        let expanded = |p| if s.open == p { "true" } else { "false" };
        let _ = d.checklist.set_attribute("aria-expanded", expanded(Panel::Checklist));
        let _ = d.help.set_attribute("aria-expanded", expanded(Panel::Help));
        if let Some((done, total)) = crate::checklist::done_of() {
            d.pill.set_text_content(Some(&format!("{done}/{total}")));
        }
    });
}

/// The dock's host, its panels' mount point and the two launchers (hidden until there is something to launch).
fn draw() -> Result<Drawn, String> {
    use crate::dom::{el, text_el, with};
    let (_host, container) = host::mount("dock")?;
    let built = (|| -> crate::dom::Result<Drawn> {
        let panels: web_sys::HtmlElement = el("div", "tp-dock-panels", &[])?.unchecked_into();
        let pill = el("span", "tp-cl-pill", &[])?;
        let checklist = with(
            el(
                "button",
                "tp-launcher tp-cl-launcher",
                &[("type", "button"), ("hidden", ""), ("data-tp-open", "checklist")],
            )?,
            &[&text_el("span", "", &[], &host::t("checklist.get_started"))?, &pill],
        )?;
        let help = with(
            el(
                "button",
                "tp-launcher tp-help-launcher",
                &[("type", "button"), ("hidden", ""), ("data-tp-open", "help")],
            )?,
            &[&text_el("span", "tp-help-icon", &[("aria-hidden", "true")], "?")?],
        )?;
        help.append_with_str_1(&host::t("help.launcher"))?;
        let launchers = with(el("div", "tp-dock-launchers", &[])?, &[&checklist, &help])?;
        let dock = with(el("div", "tp-dock", &[])?, &[&panels, &launchers])?;
        let on_click = Closure::<dyn FnMut(web_sys::Event)>::new(|ev: web_sys::Event| {
            let Some(which) = crate::dom::closest_attribute(ev.target(), "data-tp-open") else { return };
            let panel = if which == "checklist" { Panel::Checklist } else { Panel::Help };
            open_panel(if open_panel_now() == Some(panel) { Panel::Nothing } else { panel });
        });
        // Escape closes the open panel, from inside it or from its launcher.
        let on_key = Closure::<dyn FnMut(web_sys::Event)>::new(|ev: web_sys::Event| {
            if ev.dyn_ref::<web_sys::KeyboardEvent>().is_some_and(|k| k.key() == "Escape") && open_panel_now().is_some()
            {
                open_panel(Panel::Nothing);
            }
        });
        launchers.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref())?;
        dock.add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref())?;
        container.append_child(&dock)?;
        Ok(Drawn { dock, panels, checklist, pill, help, _listeners: [on_click, on_key] })
    })();
    built.map_err(|e| page::describe(&e))
}

/// Hands the mounted panels everything they should show, then follows the page's path for them.
fn mounted(quiet: bool) {
    let (checklist, help, open, query) = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.panels = Panels::Mounted;
        let c = s.checklist.as_ref().map(|c| (c.checklist.clone(), c.segment.clone()));
        (c, s.help.clone(), s.open, s.query.clone())
    });
    if let Some((checklist, segment)) = checklist {
        report("checklist", panels::checklist(checklist, &segment));
    }
    if let Some(h) = help {
        report("help", panels::help(h));
    }
    if open != Panel::Nothing {
        panels::open(open, quiet);
    }
    if let Some(q) = query {
        panels::query(q);
    }
    crate::route::on_change(panels::path);
}

/// The user closed the open panel from inside it (its close button).
pub fn panel_changed(now: Panel) {
    record_open(now);
    paint();
}
