//! `/v1/checklists/state` replays only the events that decide a person's
//! checklist (kept at ingest, `store::checklist_progress`), not their whole
//! history: its answer equals a replay of every event of theirs (scripted
//! histories with counts, predicates, dependencies, manual completions,
//! dismissals, traits changing, browsers shared and identified late, an
//! account), whether the rows were backfilled from stored events or written
//! at ingest, also with two collectors on one Postgres; and a 30 000-event
//! person's read touches a few dozen events. Runs on SQLite, and on Postgres
//! when `DATABASE_URL` is set.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use touchpoint_collector::checklists::replay::{self, Person};
use touchpoint_collector::checklists::{person_activity, ChecklistCatalog};
use touchpoint_collector::store::checklist_progress::ProgressOf;
use touchpoint_collector::AppState;
use tower::ServiceExt;

mod common;
use common::app::{event, TestApp, APP_ORIGIN};

const KEY: &str = "pk_test";
const PROJECTS: &str = r#"[{"public_key": "pk_test", "secret_key": "sk_test_0123456789abcdefghij",
    "allowed_origins": ["https://app.example.com"],
    "rate_limit": {"events_per_second": 10000000, "burst": 10000000},
    "client_limits": {"events_per_second": 10000000, "event_burst": 10000000,
                      "reads_per_second": 100000, "read_burst": 100000}}]"#;
const MANUAL: &str = "complete() called by the host";

/// Segments on a user trait and on an account trait; counts, predicates,
/// dependency chains, a manual item and an account-level item.
const DEFINITION: &str = r#"{
  "segments": [
    { "id": "enterprise", "when": { "account.tier": { "equals": "enterprise" } }, "checklist": "rollout" },
    { "id": "pro", "when": { "plan": { "in": ["pro", "team"] } }, "checklist": "pro" },
    { "id": "everyone", "checklist": "basics" }
  ],
  "checklists": [
    { "id": "basics", "title": "Basics", "items": [
      { "id": "project", "title": "Create a project", "complete_when": { "event": "created_project" } },
      { "id": "import", "title": "Import", "depends_on": ["project"],
        "complete_when": { "event": "imported_data", "where": { "rows": { ">=": 10 } }, "count": 2 } },
      { "id": "invite", "title": "Invite", "depends_on": ["import"], "complete_when": { "event": "invited_teammate", "count": 3 } },
      { "id": "billing", "title": "Billing", "complete_when": "manual" } ] },
    { "id": "pro", "title": "Pro", "items": [
      { "id": "import", "title": "Import", "complete_when": { "event": "imported_data", "where": { "rows": { ">=": 10 } }, "count": 2 } },
      { "id": "slack", "title": "Slack", "depends_on": ["import"],
        "complete_when": { "event": "connected_integration", "where": { "integration": { "equals": "slack" } } } },
      { "id": "report", "title": "Report", "complete_when": { "event": "viewed_report", "count": 4 } } ] },
    { "id": "rollout", "title": "Rollout", "items": [
      { "id": "invite_team", "title": "Invite the team", "scope": "account",
        "complete_when": { "event": "invited_teammate", "count": 4 } },
      { "id": "sso", "title": "SSO", "depends_on": ["invite_team"], "complete_when": { "event": "configured_sso" } },
      { "id": "signoff", "title": "Sign-off", "complete_when": "manual" },
      { "id": "legal", "title": "Legal review", "scope": "account", "complete_when": "manual" },
      { "id": "reports", "title": "Two reports each", "scope": "account", "depends_on": ["sso"],
        "complete_when": { "event": "viewed_report", "count": 2 } } ] }
  ]
}"#;

async fn app() -> TestApp {
    let catalog = ChecklistCatalog::from_json(DEFINITION, std::path::Path::new("test")).unwrap();
    TestApp::new(PROJECTS, |s| s.with_checklists(Some(catalog))).await
}

