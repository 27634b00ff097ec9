//! The survey as the card shows it: the collector's pre-checked card form
//! (`card/1`, see `touchpoint_protocol::card`), read into types once, when it
//! arrives. The collector validated the definition, so nothing here re-checks
//! the survey's logic; what is checked is what would otherwise make the card
//! misbehave on a definition that did not come from our collector (a proxy,
//! another backend): every field the card reads is present, and every rule
//! leads to a question or ending that exists. Each problem names its path.
//!
//! The reader is generic over [`Source`], so the same code reads a parsed
//! `JSON.parse` value in the page and a `serde_json::Value` in host tests.

use crate::text::{cat, num};

/// The form version this card reads.
pub const FORM: &str = "card/1";

/// A JSON value, as far as the reader needs one.
pub trait Source: Sized {
    fn field(&self, name: &str) -> Option<Self>;
    fn string(&self) -> Option<String>;
    fn number(&self) -> Option<f64>;
    fn boolean(&self) -> Option<bool>;
    /// The elements of an array; `None` if this is not one.
    fn items(&self) -> Option<Vec<Self>>;
    /// This value as JSON text (for the ending's actions, passed through untouched).
    fn json(&self) -> Option<String>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub id: String,
    /// The project's published version, recorded in the survey's events.
    pub version: Option<u32>,
    pub questions: Vec<Question>,
    pub endings: Vec<Ending>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub kind: Kind,
    /// In order; the first that matches decides.
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `nps` (0–10) and `rating` (1–max).
    Score {
        min: u8,
        max: u8,
        low: Option<String>,
        high: Option<String>,
    },
    Single(Vec<Choice>),
    /// At least one must be picked.
    Multi(Vec<Choice>),
    Text {
        optional: bool,
        placeholder: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub when: When,
    pub to: To,
}

#[derive(Debug, Clone, PartialEq)]
pub enum When {
    Any,
    Score { min: u8, max: u8 },
    Choice(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    Question(usize),
    Ending(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub id: String,
    pub title: Option<String>,
    pub message: String,
    /// The ending's follow-up actions as JSON text, recorded in `survey_completed` as given.
    pub actions: String,
}

/// Where the reader is, for messages.
struct At<'a> {
    problems: &'a mut Vec<String>,
    path: String,
}

impl At<'_> {
    fn fail(&mut self, what: &str) {
        let problem = if self.path.is_empty() { what.to_owned() } else { cat(&[&self.path, ": ", what]) };
        self.problems.push(problem);
    }

    fn child(&mut self, name: &str) -> At<'_> {
        let path = if self.path.is_empty() { name.to_owned() } else { cat(&[&self.path, ".", name]) };
        At { problems: self.problems, path }
    }

    fn index(&mut self, i: usize) -> At<'_> {
        At { problems: self.problems, path: cat(&[&self.path, "[", &num(i as u64), "]"]) }
    }
}

fn text<S: Source>(v: &S, name: &str, at: &mut At) -> String {
    match v.field(name).and_then(|f| f.string()) {
        Some(s) => s,
        None => {
            at.child(name).fail("missing, or not a string");
            String::new()
        }
    }
}

fn optional_text<S: Source>(v: &S, name: &str) -> Option<String> {
    v.field(name).and_then(|f| f.string())
}

fn small<S: Source>(v: &S, name: &str) -> Option<u8> {
    let n = v.field(name)?.number()?;
    ((0.0..=255.0).contains(&n) && n.fract() == 0.0).then_some(n as u8)
}

fn index<S: Source>(v: &S, name: &str) -> Option<usize> {
    let n = v.field(name)?.number()?;
    ((0.0..1e6).contains(&n) && n.fract() == 0.0).then_some(n as usize)
}

fn list<S: Source>(v: &S, name: &str, at: &mut At) -> Vec<S> {
    match v.field(name).and_then(|f| f.items()) {
        Some(items) => items,
        None => {
            at.child(name).fail("missing, or not a list");
            Vec::new()
        }
    }
}

