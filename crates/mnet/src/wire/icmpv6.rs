//! ICMP for IPv6 (RFC 4443): echo, the four error messages, and the
//! envelope of neighbour discovery (RFC 4861, [`super::ndisc`]) and MLDv2
//! (RFC 3810, [`super::mld`]). The checksum covers the IPv6 pseudo-header
//! (RFC 4443 §2.3), so parse and emit take the two addresses.

use core::net::{IpAddr, Ipv6Addr};

use super::bytes::{read_u16, read_u32, write_u16, write_u32};
use super::checksum;
use super::mld::MldRepr;
use super::ndisc::NdiscRepr;
use super::{IpProtocol, WireError, WireResult};

/// Type, code, checksum and the four type-specific bytes.
pub const HEADER_LEN: usize = 8;

mod field {
    use crate::wire::Field;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const REST: Field = 4..8;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQ_NO: Field = 6..8;
}

/// ICMPv6 message types this stack knows (RFC 4443 §2.1, RFC 4861 §4,
/// RFC 3810 §5).
pub mod message {
    pub const DST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const PARAM_PROBLEM: u8 = 4;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    pub const MLD_QUERY: u8 = 130;
    pub const MLDV1_REPORT: u8 = 131;
    pub const MLDV1_DONE: u8 = 132;
    pub const ROUTER_SOLICIT: u8 = 133;
    pub const ROUTER_ADVERT: u8 = 134;
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    pub const NEIGHBOR_ADVERT: u8 = 136;
    pub const REDIRECT: u8 = 137;
    pub const MLDV2_REPORT: u8 = 143;

    /// RFC 4443 §2.1: "Error messages are identified as such by a zero in
    /// the high-order bit of their message Type field values."
    pub fn is_error(t: u8) -> bool {
        t & 0x80 == 0
    }
}

/// Codes of Destination Unreachable (RFC 4443 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv6DstUnreachable {
    NoRoute,
    AdminProhibited,
    BeyondScope,
    AddrUnreachable,
    PortUnreachable,
    FailedPolicy,
    RejectRoute,
    Other(u8),
}

impl From<u8> for Icmpv6DstUnreachable {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::NoRoute,
            1 => Self::AdminProhibited,
            2 => Self::BeyondScope,
            3 => Self::AddrUnreachable,
            4 => Self::PortUnreachable,
            5 => Self::FailedPolicy,
            6 => Self::RejectRoute,
            o => Self::Other(o),
        }
    }
}

impl From<Icmpv6DstUnreachable> for u8 {
    fn from(c: Icmpv6DstUnreachable) -> u8 {
        match c {
            Icmpv6DstUnreachable::NoRoute => 0,
            Icmpv6DstUnreachable::AdminProhibited => 1,
            Icmpv6DstUnreachable::BeyondScope => 2,
            Icmpv6DstUnreachable::AddrUnreachable => 3,
            Icmpv6DstUnreachable::PortUnreachable => 4,
            Icmpv6DstUnreachable::FailedPolicy => 5,
            Icmpv6DstUnreachable::RejectRoute => 6,
            Icmpv6DstUnreachable::Other(v) => v,
        }
    }
}

/// Codes of Parameter Problem (RFC 4443 §3.4).
pub mod param_problem {
    /// "erroneous header field encountered"
    pub const ERRONEOUS_FIELD: u8 = 0;
    /// "unrecognized Next Header type encountered"
    pub const UNRECOGNIZED_NEXT_HEADER: u8 = 1;
    /// "unrecognized IPv6 option encountered"
    pub const UNRECOGNIZED_OPTION: u8 = 2;
    /// RFC 7112 §5: "IPv6 First Fragment has incomplete IPv6 Header Chain"
    pub const INCOMPLETE_HEADER_CHAIN: u8 = 3;
}

