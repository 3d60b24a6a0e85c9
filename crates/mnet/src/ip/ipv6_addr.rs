//! The IPv6 addresses of an interface (RFC 4862): their state (tentative,
//! preferred, deprecated, duplicate), where they came from (link-local,
//! static, SLAAC), their lifetimes with the two-hour rule, and interface
//! identifiers (modified EUI-64, RFC 4291 Appendix A; stable opaque IDs,
//! RFC 7217).
//!
//! Pure: the engine runs duplicate address detection and calls in here
//! with `now`.
//!
//! ```
//! use mnet::ip::ipv6_addr::{AddrOrigin, AddrState, Ipv6AddrTable, Lifetimes, eui64_iid, with_iid};
//! use mnet::wire::EthernetAddress;
//! use mnet::Instant;
//! let mac = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
//! let ll = with_iid("fe80::".parse().unwrap(), eui64_iid(mac));
//! assert_eq!(ll, "fe80::ff:fe00:1".parse::<core::net::Ipv6Addr>().unwrap());
//! let mut t = Ipv6AddrTable::new(4);
//! t.add(Instant::ZERO, ll, 64, AddrOrigin::LinkLocal, Lifetimes::INFINITE, true).unwrap();
//! assert_eq!(t.get(ll).unwrap().state, AddrState::Tentative);
//! t.dad_succeeded(ll);
//! assert!(t.is_usable(ll));
//! ```

use alloc::vec::Vec;
use core::hash::Hasher;
use core::net::Ipv6Addr;

use siphasher::sip::SipHasher24;

use crate::error::{Error, Result};
use crate::time::{Duration, Instant};
use crate::wire::EthernetAddress;

/// RFC 4862 §5.5.3 (e): "If RemainingLifetime is less than or equal to 2
/// hours, ignore the Prefix Information option with regards to the valid
/// lifetime".
pub const TWO_HOURS: Duration = Duration::from_secs(2 * 3600);

/// RFC 4861 §4.6.2: "A value of all one bits (0xffffffff) represents
/// infinity."
pub const INFINITE_LIFETIME: u32 = u32::MAX;

/// An address's state (RFC 4862 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrState {
    /// "an address whose uniqueness on a link is being verified"
    Tentative,
    /// "an address assigned to an interface whose use by upper-layer
    /// protocols is unrestricted"
    Preferred,
    /// "An address assigned to an interface whose use is discouraged, but
    /// not forbidden."
    Deprecated,
    /// Duplicate address detection found another node using it (RFC 4862
    /// §5.4.5): never used.
    Duplicate,
}

impl AddrState {
    /// The word `mnet addresses` prints.
    pub fn name(self) -> &'static str {
        match self {
            AddrState::Tentative => "tentative",
            AddrState::Preferred => "preferred",
            AddrState::Deprecated => "deprecated",
            AddrState::Duplicate => "duplicate",
        }
    }
}

/// Where an address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrOrigin {
    LinkLocal,
    Static,
    /// Formed from a router-advertised prefix (RFC 4862 §5.5.3).
    Slaac,
}

/// Preferred and valid lifetimes as deadlines (`None`: infinite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub preferred_until: Option<Instant>,
    pub valid_until: Option<Instant>,
}

impl Lifetimes {
    pub const INFINITE: Lifetimes = Lifetimes {
        preferred_until: None,
        valid_until: None,
    };
}

/// A lifetime in seconds from an option, as a deadline from `now`.
pub fn deadline(now: Instant, seconds: u32) -> Option<Instant> {
    (seconds != INFINITE_LIFETIME).then(|| now + Duration::from_secs(u64::from(seconds)))
}

/// One address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6AddrEntry {
    pub addr: Ipv6Addr,
    pub prefix_len: u8,
    pub state: AddrState,
    pub origin: AddrOrigin,
    pub lifetimes: Lifetimes,
}

/// What [`Ipv6AddrTable::poll`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrEvent {
    /// The preferred lifetime ended (RFC 4862 §5.5.4: "the address becomes
    /// deprecated").
    Deprecated(Ipv6Addr),
    /// The valid lifetime ended: "the address becomes invalid" and is gone.
    Removed(Ipv6Addr, u8),
}

/// The addresses of one interface, at most `capacity`.
#[derive(Debug, Clone)]
pub struct Ipv6AddrTable {
    entries: Vec<Ipv6AddrEntry>,
    capacity: usize,
}

impl Ipv6AddrTable {
    pub fn new(capacity: usize) -> Ipv6AddrTable {
        Ipv6AddrTable {
            entries: Vec::new(),
            capacity,
        }
    }

