//! The JS-facing API (`boot`, `identify`, `group`, `track`, `showSurvey`, `on`, `off`)
//! and the one piece of global state behind it.
//!
//! The page calls these through `pkg/index.js`, which queues calls made
//! before the wasm is ready. None of them throws: bad arguments and failures
//! are reported on the console, naming what is wrong.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use touchpoint_core::queue::Policy;
use touchpoint_core::survey::Survey;
use touchpoint_protocol::{Event, EventKind, Props};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::browser::{self, LocalStore};
use crate::outbox::{Outbox, PushError, Pushed};
use crate::report::{report, Code, Console};
use crate::{bus, checklist, ui};

/// What `init({...})` accepts (and the loader's `data-*` attributes, which
/// arrive as strings). Read by hand from the JSON value, not derived: serde
/// through wasm-bindgen only looks up the fields it knows, so a typo such as
/// `flushIntervl` would pass unnoticed, and a wrong value could not name its option.
struct Options {
    /// The project's public ingest key.
    key: String,
    /// Base URL of the collector, e.g. `https://touchpoint.example.com`.
    endpoint: String,
    /// Wait this long to batch events before sending (default 1000).
    flush_interval_ms: Option<u32>,
    /// Abandon and retry a send not answered within this (default 10000).
    request_timeout_ms: Option<u32>,
    /// Keep at most this many unsent events; the oldest go first (default 1000).
    max_queued_events: Option<u32>,
    /// Treat Global Privacy Control / Do Not Track as an opt-out (default false).
    respect_privacy_signals: bool,
    /// Colours, font, radius, position, colour scheme (an object, or JSON text from `data-theme`).
    theme: Option<ui::Theme>,
    /// Force a locale (e.g. "de"); otherwise the browser's languages decide.
    locale: Option<String>,
    /// Strings per locale, overriding the built-in ones (an object, or JSON text from `data-messages`).
    messages: touchpoint_core::i18n::Catalog,
    /// The same as given, for the dock module, which builds its own copy.
    messages_json: serde_json::Value,
}

/// Every option `Options::parse` reads (its match arms), for the message naming an unknown one.
const OPTION_NAMES: &[&str] = &[
    "key",
    "endpoint",
    "flushIntervalMs",
    "requestTimeoutMs",
    "maxQueuedEvents",
    "respectPrivacySignals",
    "theme",
    "locale",
    "messages",
];

impl Options {
    /// Every problem, each naming its option.
    fn parse(v: serde_json::Value) -> Result<Options, Vec<String>> {
        use serde_json::Value;
        let Value::Object(map) = v else {
            return Err(vec!["expected an object like { key, endpoint }".into()]);
        };
        let mut errors = Vec::new();
        let mut o = Options {
            key: String::new(),
            endpoint: String::new(),
            flush_interval_ms: None,
            request_timeout_ms: None,
            max_queued_events: None,
            respect_privacy_signals: false,
            theme: None,
            locale: None,
            messages: Default::default(),
            messages_json: Value::Null,
        };
        let text = |k: &str, v: &Value, errors: &mut Vec<String>| match v.as_str().map(str::trim) {
            Some(s) if !s.is_empty() => s.to_owned(),
            _ => {
                errors.push(format!("{k} must be a non-empty string, got {v}"));
                String::new()
            }
        };
        let number = |k: &str, v: &Value, errors: &mut Vec<String>| {
            let n = match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            match n.and_then(|n| u32::try_from(n).ok()) {
                Some(n) => Some(n),
                None => {
                    errors.push(format!("{k}: {v} is not a whole number of 0 or more"));
                    None
                }
            }
        };
        for (k, v) in &map {
            match k.as_str() {
                "key" => o.key = text(k, v, &mut errors),
                "endpoint" => o.endpoint = text(k, v, &mut errors),
                "flushIntervalMs" => o.flush_interval_ms = number(k, v, &mut errors),
                "requestTimeoutMs" => o.request_timeout_ms = number(k, v, &mut errors),
                "maxQueuedEvents" => o.max_queued_events = number(k, v, &mut errors),
                "respectPrivacySignals" => match v {
                    Value::Bool(b) => o.respect_privacy_signals = *b,
                    Value::String(s) if s == "true" || s == "false" => o.respect_privacy_signals = s == "true",
                    other => errors.push(format!("respectPrivacySignals: expected true or false, got {other}")),
                },
                "theme" => {
                    let value = match v {
                        Value::String(t) => {
                            serde_json::from_str(t).map_err(|e| format!("theme is not valid JSON: {e}"))
                        }
                        other => Ok(other.clone()),
                    };
                    match value.and_then(|v| serde_json::from_value(v).map_err(|e| format!("theme: {e}"))) {
                        Ok(t) => o.theme = Some(t),
                        Err(e) => errors.push(e),
                    }
                }
                "locale" => o.locale = Some(text(k, v, &mut errors)),
                "messages" => {
                    let value = match v {
                        Value::String(t) => {
                            serde_json::from_str(t).map_err(|e| vec![format!("messages is not valid JSON: {e}")])
                        }
                        other => Ok(other.clone()),
                    };
                    match value.and_then(|v| touchpoint_core::i18n::Catalog::from_value(&v).map(|c| (c, v))) {
                        Ok((c, v)) => {
                            o.messages = c;
                            o.messages_json = v;
                        }
                        Err(es) => errors.extend(es),
                    }
                }
                other => errors.push(format!("unknown option {other:?}; known options: {}", OPTION_NAMES.join(", "))),
            }
        }
        for (name, value) in [("key", &o.key), ("endpoint", &o.endpoint)] {
            if !map.contains_key(name) && value.is_empty() {
                errors.push(format!("{name} is required"));
            }
        }
        if errors.is_empty() {
            Ok(o)
        } else {
            Err(errors)
        }
    }
}

