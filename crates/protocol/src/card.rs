//! The card form: a survey as the widget's first module reads it, served by
//! `GET /v1/surveys/{id}?form=card&locale=…`.
//!
//! The collector validates every definition once, at startup; the card form
//! is the validated graph written out, so the page reads it with
//! `JSON.parse` and property access and re-checks nothing. This is a
//! versioned wire contract: `"form"` names its version ([`CARD_FORM`]), and
//! any change a reader could notice gets a new version.
//!
//! ```json
//! { "form": "card/1", "id": "nps", "title": "How are we doing?",
//!   "questions": [
//!     { "id": "score", "kind": "nps", "text": "How likely …?",
//!       "min": 0, "max": 10, "low": "Not at all likely", "high": "Extremely likely",
//!       "rules": [ { "min": 0, "max": 6, "q": 1 }, { "min": 7, "max": 10, "end": 0 } ] },
//!     { "id": "obstacle", "kind": "single_choice", "text": "What got in the way?",
//!       "choices": [ { "id": "price", "label": "Price" }, { "id": "other", "label": "Something else" } ],
//!       "rules": [ { "choice": "price", "end": 0 }, { "end": 1 } ] } ],
//!   "endings": [ { "id": "thanks", "title": "Thank you!", "message": "…",
//!                  "actions": [ { "action": "webhook" } ] },
//!                { "id": "bye", "message": "…", "actions": [] } ] }
//! ```
//!
//! - `title` (survey and ending) is omitted when absent; `version` (the
//!   published version of the project's survey, recorded by the widget as
//!   `survey_version` in its survey events) too.
//! - A question has `id`, `kind` (`nps`, `rating`, `single_choice`,
//!   `multi_choice`, `text`), `text` and `rules`, and by kind:
//!   score kinds `min` and `max` (nps 0–10, rating 1–`max`), `low` and
//!   `high` (each omitted when absent); choice kinds `choices`
//!   (`{"id", "label"}`); text `optional` (only when `true`) and
//!   `placeholder` (omitted when absent).
//! - Texts are already in the reader's language; ids are never shown.
//! - An ending's `actions` are written as [`Action`] serializes them (`[]`
//!   when it has none); the widget records them in `survey_completed`.
//!
//! **Rules.** The first question (index 0) is where a showing starts. After
//! an answer, the first rule (in order) whose condition holds decides the
//! next step. A rule's condition is `min` + `max` (a score within, both
//! inclusive), or `choice` (that choice id was picked: the answer of a
//! `single_choice`, or among the answers of a `multi_choice`), or neither
//! (any answer). Its destination is exactly one of `q` (an index into
//! `questions`) or `end` (an index into `endings`).
//!
//! **Guarantees** of a card form written from a validated survey: every
//! answer the question accepts matches some rule, every index is in bounds,
//! and following the rules always reaches an ending.

use serde::{Deserialize, Deserializer, Serialize};

use crate::Action;

/// The version of the card form this crate reads and writes.
pub const CARD_FORM: &str = "card/1";

/// A validated survey, written for the widget to show without re-checking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardSurvey {
    /// Always [`CARD_FORM`]; reading any other value is an error.
    #[serde(deserialize_with = "card_form")]
    pub form: String,
    pub id: String,
    /// The published version this form was written from (content kept per
    /// project); the widget records it in its survey events. Absent for a
    /// survey from the collector's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// At least one; the first is where every showing starts.
    pub questions: Vec<CardQuestion>,
    pub endings: Vec<CardEnding>,
}

impl CardSurvey {
    /// A card form of the current version ([`CARD_FORM`]).
    pub fn new(
        id: String,
        title: Option<String>,
        questions: Vec<CardQuestion>,
        endings: Vec<CardEnding>,
    ) -> CardSurvey {
        CardSurvey { form: CARD_FORM.to_owned(), id, version: None, title, questions, endings }
    }
}

