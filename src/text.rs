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

/// `parts` joined by `sep`. `[&str]::join` instantiates a generic copy loop per call
/// site's types; this is one small function.
pub fn join<S: AsRef<str>>(parts: &[S], sep: &str) -> String {
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(p.as_ref());
    }
    out
}

/// What follows the last `sep` in `s` (all of `s` if there is none). A byte
/// search: `str::rsplit` with a pattern brings the generic two-way searcher.
pub fn after_last(s: &str, sep: u8) -> &str {
    match s.bytes().rposition(|b| b == sep) {
        // `sep` is ASCII, so the byte after it starts a character.
        Some(at) => s.get(at + 1..).unwrap_or_default(),
        None => s,
    }
}

/// `s` split around its first `sep` (an ASCII byte), like `str::split_once`
/// without the generic searcher.
pub fn split_once(s: &str, sep: u8) -> Option<(&str, &str)> {
    let at = s.bytes().position(|b| b == sep)?;
    Some((s.get(..at)?, s.get(at + 1..)?))
}

/// What follows the first `needle` in `s`, if it occurs.
pub fn after_first<'a>(s: &'a str, needle: &str) -> Option<&'a str> {
    let n = needle.len();
    let at = (0..=s.len().checked_sub(n)?).find(|&i| s.as_bytes().get(i..i + n) == Some(needle.as_bytes()))?;
    s.get(at + n..)
}

/// `s` with every `{name}` placeholder replaced by its value.
pub fn fill(s: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.bytes().position(|b| b == b'{') {
        // `{` is ASCII: both sides start on a character boundary (`get`, unlike
        // `split_at`, brings no panic path).
        let (before, from) = (rest.get(..open).unwrap_or_default(), rest.get(open..).unwrap_or_default());
        out.push_str(before);
        let name_end = from.bytes().position(|b| b == b'}');
        let value = name_end.and_then(|end| {
            let name = from.get(1..end)?;
            args.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v, end))
        });
        match value {
            Some((v, end)) => {
                out.push_str(v);
                rest = from.get(end + 1..).unwrap_or_default();
            }
            None => {
                out.push('{');
                rest = from.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

/// Sorts `v` in place (a heap sort). `sort_unstable` brings a pattern-defeating
/// quicksort with its small-sort networks, several KB in the first module for
/// the few sorts of storage keys it makes.
pub fn sort(v: &mut [String]) {
    fn sift(v: &mut [String], mut at: usize, end: usize) {
        loop {
            let mut child = 2 * at + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && v[child] < v[child + 1] {
                child += 1;
            }
            if v[at] >= v[child] {
                return;
            }
            v.swap(at, child);
            at = child;
        }
    }
    let n = v.len();
    for at in (0..n / 2).rev() {
        sift(v, at, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
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
    fn joins_splits_and_fills() {
        assert_eq!(join(&["a", "b", "c"], ", "), "a, b, c");
        assert_eq!(join::<&str>(&[], ", "), "");
        assert_eq!(after_last("touchpoint:k:q:0001.000001:id-1", b':'), "id-1");
        assert_eq!(after_last("no-colon", b':'), "no-colon");
        assert_eq!(after_last("ends:", b':'), "");
        assert_eq!(after_first("touchpoint:k:q:0001.000001:id", ":q:"), Some("0001.000001:id"));
        assert_eq!(after_first("touchpoint:k:dead:1", ":q:"), None);
        assert_eq!(after_first(":q", ":q:"), None);
        assert_eq!(split_once("score:10", b':'), Some(("score", "10")));
        assert_eq!(split_once("tab-1|1764000000000", b'|'), Some(("tab-1", "1764000000000")));
        assert_eq!(split_once("back", b':'), None);
        let args = [("n", "3"), ("max", "10")];
        assert_eq!(fill("{n} of {max}", &args), "3 of 10");
        assert_eq!(fill("Wert {n}, {unknown} {", &args), "Wert 3, {unknown} {");
        assert_eq!(fill("ä{n}ö{max}", &args), "ä3ö10");
    }

    #[test]
    fn sorts() {
        for case in
            [vec![], vec!["b"], vec!["c", "a", "b", "a"], vec!["q:3", "q:1", "q:2", "q:10", "q:0", "dead", "q:1"]]
        {
            let mut ours: Vec<String> = case.iter().map(|s| s.to_string()).collect();
            let mut std_sorted = ours.clone();
            std_sorted.sort();
            sort(&mut ours);
            assert_eq!(ours, std_sorted);
        }
        let mut many: Vec<String> = (0..500u64).map(|i| num((i * 7919) % 1000)).collect();
        let mut std_sorted = many.clone();
        std_sorted.sort();
        sort(&mut many);
        assert_eq!(many, std_sorted);
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