struct Sdk {
    key: String,
    endpoint: String,
    anonymous_id: String,
    user_id: Option<String>,
    /// From `identify(id, traits, { userHash })`: the host backend's proof
    /// for `user_id` (projects that verify identities need it).
    user_hash: Option<String>,
    outbox: Outbox,
    /// Events dropped because the queue was full, since this page loaded.
    dropped: usize,
    /// Dropped in this task and not reported yet (see `note_dropped`).
    unreported_drops: Vec<String>,
    /// Traits from `identify` (persisted), for choosing the checklist segment.
    traits: Props,
    /// A (re)load of the person's checklist and targeting is scheduled.
    person_pending: bool,
    /// `optOut()` was called, or a privacy signal is honoured: nothing is collected.
    opted_out: bool,
    /// The browser sends Global Privacy Control / Do Not Track and `respectPrivacySignals` is on.
    privacy_signal: bool,
    /// Validated definitions, fetched once per page.
    surveys: HashMap<String, Arc<Survey>>,
    /// The reader's languages, most preferred first: the `locale` option, or the browser's.
    locales: Vec<String>,
}

thread_local! {
    static SDK: RefCell<Option<Sdk>> = const { RefCell::new(None) };
    /// This task's `track()` calls, waiting for [`settle_tracks`].
    static PENDING: RefCell<Vec<PendingTrack>> = const { RefCell::new(Vec::new()) };
    /// Survey definitions the loader started fetching alongside the wasm
    /// (`{ id: Promise<Response> }`), each used once by `showSurvey(id)`.
    static PREFETCHED: RefCell<Option<js_sys::Object>> = const { RefCell::new(None) };
    /// While the page's first survey is on its way, the background loads
    /// (help, checklist, targeting) wait here so they do not compete with it
    /// for the main thread. `None`: nothing is held.
    static HELD: RefCell<Option<Vec<Background>>> = const { RefCell::new(None) };
}

fn storage_key(project: &str, what: &str) -> String {
    format!("touchpoint:{project}:{what}")
}

/// Work that may wait until the first survey is on screen.
#[derive(Clone, Copy, PartialEq)]
enum Background {
    PersonLoad,
    Help,
}

/// Longest the background loads wait for the first survey (a slow or failing
/// definition must not keep the checklist and help away).
const HOLD_AT_MOST_MS: i32 = 3000;

/// `true` if `work` was held back until the first survey is up (it then runs once).
fn held(work: Background) -> bool {
    HELD.with(|h| match h.borrow_mut().as_mut() {
        Some(list) => {
            if !list.contains(&work) {
                list.push(work);
            }
            true
        }
        None => false,
    })
}

/// Runs what was held back; from then on nothing is.
fn release_held() {
    for work in HELD.with(|h| h.borrow_mut().take()).unwrap_or_default() {
        match work {
            Background::PersonLoad => schedule_person_load(),
            Background::Help => load_help(),
        }
    }
}

/// The loader's early fetch of survey `id`, if it made one (taken: used once).
fn take_prefetched(id: &str) -> Option<js_sys::Promise> {
    PREFETCHED.with(|p| {
        let p = p.borrow();
        let surveys = p.as_ref()?;
        let promise = js_sys::Reflect::get(surveys, &id.into()).ok()?.dyn_into::<js_sys::Promise>().ok()?;
        let _ = js_sys::Reflect::delete_property(surveys, &id.into());
        Some(promise)
    })
}

