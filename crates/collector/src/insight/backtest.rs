//! The health-score backtest: had today's weights scored each account at
//! some past moment, would the low scores have marked the accounts that then
//! went inactive?
//!
//! At each cutoff (every `step_days`, back from `now − horizon`), every
//! account active in the `horizon_days` before it is scored with today's
//! configuration on its events up to the cutoff, and labelled by whether
//! it had no activity at all in the `horizon_days` after it. The figures:
//! the area under the ROC curve (the chance that an account that went
//! inactive scored below one that stayed; 0.5 is a coin toss), and for
//! "score below `threshold`" as the warning, how many it flagged, how many
//! of the flagged went inactive (precision) and how many of those that went
//! inactive it flagged (recall), each with a Wilson interval.
//!
//! Pure: the caller scores an account at a cutoff ([`run`]'s `score`).

use serde::Serialize;

use super::stats::{self, Estimate};

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub now: i64,
    pub horizon_days: u32,
    pub step_days: u32,
    /// At most this many cutoffs (the latest ones).
    pub max_cutoffs: usize,
    /// A score below this is the warning being tested.
    pub threshold: u8,
}

/// One account's activity, every `ts`, in any order.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub account_id: String,
    pub activity: Vec<i64>,
}

/// One account scored at one cutoff, and what happened next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub account_id: String,
    pub cutoff: i64,
    pub score: u8,
    pub went_inactive: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backtest {
    pub horizon_days: u32,
    pub threshold: u8,
    pub cutoffs: Vec<i64>,
    /// Account × cutoff pairs scored.
    pub samples: usize,
    pub went_inactive: usize,
    /// `None` without both outcomes among the samples.
    pub auc: Option<f64>,
    /// Scored below `threshold`.
    pub flagged: usize,
    pub flagged_went_inactive: usize,
    /// Of the flagged, the share that went inactive.
    pub precision: Option<Estimate>,
    /// Of those that went inactive, the share flagged.
    pub recall: Option<Estimate>,
    /// Of those not flagged, the share that went inactive anyway (to set precision against).
    pub unflagged_inactive_rate: Option<Estimate>,
    /// In words, for the page.
    pub summary: String,
    pub detail: Vec<Sample>,
}

/// Every moment a cutoff may be: `now − horizon`, then every `step_days`
/// before it, at most `max_cutoffs`, latest first. Known before any history
/// is read, so accounts can be scored a few at a time.
pub fn moments(p: Params) -> Vec<i64> {
    let latest = p.now - i64::from(p.horizon_days) * DAY_MS;
    let step = i64::from(p.step_days.max(1)) * DAY_MS;
    (0..p.max_cutoffs as i64).map(|i| latest - i * step).collect()
}

/// The cutoffs: the [`moments`] that some activity precedes.
pub fn cutoffs(histories: &[History], p: Params) -> Vec<i64> {
    let Some(first) = histories.iter().flat_map(|h| h.activity.iter().copied()).min() else { return Vec::new() };
    moments(p).into_iter().take_while(|&at| at > first).collect()
}

/// Whether the account went inactive after `cutoff`: `None` if it was not
/// active in the horizon before it (it already was inactive, nothing to predict).
pub fn went_inactive(activity: &[i64], cutoff: i64, horizon_days: u32) -> Option<bool> {
    let h = i64::from(horizon_days) * DAY_MS;
    let before = activity.iter().any(|&t| t <= cutoff && t > cutoff - h);
    let after = activity.iter().any(|&t| t > cutoff && t <= cutoff + h);
    before.then_some(!after)
}

/// Scores every eligible account at every cutoff with `score(account,
/// cutoff)` (which must read only what was known by then; `None`: the
/// account did not exist yet) and evaluates.
pub fn run(histories: &[History], p: Params, mut score: impl FnMut(&History, i64) -> Option<u8>) -> Backtest {
    let cuts = cutoffs(histories, p);
    let mut detail = Vec::new();
    for &cutoff in &cuts {
        for h in histories {
            let Some(went_inactive) = went_inactive(&h.activity, cutoff, p.horizon_days) else { continue };
            if let Some(score) = score(h, cutoff) {
                detail.push(Sample { account_id: h.account_id.clone(), cutoff, score, went_inactive });
            }
        }
    }
    evaluate(detail, cuts, p)
}

