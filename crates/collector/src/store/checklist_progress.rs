//! What one person's checklist state is replayed from, kept up to date at
//! ingest, so that `/v1/checklists/state` replays a bounded set of events
//! however long their history.
//!
//! **Why a subset replays the same.** In arrival order, only these events
//! can change what `crate::checklists::replay` returns: per item rule (an
//! item's `complete_when`), the first `count` events that match it (a later
//! match is capped, or lands on a completed item); the first manual
//! completion of each item and the first dismissal of each checklist; the
//! first `identify` (the person is identified); and, per trait, the last
//! event that set it (traits merge, later wins). Every other event leaves
//! the replay's state as it was, so replaying only these gives the same
//! segment, progress and dismissal. The rows here point at those events:
//! `checklist_marks` per rule, `checklist_moments` for the rest, both per
//! `(user or '', browser)` like `person_facts`, so a person is their own
//! rows plus the anonymous rows of the browsers they own.
//!
//! **Rules are indexed, then kept.** Which events match a rule depends on the
//! definition, which a publish can change. `checklist_rules` lists the rules
//! (and `""`, the moments) whose rows cover every stored event of a project:
//! a rule is backfilled from the stored events the first time a read needs
//! it ([`Store::ensure_checklist_index`]), and from then on ingest marks
//! every listed rule in the transaction that stores the event. On Postgres
//! the backfill holds `events` in `SHARE` mode, and ingest reads the list
//! after inserting its events, so an event is either seen by the backfill
//! or marked by its own transaction, whatever the replica.
//!
//! **Account-level items** merge the members' events by `ts`, and say who
//! did how much: for them a rule is also indexed as `ts:<rule>` (the first
//! matches by `ts`, and `checklist_counts` of all matches), with each
//! member's latest `group` and manual completions (count, earliest `ts`)
//! under the `accounts` entry ([`AccountPart`], `crate::checklists::account_progress`).
//! Counts are added, not upserted to a value, so ingest counts only what is
//! indexed, and the backfill locks out ingest and other backfills.
//!
//! **Positions, not counts.** Rows keep the event's arrival position
//! `(received_at, seq)` and a mark is written only while fewer than `count`
//! marks precede it, so two transactions committing out of order keep the
//! right first `count` (at worst a spare row, which the replay ignores).
//! Retention deletes events under the marks; a read that finds a marked
//! event gone replays the whole history instead.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use touchpoint_core::checklist::{ChecklistSet, CompleteWhen, Predicate, Trigger};
use touchpoint_protocol::{Event, EventKind};

use super::{DbError, Store, StoredActivity};

mod postgres;
mod sqlite;

/// The entry of `checklist_rules` that says the moments are indexed.
const MOMENTS: &str = "";

/// The event types whose rows can matter (the backfill reads only these).
const TYPES: &str = "'track', 'identify', 'group', 'checklist_item_completed', 'checklist_dismissed'";

/// An item's event rule, known by its canonical JSON.
#[derive(Debug)]
pub struct Rule {
    pub key: String,
    event: String,
    where_: Vec<Predicate>,
    count: u32,
    /// An account-level item's rule (key `ts:<rule>`): the first matches by
    /// the client's `ts` (the order an account's tally merges its users' events
    /// in), and how many match in all.
    by_ts: bool,
}

impl Rule {
    fn matches(&self, name: &str, props: &Map<String, Value>) -> bool {
        name == self.event && self.where_.iter().all(|p| p.ops.iter().all(|op| op.holds(props.get(&p.key))))
    }

