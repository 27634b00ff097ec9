//! Link targets in content (help articles, checklist buttons) that look like
//! paths on the host's site but that a browser resolves to another host.
//!
//! `//evil.example/x` is protocol-relative: the page's scheme, someone
//! else's host. Browsers also read `\` as `/` in http(s) URLs, so
//! `/\evil.example` is `//evil.example` too. Both pass a naive "starts with
//! /" check, which is why content validation asks this module instead.

use std::fmt;

/// Why a link target that starts like a path leaves the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffSite {
    /// `//host/…`.
    ProtocolRelative,
    /// Any `\`: `/\host` is `//host` to a browser, and no path needs a raw backslash (`%5C` is one).
    Backslash,
}

impl fmt::Display for OffSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OffSite::ProtocolRelative => {
                "starts with //, which browsers read as another host (protocol-relative); write the full \
                 https:// URL, or a path with a single /"
            }
            OffSite::Backslash => {
                "contains a backslash, which browsers read as / (so /\\host is //host, another host); write the \
                 full https:// URL, or the path with / (or %5C for a literal backslash)"
            }
        })
    }
}

/// `Some` if `url` (trimmed) would lead to another host although it does not
/// name a scheme, or contains a backslash anywhere.
pub fn off_site(url: &str) -> Option<OffSite> {
    let u = url.trim();
    if u.contains('\\') {
        Some(OffSite::Backslash)
    } else if u.starts_with("//") {
        Some(OffSite::ProtocolRelative)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_site_are_named() {
        for (url, expected) in [
            ("/settings.html", None),
            ("./guide", None),
            ("https://docs.example/a", None),
            ("#top", None),
            ("//evil.example", Some(OffSite::ProtocolRelative)),
            ("  //evil.example/x", Some(OffSite::ProtocolRelative)),
            ("/\\evil.example", Some(OffSite::Backslash)),
            ("\\\\evil.example", Some(OffSite::Backslash)),
            ("\\/evil.example", Some(OffSite::Backslash)),
            ("https:\\\\evil.example", Some(OffSite::Backslash)),
            ("/docs\\page", Some(OffSite::Backslash)),
        ] {
            assert_eq!(off_site(url), expected, "{url:?}");
        }
    }
}
