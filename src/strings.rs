//! The card's user-facing strings in the reader's locale: the built-in ones
//! (`touchpoint_core::i18n`, English and German) under the host's overrides
//! for that locale from the `messages` option. The second module builds the
//! full catalogue (and checks the option key by key) for its own strings.

use touchpoint_core::i18n;

#[derive(Debug, Clone, PartialEq)]
pub struct Strings {
    /// The chosen locale, lower-cased (`de-at`, `ar`, `en`).
    pub locale: String,
    pub rtl: bool,
    /// `(key, text)` overrides for this locale: its own, then its language's.
    custom: Vec<(String, String)>,
}

impl Default for Strings {
    fn default() -> Strings {
        Strings::new("en", Vec::new())
    }
}

impl Strings {
    pub fn new(locale: &str, custom: Vec<(String, String)>) -> Strings {
        let locale = locale.to_ascii_lowercase();
        Strings { rtl: i18n::is_rtl(&locale), locale, custom }
    }

    /// The string for `key`; an unknown key (a bug of ours) shows as itself.
    pub fn get(&self, key: &str) -> String {
        if let Some((_, text)) = self.custom.iter().find(|(k, _)| k == key) {
            return text.clone();
        }
        i18n::built_in(key, &self.locale).map_or_else(|| key.to_owned(), str::to_owned)
    }

    /// [`Strings::get`] with `{name}` placeholders filled in.
    pub fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        crate::text::fill(&self.get(key), args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use touchpoint_core::i18n::Catalog;

    #[test]
    fn agrees_with_the_full_catalogue() {
        let json = serde_json::json!({ "de": { "survey.send": "Abschicken" }, "ar": { "survey.back": "رجوع" } });
        let catalog = Catalog::from_value(&json).unwrap();
        for (locale, custom) in [
            ("de-AT", vec![("survey.send".to_owned(), "Abschicken".to_owned())]),
            ("ar", vec![("survey.back".to_owned(), "رجوع".to_owned())]),
            ("fr", vec![]),
        ] {
            let ours = Strings::new(locale, custom);
            let theirs = catalog.messages(locale);
            for key in ["survey.send", "survey.back", "survey.next", "survey.thank_you"] {
                assert_eq!(ours.get(key), theirs.get(key), "{locale} {key}");
            }
            assert_eq!(ours.rtl, theirs.rtl);
            assert_eq!(
                ours.fill("survey.score_label", &[("n", "3"), ("max", "10")]),
                theirs.fill("survey.score_label", &[("n", "3"), ("max", "10")])
            );
        }
    }
}
