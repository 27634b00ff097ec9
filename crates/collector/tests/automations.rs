//! Automations end to end inside one process: events posted through
//! `router(state)`, the real background worker, a real webhook receiver on
//! 127.0.0.1 (an axum server in the test whose answers each test scripts),
//! emails in a temporary outbox folder, and the cases and delivery-log APIs.
//! Runs on SQLite, and on Postgres when `DATABASE_URL` is set.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tempfile::TempDir;
use touchpoint_collector::automations::config::{AutomationsConfig, Context};
use touchpoint_collector::automations::worker::Automating;
use touchpoint_collector::automations::Automations;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::checklists::ChecklistCatalog;
use touchpoint_collector::config::Config;
use touchpoint_collector::projects::Projects;
use touchpoint_collector::store::{RunEffects, Store};
use touchpoint_collector::worker::Worker;
use touchpoint_collector::{router, AppState};
use tower::ServiceExt;

mod common;
use common::TestDb;

const KEY: &str = "pk_test";
const SECRET: &str = "sk_test";
const WEBHOOK_SECRET: &str = "whsec_test_0123456789";
const PROJECTS: &str = r#"[
    {"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"]},
    {"public_key": "pk_other", "secret_key": "sk_other", "allowed_origins": ["*"]}
]"#;
/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;
const DAY: i64 = 24 * 60 * 60 * 1000;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

// ---------------------------------------------------------------- receiver

/// What the receiver answers to one request.
#[derive(Clone, Copy)]
enum Reply {
    Status(u16),
    /// Answer 200 only after this long (past the collector's timeout).
    Hang(Duration),
}

#[derive(Clone, Debug)]
struct Hit {
    at: Instant,
    headers: HeaderMap,
    body: String,
}

