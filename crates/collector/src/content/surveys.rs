//! Which survey a project serves under an id: its live published version,
//! else the collector's file of that id. Responses are read against the
//! version their events name ([`at_version`]).

use std::sync::Arc;

use touchpoint_core::definition::DefinitionErrors;
use touchpoint_core::survey::Survey;
use touchpoint_protocol::card::CardSurvey;

use super::Kind;
use crate::error::AppError;
use crate::store::content::ContentVersion;
use crate::AppState;

/// A survey as one project serves it.
#[derive(Clone)]
pub struct Served {
    pub survey: Arc<Survey>,
    /// The definition's text.
    pub definition: Arc<str>,
    /// The published version; `None` for a survey from the files.
    pub version: Option<u32>,
}

impl Served {
    /// The card form in the best of `locales`, naming its version.
    pub fn card(&self, locales: &[String]) -> Result<CardSurvey, DefinitionErrors> {
        let mut card = if locales.is_empty() {
            self.survey.to_card()
        } else {
            Survey::from_json_in(&self.definition, locales)?.to_card()
        };
        card.version = self.version;
        Ok(card)
    }
}

fn served(state: &AppState, key: &str, row: &ContentVersion) -> Result<Served, AppError> {
    Ok(Served {
        // Validated when published; failing here means the row was changed behind our back.
        survey: state.survey_cache.get(key, row, |row| {
            Survey::from_json(&row.body).map_err(|e| {
                AppError::Internal(format!("stored survey {:?} version {} is invalid: {e}", row.item_id, row.version))
            })
        })?,
        definition: row.body.as_str().into(),
        version: u32::try_from(row.version).ok(),
    })
}

fn from_files(state: &AppState, id: &str) -> Option<Served> {
    state.surveys.get(id).map(|e| Served { survey: e.survey.clone(), definition: e.definition.clone(), version: None })
}

/// The survey `id` as project `key` serves it now (`None` key: the files only).
pub async fn live(state: &AppState, key: Option<&str>, id: &str) -> Result<Option<Served>, AppError> {
    if let Some(key) = key {
        let row = state.db.content_live(key.to_string(), Kind::Survey.as_str(), id.to_string()).await?;
        if let Some(row) = row {
            return Ok(Some(served(state, key, &row)?));
        }
    }
    Ok(from_files(state, id))
}

/// The survey a response was shown: the version its events name, else
/// (older widgets, file surveys) what the project serves now.
pub async fn at_version(
    state: &AppState,
    key: &str,
    id: &str,
    version: Option<u32>,
) -> Result<Option<Served>, AppError> {
    let Some(version) = version else { return live(state, Some(key), id).await };
    let row =
        state.db.content_version(key.to_string(), Kind::Survey.as_str(), id.to_string(), i64::from(version)).await?;
    row.map(|row| served(state, key, &row)).transpose()
}

/// Every survey the project serves, by id: its published ones, and the
/// files' for the ids it has not published.
pub async fn all(state: &AppState, key: &str) -> Result<Vec<(String, Served)>, AppError> {
    let rows = state.db.content_live_all(key.to_string(), Kind::Survey.as_str()).await?;
    let mut out: Vec<(String, Served)> = Vec::new();
    for row in &rows {
        out.push((row.item_id.clone(), served(state, key, row)?));
    }
    for s in state.surveys.all() {
        if !out.iter().any(|(id, _)| id == s.id()) {
            out.extend(from_files(state, s.id()).map(|f| (s.id().to_string(), f)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
