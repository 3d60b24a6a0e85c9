//! A global allocator that counts what the current thread holds: live
//! bytes, their peak, and live allocations by size class. Memory tests
//! (idle connections) install it in their test binary and compare the
//! counts before and after; other threads of the harness do not disturb
//! them (the counters are thread-local). It also counts allocation events
//! while switched on ([`count_events`], [`set_counting`]), keeping a
//! backtrace of the first few: the no-allocation-per-packet tests.
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
use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::thread::LocalKey;

/// Size classes are 16 bytes wide up to this size; one class holds
/// everything larger.
pub const HISTOGRAM_MAX: usize = 8192;
const CLASSES: usize = HISTOGRAM_MAX / 16 + 1;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static BY_SIZE: [Cell<i64>; CLASSES] = const { [const { Cell::new(0) }; CLASSES] };
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static FREES: Cell<u64> = const { Cell::new(0) };
    static TRACES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Allocation events recorded with a backtrace, at most.
const MAX_TRACES: usize = 4;

/// Count one event if this thread is counting; keep a backtrace of the
/// first few. Counting is switched off while the backtrace is taken, so
/// its own allocations are neither counted nor traced.
fn record(what: &'static str, counter: &'static LocalKey<Cell<u64>>) {
    if !COUNTING.try_with(Cell::get).unwrap_or(false) {
        return;
    }
    let n = counter.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let events = ALLOCS.with(Cell::get) + FREES.with(Cell::get);
    if events <= MAX_TRACES as u64 {
        COUNTING.with(|c| c.set(false));
        let trace = format!("{what} #{n}:\n{}", Backtrace::force_capture());
        TRACES.with(|t| t.borrow_mut().push(trace));
        COUNTING.with(|c| c.set(true));
    }
}

/// Allocation events counted while counting was on.
#[derive(Debug, Clone, Default)]
pub struct Events {
    /// Allocations and reallocations.
    pub allocs: u64,
    pub frees: u64,
    /// Backtraces of the first few events.
    pub traces: String,
}

/// Zeroes this thread's event counters and backtraces.
pub fn reset_events() {
    ALLOCS.with(|c| c.set(0));
    FREES.with(|c| c.set(0));
    TRACES.with(|t| t.borrow_mut().clear());
}

/// Switches event counting on or off for this thread.
pub fn set_counting(on: bool) {
    COUNTING.with(|c| c.set(on));
}

/// The events counted since [`reset_events`] (the backtraces are taken).
pub fn events() -> Events {
    Events {
        allocs: ALLOCS.with(Cell::get),
        frees: FREES.with(Cell::get),
        traces: TRACES.with(|t| t.borrow_mut().drain(..).collect::<Vec<_>>().join("\n")),
    }
}

/// Runs `f` with event counting on and returns what it allocated and freed.
pub fn count_events(f: impl FnOnce()) -> Events {
    reset_events();
    set_counting(true);
    f();
    set_counting(false);
    events()
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
// const-initialised thread-locals, and allocates (a backtrace) only while
// counting is switched off for this thread, so it never recurses into its
// own tracing.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record("alloc", &ALLOCS);
        add(layout.size() as i64);
        count(layout.size(), 1);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record("alloc_zeroed", &ALLOCS);
        add(layout.size() as i64);
        count(layout.size(), 1);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record("realloc", &ALLOCS);
        add(new_size as i64 - layout.size() as i64);
        count(layout.size(), -1);
        count(new_size, 1);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record("dealloc", &FREES);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static GLOBAL: CountingAlloc = CountingAlloc;

    #[test]
    fn counts_events_only_while_on_and_live_bytes_always() {
        let before = snapshot();
        let e = count_events(|| {
            let v = std::hint::black_box(vec![1u8; 1000]);
            drop(v);
        });
        assert_eq!((e.allocs, e.frees), (1, 1), "{}", e.traces);
        assert!(e.traces.contains("alloc #1"), "{}", e.traces);
        let kept = std::hint::black_box(vec![0u8; 4096]);
        assert!(snapshot().live - before.live >= 4096);
        assert_eq!(count_events(|| {}).allocs, 0);
        drop(kept);
    }
}
