//! The global allocator: small blocks come from a bump arena in `.bss`,
//! everything else (and everything once the arena is used up) from the C
//! library's malloc.
//!
//! Why: the shim runs before every curl on the machine and usually only
//! execs. Its few dozen small allocations (arguments, PATH entries, the
//! exec vectors) would otherwise start musl's malloc, which maps its own
//! pages and touches several more: measured, a quarter of what the shim
//! costs above a bare exec. From a contiguous arena they touch one or two
//! zero pages. Freed arena blocks are not reused (the process is
//! short-lived), except that the newest block can grow in place.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Measured: a 256 KiB arena made every exec ~60 µs slower than a 64 KiB
/// one (scripts/bench's pass-through row), though untouched.
const ARENA_BYTES: usize = 64 * 1024;
/// Larger blocks (file contents, anything unusual) go to malloc at once;
/// the probe's I/O buffers (16 KiB each) fit.
const LARGEST_IN_ARENA: usize = 32 * 1024;

#[repr(C, align(4096))]
struct Bytes(UnsafeCell<[u8; ARENA_BYTES]>);

pub struct Arena {
    bytes: Bytes,
    /// Offset of the first free byte.
    used: AtomicUsize,
}

// SAFETY: blocks are handed out by an atomic bump, each to one owner.
unsafe impl Sync for Arena {}

impl Arena {
    pub const fn new() -> Arena {
        Arena {
            bytes: Bytes(UnsafeCell::new([0; ARENA_BYTES])),
            used: AtomicUsize::new(0),
        }
    }

    fn base(&self) -> usize {
        self.bytes.0.get() as usize
    }

    fn holds(&self, ptr: *mut u8) -> bool {
        let at = ptr as usize;
        at >= self.base() && at < self.base() + ARENA_BYTES
    }

    fn bump(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LARGEST_IN_ARENA {
            return std::ptr::null_mut();
        }
        let base = self.base();
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let start = (base + used).next_multiple_of(layout.align()) - base;
            let end = start + layout.size();
            if end > ARENA_BYTES {
                return std::ptr::null_mut();
            }
            match self
                .used
                .compare_exchange_weak(used, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return (base + start) as *mut u8,
                Err(now) => used = now,
            }
        }
    }
}

impl Default for Arena {
    fn default() -> Self {
        Arena::new()
    }
}

unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.bump(layout);
        if p.is_null() {
            // SAFETY: same contract as ours.
            unsafe { System.alloc(layout) }
        } else {
            p
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.holds(ptr) {
            // SAFETY: not ours, so it came from System.alloc with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.holds(ptr) {
            // SAFETY: not ours, so it came from System with this layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // The newest block grows (or shrinks) in place.
        let start = ptr as usize - self.base();
        let end = start + layout.size();
        if start + new_size <= ARENA_BYTES && new_size <= LARGEST_IN_ARENA {
            let grown = self.used.compare_exchange(
                end,
                start + new_size,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            if grown.is_ok() {
                return ptr;
            }
        }
        // SAFETY: the layout is valid (same alignment, size checked by the caller).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as in alloc.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller of the two sizes.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_blocks_from_the_arena_large_ones_and_overflow_from_malloc() {
        let a = Box::leak(Box::new(Arena::new()));
        let small = Layout::from_size_align(24, 8).unwrap();
        let large = Layout::from_size_align(LARGEST_IN_ARENA + 1, 8).unwrap();
        unsafe {
            let p = a.alloc(small);
            assert!(a.holds(p) && (p as usize).is_multiple_of(8));
            let q = a.alloc(large);
            assert!(!q.is_null() && !a.holds(q));
            a.dealloc(q, large);
            // The newest block grows in place; an older one moves, keeping its bytes.
            p.write(7);
            let p2 = a.realloc(p, small, 100);
            assert_eq!(p2, p);
            let r = a.alloc(small);
            let p3 = a.realloc(p2, Layout::from_size_align(100, 8).unwrap(), 200);
            assert_ne!(p3, p2);
            assert_eq!(*p3, 7);
            a.dealloc(r, small);
            // Used up: malloc takes over.
            let mut last = std::ptr::null_mut();
            for _ in 0..(ARENA_BYTES / 24 + 1) {
                last = a.alloc(small);
            }
            assert!(!a.holds(last));
            a.dealloc(last, small);
        }
    }
}
