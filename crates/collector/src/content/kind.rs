//! The kinds of content a project keeps, and how each is validated: with
//! the `touchpoint_core` code that checks the same definitions as files.

use serde_json::Value;
use touchpoint_core::checklist::ChecklistSet;
use touchpoint_core::definition::DefinitionErrors;
use touchpoint_core::help::Article;
use touchpoint_core::survey::Survey;
use touchpoint_core::targeting::Experiences;

use super::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// One item per survey, its id the survey's `id`.
    Survey,
    /// One item, [`SINGLE_ID`]: segments and their checklists, as `checklists.json`.
    Checklists,
    /// One item per article: `{"markdown": "---\ntitle: …\n---\n…"}`, as a `help/*.md` file.
    Help,
    /// One item, [`SINGLE_ID`]: as the `--targeting` file.
    Targeting,
}

/// The id of the one item of a kind a project has only one of.
pub const SINGLE_ID: &str = "default";

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Survey, Kind::Checklists, Kind::Help, Kind::Targeting];

    /// The path segment of the admin API (`/v1/content/{segment}`).
    pub fn from_segment(segment: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.segment() == segment)
    }

    pub fn segment(self) -> &'static str {
        match self {
            Kind::Survey => "surveys",
            Kind::Checklists => "checklists",
            Kind::Help => "help",
            Kind::Targeting => "targeting",
        }
    }

    /// As stored in `content_versions.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Survey => "survey",
            Kind::Checklists => "checklists",
            Kind::Help => "help",
            Kind::Targeting => "targeting",
        }
    }

    /// Whether a project has one item of this kind ([`SINGLE_ID`]) rather than many.
    pub fn single(self) -> bool {
        matches!(self, Kind::Checklists | Kind::Targeting)
    }

    /// Every problem of `body` as item `id` of this kind. `surveys` are the
    /// survey ids the project serves (targeting may only name those).
    pub fn validate(self, id: &str, body: &Value, surveys: &[String]) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.single() && id != SINGLE_ID {
            problems.push(Problem::new("", format!("a project has one {} item, named {SINGLE_ID:?}", self.as_str())));
        } else if id.is_empty()
            || id.len() > 100
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(Problem::new("", format!("the id {id:?} must be 1–100 letters, digits, - or _")));
        }
        match self {
            Kind::Survey => {
                if let Err(e) = Survey::from_value(body) {
                    problems.extend(from_core(e));
                } else if body.get("id").and_then(Value::as_str) != Some(id) {
                    problems.push(Problem::new("id", format!("must be {id:?}, the id the survey is saved under")));
                }
            }
            Kind::Checklists => {
                if let Err(e) = ChecklistSet::from_value(body) {
                    problems.extend(from_core(e));
                }
            }
            Kind::Targeting => match Experiences::from_value(body) {
                Err(e) => problems.extend(from_core(e)),
                Ok(experiences) => {
                    for (i, e) in experiences.surveys().enumerate() {
                        if !surveys.iter().any(|s| s == e.id()) {
                            problems.push(Problem::new(
                                format!("surveys[{i}].id"),
                                format!("no survey {:?} in this project", e.id()),
                            ));
                        }
                    }
                }
            },
            Kind::Help => match body.get("markdown").and_then(Value::as_str) {
                None => problems.push(Problem::new("markdown", "missing, or not a string")),
                Some(text) => {
                    if let Err(errors) = Article::parse(&format!("{id}.md"), text) {
                        problems.extend(
                            errors
                                .into_iter()
                                .map(|e| Problem::new(format!("markdown.{}", e.field.replace(' ', "_")), e.problem)),
                        );
                    }
                }
            },
        }
        problems
    }
}

fn from_core(e: DefinitionErrors) -> impl Iterator<Item = Problem> {
    e.0.into_iter().map(|e| Problem::new(e.path, e.problem.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn segments_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_segment(k.segment()), Some(k));
        }
        assert_eq!(Kind::from_segment("accounts"), None);
    }

    #[test]
    fn a_survey_saved_under_another_id_is_refused() {
        let body = json!({"id": "csat", "questions": [{"id": "q", "kind": "text", "text": "Why?", "next": "bye"}],
                          "endings": [{"id": "bye", "message": "Thanks"}]});
        assert_eq!(Kind::Survey.validate("csat", &body, &[]), vec![]);
        let problems = Kind::Survey.validate("nps", &body, &[]);
        assert_eq!(problems, vec![Problem::new("id", "must be \"nps\", the id the survey is saved under")]);
    }

    #[test]
    fn targeting_names_only_the_projects_surveys() {
        let body = json!({"surveys": [{"id": "nps"}, {"id": "gone"}]});
        let problems = Kind::Targeting.validate(SINGLE_ID, &body, &["nps".into()]);
        assert_eq!(problems, vec![Problem::new("surveys[1].id", "no survey \"gone\" in this project")]);
    }

    #[test]
    fn help_problems_name_the_front_matter_field() {
        let problems = Kind::Help.validate("a", &json!({"markdown": "---\ntitle: \n---\nx"}), &[]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "markdown.title");
    }
}
