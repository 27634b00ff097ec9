//! The durable outbox: every event is written to `localStorage` before any
//! send, sent in batches, and removed only once the collector has answered
//! for it. What is not acknowledged is sent again — on the next flush, or on
//! the next page load — and the collector's idempotent ingest (the event UUID
//! is its key) makes a repeat harmless.
//!
//! Each event has its own storage key, `touchpoint:<project>:q:<ts>.<seq>:<uuid>`:
//! tabs of the same app never read-modify-write a shared list (which would
//! lose events when two tabs write at once), one corrupt entry cannot spoil
//! the rest, and key order is age order. One tab at a time sends, under a Web
//! Lock (or a lease in storage where Web Locks are missing).
//!
//! `push` does not write: it stages the event, and the events staged during
//! a task are written together at the end of that task (a microtask), so a
//! burst of `track()` calls does not pay for a synchronous `localStorage`
//! write each. No timer, event (`pagehide` included) or unload can come
//! between the host's call and that microtask, and every path that reads
//! the queue to send it (even a send's continuation running earlier in the
//! same microtask checkpoint) writes what is staged first: an event is still
//! in storage before it is ever sent. Likewise, the oldest events dropped to
//! make room in a full queue leave storage in that end-of-task write (or are
//! never written, if dropped in the task that staged them), never to be read
//! by a send.
//!
//! No refusal of a request as a whole costs an event: a 401, 403, 404 or
//! 5xx (a CDN misconfigured for a minute, a deploy) pauses the queue with
//! backoff, and a 413 also halves the batch. Only the collector's per-event
//! `rejected` takes an event out of the queue, and then into the dead letters
//! (`dead_letters`), named on the console.
//!
//! Every decision (batching, backoff, splitting, eviction, reading storage)
//! is asked of `touchpoint_core::queue`; this module does the I/O.

use std::rc::Rc;

use touchpoint_core::queue::{settle, Fate, Policy, Verdict};
use touchpoint_protocol::write::{push_padded, push_str};
use touchpoint_protocol::{EventResult, EventStatus};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::browser::{self, js};
use crate::cell::RefCell;
use crate::dead_letters::{listed, DeadLetters};
use crate::report::{report, Code, Console};
use crate::text::{after_first, after_last, cat, num, parse_u32, quoted};

/// `(key, event)` pairs. A few entries at a time: a `Vec` costs the page
/// far fewer bytes of code than a map.
type Entries = Vec<(String, String)>;

fn get<'a>(entries: &'a Entries, key: &str) -> Option<&'a String> {
    entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn take(entries: &mut Entries, key: &str) -> Option<String> {
    let at = entries.iter().position(|(k, _)| k == key)?;
    Some(entries.remove(at).1)
}

/// The queue's keys, sorted (keys sort by age). At a full queue every
/// `track()` drops the oldest: they leave by a head offset, not by shifting
/// the rest of the keys each time, and the spent front is let go once it is
/// half the vector.
#[derive(Default)]
struct Index {
    keys: Vec<String>,
    head: usize,
}

impl Index {
    fn live(&self) -> &[String] {
        &self.keys[self.head..]
    }

    fn len(&self) -> usize {
        self.keys.len() - self.head
    }

