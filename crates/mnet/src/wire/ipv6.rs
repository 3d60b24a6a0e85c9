//! The IPv6 fixed header (RFC 8200 §3). Extension headers are part of the
//! payload; walking them is the IP layer's business.

use core::net::Ipv6Addr;

use super::bytes::{clamp, clamp_mut, read_ipv6, read_u16, read_u32, write_u16, write_u32};
use super::{IpProtocol, WireError, WireResult};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;
/// The largest payload the 16-bit Payload Length field can describe
/// (jumbograms are not supported).
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize;

mod field {
    use crate::wire::Field;

    /// Version (4 bits), Traffic Class (8), Flow Label (20).
    pub const VER_TC_FLOW: Field = 0..4;
    pub const PAYLOAD_LEN: Field = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Field = 8..24;
    pub const DST: Field = 24..40;
}

const FLOW_LABEL_MASK: u32 = 0x000f_ffff;

/// A view of an IPv6 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    pub fn new_unchecked(buffer: T) -> Ipv6Packet<T> {
        Ipv6Packet { buffer }
    }

    /// `Truncated` if the buffer is shorter than 40 bytes or than 40 +
    /// Payload Length.
    pub fn new_checked(buffer: T) -> WireResult<Ipv6Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// For the offending packet quoted inside an ICMPv6 error, which may be
    /// cut short (RFC 4443 §3.1: "As much of invoking packet as possible
    /// without the ICMPv6 packet exceeding the minimum IPv6 MTU"): checks
    /// the fixed header only; `payload()` returns the bytes that are present.
    pub fn new_quoted(buffer: T) -> WireResult<Ipv6Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(packet)
    }

    pub fn check_len(&self) -> WireResult<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        // RFC 8200 §3: Payload Length is the "Length of the IPv6 payload,
        // i.e., the rest of the packet following this IPv6 header, in
        // octets."
        if HEADER_LEN + usize::from(self.payload_len()) > len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn ver_tc_flow(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::VER_TC_FLOW)
    }

    pub fn version(&self) -> u8 {
        (self.ver_tc_flow() >> 28) as u8
    }

    pub fn traffic_class(&self) -> u8 {
        (self.ver_tc_flow() >> 20) as u8
    }

    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & FLOW_LABEL_MASK
    }

    pub fn payload_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::NEXT_HEADER])
    }

    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        read_ipv6(self.buffer.as_ref(), field::SRC)
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        read_ipv6(self.buffer.as_ref(), field::DST)
    }

    /// The payload (extension headers included), up to Payload Length:
    /// link-layer padding is not part of it.
    pub fn payload(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), HEADER_LEN, HEADER_LEN + usize::from(self.payload_len()))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn set_ver_tc_flow(&mut self, v: u32) {
        write_u32(self.buffer.as_mut(), field::VER_TC_FLOW, v);
    }

    pub fn set_version(&mut self, version: u8) {
        let v = (self.ver_tc_flow() & 0x0fff_ffff) | (u32::from(version & 0x0f) << 28);
        self.set_ver_tc_flow(v);
    }

    pub fn set_traffic_class(&mut self, tc: u8) {
        let v = (self.ver_tc_flow() & 0xf00f_ffff) | (u32::from(tc) << 20);
        self.set_ver_tc_flow(v);
    }

    /// Sets the 20-bit flow label (higher bits are dropped).
    pub fn set_flow_label(&mut self, label: u32) {
        let v = (self.ver_tc_flow() & !FLOW_LABEL_MASK) | (label & FLOW_LABEL_MASK);
        self.set_ver_tc_flow(v);
    }

    pub fn set_payload_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::PAYLOAD_LEN, len);
    }

    pub fn set_next_header(&mut self, next_header: IpProtocol) {
        self.buffer.as_mut()[field::NEXT_HEADER] = next_header.into();
    }

    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hop_limit;
    }

    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.octets());
    }

    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.octets());
    }

    /// The payload, as [`Ipv6Packet::payload`] delimits it.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        clamp_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv6Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A parsed IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    pub src_addr: Ipv6Addr,
    pub dst_addr: Ipv6Addr,
    /// The first header after the fixed one (an extension header or the
    /// upper layer).
    pub next_header: IpProtocol,
    /// Payload Length: everything after the fixed header.
    pub payload_len: usize,
    pub hop_limit: u8,
    pub traffic_class: u8,
    /// 20 bits.
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// `Malformed` unless the version is 6.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Ipv6Packet<&T>) -> WireResult<Ipv6Repr> {
        packet.check_len()?;
        // RFC 8200 §3: "Version 4-bit Internet Protocol version number = 6."
        if packet.version() != 6 {
            return Err(WireError::Malformed);
        }
        Ok(Ipv6Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    /// The header length (40): the payload is written by the layer above.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header. `payload_len` is saturated at 65535 (keep
    /// it ≤ [`MAX_PAYLOAD_LEN`]); the flow label is cut to 20 bits.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Ipv6Packet<&mut T>) {
        let Ipv6Repr {
            src_addr,
            dst_addr,
            next_header,
            payload_len,
            hop_limit,
            traffic_class,
            flow_label,
        } = *self;
        packet.set_ver_tc_flow(0);
        packet.set_version(6);
        packet.set_traffic_class(traffic_class);
        packet.set_flow_label(flow_label);
        packet.set_payload_len(u16::try_from(payload_len).unwrap_or(u16::MAX));
        packet.set_next_header(next_header);
        packet.set_hop_limit(hop_limit);
        packet.set_src_addr(src_addr);
        packet.set_dst_addr(dst_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EtherType, EthernetFrame};
    use alloc::vec::Vec;

    // Captured from Linux on a veth pair (fd00:1::1 <-> fd00:1::2).
    // UDP "udp over ipv6", flow label 0xe8531.
    const UDP6: [u8; 75] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x0e, 0x85, 0x31, 0x00, 0x15, 0x11, 0x40,
        0xfd, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x9c, 0x42, 0x1e, 0x61, 0x00, 0x15, 0xc9, 0xcc, 0x75, 0x64, 0x70, 0x20,
        0x6f, 0x76, 0x65, 0x72, 0x20, 0x69, 0x70, 0x76, 0x36,
    ];
    // ICMPv6 echo request (ping -6 -s 8).
    const ICMP6_ECHO: [u8; 70] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x08, 0x83, 0xf7, 0x00, 0x10, 0x3a, 0x40,
        0xfd, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x80, 0x00, 0x40, 0x07, 0x39, 0x96, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03,
        0x04, 0x05, 0x06, 0x07,
    ];

    fn ip_of(frame: &[u8]) -> &[u8] {
        assert_eq!(EthernetFrame::new_checked(frame).unwrap().ethertype(), EtherType::Ipv6);
        &frame[14..]
    }

    fn golden(frame: &[u8], want: Ipv6Repr) {
        let bytes = ip_of(frame);
        let packet = Ipv6Packet::new_checked(bytes).unwrap();
        let repr = Ipv6Repr::parse(&packet).unwrap();
        assert_eq!(repr, want);
        assert_eq!(repr.buffer_len(), 40);
        assert_eq!(packet.payload(), &bytes[40..]);
        let mut out = Vec::from(bytes);
        out[..40].fill(0xff);
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]));
        assert_eq!(&out[..], bytes);
    }

    fn addrs() -> (Ipv6Addr, Ipv6Addr) {
        ("fd00:1::1".parse().unwrap(), "fd00:1::2".parse().unwrap())
    }

    #[test]
    fn golden_udp() {
        let (src_addr, dst_addr) = addrs();
        golden(
            &UDP6,
            Ipv6Repr {
                src_addr,
                dst_addr,
                next_header: IpProtocol::Udp,
                payload_len: 21,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0xe8531,
            },
        );
    }

    #[test]
    fn golden_icmpv6() {
        let (src_addr, dst_addr) = addrs();
        golden(
            &ICMP6_ECHO,
            Ipv6Repr {
                src_addr,
                dst_addr,
                next_header: IpProtocol::Icmpv6,
                payload_len: 16,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0x883f7,
            },
        );
    }

    #[test]
    fn traffic_class_and_flow_label_do_not_overlap() {
        let mut b = [0u8; 40];
        let mut p = Ipv6Packet::new_unchecked(&mut b[..]);
        p.set_version(6);
        p.set_traffic_class(0xab);
        p.set_flow_label(0xfff_ffff);
        assert_eq!((p.version(), p.traffic_class(), p.flow_label()), (6, 0xab, 0xfffff));
        p.set_flow_label(0x12345);
        p.set_traffic_class(0x01);
        assert_eq!((p.version(), p.traffic_class(), p.flow_label()), (6, 0x01, 0x12345));
        assert_eq!(&b[..4], &[0x60, 0x11, 0x23, 0x45]);
    }

    #[test]
    fn rejections() {
        let bytes = ip_of(&UDP6);
        for len in 0..bytes.len() {
            assert_eq!(
                Ipv6Packet::new_checked(&bytes[..len]).err(),
                Some(WireError::Truncated),
                "len {len}"
            );
        }
        // Payload length past the buffer.
        let mut b = Vec::from(bytes);
        b[5] = 22;
        assert_eq!(Ipv6Packet::new_checked(&b[..]).err(), Some(WireError::Truncated));
        // Wrong version.
        let mut b = Vec::from(bytes);
        b[0] = 0x40;
        assert_eq!(
            Ipv6Repr::parse(&Ipv6Packet::new_checked(&b[..]).unwrap()),
            Err(WireError::Malformed)
        );
        // Padding is trimmed; a quoted packet may be cut short.
        let mut b = Vec::from(bytes);
        b.extend_from_slice(&[0; 10]);
        assert_eq!(Ipv6Packet::new_checked(&b[..]).unwrap().payload().len(), 21);
        let cut = &bytes[..48];
        assert_eq!(Ipv6Packet::new_quoted(cut).unwrap().payload(), &bytes[40..48]);
        assert_eq!(Ipv6Packet::new_quoted(&bytes[..39]).err(), Some(WireError::Truncated));
    }
}
