//! Packet formats only: views over bytes, `Repr` parse/emit, checksums.
//! No state lives here.
//!
//! # The contract every format in this module keeps
//!
//! Each protocol file has two layers:
//!
//! - A **packet view** `XxxPacket<T: AsRef<[u8]>>` over a byte buffer.
//!   `new_unchecked` wraps any buffer; `new_checked` validates the lengths
//!   once (buffer long enough for the fixed header, length and offset fields
//!   consistent with the buffer). **After `new_checked` succeeds, no accessor
//!   and no setter panics**, whatever the bytes say — even after a setter
//!   changed a length field (variable ranges are cut at the end of the
//!   buffer). With `new_unchecked`, accessors may panic on a buffer shorter
//!   than the fixed header: use it only on buffers you sized yourself (for
//!   `emit`).
//! - A **`Repr`**: the parsed, owned, high-level form. `Repr::parse` takes a
//!   checked view and validates the semantics (version, checksum, option
//!   encoding); `Repr::emit` writes a view; `Repr::buffer_len` says how many
//!   bytes `emit` writes. **`emit` never panics on a buffer of at least
//!   `buffer_len()` bytes.**
//!
//! `buffer_len()` means *header only* for the formats whose payload is
//! written separately by the layer above (Ethernet, IPv4, IPv6, UDP): the
//! engine writes headers into headroom and copies the payload once, so those
//! `Repr`s do not carry a payload. ARP (no payload), ICMPv4 (small messages)
//! and TCP (`TcpRepr::payload`) carry theirs, and their `buffer_len()` is the
//! whole message.
//!
//! Views trim: `payload()` of IPv4, IPv6 and UDP ends where the length field
//! says, so link-layer padding (RFC 894: "This padding is not part of the IP
//! packet and is not included in the total length field of the IP header.")
//! never reaches the layer above.
//!
//! Errors are [`WireError`]: `Truncated` (the buffer is shorter than a header
//! or length field requires), `Malformed` (a field holds an impossible
//! value), `BadChecksum`, `Unsupported` (well-formed, but a variant we do not
//! speak).
//!
//! ```
//! use mnet::wire::{EthernetFrame, EtherType, Ipv4Packet, Ipv4Repr, IpProtocol};
//!
//! // An Ethernet frame carrying an IPv4 header with an empty UDP payload.
//! let mut frame = [0u8; 14 + 20];
//! let repr = Ipv4Repr {
//!     src_addr: "10.0.0.1".parse().unwrap(),
//!     dst_addr: "10.0.0.2".parse().unwrap(),
//!     next_header: IpProtocol::Udp,
//!     payload_len: 0,
//!     hop_limit: 64,
//!     dscp_ecn: 0,
//!     ident: 1,
//!     dont_frag: true,
//!     more_frags: false,
//!     frag_offset: 0,
//! };
//! let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
//! eth.set_ethertype(EtherType::Ipv4);
//! repr.emit(&mut Ipv4Packet::new_unchecked(eth.payload_mut()), true);
//!
//! let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
//! let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
//! assert_eq!(Ipv4Repr::parse(&ip, true), Ok(repr));
//! ```

use core::fmt;
use core::ops::{Range, RangeFrom};

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod ipv6_ext;
pub mod mld;
pub mod ndisc;
pub mod tcp;
pub mod udp;

pub use arp::{ArpOperation, ArpPacket, ArpRepr};
pub use ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
pub use icmpv4::{Icmpv4DstUnreachable, Icmpv4Message, Icmpv4Packet, Icmpv4Repr};
pub use icmpv6::{Icmpv6DstUnreachable, Icmpv6Packet, Icmpv6Repr};
pub use ip::{IpCidr, IpProtocol, quoted_ports};
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6Packet, Ipv6Repr};
pub use mld::MldRepr;
pub use ndisc::{NdiscOption, NdiscOptions, NdiscRepr};
pub use tcp::{TcpFlags, TcpOption, TcpPacket, TcpRepr, TcpSeqNumber};
pub use udp::{UdpPacket, UdpRepr};

/// Why a packet could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireError {
    /// The buffer is shorter than a header, an offset or a length field
    /// requires.
    Truncated,
    /// A field holds a value the format does not allow (wrong version,
    /// header length below the minimum, bad option length, ...).
    Malformed,
    /// The checksum does not match the contents.
    BadChecksum,
    /// Well-formed, but a variant this stack does not speak (ARP over
    /// something other than Ethernet/IPv4, an ICMP type we do not handle).
    Unsupported,
}

