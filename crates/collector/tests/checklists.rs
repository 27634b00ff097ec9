//! Onboarding checklists on the collector, driven through `router(state)`
//! without a socket, over the repository's real `checklists.json` (so a
//! broken demo definition also fails here): per-user state rebuilt from
//! stored events, the per-segment funnel, the churn-risk list, and their auth.
//!
//! The demo definition: `team_size >= 51` → segment `large_org`, checklist
//! `rollout`; `>= 11` → `mid_team`, `team_setup`; otherwise `small_team`,
//! `get_started`.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use touchpoint_collector::checklists::ChecklistCatalog;
use tower::ServiceExt;

mod common;
use common::app::{event, repo_file, TestApp, APP_ORIGIN};

const KEY: &str = "pk_test";
const SECRET: &str = "sk_test";
const PROJECTS: &str = r#"[
    {"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["https://app.example.com"]},
    {"public_key": "pk_other", "secret_key": "sk_other", "allowed_origins": ["https://other.example"]}
]"#;

/// 2023-11-14T22:13:20Z; every scripted user starts around here.
const T0: i64 = 1_700_000_000_000;
const DAY: i64 = 24 * 60 * 60 * 1000;
/// What `Trigger::Manual` displays as, the rule of a host's `complete()`.
const MANUAL: &str = "complete() called by the host";

struct Harness {
    app: TestApp,
}

impl Harness {
    async fn new() -> Harness {
        Harness::with(Some(ChecklistCatalog::load(&repo_file("checklists.json")).expect("checklists.json is valid")))
            .await
    }

    async fn with(checklists: Option<ChecklistCatalog>) -> Harness {
        Harness { app: TestApp::new(PROJECTS, |s| s.with_checklists(checklists)).await }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        self.app.send(req).await
    }

    /// Stores `events` for `key`'s project, checking every one was accepted.
    async fn post_as(&self, key: &str, events: Vec<Value>) {
        for chunk in events.chunks(100) {
            let results = self.app.post(key, chunk).await;
            for result in &results {
                assert_eq!(result["status"], "accepted", "{results:?}");
            }
        }
    }

    async fn post(&self, events: Vec<Value>) {
        self.post_as(KEY, events).await
    }

    /// A widget read from the app's page.
    async fn widget_get(&self, uri: &str) -> (StatusCode, Value) {
        self.app.widget_get(uri).await
    }