    /// Parses a rule key, once per process (core's validation, through a
    /// one-item checklist); `None` for a key no definition could have made.
    fn parse(key: &str) -> Option<Arc<Rule>> {
        static PARSED: OnceLock<Mutex<HashMap<String, Option<Arc<Rule>>>>> = OnceLock::new();
        let cache = PARSED.get_or_init(Default::default);
        if let Some(rule) = cache.lock().unwrap_or_else(PoisonError::into_inner).get(key) {
            return rule.clone();
        }
        let (by_ts, json) = match key.strip_prefix(BY_TS) {
            Some(rest) => (true, rest),
            None => (false, key),
        };
        let rule = serde_json::from_str::<Value>(json).ok().and_then(|complete_when| {
            let one = json!({
                "segments": [{"id": "s", "checklist": "c"}],
                "checklists": [{"id": "c", "title": "t", "items": [{"id": "i", "title": "t", "complete_when": complete_when}]}]
            });
            let set = ChecklistSet::from_value(&one).ok()?;
            match &set.checklists()[0].items[0].complete_when {
                CompleteWhen::Event { event, where_, count } => {
                    let (event, where_, count) = (event.clone(), where_.clone(), *count);
                    Some(Arc::new(Rule { key: key.to_owned(), event, where_, count, by_ts }))
                }
                CompleteWhen::Manual => None,
            }
        });
        cache.lock().unwrap_or_else(PoisonError::into_inner).insert(key.to_owned(), rule.clone());
        rule
    }
}

/// The index entries a checklists definition (valid JSON) needs: each event
/// rule's `complete_when` as serde_json writes it, `ts:` before it too for
/// an account-level item's, and [`ACCOUNTS`] if it has account-level items.
pub fn rule_keys(definition: &str) -> Vec<String> {
    let Ok(raw) = serde_json::from_str::<Value>(definition) else { return Vec::new() };
    let mut keys = BTreeSet::new();
    for checklist in raw["checklists"].as_array().into_iter().flatten() {
        for item in checklist["items"].as_array().into_iter().flatten() {
            let account = item["scope"] == "account";
            if account {
                keys.insert(ACCOUNTS.to_owned());
            }
            if item["complete_when"].is_object() {
                let rule = item["complete_when"].to_string();
                if account {
                    keys.insert(by_ts(&rule));
                }
                keys.insert(rule);
            }
        }
    }
    keys.into_iter().collect()
}

/// Per `(checklist, item)` with an event rule, its rule key.
pub fn item_rules(definition: &str) -> BTreeMap<(String, String), String> {
    let Ok(raw) = serde_json::from_str::<Value>(definition) else { return BTreeMap::new() };
    let mut out = BTreeMap::new();
    for checklist in raw["checklists"].as_array().into_iter().flatten() {
        for item in checklist["items"].as_array().into_iter().flatten() {
            if let (Some(c), Some(i), true) =
                (checklist["id"].as_str(), item["id"].as_str(), item["complete_when"].is_object())
            {
                out.insert((c.to_owned(), i.to_owned()), item["complete_when"].to_string());
            }
        }
    }
    out
}

/// The key of an account-level item's rule.
pub fn by_ts(rule: &str) -> String {
    format!("{BY_TS}{rule}")
}

/// The key prefix of an account-level item's rule.
const BY_TS: &str = "ts:";
/// The index entry of what account tallies read besides rules: memberships,
/// and manual completions with their count and earliest `ts`.
pub const ACCOUNTS: &str = "accounts";

/// Where an event arrived: what "first" and "last" are decided by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct At {
    received_at: i64,
    seq: i64,
    event_id: String,
}

/// Whether the earliest or the latest event of a moment decides.
fn latest_wins(kind: &str) -> bool {
    kind == "trait" || kind == "group"
}

/// Which parts of the index an event is added to.
#[derive(Debug, Clone, Copy)]
pub(super) struct Parts {
    /// What a person's own replay reads ([`moments`]).
    pub moments: bool,
    /// Memberships (`group`, last per account) and the earliest manual
    /// completion by `ts` (`manual_ts`): idempotent, so ingest always writes them.
    pub account_moments: bool,
    /// How many manual completions: only where the [`ACCOUNTS`] entry is indexed,
    /// since a count added twice is wrong.
    pub manual_counts: bool,
}

impl Parts {
    const ALL: Parts = Parts { moments: true, account_moments: true, manual_counts: true };
}

fn manual_key(e: &Event) -> Option<String> {
    match &e.kind {
        EventKind::ChecklistItemCompleted { checklist_id, item_id, rule } if *rule == Trigger::Manual.to_string() => {
            Some(format!("{checklist_id}\u{1f}{item_id}"))
        }
        _ => None,
    }
}

