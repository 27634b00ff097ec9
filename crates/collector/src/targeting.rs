//! Which surveys show on their own, to whom, where and how often: the
//! targeting file (`--targeting`), loaded once at startup, and each person's
//! [`Facts`] folded from their stored events, which the widget merges with
//! its own so that recontact periods hold across devices.
//!
//! **Architecture invariant:** eligibility is `touchpoint_core::targeting`'s
//! (the widget evaluates it in the page); the collector validates the file
//! with the same code and folds events with the same [`Facts::observe`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use touchpoint_core::targeting::{Experiences, Facts};

use crate::catalog::SurveyCatalog;
use crate::checklists::replay::{Activity, Person};
use crate::config_file::{self, Definition, FileError};
use crate::error::AppError;
use crate::projects::ProjectEntry;
use crate::store::person_facts::FactRow;
use crate::store::Store;

pub struct TargetingCatalog {
    pub experiences: Experiences,
    /// The file as loaded, served as is by `/v1/config` (the widget validates
    /// it with the same core code); parsed once here, not per request.
    pub definition: serde_json::Value,
    pub file: PathBuf,
}

impl TargetingCatalog {
    /// Reads and validates `file`; every survey it targets must be one the
    /// collector serves, or the widget would be told to show a survey it
    /// cannot load.
    pub fn load(file: &Path, surveys: &SurveyCatalog) -> Result<TargetingCatalog, FileError> {
        config_file::load(Definition::Targeting, file, |text| TargetingCatalog::from_json(text, file, surveys))
    }

    /// `file` only names the definition in messages.
    pub fn from_json(text: &str, file: &Path, surveys: &SurveyCatalog) -> Result<TargetingCatalog, Vec<String>> {
        let definition: serde_json::Value =
            serde_json::from_str(text).map_err(|e| vec![format!("not valid JSON: {e}")])?;
        let experiences = Experiences::from_value(&definition)
            .map_err(|e| e.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        let unknown: Vec<String> = experiences
            .surveys()
            .enumerate()
            .filter(|(_, e)| surveys.get(e.id()).is_none())
            .map(|(i, e)| format!("surveys[{i}].id: no survey {:?} in the surveys directory", e.id()))
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        Ok(TargetingCatalog { experiences, definition, file: file.to_path_buf() })
    }
}

/// The targeting project `key` runs now: its published version
/// ([`crate::content`], read on every call so a publish counts at once),
/// else the file's; `None` when it has neither.
pub async fn live(state: &crate::AppState, key: &str) -> Result<Option<Arc<TargetingCatalog>>, AppError> {
    use crate::content::{kind::SINGLE_ID, Kind};
    let Some(v) = state.db.content_live(key.to_string(), Kind::Targeting.as_str(), SINGLE_ID.into()).await? else {
        return Ok(state.targeting.clone());
    };
    let name = format!("published targeting version {}", v.version);
    let definition: serde_json::Value =
        serde_json::from_str(&v.body).map_err(|e| AppError::Internal(format!("{name} is not JSON: {e}")))?;
    // Validated when it was published, against the surveys the project served then.
    let experiences = Experiences::from_value(&definition)
        .map_err(|e| AppError::Internal(format!("{name} no longer validates: {e}")))?;
    Ok(Some(Arc::new(TargetingCatalog { experiences, definition, file: PathBuf::from(name) })))
}

/// One person's facts from their events (in replay order).
pub fn facts(rows: &[Activity]) -> Facts {
    let mut facts = Facts::default();
    for row in rows {
        facts.observe(row.ts, row.kind.as_ref());
    }
    facts
}

/// One person's facts from the rows kept at ingest (`store::person_facts`):
/// the same as [`facts`] over their events, without reading them. Who is
/// read as whom follows `checklists::widget_activity`: an `anonymous_id`
/// whose browser was identified stands for its owner, and where the project
/// verifies identities reading by it is refused.
pub async fn person_facts(db: &Store, project: &ProjectEntry, who: Person) -> Result<Facts, AppError> {
    let key = project.project.public_key.clone();
    let rows = match who {
        Person::User(user) => db.user_facts(key, user).await?,
        Person::Anonymous(browser) => match db.browser_owner(key.clone(), browser.clone()).await? {
            Some(_) if project.project.identity_secret.is_some() => {
                return Err(AppError::Forbidden {
                    message: "this project verifies identities, and this browser was identified as a user: read as \
                              that user, with ?user_id=…&user_hash=…"
                        .into(),
                    field: "anonymous_id",
                })
            }
            Some(owner) => db.user_facts(key, owner).await?,
            None => db.browser_facts(key, browser).await?,
        },
    };
    Ok(fold(&rows))
}

/// Facts from counted rows: first seen, counts per `track` name, latest showing per experience and kind.
pub fn fold(rows: &[FactRow]) -> Facts {
    let mut facts = Facts::default();
    for r in rows {
        match r.kind.as_str() {
            "seen" => facts.first_seen_ms = Some(facts.first_seen_ms.map_or(r.first_ts, |t| t.min(r.first_ts))),
            "track" => {
                facts.event_counts.insert(r.item.clone(), u32::try_from(r.n).unwrap_or(u32::MAX));
            }
            kind @ ("survey" | "nudge") => facts.shown(kind, &r.item, r.last_ts),
            _ => {}
        }
    }
    facts
}
