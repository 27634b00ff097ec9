//! Cases on Postgres: each change and its timeline entry in one transaction, the case row locked first.

use async_trait::async_trait;

use crate::store::postgres::{case, PgStore, CASE_COLUMNS};

use super::*;

const TIMELINE: &str = "INSERT INTO case_timeline (project_key, case_id, at, kind, author, body, delivery_id)
                           VALUES ($1, $2, $3, $4, $5, $6, $7)";

#[async_trait]
impl CaseStore for PgStore {
    async fn cases(&self, key: String, status: Option<String>) -> Result<Vec<Case>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {CASE_COLUMNS} FROM cases WHERE project_key = $1 AND ($2::text IS NULL OR status = $2)
                     ORDER BY created_at DESC, id"
                ),
                &[&key, &status],
            )
            .await?;
        rows.iter().map(case).collect()
    }

    async fn close_case(
        &self,
        key: String,
        id: String,
        note: Option<String>,
        now: i64,
    ) -> Result<Option<Case>, DbError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE cases SET status = 'solved', closed_at = $3, note = $4
                 WHERE project_key = $1 AND id = $2 AND status <> 'solved'",
                &[&key, &id, &now, &note],
            )
            .await?;
        let row = client
            .query_opt(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE project_key = $1 AND id = $2"), &[&key, &id])
            .await?;
        row.as_ref().map(case).transpose()
    }
    async fn cases_where(&self, key: String, f: CaseFilter) -> Result<Vec<(Case, Vec<String>)>, DbError> {
        let (cases, tags): (Vec<Case>, Vec<(String, String)>) = {
            let client = self.client().await?;
            let rows = client
                .query(
                    &format!(
                        "SELECT {} FROM cases WHERE project_key = $1 AND ($2::text IS NULL OR status = $2)
                               AND ($3::text IS NULL OR assignee = $3)
                               AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM case_tags t
                                    WHERE t.project_key = cases.project_key AND t.case_id = cases.id AND t.tag = $4))
                             ORDER BY created_at DESC, id",
                        CASE_COLUMNS
                    ),
                    &[&key, &f.status, &f.assignee, &f.tag],
                )
                .await?;
            let cases = rows.iter().map(case).collect::<Result<Vec<_>, _>>()?;
            let tags = client
                .query("SELECT case_id, tag FROM case_tags WHERE project_key = $1 ORDER BY tag", &[&key])
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>, DbError>>()?;
            (cases, tags)
        };
        Ok(with_tags(cases, tags))
    }

    async fn case_detail(
        &self,
        key: String,
        id: String,
    ) -> Result<Option<(Case, Vec<String>, Vec<TimelineEntry>)>, DbError> {
        let client = self.client().await?;
        let sql = format!("SELECT {} FROM cases WHERE project_key = $1 AND id = $2", CASE_COLUMNS);
        let Some(row) = client.query_opt(&sql, &[&key, &id]).await? else { return Ok(None) };
        let case = case(&row)?;
        let tags = client
            .query("SELECT tag FROM case_tags WHERE project_key = $1 AND case_id = $2 ORDER BY tag", &[&key, &id])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let timeline = client
            .query(
                "SELECT seq, at, kind, author, body, delivery_id FROM case_timeline
                     WHERE project_key = $1 AND case_id = $2 ORDER BY seq",
                &[&key, &id],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(TimelineEntry {
                    seq: r.try_get(0)?,
                    at: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    author: r.try_get(3)?,
                    body: r.try_get(4)?,
                    delivery_id: r.try_get(5)?,
                })
            })
            .collect::<Result<_, DbError>>()?;
        Ok(Some((case, tags, timeline)))
    }

    async fn update_case(
        &self,
        key: String,
        id: String,
        u: CaseUpdate,
        author: Option<String>,
        now: i64,
    ) -> Result<Option<Case>, DbError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let sql = format!("SELECT {} FROM cases WHERE project_key = $1 AND id = $2 FOR UPDATE", CASE_COLUMNS);
        let Some(row) = tx.query_opt(&sql, &[&key, &id]).await? else { return Ok(None) };
        let before = case(&row)?;
        let before_tags: Vec<String> = tx
            .query("SELECT tag FROM case_tags WHERE project_key = $1 AND case_id = $2 ORDER BY tag", &[&key, &id])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        for (kind, body) in changes(&before, &before_tags, &u) {
            match kind {
                "status" => {
                    tx.execute(
                        "UPDATE cases SET status = $3,
                               closed_at = CASE WHEN $3 = 'solved' THEN $4::bigint ELSE NULL END
                             WHERE project_key = $1 AND id = $2",
                        &[&key, &id, &body, &now],
                    )
                    .await?
                }
                "priority" => {
                    tx.execute("UPDATE cases SET priority = $3 WHERE project_key = $1 AND id = $2", &[&key, &id, &body])
                        .await?
                }
                "assignee" => {
                    tx.execute(
                        "UPDATE cases SET assignee = $3 WHERE project_key = $1 AND id = $2",
                        &[&key, &id, &u.assignee.clone().flatten()],
                    )
                    .await?
                }
                _ => {
                    tx.execute("DELETE FROM case_tags WHERE project_key = $1 AND case_id = $2", &[&key, &id]).await?;
                    for tag in u.tags.iter().flatten() {
                        tx.execute(
                            "INSERT INTO case_tags (project_key, case_id, tag) VALUES ($1, $2, $3)
                                 ON CONFLICT DO NOTHING",
                            &[&key, &id, tag],
                        )
                        .await?;
                    }
                    0
                }
            };
            tx.execute(TIMELINE, &[&key, &id, &now, &kind, &author, &body, &None::<String>]).await?;
        }
        let sql = format!("SELECT {} FROM cases WHERE project_key = $1 AND id = $2", CASE_COLUMNS);
        let row = tx.query_one(&sql, &[&key, &id]).await?;
        let case = case(&row)?;
        tx.commit().await?;
        Ok(Some(case))
    }

    async fn add_to_case(&self, key: String, id: String, entry: NewEntry, now: i64) -> Result<Option<Case>, DbError> {
        let kind = if entry.reply.is_some() { "reply" } else { "note" };
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let sql = format!("SELECT {} FROM cases WHERE project_key = $1 AND id = $2 FOR UPDATE", CASE_COLUMNS);
        if tx.query_opt(&sql, &[&key, &id]).await?.is_none() {
            return Ok(None);
        }
        let delivery = entry.reply.as_ref().map(|o| o.id.clone());
        if let Some(o) = &entry.reply {
            tx.execute(
                "INSERT INTO outbox (id, project_key, rule_id, trigger_id, kind, target, payload, signature,
                                         status, attempts, next_attempt_at, created_at, delivered_at, last_error)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, 0, $9, $9, NULL, $10)",
                &[
                    &o.id,
                    &o.project_key,
                    &o.rule_id,
                    &o.trigger_id,
                    &o.kind,
                    &o.target,
                    &o.payload,
                    &o.status,
                    &o.created_at,
                    &o.last_error,
                ],
            )
            .await?;
            tx.execute(
                "UPDATE cases SET first_response_at = COALESCE(first_response_at, $3),
                       status = CASE WHEN status = 'open' THEN 'waiting' ELSE status END
                     WHERE project_key = $1 AND id = $2",
                &[&key, &id, &now],
            )
            .await?;
        }
        tx.execute(TIMELINE, &[&key, &id, &now, &kind, &entry.author, &entry.body, &delivery]).await?;
        let sql = format!("SELECT {} FROM cases WHERE project_key = $1 AND id = $2", CASE_COLUMNS);
        let case = case(&tx.query_one(&sql, &[&key, &id]).await?)?;
        tx.commit().await?;
        Ok(Some(case))
    }

    async fn roadblocks(&self, key: String) -> Result<Vec<Roadblock>, DbError> {
        const SQL: &str = "SELECT t.tag, COUNT(*), SUM(CASE WHEN c.status <> 'solved' THEN 1 ELSE 0 END)
                           FROM case_tags t JOIN cases c ON c.project_key = t.project_key AND c.id = t.case_id
                           WHERE t.project_key = {K} GROUP BY t.tag ORDER BY COUNT(*) DESC, t.tag";
        let client = self.client().await?;
        let rows = client.query(&SQL.replace("{K}", "$1"), &[&key]).await?;
        rows.iter()
            .map(|r| Ok(Roadblock { tag: r.try_get(0)?, cases: r.try_get(1)?, unsolved: r.try_get(2)? }))
            .collect()
    }

    async fn csat_pending(&self, key: String, user_id: String, since: i64) -> Result<Option<Case>, DbError> {
        const SQL: &str = "SELECT {C} FROM cases WHERE project_key = {1} AND user_id = {2} AND status = 'solved'
                           AND csat_score IS NULL AND closed_at >= {3} ORDER BY closed_at DESC, id LIMIT 1";
        let sql = SQL.replace("{C}", CASE_COLUMNS).replace("{1}", "$1").replace("{2}", "$2").replace("{3}", "$3");
        let client = self.client().await?;
        client.query_opt(&sql, &[&key, &user_id, &since]).await?.map(|r| case(&r)).transpose()
    }

    async fn record_csat(&self, key: String, id: String, score: i64, now: i64) -> Result<bool, DbError> {
        let body = score.to_string();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE cases SET csat_score = $3, csat_at = $4
                     WHERE project_key = $1 AND id = $2 AND status = 'solved' AND csat_score IS NULL",
                &[&key, &id, &score, &now],
            )
            .await?;
        if n == 1 {
            tx.execute(TIMELINE, &[&key, &id, &now, &"csat", &None::<String>, &body, &None::<String>]).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }
}
