//! mnet under tokio: open the device, get `(net, runner)`, spawn the
//! runner, and use the sockets from any tokio task.
//!
//! The [`Runner`] is the one task that owns the device and drives the
//! engine. It loops: feed every ready frame to the engine, run due timers,
//! hand queued frames to the device ([`Net::poll_device`]); then sleep
//! until the first of
//!
//! - the device is readable (or writable again, after it refused a frame:
//!   back-pressure), seen through [`tokio::io::unix::AsyncFd`],
//! - a socket operation from another task queued frames or timers: the
//!   runner's waker is registered with [`Net::set_driver_waker`] and fires
//!   a [`tokio::sync::Notify`],
//! - the engine's next timer ([`Net::poll_at`]), with
//!   [`tokio::time::sleep_until`].
//!
//! An idle stack uses no CPU: nothing wakes the runner but those three.
//! [`Runner::counters`] tells how often it woke and why.
//!
//! Concurrency model: [`Net`] and the socket handles are `Send + Sync`; the
//! engine sits behind a mutex that is held only inside one engine call,
//! never across an `.await` (the [`Net`] API takes closures, so it cannot
//! be). The runner's future is `Send` whenever the device is, so it runs on
//! tokio's multi-thread runtime. Time is mnet's [`Instant`]: microseconds
//! since [`open`] (a `std::time::Instant` base, which is tokio's clock too).
//!
//! Error model: [`open`] fails with an `io::Error` outside a tokio runtime
//! or when the descriptor cannot join tokio's reactor; [`Runner::run`]
//! returns only when the reactor fails. Device errors at run time are the
//! device's to count and log (see [`crate::TapCounters`]). Dropping or
//! aborting the runner's task stops the stack: socket operations then wait
//! forever (wrap them in [`mnet::socket::timeout`] or tokio's).
//!
//! ```no_run
//! use std::io::Read;
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let mut seed = [0u8; 32];
//!     std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
//!     let config = mnet::Config::new(mnet_tap::random_mac(), seed).address("10.0.0.2/24".parse().unwrap());
//!     let (net, runner) = mnet_tap::tokio_runner::open(mnet_tap::TapDevice::open("tap0")?, config)?;
//!     tokio::spawn(runner.run());
//!
//!     let sock = net.udp_bind("0.0.0.0:7".parse().unwrap())?;
//!     let mut buf = vec![0u8; 65_535];
//!     loop {
//!         let (n, peer) = sock.recv_from(&mut buf).await?;
//!         sock.send_to(&buf[..n.min(buf.len())], peer).await?;
//!     }
//! }
//! ```

use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Poll, Wake, Waker};

use mnet::link::{Device, DeviceCapabilities, FrameMeta, TxError};
use mnet::{Config, Instant, Net, Stack};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

use crate::TapDevice;

/// Builds the stack for `config` on `tap`, and the runner that drives it.
///
/// Call it from within a tokio runtime (the tap joins that runtime's
/// reactor), then spawn [`Runner::run`].
pub fn open(tap: TapDevice, config: Config) -> io::Result<(Net, Runner<TapDevice>)> {
    Runner::new(tap, config)
}

