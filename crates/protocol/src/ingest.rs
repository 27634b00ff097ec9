use serde::{Deserialize, Serialize};

use crate::Event;

/// Body of `POST /v1/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EventBatch {
    /// The project's public ingest key (safe to put in a page). In the body,
    /// not a header, so that `navigator.sendBeacon` can carry it too.
    pub key: String,
    pub events: Vec<Event>,
}

/// Answer to `POST /v1/events`: one result per event, in the batch's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IngestResponse {
    pub results: Vec<EventResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EventResult {
    pub id: String,
    pub status: EventStatus,
    /// Why the event was rejected; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Stored now.
    Accepted,
    /// An event with this id was stored before; nothing changed.
    Duplicate,
    /// Not taken; `reason` says why. Sending it again will not help. (The
    /// collector may keep such an event for the record, flagged, e.g. a
    /// survey event that its survey contradicts; it never counts.)
    Rejected,
}