/// The moments an event is: `(kind, key)`.
fn moments(e: &Event) -> Vec<(&'static str, String)> {
    match &e.kind {
        EventKind::Identify { traits } => {
            let mut out = vec![("identify", String::new())];
            out.extend(traits.keys().map(|k| ("trait", k.clone())));
            out
        }
        // The replay reads a group's traits as `account.<trait>`.
        EventKind::Group { traits, .. } => traits.keys().map(|k| ("trait", format!("account.{k}"))).collect(),
        EventKind::ChecklistItemCompleted { .. } => manual_key(e).map(|k| ("manual", k)).into_iter().collect(),
        EventKind::ChecklistDismissed { checklist_id } => vec![("dismissed", checklist_id.clone())],
        _ => Vec::new(),
    }
}

/// `(user or '', browser, kind, key)`.
type MomentKey = (String, String, &'static str, String);
/// `(user or '', browser, rule)`.
type MarkKey = (String, String, Arc<str>);

/// What stored events add, folded per row (in `BTreeMap`s, so Postgres
/// writes rows in key order, as ingest does everywhere, against deadlocks).
#[derive(Default)]
pub(super) struct Fold {
    moments: BTreeMap<MomentKey, At>,
    /// The first matches in arrival order (by `ts` for `ts:` rules), at most the rule's count.
    marks: BTreeMap<MarkKey, (u32, Vec<At>)>,
    /// `(user or '', browser, key)` → how many: `ts:` rules' matches, `manual\u{1f}<checklist>\u{1f}<item>`.
    counts: BTreeMap<(String, String, String), i64>,
}

impl Fold {
    /// Adds a stored, accepted event to the `parts` asked for, and its match of each of `rules`.
    pub(super) fn add(&mut self, rules: &[Arc<Rule>], parts: Parts, e: &Event, at: (i64, i64)) {
        let arrived = At { received_at: at.0, seq: at.1, event_id: e.id.clone() };
        // For what an account's tally orders by the client's clock, `received_at` holds the `ts`.
        let by_ts = At { received_at: e.ts, seq: at.1, event_id: e.id.clone() };
        let user = e.user_id.clone().unwrap_or_default();
        if parts.moments {
            for (kind, key) in moments(e) {
                self.moment(&user, &e.anonymous_id, kind, key, &arrived);
            }
        }
        if parts.account_moments {
            if let EventKind::Group { account_id, .. } = &e.kind {
                self.moment(&user, &e.anonymous_id, "group", account_id.clone(), &arrived);
            }
            if let Some(key) = manual_key(e) {
                self.moment(&user, &e.anonymous_id, "manual_ts", key, &by_ts);
            }
        }
        if let (true, Some(key)) = (parts.manual_counts, manual_key(e)) {
            *self.counts.entry((user.clone(), e.anonymous_id.clone(), format!("manual\u{1f}{key}"))).or_default() += 1;
        }
        if let EventKind::Track { name, props } = &e.kind {
            for rule in rules.iter().filter(|r| r.matches(name, props)) {
                let at = if rule.by_ts { &by_ts } else { &arrived };
                if rule.by_ts {
                    *self.counts.entry((user.clone(), e.anonymous_id.clone(), rule.key.clone())).or_default() += 1;
                }
                let key = (user.clone(), e.anonymous_id.clone(), Arc::from(rule.key.as_str()));
                let (_, first) = self.marks.entry(key).or_insert((rule.count, Vec::new()));
                let i = first.partition_point(|a| a < at);
                if i < rule.count as usize {
                    first.insert(i, at.clone());
                    first.truncate(rule.count as usize);
                }
            }
        }
    }

    fn moment(&mut self, user: &str, browser: &str, kind: &'static str, key: String, at: &At) {
        let slot = self.moments.entry((user.to_owned(), browser.to_owned(), kind, key)).or_insert(at.clone());
        if (*at > *slot) == latest_wins(kind) {
            *slot = at.clone();
        }
    }

    fn is_empty(&self) -> bool {
        self.moments.is_empty() && self.marks.is_empty() && self.counts.is_empty()
    }
}

/// A moment replaces the stored one only if it decides instead (earlier, or later for traits).
const MOMENT: &str =
    "INSERT INTO checklist_moments (project_key, user_id, anonymous_id, kind, key, received_at, seq, event_id)
     VALUES ({1}, {2}, {3}, {4}, {5}, {6}, {7}, {8})
     ON CONFLICT (project_key, user_id, anonymous_id, kind, key) DO UPDATE
       SET received_at = excluded.received_at, seq = excluded.seq, event_id = excluded.event_id
     WHERE CASE WHEN checklist_moments.kind IN ('trait', 'group')
                THEN (excluded.received_at, excluded.seq) > (checklist_moments.received_at, checklist_moments.seq)
                ELSE (excluded.received_at, excluded.seq) < (checklist_moments.received_at, checklist_moments.seq) END";
/// A mark is written only while fewer than the rule's count precede it.
const MARK: &str = "INSERT INTO checklist_marks (project_key, user_id, anonymous_id, rule, received_at, seq, event_id)
     SELECT {1}, {2}, {3}, {4}, {5}, {6}, {7}
     WHERE (SELECT COUNT(*) FROM checklist_marks
            WHERE project_key = {1} AND user_id = {2} AND anonymous_id = {3} AND rule = {4}
              AND (received_at, seq) < ({5}, {6})) < {8}
     ON CONFLICT DO NOTHING";

const COUNT: &str =
    "INSERT INTO checklist_counts (project_key, user_id, anonymous_id, key, n) VALUES ({1}, {2}, {3}, {4}, {5})
     ON CONFLICT (project_key, user_id, anonymous_id, key) DO UPDATE SET n = checklist_counts.n + excluded.n";

/// `{n}` parameters; `{+}` is SQLite's unary plus, which keeps its planner on
/// the person's rows (the primary key) rather than every row of a kind.
fn sqlite(sql: &str) -> String {
    (1..=8).rev().fold(sql.replace("{+}", "+"), |s, i| s.replace(&format!("{{{i}}}"), &format!("?{i}")))
}

fn postgres(sql: &str) -> String {
    (1..=8).rev().fold(sql.replace("{+}", ""), |s, i| s.replace(&format!("{{{i}}}"), &format!("${i}")))
}

/// The indexed rules of a project, parsed (not the moments' entry).
fn parsed(keys: Vec<String>) -> Vec<Arc<Rule>> {
    keys.iter().filter(|k| ![MOMENTS, ACCOUNTS].contains(&k.as_str())).filter_map(|k| Rule::parse(k)).collect()
}

const INDEXED: &str = "SELECT rule FROM checklist_rules WHERE project_key = {1}";

/// What ingest adds to: the indexed rules, and all parts but the manual
/// counts before the accounts' entry is indexed (the backfill counts those).
pub(super) struct Indexed {
    rules: Vec<Arc<Rule>>,
    parts: Parts,
}

impl Indexed {
    fn of(keys: Vec<String>) -> Indexed {
        let parts = Parts { manual_counts: keys.iter().any(|k| k == ACCOUNTS), ..Parts::ALL };
        Indexed { rules: parsed(keys), parts }
    }

    pub(super) fn add(&self, fold: &mut Fold, e: &Event, at: (i64, i64)) {
        fold.add(&self.rules, self.parts, e, at);
    }
}

/// For ingest on SQLite (in its transaction).
pub(super) fn indexed_sqlite(tx: &rusqlite::Connection, key: &str) -> rusqlite::Result<Indexed> {
    let mut q = tx.prepare_cached(&sqlite(INDEXED))?;
    let keys = q.query_map([key], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(Indexed::of(keys))
}

pub(super) fn write_sqlite(tx: &rusqlite::Connection, key: &str, fold: Fold) -> rusqlite::Result<()> {
    if fold.is_empty() {
        return Ok(());
    }
    let mut moment = tx.prepare_cached(&sqlite(MOMENT))?;
    for ((user, browser, kind, k), at) in &fold.moments {
        moment.execute(rusqlite::params![key, user, browser, kind, k, at.received_at, at.seq, at.event_id])?;
    }
    let mut mark = tx.prepare_cached(&sqlite(MARK))?;
    for ((user, browser, rule), (count, first)) in &fold.marks {
        for at in first {
            let rule: &str = rule;
            mark.execute(rusqlite::params![key, user, browser, rule, at.received_at, at.seq, at.event_id, count])?;
        }
    }
    let mut count = tx.prepare_cached(&sqlite(COUNT))?;
    for ((user, browser, k), n) in &fold.counts {
        count.execute(rusqlite::params![key, user, browser, k, n])?;
    }
    Ok(())
}

/// For ingest on Postgres, after its events are inserted (see the module
/// docs): marks the `stored` events, each with its `(received_at, seq)`.
pub(super) async fn ingest_postgres<'e>(
    tx: &deadpool_postgres::Transaction<'_>,
    key: &str,
    stored: impl Iterator<Item = (&'e Event, (i64, i64))>,
) -> Result<(), DbError> {
    let q = tx.prepare_cached(&postgres(INDEXED)).await?;
    let indexed = Indexed::of(tx.query(&q, &[&key]).await?.iter().map(|r| r.get(0)).collect());
    let mut fold = Fold::default();
    for (e, at) in stored {
        indexed.add(&mut fold, e, at);
    }
    write_postgres(tx, key, fold).await
}

async fn write_postgres(tx: &deadpool_postgres::Transaction<'_>, key: &str, fold: Fold) -> Result<(), DbError> {
    if !fold.moments.is_empty() {
        let sql = postgres(
            &MOMENT
                .replace("VALUES ({1}, {2}, {3}, {4}, {5}, {6}, {7}, {8})", "SELECT {1}, u, b, k, m, r, s, e FROM UNNEST({2}::text[], {3}::text[], {4}::text[], {5}::text[], {6}::bigint[], {7}::bigint[], {8}::text[]) AS f(u, b, k, m, r, s, e)"),
        );
        let q = tx.prepare_cached(&sql).await?;
        let (mut users, mut browsers, mut kinds, mut keys) = (vec![], vec![], vec![], vec![]);
        let (mut arrivals, mut seqs, mut ids) = (vec![], vec![], vec![]);
        for ((user, browser, kind, k), at) in &fold.moments {
            users.push(user.as_str());
            browsers.push(browser.as_str());
            kinds.push(*kind);
            keys.push(k.as_str());
            arrivals.push(at.received_at);
            seqs.push(at.seq);
            ids.push(at.event_id.as_str());
        }
        tx.execute(&q, &[&key, &users, &browsers, &kinds, &keys, &arrivals, &seqs, &ids]).await?;
    }
    if !fold.marks.is_empty() {
        let sql = "INSERT INTO checklist_marks (project_key, user_id, anonymous_id, rule, received_at, seq, event_id)
             SELECT $1, f.u, f.b, f.rule, f.r, f.s, f.e
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::bigint[])
                  AS f(u, b, rule, r, s, e, n)
             WHERE (SELECT COUNT(*) FROM checklist_marks c
                    WHERE c.project_key = $1 AND c.user_id = f.u AND c.anonymous_id = f.b AND c.rule = f.rule
                      AND (c.received_at, c.seq) < (f.r, f.s)) < f.n
             ON CONFLICT DO NOTHING";
        let q = tx.prepare_cached(sql).await?;
        let (mut users, mut browsers, mut rules, mut arrivals) = (vec![], vec![], vec![], vec![]);
        let (mut seqs, mut ids, mut counts) = (vec![], vec![], vec![]);
        for ((user, browser, rule), (count, first)) in &fold.marks {
            for at in first {
                users.push(user.as_str());
                browsers.push(browser.as_str());
                rules.push(&**rule);
                arrivals.push(at.received_at);
                seqs.push(at.seq);
                ids.push(at.event_id.as_str());
                counts.push(i64::from(*count));
            }
        }
        tx.execute(&q, &[&key, &users, &browsers, &rules, &arrivals, &seqs, &ids, &counts]).await?;
    }
    if !fold.counts.is_empty() {
        let q = tx
            .prepare_cached(
                "INSERT INTO checklist_counts (project_key, user_id, anonymous_id, key, n)
                 SELECT $1, u, b, k, n FROM UNNEST($2::text[], $3::text[], $4::text[], $5::bigint[]) AS f(u, b, k, n)
                 ON CONFLICT (project_key, user_id, anonymous_id, key) DO UPDATE SET n = checklist_counts.n + EXCLUDED.n",
            )
            .await?;
        let mut cols: (Vec<&str>, Vec<&str>, Vec<&str>, Vec<i64>) = Default::default();
        for ((user, browser, k), n) in &fold.counts {
            cols.0.push(user);
            cols.1.push(browser);
            cols.2.push(k);
            cols.3.push(*n);
        }
        tx.execute(&q, &[&key, &cols.0, &cols.1, &cols.2, &cols.3]).await?;
    }
    Ok(())
}

/// Whose checklist rows to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressOf {
    /// An identified user: their rows and the anonymous rows of the browsers they own.
    User(String),
    /// A browser nobody was identified on.
    Browser(String),
}

