//! Emails sent over SMTP to a real SMTP server the test starts on 127.0.0.1
//! (`common::smtp`: a real conversation over TCP, not a mock transport),
//! from the durable outbox with the real worker. Runs on SQLite, and on
//! Postgres when `DATABASE_URL` is set — there with two collectors, each
//! with its own worker, on the one database.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use touchpoint_collector::automations::config::{AutomationsConfig, Context};
use touchpoint_collector::automations::worker::Automating;
use touchpoint_collector::automations::Automations;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::config::Config;
use touchpoint_collector::projects::Projects;
use touchpoint_collector::worker::Worker;
use touchpoint_collector::{router, AppState};
use tower::ServiceExt;

mod common;
use common::smtp::{Received, SmtpServer};
use common::TestDb;

const KEY: &str = "pk_test";
const SECRET: &str = "sk_test";
const PROJECTS: &str = r#"[{"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"]}]"#;
const T0: i64 = 1_700_000_000_000;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

const EN: &str = "Subject: Two more weeks for {{traits.name|you}}\n\nHi {{traits.name|there}},\n\n\
                  Your code: {{action.code}}.\n";
const DE: &str = "Subject: Zwei Wochen mehr für {{traits.name|dich}}\n\nHallo {{traits.name|du}},\n\n\
                  Dein Code: {{action.code}}.\n";
const DE_HTML: &str = "<p>Hallo <b>{{traits.name|du}}</b>, dein Code: {{action.code}}.</p>\n";

fn trial_rule() -> Value {
    json!([{ "id": "trial_extension",
             "when": { "ending_action": { "survey": "nps", "action": "offer", "code": "trial_extension_14d" } },
             "do": [ { "action": "email", "template": "trial_extension" } ] }])
}

fn automations_file(dir: &Path, smtp_port: u16) -> Value {
    json!({
        "email": {
            "from": "Acme Success <success@acme.example>",
            "templates_dir": dir.join("templates"),
            "smtp": { "host": "127.0.0.1", "port": smtp_port, "tls": "none",
                      "user_env": "TEST_SMTP_USER", "password_env": "TEST_SMTP_PASSWORD" },
            "unsubscribe": "https://acme.example/unsubscribe?user={{user_id}}"
        },
        "webhooks": { "first_retry_ms": 100, "max_retry_ms": 400, "max_attempts": 5, "timeout_ms": 3000 },
        "projects": { "pk_test": { "email_from": "Acme Projects <hello@projects.acme.example>" } },
        "response_settle_ms": 200,
        "rules": trial_rule(),
    })
}

