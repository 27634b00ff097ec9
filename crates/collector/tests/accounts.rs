//! Accounts on the collector, driven through `router(state)` without a
//! socket, over the repository's real `accounts.json` and `checklists.json`:
//! scripted accounts → health scores, stages, tiers, routing once per
//! trigger (a case for the owner, a signed webhook in the outbox, a list),
//! health history, the account routes and CSV, and account-level checklist
//! items in a user's checklist state. Runs on SQLite, and on Postgres when
//! `DATABASE_URL` is set (`scripts/test.sh`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use touchpoint_collector::accounts::worker::assess_project;
use touchpoint_collector::accounts::AccountsCatalog;
use touchpoint_collector::checklists::ChecklistCatalog;
use touchpoint_collector::signature::SigningKey;
use touchpoint_collector::{router, AppState};
use tower::ServiceExt;

mod common;
use common::app::TestApp;

const KEY: &str = "pk_test";
const SECRET: &str = "sk_test";
const ORIGIN: &str = "https://app.example.com";
const PROJECTS: &str =
    r#"[{"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["https://app.example.com"]}]"#;
const HOOK_SECRET: &str = "whsec_accounts_test_0123456789";
const DAY: i64 = 86_400_000;
/// "Now" of the scripted scenario.
const NOW: i64 = 1_800_000_000_000;

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(name)
}

struct Harness {
    t: TestApp,
}

impl Harness {
    async fn new() -> Harness {
        Harness::with_checklists(ChecklistCatalog::load(&repo_file("checklists.json")).unwrap()).await
    }

    async fn with_checklists(checklists: ChecklistCatalog) -> Harness {
        // The demo's rules, with the webhook signed by a secret from the environment.
        let mut accounts: Value =
            serde_json::from_str(&std::fs::read_to_string(repo_file("accounts.json")).unwrap()).unwrap();
        accounts["routing"][0]["do"][1]["secret_env"] = json!("TP_ACCOUNTS_HOOK");
        let env = |var: &str| (var == "TP_ACCOUNTS_HOOK").then(|| HOOK_SECRET.to_string());
        let catalog = AccountsCatalog::from_json(&accounts.to_string(), Path::new("accounts.json"), &env).unwrap();
        Harness {
            t: TestApp::new(PROJECTS, |s| s.with_checklists(Some(checklists)).with_accounts(Some(catalog))).await,
        }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        self.t.send(req).await
    }

    async fn post(&self, events: Vec<Value>) {
        for chunk in events.chunks(100) {
            let results = self.t.post(KEY, chunk).await;
            assert!(results.iter().all(|r| r["status"] == "accepted"), "{results:?}");
        }
    }

    async fn read(&self, uri: &str) -> Value {
        let (status, body) = self.t.secret_get(uri, SECRET).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        body
    }

