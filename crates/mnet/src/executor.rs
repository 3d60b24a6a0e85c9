//! mnet's small executor (no_std): wakes only ready tasks and, when nothing
//! is ready, asks the [`Platform`] to sleep until the device is readable or
//! the next deadline — an idle stack uses no CPU.
//!
//! It is single-threaded: tasks need not be `Send`. The socket handles do
//! not depend on it; under tokio they work the same.
//!
//! A round costs what was woken, not what is alive: each task has a slot
//! (reused after it finishes, through a free list), and a waker — `Send`
//! and `Sync`, it may fire on another thread — sets its slot's bit in a
//! two-level bitmap (64 words of 64 bits under one summary word, per 4,096
//! slots). A round reads one summary word per 4,096 tasks and visits only
//! the set bits, so 10,000 idle connections beside a busy one cost nothing
//! per round. Wakes and polls allocate nothing (`tests/no_alloc.rs`).
//!
//! ```
//! use mnet::executor::Executor;
//! let mut ex = Executor::new();
//! let spawner = ex.spawner();
//! let out = ex.block_on_local(async move {
//!     spawner.spawn(async {});
//!     40 + 2
//! });
//! assert_eq!(out, 42);
//! ```

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::task::{Context, Poll, Waker};

use crate::time::{Instant, earliest};

/// What a platform (TAP on Linux, the unikernel, the simulator) supplies to
/// the executor: a clock and a way to sleep.
pub trait Platform {
    /// The current time on this platform's clock.
    fn now(&mut self) -> Instant;

    /// Sleep until the device may have frames to read, or `deadline`
    /// passes (`None`: no deadline), or a waker fired from elsewhere.
    /// Returning early is always allowed.
    fn wait(&mut self, deadline: Option<Instant>);
}

/// Something the executor drives between task polls: a stack and its
/// device (`socket::Interface`), or a whole simulated network.
pub trait Driver {
    /// Move frames and run timers; `true` if anything happened (the
    /// executor then drives again before it sleeps).
    fn drive(&mut self, now: Instant) -> bool;
    /// Hand the frames that tasks queued to the device, without reading
    /// it: the executor calls this right after polling tasks, so a reply
    /// leaves before the device is asked for more input (a read that finds
    /// nothing costs a system call on a TAP, on the reply's path). `true`
    /// if anything moved. The default drives fully.
    fn flush(&mut self, now: Instant) -> bool {
        self.drive(now)
    }
    /// When `drive` must run next at the latest.
    fn poll_at(&self) -> Option<Instant>;
}

type LocalTask = Pin<Box<dyn Future<Output = ()>>>;

/// Task slots per [`ReadyChunk`]: one summary word over 64 words of 64 bits.
const CHUNK_SLOTS: usize = 64 * 64;

/// Which of 4,096 task slots were woken: bit `i % 64` of `words[i / 64]`
/// for slot `i` (counted from the chunk's first), and bit `w` of `summary`
/// when `words[w]` may be non-zero. A round reads one summary word per
/// 4,096 tasks and then only the words and bits that are set.
struct ReadyChunk {
    summary: AtomicU64,
    words: [AtomicU64; 64],
}

impl ReadyChunk {
    fn new() -> Self {
        ReadyChunk {
            summary: AtomicU64::new(0),
            words: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// The waker of one spawned task. `woken` is the task's own flag; the
/// chunk's bit for its slot only says "look at this slot". A waker that
/// outlives its task may still set the bit after the slot went to a new
/// task, but the new task's `woken` stays clear, so it is not polled.
struct TaskWaker {
    woken: AtomicBool,
    /// The slot's index within `chunk`.
    bit: u16,
    chunk: Arc<ReadyChunk>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        // The flag first, then the bits that lead to it: whoever clears a
        // bit and then swaps the flag sees this wake (or the bit stays set
        // for the next round).
        self.woken.store(true, Ordering::Release);
        let w = usize::from(self.bit / 64);
        let Some(word) = self.chunk.words.get(w) else { return };
        // A word that had bits set already has (or is about to get, from
        // the waker that set them) its summary bit.
        if word.fetch_or(1 << (self.bit % 64), Ordering::AcqRel) == 0 {
            self.chunk.summary.fetch_or(1 << w, Ordering::AcqRel);
        }
    }
}

/// The waker of `block_on`'s `main` future, which is polled every round
/// it was woken, before the tasks.
struct MainWaker {
    woken: AtomicBool,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
    }
}

struct Task {
    future: LocalTask,
    flag: Arc<TaskWaker>,
    waker: Waker,
}

/// The spawned tasks, by slot; a finished task's slot is reused (free list).
#[derive(Default)]
struct Slots {
    tasks: Vec<Option<Task>>,
    free: Vec<u32>,
    live: usize,
    /// Slots looked at by `poll` (tests check that idle tasks cost nothing).
    #[cfg(test)]
    examined: usize,
}

impl Slots {
    /// Poll the task in slot `index` if its own flag says it was woken;
    /// free the slot when it completes. Whether it was polled.
    fn poll(&mut self, index: usize) -> bool {
        #[cfg(test)]
        {
            self.examined += 1;
        }
        let Some(Some(task)) = self.tasks.get_mut(index) else {
            return false;
        };
        if !task.flag.woken.swap(false, Ordering::AcqRel) {
            return false;
        }
        let mut cx = Context::from_waker(&task.waker);
        if task.future.as_mut().poll(&mut cx).is_ready() {
            self.free_slot(index);
        }
        true
    }

