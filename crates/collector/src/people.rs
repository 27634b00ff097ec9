//! People's data rights: what the collector holds about one person, handed
//! over (an export: GDPR art. 15 and 20) or erased (art. 17).
//!
//! A person is an identified user of a project; which rows are theirs is
//! `store::people`'s (their events by `user_id` and the anonymous events of
//! their browsers, the responses, cases, deliveries and account membership
//! those make, and any other row naming them). Emails the automations wrote
//! are files (`<delivery id>.eml` in the email outbox): the export includes
//! theirs, an erasure deletes them.
//!
//! **Erasure is logged without the data.** The log keeps an HMAC of the
//! user id under the project's secret key (so whoever holds the key can
//! check that a given person was erased, and the log alone names nobody),
//! the time and the counts. Repeating an erasure is harmless: it finds
//! nothing and logs that.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::AppError;
use crate::projects::Project;
use crate::store::people::{identifiers, scrub, Erased, PersonRows};
use crate::store::{OutboxItem, StoredEvent};
use crate::AppState;

/// What an erasure answers (and the log's counts, without the files).
#[derive(Debug, Clone, Serialize)]
pub struct ErasureReport {
    pub subject_hash: String,
    pub erased_at: i64,
    /// Rows deleted per table.
    pub deleted: BTreeMap<String, u64>,
    /// Rows whose text named them, rewritten, per table.
    pub scrubbed: BTreeMap<String, u64>,
    /// `.eml` files deleted.
    pub files: u64,
}

/// The erasure log's stand-in for `user_id`: hex HMAC-SHA256 under the project's secret key.
pub fn subject_hash(project: &Project, user_id: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(project.secret_key.as_bytes()).expect("HMAC takes any key");
    mac.update(b"touchpoint erasure\0");
    mac.update(user_id.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the automations write emails.
fn email_dir(state: &AppState) -> PathBuf {
    state.automations.as_ref().map(|a| a.outbox_dir.clone()).unwrap_or_else(|| state.config.email_outbox_dir())
}

/// `.eml` files of these deliveries, and any other `.eml` naming one of
/// `idents`, with their text.
async fn eml_files(
    dir: PathBuf,
    deliveries: Vec<String>,
    idents: Vec<String>,
) -> Result<Vec<(PathBuf, String)>, AppError> {
    tokio::task::spawn_blocking(move || {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AppError::Internal(format!("cannot read {}: {e}", dir.display()))),
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".eml").or_else(|| name.strip_suffix(".eml.tmp")) else { continue };
            let ours = deliveries.iter().any(|d| stem == d || stem.strip_prefix('.') == Some(d));
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            if ours || scrub(&text, &idents) != text {
                found.push((path, text));
            }
        }
        found.sort();
        Ok(found)
    })
    .await
    .map_err(|e| AppError::Internal(format!("email files task failed: {e}")))?
}

/// Everything held about `user_id`, as one JSON document.
pub async fn export(state: &AppState, project: &Project, user_id: &str, now: i64) -> Result<Value, AppError> {
    let rows = state.db.person_rows(project.public_key.clone(), user_id.to_string()).await?;
    let deliveries: Vec<String> = rows.outbox.iter().filter(|o| o.kind == "email").map(|o| o.id.clone()).collect();
    let files = eml_files(email_dir(state), deliveries, identifiers(user_id, &rows.emails)).await?;
    let PersonRows { browsers, events, emails, cases, outbox } = &rows;
    Ok(json!({
        "user_id": user_id,
        "exported_at": now,
        "browsers": browsers,
        "email_addresses": emails,
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
        "responses": responses(events),
        "accounts": accounts(events),
        "cases": cases.iter().map(crate::routes::automations::case_json).collect::<Vec<_>>(),
        "deliveries": outbox.iter().map(delivery_json).collect::<Vec<_>>(),
        "email_files": files.iter().map(|(path, text)| json!({
            "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "message": text,
        })).collect::<Vec<_>>(),
    }))
}

