//! The first module's side of the contract with the second: exports only,
//! each the counterpart of a `Host` method in `crates/views/src/host.rs`
//! (a tidy test holds the two lists together). The second module records
//! its events, shows targeted surveys and mounts its widgets through these.

use wasm_bindgen::prelude::*;

use crate::app::{self, Fields};
use crate::browser;
use crate::shell::{self, Corner};

/// Records an event of the second module: `kind` is its serialized kind
/// (`{"type":"checklist_shown",…}`); the envelope is stamped here.
#[wasm_bindgen(js_name = hostRecord)]
pub fn host_record(kind: &str) -> Option<String> {
    app::record("the checklist and help", Fields::Spliced(kind))
}

/// Shows survey `id` (targeting decided it is time).
#[wasm_bindgen(js_name = hostShowSurvey, unchecked_return_type = "Promise<boolean>")]
pub fn host_show_survey(id: String) -> js_sys::Promise {
    app::show_survey_promise(&id)
}

/// The id of the survey on screen, if one is.
#[wasm_bindgen(js_name = hostSurveyOnScreen)]
pub fn host_survey_on_screen() -> Option<String> {
    app::survey_on_screen()
}

/// Hands over the events this task recorded, now: the second module calls
/// it first in every API call it serves, so each sees the calls made before it.
#[wasm_bindgen(js_name = hostSettle)]
pub fn host_settle() {
    app::settle();
}

/// Calls the page's `on(name)` listeners with `payload` (JSON text).
#[wasm_bindgen(js_name = hostDispatch)]
pub fn host_dispatch(name: &str, payload: &str) {
    match browser::js::parse(payload) {
        Ok(v) => crate::bus::dispatch(name, v),
        Err(e) => browser::error(&crate::text::cat(&["on(", name, "): unreadable payload: ", &e])),
    }
}

/// A shadow-rooted host for one of the second module's widgets (`"dock"`,
/// `"debug"`), themed like the card: `[hostElement, container]`.
#[wasm_bindgen(js_name = hostMount)]
pub fn host_mount(corner: &str) -> Result<js_sys::Array, JsValue> {
    let corner = Corner::from_name(corner).ok_or_else(|| JsValue::from_str("hostMount: unknown corner"))?;
    let (theme, strings) = app::look().ok_or_else(|| JsValue::from_str("Touchpoint is not initialised"))?;
    let (host, container) = shell::mount(corner, &theme, &strings).map_err(|e| JsValue::from_str(&e))?;
    Ok(js_sys::Array::of2(&host, &container))
}

/// Sends what is queued soon: the second module has put events back in the
/// queue (`replayDeadLetters()`), which the next send finds in storage.
#[wasm_bindgen(js_name = hostSend)]
pub fn host_send() {
    app::send_soon();
}