fn load(text: &str, dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<AutomationsConfig, Vec<String>> {
    let surveys = SurveyCatalog::load_dir(&repo("surveys")).unwrap();
    let projects = Projects::from_json(PROJECTS).unwrap();
    let cx = Context { surveys: &surveys, checklists: None, projects: &projects, env };
    AutomationsConfig::from_json(text, &dir.join("automations.json"), dir, &cx)
}

fn test_env(var: &str) -> Option<String> {
    match var {
        "TEST_SMTP_USER" => Some("mailer".into()),
        "TEST_SMTP_PASSWORD" => Some("from-the-environment".into()),
        _ => None,
    }
}

/// One collector: its state (with the worker running) over `db`.
struct Collector {
    state: AppState,
    worker: Worker,
}

async fn collector(dir: &Path, db: &TestDb, smtp_port: u16) -> Collector {
    let text = automations_file(dir, smtp_port).to_string();
    let config = load(&text, dir, &test_env).unwrap_or_else(|e| panic!("{e:#?}"));
    let automations = Automations::new(config, dir.join("outbox"));
    let data_dir = dir.join("data");
    let store = db.open(&data_dir).await;
    let config = Config { data_dir, surveys_dir: repo("surveys"), ..Config::default() };
    let surveys = SurveyCatalog::load_dir(&repo("surveys")).unwrap();
    let state = AppState::new(config, Projects::from_json(PROJECTS).unwrap(), store, surveys)
        .with_automations(Some(automations));
    let worker = Worker::start::<Automating>(&state).unwrap();
    Collector { state, worker }
}

fn write_templates(dir: &Path) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("templates/trial_extension.eml"), EN).unwrap();
    std::fs::write(dir.join("templates/trial_extension.de.eml"), DE).unwrap();
    std::fs::write(dir.join("templates/trial_extension.de.html"), DE_HTML).unwrap();
}

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let res = router(state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn post(state: &AppState, events: &[Value]) {
    let body = json!({ "key": KEY, "events": events });
    let req = Request::post("/v1/events").header(header::CONTENT_TYPE, "application/json");
    let (status, body) = send(state, req.body(Body::from(body.to_string())).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn deliveries(state: &AppState) -> Vec<Value> {
    let req = Request::get("/v1/automations/deliveries").header(header::AUTHORIZATION, format!("Bearer {SECRET}"));
    let (status, body) = send(state, req.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["deliveries"].as_array().unwrap().clone()
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

/// `user` says "not ready to upgrade" and reaches the trial offer.
fn trial_offer_walk(user: &str, traits: Value) -> Vec<Value> {
    let response = json!(format!("r-{user}"));
    vec![
        event(user, T0, json!({"type": "identify", "traits": traits})),
        event(
            user,
            T0 + 1,
            json!({"type": "survey_answered", "survey_id": "nps", "response_id": response,
                                   "question_id": "score", "value": 3}),
        ),
        event(
            user,
            T0 + 2,
            json!({"type": "survey_answered", "survey_id": "nps", "response_id": response,
                                   "question_id": "obstacle", "value": "not_ready"}),
        ),
        event(
            user,
            T0 + 3,
            json!({"type": "survey_completed", "survey_id": "nps", "response_id": response,
                                   "ending_id": "trial_offer",
                                   "actions": [{"action": "offer", "code": "trial_extension_14d"}, {"action": "webhook"}]}),
        ),
    ]
}

struct Setup {
    dir: TempDir,
    db: TestDb,
    collectors: Vec<Collector>,
}

/// One collector on SQLite; two on one Postgres.
async fn setup(smtp: &SmtpServer) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    write_templates(dir.path());
    let db = TestDb::new(&dir.path().join("data")).await;
    let mut collectors = vec![collector(dir.path(), &db, smtp.port).await];
    if db.is_postgres() {
        collectors.push(collector(dir.path(), &db, smtp.port).await);
    }
    Setup { dir, db, collectors }
}

impl Setup {
    async fn stop(self) {
        for c in self.collectors {
            c.worker.stop().await;
        }
        drop(self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn not_ready_to_upgrade_sends_the_trial_extension_in_the_users_locale_once_though_refused_twice() {
    let smtp = SmtpServer::start(&["451 4.3.0 Try again later", "451 4.3.0 Try again later"]).await;
    let s = setup(&smtp).await;
    let walk = trial_offer_walk("u-de", json!({"name": "Jürgen", "email": "juergen@example.com", "locale": "de-AT"}));
    // On Postgres each collector takes half of the walk, as behind a load balancer.
    let last = s.collectors.last().unwrap();
    post(&s.collectors[0].state, &walk[..2]).await;
    post(&last.state, &walk[2..]).await;

    let got = smtp.wait_for(1).await;
    // Long enough for any second send (retries come every 100–400 ms).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_now = smtp.received();
    assert_eq!(got_now.len(), 1, "exactly one message: {got_now:#?}");
    assert_eq!(smtp.refused(), 2);
    let logins = smtp.logins();
    assert!(logins.len() >= 3 && logins.iter().all(|l| *l == ("mailer".into(), "from-the-environment".into())));
    let m: &Received = &got[0];
    assert_eq!(m.mail_from, "hello@projects.acme.example", "the project's own From is the envelope sender");
    assert_eq!(m.rcpt_to, vec!["juergen@example.com".to_string()]);
    assert_eq!(m.header("From").unwrap(), "Acme Projects <hello@projects.acme.example>");
    assert_eq!(m.header("Content-Language").unwrap(), "de");
    let subject = m.header("Subject").unwrap();
    assert!(subject.starts_with("=?UTF-8?B?"), "{subject}");
    assert_eq!(m.header("List-Unsubscribe").unwrap(), "<https://acme.example/unsubscribe?user=u-de>");
    assert!(m.header("Content-Type").unwrap().starts_with("multipart/alternative"), "{}", m.data);
    assert_eq!(m.part("text/plain").unwrap(), "Hallo Jürgen,\r\n\r\nDein Code: trial_extension_14d.\r\n");
    assert_eq!(m.part("text/html").unwrap(), "<p>Hallo <b>Jürgen</b>, dein Code: trial_extension_14d.</p>\r\n");

    // The delivery log: two refusals with the server's code, then the delivery.
    let log = deliveries(&s.collectors[0].state).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0]["status"], "delivered");
    let codes: Vec<&Value> = log[0]["log"].as_array().unwrap().iter().map(|a| &a["status_code"]).collect();
    assert_eq!(codes, vec![&json!(451), &json!(451), &json!(250)], "{log:#?}");
    let rows = s.db.rows("SELECT status, attempts FROM outbox").await;
    assert_eq!(rows, vec![vec![json!("delivered"), json!(3)]]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_without_a_locale_template_gets_the_default_one() {
    let smtp = SmtpServer::start(&[]).await;
    let s = setup(&smtp).await;
    post(
        &s.collectors[0].state,
        &trial_offer_walk("u-fr", json!({"name": "Anne", "email": "anne@example.com", "locale": "fr-FR"})),
    )
    .await;
    let got = smtp.wait_for(1).await;
    assert_eq!(got[0].header("Subject").unwrap(), "Two more weeks for Anne");
    assert_eq!(got[0].header("Content-Language"), None);
    assert!(got[0].header("Content-Type").unwrap().starts_with("text/plain"));
    // lettre ends the data with CRLF . CRLF after the message's own last CRLF.
    assert_eq!(got[0].part("text/plain").unwrap().trim_end(), "Hi Anne,\r\n\r\nYour code: trial_extension_14d.");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_name_carrying_a_bcc_line_adds_no_header_and_no_recipient() {
    let smtp = SmtpServer::start(&[]).await;
    let s = setup(&smtp).await;
    let evil = "Eve\r\nBcc: attacker@example.com";
    post(&s.collectors[0].state, &trial_offer_walk("u-eve", json!({"name": evil, "email": "eve@example.com"}))).await;
    // A recipient trait with a header in it is no address: never sent.
    let to_evil = json!({"name": "Mallory", "email": "mallory@example.com\r\nBcc: attacker@example.com"});
    post(&s.collectors[0].state, &trial_offer_walk("u-mal", to_evil)).await;

    let got = smtp.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got_now = smtp.received();
    assert_eq!(got_now.len(), 1, "{got_now:#?}");
    let m = &got[0];
    assert_eq!(m.rcpt_to, vec!["eve@example.com".to_string()], "the envelope has only the user");
    let header_names: Vec<String> = m
        .head()
        .split("\r\n")
        .filter(|l| !l.starts_with([' ', '\t']))
        .map(|l| l.split(':').next().unwrap().to_ascii_lowercase())
        .collect();
    assert!(!header_names.iter().any(|h| h == "bcc" || h == "cc"), "{}", m.head());
    assert_eq!(
        header_names,
        [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "list-unsubscribe",
            "mime-version",
            "content-type",
            "content-transfer-encoding",
            "x-touchpoint-rule",
            "x-touchpoint-trigger"
        ]
    );
    assert_eq!(m.header("Subject").unwrap(), "Two more weeks for Eve  Bcc: attacker@example.com");
    assert!(!m.data.contains("\r\nBcc:"), "{}", m.data);

    let log = deliveries(&s.collectors[0].state).await;
    let mallory = log.iter().find(|d| d["target"].as_str().unwrap().starts_with("mallory")).unwrap();
    assert_eq!(mallory["status"], "failed");
    assert!(mallory["last_error"].as_str().unwrap().contains("no valid recipient"), "{mallory}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_permanent_refusal_fails_at_once_without_retries() {
    let smtp = SmtpServer::start(&["550 5.7.1 Sender not allowed"]).await;
    let s = setup(&smtp).await;
    post(&s.collectors[0].state, &trial_offer_walk("u-x", json!({"email": "x@example.com"}))).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let log = loop {
        let log = deliveries(&s.collectors[0].state).await;
        if log.first().is_some_and(|d| d["status"] == "failed") {
            break log;
        }
        assert!(std::time::Instant::now() < deadline, "{log:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(smtp.received().len(), 0);
    assert_eq!(log[0]["log"].as_array().unwrap().len(), 1, "{log:#?}");
    assert_eq!(log[0]["log"][0]["status_code"], 550);
    assert!(log[0]["last_error"].as_str().unwrap().contains("Sender not allowed"), "{log:#?}");
    s.stop().await;
}

#[test]
fn smtp_settings_are_checked_when_the_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    write_templates(dir.path());
    let with = |smtp: Value| {
        let mut file = automations_file(dir.path(), 2525);
        file["email"]["smtp"] = smtp;
        load(&file.to_string(), dir.path(), &test_env).err().unwrap_or_default()
    };
    let problems = with(json!({"host": "smtp.example.com", "tls": "none"}));
    assert!(problems.iter().any(|p| p.starts_with("email.smtp.tls: \"none\" sends passwords")), "{problems:?}");
    let problems = with(json!({"host": "smtp.example.com", "tls": "ssl"}));
    assert!(problems.iter().any(|p| p.contains("\"ssl\" is not one of starttls, implicit, none")), "{problems:?}");
    let problems =
        with(json!({"host": "smtp.example.com", "user_env": "NOPE_USER", "password_env": "TEST_SMTP_PASSWORD"}));
    assert!(
        problems.iter().any(|p| p == "email.smtp.user_env: the environment variable NOPE_USER is not set"),
        "{problems:?}"
    );
    let problems = with(json!({"host": "smtp.example.com", "user_env": "TEST_SMTP_USER"}));
    assert!(problems.iter().any(|p| p.contains("both user_env and password_env")), "{problems:?}");
    assert!(with(json!({"host": "smtp.example.com", "port": 465, "tls": "implicit"})).is_empty());
}