    fn insert(&mut self, key: String) {
        // Nearly always the newest: then no search (each comparison walks the keys' common prefix).
        if self.live().last().is_none_or(|last| *last < key) {
            self.keys.push(key);
        } else if let Err(at) = self.live().binary_search(&key) {
            self.keys.insert(self.head + at, key);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Ok(at) = self.live().binary_search_by(|k| k.as_str().cmp(key)) {
            self.keys.remove(self.head + at);
        }
    }

    fn pop_oldest(&mut self) -> Option<String> {
        let key = std::mem::take(self.keys.get_mut(self.head)?);
        self.head += 1;
        if self.head * 2 > self.keys.len() {
            self.keys = self.keys.split_off(self.head);
            self.head = 0;
        }
        Some(key)
    }
}

#[derive(Clone)]
pub struct Outbox(Rc<RefCell<Inner>>);

struct Inner {
    project: String,
    url: String,
    policy: Policy,
    /// `None` where localStorage is missing or throws.
    storage: Option<web_sys::Storage>,
    /// Events storage could not take (missing, or full), by the same keys.
    memory: Entries,
    /// Events pushed during this task and not yet written (see the module docs).
    staged: Entries,
    /// Keys dropped to make room: removed from storage by the
    /// same end-of-task write (or, if still staged, never written).
    evicted: Vec<String>,
    /// The end-of-task write of `staged` and `evicted` is scheduled.
    write_scheduled: bool,
    /// Keys this tab is sending right now.
    in_flight: Vec<String>,
    /// The queue's keys as this tab last saw them: kept up to date by its own
    /// pushes and removals, and re-read from storage at each flush (when other
    /// tabs' events matter). Spares `track()` a scan of all of localStorage.
    /// Sorted (keys sort by age).
    index: Index,
    failures: u32,
    /// After a failure, no send before this (ms since the epoch): new events
    /// must not cut a backoff or a `Retry-After` short.
    not_before: f64,
    /// Events per request: the policy's batch, less after a 413 (see `Verdict::Split`).
    batch_cap: usize,
    dead: DeadLetters,
    /// The next send, and when it is due; replacing it cancels the old one.
    timer: Option<(browser::Timer, f64)>,
    sending: bool,
    said_memory_only: bool,
    tab: String,
    /// Orders events created in the same millisecond by this tab.
    seq: u32,
}

/// What `push` did besides queueing.
pub struct Pushed {
    /// Ids of the oldest events dropped to make room.
    pub dropped: Vec<String>,
}

pub enum PushError {
    TooLarge { bytes: usize, max: usize },
}

enum Answer {
    Status {
        status: u16,
        retry_after: Option<String>,
        body: String,
    },
    /// Network error, reset connection, or no answer within the timeout.
    NoAnswer(String),
}

impl Outbox {
    pub fn new(endpoint: &str, project: &str, policy: Policy) -> Outbox {
        let storage = browser::local_storage();
        let batch_cap = policy.max_batch_events;
        let outbox = Outbox(Rc::new(RefCell::new(Inner {
            project: project.to_owned(),
            url: cat(&[endpoint, "/v1/events"]),
            policy,
            storage,
            memory: Vec::new(),
            staged: Vec::new(),
            evicted: Vec::new(),
            write_scheduled: false,
            in_flight: Vec::new(),
            index: Index::default(),
            failures: 0,
            not_before: 0.0,
            batch_cap,
            dead: DeadLetters::new(project),
            timer: None,
            sending: false,
            said_memory_only: false,
            tab: browser::uuid(),
            seq: 0,
        })));
        if outbox.0.borrow().storage.is_none() {
            outbox.memory_only("localStorage is unavailable");
        }
        outbox.install_page_hooks();
        // Whatever an earlier page left unsent goes out now.
        if !outbox.rescan().is_empty() {
            outbox.schedule(0);
        }
        outbox
    }

    fn prefix(&self) -> String {
        let mut prefix = String::new();
        self.push_prefix(&mut prefix);
        prefix
    }

    /// `touchpoint:<project>:q:`, the start of every queue key.
    fn push_prefix(&self, out: &mut String) {
        out.push_str("touchpoint:");
        out.push_str(&self.0.borrow().project);
        out.push_str(":q:");
    }

    /// `<prefix><ts, 13 digits>.<seq, 6 digits>:<id>`: keys sort by age. Built
    /// by hand, not with `format!`, because every `track()` makes one.
    fn key_for(&self, ts: i64, seq: u32, id: &str) -> String {
        let mut key = String::with_capacity(80);
        self.push_prefix(&mut key);
        push_padded(&mut key, ts.max(0) as u64, 13);
        key.push('.');
        push_padded(&mut key, u64::from(seq), 6);
        key.push(':');
        key.push_str(id);
        key
    }

    /// Queues the event `raw` (its JSON; `id` and `ts` are its own), written
    /// to storage at the end of this task, and schedules a send.
    pub fn push(&self, id: &str, ts: i64, raw: String) -> Result<Pushed, PushError> {
        let max = self.0.borrow().policy.max_event_bytes;
        if raw.len() > max {
            return Err(PushError::TooLarge { bytes: raw.len(), max });
        }
        let dropped = self.make_room();
        let seq = {
            let mut inner = self.0.borrow_mut();
            inner.seq = (inner.seq + 1) % 1_000_000;
            inner.seq
        };
        let key = self.key_for(ts, seq, id);
        let queued = {
            let mut inner = self.0.borrow_mut();
            inner.index.insert(key.clone());
            inner.staged.push((key, raw));
            inner.index.len()
        };
        self.write_at_end_of_task();
        let delay = self.0.borrow().policy.flush_in_ms(queued);
        self.schedule(delay);
        Ok(Pushed { dropped })
    }

