//! Insight through `router(state)` over a scripted history: success-behavior
//! discovery, the health backtest, and the dashboard's filters compared with
//! the stored rows read straight from the database. Runs on SQLite, and on
//! Postgres when `DATABASE_URL` is set.

use std::collections::BTreeSet;
use std::path::Path;

use axum::http::StatusCode;
use serde_json::{json, Value};
use touchpoint_collector::accounts::AccountsCatalog;
use touchpoint_collector::checklists::ChecklistCatalog;
use touchpoint_collector::insight::{self, backtest, MAX_BACKTEST_ACCOUNTS, MAX_CUTOFFS};

mod common;
use common::app::{event, repo_file, TestApp};

const KEY: &str = "pk_test";
const SECRET: &str = "sk_test";
const PROJECTS: &str = r#"[{"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"]}]"#;
const DAY: i64 = 86_400_000;
/// 2024-03-01T00:00:00Z: "now" for every read.
const NOW: i64 = 1_709_251_200_000;
const START: i64 = NOW - 100 * DAY;

async fn app() -> TestApp {
    let checklists = ChecklistCatalog::load(&repo_file("checklists.json")).unwrap();
    let text = std::fs::read_to_string(repo_file("accounts.json")).unwrap();
    let accounts = AccountsCatalog::from_json(&text, Path::new("accounts.json"), &|_| None).unwrap();
    TestApp::new(PROJECTS, |s| s.with_checklists(Some(checklists)).with_accounts(Some(accounts))).await
}

/// `inv3` → `inv-big-3`: large organisations (the first 10 of each group) and small teams in separate accounts.
fn account_of(user: &str) -> String {
    let group = &user[..3];
    let i: i64 = user[3..].parse().unwrap();
    format!("{group}-{}-{}", if i < 10 { "big" } else { "small" }, i % 5)
}

/// 30 people invite a teammate on day 2 and 27 of them are back in week 5;
/// 30 others do not, and 4 are back. The first 10 of each are large
/// organisations. Three people export a PDF on day 1. Twenty of each answer
/// the NPS survey: inviters 9–10, the others 8 (large) or 3 and 8 (small).
fn history() -> Vec<Value> {
    let mut out = Vec::new();
    for (group, invites, back) in [("inv", true, 27), ("not", false, 4)] {
        for i in 0..30 {
            let user = format!("{group}{i}");
            let (anon, u) = (format!("b-{user}"), Some(user.as_str()));
            let first = START + i64::from(i) * 60_000;
            let track = |day: i64, name: &str, props: Value| {
                event(&anon, u, first + day * DAY, json!({ "type": "track", "name": name, "props": props }))
            };
            let team_size = if i < 10 { 200 } else { 4 };
            let plan = if i % 2 == 0 { "pro" } else { "free" };
            out.push(event(
                &anon,
                u,
                first,
                json!({ "type": "identify", "traits": { "team_size": team_size, "plan": plan } }),
            ));
            out.push(event(
                &anon,
                u,
                first,
                json!({ "type": "group", "account_id": account_of(&user), "traits": { "seats": team_size } }),
            ));
            out.push(track(0, "created_project", json!({})));
            if invites {
                out.push(track(2, "invited_teammate", json!({})));
            }
            if i < back {
                out.push(track(35, "opened_report", json!({})));
            }
            if (group, i) == ("inv", 0) || (group == "not" && i < 2) {
                out.push(track(1, "exported_pdf", json!({})));
            }
            if i < 20 {
                let score = match (invites, i < 10, i % 2) {
                    (true, _, 0) => 10,
                    (true, _, _) => 9,
                    (false, true, _) => 8,
                    (false, false, 0) => 3,
                    (false, false, _) => 8,
                };
                let rid = format!("resp-{user}");
                let sv = |kind: Value| {
                    let mut e = event(&anon, u, first + 3 * DAY, kind);
                    e["survey_id"] = json!("nps");
                    e["response_id"] = json!(rid);
                    e
                };
                out.push(sv(json!({ "type": "survey_shown" })));
                out.push(sv(json!({ "type": "survey_answered", "question_id": "score", "value": score })));
            }
        }
    }
    out
}

