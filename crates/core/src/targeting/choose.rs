//! Several experiences eligible at once: which one gets the screen.

use super::context::Context;
use super::definition::{Experience, Experiences};
use super::rules::{evaluate, Reason, Verdict};

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

/// What the attention budget decides now: the experience to show next (and
/// when), and every experience's verdict. An experience that is eligible but
/// loses to `next` is blocked as [`Reason::Queued`], so `why()` can say so.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule<'a> {
    pub next: Option<Pick<'a>>,
    /// In file order (surveys, then nudges).
    pub verdicts: Vec<(&'a Experience, Verdict)>,
}

impl<'a> Schedule<'a> {
    pub fn verdict(&self, id: &str) -> Option<&Verdict> {
        self.verdicts.iter().find(|(e, _)| e.id() == id).map(|(_, v)| v)
    }
}

impl Experiences {
    /// See [`Schedule`].
    pub fn schedule(&self, ctx: &Context) -> Schedule<'_> {
        let next = self.pick(ctx);
        let verdicts = self
            .all()
            .iter()
            .map(|e| {
                let verdict = match (evaluate(e, ctx), &next) {
                    (Verdict::Eligible { .. }, Some(p)) if p.experience.id() != e.id() => {
                        Verdict::Blocked(Reason::Queued {
                            first: p.experience.id().to_owned(),
                            first_priority: p.experience.priority(),
                            priority: e.priority(),
                        })
                    }
                    (v, _) => v,
                };
                (e, verdict)
            })
            .collect();
        Schedule { next, verdicts }
    }

    /// See [`pick`].
    pub fn pick(&self, ctx: &Context) -> Option<Pick<'_>> {
        pick(self.all(), ctx)
    }
}
