//! The checklist's panel: a header with progress, and items that expand to
//! their description and call to action. Text from the definition goes in
//! as text only; CTA links were checked to be http(s) or paths, and are
//! checked again as they are written (`href`).

use std::collections::BTreeMap;
use std::sync::Arc;

use touchpoint_core::checklist::{Checklist, Contributor, Cta, Progress, Scope};
use wasm_bindgen::JsCast;
use web_sys::Element;

use crate::dom::{el, push, text_el, with, Result};
use crate::host::{t, tf};
use crate::href::{self, Use};

/// What the panel shows of the user's progress (`checklist::panel_state`).
#[derive(PartialEq, Default)]
pub struct State {
    pub progress: Progress,
    pub dismissed: bool,
    /// Account-level items: who in the account did them (from the collector).
    pub by: BTreeMap<String, Vec<Contributor>>,
}

pub struct ChecklistView {
    pub section: Element,
    checklist: Arc<Checklist>,
    state: State,
    open: bool,
    expanded: Option<String>,
    count: Element,
    bar: Element,
    fill: web_sys::HtmlElement,
    celebrate: Element,
    items: Vec<ItemView>,
}

struct ItemView {
    id: String,
    li: Element,
    toggle: Element,
    check: Element,
    sr: Element,
    who: Option<Element>,
    detail: Element,
}

impl ChecklistView {
    pub fn build(checklist: Arc<Checklist>) -> Result<ChecklistView> {
        let total = checklist.items.len().to_string();
        let icon = |label: &str, act: &str, glyph: &str| {
            text_el("button", "tp-icon", &[("type", "button"), ("aria-label", label), ("data-tp-act", act)], glyph)
        };
        let head = with(
            el("header", "tp-cl-head", &[])?,
            &[
                &text_el("h2", "tp-question", &[("id", "tp-cl-title")], &checklist.title)?,
                &icon(&t("checklist.minimise"), "close", "–")?,
                &icon(&t("checklist.dismiss"), "dismiss", "×")?,
            ],
        )?;
        let count = el("p", "tp-cl-count", &[("aria-live", "polite")])?;
        let fill: web_sys::HtmlElement = el("span", "", &[])?.unchecked_into();
        let bar = with(
            el(
                "div",
                "tp-cl-bar",
                &[
                    ("role", "progressbar"),
                    ("aria-label", &t("checklist.progress")),
                    ("aria-valuemin", "0"),
                    ("aria-valuemax", &total),
                ],
            )?,
            &[&fill],
        )?;
        let celebrate = with(
            el("p", "tp-cl-celebrate", &[("role", "status"), ("hidden", "")])?,
            &[&text_el("span", "tp-cl-badge", &[("aria-hidden", "true")], "✓")?],
        )?;
        celebrate.append_with_str_1(&t("checklist.all_set"))?;
        let list = el("ul", "tp-cl-items", &[])?;
        let mut items = Vec::with_capacity(checklist.items.len());
        for item in &checklist.items {
            let toggle = el(
                "button",
                "tp-cl-toggle",
                &[("type", "button"), ("data-tp-act", "toggle"), ("data-tp-id", &item.id)],
            )?;
            let check = el("span", "tp-cl-check", &[("aria-hidden", "true")])?;
            let sr = el("span", "tp-sr", &[])?;
            with(toggle.clone(), &[&check, &text_el("span", "tp-cl-title", &[], &item.title)?, &sr])?;
            let li = with(el("li", "tp-cl-item", &[])?, &[&toggle])?;
            // Account-level items say who in the account did them.
            let who = if item.scope == Scope::Account {
                let p = el("p", "tp-cl-who", &[("hidden", "")])?;
                li.append_child(&p)?;
                Some(p)
            } else {
                None
            };
            let detail = el("div", "tp-cl-detail", &[("hidden", "")])?;
            if let Some(d) = &item.description {
                push(&detail, text_el("p", "tp-message", &[], d))?;
            }
            match item.cta.as_ref().filter(|c| cta_allowed(c)) {
                Some(Cta::Url { label, url }) => {
                    push(&detail, text_el("a", "tp-primary tp-cta", &[("href", url), ("rel", "noopener")], label))?;
                }
                Some(Cta::Callback { label, name }) => {
                    let attrs =
                        [("type", "button"), ("data-tp-act", "cta"), ("data-tp-id", &item.id), ("data-tp-name", name)];
                    push(&detail, text_el("button", "tp-primary tp-cta", &attrs, label))?;
                }
                None => {}
            }
            li.append_child(&detail)?;
            list.append_child(&li)?;
            items.push(ItemView { id: item.id.clone(), li, toggle, check, sr, who, detail });
        }
        let section = with(
            el(
                "section",
                "tp-panel tp-cl-panel",
                &[("role", "region"), ("aria-labelledby", "tp-cl-title"), ("hidden", "")],
            )?,
            &[&head, &count, &bar, &celebrate, &list],
        )?;
        let view = ChecklistView {
            section,
            checklist,
            state: State::default(),
            open: false,
            expanded: None,
            count,
            bar,
            fill,
            celebrate,
            items,
        };
        view.paint();
        Ok(view)
    }

