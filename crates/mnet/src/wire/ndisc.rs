//! Neighbour discovery messages (RFC 4861 §4) and their options (RFC 4861
//! §4.6, RFC 4191 §2.3 Route Information, RFC 8106 RDNSS/DNSSL, RFC 3971
//! §5.3.2 Nonce).
//!
//! [`NdiscRepr`] carries its options as validated raw bytes
//! ([`NdiscOptions`]): an RA may hold any number of prefixes and DNS
//! servers, and walking them with [`NdiscOptions::iter`] needs no
//! allocation. To build options, emit [`NdiscOption`]s into a buffer.

use core::net::Ipv6Addr;

use super::bytes::{read_ipv6, read_u16, read_u32, write_u16, write_u32};
use super::icmpv6::message;
use super::{EthernetAddress, WireError, WireResult};

/// Option types (RFC 4861 §4.6, RFC 4191, RFC 8106, RFC 3971).
pub mod option_type {
    pub const SOURCE_LL_ADDR: u8 = 1;
    pub const TARGET_LL_ADDR: u8 = 2;
    pub const PREFIX_INFO: u8 = 3;
    pub const REDIRECTED_HEADER: u8 = 4;
    pub const MTU: u8 = 5;
    pub const NONCE: u8 = 14;
    pub const ROUTE_INFO: u8 = 24;
    pub const RDNSS: u8 = 25;
    pub const DNSSL: u8 = 31;
}

/// RA flag "Managed address configuration" (RFC 4861 §4.2).
pub const RA_FLAG_MANAGED: u8 = 0x80;
/// RA flag "Other configuration" (RFC 4861 §4.2).
pub const RA_FLAG_OTHER: u8 = 0x40;
/// NA flag R (RFC 4861 §4.4): "the sender is a router".
pub const NA_FLAG_ROUTER: u8 = 0x80;
/// NA flag S: "the advertisement was sent in response to a Neighbor
/// Solicitation from the Destination address".
pub const NA_FLAG_SOLICITED: u8 = 0x40;
/// NA flag O: "the advertisement should override an existing cache entry".
pub const NA_FLAG_OVERRIDE: u8 = 0x20;
/// Prefix Information flag L (on-link).
pub const PREFIX_FLAG_ON_LINK: u8 = 0x80;
/// Prefix Information flag A (autonomous address configuration).
pub const PREFIX_FLAG_AUTONOMOUS: u8 = 0x40;

/// RFC 4191 §2.1 router / route preference (2 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouterPreference {
    Low,
    Medium,
    High,
}

impl RouterPreference {
    /// RFC 4191 §2.1: "01 High, 00 Medium (default), 11 Low, 10 Reserved -
    /// MUST NOT be sent"; §2.2: "If the Reserved (10) value is received,
    /// the receiver MUST treat the value as if it were (00)." `None` for
    /// the reserved value (Route Information options with it are ignored,
    /// §2.3).
    pub fn from_bits(bits: u8) -> Option<RouterPreference> {
        match bits & 0b11 {
            0b01 => Some(RouterPreference::High),
            0b00 => Some(RouterPreference::Medium),
            0b11 => Some(RouterPreference::Low),
            _ => None,
        }
    }

    pub fn bits(self) -> u8 {
        match self {
            RouterPreference::High => 0b01,
            RouterPreference::Medium => 0b00,
            RouterPreference::Low => 0b11,
        }
    }
}

/// A Prefix Information option (RFC 4861 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixInfo {
    pub prefix_len: u8,
    /// [`PREFIX_FLAG_ON_LINK`], [`PREFIX_FLAG_AUTONOMOUS`].
    pub flags: u8,
    /// Seconds; 0xffffffff is infinity.
    pub valid_lifetime: u32,
    pub preferred_lifetime: u32,
    pub prefix: Ipv6Addr,
}

