//! Safe defaults: the demo project (whose secret is in the source) only on
//! loopback or with `--demo`, long random secret keys in a projects file,
//! CORS answered per project, no dotfiles or links from the static
//! folders, and the database readable by the collector's user only.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use tower::ServiceExt;

mod common;
use common::app::TestApp;

fn collector(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_touchpoint-collector"));
    for (var, _) in std::env::vars().filter(|(k, _)| k.starts_with("TOUCHPOINT_") || k == "DATABASE_URL") {
        cmd.env_remove(var);
    }
    cmd.arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--surveys-dir")
        .arg(common::app::repo_file("surveys"))
        .arg("--www-dir")
        .arg(dir.join("no-www"))
        .current_dir(dir);
    cmd
}

/// The first stdout line, or `None` if the collector exits without one.
fn listening_line(mut cmd: Command) -> Option<String> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).ok().filter(|l| !l.is_empty());
    let _ = child.kill();
    let _ = child.wait();
    line
}

#[test]
fn the_demo_project_is_refused_on_a_public_address_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = collector(dir.path()).args(["--addr", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "must not listen: {:?}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to serve the demo project on 0.0.0.0:0"), "{stderr}");
    assert!(stderr.contains("--projects FILE") && stderr.contains("--demo"), "{stderr}");
    assert!(!dir.path().join("data").exists(), "must fail before touching the data directory");

    // On loopback, or with --demo (or TOUCHPOINT_DEMO=1), it starts.
    let mut loopback = collector(dir.path());
    loopback.args(["--addr", "127.0.0.1:0"]);
    assert!(listening_line(loopback).is_some_and(|l| l.contains("listening on http://127.0.0.1:")));
    let mut asked = collector(dir.path());
    asked.args(["--addr", "0.0.0.0:0", "--demo"]);
    assert!(listening_line(asked).is_some_and(|l| l.contains("listening on http://0.0.0.0:")));
    let mut by_env = collector(dir.path());
    by_env.args(["--addr", "0.0.0.0:0"]).env("TOUCHPOINT_DEMO", "1");
    assert!(listening_line(by_env).is_some());
}

#[test]
fn a_short_secret_key_stops_startup_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let projects = dir.path().join("projects.json");
    std::fs::write(&projects, r#"[{"public_key": "pk_a", "secret_key": "sk_live_1", "allowed_origins": ["*"]}]"#)
        .unwrap();
    let out = collector(dir.path()).args(["--addr", "127.0.0.1:0", "--projects"]).arg(&projects).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "{}: [0].secret_key: must be at least 24 random characters, not 9; generate one, e.g. sk_$(openssl rand -hex 16)",
        projects.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

const PROJECTS: &str = r#"[
    {"public_key": "pk_open", "secret_key": "sk_open", "allowed_origins": ["*"]},
    {"public_key": "pk_strict", "secret_key": "sk_strict", "allowed_origins": ["https://app.example.com"]}
]"#;

/// The `Access-Control-Allow-Origin` answered to `method uri` from `origin`.
async fn allowed(t: &TestApp, method: Method, uri: &str, origin: &str) -> Option<String> {
    let mut req = Request::builder().method(method.clone()).uri(uri).header(header::ORIGIN, origin);
    if method == Method::OPTIONS {
        let wanted = if uri == "/v1/events" { "POST" } else { "GET" };
        req = req
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, wanted)
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type");
    }
    let res = t.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    res.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn cors_is_answered_per_project_not_for_the_most_open_one() {
    let t = TestApp::new(PROJECTS, |s| s).await;
    let (evil, app) = ("https://evil.example", "https://app.example.com");
    let strict_read = "/v1/config?key=pk_strict&anonymous_id=a1";
    // The strict project's reads answer only its own origin, though another project allows "*".
    assert_eq!(allowed(&t, Method::GET, strict_read, evil).await, None);
    assert_eq!(allowed(&t, Method::OPTIONS, strict_read, evil).await, None);
    assert_eq!(allowed(&t, Method::GET, strict_read, app).await.as_deref(), Some(app));
    assert_eq!(allowed(&t, Method::OPTIONS, strict_read, app).await.as_deref(), Some(app));
    // The open project's reads answer anyone; an unknown key, no one.
    let open_read = "/v1/config?key=pk_open&anonymous_id=a1";
    assert_eq!(allowed(&t, Method::GET, open_read, evil).await.as_deref(), Some(evil));
    assert_eq!(allowed(&t, Method::GET, "/v1/config?key=pk_nope&anonymous_id=a1", app).await, None);
    // Secret-key APIs answer no other origin at all.
    assert_eq!(allowed(&t, Method::GET, "/v1/events", app).await, None);
    assert_eq!(allowed(&t, Method::GET, "/v1/surveys/nps/nps", app).await, None);
    // The widget's files and the public definitions: for any origin some project allows.
    assert_eq!(allowed(&t, Method::GET, "/pkg/index.js", evil).await.as_deref(), Some(evil));
    assert_eq!(allowed(&t, Method::GET, "/v1/surveys/nps?form=card", evil).await.as_deref(), Some(evil));
    // Ingest names its project in the body: its preflight cannot tell, the handler does (403).
    assert_eq!(allowed(&t, Method::OPTIONS, "/v1/events", evil).await.as_deref(), Some(evil));
    let body = r#"{"key": "pk_strict", "events": []}"#;
    let req = Request::post("/v1/events")
        .header(header::ORIGIN, evil)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(t.send(req).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn static_folders_serve_no_dotfiles_and_no_links() {
    let t = TestApp::new(PROJECTS, |s| s).await;
    let www = &t.state.config.www_dir;
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::write(www.join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(www.join("sub/page.html"), "page").unwrap();
    std::fs::write(www.join(".env"), "DATABASE_URL=postgres://secret").unwrap();
    std::fs::create_dir_all(www.join(".git")).unwrap();
    std::fs::write(www.join(".git/config"), "[remote]").unwrap();
    std::fs::write(t.dir.path().join("private.txt"), "private").unwrap();
    std::os::unix::fs::symlink(t.dir.path().join("private.txt"), www.join("notes.txt")).unwrap();
    std::os::unix::fs::symlink(t.dir.path(), www.join("up")).unwrap();
    // The router reads the folder when built.
    let app = touchpoint_collector::router(t.state.clone());
    let get = |uri: &str| {
        let app = app.clone();
        let req = Request::get(uri).body(Body::empty()).unwrap();
        async move {
            let res = app.oneshot(req).await.unwrap();
            let status = res.status();
            let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    assert_eq!(get("/").await, (StatusCode::OK, "<h1>demo</h1>".into()));
    assert_eq!(get("/sub/page.html").await, (StatusCode::OK, "page".into()));
    for uri in ["/.env", "/%2eenv", "/.git/config", "/notes.txt", "/up/private.txt", "/up/data/touchpoint.db"] {
        let (status, body) = get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert!(!body.contains("secret") && !body.contains("private"), "{uri}: {body}");
    }
}

#[tokio::test]
async fn the_sqlite_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestApp::new(PROJECTS, |s| s).await;
    if t.db.is_postgres() {
        return;
    }
    let data = &t.state.config.data_dir;
    for file in ["touchpoint.db", "touchpoint.db-wal", "touchpoint.db-shm"] {
        let mode = std::fs::metadata(data.join(file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}
