//! One showing of a survey: where the user is and the answers that led
//! there, so going back restores the previous question with its answer.

use super::form::{Form, Kind, Question, To, When};

/// One answer, as `survey_answered` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Score(u8),
    /// A single choice's id, or free text.
    Text(String),
    Choices(Vec<String>),
}

/// Why an answer was not taken. The card only offers valid answers, so the
/// two a user can cause are the ones with a message of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A required text answer is empty.
    EmptyText,
    /// A multiple-choice question with nothing picked.
    NothingChosen,
    /// Anything else: a score out of scale, an unknown choice, the wrong
    /// shape, an answer at an ending, or no rule for it (a definition that did
    /// not come from our collector). Never the user's doing.
    Invalid,
}

#[derive(Debug, Clone)]
pub struct Session {
    path: Vec<(usize, Answer)>,
    at: To,
}

impl Default for Session {
    fn default() -> Session {
        Session { path: Vec::new(), at: To::Question(0) }
    }
}

impl Session {
    pub fn at(&self) -> To {
        self.at
    }

    pub fn can_go_back(&self) -> bool {
        !self.path.is_empty()
    }

    /// The question on screen; `None` at an ending.
    pub fn question<'f>(&self, form: &'f Form) -> Option<&'f Question> {
        match self.at {
            To::Question(i) => form.questions.get(i),
            To::Ending(_) => None,
        }
    }

    /// Checks `answer` against the current question and follows the first
    /// rule it matches. On error nothing changes.
    pub fn answer(&mut self, form: &Form, answer: Answer) -> Result<To, Refused> {
        let To::Question(qi) = self.at else { return Err(Refused::Invalid) };
        let q = form.questions.get(qi).ok_or(Refused::Invalid)?;
        check(q, &answer)?;
        let next = q.rules.iter().find(|r| matches(&r.when, &answer)).ok_or(Refused::Invalid)?.to;
        self.path.push((qi, answer));
        self.at = next;
        Ok(next)
    }

    /// Back to the previous question, with the answer given there.
    pub fn back(&mut self) -> Option<Answer> {
        let (qi, answer) = self.path.pop()?;
        self.at = To::Question(qi);
        Some(answer)
    }
}

fn check(q: &Question, answer: &Answer) -> Result<(), Refused> {
    let known = |choices: &[super::form::Choice], id: &str| choices.iter().any(|c| c.id == id);
    match (&q.kind, answer) {
        (Kind::Score { min, max, .. }, Answer::Score(s)) if (min..=max).contains(&s) => Ok(()),
        (Kind::Single(choices), Answer::Text(id)) if known(choices, id) => Ok(()),
        (Kind::Multi(_), Answer::Choices(ids)) if ids.is_empty() => Err(Refused::NothingChosen),
        (Kind::Multi(choices), Answer::Choices(ids)) if ids.iter().all(|id| known(choices, id)) => Ok(()),
        (Kind::Text { optional, .. }, Answer::Text(t)) => match t.trim().is_empty() && !optional {
            true => Err(Refused::EmptyText),
            false => Ok(()),
        },
        _ => Err(Refused::Invalid),
    }
}

fn matches(when: &When, answer: &Answer) -> bool {
    match (when, answer) {
        (When::Any, _) => true,
        (When::Score { min, max }, Answer::Score(s)) => (min..=max).contains(&s),
        (When::Choice(c), Answer::Text(t)) => c == t,
        (When::Choice(c), Answer::Choices(ids)) => ids.contains(c),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::form::tests::sample;

    fn form() -> Form {
        Form::read(&sample()).unwrap()
    }

    #[test]
    fn branches_on_the_first_matching_rule_and_goes_back() {
        let f = form();
        let mut s = Session::default();
        assert!(!s.can_go_back());
        assert_eq!(s.answer(&f, Answer::Score(3)), Ok(To::Question(1)));
        assert_eq!(s.answer(&f, Answer::Text("other".into())), Ok(To::Question(2)));
        assert_eq!(s.back(), Some(Answer::Text("other".into())));
        assert_eq!(s.at(), To::Question(1));
        assert_eq!(s.answer(&f, Answer::Text("price".into())), Ok(To::Ending(0)));
        assert_eq!(s.question(&f), None);
        assert_eq!(s.answer(&f, Answer::Score(3)), Err(Refused::Invalid), "nothing is answered at an ending");
        let mut promoter = Session::default();
        assert_eq!(promoter.answer(&f, Answer::Score(10)), Ok(To::Ending(1)));
    }

    #[test]
    fn refuses_what_the_question_does_not_take_and_stays() {
        let f = form();
        let mut s = Session::default();
        assert_eq!(s.answer(&f, Answer::Score(11)), Err(Refused::Invalid));
        assert_eq!(s.answer(&f, Answer::Text("7".into())), Err(Refused::Invalid));
        assert_eq!(s.at(), To::Question(0));
        s.answer(&f, Answer::Score(0)).unwrap();
        assert_eq!(s.answer(&f, Answer::Text("nope".into())), Err(Refused::Invalid));
        s.answer(&f, Answer::Text("other".into())).unwrap();
        // Optional text: empty is fine.
        assert_eq!(s.clone().answer(&f, Answer::Text("  ".into())), Ok(To::Ending(0)));
        let mut required = f.clone();
        required.questions[2].kind = Kind::Text { optional: false, placeholder: None };
        assert_eq!(s.answer(&required, Answer::Text("  ".into())), Err(Refused::EmptyText));
    }

    #[test]
    fn multiple_choice_needs_one_and_matches_any_picked() {
        let mut f = form();
        let choices = match &f.questions[1].kind {
            Kind::Single(c) => c.clone(),
            _ => unreachable!(),
        };
        f.questions[1].kind = Kind::Multi(choices);
        let mut s = Session::default();
        s.answer(&f, Answer::Score(1)).unwrap();
        assert_eq!(s.answer(&f, Answer::Choices(vec![])), Err(Refused::NothingChosen));
        assert_eq!(s.answer(&f, Answer::Choices(vec!["price".into(), "zzz".into()])), Err(Refused::Invalid));
        assert_eq!(s.answer(&f, Answer::Choices(vec!["price".into(), "other".into()])), Ok(To::Question(2)));
    }
}