/// mnet's clock under tokio: microseconds since a `std::time::Instant`
/// taken when the stack was built.
#[derive(Debug, Clone, Copy)]
struct Clock {
    base: std::time::Instant,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            base: std::time::Instant::now(),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_micros(u64::try_from(self.base.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    /// `at` on tokio's clock; `None` when it is too far away to name (then
    /// it is as good as never).
    fn deadline(&self, at: Instant) -> Option<tokio::time::Instant> {
        let since_base = std::time::Duration::from_micros(at.total_micros());
        self.base.checked_add(since_base).map(tokio::time::Instant::from_std)
    }
}

/// The runner's waker, handed to [`Net::set_driver_waker`]: it stores a
/// permit in the [`Notify`] when nobody waits yet, so a socket operation
/// that lands while the runner is busy driving is not lost.
struct DriverSignal {
    notify: Notify,
}

impl Wake for DriverSignal {
    fn wake(self: Arc<Self>) {
        self.notify.notify_one();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.notify.notify_one();
    }
}

/// How often a [`Runner`]'s loop went round, and what woke it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunnerCounts {
    /// Rounds of the loop (one [`Net::poll_device`] each).
    pub loops: u64,
    /// Wakeups because the device became readable (or writable again).
    pub device_wakes: u64,
    /// Wakeups because a socket operation queued frames or timers.
    pub socket_wakes: u64,
    /// Wakeups because the engine's next timer was due.
    pub timer_wakes: u64,
    /// Rounds that received a whole batch and went round again without
    /// sleeping (more frames may have been waiting).
    pub full_batches: u64,
}

/// A live view of a [`Runner`]'s [`RunnerCounts`], usable from any thread
/// while the runner runs. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct RunnerCounters {
    inner: Arc<AtomicCounts>,
}

#[derive(Debug, Default)]
struct AtomicCounts {
    loops: AtomicU64,
    device_wakes: AtomicU64,
    socket_wakes: AtomicU64,
    timer_wakes: AtomicU64,
    full_batches: AtomicU64,
}

impl RunnerCounters {
    /// The counts so far.
    pub fn get(&self) -> RunnerCounts {
        let AtomicCounts {
            loops,
            device_wakes,
            socket_wakes,
            timer_wakes,
            full_batches,
        } = &*self.inner;
        RunnerCounts {
            loops: loops.load(Ordering::Relaxed),
            device_wakes: device_wakes.load(Ordering::Relaxed),
            socket_wakes: socket_wakes.load(Ordering::Relaxed),
            timer_wakes: timer_wakes.load(Ordering::Relaxed),
            full_batches: full_batches.load(Ordering::Relaxed),
        }
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why the runner stopped sleeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Woke {
    Device,
    Sockets,
    Timer,
}

/// What one round did with the device, as the runner must know it to
/// sleep correctly (the engine only says whether any frame moved).
struct Watched<'a, D: Device> {
    inner: &'a mut D,
    received: usize,
    tx_full: bool,
}

impl<D: Device> Device for Watched<'_, D> {
    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }

    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        let n = self.inner.receive_batch(sink);
        self.received += n;
        n
    }

    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        let r = self.inner.transmit(meta, frame);
        if r == Err(TxError::Full) {
            self.tx_full = true;
        }
        r
    }

    fn flush(&mut self) {
        self.inner.flush();
    }
}

/// Drives one stack on one device from a tokio task. See the module
/// documentation.
///
/// `D` is any [`Device`] with a non-blocking descriptor that is readable
/// when frames wait and writable when it takes frames again; its
/// `receive_batch` must read until the descriptor says `EAGAIN` or it
/// handed `capabilities().max_batch` frames ([`TapDevice`] does).
pub struct Runner<D: Device + AsFd = TapDevice> {
    net: Net,
    device: D,
    /// A duplicate of the device's descriptor, registered with tokio's
    /// reactor: readiness belongs to the open file description, which
    /// both share, and owning the duplicate makes it certain that the
    /// registered descriptor stays open and the same while registered.
    readiness: AsyncFd<OwnedFd>,
    clock: Clock,
    signal: Arc<DriverSignal>,
    counters: RunnerCounters,
    max_batch: usize,
}

impl<D: Device + AsFd> std::fmt::Debug for Runner<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("fd", &self.device.as_fd().as_raw_fd())
            .field("max_batch", &self.max_batch)
            .field("counts", &self.counters.get())
            .finish_non_exhaustive()
    }
}

