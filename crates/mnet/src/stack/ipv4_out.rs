//! IPv4 output (RFC 791, RFC 1122 §3.3): source selection, routing,
//! loopback to our own addresses, and fragmentation to the path MTU.

use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr};

use super::Stack;
use crate::error::{Error, Result};
use crate::link::FrameMeta;
use crate::stats::Drop;
use crate::time::Instant;
use crate::wire::{EtherType, EthernetAddress, EthernetFrame, IpProtocol, Ipv4Packet, Ipv4Repr, ethernet, ipv4};

/// RFC 791 §3.2: "Every internet module must be able to forward a datagram
/// of 68 octets without further fragmentation." Below this we never
/// fragment (and refuse to send).
pub const IPV4_MIN_MTU: usize = 68;

/// The largest IPv4 datagram (the total length field is 16 bits).
pub const IPV4_MAX_DATAGRAM: usize = 65535;

/// What [`Stack::send_ipv4`] needs besides the payload.
#[derive(Clone, Copy)]
pub(super) struct Ipv4Tx {
    /// `None`: chosen by the route.
    pub src: Option<Ipv4Addr>,
    pub dst: Ipv4Addr,
    pub protocol: IpProtocol,
    pub payload_len: usize,
    /// A socket operation: `WouldBlock` when the transmit queue is full,
    /// instead of a counted drop.
    pub user: bool,
    /// Set DF (TCP does, for path-MTU discovery, RFC 1191).
    pub dont_frag: bool,
    pub dscp_ecn: u8,
    /// Offload metadata for the device: set by a transport that left its
    /// checksum partial or built a super-segment (only towards a device
    /// that advertised it, never on loopback).
    pub meta: FrameMeta,
}

impl Ipv4Tx {
    /// Defaults: no DF, no ECN, not a user operation.
    pub fn new(src: Option<Ipv4Addr>, dst: Ipv4Addr, protocol: IpProtocol, payload_len: usize) -> Self {
        Ipv4Tx {
            src,
            dst,
            protocol,
            payload_len,
            user: false,
            dont_frag: false,
            dscp_ecn: 0,
            meta: FrameMeta::PLAIN,
        }
    }

    pub fn user(mut self) -> Self {
        self.user = true;
        self
    }
}

/// Where a datagram goes after routing.
#[derive(Clone, Copy)]
pub(super) enum NextHop {
    /// To one of our own addresses: looped back inside the engine.
    Loopback,
    /// On the link, to this neighbour (or broadcast).
    Link { hop: Ipv4Addr, broadcast: bool },
}

impl Stack {
    /// Where a datagram to `dst` goes.
    pub(super) fn route_ipv4(&self, dst: Ipv4Addr) -> Result<NextHop> {
        if dst.is_loopback() || self.has_address(&IpAddr::V4(dst)) {
            return Ok(NextHop::Loopback);
        }
        if self.is_ipv4_broadcast(dst) {
            return Ok(NextHop::Link { hop: dst, broadcast: true });
        }
        if dst.is_multicast() || dst.is_unspecified() {
            return Err(Error::NetworkUnreachable);
        }
        let route = self.routes.lookup(&IpAddr::V4(dst)).ok_or(Error::NetworkUnreachable)?;
        match route.via {
            None => Ok(NextHop::Link {
                hop: dst,
                broadcast: false,
            }),
            Some(IpAddr::V4(gw)) => Ok(NextHop::Link { hop: gw, broadcast: false }),
            Some(IpAddr::V6(_)) => Err(Error::NetworkUnreachable),
        }
    }

    /// The source address for a datagram to `dst` via `next`.
    pub(super) fn select_ipv4_source(&self, src: Option<Ipv4Addr>, dst: Ipv4Addr, next: NextHop) -> Result<Ipv4Addr> {
        match src {
            Some(s) if !s.is_unspecified() => {
                if self.has_address(&IpAddr::V4(s)) {
                    Ok(s)
                } else {
                    Err(Error::AddressNotAvailable)
                }
            }
            _ => {
                let peer = match next {
                    NextHop::Loopback => dst,
                    NextHop::Link { hop, .. } => hop,
                };
                self.ipv4_source_for(peer).ok_or(Error::AddressNotAvailable)
            }
        }
    }

    /// How many frames a datagram of `ip_len` bytes takes at `mtu`.
    fn fragments_needed(ip_len: usize, mtu: usize) -> usize {
        if ip_len <= mtu {
            return 1;
        }
        let per = (mtu.saturating_sub(ipv4::HEADER_LEN)) & !7;
        (ip_len - ipv4::HEADER_LEN).div_ceil(per.max(8))
    }

    /// Originate a datagram: `fill(payload, src)` writes the
    /// `payload_len`-byte transport payload (and its checksum).
    pub(super) fn send_ipv4(&mut self, now: Instant, tx: Ipv4Tx, fill: impl FnOnce(&mut [u8], Ipv4Addr)) -> Result<()> {
        self.send_ipv4_with_tail(now, tx, &[], fill)
    }

