//! The checklist and help dock: Touchpoint's second wasm module.
//!
//! The widget (`touchpoint`, the first module) shows the survey and runs
//! every rule: checklist progress, targeting, the queue. It loads this
//! module only once the first survey is up (or the page is idle), so a host
//! page pays for Leptos and the dock's views after the part its users see
//! first. The two modules share no memory: the widget pushes what the dock
//! shows (checklist, progress, help content, the page path) through this
//! module's exports, and the dock hands events and user actions back
//! through the widget's `views*` exports (see `host`).
//!
//! On a non-wasm target the crate is empty, like the widget's.

#[cfg(target_arch = "wasm32")]
mod checklist_panel;
#[cfg(target_arch = "wasm32")]
mod dock;
#[cfg(target_arch = "wasm32")]
mod exports;
#[cfg(target_arch = "wasm32")]
mod help;
#[cfg(target_arch = "wasm32")]
mod help_panel;
#[cfg(target_arch = "wasm32")]
mod host;