async fn seeded() -> TestApp {
    let t = app().await;
    for chunk in history().chunks(100) {
        let results = t.post(KEY, chunk).await;
        assert!(results.iter().all(|r| r["status"] == "accepted"), "{results:?}");
    }
    t
}

async fn get(t: &TestApp, uri: &str) -> Value {
    let (status, body) = t.secret_get(uri, SECRET).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

#[tokio::test]
async fn discovery_ranks_the_behavior_that_goes_with_staying_first() {
    let t = seeded().await;
    // Health is what the accounts worker last recorded: one pass records it.
    let catalog = t.state.accounts.clone().unwrap();
    touchpoint_collector::accounts::changes::pass(&t.state, &catalog, NOW).await.unwrap();
    let d = get(&t, &format!("/v1/insight/behaviors?days=7&now={NOW}")).await;
    assert_eq!(
        (d["unit"].as_str(), d["population"].as_u64(), d["subjects"].as_u64()),
        (Some("user"), Some(60), Some(60))
    );
    assert_eq!(d["sampled"], false);
    assert!(d["caution"].as_str().unwrap().starts_with("Correlation is not causation"));

    let top = &d["behaviors"][0];
    assert_eq!(top["event"], "invited_teammate");
    assert_eq!((top["did"].as_u64(), top["did_not"].as_u64()), (Some(30), Some(30)));
    let r = &top["retention"];
    assert_eq!((r["did"]["count"].as_u64(), r["did"]["of"].as_u64()), (Some(27), Some(30)));
    assert_eq!((r["did_not"]["count"].as_u64(), r["did_not"]["of"].as_u64()), (Some(4), Some(30)));
    let lift = &r["lift"];
    assert!((lift["value"].as_f64().unwrap() - 27.0 / 4.0).abs() < 1e-9, "{lift}");
    assert!(lift["low"].as_f64().unwrap() > 1.0, "{lift}");
    assert_eq!(top["verdict"], "stay_more_often");
    let items: BTreeSet<&str> =
        top["checklist_items"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(
        items,
        BTreeSet::from(["get_started/invite_teammate", "team_setup/invite_three", "rollout/invite_five"])
    );
    assert!(top["advice"].as_str().unwrap().contains("A/B split"));
    // NPS: 20 inviters all promoters (100); of the 20 others, 5 detractors and 15 passives (−25).
    assert_eq!((top["nps"]["did"].as_f64(), top["nps"]["did_not"].as_f64()), (Some(100.0), Some(-25.0)));
    assert_eq!((top["nps"]["did_n"].as_u64(), top["nps"]["did_not_n"].as_u64()), (Some(20), Some(20)));
    // Health is each user's account's, as last recorded; both groups have accounts, and they
    // are the scores the accounts API gives.
    assert_eq!((top["health"]["did_n"].as_u64(), top["health"]["did_not_n"].as_u64()), (Some(30), Some(30)));
    let accounts = get(&t, &format!("/v1/accounts?now={NOW}")).await;
    let mean = |prefix: &str| {
        let scores: Vec<f64> = accounts["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["account_id"].as_str().unwrap().starts_with(prefix))
            .map(|a| a["health"].as_f64().unwrap() * a["users"].as_f64().unwrap())
            .collect();
        scores.iter().sum::<f64>() / 30.0
    };
    assert!((top["health"]["did"].as_f64().unwrap() - mean("inv-")).abs() < 1e-9, "{}", top["health"]);
    assert!((top["health"]["did_not"].as_f64().unwrap() - mean("not-")).abs() < 1e-9, "{}", top["health"]);

    let rare = d["behaviors"].as_array().unwrap().iter().find(|b| b["event"] == "exported_pdf").unwrap();
    assert_eq!((rare["did"].as_u64(), rare["verdict"].as_str()), (Some(3), Some("too_few_to_tell")));
    assert!(rare["advice"].as_str().unwrap().starts_with("too few to tell"));
    // Done on day 35 by some: nobody did it in the first week.
    let late = d["behaviors"].as_array().unwrap().iter().find(|b| b["event"] == "opened_report").unwrap();
    assert_eq!((late["did"].as_u64(), late["verdict"].as_str()), (Some(0), Some("too_few_to_tell")));

    // By account: every inviter's account invited, no other's did.
    let a = get(&t, &format!("/v1/insight/behaviors?days=7&unit=account&min_group=3&now={NOW}")).await;
    let top = &a["behaviors"][0];
    assert_eq!((a["population"].as_u64(), top["event"].as_str()), (Some(20), Some("invited_teammate")));
    assert_eq!((top["did"].as_u64(), top["did_not"].as_u64()), (Some(10), Some(10)));

    for bad in ["days=0", "unit=team", "days=x"] {
        let (status, body) = t.secret_get(&format!("/v1/insight/behaviors?{bad}"), SECRET).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test]
async fn the_backtest_scores_past_moments_with_todays_weights() {
    let t = seeded().await;
    let b =
        get(&t, &format!("/v1/insight/backtest?horizon_days=30&step_days=7&threshold=40&detail=true&now={NOW}")).await;
    let weights: Vec<&str> = b["weights"].as_array().unwrap().iter().map(|w| w[0].as_str().unwrap()).collect();
    assert_eq!(weights, ["nps", "checklist", "behaviors", "recency", "frequency", "open_cases"]);
    // Cutoffs every 7 days back from now − 30 while history precedes them: days 70, 63, … 7 after START.
    assert_eq!(b["cutoffs"].as_array().unwrap().len(), 10);
    let detail = b["detail"].as_array().unwrap();
    assert_eq!(b["samples"].as_u64(), Some(detail.len() as u64));
    // Each sample's label against the stored activity: active in the 30 days before the cutoff, and
    // "went inactive" exactly when nothing of the account happened in the 30 days after it.
    let activity: Vec<(String, i64)> =
        t.db.rows("SELECT user_id, ts FROM events")
            .await
            .into_iter()
            .map(|r| (account_of(r[0].as_str().unwrap()), r[1].as_i64().unwrap()))
            .collect();
    let mut pairs = BTreeSet::new();
    for s in detail {
        let cutoff = s["cutoff"].as_i64().unwrap();
        let account = s["account_id"].as_str().unwrap();
        let of: Vec<i64> = activity.iter().filter(|(a, _)| a == account).map(|(_, ts)| *ts).collect();
        assert!(of.iter().any(|&ts| ts <= cutoff && ts > cutoff - 30 * DAY), "{s}");
        let after = of.iter().any(|&ts| ts > cutoff && ts <= cutoff + 30 * DAY);
        assert_eq!(s["went_inactive"].as_bool(), Some(!after), "{s}");
        pairs.insert((account.to_string(), cutoff));
    }
    // And every eligible account × cutoff was scored.
    let accounts: BTreeSet<&String> = activity.iter().map(|(a, _)| a).collect();
    for cutoff in b["cutoffs"].as_array().unwrap().iter().map(|c| c.as_i64().unwrap()) {
        for a in &accounts {
            let active = activity.iter().any(|(x, ts)| x == *a && *ts <= cutoff && *ts > cutoff - 30 * DAY);
            assert_eq!(pairs.contains(&((*a).clone(), cutoff)), active, "{a} at {cutoff}");
        }
    }
    let went = b["went_inactive"].as_u64().unwrap();
    assert!(went > 0 && went < detail.len() as u64, "{b}");
    let auc = b["auc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&auc));
    assert!(b["summary"].as_str().unwrap().starts_with(&format!("AUC {auc:.2}")));
    assert!(b["method"].as_str().unwrap().contains("today's weights"));
}

/// Above `max_accounts`, a fixed sample of exactly that many accounts is
/// scored, the same on every call, from those accounts' own rows only, and
/// each scores as it does when every account is scored.
#[tokio::test]
async fn the_backtest_scores_a_fixed_sample_of_accounts_from_their_rows_only() {
    let t = seeded().await;
    let uri = |max: usize| {
        format!(
            "/v1/insight/backtest?horizon_days=30&step_days=7&threshold=40&detail=true&now={NOW}&max_accounts={max}"
        )
    };
    let scored = |b: &Value| -> BTreeSet<String> {
        b["detail"].as_array().unwrap().iter().map(|s| s["account_id"].as_str().unwrap().to_string()).collect()
    };
    let rows: Vec<String> =
        t.db.rows("SELECT user_id FROM events WHERE rejected IS NULL")
            .await
            .into_iter()
            .map(|r| r[0].as_str().unwrap().to_string())
            .collect();

    // 20 accounts, all scored: no sample, every row read.
    let all = get(&t, &uri(20)).await;
    assert_eq!(all["sampled"], Value::Null);
    assert_eq!(scored(&all).len(), 20);
    assert_eq!(all["rows_read"].as_u64(), Some(rows.len() as u64));

    let first = get(&t, &uri(5)).await;
    assert_eq!(first["sampled"], json!({"accounts": 5, "of": 20}));
    let sample = scored(&first);
    assert_eq!(sample.len(), 5, "{sample:?}");
    assert!(first["method"].as_str().unwrap().contains("Above 5 accounts, a fixed hash sample of 5"));
    // Stable: the same accounts again.
    let again = get(&t, &uri(5)).await;
    assert_eq!(scored(&again), sample);
    assert_eq!(again["detail"], first["detail"]);
    // Only the sample's rows were read: every user here has one browser and one account.
    let theirs = rows.iter().filter(|u| sample.contains(&account_of(u))).count();
    assert!(theirs < rows.len());
    assert_eq!(first["rows_read"].as_u64(), Some(theirs as u64));
    // And each sampled account × cutoff scores as in the full run.
    let full = all["detail"].as_array().unwrap();
    for s in first["detail"].as_array().unwrap() {
        assert!(full.contains(s), "{s} differs from the full run");
    }

    // Read and assessed a few accounts at a time, the answer is the one a single read gives.
    let catalog = t.state.accounts.clone().unwrap();
    let params = backtest::Params { now: NOW, horizon_days: 30, step_days: 7, max_cutoffs: MAX_CUTOFFS, threshold: 40 };
    let in_threes = insight::backtest_in_chunks(&t.state, catalog, KEY, params, 20, 3).await.unwrap();
    assert_eq!(in_threes.rows_read, rows.len());
    assert_eq!(
        json!(in_threes.backtest),
        json!(all)
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                for k in ["sampled", "rows_read", "weights", "method"] {
                    o.remove(k);
                }
                Value::Object(o)
            })
            .unwrap()
    );

    // The bound cannot be raised from outside.
    let raised = get(&t, &uri(1_000_000)).await;
    let bound = format!("Above {MAX_BACKTEST_ACCOUNTS} accounts, a fixed hash sample of {MAX_BACKTEST_ACCOUNTS}");
    assert!(raised["method"].as_str().unwrap().contains(&bound), "{}", raised["method"]);
    let (status, body) = t.secret_get(&format!("{}&max_accounts=x", uri(5)), SECRET).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// NPS of stored scores, computed here: % promoters − % detractors, one decimal.
fn nps(scores: &[i64]) -> f64 {
    let p = scores.iter().filter(|s| **s >= 9).count() as f64;
    let d = scores.iter().filter(|s| **s <= 6).count() as f64;
    ((p - d) / scores.len() as f64 * 1000.0).round() / 10.0
}

#[tokio::test]
async fn filtering_by_segment_keeps_exactly_that_segments_rows() {
    let t = seeded().await;
    // Straight from the database: who is a large organisation, and their scores.
    let large: BTreeSet<String> = t
        .db
        .rows("SELECT user_id, body FROM events WHERE type = 'identify'")
        .await
        .into_iter()
        .filter(|r| {
            serde_json::from_str::<Value>(r[1].as_str().unwrap()).unwrap()["traits"]["team_size"].as_i64() >= Some(51)
        })
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(large.len(), 20);
    let answers = t.db.rows("SELECT user_id, body FROM events WHERE type = 'survey_answered'").await;
    let scores_of = |keep: &dyn Fn(&str) -> bool| -> Vec<i64> {
        answers
            .iter()
            .filter(|r| keep(r[0].as_str().unwrap()))
            .map(|r| serde_json::from_str::<Value>(r[1].as_str().unwrap()).unwrap()["value"].as_i64().unwrap())
            .collect()
    };
    let large_scores = scores_of(&|u| large.contains(u));
    let all_scores = scores_of(&|_| true);
    assert_ne!(nps(&large_scores), nps(&all_scores), "the filter must make a difference here");

    let report = get(&t, "/v1/dashboard/surveys/nps?segment=large_org").await;
    assert_eq!(report["nps"]["responses"].as_u64(), Some(large_scores.len() as u64));
    assert_eq!(report["nps"]["nps"].as_f64(), Some(nps(&large_scores)));
    assert_eq!(get(&t, "/v1/dashboard/surveys/nps").await["nps"]["nps"].as_f64(), Some(nps(&all_scores)));

    let funnel = get(&t, "/v1/checklists/funnel?segment=large_org").await;
    assert_eq!(funnel["segments"].as_array().unwrap().len(), 1);
    assert_eq!(funnel["segments"][0]["users"].as_u64(), Some(20));
    // A filter on plan too: large organisations on "pro" only (even i: 5 of each group).
    let funnel = get(&t, "/v1/checklists/funnel?segment=large_org&plan=pro").await;
    assert_eq!(funnel["segments"][0]["users"].as_u64(), Some(10));

    let (status, csv) = t.secret_get("/v1/export/responses.csv?survey_id=nps&segment=large_org", SECRET).await;
    assert_eq!(status, StatusCode::OK);
    let csv = csv.as_str().unwrap().to_string();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for column in ["account_id", "trait.plan", "trait.team_size", "trait.account.seats"] {
        assert!(header.contains(&column), "{column} in {header:?}");
    }
    let users: BTreeSet<String> = lines.map(|l| l.split(',').nth(2).unwrap().to_string()).collect();
    let answered_large: BTreeSet<String> =
        answers.iter().map(|r| r[0].as_str().unwrap().to_string()).filter(|u| large.contains(u)).collect();
    assert_eq!(users, answered_large);

    let (_, events) = t.secret_get("/v1/export/events.csv?segment=large_org", SECRET).await;
    let stored = t.db.rows("SELECT user_id FROM events").await;
    let expected = stored.iter().filter(|r| large.contains(r[0].as_str().unwrap())).count();
    assert_eq!(events.as_str().unwrap().lines().count() - 1, expected);

    // Dates: the survey was answered on day 3 after each first seen, all within START + 3 days.
    let day = |ms: i64| touchpoint_collector::time::date(ms);
    let before = get(&t, &format!("/v1/dashboard/surveys/nps?to={}", day(START + DAY))).await;
    assert_eq!(before["nps"]["responses"].as_u64(), Some(0));
    let during = get(&t, &format!("/v1/dashboard/surveys/nps?from={}&to={}", day(START), day(START + 4 * DAY))).await;
    assert_eq!(during["nps"]["responses"].as_u64(), Some(all_scores.len() as u64));
    let (status, body) = t.secret_get("/v1/dashboard/surveys/nps?from=yesterday", SECRET).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("from")));
}

#[tokio::test]
async fn breakdowns_put_segments_side_by_side_with_sizes_and_the_previous_period() {
    let t = seeded().await;
    let day = |ms: i64| touchpoint_collector::time::date(ms);
    let uri = format!("/v1/insight/breakdown?survey_id=nps&by=segment&from={}&to={}", day(START), day(START + 6 * DAY));
    let b = get(&t, &uri).await;
    let groups: Vec<(&str, u64, Option<f64>)> = b["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["group"].as_str().unwrap(), g["nps"]["responses"].as_u64().unwrap(), g["nps"]["nps"].as_f64()))
        .collect();
    // 20 answers of each segment: large = inv0–9 promoters + not0–9 passives: 50; small = 10
    // promoters, 5 detractors, 5 passives: 25.
    assert_eq!(groups, [("large_org", 20, Some(50.0)), ("small_team", 20, Some(25.0))]);
    assert_eq!(b["groups"][0]["response_rate"].as_f64(), Some(100.0));
    assert_eq!(b["groups"][0]["previous"]["responses"].as_u64(), Some(0));
    // Every answer came on day 3, a Saturday (2023-11-25): one week, the group's NPS.
    let trend = b["groups"][0]["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 1, "{trend:?}");
    assert_eq!((trend[0]["label"].as_str(), trend[0]["nps"].as_f64()), (Some("2023-11-20"), Some(50.0)));
    let tiers = get(&t, "/v1/insight/breakdown?survey_id=nps&by=tier").await;
    let names: BTreeSet<&str> =
        tiers["groups"].as_array().unwrap().iter().map(|g| g["group"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["high_touch", "tech_touch"]));
}
