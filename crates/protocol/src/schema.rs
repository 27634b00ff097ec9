//! The wire contract as JSON Schema (draft 2020-12), generated from the
//! types themselves so that the published files cannot drift from what the
//! collector parses. The collector's `contract` test compares them with the
//! committed copies in `crates/protocol/schema/` and rewrites them on request.

use schemars::schema_for;
use serde_json::{Map, Value};

use crate::{Event, EventBatch, IngestResponse};

/// `(path under schema/, schema)` for every published document: the batch
/// and answer of `POST /v1/events`, any event, and one flat schema per event
/// type (envelope and kind fields side by side, as on the wire).
pub fn documents() -> Vec<(String, Value)> {
    let event = titled(schema_for!(Event).to_value(), "Event");
    let mut docs = vec![
        ("batch.json".to_string(), titled(schema_for!(EventBatch).to_value(), "EventBatch")),
        ("ingest-response.json".to_string(), titled(schema_for!(IngestResponse).to_value(), "IngestResponse")),
    ];
    docs.extend(per_type(&event).into_iter().map(|(name, schema)| (format!("events/{name}.json"), schema)));
    docs.push(("event.json".to_string(), event));
    docs
}

fn titled(mut schema: Value, title: &str) -> Value {
    if let Some(o) = schema.as_object_mut() {
        o.insert("title".into(), Value::String(title.into()));
    }
    schema
}

/// Splits the `Event` schema (envelope `properties` plus a `oneOf` of kinds)
/// into one self-contained schema per `type`.
fn per_type(event: &Value) -> Vec<(String, Value)> {
    let envelope_props = event["properties"].as_object().cloned().unwrap_or_default();
    let envelope_required = event["required"].as_array().cloned().unwrap_or_default();
    let defs = event.get("$defs").cloned();
    let kinds = event["oneOf"].as_array().cloned().unwrap_or_default();
    kinds
        .iter()
        .filter_map(|kind| {
            let name = kind["properties"]["type"]["const"].as_str()?.to_string();
            let mut props: Map<String, Value> = envelope_props.clone();
            props.extend(kind["properties"].as_object().cloned().unwrap_or_default());
            let mut required = envelope_required.clone();
            required.extend(kind["required"].as_array().cloned().unwrap_or_default());
            let mut doc = Map::new();
            doc.insert("$schema".into(), event["$schema"].clone());
            doc.insert("title".into(), Value::String(name.clone()));
            if let Some(d) = kind.get("description") {
                doc.insert("description".into(), d.clone());
            }
            doc.insert("type".into(), "object".into());
            doc.insert("properties".into(), Value::Object(props));
            doc.insert("required".into(), Value::Array(required));
            if let Some(defs) = &defs {
                doc.insert("$defs".into(), defs.clone());
            }
            Some((name, Value::Object(doc)))
        })
        .collect()
}
