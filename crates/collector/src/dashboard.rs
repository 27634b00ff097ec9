//! The figures behind the dashboard and the CSV exports, computed from
//! stored events (nothing here is stored: like checklist progress, every
//! figure is derived from the events each time, so it cannot disagree with them).
//!
//! **Responses.** One showing of a survey is one `response_id`. Per response
//! the *latest* answer to each question counts (by `received_at`, then
//! arrival: the server's clock, not the page's), as in
//! `GET /v1/surveys/{id}/nps`, so going back and changing an answer never
//! counts twice. The response rate is responses with at least one answer
//! over showings; the completion rate is responses that reached an ending
//! over showings. NPS arithmetic is `touchpoint_core::nps`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use serde_json::{json, Value};
use touchpoint_core::nps::{Category, NpsSummary};
use touchpoint_core::survey::{QuestionKind, Survey};
use touchpoint_protocol::{AnswerValue, Event, EventKind};

use crate::insight::filter::Profile;
use crate::store::{DbError, EventQuery, Store, StoredEvent};
use crate::time::{self, Interval};

/// Rows fetched per query while reading a whole survey or export.
pub const PAGE: u32 = 2000;

/// Every stored event of `kinds` (all if empty) and `survey_id` (any if
/// `None`) of the project, oldest first, read page by page.
pub async fn load_events(
    db: &Store,
    project_key: &str,
    kinds: &[&str],
    survey_id: Option<&str>,
) -> Result<Vec<StoredEvent>, DbError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = db
            .events(EventQuery {
                project_key: project_key.to_string(),
                kinds: kinds.iter().map(|k| k.to_string()).collect(),
                survey_id: survey_id.map(str::to_string),
                after,
                limit: PAGE,
                // Rejected events never count.
                with_rejected: false,
            })
            .await?;
        let full = page.len() == PAGE as usize;
        after = page.last().map(|e| (e.ts, e.seq));
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// One showing of a survey, as its events tell it.
#[derive(Debug, Clone)]
pub struct Response {
    pub id: String,
    pub anonymous_id: String,
    pub user_id: Option<String>,
    pub first_ts: i64,
    pub last_ts: i64,
    /// Latest answer per question: `(ts, value)`.
    pub answers: HashMap<String, (i64, AnswerValue)>,
    pub ending: Option<String>,
    pub dismissed: bool,
}

impl Response {
    /// `completed`, `dismissed` or `open`.
    pub fn status(&self) -> &'static str {
        match (&self.ending, self.dismissed) {
            (Some(_), _) => "completed",
            (None, true) => "dismissed",
            (None, false) => "open",
        }
    }

    pub fn score(&self, question: &str) -> Option<(i64, u8)> {
        match self.answers.get(question) {
            Some((ts, AnswerValue::Score(n))) => Some((*ts, *n)),
            _ => None,
        }
    }
}

/// Groups a survey's events (oldest first) into responses, in order of first event.
pub fn responses(events: &[StoredEvent]) -> Vec<Response> {
    let mut by_id: HashMap<String, Response> = HashMap::new();
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    for row in events {
        if let Some(response_id) = row.response_id.as_ref().filter(|id| seen.insert(id.as_str())) {
            order.push(response_id.clone());
        }
    }
    // Folded in arrival order, so the latest answer is the one the server got last.
    let mut arrival: Vec<&StoredEvent> = events.iter().collect();
    arrival.sort_by_key(|e| (e.received_at, e.seq));
    for row in arrival {
        let Some(response_id) = &row.response_id else { continue };
        let Ok(event) = serde_json::from_str::<Event>(&row.body) else { continue };
        let r = by_id.entry(response_id.clone()).or_insert_with(|| Response {
            id: response_id.clone(),
            anonymous_id: row.anonymous_id.clone(),
            user_id: None,
            first_ts: row.ts,
            last_ts: row.ts,
            answers: HashMap::new(),
            ending: None,
            dismissed: false,
        });
        r.first_ts = r.first_ts.min(row.ts);
        r.last_ts = r.last_ts.max(row.ts);
        if r.user_id.is_none() {
            r.user_id = row.user_id.clone();
        }
        match event.kind {
            EventKind::SurveyAnswered { question_id, value, .. } => {
                r.answers.insert(question_id, (row.ts, value));
            }
            EventKind::SurveyCompleted { ending_id, .. } => r.ending = Some(ending_id),
            EventKind::SurveyDismissed { .. } => r.dismissed = true,
            _ => {}
        }
    }
    order.into_iter().filter_map(|id| by_id.remove(&id)).collect()
}

