//! The card form must walk exactly like a [`Session`]: for every survey we
//! have, every question and every answer it accepts, the first matching rule
//! of the card leads to the same place as `Session::answer`. The walk below
//! reads only the card form, as the widget does in the page.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use touchpoint_protocol::card::{CardCondition, CardQuestion, CardSurvey, CardTarget};
use touchpoint_protocol::AnswerValue;

use super::super::validate::tests::valid_fixtures;
use super::super::{Question, QuestionKind, Session, Step, Survey};

/// The widget's step: the first rule whose condition holds for `answer`.
fn card_next(q: &CardQuestion, answer: &AnswerValue) -> Option<CardTarget> {
    q.rules.iter().find(|r| holds(&r.when, answer)).map(|r| r.next)
}

fn holds(when: &CardCondition, answer: &AnswerValue) -> bool {
    match (when, answer) {
        (CardCondition::Any, _) => true,
        (CardCondition::Score { min, max }, AnswerValue::Score(s)) => min <= s && s <= max,
        (CardCondition::Choice(id), AnswerValue::Text(picked)) => id == picked,
        (CardCondition::Choice(id), AnswerValue::Choices(picked)) => picked.contains(id),
        _ => false,
    }
}

/// Every answer `q` accepts, as far as it can make a difference: each score,
/// each choice, each one or two choices (in both orders), some text and, if
/// allowed, none.
fn answers(q: &Question) -> Vec<AnswerValue> {
    match q.kind() {
        QuestionKind::Nps { .. } | QuestionKind::Rating { .. } => {
            q.kind().scale().expect("score kinds have a scale").map(AnswerValue::Score).collect()
        }
        QuestionKind::SingleChoice { choices } => choices.iter().map(|c| AnswerValue::Text(c.id.clone())).collect(),
        QuestionKind::MultiChoice { choices } => {
            let mut out = Vec::new();
            for a in choices {
                out.push(AnswerValue::Choices(vec![a.id.clone()]));
                for b in choices.iter().filter(|b| b.id != a.id) {
                    out.push(AnswerValue::Choices(vec![a.id.clone(), b.id.clone()]));
                }
            }
            out
        }
        QuestionKind::Text { optional, .. } => {
            let mut out = vec![AnswerValue::Text("It was slow".into())];
            if *optional {
                out.extend([AnswerValue::Text(String::new()), AnswerValue::Text("  ".into())]);
            }
            out
        }
    }
}

fn session_step(step: Step<'_>) -> String {
    match step {
        Step::Question(q) => format!("question {:?}", q.id()),
        Step::Ending(e) => format!("ending {:?}", e.id()),
    }
}

fn card_step(card: &CardSurvey, next: Option<CardTarget>) -> String {
    match next {
        None => "no rule matches".into(),
        Some(CardTarget::Question(i)) => {
            card.questions.get(i).map_or(format!("question #{i}, out of bounds"), |q| format!("question {:?}", q.id))
        }
        Some(CardTarget::Ending(i)) => {
            card.endings.get(i).map_or(format!("ending #{i}, out of bounds"), |e| format!("ending {:?}", e.id))
        }
    }
}

/// Every place where walking `card` leads elsewhere than a session of
/// `survey`: each question reachable from the first is answered with each of
/// [`answers`].
fn mismatches(survey: &Survey, card: &CardSurvey) -> Vec<String> {
    let index = |id: &str| survey.questions().iter().position(|q| q.id() == id).expect("a question of the survey");
    let mut out = Vec::new();
    let mut reached = vec![false; survey.questions().len()];
    reached[0] = true;
    let mut todo = vec![Session::new(Arc::new(survey.clone()))];
    while let Some(session) = todo.pop() {
        let Step::Question(q) = session.step() else { continue };
        let at = index(q.id());
        let Some(card_q) = card.questions.get(at).filter(|c| c.id == q.id()) else {
            out.push(format!("question {:?} is not at index {at} of the card", q.id()));
            continue;
        };
        for answer in answers(q) {
            let mut next = session.clone();
            let expected = match next.answer(answer.clone()) {
                Ok(step) => session_step(step),
                Err(e) => {
                    out.push(format!("the test's answer {answer:?} was refused: {e}"));
                    continue;
                }
            };
            let got = card_step(card, card_next(card_q, &answer));
            if got != expected {
                out.push(format!("{:?} answered {answer:?}: the card leads to {got}, a session to {expected}", q.id()));
            }
            if let Step::Question(n) = next.step() {
                let n = index(n.id());
                if !reached[n] {
                    reached[n] = true;
                    todo.push(next);
                }
            }
        }
    }
    // Validation makes every question reachable, so the walk saw them all.
    for (q, _) in survey.questions().iter().zip(&reached).filter(|(_, r)| !**r) {
        out.push(format!("question {:?} was never reached", q.id()));
    }
    if card.questions.len() != survey.questions().len() || card.endings.len() != survey.endings().len() {
        out.push("the card has another number of questions or endings".into());
    }
    out
}

