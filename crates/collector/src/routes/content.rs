//! The admin API for a project's content ([`crate::content`]). Every route
//! needs `Authorization: Bearer <secret_key>`; `X-Touchpoint-Author` names
//! who is editing, for the history (default: "secret key"). `{kind}` is
//! `surveys`, `checklists`, `help` or `targeting` (the last two: one item,
//! id `default`).
//!
//! - `GET /v1/content/{kind}` — `{"items": [{"id", "version", "published_by",
//!   "published_at", "draft", "source"}]}`: the published items, and those
//!   served from the collector's files (`"source": "files"`).
//! - `GET /v1/content/{kind}/{id}` — `{"id", "live": {"version", "body",
//!   "published_by", "published_at", "origin"} | null, "draft": {"body",
//!   "base_version", "saved_by", "saved_at"} | null, "files": body | null}`.
//! - `PUT /v1/content/{kind}/{id}/draft` — the definition as the body. A
//!   valid one is saved as the item's draft (`{"saved": true}`); an invalid
//!   one is `422` with `{"error", "field", "problems": [{"path",
//!   "message"}]}`, every problem at once, and is not kept.
//! - `POST /v1/content/{kind}/{id}/publish` — `{"after"?: n}`: publishes the
//!   draft as the next version (`{"version": n}`). `after`: the version the
//!   edit started from; `409` if someone published since.
//! - `GET /v1/content/{kind}/{id}/versions` — `{"versions": [{"version",
//!   "published_by", "published_at", "origin", "note", "changes": [{"path",
//!   "before", "after"}]}]}`, newest first; `…/versions/{n}` one in full.
//! - `POST /v1/content/{kind}/{id}/rollback` — `{"version": n}`: publishes
//!   version `n`'s body again, as a new version noted "rollback to version n".
//! - `POST /v1/content/help/{id}/render` — `{"markdown"}`: `{"title",
//!   "blocks", "problems"}`, the article as the widget's safe Markdown subset
//!   parses it, for the editor's preview ([`crate::content::help_preview`]).
//! - `GET /v1/content/templates` — `{"templates": [{"key", "name",
//!   "description", "survey"}]}`: NPS, CSAT, CES and product–market fit.
//! - `POST /v1/content/push` — `{"items": [{"kind", "id", "file", "body"}],
//!   "overwrite"?: bool}`, what `touchpoint-collector push <dir>` sends
//!   ([`crate::content::push`]): `{"published", "unchanged"}`, `409` naming
//!   each dashboard edit it would overwrite, `422` naming each file's problems.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::SecretKey;
use crate::content::kind::SINGLE_ID;
use crate::content::push::{self, PushReport, PushRequest};
use crate::content::{author, publish, Kind};
use crate::error::AppError;
use crate::extract::Json;
use crate::store::content::ContentVersion;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/content/push", post(push_files))
        .route("/v1/content/templates", get(templates))
        .route("/v1/content/help/{id}/render", post(render_help))
        .route("/v1/content/{kind}", get(list))
        .route("/v1/content/{kind}/{id}", get(item))
        .route("/v1/content/{kind}/{id}/draft", put(draft))
        .route("/v1/content/{kind}/{id}/publish", post(publish_draft))
        .route("/v1/content/{kind}/{id}/versions", get(versions))
        .route("/v1/content/{kind}/{id}/versions/{version}", get(version))
        .route("/v1/content/{kind}/{id}/rollback", post(rollback))
}

fn kind(segment: &str) -> Result<Kind, AppError> {
    Kind::from_segment(segment).ok_or_else(|| {
        AppError::NotFound(format!(
            "no content kind {segment:?}; the kinds are surveys, checklists, help and targeting"
        ))
    })
}

fn by(headers: &HeaderMap) -> String {
    author(headers.get("x-touchpoint-author").and_then(|v| v.to_str().ok()), "secret key")
}

/// A stored body (validated JSON when it was written).
fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn summary(v: &ContentVersion) -> Value {
    json!({ "version": v.version, "published_by": v.published_by, "published_at": v.published_at,
            "origin": v.origin, "note": v.note,
            "changes": serde_json::from_str::<Value>(&v.diff).unwrap_or(Value::Null) })
}

