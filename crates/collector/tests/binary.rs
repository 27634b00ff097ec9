//! The real binary on a real socket: start on port 0, read the listening
//! line, talk plain HTTP/1.1, stop with SIGTERM, start again on the same data.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::TestDb;

const KEY: &str = "pk_smoke";
const SECRET: &str = "sk_smoke_8e2b6f0a4c9d1e7b3a5f";

fn surveys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../surveys")
}

use common::binary::{command as collector, listening_addr, serving};

/// SQLite in `dir/data`, or a Postgres schema of this test's own when the suite runs on Postgres.
fn test_db(dir: &Path) -> TestDb {
    tokio::runtime::Runtime::new().unwrap().block_on(TestDb::new(&dir.join("data")))
}

/// Starts the collector over `dir/data` with one project, `pk_smoke` / `sk_smoke`,
/// in `dir` as its working directory (where it looks for `./checklists.json`), storing in `db`.
fn start(dir: &Path, db: &TestDb) -> (Child, String) {
    let spec = json!([{"public_key": KEY, "secret_key": SECRET, "allowed_origins": ["http://127.0.0.1:*"]}]);
    let mut child = serving(dir, &spec, Some(db)).stderr(Stdio::inherit()).spawn().unwrap();
    let addr = listening_addr(&mut child);
    (child, addr)
}

fn request_head(method: &str, path: &str, addr: &str, content_length: usize) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {SECRET}\r\nContent-Length: {content_length}\r\nConnection: close\r\n\r\n"
    )
}

/// Reads a whole `Connection: close` response; returns (status, body).
fn read_response(mut stream: TcpStream) -> (u16, Value) {
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no header end in {response:?}"));
    let status =
        head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("bad status line in {head:?}"));
    // Responses here are small and sent with Content-Length, never chunked.
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}")))
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// One request on its own connection, with the project's secret key; returns (status, body).
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut stream = connect(addr);
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(stream, "{}{body}", request_head(method, path, addr, body.len())).unwrap();
    read_response(stream)
}

fn sigterm(child: &Child) {
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
}

fn wait_for_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("collector did not exit within {within:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn event(id: &str) -> Value {
    json!({"id": id, "ts": 1, "anonymous_id": "a", "url": "http://x/", "type": "identify",
           "user_id": "u1", "traits": {"plan": "pro"}})
}

#[test]
fn binary_stores_a_batch_and_shuts_down_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_db(dir.path());
    let (mut child, addr) = start(dir.path(), &db);
    assert!(!addr.ends_with(":0"), "the listening line must carry the bound port: {addr}");

    let (status, body) = http(&addr, "POST", "/v1/events", Some(&json!({"key": KEY, "events": [event("smoke-1")]})));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"results": [{"id": "smoke-1", "status": "accepted"}]}));

    let (status, body) = http(&addr, "GET", "/v1/events?anonymous_id=a", None);
    assert_eq!(status, 200);
    assert_eq!(body["events"], json!([event("smoke-1")]));

    // No ./checklists.json and no --checklists: running without checklists.
    let (status, body) = http(&addr, "GET", &format!("/v1/checklists?key={KEY}"), None);
    assert_eq!(status, 404, "{body}");

    sigterm(&child);
    let status = wait_for_exit(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status}");
    // The events went to the chosen store, and only there.
    assert_eq!(dir.path().join("data/touchpoint.db").is_file(), !db.is_postgres());
}

/// A batch acknowledged before SIGTERM, and one whose request was still
/// arriving when SIGTERM came, are both answered and both there after a restart.
#[test]
fn acknowledged_batches_survive_sigterm_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = test_db(dir.path());
    let (mut child, addr) = start(dir.path(), &db);

    let before: Vec<Value> = (0..100).map(|i| event(&format!("before-{i:03}"))).collect();
    let (status, body) = http(&addr, "POST", "/v1/events", Some(&json!({"key": KEY, "events": before})));
    assert_eq!(status, 200, "{body}");

    // In flight: headers and half the body are sent, then SIGTERM, then the rest.
    let during: Vec<Value> = (0..100).map(|i| event(&format!("during-{i:03}"))).collect();
    let body = json!({"key": KEY, "events": during}).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = connect(&addr);
    write!(stream, "{}{first}", request_head("POST", "/v1/events", &addr, body.len())).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&child);
    // No new connections once shutting down (polled: the signal is handled asynchronously).
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting connections 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(child.try_wait().unwrap().is_none(), "the collector exited with a request in flight");
    stream.write_all(rest.as_bytes()).unwrap();
    let (status, body) = read_response(stream);
    assert_eq!(status, 200, "{body}");
    assert!(body["results"].as_array().unwrap().iter().all(|r| r["status"] == "accepted"), "{body}");
    assert_eq!(wait_for_exit(&mut child, Duration::from_secs(10)).code(), Some(0));

    let (mut child, addr) = start(dir.path(), &db);
    let (status, body) = http(&addr, "GET", "/v1/events?limit=1000", None);
    assert_eq!(status, 200, "{body}");
    let mut ids: Vec<&str> = body["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort();
    let expected: Vec<String> =
        ["before", "during"].iter().flat_map(|p| (0..100).map(move |i| format!("{p}-{i:03}"))).collect();
    assert_eq!(ids, expected);
    sigterm(&child);
    assert_eq!(wait_for_exit(&mut child, Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn a_bad_survey_directory_stops_startup_with_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.json"), r#"{"id": "bad"}"#).unwrap();
    let out = collector()
        .args(["--addr", "127.0.0.1:0", "--surveys-dir"])
        .arg(dir.path())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "must not claim to listen: {:?}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.json") && stderr.contains("questions"), "{stderr}");
}