impl<D: Device + AsFd> Runner<D> {
    /// Builds the stack for `config` on `device` (whose capabilities the
    /// engine reads now), and the runner that drives it.
    ///
    /// Call it from within a tokio runtime: the descriptor joins that
    /// runtime's reactor here, so a failure shows now, not in the task.
    pub fn new(device: D, config: Config) -> io::Result<(Net, Runner<D>)> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "mnet_tap::tokio_runner: open the device from within a tokio runtime (its reactor watches the descriptor)",
            ));
        }
        let caps = device.capabilities();
        let fd = device.as_fd().try_clone_to_owned()?;
        // SAFETY: `fd` is a descriptor we own (a fresh duplicate); it stays
        // open, and `OwnedFd::as_raw_fd` returns it unchanged, until the
        // AsyncFd that takes it is dropped.
        let readiness =
            unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE | Interest::WRITABLE) }.map_err(|e| e.into_parts().1)?;
        let clock = Clock::start();
        let net = Net::new(Stack::new(config, clock.now()));
        net.with(|s| s.set_capabilities(caps));
        // Tasks run while the runner sleeps: they read the time themselves.
        let base = clock.base;
        net.set_clock(move || Instant::from_micros(u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX)));
        let runner = Runner {
            net: net.clone(),
            device,
            readiness,
            clock,
            signal: Arc::new(DriverSignal { notify: Notify::new() }),
            counters: RunnerCounters::default(),
            max_batch: caps.max_batch.max(1),
        };
        Ok((net, runner))
    }

    /// A live view of how often the loop went round and why.
    pub fn counters(&self) -> RunnerCounters {
        self.counters.clone()
    }

    /// Drives the stack until the task is dropped or aborted; returns only
    /// when tokio's reactor fails on the descriptor.
    pub async fn run(self) -> io::Result<()> {
        let Runner {
            net,
            mut device,
            readiness,
            clock,
            signal,
            counters,
            max_batch,
        } = self;
        let c = &*counters.inner;
        let driver_waker = Waker::from(Arc::clone(&signal));
        loop {
            RunnerCounters::bump(&c.loops);
            // The waker first, then the work: `Net::with` takes the waker
            // and wakes it, so a socket operation from another task that
            // lands from here on — even while we drive — leaves a permit
            // in the Notify and the wait below returns at once.
            net.set_driver_waker(&driver_waker);
            let mut watched = Watched {
                inner: &mut device,
                received: 0,
                tx_full: false,
            };
            net.poll_device(clock.now(), &mut watched);
            let Watched { received, tx_full, .. } = watched;
            if received >= max_batch {
                // The device stopped at its batch bound, not at EAGAIN:
                // frames may still wait, and their readiness may already
                // be cleared. Go round again, after letting other tasks
                // (the sockets' readers) run.
                RunnerCounters::bump(&c.full_batches);
                tokio::task::yield_now().await;
                continue;
            }
            let interest = if tx_full {
                // Back-pressure: the engine kept the frame the device
                // refused; wake when the device takes frames again.
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let deadline = net.poll_at().and_then(|at| clock.deadline(at));
            let woke = wait(&readiness, interest, &signal.notify, deadline).await?;
            RunnerCounters::bump(match woke {
                Woke::Device => &c.device_wakes,
                Woke::Sockets => &c.socket_wakes,
                Woke::Timer => &c.timer_wakes,
            });
        }
    }
}

