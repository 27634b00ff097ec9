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
    static HREF: crate::cell::RefCell<Option<String>> = const { crate::cell::RefCell::new(None) };
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
const IDS: usize = 256;
const ID_LEN: usize = 36;

/// A batch of ids, in Rust and (made when first asked for) as one JS string.
struct Ids {
    text: String,
    js: Option<js_sys::JsString>,
    next: usize,
}

thread_local! {
    static POOL: crate::cell::RefCell<Ids> = const { crate::cell::RefCell::new(Ids { text: String::new(), js: None, next: IDS }) };
}

/// A v4 UUID from `crypto.getRandomValues` (which, unlike
/// `crypto.randomUUID`, also exists on plain-HTTP pages). Made 256 at a time:
/// `getRandomValues` and handing the batch to JS cost about 20 µs a call
/// whatever the size, so one call per 256 events (instead of 64) took
/// `track()` about 0.5 µs a call less.
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

/// Calls `f` with what `promise` settles to: `Ok` with its value, `Err` with
/// its reason. Callbacks, not futures: an async runtime in the module before
/// the card costs the page more bytes than the few promises it waits on.
pub fn on_settled(promise: &js_sys::Promise, f: impl FnOnce(Result<JsValue, JsValue>) + 'static) {
    on_settled_boxed(promise, Box::new(f));
}

type Settled = Box<dyn FnOnce(Result<JsValue, JsValue>)>;
type Reaction = Closure<dyn FnMut(JsValue)>;

/// Boxed, so that every wait shares one instance of the closure's shims. The
/// two reactions and `f` wait in one slot that both reactions hold: whichever
/// runs takes all three out, and the reactions are freed once it returns.
fn on_settled_boxed(promise: &js_sys::Promise, f: Settled) {
    type Slot = std::rc::Rc<crate::cell::RefCell<Option<(Settled, [Reaction; 2])>>>;
    let slot: Slot = Default::default();
    let reaction = |fulfilled: bool| {
        let slot = slot.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |value: JsValue| {
            let taken = slot.borrow_mut().take();
            if let Some((f, reactions)) = taken {
                drop(reactions);
                f(if fulfilled { Ok(value) } else { Err(value) });
            }
        })
    };
    let (ok, err) = (reaction(true), reaction(false));
    let _ = promise.then2(&ok, &err);
    *slot.borrow_mut() = Some((f, [ok, err]));
}

/// Work done under a lock: it calls its argument when it is done.
pub type Work = Box<dyn FnOnce(Box<dyn FnOnce()>)>;

/// Runs `work` while holding the cross-tab lock `name`, if no other tab holds
/// it, and lets go when `work` says it is done. Uses the Web Locks API; where
/// it is missing, a lease in localStorage (best effort: the collector's dedupe
/// covers the rare overlap). `then` hears whether `work` ran.
pub fn with_lock(name: &str, owner: &str, work: Work, then: Box<dyn FnOnce(bool)>) {
    use js_sys::Reflect;
    let locks =
        web_sys::window().and_then(|w| Reflect::get(&w.navigator(), &"locks".into()).ok()).filter(|l| l.is_object());
    let request = locks
        .as_ref()
        .and_then(|l| Reflect::get(l, &"request".into()).ok())
        .and_then(|r| r.dyn_into::<js_sys::Function>().ok());
    let (Some(locks), Some(request)) = (locks, request) else { return with_lease(name, owner, work, then) };
    let ran = std::rc::Rc::new(std::cell::Cell::new(false));
    let ran_inside = ran.clone();
    let callback = Closure::once(move |lock: JsValue| -> JsValue {
        if lock.is_null() {
            return JsValue::UNDEFINED;
        }
        ran_inside.set(true);
        // The lock is held until this promise settles, when the work is done.
        let mut work = Some(work);
        js_sys::Promise::new(&mut |resolve, _| {
            if let Some(work) = work.take() {
                work(Box::new(move || {
                    let _ = resolve.call0(&JsValue::NULL);
                }));
            }
        })
        .into()
    });
    let options = js_sys::Object::new();
    let _ = Reflect::set(&options, &"ifAvailable".into(), &true.into());
    match request.call3(&locks, &name.into(), &options, callback.as_ref()) {
        // The callback lives until the request settles.
        Ok(p) => on_settled(&p.unchecked_into(), move |_| {
            drop(callback);
            then(ran.get());
        }),
        Err(e) => {
            error(&cat(&["navigator.locks.request failed: ", &describe(&e)]));
            then(ran.get());
        }
    }
}

fn with_lease(name: &str, owner: &str, work: Work, then: Box<dyn FnOnce(bool)>) {
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
        return then(false);
    }
    let mine = cat(&[owner, "|", &num((now + LEASE_MS).max(0) as u64)]);
    store.set(&key, &mine);
    // Tabs in other renderer processes see this write a little later; two tabs
    // may both have written. Wait for the writes to settle: the last one wins,
    // and only its writer goes on.
    set_timeout(SETTLE_MS, move || {
        if store.get(&key).is_some_and(|v| v != mine) {
            return then(false);
        }
        work(Box::new(move || {
            if store.get(&key).as_deref() == Some(mine.as_str()) {
                store.remove(&key);
            }
            then(true);
        }));
    });
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
