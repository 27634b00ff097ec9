//! The HTTP surface, driven through `router(state)` without a socket. Each
//! test gets its own temporary data directory and the repository's real
//! `surveys/` (so a broken demo survey also fails here).

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tempfile::TempDir;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::config::Config;
use touchpoint_collector::projects::Projects;
use touchpoint_collector::{router, AppState, MAX_BODY_BYTES};
use touchpoint_protocol::{MAX_BATCH_EVENTS, MAX_EVENT_BYTES};
use tower::ServiceExt;

mod common;
use common::TestDb;

const KEY: &str = "pk_test";
const SECRET: &str = "sk_test";
const APP_ORIGIN: &str = "https://app.example.com";

/// Two projects, so that scoping and cross-project refusals can be tested.
const PROJECTS: &str = r#"[
    {"public_key": "pk_test", "secret_key": "sk_test",
     "allowed_origins": ["https://app.example.com", "http://127.0.0.1:*"]},
    {"public_key": "pk_other", "secret_key": "sk_other", "allowed_origins": ["https://other.example"]}
]"#;

fn repo_surveys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../surveys")
}

struct Harness {
    dir: TempDir,
    db: TestDb,
    projects: String,
    app: Router,
}

impl Harness {
    async fn new() -> Harness {
        Harness::with_projects(PROJECTS).await
    }

    async fn with_projects(projects: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::new(&dir.path().join("data")).await;
        Harness::in_dir(dir, db, projects).await
    }

    /// A collector over `dir/data` (or the test's Postgres schema), `dir/www` and `dir/pkg`, as they are now.
    async fn in_dir(dir: TempDir, db: TestDb, projects: &str) -> Harness {
        let config = Config {
            data_dir: dir.path().join("data"),
            surveys_dir: repo_surveys(),
            www_dir: dir.path().join("www"),
            pkg_dir: dir.path().join("pkg"),
            ..Config::default()
        };
        let store = db.open(&config.data_dir).await;
        let surveys = SurveyCatalog::load_dir(&config.surveys_dir).unwrap();
        let app = router(AppState::new(config, Projects::from_json(projects).unwrap(), store, surveys));
        Harness { app, dir, db, projects: projects.to_string() }
    }

    /// Simulates a restart: drops the router (and its connection), reopens.
    async fn restart(self) -> Harness {
        let Harness { dir, db, app, projects } = self;
        drop(app);
        Harness::in_dir(dir, db, &projects).await
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, body)
    }

    async fn post_events(&self, events: Vec<Value>) -> (StatusCode, Value) {
        self.send(post_json("/v1/events", &json!({ "key": KEY, "events": events }))).await
    }

    /// A read as the test project (with its secret key).
    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.get_with(uri, Some(&format!("Bearer {SECRET}"))).await
    }

    async fn get_with(&self, uri: &str, authorization: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::get(uri);
        if let Some(value) = authorization {
            req = req.header(header::AUTHORIZATION, value);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// Read straight from the database, independently of the API under test.
    async fn stored_ids(&self) -> Vec<String> {
        self.db.strings("SELECT id FROM events ORDER BY id").await
    }
}

fn post_json(uri: &str, body: &Value) -> Request<Body> {
    post_raw(uri, "application/json", body.to_string())
}

fn post_raw(uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri).header(header::CONTENT_TYPE, content_type).body(body.into()).unwrap()
}

fn track(id: &str, anon: &str, ts: i64) -> Value {
    json!({"id": id, "ts": ts, "anonymous_id": anon, "url": "http://127.0.0.1/app", "type": "track", "name": "clicked"})
}

fn answered(id: &str, survey: &str, response: &str, question: &str, value: Value, ts: i64) -> Value {
    json!({"id": id, "ts": ts, "anonymous_id": format!("anon-{response}"), "url": "http://127.0.0.1/app",
           "type": "survey_answered", "survey_id": survey, "response_id": response, "question_id": question,
           "value": value})
}

fn shown(id: &str, survey: &str, response: &str, anon: &str, ts: i64) -> Value {
    json!({"id": id, "ts": ts, "anonymous_id": anon, "url": "http://127.0.0.1/app",
           "type": "survey_shown", "survey_id": survey, "response_id": response})
}

/// `(id, status)` of every result, in order.
fn statuses(body: &Value) -> Vec<(String, String)> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {body}"))
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

fn event_ids(body: &Value) -> Vec<&str> {
    body["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn retried_batch_is_reported_duplicate_and_stored_once() {
    let h = Harness::new().await;
    let batch = vec![track("e1", "a", 1), track("e2", "a", 2)];

    let (status, body) = h.post_events(batch.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&body), pairs(&[("e1", "accepted"), ("e2", "accepted")]));
    assert_eq!(h.stored_ids().await, ["e1", "e2"]);

    let (status, body) = h.post_events(batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&body), pairs(&[("e1", "duplicate"), ("e2", "duplicate")]));
    assert_eq!(h.stored_ids().await, ["e1", "e2"]);

    // The same id twice in one batch: the second copy is the duplicate.
    let (_, body) = h.post_events(vec![track("e3", "a", 3), track("e3", "a", 3)]).await;
    assert_eq!(statuses(&body), pairs(&[("e3", "accepted"), ("e3", "duplicate")]));
    assert_eq!(h.stored_ids().await, ["e1", "e2", "e3"]);
}