#[test]
fn a_bad_projects_file_stops_startup_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let projects = dir.path().join("projects.json");
    std::fs::write(&projects, r#"[{"public_key": "pk_a", "secret_key": "pk_b", "allowed_origins": ["*"]}]"#).unwrap();
    let out = collector()
        .args(["--addr", "127.0.0.1:0", "--surveys-dir"])
        .arg(surveys_dir())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("TOUCHPOINT_PROJECTS", &projects)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "must not claim to listen: {:?}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{}: [0].secret_key: starts with pk_", projects.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!dir.path().join("data").exists(), "must fail before touching the data directory");
}

#[test]
fn the_default_checklists_file_is_read_from_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../checklists.json");
    std::fs::copy(&demo, dir.path().join("checklists.json")).unwrap();
    let db = test_db(dir.path());
    let (mut child, addr) = start(dir.path(), &db);
    let (status, body) = http(&addr, "GET", &format!("/v1/checklists?key={KEY}"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, serde_json::from_str::<Value>(&std::fs::read_to_string(demo).unwrap()).unwrap());
    sigterm(&child);
    assert_eq!(wait_for_exit(&mut child, Duration::from_secs(10)).code(), Some(0));
}

#[test]
fn a_bad_or_missing_checklists_file_stops_startup_naming_file_and_problems() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"segments": [{"id": "all", "checklist": "nope"}],
            "checklists": [{"id": "c", "title": "C", "items": [{"id": "a", "title": "A", "complete_when": "never"}]}]}"#,
    )
    .unwrap();
    let missing = dir.path().join("missing.json");
    let run = |flag: bool, file: &Path| {
        let mut cmd = collector();
        cmd.args(["--addr", "127.0.0.1:0", "--surveys-dir"])
            .arg(surveys_dir())
            .arg("--data-dir")
            .arg(dir.path().join("data"));
        if flag {
            cmd.arg("--checklists").arg(file);
        } else {
            cmd.env("TOUCHPOINT_CHECKLISTS", file);
        }
        let out = cmd.current_dir(dir.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty(), "must not claim to listen: {:?}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let stderr = run(true, &bad);
    for expected in [
        format!("{}: segments[0].checklist: \"nope\" is not the id of a checklist", bad.display()),
        format!("{}: checklists[0].items[0].complete_when:", bad.display()),
    ] {
        assert!(stderr.contains(&expected), "{expected:?} missing from:\n{stderr}");
    }
    let stderr = run(false, &missing);
    assert!(stderr.contains(&format!("{}: cannot read", missing.display())), "{stderr}");
    assert!(!dir.path().join("data").exists(), "must fail before touching the data directory");
}

#[test]
fn help_prints_the_flags_and_exits_zero() {
    let out = collector().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--addr", "--data-dir", "--surveys-dir", "--www-dir", "--pkg-dir", "--projects", "--checklists"] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}

#[test]
fn a_bad_automations_file_stops_startup_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("automations.json");
    let rules = json!({"rules": [{"id": "x", "when": {"score": {"survey": "nps", "min": 0, "max": 12}},
                                  "do": [{"action": "case", "title": "t"}]}]});
    std::fs::write(&file, rules.to_string()).unwrap();
    let out = collector()
        .args(["--addr", "127.0.0.1:0", "--surveys-dir"])
        .arg(surveys_dir())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--automations")
        .arg(&file)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "must not claim to listen: {:?}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{}: rules[0].when.score.max: must be a whole number from 0 to 10, not 12", file.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!dir.path().join("data").exists(), "must fail before touching the data directory");
}

#[test]
fn an_unreachable_database_url_stops_startup_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    // Port 9 (discard) on 127.0.0.1: nothing listens there.
    let url = "postgres://touchpoint:hunter2-secret@127.0.0.1:9/touchpoint";
    let out = collector()
        .args(["--addr", "127.0.0.1:0", "--surveys-dir"])
        .arg(surveys_dir())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("DATABASE_URL", url)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect to Postgres"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the password must not be printed: {stderr}");
    assert!(!dir.path().join("data/touchpoint.db").exists(), "must not fall back to SQLite");
}