    async fn state(&self, who: &str) -> Value {
        let (status, body) = self.widget_get(&format!("/v1/checklists/state?key={KEY}&{who}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// A report read with `authorization` (the test project's secret key if `None`).
    async fn report(&self, uri: &str, authorization: Option<&str>) -> (StatusCode, Value) {
        let auth = authorization.map_or_else(|| format!("Bearer {SECRET}"), str::to_string);
        self.send(Request::get(uri).header(header::AUTHORIZATION, auth).body(Body::empty()).unwrap()).await
    }

    async fn ok_report(&self, uri: &str) -> Value {
        let (status, body) = self.report(uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        body
    }
}

fn identify(anon: &str, user: &str, ts: i64, traits: Value) -> Value {
    event(anon, Some(user), ts, json!({"type": "identify", "traits": traits}))
}

fn track(anon: &str, user: Option<&str>, ts: i64, name: &str, props: Value) -> Value {
    event(anon, user, ts, json!({"type": "track", "name": name, "props": props}))
}

fn item_completed(anon: &str, user: &str, ts: i64, checklist: &str, item: &str, rule: &str) -> Value {
    event(
        anon,
        Some(user),
        ts,
        json!({"type": "checklist_item_completed", "checklist_id": checklist, "item_id": item, "rule": rule}),
    )
}

/// A user on their own browser `b-<user>`, identified at `ts` with `team_size`.
fn user_with_team(user: &str, ts: i64, team_size: u32) -> Value {
    identify(&format!("b-{user}"), user, ts, json!({ "team_size": team_size }))
}

/// `name` tracked by `user` on their browser `b-<user>`.
fn did(user: &str, ts: i64, name: &str, props: Value) -> Value {
    track(&format!("b-{user}"), Some(user), ts, name, props)
}

/// `(item, at)` of every completed item, by item id.
fn completed(state: &Value) -> Vec<(String, i64)> {
    let completed = state["progress"]["completed"].as_object().unwrap_or_else(|| panic!("no progress in {state}"));
    completed.iter().map(|(id, c)| (id.clone(), c["at"].as_i64().unwrap())).collect()
}

fn done(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(id, at)| (id.to_string(), *at)).collect()
}

#[tokio::test]
async fn small_team_and_large_org_get_different_checklists() {
    let h = Harness::new().await;
    h.post(vec![user_with_team("small", T0, 4), user_with_team("large", T0, 200), user_with_team("mid", T0, 11)]).await;

    let small = h.state("user_id=small").await;
    assert_eq!(small["segment"], "small_team");
    assert_eq!(small["checklist"]["id"], "get_started");
    let items: Vec<&str> =
        small["checklist"]["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(items, ["create_project", "import_data", "invite_teammate", "connect_slack"]);
    assert_eq!(small["dismissed"], false);
    assert_eq!(completed(&small), done(&[]));

    assert_eq!(h.state("user_id=mid").await["segment"], "mid_team");

    let large = h.state("user_id=large").await;
    assert_eq!(large["segment"], "large_org");
    // The whole checklist as the widget renders it: dependencies by id, the
    // call to action as in the file (a URL or a host callback).
    assert_eq!(
        large["checklist"],
        json!({"id": "rollout", "title": "Roll out Acme across your organisation", "items": [
            {"id": "book_onboarding", "title": "Book your onboarding call",
             "description": "Your success manager plans the rollout with you.",
             "cta": {"label": "Pick a time", "callback": "bookOnboardingCall"}, "depends_on": [], "scope": "user"},
            {"id": "import_data", "title": "Import existing projects", "description": null, "cta": null,
             "depends_on": [], "scope": "user"},
            {"id": "invite_five", "title": "Invite five team leads", "description": null,
             "cta": {"label": "Invite team leads", "url": "/settings.html"}, "depends_on": [], "scope": "account"},
            {"id": "connect_slack", "title": "Connect Slack", "description": null, "cta": null,
             "depends_on": ["invite_five"], "scope": "user"}
        ]})
    );

    // Someone the collector has never seen: the default segment, nothing done.
    let stranger = h.state("user_id=nobody").await;
    assert_eq!((&stranger["segment"], &stranger["checklist"]["id"]), (&json!("small_team"), &json!("get_started")));
    assert_eq!(stranger["progress"], json!({"counts": {}, "manual": {}, "completed": {}}));
}

#[tokio::test]
async fn traits_merge_in_arrival_order_whatever_the_client_ts_says() {
    let h = Harness::new().await;
    // Arrives first, with the later ts: arrival at the server decides, so a
    // page cannot pin its traits by sending a ts far in the future.
    h.post(vec![identify("b1", "grew", T0 + 2000, json!({"team_size": 120}))]).await;
    h.post(vec![
        identify("b1", "grew", T0, json!({"team_size": 5, "plan": "pro"})),
        identify("b2", "grew", T0 + 1000, json!({"plan": "enterprise"})),
    ])
    .await;
    assert_eq!(h.state("user_id=grew").await["segment"], "small_team");
    h.post(vec![identify("b2", "grew", T0 - 5000, json!({"team_size": 60}))]).await;
    assert_eq!(h.state("user_id=grew").await["segment"], "large_org");
}

#[tokio::test]
async fn behaviors_before_identify_count_through_the_browser() {
    let h = Harness::new().await;
    h.post(vec![
        // Browser a1, before identify: created a project, imported data.
        track("a1", None, T0 + 100, "created_project", json!({})),
        track("a1", None, T0 + 200, "imported_data", json!({"rows": 12})),
        identify("a1", "u1", T0 + 300, json!({"team_size": 3})),
        // The same user later on another device, identified there.
        identify("a2", "u1", T0 + 400, json!({"team_size": 3})),
        track("a2", Some("u1"), T0 + 500, "invited_teammate", json!({})),
        // A browser never identified: its behaviors are nobody else's.
        track("a3", None, T0 + 50, "connected_integration", json!({"integration": "slack"})),
    ])
    .await;

    let expected = done(&[("create_project", T0 + 100), ("import_data", T0 + 200), ("invite_teammate", T0 + 500)]);
    assert_eq!(completed(&h.state("user_id=u1").await), expected);
    // Asking by either browser of the user gives the user's whole progress.
    assert_eq!(completed(&h.state("anonymous_id=a1").await), expected);
    assert_eq!(completed(&h.state("anonymous_id=a2").await), expected);

    let anonymous = h.state("anonymous_id=a3").await;
    assert_eq!(completed(&anonymous), done(&[("connect_slack", T0 + 50)]));
    // `user_id` wins when both are given.
    assert_eq!(completed(&h.state("user_id=u1&anonymous_id=a3").await), expected);
}

#[tokio::test]
async fn count_rules_need_that_many_matching_events() {
    let h = Harness::new().await;
    h.post(vec![
        user_with_team("m", T0, 25),
        did("m", T0 + 1, "invited_teammate", json!({})),
        did("m", T0 + 2, "invited_teammate", json!({})),
        did("m", T0 + 3, "created_project", json!({})),
    ])
    .await;
    let state = h.state("user_id=m").await;
    assert_eq!(state["checklist"]["id"], "team_setup");
    assert_eq!(completed(&state), done(&[("create_project", T0 + 3)]));
    assert_eq!(state["progress"]["counts"]["invite_three"], 2);

    h.post(vec![did("m", T0 + 4, "invited_teammate", json!({}))]).await;
    let state = h.state("user_id=m").await;
    assert_eq!(completed(&state), done(&[("create_project", T0 + 3), ("invite_three", T0 + 4)]));
    assert_eq!(
        state["progress"]["completed"]["invite_three"]["trigger"],
        json!({"kind": "event", "event": "invited_teammate", "count": 3})
    );
}

#[tokio::test]
async fn property_predicates_and_dependencies_decide_completion() {
    let h = Harness::new().await;
    h.post(vec![
        user_with_team("small", T0, 2),
        did("small", T0 + 1, "imported_data", json!({"rows": 0})),
        did("small", T0 + 2, "connected_integration", json!({"integration": "teams"})),
        did("small", T0 + 3, "imported_data", json!({"rows": 1})),
        user_with_team("large", T0, 80),
        did("large", T0 + 1, "imported_data", json!({"rows": 99})),
        did("large", T0 + 2, "imported_data", json!({"rows": 100})),
        // connect_slack ("slack" or "teams") waits for invite_five.
        did("large", T0 + 3, "connected_integration", json!({"integration": "teams"})),
    ])
    .await;
    let invites: Vec<Value> = (4..9).map(|i| did("large", T0 + i, "invited_teammate", json!({}))).collect();

    // rows >= 1; integration equals "slack" (teams does not count).
    assert_eq!(completed(&h.state("user_id=small").await), done(&[("import_data", T0 + 3)]));
    // rows >= 100; teams is in ["slack", "teams"] but invite_five is not done yet.
    assert_eq!(completed(&h.state("user_id=large").await), done(&[("import_data", T0 + 2)]));

    h.post(invites).await;
    assert_eq!(
        completed(&h.state("user_id=large").await),
        done(&[("connect_slack", T0 + 8), ("import_data", T0 + 2), ("invite_five", T0 + 8)])
    );
}

#[tokio::test]
async fn manual_completions_replay_and_claims_of_other_rules_do_not() {
    let h = Harness::new().await;
    h.post(vec![
        user_with_team("l", T0, 60),
        item_completed("b-l", "l", T0 + 10, "rollout", "book_onboarding", MANUAL),
        // The widget reporting an event rule fired is not evidence: no
        // imported_data event with rows >= 100 was stored.
        item_completed("b-l", "l", T0 + 20, "rollout", "import_data", "event imported_data"),
        // Another checklist's item, and an item this checklist lacks.
        item_completed("b-l", "l", T0 + 30, "get_started", "invite_five", MANUAL),
        item_completed("b-l", "l", T0 + 40, "rollout", "no_such_item", MANUAL),
    ])
    .await;
    let state = h.state("user_id=l").await;
    assert_eq!(completed(&state), done(&[("book_onboarding", T0 + 10)]));
    assert_eq!(state["progress"]["completed"]["book_onboarding"]["trigger"], json!({"kind": "manual"}));
    assert_eq!(state["progress"]["manual"], json!({"book_onboarding": T0 + 10}));
    assert_eq!(state["dismissed"], false);

    // Dismissing another checklist is not dismissing this one.
    let dismiss =
        |ts, checklist| event("b-l", Some("l"), ts, json!({"type": "checklist_dismissed", "checklist_id": checklist}));
    h.post(vec![dismiss(T0 + 50, "get_started")]).await;
    assert_eq!(h.state("user_id=l").await["dismissed"], false);
    h.post(vec![dismiss(T0 + 60, "rollout")]).await;
    assert_eq!(h.state("user_id=l").await["dismissed"], true);
}

#[tokio::test]
async fn the_definition_is_served_as_loaded() {
    let h = Harness::new().await;
    let (status, body) = h.widget_get(&format!("/v1/checklists?key={KEY}")).await;
    assert_eq!(status, StatusCode::OK);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(repo_file("checklists.json")).unwrap()).unwrap();
    assert_eq!(body, file);
}

/// Scripted users for the reports. Times are from each user's first event.
fn scripted_users() -> Vec<Value> {
    vec![
        // small_team, first seen T0: create_project +1000, import_data +5000, invite_teammate +6000.
        user_with_team("s1", T0, 2),
        did("s1", T0 + 1000, "created_project", json!({})),
        did("s1", T0 + 5000, "imported_data", json!({"rows": 3})),
        did("s1", T0 + 6000, "invited_teammate", json!({})),
        // small_team, first seen (anonymously) at T0+100: create_project +0, invite_teammate +4000.
        track("b-s2", None, T0 + 100, "created_project", json!({})),
        user_with_team("s2", T0 + 200, 5),
        did("s2", T0 + 300, "imported_data", json!({"rows": 0})),
        did("s2", T0 + 4100, "invited_teammate", json!({})),
        // small_team by default (no team_size): create_project +3000.
        identify("b-s3", "s3", T0, json!({"plan": "free"})),
        did("s3", T0 + 3000, "created_project", json!({})),
        // mid_team: invite_three +3000 (the third invitation).
        user_with_team("m1", T0, 20),
        did("m1", T0 + 1000, "invited_teammate", json!({})),
        did("m1", T0 + 2000, "invited_teammate", json!({})),
        did("m1", T0 + 3000, "invited_teammate", json!({})),
        // large_org: book_onboarding +7000 (by hand); l2 does nothing that counts.
        user_with_team("l1", T0, 100),
        item_completed("b-l1", "l1", T0 + 7000, "rollout", "book_onboarding", MANUAL),
        user_with_team("l2", T0, 500),
        did("l2", T0 + 1, "imported_data", json!({"rows": 50})),
        // Never identified: counts in no report.
        track("b-anon", None, T0, "created_project", json!({})),
    ]
}

fn item(id: &str, users_completed: usize, median: Option<i64>) -> Value {
    json!({"item_id": id, "users_completed": users_completed, "median_ms_to_complete": median})
}

#[tokio::test]
async fn funnel_counts_users_per_segment_and_median_time_to_each_item() {
    let h = Harness::new().await;
    h.post(scripted_users()).await;
    // Another project's users are not this project's.
    h.post_as("pk_other", vec![user_with_team("x1", T0, 2), did("x1", T0 + 1, "created_project", json!({}))]).await;

    let body = h.ok_report("/v1/checklists/funnel").await;
    assert_eq!(
        body,
        json!({"segments": [
            {"segment": "large_org", "checklist": "rollout", "users": 2, "items": [
                item("book_onboarding", 1, Some(7000)), item("import_data", 0, None),
                item("invite_five", 0, None), item("connect_slack", 0, None)]},
            {"segment": "mid_team", "checklist": "team_setup", "users": 1, "items": [
                item("create_project", 0, None), item("import_data", 0, None),
                item("invite_three", 1, Some(3000)), item("connect_slack", 0, None)]},
            {"segment": "small_team", "checklist": "get_started", "users": 3, "items": [
                // 0, 1000, 3000; 5000; 4000 and 6000.
                item("create_project", 3, Some(1000)), item("import_data", 1, Some(5000)),
                item("invite_teammate", 2, Some(5000)), item("connect_slack", 0, None)]}
        ]})
    );

    let small = h.ok_report("/v1/checklists/funnel?segment=small_team").await;
    assert_eq!(small["segments"].as_array().unwrap().len(), 1);
    assert_eq!(small["segments"][0], body["segments"][2]);

    let (status, body) = h.report("/v1/checklists/funnel?segment=huge", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "segment");
    assert!(body["error"].as_str().unwrap().contains("large_org, mid_team, small_team"), "{body}");

    let other = h.report("/v1/checklists/funnel?segment=small_team", Some("Bearer sk_other")).await.1;
    assert_eq!(other["segments"][0]["users"], 1);
    assert_eq!(other["segments"][0]["items"][0], item("create_project", 1, Some(1)));
}

#[tokio::test]
async fn churn_risk_lists_users_without_a_success_behavior_within_n_days() {
    let h = Harness::new().await;
    h.post(vec![
        // Succeeded on day 0.
        user_with_team("quick", T0, 2),
        did("quick", T0 + 1000, "created_project", json!({})),
        // Nothing ever, but still active on day 9.
        user_with_team("idle", T0 + 1, 80),
        did("idle", T0 + 9 * DAY, "opened_app", json!({})),
        // First success on day 8: too late for N = 7, in time for N = 9.
        user_with_team("late", T0 + 2, 15),
        did("late", T0 + 2 + 8 * DAY, "created_project", json!({})),
        // First seen on day 5: not N days old yet at day 10, for N = 7.
        user_with_team("fresh", T0 + 5 * DAY, 2),
        // Never identified: not a user to reach out to.
        track("b-anon", None, T0, "opened_app", json!({})),
    ])
    .await;
    let now = T0 + 10 * DAY;

    let body = h.ok_report(&format!("/v1/checklists/churn-risk?days=7&now={now}")).await;
    assert_eq!(
        body,
        json!({"days": 7, "now": now, "users": [
            {"user": "idle", "segment": "large_org", "checklist": "rollout", "first_seen": T0 + 1,
             "last_seen": T0 + 9 * DAY},
            {"user": "late", "segment": "mid_team", "checklist": "team_setup", "first_seen": T0 + 2,
             "last_seen": T0 + 2 + 8 * DAY}
        ]})
    );
    // 7 is the default.
    assert_eq!(h.ok_report(&format!("/v1/checklists/churn-risk?now={now}")).await, body);

    let users = |body: Value| -> Vec<String> {
        body["users"].as_array().unwrap().iter().map(|u| u["user"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(users(h.ok_report(&format!("/v1/checklists/churn-risk?days=9&now={now}")).await), ["idle"]);
    // N = 4: "fresh" is 5 days old now with nothing done.
    assert_eq!(
        users(h.ok_report(&format!("/v1/checklists/churn-risk?days=4&now={now}")).await),
        ["idle", "late", "fresh"]
    );
    // Without `now`, the server's clock: everyone from 2023 is old enough,
    // and "late" succeeded within 365 days.
    assert_eq!(users(h.ok_report("/v1/checklists/churn-risk?days=365").await), ["idle", "fresh"]);
}

#[tokio::test]
async fn churn_risk_days_and_now_are_validated() {
    let h = Harness::new().await;
    for (query, field) in [
        ("days=0", "days"),
        ("days=366", "days"),
        ("days=-1", "days"),
        ("days=seven", "days"),
        ("days=1.5", "days"),
        ("now=yesterday", "now"),
    ] {
        let (status, body) = h.report(&format!("/v1/checklists/churn-risk?{query}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let (_, body) = h.report("/v1/checklists/churn-risk?days=0", None).await;
    assert_eq!(body["error"], "days must be a whole number of days from 1 to 365, not \"0\"");
    for days in [1, 365] {
        assert_eq!(h.ok_report(&format!("/v1/checklists/churn-risk?days={days}")).await["days"], days);
    }
}

#[tokio::test]
async fn widget_routes_need_the_public_key_from_an_allowed_origin() {
    let h = Harness::new().await;
    for path in ["/v1/checklists?", "/v1/checklists/state?user_id=u1&"] {
        let get = |query: String, origin: Option<&'static str>| {
            let mut req = Request::get(format!("{path}{query}"));
            if let Some(origin) = origin {
                req = req.header(header::ORIGIN, origin);
            }
            req.body(Body::empty()).unwrap()
        };
        for (query, origin, status, field) in [
            ("", Some(APP_ORIGIN), StatusCode::BAD_REQUEST, "key"),
            ("key=", Some(APP_ORIGIN), StatusCode::BAD_REQUEST, "key"),
            ("key=pk_nope", Some(APP_ORIGIN), StatusCode::UNAUTHORIZED, "key"),
            ("key=sk_test", Some(APP_ORIGIN), StatusCode::FORBIDDEN, "key"),
            ("key=pk_test", Some("https://evil.example"), StatusCode::FORBIDDEN, "origin"),
            // The other project's key, from this project's page.
            ("key=pk_other", Some(APP_ORIGIN), StatusCode::FORBIDDEN, "origin"),
        ] {
            let (got, body) = h.send(get(query.to_string(), origin)).await;
            assert_eq!((got, body["field"].as_str()), (status, Some(field)), "{path}{query} from {origin:?}: {body}");
        }
        // From the page, and from a server (no Origin).
        assert_eq!(h.send(get(format!("key={KEY}"), Some(APP_ORIGIN))).await.0, StatusCode::OK, "{path}");
        assert_eq!(h.send(get(format!("key={KEY}"), None)).await.0, StatusCode::OK, "{path}");
    }

    // The page may read the answer.
    let req = Request::get(format!("/v1/checklists?key={KEY}")).header(header::ORIGIN, APP_ORIGIN).body(Body::empty());
    let res = h.app.app.clone().oneshot(req.unwrap()).await.unwrap();
    assert_eq!(res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], APP_ORIGIN);

    let (status, body) = h.widget_get(&format!("/v1/checklists/state?key={KEY}")).await;
    assert_eq!((status, &body["field"]), (StatusCode::BAD_REQUEST, &json!("user_id")), "{body}");
}

#[tokio::test]
async fn reports_need_the_secret_key() {
    let h = Harness::new().await;
    for path in ["/v1/checklists/funnel", "/v1/checklists/churn-risk"] {
        for (authorization, status) in [
            (Some("Bearer pk_test"), StatusCode::FORBIDDEN),
            (Some("Bearer sk_nope"), StatusCode::FORBIDDEN),
            (Some("Basic sk_test"), StatusCode::UNAUTHORIZED),
            (Some("Bearer sk_test"), StatusCode::OK),
        ] {
            let (got, body) = h.report(path, authorization).await;
            assert_eq!(got, status, "{path} with {authorization:?}: {body}");
        }
        // Not even the public key in the query opens a report.
        let req = Request::get(format!("{path}?key={KEY}")).header(header::ORIGIN, APP_ORIGIN).body(Body::empty());
        let (got, body) = h.send(req.unwrap()).await;
        assert_eq!((got, &body["field"]), (StatusCode::UNAUTHORIZED, &json!("authorization")), "{path}");
    }
}

#[tokio::test]
async fn without_checklists_every_route_is_a_json_404() {
    let h = Harness::with(None).await;
    for (uri, widget) in [
        (format!("/v1/checklists?key={KEY}"), true),
        (format!("/v1/checklists/state?key={KEY}&user_id=u1"), true),
        ("/v1/checklists/funnel".to_string(), false),
        ("/v1/checklists/churn-risk".to_string(), false),
    ] {
        let (status, body) = if widget { h.widget_get(&uri).await } else { h.report(&uri, None).await };
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body, json!({"error": "no checklists are configured on this collector"}), "{uri}");
    }
}

#[test]
fn a_bad_checklists_file_is_refused_naming_the_file_and_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checklists.json");
    std::fs::write(
        &file,
        r#"{"segments": [{"id": "big", "when": {"team_size": {">=": "ten"}}, "checklist": "nope"}],
            "checklists": [{"id": "c", "title": "C", "items": [
                {"id": "a", "title": "A", "complete_when": {"event": "x", "count": 0}}]}]}"#,
    )
    .unwrap();
    let err = ChecklistCatalog::load(&file).err().expect("an invalid file was loaded").to_string();
    let f = file.display();
    for expected in [
        format!("{f}: segments[0].when.team_size.>=:"),
        format!("{f}: segments[0].checklist:"),
        format!("{f}: checklists[0].items[0].complete_when.count:"),
    ] {
        assert!(err.contains(&expected), "{expected:?} missing from:\n{err}");
    }

    let missing = dir.path().join("missing.json");
    let err = ChecklistCatalog::load(&missing).err().expect("a missing file was loaded").to_string();
    assert!(err.contains(&format!("{}: cannot read", missing.display())), "{err}");
}
