//! The routing table: which next hop serves a destination.
//!
//! A [`Route`] maps a prefix (in network form) to a gateway (`via`) or to
//! "on-link" (`via: None`, the destination itself is the next hop), with a
//! metric. [`RouteTable::lookup`] picks the longest matching prefix, then the
//! lowest metric, then the route added first. IPv4 and IPv6 routes live in
//! separate lists; a destination only ever matches routes of its own family
//! (`0.0.0.0/0` is the IPv4 default route, `::/0` the IPv6 one).
//!
//! Complexity: each family's list is kept sorted by (prefix length
//! descending, metric ascending, insertion order), so `lookup` is a linear
//! scan that stops at the first match — O(n) with n ≤ [`MAX_ROUTES`]
//! (256 by default), a few hundred mask-and-compare steps at worst, and one
//! or two for a host with a connected prefix and a default route. `add` and
//! `remove` are O(n) too. A trie would only pay off with thousands of routes.
//!
//! ```
//! use mnet::ip::route::{Route, RouteTable};
//! let mut table = RouteTable::default();
//! table.add(Route::on_link("10.0.0.0/24".parse()?, 0))?;
//! table.add(Route::via("0.0.0.0/0".parse()?, "10.0.0.1".parse()?, 100))?;
//! let r = table.lookup(&"10.0.0.7".parse()?).unwrap();
//! assert_eq!(r.via, None);
//! let r = table.lookup(&"8.8.8.8".parse()?).unwrap();
//! assert_eq!(r.via, Some("10.0.0.1".parse()?));
//! # Ok::<(), mnet::Error>(())
//! ```

use alloc::vec::Vec;
use core::net::IpAddr;

use crate::Error;
use crate::wire::IpCidr;

/// Default bound on the number of routes (both families together).
pub const MAX_ROUTES: usize = 256;

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    /// The destination prefix, stored in network form (host bits cleared).
    pub cidr: IpCidr,
    /// The gateway, or `None` when destinations in `cidr` are on-link.
    pub via: Option<IpAddr>,
    /// Lower is preferred among routes with the same prefix length.
    pub metric: u32,
}

impl Route {
    /// A route to an on-link prefix.
    pub fn on_link(cidr: IpCidr, metric: u32) -> Route {
        Route {
            cidr: cidr.network(),
            via: None,
            metric,
        }
    }

    /// A route through the gateway `via`.
    pub fn via(cidr: IpCidr, via: IpAddr, metric: u32) -> Route {
        Route {
            cidr: cidr.network(),
            via: Some(via),
            metric,
        }
    }

    /// Whether this route's prefix contains `dst` (same family only).
    pub fn contains(&self, dst: &IpAddr) -> bool {
        self.cidr.contains_addr(dst)
    }

    /// The address to resolve on the link for `dst`: the gateway, or `dst`
    /// itself for an on-link route.
    pub fn next_hop(&self, dst: IpAddr) -> IpAddr {
        self.via.unwrap_or(dst)
    }
}

/// The routing table, bounded to `max_routes` entries.
#[derive(Debug, Clone)]
pub struct RouteTable {
    v4: Vec<Route>,
    v6: Vec<Route>,
    max_routes: usize,
}

impl Default for RouteTable {
    fn default() -> Self {
        RouteTable::new(MAX_ROUTES)
    }
}

impl RouteTable {
    /// An empty table holding at most `max_routes` routes.
    pub fn new(max_routes: usize) -> RouteTable {
        RouteTable {
            v4: Vec::new(),
            v6: Vec::new(),
            max_routes,
        }
    }

    /// The configured bound.
    pub fn max_routes(&self) -> usize {
        self.max_routes
    }

    /// Number of routes (both families).
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn list(&self, v4: bool) -> &Vec<Route> {
        if v4 { &self.v4 } else { &self.v6 }
    }

    fn list_mut(&mut self, v4: bool) -> &mut Vec<Route> {
        if v4 { &mut self.v4 } else { &mut self.v6 }
    }

    /// Add a route. The prefix is normalised to network form. A route with
    /// the same prefix and gateway is replaced (its metric updated).
    ///
    /// Errors: [`Error::InvalidInput`] when the gateway's family differs
    /// from the prefix's; [`Error::WouldExceedLimit`] when the table holds
    /// `max_routes` routes already.
    pub fn add(&mut self, route: Route) -> Result<(), Error> {
        let route = Route {
            cidr: route.cidr.network(),
            ..route
        };
        let v4 = route.cidr.address().is_ipv4();
        if let Some(via) = route.via
            && via.is_ipv4() != v4
        {
            return Err(Error::InvalidInput);
        }
        let list = self.list(v4);
        let existing = list.iter().position(|r| r.cidr == route.cidr && r.via == route.via);
        if existing.is_none() && self.len() >= self.max_routes {
            return Err(Error::WouldExceedLimit);
        }
        let list = self.list_mut(v4);
        if let Some(i) = existing {
            list.remove(i);
        }
        // Insert after every route that sorts before or equal to it, so
        // that among equals the one added first stays first.
        let key = sort_key(&route);
        let at = list.partition_point(|r| sort_key(r) <= key);
        list.insert(at, route);
        Ok(())
    }

