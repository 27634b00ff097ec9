//! The survey card: one question (or the ending) at a time, with back and
//! close. Text from the definition is always inserted as text nodes or
//! attribute values, never parsed as HTML.

use std::sync::Arc;

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use touchpoint_core::survey::{AnswerError, Ending, Question, QuestionKind, Session, Step, Survey};
use touchpoint_protocol::{AnswerValue, EventKind};
use wasm_bindgen::JsCast;

use crate::ui::t;
use crate::{browser, sdk};

/// Which showing the events belong to.
#[derive(Clone)]
struct Ids {
    survey_id: String,
    response_id: String,
}

/// A survey on screen. Posts `survey_answered` as soon as each answer is
/// given, `survey_completed` at an ending, `survey_dismissed` when closed
/// before one.
#[component]
pub fn SurveyCard(
    /// The validated definition.
    survey: Arc<Survey>,
    /// Groups this showing's events; an answer changed after going back replaces the earlier one.
    response_id: String,
) -> impl IntoView {
    let ids = StoredValue::new(Ids { survey_id: survey.id().to_owned(), response_id });
    let session = RwSignal::new(Session::new(survey));
    // The answer to show as selected after going back.
    let prefill = RwSignal::new(None::<AnswerValue>);
    let error = RwSignal::new(None::<String>);
    let card = NodeRef::<html::Div>::new();

    let answer = move |value: AnswerValue| {
        let mut next = session.get_untracked();
        let Some(question_id) = next.current_question().map(|q| q.id().to_owned()) else { return };
        let ending = match next.answer(value.clone()) {
            Ok(Step::Ending(e)) => Some((e.id().to_owned(), e.actions().to_vec())),
            Ok(Step::Question(_)) => None,
            Err(e) => {
                error.set(Some(user_message(&e)));
                return;
            }
        };
        let Ids { survey_id, response_id } = ids.get_value();
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
        error.set(None);
        prefill.set(None);
        session.set(next);
        focus_soon(card);
    };

    let back = move |_| {
        let mut s = session.get_untracked();
        if let Some(previous) = s.back() {
            prefill.set(Some(previous));
            error.set(None);
            session.set(s);
            focus_soon(card);
        }
    };

    let close = move || {
        let at = session.with_untracked(|s| s.current_question().map(|q| q.id().to_owned()));
        if let Some(question_id) = at {
            let Ids { survey_id, response_id } = ids.get_value();
            crate::bus::dispatch_json(
                "survey:dismissed",
                &serde_json::json!({ "surveyId": survey_id, "questionId": question_id }),
            );
            sdk::emit(EventKind::SurveyDismissed { survey_id, response_id, question_id });
        }
        crate::ui::close_survey();
    };
    crate::ui::register_survey_closer(close);

    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.stop_propagation();
            close();
        }
    };

    let step = move || {
        session.with(|s| match s.step() {
            Step::Question(q) => question_view(q, prefill.get_untracked(), answer, error),
            Step::Ending(e) => ending_view(e, close),
        })
    };
    let can_go_back = move || session.with(|s| s.can_go_back() && s.current_question().is_some());

    view! {
        <div class="tp-card" role="dialog" aria-modal="false" aria-labelledby="tp-q" node_ref=card on:keydown=on_keydown>
            <button type="button" class="tp-close" aria-label=t("survey.close_label") on:click=move |_| close()>
                "×"
            </button>
            {step}
            <p class="tp-error" role="alert">{move || error.get()}</p>
            <Show when=can_go_back>
                <button type="button" class="tp-back" on:click=back>{t("survey.back")}</button>
            </Show>
        </div>
    }
}

fn user_message(e: &AnswerError) -> String {
    match e {
        AnswerError::EmptyText { .. } => t("survey.need_text"),
        AnswerError::NothingChosen { .. } => t("survey.need_choice"),
        other => other.to_string(),
    }
}

/// After the step changes, moves focus to the new step so keyboard and
/// screen-reader users continue where they are. Never on first show: the
/// card must not steal focus from the host page.
fn focus_soon(card: NodeRef<html::Div>) {
    browser::set_timeout(0, move || {
        let target = card.get_untracked().and_then(|c| c.query_selector("[data-tp-focus]").ok().flatten());
        if let Some(el) = target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    });
}

