//! The dock's panels: the checklist's and the help's, at most one open,
//! above the launchers (which the widget draws, so a page pays for this
//! module only once someone opens a panel).

use leptos::prelude::*;

use crate::checklist_panel::{ChecklistPanel, Live};
use crate::help::Content;
use crate::help_panel::HelpPanel;
use crate::host;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Open {
    Nothing,
    Checklist,
    Help,
}

/// Signals shared by the dock's parts; set by the widget (`exports`).
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
    let root = NodeRef::<leptos::html::Div>::new();
    // The panel shown before: the first opening (often the one this module
    // was loaded for) moves focus too.
    let before = StoredValue::new(Open::Nothing);
    // Focus moves into a panel when it opens, and back to its launcher when it
    // closes — but only if focus was in the dock: a panel closed by the host's
    // code must not pull focus out of the page.
    Effect::new(move |_| {
        let now = dock.open.get();
        let prev = before.get_value();
        if prev == now {
            return;
        }
        before.set_value(now);
        // The widget keeps targeting's view of the screen (a closed panel frees it) and the launchers.
        host::panel_changed(crate::panels::panel_name(now));
        if std::mem::take(&mut *dock.quiet.write_value()) {
            return;
        }
        let (selector, only_if_inside) = match (prev, now) {
            (_, Open::Checklist) => (".tp-cl-panel .tp-cl-toggle", false),
            (_, Open::Help) => ("#tp-help-q, .tp-help-panel .tp-back", false),
            (Open::Checklist, Open::Nothing) => (".tp-cl-launcher", true),
            (Open::Help, Open::Nothing) => (".tp-help-launcher", true),
            (Open::Nothing, Open::Nothing) => return,
        };
        focus_soon(root, selector, only_if_inside);
    });
    view! {
        <div class="tp-dock-panels" node_ref=root>
            {move || dock.checklist.get().map(|live| view! { <ChecklistPanel live open=dock.open /> })}
            {move || dock.help.get().map(|content| view! { <HelpPanel content dock /> })}
        </div>
    }
}

/// Focuses `selector` in the dock's shadow root (the launchers are the widget's, outside this view).
fn focus_soon(root: NodeRef<leptos::html::Div>, selector: &'static str, only_if_inside: bool) {
    use wasm_bindgen::JsCast;
    host::set_timeout(0, move || {
        let Some(shadow) = root.get_untracked().and_then(|r| r.get_root_node().dyn_into::<web_sys::ShadowRoot>().ok())
        else {
            return;
        };
        if only_if_inside && shadow.active_element().is_none() {
            return;
        }
        let target =
            shadow.query_selector(selector).ok().flatten().and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(el) = target {
            let _ = el.focus();
        }
    });
}
