//! The dashboard's survey editor (`dashboard/editor.js`, `editor.css`,
//! served like the dashboard's own files; the checklist, help and targeting
//! editors too: `content_kit.js` and one file each) and its live preview: the real
//! widget, pointed at an endpoint that serves a project's *draft* and
//! stores nothing.
//!
//! - `GET /v1/content/preview` (secret key) — `{"key", "endpoint"}`: the
//!   widget's `data-endpoint` for previews of the key's project.
//! - `GET /preview/{key}/{token}/v1/surveys/{id}` — the card form of the
//!   survey's draft (else its live version), texts in the best of `locale`.
//!   `token` is an HMAC of the project's secret key, so only someone who was
//!   given it by the admin API can read drafts; it needs no state, so any
//!   collector of several answers it.
//! - `POST /preview/{key}/{token}/v1/events` — every event `accepted`, none
//!   stored: answers given in a preview are not answers.
//! - `/dashboard/preview.html` — the page the editor frames: it loads the
//!   widget with that endpoint and shows the survey (see `dashboard/preview.js`).

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use touchpoint_core::survey::Survey;

use crate::auth::SecretKey;
use crate::content::Kind;
use crate::error::AppError;
use crate::extract::Query;
use crate::AppState;

const EDITOR_JS: &str = include_str!("../../dashboard/editor.js");
const EDITOR_CSS: &str = include_str!("../../dashboard/editor.css");
/// The checklist, help and targeting editors, and what they share.
const CONTENT_KIT_JS: &str = include_str!("../../dashboard/content_kit.js");
const CHECKLIST_EDITOR_JS: &str = include_str!("../../dashboard/checklist_editor.js");
const HELP_EDITOR_JS: &str = include_str!("../../dashboard/help_editor.js");
const TARGETING_EDITOR_JS: &str = include_str!("../../dashboard/targeting_editor.js");
const PAGE_HTML: &str = include_str!("../../dashboard/preview.html");
const PAGE_JS: &str = include_str!("../../dashboard/preview.js");

/// The widget's own policy (see `pkg/README.md`), framed only by the dashboard.
const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; frame-src 'self'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'self'";

const JS: &str = "text/javascript; charset=utf-8";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/content/preview", get(endpoint))
        .route("/preview/{key}/{token}/v1/surveys/{id}", get(card))
        .route("/preview/{key}/{token}/v1/events", post(events))
        .route("/preview/{key}/{token}/{*rest}", any(nothing))
        .route("/dashboard/editor.js", get(|| async { dashboard_asset(EDITOR_JS, "text/javascript; charset=utf-8") }))
        .route("/dashboard/editor.css", get(|| async { dashboard_asset(EDITOR_CSS, "text/css; charset=utf-8") }))
        .route("/dashboard/content_kit.js", get(|| async { dashboard_asset(CONTENT_KIT_JS, JS) }))
        .route("/dashboard/checklist_editor.js", get(|| async { dashboard_asset(CHECKLIST_EDITOR_JS, JS) }))
        .route("/dashboard/help_editor.js", get(|| async { dashboard_asset(HELP_EDITOR_JS, JS) }))
        .route("/dashboard/targeting_editor.js", get(|| async { dashboard_asset(TARGETING_EDITOR_JS, JS) }))
        .route("/dashboard/preview.html", get(|| async { page(PAGE_HTML, "text/html; charset=utf-8") }))
        .route("/dashboard/preview.js", get(|| async { page(PAGE_JS, "text/javascript; charset=utf-8") }))
}

/// The editor's files hold no data; served with the dashboard's headers.
fn dashboard_asset(body: &'static str, content_type: &'static str) -> Response {
    ([(CONTENT_TYPE, content_type), (X_CONTENT_TYPE_OPTIONS, "nosniff"), (CACHE_CONTROL, "no-cache")], body)
        .into_response()
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_SECURITY_POLICY, CSP),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The preview token of a project: its secret key's HMAC of a fixed label.
pub fn token(secret_key: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(b"touchpoint content preview");
    mac.finalize().into_bytes()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

async fn endpoint(SecretKey(project): SecretKey) -> axum::Json<Value> {
    let key = &project.project.public_key;
    let token = token(&project.project.secret_key);
    axum::Json(json!({ "key": key, "endpoint": format!("/preview/{key}/{token}") }))
}

async fn card(
    State(state): State<AppState>,
    Path((key, token_given, id)): Path<(String, String, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let project = state.projects.by_public_key(&key).ok_or(AppError::UnknownProjectKey)?;
    if token(&project.project.secret_key) != token_given {
        return Err(AppError::NotFound("no such preview".into()));
    }
    let draft = state.db.content_draft(key.clone(), Kind::Survey.as_str(), id.clone()).await?;
    let text = match draft {
        Some(d) => d.body,
        None => match crate::content::surveys::live(&state, Some(&key), &id).await? {
            Some(s) => s.definition.to_string(),
            None => return Err(AppError::NotFound(format!("no survey with id {id:?}"))),
        },
    };
    let locales: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "locale")
        .flat_map(|(_, tags)| tags.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .take(32)
        .map(str::to_owned)
        .collect();
    let survey = Survey::from_json_in(&text, &locales)
        .map_err(|e| AppError::Internal(format!("draft of {id:?} no longer validates: {e}")))?;
    Ok(([(CACHE_CONTROL, "no-store")], axum::Json(survey.to_card())).into_response())
}

/// Each event answered `accepted`, nothing stored.
async fn events(body: axum::body::Bytes) -> axum::Json<Value> {
    let batch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let results: Vec<Value> = batch["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| json!({ "id": e["id"], "status": "accepted" }))
        .collect();
    axum::Json(json!({ "results": results }))
}

/// The widget's other reads (targeting, checklists, help): nothing in a preview.
async fn nothing() -> AppError {
    AppError::NotFound("a preview shows only the survey".into())
}
