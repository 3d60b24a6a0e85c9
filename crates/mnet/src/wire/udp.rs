//! UDP headers (RFC 768; RFC 8200 §8.1 for UDP over IPv6).

use core::net::IpAddr;

use super::bytes::{clamp, clamp_mut, read_u16, write_u16};
use super::checksum;
use super::{IpProtocol, WireError, WireResult};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;
/// The largest payload the 16-bit Length field can describe.
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize - HEADER_LEN;

mod field {
    use crate::wire::Field;

    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

/// A view of a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    pub fn new_unchecked(buffer: T) -> UdpPacket<T> {
        UdpPacket { buffer }
    }

    /// `Truncated` if the buffer is shorter than 8 bytes or than the Length
    /// field; `Malformed` if Length < 8.
    pub fn new_checked(buffer: T) -> WireResult<UdpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> WireResult<()> {
        let buffer_len = self.buffer.as_ref().len();
        if buffer_len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        // RFC 768: "Length is the length in octets of this user datagram
        // including this header and the data. (This means the minimum value
        // of the length is eight.)"
        let len = usize::from(self.len());
        if len < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if len > buffer_len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The Length field: header and data, in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The datagram as Length delimits it (header included).
    fn datagram(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), 0, usize::from(self.len()))
    }

    /// The data, up to Length (padding after it is not part of it).
    pub fn payload(&self) -> &[u8] {
        let datagram = self.datagram();
        clamp(datagram, HEADER_LEN, datagram.len())
    }

    /// Whether the checksum is right for a datagram between `src` and
    /// `dst`.
    ///
    /// Over IPv4 a zero checksum means none was sent (RFC 768: "An all zero
    /// transmitted checksum value means that the transmitter generated no
    /// checksum"); over IPv6, RFC 8200 §8.1: "IPv6 receivers must discard
    /// UDP packets containing a zero checksum and should log the error."
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        if self.checksum() == 0 {
            return src.is_ipv4() && dst.is_ipv4();
        }
        let datagram = self.datagram();
        let pseudo = checksum::pseudo_header(src, dst, IpProtocol::Udp, datagram.len() as u32);
        checksum::fold(checksum::ones_sum(pseudo, datagram)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    pub fn set_src_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::SRC_PORT, port);
    }

    pub fn set_dst_port(&mut self, port: u16) {
        write_u16(self.buffer.as_mut(), field::DST_PORT, port);
    }

    pub fn set_len(&mut self, len: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, len);
    }

    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// The data, as [`UdpPacket::payload`] delimits it.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        clamp_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    /// Computes the checksum over the pseudo-header and the datagram (up to
    /// Length) and writes it.
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) {
        self.set_checksum(0);
        let datagram = self.datagram();
        let pseudo = checksum::pseudo_header(src, dst, IpProtocol::Udp, datagram.len() as u32);
        let sum = !checksum::fold(checksum::ones_sum(pseudo, datagram));
        // RFC 768: "If the computed checksum is zero, it is transmitted as
        // all ones (the equivalent in one's complement arithmetic)."
        self.set_checksum(if sum == 0 { 0xffff } else { sum });
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for UdpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A parsed UDP header. The payload stays in the packet (`payload()`), the
/// length is the payload's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
}