/// Sends `batches` at once and returns their answers in order. On Postgres
/// the inserts are held back meanwhile, behind a first request that took the
/// writer, so the batches queue up (each starts with `anon-g`'s event: one
/// writer) and are stored as one group, in one transaction.
async fn post_as_one_group(h: &Harness, batches: Vec<Vec<Value>>) -> Vec<(StatusCode, Value)> {
    let post = |events: Vec<Value>| {
        let app = h.app.clone();
        tokio::spawn(async move {
            let res = app.oneshot(post_json("/v1/events", &json!({ "key": KEY, "events": events }))).await.unwrap();
            let status = res.status();
            let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        })
    };
    let hold = h.db.hold_inserts().await;
    let opener = post(vec![track("opener", "anon-g", 1)]);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let tasks: Vec<_> = batches.into_iter().map(post).collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    if let Some(hold) = hold {
        hold.batch_execute("ROLLBACK").await.unwrap();
    }
    assert_eq!(opener.await.unwrap().0, StatusCode::OK);
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

#[tokio::test]
async fn concurrent_requests_stored_together_each_get_their_own_statuses() {
    let h = Harness::new().await;
    let answers = post_as_one_group(
        &h,
        vec![
            vec![track("a1", "anon-g", 2), track("a2", "anon-g", 3), track("a1", "anon-g", 4)],
            vec![track("b1", "anon-g", 5), track("shared", "anon-g", 6)],
            vec![track("shared", "anon-g", 7), track("c1", "anon-g", 8)],
            // Stored by the request before the group.
            vec![track("opener", "anon-g", 9)],
        ],
    )
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    let got: Vec<_> = answers.iter().map(|(_, body)| statuses(body)).collect();
    assert_eq!(got[0], pairs(&[("a1", "accepted"), ("a2", "accepted"), ("a1", "duplicate")]));
    assert_eq!(got[3], pairs(&[("opener", "duplicate")]));
    // The id two requests of the group share: stored once, accepted for exactly one of them.
    let shared = |i: usize, status: &str| got[i].iter().any(|(id, s)| id == "shared" && s == status);
    assert!(shared(1, "accepted") ^ shared(2, "accepted"), "{got:?}");
    assert!(shared(1, "duplicate") ^ shared(2, "duplicate"), "{got:?}");
    assert_eq!(got[1].iter().find(|(id, _)| id == "b1").unwrap().1, "accepted");
    assert_eq!(got[2].iter().find(|(id, _)| id == "c1").unwrap().1, "accepted");
    assert_eq!(h.stored_ids().await, ["a1", "a2", "b1", "c1", "opener", "shared"]);
    // The person facts are folded over the group: one per stored event.
    let seen = h.db.rows("SELECT n FROM person_facts WHERE anonymous_id = 'anon-g' AND kind = 'seen'").await;
    assert_eq!(seen, [[json!(6)]]);
    if h.db.is_postgres() {
        // One transaction stored the whole group.
        let transactions = h.db.rows("SELECT COUNT(DISTINCT xmin::text) FROM events WHERE id <> 'opener'").await;
        assert_eq!(transactions, [[json!(1)]]);
    }
}

#[tokio::test]
async fn a_request_the_database_refuses_fails_alone_and_the_rest_of_its_group_is_stored() {
    let h = Harness::new().await;
    // Postgres refuses a NUL in text (SQLite stores it).
    let mut bad = track("bad", "anon-g", 3);
    bad["url"] = json!("http://127.0.0.1/a\u{0}b");
    let answers = post_as_one_group(
        &h,
        vec![vec![track("ok1", "anon-g", 2)], vec![bad], vec![track("ok2", "anon-g", 4), track("ok1", "anon-g", 5)]],
    )
    .await;
    assert_eq!(answers[0].0, StatusCode::OK);
    assert_eq!(statuses(&answers[0].1), pairs(&[("ok1", "accepted")]));
    assert_eq!(answers[2].0, StatusCode::OK);
    assert_eq!(statuses(&answers[2].1), pairs(&[("ok2", "accepted"), ("ok1", "duplicate")]));
    if h.db.is_postgres() {
        assert_eq!(answers[1].0, StatusCode::INTERNAL_SERVER_ERROR, "{}", answers[1].1);
        assert_eq!(h.stored_ids().await, ["ok1", "ok2", "opener"]);
    } else {
        assert_eq!(statuses(&answers[1].1), pairs(&[("bad", "accepted")]));
        assert_eq!(h.stored_ids().await, ["bad", "ok1", "ok2", "opener"]);
    }
    let seen =
        h.db.rows("SELECT CAST(SUM(n) AS BIGINT) FROM person_facts WHERE anonymous_id = 'anon-g' AND kind = 'seen'")
            .await;
    let expected = if h.db.is_postgres() { 3 } else { 4 };
    assert_eq!(seen, [[json!(expected)]]);
}

#[tokio::test]
async fn a_lone_surrogate_in_one_event_costs_the_batch_nothing() {
    let h = Harness::new().await;
    // JSON.stringify of a string cut in the middle of an emoji: the first half of its pair, alone.
    let mut cut = track("cut", "a", 1);
    cut["props"] = json!({ "title": "PLACEHOLDER" });
    let body = json!({ "key": KEY, "events": [cut, track("whole", "a", 2)] })
        .to_string()
        .replace("PLACEHOLDER", r"Launch \ud83d");
    assert!(serde_json::from_str::<Value>(&body).is_err(), "the body must hold a lone surrogate: {body}");
    let (status, answer) = h.send(post_raw("/v1/events", "application/json", body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(statuses(&answer), pairs(&[("cut", "accepted"), ("whole", "accepted")]));
    assert_eq!(h.stored_ids().await, ["cut", "whole"]);
    let stored = h.db.strings("SELECT body FROM events WHERE id = 'cut'").await;
    let stored: Value = serde_json::from_str(&stored[0]).unwrap();
    assert_eq!(stored["props"]["title"], "Launch \u{FFFD}");
}

#[tokio::test]
async fn stored_rows_carry_the_columns_queries_rely_on() {
    let h = Harness::new().await;
    let mut event = answered("a1", "nps", "r1", "score", json!(9), 1_700_000_000_000);
    event["user_id"] = json!("u1");
    let before = now_ms();
    h.post_events(vec![event.clone()]).await;
    let after = now_ms();

    let rows =
        h.db.rows(
            "SELECT project_key, type, ts, received_at, anonymous_id, user_id, survey_id, response_id, question_id,
                    url, body FROM events WHERE id = 'a1'",
        )
        .await;
    let [key, kind, ts, received_at, anon, user, survey, response, question, url, body] = &rows[0][..] else {
        panic!("expected one row of 11 columns: {rows:?}")
    };
    assert_eq!(
        (key, kind, ts, anon, user),
        (&json!(KEY), &json!("survey_answered"), &json!(1_700_000_000_000i64), &json!("anon-r1"), &json!("u1"))
    );
    assert_eq!((survey, response, question), (&json!("nps"), &json!("r1"), &json!("score")));
    assert_eq!(url, "http://127.0.0.1/app");
    let received_at = received_at.as_i64().unwrap();
    assert!((before..=after).contains(&received_at), "{before} <= {received_at} <= {after}");
    assert_eq!(serde_json::from_str::<Value>(body.as_str().unwrap()).unwrap(), event);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test]
async fn bad_events_are_rejected_with_a_reason_while_the_rest_is_stored() {
    let h = Harness::new().await;
    let mut too_big = track("big", "a", 3);
    too_big["props"] = json!({ "blob": "x".repeat(MAX_EVENT_BYTES) });
    let batch = vec![
        track("ok1", "a", 1),
        json!({"id": "no-type", "ts": 2, "anonymous_id": "a", "url": "u"}),
        too_big,
        json!({"ts": 4, "anonymous_id": "a", "url": "u", "type": "track", "name": "n"}),
        json!({"id": "bad-ts", "ts": "soon", "anonymous_id": "a", "url": "u", "type": "track", "name": "n"}),
        track("ok2", "a", 6),
    ];

    let (status, body) = h.post_events(batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        statuses(&body),
        pairs(&[
            ("ok1", "accepted"),
            ("no-type", "rejected"),
            ("big", "rejected"),
            ("", "rejected"),
            ("bad-ts", "rejected"),
            ("ok2", "accepted"),
        ])
    );
    let reasons: Vec<&str> =
        body["results"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap_or("")).collect();
    assert_eq!(reasons[0], "");
    assert_eq!(reasons[1], "events[1].type: missing field `type`");
    assert!(reasons[2].starts_with("events[2]: event is "), "{}", reasons[2]);
    assert!(reasons[2].ends_with(&format!("more than the limit of {MAX_EVENT_BYTES}")), "{}", reasons[2]);
    assert_eq!(reasons[3], "events[3].id: missing field `id`");
    assert_eq!(reasons[4], "events[4].ts: invalid type: string \"soon\", expected i64");
    assert_eq!(h.stored_ids().await, ["ok1", "ok2"]);
}

// Bad input: every request-level problem is a 4xx in our JSON error format
// and stores nothing, checked in the SQLite file itself.

/// Sends `req`, expects `status` and exactly `error` (our `{"error", "field"}`
/// body), and that the request stored nothing.
async fn check_refused(h: &Harness, req: Request<Body>, status: StatusCode, error: Value) {
    let before = h.stored_ids().await;
    let what = format!("{} {}", req.method(), req.uri());
    let (got, body) = h.send(req).await;
    assert_eq!((got, &body), (status, &error), "{what}");
    assert_eq!(h.stored_ids().await, before, "{what} stored something");
}

fn batch_from(origin: &str, body: &Value) -> Request<Body> {
    Request::post("/v1/events")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, origin)
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_400_naming_the_field() {
    let h = Harness::new().await;
    let error = |message: &str, field: Option<&str>| match field {
        Some(field) => json!({"error": format!("invalid JSON body: {message}"), "field": field}),
        None => json!({"error": format!("invalid JSON body: {message}")}),
    };
    let one = track("e1", "a", 1).to_string();
    for (body, expected) in [
        (
            r#"{"key": "pk_test", "events": ["#.to_string(),
            error("EOF while parsing a list at line 1 column 30", Some("events")),
        ),
        (
            format!(r#"{{"key": "pk_test", "events": [{one}]}} trailing"#),
            error("trailing characters at line 1 column 132", None),
        ),
        (
            format!(r#"{{"key": "pk_test", "events": [{one},]}}"#),
            error("trailing comma at line 1 column 130", Some("events")),
        ),
        (
            r#"{"key": "pk_test", "events": {}}"#.into(),
            error("invalid type: map, expected a sequence at line 1 column 29", Some("events")),
        ),
        (
            r#"{"key": 5, "events": []}"#.into(),
            error("invalid type: integer `5`, expected a string at line 1 column 9", Some("key")),
        ),
        (r#"{"key": "pk_test"}"#.into(), error("missing field `events` at line 1 column 18", Some("events"))),
        (
            "[]".into(),
            error("invalid length 0, expected a batch: {\"key\": …, \"events\": […]} at line 1 column 2", None),
        ),
        (
            "null".into(),
            error("invalid type: null, expected a batch: {\"key\": …, \"events\": […]} at line 1 column 4", None),
        ),
        ("".into(), error("EOF while parsing a value at line 1 column 0", None)),
    ] {
        check_refused(&h, post_raw("/v1/events", "application/json", body), StatusCode::BAD_REQUEST, expected).await;
    }
}

#[tokio::test]
async fn a_missing_or_empty_key_is_400_naming_key() {
    let h = Harness::new().await;
    check_refused(
        &h,
        post_json("/v1/events", &json!({"events": [track("e1", "a", 1)]})),
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid JSON body: missing field `key` at line 1 column 111", "field": "key"}),
    )
    .await;
    check_refused(
        &h,
        post_json("/v1/events", &json!({"key": "", "events": [track("e1", "a", 1)]})),
        StatusCode::BAD_REQUEST,
        json!({"error": "the project key must not be empty", "field": "key"}),
    )
    .await;
}

#[tokio::test]
async fn an_unknown_key_is_401() {
    let h = Harness::new().await;
    for key in ["pk_nobody", SECRET] {
        check_refused(
            &h,
            post_json("/v1/events", &json!({"key": key, "events": [track("e1", "a", 1)]})),
            StatusCode::UNAUTHORIZED,
            json!({"error": "unknown project key", "field": "key"}),
        )
        .await;
    }
}

#[tokio::test]
async fn an_origin_the_project_does_not_allow_is_403_naming_it() {
    let h = Harness::new().await;
    for origin in ["https://evil.example", "https://other.example", "http://app.example.com", "null"] {
        check_refused(
            &h,
            batch_from(origin, &json!({"key": KEY, "events": [track("e1", "a", 1)]})),
            StatusCode::FORBIDDEN,
            json!({"error": format!("origin {origin:?} is not allowed to send events for this project key"),
                   "field": "origin"}),
        )
        .await;
    }
    // Allowed: an exact origin, any port of 127.0.0.1, and no Origin at all (not a browser).
    for (i, origin) in [Some(APP_ORIGIN), Some("http://127.0.0.1:5173"), None].into_iter().enumerate() {
        let body = json!({"key": KEY, "events": [track(&format!("ok{i}"), "a", 1)]});
        let req = match origin {
            Some(origin) => batch_from(origin, &body),
            None => post_json("/v1/events", &body),
        };
        let (status, body) = h.send(req).await;
        assert_eq!(status, StatusCode::OK, "{origin:?}: {body}");
    }
    assert_eq!(h.stored_ids().await, ["ok0", "ok1", "ok2"]);
}

#[tokio::test]
async fn a_body_in_another_format_is_415() {
    let h = Harness::new().await;
    let body = json!({"key": KEY, "events": [track("e1", "a", 1)]}).to_string();
    let expected = json!({"error": "expected a JSON body with content-type: application/json (or text/plain)"});
    for content_type in ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/html"] {
        let req = post_raw("/v1/events", content_type, body.clone());
        check_refused(&h, req, StatusCode::UNSUPPORTED_MEDIA_TYPE, expected.clone()).await;
    }
    let req = Request::post("/v1/events").body(Body::from(body)).unwrap();
    check_refused(&h, req, StatusCode::UNSUPPORTED_MEDIA_TYPE, expected).await;
}

#[tokio::test]
async fn a_text_plain_body_is_json_so_send_beacon_works() {
    let h = Harness::new().await;
    let body = json!({"key": KEY, "events": [track("beacon", "a", 1)]}).to_string();
    let (status, body) = h.send(post_raw("/v1/events", "text/plain;charset=UTF-8", body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&body), pairs(&[("beacon", "accepted")]));
    assert_eq!(h.stored_ids().await, ["beacon"]);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413_in_our_error_format() {
    let h = Harness::new().await;
    // Valid JSON with a valid event, so only its size can be the reason.
    let body = json!({"key": KEY, "events": [track("e1", "a", 1)], "padding": "x".repeat(MAX_BODY_BYTES)});
    let expected = json!({"error": format!("request body is larger than {MAX_BODY_BYTES} bytes")});
    check_refused(&h, post_json("/v1/events", &body), StatusCode::PAYLOAD_TOO_LARGE, expected).await;

    // Just under the limit is fine (unknown fields are ignored).
    let mut body = json!({"key": KEY, "events": [track("e1", "a", 1)], "padding": ""}).to_string();
    body.insert_str(body.len() - 2, &"x".repeat(MAX_BODY_BYTES - body.len()));
    assert_eq!(body.len(), MAX_BODY_BYTES);
    let (status, _) = h.send(post_raw("/v1/events", "application/json", body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.stored_ids().await, ["e1"]);
}

#[tokio::test]
async fn more_than_the_batch_limit_is_400_and_stores_nothing() {
    let h = Harness::new().await;
    let events: Vec<Value> = (0..=MAX_BATCH_EVENTS).map(|i| track(&format!("e{i:03}"), "a", i as i64)).collect();
    check_refused(
        &h,
        post_json("/v1/events", &json!({"key": KEY, "events": events})),
        StatusCode::BAD_REQUEST,
        json!({"error": format!("a batch holds at most {MAX_BATCH_EVENTS} events, this one has {}",
                                MAX_BATCH_EVENTS + 1),
               "field": "events"}),
    )
    .await;

    let (status, body) = h.post_events(events[..MAX_BATCH_EVENTS].to_vec()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&body).len(), MAX_BATCH_EVENTS);
    assert_eq!(h.stored_ids().await.len(), MAX_BATCH_EVENTS);
}

#[tokio::test]
async fn over_the_rate_limit_is_429_with_retry_after_and_stores_nothing() {
    let h = Harness::with_projects(
        r#"[{"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"],
             "rate_limit": {"events_per_second": 10, "burst": 100}},
            {"public_key": "pk_other", "secret_key": "sk_other", "allowed_origins": ["*"]}]"#,
    )
    .await;
    let batch =
        |prefix: &str, n: usize| -> Vec<Value> { (0..n).map(|i| track(&format!("{prefix}{i:03}"), "a", 1)).collect() };
    let (status, _) = h.post_events(batch("a", 100)).await;
    assert_eq!(status, StatusCode::OK);

    // The bucket is empty: 50 events need 50 tokens, 5 s at 10 events/s.
    let req = post_json("/v1/events", &json!({"key": KEY, "events": batch("b", 50)}));
    let res = h.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((4..=5).contains(&retry_after), "Retry-After: {retry_after}");
    let body: Value =
        serde_json::from_slice(&axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"error": format!(
            "rate limit of 10 events/s (burst 100) exceeded for this project key; retry after {retry_after} s")})
    );
    assert_eq!(h.stored_ids().await.len(), 100);

    // Limits are per key: the other project is not affected.
    let (status, _) = h.send(post_json("/v1/events", &json!({"key": "pk_other", "events": batch("c", 100)}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.stored_ids().await.len(), 200);
}

#[tokio::test]
async fn read_apis_need_the_projects_secret_key() {
    let h = Harness::new().await;
    h.post_events(vec![answered("a1", "nps", "r1", "score", json!(10), 1)]).await;
    let needs = json!({"error": "this API needs the project's secret key: Authorization: Bearer <secret_key>",
                       "field": "authorization"});
    let malformed =
        json!({"error": "the Authorization header must be \"Bearer <secret_key>\"", "field": "authorization"});
    let unknown = json!({"error": "this secret key belongs to no project", "field": "authorization"});
    let public = json!({"error": "that is a public ingest key; this API needs the project's secret key",
                        "field": "authorization"});
    for uri in ["/v1/events", "/v1/events?survey_id=nps", "/v1/surveys/nps/nps"] {
        for (authorization, status, error) in [
            (None, StatusCode::UNAUTHORIZED, &needs),
            (Some("sk_test"), StatusCode::UNAUTHORIZED, &malformed),
            (Some("Basic c2tfdGVzdDo="), StatusCode::UNAUTHORIZED, &malformed),
            (Some("Bearer "), StatusCode::UNAUTHORIZED, &malformed),
            (Some("Bearer sk_wrong"), StatusCode::FORBIDDEN, &unknown),
            (Some("Bearer sk_tes"), StatusCode::FORBIDDEN, &unknown),
            (Some("Bearer pk_test"), StatusCode::FORBIDDEN, &public),
        ] {
            let req = Request::get(uri);
            let req = match authorization {
                Some(value) => req.header(header::AUTHORIZATION, value),
                None => req,
            };
            let res = h.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(res.status(), status, "{uri} {authorization:?}");
            if status == StatusCode::UNAUTHORIZED {
                assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer", "{uri} {authorization:?}");
            }
            let body: Value =
                serde_json::from_slice(&axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap()).unwrap();
            assert_eq!(&body, error, "{uri} {authorization:?}");
        }
        // The scheme is case-insensitive.
        let (status, _) = h.get_with(uri, Some("bearer sk_test")).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }
    // Survey definitions stay public: the widget fetches them from the page.
    let (status, _) = h.get_with("/v1/surveys/nps", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn reads_are_scoped_to_the_secret_keys_project() {
    let h = Harness::new().await;
    h.post_events(vec![answered("mine", "nps", "r1", "score", json!(10), 1)]).await;
    let theirs = json!({"key": "pk_other", "events": [answered("theirs", "nps", "r2", "score", json!(0), 2)]});
    let (status, _) = h.send(post_json("/v1/events", &theirs)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.stored_ids().await, ["mine", "theirs"]);

    for (secret, ids, nps) in [(SECRET, ["mine"], 100.0), ("sk_other", ["theirs"], -100.0)] {
        let auth = format!("Bearer {secret}");
        let (_, body) = h.get_with("/v1/events", Some(&auth)).await;
        assert_eq!(event_ids(&body), ids, "{secret}");
        let (_, body) = h.get_with("/v1/surveys/nps/nps", Some(&auth)).await;
        assert_eq!((body["responses"].clone(), body["nps"].clone()), (json!(1), json!(nps)), "{secret}");
    }
}

#[tokio::test]
async fn cors_answers_only_origins_some_project_allows() {
    let h = Harness::new().await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/v1/events")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
            .body(Body::empty())
            .unwrap()
    };
    for origin in [APP_ORIGIN, "http://127.0.0.1:4173", "https://other.example"] {
        let res = h.app.clone().oneshot(preflight(origin)).await.unwrap();
        assert!(res.status().is_success(), "{origin}: {}", res.status());
        let headers = res.headers();
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], origin);
        assert!(headers[header::VARY].to_str().unwrap().contains("origin"), "{origin}");
        assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap().contains("POST"));
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS], "content-type");
    }
    for origin in ["https://evil.example", "null", "http://localhost:4173"] {
        let res = h.app.clone().oneshot(preflight(origin)).await.unwrap();
        assert!(!res.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN), "{origin}");
    }

    // The real request: the origin is echoed and Retry-After is readable by the page.
    let res = h.app.clone().oneshot(batch_from(APP_ORIGIN, &json!({"key": KEY, "events": []}))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], APP_ORIGIN);
    assert_eq!(res.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS], "retry-after");
}