async fn templates(_: SecretKey) -> axum::response::Response {
    use axum::response::IntoResponse;
    ([(axum::http::header::CONTENT_TYPE, "application/json")], crate::content::templates::TEMPLATES).into_response()
}

async fn list(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path(segment): Path<String>,
) -> Result<axum::Json<Value>, AppError> {
    let kind = kind(&segment)?;
    let key = project.project.public_key.clone();
    let live = state.db.content_live_all(key.clone(), kind.as_str()).await?;
    let drafts = state.db.content_draft_ids(key, kind.as_str()).await?;
    let mut items: Vec<Value> = live
        .iter()
        .map(|v| {
            json!({ "id": v.item_id, "version": v.version, "published_by": v.published_by,
                    "published_at": v.published_at, "draft": drafts.contains(&v.item_id), "source": "project" })
        })
        .collect();
    for id in drafts.iter().filter(|d| !live.iter().any(|v| &v.item_id == *d)) {
        items.push(json!({ "id": id, "version": null, "draft": true, "source": "project" }));
    }
    for id in file_ids(&state, kind) {
        if !items.iter().any(|i| i["id"] == id.as_str()) {
            items.push(json!({ "id": id, "version": null, "draft": false, "source": "files" }));
        }
    }
    items.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(axum::Json(json!({ "items": items })))
}

async fn item(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path((segment, id)): Path<(String, String)>,
) -> Result<axum::Json<Value>, AppError> {
    let kind = kind(&segment)?;
    let key = project.project.public_key.clone();
    let live = state.db.content_live(key.clone(), kind.as_str(), id.clone()).await?;
    let draft = state.db.content_draft(key, kind.as_str(), id.clone()).await?;
    let files = from_files(&state, kind, &id);
    if live.is_none() && draft.is_none() && files.is_none() {
        return Err(AppError::NotFound(format!("no {} {id:?} in this project", kind.as_str())));
    }
    let live = live.map(|v| {
        json!({ "version": v.version, "body": parsed(&v.body), "published_by": v.published_by,
                "published_at": v.published_at, "origin": v.origin })
    });
    let draft = draft.map(|d| {
        json!({ "body": parsed(&d.body), "base_version": d.base_version, "saved_by": d.saved_by,
                "saved_at": d.saved_at })
    });
    Ok(axum::Json(json!({ "id": id, "live": live, "draft": draft, "files": files })))
}

/// The ids the collector's files hold of `kind`: what a project serves until it publishes its own.
fn file_ids(state: &AppState, kind: Kind) -> Vec<String> {
    match kind {
        Kind::Survey => state.surveys.all().map(|s| s.id().to_string()).collect(),
        Kind::Help => state.help.iter().flat_map(|h| h.articles.iter().map(|a| a.id.clone())).collect(),
        Kind::Checklists if state.checklists.is_some() => vec![SINGLE_ID.into()],
        Kind::Targeting if state.targeting.is_some() => vec![SINGLE_ID.into()],
        Kind::Checklists | Kind::Targeting => Vec::new(),
    }
}

/// Item `id` of `kind` as the collector's files hold it, in the body the admin API takes.
fn from_files(state: &AppState, kind: Kind, id: &str) -> Option<Value> {
    match kind {
        Kind::Survey => state.surveys.get(id).and_then(|e| serde_json::from_str(&e.definition).ok()),
        Kind::Checklists if id == SINGLE_ID => {
            state.checklists.as_ref().and_then(|c| serde_json::from_str(&c.definition).ok())
        }
        Kind::Targeting if id == SINGLE_ID => state.targeting.as_ref().map(|t| t.definition.clone()),
        // Read again for its front matter (the catalog keeps the parsed article); only an id it loaded.
        Kind::Help => {
            let help = state.help.as_ref().filter(|h| h.articles.iter().any(|a| a.id == id))?;
            let text = std::fs::read_to_string(help.dir.join(format!("{id}.md"))).ok()?;
            Some(json!({ "markdown": text }))
        }
        Kind::Checklists | Kind::Targeting => None,
    }
}

#[derive(Deserialize)]
struct RenderParams {
    markdown: String,
}

/// The article's Markdown as the widget would show it ([`crate::content::help_preview`]).
async fn render_help(_: SecretKey, Path(id): Path<String>, Json(params): Json<RenderParams>) -> axum::Json<Value> {
    axum::Json(crate::content::help_preview::render(&id, &params.markdown))
}

