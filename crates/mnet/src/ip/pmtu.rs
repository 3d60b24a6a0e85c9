//! The path-MTU cache: what ICMP "fragmentation needed" (RFC 1191) and
//! ICMPv6 "packet too big" (RFC 8201) taught us about each destination.
//!
//! An entry only ever lowers the estimate; it ages out after
//! [`PMTU_AGING`] so a smaller value never sticks after the path changed
//! (RFC 1191 §6.3). The table is keyed by destination address with a keyed
//! hash (a peer can forge "too big" messages for many destinations) and is
//! bounded: when full, the entry updated longest ago goes.
//!
//! Lookups are O(1) (hash); the age index is a `BTreeSet`, so inserting,
//! evicting and expiring are O(log n) and [`PmtuCache::poll_at`] is O(log n).
//!
//! ```
//! use mnet::ip::pmtu::PmtuCache;
//! use mnet::rand::Rng;
//! use mnet::Instant;
//! let mut cache = PmtuCache::new(Default::default(), &mut Rng::from_seed([0; 32]));
//! let dst = "192.0.2.1".parse().unwrap();
//! let now = Instant::from_secs(1);
//! assert!(cache.update(now, dst, 1400));
//! assert_eq!(cache.get(now, dst), Some(1400));
//! assert!(!cache.update(now, dst, 1450)); // never raised by a report
//! ```

use alloc::collections::BTreeSet;
use core::net::IpAddr;

use crate::hash::{self, HashMap};
use crate::rand::Rng;
use crate::time::{Duration, Instant};

/// RFC 1191 §6.3: "When a PMTU value has not been decreased for a while (on
/// the order of 10 minutes), the PMTU estimate should be set to the
/// first-hop data-link MTU, and the packetization layers should be notified
/// of the change." RFC 8201 §5.3 says the same for IPv6.
pub const PMTU_AGING: Duration = Duration::from_secs(600);

/// Default bound on the number of destinations remembered.
pub const PMTU_CACHE_CAPACITY: usize = 256;

/// RFC 791 §3.1: "Every internet module must be able to forward a datagram
/// of 68 octets without further fragmentation." RFC 1191 §3: "A host MUST
/// never reduce its estimate of the Path MTU below 68 octets."
pub const IPV4_MIN_MTU: usize = 68;

/// The default IPv4 floor: Linux's `net.ipv4.route.min_pmtu` (552 = 512 +
/// 20 + 20). A forged "fragmentation needed" reporting 68 would otherwise
/// make TCP send 28-byte segments (a cheap denial of service); real paths
/// below 552 bytes are practically extinct. Configurable down to
/// [`IPV4_MIN_MTU`]. Like Linux, the engine should send datagrams to a
/// destination clamped at this floor with DF clear, so a router on a
/// genuinely smaller path fragments them instead of dropping them.
pub const PMTU_MIN_V4: usize = 552;

/// RFC 8200 §5: "IPv6 requires that every link in the Internet have an MTU
/// of 1280 octets or greater."
pub const IPV6_MIN_MTU: usize = 1280;

/// Bounds and timers of a [`PmtuCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PmtuConfig {
    /// Most destinations remembered ([`PMTU_CACHE_CAPACITY`]).
    pub capacity: usize,
    /// How long a lowered estimate lasts ([`PMTU_AGING`]).
    pub aging: Duration,
    /// The lowest IPv4 estimate ([`PMTU_MIN_V4`]; raised to at least
    /// [`IPV4_MIN_MTU`]).
    pub min_v4: usize,
}

