//! The first module, seen from this one: how events are recorded, targeted
//! surveys shown and widgets mounted (the first module's `host*` exports,
//! `src/bridge.rs`), plus the strings the panels show. The pair of lists —
//! this `extern` block and the first module's `Module` block in `src/rest.rs`
//! — is the whole contract between the two modules; a tidy test holds each
//! name to an export on the other side.

use std::cell::RefCell;

use touchpoint_core::i18n::Messages;
use touchpoint_protocol::EventKind;
use wasm_bindgen::prelude::*;

use crate::page;

#[wasm_bindgen]
extern "C" {
    /// The first module's exports, passed to `start`.
    pub type Host;
    /// Stamps and queues an event whose kind is given serialized; its id.
    #[wasm_bindgen(method, js_name = hostRecord)]
    fn host_record(this: &Host, kind: &str) -> Option<String>;
    /// Shows a survey: a `Promise<boolean>`.
    #[wasm_bindgen(method, js_name = hostShowSurvey)]
    fn host_show_survey(this: &Host, id: String) -> js_sys::Promise;
    #[wasm_bindgen(method, js_name = hostSurveyOnScreen)]
    fn host_survey_on_screen(this: &Host) -> Option<String>;
    /// Hands over the events recorded so far (before an API call reads state).
    #[wasm_bindgen(method, js_name = hostSettle)]
    fn host_settle(this: &Host);
    #[wasm_bindgen(method, js_name = hostDispatch)]
    fn host_dispatch(this: &Host, name: &str, payload: &str);
    /// Sends what is queued soon (events were put back in the queue).
    #[wasm_bindgen(method, js_name = hostSend)]
    fn host_send(this: &Host);
    /// `[hostElement, container]` of a new themed widget host.
    #[wasm_bindgen(method, catch, js_name = hostMount)]
    fn host_mount(this: &Host, corner: &str) -> Result<js_sys::Array, JsValue>;
}

thread_local! {
    static HOST: RefCell<Option<Host>> = const { RefCell::new(None) };
    static MESSAGES: RefCell<Messages> = RefCell::new(Messages::default());
}

pub fn set(host: Host, messages: Messages) {
    HOST.with(|h| *h.borrow_mut() = Some(host));
    MESSAGES.with(|m| *m.borrow_mut() = messages);
}

fn with_host<T>(f: impl FnOnce(&Host) -> T) -> Option<T> {
    HOST.with(|h| h.borrow().as_ref().map(f))
}

/// Queues `kind` with the widget's identity and outbox; its id, or `None`
/// if it was refused (opted out, too large: the first module says why).
pub fn emit(kind: EventKind) -> Option<String> {
    let json = serde_json::to_string(&kind).ok()?;
    with_host(|h| h.host_record(&json)).flatten()
}

/// Calls the page's `on(name)` listeners with `payload`.
pub fn dispatch(name: &str, payload: &serde_json::Value) {
    with_host(|h| h.host_dispatch(name, &payload.to_string()));
}

pub fn settle() {
    with_host(|h| h.host_settle());
}

/// Has the first module send what is queued soon.
pub fn send() {
    with_host(|h| h.host_send());
}

pub fn survey_on_screen() -> Option<String> {
    with_host(|h| h.host_survey_on_screen()).flatten()
}

/// Shows survey `id`; `true` once it is on screen.
pub async fn show_survey(id: &str) -> bool {
    let Some(promise) = with_host(|h| h.host_show_survey(id.to_owned())) else { return false };
    wasm_bindgen_futures::JsFuture::from(promise).await.ok().and_then(|v| v.as_bool()).unwrap_or(false)
}

/// A themed widget host in `corner` (`"dock"`, `"debug"`) with this module's
/// stylesheet added: its host element and the container to build in.
pub fn mount(corner: &str) -> Result<(web_sys::Element, web_sys::HtmlElement), String> {
    use wasm_bindgen::JsCast;
    let parts = with_host(|h| h.host_mount(corner)).ok_or("not started")?.map_err(|e| page::describe(&e))?;
    let host: web_sys::Element = parts.get(0).dyn_into().map_err(|_| "no host element")?;
    let container: web_sys::HtmlElement = parts.get(1).dyn_into().map_err(|_| "no container")?;
    if let Some(root) = host.shadow_root() {
        let sheets = root.adopted_style_sheets();
        sheets.push(&crate::sheet()?.into());
        root.set_adopted_style_sheets(&sheets);
    }
    Ok((host, container))
}

/// A checklist call to action for the host (`on('cta', …)`).
pub fn cta(name: &str, item_id: &str) {
    dispatch("cta", &serde_json::json!({ "name": name, "itemId": item_id }));
}

/// The user-facing string `key` in the widget's locale.
pub fn t(key: &str) -> String {
    MESSAGES.with(|m| m.borrow().get(key))
}

/// [`t`] with `{name}` placeholders filled.
pub fn tf(key: &str, args: &[(&str, &str)]) -> String {
    MESSAGES.with(|m| m.borrow().fill(key, args))
}

pub fn set_timeout(ms: i32, f: impl FnOnce() + 'static) {
    page::set_timeout(ms, f);
}
