//! Putting views on the page: each widget gets its own element with an open
//! shadow root, so the host's CSS cannot reach in and ours cannot leak out.

mod checklist_panel;
mod dock;
mod help_panel;
mod survey_card;

use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;

use leptos::prelude::*;
use touchpoint_core::survey::Survey;
use touchpoint_protocol::EventKind;
use wasm_bindgen::JsCast;

use crate::{browser, sdk};
use dock::{Dock, DockView, Open};
use survey_card::SurveyCard;

use crate::checklist::Live;
use crate::help::Content;

const CSS: &str = include_str!("style.css");

/// Inline and `!important` on the host element: the one node the host page's
/// stylesheets can match (`* { all: unset !important }`, `div { display: none }`).
/// Inline important declarations win over any author stylesheet.
const HOST_STYLE: &str = "all: initial !important; display: block !important; position: fixed !important; \
    bottom: 16px !important; z-index: 2147483000 !important; \
    visibility: visible !important; opacity: 1 !important;";

/// Which bottom corner a widget sits in: the survey right, the checklist left,
/// so both can be up at once without covering each other.
#[derive(Clone, Copy)]
enum Corner {
    Left,
    Right,
}

/// The mounted survey; dropping it unmounts the Leptos view.
struct Mounted {
    host: web_sys::Element,
    _view: Box<dyn Any>,
}

thread_local! {
    static SURVEY: RefCell<Option<Mounted>> = const { RefCell::new(None) };
    static DOCK: RefCell<Option<(Mounted, Dock)>> = const { RefCell::new(None) };
}

/// The dock, mounted on first use.
fn dock() -> Result<Dock, String> {
    if let Some(d) = DOCK.with(|d| d.borrow().as_ref().map(|(_, d)| *d)) {
        return Ok(d);
    }
    let (host, container) =
        shadow_host("dock", Corner::Left).map_err(|e| format!("could not add the help and checklist dock: {e}"))?;
    let dock = Dock {
        open: RwSignal::new(Open::Nothing),
        checklist: RwSignal::new(None),
        help: RwSignal::new(None),
        segment: RwSignal::new(None),
        path: RwSignal::new(crate::route::current_path()),
    };
    crate::route::on_change(move |path| dock.path.set(path));
    let view = leptos::mount::mount_to(container, move || view! { <DockView dock /> });
    DOCK.with(|d| *d.borrow_mut() = Some((Mounted { host, _view: Box::new(view) }, dock)));
    Ok(dock)
}

/// Shows (or, for a new user, replaces) the checklist in the dock.
pub fn show_checklist(live: Live, segment: String) -> Result<(), String> {
    let dock = dock()?;
    dock.segment.set(Some(segment));
    dock.checklist.set(Some(live));
    Ok(())
}

/// Adds the help launcher and panel to the dock.
pub fn show_help(content: Arc<Content>) -> Result<(), String> {
    let dock = dock()?;
    dock.help.set(Some(StoredValue::new(content)));
    Ok(())
}

pub fn survey_on_screen() -> bool {
    SURVEY.with(|s| s.borrow().is_some())
}

pub fn show_survey(survey: Arc<Survey>) -> Result<(), String> {
    let (host, container) =
        shadow_host("survey", Corner::Right).map_err(|e| format!("could not add the survey to the page: {e}"))?;
    let survey_id = survey.id().to_owned();
    let response_id = browser::uuid();
    sdk::emit(EventKind::SurveyShown { survey_id, response_id: response_id.clone() });
    let view = leptos::mount::mount_to(container, move || view! { <SurveyCard survey response_id /> });
    SURVEY.with(|s| *s.borrow_mut() = Some(Mounted { host, _view: Box::new(view) }));
    Ok(())
}

/// Removes the survey. Deferred to a fresh task: it is called from the
/// card's own event handlers, which must finish before their view is dropped.
pub fn close_survey() {
    browser::set_timeout(0, || {
        if let Some(m) = SURVEY.with(|s| s.borrow_mut().take()) {
            m.host.remove();
        }
    });
}

/// A `<touchpoint-widget>` at the end of `<body>` with an open shadow root
/// holding our stylesheet and the container that Leptos mounts into.
fn shadow_host(kind: &str, corner: Corner) -> Result<(web_sys::Element, web_sys::HtmlElement), String> {
    let describe = |e: wasm_bindgen::JsValue| browser::describe(&e);
    let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let body = doc.body().ok_or("the page has no <body> yet")?;
    let host = doc.create_element("touchpoint-widget").map_err(describe)?;
    let side = match corner {
        Corner::Left => "left: 16px !important;",
        Corner::Right => "right: 16px !important;",
    };
    host.set_attribute("style", &format!("{HOST_STYLE} {side}")).map_err(describe)?;
    host.set_attribute("data-touchpoint", kind).map_err(describe)?;
    let shadow = host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open)).map_err(describe)?;
    let style = doc.create_element("style").map_err(describe)?;
    style.set_text_content(Some(CSS));
    shadow.append_child(&style).map_err(describe)?;
    let container: web_sys::HtmlElement =
        doc.create_element("div").map_err(describe)?.dyn_into().map_err(|_| "not an HTMLElement".to_owned())?;
    container.set_class_name("tp-root");
    shadow.append_child(&container).map_err(describe)?;
    body.append_child(&host).map_err(describe)?;
    Ok((host, container))
}