/// Sleeps until the device is ready for `interest`, the driver signal
/// fires, or `deadline` passes.
///
/// Readiness is cleared as soon as it is seen, *before* the next round
/// reads: that round reads until EAGAIN (or goes round again without
/// sleeping after a full batch), so every frame that was waiting is read,
/// and a frame that arrives after the clear raises readiness anew (epoll
/// reports each arrival). Clearing after the read instead could swallow
/// the readiness of a frame that arrived between the EAGAIN and the clear.
async fn wait(
    readiness: &AsyncFd<OwnedFd>,
    interest: Interest,
    notify: &Notify,
    deadline: Option<tokio::time::Instant>,
) -> io::Result<Woke> {
    let mut notified = pin!(notify.notified());
    let mut ready = pin!(readiness.ready(interest));
    let mut sleep = pin!(deadline.map(tokio::time::sleep_until));
    poll_fn(|cx| {
        if notified.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(Woke::Sockets));
        }
        match ready.as_mut().poll(cx) {
            Poll::Ready(Ok(mut guard)) => {
                guard.clear_ready();
                return Poll::Ready(Ok(Woke::Device));
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {}
        }
        if let Some(sleep) = sleep.as_mut().as_pin_mut()
            && sleep.poll(cx).is_ready()
        {
            return Poll::Ready(Ok(Woke::Timer));
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use mnet::Duration;

    #[test]
    fn the_clock_counts_microseconds_from_its_base() {
        let clock = Clock::start();
        let a = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = clock.now();
        assert!(b - a >= Duration::from_millis(20), "{a:?} {b:?}");
        assert!(b - a < Duration::from_secs(5), "{a:?} {b:?}");
    }

    #[test]
    fn deadlines_map_onto_tokios_clock() {
        let clock = Clock::start();
        let at = Instant::from_micros(1_500_000);
        let d = clock.deadline(at).expect("representable");
        assert_eq!(d.into_std() - clock.base, std::time::Duration::from_micros(1_500_000));
        assert_eq!(clock.deadline(Instant::ZERO).map(|d| d.into_std()), Some(clock.base));
        // The engine's farthest instant neither panics nor wraps around.
        if let Some(far) = clock.deadline(Instant::from_micros(u64::MAX)) {
            assert!(far > d);
        }
    }

    #[test]
    fn open_outside_a_runtime_is_an_error_not_a_panic() {
        let Err(err) = Runner::new(NullDevice::new(), Config::new(crate::random_mac(), [7; 32])) else {
            panic!("a runner without a runtime");
        };
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert!(err.to_string().contains("tokio runtime"), "{err}");
    }

    #[test]
    fn the_driver_signal_keeps_one_permit() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let signal = Arc::new(DriverSignal { notify: Notify::new() });
            let waker = Waker::from(Arc::clone(&signal));
            // Woken twice before anybody waits: one permit, not two.
            waker.wake_by_ref();
            waker.wake_by_ref();
            signal.notify.notified().await;
            let again = tokio::time::timeout(std::time::Duration::from_millis(20), signal.notify.notified()).await;
            assert!(again.is_err(), "a second permit was stored");
        });
    }

    #[test]
    fn watched_counts_frames_and_back_pressure() {
        let mut dev = NullDevice::new();
        dev.pending = 3;
        dev.full = true;
        let mut w = Watched {
            inner: &mut dev,
            received: 0,
            tx_full: false,
        };
        let mut seen = 0;
        assert_eq!(w.receive_batch(&mut |_, _| seen += 1), 3);
        assert_eq!(w.transmit(&FrameMeta::PLAIN, &[0; 60]), Err(TxError::Full));
        assert_eq!((w.received, w.tx_full, seen), (3, true, 3));
    }

    /// A device with a descriptor that never becomes readable (one end of
    /// a socket pair whose other end stays silent).
    struct NullDevice {
        sock: std::os::unix::net::UnixDatagram,
        _peer: std::os::unix::net::UnixDatagram,
        pending: usize,
        full: bool,
    }

    impl NullDevice {
        fn new() -> NullDevice {
            let (sock, _peer) = std::os::unix::net::UnixDatagram::pair().unwrap();
            sock.set_nonblocking(true).unwrap();
            NullDevice {
                sock,
                _peer,
                pending: 0,
                full: false,
            }
        }
    }

    impl AsFd for NullDevice {
        fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
            self.sock.as_fd()
        }
    }

    impl Device for NullDevice {
        fn capabilities(&self) -> DeviceCapabilities {
            DeviceCapabilities::default()
        }
        fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
            let n = std::mem::take(&mut self.pending);
            for _ in 0..n {
                sink(&FrameMeta::PLAIN, &[0; 60]);
            }
            n
        }
        fn transmit(&mut self, _: &FrameMeta, _: &[u8]) -> Result<(), TxError> {
            if self.full { Err(TxError::Full) } else { Ok(()) }
        }
    }
}
