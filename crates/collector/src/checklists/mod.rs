//! Onboarding checklists on the collector: the definition file loaded at
//! startup ([`ChecklistCatalog`]), each person's progress rebuilt from their
//! stored events ([`replay`]), and the reports over everyone ([`report`]).
//!
//! **Architecture invariant:** the rules (segment choice, item completion,
//! counts, dependencies) are `touchpoint_core::checklist`'s. This module only
//! decides *which* stored events are one person's and in what order they are
//! replayed. The collector keeps no progress table: progress is derived from
//! events every time, so it can never disagree with them. The widget's read
//! replays only the events that can decide it, which ingest points at
//! (`store::checklist_progress`, [`account_progress`]).

pub mod account_progress;
pub mod account_tally;
pub mod replay;
pub mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use touchpoint_core::checklist::{Checklist, ChecklistSet, Segment};

use crate::config::DEFAULT_CHECKLISTS_FILE;
use crate::config_file::{self, Definition, FileError};
use crate::error::AppError;
use crate::projects::ProjectEntry;
use crate::store::checklist_progress::{rule_keys, ProgressOf};
use crate::store::{Store, StoredActivity};
use replay::{by_person, Activity, Person};
use report::UserProgress;

/// The checklists this collector serves, loaded once at startup.
pub struct ChecklistCatalog {
    pub set: ChecklistSet,
    /// The file's text, served as is by `GET /v1/checklists` (the widget
    /// validates and chooses with the same core code).
    pub definition: Arc<str>,
    pub file: PathBuf,
    /// Per segment of `set`, in order, the index of its checklist: reports
    /// list every segment, including those nobody was chosen into yet.
    segment_checklists: Vec<usize>,
}

