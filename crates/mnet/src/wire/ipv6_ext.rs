//! IPv6 extension headers (RFC 8200 §4): hop-by-hop and destination
//! options with their option-type action bits, the routing header, and the
//! fragment header.

use super::bytes::{read_u16, read_u32, write_u16, write_u32};
use super::{IpProtocol, WireError, WireResult};

/// Length of the fragment header (RFC 8200 §4.5).
pub const FRAGMENT_HEADER_LEN: usize = 8;

/// A generic extension header with the RFC 8200 §4.3 layout: Next Header,
/// Hdr Ext Len ("in 8-octet units, not including the first 8 octets"),
/// then data. Used for hop-by-hop, destination options and routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader<'a> {
    pub next_header: IpProtocol,
    /// The whole header, first two bytes included.
    pub bytes: &'a [u8],
}

impl<'a> ExtHeader<'a> {
    /// The header at the start of `b`.
    pub fn parse(b: &'a [u8]) -> WireResult<ExtHeader<'a>> {
        let len = (usize::from(*b.get(1).ok_or(WireError::Truncated)?) + 1) * 8;
        let bytes = b.get(..len).ok_or(WireError::Truncated)?;
        Ok(ExtHeader {
            next_header: IpProtocol::from(bytes[0]),
            bytes,
        })
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Options of a hop-by-hop or destination options header: (offset of
    /// the option within the header, type, data).
    pub fn options(&self) -> impl Iterator<Item = WireResult<(usize, u8, &'a [u8])>> + 'a {
        let b = self.bytes;
        let mut at = 2;
        core::iter::from_fn(move || {
            if at >= b.len() {
                return None;
            }
            let kind = b[at];
            // RFC 8200 §4.2: "Pad1 option ... a single octet of padding";
            // it has no length field.
            if kind == option::PAD1 {
                at += 1;
                return Some(Ok((at - 1, kind, &b[at..at])));
            }
            let Some(&len) = b.get(at + 1) else {
                at = b.len();
                return Some(Err(WireError::Truncated));
            };
            let start = at;
            let end = at + 2 + usize::from(len);
            let Some(data) = b.get(at + 2..end) else {
                at = b.len();
                return Some(Err(WireError::Truncated));
            };
            at = end;
            Some(Ok((start, kind, data)))
        })
    }
}

/// Option types inside hop-by-hop and destination options headers.
pub mod option {
    pub const PAD1: u8 = 0;
    pub const PADN: u8 = 1;
    /// RFC 2711: Router Alert (hop-by-hop; MLD messages carry it).
    pub const ROUTER_ALERT: u8 = 5;
}

/// What to do with an option we do not recognise (RFC 8200 §4.2: "The
/// Option Type identifiers are internally encoded such that their
/// highest-order 2 bits specify the action that must be taken if the
/// processing IPv6 node does not recognize the Option Type").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownOptionAction {
    /// "00 - skip over this option and continue processing the header."
    Skip,
    /// "01 - discard the packet."
    Discard,
    /// "10 - discard the packet and, regardless of whether or not the
    /// packet's Destination Address was a multicast address, send an ICMP
    /// Parameter Problem, Code 2, message to the packet's Source Address,
    /// pointing to the unrecognized Option Type."
    DiscardSendError,
    /// "11 - discard the packet and, only if the packet's Destination
    /// Address was not a multicast address, send an ICMP Parameter Problem,
    /// Code 2, message to the packet's Source Address, pointing to the
    /// unrecognized Option Type."
    DiscardSendErrorUnlessMulticast,
}

impl UnknownOptionAction {
    pub fn of(option_type: u8) -> UnknownOptionAction {
        match option_type >> 6 {
            0 => UnknownOptionAction::Skip,
            1 => UnknownOptionAction::Discard,
            2 => UnknownOptionAction::DiscardSendError,
            _ => UnknownOptionAction::DiscardSendErrorUnlessMulticast,
        }
    }
}

/// The routing header's fixed fields (RFC 8200 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingHeader {
    pub next_header: IpProtocol,
    pub routing_type: u8,
    pub segments_left: u8,
}

impl RoutingHeader {
    /// RFC 5095 §3: Type 0 is deprecated; a host treats it as any
    /// unrecognized type.
    pub const TYPE0: u8 = 0;

    pub fn parse(h: &ExtHeader<'_>) -> WireResult<RoutingHeader> {
        if h.bytes.len() < 4 {
            return Err(WireError::Truncated);
        }
        Ok(RoutingHeader {
            next_header: h.next_header,
            routing_type: h.bytes[2],
            segments_left: h.bytes[3],
        })
    }
}

/// The fragment header (RFC 8200 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader {
    pub next_header: IpProtocol,
    /// In bytes (the field counts 8-octet units).
    pub offset: usize,
    pub more_frags: bool,
    pub ident: u32,
}

impl FragmentHeader {
    pub fn parse(b: &[u8]) -> WireResult<FragmentHeader> {
        let b = b.get(..FRAGMENT_HEADER_LEN).ok_or(WireError::Truncated)?;
        let off_m = read_u16(b, 2..4);
        Ok(FragmentHeader {
            next_header: IpProtocol::from(b[0]),
            offset: usize::from(off_m & !7),
            more_frags: off_m & 1 == 1,
            ident: read_u32(b, 4..8),
        })
    }

