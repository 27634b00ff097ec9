//! Storage and task timing.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// `localStorage` if it can at least be read; `None` where it is missing or
/// throws (sandboxed iframes, storage disabled). Writes may still fail (quota).
pub fn local_storage() -> Option<web_sys::Storage> {
    thread_local! {
        // Looked up once per page: every event and every setting reads it.
        static STORAGE: Option<web_sys::Storage> = {
            let s = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
            s.filter(|s| s.length().is_ok())
        };
    }
    STORAGE.with(Clone::clone)
}

/// A small key-value view of `localStorage` that never throws.
pub struct LocalStore(Option<web_sys::Storage>);

impl LocalStore {
    pub fn open() -> LocalStore {
        LocalStore(local_storage())
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.0.as_ref()?.get_item(key).ok().flatten()
    }

    /// `false` when the value could not be stored (quota, disabled).
    pub fn set(&self, key: &str, value: &str) -> bool {
        self.0.as_ref().is_some_and(|s| s.set_item(key, value).is_ok())
    }

    pub fn remove(&self, key: &str) {
        if let Some(s) = &self.0 {
            let _ = s.remove_item(key);
        }
    }
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = queueMicrotask, catch)]
    fn queue_microtask_js(f: &JsValue) -> Result<(), JsValue>;
}

/// Runs `f` at the end of the current task, as a microtask: after the
/// host's code that called us has returned, before the browser does anything
/// else (no timer, event, `pagehide` or page unload comes in between). Lets a
/// burst of calls share one piece of work instead of paying for it each time.
/// `false` if it could not be scheduled: the caller does the work at once.
#[must_use = "when it returns false, `f` will not run: do the work now"]
pub fn at_end_of_task(f: impl FnOnce() + 'static) -> bool {
    queue_at_end_of_task(once(Box::new(f)))
}

/// `f` as a JS function called at most once. Boxed, so that every callback
/// shares one instance of wasm-bindgen's closure shims: made per closure
/// type, they cost a few hundred bytes each in the module before the card.
pub fn once(f: Box<dyn FnOnce()>) -> JsValue {
    Closure::once_into_js(f)
}

/// A pending timeout: dropping it cancels it and frees its callback. (A
/// cleared timeout made with [`once`] would keep its callback allocated for
/// the page's life: one per request timeout, per rescheduled send.)
pub type Timer = gloo_timers::callback::Timeout;

/// Runs `f` once after `ms` milliseconds, unless the returned [`Timer`] is
/// dropped first. Boxed, like [`once`], so both modules share one instance
/// of the timer's closure shims. Waits longer than `setTimeout` can (about
/// 24.8 days) are cut to its longest: gloo would wrap them to "now".
pub fn timer(ms: u32, f: Box<dyn FnOnce()>) -> Timer {
    gloo_timers::callback::Timeout::new(ms.min(i32::MAX as u32), f)
}

fn queue_at_end_of_task(cb: JsValue) -> bool {
    if queue_microtask_js(&cb).is_ok() {
        return true;
    }
    // Browsers without queueMicrotask: a resolved promise's reaction is a microtask too.
    let promise = js_sys::Promise::resolve(&JsValue::UNDEFINED);
    let then = js_sys::Reflect::get(&promise, &"then".into()).ok().and_then(|t| t.dyn_into::<js_sys::Function>().ok());
    then.is_some_and(|t| t.call1(&promise, &cb).is_ok())
}
