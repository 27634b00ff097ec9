//! Working a case: filters, status / priority / assignee / tag changes, the
//! timeline (notes, replies, changes, the CSAT answer), the roadblocks report
//! and the CSAT question after solving. See [`crate::cases`].
//!
//! Every change and its timeline entry are written in one transaction; a
//! reply's outbox row too, so a reply is on the case exactly when its email
//! is queued (and it is sent once, through the outbox's leases, whichever
//! collector's worker takes it).

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::{postgres, sqlite, Case, DbError, OutboxItem, Store};

/// One entry of a case's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub seq: i64,
    pub at: i64,
    /// `note`, `reply`, `status`, `priority`, `assignee`, `tags` or `csat`.
    pub kind: String,
    pub author: Option<String>,
    pub body: String,
    /// A reply's email in the outbox.
    pub delivery_id: Option<String>,
}

/// Which cases to list; `None` matches any.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub tag: Option<String>,
}

/// What to change on a case; `None` leaves it as it is.
#[derive(Debug, Clone, Default)]
pub struct CaseUpdate {
    pub status: Option<String>,
    pub priority: Option<String>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

/// A note or a reply to add to a case's timeline.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub author: Option<String>,
    pub body: String,
    /// A reply: the email that carries it.
    pub reply: Option<OutboxItem>,
}

/// A reason tag and how many cases carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Roadblock {
    pub tag: String,
    pub cases: i64,
    /// Of those, not solved.
    pub unsolved: i64,
}

const TIMELINE_LITE: &str = "INSERT INTO case_timeline (project_key, case_id, at, kind, author, body, delivery_id)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
const TIMELINE_PG: &str = "INSERT INTO case_timeline (project_key, case_id, at, kind, author, body, delivery_id)
                           VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// The changes `u` makes to `before`, as timeline entries `(kind, body)`.
fn changes(before: &Case, before_tags: &[String], u: &CaseUpdate) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(s) = u.status.as_ref().filter(|s| **s != before.status) {
        out.push(("status", s.clone()));
    }
    if let Some(p) = u.priority.as_ref().filter(|p| **p != before.priority) {
        out.push(("priority", p.clone()));
    }
    if let Some(a) = u.assignee.as_ref().filter(|a| **a != before.assignee) {
        out.push(("assignee", a.clone().unwrap_or_default()));
    }
    if let Some(t) = u.tags.as_ref().filter(|t| *t != before_tags) {
        out.push(("tags", t.join(", ")));
    }
    out
}