async fn draft(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    headers: HeaderMap,
    Path((segment, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<axum::Json<Value>, AppError> {
    let kind = kind(&segment)?;
    publish::save_draft(&state, &project.project.public_key, kind, &id, &body, by(&headers)).await?;
    Ok(axum::Json(json!({ "saved": true })))
}

#[derive(Deserialize, Default)]
struct PublishParams {
    after: Option<i64>,
}

async fn publish_draft(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    headers: HeaderMap,
    Path((segment, id)): Path<(String, String)>,
    request: axum::body::Bytes,
) -> Result<axum::Json<Value>, AppError> {
    let kind = kind(&segment)?;
    let key = project.project.public_key.clone();
    let draft = state.db.content_draft(key.clone(), kind.as_str(), id.clone()).await?.ok_or_else(|| {
        AppError::Conflict(format!("{id:?} has no draft to publish; save one with PUT …/{id}/draft first"))
    })?;
    let body: Value = serde_json::from_str(&draft.body)
        .map_err(|e| AppError::Internal(format!("stored draft {id:?} is not JSON: {e}")))?;
    // The body is optional: none publishes after whatever is live.
    let params: PublishParams = if request.iter().all(u8::is_ascii_whitespace) {
        PublishParams::default()
    } else {
        serde_json::from_slice(&request)
            .map_err(|e| AppError::bad_request(format!("invalid JSON: {e}"), Some("after")))?
    };
    let after = params.after;
    let author = by(&headers);
    let edit = publish::Edit { kind, id: &id, body: &body, by: &author, note: None };
    let version = publish::publish_one(&state, &key, edit, after).await?;
    Ok(axum::Json(json!({ "id": id, "version": version })))
}

async fn versions(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path((segment, id)): Path<(String, String)>,
) -> Result<axum::Json<Value>, AppError> {
    let kind = kind(&segment)?;
    let history = state.db.content_history(project.project.public_key.clone(), kind.as_str(), id.clone()).await?;
    if history.is_empty() {
        return Err(AppError::NotFound(format!("{} {id:?} was never published in this project", kind.as_str())));
    }
    Ok(axum::Json(json!({ "id": id, "versions": history.iter().map(summary).collect::<Vec<_>>() })))
}

async fn version(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path((segment, id, n)): Path<(String, String, i64)>,
) -> Result<axum::Json<Value>, AppError> {
    let kind = kind(&segment)?;
    let v = state
        .db
        .content_version(project.project.public_key.clone(), kind.as_str(), id.clone(), n)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("{} {id:?} has no version {n}", kind.as_str())))?;
    let mut out = summary(&v);
    out["body"] = parsed(&v.body);
    Ok(axum::Json(out))
}

#[derive(Deserialize)]
struct RollbackParams {
    version: i64,
}

async fn rollback(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    headers: HeaderMap,
    Path((segment, id)): Path<(String, String)>,
    Json(params): Json<RollbackParams>,
) -> Result<axum::Json<Value>, AppError> {
    let kind = kind(&segment)?;
    let key = project.project.public_key.clone();
    let old =
        state.db.content_version(key.clone(), kind.as_str(), id.clone(), params.version).await?.ok_or_else(|| {
            AppError::bad_request(
                format!("{} {id:?} has no version {}", kind.as_str(), params.version),
                Some("version"),
            )
        })?;
    let body: Value = serde_json::from_str(&old.body)
        .map_err(|e| AppError::Internal(format!("stored version of {id:?} is not JSON: {e}")))?;
    // Checked again: targeting may name a survey that is gone since.
    let note = Some(format!("rollback to version {}", params.version));
    let author = by(&headers);
    let edit = publish::Edit { kind, id: &id, body: &body, by: &author, note };
    let version = publish::publish_one(&state, &key, edit, None).await?;
    Ok(axum::Json(json!({ "id": id, "version": version })))
}

async fn push_files(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    headers: HeaderMap,
    Json(request): Json<PushRequest>,
) -> Result<axum::Json<PushReport>, AppError> {
    Ok(axum::Json(push::push(&state, &project.project.public_key, request, &by(&headers)).await?))
}
