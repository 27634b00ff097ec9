//! The `beforeSend(event) => event | null` option: the host's last look at
//! each event before it is queued, to redact it (strip personal data from a
//! free-text answer) or drop it.
//!
//! The hook gets the event as a plain object (`JSON.parse` of what would be
//! queued) and may return it changed, a new object, nothing (`undefined`:
//! the object as the hook left it, so changing it in place is enough) or
//! `null` (dropped; said on the console in debug mode). The envelope is not
//! the hook's to change: an event whose `id` or `type` it changed is sent as
//! it was. **A hook that throws, or returns something that is not an event,
//! does not lose the event: it is sent unmodified, and the console says so**
//! (an error, always): losing data silently is worse than sending what the
//! host's hook failed on, which the host can see and fix.

use wasm_bindgen::JsValue;

use crate::browser::{self, js};
use crate::text::cat;

/// What becomes of an event.
pub enum Outcome {
    /// Queue this JSON (the hook's, or the event as it was).
    Send(String),
    Drop,
}

/// Runs `hook` on the event `raw`, whose id is `id`.
pub fn apply(hook: &js_sys::Function, id: &str, raw: String) -> Outcome {
    let Ok(event) = js::parse(&raw) else { return Outcome::Send(raw) };
    let kind = js::get(&event, "type").and_then(|t| t.as_string()).unwrap_or_default();
    let kind = kind.as_str();
    let returned = match hook.call1(&JsValue::UNDEFINED, &event) {
        Ok(v) => v,
        Err(e) => return unmodified(id, kind, raw, &cat(&["threw: ", &browser::describe(&e)])),
    };
    if returned.is_null() {
        if debug_mode() {
            browser::warn(&cat(&["beforeSend dropped the ", kind, " event ", id, "; it was not sent"]));
        }
        return Outcome::Drop;
    }
    let result = if returned.is_undefined() { event } else { returned };
    let same = |field: &str, want: &str| js::get(&result, field).and_then(|v| v.as_string()).as_deref() == Some(want);
    if !js::is_plain_object(&result) || !same("id", id) || !same("type", kind) {
        return unmodified(id, kind, raw, "must return the event (with its id and type) or null");
    }
    match browser::json_text(&result) {
        Ok(Some(text)) => Outcome::Send(text),
        Ok(None) => unmodified(id, kind, raw, "returned something with no JSON form"),
        Err(e) => unmodified(id, kind, raw, &cat(&["returned something JSON cannot write: ", &e])),
    }
}

fn unmodified(id: &str, kind: &str, raw: String, why: &str) -> Outcome {
    browser::error(&cat(&["beforeSend ", why, "; the ", kind, " event ", id, " was sent unmodified"]));
    Outcome::Send(raw)
}

/// The debug overlay is on (`debug(true)` or `?touchpoint_debug=1` mounted
/// it): its host is in the page. Asked of the DOM, not of the second module,
/// so this costs the first module no new contract.
fn debug_mode() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector("touchpoint-widget[data-touchpoint=debug]").ok().flatten())
        .is_some()
}
