//! The real binary on a real socket: start on port 0, read the listening
//! line, store a batch over plain HTTP/1.1, stop with SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const PREFIX: &str = "touchpoint-collector listening on http://";

fn start(data_dir: &Path) -> (Child, String) {
    let surveys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../surveys");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_touchpoint-collector"));
    for (var, _) in std::env::vars().filter(|(k, _)| k.starts_with("TOUCHPOINT_")) {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .args(["--addr", "127.0.0.1:0", "--project-key", "pk_smoke"])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--surveys-dir")
        .arg(surveys)
        .arg("--www-dir")
        .arg(data_dir.join("no-www"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();

    // Read on a thread so a collector that never prints fails the test instead of hanging it.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).expect("no listening line within 20 s");
    let addr = line.trim_end().strip_prefix(PREFIX).unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (child, addr.to_string())
}

/// One request on its own connection; returns (status, body).
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no header end in {response:?}"));
    let status =
        head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("bad status line in {head:?}"));
    // Responses here are small and sent with Content-Length, never chunked.
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}")))
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

#[test]
fn binary_stores_a_batch_and_shuts_down_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(dir.path());
    assert!(!addr.ends_with(":0"), "the listening line must carry the bound port: {addr}");

    let event = json!({"id": "smoke-1", "ts": 1, "anonymous_id": "a", "url": "http://x/", "type": "identify",
                       "user_id": "u1", "traits": {"plan": "pro"}});
    let (status, body) = http(&addr, "POST", "/v1/events", Some(&json!({"key": "pk_smoke", "events": [event]})));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"results": [{"id": "smoke-1", "status": "accepted"}]}));

    let (status, body) = http(&addr, "GET", "/v1/events?anonymous_id=a", None);
    assert_eq!(status, 200);
    assert_eq!(body["events"], json!([event]));

    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = wait_for_exit(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(dir.path().join("touchpoint.db").is_file());
}

#[test]
fn a_bad_survey_directory_stops_startup_with_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.json"), r#"{"id": "bad"}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_touchpoint-collector"))
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
fn help_prints_the_flags_and_exits_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_touchpoint-collector")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--addr", "--data-dir", "--surveys-dir", "--www-dir", "--pkg-dir", "--project-key"] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}
