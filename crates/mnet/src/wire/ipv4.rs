//! IPv4 headers (RFC 791). Options are skipped, never interpreted: a header
//! longer than 20 bytes only moves the payload.

use core::net::Ipv4Addr;

use super::bytes::{clamp, clamp_mut, read_ipv4, read_u16, write_u16};
use super::checksum;
use super::{IpProtocol, WireError, WireResult};

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;
/// The largest payload behind a 20-byte header (Total Length is 16 bits).
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize - HEADER_LEN;

mod field {
    use crate::wire::Field;

    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LEN: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLAGS_FRAG: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC: Field = 12..16;
    pub const DST: Field = 16..20;
}

/// Bits of the 16-bit flags/fragment-offset word.
const FLAG_RESERVED: u16 = 0x8000;
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    pub fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// Checks the header and Total Length against the buffer: `Truncated`
    /// if the buffer is shorter than either, `Malformed` if IHL < 5 or
    /// Total Length < the header length.
    pub fn new_checked(buffer: T) -> WireResult<Ipv4Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// For the offending datagram quoted inside an ICMP error, which may be
    /// cut short (RFC 792: "Internet Header + 64 bits of Original Data
    /// Datagram"): checks the header as [`Ipv4Packet::new_checked`] does but
    /// accepts a Total Length beyond the buffer; `payload()` then returns
    /// the bytes that are present.
    pub fn new_quoted(buffer: T) -> WireResult<Ipv4Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_header_len()?;
        Ok(packet)
    }

    fn check_header_len(&self) -> WireResult<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        // RFC 791 §3.1: "Internet Header Length is the length of the internet
        // header in 32 bit words, and thus points to the beginning of the
        // data. Note that the minimum value for a correct header is 5."
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if header_len > len {
            return Err(WireError::Truncated);
        }
        if usize::from(self.total_len()) < header_len {
            return Err(WireError::Malformed);
        }
        Ok(())
    }

    /// The checks of [`Ipv4Packet::new_checked`].
    pub fn check_len(&self) -> WireResult<()> {
        self.check_header_len()?;
        // RFC 791 §3.1: "Total Length is the length of the datagram, measured
        // in octets, including internet header and data."
        if usize::from(self.total_len()) > self.buffer.as_ref().len() {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The header length in bytes (IHL × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The former TOS byte: DSCP (6 bits) and ECN (2 bits).
    pub fn dscp_ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    pub fn dscp(&self) -> u8 {
        self.dscp_ecn() >> 2
    }

    pub fn ecn(&self) -> u8 {
        self.dscp_ecn() & 0x03
    }

    /// Total Length: header and data, in bytes.
    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::TOTAL_LEN)
    }

    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    fn flags_frag(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAG)
    }

    /// The reserved flag bit (must be zero).
    pub fn reserved_flag(&self) -> bool {
        self.flags_frag() & FLAG_RESERVED != 0
    }

    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }

    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }

    /// The fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        // RFC 791 §3.1: "The fragment offset is measured in units of 8 octets
        // (64 bits). The first fragment has offset zero."
        (self.flags_frag() & FRAG_OFFSET_MASK) * 8
    }

    /// Time to Live.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::SRC)
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::DST)
    }

    /// Whether the header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        // RFC 791 §3.1: "The checksum field is the 16 bit one's complement of
        // the one's complement sum of all 16 bit words in the header."
        // Summing the header with its checksum in place gives 0xFFFF.
        let header = clamp(self.buffer.as_ref(), 0, self.header_len());
        checksum::fold(checksum::ones_sum(0, header)) == 0xffff
    }

    /// The options: the header bytes after the first 20.
    pub fn options(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), HEADER_LEN, self.header_len())
    }

    /// The data: from the end of the header to Total Length (link-layer
    /// padding excluded), or to the end of a quoted buffer.
    pub fn payload(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), self.header_len(), usize::from(self.total_len()))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Sets IHL from a length in bytes (a multiple of 4, at most 60).
    pub fn set_header_len(&mut self, len: usize) {
        let ihl = ((len / 4) as u8) & 0x0f;
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ihl;
    }

    pub fn set_dscp_ecn(&mut self, value: u8) {
        self.buffer.as_mut()[field::DSCP_ECN] = value;
    }

    pub fn set_dscp(&mut self, dscp: u8) {
        let ecn = self.ecn();
        self.set_dscp_ecn((dscp << 2) | ecn);
    }

    pub fn set_ecn(&mut self, ecn: u8) {
        let v = (self.dscp_ecn() & !0x03) | (ecn & 0x03);
        self.set_dscp_ecn(v);
    }

    pub fn set_total_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::TOTAL_LEN, len);
    }

    pub fn set_ident(&mut self, ident: u16) {
        write_u16(self.buffer.as_mut(), field::IDENT, ident);
    }

    fn set_flags_frag(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::FLAGS_FRAG, v);
    }

    /// Clears the three flag bits (the offset is kept).
    pub fn clear_flags(&mut self) {
        let v = self.flags_frag() & FRAG_OFFSET_MASK;
        self.set_flags_frag(v);
    }

    pub fn set_dont_frag(&mut self, value: bool) {
        let v = self.flags_frag();
        self.set_flags_frag(if value { v | FLAG_DF } else { v & !FLAG_DF });
    }

    pub fn set_more_frags(&mut self, value: bool) {
        let v = self.flags_frag();
        self.set_flags_frag(if value { v | FLAG_MF } else { v & !FLAG_MF });
    }

    /// Sets the fragment offset from a byte count (a multiple of 8; the low
    /// three bits are dropped).
    pub fn set_frag_offset(&mut self, bytes: u16) {
        let v = (self.flags_frag() & !FRAG_OFFSET_MASK) | ((bytes / 8) & FRAG_OFFSET_MASK);
        self.set_flags_frag(v);
    }

    pub fn set_hop_limit(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    pub fn set_next_header(&mut self, protocol: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol.into();
    }

    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.octets());
    }

    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.octets());
    }

    /// Computes and writes the header checksum.
    pub fn fill_checksum(&mut self) {
        // RFC 791 §3.1: "For purposes of computing the checksum, the value of
        // the checksum field is zero."
        self.set_checksum(0);
        let header_len = self.header_len();
        let sum = checksum::checksum(clamp(self.buffer.as_ref(), 0, header_len));
        self.set_checksum(sum);
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        clamp_mut(self.buffer.as_mut(), HEADER_LEN, header_len)
    }

    /// The data, as [`Ipv4Packet::payload`] delimits it.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), usize::from(self.total_len()));
        clamp_mut(self.buffer.as_mut(), start, end)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A parsed IPv4 header (options dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    pub next_header: IpProtocol,
    /// Total Length minus the header length.
    pub payload_len: usize,
    /// Time to Live.
    pub hop_limit: u8,
    pub dscp_ecn: u8,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// In bytes (a multiple of 8).
    pub frag_offset: u16,
}

