//! What a survey response means, decided by the collector from the survey
//! definition, never by the page.
//!
//! A response is the events of one `response_id`: its answers (the latest
//! per question, in arrival order, counts: going back and answering again
//! replaces an answer), and at most one completion. Where the answers lead
//! is what `touchpoint_core`'s `Session::replay` says, the same code that
//! branched the card in the page. So:
//!
//! - an answer must fit its question, and the question must be on the
//!   response's path (answered already, or the one its answers lead to);
//! - a completion must name the ending the answers lead to, with exactly
//!   that ending's actions from the definition;
//! - nothing is answered or completed after the ending.
//!
//! An event that breaks one of these is stored *rejected*, with the reason
//! from [`Inconsistent`]; it never counts and never triggers anything. The
//! widget sends each answer as it is given and the completion with the last
//! one, in order, so its events are consistent when they arrive.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use touchpoint_core::survey::{AnswerError, Ending, Session, Step, Stopped, Survey};
use touchpoint_protocol::{Action, AnswerValue, Event, EventKind};

/// One response as its (consistent) events tell it.
#[derive(Debug, Clone, Default)]
pub struct Response {
    survey_id: Option<String>,
    /// The latest answer per question, with the event that gave it.
    answers: HashMap<String, Answered>,
    /// The ending reached, with the event that said so.
    completed: Option<(String, Event)>,
    ids: HashSet<String>,
}

#[derive(Debug, Clone)]
pub struct Answered {
    pub value: AnswerValue,
    pub event: Event,
}

/// Why a survey event contradicts its survey or its response.
#[derive(Debug, Clone, PartialEq)]
pub enum Inconsistent {
    UnknownSurvey { survey: String },
    OtherSurvey { survey: String, response_survey: String },
    UnknownQuestion { survey: String, question: String },
    UnknownEnding { survey: String, ending: String },
    AfterEnding { ending: String },
    OffPath { question: String, path_leads_to: String },
    Refused(AnswerError),
    EndingNotReached { ending: String, path_leads_to: String },
    ActionsDiffer { ending: String, sent: Vec<Action>, defined: Vec<Action> },
}

impl fmt::Display for Inconsistent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inconsistent::UnknownSurvey { survey } => write!(f, "survey {survey:?} is not one this collector serves"),
            Inconsistent::OtherSurvey { survey, response_survey } => {
                write!(f, "this response belongs to survey {response_survey:?}, not {survey:?}")
            }
            Inconsistent::UnknownQuestion { survey, question } => {
                write!(f, "survey {survey:?} has no question {question:?}")
            }
            Inconsistent::UnknownEnding { survey, ending } => write!(f, "survey {survey:?} has no ending {ending:?}"),
            Inconsistent::AfterEnding { ending } => {
                write!(f, "the response already reached ending {ending:?}; nothing comes after an ending")
            }
            Inconsistent::OffPath { question, path_leads_to } => write!(
                f,
                "question {question:?} is not on this response's path: its stored answers lead to {path_leads_to}"
            ),
            Inconsistent::Refused(e) => write!(f, "{e}"),
            Inconsistent::EndingNotReached { ending, path_leads_to } => write!(
                f,
                "ending {ending:?} is not where this response's stored answers lead (they lead to {path_leads_to})"
            ),
            Inconsistent::ActionsDiffer { ending, sent, defined } => write!(
                f,
                "the actions sent are not those of ending {ending:?}: sent {}, the survey defines {}",
                actions_json(sent),
                actions_json(defined)
            ),
        }
    }
}

fn actions_json(actions: &[Action]) -> String {
    serde_json::to_string(actions).unwrap_or_default()
}