/// A view of an ICMPv6 message (the whole IPv6 upper-layer payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    pub fn new_unchecked(buffer: T) -> Icmpv6Packet<T> {
        Icmpv6Packet { buffer }
    }

    /// `Truncated` if shorter than the 8-byte header.
    pub fn new_checked(buffer: T) -> WireResult<Icmpv6Packet<T>> {
        let p = Self::new_unchecked(buffer);
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(p)
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The four type-specific bytes as one number (MTU, pointer).
    pub fn rest_u32(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::REST)
    }

    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_SEQ_NO)
    }

    /// Everything after the 8-byte header.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// The whole message: header and body.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// RFC 4443 §2.3: the checksum "is the 16-bit one's complement of the
    /// one's complement sum of the entire ICMPv6 message, starting with the
    /// ICMPv6 message type field, and prepended with a "pseudo-header" of
    /// IPv6 header fields".
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(len) = u32::try_from(data.len()) else { return false };
        let sum = checksum::pseudo_header_v6(src, dst, IpProtocol::Icmpv6, len);
        checksum::fold(checksum::ones_sum(sum, data)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    pub fn set_msg_type(&mut self, t: u8) {
        self.buffer.as_mut()[field::TYPE] = t;
    }

    pub fn set_msg_code(&mut self, c: u8) {
        self.buffer.as_mut()[field::CODE] = c;
    }

    pub fn set_rest_u32(&mut self, v: u32) {
        write_u32(self.buffer.as_mut(), field::REST, v);
    }

    pub fn set_echo_ident(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_IDENT, v);
    }

    pub fn set_echo_seq_no(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_SEQ_NO, v);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, 0);
        let data = self.buffer.as_ref();
        let sum = checksum::pseudo_header_v6(src, dst, IpProtocol::Icmpv6, data.len() as u32);
        let c = !checksum::fold(checksum::ones_sum(sum, data));
        write_u16(self.buffer.as_mut(), field::CHECKSUM, c);
    }
}

