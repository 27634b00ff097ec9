//! Automations on Postgres: claims with `FOR UPDATE SKIP LOCKED`, so several collectors share one queue.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use crate::store::postgres::{outbox_item, stored_event, PgStore, EVENT_COLUMNS, OUTBOX_COLUMNS};
use crate::store::{
    AfterAttempt, Attempt, Claimed, ClaimedResponse, DbError, Dequeue, OutboxItem, RunEffects, OVER_EMAIL_QUOTA,
};

use super::AutomationStore;

#[async_trait]
impl AutomationStore for PgStore {
    async fn claim_queued(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<Claimed>, DbError> {
        let client = self.client().await?;
        let claimed: Vec<(String, String)> = client
            .query(
                "UPDATE automation_queue SET lease_until = $1
                 WHERE (project_key, event_id) IN
                       (SELECT project_key, event_id FROM automation_queue
                        WHERE lease_until IS NULL OR lease_until <= $2
                        ORDER BY enqueued_at, project_key, event_id LIMIT $3
                        FOR UPDATE SKIP LOCKED)
                 RETURNING project_key, event_id",
                &[&(now + lease_ms), &now, &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let (keys, ids): (Vec<String>, Vec<String>) = claimed.into_iter().unzip();
        let rows = client
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                     WHERE (project_key, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
                     ORDER BY ts, seq"
                ),
                &[&keys, &ids],
            )
            .await?;
        rows.iter().map(stored_event).collect()
    }

    async fn claim_responses(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<ClaimedResponse>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE response_queue SET lease_until = $1
                 WHERE (project_key, response_id) IN
                       (SELECT project_key, response_id FROM response_queue
                        WHERE due_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
                        ORDER BY due_at, project_key, response_id LIMIT $3
                        FOR UPDATE SKIP LOCKED)
                 RETURNING project_key, response_id, survey_id, due_at",
                &[&(now + lease_ms), &now, &i64::from(limit)],
            )
            .await?;
        let mut claimed: Vec<ClaimedResponse> = rows
            .iter()
            .map(|r| {
                Ok(ClaimedResponse {
                    project_key: r.try_get(0)?,
                    response_id: r.try_get(1)?,
                    survey_id: r.try_get(2)?,
                    due_at: r.try_get(3)?,
                })
            })
            .collect::<Result<_, DbError>>()?;
        claimed.sort_by(|a, b| (a.due_at, &a.response_id).cmp(&(b.due_at, &b.response_id)));
        Ok(claimed)
    }

    async fn apply_runs(
        &self,
        key: String,
        trigger_id: String,
        dequeue: Option<Dequeue>,
        runs: Vec<RunEffects>,
        now: i64,
    ) -> Result<Vec<String>, DbError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut ran = Vec::new();
        for run in runs {
            if store_run(&tx, &key, &trigger_id, &run, now).await? {
                ran.push(run.rule_id);
            }
        }
        match dequeue {
            Some(Dequeue::Event(event_id)) => {
                tx.execute("DELETE FROM automation_queue WHERE project_key = $1 AND event_id = $2", &[&key, &event_id])
                    .await?;
            }
            Some(Dequeue::Response { response_id, due_at }) => {
                tx.execute(
                    "DELETE FROM response_queue WHERE project_key = $1 AND response_id = $2 AND due_at = $3",
                    &[&key, &response_id, &due_at],
                )
                .await?;
            }
            None => {}
        }
        tx.commit().await?;
        Ok(ran)
    }