#[tokio::test]
async fn survey_definitions_are_served_as_loaded() {
    let h = Harness::new().await;
    let (status, body) = h.get("/v1/surveys/nps").await;
    assert_eq!(status, StatusCode::OK);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(repo_surveys().join("nps.json")).unwrap()).unwrap();
    assert_eq!(body, file);

    let (status, body) = h.get("/v1/surveys/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "no survey with id \"nope\""}));
}

/// A public read (no key) from the app's origin: status, content type, the
/// CORS origin echoed, and the body.
async fn public_read(h: &Harness, uri: &str) -> (StatusCode, String, Option<String>, Value) {
    let req = Request::get(uri).header(header::ORIGIN, APP_ORIGIN).body(Body::empty()).unwrap();
    let res = h.app.clone().oneshot(req).await.unwrap();
    let header_of = |name: header::HeaderName| res.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (status, content_type, origin) = (
        res.status(),
        header_of(header::CONTENT_TYPE).unwrap_or_default(),
        header_of(header::ACCESS_CONTROL_ALLOW_ORIGIN),
    );
    let body = serde_json::from_slice(&axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap()).unwrap();
    (status, content_type, origin, body)
}

#[tokio::test]
async fn the_card_form_is_the_validated_graph() {
    let h = Harness::new().await;
    let (status, content_type, origin, card) = public_read(&h, "/v1/surveys/nps?form=card").await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "application/json"));
    assert_eq!(origin.as_deref(), Some(APP_ORIGIN));
    assert_eq!(
        (&card["form"], &card["id"], &card["title"]),
        (&json!("card/1"), &json!("nps"), &json!("How are we doing?"))
    );
    let score = &card["questions"][0];
    assert_eq!(
        (&score["id"], &score["kind"], &score["min"], &score["max"]),
        (&json!("score"), &json!("nps"), &json!(0), &json!(10))
    );
    assert_eq!(score["low"], "Not at all likely");
    // 0–6 → "obstacle" (question 1); 7–8 → "make_it_10" (3); 9–10 → "referral" (4).
    assert_eq!(
        score["rules"],
        json!([ { "min": 0, "max": 6, "q": 1 }, { "min": 7, "max": 8, "q": 3 }, { "min": 9, "max": 10, "q": 4 } ])
    );
    let obstacle = &card["questions"][1];
    assert_eq!((&obstacle["id"], &obstacle["kind"]), (&json!("obstacle"), &json!("single_choice")));
    assert_eq!(obstacle["choices"][0], json!({ "id": "not_ready", "label": "Not ready to upgrade" }));
    // "not_ready" ends at "trial_offer" (ending 0); the fallback at "detractor_thanks" (1).
    assert_eq!(obstacle["rules"][0], json!({ "choice": "not_ready", "end": 0 }));
    assert_eq!(obstacle["rules"][2], json!({ "end": 1 }));
    assert_eq!(card["questions"][2]["placeholder"], "A sentence or two is plenty");
    assert_eq!(card["questions"][3]["optional"], true);
    assert_eq!(card["questions"][2].get("optional"), None, "omitted when false");
    assert_eq!(card["endings"][0]["id"], "trial_offer");
    assert_eq!(
        card["endings"][0]["actions"],
        json!([ { "action": "offer", "code": "trial_extension_14d" }, { "action": "webhook" } ])
    );
    assert_eq!(card["endings"][2]["actions"], json!([]));
    // It is the protocol's type, and the same as the survey's own conversion.
    let typed: touchpoint_protocol::card::CardSurvey = serde_json::from_value(card).unwrap();
    let file = std::fs::read_to_string(repo_surveys().join("nps.json")).unwrap();
    assert_eq!(typed, touchpoint_core::survey::Survey::from_json(&file).unwrap().to_card());
}