impl Form {
    /// Reads a card form; every problem, each with its path.
    pub fn read<S: Source>(v: &S) -> Result<Form, Vec<String>> {
        let mut problems = Vec::new();
        let mut at = At { problems: &mut problems, path: String::new() };
        match v.field("form").and_then(|f| f.string()) {
            Some(f) if f == FORM => {}
            Some(other) => {
                at.child("form").fail(&cat(&["is ", &other, ", this widget reads ", FORM]));
                return Err(problems);
            }
            None => {
                at.fail(&cat(&["not a survey in the card form (", FORM, ")"]));
                return Err(problems);
            }
        }
        let id = text(v, "id", &mut at);
        let questions: Vec<Question> = list(v, "questions", &mut at)
            .iter()
            .enumerate()
            .map(|(i, q)| read_question(q, &mut at.child("questions").index(i)))
            .collect();
        let endings: Vec<Ending> = list(v, "endings", &mut at)
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let mut at = at.child("endings");
                let mut at = at.index(i);
                Ending {
                    id: text(e, "id", &mut at),
                    title: optional_text(e, "title"),
                    message: text(e, "message", &mut at),
                    actions: e.field("actions").and_then(|a| a.json()).unwrap_or_else(|| "[]".into()),
                }
            })
            .collect();
        if questions.is_empty() {
            at.child("questions").fail("a survey needs at least one question");
        }
        for (qi, q) in questions.iter().enumerate() {
            for (ri, r) in q.rules.iter().enumerate() {
                let ok = match r.to {
                    To::Question(i) => i < questions.len(),
                    To::Ending(i) => i < endings.len(),
                };
                if !ok {
                    at.child("questions").index(qi).child("rules").index(ri).fail("leads to no question or ending");
                }
            }
        }
        if problems.is_empty() {
            let version =
                v.field("version").and_then(|f| f.number()).filter(|n| (1.0..4e9).contains(n) && n.fract() == 0.0);
            Ok(Form { id, version: version.map(|n| n as u32), questions, endings })
        } else {
            Err(problems)
        }
    }
}

