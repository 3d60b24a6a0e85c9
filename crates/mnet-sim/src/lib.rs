//! mnet-sim: an in-memory virtual network with virtual time, for tests and
//! for `mnet demo`.
//!
//! Several stacks run in one process, each on a [`SimDevice`] (an
//! [`mnet::link::Device`]) attached to a point-to-point [`Network::link`]
//! or a shared [`Network::hub`]. Links have latency, jitter, bandwidth and
//! bounded queues, and can lose, duplicate, reorder and corrupt frames
//! ([`LinkConfig`]). Time is a [`SimClock`] that moves only when
//! [`SimPlatform`]'s `wait` (mnet's executor [`mnet::executor::Platform`])
//! or [`Network::step`] jumps it to the next event, so seconds of protocol
//! time take milliseconds.
//!
//! Every random decision comes from a seeded SplitMix64 ([`SimRng`]): the
//! same seed and the same calls give the same run, frame for frame.
//!
//! Three middleware devices wrap any `Device`, simulated or real:
//! [`PcapDevice`] writes a capture tcpdump and Wireshark read,
//! [`FaultDevice`] injects the link faults on a device that has none, and
//! [`SoftwareTso`] gives it segmentation and checksum offload, done in
//! software (the engine's TSO path, in the simulator).
//!
//! Concurrency: [`Network`] and [`SimClock`] are `Send + Sync` handles
//! (`Arc`); each `SimDevice` belongs to one driver. Errors: a simulated
//! device never fails; what a real link would drop is dropped and counted
//! in [`LinkStats`].
//!
//! # Example
//!
//! Two devices on a 1 ms link exchange a frame:
//!
//! ```
//! use mnet::Instant;
//! use mnet::link::{Device, FrameMeta};
//! use mnet_sim::{LinkConfig, Network};
//!
//! let net = Network::new(42);
//! let (mut a, mut b) = net.link(LinkConfig::default());
//!
//! let frame = [0xffu8; 60];
//! a.transmit(&FrameMeta::PLAIN, &frame).unwrap();
//!
//! // Nothing arrives before the latency has passed...
//! assert_eq!(b.receive_batch(&mut |_, _| panic!("too early")), 0);
//! // ...and jumping the virtual clock to the delivery takes no real time.
//! assert_eq!(net.step(), Some(Instant::from_millis(1)));
//!
//! let mut received = Vec::new();
//! b.receive_batch(&mut |_meta, bytes| received.push(bytes.to_vec()));
//! assert_eq!(received, vec![frame.to_vec()]);
//! assert_eq!(net.stats()[0].delivered, 1);
//! ```
#![forbid(unsafe_code)]

mod clock;
mod device;
mod fault;
mod fault_device;
pub mod fuzz;
mod link;
mod network;
mod offload_device;
mod pcap;
mod platform;
mod pool;
mod rng;

pub use clock::SimClock;
pub use device::{SIM_MAX_BATCH, SimDevice};
pub use fault::{DEFAULT_REORDER_DELAY, ETHERNET_HEADER_LEN, FaultConfig, PARTS_PER_MILLION, Ratio};
pub use fault_device::{DEFAULT_MAX_HELD, DirectionStats, FaultDevice, FaultStats};
pub use link::{DEFAULT_LATENCY, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MTU, DEFAULT_QUEUE_FRAMES, LinkConfig, LinkId, LinkStats};
pub use network::Network;
pub use offload_device::{SOFTWARE_TSO_MAX, SoftwareTso, TsoStats};
pub use pcap::{
    ClockFn, LINKTYPE_ETHERNET, PCAP_GLOBAL_HEADER_LEN, PCAP_MAGIC_MICROS, PCAP_RECORD_HEADER_LEN, PCAP_SNAPLEN, PcapDevice, PcapWriter,
};
pub use platform::SimPlatform;
pub use pool::POOL_MAX_BUFFERS;
pub use rng::SimRng;
