//! The collector binary as tests run it: a process on 127.0.0.1, port 0,
//! whose first line of output says where it listens.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use super::app::repo_file;
use super::TestDb;

/// The first line the collector prints, before its address.
pub const LISTENING: &str = "touchpoint-collector listening on http://";

/// The binary, without the `TOUCHPOINT_*` and `DATABASE_URL` of the
/// environment the tests run in (they would change what it is started with).
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_touchpoint-collector"));
    for (var, _) in std::env::vars().filter(|(k, _)| k.starts_with("TOUCHPOINT_") || k == "DATABASE_URL") {
        cmd.env_remove(var);
    }
    cmd
}

/// [`command`] set to serve the projects `spec` (written to `dir/projects.json`)
/// on 127.0.0.1, port 0: data in `dir/data` (or `db`'s Postgres schema), the
/// repository's surveys, no static pages, `dir` as its working directory, stdout
/// piped for [`listening_addr`]. The caller adds flags, stderr and spawns it.
pub fn serving(dir: &Path, spec: &Value, db: Option<&TestDb>) -> Command {
    let projects = dir.join("projects.json");
    std::fs::write(&projects, spec.to_string()).unwrap();
    let mut cmd = command();
    if let Some(url) = db.and_then(TestDb::database_url) {
        cmd.arg("--database-url").arg(url);
    }
    cmd.args(["--addr", "127.0.0.1:0"])
        .arg("--projects")
        .arg(&projects)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--surveys-dir")
        .arg(repo_file("surveys"))
        .arg("--www-dir")
        .arg(dir.join("no-www"))
        .current_dir(dir)
        .stdout(Stdio::piped());
    cmd
}

/// The address `child` printed on its first line. Read on a thread, so a
/// collector that never prints fails the test within 20 s instead of hanging it.
pub fn listening_addr(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("the collector's stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).expect("no listening line within 20 s");
    line.trim_end().strip_prefix(LISTENING).unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string()
}