    /// Drops the oldest events so that one more fits; returns their ids.
    pub fn make_room(&self) -> Vec<String> {
        let excess = {
            let inner = self.0.borrow();
            inner.policy.overflow(inner.index.len())
        };
        if excess == 0 {
            return Vec::new();
        }
        // A loop, not an iterator chain: fewer bytes in the module before the card.
        let mut dropped = Vec::new();
        while dropped.len() < excess {
            let Some(id) = self.evict_oldest() else { break };
            dropped.push(id);
        }
        dropped
    }

    /// Drops the oldest event from the queue now and from storage at the end
    /// of the task: at a full queue every `track()` drops one, and a
    /// synchronous `removeItem` each cost more than the rest of the call.
    /// Every path that reads storage to send writes first (`write_staged`),
    /// so an evicted event is never sent. Returns its id.
    fn evict_oldest(&self) -> Option<String> {
        let mut inner = self.0.borrow_mut();
        let key = inner.index.pop_oldest()?;
        let id = after_last(&key, b':').to_owned();
        take(&mut inner.memory, &key);
        inner.evicted.push(key);
        drop(inner);
        self.write_at_end_of_task();
        Some(id)
    }

    fn write_at_end_of_task(&self) {
        if std::mem::replace(&mut self.0.borrow_mut().write_scheduled, true) {
            return;
        }
        let this = self.clone();
        if !browser::at_end_of_task(move || this.write_staged()) {
            self.write_staged();
        }
    }

    /// Writes the staged events to storage (to memory what storage refuses).
    /// Public for work that itself runs at the end of the task, which writes
    /// now instead of in the microtask `push` scheduled.
    pub fn write_staged(&self) {
        let refused = {
            let mut inner = self.0.borrow_mut();
            inner.write_scheduled = false;
            let staged = std::mem::take(&mut inner.staged);
            let mut evicted = std::mem::take(&mut inner.evicted);
            // Evictions leave the index oldest first, but a clock stepping back can put a newer
            // event ahead of an evicted one: sorted here, the search below never misses.
            crate::text::sort(&mut evicted);
            let mut refused = false;
            for (key, raw) in staged {
                // Dropped in the task that staged it (a burst longer than the queue): never written.
                if evicted.binary_search(&key).is_ok() {
                    continue;
                }
                if inner.storage.as_ref().is_none_or(|s| s.set_item(&key, &raw).is_err()) {
                    inner.memory.push((key, raw));
                    refused = true;
                }
            }
            if let Some(s) = &inner.storage {
                for key in &evicted {
                    let _ = s.remove_item(key);
                }
            }
            refused
        };
        if refused {
            self.memory_only("localStorage is full or refused the write");
        }
    }

    /// Deletes every unsent event, dead letters included (after `optOut()`).
    pub fn clear(&self) {
        for key in self.keys() {
            self.remove(&key);
        }
        let inner = self.0.borrow();
        if let Some(s) = &inner.storage {
            inner.dead.clear(s);
        }
    }

    fn memory_only(&self, why: &str) {
        let mut inner = self.0.borrow_mut();
        if !inner.said_memory_only {
            inner.said_memory_only = true;
            drop(inner);
            report(
                Code::StorageUnavailable,
                &cat(&[why, "; events are kept in memory until sent, and are lost if this page closes first"]),
                &[],
                Console::Warn,
            );
        }
    }

    /// Re-reads the queue's keys from storage (other tabs may have added or
    /// sent events) into the index; returns them in age order.
    fn rescan(&self) -> Vec<String> {
        let keys = self.keys();
        self.0.borrow_mut().index = Index { keys: keys.clone(), head: 0 };
        keys
    }

    /// Queue keys in age order, from storage, memory and what is staged.
    fn keys(&self) -> Vec<String> {
        // Evictions and staged events first, so storage lists the queue as this tab has it.
        self.write_staged();
        let prefix = self.prefix();
        let inner = self.0.borrow();
        let mut keys = inner.storage.as_ref().map(|s| listed(s, &prefix)).unwrap_or_default();
        keys.extend(inner.memory.iter().chain(&inner.staged).map(|(k, _)| k.clone()));
        crate::text::sort(&mut keys);
        keys.dedup();
        keys
    }

