//! The help panel: suggestions for the page and segment, instant search,
//! articles rendered from the safe Markdown subset, videos loaded only when
//! asked for (in a sandboxed frame), "Was this helpful?", and a form to
//! reach a person. Text goes in as text nodes only, and every URL is
//! checked again as it is written (`href`).

use std::cell::RefCell;
use std::sync::Arc;

use touchpoint_core::help::{suggest, Block, Inline};
use touchpoint_protocol::EventKind;
use wasm_bindgen::JsCast;
use web_sys::Element;

use crate::dom::{el, push, text_el, with, Result};
use crate::help::Content;
use crate::host::{self, t, tf};
use crate::href::{self, Use};

#[derive(Clone, Copy, PartialEq)]
enum Screen {
    Home,
    Article(usize),
    Contact,
    Sent,
}

thread_local! {
    /// The help panel on the page; the panels put it in and take it out.
    static VIEW: RefCell<Option<HelpView>> = const { RefCell::new(None) };
}

/// Runs `f` on the help panel on the page; `None` if there is none.
fn with_view<R>(f: impl FnOnce(&mut HelpView) -> R) -> Option<R> {
    VIEW.with(|v| v.borrow_mut().as_mut().map(f))
}

/// Puts `view` on the page's record in place of any before it, whose section leaves the page.
pub fn replace(view: Option<HelpView>) {
    if let Some(old) = VIEW.with(|v| std::mem::replace(&mut *v.borrow_mut(), view)) {
        old.section.remove();
    }
}

/// Shows or hides the help panel.
pub fn show(open: bool) {
    with_view(|h| h.set_open(open));
}

/// Sets the search box (`openHelp(query)`).
pub fn query(q: String) {
    with_view(|h| h.set_query(q));
}

/// Suggestions follow the page's path and the user's segment.
pub fn follow(path: &str, segment: Option<&str>) {
    with_view(|h| h.suggest_for(path, segment));
}

/// Pause in typing after which a search counts as one (and is reported).
const SEARCH_SETTLE_MS: i32 = 700;

pub struct HelpView {
    pub section: Element,
    header: Element,
    content: Arc<Content>,
    screen: Screen,
    query: String,
    /// Bumped by each keystroke: a search is reported once typing settles.
    search_gen: u32,
    /// Context for a case: what the user last read and last searched for in vain.
    last_article: Option<String>,
    last_failed_search: Option<String>,
    /// The home screen's search box and results, while it is shown.
    home: Option<(web_sys::HtmlInputElement, Element)>,
    /// Where suggestions come from: the page's path and the user's segment.
    path: String,
    segment: Option<String>,
}

impl HelpView {
    pub fn build(content: Arc<Content>) -> Result<HelpView> {
        let header = with(
            el("header", "tp-cl-head", &[])?,
            &[
                &text_el("h2", "tp-question", &[], &t("help.title"))?,
                &text_el(
                    "button",
                    "tp-icon",
                    &[("type", "button"), ("aria-label", &t("help.close")), ("data-tp-act", "close")],
                    "×",
                )?,
            ],
        )?;
        let section = with(
            el(
                "section",
                "tp-panel tp-help-panel",
                &[("role", "region"), ("aria-label", &t("help.title")), ("hidden", "")],
            )?,
            &[&header],
        )?;
        let mut view = HelpView {
            section,
            header,
            content,
            screen: Screen::Home,
            query: String::new(),
            search_gen: 0,
            last_article: None,
            last_failed_search: None,
            home: None,
            path: String::new(),
            segment: None,
        };
        view.draw()?;
        Ok(view)
    }

    pub fn set_open(&self, open: bool) {
        let _ = self.section.toggle_attribute_with_force("hidden", !open);
    }

    /// Sets the search box from the host (`openHelp(query)`).
    pub fn set_query(&mut self, q: String) {
        self.query = q;
        if let Some((input, _)) = &self.home {
            input.set_value(&self.query);
        }
        let _ = self.results();
    }

    pub fn suggest_for(&mut self, path: &str, segment: Option<&str>) {
        if self.path != path || self.segment.as_deref() != segment {
            self.path = path.to_owned();
            self.segment = segment.map(str::to_owned);
            let _ = self.results();
        }
    }

    fn go(&mut self, screen: Screen) {
        self.screen = screen;
        if let Err(e) = self.draw() {
            crate::page::error(&format!("help: {}", crate::page::describe(&e)));
        }
        // The control that led here is gone: focus goes to the new screen's first.
        crate::page::focus_soon(self.section.clone().into(), ".tp-help-panel [data-tp-focus]", false);
    }

