//! What router advertisements taught a host (RFC 4861 §6.3.4, RFC 4191,
//! RFC 8106): the default-router list with preferences, on-link prefixes,
//! and the DNS servers and search domains a resolver uses — each with its
//! lifetime and a named bound.
//!
//! ```
//! use mnet::ip::router_list::{RouterList, LearnedList};
//! use mnet::wire::ndisc::RouterPreference;
//! use mnet::{Duration, Instant};
//! let mut r = RouterList::new(4);
//! let now = Instant::from_secs(1);
//! r.update(now, "fe80::1".parse().unwrap(), 1800, RouterPreference::Low);
//! r.update(now, "fe80::2".parse().unwrap(), 1800, RouterPreference::High);
//! assert_eq!(r.best(|_| true), Some("fe80::2".parse().unwrap()));
//! let mut dns: LearnedList<core::net::Ipv6Addr> = LearnedList::new(3);
//! dns.update(now, "fd00::53".parse().unwrap(), 600);
//! assert_eq!(dns.iter().count(), 1);
//! ```

use alloc::vec::Vec;
use core::net::Ipv6Addr;

use crate::time::{Duration, Instant};
use crate::wire::ndisc::RouterPreference;

/// Default bound on default routers (Linux keeps no fixed bound; a host
/// rarely sees more than two).
pub const MAX_DEFAULT_ROUTERS: usize = 8;
/// Default bound on DNS servers kept from RDNSS options (RFC 8106 §5.3.1:
/// "a host ... SHOULD ... store up to MAX_RDNSS (e.g., three) addresses" is
/// the classic resolver limit; we keep a few more).
pub const MAX_DNS_SERVERS: usize = 8;
/// Default bound on search domains from DNSSL options.
pub const MAX_SEARCH_DOMAINS: usize = 8;
/// Default bound on on-link prefixes learned from RAs.
pub const MAX_ONLINK_PREFIXES: usize = 16;
/// Default bound on addresses SLAAC forms ([`crate::config::Limits::ipv6_slaac_addresses`]):
/// half of the default 16 interface addresses. RFC 4862 names no bound;
/// Linux's `max_addresses` (default 16) bounds autoconfigured addresses the
/// same way, but there IPv4 addresses do not share the table.
pub const MAX_SLAAC_ADDRESSES: usize = 8;

/// One default router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultRouter {
    pub addr: Ipv6Addr,
    pub preference: RouterPreference,
    pub expires: Instant,
}

/// The default-router list (RFC 4861 §5.1), bounded.
#[derive(Debug, Clone)]
pub struct RouterList {
    routers: Vec<DefaultRouter>,
    capacity: usize,
}

impl RouterList {
    pub fn new(capacity: usize) -> RouterList {
        RouterList {
            routers: Vec::new(),
            capacity,
        }
    }

    /// RFC 4861 §6.3.4: "If the address is not already present in the
    /// host's Default Router List, and the advertisement's Router Lifetime
    /// is non-zero, create a new entry in the list, and initialize its
    /// invalidation timer value from the advertisement's Router Lifetime
    /// field." ... "If the address is already present in the host's Default
    /// Router List as a result of a previously received advertisement,
    /// reset its invalidation timer to the Router Lifetime value in the
    /// newly received advertisement." ... "If the address is already
    /// present in the host's Default Router List and the received Router
    /// Lifetime value is zero, immediately time-out the entry". Returns
    /// whether the list changed in membership.
    pub fn update(&mut self, now: Instant, addr: Ipv6Addr, lifetime_secs: u16, preference: RouterPreference) -> bool {
        let pos = self.routers.iter().position(|r| r.addr == addr);
        if lifetime_secs == 0 {
            return pos.map(|i| self.routers.remove(i)).is_some();
        }
        let expires = now + Duration::from_secs(u64::from(lifetime_secs));
        match pos {
            Some(i) => {
                self.routers[i].expires = expires;
                self.routers[i].preference = preference;
                false
            }
            None => {
                if self.routers.len() >= self.capacity {
                    // Full: replace the least preferred router that expires
                    // first, if the newcomer is at least as good.
                    let worst = self
                        .routers
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, r)| (r.preference, r.expires))
                        .map(|(i, _)| i);
                    match worst {
                        Some(i) if self.routers[i].preference <= preference => {
                            self.routers.remove(i);
                        }
                        _ => return false,
                    }
                }
                self.routers.push(DefaultRouter { addr, preference, expires });
                true
            }
        }
    }

    /// RFC 4191 §3.2: "routers that are reachable or probably reachable
    /// SHOULD be preferred over routers whose reachability is unknown or
    /// suspect", then by preference; among equals, the first learned
    /// (RFC 4861 §6.3.6 allows round-robin or sticky; we stay sticky).
    /// `reachable` says whether the neighbour cache trusts a router.
    pub fn best(&self, reachable: impl Fn(Ipv6Addr) -> bool) -> Option<Ipv6Addr> {
        self.routers
            .iter()
            .enumerate()
            .max_by_key(|(i, r)| (reachable(r.addr), r.preference, usize::MAX - i))
            .map(|(_, r)| r.addr)
    }

    pub fn iter(&self) -> impl Iterator<Item = &DefaultRouter> + '_ {
        self.routers.iter()
    }

    pub fn remove(&mut self, addr: Ipv6Addr) -> bool {
        let before = self.routers.len();
        self.routers.retain(|r| r.addr != addr);
        before != self.routers.len()
    }

    /// Drop routers whose lifetime ended; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.routers.len();
        self.routers.retain(|r| r.expires > now);
        before - self.routers.len()
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.routers.iter().map(|r| r.expires).min()
    }

    pub fn is_empty(&self) -> bool {
        self.routers.is_empty()
    }
}

