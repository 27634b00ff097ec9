//! People's data rights and retention, end to end inside one process: a
//! person's events, responses, cases, deliveries (a webhook and an `.eml`
//! file written by the real automation worker), account membership and a
//! routing decision about their account; then their export and erasure
//! through `router(state)`, checked against every table the database has
//! (read from its schema) and the email folder. Runs on SQLite, and on
//! Postgres when `DATABASE_URL` is set.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use touchpoint_collector::accounts::worker::assess_project;
use touchpoint_collector::accounts::AccountsCatalog;
use touchpoint_collector::automations::config::{AutomationsConfig, Context};
use touchpoint_collector::automations::worker::Automating;
use touchpoint_collector::automations::Automations;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::projects::Projects;
use touchpoint_collector::worker::Worker;

mod common;
use common::app::{event, repo_file, TestApp};
use common::TestDb;

const KEY: &str = "pk_test";
const SECRET: &str = "sk_test";
const PROJECTS: &str = r#"[
    {"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"], "retention_days": 30},
    {"public_key": "pk_other", "secret_key": "sk_other", "allowed_origins": ["*"]}
]"#;
/// Distinctive, so that finding them anywhere means they were left behind.
const ERIN: &str = "erin-7f3a9c";
const ERIN_EMAIL: &str = "Erin.Case@Example.org";
const BOB: &str = "bob-19c2d4";
const DAY: i64 = 24 * 60 * 60 * 1000;

fn automations(dir: &Path) -> Automations {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("templates/sorry.eml"),
        "Subject: Sorry, {{traits.name|there}}\n\nHi {{traits.name|there}} ({{user_id}}), we read your score.\n",
    )
    .unwrap();
    let config = json!({
        "email": { "from": "Acme <success@acme.example>", "templates_dir": dir.join("templates") },
        "webhooks": { "first_retry_ms": 50, "max_retry_ms": 100, "max_attempts": 2, "timeout_ms": 500 },
        "projects": { "pk_test": { "webhook_secret": "whsec_test_0123456789" },
                      "pk_other": { "webhook_secret": "whsec_other_0123456789" } },
        "churn_scan_every_s": 3600,
        "response_settle_ms": 100,
        "rules": [{
            "id": "detractor",
            "when": { "score": { "survey": "nps", "min": 0, "max": 6 } },
            "do": [
                { "action": "case", "title": "Detractor" },
                { "action": "email", "template": "sorry" },
                // Nothing listens there: the delivery fails and stays in the log with its payload.
                { "action": "webhook", "url": "http://127.0.0.1:9/hook" }
            ]
        }]
    });
    let surveys = SurveyCatalog::load_dir(&repo_file("surveys")).unwrap();
    let projects = Projects::from_json(PROJECTS).unwrap();
    let env = |_: &str| None;
    let cx = Context { surveys: &surveys, checklists: None, projects: &projects, env: &env };
    let config = AutomationsConfig::from_json(&config.to_string(), &dir.join("automations.json"), dir, &cx)
        .unwrap_or_else(|e| panic!("{e:#?}"));
    Automations::new(config, dir.join("outbox"))
}

fn accounts() -> AccountsCatalog {
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_file("accounts.json")).unwrap()).unwrap();
    config["routing"] = json!([{
        "id": "cancel_request",
        "event": "requested_cancellation",
        "do": [
            { "action": "case", "title": "Asked to cancel" },
            { "action": "webhook", "url": "http://127.0.0.1:9/hook" }
        ]
    }]);
    AccountsCatalog::from_json(&config.to_string(), Path::new("accounts.json"), &|_| None).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// An app with automations (templates and emails in the test's folder) and accounts.
async fn app() -> TestApp {
    TestApp::new(PROJECTS, |s| {
        let dir = s.config.data_dir.parent().unwrap().to_path_buf();
        std::fs::create_dir_all(dir.join("outbox")).unwrap();
        let a = automations(&dir);
        s.with_automations(Some(a)).with_accounts(Some(accounts()))
    })
    .await
}

