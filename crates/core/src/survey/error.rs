use std::fmt;

/// Everything wrong with a survey definition, all at once, so an author can
/// fix them in one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionErrors(pub Vec<DefinitionError>);

impl DefinitionErrors {
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().map(|e| &e.problem)
    }
}

impl fmt::Display for DefinitionErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "invalid survey definition ({n} problem{}):", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DefinitionErrors {}

/// One problem, at a JSON path such as `questions[1].rules[0].next`.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionError {
    pub path: String,
    pub problem: Problem,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    InvalidJson(String),
    WrongType {
        expected: &'static str,
    },
    MissingField,
    UnknownField {
        allowed: &'static [&'static str],
    },
    Empty,
    NoQuestions,
    NoEndings,
    UnknownKind(String),
    DuplicateId {
        id: String,
        first: String,
    },
    UnknownTarget {
        id: String,
    },
    Cycle {
        ids: Vec<String>,
    },
    Unreachable {
        id: String,
    },
    BadCondition,
    ConditionNotForKind {
        condition: &'static str,
        kind: &'static str,
    },
    ScoreOutOfScale {
        min: u8,
        max: u8,
        scale_min: u8,
        scale_max: u8,
    },
    InvertedRange {
        min: u8,
        max: u8,
    },
    UnknownChoice {
        id: String,
    },
    OverlappingScores {
        scores: String,
        earlier_rule: String,
    },
    DuplicateChoiceRule {
        id: String,
        earlier_rule: String,
    },
    MissingScores {
        scores: String,
    },
    MissingChoices {
        ids: Vec<String>,
    },
    MissingFallback {
        kind: &'static str,
    },
    RuleAfterAny,
    BadRatingMax {
        max: i64,
    },
    ChoicesNotAllowed {
        kind: &'static str,
    },
    // Checklists
    UnknownItem {
        id: String,
    },
    DependencyCycle {
        ids: Vec<String>,
    },
    UnknownChecklist {
        id: String,
    },
    NoDefaultSegment,
    DefaultNotLast {
        id: String,
    },
    UnknownOperator {
        op: String,
    },
    BadCount,
    // Targeting
    OutOfRange {
        min: i64,
        max: i64,
        got: String,
    },
    BadUrlPattern {
        pattern: String,
    },
    NotOneOf {
        expected: &'static str,
        got: String,
    },
    BadLocale {
        tag: String,
    },
    // Accounts
    UnknownSignal {
        name: String,
    },
    NotAfter {
        earlier: String,
    },
    NumberOutOfRange {
        min: f64,
        max: f64,
        got: String,
    },
    /// A link target that looks like a path but leads to another host.
    OffSite {
        url: String,
        why: crate::links::OffSite,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Problem::*;
        match self {
            InvalidJson(e) => write!(f, "not valid JSON: {e}"),
            WrongType { expected } => write!(f, "expected {expected}"),
            MissingField => write!(f, "is required but missing"),
            UnknownField { allowed } => write!(f, "unknown field; allowed here: {}", allowed.join(", ")),
            Empty => write!(f, "must not be empty"),
            NoQuestions => write!(f, "a survey needs at least one question"),
            NoEndings => write!(f, "a survey needs at least one ending (where the thank-you message lives)"),
            UnknownKind(k) => {
                write!(f, "unknown kind {k:?}; expected one of {}", super::QuestionKind::NAMES.join(", "))
            }
            DuplicateId { id, first } => write!(f, "duplicate id {id:?}, already used at {first}"),
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
            UnknownItem { id } => write!(f, "{id:?} is not an item of this checklist"),
            DependencyCycle { ids } => write!(f, "items depend on each other in a circle: {}", ids.join(" → ")),
            UnknownChecklist { id } => write!(f, "{id:?} is not the id of a checklist in this file"),
            NoDefaultSegment => {
                write!(f, "no default segment: add a last segment without \"when\" for users who match no other")
            }
            DefaultNotLast { id } => {
                write!(
                    f,
                    "segment {id:?} has no \"when\", so it matches everyone and the segments after it never apply"
                )
            }
            UnknownOperator { op } => {
                write!(f, "unknown operator {op:?}; expected one of {}", super::super::checklist::Op::NAMES.join(", "))
            }
            BadCount => write!(f, "count must be a whole number of at least 1"),
            OutOfRange { min, max, got } => write!(f, "must be a whole number from {min} to {max}, got {got}"),
            BadUrlPattern { pattern } => write!(
                f,
                "URL pattern {pattern:?} must start with / or * (it is matched against the page path, e.g. /app/*)"
            ),
            NotOneOf { expected, got } => write!(f, "must be {expected}, got {got}"),
            BadLocale { tag } => write!(f, "{tag:?} is not a locale tag such as \"en\" or \"pt-BR\""),
            UnknownSignal { name } => {
                write!(f, "unknown signal {name:?}; expected one of {}", crate::accounts::Signal::NAMES.join(", "))
            }
            NotAfter { earlier } => write!(f, "must be greater than {earlier}"),
            NumberOutOfRange { min, max, got } => write!(f, "must be a number from {min} to {max}, got {got}"),
            OffSite { url, why } => write!(f, "{url:?} {why}"),
        }
    }
}