/// Erases `user_id` from the project (rows in one transaction, then the
/// email files) and logs it.
pub async fn erase(state: &AppState, project: &Project, user_id: &str, now: i64) -> Result<ErasureReport, AppError> {
    let hash = subject_hash(project, user_id);
    // Read first for the addresses: files naming them go even when no row is left.
    let before = state.db.person_rows(project.public_key.clone(), user_id.to_string()).await?;
    let erased: Erased =
        state.db.erase_person(project.public_key.clone(), user_id.to_string(), hash.clone(), now).await?;
    let mut deliveries = erased.email_deliveries.clone();
    deliveries.extend(before.outbox.iter().filter(|o| o.kind == "email").map(|o| o.id.clone()));
    let files = eml_files(email_dir(state), deliveries, identifiers(user_id, &before.emails)).await?;
    let mut removed = 0;
    for (path, _) in &files {
        match tokio::fs::remove_file(path).await {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(AppError::Internal(format!("cannot delete {}: {e}", path.display()))),
        }
    }
    Ok(ErasureReport {
        subject_hash: hash,
        erased_at: now,
        deleted: erased.deleted,
        scrubbed: erased.scrubbed,
        files: removed,
    })
}

fn event_json(e: &StoredEvent) -> Value {
    json!({
        "id": e.id,
        "type": e.kind,
        "ts": e.ts,
        "received_at": e.received_at,
        "anonymous_id": e.anonymous_id,
        "user_id": e.user_id,
        "url": e.url,
        "source": e.source,
        "rejected": e.rejected,
        "ts_flag": e.ts_flag,
        "event": serde_json::from_str::<Value>(&e.body).unwrap_or(Value::String(e.body.clone())),
    })
}

fn delivery_json(o: &OutboxItem) -> Value {
    json!({
        "id": o.id,
        "rule": o.rule_id,
        "trigger_id": o.trigger_id,
        "kind": o.kind,
        "target": o.target,
        "status": o.status,
        "created_at": o.created_at,
        "delivered_at": o.delivered_at,
        "payload": o.payload,
    })
}

/// Their survey responses: per response its survey, the latest answer to
/// each question (by arrival) and whether it reached an ending.
fn responses(events: &[StoredEvent]) -> Vec<Value> {
    /// Survey, latest answers, completed.
    type Response<'a> = (Option<&'a str>, Map<String, Value>, bool);
    let mut by_id: BTreeMap<&str, Response> = BTreeMap::new();
    for e in events.iter().filter(|e| e.rejected.is_none()) {
        let Some(response) = e.response_id.as_deref() else { continue };
        let entry = by_id.entry(response).or_default();
        entry.0 = entry.0.or(e.survey_id.as_deref());
        let body: Value = serde_json::from_str(&e.body).unwrap_or_default();
        match (e.kind.as_str(), e.question_id.as_deref()) {
            ("survey_answered", Some(q)) => {
                entry.1.insert(q.to_string(), body["value"].clone());
            }
            ("survey_completed", _) => entry.2 = true,
            _ => {}
        }
    }
    by_id
        .into_iter()
        .map(|(id, (survey, answers, completed))| {
            json!({ "response_id": id, "survey_id": survey, "answers": answers, "completed": completed })
        })
        .collect()
}

/// The accounts their `group` events put them in, with the traits they
/// gave; the last one is their account now.
fn accounts(events: &[StoredEvent]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.kind == "group" && e.rejected.is_none())
        .map(|e| {
            let body: Value = serde_json::from_str(&e.body).unwrap_or_default();
            json!({ "account_id": body["account_id"], "traits": body["traits"], "received_at": e.received_at })
        })
        .collect()
}

/// For `Path` checks: an id is what a page could have sent as `user_id`.
pub fn check_user_id(user_id: &str) -> Result<(), AppError> {
    if user_id.trim().is_empty() {
        return Err(AppError::bad_request(
            "give the person's user_id in the path: /v1/people/{user_id}",
            Some("user_id"),
        ));
    }
    Ok(())
}