    fn free_slot(&mut self, index: usize) {
        // Dropping the future may spawn or wake: nothing is borrowed.
        if self.tasks.get_mut(index).and_then(Option::take).is_some() {
            self.live -= 1;
            // Slot indices fit in u32: `insert` never makes more.
            self.free.push(index as u32);
        }
    }
}

/// Spawns tasks onto an [`Executor`] from inside other tasks.
#[derive(Clone)]
pub struct Spawner {
    incoming: Rc<RefCell<Vec<LocalTask>>>,
}

impl Spawner {
    /// Run `fut` concurrently with the others, until it completes.
    pub fn spawn(&self, fut: impl Future<Output = ()> + 'static) {
        self.incoming.borrow_mut().push(Box::pin(fut));
    }
}

/// A single-threaded executor. See the module documentation.
pub struct Executor {
    slots: Slots,
    /// One per [`CHUNK_SLOTS`] slots, created as the slots grow.
    chunks: Vec<Arc<ReadyChunk>>,
    incoming: Rc<RefCell<Vec<LocalTask>>>,
    /// The other half of `incoming`'s double buffer (keeps its capacity).
    arriving: Vec<LocalTask>,
}

impl Default for Executor {
    fn default() -> Self {
        Self::new()
    }
}

impl Executor {
    pub fn new() -> Self {
        Executor {
            slots: Slots::default(),
            chunks: Vec::new(),
            incoming: Rc::new(RefCell::new(Vec::new())),
            arriving: Vec::new(),
        }
    }

    /// A handle for spawning tasks.
    pub fn spawner(&self) -> Spawner {
        Spawner {
            incoming: self.incoming.clone(),
        }
    }

    /// Give `future` a slot (a free one first) and a waker, woken: a new
    /// task is polled in the round it arrives.
    fn insert(&mut self, future: LocalTask) {
        let slots = &mut self.slots;
        let index = match slots.free.pop() {
            Some(i) => i as usize,
            None if slots.tasks.len() < u32::MAX as usize => {
                slots.tasks.push(None);
                slots.tasks.len() - 1
            }
            // 4 billion live tasks: memory ran out long before.
            None => panic!("executor: no task slot left"),
        };
        let c = index / CHUNK_SLOTS;
        while self.chunks.len() <= c {
            self.chunks.push(Arc::new(ReadyChunk::new()));
        }
        let flag = Arc::new(TaskWaker {
            woken: AtomicBool::new(false),
            bit: (index % CHUNK_SLOTS) as u16,
            chunk: self.chunks[c].clone(),
        });
        let waker = Waker::from(flag.clone());
        waker.wake_by_ref();
        slots.tasks[index] = Some(Task { future, flag, waker });
        slots.live += 1;
    }

    /// Poll every task whose waker fired (new tasks count as woken), in
    /// slot order; only set bits of the ready chunks are visited.
    /// Returns whether any task was polled.
    /// One pass: a task that wakes itself again runs in the next round,
    /// after the drivers had their turn (no starvation of the devices):
    /// its word of bits was taken before it was polled.
    fn run_ready(&mut self) -> bool {
        core::mem::swap(&mut self.arriving, &mut *self.incoming.borrow_mut());
        let mut arriving = core::mem::take(&mut self.arriving);
        for future in arriving.drain(..) {
            self.insert(future);
        }
        self.arriving = arriving;
        let mut polled = false;
        let Executor { slots, chunks, .. } = self;
        for (c, chunk) in chunks.iter().enumerate() {
            // One plain load per 4,096 tasks when none of them was woken.
            if chunk.summary.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut summary = chunk.summary.swap(0, Ordering::AcqRel);
            while summary != 0 {
                let w = summary.trailing_zeros() as usize;
                summary &= summary - 1;
                let Some(word) = chunk.words.get(w) else { continue };
                let mut bits = word.swap(0, Ordering::AcqRel);
                while bits != 0 {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    polled |= slots.poll(c * CHUNK_SLOTS + w * 64 + b);
                }
            }
        }
        polled
    }

