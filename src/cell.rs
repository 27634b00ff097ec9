//! `RefCell` without its panic message. std's `borrow`/`borrow_mut` panic
//! with a formatted `BorrowError`, which keeps `core::fmt`'s padding code in
//! the module before the card (about 1.5 KB raw). A second borrow is a bug
//! here either way, and with `panic = "abort"` both end the same: the wasm
//! traps and the call throws into JS.

use std::cell::{Ref, RefMut};

#[derive(Default)]
pub struct RefCell<T>(std::cell::RefCell<T>);

impl<T> RefCell<T> {
    pub const fn new(value: T) -> RefCell<T> {
        RefCell(std::cell::RefCell::new(value))
    }

    pub fn borrow(&self) -> Ref<'_, T> {
        self.0.try_borrow().unwrap_or_else(|_| trap())
    }

    pub fn borrow_mut(&self) -> RefMut<'_, T> {
        self.0.try_borrow_mut().unwrap_or_else(|_| trap())
    }
}

/// What a panic ends in under `panic = "abort"`, without formatting a message first.
#[cold]
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}
