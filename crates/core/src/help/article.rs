//! One help article: front matter + Markdown, validated once.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::markdown::{self, safe_url, Block};

/// An article as served to the widget (`body` is the Markdown source; the
/// widget parses it with the same code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    /// The file name without `.md`.
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Empty: for every segment.
    #[serde(default)]
    pub segments: Vec<String>,
    /// Path patterns where the article is relevant (`*` matches anything).
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<String>,
    pub body: String,
}

/// A problem in one file, named by file and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleError {
    pub file: String,
    pub field: String,
    pub problem: String,
}

impl fmt::Display for ArticleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.field, self.problem)
    }
}

const FIELDS: &[&str] = &["title", "tags", "segments", "urls", "video"];

impl Article {
    /// Parses `file` (e.g. `import-csv.md`). All problems at once.
    pub fn parse(file: &str, text: &str) -> Result<Article, Vec<ArticleError>> {
        let mut errors = Vec::new();
        let mut err = |field: &str, problem: String| {
            errors.push(ArticleError { file: file.to_owned(), field: field.to_owned(), problem })
        };
        let id = file.strip_suffix(".md").unwrap_or(file).to_owned();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            err("file name", "use letters, digits, - and _ only (it becomes the article id)".into());
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let Some(rest) = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) else {
            err("front matter", "the file must start with a --- line, then `title: …`, then ---".into());
            return Err(errors);
        };
        let Some(end) = rest.find("\n---") else {
            err("front matter", "no closing --- line".into());
            return Err(errors);
        };
        let (head, body) = (&rest[..end], rest[end + 4..].trim_start_matches(['-', '\r']).trim().to_owned());

        let mut a =
            Article { id, title: String::new(), tags: vec![], segments: vec![], urls: vec![], video: None, body };
        for (n, line) in head.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let Some((key, value)) = line.split_once(':') else {
                err(&format!("line {}", n + 2), format!("expected `key: value`, got {:?}", line.trim()));
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            let list = || -> Vec<String> {
                value
                    .trim_matches(['[', ']'])
                    .split(',')
                    .map(|s| s.trim().trim_matches('"').to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            };
            match key {
                "title" => a.title = value.trim_matches('"').to_owned(),
                "tags" => a.tags = list().into_iter().map(|t| t.to_lowercase()).collect(),
                "segments" => a.segments = list(),
                "urls" => a.urls = list(),
                "video" => a.video = Some(value.trim_matches('"').to_owned()),
                other => err(other, format!("unknown field; allowed: {}", FIELDS.join(", "))),
            }
        }
        if a.title.is_empty() {
            err("title", "is required and must not be empty".into());
        }
        if a.body.is_empty() {
            err("body", "the article has no text after the front matter".into());
        }
        for u in &a.urls {
            if !u.starts_with('/') {
                err("urls", format!("{u:?} must be a path starting with / (e.g. /settings*)"));
            }
        }
        if let Some(v) = &a.video {
            match crate::links::off_site(v) {
                Some(why) => err("video", format!("{v:?} {why}")),
                None if !safe_url(v, true) => err("video", format!("{v:?} must be an http(s) URL or a path")),
                None => {}
            }
        }
        // Other unsafe targets (`javascript:`, `data:`) are dropped when the
        // article is rendered; these two are refused here because they look
        // like paths to the author who wrote them.
        for url in markdown::link_targets(&a.body) {
            if let Some(why) = crate::links::off_site(&url) {
                err("body", format!("link {url:?} {why}"));
            }
        }
        if errors.is_empty() {
            Ok(a)
        } else {
            Err(errors)
        }
    }

    pub fn blocks(&self) -> Vec<Block> {
        markdown::parse(&self.body)
    }

    /// Whether one of this article's URL patterns matches `path`.
    pub fn relevant_to(&self, path: &str) -> bool {
        self.urls.iter().any(|p| path_matches(p, path))
    }
}

/// `*` matches any run of characters (including `/`); everything else literally.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == path;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !path.starts_with(first) || !path[first.len()..].ends_with(last) || path.len() < first.len() + last.len() {
        return false;
    }
    let mut at = first.len();
    let end = path.len() - last.len();
    for mid in &parts[1..parts.len() - 1] {
        match path[at..end].find(mid) {
            Some(i) => at += i + mid.len(),
            None => return false,
        }
    }
    true
}

/// Articles for the page and segment the user is on: most specific pattern
/// first (the longest literal part), then by title.
pub fn suggest<'a>(articles: &'a [Article], path: &str, segment: Option<&str>) -> Vec<&'a Article> {
    let mut hits: Vec<(usize, &Article)> = articles
        .iter()
        .filter(|a| a.segments.is_empty() || segment.is_some_and(|s| a.segments.iter().any(|x| x == s)))
        .filter_map(|a| {
            let best = a.urls.iter().filter(|p| path_matches(p, path)).map(|p| p.replace('*', "").len()).max()?;
            Some((best, a))
        })
        .collect();
    hits.sort_by(|(sa, a), (sb, b)| sb.cmp(sa).then_with(|| a.title.cmp(&b.title)));
    hits.into_iter().map(|(_, a)| a).collect()
}