/// A parsed ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    DstUnreachable {
        reason: Icmpv6DstUnreachable,
        invoking: &'a [u8],
    },
    /// RFC 4443 §3.2: carries "The Maximum Transmission Unit of the
    /// next-hop link".
    PacketTooBig {
        mtu: u32,
        invoking: &'a [u8],
    },
    /// Code 0: hop limit exceeded in transit; 1: fragment reassembly time
    /// exceeded (RFC 4443 §3.3).
    TimeExceeded {
        code: u8,
        invoking: &'a [u8],
    },
    /// RFC 4443 §3.4: "Pointer: Identifies the octet offset within the
    /// invoking packet where the error was detected."
    ParamProblem {
        code: u8,
        pointer: u32,
        invoking: &'a [u8],
    },
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
    Ndisc(NdiscRepr<'a>),
    Mld(MldRepr<'a>),
}

impl<'a> Icmpv6Repr<'a> {
    /// Parse a checked view; `verify_checksum` false only when the device
    /// validated it.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv6Packet<&'a T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        verify_checksum: bool,
    ) -> WireResult<Icmpv6Repr<'a>> {
        if verify_checksum && !packet.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        let data: &'a [u8] = &packet.buffer.as_ref()[HEADER_LEN..];
        let code = packet.msg_code();
        Ok(match packet.msg_type() {
            message::DST_UNREACHABLE => Icmpv6Repr::DstUnreachable {
                reason: code.into(),
                invoking: data,
            },
            message::PACKET_TOO_BIG => Icmpv6Repr::PacketTooBig {
                mtu: packet.rest_u32(),
                invoking: data,
            },
            message::TIME_EXCEEDED => Icmpv6Repr::TimeExceeded { code, invoking: data },
            message::PARAM_PROBLEM => Icmpv6Repr::ParamProblem {
                code,
                pointer: packet.rest_u32(),
                invoking: data,
            },
            message::ECHO_REQUEST => Icmpv6Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            message::ECHO_REPLY => Icmpv6Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            message::ROUTER_SOLICIT | message::ROUTER_ADVERT | message::NEIGHBOR_SOLICIT | message::NEIGHBOR_ADVERT | message::REDIRECT => {
                Icmpv6Repr::Ndisc(NdiscRepr::parse(packet.buffer.as_ref())?)
            }
            message::MLD_QUERY | message::MLDV2_REPORT => Icmpv6Repr::Mld(MldRepr::parse(packet.buffer.as_ref())?),
            _ => return Err(WireError::Unsupported),
        })
    }

    /// The whole message length.
    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv6Repr::DstUnreachable { invoking, .. }
            | Icmpv6Repr::PacketTooBig { invoking, .. }
            | Icmpv6Repr::TimeExceeded { invoking, .. }
            | Icmpv6Repr::ParamProblem { invoking, .. } => HEADER_LEN + invoking.len(),
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => HEADER_LEN + data.len(),
            Icmpv6Repr::Ndisc(n) => n.buffer_len(),
            Icmpv6Repr::Mld(m) => m.buffer_len(),
        }
    }

    /// Write the message and its checksum into a buffer of at least
    /// `buffer_len()` bytes (cut to exactly that).
    pub fn emit(&self, buf: &mut [u8], src: &Ipv6Addr, dst: &Ipv6Addr) {
        let len = self.buffer_len();
        let buf = &mut buf[..len];
        let mut p = Icmpv6Packet::new_unchecked(&mut *buf);
        let (t, code, rest, body): (u8, u8, u32, &[u8]) = match *self {
            Icmpv6Repr::DstUnreachable { reason, invoking } => (message::DST_UNREACHABLE, reason.into(), 0, invoking),
            Icmpv6Repr::PacketTooBig { mtu, invoking } => (message::PACKET_TOO_BIG, 0, mtu, invoking),
            Icmpv6Repr::TimeExceeded { code, invoking } => (message::TIME_EXCEEDED, code, 0, invoking),
            Icmpv6Repr::ParamProblem { code, pointer, invoking } => (message::PARAM_PROBLEM, code, pointer, invoking),
            Icmpv6Repr::EchoRequest { ident, seq_no, data } => {
                (message::ECHO_REQUEST, 0, (u32::from(ident) << 16) | u32::from(seq_no), data)
            }
            Icmpv6Repr::EchoReply { ident, seq_no, data } => (message::ECHO_REPLY, 0, (u32::from(ident) << 16) | u32::from(seq_no), data),
            Icmpv6Repr::Ndisc(n) => {
                n.emit(buf);
                Icmpv6Packet::new_unchecked(buf).fill_checksum(src, dst);
                return;
            }
            Icmpv6Repr::Mld(m) => {
                m.emit(buf);
                Icmpv6Packet::new_unchecked(buf).fill_checksum(src, dst);
                return;
            }
        };
        p.set_msg_type(t);
        p.set_msg_code(code);
        p.set_rest_u32(rest);
        p.data_mut().copy_from_slice(body);
        p.fill_checksum(src, dst);
    }
}

