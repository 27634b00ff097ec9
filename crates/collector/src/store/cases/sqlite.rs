//! Cases on SQLite: each change and its timeline entry in one writer transaction.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use crate::store::sqlite::{case, Db, CASE_COLUMNS};

use super::*;

const TIMELINE: &str = "INSERT INTO case_timeline (project_key, case_id, at, kind, author, body, delivery_id)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

#[async_trait]
impl CaseStore for Db {
    async fn cases(&self, key: String, status: Option<String>) -> Result<Vec<Case>, DbError> {
        self.read(move |conn| {
            let mut q = conn.prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE project_key = ?1 AND (?2 IS NULL OR status = ?2)
                 ORDER BY created_at DESC, id"
            ))?;
            let rows = q.query_map(params![key, status], case)?;
            rows.collect()
        })
        .await
    }

    async fn close_case(
        &self,
        key: String,
        id: String,
        note: Option<String>,
        now: i64,
    ) -> Result<Option<Case>, DbError> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE cases SET status = 'solved', closed_at = ?3, note = ?4
                 WHERE project_key = ?1 AND id = ?2 AND status <> 'solved'",
                params![key, id, now, note],
            )?;
            tx.query_row(
                &format!("SELECT {CASE_COLUMNS} FROM cases WHERE project_key = ?1 AND id = ?2"),
                params![key, id],
                case,
            )
            .optional()
        })
        .await
    }
    async fn cases_where(&self, key: String, f: CaseFilter) -> Result<Vec<(Case, Vec<String>)>, DbError> {
        let (cases, tags): (Vec<Case>, Vec<(String, String)>) = {
            self.read(move |conn| {
                let mut q = conn.prepare_cached(&format!(
                    "SELECT {} FROM cases WHERE project_key = ?1 AND (?2 IS NULL OR status = ?2)
                           AND (?3 IS NULL OR assignee = ?3)
                           AND (?4 IS NULL OR EXISTS (SELECT 1 FROM case_tags t WHERE t.project_key = cases.project_key
                                                       AND t.case_id = cases.id AND t.tag = ?4))
                         ORDER BY created_at DESC, id",
                    CASE_COLUMNS
                ))?;
                let cases = q
                    .query_map(params![key, f.status, f.assignee, f.tag], case)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let mut t =
                    conn.prepare_cached("SELECT case_id, tag FROM case_tags WHERE project_key = ?1 ORDER BY tag")?;
                let tags =
                    t.query_map(params![key], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
                Ok((cases, tags))
            })
            .await?
        };
        Ok(with_tags(cases, tags))
    }

    async fn case_detail(
        &self,
        key: String,
        id: String,
    ) -> Result<Option<(Case, Vec<String>, Vec<TimelineEntry>)>, DbError> {
        self.read(move |conn| {
            let sql = format!("SELECT {} FROM cases WHERE project_key = ?1 AND id = ?2", CASE_COLUMNS);
            let Some(case) = conn.query_row(&sql, params![key, id], case).optional()? else {
                return Ok(None);
            };
            let mut t =
                conn.prepare_cached("SELECT tag FROM case_tags WHERE project_key = ?1 AND case_id = ?2 ORDER BY tag")?;
            let tags = t.query_map(params![key, id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            let mut q = conn.prepare_cached(
                "SELECT seq, at, kind, author, body, delivery_id FROM case_timeline
                     WHERE project_key = ?1 AND case_id = ?2 ORDER BY seq",
            )?;
            let timeline = q
                .query_map(params![key, id], |r| {
                    Ok(TimelineEntry {
                        seq: r.get(0)?,
                        at: r.get(1)?,
                        kind: r.get(2)?,
                        author: r.get(3)?,
                        body: r.get(4)?,
                        delivery_id: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some((case, tags, timeline)))
        })
        .await
    }

    async fn update_case(
        &self,
        key: String,
        id: String,
        u: CaseUpdate,
        author: Option<String>,
        now: i64,
    ) -> Result<Option<Case>, DbError> {
        self.write(move |tx| {
            let sql = format!("SELECT {} FROM cases WHERE project_key = ?1 AND id = ?2", CASE_COLUMNS);
            let Some(before) = tx.query_row(&sql, params![key, id], case).optional()? else {
                return Ok(None);
            };
            let mut t =
                tx.prepare_cached("SELECT tag FROM case_tags WHERE project_key = ?1 AND case_id = ?2 ORDER BY tag")?;
            let before_tags: Vec<String> =
                t.query_map(params![key, id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            for (kind, body) in changes(&before, &before_tags, &u) {
                match kind {
                    "status" => tx.execute(
                        "UPDATE cases SET status = ?3,
                               closed_at = CASE WHEN ?3 = 'solved' THEN ?4 ELSE NULL END
                             WHERE project_key = ?1 AND id = ?2",
                        params![key, id, body, now],
                    )?,
                    "priority" => tx.execute(
                        "UPDATE cases SET priority = ?3 WHERE project_key = ?1 AND id = ?2",
                        params![key, id, body],
                    )?,
                    "assignee" => tx.execute(
                        "UPDATE cases SET assignee = ?3 WHERE project_key = ?1 AND id = ?2",
                        params![key, id, u.assignee.clone().flatten()],
                    )?,
                    _ => {
                        tx.execute("DELETE FROM case_tags WHERE project_key = ?1 AND case_id = ?2", params![key, id])?;
                        for tag in u.tags.iter().flatten() {
                            tx.execute(
                                "INSERT OR IGNORE INTO case_tags (project_key, case_id, tag) VALUES (?1, ?2, ?3)",
                                params![key, id, tag],
                            )?;
                        }
                        0
                    }
                };
                tx.execute(TIMELINE, params![key, id, now, kind, author, body, None::<String>])?;
            }
            tx.query_row(&sql, params![key, id], case).optional()
        })
        .await
    }

    async fn add_to_case(&self, key: String, id: String, entry: NewEntry, now: i64) -> Result<Option<Case>, DbError> {
        let kind = if entry.reply.is_some() { "reply" } else { "note" };
        self.write(move |tx| {
            let sql = format!("SELECT {} FROM cases WHERE project_key = ?1 AND id = ?2", CASE_COLUMNS);
            if tx.query_row(&sql, params![key, id], case).optional()?.is_none() {
                return Ok(None);
            }
            let delivery = entry.reply.as_ref().map(|o| o.id.clone());
            if let Some(o) = &entry.reply {
                tx.execute(
                    "INSERT INTO outbox (id, project_key, rule_id, trigger_id, kind, target, payload, signature,
                                             status, attempts, next_attempt_at, created_at, delivered_at, last_error)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, 0, ?9, ?9, NULL, ?10)",
                    params![
                        o.id,
                        o.project_key,
                        o.rule_id,
                        o.trigger_id,
                        o.kind,
                        o.target,
                        o.payload,
                        o.status,
                        o.created_at,
                        o.last_error
                    ],
                )?;
                tx.execute(
                    "UPDATE cases SET first_response_at = COALESCE(first_response_at, ?3),
                           status = CASE WHEN status = 'open' THEN 'waiting' ELSE status END
                         WHERE project_key = ?1 AND id = ?2",
                    params![key, id, now],
                )?;
            }
            tx.execute(TIMELINE, params![key, id, now, kind, entry.author, entry.body, delivery])?;
            tx.query_row(&sql, params![key, id], case).optional()
        })
        .await
    }

    async fn roadblocks(&self, key: String) -> Result<Vec<Roadblock>, DbError> {
        const SQL: &str = "SELECT t.tag, COUNT(*), SUM(CASE WHEN c.status <> 'solved' THEN 1 ELSE 0 END)
                           FROM case_tags t JOIN cases c ON c.project_key = t.project_key AND c.id = t.case_id
                           WHERE t.project_key = {K} GROUP BY t.tag ORDER BY COUNT(*) DESC, t.tag";
        self.read(move |conn| {
            let mut q = conn.prepare_cached(&SQL.replace("{K}", "?1"))?;
            let rows =
                q.query_map(params![key], |r| Ok(Roadblock { tag: r.get(0)?, cases: r.get(1)?, unsolved: r.get(2)? }))?;
            rows.collect()
        })
        .await
    }

    async fn csat_pending(&self, key: String, user_id: String, since: i64) -> Result<Option<Case>, DbError> {
        const SQL: &str = "SELECT {C} FROM cases WHERE project_key = {1} AND user_id = {2} AND status = 'solved'
                           AND csat_score IS NULL AND closed_at >= {3} ORDER BY closed_at DESC, id LIMIT 1";
        let sql = SQL.replace("{C}", CASE_COLUMNS).replace("{1}", "?1").replace("{2}", "?2").replace("{3}", "?3");
        self.read(move |conn| conn.query_row(&sql, params![key, user_id, since], case).optional()).await
    }

    async fn record_csat(&self, key: String, id: String, score: i64, now: i64) -> Result<bool, DbError> {
        let body = score.to_string();
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE cases SET csat_score = ?3, csat_at = ?4
                     WHERE project_key = ?1 AND id = ?2 AND status = 'solved' AND csat_score IS NULL",
                params![key, id, score, now],
            )?;
            if n == 1 {
                tx.execute(TIMELINE, params![key, id, now, "csat", None::<String>, body, None::<String>])?;
            }
            Ok(n == 1)
        })
        .await
    }
}
