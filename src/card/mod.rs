//! The survey card: one question (or the ending) at a time, with back and
//! close, built with plain DOM calls (`view`) from the card form (`form`),
//! branching as the form's rules say (`session`).
//!
//! The card owns nothing global: the app holds the [`Card`] and hands it a
//! [`Sink`] for what happens on it, so the card never calls up into the
//! layer that queues events.

pub mod form;
pub mod session;
#[cfg(target_arch = "wasm32")]
mod view;

#[cfg(target_arch = "wasm32")]
pub use view::{Card, Happened, Sink};

/// The page reads the card form from a `JSON.parse` value.
#[cfg(target_arch = "wasm32")]
mod js_source {
    use wasm_bindgen::{JsCast, JsValue};

    use super::form::Source;
    use crate::browser::js::get;

    impl Source for JsValue {
        fn field(&self, name: &str) -> Option<JsValue> {
            get(self, name)
        }
        fn string(&self) -> Option<String> {
            self.as_string()
        }
        fn number(&self) -> Option<f64> {
            self.as_f64()
        }
        fn boolean(&self) -> Option<bool> {
            self.as_bool()
        }
        fn items(&self) -> Option<Vec<JsValue>> {
            js_sys::Array::is_array(self).then(|| self.unchecked_ref::<js_sys::Array>().iter().collect())
        }
        fn json(&self) -> Option<String> {
            js_sys::JSON::stringify(self).ok()?.as_string()
        }
    }
}
