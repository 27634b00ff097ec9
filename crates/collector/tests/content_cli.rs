//! The content commands of the real binary: `lint <dir>` over a copy of the
//! repository's content with mistakes planted in it, and `push <dir>` to a
//! running collector on a real socket, refusing to overwrite an edit made
//! through the admin API.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

mod common;
use common::TestDb;

const KEY: &str = "pk_push";
const SECRET: &str = "sk_push_5c1e9a7b3d2f8e6a4b0c";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

use common::binary::{command as collector, listening_addr, serving};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

/// The repository's content files, as a team would keep them.
fn content_copy(dir: &Path) {
    for folder in ["surveys", "help", "templates"] {
        copy_dir(&repo(folder), &dir.join(folder));
    }
    for file in ["checklists.json", "targeting.json", "automations.json", "accounts.json"] {
        std::fs::copy(repo(file), dir.join(file)).unwrap();
    }
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

fn lint(dir: &Path) -> Output {
    collector().arg("lint").arg(dir).env("ACME_CRM_SECRET", "a-secret-for-the-webhook").output().unwrap()
}

#[test]
fn lint_passes_the_repository_content_and_names_every_planted_mistake() {
    let dir = tempfile::tempdir().unwrap();
    content_copy(dir.path());
    let clean = lint(dir.path());
    let out = String::from_utf8_lossy(&clean.stdout);
    assert!(clean.status.success(), "{out}{}", String::from_utf8_lossy(&clean.stderr));
    assert!(out.contains("0 problems"), "{out}");

    // A branch to a question that is not there, targeting of a survey that is not
    // there, and an account signal weighed with a string.
    edit(&dir.path().join("surveys/nps.json"), r#""next": "obstacle" }"#, r#""next": "obstacle_gone" }"#);
    edit(&dir.path().join("targeting.json"), r#""id": "nps""#, r#""id": "csat""#);
    edit(
        &dir.path().join("accounts.json"),
        r#"{ "signal": "nps", "weight": 30 }"#,
        r#"{ "signal": "nps", "weight": "a lot" }"#,
    );
    let planted = lint(dir.path());
    let out = String::from_utf8_lossy(&planted.stdout);
    assert_eq!(planted.status.code(), Some(1), "{out}");
    assert!(out.contains("surveys/nps.json: questions[0].rules[0].next: \"obstacle_gone\""), "{out}");
    // The repository's targeting lists the NPS survey second (after the CSAT of solved cases).
    assert!(out.contains("targeting.json: surveys[1].id: no survey \"csat\""), "{out}");
    assert!(out.contains("accounts.json: health.signals[0].weight"), "{out}");
    assert!(out.contains("3 problems"), "{out}");
}

/// Starts the collector with one project on `db`; (child, address).
fn start(dir: &Path, db: &TestDb) -> (Child, String) {
    let spec = json!([{"public_key": KEY, "secret_key": SECRET, "allowed_origins": ["*"]}]);
    let mut child = serving(dir, &spec, Some(db)).stderr(Stdio::inherit()).spawn().unwrap();
    let addr = listening_addr(&mut child);
    (child, addr)
}

/// One request with the project's secret key, on its own connection; (status, body).
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAuthorization: Bearer {SECRET}\r\n\
         X-Touchpoint-Author: Ada\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn push(dir: &Path, addr: &str, extra: &[&str]) -> Output {
    collector()
        .arg("push")
        .arg(dir)
        .args(["--url", &format!("http://{addr}"), "--by", "ci"])
        .args(extra)
        .env("TOUCHPOINT_SECRET_KEY", SECRET)
        .output()
        .unwrap()
}

#[test]
fn push_publishes_a_folder_and_refuses_to_overwrite_a_dashboard_edit() {
    let dir = tempfile::tempdir().unwrap();
    let db = tokio::runtime::Runtime::new().unwrap().block_on(TestDb::new(&dir.path().join("data")));
    let (mut child, addr) = start(dir.path(), &db);
    let content = dir.path().join("content");
    content_copy(&content);
    std::fs::remove_file(content.join("automations.json")).unwrap();
    std::fs::remove_file(content.join("accounts.json")).unwrap();

    let first = push(&content, &addr, &[]);
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{out}{}", String::from_utf8_lossy(&first.stderr));
    assert!(out.contains("published surveys/nps.json as surveys \"nps\" version 1"), "{out}");
    let (_, versions) = http(&addr, "GET", "/v1/content/surveys/nps/versions", None);
    assert_eq!(versions["versions"][0]["published_by"], "ci");
    assert_eq!(versions["versions"][0]["origin"], "push");

    // Edited in the dashboard (its editor speaks the admin API).
    let mut edited: Value = serde_json::from_str(&std::fs::read_to_string(repo("surveys/nps.json")).unwrap()).unwrap();
    edited["title"]["en"] = json!("Edited in the dashboard");
    assert_eq!(http(&addr, "PUT", "/v1/content/surveys/nps/draft", Some(&edited)).0, 200);
    assert_eq!(http(&addr, "POST", "/v1/content/surveys/nps/publish", None).0, 200);

    edit(&content.join("surveys/nps.json"), "How are we doing?", "How are we doing today?");
    let refused = push(&content, &addr, &[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(err.contains("HTTP 409"), "{err}");
    assert!(err.contains("surveys/nps.json: survey \"nps\": version 2 was published in the dashboard by Ada"), "{err}");
    let (_, live) = http(&addr, "GET", "/v1/content/surveys/nps", None);
    assert_eq!(live["live"]["body"]["title"]["en"], "Edited in the dashboard");

    let forced = push(&content, &addr, &["--overwrite"]);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    let (_, live) = http(&addr, "GET", "/v1/content/surveys/nps", None);
    assert_eq!(live["live"]["body"]["title"]["en"], "How are we doing today?");
    assert_eq!(live["live"]["version"], 3);

    let _ = child.kill();
    let _ = child.wait();
}

/// Starts the collector with `--import-content` over the content files in
/// `content`, on `db`, its log in `log`; (child, address).
fn start_importing(dir: &Path, content: &Path, db: &TestDb, log: &Path) -> (Child, String) {
    let spec = json!([{"public_key": KEY, "secret_key": SECRET, "allowed_origins": ["*"]}]);
    let mut child = serving(dir, &spec, Some(db))
        .arg("--import-content")
        .arg("--surveys-dir")
        .arg(content.join("surveys"))
        .arg("--checklists")
        .arg(content.join("checklists.json"))
        .arg("--help-dir")
        .arg(content.join("help"))
        .arg("--targeting")
        .arg(content.join("targeting.json"))
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let addr = listening_addr(&mut child);
    (child, addr)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn import_at_startup_publishes_the_files_and_never_overwrites_a_dashboard_edit() {
    let dir = tempfile::tempdir().unwrap();
    let db = tokio::runtime::Runtime::new().unwrap().block_on(TestDb::new(&dir.path().join("data")));
    let content = dir.path().join("content");
    content_copy(&content);
    let log = dir.path().join("collector.log");

    // A project without content gets every file as version 1, before the first request.
    let (child, addr) = start_importing(dir.path(), &content, &db, &log);
    for item in ["surveys/nps", "surveys/case_csat", "checklists/default", "targeting/default", "help/import-csv"] {
        let (status, versions) = http(&addr, "GET", &format!("/v1/content/{item}/versions"), None);
        assert_eq!(status, 200, "{item}: {versions}");
        assert_eq!(versions["versions"].as_array().unwrap().len(), 1, "{item}: {versions}");
        assert_eq!(versions["versions"][0]["published_by"], "import at startup", "{item}");
        assert_eq!(versions["versions"][0]["origin"], "push", "{item}");
    }
    stop(child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(&format!("content import into project {KEY}: 10 published, 0 unchanged")), "{text}");

    // Started again on the same files: nothing new.
    let (child, addr) = start_importing(dir.path(), &content, &db, &log);
    let (_, versions) = http(&addr, "GET", "/v1/content/surveys/nps/versions", None);
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1, "{versions}");

    // Edited in the dashboard; then the files change and the collector restarts.
    let (_, nps) = http(&addr, "GET", "/v1/content/surveys/nps", None);
    let mut edited = nps["live"]["body"].clone();
    edited["title"]["en"] = json!("Edited in the dashboard");
    assert_eq!(http(&addr, "PUT", "/v1/content/surveys/nps/draft", Some(&edited)).0, 200);
    assert_eq!(http(&addr, "POST", "/v1/content/surveys/nps/publish", None).0, 200);
    stop(child);
    edit(&content.join("surveys/nps.json"), "How are we doing?", "How are we doing today?");
    edit(&content.join("help/import-csv.md"), "title: ", "title: Changed: ");

    let (child, addr) = start_importing(dir.path(), &content, &db, &log);
    let (_, nps) = http(&addr, "GET", "/v1/content/surveys/nps", None);
    assert_eq!(nps["live"]["body"]["title"]["en"], "Edited in the dashboard", "the edit stays live");
    assert_eq!(nps["live"]["version"], 2);
    // Refused as a whole, like push: the help file's change waits with it.
    let (_, help) = http(&addr, "GET", "/v1/content/help/import-csv/versions", None);
    assert_eq!(help["versions"].as_array().unwrap().len(), 1, "{help}");
    stop(child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(&format!("content import into project {KEY} refused")), "{text}");
    assert!(
        text.contains("surveys/nps.json: survey \"nps\": version 2 was published in the dashboard by Ada"),
        "{text}"
    );
}

#[test]
fn two_replicas_importing_at_once_publish_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = tokio::runtime::Runtime::new().unwrap().block_on(TestDb::new(&dir.path().join("data")));
    if !db.is_postgres() {
        // Replicas share a database only on Postgres; SQLite is one collector's file.
        return;
    }
    let content = dir.path().join("content");
    content_copy(&content);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let one = std::thread::spawn({
        let (a, content, db) = (a.clone(), content.clone(), db.clone());
        move || start_importing(&a, &content, &db, &a.join("log"))
    });
    let (second, addr) = start_importing(&b, &content, &db, &b.join("log"));
    let (first, _) = one.join().unwrap();
    for item in ["surveys/nps", "checklists/default", "targeting/default", "help/import-csv"] {
        let (_, versions) = http(&addr, "GET", &format!("/v1/content/{item}/versions"), None);
        assert_eq!(versions["versions"].as_array().unwrap().len(), 1, "{item}: {versions}");
    }
    stop(first);
    stop(second);
    for log in [a.join("log"), b.join("log")] {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(!text.contains("refused"), "{text}");
    }
}
