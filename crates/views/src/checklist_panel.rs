//! The checklist: a launcher with progress, and a panel of items that expand
//! to their description and call to action. Text from the definition is
//! inserted as text only; CTA links were checked to be http(s) or paths,
//! and are checked again as they are written (`href`).

use std::collections::BTreeMap;
use std::sync::Arc;

use leptos::prelude::*;
use touchpoint_core::checklist::{Checklist, Contributor, Cta, Item, Progress, Scope};

use crate::dock::Open;
use crate::host::{self, t, tf};
use crate::href::{self, Use};

/// The checklist the widget loaded, and its progress as the widget last sent it.
#[derive(Clone, Copy)]
pub struct Live {
    pub checklist: StoredValue<Arc<Checklist>>,
    pub progress: RwSignal<Progress>,
    pub dismissed: RwSignal<bool>,
    /// Account-level items: who in the account did them (from the collector).
    pub by: RwSignal<BTreeMap<String, Vec<Contributor>>>,
}

#[component]
pub fn ChecklistPanel(
    /// The loaded checklist and its live progress.
    live: Live,
    /// Which panel of the dock is open.
    open: RwSignal<Open>,
) -> impl IntoView {
    let expanded = RwSignal::new(None::<String>);
    let checklist = live.checklist.get_value();
    let total = checklist.items.len();
    let title = checklist.title.clone();
    let done = move || live.progress.with(|p| p.done(&live.checklist.get_value()));
    let all_done = move || done() == total;
    let percent = move || format!("{}%", done() * 100 / total.max(1));
    let items = checklist.items.iter().cloned().map(|item| item_view(item, live, expanded)).collect_view();
    let hidden = move || live.dismissed.get() || open.get() != Open::Checklist;

    view! {
        <section class="tp-panel tp-cl-panel" role="region" aria-labelledby="tp-cl-title" hidden=hidden>
            <header class="tp-cl-head">
                <h2 id="tp-cl-title" class="tp-question">{title}</h2>
                <button type="button" class="tp-icon" aria-label=t("checklist.minimise") on:click=move |_| open.set(Open::Nothing)>
                    "–"
                </button>
                <button
                    type="button"
                    class="tp-icon"
                    aria-label=t("checklist.dismiss")
                    on:click=move |_| {
                        open.set(Open::Nothing);
                        host::dismiss_checklist();
                    }
                >
                    "×"
                </button>
            </header>
            <p class="tp-cl-count" aria-live="polite">{move || tf("checklist.count", &[("done", &done().to_string()), ("total", &total.to_string())])}</p>
            <div
                class="tp-cl-bar"
                role="progressbar"
                aria-label=t("checklist.progress")
                aria-valuemin="0"
                aria-valuemax=total.to_string()
                aria-valuenow=move || done().to_string()
            >
                <span style:width=percent></span>
            </div>
            <p class="tp-cl-celebrate" role="status" hidden=move || !all_done()>
                <span class="tp-cl-badge" aria-hidden="true">"✓"</span>
                {t("checklist.all_set")}
            </p>
            <ul class="tp-cl-items">{items}</ul>
        </section>
    }
}

/// A call to action shows only with a link that stays on the web or on this
/// site (never `//elsewhere` or `/\elsewhere`).
fn cta_allowed(cta: &Cta) -> bool {
    match cta {
        Cta::Url { url, .. } => href::allowed(url, Use::Link),
        Cta::Callback { .. } => true,
    }
}

fn item_view(item: Item, live: Live, expanded: RwSignal<Option<String>>) -> impl IntoView {
    let id = item.id.clone();
    let (id_done, id_open, id_toggle) = (id.clone(), id.clone(), id.clone());
    let is_done = move || live.progress.with(|p| p.completed.contains_key(&id_done));
    let is_open = move || expanded.with(|e| e.as_deref() == Some(id_open.as_str()));
    let toggle = move |_| {
        expanded.update(|e| *e = if e.as_deref() == Some(id_toggle.as_str()) { None } else { Some(id_toggle.clone()) })
    };
    let description = item.description.clone();
    // Account-level items say who in the account did them (text nodes only).
    let who = (item.scope == Scope::Account).then(|| {
        let id_who = id.clone();
        let names = move || {
            live.by.with(|by| {
                by.get(&id_who)
                    .map(|list| {
                        list.iter().map(|c| format!("{} ×{}", c.user_id, c.count)).collect::<Vec<_>>().join(", ")
                    })
                    .unwrap_or_default()
            })
        };
        let shown = names.clone();
        view! {
            <p class="tp-cl-who" hidden=move || shown().is_empty()>
                {move || tf("checklist.by_team", &[("names", &names())])}
            </p>
        }
    });
    let cta = item.cta.clone().filter(cta_allowed).map(|cta| match cta {
        Cta::Url { label, url } => {
            view! { <a class="tp-primary tp-cta" href=url rel="noopener">{label}</a> }.into_any()
        }
        Cta::Callback { label, name } => {
            let item_id = id.clone();
            view! {
                <button
                    type="button"
                    class="tp-primary tp-cta"
                    on:click=move |_| host::cta(&name, &item_id)
                >
                    {label}
                </button>
            }
            .into_any()
        }
    });
    view! {
        <li class="tp-cl-item" class:tp-done=is_done.clone()>
            <button type="button" class="tp-cl-toggle" aria-expanded={
                let o = is_open.clone();
                move || o().to_string()
            } on:click=toggle>
                <span class="tp-cl-check" aria-hidden="true">{let d = is_done.clone(); move || if d() { "✓" } else { "" }}</span>
                <span class="tp-cl-title">{item.title.clone()}</span>
                <span class="tp-sr">{let d = is_done.clone(); move || if d() { t("checklist.done") } else { t("checklist.todo") }}</span>
            </button>
            {who}
            <div class="tp-cl-detail" hidden=move || !is_open()>
                {description.map(|d| view! { <p class="tp-message">{d}</p> })}
                {cta}
            </div>
        </li>
    }
}