/// Starts the SDK. Called once by the loader; a second call is ignored with a warning.
/// `prefetched` is the loader's `{ surveyId: Promise<Response> }` for the
/// `showSurvey` calls queued before the wasm arrived (or `undefined`);
/// `views` is `pkg/index.js`'s loader of the dock module (`ui::set_loader`).
#[wasm_bindgen]
pub fn boot(options: JsValue, prefetched: JsValue, views: JsValue) -> bool {
    let parsed = browser::json_text(&options)
        .and_then(|text| {
            text.map_or(Ok(serde_json::Value::Null), |t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        })
        .map_err(|e| vec![format!("options could not be read as JSON: {e}")])
        .and_then(Options::parse);
    let options = match parsed {
        Ok(o) => o,
        Err(problems) => {
            for p in problems {
                browser::error(&format!("init: {p}"));
            }
            return false;
        }
    };
    if SDK.with(|s| s.borrow().is_some()) {
        browser::warn("init was called twice; keeping the first configuration");
        return false;
    }
    let store = LocalStore::open();
    let anon_key = storage_key(&options.key, "anonymous_id");
    let anonymous_id = store.get(&anon_key).filter(|id| looks_like_uuid(id)).unwrap_or_else(|| {
        let id = browser::uuid();
        if !store.set(&anon_key, &id) {
            browser::warn("localStorage is unavailable; this visitor gets a new anonymous id on every page load");
        }
        id
    });
    let user_id = store.get(&storage_key(&options.key, "user_id")).filter(|u| !u.is_empty());
    let user_hash = store.get(&storage_key(&options.key, "user_hash")).filter(|h| !h.is_empty());
    let defaults = Policy::default();
    let policy = Policy {
        flush_delay_ms: options.flush_interval_ms.unwrap_or(defaults.flush_delay_ms),
        request_timeout_ms: options.request_timeout_ms.unwrap_or(defaults.request_timeout_ms).max(100),
        max_queued: options.max_queued_events.map_or(defaults.max_queued, |n| n.max(1) as usize),
        ..defaults
    };
    ui::set_theme(options.theme.unwrap_or_default());
    let preferred = match &options.locale {
        Some(l) => vec![l.clone()],
        None => browser::languages(),
    };
    let locale = options.messages.choose(&preferred);
    ui::set_messages(options.messages.messages(&locale));
    let preferred = preferred.into_iter().chain(std::iter::once("en".to_owned())).collect::<Vec<_>>();
    ui::set_loader(
        views,
        serde_json::json!({ "messages": options.messages_json, "locale": locale, "locales": preferred }),
    );
    let endpoint = options.endpoint.trim_end_matches('/').to_owned();
    let outbox = Outbox::new(&endpoint, &options.key, policy);
    let privacy_signal = options.respect_privacy_signals && browser::privacy_signal();
    let opted_out = privacy_signal || store.get(&storage_key(&options.key, "opt_out")).is_some();
    let traits = store
        .get(&storage_key(&options.key, "traits"))
        .and_then(|t| serde_json::from_str::<Props>(&t).ok())
        .unwrap_or_default();
    SDK.with(|s| {
        *s.borrow_mut() = Some(Sdk {
            key: options.key,
            endpoint,
            anonymous_id,
            user_id,
            user_hash,
            outbox,
            dropped: 0,
            unreported_drops: Vec::new(),
            traits,
            person_pending: false,
            opted_out,
            privacy_signal,
            surveys: HashMap::new(),
            locales: preferred,
        })
    });
    crate::targeting::page_loaded();
    if web_sys::window()
        .and_then(|w| w.location().search().ok())
        .is_some_and(|q| q.split(['?', '&']).any(|p| p == "touchpoint_debug=1"))
    {
        if let Err(e) = crate::ui::debug::enable(true) {
            browser::error(&format!("debug: {e}"));
        }
    }
    if let Ok(surveys) = prefetched.dyn_into::<js_sys::Object>() {
        if js_sys::Object::keys(&surveys).length() > 0 {
            PREFETCHED.with(|p| *p.borrow_mut() = Some(surveys));
            HELD.with(|h| *h.borrow_mut() = Some(Vec::new()));
            browser::set_timeout(HOLD_AT_MOST_MS, release_held);
        }
    }
    schedule_person_load();
    load_help();
    true
}

/// Fetches the help content and adds the help launcher, in the background.
fn load_help() {
    if held(Background::Help) {
        return;
    }
    let Some((endpoint, key)) = SDK.with(|s| s.borrow().as_ref().map(|sdk| (sdk.endpoint.clone(), sdk.key.clone())))
    else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        match crate::help::load(&endpoint, &key).await {
            Ok(Some(text)) => ui::show_help(text),
            Ok(None) => {}
            Err(e) => browser::error(&format!("help: {e}")),
        }
    });
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Names the current user; later events carry `user_id`. `options.userHash`
/// is the host backend's HMAC of the user id, for projects that verify identities.
#[wasm_bindgen]
pub fn identify(user_id: JsValue, traits: JsValue, options: JsValue) {
    settle_tracks();
    let Some(user_id) = user_id.as_string().filter(|u| !u.trim().is_empty()) else {
        browser::error("identify: the first argument must be a non-empty string user id");
        return;
    };
    let Some(traits) = props("identify", "traits", traits) else { return };
    let Some(options) = props("identify", "options", options) else { return };
    let mut user_hash = None;
    for (name, value) in &options {
        match (name.as_str(), value) {
            ("userHash", serde_json::Value::String(h)) if !h.trim().is_empty() => user_hash = Some(h.trim().to_owned()),
            ("userHash", other) => {
                browser::error(&format!("identify: options.userHash must be a non-empty string, got {other}"));
                return;
            }
            (other, _) => {
                browser::error(&format!("identify: unknown option {other:?}; the only option is userHash"));
                return;
            }
        }
    }
    let changed = with_sdk("identify", |sdk| {
        let store = LocalStore::open();
        store.set(&storage_key(&sdk.key, "user_id"), &user_id);
        match &user_hash {
            Some(h) => store.set(&storage_key(&sdk.key, "user_hash"), h),
            None => {
                store.remove(&storage_key(&sdk.key, "user_hash"));
                true
            }
        };
        let mut merged = sdk.traits.clone();
        merged.extend(traits.clone());
        store.set(&storage_key(&sdk.key, "traits"), &serde_json::to_string(&merged).unwrap_or_default());
        let changed =
            sdk.user_id.as_deref() != Some(user_id.as_str()) || merged != sdk.traits || sdk.user_hash != user_hash;
        sdk.user_id = Some(user_id);
        sdk.user_hash = user_hash;
        sdk.traits = merged;
        changed
    });
    if let Some(changed) = changed {
        emit(EventKind::Identify { traits });
        if changed {
            schedule_person_load();
        }
    }
}

