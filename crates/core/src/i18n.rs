//! Every user-facing string of the widget, with built-in English and German,
//! per-locale overrides from configuration, locale fallback
//! (`de-AT` → `de` → English) and right-to-left detection.

use std::collections::BTreeMap;

use serde_json::Value;

/// (key, English, German). English is the fallback for every key. The
/// card's strings come first, in a table of their own: the widget's first
/// module reads only these ([`built_in`]), so only these are in its bytes.
const CARD: &[(&str, &str, &str)] = &[
    ("survey.close_label", "Close survey", "Umfrage schließen"),
    ("survey.back", "← Back", "← Zurück"),
    ("survey.next", "Next", "Weiter"),
    ("survey.send", "Send", "Senden"),
    ("survey.close", "Close", "Schließen"),
    ("survey.optional", "Optional", "Optional"),
    ("survey.thank_you", "Thank you!", "Danke!"),
    (
        "survey.need_text",
        "Please write a few words, or go back.",
        "Bitte schreiben Sie ein paar Worte oder gehen Sie zurück.",
    ),
    ("survey.need_choice", "Please choose at least one option.", "Bitte wählen Sie mindestens eine Option."),
    ("survey.score_label", "{n} out of {max}", "{n} von {max}"),
];

/// The strings of the checklist and help (the second module's).
const REST: &[(&str, &str, &str)] = &[
    ("checklist.get_started", "Get started", "Erste Schritte"),
    ("checklist.minimise", "Minimise checklist", "Checkliste minimieren"),
    ("checklist.dismiss", "Dismiss checklist", "Checkliste ausblenden"),
    ("checklist.count", "{done} of {total} done", "{done} von {total} erledigt"),
    ("checklist.progress", "Checklist progress", "Fortschritt der Checkliste"),
    ("checklist.all_set", "You're all set! Nice work.", "Alles erledigt! Gut gemacht."),
    ("checklist.done", ", done", ", erledigt"),
    ("checklist.todo", ", to do", ", offen"),
    ("checklist.by_team", "Counts for your whole team: {names}", "Zählt für Ihr ganzes Team: {names}"),
    ("help.launcher", "Help", "Hilfe"),
    ("help.title", "Help", "Hilfe"),
    ("help.close", "Close help", "Hilfe schließen"),
    ("help.search", "Search help", "Hilfe durchsuchen"),
    ("help.suggested", "Suggested for this page", "Passend zu dieser Seite"),
    ("help.suggested_list", "Suggested articles", "Vorgeschlagene Artikel"),
    ("help.results", "Search results", "Suchergebnisse"),
    ("help.search_hint", "Search for a topic above.", "Suchen Sie oben nach einem Thema."),
    ("help.no_match", "No articles match “{query}”.", "Keine Artikel zu „{query}“."),
    ("help.found", "{n} found", "{n} gefunden"),
    ("help.cant_find", "Can't find it?", "Nichts gefunden?"),
    ("help.contact", "Contact us", "Schreiben Sie uns"),
    ("help.all", "← All help", "← Alle Hilfethemen"),
    ("help.watch", "▶ Watch the video", "▶ Video ansehen"),
    ("help.video_title", "Video: {title}", "Video: {title}"),
    ("help.helpful", "Was this helpful?", "War das hilfreich?"),
    ("help.yes", "Yes", "Ja"),
    ("help.no", "No", "Nein"),
    ("help.thanks_feedback", "Thanks for the feedback!", "Danke für Ihre Rückmeldung!"),
    ("help.how", "How can we help?", "Wie können wir helfen?"),
    ("help.email", "Email for our reply (optional)", "E-Mail für unsere Antwort (optional)"),
    ("help.send", "Send to the team", "An das Team senden"),
    (
        "help.need_message",
        "Please tell us what you need help with.",
        "Bitte beschreiben Sie, wobei Sie Hilfe brauchen.",
    ),
    ("help.sent_title", "Thanks — we're on it", "Danke – wir kümmern uns darum"),
    (
        "help.sent_body",
        "A person on our team will reply, usually within one business day.",
        "Jemand aus unserem Team antwortet, meist innerhalb eines Werktags.",
    ),
    ("help.back", "Back to help", "Zurück zur Hilfe"),
];

