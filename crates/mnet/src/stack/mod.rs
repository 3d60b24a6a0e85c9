//! The sans-IO engine: one value that owns every table and timer.
//!
//! It never reads a clock, never sleeps and never touches a device:
//!
//! - input: [`Stack::receive`] (a frame), [`Stack::poll`] (timers), and the
//!   socket operations (bind, send, receive, ...);
//! - output: frames through [`Stack::transmit`], readiness through the
//!   `Waker`s that socket futures registered;
//! - [`Stack::poll_at`]: when the engine next needs [`Stack::poll`].
//!
//! ```
//! use mnet::{config::Config, stack::Stack, Instant, link::FrameMeta};
//! let mac = mnet::wire::EthernetAddress([0x02, 0, 0, 0, 0, 1]);
//! let config = Config::new(mac, [7; 32]).address("10.0.0.2/24".parse().unwrap());
//! let mut stack = Stack::new(config, Instant::ZERO);
//! stack.poll(Instant::ZERO);
//! // The static address is announced at start (RFC 5227 §2.3).
//! let mut frames = 0;
//! stack.transmit(&mut |_meta: &FrameMeta, _frame: &[u8]| { frames += 1; true });
//! assert_eq!(frames, 1);
//! ```

mod arp;
mod icmpv4;
mod icmpv6;
mod ipv4_in;
mod ipv4_out;
mod ipv6_in;
mod ipv6_out;
mod mld;
mod ndp;
#[cfg(test)]
mod offload_tests;
mod sockets;
mod tcp;
#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ipv6;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr};
use core::task::Waker;

use crate::config::{Config, Limits};
use crate::error::{Error, Result};
use crate::icmp_socket::EchoTable;
use crate::ip::pmtu::{PmtuCache, PmtuConfig};
use crate::ip::rate_limit::{ICMP_ERROR_BURST, ICMP_ERROR_RATE, TokenBucket};
use crate::ip::reassembly::Reassembler;
use crate::ip::route::{Route, RouteTable};
use crate::link::neighbor::{NeighborAction, NeighborCache};
use crate::link::{DeviceCapabilities, FrameMeta};
use crate::pool::BufferPool;
use crate::rand::Rng;
use crate::stats::{Drop, Stats};
use crate::time::{Instant, earliest};
use crate::udp::UdpTable;
use crate::wire::{EtherType, EthernetAddress, EthernetFrame, IpCidr};

pub use arp::{ANNOUNCE_INTERVAL, ANNOUNCE_NUM, DEFEND_INTERVAL};
pub use ndp::{Ipv6Status, MAX_RTR_SOLICITATION_DELAY, MAX_RTR_SOLICITATION_INTERVAL, MAX_RTR_SOLICITATIONS, RTR_SOLICITATION_INTERVAL};
pub use sockets::{EchoEvent, TimerId};

/// What TCP and UDP input need from the IP layer, either family.
#[derive(Clone, Copy)]
pub(crate) struct TransportMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// DSCP and ECN (IPv4) or Traffic Class (IPv6).
    pub dscp_ecn: u8,
    /// Sent to a broadcast or multicast address.
    pub broadcast: bool,
    /// The transport checksum was validated by the device.
    pub csum_valid: bool,
}

/// What became of a UDP datagram.
pub(crate) enum UdpInput {
    Delivered,
    /// No socket: the caller answers with port unreachable.
    NoPort,
    Dropped,
}

/// A frame waiting for the device.
struct TxFrame {
    meta: FrameMeta,
    buf: Vec<u8>,
}

/// An IPv4 packet waiting for its next hop's MAC: the buffer starts with
/// `ethernet::HEADER_LEN` bytes of headroom for the Ethernet header.
pub(crate) struct PendingPacket {
    buf: Vec<u8>,
    /// Offload metadata for the device (a partial checksum, a TCP
    /// super-segment), kept while the next hop resolves.
    meta: FrameMeta,
}

/// A pending RFC 5227 announcement of one of our addresses.
struct Announcement {
    addr: Ipv4Addr,
    remaining: u8,
    at: Instant,
}