    /// Remove the route with this prefix (normalised) and gateway.
    pub fn remove(&mut self, cidr: IpCidr, via: Option<IpAddr>) -> Option<Route> {
        let cidr = cidr.network();
        let list = self.list_mut(cidr.address().is_ipv4());
        let i = list.iter().position(|r| r.cidr == cidr && r.via == via)?;
        Some(list.remove(i))
    }

    /// Remove every route for which `pred` is true (an address went away, a
    /// lease expired, a router stopped advertising). Returns how many.
    pub fn remove_matching(&mut self, mut pred: impl FnMut(&Route) -> bool) -> usize {
        let before = self.len();
        self.v4.retain(|r| !pred(r));
        self.v6.retain(|r| !pred(r));
        before - self.len()
    }

    /// The best route to `dst`: longest prefix, then lowest metric, then
    /// the earliest added. O(n) in the routes of `dst`'s family.
    pub fn lookup(&self, dst: &IpAddr) -> Option<&Route> {
        self.list(dst.is_ipv4()).iter().find(|r| r.contains(dst))
    }

    /// Every route, IPv4 first, each family in lookup preference order.
    pub fn iter(&self) -> impl Iterator<Item = &Route> + '_ {
        self.v4.iter().chain(self.v6.iter())
    }
}

/// Order of preference: longer prefix first, then lower metric.
fn sort_key(r: &Route) -> (core::cmp::Reverse<u8>, u32) {
    (core::cmp::Reverse(r.cidr.prefix_len()), r.metric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> IpCidr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let mut t = RouteTable::default();
        t.add(Route::via(cidr("0.0.0.0/0"), ip("10.0.0.1"), 0)).unwrap();
        t.add(Route::on_link(cidr("10.0.0.0/8"), 0)).unwrap();
        t.add(Route::via(cidr("10.1.0.0/16"), ip("10.0.0.2"), 0)).unwrap();
        t.add(Route::via(cidr("10.1.2.3/32"), ip("10.0.0.3"), 0)).unwrap();
        assert_eq!(t.lookup(&ip("10.1.2.3")).unwrap().via, Some(ip("10.0.0.3")));
        assert_eq!(t.lookup(&ip("10.1.2.4")).unwrap().via, Some(ip("10.0.0.2")));
        assert_eq!(t.lookup(&ip("10.2.0.1")).unwrap().via, None);
        assert_eq!(t.lookup(&ip("192.0.2.1")).unwrap().via, Some(ip("10.0.0.1")));
        assert_eq!(t.lookup(&ip("192.0.2.1")).unwrap().next_hop(ip("192.0.2.1")), ip("10.0.0.1"));
        assert_eq!(t.lookup(&ip("10.2.0.1")).unwrap().next_hop(ip("10.2.0.1")), ip("10.2.0.1"));
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let mut a = RouteTable::default();
        let mut b = RouteTable::default();
        let routes = [
            Route::via(cidr("0.0.0.0/0"), ip("10.0.0.1"), 5),
            Route::on_link(cidr("10.0.0.0/24"), 0),
            Route::via(cidr("10.0.0.128/25"), ip("10.0.0.9"), 0),
        ];
        for r in routes {
            a.add(r).unwrap();
        }
        for r in routes.iter().rev() {
            b.add(*r).unwrap();
        }
        for d in ["10.0.0.1", "10.0.0.200", "1.1.1.1"] {
            assert_eq!(a.lookup(&ip(d)), b.lookup(&ip(d)), "{d}");
        }
        assert_eq!(a.lookup(&ip("10.0.0.200")).unwrap().via, Some(ip("10.0.0.9")));
    }

    #[test]
    fn lowest_metric_then_first_added() {
        let mut t = RouteTable::default();
        t.add(Route::via(cidr("0.0.0.0/0"), ip("10.0.0.1"), 100)).unwrap();
        t.add(Route::via(cidr("0.0.0.0/0"), ip("10.0.0.2"), 50)).unwrap();
        t.add(Route::via(cidr("0.0.0.0/0"), ip("10.0.0.3"), 50)).unwrap();
        assert_eq!(t.lookup(&ip("8.8.8.8")).unwrap().via, Some(ip("10.0.0.2")));
        // Replacing keeps one entry per (cidr, via) and re-sorts.
        t.add(Route::via(cidr("0.0.0.0/0"), ip("10.0.0.1"), 10)).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.lookup(&ip("8.8.8.8")).unwrap().via, Some(ip("10.0.0.1")));
        assert_eq!(t.lookup(&ip("8.8.8.8")).unwrap().metric, 10);
    }

    #[test]
    fn families_are_separate() {
        let mut t = RouteTable::default();
        t.add(Route::via(cidr("0.0.0.0/0"), ip("10.0.0.1"), 0)).unwrap();
        assert!(t.lookup(&ip("2001:db8::1")).is_none());
        t.add(Route::via(cidr("::/0"), ip("fe80::1"), 0)).unwrap();
        t.add(Route::on_link(cidr("2001:db8::/64"), 0)).unwrap();
        assert_eq!(t.lookup(&ip("2001:db8::1")).unwrap().via, None);
        assert_eq!(t.lookup(&ip("2001:db9::1")).unwrap().via, Some(ip("fe80::1")));
        assert_eq!(t.lookup(&ip("1.2.3.4")).unwrap().via, Some(ip("10.0.0.1")));
        // A gateway of the other family is refused.
        assert_eq!(t.add(Route::via(cidr("10.0.0.0/8"), ip("fe80::1"), 0)), Err(Error::InvalidInput));
    }

    #[test]
    fn stored_in_network_form() {
        let mut t = RouteTable::default();
        t.add(Route {
            cidr: cidr("10.1.2.3/24"),
            via: None,
            metric: 0,
        })
        .unwrap();
        assert_eq!(t.iter().next().unwrap().cidr, cidr("10.1.2.0/24"));
        assert!(t.remove(cidr("10.1.2.77/24"), None).is_some());
        assert!(t.is_empty());
    }

    #[test]
    fn bounded() {
        let mut t = RouteTable::new(4);
        for i in 0..4u8 {
            t.add(Route::on_link(cidr(&alloc::format!("10.{i}.0.0/16")), 0)).unwrap();
        }
        assert_eq!(t.add(Route::on_link(cidr("10.9.0.0/16"), 0)), Err(Error::WouldExceedLimit));
        // Replacing an existing route is allowed when full.
        assert_eq!(t.add(Route::on_link(cidr("10.1.0.0/16"), 7)), Ok(()));
        assert_eq!(t.len(), 4);
        assert_eq!(RouteTable::default().max_routes(), MAX_ROUTES);
    }

    #[test]
    fn remove_and_remove_matching() {
        let mut t = RouteTable::default();
        t.add(Route::via(cidr("0.0.0.0/0"), ip("10.0.0.1"), 0)).unwrap();
        t.add(Route::on_link(cidr("10.0.0.0/24"), 0)).unwrap();
        t.add(Route::via(cidr("::/0"), ip("fe80::1"), 0)).unwrap();
        assert!(t.remove(cidr("0.0.0.0/0"), Some(ip("10.0.0.2"))).is_none());
        assert!(t.remove(cidr("0.0.0.0/0"), Some(ip("10.0.0.1"))).is_some());
        assert!(t.lookup(&ip("8.8.8.8")).is_none());
        assert_eq!(t.remove_matching(|r| r.via.is_some()), 1);
        assert_eq!(t.len(), 1);
        assert_eq!(t.remove_matching(|_| true), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn full_table_lookup_is_correct() {
        // 256 routes: /8../32 prefixes; check against a brute-force answer.
        let mut t = RouteTable::default();
        let mut all = Vec::new();
        for i in 0..=255u32 {
            let len = 8 + (i % 25) as u8;
            let addr = IpAddr::V4(core::net::Ipv4Addr::from_bits(0x0A00_0000 | (i.wrapping_mul(2_654_435_761) >> 8)));
            let r = Route::via(IpCidr::new(addr, len).unwrap(), ip("10.255.255.254"), i % 3);
            if t.add(r).is_ok() {
                all.push(r.cidr);
            }
        }
        assert!(t.len() <= MAX_ROUTES);
        for j in 0..2000u32 {
            let dst = IpAddr::V4(core::net::Ipv4Addr::from_bits(0x0A00_0000 | (j.wrapping_mul(40_503) & 0x00FF_FFFF)));
            let best = t.iter().filter(|r| r.contains(&dst)).min_by_key(|r| sort_key(r));
            let got = t.lookup(&dst);
            assert_eq!(got.map(sort_key), best.map(sort_key), "{dst}");
        }
    }
}
