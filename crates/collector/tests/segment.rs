//! The Segment-compatible ingest: Segment's `batch` of `identify`, `track`
//! and `group`, authenticated as Segment does (Basic auth, the write key as
//! user name), is stored as our events, from the host's backend, with the
//! same person stitching as the widget's events.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine;
use serde_json::{json, Value};

mod common;
use common::app::TestApp;

const PROJECTS: &str =
    r#"[{"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["https://app.example.com"]}]"#;

fn basic(user: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:")))
}

async fn post(app: &TestApp, path: &str, auth: &str, body: &Value) -> (StatusCode, Value) {
    let req = Request::post(path)
        .header(header::AUTHORIZATION, auth)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(req).await
}

fn batch() -> Value {
    json!({ "batch": [
        { "type": "identify", "messageId": "seg-1", "anonymousId": "anon-1", "userId": "u1",
          "timestamp": "2026-12-03T10:00:00.000Z", "traits": { "email": "sam@acme.example", "plan": "pro" } },
        { "type": "track", "messageId": "seg-2", "anonymousId": "anon-1", "event": "imported_data",
          "timestamp": "2026-12-03T10:01:00.000Z", "properties": { "rows": 120 },
          "context": { "page": { "url": "https://app.example.com/import" } } },
        { "type": "group", "messageId": "seg-3", "userId": "u1", "groupId": "acme",
          "timestamp": "2026-12-03T10:02:00.000Z", "traits": { "seats": 12 } }
    ] })
}

#[tokio::test]
async fn a_segment_batch_is_stored_as_our_events_with_person_stitching() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    let (status, body) = post(&app, "/segment/v1/batch", &basic("sk_test"), &batch()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    let statuses: Vec<&str> =
        body["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["accepted", "accepted", "accepted"], "{body}");

    let (status, listed) = app.secret_get("/v1/events", "sk_test").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let events = listed["events"].as_array().unwrap();
    let summary: Vec<Value> = events
        .iter()
        .map(|e| json!([e["id"], e["type"], e["anonymous_id"], e.get("user_id").cloned().unwrap_or(Value::Null)]))
        .collect();
    assert_eq!(
        summary,
        vec![
            json!(["seg-1", "identify", "anon-1", "u1"]),
            json!(["seg-2", "track", "anon-1", null]),
            json!(["seg-3", "group", "u1", "u1"]),
        ]
    );
    assert_eq!(events[0]["traits"]["plan"], "pro");
    assert_eq!((&events[1]["name"], &events[1]["props"]["rows"]), (&json!("imported_data"), &json!(120)));
    assert_eq!(events[1]["url"], "https://app.example.com/import");
    assert_eq!(events[1]["ts"], 1_796_292_060_000i64);
    assert_eq!((&events[2]["account_id"], &events[2]["traits"]["seats"]), (&json!("acme"), &json!(12)));
    let sources = app.db.strings("SELECT source FROM events ORDER BY id").await;
    assert_eq!(sources, ["server", "server", "server"]);

    // The anonymous track counts for the user its browser was identified as.
    let req = Request::get("/v1/config?key=pk_test&user_id=u1")
        .header(header::ORIGIN, "https://app.example.com")
        .body(Body::empty())
        .unwrap();
    let (status, config) = app.send(req).await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(config["facts"]["event_counts"]["imported_data"], 1, "{config}");

    // Segment retries with the same messageId: nothing is stored twice.
    let (_, again) = post(&app, "/segment/v1/batch", &basic("sk_test"), &batch()).await;
    let statuses: Vec<&str> =
        again["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["duplicate", "duplicate", "duplicate"], "{again}");
}

#[tokio::test]
async fn single_calls_and_their_refusals() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    let track = json!({ "messageId": "t-1", "userId": "u9", "event": "seats_changed", "properties": { "seats": 3 } });
    let (status, body) = post(&app, "/segment/v1/track", &basic("sk_test"), &track).await;
    assert_eq!((status, &body["results"][0]["status"]), (StatusCode::OK, &json!("accepted")), "{body}");

    let (status, body) = post(&app, "/segment/v1/track", &basic("pk_test"), &track).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].as_str().unwrap().contains("secret key"), "{body}");

    let (status, body) = post(&app, "/segment/v1/alias", &basic("sk_test"), &track).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"].as_str().unwrap().contains("alias"), "{body}");

    let no_name = json!({ "messageId": "t-2", "userId": "u9" });
    let (status, body) = post(&app, "/segment/v1/track", &basic("sk_test"), &no_name).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "rejected", "{body}");
}