/// The result of parsing a packet.
pub type WireResult<T> = Result<T, WireError>;

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "truncated packet",
            WireError::Malformed => "malformed packet",
            WireError::BadChecksum => "bad checksum",
            WireError::Unsupported => "unsupported packet",
        })
    }
}

impl core::error::Error for WireError {}

/// A byte range of a fixed field inside a header.
pub(crate) type Field = Range<usize>;
/// The bytes from an offset to the end of the buffer.
pub(crate) type Rest = RangeFrom<usize>;

/// Big-endian reads and writes of fields whose bounds the caller checked
/// (every view checks them in `new_checked`).
pub(crate) mod bytes {
    use core::net::{Ipv4Addr, Ipv6Addr};

    use super::Field;

    pub(crate) fn read_u16(data: &[u8], field: Field) -> u16 {
        let b = &data[field];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub(crate) fn read_u32(data: &[u8], field: Field) -> u32 {
        let b = &data[field];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub(crate) fn write_u16(data: &mut [u8], field: Field, value: u16) {
        data[field].copy_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn write_u32(data: &mut [u8], field: Field, value: u32) {
        data[field].copy_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn read_ipv4(data: &[u8], field: Field) -> Ipv4Addr {
        Ipv4Addr::from_bits(read_u32(data, field))
    }

    /// `data[start..end]`, with the range cut to the buffer: variable-length
    /// accessors use it so that a length field changed by a setter after
    /// `new_checked` still cannot make them panic.
    pub(crate) fn clamp(data: &[u8], start: usize, end: usize) -> &[u8] {
        let end = end.min(data.len());
        &data[start.min(end)..end]
    }

    pub(crate) fn clamp_mut(data: &mut [u8], start: usize, end: usize) -> &mut [u8] {
        let end = end.min(data.len());
        &mut data[start.min(end)..end]
    }

    pub(crate) fn read_ipv6(data: &[u8], field: Field) -> Ipv6Addr {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&data[field]);
        Ipv6Addr::from(octets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    /// The contract: once `new_checked` accepted a buffer, setters that
    /// rewrite length fields past it do not make any accessor panic.
    #[test]
    fn hostile_length_setters_do_not_panic() {
        let a: IpAddr = Ipv4Addr::new(10, 0, 0, 1).into();
        let mut buf = [0u8; 64];

        Ipv4Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 1),
            dst_addr: Ipv4Addr::new(10, 0, 0, 2),
            next_header: IpProtocol::Udp,
            payload_len: 4,
            hop_limit: 1,
            dscp_ecn: 0,
            ident: 0,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
        }
        .emit(&mut Ipv4Packet::new_unchecked(&mut buf[..24]), true);
        let mut p = Ipv4Packet::new_checked(&mut buf[..24]).unwrap();
        p.set_header_len(60);
        p.set_total_len(9);
        assert!(p.options().len() <= 4 && p.payload().is_empty() && p.payload_mut().is_empty());
        p.fill_checksum();
        let _ = (p.verify_checksum(), p.options_mut().len());

        let mut buf = [0u8; 64];
        let mut p = Ipv6Packet::new_checked(&mut buf[..40]).unwrap();
        p.set_payload_len(1000);
        assert!(p.payload().is_empty() && p.payload_mut().is_empty());

        let mut buf = [0u8; 64];
        buf[4..6].copy_from_slice(&8u16.to_be_bytes());
        let mut p = UdpPacket::new_checked(&mut buf[..8]).unwrap();
        p.set_len(3);
        assert!(p.payload().is_empty() && p.payload_mut().is_empty());
        p.set_len(500);
        p.fill_checksum(&a, &a);
        let _ = p.verify_checksum(&a, &a);

        let mut buf = [0u8; 64];
        buf[12] = 5 << 4;
        let mut p = TcpPacket::new_checked(&mut buf[..20]).unwrap();
        p.set_header_len(60);
        assert!(p.options().is_empty() && p.payload().is_empty() && p.options_mut().is_empty());
        p.fill_checksum(&a, &a);
        let _ = (p.verify_checksum(&a, &a), p.payload_mut().len(), p.segment_len());

        let mut buf = [0u8; 28];
        buf[4] = 6;
        buf[5] = 4;
        let mut p = ArpPacket::new_checked(&mut buf[..]).unwrap();
        p.set_hardware_len(255);
        p.set_target_protocol_addr(&[1, 2, 3, 4]);
        assert!(p.target_protocol_addr().is_empty());
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    /// A small deterministic generator for property-style tests.
    pub(crate) struct XorShift(pub u64);

    impl XorShift {
        pub(crate) fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }

        pub(crate) fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                *b = self.next_u64() as u8;
            }
        }
    }
}
