//! Events on Postgres: ingest by group commit (`store::pg_group_commit`), a
//! group of requests in one transaction and a handful of statements whatever
//! its size; reads on the pool.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use touchpoint_protocol::EventStatus;

use crate::store::person_facts::{self, FactRow};
use crate::store::postgres::{stored_event, PgPool, PgStore, EVENT_COLUMNS};
use crate::store::{DbError, EventCase, EventFilter, EventQuery, NewEvent, ResponseDue, StoredActivity, StoredEvent};

use super::{response_and_question, Batch, EventStore};

#[async_trait]
impl EventStore for PgStore {
    /// Through the group commit (`store::pg_group_commit`): stored by [`insert_group`],
    /// possibly in one transaction with other requests.
    async fn insert(
        &self,
        project_key: String,
        received_at: i64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<EventStatus>, DbError> {
        self.insert_batch(Batch { project_key, received_at, events }).await
    }

    async fn list_events(&self, f: EventFilter) -> Result<Vec<StoredEvent>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                     WHERE project_key = $1
                       AND ($2::text IS NULL OR survey_id = $2) AND ($3::text IS NULL OR anonymous_id = $3)
                       AND ($4::text IS NULL OR type = $4)
                     ORDER BY ts, seq LIMIT $5"
                ),
                &[&f.project_key, &f.survey_id, &f.anonymous_id, &f.kind, &i64::from(f.limit)],
            )
            .await?;
        rows.iter().map(stored_event).collect()
    }

    async fn response_events(&self, key: String, response_ids: Vec<String>) -> Result<Vec<StoredEvent>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                     WHERE project_key = $1 AND response_id = ANY($2) AND rejected IS NULL
                     ORDER BY received_at, seq"
                ),
                &[&key, &response_ids],
            )
            .await?;
        rows.iter().map(stored_event).collect()
    }

    async fn server_identifies(&self, key: String, user_id: String) -> Result<Vec<String>, DbError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT body FROM events
                 WHERE project_key = $1 AND user_id = $2 AND type = 'identify' AND source = 'server'
                   AND rejected IS NULL
                 ORDER BY received_at, seq",
                &[&key, &user_id],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn events(&self, q: EventQuery) -> Result<Vec<StoredEvent>, DbError> {
        let client = self.client().await?;
        let (after_ts, after_seq) = q.after.unwrap_or((i64::MIN, i64::MIN));
        let rows = client
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events
                     WHERE project_key = $1
                       AND (cardinality($2::text[]) = 0 OR type = ANY($2))
                       AND ($3::text IS NULL OR survey_id = $3)
                       AND (ts > $4 OR (ts = $4 AND seq > $5))
                       AND ($7 OR rejected IS NULL)
                     ORDER BY ts, seq LIMIT $6"
                ),
                &[&q.project_key, &q.kinds, &q.survey_id, &after_ts, &after_seq, &i64::from(q.limit), &q.with_rejected],
            )
            .await?;
        rows.iter().map(stored_event).collect()
    }

    async fn project_activity(&self, key: String) -> Result<Vec<StoredActivity>, DbError> {
        activity(self, "project_key = $1", &[&key]).await
    }

    async fn user_activity(&self, key: String, user_id: String) -> Result<Vec<StoredActivity>, DbError> {
        activity(
            self,
            "project_key = $1 AND (user_id = $2 OR anonymous_id IN
                (SELECT anonymous_id FROM events WHERE project_key = $1 AND user_id = $2 AND rejected IS NULL))",
            &[&key, &user_id],
        )
        .await
    }

    async fn browser_activity(&self, key: String, anonymous_id: String) -> Result<Vec<StoredActivity>, DbError> {
        activity(self, "project_key = $1 AND anonymous_id = $2", &[&key, &anonymous_id]).await
    }

    async fn latest_scores(&self, key: String, survey_id: String, question_id: String) -> Result<Vec<u8>, DbError> {
        let client = self.client().await?;
        // The stored body is the event's JSON text; a score is a JSON integer.
        let rows = client
            .query(
                "SELECT response_id,
                        CASE WHEN jsonb_typeof(body::jsonb -> 'value') = 'number'
                                  AND (body::jsonb ->> 'value') ~ '^[0-9]{1,3}$'
                             THEN (body::jsonb ->> 'value')::bigint END
                 FROM events
                 WHERE type = 'survey_answered' AND survey_id = $1 AND question_id = $2 AND project_key = $3
                   AND rejected IS NULL
                 ORDER BY received_at, seq",
                &[&survey_id, &question_id, &key],
            )
            .await?;
        Ok(super::latest_scores(rows.iter().map(|row| (row.get(0), row.get(1)))))
    }

    async fn user_facts(&self, key: String, user_id: String) -> Result<Vec<FactRow>, DbError> {
        fact_rows(self, person_facts::USER_ROWS, key, user_id).await
    }

    async fn browser_facts(&self, key: String, anonymous_id: String) -> Result<Vec<FactRow>, DbError> {
        fact_rows(self, person_facts::BROWSER_ROWS, key, anonymous_id).await
    }

    async fn browser_owner(&self, key: String, anonymous_id: String) -> Result<Option<String>, DbError> {
        let client = self.client().await?;
        let sql = person_facts::postgres(person_facts::BROWSER_OWNER);
        let row = client.query_opt(&sql, &[&key, &anonymous_id]).await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn expire_person_facts(&self, key: String, before: i64) -> Result<u64, DbError> {
        let client = self.client().await?;
        Ok(client.execute(&person_facts::postgres(person_facts::EXPIRE), &[&key, &before]).await?)
    }
}

