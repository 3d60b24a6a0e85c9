//! ARP (RFC 826). The view reads any hardware/protocol pair; the `Repr`
//! speaks only Ethernet/IPv4, the only pair this stack resolves.

use core::net::Ipv4Addr;

use super::bytes::{clamp, clamp_mut, read_u16, write_u16};
use super::{EthernetAddress, Field, WireError, WireResult};

mod field {
    use crate::wire::Field;

    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    /// Where the variable-length addresses start.
    pub const ADDRS: usize = 8;

    pub fn sha(hlen: u8, _plen: u8) -> Field {
        ADDRS..ADDRS + usize::from(hlen)
    }

    pub fn spa(hlen: u8, plen: u8) -> Field {
        let start = sha(hlen, plen).end;
        start..start + usize::from(plen)
    }

    pub fn tha(hlen: u8, plen: u8) -> Field {
        let start = spa(hlen, plen).end;
        start..start + usize::from(hlen)
    }

    pub fn tpa(hlen: u8, plen: u8) -> Field {
        let start = tha(hlen, plen).end;
        start..start + usize::from(plen)
    }
}

/// `ar$hrd` for Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// `ar$pro` for IPv4 (the IPv4 EtherType).
pub const PTYPE_IPV4: u16 = 0x0800;
/// An Ethernet/IPv4 ARP packet: 8 fixed bytes, 2 × (6 + 4) of addresses.
pub const ETHERNET_IPV4_LEN: usize = 28;

