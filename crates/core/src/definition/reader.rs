//! A reader for hand-validated JSON definitions: every problem is recorded
//! with its path and reading goes on, so an author sees all problems at once.
//! Every definition's validation builds on it.

use serde_json::{Map, Value};

use super::{DefinitionError, DefinitionErrors, Problem};

/// Runs `read` over `value`: the result only when nothing was wrong,
/// otherwise every problem found.
pub fn validate<T>(value: &Value, read: impl FnOnce(&mut Reader, &Value) -> Option<T>) -> Result<T, DefinitionErrors> {
    validate_in(value, &[], read)
}

/// [`validate`], choosing localized texts for `locales` (most preferred first).
pub fn validate_in<T>(
    value: &Value,
    locales: &[String],
    read: impl FnOnce(&mut Reader, &Value) -> Option<T>,
) -> Result<T, DefinitionErrors> {
    let mut r = Reader { errors: Vec::new(), locales: locales.to_vec() };
    match read(&mut r, value) {
        Some(t) if r.errors.is_empty() => Ok(t),
        _ => Err(DefinitionErrors(r.errors)),
    }
}

/// [`validate`] for JSON text; a syntax error is one `InvalidJson` problem at the root.
pub fn validate_text<T>(
    text: &str,
    read: impl FnOnce(&mut Reader, &Value) -> Option<T>,
) -> Result<T, DefinitionErrors> {
    validate_text_in(text, &[], read)
}

/// [`validate_text`], choosing localized texts for `locales`.
pub fn validate_text_in<T>(
    text: &str,
    locales: &[String],
    read: impl FnOnce(&mut Reader, &Value) -> Option<T>,
) -> Result<T, DefinitionErrors> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        DefinitionErrors(vec![DefinitionError { path: String::new(), problem: Problem::InvalidJson(e.to_string()) }])
    })?;
    validate_in(&value, locales, read)
}

#[derive(Default)]
pub struct Reader {
    pub errors: Vec<DefinitionError>,
    /// For texts given per locale (`{"en": "…", "de": "…"}`): the reader's
    /// languages, most preferred first. Empty: the definition's default.
    pub locales: Vec<String>,
}

impl Reader {
    pub fn err(&mut self, path: impl Into<String>, problem: impl Into<Problem>) {
        self.errors.push(DefinitionError { path: path.into(), problem: problem.into() });
    }

    pub fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &str,
        allowed: &'static [&'static str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = v.as_object() else {
            self.err(path, Problem::WrongType { expected: "an object" });
            return None;
        };
        for key in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.err(join(path, key), Problem::UnknownField { allowed });
        }
        Some(map)
    }

    /// A string field that must be present and not blank.
    pub fn text(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        let p = join(path, key);
        match map.get(key) {
            None => {
                self.err(p, Problem::MissingField);
                None
            }
            Some(v) => self.nonempty_str(v, p),
        }
    }

    pub fn opt_text(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        map.get(key).and_then(|v| self.nonempty_str(v, join(path, key)))
    }

    pub fn nonempty_str(&mut self, v: &Value, path: String) -> Option<String> {
        match v.as_str() {
            None => {
                self.err(path, Problem::WrongType { expected: "a string" });
                None
            }
            Some(s) if s.trim().is_empty() => {
                self.err(path, Problem::Empty);
                None
            }
            Some(s) => Some(s.to_owned()),
        }
    }

    /// A text the user reads: a non-blank string, or one per locale
    /// (`{"en": "Thanks", "de": "Danke"}`), of which the best for
    /// [`Reader::locales`] is taken (see [`pick_locale`]).
    pub fn label(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        match map.get(key) {
            None => {
                self.err(join(path, key), Problem::MissingField);
                None
            }
            Some(v) => self.localized(v, join(path, key)),
        }
    }

    pub fn opt_label(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        map.get(key).and_then(|v| self.localized(v, join(path, key)))
    }

    fn localized(&mut self, v: &Value, path: String) -> Option<String> {
        let Value::Object(per_locale) = v else { return self.nonempty_str(v, path) };
        if per_locale.is_empty() {
            self.err(path, Problem::Empty);
            return None;
        }
        let mut texts = Vec::new();
        for (locale, text) in per_locale {
            let p = format!("{path}.{locale}");
            let tag_ok = !locale.is_empty()
                && locale.split('-').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
            if !tag_ok {
                self.err(&p, Problem::BadLocale { tag: locale.clone() });
            }
            if let Some(t) = self.nonempty_str(text, p) {
                texts.push((locale.as_str(), t));
            }
        }
        let keys: Vec<&str> = texts.iter().map(|(l, _)| *l).collect();
        let chosen = pick_locale(&keys, &self.locales)?;
        texts.into_iter().find(|(l, _)| *l == chosen).map(|(_, t)| t)
    }

    pub fn array<'v>(&mut self, map: &'v Map<String, Value>, path: &str, key: &str) -> Option<&'v [Value]> {
        match map.get(key)? {
            Value::Array(items) => Some(items),
            _ => {
                self.err(join(path, key), Problem::WrongType { expected: "an array" });
                None
            }
        }
    }
}

/// Which of `available` locale tags to show a reader whose languages are
/// `preferred` (most preferred first): the first preferred tag available
/// exactly (case-insensitively), else its language (`de-AT` → `de`), trying
/// each preferred tag in turn; otherwise `en`, otherwise the first
/// alphabetically — a definition's texts always show in some language.
pub fn pick_locale<'a>(available: &[&'a str], preferred: &[String]) -> Option<&'a str> {
    let find = |tag: &str| available.iter().copied().find(|a| a.eq_ignore_ascii_case(tag));
    for p in preferred {
        if let Some(hit) = find(p).or_else(|| p.split('-').next().and_then(find)) {
            return Some(hit);
        }
    }
    find("en").or_else(|| available.iter().copied().min())
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}