impl UdpRepr {
    /// `Malformed` if the destination port is 0; `BadChecksum` if
    /// `verify_checksum` and [`UdpPacket::verify_checksum`] fails.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &UdpPacket<&T>,
        src: &IpAddr,
        dst: &IpAddr,
        verify_checksum: bool,
    ) -> WireResult<UdpRepr> {
        packet.check_len()?;
        // RFC 768: "Destination Port has a meaning within the context of a
        // particular internet destination address." Port 0 is reserved and
        // names no socket.
        if packet.dst_port() == 0 {
            return Err(WireError::Malformed);
        }
        if verify_checksum && !packet.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
        })
    }

    /// The header length (8): the payload is written by the layer above.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes ports, Length = 8 + `payload_len` (saturated at 65535: keep
    /// `payload_len` ≤ [`MAX_PAYLOAD_LEN`]) and a zero checksum. Once the
    /// payload is in place, call [`UdpPacket::fill_checksum`] (or let the
    /// device's checksum offload do it).
    pub fn emit_header<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut UdpPacket<&mut T>, payload_len: usize) {
        let UdpRepr { src_port, dst_port } = *self;
        packet.set_src_port(src_port);
        packet.set_dst_port(dst_port);
        packet.set_len(u16::try_from(HEADER_LEN + payload_len).unwrap_or(u16::MAX));
        packet.set_checksum(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use core::net::{Ipv4Addr, Ipv6Addr};

    // Captured from Linux: `socat - UDP4-SENDTO:10.9.1.2:7777,sourceport=40001`
    // with "udp over ipv4". Ethernet frame.
    const UDP4: [u8; 55] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00, 0x00, 0x29, 0xf4, 0x5d, 0x40, 0x00,
        0x40, 0x11, 0x30, 0x52, 0x0a, 0x09, 0x01, 0x01, 0x0a, 0x09, 0x01, 0x02, 0x9c, 0x41, 0x1e, 0x61, 0x00, 0x15, 0xaf, 0xbf, 0x75, 0x64,
        0x70, 0x20, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x69, 0x70, 0x76, 0x34,
    ];
    // The same over IPv6, fd00:1::1 port 40002 -> fd00:1::2 port 7777.
    const UDP6: [u8; 75] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x0e, 0x85, 0x31, 0x00, 0x15, 0x11, 0x40,
        0xfd, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x9c, 0x42, 0x1e, 0x61, 0x00, 0x15, 0xc9, 0xcc, 0x75, 0x64, 0x70, 0x20,
        0x6f, 0x76, 0x65, 0x72, 0x20, 0x69, 0x70, 0x76, 0x36,
    ];

    fn v4() -> (IpAddr, IpAddr) {
        (Ipv4Addr::new(10, 9, 1, 1).into(), Ipv4Addr::new(10, 9, 1, 2).into())
    }

    fn v6() -> (IpAddr, IpAddr) {
        let s: Ipv6Addr = "fd00:1::1".parse().unwrap();
        let d: Ipv6Addr = "fd00:1::2".parse().unwrap();
        (s.into(), d.into())
    }

    fn golden(bytes: &[u8], (src, dst): (IpAddr, IpAddr), want: UdpRepr, payload: &[u8]) {
        let packet = UdpPacket::new_checked(bytes).unwrap();
        assert!(packet.verify_checksum(&src, &dst));
        let repr = UdpRepr::parse(&packet, &src, &dst, true).unwrap();
        assert_eq!(repr, want);
        assert_eq!(packet.payload(), payload);

        let mut out = Vec::from(bytes);
        out[..8].fill(0xee);
        let mut view = UdpPacket::new_unchecked(&mut out[..]);
        repr.emit_header(&mut view, payload.len());
        assert_eq!(view.checksum(), 0);
        view.fill_checksum(&src, &dst);
        assert_eq!(&out[..], bytes);
    }

    #[test]
    fn golden_ipv4() {
        golden(
            &UDP4[34..],
            v4(),
            UdpRepr {
                src_port: 40001,
                dst_port: 7777,
            },
            b"udp over ipv4",
        );
    }

    #[test]
    fn golden_ipv6() {
        golden(
            &UDP6[54..],
            v6(),
            UdpRepr {
                src_port: 40002,
                dst_port: 7777,
            },
            b"udp over ipv6",
        );
    }

    #[test]
    fn wrong_addresses_fail_the_checksum() {
        let (src, _) = v4();
        let other: IpAddr = Ipv4Addr::new(10, 9, 1, 3).into();
        let packet = UdpPacket::new_checked(&UDP4[34..]).unwrap();
        assert!(!packet.verify_checksum(&src, &other));
        assert_eq!(UdpRepr::parse(&packet, &src, &other, true), Err(WireError::BadChecksum));
        assert!(UdpRepr::parse(&packet, &src, &other, false).is_ok());
        let mut b = Vec::from(&UDP4[34..]);
        b[10] ^= 1;
        let (s, d) = v4();
        assert_eq!(
            UdpRepr::parse(&UdpPacket::new_checked(&b[..]).unwrap(), &s, &d, true),
            Err(WireError::BadChecksum)
        );
    }

    #[test]
    fn zero_checksum_means_none_over_ipv4_only() {
        let mut b = Vec::from(&UDP4[34..]);
        b[6..8].fill(0);
        let (s, d) = v4();
        assert!(UdpPacket::new_checked(&b[..]).unwrap().verify_checksum(&s, &d));
        let mut b = Vec::from(&UDP6[54..]);
        b[6..8].fill(0);
        let (s, d) = v6();
        let packet = UdpPacket::new_checked(&b[..]).unwrap();
        assert!(!packet.verify_checksum(&s, &d));
        assert_eq!(UdpRepr::parse(&packet, &s, &d, true), Err(WireError::BadChecksum));
    }

    #[test]
    fn computed_zero_is_sent_as_all_ones() {
        let (s, d) = v4();
        let mut b = [0u8; 10];
        let repr = UdpRepr {
            src_port: 1000,
            dst_port: 2000,
        };
        repr.emit_header(&mut UdpPacket::new_unchecked(&mut b[..]), 2);
        let mut p = UdpPacket::new_unchecked(&mut b[..]);
        p.fill_checksum(&s, &d);
        // Put the checksum into the payload word: the sum becomes 0xFFFF and
        // the computed checksum zero.
        let c = p.checksum();
        p.payload_mut().copy_from_slice(&c.to_be_bytes());
        p.fill_checksum(&s, &d);
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum(&s, &d));
        let (s6, d6) = v6();
        p.fill_checksum(&s6, &d6);
        assert!(p.verify_checksum(&s6, &d6));
    }

    #[test]
    fn padding_is_trimmed() {
        let mut b = Vec::from(&UDP4[34..]);
        b.extend_from_slice(&[0; 5]);
        let (s, d) = v4();
        let packet = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(packet.payload(), b"udp over ipv4");
        assert!(packet.verify_checksum(&s, &d));
    }

    #[test]
    fn rejections() {
        let bytes = &UDP4[34..];
        for len in 0..bytes.len() {
            assert_eq!(UdpPacket::new_checked(&bytes[..len]).err(), Some(WireError::Truncated), "len {len}");
        }
        for bad_len in 0..8u8 {
            let mut b = Vec::from(bytes);
            b[4..6].copy_from_slice(&[0, bad_len]);
            assert_eq!(UdpPacket::new_checked(&b[..]).err(), Some(WireError::Malformed));
        }
        let mut b = Vec::from(bytes);
        b[2..4].fill(0);
        let (s, d) = v4();
        assert_eq!(
            UdpRepr::parse(&UdpPacket::new_checked(&b[..]).unwrap(), &s, &d, false),
            Err(WireError::Malformed)
        );
        // An empty datagram is fine.
        let mut b = [0u8; 8];
        UdpRepr { src_port: 1, dst_port: 2 }.emit_header(&mut UdpPacket::new_unchecked(&mut b[..]), 0);
        assert_eq!(UdpPacket::new_checked(&b[..]).unwrap().payload(), &[]);
    }
}
