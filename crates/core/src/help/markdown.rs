//! A safe Markdown subset: headings, paragraphs, lists, code, emphasis,
//! links and images. There is no raw HTML at all: `<script>` is text like any
//! other, so the widget can only ever create the elements it chooses, and a
//! link or image whose URL is not http(s), mailto or a path is dropped (its
//! text is kept).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Level 1–6 as written; the renderer maps it to its own heading scale.
    Heading(u8, Vec<Inline>),
    Paragraph(Vec<Inline>),
    List {
        ordered: bool,
        items: Vec<Vec<Inline>>,
    },
    Code(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    Emph(Vec<Inline>),
    Strong(Vec<Inline>),
    Code(String),
    /// Only with a safe `href` (see [`safe_url`]).
    Link {
        href: String,
        children: Vec<Inline>,
    },
    /// Only with a safe `src` (http(s) or a path).
    Image {
        alt: String,
        src: String,
    },
}

/// `https://…`, `http://…`, `mailto:…` (links only), a path (`/…`, `./…`,
/// `../…`) or a fragment (`#…`). Everything else — `javascript:`, `data:`,
/// `vbscript:`, protocol-relative `//host`, anything with a backslash
/// (`/\host` is `//host` to a browser) — is refused.
pub fn safe_url(url: &str, for_image: bool) -> bool {
    let u = url.trim();
    // Browsers ignore tabs and newlines inside a scheme ("java\tscript:"); so do we, by refusing them.
    if u.is_empty() || u.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return false;
    }
    if crate::links::off_site(u).is_some() {
        return false;
    }
    let lower = u.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return true;
    }
    if !for_image && lower.starts_with("mailto:") {
        return true;
    }
    if lower.starts_with("//") {
        return false;
    }
    (lower.starts_with('/') || lower.starts_with("./") || lower.starts_with("../") || lower.starts_with('#'))
        && !lower.contains(':')
}

pub fn parse(src: &str) -> Vec<Block> {
    parse_seeing(src, &mut |_| {})
}

/// The target of every link and image written in `src`, as written (also
/// those [`parse`] drops), for validation to name the unsafe ones.
pub fn link_targets(src: &str) -> Vec<String> {
    let mut targets = Vec::new();
    parse_seeing(src, &mut |url| targets.push(url.to_owned()));
    targets
}

/// [`parse`], telling `seen` every link and image target on the way.
fn parse_seeing(src: &str, seen: &mut dyn FnMut(&str)) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut list: Option<(bool, Vec<Vec<Inline>>)> = None;
    let mut lines = src.lines();

    fn flush_para(para: &mut Vec<&str>, blocks: &mut Vec<Block>, seen: &mut dyn FnMut(&str)) {
        if !para.is_empty() {
            blocks.push(Block::Paragraph(inline_seeing(&para.join(" "), seen)));
            para.clear();
        }
    }
    fn flush_list(list: &mut Option<(bool, Vec<Vec<Inline>>)>, blocks: &mut Vec<Block>) {
        if let Some((ordered, items)) = list.take() {
            blocks.push(Block::List { ordered, items });
        }
    }

    while let Some(line) = lines.next() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("```") {
            let _lang = rest;
            flush_para(&mut para, &mut blocks, seen);
            flush_list(&mut list, &mut blocks);
            let mut code = Vec::new();
            for l in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                code.push(l);
            }
            blocks.push(Block::Code(code.join("\n")));
            continue;
        }
        if t.is_empty() {
            flush_para(&mut para, &mut blocks, seen);
            flush_list(&mut list, &mut blocks);
            continue;
        }
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            flush_para(&mut para, &mut blocks, seen);
            flush_list(&mut list, &mut blocks);
            blocks.push(Block::Heading(hashes as u8, inline_seeing(t[hashes..].trim(), seen)));
            continue;
        }
        if let Some((ordered, item)) = list_item(t) {
            flush_para(&mut para, &mut blocks, seen);
            match &mut list {
                Some((o, items)) if *o == ordered => items.push(inline_seeing(item, seen)),
                _ => {
                    flush_list(&mut list, &mut blocks);
                    list = Some((ordered, vec![inline_seeing(item, seen)]));
                }
            }
            continue;
        }
        if list.is_some() && line.starts_with("  ") {
            // A continuation line of the last list item.
            if let Some((_, items)) = &mut list {
                if let Some(last) = items.last_mut() {
                    last.push(Inline::Text(" ".into()));
                    last.extend(inline_seeing(t, seen));
                }
            }
            continue;
        }
        flush_list(&mut list, &mut blocks);
        para.push(t);
    }
    flush_para(&mut para, &mut blocks, seen);
    flush_list(&mut list, &mut blocks);
    blocks
}

