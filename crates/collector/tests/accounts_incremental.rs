//! The accounts worker's incremental pass: after a project's first (full)
//! assessment, a pass reassesses only the accounts new events touched and
//! reads only their rows; what it records equals a full computation; a
//! change marked again while claimed is not lost; two workers split the
//! changes without assessing an account twice. Runs on SQLite, and on
//! Postgres when `DATABASE_URL` is set (there the second worker has a
//! connection pool of its own, as a second collector would).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};
use touchpoint_collector::accounts::changes::{self, Pass};
use touchpoint_collector::accounts::{compute, AccountsCatalog};
use touchpoint_collector::checklists::ChecklistCatalog;
use touchpoint_collector::AppState;

mod common;
use common::app::{event, repo_file, TestApp};

const KEY: &str = "pk_test";
const PROJECTS: &str = r#"[
    {"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"]},
    {"public_key": "pk_other", "secret_key": "sk_other", "allowed_origins": ["*"]}
]"#;
const ACCOUNTS: usize = 30;
const USERS: usize = 3;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn app() -> TestApp {
    let accounts = std::fs::read_to_string(repo_file("accounts.json")).unwrap();
    let catalog = AccountsCatalog::from_json(&accounts, Path::new("accounts.json"), &|_| None).unwrap();
    let checklists = ChecklistCatalog::load(&repo_file("checklists.json")).unwrap();
    TestApp::new(PROJECTS, |s| s.with_checklists(Some(checklists)).with_accounts(Some(catalog))).await
}

fn user(a: usize, u: usize) -> String {
    format!("u-{a}-{u}")
}

fn browser(a: usize, u: usize) -> String {
    format!("b-{a}-{u}")
}

/// Thirty accounts of three users, each with a history.
async fn history(app: &TestApp) {
    let t = now();
    let mut events = Vec::new();
    for a in 0..ACCOUNTS {
        for u in 0..USERS {
            let (id, b) = (user(a, u), browser(a, u));
            let who = Some(id.as_str());
            events.push(event(&b, None, t, json!({"type": "track", "name": "opened_pricing", "props": {}})));
            events.push(event(&b, who, t, json!({"type": "identify", "traits": {"team_size": 4}})));
            events.push(event(
                &b,
                who,
                t,
                json!({"type": "group", "account_id": format!("acct-{a}"),
                                                  "traits": {"seats": 10 + a, "owner": "olga"}}),
            ));
            for name in ["created_project", "imported_data"] {
                events.push(event(&b, who, t, json!({"type": "track", "name": name, "props": {}})));
            }
        }
    }
    for chunk in events.chunks(100) {
        let results = app.post(KEY, chunk).await;
        assert!(results.iter().all(|r| r["status"] == "accepted"), "{results:?}");
    }
}

async fn pass(state: &AppState) -> Pass {
    let catalog = state.accounts.clone().unwrap();
    changes::pass(state, &catalog, now()).await.unwrap()
}

fn accounts_of(p: &Pass) -> Vec<String> {
    let mut out: Vec<String> = p.assessed.iter().map(|(_, a)| a.clone()).collect();
    out.sort();
    out
}

/// A fresh app with its history, seeded and with no change waiting.
async fn settled() -> TestApp {
    let app = app().await;
    history(&app).await;
    let first = pass(&app.state).await;
    assert_eq!(first.seeded, [KEY, "pk_other"], "the first pass assesses each project in full once");
    let quiet = pass(&app.state).await;
    assert_eq!((quiet.changes, quiet.assessed.len(), quiet.rows_read), (0, 0, 0), "{quiet:?}");
    app
}

#[tokio::test]
async fn a_pass_reads_only_the_accounts_new_events_touched_and_records_what_a_full_computation_would() {
    let app = settled().await;
    let stored = app.db.rows("SELECT id FROM events").await.len();
    let t = now();

    // One user's event: their account, and nothing else, is read.
    let (id, b) = (user(7, 1), browser(7, 1));
    app.post(KEY, &[event(&b, Some(&id), t, json!({"type": "track", "name": "invited_teammate", "props": {}}))]).await;
    let p = pass(&app.state).await;
    assert_eq!(accounts_of(&p), ["acct-7"]);
    let own = USERS * 5 + 1;
    assert_eq!(p.rows_read, own, "acct-7's rows only, not the {stored} stored");

    // Its recorded health is the full computation's.
    let catalog = app.state.accounts.clone().unwrap();
    let full = compute(&app.state, &catalog, KEY, now()).await.unwrap();
    let view = full.iter().find(|v| v.account_id == "acct-7").unwrap();
    let latest = app
        .db
        .rows("SELECT score, stage, tier FROM account_health WHERE account_id = 'acct-7' ORDER BY computed_at DESC")
        .await;
    assert_eq!(
        latest[0],
        vec![json!(view.assessment.health.score), json!(view.assessment.stage), json!(view.assessment.tier)]
    );

    // A move touches the account left and the account joined.
    let (id, b) = (user(3, 0), browser(3, 0));
    app.post(KEY, &[event(&b, Some(&id), t, json!({"type": "group", "account_id": "acct-9", "traits": {}}))]).await;
    assert_eq!(accounts_of(&pass(&app.state).await), ["acct-3", "acct-9"]);

    // An event before identify, on a user's browser: that user's account.
    app.post(KEY, &[event(&browser(5, 2), None, t, json!({"type": "track", "name": "opened_pricing", "props": {}}))])
        .await;
    assert_eq!(accounts_of(&pass(&app.state).await), ["acct-5"]);

    // A fact naming an account, from a browser of nobody in it.
    let named = json!({"type": "track", "name": "payment_failed", "props": {"account_id": "acct-11"}});
    app.post(KEY, &[event("billing-backend", None, t, named)]).await;
    assert_eq!(accounts_of(&pass(&app.state).await), ["acct-11"]);

    // Another project's event is that project's business.
    app.post("pk_other", &[event("b-x", Some("x"), t, json!({"type": "track", "name": "a", "props": {}}))]).await;
    let p = pass(&app.state).await;
    assert_eq!((p.changes, p.assessed.len()), (1, 0), "x is in no account: {p:?}");
}