#[tokio::test]
async fn the_card_form_speaks_the_readers_language() {
    let h = Harness::new().await;
    let german = ("Wie machen wir uns?", "Noch nicht bereit für ein Upgrade");
    let english = ("How are we doing?", "Not ready to upgrade");
    for (locale, expected) in [
        ("&locale=de-DE,de,en", &german),
        ("&locale=de-AT", &german),
        ("&locale=fr,%20de", &german),
        ("&locale=fr&locale=de", &german),
        ("&locale=de%2Cen", &german),
        ("&locale=en-GB,de", &english),
        ("&locale=ja", &english),
        // Only the first 32 tags count.
        (&*format!("&locale={}de", "xx,".repeat(32)), &english),
        (&*format!("&locale={}de", "xx,".repeat(31)), &german),
        ("&locale=", &english),
        ("", &english),
    ] {
        let (status, _, _, card) = public_read(&h, &format!("/v1/surveys/nps?form=card{locale}")).await;
        assert_eq!(status, StatusCode::OK, "{locale:?}");
        let read = (card["title"].as_str().unwrap(), card["questions"][1]["choices"][0]["label"].as_str().unwrap());
        assert_eq!(read, *expected, "{locale:?}");
    }
}

#[tokio::test]
async fn an_unknown_form_is_a_bad_request() {
    let h = Harness::new().await;
    for form in ["full", "", "CARD", "card/1"] {
        let (status, content_type, _, body) = public_read(&h, &format!("/v1/surveys/nps?form={form}")).await;
        assert_eq!((status, content_type.as_str()), (StatusCode::BAD_REQUEST, "application/json"), "{form:?}");
        assert_eq!(
            body,
            json!({ "error": format!("unknown form {form:?}; the accepted value is \"card\""), "field": "form" })
        );
    }
    let (status, _, _, _) = public_read(&h, "/v1/surveys/nps?form=card&form=full").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _, body) = public_read(&h, "/v1/surveys/nope?form=card").await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({ "error": "no survey with id \"nope\"" })));
}