/// Ties the current user to an account (a customer of the host: plan, seats,
/// owner, …). Checklist items with `"scope": "account"` then count the
/// behaviors of everyone in that account; the collector assesses its health.
#[wasm_bindgen]
pub fn group(account_id: JsValue, traits: JsValue) {
    settle_tracks();
    let Some(account_id) = account_id.as_string().filter(|a| !a.trim().is_empty()) else {
        browser::error("group: the first argument must be a non-empty string account id");
        return;
    };
    let Some(traits) = props("group", "traits", traits) else { return };
    let changed = with_sdk("group", |sdk| {
        let key = storage_key(&sdk.key, "account_id");
        let store = LocalStore::open();
        // The account's traits, for checklist segments on `account.<trait>`.
        let traits_key = storage_key(&sdk.key, "account_traits");
        let mut merged: Props = match store.get(&key).as_deref() == Some(account_id.as_str()) {
            true => store.get(&traits_key).and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
            false => Props::new(),
        };
        merged.extend(traits.clone());
        let new_traits = serde_json::to_string(&merged).unwrap_or_default();
        let changed = store.get(&key).as_deref() != Some(account_id.as_str())
            || store.get(&traits_key).as_deref() != Some(new_traits.as_str());
        store.set(&key, &account_id);
        store.set(&traits_key, &new_traits);
        changed
    });
    if let Some(changed) = changed {
        emit(EventKind::Group { account_id, traits });
        if changed {
            schedule_person_load();
        }
    }
}

/// Records a host-defined behavior such as `imported_data`. Returns the
/// event's id (it is queued durably and sent once), or `undefined` if it was
/// refused (the reason is on the console and passed to `on('error')`).
///
/// The call itself only checks and stamps the event (id, time, identity,
/// page) and refuses an oversized one; parsing its properties, the
/// checklist's and targeting's rules and queueing it happen at the end of the
/// task (see [`settle_tracks`]), so a burst of calls stays cheap for the page.
#[wasm_bindgen(unchecked_return_type = "string | undefined")]
pub fn track(name: JsValue, properties: JsValue) -> JsValue {
    track_event(name, properties).map_or(JsValue::UNDEFINED, |id| browser::uuid_to_js(&id))
}

