//! Lone UTF-16 surrogates in JSON string escapes (`"\ud83d"` without its
//! second half). JSON's grammar allows them and JavaScript writes them:
//! `JSON.stringify` of a string cut in the middle of an emoji (a `slice`
//! of a user's text, say) gives one. No UTF-8 text can hold one, so
//! serde_json refuses the whole document, and a single such property would
//! cost a batch every other event in it. Each becomes U+FFFD instead, as a
//! browser's `TextEncoder` does with the same string.

use memchr::memmem;

/// `json` with every lone surrogate escape replaced by `\uFFFD`, or `None`
/// when it has none (the common case: nothing is copied). The replacement
/// has the same length, so byte offsets in errors still point at the input.
pub fn replace_lone(json: &[u8]) -> Option<Vec<u8>> {
    let mut fixed: Option<Vec<u8>> = None;
    for at in memmem::find_iter(json, b"\\u") {
        if !escape_at(json, at) {
            continue;
        }
        let lone = match unit_at(json, at) {
            Some(0xD800..=0xDBFF) => !matches!(next_unit(json, at), Some(0xDC00..=0xDFFF)),
            Some(0xDC00..=0xDFFF) => !matches!(previous_unit(json, at), Some(0xD800..=0xDBFF)),
            _ => false,
        };
        if lone {
            fixed.get_or_insert_with(|| json.to_vec())[at + 2..at + 6].copy_from_slice(b"FFFD");
        }
    }
    fixed
}

/// Whether the backslash at `at` starts an escape, rather than being the
/// second half of an escaped backslash (`\\u…` is a backslash and text).
fn escape_at(json: &[u8], at: usize) -> bool {
    json[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
}

/// The code unit of the `\uXXXX` escape at `at`.
fn unit_at(json: &[u8], at: usize) -> Option<u16> {
    let hex = json.get(at + 2..at + 6)?;
    u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

fn next_unit(json: &[u8], at: usize) -> Option<u16> {
    let next = at + 6;
    (json.get(next..next + 2)? == b"\\u" && escape_at(json, next)).then(|| unit_at(json, next)).flatten()
}

fn previous_unit(json: &[u8], at: usize) -> Option<u16> {
    let previous = at.checked_sub(6)?;
    (json.get(previous..previous + 2)? == b"\\u" && escape_at(json, previous))
        .then(|| unit_at(json, previous))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::replace_lone;

    fn fixed(json: &str) -> Option<String> {
        replace_lone(json.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn a_lone_half_becomes_the_replacement_character_and_the_document_parses() {
        let json = r#"{"a":"cut \ud83d","b":"\ude00 end","c":"ok"}"#;
        assert!(serde_json::from_str::<serde_json::Value>(json).is_err());
        let repaired = fixed(json).unwrap();
        assert_eq!(repaired, r#"{"a":"cut \uFFFD","b":"\uFFFD end","c":"ok"}"#);
        let value: serde_json::Value = serde_json::from_str(&repaired).unwrap();
        assert_eq!(value["a"], "cut \u{FFFD}");
        assert_eq!(value["b"], "\u{FFFD} end");
    }

    #[test]
    fn pairs_escaped_backslashes_and_other_escapes_are_left_alone() {
        // A whole pair (😀), a backslash followed by text that looks like an escape, a plain escape.
        assert_eq!(fixed(r#"{"a":"\ud83d\ude00","b":"\\ud800","c":"\u00e9\n"}"#), None);
        // A high half followed by an escaped backslash and text, not by a low half.
        assert_eq!(fixed(r#"["\ud83d\\ude00"]"#).as_deref(), Some(r#"["\uFFFD\\ude00"]"#));
        // Two high halves in a row: both lone.
        assert_eq!(fixed(r#"["\uD83D\uD83D"]"#).as_deref(), Some(r#"["\uFFFD\uFFFD"]"#));
        // Cut off at the end of the body: left for the parser to report.
        assert_eq!(fixed(r#"["\ud8"#), None);
    }
}
