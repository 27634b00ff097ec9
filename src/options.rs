//! What `init({...})` accepts (and the loader's `data-*` attributes, which
//! arrive as strings), read by hand from the JS object: a typo such as
//! `flushIntervl` or a wrong value is named, never passed over.

use wasm_bindgen::{JsCast, JsValue};

use crate::browser::{self, js};
use crate::shell::{ColorScheme, Side, Theme};
use crate::strings::Strings;
use crate::text::{cat, parse_u32, quoted};

pub struct Options {
    /// The project's public ingest key.
    pub key: String,
    /// Base URL of the collector, e.g. `https://touchpoint.example.com`, without a trailing `/`.
    pub endpoint: String,
    /// Wait this long to batch events before sending (default 1000).
    pub flush_interval_ms: Option<u32>,
    /// Abandon and retry a send not answered within this (default 10000).
    pub request_timeout_ms: Option<u32>,
    /// Keep at most this many unsent events; the oldest go first (default 1000).
    pub max_queued_events: Option<u32>,
    /// Treat Global Privacy Control / Do Not Track as an opt-out (default false).
    pub respect_privacy_signals: bool,
    pub theme: Theme,
    /// Force a locale (e.g. "de"); otherwise the browser's languages decide.
    pub locale: Option<String>,
    /// The `messages` option as given (an object of locales), for the second
    /// module, which checks it key by key; `NULL` when not given.
    pub messages: JsValue,
    /// The host's `beforeSend(event) => event | null` (see `before_send`).
    pub before_send: Option<js_sys::Function>,
}

/// Every option [`Options::parse`] reads, for the message naming an unknown one.
pub const NAMES: &[&str] = &[
    "key",
    "endpoint",
    "flushIntervalMs",
    "requestTimeoutMs",
    "maxQueuedEvents",
    "respectPrivacySignals",
    "theme",
    "locale",
    "messages",
    "beforeSend",
];

/// How a value looks in a message: its JSON (`"soon"`, `3`, `{}`).
fn shown(v: &JsValue) -> String {
    browser::json_text(v).ok().flatten().unwrap_or_else(|| "undefined".into())
}

/// An object given as itself or as JSON text (a `data-*` attribute).
fn object(name: &str, v: &JsValue, errors: &mut Vec<String>) -> Option<JsValue> {
    let value = match v.as_string() {
        Some(text) => match js::parse(&text) {
            Ok(v) => v,
            Err(e) => {
                errors.push(cat(&[name, " is not valid JSON: ", &e]));
                return None;
            }
        },
        None => v.clone(),
    };
    if js::is_plain_object(&value) {
        Some(value)
    } else {
        errors.push(cat(&[name, " must be an object, got ", &shown(v)]));
        None
    }
}

impl Options {
    /// Every problem, each naming its option.
    pub fn parse(v: &JsValue) -> Result<Options, Vec<String>> {
        if !js::is_plain_object(v) {
            return Err(vec!["expected an object like { key, endpoint }".into()]);
        }
        let mut errors = Vec::new();
        let mut o = Options {
            key: String::new(),
            endpoint: String::new(),
            flush_interval_ms: None,
            request_timeout_ms: None,
            max_queued_events: None,
            respect_privacy_signals: false,
            theme: Theme::default(),
            locale: None,
            messages: JsValue::NULL,
            before_send: None,
        };
        let text = |k: &str, v: &JsValue, errors: &mut Vec<String>| match v.as_string() {
            Some(s) if !s.trim().is_empty() => s.trim().to_owned(),
            _ => {
                errors.push(cat(&[k, " must be a non-empty string, got ", &shown(v)]));
                String::new()
            }
        };
        let number = |k: &str, v: &JsValue, errors: &mut Vec<String>| {
            let n = match (v.as_f64(), v.as_string()) {
                (Some(n), _) if n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0 => Some(n as u32),
                (_, Some(s)) => parse_u32(&s),
                _ => None,
            };
            if n.is_none() {
                errors.push(cat(&[k, ": ", &shown(v), " is not a whole number of 0 or more"]));
            }
            n
        };
        for k in js::keys(v) {
            let value = js::get(v, &k).unwrap_or(JsValue::UNDEFINED);
            match k.as_str() {
                "key" => o.key = text(&k, &value, &mut errors),
                "endpoint" => o.endpoint = text(&k, &value, &mut errors).trim_end_matches('/').to_owned(),
                "flushIntervalMs" => o.flush_interval_ms = number(&k, &value, &mut errors),
                "requestTimeoutMs" => o.request_timeout_ms = number(&k, &value, &mut errors),
                "maxQueuedEvents" => o.max_queued_events = number(&k, &value, &mut errors),
                "respectPrivacySignals" => match (value.as_bool(), value.as_string().as_deref()) {
                    (Some(b), _) => o.respect_privacy_signals = b,
                    (_, Some(s @ ("true" | "false"))) => o.respect_privacy_signals = s == "true",
                    _ => errors.push(cat(&["respectPrivacySignals: expected true or false, got ", &shown(&value)])),
                },
                "theme" => {
                    if let Some(t) = object("theme", &value, &mut errors) {
                        o.theme = theme(&t, &mut errors);
                    }
                }
                "locale" => o.locale = Some(text(&k, &value, &mut errors)),
                "messages" => {
                    if let Some(m) = object("messages", &value, &mut errors) {
                        o.messages = m;
                    }
                }
                "beforeSend" => match value.dyn_into::<js_sys::Function>() {
                    Ok(f) => o.before_send = Some(f),
                    Err(v) => {
                        errors.push(cat(&["beforeSend must be a function (event) => event | null, got ", &shown(&v)]))
                    }
                },
                other => errors.push(cat(&[
                    "unknown option ",
                    &quoted(other),
                    "; known options: ",
                    &crate::text::join(NAMES, ", "),
                ])),
            }
        }
        for (name, value) in [("key", &o.key), ("endpoint", &o.endpoint)] {
            if value.is_empty() && js::get(v, name).is_none() {
                errors.push(cat(&[name, " is required"]));
            }
        }
        if errors.is_empty() {
            Ok(o)
        } else {
            Err(errors)
        }
    }

