//! Cases a team works to the end: a status (open → waiting on the customer
//! → solved), a priority, an assignee (the account's owner when a rule opens
//! it), reason tags, a timeline of notes and replies, the times to first
//! response and to resolution per week, the "top roadblocks" report, and a
//! one-question CSAT the user may answer in the app after solving.
//!
//! Storage is [`crate::store::cases`]; routes are [`crate::routes::cases`].
//! A reply is emailed through the automations' email settings (SMTP or
//! `.eml`), from the same outbox as every follow-up, so it is retried and
//! logged like one.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::automations::message::{compose, Compose};
use crate::automations::template::{Part, Template, Vars};
use crate::store::{Case, DbError, EventCase, Store};

/// The survey that asks "How did we do?" after a case is solved (`surveys/case_csat.json`).
pub const CSAT_SURVEY: &str = "case_csat";
/// The targeting fact a solved case awaiting its CSAT answer counts as: the
/// CSAT survey's targeting asks for one (`"event": {"name": "case_solved"}`),
/// so it goes through the attention budget like any survey.
pub const CSAT_FACT: &str = "case_solved";
/// `rule_id` of the cases opened by the help widget's "Contact us".
pub const HELP_CASE_RULE: &str = "help_contact";

/// The case a "Contact us" message opens: every stored `help_case_created`
/// becomes an open case, whatever automations are configured (the store
/// writes it in the event's transaction, so it exists exactly once).
pub fn help_case(e: &touchpoint_protocol::Event) -> Option<EventCase> {
    let touchpoint_protocol::EventKind::HelpCaseCreated { message, email, last_article, last_failed_search } = &e.kind
    else {
        return None;
    };
    let short: String = message.chars().take(80).collect();
    let ellipsis = if message.chars().count() > 80 { "…" } else { "" };
    let detail = serde_json::json!({
        "message": message,
        "email": email,
        "url": e.url,
        "last_article": last_article,
        "last_failed_search": last_failed_search,
    });
    Some(EventCase {
        id: format!("help-{}", e.id),
        rule_id: HELP_CASE_RULE.into(),
        title: format!("Help request: {short}{ellipsis}"),
        detail: detail.to_string(),
    })
}

/// A case solved longer ago than this is not asked about any more.
const CSAT_WINDOW_MS: i64 = 14 * 24 * 60 * 60 * 1000;

/// Adds [`CSAT_FACT`] to `user`'s targeting facts while one of their solved
/// cases awaits its CSAT answer.
pub async fn csat_fact(
    db: &Store,
    key: &str,
    user: &str,
    now: i64,
    facts: &mut touchpoint_core::targeting::Facts,
) -> Result<(), DbError> {
    if db.csat_pending(key.to_string(), user.to_string(), now - CSAT_WINDOW_MS).await?.is_some() {
        facts.event_counts.insert(CSAT_FACT.to_string(), 1);
    }
    Ok(())
}

