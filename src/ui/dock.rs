//! The bottom-left dock: one shadow host with the launchers of the
//! checklist and the help panel side by side, and at most one of their
//! panels open above them.

use leptos::prelude::*;

use super::checklist_panel::{ChecklistLauncher, ChecklistPanel};
use super::help_panel::HelpPanel;
use crate::checklist::Live;
use crate::help::Content;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Open {
    Nothing,
    Checklist,
    Help,
}

/// Signals shared by the dock's parts; set from outside as content loads.
#[derive(Clone, Copy)]
pub struct Dock {
    pub open: RwSignal<Open>,
    pub checklist: RwSignal<Option<Live>>,
    pub help: RwSignal<Option<StoredValue<std::sync::Arc<Content>>>>,
    /// The user's segment (from the checklist choice), for help suggestions.
    pub segment: RwSignal<Option<String>>,
    /// The page path, updated on client-side navigation.
    pub path: RwSignal<String>,
}

#[component]
pub fn DockView(dock: Dock) -> impl IntoView {
    let toggle_help = move |_| dock.open.update(|o| *o = if *o == Open::Help { Open::Nothing } else { Open::Help });
    view! {
        <div class="tp-dock" on:keydown=move |ev: leptos::ev::KeyboardEvent| {
            if ev.key() == "Escape" {
                dock.open.set(Open::Nothing);
            }
        }>
            {move || dock.checklist.get().map(|live| view! { <ChecklistPanel live open=dock.open /> })}
            {move || dock.help.get().map(|content| view! { <HelpPanel content dock /> })}
            <div class="tp-dock-launchers">
                {move || dock.checklist.get().map(|live| view! { <ChecklistLauncher live open=dock.open /> })}
                {move || {
                    dock.help
                        .get()
                        .map(|_| {
                            view! {
                                <button
                                    type="button"
                                    class="tp-launcher tp-help-launcher"
                                    aria-expanded=move || (dock.open.get() == Open::Help).to_string()
                                    on:click=toggle_help
                                >
                                    <span class="tp-help-icon" aria-hidden="true">"?"</span>
                                    "Help"
                                </button>
                            }
                        })
                }}
            </div>
        </div>
    }
}
