//! The survey card: one question (or the ending) at a time, with back and
//! close. Text from the definition is always inserted as text nodes or
//! attribute values, never parsed as HTML.
//!
//! Built with plain DOM calls: it is the first thing a page shows, and this
//! module carries no view framework. One listener per event type sits on the
//! card and finds what was clicked by its `data-tp-act`, so re-rendering a
//! step attaches nothing and leaks nothing.

use std::cell::RefCell;
use std::sync::Arc;

use touchpoint_core::survey::{AnswerError, Ending, Question, QuestionKind, Session, Step, Survey};
use touchpoint_protocol::{AnswerValue, EventKind};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::dom::{self, el, text_el, with};
use super::{shadow_host, t, tf, Corner};
use crate::{browser, sdk};

/// The survey on screen.
struct Card {
    host: Element,
    root: Element,
    /// The current question's or ending's element.
    step: Option<Element>,
    error: Element,
    back: Element,
    survey_id: String,
    /// Groups this showing's events; an answer changed after going back replaces the earlier one.
    response_id: String,
    session: Session,
    /// Closed (by the user or `hide()`): its events were sent; it leaves at the next task.
    closed: bool,
    /// `survey_shown` went out (see [`send_shown`]).
    shown_sent: bool,
    _listeners: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

thread_local! {
    static CARD: RefCell<Option<Card>> = const { RefCell::new(None) };
}

pub fn survey_on_screen() -> bool {
    CARD.with(|c| c.borrow().is_some())
}

pub fn survey_on_screen_id() -> Option<String> {
    CARD.with(|c| c.borrow().as_ref().map(|c| c.survey_id.clone()))
}

/// Shows `survey`. Posts `survey_shown` once it is painted, `survey_answered`
/// as soon as each answer is given, `survey_completed` at an ending,
/// `survey_dismissed` when closed before one.
pub fn show_survey(survey: Arc<Survey>) -> Result<(), String> {
    let (host, container) =
        shadow_host("survey", Corner::Survey).map_err(|e| format!("could not add the survey to the page: {e}"))?;
    let survey_id = survey.id().to_owned();
    let response_id = browser::uuid();
    let card = build(host, &container, Session::new(survey), survey_id, response_id)
        .map_err(|e| format!("could not add the survey to the page: {}", browser::describe(&e)))?;
    CARD.with(|c| *c.borrow_mut() = Some(card));
    render(None, false);
    // The card needs neither the event (queueing, targeting's facts, storage)
    // nor the host's listeners: they wait for its first frame.
    browser::after_next_paint(send_shown);
    Ok(())
}

/// `survey_shown` and `on('survey:shown')`, once per showing: after the
/// card's first frame, or at once if an answer or a close comes first, so
/// the events stay in order.
fn send_shown() {
    let ids = CARD.with(|c| {
        let mut c = c.borrow_mut();
        let card = c.as_mut().filter(|c| !c.shown_sent)?;
        card.shown_sent = true;
        Some((card.survey_id.clone(), card.response_id.clone()))
    });
    if let Some((survey_id, response_id)) = ids {
        crate::bus::dispatch_json(
            "survey:shown",
            &serde_json::json!({ "surveyId": survey_id, "responseId": response_id }),
        );
        sdk::emit(EventKind::SurveyShown { survey_id, response_id });
    }
}

fn build(
    host: Element,
    container: &web_sys::HtmlElement,
    session: Session,
    survey_id: String,
    response_id: String,
) -> dom::Result<Card> {
    let root = el("div", "tp-card", &[("role", "dialog"), ("aria-modal", "false"), ("aria-labelledby", "tp-q")])?;
    let close = text_el(
        "button",
        "tp-close",
        &[("type", "button"), ("aria-label", &t("survey.close_label")), ("data-tp-act", "close")],
        "×",
    )?;
    let error = el("p", "tp-error", &[("role", "alert")])?;
    let back = text_el("button", "tp-back", &[("type", "button"), ("data-tp-act", "back")], &t("survey.back"))?;
    let root = with(root, &[&close, &error])?;
    container.append_child(&root)?;
    let mut listeners = Vec::new();
    for (kind, handler) in [
        ("click", on_click as fn(web_sys::Event)),
        ("submit", on_submit),
        ("keydown", on_keydown),
        ("input", |_| set_error(None)),
    ] {
        let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
        root.add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())?;
        listeners.push(closure);
    }
    Ok(Card {
        host,
        root,
        step: None,
        error,
        back,
        survey_id,
        response_id,
        session,
        closed: false,
        shown_sent: false,
        _listeners: listeners,
    })
}

