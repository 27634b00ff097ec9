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
