//! Automations on SQLite: claims and runs are writes on the writer thread, each in its own transaction.

use std::collections::HashSet;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Transaction};

use crate::store::sqlite::{outbox_item, stored_event, Db, EVENT_COLUMNS, OUTBOX_COLUMNS};
use crate::store::{
    AfterAttempt, Attempt, Claimed, ClaimedResponse, DbError, Dequeue, OutboxItem, RunEffects, OVER_EMAIL_QUOTA,
};

use super::AutomationStore;

#[async_trait]
impl AutomationStore for Db {
    async fn claim_queued(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<Claimed>, DbError> {
        self.write(move |tx| {
            let ids: Vec<(String, String)> = {
                let mut claim = tx.prepare_cached(
                    "UPDATE automation_queue SET lease_until = ?1
                     WHERE rowid IN (SELECT rowid FROM automation_queue
                                     WHERE lease_until IS NULL OR lease_until <= ?2
                                     ORDER BY enqueued_at, project_key, event_id LIMIT ?3)
                     RETURNING project_key, event_id",
                )?;
                let rows = claim.query_map(params![now + lease_ms, now, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let mut select =
                tx.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE project_key = ?1 AND id = ?2"))?;
            let mut claimed = Vec::with_capacity(ids.len());
            for (key, id) in ids {
                match select.query_row([&key, &id], stored_event).optional()? {
                    Some(event) => claimed.push(event),
                    // Cannot happen (events are never deleted); do not let it block the queue.
                    None => {
                        tx.execute(
                            "DELETE FROM automation_queue WHERE project_key = ?1 AND event_id = ?2",
                            [&key, &id],
                        )?;
                    }
                }
            }
            claimed.sort_by_key(|e| (e.ts, e.seq));
            Ok(claimed)
        })
        .await
    }

    async fn claim_responses(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<ClaimedResponse>, DbError> {
        self.write(move |tx| {
            let mut claim = tx.prepare_cached(
                "UPDATE response_queue SET lease_until = ?1
                 WHERE rowid IN (SELECT rowid FROM response_queue
                                 WHERE due_at <= ?2 AND (lease_until IS NULL OR lease_until <= ?2)
                                 ORDER BY due_at, project_key, response_id LIMIT ?3)
                 RETURNING project_key, response_id, survey_id, due_at",
            )?;
            let rows = claim.query_map(params![now + lease_ms, now, limit], |r| {
                Ok(ClaimedResponse {
                    project_key: r.get(0)?,
                    response_id: r.get(1)?,
                    survey_id: r.get(2)?,
                    due_at: r.get(3)?,
                })
            })?;
            let mut claimed: Vec<ClaimedResponse> = rows.collect::<rusqlite::Result<_>>()?;
            claimed.sort_by(|a, b| (a.due_at, &a.response_id).cmp(&(b.due_at, &b.response_id)));
            Ok(claimed)
        })
        .await
    }

    async fn apply_runs(
        &self,
        key: String,
        trigger_id: String,
        dequeue: Option<Dequeue>,
        runs: Vec<RunEffects>,
        now: i64,
    ) -> Result<Vec<String>, DbError> {
        self.write(move |tx| {
            let mut ran = Vec::new();
            for run in runs {
                if store_run(tx, &key, &trigger_id, &run, now)? {
                    ran.push(run.rule_id);
                }
            }
            match dequeue {
                Some(Dequeue::Event(event_id)) => {
                    tx.execute(
                        "DELETE FROM automation_queue WHERE project_key = ?1 AND event_id = ?2",
                        params![key, event_id],
                    )?;
                }
                Some(Dequeue::Response { response_id, due_at }) => {
                    tx.execute(
                        "DELETE FROM response_queue WHERE project_key = ?1 AND response_id = ?2 AND due_at = ?3",
                        params![key, response_id, due_at],
                    )?;
                }
                None => {}
            }
            Ok(ran)
        })
        .await
    }

    async fn rule_runs(&self, key: String, rule_id: String) -> Result<HashSet<String>, DbError> {
        self.read(move |conn| {
            let mut q =
                conn.prepare_cached("SELECT trigger_id FROM automation_runs WHERE project_key = ?1 AND rule_id = ?2")?;
            let rows = q.query_map(params![key, rule_id], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn claim_due(&self, now: i64, lease_ms: i64, limit: u32) -> Result<Vec<OutboxItem>, DbError> {
        self.write(move |tx| {
            let mut claim = tx.prepare_cached(&format!(
                "UPDATE outbox SET lease_until = ?1
                 WHERE id IN (SELECT id FROM outbox
                              WHERE status = 'pending' AND next_attempt_at <= ?2
                                AND (lease_until IS NULL OR lease_until <= ?2)
                              ORDER BY next_attempt_at, id LIMIT ?3)
                 RETURNING {OUTBOX_COLUMNS}"
            ))?;
            let rows = claim.query_map(params![now + lease_ms, now, limit], outbox_item)?;
            let mut items: Vec<OutboxItem> = rows.collect::<rusqlite::Result<_>>()?;
            items.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
            Ok(items)
        })
        .await
    }

    async fn next_due_at(&self) -> Result<Option<i64>, DbError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT MIN(at) FROM
                   (SELECT MAX(next_attempt_at, COALESCE(lease_until, 0)) AS at FROM outbox WHERE status = 'pending'
                    UNION ALL
                    SELECT MAX(due_at, COALESCE(lease_until, 0)) FROM response_queue)",
                [],
                |r| r.get(0),
            )
        })
        .await
    }

    async fn record_attempt(&self, a: Attempt, after: AfterAttempt) -> Result<(), DbError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![a.delivery_id, a.attempt, a.started_at, a.duration_ms, a.status_code, a.error],
            )?;
            let (status, next, delivered) = match after {
                AfterAttempt::Delivered { at } => ("delivered", None, Some(at)),
                AfterAttempt::Retry { at } => ("pending", Some(at), None),
                AfterAttempt::Failed => ("failed", None, None),
            };
            tx.execute(
                "UPDATE outbox SET status = ?2, attempts = ?3, next_attempt_at = COALESCE(?4, next_attempt_at),
                                   delivered_at = ?5, last_error = ?6, lease_until = NULL
                 WHERE id = ?1",
                params![a.delivery_id, status, a.attempt, next, delivered, a.error],
            )?;
            Ok(())
        })
        .await
    }

    async fn deliveries(
        &self,
        key: String,
        status: Option<String>,
        limit: u32,
    ) -> Result<Vec<(OutboxItem, Vec<Attempt>)>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE project_key = ?1 AND (?2 IS NULL OR status = ?2)
                 ORDER BY created_at DESC, id LIMIT ?3"
            ))?;
            let items: Vec<OutboxItem> =
                q.query_map(params![key, status, limit], outbox_item)?.collect::<rusqlite::Result<_>>()?;
            let mut attempts = conn.prepare_cached(
                "SELECT delivery_id, attempt, started_at, duration_ms, status_code, error
                 FROM delivery_attempts WHERE delivery_id = ?1 ORDER BY attempt",
            )?;
            items
                .into_iter()
                .map(|item| {
                    let list = attempts
                        .query_map([&item.id], |r| {
                            Ok(Attempt {
                                delivery_id: r.get(0)?,
                                attempt: r.get(1)?,
                                started_at: r.get(2)?,
                                duration_ms: r.get(3)?,
                                status_code: r.get(4)?,
                                error: r.get(5)?,
                            })
                        })?
                        .collect::<rusqlite::Result<_>>()?;
                    Ok((item, list))
                })
                .collect()
        })
        .await
    }
}