/// One option, parsed or to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdiscOption<'a> {
    SourceLinkLayer(EthernetAddress),
    TargetLinkLayer(EthernetAddress),
    PrefixInfo(PrefixInfo),
    /// The start of the redirected packet (RFC 4861 §4.6.3).
    RedirectedHeader(&'a [u8]),
    Mtu(u32),
    /// RFC 3971 §5.3.2: a random nonce (6 bytes when we send it).
    Nonce(&'a [u8]),
    /// RFC 4191 §2.3; `prefix` holds the significant octets zero-filled.
    RouteInfo {
        prefix_len: u8,
        preference: Option<RouterPreference>,
        lifetime: u32,
        prefix: Ipv6Addr,
    },
    /// RFC 8106 §5.1: `addresses` is a multiple of 16 bytes (see
    /// [`rdnss_addresses`]).
    Rdnss {
        lifetime: u32,
        addresses: &'a [u8],
    },
    /// RFC 8106 §5.2: domain names in DNS wire encoding, zero-padded.
    Dnssl {
        lifetime: u32,
        domains: &'a [u8],
    },
    Unknown {
        kind: u8,
        data: &'a [u8],
    },
}

/// The addresses of an RDNSS option.
pub fn rdnss_addresses(bytes: &[u8]) -> impl Iterator<Item = Ipv6Addr> + '_ {
    bytes.chunks_exact(16).map(|c| read_ipv6(c, 0..16))
}

