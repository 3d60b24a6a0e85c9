//! Ethernet II frames (DIX): destination, source, EtherType, payload.
//! The frame check sequence is the device's business and never appears here.

use core::fmt;
use core::str::FromStr;

use super::bytes::{read_u16, write_u16};
use super::{WireError, WireResult};

/// Length of the Ethernet II header: two addresses and the EtherType.
pub const HEADER_LEN: usize = 14;

mod field {
    use crate::wire::{Field, Rest};

    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const PAYLOAD: Rest = 14..;
}

/// A 48-bit MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }

    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Locally administered (the U/L bit is set).
    pub fn is_local(&self) -> bool {
        self.0[0] & 2 != 0
    }

    /// The address in the first six bytes of `data`. Callers pass a 6-byte
    /// slice; a shorter one is padded with zero bytes rather than panicking
    /// (use [`EthernetAddress::try_from_bytes`] to reject it instead).
    pub fn from_bytes(data: &[u8]) -> EthernetAddress {
        let mut octets = [0u8; 6];
        let n = data.len().min(6);
        octets[..n].copy_from_slice(&data[..n]);
        EthernetAddress(octets)
    }

    /// The address in `data`, which must be exactly six bytes long.
    pub fn try_from_bytes(data: &[u8]) -> Option<EthernetAddress> {
        <[u8; 6]>::try_from(data).ok().map(EthernetAddress)
    }

    /// The six octets, in transmission order.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

impl FromStr for EthernetAddress {
    type Err = crate::Error;

    /// Six groups of one or two hex digits separated by `:` or `-`:
    /// `02:00:00:00:00:01`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut octets = [0u8; 6];
        let mut parts = s.split(sep);
        for octet in &mut octets {
            let part = parts.next().ok_or(crate::Error::Parse)?;
            if part.is_empty() || part.len() > 2 {
                return Err(crate::Error::Parse);
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| crate::Error::Parse)?;
        }
        if parts.next().is_some() {
            return Err(crate::Error::Parse);
        }
        Ok(EthernetAddress(octets))
    }
}

/// The EtherType field: which protocol the payload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EtherType {
    Ipv4,
    Arp,
    Ipv6,
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x86dd => EtherType::Ipv6,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(t: EtherType) -> u16 {
        match t {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Unknown(v) => v,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtherType::Ipv4 => f.write_str("IPv4"),
            EtherType::Arp => f.write_str("ARP"),
            EtherType::Ipv6 => f.write_str("IPv6"),
            EtherType::Unknown(v) => write!(f, "0x{v:04x}"),
        }
    }
}

/// A view of an Ethernet II frame (without the frame check sequence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` without checks; accessors may panic if it is shorter
    /// than [`HEADER_LEN`].
    pub fn new_unchecked(buffer: T) -> EthernetFrame<T> {
        EthernetFrame { buffer }
    }

    /// Wraps `buffer` after checking that it holds a whole header.
    pub fn new_checked(buffer: T) -> WireResult<EthernetFrame<T>> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// `Err(Truncated)` if the buffer is shorter than the header.
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

    pub fn header_len() -> usize {
        HEADER_LEN
    }

    pub fn dst_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::DST])
    }

    pub fn src_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::SRC])
    }

    pub fn ethertype(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// Everything after the header, padding included (the layer above trims
    /// by its own length field).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    pub fn set_dst_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.0);
    }

    pub fn set_src_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.0);
    }

    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, ethertype.into());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for EthernetFrame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The parsed Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    pub src_addr: EthernetAddress,
    pub dst_addr: EthernetAddress,
    pub ethertype: EtherType,
}

impl EthernetRepr {
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &EthernetFrame<&T>) -> WireResult<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// The header length (14): the payload is written by the layer above.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header; the payload bytes are left alone.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, frame: &mut EthernetFrame<&mut T>) {
        let EthernetRepr {
            src_addr,
            dst_addr,
            ethertype,
        } = *self;
        frame.set_src_addr(src_addr);
        frame.set_dst_addr(dst_addr);
        frame.set_ethertype(ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    // ARP request from the golden capture (see arp.rs): broadcast from
    // 02:00:00:00:00:01.
    const HEADER: [u8; 14] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06];

    #[test]
    fn address_parse_and_print() {
        let a: EthernetAddress = "02:00:00:00:00:01".parse().unwrap();
        assert_eq!(a, EthernetAddress([2, 0, 0, 0, 0, 1]));
        assert_eq!(a.to_string(), "02:00:00:00:00:01");
        assert_eq!(
            "0a-1b-2c-3d-4e-5f".parse::<EthernetAddress>().unwrap().0,
            [0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f]
        );
        assert_eq!("2:0:0:0:0:1".parse::<EthernetAddress>().unwrap(), a);
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:01:02",
            "02:00:00:00:00:0g",
            "02::00:00:00:00",
            "002:00:00:00:00:01",
        ] {
            assert!(bad.parse::<EthernetAddress>().is_err(), "{bad}");
        }
        assert!(a.is_local() && a.is_unicast());
        assert!(EthernetAddress::BROADCAST.is_multicast());
    }

    #[test]
    fn address_from_bytes() {
        assert_eq!(EthernetAddress::from_bytes(&[1, 2, 3, 4, 5, 6]).0, [1, 2, 3, 4, 5, 6]);
        assert_eq!(EthernetAddress::from_bytes(&[1, 2, 3]).0, [1, 2, 3, 0, 0, 0]);
        assert_eq!(EthernetAddress::try_from_bytes(&[1, 2, 3]), None);
        assert_eq!(EthernetAddress::try_from_bytes(&[1, 2, 3, 4, 5, 6, 7]), None);
        assert_eq!(
            EthernetAddress::try_from_bytes(&[1, 2, 3, 4, 5, 6]),
            Some(EthernetAddress([1, 2, 3, 4, 5, 6]))
        );
    }

    #[test]
    fn ethertype_numbers() {
        for v in [0x0800u16, 0x0806, 0x86dd, 0x88cc] {
            assert_eq!(u16::from(EtherType::from(v)), v);
        }
        assert_eq!(EtherType::from(0x86dd), EtherType::Ipv6);
        assert_eq!(EtherType::from(0x88cc), EtherType::Unknown(0x88cc));
    }

    #[test]
    fn golden_header_parse_and_emit() {
        let mut frame = [0u8; 14 + 4];
        frame[..14].copy_from_slice(&HEADER);
        frame[14..].copy_from_slice(&[1, 2, 3, 4]);
        let view = EthernetFrame::new_checked(&frame[..]).unwrap();
        let repr = EthernetRepr::parse(&view).unwrap();
        assert_eq!(
            repr,
            EthernetRepr {
                src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
                dst_addr: EthernetAddress::BROADCAST,
                ethertype: EtherType::Arp,
            }
        );
        assert_eq!(view.payload(), &[1, 2, 3, 4]);
        assert_eq!(repr.buffer_len(), 14);

        let mut out = [0u8; 14];
        repr.emit(&mut EthernetFrame::new_unchecked(&mut out[..]));
        assert_eq!(out, HEADER);
    }

    #[test]
    fn truncated_frames_are_rejected() {
        for len in 0..HEADER_LEN {
            assert_eq!(EthernetFrame::new_checked(&HEADER[..len]).err(), Some(WireError::Truncated));
        }
        let frame = EthernetFrame::new_checked(&HEADER[..]).unwrap();
        assert!(frame.payload().is_empty());
    }
}
