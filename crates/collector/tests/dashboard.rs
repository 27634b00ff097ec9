//! The dashboard's data and exports over a scripted data set, through
//! `router(state)`: survey figures (NPS overall and per period, distribution,
//! rates, follow-up answers), help searches without a result, the page's
//! headers, and CSV exports compared with the stored rows read straight from
//! the database. Runs on SQLite, and on Postgres when `DATABASE_URL` is set.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tempfile::TempDir;
use touchpoint_collector::checklists::ChecklistCatalog;
use tower::ServiceExt;

mod common;
use common::app::TestApp;
use common::TestDb;

const KEY: &str = "pk_test";
const SECRET: &str = "sk_test";
const PROJECTS: &str = r#"[
    {"public_key": "pk_test", "secret_key": "sk_test", "allowed_origins": ["*"]},
    {"public_key": "pk_other", "secret_key": "sk_other", "allowed_origins": ["*"]}
]"#;
/// Monday 2023-11-13T00:00:00Z.
const WEEK1: i64 = 1_699_833_600_000;
const DAY: i64 = 24 * 60 * 60 * 1000;
const WEEK2: i64 = WEEK1 + 7 * DAY;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

struct Harness {
    _dir: TempDir,
    db: TestDb,
    app: Router,
}

impl Harness {
    async fn new() -> Harness {
        let checklists = ChecklistCatalog::load(&repo("checklists.json")).unwrap();
        let t = TestApp::new(PROJECTS, |s| s.with_checklists(Some(checklists))).await;
        Harness { app: t.app, db: t.db, _dir: t.dir }
    }

    async fn raw(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn get_as(&self, uri: &str, secret: Option<&str>) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut req = Request::get(uri);
        if let Some(s) = secret {
            req = req.header(header::AUTHORIZATION, format!("Bearer {s}"));
        }
        self.raw(req.body(Body::empty()).unwrap()).await
    }

