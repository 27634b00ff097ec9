use std::fmt;
use std::sync::Arc;

use touchpoint_protocol::AnswerValue;

use super::graph::{Condition, Ending, Question, QuestionKind, Survey, Target};

/// One showing of a survey: where the user is, and the answers that led
/// there (so going back restores the previous question and its answer).
#[derive(Debug, Clone)]
pub struct Session {
    survey: Arc<Survey>,
    /// Questions answered so far, with their answers, oldest first.
    path: Vec<(usize, AnswerValue)>,
    at: Target,
}

/// What is on screen now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step<'a> {
    Question(&'a Question),
    Ending(&'a Ending),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// The survey is already at an ending.
    Finished,
    WrongShape {
        question: String,
        expected: &'static str,
    },
    ScoreOutOfScale {
        question: String,
        score: u8,
        min: u8,
        max: u8,
    },
    UnknownChoice {
        question: String,
        choice: String,
    },
    NothingChosen {
        question: String,
    },
    EmptyText {
        question: String,
    },
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::Finished => write!(f, "the survey has already ended"),
            AnswerError::WrongShape { question, expected } => write!(f, "question {question:?} expects {expected}"),
            AnswerError::ScoreOutOfScale { question, score, min, max } => {
                write!(f, "question {question:?} takes a score from {min} to {max}, not {score}")
            }
            AnswerError::UnknownChoice { question, choice } => {
                write!(f, "question {question:?} has no choice {choice:?}")
            }
            AnswerError::NothingChosen { question } => write!(f, "question {question:?} needs at least one choice"),
            AnswerError::EmptyText { question } => write!(f, "question {question:?} needs an answer"),
        }
    }
}

impl std::error::Error for AnswerError {}

/// Why [`Session::replay`] stopped short of an ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// There is no answer for the question it reached.
    Unanswered,
    /// The answer given for the question it reached does not fit it.
    Refused(AnswerError),
}

impl Session {
    pub fn new(survey: Arc<Survey>) -> Session {
        Session { survey, path: Vec::new(), at: Target::Question(0) }
    }

    pub fn survey(&self) -> &Survey {
        &self.survey
    }

    pub fn step(&self) -> Step<'_> {
        match self.at {
            Target::Question(i) => Step::Question(&self.survey.questions[i]),
            Target::Ending(i) => Step::Ending(&self.survey.endings[i]),
        }
    }

    /// How many questions were answered on the way here.
    pub fn depth(&self) -> usize {
        self.path.len()
    }

    pub fn can_go_back(&self) -> bool {
        !self.path.is_empty()
    }

    /// Checks `value` against the current question, follows the first
    /// matching rule and returns the new step. On error nothing changes.
    pub fn answer(&mut self, value: AnswerValue) -> Result<Step<'_>, AnswerError> {
        let Target::Question(qi) = self.at else { return Err(AnswerError::Finished) };
        let question = &self.survey.questions[qi];
        check(question, &value)?;
        // Validation guarantees some rule matches every valid answer.
        let next = question
            .rules
            .iter()
            .find(|r| matches(&r.when, &value))
            .map(|r| r.next)
            .expect("validated surveys cover every answer");
        self.path.push((qi, value));
        self.at = next;
        Ok(self.step())
    }

    /// Returns to the previous question, handing back the answer given there
    /// so the UI can show it selected. `None` at the first question.
    pub fn back(&mut self) -> Option<AnswerValue> {
        let (qi, value) = self.path.pop()?;
        self.at = Target::Question(qi);
        Some(value)
    }

    /// The question the user is on, or `None` at an ending.
    pub fn current_question(&self) -> Option<&Question> {
        self.survey.target_question(self.at)
    }

    /// Walks a showing again from the first question, answering each
    /// question it reaches with `answer_to(question id)` exactly as
    /// [`Session::answer`] does, until an ending or a question without a
    /// fitting answer. This is how the collector tells where a response's
    /// stored answers lead: answers to questions off that path (left behind
    /// by going back) are never asked for. Ends, because a valid survey has
    /// no cycles. Returns the session where it stopped and, short of an
    /// ending, why.
    pub fn replay(
        survey: Arc<Survey>,
        mut answer_to: impl FnMut(&str) -> Option<AnswerValue>,
    ) -> (Session, Option<Stopped>) {
        let mut s = Session::new(survey);
        loop {
            let Some(question) = s.current_question() else { return (s, None) };
            let Some(value) = answer_to(question.id()) else { return (s, Some(Stopped::Unanswered)) };
            if let Err(e) = s.answer(value) {
                return (s, Some(Stopped::Refused(e)));
            }
        }
    }

    /// The questions answered on the way here, each with its answer, oldest first.
    pub fn answers(&self) -> impl Iterator<Item = (&Question, &AnswerValue)> {
        self.path.iter().map(|(qi, value)| (&self.survey.questions[*qi], value))
    }
}