    async fn assess(&self, now: i64) -> Vec<(String, String)> {
        let catalog = self.t.state.accounts.clone().unwrap();
        let stored = assess_project(&self.t.state, &catalog, KEY, now).await.unwrap();
        stored.into_iter().map(|d| (d.account_id, d.rule_id)).collect()
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

fn event(user: &str, ts: i64, kind: Value) -> Value {
    let mut e = json!({
        "id": format!("ev{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)),
        "ts": ts, "anonymous_id": format!("b-{user}"), "user_id": user, "url": "https://app.example.com/",
    });
    e.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
    e
}

fn identify(user: &str, ts: i64, team_size: u32) -> Value {
    event(user, ts, json!({ "type": "identify", "traits": { "team_size": team_size } }))
}

fn group(user: &str, ts: i64, account: &str, traits: Value) -> Value {
    event(user, ts, json!({ "type": "group", "account_id": account, "traits": traits }))
}

fn track(user: &str, ts: i64, name: &str, props: Value) -> Value {
    event(user, ts, json!({ "type": "track", "name": name, "props": props }))
}

fn nps(user: &str, ts: i64, score: u8) -> Value {
    event(
        user,
        ts,
        json!({ "type": "survey_answered", "survey_id": "nps", "response_id": format!("r-{user}-{ts}"),
                            "question_id": "score", "value": score }),
    )
}

/// Globex: 200 seats, four users who answered as detractors and stopped 40 days ago.
fn globex() -> Vec<Value> {
    let mut evs = Vec::new();
    let traits = json!({ "name": "Globex", "seats": 200, "owner": "olga@acme.example" });
    for (i, score) in [2u8, 3, 4, 6].into_iter().enumerate() {
        let u = format!("globex-{i}");
        let t = NOW - 45 * DAY + i as i64 * 1000;
        evs.extend([identify(&u, t, 200), group(&u, t + 1, "globex", traits.clone())]);
        evs.push(track(&u, t + 2, "created_project", json!({})));
        evs.push(nps(&u, NOW - 40 * DAY + i as i64, score));
    }
    evs
}

/// Initech: 12 seats, three promoters active every day of the last week, all behaviors done.
fn initech() -> Vec<Value> {
    let mut evs = Vec::new();
    let traits = json!({ "name": "Initech", "seats": 12, "owner": "sam@acme.example" });
    for i in 0..3 {
        let u = format!("initech-{i}");
        let t = NOW - 10 * DAY + i * 1000;
        evs.extend([identify(&u, t, 12), group(&u, t + 1, "initech", traits.clone())]);
        for (n, (name, props)) in [
            ("created_project", json!({})),
            ("imported_data", json!({ "rows": 10 })),
            ("connected_integration", json!({ "integration": "slack" })),
            ("invited_teammate", json!({})),
        ]
        .into_iter()
        .enumerate()
        {
            evs.push(track(&u, t + 10 + n as i64, name, props));
        }
        for d in 0..7 {
            evs.push(track(&u, NOW - d * DAY - 3_600_000, "opened_board", json!({})));
        }
        evs.push(nps(&u, NOW - 2 * DAY + i, 9 + (i % 2) as u8));
    }
    evs
}

#[tokio::test]
async fn scripted_accounts_get_their_scores_stages_tiers_and_are_routed_once() {
    let h = Harness::new().await;
    h.post(globex()).await;
    h.post(initech()).await;

    let mut fired = h.assess(NOW).await;
    fired.sort();
    assert_eq!(
        fired,
        [
            ("globex".to_string(), "at_risk_to_owner".to_string()),
            ("initech".to_string(), "upsell_champions".to_string())
        ]
    );
    // Assessed again (more events, a later time): nothing is routed a second time.
    h.post(vec![track("globex-0", NOW - 39 * DAY, "opened_board", json!({}))]).await;
    assert!(h.assess(NOW + 1000).await.is_empty());
    assert!(h.assess(NOW + 2000).await.is_empty());

    let list = h.read(&format!("/v1/accounts?now={NOW}")).await;
    let rows: Vec<(String, i64, String, String, String)> = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account_id"].as_str().unwrap().into(),
                a["health"].as_i64().unwrap(),
                a["stage"].as_str().unwrap().into(),
                a["tier"].as_str().unwrap().into(),
                a["owner"].as_str().unwrap().into(),
            )
        })
        .collect();
    // Globex: NPS -100 → 0/30; checklist (rollout) 0 of 4 → 0/20; 1 of 4 behaviors → 5/20;
    // 39 days inactive → 0/15 and 0/10; no open case → 5/5.
    assert_eq!(
        rows,
        [
            ("globex".into(), 10, "at_risk".into(), "high_touch".into(), "olga@acme.example".into()),
            ("initech".into(), 100, "champion".into(), "low_touch".into(), "sam@acme.example".into()),
        ]
    );
    assert_eq!(list["accounts"][1]["lists"], json!(["upsell"]));
    assert_eq!(list["accounts"][0]["lists"], json!(["at_risk"]));

