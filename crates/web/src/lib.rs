//! Small browser helpers that both of Touchpoint's wasm modules use, written
//! so that the first module, which loads before the survey card, pays for
//! no serde and no `core::fmt`: nothing here panics into the page (a timer
//! throws only where `setTimeout` itself does).
//! On a non-wasm target only `allocator` builds (for its tests).

// Plain Rust, tested on the host too.
pub mod allocator;
#[cfg(target_arch = "wasm32")]
pub mod dom;
#[cfg(target_arch = "wasm32")]
mod page;

#[cfg(target_arch = "wasm32")]
pub use page::{at_end_of_task, local_storage, once, timer, LocalStore, Timer};
