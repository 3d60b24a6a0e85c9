//! ARP (RFC 826, RFC 1122 §2.3.2): requests, replies, the neighbour cache
//! glue, and RFC 5227 announcement and defence of our addresses.

use core::net::{IpAddr, Ipv4Addr};

use super::{PendingPacket, Stack};
use crate::link::FrameMeta;
use crate::link::neighbor::{EnqueueOutcome, FillOutcome, NeighborAction};
use crate::stats::Drop;
use crate::time::{Duration, Instant};
use crate::wire::{ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, ethernet};

/// RFC 5227 §1.1: "ANNOUNCE_NUM 2 (number of Announcement packets)".
pub const ANNOUNCE_NUM: u8 = 2;
/// RFC 5227 §1.1: "ANNOUNCE_INTERVAL 2 seconds (time between Announcement packets)".
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(2);
/// RFC 5227 §1.1: "DEFEND_INTERVAL 10 seconds (minimum interval between
/// defensive ARPs)".
pub const DEFEND_INTERVAL: Duration = Duration::from_secs(10);

impl Stack {
    pub(super) fn process_arp(&mut self, now: Instant, payload: &[u8]) {
        self.stats.traffic.arp_in += 1;
        let repr = match ArpPacket::new_checked(payload).and_then(|p| ArpRepr::parse(&p)) {
            Ok(r) => r,
            Err(_) => {
                self.stats.record(Drop::ArpMalformed);
                return;
            }
        };
        let sender_ip = IpAddr::V4(repr.source_protocol_addr);
        let sender_mac = repr.source_hardware_addr;
        // A sender with a group or our own MAC, or an IP address that
        // names no host on a link (loopback, multicast, broadcast, class E),
        // is forged or broken: never learned, never answered.
        let bad_ip = |a: Ipv4Addr| a.is_loopback() || a.is_multicast() || a.is_broadcast() || a.octets()[0] >= 240;
        if !sender_mac.is_unicast() || sender_mac == self.mac || bad_ip(repr.source_protocol_addr) || bad_ip(repr.target_protocol_addr) {
            self.stats.record(Drop::ArpMalformed);
            return;
        }

        // RFC 5227 §2.4: "At any time, if a host receives an ARP packet
        // (request *or* reply) on an interface where the 'sender IP
        // address' is (one of) the host's own IP address(es) configured on
        // that interface, but the 'sender hardware address' does not match
        // any of the host's own interface addresses, then this is a
        // conflicting ARP packet".
        if self.has_address(&sender_ip) {
            if sender_mac != self.mac {
                self.stats.record(Drop::ArpConflict);
                self.defend(now, repr.source_protocol_addr);
            }
            return;
        }

        let for_us = self.has_address(&IpAddr::V4(repr.target_protocol_addr));
        // RFC 826, "Packet Reception": "If the pair <protocol type, sender
        // protocol address> is already in my translation table, update the
        // sender hardware address field of the entry with the new
        // information in the packet and set Merge_flag to true." ... "If
        // Merge_flag is false, add the triplet <protocol type, sender
        // protocol address, sender hardware address> to the translation
        // table" (only when "I am the target protocol address").
        if !repr.source_protocol_addr.is_unspecified() {
            self.learn_neighbor(now, sender_ip, sender_mac, for_us);
        }
        if !for_us {
            // A gratuitous ARP (announcement) is not a drop: its news was
            // merged above.
            let gratuitous = repr.source_protocol_addr == repr.target_protocol_addr;
            if repr.operation == ArpOperation::Request && !gratuitous {
                self.stats.record(Drop::ArpNotForUs);
            }
            return;
        }
        // RFC 826: "If the opcode is ares_op$REQUEST ... send the packet to
        // the (new) target hardware address on the same hardware on which
        // the request was received."
        if repr.operation == ArpOperation::Request {
            let reply = ArpRepr {
                operation: ArpOperation::Reply,
                source_hardware_addr: self.mac,
                source_protocol_addr: repr.target_protocol_addr,
                target_hardware_addr: sender_mac,
                target_protocol_addr: repr.source_protocol_addr,
            };
            self.send_arp(sender_mac, &reply);
        }
    }

    /// Learn (or refresh) a neighbour and send what was waiting for it.
    fn learn_neighbor(&mut self, now: Instant, ip: IpAddr, mac: EthernetAddress, create: bool) {
        match self.neighbors.fill(now, ip, mac, create) {
            FillOutcome::Resolved { packets } => {
                for p in packets {
                    self.emit_ipv4_frame(now, p.buf, mac, p.meta);
                }
            }
            FillOutcome::Created { evicted: Some(_) } => self.stats.record(Drop::ArpCacheFull),
            FillOutcome::Created { evicted: None } | FillOutcome::Updated { .. } | FillOutcome::Ignored => {}
        }
    }