/// `part / whole` in percent, one decimal; `None` when `whole` is 0.
fn percent(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

#[derive(Debug, Serialize)]
pub struct Period {
    /// ms since the epoch, UTC.
    pub start: i64,
    pub label: String,
    #[serde(flatten)]
    pub summary: NpsSummary,
}

/// The dashboard's survey figures (see the module docs).
pub fn survey_report(survey: &Survey, title: Option<&str>, events: &[StoredEvent], interval: Interval) -> Value {
    let responses = responses(events);
    let showings = responses.len();
    let answered = responses.iter().filter(|r| !r.answers.is_empty()).count();
    let completed = responses.iter().filter(|r| r.ending.is_some()).count();
    let dismissed = responses.iter().filter(|r| r.status() == "dismissed").count();

    let nps_question = survey.nps_question().map(|q| q.id().to_string());
    let scores: Vec<(i64, u8)> =
        nps_question.as_deref().map(|q| responses.iter().filter_map(|r| r.score(q)).collect()).unwrap_or_default();
    let overall = NpsSummary::from_scores(scores.iter().map(|&(_, s)| s));
    let distribution: Vec<Value> = match &nps_question {
        Some(_) => (0..=10u8)
            .map(|n| json!({ "score": n, "count": scores.iter().filter(|&&(_, s)| s == n).count() }))
            .collect(),
        None => Vec::new(),
    };
    let mut periods: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    for &(ts, score) in &scores {
        periods.entry(time::period_start(ts, interval)).or_default().push(score);
    }
    let over_time: Vec<Period> = periods
        .into_iter()
        .map(|(start, scores)| Period {
            start,
            label: match interval {
                Interval::Month => time::date(start)[..7].to_string(),
                _ => time::date(start),
            },
            summary: NpsSummary::from_scores(scores),
        })
        .collect();

    let category = |r: &Response| {
        nps_question.as_deref().and_then(|q| r.score(q)).and_then(|(_, s)| Category::of(s)).map(|c| match c {
            Category::Detractor => "detractors",
            Category::Passive => "passives",
            Category::Promoter => "promoters",
        })
    };
    let follow_ups: Vec<Value> = survey
        .questions()
        .iter()
        .filter(|q| Some(q.id()) != nps_question.as_deref())
        .map(|q| {
            let given: Vec<(&Response, &(i64, AnswerValue))> =
                responses.iter().filter_map(|r| r.answers.get(q.id()).map(|a| (r, a))).collect();
            let choices: Vec<Value> = q
                .kind()
                .choices()
                .iter()
                .map(|c| {
                    let picked: Vec<&Response> = given
                        .iter()
                        .filter(|(_, (_, v))| match v {
                            AnswerValue::Text(id) => *id == c.id,
                            AnswerValue::Choices(ids) => ids.contains(&c.id),
                            AnswerValue::Score(_) => false,
                        })
                        .map(|(r, _)| *r)
                        .collect();
                    let by = |cat: &str| picked.iter().filter(|r| category(r) == Some(cat)).count();
                    json!({
                        "id": c.id, "label": c.label, "count": picked.len(),
                        "detractors": by("detractors"), "passives": by("passives"), "promoters": by("promoters"),
                    })
                })
                .collect();
            let mut texts: Vec<Value> = match q.kind() {
                QuestionKind::Text { .. } => given
                    .iter()
                    .filter_map(|(r, (ts, v))| match v {
                        AnswerValue::Text(t) if !t.trim().is_empty() => Some(json!({
                            "text": t, "ts": ts, "response_id": r.id, "user_id": r.user_id,
                            "score": nps_question.as_deref().and_then(|nq| r.score(nq)).map(|(_, s)| s),
                        })),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            texts.sort_by_key(|t| std::cmp::Reverse(t["ts"].as_i64()));
            json!({
                "question_id": q.id(), "text": q.text(), "kind": q.kind().name(),
                "answered": given.len(), "choices": choices, "texts": texts,
            })
        })
        .collect();
    let endings: Vec<Value> = survey
        .endings()
        .iter()
        .map(|e| {
            let count = responses.iter().filter(|r| r.ending.as_deref() == Some(e.id())).count();
            json!({ "id": e.id(), "title": e.title(), "count": count })
        })
        .collect();

    json!({
        "survey_id": survey.id(),
        "title": title,
        "showings": showings,
        "answered": answered,
        "completed": completed,
        "dismissed": dismissed,
        "response_rate": percent(answered, showings),
        "completion_rate": percent(completed, showings),
        "nps_question": nps_question,
        "nps": overall,
        "distribution": distribution,
        "over_time": { "interval": interval_name(interval), "periods": over_time },
        "follow_ups": follow_ups,
        "endings": endings,
    })
}

pub fn interval_name(i: Interval) -> &'static str {
    match i {
        Interval::Day => "day",
        Interval::Week => "week",
        Interval::Month => "month",
    }
}

/// Help searches that found nothing, grouped by query (trimmed, lower case,
/// inner spaces collapsed), most frequent first.
pub fn help_gaps(events: &[StoredEvent]) -> Value {
    struct Gap {
        query: String,
        count: usize,
        people: HashSet<String>,
        last: i64,
    }
    let mut searches = 0;
    let mut gaps: HashMap<String, Gap> = HashMap::new();
    for row in events {
        let Ok(Event { kind: EventKind::HelpSearched { query, result_count }, .. }) = serde_json::from_str(&row.body)
        else {
            continue;
        };
        searches += 1;
        if result_count != 0 {
            continue;
        }
        let normal = query.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        if normal.is_empty() {
            continue;
        }
        let gap = gaps.entry(normal.clone()).or_insert_with(|| Gap {
            query: normal,
            count: 0,
            people: HashSet::new(),
            last: 0,
        });
        gap.count += 1;
        gap.people.insert(row.user_id.clone().unwrap_or_else(|| row.anonymous_id.clone()));
        gap.last = gap.last.max(row.ts);
    }
    let without: usize = gaps.values().map(|g| g.count).sum();
    let mut list: Vec<Gap> = gaps.into_values().collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then(b.last.cmp(&a.last)).then(a.query.cmp(&b.query)));
    let queries: Vec<Value> = list
        .iter()
        .map(|g| json!({ "query": g.query, "count": g.count, "people": g.people.len(), "last_searched": g.last }))
        .collect();
    json!({ "searches": searches, "without_result": without, "queries": queries })
}

/// Appends one CSV record (RFC 4180: fields with a comma, quote, CR or LF
/// are quoted, quotes doubled; CRLF line ends). A text cell that a
/// spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a
/// tab or CR) gets a leading `'`: answers are written by end users, and the
/// file is opened by staff.
pub fn csv_record<S: AsRef<str>>(out: &mut String, cells: &[Cell<S>]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let text = match cell {
            Cell::Number(n) => n.to_string(),
            Cell::Empty => String::new(),
            Cell::Text(s) => {
                let s = s.as_ref();
                if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                    format!("'{s}")
                } else {
                    s.to_string()
                }
            }
        };
        if text.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&text);
        }
    }
    out.push_str("\r\n");
}

