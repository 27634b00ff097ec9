//! Thin, non-panicking wrappers over the few Web APIs the widget uses: the
//! bottom layer, which knows nothing of surveys or events.

pub mod js;

pub use touchpoint_web::{at_end_of_task, dom, local_storage, LocalStore, Timer};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::text::{cat, num};

/// Prefix of every console line we print, so a host developer can tell ours apart.
const PREFIX: &str = "[touchpoint]";

pub fn error(msg: &str) {
    web_sys::console::error_1(&JsValue::from_str(&cat(&[PREFIX, " ", msg])));
}

pub fn warn(msg: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&cat(&[PREFIX, " ", msg])));
}

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

thread_local! {
    static LOCATION: Option<web_sys::Location> = web_sys::window().map(|w| w.location());
    /// The page's URL, read at most once per task (see [`page_url`]).
    static HREF: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The page's URL. Read once per task and remembered until its end, so a
/// burst of `track()` calls pays for one read; SPA navigation (`route`)
/// forgets it at once. The one change seen late: `location.hash = …` followed
/// by an event in the same task is stamped with the URL from before the hash.
pub fn page_url() -> String {
    if let Some(href) = HREF.with(|h| h.borrow().clone()) {
        return href;
    }
    let href = LOCATION.with(|l| l.as_ref().and_then(|l| l.href().ok())).unwrap_or_default();
    HREF.with(|h| *h.borrow_mut() = Some(href.clone()));
    if !at_end_of_task(forget_page_url) {
        forget_page_url();
    }
    href
}

/// A JS value's JSON text, from one `JSON.stringify` (what the page would
/// send itself: `toJSON` is honoured, functions and `undefined` members are
/// left out) rather than walking it key by key from wasm, which costs a call
/// into JS per key and value. `Ok(None)` for what has no JSON form (a
/// function, `undefined`); `Err` names why it could not be read (a cycle, a BigInt).
pub fn json_text(value: &JsValue) -> Result<Option<String>, String> {
    js_sys::JSON::stringify(value).map(|t| t.as_string()).map_err(|e| describe(&e))
}

pub fn forget_page_url() {
    HREF.with(|h| h.borrow_mut().take());
}

/// Ids made at a time: one call for random bytes and one string handed to JS
/// per this many events.
const IDS: usize = 64;
const ID_LEN: usize = 36;

/// A batch of ids, in Rust and (made when first asked for) as one JS string.
struct Ids {
    text: String,
    js: Option<js_sys::JsString>,
    next: usize,
}

thread_local! {
    static POOL: std::cell::RefCell<Ids> = const { std::cell::RefCell::new(Ids { text: String::new(), js: None, next: IDS }) };
}

/// A v4 UUID from `crypto.getRandomValues` (which, unlike
/// `crypto.randomUUID`, also exists on plain-HTTP pages). Made 64 at a time:
/// one call into the browser per 64 events instead of two per event keeps
/// `track()` cheap.
pub fn uuid() -> String {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.next == IDS {
            let mut bytes = [0u8; 16 * IDS];
            let filled = web_sys::window()
                .and_then(|w| w.crypto().ok())
                .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
            if !filled {
                // Only on exotic embedders without Web Crypto; ids stay unique enough to dedupe.
                for b in &mut bytes {
                    *b = (js_sys::Math::random() * 256.0) as u8;
                }
            }
            p.text.clear();
            for chunk in bytes.chunks_exact(16) {
                let mut id = [0u8; 16];
                id.copy_from_slice(chunk);
                p.text.push_str(&touchpoint_protocol::uuid_v4_from_bytes(id));
            }
            p.js = None;
            p.next = 0;
        }
        let at = p.next * ID_LEN;
        p.next += 1;
        // `get`, not indexing: the ids are ASCII, and a `str` index brings a panic path that formats.
        p.text.get(at..at + ID_LEN).unwrap_or_default().to_owned()
    })
}

/// `id` as a JS string. For the id [`uuid`] made last, a slice of the batch's
/// JS string: handing each id over on its own (a UTF-8 decode per call) costs
/// `track()` more than the rest of its work on the id.
pub fn uuid_to_js(id: &str) -> JsValue {
    POOL.with(|p| {
        let p = &mut *p.borrow_mut();
        let at = p.next.wrapping_sub(1) * ID_LEN;
        if p.next == 0 || p.text.get(at..at + ID_LEN) != Some(id) {
            return JsValue::from_str(id);
        }
        let js = p.js.get_or_insert_with(|| js_sys::JsString::from(p.text.as_str()));
        js.substring(at as u32, (at + ID_LEN) as u32).into()
    })
}

/// Runs `f` once after `ms` milliseconds; the handle cancels it.
pub fn set_timeout(ms: i32, f: impl FnOnce() + 'static) -> Option<i32> {
    set_timeout_boxed(ms, Box::new(f))
}

fn set_timeout_boxed(ms: i32, f: Box<dyn FnOnce()>) -> Option<i32> {
    let cb = touchpoint_web::once(f);
    let handle = web_sys::window()
        .and_then(|w| w.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), ms).ok());
    if handle.is_none() {
        error("could not schedule a timer; events stay queued until the next call");
    }
    handle
}

