//! Building strings without `core::fmt`: `format!` and `to_string` pull the
//! formatting machinery into the first module (about 16 KB brotli that every
//! host page would download before the survey). Messages are concatenated
//! from parts instead.

/// `parts` joined.
pub fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// `n` in decimal.
pub fn num(n: u64) -> String {
    let mut out = String::new();
    touchpoint_protocol::write::push_u64(&mut out, n);
    out
}

/// `"s"`, for naming a value in a message.
pub fn quoted(s: &str) -> String {
    cat(&["\"", s, "\""])
}

/// A whole number of 0 or more that fits in `u32`, from decimal text.
pub fn parse_u32(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || s.len() > 10 {
        return None;
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    u32::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_messages() {
        assert_eq!(
            cat(&["a ", &num(0), " b ", &num(1_764_000_000_123), " ", &quoted("x")]),
            "a 0 b 1764000000123 \"x\""
        );
        assert_eq!(cat(&[]), "");
    }

    #[test]
    fn parses_whole_numbers() {
        for (text, n) in [("0", Some(0)), (" 42 ", Some(42)), ("4294967295", Some(u32::MAX)), ("4294967296", None)] {
            assert_eq!(parse_u32(text), n, "{text}");
        }
        for bad in ["", "-1", "1.5", "1e3", "abc", "99999999999"] {
            assert_eq!(parse_u32(bad), None, "{bad}");
        }
    }
}
