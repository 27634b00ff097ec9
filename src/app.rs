//! The page's one piece of state, [`App`], and everything that changes it:
//! recording events, identity, showing a survey, opting out. The API layer
//! (`api`, `bridge`) calls in here; the features (`card`, `outbox`, `rest`,
//! `identity`) are called from here and never call back up: the card reports
//! through the [`Sink`](crate::card::Sink) it is given, the outbox and the
//! second module through their handles.

use crate::cell::RefCell;
use std::rc::Rc;

use touchpoint_core::queue::Policy;
use touchpoint_protocol::write::{self, Envelope};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::before_send::{self, Outcome};
use crate::browser::{self, js, LocalStore};
use crate::bus;
use crate::card::form::Form;
use crate::card::session::Answer;
use crate::card::{Card, Happened, Sink};
use crate::identity::{storage_key, Identity};
use crate::options::Options;
use crate::outbox::{Outbox, PushError, Pushed};
use crate::report::{report, Code, Console};
use crate::rest::Rest;
use crate::shell::Theme;
use crate::strings::Strings;
use crate::text::{cat, num, quoted};

pub struct App {
    key: String,
    endpoint: String,
    identity: Identity,
    /// `optOut()` was called, or a privacy signal is honoured: nothing is recorded.
    opted_out: bool,
    /// The browser sends Global Privacy Control / Do Not Track and `respectPrivacySignals` is on.
    privacy_signal: bool,
    outbox: Outbox,
    rest: Rest,
    theme: Theme,
    strings: Rc<Strings>,
    /// The reader's languages, most preferred first, then English.
    locales: Vec<String>,
    /// The `messages` option as given, for the second module.
    messages: JsValue,
    /// The survey on screen.
    card: Option<Card>,
    /// Survey forms fetched on this page, by id.
    forms: Vec<(String, Rc<Form>)>,
    /// The loader's early fetches of survey forms (`{ id: Promise<Response> }`), each used once.
    prefetched: Option<js_sys::Object>,
    /// Events dropped because the queue was full, since this page loaded.
    dropped: usize,
    /// Dropped in this task and not reported yet (see `note_dropped`).
    unreported_drops: Vec<String>,
    loaded_at_ms: i64,
    /// The host's last look at each event before it is queued.
    before_send: Option<js_sys::Function>,
}

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
}

/// How long the first card has the page to itself once painted, before the
/// second module loads (then when the browser is idle).
const CARD_ALONE_MS: i32 = 1000;

/// Longest the second module waits for the first survey (a slow or failing
/// definition must not keep the checklist and help away).
const HOLD_AT_MOST_MS: i32 = 3000;

/// Runs `f` on the app, or reports that `init` has not run.
pub fn with<T>(caller: &str, f: impl FnOnce(&mut App) -> T) -> Option<T> {
    let out = APP.with(|a| a.borrow_mut().as_mut().map(f));
    if out.is_none() {
        browser::error(&cat(&[caller, ": Touchpoint is not initialised; call init({ key, endpoint }) first"]));
    }
    out
}

/// Runs `f` on the app if it runs.
fn quietly<T>(f: impl FnOnce(&mut App) -> T) -> Option<T> {
    APP.with(|a| a.borrow_mut().as_mut().map(f))
}

