//! Surveys that show on their own: the collector's remote config says which
//! and to whom (`GET /v1/config`); this module decides *when*, in the page,
//! with `touchpoint_core::targeting` — the same rules the collector uses.
//!
//! What it knows about the user are [`Facts`]: every event this browser
//! makes is folded in at once (`observe`, called for each event `emit`s),
//! persisted per person in `localStorage` (once at the end of the task that
//! made the events, not once per event), and merged with the collector's
//! facts from every device when the config loads. So a survey dismissed on
//! the laptop counts on the phone, and one shown a moment ago counts before
//! its `survey_shown` event has even been sent.
//!
//! It re-decides on load, after each event (a `track` may reach an event
//! count; a `survey_shown` starts a recontact period), on client-side
//! navigation, when a survey closes, and when a delay it was waiting for
//! runs out.

use std::cell::RefCell;

use serde::Deserialize;
use touchpoint_core::targeting::{Context, Experiences, Facts};
use touchpoint_protocol::EventKind;

use crate::browser::{self, LocalStore};
use crate::{route, sdk, ui};

/// The person targeting is about, as the widget's reads name them.
pub struct Person {
    /// `user_id` or `anonymous_id`.
    pub param: &'static str,
    pub id: String,
    pub user_hash: Option<String>,
}

struct State {
    /// Which person `facts` are about (a new `identify` starts over).
    person_id: String,
    storage_key: String,
    facts: Facts,
    /// `None` until the config has loaded, and when the project targets nothing.
    experiences: Option<Experiences>,
    page_loaded_at_ms: i64,
    /// A survey's definition is being fetched to show it: decide nothing meanwhile.
    showing: bool,
    /// The timer waiting for a survey's delay, and for which survey.
    waiting: Option<(i32, String)>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
    static PAGE_LOADED_AT: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
    static ROUTE_WATCHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// A write of the facts at the end of this task is scheduled.
    static PERSIST_SCHEDULED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// A `decide` after the current task is scheduled.
    static DECIDE_SCHEDULED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[derive(Deserialize)]
struct RemoteConfig {
    targeting: Option<serde_json::Value>,
    #[serde(default)]
    facts: Facts,
}

/// Called once at boot: delays count from here.
pub fn page_loaded() {
    PAGE_LOADED_AT.with(|p| p.set(browser::now_ms()));
}

/// Starts (or, after `identify`/`reset`, restarts) targeting for `person`:
/// this browser's facts at once, then the remote config and the collector's facts.
pub async fn load(endpoint: String, key: String, person: Person) -> Result<(), String> {
    // Facts of this task's events not written yet are written now, before
    // they are read back or replaced by another person's.
    if PERSIST_SCHEDULED.get() {
        persist();
    }
    let storage_key = format!("touchpoint:{key}:facts:{}", person.id);
    let facts = match LocalStore::open().get(&storage_key) {
        None => Facts::default(),
        Some(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            browser::warn(&format!("{storage_key} in localStorage was unreadable ({e}); starting it afresh"));
            Facts::default()
        }),
    };
    let page_loaded_at_ms = PAGE_LOADED_AT.with(|p| p.get());
    let previous = STATE.with(|s| {
        s.borrow_mut().replace(State {
            person_id: person.id.clone(),
            storage_key,
            facts,
            experiences: None,
            page_loaded_at_ms,
            showing: false,
            waiting: None,
        })
    });
    if let Some((timer, _)) = previous.and_then(|p| p.waiting) {
        browser::clear_timeout(timer);
    }

