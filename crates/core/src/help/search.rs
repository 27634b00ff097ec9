//! Instant search over help articles: ranked by where the words match
//! (title over tags over body), tolerant of a typo or two, and prefix-aware
//! so results appear while a word is still being typed.

use super::article::Article;
use super::markdown;

pub struct Index {
    docs: Vec<Doc>,
}

struct Doc {
    title: Vec<String>,
    tags: Vec<String>,
    body: Vec<String>,
    title_text: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Index into the articles the index was built from.
    pub article: usize,
    pub score: f32,
}

fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_lowercase).collect()
}

/// How well query word `q` matches document word `w`: exact, prefix, or
/// within the typo budget (1 edit from 4 letters, 2 from 8).
fn closeness(q: &str, w: &str) -> f32 {
    if q == w {
        return 1.0;
    }
    if q.len() >= 2 && w.starts_with(q) {
        return 0.7;
    }
    let n = q.chars().count();
    let budget = match n {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    if budget > 0 && edit_distance(q, w, budget) <= budget {
        return 0.5;
    }
    0.0
}

/// Optimal-string-alignment distance (a swap of neighbours is one edit),
/// stopping early once over `limit`.
fn edit_distance(a: &str, b: &str, limit: usize) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > limit {
        return limit + 1;
    }
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        if cur.iter().min().copied().unwrap_or(0) > limit {
            return limit + 1;
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

impl Index {
    pub fn new(articles: &[Article]) -> Index {
        let docs = articles
            .iter()
            .map(|a| Doc {
                title: tokens(&a.title),
                tags: a.tags.iter().flat_map(|t| tokens(t)).collect(),
                body: {
                    let mut words = tokens(&markdown::plain_text(&a.blocks()));
                    words.sort();
                    words.dedup();
                    words
                },
                title_text: a.title.clone(),
            })
            .collect();
        Index { docs }
    }

    /// Articles matching every word of `query`, best first. An empty query finds nothing.
    pub fn search(&self, query: &str) -> Vec<Hit> {
        let q = tokens(query);
        if q.is_empty() {
            return Vec::new();
        }
        let best = |words: &[String], qw: &str| words.iter().map(|w| closeness(qw, w)).fold(0.0f32, f32::max);
        let mut hits: Vec<Hit> = self
            .docs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let mut score = 0.0;
                for qw in &q {
                    let s = (best(&d.title, qw) * 10.0).max(best(&d.tags, qw) * 6.0).max(best(&d.body, qw) * 2.0);
                    if s == 0.0 {
                        return None;
                    }
                    score += s;
                }
                Some(Hit { article: i, score })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| self.docs[a.article].title_text.cmp(&self.docs[b.article].title_text))
        });
        hits
    }
}
