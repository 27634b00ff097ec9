//! Facts from the host's backend feed account health: a `payment_failed`
//! sent with the secret key and naming an account in `props.account_id`
//! (no browser, no user of the account made it) lowers that account's
//! health through the accounts file's `billing` signal, and the account page
//! says why; a later `payment_succeeded` gives the points back. Revenue
//! (`mrr`) and the renewal date, reported the same way or as `group`
//! traits, are inputs the accounts file weights (`revenue`, `renewal`).

use std::path::Path;

use serde_json::{json, Value};
use touchpoint_collector::accounts::AccountsCatalog;

mod common;
use common::app::{event, repo_file, TestApp};

const PROJECTS: &str =
    r#"[{"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["https://app.example.com"]}]"#;
const DAY: i64 = 86_400_000;
const NOW: i64 = 1_800_000_000_000;

async fn app() -> TestApp {
    app_with(&[json!({ "signal": "billing", "weight": 20 })]).await
}

/// The demo's accounts file, with `signals` weighted in.
async fn app_with(signals: &[Value]) -> TestApp {
    let mut accounts: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_file("accounts.json")).unwrap()).unwrap();
    accounts["health"]["signals"].as_array_mut().unwrap().extend(signals.iter().cloned());
    let catalog = AccountsCatalog::from_json(&accounts.to_string(), Path::new("accounts.json"), &|_| None).unwrap();
    TestApp::new(PROJECTS, |s| s.with_accounts(Some(catalog))).await
}

async fn account(app: &TestApp) -> (i64, Value) {
    account_signal(app, "billing").await
}

/// The account's health, and the breakdown's line of `signal`.
async fn account_signal(app: &TestApp, signal: &str) -> (i64, Value) {
    let (status, page) = app.secret_get(&format!("/v1/accounts/acme?now={NOW}"), "sk_test").await;
    assert_eq!(status.as_u16(), 200, "{page}");
    let line = page["breakdown"].as_array().unwrap().iter().find(|c| c["signal"] == signal).unwrap().clone();
    (page["account"]["health"].as_i64().unwrap(), line)
}

async fn server_track(app: &TestApp, id: &str, name: &str, ts: i64) {
    server_fact(app, id, name, ts, json!({ "invoice": "in_42" })).await;
}

/// A `track` from the host's backend (secret key, no browser of the account's) naming account acme.
async fn server_fact(app: &TestApp, id: &str, name: &str, ts: i64, props: Value) {
    let mut props = props;
    props["account_id"] = json!("acme");
    let e = json!({ "id": id, "ts": ts, "anonymous_id": "billing-system", "url": "", "type": "track",
                    "name": name, "props": props });
    let (status, body) = app.secret_post("/v1/events", "sk_test", &json!({ "key": "pk_test", "events": [e] })).await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert_eq!(body["results"][0]["status"], "accepted", "{body}");
}

#[tokio::test]
async fn a_server_side_payment_failed_lowers_the_account_health_and_says_why() {
    let app = app().await;
    let results = app
        .post(
            "pk_test",
            &[
                event(
                    "a1",
                    Some("u1"),
                    NOW - 3 * DAY,
                    json!({"type": "group", "account_id": "acme", "traits": {"seats": 12}}),
                ),
                event("a1", Some("u1"), NOW - DAY, json!({"type": "track", "name": "created_project", "props": {}})),
            ],
        )
        .await;
    assert!(results.iter().all(|r| r["status"] == "accepted"), "{results:?}");
    let (before, billing) = account(&app).await;
    assert_eq!(billing["detail"], "no billing problem reported (payment_failed)");

    server_track(&app, "bill-1", "payment_failed", NOW - 2 * DAY).await;
    let (after, billing) = account(&app).await;
    assert!(after < before, "health {before} → {after}");
    assert_eq!(billing["points"], 0.0);
    assert_eq!(
        billing["detail"],
        "payment_failed reported 2 day(s) ago and not followed by payment_succeeded or subscription_renewed"
    );

    server_track(&app, "bill-2", "payment_succeeded", NOW - DAY).await;
    let (recovered, billing) = account(&app).await;
    assert_eq!(recovered, before);
    assert_eq!(billing["detail"], "payment_failed 2 day(s) ago, then payment_succeeded 1 day(s) ago");
}

#[tokio::test]
async fn server_side_revenue_and_renewal_date_feed_the_health_score_and_say_why() {
    let app = app_with(&[
        json!({ "signal": "revenue", "weight": 20, "full_at": 1000 }),
        json!({ "signal": "renewal", "weight": 20, "full_days": 90, "zero_days": 10 }),
    ])
    .await;
    let group = json!({"type": "group", "account_id": "acme", "traits": {"seats": 12, "mrr": 100}});
    let results = app.post("pk_test", &[event("a1", Some("u1"), NOW - 3 * DAY, group)]).await;
    assert!(results.iter().all(|r| r["status"] == "accepted"), "{results:?}");
    let (start, revenue) = account_signal(&app, "revenue").await;
    assert_eq!(revenue["detail"], "mrr 100 (full marks from 1000)");
    let (_, renewal) = account_signal(&app, "renewal").await;
    assert_eq!(renewal["detail"], "no renewal_date known (counted as neutral)");

    // The billing system reports a renewal: revenue and the next renewal date, months away.
    let renews = NOW + 200 * DAY;
    let props = json!({ "mrr": 900, "renewal_date": renews, "plan": "business" });
    server_fact(&app, "renewed-1", "subscription_renewed", NOW - DAY, props).await;
    let (renewed, revenue) = account_signal(&app, "revenue").await;
    assert!(renewed > start, "health {start} → {renewed}");
    assert_eq!(revenue["detail"], "mrr 900 (full marks from 1000)");
    let (_, renewal) = account_signal(&app, "renewal").await;
    assert_eq!(renewal["detail"], "renews in 200 day(s) (full marks from 90 days before, none within 10)");
    assert_eq!(renewal["points"], renewal["max_points"]);

    // Seats cut and the renewal moved close: the score falls, and the page says why.
    let props = json!({ "mrr": 300, "renewal_date": "2027-01-20", "seats": 3 });
    server_fact(&app, "seats-1", "seats_changed", NOW, props).await;
    let (cut, revenue) = account_signal(&app, "revenue").await;
    assert!(cut < renewed, "health {renewed} → {cut}");
    assert_eq!(revenue["detail"], "mrr 300 (full marks from 1000)");
    let (_, renewal) = account_signal(&app, "renewal").await;
    assert_eq!(renewal["detail"], "renews in 5 day(s) (full marks from 90 days before, none within 10)");
    assert_eq!(renewal["points"], 0.0);
}