impl Ipv4Repr {
    /// `Malformed` unless the version is 4; `BadChecksum` if
    /// `verify_checksum` and the header checksum is wrong.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Ipv4Packet<&T>, verify_checksum: bool) -> WireResult<Ipv4Repr> {
        packet.check_len()?;
        if packet.version() != 4 {
            return Err(WireError::Malformed);
        }
        if verify_checksum && !packet.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
            hop_limit: packet.hop_limit(),
            dscp_ecn: packet.dscp_ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
        })
    }

    /// The header length (20): `emit` writes the header only, the payload
    /// is written by the layer above.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes a 20-byte header (no options) with Total Length = 20 +
    /// `payload_len` (saturated at 65535: keep `payload_len` ≤
    /// [`MAX_PAYLOAD_LEN`]). The checksum is computed if `fill_checksum`,
    /// else left zero (for transmit checksum offload).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Ipv4Packet<&mut T>, fill_checksum: bool) {
        let Ipv4Repr {
            src_addr,
            dst_addr,
            next_header,
            payload_len,
            hop_limit,
            dscp_ecn,
            ident,
            dont_frag,
            more_frags,
            frag_offset,
        } = *self;
        packet.set_version(4);
        packet.set_header_len(HEADER_LEN);
        packet.set_dscp_ecn(dscp_ecn);
        packet.set_total_len(u16::try_from(HEADER_LEN + payload_len).unwrap_or(u16::MAX));
        packet.set_ident(ident);
        packet.set_flags_frag(0);
        packet.set_dont_frag(dont_frag);
        packet.set_more_frags(more_frags);
        packet.set_frag_offset(frag_offset);
        packet.set_hop_limit(hop_limit);
        packet.set_next_header(next_header);
        packet.set_src_addr(src_addr);
        packet.set_dst_addr(dst_addr);
        if fill_checksum {
            packet.fill_checksum();
        } else {
            packet.set_checksum(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EtherType, EthernetFrame};
    use alloc::vec::Vec;

    // Captured from Linux on a veth pair (10.9.1.1 <-> 10.9.1.2).
    // Echo request 10.9.1.1 > 10.9.1.2, DF, id 0x8f80.
    const ECHO_REQUEST: [u8; 58] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x8f, 0x80, 0x40, 0x00,
        0x40, 0x01, 0x95, 0x3c, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x01, 0x02, 0x08, 0x00, 0xe5, 0xe0, 0x38, 0x57, 0x00, 0x01, 0x0e, 0x54,
        0x08, 0x6b, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    // `ping -R`: record-route option, IHL 15.
    const ECHO_RECORD_ROUTE: [u8; 90] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x4f, 0x00, 0x00, 0x4c, 0x8f, 0x82, 0x40, 0x00,
        0x40, 0x01, 0x58, 0x01, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x01, 0x02, 0x01, 0x07, 0x27, 0x08, 0x0a, 0x09, 0x01, 0x01, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0xb3, 0x96, 0x38, 0x58, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
        0x06, 0x07,
    ];
    // Router 10.9.1.2 -> 10.9.1.1, ICMP time exceeded, TOS 0xc0.
    const TIME_EXCEEDED: [u8; 78] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45, 0xc0, 0x00, 0x40, 0xa0, 0x6f, 0x00, 0x00,
        0x40, 0x01, 0xc3, 0x79, 0x0a, 0x09, 0x01, 0x02, 0x0a, 0x09, 0x01, 0x01, 0x0b, 0x00, 0xf4, 0xff, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00,
        0x00, 0x24, 0x92, 0x80, 0x40, 0x00, 0x01, 0x01, 0xd0, 0x45, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x02, 0x01, 0x08, 0x00, 0xb3, 0x94,
        0x38, 0x5a, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    ];
    // An 88-byte echo request fragmented by a router onto an MTU-68 link:
    // first fragment (MF, offset 0) ...
    const FRAG_FIRST: [u8; 82] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x03, 0x08, 0x00, 0x45, 0x00, 0x00, 0x44, 0x0c, 0xf6, 0x20, 0x00,
        0x3f, 0x01, 0x37, 0xb0, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x02, 0x01, 0x08, 0x00, 0x94, 0x3d, 0x3a, 0x00, 0x00, 0x01, 0x14, 0x54,
        0x08, 0x6b, 0x00, 0x00, 0x00, 0x00, 0xd7, 0xba, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
        0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    ];
    // ... and last fragment (offset 48).
    const FRAG_LAST: [u8; 54] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x03, 0x08, 0x00, 0x45, 0x00, 0x00, 0x28, 0x0c, 0xf6, 0x00, 0x06,
        0x3f, 0x01, 0x57, 0xc6, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x02, 0x01, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31,
        0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b,
    ];

    fn ip_of(frame: &[u8]) -> &[u8] {
        let eth = EthernetFrame::new_checked(frame).unwrap();
        assert_eq!(eth.ethertype(), EtherType::Ipv4);
        &frame[14..]
    }

    /// Parses, checks the Repr, emits it back with the same payload and
    /// compares every byte (checksum included).
    fn golden(frame: &[u8], want: Ipv4Repr) {
        let bytes = ip_of(frame);
        let packet = Ipv4Packet::new_checked(bytes).unwrap();
        assert!(packet.verify_checksum());
        let repr = Ipv4Repr::parse(&packet, true).unwrap();
        assert_eq!(repr, want);
        assert_eq!(repr.buffer_len(), 20);
        assert_eq!(packet.payload().len(), repr.payload_len);

        let mut out = Vec::from(bytes);
        out[..20].fill(0);
        let mut view = Ipv4Packet::new_unchecked(&mut out[..]);
        repr.emit(&mut view, true);
        assert_eq!(&out[..], bytes);
    }

    fn base() -> Ipv4Repr {
        Ipv4Repr {
            src_addr: Ipv4Addr::new(10, 9, 1, 1),
            dst_addr: Ipv4Addr::new(10, 9, 1, 2),
            next_header: IpProtocol::Icmp,
            payload_len: 24,
            hop_limit: 64,
            dscp_ecn: 0,
            ident: 0x8f80,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        }
    }

    #[test]
    fn golden_echo_request() {
        golden(&ECHO_REQUEST, base());
    }

    #[test]
    fn golden_time_exceeded_with_tos() {
        golden(
            &TIME_EXCEEDED,
            Ipv4Repr {
                src_addr: Ipv4Addr::new(10, 9, 1, 2),
                dst_addr: Ipv4Addr::new(10, 9, 1, 1),
                payload_len: 44,
                dscp_ecn: 0xc0,
                ident: 0xa06f,
                dont_frag: false,
                ..base()
            },
        );
        let packet = Ipv4Packet::new_checked(ip_of(&TIME_EXCEEDED)).unwrap();
        assert_eq!((packet.dscp(), packet.ecn()), (48, 0));
    }

    #[test]
    fn golden_fragments() {
        let frag = Ipv4Repr {
            dst_addr: Ipv4Addr::new(10, 9, 2, 1),
            hop_limit: 63,
            ident: 0x0cf6,
            dont_frag: false,
            ..base()
        };
        golden(
            &FRAG_FIRST,
            Ipv4Repr {
                payload_len: 48,
                more_frags: true,
                frag_offset: 0,
                ..frag
            },
        );
        golden(
            &FRAG_LAST,
            Ipv4Repr {
                payload_len: 20,
                more_frags: false,
                frag_offset: 48,
                ..frag
            },
        );
        let last = Ipv4Packet::new_checked(ip_of(&FRAG_LAST)).unwrap();
        assert_eq!(last.payload(), &FRAG_LAST[34..]);
        assert!(!last.reserved_flag());
    }

    #[test]
    fn options_are_skipped() {
        let bytes = ip_of(&ECHO_RECORD_ROUTE);
        let packet = Ipv4Packet::new_checked(bytes).unwrap();
        assert_eq!(packet.header_len(), 60);
        assert!(packet.verify_checksum());
        // Record route: type 7, length 39, pointer 8, first slot filled.
        assert_eq!(&packet.options()[..7], &[0x01, 0x07, 0x27, 0x08, 0x0a, 0x09, 0x01]);
        assert_eq!(packet.payload(), &ECHO_RECORD_ROUTE[74..]);
        let repr = Ipv4Repr::parse(&packet, true).unwrap();
        assert_eq!(
            repr,
            Ipv4Repr {
                payload_len: 16,
                ident: 0x8f82,
                ..base()
            }
        );
        // Emitting gives a 20-byte header; the options are gone.
        let mut out = [0u8; 20 + 16];
        out[20..].copy_from_slice(packet.payload());
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]), true);
        let again = Ipv4Packet::new_checked(&out[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&again, true), Ok(repr));
        assert_eq!(again.payload(), packet.payload());
    }

    #[test]
    fn padding_is_trimmed() {
        // FRAG_LAST is a 40-byte datagram: on a real wire it is padded to 46.
        let mut bytes = Vec::from(ip_of(&FRAG_LAST));
        bytes.resize(46, 0);
        let mut packet = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
        assert_eq!(packet.payload().len(), 20);
        assert_eq!(packet.payload_mut().len(), 20);
    }

    #[test]
    fn truncated_at_every_length() {
        let bytes = ip_of(&ECHO_RECORD_ROUTE);
        for len in 0..bytes.len() {
            let err = Ipv4Packet::new_checked(&bytes[..len]).err();
            assert_eq!(err, Some(WireError::Truncated), "len {len}");
        }
    }

    #[test]
    fn bad_header_and_length_fields() {
        let good = ip_of(&ECHO_REQUEST);
        let with = |at: usize, value: u8| {
            let mut b = Vec::from(good);
            b[at] = value;
            b
        };
        // IHL below 5.
        for ihl in 0..5 {
            assert_eq!(Ipv4Packet::new_checked(&with(0, 0x40 | ihl)[..]).err(), Some(WireError::Malformed));
        }
        // IHL past the buffer (44 bytes; IHL 12 = 48).
        assert_eq!(Ipv4Packet::new_checked(&with(0, 0x4c)[..]).err(), Some(WireError::Truncated));
        // Total length below the header length, or past the buffer.
        assert_eq!(Ipv4Packet::new_checked(&with(3, 19)[..]).err(), Some(WireError::Malformed));
        assert_eq!(Ipv4Packet::new_checked(&with(3, 45)[..]).err(), Some(WireError::Truncated));
        // Total length == header length: an empty payload is fine.
        let empty = with(3, 20);
        assert_eq!(Ipv4Packet::new_checked(&empty[..]).unwrap().payload(), &[]);
        // IHL 6 with total length 20.
        let mut b = with(0, 0x46);
        b[3] = 20;
        assert_eq!(Ipv4Packet::new_checked(&b[..]).err(), Some(WireError::Malformed));
    }

    #[test]
    fn wrong_version_and_bad_checksum() {
        let mut b = Vec::from(ip_of(&ECHO_REQUEST));
        b[0] = 0x65;
        let packet = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&packet, false), Err(WireError::Malformed));

        let mut b = Vec::from(ip_of(&ECHO_REQUEST));
        b[8] = 63; // TTL changed, checksum not updated
        let packet = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(!packet.verify_checksum());
        assert_eq!(Ipv4Repr::parse(&packet, true), Err(WireError::BadChecksum));
        assert_eq!(Ipv4Repr::parse(&packet, false).unwrap().hop_limit, 63);
        // The RFC 1624 update repairs it.
        let old = u16::from_be_bytes([64, 1]);
        let new = u16::from_be_bytes([63, 1]);
        let fixed = checksum::update_u16(packet.checksum(), old, new);
        b[10..12].copy_from_slice(&fixed.to_be_bytes());
        assert!(Ipv4Packet::new_checked(&b[..]).unwrap().verify_checksum());
    }

    #[test]
    fn quoted_datagram_may_be_cut_short() {
        // The datagram quoted in TIME_EXCEEDED, cut after 28 bytes; its
        // Total Length says 36.
        let quoted = &ip_of(&TIME_EXCEEDED)[28..];
        let cut = &quoted[..28];
        assert_eq!(Ipv4Packet::new_checked(cut).err(), Some(WireError::Truncated));
        let packet = Ipv4Packet::new_quoted(cut).unwrap();
        assert_eq!(packet.total_len(), 36);
        assert_eq!(packet.dst_addr(), Ipv4Addr::new(10, 9, 2, 1));
        assert_eq!(packet.payload(), &cut[20..]);
        for len in 0..20 {
            assert_eq!(Ipv4Packet::new_quoted(&quoted[..len]).err(), Some(WireError::Truncated));
        }
    }

    #[test]
    fn setters_and_checksum_offload() {
        let mut buf = [0u8; 28];
        let repr = Ipv4Repr {
            payload_len: 8,
            more_frags: true,
            frag_offset: 65528,
            ..base()
        };
        let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
        repr.emit(&mut p, false);
        assert_eq!(p.checksum(), 0);
        assert_eq!(p.frag_offset(), 65528);
        p.set_dscp(46);
        p.set_ecn(3);
        assert_eq!(p.dscp_ecn(), 0xbb);
        p.clear_flags();
        assert!(!p.dont_frag() && !p.more_frags());
        assert_eq!(p.frag_offset(), 65528);
        p.fill_checksum();
        assert!(p.verify_checksum());
        // Oversized payloads saturate instead of wrapping.
        let mut big = [0u8; 20];
        Ipv4Repr {
            payload_len: 70000,
            ..base()
        }
        .emit(&mut Ipv4Packet::new_unchecked(&mut big[..]), true);
        assert_eq!(Ipv4Packet::new_unchecked(&big[..]).total_len(), 65535);
    }
}
