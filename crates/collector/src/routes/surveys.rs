//! Survey definitions and their results.
//!
//! - `GET /v1/surveys/{id}` — the definition JSON, exactly as loaded from its
//!   file. Public: the widget fetches it from the page.
//! - `GET /v1/surveys/{id}/nps` — `{"survey_id", "responses", "promoters",
//!   "passives", "detractors", "nps"}` over the latest answer of each response
//!   of the project. Needs `Authorization: Bearer <secret_key>`.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use touchpoint_core::nps::NpsSummary;

use crate::auth::SecretKey;
use crate::catalog::SurveyEntry;
use crate::error::AppError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/surveys/{id}", get(definition)).route("/v1/surveys/{id}/nps", get(nps))
}

fn find<'a>(state: &'a AppState, id: &str) -> Result<&'a SurveyEntry, AppError> {
    state.surveys.get(id).ok_or_else(|| AppError::NotFound(format!("no survey with id {id:?}")))
}

async fn definition(State(state): State<AppState>, Path(id): Path<String>) -> Result<impl IntoResponse, AppError> {
    let entry = find(&state, &id)?;
    Ok(([(CONTENT_TYPE, "application/json")], entry.definition.to_string()))
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
