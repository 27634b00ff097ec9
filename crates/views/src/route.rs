//! Follows single-page-app navigation: `history.pushState` / `replaceState`
//! are wrapped (calling the page's own functions first) and `popstate` is
//! watched, so help suggestions follow the page without a reload.

use std::cell::RefCell;

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

type Listener = Box<dyn Fn(String)>;

thread_local! {
    static LISTENERS: RefCell<Vec<Listener>> = RefCell::new(Vec::new());
    static INSTALLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub fn current_path() -> String {
    web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_else(|| "/".into())
}

/// Calls `f` with the new path after every client-side navigation.
pub fn on_change(f: impl Fn(String) + 'static) {
    LISTENERS.with(|l| l.borrow_mut().push(Box::new(f)));
    if !INSTALLED.with(|i| i.replace(true)) {
        install();
    }
}

pub fn notify() {
    let path = current_path();
    LISTENERS.with(|l| l.borrow().iter().for_each(|f| f(path.clone())));
}

fn install() {
    let Some(window) = web_sys::window() else { return };
    let Ok(history) = window.history() else { return };
    for name in ["pushState", "replaceState"] {
        let Some(original) = Reflect::get(&history, &name.into()).ok().and_then(|f| f.dyn_into::<Function>().ok())
        else {
            continue;
        };
        let target = history.clone();
        let wrapper = Closure::<dyn Fn(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
            move |state: JsValue, title: JsValue, url: JsValue| {
                // The page's own navigation first, unchanged; errors go back to the page's caller.
                let out = original.call3(&target, &state, &title, &url)?;
                notify();
                Ok(out)
            },
        );
        let _ = Reflect::set(&history, &name.into(), wrapper.as_ref());
        wrapper.forget();
    }
    let on_pop = Closure::<dyn Fn()>::new(notify);
    let _ = window.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    on_pop.forget();
}