fn on_click(ev: web_sys::Event) {
    let Some(act) = dom::closest_attribute(ev.target(), "data-tp-act") else { return };
    match act.split_once(':') {
        Some(("score", n)) => {
            if let Ok(n) = n.parse() {
                answer(AnswerValue::Score(n));
            }
        }
        Some(("choice", i)) => {
            let id = i.parse::<usize>().ok().and_then(|i| {
                with_card(|c| match c.session.current_question().map(Question::kind) {
                    Some(QuestionKind::SingleChoice { choices }) => choices.get(i).map(|c| c.id.clone()),
                    _ => None,
                })
                .flatten()
            });
            if let Some(id) = id {
                answer(AnswerValue::Text(id));
            }
        }
        _ if act == "back" => back(),
        _ if act == "close" => dismiss(),
        _ => {}
    }
}

fn on_submit(ev: web_sys::Event) {
    ev.prevent_default();
    let value = with_card(|c| {
        let form = ev.target()?.dyn_into::<Element>().ok()?;
        match c.session.current_question()?.kind() {
            QuestionKind::MultiChoice { choices } => {
                // In the definition's order, not the order clicked.
                let boxes = form.query_selector_all("input[type=checkbox]").ok()?;
                let picked = (0..boxes.length())
                    .filter_map(|i| boxes.item(i)?.dyn_into::<web_sys::HtmlInputElement>().ok())
                    .zip(choices)
                    .filter(|(b, _)| b.checked())
                    .map(|(_, c)| c.id.clone())
                    .collect();
                Some(AnswerValue::Choices(picked))
            }
            QuestionKind::Text { .. } => {
                let area = form.query_selector("textarea").ok()??.dyn_into::<web_sys::HtmlTextAreaElement>().ok()?;
                Some(AnswerValue::Text(area.value()))
            }
            _ => None,
        }
    })
    .flatten();
    if let Some(value) = value {
        answer(value);
    }
}

fn on_keydown(ev: web_sys::Event) {
    if ev.dyn_ref::<web_sys::KeyboardEvent>().is_some_and(|k| k.key() == "Escape") {
        ev.stop_propagation();
        dismiss();
    }
}

fn with_card<T>(f: impl FnOnce(&mut Card) -> T) -> Option<T> {
    CARD.with(|c| c.borrow_mut().as_mut().filter(|c| !c.closed).map(f))
}

/// Records `value` as the answer to the current question and moves on.
/// Events are emitted with no borrow of the card held: emitting runs the
/// targeting rules, which ask what is on screen.
fn answer(value: AnswerValue) {
    send_shown();
    let outcome = with_card(|c| {
        let question_id = c.session.current_question()?.id().to_owned();
        let mut next = c.session.clone();
        Some(match next.answer(value.clone()) {
            Ok(step) => {
                let ending = match step {
                    Step::Ending(e) => Some((e.id().to_owned(), e.actions().to_vec())),
                    Step::Question(_) => None,
                };
                c.session = next;
                Ok((c.survey_id.clone(), c.response_id.clone(), question_id, ending))
            }
            Err(e) => Err(user_message(&e)),
        })
    })
    .flatten();
    let (survey_id, response_id, question_id, ending) = match outcome {
        Some(Ok(o)) => o,
        Some(Err(message)) => return set_error(Some(&message)),
        None => return,
    };
    sdk::emit(EventKind::SurveyAnswered {
        survey_id: survey_id.clone(),
        response_id: response_id.clone(),
        question_id,
        value,
    });
    if let Some((ending_id, actions)) = ending {
        let payload = serde_json::json!({ "surveyId": survey_id, "endingId": ending_id, "actions": actions });
        crate::bus::dispatch_json("survey:completed", &payload);
        sdk::emit(EventKind::SurveyCompleted { survey_id, response_id, ending_id, actions });
    }
    render(None, true);
}

