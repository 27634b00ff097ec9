//! Problems the host should hear about: printed on the console and passed to
//! `Touchpoint.on('error', …)` listeners as `{ code, message, eventIds }`.

use serde::Serialize;

use crate::{browser, bus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// One event is bigger than the collector accepts; it was not queued.
    EventTooLarge,
    /// The queue was full; the oldest events were dropped.
    QueueOverflow,
    /// Sending failed; the events stay queued and are retried.
    DeliveryFailed,
    /// The collector rejected these events; they are in the dead-letter list.
    EventRejected,
    /// Storage held something that is not an event of ours; it was removed.
    CorruptStorage,
    /// localStorage is missing or full; events are kept in memory only.
    StorageUnavailable,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    code: Code,
    message: &'a str,
    event_ids: &'a [String],
}

#[derive(Clone, Copy)]
pub enum Console {
    Error,
    Warn,
    Silent,
}

pub fn report(code: Code, message: &str, event_ids: &[String], console: Console) {
    match console {
        Console::Error => browser::error(message),
        Console::Warn => browser::warn(message),
        Console::Silent => {}
    }
    let payload = Payload { code, message, event_ids };
    if let Some(v) = browser::to_js(&payload) {
        bus::dispatch("error", v);
    }
}
