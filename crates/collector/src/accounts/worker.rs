//! Reassesses the accounts new events touched as they arrive (woken after
//! each ingest commit, at most every [`SETTLE`]; see [`super::changes`]:
//! a pass reads only those accounts' events), and every [`PERIOD`] the
//! accounts assessed longest ago (recency decays with time alone), and
//! records what changed ([`super::record`]).

use std::sync::Arc;
use std::time::Duration;

use super::record::record;
use super::{changes, compute, AccountsCatalog};
use crate::store::RoutingDecision;
use crate::worker::{Job, Stop};
use crate::AppState;

/// Wait after a wake-up so a burst of requests is assessed once.
const SETTLE: Duration = Duration::from_millis(200);
/// Time between two reassessments of the stalest accounts.
const PERIOD: Duration = Duration::from_secs(60);

/// The accounts worker's job: the accounts new events touched, then the
/// stalest ones each [`PERIOD`].
pub struct Assessing {
    catalog: Arc<AccountsCatalog>,
    last_refresh: tokio::time::Instant,
}

impl Job for Assessing {
    const NAME: &'static str = "accounts";

    /// The job if `state` has accounts.
    fn of(state: &AppState) -> Option<Assessing> {
        let catalog = state.accounts.clone()?;
        Some(Assessing { catalog, last_refresh: tokio::time::Instant::now() })
    }

    async fn pass(&mut self, state: &AppState, _stop: &Stop) -> Duration {
        if let Err(e) = changes::pass(state, &self.catalog, crate::now_ms()).await {
            tracing::warn!("accounts: {e}");
        }
        if self.last_refresh.elapsed() >= PERIOD {
            self.last_refresh = tokio::time::Instant::now();
            let older_than = i64::try_from(PERIOD.as_millis()).unwrap_or(i64::MAX);
            if let Err(e) = changes::refresh_stale(state, &self.catalog, crate::now_ms(), older_than).await {
                tracing::warn!("accounts: {e}");
            }
        }
        // At least a millisecond: zero would mean "go on at once".
        (self.last_refresh + PERIOD)
            .saturating_duration_since(tokio::time::Instant::now())
            .max(Duration::from_millis(1))
    }

    /// Then a short settle, so a burst of requests is assessed once.
    fn woken(&self) -> impl std::future::Future<Output = ()> + Send {
        let catalog = self.catalog.clone();
        async move {
            catalog.woken().await;
            tokio::time::sleep(SETTLE).await;
        }
    }
}

/// Assesses every account of `key` at `now`, records what changed and routes.
/// Returns the routing decisions stored now. Public for tests.
pub async fn assess_project(
    state: &AppState,
    catalog: &AccountsCatalog,
    key: &str,
    now: i64,
) -> Result<Vec<RoutingDecision>, String> {
    let views = compute(state, catalog, key, now).await.map_err(|e| format!("{e:?}"))?;
    record(state, catalog, key, &views, None, now).await
}
