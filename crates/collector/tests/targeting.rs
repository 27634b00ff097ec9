//! Remote config (`GET /v1/config`) and identity verification, through
//! `router(state)`: the targeting file as served, each person's facts folded
//! from their stored events on every device, and a project with an identity
//! secret refusing user ids that come without their HMAC — on ingest, on the
//! config read and on the checklist-progress read.

use std::path::Path;

use axum::http::StatusCode;
use serde_json::{json, Value};
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::checklists::ChecklistCatalog;
use touchpoint_collector::projects::user_hash_of;
use touchpoint_collector::targeting::TargetingCatalog;

mod common;
use common::app::{event, repo_file, TestApp};

const SECRET_ID: &str = "a-long-identity-secret-for-tests";
const PROJECTS: &str = r#"[
    {"public_key": "pk_open", "secret_key": "sk_open", "allowed_origins": ["https://app.example.com"]},
    {"public_key": "pk_verified", "secret_key": "sk_verified", "allowed_origins": ["https://app.example.com"],
     "identity_secret": "a-long-identity-secret-for-tests"}
]"#;
const TARGETING: &str = r#"{"cooldown_hours": 24, "surveys": [
    {"id": "nps", "recontact_days": 90, "targeting": {"urls": ["/app/*"], "event": {"name": "report_created", "count": 3}}}
]}"#;
const T0: i64 = 1_700_000_000_000;

fn surveys() -> SurveyCatalog {
    SurveyCatalog::load_dir(&repo_file("surveys")).unwrap()
}

async fn app() -> TestApp {
    let targeting = TargetingCatalog::from_json(TARGETING, Path::new("targeting.json"), &surveys()).unwrap();
    let checklists = ChecklistCatalog::load(&repo_file("checklists.json")).unwrap();
    TestApp::new(PROJECTS, |s| s.with_targeting(Some(targeting)).with_checklists(Some(checklists))).await
}

fn track(name: &str) -> Value {
    json!({"type": "track", "name": name})
}

fn shown(survey: &str) -> Value {
    json!({"type": "survey_shown", "survey_id": survey, "response_id": "r1"})
}

fn accepted(results: &[Value]) -> bool {
    results.iter().all(|r| r["status"] == "accepted")
}

#[tokio::test]
async fn config_serves_the_targeting_file_and_the_persons_facts_from_every_device() {
    let app = app().await;
    // Laptop: tracked twice, then saw the NPS survey. Phone: tracked once more, later.
    let events = [
        event("laptop", None, T0, track("report_created")),
        event("laptop", Some("ada"), T0 + 10, track("report_created")),
        event("laptop", Some("ada"), T0 + 20, shown("nps")),
        event("phone", Some("ada"), T0 + 30, track("report_created")),
        event("phone", Some("ada"), T0 + 40, json!({"type": "page", "props": {}})),
        event("stranger", None, T0 - 5, track("report_created")),
    ];
    assert!(accepted(&app.post("pk_open", &events).await));

    let (status, body) = app.widget_get("/v1/config?key=pk_open&user_id=ada").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["targeting"], serde_json::from_str::<Value>(TARGETING).unwrap());
    assert_eq!(
        body["facts"],
        json!({"first_seen_ms": T0, "event_counts": {"report_created": 3}, "last_shown_ms": {"nps": T0 + 20},
               "last_kind_ms": {"survey": T0 + 20}})
    );
    // The laptop, read by its anonymous id, is Ada (identified there).
    let (_, by_browser) = app.widget_get("/v1/config?key=pk_open&anonymous_id=laptop").await;
    assert_eq!(by_browser["facts"], body["facts"]);
    // A browser never identified is a person of its own.
    let (_, stranger) = app.widget_get("/v1/config?key=pk_open&anonymous_id=stranger").await;
    assert_eq!(
        stranger["facts"],
        json!({"first_seen_ms": T0 - 5, "event_counts": {"report_created": 1}, "last_shown_ms": {}, "last_kind_ms": {}})
    );
    // Someone unknown: no facts yet.
    let (_, nobody) = app.widget_get("/v1/config?key=pk_open&user_id=nobody").await;
    assert_eq!(
        nobody["facts"],
        json!({"first_seen_ms": null, "event_counts": {}, "last_shown_ms": {}, "last_kind_ms": {}})
    );
    // Another project's events are not this project's.
    let (_, other) = app.widget_get("/v1/config?key=pk_verified&anonymous_id=laptop").await;
    assert_eq!(other["facts"]["event_counts"], json!({}));
}