/// Stores a group of requests in one transaction, in a handful of
/// statements whatever their number and size: the events in one multi-row
/// insert, then, per project, what the stored ones add to the queues, the
/// person facts and the accounts worker's change log, each folded to one row
/// per key first. Returns, per request and per event in order, `Accepted` or
/// `Duplicate` (its id was stored before, or earlier in this group), once
/// the transaction committed. A round trip per event and per fact held
/// Postgres to a few thousand events a second, and the same fact row updated
/// once per event of a batch.
///
/// Rows of the shared tables are written project by project, table by
/// table, in key order, as the accounts worker removes its changes: two
/// transactions that lock rows in one order wait for each other but never deadlock.
pub(in crate::store) async fn insert_group(pool: &PgPool, group: &[&Batch]) -> Result<Vec<Vec<EventStatus>>, DbError> {
    let mut client = pool.client().await?;
    let columns = EventColumns::of(group);
    // Optimistic first: most groups repeat no stored id, and a plain insert
    // skips what `ON CONFLICT` costs per row (a lookup in the key before the
    // insert, and a speculative insertion confirmed by a WAL record of its
    // own). If the key refuses a row, nothing was written yet: the group
    // goes again, in a new transaction, through the statement that skips
    // repeats.
    let tx = client.transaction().await?;
    let (tx, stored) = match columns.insert(&tx, INSERT_NEW).await {
        Ok(stored) => (tx, stored),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
            tx.rollback().await?;
            let tx = client.transaction().await?;
            let stored = columns.insert(&tx, INSERT_SKIPPING_REPEATS).await?;
            (tx, stored)
        }
        Err(e) => return Err(e.into()),
    };
    // The first event of each stored id is the one inserted; a repeat of it
    // later in the group is a duplicate, as it would be in a later request.
    let mut fresh: HashMap<(&str, &str), i64> =
        stored.iter().map(|(key, id, seq)| ((key.as_str(), id.as_str()), *seq)).collect();
    let inserted: Vec<Vec<Option<i64>>> = group
        .iter()
        .map(|b| b.events.iter().map(|n| fresh.remove(&(b.project_key.as_str(), n.event.id.as_str()))).collect())
        .collect();

    // Per project (in key order), what its stored events add.
    let mut projects: BTreeMap<&str, (FollowUps, Stored)> = BTreeMap::new();
    for (batch, inserted) in group.iter().zip(&inserted) {
        for (n, seq) in batch.events.iter().zip(inserted) {
            if let (Some(seq), None) = (seq, &n.rejected) {
                let (follow, accepted) = projects.entry(&batch.project_key).or_default();
                follow.add(n, batch.received_at);
                accepted.push((&n.event, (batch.received_at, *seq)));
            }
        }
    }
    for (project_key, (follow, accepted)) in projects {
        follow.write(&tx, project_key).await?;
        crate::store::checklist_progress::ingest_postgres(&tx, project_key, accepted.into_iter()).await?;
    }
    tx.commit().await?;
    Ok(inserted
        .into_iter()
        .map(|statuses| {
            statuses
                .into_iter()
                .map(|i| if i.is_some() { EventStatus::Accepted } else { EventStatus::Duplicate })
                .collect()
        })
        .collect())
}

