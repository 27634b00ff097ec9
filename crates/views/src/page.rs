//! Thin, non-panicking wrappers over the Web APIs this module uses; those
//! the first module uses too come from `touchpoint-web`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

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

/// A value for JS as the JSON it serializes to, through one `JSON.parse`.
pub fn to_js(value: &impl serde::Serialize) -> Option<JsValue> {
    js_sys::JSON::parse(&serde_json::to_string(value).ok()?).ok()
}

pub use touchpoint_web::{at_end_of_task, LocalStore, Timer};

/// Runs `f` once after `ms` milliseconds unless the [`Timer`] is dropped first.
pub fn timer(ms: u32, f: impl FnOnce() + 'static) -> Timer {
    touchpoint_web::timer(ms, Box::new(f))
}

/// Runs `f` once after `ms` milliseconds; the handle cancels it.
pub fn set_timeout(ms: i32, f: impl FnOnce() + 'static) -> Option<i32> {
    let cb = Closure::once_into_js(f);
    let handle = web_sys::window()
        .and_then(|w| w.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), ms).ok());
    if handle.is_none() {
        error("could not schedule a timer");
    }
    handle
}

/// Focuses `selector` in the shadow root `anchor` is in, after the current
/// task (what it names is laid out by then); if `only_if_inside`, only when
/// focus is already in that root, so a panel the host's code closed does not
/// pull focus out of the page.
pub fn focus_soon(anchor: web_sys::Node, selector: &'static str, only_if_inside: bool) {
    set_timeout(0, move || {
        let Ok(shadow) = anchor.get_root_node().dyn_into::<web_sys::ShadowRoot>() else { return };
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

/// Describes a thrown JS value for an error message.
pub fn describe(err: &JsValue) -> String {
    if let Some(e) = err.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    err.as_string().unwrap_or_else(|| format!("{err:?}"))
}

/// GET `url` → its body; `Ok(None)` for a 404 (the collector has nothing of
/// that kind configured); otherwise an error naming the URL.
pub async fn get_text(url: &str) -> Result<Option<String>, String> {
    use wasm_bindgen_futures::JsFuture;
    let fail = |e: JsValue| format!("could not load {url}: {}", describe(&e));
    let window = web_sys::window().ok_or("no window")?;
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str(url)).await.map_err(fail)?.into();
    let text = JsFuture::from(resp.text().map_err(fail)?).await.map_err(fail)?.as_string().unwrap_or_default();
    match resp.status() {
        200..=299 => Ok(Some(text)),
        404 => Ok(None),
        s => Err(format!("{url} answered HTTP {s}: {text}")),
    }
}
