//! A collector app driven through `router(state)` without a socket, over the
//! repository's real surveys: build the state with [`TestApp::new`], then
//! send requests as the widget (public key, from the app's origin) or as a
//! server (secret key).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tempfile::TempDir;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::config::Config;
use touchpoint_collector::projects::Projects;
use touchpoint_collector::AppState;
use tower::ServiceExt;

use super::TestDb;

pub const APP_ORIGIN: &str = "https://app.example.com";

pub fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(name)
}

pub struct TestApp {
    pub dir: TempDir,
    /// For reading stored rows straight from the database.
    pub db: TestDb,
    /// What the router was built from (for calling library functions directly).
    pub state: AppState,
    pub app: Router,
}

impl TestApp {
    /// `projects` is a projects file's JSON; `build` adds catalogs to the state.
    pub async fn new(projects: &str, build: impl FnOnce(AppState) -> AppState) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            surveys_dir: repo_file("surveys"),
            www_dir: dir.path().join("www"),
            pkg_dir: dir.path().join("pkg"),
            ..Config::default()
        };
        let db = TestDb::new(&config.data_dir).await;
        let store = db.open(&config.data_dir).await;
        let surveys = SurveyCatalog::load_dir(&config.surveys_dir).unwrap();
        let state = AppState::new(config, Projects::from_json(projects).unwrap(), store, surveys);
        let state = build(state);
        TestApp { app: touchpoint_collector::router(state.clone()), state, db, dir }
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, body)
    }

    /// `POST /v1/events` with `events` for project `key`; the per-event results.
    pub async fn post(&self, key: &str, events: &[Value]) -> Vec<Value> {
        let body = json!({ "key": key, "events": events });
        let req = Request::post("/v1/events")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, body) = self.send(req).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["results"].as_array().unwrap().clone()
    }

    /// A widget read from the app's page.
    pub async fn widget_get(&self, uri: &str) -> (StatusCode, Value) {
        self.send(Request::get(uri).header(header::ORIGIN, APP_ORIGIN).body(Body::empty()).unwrap()).await
    }

    /// A JSON POST with `Authorization: Bearer <secret>`.
    pub async fn secret_post(&self, uri: &str, secret: &str, body: &Value) -> (StatusCode, Value) {
        let req = Request::post(uri)
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    /// A read with `Authorization: Bearer <secret>`.
    pub async fn secret_get(&self, uri: &str, secret: &str) -> (StatusCode, Value) {
        let auth = format!("Bearer {secret}");
        self.send(Request::get(uri).header(header::AUTHORIZATION, auth).body(Body::empty()).unwrap()).await
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// One event from browser `anon`, of `user` if identified, with the fields of `kind`.
pub fn event(anon: &str, user: Option<&str>, ts: i64, kind: Value) -> Value {
    let mut e = json!({
        "id": format!("e{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)),
        "ts": ts, "anonymous_id": anon, "url": format!("{APP_ORIGIN}/"),
    });
    if let Some(user) = user {
        e["user_id"] = json!(user);
    }
    e.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
    e
}