    /// Replaces everything below the header with the current screen.
    fn draw(&mut self) -> Result<()> {
        while let Some(next) = self.header.next_sibling() {
            self.section.remove_child(&next)?;
        }
        self.home = None;
        let nodes = match self.screen {
            Screen::Home => self.home_screen()?,
            Screen::Article(i) => self.article_screen(i)?,
            Screen::Contact => contact_screen()?,
            Screen::Sent => sent_screen()?,
        };
        for n in nodes {
            self.section.append_child(&n)?;
        }
        Ok(())
    }

    fn home_screen(&mut self) -> Result<Vec<Element>> {
        let label = text_el("label", "tp-sr", &[("for", "tp-help-q")], &t("help.search"))?;
        let search = t("help.search");
        let input: web_sys::HtmlInputElement = el(
            "input",
            "tp-help-search",
            &[
                ("id", "tp-help-q"),
                ("type", "search"),
                ("placeholder", &search),
                ("autocomplete", "off"),
                ("data-tp-focus", ""),
            ],
        )?
        .unchecked_into();
        input.set_value(&self.query);
        let results = el("div", "tp-help-results", &[])?;
        let contact = with(el("p", "tp-help-contact", &[])?, &[])?;
        contact.append_with_str_1(&t("help.cant_find"))?;
        contact.append_with_str_1(" ")?;
        push(
            &contact,
            text_el(
                "button",
                "tp-help-link tp-inline",
                &[("type", "button"), ("data-tp-act", "contact")],
                &t("help.contact"),
            ),
        )?;
        self.home = Some((input.clone(), results.clone()));
        self.results()?;
        Ok(vec![label, input.unchecked_into(), results, contact])
    }

    /// The home screen's list: suggestions for this page without a query,
    /// search results with one.
    fn results(&self) -> Result<()> {
        let Some((_, results)) = &self.home else { return Ok(()) };
        results.set_text_content(None);
        let c = &self.content;
        let q = self.query.trim();
        if q.is_empty() {
            let ids: Vec<usize> = suggest(&c.articles, &self.path, self.segment.as_deref())
                .iter()
                .filter_map(|a| c.articles.iter().position(|x| x.id == a.id))
                .collect();
            if ids.is_empty() {
                push(results, text_el("p", "tp-hint", &[], &t("help.search_hint")))?;
            } else {
                push(results, text_el("h3", "tp-help-sub", &[], &t("help.suggested")))?;
                push(results, self.list(&ids, &t("help.suggested_list")))?;
            }
        } else {
            let ids: Vec<usize> = c.index.search(&self.query).iter().map(|h| h.article).collect();
            if ids.is_empty() {
                let text = tf("help.no_match", &[("query", &self.query)]);
                push(results, text_el("p", "tp-help-empty", &[("role", "status")], &text))?;
            } else {
                let text = tf("help.found", &[("n", &ids.len().to_string())]);
                push(results, text_el("p", "tp-sr", &[("role", "status")], &text))?;
                push(results, self.list(&ids, &t("help.results")))?;
            }
        }
        Ok(())
    }

    fn list(&self, ids: &[usize], label: &str) -> Result<Element> {
        let ul = el("ul", "tp-help-list", &[("aria-label", label)])?;
        for &i in ids {
            let n = i.to_string();
            let button = text_el(
                "button",
                "tp-help-link",
                &[("type", "button"), ("data-tp-act", "article"), ("data-tp-id", &n)],
                &self.content.articles[i].title,
            )?;
            push(&ul, with(el("li", "", &[])?, &[&button]))?;
        }
        Ok(ul)
    }

    fn article_screen(&self, i: usize) -> Result<Vec<Element>> {
        let a = &self.content.articles[i];
        let back = text_el(
            "button",
            "tp-back",
            &[("type", "button"), ("data-tp-act", "home"), ("data-tp-focus", "")],
            &t("help.all"),
        )?;
        let article = el("article", "tp-help-article", &[("aria-labelledby", "tp-help-title")])?;
        push(&article, text_el("h3", "tp-question", &[("id", "tp-help-title")], &a.title))?;
        if a.video.as_deref().is_some_and(|v| href::allowed(v, Use::Source)) {
            let watch =
                text_el("button", "tp-secondary", &[("type", "button"), ("data-tp-act", "video")], &t("help.watch"))?;
            push(&article, with(el("div", "tp-help-video", &[])?, &[&watch]))?;
        }
        for b in a.blocks() {
            push(&article, block(b))?;
        }
        let rate = el("div", "tp-help-rate", &[])?;
        push(&rate, text_el("span", "", &[("id", "tp-rate-q")], &t("help.helpful")))?;
        for (act, key) in [("yes", "help.yes"), ("no", "help.no")] {
            let attrs = [("type", "button"), ("aria-describedby", "tp-rate-q"), ("data-tp-act", act)];
            push(&rate, text_el("button", "tp-secondary", &attrs, &t(key)))?;
        }
        Ok(vec![back, article, rate])
    }