    fn read(&self, key: &str) -> Option<String> {
        let inner = self.0.borrow();
        let local = get(&inner.staged, key).or_else(|| get(&inner.memory, key)).cloned();
        local.or_else(|| inner.storage.as_ref()?.get_item(key).ok().flatten())
    }

    /// Removes an entry; returns the event id from its key.
    fn remove(&self, key: &str) -> Option<String> {
        let mut inner = self.0.borrow_mut();
        take(&mut inner.memory, key);
        inner.index.remove(key);
        // A staged event is not in storage yet.
        if take(&mut inner.staged, key).is_none() {
            if let Some(s) = &inner.storage {
                let _ = s.remove_item(key);
            }
        }
        Some(after_last(key, b':').to_owned())
    }

    /// The next batch within `budget` bytes: the queue read oldest first,
    /// skipping what this tab is sending and removing (and reporting) what
    /// is not an event of ours, and no further than the batch takes (a long
    /// backlog is not re-read for every batch). `rescan`: list storage again
    /// first, for other tabs' events.
    fn next_batch(&self, budget: usize, rescan: bool) -> Vec<(String, String)> {
        // Persisted before sent: whatever is staged goes to storage first.
        self.write_staged();
        let keys: Vec<String> = if rescan { self.rescan() } else { self.0.borrow().index.live().to_vec() };
        let mut fill = {
            let inner = self.0.borrow();
            inner.policy.batch(budget).at_most(inner.batch_cap)
        };
        let mut out = Vec::new();
        for key in keys {
            if fill.is_full() {
                break;
            }
            if self.0.borrow().in_flight.contains(&key) {
                continue;
            }
            let Some(raw) = self.read(&key) else {
                // Gone meanwhile (another tab, or the user).
                let mut inner = self.0.borrow_mut();
                inner.index.remove(&key);
                continue;
            };
            match read_stored(&raw) {
                Ok(()) => {
                    if !fill.offer(raw.len()) {
                        break;
                    }
                    out.push((key, raw));
                }
                Err(reason) => {
                    let id = self.remove(&key).unwrap_or_default();
                    report(
                        Code::CorruptStorage,
                        &cat(&["removed a queued entry that is not a valid event (", &key, "): ", reason]),
                        &[id],
                        Console::Error,
                    );
                }
            }
        }
        out
    }

    /// Sends after `delay_ms` (but not during a backoff), unless a send is
    /// already due sooner.
    pub fn schedule(&self, delay_ms: u32) {
        let now = js_sys::Date::now();
        let due = (now + delay_ms as f64).max(self.0.borrow().not_before);
        let delay_ms = (due - now).max(0.0) as u32;
        {
            let inner = self.0.borrow();
            if inner.timer.as_ref().is_some_and(|(_, at)| *at <= due) {
                return;
            }
        }
        let this = self.clone();
        let timer = browser::timer(delay_ms, move || {
            // Its own timer: dropping it now only frees the callback once it returns.
            let fired = this.0.borrow_mut().timer.take();
            drop(fired);
            this.flush();
        });
        // Replacing the pending timer cancels it.
        let old = self.0.borrow_mut().timer.replace((timer, due));
        drop(old);
    }

    /// Sends everything queued, batch after batch, while holding the
    /// cross-tab lock. Stops at the first failure and schedules a retry.
    pub fn flush(self) {
        // A timer set before a failure may fire inside its backoff: wait it out.
        let wait = self.0.borrow().not_before - js_sys::Date::now();
        if wait > 0.0 {
            self.schedule(wait as u32);
            return;
        }
        if std::mem::replace(&mut self.0.borrow_mut().sending, true) {
            return;
        }
        let (name, tab) = {
            let inner = self.0.borrow();
            (cat(&["touchpoint:", &inner.project, ":send"]), inner.tab.clone())
        };
        let this = self.clone();
        let work: browser::Work = Box::new(move |done| this.send_all(done));
        browser::with_lock(
            &name,
            &tab,
            work,
            Box::new(move |got| {
                self.0.borrow_mut().sending = false;
                if !got {
                    // Another tab is sending; it sends our events too. Look again later
                    // in case it finished before we wrote the last ones.
                    let delay = self.0.borrow().policy.flush_delay_ms.max(500);
                    self.schedule(delay);
                }
            }),
        );
    }

