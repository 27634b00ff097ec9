//! The help widget's "Contact us": every stored `help_case_created` opens a
//! case (once, however often the event is resent), listed by `GET /v1/cases`
//! with its context and closable. No automations need to be configured.
//! Runs on SQLite, and on Postgres when `DATABASE_URL` is set.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tempfile::TempDir;
use tower::ServiceExt;

mod common;
use common::app::TestApp;
use common::TestDb;

const PROJECTS: &str = r#"[
    {"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"]},
    {"public_key": "pk_other", "secret_key": "sk_other", "allowed_origins": ["*"]}
]"#;

async fn app() -> (TempDir, TestDb, Router) {
    let t = TestApp::new(PROJECTS, |s| s).await;
    (t.dir, t.db, t.app)
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn post(batch: Value) -> Request<Body> {
    Request::post("/v1/events")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(batch.to_string()))
        .unwrap()
}

fn get(uri: &str, secret: &str) -> Request<Body> {
    Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {secret}")).body(Body::empty()).unwrap()
}

fn case_event(id: &str, message: &str) -> Value {
    json!({"id": id, "ts": 1_700_000_000_000i64, "anonymous_id": "anon-1", "user_id": "dana", "url": "http://app.test/settings",
           "type": "help_case_created", "message": message, "email": "dana@northwind.test",
           "last_article": "connect-slack", "last_failed_search": "gantt chart"})
}

#[tokio::test]
async fn contact_us_opens_one_case_with_its_context() {
    let (_dir, _db, app) = app().await;
    let long = "How do I see my projects as a Gantt chart? ".repeat(4);
    let batch = json!({"key": "pk_test", "events": [case_event("e-1", long.trim())]});
    assert_eq!(call(&app, post(batch.clone())).await.0, StatusCode::OK);
    // The same event sent again (a retry) must not open a second case.
    let (_, again) = call(&app, post(batch)).await;
    assert_eq!(again["results"][0]["status"], "duplicate");

    let (status, body) = call(&app, get("/v1/cases?status=open", "sk_test")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cases = body["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1, "{body}");
    let case = &cases[0];
    assert_eq!(case["status"], "open");
    assert_eq!(case["rule"], "help_contact");
    assert_eq!(case["user_id"], "dana");
    let title = case["title"].as_str().unwrap();
    assert!(title.starts_with("Help request: How do I see my projects as a Gantt chart?"), "{title}");
    assert!(title.ends_with('…') && title.chars().count() < 100, "{title}");
    let detail = if case["detail"].is_string() {
        serde_json::from_str::<Value>(case["detail"].as_str().unwrap()).unwrap()
    } else {
        case["detail"].clone()
    };
    assert_eq!(detail["email"], "dana@northwind.test");
    assert_eq!(detail["url"], "http://app.test/settings");
    assert_eq!(detail["last_article"], "connect-slack");
    assert_eq!(detail["last_failed_search"], "gantt chart");

    // Closed, it leaves the open list; other projects never see it.
    let id = case["id"].as_str().unwrap().to_owned();
    let close = Request::post(format!("/v1/cases/{id}/close"))
        .header(header::AUTHORIZATION, "Bearer sk_test")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, close).await.0, StatusCode::OK);
    assert_eq!(call(&app, get("/v1/cases?status=open", "sk_test")).await.1["cases"], json!([]));
    assert_eq!(call(&app, get("/v1/cases", "sk_other")).await.1["cases"], json!([]));
}

#[tokio::test]
async fn other_events_open_no_case() {
    let (_dir, _db, app) = app().await;
    let mut ev = case_event("e-2", "x");
    ev["type"] = json!("help_searched");
    ev["query"] = json!("x");
    ev["result_count"] = json!(0);
    let batch = json!({"key": "pk_test", "events": [ev]});
    assert_eq!(call(&app, post(batch)).await.0, StatusCode::OK);
    assert_eq!(call(&app, get("/v1/cases", "sk_test")).await.1["cases"], json!([]));
}
