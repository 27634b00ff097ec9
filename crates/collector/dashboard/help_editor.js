// The dashboard's help article editor (content_kit.js does the saving,
// problems, publishing and versions): an article's Markdown, with its front
// matter, and a preview rendered as the widget renders it. The collector parses
// the Markdown with the widget's own safe subset (touchpoint_core::help) and
// answers a tree of a few node kinds; the preview is built from those with
// createElement and text nodes, so raw HTML in an article (<script>, an
// <img onerror>) can only ever appear as text.
"use strict";
(function () {
  const { el, api, mount } = window.TouchpointContent;
  const PREVIEW_DELAY_MS = 250;
  let timer = null;
  let asked = 0;

  function inlines(parent, nodes) {
    for (const n of nodes || []) {
      switch (n.type) {
        case "text": parent.append(document.createTextNode(n.text)); break;
        case "emph": parent.append(inlines(el("em"), n.children)); break;
        case "strong": parent.append(inlines(el("strong"), n.children)); break;
        case "code": parent.append(el("code", {}, n.text)); break;
        // The parser kept only safe targets (http(s), mailto, paths); the link opens outside the dashboard.
        case "link": parent.append(inlines(el("a", { href: n.href, rel: "noopener noreferrer", target: "_blank" }), n.children)); break;
        case "image": parent.append(el("img", { src: n.src, alt: n.alt })); break;
        default: break; // A kind this page does not know is left out, never guessed at.
      }
    }
    return parent;
  }

  function blocks(nodes) {
    return (nodes || []).map((b) => {
      switch (b.type) {
        // The widget's heading scale: levels 1–2 → h4, deeper → h5.
        case "heading": return inlines(el(b.level <= 2 ? "h4" : "h5"), b.children);
        case "paragraph": return inlines(el("p"), b.children);
        case "list": return el(b.ordered ? "ol" : "ul", {}, ...b.items.map((item) => inlines(el("li"), item)));
        case "code": return el("pre", {}, el("code", {}, b.text));
        default: return null;
      }
    }).filter(Boolean);
  }

  async function preview(id, markdown) {
    const mine = ++asked;
    const res = await api(`/v1/content/help/${encodeURIComponent(id)}/render`, { method: "POST", body: JSON.stringify({ markdown }) });
    if (mine !== asked) return; // a newer edit's preview is on its way
    const target = document.getElementById("help-preview");
    if (!res.ok) {
      target.replaceChildren(el("p", { class: "empty" }, `No preview: ${res.body.error || `HTTP ${res.status}`}`));
      return;
    }
    target.replaceChildren(el("h4", {}, res.body.title || "(no title yet)"), ...blocks(res.body.blocks));
  }

  mount({
    section: "help-editor",
    prefix: "help",
    kind: "help",
    noun: "article",
    heading: "Help article editor",
    hint: "An article is Markdown after a front matter (title, tags, segments, urls, video). Raw HTML is shown as text, "
      + "and links may only go to http(s), mailto or a path. The preview is the widget's own rendering of the text.",
    blank: () => ({ markdown: "---\ntitle: New article\ntags: \n---\nWrite the answer here.\n" }),
    aside: () => el("section", { class: "ed-preview", "aria-labelledby": "help-preview-heading" },
      el("h3", { id: "help-preview-heading" }, "Preview"),
      el("article", { id: "help-preview", class: "help-preview", "aria-label": "Article preview" })),
    afterChange(body, ui) {
      clearTimeout(timer);
      const id = ui.state.id;
      timer = setTimeout(() => preview(id, body.markdown || ""), PREVIEW_DELAY_MS);
    },
    form(body, ui) {
      return [ui.textarea("Markdown", "markdown", body.markdown, (v) => (body.markdown = v), { rows: 18, class: "ed-markdown", spellcheck: "true" })];
    },
  });
})();