impl<'a> NdiscOption<'a> {
    /// Parse one option from its full bytes (type, length, body). The
    /// length was checked by [`NdiscOptions::new_checked`].
    fn parse(b: &'a [u8]) -> WireResult<NdiscOption<'a>> {
        let kind = *b.first().ok_or(WireError::Truncated)?;
        let lladdr = || EthernetAddress::try_from_bytes(b.get(2..8).unwrap_or(&[])).ok_or(WireError::Malformed);
        Ok(match kind {
            option_type::SOURCE_LL_ADDR => NdiscOption::SourceLinkLayer(lladdr()?),
            option_type::TARGET_LL_ADDR => NdiscOption::TargetLinkLayer(lladdr()?),
            option_type::PREFIX_INFO => {
                // RFC 4861 §4.6.2: "Length 4".
                if b.len() != 32 {
                    return Err(WireError::Malformed);
                }
                NdiscOption::PrefixInfo(PrefixInfo {
                    prefix_len: b[2],
                    flags: b[3],
                    valid_lifetime: read_u32(b, 4..8),
                    preferred_lifetime: read_u32(b, 8..12),
                    prefix: read_ipv6(b, 16..32),
                })
            }
            option_type::REDIRECTED_HEADER => NdiscOption::RedirectedHeader(b.get(8..).unwrap_or(&[])),
            option_type::MTU => {
                if b.len() != 8 {
                    return Err(WireError::Malformed);
                }
                NdiscOption::Mtu(read_u32(b, 4..8))
            }
            option_type::NONCE => NdiscOption::Nonce(&b[2..]),
            option_type::ROUTE_INFO => {
                // RFC 4191 §2.3: "The Length field is 1, 2, or 3 depending
                // on the Prefix Length. If Prefix Length is greater than 64,
                // then Length must be 3. If Prefix Length is greater than 0,
                // then Length must be 2 or 3."
                let prefix_len = b[2];
                let len8 = b.len() / 8;
                if len8 > 3 || prefix_len > 128 || (prefix_len > 64 && len8 < 3) || (prefix_len > 0 && len8 < 2) {
                    return Err(WireError::Malformed);
                }
                let mut octets = [0u8; 16];
                let body = &b[8..];
                octets[..body.len()].copy_from_slice(body);
                NdiscOption::RouteInfo {
                    prefix_len,
                    preference: RouterPreference::from_bits(b[3] >> 3),
                    lifetime: read_u32(b, 4..8),
                    prefix: Ipv6Addr::from(octets),
                }
            }
            option_type::RDNSS => {
                // RFC 8106 §5.1: "The minimum value is 3 if one IPv6 address
                // is contained in the option."
                if b.len() < 24 || !(b.len() - 8).is_multiple_of(16) {
                    return Err(WireError::Malformed);
                }
                NdiscOption::Rdnss {
                    lifetime: read_u32(b, 4..8),
                    addresses: &b[8..],
                }
            }
            option_type::DNSSL => {
                if b.len() < 16 {
                    return Err(WireError::Malformed);
                }
                NdiscOption::Dnssl {
                    lifetime: read_u32(b, 4..8),
                    domains: &b[8..],
                }
            }
            _ => NdiscOption::Unknown { kind, data: &b[2..] },
        })
    }

    /// Bytes [`Self::emit`] writes (a multiple of 8).
    pub fn buffer_len(&self) -> usize {
        let body = match self {
            NdiscOption::SourceLinkLayer(_) | NdiscOption::TargetLinkLayer(_) | NdiscOption::Mtu(_) => 6,
            NdiscOption::PrefixInfo(_) => 30,
            NdiscOption::RedirectedHeader(d) => 6 + d.len(),
            NdiscOption::Nonce(d) | NdiscOption::Unknown { data: d, .. } => d.len(),
            NdiscOption::RouteInfo { prefix_len, .. } => match prefix_len {
                0 => 6,
                1..=64 => 14,
                _ => 22,
            },
            NdiscOption::Rdnss { addresses: d, .. } | NdiscOption::Dnssl { domains: d, .. } => 6 + d.len(),
        };
        (2 + body).div_ceil(8) * 8
    }

    /// Write the option (zero padding included) at the start of `buf`,
    /// which holds at least `buffer_len()` bytes; returns the length.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        let b = &mut buf[..len];
        b.fill(0);
        b[1] = (len / 8) as u8;
        match *self {
            NdiscOption::SourceLinkLayer(mac) => {
                b[0] = option_type::SOURCE_LL_ADDR;
                b[2..8].copy_from_slice(mac.as_bytes());
            }
            NdiscOption::TargetLinkLayer(mac) => {
                b[0] = option_type::TARGET_LL_ADDR;
                b[2..8].copy_from_slice(mac.as_bytes());
            }
            NdiscOption::PrefixInfo(p) => {
                b[0] = option_type::PREFIX_INFO;
                b[2] = p.prefix_len;
                b[3] = p.flags;
                write_u32(b, 4..8, p.valid_lifetime);
                write_u32(b, 8..12, p.preferred_lifetime);
                b[16..32].copy_from_slice(&p.prefix.octets());
            }
            NdiscOption::RedirectedHeader(d) => {
                b[0] = option_type::REDIRECTED_HEADER;
                b[8..8 + d.len()].copy_from_slice(d);
            }
            NdiscOption::Mtu(mtu) => {
                b[0] = option_type::MTU;
                write_u32(b, 4..8, mtu);
            }
            NdiscOption::Nonce(d) => {
                b[0] = option_type::NONCE;
                b[2..2 + d.len()].copy_from_slice(d);
            }
            NdiscOption::RouteInfo {
                prefix_len,
                preference,
                lifetime,
                prefix,
            } => {
                b[0] = option_type::ROUTE_INFO;
                b[2] = prefix_len;
                b[3] = preference.unwrap_or(RouterPreference::Medium).bits() << 3;
                write_u32(b, 4..8, lifetime);
                let n = len - 8;
                b[8..].copy_from_slice(&prefix.octets()[..n]);
            }
            NdiscOption::Rdnss { lifetime, addresses } => {
                b[0] = option_type::RDNSS;
                write_u32(b, 4..8, lifetime);
                b[8..8 + addresses.len()].copy_from_slice(addresses);
            }
            NdiscOption::Dnssl { lifetime, domains } => {
                b[0] = option_type::DNSSL;
                write_u32(b, 4..8, lifetime);
                b[8..8 + domains.len()].copy_from_slice(domains);
            }
            NdiscOption::Unknown { kind, data } => {
                b[0] = kind;
                b[2..2 + data.len()].copy_from_slice(data);
            }
        }
        len
    }
}