    /// The video of the article on screen, in its frame (only once asked for).
    fn show_video(&self) -> Result<()> {
        let Screen::Article(i) = self.screen else { return Ok(()) };
        let a = &self.content.articles[i];
        let Some(src) = a.video.as_deref().filter(|v| href::allowed(v, Use::Source)) else { return Ok(()) };
        let Some(holder) = self.section.query_selector(".tp-help-video")? else { return Ok(()) };
        let title = tf("help.video_title", &[("title", &a.title)]);
        // A video player (YouTube, Vimeo) needs its scripts and its own
        // origin, and may present; nothing more: no popups, no forms, no
        // navigating the host page.
        let frame = el(
            "iframe",
            "",
            &[
                ("src", src),
                ("title", &title),
                ("sandbox", "allow-scripts allow-same-origin allow-presentation"),
                ("allow", "fullscreen; picture-in-picture"),
                ("referrerpolicy", "no-referrer"),
            ],
        )?;
        holder.set_text_content(None);
        holder.append_child(&frame)?;
        Ok(())
    }

    fn rated(&self, helpful: bool) -> Option<EventKind> {
        let Screen::Article(i) = self.screen else { return None };
        let rate = self.section.query_selector(".tp-help-rate").ok().flatten()?;
        rate.set_text_content(None);
        let _ = text_el("p", "", &[("role", "status")], &t("help.thanks_feedback")).map(|p| rate.append_child(&p));
        Some(EventKind::HelpArticleRated { article_id: self.content.articles[i].id.clone(), helpful })
    }
}

/// A click on a help control (`data-tp-act`; `id` its `data-tp-id`).
pub fn act(act: &str, id: &str) {
    let event = with_view(|h| match act {
        "article" => {
            let i: usize = id.parse().ok().filter(|i| *i < h.content.articles.len())?;
            let article_id = h.content.articles[i].id.clone();
            h.last_article = Some(article_id.clone());
            h.go(Screen::Article(i));
            Some(EventKind::HelpArticleViewed { article_id })
        }
        "home" => {
            h.go(Screen::Home);
            None
        }
        "contact" => {
            h.go(Screen::Contact);
            None
        }
        "video" => {
            let _ = h.show_video();
            None
        }
        "yes" => h.rated(true),
        "no" => h.rated(false),
        _ => None,
    })
    .flatten();
    if let Some(kind) = event {
        host::emit(kind);
    }
}

/// Typing in the search box or in the contact form.
pub fn typed(target: &Element) {
    match target.id().as_str() {
        "tp-help-q" => {
            let Some(q) = target.dyn_ref::<web_sys::HtmlInputElement>().map(|i| i.value()) else { return };
            let gen = with_view(|h| {
                h.query = q.clone();
                h.search_gen += 1;
                let _ = h.results();
                h.search_gen
            });
            if let Some(gen) = gen {
                host::set_timeout(SEARCH_SETTLE_MS, move || searched(gen, q));
            }
        }
        "tp-case-msg" => set_error(""),
        _ => {}
    }
}

/// Typing settled on `q`: the search is reported (and remembered for a case if it found nothing).
fn searched(gen: u32, q: String) {
    if q.trim().is_empty() {
        return;
    }
    let count = with_view(|h| {
        if h.search_gen != gen {
            return None;
        }
        let count = h.content.index.search(&q).len() as u32;
        if count == 0 {
            h.last_failed_search = Some(q.clone());
        }
        Some(count)
    })
    .flatten();
    if let Some(result_count) = count {
        host::emit(EventKind::HelpSearched { query: q, result_count });
    }
}

fn set_error(text: &str) {
    with_view(|h| {
        let error = h.section.query_selector(".tp-error").ok().flatten();
        if let Some(e) = error {
            e.set_text_content(Some(text));
        }
    });
}

