//! The OpenAPI 3.1 description of the public routes, built once from the
//! protocol's generated JSON Schemas so that the document and the parser
//! cannot disagree. OpenAPI 3.1 schemas are JSON Schema 2020-12, so the
//! generated schemas go in unchanged; only their `$defs` move to
//! `components/schemas` and their `$ref`s follow.

use serde_json::{json, Map, Value};
use touchpoint_protocol::{MAX_BATCH_EVENTS, MAX_EVENT_BYTES};

use crate::MAX_BODY_BYTES;

/// The whole document, as served at `GET /v1/openapi.json`.
pub fn document() -> Value {
    let mut schemas = Map::new();
    for (path, schema) in touchpoint_protocol::schema::documents() {
        let name = match path.as_str() {
            "batch.json" => "EventBatch",
            "ingest-response.json" => "IngestResponse",
            "event.json" => "Event",
            _ => continue,
        };
        hoist(schema, name, &mut schemas);
    }
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "description": "Every error answer: what went wrong, and the JSON path or parameter at fault when there is one.",
            "properties": { "error": { "type": "string" }, "field": { "type": ["string", "null"] } },
            "required": ["error"]
        }),
    );
    let error = |description: &str| {
        json!({ "description": description,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
    };
    let any_json = |description: &str| json!({ "description": description, "content": { "application/json": { "schema": { "type": "object" } } } });
    let key_query = json!({ "name": "key", "in": "query", "required": true, "schema": { "type": "string" },
                            "description": "The project's public key." });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Touchpoint collector",
            "version": "1",
            "description": "The routes the widget and a host's backend use. A host that implements `POST /v1/events` itself can check its implementation with `touchpoint-collector conformance <url>`."
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": {
            "/v1/events": {
                "post": {
                    "operationId": "ingestEvents",
                    "summary": "Store a batch of events, judging each on its own.",
                    "description": format!(
                        "At most {MAX_BATCH_EVENTS} events of at most {MAX_EVENT_BYTES} bytes each, in a body of at most {MAX_BODY_BYTES} bytes. \
                         `text/plain` is accepted too, so that `navigator.sendBeacon` can post without a CORS preflight. \
                         With `Authorization: Bearer <secret_key>` the batch is the host's backend speaking (stored as server events). \
                         A retried event with an id already stored answers `duplicate` and changes nothing."
                    ),
                    "requestBody": {
                        "required": true,
                        "content": {
                            "application/json": { "schema": { "$ref": "#/components/schemas/EventBatch" } },
                            "text/plain": { "schema": { "$ref": "#/components/schemas/EventBatch" } }
                        }
                    },
                    "responses": {
                        "200": { "description": "One result per event, in the batch's order.",
                                 "content": { "application/json": { "schema": { "$ref": "#/components/schemas/IngestResponse" } } } },
                        "400": error("The batch as a whole is malformed; nothing was stored."),
                        "403": error("The origin or credentials are refused."),
                        "413": error("The body or the batch is over its limit."),
                        "415": error("Neither application/json nor text/plain."),
                        "429": {
                            "description": "Over the project's rate limit; nothing was stored.",
                            "headers": { "Retry-After": { "description": "Seconds to wait before sending again.", "schema": { "type": "integer" } } },
                            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                        }
                    }
                },
                "get": {
                    "operationId": "listEvents",
                    "summary": "The project's stored events, oldest first.",
                    "security": [{ "secretKey": [] }],
                    "parameters": [
                        { "name": "survey_id", "in": "query", "schema": { "type": "string" } },
                        { "name": "anonymous_id", "in": "query", "schema": { "type": "string" } },
                        { "name": "type", "in": "query", "schema": { "type": "string" } },
                        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 10000 } }
                    ],
                    "responses": {
                        "200": { "description": "The events as sent, and flags for those stored rejected or with a distrusted `ts`.",
                                 "content": { "application/json": { "schema": {
                                     "type": "object",
                                     "properties": {
                                         "events": { "type": "array", "items": { "$ref": "#/components/schemas/Event" } },
                                         "flags": { "type": "object" }
                                     },
                                     "required": ["events"]
                                 } } } },
                        "401": error("No usable secret key.")
                    }
                }
            },
            "/v1/config": {
                "get": {
                    "operationId": "widgetConfig",
                    "summary": "What may show on its own, and what the collector knows about this person.",
                    "parameters": [
                        key_query.clone(),
                        { "name": "user_id", "in": "query", "schema": { "type": "string" } },
                        { "name": "user_hash", "in": "query", "schema": { "type": "string" } },
                        { "name": "anonymous_id", "in": "query", "schema": { "type": "string" } }
                    ],
                    "responses": { "200": any_json("`{\"targeting\", \"facts\"}`."), "403": error("Origin refused, or a user id without its hash where identities are verified.") }
                }
            },
            "/v1/surveys/{id}": {
                "get": {
                    "operationId": "surveyDefinition",
                    "summary": "A survey's definition, or with `form=card` its validated card form: with `key`, the project's published version (the card form names it in `version`), else the collector's file.",
                    "parameters": [
                        { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "form", "in": "query", "schema": { "type": "string", "enum": ["card"] } },
                        { "name": "locale", "in": "query", "schema": { "type": "string" } },
                        { "name": "key", "in": "query", "schema": { "type": "string" }, "description": "The project's public key." }
                    ],
                    "responses": {
                        "200": any_json("The survey, with an `ETag`."),
                        "304": { "description": "Not modified since the `If-None-Match` tag." },
                        "401": error("Unknown project key."),
                        "404": error("No such survey.")
                    }
                }
            },
            "/v1/checklists": {
                "get": {
                    "operationId": "checklistDefinitions",
                    "summary": "The checklist definitions as loaded.",
                    "parameters": [key_query.clone()],
                    "responses": { "200": any_json("`{\"segments\", \"checklists\"}`."), "404": error("No checklists on this collector.") }
                }
            },
            "/v1/checklists/state": {
                "get": {
                    "operationId": "checklistState",
                    "summary": "One person's checklist progress, rebuilt from their stored events.",
                    "parameters": [
                        key_query.clone(),
                        { "name": "user_id", "in": "query", "schema": { "type": "string" } },
                        { "name": "user_hash", "in": "query", "schema": { "type": "string" } },
                        { "name": "anonymous_id", "in": "query", "schema": { "type": "string" } },
                        { "name": "account_id", "in": "query", "schema": { "type": "string" } },
                        { "name": "checklist", "in": "query", "schema": { "type": "string" } }
                    ],
                    "responses": { "200": any_json("`{\"segment\", \"checklist\", \"progress\", \"dismissed\", \"account\"?}`."), "404": error("No checklists on this collector.") }
                }
            },
            "/v1/help": {
                "get": {
                    "operationId": "helpArticles",
                    "summary": "The help articles.",
                    "parameters": [key_query],
                    "responses": { "200": any_json("`{\"articles\": [...]}`."), "404": error("No help content on this collector.") }
                }
            },
            "/segment/v1/{call}": {
                "post": {
                    "operationId": "segmentIngest",
                    "summary": "Segment's HTTP tracking API (`track`, `identify`, `group`, `page`, `batch`), stored as our events.",
                    "description": "Point a Segment library's host at `<collector>/segment`. Basic auth with the project's secret key as the user name.",
                    "security": [{ "segmentWriteKey": [] }],
                    "parameters": [
                        { "name": "call", "in": "path", "required": true,
                          "schema": { "type": "string", "enum": ["track", "identify", "group", "page", "batch"] } }
                    ],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
                    "responses": {
                        "200": { "description": "`{\"success\": true, \"results\": [...]}`, one result per message.",
                                 "content": { "application/json": { "schema": {
                                     "type": "object",
                                     "properties": {
                                         "success": { "type": "boolean" },
                                         "results": { "type": "array", "items": { "$ref": "#/components/schemas/EventResult" } }
                                     }
                                 } } } },
                        "401": error("No write key."),
                        "403": error("The write key is not a project's secret key."),
                        "404": error("Not a supported Segment call.")
                    }
                }
            },
            "/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": { "200": any_json("The OpenAPI 3.1 document.") }
                }
            }
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "secretKey": { "type": "http", "scheme": "bearer", "description": "The project's secret key; never put it in a page." },
                "segmentWriteKey": { "type": "http", "scheme": "basic", "description": "Segment's convention: the project's secret key as the user name, no password." }
            }
        }
    })
}

/// Puts `schema` under `components/schemas/<name>`, its `$defs` beside it,
/// and points every `#/$defs/X` at `#/components/schemas/X`.
fn hoist(mut schema: Value, name: &str, into: &mut Map<String, Value>) {
    if let Some(o) = schema.as_object_mut() {
        o.remove("$schema");
        if let Some(Value::Object(defs)) = o.remove("$defs") {
            for (def, mut s) in defs {
                retarget(&mut s);
                into.insert(def, s);
            }
        }
    }
    retarget(&mut schema);
    into.insert(name.into(), schema);
}

fn retarget(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                match (k.as_str(), child) {
                    ("$ref", Value::String(r)) => {
                        if let Some(def) = r.strip_prefix("#/$defs/") {
                            *r = format!("#/components/schemas/{def}");
                        }
                    }
                    (_, child) => retarget(child),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(retarget),
        _ => {}
    }
}