/// The events a person's rows point at, `{1}` the project, `{2}` who.
const USER_EVENTS: &str = "SELECT event_id FROM checklist_marks WHERE project_key = {1} AND user_id = {2}
     UNION SELECT event_id FROM checklist_moments WHERE project_key = {1} AND user_id = {2}
     UNION SELECT event_id FROM checklist_marks WHERE project_key = {1} AND user_id = '' AND anonymous_id IN
       (SELECT anonymous_id FROM browser_owners WHERE project_key = {1} AND user_id = {2})
     UNION SELECT event_id FROM checklist_moments WHERE project_key = {1} AND user_id = '' AND anonymous_id IN
       (SELECT anonymous_id FROM browser_owners WHERE project_key = {1} AND user_id = {2})";
const BROWSER_EVENTS: &str =
    "SELECT event_id FROM checklist_marks WHERE project_key = {1} AND user_id = '' AND anonymous_id = {2}
     UNION SELECT event_id FROM checklist_moments WHERE project_key = {1} AND user_id = '' AND anonymous_id = {2}";

/// Where the checklist pointers are kept, per database (`sqlite.rs`, `postgres.rs`).
#[async_trait]
pub trait ChecklistProgressStore: Send + Sync {
    /// The rules (and the moments) indexed for the project.
    async fn indexed_rules(&self, project_key: String) -> Result<BTreeSet<String>, DbError>;

