//! Putting widgets on the page: each gets its own `<touchpoint-widget>`
//! element with an open shadow root, so the host's CSS cannot reach in and
//! ours cannot leak out. The card is mounted here; so are the second
//! module's dock and debug overlay, through the bridge (`hostShadow`), so the
//! theme, the locale and the stylesheet live in one place.
//!
//! Every host covers the visual viewport (the part of the page on screen)
//! and lets pointers through; the stylesheet places the widget inside it.
//! `position: fixed` alone is relative to the layout viewport, which is wider
//! than the screen on a page that overflows sideways and taller than what
//! is visible while the virtual keyboard is up.

use std::cell::Cell;

use crate::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::browser;
use crate::strings::Strings;
use crate::text::{cat, num};

/// The card's stylesheet (the base and the card), `card.css` minified by
/// `build.rs`. The second module adopts its own (dock, panels, debug) beside
/// it. The layout's reasons:
/// - `.tp-root` fills the host (the visual viewport) and is a size container:
///   the widget inside (`.tp-root > *`) sits in the corner `data-at` names,
///   clear of `env(safe-area-inset-*)`, never larger than what is visible (the
///   card scrolls inside instead of losing its top behind the keyboard).
/// - `@container (max-width: 480px)`: a phone. The card spans the screen and a
///   scale longer than 7 takes two rows (`--n2` columns, set by the card),
///   the second pushed right so 0 and 10 stay at the ends under their labels.
/// - `@container (max-height: 440px)`: a landscape phone or the virtual
///   keyboard up; tighter spacing keeps the text field and Send in view.
/// - `@media (pointer: coarse)`: 44 px touch targets (24 px is the floor everywhere).
const CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/card.min.css"));

/// Set on the host element through CSSOM (`style.setProperty`, allowed under a
/// strict CSP) with `important`: it is the one node the host page's
/// stylesheets can match (`* { all: unset !important }`, `div { display: none }`),
/// and inline important declarations win over any author stylesheet.
const HOST_STYLE: &[(&str, &str)] = &[
    ("all", "initial"),
    ("display", "block"),
    ("position", "fixed"),
    // The layout viewport until `follow` knows the visual one.
    ("inset", "0"),
    ("z-index", "2147483000"),
    ("visibility", "visible"),
    ("opacity", "1"),
    ("pointer-events", "none"),
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
    /// The hosts `follow` keeps over the visual viewport.
    static HOSTS: RefCell<Vec<web_sys::HtmlElement>> = const { RefCell::new(Vec::new()) };
    static FOLLOWING: Cell<bool> = const { Cell::new(false) };
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
    for (name, value) in HOST_STYLE {
        style.set_property_with_priority(name, value, "important").map_err(describe)?;
    }
    // Where in the viewport the widget sits (card.css reads it).
    let at = match (corner, theme.position) {
        (Corner::Survey, Side::Right) | (Corner::Dock, Side::Left) => "right",
        (Corner::Survey, Side::Left) | (Corner::Dock, Side::Right) => "left",
        (Corner::Debug, _) => "top",
    };
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
    container.set_attribute("data-at", at).map_err(describe)?;
    shadow.append_child(&container).map_err(describe)?;
    follow(&host);
    body.append_child(&host).map_err(describe)?;
    Ok((host.into(), container))
}

/// Keeps `host` over the visual viewport as it pans, zooms and shrinks
/// (one listener for all hosts; removed hosts are dropped at the next move).
fn follow(host: &web_sys::HtmlElement) {
    place(host);
    HOSTS.with(|h| h.borrow_mut().push(host.clone()));
    let Some(viewport) = visual_viewport() else { return };
    if FOLLOWING.replace(true) {
        return;
    }
    let moved = Closure::<dyn FnMut()>::new(|| {
        HOSTS.with(|h| {
            h.borrow_mut().retain(|host| {
                place(host);
                host.is_connected()
            })
        })
    });
    let target: &web_sys::EventTarget = viewport.unchecked_ref();
    for kind in ["resize", "scroll"] {
        let _ = target.add_event_listener_with_callback(kind, moved.as_ref().unchecked_ref());
    }
    moved.forget();
}

fn visual_viewport() -> Option<JsValue> {
    browser::js::get(&web_sys::window()?.into(), "visualViewport")
}

/// Sizes `host` to the visual viewport, in the layout viewport's coordinates
/// (whole pixels: a fraction inside the screen is as good).
fn place(host: &web_sys::HtmlElement) {
    let Some(viewport) = visual_viewport() else { return };
    let style = host.style();
    for (name, field) in [("left", "offsetLeft"), ("top", "offsetTop"), ("width", "width"), ("height", "height")] {
        let n = browser::js::get(&viewport, field).and_then(|v| v.as_f64()).unwrap_or(0.0);
        let _ = style.set_property_with_priority(name, &cat(&[&num(n as u64), "px"]), "important");
    }
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
