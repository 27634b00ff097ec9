//! The help panel: suggestions for the page and segment, instant search,
//! articles rendered from the safe Markdown subset, videos loaded only when
//! asked for (in a sandboxed frame), "Was this helpful?", and a form to
//! reach a person. Every URL is checked again as it is written (`href`).

use std::sync::Arc;

use leptos::prelude::*;
use touchpoint_core::help::{suggest, Block, Inline};
use touchpoint_protocol::EventKind;

use crate::dock::{Dock, Open};
use crate::help::Content;
use crate::host::{self, t, tf};
use crate::href::{self, Use};

#[derive(Clone, PartialEq)]
enum Screen {
    Home,
    Article(usize),
    Contact,
    Sent,
}

/// Pause in typing after which a search counts as one (and is reported).
const SEARCH_SETTLE_MS: i32 = 700;

#[component]
pub fn HelpPanel(content: StoredValue<Arc<Content>>, dock: Dock) -> impl IntoView {
    let screen = RwSignal::new(Screen::Home);
    let query = dock.query;
    // Context for a case: what the user last read and last searched for in vain.
    let last_article = RwSignal::new(None::<String>);
    let last_failed_search = RwSignal::new(None::<String>);
    let search_gen = StoredValue::new(0u32);

    // Reported each time the panel opens.
    Effect::new(move |was_open: Option<bool>| {
        let is_open = dock.open.get() == Open::Help;
        if is_open && was_open != Some(true) {
            host::emit(EventKind::HelpOpened {});
        }
        is_open
    });

    let on_input = move |ev: leptos::ev::Event| {
        let q = event_target_value(&ev);
        query.set(q.clone());
        search_gen.update_value(|g| *g += 1);
        let gen = search_gen.get_value();
        host::set_timeout(SEARCH_SETTLE_MS, move || {
            if search_gen.try_get_value() != Some(gen) || q.trim().is_empty() {
                return;
            }
            let count = content.with_value(|c| c.index.search(&q).len()) as u32;
            if count == 0 {
                last_failed_search.set(Some(q.clone()));
            }
            host::emit(EventKind::HelpSearched { query: q, result_count: count });
        });
    };

    let open_article = move |i: usize| {
        let id = content.with_value(|c| c.articles[i].id.clone());
        last_article.set(Some(id.clone()));
        screen.set(Screen::Article(i));
        host::emit(EventKind::HelpArticleViewed { article_id: id });
    };

    let list = move |ids: Vec<usize>| {
        ids.into_iter()
            .map(|i| {
                let title = content.with_value(|c| c.articles[i].title.clone());
                view! {
                    <li>
                        <button type="button" class="tp-help-link" on:click=move |_| open_article(i)>
                            {title}
                        </button>
                    </li>
                }
            })
            .collect_view()
    };

    let home = move || {
        let q = query.get();
        let body = if q.trim().is_empty() {
            let ids: Vec<usize> = content.with_value(|c| {
                let seg = dock.segment.get();
                let hits = suggest(&c.articles, &dock.path.get(), seg.as_deref());
                hits.iter().filter_map(|a| c.articles.iter().position(|x| x.id == a.id)).collect()
            });
            if ids.is_empty() {
                view! { <p class="tp-hint">{t("help.search_hint")}</p> }.into_any()
            } else {
                view! {
                    <h3 class="tp-help-sub">{t("help.suggested")}</h3>
                    <ul class="tp-help-list" aria-label=t("help.suggested_list")>{list(ids)}</ul>
                }
                .into_any()
            }
        } else {
            let ids: Vec<usize> = content.with_value(|c| c.index.search(&q).iter().map(|h| h.article).collect());
            if ids.is_empty() {
                view! {
                    <p class="tp-help-empty" role="status">{tf("help.no_match", &[("query", &q)])}</p>
                }
                .into_any()
            } else {
                let n = ids.len();
                view! {
                    <p class="tp-sr" role="status">{tf("help.found", &[("n", &n.to_string())])}</p>
                    <ul class="tp-help-list" aria-label=t("help.results")>{list(ids)}</ul>
                }
                .into_any()
            }
        };
        view! {
            <label class="tp-sr" for="tp-help-q">{t("help.search")}</label>
            <input
                id="tp-help-q"
                class="tp-help-search"
                type="search"
                placeholder=t("help.search")
                autocomplete="off"
                prop:value=move || query.get()
                on:input=on_input
            />
            {body}
            <p class="tp-help-contact">
                {t("help.cant_find")}
                " "
                <button type="button" class="tp-help-link tp-inline" on:click=move |_| screen.set(Screen::Contact)>
                    {t("help.contact")}
                </button>
            </p>
        }
        .into_any()
    };

    let article = move |i: usize| {
        let a = content.with_value(|c| c.articles[i].clone());
        let id = a.id.clone();
        let rated = RwSignal::new(false);
        let show_video = RwSignal::new(false);
        let rate = move |helpful: bool| {
            rated.set(true);
            host::emit(EventKind::HelpArticleRated { article_id: id.clone(), helpful });
        };
        let rate_yes = rate.clone();
        let video = a.video.clone().filter(|v| href::allowed(v, Use::Source)).map(|src| {
            let title = tf("help.video_title", &[("title", &a.title)]);
            view! {
                <div class="tp-help-video">
                    {move || {
                        if show_video.get() {
                            view! {
                                // A video player (YouTube, Vimeo) needs its scripts and its
                                // own origin, and may present; nothing more: no popups, no
                                // forms, no navigating the host page.
                                <iframe
                                    src=src.clone()
                                    title=title.clone()
                                    sandbox="allow-scripts allow-same-origin allow-presentation"
                                    allow="fullscreen; picture-in-picture"
                                    referrerpolicy="no-referrer"
                                ></iframe>
                            }
                            .into_any()
                        } else {
                            view! {
                                <button type="button" class="tp-secondary" on:click=move |_| show_video.set(true)>
                                    {t("help.watch")}
                                </button>
                            }
                            .into_any()
                        }
                    }}
                </div>
            }
        });
        view! {
            <button type="button" class="tp-back" data-tp-focus="" on:click=move |_| screen.set(Screen::Home)>
                {t("help.all")}
            </button>
            <article class="tp-help-article" aria-labelledby="tp-help-title">
                <h3 id="tp-help-title" class="tp-question">{a.title.clone()}</h3>
                {video}
                {render_blocks(a.blocks())}
            </article>
            <div class="tp-help-rate">
                {move || {
                    if rated.get() {
                        view! { <p role="status">{t("help.thanks_feedback")}</p> }.into_any()
                    } else {
                        let (yes, no) = (rate_yes.clone(), rate.clone());
                        view! {
                            <span id="tp-rate-q">{t("help.helpful")}</span>
                            <button type="button" class="tp-secondary" aria-describedby="tp-rate-q" on:click=move |_| yes(true)>
                                {t("help.yes")}
                            </button>
                            <button type="button" class="tp-secondary" aria-describedby="tp-rate-q" on:click=move |_| no(false)>
                                {t("help.no")}
                            </button>
                        }
                        .into_any()
                    }
                }}
            </div>
        }
        .into_any()
    };

    let contact = move || {
        let message = RwSignal::new(String::new());
        let email = RwSignal::new(String::new());
        let error = RwSignal::new(None::<String>);
        let submit = move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let text = message.get_untracked();
            if text.trim().is_empty() {
                error.set(Some(t("help.need_message")));
                return;
            }
            let mail = Some(email.get_untracked().trim().to_owned()).filter(|e| !e.is_empty());
            host::emit(EventKind::HelpCaseCreated {
                message: text,
                email: mail,
                last_article: last_article.get_untracked(),
                last_failed_search: last_failed_search.get_untracked(),
            });
            screen.set(Screen::Sent);
        };
        view! {
            <button type="button" class="tp-back" on:click=move |_| screen.set(Screen::Home)>{t("help.all")}</button>
            <form class="tp-form" on:submit=submit>
                <h3 class="tp-question">{t("help.contact")}</h3>
                <label class="tp-label" for="tp-case-msg">{t("help.how")}</label>
                <textarea
                    id="tp-case-msg"
                    class="tp-text"
                    rows="4"
                    maxlength="4000"
                    data-tp-focus=""
                    on:input=move |ev| {
                        error.set(None);
                        message.set(event_target_value(&ev));
                    }
                ></textarea>
                <label class="tp-label" for="tp-case-email">{t("help.email")}</label>
                <input
                    id="tp-case-email"
                    class="tp-text tp-input"
                    type="email"
                    autocomplete="email"
                    on:input=move |ev| email.set(event_target_value(&ev))
                />
                <p class="tp-error" role="alert">{move || error.get()}</p>
                <button type="submit" class="tp-primary">{t("help.send")}</button>
            </form>
        }
        .into_any()
    };

    let sent = move || {
        view! {
            <div role="status" class="tp-help-sent">
                <h3 class="tp-question">{t("help.sent_title")}</h3>
                <p class="tp-message">{t("help.sent_body")}</p>
            </div>
            <button type="button" class="tp-secondary" on:click=move |_| screen.set(Screen::Home)>{t("help.back")}</button>
        }
        .into_any()
    };

    view! {
        <section class="tp-panel tp-help-panel" role="region" aria-label=t("help.title") hidden=move || dock.open.get() != Open::Help>
            <header class="tp-cl-head">
                <h2 class="tp-question">{t("help.title")}</h2>
                <button type="button" class="tp-icon" aria-label=t("help.close") on:click=move |_| dock.open.set(Open::Nothing)>
                    "×"
                </button>
            </header>
            {move || match screen.get() {
                Screen::Home => home(),
                Screen::Article(i) => article(i),
                Screen::Contact => contact(),
                Screen::Sent => sent(),
            }}
        </section>
    }
}

