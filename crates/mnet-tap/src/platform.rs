//! The host platform for mnet's executor: a monotonic clock, and a `wait`
//! that sleeps in `epoll_wait` on three descriptors:
//!
//! - the tap (`EPOLLIN`: frames to read),
//! - an eventfd that [`HostWaker::wake`] writes from any thread,
//! - a signalfd for SIGINT, SIGTERM and SIGUSR1, recorded for
//!   [`HostPlatform::take_signals`].
//!
//! An idle stack uses no CPU: `wait` sleeps until the deadline rounded *up*
//! to the next millisecond (`epoll_wait` counts in milliseconds), so a
//! deadline less than a millisecond away sleeps instead of spinning.
//!
//! Busy polling ([`HostPlatform::set_busy_poll`], off by default) trades
//! CPU for latency: each `wait` first spins for up to the given time,
//! asking epoll without sleeping (`epoll_wait` with a 0 timeout, which
//! also sees the eventfd and the signals), and sleeps only when nothing
//! came; a frame that arrives meanwhile is read without the wakeup of a
//! sleeping thread. Like Linux's `SO_BUSY_POLL`, the spin is bounded per
//! wait, and by the deadline.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use mnet::Instant;
use mnet::executor::Platform;

use crate::sys::{cvt, owned_fd};

const TOKEN_TAP: u64 = 0;
const TOKEN_WAKER: u64 = 1;
const TOKEN_SIGNAL: u64 = 2;

/// The signals a [`HostPlatform`] takes over.
const HANDLED_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1];

/// Signals received since the last [`HostPlatform::take_signals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// SIGINT or SIGTERM: shut down cleanly.
    pub interrupt: bool,
    /// SIGUSR1: print the counters.
    pub usr1: bool,
}

impl Signals {
    /// Nothing arrived.
    pub fn is_empty(&self) -> bool {
        !self.interrupt && !self.usr1
    }
}

/// Wakes a [`HostPlatform`] blocked in `wait`, from any thread.
///
/// Cheap to clone; also usable as a `std::task::Waker`
/// (`Waker::from(Arc::new(waker))`).
#[derive(Debug, Clone)]
pub struct HostWaker {
    eventfd: Arc<File>,
}

impl HostWaker {
    /// Makes the platform's current or next `wait` return.
    pub fn wake(&self) {
        // Adds 1 to the eventfd counter. EAGAIN means the counter is at its
        // maximum, so a wakeup is pending anyway.
        if let Err(e) = (&*self.eventfd).write(&1u64.to_ne_bytes())
            && e.kind() != io::ErrorKind::WouldBlock
        {
            log::warn!("eventfd write failed: {e}");
        }
    }
}

impl std::task::Wake for HostWaker {
    fn wake(self: Arc<Self>) {
        HostWaker::wake(&self);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        HostWaker::wake(self);
    }
}

/// mnet's [`Platform`] on Linux.
///
/// `new` blocks SIGINT, SIGTERM and SIGUSR1 in the calling thread and reads
/// them from a signalfd instead. Call it **before spawning any thread**:
/// threads inherit the mask, and a process-directed signal goes to any
/// thread that does not block it (where SIGTERM's default action kills the
/// process). The signals stay blocked after the platform is dropped, and
/// stay blocked in children spawned from this thread (they inherit the
/// mask across `exec`).
#[derive(Debug)]
pub struct HostPlatform {
    epoll: OwnedFd,
    eventfd: Arc<File>,
    signalfd: File,
    start: std::time::Instant,
    signals: Signals,
    wait_error_logged: bool,
    /// How long each `wait` spins before it sleeps (`None`: never).
    busy_poll: Option<std::time::Duration>,
}

