//! IPv6 neighbour discovery (RFC 4861) and stateless address
//! autoconfiguration (RFC 4862) in the engine: the interface's IPv6 state,
//! duplicate address detection, address resolution and NUD glue, router
//! solicitation with retransmission, and router advertisement processing
//! (default routers with RFC 4191 preference, prefixes and SLAAC, MTU, hop
//! limit, RDNSS/DNSSL per RFC 8106).

use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv6Addr};

use super::ipv6_in::{ALL_NODES, ALL_ROUTERS, Ipv6Meta};
use super::{PendingPacket, Stack};
use crate::config::{Ipv6Config, Ipv6Mode, Limits};
use crate::error::{Error, Result};
use crate::ip::ipv6_addr::{
    AddrEvent, AddrOrigin, AddrState, Ipv6AddrEntry, Ipv6AddrTable, Lifetimes, deadline, eui64_iid, is_link_local, opaque_iid,
    solicited_node, with_iid,
};
use crate::ip::route::Route;
use crate::ip::router_list::{DefaultRouter, LearnedList, RouterList};
use crate::link::neighbor::{DELAY_FIRST_PROBE_TIME, FillOutcome, NeighborAction, NeighborCache, NeighborConfig, NudUpdate};
use crate::rand::Rng;
use crate::stats::Drop;
use crate::time::{Duration, Instant, earliest};
use crate::wire::icmpv6::Icmpv6Repr;
use crate::wire::ndisc::{
    NA_FLAG_OVERRIDE, NA_FLAG_ROUTER, NA_FLAG_SOLICITED, NdiscOption, NdiscOptions, NdiscRepr, PREFIX_FLAG_AUTONOMOUS, PREFIX_FLAG_ON_LINK,
    PrefixInfo, RouterAdvert, rdnss_addresses,
};
use crate::wire::{EthernetAddress, IpCidr};

/// RFC 4861 §10: "MAX_RTR_SOLICITATION_DELAY 1 second".
pub const MAX_RTR_SOLICITATION_DELAY: Duration = Duration::from_secs(1);
/// RFC 4861 §10: "RTR_SOLICITATION_INTERVAL 4 seconds".
pub const RTR_SOLICITATION_INTERVAL: Duration = Duration::from_secs(4);
/// RFC 4861 §10: "MAX_RTR_SOLICITATIONS 3 transmissions".
pub const MAX_RTR_SOLICITATIONS: u32 = 3;
/// RFC 7559 §2: "MAX_RTR_SOLICITATION_INTERVAL 3600 seconds": after the
/// first MAX_RTR_SOLICITATIONS, solicitations continue with exponential
/// backoff up to this interval instead of stopping.
pub const MAX_RTR_SOLICITATION_INTERVAL: Duration = Duration::from_secs(3600);
/// RFC 4861 §10: "REACHABLE_TIME 30,000 milliseconds".
pub const BASE_REACHABLE_TIME: Duration = Duration::from_secs(30);
/// RFC 4861 §10: "RETRANS_TIMER 1,000 milliseconds".
pub const RETRANS_TIMER: Duration = Duration::from_secs(1);
/// Floors on the timers a router advertisement sets (RFC 4861 names none;
/// these are Linux's): an advertised Retrans Timer of 1 ms would make DAD
/// finish before any answer could cross a real link, and NUD probe in a
/// tight loop.
pub const MIN_RETRANS_TIMER: Duration = Duration::from_millis(10);
/// See [`MIN_RETRANS_TIMER`]: the floor on an advertised Reachable Time.
pub const MIN_BASE_REACHABLE_TIME: Duration = Duration::from_millis(100);
/// RFC 4861 §10: "MIN_RANDOM_FACTOR .5", "MAX_RANDOM_FACTOR 1.5" (in
/// per mille).
const RANDOM_FACTOR_PERMILLE: (u32, u32) = (500, 1500);
/// RFC 4861 §6.3.2 / §3: "the hop limit is 255" for every NDP message, and
/// receivers check it (§6.1, §7.1: "The IP Hop Limit field has a value of
/// 255, i.e., the packet could not possibly have been forwarded by a
/// router.").
pub const NDP_HOP_LIMIT: u8 = 255;
/// RFC 7217 §6: "IDGEN_RETRIES ... 3": opaque identifiers regenerated after
/// a DAD conflict at most this often.
pub const IDGEN_RETRIES: u8 = 3;
/// At most this many Redirect-learned host routes (RFC 4861 §8.3
/// destination-cache entries) are kept; a new one pushes out the one
/// closest to expiry, and its route with it.
pub const MAX_REDIRECTS: usize = 64;
/// How long a Redirect-learned route lives unless another Redirect renews
/// it (RFC 4861 names no lifetime; without one, redirects could pin the
/// routing table forever).
pub const REDIRECT_LIFETIME_SECS: u32 = 600;
/// Length of the DAD nonce (RFC 7527 §4.1; RFC 3971 §5.3.2 minimum 6).
const NONCE_LEN: usize = 6;

/// One duplicate address detection in progress (RFC 4862 §5.4).
#[derive(Debug, Clone, Copy)]
pub(super) struct DadRun {
    pub addr: Ipv6Addr,
    /// Solicitations sent so far.
    pub sent: u8,
    /// When the next solicitation goes (or DAD ends).
    pub at: Instant,
    /// RFC 7527 §4.1: a nonce that recognises our own looped-back probes.
    pub nonce: [u8; NONCE_LEN],
    /// RFC 7217 DAD_Counter of an opaque address.
    pub dad_counter: u8,
}

/// Router solicitation schedule (RFC 4861 §6.3.7, RFC 7559).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RsState {
    pub sent: u32,
    pub at: Option<Instant>,
    pub interval: Duration,
}

/// Progress of autoconfiguration, for `mnet addresses --wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Status {
    /// IPv6 runs on this stack.
    pub enabled: bool,
    /// Some address is still tentative.
    pub dad_pending: bool,
    /// A router advertisement has been processed.
    pub router_advert_seen: bool,
}

