//! What an operator sees, on the real binary: `/metrics` after a scripted
//! load agrees with the rows stored, request ids are echoed and logged,
//! logs are JSON lines when asked, `/healthz` runs a query, and `/readyz`
//! turns 503 when the collector is told to stop (while it still serves).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::binary::{listening_addr, serving};
use common::TestDb;

const KEY: &str = "pk_obs";
const SECRET: &str = "sk_obs_3e7a1c9f5b2d8e4a6c0f";

struct Collector {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<Vec<String>>>,
    db: TestDb,
    _dir: tempfile::TempDir,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str], env: &[(&str, &str)]) -> Collector {
    let dir = tempfile::tempdir().unwrap();
    // On a runtime of its own: callers may be async tests.
    let data = dir.path().join("data");
    let db = std::thread::spawn(move || tokio::runtime::Runtime::new().unwrap().block_on(TestDb::new(&data)))
        .join()
        .unwrap();
    let spec = json!([{"public_key": KEY, "secret_key": SECRET, "allowed_origins": ["https://app.example.com"]}]);
    let mut child = serving(dir.path(), &spec, Some(&db))
        .args(args)
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let lines = stderr.clone();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
    let addr = listening_addr(&mut child);
    Collector { child, addr, stderr, db, _dir: dir }
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer { status, head: head.to_ascii_lowercase(), body: body.to_string() }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn event(id: &str, kind: Value) -> Value {
    let mut e = json!({"id": id, "ts": now_ms(), "anonymous_id": "a1", "url": "https://app.example.com/"});
    e.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
    e
}

fn track(id: &str) -> Value {
    event(id, json!({"type": "track", "name": "clicked", "props": {}}))
}

/// Posts a batch; the per-event statuses, or the HTTP status if refused as a whole.
fn post(addr: &str, events: Vec<Value>, origin: &str) -> Result<Vec<String>, u16> {
    let body = json!({"key": KEY, "events": events}).to_string();
    let a = http(addr, "POST", "/v1/events", &[("Origin", origin)], &body);
    if a.status != 200 {
        return Err(a.status);
    }
    let v: Value = serde_json::from_str(&a.body).unwrap();
    Ok(v["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap().to_string()).collect())
}

/// The value of the sample `name{labels}` (exactly as written), 0 if absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.parse().unwrap())
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    db.rows(sql).await[0][0].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_a_scripted_load_match_the_stored_rows() {
    let c = start(&[], &[]);
    let addr = c.addr.clone();
    let app = "https://app.example.com";
    let load = tokio::task::spawn_blocking(move || {
        let mut statuses: Vec<String> = Vec::new();
        // 40 new events in 4 batches, 10 of them sent again.
        for b in 0..4 {
            statuses.extend(post(&addr, (0..10).map(|i| track(&format!("t-{b}-{i}"))).collect(), app).unwrap());
        }
        statuses.extend(post(&addr, (0..10).map(|i| track(&format!("t-0-{i}"))).collect(), app).unwrap());
        // 3 invalid ones (no ts), 1 too large, 1 survey ending never reached (stored, flagged).
        let mut invalid: Vec<Value> = (0..3)
            .map(|i| {
                let mut e = track(&format!("bad-{i}"));
                e.as_object_mut().unwrap().remove("ts");
                e
            })
            .collect();
        invalid.push(event("huge", json!({"type": "track", "name": "x", "props": {"blob": "x".repeat(40_000)}})));
        invalid.push(event(
            "forged-ending",
            json!({"type": "survey_completed", "survey_id": "nps", "response_id": "r-forged",
                   "ending_id": "trial_offer", "actions": [{"action": "offer", "code": "trial_extension_14d"}]}),
        ));
        statuses.extend(post(&addr, invalid, app).unwrap());
        // Refused as a whole: another site's page, and a batch over the limit.
        assert_eq!(post(&addr, vec![track("evil")], "https://evil.example"), Err(403));
        assert_eq!(post(&addr, (0..101).map(|i| track(&format!("big-{i}"))).collect(), app), Err(400));
        statuses
    });
    let statuses = load.await.unwrap();
    let tally = |s: &str| statuses.iter().filter(|x| *x == s).count() as f64;
    assert_eq!((tally("accepted"), tally("duplicate"), tally("rejected")), (40.0, 10.0, 5.0));

    let metrics = http(&c.addr, "GET", "/metrics", &[], "");
    assert_eq!(metrics.status, 200);
    assert!(metrics.head.contains("content-type: text/plain; version=0.0.4"), "{}", metrics.head);
    let m = &metrics.body;
    let stored_ok = count(&c.db, "SELECT COUNT(*) FROM events WHERE rejected IS NULL").await;
    let stored_flagged = count(&c.db, "SELECT COUNT(*) FROM events WHERE rejected IS NOT NULL").await;
    assert_eq!((stored_ok, stored_flagged), (40, 1));
    assert_eq!(sample(m, "touchpoint_ingest_events_total{result=\"accepted\"}"), stored_ok as f64, "{m}");
    assert_eq!(
        sample(m, "touchpoint_ingest_events_total{result=\"rejected\",reason=\"survey\"}"),
        stored_flagged as f64,
        "{m}"
    );
    assert_eq!(sample(m, "touchpoint_ingest_events_total{result=\"duplicate\"}"), 10.0, "{m}");
    assert_eq!(sample(m, "touchpoint_ingest_events_total{result=\"rejected\",reason=\"invalid\"}"), 3.0, "{m}");
    assert_eq!(sample(m, "touchpoint_ingest_events_total{result=\"rejected\",reason=\"too_large\"}"), 1.0, "{m}");
    assert_eq!(sample(m, "touchpoint_ingest_requests_refused_total{status=\"403\"}"), 1.0, "{m}");
    assert_eq!(sample(m, "touchpoint_ingest_requests_refused_total{status=\"400\"}"), 1.0, "{m}");
    if c.db.is_postgres() {
        assert!(sample(m, "touchpoint_db_pool_waits_total") > 0.0, "{m}");
    }
}

#[test]
fn request_ids_are_echoed_and_logs_are_json_lines_when_asked() {
    let c = start(&["--log-format", "json"], &[("TOUCHPOINT_LOG_LEVEL", "debug")]);
    let given = http(&c.addr, "GET", "/healthz", &[("X-Request-Id", "lb-7f3a")], "");
    assert_eq!((given.status, given.body.as_str()), (200, "ok"));
    assert!(given.head.contains("\r\nx-request-id: lb-7f3a"), "{}", given.head);
    let made = http(&c.addr, "GET", "/v1/nope", &[], "");
    let id = made.head.split("\r\nx-request-id: ").nth(1).unwrap().split("\r\n").next().unwrap().to_string();
    assert!(!id.is_empty() && id != "lb-7f3a");
    // A header that is not a plain id is replaced, not logged.
    let odd = http(&c.addr, "GET", "/healthz", &[("X-Request-Id", "<script>")], "");
    assert!(!odd.head.contains("<script>"), "{}", odd.head);

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lines = c.stderr.lock().unwrap().clone();
        let parsed: Vec<Value> =
            lines.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
        let logged = |rid: &str, status: u64| {
            parsed.iter().any(|v| v["span"]["request_id"] == rid && v["status"] == status && v["message"] == "answered")
        };
        if logged("lb-7f3a", 200) && logged(&id, 404) {
            assert!(parsed
                .iter()
                .any(|v| v["level"] == "INFO" && v["message"].as_str().unwrap().contains("project(s)")));
            break;
        }
        assert!(Instant::now() < deadline, "request lines missing from:\n{}", lines.join("\n"));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_asks_the_database() {
    let c = start(&[], &[]);
    let addr = c.addr.clone();
    let get = move |path: &'static str| {
        let addr = addr.clone();
        async move { tokio::task::spawn_blocking(move || http(&addr, "GET", path, &[], "")).await.unwrap() }
    };
    assert_eq!(get("/healthz").await.body, "ok");
    assert_eq!(get("/readyz").await.body, "ready");
    // A database that no longer answers the query (its tables gone).
    c.db.execute_batch("DROP TABLE outbox").await;
    let sick = get("/healthz").await;
    assert_eq!((sick.status, sick.body.as_str()), (503, "the database does not answer"));
    assert_eq!(get("/readyz").await.status, 503);
}

#[test]
fn readyz_says_503_while_draining_and_requests_are_still_served() {
    let mut c = start(&["--drain-ms", "1500"], &[]);
    assert_eq!(http(&c.addr, "GET", "/readyz", &[], "").body, "ready");
    let kill = Command::new("kill").args(["-TERM", &c.child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let signalled = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    let draining = http(&c.addr, "GET", "/readyz", &[], "");
    assert_eq!((draining.status, draining.body.as_str()), (503, "shutting down"));
    assert_eq!(http(&c.addr, "GET", "/healthz", &[], "").status, 200);
    let status = loop {
        if let Some(status) = c.child.try_wait().unwrap() {
            break status;
        }
        assert!(signalled.elapsed() < Duration::from_secs(10), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert!(signalled.elapsed() >= Duration::from_millis(1500), "stopped before the drain time");
    assert!(TcpStream::connect(&c.addr).is_err(), "still listening after shutdown");
}