    async fn rule_runs(&self, key: String, rule_id: String) -> Result<HashSet<String>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT trigger_id FROM automation_runs WHERE project_key = $1 AND rule_id = $2", &[&key, &rule_id])
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn claim_due(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<OutboxItem>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "UPDATE outbox SET lease_until = $1
                     WHERE id IN (SELECT id FROM outbox
                                  WHERE status = 'pending' AND next_attempt_at <= $2
                                    AND (lease_until IS NULL OR lease_until <= $2)
                                  ORDER BY next_attempt_at, id LIMIT $3
                                  FOR UPDATE SKIP LOCKED)
                     RETURNING {OUTBOX_COLUMNS}"
                ),
                &[&(now + lease_ms), &now, &i64::from(limit)],
            )
            .await?;
        let mut items: Vec<OutboxItem> = rows.iter().map(outbox_item).collect::<Result<_, _>>()?;
        items.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
        Ok(items)
    }

    async fn next_due_at(&self) -> Result<Option<i64>, DbError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT MIN(at) FROM
                   (SELECT GREATEST(next_attempt_at, COALESCE(lease_until, 0)) AS at FROM outbox WHERE status = 'pending'
                    UNION ALL
                    SELECT GREATEST(due_at, COALESCE(lease_until, 0)) FROM response_queue) AS due",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn record_attempt(&self, a: Attempt, after: AfterAttempt) -> Result<(), DbError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (delivery_id, attempt) DO UPDATE
             SET started_at = EXCLUDED.started_at, duration_ms = EXCLUDED.duration_ms,
                 status_code = EXCLUDED.status_code, error = EXCLUDED.error",
            &[&a.delivery_id, &a.attempt, &a.started_at, &a.duration_ms, &a.status_code, &a.error],
        )
        .await?;
        let (status, next, delivered): (&str, Option<i64>, Option<i64>) = match after {
            AfterAttempt::Delivered { at } => ("delivered", None, Some(at)),
            AfterAttempt::Retry { at } => ("pending", Some(at), None),
            AfterAttempt::Failed => ("failed", None, None),
        };
        tx.execute(
            "UPDATE outbox SET status = $2, attempts = $3, next_attempt_at = COALESCE($4, next_attempt_at),
                               delivered_at = $5, last_error = $6, lease_until = NULL
             WHERE id = $1",
            &[&a.delivery_id, &status, &a.attempt, &next, &delivered, &a.error],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(
        &self,
        key: String,
        status: Option<String>,
        limit: u32,
    ) -> Result<Vec<(OutboxItem, Vec<Attempt>)>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE project_key = $1 AND ($2::text IS NULL OR status = $2)
                     ORDER BY created_at DESC, id LIMIT $3"
                ),
                &[&key, &status, &i64::from(limit)],
            )
            .await?;
        let items: Vec<OutboxItem> = rows.iter().map(outbox_item).collect::<Result<_, _>>()?;
        let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        let attempt_rows = client
            .query(
                "SELECT delivery_id, attempt, started_at, duration_ms, status_code, error
                 FROM delivery_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt",
                &[&ids],
            )
            .await?;
        let mut attempts: HashMap<String, Vec<Attempt>> = HashMap::new();
        for r in attempt_rows {
            let a = Attempt {
                delivery_id: r.try_get(0)?,
                attempt: r.try_get(1)?,
                started_at: r.try_get(2)?,
                duration_ms: r.try_get(3)?,
                status_code: r.try_get(4)?,
                error: r.try_get(5)?,
            };
            attempts.entry(a.delivery_id.clone()).or_default().push(a);
        }
        Ok(items
            .into_iter()
            .map(|item| {
                let list = attempts.remove(&item.id).unwrap_or_default();
                (item, list)
            })
            .collect())
    }
}

/// Records that `run`'s rule ran for `trigger_id` and stores its outbox rows
/// and cases, unless it ran for that trigger before (then stores nothing).
pub(in crate::store) async fn store_run(
    tx: &deadpool_postgres::Transaction<'_>,
    key: &str,
    trigger_id: &str,
    run: &RunEffects,
    now: i64,
) -> Result<bool, DbError> {
    let new = tx
        .execute(
            "INSERT INTO automation_runs (trigger_id, rule_id, project_key, created_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&trigger_id, &run.rule_id, &key, &now],
        )
        .await?
        == 1;
    if !new {
        return Ok(false);
    }
    for o in &run.outbox {
        let mut o = std::borrow::Cow::Borrowed(o);
        if run.one_email_a_day && o.kind == "email" && o.status == "pending" {
            // Another collector inserting the same key waits for this transaction, then finds the row.
            let within = tx
                .execute(
                    "INSERT INTO email_quota (project_key, address, day, delivery_id) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[&o.project_key, &o.target.to_lowercase(), &crate::store::utc_day(o.created_at), &o.id],
                )
                .await?
                == 1;
            if !within {
                let o = o.to_mut();
                o.status = "failed".into();
                o.last_error = Some(OVER_EMAIL_QUOTA.into());
            }
        }
        tx.execute(
            "INSERT INTO outbox (id, project_key, rule_id, trigger_id, kind, target, payload, signature,
                                 status, attempts, next_attempt_at, created_at, delivered_at, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &o.id,
                &o.project_key,
                &o.rule_id,
                &o.trigger_id,
                &o.kind,
                &o.target,
                &o.payload,
                &o.signing_key,
                &o.status,
                &o.attempts,
                &o.next_attempt_at,
                &o.created_at,
                &o.delivered_at,
                &o.last_error,
            ],
        )
        .await?;
    }
    for c in &run.cases {
        tx.execute(
            "INSERT INTO cases (id, project_key, rule_id, trigger_id, title, user_id, anonymous_id, detail,
                                status, created_at, closed_at, note, priority, assignee)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &c.id,
                &c.project_key,
                &c.rule_id,
                &c.trigger_id,
                &c.title,
                &c.user_id,
                &c.anonymous_id,
                &c.detail,
                &c.status,
                &c.created_at,
                &c.closed_at,
                &c.note,
                &c.priority,
                &c.assignee,
            ],
        )
        .await?;
    }
    Ok(true)
}
