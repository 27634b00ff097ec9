//! Putting views on the page: each widget gets its own element with an open
//! shadow root, so the host's CSS cannot reach in and ours cannot leak out.
//!
//! The survey card and the debug overlay are built here with plain DOM calls
//! (`dom`): they are what the page needs first, and this module carries no
//! view framework. The checklist and help dock is the second wasm module
//! (`crates/views`, Leptos), which `dock` loads once it has something to show.

pub mod debug;
mod dock;
mod dom;
mod survey_card;

use std::cell::RefCell;

use wasm_bindgen::JsCast;

use crate::browser;

pub use dock::{
    can_nudge, checklist_changed, clear_checklist, nudge_open, open_help, open_panel, open_panel_now, set_loader,
    show_checklist, show_help, Panel,
};
pub use survey_card::{show_survey, survey_on_screen, survey_on_screen_id};

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

/// Closes open panels and the survey (which then counts as dismissed).
pub fn hide() {
    open_panel(Panel::Nothing);
    survey_card::dismiss();
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