    // Exactly one case, assigned to Globex's owner, and one signed webhook.
    let cases = h.t.db.rows("SELECT title, rule_id, detail FROM cases ORDER BY created_at").await;
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(cases[0][0], "Account at risk: call them this week — account globex (owner: olga@acme.example)");
    let detail: Value = serde_json::from_str(cases[0][2].as_str().unwrap()).unwrap();
    assert_eq!(detail["assigned_to"], "olga@acme.example");
    assert_eq!(detail["reason"], "stage \"at_risk\" (= \"at_risk\")");
    let hooks = h.t.db.rows("SELECT target, payload, signature, status FROM outbox").await;
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0][0], "http://127.0.0.1:8788/touchpoint");
    assert_eq!(hooks[0][3], "pending");
    let payload = hooks[0][1].as_str().unwrap();
    // The row names the secret that signs each attempt (at its time), never the secret itself.
    let key = SigningKey::parse(hooks[0][2].as_str().unwrap()).unwrap();
    assert_eq!(key, SigningKey::Env("TP_ACCOUNTS_HOOK".into()));
    assert_eq!(key.secret(&h.t.state).as_deref(), Some(HOOK_SECRET));
    assert!(!payload.contains(HOOK_SECRET));
    let payload: Value = serde_json::from_str(payload).unwrap();
    assert_eq!((payload["account"]["id"].as_str(), payload["account"]["health"].as_i64()), (Some("globex"), Some(10)));
    assert_eq!(payload["account"]["owner"], "olga@acme.example");

    // Every decision is logged with its reason.
    let log = h.read("/v1/accounts/routing").await;
    let decisions: Vec<(&str, &str, &str)> = log["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["account_id"].as_str().unwrap(), d["rule_id"].as_str().unwrap(), d["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(decisions.len(), 2);
    assert!(decisions.contains(&("globex", "at_risk_to_owner", "stage \"at_risk\" (= \"at_risk\")")));
    assert!(decisions.contains(&(
        "initech",
        "upsell_champions",
        "stage \"champion\" (= \"champion\"), tier \"low_touch\" (in [\"tech_touch\",\"low_touch\"])"
    )));

    // The account page: users, NPS history, breakdown, history, cases.
    let page = h.read(&format!("/v1/accounts/globex?now={NOW}")).await;
    assert_eq!(page["users"].as_array().unwrap().len(), 4);
    let scores: Vec<i64> =
        page["nps_history"].as_array().unwrap().iter().map(|a| a["score"].as_i64().unwrap()).collect();
    assert_eq!(scores, [2, 3, 4, 6]);
    let points: Vec<(String, f64)> = page["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["signal"].as_str().unwrap().into(), c["points"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        points,
        [
            ("nps".into(), 0.0),
            ("checklist".into(), 0.0),
            ("behaviors".into(), 5.0),
            ("recency".into(), 0.0),
            ("frequency".into(), 0.0),
            ("open_cases".into(), 5.0)
        ]
    );
    assert_eq!(page["stage_reason"], "age_days 45 (>= 7), health 10 (< 40)");
    assert_eq!(page["cases"][0]["assigned_to"], "olga@acme.example");
    assert!(!page["history"].as_array().unwrap().is_empty());

    // CSV export of the table.
    let req = Request::get(format!("/v1/export/accounts.csv?now={NOW}"))
        .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
        .body(Body::empty())
        .unwrap();
    let res = h.t.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csv = String::from_utf8(axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "account_id,name,owner,tier,stage,health,trend_7d,users,lists,breakdown");
    assert!(lines.iter().any(|l| l.starts_with("globex,Globex,olga@acme.example,high_touch,at_risk,")), "{csv}");
}

#[tokio::test]
async fn health_history_is_kept_when_the_score_changes_and_shows_a_trend() {
    let h = Harness::new().await;
    h.post(initech()).await;
    h.assess(NOW - 8 * DAY).await; // a week earlier: less happened yet
    h.assess(NOW - 8 * DAY + 1).await; // unchanged: no new snapshot
    h.assess(NOW).await;
    let history =
        h.t.db
            .rows("SELECT computed_at, score FROM account_health WHERE account_id = 'initech' ORDER BY computed_at")
            .await;
    assert_eq!(history.len(), 2, "{history:?}");
    let (before, after) = (history[0][1].as_i64().unwrap(), history[1][1].as_i64().unwrap());
    assert!(before < after, "{history:?}");
    let list = h.read(&format!("/v1/accounts?now={NOW}")).await;
    assert_eq!(list["accounts"][0]["trend"].as_i64(), Some(after - before));
}

#[tokio::test]
async fn a_state_rule_fires_again_only_after_its_conditions_stopped_holding() {
    let h = Harness::new().await;
    h.post(globex()).await;
    assert_eq!(h.assess(NOW).await, [("globex".to_string(), "at_risk_to_owner".to_string())]);
    // Globex comes back: everyone active and a promoter now.
    let mut back = Vec::new();
    for i in 0..4 {
        let u = format!("globex-{i}");
        back.push(nps(&u, NOW + DAY, 10));
        for d in 1..=7 {
            back.push(track(&u, NOW + d * DAY, "imported_data", json!({ "rows": 200 })));
            back.push(track(&u, NOW + d * DAY + 1, "invited_teammate", json!({})));
            back.push(track(&u, NOW + d * DAY + 2, "connected_integration", json!({ "integration": "slack" })));
        }
    }
    h.post(back).await;
    assert!(h.assess(NOW + 7 * DAY + 10).await.is_empty());
    let closed = h.t.db.rows("SELECT closed_at FROM account_routing WHERE account_id = 'globex'").await;
    assert_eq!(closed, [[json!(NOW + 7 * DAY + 10)]]);
    // A month later: detractors again, two complaints open, then silence; detractors again and two complaints open: a second episode, routed once more.
    let mut unhappy: Vec<Value> = (0..4).map(|i| nps(&format!("globex-{i}"), NOW + 60 * DAY, 0)).collect();
    for i in 0..2 {
        unhappy.push(event(
            &format!("globex-{i}"),
            NOW + 60 * DAY + 1,
            json!({ "type": "help_case_created", "message": "Exports keep failing" }),
        ));
    }
    h.post(unhappy).await;
    let page = h.read(&format!("/v1/accounts/globex?now={}", NOW + 100 * DAY)).await;
    assert_eq!(
        h.assess(NOW + 100 * DAY).await,
        [("globex".to_string(), "at_risk_to_owner".to_string())],
        "{}",
        page["breakdown"]
    );
    let routed =
        h.t.db.strings("SELECT trigger_id FROM cases WHERE rule_id = 'at_risk_to_owner' ORDER BY trigger_id").await;
    assert_eq!(routed, ["account:globex:at_risk_to_owner:0", "account:globex:at_risk_to_owner:1"]);
}