/// Stores `user`'s CSAT rating on their case awaiting one (the most recently
/// solved); `false` if none awaits it. The first answer counts.
pub async fn record_csat(db: &Store, key: &str, user: &str, rating: i64, now: i64) -> Result<bool, DbError> {
    match db.csat_pending(key.to_string(), user.to_string(), now - CSAT_WINDOW_MS).await? {
        Some(case) => db.record_csat(key.to_string(), case.id, rating, now).await,
        None => Ok(false),
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    Open,
    /// Waiting on the customer (a reply went out).
    Waiting,
    Solved,
}

impl CaseStatus {
    /// `closed` is the name solved cases had before there were three states.
    pub fn parse(s: &str) -> Option<CaseStatus> {
        match s {
            "open" => Some(CaseStatus::Open),
            "waiting" => Some(CaseStatus::Waiting),
            "solved" | "closed" => Some(CaseStatus::Solved),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Waiting => "waiting",
            CaseStatus::Solved => "solved",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "low" => Some(Priority::Low),
            "normal" => Some(Priority::Normal),
            "high" => Some(Priority::High),
            "urgent" => Some(Priority::Urgent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// A reason tag as stored: lower case letters, digits, `_` and `-`, 1 to 40 characters.
pub fn check_tag(tag: &str) -> Result<String, String> {
    let t = tag.trim().to_ascii_lowercase();
    let ok = (1..=40).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if ok {
        Ok(t)
    } else {
        Err(format!("tag {tag:?} must be 1 to 40 letters, digits, _ or - (e.g. \"export_speed\")"))
    }
}

/// The cases opened in one week (Monday 00:00 UTC), with how fast they were answered and solved.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekTimings {
    /// The Monday, `YYYY-MM-DD`.
    pub week: String,
    pub opened: usize,
    pub solved: usize,
    /// Median time from opening to the first reply, of the cases that got one.
    pub median_first_response_ms: Option<i64>,
    /// Median time from opening to solving, of the solved cases.
    pub median_resolution_ms: Option<i64>,
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2 })
}

/// Timings per week of opening, oldest week first.
pub fn timings(cases: &[Case]) -> Vec<WeekTimings> {
    let mut weeks: BTreeMap<i64, Vec<&Case>> = BTreeMap::new();
    for c in cases {
        weeks.entry(crate::time::period_start(c.created_at, crate::time::Interval::Week)).or_default().push(c);
    }
    weeks
        .into_iter()
        .map(|(start, cs)| {
            let first: Vec<i64> = cs.iter().filter_map(|c| c.first_response_at.map(|t| t - c.created_at)).collect();
            let solved: Vec<i64> = cs
                .iter()
                .filter(|c| c.status == CaseStatus::Solved.as_str())
                .filter_map(|c| c.closed_at.map(|t| t - c.created_at))
                .collect();
            WeekTimings {
                week: crate::time::date(start),
                opened: cs.len(),
                solved: solved.len(),
                median_first_response_ms: median(first),
                median_resolution_ms: median(solved),
            }
        })
        .collect()
}

/// The email carrying a reply from the dashboard: the reply as written
/// (control characters other than line breaks and tabs become spaces).
#[allow(clippy::too_many_arguments)]
pub fn reply_email(
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
    delivery_id: &str,
    case: &Case,
    unsubscribe: Option<&[Part]>,
    now: i64,
) -> String {
    let clean: String = body.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { ' ' } else { c }).collect();
    let template = Template {
        subject: vec![Part::Text(subject.to_string())],
        reply_to: None,
        body: vec![Part::Text(clean)],
        html: false,
        html_alternative: None,
    };
    let traits = Map::new();
    let vars = Vars {
        rule: "case_reply",
        user_id: case.user_id.as_deref(),
        anonymous_id: case.anonymous_id.as_deref(),
        traits: &traits,
        event: None::<&Value>,
        action: None,
    };
    compose(&Compose {
        from,
        to,
        template: &template,
        locale: None,
        vars: &vars,
        id: delivery_id,
        trigger_id: &case.id,
        now,
        unsubscribe,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(created_at: i64, first: Option<i64>, solved: Option<i64>) -> Case {
        Case {
            id: format!("c{created_at}"),
            project_key: "pk".into(),
            rule_id: "r".into(),
            trigger_id: "t".into(),
            title: "x".into(),
            user_id: None,
            anonymous_id: None,
            detail: "{}".into(),
            status: if solved.is_some() { "solved" } else { "open" }.into(),
            created_at,
            closed_at: solved,
            note: None,
            priority: "normal".into(),
            assignee: None,
            first_response_at: first,
            csat_score: None,
        }
    }

    #[test]
    fn timings_are_medians_per_monday_based_week() {
        const H: i64 = 3_600_000;
        // 2023-11-13 was a Monday.
        let monday = crate::time::days_from_civil(2023, 11, 13) * 24 * H;
        let cases = [
            case(monday + H, Some(monday + 3 * H), Some(monday + 25 * H)),
            case(monday + 2 * H, Some(monday + 6 * H), None),
            case(monday + 6 * 24 * H, None, Some(monday + 6 * 24 * H + 10 * H)),
            case(monday + 7 * 24 * H, None, None),
        ];
        let t = timings(&cases);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0],
            WeekTimings {
                week: "2023-11-13".into(),
                opened: 3,
                solved: 2,
                median_first_response_ms: Some(3 * H),
                median_resolution_ms: Some(17 * H)
            }
        );
        assert_eq!((t[1].week.as_str(), t[1].opened, t[1].median_resolution_ms), ("2023-11-20", 1, None));
    }

    #[test]
    fn statuses_priorities_and_tags_parse_strictly() {
        assert_eq!(CaseStatus::parse("closed"), Some(CaseStatus::Solved));
        assert_eq!(CaseStatus::parse("pending"), None);
        assert_eq!(Priority::parse("urgent").map(Priority::as_str), Some("urgent"));
        assert_eq!(check_tag(" Export_Speed "), Ok("export_speed".into()));
        assert!(check_tag("two words").is_err());
        assert!(check_tag("").is_err());
    }

    #[test]
    fn a_reply_cannot_add_headers() {
        let c = case(0, None, None);
        let m = reply_email("A <a@x.io>", "u@x.io", "Re", "Hi\r\nBcc: evil@x.io\rX", "d1", &c, None, 0);
        let (head, body) = m.split_once("\r\n\r\n").unwrap();
        assert!(!head.contains("Bcc"), "{m}");
        assert_eq!(body, "Hi \r\nBcc: evil@x.io X\r\n");
    }
}
