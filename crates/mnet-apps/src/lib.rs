//! Applications written once against mnet's sockets (no_std), shared by
//! the `mnet` command, the demo and the unikernel.
//!
//! Each application is an `async fn` over a [`mnet::Net`]; it reports what
//! happens through a callback and leaves printing to its caller.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod echo_client;
pub mod iperf3;
pub mod iperf3_json;
pub mod iperf3_udp;
pub mod ping;
pub mod sink;
pub mod source;
pub mod tcp_echo;
pub mod tcp_server;
pub mod udp_echo;
