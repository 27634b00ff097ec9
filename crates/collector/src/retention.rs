//! Retention: a project with `retention_days` keeps events for that many
//! days after the server received them ([`crate::projects`]); a background
//! worker deletes older ones once at startup and then every [`PERIOD`].
//!
//! Deleting is in batches of [`BATCH`] events, each its own transaction, so
//! on SQLite the single writer is never held long and ingest keeps flowing
//! between batches. With several collectors on one Postgres each runs the
//! same pass: deleting what another already deleted deletes nothing, so no
//! lock is needed. The targeting facts kept per person (`person_facts`) of
//! browsers and users not heard from since the cutoff go too; those of
//! people still active keep counting their older events. Cases, deliveries
//! and the erasure log are not events and are kept; a person's are erased
//! with `DELETE /v1/people/{user_id}`.

use std::time::Duration;

use crate::store::DbError;
use crate::worker::{Job, Stop};
use crate::AppState;

/// Time between two passes.
pub const PERIOD: Duration = Duration::from_secs(60 * 60);
/// Events deleted per transaction.
pub const BATCH: u32 = 5000;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The retention worker's job, if some project has a retention: a pass each [`PERIOD`].
pub struct Expiring;

impl Job for Expiring {
    const NAME: &'static str = "retention";

    fn of(state: &AppState) -> Option<Expiring> {
        state.projects.all().any(|p| p.project.retention_days.is_some()).then_some(Expiring)
    }

    async fn pass(&mut self, state: &AppState, _stop: &Stop) -> Duration {
        match pass(state, crate::now_ms()).await {
            Ok(deleted) => {
                for (key, n) in deleted.iter().filter(|(_, n)| *n > 0) {
                    eprintln!("touchpoint-collector: retention: {key}: deleted {n} event(s) past its retention");
                }
            }
            Err(e) => eprintln!("touchpoint-collector: retention: {e}"),
        }
        PERIOD
    }
}

/// One pass at `now`: deletes every project's events received before its
/// retention; returns how many went per project (projects without a retention are left out).
pub async fn pass(state: &AppState, now: i64) -> Result<Vec<(String, u64)>, DbError> {
    let mut out = Vec::new();
    for entry in state.projects.all() {
        let Some(days) = entry.project.retention_days else { continue };
        let before = now.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
        let key = entry.project.public_key.clone();
        let mut total = 0;
        loop {
            let n = state.db.delete_events_before(key.clone(), before, BATCH).await?;
            total += n;
            if n < u64::from(BATCH) {
                break;
            }
        }
        // Facts of people whose every event expired go with them.
        state.db.expire_person_facts(key.clone(), before).await?;
        out.push((key, total));
    }
    Ok(out)
}