fn read_question<S: Source>(q: &S, at: &mut At) -> Question {
    let id = text(q, "id", at);
    let text_ = text(q, "text", at);
    let choices = |at: &mut At| -> Vec<Choice> {
        list(q, "choices", at)
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut at = at.child("choices");
                let mut at = at.index(i);
                Choice { id: text(c, "id", &mut at), label: text(c, "label", &mut at) }
            })
            .collect()
    };
    let kind = match q.field("kind").and_then(|k| k.string()).as_deref() {
        Some("nps" | "rating") => match (small(q, "min"), small(q, "max")) {
            (Some(min), Some(max)) if min <= max => {
                Kind::Score { min, max, low: optional_text(q, "low"), high: optional_text(q, "high") }
            }
            _ => {
                at.fail("a score question needs min and max (0–255, min ≤ max)");
                Kind::Score { min: 0, max: 0, low: None, high: None }
            }
        },
        Some("single_choice") => Kind::Single(choices(at)),
        Some("multi_choice") => Kind::Multi(choices(at)),
        Some("text") => Kind::Text {
            optional: q.field("optional").and_then(|o| o.boolean()).unwrap_or(false),
            placeholder: optional_text(q, "placeholder"),
        },
        Some(other) => {
            at.child("kind").fail(&cat(&["unknown kind ", other]));
            Kind::Text { optional: true, placeholder: None }
        }
        None => {
            at.child("kind").fail("missing, or not a string");
            Kind::Text { optional: true, placeholder: None }
        }
    };
    let rules = list(q, "rules", at)
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let when = match (small(r, "min"), small(r, "max"), optional_text(r, "choice")) {
                (Some(min), Some(max), None) => When::Score { min, max },
                (None, None, Some(c)) => When::Choice(c),
                (None, None, None) => When::Any,
                _ => {
                    at.child("rules").index(i).fail("a condition is min and max, or choice");
                    return None;
                }
            };
            let to = match (index(r, "q"), index(r, "end")) {
                (Some(q), None) => To::Question(q),
                (None, Some(e)) => To::Ending(e),
                _ => {
                    at.child("rules").index(i).fail("needs one destination, q or end");
                    return None;
                }
            };
            Some(Rule { when, to })
        })
        .collect();
    Question { id, text: text_, kind, rules }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The host's stand-in for a parsed JS value.
    impl Source for Value {
        fn field(&self, name: &str) -> Option<Value> {
            self.get(name).filter(|v| !v.is_null()).cloned()
        }
        fn string(&self) -> Option<String> {
            self.as_str().map(str::to_owned)
        }
        fn number(&self) -> Option<f64> {
            self.as_f64()
        }
        fn boolean(&self) -> Option<bool> {
            self.as_bool()
        }
        fn items(&self) -> Option<Vec<Value>> {
            self.as_array().cloned()
        }
        fn json(&self) -> Option<String> {
            serde_json::to_string(self).ok()
        }
    }

    pub fn sample() -> Value {
        json!({
            "form": "card/1", "id": "nps",
            "questions": [
                { "id": "score", "kind": "nps", "text": "How likely?", "min": 0, "max": 10, "low": "No", "high": "Yes",
                  "rules": [ { "min": 0, "max": 6, "q": 1 }, { "min": 7, "max": 10, "end": 1 } ] },
                { "id": "why", "kind": "single_choice", "text": "Why?",
                  "choices": [ { "id": "price", "label": "Price" }, { "id": "other", "label": "Other" } ],
                  "rules": [ { "choice": "other", "q": 2 }, { "end": 0 } ] },
                { "id": "more", "kind": "text", "text": "Tell us", "optional": true, "rules": [ { "end": 0 } ] }
            ],
            "endings": [
                { "id": "thanks", "message": "Thanks", "actions": [] },
                { "id": "promoter", "title": "Great", "message": "Review us?", "actions": [ { "action": "offer", "code": "x" } ] }
            ]
        })
    }

    #[test]
    fn reads_the_card_form() {
        let form = Form::read(&sample()).unwrap();
        assert_eq!(form.id, "nps");
        assert_eq!(
            form.questions[0].kind,
            Kind::Score { min: 0, max: 10, low: Some("No".into()), high: Some("Yes".into()) }
        );
        assert_eq!(form.questions[0].rules[1], Rule { when: When::Score { min: 7, max: 10 }, to: To::Ending(1) });
        assert_eq!(form.questions[1].rules[0], Rule { when: When::Choice("other".into()), to: To::Question(2) });
        assert_eq!(form.questions[1].rules[1], Rule { when: When::Any, to: To::Ending(0) });
        assert_eq!(form.questions[2].kind, Kind::Text { optional: true, placeholder: None });
        assert_eq!(form.endings[1].actions, r#"[{"action":"offer","code":"x"}]"#);
        assert_eq!(form.endings[1].title.as_deref(), Some("Great"));
    }

    #[test]
    fn names_every_problem_by_its_path() {
        let mut bad = sample();
        bad["questions"][0]["rules"][1]["end"] = json!(7);
        bad["questions"][1]["choices"][1]["label"] = json!(3);
        bad["questions"][2]["kind"] = json!("slider");
        bad["endings"][0].as_object_mut().unwrap().remove("message");
        let problems = Form::read(&bad).unwrap_err();
        assert_eq!(
            problems,
            [
                "questions[1].choices[1].label: missing, or not a string",
                "questions[2].kind: unknown kind slider",
                "endings[0].message: missing, or not a string",
                "questions[0].rules[1]: leads to no question or ending",
            ]
        );
    }

    #[test]
    fn refuses_what_is_not_the_card_form() {
        assert_eq!(
            Form::read(&json!({ "id": "nps", "questions": [] })).unwrap_err(),
            ["not a survey in the card form (card/1)"]
        );
        assert_eq!(
            Form::read(&json!({ "form": "card/2" })).unwrap_err(),
            ["form: is card/2, this widget reads card/1"]
        );
        let mut empty = sample();
        empty["questions"] = json!([]);
        assert_eq!(Form::read(&empty).unwrap_err(), ["questions: a survey needs at least one question"]);
    }
}
