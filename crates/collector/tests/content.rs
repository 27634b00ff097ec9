//! Content per project through `router(state)`: drafts validated with every
//! problem by path, publishes that the widget's next read gets (with an
//! ETag), versions with who, when and what changed, rollback, two projects
//! with different surveys under one id, survey events read against the
//! version they name, and pushes from files that refuse to overwrite
//! dashboard edits. Runs on SQLite, and on Postgres when `DATABASE_URL` is set.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

mod common;
use common::app::{event, TestApp};

const PROJECTS: &str = r#"[
    {"public_key": "pk_a", "secret_key": "sk_a", "allowed_origins": ["*"]},
    {"public_key": "pk_b", "secret_key": "sk_b", "allowed_origins": ["*"]}
]"#;

/// A CSAT survey whose question and thank-you say `text`.
fn csat(text: &str) -> Value {
    json!({
        "id": "csat",
        "title": "Quick question",
        "questions": [
            { "id": "score", "kind": "rating", "max": 5, "text": text,
              "rules": [ { "when": { "score": { "min": 1, "max": 3 } }, "next": "why" },
                         { "when": "any", "next": "thanks" } ] },
            { "id": "why", "kind": "text", "text": "What could we do better?", "optional": true, "next": "thanks" }
        ],
        "endings": [ { "id": "thanks", "message": "Thank you!" } ]
    })
}

