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
            let start = (base + used).next_multiple_of(block_align(layout)) - base;
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

/// At least what malloc guarantees (`max_align_t`: 16 bytes on x86_64 and
/// aarch64): code that allocates through Rust may still hand the block to C
/// that assumes it. The unwinder's exception object is declared 8-aligned on
/// the Rust side but written with 16-byte SSE stores by libunwind, so a block
/// aligned only as its `Layout` asks crashed every panic.
const MIN_ALIGN: usize = 16;

fn block_align(layout: Layout) -> usize {
    layout.align().max(MIN_ALIGN)
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

    fn arena() -> &'static Arena {
        Box::leak(Box::new(Arena::new()))
    }

    #[test]
    fn small_blocks_from_the_arena_large_ones_and_overflow_from_malloc() {
        let a = arena();
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

    #[test]
    fn every_block_is_aligned_as_malloc_aligns_and_as_its_layout_asks() {
        // Every size up to the largest the arena serves, with every
        // alignment Rust can ask for up to a page: a 1-byte block before
        // each one leaves the bump pointer odd, so any rounding that is
        // missing shows.
        let a = arena();
        let mut seen = 0;
        for align in (0..=12).map(|s| 1usize << s) {
            for size in [
                1,
                2,
                3,
                7,
                8,
                15,
                16,
                17,
                24,
                31,
                32,
                33,
                48,
                64,
                100,
                255,
                256,
                1000,
                4096,
                LARGEST_IN_ARENA,
            ] {
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let nudge = a.alloc(Layout::from_size_align(1, 1).unwrap());
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert!(
                        (p as usize).is_multiple_of(align.max(MIN_ALIGN)),
                        "size {size} align {align}: {p:?}"
                    );
                    seen += usize::from(a.holds(p));
                    // Writable over its whole size (and not overlapping the next block).
                    p.write_bytes(0xa5, size);
                    a.dealloc(p, layout);
                    a.dealloc(nudge, Layout::from_size_align(1, 1).unwrap());
                }
            }
        }
        assert!(seen > 0, "some blocks came from the arena");
    }

    #[test]
    fn exhaustion_hands_over_to_malloc_with_the_same_alignment() {
        let a = arena();
        let layout = Layout::from_size_align(1000, 1).unwrap();
        let mut from_malloc = 0;
        unsafe {
            for _ in 0..(2 * ARENA_BYTES / 1000) {
                let p = a.alloc(layout);
                assert!(!p.is_null() && (p as usize).is_multiple_of(MIN_ALIGN));
                if !a.holds(p) {
                    from_malloc += 1;
                    a.dealloc(p, layout);
                }
            }
        }
        assert!(from_malloc > 0);
    }

    #[test]
    fn concurrent_blocks_never_overlap() {
        // The probe's worker threads allocate at the same time.
        let a = arena();
        let blocks: Vec<Vec<(usize, usize)>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4u8)
                .map(|t| {
                    s.spawn(move || {
                        (0..400)
                            .map(|i| {
                                let size = 8 + (i * 7 + usize::from(t)) % 120;
                                let layout = Layout::from_size_align(size, 8).unwrap();
                                // SAFETY: a valid layout; the block is ours to write.
                                unsafe {
                                    let p = a.alloc(layout);
                                    p.write_bytes(t, size);
                                    (p as usize, size)
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let mut all: Vec<(usize, usize, u8)> = blocks
            .iter()
            .enumerate()
            .flat_map(|(t, v)| v.iter().map(move |&(p, n)| (p, n, t as u8)))
            .collect();
        all.sort_unstable();
        for w in all.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "blocks overlap: {w:?}");
        }
        for &(p, n, t) in &all {
            // SAFETY: each block is still allocated and was written above.
            let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, n) };
            assert!(
                bytes.iter().all(|&b| b == t),
                "a block was written by another thread"
            );
        }
    }

    #[test]
    fn realloc_keeps_bytes_and_alignment_across_arena_and_malloc() {
        let a = arena();
        unsafe {
            let l = Layout::from_size_align(10, 16).unwrap();
            let p = a.alloc(l);
            for i in 0..10 {
                p.add(i).write(i as u8);
            }
            // In place while newest, then out of the arena when too large.
            let q = a.realloc(p, l, 4000);
            assert_eq!(q, p);
            let l = Layout::from_size_align(4000, 16).unwrap();
            let r = a.realloc(q, l, LARGEST_IN_ARENA + 10);
            assert!(!a.holds(r) && (r as usize).is_multiple_of(16));
            let l = Layout::from_size_align(LARGEST_IN_ARENA + 10, 16).unwrap();
            let back = a.realloc(r, l, 20);
            for i in 0..10 {
                assert_eq!(*back.add(i), i as u8);
            }
            // Shrinking the newest block in place returns the space.
            let s = a.alloc(Layout::from_size_align(64, 16).unwrap());
            let s2 = a.realloc(s, Layout::from_size_align(64, 16).unwrap(), 16);
            assert_eq!(s2, s);
            let next = a.alloc(Layout::from_size_align(16, 16).unwrap());
            assert_eq!(next as usize, s as usize + 16);
        }
    }
}