fn check(q: &Question, value: &AnswerValue) -> Result<(), AnswerError> {
    let question = q.id.clone();
    match (&q.kind, value) {
        (QuestionKind::Nps { .. } | QuestionKind::Rating { .. }, AnswerValue::Score(s)) => {
            let scale = q.kind.scale().expect("score kinds have a scale");
            if scale.contains(s) {
                Ok(())
            } else {
                Err(AnswerError::ScoreOutOfScale { question, score: *s, min: *scale.start(), max: *scale.end() })
            }
        }
        (QuestionKind::SingleChoice { choices }, AnswerValue::Text(id)) => {
            if choices.iter().any(|c| &c.id == id) {
                Ok(())
            } else {
                Err(AnswerError::UnknownChoice { question, choice: id.clone() })
            }
        }
        (QuestionKind::MultiChoice { choices }, AnswerValue::Choices(ids)) => {
            if ids.is_empty() {
                return Err(AnswerError::NothingChosen { question });
            }
            match ids.iter().find(|id| !choices.iter().any(|c| &c.id == *id)) {
                Some(bad) => Err(AnswerError::UnknownChoice { question, choice: bad.clone() }),
                None => Ok(()),
            }
        }
        (QuestionKind::Text { optional, .. }, AnswerValue::Text(t)) => {
            if t.trim().is_empty() && !optional {
                Err(AnswerError::EmptyText { question })
            } else {
                Ok(())
            }
        }
        (kind, _) => Err(AnswerError::WrongShape {
            question,
            expected: match kind {
                QuestionKind::Nps { .. } | QuestionKind::Rating { .. } => "a score",
                QuestionKind::SingleChoice { .. } => "one choice id",
                QuestionKind::MultiChoice { .. } => "a list of choice ids",
                QuestionKind::Text { .. } => "text",
            },
        }),
    }
}