fn track_event(name: JsValue, properties: JsValue) -> Option<String> {
    let Some(name) = name.as_string().filter(|n| !n.trim().is_empty()) else {
        browser::error("track: the first argument must be a non-empty event name string");
        return None;
    };
    let props = props_json("track", "properties", properties)?;
    let stamped = with_sdk("track", |sdk| match sdk.opted_out {
        true => Err(name),
        false => Ok((stamp(sdk, EventKind::Track { name, props: Props::new() }), sdk.outbox.max_event_bytes())),
    })?;
    let (event, max) = match stamped {
        Ok(stamped) => stamped,
        Err(name) => {
            // Nothing is recorded, but the page's own checklist still follows what the user does.
            if let Ok(props) = serde_json::from_str::<Props>(&props) {
                checklist::observe(&name, &props);
            }
            return None;
        }
    };
    let bytes = event.track_json_len(props.len()).unwrap_or(usize::MAX);
    if bytes > max {
        too_large("track", bytes, max, event.id);
        return None;
    }
    let id = event.id.clone();
    let first = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        p.push(PendingTrack { event, props });
        p.len() == 1
    });
    if first && !browser::at_end_of_task(settle_tracks_at_end_of_task) {
        settle_tracks();
    }
    Some(id)
}

/// [`settle_tracks`], and the storage writes it leads to done at once (it is
/// the end of the task already): by the time the page's own code resumes
/// after this task's microtasks, the events are in storage.
fn settle_tracks_at_end_of_task() {
    settle_tracks();
    if let Some(outbox) = SDK.with(|s| s.borrow().as_ref().map(|sdk| sdk.outbox.clone())) {
        outbox.write_staged();
    }
    crate::targeting::persist_now();
}

/// A `track()` accepted and stamped, with its properties as the JSON text the
/// page's object gave.
struct PendingTrack {
    event: Event,
    props: String,
}

/// The deferred part of this task's `track()` calls, in call order: runs at
/// the end of the task, and before anything that must see them first: any
/// other event (so the queue keeps the order of the calls), and every other
/// call of the API (each reads what the tracks change: targeting's counts for
/// `why`, the checklist for `complete`, the visitor for `reset`, …).
fn settle_tracks() {
    for PendingTrack { mut event, props: text } in PENDING.with(|p| std::mem::take(&mut *p.borrow_mut())) {
        let EventKind::Track { name, props } = &mut event.kind else { continue };
        match serde_json::from_str::<Props>(&text) {
            Ok(parsed) => *props = parsed,
            // Only text JSON.stringify made and serde_json does not take (a lone surrogate).
            Err(e) => {
                browser::error(&format!("track({name:?}): its properties could not be read ({e}); it was not sent"));
                continue;
            }
        }
        checklist::observe(name, props);
        queue(event);
    }
}

/// Marks checklist item `itemId` complete (for items the host knows are done,
/// or whose rule is `"manual"`). `false` (with the reason on the console) for
/// an unknown item or when no checklist is loaded.
#[wasm_bindgen]
pub fn complete(item_id: JsValue) -> bool {
    settle_tracks();
    match item_id.as_string().filter(|i| !i.trim().is_empty()) {
        Some(id) => checklist::complete(&id),
        None => {
            browser::error("complete: the argument must be a checklist item id string");
            false
        }
    }
}

/// Loads the checklist and the targeting config for the current person in
/// a fresh task, once, so the `identify` that usually follows `init` is
/// taken into account.
fn schedule_person_load() {
    if held(Background::PersonLoad) {
        return;
    }
    let first =
        SDK.with(|s| s.borrow_mut().as_mut().is_some_and(|sdk| !std::mem::replace(&mut sdk.person_pending, true)));
    if !first {
        return;
    }
    browser::set_timeout(0, || {
        let args = SDK.with(|s| {
            let mut b = s.borrow_mut();
            let sdk = b.as_mut()?;
            sdk.person_pending = false;
            Some((sdk.endpoint.clone(), sdk.key.clone(), sdk.traits.clone()))
        });
        let Some((endpoint, key, traits)) = args else { return };
        let Some(person) = person() else { return };
        let (e, k, p) = (endpoint.clone(), key.clone(), person.clone());
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = checklist::load(e, k, p, traits).await {
                browser::error(&format!("checklist: {e}"));
            }
        });
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = crate::targeting::load(endpoint, key, person).await {
                browser::error(&format!("targeting: {e}"));
            }
        });
    });
}

/// Who the widget's per-person reads are about: the user once identified
/// (with their hash), else this browser.
fn person() -> Option<crate::targeting::Person> {
    SDK.with(|s| {
        let b = s.borrow();
        let sdk = b.as_ref()?;
        Some(match &sdk.user_id {
            Some(u) => crate::targeting::Person { param: "user_id", id: u.clone(), user_hash: sdk.user_hash.clone() },
            None => crate::targeting::Person { param: "anonymous_id", id: sdk.anonymous_id.clone(), user_hash: None },
        })
    })
}

/// What targeting needs from the SDK's state.
pub struct TargetingInputs {
    pub traits: Props,
    /// Sampling's stable key: the user id once identified, else the anonymous id.
    pub user_key: String,
    pub opted_out: bool,
}

