//! Which checklists a project serves: its live published version, else the
//! collector's file. Used by the widget's reads and by automations, which
//! act on a checklist's completion only when this catalog and the person's
//! stored events confirm it.

use std::sync::Arc;

use super::kind::SINGLE_ID;
use super::Kind;
use crate::checklists::ChecklistCatalog;
use crate::error::AppError;
use crate::AppState;

/// The project's published checklists ([`crate::content`], read on every
/// request so a publish is seen at once), else the collector's file.
pub async fn catalog(state: &AppState, key: &str) -> Result<Arc<ChecklistCatalog>, AppError> {
    let published = state.db.content_live(key.to_string(), Kind::Checklists.as_str(), SINGLE_ID.into()).await?;
    if let Some(v) = published {
        // Parsed and validated once per version, not on every widget read.
        return state.checklist_cache.get(key, &v, |v| {
            let name = format!("published checklists version {}", v.version);
            ChecklistCatalog::from_json(&v.body, std::path::Path::new(&name))
                .map_err(|problems| AppError::Internal(format!("{name} no longer validates: {}", problems.join("; "))))
        });
    }
    state.checklists.clone().ok_or_else(|| AppError::NotFound("no checklists are configured on this collector".into()))
}
