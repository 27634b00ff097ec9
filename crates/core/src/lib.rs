//! Touchpoint's rules, with no browser and no I/O: the widget (in wasm) and
//! the collector (on a server) both call into this crate, so a survey means
//! the same thing on both sides.
//!
//! **Architecture invariant:** nothing here touches the DOM, the network, the
//! clock or storage. Time and randomness are passed in. That is what lets
//! `cargo test` check every rule on the host in milliseconds.

pub mod accounts;
pub mod checklist;
pub mod definition;
pub mod events;
pub mod help;
pub mod i18n;
pub mod links;
pub mod nps;
pub mod queue;
pub mod sort;
pub mod survey;
pub mod targeting;
