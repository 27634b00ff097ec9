//! Closing the loop on a detractor, inside one process with the real worker:
//! a Slack message at a local receiver (an HTTP server in the test), a case
//! assigned to the account's owner, a reply from the cases API emailed to a
//! real SMTP server the test runs (`common::smtp`) and kept on the timeline,
//! tags and the roadblocks report, timings, solving. Runs on SQLite, and on
//! Postgres when `DATABASE_URL` is set.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tempfile::TempDir;
use touchpoint_collector::automations::config::{AutomationsConfig, Context};
use touchpoint_collector::automations::worker::Automating;
use touchpoint_collector::automations::Automations;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::config::Config;
use touchpoint_collector::projects::Projects;
use touchpoint_collector::store::{Case, HealthSnapshot, RunEffects};
use touchpoint_collector::worker::Worker;
use touchpoint_collector::{router, AppState};
use tower::ServiceExt;

mod common;
use common::smtp::SmtpServer;
use common::TestDb;

const KEY: &str = "pk_test";
const SECRET: &str = "sk_test";
const PROJECTS: &str = r#"[{"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"]}]"#;
const T0: i64 = 1_700_000_000_000;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// An HTTP receiver on 127.0.0.1 standing in for Slack's incoming webhook: records each JSON body.
#[derive(Clone)]
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    /// What arrived under `<url>/teams`.
    teams: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/services/T000/B000/XXXX", listener.local_addr().unwrap());
        let r = Receiver { url, bodies: Arc::default(), teams: Arc::default() };
        let shared = r.clone();
        let app = Router::new()
            .route(
                "/services/T000/B000/XXXX/{*rest}",
                axum::routing::post({
                    let r = r.clone();
                    move |body: Bytes| {
                        let r = r.clone();
                        async move {
                            r.teams.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                            "1"
                        }
                    }
                }),
            )
            .route(
                "/services/T000/B000/XXXX",
                axum::routing::post(move |body: Bytes| {
                    let r = shared.clone();
                    async move {
                        r.bodies.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                        "ok"
                    }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    async fn wait_for(&self, n: usize) -> Vec<Value> {
        eventually(&format!("{n} Slack message(s)"), || {
            let b = self.bodies.lock().unwrap().clone();
            (b.len() >= n).then_some(b)
        })
        .await
    }
}

async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn r_first(list: &Arc<Mutex<Vec<Value>>>) -> Option<Value> {
    list.lock().unwrap().first().cloned()
}

struct Harness {
    _dir: TempDir,
    db: TestDb,
    state: AppState,
    worker: Option<Worker>,
}

async fn harness(slack_url: &str, smtp_port: u16) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    let file = json!({
        "email": { "from": "Acme Success <success@acme.example>", "templates_dir": dir.path().join("templates"),
                   "smtp": { "host": "127.0.0.1", "port": smtp_port, "tls": "none" } },
        "webhooks": { "first_retry_ms": 100, "max_retry_ms": 400, "max_attempts": 5, "timeout_ms": 3000 },
        "response_settle_ms": 200,
        "dashboard_url": "http://127.0.0.1:8787/dashboard/",
        "rules": [{ "id": "detractor", "when": { "score": { "survey": "nps", "min": 0, "max": 6 } },
                    "do": [ { "action": "slack", "url": slack_url },
                            { "action": "teams", "url": format!("{slack_url}/teams") },
                            { "action": "case", "title": "Detractor: reply personally" } ] }],
    });
    let surveys = SurveyCatalog::load_dir(&repo("surveys")).unwrap();
    let projects = Projects::from_json(PROJECTS).unwrap();
    let env = |_: &str| None;
    let cx = Context { surveys: &surveys, checklists: None, projects: &projects, env: &env };
    let config = AutomationsConfig::from_json(&file.to_string(), &dir.path().join("a.json"), dir.path(), &cx)
        .unwrap_or_else(|e| panic!("{e:#?}"));
    let data_dir = dir.path().join("data");
    let db = TestDb::new(&data_dir).await;
    let store = db.open(&data_dir).await;
    let state =
        AppState::new(Config { data_dir, surveys_dir: repo("surveys"), ..Config::default() }, projects, store, surveys)
            .with_automations(Some(Automations::new(config, dir.path().join("outbox"))));
    let worker = Worker::start::<Automating>(&state);
    Harness { _dir: dir, db, state, worker }
}

impl Harness {
    async fn send(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req =
            Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, format!("Bearer {SECRET}"));
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let res = router(self.state.clone()).oneshot(req.body(body).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn get(&self, uri: &str) -> Value {
        let (status, body) = self.send(Method::GET, uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        body
    }

    async fn post_events(&self, events: &[Value]) {
        let body = json!({ "key": KEY, "events": events });
        let req = Request::post("/v1/events").header(header::CONTENT_TYPE, "application/json");
        let res = router(self.state.clone()).oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    async fn stop(self) {
        if let Some(w) = self.worker {
            w.stop().await;
        }
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

fn event(user: &str, ts: i64, kind: Value) -> Value {
    let mut e = json!({
        "id": format!("ev-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)),
        "ts": ts, "anonymous_id": format!("b-{user}"), "user_id": user, "url": "https://app.example.com/",
    });
    e.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
    e
}

/// Dana of Acme (owned by Olivia) scores 3, picks "something else" and writes `comment`.
fn detractor(user: &str, comment: &str) -> Vec<Value> {
    let r = format!("r-{user}");
    vec![
        event(user, T0, json!({"type": "identify", "traits": {"name": "Dana", "email": "dana@example.com"}})),
        event(
            user,
            T0,
            json!({"type": "group", "account_id": "acme",
                               "traits": {"name": "Acme Corp", "owner": "olivia@acme.example"}}),
        ),
        event(
            user,
            T0 + 1,
            json!({"type": "survey_answered", "survey_id": "nps", "response_id": r,
                                   "question_id": "score", "value": 3}),
        ),
        event(
            user,
            T0 + 2,
            json!({"type": "survey_answered", "survey_id": "nps", "response_id": r,
                                   "question_id": "obstacle", "value": "other"}),
        ),
        event(
            user,
            T0 + 3,
            json!({"type": "survey_answered", "survey_id": "nps", "response_id": r,
                                   "question_id": "obstacle_other", "value": comment}),
        ),
        event(
            user,
            T0 + 4,
            json!({"type": "survey_completed", "survey_id": "nps", "response_id": r,
                                   "ending_id": "detractor_thanks", "actions": [{"action": "webhook"}]}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_detractor_reaches_slack_gets_a_case_for_the_owner_and_a_reply_by_email() {
    let slack = Receiver::start().await;
    let smtp = SmtpServer::start(&[]).await;
    let h = harness(&slack.url, smtp.port).await;
    // The account worker's last assessment of Acme.
    let snapshot = HealthSnapshot {
        project_key: KEY.into(),
        account_id: "acme".into(),
        computed_at: T0,
        score: 35,
        stage: "at_risk".into(),
        tier: "low_touch".into(),
        breakdown: "[]".into(),
    };
    h.state.db.record_health(vec![snapshot]).await.unwrap();
    h.post_events(&detractor("u-dana", "export is too slow <!channel>")).await;

    // Slack: score, comment (escaped), who, account, health, owner and the case's link.
    let msg = &slack.wait_for(1).await[0];
    let text = msg.to_string();
    for needle in [
        "NPS 3 from Dana (u-dana)",
        "> export is too slow &lt;!channel&gt;",
        "*Account*\\nAcme Corp (acme)",
        "*Health*\\n35/100, at_risk",
        "*Owner*\\nolivia@acme.example",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from {msg:#}");
    }
    assert!(!text.contains("<!channel>"), "{msg:#}");
    // Teams: the same as an Adaptive Card, user text only in TextRuns (never read as Markdown).
    let teams = eventually("a Teams message", || r_first(&slack.teams)).await;
    let card = &teams["attachments"][0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    let runs: Vec<&str> = card["body"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["inlines"].as_array().unwrap().iter().map(|i| i["text"].as_str().unwrap()))
        .collect();
    assert!(runs.contains(&"export is too slow <!channel>"), "{runs:?}");
    assert!(runs.contains(&"Acme Corp (acme)") && runs.contains(&"olivia@acme.example"), "{runs:?}");
    assert!(card["body"].as_array().unwrap().iter().all(|b| b["type"] == "RichTextBlock"));
    assert_eq!(msg["text"], "NPS 3 from Dana (u-dana) (Acme Corp (acme)): export is too slow &lt;!channel&gt;");

    // The case: assigned to the account's owner, linked from Slack.
    let cases = h.get("/v1/cases").await["cases"].as_array().unwrap().clone();
    assert_eq!(cases.len(), 1, "{cases:#?}");
    let case = &cases[0];
    assert_eq!(
        (&case["assignee"], &case["status"], &case["priority"]),
        (&json!("olivia@acme.example"), &json!("open"), &json!("normal"))
    );
    let id = case["id"].as_str().unwrap();
    let button = &msg["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "actions").unwrap()["elements"][0];
    assert_eq!(button["url"], format!("http://127.0.0.1:8787/dashboard#case={id}"));
    let by_owner = h.get("/v1/cases?assignee=olivia%40acme.example").await;
    assert_eq!(by_owner["cases"].as_array().unwrap().len(), 1);
    assert_eq!(h.get("/v1/cases?assignee=someone").await["cases"], json!([]));

    // A reply from the dashboard: emailed over SMTP, kept on the timeline.
    let reply = "Hi Dana, we made exports 5x faster this week. Could you try again?";
    let (status, after) =
        h.send(Method::POST, &format!("/v1/cases/{id}/reply"), Some(json!({"body": reply, "by": "Olivia"}))).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    let mail = &smtp.wait_for(1).await[0];
    assert_eq!(mail.rcpt_to, vec!["dana@example.com".to_string()]);
    assert_eq!(mail.header("Subject").unwrap(), "A reply to your feedback");
    assert!(mail.part("text/plain").unwrap().contains(reply), "{}", mail.data);
    assert_eq!(after["status"], "waiting", "a reply waits on the customer");
    assert!(after["first_response_at"].as_i64().is_some());
    let entry = &after["timeline"][0];
    assert_eq!((&entry["kind"], &entry["author"], &entry["body"]), (&json!("reply"), &json!("Olivia"), &json!(reply)));
    let delivery = entry["delivery_id"].as_str().unwrap();
    assert!(mail.header("Message-ID").unwrap().contains(delivery));
    let rows = h.db.rows(&format!("SELECT kind, rule_id, trigger_id FROM outbox WHERE id = '{delivery}'")).await;
    assert_eq!(rows, vec![vec![json!("email"), json!("case_reply"), json!(id)]]);

    // A note, a tag and a new owner: each on the timeline.
    let (status, _) =
        h.send(Method::POST, &format!("/v1/cases/{id}/notes"), Some(json!({"body": "Called her too"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, patched) = h
        .send(
            Method::PATCH,
            &format!("/v1/cases/{id}"),
            Some(json!({"tags": ["export_speed"], "assignee": "sam@acme.example", "priority": "high", "by": "Olivia"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (&patched["assignee"], &patched["priority"], &patched["tags"]),
        (&json!("sam@acme.example"), &json!("high"), &json!(["export_speed"]))
    );
    let kinds: Vec<&Value> = patched["timeline"].as_array().unwrap().iter().map(|e| &e["kind"]).collect();
    assert_eq!(kinds, [&json!("reply"), &json!("note"), &json!("priority"), &json!("assignee"), &json!("tags")]);
    // Solving sets closed_at; the case leaves the open list.
    let (_, solved) = h.send(Method::PATCH, &format!("/v1/cases/{id}"), Some(json!({"status": "solved"}))).await;
    assert_eq!(solved["status"], "solved");
    assert!(solved["closed_at"].as_i64().is_some());
    assert_eq!(h.get("/v1/cases?status=solved&tag=export_speed").await["cases"].as_array().unwrap().len(), 1);
    let weeks = h.get("/v1/cases/timings").await["weeks"].clone();
    assert_eq!((&weeks[0]["opened"], &weeks[0]["solved"]), (&json!(1), &json!(1)), "{weeks:#}");
    assert!(weeks[0]["median_first_response_ms"].as_i64().is_some());

    // Erasing Dana takes her case's timeline and tags with it.
    let (status, erased) = h.send(Method::DELETE, "/v1/people/u-dana", None).await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    for table in ["cases", "case_timeline", "case_tags"] {
        assert!(h.db.rows(&format!("SELECT * FROM {table}")).await.is_empty(), "{table}: {erased}");
    }
    let (status, _) = h.send(Method::GET, &format!("/v1/cases/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad input is named.
    let (status, body) = h.send(Method::PATCH, &format!("/v1/cases/{id}"), Some(json!({"status": "done"}))).await;
    assert_eq!((status, &body["field"]), (StatusCode::BAD_REQUEST, &json!("status")));
    let (status, body) = h.send(Method::PATCH, &format!("/v1/cases/{id}"), Some(json!({"tags": ["two words"]}))).await;
    assert_eq!((status, &body["field"]), (StatusCode::BAD_REQUEST, &json!("tags")));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_user_without_an_address_is_refused_and_nothing_is_queued() {
    let slack = Receiver::start().await;
    let smtp = SmtpServer::start(&[]).await;
    let h = harness(&slack.url, smtp.port).await;
    let mut walk = detractor("u-nomail", "slow");
    walk[0]["traits"] = json!({"name": "Nomail"});
    h.post_events(&walk).await;
    slack.wait_for(1).await;
    let id = h.get("/v1/cases").await["cases"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = h.send(Method::POST, &format!("/v1/cases/{id}/reply"), Some(json!({"body": "Hi"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no known email address"));
    assert!(h.db.rows("SELECT id FROM outbox WHERE kind = 'email'").await.is_empty());
    assert_eq!(h.get(&format!("/v1/cases/{id}")).await["timeline"], json!([]));
    h.stop().await;
}

/// Cases from a scripted data set: tags counted per tag, unsolved apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roadblocks_report_counts_tags_over_a_scripted_data_set() {
    let slack = Receiver::start().await;
    let smtp = SmtpServer::start(&[]).await;
    let h = harness(&slack.url, smtp.port).await;
    let case = |n: usize| Case {
        id: format!("case-{n}"),
        project_key: KEY.into(),
        rule_id: "scripted".into(),
        trigger_id: format!("t{n}"),
        title: "scripted".into(),
        user_id: Some(format!("u{n}")),
        anonymous_id: None,
        detail: "{}".into(),
        status: "open".into(),
        created_at: T0 + i64::try_from(n).unwrap(),
        closed_at: None,
        note: None,
        priority: "normal".into(),
        assignee: None,
        first_response_at: None,
        csat_score: None,
    };
    let plan: [(&[&str], bool); 6] = [
        (&["export_speed", "pricing"], false),
        (&["export_speed"], true),
        (&["export_speed", "sso"], false),
        (&["pricing"], true),
        (&[], false),
        (&["Export_Speed"], false),
    ];
    for (n, (tags, solve)) in plan.iter().enumerate() {
        let run = RunEffects { rule_id: "scripted".into(), cases: vec![case(n)], ..RunEffects::default() };
        h.state.db.apply_runs(KEY.into(), format!("t{n}"), None, vec![run], T0).await.unwrap();
        let mut change = json!({ "tags": tags });
        if *solve {
            change["status"] = json!("solved");
        }
        let (status, body) = h.send(Method::PATCH, &format!("/v1/cases/case-{n}"), Some(change)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Setting the same tags again changes nothing and counts nothing twice.
    h.send(Method::PATCH, "/v1/cases/case-0", Some(json!({"tags": ["pricing", "export_speed", "pricing"]}))).await;
    let report = h.get("/v1/cases/roadblocks").await;
    assert_eq!(
        report["roadblocks"],
        json!([
            {"tag": "export_speed", "cases": 4, "unsolved": 3},
            {"tag": "pricing", "cases": 2, "unsolved": 1},
            {"tag": "sso", "cases": 1, "unsolved": 1},
        ])
    );
    let timeline = h.get("/v1/cases/case-0").await["timeline"].clone();
    assert_eq!(timeline.as_array().unwrap().len(), 1, "{timeline:#}");
    h.stop().await;
}

/// Solving a case makes "How did we do?" eligible for its user (through the
/// targeting facts the widget reads), and the answer lands on the case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_solved_case_asks_for_csat_once_and_keeps_the_answer() {
    let slack = Receiver::start().await;
    let smtp = SmtpServer::start(&[]).await;
    let h = harness(&slack.url, smtp.port).await;
    h.post_events(&detractor("u-csat", "export is too slow")).await;
    slack.wait_for(1).await;
    let id = h.get("/v1/cases").await["cases"][0]["id"].as_str().unwrap().to_string();
    let facts = |h: &Harness| {
        let req = Request::get(format!("/v1/config?key={KEY}&user_id=u-csat"))
            .header(header::ORIGIN, "https://app.example.com")
            .body(Body::empty())
            .unwrap();
        let app = router(h.state.clone());
        async move {
            let res = app.oneshot(req).await.unwrap();
            let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()["facts"]["event_counts"].clone()
        }
    };
    assert_eq!(facts(&h).await.get("case_solved"), None, "an open case asks nothing");
    h.send(Method::PATCH, &format!("/v1/cases/{id}"), Some(json!({"status": "solved"}))).await;
    assert_eq!(facts(&h).await["case_solved"], 1);

    let answer = |value: i64| {
        vec![
            event(
                "u-csat",
                T0 + 10,
                json!({"type": "survey_answered", "survey_id": "case_csat", "response_id": "r-csat",
                                            "question_id": "rating", "value": value}),
            ),
            event(
                "u-csat",
                T0 + 11,
                json!({"type": "survey_completed", "survey_id": "case_csat", "response_id": "r-csat",
                                            "ending_id": "thanks", "actions": []}),
            ),
        ]
    };
    h.post_events(&answer(4)).await;
    let case = eventually_case(&h, &id, |c| c["csat"] == 4).await;
    let last = case["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((&last["kind"], &last["body"]), (&json!("csat"), &json!("4")));
    assert_eq!(facts(&h).await.get("case_solved"), None, "answered: not asked again");
    h.stop().await;
}

async fn eventually_case(h: &Harness, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let case = h.get(&format!("/v1/cases/{id}")).await;
        if done(&case) {
            return case;
        }
        assert!(Instant::now() < deadline, "{case:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
