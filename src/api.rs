//! The JS-facing API of the first module: exports only. Each checks its
//! arguments (naming what is wrong on the console; nothing throws into the
//! host page) and calls the app. The calls the second module serves
//! (`showChecklist`, `openHelp`, `complete`, `setBusy`, `why`, `debug`) are
//! its exports, bound by `pkg/index.js`.

use wasm_bindgen::prelude::*;

use crate::app::{self, Fields};
use crate::browser;
use crate::bus;
use crate::text::{cat, quoted};

/// Starts the widget. Called once by `pkg/index.js`; a second call is
/// ignored with a warning. `prefetched` is the loader's `{ surveyId:
/// Promise<Response> }` for the `showSurvey` calls queued before the wasm
/// arrived (or `undefined`); `loader` loads the second module.
#[wasm_bindgen]
pub fn boot(options: JsValue, prefetched: JsValue, loader: JsValue) -> bool {
    app::boot(&options, prefetched, loader)
}

/// `undefined`/`null` → `{}`; a plain object → its JSON text (one
/// `JSON.stringify`); anything else is refused with a message naming the argument.
fn props_json(caller: &str, what: &str, value: &JsValue) -> Option<String> {
    if value.is_undefined() || value.is_null() {
        return Some("{}".to_owned());
    }
    match browser::json_text(value) {
        // JSON.stringify writes an object, and only an object, starting with `{`.
        Ok(Some(text)) if text.starts_with('{') => Some(text),
        Ok(Some(other)) => {
            browser::error(&cat(&[caller, ": ", what, " must be an object, got ", &other]));
            None
        }
        Ok(None) => {
            let kind = value.js_typeof().as_string().unwrap_or_default();
            browser::error(&cat(&[caller, ": ", what, " must be an object, got a ", &kind]));
            None
        }
        Err(e) => {
            browser::error(&cat(&[caller, ": ", what, " could not be read as JSON: ", &e]));
            None
        }
    }
}

/// A non-empty string argument, or `None` with `message` on the console.
fn name_arg(value: &JsValue, message: &str) -> Option<String> {
    match value.as_string() {
        Some(s) if !s.trim().is_empty() => Some(s),
        _ => {
            browser::error(message);
            None
        }
    }
}

/// Names the current user; later events carry `user_id`. `options.userHash`
/// is the host backend's HMAC of the user id, for projects that verify identities.
#[wasm_bindgen]
pub fn identify(user_id: JsValue, traits: JsValue, options: JsValue) {
    let Some(user_id) = name_arg(&user_id, "identify: the first argument must be a non-empty string user id") else {
        return;
    };
    let Some(traits_json) = props_json("identify", "traits", &traits) else { return };
    if props_json("identify", "options", &options).is_none() {
        return;
    }
    let mut user_hash = None;
    for key in browser::js::keys(&options) {
        let value = browser::js::get(&options, &key);
        match (key.as_str(), value.as_ref().and_then(JsValue::as_string)) {
            ("userHash", Some(h)) if !h.trim().is_empty() => user_hash = Some(h.trim().to_owned()),
            ("userHash", _) => {
                let shown = value.and_then(|v| browser::json_text(&v).ok().flatten()).unwrap_or_default();
                browser::error(&cat(&["identify: options.userHash must be a non-empty string, got ", &shown]));
                return;
            }
            (other, _) => {
                browser::error(&cat(&["identify: unknown option ", &quoted(other), "; the only option is userHash"]));
                return;
            }
        }
    }
    let traits = if traits.is_object() { traits } else { js_sys::Object::new().into() };
    app::identify(user_id, &traits, &traits_json, user_hash);
}

/// Ties the current user to an account (a customer of the host: plan, seats,
/// owner, …). Checklist items with `"scope": "account"` then count the
/// behaviors of everyone in that account; the collector assesses its health.
#[wasm_bindgen]
pub fn group(account_id: JsValue, traits: JsValue) {
    let Some(account_id) = name_arg(&account_id, "group: the first argument must be a non-empty string account id")
    else {
        return;
    };
    let Some(traits_json) = props_json("group", "traits", &traits) else { return };
    let traits = if traits.is_object() { traits } else { js_sys::Object::new().into() };
    app::group(account_id, &traits, &traits_json);
}

/// Records a host-defined behavior such as `imported_data`. Returns the
/// event's id (it is queued durably and sent once), or `undefined` if it was
/// refused (the reason is on the console and passed to `on('error')`).
#[wasm_bindgen(unchecked_return_type = "string | undefined")]
pub fn track(name: JsValue, properties: JsValue) -> JsValue {
    let Some(name) = name_arg(&name, "track: the first argument must be a non-empty event name string") else {
        return JsValue::UNDEFINED;
    };
    let Some(props) = props_json("track", "properties", &properties) else { return JsValue::UNDEFINED };
    let id = app::record(
        "track",
        Fields::Typed("track", &|out| {
            touchpoint_protocol::write::field_str(out, "name", &name);
            touchpoint_protocol::write::field_raw(out, "props", &props);
        }),
    );
    id.map_or(JsValue::UNDEFINED, |id| browser::uuid_to_js(&id))
}

/// Records a page view; single-page apps call it on route changes (pushState
/// and popstate are followed anyway, for help suggestions).
#[wasm_bindgen(unchecked_return_type = "string | undefined")]
pub fn page(properties: JsValue) -> JsValue {
    let Some(props) = props_json("page", "properties", &properties) else { return JsValue::UNDEFINED };
    app::page(&props).map_or(JsValue::UNDEFINED, |id| JsValue::from_str(&id))
}

/// Forgets the user (call it on logout): a new anonymous id, no user id or
/// traits; widgets close and the checklist reloads for the anonymous visitor.
/// Events already queued still go out under the identity they were made with.
#[wasm_bindgen]
pub fn reset() {
    app::reset();
}

/// Stops all collection for this browser until `optIn()`: no events are
/// created, unsent ones are deleted, and the widgets close. Remembered.
#[wasm_bindgen(js_name = optOut)]
pub fn opt_out() {
    app::opt_out();
}

#[wasm_bindgen(js_name = optIn)]
pub fn opt_in() {
    app::opt_in();
}

/// Closes whatever Touchpoint shows (a survey on screen counts as dismissed).
#[wasm_bindgen]
pub fn hide() {
    app::hide();
}

/// Subscribes `listener` to `name` (`"error"`, `"survey:shown"`, …).
#[wasm_bindgen]
pub fn on(name: JsValue, listener: JsValue) -> bool {
    match (name.as_string(), listener.dyn_into::<js_sys::Function>()) {
        (Some(name), Ok(f)) => bus::on(&name, f),
        _ => {
            browser::error("on: expected on(name: string, listener: function)");
            false
        }
    }
}

#[wasm_bindgen]
pub fn off(name: JsValue, listener: JsValue) {
    if let (Some(name), Ok(f)) = (name.as_string(), listener.dyn_into::<js_sys::Function>()) {
        bus::off(&name, &f);
    }
}

/// Fetches and shows survey `id`, whatever the targeting says (the page
/// asked for it; the showing still counts for recontact periods). Resolves to
/// `true` once it is on screen, `false` (with the reason on the console) otherwise.
#[wasm_bindgen(js_name = showSurvey, unchecked_return_type = "Promise<boolean>")]
pub fn show_survey(id: JsValue) -> js_sys::Promise {
    match name_arg(&id, "showSurvey: the argument must be a survey id string") {
        Some(id) => app::show_survey_promise(&id),
        None => js_sys::Promise::resolve(&JsValue::FALSE),
    }
}