    let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
    let mut url = format!("{endpoint}/v1/config?key={}&{}={}", enc(&key), person.param, enc(&person.id));
    if let Some(hash) = &person.user_hash {
        url.push_str(&format!("&user_hash={}", enc(hash)));
    }
    let Some(text) = browser::get_text(&url).await? else { return Ok(()) };
    let remote: RemoteConfig =
        serde_json::from_str(&text).map_err(|e| format!("the remote config from {url} is unreadable: {e}"))?;
    let experiences = match remote.targeting {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(Experiences::from_value(&v).map_err(|e| format!("the remote targeting is invalid: {e}"))?),
    };
    let same_person = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let Some(state) = s.as_mut().filter(|st| st.person_id == person.id) else {
            return false;
        };
        state.facts.merge(&remote.facts);
        state.experiences = experiences;
        true
    });
    // Another identify may have started over while we were fetching.
    if !same_person {
        return Ok(());
    }
    persist();
    if !ROUTE_WATCHED.with(|w| w.replace(true)) {
        route::on_change(|_| decide());
    }
    decide();
    Ok(())
}

/// Folds an event this browser just made into the facts; after a `track`
/// or a `survey_shown`, re-decides.
pub fn observe(ts: i64, kind: &EventKind) {
    let observed = STATE.with(|s| s.borrow_mut().as_mut().map(|state| state.facts.observe(ts, Some(kind))));
    if observed.is_none() {
        return;
    }
    persist_at_end_of_task();
    // After the current call returns: `emit` may run inside a survey's own handler.
    // One decision after the task sees every event the task made: a burst of
    // calls schedules it once.
    if matches!(kind, EventKind::Track { .. } | EventKind::SurveyShown { .. }) && !DECIDE_SCHEDULED.replace(true) {
        let scheduled = browser::set_timeout(0, || {
            DECIDE_SCHEDULED.set(false);
            decide();
        });
        if scheduled.is_none() {
            DECIDE_SCHEDULED.set(false);
        }
    }
}

/// One write for all the events of a task (nothing else runs before it: see
/// `browser::at_end_of_task`).
fn persist_at_end_of_task() {
    if PERSIST_SCHEDULED.replace(true) {
        return;
    }
    let run = || {
        PERSIST_SCHEDULED.set(false);
        persist();
    };
    if !browser::at_end_of_task(run) {
        run();
    }
}

fn persist() {
    STATE.with(|s| {
        if let Some(state) = s.borrow().as_ref() {
            if let Ok(json) = serde_json::to_string(&state.facts) {
                LocalStore::open().set(&state.storage_key, &json);
            }
        }
    });
}

/// Shows the survey that may claim the screen now, or waits for the one
/// whose delay has not run out yet.
pub fn decide() {
    let Some(inputs) = sdk::targeting_inputs() else { return };
    let now = browser::now_ms();
    let decision = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let state = s.as_mut()?;
        if state.showing || inputs.opted_out {
            return None;
        }
        let experiences = state.experiences.as_ref()?;
        let ctx = Context {
            now_ms: now,
            path: route::current_path(),
            traits: inputs.traits,
            segment: crate::checklist::segment(),
            event_counts: state.facts.event_counts.clone(),
            first_seen_ms: state.facts.first_seen_ms.unwrap_or(now),
            user_key: inputs.user_key,
            history: state.facts.history(),
            on_screen: ui::survey_on_screen_id(),
            page_loaded_at_ms: state.page_loaded_at_ms,
        };
        let pick = experiences.pick(&ctx).map(|p| (p.experience.id().to_owned(), p.show_at_ms));
        if let Some((timer, _)) = state.waiting.take() {
            browser::clear_timeout(timer);
        }
        let (id, show_at) = pick?;
        if show_at > now {
            let wait = i32::try_from(show_at - now).unwrap_or(i32::MAX);
            state.waiting = browser::set_timeout(wait, decide).map(|timer| (timer, id));
            return None;
        }
        state.showing = true;
        Some(id)
    });
    let Some(id) = decision else { return };
    wasm_bindgen_futures::spawn_local(async move {
        sdk::show_survey_by_id(&id).await;
        STATE.with(|s| {
            if let Some(state) = s.borrow_mut().as_mut() {
                state.showing = false;
            }
        });
    });
}
