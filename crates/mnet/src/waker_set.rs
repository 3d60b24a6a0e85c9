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

use alloc::boxed::Box;
use core::task::Waker;

/// How many distinct tasks one socket event remembers.
pub const MAX_WAITERS: usize = 4;

/// Up to [`MAX_WAITERS`] wakers, oldest first. The first is kept inline;
/// the others in a box made when a second task waits (rare: most events
/// have one waiter), so that an idle connection's two sets cost 24 bytes
/// each, not 64.
#[derive(Debug, Default)]
pub struct WakerSet {
    /// The oldest waiter.
    first: Option<Waker>,
    /// The others, oldest first; once made, kept until [`WakerSet::clear`]
    /// (no allocation each time two tasks wait again).
    more: Option<Box<[Option<Waker>; MAX_WAITERS - 1]>>,
}

impl WakerSet {
    pub const fn new() -> WakerSet {
        WakerSet { first: None, more: None }
    }

    /// Remember `waker` (once per task).
    pub fn register(&mut self, waker: &Waker) {
        // One task: the common case, no box.
        if self.more.is_none() {
            match &mut self.first {
                Some(w) if w.will_wake(waker) => {
                    w.clone_from(waker);
                    return;
                }
                None => {
                    self.first = Some(waker.clone());
                    return;
                }
                Some(_) => {}
            }
        }
        let more = self.more.get_or_insert_with(|| Box::new([const { None }; MAX_WAITERS - 1]));
        let first = &mut self.first;
        let mut slots: [Option<Waker>; MAX_WAITERS] = core::array::from_fn(|i| if i == 0 { first.take() } else { more[i - 1].take() });
        register_in(&mut slots, waker);
        for (i, w) in slots.into_iter().enumerate() {
            if i == 0 {
                *first = w;
            } else {
                more[i - 1] = w;
            }
        }
    }

    /// Wake every waiting task and forget them.
    pub fn wake_all(&mut self) {
        if let Some(w) = self.first.take() {
            w.wake();
        }
        for w in self.more.iter_mut().flat_map(|m| m.iter_mut()).filter_map(Option::take) {
            w.wake();
        }
    }

    /// Forget every waiter without waking it.
    pub fn clear(&mut self) {
        self.first = None;
        self.more = None;
    }

    /// Whether no task waits.
    pub fn is_empty(&self) -> bool {
        self.first.is_none() && self.more.iter().flat_map(|m| m.iter()).all(Option::is_none)
    }
}

/// Remember `waker` in `slots` (oldest first): in its own slot if its task
/// is there already, else in the first free one; when all are taken, the
/// oldest is woken early to make room (it polls again and registers anew).
fn register_in(slots: &mut [Option<Waker>; MAX_WAITERS], waker: &Waker) {
    if let Some(slot) = slots.iter_mut().flatten().find(|w| w.will_wake(waker)) {
        slot.clone_from(waker);
        return;
    }
    if let Some(slot) = slots.iter_mut().find(|s| s.is_none()) {
        *slot = Some(waker.clone());
        return;
    }
    slots.rotate_left(1);
    if let Some(oldest) = slots[MAX_WAITERS - 1].replace(waker.clone()) {
        oldest.wake();
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
    fn a_set_is_three_words() {
        assert_eq!(core::mem::size_of::<WakerSet>(), 24);
    }

    #[test]
    fn a_second_waiter_after_a_wake_keeps_the_order() {
        let mut set = WakerSet::new();
        let (a, wa) = waker();
        let (b, wb) = waker();
        set.register(&wa);
        set.register(&wb);
        set.wake_all();
        assert!(set.is_empty());
        set.register(&wb);
        set.register(&wa);
        assert!(!set.is_empty());
        set.wake_all();
        assert_eq!(a.0.load(Ordering::Relaxed), 2);
        assert_eq!(b.0.load(Ordering::Relaxed), 2);
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
