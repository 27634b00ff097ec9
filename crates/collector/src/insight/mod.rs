//! Insight over a project's history: which behaviors go with success
//! ([`discovery`]), whether today's health weights would have foreseen the
//! accounts that went quiet ([`backtest`]), and the dashboard's filters and
//! breakdowns ([`filter`], [`breakdown`]). The arithmetic lives in pure
//! modules ([`stats`] and the two above); this module only gathers their
//! inputs from stored events.
//!
//! **How the cost is bounded.** Discovery reads the project's events once,
//! a page at a time in arrival order, and folds them into one small record
//! per person — first seen, the first time of each event name, the days
//! they were active, their latest NPS, their account — so memory follows
//! people and event names, not events. Above [`MAX_SUBJECTS`] people (or
//! accounts), a fixed hash sample of that many is compared, and the answer
//! says so. Health is read from the accounts worker's snapshots, never
//! reassessed here. The backtest scores at most [`MAX_BACKTEST_ACCOUNTS`]
//! accounts (a fixed hash sample above it, and the answer says so), reads
//! only their rows, [`BACKTEST_CHUNK`] accounts at a time, and scores each at
//! no more than [`MAX_CUTOFFS`] past moments, borrowing what was known at a
//! cutoff rather than copying it; `BENCHMARKS.md` has both on a million events.

pub mod backtest;
pub mod breakdown;
pub mod discovery;
pub mod filter;
pub mod stats;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use touchpoint_core::checklist::CompleteWhen;

use crate::accounts::{assess_all, AccountsCatalog};
use crate::checklists::replay::memberships;
use crate::checklists::replay::{by_person, Activity, Person};
use crate::checklists::{activities, ChecklistCatalog};
use crate::error::AppError;
use crate::AppState;
use discovery::{Subject, DAY_MS};

/// Above this many people (or accounts), discovery compares a fixed hash sample of this many.
pub const MAX_SUBJECTS: usize = 50_000;
/// The backtest scores accounts at no more than this many past moments.
pub const MAX_CUTOFFS: usize = 12;

/// Whom discovery compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    User,
    /// The users of one account (by their latest `group`) together.
    Account,
}

#[derive(Debug, Serialize)]
pub struct DiscoveryAnswer {
    pub unit: Unit,
    /// Every person (or account) there was, and whether a sample was compared.
    pub population: usize,
    pub sampled: bool,
    /// Which survey question is the NPS outcome (`survey/question`), if any.
    pub nps_question: Option<String>,
    #[serde(flatten)]
    pub discovery: discovery::Discovery,
    pub caution: &'static str,
}

pub const CAUTION: &str = "Correlation is not causation: people who do a thing early may be the ones who would have \
                           stayed anyway. To test whether a behavior causes success, run an A/B split of its \
                           checklist item: show the item to a random half of new users (targeting sample_percent: \
                           50) and compare both halves' weeks 4–8.";

/// The NPS question outcomes read: the accounts file's, else the first survey with an NPS question.
fn nps_question(state: &AppState) -> Option<(String, String)> {
    if let Some(a) = &state.accounts {
        return Some((a.config.nps_survey.clone(), a.config.nps_question.clone()));
    }
    state.surveys.all().find_map(|s| s.nps_question().map(|q| (s.id().to_string(), q.id().to_string())))
}

/// For each event name, the checklist items (`checklist/item`) it completes.
pub fn checklist_items(catalog: Option<&ChecklistCatalog>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in catalog.map(|c| c.set.checklists()).unwrap_or_default() {
        for item in &c.items {
            if let CompleteWhen::Event { event, .. } = &item.complete_when {
                out.entry(event.clone()).or_default().push(format!("{}/{}", c.id, item.id));
            }
        }
    }
    out
}

/// Rows read per page while folding a project's events.
const FOLD_PAGE: u32 = 5000;

/// What discovery keeps of one person while their events stream past.
#[derive(Debug, Default)]
struct Partial {
    subject: Subject,
    /// Latest NPS answer, by arrival: `(seq, score)`.
    nps: Option<(i64, u8)>,
    /// Account of the latest `group`, by arrival: `(seq, account)`.
    account: Option<(i64, String)>,
}

impl Partial {
    fn merge(&mut self, other: Partial) {
        let (s, o) = (&mut self.subject, other.subject);
        s.first_seen = s.first_seen.min(o.first_seen);
        for (name, at) in o.first_done {
            let e = s.first_done.entry(name).or_insert(at);
            *e = (*e).min(at);
        }
        s.active_days.extend(o.active_days);
        self.nps = self.nps.max(other.nps);
        self.account = self.account.take().max(other.account);
    }
}

