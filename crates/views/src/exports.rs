//! What this module exports: `start` and the calls the first module makes
//! when something changes (its `Module` block in `src/rest.rs`), and the API
//! calls it serves to the page (`showChecklist`, `openHelp`, `complete`,
//! `setBusy`, `why`, `debug`, `replayDeadLetters`), which `pkg/index.js`
//! binds once it runs. Each
//! API call first has the first module hand over the events recorded
//! before it, so it sees them.

use std::cell::Cell;

use serde::Deserialize;
use touchpoint_core::i18n::Catalog;
use touchpoint_protocol::Props;
use wasm_bindgen::prelude::*;

use crate::context::{self, PersonJson};
use crate::host::{self, Host};
use crate::launchers::{self, Panel};
use crate::targeting::Seen;
use crate::{checklist, page, route, targeting};

#[derive(Deserialize)]
struct Init {
    key: String,
    endpoint: String,
    /// The `messages` option as given to `init`.
    #[serde(default)]
    messages: serde_json::Value,
    /// The locale the first module chose.
    locale: String,
    /// The reader's languages, most preferred first.
    locales: Vec<String>,
    /// When the first module booted (targeting's delays count from it).
    loaded_at_ms: i64,
    person: PersonJson,
}

thread_local! {
    /// A load of the person's checklist and targeting is scheduled.
    static PERSON_PENDING: Cell<bool> = const { Cell::new(false) };
}

/// Starts the module: `host` is the first module's exports, `init` its start state.
#[wasm_bindgen]
pub fn start(host: Host, init: &str) -> Result<(), String> {
    let init: Init = serde_json::from_str(init).map_err(|e| format!("unreadable start state: {e}"))?;
    let catalog = if init.messages.is_null() {
        Catalog::default()
    } else {
        Catalog::from_value(&init.messages).unwrap_or_else(|problems| {
            for p in problems {
                page::error(&format!("init: {p}"));
            }
            Catalog::default()
        })
    };
    crate::signal::install(crate::app::react);
    host::set(host, catalog.messages(&init.locale));
    context::set(init.key, init.endpoint, init.locales, init.person);
    targeting::page_loaded(init.loaded_at_ms);
    let debug_asked = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .is_some_and(|q| q.split(['?', '&']).any(|p| p == "touchpoint_debug=1"));
    if debug_asked {
        if let Err(e) = crate::debug::enable(true) {
            page::error(&format!("debug: {e}"));
        }
    }
    load_help();
    schedule_person_load();
    Ok(())
}

/// Fetches the help content and adds the help launcher, in the background.
fn load_help() {
    let Some((endpoint, key)) = context::project() else { return };
    launchers::loading(Panel::Help, true);
    wasm_bindgen_futures::spawn_local(async move {
        match crate::help_content::load(&endpoint, &key).await {
            Ok(Some(text)) => match crate::help::parse(&text) {
                Ok(content) => launchers::show_help(content),
                Err(e) => page::error(&format!("help: {e}")),
            },
            Ok(None) => {}
            Err(e) => page::error(&format!("help: {e}")),
        }
        launchers::loading(Panel::Help, false);
    });
}

/// Loads the checklist and the targeting config for the current person in
/// a fresh task, once, so an `identify` right after `init` is taken into account.
fn schedule_person_load() {
    if PERSON_PENDING.replace(true) {
        return;
    }
    page::set_timeout(0, || {
        PERSON_PENDING.set(false);
        let (Some((endpoint, key)), Some(person)) = (context::project(), context::person()) else { return };
        let traits = context::traits();
        let (e, k, p) = (endpoint.clone(), key.clone(), person.clone());
        launchers::loading(Panel::Checklist, true);
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = checklist::load(e, k, p, traits).await {
                page::error(&format!("checklist: {e}"));
            }
            launchers::loading(Panel::Checklist, false);
        });
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = targeting::load(endpoint, key, person).await {
                page::error(&format!("targeting: {e}"));
            }
        });
    });
}