/// Everything IPv6 of one interface.
pub(crate) struct Ipv6State {
    pub mode: Ipv6Mode,
    pub slaac: bool,
    pub router_discovery: bool,
    pub dad_transmits: u8,
    pub addrs: Ipv6AddrTable,
    pub dad: Vec<DadRun>,
    pub neighbors: NeighborCache<EthernetAddress, PendingPacket>,
    pub neighbor_actions: Vec<NeighborAction<EthernetAddress, PendingPacket>>,
    pub routers: RouterList,
    /// On-link prefixes from RAs (their routes are in the route table).
    pub prefixes: LearnedList<IpCidr>,
    /// RFC 4191 Route Information: (prefix, router).
    pub route_infos: LearnedList<(IpCidr, Ipv6Addr)>,
    /// Destinations redirected to a better first hop (their /128 routes
    /// are in the route table).
    pub redirects: LearnedList<IpCidr>,
    pub dns: LearnedList<Ipv6Addr>,
    pub domains: LearnedList<String>,
    pub gateway: Option<Ipv6Addr>,
    /// RFC 4861 §6.3.2 CurHopLimit.
    pub hop_limit: u8,
    /// RFC 4861 §6.3.4 LinkMTU from an RA's MTU option.
    pub link_mtu: Option<usize>,
    /// Groups joined by applications.
    pub groups: Vec<Ipv6Addr>,
    pub rs: RsState,
    pub ra_seen: bool,
    pub mld: super::mld::MldState,
    /// Link-local DAD waits a random delay first (RFC 4862 §5.4.2).
    pub first_dad: bool,
}

impl Ipv6State {
    pub fn new(config: Ipv6Config, limits: &Limits, rng: &mut Rng) -> Ipv6State {
        let Ipv6Config {
            mode,
            slaac,
            router_discovery,
            gateway,
            dup_addr_detect_transmits,
            v6only: _,
        } = config;
        let neighbor = NeighborConfig {
            delay_first_probe_time: DELAY_FIRST_PROBE_TIME,
            reachable_time: random_reachable_time(BASE_REACHABLE_TIME, rng),
            retrans_timer: RETRANS_TIMER,
            ..limits.neighbor
        };
        Ipv6State {
            mode,
            slaac,
            router_discovery,
            dad_transmits: dup_addr_detect_transmits,
            addrs: Ipv6AddrTable::new(limits.max_addresses),
            dad: Vec::new(),
            neighbors: NeighborCache::new(neighbor, rng),
            neighbor_actions: Vec::new(),
            routers: RouterList::new(limits.ipv6_default_routers),
            prefixes: LearnedList::new(limits.ipv6_onlink_prefixes),
            route_infos: LearnedList::new(limits.ipv6_onlink_prefixes),
            redirects: LearnedList::new(MAX_REDIRECTS),
            dns: LearnedList::new(limits.ipv6_dns_servers),
            domains: LearnedList::new(limits.ipv6_search_domains),
            gateway,
            hop_limit: crate::config::DEFAULT_TTL,
            link_mtu: None,
            groups: Vec::new(),
            rs: RsState::default(),
            ra_seen: false,
            mld: super::mld::MldState::default(),
            first_dad: true,
        }
    }

    pub fn enabled(&self) -> bool {
        self.mode != Ipv6Mode::Disabled
    }
}

/// RFC 4861 §6.3.2: "ReachableTime ... a uniformly distributed random value
/// between MIN_RANDOM_FACTOR and MAX_RANDOM_FACTOR times BaseReachableTime
/// milliseconds."
fn random_reachable_time(base: Duration, rng: &mut Rng) -> Duration {
    let f = rng.range_u32(RANDOM_FACTOR_PERMILLE.0, RANDOM_FACTOR_PERMILLE.1 + 1);
    base * f / 1000
}

/// A random delay in `[0, max)`.
fn random_delay(rng: &mut Rng, max: Duration) -> Duration {
    let us = u32::try_from(max.as_micros()).unwrap_or(u32::MAX).max(1);
    Duration::from_micros(u64::from(rng.range_u32(0, us)))
}

/// Decode one DNSSL option's names (RFC 8106 §5.2: "domain names are
/// encoded as described in RFC 1035 §3.1 ... no compression"). Malformed
/// names end the walk.
fn dnssl_names(mut b: &[u8], mut each: impl FnMut(String)) {
    while b.first().is_some_and(|&l| l != 0) {
        let mut name = String::new();
        loop {
            let Some(&len) = b.first() else { return };
            b = &b[1..];
            if len == 0 {
                break;
            }
            let Some(label) = b.get(..usize::from(len)) else { return };
            if len > 63 || !label.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_') {
                return;
            }
            if !name.is_empty() {
                name.push('.');
            }
            name.extend(label.iter().map(|&c| char::from(c)));
            b = &b[usize::from(len)..];
        }
        each(name);
    }
}

/// Whether an advertised prefix's network address is a unicast one: not
/// multicast (ff00::/8), not `::` (then the prefix covers the unspecified
/// address), not `::1`.
fn is_unicast_prefix(cidr: IpCidr) -> bool {
    let IpAddr::V6(a) = cidr.address() else { return false };
    !(a.is_multicast() || a.is_unspecified() || a.is_loopback())
}

/// An advertised on-link prefix went away: remove its route, unless a
/// static or link-local address of the same prefix installed that route
/// too (`ipv6_address_ready`); an advertisement must not take a configured
/// address's subnet off the link.
fn remove_prefix_route(routes: &mut crate::ip::route::RouteTable, addrs: &Ipv6AddrTable, cidr: IpCidr) {
    let configured = addrs
        .iter()
        .any(|e| e.origin != AddrOrigin::Slaac && e.prefix_len == cidr.prefix_len() && cidr.contains_addr(&IpAddr::V6(e.addr)));
    if !configured {
        routes.remove(cidr, None);
    }
}

impl Stack {
    // ---- public view ------------------------------------------------------