/// The contact form was sent: a case, unless the message is empty.
pub fn submit() {
    let case = with_view(|h| {
        if h.screen != Screen::Contact {
            return None;
        }
        let value = |id: &str| -> String {
            let Ok(Some(e)) = h.section.query_selector(id) else { return String::new() };
            if let Some(t) = e.dyn_ref::<web_sys::HtmlTextAreaElement>() {
                return t.value();
            }
            e.dyn_ref::<web_sys::HtmlInputElement>().map(|i| i.value()).unwrap_or_default()
        };
        let message = value("#tp-case-msg");
        if message.trim().is_empty() {
            return Some(Err(()));
        }
        let email = Some(value("#tp-case-email").trim().to_owned()).filter(|e| !e.is_empty());
        let case = EventKind::HelpCaseCreated {
            message,
            email,
            last_article: h.last_article.clone(),
            last_failed_search: h.last_failed_search.clone(),
        };
        h.go(Screen::Sent);
        Some(Ok(case))
    })
    .flatten();
    match case {
        Some(Ok(kind)) => {
            host::emit(kind);
        }
        Some(Err(())) => set_error(&t("help.need_message")),
        None => {}
    }
}

fn contact_screen() -> Result<Vec<Element>> {
    let back = text_el("button", "tp-back", &[("type", "button"), ("data-tp-act", "home")], &t("help.all"))?;
    let form = with(
        el("form", "tp-form", &[])?,
        &[
            &text_el("h3", "tp-question", &[], &t("help.contact"))?,
            &text_el("label", "tp-label", &[("for", "tp-case-msg")], &t("help.how"))?,
            &el(
                "textarea",
                "tp-text",
                &[("id", "tp-case-msg"), ("rows", "4"), ("maxlength", "4000"), ("data-tp-focus", "")],
            )?,
            &text_el("label", "tp-label", &[("for", "tp-case-email")], &t("help.email"))?,
            &el("input", "tp-text tp-input", &[("id", "tp-case-email"), ("type", "email"), ("autocomplete", "email")])?,
            &el("p", "tp-error", &[("role", "alert")])?,
            &text_el("button", "tp-primary", &[("type", "submit")], &t("help.send"))?,
        ],
    )?;
    Ok(vec![back, form])
}

fn sent_screen() -> Result<Vec<Element>> {
    let status = with(
        el("div", "tp-help-sent", &[("role", "status")])?,
        &[
            &text_el("h3", "tp-question", &[], &t("help.sent_title"))?,
            &text_el("p", "tp-message", &[], &t("help.sent_body"))?,
        ],
    )?;
    let back = text_el(
        "button",
        "tp-secondary",
        &[("type", "button"), ("data-tp-act", "home"), ("data-tp-focus", "")],
        &t("help.back"),
    )?;
    Ok(vec![status, back])
}

/// A Markdown block as DOM: only these elements, text as text nodes.
fn block(b: Block) -> Result<Element> {
    Ok(match b {
        Block::Heading(level, x) => inlines(el(if level <= 2 { "h4" } else { "h5" }, "", &[])?, x)?,
        Block::Paragraph(x) => inlines(el("p", "", &[])?, x)?,
        Block::List { ordered, items } => {
            let list = el(if ordered { "ol" } else { "ul" }, "", &[])?;
            for i in items {
                push(&list, inlines(el("li", "", &[])?, i))?;
            }
            list
        }
        Block::Code(c) => with(el("pre", "", &[])?, &[&text_el("code", "", &[], &c)?])?,
    })
}

/// Appends `xs` to `parent`, returning it.
fn inlines(parent: Element, xs: Vec<Inline>) -> Result<Element> {
    for x in xs {
        match x {
            Inline::Text(s) => parent.append_with_str_1(&s)?,
            Inline::Emph(c) => {
                push(&parent, inlines(el("em", "", &[])?, c))?;
            }
            Inline::Strong(c) => {
                push(&parent, inlines(el("strong", "", &[])?, c))?;
            }
            Inline::Code(s) => {
                push(&parent, text_el("code", "", &[], &s))?;
            }
            // Opens beside the app; noopener so the article cannot reach back into the page.
            Inline::Link { href, children } if href::allowed(&href, Use::Link) => {
                let a = el("a", "", &[("href", &href), ("target", "_blank"), ("rel", "noopener noreferrer")])?;
                push(&parent, inlines(a, children))?;
            }
            // A link that would lead elsewhere keeps its text, as the Markdown reader does.
            Inline::Link { children, .. } => {
                push(&parent, inlines(el("span", "", &[])?, children))?;
            }
            Inline::Image { alt, src } if href::allowed(&src, Use::Source) => {
                push(&parent, el("img", "", &[("src", &src), ("alt", &alt), ("loading", "lazy")]))?;
            }
            Inline::Image { alt, .. } => parent.append_with_str_1(&alt)?,
        }
    }
    Ok(parent)
}
