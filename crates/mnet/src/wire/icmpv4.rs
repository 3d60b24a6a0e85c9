//! ICMP for IPv4 (RFC 792, RFC 1191 for the next-hop MTU): echo and the
//! error messages a host acts on.

use super::bytes::{read_u16, write_u16};
use super::checksum;
use super::{WireError, WireResult};

/// The fixed part of every ICMPv4 message: type, code, checksum and four
/// type-specific bytes.
pub const HEADER_LEN: usize = 8;

mod field {
    use crate::wire::{Field, Rest};

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    /// The four type-specific bytes ("unused" in most error messages).
    pub const REST_OF_HEADER: Field = 4..8;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQ_NO: Field = 6..8;
    pub const NEXT_HOP_MTU: Field = 6..8;
    pub const POINTER: usize = 4;
    pub const DATA: Rest = 8..;
}

/// The ICMPv4 message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv4Message {
    EchoReply,
    DstUnreachable,
    Redirect,
    EchoRequest,
    RouterAdvert,
    RouterSolicit,
    TimeExceeded,
    ParamProblem,
    Timestamp,
    TimestampReply,
    Unknown(u8),
}

impl From<u8> for Icmpv4Message {
    fn from(v: u8) -> Self {
        match v {
            0 => Icmpv4Message::EchoReply,
            3 => Icmpv4Message::DstUnreachable,
            5 => Icmpv4Message::Redirect,
            8 => Icmpv4Message::EchoRequest,
            9 => Icmpv4Message::RouterAdvert,
            10 => Icmpv4Message::RouterSolicit,
            11 => Icmpv4Message::TimeExceeded,
            12 => Icmpv4Message::ParamProblem,
            13 => Icmpv4Message::Timestamp,
            14 => Icmpv4Message::TimestampReply,
            other => Icmpv4Message::Unknown(other),
        }
    }
}

impl From<Icmpv4Message> for u8 {
    fn from(m: Icmpv4Message) -> u8 {
        match m {
            Icmpv4Message::EchoReply => 0,
            Icmpv4Message::DstUnreachable => 3,
            Icmpv4Message::Redirect => 5,
            Icmpv4Message::EchoRequest => 8,
            Icmpv4Message::RouterAdvert => 9,
            Icmpv4Message::RouterSolicit => 10,
            Icmpv4Message::TimeExceeded => 11,
            Icmpv4Message::ParamProblem => 12,
            Icmpv4Message::Timestamp => 13,
            Icmpv4Message::TimestampReply => 14,
            Icmpv4Message::Unknown(v) => v,
        }
    }
}

/// Codes of Destination Unreachable (RFC 792, RFC 1122 §3.2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv4DstUnreachable {
    NetUnreachable,
    HostUnreachable,
    ProtoUnreachable,
    PortUnreachable,
    /// "fragmentation needed and DF set": carries the next-hop MTU
    /// (RFC 1191).
    FragRequired,
    Other(u8),
}

impl From<u8> for Icmpv4DstUnreachable {
    fn from(v: u8) -> Self {
        match v {
            0 => Icmpv4DstUnreachable::NetUnreachable,
            1 => Icmpv4DstUnreachable::HostUnreachable,
            2 => Icmpv4DstUnreachable::ProtoUnreachable,
            3 => Icmpv4DstUnreachable::PortUnreachable,
            4 => Icmpv4DstUnreachable::FragRequired,
            other => Icmpv4DstUnreachable::Other(other),
        }
    }
}

impl From<Icmpv4DstUnreachable> for u8 {
    fn from(c: Icmpv4DstUnreachable) -> u8 {
        match c {
            Icmpv4DstUnreachable::NetUnreachable => 0,
            Icmpv4DstUnreachable::HostUnreachable => 1,
            Icmpv4DstUnreachable::ProtoUnreachable => 2,
            Icmpv4DstUnreachable::PortUnreachable => 3,
            Icmpv4DstUnreachable::FragRequired => 4,
            Icmpv4DstUnreachable::Other(v) => v,
        }
    }
}

