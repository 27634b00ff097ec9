//! Event streams end to end inside one process: events posted through
//! `router(state)`, the real streams worker, a real receiver on 127.0.0.1
//! (an axum server in the test that can refuse connections, fail, or
//! accept), and the dashboard's `/v1/streams`. Runs on SQLite, and on
//! Postgres when `DATABASE_URL` is set; the tests of two collectors on one
//! database and of late commits need Postgres and say so on SQLite.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use touchpoint_collector::automations::config::{AutomationsConfig, Context};
use touchpoint_collector::automations::Automations;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::projects::Projects;
use touchpoint_collector::streams::worker::Streaming;
use touchpoint_collector::worker::Worker;
use touchpoint_collector::AppState;

mod common;
use common::app::{event, repo_file, TestApp};

const PROJECTS: &str = r#"[
    {"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"]},
    {"public_key": "pk_other", "secret_key": "sk_other", "allowed_origins": ["*"]}
]"#;
const SECRET: &str = "whsec_stream_test_0123456789";

// ---------------------------------------------------------------- receiver

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    /// Answer 500 to everything.
    Fail,
    Accept,
}

#[derive(Clone, Debug)]
struct Hit {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// A stream receiver on a fixed 127.0.0.1 port: not listening until
/// [`Receiver::listen`] (connections are refused), then failing or
/// accepting as its mode says; it records every request it answered.
#[derive(Clone)]
struct Receiver {
    url: String,
    port: u16,
    hits: Arc<Mutex<Vec<Hit>>>,
    mode: Arc<Mutex<Mode>>,
}

impl Receiver {
    /// A port that nothing listens on yet.
    fn reserve() -> Receiver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Receiver {
            url: format!("http://127.0.0.1:{port}/events"),
            port,
            hits: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Accept)),
        }
    }

    async fn listening(mode: Mode) -> Receiver {
        let r = Receiver::reserve();
        r.listen(mode).await;
        r
    }

    async fn listen(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        let shared = self.clone();
        let app = Router::new().route(
            "/events",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let r = shared.clone();
                async move {
                    let status = match *r.mode.lock().unwrap() {
                        Mode::Fail => 500,
                        Mode::Accept => 200,
                    };
                    let body = String::from_utf8_lossy(&body).into_owned();
                    r.hits.lock().unwrap().push(Hit { status, headers, body });
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// The events of every acknowledged batch, in the order they arrived.
    fn acknowledged(&self) -> Vec<Value> {
        self.hits()
            .iter()
            .filter(|h| (200..300).contains(&h.status))
            .flat_map(|h| serde_json::from_str::<Value>(&h.body).unwrap()["events"].as_array().unwrap().clone())
            .collect()
    }

    fn acknowledged_ids(&self) -> Vec<String> {
        self.acknowledged().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
    }
}

/// Polls `f` every 20 ms for up to `secs`.
async fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Verifies `X-Touchpoint-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>` as a
/// receiver would (the collector README's recipe), with a five-minute window.
fn signed(hit: &Hit) -> bool {
    let Some(header) = hit.headers.get("x-touchpoint-signature").and_then(|v| v.to_str().ok()) else { return false };
    let field = |name: &str| header.split(',').find_map(|p| p.strip_prefix(name)?.strip_prefix('='));
    let (Some(t), Some(v1)) = (field("t").and_then(|t| t.parse::<i64>().ok()), field("v1")) else { return false };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", hit.body).as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    (now - t).abs() <= 300 && v1 == expected
}

// ---------------------------------------------------------------- harness

/// The automations file of these tests: only streams, fast retries.
fn config_json(streams: Value) -> String {
    json!({ "projects": { "pk_test": { "webhook_secret": SECRET } }, "streams": streams }).to_string()
}

fn load(text: &str) -> Result<AutomationsConfig, Vec<String>> {
    let surveys = SurveyCatalog::load_dir(&repo_file("surveys")).unwrap();
    let projects = Projects::from_json(PROJECTS).unwrap();
    let env = |var: &str| (var == "STREAM_SECRET_ENV").then(|| "from-the-environment-0123".to_string());
    let cx = Context { surveys: &surveys, checklists: None, projects: &projects, env: &env };
    AutomationsConfig::from_json(text, std::path::Path::new("automations.json"), std::path::Path::new("."), &cx)
}

fn warehouse(url: &str, settle_ms: i64) -> Value {
    json!([{
        "id": "warehouse", "url": url, "types": ["*"], "project": "pk_test",
        "batch_size": 4, "settle_ms": settle_ms, "first_retry_ms": 100, "max_retry_ms": 400, "timeout_ms": 2000,
    }])
}

fn with_streams(streams: Value) -> impl FnOnce(AppState) -> AppState {
    let config = load(&config_json(streams)).unwrap_or_else(|e| panic!("test config invalid: {e:#?}"));
    let outbox = std::env::temp_dir().join("touchpoint-streams-test-outbox");
    move |s: AppState| s.with_automations(Some(Automations::new(config, outbox)))
}

/// `n` track events each for ann, bob and cy, interleaved, in requests of three.
async fn post_interleaved(app: &TestApp, n: usize) -> HashMap<String, Vec<String>> {
    let mut sent: HashMap<String, Vec<String>> = HashMap::new();
    for i in 0..n {
        let batch: Vec<Value> = ["ann", "bob", "cy"]
            .iter()
            .map(|who| {
                event(
                    who,
                    Some(who),
                    1_700_000_000_000 + i as i64,
                    json!({"type": "track", "name": "step", "props": {"i": i}}),
                )
            })
            .collect();
        for e in &batch {
            sent.entry(e["anonymous_id"].as_str().unwrap().into()).or_default().push(e["id"].as_str().unwrap().into());
        }
        let results = app.post("pk_test", &batch).await;
        assert!(results.iter().all(|r| r["status"] == "accepted"), "{results:?}");
    }
    sent
}

/// Each person's event ids in the order the receiver acknowledged them.
fn per_person(events: &[Value]) -> HashMap<String, Vec<String>> {
    let mut got: HashMap<String, Vec<String>> = HashMap::new();
    for e in events {
        got.entry(e["event"]["anonymous_id"].as_str().unwrap().into())
            .or_default()
            .push(e["id"].as_str().unwrap().into());
    }
    got
}

fn assert_exactly_once(ids: &[String], expected: usize) {
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an event arrived twice: {ids:?}");
    assert_eq!(ids.len(), expected, "{ids:?}");
}

async fn stream_status(app: &TestApp) -> Value {
    let (status, body) = app.secret_get("/v1/streams", "sk_test").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["streams"][0].clone()
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_was_down_gets_every_event_once_in_order_per_person() {
    let receiver = Receiver::reserve();
    let app = TestApp::new(PROJECTS, with_streams(warehouse(&receiver.url, 50))).await;
    let worker = Worker::start::<Streaming>(&app.state).expect("a stream is configured");

    // Down: nothing listens. The stream retries with backoff and says why on the dashboard.
    let sent = post_interleaved(&app, 5).await;
    let other =
        app.post("pk_other", &[event("dee", None, 1_700_000_000_000, json!({"type": "track", "name": "x"}))]).await;
    assert_eq!(other[0]["status"], "accepted");
    let mut status = Value::Null;
    for _ in 0..250 {
        status = stream_status(&app).await;
        if status["attempts"].as_i64() >= Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(status["attempts"].as_i64() >= Some(2), "{status}");
    assert!(status["last_error"].as_str().unwrap().starts_with("cannot deliver"), "{status}");
    assert_eq!(status["behind"], 15, "{status}");
    assert!(status["oldest_undelivered_age_ms"].as_i64() > Some(0), "{status}");
    assert_eq!(status["delivered"], 0);

    // Up but failing: requests arrive, none is acknowledged, the cursor stays.
    receiver.listen(Mode::Fail).await;
    eventually("two failed requests", 10, || (receiver.hits().len() >= 2).then_some(())).await;
    let status = stream_status(&app).await;
    assert_eq!((&status["behind"], &status["delivered"]), (&json!(15), &json!(0)), "{status}");
    assert_eq!(status["last_error"], "the receiver answered HTTP 500");

    // Recovered: everything arrives, exactly once by id, in order per person.
    receiver.set(Mode::Accept);
    let more = post_interleaved(&app, 2).await;
    eventually("21 acknowledged events", 15, || (receiver.acknowledged().len() >= 21).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_exactly_once(&receiver.acknowledged_ids(), 21);
    let mut expected = sent;
    for (who, ids) in more {
        expected.get_mut(&who).unwrap().extend(ids);
    }
    assert_eq!(per_person(&receiver.acknowledged()), expected);
    for hit in receiver.hits() {
        assert!(signed(&hit), "unsigned batch {}", hit.body);
        assert_eq!(hit.headers["x-touchpoint-stream"], "warehouse");
        let body: Value = serde_json::from_str(&hit.body).unwrap();
        assert_eq!(hit.headers["x-touchpoint-delivery"].to_str().unwrap(), body["batch_id"]);
        assert_eq!(body["project"], "pk_test", "only the stream's project");
        assert!(body["events"].as_array().unwrap().len() <= 4, "batch_size");
    }
    let first = &receiver.acknowledged()[0];
    assert_eq!(first["source"], "page");
    assert_eq!(first["event"]["type"], "track");

    let status = stream_status(&app).await;
    assert_eq!((&status["behind"], &status["delivered"], &status["attempts"]), (&json!(0), &json!(21), &json!(0)));
    assert_eq!(status["oldest_undelivered_at"], Value::Null);
    assert_eq!(status["last_error"], "the receiver answered HTTP 500", "the last failure stays on show");
    worker.stop().await;
}

/// The receiver fails for 30 s (as long as a deploy or a restart may take) with a real first retry
/// (1 s) and an 8 s cap: the stream keeps retrying, then delivers everything once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_survives_a_receiver_failing_for_thirty_seconds() {
    let receiver = Receiver::listening(Mode::Fail).await;
    let mut streams = warehouse(&receiver.url, 50);
    streams[0]["first_retry_ms"] = json!(1000);
    streams[0]["max_retry_ms"] = json!(8000);
    let app = TestApp::new(PROJECTS, with_streams(streams)).await;
    let worker = Worker::start::<Streaming>(&app.state).expect("a stream is configured");
    let mut expected = post_interleaved(&app, 3).await;
    tokio::time::sleep(Duration::from_secs(15)).await;
    for (who, ids) in post_interleaved(&app, 1).await {
        expected.get_mut(&who).unwrap().extend(ids);
    }
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert!(receiver.acknowledged().is_empty());
    assert!(receiver.hits().len() >= 4, "it kept trying: {} requests in 30 s", receiver.hits().len());
    assert_eq!(stream_status(&app).await["behind"], 12);

    receiver.set(Mode::Accept);
    eventually("12 acknowledged events", 20, || (receiver.acknowledged().len() >= 12).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_exactly_once(&receiver.acknowledged_ids(), 12);
    assert_eq!(per_person(&receiver.acknowledged()), expected);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_carries_only_its_types_and_never_a_rejected_event() {
    let receiver = Receiver::listening(Mode::Accept).await;
    let mut streams = warehouse(&receiver.url, 0);
    streams[0]["types"] = json!(["survey_answered", "identify"]);
    let app = TestApp::new(PROJECTS, with_streams(streams)).await;
    let worker = Worker::start::<Streaming>(&app.state).unwrap();
    let answer = |id: &str, q: &str, v: Value| {
        let mut e = event(
            "ann",
            None,
            1_700_000_000_000,
            json!({"type": "survey_answered", "survey_id": "nps",
            "response_id": "r1", "question_id": q, "value": v}),
        );
        e["id"] = json!(id);
        e
    };
    let mut identify =
        event("ann", Some("ann"), 1_700_000_000_000, json!({"type": "identify", "traits": {"plan": "pro"}}));
    identify["id"] = json!("ident");
    let mut track = event("ann", None, 1_700_000_000_000, json!({"type": "track", "name": "clicked"}));
    track["id"] = json!("track");
    // "nope" is not a question of the survey: stored rejected (answered `rejected`), never forwarded.
    let results = app
        .post("pk_test", &[track, answer("score", "score", json!(9)), answer("bad", "nope", json!(1)), identify])
        .await;
    let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["accepted", "accepted", "rejected", "accepted"], "{results:?}");
    let rejected = app.db.rows("SELECT id FROM events WHERE rejected IS NOT NULL").await;
    assert_eq!(rejected, [vec![json!("bad")]]);
    eventually("2 events", 10, || (receiver.acknowledged().len() >= 2).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.acknowledged_ids(), ["score", "ident"]);
    let status = stream_status(&app).await;
    assert_eq!((&status["behind"], &status["types"]), (&json!(0), &json!(["identify", "survey_answered"])));
    worker.stop().await;
}

/// Two collectors, each with its own streams worker, on one Postgres: each
/// event reaches the receiver exactly once, in order per person.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_collectors_on_one_postgres_deliver_each_event_exactly_once() {
    if common::postgres_url().is_none() {
        eprintln!("two collectors share a database only on Postgres: set DATABASE_URL to run this test");
        return;
    }
    let receiver = Receiver::listening(Mode::Accept).await;
    let a = TestApp::new(PROJECTS, with_streams(warehouse(&receiver.url, 300))).await;
    // The second collector: its own state and worker over the first one's database.
    let b_store = a.db.open(&a.dir.path().join("data")).await;
    let b_state = AppState { db: b_store, ..a.state.clone() };
    let b = touchpoint_collector::router(b_state.clone());
    let (wa, wb) = (Worker::start::<Streaming>(&a.state).unwrap(), Worker::start::<Streaming>(&b_state).unwrap());

    // Both ingest at once, interleaved people, while both workers run.
    let b_app = TestApp { app: b, state: b_state, db: a.db.clone(), dir: tempfile::tempdir().unwrap() };
    let (sa, sb) = tokio::join!(post_interleaved(&a, 20), post_interleaved(&b_app, 20));
    eventually("120 acknowledged events", 30, || (receiver.acknowledged().len() >= 120).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_exactly_once(&receiver.acknowledged_ids(), 120);
    // Per person, in arrival order: what the database says it is.
    let rows = a.db.rows("SELECT anonymous_id, id FROM events ORDER BY seq").await;
    let mut stored: HashMap<String, Vec<String>> = HashMap::new();
    for r in rows {
        stored.entry(r[0].as_str().unwrap().into()).or_default().push(r[1].as_str().unwrap().into());
    }
    assert_eq!(per_person(&receiver.acknowledged()), stored);
    assert_eq!(
        stored.values().map(Vec::len).sum::<usize>(),
        sa.values().chain(sb.values()).map(Vec::len).sum::<usize>()
    );
    let status = stream_status(&a).await;
    assert_eq!((&status["behind"], &status["delivered"]), (&json!(0), &json!(120)));
    wa.stop().await;
    wb.stop().await;
}

/// An event whose transaction commits after a later one was already
/// visible is still sent, first: the settle window holds the cursor back.
/// With `settle_ms: 0` the later event would go out alone, the cursor
/// would pass the late one's `seq`, and it would never be sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_commits_late_is_not_skipped() {
    let Some(base) = common::postgres_url() else {
        eprintln!("out-of-order commits happen on Postgres: set DATABASE_URL to run this test");
        return;
    };
    let _ = base;
    let receiver = Receiver::listening(Mode::Accept).await;
    let app = TestApp::new(PROJECTS, with_streams(warehouse(&receiver.url, 1500))).await;
    let worker = Worker::start::<Streaming>(&app.state).unwrap();
    let common::TestDb::Postgres { url } = &app.db else { unreachable!() };
    // With the collector's TLS: the suite runs with `sslmode=require`.
    let mut client = touchpoint_collector::store::pg_tls::connect(url).await.unwrap();
    // The late event takes its seq now and commits in 700 ms.
    let tx = client.transaction().await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    tx.execute(
        "INSERT INTO events (id, project_key, type, ts, received_at, anonymous_id, url, body)
         VALUES ('late', 'pk_test', 'track', $1, $1, 'ann', 'https://app.example.com/',
                 '{\"id\":\"late\",\"type\":\"track\",\"name\":\"slow\",\"anonymous_id\":\"ann\"}')",
        &[&now],
    )
    .await
    .unwrap();
    let mut later = event("ann", None, now, json!({"type": "track", "name": "fast"}));
    later["id"] = json!("later");
    assert_eq!(app.post("pk_test", &[later]).await[0]["status"], "accepted");
    tokio::time::sleep(Duration::from_millis(700)).await;
    tx.commit().await.unwrap();
    eventually("2 events", 10, || (receiver.acknowledged().len() >= 2).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.acknowledged_ids(), ["late", "later"]);
    worker.stop().await;
}

#[test]
fn every_problem_of_the_streams_is_named_by_its_path() {
    let problems = load(&config_json(json!([
        { "id": "w", "url": "ftp://x", "types": ["track", "tracks", 3], "batch_size": 0, "colour": "red", "project": "pk_test" },
        { "id": "w", "url": "https://x.example", "types": ["*", "track"], "project": "pk_nope" },
        { "id": "bad id", "url": "https://x.example", "types": [], "project": "pk_other" },
        { "url": "https://x.example", "types": ["*"], "first_retry_ms": 1000, "max_retry_ms": 10, "secret": "0123456789abcdef" },
    ])))
    .unwrap_err();
    let expected = [
        "streams[0].colour: unknown field",
        "streams[0].url: \"ftp://x\" is not an http(s) URL",
        "streams[0].types[1]: \"tracks\" is not an event type (types: ",
        "streams[0].types[2]: must be an event type (a string), not 3",
        "streams[0].batch_size: must be a whole number from 1 to 1000, not 0",
        "streams[1].types: \"*\" already means every type: list it alone",
        "streams[1].project: \"pk_nope\" is not the public key of a configured project",
        "streams[2].id: \"bad id\" may only use letters, digits, _, - and .",
        "streams[2].types: must be a non-empty list of event types",
        "streams[2].secret: a stream's batches are signed: give \"secret\" (or \"secret_env\") here, or \
         projects.<key>.webhook_secret for pk_other",
        "streams[3].id: is required",
        "streams[3].max_retry_ms: must be at least first_retry_ms (1000)",
    ];
    for want in expected {
        assert!(problems.iter().any(|p| p.starts_with(want)), "missing {want:?} in {problems:#?}");
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");

    // A duplicate id is named once both are otherwise valid; a file of streams alone needs no rules.
    let problems = load(&config_json(json!([
        { "id": "w", "url": "https://x.example", "types": ["*"], "project": "pk_test" },
        { "id": "w", "url": "https://y.example", "types": ["track"], "secret_env": "STREAM_SECRET_ENV" },
    ])))
    .unwrap_err();
    assert_eq!(problems, ["streams[1].id: \"w\" is already the id of another stream"]);
    let ok =
        load(&config_json(json!([{ "id": "w", "url": "https://x.example", "types": ["*"], "project": "pk_test" }])))
            .unwrap();
    assert_eq!(ok.streams.len(), 1);
    assert!(ok.rules.is_empty());
}