fn card_form<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let form = String::deserialize(d)?;
    if form == CARD_FORM {
        Ok(form)
    } else {
        Err(serde::de::Error::custom(format!("unsupported card form {form:?}; this reader knows {CARD_FORM:?}")))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardQuestion {
    pub id: String,
    /// `"kind"` and the fields of that kind, side by side with the others.
    #[serde(flatten)]
    pub kind: CardKind,
    pub text: String,
    /// In order; the first whose condition holds wins.
    pub rules: Vec<CardRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CardKind {
    /// 0–10 "how likely are you to recommend".
    Nps(CardScale),
    /// 1–`max` stars or points.
    Rating(CardScale),
    SingleChoice {
        choices: Vec<CardChoice>,
    },
    /// At least one choice must be picked.
    MultiChoice {
        choices: Vec<CardChoice>,
    },
    /// Free text; `optional` allows an empty answer.
    Text {
        #[serde(default, skip_serializing_if = "is_false")]
        optional: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        placeholder: Option<String>,
    },
}

impl CardKind {
    /// The `"kind"` on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            CardKind::Nps(_) => "nps",
            CardKind::Rating(_) => "rating",
            CardKind::SingleChoice { .. } => "single_choice",
            CardKind::MultiChoice { .. } => "multi_choice",
            CardKind::Text { .. } => "text",
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The scores a score question accepts, `min..=max`, and the labels of its ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardScale {
    pub min: u8,
    pub max: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardChoice {
    /// What the answer carries.
    pub id: String,
    /// What the reader sees.
    pub label: String,
}

/// One rule: on the wire a flat object, `{"min", "max" | "choice" | none}`
/// plus exactly one of `{"q"}` or `{"end"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "WireRule", try_from = "WireRule")]
pub struct CardRule {
    pub when: CardCondition,
    pub next: CardTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardCondition {
    /// A score within `min..=max`.
    Score { min: u8, max: u8 },
    /// This choice was picked (single_choice), or is among those picked (multi_choice).
    Choice(String),
    /// Every answer.
    Any,
}

/// Where a rule leads: an index into the survey's questions or endings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardTarget {
    Question(usize),
    Ending(usize),
}

/// [`CardRule`] as it is written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    choice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<usize>,
}

impl From<CardRule> for WireRule {
    fn from(rule: CardRule) -> WireRule {
        let (min, max, choice) = match rule.when {
            CardCondition::Score { min, max } => (Some(min), Some(max), None),
            CardCondition::Choice(id) => (None, None, Some(id)),
            CardCondition::Any => (None, None, None),
        };
        let (q, end) = match rule.next {
            CardTarget::Question(i) => (Some(i), None),
            CardTarget::Ending(i) => (None, Some(i)),
        };
        WireRule { min, max, choice, q, end }
    }
}

impl TryFrom<WireRule> for CardRule {
    type Error = &'static str;

    fn try_from(w: WireRule) -> Result<CardRule, &'static str> {
        let when = match (w.min, w.max, w.choice) {
            (Some(min), Some(max), None) => CardCondition::Score { min, max },
            (None, None, Some(id)) => CardCondition::Choice(id),
            (None, None, None) => CardCondition::Any,
            _ => return Err("a rule's condition is \"min\" with \"max\", or \"choice\", or neither"),
        };
        let next = match (w.q, w.end) {
            (Some(i), None) => CardTarget::Question(i),
            (None, Some(i)) => CardTarget::Ending(i),
            _ => return Err("a rule needs exactly one of \"q\" and \"end\""),
        };
        Ok(CardRule { when, next })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardEnding {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub message: String,
    /// Follow-ups for the backend, recorded in `survey_completed`.
    #[serde(default)]
    pub actions: Vec<Action>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn rule(when: CardCondition, next: CardTarget) -> CardRule {
        CardRule { when, next }
    }

    fn sample() -> CardSurvey {
        let mut code = crate::Props::new();
        code.insert("code".into(), json!("trial_extension_14d"));
        CardSurvey::new(
            "nps".into(),
            Some("How are we doing?".into()),
            vec![
                CardQuestion {
                    id: "score".into(),
                    kind: CardKind::Nps(CardScale { min: 0, max: 10, low: Some("Not likely".into()), high: None }),
                    text: "How likely?".into(),
                    rules: vec![
                        rule(CardCondition::Score { min: 0, max: 6 }, CardTarget::Question(1)),
                        rule(CardCondition::Score { min: 7, max: 10 }, CardTarget::Question(2)),
                    ],
                },
                CardQuestion {
                    id: "why".into(),
                    kind: CardKind::MultiChoice {
                        choices: vec![
                            CardChoice { id: "price".into(), label: "Price".into() },
                            CardChoice { id: "other".into(), label: "Other".into() },
                        ],
                    },
                    text: "Why?".into(),
                    rules: vec![
                        rule(CardCondition::Choice("price".into()), CardTarget::Ending(0)),
                        rule(CardCondition::Any, CardTarget::Question(2)),
                    ],
                },
                CardQuestion {
                    id: "more".into(),
                    kind: CardKind::Text { optional: true, placeholder: None },
                    text: "Anything else?".into(),
                    rules: vec![rule(CardCondition::Any, CardTarget::Ending(1))],
                },
            ],
            vec![
                CardEnding {
                    id: "offer".into(),
                    title: Some("On us".into()),
                    message: "Two weeks more.".into(),
                    actions: vec![Action { action: "offer".into(), params: code }],
                },
                CardEnding { id: "thanks".into(), title: None, message: "Thanks!".into(), actions: vec![] },
            ],
        )
    }

    /// The exact wire shape the widget is written against.
    #[test]
    fn the_card_form_on_the_wire() {
        let wire = serde_json::to_value(sample()).unwrap();
        assert_eq!(
            wire,
            json!({
                "form": "card/1", "id": "nps", "title": "How are we doing?",
                "questions": [
                    { "id": "score", "kind": "nps", "text": "How likely?", "min": 0, "max": 10, "low": "Not likely",
                      "rules": [ { "min": 0, "max": 6, "q": 1 }, { "min": 7, "max": 10, "q": 2 } ] },
                    { "id": "why", "kind": "multi_choice", "text": "Why?",
                      "choices": [ { "id": "price", "label": "Price" }, { "id": "other", "label": "Other" } ],
                      "rules": [ { "choice": "price", "end": 0 }, { "q": 2 } ] },
                    { "id": "more", "kind": "text", "text": "Anything else?", "optional": true,
                      "rules": [ { "end": 1 } ] }
                ],
                "endings": [
                    { "id": "offer", "title": "On us", "message": "Two weeks more.",
                      "actions": [ { "action": "offer", "code": "trial_extension_14d" } ] },
                    { "id": "thanks", "message": "Thanks!", "actions": [] }
                ]
            })
        );
        let back: CardSurvey = serde_json::from_value(wire).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn rating_and_single_choice_and_required_text() {
        for (kind, wire) in [
            (
                CardKind::Rating(CardScale { min: 1, max: 5, low: None, high: Some("Great".into()) }),
                json!({ "kind": "rating", "min": 1, "max": 5, "high": "Great" }),
            ),
            (
                CardKind::SingleChoice { choices: vec![CardChoice { id: "a".into(), label: "A".into() }] },
                json!({ "kind": "single_choice", "choices": [ { "id": "a", "label": "A" } ] }),
            ),
            (
                CardKind::Text { optional: false, placeholder: Some("A sentence".into()) },
                json!({ "kind": "text", "placeholder": "A sentence" }),
            ),
        ] {
            let q = CardQuestion { id: "q".into(), kind, text: "?".into(), rules: vec![] };
            let mut expected = json!({ "id": "q", "text": "?", "rules": [] });
            expected.as_object_mut().unwrap().extend(wire.as_object().unwrap().clone());
            assert_eq!(serde_json::to_value(&q).unwrap(), expected);
            assert_eq!(serde_json::from_value::<CardQuestion>(expected).unwrap(), q);
        }
    }

    fn read_rule(v: Value) -> Result<CardRule, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn a_rule_has_one_condition_and_one_destination() {
        assert_eq!(read_rule(json!({ "q": 3 })), Ok(rule(CardCondition::Any, CardTarget::Question(3))));
        for (bad, message) in [
            (json!({ "min": 0, "q": 1 }), "condition"),
            (json!({ "min": 0, "max": 1, "choice": "a", "q": 1 }), "condition"),
            (json!({ "choice": "a" }), "exactly one"),
            (json!({ "q": 1, "end": 0 }), "exactly one"),
            (json!({ "when": "any", "q": 1 }), "unknown field"),
        ] {
            let err = read_rule(bad.clone()).unwrap_err();
            assert!(err.contains(message), "{bad}: {err}");
        }
    }

    #[test]
    fn another_version_of_the_form_is_refused() {
        let mut wire = serde_json::to_value(sample()).unwrap();
        wire["form"] = json!("card/2");
        let err = serde_json::from_value::<CardSurvey>(wire).unwrap_err().to_string();
        assert!(err.contains(r#"unsupported card form "card/2""#), "{err}");
    }
}