pub fn evaluate(detail: Vec<Sample>, cutoffs: Vec<i64>, p: Params) -> Backtest {
    let samples = detail.len();
    let went = detail.iter().filter(|s| s.went_inactive).count();
    let auc =
        stats::auc_low_predicts(&detail.iter().map(|s| (f64::from(s.score), s.went_inactive)).collect::<Vec<_>>());
    let flagged = detail.iter().filter(|s| s.score < p.threshold).count();
    let hits = detail.iter().filter(|s| s.score < p.threshold && s.went_inactive).count();
    let precision = stats::wilson(hits, flagged);
    let recall = stats::wilson(hits, went);
    let unflagged_inactive_rate = stats::wilson(went - hits, samples - flagged);
    let pct = |e: Option<Estimate>| e.map_or("—".to_string(), |e| format!("{:.0}%", e.value * 100.0));
    let summary = match auc {
        None => format!(
            "not enough history: {samples} account-moments scored, {went} went inactive within {} days; \
             both outcomes are needed",
            p.horizon_days
        ),
        Some(auc) => format!(
            "AUC {auc:.2} (0.5 is a coin toss, 1 is perfect) over {samples} account-moments, {went} of which went \
             inactive within {} days. Health below {} flagged {flagged}: {} of them went inactive (against {} of \
             the others), catching {} of those that did.",
            p.horizon_days,
            p.threshold,
            pct(precision),
            pct(unflagged_inactive_rate),
            pct(recall)
        ),
    };
    Backtest {
        horizon_days: p.horizon_days,
        threshold: p.threshold,
        cutoffs,
        samples,
        went_inactive: went,
        auc,
        flagged,
        flagged_went_inactive: hits,
        precision,
        recall,
        unflagged_inactive_rate,
        summary,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use touchpoint_core::accounts::health::{score, Inputs};
    use touchpoint_core::accounts::AccountsConfig;

    const NOW: i64 = 100 * DAY_MS;

    fn days(ds: &[i64]) -> Vec<i64> {
        ds.iter().map(|d| d * DAY_MS).collect()
    }

    fn params() -> Params {
        Params { now: NOW, horizon_days: 30, step_days: 20, max_cutoffs: 5, threshold: 50 }
    }

    #[test]
    fn labels_need_activity_before_and_none_after() {
        assert_eq!(went_inactive(&days(&[20, 50]), 45 * DAY_MS, 30), Some(false));
        assert_eq!(went_inactive(&days(&[20]), 45 * DAY_MS, 30), Some(true));
        assert_eq!(went_inactive(&days(&[10]), 45 * DAY_MS, 30), None); // already quiet for 35 days
    }

    /// A small history scored by a recency-only health configuration: the
    /// accounts that went quiet had scored low, one of them did not.
    #[test]
    fn a_hand_made_history_under_real_weights() {
        let config = AccountsConfig::from_json(
            r#"{"nps": {"survey": "nps", "question": "score"}, "tiers": [{"id": "all"}],
                "health": {"signals": [{"signal": "recency", "weight": 1, "full_days": 3, "zero_days": 30}]},
                "stages": [{"id": "any"}]}"#,
        )
        .unwrap();
        let histories = vec![
            // Busy all along: high scores, never inactive.
            History { account_id: "busy".into(), activity: (0..100).step_by(2).map(|d| d * DAY_MS).collect() },
            // Fading: last seen day 45, quiet since. At cutoff 70 it was still within 30 days; then nothing.
            History { account_id: "fading".into(), activity: days(&[1, 20, 45]) },
            // Quiet then back: scored low at 50 (last seen 25), returned on 60.
            History { account_id: "returns".into(), activity: days(&[5, 25, 60, 95]) },
        ];
        let bt = run(&histories, params(), |h, cutoff| {
            let activity = h.activity.iter().copied().filter(|&t| t <= cutoff).collect();
            Some(score(&config, &Inputs { now: cutoff, activity, ..Inputs::default() }).score)
        });
        // Back from 100 − 30 by 20 days while the first activity (day 0) is before them.
        assert_eq!(bt.cutoffs, days(&[70, 50, 30, 10]));
        let got: Vec<(&str, i64, u8, bool)> =
            bt.detail.iter().map(|s| (s.account_id.as_str(), s.cutoff / DAY_MS, s.score, s.went_inactive)).collect();
        // Recency: full within 3 days, zero at 30, linear between: 1 − (d − 3)/27.
        let r = |d: f64| ((1.0 - (d - 3.0) / 27.0).clamp(0.0, 1.0) * 100.0).round() as u8;
        assert_eq!(
            got,
            vec![
                ("busy", 70, 100, false),
                ("fading", 70, r(25.0), true),
                ("returns", 70, r(10.0), false),
                ("busy", 50, 100, false),
                ("fading", 50, r(5.0), true),
                ("returns", 50, r(25.0), false),
                ("busy", 30, 100, false),
                ("fading", 30, r(10.0), false),
                ("returns", 30, r(5.0), false),
                ("busy", 10, 100, false),
                ("fading", 10, r(9.0), false),
                ("returns", 10, r(5.0), false),
            ]
        );
        assert_eq!((bt.samples, bt.went_inactive), (12, 2));
        // The two that went inactive scored 19 and 93. Against the ten others (100 ×4, 93 ×2, 78, 74 ×2, 19):
        // 19 is below nine and ties one (9.5); 93 is below four and ties two (5): 14.5 of 20 pairs.
        assert_eq!(bt.auc, Some(0.725));
        // Below 50: fading@70 (19, inactive) and returns@50 (19, stayed) → precision 1/2, recall 1/2.
        assert_eq!((bt.flagged, bt.flagged_went_inactive), (2, 1));
        assert_eq!(bt.precision.unwrap().value, 0.5);
        assert_eq!(bt.recall.unwrap().value, 0.5);
        assert!(bt.summary.starts_with("AUC "), "{}", bt.summary);
    }
}
