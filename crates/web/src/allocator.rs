//! Both modules' allocator: power-of-two size classes, each with a free
//! list, carved from memory the module grows. std's dlmalloc is about 9 KB
//! of code in each module, and every byte of the first is downloaded before the card; a
//! general free list (one list, searched on every allocation) is small too
//! but slows `track()` down as a backlog fragments it. Here an allocation
//! and a free are a few instructions whatever is queued, and a `String`
//! growing within its class keeps its place.
//!
//! The price is memory: a block is its size rounded up to a power of two
//! (at most twice what was asked), and a freed block is reused only for its
//! own class, never merged or returned. The module's allocations are small
//! strings and vectors, most freed at the end of the task that made them,
//! so the classes in use stay few and their lists short-circuit the bump.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

/// Blocks are at least this big (a free block holds the next one's address)
/// and aligned to this, or to their size where that is smaller.
const MIN: usize = 8;
/// Blocks wanting more alignment than this are never reused (none of ours
/// do; they stay correct, just leaked on free).
const MAX_ALIGN: usize = 8;
const PAGE: usize = 65536;

struct State {
    /// Free blocks of class `c` (size `1 << c`), linked through their first word; 0 ends a list.
    free: [usize; usize::BITS as usize],
    /// Unused memory: `[next, end)`.
    next: usize,
    end: usize,
}

/// Where fresh memory comes from: `grow(bytes)` returns the start of at least
/// `bytes` new bytes (8-aligned), or `None`.
pub struct Classes<G> {
    state: UnsafeCell<State>,
    grow: G,
}

// SAFETY: see `Classes::new`: only ever used from one thread.
unsafe impl<G: Sync> Sync for Classes<G> {}

impl<G> Classes<G> {
    /// # Safety
    /// The allocator must only be used from one thread (wasm without threads).
    pub const unsafe fn new(grow: G) -> Classes<G> {
        Classes { state: UnsafeCell::new(State { free: [0; usize::BITS as usize], next: 0, end: 0 }), grow }
    }
}

/// The class of `layout`: `log2` of its block size (`None` past half the address space).
#[inline]
fn class(layout: Layout) -> Option<u32> {
    Some(layout.size().max(layout.align()).max(MIN).checked_next_power_of_two()?.trailing_zeros())
}

unsafe impl<G: Fn(usize) -> Option<usize>> GlobalAlloc for Classes<G> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let s = &mut *self.state.get();
        let Some(c) = class(layout) else { return core::ptr::null_mut() };
        let size = 1usize << c;
        let head = s.free[c as usize];
        if head != 0 && layout.align() <= MAX_ALIGN {
            s.free[c as usize] = *(head as *const usize);
            return head as *mut u8;
        }
        let align = layout.align().max(size.min(MAX_ALIGN));
        let mut at = (s.next + align - 1) & !(align - 1);
        if at < s.next || at.checked_add(size).is_none_or(|e| e > s.end) {
            // What is left of the old region is abandoned: a new one follows it in memory
            // only on wasm, and on the host it may not.
            let want = size.saturating_add(align).saturating_add(PAGE - 1) & !(PAGE - 1);
            let Some(start) = (self.grow)(want) else { return core::ptr::null_mut() };
            s.next = start;
            s.end = start + want;
            at = (s.next + align - 1) & !(align - 1);
        }
        s.next = at + size;
        at as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.align() > MAX_ALIGN {
            return;
        }
        let s = &mut *self.state.get();
        let Some(c) = class(layout) else { return };
        let c = c as usize;
        *(ptr as *mut usize) = s.free[c];
        s.free[c] = ptr as usize;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        if class(new).is_some() && class(new) == class(layout) {
            return ptr;
        }
        let out = self.alloc(new);
        if !out.is_null() {
            core::ptr::copy_nonoverlapping(ptr, out, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        out
    }
}

/// New wasm pages: the memory grows by `bytes` (a multiple of the page size).
#[cfg(target_arch = "wasm32")]
pub fn grow_memory(bytes: usize) -> Option<usize> {
    let before = core::arch::wasm32::memory_grow(0, bytes / PAGE);
    (before != usize::MAX).then(|| before * PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_grow(bytes: usize) -> Option<usize> {
        let region: &'static mut [u64] = Vec::leak(vec![0u64; bytes / 8]);
        Some(region.as_mut_ptr() as usize)
    }

    #[test]
    fn blocks_never_overlap_and_are_reused_by_class() {
        let a = unsafe { Classes::new(host_grow) };
        // A deterministic mix of sizes and alignments, freed out of order, with
        // each live block filled with its own byte and checked when freed.
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let mut seed = 12345u32;
        let mut rand = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            seed >> 8
        };
        for step in 0..20_000u32 {
            if live.len() > 300 || (!live.is_empty() && rand() % 3 == 0) {
                let i = rand() as usize % live.len();
                let (p, l, mark) = live.swap_remove(i);
                let bytes = unsafe { std::slice::from_raw_parts(p, l.size()) };
                assert!(bytes.iter().all(|b| *b == mark), "block overwritten at step {step}");
                unsafe { a.dealloc(p, l) };
            } else {
                let size = [1, 7, 8, 24, 36, 80, 256, 1000, 4096, 70_000][rand() as usize % 10];
                let align = [1, 2, 4, 8, 16][rand() as usize % 5];
                let l = Layout::from_size_align(size, align).unwrap();
                let mut p = unsafe { a.alloc(l) };
                assert!(!p.is_null());
                if rand() % 4 == 0 {
                    let bigger = size * 3 / 2 + 1;
                    p = unsafe { a.realloc(p, l, bigger) };
                    let l = Layout::from_size_align(bigger, align).unwrap();
                    assert_eq!(p as usize % align, 0);
                    let mark = (step % 251) as u8 + 1;
                    unsafe { std::ptr::write_bytes(p, mark, bigger) };
                    live.push((p, l, mark));
                    continue;
                }
                assert_eq!(p as usize % align, 0, "alignment");
                let mark = (step % 251) as u8 + 1;
                unsafe { std::ptr::write_bytes(p, mark, size) };
                live.push((p, l, mark));
            }
        }
        for (p, l, mark) in live {
            let bytes = unsafe { std::slice::from_raw_parts(p, l.size()) };
            assert!(bytes.iter().all(|b| *b == mark));
        }
    }

    #[test]
    fn a_freed_block_is_the_next_of_its_class_and_growing_within_a_class_stays_put() {
        let a = unsafe { Classes::new(host_grow) };
        let l = Layout::from_size_align(40, 8).unwrap();
        let p = unsafe { a.alloc(l) };
        unsafe { a.dealloc(p, l) };
        assert_eq!(unsafe { a.alloc(Layout::from_size_align(50, 1).unwrap()) }, p, "same class (64)");
        assert_eq!(unsafe { a.realloc(p, Layout::from_size_align(50, 1).unwrap(), 64) }, p);
        assert_ne!(unsafe { a.realloc(p, Layout::from_size_align(64, 1).unwrap(), 65) }, p);
    }
}
