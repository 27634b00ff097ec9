//! Net Promoter Score arithmetic.

use serde::Serialize;

/// Where a 0–10 answer puts the respondent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// 0–6
    Detractor,
    /// 7–8
    Passive,
    /// 9–10
    Promoter,
}

impl Category {
    /// `None` for a score outside 0–10.
    pub fn of(score: u8) -> Option<Category> {
        match score {
            0..=6 => Some(Category::Detractor),
            7..=8 => Some(Category::Passive),
            9..=10 => Some(Category::Promoter),
            _ => None,
        }
    }
}

/// The tally of one survey's NPS answers, one per response.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct NpsSummary {
    pub responses: u64,
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
    /// % promoters − % detractors, from −100 to 100, rounded to one decimal;
    /// `None` while there are no responses (0 would be a claim, not a fact).
    pub nps: Option<f64>,
}

impl NpsSummary {
    /// Scores outside 0–10 are ignored: they cannot come from a valid survey.
    pub fn from_scores(scores: impl IntoIterator<Item = u8>) -> NpsSummary {
        let mut s = NpsSummary::default();
        for score in scores {
            match Category::of(score) {
                Some(Category::Detractor) => s.detractors += 1,
                Some(Category::Passive) => s.passives += 1,
                Some(Category::Promoter) => s.promoters += 1,
                None => continue,
            }
            s.responses += 1;
        }
        if s.responses > 0 {
            let raw = (s.promoters as f64 - s.detractors as f64) * 100.0 / s.responses as f64;
            s.nps = Some((raw * 10.0).round() / 10.0);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_boundaries() {
        let cats: Vec<_> = (0..=11).map(Category::of).collect();
        assert_eq!(cats[6], Some(Category::Detractor));
        assert_eq!(cats[7], Some(Category::Passive));
        assert_eq!(cats[8], Some(Category::Passive));
        assert_eq!(cats[9], Some(Category::Promoter));
        assert_eq!(cats[0], Some(Category::Detractor));
        assert_eq!(cats[11], None);
    }

    #[test]
    fn score_is_promoters_minus_detractors_percent() {
        // 3 promoters, 1 passive, 2 detractors of 6: 50% − 33.3% = 16.7
        let s = NpsSummary::from_scores([10, 9, 9, 7, 3, 0]);
        assert_eq!((s.responses, s.promoters, s.passives, s.detractors), (6, 3, 1, 2));
        assert_eq!(s.nps, Some(16.7));
        assert_eq!(NpsSummary::from_scores([0, 1]).nps, Some(-100.0));
        assert_eq!(NpsSummary::from_scores([8]).nps, Some(0.0));
    }

    #[test]
    fn no_responses_means_no_score() {
        assert_eq!(NpsSummary::from_scores([]).nps, None);
        assert_eq!(NpsSummary::from_scores([42]).responses, 0);
    }
}