    /// Indexes what of `wanted` is not yet, from the project's stored events,
    /// in one transaction that looks again at what is indexed.
    async fn backfill_checklist_rules(
        &self,
        project_key: String,
        wanted: BTreeSet<String>,
        now: i64,
    ) -> Result<(), DbError>;

    /// The events `pointers` (`USER_EVENTS` or `BROWSER_EVENTS`) name for
    /// `who`, in arrival order, and how many it named.
    async fn pointed_activity(
        &self,
        project_key: String,
        pointers: &'static str,
        who: String,
    ) -> Result<(usize, Vec<StoredActivity>), DbError>;

    /// The users a stored `group` named `account` for (who may have moved on since).
    async fn grouped_into(&self, project_key: String, account: String) -> Result<Vec<String>, DbError>;

    /// What `user`'s rows add to their account's tally (see [`AccountPart`]).
    async fn account_part(&self, project_key: String, user: String) -> Result<AccountPart, DbError>;
}

/// What a backfill reads and adds for the rules `missing`, given what is `indexed`.
pub(super) fn backfill_plan(indexed: &BTreeSet<String>, missing: Vec<String>) -> (Vec<Arc<Rule>>, Parts) {
    let parts = Parts {
        moments: !indexed.contains(MOMENTS),
        account_moments: !indexed.contains(ACCOUNTS),
        manual_counts: !indexed.contains(ACCOUNTS),
    };
    (parsed(missing), parts)
}