fn matches(cond: &Condition, value: &AnswerValue) -> bool {
    match (cond, value) {
        (Condition::Any, _) => true,
        (Condition::Score { min, max }, AnswerValue::Score(s)) => (*min..=*max).contains(s),
        (Condition::Choice(c), AnswerValue::Text(t)) => c == t,
        (Condition::Choice(c), AnswerValue::Choices(ids)) => ids.contains(c),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Session {
        let s = Survey::from_json(include_str!("../../../../surveys/nps.json")).unwrap();
        Session::new(Arc::new(s))
    }

    fn at(s: &Session) -> String {
        match s.step() {
            Step::Question(q) => format!("q:{}", q.id()),
            Step::Ending(e) => format!("end:{}", e.id()),
        }
    }

    fn text(t: &str) -> AnswerValue {
        AnswerValue::Text(t.into())
    }

    #[test]
    fn detractor_not_ready_to_upgrade_gets_the_trial_offer() {
        let mut s = demo();
        assert_eq!(at(&s), "q:score");
        s.answer(AnswerValue::Score(3)).unwrap();
        assert_eq!(at(&s), "q:obstacle");
        let Step::Ending(end) = s.answer(text("not_ready")).unwrap() else { panic!("expected an ending") };
        assert_eq!(end.id(), "trial_offer");
        assert_eq!(end.actions()[0].params["code"], "trial_extension_14d");
    }

    #[test]
    fn each_score_band_has_its_follow_up() {
        for (score, expected) in [
            (0, "q:obstacle"),
            (6, "q:obstacle"),
            (7, "q:make_it_10"),
            (8, "q:make_it_10"),
            (9, "q:referral"),
            (10, "q:referral"),
        ] {
            let mut s = demo();
            s.answer(AnswerValue::Score(score)).unwrap();
            assert_eq!(at(&s), expected, "score {score}");
        }
    }

    #[test]
    fn other_leads_to_text_then_thanks() {
        let mut s = demo();
        s.answer(AnswerValue::Score(2)).unwrap();
        s.answer(text("other")).unwrap();
        assert_eq!(at(&s), "q:obstacle_other");
        assert_eq!(s.answer(text("  ")), Err(AnswerError::EmptyText { question: "obstacle_other".into() }));
        s.answer(text("Export is slow")).unwrap();
        assert_eq!(at(&s), "end:detractor_thanks");
        assert_eq!(s.answer(text("more")), Err(AnswerError::Finished));
    }

    #[test]
    fn optional_text_accepts_empty() {
        let mut s = demo();
        s.answer(AnswerValue::Score(8)).unwrap();
        s.answer(text("")).unwrap();
        assert_eq!(at(&s), "end:passive_thanks");
    }

    #[test]
    fn back_restores_question_and_previous_answer() {
        let mut s = demo();
        assert_eq!(s.back(), None);
        s.answer(AnswerValue::Score(4)).unwrap();
        assert!(s.can_go_back());
        assert_eq!(s.back(), Some(AnswerValue::Score(4)));
        assert_eq!(at(&s), "q:score");
        // A different answer now takes the other branch.
        s.answer(AnswerValue::Score(10)).unwrap();
        assert_eq!(at(&s), "q:referral");
        assert_eq!(s.depth(), 1);
    }

    #[test]
    fn replay_follows_the_answers_on_the_path_and_ignores_the_rest() {
        let survey = Arc::new(Survey::from_json(include_str!("../../../../surveys/nps.json")).unwrap());
        let replay = |answers: &[(&str, AnswerValue)]| {
            let (s, stopped) =
                Session::replay(survey.clone(), |id| answers.iter().find(|(q, _)| *q == id).map(|(_, v)| v.clone()));
            let path: Vec<String> = s.answers().map(|(q, _)| q.id().to_string()).collect();
            (at(&s), path, stopped)
        };
        assert_eq!(
            replay(&[("score", AnswerValue::Score(3)), ("obstacle", text("not_ready"))]),
            ("end:trial_offer".into(), vec!["score".into(), "obstacle".into()], None)
        );
        // 3, then back and 9: the answer to "obstacle" is off the path now.
        assert_eq!(
            replay(&[("score", AnswerValue::Score(9)), ("obstacle", text("not_ready"))]),
            ("q:referral".into(), vec!["score".into()], Some(Stopped::Unanswered))
        );
        assert_eq!(replay(&[]), ("q:score".into(), vec![], Some(Stopped::Unanswered)));
        assert_eq!(
            replay(&[("score", AnswerValue::Score(2)), ("obstacle", text("bored"))]),
            (
                "q:obstacle".into(),
                vec!["score".into()],
                Some(Stopped::Refused(AnswerError::UnknownChoice {
                    question: "obstacle".into(),
                    choice: "bored".into()
                }))
            )
        );
    }

    #[test]
    fn bad_answers_are_refused_without_moving() {
        let mut s = demo();
        assert_eq!(
            s.answer(AnswerValue::Score(11)),
            Err(AnswerError::ScoreOutOfScale { question: "score".into(), score: 11, min: 0, max: 10 })
        );
        assert_eq!(
            s.answer(text("ten")),
            Err(AnswerError::WrongShape { question: "score".into(), expected: "a score" })
        );
        s.answer(AnswerValue::Score(1)).unwrap();
        assert_eq!(
            s.answer(text("nope")),
            Err(AnswerError::UnknownChoice { question: "obstacle".into(), choice: "nope".into() })
        );
        assert_eq!(at(&s), "q:obstacle");
    }

    #[test]
    fn multi_choice_follows_first_rule_whose_choice_is_picked() {
        let survey = Survey::from_value(&serde_json::json!({ "id": "m",
            "questions": [ { "id": "q", "kind": "multi_choice", "text": "Which?",
                "choices": [ { "id": "a", "label": "A" }, { "id": "b", "label": "B" } ],
                "rules": [ { "when": { "choice": "b" }, "next": "bee" }, { "when": "any", "next": "other" } ] } ],
            "endings": [ { "id": "bee", "message": "B!" }, { "id": "other", "message": "Not B" } ] }))
        .unwrap();
        let mut s = Session::new(Arc::new(survey));
        assert_eq!(s.answer(AnswerValue::Choices(vec![])), Err(AnswerError::NothingChosen { question: "q".into() }));
        s.answer(AnswerValue::Choices(vec!["a".into(), "b".into()])).unwrap();
        assert_eq!(at(&s), "end:bee");
        s.back();
        s.answer(AnswerValue::Choices(vec!["a".into()])).unwrap();
        assert_eq!(at(&s), "end:other");
    }
}
