//! The checklist and help dock, seen from the widget.
//!
//! The dock's views are the second wasm module (`crates/views`, Leptos). This
//! side owns what the dock shows — which checklist, its progress, the help
//! text, which panel is open — and loads the module the first time there is
//! something to show (the checklist and help loads themselves wait for the
//! first survey). Until it is mounted, state is kept here and handed over
//! whole when it is; after that every change is pushed as it happens. The
//! dock calls back through the `views*` exports below.
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

struct State {
    /// `pkg/index.js`'s `(container, init) => Promise<module>`: imports the
    /// dock module, instantiates it and mounts it into `container`.
    loader: Option<js_sys::Function>,
    /// What `mount` needs besides the path: `{ messages, locale, locales }`.
    init: serde_json::Value,
    module: Module,
    host: Option<Element>,
    checklist: Option<ChecklistShown>,
    /// `{ progress, dismissed, by }` as last sent.
    progress: Option<String>,
    help: Option<String>,
    open: Panel,
    query: Option<String>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        loader: None,
        init: serde_json::Value::Null,
        module: Module::NotLoaded,
        host: None,
        checklist: None,
        progress: None,
        help: None,
        open: Panel::Nothing,
        query: None,
    });
}

/// Called by `boot` with the loader `pkg/index.js` passed and the strings' source.
pub fn set_loader(loader: Option<js_sys::Function>, init: serde_json::Value) {
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
    load();
}

/// The checklist's progress, `{ progress, dismissed, by }`.
pub fn checklist_progress(state: String) {
    if let Some(v) = views() {
        report("checklist", v.progress(&state));
    }
    STATE.with(|s| s.borrow_mut().progress = Some(state));
}

/// Removes the checklist (after `reset()`), until one loads for the new visitor.
pub fn clear_checklist() {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.checklist = None;
        s.progress = None;
    });
    if let Some(v) = views() {
        v.clear_checklist();
    }
}

/// Adds the help launcher and panel (`text`: the collector's `/v1/help`).
pub fn show_help(text: String) {
    if let Some(v) = views() {
        report("help", v.help(&text));
    }
    STATE.with(|s| s.borrow_mut().help = Some(text));
    load();
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
    let was = STATE.with(|s| std::mem::replace(&mut s.borrow_mut().open, panel));
    if let Some(v) = views() {
        v.open(panel.name(), quiet);
    }
    if panel == Panel::Nothing && was != Panel::Nothing {
        freed();
    }
    true
}

/// A panel closed: the screen is free, and something may be waiting for it.
fn freed() {
    browser::set_timeout(0, crate::targeting::decide);
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

/// Loads and mounts the dock module, once, the first time it has something to show.
fn load() {
    let loader = STATE.with(|s| {
        let mut s = s.borrow_mut();
        if !matches!(s.module, Module::NotLoaded) {
            return None;
        }
        s.module = Module::Loading;
        Some(s.loader.clone())
    });
    let Some(loader) = loader else { return };
    let Some(loader) = loader else {
        return failed("the page loaded the widget without its dock loader (pkg/index.js)".into());
    };
    let (host, container) = match shadow_host("dock", Corner::Dock) {
        Ok(made) => made,
        Err(e) => return failed(format!("could not add the help and checklist dock: {e}")),
    };
    let mut init = STATE.with(|s| s.borrow().init.clone());
    init["path"] = crate::route::current_path().into();
    let promise = loader.call2(&JsValue::NULL, &container, &init.to_string().into());
    STATE.with(|s| s.borrow_mut().host = Some(host));
    wasm_bindgen_futures::spawn_local(async move {
        let module = match promise.map(js_sys::Promise::from) {
            Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await,
            Err(e) => Err(e),
        };
        match module {
            Ok(m) => mounted(m.unchecked_into()),
            Err(e) => failed(format!("the checklist and help could not be loaded: {}", browser::describe(&e))),
        }
    });
}

fn failed(message: String) {
    browser::error(&message);
    let host = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.module = Module::Failed;
        s.host.take()
    });
    if let Some(h) = host {
        h.remove();
    }
}

/// Hands the mounted module everything it should show, then follows the page's path for it.
fn mounted(views: Views) {
    let (checklist, progress, help, open, query) = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.module = Module::Ready(views.clone());
        let c = s.checklist.as_ref().map(|c| (c.set.clone(), c.id.clone(), c.segment.clone()));
        (c, s.progress.clone(), s.help.clone(), s.open, s.query.clone())
    });
    if let Some((set, id, segment)) = checklist {
        report("checklist", views.checklist(&set, &id, &segment));
    }
    if let Some(p) = progress {
        report("checklist", views.progress(&p));
    }
    if let Some(h) = help {
        report("help", views.help(&h));
    }
    if open != Panel::Nothing {
        views.open(open.name(), false);
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
    let was = STATE.with(|s| std::mem::replace(&mut s.borrow_mut().open, now));
    if now == Panel::Nothing && was != Panel::Nothing {
        freed();
    }
}