impl Store {
    /// Makes sure every rule of `rules` (and the moments) is indexed for the
    /// project, backfilling from its stored events what is not: a read when
    /// all are, one pass over the project's events the first time.
    pub async fn ensure_checklist_index(&self, project_key: String, rules: Vec<String>) -> Result<(), DbError> {
        let wanted: BTreeSet<String> = rules.into_iter().chain([MOMENTS.to_owned()]).collect();
        let indexed = self.indexed_rules(project_key.clone()).await?;
        if wanted.is_subset(&indexed) {
            return Ok(());
        }
        self.backfill_checklist_rules(project_key, wanted, crate::now_ms()).await
    }

    /// The events that decide `who`'s checklist state, in arrival order; `None`
    /// if one of them is no longer stored (retention), when only the whole
    /// history says. Call [`Store::ensure_checklist_index`] first.
    pub async fn checklist_activity(
        &self,
        project_key: String,
        who: ProgressOf,
    ) -> Result<Option<Vec<StoredActivity>>, DbError> {
        let (pointers, who) = match who {
            ProgressOf::User(user) => (USER_EVENTS, user),
            ProgressOf::Browser(browser) => (BROWSER_EVENTS, browser),
        };
        let (pointed, rows) = self.pointed_activity(project_key, pointers, who).await?;
        Ok((rows.len() == pointed).then_some(rows))
    }
}

