//! The debug overlay (`?touchpoint_debug=1` or `Touchpoint.debug(true)`):
//! every experience of the remote config with what the attention budget
//! says about it right now — the same verdicts `why(id)` gives — so a
//! product team can see on their own page why a survey does not show; and
//! the dead letters (events the collector rejected, which the first module
//! keeps in `localStorage`), with the call that sends them again.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use web_sys::Element;

use crate::dead_letters::{self, Letter};
use crate::dom::{self, el, text_el, with};
use crate::{context, host, page};

/// One experience's line.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub id: String,
    pub kind: &'static str,
    pub eligible: bool,
    /// `rule: sentence`, or when it shows.
    pub status: String,
}

struct Overlay {
    host: Element,
    /// Replaced whole when the rows change.
    body: Element,
    rows: Option<Vec<Row>>,
    /// Replaced whole when the dead letters change.
    dead: Element,
    letters: Vec<Letter>,
    /// The "Send them again" button's.
    _on_replay: Closure<dyn FnMut(web_sys::Event)>,
}

thread_local! {
    static OVERLAY: RefCell<Option<Overlay>> = const { RefCell::new(None) };
}

/// Whether the overlay is on (the scheduler only builds its rows then).
pub fn enabled() -> bool {
    OVERLAY.with(|o| o.borrow().is_some())
}

/// Shows or removes the overlay. It fills at the scheduler's next decision.
pub fn enable(on: bool) -> Result<(), String> {
    if !on {
        if let Some(o) = OVERLAY.with(|o| o.borrow_mut().take()) {
            o.host.remove();
        }
        return Ok(());
    }
    if enabled() {
        return Ok(());
    }
    let (host, container) = host::mount("debug")?;
    let letters = letters();
    let on_replay = Closure::<dyn FnMut(web_sys::Event)>::new(|ev: web_sys::Event| {
        if crate::dom::closest_attribute(ev.target(), "data-tp-replay").is_some() {
            replay();
        }
    });
    let built = (|| -> dom::Result<(Element, Element)> {
        let section = el("section", "tp-debug", &[("aria-label", "Touchpoint debug")])?;
        let (body, dead) = (body(&[])?, dead_body(&letters)?);
        let section = with(section, &[&text_el("h2", "tp-debug-title", &[], "Touchpoint debug")?, &body, &dead])?;
        section.add_event_listener_with_callback("click", on_replay.as_ref().unchecked_ref())?;
        container.append_child(&section)?;
        Ok((body, dead))
    })();
    let (body, dead) = built.map_err(|e| page::describe(&e))?;
    OVERLAY.with(|o| *o.borrow_mut() = Some(Overlay { host, body, rows: None, dead, letters, _on_replay: on_replay }));
    Ok(())
}

/// The dead letters of this project, oldest first.
fn letters() -> Vec<Letter> {
    context::project_key().map(|key| dead_letters::list(&key)).unwrap_or_default()
}

/// `Touchpoint.replayDeadLetters()`, or the overlay's button: the dead
/// letters go back in the queue and are sent soon; how many.
pub fn replay() -> usize {
    let Some(key) = context::project_key() else { return 0 };
    if context::targeting_inputs().is_some_and(|p| p.opted_out) {
        page::warn("replayDeadLetters: this browser opted out; nothing is sent");
        return 0;
    }
    let moved = dead_letters::replay(&key);
    if moved > 0 {
        host::send();
    }
    show_letters();
    moved
}

/// Shows the dead letters as they are now, if the overlay is on.
fn show_letters() {
    if !enabled() {
        return;
    }
    let letters = letters();
    OVERLAY.with(|o| {
        let mut o = o.borrow_mut();
        let Some(overlay) = o.as_mut().filter(|o| o.letters != letters) else { return };
        match dead_body(&letters).and_then(|new| overlay.dead.replace_with_with_node_1(&new).map(|_| new)) {
            Ok(new) => {
                overlay.dead = new;
                overlay.letters = letters;
            }
            Err(e) => page::error(&format!("debug: {}", page::describe(&e))),
        }
    });
}

/// The latest verdicts, shown if the overlay is on (and the dead letters as they are now).
pub fn update(rows: Vec<Row>) {
    show_letters();
    OVERLAY.with(|o| {
        let mut o = o.borrow_mut();
        let Some(overlay) = o.as_mut().filter(|o| o.rows.as_ref() != Some(&rows)) else { return };
        match body(&rows).and_then(|new| overlay.body.replace_with_with_node_1(&new).map(|_| new)) {
            Ok(new) => {
                overlay.body = new;
                overlay.rows = Some(rows);
            }
            Err(e) => page::error(&format!("debug: {}", page::describe(&e))),
        }
    });
}

fn body(rows: &[Row]) -> dom::Result<Element> {
    if rows.is_empty() {
        return text_el("p", "tp-debug-empty", &[], "No remote config loaded: nothing is targeted.");
    }
    let list = el("ul", "tp-debug-list", &[])?;
    for row in rows {
        let eligible = if row.eligible { "true" } else { "false" };
        let li = el("li", "tp-debug-row", &[("data-experience", &row.id), ("data-eligible", eligible)])?;
        let li = with(
            li,
            &[
                &text_el("code", "", &[], &row.id)?,
                &text_el("span", "tp-debug-kind", &[], row.kind)?,
                &text_el("span", "tp-debug-status", &[], &row.status)?,
            ],
        )?;
        list.append_child(&li)?;
    }
    Ok(list)
}

fn dead_body(letters: &[Letter]) -> dom::Result<Element> {
    let title = text_el("h3", "tp-debug-title", &[], &format!("Dead letters ({})", letters.len()))?;
    let section = with(el("div", "tp-debug-dead", &[])?, &[&title])?;
    if letters.is_empty() {
        let none = text_el("p", "tp-debug-empty", &[], "None: every event was taken or is queued.")?;
        return with(section, &[&none]);
    }
    let list = el("ul", "tp-debug-list", &[])?;
    for letter in letters {
        let li = with(
            el("li", "tp-debug-row", &[])?,
            &[&text_el("code", "", &[], &letter.what)?, &text_el("span", "tp-debug-status", &[], &letter.reason)?],
        )?;
        list.append_child(&li)?;
    }
    let hint = "The collector rejected these. Touchpoint.replayDeadLetters(), or this button, sends them again.";
    let button = text_el("button", "tp-secondary", &[("type", "button"), ("data-tp-replay", "")], "Send them again")?;
    with(section, &[&list, &text_el("p", "tp-debug-empty", &[], hint)?, &button])
}
