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

pub mod error;
pub mod hash;
pub mod ip;
pub mod link;
pub mod rand;
pub mod stats;
pub mod time;
pub mod wire;

pub use error::{Error, Result};
pub use time::{Duration, Instant};