fn question_view(
    q: &Question,
    prefill: Option<AnswerValue>,
    answer: impl Fn(AnswerValue) + Copy + 'static,
    error: RwSignal<Option<String>>,
) -> AnyView {
    let text = q.text().to_owned();
    match q.kind() {
        QuestionKind::Nps { low_label, high_label } | QuestionKind::Rating { low_label, high_label, .. } => {
            let scale = q.kind().scale().expect("score kinds have a scale");
            let (first, last) = (*scale.start(), *scale.end());
            let selected = match prefill {
                Some(AnswerValue::Score(s)) => Some(s),
                _ => None,
            };
            let label = move |n: u8| {
                let base = crate::ui::tf("survey.score_label", &[("n", &n.to_string()), ("max", &last.to_string())]);
                match (n, low_label.clone(), high_label.clone()) {
                    (n, Some(l), _) if n == first => format!("{base}, {l}"),
                    (n, _, Some(h)) if n == last => format!("{base}, {h}"),
                    _ => base,
                }
            };
            let buttons = scale
                .map(|n| {
                    view! {
                        <button
                            type="button"
                            class="tp-score"
                            aria-label=label(n)
                            aria-pressed=(selected == Some(n)).to_string()
                            data-tp-focus=(n == first).then_some("")
                            on:click=move |_| answer(AnswerValue::Score(n))
                        >
                            {n}
                        </button>
                    }
                })
                .collect_view();
            view! {
                <fieldset class="tp-fieldset">
                    <legend class="tp-question" id="tp-q">{text}</legend>
                    <div
                        class="tp-scores"
                        style:grid-template-columns=format!("repeat({}, minmax(0, 1fr))", last - first + 1)
                    >
                        {buttons}
                    </div>
                    <div class="tp-scale-labels" aria-hidden="true">
                        <span>{low_label.clone()}</span>
                        <span>{high_label.clone()}</span>
                    </div>
                </fieldset>
            }
            .into_any()
        }
        QuestionKind::SingleChoice { choices } => {
            let selected = match prefill {
                Some(AnswerValue::Text(t)) => Some(t),
                _ => None,
            };
            let buttons = choices
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let id = c.id.clone();
                    let pressed = selected.as_deref() == Some(c.id.as_str());
                    view! {
                        <button
                            type="button"
                            class="tp-choice"
                            aria-pressed=pressed.to_string()
                            data-tp-focus=(i == 0).then_some("")
                            on:click=move |_| answer(AnswerValue::Text(id.clone()))
                        >
                            {c.label.clone()}
                        </button>
                    }
                })
                .collect_view();
            view! {
                <fieldset class="tp-fieldset">
                    <legend class="tp-question" id="tp-q">{text}</legend>
                    <div class="tp-choices">{buttons}</div>
                </fieldset>
            }
            .into_any()
        }
        QuestionKind::MultiChoice { choices } => {
            let picked = RwSignal::new(match prefill {
                Some(AnswerValue::Choices(c)) => c,
                _ => Vec::new(),
            });
            let boxes = choices
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let (id, id2) = (c.id.clone(), c.id.clone());
                    view! {
                        <label class="tp-check">
                            <input
                                type="checkbox"
                                data-tp-focus=(i == 0).then_some("")
                                prop:checked=move || picked.with(|p| p.contains(&id))
                                on:change=move |_| {
                                    picked
                                        .update(|p| {
                                            if let Some(at) = p.iter().position(|x| *x == id2) {
                                                p.remove(at);
                                            } else {
                                                p.push(id2.clone());
                                            }
                                        })
                                }
                            />
                            <span>{c.label.clone()}</span>
                        </label>
                    }
                })
                .collect_view();
            let order: Vec<String> = choices.iter().map(|c| c.id.clone()).collect();
            let submit = move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                // Report choices in the definition's order, not the order clicked.
                let p = picked.get_untracked();
                answer(AnswerValue::Choices(order.iter().filter(|c| p.contains(c)).cloned().collect()));
            };
            view! {
                <form class="tp-form" on:submit=submit>
                    <fieldset class="tp-fieldset">
                        <legend class="tp-question" id="tp-q">{text}</legend>
                        <div class="tp-choices">{boxes}</div>
                    </fieldset>
                    <button type="submit" class="tp-primary">{t("survey.next")}</button>
                </form>
            }
            .into_any()
        }
        QuestionKind::Text { optional, placeholder } => {
            let draft = RwSignal::new(match prefill {
                Some(AnswerValue::Text(t)) => t,
                _ => String::new(),
            });
            let submit = move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                answer(AnswerValue::Text(draft.get_untracked()));
            };
            let hint = optional.then(|| t("survey.optional"));
            view! {
                <form class="tp-form" on:submit=submit>
                    <label class="tp-question" id="tp-q" for="tp-text">{text}</label>
                    <textarea
                        id="tp-text"
                        class="tp-text"
                        rows="3"
                        maxlength="2000"
                        data-tp-focus=""
                        placeholder=placeholder.clone()
                        aria-describedby=hint.as_ref().map(|_| "tp-hint")
                        prop:value=move || draft.get()
                        on:input=move |ev| {
                            error.set(None);
                            draft.set(event_target_value(&ev));
                        }
                    ></textarea>
                    <div class="tp-row">
                        <span class="tp-hint" id="tp-hint">{hint}</span>
                        <button type="submit" class="tp-primary">{t("survey.send")}</button>
                    </div>
                </form>
            }
            .into_any()
        }
    }
}

fn ending_view(e: &Ending, close: impl Fn() + Copy + 'static) -> AnyView {
    let title = e.title().map(str::to_owned).unwrap_or_else(|| t("survey.thank_you"));
    let message = e.message().to_owned();
    view! {
        <div class="tp-ending">
            <h2 class="tp-question" id="tp-q" tabindex="-1" data-tp-focus="">{title}</h2>
            <p class="tp-message">{message}</p>
            <button type="button" class="tp-primary" on:click=move |_| close()>{t("survey.close")}</button>
        </div>
    }
    .into_any()
}