/// The engine. See the module documentation.
pub struct Stack {
    mac: EthernetAddress,
    caps: DeviceCapabilities,
    mtu_override: Option<usize>,
    addresses: Vec<IpCidr>,
    routes: RouteTable,
    ipv4_gateway: Option<Ipv4Addr>,
    neighbors: NeighborCache<EthernetAddress, PendingPacket>,
    /// Quotes of datagrams whose reassembly timed out, to answer with
    /// Time Exceeded (reused scratch space).
    expired_quotes: Vec<Vec<u8>>,
    /// Scratch space reused by neighbour resolution (no allocation per event).
    neighbor_actions: Vec<NeighborAction<EthernetAddress, PendingPacket>>,
    reassembly: Reassembler,
    pmtu: PmtuCache,
    icmp_errors: TokenBucket,
    udp: UdpTable,
    echo: EchoTable,
    tcp: tcp::TcpTable,
    timers: BTreeMap<(Instant, u64), Waker>,
    next_timer_id: u64,
    tx: VecDeque<TxFrame>,
    tx_waiters: Vec<Waker>,
    loopback: VecDeque<Vec<u8>>,
    pool: BufferPool,
    rng: Rng,
    ip_ident: u16,
    announcements: Vec<Announcement>,
    last_defend: Option<Instant>,
    ttl: u8,
    /// IPv6: addresses, neighbour discovery, routers, MLD.
    ipv6: ndp::Ipv6State,
    limits: Limits,
    stats: Stats,
    now: Instant,
}

impl Stack {
    /// A stack with the configuration's MAC, addresses and gateway.
    /// Static IPv4 addresses are announced (RFC 5227 §2.3) from the first poll.
    pub fn new(config: Config, now: Instant) -> Stack {
        let Config {
            mac,
            addresses,
            ipv4_gateway,
            mtu,
            seed,
            ttl,
            limits,
            tcp: tcp_config,
            ipv6: ipv6_config,
        } = config;
        let dual_stack = !ipv6_config.v6only;
        let mut rng = Rng::from_seed(seed);
        let mut stack = Stack {
            mac,
            caps: DeviceCapabilities::default(),
            mtu_override: mtu,
            addresses: Vec::new(),
            routes: RouteTable::new(limits.max_routes),
            ipv4_gateway: None,
            neighbors: NeighborCache::new(limits.neighbor, &mut rng),
            neighbor_actions: Vec::new(),
            expired_quotes: Vec::new(),
            reassembly: Reassembler::new(limits.reassembly, &mut rng),
            pmtu: PmtuCache::new(
                PmtuConfig {
                    capacity: limits.pmtu_entries,
                    ..PmtuConfig::default()
                },
                &mut rng,
            ),
            icmp_errors: TokenBucket::new(ICMP_ERROR_RATE, ICMP_ERROR_BURST),
            udp: UdpTable::new(limits.max_sockets, &mut rng),
            echo: EchoTable::new(limits.max_sockets, &mut rng),
            tcp: tcp::TcpTable::new(tcp_config, &limits, &mut rng),
            timers: BTreeMap::new(),
            next_timer_id: 0,
            tx: VecDeque::new(),
            tx_waiters: Vec::new(),
            loopback: VecDeque::new(),
            pool: BufferPool::new(limits.buffer_pool),
            ip_ident: rng.next_u32() as u16,
            ipv6: ndp::Ipv6State::new(ipv6_config, &limits, &mut rng),
            rng,
            announcements: Vec::new(),
            last_defend: None,
            ttl,
            limits,
            stats: Stats::default(),
            now,
        };
        stack.tcp.dual_stack = dual_stack;
        stack.udp.dual_stack = dual_stack;
        stack.ipv6_start(now);
        for cidr in addresses {
            // A bad static configuration is the caller's error; the
            // constructor keeps what it can and the counters stay clean.
            let _ = stack.add_address(now, cidr);
        }
        if let Some(gw) = ipv4_gateway {
            let _ = stack.set_ipv4_gateway(Some(gw));
        }
        stack
    }

    // ---- configuration (live) -------------------------------------------

    /// Our MAC address.
    pub fn mac(&self) -> EthernetAddress {
        self.mac
    }

    /// Tell the engine what the device can do (MTU, offloads).
    pub fn set_capabilities(&mut self, caps: DeviceCapabilities) {
        self.caps = caps;
    }

    /// The IP MTU of the link.
    pub fn mtu(&self) -> usize {
        let m = self.caps.mtu;
        self.mtu_override.map_or(m, |o| o.min(m))
    }

    /// Every configured address.
    pub fn addresses(&self) -> &[IpCidr] {
        &self.addresses
    }