/// Starts the app. `false` (with every problem on the console) if the options are wrong.
pub fn boot(options: &JsValue, prefetched: JsValue, loader: JsValue) -> bool {
    let options = match Options::parse(options) {
        Ok(o) => o,
        Err(problems) => {
            for p in problems {
                browser::error(&cat(&["init: ", &p]));
            }
            return false;
        }
    };
    if APP.with(|a| a.borrow().is_some()) {
        browser::warn("init was called twice; keeping the first configuration");
        return false;
    }
    let defaults = Policy::default();
    let policy = Policy {
        flush_delay_ms: options.flush_interval_ms.unwrap_or(defaults.flush_delay_ms),
        request_timeout_ms: options.request_timeout_ms.unwrap_or(defaults.request_timeout_ms).max(100),
        max_queued: options.max_queued_events.map_or(defaults.max_queued, |n| n.max(1) as usize),
        ..defaults
    };
    let preferred = options.preferred_locales();
    let strings = options.strings(&preferred);
    let mut locales = preferred;
    locales.push("en".into());
    let prefetched = prefetched.dyn_into::<js_sys::Object>().ok().filter(|p| js_sys::Object::keys(p).length() > 0);
    let held = prefetched.is_some();
    let identity = Identity::load(&options.key);
    let privacy_signal = options.respect_privacy_signals && browser::privacy_signal();
    let opted_out = privacy_signal || LocalStore::open().get(&storage_key(&options.key, "opt_out")).is_some();
    let app = App {
        outbox: Outbox::new(&options.endpoint, &options.key, policy),
        rest: Rest::new(loader, held),
        key: options.key,
        endpoint: options.endpoint,
        identity,
        opted_out,
        privacy_signal,
        theme: options.theme,
        strings: Rc::new(strings),
        locales,
        messages: options.messages,
        card: None,
        forms: Vec::new(),
        prefetched,
        dropped: 0,
        unreported_drops: Vec::new(),
        loaded_at_ms: browser::now_ms(),
        before_send: options.before_send,
    };
    APP.with(|a| *a.borrow_mut() = Some(app));
    if held {
        browser::set_timeout(HOLD_AT_MOST_MS, release_rest);
    } else {
        load_rest();
    }
    true
}

/// The second module may load now (the first survey is up, or will not be).
fn release_rest() {
    if let Some(rest) = quietly(|app| app.rest.clone()) {
        rest.release();
    }
    load_rest();
}

fn load_rest() {
    let Some(rest) = quietly(|app| app.rest.clone()) else { return };
    rest.load(|| quietly(|app| app.rest_init()).unwrap_or_default());
}

impl App {
    /// The second module's start state.
    fn rest_init(&self) -> String {
        let mut out = String::from("{\"key\":");
        write::push_str(&mut out, &self.key);
        write::field_str(&mut out, "endpoint", &self.endpoint);
        let messages = browser::json_text(&self.messages).ok().flatten().unwrap_or_else(|| "null".into());
        write::field_raw(&mut out, "messages", &messages);
        write::field_str(&mut out, "locale", &self.strings.locale);
        write::field_strs(&mut out, "locales", self.locales.iter().map(String::as_str));
        write::field_u64(&mut out, "loaded_at_ms", self.loaded_at_ms.max(0) as u64);
        write::field_raw(&mut out, "person", &self.person());
        write::close(&mut out);
        out
    }

    /// Who the second module's per-person reads are about, as JSON.
    fn person(&self) -> String {
        let id = &self.identity;
        let mut out = String::from("{\"param\":");
        match &id.user_id {
            Some(u) => {
                write::push_str(&mut out, "user_id");
                write::field_str(&mut out, "id", u);
                if let Some(h) = &id.user_hash {
                    write::field_str(&mut out, "user_hash", h);
                }
            }
            None => {
                write::push_str(&mut out, "anonymous_id");
                write::field_str(&mut out, "id", &id.anonymous_id);
            }
        }
        write::field_raw(&mut out, "traits", &id.traits);
        write::field_raw(&mut out, "opted_out", if self.opted_out { "true" } else { "false" });
        write::close(&mut out);
        out
    }

    fn envelope<'a>(&'a self, id: &'a str, ts: i64, url: &'a str) -> Envelope<'a> {
        let i = &self.identity;
        Envelope {
            id,
            ts,
            anonymous_id: &i.anonymous_id,
            user_id: i.user_id.as_deref(),
            user_hash: i.user_id.as_ref().and(i.user_hash.as_deref()),
            url,
        }
    }
}

/// How an event's own fields are written after its envelope.
pub enum Fields<'a> {
    /// The kind's fields, written into the event after `"type"`.
    Typed(&'a str, &'a dyn Fn(&mut String)),
    /// A whole serialized kind (`{"type":…,…}`), from the second module.
    Spliced(&'a str),
}