#[tokio::test]
async fn config_without_targeting_says_null_and_needs_a_person() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    let (status, body) = app.widget_get("/v1/config?key=pk_open&anonymous_id=a").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["targeting"], Value::Null);
    let (status, body) = app.widget_get("/v1/config?key=pk_open").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "user_id", "{body}");
    let (status, _) = app.widget_get("/v1/config?anonymous_id=a").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn identity_verification_rejects_forged_user_ids_everywhere() {
    let app = app().await;
    let good = user_hash_of(SECRET_ID, "ada");
    let forged = user_hash_of("some-other-secret-entirely", "ada");
    let mut signed = event("laptop", Some("ada"), T0, track("report_created"));
    signed["user_hash"] = json!(good);
    let mut wrong = event("laptop", Some("ada"), T0 + 1, track("report_created"));
    wrong["user_hash"] = json!(forged);
    let unsigned = event("laptop", Some("ada"), T0 + 2, track("report_created"));
    let anonymous = event("laptop", None, T0 + 3, track("report_created"));

    let results = app.post("pk_verified", &[signed, wrong, unsigned, anonymous]).await;
    let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["accepted", "rejected", "rejected", "accepted"], "{results:?}");
    assert!(results[1]["reason"].as_str().unwrap().starts_with("events[1].user_hash: user_hash is not the HMAC"));
    assert!(results[2]["reason"].as_str().unwrap().contains("needs its user_hash"), "{results:?}");

    // The stored event does not keep the hash.
    let (_, stored) = app.secret_get("/v1/events", "sk_verified").await;
    let stored = stored["events"].as_array().unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|e| e.get("user_hash").is_none()), "{stored:?}");

    for read in ["/v1/config", "/v1/checklists/state"] {
        for (hash, why) in [("", "needs its user_hash"), (forged.as_str(), "is not the HMAC")] {
            let (status, body) = app.widget_get(&format!("{read}?key=pk_verified&user_id=ada&user_hash={hash}")).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{read} {body}");
            assert_eq!(body["field"], "user_hash", "{body}");
            assert!(body["error"].as_str().unwrap_or_default().contains(why), "{body}");
        }
        let (status, body) = app.widget_get(&format!("{read}?key=pk_verified&user_id=ada&user_hash={good}")).await;
        assert_eq!(status, StatusCode::OK, "{read} {body}");
    }
    let (_, body) = app.widget_get(&format!("/v1/config?key=pk_verified&user_id=ada&user_hash={good}")).await;
    assert_eq!(body["facts"]["event_counts"], json!({"report_created": 2}));
    // The open project still takes user ids as given.
    let (status, _) = app.widget_get("/v1/config?key=pk_open&user_id=ada").await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn a_targeting_file_is_checked_against_the_surveys_and_names_every_problem() {
    let file = Path::new("targeting.json");
    let problems =
        TargetingCatalog::from_json(r#"{"surveys": [{"id": "nps"}, {"id": "csat-2027"}]}"#, file, &surveys())
            .err()
            .unwrap();
    assert_eq!(problems, ["surveys[1].id: no survey \"csat-2027\" in the surveys directory"]);

    let problems = TargetingCatalog::from_json(
        r#"{"surveys": [{"id": "nps", "targeting": {"sample_percent": 140, "urls": ["app"]}}]}"#,
        file,
        &surveys(),
    )
    .err()
    .unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.starts_with("surveys[0].targeting.sample_percent")), "{problems:?}");
    assert!(problems.iter().any(|p| p.starts_with("surveys[0].targeting.urls[0]")), "{problems:?}");

    let err = TargetingCatalog::load(Path::new("/nonexistent/targeting.json"), &surveys()).err().unwrap().to_string();
    assert!(err.contains("/nonexistent/targeting.json: cannot read"), "{err}");
    // The repository's demo file is valid.
    TargetingCatalog::load(&repo_file("targeting.json"), &surveys()).unwrap();
}

