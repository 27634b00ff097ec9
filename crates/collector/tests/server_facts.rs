//! Facts from the host's backend feed account health: a `payment_failed`
//! sent with the secret key and naming an account in `props.account_id`
//! (no browser, no user of the account made it) lowers that account's
//! health through the accounts file's `billing` signal, and the account page
//! says why; a later `payment_succeeded` gives the points back.

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
    // The demo's accounts file, with billing weighted in.
    let mut accounts: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_file("accounts.json")).unwrap()).unwrap();
    accounts["health"]["signals"].as_array_mut().unwrap().push(json!({ "signal": "billing", "weight": 20 }));
    let catalog = AccountsCatalog::from_json(&accounts.to_string(), Path::new("accounts.json"), &|_| None).unwrap();
    TestApp::new(PROJECTS, |s| s.with_accounts(Some(catalog))).await
}

async fn account(app: &TestApp) -> (i64, Value) {
    let (status, page) = app.secret_get(&format!("/v1/accounts/acme?now={NOW}"), "sk_test").await;
    assert_eq!(status.as_u16(), 200, "{page}");
    let billing = page["breakdown"].as_array().unwrap().iter().find(|c| c["signal"] == "billing").unwrap().clone();
    (page["account"]["health"].as_i64().unwrap(), billing)
}

async fn server_track(app: &TestApp, id: &str, name: &str, ts: i64) {
    let e = json!({ "id": id, "ts": ts, "anonymous_id": "billing-system", "url": "", "type": "track",
                    "name": name, "props": { "account_id": "acme", "invoice": "in_42" } });
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