/// Stamps an event (id, time, identity, page), queues it durably and hands
/// it to the second module. Returns its id, or `None` if it was refused
/// (opted out, too large: said on the console).
pub fn record(caller: &str, fields: Fields) -> Option<String> {
    let made = with(caller, |app| {
        let id = browser::uuid();
        let (ts, url) = (browser::now_ms(), browser::page_url());
        let envelope = app.envelope(&id, ts, &url);
        let raw = match fields {
            Fields::Typed(kind, write_fields) => {
                let mut raw = String::with_capacity(256);
                envelope.open(&mut raw, kind);
                write_fields(&mut raw);
                write::close(&mut raw);
                Some(raw)
            }
            Fields::Spliced(kind) => envelope.splice(kind),
        };
        (id, ts, raw, app.opted_out, app.outbox.clone(), app.rest.clone(), app.before_send.clone())
    })?;
    let (id, ts, raw, opted_out, outbox, rest, hook) = made;
    let Some(raw) = raw else {
        browser::error(&cat(&[caller, ": not an event kind: an object with a type was expected"]));
        return None;
    };
    if opted_out {
        // Nothing is recorded, but the page's own checklist still follows what the user does.
        if caller == "track" {
            rest.observe(raw, false);
        }
        return None;
    }
    // Outside the app's borrow: the host's hook may call the API.
    let raw = match hook.map(|h| before_send::apply(&h, &id, raw.clone())) {
        None => raw,
        Some(Outcome::Send(changed)) => changed,
        Some(Outcome::Drop) => {
            // Not sent, but the page's own checklist still follows what the user does (as when opted out).
            if caller == "track" {
                rest.observe(raw, false);
            }
            return None;
        }
    };
    // Pushed outside the app's borrow: reporting a drop reads it.
    match outbox.push(&id, ts, raw.clone()) {
        Ok(Pushed { dropped }) => {
            if !dropped.is_empty() {
                note_dropped(dropped, &outbox);
            }
            rest.observe(raw, true);
            Some(id)
        }
        Err(PushError::TooLarge { bytes, max }) => {
            report(
                Code::EventTooLarge,
                &cat(&[
                    caller,
                    ": the event is ",
                    &num(bytes as u64),
                    " bytes, over the ",
                    &num(max as u64),
                    " bytes the collector accepts; it was not sent",
                ]),
                &[id],
                Console::Error,
            );
            None
        }
    }
}

/// Events dropped because the queue was full are reported, and recorded as
/// one `client_error` event, once per task: a burst of calls into a full
/// queue would otherwise report (and queue a record) on every call.
fn note_dropped(dropped: Vec<String>, outbox: &Outbox) {
    let first = quietly(|app| {
        let first = app.unreported_drops.is_empty();
        app.unreported_drops.extend(dropped);
        first
    });
    if first != Some(true) {
        return;
    }
    let later = outbox.clone();
    if !browser::at_end_of_task(move || report_dropped(&later)) {
        report_dropped(outbox);
    }
}

fn report_dropped(outbox: &Outbox) {
    let Some(mut dropped) = quietly(|app| std::mem::take(&mut app.unreported_drops)) else { return };
    // Room for the record of the loss itself.
    dropped.extend(outbox.make_room());
    let Some((total, opted_out)) = quietly(|app| {
        app.dropped += dropped.len();
        (app.dropped, app.opted_out)
    }) else {
        return;
    };
    let message = cat(&[
        "the event queue was full; dropped the ",
        &num(dropped.len() as u64),
        " oldest unsent events (",
        &num(total as u64),
        " since this page loaded)",
    ]);
    report(Code::QueueOverflow, &message, &dropped, Console::Error);
    if opted_out {
        return;
    }
    // Recorded as an event too, so the backend can count losses.
    let made = quietly(|app| {
        let id = browser::uuid();
        let (ts, url) = (browser::now_ms(), browser::page_url());
        let mut raw = String::new();
        app.envelope(&id, ts, &url).open(&mut raw, "client_error");
        write::field_str(&mut raw, "code", "queue_overflow");
        write::field_str(&mut raw, "message", &message);
        write::field_strs(&mut raw, "event_ids", dropped.iter().map(String::as_str));
        write::close(&mut raw);
        (id, ts, raw)
    });
    if let Some((id, ts, raw)) = made {
        let _ = outbox.push(&id, ts, raw);
    }
}

/// `identify(userId, traits, { userHash })`.
pub fn identify(user_id: String, traits: &JsValue, traits_json: &str, user_hash: Option<String>) {
    let changed = with("identify", |app| app.identity.identify(user_id, traits, user_hash));
    let Some(changed) = changed else { return };
    record("identify", Fields::Typed("identify", &|out| write::field_raw(out, "traits", traits_json)));
    if changed {
        person_changed();
    }
}

