//! The checklist and help dock, seen from the widget.
//!
//! This side draws the launchers ("Get started k/n", "Help") and owns what
//! the panels show — which checklist, the help text, which panel is open;
//! the progress is `checklist`'s, read from there. The panels are the second wasm module (`crates/views`,
//! Leptos), loaded the first time a panel opens (a click, `showChecklist`,
//! `openHelp`, a nudge); its bytes are fetched and compiled off the main
//! thread as soon as the launchers show, so that first opening is quick and
//! a page whose users never open a panel never runs it. Until it is mounted,
//! state is kept here and handed over whole; after that every change is
//! pushed as it happens. The panels call back through the `views*` exports.
//!
//! Targeting asks what is open and what could be opened synchronously, so
//! those answers come from this side's state, never from the module.

use std::cell::RefCell;

use touchpoint_protocol::EventKind;
use wasm_bindgen::prelude::*;
use web_sys::Element;

use super::{shadow_host, Corner};
use crate::{browser, bus, sdk};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Panel {
    Nothing,
    Checklist,
    Help,
}

impl Panel {
    fn name(self) -> &'static str {
        match self {
            Panel::Nothing => "nothing",
            Panel::Checklist => "checklist",
            Panel::Help => "help",
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// `pkg/index.js`'s loader of the dock module.
    #[derive(Clone)]
    type Loader;
    /// Fetches and compiles the module (off the main thread), without running it.
    #[wasm_bindgen(method)]
    fn prefetch(this: &Loader);
    /// Imports, instantiates and mounts it into `container`: a `Promise` of its exports.
    #[wasm_bindgen(method, catch)]
    fn load(this: &Loader, container: &web_sys::HtmlElement, init: &str) -> Result<js_sys::Promise, JsValue>;

    /// The dock module's exports (`crates/views/src/exports.rs`), once mounted.
    #[derive(Clone)]
    type Views;
    #[wasm_bindgen(method, catch)]
    fn checklist(this: &Views, set: &str, id: &str, segment: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn progress(this: &Views, state: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, js_name = clearChecklist)]
    fn clear_checklist(this: &Views);
    #[wasm_bindgen(method, catch)]
    fn help(this: &Views, text: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    fn open(this: &Views, panel: &str, quiet: bool);
    #[wasm_bindgen(method)]
    fn query(this: &Views, q: &str);
    #[wasm_bindgen(method)]
    fn path(this: &Views, p: &str);
}

struct ChecklistShown {
    /// The collector's `/v1/checklists` text; the dock validates its own copy.
    set: String,
    id: String,
    segment: String,
}

enum Module {
    NotLoaded,
    Loading,
    Ready(Views),
    /// It could not be loaded (said on the console); not retried on this page.
    Failed,
}

/// The dock's own elements.
struct Drawn {
    /// Where the panels module mounts, above the launchers.
    panels: web_sys::HtmlElement,
    checklist: Element,
    pill: Element,
    help: Element,
    _listeners: [Closure<dyn FnMut(web_sys::Event)>; 2],
}

struct State {
    loader: Option<Loader>,
    /// What `mount` needs besides the path: `{ messages, locale, locales }`.
    init: serde_json::Value,
    module: Module,
    /// `None` until there is something to launch; `Err` when it could not be drawn.
    drawn: Option<Result<Drawn, ()>>,
    checklist: Option<ChecklistShown>,
    help: Option<String>,
    open: Panel,
    query: Option<String>,
}

thread_local! {
    static STATE: RefCell<State> = const { RefCell::new(State {
        loader: None,
        init: serde_json::Value::Null,
        module: Module::NotLoaded,
        drawn: None,
        checklist: None,
        help: None,
        open: Panel::Nothing,
        query: None,
    }) };
}

/// Called by `boot` with the loader `pkg/index.js` passed and the strings' source.
pub fn set_loader(loader: JsValue, init: serde_json::Value) {
    let loader = (!loader.is_undefined() && !loader.is_null()).then(|| loader.unchecked_into());
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.loader = loader;
        s.init = init;
    });
}

/// The module, if mounted.
fn views() -> Option<Views> {
    STATE.with(|s| match &s.borrow().module {
        Module::Ready(v) => Some(v.clone()),
        _ => None,
    })
}

fn report(what: &str, result: Result<(), JsValue>) {
    if let Err(e) = result {
        browser::error(&format!("{what}: {}", browser::describe(&e)));
    }
}