    /// Every IPv6 address with its state.
    pub fn ipv6_addresses(&self) -> impl Iterator<Item = &Ipv6AddrEntry> + '_ {
        self.ipv6.addrs.iter()
    }

    /// Default routers learned from router advertisements.
    pub fn ipv6_default_routers(&self) -> impl Iterator<Item = &DefaultRouter> + '_ {
        self.ipv6.routers.iter()
    }

    /// The static IPv6 gateway, if one is configured.
    pub fn ipv6_gateway(&self) -> Option<Ipv6Addr> {
        self.ipv6.gateway
    }

    /// Set or clear the static IPv6 gateway.
    pub fn set_ipv6_gateway(&mut self, gw: Option<Ipv6Addr>) {
        self.ipv6.gateway = gw;
    }

    /// DNS servers from RDNSS options (RFC 8106), for the resolver.
    pub fn ipv6_dns_servers(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.ipv6.dns.iter().copied()
    }

    /// Search domains from DNSSL options (RFC 8106).
    pub fn ipv6_search_domains(&self) -> impl Iterator<Item = &str> + '_ {
        self.ipv6.domains.iter().map(String::as_str)
    }

    /// How far autoconfiguration got.
    pub fn ipv6_status(&self) -> Ipv6Status {
        Ipv6Status {
            enabled: self.ipv6.enabled(),
            dad_pending: !self.ipv6.dad.is_empty(),
            router_advert_seen: self.ipv6.ra_seen,
        }
    }

    /// The IPv6 neighbour cache, for display.
    pub fn ipv6_neighbors(&self) -> impl Iterator<Item = crate::link::neighbor::NeighborView<EthernetAddress>> + '_ {
        self.ipv6.neighbors.iter()
    }

    // ---- addresses and DAD ------------------------------------------------

    /// Bring IPv6 up: the link-local address (RFC 4862 §5.3: "A node forms
    /// a link-local address whenever an interface becomes enabled").
    pub(super) fn ipv6_start(&mut self, now: Instant) {
        if !self.ipv6.enabled() {
            return;
        }
        let prefix = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0);
        let ll = with_iid(prefix, self.interface_id(prefix, 0));
        let _ = self.ipv6_add(now, ll, 64, AddrOrigin::LinkLocal, Lifetimes::INFINITE, 0);
    }

    /// The interface identifier for `prefix` in this stack's mode.
    fn interface_id(&self, prefix: Ipv6Addr, dad_counter: u8) -> [u8; 8] {
        match &self.ipv6.mode {
            Ipv6Mode::Opaque { secret } => opaque_iid(prefix, self.mac, dad_counter, secret),
            _ => eui64_iid(self.mac),
        }
    }

    /// A static address (with DAD unless disabled).
    pub(super) fn ipv6_add_static(&mut self, now: Instant, addr: Ipv6Addr, prefix_len: u8) -> Result<()> {
        if !self.ipv6.enabled() {
            return Err(Error::NetworkUnreachable);
        }
        self.ipv6_add(now, addr, prefix_len, AddrOrigin::Static, Lifetimes::INFINITE, 0)
    }

    /// Add an address as tentative and start DAD (RFC 4862 §5.4), or
    /// make it usable at once when DAD is off.
    fn ipv6_add(
        &mut self,
        now: Instant,
        addr: Ipv6Addr,
        prefix_len: u8,
        origin: AddrOrigin,
        lifetimes: Lifetimes,
        dad_counter: u8,
    ) -> Result<()> {
        if self.addresses.len() >= self.limits.max_addresses {
            return Err(Error::WouldExceedLimit);
        }
        // Advertised prefixes get a bounded share of the address table
        // (duplicates and deprecated ones count until they expire).
        if origin == AddrOrigin::Slaac
            && self.ipv6.addrs.iter().filter(|e| e.origin == AddrOrigin::Slaac).count() >= self.limits.ipv6_slaac_addresses
        {
            self.stats.record(Drop::SlaacLimit);
            return Err(Error::WouldExceedLimit);
        }
        let dad = self.ipv6.dad_transmits > 0;
        self.ipv6.addrs.add(now, addr, prefix_len, origin, lifetimes, dad)?;
        // RFC 4862 §5.4.2: "Before sending a Neighbor Solicitation, an
        // interface MUST join the all-nodes multicast address and the
        // solicited-node multicast address of the tentative address."
        self.mld_joined(now);
        if !dad {
            self.ipv6_address_ready(now, addr);
            return Ok(());
        }
        // "If the Neighbor Solicitation is going to be the first message
        // sent from an interface after interface (re)initialization, the
        // node SHOULD delay joining the solicited-node multicast address by
        // a random delay between 0 and MAX_RTR_SOLICITATION_DELAY".
        let delay = if core::mem::take(&mut self.ipv6.first_dad) {
            random_delay(&mut self.rng, MAX_RTR_SOLICITATION_DELAY)
        } else {
            Duration::ZERO
        };
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill_bytes(&mut nonce);
        self.ipv6.dad.retain(|d| d.addr != addr);
        self.ipv6.dad.push(DadRun {
            addr,
            sent: 0,
            at: now + delay,
            nonce,
            dad_counter,
        });
        Ok(())
    }

    /// DAD passed: the address is assigned (RFC 4862 §5.4: "the address is
    /// assigned to the interface"), gets its on-link route if static or
    /// link-local (RFC 5942 §4: SLAAC addresses imply no on-link prefix),
    /// and router discovery starts once the link-local address is usable.
    fn ipv6_address_ready(&mut self, now: Instant, addr: Ipv6Addr) {
        let Some(e) = self.ipv6.addrs.get(addr).copied() else { return };
        let Some(cidr) = IpCidr::new(IpAddr::V6(addr), e.prefix_len) else {
            return;
        };
        if !self.addresses.contains(&cidr) {
            self.addresses.push(cidr);
        }
        if e.origin != AddrOrigin::Slaac && e.prefix_len > 0 && e.prefix_len < 128 {
            let _ = self.routes.add(Route {
                cidr: cidr.network(),
                via: None,
                metric: 0,
            });
        }
        if e.origin == AddrOrigin::LinkLocal && self.ipv6.router_discovery && self.ipv6.rs.at.is_none() && !self.ipv6.ra_seen {
            // RFC 4861 §6.3.7: "Before a host sends an initial solicitation,
            // it SHOULD delay the transmission for a random amount of time
            // between 0 and MAX_RTR_SOLICITATION_DELAY."
            let delay = random_delay(&mut self.rng, MAX_RTR_SOLICITATION_DELAY);
            self.ipv6.rs = RsState {
                sent: 0,
                at: Some(now + delay),
                interval: RTR_SOLICITATION_INTERVAL,
            };
        }
    }

    /// Another node has `addr`: RFC 4862 §5.4.5: "If the address is a
    /// link-local address formed from an interface identifier based on the
    /// hardware address ... IP operation on the interface SHOULD be
    /// disabled." We stop using the address (and, for an opaque SLAAC
    /// address, try the next DAD_Counter, RFC 7217 §6).
    fn ipv6_dad_failed(&mut self, now: Instant, addr: Ipv6Addr) {
        let run = self
            .ipv6
            .dad
            .iter()
            .position(|d| d.addr == addr)
            .map(|i| self.ipv6.dad.swap_remove(i));
        if !self.ipv6.addrs.dad_failed(addr) {
            return;
        }
        self.stats.record(Drop::NdpDadFailed);
        log::warn!("ipv6: duplicate address {addr}: not used");
        self.mld_left(now, solicited_node(addr));
        let Some(e) = self.ipv6.addrs.get(addr).copied() else { return };
        if let (Ipv6Mode::Opaque { .. }, AddrOrigin::Slaac, Some(run)) = (&self.ipv6.mode, e.origin, run)
            && run.dad_counter < IDGEN_RETRIES
        {
            let prefix = addr;
            let next = with_iid(prefix, self.interface_id(prefix, run.dad_counter + 1));
            let _ = self.ipv6_add(now, next, e.prefix_len, AddrOrigin::Slaac, e.lifetimes, run.dad_counter + 1);
        }
    }

    /// DAD probes due (RFC 4862 §5.4.2: "sending DupAddrDetectTransmits
    /// Neighbor Solicitations, each separated by RetransTimer
    /// milliseconds"; §5.4: "If no ... advertisement is received ... after
    /// ... RetransTimer ... the address is considered unique").
    fn poll_dad(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.ipv6.dad.len() {
            let run = self.ipv6.dad[i];
            if run.at > now {
                i += 1;
                continue;
            }
            if run.sent >= self.ipv6.dad_transmits {
                self.ipv6.dad.swap_remove(i);
                if self.ipv6.addrs.dad_succeeded(run.addr) {
                    log::info!("ipv6: {} is unique", run.addr);
                    self.ipv6_address_ready(now, run.addr);
                }
                continue;
            }
            let retrans = self.ipv6.neighbors.config().retrans_timer;
            if let Some(d) = self.ipv6.dad.get_mut(i) {
                d.sent += 1;
                d.at = now + retrans;
            }
            self.send_dad_probe(now, run.addr, &run.nonce);
            i += 1;
        }
    }

    /// RFC 4862 §5.4.2: "The node then sends a Neighbor Solicitation with
    /// the tentative address as the Target Address. ... the IP source
    /// address is the unspecified address and the destination is the
    /// solicited-node multicast address of the target"; with a Nonce
    /// option (RFC 7527 §4.1).
    fn send_dad_probe(&mut self, now: Instant, target: Ipv6Addr, nonce: &[u8; NONCE_LEN]) {
        let mut opts = [0u8; 8];
        let n = NdiscOption::Nonce(nonce).emit(&mut opts);
        let repr = NdiscRepr::NeighborSolicit {
            target,
            options: NdiscOptions::new_checked(&opts[..n]).unwrap_or(NdiscOptions::EMPTY),
        };
        self.send_ndisc(now, Some(Ipv6Addr::UNSPECIFIED), solicited_node(target), repr);
    }

    /// Send one NDP message with hop limit 255.
    fn send_ndisc(&mut self, now: Instant, src: Option<Ipv6Addr>, dst: Ipv6Addr, repr: NdiscRepr<'_>) {
        self.send_ndisc_to(now, src, dst, repr, None);
    }

    /// [`Self::send_ndisc`], to `link_dst` when the link-layer address is
    /// known from the message being answered.
    fn send_ndisc_to(
        &mut self,
        now: Instant,
        src: Option<Ipv6Addr>,
        dst: Ipv6Addr,
        repr: NdiscRepr<'_>,
        link_dst: Option<EthernetAddress>,
    ) {
        let icmp = Icmpv6Repr::Ndisc(repr);
        let mut tx = super::ipv6_out::Ipv6Tx::new(src, dst, crate::wire::IpProtocol::Icmpv6, icmp.buffer_len());
        tx.hop_limit = Some(NDP_HOP_LIMIT);
        tx.link_dst = link_dst;
        if self.send_icmpv6_tx(now, tx, &icmp) {
            self.stats.traffic.ndp_out += 1;
        }
    }

    /// A neighbour solicitation for address resolution (multicast to the
    /// solicited-node group) or NUD (unicast to the known address).
    pub(super) fn send_neighbor_solicit(&mut self, now: Instant, target: Ipv6Addr, unicast_to: Option<EthernetAddress>) {
        let Ok(src) = self.select_ipv6_source(None, target) else { return };
        let mut opts = [0u8; 8];
        let n = NdiscOption::SourceLinkLayer(self.mac).emit(&mut opts);
        let repr = NdiscRepr::NeighborSolicit {
            target,
            options: NdiscOptions::new_checked(&opts[..n]).unwrap_or(NdiscOptions::EMPTY),
        };
        match unicast_to {
            // RFC 4861 §7.3.3 (PROBE): "the node sends a unicast Neighbor
            // Solicitation message to the neighbor using the cached
            // link-layer address."
            // The cache returns the known address for an entry in PROBE.
            Some(_) => self.send_ndisc(now, Some(src), target, repr),
            None => self.send_ndisc(now, Some(src), solicited_node(target), repr),
        }
    }

    /// RFC 4861 §7.3.1: "hints from upper-layer protocols that indicate a
    /// connection is making "forward progress"" confirm the first hop
    /// towards `remote` (TCP calls this when new data is acknowledged), so
    /// a busy connection never sends NUD probes.
    pub(super) fn ipv6_forward_progress(&mut self, now: Instant, remote: IpAddr) {
        let IpAddr::V6(dst) = remote else { return };
        if let Ok(super::ipv6_out::NextHop6::Link(hop)) = self.route_ipv6(dst) {
            self.ipv6.neighbors.confirm(now, IpAddr::V6(hop));
        }
    }

    // ---- input ------------------------------------------------------------

    /// A validated NDP message (RFC 4861 §6.1, §7.1, §8.1 checks that need
    /// the IP header are done here).
    pub(super) fn process_ndisc(&mut self, now: Instant, meta: &Ipv6Meta, _packet: &[u8], repr: NdiscRepr<'_>) {
        self.stats.traffic.ndp_in += 1;
        let (src, dst) = (meta.repr.src_addr, meta.repr.dst_addr);
        // RFC 6980 (updating RFC 4861; the rule is in its §5): "use of the
        // IPv6 Fragmentation Header is forbidden in all Neighbor Discovery
        // messages" -- a fragmented (or atomic-fragment) NDP message is
        // silently ignored, so fragmentation cannot smuggle a router
        // advertisement past RA-Guard (RFC 7113).
        if meta.repr.hop_limit != NDP_HOP_LIMIT || meta.fragmented {
            self.stats.record(Drop::NdpInvalid);
            return;
        }
        match repr {
            // RFC 4861 §6.2.6: "A host MUST silently discard any received
            // Router Solicitation messages."
            NdiscRepr::RouterSolicit { .. } => self.stats.record(Drop::NdpRouterSolicitIgnored),
            NdiscRepr::NeighborSolicit { target, options } => {
                // RFC 4861 §7.1.1: "If the IP source address is the
                // unspecified address, the IP destination address is a
                // solicited-node multicast address." ... "there is no source
                // link-layer address option in the message."
                if src.is_unspecified() && (solicited_node(target) != dst || options.source_lladdr().is_some()) {
                    self.stats.record(Drop::NdpInvalid);
                    return;
                }
                self.process_neighbor_solicit(now, src, target, options, meta.link_src);
            }
            NdiscRepr::NeighborAdvert { flags, target, options } => {
                // RFC 4861 §7.1.2: "If the IP Destination Address is a
                // multicast address the Solicited flag is zero."
                if dst.is_multicast() && flags & NA_FLAG_SOLICITED != 0 {
                    self.stats.record(Drop::NdpInvalid);
                    return;
                }
                self.process_neighbor_advert(now, flags, target, options);
            }
            NdiscRepr::RouterAdvert(ra) => {
                // RFC 4861 §6.1.2: "IP Source Address is a link-local
                // address."
                if !is_link_local(src) {
                    self.stats.record(Drop::NdpInvalid);
                    return;
                }
                self.process_router_advert(now, src, &ra);
            }
            NdiscRepr::Redirect {
                target,
                destination,
                options,
            } => self.process_redirect(now, src, target, destination, options),
        }
    }

    fn process_neighbor_solicit(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        target: Ipv6Addr,
        options: NdiscOptions<'_>,
        link_src: Option<EthernetAddress>,
    ) {
        if self.ipv6.addrs.is_tentative(target) {
            // RFC 4862 §5.4.3: "If the source address of the Neighbor
            // Solicitation is the unspecified address, the solicitation is
            // from a node performing Duplicate Address Detection." ... "the
            // tentative address is not unique" — unless it is our own probe
            // looped back (RFC 7527 §4.2: same nonce). "If the target
            // address is tentative, and the source address is a unicast
            // address, the solicitation's sender is performing address
            // resolution on the target; the solicitation should be silently
            // ignored."
            if src.is_unspecified() {
                let ours = self
                    .ipv6
                    .dad
                    .iter()
                    .any(|d| d.addr == target && options.nonce() == Some(&d.nonce[..]));
                if !ours {
                    self.ipv6_dad_failed(now, target);
                }
            }
            return;
        }
        if !self.ipv6.addrs.is_usable(target) {
            // Not ours (another address in the same solicited-node group).
            return;
        }
        if src.is_unspecified() {
            // RFC 4862 §5.4.3: a node doing DAD for an address we hold.
            // RFC 4861 §7.2.4: "If the source of the solicitation is the
            // unspecified address, the node MUST set the Solicited flag to
            // zero and multicast the advertisement to the all-nodes
            // address."
            self.stats.record(Drop::NdpAddressConflict);
            self.send_neighbor_advert(now, target, ALL_NODES, false, None);
            return;
        }
        // RFC 4861 §7.2.3: "If the Source Address is not the unspecified
        // address and, on link layers that have addresses, the solicitation
        // includes a Source Link-Layer Address option, then the recipient
        // SHOULD create or update the Neighbor Cache entry for the IP Source
        // Address of the solicitation."
        let sll = options.source_lladdr();
        self.learn_source_lladdr(now, src, sll);
        // "the recipient ... sends a Neighbor Advertisement ... with the
        // Solicited flag set ... to the Source Address of the solicitation."
        // Straight to the link-layer address the solicitation gave, or else
        // (a unicast solicitation may omit it) to the frame's source: the
        // answer needs no cache entry (none may have been made above), and
        // a solicitation from a made-up source never starts a resolution.
        self.send_neighbor_advert(now, target, src, true, sll.or(link_src));
    }

    /// RFC 4861 §7.2.4: "the Target Address ... copied from the
    /// solicitation", "the Target Link-Layer Address option", Override set
    /// (we are not a proxy or anycast).
    fn send_neighbor_advert(&mut self, now: Instant, target: Ipv6Addr, dst: Ipv6Addr, solicited: bool, link_dst: Option<EthernetAddress>) {
        let mut opts = [0u8; 8];
        let n = NdiscOption::TargetLinkLayer(self.mac).emit(&mut opts);
        let repr = NdiscRepr::NeighborAdvert {
            flags: NA_FLAG_OVERRIDE | if solicited { NA_FLAG_SOLICITED } else { 0 },
            target,
            options: NdiscOptions::new_checked(&opts[..n]).unwrap_or(NdiscOptions::EMPTY),
        };
        self.send_ndisc_to(now, Some(target), dst, repr, link_dst);
    }

    fn process_neighbor_advert(&mut self, now: Instant, flags: u8, target: Ipv6Addr, options: NdiscOptions<'_>) {
        // RFC 4862 §5.4.4: "If the target address is tentative, the
        // tentative address is not unique."
        if self.ipv6.addrs.is_tentative(target) {
            self.ipv6_dad_failed(now, target);
            return;
        }
        if self.ipv6.addrs.get(target).is_some() {
            // RFC 4862 §5.4.4: an advertisement for an address we already
            // use is a conflict we log; nothing is learned from it.
            self.stats.record(Drop::NdpAddressConflict);
            return;
        }
        let tll = options.target_lladdr();
        let how = NudUpdate {
            advert: true,
            solicited: flags & NA_FLAG_SOLICITED != 0,
            override_flag: flags & NA_FLAG_OVERRIDE != 0,
        };
        let out = self.ipv6.neighbors.update_nud(now, IpAddr::V6(target), tll, how);
        // RFC 4861 §7.2.5: "In those cases where the IsRouter flag changes
        // from TRUE to FALSE as a result of this update, the node MUST
        // remove that router from the Default Router List".
        if flags & NA_FLAG_ROUTER == 0 && !matches!(out, FillOutcome::Ignored) {
            self.ipv6.routers.remove(target);
        }
        let lladdr = tll.or_else(|| self.ipv6.neighbors.get(IpAddr::V6(target)).and_then(|v| v.lladdr));
        self.ipv6_neighbor_outcome(now, lladdr, out);
    }

    /// Record the Source Link-Layer Address option of a solicitation or a
    /// router advertisement from `src` (not an advertisement: no
    /// Solicited or Override semantics), if it carried one.
    fn learn_source_lladdr(&mut self, now: Instant, src: Ipv6Addr, sll: Option<EthernetAddress>) {
        if sll.is_none() {
            return;
        }
        let how = NudUpdate {
            advert: false,
            solicited: false,
            override_flag: false,
        };
        let out = self.ipv6.neighbors.update_nud(now, IpAddr::V6(src), sll, how);
        self.ipv6_neighbor_outcome(now, sll, out);
    }

    /// Send packets that waited for a neighbour, count evictions.
    fn ipv6_neighbor_outcome(&mut self, now: Instant, lladdr: Option<EthernetAddress>, out: FillOutcome<PendingPacket>) {
        match out {
            FillOutcome::Resolved { packets } => {
                for p in packets {
                    match lladdr {
                        Some(mac) => self.emit_ipv6_frame(now, p.buf, mac, p.meta),
                        None => self.pool.give(p.buf),
                    }
                }
            }
            FillOutcome::Created { evicted: Some(_) } => self.stats.record(Drop::NdpCacheFull),
            _ => {}
        }
    }

    /// RFC 4861 §6.3.4 "Processing Received Router Advertisements".
    fn process_router_advert(&mut self, now: Instant, src: Ipv6Addr, ra: &RouterAdvert<'_>) {
        if !self.ipv6.router_discovery {
            return;
        }
        self.ipv6.ra_seen = true;
        // "If the received Cur Hop Limit value is non-zero, the host SHOULD
        // set its CurHopLimit variable to the received value."
        if ra.hop_limit != 0 {
            self.ipv6.hop_limit = ra.hop_limit;
        }
        // "If the received Reachable Time value is non-zero, the host SHOULD
        // set its BaseReachableTime variable to the received value. If the
        // new value differs from the previous value, the host SHOULD
        // re-compute a new random ReachableTime value." "The RetransTimer
        // variable SHOULD be copied from the Retrans Timer field, if the
        // received value is non-zero."
        let cfg = *self.ipv6.neighbors.config();
        let mut reachable = cfg.reachable_time;
        if ra.reachable_time != 0 {
            let base = Duration::from_millis(u64::from(ra.reachable_time.min(3_600_000))).max(MIN_BASE_REACHABLE_TIME);
            reachable = random_reachable_time(base, &mut self.rng);
        }
        let retrans = if ra.retrans_time != 0 {
            Duration::from_millis(u64::from(ra.retrans_time.min(3_600_000))).max(MIN_RETRANS_TIMER)
        } else {
            cfg.retrans_timer
        };
        self.ipv6.neighbors.set_timers(reachable, retrans);
        // "If the advertisement contains a Source Link-Layer Address option,
        // the link-layer address SHOULD be recorded in the Neighbor Cache
        // entry for the router (creating an entry if necessary)".
        let sll = ra.options.source_lladdr();
        self.learn_source_lladdr(now, src, sll);
        // Default router list, RFC 4191 preference.
        if self.ipv6.routers.update(now, src, ra.router_lifetime, ra.preference()) {
            log::info!("ipv6: default router {src} ({:?})", ra.preference());
        }
        // RFC 4861 §6.3.7: "Once the host sends a Router Solicitation, and
        // receives a valid Router Advertisement with a non-zero Router
        // Lifetime, the host MUST desist from sending additional
        // solicitations on that interface".
        if ra.router_lifetime != 0 {
            self.ipv6.rs.at = None;
        }
        for opt in ra.options.iter() {
            match opt {
                NdiscOption::Mtu(mtu) => {
                    // "hosts SHOULD copy the option's value into LinkMTU so
                    // long as the value is greater than or equal to the
                    // minimum link MTU [IPv6] and does not exceed the maximum
                    // LinkMTU value".
                    let mtu = usize::try_from(mtu).unwrap_or(usize::MAX);
                    if mtu >= crate::ip::pmtu::IPV6_MIN_MTU && mtu <= self.mtu() {
                        self.ipv6.link_mtu = Some(mtu);
                    }
                }
                NdiscOption::PrefixInfo(p) => self.process_prefix(now, &p),
                NdiscOption::RouteInfo {
                    prefix_len,
                    preference: Some(pref),
                    lifetime,
                    prefix,
                } => {
                    // RFC 4191 §3.1: routes of the Route Information option
                    // go to the routing table with their lifetime.
                    let Some(cidr) = IpCidr::new(IpAddr::V6(prefix), prefix_len).map(|c| c.network()) else {
                        continue;
                    };
                    if prefix_len == 0 {
                        continue;
                    }
                    let metric = match pref {
                        crate::wire::ndisc::RouterPreference::High => 1,
                        crate::wire::ndisc::RouterPreference::Medium => 2,
                        crate::wire::ndisc::RouterPreference::Low => 3,
                    };
                    // A route is installed exactly while its entry is in the
                    // bounded list: one pushed out takes its route along, and
                    // one the full list refused installs none.
                    let routes = &mut self.routes;
                    self.ipv6.route_infos.update_evicting(now, (cidr, src), lifetime, |(c, via)| {
                        routes.remove(*c, Some(IpAddr::V6(*via)));
                    });
                    self.routes.remove(cidr, Some(IpAddr::V6(src)));
                    if self.ipv6.route_infos.contains(&(cidr, src)) {
                        let _ = self.routes.add(Route {
                            cidr,
                            via: Some(IpAddr::V6(src)),
                            metric,
                        });
                    }
                }
                NdiscOption::Rdnss { lifetime, addresses } => {
                    // RFC 8106 §5.3.1: "the host MUST ... update the
                    // expiration time of each address" / delete with
                    // lifetime zero.
                    for a in rdnss_addresses(addresses) {
                        // A DNS server is one unicast host elsewhere: `::`,
                        // `::1` (this host) or a group cannot be one.
                        if a.is_unspecified() || a.is_loopback() || a.is_multicast() {
                            self.stats.record(Drop::NdpBadDnsServer);
                            continue;
                        }
                        self.ipv6.dns.update(now, a, lifetime);
                    }
                }
                NdiscOption::Dnssl { lifetime, domains } => {
                    let list = &mut self.ipv6.domains;
                    dnssl_names(domains, |name| {
                        list.update(now, name, lifetime);
                    });
                }
                _ => {}
            }
        }
    }

    /// RFC 4861 §6.3.4 (on-link) and RFC 4862 §5.5.3 (autonomous) for one
    /// Prefix Information option.
    fn process_prefix(&mut self, now: Instant, p: &PrefixInfo) {
        let Some(cidr) = IpCidr::new(IpAddr::V6(p.prefix), p.prefix_len).map(|c| c.network()) else {
            return;
        };
        // RFC 4861 §6.3.4: "If the prefix is the link-local prefix, silently
        // ignore the Prefix Information option." (RFC 4862 §5.5.3 (b) for
        // autoconfiguration.)
        if is_link_local(p.prefix) {
            return;
        }
        // Nor is a multicast, loopback or unspecified prefix a subnet of
        // this link: RFC 4291 §2.7 says multicast addresses "must not be
        // used as source addresses", so SLAAC must not form one (Linux's
        // addrconf ignores such prefixes the same way).
        if !is_unicast_prefix(cidr) {
            return;
        }
        if p.flags & PREFIX_FLAG_ON_LINK != 0 {
            // "If the prefix is not already in the Prefix List, and the
            // Prefix Information option's Valid Lifetime field is non-zero,
            // create a new entry" ... "If the prefix is already present ...
            // reset its invalidation timer" ... "If ... the received Valid
            // Lifetime value is zero, immediately time-out the entry".
            // A prefix pushed out of the bounded list takes its route along.
            let before = self.ipv6.prefixes.contains(&cidr);
            let (routes, addrs) = (&mut self.routes, &self.ipv6.addrs);
            self.ipv6.prefixes.update_evicting(now, cidr, p.valid_lifetime, |c| {
                remove_prefix_route(routes, addrs, *c);
            });
            let after = self.ipv6.prefixes.contains(&cidr);
            if !before && after {
                let _ = self.routes.add(Route::on_link(cidr, 0));
            } else if before && !after {
                remove_prefix_route(&mut self.routes, &self.ipv6.addrs, cidr);
            }
        }
        // RFC 4862 §5.5.3: "a) If the Autonomous flag is not set, silently
        // ignore the Prefix Information option." ... "c) If the preferred
        // lifetime is greater than the valid lifetime, silently ignore the
        // Prefix Information option."
        if p.flags & PREFIX_FLAG_AUTONOMOUS == 0 || !self.ipv6.slaac || p.preferred_lifetime > p.valid_lifetime {
            return;
        }
        let existing: Vec<Ipv6Addr> = self
            .ipv6
            .addrs
            .iter()
            .filter(|e| e.origin == AddrOrigin::Slaac && e.prefix_len == p.prefix_len && cidr.contains_addr(&IpAddr::V6(e.addr)))
            .map(|e| e.addr)
            .collect();
        if !existing.is_empty() {
            // "e) If the advertised prefix is equal to the prefix of an
            // address configured by stateless autoconfiguration in the list,
            // the preferred lifetime of the address is reset to the Preferred
            // Lifetime in the received advertisement." (+ the two-hour rule)
            for a in existing {
                self.ipv6.addrs.refresh_slaac(now, a, p.valid_lifetime, p.preferred_lifetime);
            }
            return;
        }
        // "d) If the prefix advertised is not equal to the prefix of an
        // address configured by stateless autoconfiguration already in the
        // list of addresses associated with the interface (where "equal"
        // means the two prefix lengths are the same and the first
        // prefix-length bits of the prefixes are identical), and if the
        // Valid Lifetime is not 0, form an address ... If the sum of the
        // prefix length and interface identifier length does not equal 128
        // bits, the Prefix Information option MUST be ignored."
        if p.valid_lifetime == 0 || p.prefix_len != 64 {
            return;
        }
        let addr = with_iid(p.prefix, self.interface_id(p.prefix, 0));
        let lifetimes = Lifetimes {
            preferred_until: deadline(now, p.preferred_lifetime),
            valid_until: deadline(now, p.valid_lifetime),
        };
        match self.ipv6_add(now, addr, 64, AddrOrigin::Slaac, lifetimes, 0) {
            Ok(()) => log::info!("ipv6: SLAAC address {addr}/64 (tentative)"),
            Err(e) => log::debug!("ipv6: no SLAAC address from {cidr}: {e}"),
        }
    }

    /// RFC 4861 §8.1 validation and §8.3 processing of a Redirect: "IP
    /// Source Address is a link-local address", "The IP source address of
    /// the Redirect is the same as the current first-hop router for the
    /// specified ICMP Destination Address", "The ICMP Target Address is
    /// either a link-local address (when redirected to a router) or the
    /// same as the ICMP Destination Address (when redirected to the
    /// on-link destination)."
    /// The /128 route a redirect makes, bounded: a redirect pushed out or
    /// expired takes its route along.
    fn install_redirect_route(&mut self, now: Instant, host: IpCidr, via: Option<IpAddr>) {
        let routes = &mut self.routes;
        self.ipv6.redirects.update_evicting(now, host, REDIRECT_LIFETIME_SECS, |c| {
            routes.remove_matching(|r| r.cidr == *c);
        });
        self.routes.remove_matching(|r| r.cidr == host);
        let _ = self.routes.add(Route {
            cidr: host,
            via,
            metric: 0,
        });
    }

    fn process_redirect(&mut self, now: Instant, src: Ipv6Addr, target: Ipv6Addr, destination: Ipv6Addr, options: NdiscOptions<'_>) {
        let first_hop = match self.route_ipv6(destination) {
            Ok(super::ipv6_out::NextHop6::Link(h)) => h,
            _ => {
                self.stats.record(Drop::NdpInvalid);
                return;
            }
        };
        if !is_link_local(src) || first_hop != src || !(is_link_local(target) || target == destination) {
            self.stats.record(Drop::NdpInvalid);
            return;
        }
        // §8.3: "the host MUST update its destination cache" — a /128 route.
        let Some(host) = IpCidr::new(IpAddr::V6(destination), 128) else {
            return;
        };
        // A host route someone else made (the user, a Route Information
        // option) stays theirs: a redirect replaces only its own, and its
        // expiry must never take away a route it did not add.
        if !self.ipv6.redirects.contains(&host) && self.routes.iter().any(|r| r.cidr == host) {
            self.stats.record(Drop::NdpRedirectKeptRoute);
        } else {
            self.install_redirect_route(now, host, (target != destination).then_some(IpAddr::V6(target)));
        }
        // "If the redirect contains a Target Link-Layer Address option, the
        // host either creates or updates the Neighbor Cache entry for the
        // target. In both cases, the cached link-layer address is copied
        // from the Target Link-Layer Address option. If a Neighbor Cache
        // entry is created for the target, its reachability state MUST be
        // set to STALE".
        if let Some(tll) = options.target_lladdr() {
            let how = NudUpdate {
                advert: false,
                solicited: false,
                override_flag: true,
            };
            let out = self.ipv6.neighbors.update_nud(now, IpAddr::V6(target), Some(tll), how);
            self.ipv6_neighbor_outcome(now, Some(tll), out);
        }
    }

    // ---- timers -----------------------------------------------------------

    /// Router solicitations (RFC 4861 §6.3.7): "a host SHOULD transmit up
    /// to MAX_RTR_SOLICITATIONS Router Solicitation messages, each
    /// separated by at least RTR_SOLICITATION_INTERVAL seconds"; then
    /// (RFC 7559 §2) keep going with the interval doubled each time up to
    /// MAX_RTR_SOLICITATION_INTERVAL.
    fn poll_router_solicit(&mut self, now: Instant) {
        let Some(at) = self.ipv6.rs.at else { return };
        if at > now {
            return;
        }
        self.ipv6.rs.sent += 1;
        let interval = self.ipv6.rs.interval;
        self.ipv6.rs.at = Some(now + interval);
        if self.ipv6.rs.sent >= MAX_RTR_SOLICITATIONS {
            self.ipv6.rs.interval = (interval + interval).min(MAX_RTR_SOLICITATION_INTERVAL);
        }
        // "the Source Link-Layer Address option SHOULD be included" when the
        // source is not the unspecified address (§4.1).
        let ll = self
            .ipv6
            .addrs
            .iter()
            .find(|e| e.origin == AddrOrigin::LinkLocal && e.state == AddrState::Preferred)
            .map(|e| e.addr);
        let mut opts = [0u8; 8];
        let (src, n) = match ll {
            Some(a) => (a, NdiscOption::SourceLinkLayer(self.mac).emit(&mut opts)),
            None => (Ipv6Addr::UNSPECIFIED, 0),
        };
        let repr = NdiscRepr::RouterSolicit {
            options: NdiscOptions::new_checked(&opts[..n]).unwrap_or(NdiscOptions::EMPTY),
        };
        self.send_ndisc(now, Some(src), ALL_ROUTERS, repr);
    }

    /// Every IPv6 timer.
    pub(super) fn poll_ipv6(&mut self, now: Instant) {
        if !self.ipv6.enabled() {
            return;
        }
        self.poll_dad(now);
        self.poll_router_solicit(now);
        self.poll_mld(now);
        let mut events = Vec::new();
        self.ipv6.addrs.poll(now, &mut |e| events.push(e));
        for e in events {
            if let AddrEvent::Removed(addr, _) = e {
                log::info!("ipv6: {addr} expired");
                self.addresses.retain(|c| c.address() != IpAddr::V6(addr));
                self.ipv6.dad.retain(|d| d.addr != addr);
                self.mld_left(now, solicited_node(addr));
            }
        }
        self.ipv6.routers.expire(now);
        let (routes, addrs) = (&mut self.routes, &self.ipv6.addrs);
        self.ipv6.prefixes.expire(now, |c| {
            remove_prefix_route(routes, addrs, *c);
        });
        self.ipv6.route_infos.expire(now, |(c, via)| {
            routes.remove(*c, Some(IpAddr::V6(*via)));
        });
        self.ipv6.redirects.expire(now, |c| {
            routes.remove_matching(|r| r.cidr == *c);
        });
        self.ipv6.dns.expire(now, |_| {});
        self.ipv6.domains.expire(now, |_| {});
        // Neighbour cache: solicitations, probes, failures.
        let mut actions = core::mem::take(&mut self.ipv6.neighbor_actions);
        self.ipv6.neighbors.poll(now, &mut |a| actions.push(a));
        for action in actions.drain(..) {
            match action {
                NeighborAction::SendRequest {
                    ip: IpAddr::V6(ip),
                    unicast_to,
                } => self.send_neighbor_solicit(now, ip, unicast_to),
                NeighborAction::SendRequest { .. } => {}
                NeighborAction::Unreachable { ip: IpAddr::V6(ip) } => {
                    log::debug!("ipv6: neighbour {ip} unreachable");
                }
                NeighborAction::Unreachable { .. } => {}
                NeighborAction::Failed { packet, .. } => {
                    // RFC 4861 §7.2.2: "If no Neighbor Advertisement is
                    // received after MAX_MULTICAST_SOLICIT solicitations,
                    // address resolution has failed. The sender MUST return
                    // ICMP destination unreachable indications with code 3
                    // (Address Unreachable) for each packet queued awaiting
                    // address resolution." (Locally: host unreachable.)
                    self.stats.record(Drop::NdpUnresolved);
                    self.report_unreachable_locally(now, &packet.buf[crate::wire::ethernet::HEADER_LEN..]);
                    self.pool.give(packet.buf);
                }
            }
        }
        self.ipv6.neighbor_actions = actions;
    }

    pub(super) fn ipv6_poll_at(&self) -> Option<Instant> {
        let v6 = &self.ipv6;
        if !v6.enabled() {
            return None;
        }
        let mut at = v6.neighbors.poll_at();
        at = earliest(at, v6.dad.iter().map(|d| d.at).min());
        at = earliest(at, v6.rs.at);
        at = earliest(at, v6.mld.poll_at());
        at = earliest(at, v6.addrs.poll_at());
        at = earliest(at, v6.routers.poll_at());
        at = earliest(at, v6.prefixes.poll_at());
        at = earliest(at, v6.route_infos.poll_at());
        at = earliest(at, v6.redirects.poll_at());
        at = earliest(at, v6.dns.poll_at());
        earliest(at, v6.domains.poll_at())
    }
}
