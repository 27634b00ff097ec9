//! Problems the host should hear about: printed on the console and passed to
//! `Touchpoint.on('error', …)` listeners as `{ code, message, eventIds }`.

use crate::{browser, bus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// One event is bigger than the collector accepts; it was not queued.
    EventTooLarge,
    /// The queue was full; the oldest events were dropped.
    QueueOverflow,
    /// Sending failed; the events stay queued and are retried.
    DeliveryFailed,
    /// The collector rejected this event by itself; it is with the dead letters.
    EventRejected,
    /// Storage held something that is not an event of ours; it was removed.
    CorruptStorage,
    /// localStorage is missing or full; events are kept in memory only.
    StorageUnavailable,
}

impl Code {
    /// The `code` listeners get.
    pub fn name(self) -> &'static str {
        match self {
            Code::EventTooLarge => "event_too_large",
            Code::QueueOverflow => "queue_overflow",
            Code::DeliveryFailed => "delivery_failed",
            Code::EventRejected => "event_rejected",
            Code::CorruptStorage => "corrupt_storage",
            Code::StorageUnavailable => "storage_unavailable",
        }
    }
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
    let ids: js_sys::Array = event_ids.iter().map(|id| wasm_bindgen::JsValue::from_str(id)).collect();
    bus::dispatch(
        "error",
        bus::payload(&[("code", code.name().into()), ("message", message.into()), ("eventIds", ids.into())]),
    );
}