impl HostPlatform {
    /// A platform that waits on `tap_fd` (see [`crate::TapDevice::as_raw_fd`]),
    /// which must stay open as long as the platform lives.
    pub fn new(tap_fd: RawFd) -> io::Result<HostPlatform> {
        // SAFETY: epoll_create1 takes no pointers; owned_fd checks the result.
        let epoll = owned_fd(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: eventfd takes no pointers; owned_fd checks the result.
        let eventfd = File::from(owned_fd(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?);
        let signalfd = File::from(block_signals_into_signalfd()?);
        add_to_epoll(&epoll, tap_fd, TOKEN_TAP)?;
        add_to_epoll(&epoll, eventfd.as_raw_fd(), TOKEN_WAKER)?;
        add_to_epoll(&epoll, signalfd.as_raw_fd(), TOKEN_SIGNAL)?;
        Ok(HostPlatform {
            epoll,
            eventfd: Arc::new(eventfd),
            signalfd,
            start: std::time::Instant::now(),
            signals: Signals::default(),
            wait_error_logged: false,
            busy_poll: None,
        })
    }

    /// Busy polling: every [`Platform::wait`] spins for up to `spin`
    /// (and never past its deadline) before it sleeps; `None` (the
    /// default) sleeps at once. See the module documentation.
    pub fn set_busy_poll(&mut self, spin: Option<std::time::Duration>) {
        self.busy_poll = spin.filter(|d| !d.is_zero());
    }

    /// One `epoll_wait` with `timeout_ms` (0: do not sleep); handles what
    /// it reports and returns how many descriptors were ready.
    fn epoll_once(&mut self, timeout_ms: libc::c_int) -> usize {
        const MAX_EVENTS: usize = 4;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
        // SAFETY: `events` is a writable array of MAX_EVENTS epoll_event
        // records that lives across the call; the epoll fd is open.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), MAX_EVENTS as libc::c_int, timeout_ms) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                if !self.wait_error_logged {
                    self.wait_error_logged = true;
                    log::error!("epoll_wait failed: {err}");
                }
                // Never spin: sleep a little instead.
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            // Interrupted or failed: the caller returns (early is allowed).
            return 1;
        }
        let ready = usize::try_from(n).unwrap_or(0).min(MAX_EVENTS);
        for event in &events[..ready] {
            // A copy out of the (packed on x86-64) struct; no reference.
            let token = event.u64;
            match token {
                TOKEN_WAKER => self.drain_waker(),
                TOKEN_SIGNAL => self.drain_signals(),
                // The tap stays readable until the device reads its frames.
                _ => {}
            }
        }
        ready
    }

    /// A handle other threads use to interrupt [`Platform::wait`].
    pub fn waker(&self) -> HostWaker {
        HostWaker {
            eventfd: Arc::clone(&self.eventfd),
        }
    }

    /// The signals received since the last call, and forgets them. Also
    /// reads signals that are pending but not yet seen by `wait`.
    pub fn take_signals(&mut self) -> Signals {
        self.drain_signals();
        std::mem::take(&mut self.signals)
    }

    /// The signals that [`Platform::wait`] has read since the last call,
    /// and forgets them; unlike [`HostPlatform::take_signals`] it makes
    /// no system call (the signalfd is read only when epoll says it is
    /// readable), so a run loop can call it after every `wait`.
    pub fn take_seen_signals(&mut self) -> Signals {
        std::mem::take(&mut self.signals)
    }

    fn drain_waker(&mut self) {
        let mut buf = [0u8; 8];
        // One read resets the counter to zero; EAGAIN means nothing to do.
        let _ = (&*self.eventfd).read(&mut buf);
    }

    fn drain_signals(&mut self) {
        const INFO_LEN: usize = std::mem::size_of::<libc::signalfd_siginfo>();
        let mut buf = [0u8; INFO_LEN];
        // Each read returns whole `signalfd_siginfo` records; `ssi_signo`
        // (a u32) is the first field. EAGAIN ends the loop.
        while let Ok(INFO_LEN) = (&self.signalfd).read(&mut buf) {
            let signo = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
            match libc::c_int::try_from(signo).unwrap_or(0) {
                libc::SIGINT | libc::SIGTERM => self.signals.interrupt = true,
                libc::SIGUSR1 => self.signals.usr1 = true,
                other => log::debug!("unexpected signal {other} on the signalfd"),
            }
        }
    }
}

impl Platform for HostPlatform {
    fn now(&mut self) -> Instant {
        let micros = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        Instant::from_micros(micros)
    }

    fn wait(&mut self, deadline: Option<Instant>) {
        if let Some(spin) = self.busy_poll {
            let spin_end = self.now().saturating_add(spin);
            let end = deadline.map_or(spin_end, |d| d.min(spin_end));
            loop {
                if self.epoll_once(0) > 0 {
                    return;
                }
                if self.now() >= end {
                    break;
                }
                std::hint::spin_loop();
            }
        }
        let timeout = epoll_timeout_ms(self.now(), deadline);
        self.epoll_once(timeout);
    }
}

/// The `epoll_wait` timeout for `deadline` seen at `now`: -1 (forever) for
/// no deadline, 0 for a deadline already passed, otherwise the remaining
/// time rounded up to whole milliseconds, so we never wake before the
/// deadline and then spin on a 0 ms timeout.
pub(crate) fn epoll_timeout_ms(now: Instant, deadline: Option<Instant>) -> libc::c_int {
    let Some(deadline) = deadline else {
        return -1;
    };
    let micros = deadline.total_micros().saturating_sub(now.total_micros());
    libc::c_int::try_from(micros.div_ceil(1000)).unwrap_or(libc::c_int::MAX)
}