#[tokio::test]
async fn an_account_level_item_completes_for_every_user_of_the_account_with_who_did_it() {
    let h = Harness::new().await;
    let traits = json!({ "name": "Umbrella", "seats": 20, "owner": "uma@acme.example" });
    let t = NOW - DAY;
    let mut evs = Vec::new();
    for u in ["ann", "bob", "cid"] {
        evs.extend([identify(u, t, 20), group(u, t + 1, "umbrella", traits.clone())]);
    }
    evs.push(track("ann", t + 10, "invited_teammate", json!({})));
    evs.push(track("ann", t + 11, "invited_teammate", json!({})));
    evs.push(track("bob", t + 12, "invited_teammate", json!({})));
    // Someone of another account does not count for Umbrella.
    evs.extend([identify("zed", t, 20), group("zed", t + 1, "other", json!({ "seats": 20 }))]);
    evs.push(track("zed", t + 13, "invited_teammate", json!({})));
    h.post(evs).await;

    let req = Request::get(format!("/v1/checklists/state?key={KEY}&user_id=cid"))
        .header(header::ORIGIN, ORIGIN)
        .body(Body::empty())
        .unwrap();
    let (status, state) = h.send(req).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["checklist"]["id"], "team_setup");
    assert_eq!(state["progress"]["completed"]["invite_three"]["at"], json!(t + 12), "{state}");
    assert_eq!(state["account"]["id"], "umbrella");
    assert_eq!(
        state["account"]["by"]["invite_three"],
        json!([{ "user_id": "ann", "count": 2 }, { "user_id": "bob", "count": 1 }])
    );
    let item =
        state["checklist"]["items"].as_array().unwrap().iter().find(|i| i["id"] == "invite_three").unwrap().clone();
    assert_eq!(item["scope"], "account");

    // Zed's account has one invitation: not done for him.
    let req = Request::get(format!("/v1/checklists/state?key={KEY}&user_id=zed"))
        .header(header::ORIGIN, ORIGIN)
        .body(Body::empty())
        .unwrap();
    let (_, zed) = h.send(req).await;
    assert!(zed["progress"]["completed"].get("invite_three").is_none(), "{zed}");
    assert_eq!(zed["progress"]["counts"]["invite_three"], 1);

    // Dee's first page load: none of her events is stored yet; the widget names the
    // account group() set and the checklist it chose from her traits.
    let req =
        Request::get(format!("/v1/checklists/state?key={KEY}&user_id=dee&account_id=umbrella&checklist=team_setup"))
            .header(header::ORIGIN, ORIGIN)
            .body(Body::empty())
            .unwrap();
    let (_, dee) = h.send(req).await;
    assert_eq!(dee["checklist"]["id"], "team_setup", "{dee}");
    assert_eq!(dee["progress"]["completed"]["invite_three"]["at"], json!(t + 12), "{dee}");
    // Without the hints she is nobody yet: the default checklist, no account.
    let req = Request::get(format!("/v1/checklists/state?key={KEY}&user_id=dee"))
        .header(header::ORIGIN, ORIGIN)
        .body(Body::empty())
        .unwrap();
    let (_, dee) = h.send(req).await;
    assert_eq!((dee["checklist"]["id"].as_str(), dee.get("account")), (Some("get_started"), None));

    // The funnel counts the account's item as done for each of its users (not Zed).
    let funnel = h.read("/v1/checklists/funnel?segment=mid_team").await;
    let seg = &funnel["segments"][0];
    assert_eq!(seg["users"], 4, "{funnel}");
    let invite = seg["items"].as_array().unwrap().iter().find(|i| i["item_id"] == "invite_three").unwrap();
    assert_eq!(invite["users_completed"], 3, "{funnel}");

    // The account page lists the item with who did it.
    let page = h.read(&format!("/v1/accounts/umbrella?now={NOW}")).await;
    let item =
        page["account_checklist"].as_array().unwrap().iter().find(|i| i["item_id"] == "invite_three").unwrap().clone();
    assert_eq!(item["done_at"], json!(t + 12));
    assert_eq!(item["by"][0]["user_id"], "ann");
}