    /// The reader's languages, most preferred first: the `locale` option, or the browser's.
    pub fn preferred_locales(&self) -> Vec<String> {
        match &self.locale {
            Some(l) => vec![l.clone()],
            None => browser::languages(),
        }
    }

    /// The card's strings for the first of `preferred` we have strings for.
    pub fn strings(&self, preferred: &[String]) -> Strings {
        let locales = js::keys(&self.messages);
        let given = |l: &str| locales.iter().find(|k| k.eq_ignore_ascii_case(l));
        let locale = touchpoint_core::i18n::choose_locale(preferred, |l| given(l).is_some());
        let mut custom = Vec::new();
        for lookup in [locale.as_str(), touchpoint_core::i18n::base(&locale)] {
            let Some(table) = given(lookup).and_then(|k| js::get(&self.messages, k)) else { continue };
            for key in js::keys(&table) {
                if let Some(text) = js::get(&table, &key).and_then(|t| t.as_string()) {
                    if !custom.iter().any(|(k, _): &(String, String)| *k == key) {
                        custom.push((key, text));
                    }
                }
            }
        }
        Strings::new(&locale, custom)
    }
}

const THEME_FIELDS: &str = "accent, accentInk, font, radius, colorScheme, position";

fn theme(t: &JsValue, errors: &mut Vec<String>) -> Theme {
    let mut theme = Theme::default();
    for k in js::keys(t) {
        let v = js::get(t, &k).unwrap_or(JsValue::UNDEFINED);
        let s = v.as_string();
        let slot = match k.as_str() {
            "accent" => &mut theme.accent,
            "accentInk" => &mut theme.accent_ink,
            "font" => &mut theme.font,
            "radius" => &mut theme.radius,
            "colorScheme" => {
                match s.as_deref() {
                    Some("auto") => theme.color_scheme = ColorScheme::Auto,
                    Some("light") => theme.color_scheme = ColorScheme::Light,
                    Some("dark") => theme.color_scheme = ColorScheme::Dark,
                    _ => errors.push(cat(&["theme.colorScheme: expected auto, light or dark, got ", &shown(&v)])),
                }
                continue;
            }
            "position" => {
                match s.as_deref() {
                    Some("left") => theme.position = Side::Left,
                    Some("right") => theme.position = Side::Right,
                    _ => errors.push(cat(&["theme.position: expected left or right, got ", &shown(&v)])),
                }
                continue;
            }
            other => {
                errors.push(cat(&["theme: unknown field ", &quoted(other), "; known: ", THEME_FIELDS]));
                continue;
            }
        };
        match s {
            Some(s) => *slot = Some(s),
            None => errors.push(cat(&["theme.", &k, " must be a string, got ", &shown(&v)])),
        }
    }
    theme
}
