//! The card on the page. Text from the definition is always inserted as
//! text nodes or attribute values, never parsed as HTML. One listener per
//! event type sits on the card and finds what was clicked by its
//! `data-tp-act`, so re-rendering a step attaches nothing and leaks nothing.

use crate::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::form::{Ending, Form, Kind, Question, To};
use super::session::{Answer, Refused, Session};
use crate::browser::dom::{self, el, text_el, with};
use crate::browser::{self};
use crate::shell::{self, Corner, Theme};
use crate::strings::Strings;
use crate::text::{cat, num};

/// What happened on the card, for the app to record. In order: `Shown`
/// first (after the card's first frame, or at once if an answer or a close
/// comes first), `Closed` last.
pub enum Happened {
    Shown,
    Answered {
        question_id: String,
        answer: Answer,
    },
    Completed {
        ending_id: String,
        actions: String,
    },
    /// Closed before an ending, at `question_id`.
    Dismissed {
        question_id: String,
    },
    /// Off the page: the screen is free.
    Closed,
}

/// Where the card's happenings go: `(survey_id, response_id, what)`.
pub type Sink = Rc<dyn Fn(&str, &str, Happened)>;

/// The survey on screen (a handle; clones share it).
#[derive(Clone)]
pub struct Card(Rc<RefCell<Inner>>);