fn add_to_epoll(epoll: &OwnedFd, fd: RawFd, token: u64) -> io::Result<()> {
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: token,
    };
    // SAFETY: `event` is a valid epoll_event on our stack for the call; the
    // kernel copies it. Both descriptors are open (the caller owns `fd`).
    cvt(unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event) })?;
    Ok(())
}

/// Blocks [`HANDLED_SIGNALS`] in the calling thread and returns a
/// non-blocking signalfd that reads them.
fn block_signals_into_signalfd() -> io::Result<OwnedFd> {
    // SAFETY: sigset_t is plain data; sigemptyset initializes it fully
    // before any other use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable sigset_t.
    cvt(unsafe { libc::sigemptyset(&mut set) })?;
    for sig in HANDLED_SIGNALS {
        // SAFETY: `set` is an initialized sigset_t; `sig` is a valid signal.
        cvt(unsafe { libc::sigaddset(&mut set, sig) })?;
    }
    // SAFETY: `set` is initialized; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    // SAFETY: `set` is initialized and outlives the call; -1 asks for a new fd.
    owned_fd(unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mnet::Duration;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn timeout_rounds_up_to_whole_milliseconds() {
        let now = Instant::from_micros(5_000_000);
        assert_eq!(epoll_timeout_ms(now, None), -1);
        assert_eq!(epoll_timeout_ms(now, Some(now)), 0);
        assert_eq!(epoll_timeout_ms(now, Some(Instant::from_micros(1))), 0, "past deadline");
        assert_eq!(
            epoll_timeout_ms(now, Some(now + Duration::from_micros(1))),
            1,
            "never 0 before the deadline"
        );
        assert_eq!(epoll_timeout_ms(now, Some(now + Duration::from_micros(999))), 1);
        assert_eq!(epoll_timeout_ms(now, Some(now + Duration::from_micros(1000))), 1);
        assert_eq!(epoll_timeout_ms(now, Some(now + Duration::from_micros(1001))), 2);
        assert_eq!(epoll_timeout_ms(now, Some(now + Duration::from_millis(250))), 250);
        assert_eq!(epoll_timeout_ms(now, Some(Instant::from_micros(u64::MAX))), libc::c_int::MAX);
    }

    /// Every test that blocks signals runs in its own thread, so the mask
    /// never leaks into the test harness's threads.
    fn in_own_thread<F: FnOnce() + Send + 'static>(f: F) {
        std::thread::spawn(f).join().unwrap_or_else(|p| std::panic::resume_unwind(p));
    }

    /// A stand-in for the tap: a datagram socket we can make readable.
    fn fake_tap() -> (UnixDatagram, UnixDatagram) {
        UnixDatagram::pair().unwrap()
    }

    #[test]
    fn wait_sleeps_until_the_deadline_and_not_less() {
        in_own_thread(|| {
            let (tap, _peer) = fake_tap();
            let mut p = HostPlatform::new(tap.as_raw_fd()).unwrap();
            let t0 = p.now();
            let deadline = t0 + Duration::from_micros(2_500);
            let wall = std::time::Instant::now();
            while p.now() < deadline {
                p.wait(Some(deadline));
            }
            let slept = wall.elapsed();
            assert!(slept >= std::time::Duration::from_micros(2_500), "{slept:?}");
            assert!(slept < std::time::Duration::from_millis(500), "{slept:?}");
            // A deadline in the past returns at once.
            let wall = std::time::Instant::now();
            p.wait(Some(Instant::ZERO));
            assert!(wall.elapsed() < std::time::Duration::from_millis(100));
        });
    }

    #[test]
    fn a_readable_tap_ends_the_wait() {
        in_own_thread(|| {
            let (tap, peer) = fake_tap();
            let mut p = HostPlatform::new(tap.as_raw_fd()).unwrap();
            peer.send(b"frame").unwrap();
            let wall = std::time::Instant::now();
            p.wait(None);
            assert!(wall.elapsed() < std::time::Duration::from_secs(5));
            assert!(p.take_signals().is_empty());
        });
    }

    #[test]
    fn a_waker_from_another_thread_ends_the_wait() {
        in_own_thread(|| {
            let (tap, _peer) = fake_tap();
            let mut p = HostPlatform::new(tap.as_raw_fd()).unwrap();
            let waker = p.waker();
            let wall = std::time::Instant::now();
            let t = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                waker.clone().wake();
            });
            let far = p.now() + Duration::from_secs(30);
            p.wait(Some(far));
            t.join().unwrap();
            let waited = wall.elapsed();
            assert!(waited >= std::time::Duration::from_millis(40), "{waited:?}");
            assert!(waited < std::time::Duration::from_secs(10), "{waited:?}");
            // The eventfd was drained: the next short wait really sleeps.
            let wall = std::time::Instant::now();
            let soon = p.now() + Duration::from_millis(20);
            p.wait(Some(soon));
            assert!(wall.elapsed() >= std::time::Duration::from_millis(20));
            // Also as a std Waker.
            let std_waker = std::task::Waker::from(Arc::new(p.waker()));
            std_waker.wake_by_ref();
            let wall = std::time::Instant::now();
            p.wait(None);
            assert!(wall.elapsed() < std::time::Duration::from_secs(5));
        });
    }

    /// CPU time this thread has used.
    fn thread_cpu() -> std::time::Duration {
        // SAFETY: rusage is plain data; getrusage fills it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a valid, writable rusage for the call.
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) }, 0);
        let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        std::time::Duration::from_micros(us(ru.ru_utime) + us(ru.ru_stime))
    }

    #[test]
    fn busy_poll_spins_then_sleeps_and_stops_at_the_deadline() {
        in_own_thread(|| {
            let (tap, peer) = fake_tap();
            let mut p = HostPlatform::new(tap.as_raw_fd()).unwrap();
            // Off: a 40 ms wait sleeps (almost no CPU).
            let cpu0 = thread_cpu();
            let deadline = p.now() + Duration::from_millis(40);
            while p.now() < deadline {
                p.wait(Some(deadline));
            }
            let idle_cpu = thread_cpu() - cpu0;
            assert!(idle_cpu < std::time::Duration::from_millis(10), "{idle_cpu:?}");

            // On, 30 ms: the same wait spins first (CPU time), and still
            // returns only at the deadline.
            p.set_busy_poll(Some(std::time::Duration::from_millis(30)));
            let cpu0 = thread_cpu();
            let wall = std::time::Instant::now();
            let deadline = p.now() + Duration::from_millis(40);
            while p.now() < deadline {
                p.wait(Some(deadline));
            }
            let spun = thread_cpu() - cpu0;
            assert!(wall.elapsed() >= std::time::Duration::from_millis(40));
            assert!(spun >= std::time::Duration::from_millis(10), "busy poll used only {spun:?} of CPU");

            // The spin never runs past the deadline.
            p.set_busy_poll(Some(std::time::Duration::from_secs(30)));
            let wall = std::time::Instant::now();
            let soon = p.now() + Duration::from_millis(5);
            p.wait(Some(soon));
            assert!(wall.elapsed() < std::time::Duration::from_secs(5), "{:?}", wall.elapsed());

            // A frame that arrives while spinning ends the wait at once.
            let sender = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                peer.send(b"frame").unwrap();
            });
            let wall = std::time::Instant::now();
            p.wait(None);
            sender.join().unwrap();
            assert!(wall.elapsed() < std::time::Duration::from_secs(5), "{:?}", wall.elapsed());

            // Zero means off.
            p.set_busy_poll(Some(std::time::Duration::ZERO));
            assert_eq!(p.busy_poll, None);
        });
    }

    #[test]
    fn signals_are_recorded_not_fatal() {
        in_own_thread(|| {
            let (tap, _peer) = fake_tap();
            let mut p = HostPlatform::new(tap.as_raw_fd()).unwrap();
            // raise() directs the signal at this thread, which blocks it: it
            // stays pending and the signalfd reads it. (A process-directed
            // kill() could land in another test thread and kill the run.)
            // SAFETY: raise takes no pointers; the signal is blocked here.
            assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
            let later = p.now() + Duration::from_secs(5);
            p.wait(Some(later));
            assert_eq!(
                p.take_signals(),
                Signals {
                    interrupt: false,
                    usr1: true
                }
            );
            assert!(p.take_signals().is_empty(), "taking forgets");
            // SAFETY: as above.
            assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
            // take_signals also sees signals that `wait` has not seen yet.
            assert_eq!(
                p.take_signals(),
                Signals {
                    interrupt: true,
                    usr1: false
                }
            );
            // SAFETY: as above.
            assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
            p.wait(None);
            // What `wait` read is there without another read of the signalfd.
            assert!(p.take_seen_signals().interrupt);
            assert!(p.take_seen_signals().is_empty(), "taking forgets");
            // SAFETY: as above.
            assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
            assert!(p.take_seen_signals().is_empty(), "not read by a wait yet");
            assert!(p.take_signals().usr1);
        });
    }

    #[test]
    fn now_is_monotonic_and_starts_near_zero() {
        let (tap, _peer) = fake_tap();
        in_own_thread(move || {
            let mut p = HostPlatform::new(tap.as_raw_fd()).unwrap();
            let a = p.now();
            assert!(a < Instant::from_secs(1), "{a:?}");
            std::thread::sleep(std::time::Duration::from_millis(5));
            let b = p.now();
            assert!(b - a >= Duration::from_millis(5));
        });
    }
}