/// Items learned with a lifetime (DNS servers, search domains, on-link
/// prefixes), bounded; the entry closest to expiry makes room.
#[derive(Debug, Clone)]
pub struct LearnedList<T> {
    items: Vec<(T, Option<Instant>)>,
    capacity: usize,
}

impl<T: PartialEq + Clone> LearnedList<T> {
    pub fn new(capacity: usize) -> LearnedList<T> {
        LearnedList {
            items: Vec::new(),
            capacity,
        }
    }

    /// RFC 8106 §5.3.1: "If the Lifetime is zero ... the entry is deleted";
    /// otherwise added or its lifetime refreshed (0xffffffff: infinite).
    /// Returns whether membership changed.
    pub fn update(&mut self, now: Instant, item: T, lifetime_secs: u32) -> bool {
        self.update_evicting(now, item, lifetime_secs, |_| {})
    }

    /// [`Self::update`], telling `evicted` about an entry pushed out to make
    /// room, so whatever was installed for it (a route) goes with it.
    pub fn update_evicting(&mut self, now: Instant, item: T, lifetime_secs: u32, mut evicted: impl FnMut(&T)) -> bool {
        let pos = self.items.iter().position(|(x, _)| *x == item);
        if lifetime_secs == 0 {
            return pos.map(|i| self.items.remove(i)).is_some();
        }
        let until = crate::ip::ipv6_addr::deadline(now, lifetime_secs);
        if let Some(i) = pos {
            self.items[i].1 = until;
            return false;
        }
        if self.items.len() >= self.capacity {
            let soonest = self
                .items
                .iter()
                .enumerate()
                .filter_map(|(i, (_, t))| t.map(|t| (t, i)))
                .min()
                .map(|(_, i)| i);
            match soonest {
                Some(i) => {
                    let (gone, _) = self.items.remove(i);
                    evicted(&gone);
                }
                None => return false,
            }
        }
        self.items.push((item, until));
        true
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.items.iter().map(|(x, _)| x)
    }

    pub fn contains(&self, item: &T) -> bool {
        self.items.iter().any(|(x, _)| x == item)
    }

    /// Remove expired items, handing each to `gone`.
    pub fn expire(&mut self, now: Instant, mut gone: impl FnMut(&T)) {
        self.items.retain(|(x, t)| {
            let keep = t.is_none_or(|t| t > now);
            if !keep {
                gone(x);
            }
            keep
        });
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.items.iter().filter_map(|(_, t)| *t).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn router_preference_and_lifetime() {
        let mut r = RouterList::new(2);
        let now = Instant::from_secs(100);
        assert!(r.update(now, a("fe80::1"), 30, RouterPreference::Medium));
        assert!(r.update(now, a("fe80::2"), 60, RouterPreference::Low));
        assert_eq!(r.best(|_| true), Some(a("fe80::1")));
        // A reachable low-preference router beats an unreachable one.
        assert_eq!(r.best(|x| x == a("fe80::2")), Some(a("fe80::2")));
        // Full: a high-preference newcomer replaces the low one.
        assert!(r.update(now, a("fe80::3"), 60, RouterPreference::High));
        assert_eq!(r.iter().count(), 2);
        assert!(r.iter().all(|x| x.addr != a("fe80::2")));
        assert_eq!(r.best(|_| true), Some(a("fe80::3")));
        // Lifetime zero removes; expiry removes.
        assert!(r.update(now, a("fe80::3"), 0, RouterPreference::High));
        assert_eq!(r.poll_at(), Some(now + Duration::from_secs(30)));
        assert_eq!(r.expire(now + Duration::from_secs(30)), 1);
        assert!(r.is_empty());
    }

    #[test]
    fn learned_list_bounds() {
        let mut l: LearnedList<u32> = LearnedList::new(2);
        let now = Instant::from_secs(1);
        assert!(l.update(now, 1, 100));
        assert!(l.update(now, 2, 50));
        assert!(!l.update(now, 2, 500));
        // Full: the entry closest to expiry (1, at 100 s) makes room.
        assert!(l.update(now, 3, 10));
        assert_eq!(l.iter().copied().collect::<Vec<_>>(), [2, 3]);
        let mut gone = Vec::new();
        l.expire(now + Duration::from_secs(10), |x| gone.push(*x));
        assert_eq!(gone, [3]);
        assert!(l.update(now, 2, 0));
        assert_eq!(l.iter().count(), 0);
    }
}