struct Inner {
    host: Element,
    root: Element,
    /// The current question's or ending's element.
    step: Option<Element>,
    error: Element,
    back: Element,
    form: Rc<Form>,
    strings: Rc<Strings>,
    /// Groups this showing's events; an answer changed after going back replaces the earlier one.
    response_id: String,
    session: Session,
    /// Closed (by the user or `hide()`): its events were sent; it leaves at the next task.
    closed: bool,
    /// [`Happened::Shown`] went out.
    shown_sent: bool,
    sink: Sink,
    _listeners: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Card {
    /// Puts `form` on screen. `Shown` follows once it is painted.
    pub fn show(
        form: Rc<Form>,
        theme: &Theme,
        strings: Rc<Strings>,
        response_id: String,
        sink: Sink,
    ) -> Result<Card, String> {
        let fail = |e: String| cat(&["could not add the survey to the page: ", &e]);
        let (host, container) = shell::mount(Corner::Survey, theme, &strings).map_err(fail)?;
        let card =
            build(host, &container, form, strings, response_id, sink).map_err(|e| fail(browser::describe(&e)))?;
        card.render(None, false);
        // The card needs neither the event (queueing, storage) nor the host's
        // listeners for its first frame: they wait for it.
        let later = card.clone();
        browser::after_next_paint(move || later.send_shown());
        Ok(card)
    }

    pub fn survey_id(&self) -> String {
        self.0.borrow().form.id.clone()
    }

    pub fn response_id(&self) -> String {
        self.0.borrow().response_id.clone()
    }

    /// Still taking answers (not closed).
    pub fn is_open(&self) -> bool {
        !self.0.borrow().closed
    }

    /// Closes the card (its close button, Escape, the ending's button or
    /// `hide()`); before an ending that is a dismissal.
    pub fn dismiss(&self) {
        self.send_shown();
        let at = {
            let mut c = self.0.borrow_mut();
            if c.closed {
                return;
            }
            c.closed = true;
            c.session.question(&c.form).map(|q| q.id.clone())
        };
        if let Some(question_id) = at {
            self.tell(Happened::Dismissed { question_id });
        }
        // In a fresh task: this is often called from the card's own handlers.
        let this = self.clone();
        browser::set_timeout(0, move || {
            this.0.borrow().host.remove();
            this.tell(Happened::Closed);
        });
    }

    /// Sends `what` to the sink with no borrow of the card held (the sink
    /// may ask the card what is on screen).
    fn tell(&self, what: Happened) {
        let (sink, survey_id, response_id) = {
            let c = self.0.borrow();
            (c.sink.clone(), c.form.id.clone(), c.response_id.clone())
        };
        sink(&survey_id, &response_id, what);
    }

    fn send_shown(&self) {
        let first = !std::mem::replace(&mut self.0.borrow_mut().shown_sent, true);
        if first {
            self.tell(Happened::Shown);
        }
    }

    fn on_click(&self, ev: web_sys::Event) {
        let Some(act) = dom::closest_attribute(ev.target(), "data-tp-act") else { return };
        match crate::text::split_once(&act, b':') {
            Some(("score", n)) => {
                if let Some(n) = crate::text::parse_u32(n).and_then(|n| u8::try_from(n).ok()) {
                    self.answer(Answer::Score(n));
                }
            }
            Some(("choice", i)) => {
                let id = {
                    let c = self.0.borrow();
                    let i = crate::text::parse_u32(i).unwrap_or(u32::MAX) as usize;
                    match c.session.question(&c.form).map(|q| &q.kind) {
                        Some(Kind::Single(choices)) => choices.get(i).map(|c| c.id.clone()),
                        _ => None,
                    }
                };
                if let Some(id) = id {
                    self.answer(Answer::Text(id));
                }
            }
            _ if act == "back" => self.back(),
            _ if act == "close" => self.dismiss(),
            _ => {}
        }
    }

    fn on_submit(&self, ev: web_sys::Event) {
        ev.prevent_default();
        let value = {
            let c = self.0.borrow();
            let form = ev.target().and_then(|t| t.dyn_into::<Element>().ok());
            match (c.session.question(&c.form).map(|q| &q.kind), form) {
                (Some(Kind::Multi(choices)), Some(form)) => {
                    // In the definition's order, not the order clicked.
                    let boxes = form.query_selector_all("input[type=checkbox]").ok();
                    boxes.map(|boxes| {
                        let picked = (0..boxes.length())
                            .filter_map(|i| boxes.item(i)?.dyn_into::<web_sys::HtmlInputElement>().ok())
                            .zip(choices)
                            .filter(|(b, _)| b.checked())
                            .map(|(_, c)| c.id.clone())
                            .collect();
                        Answer::Choices(picked)
                    })
                }
                (Some(Kind::Text { .. }), Some(form)) => form
                    .query_selector("textarea")
                    .ok()
                    .flatten()
                    .and_then(|a| a.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
                    .map(|a| Answer::Text(a.value())),
                _ => None,
            }
        };
        if let Some(value) = value {
            self.answer(value);
        }
    }

    /// Records `answer` to the current question and moves on.
    fn answer(&self, answer: Answer) {
        if !self.is_open() {
            return;
        }
        self.send_shown();
        let outcome = {
            let mut c = self.0.borrow_mut();
            let c = &mut *c;
            let Some(question_id) = c.session.question(&c.form).map(|q| q.id.clone()) else { return };
            match c.session.answer(&c.form, answer.clone()) {
                Ok(To::Ending(i)) => {
                    Ok((question_id, c.form.endings.get(i).map(|e| (e.id.clone(), e.actions.clone()))))
                }
                Ok(To::Question(_)) => Ok((question_id, None)),
                Err(Refused::EmptyText) => Err(c.strings.get("survey.need_text")),
                Err(Refused::NothingChosen) => Err(c.strings.get("survey.need_choice")),
                Err(Refused::Invalid) => Err(cat(&["this answer does not fit question ", &question_id])),
            }
        };
        match outcome {
            Err(message) => self.set_error(Some(&message)),
            Ok((question_id, ending)) => {
                self.tell(Happened::Answered { question_id, answer });
                if let Some((ending_id, actions)) = ending {
                    self.tell(Happened::Completed { ending_id, actions });
                }
                self.render(None, true);
            }
        }
    }

    fn back(&self) {
        let previous = self.0.borrow_mut().session.back();
        if let Some(previous) = previous {
            self.render(Some(previous), true);
        }
    }

    fn set_error(&self, message: Option<&str>) {
        self.0.borrow().error.set_text_content(message);
    }

    /// Shows the session's current step; `prefill` is the answer to show as
    /// given (after going back). `focus`: move focus to the new step so keyboard
    /// and screen-reader users continue where they are — never on first show,
    /// where the card must not steal focus from the host page.
    fn render(&self, prefill: Option<Answer>, focus: bool) {
        let c = &mut *self.0.borrow_mut();
        let result = (|| -> dom::Result<()> {
            let node = match c.session.at() {
                To::Question(i) => match c.form.questions.get(i) {
                    Some(q) => question_view(q, prefill, &c.strings)?,
                    None => return Ok(()),
                },
                To::Ending(i) => match c.form.endings.get(i) {
                    Some(e) => ending_view(e, &c.strings)?,
                    None => return Ok(()),
                },
            };
            match c.step.replace(node.clone()) {
                Some(old) => old.replace_with_with_node_1(&node)?,
                None => {
                    c.root.insert_before(&node, Some(&c.error))?;
                }
            }
            c.error.set_text_content(None);
            if c.session.can_go_back() && matches!(c.session.at(), To::Question(_)) {
                c.root.append_child(&c.back)?;
            } else {
                c.back.remove();
            }
            if focus {
                let root = c.root.clone();
                browser::set_timeout(0, move || {
                    let target = root.query_selector("[data-tp-focus]").ok().flatten();
                    if let Some(el) = target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
                        let _ = el.focus();
                    }
                });
            }
            Ok(())
        })();
        if let Err(e) = result {
            browser::error(&cat(&["the survey could not be shown: ", &browser::describe(&e)]));
        }
    }
}

fn build(
    host: Element,
    container: &web_sys::HtmlElement,
    form: Rc<Form>,
    strings: Rc<Strings>,
    response_id: String,
    sink: Sink,
) -> dom::Result<Card> {
    let root = el("div", "tp-card", &[("role", "dialog"), ("aria-modal", "false"), ("aria-labelledby", "tp-q")])?;
    let close = text_el(
        "button",
        "tp-close",
        &[("type", "button"), ("aria-label", &strings.get("survey.close_label")), ("data-tp-act", "close")],
        "×",
    )?;
    let error = el("p", "tp-error", &[("role", "alert")])?;
    let back =
        text_el("button", "tp-back", &[("type", "button"), ("data-tp-act", "back")], &strings.get("survey.back"))?;
    let root = with(root, &[&close, &error])?;
    container.append_child(&root)?;
    let card = Card(Rc::new(RefCell::new(Inner {
        host,
        root: root.clone(),
        step: None,
        error,
        back,
        form,
        strings,
        response_id,
        session: Session::default(),
        closed: false,
        shown_sent: false,
        sink,
        _listeners: Vec::new(),
    })));
    let weak = Rc::downgrade(&card.0);
    let handler = |f: fn(&Card, web_sys::Event)| {
        let weak = weak.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
            if let Some(inner) = weak.upgrade() {
                f(&Card(inner), ev);
            }
        })
    };
    let mut listeners = Vec::new();
    for (kind, f) in [
        ("click", Card::on_click as fn(&Card, web_sys::Event)),
        ("submit", Card::on_submit),
        ("keydown", |card: &Card, ev: web_sys::Event| {
            if ev.dyn_ref::<web_sys::KeyboardEvent>().is_some_and(|k| k.key() == "Escape") {
                ev.stop_propagation();
                card.dismiss();
            }
        }),
        ("input", |card: &Card, _| card.set_error(None)),
    ] {
        let closure = handler(f);
        root.add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())?;
        listeners.push(closure);
    }
    card.0.borrow_mut()._listeners = listeners;
    Ok(card)
}