    /// Sends batch after batch until the queue is empty or a request fails; then `done`.
    fn send_all(self, done: Box<dyn FnOnce()>) {
        self.send_from(true, done);
    }

    /// Storage is listed once per flush (`rescan`); later batches come from the index.
    fn send_from(self, rescan: bool, done: Box<dyn FnOnce()>) {
        let budget = self.0.borrow().policy.max_batch_bytes;
        let batch = self.next_batch(budget, rescan);
        if batch.is_empty() {
            return done();
        }
        let this = self.clone();
        self.send(
            batch,
            false,
            Box::new(move |answered| match answered {
                true => this.send_from(false, done),
                false => done(),
            }),
        );
    }

    /// One request; `then` hears `true` when the collector answered for the batch.
    fn send(&self, batch: Vec<(String, String)>, keepalive: bool, then: Box<dyn FnOnce(bool)>) {
        let (url, body, timeout) = {
            let mut inner = self.0.borrow_mut();
            for (k, _) in &batch {
                inner.in_flight.push(k.clone());
            }
            let mut body = String::from("{\"key\":");
            push_str(&mut body, &inner.project);
            body.push_str(",\"events\":[");
            for (i, (_, raw)) in batch.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(raw);
            }
            body.push_str("]}");
            (inner.url.clone(), body, inner.policy.request_timeout_ms)
        };
        let this = self.clone();
        post(
            &url,
            body,
            timeout,
            keepalive,
            Box::new(move |answer| {
                {
                    let mut inner = this.0.borrow_mut();
                    for (k, _) in &batch {
                        inner.in_flight.retain(|f| f != k);
                    }
                }
                then(this.settle(batch, answer));
            }),
        );
    }

    /// Applies the collector's answer to a batch. `true` if the collector
    /// answered for its events (go on with the next batch).
    fn settle(&self, batch: Vec<(String, String)>, answer: Answer) -> bool {
        let ids: Vec<String> = batch.iter().map(|(k, _)| after_last(k, b':').to_owned()).collect();
        let (status, retry_after, body) = match &answer {
            Answer::Status { status, retry_after, body } => (Some(*status), retry_after.as_deref(), body.as_str()),
            Answer::NoAnswer(_) => (None, None, ""),
        };
        let why = || match &answer {
            Answer::Status { status, .. } => cat(&["HTTP ", &num(u64::from(*status))]),
            Answer::NoAnswer(why) => why.clone(),
        };
        let retry_after_ms = retry_after.and_then(retry_after_ms);
        let (failures, random) = (self.0.borrow().failures + 1, js_sys::Math::random());
        let verdict = self.0.borrow().policy.verdict(status, retry_after_ms, failures, random, batch.len());
        match verdict {
            Verdict::Delivered => {
                let Some(results) = read_results(body) else {
                    // A proxy answering 200 with something else: treat as not delivered.
                    let ms = self.0.borrow().policy.backoff_ms(failures, random);
                    return self.pause(&ids, "the collector's answer was not readable", ms, failures);
                };
                {
                    let mut inner = self.0.borrow_mut();
                    inner.failures = 0;
                    inner.not_before = 0.0;
                    inner.batch_cap = inner.policy.regrow(inner.batch_cap);
                }
                let sent: Vec<&str> = ids.iter().map(String::as_str).collect();
                for ((key, raw), fate) in batch.iter().zip(settle(&sent, &results)) {
                    match fate {
                        Fate::Done => {
                            self.remove(key);
                        }
                        Fate::Dead(reason) => self.refused(key, raw, &reason),
                        Fate::Keep => {}
                    }
                }
                true
            }
            Verdict::RetryIn(ms) => self.pause(&ids, &why(), ms, failures),
            Verdict::Split { retry_in_ms, max_events } => {
                self.0.borrow_mut().batch_cap = max_events;
                let why = cat(&[&why(), "; sending at most ", &num(max_events as u64), " per request"]);
                self.pause(&ids, &why, retry_in_ms, failures)
            }
            Verdict::Refused => {
                if let Some((key, raw)) = batch.first() {
                    // A proxy's error page can be long: its status says enough.
                    let body = if body.len() > 200 { "" } else { body };
                    self.refused(key, raw, &cat(&[&why(), ": ", body]));
                }
                // Not at once to the next one: if the refusals come from a
                // passing fault, each further one costs a backoff.
                let ms = self.0.borrow().policy.backoff_ms(failures, random);
                self.wait(ms, failures)
            }
        }
    }