async fn fact_rows(pg: &PgStore, sql: &str, key: String, who: String) -> Result<Vec<FactRow>, DbError> {
    let client = pg.client().await?;
    let q = client.prepare_cached(&person_facts::postgres(sql)).await?;
    let rows = client.query(&q, &[&key, &who]).await?;
    rows.iter()
        .map(|r| {
            Ok(FactRow {
                kind: r.try_get(0)?,
                item: r.try_get(1)?,
                n: r.try_get(2)?,
                first_ts: r.try_get(3)?,
                last_ts: r.try_get(4)?,
            })
        })
        .collect()
}

/// The activity read of the events `filter` keeps.
pub(in crate::store) fn activity_sql(filter: &str) -> String {
    super::activity_sql(filter, "seq")
}

pub(in crate::store) async fn activity(
    pg: &PgStore,
    filter: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<StoredActivity>, DbError> {
    let client = pg.client().await?;
    let rows = client.query(&activity_sql(filter), params).await?;
    Ok(rows
        .iter()
        .map(|r| StoredActivity {
            anonymous_id: r.get(0),
            user_id: r.get(1),
            ts: r.get(2),
            received_at: r.get(3),
            body: r.get(4),
        })
        .collect())
}

/// The insert both statements below share: the group's events, one row per
/// element of the column arrays (a macro, so the statements stay constants).
macro_rules! insert_events {
    () => {
        "INSERT INTO events (id, project_key, type, ts, received_at, anonymous_id, user_id,
                             survey_id, response_id, question_id, url, body, rejected, ts_flag, source)
         SELECT id, project_key, type, ts, received_at, anonymous_id, user_id, survey_id, response_id,
                question_id, url, body, rejected, ts_flag, source
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                     $15::text[])
              AS e(project_key, received_at, id, type, ts, anonymous_id, user_id, survey_id, response_id,
                   question_id, url, body, rejected, ts_flag, source)"
    };
}

/// Stores every row and returns `(project_key, id, seq)` of each; a
/// repeated `(project_key, id)` fails the statement with a unique violation.
const INSERT_NEW: &str = concat!(insert_events!(), " RETURNING project_key, id, seq");

/// As [`INSERT_NEW`], but a row whose `(project_key, id)` is stored already,
/// or comes earlier in the arrays, is skipped (and not returned).
const INSERT_SKIPPING_REPEATS: &str =
    concat!(insert_events!(), " ON CONFLICT (project_key, id) DO NOTHING RETURNING project_key, id, seq");

/// A group's events as one array per column, for `UNNEST`.
struct EventColumns<'a> {
    project_key: Vec<&'a str>,
    received_at: Vec<i64>,
    id: Vec<&'a str>,
    kind: Vec<&'a str>,
    ts: Vec<i64>,
    anonymous_id: Vec<&'a str>,
    user_id: Vec<Option<&'a str>>,
    survey_id: Vec<Option<&'a str>>,
    response_id: Vec<Option<&'a str>>,
    question_id: Vec<Option<&'a str>>,
    url: Vec<&'a str>,
    body: Vec<&'a str>,
    rejected: Vec<Option<&'a str>>,
    ts_flag: Vec<Option<&'a str>>,
    source: Vec<&'a str>,
}

