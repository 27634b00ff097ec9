//! The attention budget in the page: surveys and nudges that show on their
//! own. The collector's remote config says which and to whom (`GET
//! /v1/config`); this module decides *when*, with
//! `touchpoint_core::targeting` — the same rules the collector's dry run uses
//! — and answers `why(id)` and the debug overlay from the same schedule.
//!
//! What it knows about the user are [`Facts`]: every event this browser
//! makes is folded in at once (`observe`, called for each event `emit`s),
//! persisted per person in `localStorage` (a change of person switches to
//! the new person's copy at once: [`start`]) (once at the end of the task that
//! made the events, not once per event), and merged with the collector's
//! facts from every device when the config loads. So a survey dismissed on
//! the laptop counts on the phone, and one shown a moment ago counts before
//! its `survey_shown` event has even been sent.
//!
//! It re-decides on load, after each event (a `track` may reach an event
//! count; a showing starts a recontact period), on client-side navigation,
//! when a survey or panel closes, when a delay it was waiting for runs out,
//! when a time-bound obstacle (a cooldown, a recontact period) passes, and —
//! while the page is busy (`setBusy`, a host dialog, typing) or one of our
//! panels is open — every [`RECHECK_MS`], until the moment is right.

use std::cell::RefCell;

use serde::Deserialize;
use serde_json::{json, Value};
use touchpoint_core::targeting::{Busy, Context, Experiences, Facts, Kind, OnScreen, Opens, Reason, Rule, Verdict};
use touchpoint_protocol::EventKind;

use crate::context::{self, Person};
use crate::launchers::{self as ui, Panel};
use crate::page::{self, LocalStore};
use crate::{host, route};

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
    /// The timer of the next look (a delay or cooldown running out, a busy page).
    /// Dropping it cancels the look.
    waiting: Option<page::Timer>,
}

/// How often to look again while the only obstacle is a busy moment.
const RECHECK_MS: i32 = 500;

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
    static PAGE_LOADED_AT: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
    static ROUTE_WATCHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// A write of the facts at the end of this task is scheduled.
    static PERSIST_SCHEDULED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// A `decide` after the current task is scheduled.
    static DECIDE_SCHEDULED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// `Touchpoint.setBusy(true)`.
    static HOST_BUSY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[derive(Deserialize)]
struct RemoteConfig {
    targeting: Option<serde_json::Value>,
    #[serde(default)]
    facts: Facts,
}

/// Called once at start with when the first module booted: delays count from there.
pub fn page_loaded(at_ms: i64) {
    PAGE_LOADED_AT.with(|p| p.set(at_ms));
}

