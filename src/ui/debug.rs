//! The debug overlay (`?touchpoint_debug=1` or `Touchpoint.debug(true)`):
//! every experience of the remote config with what the attention budget
//! says about it right now — the same verdicts `why(id)` gives — so a
//! product team can see on their own page why a survey does not show.

use std::cell::RefCell;

use leptos::prelude::*;

use super::{shadow_host, Corner, Mounted};

/// One experience's line.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub id: String,
    pub kind: &'static str,
    pub eligible: bool,
    /// `rule: sentence`, or when it shows.
    pub status: String,
}

thread_local! {
    static ROWS: RefCell<Option<RwSignal<Vec<Row>>>> = const { RefCell::new(None) };
    static MOUNTED: RefCell<Option<Mounted>> = const { RefCell::new(None) };
}

/// Whether the overlay is on (the scheduler only builds its rows then).
pub fn enabled() -> bool {
    MOUNTED.with(|m| m.borrow().is_some())
}

/// Shows or removes the overlay. It fills at the scheduler's next decision.
pub fn enable(on: bool) -> Result<(), String> {
    if !on {
        ROWS.with(|r| r.borrow_mut().take());
        if let Some(m) = MOUNTED.with(|m| m.borrow_mut().take()) {
            m.host.remove();
        }
        return Ok(());
    }
    if enabled() {
        return Ok(());
    }
    let (host, container) = shadow_host("debug", Corner::Debug)?;
    let rows = RwSignal::new(Vec::new());
    let view = leptos::mount::mount_to(container, move || view! { <Overlay rows /> });
    ROWS.with(|r| *r.borrow_mut() = Some(rows));
    MOUNTED.with(|m| *m.borrow_mut() = Some(Mounted { host, _view: Box::new(view) }));
    Ok(())
}

/// The latest verdicts, shown if the overlay is on.
pub fn update(rows: Vec<Row>) {
    if let Some(signal) = ROWS.with(|r| *r.borrow()) {
        if signal.with_untracked(|old| *old != rows) {
            signal.set(rows);
        }
    }
}

#[component]
fn Overlay(rows: RwSignal<Vec<Row>>) -> impl IntoView {
    view! {
        <section class="tp-debug" aria-label="Touchpoint debug">
            <h2 class="tp-debug-title">"Touchpoint debug"</h2>
            <Show
                when=move || !rows.with(Vec::is_empty)
                fallback=|| view! { <p class="tp-debug-empty">"No remote config loaded: nothing is targeted."</p> }
            >
                <ul class="tp-debug-list">
                    <For each=move || rows.get() key=|r| (r.id.clone(), r.status.clone()) let:row>
                        <li class="tp-debug-row" data-experience=row.id.clone() data-eligible=row.eligible.to_string()>
                            <code>{row.id.clone()}</code>
                            <span class="tp-debug-kind">{row.kind}</span>
                            <span class="tp-debug-status">{row.status.clone()}</span>
                        </li>
                    </For>
                </ul>
            </Show>
        </section>
    }
}