    /// Build and queue one ARP packet.
    fn send_arp(&mut self, dst: EthernetAddress, repr: &ArpRepr) {
        let len = ethernet::HEADER_LEN + repr.buffer_len();
        let mut buf = self.frame_buf(len, dst, EtherType::Arp);
        let mut pkt = ArpPacket::new_unchecked(&mut buf[ethernet::HEADER_LEN..]);
        repr.emit(&mut pkt);
        self.stats.traffic.arp_out += 1;
        self.push_frame(buf);
    }

    /// An ARP request for `target` (broadcast, or unicast to revalidate).
    fn send_arp_request(&mut self, target: Ipv4Addr, unicast_to: Option<EthernetAddress>) {
        let Some(source) = self.ipv4_source_for(target) else { return };
        let repr = ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: self.mac,
            source_protocol_addr: source,
            // RFC 826: the target hardware address is "not known"; zero.
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: target,
        };
        self.send_arp(unicast_to.unwrap_or(EthernetAddress::BROADCAST), &repr);
    }

    /// RFC 5227 §2.3: "An ARP Announcement is identical to the ARP Probe
    /// described above, except that now the sender and target IP addresses
    /// are both set to the host's newly selected IPv4 address."
    fn send_announcement(&mut self, addr: Ipv4Addr) {
        let repr = ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: self.mac,
            source_protocol_addr: addr,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: addr,
        };
        self.send_arp(EthernetAddress::BROADCAST, &repr);
    }

    /// RFC 5227 §2.4 (b): "if it has not seen any other conflicting ARP
    /// packets within the last DEFEND_INTERVAL seconds, MAY elect to attempt
    /// to defend its address by recording the time that the conflicting ARP
    /// packet was received, and then broadcasting one single ARP
    /// Announcement". A static address is never given up (option (c)
    /// behaviour after the first defence: keep defending at most once per
    /// DEFEND_INTERVAL).
    fn defend(&mut self, now: Instant, addr: Ipv4Addr) {
        if self.last_defend.is_some_and(|t| now - t < DEFEND_INTERVAL) {
            return;
        }
        self.last_defend = Some(now);
        self.send_announcement(addr);
    }

    pub(super) fn poll_announcements(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.announcements.len() {
            let a = &mut self.announcements[i];
            if a.at > now {
                i += 1;
                continue;
            }
            let addr = a.addr;
            a.remaining = a.remaining.saturating_sub(1);
            a.at = now + ANNOUNCE_INTERVAL;
            if a.remaining == 0 {
                self.announcements.swap_remove(i);
            } else {
                i += 1;
            }
            self.send_announcement(addr);
        }
    }

    pub(super) fn poll_neighbors(&mut self, now: Instant) {
        let mut actions = core::mem::take(&mut self.neighbor_actions);
        self.neighbors.poll(now, &mut |a| actions.push(a));
        for action in actions.drain(..) {
            match action {
                NeighborAction::SendRequest {
                    ip: IpAddr::V4(ip),
                    unicast_to,
                } => self.send_arp_request(ip, unicast_to),
                NeighborAction::SendRequest { ip: IpAddr::V6(_), .. } | NeighborAction::Unreachable { .. } => {}
                NeighborAction::Failed { packet, .. } => {
                    // RFC 1122 §2.3.2.2: "The link layer SHOULD ... report
                    // [the failure] to the IP layer"; the waiting sends fail
                    // with host unreachable.
                    self.stats.record(Drop::ArpUnresolved);
                    self.report_unreachable_locally(now, &packet.buf[ethernet::HEADER_LEN..]);
                    self.pool.give(packet.buf);
                }
            }
        }
        self.neighbor_actions = actions;
    }

    /// Send `frame` (an IPv4 packet behind Ethernet headroom) towards
    /// `next_hop`, resolving its MAC first if needed.
    pub(super) fn output_via(&mut self, now: Instant, next_hop: Ipv4Addr, broadcast: bool, frame: alloc::vec::Vec<u8>, meta: FrameMeta) {
        if broadcast {
            self.emit_ipv4_frame(now, frame, EthernetAddress::BROADCAST, meta);
            return;
        }
        let ip = IpAddr::V4(next_hop);
        if let Some(mac) = self.neighbors.lookup(now, ip) {
            self.emit_ipv4_frame(now, frame, mac, meta);
            return;
        }
        match self.neighbors.enqueue(now, ip, PendingPacket { buf: frame, meta }) {
            EnqueueOutcome::SendRequest { evicted } => {
                if evicted.is_some() {
                    self.stats.record(Drop::ArpCacheFull);
                }
                self.send_arp_request(next_hop, None);
            }
            EnqueueOutcome::Queued => {}
            EnqueueOutcome::QueuedDroppedOldest(p) | EnqueueOutcome::Rejected(p) => {
                self.stats.record(Drop::ArpPendingFull);
                self.pool.give(p.buf);
            }
            EnqueueOutcome::Resolved { lladdr, packet } => self.emit_ipv4_frame(now, packet.buf, lladdr, packet.meta),
        }
    }
}
