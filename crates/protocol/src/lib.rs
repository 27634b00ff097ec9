//! The `/v1` wire format shared by the widget and the collector. Nothing
//! here does I/O.
//!
//! Events go from the widget (which writes them) to the collector (which
//! reads them). An event on the wire is one flat JSON object: the envelope
//! fields (`id`, `type`, `ts`, …) and the fields of its kind side by side, so
//! a host backend can read it without knowing our Rust types.
//!
//! Surveys go the other way, in their card form ([`card`]): the collector
//! writes the validated graph, and the page reads it with `JSON.parse`.

pub mod card;
mod event;
mod ingest;
#[cfg(feature = "schema")]
pub mod schema;
mod uuid;
pub mod write;

pub use card::{
    CardChoice, CardCondition, CardEnding, CardKind, CardQuestion, CardRule, CardScale, CardSurvey, CardTarget,
    CARD_FORM,
};
pub use event::{Action, AnswerValue, Event, EventKind, Props};
pub use ingest::{EventBatch, EventResult, EventStatus, IngestResponse};
pub use uuid::uuid_v4_from_bytes;

/// Largest serialized size of one event that the collector accepts.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// Largest number of events in one `POST /v1/events` batch.
pub const MAX_BATCH_EVENTS: usize = 100;
