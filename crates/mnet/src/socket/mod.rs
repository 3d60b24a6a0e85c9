//! Async socket handles over the engine.
//!
//! A [`Net`] is a cheap, cloneable handle to one [`Stack`]: with `std` the
//! engine sits behind `Arc<std::sync::Mutex<_>>`, so handles are `Send +
//! Sync` and work from any tokio worker; without `std` they share an
//! `Rc<RefCell<_>>` (a unikernel has one thread). The lock is held only
//! inside an engine call, never across an `.await`.
//!
//! Operations are futures that register a `Waker`; the engine wakes them
//! when readiness changes, so no particular executor is assumed.
//!
//! ```
//! use mnet::{config::Config, stack::Stack, socket::Net, Instant};
//! let mac = mnet::wire::EthernetAddress([0x02, 0, 0, 0, 0, 1]);
//! let stack = Stack::new(Config::new(mac, [1; 32]).address("10.0.0.2/24".parse().unwrap()), Instant::ZERO);
//! let net = Net::new(stack);
//! let sock = net.udp_bind("10.0.0.2:7".parse().unwrap()).unwrap();
//! assert_eq!(sock.local_addr().unwrap().port(), 7);
//! ```

mod driver;
mod icmp;
mod tcp;
mod time;
mod udp;

use crate::link::Device;
use crate::stack::Stack;
use crate::stats::Stats;
use crate::time::Instant;
use core::task::Waker;

pub use driver::Interface;
pub use icmp::EchoSocket;
pub use tcp::{Shutdown, TcpListener, TcpStream};
pub use time::{Sleep, timeout};
pub use udp::UdpSocket;

/// What the lock protects.
pub(crate) struct Inner {
    stack: Stack,
    /// Woken when a user operation queued output or changed a timer
    /// (lets a runner that sleeps on the device wake up to transmit).
    driver_waker: Option<Waker>,
    /// The runtime's clock, when tasks run outside the driver's rounds.
    #[cfg(feature = "std")]
    clock: Option<alloc::boxed::Box<dyn Fn() -> Instant + Send>>,
}

#[cfg(feature = "std")]
type Shared = alloc::sync::Arc<std::sync::Mutex<Inner>>;
#[cfg(not(feature = "std"))]
type Shared = alloc::rc::Rc<core::cell::RefCell<Inner>>;

/// A handle to one stack, shared by its sockets. Cheap to clone.
#[derive(Clone)]
pub struct Net {
    shared: Shared,
}

impl core::fmt::Debug for Net {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Net").field("now", &self.now()).finish_non_exhaustive()
    }
}

impl Net {
    /// Share `stack` between sockets and the runtime that drives it.
    pub fn new(stack: Stack) -> Net {
        let inner = Inner {
            stack,
            driver_waker: None,
            #[cfg(feature = "std")]
            clock: None,
        };
        #[cfg(feature = "std")]
        let shared = alloc::sync::Arc::new(std::sync::Mutex::new(inner));
        #[cfg(not(feature = "std"))]
        let shared = alloc::rc::Rc::new(core::cell::RefCell::new(inner));
        Net { shared }
    }

    fn lock<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        #[cfg(feature = "std")]
        {
            // A panic while holding the lock poisons it; the engine's state
            // is still consistent at every call boundary, so keep going.
            let mut g = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(clock) = &g.clock {
                let now = clock();
                g.stack.advance_clock(now);
            }
            f(&mut g)
        }
        #[cfg(not(feature = "std"))]
        {
            f(&mut self.shared.borrow_mut())
        }
    }

    /// Run `f` on the engine (for configuration and inspection); the
    /// runtime is told afterwards, in case `f` queued frames or timers.
    pub fn with<R>(&self, f: impl FnOnce(&mut Stack) -> R) -> R {
        self.lock(|inner| {
            let r = f(&mut inner.stack);
            if let Some(w) = inner.driver_waker.take() {
                w.wake();
            }
            r
        })
    }

    /// The engine's current time (last input or poll).
    pub fn now(&self) -> Instant {
        self.lock(|i| i.stack.now())
    }

    /// A copy of every counter.
    pub fn stats(&self) -> Stats {
        self.lock(|i| i.stack.stats().clone())
    }

    /// When the engine next needs polling.
    pub fn poll_at(&self) -> Option<Instant> {
        self.lock(|i| i.stack.poll_at())
    }

    /// Give the engine the runtime's clock: every socket operation then
    /// sees the current time, even between driver rounds (needed under
    /// tokio, where tasks run while the driver sleeps).
    #[cfg(feature = "std")]
    pub fn set_clock(&self, clock: impl Fn() -> Instant + Send + 'static) {
        self.lock(|i| i.clock = Some(alloc::boxed::Box::new(clock)));
    }

    /// Register the runner's waker (see [`Net::with`]).
    pub fn set_driver_waker(&self, waker: &Waker) {
        self.lock(|i| i.driver_waker = Some(waker.clone()));
    }

    /// One step of the runtime: feed every ready frame of `device` to the
    /// engine, run due timers, and hand queued frames to the device.
    /// Returns whether any frame moved.
    pub fn poll_device<D: Device + ?Sized>(&self, now: Instant, device: &mut D) -> bool {
        self.poll_device_by(now, device, false)
    }

    /// [`Net::poll_device`] for a loop that polls its tasks next and then
    /// calls [`Net::flush_device`] in the same round (the executor's
    /// round, `socket::Interface`): the ACKs that the frames read here owe
    /// wait for that flush, after the application read the data, and
    /// carry the window its reads opened (see
    /// [`Stack::hold_receive_batch`]). A batch that an earlier round left
    /// open (no flush followed) ends first.
    pub fn poll_device_until_flush<D: Device + ?Sized>(&self, now: Instant, device: &mut D) -> bool {
        self.poll_device_by(now, device, true)
    }

    fn poll_device_by<D: Device + ?Sized>(&self, now: Instant, device: &mut D, hold: bool) -> bool {
        self.lock(|inner| {
            let stack = &mut inner.stack;
            if hold {
                if stack.receive_batch_held() {
                    stack.end_receive_batch();
                }
                stack.hold_receive_batch();
            }
            let received = device.receive_batch(&mut |meta, frame| stack.receive(now, meta, frame));
            stack.poll(now);
            let sent = stack.transmit(&mut |meta, frame| device.transmit(meta, frame).is_ok());
            if sent > 0 {
                device.flush();
            }
            received > 0 || sent > 0
        })
    }

    /// Hand queued frames to `device` without reading from it (what tasks
    /// queued since the last [`Net::poll_device`]), after ending a receive
    /// batch that [`Net::poll_device_until_flush`] held open. Returns
    /// whether any frame moved.
    pub fn flush_device<D: Device + ?Sized>(&self, device: &mut D) -> bool {
        self.lock(|inner| {
            if inner.stack.receive_batch_held() {
                inner.stack.end_receive_batch();
            }
            if inner.stack.tx_pending() == 0 {
                return false;
            }
            let sent = inner.stack.transmit(&mut |meta, frame| device.transmit(meta, frame).is_ok());
            if sent > 0 {
                device.flush();
            }
            sent > 0
        })
    }
}
