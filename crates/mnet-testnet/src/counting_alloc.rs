//! A global allocator that counts what the current thread holds: live
//! bytes, their peak, and live allocations by size class. Memory tests
//! (idle connections) install it in their test binary and compare the
//! counts before and after; other threads of the harness do not disturb
//! them (the counters are thread-local).
//!
//! ```ignore
//! use mnet_testnet::counting_alloc::{self, CountingAlloc};
//! #[global_allocator]
//! static GLOBAL: CountingAlloc = CountingAlloc;
//! let before = counting_alloc::snapshot();
//! let v = vec![0u8; 1000];
//! assert!(counting_alloc::snapshot().live - before.live >= 1000);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Size classes are 16 bytes wide up to this size; one class holds
/// everything larger.
pub const HISTOGRAM_MAX: usize = 8192;
const CLASSES: usize = HISTOGRAM_MAX / 16 + 1;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static BY_SIZE: [Cell<i64>; CLASSES] = const { [const { Cell::new(0) }; CLASSES] };
}

fn add(bytes: i64) {
    let _ = LIVE.try_with(|l| {
        let v = l.get() + bytes;
        l.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

fn class(size: usize) -> usize {
    size.div_ceil(16).min(CLASSES - 1)
}

/// One more (`n` = 1) or one fewer (-1) live allocation of `size` bytes.
fn count(size: usize, n: i64) {
    let _ = BY_SIZE.try_with(|h| h[class(size)].set(h[class(size)].get() + n));
}

/// `System`, keeping this thread's live heap bytes.
pub struct CountingAlloc;

// SAFETY: every method forwards its arguments unchanged to `System`, which
// implements `GlobalAlloc` correctly; the bookkeeping touches only
// const-initialised thread-locals and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as i64);
        count(layout.size(), 1);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as i64);
        count(layout.size(), 1);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as i64 - layout.size() as i64);
        count(layout.size(), -1);
        count(new_size, 1);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as i64));
        count(layout.size(), -1);
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// What this thread holds at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Live heap bytes (as requested, before the allocator's rounding).
    pub live: i64,
    /// Live allocations per 16-byte size class.
    pub by_size: Vec<i64>,
}

/// The counts now; also starts a new peak from here.
pub fn snapshot() -> Snapshot {
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
    Snapshot {
        live,
        by_size: BY_SIZE.with(|h| h.iter().map(Cell::get).collect()),
    }
}

/// The highest live byte count since the last [`snapshot`].
pub fn peak() -> i64 {
    PEAK.with(Cell::get)
}

/// Prints the allocations added between `before` and `after` by size
/// class, divided by `per` (connections, say), skipping classes that
/// changed by less than 1 % of `per`.
pub fn print_growth(before: &Snapshot, after: &Snapshot, per: usize) {
    for (i, (b, a)) in before.by_size.iter().zip(&after.by_size).enumerate() {
        let added = a - b;
        if added.abs() >= (per as i64 / 100).max(1) {
            let size = if i == CLASSES - 1 {
                format!(">{HISTOGRAM_MAX}")
            } else {
                format!("{}..={}", (i * 16).saturating_sub(15), i * 16)
            };
            println!(
                "  {size:>12} bytes: {added:>7} live allocations, {:.2} each",
                added as f64 / per as f64
            );
        }
    }
}
