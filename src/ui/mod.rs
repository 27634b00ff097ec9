//! Putting views on the page: each widget gets its own element with an open
//! shadow root, so the host's CSS cannot reach in and ours cannot leak out.

mod checklist_panel;
pub mod debug;
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

/// Set on the host element through CSSOM (`style.setProperty`, allowed under a
/// strict CSP) with `important`: it is the one node the host page's
/// stylesheets can match (`* { all: unset !important }`, `div { display: none }`),
/// and inline important declarations win over any author stylesheet.
const HOST_STYLE: &[(&str, &str)] = &[
    ("all", "initial"),
    ("display", "block"),
    ("position", "fixed"),
    ("bottom", "16px"),
    ("z-index", "2147483000"),
    ("visibility", "visible"),
    ("opacity", "1"),
];

/// How the widgets look; from the `theme` option.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Theme {
    /// Any CSS colour, e.g. `"#0f766e"`.
    pub accent: Option<String>,
    /// Text on the accent colour.
    pub accent_ink: Option<String>,
    /// A CSS font-family list.
    pub font: Option<String>,
    /// A CSS length, e.g. `"6px"`.
    pub radius: Option<String>,
    #[serde(default)]
    pub color_scheme: ColorScheme,
    /// Where the survey card sits; the help and checklist dock takes the other corner.
    #[serde(default)]
    pub position: Side,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorScheme {
    /// Follows `prefers-color-scheme`.
    #[default]
    Auto,
    Light,
    Dark,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    #[default]
    Right,
}

thread_local! {
    static THEME: RefCell<Theme> = RefCell::new(Theme::default());
    /// One constructed stylesheet, adopted by every shadow root: no `<style>`
    /// element, so no `style-src 'unsafe-inline'` is needed.
    static SHEET: RefCell<Option<web_sys::CssStyleSheet>> = const { RefCell::new(None) };
    static MESSAGES: RefCell<touchpoint_core::i18n::Messages> = RefCell::new(Default::default());
}

pub fn set_theme(theme: Theme) {
    THEME.with(|t| *t.borrow_mut() = theme);
}

pub fn set_messages(messages: touchpoint_core::i18n::Messages) {
    MESSAGES.with(|m| *m.borrow_mut() = messages);
}

/// The user-facing string `key` in the chosen locale.
pub fn t(key: &str) -> String {
    MESSAGES.with(|m| m.borrow().get(key))
}

/// [`t`] with `{name}` placeholders filled.
pub fn tf(key: &str, args: &[(&str, &str)]) -> String {
    MESSAGES.with(|m| m.borrow().fill(key, args))
}

/// Which widget a host holds: the survey takes the theme's side, the dock the other.
#[derive(Clone, Copy)]
enum Corner {
    Survey,
    Dock,
    /// The debug overlay: top left, out of the widgets' way.
    Debug,
}

/// The mounted survey; dropping it unmounts the Leptos view.
struct Mounted {
    host: web_sys::Element,
    _view: Box<dyn Any>,
}

