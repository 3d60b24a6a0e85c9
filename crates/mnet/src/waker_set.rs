//! The tasks waiting on one socket event, in bounded memory.
//!
//! Like a Unix socket, an mnet socket may have several tasks waiting on it
//! at once (two tasks calling `accept` on one listener, a reader and a
//! `flush`). A [`WakerSet`] keeps up to [`MAX_WAITERS`] of them; the same
//! task registering again replaces its own entry (`Waker::will_wake`), so a
//! task that polls in a loop holds one slot. When the set is full the
//! oldest waiter is woken early to make room: it polls again and either
//! finds its event or registers anew, so nobody is forgotten and memory
//! stays fixed.

use core::task::Waker;

/// How many distinct tasks one socket event remembers.
pub const MAX_WAITERS: usize = 4;

/// Up to [`MAX_WAITERS`] wakers, oldest first.
#[derive(Debug, Default)]
pub struct WakerSet {
    slots: [Option<Waker>; MAX_WAITERS],
}

impl WakerSet {
    pub const fn new() -> WakerSet {
        WakerSet {
            slots: [const { None }; MAX_WAITERS],
        }
    }

    /// Remember `waker` (once per task).
    pub fn register(&mut self, waker: &Waker) {
        if let Some(slot) = self.slots.iter_mut().flatten().find(|w| w.will_wake(waker)) {
            slot.clone_from(waker);
            return;
        }
        if let Some(slot) = self.slots.iter_mut().find(|s| s.is_none()) {
            *slot = Some(waker.clone());
            return;
        }
        // Full: wake the oldest so it re-polls, and keep the newest.
        self.slots.rotate_left(1);
        if let Some(oldest) = self.slots[MAX_WAITERS - 1].replace(waker.clone()) {
            oldest.wake();
        }
    }

    /// Wake every waiting task and forget them.
    pub fn wake_all(&mut self) {
        for w in self.slots.iter_mut().filter_map(Option::take) {
            w.wake();
        }
    }

    /// Forget every waiter without waking it.
    pub fn clear(&mut self) {
        self.slots = [const { None }; MAX_WAITERS];
    }

    /// Whether no task waits.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn waker() -> (Arc<Count>, Waker) {
        let c = Arc::new(Count(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn every_distinct_task_is_woken_once() {
        let mut set = WakerSet::new();
        let (a, wa) = waker();
        let (b, wb) = waker();
        set.register(&wa);
        set.register(&wb);
        set.register(&wa); // the same task again: one slot
        set.wake_all();
        assert_eq!(a.0.load(Ordering::Relaxed), 1);
        assert_eq!(b.0.load(Ordering::Relaxed), 1);
        assert!(set.is_empty());
        set.wake_all();
        assert_eq!(a.0.load(Ordering::Relaxed), 1, "woken tasks are forgotten");
    }

    #[test]
    fn a_full_set_wakes_its_oldest_to_make_room() {
        let mut set = WakerSet::new();
        let tasks: alloc::vec::Vec<_> = (0..MAX_WAITERS + 1).map(|_| waker()).collect();
        for (_, w) in &tasks {
            set.register(w);
        }
        // The first was woken early (to re-poll); the rest wait.
        let counts: alloc::vec::Vec<usize> = tasks.iter().map(|(c, _)| c.0.load(Ordering::Relaxed)).collect();
        assert_eq!(counts[0], 1);
        assert!(counts[1..].iter().all(|&n| n == 0), "{counts:?}");
        set.wake_all();
        assert!(tasks.iter().all(|(c, _)| c.0.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn clear_forgets_without_waking() {
        let mut set = WakerSet::new();
        let (a, wa) = waker();
        set.register(&wa);
        set.clear();
        set.wake_all();
        assert_eq!(a.0.load(Ordering::Relaxed), 0);
    }
}
