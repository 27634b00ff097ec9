//! A help article's Markdown as the widget will show it, for the dashboard's
//! preview: parsed by `touchpoint_core::help` (the widget's own safe subset),
//! answered as a tree of the few node kinds it can produce. The dashboard
//! builds the preview from these with `createElement` and text nodes, so
//! nothing in an article is ever parsed as HTML, there or in the widget:
//! `<script>` stays text, and a link or image with an unsafe URL has already
//! been dropped (its text kept) by the parser.

use serde_json::{json, Value};
use touchpoint_core::help::markdown::{self, Block, Inline};
use touchpoint_core::help::Article;

use super::Kind;

/// `{"title", "blocks": [...], "problems": [{"path", "message"}]}` for
/// article `id`'s `text`. With problems in the front matter, the body after
/// it is still previewed (and `title` is null).
pub fn render(id: &str, text: &str) -> Value {
    let problems = Kind::Help.validate(id, &json!({ "markdown": text }), &[]);
    let (title, blocks) = match Article::parse(&format!("{id}.md"), text) {
        Ok(article) => (Some(article.title.clone()), article.blocks()),
        Err(_) => (None, markdown::parse(after_front_matter(text))),
    };
    json!({ "title": title, "blocks": blocks.iter().map(block).collect::<Vec<_>>(), "problems": problems })
}

/// The text after a `---` … `---` block at its start, else all of it.
fn after_front_matter(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) else { return text };
    match rest.find("\n---") {
        Some(end) => rest[end + 4..].trim_start_matches(['\r', '\n']),
        None => text,
    }
}

fn block(b: &Block) -> Value {
    match b {
        Block::Heading(level, children) => json!({ "type": "heading", "level": level, "children": inlines(children) }),
        Block::Paragraph(children) => json!({ "type": "paragraph", "children": inlines(children) }),
        Block::List { ordered, items } => json!({
            "type": "list", "ordered": ordered,
            "items": items.iter().map(|i| inlines(i)).collect::<Vec<_>>(),
        }),
        Block::Code(text) => json!({ "type": "code", "text": text }),
    }
}

fn inlines(list: &[Inline]) -> Vec<Value> {
    list.iter().map(inline).collect()
}

fn inline(i: &Inline) -> Value {
    match i {
        Inline::Text(text) => json!({ "type": "text", "text": text }),
        Inline::Emph(children) => json!({ "type": "emph", "children": inlines(children) }),
        Inline::Strong(children) => json!({ "type": "strong", "children": inlines(children) }),
        Inline::Code(text) => json!({ "type": "code", "text": text }),
        Inline::Link { href, children } => json!({ "type": "link", "href": href, "children": inlines(children) }),
        Inline::Image { alt, src } => json!({ "type": "image", "alt": alt, "src": src }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_text_and_unsafe_links_lose_their_target() {
        let text = "---\ntitle: Hostile\n---\n<script>alert(1)</script> and <img src=x onerror=alert(2)>\n\n\
                    [click](javascript:alert(3)) **bold**";
        let out = render("hostile", text);
        assert_eq!(out["title"], "Hostile");
        assert_eq!(out["problems"], json!([]));
        let flat = out["blocks"].to_string();
        assert!(flat.contains(r#""text":"<script>alert(1)</script> and <img src=x onerror=alert(2)>""#), "{flat}");
        assert!(!flat.contains("javascript:"), "{flat}");
        assert!(flat.contains(r#""type":"strong""#), "{flat}");
    }

    #[test]
    fn front_matter_problems_are_named_and_the_body_still_shows() {
        let out = render("a", "---\ntitle: \n---\n# Hello");
        assert_eq!(out["title"], Value::Null);
        assert_eq!(out["problems"][0]["path"], "markdown.title");
        assert_eq!(out["blocks"][0]["type"], "heading");
    }
}
