//! The second wasm module ("the rest": checklist, targeting, help, the dock
//! and its panels, the debug overlay), seen from the first.
//!
//! It loads after the card: at once on a page with no survey on its way,
//! else a second after the first card is painted (3 s at most). `pkg/index.js` fetches,
//! compiles and starts it when the browser is idle, and binds the API calls
//! it serves (`showChecklist`, `complete`, `why`, …), replaying those made
//! before. Until it runs, every event this module records is kept here and
//! handed over in order, each change of person in its place among them, so
//! the checklist and targeting see all of them, each as the person's it is.
//!
//! The contract both sides keep is the pair of `extern` blocks: this one and
//! `crates/views/src/host.rs` (the `host*` exports of `bridge`); a tidy test
//! holds each name to an export on the other side.

use crate::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::browser;
use crate::text::cat;

#[wasm_bindgen]
extern "C" {
    /// `pkg/index.js`'s loader of the second module.
    #[derive(Clone)]
    pub type Loader;
    /// When idle: fetches, compiles and instantiates the module, calls its
    /// `start(host, init)`; a `Promise` of its exports.
    #[wasm_bindgen(method, catch)]
    fn load(this: &Loader, init: &str) -> Result<js_sys::Promise, JsValue>;

    /// The second module's exports (`crates/views/src/exports.rs`).
    #[derive(Clone)]
    type Module;
    /// One event this module recorded (`recorded`: queued for the collector;
    /// `false` for a `track()` made while opted out, which the checklist still follows).
    #[wasm_bindgen(method)]
    fn observe(this: &Module, event: &str, recorded: bool);
    /// The person changed (`identify`, `group`, `reset`, opting in or out): `{ param, id, … }`.
    #[wasm_bindgen(method, js_name = personChanged)]
    fn person_changed(this: &Module, person: &str);
    /// The survey left the screen.
    #[wasm_bindgen(method, js_name = surveyClosed)]
    fn survey_closed(this: &Module);
    /// `hide()`: close the panels.
    #[wasm_bindgen(method, js_name = hidePanels)]
    fn hide_panels(this: &Module);
    /// `page()`: the page changed under a single-page app.
    #[wasm_bindgen(method)]
    fn navigated(this: &Module);
}

/// Events kept for a module that has not started, at most (the oldest go
/// first): a page whose second module cannot load must not grow without end.
const MAX_EARLY: usize = 1000;

/// A handle; clones share it.
#[derive(Clone)]
pub struct Rest(Rc<RefCell<Inner>>);

enum State {
    /// Waiting for the first card (or for its 3 s to pass).
    Held,
    Idle,
    Loading,
    Ready(Module),
    /// Could not load (said on the console); not retried on this page.
    Failed,
}

/// What the module has not been told yet.
enum Handover {
    /// An event, with its `recorded` flag.
    Event(String, bool),
    /// The person changed: the events before are theirs, those after the next one's.
    Person(String),
}

struct Inner {
    loader: Option<Loader>,
    state: State,
    /// Not handed over yet, in order.
    pending: Vec<Handover>,
    flush_scheduled: bool,
}

impl Rest {
    /// `held`: a survey is on its way; wait for it (see [`Rest::release`]).
    pub fn new(loader: JsValue, held: bool) -> Rest {
        let loader =
            (!loader.is_undefined() && !loader.is_null()).then(|| wasm_bindgen::JsCast::unchecked_into(loader));
        let state = if held { State::Held } else { State::Idle };
        Rest(Rc::new(RefCell::new(Inner { loader, state, pending: Vec::new(), flush_scheduled: false })))
    }

    /// Whether the module waits for the first card.
    pub fn is_held(&self) -> bool {
        matches!(self.0.borrow().state, State::Held)
    }

    /// The first card is up (or will not be): the module may load.
    pub fn release(&self) {
        let mut inner = self.0.borrow_mut();
        if matches!(inner.state, State::Held) {
            inner.state = State::Idle;
        }
    }

    /// Loads the module unless it is held, loading or loaded. `init` is its
    /// start state (JSON), made by the caller only when it is needed.
    pub fn load(&self, init: impl FnOnce() -> String) {
        let loader = {
            let mut inner = self.0.borrow_mut();
            if !matches!(inner.state, State::Idle) {
                return;
            }
            inner.state = State::Loading;
            inner.loader.clone()
        };
        let Some(loader) = loader else {
            return self.failed("the page loaded the widget without the loader of its second module (pkg/index.js)");
        };
        let promise = loader.load(&init());
        let this = self.clone();
        let settled = move |module: Result<JsValue, JsValue>| match module {
            Ok(m) => {
                this.0.borrow_mut().state = State::Ready(wasm_bindgen::JsCast::unchecked_into(m));
                this.flush();
            }
            Err(e) => {
                this.failed(&cat(&["the checklist, help and targeting could not be loaded: ", &browser::describe(&e)]))
            }
        };
        match promise {
            Ok(p) => browser::on_settled(&p, settled),
            Err(e) => settled(Err(e)),
        }
    }

    fn failed(&self, message: &str) {
        browser::error(message);
        let mut inner = self.0.borrow_mut();
        inner.state = State::Failed;
        inner.pending.clear();
    }

    fn module(&self) -> Option<Module> {
        match &self.0.borrow().state {
            State::Ready(m) => Some(m.clone()),
            _ => None,
        }
    }

    /// Hands `event` over: at the end of this task once the module runs
    /// (one hand-over for a burst of calls), else when it starts.
    pub fn observe(&self, event: String, recorded: bool) {
        let schedule = {
            let mut inner = self.0.borrow_mut();
            if matches!(inner.state, State::Failed) {
                return;
            }
            if inner.pending.len() >= MAX_EARLY {
                // The oldest event, not a change of person: those keep the events apart.
                if let Some(at) = inner.pending.iter().position(|h| matches!(h, Handover::Event(..))) {
                    inner.pending.remove(at);
                }
            }
            inner.pending.push(Handover::Event(event, recorded));
            matches!(inner.state, State::Ready(_)) && !std::mem::replace(&mut inner.flush_scheduled, true)
        };
        if schedule {
            let this = self.clone();
            if !browser::at_end_of_task(move || this.flush()) {
                self.flush();
            }
        }
    }

    /// Hands over what is pending, now (before anything the module must see them first for).
    pub fn flush(&self) {
        let Some(m) = self.module() else { return };
        let pending = {
            let mut inner = self.0.borrow_mut();
            inner.flush_scheduled = false;
            std::mem::take(&mut inner.pending)
        };
        for handover in pending {
            match handover {
                Handover::Event(event, recorded) => m.observe(&event, recorded),
                Handover::Person(person) => m.person_changed(&person),
            }
        }
    }

    /// Tells the module who the person is now, after the events made before.
    pub fn person_changed(&self, person: &str) {
        let mut inner = self.0.borrow_mut();
        if matches!(inner.state, State::Failed) {
            return;
        }
        inner.pending.push(Handover::Person(person.to_owned()));
        drop(inner);
        self.flush();
    }

    pub fn survey_closed(&self) {
        if let Some(m) = self.module() {
            m.survey_closed();
        }
    }

    pub fn hide_panels(&self) {
        if let Some(m) = self.module() {
            m.hide_panels();
        }
    }

    pub fn navigated(&self) {
        if let Some(m) = self.module() {
            self.flush();
            m.navigated();
        }
    }
}