pub enum Cell<S> {
    Text(S),
    Number(i64),
    Empty,
}

impl<S> Cell<S> {
    pub fn opt(v: Option<S>) -> Cell<S> {
        v.map_or(Cell::Empty, Cell::Text)
    }
}

pub const EVENT_COLUMNS: [&str; 14] = [
    "id",
    "type",
    "ts",
    "time_utc",
    "received_at",
    "anonymous_id",
    "user_id",
    "url",
    "survey_id",
    "response_id",
    "question_id",
    "body",
    "rejected",
    "ts_flag",
];

/// One `events.csv` record per stored event.
pub fn event_record(out: &mut String, e: &StoredEvent) {
    csv_record(
        out,
        &[
            Cell::Text(e.id.as_str()),
            Cell::Text(&e.kind),
            Cell::Number(e.ts),
            Cell::Text(&time::iso(e.ts)),
            Cell::Number(e.received_at),
            Cell::Text(&e.anonymous_id),
            Cell::opt(e.user_id.as_deref()),
            Cell::Text(&e.url),
            Cell::opt(e.survey_id.as_deref()),
            Cell::opt(e.response_id.as_deref()),
            Cell::opt(e.question_id.as_deref()),
            Cell::Text(&e.body),
            Cell::opt(e.rejected.as_deref()),
            Cell::opt(e.ts_flag.as_deref()),
        ],
    );
}

