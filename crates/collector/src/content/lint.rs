//! `touchpoint-collector lint <dir>`: every content file of a folder with
//! the repository's layout checked as the collector would check it —
//! `surveys/*.json`, `checklists.json`, `help/*.md`, `targeting.json`
//! (whose surveys must be in `surveys/`), `automations.json` and
//! `accounts.json` — with every problem printed as `file: path: problem`,
//! so a team's CI can run it before a push or a deploy.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::kind::SINGLE_ID;
use super::push::files;
use super::{Kind, Problem};
use crate::automations::config::{AutomationsConfig, Context};
use crate::catalog::SurveyCatalog;
use crate::checklists::ChecklistCatalog;
use crate::projects::Projects;

/// What was checked and what is wrong.
#[derive(Debug, Default)]
pub struct Report {
    pub files: usize,
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.problems {
            writeln!(f, "{p}")?;
        }
        let n = self.problems.len();
        writeln!(f, "{} file(s) checked, {n} problem{}", self.files, if n == 1 { "" } else { "s" })
    }
}

/// Checks every content file in `dir`. `projects` are those automations may
/// name (the demo project without a projects file); `env` reads the
/// variables that webhook secrets name.
pub fn lint(dir: &Path, projects: &Projects, env: &dyn Fn(&str) -> Option<String>) -> Report {
    let mut report = Report::default();
    let json = |rel: &str, report: &mut Report| -> Option<Value> {
        report.files += 1;
        let text = match std::fs::read_to_string(dir.join(rel)) {
            Ok(t) => t,
            Err(e) => {
                report.problems.push(Problem::new("", format!("cannot read: {e}")).in_file(rel));
                return None;
            }
        };
        match serde_json::from_str(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                report.problems.push(Problem::new("", format!("not valid JSON: {e}")).in_file(rel));
                None
            }
        }
    };

    let survey_files: Vec<String> = files(&dir.join("surveys"), "json");
    let mut survey_ids = Vec::new();
    // Surveys whose own file has problems: what names them is not reported again.
    let mut broken_ids = Vec::new();
    for name in &survey_files {
        let rel = format!("surveys/{name}");
        let Some(body) = json(&rel, &mut report) else { continue };
        let id = body.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let problems = Kind::Survey.validate(&id, &body, &[]);
        if !problems.is_empty() {
            broken_ids.push(id.clone());
        } else {
            if survey_ids.contains(&id) {
                report
                    .problems
                    .push(Problem::new("id", format!("{id:?} is the id of another survey file")).in_file(&rel));
            }
            survey_ids.push(id);
        }
        report.problems.extend(problems.into_iter().map(|p| p.in_file(&rel)));
    }
    // The good surveys, for checking what names them.
    let paths: Vec<PathBuf> = survey_files.iter().map(|n| dir.join("surveys").join(n)).collect();
    let (surveys, _) = SurveyCatalog::load_files(&paths);

    let mut checklists = None;
    if dir.join("checklists.json").is_file() {
        if let Some(body) = json("checklists.json", &mut report) {
            let problems = Kind::Checklists.validate(SINGLE_ID, &body, &[]);
            if problems.is_empty() {
                checklists = ChecklistCatalog::from_json(&body.to_string(), &dir.join("checklists.json")).ok();
            }
            report.problems.extend(problems.into_iter().map(|p| p.in_file("checklists.json")));
        }
    }
    if dir.join("targeting.json").is_file() {
        if let Some(body) = json("targeting.json", &mut report) {
            let problems = Kind::Targeting.validate(SINGLE_ID, &body, &survey_ids);
            report.problems.extend(problems.into_iter().map(|p| p.in_file("targeting.json")));
        }
    }
    for name in files(&dir.join("help"), "md") {
        let rel = format!("help/{name}");
        report.files += 1;
        match std::fs::read_to_string(dir.join(&rel)) {
            Ok(text) => {
                if let Err(errors) = touchpoint_core::help::Article::parse(&name, &text) {
                    for e in errors {
                        report.problems.push(Problem::new(e.field, e.problem).in_file(&rel));
                    }
                }
            }
            Err(e) => report.problems.push(Problem::new("", format!("cannot read: {e}")).in_file(&rel)),
        }
    }
    if dir.join("automations.json").is_file() {
        report.files += 1;
        let file = dir.join("automations.json");
        let cx = Context { surveys: &surveys, checklists: checklists.as_ref(), projects, env };
        let outcome = std::fs::read_to_string(&file)
            .map_err(|e| vec![format!("cannot read: {e}")])
            .and_then(|text| AutomationsConfig::from_json(&text, &file, dir, &cx));
        if let Err(lines) = outcome {
            let reported = |l: &String| broken_ids.iter().any(|id| l.contains(&format!("no survey {id:?}")));
            report.problems.extend(lines.into_iter().filter(|l| !reported(l)).map(|l| line("automations.json", l)));
        }
    }
    if dir.join("accounts.json").is_file() {
        report.files += 1;
        let file = dir.join("accounts.json");
        let outcome = std::fs::read_to_string(&file)
            .map_err(|e| vec![format!("cannot read: {e}")])
            .and_then(|text| crate::accounts::AccountsCatalog::from_json(&text, &file, env).map(drop));
        if let Err(lines) = outcome {
            report.problems.extend(lines.into_iter().map(|l| line("accounts.json", l)));
        }
    }
    report
}

/// A loader's `path: problem` line as a [`Problem`] of `file`.
fn line(file: &str, text: String) -> Problem {
    match text.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => Problem::new(path, message).in_file(file),
        _ => Problem::new("", text).in_file(file),
    }
}
