//! mnet: a TCP/IP stack for unikernels and userspace networking.
//!
//! The engine ([`stack::Stack`]) is sans-IO: frames in, frames out, and
//! `poll_at()` for the next timer. Socket handles ([`socket`]) are async and
//! runtime-agnostic; [`executor`] is a small no_std executor for unikernels
//! and simple programs. See ARCHITECTURE.md at the root of the repository.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(mnet_wip)]
pub mod config;
pub mod error;
pub mod executor;
pub mod hash;
#[cfg(mnet_wip)]
pub mod icmp_socket;
pub mod ip;
pub mod link;
pub mod pool;
pub mod rand;
pub mod recv_queue;
pub mod slab;
#[cfg(mnet_wip)]
pub mod socket;
#[cfg(mnet_wip)]
pub mod stack;
pub mod stats;
pub mod time;
#[cfg(mnet_wip)]
pub mod udp;
pub mod wire;

pub use error::{Error, Result};
#[cfg(mnet_wip)]
pub use config::Config;
#[cfg(mnet_wip)]
pub use socket::Net;
#[cfg(mnet_wip)]
pub use stack::Stack;
pub use time::{Duration, Instant};