async fn delete(app: &TestApp, uri: &str, secret: &str) -> (StatusCode, Value) {
    let req = Request::delete(uri).header(header::AUTHORIZATION, format!("Bearer {secret}")).body(Body::empty());
    app.send(req.unwrap()).await
}

/// Every row of every table the database has (its schema says which), as
/// `(table, row as a JSON object)`.
async fn every_row(db: &TestDb) -> Vec<(String, Value)> {
    match db {
        TestDb::Sqlite { data_dir } => {
            let conn = rusqlite::Connection::open(data_dir.join(touchpoint_collector::store::DB_FILE)).unwrap();
            let tables: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let mut out = Vec::new();
            for t in tables {
                let mut q = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
                let names: Vec<String> = q.column_names().map(|n| n.to_string()).collect();
                let rows: Vec<Value> = q
                    .query_map([], |r| {
                        let mut obj = serde_json::Map::new();
                        for (i, n) in names.iter().enumerate() {
                            let v = match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => Value::Null,
                                rusqlite::types::ValueRef::Integer(v) => json!(v),
                                rusqlite::types::ValueRef::Real(v) => json!(v),
                                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                                    json!(String::from_utf8_lossy(t))
                                }
                            };
                            obj.insert(n.clone(), v);
                        }
                        Ok(Value::Object(obj))
                    })
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                out.extend(rows.into_iter().map(|r| (t.clone(), r)));
            }
            out
        }
        TestDb::Postgres { .. } => {
            let tables = db
                .strings(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                )
                .await;
            let mut out = Vec::new();
            for t in tables {
                for row in db.strings(&format!("SELECT row_to_json(t)::text FROM \"{t}\" t")).await {
                    out.push((t.clone(), serde_json::from_str(&row).unwrap()));
                }
            }
            out
        }
    }
}

/// Rows of project `pk_test` (or of no project) whose text holds any of `needles` (case-insensitive).
async fn rows_naming(db: &TestDb, needles: &[&str]) -> Vec<(String, Value)> {
    every_row(db)
        .await
        .into_iter()
        .filter(|(_, row)| row.get("project_key").is_none_or(|k| k != "pk_other"))
        .filter(|(_, row)| {
            let text = row.to_string().to_lowercase();
            needles.iter().any(|n| text.contains(&n.to_lowercase()))
        })
        .collect()
}

async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Erin: anonymous on her laptop, then identified there and on her phone;
/// an NPS detractor (a case, an email, a webhook), a help request, a
/// member of account `acme` with Bob, where her cancellation request makes
/// a routing decision about the account. Bob names her in one of his events.
async fn erin_and_bob(app: &TestApp) {
    let t = now();
    let erin = Some(ERIN);
    let posted = app
        .post(
            KEY,
            &[
                event("b-laptop", None, t, json!({"type": "track", "name": "opened_pricing", "props": {}})),
                event("b-laptop", erin, t + 1, json!({"type": "identify", "traits": {"email": ERIN_EMAIL, "name": "Erin"}})),
                event("b-phone", erin, t + 2, json!({"type": "group", "account_id": "acme", "traits": {"seats": 8}})),
                event(
                    "b-phone",
                    erin,
                    t + 3,
                    json!({"type": "survey_answered", "survey_id": "nps", "response_id": "r-erin",
                           "question_id": "score", "value": 3}),
                ),
                event(
                    "b-phone",
                    erin,
                    t + 4,
                    json!({"type": "help_case_created", "message": "Where is my invoice? Mail me at Erin.Case@Example.org",
                           "email": ERIN_EMAIL}),
                ),
                event("b-phone", erin, t + 5, json!({"type": "track", "name": "requested_cancellation", "props": {}})),
                event("b-bob", Some(BOB), t, json!({"type": "group", "account_id": "acme", "traits": {"seats": 8}})),
                event(
                    "b-bob",
                    Some(BOB),
                    t + 6,
                    json!({"type": "track", "name": "invited_teammate", "props": {"invitee": ERIN}}),
                ),
            ],
        )
        .await;
    assert!(posted.iter().all(|r| r["status"] == "accepted"), "{posted:?}");
    // The same user id in another project is another person.
    app.post("pk_other", &[event("b-x", erin, t, json!({"type": "identify", "traits": {"email": ERIN_EMAIL}}))]).await;
}

