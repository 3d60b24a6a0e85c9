//! mnet's small executor (no_std): wakes only ready tasks and, when nothing
//! is ready, asks the [`Platform`] to sleep until the device is readable or
//! the next deadline — an idle stack uses no CPU.
//!
//! It is single-threaded: tasks need not be `Send`. The socket handles do
//! not depend on it; under tokio they work the same.
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
use core::sync::atomic::{AtomicBool, Ordering};
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

/// Set when any task of the executor was woken.
struct ReadyFlag(AtomicBool);

struct TaskWaker {
    woken: AtomicBool,
    any: Arc<ReadyFlag>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.any.0.store(true, Ordering::Release);
    }
}

struct Task {
    future: LocalTask,
    flag: Arc<TaskWaker>,
    waker: Waker,
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
    tasks: Vec<Task>,
    incoming: Rc<RefCell<Vec<LocalTask>>>,
    any: Arc<ReadyFlag>,
}

impl Default for Executor {
    fn default() -> Self {
        Self::new()
    }
}

impl Executor {
    pub fn new() -> Self {
        Executor {
            tasks: Vec::new(),
            incoming: Rc::new(RefCell::new(Vec::new())),
            any: Arc::new(ReadyFlag(AtomicBool::new(true))),
        }
    }

    /// A handle for spawning tasks.
    pub fn spawner(&self) -> Spawner {
        Spawner {
            incoming: self.incoming.clone(),
        }
    }

    fn new_waker(&self) -> (Arc<TaskWaker>, Waker) {
        let flag = Arc::new(TaskWaker {
            woken: AtomicBool::new(true),
            any: self.any.clone(),
        });
        let waker = Waker::from(flag.clone());
        (flag, waker)
    }

    /// Poll every task whose waker fired (new tasks count as woken).
    /// Returns whether any task was polled.
    /// One pass: a task that wakes itself again runs in the next round,
    /// after the drivers had their turn (no starvation of the devices).
    fn run_ready(&mut self) -> bool {
        let mut polled = false;
        let new: Vec<LocalTask> = core::mem::take(&mut *self.incoming.borrow_mut());
        for future in new {
            let (flag, waker) = self.new_waker();
            self.tasks.push(Task { future, flag, waker });
        }
        if !self.any.0.swap(false, Ordering::AcqRel) {
            return false;
        }
        let mut i = 0;
        while i < self.tasks.len() {
            let t = &mut self.tasks[i];
            if t.flag.woken.swap(false, Ordering::AcqRel) {
                polled = true;
                let mut cx = Context::from_waker(&t.waker);
                if t.future.as_mut().poll(&mut cx).is_ready() {
                    self.tasks.swap_remove(i);
                    continue;
                }
            }
            i += 1;
        }
        if !self.incoming.borrow().is_empty() {
            self.any.0.store(true, Ordering::Release);
        }
        polled
    }

    /// Run `main` and the spawned tasks to `main`'s completion, driving the
    /// stacks in `drivers` and sleeping on `platform` when nothing is ready.
    pub fn block_on<F: Future>(&mut self, platform: &mut dyn Platform, drivers: &mut [&mut dyn Driver], main: F) -> F::Output {
        let mut main = core::pin::pin!(main);
        let (main_flag, main_waker) = self.new_waker();
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
            if busy || main_flag.woken.load(Ordering::Acquire) || self.any.0.load(Ordering::Acquire) {
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
        self.tasks.len()
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
}
