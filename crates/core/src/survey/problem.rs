//! What only a survey definition can get wrong (see `definition` for the rest).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum SurveyProblem {
    NoQuestions,
    NoEndings,
    UnknownKind(String),
    UnknownTarget { id: String },
    Cycle { ids: Vec<String> },
    Unreachable { id: String },
    BadCondition,
    ConditionNotForKind { condition: &'static str, kind: &'static str },
    ScoreOutOfScale { min: u8, max: u8, scale_min: u8, scale_max: u8 },
    InvertedRange { min: u8, max: u8 },
    UnknownChoice { id: String },
    OverlappingScores { scores: String, earlier_rule: String },
    DuplicateChoiceRule { id: String, earlier_rule: String },
    MissingScores { scores: String },
    MissingChoices { ids: Vec<String> },
    MissingFallback { kind: &'static str },
    RuleAfterAny,
    BadRatingMax { max: i64 },
    ChoicesNotAllowed { kind: &'static str },
}

impl fmt::Display for SurveyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SurveyProblem::*;
        match self {
            NoQuestions => write!(f, "a survey needs at least one question"),
            NoEndings => write!(f, "a survey needs at least one ending (where the thank-you message lives)"),
            UnknownKind(k) => {
                write!(f, "unknown kind {k:?}; expected one of {}", super::QuestionKind::NAMES.join(", "))
            }
            UnknownTarget { id } => write!(f, "{id:?} is not the id of a question or an ending"),
            Cycle { ids } => write!(f, "cycle: {} (a survey must always reach an ending)", ids.join(" → ")),
            Unreachable { id } => write!(f, "{id:?} can never be reached from the first question"),
            BadCondition => {
                write!(f, r#"expected "any", {{"score": {{"min": <n>, "max": <n>}}}} or {{"choice": "<choice id>"}}"#)
            }
            ConditionNotForKind { condition, kind } => {
                write!(f, "a {condition} rule cannot apply to a {kind} question")
            }
            ScoreOutOfScale { min, max, scale_min, scale_max } => {
                write!(f, "score range {min}–{max} is outside this question's scale {scale_min}–{scale_max}")
            }
            InvertedRange { min, max } => write!(f, "min {min} is greater than max {max}"),
            UnknownChoice { id } => write!(f, "{id:?} is not one of this question's choice ids"),
            OverlappingScores { scores, earlier_rule } => {
                write!(f, "scores {scores} are already covered by {earlier_rule}; score ranges must not overlap")
            }
            DuplicateChoiceRule { id, earlier_rule } => write!(f, "choice {id:?} is already handled by {earlier_rule}"),
            MissingScores { scores } => {
                write!(f, "no rule handles scores {scores}; add a rule for them or a final {{\"when\": \"any\"}}")
            }
            MissingChoices { ids } => write!(
                f,
                "no rule handles choice{} {}; add rules for them or a final {{\"when\": \"any\"}}",
                if ids.len() == 1 { "" } else { "s" },
                ids.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join(", ")
            ),
            MissingFallback { kind } => {
                write!(f, "a {kind} question needs a final {{\"when\": \"any\"}} rule or a \"next\" to go on to")
            }
            RuleAfterAny => write!(f, "this rule comes after an \"any\" rule and can never match"),
            BadRatingMax { max } => write!(f, "rating max must be between 3 and 10, got {max}"),
            ChoicesNotAllowed { kind } => write!(f, "a {kind} question has no choices"),
        }
    }
}