async fn send(router: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn post(router: &Router, events: &[Value]) {
    for chunk in events.chunks(100) {
        let body = json!({ "key": KEY, "events": chunk });
        let req = Request::post("/v1/events")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, body) = send(router, req).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["results"].as_array().unwrap().iter().all(|r| r["status"] == "accepted"), "{body}");
    }
}

/// What the widget reads, without the definition's texts.
async fn read(router: &Router, who: &Person) -> Value {
    let query = match who {
        Person::User(u) => format!("user_id={u}"),
        Person::Anonymous(b) => format!("anonymous_id={b}"),
    };
    let req = Request::get(format!("/v1/checklists/state?key={KEY}&{query}"))
        .header(header::ORIGIN, APP_ORIGIN)
        .body(Body::empty())
        .unwrap();
    let (status, body) = send(router, req).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    json!({"segment": body["segment"], "checklist": body["checklist"]["id"], "progress": body["progress"],
           "dismissed": body["dismissed"], "account": body.get("account")})
}

/// The same, replayed from every stored event of theirs (what the route did before).
async fn replayed(state: &AppState, who: &Person) -> Value {
    let catalog = state.checklists.clone().unwrap();
    let rows = person_activity(&state.db, KEY.into(), who.clone()).await.unwrap();
    let mut r = replay::replay(&catalog.set, &rows);
    let user = match who {
        Person::User(u) => Some(u.clone()),
        Person::Anonymous(_) => replay::owner(&rows).map(str::to_owned),
    };
    let mut account = None;
    if let Some(user) = user {
        let found =
            touchpoint_collector::checklists::account_tally::account_checklist(state, &catalog.set, KEY, &user, None)
                .await
                .unwrap();
        if let Some((id, tally)) = found {
            let t = tally.get(&r.checklist.id).cloned().unwrap_or_default();
            r.progress.with_account(r.checklist, &t);
            account = Some(json!({ "id": id, "by": t.by }));
        }
    }
    json!({"segment": r.segment.id, "checklist": r.checklist.id, "progress": r.progress,
           "dismissed": r.dismissed, "account": account})
}

/// A small deterministic generator (xorshift), so a failing history can be rerun.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// `n` events of `users` people on `browsers` browsers: anonymous events
/// before identify, browsers shared, traits that change the segment, client
/// clocks out of order, behaviors that match a rule, almost match, or not.
fn history(dice: &mut Dice, n: usize, users: usize, browsers: usize) -> Vec<Value> {
    let t = now() - 3_600_000;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let b = format!("b{}", dice.roll(browsers));
        // Most events on a browser are of the user who usually uses it; some anonymous.
        let user = match dice.roll(10) {
            0..=1 => None,
            2 => Some(format!("u{}", dice.roll(users))),
            _ => Some(format!("u{}", b[1..].parse::<usize>().unwrap() % users)),
        };
        let ts = t + i as i64 * 1000 - dice.roll(5) as i64 * 7000;
        let kind = match dice.roll(20) {
            0 => {
                json!({"type": "identify", "traits": {"plan": (["free", "pro", "team"][dice.roll(3)]), "seats": dice.roll(50)}})
            }
            1 => json!({"type": "identify", "traits": {}}),
            2 => json!({"type": "group", "account_id": format!("a{}", dice.roll(3)),
                        "traits": {"tier": (["enterprise", "smb"][dice.roll(2)])}}),
            3 => {
                let (checklist, item) = [
                    ("basics", "billing"),
                    ("basics", "invite"),
                    ("rollout", "signoff"),
                    ("rollout", "invite_team"),
                    ("rollout", "legal"),
                    ("pro", "report"),
                    ("pro", "nope"),
                ][dice.roll(7)];
                let rule = if dice.roll(4) == 0 { "event invited_teammate" } else { MANUAL };
                json!({"type": "checklist_item_completed", "checklist_id": checklist, "item_id": item, "rule": rule})
            }
            4 => json!({"type": "checklist_dismissed", "checklist_id": (["basics", "pro", "rollout"][dice.roll(3)])}),
            5 => json!({"type": "page", "props": {}}),
            _ => {
                let (name, props) = match dice.roll(7) {
                    0 => ("created_project", json!({})),
                    1 => ("imported_data", json!({"rows": ([1, 10, 500][dice.roll(3)])})),
                    2 => ("invited_teammate", json!({})),
                    3 => ("connected_integration", json!({"integration": (["slack", "teams"][dice.roll(2)])})),
                    4 => ("viewed_report", json!({})),
                    5 => ("configured_sso", json!({})),
                    _ => ("clicked_around", json!({"where": "nav"})),
                };
                json!({"type": "track", "name": name, "props": props})
            }
        };
        // A `group` before `identify` is left out: the whole-history replay counts its owner in
        // the account only when it reads the owner's rows for another reason (see checklists::account_progress).
        let user = user
            .or_else(|| (kind["type"] == "group").then(|| format!("u{}", b[1..].parse::<usize>().unwrap() % users)));
        out.push(event(&b, user.as_deref(), ts, kind));
    }
    out
}