pub fn targeting_inputs() -> Option<TargetingInputs> {
    SDK.with(|s| {
        let b = s.borrow();
        let sdk = b.as_ref()?;
        Some(TargetingInputs {
            traits: sdk.traits.clone(),
            user_key: sdk.user_id.clone().unwrap_or_else(|| sdk.anonymous_id.clone()),
            opted_out: sdk.opted_out,
        })
    })
}

/// Records a page view; single-page apps call it on route changes (pushState
/// and popstate are followed anyway, for help suggestions).
#[wasm_bindgen]
pub fn page(properties: JsValue) -> Option<String> {
    let props = props("page", "properties", properties)?;
    crate::route::notify();
    emit(EventKind::Page { props })
}

/// Forgets the user (call it on logout): a new anonymous id, no user id or
/// traits; widgets close and the checklist reloads for the anonymous visitor.
/// Events already queued still go out under the identity they were made with.
#[wasm_bindgen]
pub fn reset() {
    // This task's `track()`s belong to the visitor being forgotten.
    settle_tracks();
    let fresh = browser::uuid();
    let done = with_sdk("reset", |sdk| {
        let store = LocalStore::open();
        for what in ["user_id", "user_hash", "traits", "account_id", "account_traits"] {
            store.remove(&storage_key(&sdk.key, what));
        }
        store.set(&storage_key(&sdk.key, "anonymous_id"), &fresh);
        sdk.anonymous_id = fresh;
        sdk.user_id = None;
        sdk.user_hash = None;
        sdk.traits = Props::new();
    });
    if done.is_some() {
        ui::hide();
        ui::clear_checklist();
        schedule_person_load();
    }
}

/// Stops all collection for this browser until `optIn()`: no events are
/// created, unsent ones are deleted, and the widgets close. Remembered.
#[wasm_bindgen(js_name = optOut)]
pub fn opt_out() {
    // Made before the opt-out: queued, then deleted with the rest of the unsent events.
    settle_tracks();
    let outbox = with_sdk("optOut", |sdk| {
        LocalStore::open().set(&storage_key(&sdk.key, "opt_out"), "1");
        sdk.opted_out = true;
        sdk.outbox.clone()
    });
    if let Some(outbox) = outbox {
        outbox.clear();
        ui::hide();
    }
}

#[wasm_bindgen(js_name = optIn)]
pub fn opt_in() {
    with_sdk("optIn", |sdk| {
        LocalStore::open().remove(&storage_key(&sdk.key, "opt_out"));
        sdk.opted_out = sdk.privacy_signal;
        if sdk.privacy_signal {
            browser::warn("optIn: the browser sends Global Privacy Control or Do Not Track, which this page honours");
        }
    });
}

/// Opens the onboarding checklist panel; `false` if none is loaded.
#[wasm_bindgen(js_name = showChecklist)]
pub fn show_checklist() -> bool {
    settle_tracks();
    ui::open_panel(ui::Panel::Checklist)
}

/// Opens the help panel, optionally searching for `query`; `false` if there is no help content.
#[wasm_bindgen(js_name = openHelp)]
pub fn open_help(query: JsValue) -> bool {
    settle_tracks();
    ui::open_help(query.as_string())
}

/// Closes whatever Touchpoint shows (a survey on screen counts as dismissed).
#[wasm_bindgen]
pub fn hide() {
    settle_tracks();
    ui::hide();
}

/// Tells Touchpoint the page is busy (a checkout, a modal of its own): no
/// survey or nudge claims attention until `setBusy(false)`.
#[wasm_bindgen(js_name = setBusy)]
pub fn set_busy(busy: JsValue) {
    settle_tracks();
    match busy.as_bool() {
        Some(b) => crate::targeting::set_busy(b),
        None => browser::error("setBusy: the argument must be true or false"),
    }
}

/// Why experience `id` (a survey or nudge of the remote config) is or is not
/// showing: `{ id, kind, eligible, show_at_ms }` or `{ id, kind, eligible:
/// false, rule, reason, data }`.
#[wasm_bindgen]
pub fn why(id: JsValue) -> JsValue {
    settle_tracks();
    let Some(id) = id.as_string() else {
        browser::error("why: the argument must be an experience id string");
        return JsValue::UNDEFINED;
    };
    let answer = crate::targeting::why(&id);
    browser::to_js(&answer).unwrap_or(JsValue::UNDEFINED)
}

/// Shows (`true`) or removes the debug overlay listing every experience and its verdict.
#[wasm_bindgen]
pub fn debug(on: JsValue) {
    settle_tracks();
    let on = on.as_bool().unwrap_or(true);
    if let Err(e) = crate::ui::debug::enable(on) {
        browser::error(&format!("debug: {e}"));
    }
    if on {
        crate::targeting::decide();
    }
}