struct Call {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn call(t: &TestApp, method: Method, uri: &str, secret: Option<&str>, body: Option<&Value>) -> Call {
    call_with(t, method, uri, secret, body, &[]).await
}

async fn call_with(
    t: &TestApp,
    method: Method,
    uri: &str,
    secret: Option<&str>,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> Call {
    let mut req = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(s) = secret {
        req = req.header(header::AUTHORIZATION, format!("Bearer {s}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).unwrap();
    let res = t.app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Call { status, headers, body }
}

/// Saves `body` as the draft of survey `id` and publishes it as `who`; the new version.
async fn publish(t: &TestApp, secret: &str, id: &str, body: &Value, who: &str) -> i64 {
    let author = [("x-touchpoint-author", who)];
    let uri = format!("/v1/content/surveys/{id}/draft");
    let saved = call_with(t, Method::PUT, &uri, Some(secret), Some(body), &author).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let uri = format!("/v1/content/surveys/{id}/publish");
    let done = call_with(t, Method::POST, &uri, Some(secret), None, &author).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    done.body["version"].as_i64().unwrap()
}

/// The card form the widget of project `key` reads now.
async fn card(t: &TestApp, key: &str, id: &str) -> Call {
    call(t, Method::GET, &format!("/v1/surveys/{id}?form=card&key={key}"), None, None).await
}

async fn app() -> TestApp {
    TestApp::new(PROJECTS, |s| s).await
}

#[tokio::test]
async fn a_publish_is_what_the_next_load_gets_with_its_version_and_etag() {
    let t = app().await;
    assert_eq!(card(&t, "pk_a", "csat").await.status, StatusCode::NOT_FOUND);

    assert_eq!(publish(&t, "sk_a", "csat", &csat("How satisfied are you?"), "Ada").await, 1);
    let first = card(&t, "pk_a", "csat").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["version"], 1);
    assert_eq!(first.body["questions"][0]["text"], "How satisfied are you?");
    assert_eq!(first.headers[header::CACHE_CONTROL], "no-cache");
    let etag = first.headers[header::ETAG].to_str().unwrap().to_string();

    let again =
        call_with(&t, Method::GET, "/v1/surveys/csat?form=card&key=pk_a", None, None, &[("if-none-match", &etag)])
            .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);

    assert_eq!(publish(&t, "sk_a", "csat", &csat("How was your chat with us?"), "Ben").await, 2);
    let second =
        call_with(&t, Method::GET, "/v1/surveys/csat?form=card&key=pk_a", None, None, &[("if-none-match", &etag)])
            .await;
    assert_eq!(second.status, StatusCode::OK, "a new version is a new tag");
    assert_eq!(second.body["version"], 2);
    assert_eq!(second.body["questions"][0]["text"], "How was your chat with us?");
    assert_ne!(second.headers[header::ETAG].to_str().unwrap(), etag);

    // The definition itself, as published, for the same project.
    let definition = call(&t, Method::GET, "/v1/surveys/csat?key=pk_a", None, None).await;
    assert_eq!(definition.body, csat("How was your chat with us?"));
    // An unknown key is refused rather than served the files' survey.
    assert_eq!(card(&t, "pk_nobody", "nps").await.status, StatusCode::UNAUTHORIZED);
    // A project that never published an id gets the collector's file of it.
    assert_eq!(card(&t, "pk_a", "nps").await.body["id"], "nps");
    assert!(card(&t, "pk_a", "nps").await.body.get("version").is_none());
}

#[tokio::test]
async fn two_projects_hold_different_surveys_under_one_id() {
    let t = app().await;
    publish(&t, "sk_a", "csat", &csat("A's question"), "Ada").await;
    publish(&t, "sk_b", "csat", &csat("B's question"), "Bo").await;
    publish(&t, "sk_b", "csat", &csat("B's second question"), "Bo").await;

    assert_eq!(card(&t, "pk_a", "csat").await.body["questions"][0]["text"], "A's question");
    assert_eq!(card(&t, "pk_a", "csat").await.body["version"], 1);
    assert_eq!(card(&t, "pk_b", "csat").await.body["questions"][0]["text"], "B's second question");
    assert_eq!(card(&t, "pk_b", "csat").await.body["version"], 2);
    // Without a project, only the files' surveys are served.
    assert_eq!(call(&t, Method::GET, "/v1/surveys/csat?form=card", None, None).await.status, StatusCode::NOT_FOUND);

    let a = call(&t, Method::GET, "/v1/content/surveys/csat/versions", Some("sk_a"), None).await;
    let versions: Vec<i64> =
        a.body["versions"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [1], "{}", a.body);
    let a_item = call(&t, Method::GET, "/v1/content/surveys/csat", Some("sk_a"), None).await;
    assert_eq!(a_item.body["live"]["body"]["questions"][0]["text"], "A's question");
    assert_eq!(a_item.body["live"]["published_by"], "Ada");
    // B's secret key reads B's content only.
    let b_item = call(&t, Method::GET, "/v1/content/surveys/csat", Some("sk_b"), None).await;
    assert_eq!(b_item.body["live"]["body"]["questions"][0]["text"], "B's second question");
    let list = call(&t, Method::GET, "/v1/content/surveys", Some("sk_a"), None).await;
    let csat_row = list.body["items"].as_array().unwrap().iter().find(|i| i["id"] == "csat").unwrap().clone();
    assert_eq!(csat_row["version"], 1);
    assert_eq!(csat_row["published_by"], "Ada");
    // No key, no content.
    assert_eq!(call(&t, Method::GET, "/v1/content/surveys", None, None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_invalid_draft_is_422_with_every_problem_and_is_never_published() {
    let t = app().await;
    publish(&t, "sk_a", "csat", &csat("How satisfied are you?"), "Ada").await;

    // The follow-up question is deleted, but a rule still jumps to it; and the scale is wrong.
    let mut broken = csat("How satisfied are you?");
    broken["questions"].as_array_mut().unwrap().remove(1);
    broken["questions"][0]["max"] = json!(0);
    let refused = call(&t, Method::PUT, "/v1/content/surveys/csat/draft", Some("sk_a"), Some(&broken)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    let paths: Vec<&str> =
        refused.body["problems"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"questions[0].rules[0].next"), "{paths:?}");
    assert!(paths.contains(&"questions[0].max"), "{paths:?}");
    let jump = refused.body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "questions[0].rules[0].next")
        .unwrap();
    assert!(jump["message"].as_str().unwrap().contains("\"why\""), "{jump}");

    // Nothing was kept, so there is nothing to publish; the live version is untouched.
    let item = call(&t, Method::GET, "/v1/content/surveys/csat", Some("sk_a"), None).await;
    assert_eq!(item.body["draft"], Value::Null);
    let publish = call(&t, Method::POST, "/v1/content/surveys/csat/publish", Some("sk_a"), None).await;
    assert_eq!(publish.status, StatusCode::CONFLICT, "{}", publish.body);
    assert_eq!(card(&t, "pk_a", "csat").await.body["version"], 1);
    let rows = t.db.rows("SELECT COUNT(*) FROM content_versions").await;
    assert_eq!(rows[0][0], json!(1));

    // A survey saved under an id other than its own is refused too, naming `id`.
    let elsewhere = call(&t, Method::PUT, "/v1/content/surveys/other/draft", Some("sk_a"), Some(&csat("x"))).await;
    assert_eq!(elsewhere.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(elsewhere.body["problems"][0]["path"], "id");
}

#[tokio::test]
async fn versions_say_who_when_and_what_changed_and_a_rollback_is_served_next() {
    let t = app().await;
    publish(&t, "sk_a", "csat", &csat("First wording"), "Ada").await;
    publish(&t, "sk_a", "csat", &csat("Second wording"), "Ben").await;

    let history = call(&t, Method::GET, "/v1/content/surveys/csat/versions", Some("sk_a"), None).await;
    let v2 = &history.body["versions"][0];
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["published_by"], "Ben");
    assert!(v2["published_at"].as_i64().unwrap() > 1_700_000_000_000);
    assert_eq!(
        v2["changes"],
        json!([{ "path": "questions[0].text", "before": "First wording", "after": "Second wording" }])
    );
    assert_eq!(history.body["versions"][1]["changes"][0]["path"], "", "version 1 is new as a whole");

    let back = call_with(
        &t,
        Method::POST,
        "/v1/content/surveys/csat/rollback",
        Some("sk_a"),
        Some(&json!({ "version": 1 })),
        &[("x-touchpoint-author", "Cy")],
    )
    .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(back.body["version"], 3);
    let served = card(&t, "pk_a", "csat").await;
    assert_eq!(served.body["questions"][0]["text"], "First wording");
    assert_eq!(served.body["version"], 3);
    let v3 = call(&t, Method::GET, "/v1/content/surveys/csat/versions/3", Some("sk_a"), None).await;
    assert_eq!(v3.body["note"], "rollback to version 1");
    assert_eq!(v3.body["published_by"], "Cy");
    assert_eq!(v3.body["body"], csat("First wording"));

    let missing =
        call(&t, Method::POST, "/v1/content/surveys/csat/rollback", Some("sk_a"), Some(&json!({"version": 9}))).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["field"], "version");
}

#[tokio::test]
async fn a_publish_from_a_stale_version_is_refused() {
    let t = app().await;
    publish(&t, "sk_a", "csat", &csat("One"), "Ada").await;
    let put = call(&t, Method::PUT, "/v1/content/surveys/csat/draft", Some("sk_a"), Some(&csat("Two"))).await;
    assert_eq!(put.status, StatusCode::OK);
    // Someone else's edit started from version 0 (before the first publish).
    let stale =
        call(&t, Method::POST, "/v1/content/surveys/csat/publish", Some("sk_a"), Some(&json!({"after": 0}))).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(stale.body["error"].as_str().unwrap().contains("version 1"), "{}", stale.body);
    let fresh =
        call(&t, Method::POST, "/v1/content/surveys/csat/publish", Some("sk_a"), Some(&json!({"after": 1}))).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    assert_eq!(fresh.body["version"], 2);
}

#[tokio::test]
async fn answers_are_read_against_the_version_they_name() {
    let t = app().await;
    publish(&t, "sk_a", "csat", &csat("How satisfied are you?"), "Ada").await;
    // Version 2 drops the follow-up question.
    let mut v2 = csat("How satisfied are you?");
    v2["questions"].as_array_mut().unwrap().remove(1);
    v2["questions"][0]["rules"] = json!([{ "when": "any", "next": "thanks" }]);
    publish(&t, "sk_a", "csat", &v2, "Ada").await;

    let ev = |response: &str, version: u32, kind: Value| {
        let mut e = event("anon1", None, 1_700_000_000_000, kind);
        e["survey_id"] = json!("csat");
        e["response_id"] = json!(response);
        e["survey_version"] = json!(version);
        e
    };
    // Shown version 1 before the publish: its follow-up still counts.
    let old = [
        ev("r1", 1, json!({"type": "survey_shown"})),
        ev("r1", 1, json!({"type": "survey_answered", "question_id": "score", "value": 2})),
        ev("r1", 1, json!({"type": "survey_answered", "question_id": "why", "value": "Slow replies"})),
    ];
    let results = t.post("pk_a", &old).await;
    assert!(results.iter().all(|r| r["status"] == "accepted"), "{results:?}");
    // The same answer claiming version 2 contradicts it.
    let new = [
        ev("r2", 2, json!({"type": "survey_answered", "question_id": "score", "value": 2})),
        ev("r2", 2, json!({"type": "survey_answered", "question_id": "why", "value": "Slow replies"})),
    ];
    let results = t.post("pk_a", &new).await;
    assert_eq!(results[0]["status"], "accepted", "{results:?}");
    assert_eq!(results[1]["status"], "rejected", "{results:?}");

    let stored = call(&t, Method::GET, "/v1/events?survey_id=csat&type=survey_answered", Some("sk_a"), None).await;
    let versions: Vec<&Value> =
        stored.body["events"].as_array().unwrap().iter().map(|e| &e["survey_version"]).collect();
    assert!(versions.contains(&&json!(1)) && versions.contains(&&json!(2)), "{}", stored.body);

    // The dashboard lists the project's survey with its live version.
    let list = call(&t, Method::GET, "/v1/dashboard/surveys", Some("sk_a"), None).await;
    let row = list.body["surveys"].as_array().unwrap().iter().find(|s| s["id"] == "csat").cloned();
    assert_eq!(row.map(|r| r["version"].clone()), Some(json!(2)), "{}", list.body);
}

fn item(kind: &str, id: &str, file: &str, body: Value) -> Value {
    json!({ "kind": kind, "id": id, "file": file, "body": body })
}

#[tokio::test]
async fn a_push_publishes_files_and_refuses_to_overwrite_dashboard_edits() {
    let t = app().await;
    let files = json!({ "items": [
        item("surveys", "csat", "surveys/csat.json", csat("From the repository")),
        item("targeting", "default", "targeting.json", json!({ "surveys": [{ "id": "csat" }] })),
        item("help", "billing", "help/billing.md", json!({ "markdown": "---\ntitle: Billing\n---\nPay us." })),
    ]});
    let first = call(&t, Method::POST, "/v1/content/push", Some("sk_a"), Some(&files)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["published"].as_array().unwrap().len(), 3, "{}", first.body);
    assert_eq!(card(&t, "pk_a", "csat").await.body["questions"][0]["text"], "From the repository");

    let again = call(&t, Method::POST, "/v1/content/push", Some("sk_a"), Some(&files)).await;
    assert_eq!(again.body["published"], json!([]));
    assert_eq!(again.body["unchanged"].as_array().unwrap().len(), 3);

    // Edited in the dashboard, then the repository's (older) file is pushed again.
    publish(&t, "sk_a", "csat", &csat("Edited in the dashboard"), "Ada").await;
    let mut changed = files.clone();
    changed["items"][2]["body"]["markdown"] = json!("---\ntitle: Billing\n---\nPay us, please.");
    let refused = call(&t, Method::POST, "/v1/content/push", Some("sk_a"), Some(&changed)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let message = refused.body["error"].as_str().unwrap();
    assert!(
        message.contains("surveys/csat.json: survey \"csat\": version 2 was published in the dashboard by Ada"),
        "{message}"
    );
    // All or nothing: the help article that had no conflict was not published either.
    let help = call(&t, Method::GET, "/v1/content/help/billing/versions", Some("sk_a"), None).await;
    assert_eq!(help.body["versions"].as_array().unwrap().len(), 1);
    assert_eq!(card(&t, "pk_a", "csat").await.body["questions"][0]["text"], "Edited in the dashboard");

    let mut forced = changed.clone();
    forced["overwrite"] = json!(true);
    let done = call(&t, Method::POST, "/v1/content/push", Some("sk_a"), Some(&forced)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(card(&t, "pk_a", "csat").await.body["questions"][0]["text"], "From the repository");

    // A file with problems: every one named with its file and path, nothing published.
    let bad = json!({ "items": [
        item("surveys", "csat", "surveys/csat.json", json!({ "id": "csat", "questions": [] })),
        item("targeting", "default", "targeting.json", json!({ "surveys": [{ "id": "nowhere" }] })),
    ]});
    let invalid = call(&t, Method::POST, "/v1/content/push", Some("sk_a"), Some(&bad)).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", invalid.body);
    let problems = invalid.body["problems"].as_array().unwrap();
    assert!(problems.iter().any(|p| p["file"] == "surveys/csat.json"), "{problems:?}");
    assert!(problems.iter().any(|p| p["file"] == "targeting.json" && p["path"] == "surveys[0].id"), "{problems:?}");
}

/// Two collectors on one Postgres (how the collector scales out; SQLite is
/// one collector's own file): a publish through one is served by the other
/// on the next load, and of two publishes from the same version exactly one wins.
#[tokio::test]
async fn two_collectors_share_content_and_never_both_publish_one_version() {
    let one = app().await;
    if !one.db.is_postgres() {
        return;
    }
    let store = one.db.open(&one.dir.path().join("data")).await;
    let surveys = touchpoint_collector::catalog::SurveyCatalog::load_dir(&common::app::repo_file("surveys")).unwrap();
    let config = (*one.state.config).clone();
    let projects = touchpoint_collector::projects::Projects::from_json(PROJECTS).unwrap();
    let state = touchpoint_collector::AppState::new(config, projects, store, surveys);
    let two = TestApp {
        app: touchpoint_collector::router(state.clone()),
        state,
        db: one.db.clone(),
        dir: tempfile::tempdir().unwrap(),
    };

    publish(&one, "sk_a", "csat", &csat("Through the first"), "Ada").await;
    assert_eq!(card(&two, "pk_a", "csat").await.body["questions"][0]["text"], "Through the first");

    for (t, text) in [(&one, "Edit one"), (&two, "Edit two")] {
        let put = call(t, Method::PUT, "/v1/content/surveys/csat/draft", Some("sk_a"), Some(&csat(text))).await;
        assert_eq!(put.status, StatusCode::OK);
    }
    let after = json!({ "after": 1 });
    let (a, b) = tokio::join!(
        call(&one, Method::POST, "/v1/content/surveys/csat/publish", Some("sk_a"), Some(&after)),
        call(&two, Method::POST, "/v1/content/surveys/csat/publish", Some("sk_a"), Some(&after)),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{} {}", a.body, b.body);
    let rows = one.db.rows("SELECT version FROM content_versions ORDER BY version").await;
    assert_eq!(rows, vec![vec![json!(1)], vec![json!(2)]]);
}

#[tokio::test]
async fn published_targeting_and_help_reach_the_widget_of_their_project_only() {
    let t = app().await;
    let files = json!({ "items": [
        item("surveys", "csat", "surveys/csat.json", csat("How was it?")),
        item("targeting", "default", "targeting.json", json!({ "surveys": [{ "id": "csat", "priority": 3 }] })),
        item("help", "billing", "help/billing.md", json!({ "markdown": "---\ntitle: Billing\n---\nPay us." })),
    ]});
    assert_eq!(call(&t, Method::POST, "/v1/content/push", Some("sk_a"), Some(&files)).await.status, StatusCode::OK);

    let (status, config) = t.widget_get("/v1/config?key=pk_a&anonymous_id=a1").await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(config["targeting"]["surveys"][0], json!({ "id": "csat", "priority": 3 }));
    let (_, other) = t.widget_get("/v1/config?key=pk_b&anonymous_id=a1").await;
    assert_eq!(other["targeting"], Value::Null, "this collector has no targeting file");

    let (status, help) = t.widget_get("/v1/help?key=pk_a").await;
    assert_eq!(status, StatusCode::OK, "{help}");
    assert_eq!(help["articles"][0]["id"], "billing");
    assert_eq!(help["articles"][0]["title"], "Billing");
    assert_eq!(t.widget_get("/v1/help?key=pk_b").await.0, StatusCode::NOT_FOUND);

    // A new version is what the next read gets.
    let put =
        call(&t, Method::PUT, "/v1/content/targeting/default/draft", Some("sk_a"), Some(&json!({ "surveys": [] })))
            .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(
        call(&t, Method::POST, "/v1/content/targeting/default/publish", Some("sk_a"), None).await.status,
        StatusCode::OK
    );
    let (_, config) = t.widget_get("/v1/config?key=pk_a&anonymous_id=a1").await;
    assert_eq!(config["targeting"], json!({ "surveys": [] }));

    // Targeting may only name the project's surveys.
    let bad = json!({ "surveys": [{ "id": "nowhere" }] });
    let refused = call(&t, Method::PUT, "/v1/content/targeting/default/draft", Some("sk_b"), Some(&bad)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["problems"][0]["path"], "surveys[0].id");
}

#[tokio::test]
async fn published_checklists_decide_the_projects_checklist_and_progress() {
    let t = app().await;
    let mine = json!({
        "segments": [{ "id": "everyone", "checklist": "first_steps" }],
        "checklists": [{ "id": "first_steps", "title": "First steps",
                         "items": [{ "id": "invite", "title": "Invite a colleague",
                                     "complete_when": { "event": "invited_colleague" } }] }]
    });
    let put = call(&t, Method::PUT, "/v1/content/checklists/default/draft", Some("sk_a"), Some(&mine)).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(
        call(&t, Method::POST, "/v1/content/checklists/default/publish", Some("sk_a"), None).await.status,
        StatusCode::OK
    );

    let (status, definition) = t.widget_get("/v1/checklists?key=pk_a").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(definition["checklists"][0]["id"], "first_steps");
    assert_eq!(
        t.widget_get("/v1/checklists?key=pk_b").await.0,
        StatusCode::NOT_FOUND,
        "B has none, nor has the collector"
    );

    let results = t
        .post("pk_a", &[event("anon9", None, 1_700_000_000_000, json!({"type": "track", "name": "invited_colleague"}))])
        .await;
    assert_eq!(results[0]["status"], "accepted");
    let (status, progress) = t.widget_get("/v1/checklists/state?key=pk_a&anonymous_id=anon9").await;
    assert_eq!(status, StatusCode::OK, "{progress}");
    assert_eq!(progress["checklist"]["id"], "first_steps");
    assert!(progress["progress"]["completed"].get("invite").is_some(), "{progress}");

    // An invalid checklist is refused by path.
    let bad = json!({ "segments": [{ "id": "everyone", "checklist": "missing" }], "checklists": [] });
    let refused = call(&t, Method::PUT, "/v1/content/checklists/default/draft", Some("sk_a"), Some(&bad)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(!refused.body["problems"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_help_preview_is_the_widgets_safe_markdown_and_needs_the_secret_key() {
    let t = app().await;
    let markdown = "---\ntitle: Hostile\n---\n<script>alert(1)</script> <img src=x onerror=alert(2)>\n\n\
                    [javascript link](javascript:alert(3)) and [ours](/settings) **bold**";
    let body = json!({ "markdown": markdown });
    let uri = "/v1/content/help/hostile/render";
    assert_eq!(call(&t, Method::POST, uri, None, Some(&body)).await.status, StatusCode::UNAUTHORIZED);
    let r = call(&t, Method::POST, uri, Some("sk_a"), Some(&body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["title"], "Hostile");
    let paragraph = &r.body["blocks"][0]["children"];
    assert_eq!(paragraph[0], json!({"type": "text", "text": "<script>alert(1)</script> <img src=x onerror=alert(2)>"}));
    let second = r.body["blocks"][1]["children"].as_array().unwrap();
    // The unsafe link keeps its text (set apart) and loses its target; the safe one stays a link.
    assert_eq!(second[0], json!({"type": "emph", "children": [{"type": "text", "text": "javascript link"}]}));
    assert!(
        second.contains(&json!({"type": "link", "href": "/settings", "children": [{"type": "text", "text": "ours"}]}))
    );
    assert!(!r.body.to_string().contains("javascript:"), "{}", r.body);

    // A front-matter problem is named by the path the draft's 422 uses.
    let r = call(&t, Method::POST, uri, Some("sk_a"), Some(&json!({"markdown": "---\ntitle: \n---\nx"}))).await;
    assert_eq!(r.body["problems"][0]["path"], "markdown.title", "{}", r.body);
}

#[tokio::test]
async fn the_editors_open_the_files_checklists_targeting_and_help_until_a_project_publishes_its_own() {
    use touchpoint_collector::catalog::SurveyCatalog;
    use touchpoint_collector::checklists::ChecklistCatalog;
    use touchpoint_collector::help::HelpCatalog;
    use touchpoint_collector::targeting::TargetingCatalog;
    let repo = |f: &str| common::app::repo_file(f);
    let surveys = SurveyCatalog::load_dir(&repo("surveys")).unwrap();
    let targeting = TargetingCatalog::load(&repo("targeting.json"), &surveys).unwrap();
    let t = TestApp::new(PROJECTS, |s| {
        s.with_checklists(Some(ChecklistCatalog::load(&repo("checklists.json")).unwrap()))
            .with_help(Some(HelpCatalog::load(&repo("help")).unwrap()))
            .with_targeting(Some(targeting))
    })
    .await;
    let r = call(&t, Method::GET, "/v1/content/checklists/default", Some("sk_a"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["files"]["checklists"][0]["id"], "get_started");
    assert_eq!(r.body["live"], Value::Null);
    let r = call(&t, Method::GET, "/v1/content/targeting/default", Some("sk_a"), None).await;
    assert_eq!(r.body["files"]["surveys"][1]["id"], "nps", "{}", r.body);
    let r = call(&t, Method::GET, "/v1/content/help/import-csv", Some("sk_a"), None).await;
    let text = r.body["files"]["markdown"].as_str().unwrap();
    assert!(text.starts_with("---\ntitle: Import projects from a CSV file"), "{text}");
    let r = call(&t, Method::GET, "/v1/content/help", Some("sk_a"), None).await;
    let files: Vec<&Value> = r.body["items"].as_array().unwrap().iter().filter(|i| i["source"] == "files").collect();
    assert_eq!(files.len(), 6, "{}", r.body);
    // Only an article the files hold is read from the folder.
    let r = call(&t, Method::GET, "/v1/content/help/..%2Fchecklists", Some("sk_a"), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}