/// `group(accountId, traits)`.
pub fn group(account_id: String, traits: &JsValue, traits_json: &str) {
    let Some(changed) = with("group", |app| app.identity.group(&account_id, traits)) else { return };
    record(
        "group",
        Fields::Typed("group", &|out| {
            write::field_str(out, "account_id", &account_id);
            write::field_raw(out, "traits", traits_json);
        }),
    );
    if changed {
        person_changed();
    }
}

/// Tells the second module who the person is now.
fn person_changed() {
    if let Some((rest, person)) = quietly(|app| (app.rest.clone(), app.person())) {
        rest.person_changed(&person);
    }
}

/// `reset()`: a new anonymous visitor; the card closes.
pub fn reset() {
    let Some(card) = with("reset", |app| {
        app.identity.reset();
        app.card.clone()
    }) else {
        return;
    };
    if let Some(card) = card {
        card.dismiss();
    }
    if let Some(rest) = quietly(|app| app.rest.clone()) {
        rest.hide_panels();
    }
    person_changed();
}

/// `optOut()`: nothing is recorded; unsent events are deleted; widgets close.
pub fn opt_out() {
    let Some((outbox, card)) = with("optOut", |app| {
        LocalStore::open().set(&storage_key(&app.key, "opt_out"), "1");
        app.opted_out = true;
        (app.outbox.clone(), app.card.clone())
    }) else {
        return;
    };
    outbox.clear();
    if let Some(card) = card {
        card.dismiss();
    }
    if let Some(rest) = quietly(|app| app.rest.clone()) {
        rest.hide_panels();
    }
    person_changed();
}

/// Sends what is queued soon (backoff permitting): the second module has
/// put events back in the queue (replayed dead letters).
pub fn send_soon() {
    if let Some(outbox) = quietly(|app| app.outbox.clone()) {
        outbox.schedule(0);
    }
}

/// `optIn()`.
pub fn opt_in() {
    let signal = with("optIn", |app| {
        LocalStore::open().remove(&storage_key(&app.key, "opt_out"));
        app.opted_out = app.privacy_signal;
        app.privacy_signal
    });
    if signal == Some(true) {
        browser::warn("optIn: the browser sends Global Privacy Control or Do Not Track, which this page honours");
    }
    person_changed();
}

/// `hide()`: the card closes (dismissed) and so do the panels.
pub fn hide() {
    let Some((card, rest)) = with("hide", |app| (app.card.clone(), app.rest.clone())) else { return };
    if let Some(card) = card {
        card.dismiss();
    }
    rest.hide_panels();
}

/// `page()`: a page view; the second module follows the new page.
pub fn page(props_json: &str) -> Option<String> {
    browser::forget_page_url();
    let id = record("page", Fields::Typed("page", &|out| write::field_raw(out, "props", props_json)));
    if let Some(rest) = quietly(|app| app.rest.clone()) {
        rest.navigated();
    }
    id
}

/// Hands the second module what is pending (it must see every earlier event first).
pub fn settle() {
    if let Some(rest) = quietly(|app| app.rest.clone()) {
        rest.flush();
    }
}

/// The survey on screen, if one is.
pub fn survey_on_screen() -> Option<String> {
    quietly(|app| app.card.as_ref().filter(|c| c.is_open()).map(Card::survey_id)).flatten()
}

/// Fetches and shows survey `id`; `then` hears `true` once it is on screen.
pub fn show_survey(id: &str, then: Box<dyn FnOnce(bool)>) {
    show_survey_now(
        id,
        Box::new(move |shown| {
            // The first survey is up (or will not be): the second module may load —
            // a while after the card's first frame, so that neither its paint nor the
            // user's first answer competes with the second module's start.
            let held = quietly(|app| app.rest.is_held()).unwrap_or(false);
            if held {
                match shown {
                    true => browser::after_next_paint(|| {
                        browser::set_timeout(CARD_ALONE_MS, release_rest);
                    }),
                    false => release_rest(),
                }
            }
            then(shown)
        }),
    );
}