impl<'a> EventColumns<'a> {
    /// Runs `sql` ([`INSERT_NEW`] or [`INSERT_SKIPPING_REPEATS`]) on these columns.
    async fn insert(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        sql: &str,
    ) -> Result<Vec<(String, String, i64)>, tokio_postgres::Error> {
        let insert = tx.prepare_cached(sql).await?;
        let rows = tx
            .query(
                &insert,
                &[
                    &self.project_key,
                    &self.received_at,
                    &self.id,
                    &self.kind,
                    &self.ts,
                    &self.anonymous_id,
                    &self.user_id,
                    &self.survey_id,
                    &self.response_id,
                    &self.question_id,
                    &self.url,
                    &self.body,
                    &self.rejected,
                    &self.ts_flag,
                    &self.source,
                ],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    fn of(group: &[&'a Batch]) -> EventColumns<'a> {
        let n = group.iter().map(|b| b.events.len()).sum();
        let mut c = EventColumns {
            project_key: Vec::with_capacity(n),
            received_at: Vec::with_capacity(n),
            id: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            anonymous_id: Vec::with_capacity(n),
            user_id: Vec::with_capacity(n),
            survey_id: Vec::with_capacity(n),
            response_id: Vec::with_capacity(n),
            question_id: Vec::with_capacity(n),
            url: Vec::with_capacity(n),
            body: Vec::with_capacity(n),
            rejected: Vec::with_capacity(n),
            ts_flag: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
        };
        for batch in group {
            for n in &batch.events {
                let e = &n.event;
                let (response_id, question_id) = response_and_question(&e.kind);
                c.project_key.push(&batch.project_key);
                c.received_at.push(batch.received_at);
                c.id.push(&e.id);
                c.kind.push(e.kind.name());
                c.ts.push(e.ts);
                c.anonymous_id.push(&e.anonymous_id);
                c.user_id.push(e.user_id.as_deref());
                c.survey_id.push(e.kind.survey_id());
                c.response_id.push(response_id);
                c.question_id.push(question_id);
                c.url.push(&e.url);
                c.body.push(&n.body);
                c.rejected.push(n.rejected.as_deref());
                c.ts_flag.push(n.ts_flag.as_deref());
                c.source.push(n.source.as_str());
            }
        }
        c
    }
}

/// A project's stored (not rejected) events, each with its `(received_at, seq)`.
type Stored<'a> = Vec<(&'a touchpoint_protocol::Event, (i64, i64))>;

/// `(browser, user or '', kind, item)` → count, first and last `ts`, last arrival.
type FactSums<'a> = BTreeMap<(&'a str, &'a str, &'static str, String), (i64, i64, i64, i64)>;

/// What one project's stored events of a group add beside themselves,
/// folded per key (in `BTreeMap`s, so rows are written in key order).
#[derive(Default)]
struct FollowUps<'a> {
    /// Events some automation rule listens to, and when they arrived.
    queued: Vec<(&'a str, i64)>,
    /// `(response, survey)` and the due time, in the batch's order: a close
    /// and an answer move the due time in opposite directions.
    responses: Vec<(&'a str, &'a str, ResponseDue)>,
    facts: FactSums<'a>,
    /// Browser → the first user seen on it in this batch.
    owners: BTreeMap<&'a str, &'a str>,
    /// `(kind, subject)` the accounts worker is to look at.
    marks: BTreeSet<(&'static str, String)>,
    cases: Vec<(&'a touchpoint_protocol::Event, &'a EventCase, i64)>,
}

impl<'a> FollowUps<'a> {
    fn add(&mut self, n: &'a NewEvent, received_at: i64) {
        let e = &n.event;
        if n.automate {
            self.queued.push((&e.id, received_at));
        }
        let (response_id, _) = response_and_question(&e.kind);
        if let (Some(due), Some(response_id), Some(survey_id)) = (n.response_due, response_id, e.kind.survey_id()) {
            self.responses.push((response_id, survey_id, due));
        }
        let user = e.user_id.as_deref().unwrap_or_default();
        for (kind, item) in person_facts::items(e) {
            let fact = self.facts.entry((&e.anonymous_id, user, kind, item)).or_insert((0, e.ts, e.ts, received_at));
            *fact = (fact.0 + 1, fact.1.min(e.ts), fact.2.max(e.ts), fact.3.max(received_at));
        }
        if let Some(user) = &e.user_id {
            self.owners.entry(&e.anonymous_id).or_insert(user);
        }
        if n.account_marks {
            self.marks.extend(crate::store::account_changes::marks(e));
        }
        if let Some(c) = &n.opens_case {
            self.cases.push((e, c, received_at));
        }
    }

    async fn write(self, tx: &deadpool_postgres::Transaction<'_>, project_key: &str) -> Result<(), DbError> {
        if !self.queued.is_empty() {
            let mut queued = self.queued;
            queued.sort_unstable();
            let enqueue = tx
                .prepare_cached(
                    "INSERT INTO automation_queue (event_id, project_key, enqueued_at)
                     SELECT id, $1, at FROM UNNEST($2::text[], $3::bigint[]) AS q(id, at)
                     ON CONFLICT (project_key, event_id) DO NOTHING",
                )
                .await?;
            let (ids, at): (Vec<&str>, Vec<i64>) = queued.into_iter().unzip();
            tx.execute(&enqueue, &[&project_key, &ids, &at]).await?;
        }
        if !self.responses.is_empty() {
            // A close makes the response due at once; an answer moves a quiet time on.
            let closes = tx
                .prepare_cached(
                    "INSERT INTO response_queue (project_key, response_id, survey_id, due_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (project_key, response_id)
                     DO UPDATE SET due_at = LEAST(response_queue.due_at, EXCLUDED.due_at)",
                )
                .await?;
            let answered = tx
                .prepare_cached(
                    "INSERT INTO response_queue (project_key, response_id, survey_id, due_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (project_key, response_id)
                     DO UPDATE SET due_at = GREATEST(response_queue.due_at, EXCLUDED.due_at)",
                )
                .await?;
            for (response_id, survey_id, due) in &self.responses {
                let upsert = if due.closes { &closes } else { &answered };
                tx.execute(upsert, &[&project_key, response_id, survey_id, &due.at]).await?;
            }
        }
        if !self.facts.is_empty() {
            let add = tx.prepare_cached(person_facts::ADD_MANY_POSTGRES).await?;
            let (mut browsers, mut users, mut kinds, mut items) = (vec![], vec![], vec![], vec![]);
            let (mut counts, mut firsts, mut lasts, mut arrivals) = (vec![], vec![], vec![], vec![]);
            for ((browser, user, kind, item), (n, first, last, arrived)) in &self.facts {
                browsers.push(*browser);
                users.push(*user);
                kinds.push(*kind);
                items.push(item.as_str());
                counts.push(*n);
                firsts.push(*first);
                lasts.push(*last);
                arrivals.push(*arrived);
            }
            tx.execute(&add, &[&project_key, &browsers, &users, &kinds, &items, &counts, &firsts, &lasts, &arrivals])
                .await?;
        }
        if !self.owners.is_empty() {
            let own = tx.prepare_cached(person_facts::OWN_MANY_POSTGRES).await?;
            let (browsers, users): (Vec<&str>, Vec<&str>) = self.owners.into_iter().unzip();
            tx.execute(&own, &[&project_key, &browsers, &users]).await?;
        }
        if !self.marks.is_empty() {
            let mark = tx
                .prepare_cached(
                    "INSERT INTO accounts_dirty (project_key, kind, subject, version)
                     SELECT $1, kind, subject, 1 FROM UNNEST($2::text[], $3::text[]) AS m(kind, subject)
                     ON CONFLICT (project_key, kind, subject) DO UPDATE SET version = accounts_dirty.version + 1",
                )
                .await?;
            let (kinds, subjects): (Vec<&str>, Vec<&str>) = self.marks.iter().map(|(k, s)| (*k, s.as_str())).unzip();
            tx.execute(&mark, &[&project_key, &kinds, &subjects]).await?;
        }
        if !self.cases.is_empty() {
            let open_case = tx
                .prepare_cached(
                    "INSERT INTO cases (id, project_key, rule_id, trigger_id, title, user_id, anonymous_id, detail,
                                        status, created_at, closed_at, note)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, NULL, NULL)
                     ON CONFLICT (project_key, id) DO NOTHING",
                )
                .await?;
            for (e, c, received_at) in &self.cases {
                tx.execute(
                    &open_case,
                    &[
                        &c.id,
                        &project_key,
                        &c.rule_id,
                        &e.id,
                        &c.title,
                        &e.user_id,
                        &e.anonymous_id,
                        &c.detail,
                        received_at,
                    ],
                )
                .await?;
            }
        }
        Ok(())
    }
}
