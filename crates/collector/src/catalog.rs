//! The surveys this collector knows, loaded once at startup. Loading is all
//! or nothing: a collector that silently skipped a broken definition would
//! serve a survey that is not the one its author wrote.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use touchpoint_core::definition::DefinitionErrors;
use touchpoint_core::survey::Survey;
use touchpoint_protocol::card::CardSurvey;

pub struct SurveyEntry {
    /// Validated at startup, with the definition's default texts; shared
    /// with the `Session`s that replay stored responses.
    pub survey: Arc<Survey>,
    /// The file's text, served as is by `GET /v1/surveys/{id}`.
    pub definition: Arc<str>,
    pub file: PathBuf,
}

impl SurveyEntry {
    /// The survey's card form, its texts in the best of `locales` (most
    /// preferred first; none: the definition's defaults), chosen as
    /// [`Survey::from_json_in`] chooses them in a reader's page.
    ///
    /// With locales the definition is read again, as the widget would read
    /// it. That cannot fail for an entry that loaded: the languages only
    /// choose among texts that were all checked at startup.
    pub fn card(&self, locales: &[String]) -> Result<CardSurvey, DefinitionErrors> {
        if locales.is_empty() {
            return Ok(self.survey.to_card());
        }
        Ok(Survey::from_json_in(&self.definition, locales)?.to_card())
    }
}

#[derive(Default)]
pub struct SurveyCatalog {
    surveys: BTreeMap<String, SurveyEntry>,
}

/// Every problem found in the directory, each line starting with its file.
#[derive(Debug)]
pub struct CatalogError(Vec<String>);

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot load surveys:\n{}", self.0.join("\n"))
    }
}

impl std::error::Error for CatalogError {}

impl SurveyCatalog {
    /// Reads every `*.json` in `dir` (not recursively), in file-name order,
    /// and reports all bad files at once so their author can fix them in one pass.
    pub fn load_dir(dir: &Path) -> Result<SurveyCatalog, CatalogError> {
        let read_dir = std::fs::read_dir(dir)
            .map_err(|e| CatalogError(vec![format!("{}: cannot read surveys directory: {e}", dir.display())]))?;
        let mut files: Vec<PathBuf> = read_dir
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|ext| ext == "json") && p.is_file())
            .collect();
        files.sort();

        let (catalog, problems) = SurveyCatalog::load_files(&files);
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(CatalogError(problems))
        }
    }

    /// The surveys of `files` that load, and a line for each that does not
    /// (`lint` checks the other files against the good ones).
    pub fn load_files(files: &[PathBuf]) -> (SurveyCatalog, Vec<String>) {
        let mut catalog = SurveyCatalog::default();
        let mut problems = Vec::new();
        for file in files {
            if let Err(problem) = catalog.load_file(file) {
                problems.push(problem);
            }
        }
        (catalog, problems)
    }

    fn load_file(&mut self, file: &Path) -> Result<(), String> {
        let name = file.display();
        let text = std::fs::read_to_string(file).map_err(|e| format!("{name}: cannot read: {e}"))?;
        let survey = Survey::from_json(&text).map_err(|e| format!("{name}: {e}"))?;
        if let Some(first) = self.surveys.get(survey.id()) {
            return Err(format!("{name}: survey id {:?} is already defined in {}", survey.id(), first.file.display()));
        }
        let entry = SurveyEntry { definition: text.into(), file: file.to_path_buf(), survey: Arc::new(survey) };
        self.surveys.insert(entry.survey.id().to_string(), entry);
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&SurveyEntry> {
        self.surveys.get(id)
    }

    /// Every survey, by id.
    pub fn all(&self) -> impl Iterator<Item = &Survey> {
        self.surveys.values().map(|e| &*e.survey)
    }

    pub fn len(&self) -> usize {
        self.surveys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.surveys.is_empty()
    }
}
