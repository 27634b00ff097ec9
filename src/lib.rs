//! The Touchpoint widget: the only Rust that touches the DOM and JS.
//!
//! Business rules (survey graph, branching, validation) live in
//! `touchpoint-core` and the wire format in `touchpoint-protocol`; this crate
//! calls them, shows the survey inside a shadow root (plain DOM calls), loads
//! the checklist and help dock (`crates/views`) when it has something to show,
//! and posts events.
//!
//! Everything here runs on someone else's page, so nothing may panic or throw
//! into it: failures are reported with `console.error` and a `false`/no-op.
//! On a non-wasm target the crate is empty, so `cargo test` on the host stays
//! fast and browser-free.

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod bus;
#[cfg(target_arch = "wasm32")]
mod checklist;
#[cfg(target_arch = "wasm32")]
mod help;
#[cfg(target_arch = "wasm32")]
mod outbox;
#[cfg(target_arch = "wasm32")]
mod report;
#[cfg(target_arch = "wasm32")]
mod route;
#[cfg(target_arch = "wasm32")]
mod sdk;
#[cfg(target_arch = "wasm32")]
mod targeting;
#[cfg(target_arch = "wasm32")]
mod ui;