/// One valid definition the validation tests do not build: every kind, a
/// multi_choice whose rules are not in the order of its choices, a `next`
/// after choice rules, every optional field.
fn every_kind() -> Value {
    json!({ "id": "all", "title": { "en": "Quick question", "de": "Kurze Frage" },
        "questions": [
            { "id": "stars", "kind": "rating", "max": 4, "text": "Rate it", "low_label": "Meh", "high_label": "Love it",
              "rules": [ { "when": { "score": { "min": 1, "max": 2 } }, "next": "why" },
                         { "when": { "score": { "min": 4, "max": 4 } }, "next": "pick" },
                         { "when": "any", "next": "more" } ] },
            { "id": "why", "kind": "multi_choice", "text": "Why?",
              "choices": [ { "id": "a", "label": "A" }, { "id": "b", "label": "B" }, { "id": "c", "label": "C" } ],
              "rules": [ { "when": { "choice": "b" }, "next": "sorry" }, { "when": { "choice": "a" }, "next": "more" } ],
              "next": "thanks" },
            { "id": "pick", "kind": "single_choice", "text": { "en": "Pick one", "de": "Eins wählen" },
              "choices": [ { "id": "x", "label": { "en": "X", "de": "Iks" } }, { "id": "y", "label": "Y" } ],
              "rules": [ { "when": { "choice": "y" }, "next": "nps" }, { "when": { "choice": "x" }, "next": "thanks" } ] },
            { "id": "nps", "kind": "nps", "text": "How likely?",
              "rules": [ { "when": { "score": { "min": 0, "max": 9 } }, "next": "more" } ], "next": "thanks" },
            { "id": "more", "kind": "text", "text": "Anything else?", "optional": true, "placeholder": "Optional",
              "next": "must" },
            { "id": "must", "kind": "text", "text": "One word?", "next": "thanks" }
        ],
        "endings": [ { "id": "thanks", "message": "Thanks" },
                     { "id": "sorry", "title": "Sorry", "message": "We will do better",
                       "actions": [ { "action": "webhook", "url": "https://example.com/hook" } ] } ] })
}

/// Every survey in the repository's `surveys/`, in the reader's default
/// language and in German, the validation tests' valid fixtures and
/// [`every_kind`].
fn all_surveys() -> Vec<(String, Survey)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../surveys");
    let mut texts: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    texts.sort();
    assert!(!texts.is_empty(), "no surveys in {}", dir.display());
    texts.extend(valid_fixtures().into_iter().map(|(name, v)| (format!("fixture {name}"), v.to_string())));
    texts.push(("every kind".into(), every_kind().to_string()));
    let mut out = Vec::new();
    for (name, text) in texts {
        for locales in [vec![], vec!["de".to_owned()]] {
            let survey = Survey::from_json_in(&text, &locales).unwrap_or_else(|e| panic!("{name}: {e}"));
            out.push((format!("{name} {locales:?}"), survey));
        }
    }
    out
}

#[test]
fn the_card_form_walks_like_a_session() {
    for (name, survey) in all_surveys() {
        assert_eq!(mismatches(&survey, &survey.to_card()), Vec::<String>::new(), "{name}");
    }
}

