//! The arithmetic of comparing two groups: rates with Wilson intervals, a
//! risk ratio ("lift") with its log interval, a difference of means or of
//! NPS with a normal interval, and the area under the ROC curve. Pure
//! functions on counts, so each can be checked against figures worked by hand.

use serde::Serialize;

/// The two-sided 95% normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// An estimate with a 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    /// Whether the interval leaves out `null` (1 for a ratio, 0 for a difference).
    pub fn excludes(&self, null: f64) -> bool {
        self.low > null || self.high < null
    }
}

/// `k` of `n`, as a share with its Wilson score interval (which stays
/// inside 0–1 and behaves for small `n` or `k` at either end); `None` when
/// `n` is 0.
pub fn wilson(k: usize, n: usize) -> Option<Estimate> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Estimate { value: p, low: (centre - half).max(0.0), high: (centre + half).min(1.0) })
}

/// The ratio of the rate `a_k / a_n` to `b_k / b_n` with the Katz log
/// interval. A zero count would make the ratio 0 or infinite, so then every
/// cell gets half a count added (Haldane's correction); `None` when a group
/// is empty.
pub fn risk_ratio(a_k: usize, a_n: usize, b_k: usize, b_n: usize) -> Option<Estimate> {
    if a_n == 0 || b_n == 0 {
        return None;
    }
    let zero = a_k == 0 || b_k == 0 || a_k == a_n || b_k == b_n;
    let c = if zero { 0.5 } else { 0.0 };
    let (a, an, b, bn) = (a_k as f64 + c, a_n as f64 + 2.0 * c, b_k as f64 + c, b_n as f64 + 2.0 * c);
    let ratio = (a / an) / (b / bn);
    let se = (1.0 / a - 1.0 / an + 1.0 / b - 1.0 / bn).sqrt();
    Some(Estimate { value: ratio, low: (ratio.ln() - Z95 * se).exp(), high: (ratio.ln() + Z95 * se).exp() })
}

/// Mean and variance of a sample (`None` when empty; variance with n − 1, 0 for one value).
pub fn mean_var(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = if n > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
    Some((mean, var))
}

/// The difference of two means with a normal (Welch) interval; `None` when
/// a sample is empty.
pub fn mean_difference(a: &[f64], b: &[f64]) -> Option<Estimate> {
    let ((ma, va), (mb, vb)) = (mean_var(a)?, mean_var(b)?);
    let diff = ma - mb;
    let se = (va / a.len() as f64 + vb / b.len() as f64).sqrt();
    Some(Estimate { value: diff, low: diff - Z95 * se, high: diff + Z95 * se })
}

/// NPS of 0–10 scores (−100…100) is the mean of +100 per promoter, −100 per
/// detractor and 0 per passive, so the difference of two groups' NPS has the
/// interval of a difference of means of those values.
pub fn nps_points(scores: &[u8]) -> Vec<f64> {
    scores
        .iter()
        .map(|&s| match s {
            9..=10 => 100.0,
            7..=8 => 0.0,
            _ => -100.0,
        })
        .collect()
}

/// The area under the ROC curve of a score that should be *low* for the
/// positives: the chance that a random positive scores below a random
/// negative (ties count half). 0.5 is a coin toss, 1 perfect; `None`
/// without both kinds.
pub fn auc_low_predicts(samples: &[(f64, bool)]) -> Option<f64> {
    let mut sorted: Vec<(f64, bool)> = samples.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = sorted.iter().filter(|s| s.1).count();
    let negatives = sorted.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Mann–Whitney: for each positive, the negatives scoring above it, ties half, by runs of equal scores.
    let mut wins = 0.0;
    let mut negatives_below = 0usize;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let run_pos = sorted[i..j].iter().filter(|s| s.1).count();
        let run_neg = (j - i) - run_pos;
        let above = negatives - negatives_below - run_neg;
        wins += run_pos as f64 * (above as f64 + run_neg as f64 / 2.0);
        negatives_below += run_neg;
        i = j;
    }
    Some(wins / (positives * negatives) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-4
    }

    #[test]
    fn wilson_matches_worked_values() {
        // 8 of 10: 0.490–0.943 (Wilson, 95%).
        let e = wilson(8, 10).unwrap();
        assert!(close(e.value, 0.8) && close(e.low, 0.4902) && close(e.high, 0.9433), "{e:?}");
        // 0 of 10 stays at 0 below and 0.278 above.
        let e = wilson(0, 10).unwrap();
        assert!(close(e.low, 0.0) && close(e.high, 0.2775), "{e:?}");
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn risk_ratio_and_its_log_interval() {
        // 20/25 against 5/25: ratio 4, se = sqrt(1/20 − 1/25 + 1/5 − 1/25) = sqrt(0.17).
        let e = risk_ratio(20, 25, 5, 25).unwrap();
        let se = 0.17f64.sqrt();
        assert!(close(e.value, 4.0), "{e:?}");
        assert!(close(e.low, (4f64.ln() - Z95 * se).exp()) && close(e.high, (4f64.ln() + Z95 * se).exp()));
        assert!(e.excludes(1.0));
        // Equal rates: ratio 1, interval around it.
        let e = risk_ratio(5, 10, 5, 10).unwrap();
        assert!(close(e.value, 1.0) && !e.excludes(1.0));
        // A zero cell: Haldane's half counts keep the ratio finite.
        let e = risk_ratio(10, 10, 0, 10).unwrap();
        assert!(close(e.value, (10.5 / 11.0) / (0.5 / 11.0)) && e.high.is_finite());
        assert_eq!(risk_ratio(1, 0, 1, 2), None);
    }

    #[test]
    fn mean_difference_with_welch_interval() {
        let a = [80.0, 90.0, 70.0];
        let b = [40.0, 60.0];
        let e = mean_difference(&a, &b).unwrap();
        // Means 80 and 50; variances 100 and 200: se = sqrt(100/3 + 200/2).
        let se = (100.0f64 / 3.0 + 100.0).sqrt();
        assert!(close(e.value, 30.0) && close(e.low, 30.0 - Z95 * se) && close(e.high, 30.0 + Z95 * se));
        assert_eq!(mean_difference(&a, &[]), None);
        assert_eq!(nps_points(&[10, 9, 8, 7, 6, 0]), vec![100.0, 100.0, 0.0, 0.0, -100.0, -100.0]);
    }

    #[test]
    fn auc_counts_pairs_with_ties_half() {
        // Positives (went inactive) score 10 and 50; negatives 50 and 90.
        // Pairs: 10<50 ✓, 10<90 ✓, 50=50 ½, 50<90 ✓ → 3.5 of 4.
        let samples = [(10.0, true), (50.0, true), (50.0, false), (90.0, false)];
        assert_eq!(auc_low_predicts(&samples), Some(0.875));
        // Perfectly wrong, and undefined without negatives.
        assert_eq!(auc_low_predicts(&[(90.0, true), (10.0, false)]), Some(0.0));
        assert_eq!(auc_low_predicts(&[(1.0, true)]), None);
    }
}