/// Languages written right to left.
const RTL: &[&str] = &["ar", "he", "fa", "ur", "ps", "yi", "dv", "ckb", "sd", "ug"];

pub fn is_rtl(locale: &str) -> bool {
    RTL.contains(&base(locale))
}

/// The language of a tag: `de` of `de-AT`.
pub fn base(locale: &str) -> &str {
    // A byte search: a `[char]` pattern costs the widget's first module a generic searcher.
    match locale.bytes().position(|b| b == b'-' || b == b'_') {
        Some(at) => locale.get(..at).unwrap_or(locale),
        None => locale,
    }
}

fn all() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    CARD.iter().chain(REST)
}

/// The built-in card string `key` (`survey.*`) for `locale` (German for
/// German, else English). No allocation and no JSON: the widget's first
/// module reads its strings through this, without the rest of [`Catalog`].
pub fn built_in(key: &str, locale: &str) -> Option<&'static str> {
    let (_, en, de) = CARD.iter().find(|(k, ..)| *k == key)?;
    Some(if base(locale).eq_ignore_ascii_case("de") { de } else { en })
}

/// Whether `key` is one of the widget's strings.
pub fn is_known_key(key: &str) -> bool {
    all().any(|(k, ..)| *k == key)
}

/// The first of `preferred` (e.g. `navigator.languages`, lower-cased here)
/// that `have` strings for, by exact tag or by language; else English.
pub fn choose_locale(preferred: &[String], have: impl Fn(&str) -> bool) -> String {
    let have = |l: &str| l == "en" || l == "de" || have(l);
    for p in preferred {
        let p = p.to_ascii_lowercase();
        if have(&p) {
            return p;
        }
        if have(base(&p)) {
            return base(&p).to_owned();
        }
    }
    "en".into()
}

/// Strings configured per locale, on top of the built-in ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    custom: BTreeMap<String, BTreeMap<String, String>>,
}

impl Catalog {
    /// `{"ar": {"survey.send": "إرسال", …}, …}`; every problem names its key.
    pub fn from_value(v: &Value) -> Result<Catalog, Vec<String>> {
        let Some(locales) = v.as_object() else { return Err(vec!["messages must be an object of locales".into()]) };
        let mut errors = Vec::new();
        let mut custom = BTreeMap::new();
        for (locale, strings) in locales {
            let Some(strings) = strings.as_object() else {
                errors.push(format!("messages.{locale} must be an object of strings"));
                continue;
            };
            let mut map = BTreeMap::new();
            for (key, text) in strings {
                if !is_known_key(key) {
                    errors.push(format!("messages.{locale}.{key}: unknown message key (see the list in the README)"));
                } else if let Some(t) = text.as_str().filter(|t| !t.trim().is_empty()) {
                    map.insert(key.clone(), t.to_owned());
                } else {
                    errors.push(format!("messages.{locale}.{key} must be a non-empty string"));
                }
            }
            custom.insert(locale.to_ascii_lowercase(), map);
        }
        if errors.is_empty() {
            Ok(Catalog { custom })
        } else {
            Err(errors)
        }
    }

    /// The first of `preferred` (e.g. `navigator.languages`) that we have
    /// strings for, by exact tag or by language; else English.
    pub fn choose(&self, preferred: &[String]) -> String {
        choose_locale(preferred, |l| self.custom.contains_key(l))
    }

