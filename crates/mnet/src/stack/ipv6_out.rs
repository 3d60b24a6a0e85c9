//! IPv6 output (RFC 8200, RFC 4861 §5.2 "Conceptual Sending Algorithm"):
//! routing with the default-router list, source address selection,
//! neighbour resolution, multicast, loopback, and fragmentation at the
//! source (RFC 8200 §4.5).

use alloc::vec::Vec;
use core::net::{IpAddr, Ipv6Addr};

use super::{PendingPacket, Stack};
use crate::error::{Error, Result};
use crate::ip::ipv6_addr::{AddrState, is_link_local, multicast_mac};
use crate::ip::pmtu::IPV6_MIN_MTU;
use crate::link::FrameMeta;
use crate::link::neighbor::EnqueueOutcome;
use crate::stats::Drop;
use crate::time::Instant;
use crate::wire::ipv6_ext::{FRAGMENT_HEADER_LEN, FragmentHeader, router_alert_hop_by_hop};
use crate::wire::{EtherType, EthernetAddress, EthernetFrame, IpProtocol, Ipv6Packet, Ipv6Repr, TcpPacket, TcpRepr, ethernet, ipv6};

/// What [`Stack::send_ipv6`] needs besides the payload.
#[derive(Clone, Copy)]
pub(super) struct Ipv6Tx {
    /// `None` (or `::` for DAD probes via `allow_unspecified`): chosen by
    /// source address selection.
    pub src: Option<Ipv6Addr>,
    pub dst: Ipv6Addr,
    pub protocol: IpProtocol,
    pub payload_len: usize,
    /// A socket operation: `WouldBlock` when the transmit queue is full.
    pub user: bool,
    /// `None`: the current default hop limit.
    pub hop_limit: Option<u8>,
    pub traffic_class: u8,
    /// Add a hop-by-hop header with the Router Alert option (MLD).
    pub router_alert: bool,
    /// Offload metadata for the device (a partial TCP checksum, a
    /// super-segment to split).
    pub meta: FrameMeta,
    /// The destination's link-layer address, known from the message this
    /// answers (a solicitation's Source Link-Layer Address option): the
    /// packet goes there directly, without the neighbour cache.
    pub link_dst: Option<EthernetAddress>,
}

impl Ipv6Tx {
    pub fn new(src: Option<Ipv6Addr>, dst: Ipv6Addr, protocol: IpProtocol, payload_len: usize) -> Self {
        Ipv6Tx {
            src,
            dst,
            protocol,
            payload_len,
            user: false,
            hop_limit: None,
            traffic_class: 0,
            router_alert: false,
            meta: FrameMeta::PLAIN,
            link_dst: None,
        }
    }

    pub fn user(mut self) -> Self {
        self.user = true;
        self
    }
}

/// Where an IPv6 packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NextHop6 {
    Loopback,
    Multicast,
    Link(Ipv6Addr),
}

impl Stack {
    /// RFC 4861 §5.2: "Next-hop determination for a given unicast
    /// destination operates as follows. The sender performs a longest
    /// prefix match against the Prefix List to determine whether the
    /// packet's destination is on- or off-link. If the destination is
    /// on-link, the next-hop address is the same as the packet's
    /// destination address. Otherwise, the sender selects a router from the
    /// Default Router List". (RFC 4943: no on-link assumption without one.)
    pub(super) fn route_ipv6(&self, dst: Ipv6Addr) -> Result<NextHop6> {
        if !self.ipv6.enabled() {
            return Err(Error::NetworkUnreachable);
        }
        if dst.is_loopback() || self.ipv6.addrs.is_usable(dst) {
            return Ok(NextHop6::Loopback);
        }
        if dst.is_multicast() {
            return Ok(NextHop6::Multicast);
        }
        if dst.is_unspecified() {
            return Err(Error::InvalidInput);
        }
        if is_link_local(dst) {
            return Ok(NextHop6::Link(dst));
        }
        if let Some(r) = self.routes.lookup(&IpAddr::V6(dst))
            && r.cidr.prefix_len() > 0
        {
            return Ok(match r.via {
                Some(IpAddr::V6(gw)) => NextHop6::Link(gw),
                _ => NextHop6::Link(dst),
            });
        }
        // A configured gateway wins over advertised routers.
        if let Some(gw) = self.ipv6.gateway {
            return Ok(NextHop6::Link(gw));
        }
        // RFC 4191 §3.2: prefer routers not known to be unreachable.
        let neighbors = &self.ipv6.neighbors;
        let reachable = |r: Ipv6Addr| neighbors.get(IpAddr::V6(r)).is_none_or(|v| v.lladdr.is_some());
        match self.ipv6.routers.best(reachable) {
            Some(r) => Ok(NextHop6::Link(r)),
            None => Err(Error::NetworkUnreachable),
        }
    }