/// The options of one message, validated once: every option has a non-zero
/// length and fits in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdiscOptions<'a>(&'a [u8]);

impl<'a> NdiscOptions<'a> {
    /// RFC 4861 §4.6: "Nodes MUST silently discard an ND packet that
    /// contains an option with length zero." Every option must also fit,
    /// and each must parse (a malformed known option makes the packet
    /// invalid).
    pub fn new_checked(bytes: &'a [u8]) -> WireResult<NdiscOptions<'a>> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let len = usize::from(*rest.get(1).ok_or(WireError::Truncated)?) * 8;
            if len == 0 {
                return Err(WireError::Malformed);
            }
            let opt = rest.get(..len).ok_or(WireError::Truncated)?;
            NdiscOption::parse(opt)?;
            rest = &rest[len..];
        }
        Ok(NdiscOptions(bytes))
    }

    /// Options already encoded by this stack (emit only).
    pub const EMPTY: NdiscOptions<'static> = NdiscOptions(&[]);

    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// Every option, in order (malformed ones were rejected at parse).
    pub fn iter(&self) -> impl Iterator<Item = NdiscOption<'a>> + 'a {
        let mut rest = self.0;
        core::iter::from_fn(move || {
            let len = usize::from(*rest.get(1)?) * 8;
            let opt = rest.get(..len.max(1))?;
            rest = rest.get(len.max(1)..).unwrap_or(&[]);
            NdiscOption::parse(opt).ok()
        })
    }

    pub fn source_lladdr(&self) -> Option<EthernetAddress> {
        self.iter().find_map(|o| match o {
            NdiscOption::SourceLinkLayer(m) => Some(m),
            _ => None,
        })
    }

    pub fn target_lladdr(&self) -> Option<EthernetAddress> {
        self.iter().find_map(|o| match o {
            NdiscOption::TargetLinkLayer(m) => Some(m),
            _ => None,
        })
    }

    pub fn nonce(&self) -> Option<&'a [u8]> {
        self.iter().find_map(|o| match o {
            NdiscOption::Nonce(n) => Some(n),
            _ => None,
        })
    }

    pub fn mtu(&self) -> Option<u32> {
        self.iter().find_map(|o| match o {
            NdiscOption::Mtu(m) => Some(m),
            _ => None,
        })
    }
}

/// Router Advertisement fields (RFC 4861 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterAdvert<'a> {
    /// 0: unspecified.
    pub hop_limit: u8,
    /// M, O flags and the RFC 4191 preference in bits 3-4.
    pub flags: u8,
    /// Seconds; 0: not a default router.
    pub router_lifetime: u16,
    /// Milliseconds; 0: unspecified.
    pub reachable_time: u32,
    /// Milliseconds; 0: unspecified.
    pub retrans_time: u32,
    pub options: NdiscOptions<'a>,
}

impl RouterAdvert<'_> {
    /// RFC 4191 §2.2 "Prf (Default Router Preference)": reserved counts as
    /// medium.
    pub fn preference(&self) -> RouterPreference {
        RouterPreference::from_bits(self.flags >> 3).unwrap_or(RouterPreference::Medium)
    }
}

/// A neighbour discovery message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdiscRepr<'a> {
    RouterSolicit {
        options: NdiscOptions<'a>,
    },
    RouterAdvert(RouterAdvert<'a>),
    NeighborSolicit {
        target: Ipv6Addr,
        options: NdiscOptions<'a>,
    },
    NeighborAdvert {
        /// [`NA_FLAG_ROUTER`], [`NA_FLAG_SOLICITED`], [`NA_FLAG_OVERRIDE`].
        flags: u8,
        target: Ipv6Addr,
        options: NdiscOptions<'a>,
    },
    Redirect {
        target: Ipv6Addr,
        destination: Ipv6Addr,
        options: NdiscOptions<'a>,
    },
}