/// Runs `f` once after `ms` milliseconds unless the [`Timer`] is dropped first.
pub fn timer(ms: u32, f: impl FnOnce() + 'static) -> Timer {
    touchpoint_web::timer(ms, Box::new(f))
}

/// Runs `f` once the next frame has been produced: a task queued from an
/// animation frame callback runs after that frame's paint. Work that must
/// not delay what was just put on screen waits here.
pub fn after_next_paint(f: impl FnOnce() + 'static) {
    let f: Box<dyn FnOnce()> = Box::new(f);
    let frame = touchpoint_web::once(Box::new(move || {
        set_timeout_boxed(0, f);
    }));
    let asked = web_sys::window().and_then(|w| w.request_animation_frame(frame.unchecked_ref()).ok());
    if asked.is_none() {
        error("could not wait for a frame; background loads start now");
    }
}

/// Runs `f` while holding the cross-tab lock `name`, if no other tab holds
/// it. Uses the Web Locks API; where it is missing, a lease in localStorage
/// (best effort: the collector's dedupe covers the rare overlap). Returns
/// whether `f` ran.
pub async fn with_lock(name: &str, owner: &str, f: impl FnOnce() -> LocalFuture + 'static) -> bool {
    use js_sys::Reflect;
    let locks =
        web_sys::window().and_then(|w| Reflect::get(&w.navigator(), &"locks".into()).ok()).filter(|l| l.is_object());
    let request = locks
        .as_ref()
        .and_then(|l| Reflect::get(l, &"request".into()).ok())
        .and_then(|r| r.dyn_into::<js_sys::Function>().ok());
    let (Some(locks), Some(request)) = (locks, request) else { return with_lease(name, owner, f).await };
    let ran = std::rc::Rc::new(std::cell::Cell::new(false));
    let ran_inside = ran.clone();
    let callback = Closure::once(move |lock: JsValue| -> JsValue {
        if lock.is_null() {
            return JsValue::UNDEFINED;
        }
        ran_inside.set(true);
        let work = f();
        wasm_bindgen_futures::future_to_promise(async move {
            work.await;
            Ok(JsValue::UNDEFINED)
        })
        .into()
    });
    let options = js_sys::Object::new();
    let _ = Reflect::set(&options, &"ifAvailable".into(), &true.into());
    match request.call3(&locks, &name.into(), &options, callback.as_ref()) {
        Ok(p) => {
            let _ = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(p)).await;
        }
        Err(e) => error(&cat(&["navigator.locks.request failed: ", &describe(&e)])),
    }
    ran.get()
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        set_timeout(ms, move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

pub type LocalFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

async fn with_lease(name: &str, owner: &str, f: impl FnOnce() -> LocalFuture) -> bool {
    const LEASE_MS: i64 = 30_000;
    const SETTLE_MS: i32 = 60;
    let store = LocalStore::open();
    let key = cat(&[name, ":lease"]);
    let now = now_ms();
    let held_by_other = store
        .get(&key)
        .and_then(|v| {
            crate::text::split_once(&v, b'|')
                .map(|(o, until)| (o.to_owned(), js_sys::Number::parse_float(until) as i64))
        })
        .is_some_and(|(o, until)| o != owner && until > now);
    if held_by_other {
        return false;
    }
    let mine = cat(&[owner, "|", &num((now + LEASE_MS).max(0) as u64)]);
    store.set(&key, &mine);
    // Tabs in other renderer processes see this write a little later; two tabs
    // may both have written. Wait for the writes to settle: the last one wins,
    // and only its writer goes on.
    sleep(SETTLE_MS).await;
    if store.get(&key).is_some_and(|v| v != mine) {
        return false;
    }
    f().await;
    if store.get(&key).as_deref() == Some(mine.as_str()) {
        store.remove(&key);
    }
    true
}

/// Describes a thrown JS value for an error message.
pub fn describe(err: &JsValue) -> String {
    if let Some(e) = err.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    err.as_string()
        .or_else(|| js_sys::JSON::stringify(err).ok()?.as_string())
        .unwrap_or_else(|| "an unknown error".into())
}

/// Whether the browser asks not to be tracked: Global Privacy Control, or
/// the older Do Not Track.
pub fn privacy_signal() -> bool {
    let Some(nav) = web_sys::window().map(|w| w.navigator()) else { return false };
    let gpc = js_sys::Reflect::get(&nav, &"globalPrivacyControl".into()).ok().and_then(|v| v.as_bool()) == Some(true);
    let dnt = js_sys::Reflect::get(&nav, &"doNotTrack".into()).ok().and_then(|v| v.as_string()).as_deref() == Some("1");
    gpc || dnt
}

/// `navigator.languages`, most preferred first.
pub fn languages() -> Vec<String> {
    web_sys::window()
        .map(|w| w.navigator().languages().iter().filter_map(|l| l.as_string()).collect())
        .unwrap_or_default()
}