    /// Source address selection, a subset of RFC 6724 §5: a source equal
    /// to the destination (rule 1), the appropriate scope (rule 2: a
    /// link-local source for link-local and link-scope multicast
    /// destinations), preferred before deprecated (rule 3), then the
    /// longest matching prefix (rule 8).
    pub(super) fn select_ipv6_source(&self, src: Option<Ipv6Addr>, dst: Ipv6Addr) -> Result<Ipv6Addr> {
        if let Some(s) = src.filter(|s| !s.is_unspecified()) {
            return if self.ipv6.addrs.is_usable(s) || s.is_loopback() {
                Ok(s)
            } else {
                Err(Error::AddressNotAvailable)
            };
        }
        if dst.is_loopback() {
            return Ok(Ipv6Addr::LOCALHOST);
        }
        let want_ll = is_link_local(dst) || (dst.is_multicast() && dst.segments()[0] & 0x000f <= 2);
        let common = |a: Ipv6Addr| (u128::from(a) ^ u128::from(dst)).leading_zeros();
        self.ipv6
            .addrs
            .iter()
            .filter(|e| matches!(e.state, AddrState::Preferred | AddrState::Deprecated))
            .max_by_key(|e| {
                (
                    e.addr == dst,
                    is_link_local(e.addr) == want_ll,
                    e.state == AddrState::Preferred,
                    common(e.addr),
                )
            })
            .map(|e| e.addr)
            .ok_or(Error::AddressNotAvailable)
    }

    /// How many frames a packet of `ip_len` bytes takes at `mtu`.
    fn ipv6_fragments_needed(ip_len: usize, mtu: usize) -> usize {
        if ip_len <= mtu {
            return 1;
        }
        let per = (mtu.saturating_sub(ipv6::HEADER_LEN + FRAGMENT_HEADER_LEN)) & !7;
        (ip_len - ipv6::HEADER_LEN).div_ceil(per.max(8))
    }

    /// Originate a packet: `fill(payload, src)` writes the transport
    /// payload (and its checksum). `src` may be `::` only for NDP/MLD.
    pub(super) fn send_ipv6(&mut self, now: Instant, tx: Ipv6Tx, fill: impl FnOnce(&mut [u8], Ipv6Addr)) -> Result<()> {
        self.send_ipv6_with_tail(now, tx, &[], fill)
    }