fn back() {
    let previous = with_card(|c| c.session.back()).flatten();
    if let Some(previous) = previous {
        render(Some(previous), true);
    }
}

/// Closes the card (its close button, Escape, the ending's button or
/// `hide()`); before an ending that is a `survey_dismissed`.
pub fn dismiss() {
    send_shown();
    let closing = CARD.with(|c| {
        let mut c = c.borrow_mut();
        let card = c.as_mut().filter(|c| !c.closed)?;
        card.closed = true;
        let at = card.session.current_question().map(|q| q.id().to_owned());
        Some((card.survey_id.clone(), card.response_id.clone(), at))
    });
    let Some((survey_id, response_id, at)) = closing else { return };
    if let Some(question_id) = at {
        crate::bus::dispatch_json(
            "survey:dismissed",
            &serde_json::json!({ "surveyId": survey_id, "questionId": question_id }),
        );
        sdk::emit(EventKind::SurveyDismissed { survey_id, response_id, question_id });
    }
    close_survey();
}

/// Removes the survey in a fresh task: it is called from the card's own
/// event handlers, which must finish first.
pub fn close_survey() {
    browser::set_timeout(0, || {
        if let Some(card) = CARD.with(|c| c.borrow_mut().take()) {
            card.host.remove();
        }
        // The screen is free: another survey may be due (cooldowns permitting).
        crate::targeting::decide();
    });
}

fn set_error(message: Option<&str>) {
    with_card(|c| c.error.set_text_content(message));
}

fn user_message(e: &AnswerError) -> String {
    match e {
        AnswerError::EmptyText { .. } => t("survey.need_text"),
        AnswerError::NothingChosen { .. } => t("survey.need_choice"),
        other => other.to_string(),
    }
}

