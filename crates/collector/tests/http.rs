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
use touchpoint_collector::db::{Db, DB_FILE};
use touchpoint_collector::{router, AppState, MAX_BODY_BYTES};
use touchpoint_protocol::{MAX_BATCH_EVENTS, MAX_EVENT_BYTES};
use tower::ServiceExt;

const KEY: &str = "pk_test";

fn repo_surveys() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../surveys")
}

struct Harness {
    dir: TempDir,
    app: Router,
}

impl Harness {
    fn new() -> Harness {
        Harness::in_dir(tempfile::tempdir().unwrap())
    }

    /// A collector over `dir/data`, `dir/www` and `dir/pkg`, as they are now.
    fn in_dir(dir: TempDir) -> Harness {
        let config = Config {
            data_dir: dir.path().join("data"),
            surveys_dir: repo_surveys(),
            www_dir: dir.path().join("www"),
            pkg_dir: dir.path().join("pkg"),
            project_key: KEY.into(),
            ..Config::default()
        };
        let db = Db::open(&config.data_dir).unwrap();
        let surveys = SurveyCatalog::load_dir(&config.surveys_dir).unwrap();
        Harness { app: router(AppState::new(config, db, surveys)), dir }
    }

    /// Simulates a restart: drops the router (and its connection), reopens.
    fn restart(self) -> Harness {
        let Harness { dir, app } = self;
        drop(app);
        Harness::in_dir(dir)
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

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    /// Read straight from the SQLite file, independently of the API under test.
    fn stored_ids(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.dir.path().join("data").join(DB_FILE)).unwrap();
        let mut q = conn.prepare("SELECT id FROM events ORDER BY id").unwrap();
        q.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
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
    let h = Harness::new();
    let batch = vec![track("e1", "a", 1), track("e2", "a", 2)];

    let (status, body) = h.post_events(batch.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&body), pairs(&[("e1", "accepted"), ("e2", "accepted")]));
    assert_eq!(h.stored_ids(), ["e1", "e2"]);

    let (status, body) = h.post_events(batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&body), pairs(&[("e1", "duplicate"), ("e2", "duplicate")]));
    assert_eq!(h.stored_ids(), ["e1", "e2"]);

    // The same id twice in one batch: the second copy is the duplicate.
    let (_, body) = h.post_events(vec![track("e3", "a", 3), track("e3", "a", 3)]).await;
    assert_eq!(statuses(&body), pairs(&[("e3", "accepted"), ("e3", "duplicate")]));
    assert_eq!(h.stored_ids(), ["e1", "e2", "e3"]);
}

#[tokio::test]
async fn stored_rows_carry_the_columns_queries_rely_on() {
    let h = Harness::new();
    let mut event = answered("a1", "nps", "r1", "score", json!(9), 1_700_000_000_000);
    event["user_id"] = json!("u1");
    let before = now_ms();
    h.post_events(vec![event.clone()]).await;
    let after = now_ms();

    let conn = rusqlite::Connection::open(h.dir.path().join("data").join(DB_FILE)).unwrap();
    type Row = (String, String, i64, i64, String, Option<String>, String, String, String, String, String);
    let row: Row = conn
        .query_row(
            "SELECT project_key, type, ts, received_at, anonymous_id, user_id, survey_id, response_id, question_id,
                    url, body FROM events WHERE id = 'a1'",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            },
        )
        .unwrap();
    let (key, kind, ts, received_at, anon, user, survey, response, question, url, body) = row;
    assert_eq!(
        (key.as_str(), kind.as_str(), ts, anon.as_str(), user.as_deref()),
        (KEY, "survey_answered", 1_700_000_000_000, "anon-r1", Some("u1"))
    );
    assert_eq!((survey.as_str(), response.as_str(), question.as_str()), ("nps", "r1", "score"));
    assert_eq!(url, "http://127.0.0.1/app");
    assert!((before..=after).contains(&received_at), "{before} <= {received_at} <= {after}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), event);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test]
async fn bad_events_are_rejected_with_a_reason_while_the_rest_is_stored() {
    let h = Harness::new();
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
    assert!(reasons[1].contains("missing field `type`"), "{}", reasons[1]);
    assert!(reasons[2].contains(&format!("limit of {MAX_EVENT_BYTES}")), "{}", reasons[2]);
    assert!(reasons[3].contains("missing field `id`"), "{}", reasons[3]);
    assert!(reasons[4].contains("invalid type"), "{}", reasons[4]);
    assert_eq!(h.stored_ids(), ["ok1", "ok2"]);
}

#[tokio::test]
async fn unknown_project_key_is_401_and_stores_nothing() {
    let h = Harness::new();
    let req = post_json("/v1/events", &json!({"key": "pk_other", "events": [track("e1", "a", 1)]}));
    let (status, body) = h.send(req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"error": "unknown project key", "field": "key"}));
    assert!(h.stored_ids().is_empty());
}