/// `responses.csv`: one record per response, a column per question (choice
/// ids of a multi-choice answer joined with `;`), then the respondent's
/// account and a `trait.<name>` column per trait any respondent has
/// (`profile_of` says who a response's person is; see `crate::insight::filter`).
pub fn responses_csv(
    survey: &Survey,
    events: &[StoredEvent],
    profile_of: &dyn Fn(&Response) -> Option<Profile>,
) -> String {
    let responses = responses(events);
    let profiles: Vec<Option<Profile>> = responses.iter().map(profile_of).collect();
    let trait_names: BTreeSet<&str> =
        profiles.iter().flatten().flat_map(|p| p.traits.keys().map(String::as_str)).collect();
    let nps_question = survey.nps_question().map(|q| q.id().to_string());
    let mut out = String::new();
    let mut header: Vec<Cell<String>> =
        ["response_id", "survey_id", "user_id", "anonymous_id", "started_at", "last_event_at"]
            .iter()
            .map(|h| Cell::Text(h.to_string()))
            .collect();
    if nps_question.is_some() {
        header.push(Cell::Text("category".into()));
    }
    header.extend(survey.questions().iter().map(|q| Cell::Text(q.id().to_string())));
    header.extend(["ending_id", "status", "account_id"].iter().map(|h| Cell::Text(h.to_string())));
    header.extend(trait_names.iter().map(|t| Cell::Text(format!("trait.{t}"))));
    csv_record(&mut out, &header);
    for (r, profile) in responses.into_iter().zip(&profiles) {
        let mut cells: Vec<Cell<String>> = vec![
            Cell::Text(r.id.clone()),
            Cell::Text(survey.id().to_string()),
            Cell::opt(r.user_id.clone()),
            Cell::Text(r.anonymous_id.clone()),
            Cell::Text(time::iso(r.first_ts)),
            Cell::Text(time::iso(r.last_ts)),
        ];
        if let Some(q) = &nps_question {
            let category = r.score(q).and_then(|(_, s)| Category::of(s)).map(|c| match c {
                Category::Detractor => "detractor",
                Category::Passive => "passive",
                Category::Promoter => "promoter",
            });
            cells.push(Cell::opt(category.map(str::to_string)));
        }
        for q in survey.questions() {
            cells.push(match r.answers.get(q.id()) {
                Some((_, AnswerValue::Score(n))) => Cell::Number(i64::from(*n)),
                Some((_, AnswerValue::Text(t))) => Cell::Text(t.clone()),
                Some((_, AnswerValue::Choices(ids))) => Cell::Text(ids.join(";")),
                None => Cell::Empty,
            });
        }
        cells.push(Cell::opt(r.ending.clone()));
        cells.push(Cell::Text(r.status().to_string()));
        cells.push(Cell::opt(profile.as_ref().and_then(|p| p.account.clone())));
        for name in &trait_names {
            cells.push(Cell::opt(profile.as_ref().and_then(|p| p.traits.get(*name)).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })));
        }
        csv_record(&mut out, &cells);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(cells: &[Cell<&str>]) -> String {
        let mut out = String::new();
        csv_record(&mut out, cells);
        out
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        for (cells, expected) in [
            (vec![Cell::Text("plain"), Cell::Number(-3), Cell::Empty], "plain,-3,\r\n"),
            (vec![Cell::Text("a,b"), Cell::Text("say \"hi\"")], "\"a,b\",\"say \"\"hi\"\"\"\r\n"),
            (vec![Cell::Text("two\nlines"), Cell::Text("cr\r")], "\"two\nlines\",\"cr\r\"\r\n"),
            (
                vec![Cell::Text("=HYPERLINK(\"x\")"), Cell::Text("+1"), Cell::Text("@SUM")],
                "\"'=HYPERLINK(\"\"x\"\")\",'+1,'@SUM\r\n",
            ),
            (vec![Cell::Text("- slow"), Cell::Text("ok - fine")], "'- slow,ok - fine\r\n"),
        ] {
            assert_eq!(csv(&cells), expected);
        }
    }

    #[test]
    fn percent_rounds_to_one_decimal_and_is_none_without_a_whole() {
        assert_eq!(percent(1, 3), Some(33.3));
        assert_eq!(percent(2, 3), Some(66.7));
        assert_eq!(percent(0, 0), None);
        assert_eq!(percent(4, 4), Some(100.0));
    }
}
