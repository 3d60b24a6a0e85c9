//! The link layer: the device contract, Ethernet, and neighbour resolution.

pub mod device;
pub mod neighbor;
pub mod offload;

pub use device::{ChecksumCaps, Device, DeviceCapabilities, FrameMeta, TxError};
