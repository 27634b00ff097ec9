//! What the collector no longer takes on the page's word, through
//! `router(state)` with the real automation worker: forged survey outcomes,
//! forged recipients, answers changed by going back, event ids of other
//! projects, clocks far off, reads by anonymous id where identities are
//! verified, and content links that leave the site. Runs on SQLite, and on
//! Postgres when `DATABASE_URL` is set.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use touchpoint_collector::automations::config::{AutomationsConfig, Context};
use touchpoint_collector::automations::worker::Automating;
use touchpoint_collector::automations::Automations;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::checklists::ChecklistCatalog;
use touchpoint_collector::help::HelpCatalog;
use touchpoint_collector::projects::{user_hash_of, Projects};
use touchpoint_collector::store::{OutboxItem, RunEffects, OVER_EMAIL_QUOTA};
use touchpoint_collector::targeting::TargetingCatalog;
use touchpoint_collector::worker::Worker;

mod common;
use common::app::{repo_file, TestApp};

const IDENTITY_SECRET: &str = "identity-secret-for-the-trust-tests";
const PROJECTS: &str = r#"[
    {"public_key": "pk_v", "secret_key": "sk_v", "allowed_origins": ["https://app.example.com"],
     "identity_secret": "identity-secret-for-the-trust-tests"},
    {"public_key": "pk_open", "secret_key": "sk_open", "allowed_origins": ["https://app.example.com"]}
]"#;
const TRIAL_ACTIONS: &str = r#"[{"action": "offer", "code": "trial_extension_14d"}, {"action": "webhook"}]"#;

/// The repository's rules that matter here: the trial offer's email only for
/// verified users, a review request email, a case for every detractor.
fn rules() -> Value {
    json!([
        { "id": "trial_extension", "require_verified": true,
          "when": { "ending_action": { "survey": "nps", "action": "offer", "code": "trial_extension_14d" } },
          "do": [ { "action": "email", "template": "trial_extension" } ] },
        { "id": "review_request",
          "when": { "ending_action": { "survey": "nps", "action": "email", "template": "review_request" } },
          "do": [ { "action": "email", "template": "review_request" } ] },
        { "id": "detractor",
          "when": { "score": { "survey": "nps", "min": 0, "max": 6 } },
          "do": [ { "action": "case", "title": "Detractor: reply personally" } ] }
    ])
}

fn load_rules(rules: Value) -> Result<AutomationsConfig, Vec<String>> {
    let text = json!({
        "email": { "from": "Acme <success@acme.example>", "templates_dir": repo_file("templates") },
        // Responses left open settle quickly, so answer rules run within a test.
        "response_settle_ms": 300,
        "rules": rules,
    })
    .to_string();
    let surveys = SurveyCatalog::load_dir(&repo_file("surveys")).unwrap();
    let projects = Projects::from_json(PROJECTS).unwrap();
    let env = |_: &str| None;
    let cx = Context { surveys: &surveys, checklists: None, projects: &projects, env: &env };
    AutomationsConfig::from_json(&text, Path::new("automations.json"), Path::new("."), &cx)
}

/// A collector with the rules above, its worker running, emails in the test's folder.
struct Trust {
    app: TestApp,
    worker: Option<Worker>,
}

impl Trust {
    async fn new() -> Trust {
        let config = load_rules(rules()).unwrap_or_else(|e| panic!("{e:#?}"));
        let app = TestApp::new(PROJECTS, |s| {
            let outbox = s.config.data_dir.join("../outbox");
            std::fs::create_dir_all(&outbox).unwrap();
            s.with_automations(Some(Automations::new(config, outbox)))
        })
        .await;
        let worker = Worker::start::<Automating>(&app.state);
        Trust { app, worker }
    }

    async fn post_raw(&self, key: &str, events: &[Value], secret: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::post("/v1/events").header(header::CONTENT_TYPE, "application/json");
        if let Some(secret) = secret {
            req = req.header(header::AUTHORIZATION, format!("Bearer {secret}"));
        }
        let body = json!({ "key": key, "events": events }).to_string();
        self.app.send(req.body(Body::from(body)).unwrap()).await
    }

    /// The per-event results of a post without `Origin` (as curl would send it).
    async fn post(&self, key: &str, events: &[Value]) -> Vec<Value> {
        self.app.post(key, events).await
    }

