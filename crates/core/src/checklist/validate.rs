//! JSON → [`ChecklistSet`], all problems at once, each with its path.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::predicate::{all_hold, Op, Predicate};
use super::ChecklistProblem;
use crate::definition::{join, Reader};
use crate::definition::{DefinitionErrors, Problem};

/// Segments and the checklists they choose, validated together.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistSet {
    segments: Vec<Segment>,
    checklists: Vec<Checklist>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: String,
    /// Empty for the default (last) segment.
    pub when: Vec<Predicate>,
    /// Index into the set's checklists.
    checklist: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Checklist {
    pub id: String,
    pub title: String,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub cta: Option<Cta>,
    pub complete_when: CompleteWhen,
    /// Indices of items that must be complete first; acyclic.
    pub depends_on: Vec<usize>,
    /// `"scope": "account"`: the item counts the behaviors of every user of
    /// the user's account (`group`), and is done for all of them at once.
    pub scope: Scope,
}

/// Whose behaviors an item counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scope {
    #[default]
    User,
    Account,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cta {
    Url {
        label: String,
        url: String,
    },
    /// A function the host registered; the SDK calls it.
    Callback {
        label: String,
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum CompleteWhen {
    /// `count` `track(event)` calls whose properties satisfy `where_`.
    Event { event: String, where_: Vec<Predicate>, count: u32 },
    /// Only `Touchpoint.complete(item)`.
    Manual,
}

impl ChecklistSet {
    pub fn from_json(text: &str) -> Result<ChecklistSet, DefinitionErrors> {
        crate::definition::validate_text(text, Reader::checklist_set)
    }

    pub fn from_value(value: &Value) -> Result<ChecklistSet, DefinitionErrors> {
        crate::definition::validate(value, Reader::checklist_set)
    }

    /// [`ChecklistSet::from_json`], with texts given per locale shown in the
    /// best of `locales` (most preferred first).
    pub fn from_json_in(text: &str, locales: &[String]) -> Result<ChecklistSet, DefinitionErrors> {
        crate::definition::validate_text_in(text, locales, Reader::checklist_set)
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn checklists(&self) -> &[Checklist] {
        &self.checklists
    }

    /// The checklist a segment chooses.
    pub fn checklist_of(&self, segment: &Segment) -> &Checklist {
        &self.checklists[segment.checklist]
    }

    pub fn checklist(&self, id: &str) -> Option<&Checklist> {
        self.checklists.iter().find(|c| c.id == id)
    }

    /// The first segment whose conditions hold on `traits` (validation
    /// guarantees the last one, the default, always does) and its checklist.
    pub fn choose(&self, traits: &Map<String, Value>) -> (&Segment, &Checklist) {
        let seg =
            self.segments.iter().find(|s| all_hold(&s.when, traits)).expect("the default segment matches everyone");
        (seg, &self.checklists[seg.checklist])
    }
}

impl Checklist {
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }
}

const SET_FIELDS: &[&str] = &["segments", "checklists"];
const SEGMENT_FIELDS: &[&str] = &["id", "when", "checklist"];
const CHECKLIST_FIELDS: &[&str] = &["id", "title", "items"];
const ITEM_FIELDS: &[&str] = &["id", "title", "description", "cta", "complete_when", "depends_on", "scope"];
const CTA_FIELDS: &[&str] = &["label", "url", "callback"];
const RULE_FIELDS: &[&str] = &["event", "where", "count"];

impl Reader {
    fn checklist_set(&mut self, v: &Value) -> Option<ChecklistSet> {
        let map = self.object(v, "", SET_FIELDS)?;
        let mut checklists = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        let items = self.array(map, "", "checklists").unwrap_or_default();
        if items.is_empty() {
            self.err("checklists", Problem::Empty);
        }
        for (i, c) in items.iter().enumerate() {
            let path = format!("checklists[{i}]");
            if let Some(c) = self.checklist(c, &path) {
                if let Some(first) = seen.insert(c.id.clone(), path.clone()) {
                    self.err(format!("{path}.id"), Problem::DuplicateId { id: c.id.clone(), first });
                }
                checklists.push(c);
            }
        }

        let mut segments = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        let raw = self.array(map, "", "segments").unwrap_or_default();
        for (i, s) in raw.iter().enumerate() {
            let path = format!("segments[{i}]");
            let Some(m) = self.object(s, &path, SEGMENT_FIELDS) else { continue };
            let id = self.text(m, &path, "id");
            let target = self.text(m, &path, "checklist");
            let when = match m.get("when") {
                None => Vec::new(),
                Some(w) => self.predicates(w, &join(&path, "when")),
            };
            let (Some(id), Some(target)) = (id, target) else { continue };
            if let Some(first) = seen.insert(id.clone(), path.clone()) {
                self.err(format!("{path}.id"), Problem::DuplicateId { id: id.clone(), first });
            }
            if m.get("when").is_none() && i + 1 < raw.len() {
                self.err(&path, Problem::DefaultNotLast { id: id.clone() });
            }
            match checklists.iter().position(|c| c.id == target) {
                Some(checklist) => segments.push(Segment { id, when, checklist }),
                None if items.iter().any(|c| c.get("id").and_then(Value::as_str) == Some(&target)) => {}
                None => self.err(join(&path, "checklist"), ChecklistProblem::UnknownChecklist { id: target }),
            }
        }
        if raw.last().is_none_or(|s| s.get("when").is_some()) {
            self.err("segments", Problem::NoDefaultSegment);
        }
        Some(ChecklistSet { segments, checklists })
    }

    fn checklist(&mut self, v: &Value, path: &str) -> Option<Checklist> {
        let map = self.object(v, path, CHECKLIST_FIELDS)?;
        let id = self.text(map, path, "id");
        let title = self.label(map, path, "title");
        let raw = self.array(map, path, "items").unwrap_or_default();
        if raw.is_empty() {
            self.err(join(path, "items"), Problem::Empty);
        }
        let ids: Vec<Option<&str>> = raw.iter().map(|i| i.get("id").and_then(Value::as_str)).collect();
        let mut items = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut item_paths = Vec::new();
        for (i, it) in raw.iter().enumerate() {
            let p = format!("{}[{i}]", join(path, "items"));
            let Some(item) = self.item(it, &p, &ids) else { continue };
            if let Some(first) = seen.insert(item.id.clone(), p.clone()) {
                self.err(format!("{p}.id"), Problem::DuplicateId { id: item.id.clone(), first });
            }
            items.push(item);
            item_paths.push(p);
        }
        if items.len() == raw.len() {
            self.dependency_cycles(&items, &item_paths);
        }
        Some(Checklist { id: id?, title: title?, items })
    }

    fn item(&mut self, v: &Value, path: &str, ids: &[Option<&str>]) -> Option<Item> {
        let map = self.object(v, path, ITEM_FIELDS)?;
        let id = self.text(map, path, "id");
        let title = self.label(map, path, "title");
        let description = self.opt_label(map, path, "description");
        let cta = map.get("cta").and_then(|c| self.cta(c, &join(path, "cta")));
        let complete_when = match map.get("complete_when") {
            None => {
                self.err(join(path, "complete_when"), Problem::MissingField);
                None
            }
            Some(Value::String(s)) if s == "manual" => Some(CompleteWhen::Manual),
            Some(rule) => self.rule(rule, &join(path, "complete_when")),
        };
        let mut depends_on = Vec::new();
        for (i, d) in self.array(map, path, "depends_on").unwrap_or_default().iter().enumerate() {
            let p = format!("{}[{i}]", join(path, "depends_on"));
            let Some(d) = self.nonempty_str(d, p.clone()) else { continue };
            match ids.iter().position(|x| *x == Some(d.as_str())) {
                Some(ix) => depends_on.push(ix),
                None => self.err(p, ChecklistProblem::UnknownItem { id: d }),
            }
        }
        let scope = match map.get("scope") {
            None => Scope::User,
            Some(Value::String(s)) if s == "user" => Scope::User,
            Some(Value::String(s)) if s == "account" => Scope::Account,
            Some(_) => {
                self.err(join(path, "scope"), Problem::WrongType { expected: r#""user" or "account""# });
                Scope::User
            }
        };
        Some(Item { id: id?, title: title?, description, cta, complete_when: complete_when?, depends_on, scope })
    }

    fn cta(&mut self, v: &Value, path: &str) -> Option<Cta> {
        let map = self.object(v, path, CTA_FIELDS)?;
        let label = self.label(map, path, "label")?;
        match (map.get("url"), map.get("callback")) {
            (Some(_), None) => {
                let url = self.text(map, path, "url")?;
                if let Some(why) = crate::links::off_site(&url) {
                    self.err(join(path, "url"), Problem::OffSite { url, why });
                    return None;
                }
                // Only links that navigate: a `javascript:` URL in a definition is never followed.
                let lower = url.trim().to_ascii_lowercase();
                if !(lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with('/')) {
                    self.err(
                        join(path, "url"),
                        Problem::WrongType { expected: "an http(s) URL or a path starting with /" },
                    );
                    return None;
                }
                Some(Cta::Url { label, url })
            }
            (None, Some(_)) => Some(Cta::Callback { label, name: self.text(map, path, "callback")? }),
            _ => {
                self.err(path, Problem::WrongType { expected: r#"exactly one of "url" or "callback""# });
                None
            }
        }
    }

    fn rule(&mut self, v: &Value, path: &str) -> Option<CompleteWhen> {
        let map = self.object(v, path, RULE_FIELDS)?;
        let event = self.text(map, path, "event");
        let where_ = map.get("where").map(|w| self.predicates(w, &join(path, "where"))).unwrap_or_default();
        let count = match map.get("count") {
            None => 1,
            Some(c) => match c.as_u64() {
                Some(n @ 1..=1_000_000) => n as u32,
                _ => {
                    self.err(join(path, "count"), Problem::BadCount);
                    1
                }
            },
        };
        Some(CompleteWhen::Event { event: event?, where_, count })
    }

    /// `{ "plan": { "in": ["pro", "team"] }, "team_size": { ">=": 6, "<=": 50 } }`
    /// Shared with targeting, whose `traits` conditions use the same syntax.
    pub(crate) fn predicates(&mut self, v: &Value, path: &str) -> Vec<Predicate> {
        let Some(map) = v.as_object() else {
            self.err(path, Problem::WrongType { expected: r#"an object like {"team_size": {">=": 6}}"# });
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, cond) in map {
            let p = join(path, key);
            let Some(ops) = cond.as_object().filter(|o| !o.is_empty()) else {
                self.err(&p, Problem::WrongType { expected: r#"an object of operators like {">=": 6}"# });
                continue;
            };
            let mut parsed = Vec::new();
            for (op, arg) in ops {
                let op_path = join(&p, op);
                let num = |r: &mut Reader| {
                    let n = arg.as_f64();
                    if n.is_none() {
                        r.err(&op_path, Problem::WrongType { expected: "a number" });
                    }
                    n
                };
                let parsed_op = match op.as_str() {
                    "equals" => Some(Op::Equals(arg.clone())),
                    "in" => match arg.as_array() {
                        Some(xs) if !xs.is_empty() => Some(Op::In(xs.clone())),
                        _ => {
                            self.err(&op_path, Problem::WrongType { expected: "a non-empty array" });
                            None
                        }
                    },
                    ">=" => num(self).map(Op::Gte),
                    ">" => num(self).map(Op::Gt),
                    "<=" => num(self).map(Op::Lte),
                    "<" => num(self).map(Op::Lt),
                    "exists" => match arg.as_bool() {
                        Some(b) => Some(Op::Exists(b)),
                        None => {
                            self.err(&op_path, Problem::WrongType { expected: "true or false" });
                            None
                        }
                    },
                    other => {
                        self.err(&op_path, ChecklistProblem::UnknownOperator { op: other.to_owned() });
                        None
                    }
                };
                parsed.extend(parsed_op);
            }
            out.push(Predicate { key: key.clone(), ops: parsed });
        }
        out
    }

    fn dependency_cycles(&mut self, items: &[Item], paths: &[String]) {
        // Kahn's algorithm: what cannot be ordered is on (or behind) a cycle.
        let mut indegree: Vec<usize> = items.iter().map(|i| i.depends_on.len()).collect();
        let mut ready: Vec<usize> = (0..items.len()).filter(|i| indegree[*i] == 0).collect();
        let mut done = BTreeSet::new();
        while let Some(i) = ready.pop() {
            done.insert(i);
            for (j, it) in items.iter().enumerate() {
                if it.depends_on.contains(&i) {
                    indegree[j] -= 1;
                    if indegree[j] == 0 {
                        ready.push(j);
                    }
                }
            }
        }
        if let Some(first) = (0..items.len()).find(|i| !done.contains(i)) {
            // Walk dependencies from `first` until one repeats: that is the cycle.
            let mut walk = vec![first];
            let mut at = first;
            loop {
                let next = *items[at]
                    .depends_on
                    .iter()
                    .find(|d| !done.contains(d))
                    .expect("stuck items depend on stuck items");
                if let Some(pos) = walk.iter().position(|x| *x == next) {
                    let mut ids: Vec<String> = walk[pos..].iter().map(|i| items[*i].id.clone()).collect();
                    ids.push(items[next].id.clone());
                    self.err(paths[walk[pos]].clone(), ChecklistProblem::DependencyCycle { ids });
                    return;
                }
                walk.push(next);
                at = next;
            }
        }
    }
}
