//! The debug overlay (`?touchpoint_debug=1` or `Touchpoint.debug(true)`):
//! every experience of the remote config with what the attention budget
//! says about it right now — the same verdicts `why(id)` gives — so a
//! product team can see on their own page why a survey does not show.

use std::cell::RefCell;

use web_sys::Element;

use crate::dom::{self, el, text_el, with};
use crate::{host, page};

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
    let built = (|| -> dom::Result<Element> {
        let section = el("section", "tp-debug", &[("aria-label", "Touchpoint debug")])?;
        let body = body(&[])?;
        let section = with(section, &[&text_el("h2", "tp-debug-title", &[], "Touchpoint debug")?, &body])?;
        container.append_child(&section)?;
        Ok(body)
    })();
    let body = built.map_err(|e| page::describe(&e))?;
    OVERLAY.with(|o| *o.borrow_mut() = Some(Overlay { host, body, rows: None }));
    Ok(())
}

/// The latest verdicts, shown if the overlay is on.
pub fn update(rows: Vec<Row>) {
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
