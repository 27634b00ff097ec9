//! Survey definitions and their results.
//!
//! - `GET /v1/surveys/{id}[?key=pk_…]` — the definition JSON: with a
//!   project's public key, its live published version ([`crate::content`]),
//!   else the collector's file of that id. Public: the widget fetches it
//!   from the page. Every answer carries an `ETag` (`If-None-Match` gets
//!   `304`) and `Cache-Control: no-cache`, so a publish is seen on the next
//!   load.
//! - `GET /v1/surveys/{id}?form=card&locale=de-DE,de,en` — the survey in its
//!   card form (`touchpoint_protocol::card`, `"form": "card/1"`): the graph
//!   validated at startup, with its texts in the best of `locale` (the
//!   reader's languages, most preferred first, comma-separated or repeated,
//!   the first 32 considered; without it, the definition's default texts),
//!   chosen as `Survey::from_json_in` does, and the published `version`
//!   (which the widget records in its survey events). Public too. Any other
//!   `form` is a 400 naming the parameter; an unknown `key` is a 401.
//! - `GET /v1/surveys/{id}/nps` — `{"survey_id", "responses", "promoters",
//!   "passives", "detractors", "nps"}` over the latest answer of each response
//!   of the project. Needs `Authorization: Bearer <secret_key>`.

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use touchpoint_core::nps::NpsSummary;

use crate::auth::SecretKey;
use crate::content::surveys::{self, Served};
use crate::error::AppError;
use crate::extract::Query;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/surveys/{id}", get(definition)).route("/v1/surveys/{id}/nps", get(nps))
}

/// The survey `id` as project `key` serves it.
async fn find(state: &AppState, key: Option<&str>, id: &str) -> Result<Served, AppError> {
    surveys::live(state, key, id).await?.ok_or_else(|| AppError::NotFound(format!("no survey with id {id:?}")))
}

/// The one `form` this route knows besides the definition as loaded.
const CARD: &str = "card";

/// At most this many `locale` tags are considered: browsers list a handful,
/// and each is tried against every text of the survey.
const MAX_LOCALES: usize = 32;

/// The query is read as pairs, so a request without `form` is answered as
/// before whatever else it carries; `locale` may also be repeated
/// (`locale=de&locale=en` is `locale=de,en`).
async fn definition(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let mut as_card = false;
    for (_, form) in params.iter().filter(|(k, _)| k == "form") {
        if form != CARD {
            let message = format!("unknown form {form:?}; the accepted value is {CARD:?}");
            return Err(AppError::bad_request(message, Some("form")));
        }
        as_card = true;
    }
    let key = match params.iter().find(|(k, _)| k == "key") {
        Some((_, key)) => Some(state.projects.by_public_key(key).ok_or(AppError::UnknownProjectKey)?),
        None => None,
    };
    let served = find(&state, key.as_ref().map(|p| p.project.public_key.as_str()), &id).await?;
    if !as_card {
        return Ok(tagged(&headers, served.definition.to_string()));
    }
    let locales: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "locale")
        .flat_map(|(_, tags)| tags.split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .take(MAX_LOCALES)
        .map(str::to_owned)
        .collect();
    let card = served.card(&locales).map_err(|e| AppError::Internal(format!("survey {id:?} in {locales:?}: {e}")))?;
    let body = serde_json::to_string(&card).map_err(|e| AppError::Internal(format!("survey {id:?}: {e}")))?;
    Ok(tagged(&headers, body))
}

/// A JSON answer with an `ETag` from its bytes: a new version, another
/// language or another project is another tag, and a cache that still
/// holds this one gets `304` without the body.
fn tagged(headers: &HeaderMap, body: String) -> Response {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let etag = format!("\"{tag}\"");
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag));
    let common = [(ETAG, etag.clone()), (CACHE_CONTROL, "no-cache".to_string())];
    if matches {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(Serialize)]
struct NpsReport {
    survey_id: String,
    #[serde(flatten)]
    summary: NpsSummary,
}

async fn nps(
    State(state): State<AppState>,
    SecretKey(project): SecretKey,
    Path(id): Path<String>,
) -> Result<axum::Json<NpsReport>, AppError> {
    let entry = find(&state, Some(&project.project.public_key), &id).await?;
    let question = entry
        .survey
        .nps_question()
        .ok_or_else(|| AppError::NotFound(format!("survey {id:?} has no nps question")))?
        .id()
        .to_string();
    let (survey_id, key) = (id.clone(), project.project.public_key.clone());
    let scores = state.db.latest_scores(key, survey_id, question).await?;
    Ok(axum::Json(NpsReport { survey_id: id, summary: NpsSummary::from_scores(scores) }))
}