    /// The strings for `locale`: its own, then its language's, then English.
    pub fn messages(&self, locale: &str) -> Messages {
        let locale = locale.to_ascii_lowercase();
        let lookups = [locale.as_str(), base(&locale)];
        let map = all()
            .map(|(key, en, de)| {
                let custom = lookups.iter().find_map(|l| self.custom.get(*l).and_then(|m| m.get(*key)));
                let text = match custom {
                    Some(t) => t.clone(),
                    None if lookups.contains(&"de") => (*de).to_owned(),
                    None => (*en).to_owned(),
                };
                (*key, text)
            })
            .collect();
        Messages { rtl: is_rtl(&locale), locale, map }
    }
}

/// The resolved strings of one locale.
#[derive(Debug, Clone, PartialEq)]
pub struct Messages {
    pub locale: String,
    pub rtl: bool,
    map: BTreeMap<&'static str, String>,
}

impl Default for Messages {
    fn default() -> Messages {
        Catalog::default().messages("en")
    }
}

impl Messages {
    /// The string for `key`; an unknown key (a bug of ours) shows as itself.
    pub fn get(&self, key: &str) -> String {
        self.map.get(key).cloned().unwrap_or_else(|| key.to_owned())
    }

    /// `get` with `{name}` placeholders filled in.
    pub fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.get(key);
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_locales_and_fallback() {
        let c = Catalog::default();
        assert_eq!(c.messages("en").get("survey.send"), "Send");
        assert_eq!(c.messages("de").get("survey.send"), "Senden");
        assert_eq!(c.messages("de-AT").get("help.yes"), "Ja", "region falls back to its language");
        assert_eq!(c.messages("fr").get("help.yes"), "Yes", "unknown language falls back to English");
        assert_eq!(c.messages("de").fill("checklist.count", &[("done", "2"), ("total", "4")]), "2 von 4 erledigt");
    }

    #[test]
    fn configured_strings_override_per_key() {
        let c =
            Catalog::from_value(&json!({ "ar": { "survey.send": "إرسال" }, "de": { "help.yes": "Jawohl" } })).unwrap();
        let ar = c.messages("ar");
        assert_eq!(ar.get("survey.send"), "إرسال");
        assert_eq!(ar.get("survey.next"), "Next", "keys not given fall back to English");
        assert!(ar.rtl);
        assert_eq!(c.messages("de").get("help.yes"), "Jawohl");
        assert_eq!(c.messages("de").get("help.no"), "Nein");
    }

    #[test]
    fn choosing_a_locale() {
        let c = Catalog::from_value(&json!({ "ar": {} })).unwrap();
        let pick = |p: &[&str]| c.choose(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(pick(&["fr-FR", "de-CH", "en"]), "de");
        assert_eq!(pick(&["ar-EG"]), "ar");
        assert_eq!(pick(&["ja"]), "en");
        assert_eq!(pick(&[]), "en");
    }

    #[test]
    fn bad_configuration_names_the_key() {
        let err =
            Catalog::from_value(&json!({ "ar": { "survey.sned": "x", "survey.send": "" }, "de": 3 })).unwrap_err();
        assert_eq!(
            err,
            [
                "messages.ar.survey.send must be a non-empty string",
                "messages.ar.survey.sned: unknown message key (see the list in the README)",
                "messages.de must be an object of strings",
            ]
        );
    }

    #[test]
    fn built_in_strings_without_a_catalog() {
        assert_eq!(built_in("survey.send", "de-AT"), Some("Senden"));
        assert_eq!(built_in("survey.send", "fr"), Some("Send"));
        assert_eq!(built_in("survey.sned", "en"), None);
        assert_eq!(built_in("help.yes", "de"), None, "only the card's strings");
        for (key, ..) in CARD {
            assert_eq!(built_in(key, "de").map(str::to_owned), Some(Catalog::default().messages("de").get(key)));
        }
    }

    #[test]
    fn right_to_left_languages() {
        assert!(is_rtl("ar") && is_rtl("he-IL") && is_rtl("fa"));
        assert!(!is_rtl("en") && !is_rtl("de") && !is_rtl("tr"));
    }
}