impl ChecklistCatalog {
    /// `Some(file)`: that file, which must exist and be valid. `None`:
    /// [`DEFAULT_CHECKLISTS_FILE`] if it exists (and then must be valid),
    /// otherwise no checklists.
    pub fn load_configured(file: Option<&Path>) -> Result<Option<ChecklistCatalog>, FileError> {
        match file {
            Some(file) => ChecklistCatalog::load(file).map(Some),
            None if Path::new(DEFAULT_CHECKLISTS_FILE).exists() => {
                ChecklistCatalog::load(Path::new(DEFAULT_CHECKLISTS_FILE)).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Reads and validates `file`, reporting every problem with its JSON path.
    pub fn load(file: &Path) -> Result<ChecklistCatalog, FileError> {
        config_file::load(Definition::Checklists, file, |text| ChecklistCatalog::from_json(text, file))
    }

    /// `file` only names the definition in messages.
    pub fn from_json(text: &str, file: &Path) -> Result<ChecklistCatalog, Vec<String>> {
        let set = ChecklistSet::from_json(text).map_err(|e| e.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        // Core keeps a segment's checklist private; valid JSON names it by id.
        let raw: Value = serde_json::from_str(text).map_err(|e| vec![e.to_string()])?;
        let segment_checklists = (0..set.segments().len())
            .map(|i| {
                let id = raw["segments"][i]["checklist"].as_str().unwrap_or_default();
                set.checklists()
                    .iter()
                    .position(|c| c.id == id)
                    .ok_or_else(|| format!("segments[{i}].checklist: no checklist {id:?}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|problem| vec![problem])?;
        Ok(ChecklistCatalog { set, definition: text.into(), file: file.to_path_buf(), segment_checklists })
    }

    /// Every segment with its checklist, in definition order.
    pub fn segments(&self) -> impl Iterator<Item = (&Segment, &Checklist)> {
        let checklists = self.set.checklists();
        self.set.segments().iter().zip(&self.segment_checklists).map(move |(s, &c)| (s, &checklists[c]))
    }
}

/// One person's events in replay order. An `anonymous_id` that was
/// identified stands for its owner, the user, with all their browsers.
pub async fn person_activity(db: &Store, key: String, who: Person) -> Result<Vec<Activity>, AppError> {
    let user = match who {
        Person::User(user) => user,
        Person::Anonymous(browser) => {
            let k = key.clone();
            let rows = activities(db.browser_activity(k, browser).await?)?;
            match replay::owner(&rows) {
                Some(owner) => owner.to_owned(),
                // Never identified: every event of the browser is anonymous, and all of it is this person.
                None => return Ok(rows),
            }
        }
    };
    let u = user.clone();
    let rows = activities(db.user_activity(key, u).await?)?;
    Ok(by_person(rows).remove(&Person::User(user)).unwrap_or_default())
}

/// [`person_activity`] for a read the page makes with the public key. Where
/// the project verifies identities, an `anonymous_id` whose browser was
/// identified stands for a verified user: reading by it would skip the
/// `user_hash` that a read by `user_id` needs, so it is refused. A browser
/// never identified is only itself, and reads as before.
pub async fn widget_activity(db: &Store, project: &ProjectEntry, who: Person) -> Result<Vec<Activity>, AppError> {
    let key = project.project.public_key.clone();
    match who {
        Person::Anonymous(browser) if project.project.identity_secret.is_some() => {
            let rows = activities(db.browser_activity(key, browser).await?)?;
            if replay::owner(&rows).is_some() {
                return Err(AppError::Forbidden {
                    message: "this project verifies identities, and this browser was identified as a user: read as \
                              that user, with ?user_id=…&user_hash=…"
                        .into(),
                    field: "anonymous_id",
                });
            }
            Ok(rows)
        }
        who => person_activity(db, key, who).await,
    }
}

/// The events that decide one person's checklist state on `catalog`, for the
/// widget's read, and the user they are (if identified): a bounded set kept
/// at ingest (`store::checklist_progress`), which replays to the same state as
/// their whole history. Refuses what [`widget_activity`] refuses, and replays
/// the whole history where retention removed one of those events.
pub async fn widget_checklist_activity(
    db: &Store,
    project: &ProjectEntry,
    who: Person,
    catalog: &ChecklistCatalog,
) -> Result<(Vec<Activity>, Option<String>), AppError> {
    let key = project.project.public_key.clone();
    db.ensure_checklist_index(key.clone(), rule_keys(&catalog.definition)).await?;
    let of = match &who {
        Person::User(user) => ProgressOf::User(user.clone()),
        Person::Anonymous(browser) => match db.browser_owner(key.clone(), browser.clone()).await? {
            // Same refusal, same message.
            Some(_) if project.project.identity_secret.is_some() => {
                return widget_activity(db, project, who).await.map(|rows| (rows, None))
            }
            Some(owner) => ProgressOf::User(owner),
            None => ProgressOf::Browser(browser.clone()),
        },
    };
    let user = match &of {
        ProgressOf::User(user) => Some(user.clone()),
        ProgressOf::Browser(_) => None,
    };
    match db.checklist_activity(key, of).await? {
        Some(rows) => Ok((activities(rows)?, user)),
        None => {
            let rows = widget_activity(db, project, who).await?;
            Ok((rows, user))
        }
    }
}

/// Whether the stored events of `who` complete checklist `checklist_id` of
/// `catalog`, as the widget's read would show it (account-level items
/// counted over the account), replayed from their events. A `checklist_completed` event is only the
/// page's word, which anyone holding the public key can send; what acts on
/// a completion asks this instead.
pub async fn confirms_completion(
    state: &crate::AppState,
    catalog: &ChecklistCatalog,
    key: &str,
    who: Person,
    checklist_id: &str,
) -> Result<bool, AppError> {
    let db = &state.db;
    let user = match &who {
        Person::User(user) => Some(user.clone()),
        Person::Anonymous(browser) => db.browser_owner(key.to_string(), browser.clone()).await?,
    };
    let rows = person_activity(db, key.to_string(), who).await?;
    let mut r = replay::replay_choosing(&catalog.set, &rows, Some(checklist_id));
    if r.checklist.id != checklist_id {
        return Ok(false);
    }
    if let Some(user) = user {
        // Replayed from the members' events: the aggregate the widget's read uses is kept only
        // for rules a read has asked for, and a completion can come before any read.
        if let Some((_, tally)) = account_tally::account_checklist(state, &catalog.set, key, &user, None).await? {
            if let Some(t) = tally.get(&r.checklist.id) {
                r.progress.with_account(r.checklist, t);
            }
        }
    }
    Ok(r.progress.is_complete(r.checklist))
}

pub fn activities(rows: Vec<StoredActivity>) -> Result<Vec<Activity>, AppError> {
    rows.into_iter().map(Activity::try_from).collect::<Result<_, _>>().map_err(AppError::Internal)
}

/// Every identified user of the project, replayed, handed to `report` on the
/// blocking pool (replaying everyone is CPU work, not for the runtime).
pub async fn with_users<R: Send + 'static>(
    db: &Store,
    catalog: Arc<ChecklistCatalog>,
    key: String,
    report: impl FnOnce(&ChecklistCatalog, &[UserProgress<'_>]) -> R + Send + 'static,
) -> Result<R, AppError> {
    with_users_where(db, catalog, key, |_| true, report).await
}

/// [`with_users`], keeping only the users `keep` says (the dashboard's filters).
pub async fn with_users_where<R: Send + 'static>(
    db: &Store,
    catalog: Arc<ChecklistCatalog>,
    key: String,
    keep: impl Fn(&UserProgress<'_>) -> bool + Send + 'static,
    report: impl FnOnce(&ChecklistCatalog, &[UserProgress<'_>]) -> R + Send + 'static,
) -> Result<R, AppError> {
    let rows = db.project_activity(key).await?;
    tokio::task::spawn_blocking(move || {
        let people = by_person(activities(rows)?);
        // Account-level items count every user of the account (see crate::accounts).
        let tallies = account_tally::tallies_by_user(&catalog.set, &people);
        let users: Vec<UserProgress> = people
            .iter()
            .filter_map(|(person, rows)| match person {
                Person::User(user_id) => {
                    let mut replayed = replay::replay(&catalog.set, rows);
                    if let Some(t) = tallies.get(user_id).and_then(|t| t.get(&replayed.checklist.id)) {
                        replayed.progress.with_account(replayed.checklist, t);
                    }
                    Some(UserProgress { user_id: user_id.clone(), replayed })
                }
                Person::Anonymous(_) => None,
            })
            .filter(|u| keep(u))
            .collect();
        Ok(report(&catalog, &users))
    })
    .await
    .map_err(|e| AppError::Internal(format!("report task failed: {e}")))?
}