/// Shows (or, for a new user, replaces) checklist `id` of `set`, chosen for `segment`.
pub fn show_checklist(set: String, id: String, segment: String) {
    if let Some(v) = views() {
        report("checklist", v.checklist(&set, &id, &segment));
    }
    STATE.with(|s| s.borrow_mut().checklist = Some(ChecklistShown { set, id, segment }));
    checklist_changed();
}

/// The checklist's progress or dismissal changed: the launcher's count, and
/// the panel if it is there (before, nothing is serialized for it: it reads
/// the state whole when it mounts).
pub fn checklist_changed() {
    if let Some(v) = views() {
        push_progress(&v);
    }
    paint();
}

fn push_progress(views: &Views) {
    if let Some(state) = crate::checklist::shown() {
        report("checklist", views.progress(&state));
    }
}

/// Removes the checklist (after `reset()`), until one loads for the new visitor.
pub fn clear_checklist() {
    STATE.with(|s| s.borrow_mut().checklist = None);
    if let Some(v) = views() {
        v.clear_checklist();
    }
    if open_panel_now() == Some(Panel::Checklist) {
        open_panel(Panel::Nothing);
    }
    paint();
}

/// Adds the help launcher and panel (`text`: the collector's `/v1/help`).
pub fn show_help(text: String) {
    if let Some(v) = views() {
        report("help", v.help(&text));
    }
    STATE.with(|s| s.borrow_mut().help = Some(text));
    paint();
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
    match views() {
        Some(v) => v.open(panel.name(), quiet),
        // Opened at mount (quietly if this is a nudge's).
        None if panel != Panel::Nothing => load(quiet),
        None => {}
    }
    paint();
    true
}

/// Records which panel is open. A panel that closes frees the screen:
/// something may be waiting for it.
fn record_open(now: Panel) {
    let was = STATE.with(|s| std::mem::replace(&mut s.borrow_mut().open, now));
    if now == Panel::Nothing && was != Panel::Nothing {
        browser::set_timeout(0, crate::targeting::decide);
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
    let opened = open_panel(Panel::Help);
    if let (true, Some(q)) = (opened, query) {
        if let Some(v) = views() {
            v.query(&q);
        }
        STATE.with(|s| s.borrow_mut().query = Some(q));
    }
    opened
}

/// Loads and mounts the dock module, once, the first time a panel opens.
fn load(quiet: bool) {
    let start = STATE.with(|s| {
        let mut s = s.borrow_mut();
        if !matches!(s.module, Module::NotLoaded) {
            return None;
        }
        s.module = Module::Loading;
        let panels = match &s.drawn {
            Some(Ok(d)) => Some(d.panels.clone()),
            _ => None,
        };
        Some((s.loader.take(), panels))
    });
    let Some((loader, panels)) = start else { return };
    let Some(loader) = loader else {
        return failed("the page loaded the widget without its dock loader (pkg/index.js)".into());
    };
    // The dock could not be drawn (already said on the console): nothing to mount into.
    let Some(panels) = panels else { return failed("the checklist and help have no dock to open in".into()) };
    let mut init = STATE.with(|s| s.borrow().init.clone());
    init["path"] = crate::route::current_path().into();
    let promise = loader.load(&panels, &init.to_string());
    wasm_bindgen_futures::spawn_local(async move {
        let module = match promise {
            Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await,
            Err(e) => Err(e),
        };
        match module {
            Ok(m) => mounted(m.unchecked_into(), quiet),
            Err(e) => failed(format!("the checklist and help could not be loaded: {}", browser::describe(&e))),
        }
    });
}

fn failed(message: String) {
    browser::error(&message);
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.module = Module::Failed;
        s.open = Panel::Nothing;
    });
    paint();
}

