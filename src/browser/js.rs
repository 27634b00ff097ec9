//! Reading JS values without serde: `JSON.parse` in the browser, then typed
//! accessors over the result.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

/// `obj[name]`, unless it is missing, `undefined` or `null`.
pub fn get(obj: &JsValue, name: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    Reflect::get(obj, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// `JSON.parse(text)`, with the browser's message on failure.
pub fn parse(text: &str) -> Result<JsValue, String> {
    js_sys::JSON::parse(text).map_err(|e| super::describe(&e))
}

/// The own enumerable keys of a plain object.
pub fn keys(obj: &JsValue) -> Vec<String> {
    match obj.dyn_ref::<js_sys::Object>() {
        Some(o) if !js_sys::Array::is_array(obj) => {
            js_sys::Object::keys(o).iter().filter_map(|k| k.as_string()).collect()
        }
        _ => Vec::new(),
    }
}

/// A plain object (not an array, not null).
pub fn is_plain_object(v: &JsValue) -> bool {
    v.is_object() && !js_sys::Array::is_array(v)
}