#[tokio::test]
async fn erasing_a_person_leaves_no_row_and_no_file_naming_them_and_the_export_holds_all_their_events() {
    let app = app().await;
    // A table this collector does not know (another feature's, say): the erasure must find it from the schema.
    app.db
        .execute_batch(&format!(
            "CREATE TABLE notes (project_key TEXT NOT NULL, about TEXT NOT NULL, body TEXT);
             INSERT INTO notes VALUES ('{KEY}', '{ERIN}', 'called {ERIN_EMAIL} about renewal');
             INSERT INTO notes VALUES ('{KEY}', 'acme', 'account note');"
        ))
        .await;
    let worker = Worker::start::<Automating>(&app.state).unwrap();
    erin_and_bob(&app).await;
    // The automation worker acts on the response once it settles: a case, an .eml file, a failed webhook.
    let outbox_dir = app.state.automations.as_ref().unwrap().outbox_dir.clone();
    let emails = eventually("the detractor email", async || {
        let files: Vec<_> = std::fs::read_dir(&outbox_dir).unwrap().flatten().collect();
        (!files.is_empty()).then_some(files.len())
    })
    .await;
    assert_eq!(emails, 1);
    let catalog = app.state.accounts.clone().unwrap();
    let routed = assess_project(&app.state, &catalog, KEY, now()).await.unwrap();
    assert_eq!(routed.len(), 1, "the cancellation request routes the account once: {routed:?}");
    eventually("every delivery tried", async || {
        let pending = app.db.rows("SELECT id FROM outbox WHERE status = 'pending'").await;
        let all = app.db.rows("SELECT id FROM outbox").await;
        (pending.is_empty() && all.len() == 3).then_some(())
    })
    .await;
    worker.stop().await;

    let before = rows_naming(&app.db, &[ERIN, ERIN_EMAIL]).await;
    let tables: std::collections::BTreeSet<&str> = before.iter().map(|(t, _)| t.as_str()).collect();
    for t in ["events", "cases", "outbox", "email_quota", "notes"] {
        assert!(tables.contains(t), "the setup should leave Erin in {t}: {tables:?}");
    }

    // Export: every stored event of hers (by user id, and her laptop's anonymous one), found by plain SQL.
    let theirs = app
        .db
        .strings(&format!(
            "SELECT id FROM events WHERE project_key = '{KEY}' AND (user_id = '{ERIN}' OR (user_id IS NULL AND
               anonymous_id IN (SELECT anonymous_id FROM events WHERE project_key = '{KEY}' AND user_id = '{ERIN}')))
             ORDER BY id"
        ))
        .await;
    assert_eq!(theirs.len(), 6);
    let (status, export) = app.secret_get(&format!("/v1/people/{ERIN}/export"), SECRET).await;
    assert_eq!(status, StatusCode::OK, "{export}");
    let mut exported: Vec<String> =
        export["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    exported.sort();
    assert_eq!(exported, theirs);
    assert_eq!(export["browsers"], json!(["b-laptop", "b-phone"]));
    assert_eq!(export["responses"][0]["answers"]["score"], 3);
    assert_eq!(export["accounts"][0]["account_id"], "acme");
    assert_eq!(export["cases"].as_array().unwrap().len(), 2, "the detractor case and her help request");
    assert!(export["deliveries"].as_array().unwrap().iter().any(|d| d["kind"] == "email"));
    assert!(export["email_files"][0]["message"].as_str().unwrap().contains(ERIN_EMAIL));
    // Another project's key reads nothing of hers: that project's Erin has one event.
    let (_, other) = app.secret_get(&format!("/v1/people/{ERIN}/export"), "sk_other").await;
    assert_eq!(other["events"].as_array().unwrap().len(), 1);

    let bob_events = app.db.rows(&format!("SELECT id FROM events WHERE user_id = '{BOB}'")).await.len();
    let (status, body) = delete(&app, &format!("/v1/people/{ERIN}"), SECRET).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["erased"]["deleted"]["events"], 6, "{body}");
    assert_eq!(body["erased"]["files"], 1, "{body}");

    let left = rows_naming(&app.db, &[ERIN, ERIN_EMAIL]).await;
    assert!(left.is_empty(), "rows still naming Erin: {left:#?}");
    let files: Vec<String> = std::fs::read_dir(&outbox_dir)
        .unwrap()
        .flatten()
        .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
        .filter(|text| text.to_lowercase().contains(&ERIN_EMAIL.to_lowercase()) || text.contains(ERIN))
        .collect();
    assert!(files.is_empty(), "email files still naming Erin: {files:?}");
    // Others keep theirs: Bob's events (the one naming her, rewritten), the account's note, the other project's Erin.
    assert_eq!(app.db.rows(&format!("SELECT id FROM events WHERE user_id = '{BOB}'")).await.len(), bob_events);
    let bob_props =
        app.db.strings(&format!("SELECT body FROM events WHERE user_id = '{BOB}' AND type = 'track'")).await;
    assert!(bob_props[0].contains("[erased]"), "{bob_props:?}");
    assert_eq!(app.db.strings("SELECT body FROM notes WHERE about = 'acme'").await.len(), 1);
    assert_eq!(app.db.rows("SELECT id FROM events WHERE project_key = 'pk_other'").await.len(), 1);

    // Logged without the id; repeating it is harmless.
    let (status, again) = delete(&app, &format!("/v1/people/{ERIN}"), SECRET).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["erased"]["deleted"], json!({}), "{again}");
    assert_eq!(again["erased"]["subject_hash"], body["erased"]["subject_hash"]);
    let (_, log) = app.secret_get("/v1/erasures", SECRET).await;
    assert_eq!(log["retention_days"], 30);
    let log = log["erasures"].as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["counts"]["deleted"]["events"], 6);
    assert!(!log[0].to_string().contains(ERIN), "{log:?}");
    let (_, export) = app.secret_get(&format!("/v1/people/{ERIN}/export"), SECRET).await;
    assert_eq!(export["events"], json!([]));
}

