//! Posting events to the collector: batched, in order, retried with backoff.
//!
//! Events wait in an in-memory outbox and are sent in batches of up to
//! [`MAX_BATCH_EVENTS`]. A network error, a 5xx or a 429 puts the batch back
//! at the front and retries later; a batch the collector refuses outright
//! (4xx) is kept aside and reported. (Persisting the outbox across page loads
//! is the durable-delivery work that builds on this.)

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use touchpoint_protocol::{Event, EventBatch, EventStatus, IngestResponse, MAX_BATCH_EVENTS};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::browser;

#[derive(Clone)]
pub struct Transport(Rc<RefCell<Inner>>);

struct Inner {
    url: String,
    key: String,
    queue: VecDeque<Event>,
    /// Refused as a whole by the collector (e.g. an unknown key); kept, not retried.
    refused: Vec<Event>,
    sending: bool,
    timer: bool,
    failures: u32,
}

enum Outcome {
    Delivered(IngestResponse),
    /// Worth retrying: network error, 5xx, 429.
    Retry(String),
    /// The collector will not take this batch; sending it again will not help.
    Refused(String),
}

impl Transport {
    pub fn new(endpoint: &str, key: &str) -> Transport {
        Transport(Rc::new(RefCell::new(Inner {
            url: format!("{}/v1/events", endpoint.trim_end_matches('/')),
            key: key.to_owned(),
            queue: VecDeque::new(),
            refused: Vec::new(),
            sending: false,
            timer: false,
            failures: 0,
        })))
    }

    /// Queues `event`; events queued in the same task go out in one batch.
    pub fn send(&self, event: Event) {
        self.0.borrow_mut().queue.push_back(event);
        self.schedule(0);
    }

    fn schedule(&self, delay_ms: i32) {
        {
            let mut inner = self.0.borrow_mut();
            if inner.timer || inner.sending {
                return;
            }
            inner.timer = true;
        }
        let this = self.clone();
        browser::set_timeout(delay_ms, move || {
            this.0.borrow_mut().timer = false;
            wasm_bindgen_futures::spawn_local(this.flush());
        });
    }

    async fn flush(self) {
        let (url, body, batch) = {
            let mut inner = self.0.borrow_mut();
            if inner.sending || inner.queue.is_empty() {
                return;
            }
            inner.sending = true;
            let n = inner.queue.len().min(MAX_BATCH_EVENTS);
            let events: Vec<Event> = inner.queue.drain(..n).collect();
            let batch = EventBatch { key: inner.key.clone(), events };
            let body = serde_json::to_string(&batch).unwrap_or_default();
            (inner.url.clone(), body, batch.events)
        };
        let outcome = post(&url, body).await;
        let retry_in = {
            let mut inner = self.0.borrow_mut();
            inner.sending = false;
            match outcome {
                Outcome::Delivered(resp) => {
                    inner.failures = 0;
                    for r in resp.results.iter().filter(|r| r.status == EventStatus::Rejected) {
                        let reason = r.reason.as_deref().unwrap_or("no reason given");
                        browser::error(&format!("the collector rejected event {}: {reason}", r.id));
                    }
                    None
                }
                Outcome::Retry(why) => {
                    inner.failures += 1;
                    let delay = backoff_ms(inner.failures);
                    if inner.failures == 1 {
                        browser::warn(&format!("could not send events ({why}); retrying, nothing is lost"));
                    }
                    for e in batch.into_iter().rev() {
                        inner.queue.push_front(e);
                    }
                    Some(delay)
                }
                Outcome::Refused(why) => {
                    browser::error(&format!("the collector refused {} events: {why}", batch.len()));
                    inner.refused.extend(batch);
                    None
                }
            }
        };
        match retry_in {
            Some(delay) => self.schedule(delay),
            None if !self.0.borrow().queue.is_empty() => self.schedule(0),
            None => {}
        }
    }
}

/// 1 s, 2 s, 4 s … capped at 60 s.
fn backoff_ms(failures: u32) -> i32 {
    1000i32.saturating_mul(1 << failures.saturating_sub(1).min(6)).min(60_000)
}

async fn post(url: &str, body: String) -> Outcome {
    match try_post(url, body).await {
        Ok(o) => o,
        Err(e) => Outcome::Retry(browser::describe(&e)),
    }
}

async fn try_post(url: &str, body: String) -> Result<Outcome, wasm_bindgen::JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&body.into());
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(url, &init)?;
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request)).await?.dyn_into()?;
    let status = response.status();
    let text = JsFuture::from(response.text()?).await?.as_string().unwrap_or_default();
    Ok(match status {
        200..=299 => match serde_json::from_str(&text) {
            Ok(resp) => Outcome::Delivered(resp),
            Err(e) => Outcome::Retry(format!("unreadable answer from the collector: {e}")),
        },
        429 | 500.. => Outcome::Retry(format!("HTTP {status}")),
        _ => Outcome::Refused(format!("HTTP {status}: {text}")),
    })
}
