//! `touchpoint-collector conformance`: it passes against our collector (with
//! a rate limit low enough for the probe to see its `429`) and against the
//! README's minimal Node receiver, and it fails naming the point against a
//! receiver that answers 200 without per-event results.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use touchpoint_collector::conformance::{self, Options, Verdict, PER_EVENT_RESULTS, RATE_LIMIT};

mod common;
use common::TestDb;

const ORIGIN: &str = "https://app.example.com";

/// Kills the child when the test ends, passing or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `cmd` and waits for its first line, `…listening on http://ADDR`.
fn start(mut cmd: Command) -> (Running, String) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).expect("no listening line within 20 s");
    let addr = line.trim_end().split("listening on http://").nth(1).unwrap_or_else(|| panic!("unexpected {line:?}"));
    (running, format!("http://{addr}"))
}

fn options(url: &str, key: &str) -> Options {
    Options { url: url.into(), key: key.into(), origin: ORIGIN.into(), rate_batches: 6 }
}

fn node(script: &Path, arg: &str) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(script).arg(arg);
    cmd
}

#[test]
fn our_collector_conforms_including_its_429() {
    let dir = tempfile::tempdir().unwrap();
    let db = tokio::runtime::Runtime::new().unwrap().block_on(TestDb::new(&dir.path().join("data")));
    // A burst the probe can exhaust in a few full batches, refilled slowly.
    let projects = json!([{"public_key": "pk_c", "secret_key": "sk_conformance_5d8a1f3c7e9b2a4d", "allowed_origins": [ORIGIN],
                           "rate_limit": {"events_per_second": 1, "burst": 300}}]);
    std::fs::write(dir.path().join("projects.json"), projects.to_string()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_touchpoint-collector"));
    for (var, _) in std::env::vars().filter(|(k, _)| k.starts_with("TOUCHPOINT_") || k == "DATABASE_URL") {
        cmd.env_remove(var);
    }
    if let Some(url) = db.database_url() {
        cmd.arg("--database-url").arg(url);
    }
    cmd.args(["--addr", "127.0.0.1:0", "--projects"])
        .arg(dir.path().join("projects.json"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--surveys-dir")
        .arg(common::app::repo_file("surveys"))
        .arg("--www-dir")
        .arg(dir.path().join("no-www"))
        .current_dir(dir.path());
    let (_collector, url) = start(cmd);

    let report = conformance::run(options(&url, "pk_c"));
    assert!(report.passed(), "{report}");
    let rate = report.checks.iter().find(|c| c.point == RATE_LIMIT).unwrap();
    assert_eq!(rate.verdict, Verdict::Pass, "{report}");
    assert!(report.checks.iter().all(|c| c.verdict == Verdict::Pass), "{report}");
}

#[test]
fn the_readme_receiver_conforms() {
    let script = common::app::repo_file("crates/collector/examples/receiver.mjs");
    let (_receiver, url) = start(node(&script, "0"));
    let report = conformance::run(options(&url, "pk_any"));
    assert!(report.passed(), "{report}");
    let passed: Vec<_> = report.checks.iter().filter(|c| c.verdict == Verdict::Pass).map(|c| c.point).collect();
    assert_eq!(passed.len(), 4, "{report}");
}

#[test]
fn a_receiver_without_per_event_results_fails_naming_the_point() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("ok.mjs");
    std::fs::write(
        &script,
        r#"import { createServer } from 'node:http';
createServer((req, res) => { req.resume(); req.on('end', () => {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
  res.end('{"ok":true}'); }); })
.listen(0, '127.0.0.1', function () { console.log(`listening on http://127.0.0.1:${this.address().port}`); });
"#,
    )
    .unwrap();
    let (_receiver, url) = start(node(&script, ""));
    let report = conformance::run(options(&url, "pk_any"));
    assert!(!report.passed(), "{report}");
    let per_event = report.checks.iter().find(|c| c.point == PER_EVENT_RESULTS).unwrap();
    assert_eq!(per_event.verdict, Verdict::Fail, "{report}");
    assert!(per_event.detail.contains("\"results\""), "{}", per_event.detail);
    let text = report.to_string();
    assert!(text.contains("FAIL         per-event results"), "{text}");
}
