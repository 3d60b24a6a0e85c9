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

pub mod config;
pub mod error;
pub mod executor;
pub mod hash;
pub mod icmp_socket;
pub mod ip;
pub mod link;
pub mod pool;
pub mod rand;
pub mod recv_queue;
pub mod slab;
pub mod socket;
pub mod stack;
pub mod stats;
pub mod tcp;
pub mod time;
pub mod udp;
pub mod waker_set;
pub mod wire;

pub use config::Config;
pub use error::{Error, Result};
pub use socket::Net;
pub use stack::Stack;
pub use time::{Duration, Instant};