/// A view of an ICMPv4 message. The buffer is the whole message (the IPv4
/// payload), which the checksum covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    pub fn new_unchecked(buffer: T) -> Icmpv4Packet<T> {
        Icmpv4Packet { buffer }
    }

    /// `Truncated` if the buffer is shorter than the 8-byte header.
    pub fn new_checked(buffer: T) -> WireResult<Icmpv4Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> WireResult<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> Icmpv4Message {
        Icmpv4Message::from(self.buffer.as_ref()[field::TYPE])
    }

    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Echo request/reply identifier.
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo request/reply sequence number.
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_SEQ_NO)
    }

    /// The next-hop MTU of a "fragmentation needed" message (RFC 1191).
    pub fn next_hop_mtu(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::NEXT_HOP_MTU)
    }

    /// The octet a Parameter Problem points at.
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// Everything after the 8-byte header: echo data, or the offending
    /// datagram of an error.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA]
    }

    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::ones_sum(0, self.buffer.as_ref())) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    pub fn set_msg_type(&mut self, t: Icmpv4Message) {
        self.buffer.as_mut()[field::TYPE] = t.into();
    }

    pub fn set_msg_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code;
    }

    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    pub fn set_echo_ident(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_IDENT, v);
    }

    pub fn set_echo_seq_no(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_SEQ_NO, v);
    }

    pub fn set_next_hop_mtu(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::NEXT_HOP_MTU, v);
    }

    pub fn set_pointer(&mut self, v: u8) {
        self.buffer.as_mut()[field::POINTER] = v;
    }

    /// Zeroes the four type-specific header bytes.
    pub fn clear_rest_of_header(&mut self) {
        self.buffer.as_mut()[field::REST_OF_HEADER].fill(0);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA]
    }

    /// Computes the checksum over the whole buffer and writes it.
    pub fn fill_checksum(&mut self) {
        // RFC 792: "The checksum is the 16-bit ones's complement of the one's
        // complement sum of the ICMP message starting with the ICMP Type. For
        // computing the checksum , the checksum field should be zero."
        self.set_checksum(0);
        let sum = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Icmpv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A parsed ICMPv4 message. `invoking` is the offending datagram (its IPv4
/// header and the start of its data) as quoted in the message: read it with
/// `Ipv4Packet::new_quoted`, as it is often cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv4Repr<'a> {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    /// `next_hop_mtu` is read for `FragRequired` only (zero otherwise).
    DstUnreachable {
        reason: Icmpv4DstUnreachable,
        next_hop_mtu: u16,
        invoking: &'a [u8],
    },
    /// Code 0: TTL exceeded in transit; 1: reassembly time exceeded.
    TimeExceeded {
        code: u8,
        invoking: &'a [u8],
    },
    /// Any code is accepted; `emit` writes code 0 ("pointer indicates the
    /// error").
    ParamProblem {
        pointer: u8,
        invoking: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// `Unsupported` for types other than the five above (RFC 1122
    /// §3.2.2: "If an ICMP message of unknown type is received, it MUST be
    /// silently discarded."); `Malformed` for an echo with a non-zero code;
    /// `BadChecksum` if `verify_checksum` and the checksum is wrong.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Icmpv4Packet<&'a T>, verify_checksum: bool) -> WireResult<Icmpv4Repr<'a>> {
        packet.check_len()?;
        if verify_checksum && !packet.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        // The data borrowed for 'a, not for the borrow of `packet`.
        let buffer: &'a T = packet.buffer;
        let data = &buffer.as_ref()[field::DATA];
        let code = packet.msg_code();
        match packet.msg_type() {
            Icmpv4Message::EchoRequest | Icmpv4Message::EchoReply if code != 0 => Err(WireError::Malformed),
            Icmpv4Message::EchoRequest => Ok(Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            Icmpv4Message::EchoReply => Ok(Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            }),
            Icmpv4Message::DstUnreachable => {
                let reason = Icmpv4DstUnreachable::from(code);
                // RFC 1191 §4: the router includes "the MTU of that next-hop
                // network in the low-order 16 bits of the ICMP header field
                // that is labelled "unused" in the ICMP specification".
                let next_hop_mtu = if reason == Icmpv4DstUnreachable::FragRequired {
                    packet.next_hop_mtu()
                } else {
                    0
                };
                Ok(Icmpv4Repr::DstUnreachable {
                    reason,
                    next_hop_mtu,
                    invoking: data,
                })
            }
            Icmpv4Message::TimeExceeded => Ok(Icmpv4Repr::TimeExceeded { code, invoking: data }),
            Icmpv4Message::ParamProblem => Ok(Icmpv4Repr::ParamProblem {
                pointer: packet.pointer(),
                invoking: data,
            }),
            _ => Err(WireError::Unsupported),
        }
    }

    /// The data or quoted datagram after the 8-byte header.
    fn body(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => data,
            Icmpv4Repr::DstUnreachable { invoking, .. }
            | Icmpv4Repr::TimeExceeded { invoking, .. }
            | Icmpv4Repr::ParamProblem { invoking, .. } => invoking,
        }
    }

    /// The whole message: 8 + the data or quoted datagram.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body().len()
    }

    /// Writes the whole message into the first `buffer_len()` bytes and
    /// computes the checksum over them.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Icmpv4Packet<&mut T>) {
        packet.clear_rest_of_header();
        match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } | Icmpv4Repr::EchoReply { ident, seq_no, .. } => {
                let t = if matches!(self, Icmpv4Repr::EchoRequest { .. }) {
                    Icmpv4Message::EchoRequest
                } else {
                    Icmpv4Message::EchoReply
                };
                packet.set_msg_type(t);
                packet.set_msg_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
            }
            Icmpv4Repr::DstUnreachable { reason, next_hop_mtu, .. } => {
                packet.set_msg_type(Icmpv4Message::DstUnreachable);
                packet.set_msg_code(reason.into());
                packet.set_next_hop_mtu(next_hop_mtu);
            }
            Icmpv4Repr::TimeExceeded { code, .. } => {
                packet.set_msg_type(Icmpv4Message::TimeExceeded);
                packet.set_msg_code(code);
            }
            Icmpv4Repr::ParamProblem { pointer, .. } => {
                packet.set_msg_type(Icmpv4Message::ParamProblem);
                packet.set_msg_code(0);
                packet.set_pointer(pointer);
            }
        }
        let body = self.body();
        packet.data_mut()[..body.len()].copy_from_slice(body);
        packet.set_checksum(0);
        let len = self.buffer_len();
        let sum = checksum::checksum(&packet.buffer.as_ref()[..len]);
        packet.set_checksum(sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{IpProtocol, Ipv4Packet, Ipv4Repr};
    use alloc::vec;
    use alloc::vec::Vec;
    use core::net::Ipv4Addr;

    // Captured from Linux (ping on a veth pair, a router namespace between
    // 10.9.1.0/24 and 10.9.2.0/24). Ethernet frames.
    const ECHO_REQUEST: [u8; 58] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x8f, 0x80, 0x40, 0x00,
        0x40, 0x01, 0x95, 0x3c, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x01, 0x02, 0x08, 0x00, 0xe5, 0xe0, 0x38, 0x57, 0x00, 0x01, 0x0e, 0x54,
        0x08, 0x6b, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    const ECHO_REPLY: [u8; 58] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45, 0x00, 0x00, 0x2c, 0xa0, 0x6c, 0x00, 0x00,
        0x40, 0x01, 0xc4, 0x50, 0x0a, 0x09, 0x01, 0x02, 0x0a, 0x09, 0x01, 0x01, 0x00, 0x00, 0xed, 0xe0, 0x38, 0x57, 0x00, 0x01, 0x0e, 0x54,
        0x08, 0x6b, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    // `ping -t 1 10.9.2.1`: the router answers TTL exceeded in transit.
    const TIME_EXCEEDED: [u8; 78] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45, 0xc0, 0x00, 0x40, 0xa0, 0x6f, 0x00, 0x00,
        0x40, 0x01, 0xc3, 0x79, 0x0a, 0x09, 0x01, 0x02, 0x0a, 0x09, 0x01, 0x01, 0x0b, 0x00, 0xf4, 0xff, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00,
        0x00, 0x24, 0x92, 0x80, 0x40, 0x00, 0x01, 0x01, 0xd0, 0x45, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x02, 0x01, 0x08, 0x00, 0xb3, 0x94,
        0x38, 0x5a, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    ];
    // UDP "hello" to port 9 where nothing listens: port unreachable.
    const PORT_UNREACHABLE: [u8; 75] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45, 0xc0, 0x00, 0x3d, 0xa0, 0x72, 0x00, 0x00,
        0x40, 0x01, 0xc3, 0x79, 0x0a, 0x09, 0x01, 0x02, 0x0a, 0x09, 0x01, 0x01, 0x03, 0x03, 0x13, 0x30, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00,
        0x00, 0x21, 0xf4, 0x0a, 0x40, 0x00, 0x40, 0x11, 0x30, 0xad, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x01, 0x02, 0x9c, 0x40, 0x00, 0x09,
        0x00, 0x0d, 0x09, 0xa4, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
    ];
    // `ping -M do -s 60` across a router whose next link has MTU 68.
    const FRAG_NEEDED: [u8; 130] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45, 0xc0, 0x00, 0x74, 0x18, 0x24, 0x00, 0x00,
        0x40, 0x01, 0x4b, 0x91, 0x0a, 0x09, 0x01, 0x02, 0x0a, 0x09, 0x01, 0x01, 0x03, 0x04, 0xfc, 0xb7, 0x00, 0x00, 0x00, 0x44, 0x45, 0x00,
        0x00, 0x58, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0x23, 0x92, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x02, 0x01, 0x08, 0x00, 0x94, 0x2e,
        0x3a, 0x01, 0x00, 0x01, 0x14, 0x54, 0x08, 0x6b, 0x00, 0x00, 0x00, 0x00, 0xd7, 0xc8, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11,
        0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
        0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b,
    ];

    /// The ICMP message inside an Ethernet/IPv4 frame.
    fn icmp_of(frame: &[u8]) -> &[u8] {
        let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
        let repr = Ipv4Repr::parse(&ip, true).unwrap();
        assert_eq!(repr.next_header, IpProtocol::Icmp);
        let start = 14 + ip.header_len();
        &frame[start..start + repr.payload_len]
    }

    fn golden(frame: &[u8], want: Icmpv4Repr<'_>) {
        let bytes = icmp_of(frame);
        let packet = Icmpv4Packet::new_checked(bytes).unwrap();
        assert!(packet.verify_checksum());
        let repr = Icmpv4Repr::parse(&packet, true).unwrap();
        assert_eq!(repr, want);
        assert_eq!(repr.buffer_len(), bytes.len());
        let mut out = vec![0xaau8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
        assert_eq!(&out[..], bytes);
    }

    #[test]
    fn golden_echo() {
        let data = &ECHO_REQUEST[42..];
        golden(
            &ECHO_REQUEST,
            Icmpv4Repr::EchoRequest {
                ident: 0x3857,
                seq_no: 1,
                data,
            },
        );
        golden(
            &ECHO_REPLY,
            Icmpv4Repr::EchoReply {
                ident: 0x3857,
                seq_no: 1,
                data,
            },
        );
    }

    #[test]
    fn golden_time_exceeded() {
        let invoking = &TIME_EXCEEDED[42..];
        golden(&TIME_EXCEEDED, Icmpv4Repr::TimeExceeded { code: 0, invoking });
        // The quoted datagram: our echo request, TTL 1.
        let quoted = Ipv4Packet::new_quoted(invoking).unwrap();
        assert_eq!(quoted.hop_limit(), 1);
        assert_eq!(quoted.dst_addr(), Ipv4Addr::new(10, 9, 2, 1));
    }

    #[test]
    fn golden_port_unreachable() {
        let invoking = &PORT_UNREACHABLE[42..];
        golden(
            &PORT_UNREACHABLE,
            Icmpv4Repr::DstUnreachable {
                reason: Icmpv4DstUnreachable::PortUnreachable,
                next_hop_mtu: 0,
                invoking,
            },
        );
        let quoted = Ipv4Packet::new_quoted(invoking).unwrap();
        assert_eq!(quoted.next_header(), IpProtocol::Udp);
        assert_eq!(crate::wire::quoted_ports(quoted.payload()), Some((40000, 9)));
    }

    #[test]
    fn golden_frag_needed() {
        let invoking = &FRAG_NEEDED[42..];
        golden(
            &FRAG_NEEDED,
            Icmpv4Repr::DstUnreachable {
                reason: Icmpv4DstUnreachable::FragRequired,
                next_hop_mtu: 68,
                invoking,
            },
        );
        let quoted = Ipv4Packet::new_quoted(invoking).unwrap();
        assert!(quoted.dont_frag());
        assert_eq!(quoted.total_len(), 88);
    }

    #[test]
    fn parameter_problem_round_trip() {
        let invoking = &ECHO_REQUEST[14..42];
        let repr = Icmpv4Repr::ParamProblem { pointer: 9, invoking };
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]));
        assert_eq!((out[0], out[1]), (12, 0));
        assert_eq!(&out[4..8], &[9, 0, 0, 0]);
        assert_eq!(&out[8..], invoking);
        let packet = Icmpv4Packet::new_checked(&out[..]).unwrap();
        assert_eq!(packet.msg_type(), Icmpv4Message::ParamProblem);
        assert_eq!(Icmpv4Repr::parse(&packet, true), Ok(repr));
    }

    #[test]
    fn rejections() {
        let bytes = icmp_of(&ECHO_REQUEST);
        for len in 0..HEADER_LEN {
            assert_eq!(Icmpv4Packet::new_checked(&bytes[..len]).err(), Some(WireError::Truncated));
        }
        // Cut anywhere past the header: the view is fine, the checksum is not
        // (unless only zero bytes were cut, which the sum cannot see).
        for len in HEADER_LEN..bytes.len() {
            let packet = Icmpv4Packet::new_checked(&bytes[..len]).unwrap();
            let parsed = Icmpv4Repr::parse(&packet, true);
            if bytes[len..].iter().all(|&b| b == 0) {
                let data = &bytes[8..len];
                assert_eq!(
                    parsed,
                    Ok(Icmpv4Repr::EchoRequest {
                        ident: 0x3857,
                        seq_no: 1,
                        data
                    })
                );
            } else {
                assert_eq!(parsed, Err(WireError::BadChecksum), "len {len}");
            }
        }
        let with = |at: usize, value: u8| {
            let mut b = Vec::from(bytes);
            b[at] = value;
            b
        };
        let b = with(9, 0xff);
        assert_eq!(
            Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&b[..]).unwrap(), true),
            Err(WireError::BadChecksum)
        );
        // Unknown or unhandled types: unsupported. Echo with a code: malformed.
        for t in [5u8, 13, 42] {
            let b = with(0, t);
            let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
            assert_eq!(Icmpv4Repr::parse(&p, false), Err(WireError::Unsupported), "type {t}");
        }
        let b = with(1, 1);
        assert_eq!(
            Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&b[..]).unwrap(), false),
            Err(WireError::Malformed)
        );
    }

    #[test]
    fn code_numbers() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(Icmpv4DstUnreachable::from(v)), v);
            assert_eq!(u8::from(Icmpv4Message::from(v)), v);
        }
    }
}