#[tokio::test]
async fn the_people_routes_need_the_secret_key() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    let (status, _) = delete(&app, &format!("/v1/people/{ERIN}"), KEY).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let req = Request::get(format!("/v1/people/{ERIN}/export")).body(Body::empty()).unwrap();
    assert_eq!(app.send(req).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = app.secret_get("/v1/erasures", KEY).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_retention_pass_deletes_events_older_than_the_projects_retention() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    let t = now();
    for key in [KEY, "pk_other"] {
        app.post(
            key,
            &[
                event("b1", None, t, json!({"type": "track", "name": "a", "props": {}})),
                event("b1", None, t, json!({"type": "track", "name": "b", "props": {}})),
            ],
        )
        .await;
    }
    let count =
        async |key: &str| app.db.rows(&format!("SELECT id FROM events WHERE project_key = '{key}'")).await.len();
    let pass = touchpoint_collector::retention::pass(&app.state, t + 29 * DAY).await.unwrap();
    assert_eq!(pass, [(KEY.to_string(), 0)]);
    assert_eq!((count(KEY).await, count("pk_other").await), (2, 2));
    // 30 days after they arrived (received_at, the server's clock) they go; the project without a retention keeps its own.
    let pass = touchpoint_collector::retention::pass(&app.state, t + 31 * DAY).await.unwrap();
    assert_eq!(pass, [(KEY.to_string(), 2)]);
    assert_eq!((count(KEY).await, count("pk_other").await), (0, 2));
    let pass = touchpoint_collector::retention::pass(&app.state, t + 31 * DAY).await.unwrap();
    assert_eq!(pass, [(KEY.to_string(), 0)], "a second pass finds nothing");
}

#[test]
fn a_retention_of_zero_days_is_refused_naming_the_field() {
    let err = Projects::from_json(
        r#"[{"public_key": "pk", "secret_key": "sk", "allowed_origins": ["*"], "retention_days": 0}]"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("[0].retention_days: must be at least 1"), "{err}");
}
