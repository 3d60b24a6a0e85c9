//! Helpers the engine's frame-level tests share: a stack on one IPv4
//! address, and the frames a stack has queued.
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::Stack;
use crate::config::Config;
use crate::link::FrameMeta;
use crate::time::Instant;
use crate::wire::{EthernetAddress, IpCidr};

/// A stack with `ip`/24, its secrets from `seed`, started at time zero.
pub(crate) fn stack(mac: EthernetAddress, ip: Ipv4Addr, seed: u8) -> Stack {
    let cidr = IpCidr::new(IpAddr::V4(ip), 24).unwrap();
    Stack::new(Config::new(mac, [seed; 32]).address(cidr), Instant::ZERO)
}

/// Every frame `s` has queued, in order.
pub(crate) fn drain(s: &mut Stack) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    s.transmit(&mut |_m: &FrameMeta, f: &[u8]| {
        out.push(f.to_vec());
        true
    });
    out
}

/// An IPv4 socket address.
pub(crate) fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}