/// Without `form`, the definition as loaded, whatever else the query says.
#[tokio::test]
async fn without_form_the_definition_is_served_as_before() {
    let h = Harness::new().await;
    let file: Value = serde_json::from_str(&std::fs::read_to_string(repo_surveys().join("nps.json")).unwrap()).unwrap();
    for uri in ["/v1/surveys/nps", "/v1/surveys/nps?locale=de", "/v1/surveys/nps?locale=de&locale=en&v=2"] {
        let (status, content_type, origin, body) = public_read(&h, uri).await;
        assert_eq!(
            (status, content_type.as_str(), origin.as_deref()),
            (StatusCode::OK, "application/json", Some(APP_ORIGIN)),
            "{uri}"
        );
        assert_eq!(body, file, "{uri}");
    }
}

#[tokio::test]
async fn nps_counts_the_latest_answer_of_each_response_once() {
    let h = Harness::new().await;
    let (status, body) = h.get("/v1/surveys/nps/nps").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"survey_id": "nps", "responses": 0, "promoters": 0, "passives": 0, "detractors": 0, "nps": null})
    );

    let score =
        |id: &str, response: &str, value: i64, ts: i64| answered(id, "nps", response, "score", json!(value), ts);
    let (_, body) = h
        .post_events(vec![
            score("a1", "r1", 10, 100),
            // r2 went back and changed 3 → 9: a promoter, counted once.
            score("a2", "r2", 3, 100),
            score("a3", "r2", 9, 200),
            score("a4", "r3", 7, 100),
            score("a5", "r4", 0, 100),
            // r5's answer with the later ts arrives first: arrival at the server
            // decides, not the page's clock.
            score("a6", "r5", 8, 300),
            score("a7", "r5", 2, 100),
            // Not NPS answers of this survey: another question; and, stored
            // rejected, another survey and not a number.
            answered("a8", "nps", "r4", "obstacle", json!("too_hard"), 150),
            answered("a9", "other", "r6", "score", json!(0), 100),
            answered("a10", "nps", "r7", "score", json!("ten"), 100),
        ])
        .await;
    let got = statuses(&body);
    assert!(got[..8].iter().all(|(_, s)| s == "accepted"), "{body}");
    assert_eq!(got[8..], pairs(&[("a9", "rejected"), ("a10", "rejected")]));
    assert_eq!(body["results"][8]["reason"], "events[8]: survey \"other\" is not one this collector serves");
    assert_eq!(body["results"][9]["reason"], "events[9]: question \"score\" expects a score");
    // A retried send of an old answer does not resurrect it.
    h.post_events(vec![score("a2", "r2", 3, 100)]).await;

    let (status, body) = h.get("/v1/surveys/nps/nps").await;
    assert_eq!(status, StatusCode::OK);
    // r1 10, r2 9, r3 7, r4 0, r5 2: 2 promoters, 1 passive, 2 detractors of 5 → 40% − 40%.
    assert_eq!(
        body,
        json!({"survey_id": "nps", "responses": 5, "promoters": 2, "passives": 1, "detractors": 2, "nps": 0.0})
    );

    let (status, body) = h.get("/v1/surveys/nope/nps").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no survey with id \"nope\"");
}