/// The checksum of an ICMPv6 message with the pseudo-header, for callers
/// that hold `IpAddr`s.
pub fn verify(data: &[u8], src: &IpAddr, dst: &IpAddr) -> bool {
    let len = data.len() as u32;
    let sum = checksum::pseudo_header(src, dst, IpProtocol::Icmpv6, len);
    checksum::fold(checksum::ones_sum(sum, data)) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// fe80::1 -> fe80::2, ident 0x1a2b, seq 1, data "aaaa".
    #[test]
    fn echo_request_round_trip() {
        let (s, d) = (a("fe80::1"), a("fe80::2"));
        let repr = Icmpv6Repr::EchoRequest {
            ident: 0x1a2b,
            seq_no: 1,
            data: b"aaaa",
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut buf, &s, &d);
        assert_eq!(&buf[..2], &[128, 0]);
        assert_eq!(&buf[4..8], &[0x1a, 0x2b, 0, 1]);
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum(&s, &d));
        assert_eq!(Icmpv6Repr::parse(&p, &s, &d, true), Ok(repr));
        // A different pseudo-header (destination) breaks the checksum.
        assert_eq!(Icmpv6Repr::parse(&p, &s, &a("fe80::3"), true), Err(WireError::BadChecksum));
    }

    /// An empty echo request fd00::1 -> fd00::2 (ident 0x0017, seq 1):
    /// the checksum against one computed by hand.
    #[test]
    fn golden_linux_echo_checksum() {
        let (s, d) = (a("fd00::1"), a("fd00::2"));
        let mut msg = [0x80, 0x00, 0x00, 0x00, 0x00, 0x17, 0x00, 0x01];
        let repr = Icmpv6Repr::EchoRequest {
            ident: 0x17,
            seq_no: 1,
            data: &[],
        };
        repr.emit(&mut msg, &s, &d);
        // One's complement of (pseudo-header + message), computed by hand:
        // pseudo = fd00+0001+fd00+0002+0000+0008+003a = 0x1fa45 -> 0xfa46;
        // message = 8000+0017+0001 = 0x8018; sum = 0x17a5e -> 0x7a5f; ~ = 0x85a0.
        assert_eq!(&msg[2..4], &[0x85, 0xa0]);
    }

    #[test]
    fn errors_parse() {
        let (s, d) = (a("fd00::1"), a("fd00::2"));
        let invoking = [0x60u8; 48];
        for repr in [
            Icmpv6Repr::PacketTooBig {
                mtu: 1400,
                invoking: &invoking,
            },
            Icmpv6Repr::DstUnreachable {
                reason: Icmpv6DstUnreachable::PortUnreachable,
                invoking: &invoking,
            },
            Icmpv6Repr::TimeExceeded {
                code: 1,
                invoking: &invoking,
            },
            Icmpv6Repr::ParamProblem {
                code: param_problem::UNRECOGNIZED_NEXT_HEADER,
                pointer: 6,
                invoking: &invoking,
            },
        ] {
            let mut buf = vec![0u8; repr.buffer_len()];
            repr.emit(&mut buf, &s, &d);
            let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
            assert!(message::is_error(p.msg_type()));
            assert_eq!(Icmpv6Repr::parse(&p, &s, &d, true), Ok(repr));
        }
        assert_eq!(Icmpv6Packet::new_checked(&[1u8, 2, 3][..]), Err(WireError::Truncated));
        let mut unknown = [200u8, 0, 0, 0, 0, 0, 0, 0];
        Icmpv6Packet::new_unchecked(&mut unknown[..]).fill_checksum(&s, &d);
        let p = Icmpv6Packet::new_checked(&unknown[..]).unwrap();
        assert_eq!(Icmpv6Repr::parse(&p, &s, &d, true), Err(WireError::Unsupported));
    }

    /// Random messages of every known type: parsing never panics, and
    /// whatever parses emits to the same bytes (checksum included) and
    /// parses back equal.
    #[test]
    fn random_messages_never_panic_and_round_trip() {
        let (src, dst) = (a("fe80::1"), a("ff02::1"));
        let mut rng = crate::wire::test_util::XorShift(0x1c3f_6e57_0000_0001);
        let types = [1u8, 2, 3, 4, 128, 129, 130, 133, 134, 135, 136, 137, 143, 200];
        let mut parsed = 0;
        for _ in 0..50_000 {
            let len = rng.below(120);
            let mut buf = vec![0u8; len];
            rng.fill(&mut buf);
            if len >= 2 {
                buf[0] = types[rng.below(types.len())];
                if rng.below(4) != 0 {
                    buf[1] = 0;
                }
            }
            // Make option lengths plausible half of the time.
            if len > 26 && rng.below(2) == 0 {
                for at in [9usize, 17, 25] {
                    buf[at] = (rng.below(3) + 1) as u8;
                }
            }
            if len >= HEADER_LEN {
                Icmpv6Packet::new_unchecked(&mut buf[..]).fill_checksum(&src, &dst);
            }
            let Ok(p) = Icmpv6Packet::new_checked(&buf[..]) else { continue };
            let Ok(repr) = Icmpv6Repr::parse(&p, &src, &dst, true) else {
                continue;
            };
            parsed += 1;
            let mut out = vec![0u8; repr.buffer_len()];
            repr.emit(&mut out, &src, &dst);
            let q = Icmpv6Packet::new_checked(&out[..]).unwrap();
            assert_eq!(Icmpv6Repr::parse(&q, &src, &dst, true), Ok(repr));
        }
        assert!(parsed > 1000, "only {parsed} random messages parsed");
    }
}