fn everyone(users: usize, browsers: usize) -> Vec<Person> {
    let mut people: Vec<Person> = (0..users).map(|u| Person::User(format!("u{u}"))).collect();
    people.extend((0..browsers + 1).map(|b| Person::Anonymous(format!("b{b}"))));
    people
}

async fn assert_all_equal(app: &TestApp, people: &[Person]) -> usize {
    let mut with_progress = 0;
    for who in people {
        let read = read(&app.app, who).await;
        assert_eq!(read, replayed(&app.state, who).await, "{who:?}");
        with_progress += usize::from(read["progress"]["completed"].as_object().is_some_and(|c| !c.is_empty()));
    }
    with_progress
}

#[tokio::test]
async fn the_state_equals_a_replay_of_every_event_backfilled_or_kept_at_ingest() {
    let app = app().await;
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let (users, browsers) = (8, 14);
    // Stored before any read: the first read backfills the rows from these events.
    post(&app.app, &history(&mut dice, 700, users, browsers)).await;
    let people = everyone(users, browsers);
    let with_progress = assert_all_equal(&app, &people).await;
    assert!(with_progress >= users / 2, "the history completes something for most users: {with_progress}");
    // From now on ingest keeps them, in the transaction that stores the events.
    for _ in 0..3 {
        post(&app.app, &history(&mut dice, 300, users, browsers)).await;
        assert_all_equal(&app, &people).await;
    }
}

