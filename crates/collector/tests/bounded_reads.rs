//! `/v1/config` reads a person's targeting facts from rows kept at ingest,
//! not by replaying their history: the facts equal a replay of their events
//! (every device, events before identify, a browser shared by two users,
//! showings of surveys and nudges), and the read does not touch the events.
//! Runs on SQLite, and on Postgres when `DATABASE_URL` is set.

use axum::http::StatusCode;
use serde_json::{json, Value};
use touchpoint_collector::checklists::person_activity;
use touchpoint_collector::checklists::replay::Person;

mod common;
use common::app::{event, TestApp};

const KEY: &str = "pk_test";
const PROJECTS: &str = r#"[{"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"]}]"#;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn track(name: &str) -> Value {
    json!({"type": "track", "name": name, "props": {}})
}

async fn history(app: &TestApp) {
    let t = now() - 60_000;
    let (ann, ben) = (Some("ann"), Some("ben"));
    let shown = |survey: &str, r: &str| json!({"type": "survey_shown", "survey_id": survey, "response_id": r});
    let events = vec![
        // Ann's laptop: anonymous first, then identified; later Ben signs in on it too.
        event("laptop", None, t, track("opened_pricing")),
        event("laptop", None, t + 1, track("opened_pricing")),
        event("laptop", ann, t + 2, json!({"type": "identify", "traits": {}})),
        event("laptop", ann, t + 3, track("created_project")),
        event("laptop", ann, t + 4, shown("nps", "r-ann-1")),
        event("laptop", ben, t + 5, json!({"type": "identify", "traits": {}})),
        event("laptop", None, t + 6, track("opened_pricing")),
        // Ann's phone, earlier by the clock.
        event("phone", ann, t - 5000, track("created_project")),
        event("phone", ann, t + 7, json!({"type": "nudge_shown", "nudge_id": "tour", "opens": "checklist"})),
        event("phone", ann, t + 8, shown("nps", "r-ann-2")),
        // Ben's own browser.
        event("ben-pc", None, t + 9, track("imported_data")),
        event("ben-pc", ben, t + 10, track("imported_data")),
        // A browser nobody identified.
        event("kiosk", None, t + 11, track("opened_pricing")),
        event("kiosk", None, t + 12, shown("nps", "r-kiosk")),
    ];
    let results = app.post(KEY, &events).await;
    assert!(results.iter().all(|r| r["status"] == "accepted"), "{results:?}");
}

async fn config_facts(app: &TestApp, query: &str) -> Value {
    let (status, body) = app.widget_get(&format!("/v1/config?key={KEY}&{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["facts"].clone()
}

#[tokio::test]
async fn config_facts_kept_at_ingest_equal_a_replay_of_the_persons_events() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    history(&app).await;
    for (query, who) in [
        ("user_id=ann", Person::User("ann".into())),
        ("user_id=ben", Person::User("ben".into())),
        ("anonymous_id=laptop", Person::Anonymous("laptop".into())),
        ("anonymous_id=kiosk", Person::Anonymous("kiosk".into())),
        ("anonymous_id=never-seen", Person::Anonymous("never-seen".into())),
    ] {
        let rows = person_activity(&app.state.db, KEY.into(), who).await.unwrap();
        let replayed = serde_json::to_value(touchpoint_collector::targeting::facts(&rows)).unwrap();
        assert_eq!(config_facts(&app, query).await, replayed, "{query}");
    }
    // The figures themselves, for Ann: the laptop's anonymous events before and after Ben are hers (she owns it).
    let ann = config_facts(&app, "user_id=ann").await;
    assert_eq!(ann["event_counts"], json!({"created_project": 2, "opened_pricing": 3}));
    assert!(ann["last_shown_ms"]["tour"].is_i64() && ann["last_shown_ms"]["nps"].is_i64(), "{ann}");
}

#[tokio::test]
async fn a_config_read_does_not_replay_the_events() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    history(&app).await;
    let before = config_facts(&app, "user_id=ann").await;
    // Were the read a replay, the facts would vanish with the events.
    app.db.execute_batch("DELETE FROM events").await;
    assert_eq!(config_facts(&app, "user_id=ann").await, before);
    assert_eq!(before["event_counts"]["opened_pricing"], 3);
}