/// The ARP opcode (`ar$op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> Self {
        match v {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Unknown(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(op: ArpOperation) -> u16 {
        match op {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(v) => v,
        }
    }
}

/// A view of an ARP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    pub fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// Checks that the fixed part and the four addresses (of the lengths
    /// the packet announces) are present. Trailing bytes (Ethernet padding)
    /// are ignored.
    pub fn new_checked(buffer: T) -> WireResult<ArpPacket<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> WireResult<()> {
        let data = self.buffer.as_ref();
        let (Some(&hlen), Some(&plen)) = (data.get(field::HLEN), data.get(field::PLEN)) else {
            return Err(WireError::Truncated);
        };
        if data.len() < field::OPER.end || data.len() < field::tpa(hlen, plen).end {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn hardware_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::HTYPE)
    }

    pub fn protocol_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::PTYPE)
    }

    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from(read_u16(self.buffer.as_ref(), field::OPER))
    }

    fn addr(&self, f: fn(u8, u8) -> Field) -> &[u8] {
        let range = f(self.hardware_len(), self.protocol_len());
        clamp(self.buffer.as_ref(), range.start, range.end)
    }

    pub fn source_hardware_addr(&self) -> &[u8] {
        self.addr(field::sha)
    }

    pub fn source_protocol_addr(&self) -> &[u8] {
        self.addr(field::spa)
    }

    pub fn target_hardware_addr(&self) -> &[u8] {
        self.addr(field::tha)
    }

    pub fn target_protocol_addr(&self) -> &[u8] {
        self.addr(field::tpa)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    pub fn set_hardware_type(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::HTYPE, v);
    }

    pub fn set_protocol_type(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::PTYPE, v);
    }

    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }

    pub fn set_operation(&mut self, op: ArpOperation) {
        write_u16(self.buffer.as_mut(), field::OPER, op.into());
    }

    fn set_addr(&mut self, f: fn(u8, u8) -> Field, value: &[u8]) {
        let range = f(self.hardware_len(), self.protocol_len());
        let out = clamp_mut(self.buffer.as_mut(), range.start, range.end);
        let n = out.len().min(value.len());
        out[..n].copy_from_slice(&value[..n]);
    }

    /// `value` should be `hardware_len()` bytes long (extra bytes are not
    /// written, missing ones leave the field's tail unchanged).
    pub fn set_source_hardware_addr(&mut self, value: &[u8]) {
        self.set_addr(field::sha, value);
    }

    /// `value` should be `protocol_len()` bytes long (as above).
    pub fn set_source_protocol_addr(&mut self, value: &[u8]) {
        self.set_addr(field::spa, value);
    }

    /// `value` should be `hardware_len()` bytes long (extra bytes are not
    /// written, missing ones leave the field's tail unchanged).
    pub fn set_target_hardware_addr(&mut self, value: &[u8]) {
        self.set_addr(field::tha, value);
    }

    /// `value` should be `protocol_len()` bytes long (as above).
    pub fn set_target_protocol_addr(&mut self, value: &[u8]) {
        self.set_addr(field::tpa, value);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for ArpPacket<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    pub operation: ArpOperation,
    pub source_hardware_addr: EthernetAddress,
    pub source_protocol_addr: Ipv4Addr,
    pub target_hardware_addr: EthernetAddress,
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// `Err(Unsupported)` unless the packet is Ethernet (1) / IPv4 (0x0800)
    /// with 6- and 4-byte addresses.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &ArpPacket<&T>) -> WireResult<ArpRepr> {
        packet.check_len()?;
        // RFC 826, packet reception: "?Do I have the hardware type in ar$hrd?
        // Yes: (almost definitely) [optionally check the hardware length
        // ar$hln] ?Do I speak the protocol in ar$pro?" — we check both
        // lengths, so the addresses below are exactly 6 and 4 bytes.
        if packet.hardware_type() != HTYPE_ETHERNET
            || packet.protocol_type() != PTYPE_IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(WireError::Unsupported);
        }
        let ipv4 = |b: &[u8]| <[u8; 4]>::try_from(b).map(Ipv4Addr::from).map_err(|_| WireError::Malformed);
        let mac = |b: &[u8]| EthernetAddress::try_from_bytes(b).ok_or(WireError::Malformed);
        Ok(ArpRepr {
            operation: packet.operation(),
            source_hardware_addr: mac(packet.source_hardware_addr())?,
            source_protocol_addr: ipv4(packet.source_protocol_addr())?,
            target_hardware_addr: mac(packet.target_hardware_addr())?,
            target_protocol_addr: ipv4(packet.target_protocol_addr())?,
        })
    }

    /// 28 bytes.
    pub const fn buffer_len(&self) -> usize {
        ETHERNET_IPV4_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut ArpPacket<&mut T>) {
        let ArpRepr {
            operation,
            source_hardware_addr,
            source_protocol_addr,
            target_hardware_addr,
            target_protocol_addr,
        } = *self;
        packet.set_hardware_type(HTYPE_ETHERNET);
        packet.set_protocol_type(PTYPE_IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(operation);
        packet.set_source_hardware_addr(&source_hardware_addr.0);
        packet.set_source_protocol_addr(&source_protocol_addr.octets());
        packet.set_target_hardware_addr(&target_hardware_addr.0);
        packet.set_target_protocol_addr(&target_protocol_addr.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EtherType, EthernetFrame};
    use alloc::vec::Vec;

    // Captured from Linux: `ping 10.9.1.2` from 10.9.1.1 on a veth pair.
    // Request who-has 10.9.1.2 tell 10.9.1.1
    const ARP_REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x09, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x09, 0x01, 0x02,
    ];
    // Reply 10.9.1.2 is-at 02:00:00:00:00:02
    const ARP_REPLY: [u8; 42] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x0a, 0x09, 0x01, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x09, 0x01, 0x01,
    ];

    fn golden(frame: &[u8], want: ArpRepr) {
        let eth = EthernetFrame::new_checked(frame).unwrap();
        assert_eq!(eth.ethertype(), EtherType::Arp);
        let packet = ArpPacket::new_checked(eth.payload()).unwrap();
        let repr = ArpRepr::parse(&packet).unwrap();
        assert_eq!(repr, want);
        assert_eq!(repr.buffer_len(), 28);
        let mut out = [0u8; 28];
        repr.emit(&mut ArpPacket::new_unchecked(&mut out[..]));
        assert_eq!(&out[..], eth.payload());
    }

    #[test]
    fn golden_request() {
        golden(
            &ARP_REQUEST,
            ArpRepr {
                operation: ArpOperation::Request,
                source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
                source_protocol_addr: Ipv4Addr::new(10, 9, 1, 1),
                target_hardware_addr: EthernetAddress([0; 6]),
                target_protocol_addr: Ipv4Addr::new(10, 9, 1, 2),
            },
        );
    }

    #[test]
    fn golden_reply() {
        golden(
            &ARP_REPLY,
            ArpRepr {
                operation: ArpOperation::Reply,
                source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
                source_protocol_addr: Ipv4Addr::new(10, 9, 1, 2),
                target_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
                target_protocol_addr: Ipv4Addr::new(10, 9, 1, 1),
            },
        );
    }

    #[test]
    fn padding_is_ignored() {
        // Padded to the 60-byte Ethernet minimum.
        let mut frame = Vec::from(&ARP_REPLY[..]);
        frame.resize(60, 0);
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        let packet = ArpPacket::new_checked(eth.payload()).unwrap();
        assert_eq!(ArpRepr::parse(&packet).unwrap().operation, ArpOperation::Reply);
    }

    #[test]
    fn truncated_at_every_length() {
        let body = &ARP_REQUEST[14..];
        for len in 0..body.len() {
            assert_eq!(ArpPacket::new_checked(&body[..len]).err(), Some(WireError::Truncated), "len {len}");
        }
        // A huge announced length cannot run past the buffer.
        let mut long = Vec::from(body);
        long[4] = 0xff;
        assert_eq!(ArpPacket::new_checked(&long[..]).err(), Some(WireError::Truncated));
    }

    #[test]
    fn other_hardware_or_protocol_is_unsupported() {
        let body = &ARP_REQUEST[14..];
        for (at, value) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
            let mut b = Vec::from(body);
            b[at] = value;
            b.resize(60, 0);
            let packet = ArpPacket::new_checked(&b[..]).unwrap();
            assert_eq!(ArpRepr::parse(&packet), Err(WireError::Unsupported), "byte {at}");
        }
        // A foreign pair is still readable through the view.
        let mut b = Vec::from(body);
        b[5] = 16;
        b.resize(8 + 2 * (6 + 16), 0);
        let packet = ArpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(packet.source_protocol_addr().len(), 16);
        assert_eq!(packet.target_protocol_addr().len(), 16);
    }

    #[test]
    fn unknown_operation_round_trips() {
        let mut b = Vec::from(&ARP_REQUEST[14..]);
        b[7] = 9;
        let repr = ArpRepr::parse(&ArpPacket::new_checked(&b[..]).unwrap()).unwrap();
        assert_eq!(repr.operation, ArpOperation::Unknown(9));
        let mut out = [0u8; 28];
        repr.emit(&mut ArpPacket::new_unchecked(&mut out[..]));
        assert_eq!(&out[..], &b[..]);
    }
}
