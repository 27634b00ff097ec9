//! Help content: a folder of Markdown articles with front matter, loaded and
//! validated at startup (a bad file stops startup, naming the file and the
//! field), served to the widget as JSON.

use std::fmt;
use std::path::{Path, PathBuf};

use touchpoint_core::help::Article;

/// Read when no `--help-dir` is given, if present.
pub const DEFAULT_HELP_DIR: &str = "./help";

pub struct HelpCatalog {
    pub dir: PathBuf,
    pub articles: Vec<Article>,
    /// `{"articles": [...]}`, rendered once.
    pub json: String,
}

#[derive(Debug)]
pub struct HelpError {
    pub dir: PathBuf,
    pub problems: Vec<String>,
}

impl fmt::Display for HelpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "cannot load help content from {} ({n} problem{}):",
            self.dir.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for HelpError {}

impl HelpCatalog {
    /// `Some(dir)` must load; `None` loads [`DEFAULT_HELP_DIR`] if it exists.
    pub fn load_configured(dir: Option<&Path>) -> Result<Option<HelpCatalog>, HelpError> {
        match dir {
            Some(d) => HelpCatalog::load(d).map(Some),
            None if Path::new(DEFAULT_HELP_DIR).is_dir() => HelpCatalog::load(Path::new(DEFAULT_HELP_DIR)).map(Some),
            None => Ok(None),
        }
    }

    /// Every `*.md` in `dir`, in file-name order.
    pub fn load(dir: &Path) -> Result<HelpCatalog, HelpError> {
        let fail = |problems| HelpError { dir: dir.to_path_buf(), problems };
        let entries = std::fs::read_dir(dir).map_err(|e| fail(vec![format!("cannot read the folder: {e}")]))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        files.sort();
        let mut articles = Vec::new();
        let mut problems = Vec::new();
        for path in files {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            match std::fs::read_to_string(&path) {
                Ok(text) => match Article::parse(&name, &text) {
                    Ok(a) => articles.push(a),
                    Err(errs) => problems.extend(errs.iter().map(ToString::to_string)),
                },
                Err(e) => problems.push(format!("{name}: cannot read: {e}")),
            }
        }
        if !problems.is_empty() {
            return Err(fail(problems));
        }
        let json = serde_json::json!({ "articles": articles }).to_string();
        Ok(HelpCatalog { dir: dir.to_path_buf(), articles, json })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_help_folder_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../help");
        let c = HelpCatalog::load(&dir).unwrap();
        assert!(c.articles.iter().any(|a| a.id == "import-csv"));
        assert!(c.json.starts_with(r#"{"articles":[{"#));
    }

    #[test]
    fn a_bad_article_names_its_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("good.md"), "---\ntitle: Fine\n---\nText").unwrap();
        std::fs::write(dir.path().join("bad.md"), "---\ntitle: \nvideo: javascript:x\n---\nText").unwrap();
        let err = HelpCatalog::load(dir.path()).err().expect("must fail").to_string();
        assert!(err.contains("(2 problems)"), "{err}");
        assert!(err.contains("bad.md: title: is required and must not be empty"), "{err}");
        assert!(err.contains(r#"bad.md: video: "javascript:x" must be an http(s) URL or a path"#), "{err}");
    }
}