    /// Nothing was taken: everything stays queued; the next try waits `ms`.
    fn pause(&self, ids: &[String], why: &str, ms: u32, failures: u32) -> bool {
        let message = cat(&[
            "could not send ",
            &num(ids.len() as u64),
            " events (",
            why,
            "); retrying in ",
            &num(u64::from(ms)),
            " ms, nothing is lost",
        ]);
        report(Code::DeliveryFailed, &message, ids, if failures == 1 { Console::Warn } else { Console::Silent });
        self.wait(ms, failures)
    }

    /// No send for `ms` (new events must not cut a backoff or a `Retry-After` short).
    fn wait(&self, ms: u32, failures: u32) -> bool {
        {
            let mut inner = self.0.borrow_mut();
            inner.failures = failures;
            inner.not_before = js_sys::Date::now() + ms as f64;
        }
        self.schedule(ms);
        false
    }

    /// The collector refused one event by itself: it leaves the queue for
    /// the dead letters, and the page hears which one and why.
    fn refused(&self, key: &str, raw: &str, reason: &str) {
        self.remove(key);
        let id = after_last(key, b':').to_owned();
        let kept = {
            let inner = self.0.borrow();
            let suffix = after_first(key, ":q:").unwrap_or(key);
            inner.dead.keep(inner.storage.as_ref(), &inner.policy, suffix, raw, reason)
        };
        let message = cat(&[
            &name_of(raw),
            " event (",
            &id,
            ") was refused: ",
            reason,
            match kept {
                Some(0) => "; kept with the dead letters (Touchpoint.replayDeadLetters() sends them again)",
                Some(_) => "; kept with the dead letters (the oldest made room; replayDeadLetters() sends them)",
                None => "; storage could not keep it",
            },
        ]);
        report(Code::EventRejected, &message, &[id], Console::Warn);
    }

    /// The page is going away (or hidden, which on mobile may be the last
    /// chance): send what fits in the keepalive budget now, without waiting
    /// for a lock. What does not fit stays queued for the next page load.
    fn flush_on_hide(&self) {
        let budget = self.0.borrow().policy.keepalive_bytes;
        let batch = self.next_batch(budget, true);
        if batch.is_empty() {
            return;
        }
        self.send(batch, true, Box::new(|_| {}));
    }

    fn install_page_hooks(&self) {
        let Some(window) = web_sys::window() else { return };
        let this = self.clone();
        let on_hide = Closure::<dyn FnMut()>::new(move || {
            // Staged events are written at the end of the task that made them, so
            // none can be waiting here; writing them anyway costs nothing if so.
            this.write_staged();
            let hidden = web_sys::window()
                .and_then(|w| w.document())
                .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Hidden);
            if hidden {
                this.flush_on_hide();
            }
        });
        let _ = window.add_event_listener_with_callback("pagehide", on_hide.as_ref().unchecked_ref());
        // Back online: no reason to sit out the rest of a backoff that the outage caused.
        let this = self.clone();
        let on_online = Closure::<dyn FnMut()>::new(move || {
            this.0.borrow_mut().not_before = 0.0;
            this.schedule(0);
        });
        let _ = window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
        on_online.forget();
        if let Some(doc) = window.document() {
            let _ = doc.add_event_listener_with_callback("visibilitychange", on_hide.as_ref().unchecked_ref());
        }
        // Lives as long as the page.
        on_hide.forget();
    }
}

/// POSTs `body` to `url`; `then` hears the answer, or why there was none.
fn post(url: &str, body: String, timeout_ms: u32, keepalive: bool, then: Box<dyn FnOnce(Answer)>) {
    let (fetched, abort) = match start_post(url, body, keepalive) {
        Ok(started) => started,
        Err(e) => return then(Answer::NoAnswer(browser::describe(&e))),
    };
    let abort_later = abort.clone();
    // Dropped with the answer: a request that answered in time cancels its abort.
    let timer = browser::timer(timeout_ms, move || abort_later.abort());
    let finish = move |result: Result<Answer, JsValue>| {
        drop(timer);
        then(match result {
            Ok(a) => a,
            Err(_) if abort.signal().aborted() => {
                Answer::NoAnswer(cat(&["no answer within ", &num(u64::from(timeout_ms)), " ms"]))
            }
            Err(e) => Answer::NoAnswer(browser::describe(&e)),
        })
    };
    browser::on_settled(&fetched, move |response| {
        let response = match response.and_then(|r| r.dyn_into::<web_sys::Response>()) {
            Ok(r) => r,
            Err(e) => return finish(Err(e)),
        };
        let status = response.status();
        let retry_after = response.headers().get("retry-after").ok().flatten();
        match response.text() {
            Ok(text) => browser::on_settled(&text, move |body| {
                finish(body.map(|b| Answer::Status { status, retry_after, body: b.as_string().unwrap_or_default() }))
            }),
            Err(e) => finish(Err(e)),
        }
    });
}