#[tokio::test]
async fn dry_run_explains_what_a_stored_user_would_see_and_why() {
    let targeting = r#"{"cooldown_hours": 24, "surveys": [
        {"id": "nps", "priority": 5, "targeting": {"urls": ["/app/*"], "event": {"name": "report_created", "count": 3}}}],
        "nudges": [{"id": "finish-setup", "opens": "checklist", "targeting": {"segments": ["large_org"]}}]}"#;
    let targeting = TargetingCatalog::from_json(targeting, Path::new("t.json"), &surveys()).unwrap();
    let checklists = ChecklistCatalog::load(&repo_file("checklists.json")).unwrap();
    let app = TestApp::new(PROJECTS, |s| s.with_targeting(Some(targeting)).with_checklists(Some(checklists))).await;
    let events = [
        event("laptop", Some("ada"), T0, json!({"type": "identify", "traits": {"team_size": 200, "plan": "pro"}})),
        event("laptop", Some("ada"), T0 + 1, track("report_created")),
        event("laptop", Some("ada"), T0 + 2, track("report_created")),
    ];
    assert!(accepted(&app.post("pk_open", &events).await));

    let app = &app;
    let run = |body: Value| async move { app.secret_post("/v1/targeting/dry-run", "sk_open", &body).await };
    let (status, body) = run(json!({"user_id": "ada", "path": "/app/reports", "now_ms": T0 + 1000})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["segment"], "large_org", "chosen from the stored identify traits");
    assert_eq!(body["next"], "finish-setup");
    let nps = &body["experiences"][0];
    assert_eq!(nps["rule"], "event", "{nps}");
    assert_eq!(nps["reason"], "event report_created: 2 of 3");
    assert_eq!(nps["data"], json!({"event": "report_created", "count": 2, "needs": 3}));
    assert_eq!(
        body["experiences"][1],
        json!({"id": "finish-setup", "kind": "nudge", "opens": "checklist",
                                              "eligible": true, "show_at_ms": T0 + 1000})
    );

    // "What if": one more report, on another page, and the nudge already shown an hour ago.
    let (_, body) = run(json!({"user_id": "ada", "path": "/settings", "now_ms": T0 + 3_600_000,
                              "event_counts": {"report_created": 3}, "last_shown_ms": {"finish-setup": T0}}))
    .await;
    assert_eq!(body["experiences"][0]["rule"], "cooldown", "{body}");
    assert_eq!(body["experiences"][0]["reason"], "cooldown: something was shown 1 hour ago, needs 24");
    assert_eq!(body["experiences"][1]["rule"], "recontact");
    assert_eq!(body["next"], Value::Null);
    let (_, body) = run(json!({"user_id": "ada", "path": "/settings", "event_counts": {"report_created": 3}})).await;
    assert_eq!(body["experiences"][0]["reason"], "URL /settings does not match /app/*");

    // Nobody stored: traits given directly; a small team is not large_org.
    let (_, body) = run(json!({"traits": {"team_size": 3}, "openable": ["checklist"]})).await;
    assert_eq!(body["experiences"][1]["rule"], "segment", "{body}");
    assert_eq!(body["experiences"][1]["data"], json!({"segment": "small_team", "wanted": ["large_org"]}));

    // Staff only, and bad input is named.
    let (status, _) = app.widget_get("/v1/targeting/dry-run?key=pk_open").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, body) = app.secret_post("/v1/targeting/dry-run", "pk_open", &json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = run(json!({"openable": ["tour"]})).await;
    assert_eq!((status, body["field"].clone()), (StatusCode::BAD_REQUEST, json!("openable")), "{body}");
    let (status, body) = run(json!({"user": "ada"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap_or_default().contains("unknown field `user`"), "{body}");
}

#[tokio::test]
async fn dry_run_runs_the_projects_published_targeting_not_the_file() {
    let file = r#"{"surveys": [{"id": "nps", "targeting": {"urls": ["/app/*"]}}]}"#;
    let targeting = TargetingCatalog::from_json(file, Path::new("t.json"), &surveys()).unwrap();
    let app = TestApp::new(PROJECTS, |s| s.with_targeting(Some(targeting))).await;
    let app = &app;
    let run = || async move {
        let (status, body) =
            app.secret_post("/v1/targeting/dry-run", "sk_open", &json!({"path": "/settings", "now_ms": T0})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["experiences"][0].clone()
    };
    assert_eq!(run().await["reason"], "URL /settings does not match /app/*", "the file's rule, before a publish");

    // Published through the admin API (the dashboard's targeting editor): the next dry run reads it.
    let published = json!({"surveys": [{"id": "nps", "targeting": {"urls": ["/settings"]}}]});
    let put = axum::http::Request::put("/v1/content/targeting/default/draft")
        .header("authorization", "Bearer sk_open")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(published.to_string()))
        .unwrap();
    assert_eq!(app.send(put).await.0, StatusCode::OK);
    let (status, body) = app.secret_post("/v1/content/targeting/default/publish", "sk_open", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let nps = run().await;
    assert_eq!(nps["eligible"], true, "{nps}");

    // Another project on the same collector still runs the file's.
    let (status, body) = app.secret_post("/v1/targeting/dry-run", "sk_verified", &json!({"path": "/settings"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["experiences"][0]["reason"], "URL /settings does not match /app/*");
}