    /// The user's progress now; only a change touches the DOM (most
    /// `track()` calls change nothing the panel shows).
    pub fn show(&mut self, state: State, open: bool) {
        if state != self.state || open != self.open {
            self.state = state;
            self.open = open;
            self.paint();
        }
    }

    pub fn set_open(&mut self, open: bool) {
        if open != self.open {
            self.open = open;
            self.paint();
        }
    }

    /// Expands item `id`, or folds it if it is the one expanded.
    pub fn toggle(&mut self, id: &str) {
        self.expanded = if self.expanded.as_deref() == Some(id) { None } else { Some(id.to_owned()) };
        self.paint();
    }

    fn paint(&self) {
        let total = self.items.len();
        let done = self.state.progress.done(&self.checklist);
        let _ = self.section.toggle_attribute_with_force("hidden", self.state.dismissed || !self.open);
        let (done_s, total_s) = (done.to_string(), total.to_string());
        self.count.set_text_content(Some(&tf("checklist.count", &[("done", &done_s), ("total", &total_s)])));
        let _ = self.bar.set_attribute("aria-valuenow", &done_s);
        let mut width = (done * 100 / total.max(1)).to_string();
        width.push('%');
        // Through the CSSOM, which a style-src policy without 'unsafe-inline' allows.
        let _ = self.fill.style().set_property("width", &width);
        let _ = self.celebrate.toggle_attribute_with_force("hidden", done != total);
        for item in &self.items {
            let is_done = self.state.progress.completed.contains_key(&item.id);
            let is_open = self.expanded.as_deref() == Some(item.id.as_str());
            let _ = item.li.class_list().toggle_with_force("tp-done", is_done);
            let _ = item.toggle.set_attribute("aria-expanded", if is_open { "true" } else { "false" });
            item.check.set_text_content(Some(if is_done { "✓" } else { "" }));
            item.sr.set_text_content(Some(&t(if is_done { "checklist.done" } else { "checklist.todo" })));
            let _ = item.detail.toggle_attribute_with_force("hidden", !is_open);
            if let Some(who) = &item.who {
                let names = self.state.by.get(&item.id).map(|list| names(list)).unwrap_or_default();
                let _ = who.toggle_attribute_with_force("hidden", names.is_empty());
                who.set_text_content(Some(&tf("checklist.by_team", &[("names", &names)])));
            }
        }
    }
}

/// "ada ×2, grace ×1".
fn names(list: &[Contributor]) -> String {
    let mut out = String::new();
    for c in list {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&c.user_id);
        out.push_str(" ×");
        out.push_str(&c.count.to_string());
    }
    out
}

/// A call to action shows only with a link that stays on the web or on this
/// site (never `//elsewhere` or `/\elsewhere`).
fn cta_allowed(cta: &Cta) -> bool {
    match cta {
        Cta::Url { url, .. } => href::allowed(url, Use::Link),
        Cta::Callback { .. } => true,
    }
}