/// The parts of a body discovery reads (the rest is not parsed).
#[derive(serde::Deserialize)]
struct Fields {
    name: Option<String>,
    account_id: Option<String>,
    value: Option<serde_json::Value>,
}

/// Folds the project's events, page by page in arrival order, into one
/// [`Partial`] per person: memory follows people and event names, not events.
/// People are split as the checklist replay splits them: a browser's events
/// without a user are its owner's, the first user seen on it.
async fn fold_people(
    state: &AppState,
    key: &str,
    nps: Option<&(String, String)>,
) -> Result<HashMap<String, Partial>, AppError> {
    let mut users: HashMap<String, Partial> = HashMap::new();
    let mut browsers: HashMap<String, Partial> = HashMap::new();
    let mut owners: HashMap<String, String> = HashMap::new();
    let mut after = 0;
    loop {
        let page = state.db.events_after(key.to_string(), after, FOLD_PAGE).await?;
        let full = page.len() == FOLD_PAGE as usize;
        for e in &page {
            after = after.max(e.seq);
            if e.rejected.is_some() {
                continue;
            }
            let p = match &e.user_id {
                Some(u) => {
                    owners.entry(e.anonymous_id.clone()).or_insert_with(|| u.clone());
                    users.entry(u.clone()).or_default()
                }
                None => match owners.get(&e.anonymous_id) {
                    Some(owner) => users.entry(owner.clone()).or_default(),
                    None => browsers.entry(e.anonymous_id.clone()).or_default(),
                },
            };
            let s = &mut p.subject;
            if s.active_days.is_empty() {
                s.first_seen = e.ts;
            }
            s.first_seen = s.first_seen.min(e.ts);
            s.active_days.insert(e.ts.div_euclid(DAY_MS));
            let nps_answer = e.kind == "survey_answered"
                && nps.is_some_and(|(sv, q)| {
                    e.survey_id.as_deref() == Some(sv.as_str()) && e.question_id.as_deref() == Some(q.as_str())
                });
            if e.kind != "track" && e.kind != "group" && !nps_answer {
                continue;
            }
            let Ok(f) = serde_json::from_str::<Fields>(&e.body) else { continue };
            match (e.kind.as_str(), f) {
                ("track", Fields { name: Some(name), .. }) => {
                    let at = s.first_done.entry(name).or_insert(e.ts);
                    *at = (*at).min(e.ts);
                }
                ("group", Fields { account_id: Some(account), .. }) => p.account = Some((e.seq, account)),
                (_, Fields { value: Some(v), .. }) => {
                    if let Some(score) = v.as_u64().and_then(|n| u8::try_from(n).ok()).filter(|n| *n <= 10) {
                        p.nps = Some((e.seq, score));
                    }
                }
                _ => {}
            }
        }
        if !full {
            break;
        }
    }
    // Events a browser sent before its owner was first seen are the owner's too.
    for (browser, partial) in browsers {
        if let Some(owner) = owners.get(&browser) {
            users.entry(owner.clone()).or_default().merge(partial);
        }
    }
    for (user, p) in &mut users {
        p.subject.id = user.clone();
        p.subject.nps = p.nps.map(|(_, score)| score).into_iter().collect();
    }
    Ok(users)
}

