//! The Touchpoint widget's first wasm module: the survey card, the durable
//! event queue and the API. Everything a page does not need before its
//! first survey (checklist, targeting, help, the dock, the debug overlay) is
//! the second module, `crates/views`, loaded after the card.
//!
//! Layers, each calling only those below it:
//! - `api` (the page's calls) and `bridge` (the second module's): exports only;
//! - `app`: the one piece of state and what changes it;
//! - features: `card`, `outbox` (+ `dead_letters`), `rest` (the second module), `identity`,
//!   `options`, `before_send` (the host's hook), `shell` (mounting), `strings`, `report` + `bus`;
//! - `browser`, `text`: wrappers and helpers that know nothing of the rest.
//!
//! No serde, no `core::fmt` and no definition validation on the card's way:
//! the collector serves the survey pre-checked (the card form), events are
//! written by `touchpoint_protocol::write`, and messages are concatenated.
//!
//! Everything here runs on someone else's page, so nothing may panic or throw
//! into it. The modules that need no browser (`card::form`,
//! `card::session`, `strings`, `text`) build and are tested on the host.

// On the host only the browser-free modules build (for their tests).
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

// SAFETY: the widget runs on the page's one thread; it starts no workers and
// wasm-bindgen's threads support is not enabled, so no two allocations race.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: touchpoint_web::allocator::Classes<fn(usize) -> Option<usize>> =
    unsafe { touchpoint_web::allocator::Classes::new(touchpoint_web::allocator::grow_memory) };

mod cell;

mod card;
mod strings;
mod text;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod before_send;
#[cfg(target_arch = "wasm32")]
mod bridge;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod bus;
#[cfg(target_arch = "wasm32")]
mod dead_letters;
#[cfg(target_arch = "wasm32")]
mod identity;
#[cfg(target_arch = "wasm32")]
mod options;
#[cfg(target_arch = "wasm32")]
mod outbox;
#[cfg(target_arch = "wasm32")]
mod report;
#[cfg(target_arch = "wasm32")]
mod rest;
#[cfg(target_arch = "wasm32")]
mod shell;
