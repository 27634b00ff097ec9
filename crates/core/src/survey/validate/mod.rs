//! JSON → [`Survey`]. Reads the raw `serde_json::Value` by hand rather than
//! through derived `Deserialize`, so that every problem is reported with its
//! path and all problems are reported at once.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};
use touchpoint_protocol::Action;

use super::graph::{Choice, Condition, Ending, Question, QuestionKind, Rule, Survey, Target};
use super::SurveyProblem;
use crate::definition::{join, Reader as Cx};
use crate::definition::{DefinitionErrors, Problem};

impl Survey {
    pub fn from_json(text: &str) -> Result<Survey, DefinitionErrors> {
        crate::definition::validate_text(text, Cx::survey)
    }

    /// [`Survey::from_json`], with texts given per locale shown in the best of
    /// `locales` (the reader's languages, most preferred first).
    pub fn from_json_in(text: &str, locales: &[String]) -> Result<Survey, DefinitionErrors> {
        crate::definition::validate_text_in(text, locales, Cx::survey)
    }

    pub fn from_value(value: &Value) -> Result<Survey, DefinitionErrors> {
        crate::definition::validate(value, Cx::survey)
    }
}

const SURVEY_FIELDS: &[&str] = &["id", "title", "questions", "endings"];
const QUESTION_FIELDS: &[&str] =
    &["id", "kind", "text", "choices", "rules", "next", "low_label", "high_label", "max", "optional", "placeholder"];
const CHOICE_FIELDS: &[&str] = &["id", "label"];
const RULE_FIELDS: &[&str] = &["when", "next"];
const ENDING_FIELDS: &[&str] = &["id", "title", "message", "actions"];

/// A question before its `next` ids are resolved into [`Target`]s.
struct Draft {
    path: String,
    question: Question,
    /// (path of the `next` field, the id it names) per rule, in order.
    nexts: Vec<(String, String)>,
}

impl Cx {
    fn survey(&mut self, v: &Value) -> Option<Survey> {
        let map = self.object(v, "", SURVEY_FIELDS)?;
        let id = self.text(map, "", "id");
        let title = self.opt_label(map, "", "title");

        let mut drafts = Vec::new();
        match map.get("questions") {
            None => self.err("questions", Problem::MissingField),
            Some(_) => {
                let items = self.array(map, "", "questions").unwrap_or_default();
                if items.is_empty() && map.get("questions").is_some_and(Value::is_array) {
                    self.err("questions", SurveyProblem::NoQuestions);
                }
                for (i, q) in items.iter().enumerate() {
                    if let Some(d) = self.question(q, format!("questions[{i}]")) {
                        drafts.push(d);
                    }
                }
            }
        }
        let mut endings = Vec::new();
        if map.get("endings").is_none_or(|e| e.as_array().is_some_and(Vec::is_empty)) {
            self.err("endings", SurveyProblem::NoEndings);
        }
        for (i, e) in self.array(map, "", "endings").unwrap_or_default().iter().enumerate() {
            if let Some(e) = self.ending(e, format!("endings[{i}]")) {
                endings.push((format!("endings[{i}]"), e));
            }
        }

        // Ids share one namespace: a `next` must name exactly one thing.
        let mut ids: HashMap<String, (String, Target)> = HashMap::new();
        let all_ids = drafts
            .iter()
            .enumerate()
            .map(|(i, d)| (d.question.id.clone(), d.path.clone(), Target::Question(i)))
            .chain(endings.iter().enumerate().map(|(i, (p, e))| (e.id.clone(), p.clone(), Target::Ending(i))));
        for (id, path, target) in all_ids {
            if let Some((first, _)) = ids.get(&id) {
                self.err(format!("{path}.id"), Problem::DuplicateId { id, first: first.clone() });
            } else {
                ids.insert(id, (path, target));
            }
        }

        // Ids of items that failed to parse still count as declared, so one
        // mistake does not cascade into "unknown id" errors elsewhere.
        let declared: BTreeSet<&str> = ["questions", "endings"]
            .iter()
            .filter_map(|k| map.get(*k)?.as_array())
            .flatten()
            .filter_map(|item| item.get("id")?.as_str())
            .collect();

        // Resolve `next` ids into targets.
        let mut questions = Vec::with_capacity(drafts.len());
        let mut paths = Vec::with_capacity(drafts.len());
        for mut d in drafts {
            for (rule, (path, next)) in d.question.rules.iter_mut().zip(&d.nexts) {
                match ids.get(next) {
                    Some((_, t)) => rule.next = *t,
                    None if declared.contains(next.as_str()) => {}
                    None => self.err(path, SurveyProblem::UnknownTarget { id: next.clone() }),
                }
            }
            paths.push(d.path);
            questions.push(d.question);
        }
        let endings: Vec<Ending> = endings.into_iter().map(|(_, e)| e).collect();
        let survey = Survey { id: id?, title, questions, endings };
        if self.errors.is_empty() {
            self.graph_shape(&survey, &paths);
        }
        Some(survey)
    }