    /// Add an address: tentative when `dad` (duplicate address detection
    /// follows), else preferred at once.
    pub fn add(&mut self, now: Instant, addr: Ipv6Addr, prefix_len: u8, origin: AddrOrigin, lifetimes: Lifetimes, dad: bool) -> Result<()> {
        if self.get(addr).is_some() {
            return Err(Error::AddressInUse);
        }
        if self.entries.len() >= self.capacity {
            return Err(Error::WouldExceedLimit);
        }
        if prefix_len > 128 || addr.is_multicast() || addr.is_unspecified() || addr.is_loopback() {
            return Err(Error::InvalidInput);
        }
        let state = if dad {
            AddrState::Tentative
        } else if lifetimes.preferred_until.is_some_and(|t| t <= now) {
            AddrState::Deprecated
        } else {
            AddrState::Preferred
        };
        self.entries.push(Ipv6AddrEntry {
            addr,
            prefix_len,
            state,
            origin,
            lifetimes,
        });
        Ok(())
    }

    pub fn remove(&mut self, addr: Ipv6Addr) -> Option<Ipv6AddrEntry> {
        let i = self.entries.iter().position(|e| e.addr == addr)?;
        Some(self.entries.remove(i))
    }

    pub fn get(&self, addr: Ipv6Addr) -> Option<&Ipv6AddrEntry> {
        self.entries.iter().find(|e| e.addr == addr)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Ipv6AddrEntry> + '_ {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Preferred or deprecated: may be used as a source and accepts packets.
    pub fn is_usable(&self, addr: Ipv6Addr) -> bool {
        self.get(addr)
            .is_some_and(|e| matches!(e.state, AddrState::Preferred | AddrState::Deprecated))
    }

    pub fn is_tentative(&self, addr: Ipv6Addr) -> bool {
        self.get(addr).is_some_and(|e| e.state == AddrState::Tentative)
    }

    /// RFC 4862 §5.4.3/§5.4.4 found a duplicate. Returns whether the
    /// address was tentative.
    pub fn dad_failed(&mut self, addr: Ipv6Addr) -> bool {
        match self.entries.iter_mut().find(|e| e.addr == addr) {
            Some(e) if e.state == AddrState::Tentative => {
                e.state = AddrState::Duplicate;
                true
            }
            _ => false,
        }
    }

    /// DAD finished without conflict: the address becomes preferred (or
    /// deprecated if its preferred lifetime ran out meanwhile).
    pub fn dad_succeeded(&mut self, addr: Ipv6Addr) -> bool {
        match self.entries.iter_mut().find(|e| e.addr == addr) {
            Some(e) if e.state == AddrState::Tentative => {
                e.state = AddrState::Preferred;
                true
            }
            _ => false,
        }
    }

    /// RFC 4862 §5.5.3 (e) for an address formed from an advertised prefix
    /// we already have: "The preferred lifetime of the address is reset to
    /// the Preferred Lifetime in the received advertisement." and the valid
    /// lifetime follows the two-hour rule ([`two_hour_rule`]).
    pub fn refresh_slaac(&mut self, now: Instant, addr: Ipv6Addr, valid: u32, preferred: u32) -> bool {
        let Some(e) = self.entries.iter_mut().find(|e| e.addr == addr) else {
            return false;
        };
        e.lifetimes.preferred_until = deadline(now, preferred);
        e.lifetimes.valid_until = two_hour_rule(now, e.lifetimes.valid_until, valid);
        if e.state == AddrState::Deprecated && e.lifetimes.preferred_until.is_none_or(|t| t > now) {
            e.state = AddrState::Preferred;
        }
        true
    }

    /// Apply lifetimes that ran out by `now`.
    pub fn poll(&mut self, now: Instant, events: &mut impl FnMut(AddrEvent)) {
        self.entries.retain_mut(|e| {
            if e.lifetimes.valid_until.is_some_and(|t| t <= now) {
                events(AddrEvent::Removed(e.addr, e.prefix_len));
                return false;
            }
            if e.state == AddrState::Preferred && e.lifetimes.preferred_until.is_some_and(|t| t <= now) {
                e.state = AddrState::Deprecated;
                events(AddrEvent::Deprecated(e.addr));
            }
            true
        });
    }

    /// The next lifetime deadline.
    pub fn poll_at(&self) -> Option<Instant> {
        self.entries
            .iter()
            .flat_map(|e| {
                let pref = (e.state == AddrState::Preferred).then_some(e.lifetimes.preferred_until).flatten();
                [pref, e.lifetimes.valid_until]
            })
            .flatten()
            .min()
    }
}

/// RFC 4862 §5.5.3 (e): "If the received Valid Lifetime is greater than 2
/// hours or greater than RemainingLifetime, set the valid lifetime of the
/// corresponding address to the advertised Valid Lifetime. If
/// RemainingLifetime is less than or equal to 2 hours, ignore the Prefix
/// Information option with regards to the valid lifetime, unless the Router
/// Advertisement from which this option was obtained has been authenticated
/// (e.g., via Secure Neighbor Discovery [RFC3971]). If authenticated, the
/// valid lifetime of the corresponding address should be set to the Valid
/// Lifetime in the received option. Otherwise, reset the valid lifetime of
/// the corresponding address to 2 hours." (We never authenticate.)
pub fn two_hour_rule(now: Instant, current: Option<Instant>, advertised: u32) -> Option<Instant> {
    let new = deadline(now, advertised);
    let remaining = current.map(|t| t.saturating_duration_since(now));
    let adv = new.map(|t| t.saturating_duration_since(now));
    let greater = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (None, None) => false,
        (None, Some(_)) => true,
        (Some(_), None) => false,
        (Some(x), Some(y)) => x > y,
    };
    if greater(adv, Some(TWO_HOURS)) || greater(adv, remaining) {
        return new;
    }
    if !greater(remaining, Some(TWO_HOURS)) {
        return current;
    }
    Some(now + TWO_HOURS)
}