/// The reader's languages, most preferred first (for texts given per locale).
pub fn locales() -> Vec<String> {
    SDK.with(|s| s.borrow().as_ref().map(|sdk| sdk.locales.clone()).unwrap_or_default())
}

/// The project's public key, once booted.
pub fn project_key() -> Option<String> {
    SDK.with(|s| s.borrow().as_ref().map(|sdk| sdk.key.clone()))
}

/// Subscribes `listener` to `name` (today: `"error"`, with `{ code, message, eventIds }`).
#[wasm_bindgen]
pub fn on(name: JsValue, listener: JsValue) -> bool {
    match (name.as_string(), listener.dyn_into::<js_sys::Function>()) {
        (Some(name), Ok(f)) => bus::on(&name, f),
        _ => {
            browser::error("on: expected on(name: string, listener: function)");
            false
        }
    }
}

#[wasm_bindgen]
pub fn off(name: JsValue, listener: JsValue) {
    if let (Some(name), Ok(f)) = (name.as_string(), listener.dyn_into::<js_sys::Function>()) {
        bus::off(&name, &f);
    }
}

/// Fetches, validates and shows survey `id`, whatever the targeting says
/// (the page asked for it; the showing still counts for recontact periods).
/// Resolves to `true` once it is on screen, `false` (with the reason on the
/// console) otherwise.
#[wasm_bindgen(js_name = showSurvey)]
pub async fn show_survey(id: JsValue) -> bool {
    settle_tracks();
    let Some(id) = id.as_string().filter(|i| !i.trim().is_empty()) else {
        browser::error("showSurvey: the argument must be a survey id string");
        return false;
    };
    show_survey_by_id(&id).await
}

pub async fn show_survey_by_id(id: &str) -> bool {
    let shown = show_survey_now(id).await;
    // The first survey is up (or will not be): the background loads may go —
    // once its first frame is painted, so they cannot delay it.
    match shown {
        true => browser::after_next_paint(release_held),
        false => release_held(),
    }
    shown
}

async fn show_survey_now(id: &str) -> bool {
    if ui::survey_on_screen() {
        browser::warn(&format!("showSurvey({id:?}): another survey is on screen; not showing a second one"));
        return false;
    }
    let cached =
        with_sdk("showSurvey", |sdk| (sdk.surveys.get(id).cloned(), sdk.endpoint.clone(), sdk.locales.clone()));
    let Some((cached, endpoint, locales)) = cached else { return false };
    let survey = match cached {
        Some(s) => s,
        None => match fetch_survey(&endpoint, id, &locales).await {
            Ok(s) => {
                let s = Arc::new(s);
                with_sdk("showSurvey", |sdk| sdk.surveys.insert(id.to_owned(), s.clone()));
                s
            }
            Err(msg) => {
                browser::error(&format!("showSurvey({id:?}): {msg}"));
                return false;
            }
        },
    };
    // Checked again: another call may have shown one while we were fetching.
    if ui::survey_on_screen() {
        return false;
    }
    match ui::show_survey(survey) {
        Ok(()) => true,
        Err(msg) => {
            browser::error(&format!("showSurvey({id:?}): {msg}"));
            false
        }
    }
}

async fn fetch_survey(endpoint: &str, id: &str, locales: &[String]) -> Result<Survey, String> {
    let url = format!("{endpoint}/v1/surveys/{}", js_sys::encode_uri_component(id));
    let fail = |e: JsValue| format!("could not load {url}: {}", browser::describe(&e));
    let window = web_sys::window().ok_or("no window")?;
    let early = match take_prefetched(id) {
        Some(p) => JsFuture::from(p).await.ok(),
        None => None,
    };
    // A failed early fetch is made again here, so its error names this URL.
    let resp: web_sys::Response = match early {
        Some(r) => r,
        None => JsFuture::from(window.fetch_with_str(&url)).await.map_err(fail)?,
    }
    .into();
    let text = JsFuture::from(resp.text().map_err(fail)?).await.map_err(fail)?.as_string().unwrap_or_default();
    if !resp.ok() {
        return Err(format!("{url} answered HTTP {}: {text}", resp.status()));
    }
    Survey::from_json_in(&text, locales).map_err(|e| e.to_string())
}

/// Stamps `kind` with id, time, identity and page, and queues it durably.
/// Returns the event id, or `None` if it was refused.
pub fn emit(kind: EventKind) -> Option<String> {
    // Earlier `track()` calls of this task go into the queue first.
    settle_tracks();
    let event = with_sdk(kind.name(), |sdk| (!sdk.opted_out).then(|| stamp(sdk, kind)))??;
    queue(event)
}