/// The walk above notices a card form that leads elsewhere.
#[test]
fn a_wrong_card_form_is_noticed() {
    let survey = Survey::from_json(include_str!("../../../../../surveys/nps.json")).unwrap();
    type Breakage = fn(&mut CardSurvey);
    let breakages: [(&str, Breakage); 5] = [
        ("two destinations swapped", |c| {
            let rules = &mut c.questions[0].rules;
            let first = rules[0].next;
            rules[0].next = rules[1].next;
            rules[1].next = first;
        }),
        ("the fallback first", |c| c.questions[1].rules.rotate_right(1)),
        ("a score range one too short", |c| c.questions[0].rules[2].when = CardCondition::Score { min: 9, max: 9 }),
        ("questions reordered", |c| c.questions.swap(3, 4)),
        ("endings reordered", |c| c.endings.swap(0, 1)),
    ];
    for (what, break_it) in breakages {
        let mut card = survey.to_card();
        break_it(&mut card);
        assert_ne!(mismatches(&survey, &card), Vec::<String>::new(), "{what}");
    }
}

/// Every field of the form, as the widget reads it.
#[test]
fn every_field_of_the_card_form() {
    let survey = Survey::from_json_in(&every_kind().to_string(), &["de-AT".to_owned()]).unwrap();
    assert_eq!(
        serde_json::to_value(survey.to_card()).unwrap(),
        json!({ "form": "card/1", "id": "all", "title": "Kurze Frage",
            "questions": [
                { "id": "stars", "kind": "rating", "text": "Rate it", "min": 1, "max": 4, "low": "Meh", "high": "Love it",
                  "rules": [ { "min": 1, "max": 2, "q": 1 }, { "min": 4, "max": 4, "q": 2 }, { "q": 4 } ] },
                { "id": "why", "kind": "multi_choice", "text": "Why?",
                  "choices": [ { "id": "a", "label": "A" }, { "id": "b", "label": "B" }, { "id": "c", "label": "C" } ],
                  "rules": [ { "choice": "b", "end": 1 }, { "choice": "a", "q": 4 }, { "end": 0 } ] },
                { "id": "pick", "kind": "single_choice", "text": "Eins wählen",
                  "choices": [ { "id": "x", "label": "Iks" }, { "id": "y", "label": "Y" } ],
                  "rules": [ { "choice": "y", "q": 3 }, { "choice": "x", "end": 0 } ] },
                { "id": "nps", "kind": "nps", "text": "How likely?", "min": 0, "max": 10,
                  "rules": [ { "min": 0, "max": 9, "q": 4 }, { "end": 0 } ] },
                { "id": "more", "kind": "text", "text": "Anything else?", "optional": true, "placeholder": "Optional",
                  "rules": [ { "q": 5 } ] },
                { "id": "must", "kind": "text", "text": "One word?", "rules": [ { "end": 0 } ] }
            ],
            "endings": [
                { "id": "thanks", "message": "Thanks", "actions": [] },
                { "id": "sorry", "title": "Sorry", "message": "We will do better",
                  "actions": [ { "action": "webhook", "url": "https://example.com/hook" } ] }
            ] })
    );
}

#[test]
fn the_demo_survey_in_german() {
    let text = include_str!("../../../../../surveys/nps.json");
    let card = Survey::from_json_in(text, &["de-DE".to_owned(), "en".to_owned()]).unwrap().to_card();
    let wire = serde_json::to_value(&card).unwrap();
    assert_eq!(wire["title"], "Wie machen wir uns?");
    assert_eq!(wire["questions"][0]["kind"], "nps");
    assert_eq!(wire["questions"][0]["low"], "Sehr unwahrscheinlich");
    assert_eq!(
        wire["questions"][0]["rules"],
        json!([ { "min": 0, "max": 6, "q": 1 }, { "min": 7, "max": 8, "q": 3 },
                                                     { "min": 9, "max": 10, "q": 4 } ])
    );
    assert_eq!(
        wire["questions"][1]["rules"],
        json!([ { "choice": "not_ready", "end": 0 }, { "choice": "other", "q": 2 },
                                                     { "end": 1 } ])
    );
    assert_eq!(
        wire["endings"][0]["actions"],
        json!([ { "action": "offer", "code": "trial_extension_14d" },
                                                     { "action": "webhook" } ])
    );
    // The wire form reads back as the same card.
    assert_eq!(serde_json::from_value::<CardSurvey>(wire).unwrap(), card);
}