/// Draws the dock (once) and brings the launchers up to date with the state.
fn paint() {
    let fresh = STATE.with(|s| s.borrow().drawn.is_none());
    let has_something = STATE.with(|s| s.borrow().checklist.is_some() || s.borrow().help.is_some());
    if fresh && has_something {
        let drawn = draw().map_err(|e| browser::error(&format!("could not add the help and checklist dock: {e}")));
        let loader = STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.drawn = Some(drawn);
            s.loader.clone()
        });
        // The panels' bytes, fetched and compiled now, off the main thread: the first opening is quick.
        if let Some(l) = loader {
            l.prefetch();
        }
    }
    STATE.with(|s| {
        let s = s.borrow();
        let Some(Ok(d)) = &s.drawn else { return };
        let usable = !matches!(s.module, Module::Failed);
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
    use super::dom::{el, text_el, with};
    let (_host, container) = shadow_host("dock", Corner::Dock)?;
    let built = (|| -> super::dom::Result<Drawn> {
        let panels: web_sys::HtmlElement = el("div", "tp-dock-panels", &[])?.unchecked_into();
        let pill = el("span", "tp-cl-pill", &[])?;
        let checklist = with(
            el(
                "button",
                "tp-launcher tp-cl-launcher",
                &[("type", "button"), ("hidden", ""), ("data-tp-open", "checklist")],
            )?,
            &[&text_el("span", "", &[], &super::t("checklist.get_started"))?, &pill],
        )?;
        let help = with(
            el(
                "button",
                "tp-launcher tp-help-launcher",
                &[("type", "button"), ("hidden", ""), ("data-tp-open", "help")],
            )?,
            &[&text_el("span", "tp-help-icon", &[("aria-hidden", "true")], "?")?],
        )?;
        help.append_with_str_1(&super::t("help.launcher"))?;
        let launchers = with(el("div", "tp-dock-launchers", &[])?, &[&checklist, &help])?;
        let dock = with(el("div", "tp-dock", &[])?, &[&panels, &launchers])?;
        let on_click = Closure::<dyn FnMut(web_sys::Event)>::new(|ev: web_sys::Event| {
            let Some(which) = super::dom::closest_attribute(ev.target(), "data-tp-open") else { return };
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
        Ok(Drawn { panels, checklist, pill, help, _listeners: [on_click, on_key] })
    })();
    built.map_err(|e| browser::describe(&e))
}

/// Hands the mounted module everything it should show, then follows the page's path for it.
fn mounted(views: Views, quiet: bool) {
    let (checklist, help, open, query) = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.module = Module::Ready(views.clone());
        let c = s.checklist.as_ref().map(|c| (c.set.clone(), c.id.clone(), c.segment.clone()));
        (c, s.help.clone(), s.open, s.query.clone())
    });
    if let Some((set, id, segment)) = checklist {
        report("checklist", views.checklist(&set, &id, &segment));
        push_progress(&views);
    }
    if let Some(h) = help {
        report("help", views.help(&h));
    }
    if open != Panel::Nothing {
        views.open(open.name(), quiet);
    }
    if let Some(q) = query {
        views.query(&q);
    }
    crate::route::on_change(move |path| views.path(&path));
}

// The dock's events, stamped and queued like any other.

#[wasm_bindgen(js_name = viewsHelpOpened)]
pub fn views_help_opened() {
    sdk::emit(EventKind::HelpOpened {});
}

#[wasm_bindgen(js_name = viewsHelpSearched)]
pub fn views_help_searched(query: String, result_count: u32) {
    sdk::emit(EventKind::HelpSearched { query, result_count });
}

#[wasm_bindgen(js_name = viewsHelpArticleViewed)]
pub fn views_help_article_viewed(article_id: String) {
    sdk::emit(EventKind::HelpArticleViewed { article_id });
}

#[wasm_bindgen(js_name = viewsHelpArticleRated)]
pub fn views_help_article_rated(article_id: String, helpful: bool) {
    sdk::emit(EventKind::HelpArticleRated { article_id, helpful });
}

#[wasm_bindgen(js_name = viewsHelpCaseCreated)]
pub fn views_help_case_created(
    message: String,
    email: Option<String>,
    last_article: Option<String>,
    last_failed_search: Option<String>,
) {
    sdk::emit(EventKind::HelpCaseCreated { message, email, last_article, last_failed_search });
}

/// The user dismissed the checklist in its panel.
#[wasm_bindgen(js_name = viewsDismiss)]
pub fn views_dismiss() {
    crate::checklist::dismiss();
}

/// A checklist call to action for the host (`on('cta', …)`).
#[wasm_bindgen(js_name = viewsCta)]
pub fn views_cta(name: &str, item_id: &str) {
    bus::dispatch_json("cta", &serde_json::json!({ "name": name, "itemId": item_id }));
}

/// The open panel changed in the dock (a launcher, a close button, Escape).
#[wasm_bindgen(js_name = viewsPanel)]
pub fn views_panel(open: &str) {
    let now = match open {
        "checklist" => Panel::Checklist,
        "help" => Panel::Help,
        _ => Panel::Nothing,
    };
    record_open(now);
    paint();
}
