//! Touchpoint's second wasm module: everything a page does not need before
//! its first survey. The checklist's rules and the dock's launchers
//! (`checklist`, `launchers`), targeting and the debug overlay
//! (`targeting`, `debug`), the help content (`help_content`, `help`), and
//! the panels (plain DOM: `panels`, `checklist_panel`, `help_panel`). The
//! features and views send what changed to `signal`; `app` reacts, so no
//! module imports one above it.
//!
//! The first module (`src/`: the card, the queue, the API) loads it after
//! the card and hands it every event in order (`exports::observe`); this
//! module records its own events, shows targeted surveys and mounts its
//! widgets through the first one (`host`). The two share no memory.
//!
//! On a non-wasm target the crate is empty, like the widget's, but for
//! `href` (the URL check), which is tested there.

// SAFETY: as in the first module: the page's one thread, no wasm threads.
// The first module's allocator here too: std's dlmalloc would be ~9 KB more
// of this module's code; the price is memory rounded up to a power of two.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: touchpoint_web::allocator::Classes<fn(usize) -> Option<usize>> =
    unsafe { touchpoint_web::allocator::Classes::new(touchpoint_web::allocator::grow_memory) };

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod checklist;
#[cfg(target_arch = "wasm32")]
mod checklist_panel;
#[cfg(target_arch = "wasm32")]
mod context;
#[cfg(target_arch = "wasm32")]
mod dead_letters;
#[cfg(target_arch = "wasm32")]
mod debug;
#[cfg(target_arch = "wasm32")]
mod exports;
#[cfg(target_arch = "wasm32")]
mod help;
#[cfg(target_arch = "wasm32")]
mod help_content;
#[cfg(target_arch = "wasm32")]
mod help_panel;
#[cfg(target_arch = "wasm32")]
mod host;
// Plain Rust, tested on the host too.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod href;
#[cfg(target_arch = "wasm32")]
mod launchers;
#[cfg(target_arch = "wasm32")]
mod page;
#[cfg(target_arch = "wasm32")]
mod panels;
#[cfg(target_arch = "wasm32")]
mod route;
#[cfg(target_arch = "wasm32")]
mod signal;
#[cfg(target_arch = "wasm32")]
mod targeting;

#[cfg(target_arch = "wasm32")]
use touchpoint_web::dom;

/// This module's stylesheet (dock, panels, debug overlay), adopted beside
/// the first module's by the shadow roots it mounts in.
#[cfg(target_arch = "wasm32")]
fn sheet() -> Result<web_sys::CssStyleSheet, String> {
    thread_local! {
        static SHEET: std::cell::RefCell<Option<web_sys::CssStyleSheet>> = const { std::cell::RefCell::new(None) };
    }
    if let Some(s) = SHEET.with(|s| s.borrow().clone()) {
        return Ok(s);
    }
    let sheet = web_sys::CssStyleSheet::new().map_err(|e| page::describe(&e))?;
    sheet.replace_sync(include_str!(concat!(env!("OUT_DIR"), "/dock.min.css"))).map_err(|e| page::describe(&e))?;
    SHEET.with(|s| *s.borrow_mut() = Some(sheet.clone()));
    Ok(sheet)
}