    /// [`Self::send_ipv4`] with the last `tail.len()` bytes of the
    /// transport payload (a TCP segment's data) copied in when the buffer
    /// is built, so they are neither zeroed first nor copied again; `fill`
    /// writes the rest around them. An over-long tail is ignored.
    pub(super) fn send_ipv4_with_tail(
        &mut self,
        now: Instant,
        tx: Ipv4Tx,
        tail: &[u8],
        fill: impl FnOnce(&mut [u8], Ipv4Addr),
    ) -> Result<()> {
        let Ipv4Tx {
            src,
            dst,
            protocol,
            payload_len,
            user,
            dont_frag,
            dscp_ecn,
            meta,
        } = tx;
        let next = self.route_ipv4(dst)?;
        let src = self.select_ipv4_source(src, dst, next)?;
        let ip_len = ipv4::HEADER_LEN + payload_len;
        if ip_len > IPV4_MAX_DATAGRAM {
            return Err(Error::MessageTooLong);
        }
        if user {
            let frames = match next {
                NextHop::Loopback => 0,
                NextHop::Link { .. } => Self::fragments_needed(ip_len, self.path_mtu(now, IpAddr::V4(dst))),
            };
            // A datagram that could never fit in the free half of the
            // queue (where senders are woken) would wait forever.
            if frames > self.limits.tx_queue_frames / 2 {
                return Err(Error::MessageTooLong);
            }
            if !self.tx_has_room(frames) {
                return Err(Error::WouldBlock);
            }
        }
        let headroom = match next {
            NextHop::Loopback => 0,
            NextHop::Link { .. } => ethernet::HEADER_LEN,
        };
        let mut buf = self.take_tx_buffer(protocol, headroom + ip_len, tail, payload_len);
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let repr = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: protocol,
            payload_len,
            hop_limit: self.ttl,
            dscp_ecn,
            ident: self.ip_ident,
            dont_frag,
            more_frags: false,
            frag_offset: 0,
        };
        {
            let mut pkt = Ipv4Packet::new_unchecked(&mut buf[headroom..]);
            repr.emit(&mut pkt, true);
        }
        fill(&mut buf[headroom + ipv4::HEADER_LEN..], src);
        self.stats.traffic.ipv4_out += 1;
        match next {
            NextHop::Loopback => {
                if self.loopback.len() >= self.limits.loopback_packets {
                    // Deliver what is waiting first: it needs no device.
                    self.drain_loopback(now);
                }
                if self.loopback.len() >= self.limits.loopback_packets {
                    self.stats.record(Drop::LoopbackFull);
                    self.pool.give(buf);
                    return if user { Err(Error::WouldBlock) } else { Ok(()) };
                }
                self.loopback.push_back(buf);
            }
            NextHop::Link { hop, broadcast } => self.output_via(now, hop, broadcast, buf, meta),
        }
        Ok(())
    }

    /// Put an Ethernet header on an IPv4 packet (behind headroom) and queue
    /// it, fragmented to the path MTU when it is larger. A super-segment
    /// (`meta` asks for segmentation) goes whole: the device splits it.
    pub(super) fn emit_ipv4_frame(&mut self, now: Instant, mut frame: Vec<u8>, dst_mac: EthernetAddress, meta: FrameMeta) {
        {
            let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
            eth.set_dst_addr(dst_mac);
            eth.set_src_addr(self.mac);
            eth.set_ethertype(EtherType::Ipv4);
        }
        let ip = &frame[ethernet::HEADER_LEN..];
        let (dst, ip_len) = match Ipv4Packet::new_checked(ip) {
            Ok(p) => (p.dst_addr(), usize::from(p.total_len())),
            Err(_) => {
                self.stats.record(Drop::TxTooBig);
                self.pool.give(frame);
                return;
            }
        };
        let mtu = self.path_mtu(now, IpAddr::V4(dst));
        if let Some(frame) = self.push_or_give_back_for_fragmenting(frame, meta, ip_len, mtu) {
            self.fragment_and_push(frame, mtu);
        }
    }

    /// RFC 791 §3.2, "Fragmentation": "To fragment a long internet
    /// datagram, an internet protocol module ... creates two new internet
    /// datagrams and copies the contents of the internet header fields from
    /// the long datagram into both new internet headers. The data of the
    /// long datagram is divided into two portions on a 8 octet (64 bit)
    /// boundary ... the more-fragments flag is set ... the fragment offset
    /// field of the second new internet datagram is set to the value of
    /// that field in the long datagram plus NFB." — applied repeatedly.
    fn fragment_and_push(&mut self, frame: Vec<u8>, mtu: usize) {
        let ip = &frame[ethernet::HEADER_LEN..];
        let Ok(pkt) = Ipv4Packet::new_checked(ip) else {
            self.pool.give(frame);
            return;
        };
        let hdr_len = pkt.header_len();
        if pkt.dont_frag() || mtu < IPV4_MIN_MTU {
            self.stats.record(Drop::FragNeededDf);
            self.pool.give(frame);
            return;
        }
        let base_offset = usize::from(pkt.frag_offset());
        let last_more = pkt.more_frags();
        let payload = pkt.payload();
        let per = (mtu - hdr_len) & !7;
        let count = payload.len().div_ceil(per);
        if !self.tx_has_room(count) {
            self.stats.record(Drop::TxQueueFull);
            self.pool.give(frame);
            return;
        }
        let mut off = 0;
        while off < payload.len() {
            let len = per.min(payload.len() - off);
            let more = off + len < payload.len() || last_more;
            let mut f = self.pool.take(ethernet::HEADER_LEN + hdr_len + len);
            f[..ethernet::HEADER_LEN + hdr_len].copy_from_slice(&frame[..ethernet::HEADER_LEN + hdr_len]);
            f[ethernet::HEADER_LEN + hdr_len..].copy_from_slice(&payload[off..off + len]);
            {
                let mut fp = Ipv4Packet::new_unchecked(&mut f[ethernet::HEADER_LEN..]);
                fp.set_total_len((hdr_len + len) as u16);
                fp.set_more_frags(more);
                fp.set_frag_offset((base_offset + off) as u16);
                fp.fill_checksum();
            }
            self.stats.traffic.ipv4_frags_out += 1;
            self.push_frame(f);
            off += len;
        }
        self.pool.give(frame);
    }
}
