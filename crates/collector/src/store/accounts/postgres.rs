//! Accounts on Postgres.

use async_trait::async_trait;

use crate::store::automations::postgres::store_run;
use crate::store::postgres::PgStore;
use crate::store::{DbError, HealthSnapshot, ListEntry, RoutingDecision, RunEffects};

use super::AccountStore;

#[async_trait]
impl AccountStore for PgStore {
    async fn record_health(&self, snapshots: Vec<HealthSnapshot>) -> Result<(), DbError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for h in &snapshots {
            tx.execute(
                "INSERT INTO account_health (project_key, account_id, computed_at, score, stage, tier, breakdown)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[&h.project_key, &h.account_id, &h.computed_at, &h.score, &h.stage, &h.tier, &h.breakdown],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn health_history(&self, key: String, account: Option<String>) -> Result<Vec<HealthSnapshot>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT project_key, account_id, computed_at, score, stage, tier, breakdown FROM account_health
                 WHERE project_key = $1 AND ($2::text IS NULL OR account_id = $2) ORDER BY account_id, computed_at",
                &[&key, &account],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(HealthSnapshot {
                    project_key: r.try_get(0)?,
                    account_id: r.try_get(1)?,
                    computed_at: r.try_get(2)?,
                    score: r.try_get(3)?,
                    stage: r.try_get(4)?,
                    tier: r.try_get(5)?,
                    breakdown: r.try_get(6)?,
                })
            })
            .collect()
    }

    async fn apply_routing(&self, d: RoutingDecision, run: RunEffects, lists: Vec<String>) -> Result<bool, DbError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !store_run(&tx, &d.project_key, &d.trigger_id, &run, d.decided_at).await? {
            tx.commit().await?;
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO account_routing (trigger_id, rule_id, project_key, account_id, reason, actions,
                                          assigned_to, decided_at, closed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &d.trigger_id,
                &d.rule_id,
                &d.project_key,
                &d.account_id,
                &d.reason,
                &d.actions,
                &d.assigned_to,
                &d.decided_at,
                &d.closed_at,
            ],
        )
        .await?;
        for list in &lists {
            tx.execute(
                "INSERT INTO account_lists (project_key, list, account_id, rule_id, reason, added_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[&d.project_key, list, &d.account_id, &d.rule_id, &d.reason, &d.decided_at],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn close_routing(&self, key: String, trigger_ids: Vec<String>, now: i64) -> Result<(), DbError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE account_routing SET closed_at = $3
                 WHERE project_key = $1 AND trigger_id = ANY($2) AND closed_at IS NULL",
                &[&key, &trigger_ids, &now],
            )
            .await?;
        Ok(())
    }

    async fn routing_log(&self, key: String, account: Option<String>) -> Result<Vec<RoutingDecision>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT trigger_id, rule_id, project_key, account_id, reason, actions, assigned_to, decided_at,
                        closed_at
                 FROM account_routing WHERE project_key = $1 AND ($2::text IS NULL OR account_id = $2)
                 ORDER BY decided_at DESC, trigger_id",
                &[&key, &account],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RoutingDecision {
                    trigger_id: r.try_get(0)?,
                    rule_id: r.try_get(1)?,
                    project_key: r.try_get(2)?,
                    account_id: r.try_get(3)?,
                    reason: r.try_get(4)?,
                    actions: r.try_get(5)?,
                    assigned_to: r.try_get(6)?,
                    decided_at: r.try_get(7)?,
                    closed_at: r.try_get(8)?,
                })
            })
            .collect()
    }

    async fn account_lists(&self, key: String) -> Result<Vec<ListEntry>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT project_key, list, account_id, rule_id, reason, added_at FROM account_lists
                 WHERE project_key = $1 ORDER BY list, added_at, account_id",
                &[&key],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ListEntry {
                    project_key: r.try_get(0)?,
                    list: r.try_get(1)?,
                    account_id: r.try_get(2)?,
                    rule_id: r.try_get(3)?,
                    reason: r.try_get(4)?,
                    added_at: r.try_get(5)?,
                })
            })
            .collect()
    }
}
