//! The dashboard page and the data and exports behind it.
//!
//! - `GET /dashboard` (and `/dashboard/app.js`, `/dashboard/app.css`) — a
//!   static page, compiled into the binary, that holds no data. It asks for
//!   the project's secret key once, keeps it in `sessionStorage` (this tab
//!   only, gone when the tab closes) and sends it as `Authorization: Bearer`
//!   on every fetch below; the browser never sends it by itself, so there is
//!   no cookie to forge requests with. A strict Content-Security-Policy
//!   (`script-src 'self'`, no inline script) and rendering every value as
//!   text keep answers written by end users from running as script where
//!   the key lives. Charts are inline SVG drawn by `app.js`; nothing is
//!   loaded from another origin.
//! - `GET /v1/dashboard/surveys` — `{"surveys": [{"id", "title", "has_nps", "version"?}]}` (the project's published surveys with their live version, and the files')
//!   (the page opens on the first survey with an NPS question).
//! - `GET /v1/dashboard/surveys/{id}?interval=day|week|month` (default
//!   `week`) — the survey's figures (see [`crate::dashboard::survey_report`]).
//! - `GET /v1/dashboard/help-searches` — help searches without a result,
//!   grouped by query, from stored `help_searched` events.
//! - `GET /v1/export/events.csv?type=&survey_id=` — every stored event, one
//!   record each, oldest first, streamed page by page; rejected events too,
//!   with their reason in `rejected` (and a distrusted `ts` in `ts_flag`).
//! - `GET /v1/export/responses.csv?survey_id=` — one record per response.
//!
//! The survey report and both exports take the dashboard's filters
//! (`crate::insight::filter`: `from`, `to`, `segment`, `tier`, `plan`,
//! `trait.<name>`, `account`, `locale`, `version`); `responses.csv` adds the
//! respondent's `account_id` and a `trait.<name>` column per trait.
//!
//! Everything under `/v1/` needs `Authorization: Bearer <secret_key>`. The
//! checklist funnel, churn-risk users and cases come from their own routes
//! (`/v1/checklists/funnel`, `/v1/checklists/churn-risk`, `/v1/cases`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::SecretKey;
use crate::content::surveys::{self as served_surveys, Served};
use crate::dashboard::{self, EVENT_COLUMNS, PAGE};
use crate::error::AppError;
use crate::extract::Query;
use crate::insight::filter::Audience;
use crate::routes::insight;
use crate::store::{EventQuery, Store};
use crate::time::Interval;
use crate::AppState;

const PAGE_HTML: &str = include_str!("../../dashboard/index.html");
const APP_JS: &str = include_str!("../../dashboard/app.js");
const APP_CSS: &str = include_str!("../../dashboard/app.css");
const INSIGHT_JS: &str = include_str!("../../dashboard/insight.js");
const INSIGHT_CSS: &str = include_str!("../../dashboard/insight.css");
const CASES_JS: &str = include_str!("../../dashboard/cases.js");