impl Store {
    /// The project's cases matching `filter`, newest first, each with its tags.
    pub async fn cases_where(&self, key: String, f: CaseFilter) -> Result<Vec<(Case, Vec<String>)>, DbError> {
        let (cases, tags): (Vec<Case>, Vec<(String, String)>) = match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    let mut q = conn.prepare_cached(&format!(
                        "SELECT {} FROM cases WHERE project_key = ?1 AND (?2 IS NULL OR status = ?2)
                           AND (?3 IS NULL OR assignee = ?3)
                           AND (?4 IS NULL OR EXISTS (SELECT 1 FROM case_tags t WHERE t.project_key = cases.project_key
                                                       AND t.case_id = cases.id AND t.tag = ?4))
                         ORDER BY created_at DESC, id",
                        sqlite::CASE_COLUMNS
                    ))?;
                    let cases = q
                        .query_map(params![key, f.status, f.assignee, f.tag], sqlite::case)?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    let mut t =
                        conn.prepare_cached("SELECT case_id, tag FROM case_tags WHERE project_key = ?1 ORDER BY tag")?;
                    let tags =
                        t.query_map(params![key], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
                    Ok((cases, tags))
                })
                .await?
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let rows = client
                    .query(
                        &format!(
                            "SELECT {} FROM cases WHERE project_key = $1 AND ($2::text IS NULL OR status = $2)
                               AND ($3::text IS NULL OR assignee = $3)
                               AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM case_tags t
                                    WHERE t.project_key = cases.project_key AND t.case_id = cases.id AND t.tag = $4))
                             ORDER BY created_at DESC, id",
                            postgres::CASE_COLUMNS
                        ),
                        &[&key, &f.status, &f.assignee, &f.tag],
                    )
                    .await?;
                let cases = rows.iter().map(postgres::case).collect::<Result<Vec<_>, _>>()?;
                let tags = client
                    .query("SELECT case_id, tag FROM case_tags WHERE project_key = $1 ORDER BY tag", &[&key])
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<Vec<_>, DbError>>()?;
                (cases, tags)
            }
        };
        let mut by_case: HashMap<String, Vec<String>> = HashMap::new();
        for (case, tag) in tags {
            by_case.entry(case).or_default().push(tag);
        }
        Ok(cases.into_iter().map(|c| (by_case.remove(&c.id).unwrap_or_default(), c)).map(|(t, c)| (c, t)).collect())
    }

    /// One case with its tags and timeline (oldest first); `None` if the project has no such case.
    pub async fn case_detail(
        &self,
        key: String,
        id: String,
    ) -> Result<Option<(Case, Vec<String>, Vec<TimelineEntry>)>, DbError> {
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    let sql = format!("SELECT {} FROM cases WHERE project_key = ?1 AND id = ?2", sqlite::CASE_COLUMNS);
                    let Some(case) = conn.query_row(&sql, params![key, id], sqlite::case).optional()? else {
                        return Ok(None);
                    };
                    let mut t = conn.prepare_cached(
                        "SELECT tag FROM case_tags WHERE project_key = ?1 AND case_id = ?2 ORDER BY tag",
                    )?;
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
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let sql = format!("SELECT {} FROM cases WHERE project_key = $1 AND id = $2", postgres::CASE_COLUMNS);
                let Some(row) = client.query_opt(&sql, &[&key, &id]).await? else { return Ok(None) };
                let case = postgres::case(&row)?;
                let tags = client
                    .query(
                        "SELECT tag FROM case_tags WHERE project_key = $1 AND case_id = $2 ORDER BY tag",
                        &[&key, &id],
                    )
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
        }
    }

    /// Applies `u` and logs each change on the timeline, in one transaction.
    /// Solving sets `closed_at`; reopening clears it. `None`: no such case.
    pub async fn update_case(
        &self,
        key: String,
        id: String,
        u: CaseUpdate,
        author: Option<String>,
        now: i64,
    ) -> Result<Option<Case>, DbError> {
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
                    let sql = format!("SELECT {} FROM cases WHERE project_key = ?1 AND id = ?2", sqlite::CASE_COLUMNS);
                    let Some(before) = tx.query_row(&sql, params![key, id], sqlite::case).optional()? else {
                        return Ok(None);
                    };
                    let mut t = tx.prepare_cached(
                        "SELECT tag FROM case_tags WHERE project_key = ?1 AND case_id = ?2 ORDER BY tag",
                    )?;
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
                                tx.execute(
                                    "DELETE FROM case_tags WHERE project_key = ?1 AND case_id = ?2",
                                    params![key, id],
                                )?;
                                for tag in u.tags.iter().flatten() {
                                    tx.execute(
                                        "INSERT OR IGNORE INTO case_tags (project_key, case_id, tag) VALUES (?1, ?2, ?3)",
                                        params![key, id, tag],
                                    )?;
                                }
                                0
                            }
                        };
                        tx.execute(TIMELINE_LITE, params![key, id, now, kind, author, body, None::<String>])?;
                    }
                    tx.query_row(&sql, params![key, id], sqlite::case).optional()
                })
                .await
            }
            Store::Postgres(pg) => {
                let mut client = pg.client().await?;
                let tx = client.transaction().await?;
                let sql = format!(
                    "SELECT {} FROM cases WHERE project_key = $1 AND id = $2 FOR UPDATE",
                    postgres::CASE_COLUMNS
                );
                let Some(row) = tx.query_opt(&sql, &[&key, &id]).await? else { return Ok(None) };
                let before = postgres::case(&row)?;
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
                            tx.execute(
                                "UPDATE cases SET priority = $3 WHERE project_key = $1 AND id = $2",
                                &[&key, &id, &body],
                            )
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
                            tx.execute("DELETE FROM case_tags WHERE project_key = $1 AND case_id = $2", &[&key, &id])
                                .await?;
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
                    tx.execute(TIMELINE_PG, &[&key, &id, &now, &kind, &author, &body, &None::<String>]).await?;
                }
                let sql = format!("SELECT {} FROM cases WHERE project_key = $1 AND id = $2", postgres::CASE_COLUMNS);
                let row = tx.query_one(&sql, &[&key, &id]).await?;
                let case = postgres::case(&row)?;
                tx.commit().await?;
                Ok(Some(case))
            }
        }
    }

    /// Adds a note, or a reply with its email queued in the same transaction
    /// (a first reply sets `first_response_at`; an open case then waits on the customer).
    pub async fn add_to_case(
        &self,
        key: String,
        id: String,
        entry: NewEntry,
        now: i64,
    ) -> Result<Option<Case>, DbError> {
        let kind = if entry.reply.is_some() { "reply" } else { "note" };
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
                    let sql = format!("SELECT {} FROM cases WHERE project_key = ?1 AND id = ?2", sqlite::CASE_COLUMNS);
                    if tx.query_row(&sql, params![key, id], sqlite::case).optional()?.is_none() {
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
                    tx.execute(TIMELINE_LITE, params![key, id, now, kind, entry.author, entry.body, delivery])?;
                    tx.query_row(&sql, params![key, id], sqlite::case).optional()
                })
                .await
            }
            Store::Postgres(pg) => {
                let mut client = pg.client().await?;
                let tx = client.transaction().await?;
                let sql = format!(
                    "SELECT {} FROM cases WHERE project_key = $1 AND id = $2 FOR UPDATE",
                    postgres::CASE_COLUMNS
                );
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
                tx.execute(TIMELINE_PG, &[&key, &id, &now, &kind, &entry.author, &entry.body, &delivery]).await?;
                let sql = format!("SELECT {} FROM cases WHERE project_key = $1 AND id = $2", postgres::CASE_COLUMNS);
                let case = postgres::case(&tx.query_one(&sql, &[&key, &id]).await?)?;
                tx.commit().await?;
                Ok(Some(case))
            }
        }
    }

    /// Every reason tag of the project's cases, most cases first (then by tag).
    pub async fn roadblocks(&self, key: String) -> Result<Vec<Roadblock>, DbError> {
        const SQL: &str = "SELECT t.tag, COUNT(*), SUM(CASE WHEN c.status <> 'solved' THEN 1 ELSE 0 END)
                           FROM case_tags t JOIN cases c ON c.project_key = t.project_key AND c.id = t.case_id
                           WHERE t.project_key = {K} GROUP BY t.tag ORDER BY COUNT(*) DESC, t.tag";
        match self {
            Store::Sqlite(db) => {
                db.read(move |conn| {
                    let mut q = conn.prepare_cached(&SQL.replace("{K}", "?1"))?;
                    let rows = q.query_map(params![key], |r| {
                        Ok(Roadblock { tag: r.get(0)?, cases: r.get(1)?, unsolved: r.get(2)? })
                    })?;
                    rows.collect()
                })
                .await
            }
            Store::Postgres(pg) => {
                let client = pg.client().await?;
                let rows = client.query(&SQL.replace("{K}", "$1"), &[&key]).await?;
                rows.iter()
                    .map(|r| Ok(Roadblock { tag: r.try_get(0)?, cases: r.try_get(1)?, unsolved: r.try_get(2)? }))
                    .collect()
            }
        }
    }

    /// The user's most recently solved case (solved at or after `since`) that
    /// has no CSAT answer yet: what "How did we do?" asks about.
    pub async fn csat_pending(&self, key: String, user_id: String, since: i64) -> Result<Option<Case>, DbError> {
        const SQL: &str = "SELECT {C} FROM cases WHERE project_key = {1} AND user_id = {2} AND status = 'solved'
                           AND csat_score IS NULL AND closed_at >= {3} ORDER BY closed_at DESC, id LIMIT 1";
        match self {
            Store::Sqlite(db) => {
                let sql = SQL
                    .replace("{C}", sqlite::CASE_COLUMNS)
                    .replace("{1}", "?1")
                    .replace("{2}", "?2")
                    .replace("{3}", "?3");
                db.read(move |conn| conn.query_row(&sql, params![key, user_id, since], sqlite::case).optional()).await
            }
            Store::Postgres(pg) => {
                let sql = SQL
                    .replace("{C}", postgres::CASE_COLUMNS)
                    .replace("{1}", "$1")
                    .replace("{2}", "$2")
                    .replace("{3}", "$3");
                let client = pg.client().await?;
                client.query_opt(&sql, &[&key, &user_id, &since]).await?.map(|r| postgres::case(&r)).transpose()
            }
        }
    }

    /// Stores the CSAT answer on the case (the first answer counts) and on its
    /// timeline; `false` if the case is not solved or already has one.
    pub async fn record_csat(&self, key: String, id: String, score: i64, now: i64) -> Result<bool, DbError> {
        let body = score.to_string();
        match self {
            Store::Sqlite(db) => {
                db.write(move |tx| {
                    let n = tx.execute(
                        "UPDATE cases SET csat_score = ?3, csat_at = ?4
                         WHERE project_key = ?1 AND id = ?2 AND status = 'solved' AND csat_score IS NULL",
                        params![key, id, score, now],
                    )?;
                    if n == 1 {
                        tx.execute(TIMELINE_LITE, params![key, id, now, "csat", None::<String>, body, None::<String>])?;
                    }
                    Ok(n == 1)
                })
                .await
            }
            Store::Postgres(pg) => {
                let mut client = pg.client().await?;
                let tx = client.transaction().await?;
                let n = tx
                    .execute(
                        "UPDATE cases SET csat_score = $3, csat_at = $4
                         WHERE project_key = $1 AND id = $2 AND status = 'solved' AND csat_score IS NULL",
                        &[&key, &id, &score, &now],
                    )
                    .await?;
                if n == 1 {
                    tx.execute(TIMELINE_PG, &[&key, &id, &now, &"csat", &None::<String>, &body, &None::<String>])
                        .await?;
                }
                tx.commit().await?;
                Ok(n == 1)
            }
        }
    }
}