/// `showSurvey(id)` and the second module's call for it: a promise of
/// [`show_survey`]'s answer, for JS. The work starts in a promise reaction at
/// the end of the task, as an async call's did: a `hide()` right after
/// `showSurvey()` in the same task still comes first, and the caller's own work
/// is never re-entered.
pub fn show_survey_promise(id: &str) -> js_sys::Promise {
    let mut id = Some(id.to_owned());
    js_sys::Promise::new(&mut |resolve, _| {
        let Some(id) = id.take() else { return };
        browser::on_settled(&js_sys::Promise::resolve(&JsValue::UNDEFINED), move |_| {
            show_survey(
                &id,
                Box::new(move |shown| {
                    let _ = resolve.call1(&JsValue::NULL, &shown.into());
                }),
            )
        });
    })
}

fn show_survey_now(id: &str, then: Box<dyn FnOnce(bool)>) {
    if survey_on_screen().is_some() {
        browser::warn(&cat(&[&caller(id), ": another survey is on screen; not showing a second one"]));
        return then(false);
    }
    let Some(cached) = with("showSurvey", |app| app.forms.iter().find(|(i, _)| i == id).map(|(_, f)| f.clone())) else {
        return then(false);
    };
    if let Some(form) = cached {
        return then(show_form(id, form));
    }
    let id = id.to_owned();
    fetch_form(
        &id.clone(),
        Box::new(move |fetched| match fetched {
            Ok(f) => {
                let f = Rc::new(f);
                quietly(|app| app.forms.push((id.clone(), f.clone())));
                then(show_form(&id, f))
            }
            Err(msg) => {
                browser::error(&cat(&[&caller(&id), ": ", &msg]));
                then(false)
            }
        }),
    );
}

/// `showSurvey("id")`, for messages.
fn caller(id: &str) -> String {
    cat(&["showSurvey(", &quoted(id), ")"])
}

/// Puts `form` on screen; `true` if it is.
fn show_form(id: &str, form: Rc<Form>) -> bool {
    // Checked again: another call may have shown one while we were fetching.
    if survey_on_screen().is_some() {
        return false;
    }
    let Some((theme, strings)) = quietly(|app| (app.theme.clone(), app.strings.clone())) else { return false };
    let version = form.version;
    let sink: Sink = Rc::new(move |survey_id: &str, response_id: &str, what: Happened| {
        on_card(survey_id, response_id, version, what)
    });
    match Card::show(form, &theme, strings, browser::uuid(), sink) {
        Ok(card) => {
            quietly(|app| app.card = Some(card));
            true
        }
        Err(msg) => {
            browser::error(&cat(&[&caller(id), ": ", &msg]));
            false
        }
    }
}

/// The URL of survey `id`'s card form in the reader's languages. The loader
/// builds the same one for its early fetch.
fn form_url(endpoint: &str, key: &str, id: &str, locales: &[String]) -> String {
    // The trailing "en" is ours, not the reader's: the collector falls back to the default texts.
    let preferred = &locales[..locales.len().saturating_sub(1)];
    cat(&[
        endpoint,
        "/v1/surveys/",
        &String::from(js_sys::encode_uri_component(id)),
        // The project's key: each project publishes its own surveys.
        "?form=card&key=",
        &String::from(js_sys::encode_uri_component(key)),
        "&locale=",
        &String::from(js_sys::encode_uri_component(&crate::text::join(preferred, ","))),
    ])
}

/// Fetches survey `id`'s card form (the loader's early fetch, if it made one); `then` hears
/// the form, or why there is none.
fn fetch_form(id: &str, then: Box<dyn FnOnce(Result<Form, String>)>) {
    let Some((url, early)) = quietly(|app| {
        let early = app.prefetched.as_ref().and_then(|p| {
            let promise = js_sys::Reflect::get(p, &id.into()).ok()?.dyn_into::<js_sys::Promise>().ok()?;
            let _ = js_sys::Reflect::delete_property(p, &id.into());
            Some(promise)
        });
        (form_url(&app.endpoint, &app.key, id, &app.locales), early)
    }) else {
        return then(Err("Touchpoint is not initialised".into()));
    };
    match early {
        // A failed early fetch is made again here, so its error names this URL.
        Some(p) => browser::on_settled(&p, move |early| match early {
            Ok(r) => read_form(url, r, then),
            Err(_) => fetch_form_again(url, then),
        }),
        None => fetch_form_again(url, then),
    }
}