#[tokio::test]
async fn without_an_accounts_file_the_routes_answer_404_and_a_bad_file_names_its_problems() {
    let h = Harness::new().await;
    let state = AppState { accounts: None, ..h.t.state.clone() };
    let app = router(state);
    let req = Request::get("/v1/accounts")
        .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(req).await.unwrap().status(), StatusCode::NOT_FOUND);
    let req = Request::get("/v1/accounts").body(Body::empty()).unwrap();
    assert_eq!(h.t.app.clone().oneshot(req).await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let bad = r#"{"tiers": [{"id": "all"}], "stages": [{"id": "s"}], "health": {"signals": [{"signal": "nps", "weight": 1}]},
                  "routing": [{"id": "r", "when": {}, "do": [{"action": "webhook", "url": "https://x.example", "secret_env": "NOPE"}]}]}"#;
    let err = AccountsCatalog::from_json(bad, Path::new("a.json"), &|_| None).err().unwrap();
    assert_eq!(err, ["routing[0].do[0].secret_env: the environment variable NOPE is not set"]);
}

#[tokio::test]
async fn checklist_segments_can_be_chosen_on_account_traits() {
    let text = r#"{
        "segments": [ { "id": "enterprise", "when": { "account.plan": { "equals": "enterprise" } }, "checklist": "rollout" },
                      { "id": "everyone", "checklist": "basics" } ],
        "checklists": [
            { "id": "rollout", "title": "Roll out", "items": [ { "id": "sso", "title": "Set up SSO", "complete_when": "manual" } ] },
            { "id": "basics", "title": "Basics", "items": [ { "id": "import", "title": "Import", "complete_when": { "event": "imported_data" } } ] } ]
    }"#;
    let h = Harness::with_checklists(ChecklistCatalog::from_json(text, Path::new("checklists.json")).unwrap()).await;
    h.post(vec![
        identify("eve", NOW, 3),
        group("eve", NOW + 1, "megacorp", json!({ "plan": "enterprise", "seats": 900 })),
        identify("fay", NOW, 3),
        group("fay", NOW + 1, "smallco", json!({ "plan": "team", "seats": 3 })),
    ])
    .await;
    let segment = |user: &'static str| {
        let req = Request::get(format!("/v1/checklists/state?key={KEY}&user_id={user}"))
            .header(header::ORIGIN, ORIGIN)
            .body(Body::empty())
            .unwrap();
        let h = &h;
        async move { h.send(req).await.1["segment"].as_str().unwrap().to_string() }
    };
    assert_eq!(segment("eve").await, "enterprise");
    assert_eq!(segment("fay").await, "everyone");
}

#[tokio::test]
async fn an_event_rule_routes_once_per_event_of_a_large_account() {
    let h = Harness::new().await;
    h.post(globex()).await;
    h.post(initech()).await;
    h.assess(NOW).await;
    // A Globex user (high touch) and an Initech user (low touch) ask to cancel.
    h.post(vec![
        track("globex-1", NOW + 1000, "requested_cancellation", json!({})),
        track("initech-0", NOW + 1000, "requested_cancellation", json!({})),
    ])
    .await;
    assert_eq!(h.assess(NOW + 2000).await, [("globex".to_string(), "high_touch_detractor".to_string())]);
    assert!(h.assess(NOW + 3000).await.is_empty(), "the same event routes once");
    h.post(vec![track("globex-2", NOW + 4000, "requested_cancellation", json!({}))]).await;
    assert_eq!(h.assess(NOW + 5000).await, [("globex".to_string(), "high_touch_detractor".to_string())]);
    let titles = h.t.db.strings("SELECT title FROM cases WHERE rule_id = 'high_touch_detractor'").await;
    assert_eq!(titles.len(), 2);
    assert!(titles.iter().all(|t| t.ends_with("— account globex (owner: olga@acme.example)")), "{titles:?}");
    let log = h.read("/v1/accounts/routing").await;
    let reasons: Vec<&str> = log["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["rule_id"] == "high_touch_detractor")
        .map(|d| d["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2);
    assert!(
        reasons.iter().all(|r| r.starts_with("event requested_cancellation (ev")
            && r.ends_with("tier \"high_touch\" (= \"high_touch\")")),
        "{reasons:?}"
    );
}
