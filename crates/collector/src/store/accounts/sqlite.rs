//! Accounts on SQLite.

use async_trait::async_trait;
use rusqlite::params;

use crate::store::automations::sqlite::store_run;
use crate::store::sqlite::Db;
use crate::store::{DbError, HealthSnapshot, ListEntry, RoutingDecision, RunEffects};

use super::AccountStore;

#[async_trait]
impl AccountStore for Db {
    async fn record_health(&self, snapshots: Vec<HealthSnapshot>) -> Result<(), DbError> {
        self.write(move |tx| {
            for h in &snapshots {
                tx.execute(
                    "INSERT OR IGNORE INTO account_health
                         (project_key, account_id, computed_at, score, stage, tier, breakdown)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![h.project_key, h.account_id, h.computed_at, h.score, h.stage, h.tier, h.breakdown],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn health_history(&self, key: String, account: Option<String>) -> Result<Vec<HealthSnapshot>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(
                "SELECT project_key, account_id, computed_at, score, stage, tier, breakdown FROM account_health
                 WHERE project_key = ?1 AND (?2 IS NULL OR account_id = ?2) ORDER BY account_id, computed_at",
            )?;
            let rows = q.query_map(params![key, account], |r| {
                Ok(HealthSnapshot {
                    project_key: r.get(0)?,
                    account_id: r.get(1)?,
                    computed_at: r.get(2)?,
                    score: r.get(3)?,
                    stage: r.get(4)?,
                    tier: r.get(5)?,
                    breakdown: r.get(6)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn apply_routing(&self, d: RoutingDecision, run: RunEffects, lists: Vec<String>) -> Result<bool, DbError> {
        self.write(move |tx| {
            if !store_run(tx, &d.project_key, &d.trigger_id, &run, d.decided_at)? {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO account_routing (trigger_id, rule_id, project_key, account_id, reason, actions,
                                              assigned_to, decided_at, closed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    d.trigger_id,
                    d.rule_id,
                    d.project_key,
                    d.account_id,
                    d.reason,
                    d.actions,
                    d.assigned_to,
                    d.decided_at,
                    d.closed_at
                ],
            )?;
            for list in &lists {
                tx.execute(
                    "INSERT OR IGNORE INTO account_lists (project_key, list, account_id, rule_id, reason, added_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![d.project_key, list, d.account_id, d.rule_id, d.reason, d.decided_at],
                )?;
            }
            Ok(true)
        })
        .await
    }

    async fn close_routing(&self, key: String, trigger_ids: Vec<String>, now: i64) -> Result<(), DbError> {
        self.write(move |tx| {
            for id in &trigger_ids {
                tx.execute(
                    "UPDATE account_routing SET closed_at = ?3
                     WHERE project_key = ?1 AND trigger_id = ?2 AND closed_at IS NULL",
                    params![key, id, now],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn routing_log(&self, key: String, account: Option<String>) -> Result<Vec<RoutingDecision>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(
                "SELECT trigger_id, rule_id, project_key, account_id, reason, actions, assigned_to, decided_at,
                        closed_at
                 FROM account_routing WHERE project_key = ?1 AND (?2 IS NULL OR account_id = ?2)
                 ORDER BY decided_at DESC, trigger_id",
            )?;
            let rows = q.query_map(params![key, account], |r| {
                Ok(RoutingDecision {
                    trigger_id: r.get(0)?,
                    rule_id: r.get(1)?,
                    project_key: r.get(2)?,
                    account_id: r.get(3)?,
                    reason: r.get(4)?,
                    actions: r.get(5)?,
                    assigned_to: r.get(6)?,
                    decided_at: r.get(7)?,
                    closed_at: r.get(8)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn account_lists(&self, key: String) -> Result<Vec<ListEntry>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(
                "SELECT project_key, list, account_id, rule_id, reason, added_at FROM account_lists
                 WHERE project_key = ?1 ORDER BY list, added_at, account_id",
            )?;
            let rows = q.query_map([key], |r| {
                Ok(ListEntry {
                    project_key: r.get(0)?,
                    list: r.get(1)?,
                    account_id: r.get(2)?,
                    rule_id: r.get(3)?,
                    reason: r.get(4)?,
                    added_at: r.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}