#[tokio::test]
async fn a_change_marked_again_while_claimed_is_processed_again() {
    let app = settled().await;
    let (id, b) = (user(2, 0), browser(2, 0));
    let track = || event(&b, Some(&id), now(), json!({"type": "track", "name": "imported_data", "props": {}}));
    app.post(KEY, &[track()]).await;
    let claimed = app.state.db.claim_account_changes(now(), 60_000, 100).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // A new event of the same user commits while the worker holds the change.
    app.post(KEY, &[track()]).await;
    app.state.db.finish_account_changes(claimed).await.unwrap();
    assert_eq!(accounts_of(&pass(&app.state).await), ["acct-2"], "the second event is not lost");
    assert_eq!(pass(&app.state).await.changes, 0);
}

#[tokio::test]
async fn two_workers_split_the_changes_and_assess_no_account_twice() {
    let app = settled().await;
    // A second collector: on Postgres its own pool over the same database; on SQLite the same file's store.
    let second = match app.db.is_postgres() {
        true => AppState { db: app.db.open(&app.state.config.data_dir).await, ..app.state.clone() },
        false => app.state.clone(),
    };
    let t = now();
    let events: Vec<Value> = (0..ACCOUNTS)
        .map(|a| {
            let (id, b) = (user(a, 2), browser(a, 2));
            event(&b, Some(&id), t, json!({"type": "track", "name": "connected_integration", "props": {}}))
        })
        .collect();
    app.post(KEY, &events).await;
    let (one, two) = tokio::join!(pass(&app.state), pass(&second));
    let mut all = accounts_of(&one);
    all.extend(accounts_of(&two));
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "an account assessed by both: {one:?} {two:?}");
    assert_eq!(distinct.len(), ACCOUNTS);
    assert_eq!(one.changes + two.changes, ACCOUNTS);
}

#[tokio::test]
async fn the_running_worker_assesses_an_account_when_its_events_arrive() {
    let app = app().await;
    let worker =
        touchpoint_collector::worker::Worker::start::<touchpoint_collector::accounts::worker::Assessing>(&app.state)
            .unwrap();
    let t = now();
    app.post(
        KEY,
        &[
            event(
                "b-new",
                Some("newcomer"),
                t,
                json!({"type": "group", "account_id": "acct-new", "traits": {"seats": 3}}),
            ),
            event("b-new", Some("newcomer"), t, json!({"type": "track", "name": "created_project", "props": {}})),
        ],
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rows = app.db.rows("SELECT score FROM account_health WHERE account_id = 'acct-new'").await;
        if !rows.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the worker did not assess acct-new");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    worker.stop().await;
    assert!(app.db.rows("SELECT subject FROM accounts_dirty").await.is_empty(), "its changes were taken off");
}

/// Requests that name the same browsers in opposite orders, stored at once
/// while workers take their changes: on Postgres each takes row locks (the
/// person facts, the change log), and taken in event order two of them
/// deadlocked and one answered 500. Every request must be stored.
#[tokio::test]
async fn concurrent_requests_naming_the_same_people_in_opposite_orders_are_all_stored() {
    let app = app().await;
    let t = now();
    let browsers: Vec<String> = (0..10).map(|b| format!("b-shared-{b}")).collect();
    let request = |n: usize, batch: usize| {
        let mut order: Vec<&String> = browsers.iter().collect();
        if n % 2 == 1 {
            order.reverse();
        }
        let events: Vec<Value> = order
            .into_iter()
            .map(|b| {
                let props = json!({"account_id": format!("acct-{}", b.len() % 3), "n": n, "batch": batch});
                event(b, None, t, json!({"type": "track", "name": "created_project", "props": props}))
            })
            .collect();
        events
    };
    let senders = (0..8).map(|n| {
        let app = &app;
        let request = &request;
        async move {
            for batch in 0..15 {
                let results = app.post(KEY, &request(n, batch)).await;
                assert!(results.iter().all(|r| r["status"] == "accepted"), "{results:?}");
            }
        }
    });
    let workers = async {
        for _ in 0..10 {
            pass(&app.state).await;
        }
    };
    tokio::join!(futures_util::future::join_all(senders), workers);
    let stored = app.db.strings("SELECT CAST(COUNT(*) AS TEXT) FROM events WHERE anonymous_id LIKE 'b-shared-%'").await;
    assert_eq!(stored, vec!["1200".to_string()]);
}