/// Shows the session's current step; `prefill` is the answer to show as
/// given (after going back). `focus`: move focus to the new step so keyboard
/// and screen-reader users continue where they are — never on first show,
/// where the card must not steal focus from the host page.
fn render(prefill: Option<AnswerValue>, focus: bool) {
    let result = with_card(|c| -> dom::Result<()> {
        let node = match c.session.step() {
            Step::Question(q) => question_view(q, prefill)?,
            Step::Ending(e) => ending_view(e)?,
        };
        match c.step.replace(node.clone()) {
            Some(old) => old.replace_with_with_node_1(&node)?,
            None => {
                c.root.insert_before(&node, Some(&c.error))?;
            }
        }
        c.error.set_text_content(None);
        if c.session.can_go_back() && c.session.current_question().is_some() {
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
    });
    if let Some(Err(e)) = result {
        browser::error(&format!("the survey could not be shown: {}", browser::describe(&e)));
    }
}

fn question_view(q: &Question, prefill: Option<AnswerValue>) -> dom::Result<Element> {
    let legend = || text_el("legend", "tp-question", &[("id", "tp-q")], q.text());
    match q.kind() {
        QuestionKind::Nps { low_label, high_label } | QuestionKind::Rating { low_label, high_label, .. } => {
            let Some(scale) = q.kind().scale() else { return Err(JsValue::from_str("a score question has no scale")) };
            let (first, last) = (*scale.start(), *scale.end());
            let selected = match prefill {
                Some(AnswerValue::Score(s)) => Some(s),
                _ => None,
            };
            let scores = el("div", "tp-scores", &[])?;
            // Through CSSOM, not a `style` attribute: allowed under a strict CSP.
            if let Some(s) = scores.dyn_ref::<web_sys::HtmlElement>() {
                let columns = format!("repeat({}, minmax(0, 1fr))", last - first + 1);
                s.style().set_property("grid-template-columns", &columns)?;
            }
            for n in scale {
                let base = tf("survey.score_label", &[("n", &n.to_string()), ("max", &last.to_string())]);
                let label = match (n, low_label, high_label) {
                    (n, Some(l), _) if n == first => format!("{base}, {l}"),
                    (n, _, Some(h)) if n == last => format!("{base}, {h}"),
                    _ => base,
                };
                let act = format!("score:{n}");
                let pressed = if selected == Some(n) { "true" } else { "false" };
                let b = text_el(
                    "button",
                    "tp-score",
                    &[("type", "button"), ("aria-label", &label), ("aria-pressed", pressed), ("data-tp-act", &act)],
                    &n.to_string(),
                )?;
                if n == first {
                    b.set_attribute("data-tp-focus", "")?;
                }
                scores.append_child(&b)?;
            }
            let labels = with(
                el("div", "tp-scale-labels", &[("aria-hidden", "true")])?,
                &[
                    &text_el("span", "", &[], low_label.as_deref().unwrap_or(""))?,
                    &text_el("span", "", &[], high_label.as_deref().unwrap_or(""))?,
                ],
            )?;
            with(el("fieldset", "tp-fieldset", &[])?, &[&legend()?, &scores, &labels])
        }
        QuestionKind::SingleChoice { choices } => {
            let selected = match prefill {
                Some(AnswerValue::Text(t)) => Some(t),
                _ => None,
            };
            let list = el("div", "tp-choices", &[])?;
            for (i, c) in choices.iter().enumerate() {
                let pressed = if selected.as_deref() == Some(c.id.as_str()) { "true" } else { "false" };
                let act = format!("choice:{i}");
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
        QuestionKind::MultiChoice { choices } => {
            let picked = match prefill {
                Some(AnswerValue::Choices(c)) => c,
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
            let next = text_el("button", "tp-primary", &[("type", "submit")], &t("survey.next"))?;
            with(el("form", "tp-form", &[])?, &[&fieldset, &next])
        }
        QuestionKind::Text { optional, placeholder } => {
            let label = text_el("label", "tp-question", &[("id", "tp-q"), ("for", "tp-text")], q.text())?;
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
            if let (Some(AnswerValue::Text(previous)), Some(a)) =
                (prefill, area.dyn_ref::<web_sys::HtmlTextAreaElement>())
            {
                a.set_value(&previous);
            }
            let hint = if *optional { t("survey.optional") } else { String::new() };
            let row = with(
                el("div", "tp-row", &[])?,
                &[
                    &text_el("span", "tp-hint", &[("id", "tp-hint")], &hint)?,
                    &text_el("button", "tp-primary", &[("type", "submit")], &t("survey.send"))?,
                ],
            )?;
            with(el("form", "tp-form", &[])?, &[&label, &area, &row])
        }
    }
}

fn ending_view(e: &Ending) -> dom::Result<Element> {
    let title = e.title().map(str::to_owned).unwrap_or_else(|| t("survey.thank_you"));
    with(
        el("div", "tp-ending", &[])?,
        &[
            &text_el("h2", "tp-question", &[("id", "tp-q"), ("tabindex", "-1"), ("data-tp-focus", "")], &title)?,
            &text_el("p", "tp-message", &[], e.message())?,
            &text_el("button", "tp-primary", &[("type", "button"), ("data-tp-act", "close")], &t("survey.close"))?,
        ],
    )
}