/// An event the first module recorded (`recorded`), or a `track()` made
/// while opted out (`false`: not recorded, but the checklist follows it).
/// Read through `JSON.parse` for the few fields this module uses: the first
/// module wrote the event, so a whole-event decoder here would only check it again.
#[wasm_bindgen]
pub fn observe(event: &str, recorded: bool) {
    let Ok(event) = js_sys::JSON::parse(event) else {
        return page::error("an event could not be read here: it is not JSON");
    };
    let field = |name: &str| js_sys::Reflect::get(&event, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    let text = |name: &str| field(name).as_string().unwrap_or_default();
    let ts = field("ts").as_f64().unwrap_or_default() as i64;
    let kind = text("type");
    let seen = match kind.as_str() {
        "track" => {
            let name = text("name");
            let props: Props = js_sys::JSON::stringify(&field("props"))
                .ok()
                .and_then(|p| p.as_string())
                .and_then(|p| serde_json::from_str(&p).ok())
                .unwrap_or_default();
            checklist::observe(&name, &props, ts);
            if recorded {
                targeting::observe(ts, Seen::Track(&name));
            }
            return;
        }
        "survey_shown" => ("survey", text("survey_id")),
        "nudge_shown" => ("nudge", text("nudge_id")),
        _ => ("", String::new()),
    };
    if recorded {
        targeting::observe(ts, if seen.0.is_empty() { Seen::Other } else { Seen::Shown(seen.0, &seen.1) });
    }
    if kind == "survey_shown" {
        launchers::survey_changed();
    }
}

/// The person changed: their checklist and targeting load again. Until
/// then nothing of the person before shows, and what happens next counts
/// for the new one only (their own local copies, at once).
#[wasm_bindgen(js_name = personChanged)]
pub fn person_changed(person: &str) {
    let person: PersonJson = match serde_json::from_str(person) {
        Ok(p) => p,
        Err(e) => return page::error(&format!("the person could not be read here: {e}")),
    };
    let before = context::set_person(person);
    let now = context::person();
    match (now, context::project_key()) {
        (Some(now), Some(key)) if before.as_ref() != Some(&now) => {
            checklist::clear();
            launchers::clear_checklist();
            targeting::start(&key, &now);
            schedule_person_load();
        }
        _ => targeting::decide(),
    }
}

#[wasm_bindgen(js_name = surveyClosed)]
pub fn survey_closed() {
    launchers::survey_changed();
    // The screen is free: another experience may be due (cooldowns permitting).
    targeting::decide();
}

#[wasm_bindgen(js_name = hidePanels)]
pub fn hide_panels() {
    launchers::ask(Panel::Nothing);
}

#[wasm_bindgen]
pub fn navigated() {
    route::notify();
}

/// Opens the onboarding checklist panel; `false` if none is loaded.
#[wasm_bindgen(js_name = showChecklist)]
pub fn show_checklist() -> bool {
    host::settle();
    launchers::ask(Panel::Checklist)
}

/// Opens the help panel, optionally searching for `query`; `false` if there is no help content.
#[wasm_bindgen(js_name = openHelp)]
pub fn open_help(query: JsValue) -> bool {
    host::settle();
    launchers::open_help(query.as_string())
}

/// Marks checklist item `itemId` complete (for items the host knows are done,
/// or whose rule is `"manual"`). `false` (with the reason on the console) for
/// an unknown item or when no checklist is loaded.
#[wasm_bindgen]
pub fn complete(item_id: JsValue) -> bool {
    host::settle();
    match item_id.as_string().filter(|i| !i.trim().is_empty()) {
        Some(id) => checklist::complete(&id),
        None => {
            page::error("complete: the argument must be a checklist item id string");
            false
        }
    }
}

/// Tells Touchpoint the page is busy (a checkout, a modal of its own): no
/// survey or nudge claims attention until `setBusy(false)`.
#[wasm_bindgen(js_name = setBusy)]
pub fn set_busy(busy: JsValue) {
    host::settle();
    match busy.as_bool() {
        Some(b) => targeting::set_busy(b),
        None => page::error("setBusy: the argument must be true or false"),
    }
}

/// Why experience `id` (a survey or nudge of the remote config) is or is not
/// showing: `{ id, kind, eligible, show_at_ms }` or `{ id, kind, eligible:
/// false, rule, reason, data }`.
#[wasm_bindgen]
pub fn why(id: JsValue) -> JsValue {
    host::settle();
    let Some(id) = id.as_string() else {
        page::error("why: the argument must be an experience id string");
        return JsValue::UNDEFINED;
    };
    page::to_js(&targeting::why(&id)).unwrap_or(JsValue::UNDEFINED)
}

/// Puts the dead letters (events the collector rejected by themselves,
/// which `debug()` lists) back in the queue to be sent again; how many.
/// Nothing while this browser is opted out.
#[wasm_bindgen(js_name = replayDeadLetters)]
pub fn replay_dead_letters() -> u32 {
    host::settle();
    crate::debug::replay() as u32
}

/// Shows (`true`) or removes the debug overlay listing every experience and its verdict.
#[wasm_bindgen]
pub fn debug(on: JsValue) {
    host::settle();
    let on = on.as_bool().unwrap_or(true);
    if let Err(e) = crate::debug::enable(on) {
        page::error(&format!("debug: {e}"));
    }
    if on {
        targeting::decide();
    }
}