fn fetch_form_again(url: String, then: Box<dyn FnOnce(Result<Form, String>)>) {
    let Some(window) = web_sys::window() else { return then(Err("no window".into())) };
    browser::on_settled(&window.fetch_with_str(&url), move |r| match r {
        Ok(r) => read_form(url, r, then),
        Err(e) => then(Err(load_failed(&url, &e))),
    });
}

fn load_failed(url: &str, e: &JsValue) -> String {
    cat(&["could not load ", url, ": ", &browser::describe(e)])
}

/// Reads the card form from the fetch's `response`.
fn read_form(url: String, response: JsValue, then: Box<dyn FnOnce(Result<Form, String>)>) {
    let resp: web_sys::Response = response.unchecked_into();
    let text = match resp.text() {
        Ok(t) => t,
        Err(e) => return then(Err(load_failed(&url, &e))),
    };
    browser::on_settled(&text, move |text| {
        then(text.map_err(|e| load_failed(&url, &e)).and_then(|text| {
            let text = text.as_string().unwrap_or_default();
            if !resp.ok() {
                return Err(cat(&[&url, " answered HTTP ", &num(u64::from(resp.status())), ": ", &text]));
            }
            let value = js::parse(&text).map_err(|e| cat(&[&url, " is not JSON: ", &e]))?;
            Form::read(&value).map_err(|problems| cat(&[&url, ": ", &crate::text::join(&problems, "; ")]))
        }))
    });
}

/// What happens on the card becomes events, `on()` notifications and, once
/// it is gone, a free screen for the second module's targeting.
fn on_card(survey_id: &str, response_id: &str, version: Option<u32>, what: Happened) {
    let ids = |out: &mut String| {
        write::field_str(out, "survey_id", survey_id);
        write::field_str(out, "response_id", response_id);
        if let Some(v) = version {
            write::field_u64(out, "survey_version", u64::from(v));
        }
    };
    let notify = |name: &str, members: &[(&str, JsValue)]| bus::dispatch(name, bus::payload(members));
    match what {
        Happened::Shown => {
            notify("survey:shown", &[("surveyId", survey_id.into()), ("responseId", response_id.into())]);
            record("showSurvey", Fields::Typed("survey_shown", &ids));
        }
        Happened::Answered { question_id, answer } => {
            record(
                "showSurvey",
                Fields::Typed("survey_answered", &|out| {
                    ids(out);
                    write::field_str(out, "question_id", &question_id);
                    match &answer {
                        Answer::Score(n) => write::field_u64(out, "value", u64::from(*n)),
                        Answer::Text(t) => write::field_str(out, "value", t),
                        Answer::Choices(c) => write::field_strs(out, "value", c.iter().map(String::as_str)),
                    }
                }),
            );
        }
        Happened::Completed { ending_id, actions } => {
            let parsed = js::parse(&actions).unwrap_or_else(|_| js_sys::Array::new().into());
            notify(
                "survey:completed",
                &[("surveyId", survey_id.into()), ("endingId", ending_id.as_str().into()), ("actions", parsed)],
            );
            record(
                "showSurvey",
                Fields::Typed("survey_completed", &|out| {
                    ids(out);
                    write::field_str(out, "ending_id", &ending_id);
                    write::field_raw(out, "actions", &actions);
                }),
            );
        }
        Happened::Dismissed { question_id } => {
            notify("survey:dismissed", &[("surveyId", survey_id.into()), ("questionId", question_id.as_str().into())]);
            record(
                "showSurvey",
                Fields::Typed("survey_dismissed", &|out| {
                    ids(out);
                    write::field_str(out, "question_id", &question_id);
                }),
            );
        }
        Happened::Closed => {
            let rest = quietly(|app| {
                // Only this showing's card: another may be up already.
                if app.card.as_ref().is_some_and(|c| c.response_id() == response_id) {
                    app.card = None;
                }
                app.rest.clone()
            });
            if let Some(rest) = rest {
                rest.survey_closed();
            }
        }
    }
}

/// The theme and strings widgets are mounted with.
pub fn look() -> Option<(Theme, Rc<Strings>)> {
    quietly(|app| (app.theme.clone(), app.strings.clone()))
}
