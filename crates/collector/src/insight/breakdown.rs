//! NPS and response rate side by side per group (segment, tier or plan),
//! each with its sample size and NPS trend, and against the previous period.
//! Pure: the caller says which group a response belongs to.

use std::collections::BTreeMap;

use serde::Serialize;
use touchpoint_core::nps::NpsSummary;

use crate::dashboard::Response;
use crate::time::{self, Interval};

/// What to break down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    Segment,
    Tier,
    Plan,
}

impl By {
    pub fn parse(v: Option<&str>) -> Result<By, String> {
        match v {
            None | Some("segment") => Ok(By::Segment),
            Some("tier") => Ok(By::Tier),
            Some("plan") => Ok(By::Plan),
            Some(other) => Err(format!("by must be segment, tier or plan, not {other:?}")),
        }
    }
}

/// The label of people in no group (no account, no such trait).
pub const NONE: &str = "(none)";

#[derive(Debug, Serialize)]
pub struct Group {
    pub group: String,
    /// Showings (responses of any state): the response rate's sample size.
    pub showings: usize,
    pub answered: usize,
    /// Percent, one decimal; `None` without showings.
    pub response_rate: Option<f64>,
    /// NPS with its sample size (`responses`).
    pub nps: NpsSummary,
    pub trend: Vec<Point>,
    /// The same group in the previous period, when one was asked for.
    pub previous: Option<NpsSummary>,
    /// This period's NPS minus the previous one's.
    pub change: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Point {
    pub start: i64,
    pub label: String,
    #[serde(flatten)]
    pub nps: NpsSummary,
}

/// Groups `responses` with `group_of` and reports each group (largest
/// first); `previous` are the responses of the period before, grouped alike.
pub fn breakdown(
    responses: &[Response],
    previous: Option<&[Response]>,
    nps_question: Option<&str>,
    interval: Interval,
    group_of: impl Fn(&Response) -> String,
) -> Vec<Group> {
    let score = |r: &Response| nps_question.and_then(|q| r.score(q));
    let mut groups: BTreeMap<String, Vec<&Response>> = BTreeMap::new();
    for r in responses {
        groups.entry(group_of(r)).or_default().push(r);
    }
    let mut before: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for r in previous.unwrap_or_default() {
        if let Some((_, s)) = score(r) {
            before.entry(group_of(r)).or_default().push(s);
        }
    }
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(group, rs)| {
            let answered = rs.iter().filter(|r| !r.answers.is_empty()).count();
            let scores: Vec<(i64, u8)> = rs.iter().filter_map(|r| score(r)).collect();
            let mut periods: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
            for &(ts, s) in &scores {
                periods.entry(time::period_start(ts, interval)).or_default().push(s);
            }
            let trend = periods
                .into_iter()
                .map(|(start, s)| Point {
                    start,
                    label: match interval {
                        Interval::Month => time::date(start)[..7].to_string(),
                        _ => time::date(start),
                    },
                    nps: NpsSummary::from_scores(s),
                })
                .collect();
            let nps = NpsSummary::from_scores(scores.iter().map(|&(_, s)| s));
            let previous = previous.map(|_| NpsSummary::from_scores(before.remove(&group).unwrap_or_default()));
            let change = match (&previous, nps.nps) {
                (Some(p), Some(now)) => p.nps.map(|then| ((now - then) * 10.0).round() / 10.0),
                _ => None,
            };
            let response_rate = (!rs.is_empty()).then(|| (answered as f64 * 1000.0 / rs.len() as f64).round() / 10.0);
            Group { group, showings: rs.len(), answered, response_rate, nps, trend, previous, change }
        })
        .collect();
    out.sort_by(|a, b| b.showings.cmp(&a.showings).then_with(|| a.group.cmp(&b.group)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use touchpoint_protocol::AnswerValue;

    fn response(id: &str, user: &str, ts: i64, score: Option<u8>) -> Response {
        let mut answers = HashMap::new();
        if let Some(s) = score {
            answers.insert("score".to_string(), (ts, AnswerValue::Score(s)));
        }
        Response {
            id: id.into(),
            anonymous_id: format!("b-{user}"),
            user_id: Some(user.into()),
            first_ts: ts,
            last_ts: ts,
            answers,
            ending: None,
            dismissed: false,
        }
    }

    #[test]
    fn groups_side_by_side_with_sizes_trend_and_change() {
        let week = 7 * time::DAY_MS;
        let t0 = time::days_from_civil(2023, 11, 13) * time::DAY_MS; // a Monday
        let now = vec![
            response("1", "big1", t0, Some(10)),
            response("2", "big2", t0 + week, Some(0)),
            response("3", "big3", t0 + week, None),
            response("4", "small1", t0, Some(9)),
        ];
        let before = vec![response("0", "big1", t0 - week, Some(3)), response("5", "small1", t0 - week, Some(9))];
        let group = |r: &Response| {
            if r.user_id.as_deref().unwrap().starts_with("big") { "large_org" } else { "small_team" }.to_string()
        };
        let g = breakdown(&now, Some(&before), Some("score"), Interval::Week, group);
        assert_eq!(
            g.iter().map(|g| (g.group.as_str(), g.showings, g.answered)).collect::<Vec<_>>(),
            [("large_org", 3, 2), ("small_team", 1, 1)]
        );
        let big = &g[0];
        assert_eq!(big.response_rate, Some(66.7));
        assert_eq!((big.nps.responses, big.nps.nps), (2, Some(0.0)));
        assert_eq!(
            big.trend.iter().map(|p| (p.label.as_str(), p.nps.nps)).collect::<Vec<_>>(),
            [("2023-11-13", Some(100.0)), ("2023-11-20", Some(-100.0))]
        );
        assert_eq!(big.previous.as_ref().unwrap().nps, Some(-100.0));
        assert_eq!(big.change, Some(100.0));
        assert_eq!(g[1].change, Some(0.0));
    }
}