/// A webhook receiver on 127.0.0.1: answers from a script (then 200), records every request.
#[derive(Clone)]
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl Receiver {
    async fn start(script: &[Reply]) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver { url, hits: Arc::default(), script: Arc::new(Mutex::new(script.iter().copied().collect())) };
        let shared = r.clone();
        let app = Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let r = shared.clone();
                async move {
                    let hit = Hit { at: Instant::now(), headers, body: String::from_utf8_lossy(&body).into_owned() };
                    r.hits.lock().unwrap().push(hit);
                    let reply = r.script.lock().unwrap().pop_front().unwrap_or(Reply::Status(200));
                    match reply {
                        Reply::Status(code) => StatusCode::from_u16(code).unwrap(),
                        Reply::Hang(d) => {
                            tokio::time::sleep(d).await;
                            StatusCode::OK
                        }
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Hit> {
        eventually(&format!("{n} webhook request(s)"), || {
            let hits = self.hits();
            (hits.len() >= n).then_some(hits)
        })
        .await
    }
}

/// Polls `f` every 20 ms for up to 10 s.
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The receiver's recipe in the collector's README, written as a receiver
/// would: split `X-Touchpoint-Signature` into `t` and `v1`, refuse a `t`
/// more than 300 s from the receiver's clock, HMAC-SHA256 `"{t}.{body}"`
/// with the secret, compare in constant time.
fn receiver_accepts(hit: &Hit, secret: &str, now_s: i64) -> Result<(), String> {
    let header = hit.headers.get("x-touchpoint-signature").ok_or("no signature header")?.to_str().unwrap();
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.push(v),
            _ => {}
        }
    }
    let t = t.ok_or("no t")?;
    if (now_s - t).abs() > 300 {
        return Err(format!("t is {} s from now: outside the window, a replay", now_s - t));
    }
    // `verify_slice` compares in constant time.
    let matches = |hex: &&str| {
        let bytes: Option<Vec<u8>> =
            (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{}", hit.body).as_bytes());
        bytes.is_some_and(|b| mac.verify_slice(&b).is_ok())
    };
    if v1.iter().any(matches) {
        Ok(())
    } else {
        Err("no v1 matches".into())
    }
}

fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn verify(hit: &Hit, secret: &str) {
    if let Err(e) = receiver_accepts(hit, secret, now_s()) {
        panic!("signature of {}: {e}", hit.body);
    }
}

// ---------------------------------------------------------------- harness

struct Harness {
    dir: TempDir,
    db: TestDb,
    store: Store,
    app: Router,
    worker: Option<Worker>,
}

/// An automations file over the repository's surveys and checklists, with
/// `rules`, fast retries, and templates from the test's own folder.
fn config_json(dir: &Path, rules: Value) -> Value {
    json!({
        "email": { "from": "Acme Success <success@acme.example>", "templates_dir": dir.join("templates") },
        "webhooks": { "first_retry_ms": 100, "max_retry_ms": 2000, "max_attempts": 5, "timeout_ms": 1500 },
        "projects": { "pk_test": { "webhook_secret": WEBHOOK_SECRET } },
        "churn_scan_every_s": 1,
        // Responses left open settle quickly, so answer rules run within a test.
        "response_settle_ms": 200,
        "rules": rules,
    })
}

const TRIAL_TEMPLATE: &str = "Subject: Two more weeks for {{traits.name|you}}\n\nHi {{traits.name|there}},\n\n\
                              Your code: {{action.code}}.\nRule {{rule}}, user {{user_id}}.\n";

fn context_parts() -> (SurveyCatalog, ChecklistCatalog, Projects) {
    (
        SurveyCatalog::load_dir(&repo("surveys")).unwrap(),
        ChecklistCatalog::load(&repo("checklists.json")).unwrap(),
        Projects::from_json(PROJECTS).unwrap(),
    )
}

fn load_config(text: &str, dir: &Path) -> Result<AutomationsConfig, Vec<String>> {
    let (surveys, checklists, projects) = context_parts();
    let env = |var: &str| (var == "TEST_HOOK_SECRET").then(|| "from-the-environment-0123".to_string());
    let cx = Context { surveys: &surveys, checklists: Some(&checklists), projects: &projects, env: &env };
    AutomationsConfig::from_json(text, &dir.join("automations.json"), dir, &cx)
}

impl Harness {
    async fn new(rules: Value) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::new(&dir.path().join("data")).await;
        Harness::in_dir(dir, db, rules, true).await
    }

    async fn in_dir(dir: TempDir, db: TestDb, rules: Value, with_worker: bool) -> Harness {
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("templates/trial_extension.eml"), TRIAL_TEMPLATE).unwrap();
        let text = config_json(dir.path(), rules).to_string();
        let config = load_config(&text, dir.path()).unwrap_or_else(|e| panic!("test config invalid: {e:#?}"));
        let automations = Automations::new(config, dir.path().join("outbox"));
        std::fs::create_dir_all(dir.path().join("outbox")).unwrap();
        let (surveys, checklists, projects) = context_parts();
        let data_dir = dir.path().join("data");
        let store = db.open(&data_dir).await;
        let config = Config { data_dir, surveys_dir: repo("surveys"), ..Config::default() };
        let state = AppState::new(config, projects, store.clone(), surveys)
            .with_checklists(Some(checklists))
            .with_automations(Some(automations));
        let worker = if with_worker { Worker::start::<Automating>(&state) } else { None };
        Harness { app: router(state), dir, db, store, worker }
    }

    /// Stops the worker, closes the store and starts everything again on the same data.
    async fn restart(mut self, rules: Value) -> Harness {
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
        self.store.close().await;
        let Harness { dir, db, .. } = self;
        Harness::in_dir(dir, db, rules, true).await
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn post_as(&self, key: &str, events: &[Value]) -> Value {
        let body = json!({ "key": key, "events": events });
        let req = Request::post("/v1/events")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, body) = self.send(req).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn post(&self, events: &[Value]) -> Value {
        self.post_as(KEY, events).await
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.get_as(uri, SECRET).await
    }

    async fn get_as(&self, uri: &str, secret: &str) -> (StatusCode, Value) {
        let req = Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {secret}")).body(Body::empty());
        self.send(req.unwrap()).await
    }

    async fn close_case(&self, id: &str, body: &str, secret: &str) -> (StatusCode, Value) {
        let req = Request::post(format!("/v1/cases/{id}/close"))
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    async fn cases(&self, status: &str) -> Vec<Value> {
        let (s, body) = self.get(&format!("/v1/cases?status={status}")).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        body["cases"].as_array().unwrap().clone()
    }

    async fn deliveries(&self) -> Vec<Value> {
        let (s, body) = self.get("/v1/automations/deliveries").await;
        assert_eq!(s, StatusCode::OK, "{body}");
        body["deliveries"].as_array().unwrap().clone()
    }

    /// Waits until the delivery log has `n` entries, all settled (delivered or failed).
    async fn settled_deliveries(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let list = self.deliveries().await;
            if list.len() >= n && list.iter().all(|d| d["status"] != "pending") {
                return list;
            }
            assert!(Instant::now() < deadline, "deliveries did not settle: {list:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_for_cases(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let list = self.cases("all").await;
            if list.len() >= n {
                return list;
            }
            assert!(Instant::now() < deadline, "expected {n} case(s), have {list:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn emails(&self) -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = std::fs::read_dir(self.dir.path().join("outbox"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap()))
            .collect();
        files.sort();
        files
    }

    /// Events and responses waiting for the worker.
    async fn queued(&self) -> usize {
        self.db.rows("SELECT event_id FROM automation_queue").await.len()
            + self.db.rows("SELECT response_id FROM response_queue").await.len()
    }
}

// ---------------------------------------------------------------- events

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

fn event(user: &str, ts: i64, kind: Value) -> Value {
    let mut e = json!({
        "id": format!("ev-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)),
        "ts": ts, "anonymous_id": format!("b-{user}"), "user_id": user, "url": "https://app.example.com/",
    });
    e.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
    e
}

fn identify(user: &str, traits: Value) -> Value {
    event(user, T0, json!({"type": "identify", "traits": traits}))
}

fn answered(user: &str, question: &str, value: Value) -> Value {
    event(
        user,
        T0 + 1000,
        json!({"type": "survey_answered", "survey_id": "nps", "response_id": format!("r-{user}"),
               "question_id": question, "value": value}),
    )
}

fn completed(user: &str, ending: &str, actions: Value) -> Value {
    event(
        user,
        T0 + 2000,
        json!({"type": "survey_completed", "survey_id": "nps", "response_id": format!("r-{user}"),
               "ending_id": ending, "actions": actions}),
    )
}

/// `user`'s walk to the trial offer: a detractor score, "not ready", the
/// ending with its actions as the survey defines them.
fn trial_offer_walk(user: &str) -> Vec<Value> {
    vec![
        answered(user, "score", json!(3)),
        answered(user, "obstacle", json!("not_ready")),
        completed(
            user,
            "trial_offer",
            json!([{"action": "offer", "code": "trial_extension_14d"}, {"action": "webhook"}]),
        ),
    ]
}

fn detractor_rule() -> Value {
    json!({ "id": "detractor", "project": KEY, "when": { "score": { "survey": "nps", "min": 0, "max": 6 } },
            "do": [ { "action": "webhook", "url": "RECEIVER" },
                    { "action": "case", "title": "Detractor: reply personally" } ] })
}

/// `rules` with every `"RECEIVER"` replaced by the receiver's URL.
fn with_url(rules: Value, url: &str) -> Value {
    serde_json::from_str(&rules.to_string().replace("\"RECEIVER\"", &format!("{url:?}"))).unwrap()
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detractor_score_sends_one_signed_webhook_and_opens_one_case() {
    let receiver = Receiver::start(&[]).await;
    let h = Harness::new(with_url(json!([detractor_rule()]), &receiver.url)).await;
    h.post(&[identify("u1", json!({"name": "Dana", "email": "dana@example.com"}))]).await;
    let score = answered("u1", "score", json!(3));
    h.post(&[score.clone(), answered("u2", "score", json!(8))]).await;

    let hits = receiver.wait_for(1).await;
    let hit = &hits[0];
    verify(hit, WEBHOOK_SECRET);
    // The same request replayed to the receiver six minutes later is refused by the recipe...
    let replayed = receiver_accepts(hit, WEBHOOK_SECRET, now_s() + 360);
    assert!(replayed.is_err_and(|e| e.contains("outside the window")));
    // ...and moving its t forward breaks the signature.
    let t = |h: &Hit| h.headers["x-touchpoint-signature"].to_str().unwrap().split(',').next().unwrap().to_string();
    let mut moved = hit.clone();
    let later = format!("t={}", now_s() + 360);
    let header = hit.headers["x-touchpoint-signature"].to_str().unwrap().replace(&t(hit), &later);
    moved.headers.insert("x-touchpoint-signature", header.parse().unwrap());
    assert_eq!(receiver_accepts(&moved, WEBHOOK_SECRET, now_s() + 360), Err("no v1 matches".to_string()));
    assert!(receiver_accepts(hit, "another-secret", now_s()).is_err());
    let payload: Value = serde_json::from_str(&hit.body).unwrap();
    assert_eq!(payload["rule"], "detractor");
    assert_eq!(payload["project"], KEY);
    assert_eq!(payload["trigger"], "event");
    assert_eq!(payload["event"], score);
    assert_eq!(
        payload["user"],
        json!({"user_id": "u1", "anonymous_id": "b-u1",
                                        "traits": {"name": "Dana", "email": "dana@example.com"}})
    );
    assert_eq!(hit.headers["x-touchpoint-delivery"], payload["delivery_id"].as_str().unwrap());
    assert_eq!(hit.headers["content-type"], "application/json");

    let cases = h.wait_for_cases(1).await;
    assert_eq!(cases.len(), 1, "{cases:#?}");
    let c = &cases[0];
    assert_eq!(
        (&c["rule"], &c["title"], &c["status"]),
        (&json!("detractor"), &json!("Detractor: reply personally"), &json!("open"))
    );
    assert_eq!((&c["user_id"], &c["trigger_id"]), (&json!("u1"), &score["id"]));
    assert_eq!(c["detail"]["event"], score);

    // The same event again (a client retry) and a passive: nothing more happens.
    assert_eq!(h.post(std::slice::from_ref(&score)).await["results"][0]["status"], "duplicate");
    let log = h.settled_deliveries(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.hits().len(), 1);
    assert_eq!(h.cases("all").await.len(), 1);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "delivered");
    assert_eq!(log[0]["log"].as_array().unwrap().len(), 1);
    assert_eq!(log[0]["log"][0]["status_code"], 200);
    assert_eq!(h.queued().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_is_retried_with_backoff_and_gets_the_delivery_once() {
    let receiver = Receiver::start(&[Reply::Status(500), Reply::Status(503), Reply::Status(500)]).await;
    let h = Harness::new(with_url(json!([detractor_rule()]), &receiver.url)).await;
    h.post(&[answered("u1", "score", json!(0))]).await;

    let log = h.settled_deliveries(1).await;
    let hits = receiver.hits();
    assert_eq!(hits.len(), 4, "three failures, then one success");
    // The same delivery every time, each attempt signed at its own time.
    for hit in &hits {
        assert_eq!(hit.body, hits[0].body);
        assert_eq!(hit.headers["x-touchpoint-delivery"], hits[0].headers["x-touchpoint-delivery"]);
        verify(hit, WEBHOOK_SECRET);
    }
    let t = |h: &Hit| h.headers["x-touchpoint-signature"].to_str().unwrap().split(',').next().unwrap().to_string();
    assert!(hits.windows(2).all(|pair| t(&pair[0]) <= t(&pair[1])));
    let attempts: Vec<&str> = hits.iter().map(|h| h["x-touchpoint-attempt"].to_str().unwrap()).collect();
    assert_eq!(attempts, ["1", "2", "3", "4"]);
    // Exponential backoff from first_retry_ms = 100: at least 100, 200, 400 ms apart.
    for (i, pair) in hits.windows(2).enumerate() {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(100 << i), "gap {i} was {gap:?}");
    }
    let d = &log[0];
    assert_eq!((&d["status"], &d["attempts"]), (&json!("delivered"), &json!(4)));
    let codes: Vec<&Value> = d["log"].as_array().unwrap().iter().map(|a| &a["status_code"]).collect();
    assert_eq!(codes, [&json!(500), &json!(503), &json!(500), &json!(200)]);
    let errors: Vec<&Value> = d["log"].as_array().unwrap().iter().map(|a| &a["error"]).collect();
    assert_eq!(errors[0], "the receiver answered HTTP 500");
    assert_eq!(errors[3], &Value::Null);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.hits().len(), 4, "nothing after the success");
}

impl std::ops::Index<&str> for Hit {
    type Output = axum::http::HeaderValue;
    fn index(&self, name: &str) -> &axum::http::HeaderValue {
        &self.headers[name]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_max_attempts_a_delivery_is_failed_and_left_alone() {
    let receiver = Receiver::start(&[Reply::Status(500); 10]).await;
    let h = Harness::new(with_url(json!([detractor_rule()]), &receiver.url)).await;
    h.post(&[answered("u1", "score", json!(2))]).await;
    let log = h.settled_deliveries(1).await;
    assert_eq!((&log[0]["status"], &log[0]["attempts"]), (&json!("failed"), &json!(5)));
    assert_eq!(log[0]["last_error"], "the receiver answered HTTP 500");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.hits().len(), 5);
    // The case does not depend on the webhook.
    assert_eq!(h.cases("open").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_never_blocks_ingest() {
    let receiver = Receiver::start(&[Reply::Hang(Duration::from_secs(3))]).await;
    let h = Harness::new(with_url(json!([detractor_rule()]), &receiver.url)).await;
    h.post(&[answered("u1", "score", json!(1))]).await;
    receiver.wait_for(1).await;
    // The worker is now waiting on the receiver; ingest answers at once.
    for i in 0..5 {
        let started = Instant::now();
        let body = h.post(&[answered(&format!("v{i}"), "score", json!(9))]).await;
        assert_eq!(body["results"][0]["status"], "accepted");
        assert!(started.elapsed() < Duration::from_millis(500), "ingest took {:?}", started.elapsed());
    }
    // The hung attempt timed out (1.5 s) and the retry went through.
    let log = h.settled_deliveries(1).await;
    assert_eq!(log[0]["status"], "delivered");
    assert!(log[0]["log"][0]["error"].as_str().unwrap().starts_with("cannot deliver"), "{:#?}", log[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ending_action_writes_the_email_rendered_from_its_template() {
    let h = Harness::new(json!([
        { "id": "trial_extension",
          "when": { "ending_action": { "survey": "nps", "action": "offer", "code": "trial_extension_14d" } },
          "do": [ { "action": "email", "template": "trial_extension" } ] }
    ]))
    .await;
    h.post(&[identify("u1", json!({"name": "Dana", "email": "dana@example.com"}))]).await;
    // An identify whose name tries to inject a header.
    h.post(&[identify("u2", json!({"name": "Eve\r\nBcc: all@example.com", "email": "eve@example.com"}))]).await;
    let walk = trial_offer_walk("u1");
    let done = walk[2].clone();
    h.post(&walk).await;
    h.post(&trial_offer_walk("u2")).await;
    h.post(&[
        answered("u3", "score", json!(5)),
        answered("u3", "obstacle", json!("too_hard")),
        completed("u3", "detractor_thanks", json!([{"action": "webhook"}])),
    ])
    .await;

    let log = h.settled_deliveries(2).await;
    assert!(log.iter().all(|d| d["status"] == "delivered" && d["kind"] == "email"), "{log:#?}");
    let emails = h.emails();
    assert_eq!(emails.len(), 2, "{emails:?}");
    let (name, dana) = emails.iter().find(|(_, m)| m.contains("To: dana@example.com")).unwrap();
    let id = log.iter().find(|d| d["target"] == "dana@example.com").unwrap()["id"].as_str().unwrap();
    assert_eq!(name, &format!("{id}.eml"));
    // An email holds what a user said: only the collector's account may read it.
    for (name, _) in &emails {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(h.dir.path().join("outbox").join(name)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    for line in [
        "From: Acme Success <success@acme.example>\r\n",
        "To: dana@example.com\r\n",
        "Subject: Two more weeks for Dana\r\n",
        &format!("Message-ID: <{id}@touchpoint>\r\n"),
        "Content-Type: text/plain; charset=utf-8\r\n",
        "X-Touchpoint-Rule: trial_extension\r\n",
        &format!("X-Touchpoint-Trigger: {}\r\n", done["id"].as_str().unwrap()),
        "\r\nHi Dana,\r\n\r\nYour code: trial_extension_14d.\r\nRule trial_extension, user u1.\r\n",
    ] {
        assert!(dana.contains(line), "{line:?} missing from:\n{dana}");
    }
    let (_, eve) = emails.iter().find(|(_, m)| m.contains("To: eve@example.com")).unwrap();
    assert!(eve.contains("Subject: Two more weeks for Eve  Bcc: all@example.com\r\n"), "{eve}");
    let (head, _) = eve.split_once("\r\n\r\n").unwrap();
    assert!(!head.contains("\r\nBcc:"), "{eve}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_without_a_recipient_is_logged_as_failed() {
    let h = Harness::new(json!([
        { "id": "trial_extension",
          "when": { "ending_action": { "action": "offer" } },
          "do": [ { "action": "email", "template": "trial_extension" } ] }
    ]))
    .await;
    h.post(&trial_offer_walk("nomail")).await;
    let log = h.settled_deliveries(1).await;
    assert_eq!(log[0]["status"], "failed");
    assert_eq!(log[0]["last_error"], "no valid recipient for nomail: \"\" (the \"to\" of the rule)");
    assert!(h.emails().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_a_confirmed_checklist_completion_and_projects_select_rules() {
    let receiver = Receiver::start(&[]).await;
    let rules = json!([
        { "id": "missing_feature", "when": { "answer": { "survey": "nps", "question": "obstacle", "value": "missing_feature" } },
          "do": [ { "action": "case", "title": "Ask which feature" } ] },
        { "id": "onboarded", "when": { "checklist_completed": { "checklist": "get_started" } },
          "do": [ { "action": "webhook", "url": "RECEIVER", "secret_env": "TEST_HOOK_SECRET" } ] },
        { "id": "other_project_only", "project": "pk_other",
          "when": { "answer": { "survey": "nps", "question": "obstacle", "in": ["missing_feature", "too_hard"] } },
          "do": [ { "action": "case", "title": "Other project" } ] }
    ]);
    let h = Harness::new(with_url(rules, &receiver.url)).await;
    h.post(&[
        answered("u1", "score", json!(2)),
        answered("u1", "obstacle", json!("missing_feature")),
        answered("u2", "score", json!(2)),
        answered("u2", "obstacle", json!("too_hard")),
        // u3 did what the small team's checklist asks; u5 only created a project and sends the
        // completion anyway (anyone with the public key can): only u3's runs the rule.
        identify("u3", json!({"team_size": 3})),
        event("u3", T0 + 1, json!({"type": "track", "name": "created_project", "props": {}})),
        event("u3", T0 + 2, json!({"type": "track", "name": "imported_data", "props": {"rows": 120}})),
        event("u3", T0 + 3, json!({"type": "track", "name": "invited_teammate", "props": {}})),
        event(
            "u3",
            T0 + 4,
            json!({"type": "track", "name": "connected_integration", "props": {"integration": "slack"}}),
        ),
        event("u3", T0 + 5, json!({"type": "checklist_completed", "checklist_id": "get_started"})),
        identify("u5", json!({"team_size": 3})),
        event("u5", T0 + 1, json!({"type": "track", "name": "created_project", "props": {}})),
        event("u5", T0 + 5, json!({"type": "checklist_completed", "checklist_id": "get_started"})),
        event("u4", T0, json!({"type": "checklist_completed", "checklist_id": "rollout"})),
    ])
    .await;
    h.post_as("pk_other", &[answered("o1", "score", json!(2)), answered("o1", "obstacle", json!("too_hard"))]).await;

    let hits = receiver.wait_for(1).await;
    verify(&hits[0], "from-the-environment-0123");
    let payload: Value = serde_json::from_str(&hits[0].body).unwrap();
    assert_eq!((&payload["rule"], &payload["event"]["user_id"]), (&json!("onboarded"), &json!("u3")));
    let cases = h.wait_for_cases(1).await;
    let titles: Vec<(&Value, &Value)> = cases.iter().map(|c| (&c["title"], &c["user_id"])).collect();
    assert_eq!(titles, [(&json!("Ask which feature"), &json!("u1"))]);
    let (status, other) = h.get_as("/v1/cases", "sk_other").await;
    assert_eq!(status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut other = other;
    while other["cases"].as_array().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        other = h.get_as("/v1/cases", "sk_other").await.1;
    }
    let other: Vec<&Value> = other["cases"].as_array().unwrap().iter().map(|c| &c["user_id"]).collect();
    assert_eq!(other, [&json!("o1")]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.hits().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_counts_the_account_items_of_everyone_in_the_account() {
    let receiver = Receiver::start(&[]).await;
    let rules = json!([
        { "id": "team_ready", "when": { "checklist_completed": { "checklist": "team_setup" } },
          "do": [ { "action": "webhook", "url": "RECEIVER", "secret_env": "TEST_HOOK_SECRET" } ] }
    ]);
    let h = Harness::new(with_url(rules, &receiver.url)).await;
    let group =
        |user: &str, account: &str| event(user, T0, json!({"type": "group", "account_id": account, "traits": {}}));
    let track = |user: &str, ts: i64, name: &str, props: Value| {
        event(user, ts, json!({"type": "track", "name": name, "props": props}))
    };
    let own_items = |user: &str| {
        vec![
            identify(user, json!({"team_size": 20})),
            track(user, T0 + 1, "created_project", json!({})),
            track(user, T0 + 2, "imported_data", json!({"rows": 10})),
            track(user, T0 + 3, "connected_integration", json!({"integration": "slack"})),
            track(user, T0 + 4, "invited_teammate", json!({})),
        ]
    };
    // "Invite three teammates" counts the whole account: in acme, m1 invited one and two
    // teammates the other two; in solo, s1 invited one alone. Both claim the checklist done.
    let mut events = own_items("m1");
    events.extend([group("m1", "acme"), group("m2", "acme"), group("m3", "acme")]);
    events.extend([
        track("m2", T0 + 5, "invited_teammate", json!({})),
        track("m3", T0 + 6, "invited_teammate", json!({})),
    ]);
    events.extend(own_items("s1"));
    events.push(group("s1", "solo"));
    events.push(event("m1", T0 + 10, json!({"type": "checklist_completed", "checklist_id": "team_setup"})));
    events.push(event("s1", T0 + 10, json!({"type": "checklist_completed", "checklist_id": "team_setup"})));
    h.post(&events).await;

    let hits = receiver.wait_for(1).await;
    let payload: Value = serde_json::from_str(&hits[0].body).unwrap();
    assert_eq!((&payload["rule"], &payload["event"]["user_id"]), (&json!("team_ready"), &json!("m1")));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.hits().len(), 1, "s1's account invited one teammate, not three");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_risk_opens_one_case_per_user_however_often_it_is_scanned() {
    let h = Harness::new(json!([
        { "id": "at_risk", "when": { "churn_risk": { "days": 7 } },
          "do": [ { "action": "case", "title": "At risk: no success in the first week" } ] }
    ]))
    .await;
    // Long ago: u1 never succeeded, u2 created a project on day 2.
    h.post(&[
        identify("u1", json!({"team_size": 3})),
        identify("u2", json!({"team_size": 3})),
        event("u2", T0 + 2 * DAY, json!({"type": "track", "name": "created_project", "props": {}})),
    ])
    .await;
    let cases = h.wait_for_cases(1).await;
    // Scans run every second: wait for two more, then count again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = h.cases("all").await;
    assert_eq!(again.len(), 1, "{again:#?}");
    assert_eq!((&cases[0]["user_id"], &cases[0]["rule"]), (&json!("u1"), &json!("at_risk")));
    assert_eq!(cases[0]["trigger_id"], "churn_risk:pk_test:u1");
    assert_eq!(cases[0]["detail"]["churn_risk"]["segment"], "small_team");
    assert_eq!(cases[0]["detail"]["churn_risk"]["first_seen"], T0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_are_listed_per_project_and_closed_once() {
    let receiver = Receiver::start(&[]).await;
    let h = Harness::new(with_url(json!([detractor_rule()]), &receiver.url)).await;
    h.post(&[answered("u1", "score", json!(4)), answered("u2", "score", json!(5))]).await;
    let cases = h.wait_for_cases(2).await;
    let id = cases.iter().find(|c| c["user_id"] == "u1").unwrap()["id"].as_str().unwrap().to_string();

    // Another project's key sees none of them and cannot close them.
    assert_eq!(h.get_as("/v1/cases", "sk_other").await.1["cases"], json!([]));
    let (status, body) = h.close_case(&id, "", "sk_other").await;
    assert_eq!((status, &body["error"]), (StatusCode::NOT_FOUND, &json!(format!("no case {id:?}"))));

    let (status, closed) = h.close_case(&id, r#"{"note": "Called them, fixed."}"#, SECRET).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!((&closed["status"], &closed["note"]), (&json!("solved"), &json!("Called them, fixed.")));
    let closed_at = closed["closed_at"].as_i64().unwrap();
    // Closing again changes nothing.
    let (_, again) = h.close_case(&id, r#"{"note": "other"}"#, SECRET).await;
    assert_eq!((&again["note"], again["closed_at"].as_i64()), (&json!("Called them, fixed."), Some(closed_at)));

    let open: Vec<Value> = h.cases("open").await.iter().map(|c| c["user_id"].clone()).collect();
    assert_eq!(open, [json!("u2")]);
    let closed: Vec<Value> = h.cases("closed").await.iter().map(|c| c["user_id"].clone()).collect();
    assert_eq!(closed, [json!("u1")]);
    let (status, body) = h.get("/v1/cases?status=maybe").await;
    assert_eq!((status, &body["field"]), (StatusCode::BAD_REQUEST, &json!("status")));
    let (status, _) = h.close_case("nope", "", SECRET).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = h.close_case(&id, "{\"note\": 3}", SECRET).await;
    assert_eq!((status, &body["field"]), (StatusCode::BAD_REQUEST, &json!("note")));
    let req = Request::get("/v1/cases").body(Body::empty()).unwrap();
    assert_eq!(h.send(req).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_and_pending_work_survives_a_restart() {
    let receiver = Receiver::start(&[Reply::Status(500)]).await;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(&dir.path().join("data")).await;
    let rules = with_url(json!([detractor_rule()]), &receiver.url);
    // No worker yet: the event is stored and queued, nothing else happens.
    let h = Harness::in_dir(dir, db, rules.clone(), false).await;
    h.post(&[answered("u1", "score", json!(3))]).await;
    assert_eq!(h.queued().await, 1);
    assert!(receiver.hits().is_empty());

    let h = h.restart(rules.clone()).await;
    receiver.wait_for(1).await; // the first attempt fails (500)
    let h = h.restart(rules).await;
    let log = h.settled_deliveries(1).await;
    assert_eq!((&log[0]["status"], &log[0]["attempts"]), (&json!("delivered"), &json!(2)));
    assert_eq!(receiver.hits().len(), 2);
    assert_eq!(h.cases("all").await.len(), 1);
    assert_eq!(h.queued().await, 0);
}

/// The store's own guarantee, without the worker: a rule's effects are
/// stored once per trigger, however often the trigger is processed.
#[tokio::test]
async fn a_rule_runs_once_per_trigger_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(&dir.path().join("data")).await;
    let store = db.open(&dir.path().join("data")).await;
    let case = |rule: &str| touchpoint_collector::store::Case {
        id: format!("case-{rule}"),
        project_key: KEY.into(),
        rule_id: rule.into(),
        trigger_id: "e1".into(),
        title: "t".into(),
        user_id: None,
        anonymous_id: None,
        detail: "{}".into(),
        status: "open".into(),
        created_at: 1,
        closed_at: None,
        note: None,
        priority: "normal".into(),
        assignee: None,
        first_response_at: None,
        csat_score: None,
    };
    let runs = |rules: &[&str]| -> Vec<RunEffects> {
        rules
            .iter()
            .map(|r| RunEffects { rule_id: r.to_string(), cases: vec![case(r)], ..RunEffects::default() })
            .collect()
    };
    let ran = store.apply_runs(KEY.into(), "e1".into(), None, runs(&["a"]), 1).await.unwrap();
    assert_eq!(ran, ["a"]);
    let ran = store.apply_runs(KEY.into(), "e1".into(), None, runs(&["a", "b"]), 2).await.unwrap();
    assert_eq!(ran, ["b"]);
    let ran = store.apply_runs(KEY.into(), "e1".into(), None, runs(&["a", "b"]), 3).await.unwrap();
    assert!(ran.is_empty());
    assert_eq!(db.strings("SELECT id FROM cases ORDER BY id").await, ["case-a", "case-b"]);
    assert_eq!(store.rule_runs(KEY.into(), "a".into()).await.unwrap().into_iter().collect::<Vec<_>>(), ["e1"]);
    store.close().await;
}

#[tokio::test]
async fn without_automations_the_delivery_log_is_404_and_nothing_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(&dir.path().join("data")).await;
    let store = db.open(&dir.path().join("data")).await;
    let (surveys, _, projects) = context_parts();
    let config = Config { data_dir: dir.path().join("data"), ..Config::default() };
    let app = router(AppState::new(config, projects, store, surveys));
    let get =
        |uri: &str| Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {SECRET}")).body(Body::empty());
    let res = app.clone().oneshot(get("/v1/automations/deliveries").unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Cases exist without automations too (the help widget opens them): listed, empty.
    let res = app.clone().oneshot(get("/v1/cases").unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = json!({"key": KEY, "events": [answered("u1", "score", json!(0))]}).to_string();
    let req = Request::post("/v1/events").header(header::CONTENT_TYPE, "application/json").body(Body::from(body));
    assert_eq!(app.oneshot(req.unwrap()).await.unwrap().status(), StatusCode::OK);
    assert!(db.rows("SELECT event_id FROM automation_queue").await.is_empty());
}

// ---------------------------------------------------------------- config

#[test]
fn the_repository_automations_file_and_templates_load() {
    let surveys = SurveyCatalog::load_dir(&repo("surveys")).unwrap();
    let checklists = ChecklistCatalog::load(&repo("checklists.json")).unwrap();
    let projects = Projects::demo();
    let env = |_: &str| None;
    let cx = Context { surveys: &surveys, checklists: Some(&checklists), projects: &projects, env: &env };
    let config = AutomationsConfig::load(&repo("automations.json"), &cx).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = config.rules.iter().map(|r| r.id.as_str()).collect();
    for id in ["detractor_follow_up", "trial_extension", "review_request", "onboarding_done", "churn_risk"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(config.templates.contains_key("trial_extension"));
}

/// Every problem of a bad file at once, each naming the file and its field.
#[test]
fn a_bad_automations_file_is_refused_naming_the_file_and_every_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("templates/bad.eml"), "Subject: Hi {{nobody}}\n\nText\n").unwrap();
    let file = dir.path().join("automations.json");
    let text = json!({
        "email": { "templates_dir": "templates" },
        "webhooks": { "max_attempts": 0 },
        "projects": { "pk_nope": { "webhook_secret": "whsec_0123456789abcdef" } },
        "rules": [
            { "id": "a", "when": { "score": { "survey": "nps", "min": 0, "max": 11 } },
              "do": [ { "action": "webhook", "url": "ftp://x" } ] },
            { "id": "a", "when": { "answer": { "survey": "nps", "question": "obstacle", "value": "bored" } },
              "do": [ { "action": "email", "template": "missing" }, { "action": "email", "template": "bad" } ] },
            { "id": "c", "when": { "ending_action": { "survey": "nps", "action": "offer", "code": "free_beer" } },
              "do": [ { "action": "sms" } ] },
            { "id": "d", "whne": {}, "do": [] },
            { "id": "e", "when": { "score": { "survey": "nope", "max": 3 }, "churn_risk": { "days": 7 } },
              "do": [ { "action": "case" } ] }
        ]
    });
    std::fs::write(&file, text.to_string()).unwrap();
    let (surveys, checklists, projects) = context_parts();
    let env = |_: &str| None;
    let cx = Context { surveys: &surveys, checklists: Some(&checklists), projects: &projects, env: &env };
    let err = AutomationsConfig::load(&file, &cx).unwrap_err().to_string();
    let f = file.display();
    for expected in [
        format!("{f}: webhooks.max_attempts: must be a whole number from 1 to 100, not 0"),
        format!("{f}: projects.pk_nope: \"pk_nope\" is not the public key of a configured project"),
        format!("{f}: rules[0].when.score.max: must be a whole number from 0 to 10, not 11"),
        format!("{f}: rules[0].do[0].url: \"ftp://x\" is not an http(s) URL"),
        format!("{f}: rules[0].do[0].secret: a webhook is signed"),
        format!("{f}: rules[1].id: \"a\" is already the id of another rule"),
        format!("{f}: rules[1].when.answer.value: \"bored\" is not a choice id of \"obstacle\""),
        format!("{f}: rules[1].do[0].template: cannot read the template"),
        format!("{f}: rules[1].do[1].template: template"),
        "line 1: unknown placeholder {{nobody}}".to_string(),
        format!("{f}: rules[2].when.ending_action: no ending of survey \"nps\" has the action"),
        format!("{f}: rules[2].do[0].action: unknown action \"sms\""),
        format!("{f}: rules[3].whne: unknown field"),
        format!("{f}: rules[3].when: is required"),
        format!("{f}: rules[3].do: must be a non-empty list of actions"),
        format!("{f}: rules[4].when: must have exactly one of"),
        format!("{f}: rules[4].do[0].title: is required"),
    ] {
        assert!(err.contains(&expected), "{expected:?} missing from:\n{err}");
    }
    assert!(err.starts_with("cannot load automations ("), "{err}");
}

/// The code block in the collector README's webhook section that starts with `fence`.
fn readme_snippet(fence: &str) -> String {
    let readme = std::fs::read_to_string(repo("crates/collector/README.md")).unwrap();
    let section = &readme[readme.find("**Verifying a webhook.**").expect("the webhook section")..];
    let start = section.find(fence).expect("the snippet") + fence.len();
    section[start..][..section[start..].find("```").unwrap()].to_string()
}

/// Runs the README's Node and Python receivers on a real delivery: each
/// accepts it now, and refuses it replayed six minutes later (their clock
/// moved) and with another body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_receivers_accept_a_fresh_webhook_and_refuse_a_replay() {
    let receiver = Receiver::start(&[]).await;
    let h = Harness::new(with_url(json!([detractor_rule()]), &receiver.url)).await;
    h.post(&[answered("u1", "score", json!(2))]).await;
    let hit = receiver.wait_for(1).await.remove(0);
    let header = hit.headers["x-touchpoint-signature"].to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("body"), &hit.body).unwrap();

    let node = format!(
        "{}\nconst body = require('fs').readFileSync(process.argv[2], 'utf8');\n\
         const [header, secret, shift] = [process.argv[3], process.argv[4], Number(process.argv[5])];\n\
         const now = Date.now; Date.now = () => now() + shift * 1000;\n\
         console.log(verify(header, body, secret) && !verify(header, body + ' ', secret));\n",
        readme_snippet("```js\n").replace(
            "import { createHmac, timingSafeEqual } from \"node:crypto\";",
            "const { createHmac, timingSafeEqual } = require('node:crypto');"
        )
    );
    let python = format!(
        "{}\nimport sys\nbody = open(sys.argv[1], 'rb').read()\nheader, secret, shift = sys.argv[2], sys.argv[3], int(sys.argv[4])\n\
         real = time.time\ntime.time = lambda: real() + shift\n\
         print('true' if verify(header, body, secret) and not verify(header, body + b' ', secret) else 'false')\n",
        readme_snippet("```python\n")
    );
    std::fs::write(dir.path().join("verify.cjs"), node).unwrap();
    std::fs::write(dir.path().join("verify.py"), python).unwrap();
    let run = |program: &str, script: &str, shift: i64| {
        let out = std::process::Command::new(program)
            .arg(dir.path().join(script))
            .arg(dir.path().join("body"))
            .arg(&header)
            .arg(WEBHOOK_SECRET)
            .arg(shift.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    for (program, script) in [("node", "verify.cjs"), ("python3", "verify.py")] {
        assert_eq!(run(program, script, 0), "true", "{program} must accept the delivery as sent");
        assert_eq!(run(program, script, 360), "false", "{program} must refuse it replayed 6 minutes later");
        assert_eq!(run(program, script, -360), "false", "{program} must refuse a t 6 minutes ahead");
    }
}
