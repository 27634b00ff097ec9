//! One way to read a definition file the collector is configured with
//! (checklists, targeting, accounts, automations): read it, hand its text to
//! the kind's own validation, and on failure say which file and every
//! problem found, each on its own line starting with the file. One error
//! type for all of them, so startup reports them alike.

use std::fmt;
use std::path::{Path, PathBuf};

/// Which definition a file holds, as messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Definition {
    Checklists,
    Targeting,
    Accounts,
    Automations,
}

impl Definition {
    pub fn name(self) -> &'static str {
        match self {
            Definition::Checklists => "checklists",
            Definition::Targeting => "targeting",
            Definition::Accounts => "accounts",
            Definition::Automations => "automations",
        }
    }
}

/// Every problem of one definition file.
#[derive(Debug)]
pub struct FileError {
    pub definition: Definition,
    pub file: PathBuf,
    pub problems: Vec<String>,
}

impl FileError {
    pub fn new(definition: Definition, file: &Path, problems: Vec<String>) -> FileError {
        FileError { definition, file: file.to_path_buf(), problems }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(f, "cannot load {} ({n} problem{}):", self.definition.name(), if n == 1 { "" } else { "s" })?;
        for problem in &self.problems {
            write!(f, "\n  {}: {problem}", self.file.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for FileError {}

/// Reads `file` and validates its text with `parse`, which returns every problem it finds.
pub fn load<T>(
    definition: Definition,
    file: &Path,
    parse: impl FnOnce(&str) -> Result<T, Vec<String>>,
) -> Result<T, FileError> {
    let fail = |problems| FileError::new(definition, file, problems);
    let text = std::fs::read_to_string(file).map_err(|e| fail(vec![format!("cannot read: {e}")]))?;
    parse(&text).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_listed_under_the_file_it_is_in() {
        let dir = std::env::temp_dir().join(format!("touchpoint-config-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("targeting.json");
        std::fs::write(&file, "{}").unwrap();
        let err = load(Definition::Targeting, &file, |text| {
            assert_eq!(text, "{}");
            Err::<(), _>(vec!["surveys: missing".into(), "budget: missing".into()])
        })
        .unwrap_err();
        let f = file.display();
        assert_eq!(
            err.to_string(),
            format!("cannot load targeting (2 problems):\n  {f}: surveys: missing\n  {f}: budget: missing")
        );

        let missing = dir.join("accounts.json");
        let err = load(Definition::Accounts, &missing, |_| Ok(())).unwrap_err();
        assert!(err.to_string().starts_with("cannot load accounts (1 problem):"), "{err}");
        assert!(err.problems[0].starts_with("cannot read: "), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
