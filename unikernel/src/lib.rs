//! The parts of the unikernel that need no hardware, kept in a library so
//! that they are unit-tested on the host (`cargo test --lib` in
//! unikernel/): the kernel command line, the exit codes, calendar
//! arithmetic. The image itself is the binary (`main.rs`).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod civil;
pub mod cmdline;
pub mod exit_code;
pub mod net_features;
