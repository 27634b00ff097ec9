//! The bottom-left dock: one shadow host with the launchers of the
//! checklist and the help panel side by side, and at most one of their
//! panels open above them.

use leptos::prelude::*;

use crate::checklist_panel::{ChecklistLauncher, ChecklistPanel, Live};
use crate::help::Content;
use crate::help_panel::HelpPanel;
use crate::host::{self, t};

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
    /// The help search box (settable by `openHelp(query)`).
    pub query: RwSignal<String>,
    /// The next opening is a nudge's, unasked: focus stays where the user has it.
    pub quiet: StoredValue<bool>,
}

#[component]
pub fn DockView(dock: Dock) -> impl IntoView {
    let toggle_help = move |_| dock.open.update(|o| *o = if *o == Open::Help { Open::Nothing } else { Open::Help });
    let root = NodeRef::<leptos::html::Div>::new();
    // Focus moves into a panel when it opens, and back to its launcher when it
    // closes — but only if focus was in the dock: a panel closed by the host's
    // code must not pull focus out of the page.
    Effect::new(move |prev: Option<Open>| {
        let now = dock.open.get();
        if let Some(prev) = prev.filter(|p| *p != now) {
            // The widget keeps targeting's view of the screen (a closed panel frees it).
            host::panel_changed(crate::exports::panel_name(now));
            if std::mem::take(&mut *dock.quiet.write_value()) {
                return now;
            }
            let (selector, only_if_inside) = match (prev, now) {
                (_, Open::Checklist) => (".tp-cl-panel .tp-cl-toggle", false),
                (_, Open::Help) => ("#tp-help-q, .tp-help-panel .tp-back", false),
                (Open::Checklist, Open::Nothing) => (".tp-cl-launcher", true),
                (Open::Help, Open::Nothing) => (".tp-help-launcher", true),
                (Open::Nothing, Open::Nothing) => return now,
            };
            focus_soon(root, selector, only_if_inside);
        }
        now
    });
    view! {
        <div class="tp-dock" node_ref=root on:keydown=move |ev: leptos::ev::KeyboardEvent| {
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
                                    {t("help.launcher")}
                                </button>
                            }
                        })
                }}
            </div>
        </div>
    }
}

fn focus_soon(root: NodeRef<leptos::html::Div>, selector: &'static str, only_if_inside: bool) {
    use wasm_bindgen::JsCast;
    host::set_timeout(0, move || {
        let Some(root) = root.get_untracked() else { return };
        if only_if_inside {
            let inside =
                root.get_root_node().dyn_into::<web_sys::ShadowRoot>().ok().and_then(|s| s.active_element()).is_some();
            if !inside {
                return;
            }
        }
        let target =
            root.query_selector(selector).ok().flatten().and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(el) = target {
            let _ = el.focus();
        }
    });
}