/// The request under way, and what aborts it.
fn start_post(
    url: &str,
    body: String,
    keepalive: bool,
) -> Result<(js_sys::Promise, web_sys::AbortController), JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&body.into());
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    init.set_headers(&headers);
    if keepalive {
        js_sys::Reflect::set(&init, &"keepalive".into(), &true.into())?;
    }
    let abort = web_sys::AbortController::new()?;
    init.set_signal(Some(&abort.signal()));
    let request = web_sys::Request::new_with_str_and_init(url, &init)?;
    let window = web_sys::window().ok_or("no window")?;
    Ok((window.fetch_with_request(&request), abort))
}

/// `Retry-After` (seconds, or an HTTP date, which the browser reads) as ms
/// from now; a date in the past is 0. The policy bounds it either way.
fn retry_after_ms(value: &str) -> Option<u32> {
    if let Some(secs) = parse_u32(value) {
        return Some(secs.saturating_mul(1000));
    }
    let at = js_sys::Date::parse(value);
    (!at.is_nan()).then(|| (at - js_sys::Date::now()).clamp(0.0, f64::from(u32::MAX)) as u32)
}

/// `A track "name"` or `A "type"`: which event, for a message.
fn name_of(raw: &str) -> String {
    let v = js::parse(raw).ok();
    let text = |k: &str| v.as_ref().and_then(|v| js::get(v, k)).and_then(|f| f.as_string()).unwrap_or_default();
    match text("type").as_str() {
        "track" => cat(&["A track ", &quoted(&text("name"))]),
        other => cat(&["A ", &quoted(other)]),
    }
}

/// The collector's per-event results (`{"results":[{id, status, reason?}]}`);
/// `None` if the body is not that (a proxy answering 200 with a page of its own).
fn read_results(body: &str) -> Option<Vec<EventResult>> {
    let v = js::parse(body).ok()?;
    let items = js::get(&v, "results")?.dyn_into::<js_sys::Array>().ok()?;
    // A loop, not `collect::<Option<Vec<_>>>()`: the adapter it instantiates costs the page more.
    let mut results = Vec::new();
    for r in items.iter() {
        let status = match js::get(&r, "status")?.as_string()?.as_str() {
            "accepted" => EventStatus::Accepted,
            "duplicate" => EventStatus::Duplicate,
            "rejected" => EventStatus::Rejected,
            _ => return None,
        };
        let reason = js::get(&r, "reason").and_then(|r| r.as_string());
        results.push(EventResult { id: js::get(&r, "id")?.as_string()?, status, reason });
    }
    Some(results)
}

/// Reads a stored event. Storage is shared with the host page and the user,
/// so anything can be there. The check is structural (an object with a
/// non-empty `id`, a `type`, an integer `ts`, `anonymous_id` and `url`): the
/// widget sends the stored text as it is, and the collector validates it fully.
fn read_stored(raw: &str) -> Result<(), &'static str> {
    let v = js::parse(raw).map_err(|_| "not JSON")?;
    if !js::is_plain_object(&v) {
        return Err("not a JSON object");
    }
    let text = |k: &str| js::get(&v, k).and_then(|f| f.as_string());
    if text("id").is_none_or(|s| s.is_empty()) {
        return Err("event without an id");
    }
    if text("type").is_none() {
        return Err("event without a type");
    }
    if !js::get(&v, "ts").and_then(|t| t.as_f64()).is_some_and(|t| t.fract() == 0.0) {
        return Err("event without an integer ts");
    }
    if text("anonymous_id").is_none() || text("url").is_none() {
        return Err("event without anonymous_id or url");
    }
    Ok(())
}
