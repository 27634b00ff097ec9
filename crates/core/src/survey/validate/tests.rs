//! One `check(definition, expected messages)` per problem: each test states
//! the exact message an author would read.

use serde_json::{json, Value};

use super::super::Survey;
use crate::definition::Problem;

const DEMO: &str = include_str!("../../../../../surveys/nps.json");

fn errors(v: Value) -> Vec<String> {
    match Survey::from_value(&v) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[track_caller]
fn check(v: Value, expected: &[&str]) {
    assert_eq!(errors(v), expected);
}

/// A small valid survey to break one piece at a time.
fn base() -> Value {
    json!({
        "id": "s",
        "questions": [
            { "id": "score", "kind": "nps", "text": "How likely?",
              "rules": [ { "when": { "score": { "min": 0, "max": 6 } }, "next": "why" },
                         { "when": { "score": { "min": 7, "max": 10 } }, "next": "done" } ] },
            { "id": "why", "kind": "text", "text": "Why?", "next": "done" }
        ],
        "endings": [ { "id": "done", "message": "Thanks" } ]
    })
}

/// The valid definitions these tests build, for other tests of the survey
/// module to run over (the card form walks like a session on each).
pub(in crate::survey) fn valid_fixtures() -> Vec<(&'static str, Value)> {
    let mut any_rule = base();
    any_rule["questions"][0]["rules"][1] = json!({ "when": "any", "next": "done" });
    let mut localized = base();
    localized["questions"][0]["text"] = json!({ "en": "How likely?", "de": "Wie wahrscheinlich?" });
    localized["endings"][0]["message"] = json!({ "en": "Thanks", "de": "Danke" });
    vec![
        ("base", base()),
        ("a final any rule", any_rule),
        ("localized", localized),
        (
            "a choice rule and any",
            pick(json!([ { "when": { "choice": "b" }, "next": "done" }, { "when": "any", "next": "done" } ])),
        ),
    ]
}

#[test]
fn the_valid_fixtures_are_valid() {
    for (name, v) in valid_fixtures() {
        assert_eq!(errors(v), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn demo_survey_is_valid() {
    let s = Survey::from_json(DEMO).expect("the demo survey shipped in surveys/ must validate");
    assert_eq!(s.id(), "nps");
    assert_eq!(s.nps_question().map(|q| q.id()), Some("score"));
}

#[test]
fn base_is_valid() {
    check(base(), &[]);
}

#[test]
fn unknown_next_id() {
    let mut v = base();
    v["questions"][1]["next"] = json!("nowhere");
    check(v, &[r#"questions[1].next: "nowhere" is not the id of a question or an ending"#]);
}

#[test]
fn cycle() {
    let mut v = base();
    v["questions"][1]["next"] = json!("score");
    check(v, &["questions[0]: cycle: score → why → score (a survey must always reach an ending)"]);
}

#[test]
fn unreachable_question_and_ending() {
    let mut v = base();
    v["questions"].as_array_mut().unwrap().push(json!({ "id": "orphan", "kind": "text", "text": "?", "next": "done" }));
    v["endings"].as_array_mut().unwrap().push(json!({ "id": "unused", "message": "Never shown" }));
    check(
        v,
        &[
            r#"questions[2]: "orphan" can never be reached from the first question"#,
            r#"endings[1]: "unused" can never be reached from the first question"#,
        ],
    );
}

#[test]
fn overlapping_score_ranges() {
    let mut v = base();
    v["questions"][0]["rules"][1]["when"] = json!({ "score": { "min": 5, "max": 10 } });
    check(
        v,
        &["questions[0].rules[1]: scores 5–6 are already covered by questions[0].rules[0]; score ranges must not overlap"],
    );
}

#[test]
fn missing_score_ranges() {
    let mut v = base();
    v["questions"][0]["rules"][1]["when"] = json!({ "score": { "min": 8, "max": 9 } });
    check(v, &[r#"questions[0].rules: no rule handles scores 7, 10; add a rule for them or a final {"when": "any"}"#]);
}

#[test]
fn a_final_any_rule_covers_missing_scores() {
    let mut v = base();
    v["questions"][0]["rules"][1] = json!({ "when": "any", "next": "done" });
    check(v, &[]);
}

#[test]
fn score_range_outside_scale_and_inverted() {
    let mut v = base();
    v["questions"][0]["rules"][0]["when"] = json!({ "score": { "min": 0, "max": 11 } });
    v["questions"][0]["rules"][1]["when"] = json!({ "score": { "min": 9, "max": 7 } });
    check(
        v,
        &[
            "questions[0].rules[0].when.score: score range 0–11 is outside this question's scale 0–10",
            "questions[0].rules[1].when.score: min 9 is greater than max 7",
        ],
    );
}

#[test]
fn duplicate_ids_across_questions_and_endings() {
    let mut v = base();
    v["endings"][0]["id"] = json!("why");
    v["questions"][1]["next"] = json!("why");
    check(
        v,
        &[
            r#"endings[0].id: duplicate id "why", already used at questions[1]"#,
            r#"questions[0].rules[1].next: "done" is not the id of a question or an ending"#,
        ],
    );
}

#[test]
fn duplicate_choice_ids() {
    let v = json!({ "id": "s",
        "questions": [ { "id": "q", "kind": "single_choice", "text": "Pick",
                         "choices": [ { "id": "a", "label": "A" }, { "id": "a", "label": "Again" } ], "next": "done" } ],
        "endings": [ { "id": "done", "message": "Thanks" } ] });
    check(v, &[r#"questions[0].choices[1].id: duplicate id "a", already used at questions[0].choices[0]"#]);
}

#[test]
fn empty_text() {
    let mut v = base();
    v["questions"][0]["text"] = json!("  ");
    v["endings"][0]["message"] = json!("");
    check(v, &["questions[0].text: must not be empty", "endings[0].message: must not be empty"]);
}

#[test]
fn unknown_kind() {
    let mut v = base();
    v["questions"][1]["kind"] = json!("slider");
    check(
        v,
        &[
            r#"questions[1].kind: unknown kind "slider"; expected one of nps, single_choice, multi_choice, text, rating"#,
        ],
    );
}

#[test]
fn missing_fields_wrong_types_and_typos() {
    let v = json!({ "id": 7, "questions": [ { "id": "q", "kind": "text", "txt": "Hi", "next": "done" } ],
                    "endings": [ { "id": "done", "message": "Thanks" } ] });
    check(
        v,
        &[
            "id: expected a string",
            "questions[0].txt: unknown field; allowed here: id, kind, text, choices, rules, next, low_label, high_label, max, optional, placeholder",
            "questions[0].text: is required but missing",
        ],
    );
}

#[test]
fn not_json_at_all() {
    let err = Survey::from_json("{ \"id\": ").unwrap_err();
    assert!(matches!(err.0[0].problem, Problem::InvalidJson(_)), "{err}");
    assert!(err.to_string().starts_with("invalid definition (1 problem):\n  not valid JSON: EOF"), "{err}");
}

#[test]
fn no_questions_no_endings() {
    check(
        json!({ "id": "s", "questions": [], "endings": [] }),
        &[
            "questions: a survey needs at least one question",
            "endings: a survey needs at least one ending (where the thank-you message lives)",
        ],
    );
}

#[test]
fn text_question_without_a_way_on() {
    let mut v = base();
    v["questions"][1].as_object_mut().unwrap().remove("next");
    check(v, &[r#"questions[1].rules: a text question needs a final {"when": "any"} rule or a "next" to go on to"#]);
}

fn pick(rules: Value) -> Value {
    json!({ "id": "s",
        "questions": [ { "id": "q", "kind": "single_choice", "text": "Pick",
                         "choices": [ { "id": "a", "label": "A" }, { "id": "b", "label": "B" }, { "id": "c", "label": "C" } ],
                         "rules": rules } ],
        "endings": [ { "id": "done", "message": "Thanks" } ] })
}

#[test]
fn choice_rules_must_name_real_choices() {
    check(
        pick(json!([ { "when": { "choice": "zzz" }, "next": "done" }, { "when": "any", "next": "done" } ])),
        &[r#"questions[0].rules[0].when.choice: "zzz" is not one of this question's choice ids"#],
    );
}

#[test]
fn choice_rules_must_cover_every_choice_once() {
    check(
        pick(json!([ { "when": { "choice": "a" }, "next": "done" }, { "when": { "choice": "a" }, "next": "done" } ])),
        &[
            r#"questions[0].rules[1]: choice "a" is already handled by questions[0].rules[0]"#,
            r#"questions[0].rules: no rule handles choices "b", "c"; add rules for them or a final {"when": "any"}"#,
        ],
    );
}

#[test]
fn conditions_must_fit_the_question_kind() {
    let mut v = base();
    v["questions"][1]["rules"] = json!([ { "when": { "score": { "min": 0, "max": 1 } }, "next": "done" },
                                         { "when": "sometimes", "next": "done" } ]);
    check(
        v,
        &[
            "questions[1].rules[0].when: a score rule cannot apply to a text question",
            r#"questions[1].rules[1].when: expected "any", {"score": {"min": <n>, "max": <n>}} or {"choice": "<choice id>"}"#,
        ],
    );
}

#[test]
fn rule_after_any_is_dead() {
    let mut v = base();
    v["questions"][0]["rules"] = json!([ { "when": "any", "next": "why" },
                                         { "when": { "score": { "min": 0, "max": 10 } }, "next": "done" } ]);
    check(v, &[r#"questions[0].rules[1]: this rule comes after an "any" rule and can never match"#]);
}

#[test]
fn rating_scale_is_checked() {
    let v = json!({ "id": "s",
        "questions": [ { "id": "r", "kind": "rating", "text": "Rate", "max": 20, "next": "done" } ],
        "endings": [ { "id": "done", "message": "Thanks" } ] });
    check(v, &["questions[0].max: rating max must be between 3 and 10, got 20"]);
}

#[test]
fn ending_actions_keep_their_parameters() {
    let s = Survey::from_json(DEMO).unwrap();
    let trial = s.endings().iter().find(|e| e.id() == "trial_offer").unwrap();
    assert_eq!(trial.actions()[0].action, "offer");
    assert_eq!(trial.actions()[0].params["code"], "trial_extension_14d");
    let mut v = base();
    v["endings"][0]["actions"] = json!([ { "code": "x" }, "webhook" ]);
    check(
        v,
        &[
            "endings[0].actions[0].action: is required but missing",
            r#"endings[0].actions[1]: expected an object like {"action": "webhook"}"#,
        ],
    );
}

/// Texts given per locale: the reader's languages choose, with fallbacks.
#[test]
fn localized_texts_follow_the_readers_languages() {
    let mut v = base();
    v["questions"][0]["text"] = json!({ "en": "How likely?", "de": "Wie wahrscheinlich?", "pt-BR": "Qual a chance?" });
    v["endings"][0]["message"] = json!({ "en": "Thanks", "de": "Danke" });
    let text = v.to_string();
    let read = |langs: &[&str]| {
        let langs: Vec<String> = langs.iter().map(|l| l.to_string()).collect();
        let s = Survey::from_json_in(&text, &langs).unwrap();
        (s.first_question().text().to_owned(), s.endings()[0].message().to_owned())
    };
    assert_eq!(read(&["de-AT", "en"]), ("Wie wahrscheinlich?".into(), "Danke".into()), "de-AT falls back to de");
    assert_eq!(read(&["pt-BR"]), ("Qual a chance?".into(), "Thanks".into()), "a text without pt-BR falls back to en");
    assert_eq!(read(&["fr", "de"]), ("Wie wahrscheinlich?".into(), "Danke".into()), "the next preferred language");
    assert_eq!(read(&["ja"]), ("How likely?".into(), "Thanks".into()), "otherwise English");
    assert_eq!(read(&[]), ("How likely?".into(), "Thanks".into()));
    // Without English, the first alphabetically.
    v["endings"][0]["message"] = json!({ "fr": "Merci", "de": "Danke" });
    let s = Survey::from_json_in(&v.to_string(), &["ja".to_owned()]).unwrap();
    assert_eq!(s.endings()[0].message(), "Danke");
}

#[test]
fn bad_localized_texts_name_their_path() {
    let mut v = base();
    v["questions"][0]["text"] = json!({});
    v["questions"][1]["text"] = json!({ "en": "", "de_DE": "Warum?" });
    check(
        v,
        &[
            "questions[0].text: must not be empty",
            "questions[1].text.de_DE: \"de_DE\" is not a locale tag such as \"en\" or \"pt-BR\"",
            "questions[1].text.en: must not be empty",
        ],
    );
}