    /// Whether a task is woken or waits to be polled for the first time
    /// (spawned during the last round): the next round has work.
    fn tasks_ready(&self) -> bool {
        !self.incoming.borrow().is_empty() || self.chunks.iter().any(|c| c.summary.load(Ordering::Acquire) != 0)
    }

    /// Run `main` and the spawned tasks to `main`'s completion, driving the
    /// stacks in `drivers` and sleeping on `platform` when nothing is ready.
    pub fn block_on<F: Future>(&mut self, platform: &mut dyn Platform, drivers: &mut [&mut dyn Driver], main: F) -> F::Output {
        let mut main = core::pin::pin!(main);
        let main_flag = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
        });
        let main_waker = Waker::from(main_flag.clone());
        loop {
            let now = platform.now();
            let mut busy = false;
            for d in drivers.iter_mut() {
                busy |= d.drive(now);
            }
            if main_flag.woken.swap(false, Ordering::AcqRel) {
                busy = true;
                if let Poll::Ready(v) = main.as_mut().poll(&mut Context::from_waker(&main_waker)) {
                    return v;
                }
            }
            busy |= self.run_ready();
            // Tasks may have queued frames: hand them to the devices now
            // (input waits for the next round, after the replies left).
            for d in drivers.iter_mut() {
                busy |= d.flush(now);
            }
            if busy || main_flag.woken.load(Ordering::Acquire) || self.tasks_ready() {
                continue;
            }
            let deadline = drivers.iter().fold(None, |acc, d| earliest(acc, d.poll_at()));
            if deadline.is_some_and(|at| at <= now) {
                // A timer (or looped-back traffic) is already due: no sleep.
                continue;
            }
            platform.wait(deadline);
        }
    }

    /// Run `main` with no stack and no platform (tasks that only wait on
    /// each other). Panics if everything is blocked, which would otherwise
    /// hang forever.
    pub fn block_on_local<F: Future>(&mut self, main: F) -> F::Output {
        struct NoPlatform;
        impl Platform for NoPlatform {
            fn now(&mut self) -> Instant {
                Instant::ZERO
            }
            fn wait(&mut self, _: Option<Instant>) {
                panic!("block_on_local: every task is blocked");
            }
        }
        self.block_on(&mut NoPlatform, &mut [], main)
    }

    /// Tasks still alive.
    pub fn task_count(&self) -> usize {
        self.slots.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use core::cell::Cell;

    /// A clock that stands still at 10 s; counts how often it was asked to sleep.
    struct CountingPlatform {
        waits: Rc<Cell<u32>>,
    }

    impl Platform for CountingPlatform {
        fn now(&mut self) -> Instant {
            Instant::from_secs(10)
        }
        fn wait(&mut self, _: Option<Instant>) {
            self.waits.set(self.waits.get() + 1);
        }
    }

    /// Records `d` for drive and `f` for flush; asks to be polled at
    /// `poll_at`.
    struct RecordingDriver {
        log: Rc<RefCell<String>>,
        poll_at: Option<Instant>,
    }

    impl Driver for RecordingDriver {
        fn drive(&mut self, _: Instant) -> bool {
            self.log.borrow_mut().push('d');
            false
        }
        fn flush(&mut self, _: Instant) -> bool {
            self.log.borrow_mut().push('f');
            false
        }
        fn poll_at(&self) -> Option<Instant> {
            self.poll_at
        }
    }

    /// Pending `n` times (waking itself each time), then ready.
    fn yield_times(n: u32) -> impl Future<Output = ()> {
        let mut left = n;
        core::future::poll_fn(move |cx| {
            if left == 0 {
                return Poll::Ready(());
            }
            left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    }

    #[test]
    fn after_the_tasks_the_devices_are_flushed_not_read() {
        let log = Rc::new(RefCell::new(String::new()));
        let mut d = RecordingDriver {
            log: log.clone(),
            poll_at: None,
        };
        let waits = Rc::new(Cell::new(0));
        let mut p = CountingPlatform { waits: waits.clone() };
        Executor::new().block_on(&mut p, &mut [&mut d], yield_times(2));
        // Round 1: drive, main pending, flush; round 2 the same; round 3:
        // drive, main ready.
        assert_eq!(log.borrow().as_str(), "dfdfd");
        assert_eq!(waits.get(), 0, "a woken task never sleeps");
    }

    /// Due at 3 s (the clock says 10 s) until it ran `due_rounds` times,
    /// then wakes `main` and asks for nothing more.
    struct TimerDriver {
        drives: Rc<Cell<u32>>,
        due_rounds: u32,
        main: Rc<RefCell<Option<Waker>>>,
    }

    impl Driver for TimerDriver {
        fn drive(&mut self, _: Instant) -> bool {
            self.drives.set(self.drives.get() + 1);
            if self.drives.get() == self.due_rounds
                && let Some(w) = self.main.borrow_mut().take()
            {
                w.wake();
            }
            false
        }
        fn poll_at(&self) -> Option<Instant> {
            (self.drives.get() < self.due_rounds).then_some(Instant::from_secs(3))
        }
    }

    #[test]
    fn a_deadline_already_due_is_not_slept_on() {
        let drives = Rc::new(Cell::new(0));
        let main_waker = Rc::new(RefCell::new(None));
        let mut d = TimerDriver {
            drives: drives.clone(),
            due_rounds: 10,
            main: main_waker.clone(),
        };
        let waits = Rc::new(Cell::new(0));
        let mut p = CountingPlatform { waits: waits.clone() };
        let seen = drives.clone();
        let main = core::future::poll_fn(move |cx| {
            if seen.get() >= 10 {
                return Poll::Ready(());
            }
            *main_waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        });
        Executor::new().block_on(&mut p, &mut [&mut d], main);
        // drive+flush per round; rounds 2-10 came from the due deadline alone.
        assert!(drives.get() >= 10, "{}", drives.get());
        assert_eq!(waits.get(), 0, "slept although the deadline was due");
    }

    /// Records `d` for drive and `f` for flush into a shared log.
    fn logging_driver(log: &Rc<RefCell<String>>) -> RecordingDriver {
        RecordingDriver {
            log: log.clone(),
            poll_at: None,
        }
    }

    #[test]
    fn only_woken_tasks_are_polled_and_looked_at() {
        const IDLE: usize = 10_000;
        const YIELDS: u32 = 100;
        let idle_polls = Rc::new(Cell::new(0u32));
        let busy_polls = Rc::new(Cell::new(0u32));
        let mut ex = Executor::new();
        let spawner = ex.spawner();
        for _ in 0..IDLE {
            let polls = idle_polls.clone();
            spawner.spawn(core::future::poll_fn(move |_| {
                polls.set(polls.get() + 1);
                Poll::<()>::Pending
            }));
        }
        // The first round polls every new task once.
        ex.block_on_local(yield_times(1));
        assert_eq!(idle_polls.get(), IDLE as u32);
        let examined_before = ex.slots.examined;
        let polls = busy_polls.clone();
        let mut busy = yield_times(YIELDS);
        spawner.spawn(core::future::poll_fn(move |cx| {
            polls.set(polls.get() + 1);
            Future::poll(Pin::new(&mut busy), cx)
        }));
        ex.block_on_local(yield_times(2 * YIELDS));
        assert_eq!(busy_polls.get(), YIELDS + 1, "pending {YIELDS} times, then done");
        assert_eq!(idle_polls.get(), IDLE as u32, "an idle task was polled again");
        assert_eq!(ex.task_count(), IDLE);
        // Only the busy task's slot was looked at, once per poll: not the
        // 10,000 idle ones each round.
        assert_eq!(ex.slots.examined - examined_before, (YIELDS + 1) as usize);
        // Its slot is free again and taken by the next task.
        assert_eq!(ex.slots.free, [IDLE as u32]);
    }

    #[test]
    fn a_task_woken_from_another_thread_runs() {
        use std::sync::Mutex;
        /// Sleeps a millisecond per wait; gives up after 5 s.
        struct SleepingPlatform(u32);
        impl Platform for SleepingPlatform {
            fn now(&mut self) -> Instant {
                Instant::ZERO
            }
            fn wait(&mut self, _: Option<Instant>) {
                self.0 += 1;
                assert!(self.0 < 5_000, "the woken task never ran");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
        let fired = Arc::new(AtomicBool::new(false));
        let mut ex = Executor::new();
        let spawner = ex.spawner();
        let done = Rc::new(Cell::new(false));
        let (task_slot, task_fired, task_done) = (slot.clone(), fired.clone(), done.clone());
        spawner.spawn(core::future::poll_fn(move |cx| {
            if task_fired.load(Ordering::Acquire) {
                task_done.set(true);
                return Poll::Ready(());
            }
            *task_slot.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }));
        let thread = std::thread::spawn(move || {
            let waker = loop {
                if let Some(w) = slot.lock().unwrap().take() {
                    break w;
                }
                std::thread::yield_now();
            };
            fired.store(true, Ordering::Release);
            waker.wake();
        });
        let seen = done.clone();
        let main = core::future::poll_fn(move |cx| {
            if seen.get() {
                return Poll::Ready(());
            }
            // Asks again each round (the thread's wake is seen there).
            cx.waker().wake_by_ref();
            Poll::Pending
        });
        ex.block_on(&mut SleepingPlatform(0), &mut [], main);
        thread.join().unwrap();
        assert!(done.get());
        assert_eq!(ex.task_count(), 0);
    }

    #[test]
    fn a_reused_slot_gets_no_stale_wake() {
        let mut ex = Executor::new();
        let spawner = ex.spawner();
        let old: Rc<RefCell<Option<Waker>>> = Rc::new(RefCell::new(None));
        let keep = old.clone();
        spawner.spawn(core::future::poll_fn(move |cx| {
            *keep.borrow_mut() = Some(cx.waker().clone());
            Poll::Ready(())
        }));
        ex.block_on_local(yield_times(1));
        assert_eq!(ex.task_count(), 0);
        let polls = Rc::new(Cell::new(0u32));
        let counted = polls.clone();
        spawner.spawn(core::future::poll_fn(move |_| {
            counted.set(counted.get() + 1);
            Poll::<()>::Pending
        }));
        ex.block_on_local(yield_times(1));
        assert_eq!(ex.slots.tasks.len(), 1, "the finished task's slot was not reused");
        assert_eq!(polls.get(), 1);
        // The finished task's waker fires: its slot now holds another task.
        old.borrow_mut().take().unwrap().wake();
        ex.block_on_local(yield_times(3));
        assert_eq!(polls.get(), 1, "a stale wake polled the slot's new task");
    }

    #[test]
    fn a_self_waking_task_runs_once_per_round_after_the_drivers() {
        let log = Rc::new(RefCell::new(String::new()));
        let mut d = logging_driver(&log);
        let mut ex = Executor::new();
        let spawner = ex.spawner();
        let (task_log, child_log, inner) = (log.clone(), log.clone(), spawner.clone());
        let mut yields = yield_times(2);
        let mut spawned = false;
        spawner.spawn(core::future::poll_fn(move |cx| {
            task_log.borrow_mut().push('t');
            if !spawned {
                spawned = true;
                let child_log = child_log.clone();
                // Spawned from inside a task: it runs in the next round.
                inner.spawn(async move { child_log.borrow_mut().push('c') });
            }
            Future::poll(Pin::new(&mut yields), cx)
        }));
        let waits = Rc::new(Cell::new(0));
        let mut p = CountingPlatform { waits: waits.clone() };
        ex.block_on(&mut p, &mut [&mut d], yield_times(4));
        // Rounds 1-3: drive, the task (and its child in round 2), flush;
        // round 4: nothing woken but main; round 5: main done.
        assert_eq!(log.borrow().as_str(), "dtfdtcfdtfdfd");
        assert_eq!(ex.task_count(), 0);
        assert_eq!(waits.get(), 0);
    }

    #[test]
    fn woken_tasks_run_in_slot_order() {
        let log = Rc::new(RefCell::new(String::new()));
        let wakers: Rc<RefCell<Vec<Waker>>> = Rc::new(RefCell::new(Vec::new()));
        let mut ex = Executor::new();
        let spawner = ex.spawner();
        for name in ['a', 'b', 'c'] {
            let (log, wakers) = (log.clone(), wakers.clone());
            spawner.spawn(core::future::poll_fn(move |cx| {
                log.borrow_mut().push(name);
                wakers.borrow_mut().push(cx.waker().clone());
                Poll::<()>::Pending
            }));
        }
        ex.block_on_local(yield_times(1));
        // Woken in reverse order, they still run by slot.
        for w in wakers.borrow_mut().drain(..).rev() {
            w.wake();
        }
        ex.block_on_local(yield_times(1));
        assert_eq!(log.borrow().as_str(), "abcabc");
    }
}