    /// Write 8 bytes at the start of `b`. `offset` must be a multiple of 8.
    pub fn emit(&self, b: &mut [u8]) {
        b[0] = self.next_header.into();
        b[1] = 0;
        write_u16(b, 2..4, (self.offset as u16 & !7) | u16::from(self.more_frags));
        write_u32(b, 4..8, self.ident);
    }

    /// RFC 6946 §3: "an "atomic fragment" (i.e., a packet with a Fragment
    /// Header with both the "Fragment Offset" and the "M" flag set to 0)".
    pub fn is_atomic(&self) -> bool {
        self.offset == 0 && !self.more_frags
    }
}

/// A hop-by-hop header carrying the Router Alert option (RFC 2711) with
/// value 0 ("Datagram contains a Multicast Listener Discovery message"),
/// padded to 8 bytes with PadN, as MLD requires (RFC 3810 §5).
pub fn router_alert_hop_by_hop(next_header: IpProtocol) -> [u8; 8] {
    [next_header.into(), 0, option::ROUTER_ALERT, 2, 0, 0, option::PADN, 0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn hop_by_hop_with_router_alert() {
        let h = router_alert_hop_by_hop(IpProtocol::Icmpv6);
        let e = ExtHeader::parse(&h).unwrap();
        assert_eq!(e.next_header, IpProtocol::Icmpv6);
        assert_eq!(e.len(), 8);
        let opts: Vec<_> = e.options().collect::<Result<_, _>>().unwrap();
        assert_eq!(opts, [(2, option::ROUTER_ALERT, &[0u8, 0][..]), (6, option::PADN, &[][..])]);
    }

    #[test]
    fn option_actions_and_truncation() {
        assert_eq!(UnknownOptionAction::of(0x1e), UnknownOptionAction::Skip);
        assert_eq!(UnknownOptionAction::of(0x5e), UnknownOptionAction::Discard);
        assert_eq!(UnknownOptionAction::of(0x9e), UnknownOptionAction::DiscardSendError);
        assert_eq!(UnknownOptionAction::of(0xde), UnknownOptionAction::DiscardSendErrorUnlessMulticast);
        // An option whose length runs past the header.
        let h = [17u8, 0, 0x1e, 9, 0, 0, 0, 0];
        let e = ExtHeader::parse(&h).unwrap();
        assert_eq!(e.options().next(), Some(Err(WireError::Truncated)));
        // Pad1 options only.
        let h = [17u8, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(ExtHeader::parse(&h).unwrap().options().count(), 6);
        // Hdr Ext Len beyond the buffer.
        assert_eq!(ExtHeader::parse(&[17u8, 1, 0, 0, 0, 0, 0, 0]), Err(WireError::Truncated));
    }

    #[test]
    fn fragment_header() {
        let f = FragmentHeader {
            next_header: IpProtocol::Udp,
            offset: 1448,
            more_frags: true,
            ident: 0xdead_beef,
        };
        let mut b = [0u8; 8];
        f.emit(&mut b);
        assert_eq!(b, [17, 0, 0x05, 0xa9, 0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(FragmentHeader::parse(&b), Ok(f));
        assert!(!f.is_atomic());
        let atomic = FragmentHeader::parse(&[6, 0, 0, 0, 0, 0, 0, 1]).unwrap();
        assert!(atomic.is_atomic());
        assert_eq!(FragmentHeader::parse(&b[..7]), Err(WireError::Truncated));
    }

    #[test]
    fn routing_header() {
        let h = [6u8, 0, 0, 1, 0, 0, 0, 0];
        let r = RoutingHeader::parse(&ExtHeader::parse(&h).unwrap()).unwrap();
        assert_eq!((r.routing_type, r.segments_left), (RoutingHeader::TYPE0, 1));
    }
}