/// Starts (or, after `identify`/`reset`, restarts) targeting for `person`:
/// this browser's facts at once, then the remote config and the collector's facts.
pub async fn load(endpoint: String, key: String, person: Person) -> Result<(), String> {
    start(&key, &person);
    let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
    let mut url = format!("{endpoint}/v1/config?key={}&{}={}", enc(&key), person.param, enc(&person.id));
    if let Some(hash) = &person.user_hash {
        url.push_str(&format!("&user_hash={}", enc(hash)));
    }
    let Some(text) = page::get_text(&url).await? else { return Ok(()) };
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

/// Makes `person` the one whose facts count, from their local copy: at
/// once when the person changes, so that nothing that happens next counts
/// for the one before. What targets them waits for their remote config.
pub fn start(key: &str, person: &Person) {
    // Facts of this task's events not written yet are written now, before
    // they are read back or replaced by another person's.
    persist_now();
    let storage_key = format!("touchpoint:{key}:facts:{}", person.id);
    let facts = match LocalStore::open().get(&storage_key) {
        None => Facts::default(),
        Some(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            page::warn(&format!("{storage_key} in localStorage was unreadable ({e}); starting it afresh"));
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
    // The previous person's pending look is cancelled with them.
    drop(previous);
}

/// What targeting counts of an event this browser made.
pub enum Seen<'a> {
    /// A `track` of this name.
    Track(&'a str),
    /// A showing of an experience of this kind (`"survey"`, `"nudge"`) and id.
    Shown(&'static str, &'a str),
    /// Anything else: only that the person was seen.
    Other,
}

/// Folds an event this browser just made into the facts; after a `track`
/// or a showing, re-decides.
pub fn observe(ts: i64, seen: Seen<'_>) {
    let shown = matches!(seen, Seen::Shown(..));
    if shown {
        session::count_one();
    }
    let observed = STATE.with(|s| {
        s.borrow_mut().as_mut().map(|state| {
            state.facts.observe(ts, None);
            match seen {
                Seen::Track(name) => state.facts.count(name),
                Seen::Shown(kind, id) => state.facts.shown(kind, id, ts),
                Seen::Other => {}
            }
        })
    });
    if observed.is_none() {
        return;
    }
    persist_at_end_of_task();
    // After the current call returns: `emit` may run inside a survey's own handler.
    // One decision after the task sees every event the task made: a burst of
    // calls schedules it once.
    if (shown || matches!(seen, Seen::Track(_))) && !DECIDE_SCHEDULED.replace(true) {
        let scheduled = page::set_timeout(0, || {
            DECIDE_SCHEDULED.set(false);
            decide();
        });
        if scheduled.is_none() {
            DECIDE_SCHEDULED.set(false);
        }
    }
}

/// One write for all the events of a task (nothing else runs before it: see
/// `page::at_end_of_task`).
fn persist_at_end_of_task() {
    if PERSIST_SCHEDULED.replace(true) {
        return;
    }
    if !page::at_end_of_task(persist_now) {
        persist_now();
    }
}

/// The write [`persist_at_end_of_task`] scheduled, done now (once): for work
/// that itself runs at the end of the task.
pub fn persist_now() {
    if PERSIST_SCHEDULED.replace(false) {
        persist();
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

/// `Touchpoint.setBusy(busy)`: nothing claims attention while the host says so.
pub fn set_busy(busy: bool) {
    HOST_BUSY.with(|b| b.set(busy));
    if !busy {
        decide();
    }
}

/// What decides, now: the context for the current moment, or why there is none.
fn context(state: &State) -> Result<Context, (&'static str, String)> {
    let inputs = context::targeting_inputs().ok_or(("not_loaded", "Touchpoint is not initialised".to_owned()))?;
    if inputs.opted_out {
        return Err(("opted_out", "this browser opted out (optOut() or a privacy signal): nothing shows".into()));
    }
    let now = page::now_ms();
    let openable = [Opens::Checklist, Opens::Help].into_iter().filter(|o| ui::can_nudge(panel(*o))).collect();
    let on_screen = match host::survey_on_screen() {
        Some(id) => Some(OnScreen::Survey(id)),
        None => ui::open_panel_now().and_then(opens).map(OnScreen::Panel),
    };
    Ok(Context {
        now_ms: now,
        path: route::current_path(),
        traits: inputs.traits,
        segment: crate::checklist::segment(),
        event_counts: state.facts.event_counts.clone(),
        first_seen_ms: state.facts.first_seen_ms.unwrap_or(now),
        user_key: inputs.user_key,
        history: state.facts.history(),
        on_screen,
        busy: busy(),
        session_shown: session::shown(),
        openable,
        page_loaded_at_ms: state.page_loaded_at_ms,
    })
}

/// Shows what may claim the screen now, or waits for the moment it may.
pub fn decide() {
    let now = page::now_ms();
    let decision = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let state = s.as_mut()?;
        if state.showing {
            return None;
        }
        // Cancels the pending look (or, when this is it, frees it once it returns).
        drop(state.waiting.take());
        let ctx = context(state).ok()?;
        let experiences = state.experiences.as_ref()?;
        let schedule = experiences.schedule(&ctx);
        if crate::debug::enabled() {
            crate::debug::update(rows(&schedule.verdicts, now));
        }
        let Some(pick) = schedule.next else {
            // Look again when the first time-bound obstacle passes (a cooldown, a
            // recontact period), or soon if it is the moment (busy, a panel open).
            let momentary = schedule.verdicts.iter().any(|(_, v)| {
                matches!(v.reason().map(Reason::rule), Some(Rule::Busy))
                    || matches!(v.reason(), Some(Reason::OnScreen { what: OnScreen::Panel(_) }))
            });
            let next_pass = schedule.verdicts.iter().filter_map(|(_, v)| v.reason()?.eligible_at_ms()).min();
            let wait = match (momentary, next_pass) {
                (true, _) => Some(i64::from(RECHECK_MS)),
                (false, Some(at)) => Some((at - now).clamp(0, i64::from(i32::MAX)) + 1),
                (false, None) => None,
            };
            if let Some(wait) = wait {
                let wait = u32::try_from(wait).unwrap_or(u32::MAX);
                state.waiting = Some(page::timer(wait, decide));
            }
            return None;
        };
        let (id, kind) = (pick.experience.id().to_owned(), pick.experience.kind());
        if pick.show_at_ms > now {
            let wait = u32::try_from(pick.show_at_ms - now).unwrap_or(u32::MAX);
            state.waiting = Some(page::timer(wait, decide));
            return None;
        }
        state.showing = matches!(kind, Kind::Survey);
        Some((id, kind))
    });
    match decision {
        Some((id, Kind::Survey)) => wasm_bindgen_futures::spawn_local(async move {
            host::show_survey(&id).await;
            STATE.with(|s| {
                if let Some(state) = s.borrow_mut().as_mut() {
                    state.showing = false;
                }
            });
        }),
        Some((id, Kind::Nudge(opens))) if ui::nudge_open(panel(opens)) => {
            host::emit(EventKind::NudgeShown { nudge_id: id, opens: opens.name().to_owned() });
        }
        Some((_, Kind::Nudge(_))) | None => {}
    }
}

/// The dock panel a nudge that `opens` it shows.
fn panel(opens: Opens) -> Panel {
    match opens {
        Opens::Checklist => Panel::Checklist,
        Opens::Help => Panel::Help,
    }
}

/// What a nudge would open to show `panel`, if a nudge can.
fn opens(panel: Panel) -> Option<Opens> {
    match panel {
        Panel::Checklist => Some(Opens::Checklist),
        Panel::Help => Some(Opens::Help),
        Panel::Nothing => None,
    }
}

/// Why the host page should not be interrupted now, if it should not.
fn busy() -> Option<Busy> {
    if HOST_BUSY.with(|b| b.get()) {
        return Some(Busy::Host);
    }
    let doc = web_sys::window()?.document()?;
    // Ours live in shadow roots, which `querySelector` does not enter: only the page's own match.
    if doc.query_selector("dialog[open], [aria-modal='true']").ok().flatten().is_some() {
        return Some(Busy::Modal);
    }
    let active = doc.active_element()?;
    let tag = active.tag_name().to_ascii_lowercase();
    let text_input = match tag.as_str() {
        "textarea" | "select" => true,
        "input" => !matches!(
            active.get_attribute("type").unwrap_or_default().to_ascii_lowercase().as_str(),
            "button" | "submit" | "reset" | "checkbox" | "radio" | "range" | "color" | "file" | "image"
        ),
        _ => active.get_attribute("contenteditable").is_some_and(|v| v != "false"),
    };
    text_input.then_some(Busy::Typing)
}

/// `Touchpoint.why(id)`: the schedule's answer for one experience, as JSON.
pub fn why(id: &str) -> Value {
    let answer = STATE.with(|s| {
        let s = s.borrow();
        let Some(state) = s.as_ref() else {
            return Err(("not_loaded", "Touchpoint has not loaded the remote config yet".to_owned()));
        };
        let Some(experiences) = state.experiences.as_ref() else {
            return Err(("not_loaded", "the remote config has not loaded yet, or it targets nothing".to_owned()));
        };
        let ctx = context(state)?;
        let schedule = experiences.schedule(&ctx);
        match schedule.verdicts.iter().find(|(e, _)| e.id() == id) {
            Some((e, v)) => Ok(v.explain(e)),
            None => {
                let known: Vec<&str> = experiences.all().iter().map(|e| e.id()).collect();
                Err(("unknown", format!("no experience {id:?} in the remote config (known: {})", known.join(", "))))
            }
        }
    });
    answer.unwrap_or_else(|(rule, reason)| json!({ "id": id, "eligible": false, "rule": rule, "reason": reason }))
}

/// The debug overlay's lines: each experience with its verdict.
fn rows(verdicts: &[(&touchpoint_core::targeting::Experience, Verdict)], now: i64) -> Vec<crate::debug::Row> {
    verdicts
        .iter()
        .map(|(e, v)| crate::debug::Row {
            id: e.id().to_owned(),
            kind: e.kind().name(),
            eligible: v.is_eligible(),
            status: match v {
                Verdict::Eligible { show_at_ms } if *show_at_ms > now => {
                    format!("eligible in {} s (delay)", (show_at_ms - now + 999) / 1000)
                }
                Verdict::Eligible { .. } => "eligible: shows now".into(),
                Verdict::Blocked(r) => format!("{}: {r}", r.rule().name()),
            },
        })
        .collect()
}

/// How many experiences this browser session (tab) has shown: `sessionStorage`,
/// so a reload is the same session and a new tab a new one.
mod session {
    fn key() -> Option<String> {
        crate::context::project_key().map(|k| format!("touchpoint:{k}:session_shown"))
    }

    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.session_storage().ok().flatten()
    }

    pub fn shown() -> u32 {
        let (Some(s), Some(k)) = (storage(), key()) else { return 0 };
        s.get_item(&k).ok().flatten().and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    pub fn count_one() {
        if let (Some(s), Some(k)) = (storage(), key()) {
            let _ = s.set_item(&k, &(shown() + 1).to_string());
        }
    }
}