/// What an account's tally reads of one user: from their own rows and the
/// anonymous rows of the browsers they own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountPart {
    /// Per `ts:` rule, the `ts` of its first matches by `ts`, ascending, at most its count.
    pub first_ts: BTreeMap<String, Vec<i64>>,
    /// Per `ts:` rule and per `manual\u{1f}<checklist>\u{1f}<item>`: how many events.
    pub counts: BTreeMap<String, i64>,
    /// Per `<checklist>\u{1f}<item>`: the earliest `ts` of a manual completion.
    pub manual_ts: BTreeMap<String, i64>,
    /// The account their latest `group` (by arrival) named, if they sent one
    /// identified (as the replay's members are found: one sent before
    /// `identify` only counts beside one).
    pub account: Option<String>,
    /// Every account an identified `group` of theirs named.
    pub ever: BTreeSet<String>,
}

/// `{1}` the project, `{2}` the user: their rows of `table`, own and of the browsers they own.
fn user_rows(columns: &str, table: &str, filter: &str) -> String {
    format!(
        "SELECT {columns} FROM {table} WHERE project_key = {{1}} AND user_id = {{2}} AND {filter}
         UNION ALL SELECT {columns} FROM {table} WHERE project_key = {{1}} AND user_id = '' AND {filter} AND anonymous_id IN
           (SELECT anonymous_id FROM browser_owners WHERE project_key = {{1}} AND user_id = {{2}})"
    )
}

/// The three reads of [`ChecklistProgressStore::account_part`]: marks, counts, moments.
fn account_part_queries() -> [String; 3] {
    [
        user_rows("rule, received_at", "checklist_marks", "rule LIKE 'ts:%'"),
        user_rows("key, n", "checklist_counts", "1 = 1"),
        user_rows("kind, key, received_at, seq, user_id", "checklist_moments", "{+}kind IN ('group', 'manual_ts')"),
    ]
}

const GROUPED_INTO: &str = "SELECT user_id FROM checklist_moments
     WHERE project_key = {1} AND kind = 'group' AND key = {2} AND user_id <> ''";

impl AccountPart {
    fn of(
        marks: Vec<(String, i64)>,
        counts: Vec<(String, i64)>,
        moments: Vec<(String, String, i64, i64, String)>,
    ) -> AccountPart {
        let mut part = AccountPart::default();
        for (rule, ts) in marks {
            part.first_ts.entry(rule).or_default().push(ts);
        }
        for (rule, first) in &mut part.first_ts {
            first.sort_unstable();
            first.truncate(Rule::parse(rule).map_or(usize::MAX, |r| r.count as usize));
        }
        for (key, n) in counts {
            *part.counts.entry(key).or_default() += n;
        }
        let mut latest: Option<(i64, i64, String)> = None;
        let mut identified = false;
        for (kind, key, at, seq, user) in moments {
            if kind == "group" && !user.is_empty() {
                identified = true;
                part.ever.insert(key.clone());
            }
            match kind.as_str() {
                "group" if latest.as_ref().is_none_or(|(a, s, _)| (at, seq) > (*a, *s)) => {
                    latest = Some((at, seq, key))
                }
                "manual_ts" => {
                    let ts = part.manual_ts.entry(key).or_insert(at);
                    *ts = (*ts).min(at);
                }
                _ => {}
            }
        }
        part.account = latest.filter(|_| identified).map(|(_, _, account)| account);
        part
    }
}
