//! Types shared by IPv4 and IPv6: protocol numbers and CIDR prefixes.
//! Addresses are `core::net::{IpAddr, Ipv4Addr, Ipv6Addr}`.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

/// IP protocol / IPv6 next-header numbers (IANA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpProtocol {
    HopByHop,
    Icmp,
    Igmp,
    Tcp,
    Udp,
    Ipv6Route,
    Ipv6Frag,
    Icmpv6,
    Ipv6NoNxt,
    Ipv6Opts,
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            0 => IpProtocol::HopByHop,
            1 => IpProtocol::Icmp,
            2 => IpProtocol::Igmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            43 => IpProtocol::Ipv6Route,
            44 => IpProtocol::Ipv6Frag,
            58 => IpProtocol::Icmpv6,
            59 => IpProtocol::Ipv6NoNxt,
            60 => IpProtocol::Ipv6Opts,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(p: IpProtocol) -> u8 {
        match p {
            IpProtocol::HopByHop => 0,
            IpProtocol::Icmp => 1,
            IpProtocol::Igmp => 2,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Ipv6Route => 43,
            IpProtocol::Ipv6Frag => 44,
            IpProtocol::Icmpv6 => 58,
            IpProtocol::Ipv6NoNxt => 59,
            IpProtocol::Ipv6Opts => 60,
            IpProtocol::Unknown(v) => v,
        }
    }
}

/// An address with a prefix length: `10.0.0.2/24`, `fd00::1/64`.
/// The prefix length is checked at construction (≤ 32 or ≤ 128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpCidr {
    addr: IpAddr,
    prefix_len: u8,
}

impl IpCidr {
    /// `None` when `prefix_len` is too long for the address family.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Option<IpCidr> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix_len <= max).then_some(IpCidr { addr, prefix_len })
    }

    pub fn address(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The network address (host bits cleared), with the same prefix.
    pub fn network(&self) -> IpCidr {
        let addr = match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & mask_v4(self.prefix_len))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & mask_v6(self.prefix_len))),
        };
        IpCidr {
            addr,
            prefix_len: self.prefix_len,
        }
    }

    /// Whether `addr` is inside this prefix (same family only).
    pub fn contains_addr(&self, addr: &IpAddr) -> bool {
        match (self.addr, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = mask_v4(self.prefix_len);
                n.to_bits() & m == a.to_bits() & m
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = mask_v6(self.prefix_len);
                n.to_bits() & m == a.to_bits() & m
            }
            _ => false,
        }
    }

    /// The directed broadcast address of an IPv4 prefix shorter than /31.
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        match self.addr {
            IpAddr::V4(a) if self.prefix_len < 31 => Some(Ipv4Addr::from_bits(a.to_bits() | !mask_v4(self.prefix_len))),
            _ => None,
        }
    }
}

fn mask_v4(prefix_len: u8) -> u32 {
    if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix_len.min(32)))
    }
}

fn mask_v6(prefix_len: u8) -> u128 {
    if prefix_len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix_len.min(128)))
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for IpCidr {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, p) = s.split_once('/').ok_or(crate::Error::Parse)?;
        let addr: IpAddr = a.parse()?;
        let prefix_len: u8 = p.parse().map_err(|_| crate::Error::Parse)?;
        IpCidr::new(addr, prefix_len).ok_or(crate::Error::Parse)
    }
}

/// The source and destination ports at the start of a TCP or UDP header.
///
/// Meant for the offending datagram quoted in an ICMP error, which carries
/// only the beginning of the transport header (RFC 792: "Internet Header +
/// 64 bits of Original Data Datagram"), too little for a checked
/// `TcpPacket`. `None` if fewer than four bytes are present.
pub fn quoted_ports(transport_header: &[u8]) -> Option<(u16, u16)> {
    match transport_header {
        [s0, s1, d0, d1, ..] => Some((u16::from_be_bytes([*s0, *s1]), u16::from_be_bytes([*d0, *d1]))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn cidr() {
        let c: IpCidr = "10.1.2.3/24".parse().unwrap();
        assert!(c.contains_addr(&"10.1.2.200".parse().unwrap()));
        assert!(!c.contains_addr(&"10.1.3.1".parse().unwrap()));
        assert_eq!(c.network().to_string(), "10.1.2.0/24");
        assert_eq!(c.broadcast(), Some(Ipv4Addr::new(10, 1, 2, 255)));
        assert!("10.0.0.1/33".parse::<IpCidr>().is_err());
        let d: IpCidr = "0.0.0.0/0".parse().unwrap();
        assert!(d.contains_addr(&"1.2.3.4".parse().unwrap()));
        let v6: IpCidr = "fd00::1/64".parse().unwrap();
        assert!(v6.contains_addr(&"fd00::99".parse().unwrap()));
        assert!(!v6.contains_addr(&"10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn ports_of_a_quoted_header() {
        assert_eq!(quoted_ports(&[0x9c, 0x40, 0x00, 0x09, 0x00, 0x0d, 0x09, 0xa4]), Some((40000, 9)));
        assert_eq!(quoted_ports(&[0x9c, 0x40, 0x00, 0x09]), Some((40000, 9)));
        assert_eq!(quoted_ports(&[0x9c, 0x40, 0x00]), None);
    }
}