fn list_item(t: &str) -> Option<(bool, &str)> {
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = t.strip_prefix(bullet) {
            return Some((false, rest.trim()));
        }
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && t[digits..].starts_with(". ") {
        return Some((true, t[digits + 2..].trim()));
    }
    None
}

/// Inline spans of one block's text.
pub fn inline(s: &str) -> Vec<Inline> {
    inline_seeing(s, &mut |_| {})
}

fn inline_seeing(s: &str, seen: &mut dyn FnMut(&str)) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    let mut prev: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        // As in CommonMark, `_` does not emphasise inside a word (snake_case, __init__).
        let intraword = c == '_' && prev.is_some_and(|p| p.is_alphanumeric() || p == '_');
        let parsed = match c {
            '`' => rest[1..].find('`').map(|end| (Inline::Code(rest[1..1 + end].to_owned()), 2 + end)),
            '_' if intraword => None,
            '*' | '_' if rest[1..].starts_with(c) => {
                delimited(rest, &rest[..2]).map(|(inner, n)| (Inline::Strong(inline_seeing(inner, seen)), n))
            }
            '*' | '_' => delimited(rest, &rest[..1]).map(|(inner, n)| (Inline::Emph(inline_seeing(inner, seen)), n)),
            '!' if rest[1..].starts_with('[') => bracket_url(&rest[1..]).map(|(alt, url, n)| {
                seen(url);
                let node = if safe_url(url, true) {
                    Inline::Image { alt: alt.to_owned(), src: url.trim().to_owned() }
                } else {
                    Inline::Text(alt.to_owned())
                };
                (node, n + 1)
            }),
            '[' => bracket_url(rest).map(|(label, url, n)| {
                seen(url);
                let children = inline_seeing(label, seen);
                let node = if safe_url(url, false) {
                    Inline::Link { href: url.trim().to_owned(), children }
                } else {
                    // An unsafe link keeps its words and loses its target.
                    Inline::Emph(children)
                };
                (node, n)
            }),
            _ => None,
        };
        match parsed {
            Some((node, n)) => {
                if !text.is_empty() {
                    out.push(Inline::Text(std::mem::take(&mut text)));
                }
                out.push(node);
                prev = rest[..n].chars().last();
                rest = &rest[n..];
            }
            None => {
                text.push(c);
                prev = Some(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if !text.is_empty() {
        out.push(Inline::Text(text));
    }
    out
}

/// `**inner**` → (inner, bytes consumed); the closing marker must follow a
/// non-space, and an `_` marker must not be followed by a letter or digit.
fn delimited<'a>(s: &'a str, marker: &str) -> Option<(&'a str, usize)> {
    let body = &s[marker.len()..];
    if body.starts_with(' ') || body.is_empty() {
        return None;
    }
    let end = body.find(marker)?;
    if end == 0 || body[..end].ends_with(' ') {
        return None;
    }
    if marker.starts_with('_')
        && body[end + marker.len()..].chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_')
    {
        return None;
    }
    Some((&body[..end], marker.len() * 2 + end))
}

/// `[label](url)` → (label, url, bytes consumed). Parentheses inside the
/// URL must balance, as in `(https://en.wikipedia.org/wiki/Foo_(bar))`.
fn bracket_url(s: &str) -> Option<(&str, &str, usize)> {
    let close = s.find("](")?;
    let label = &s[1..close];
    let url_start = close + 2;
    let mut depth = 0usize;
    for (i, c) in s[url_start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some((label, &s[url_start..url_start + i], url_start + i + 1)),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The words of a document, for search.
pub fn plain_text(blocks: &[Block]) -> String {
    fn inl(out: &mut String, xs: &[Inline]) {
        for x in xs {
            match x {
                Inline::Text(t) | Inline::Code(t) => out.push_str(t),
                Inline::Emph(c) | Inline::Strong(c) | Inline::Link { children: c, .. } => inl(out, c),
                Inline::Image { alt, .. } => out.push_str(alt),
            }
        }
    }
    let mut out = String::new();
    for b in blocks {
        match b {
            Block::Heading(_, x) | Block::Paragraph(x) => inl(&mut out, x),
            Block::List { items, .. } => items.iter().for_each(|i| {
                inl(&mut out, i);
                out.push(' ');
            }),
            Block::Code(c) => out.push_str(c),
        }
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Inline::*;

    fn t(s: &str) -> Inline {
        Text(s.into())
    }

    #[test]
    fn blocks() {
        let doc = "# Title\n\nSome *emphasis* and **strong** text\nover two lines.\n\n- one\n- two `code`\n\n1. first\n2. second\n\n```\nlet x = 1;\n```";
        assert_eq!(
            parse(doc),
            vec![
                Block::Heading(1, vec![t("Title")]),
                Block::Paragraph(vec![
                    t("Some "),
                    Emph(vec![t("emphasis")]),
                    t(" and "),
                    Strong(vec![t("strong")]),
                    t(" text over two lines.")
                ]),
                Block::List { ordered: false, items: vec![vec![t("one")], vec![t("two "), Code("code".into())]] },
                Block::List { ordered: true, items: vec![vec![t("first")], vec![t("second")]] },
                Block::Code("let x = 1;".into()),
            ]
        );
    }

    #[test]
    fn links_and_images() {
        assert_eq!(
            inline("See [the guide](https://example.com/guide) or [settings](/settings.html). ![Screen](/img/a.png)"),
            vec![
                t("See "),
                Link { href: "https://example.com/guide".into(), children: vec![t("the guide")] },
                t(" or "),
                Link { href: "/settings.html".into(), children: vec![t("settings")] },
                t(". "),
                Image { alt: "Screen".into(), src: "/img/a.png".into() },
            ]
        );
        assert_eq!(
            inline("[mail](mailto:help@acme.test)")[0],
            Link { href: "mailto:help@acme.test".into(), children: vec![t("mail")] }
        );
    }

    #[test]
    fn hostile_content_is_inert() {
        // Raw HTML stays text: the renderer only makes text nodes of it.
        assert_eq!(parse("<script>alert(1)</script>"), vec![Block::Paragraph(vec![t("<script>alert(1)</script>")])]);
        assert_eq!(
            parse(r#"<img src=x onerror="alert(1)"> <a href="javascript:alert(1)" onclick="x()">hi</a>"#),
            vec![Block::Paragraph(vec![t(
                r#"<img src=x onerror="alert(1)"> <a href="javascript:alert(1)" onclick="x()">hi</a>"#
            )])]
        );
        // Unsafe link targets are dropped, their words kept.
        for url in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<b>x</b>",
            "vbscript:x",
            "//evil.test/x",
            "/\\evil.test/x",
            "\\\\evil.test",
            "/ok:javascript",
        ] {
            assert_eq!(inline(&format!("[click]({url})")), vec![Emph(vec![t("click")])], "{url:?}");
        }
        assert_eq!(inline("![pic](javascript:alert(1))"), vec![t("pic")]);
        assert_eq!(
            inline("[wiki](https://en.wikipedia.org/wiki/Foo_(bar))"),
            vec![Link { href: "https://en.wikipedia.org/wiki/Foo_(bar)".into(), children: vec![t("wiki")] }]
        );
        assert_eq!(inline("![pic](data:image/png;base64,AAAA)"), vec![t("pic")]);
        assert_eq!(inline("![pic](mailto:a@b.c)"), vec![t("pic")], "mailto is for links only");
    }

    #[test]
    fn unbalanced_markers_are_text() {
        assert_eq!(inline("2 * 3 = 6 and a_b_c"), vec![t("2 * 3 = 6 and a_b_c")]);
        assert_eq!(inline(r#"window.__pwned = 1; x.__y"#), vec![t(r#"window.__pwned = 1; x.__y"#)]);
        assert_eq!(
            inline("snake_case_name and _real emphasis_"),
            vec![t("snake_case_name and "), Emph(vec![t("real emphasis")])]
        );
        assert_eq!(inline("**not closed"), vec![t("**not closed")]);
        assert_eq!(inline("[no url]"), vec![t("[no url]")]);
        assert_eq!(inline("`open"), vec![t("`open")]);
    }

    #[test]
    fn plain_text_for_search() {
        let blocks = parse("# Import\n\nUpload a **CSV** [file](/x).\n\n- rows");
        assert_eq!(
            plain_text(&blocks).split_whitespace().collect::<Vec<_>>(),
            ["Import", "Upload", "a", "CSV", "file.", "rows"]
        );
    }
}