impl Response {
    /// The responses the (consistent) `events` tell of, by response id, in arrival order.
    pub fn from_events<'e>(events: impl IntoIterator<Item = &'e Event>) -> HashMap<String, Response> {
        let mut responses: HashMap<String, Response> = HashMap::new();
        for e in events {
            if let Some(id) = response_id(&e.kind) {
                responses.entry(id.to_string()).or_default().record(e);
            }
        }
        responses
    }

    /// Takes a consistent event of this response into account.
    pub fn record(&mut self, e: &Event) {
        self.ids.insert(e.id.clone());
        if self.survey_id.is_none() {
            self.survey_id = e.kind.survey_id().map(str::to_string);
        }
        match &e.kind {
            EventKind::SurveyAnswered { question_id, value, .. } => {
                self.answers.insert(question_id.clone(), Answered { value: value.clone(), event: e.clone() });
            }
            EventKind::SurveyCompleted { ending_id, .. } => self.completed = Some((ending_id.clone(), e.clone())),
            _ => {}
        }
    }

    /// Whether an event with this id is already part of the response (a resend).
    pub fn has(&self, event_id: &str) -> bool {
        self.ids.contains(event_id)
    }

    /// Where the stored answers lead in `survey`.
    pub fn walk(&self, survey: &Arc<Survey>) -> (Session, Option<Stopped>) {
        Session::replay(survey.clone(), |question| self.answers.get(question).map(|a| a.value.clone()))
    }

    /// The final answers on the response's path, in path order: those the
    /// branching actually went through. Answers left behind by going back
    /// are not among them.
    pub fn final_answers(&self, survey: &Arc<Survey>) -> Vec<&Answered> {
        let (session, _) = self.walk(survey);
        session.answers().filter_map(|(q, _)| self.answers.get(q.id())).collect()
    }

    /// The completion, if the answers lead to the ending it names (always,
    /// for consistent events), with that ending as the survey defines it.
    pub fn completion<'s>(&self, survey: &'s Survey) -> Option<(&'s Ending, &Event)> {
        let (ending_id, event) = self.completed.as_ref()?;
        let ending = survey.endings().iter().find(|e| e.id() == ending_id)?;
        Some((ending, event))
    }

    /// Whether `kind`, arriving now, is consistent with `survey` (the one
    /// it names, in the version it names; `None`: not one the project
    /// serves) and with this response so far (an empty one for its first event).
    pub fn check(&self, survey: Option<&Arc<Survey>>, kind: &EventKind) -> Result<(), Inconsistent> {
        let Some(survey_id) = kind.survey_id() else { return Ok(()) };
        let survey = survey.ok_or_else(|| Inconsistent::UnknownSurvey { survey: survey_id.to_string() })?;
        if let Some(first) = self.survey_id.as_deref().filter(|first| *first != survey_id) {
            return Err(Inconsistent::OtherSurvey {
                survey: survey_id.to_string(),
                response_survey: first.to_string(),
            });
        }
        match kind {
            EventKind::SurveyShown { .. } => Ok(()),
            EventKind::SurveyAnswered { question_id, value, .. } => {
                self.on_path(survey, question_id)?;
                let (session, stopped) = Session::replay(survey.clone(), |question| {
                    if question == question_id {
                        Some(value.clone())
                    } else {
                        self.answers.get(question).map(|a| a.value.clone())
                    }
                });
                match stopped {
                    Some(Stopped::Refused(e)) if session.current_question().is_some_and(|q| q.id() == question_id) => {
                        Err(Inconsistent::Refused(e))
                    }
                    _ => Ok(()),
                }
            }
            EventKind::SurveyDismissed { question_id, .. } => self.on_path(survey, question_id),
            EventKind::SurveyCompleted { ending_id, actions, .. } => {
                if let Some((ending, _)) = &self.completed {
                    return Err(Inconsistent::AfterEnding { ending: ending.clone() });
                }
                let Some(ending) = survey.endings().iter().find(|e| e.id() == ending_id) else {
                    return Err(Inconsistent::UnknownEnding { survey: survey_id.into(), ending: ending_id.clone() });
                };
                let (session, stopped) = self.walk(survey);
                match session.step() {
                    Step::Ending(reached) if reached.id() == ending_id => {}
                    _ => {
                        return Err(Inconsistent::EndingNotReached {
                            ending: ending_id.clone(),
                            path_leads_to: leads_to(&session, stopped.as_ref()),
                        })
                    }
                }
                if actions != ending.actions() {
                    return Err(Inconsistent::ActionsDiffer {
                        ending: ending_id.clone(),
                        sent: actions.clone(),
                        defined: ending.actions().to_vec(),
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `question` is answered on the path already, or the one the path waits at.
    fn on_path(&self, survey: &Arc<Survey>, question: &str) -> Result<(), Inconsistent> {
        if let Some((ending, _)) = &self.completed {
            return Err(Inconsistent::AfterEnding { ending: ending.clone() });
        }
        if survey.question(question).is_none() {
            return Err(Inconsistent::UnknownQuestion { survey: survey.id().into(), question: question.into() });
        }
        let (session, stopped) = self.walk(survey);
        let answered = session.answers().any(|(q, _)| q.id() == question);
        let waiting = session.current_question().is_some_and(|q| q.id() == question);
        if answered || waiting {
            Ok(())
        } else {
            Err(Inconsistent::OffPath {
                question: question.into(),
                path_leads_to: leads_to(&session, stopped.as_ref()),
            })
        }
    }
}

/// Where a walk stopped, in words for a reason.
fn leads_to(session: &Session, stopped: Option<&Stopped>) -> String {
    match (session.step(), stopped) {
        (Step::Ending(e), _) => format!("ending {:?}", e.id()),
        (Step::Question(q), Some(Stopped::Refused(_))) => {
            format!("question {:?}, whose stored answer no longer fits it", q.id())
        }
        (Step::Question(q), _) => format!("question {:?}, not answered yet", q.id()),
    }
}

/// The response an event belongs to, for the survey kinds.
pub fn response_id(kind: &EventKind) -> Option<&str> {
    match kind {
        EventKind::SurveyShown { response_id, .. }
        | EventKind::SurveyAnswered { response_id, .. }
        | EventKind::SurveyCompleted { response_id, .. }
        | EventKind::SurveyDismissed { response_id, .. } => Some(response_id),
        _ => None,
    }
}

/// The definition's ending actions as a trigger reads them: a
/// `survey_completed` whose actions are the ending's, whatever the page sent.
pub fn completed_as_defined(event: &Event, ending: &Ending) -> Event {
    let mut e = event.clone();
    if let EventKind::SurveyCompleted { actions, .. } = &mut e.kind {
        *actions = ending.actions().to_vec();
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::SurveyCatalog;
    use serde_json::{json, Value};

    fn catalog() -> SurveyCatalog {
        SurveyCatalog::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../surveys")).unwrap()
    }

    fn event(id: &str, kind: Value) -> Event {
        let mut e = json!({"id": id, "ts": 1, "anonymous_id": "a", "url": "u", "survey_id": "nps", "response_id": "r"});
        e.as_object_mut().unwrap().extend(kind.as_object().unwrap().clone());
        serde_json::from_value(e).unwrap()
    }

    fn answer(id: &str, question: &str, value: Value) -> Event {
        event(id, json!({"type": "survey_answered", "question_id": question, "value": value}))
    }

    fn completed(id: &str, ending: &str, actions: Value) -> Event {
        event(id, json!({"type": "survey_completed", "ending_id": ending, "actions": actions}))
    }

    /// Checks each event against the ones before it; the verdicts, in order.
    fn verdicts(events: &[Event]) -> Vec<Result<(), String>> {
        let surveys = catalog();
        let mut response = Response::default();
        events
            .iter()
            .map(|e| {
                let survey = e.kind.survey_id().and_then(|id| surveys.get(id)).map(|entry| &entry.survey);
                let verdict = response.check(survey, &e.kind).map_err(|e| e.to_string());
                if verdict.is_ok() {
                    response.record(e);
                }
                verdict
            })
            .collect()
    }

    const TRIAL: &str = r#"[{"action": "offer", "code": "trial_extension_14d"}, {"action": "webhook"}]"#;

    #[test]
    fn a_real_response_is_consistent() {
        let trial: Value = serde_json::from_str(TRIAL).unwrap();
        assert_eq!(
            verdicts(&[
                event("s", json!({"type": "survey_shown"})),
                answer("a1", "score", json!(3)),
                answer("a2", "obstacle", json!("not_ready")),
                completed("c", "trial_offer", trial),
            ]),
            [Ok(()), Ok(()), Ok(()), Ok(())]
        );
        // 3, back, 9: the obstacle question is off the path now, "later" is on it.
        assert_eq!(
            verdicts(&[
                answer("a1", "score", json!(3)),
                answer("a2", "score", json!(9)),
                answer("a3", "referral", json!("later")),
                completed("c", "promoter_thanks", json!([])),
            ]),
            [Ok(()), Ok(()), Ok(()), Ok(())]
        );
    }

    #[test]
    fn forged_outcomes_are_named() {
        let offer = json!([{"action": "offer", "code": "trial_extension_14d"}]);
        let v = verdicts(&[
            completed("c0", "trial_offer", offer.clone()),
            answer("a1", "score", json!(10)),
            answer("a2", "obstacle", json!("not_ready")),
            answer("a3", "score", json!(11)),
            answer("a4", "referral", json!("review")),
            completed("c1", "trial_offer", offer.clone()),
            completed("c2", "promoter_review", offer),
            completed("c3", "promoter_review", json!([{"action": "email", "template": "review_request"}])),
            answer("a5", "score", json!(1)),
            completed("c4", "nowhere", json!([])),
        ]);
        let expected: [Result<(), &str>; 10] = [
            Err(
                r#"ending "trial_offer" is not where this response's stored answers lead (they lead to question "score", not answered yet)"#,
            ),
            Ok(()),
            Err(
                r#"question "obstacle" is not on this response's path: its stored answers lead to question "referral", not answered yet"#,
            ),
            Err(r#"question "score" takes a score from 0 to 10, not 11"#),
            Ok(()),
            Err(
                r#"ending "trial_offer" is not where this response's stored answers lead (they lead to ending "promoter_review")"#,
            ),
            Err(
                r#"the actions sent are not those of ending "promoter_review": sent [{"action":"offer","code":"trial_extension_14d"}], the survey defines [{"action":"email","template":"review_request"}]"#,
            ),
            Ok(()),
            Err(r#"the response already reached ending "promoter_review"; nothing comes after an ending"#),
            Err(r#"the response already reached ending "promoter_review"; nothing comes after an ending"#),
        ];
        let expected: Vec<Result<(), String>> = expected.iter().map(|r| r.map_err(str::to_string)).collect();
        assert_eq!(v, expected);
        assert_eq!(
            verdicts(&[event("x", json!({"type": "survey_shown", "survey_id": "other"}))]),
            [Err(r#"survey "other" is not one this collector serves"#.to_string())]
        );
    }

    fn json_of(value: &AnswerValue) -> Value {
        serde_json::to_value(value).unwrap()
    }

    #[test]
    fn rules_see_the_final_answers_on_the_path() {
        let surveys = catalog();
        let survey = &surveys.get("nps").unwrap().survey;
        let events = [
            answer("a1", "score", json!(3)),
            answer("a2", "obstacle", json!("missing_feature")),
            answer("a3", "score", json!(9)),
            answer("a4", "referral", json!("later")),
            completed("c", "promoter_thanks", json!([])),
        ];
        let responses = Response::from_events(&events);
        let r = &responses["r"];
        let finals: Vec<(&str, Value)> =
            r.final_answers(survey).iter().map(|a| (a.event.id.as_str(), json_of(&a.value))).collect();
        assert_eq!(finals, [("a3", json!(9)), ("a4", json!("later"))]);
        let (ending, event) = r.completion(survey).unwrap();
        assert_eq!((ending.id(), event.id.as_str()), ("promoter_thanks", "c"));
        assert!(r.has("a2") && !r.has("zz"));
    }
}