#[tokio::test]
async fn a_thirty_thousand_event_person_replays_a_few_dozen() {
    let app = app().await;
    let t = now() - 3_600_000;
    let mut events = vec![event("laptop", None, t, json!({"type": "track", "name": "created_project", "props": {}}))];
    for i in 1..30_000i64 {
        let kind = match i % 6 {
            0 => json!({"type": "identify", "traits": {"plan": if i > 29_000 { "pro" } else { "free" }}}),
            1 => json!({"type": "track", "name": "imported_data", "props": {"rows": i % 20}}),
            2 => json!({"type": "track", "name": "invited_teammate", "props": {}}),
            3 => json!({"type": "track", "name": "viewed_report", "props": {}}),
            4 => json!({"type": "page", "props": {}}),
            _ => json!({"type": "track", "name": "clicked_around", "props": {}}),
        };
        let browser = if i % 3 == 0 { "phone" } else { "laptop" };
        events.push(event(browser, Some("ann"), t + i, kind));
    }
    post(&app.app, &events).await;
    let ann = Person::User("ann".into());
    let before = read(&app.app, &ann).await;
    assert_eq!(before, replayed(&app.state, &ann).await);
    assert_eq!(before["segment"], "pro", "{before}");
    assert_eq!(before["progress"]["counts"], json!({"import": 2, "report": 4}), "{before}");

    let subset = app.state.db.checklist_activity(KEY.into(), ProgressOf::User("ann".into())).await.unwrap().unwrap();
    assert!(subset.len() <= 16, "{} events replayed out of 30 000", subset.len());
    // Everything else can go and the read does not notice: it never reads it.
    app.db
        .execute_batch(
            "DELETE FROM events WHERE id NOT IN (SELECT event_id FROM checklist_marks)
                                  AND id NOT IN (SELECT event_id FROM checklist_moments)",
        )
        .await;
    assert_eq!(read(&app.app, &ann).await, before);
    // And an event written behind ingest's back (so not indexed) is not read either,
    // while a replay of the whole history would see her dismiss the checklist.
    let body = json!({"id": "sneaked", "ts": t, "anonymous_id": "laptop", "user_id": "ann", "url": "https://app.example.com/",
                      "type": "checklist_dismissed", "checklist_id": "pro"});
    app.db
        .execute_batch(&format!(
            "INSERT INTO events (id, project_key, type, ts, received_at, anonymous_id, user_id, url, body, source)
             VALUES ('sneaked', '{KEY}', 'checklist_dismissed', {t}, {t}, 'laptop', 'ann', 'https://app.example.com/', '{body}', 'page')"
        ))
        .await;
    assert_eq!(replayed(&app.state, &ann).await["dismissed"], true);
    assert_eq!(read(&app.app, &ann).await["dismissed"], false);
}

#[tokio::test]
async fn where_retention_removed_a_deciding_event_the_whole_history_is_replayed() {
    let app = app().await;
    let t = now() - 60_000;
    let track = |ts, rows: i64| {
        event("b", Some("bo"), ts, json!({"type": "track", "name": "imported_data", "props": {"rows": rows}}))
    };
    post(&app.app, &[track(t, 50), track(t + 1, 50), track(t + 2, 50), track(t + 3, 50)]).await;
    let bo = Person::User("bo".into());
    assert_eq!(read(&app.app, &bo).await["progress"]["counts"]["import"], 2);
    // The first two matches (the ones marked) expire; the other two still make the count.
    let first_two = app.db.strings("SELECT event_id FROM checklist_marks ORDER BY received_at, seq").await;
    assert_eq!(first_two.len(), 2);
    app.db.execute_batch(&format!("DELETE FROM events WHERE id IN ('{}', '{}')", first_two[0], first_two[1])).await;
    let after = read(&app.app, &bo).await;
    assert_eq!(after["progress"]["counts"]["import"], 2, "{after}");
    assert_eq!(after, replayed(&app.state, &bo).await);
}

#[tokio::test]
async fn two_collectors_on_one_database_keep_the_same_rows() {
    let app = app().await;
    // On Postgres a second store with its own pool, as a second collector; on SQLite the same store.
    let second = match app.db.is_postgres() {
        true => AppState { db: app.db.open(&app.state.config.data_dir).await, ..app.state.clone() },
        false => app.state.clone(),
    };
    let second = touchpoint_collector::router(second);
    let mut dice = Dice(42);
    let (users, browsers) = (5, 8);
    post(&app.app, &history(&mut dice, 200, users, browsers)).await;
    let people = everyone(users, browsers);
    assert_all_equal(&app, &people).await;
    // The same people's events through both collectors at once, in many small requests.
    for _ in 0..4 {
        let (a, b) = (history(&mut dice, 150, users, browsers), history(&mut dice, 150, users, browsers));
        let one = async {
            for chunk in a.chunks(5) {
                post(&app.app, chunk).await;
            }
        };
        let two = async {
            for chunk in b.chunks(5) {
                post(&second, chunk).await;
            }
        };
        tokio::join!(one, two);
        assert_all_equal(&app, &people).await;
    }
}
