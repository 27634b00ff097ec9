//! Just enough DOM building for the survey card, the dock's launchers and
//! the debug overlay.
//! Text only ever goes in with `textContent` and attribute values: nothing
//! from a definition is parsed as HTML.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element};

pub type Result<T> = std::result::Result<T, JsValue>;

pub fn document() -> Result<Document> {
    web_sys::window().and_then(|w| w.document()).ok_or_else(|| JsValue::from_str("no document"))
}

/// `<tag class=class>` with `attrs`.
pub fn el(tag: &str, class: &str, attrs: &[(&str, &str)]) -> Result<Element> {
    let e = document()?.create_element(tag)?;
    if !class.is_empty() {
        e.set_class_name(class);
    }
    for (name, value) in attrs {
        e.set_attribute(name, value)?;
    }
    Ok(e)
}

/// [`el`] holding `text` as a text node.
pub fn text_el(tag: &str, class: &str, attrs: &[(&str, &str)], text: &str) -> Result<Element> {
    let e = el(tag, class, attrs)?;
    e.set_text_content(Some(text));
    Ok(e)
}

/// Appends `children` to `parent`, returning `parent`.
pub fn with(parent: Element, children: &[&Element]) -> Result<Element> {
    for c in children {
        parent.append_child(c)?;
    }
    Ok(parent)
}

/// Appends a freshly built `child` to `parent`.
pub fn push(parent: &Element, child: Result<Element>) -> Result<()> {
    let child = child?;
    parent.append_child(&child)?;
    Ok(())
}

/// Attribute `name` of the event's target or its nearest ancestor that has
/// one (within the shadow root the target is in).
pub fn closest_attribute(target: Option<web_sys::EventTarget>, name: &str) -> Option<String> {
    let mut selector = String::with_capacity(name.len() + 2);
    selector.push('[');
    selector.push_str(name);
    selector.push(']');
    target?.dyn_into::<Element>().ok()?.closest(&selector).ok()??.get_attribute(name)
}