/// Markdown blocks as DOM: only these elements, text as text nodes.
fn render_blocks(blocks: Vec<Block>) -> impl IntoView {
    blocks
        .into_iter()
        .map(|b| match b {
            Block::Heading(1 | 2, x) => view! { <h4>{inlines(x)}</h4> }.into_any(),
            Block::Heading(_, x) => view! { <h5>{inlines(x)}</h5> }.into_any(),
            Block::Paragraph(x) => view! { <p>{inlines(x)}</p> }.into_any(),
            Block::List { ordered: true, items } => {
                view! { <ol>{items.into_iter().map(|i| view! { <li>{inlines(i)}</li> }).collect_view()}</ol> }
                    .into_any()
            }
            Block::List { ordered: false, items } => {
                view! { <ul>{items.into_iter().map(|i| view! { <li>{inlines(i)}</li> }).collect_view()}</ul> }
                    .into_any()
            }
            Block::Code(c) => view! { <pre><code>{c}</code></pre> }.into_any(),
        })
        .collect_view()
}

fn inlines(xs: Vec<Inline>) -> Vec<AnyView> {
    xs.into_iter()
        .map(|x| match x {
            Inline::Text(t) => t.into_any(),
            Inline::Emph(c) => view! { <em>{inlines(c)}</em> }.into_any(),
            Inline::Strong(c) => view! { <strong>{inlines(c)}</strong> }.into_any(),
            Inline::Code(t) => view! { <code>{t}</code> }.into_any(),
            // Opens beside the app; noopener so the article cannot reach back into the page.
            Inline::Link { href, children } if href::allowed(&href, Use::Link) => {
                view! { <a href=href target="_blank" rel="noopener noreferrer">{inlines(children)}</a> }.into_any()
            }
            // A link that would lead elsewhere keeps its text, as the Markdown reader does.
            Inline::Link { children, .. } => view! { <span>{inlines(children)}</span> }.into_any(),
            Inline::Image { alt, src } if href::allowed(&src, Use::Source) => {
                view! { <img src=src alt=alt loading="lazy" /> }.into_any()
            }
            Inline::Image { alt, .. } => alt.into_any(),
        })
        .collect()
}