/// RFC 4291 Appendix A: the modified EUI-64 interface identifier of a MAC:
/// "FFFE" in the middle and the universal/local bit inverted.
pub fn eui64_iid(mac: EthernetAddress) -> [u8; 8] {
    let m = mac.0;
    [m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]]
}

/// RFC 7217 §5: "RID = F(Prefix, Net_Iface, Network_ID, DAD_Counter,
/// secret_key)" with SipHash-2-4 as F (a keyed PRF; the key is derived
/// from the secret). No Network_ID. RFC 7217 §5 also says the result must
/// not be a reserved identifier; the all-zero one (the subnet-router
/// anycast, RFC 4291 §2.6.1) moves on to the next DAD_Counter.
pub fn opaque_iid(prefix: Ipv6Addr, mac: EthernetAddress, dad_counter: u8, secret: &[u8]) -> [u8; 8] {
    let key = |tweak: u8| {
        let mut h = SipHasher24::new_with_keys(0, 0);
        h.write(b"mnet rfc7217 key");
        h.write_u8(tweak);
        h.write(secret);
        h.finish()
    };
    let (k0, k1) = (key(0), key(1));
    let mut counter = dad_counter;
    loop {
        let mut h = SipHasher24::new_with_keys(k0, k1);
        h.write(&prefix.octets()[..8]);
        h.write(mac.as_bytes());
        h.write_u8(counter);
        let rid = h.finish().to_be_bytes();
        if rid != [0; 8] {
            return rid;
        }
        counter = counter.wrapping_add(1);
    }
}

/// The first 64 bits of `prefix` with interface identifier `iid`.
pub fn with_iid(prefix: Ipv6Addr, iid: [u8; 8]) -> Ipv6Addr {
    let mut o = prefix.octets();
    o[8..].copy_from_slice(&iid);
    Ipv6Addr::from(o)
}

/// RFC 4291 §2.7.1: "Solicited-Node multicast address are computed as a
/// function of a node's unicast and anycast addresses ... formed by taking
/// the low-order 24 bits of an address (unicast or anycast) and appending
/// those bits to the prefix FF02:0:0:0:0:1:FF00::/104".
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | u16::from(o[13]), u16::from_be_bytes([o[14], o[15]]))
}

