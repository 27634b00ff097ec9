//! Thin, non-panicking wrappers over the few Web APIs the widget uses.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Prefix of every console line we print, so a host developer can tell ours apart.
const PREFIX: &str = "[touchpoint]";

pub fn error(msg: &str) {
    web_sys::console::error_1(&JsValue::from_str(&format!("{PREFIX} {msg}")));
}

pub fn warn(msg: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&format!("{PREFIX} {msg}")));
}

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

pub fn page_url() -> String {
    web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default()
}

/// A v4 UUID from `crypto.getRandomValues` (which, unlike
/// `crypto.randomUUID`, also exists on plain-HTTP pages).
pub fn uuid() -> String {
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        // Only on exotic embedders without Web Crypto; ids stay unique enough to dedupe.
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    touchpoint_protocol::uuid_v4_from_bytes(bytes)
}

/// `localStorage`, or `None` where it is missing or throws (private mode,
/// sandboxed iframes, storage disabled).
pub struct LocalStore(Option<web_sys::Storage>);

impl LocalStore {
    pub fn open() -> LocalStore {
        LocalStore(web_sys::window().and_then(|w| w.local_storage().ok().flatten()))
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.0.as_ref()?.get_item(key).ok().flatten()
    }

    /// `false` when the value could not be stored (quota, disabled).
    pub fn set(&self, key: &str, value: &str) -> bool {
        self.0.as_ref().is_some_and(|s| s.set_item(key, value).is_ok())
    }
}

/// Runs `f` once after `ms` milliseconds.
pub fn set_timeout(ms: i32, f: impl FnOnce() + 'static) {
    let cb = Closure::once_into_js(f);
    let scheduled = web_sys::window()
        .map(|w| w.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), ms).is_ok())
        .unwrap_or(false);
    if !scheduled {
        error("could not schedule a timer; events stay queued until the next call");
    }
}

/// Describes a thrown JS value for an error message.
pub fn describe(err: &JsValue) -> String {
    if let Some(e) = err.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    err.as_string().unwrap_or_else(|| format!("{err:?}"))
}
