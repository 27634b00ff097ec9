use std::ops::RangeInclusive;

use touchpoint_protocol::Action;

/// A validated survey. It can only be built by [`Survey::from_json`] (or
/// [`Survey::from_value`]), so holding one means: ids are unique, every
/// `next` points somewhere, there are no cycles, every question is reachable
/// and every possible answer leads somewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub(super) id: String,
    /// In the reader's locale when the file gives it per locale.
    pub(super) title: Option<String>,
    pub(super) questions: Vec<Question>,
    pub(super) endings: Vec<Ending>,
}

impl Survey {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }
    /// Where every showing starts; a survey has at least one question.
    pub fn first_question(&self) -> &Question {
        &self.questions[0]
    }
    pub fn questions(&self) -> &[Question] {
        &self.questions
    }
    pub fn endings(&self) -> &[Ending] {
        &self.endings
    }
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }
    /// The survey's 0–10 question, the one its NPS is computed from.
    pub fn nps_question(&self) -> Option<&Question> {
        self.questions.iter().find(|q| matches!(q.kind, QuestionKind::Nps { .. }))
    }
    pub(super) fn target_question(&self, t: Target) -> Option<&Question> {
        match t {
            Target::Question(i) => self.questions.get(i),
            Target::Ending(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub(super) id: String,
    pub(super) text: String,
    pub(super) kind: QuestionKind,
    /// In order; the first match wins. A question-level `next` is folded in
    /// as a last `Any` rule.
    pub(super) rules: Vec<Rule>,
}

impl Question {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn text(&self) -> &str {
        &self.text
    }
    pub fn kind(&self) -> &QuestionKind {
        &self.kind
    }
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum QuestionKind {
    /// 0–10 "how likely are you to recommend".
    Nps {
        low_label: Option<String>,
        high_label: Option<String>,
    },
    /// 1–`max` stars or points.
    Rating {
        max: u8,
        low_label: Option<String>,
        high_label: Option<String>,
    },
    SingleChoice {
        choices: Vec<Choice>,
    },
    /// At least one choice must be picked.
    MultiChoice {
        choices: Vec<Choice>,
    },
    /// Free text; `optional` allows an empty answer.
    Text {
        optional: bool,
        placeholder: Option<String>,
    },
}

impl QuestionKind {
    pub const NAMES: &'static [&'static str] = &["nps", "single_choice", "multi_choice", "text", "rating"];

    pub fn name(&self) -> &'static str {
        match self {
            QuestionKind::Nps { .. } => "nps",
            QuestionKind::Rating { .. } => "rating",
            QuestionKind::SingleChoice { .. } => "single_choice",
            QuestionKind::MultiChoice { .. } => "multi_choice",
            QuestionKind::Text { .. } => "text",
        }
    }

    /// The scores a score question accepts.
    pub fn scale(&self) -> Option<RangeInclusive<u8>> {
        match self {
            QuestionKind::Nps { .. } => Some(0..=10),
            QuestionKind::Rating { max, .. } => Some(1..=*max),
            _ => None,
        }
    }

    pub fn choices(&self) -> &[Choice] {
        match self {
            QuestionKind::SingleChoice { choices } | QuestionKind::MultiChoice { choices } => choices,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub when: Condition,
    pub next: Target,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Score within `min..=max` (nps, rating).
    Score {
        min: u8,
        max: u8,
    },
    /// This choice was picked (single_choice), or is among those picked (multi_choice).
    Choice(String),
    Any,
}

/// Where a rule leads: indices into the survey's questions or endings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Question(usize),
    Ending(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub(super) id: String,
    pub(super) title: Option<String>,
    pub(super) message: String,
    pub(super) actions: Vec<Action>,
}

impl Ending {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Follow-ups for the backend, recorded in `survey_completed`.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }
}