/// A fixed pseudo-random order of ids (FNV-1a), so a sample is the same on every call and replica.
fn sample_key(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Each account's latest recorded health score (the accounts worker records a
/// snapshot whenever it changes), so discovery never reassesses accounts itself.
async fn latest_health(state: &AppState, key: &str) -> Result<HashMap<String, u8>, AppError> {
    if state.accounts.is_none() {
        return Ok(HashMap::new());
    }
    let mut latest: HashMap<String, (i64, u8)> = HashMap::new();
    for h in state.db.health_history(key.to_string(), None).await? {
        let score = u8::try_from(h.score.clamp(0, 100)).unwrap_or(0);
        let e = latest.entry(h.account_id).or_insert((h.computed_at, score));
        if h.computed_at >= e.0 {
            *e = (h.computed_at, score);
        }
    }
    Ok(latest.into_iter().map(|(a, (_, s))| (a, s)).collect())
}

/// Discovery over the project's identified users (or their accounts) at `now`.
pub async fn discover(
    state: &AppState,
    key: &str,
    window_days: u32,
    unit: Unit,
    min_group: usize,
    now: i64,
) -> Result<DiscoveryAnswer, AppError> {
    let nps = nps_question(state);
    let people = fold_people(state, key, nps.as_ref()).await?;
    let health = latest_health(state, key).await?;
    let checklists = state.checklists.clone();
    tokio::task::spawn_blocking(move || {
        let mut subjects: Vec<Subject> = match unit {
            Unit::User => people
                .into_values()
                .map(|p| {
                    let mut s = p.subject;
                    s.health = p.account.and_then(|(_, a)| health.get(&a).copied());
                    s
                })
                .collect(),
            Unit::Account => {
                let mut by_account: BTreeMap<String, Partial> = BTreeMap::new();
                for p in people.into_values() {
                    let Some((_, account)) = p.account.clone() else { continue };
                    let nps = p.subject.nps.clone();
                    match by_account.entry(account.clone()) {
                        std::collections::btree_map::Entry::Vacant(v) => {
                            let a = v.insert(p);
                            a.subject.id = account.clone();
                            a.subject.health = health.get(&account).copied();
                        }
                        std::collections::btree_map::Entry::Occupied(mut o) => {
                            let a = o.get_mut();
                            a.merge(p);
                            a.subject.nps.extend(nps);
                        }
                    }
                }
                by_account.into_values().map(|p| p.subject).collect()
            }
        };
        subjects.sort_by(|a, b| a.id.cmp(&b.id));
        let population = subjects.len();
        let sampled = population > MAX_SUBJECTS;
        if sampled {
            subjects.sort_by_cached_key(|s| sample_key(&s.id));
            subjects.truncate(MAX_SUBJECTS);
        }
        let params = discovery::Params { window_days, now, min_group };
        let items = checklist_items(checklists.as_deref());
        DiscoveryAnswer {
            unit,
            population,
            sampled,
            nps_question: nps.map(|(s, q)| format!("{s}/{q}")),
            discovery: discovery::discover(&subjects, params, &items),
            caution: CAUTION,
        }
    })
    .await
    .map_err(|e| AppError::Internal(format!("discovery task failed: {e}")))
}

/// The backtest scores at most this many accounts: above it, a fixed hash
/// sample of this many. Why 2 000: at up to [`MAX_CUTOFFS`] cutoffs that is
/// up to 24 000 account-moments, where a rate's 95% interval is about ±1
/// percentage point (±2 at 2 500 moments), finer than the whole percents
/// the page shows; and the time stays that of assessing 2 000 accounts
/// twelve times, whatever the size of the project.
pub const MAX_BACKTEST_ACCOUNTS: usize = 2_000;

/// Accounts whose rows are read and assessed together: memory follows this
/// many accounts' rows, not the sample's or the project's. Each read is an
/// indexed lookup, so smaller chunks cost little more time.
const BACKTEST_CHUNK: usize = 100;

/// A sample of the accounts was scored: `accounts` of the project's `of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sampled {
    pub accounts: usize,
    pub of: usize,
}

#[derive(Debug, Serialize)]
pub struct BacktestAnswer {
    #[serde(flatten)]
    pub backtest: backtest::Backtest,
    /// `Some` when more accounts than were scored exist.
    pub sampled: Option<Sampled>,
    /// Stored rows read: the scored accounts' own (their members', their
    /// browsers', the facts naming them), never the whole project's.
    pub rows_read: usize,
    /// Today's weights, each signal's name and weight, shown beside the figure.
    pub weights: Vec<(String, f64)>,
    pub method: String,
}

/// How the backtest works, in words, with its bound.
pub fn backtest_method(max_accounts: usize) -> String {
    format!(
        "At each cutoff, every account active in the horizon before it is scored with today's weights on its \
         events up to the cutoff (cases count as none: their history is not replayed), and counted as gone \
         inactive if it had no activity in the horizon after it. Above {max_accounts} accounts, a fixed hash \
         sample of {max_accounts} is scored, each from its own events only."
    )
}

/// The backtest of today's health configuration over the project's history:
/// at most `max_accounts` accounts (a fixed hash sample above it, the same on
/// every call), read [`BACKTEST_CHUNK`] at a time by the indexed per-account
/// read and scored at every cutoff on what was known by then.
pub async fn backtest(
    state: &AppState,
    accounts: std::sync::Arc<AccountsCatalog>,
    key: &str,
    params: backtest::Params,
    max_accounts: usize,
) -> Result<BacktestAnswer, AppError> {
    backtest_in_chunks(state, accounts, key, params, max_accounts, BACKTEST_CHUNK).await
}