/// RFC 2464 §7: "An IPv6 packet with a multicast destination address DST,
/// consisting of the sixteen octets DST[1] through DST[16], is transmitted
/// to the Ethernet multicast address whose first two octets are the value
/// 3333 hexadecimal and whose last four octets are the last four octets of
/// DST."
pub fn multicast_mac(group: Ipv6Addr) -> EthernetAddress {
    let o = group.octets();
    EthernetAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// Link-local unicast (fe80::/10).
pub fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn identifiers() {
        let mac = EthernetAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        // Linux forms fe80::5054:ff:fe12:3456 for this MAC.
        assert_eq!(with_iid(a("fe80::"), eui64_iid(mac)), a("fe80::5054:ff:fe12:3456"));
        assert_eq!(solicited_node(a("fe80::5054:ff:fe12:3456")), a("ff02::1:ff12:3456"));
        assert_eq!(
            multicast_mac(a("ff02::1:ff12:3456")),
            EthernetAddress([0x33, 0x33, 0xff, 0x12, 0x34, 0x56])
        );
        // RFC 7217: stable for the same inputs, different per prefix,
        // counter and secret.
        let p1 = a("fd00:1::");
        let x = opaque_iid(p1, mac, 0, b"secret");
        assert_eq!(x, opaque_iid(p1, mac, 0, b"secret"));
        assert_ne!(x, opaque_iid(a("fd00:2::"), mac, 0, b"secret"));
        assert_ne!(x, opaque_iid(p1, mac, 1, b"secret"));
        assert_ne!(x, opaque_iid(p1, mac, 0, b"other"));
        assert!(is_link_local(a("fe80::1")) && is_link_local(a("febf::1")) && !is_link_local(a("fec0::1")));
    }

    #[test]
    fn two_hour_rule_cases() {
        let now = Instant::from_secs(1000);
        let h = |n: u64| Some(now + Duration::from_secs(n * 3600));
        // Advertised > 2 h: taken.
        assert_eq!(two_hour_rule(now, h(1), 3 * 3600), h(3));
        // Advertised > remaining: taken (even below 2 h).
        assert_eq!(two_hour_rule(now, h(0), 1800), Some(now + Duration::from_secs(1800)));
        // Remaining <= 2 h and advertised smaller: ignored.
        assert_eq!(two_hour_rule(now, h(2), 60), h(2));
        assert_eq!(two_hour_rule(now, h(1), 0), h(1));
        // Remaining > 2 h and advertised small: cut to 2 h.
        assert_eq!(two_hour_rule(now, h(10), 60), h(2));
        assert_eq!(two_hour_rule(now, None, 0), h(2));
        // Infinity.
        assert_eq!(two_hour_rule(now, h(1), INFINITE_LIFETIME), None);
        assert_eq!(two_hour_rule(now, None, INFINITE_LIFETIME), None);
    }

    #[test]
    fn lifetimes_and_states() {
        let mut t = Ipv6AddrTable::new(2);
        let now = Instant::from_secs(10);
        let g = a("fd00::1");
        let lt = Lifetimes {
            preferred_until: deadline(now, 100),
            valid_until: deadline(now, 300),
        };
        t.add(now, g, 64, AddrOrigin::Slaac, lt, true).unwrap();
        assert_eq!(t.add(now, g, 64, AddrOrigin::Slaac, lt, true), Err(Error::AddressInUse));
        assert!(!t.is_usable(g) && t.is_tentative(g));
        // A tentative address is not deprecated by its lifetime (it is not
        // in use yet); the valid lifetime still applies.
        assert!(t.dad_succeeded(g));
        assert_eq!(t.poll_at(), deadline(now, 100));
        let mut ev = alloc::vec::Vec::new();
        t.poll(now + Duration::from_secs(100), &mut |e| ev.push(e));
        assert_eq!(ev, [AddrEvent::Deprecated(g)]);
        assert_eq!(t.get(g).unwrap().state, AddrState::Deprecated);
        assert!(t.is_usable(g));
        // A new advertisement brings it back to preferred; the valid
        // lifetime (remaining 200 s <= 2 h) ignores the advertised 60 s.
        let t1 = now + Duration::from_secs(100);
        t.refresh_slaac(t1, g, 60, 50);
        assert_eq!(t.get(g).unwrap().state, AddrState::Preferred);
        assert_eq!(t.get(g).unwrap().lifetimes.valid_until, deadline(now, 300));
        ev.clear();
        t.poll(now + Duration::from_secs(300), &mut |e| ev.push(e));
        assert_eq!(ev, [AddrEvent::Removed(g, 64)]);
        assert!(t.is_empty());
        // Bound and duplicates.
        t.add(now, a("fe80::1"), 64, AddrOrigin::LinkLocal, Lifetimes::INFINITE, true)
            .unwrap();
        assert!(t.dad_failed(a("fe80::1")));
        assert!(!t.is_usable(a("fe80::1")));
        t.add(now, a("fd00::2"), 64, AddrOrigin::Static, Lifetimes::INFINITE, false)
            .unwrap();
        assert_eq!(
            t.add(now, a("fd00::3"), 64, AddrOrigin::Static, Lifetimes::INFINITE, false),
            Err(Error::WouldExceedLimit)
        );
    }
}
