//! `Touchpoint.on(name, fn)` / `off`: host callbacks for what the widget
//! wants the host to know.
//!
//! Listeners are always called in a fresh task, never from inside our own
//! code: a listener that calls back into Touchpoint (or throws) cannot
//! re-enter state we are holding.

use crate::cell::RefCell;

use wasm_bindgen::prelude::*;

use crate::browser;
use crate::text::{cat, quoted};

thread_local! {
    static LISTENERS: RefCell<Vec<(String, js_sys::Function)>> = const { RefCell::new(Vec::new()) };
}

/// Names `on` accepts; anything else is a typo worth telling about.
pub const NAMES: &[&str] = &[
    "error",
    "cta",
    "survey:shown",
    "survey:completed",
    "survey:dismissed",
    "checklist:item_completed",
    "checklist:completed",
];

pub fn on(name: &str, f: js_sys::Function) -> bool {
    if !NAMES.contains(&name) {
        browser::error(&cat(&["on: unknown event ", &quoted(name), "; known: ", &crate::text::join(NAMES, ", ")]));
        return false;
    }
    LISTENERS.with(|l| l.borrow_mut().push((name.to_owned(), f)));
    true
}

pub fn off(name: &str, f: &js_sys::Function) {
    LISTENERS.with(|l| l.borrow_mut().retain(|(n, g)| !(n == name && g == f)));
}

/// A payload object with these members.
pub fn payload(members: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in members {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// Calls every listener of `name` with `payload`, later.
pub fn dispatch(name: &str, payload: JsValue) {
    let name = name.to_owned();
    browser::set_timeout(0, move || {
        let listeners: Vec<js_sys::Function> =
            LISTENERS.with(|l| l.borrow().iter().filter(|(n, _)| *n == name).map(|(_, f)| f.clone()).collect());
        for f in listeners {
            if let Err(e) = f.call1(&JsValue::NULL, &payload) {
                browser::error(&cat(&["an on(", &quoted(&name), ") listener threw: ", &browser::describe(&e)]));
            }
        }
    });
}