impl Default for PmtuConfig {
    fn default() -> Self {
        PmtuConfig {
            capacity: PMTU_CACHE_CAPACITY,
            aging: PMTU_AGING,
            min_v4: PMTU_MIN_V4,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    mtu: usize,
    /// When the estimate was last lowered; the entry expires at
    /// `updated + aging`.
    updated: Instant,
    /// The report was below the floor: the engine should clear DF.
    clamped: bool,
}

/// A bounded, aging map from destination to path MTU.
#[derive(Debug, Clone)]
pub struct PmtuCache {
    config: PmtuConfig,
    map: HashMap<IpAddr, Entry>,
    /// (updated, dst) for every entry: oldest first.
    by_age: BTreeSet<(Instant, IpAddr)>,
}

impl PmtuCache {
    pub fn new(config: PmtuConfig, rng: &mut Rng) -> PmtuCache {
        PmtuCache {
            config,
            map: hash::new_map(rng),
            by_age: BTreeSet::new(),
        }
    }

    pub fn config(&self) -> &PmtuConfig {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn floor_v4(&self) -> usize {
        self.config.min_v4.max(IPV4_MIN_MTU)
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        now >= e.updated + self.config.aging
    }

    /// A report that the path to `dst` carries at most `mtu` bytes (the
    /// next-hop MTU of an ICMP "fragmentation needed" or ICMPv6 "packet too
    /// big"). Returns `true` when the estimate went down (tell the sockets
    /// to `dst`), `false` when the report changed nothing.
    ///
    /// The caller first checks that the report is about a packet we sent and
    /// that `mtu` is below the link MTU; this cache only knows what it
    /// stored, so with no entry any report below the floor's clamp is new.
    pub fn update(&mut self, now: Instant, dst: IpAddr, mtu: usize) -> bool {
        let (mtu, clamped) = match dst {
            // RFC 8201 §4: "If a node receives a Packet Too Big message
            // reporting a next-hop MTU that is less than the IPv6 minimum
            // link MTU, it must discard it. A node must not reduce its
            // estimate of the Path MTU below the IPv6 minimum link MTU on
            // receipt of a Packet Too Big message."
            IpAddr::V6(_) if mtu < IPV6_MIN_MTU => return false,
            IpAddr::V6(_) => (mtu, false),
            // RFC 1191 §3: "A host MUST never reduce its estimate of the
            // Path MTU below 68 octets." (We stop at the configured floor.)
            IpAddr::V4(_) => {
                let floor = self.floor_v4();
                (mtu.max(floor), mtu < floor)
            }
        };
        if let Some(e) = self.map.get(&dst).copied() {
            if !self.expired(&e, now) && mtu >= e.mtu {
                // RFC 1191 §3: "A host MUST not increase its estimate of the
                // Path MTU in response to the contents of a Datagram Too Big
                // message." (RFC 8201 §4 says the same of Packet Too Big.)
                // Nor is the aging timer restarted: it runs from the last
                // decrease (RFC 1191 §6.3).
                return false;
            }
            self.by_age.remove(&(e.updated, dst));
        } else if self.map.len() >= self.config.capacity {
            if self.config.capacity == 0 {
                return false;
            }
            // Full: the entry lowered longest ago makes room.
            if let Some((_, old)) = self.by_age.pop_first() {
                self.map.remove(&old);
            }
        }
        self.map.insert(
            dst,
            Entry {
                mtu,
                updated: now,
                clamped,
            },
        );
        self.by_age.insert((now, dst));
        true
    }

    /// The path MTU to `dst`, or `None` when nothing (unexpired) is known:
    /// use the link MTU then. An expired entry is removed here.
    pub fn get(&mut self, now: Instant, dst: IpAddr) -> Option<usize> {
        let e = *self.map.get(&dst)?;
        if self.expired(&e, now) {
            self.remove(dst);
            return None;
        }
        Some(e.mtu)
    }

    /// Whether the estimate for `dst` sits at the IPv4 floor because a
    /// report went below it: send with DF clear then (see [`PMTU_MIN_V4`]).
    pub fn is_clamped(&self, now: Instant, dst: IpAddr) -> bool {
        self.map.get(&dst).is_some_and(|e| e.clamped && !self.expired(e, now))
    }

    /// Forget `dst` (its route changed, an administrator asked).
    pub fn remove(&mut self, dst: IpAddr) -> Option<usize> {
        let e = self.map.remove(&dst)?;
        self.by_age.remove(&(e.updated, dst));
        Some(e.mtu)
    }

    /// Drop every expired entry, telling `on_expired` each destination (RFC
    /// 1191 §6.3: "the packetization layers should be notified of the
    /// change"). Returns how many expired.
    pub fn poll(&mut self, now: Instant, mut on_expired: impl FnMut(IpAddr)) -> usize {
        let mut n = 0;
        while let Some(&(updated, dst)) = self.by_age.first() {
            if now < updated + self.config.aging {
                break;
            }
            self.by_age.pop_first();
            self.map.remove(&dst);
            on_expired(dst);
            n += 1;
        }
        n
    }

    /// When the next entry expires ([`Self::poll`] has work then).
    pub fn poll_at(&self) -> Option<Instant> {
        self.by_age.first().map(|&(updated, _)| updated + self.config.aging)
    }

    /// Every entry (expired ones included until polled), for display.
    pub fn iter(&self) -> impl Iterator<Item = (IpAddr, usize)> + '_ {
        self.map.iter().map(|(&ip, e)| (ip, e.mtu))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn cache() -> PmtuCache {
        PmtuCache::new(PmtuConfig::default(), &mut Rng::from_seed([0; 32]))
    }

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from_bits(0xC000_0200 + n))
    }

    #[test]
    fn only_lowers() {
        let mut c = cache();
        let t = Instant::from_secs(10);
        let d = v4(1);
        assert_eq!(c.get(t, d), None);
        assert!(c.update(t, d, 1400));
        assert!(!c.update(t, d, 1400));
        assert!(!c.update(t, d, 1492));
        assert_eq!(c.get(t, d), Some(1400));
        assert!(c.update(t + Duration::from_secs(1), d, 1300));
        assert_eq!(c.get(t, d), Some(1300));
    }

    #[test]
    fn never_sticks() {
        let mut c = cache();
        let t = Instant::from_secs(10);
        let d = v4(1);
        assert!(c.update(t, d, 1400));
        // A later, non-decreasing report does not extend the life.
        assert!(!c.update(t + Duration::from_secs(500), d, 1400));
        assert_eq!(c.poll_at(), Some(t + PMTU_AGING));
        assert_eq!(c.get(t + PMTU_AGING - Duration::from_micros(1), d), Some(1400));
        assert_eq!(c.get(t + PMTU_AGING, d), None);
        assert!(c.is_empty());
        assert_eq!(c.poll_at(), None);
        // After expiry a report (even larger than before) counts again.
        assert!(c.update(t + PMTU_AGING, d, 1450));
    }

    #[test]
    fn poll_expires_and_reports() {
        let mut c = cache();
        let t = Instant::from_secs(1);
        c.update(t, v4(1), 1400);
        c.update(t + Duration::from_secs(60), v4(2), 1400);
        let mut gone = alloc::vec::Vec::new();
        assert_eq!(c.poll(t + PMTU_AGING, |d| gone.push(d)), 1);
        assert_eq!(gone, [v4(1)]);
        assert_eq!(c.len(), 1);
        assert_eq!(c.poll_at(), Some(t + Duration::from_secs(60) + PMTU_AGING));
    }

    #[test]
    fn family_floors() {
        let mut c = cache();
        let t = Instant::from_secs(1);
        // IPv4: clamped to the configured floor (552), flagged.
        assert!(c.update(t, v4(1), 68));
        assert_eq!(c.get(t, v4(1)), Some(PMTU_MIN_V4));
        assert!(c.is_clamped(t, v4(1)));
        assert!(!c.update(t, v4(1), 100));
        assert!(c.update(t, v4(2), 1000));
        assert!(!c.is_clamped(t, v4(2)));
        // IPv6: below 1280 is discarded, not clamped.
        let d6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        assert!(!c.update(t, d6, 1000));
        assert_eq!(c.get(t, d6), None);
        assert!(c.update(t, d6, 1280));
        assert_eq!(c.get(t, d6), Some(1280));
        // A floor configured at RFC 791's 68.
        let mut low = PmtuCache::new(
            PmtuConfig {
                min_v4: 0,
                ..PmtuConfig::default()
            },
            &mut Rng::from_seed([0; 32]),
        );
        assert!(low.update(t, v4(1), 10));
        assert_eq!(low.get(t, v4(1)), Some(IPV4_MIN_MTU));
    }

    #[test]
    fn bounded_oldest_evicted() {
        let mut c = PmtuCache::new(
            PmtuConfig {
                capacity: 3,
                ..PmtuConfig::default()
            },
            &mut Rng::from_seed([0; 32]),
        );
        let t = Instant::from_secs(1);
        for i in 0..3 {
            assert!(c.update(t + Duration::from_secs(i), v4(i as u32), 1400));
        }
        // Lowering v4(0) again makes it the newest.
        assert!(c.update(t + Duration::from_secs(5), v4(0), 1300));
        assert!(c.update(t + Duration::from_secs(6), v4(9), 1400));
        assert_eq!(c.len(), 3);
        assert_eq!(c.get(t + Duration::from_secs(6), v4(1)), None);
        assert_eq!(c.get(t + Duration::from_secs(6), v4(0)), Some(1300));
        for i in 0..10_000u32 {
            c.update(t + Duration::from_secs(7), v4(100 + i), 1000);
            assert!(c.len() <= 3);
        }
        assert_eq!(c.iter().count(), 3);
        assert_eq!(c.remove(v4(10_099)), Some(1000));
        assert_eq!(c.len(), 2);
    }
}