    fn question(&mut self, v: &Value, path: String) -> Option<Draft> {
        let map = self.object(v, &path, QUESTION_FIELDS)?;
        let id = self.text(map, &path, "id");
        let text = self.label(map, &path, "text");
        let kind_name = self.text(map, &path, "kind");
        let low_label = self.opt_label(map, &path, "low_label");
        let high_label = self.opt_label(map, &path, "high_label");

        let choices = self.choices(map, &path);
        let kind = match kind_name.as_deref()? {
            "nps" => QuestionKind::Nps { low_label, high_label },
            "rating" => {
                let max = match map.get("max") {
                    None => 5,
                    Some(v) => match v.as_i64() {
                        Some(m @ 3..=10) => m as u8,
                        Some(m) => {
                            self.err(join(&path, "max"), SurveyProblem::BadRatingMax { max: m });
                            5
                        }
                        None => {
                            self.err(join(&path, "max"), Problem::WrongType { expected: "an integer" });
                            5
                        }
                    },
                };
                QuestionKind::Rating { max, low_label, high_label }
            }
            "single_choice" => QuestionKind::SingleChoice { choices: choices.clone().unwrap_or_default() },
            "multi_choice" => QuestionKind::MultiChoice { choices: choices.clone().unwrap_or_default() },
            "text" => {
                let optional = match map.get("optional") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        self.err(join(&path, "optional"), Problem::WrongType { expected: "true or false" });
                        false
                    }
                };
                QuestionKind::Text { optional, placeholder: self.opt_label(map, &path, "placeholder") }
            }
            other => {
                self.err(join(&path, "kind"), SurveyProblem::UnknownKind(other.to_owned()));
                return None;
            }
        };
        let is_choice = matches!(kind, QuestionKind::SingleChoice { .. } | QuestionKind::MultiChoice { .. });
        match (&choices, is_choice) {
            (None, true) => self.err(join(&path, "choices"), Problem::MissingField),
            (Some(_), false) => {
                self.err(join(&path, "choices"), SurveyProblem::ChoicesNotAllowed { kind: kind.name() })
            }
            _ => {}
        }

        let (rules, nexts) = self.rules(map, &path, &kind);
        Some(Draft { question: Question { id: id?, text: text?, kind, rules }, nexts, path })
    }

    fn choices(&mut self, map: &Map<String, Value>, path: &str) -> Option<Vec<Choice>> {
        map.get("choices")?;
        let items = self.array(map, path, "choices")?;
        let path = join(path, "choices");
        if items.is_empty() {
            self.err(&path, Problem::Empty);
        }
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        for (i, c) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            let Some(m) = self.object(c, &p, CHOICE_FIELDS) else { continue };
            let (id, label) = (self.text(m, &p, "id"), self.label(m, &p, "label"));
            let (Some(id), Some(label)) = (id, label) else { continue };
            if let Some(first) = seen.get(&id) {
                self.err(format!("{p}.id"), Problem::DuplicateId { id, first: first.clone() });
                continue;
            }
            seen.insert(id.clone(), p);
            out.push(Choice { id, label });
        }
        Some(out)
    }

    /// Rules with placeholder targets (resolved once all ids are known), plus
    /// coverage checks: every possible answer must match exactly one rule.
    fn rules(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        kind: &QuestionKind,
    ) -> (Vec<Rule>, Vec<(String, String)>) {
        let errors_before = self.errors.len();
        let mut rules = Vec::new();
        let mut nexts = Vec::new();
        for (i, r) in self.array(map, path, "rules").unwrap_or_default().iter().enumerate() {
            let p = format!("{}[{i}]", join(path, "rules"));
            let Some(m) = self.object(r, &p, RULE_FIELDS) else { continue };
            let next = self.text(m, &p, "next");
            let when = match m.get("when") {
                None => {
                    self.err(join(&p, "when"), Problem::MissingField);
                    None
                }
                Some(w) => self.condition(w, &join(&p, "when"), kind),
            };
            if let (Some(when), Some(next)) = (when, next) {
                rules.push(Rule { when, next: Target::Ending(usize::MAX) });
                nexts.push((join(&p, "next"), next));
            }
        }
        if let Some(next) = self.opt_text(map, path, "next") {
            rules.push(Rule { when: Condition::Any, next: Target::Ending(usize::MAX) });
            nexts.push((join(path, "next"), next));
        }
        // Coverage of half-parsed rules would only repeat the errors above.
        if self.errors.len() == errors_before {
            self.coverage(&rules, &nexts, path, kind);
        }
        (rules, nexts)
    }

    fn condition(&mut self, w: &Value, path: &str, kind: &QuestionKind) -> Option<Condition> {
        let cond = match w {
            Value::String(s) if s == "any" => Condition::Any,
            Value::Object(m) if m.len() == 1 && m.contains_key("score") => {
                let Some(scale) = kind.scale() else {
                    self.err(path, SurveyProblem::ConditionNotForKind { condition: "score", kind: kind.name() });
                    return None;
                };
                let r = &m["score"];
                let bound = |k: &str| r.get(k).and_then(Value::as_u64).filter(|n| *n <= 255).map(|n| n as u8);
                let (Some(min), Some(max)) = (bound("min"), bound("max")) else {
                    self.err(join(path, "score"), Problem::WrongType { expected: r#"{"min": <0–10>, "max": <0–10>}"# });
                    return None;
                };
                if min > max {
                    self.err(join(path, "score"), SurveyProblem::InvertedRange { min, max });
                    return None;
                }
                if min < *scale.start() || max > *scale.end() {
                    let (scale_min, scale_max) = (*scale.start(), *scale.end());
                    self.err(join(path, "score"), SurveyProblem::ScoreOutOfScale { min, max, scale_min, scale_max });
                    return None;
                }
                Condition::Score { min, max }
            }
            Value::Object(m) if m.len() == 1 && m.contains_key("choice") => {
                if kind.choices().is_empty()
                    && !matches!(kind, QuestionKind::SingleChoice { .. } | QuestionKind::MultiChoice { .. })
                {
                    self.err(path, SurveyProblem::ConditionNotForKind { condition: "choice", kind: kind.name() });
                    return None;
                }
                let id = self.nonempty_str(&m["choice"], join(path, "choice"))?;
                if !kind.choices().iter().any(|c| c.id == id) {
                    self.err(join(path, "choice"), SurveyProblem::UnknownChoice { id });
                    return None;
                }
                Condition::Choice(id)
            }
            _ => {
                self.err(path, SurveyProblem::BadCondition);
                return None;
            }
        };
        Some(cond)
    }

    fn coverage(&mut self, rules: &[Rule], nexts: &[(String, String)], path: &str, kind: &QuestionKind) {
        // The path of a rule, for messages: the `next` field's parent.
        let rule_path = |i: usize| nexts[i].0.trim_end_matches(".next").to_owned();
        let mut after_any = false;
        let mut score_owner: HashMap<u8, usize> = HashMap::new();
        let mut choice_owner: HashMap<&str, usize> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            if after_any {
                self.err(rule_path(i), SurveyProblem::RuleAfterAny);
                continue;
            }
            match &rule.when {
                Condition::Any => after_any = true,
                Condition::Score { min, max } => {
                    let clash: Vec<u8> = (*min..=*max).filter(|s| score_owner.contains_key(s)).collect();
                    if let Some(first) = clash.first() {
                        let earlier_rule = rule_path(score_owner[first]);
                        self.err(
                            rule_path(i),
                            SurveyProblem::OverlappingScores { scores: ranges(&clash), earlier_rule },
                        );
                    }
                    for s in *min..=*max {
                        score_owner.entry(s).or_insert(i);
                    }
                }
                Condition::Choice(id) => {
                    if let Some(&first) = choice_owner.get(id.as_str()) {
                        // In a multi_choice, several picked choices may each match a rule; only
                        // a rule for the very same choice twice is dead.
                        let earlier_rule = rule_path(first);
                        self.err(rule_path(i), SurveyProblem::DuplicateChoiceRule { id: id.clone(), earlier_rule });
                    } else {
                        choice_owner.insert(id, i);
                    }
                }
            }
        }
        if after_any {
            return;
        }
        match kind {
            QuestionKind::Nps { .. } | QuestionKind::Rating { .. } => {
                let scale = kind.scale().expect("score kinds have a scale");
                let missing: Vec<u8> = scale.filter(|s| !score_owner.contains_key(s)).collect();
                if !missing.is_empty() {
                    self.err(join(path, "rules"), SurveyProblem::MissingScores { scores: ranges(&missing) });
                }
            }
            QuestionKind::SingleChoice { choices } | QuestionKind::MultiChoice { choices } => {
                let ids: Vec<String> = choices
                    .iter()
                    .filter(|c| !choice_owner.contains_key(c.id.as_str()))
                    .map(|c| c.id.clone())
                    .collect();
                if !ids.is_empty() && !choices.is_empty() {
                    self.err(join(path, "rules"), SurveyProblem::MissingChoices { ids });
                }
            }
            QuestionKind::Text { .. } => self.err(join(path, "rules"), SurveyProblem::MissingFallback { kind: "text" }),
        }
    }

    fn ending(&mut self, v: &Value, path: String) -> Option<Ending> {
        let map = self.object(v, &path, ENDING_FIELDS)?;
        let id = self.text(map, &path, "id");
        let title = self.opt_label(map, &path, "title");
        let message = self.label(map, &path, "message");
        let mut actions = Vec::new();
        for (i, a) in self.array(map, &path, "actions").unwrap_or_default().iter().enumerate() {
            let p = format!("{path}.actions[{i}]");
            let Some(m) = a.as_object() else {
                self.err(p, Problem::WrongType { expected: r#"an object like {"action": "webhook"}"# });
                continue;
            };
            let Some(name) = self.text(m, &p, "action") else { continue };
            let mut params = m.clone();
            params.remove("action");
            actions.push(Action { action: name, params });
        }
        Some(Ending { id: id?, title, message: message?, actions })
    }

    /// Cycles and unreachable nodes; runs only on an otherwise valid graph.
    fn graph_shape(&mut self, s: &Survey, paths: &[String]) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnStack,
            Done,
        }
        let mut mark = vec![Mark::New; s.questions.len()];
        let mut reached_endings = vec![false; s.endings.len()];
        let mut cycles: BTreeSet<Vec<usize>> = BTreeSet::new();
        // Iterative DFS from the first question; `stack` holds (question, next rule to follow).
        let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
        mark[0] = Mark::OnStack;
        while let Some(&mut (q, ref mut r)) = stack.last_mut() {
            let Some(rule) = s.questions[q].rules.get(*r) else {
                mark[q] = Mark::Done;
                stack.pop();
                continue;
            };
            *r += 1;
            match rule.next {
                Target::Ending(e) => reached_endings[e] = true,
                Target::Question(n) => match mark[n] {
                    Mark::New => {
                        mark[n] = Mark::OnStack;
                        stack.push((n, 0));
                    }
                    Mark::OnStack => {
                        let from = stack.iter().position(|(x, _)| *x == n).expect("on stack");
                        let mut cycle: Vec<usize> = stack[from..].iter().map(|(x, _)| *x).collect();
                        // Rotate so the same cycle found twice reads the same.
                        let min_at = cycle.iter().enumerate().min_by_key(|(_, x)| **x).map(|(i, _)| i).unwrap_or(0);
                        cycle.rotate_left(min_at);
                        cycles.insert(cycle);
                    }
                    Mark::Done => {}
                },
            }
        }
        for cycle in cycles {
            let mut ids: Vec<String> = cycle.iter().map(|i| s.questions[*i].id.clone()).collect();
            ids.push(ids[0].clone());
            self.err(paths[cycle[0]].clone(), SurveyProblem::Cycle { ids });
        }
        for (i, m) in mark.iter().enumerate() {
            if *m == Mark::New {
                self.err(paths[i].clone(), SurveyProblem::Unreachable { id: s.questions[i].id.clone() });
            }
        }
        for (i, reached) in reached_endings.iter().enumerate() {
            if !reached {
                self.err(format!("endings[{i}]"), SurveyProblem::Unreachable { id: s.endings[i].id.clone() });
            }
        }
    }
}

/// `[0,1,2,5,7,8]` → `"0–2, 5, 7–8"`.
fn ranges(sorted: &[u8]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        while i + 1 < sorted.len() && sorted[i + 1] == sorted[i] + 1 {
            i += 1;
        }
        let end = sorted[i];
        out.push(if start == end { start.to_string() } else { format!("{start}–{end}") });
        i += 1;
    }
    out.join(", ")
}

#[cfg(test)]
pub(super) mod tests;