#[tokio::test]
async fn events_query_filters_and_orders_by_ts() {
    let h = Harness::new().await;
    h.post_events(vec![
        shown("s2", "nps", "r2", "bob", 20),
        shown("s1", "nps", "r1", "ann", 10),
        answered("a1", "nps", "r1", "score", json!(9), 11),
        shown("o1", "other", "r3", "ann", 12),
        track("t1", "ann", 5),
    ])
    .await;

    for (query, expected) in [
        ("", &["t1", "s1", "a1", "o1", "s2"][..]),
        ("?survey_id=nps", &["s1", "a1", "s2"]),
        ("?anonymous_id=ann", &["t1", "s1", "o1"]),
        ("?type=survey_shown", &["s1", "o1", "s2"]),
        ("?survey_id=nps&type=survey_shown&anonymous_id=bob", &["s2"]),
        ("?survey_id=nps&limit=2", &["s1", "a1"]),
        ("?type=identify", &[]),
    ] {
        let (status, body) = h.get(&format!("/v1/events{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(event_ids(&body), expected, "{query}");
    }

    // Bodies come back as sent.
    let (_, body) = h.get("/v1/events?type=track").await;
    assert_eq!(body["events"][0], track("t1", "ann", 5));

    let (status, body) = h.get("/v1/events?limit=lots").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
}

#[tokio::test]
async fn events_survive_a_restart() {
    let h = Harness::new().await;
    h.post_events(vec![track("e1", "a", 1), answered("a1", "nps", "r1", "score", json!(10), 2)]).await;

    let h = h.restart().await;
    let (_, body) = h.get("/v1/events").await;
    assert_eq!(event_ids(&body), ["e1", "a1"]);
    let (_, body) = h.post_events(vec![track("e1", "a", 1)]).await;
    assert_eq!(statuses(&body), pairs(&[("e1", "duplicate")]));
    let (_, body) = h.get("/v1/surveys/nps/nps").await;
    assert_eq!(body["promoters"], 1);
}

#[tokio::test]
async fn health_check() {
    let (status, body) = Harness::new().await.get("/healthz").await;
    assert_eq!((status, body), (StatusCode::OK, json!("ok")));
}

#[tokio::test]
async fn unknown_api_routes_get_a_json_404_even_with_a_site() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("www")).unwrap();
    let db = TestDb::new(&dir.path().join("data")).await;
    let h = Harness::in_dir(dir, db, PROJECTS).await;
    let (status, body) = h.get("/v1/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "no such route"}));
}

#[tokio::test]
async fn site_and_widget_build_are_served_with_their_types() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("www")).unwrap();
    std::fs::create_dir(dir.path().join("pkg")).unwrap();
    std::fs::write(dir.path().join("www/index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(dir.path().join("pkg/touchpoint_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.path().join("pkg/touchpoint.js"), "export {}").unwrap();
    let db = TestDb::new(&dir.path().join("data")).await;
    let h = Harness::in_dir(dir, db, PROJECTS).await;

    for (path, content_type) in
        [("/", "text/html"), ("/pkg/touchpoint_bg.wasm", "application/wasm"), ("/pkg/touchpoint.js", "text/javascript")]
    {
        let res = h.app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let got = res.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(got.starts_with(content_type), "{path}: {got}");
    }
}