    /// Waits until no queued event, no due response and no pending delivery is left.
    async fn settled(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let waiting = self.app.db.rows("SELECT event_id FROM automation_queue").await.len()
                + self.app.db.rows("SELECT response_id FROM response_queue").await.len()
                + self.app.db.rows("SELECT id FROM outbox WHERE status = 'pending'").await.len();
            if waiting == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "the worker did not settle");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn emails(&self) -> Vec<String> {
        let dir = self.app.state.automations.as_ref().unwrap().outbox_dir.clone();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        files.sort();
        files
    }

    async fn cases(&self, secret: &str) -> Vec<Value> {
        let (status, body) = self.app.secret_get("/v1/cases?status=all", secret).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["cases"].as_array().unwrap().clone()
    }

    async fn deliveries(&self, secret: &str) -> Vec<Value> {
        let (status, body) = self.app.secret_get("/v1/automations/deliveries", secret).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["deliveries"].as_array().unwrap().clone()
    }

    async fn runs(&self, rule: &str) -> Vec<String> {
        self.app.db.strings(&format!("SELECT trigger_id FROM automation_runs WHERE rule_id = '{rule}'")).await
    }

    async fn stop(mut self) {
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
    }
}

fn now_ms() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// An event from browser `anon` (of `user`, proven with its hash, if given), now.
fn event(id: &str, anon: &str, user: Option<&str>, kind: Value) -> Value {
    let mut e = json!({"id": id, "ts": now_ms(), "anonymous_id": anon, "url": "https://app.example.com/"});
    if let Some(user) = user {
        e["user_id"] = json!(user);
        e["user_hash"] = json!(user_hash_of(IDENTITY_SECRET, user));
    }
    e.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
    e
}

fn answer(id: &str, anon: &str, user: Option<&str>, response: &str, question: &str, value: Value) -> Value {
    event(
        id,
        anon,
        user,
        json!({"type": "survey_answered", "survey_id": "nps", "response_id": response, "question_id": question,
               "value": value}),
    )
}

fn completed(id: &str, anon: &str, user: Option<&str>, response: &str, ending: &str, actions: Value) -> Value {
    event(
        id,
        anon,
        user,
        json!({"type": "survey_completed", "survey_id": "nps", "response_id": response, "ending_id": ending,
               "actions": actions}),
    )
}

fn identify(id: &str, anon: &str, user: Option<&str>, traits: Value) -> Value {
    event(id, anon, user, json!({"type": "identify", "traits": traits}))
}

/// A promoter's honest walk to the review request (its ending asks for an email).
fn review_walk(prefix: &str, anon: &str, user: Option<&str>) -> Vec<Value> {
    let r = format!("{prefix}-r");
    vec![
        answer(&format!("{prefix}-1"), anon, user, &r, "score", json!(10)),
        answer(&format!("{prefix}-2"), anon, user, &r, "referral", json!("review")),
        completed(
            &format!("{prefix}-3"),
            anon,
            user,
            &r,
            "promoter_review",
            json!([{"action": "email", "template": "review_request"}]),
        ),
    ]
}

