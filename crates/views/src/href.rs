//! The last check on a URL before it goes into an `href` or `src` of our
//! panels (help links, images and videos, checklist calls to action). The
//! collector validates content when it loads it; this check runs where the
//! attribute is written, so content that reached the page another way (an
//! older collector, a copy cached by an earlier page) cannot take the reader
//! somewhere else.

/// What a URL is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Use {
    /// A link the reader follows: `mailto:` too.
    Link,
    /// Something loaded into the panel (an image, a video frame).
    Source,
}

/// Whether `url` may be written into our panels: http(s), `mailto:` for
/// links, or a path of the host's site (`/…`, `./…`, `../…`, `#…`).
/// Refused besides other schemes: whatever a browser reads as another
/// host — protocol-relative `//host`, and backslashes, which browsers take
/// for slashes (`/\host`, `\\host`) — and control characters and spaces,
/// which browsers drop from inside a URL (`/\t/host` is `//host`).
pub fn allowed(url: &str, to: Use) -> bool {
    let u = url.trim();
    if u.is_empty() || u.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return false;
    }
    let lower = u.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return true;
    }
    if to == Use::Link && lower.starts_with("mailto:") {
        return true;
    }
    if lower.starts_with("//") {
        return false;
    }
    let path = lower.starts_with('/') || lower.starts_with("./") || lower.starts_with("../") || lower.starts_with('#');
    path && !lower.contains(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_web_mail_and_this_site() {
        let check = |url: &str, link: bool, source: bool| {
            assert_eq!((allowed(url, Use::Link), allowed(url, Use::Source)), (link, source), "{url:?}");
        };
        check("https://example.com/guide", true, true);
        check("HTTP://example.com", true, true);
        check("/settings.html", true, true);
        check("./a", true, true);
        check("../a", true, true);
        check("#top", true, true);
        check(" /padded ", true, true);
        check("mailto:help@acme.test", true, false);
        // Another host, the way browsers read these.
        for other_host in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "\\/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https:\\\\evil.example",
            "https:/\\evil.example",
        ] {
            check(other_host, false, false);
        }
        // Other schemes, however written.
        for scheme in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,x",
            "vbscript:x",
            "/a:b",
            "evil.example",
            "",
        ] {
            check(scheme, false, false);
        }
    }
}