/// [`backtest`], reading and assessing `chunk` accounts at a time (public
/// for the test that chunks give the answer one read gives).
pub async fn backtest_in_chunks(
    state: &AppState,
    accounts: std::sync::Arc<AccountsCatalog>,
    key: &str,
    params: backtest::Params,
    max_accounts: usize,
    chunk: usize,
) -> Result<BacktestAnswer, AppError> {
    let mut ids = state.db.project_accounts(key.to_string()).await?;
    let population = ids.len();
    ids.sort_by_cached_key(|id| (sample_key(id), id.clone()));
    ids.truncate(max_accounts);
    let sampled = (population > ids.len()).then_some(Sampled { accounts: ids.len(), of: population });
    let moments = std::sync::Arc::new(backtest::moments(params));
    let mut histories: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut scores: HashMap<(String, i64), u8> = HashMap::new();
    let mut rows_read = 0;
    for chunk in ids.chunks(chunk.max(1)) {
        let rows = state.db.accounts_activity(key.to_string(), chunk.to_vec()).await?;
        rows_read += rows.len();
        let wanted: BTreeSet<String> = chunk.iter().cloned().collect();
        let (accounts, checklists, moments) = (accounts.clone(), state.checklists.clone(), moments.clone());
        let scored = tokio::task::spawn_blocking(move || {
            let people = by_person(activities(rows)?);
            Ok::<_, AppError>(score_accounts(
                &accounts.config,
                checklists.as_deref(),
                &people,
                &wanted,
                &moments,
                params.horizon_days,
            ))
        })
        .await
        .map_err(|e| AppError::Internal(format!("backtest task failed: {e}")))??;
        histories.extend(scored.histories);
        scores.extend(scored.scores);
    }
    let method = backtest_method(max_accounts);
    tokio::task::spawn_blocking(move || {
        let histories: Vec<backtest::History> =
            histories.into_iter().map(|(account_id, activity)| backtest::History { account_id, activity }).collect();
        let result =
            backtest::run(&histories, params, |h, cutoff| scores.get(&(h.account_id.clone(), cutoff)).copied());
        let weights = accounts.config.signals.iter().map(|s| (s.signal.name().to_string(), s.weight)).collect();
        BacktestAnswer { backtest: result, sampled, rows_read, weights, method }
    })
    .await
    .map_err(|e| AppError::Internal(format!("backtest task failed: {e}")))
}

/// Some accounts' activity and their scores at each moment they can be scored at.
struct Scored {
    /// Each wanted account's activity (`ts` of its members' rows, today's members).
    histories: BTreeMap<String, Vec<i64>>,
    scores: Vec<((String, i64), u8)>,
}