#[tokio::test]
async fn malformed_bodies_get_400_in_our_error_format() {
    let h = Harness::new();
    for (body, message, field) in [
        (r#"{"key": "pk_test", "events": ["#, "EOF while parsing", Some("events")),
        (r#"{"key": "pk_test", "events": []} trailing"#, "trailing characters", None),
        (r#"{"key": "pk_test", "events": {}}"#, "invalid type: map, expected a sequence", Some("events")),
        (r#"{"events": []}"#, "missing field `key`", None),
    ] {
        let (status, json) = h.send(post_raw("/v1/events", "application/json", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let error = json["error"].as_str().unwrap_or_else(|| panic!("{body}: not our error format: {json}"));
        assert!(error.contains(message), "{body}: {error}");
        assert_eq!(json.get("field").and_then(Value::as_str), field, "{body}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let h = Harness::new();
    let body = json!({"key": KEY, "events": [track("e1", "a", 1)]}).to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let (status, json) = h.send(post_raw("/v1/events", content_type, body.clone())).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
        assert!(json["error"].as_str().unwrap().contains("application/json"), "{json}");
    }
    assert!(h.stored_ids().is_empty());
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413_in_our_error_format() {
    let h = Harness::new();
    // Valid JSON, so only its size can be the reason.
    let body = json!({"key": KEY, "events": [], "padding": "x".repeat(MAX_BODY_BYTES)}).to_string();
    let (status, json) = h.send(post_raw("/v1/events", "application/json", body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json, json!({"error": format!("request body is larger than {MAX_BODY_BYTES} bytes")}));

    // Just under the limit is fine (unknown fields are ignored).
    let mut body = json!({"key": KEY, "events": [], "padding": ""}).to_string();
    body.insert_str(body.len() - 2, &"x".repeat(MAX_BODY_BYTES - body.len()));
    assert_eq!(body.len(), MAX_BODY_BYTES);
    let (status, _) = h.send(post_raw("/v1/events", "application/json", body)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn more_than_the_batch_limit_is_400_and_stores_nothing() {
    let h = Harness::new();
    let events: Vec<Value> = (0..=MAX_BATCH_EVENTS).map(|i| track(&format!("e{i:03}"), "a", i as i64)).collect();
    let (status, body) = h.post_events(events.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "events");
    assert!(body["error"].as_str().unwrap().contains(&format!("at most {MAX_BATCH_EVENTS}")), "{body}");
    assert!(h.stored_ids().is_empty());

    let (status, body) = h.post_events(events[..MAX_BATCH_EVENTS].to_vec()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(statuses(&body).len(), MAX_BATCH_EVENTS);
    assert_eq!(h.stored_ids().len(), MAX_BATCH_EVENTS);
}

#[tokio::test]
async fn survey_definitions_are_served_as_loaded() {
    let h = Harness::new();
    let (status, body) = h.get("/v1/surveys/nps").await;
    assert_eq!(status, StatusCode::OK);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(repo_surveys().join("nps.json")).unwrap()).unwrap();
    assert_eq!(body, file);

    let (status, body) = h.get("/v1/surveys/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "no survey with id \"nope\""}));
}

#[tokio::test]
async fn nps_counts_the_latest_answer_of_each_response_once() {
    let h = Harness::new();
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
            // r5's later answer (by ts) arrives first: ts decides, not arrival.
            score("a6", "r5", 8, 300),
            score("a7", "r5", 2, 100),
            // Not NPS answers of this survey: another question, another survey, not a number.
            answered("a8", "nps", "r4", "obstacle", json!("too_hard"), 150),
            answered("a9", "other", "r6", "score", json!(0), 100),
            answered("a10", "nps", "r7", "score", json!("ten"), 100),
        ])
        .await;
    assert!(statuses(&body).iter().all(|(_, s)| s == "accepted"), "{body}");
    // A retried send of an old answer does not resurrect it.
    h.post_events(vec![score("a2", "r2", 3, 100)]).await;

    let (status, body) = h.get("/v1/surveys/nps/nps").await;
    assert_eq!(status, StatusCode::OK);
    // r1 10, r2 9, r3 7, r4 0, r5 8: 2 promoters, 2 passives, 1 detractor of 5 → 40% − 20%.
    assert_eq!(
        body,
        json!({"survey_id": "nps", "responses": 5, "promoters": 2, "passives": 2, "detractors": 1, "nps": 20.0})
    );

    let (status, body) = h.get("/v1/surveys/nope/nps").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no survey with id \"nope\"");
}

#[tokio::test]
async fn events_query_filters_and_orders_by_ts() {
    let h = Harness::new();
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
    let h = Harness::new();
    h.post_events(vec![track("e1", "a", 1), answered("a1", "nps", "r1", "score", json!(10), 2)]).await;

    let h = h.restart();
    let (_, body) = h.get("/v1/events").await;
    assert_eq!(event_ids(&body), ["e1", "a1"]);
    let (_, body) = h.post_events(vec![track("e1", "a", 1)]).await;
    assert_eq!(statuses(&body), pairs(&[("e1", "duplicate")]));
    let (_, body) = h.get("/v1/surveys/nps/nps").await;
    assert_eq!(body["promoters"], 1);
}

#[tokio::test]
async fn health_check() {
    let (status, body) = Harness::new().get("/healthz").await;
    assert_eq!((status, body), (StatusCode::OK, json!("ok")));
}

#[tokio::test]
async fn unknown_api_routes_get_a_json_404_even_with_a_site() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("www")).unwrap();
    let h = Harness::in_dir(dir);
    let (status, body) = h.get("/v1/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "no such route"}));
}

#[tokio::test]
async fn site_and_widget_build_are_served_uncached_with_their_types() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("www")).unwrap();
    std::fs::create_dir(dir.path().join("pkg")).unwrap();
    std::fs::write(dir.path().join("www/index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(dir.path().join("pkg/touchpoint_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.path().join("pkg/touchpoint.js"), "export {}").unwrap();
    let h = Harness::in_dir(dir);

    for (path, content_type) in
        [("/", "text/html"), ("/pkg/touchpoint_bg.wasm", "application/wasm"), ("/pkg/touchpoint.js", "text/javascript")]
    {
        let res = h.app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let got = res.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(got.starts_with(content_type), "{path}: {got}");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache", "{path}");
    }
}

#[tokio::test]
async fn without_a_site_directory_the_root_is_a_json_404() {
    let h = Harness::new();
    let (status, body) = h.get("/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no such route");
}

#[tokio::test]
async fn any_origin_may_post_json_events() {
    let h = Harness::new();
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/events")
        .header(header::ORIGIN, "https://customer.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
        .body(Body::empty())
        .unwrap();
    let res = h.app.clone().oneshot(preflight).await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let headers = res.headers();
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap().contains("POST"));
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_HEADERS], "content-type");
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