impl<'a> NdiscRepr<'a> {
    /// Parse a whole ICMPv6 message (type, code, checksum included; the
    /// checksum was verified by the caller). RFC 4861 §6.1.1, §6.1.2,
    /// §7.1.1, §7.1.2, §8.1: "ICMP Code is 0", "ICMP length (derived from
    /// the IP length) is N or more octets", "All included options have a
    /// length that is greater than zero", "Target Address is not a
    /// multicast address". (Hop limit 255 and source address rules are
    /// checked by the engine, which sees the IP header.)
    pub fn parse(b: &'a [u8]) -> WireResult<NdiscRepr<'a>> {
        if b.len() < 8 {
            return Err(WireError::Truncated);
        }
        if b[1] != 0 {
            return Err(WireError::Malformed);
        }
        let opts = |at: usize| -> WireResult<NdiscOptions<'a>> {
            let rest = b.get(at..).ok_or(WireError::Truncated)?;
            NdiscOptions::new_checked(rest)
        };
        let target = |at: usize| -> WireResult<Ipv6Addr> {
            if b.len() < at + 16 {
                return Err(WireError::Truncated);
            }
            Ok(read_ipv6(b, at..at + 16))
        };
        Ok(match b[0] {
            message::ROUTER_SOLICIT => NdiscRepr::RouterSolicit { options: opts(8)? },
            message::ROUTER_ADVERT => {
                if b.len() < 16 {
                    return Err(WireError::Truncated);
                }
                NdiscRepr::RouterAdvert(RouterAdvert {
                    hop_limit: b[4],
                    flags: b[5],
                    router_lifetime: read_u16(b, 6..8),
                    reachable_time: read_u32(b, 8..12),
                    retrans_time: read_u32(b, 12..16),
                    options: opts(16)?,
                })
            }
            message::NEIGHBOR_SOLICIT | message::NEIGHBOR_ADVERT => {
                let t = target(8)?;
                if t.is_multicast() {
                    return Err(WireError::Malformed);
                }
                if b[0] == message::NEIGHBOR_SOLICIT {
                    NdiscRepr::NeighborSolicit {
                        target: t,
                        options: opts(24)?,
                    }
                } else {
                    NdiscRepr::NeighborAdvert {
                        flags: b[4] & 0xe0,
                        target: t,
                        options: opts(24)?,
                    }
                }
            }
            message::REDIRECT => {
                let t = target(8)?;
                let d = target(24)?;
                if d.is_multicast() {
                    return Err(WireError::Malformed);
                }
                NdiscRepr::Redirect {
                    target: t,
                    destination: d,
                    options: opts(40)?,
                }
            }
            _ => return Err(WireError::Unsupported),
        })
    }

    fn fixed_len(&self) -> usize {
        match self {
            NdiscRepr::RouterSolicit { .. } => 8,
            NdiscRepr::RouterAdvert(_) => 16,
            NdiscRepr::NeighborSolicit { .. } | NdiscRepr::NeighborAdvert { .. } => 24,
            NdiscRepr::Redirect { .. } => 40,
        }
    }