    /// [`Self::send_ipv6`] with the payload's last bytes placed when the
    /// buffer is built (see [`Self::send_ipv4_with_tail`]).
    pub(super) fn send_ipv6_with_tail(
        &mut self,
        now: Instant,
        tx: Ipv6Tx,
        tail: &[u8],
        fill: impl FnOnce(&mut [u8], Ipv6Addr),
    ) -> Result<()> {
        let Ipv6Tx {
            src,
            dst,
            protocol,
            payload_len,
            user,
            hop_limit,
            traffic_class,
            router_alert,
            meta,
            link_dst,
        } = tx;
        let next = self.route_ipv6(dst)?;
        let src = match src {
            Some(s) if s.is_unspecified() => s,
            _ => self.select_ipv6_source(src, dst)?,
        };
        let ext = if router_alert { 8 } else { 0 };
        let ip_len = ipv6::HEADER_LEN + ext + payload_len;
        if ext + payload_len > ipv6::MAX_PAYLOAD_LEN {
            return Err(Error::MessageTooLong);
        }
        if user && next != NextHop6::Loopback {
            let frames = Self::ipv6_fragments_needed(ip_len, self.path_mtu(now, IpAddr::V6(dst)));
            if frames > self.limits.tx_queue_frames / 2 {
                return Err(Error::MessageTooLong);
            }
            if !self.tx_has_room(frames) {
                return Err(Error::WouldBlock);
            }
        }
        let headroom = if next == NextHop6::Loopback { 0 } else { ethernet::HEADER_LEN };
        let mut buf = self.take_tx_buffer(protocol, headroom + ip_len, tail, payload_len);
        let repr = Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: if router_alert { IpProtocol::HopByHop } else { protocol },
            payload_len: ext + payload_len,
            // RFC 3493 §5.2: "If IPV6_MULTICAST_HOPS is not set, the
            // default is 1"; unicast uses CurHopLimit (RFC 4861 §6.3.2).
            hop_limit: hop_limit.unwrap_or(if dst.is_multicast() { 1 } else { self.ipv6.hop_limit }),
            traffic_class,
            flow_label: 0,
        };
        repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[headroom..]));
        let body = headroom + ipv6::HEADER_LEN;
        if router_alert {
            buf[body..body + 8].copy_from_slice(&router_alert_hop_by_hop(protocol));
        }
        fill(&mut buf[body + ext..], src);
        self.stats.traffic.ipv6_out += 1;
        match next {
            NextHop6::Loopback => {
                if self.loopback.len() >= self.limits.loopback_packets {
                    self.drain_loopback(now);
                }
                if self.loopback.len() >= self.limits.loopback_packets {
                    self.stats.record(Drop::LoopbackFull);
                    self.pool.give(buf);
                    return if user { Err(Error::WouldBlock) } else { Ok(()) };
                }
                self.loopback.push_back(buf);
            }
            NextHop6::Multicast => self.emit_ipv6_frame(now, buf, multicast_mac(dst), meta),
            NextHop6::Link(_) if let Some(mac) = link_dst => self.emit_ipv6_frame(now, buf, mac, meta),
            NextHop6::Link(hop) => self.output_ipv6_via(now, hop, buf, meta),
        }
        Ok(())
    }

    /// Send `frame` (an IPv6 packet behind Ethernet headroom) to on-link
    /// `hop`, resolving it first (RFC 4861 §7.2.2).
    fn output_ipv6_via(&mut self, now: Instant, hop: Ipv6Addr, frame: Vec<u8>, meta: FrameMeta) {
        let ip = IpAddr::V6(hop);
        if let Some(mac) = self.ipv6.neighbors.lookup(now, ip) {
            self.emit_ipv6_frame(now, frame, mac, meta);
            return;
        }
        match self.ipv6.neighbors.enqueue(now, ip, PendingPacket { buf: frame, meta }) {
            EnqueueOutcome::SendRequest { evicted } => {
                if evicted.is_some() {
                    self.stats.record(Drop::NdpCacheFull);
                }
                // RFC 4861 §7.2.2: "the sender creates a new entry in the
                // INCOMPLETE state, ... and then transmits a Neighbor
                // Solicitation message targeted at the neighbor."
                self.send_neighbor_solicit(now, hop, None);
            }
            EnqueueOutcome::Queued => {}
            EnqueueOutcome::QueuedDroppedOldest(p) | EnqueueOutcome::Rejected(p) => {
                self.stats.record(Drop::NdpPendingFull);
                self.pool.give(p.buf);
            }
            EnqueueOutcome::Resolved { lladdr, packet } => self.emit_ipv6_frame(now, packet.buf, lladdr, packet.meta),
        }
    }

    /// Put an Ethernet header on an IPv6 packet and queue it, fragmented
    /// when it exceeds the path MTU. A super-segment (`meta` asks for
    /// segmentation) goes whole: the device splits it.
    pub(super) fn emit_ipv6_frame(&mut self, now: Instant, mut frame: Vec<u8>, dst_mac: EthernetAddress, meta: FrameMeta) {
        {
            let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
            eth.set_dst_addr(dst_mac);
            eth.set_src_addr(self.mac);
            eth.set_ethertype(EtherType::Ipv6);
        }
        let (dst, ip_len) = match Ipv6Packet::new_checked(&frame[ethernet::HEADER_LEN..]) {
            Ok(p) => (p.dst_addr(), ipv6::HEADER_LEN + usize::from(p.payload_len())),
            Err(_) => {
                self.stats.record(Drop::TxTooBig);
                self.pool.give(frame);
                return;
            }
        };
        let mtu = self.path_mtu(now, IpAddr::V6(dst));
        if let Some(frame) = self.push_or_give_back_for_fragmenting(frame, meta, ip_len, mtu) {
            self.fragment_ipv6_and_push(frame, mtu);
        }
    }

    /// RFC 8200 §4.5: "the original packet is divided into fragments ...
    /// Each fragment, except possibly the last ("rightmost") one, is an
    /// integer multiple of 8 octets long." ... "The Unfragmentable Part of
    /// the original packet, with the Payload Length of the original IPv6
    /// header changed to contain the length of only that fragment packet
    /// (excluding the length of the IPv6 header itself), and the Next
    /// Header field of the last header of the Unfragmentable Part changed
    /// to 44." The packets we fragment have no extension headers, so the
    /// unfragmentable part is the fixed header.
    fn fragment_ipv6_and_push(&mut self, frame: Vec<u8>, mtu: usize) {
        let Ok(pkt) = Ipv6Packet::new_checked(&frame[ethernet::HEADER_LEN..]) else {
            self.pool.give(frame);
            return;
        };
        let next_header = pkt.next_header();
        let payload = pkt.payload();
        let mtu = mtu.max(IPV6_MIN_MTU);
        let per = (mtu - ipv6::HEADER_LEN - FRAGMENT_HEADER_LEN) & !7;
        let count = payload.len().div_ceil(per);
        if !self.tx_has_room(count) {
            self.stats.record(Drop::TxQueueFull);
            self.pool.give(frame);
            return;
        }
        // RFC 7739 §5: Fragment Identification values should be
        // unpredictable.
        let ident = self.rng.next_u32();
        let hdr_end = ethernet::HEADER_LEN + ipv6::HEADER_LEN;
        let mut off = 0;
        while off < payload.len() {
            let len = per.min(payload.len() - off);
            let more = off + len < payload.len();
            let mut f = self.pool.take(hdr_end + FRAGMENT_HEADER_LEN + len);
            f[..hdr_end].copy_from_slice(&frame[..hdr_end]);
            FragmentHeader {
                next_header,
                offset: off,
                more_frags: more,
                ident,
            }
            .emit(&mut f[hdr_end..hdr_end + FRAGMENT_HEADER_LEN]);
            f[hdr_end + FRAGMENT_HEADER_LEN..].copy_from_slice(&payload[off..off + len]);
            {
                let mut fp = Ipv6Packet::new_unchecked(&mut f[ethernet::HEADER_LEN..]);
                fp.set_payload_len((FRAGMENT_HEADER_LEN + len) as u16);
                fp.set_next_header(IpProtocol::Ipv6Frag);
            }
            self.stats.traffic.ipv6_frags_out += 1;
            self.push_frame(f);
            off += len;
        }
        self.pool.give(frame);
    }

    /// One TCP segment over IPv6 (the IPv6 branch of `tcp_emit`); `false`
    /// when the transmit queue is full.
    /// One TCP segment over IPv6; a payload above `seg_size` is a
    /// super-segment for a device with segmentation offload.
    pub(super) fn tcp_emit_v6(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        repr: &TcpRepr<'_>,
        traffic_class: u8,
        seg_size: usize,
    ) -> bool {
        let to_self = dst.is_loopback() || self.ipv6.addrs.is_usable(dst);
        if !to_self && !self.tx_has_room(1) {
            return false;
        }
        let mut tx = Ipv6Tx::new(Some(src), dst, IpProtocol::Tcp, repr.buffer_len());
        tx.traffic_class = traffic_class;
        let partial = !to_self && self.caps.checksum.tx_partial;
        if partial {
            tx.meta = super::tcp::tcp_offload_meta(repr, seg_size, self.caps.max_gso_size, true);
        }
        // The payload goes into the frame as it is built (one copy).
        let sent = self.send_ipv6_with_tail(now, tx, repr.payload, |buf, src| {
            let mut pkt = TcpPacket::new_unchecked(buf);
            repr.emit_around_payload(&mut pkt, &IpAddr::V6(src), &IpAddr::V6(dst), partial);
        });
        match sent {
            Ok(()) => self.stats.traffic.tcp_out += 1,
            Err(_) => self.stats.record(Drop::Ipv6NoRoute),
        }
        true
    }
}
