//! Putting widgets on the page: each gets its own `<touchpoint-widget>`
//! element with an open shadow root, so the host's CSS cannot reach in and
//! ours cannot leak out. The card is mounted here; so are the second
//! module's dock and debug overlay, through the bridge (`hostShadow`), so the
//! theme, the locale and the stylesheet live in one place.

use std::cell::RefCell;

use wasm_bindgen::JsCast;

use crate::browser;
use crate::strings::Strings;

/// The card's stylesheet (the base and the card). The second module adopts
/// its own (dock, panels, debug) beside it.
const CSS: &str = include_str!("card.css");

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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Theme {
    /// Any CSS colour, e.g. `"#0f766e"`.
    pub accent: Option<String>,
    /// Text on the accent colour.
    pub accent_ink: Option<String>,
    /// A CSS font-family list.
    pub font: Option<String>,
    /// A CSS length, e.g. `"6px"`.
    pub radius: Option<String>,
    pub color_scheme: ColorScheme,
    /// Where the survey card sits; the help and checklist dock takes the other corner.
    pub position: Side,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum ColorScheme {
    /// Follows `prefers-color-scheme`.
    #[default]
    Auto,
    Light,
    Dark,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Side {
    Left,
    #[default]
    Right,
}

/// Which widget a host holds: the survey takes the theme's side, the dock the other.
#[derive(Clone, Copy, PartialEq)]
pub enum Corner {
    Survey,
    Dock,
    /// The debug overlay: top left, out of the widgets' way.
    Debug,
}

impl Corner {
    pub fn from_name(name: &str) -> Option<Corner> {
        match name {
            "survey" => Some(Corner::Survey),
            "dock" => Some(Corner::Dock),
            "debug" => Some(Corner::Debug),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Corner::Survey => "survey",
            Corner::Dock => "dock",
            Corner::Debug => "debug",
        }
    }
}

thread_local! {
    /// One constructed stylesheet, adopted by every shadow root: no `<style>`
    /// element, so no `style-src 'unsafe-inline'` is needed.
    static SHEET: RefCell<Option<web_sys::CssStyleSheet>> = const { RefCell::new(None) };
}

/// A `<touchpoint-widget data-touchpoint=<corner>>` at the end of `<body>`
/// with an open shadow root that adopts our stylesheet, and the container
/// inside it that views go into.
pub fn mount(
    corner: Corner,
    theme: &Theme,
    strings: &Strings,
) -> Result<(web_sys::Element, web_sys::HtmlElement), String> {
    let describe = |e: wasm_bindgen::JsValue| browser::describe(&e);
    let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let body = doc.body().ok_or("the page has no <body> yet")?;
    let host: web_sys::HtmlElement =
        doc.create_element("touchpoint-widget").map_err(describe)?.dyn_into().map_err(|_| "not an HTMLElement")?;
    let style = host.style();
    let side = match (corner, theme.position) {
        (Corner::Survey, Side::Right) | (Corner::Dock, Side::Left) => "right",
        (Corner::Survey, Side::Left) | (Corner::Dock, Side::Right) | (Corner::Debug, _) => "left",
    };
    for (name, value) in HOST_STYLE.iter().copied().chain([(side, "16px")]) {
        style.set_property_with_priority(name, value, "important").map_err(describe)?;
    }
    if corner == Corner::Debug {
        for (name, value) in [("bottom", "auto"), ("top", "16px")] {
            style.set_property_with_priority(name, value, "important").map_err(describe)?;
        }
    }
    let custom = [
        ("--tp-accent", &theme.accent),
        ("--tp-accent-ink", &theme.accent_ink),
        ("--tp-font", &theme.font),
        ("--tp-radius", &theme.radius),
    ];
    for (name, value) in custom {
        if let Some(v) = value {
            style.set_property(name, v).map_err(describe)?;
        }
    }
    host.set_attribute("data-touchpoint", corner.name()).map_err(describe)?;
    let shadow = host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open)).map_err(describe)?;
    shadow.set_adopted_style_sheets(&js_sys::Array::of1(sheet()?.as_ref()));
    let container: web_sys::HtmlElement =
        doc.create_element("div").map_err(describe)?.dyn_into().map_err(|_| "not an HTMLElement")?;
    container.set_class_name("tp-root");
    let scheme = match theme.color_scheme {
        ColorScheme::Auto => "auto",
        ColorScheme::Light => "light",
        ColorScheme::Dark => "dark",
    };
    container.set_attribute("data-scheme", scheme).map_err(describe)?;
    container.set_attribute("lang", &strings.locale).map_err(describe)?;
    container.set_attribute("dir", if strings.rtl { "rtl" } else { "ltr" }).map_err(describe)?;
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