fn statuses(results: &[Value]) -> Vec<(&str, &str)> {
    results.iter().map(|r| (r["id"].as_str().unwrap(), r["status"].as_str().unwrap())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_posts_send_no_email_grant_no_offer_and_open_no_case() {
    let t = Trust::new().await;
    let phishing = "Dana\r\nYour account is locked: sign in at https://evil.example/login";
    let mut forged = vec![
        // 1. Anyone's traits, then an event that sends an email: the recipient is the page's word.
        identify("f-identify", "mallory", None, json!({"email": "victim@example.com", "name": phishing})),
    ];
    forged.extend(review_walk("f-walk", "mallory", None));
    forged.extend([
        // A user id without its proof is not even stored.
        identify("f-as-dana", "mallory", Some("dana"), json!({"email": "victim@example.com"})),
        // 2. The trial offer's ending, never reached, with its offer.
        completed(
            "f-offer",
            "mallory",
            None,
            "f-offer-r",
            "trial_offer",
            json!([{"action": "offer", "code": "trial_extension_14d"}]),
        ),
        // 3. A reached ending with actions it does not have.
        answer("f-actions-1", "mallory", None, "f-actions-r", "score", json!(10)),
        answer("f-actions-2", "mallory", None, "f-actions-r", "referral", json!("later")),
        completed(
            "f-actions",
            "mallory",
            None,
            "f-actions-r",
            "promoter_thanks",
            json!([{"action": "offer", "code": "trial_extension_14d"}]),
        ),
    ]);
    forged[4]["user_hash"] = json!(null);
    let results = t.post("pk_v", &forged).await;
    assert_eq!(
        statuses(&results),
        [
            ("f-identify", "accepted"),
            ("f-walk-1", "accepted"),
            ("f-walk-2", "accepted"),
            ("f-walk-3", "accepted"),
            ("f-as-dana", "rejected"),
            ("f-offer", "rejected"),
            ("f-actions-1", "accepted"),
            ("f-actions-2", "accepted"),
            ("f-actions", "rejected"),
        ]
    );
    let offer_reason = "events[5]: ending \"trial_offer\" is not where this response's stored answers lead (they \
                        lead to question \"score\", not answered yet)";
    let actions_reason = "events[8]: the actions sent are not those of ending \"promoter_thanks\": sent \
                          [{\"action\":\"offer\",\"code\":\"trial_extension_14d\"}], the survey defines []";
    assert_eq!(results[5]["reason"], offer_reason);
    assert_eq!(results[8]["reason"], actions_reason);
    t.settled().await;

    // No email, no offer, no case.
    assert_eq!(t.emails(), Vec::<String>::new());
    assert!(t.runs("trial_extension").await.is_empty(), "the offer's rule ran");
    assert_eq!(t.cases("sk_v").await, Vec::<Value>::new());
    // The review request's rule ran for the honest walk, and had no one to write to.
    let deliveries = t.deliveries("sk_v").await;
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    assert_eq!((&deliveries[0]["rule"], &deliveries[0]["status"]), (&json!("review_request"), &json!("failed")));
    let why = deliveries[0]["last_error"].as_str().unwrap();
    assert!(why.starts_with("no valid recipient for mallory: \"\"") && why.contains("verifies identities"), "{why}");

    // Stored as rejected, with the reason, in the database and through the read API.
    let rejected = t.app.db.rows("SELECT id, rejected FROM events WHERE rejected IS NOT NULL ORDER BY id").await;
    assert_eq!(
        rejected,
        [
            vec![json!("f-actions"), json!(actions_reason.trim_start_matches("events[8]: "))],
            vec![json!("f-offer"), json!(offer_reason.trim_start_matches("events[5]: "))],
        ]
    );
    let (_, listed) = t.app.secret_get("/v1/events?type=survey_completed", "sk_v").await;
    assert_eq!(listed["events"].as_array().unwrap().len(), 3, "{listed}");
    assert_eq!(listed["flags"]["f-offer"]["rejected"], json!(offer_reason.trim_start_matches("events[5]: ")));
    assert!(listed["flags"].get("f-walk-3").is_none(), "{listed}");
    assert!(t.app.db.rows("SELECT id FROM events WHERE id = 'f-as-dana'").await.is_empty());
    // Resending a forged event changes nothing.
    assert_eq!(statuses(&t.post("pk_v", &forged[5..6]).await), [("f-offer", "duplicate")]);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_completion_by_a_verified_user_sends_its_email_exactly_once() {
    let t = Trust::new().await;
    // The host's backend says who Dana is; her page claims another address.
    let (status, body) = t
        .post_raw(
            "pk_v",
            &[identify("srv-1", "backend", None, json!({})), {
                let mut e = identify("srv-2", "backend", None, json!({"email": "dana@example.com", "name": "Dana"}));
                e["user_id"] = json!("dana");
                e
            }],
            Some("sk_v"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = [
        identify("p-1", "laptop", Some("dana"), json!({"email": "victim@example.com", "name": "Dana R."})),
        answer("p-2", "laptop", Some("dana"), "r-dana", "score", json!(3)),
        answer("p-3", "laptop", Some("dana"), "r-dana", "obstacle", json!("not_ready")),
        completed("p-4", "laptop", Some("dana"), "r-dana", "trial_offer", serde_json::from_str(TRIAL_ACTIONS).unwrap()),
    ];
    assert!(t.post("pk_v", &page).await.iter().all(|r| r["status"] == "accepted"));
    // A retried send, and a second completion of the same response.
    assert_eq!(statuses(&t.post("pk_v", &page[3..]).await), [("p-4", "duplicate")]);
    let again =
        completed("p-5", "laptop", Some("dana"), "r-dana", "trial_offer", serde_json::from_str(TRIAL_ACTIONS).unwrap());
    assert_eq!(statuses(&t.post("pk_v", &[again]).await), [("p-5", "rejected")]);
    t.settled().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    t.settled().await;

    let emails = t.emails();
    assert_eq!(emails.len(), 1, "{emails:#?}");
    assert!(emails[0].contains("To: dana@example.com\r\n"), "{}", emails[0]);
    assert!(emails[0].contains("X-Touchpoint-Rule: trial_extension\r\n"));
    assert!(emails[0].contains("(offer trial_extension_14d)"));
    let deliveries = t.deliveries("sk_v").await;
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    assert_eq!((&deliveries[0]["status"], &deliveries[0]["target"]), (&json!("delivered"), &json!("dana@example.com")));
    // Her final score was 3: one detractor case, for this response.
    let cases = t.cases("sk_v").await;
    assert_eq!(cases.len(), 1, "{cases:#?}");
    assert_eq!((&cases[0]["user_id"], &cases[0]["trigger_id"]), (&json!("dana"), &json!("p-2")));
    assert_eq!(t.runs("trial_extension").await, ["response:r-dana"]);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_verified_rules_do_not_run_for_anonymous_people() {
    let t = Trust::new().await;
    let walk = [
        answer("a-1", "anon", None, "r-anon", "score", json!(3)),
        answer("a-2", "anon", None, "r-anon", "obstacle", json!("not_ready")),
        completed("a-3", "anon", None, "r-anon", "trial_offer", serde_json::from_str(TRIAL_ACTIONS).unwrap()),
    ];
    assert!(t.post("pk_v", &walk).await.iter().all(|r| r["status"] == "accepted"));
    t.settled().await;
    // A consistent completion, but nobody verified: the offer's rule does not run; the case rule does.
    assert!(t.runs("trial_extension").await.is_empty());
    assert_eq!(t.runs("detractor").await, ["response:r-anon"]);
    assert!(t.deliveries("sk_v").await.is_empty());
    t.stop().await;

    let mut only_open = rules();
    only_open[0]["project"] = json!("pk_open");
    let problems = load_rules(only_open).unwrap_err();
    assert_eq!(
        problems,
        ["rules[0].require_verified: project \"pk_open\" does not verify identities (it has no identity_secret), so \
          no user is ever verified and this rule could never run"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_3_then_going_back_to_9_opens_no_detractor_case() {
    let t = Trust::new().await;
    let back_to_9 = [
        answer("b-1", "ann", None, "r-back", "score", json!(3)),
        answer("b-2", "ann", None, "r-back", "score", json!(9)),
        answer("b-3", "ann", None, "r-back", "referral", json!("later")),
        completed("b-4", "ann", None, "r-back", "promoter_thanks", json!([])),
    ];
    // Controls: a detractor who completes, and one who leaves at the next question.
    let detractor = [
        answer("d-1", "bob", None, "r-det", "score", json!(4)),
        answer("d-2", "bob", None, "r-det", "obstacle", json!("too_hard")),
        completed("d-3", "bob", None, "r-det", "detractor_thanks", json!([{"action": "webhook"}])),
        answer("l-1", "cy", None, "r-left", "score", json!(2)),
    ];
    let results = t.post("pk_open", &[&back_to_9[..], &detractor[..]].concat()).await;
    assert!(results.iter().all(|r| r["status"] == "accepted"), "{results:#?}");
    t.settled().await;
    let mut cases: Vec<(String, String)> = t
        .cases("sk_open")
        .await
        .iter()
        .map(|c| (c["anonymous_id"].as_str().unwrap().into(), c["trigger_id"].as_str().unwrap().into()))
        .collect();
    cases.sort();
    assert_eq!(cases, [("bob".to_string(), "d-1".to_string()), ("cy".to_string(), "l-1".to_string())]);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_verification_an_address_gets_one_follow_up_email_a_day() {
    let t = Trust::new().await;
    let mut events = vec![
        identify("i-1", "b1", None, json!({"email": "victim@example.com"})),
        identify("i-2", "b2", None, json!({"email": "Victim@Example.com"})),
        identify("i-3", "b3", None, json!({"email": "other@example.com"})),
    ];
    events.extend(review_walk("w1", "b1", None));
    events.extend(review_walk("w2", "b2", None));
    events.extend(review_walk("w3", "b3", None));
    assert!(t.post("pk_open", &events).await.iter().all(|r| r["status"] == "accepted"));
    t.settled().await;
    let deliveries = t.deliveries("sk_open").await;
    let mut got: Vec<(String, String)> = deliveries
        .iter()
        .map(|d| (d["target"].as_str().unwrap().to_lowercase(), d["status"].as_str().unwrap().to_string()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("other@example.com".into(), "delivered".into()),
            ("victim@example.com".into(), "delivered".into()),
            ("victim@example.com".into(), "failed".into()),
        ]
    );
    let over = deliveries.iter().find(|d| d["status"] == "failed").unwrap();
    assert_eq!(over["last_error"], OVER_EMAIL_QUOTA);
    assert_eq!(t.emails().len(), 2);
    t.stop().await;
}

/// Two collectors on one database: the keys, not memory, keep "once per
/// response" and "one email per address per day".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn once_per_response_and_the_daily_quota_hold_across_two_collectors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = common::TestDb::new(&data).await;
    let (a, b) = (db.open(&data).await, db.open(&data).await);
    let now = now_ms();
    let email = |id: &str, trigger: &str, to: &str| OutboxItem {
        id: id.into(),
        project_key: "pk_open".into(),
        rule_id: "review_request".into(),
        trigger_id: trigger.into(),
        kind: "email".into(),
        target: to.into(),
        payload: "…".into(),
        signing_key: None,
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        delivered_at: None,
        last_error: None,
    };
    let run = |id: &str, trigger: &str, to: &str| RunEffects {
        rule_id: "review_request".into(),
        outbox: vec![email(id, trigger, to)],
        one_email_a_day: true,
        ..RunEffects::default()
    };
    // The same response, processed by both at once: one run.
    let (ra, rb) = tokio::join!(
        a.apply_runs("pk_open".into(), "response:r1".into(), None, vec![run("d-a", "e1", "ann@example.com")], now),
        b.apply_runs("pk_open".into(), "response:r1".into(), None, vec![run("d-b", "e1", "ann@example.com")], now),
    );
    assert_eq!(ra.unwrap().len() + rb.unwrap().len(), 1);
    // Two responses emailing the same address on the same day, at once: one email.
    let (ra, rb) = tokio::join!(
        a.apply_runs("pk_open".into(), "response:r2".into(), None, vec![run("d-c", "e2", "victim@example.com")], now),
        b.apply_runs("pk_open".into(), "response:r3".into(), None, vec![run("d-d", "e3", "Victim@example.com")], now),
    );
    assert_eq!(ra.unwrap().len() + rb.unwrap().len(), 2);
    let rows = db.rows("SELECT lower(target), status FROM outbox ORDER BY lower(target), status").await;
    assert_eq!(
        rows,
        [
            vec![json!("ann@example.com"), json!("pending")],
            vec![json!("victim@example.com"), json!("failed")],
            vec![json!("victim@example.com"), json!("pending")],
        ]
    );
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn event_ids_are_unique_per_project_not_across_projects() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    let track = || event("same-id", "b", None, json!({"type": "track", "name": "clicked"}));
    assert_eq!(statuses(&app.post("pk_open", &[track()]).await), [("same-id", "accepted")]);
    assert_eq!(statuses(&app.post("pk_v", &[track()]).await), [("same-id", "accepted")]);
    assert_eq!(statuses(&app.post("pk_open", &[track()]).await), [("same-id", "duplicate")]);
    let rows = app.db.rows("SELECT project_key FROM events WHERE id = 'same-id' ORDER BY project_key").await;
    assert_eq!(rows, [vec![json!("pk_open")], vec![json!("pk_v")]]);
}

#[tokio::test]
async fn a_ts_far_from_the_servers_clock_is_kept_flagged_and_never_wins() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    const HOUR: i64 = 60 * 60 * 1000;
    let at = |id: &str, ts: i64, kind: Value| {
        let mut e = event(id, "b", None, kind);
        e["ts"] = json!(ts);
        e
    };
    let now = now_ms();
    let track = json!({"type": "track", "name": "clicked"});
    let score = |v: u8| json!({"type": "survey_answered", "survey_id": "nps", "response_id": "r", "question_id": "score", "value": v});
    let results = app
        .post(
            "pk_open",
            &[
                at("now", now, track.clone()),
                at("past", now - 49 * HOUR, track.clone()),
                at("ahead", now + 5 * HOUR / 2, track),
                // A score sent with a ts a year ahead, then changed: the later arrival wins.
                at("s-forged", now + 365 * 24 * HOUR, score(9)),
                at("s-final", now, score(2)),
            ],
        )
        .await;
    assert!(results.iter().all(|r| r["status"] == "accepted"), "{results:#?}");
    let (_, listed) = app.secret_get("/v1/events", "sk_open").await;
    assert_eq!(listed["events"].as_array().unwrap().len(), 5);
    let flags = listed["flags"].as_object().unwrap();
    let mut flagged: Vec<&str> = flags.keys().map(String::as_str).collect();
    flagged.sort();
    assert_eq!(flagged, ["ahead", "past", "s-forged"]);
    let past = flags["past"]["ts_flag"].as_str().unwrap();
    assert!(past.starts_with("ts is 2 days behind the server's clock"), "{past}");
    assert_eq!(
        flags["ahead"]["ts_flag"],
        "ts is 2 h ahead of the server's clock; the collector believes ts from 24 h before to 10 min after its own clock"
    );
    let stored = app.db.rows("SELECT id FROM events WHERE ts_flag IS NOT NULL ORDER BY id").await;
    assert_eq!(stored, [vec![json!("ahead")], vec![json!("past")], vec![json!("s-forged")]]);
    let (_, nps) = app.secret_get("/v1/surveys/nps/nps", "sk_open").await;
    assert_eq!((&nps["responses"], &nps["detractors"]), (&json!(1), &json!(1)), "{nps}");
}

#[tokio::test]
async fn reads_by_anonymous_id_obey_identity_verification() {
    let targeting = TargetingCatalog::from_json(
        r#"{"cooldown_hours": 24, "surveys": [{"id": "nps", "recontact_days": 90}]}"#,
        Path::new("targeting.json"),
        &SurveyCatalog::load_dir(&repo_file("surveys")).unwrap(),
    )
    .unwrap();
    let checklists = ChecklistCatalog::load(&repo_file("checklists.json")).unwrap();
    let app = TestApp::new(PROJECTS, |s| s.with_targeting(Some(targeting)).with_checklists(Some(checklists))).await;
    let track = |id: &str, anon: &str, user: Option<&str>| {
        event(id, anon, user, json!({"type": "track", "name": "created_project", "props": {}}))
    };
    for key in ["pk_v", "pk_open"] {
        let events = [track("t1", "laptop", None), track("t2", "laptop", Some("ada")), track("t3", "fresh", None)];
        assert!(app.post(key, &events).await.iter().all(|r| r["status"] == "accepted"));
    }
    let ada_hash = user_hash_of(IDENTITY_SECRET, "ada");
    for route in ["/v1/checklists/state", "/v1/config"] {
        // The verified project: Ada's browser by its anonymous id is refused; ask as Ada, with her proof.
        let (status, body) = app.widget_get(&format!("{route}?key=pk_v&anonymous_id=laptop")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{route}: {body}");
        assert_eq!(body["field"], "anonymous_id");
        assert_eq!(
            body["error"],
            "this project verifies identities, and this browser was identified as a user: read as that user, with \
             ?user_id=…&user_hash=…"
        );
        let (status, body) = app.widget_get(&format!("{route}?key=pk_v&user_id=ada&user_hash={ada_hash}")).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
        // A browser never identified is only itself.
        let (status, body) = app.widget_get(&format!("{route}?key=pk_v&anonymous_id=fresh")).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
        // Without verification, nothing changes: the browser stands for its user.
        let (status, body) = app.widget_get(&format!("{route}?key=pk_open&anonymous_id=laptop")).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
    }
}

#[tokio::test]
async fn the_host_backend_posts_with_the_secret_key_and_a_wrong_key_is_refused() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    let mut e = identify("srv", "backend", None, json!({"email": "dana@example.com"}));
    e["user_id"] = json!("dana");
    let post = |secret: &str| {
        Request::post("/v1/events")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .body(Body::from(json!({"key": "pk_v", "events": [e.clone()]}).to_string()))
            .unwrap()
    };
    for wrong in ["sk_open", "pk_v", "nonsense"] {
        let (status, body) = app.send(post(wrong)).await;
        assert_eq!((status, &body["field"]), (StatusCode::FORBIDDEN, &json!("authorization")), "{wrong}: {body}");
    }
    assert!(app.db.rows("SELECT id FROM events").await.is_empty());
    // The right key: no user_hash needed, stored as the server's.
    let (status, body) = app.send(post("sk_v")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "accepted");
    assert_eq!(app.db.rows("SELECT source, user_id FROM events").await, [vec![json!("server"), json!("dana")]]);
    // The same without the key is a page claiming a user without its proof: refused.
    let mut page = identify("page", "backend", None, json!({}));
    page["user_id"] = json!("dana");
    assert_eq!(statuses(&app.post("pk_v", &[page]).await), [("page", "rejected")]);
}

#[test]
fn content_links_that_leave_the_site_stop_startup_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("billing.md"),
        "---\ntitle: Billing\n---\nSee [your plan](/\\evil.example/plan) or [the docs](//evil.example/docs).\n",
    )
    .unwrap();
    let err = HelpCatalog::load(dir.path()).err().expect("the article loaded").to_string();
    for expected in [
        "billing.md: body: link \"/\\\\evil.example/plan\" contains a backslash",
        "billing.md: body: link \"//evil.example/docs\" starts with //",
    ] {
        assert!(err.contains(expected), "{expected:?} missing from:\n{err}");
    }

    let mut checklists: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_file("checklists.json")).unwrap()).unwrap();
    checklists["checklists"][0]["items"][0]["cta"] = json!({"label": "Go", "url": "//evil.example"});
    let problems = ChecklistCatalog::from_json(&checklists.to_string(), Path::new("checklists.json")).err().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(
            "checklists[0].items[0].cta.url: \"//evil.example\" starts with //, which browsers read as another host"
        ),
        "{problems:?}"
    );
}

/// A database written by the collector before ids were per project: its
/// rows come through the migration, and then another project may reuse an id.
#[tokio::test]
async fn a_database_from_before_per_project_ids_is_migrated_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = common::TestDb::new(&data).await;
    let migration =
        |name: &str| std::fs::read_to_string(repo_file(&format!("crates/collector/migrations/{name}"))).unwrap();
    let old_schema = if db.is_postgres() {
        format!(
            "{}\n{}\nCREATE TABLE touchpoint_schema (version BIGINT PRIMARY KEY, applied_at BIGINT);
             INSERT INTO touchpoint_schema VALUES (1, 0), (2, 0);",
            migration("postgres/0001_schema.sql"),
            migration("postgres/0002_accounts.sql")
        )
    } else {
        let files = ["0001_events.sql", "0002_events_by_user.sql", "0003_automations.sql", "0004_accounts.sql"];
        format!("{}\nPRAGMA user_version = 4;", files.map(migration).join("\n"))
    };
    db.execute_batch(&old_schema).await;
    db.execute_batch(
        "INSERT INTO events (id, project_key, type, ts, received_at, anonymous_id, url, body)
         VALUES ('e2', 'pk_open', 'track', 1, 1, 'b', 'u', '{\"id\":\"e2\"}'),
                ('e1', 'pk_open', 'track', 1, 1, 'b', 'u', '{\"id\":\"e1\"}');
         INSERT INTO automation_queue (event_id, project_key, enqueued_at) VALUES ('e2', 'pk_open', 1);
         INSERT INTO cases (id, project_key, rule_id, trigger_id, title, detail, status, created_at)
         VALUES ('help-e1', 'pk_open', 'help_contact', 'e1', 't', '{}', 'open', 1);",
    )
    .await;
    let store = db.open(&data).await;
    let listed = store
        .list_events(touchpoint_collector::store::EventFilter {
            project_key: "pk_open".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e2", "e1"], "arrival order kept");
    assert!(listed.iter().all(|e| e.rejected.is_none() && e.ts_flag.is_none() && e.source == "page"));
    assert_eq!(db.strings("SELECT event_id FROM automation_queue").await, ["e2"]);
    assert_eq!(db.strings("SELECT id FROM cases").await, ["help-e1"]);
    store.close().await;

    let store = db.open(&data).await;
    let event = |id: &str| {
        touchpoint_collector::store::NewEvent::new(
            serde_json::from_value(
                json!({"id": id, "ts": 1, "anonymous_id": "b", "url": "u", "type": "track", "name": "x"}),
            )
            .unwrap(),
            "{}".into(),
        )
    };
    use touchpoint_protocol::EventStatus::{Accepted, Duplicate};
    assert_eq!(store.insert("pk_v".into(), 2, vec![event("e1")]).await.unwrap(), [Accepted]);
    assert_eq!(store.insert("pk_open".into(), 2, vec![event("e1")]).await.unwrap(), [Duplicate]);
    store.close().await;
}