    pub fn options(&self) -> NdiscOptions<'a> {
        match *self {
            NdiscRepr::RouterSolicit { options }
            | NdiscRepr::NeighborSolicit { options, .. }
            | NdiscRepr::NeighborAdvert { options, .. }
            | NdiscRepr::Redirect { options, .. } => options,
            NdiscRepr::RouterAdvert(ra) => ra.options,
        }
    }

    /// The whole ICMPv6 message length.
    pub fn buffer_len(&self) -> usize {
        self.fixed_len() + self.options().as_bytes().len()
    }

    /// Write the message (checksum left zero: the ICMPv6 layer fills it)
    /// into `b` of at least `buffer_len()` bytes.
    pub fn emit(&self, b: &mut [u8]) {
        let fixed = self.fixed_len();
        b[..fixed].fill(0);
        match *self {
            NdiscRepr::RouterSolicit { .. } => b[0] = message::ROUTER_SOLICIT,
            NdiscRepr::RouterAdvert(ra) => {
                b[0] = message::ROUTER_ADVERT;
                b[4] = ra.hop_limit;
                b[5] = ra.flags;
                write_u16(b, 6..8, ra.router_lifetime);
                write_u32(b, 8..12, ra.reachable_time);
                write_u32(b, 12..16, ra.retrans_time);
            }
            NdiscRepr::NeighborSolicit { target, .. } => {
                b[0] = message::NEIGHBOR_SOLICIT;
                b[8..24].copy_from_slice(&target.octets());
            }
            NdiscRepr::NeighborAdvert { flags, target, .. } => {
                b[0] = message::NEIGHBOR_ADVERT;
                b[4] = flags;
                b[8..24].copy_from_slice(&target.octets());
            }
            NdiscRepr::Redirect { target, destination, .. } => {
                b[0] = message::REDIRECT;
                b[8..24].copy_from_slice(&target.octets());
                b[24..40].copy_from_slice(&destination.octets());
            }
        }
        let opts = self.options().as_bytes();
        b[fixed..fixed + opts.len()].copy_from_slice(opts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::icmpv6::{Icmpv6Packet, Icmpv6Repr};
    use alloc::vec;
    use alloc::vec::Vec;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    // Frames captured with `tcpdump -xx` on a veth between two namespaces
    // (Linux 6.18): `ndisc6 fd00::2` from fe80::ff:fe00:1 (MAC
    // 02:00:00:00:00:01), the kernel's solicited advertisement from
    // fd00::2 (MAC 02:00:00:00:00:02), and a radvd 2.19 advertisement with
    // a prefix, RDNSS, DNSSL, MTU and high preference.
    const LINUX_NS_FRAME: [u8; 86] = [
        0x33, 0x33, 0xff, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x0a, 0x60, 0xe9, 0x00, 0x20, 0x3a, 0xff,
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x02, 0x87, 0x00, 0x7d, 0x17, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    ];
    const LINUX_NA_FRAME: [u8; 86] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
        0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01, 0x88, 0x00, 0x1c, 0x1a, 0x60, 0x00, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
    ];
    const RADVD_RA_FRAME: [u8; 158] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x01, 0x7e, 0x1e, 0x00, 0x68, 0x3a, 0xff,
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0x00, 0x4c, 0xcf, 0x40, 0x08, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x03, 0x04, 0x40, 0xc0, 0x00, 0x01, 0x51, 0x80, 0x00, 0x00, 0x38, 0x40, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x19, 0x03, 0x00, 0x00, 0x00, 0x00, 0x02, 0x58,
        0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53, 0x1f, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x02, 0x58, 0x04, 0x74, 0x65, 0x73, 0x74, 0x00, 0x00, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0x78, 0x01, 0x01, 0x02, 0x00,
        0x00, 0x00, 0x00, 0x01,
    ];

    /// The ICMPv6 message of a captured frame with its addresses.
    fn icmp_of(frame: &[u8]) -> (Ipv6Addr, Ipv6Addr, &[u8]) {
        let ip = crate::wire::Ipv6Packet::new_checked(&frame[14..]).unwrap();
        let (s, d) = (ip.src_addr(), ip.dst_addr());
        (s, d, &frame[14 + 40..])
    }

    /// The solicitation Linux sent (parsed) and the advertisement Linux
    /// answered with: ours, built from the same fields, is byte for byte
    /// the kernel's (checksum included).
    #[test]
    fn golden_linux_neighbor_solicit_and_advert() {
        let (s, d, msg) = icmp_of(&LINUX_NS_FRAME);
        assert_eq!((s, d), (a("fe80::ff:fe00:1"), a("ff02::1:ff00:2")));
        let p = Icmpv6Packet::new_checked(msg).unwrap();
        let repr = Icmpv6Repr::parse(&p, &s, &d, true).unwrap();
        let Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit { target, options }) = repr else {
            panic!("{repr:?}")
        };
        assert_eq!(target, a("fd00::2"));
        assert_eq!(options.source_lladdr(), Some(EthernetAddress([2, 0, 0, 0, 0, 1])));
        assert_eq!(options.nonce(), None);
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut out, &s, &d);
        assert_eq!(out, msg);

        let (s, d, msg) = icmp_of(&LINUX_NA_FRAME);
        let mut opts = [0u8; 8];
        let n = NdiscOption::TargetLinkLayer(EthernetAddress([2, 0, 0, 0, 0, 2])).emit(&mut opts);
        let ours = Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
            flags: NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
            target: a("fd00::2"),
            options: NdiscOptions::new_checked(&opts[..n]).unwrap(),
        });
        let mut out = vec![0u8; ours.buffer_len()];
        ours.emit(&mut out, &s, &d);
        assert_eq!(out, msg);
    }

    /// radvd's advertisement, every option parsed.
    #[test]
    fn golden_radvd_router_advert() {
        let (s, d, msg) = icmp_of(&RADVD_RA_FRAME);
        let p = Icmpv6Packet::new_checked(msg).unwrap();
        let Icmpv6Repr::Ndisc(NdiscRepr::RouterAdvert(ra)) = Icmpv6Repr::parse(&p, &s, &d, true).unwrap() else {
            panic!()
        };
        assert_eq!(
            (ra.hop_limit, ra.router_lifetime, ra.reachable_time, ra.retrans_time),
            (64, 12, 0, 0)
        );
        assert_eq!(ra.preference(), RouterPreference::High);
        let all: Vec<_> = ra.options.iter().collect();
        assert_eq!(
            all[0],
            NdiscOption::PrefixInfo(PrefixInfo {
                prefix_len: 64,
                flags: PREFIX_FLAG_ON_LINK | PREFIX_FLAG_AUTONOMOUS,
                valid_lifetime: 86400,
                preferred_lifetime: 14400,
                prefix: a("fd00:1::"),
            })
        );
        match all[1] {
            NdiscOption::Rdnss { lifetime, addresses } => {
                assert_eq!(lifetime, 600);
                assert_eq!(rdnss_addresses(addresses).collect::<Vec<_>>(), [a("fd00::53")]);
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(
            all[2],
            NdiscOption::Dnssl {
                lifetime: 600,
                domains: b"\x04test\x00\x00\x00"
            }
        );
        assert_eq!(all[3], NdiscOption::Mtu(1400));
        assert_eq!(all[4], NdiscOption::SourceLinkLayer(EthernetAddress([2, 0, 0, 0, 0, 1])));
        assert_eq!(all.len(), 5);
        // Re-emitted, the message is the same bytes.
        let repr = Icmpv6Repr::Ndisc(NdiscRepr::RouterAdvert(ra));
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut out, &s, &d);
        assert_eq!(out, msg);
    }

    /// A message shaped like `LINUX_NS_FRAME`'s, for the invalid variants.
    const LINUX_NS: [u8; 32] = [
        0x87, 0x00, 0x7d, 0x17, 0x00, 0x00, 0x00, 0x00, // type, code, checksum, reserved
        0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // target fd00::2
        0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // SLLA
    ];

    #[test]
    fn router_advert_with_every_option() {
        let mut opts = vec![0u8; 256];
        let mut n = 0;
        let dns = a("fd00::53").octets();
        for o in [
            NdiscOption::SourceLinkLayer(EthernetAddress([2, 0, 0, 0, 0, 9])),
            NdiscOption::Mtu(1400),
            NdiscOption::PrefixInfo(PrefixInfo {
                prefix_len: 64,
                flags: PREFIX_FLAG_ON_LINK | PREFIX_FLAG_AUTONOMOUS,
                valid_lifetime: 86400,
                preferred_lifetime: 14400,
                prefix: a("fd00:1::"),
            }),
            NdiscOption::RouteInfo {
                prefix_len: 48,
                preference: Some(RouterPreference::High),
                lifetime: 600,
                prefix: a("fd00:2::"),
            },
            NdiscOption::Rdnss {
                lifetime: 600,
                addresses: &dns,
            },
            NdiscOption::Dnssl {
                lifetime: 600,
                domains: b"\x04test\x00\x00\x00",
            },
            NdiscOption::Nonce(&[1, 2, 3, 4, 5, 6]),
        ] {
            n += o.emit(&mut opts[n..]);
        }
        // Known lengths in units of 8 octets (RFC 4861 §4.6, RFC 4191 §2.3, RFC 8106 §5).
        assert_eq!(n, 8 + 8 + 32 + 16 + 24 + 16 + 8);
        let ra = NdiscRepr::RouterAdvert(RouterAdvert {
            hop_limit: 64,
            flags: RA_FLAG_OTHER | (RouterPreference::Low.bits() << 3),
            router_lifetime: 1800,
            reachable_time: 30_000,
            retrans_time: 1000,
            options: NdiscOptions::new_checked(&opts[..n]).unwrap(),
        });
        let (s, d) = (a("fe80::1"), a("ff02::1"));
        let mut buf = vec![0u8; Icmpv6Repr::Ndisc(ra).buffer_len()];
        Icmpv6Repr::Ndisc(ra).emit(&mut buf, &s, &d);
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        let Icmpv6Repr::Ndisc(NdiscRepr::RouterAdvert(got)) = Icmpv6Repr::parse(&p, &s, &d, true).unwrap() else {
            panic!()
        };
        assert_eq!(got.preference(), RouterPreference::Low);
        assert_eq!(got.options.mtu(), Some(1400));
        let all: Vec<_> = got.options.iter().collect();
        assert_eq!(all.len(), 7);
        match all[4] {
            NdiscOption::Rdnss { lifetime, addresses } => {
                assert_eq!(lifetime, 600);
                assert_eq!(rdnss_addresses(addresses).collect::<Vec<_>>(), [a("fd00::53")]);
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(
            all[3],
            NdiscOption::RouteInfo {
                prefix_len: 48,
                preference: Some(RouterPreference::High),
                lifetime: 600,
                prefix: a("fd00:2::"),
            }
        );
    }

    #[test]
    fn invalid_messages_rejected() {
        // Option of length zero (RFC 4861 §4.6).
        let mut ns = LINUX_NS;
        ns[25] = 0;
        assert_eq!(NdiscRepr::parse(&ns), Err(WireError::Malformed));
        // Option running past the end.
        let mut ns = LINUX_NS;
        ns[25] = 2;
        assert_eq!(NdiscRepr::parse(&ns), Err(WireError::Truncated));
        // Code not zero.
        let mut ns = LINUX_NS;
        ns[1] = 1;
        assert_eq!(NdiscRepr::parse(&ns), Err(WireError::Malformed));
        // Multicast target.
        let mut ns = LINUX_NS;
        ns[8] = 0xff;
        assert_eq!(NdiscRepr::parse(&ns), Err(WireError::Malformed));
        // Short.
        assert_eq!(NdiscRepr::parse(&LINUX_NS[..20]), Err(WireError::Truncated));
        // A prefix option with the wrong length; an RDNSS without address.
        let bad_prefix = [3u8, 1, 64, 0, 0, 0, 0, 0];
        assert_eq!(NdiscOptions::new_checked(&bad_prefix), Err(WireError::Malformed));
        let bad_rdnss = [25u8, 1, 0, 0, 0, 0, 0, 0];
        assert_eq!(NdiscOptions::new_checked(&bad_rdnss), Err(WireError::Malformed));
        // Route info: prefix length 65 needs length 3.
        let bad_route = [24u8, 2, 65, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(NdiscOptions::new_checked(&bad_route), Err(WireError::Malformed));
        // Unknown options are skipped, not errors (RFC 4861 §4.6: "Future
        // versions ... Nodes MUST silently ignore any options they do not
        // recognize").
        let unknown = [200u8, 1, 0, 0, 0, 0, 0, 0];
        assert_eq!(NdiscOptions::new_checked(&unknown).unwrap().iter().count(), 1);
    }
}
