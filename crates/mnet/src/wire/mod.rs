//! Packet formats only: views over bytes, `Repr` parse/emit, checksums.
//! No state lives here.

pub mod ethernet;
pub mod ip;

pub use ethernet::EthernetAddress;
pub use ip::{IpCidr, IpProtocol};