/// Scores the `wanted` accounts at each of `moments` they were active in the
/// horizon before, from `people` (their rows, as the per-account read gives
/// them: enough for these accounts, partial for others, which are dropped).
fn score_accounts(
    config: &touchpoint_core::accounts::AccountsConfig,
    checklists: Option<&crate::checklists::ChecklistCatalog>,
    people: &BTreeMap<Person, Vec<Activity>>,
    wanted: &BTreeSet<String>,
    moments: &[i64],
    horizon_days: u32,
) -> Scored {
    let member_of = memberships(people);
    let mut histories: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (person, rows) in people {
        let Person::User(u) = person else { continue };
        if let Some(account) = member_of.get(u).filter(|a| wanted.contains(*a)) {
            histories.entry(account.clone()).or_default().extend(rows.iter().map(|r| r.ts));
        }
    }
    // Rows come in arrival order. Where a person's `ts` never goes back (the
    // usual case), what was known at a cutoff is a prefix, borrowed; only
    // the others' rows are copied, filtered.
    let in_ts_order: Vec<bool> = people.values().map(|rows| rows.windows(2).all(|w| w[0].ts <= w[1].ts)).collect();
    let no_cases = HashMap::new();
    let mut scores = Vec::new();
    for &cutoff in moments {
        if !histories.values().any(|a| backtest::went_inactive(a, cutoff, horizon_days).is_some()) {
            continue;
        }
        let known: BTreeMap<Person, Cow<[Activity]>> = people
            .iter()
            .zip(&in_ts_order)
            .map(|((person, rows), &sorted)| {
                let rows: Cow<[Activity]> = if sorted {
                    Cow::Borrowed(&rows[..rows.partition_point(|r| r.ts <= cutoff)])
                } else {
                    Cow::Owned(rows.iter().filter(|r| r.ts <= cutoff).cloned().collect())
                };
                (person.clone(), rows)
            })
            .filter(|(_, rows)| !rows.is_empty())
            .collect();
        for v in assess_all(config, checklists, &known, &no_cases, cutoff) {
            if wanted.contains(&v.account_id) {
                scores.push(((v.account_id, cutoff), v.assessment.health.score));
            }
        }
    }
    Scored { histories, scores }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};
    use touchpoint_core::accounts::AccountsConfig;
    use touchpoint_protocol::EventKind;

    fn group(account: &str) -> Option<EventKind> {
        Some(EventKind::Group { account_id: account.into(), traits: Map::new() })
    }

    fn track(name: &str) -> Option<EventKind> {
        Some(EventKind::Track { name: name.into(), props: Map::new() })
    }

    /// `(day, kind)` in arrival order.
    fn rows(user: &str, events: Vec<(i64, Option<EventKind>)>) -> (Person, Vec<Activity>) {
        let rows = events
            .into_iter()
            .enumerate()
            .map(|(i, (day, kind))| Activity {
                anonymous_id: format!("b-{user}"),
                user_id: Some(user.into()),
                ts: day * DAY_MS,
                received_at: i as i64,
                event_id: kind.as_ref().map(|_| format!("{user}-{i}")),
                kind,
            })
            .collect();
        (Person::User(user.into()), rows)
    }

    /// Borrowing a prefix of each person's rows (copying only theirs whose
    /// events arrived out of `ts` order) scores exactly as copying every
    /// person's rows up to each cutoff does.
    #[test]
    fn a_cutoffs_prefix_scores_as_a_filtered_copy_of_every_row() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../accounts.json")).unwrap();
        let config = AccountsConfig::from_json(&text).unwrap();
        let nps = |score: u8| {
            serde_json::from_value::<EventKind>(json!({"type": "survey_answered", "survey_id": "nps",
                "response_id": "r", "question_id": "score", "value": score}))
            .ok()
        };
        let people: BTreeMap<Person, Vec<Activity>> = [
            rows(
                "ann",
                vec![(0, group("a")), (1, track("created_project")), (5, nps(9)), (20, track("x")), (45, None)],
            ),
            // A day-2 event that arrived after the day-30 one (a queue sent late).
            rows(
                "bob",
                vec![(0, group("a")), (30, track("imported_data")), (2, track("invited_teammate")), (50, None)],
            ),
            // Moves from b to c on day 25.
            rows("cat", vec![(0, group("b")), (8, track("created_project")), (25, group("c")), (40, None)]),
            rows("dan", vec![(1, group("c")), (12, nps(3)), (33, track("x"))]),
        ]
        .into_iter()
        .collect();
        let wanted: BTreeSet<String> = ["a", "b", "c"].map(String::from).into();
        let moments: Vec<i64> = [55, 45, 35, 25, 15, 10, 5].iter().map(|d| d * DAY_MS).collect();
        let got = score_accounts(&config, None, &people, &wanted, &moments, 30);

        let mut want = Vec::new();
        for &cutoff in &moments {
            if !got.histories.values().any(|a| backtest::went_inactive(a, cutoff, 30).is_some()) {
                continue;
            }
            let known: BTreeMap<Person, Vec<Activity>> = people
                .iter()
                .map(|(p, rows)| (p.clone(), rows.iter().filter(|r| r.ts <= cutoff).cloned().collect::<Vec<_>>()))
                .filter(|(_, rows)| !rows.is_empty())
                .collect();
            for v in assess_all(&config, None, &known, &HashMap::new(), cutoff) {
                want.push(((v.account_id, cutoff), v.assessment.health.score));
            }
        }
        assert_eq!(got.scores, want);
        // Bob's late event counts at day 5: without it (his rows cut where a `ts` first passes
        // the cutoff) account a would score otherwise, so the comparison above sees the difference.
        let day5 = 5 * DAY_MS;
        let mut cut_short = people.clone();
        cut_short.get_mut(&Person::User("bob".into())).unwrap().truncate(1);
        cut_short.values_mut().for_each(|rows| rows.retain(|r| r.ts <= day5));
        let short = assess_all(&config, None, &cut_short, &HashMap::new(), day5);
        let a_short = short.iter().find(|v| v.account_id == "a").unwrap().assessment.health.score;
        assert_ne!(want.iter().find(|((a, c), _)| a == "a" && *c == day5).map(|(_, s)| *s), Some(a_short));
        assert_eq!(got.histories.keys().collect::<Vec<_>>(), ["a", "c"], "cat is in c today, b has nobody");
    }
}