thread_local! {
    static SURVEY: RefCell<Option<Mounted>> = const { RefCell::new(None) };
    static DOCK: RefCell<Option<(Mounted, Dock)>> = const { RefCell::new(None) };
    static SURVEY_CLOSER: RefCell<Option<Box<dyn Fn()>>> = const { RefCell::new(None) };
    /// The id of the survey in `SURVEY`.
    static SURVEY_ID: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The dock, mounted on first use.
fn dock() -> Result<Dock, String> {
    if let Some(d) = DOCK.with(|d| d.borrow().as_ref().map(|(_, d)| *d)) {
        return Ok(d);
    }
    let (host, container) =
        shadow_host("dock", Corner::Dock).map_err(|e| format!("could not add the help and checklist dock: {e}"))?;
    let dock = Dock {
        open: RwSignal::new(Open::Nothing),
        checklist: RwSignal::new(None),
        help: RwSignal::new(None),
        segment: RwSignal::new(None),
        path: RwSignal::new(crate::route::current_path()),
        query: RwSignal::new(String::new()),
        quiet: StoredValue::new(false),
    };
    crate::route::on_change(move |path| dock.path.set(path));
    let view = leptos::mount::mount_to(container, move || view! { <DockView dock /> });
    DOCK.with(|d| *d.borrow_mut() = Some((Mounted { host, _view: Box::new(view) }, dock)));
    Ok(dock)
}

pub use dock::Open as Panel;

/// Opens a dock panel; `false` when it has nothing to show.
pub fn open_panel(panel: Panel) -> bool {
    let Some(dock) = DOCK.with(|d| d.borrow().as_ref().map(|(_, d)| *d)) else { return false };
    let available = match panel {
        Panel::Checklist => dock.checklist.with_untracked(|c| c.is_some_and(|l| !l.dismissed.get_untracked())),
        Panel::Help => dock.help.with_untracked(Option::is_some),
        Panel::Nothing => true,
    };
    if available {
        dock.open.set(panel);
    }
    available
}

/// The panel open now, if one is.
pub fn open_panel_now() -> Option<Panel> {
    let dock = DOCK.with(|d| d.borrow().as_ref().map(|(_, d)| *d))?;
    Some(dock.open.get_untracked()).filter(|p| *p != Panel::Nothing)
}

/// Whether a nudge could open `panel`: a checklist the user has not
/// finished or dismissed; help content.
pub fn can_nudge(panel: Panel) -> bool {
    let Some(dock) = DOCK.with(|d| d.borrow().as_ref().map(|(_, d)| *d)) else { return false };
    match panel {
        Panel::Checklist => dock.checklist.with_untracked(|c| {
            c.is_some_and(|l| {
                !l.dismissed.get_untracked() && !l.progress.with_untracked(|p| p.is_complete(&l.checklist.get_value()))
            })
        }),
        Panel::Help => dock.help.with_untracked(Option::is_some),
        Panel::Nothing => false,
    }
}

/// Opens `panel` for a nudge: like [`open_panel`], without taking focus.
pub fn nudge_open(panel: Panel) -> bool {
    let Some(dock) = DOCK.with(|d| d.borrow().as_ref().map(|(_, d)| *d)) else { return false };
    dock.quiet.set_value(true);
    let opened = open_panel(panel);
    if !opened {
        dock.quiet.set_value(false);
    }
    opened
}

pub fn open_help(query: Option<String>) -> bool {
    let opened = open_panel(Panel::Help);
    if let (true, Some(q)) = (opened, query) {
        if let Some(dock) = DOCK.with(|d| d.borrow().as_ref().map(|(_, d)| *d)) {
            dock.query.set(q);
        }
    }
    opened
}

/// Closes open panels and the survey (which then counts as dismissed).
pub fn hide() {
    open_panel(Panel::Nothing);
    if let Some(close) = SURVEY_CLOSER.with(|c| c.borrow_mut().take()) {
        close();
    }
}

/// Removes the checklist (after `reset()`), until one loads for the new visitor.
pub fn clear_checklist() {
    if let Some(dock) = DOCK.with(|d| d.borrow().as_ref().map(|(_, d)| *d)) {
        dock.checklist.set(None);
        dock.segment.set(None);
    }
}

/// Lets `hide()` close the survey the way its own close button does.
pub fn register_survey_closer(close: impl Fn() + 'static) {
    SURVEY_CLOSER.with(|c| *c.borrow_mut() = Some(Box::new(close)));
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

pub fn survey_on_screen_id() -> Option<String> {
    SURVEY_ID.with(|s| s.borrow().clone()).filter(|_| survey_on_screen())
}

pub fn show_survey(survey: Arc<Survey>) -> Result<(), String> {
    let (host, container) =
        shadow_host("survey", Corner::Survey).map_err(|e| format!("could not add the survey to the page: {e}"))?;
    let survey_id = survey.id().to_owned();
    SURVEY_ID.with(|s| *s.borrow_mut() = Some(survey_id.clone()));
    let response_id = browser::uuid();
    crate::bus::dispatch_json("survey:shown", &serde_json::json!({ "surveyId": survey_id, "responseId": response_id }));
    sdk::emit(EventKind::SurveyShown { survey_id, response_id: response_id.clone() });
    let view = leptos::mount::mount_to(container, move || view! { <SurveyCard survey response_id /> });
    SURVEY.with(|s| *s.borrow_mut() = Some(Mounted { host, _view: Box::new(view) }));
    Ok(())
}

/// Removes the survey. Deferred to a fresh task: it is called from the
/// card's own event handlers, which must finish before their view is dropped.
pub fn close_survey() {
    browser::set_timeout(0, || {
        SURVEY_CLOSER.with(|c| c.borrow_mut().take());
        if let Some(m) = SURVEY.with(|s| s.borrow_mut().take()) {
            m.host.remove();
        }
        // The screen is free: another survey may be due (cooldowns permitting).
        crate::targeting::decide();
    });
}

/// A `<touchpoint-widget>` at the end of `<body>` with an open shadow root
/// that adopts our stylesheet and holds the container Leptos mounts into.
fn shadow_host(kind: &str, corner: Corner) -> Result<(web_sys::Element, web_sys::HtmlElement), String> {
    let describe = |e: wasm_bindgen::JsValue| browser::describe(&e);
    let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let body = doc.body().ok_or("the page has no <body> yet")?;
    let host: web_sys::HtmlElement = doc
        .create_element("touchpoint-widget")
        .map_err(describe)?
        .dyn_into()
        .map_err(|_| "not an HTMLElement".to_owned())?;
    let theme = THEME.with(|t| t.borrow().clone());
    let style = host.style();
    let side = match (corner, theme.position) {
        (Corner::Survey, Side::Right) | (Corner::Dock, Side::Left) => "right",
        (Corner::Survey, Side::Left) | (Corner::Dock, Side::Right) | (Corner::Debug, _) => "left",
    };
    let custom = [
        ("--tp-accent", &theme.accent),
        ("--tp-accent-ink", &theme.accent_ink),
        ("--tp-font", &theme.font),
        ("--tp-radius", &theme.radius),
    ];
    for (name, value) in HOST_STYLE.iter().copied().chain([(side, "16px")]) {
        style.set_property_with_priority(name, value, "important").map_err(describe)?;
    }
    if let Corner::Debug = corner {
        for (name, value) in [("bottom", "auto"), ("top", "16px")] {
            style.set_property_with_priority(name, value, "important").map_err(describe)?;
        }
    }
    for (name, value) in custom {
        if let Some(v) = value {
            style.set_property(name, v).map_err(describe)?;
        }
    }
    host.set_attribute("data-touchpoint", kind).map_err(describe)?;
    let shadow = host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open)).map_err(describe)?;
    shadow.set_adopted_style_sheets(&js_sys::Array::of1(sheet()?.as_ref()));
    let container: web_sys::HtmlElement =
        doc.create_element("div").map_err(describe)?.dyn_into().map_err(|_| "not an HTMLElement".to_owned())?;
    container.set_class_name("tp-root");
    let scheme = match theme.color_scheme {
        ColorScheme::Auto => "auto",
        ColorScheme::Light => "light",
        ColorScheme::Dark => "dark",
    };
    container.set_attribute("data-scheme", scheme).map_err(describe)?;
    let (lang, rtl) = MESSAGES.with(|m| (m.borrow().locale.clone(), m.borrow().rtl));
    container.set_attribute("lang", &lang).map_err(describe)?;
    container.set_attribute("dir", if rtl { "rtl" } else { "ltr" }).map_err(describe)?;
    shadow.append_child(&container).map_err(describe)?;
    body.append_child(&host).map_err(describe)?;
    Ok((host.into(), container))
}

fn sheet() -> Result<web_sys::CssStyleSheet, String> {
    if let Some(s) = SHEET.with(|s| s.borrow().clone()) {
        return Ok(s);
    }
    let sheet = web_sys::CssStyleSheet::new().map_err(|e| browser::describe(&e))?;
    sheet.replace_sync(CSS).map_err(|e| browser::describe(&e))?;
    SHEET.with(|s| *s.borrow_mut() = Some(sheet.clone()));
    Ok(sheet)
}
