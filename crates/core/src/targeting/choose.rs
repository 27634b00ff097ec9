//! Several experiences eligible at once: which one gets the screen.

use super::context::Context;
use super::definition::{Experience, Experiences};
use super::rules::{evaluate, Verdict};

/// The experience to show next, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick<'a> {
    pub experience: &'a Experience,
    pub show_at_ms: i64,
}

/// Among `candidates`, the eligible one with the highest priority (ties: the
/// smallest id). `None` when none is eligible — in particular whenever a
/// survey is on screen, since the on-screen rule blocks every candidate.
/// Priority wins over timing: a delayed higher-priority survey is picked
/// over a lower-priority one that could show now.
pub fn pick<'a>(candidates: impl IntoIterator<Item = &'a Experience>, ctx: &Context) -> Option<Pick<'a>> {
    candidates
        .into_iter()
        .filter_map(|e| match evaluate(e, ctx) {
            Verdict::Eligible { show_at_ms } => Some(Pick { experience: e, show_at_ms }),
            Verdict::Blocked(_) => None,
        })
        .min_by(|a, b| {
            b.experience.priority().cmp(&a.experience.priority()).then_with(|| a.experience.id().cmp(b.experience.id()))
        })
}

impl Experiences {
    /// Every survey with its verdict, in file order (a debug overlay, a dry run).
    pub fn evaluate_all(&self, ctx: &Context) -> Vec<(&Experience, Verdict)> {
        self.surveys().iter().map(|e| (e, evaluate(e, ctx))).collect()
    }

    /// See [`pick`].
    pub fn pick(&self, ctx: &Context) -> Option<Pick<'_>> {
        pick(self.surveys(), ctx)
    }
}
