//! mnet on Linux: a TAP device and the host platform that drives mnet's
//! executor from `epoll`.
//!
//! - [`TapDevice`] attaches to an **existing** TAP interface by name (it never
//!   configures the kernel side: create the tap with
//!   `ip tuntap add dev NAME mode tap` and give the kernel side its address
//!   yourself) and implements [`mnet::link::Device`].
//! - [`HostPlatform`] implements [`mnet::executor::Platform`]: a monotonic
//!   clock and a `wait` that sleeps in `epoll_wait` until the tap is readable,
//!   another thread calls [`HostWaker::wake`], a signal (SIGINT, SIGTERM,
//!   SIGUSR1) arrives, or the deadline passes.
//! - [`random_mac`] gives a locally administered unicast MAC.
//! - With feature `tokio`, `tokio_runner` drives the stack from a tokio
//!   task instead: open the device, get `(net, runner)`, spawn the runner,
//!   use the sockets from any task.
//!
//! Concurrency model: one thread owns the device and the platform and runs
//! the engine; other threads reach it only through a [`HostWaker`]. Error
//! model: setup returns `std::io::Error`; at run time a device error is
//! logged once and reported to the engine as [`mnet::link::TxError`].
//!
//! ```no_run
//! use mnet::executor::Platform;
//! use mnet::link::Device;
//! use mnet_tap::{HostPlatform, TapDevice};
//!
//! fn main() -> std::io::Result<()> {
//!     // Block SIGINT/SIGTERM/SIGUSR1 before any other thread exists.
//!     let mut tap = TapDevice::open("tap0")?;
//!     let mut platform = HostPlatform::new(tap.as_raw_fd())?;
//!     loop {
//!         let now = platform.now();
//!         tap.receive_batch(&mut |_meta, frame| {
//!             println!("{now:?}: {} bytes", frame.len());
//!         });
//!         if platform.take_signals().interrupt {
//!             return Ok(());
//!         }
//!         platform.wait(Some(now + mnet::Duration::from_secs(1)));
//!     }
//! }
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod mac;
mod platform;
mod sys;
mod tap;
#[cfg(feature = "tokio")]
pub mod tokio_runner;

pub use mac::{locally_administered_unicast, random_mac};
pub use platform::{HostPlatform, HostWaker, Signals};
pub use tap::{RX_BUFFER_LEN, TAP_MAX_BATCH, TAP_MAX_GSO_SIZE, TapCounters, TapDevice, TapOptions};
#[cfg(feature = "tokio")]
pub use tokio_runner::Runner as TokioRunner;
