//! The widget module, seen from the dock: where events and user actions go,
//! and the few page services the views need (strings, timers, the console).

use std::cell::RefCell;

use touchpoint_core::i18n::Messages;
use touchpoint_protocol::EventKind;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// The widget's JS module (its `views*` exports), passed to `mount`.
    pub type Host;
    // The dock's events, one export each: typed arguments, so the widget
    // needs no JSON decoder for events (a derived one is most of a module's size).
    #[wasm_bindgen(method, js_name = viewsHelpOpened)]
    fn help_opened(this: &Host);
    #[wasm_bindgen(method, js_name = viewsHelpSearched)]
    fn help_searched(this: &Host, query: &str, result_count: u32);
    #[wasm_bindgen(method, js_name = viewsHelpArticleViewed)]
    fn help_article_viewed(this: &Host, article_id: &str);
    #[wasm_bindgen(method, js_name = viewsHelpArticleRated)]
    fn help_article_rated(this: &Host, article_id: &str, helpful: bool);
    #[wasm_bindgen(method, js_name = viewsHelpCaseCreated)]
    fn help_case_created(
        this: &Host,
        message: &str,
        email: Option<String>,
        last_article: Option<String>,
        last_failed_search: Option<String>,
    );
    /// The user dismissed the checklist.
    #[wasm_bindgen(method, js_name = viewsDismiss)]
    fn views_dismiss(this: &Host);
    /// A checklist call to action the host handles (`on('cta')`).
    #[wasm_bindgen(method, js_name = viewsCta)]
    fn views_cta(this: &Host, name: &str, item_id: &str);
    /// The open panel changed (`"checklist"`, `"help"` or `"nothing"`).
    #[wasm_bindgen(method, js_name = viewsPanel)]
    fn views_panel(this: &Host, open: &str);

    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

thread_local! {
    static HOST: RefCell<Option<Host>> = const { RefCell::new(None) };
    static MESSAGES: RefCell<Messages> = RefCell::new(Messages::default());
}

pub fn set(host: Host, messages: Messages) {
    HOST.with(|h| *h.borrow_mut() = Some(host));
    MESSAGES.with(|m| *m.borrow_mut() = messages);
}

fn with_host(f: impl FnOnce(&Host)) {
    HOST.with(|h| {
        if let Some(host) = h.borrow().as_ref() {
            f(host)
        }
    });
}

/// Queues `kind` with the widget's identity and outbox.
pub fn emit(kind: EventKind) {
    with_host(|h| match kind {
        EventKind::HelpOpened {} => h.help_opened(),
        EventKind::HelpSearched { query, result_count } => h.help_searched(&query, result_count),
        EventKind::HelpArticleViewed { article_id } => h.help_article_viewed(&article_id),
        EventKind::HelpArticleRated { article_id, helpful } => h.help_article_rated(&article_id, helpful),
        EventKind::HelpCaseCreated { message, email, last_article, last_failed_search } => {
            h.help_case_created(&message, email, last_article, last_failed_search)
        }
        other => error(&format!("the dock has no way to send {} events", other.name())),
    });
}

pub fn dismiss_checklist() {
    with_host(|h| h.views_dismiss());
}

pub fn cta(name: &str, item_id: &str) {
    with_host(|h| h.views_cta(name, item_id));
}

pub fn panel_changed(open: &str) {
    with_host(|h| h.views_panel(open));
}

pub fn error(message: &str) {
    console_error(&format!("[touchpoint] {message}"));
}

/// The user-facing string `key` in the widget's locale.
pub fn t(key: &str) -> String {
    MESSAGES.with(|m| m.borrow().get(key))
}

/// [`t`] with `{name}` placeholders filled.
pub fn tf(key: &str, args: &[(&str, &str)]) -> String {
    MESSAGES.with(|m| m.borrow().fill(key, args))
}

pub fn set_timeout(ms: i32, f: impl FnOnce() + 'static) {
    let cb = Closure::once_into_js(f);
    let scheduled = web_sys::window()
        .and_then(|w| w.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), ms).ok());
    if scheduled.is_none() {
        error("could not schedule a timer");
    }
}