    async fn json(&self, uri: &str) -> Value {
        let (status, _, body) = self.get_as(uri, Some(SECRET)).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn post_as(&self, key: &str, events: &[Value]) {
        for chunk in events.chunks(100) {
            let body = json!({ "key": key, "events": chunk }).to_string();
            let req =
                Request::post("/v1/events").header(header::CONTENT_TYPE, "application/json").body(Body::from(body));
            let (status, _, body) = self.raw(req.unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(!body.contains("rejected") && !body.contains("duplicate"), "{body}");
        }
    }
}

/// One event of response `r` (user `u<r>`, browser `b<r>`) at `ts`.
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// Ids increase in creation order, so rows with equal `ts` sort by id as they arrived.
fn survey_event(r: u32, ts: i64, kind: Value) -> Value {
    let mut e = json!({
        "id": format!("s{:06}", NEXT_ID.fetch_add(1, Ordering::Relaxed)), "ts": ts, "anonymous_id": format!("b{r}"), "user_id": format!("u{r}"),
        "url": "https://app.example.com/", "survey_id": "nps", "response_id": format!("resp-{r}"),
    });
    e.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
    e
}

fn shown(r: u32, ts: i64) -> Value {
    survey_event(r, ts, json!({"type": "survey_shown"}))
}

fn answer(r: u32, ts: i64, question: &str, value: Value) -> Value {
    survey_event(r, ts, json!({"type": "survey_answered", "question_id": question, "value": value}))
}

/// The completion of `ending`, with that ending's actions as the survey defines them.
fn ending(r: u32, ts: i64, ending: &str) -> Value {
    let survey: Value =
        serde_json::from_str(&std::fs::read_to_string(common::app::repo_file("surveys/nps.json")).unwrap()).unwrap();
    let defined = survey["endings"].as_array().unwrap().iter().find(|e| e["id"] == ending).unwrap();
    let actions = defined.get("actions").cloned().unwrap_or(json!([]));
    survey_event(r, ts, json!({"type": "survey_completed", "ending_id": ending, "actions": actions}))
}

fn dismissed(r: u32, ts: i64, question: &str) -> Value {
    survey_event(r, ts, json!({"type": "survey_dismissed", "question_id": question}))
}

pub const TRICKY_TEXT: &str = "Too slow, \"really\", on big boards\nand exports";
pub const FORMULA_TEXT: &str = "=HYPERLINK(\"http://evil.example\",\"10\")";

/// Eight showings over two weeks (see the assertions for what they add up to).
fn scripted() -> Vec<Value> {
    let t = |week: i64, day: i64, minute: i64| week + day * DAY + minute * 60_000;
    vec![
        // Week 1: 10 (review), 5 then changed to 9 (later), 3 (not ready), 7 (text).
        shown(1, t(WEEK1, 0, 0)),
        answer(1, t(WEEK1, 0, 1), "score", json!(10)),
        answer(1, t(WEEK1, 0, 2), "referral", json!("review")),
        ending(1, t(WEEK1, 0, 2), "promoter_review"),
        shown(2, t(WEEK1, 1, 0)),
        answer(2, t(WEEK1, 1, 1), "score", json!(5)),
        answer(2, t(WEEK1, 1, 2), "score", json!(9)),
        answer(2, t(WEEK1, 1, 3), "referral", json!("later")),
        ending(2, t(WEEK1, 1, 3), "promoter_thanks"),
        shown(3, t(WEEK1, 2, 0)),
        answer(3, t(WEEK1, 2, 1), "score", json!(3)),
        answer(3, t(WEEK1, 2, 2), "obstacle", json!("not_ready")),
        ending(3, t(WEEK1, 2, 2), "trial_offer"),
        shown(4, t(WEEK1, 3, 0)),
        answer(4, t(WEEK1, 3, 1), "score", json!(7)),
        answer(4, t(WEEK1, 3, 2), "make_it_10", json!(FORMULA_TEXT)),
        ending(4, t(WEEK1, 3, 2), "passive_thanks"),
        // Week 2: 0 (other + text), 6 (missing feature, then closed), 10 (closed), one never answered.
        shown(5, t(WEEK2, 0, 0)),
        answer(5, t(WEEK2, 0, 1), "score", json!(0)),
        answer(5, t(WEEK2, 0, 2), "obstacle", json!("other")),
        answer(5, t(WEEK2, 0, 3), "obstacle_other", json!(TRICKY_TEXT)),
        ending(5, t(WEEK2, 0, 3), "detractor_thanks"),
        shown(6, t(WEEK2, 1, 0)),
        answer(6, t(WEEK2, 1, 1), "score", json!(6)),
        answer(6, t(WEEK2, 1, 2), "obstacle", json!("missing_feature")),
        // Closed on the last question answered, before its ending was recorded.
        dismissed(6, t(WEEK2, 1, 3), "obstacle"),
        shown(7, t(WEEK2, 2, 0)),
        answer(7, t(WEEK2, 2, 1), "score", json!(10)),
        dismissed(7, t(WEEK2, 2, 2), "referral"),
        shown(8, t(WEEK2, 3, 0)),
    ]
}

fn help_search(user: &str, ts: i64, query: &str, results: u32) -> Value {
    json!({"id": format!("h-{user}-{ts}"), "ts": ts, "anonymous_id": format!("b-{user}"), "user_id": user,
           "url": "https://app.example.com/", "type": "help_searched", "query": query, "result_count": results})
}

#[tokio::test]
async fn survey_figures_add_up_for_a_scripted_data_set() {
    let h = Harness::new().await;
    h.post_as(KEY, &scripted()).await;
    // Another project's responses never count.
    h.post_as(
        "pk_other",
        &[survey_event(99, WEEK1, json!({"type": "survey_answered", "question_id": "score", "value": 0}))],
    )
    .await;

    let r = h.json("/v1/dashboard/surveys/nps").await;
    assert_eq!(r["title"], "How are we doing?");
    assert_eq!(
        (&r["showings"], &r["answered"], &r["completed"], &r["dismissed"]),
        (&json!(8), &json!(7), &json!(5), &json!(2))
    );
    assert_eq!((&r["response_rate"], &r["completion_rate"]), (&json!(87.5), &json!(62.5)));
    // 10, 9, 3, 7, 0, 6, 10: 3 promoters, 1 passive, 3 detractors.
    assert_eq!(r["nps"], json!({"responses": 7, "promoters": 3, "passives": 1, "detractors": 3, "nps": 0.0}));
    // The same as the NPS route.
    let nps = h.json("/v1/surveys/nps/nps").await;
    assert_eq!(nps["nps"], r["nps"]["nps"]);
    let counts: Vec<i64> = r["distribution"].as_array().unwrap().iter().map(|d| d["count"].as_i64().unwrap()).collect();
    assert_eq!(counts, [1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 2]);
    assert_eq!(
        r["over_time"],
        json!({"interval": "week", "periods": [
            {"start": WEEK1, "label": "2023-11-13", "responses": 4, "promoters": 2, "passives": 1, "detractors": 1, "nps": 25.0},
            {"start": WEEK2, "label": "2023-11-20", "responses": 3, "promoters": 1, "passives": 0, "detractors": 2, "nps": -33.3},
        ]})
    );
    let daily = h.json("/v1/dashboard/surveys/nps?interval=day").await;
    let labels: Vec<&str> =
        daily["over_time"]["periods"].as_array().unwrap().iter().map(|p| p["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        ["2023-11-13", "2023-11-14", "2023-11-15", "2023-11-16", "2023-11-20", "2023-11-21", "2023-11-22"]
    );
    let monthly = h.json("/v1/dashboard/surveys/nps?interval=month").await;
    assert_eq!(monthly["over_time"]["periods"][0]["label"], "2023-11");

    let follow =
        |id: &str| r["follow_ups"].as_array().unwrap().iter().find(|q| q["question_id"] == id).unwrap().clone();
    let obstacle = follow("obstacle");
    assert_eq!(obstacle["answered"], 3);
    let choices: Vec<(&str, i64, i64)> = obstacle["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["label"].as_str().unwrap(), c["count"].as_i64().unwrap(), c["detractors"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        choices,
        [
            ("Not ready to upgrade", 1, 1),
            ("Missing feature", 1, 1),
            ("Too hard to use", 0, 0),
            ("Something else", 1, 1)
        ]
    );
    let referral: Vec<(i64, i64)> = follow("referral")["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["count"].as_i64().unwrap(), c["promoters"].as_i64().unwrap()))
        .collect();
    assert_eq!(referral, [(1, 1), (0, 0), (1, 1)]);
    let texts = follow("obstacle_other")["texts"].clone();
    assert_eq!(texts[0]["text"], TRICKY_TEXT);
    assert_eq!((&texts[0]["user_id"], &texts[0]["score"]), (&json!("u5"), &json!(0)));
    assert_eq!(follow("make_it_10")["texts"][0]["text"], FORMULA_TEXT);
    let endings: Vec<(&str, i64)> = r["endings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        endings,
        [
            ("trial_offer", 1),
            ("detractor_thanks", 1),
            ("passive_thanks", 1),
            ("promoter_review", 1),
            ("promoter_refer", 0),
            ("promoter_thanks", 1)
        ]
    );
}

#[tokio::test]
async fn no_responses_means_no_rates_and_no_nps() {
    let h = Harness::new().await;
    let r = h.json("/v1/dashboard/surveys/nps").await;
    assert_eq!((&r["showings"], &r["response_rate"], &r["nps"]["nps"]), (&json!(0), &Value::Null, &Value::Null));
    assert_eq!(r["over_time"]["periods"], json!([]));
    let (status, _, body) = h.get_as("/v1/dashboard/surveys/nps?interval=year", Some(SECRET)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("\"field\":\"interval\""), "{body}");
    let (status, _, _) = h.get_as("/v1/dashboard/surveys/nope", Some(SECRET)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        h.json("/v1/dashboard/surveys").await,
        json!({"surveys": [
            {"id": "case_csat", "title": "How did we do?", "has_nps": false},
            {"id": "nps", "title": "How are we doing?", "has_nps": true}
        ]})
    );
}

#[tokio::test]
async fn help_searches_without_a_result_are_grouped_by_query() {
    let h = Harness::new().await;
    assert_eq!(h.json("/v1/dashboard/help-searches").await, json!({"searches": 0, "without_result": 0, "queries": []}));
    h.post_as(
        KEY,
        &[
            help_search("u1", WEEK1, "Export PDF", 0),
            help_search("u2", WEEK1 + 1, " export   pdf ", 0),
            help_search("u1", WEEK1 + 2, "export pdf", 0),
            help_search("u3", WEEK1 + 3, "billing", 3),
            help_search("u3", WEEK1 + 4, "SSO", 0),
        ],
    )
    .await;
    assert_eq!(
        h.json("/v1/dashboard/help-searches").await,
        json!({"searches": 5, "without_result": 4, "queries": [
            {"query": "export pdf", "count": 3, "people": 2, "last_searched": WEEK1 + 2},
            {"query": "sso", "count": 1, "people": 1, "last_searched": WEEK1 + 4},
        ]})
    );
}

/// A minimal RFC 4180 reader: quoted fields may hold commas, quotes ("") and line breaks.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted, mut chars) = (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "the CSV must end with a line break");
    rows
}

#[tokio::test]
async fn the_events_csv_holds_exactly_the_stored_rows() {
    let h = Harness::new().await;
    let mut events = scripted();
    // More than one page of the export (2,000 rows).
    events.extend((0..2050).map(|i| {
        json!({"id": format!("t{i:05}"), "ts": WEEK2 + 10 * DAY + i, "anonymous_id": "bulk", "url": "https://app.example.com/",
               "type": "track", "name": "clicked", "props": {"note": "a, \"b\"\n"}})
    }));
    h.post_as(KEY, &events).await;
    h.post_as("pk_other", &[help_search("x", WEEK1, "not mine", 0)]).await;

    let (status, headers, body) = h.get_as("/v1/export/events.csv", Some(SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(headers[header::CONTENT_DISPOSITION], "attachment; filename=\"events.csv\"");
    let rows = parse_csv(&body);
    assert_eq!(
        rows[0],
        [
            "id",
            "type",
            "ts",
            "time_utc",
            "received_at",
            "anonymous_id",
            "user_id",
            "url",
            "survey_id",
            "response_id",
            "question_id",
            "body",
            "rejected",
            "ts_flag"
        ]
    );
    let stored =
        h.db.rows(
            "SELECT id, type, ts, received_at, anonymous_id, user_id, url, survey_id, response_id, question_id, body,
                    rejected, ts_flag
             FROM events WHERE project_key = 'pk_test' ORDER BY ts, id",
        )
        .await;
    assert_eq!(rows.len() - 1, stored.len());
    assert_eq!(stored.len(), events.len());
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for (csv, db) in rows[1..].iter().zip(&stored) {
        let expected: Vec<String> = [
            text(&db[0]),
            text(&db[1]),
            text(&db[2]),
            String::new(), // time_utc, checked below
            text(&db[3]),
            text(&db[4]),
            text(&db[5]),
            text(&db[6]),
            text(&db[7]),
            text(&db[8]),
            text(&db[9]),
            text(&db[10]),
            text(&db[11]),
            text(&db[12]),
        ]
        .into_iter()
        .collect();
        let mut got = csv.clone();
        let time = std::mem::take(&mut got[3]);
        assert_eq!(got, expected);
        assert_eq!(time, touchpoint_collector::time::iso(db[2].as_i64().unwrap()));
    }
    // The body cell is the stored JSON, quotes and line breaks intact.
    let tricky = rows.iter().find(|r| r[0] == "t00000").unwrap();
    assert_eq!(serde_json::from_str::<Value>(&tricky[11]).unwrap()["props"]["note"], "a, \"b\"\n");

    let (_, _, only) = h.get_as("/v1/export/events.csv?type=survey_completed", Some(SECRET)).await;
    assert_eq!(parse_csv(&only).len(), 1 + 5);
    let (status, _, _) = h.get_as("/v1/export/events.csv", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_responses_csv_has_one_record_per_response() {
    let h = Harness::new().await;
    h.post_as(KEY, &scripted()).await;
    let (status, headers, body) = h.get_as("/v1/export/responses.csv?survey_id=nps", Some(SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CONTENT_DISPOSITION], "attachment; filename=\"responses-nps.csv\"");
    let rows = parse_csv(&body);
    assert_eq!(
        rows[0],
        [
            "response_id",
            "survey_id",
            "user_id",
            "anonymous_id",
            "started_at",
            "last_event_at",
            "category",
            "score",
            "obstacle",
            "obstacle_other",
            "make_it_10",
            "referral",
            "ending_id",
            "status",
            "account_id"
        ]
    );
    let by_id = |id: &str| rows.iter().find(|r| r[0] == id).unwrap_or_else(|| panic!("no {id} in {rows:?}")).clone();
    assert_eq!(rows.len(), 1 + 8);
    assert_eq!(
        by_id("resp-2"),
        [
            "resp-2",
            "nps",
            "u2",
            "b2",
            "2023-11-14T00:00:00.000Z",
            "2023-11-14T00:03:00.000Z",
            "promoter",
            "9",
            "",
            "",
            "",
            "later",
            "promoter_thanks",
            "completed",
            ""
        ]
    );
    let r5 = by_id("resp-5");
    assert_eq!((r5[7].as_str(), r5[8].as_str(), r5[9].as_str()), ("0", "other", TRICKY_TEXT));
    // A formula typed by an end user is defused for spreadsheets.
    assert_eq!(by_id("resp-4")[10], format!("'{FORMULA_TEXT}"));
    assert_eq!((by_id("resp-6")[12].as_str(), by_id("resp-6")[13].as_str()), ("", "dismissed"));
    assert_eq!((by_id("resp-8")[6].as_str(), by_id("resp-8")[13].as_str()), ("", "open"));
    let (status, _, _) = h.get_as("/v1/export/responses.csv", Some(SECRET)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_page_is_served_without_data_under_a_strict_policy_and_the_data_needs_the_secret_key() {
    let h = Harness::new().await;
    let (status, headers, body) = h.get_as("/dashboard", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(body.contains("<script src=\"/dashboard/app.js\" defer></script>"));
    // No inline script and nothing from another origin.
    assert!(!body.contains("<script>") && !body.contains("http://") && !body.contains("https://"), "{body}");
    let (status, headers, js) = h.get_as("/dashboard/app.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/javascript"));
    assert!(!js.contains("innerHTML") && !js.contains("eval("), "values must be written as text");
    assert!(js.contains("sessionStorage"));
    // Every script the page loads (the editors too) is ours, served, and writes values as text.
    let scripts: Vec<&str> = body.split("<script src=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    assert!(scripts.len() >= 8 && scripts.contains(&"/dashboard/help_editor.js"), "{scripts:?}");
    for src in scripts {
        let (status, headers, js) = h.get_as(src, None).await;
        assert_eq!(status, StatusCode::OK, "{src}");
        assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/javascript"), "{src}");
        assert!(!js.contains("innerHTML") && !js.contains("eval("), "{src} must write values as text");
    }

    for uri in [
        "/v1/dashboard/surveys",
        "/v1/dashboard/surveys/nps",
        "/v1/dashboard/help-searches",
        "/v1/export/events.csv",
        "/v1/export/responses.csv?survey_id=nps",
    ] {
        let (status, _, _) = h.get_as(uri, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        let (status, _, _) = h.get_as(uri, Some(KEY)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri} with the public key");
    }
}