/// Records that `run`'s rule ran for `trigger_id` and stores its outbox rows
/// and cases, unless it ran for that trigger before (then stores nothing).
pub(in crate::store) fn store_run(
    tx: &Transaction,
    key: &str,
    trigger_id: &str,
    run: &RunEffects,
    now: i64,
) -> rusqlite::Result<bool> {
    let new = tx.execute(
        "INSERT OR IGNORE INTO automation_runs (trigger_id, rule_id, project_key, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![trigger_id, run.rule_id, key, now],
    )? == 1;
    if !new {
        return Ok(false);
    }
    for o in &run.outbox {
        let mut o = std::borrow::Cow::Borrowed(o);
        if run.one_email_a_day && o.kind == "email" && o.status == "pending" {
            let within = tx.execute(
                "INSERT OR IGNORE INTO email_quota (project_key, address, day, delivery_id) VALUES (?1, ?2, ?3, ?4)",
                params![o.project_key, o.target.to_lowercase(), crate::store::utc_day(o.created_at), o.id],
            )? == 1;
            if !within {
                let o = o.to_mut();
                o.status = "failed".into();
                o.last_error = Some(OVER_EMAIL_QUOTA.into());
            }
        }
        tx.execute(
            "INSERT INTO outbox (id, project_key, rule_id, trigger_id, kind, target, payload, signature,
                                 status, attempts, next_attempt_at, created_at, delivered_at, last_error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                o.id,
                o.project_key,
                o.rule_id,
                o.trigger_id,
                o.kind,
                o.target,
                o.payload,
                o.signing_key,
                o.status,
                o.attempts,
                o.next_attempt_at,
                o.created_at,
                o.delivered_at,
                o.last_error
            ],
        )?;
    }
    for c in &run.cases {
        tx.execute(
            "INSERT INTO cases (id, project_key, rule_id, trigger_id, title, user_id, anonymous_id, detail,
                                status, created_at, closed_at, note, priority, assignee)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                c.id,
                c.project_key,
                c.rule_id,
                c.trigger_id,
                c.title,
                c.user_id,
                c.anonymous_id,
                c.detail,
                c.status,
                c.created_at,
                c.closed_at,
                c.note,
                c.priority,
                c.assignee
            ],
        )?;
    }
    Ok(true)
}