/// Only our own script and style; SVG is drawn by script, images are inline.
/// `frame-src 'self'`: the editor's live preview (`routes::preview`).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; \
                   frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(|| async { asset(PAGE_HTML, "text/html; charset=utf-8") }))
        .route("/dashboard/", get(|| async { asset(PAGE_HTML, "text/html; charset=utf-8") }))
        .route("/dashboard/app.js", get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/dashboard/app.css", get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }))
        .route("/dashboard/insight.js", get(|| async { asset(INSIGHT_JS, "text/javascript; charset=utf-8") }))
        .route("/dashboard/insight.css", get(|| async { asset(INSIGHT_CSS, "text/css; charset=utf-8") }))
        .route("/dashboard/cases.js", get(|| async { asset(CASES_JS, "text/javascript; charset=utf-8") }))
        .route("/v1/dashboard/surveys", get(surveys))
        .route("/v1/dashboard/surveys/{id}", get(survey))
        .route("/v1/dashboard/help-searches", get(help_searches))
        .route("/v1/export/events.csv", get(events_csv))
        .route("/v1/export/responses.csv", get(responses_csv))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_SECURITY_POLICY, CSP),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (X_FRAME_OPTIONS, "DENY"),
            (REFERRER_POLICY, "no-referrer"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// In the definition's default language (English where it gives one).
fn title(entry: &Served) -> Option<String> {
    entry.survey.title().map(str::to_string)
}

/// The survey `id` as the project serves it now (its published version, else the files').
async fn find(state: &AppState, key: &str, id: &str, field: &str) -> Result<Served, AppError> {
    served_surveys::live(state, Some(key), id).await?.ok_or_else(|| match field {
        "path" => AppError::NotFound(format!("no survey with id {id:?}")),
        _ => AppError::bad_request(format!("no survey with id {id:?}"), Some(field)),
    })
}

async fn surveys(State(state): State<AppState>, SecretKey(project): SecretKey) -> Result<axum::Json<Value>, AppError> {
    let list: Vec<Value> = served_surveys::all(&state, &project.project.public_key)
        .await?
        .iter()
        .map(|(id, s)| {
            let mut row = json!({ "id": id, "title": title(s), "has_nps": s.survey.nps_question().is_some() });
            // Only a published survey has a version; one from the files has none.
            if let Some(v) = s.version {
                row["version"] = json!(v);
            }
            row
        })
        .collect();
    Ok(axum::Json(json!({ "surveys": list })))
}

#[derive(Deserialize)]
struct SurveyParams {
    interval: Option<String>,
}

async fn survey(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path(id): Path<String>,
    Query(params): Query<SurveyParams>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<axum::Json<Value>, AppError> {
    let entry = find(&state, &project.project.public_key, &id, "path").await?;
    let key = project.project.public_key.clone();
    let audience = insight::audience(&state, &key, insight::filter_of(&pairs)?).await?;
    let interval = match params.interval.as_deref() {
        None | Some("week") => Interval::Week,
        Some("day") => Interval::Day,
        Some("month") => Interval::Month,
        Some(other) => {
            let message = format!("interval must be day, week or month, not {other:?}");
            return Err(AppError::bad_request(message, Some("interval")));
        }
    };
    let mut events = dashboard::load_events(&state.db, &key, &[], Some(&id)).await?;
    events.retain(|e| audience.keeps(e));
    let title = title(&entry);
    Ok(axum::Json(dashboard::survey_report(&entry.survey, title.as_deref(), &events, interval)))
}

async fn help_searches(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
) -> Result<axum::Json<Value>, AppError> {
    let events = dashboard::load_events(&state.db, &project.project.public_key, &["help_searched"], None).await?;
    Ok(axum::Json(dashboard::help_gaps(&events)))
}

fn csv_response(name: &str, body: Body) -> Response {
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (CACHE_CONTROL, "no-store".to_string()),
            (X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
struct EventsCsvParams {
    #[serde(rename = "type")]
    kind: Option<String>,
    survey_id: Option<String>,
}

async fn events_csv(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(params): Query<EventsCsvParams>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let audience = Arc::new(insight::audience(&state, &project.project.public_key, insight::filter_of(&pairs)?).await?);
    let query = EventQuery {
        project_key: project.project.public_key.clone(),
        kinds: params.kind.into_iter().collect(),
        survey_id: params.survey_id,
        after: None,
        limit: PAGE,
        // The export is the record: rejected events are in it, with their reason.
        with_rejected: true,
    };
    // The first page is read before answering, so a database error is a 500, not a cut-off file.
    let first = state.db.events(query.clone()).await?;
    let mut header = String::new();
    dashboard::csv_record(&mut header, &EVENT_COLUMNS.map(dashboard::Cell::Text));
    let stream = futures_util::stream::unfold(
        (Some(header), Some(first), query, state.db.clone(), audience),
        |(header, page, mut query, db, audience): (
            Option<String>,
            Option<Vec<_>>,
            EventQuery,
            Store,
            Arc<Audience>,
        )| async move {
            if let Some(header) = header {
                return Some((Ok::<_, std::io::Error>(header), (None, page, query, db, audience)));
            }
            let page = match page {
                Some(page) => page,
                None => match db.events(query.clone()).await {
                    Ok(page) => page,
                    // Cut the download short rather than pretend it is complete.
                    Err(e) => {
                        return Some((Err(std::io::Error::other(e.to_string())), (None, None, query, db, audience)))
                    }
                },
            };
            if page.is_empty() {
                return None;
            }
            let mut chunk = String::new();
            for e in page.iter().filter(|e| audience.keeps(e)) {
                dashboard::event_record(&mut chunk, e);
            }
            let more = page.len() == PAGE as usize;
            query.after = page.last().map(|e| (e.ts, e.seq));
            let next = if more { None } else { Some(Vec::new()) };
            Some((Ok(chunk), (None, next, query, db, audience)))
        },
    );
    // Fused: the compression layer polls a body once more after its end, and `unfold` panics if
    // polled after it finished.
    Ok(csv_response("events.csv", Body::from_stream(futures_util::StreamExt::fuse(stream))))
}

#[derive(Deserialize)]
struct ResponsesCsvParams {
    survey_id: Option<String>,
}

async fn responses_csv(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Query(params): Query<ResponsesCsvParams>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let id =
        params.survey_id.ok_or_else(|| AppError::bad_request("give the survey as ?survey_id=…", Some("survey_id")))?;
    let entry = find(&state, &project.project.public_key, &id, "survey_id").await?;
    let key = project.project.public_key.clone();
    // Every respondent's account and traits are columns, so people are profiled even without a filter.
    let (people, profiles) = insight::profiled(&state, &key).await?;
    let audience = Audience::resolve(insight::filter_of(&pairs)?, &people, &profiles);
    let mut events = dashboard::load_events(&state.db, &key, &[], Some(&id)).await?;
    events.retain(|e| audience.keeps(e));
    let profile_of =
        |r: &dashboard::Response| profiles.get(&audience.person_of(r.user_id.as_deref(), &r.anonymous_id)).cloned();
    let csv = dashboard::responses_csv(&entry.survey, &events, &profile_of);
    Ok(csv_response(&format!("responses-{id}.csv"), Body::from(csv)))
}