fn question_view(q: &Question, prefill: Option<Answer>, strings: &Strings) -> dom::Result<Element> {
    let legend = || text_el("legend", "tp-question", &[("id", "tp-q")], &q.text);
    match &q.kind {
        Kind::Score { min, max, low, high } => {
            let (first, last) = (*min, *max);
            let selected = match prefill {
                Some(Answer::Score(s)) => Some(s),
                _ => None,
            };
            let scores = el("div", "tp-scores", &[])?;
            // Through CSSOM, not a `style` attribute: allowed under a strict CSP.
            // On a phone a scale longer than 7 takes two rows (card.css), so each button stays wide enough for a finger.
            if let Some(s) = scores.dyn_ref::<web_sys::HtmlElement>() {
                let n = u64::from(last - first) + 1;
                s.style().set_property("--n", &num(n))?;
                s.style().set_property("--n2", &num(if n > 7 { n.div_ceil(2) } else { n }))?;
            }
            let last_text = num(u64::from(last));
            for n in first..=last {
                let n_text = num(u64::from(n));
                let base = strings.fill("survey.score_label", &[("n", &n_text), ("max", &last_text)]);
                let label = match (n, low, high) {
                    (n, Some(l), _) if n == first => cat(&[&base, ", ", l]),
                    (n, _, Some(h)) if n == last => cat(&[&base, ", ", h]),
                    _ => base,
                };
                let act = cat(&["score:", &n_text]);
                let pressed = if selected == Some(n) { "true" } else { "false" };
                let b = text_el(
                    "button",
                    "tp-score",
                    &[("type", "button"), ("aria-label", &label), ("aria-pressed", pressed), ("data-tp-act", &act)],
                    &n_text,
                )?;
                if n == first {
                    b.set_attribute("data-tp-focus", "")?;
                }
                scores.append_child(&b)?;
            }
            let labels = with(
                el("div", "tp-scale-labels", &[("aria-hidden", "true")])?,
                &[
                    &text_el("span", "", &[], low.as_deref().unwrap_or(""))?,
                    &text_el("span", "", &[], high.as_deref().unwrap_or(""))?,
                ],
            )?;
            with(el("fieldset", "tp-fieldset", &[])?, &[&legend()?, &scores, &labels])
        }
        Kind::Single(choices) => {
            let selected = match prefill {
                Some(Answer::Text(t)) => Some(t),
                _ => None,
            };
            let list = el("div", "tp-choices", &[])?;
            for (i, c) in choices.iter().enumerate() {
                let pressed = if selected.as_deref() == Some(c.id.as_str()) { "true" } else { "false" };
                let act = cat(&["choice:", &num(i as u64)]);
                let b = text_el(
                    "button",
                    "tp-choice",
                    &[("type", "button"), ("aria-pressed", pressed), ("data-tp-act", &act)],
                    &c.label,
                )?;
                if i == 0 {
                    b.set_attribute("data-tp-focus", "")?;
                }
                list.append_child(&b)?;
            }
            with(el("fieldset", "tp-fieldset", &[])?, &[&legend()?, &list])
        }
        Kind::Multi(choices) => {
            let picked = match prefill {
                Some(Answer::Choices(c)) => c,
                _ => Vec::new(),
            };
            let list = el("div", "tp-choices", &[])?;
            for (i, c) in choices.iter().enumerate() {
                let input = el("input", "", &[("type", "checkbox")])?;
                if i == 0 {
                    input.set_attribute("data-tp-focus", "")?;
                }
                if let Some(input) = input.dyn_ref::<web_sys::HtmlInputElement>() {
                    input.set_checked(picked.contains(&c.id));
                }
                let label = with(el("label", "tp-check", &[])?, &[&input, &text_el("span", "", &[], &c.label)?])?;
                list.append_child(&label)?;
            }
            let fieldset = with(el("fieldset", "tp-fieldset", &[])?, &[&legend()?, &list])?;
            let next = text_el("button", "tp-primary", &[("type", "submit")], &strings.get("survey.next"))?;
            with(el("form", "tp-form", &[])?, &[&fieldset, &next])
        }
        Kind::Text { optional, placeholder } => {
            let label = text_el("label", "tp-question", &[("id", "tp-q"), ("for", "tp-text")], &q.text)?;
            let area = el(
                "textarea",
                "tp-text",
                &[("id", "tp-text"), ("rows", "3"), ("maxlength", "2000"), ("data-tp-focus", "")],
            )?;
            if let Some(p) = placeholder {
                area.set_attribute("placeholder", p)?;
            }
            if *optional {
                area.set_attribute("aria-describedby", "tp-hint")?;
            }
            if let (Some(Answer::Text(previous)), Some(a)) = (prefill, area.dyn_ref::<web_sys::HtmlTextAreaElement>()) {
                a.set_value(&previous);
            }
            let hint = if *optional { strings.get("survey.optional") } else { String::new() };
            let row = with(
                el("div", "tp-row", &[])?,
                &[
                    &text_el("span", "tp-hint", &[("id", "tp-hint")], &hint)?,
                    &text_el("button", "tp-primary", &[("type", "submit")], &strings.get("survey.send"))?,
                ],
            )?;
            with(el("form", "tp-form", &[])?, &[&label, &area, &row])
        }
    }
}

fn ending_view(e: &Ending, strings: &Strings) -> dom::Result<Element> {
    let title = e.title.clone().unwrap_or_else(|| strings.get("survey.thank_you"));
    with(
        el("div", "tp-ending", &[])?,
        &[
            &text_el("h2", "tp-question", &[("id", "tp-q"), ("tabindex", "-1"), ("data-tp-focus", "")], &title)?,
            &text_el("p", "tp-message", &[], &e.message)?,
            &text_el(
                "button",
                "tp-primary",
                &[("type", "button"), ("data-tp-act", "close")],
                &strings.get("survey.close"),
            )?,
        ],
    )
}