    /// Add an address and its on-link route; IPv4 addresses are announced.
    pub fn add_address(&mut self, now: Instant, cidr: IpCidr) -> Result<()> {
        if self.addresses.iter().any(|a| a.address() == cidr.address()) {
            return Err(Error::AddressInUse);
        }
        if self.addresses.len() >= self.limits.max_addresses {
            return Err(Error::WouldExceedLimit);
        }
        let ip = cidr.address();
        if let IpAddr::V6(v6) = ip {
            // Duplicate address detection first (RFC 4862 §5.4).
            return self.ipv6_add_static(now, v6, cidr.prefix_len());
        }
        // Loopback belongs to the engine itself, and multicast, broadcast
        // and class E addresses name no single host.
        let bad_v4 = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast() || v4.is_loopback() || v4.octets()[0] >= 240);
        if ip.is_unspecified() || ip.is_multicast() || ip.is_loopback() || bad_v4 {
            return Err(Error::InvalidInput);
        }
        self.routes.add(Route {
            cidr: cidr.network(),
            via: None,
            metric: 0,
        })?;
        self.addresses.push(cidr);
        if let IpAddr::V4(v4) = ip {
            // RFC 5227 §2.3: "the host MUST then broadcast ANNOUNCE_NUM ARP
            // Announcements, spaced ANNOUNCE_INTERVAL seconds apart."
            self.announcements.retain(|a| a.addr != v4);
            self.announcements.push(Announcement {
                addr: v4,
                remaining: ANNOUNCE_NUM,
                at: now,
            });
        }
        Ok(())
    }

    /// Remove an address (and its on-link route unless another address
    /// shares the prefix).
    pub fn remove_address(&mut self, ip: IpAddr) -> Result<()> {
        if let IpAddr::V6(v6) = ip
            && self.ipv6.addrs.remove(v6).is_some()
        {
            self.ipv6_address_removed(v6);
            if !self.addresses.iter().any(|a| a.address() == ip) {
                return Ok(());
            }
        }
        let pos = self
            .addresses
            .iter()
            .position(|a| a.address() == ip)
            .ok_or(Error::AddressNotAvailable)?;
        let cidr = self.addresses.remove(pos);
        let net = cidr.network();
        if !self.addresses.iter().any(|a| a.network() == net) {
            self.routes.remove(net, None);
        }
        if let IpAddr::V4(v4) = ip {
            self.announcements.retain(|a| a.addr != v4);
        }
        Ok(())
    }

    /// Set or clear the IPv4 default gateway.
    pub fn set_ipv4_gateway(&mut self, gw: Option<Ipv4Addr>) -> Result<()> {
        let default: IpCidr = IpCidr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0).ok_or(Error::InvalidInput)?;
        if let Some(old) = self.ipv4_gateway.take() {
            self.routes.remove(default, Some(IpAddr::V4(old)));
        }
        if let Some(gw) = gw {
            self.routes.add(Route {
                cidr: default,
                via: Some(IpAddr::V4(gw)),
                metric: 0,
            })?;
            self.ipv4_gateway = Some(gw);
        }
        Ok(())
    }

    /// Add a route (`via: None` for on-link).
    pub fn add_route(&mut self, route: Route) -> Result<()> {
        self.routes.add(route)
    }

    /// The routing table.
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// Whether `ip` is one of our addresses.
    pub fn has_address(&self, ip: &IpAddr) -> bool {
        self.addresses.iter().any(|a| a.address() == *ip)
    }

    /// Every counter.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The path MTU currently known for `dst` (the link MTU if nothing is cached).
    pub fn path_mtu(&mut self, now: Instant, dst: IpAddr) -> usize {
        let mut link = self.mtu();
        if let (IpAddr::V6(_), Some(m)) = (dst, self.ipv6.link_mtu) {
            // RFC 4861 §6.3.4: the MTU option sets the link MTU for IPv6.
            link = link.min(m);
        }
        self.pmtu.get(now, dst).map_or(link, |p| p.min(link))
    }

    // ---- the sans-IO entry points ---------------------------------------

    /// One frame from the device.
    pub fn receive(&mut self, now: Instant, meta: &FrameMeta, frame: &[u8]) {
        self.now = now;
        let t = &mut self.stats.traffic;
        t.frames_in += 1;
        t.bytes_in += frame.len() as u64;
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.stats.record(Drop::EthTruncated);
            return;
        };
        let dst = eth.dst_addr();
        // IPv6 multicast (RFC 2464 §7: 33:33:xx:xx:xx:xx) is filtered by
        // group in the IPv6 layer.
        let v6_multicast = dst.0[0] == 0x33 && dst.0[1] == 0x33 && self.ipv6.enabled();
        if dst != self.mac && !dst.is_broadcast() && !v6_multicast {
            self.stats.record(Drop::EthNotForUs);
            return;
        }
        let Some(csum_valid) = self.rx_offload_checksum_valid(meta, frame.len()) else {
            self.stats.record(Drop::EthBadOffload);
            return;
        };
        match eth.ethertype() {
            EtherType::Arp => self.process_arp(now, eth.payload()),
            EtherType::Ipv4 => self.process_ipv4(now, true, dst.is_broadcast(), eth.payload(), csum_valid),
            EtherType::Ipv6 => self.process_ipv6(
                now,
                Some(eth.src_addr()),
                dst.is_broadcast() || v6_multicast,
                eth.payload(),
                csum_valid,
            ),
            EtherType::Unknown(_) => self.stats.record(Drop::EthUnknownType),
        }
        self.drain_loopback(now);
    }

    /// Run every timer that is due at `now`.
    ///
    /// It also ends a receive batch: the frames given to
    /// [`Stack::receive`] since the last call owe at most one ACK per
    /// connection, sent now (or by [`Stack::transmit`], whichever runs
    /// first) — unless [`Stack::hold_receive_batch`] keeps the batch open
    /// until [`Stack::end_receive_batch`].
    pub fn poll(&mut self, now: Instant) {
        self.now = now;
        if !self.tcp.batch_held() {
            self.tcp_end_receive_batch(now);
        }
        self.poll_neighbors(now);
        self.poll_reassembly(now);
        self.poll_announcements(now);
        self.poll_ipv6(now);
        self.poll_tcp(now);
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            entry.remove().wake();
        }
        self.drain_loopback(now);
    }

    /// When [`Stack::poll`] must run next (`None`: only on input).
    pub fn poll_at(&self) -> Option<Instant> {
        let mut at = self.neighbors.poll_at();
        at = earliest(at, self.reassembly.poll_at());
        at = earliest(at, self.announcements.iter().map(|a| a.at).min());
        at = earliest(at, self.timers.first_key_value().map(|(k, _)| k.0));
        at = earliest(at, self.tcp.poll_at());
        at = earliest(at, self.ipv6_poll_at());
        if !self.loopback.is_empty() || self.tcp.acks_pending() {
            at = earliest(at, Some(self.now));
        }
        at
    }

    /// Hand queued frames to `sink` in order; `sink` returns `false` when
    /// the device is full (back-pressure: the frame stays queued).
    /// Returns how many frames the device took. Like [`Stack::poll`], it
    /// ends a receive batch that is not held.
    pub fn transmit(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8]) -> bool) -> usize {
        if self.tcp.acks_pending() && !self.tcp.batch_held() {
            self.end_receive_batch();
        }
        let mut sent = 0;
        while let Some(f) = self.tx.pop_front() {
            if !sink(&f.meta, &f.buf) {
                self.tx.push_front(f);
                break;
            }
            let t = &mut self.stats.traffic;
            t.frames_out += 1;
            t.bytes_out += f.buf.len() as u64;
            self.pool.give(f.buf);
            sent += 1;
        }
        if sent > 0 && self.tx.len() <= self.limits.tx_queue_frames / 2 {
            for w in self.tx_waiters.drain(..) {
                w.wake();
            }
            let now = self.now;
            self.tcp_unblock(now);
        }
        sent
    }

    /// Frames waiting for the device.
    pub fn tx_pending(&self) -> usize {
        self.tx.len()
    }

    // ---- internals shared by the protocol files --------------------------

    /// A buffer for an outgoing IP packet of `len` bytes (with headroom).
    /// TCP writes every byte of its header (`TcpRepr::emit`: every field,
    /// options laid out to their exact length) and of its payload, and the
    /// IP and Ethernet emitters every byte of theirs, so a TCP packet's
    /// buffer is not zeroed first (`stack/tcp_tx_buffer_tests.rs` builds
    /// segments in poisoned buffers); other protocols may leave reserved
    /// fields to the zeroes.
    ///
    /// The buffer is `len` bytes long and ends with `tail` (a TCP segment's
    /// data, copied in as the buffer is built, so it is neither zeroed first
    /// nor copied again); a tail longer than `max_tail` (the transport
    /// payload) is ignored.
    fn take_tx_buffer(&mut self, protocol: crate::wire::IpProtocol, len: usize, tail: &[u8], max_tail: usize) -> Vec<u8> {
        let tail = if tail.len() <= max_tail.min(len) { tail } else { &[] };
        let head = len - tail.len();
        let mut buf = if protocol == crate::wire::IpProtocol::Tcp {
            self.pool.take_for_overwrite(head)
        } else {
            self.pool.take(head)
        };
        buf.extend_from_slice(tail);
        buf
    }

    /// Queue a complete frame for the device (counted drop when full).
    fn push_frame(&mut self, buf: Vec<u8>) {
        self.push_frame_meta(buf, FrameMeta::PLAIN);
    }

    /// Queue a frame with its offload metadata (counted drop when full).
    fn push_frame_meta(&mut self, buf: Vec<u8>, meta: FrameMeta) {
        if self.tx.len() >= self.limits.tx_queue_frames {
            self.stats.record(Drop::TxQueueFull);
            self.pool.give(buf);
            return;
        }
        self.tx.push_back(TxFrame { meta, buf });
    }

    /// Queue an IP packet `frame` (behind its Ethernet header) of `ip_len`
    /// bytes if it fits the path MTU, or is a super-segment the device
    /// splits; otherwise hand it back, its partial checksum completed, to
    /// be fragmented (`None`: it was queued, or dropped and counted).
    fn push_or_give_back_for_fragmenting(&mut self, mut frame: Vec<u8>, meta: FrameMeta, ip_len: usize, mtu: usize) -> Option<Vec<u8>> {
        if ip_len <= mtu || (meta.is_gso() && ip_len <= self.caps.max_gso_size) {
            self.push_frame_meta(frame, meta);
            return None;
        }
        // Fragments cannot carry a partial checksum: the device would see
        // only the first piece of the transport segment. Complete it here;
        // a super-segment too large for the device cannot be fragmented.
        if meta.is_gso() || crate::link::offload::complete_partial_checksum(&meta, &mut frame).is_err() {
            self.stats.record(Drop::TxTooBig);
            self.pool.give(frame);
            return None;
        }
        Some(frame)
    }

    /// One fragment into the reassembly table (either family); datagrams
    /// evicted to make room are counted.
    fn insert_fragment(
        &mut self,
        now: Instant,
        key: crate::ip::reassembly::FragKey,
        offset: usize,
        more_fragments: bool,
        header: &[u8],
        data: &[u8],
    ) -> core::result::Result<Option<crate::ip::reassembly::Reassembled>, crate::ip::reassembly::FragError> {
        let evicted_before = self.reassembly.evicted();
        let result = self.reassembly.insert_with_header(now, key, offset, more_fragments, header, data);
        for _ in evicted_before..self.reassembly.evicted() {
            self.stats.record(Drop::FragEvicted);
        }
        result
    }

    /// Whether `n` more frames fit in the transmit queue.
    fn tx_has_room(&self, n: usize) -> bool {
        self.tx.len() + n <= self.limits.tx_queue_frames
    }

    /// A frame buffer of `len` bytes with its Ethernet header written.
    fn frame_buf(&mut self, len: usize, dst: EthernetAddress, ethertype: EtherType) -> Vec<u8> {
        let mut buf = self.pool.take(len);
        let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.set_dst_addr(dst);
        eth.set_src_addr(self.mac);
        eth.set_ethertype(ethertype);
        buf
    }

    /// Our IPv4 address on the subnet of `peer`, else our first IPv4 address.
    fn ipv4_source_for(&self, peer: Ipv4Addr) -> Option<Ipv4Addr> {
        let peer_ip = IpAddr::V4(peer);
        let v4 = |c: &IpCidr| match c.address() {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        };
        self.addresses
            .iter()
            .filter(|c| c.contains_addr(&peer_ip))
            .find_map(v4)
            .or_else(|| self.addresses.iter().find_map(v4))
    }

    /// Whether `ip` is a broadcast address for us: limited broadcast or
    /// the directed broadcast of one of our prefixes.
    fn is_ipv4_broadcast(&self, ip: Ipv4Addr) -> bool {
        ip.is_broadcast() || self.addresses.iter().any(|c| c.broadcast() == Some(ip))
    }

    /// Process packets sent to our own addresses.
    fn drain_loopback(&mut self, now: Instant) {
        // Bounded: a request to ourselves makes at most a reply, but the
        // budget guarantees this loop ends whatever is queued.
        let mut budget = 2 * self.limits.loopback_packets;
        while budget > 0 {
            budget -= 1;
            let Some(pkt) = self.loopback.pop_front() else { break };
            self.stats.traffic.loopback += 1;
            if pkt.first().is_some_and(|b| b >> 4 == 6) {
                self.process_ipv6(now, None, false, &pkt, true);
            } else {
                self.process_ipv4(now, false, false, &pkt, true);
            }
            self.pool.give(pkt);
        }
    }
}