#[tokio::test]
async fn without_a_site_directory_the_root_is_a_json_404() {
    let h = Harness::new().await;
    let (status, body) = h.get("/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no such route");
}

mod catalog {
    use super::*;

    fn load(files: &[(&str, &str)]) -> Result<usize, String> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        SurveyCatalog::load_dir(dir.path()).map(|c| c.len()).map_err(|e| e.to_string())
    }

    fn nps_json() -> String {
        std::fs::read_to_string(repo_surveys().join("nps.json")).unwrap()
    }

    #[test]
    fn a_bad_definition_fails_loading_naming_the_file_and_every_problem() {
        let broken = r#"{"id": "broken", "questions": [
            {"id": "q1", "kind": "stars", "text": "?"},
            {"id": "q2", "kind": "text", "text": "?", "next": "nowhere"}], "endings": []}"#;
        let err = load(&[("good.json", &nps_json()), ("broken.json", broken)]).unwrap_err();
        assert!(err.contains("broken.json"), "{err}");
        assert!(!err.contains("good.json"), "{err}");
        for problem in
            ["unknown kind \"stars\"", "\"nowhere\" is not the id of a question or an ending", "at least one ending"]
        {
            assert!(err.contains(problem), "missing {problem:?} in:\n{err}");
        }
    }

    #[test]
    fn invalid_json_is_reported_with_its_file() {
        let err = load(&[("typo.json", "{\"id\": ")]).unwrap_err();
        assert!(err.contains("typo.json") && err.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn the_same_survey_id_in_two_files_fails_loading() {
        let err = load(&[("a.json", &nps_json()), ("b.json", &nps_json())]).unwrap_err();
        assert!(err.contains("b.json") && err.contains("already defined in") && err.contains("a.json"), "{err}");
    }

    #[test]
    fn only_json_files_are_definitions() {
        assert_eq!(load(&[("nps.json", &nps_json()), ("README.md", "# not a survey")]), Ok(1));
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let err = SurveyCatalog::load_dir(Path::new("/nonexistent/surveys")).err().unwrap().to_string();
        assert!(err.contains("/nonexistent/surveys"), "{err}");
    }
}
