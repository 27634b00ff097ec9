//! Survey definitions and their results.
//!
//! - `GET /v1/surveys/{id}` — the definition JSON, exactly as loaded from its
//!   file. Public: the widget fetches it from the page.
//! - `GET /v1/surveys/{id}?form=card&locale=de-DE,de,en` — the survey in its
//!   card form (`touchpoint_protocol::card`, `"form": "card/1"`): the graph
//!   validated at startup, with its texts in the best of `locale` (the
//!   reader's languages, most preferred first, comma-separated or repeated,
//!   the first 32 considered; without it, the definition's default texts),
//!   chosen as `Survey::from_json_in` does. Public too. Any other `form` is a
//!   400 naming the parameter; without `form`, the query is not read.
//! - `GET /v1/surveys/{id}/nps` — `{"survey_id", "responses", "promoters",
//!   "passives", "detractors", "nps"}` over the latest answer of each response
//!   of the project. Needs `Authorization: Bearer <secret_key>`.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use touchpoint_core::nps::NpsSummary;

use crate::auth::SecretKey;
use crate::catalog::SurveyEntry;
use crate::error::AppError;
use crate::extract::Query;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/surveys/{id}", get(definition)).route("/v1/surveys/{id}/nps", get(nps))
}

fn find<'a>(state: &'a AppState, id: &str) -> Result<&'a SurveyEntry, AppError> {
    state.surveys.get(id).ok_or_else(|| AppError::NotFound(format!("no survey with id {id:?}")))
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
    let entry = find(&state, &id)?;
    if !as_card {
        return Ok(([(CONTENT_TYPE, "application/json")], entry.definition.to_string()).into_response());
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
    let card = entry.card(&locales).map_err(|e| AppError::Internal(format!("survey {id:?} in {locales:?}: {e}")))?;
    Ok(axum::Json(card).into_response())
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
    let entry = find(&state, &id)?;
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