/// Queues a stamped event and tells targeting about it.
fn queue(event: Event) -> Option<String> {
    let outbox = SDK.with(|s| s.borrow().as_ref().map(|sdk| sdk.outbox.clone()))?;
    crate::targeting::observe(event.ts, &event.kind);
    // Pushed outside the SDK borrow: reporting may reach host listeners.
    match outbox.push(&event) {
        Ok(Pushed { dropped }) => {
            if !dropped.is_empty() {
                note_dropped(dropped, &outbox);
            }
            Some(event.id)
        }
        Err(PushError::TooLarge { bytes, max }) => {
            too_large(event.kind.name(), bytes, max, event.id);
            None
        }
    }
}

fn too_large(caller: &str, bytes: usize, max: usize, id: String) {
    report(
        Code::EventTooLarge,
        &format!("{caller}: the event is {bytes} bytes, over the {max} bytes the collector accepts; it was not sent"),
        &[id],
        Console::Error,
    );
}

/// Events dropped because the queue was full are reported, and recorded as
/// one `client_error` event, once per task: a burst of calls into a full
/// queue would otherwise report (and queue a record) on every call.
fn note_dropped(dropped: Vec<String>, outbox: &Outbox) {
    let first = SDK.with(|s| {
        s.borrow_mut().as_mut().is_some_and(|sdk| {
            let first = sdk.unreported_drops.is_empty();
            sdk.unreported_drops.extend(dropped);
            first
        })
    });
    if !first {
        return;
    }
    let later = outbox.clone();
    if !browser::at_end_of_task(move || report_dropped(&later)) {
        report_dropped(outbox);
    }
}

fn report_dropped(outbox: &Outbox) {
    let Some(mut dropped) = SDK.with(|s| s.borrow_mut().as_mut().map(|sdk| std::mem::take(&mut sdk.unreported_drops)))
    else {
        return;
    };
    // Room for the record of the loss itself.
    dropped.extend(outbox.make_room());
    let Some((total, opted_out)) = SDK.with(|s| {
        s.borrow_mut().as_mut().map(|sdk| {
            sdk.dropped += dropped.len();
            (sdk.dropped, sdk.opted_out)
        })
    }) else {
        return;
    };
    let message = format!(
        "the event queue was full; dropped the {} oldest unsent events ({total} since this page loaded)",
        dropped.len()
    );
    report(Code::QueueOverflow, &message, &dropped, Console::Error);
    // Recorded as an event too, so the backend can count losses.
    let kind = EventKind::ClientError { code: "queue_overflow".into(), message, event_ids: dropped };
    if !opted_out {
        if let Some(e) = SDK.with(|s| s.borrow().as_ref().map(|sdk| stamp(sdk, kind))) {
            let _ = outbox.push(&e);
        }
    }
}

fn stamp(sdk: &Sdk, kind: EventKind) -> Event {
    Event {
        id: browser::uuid(),
        ts: browser::now_ms(),
        anonymous_id: sdk.anonymous_id.clone(),
        user_id: sdk.user_id.clone(),
        user_hash: sdk.user_id.as_ref().and(sdk.user_hash.clone()),
        url: browser::page_url(),
        kind,
    }
}

/// Runs `f` on the SDK, or reports that `init` has not run.
fn with_sdk<T>(caller: &str, f: impl FnOnce(&mut Sdk) -> T) -> Option<T> {
    let out = SDK.with(|s| s.borrow_mut().as_mut().map(f));
    if out.is_none() {
        browser::error(&format!("{caller}: Touchpoint is not initialised; call init({{ key, endpoint }}) first"));
    }
    out
}

/// `undefined`/`null` → no properties; a plain object → its JSON text; anything
/// else is refused with a message naming the argument.
fn props_json(caller: &str, what: &str, value: JsValue) -> Option<String> {
    if value.is_undefined() || value.is_null() {
        return Some("{}".to_owned());
    }
    match browser::json_text(&value) {
        // JSON.stringify writes an object, and only an object, starting with `{`.
        Ok(Some(text)) if text.starts_with('{') => Some(text),
        Ok(Some(other)) => {
            browser::error(&format!("{caller}: {what} must be an object, got {other}"));
            None
        }
        Ok(None) => {
            let kind = value.js_typeof().as_string().unwrap_or_default();
            browser::error(&format!("{caller}: {what} must be an object, got a {kind}"));
            None
        }
        Err(e) => {
            browser::error(&format!("{caller}: {what} could not be read as JSON: {e}"));
            None
        }
    }
}

/// [`props_json`], parsed.
fn props(caller: &str, what: &str, value: JsValue) -> Option<Props> {
    let text = props_json(caller, what, value)?;
    serde_json::from_str(&text)
        .map_err(|e| browser::error(&format!("{caller}: {what} could not be read as JSON: {e}")))
        .ok()
}
