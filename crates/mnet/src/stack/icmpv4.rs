//! ICMPv4 (RFC 792, RFC 1122 §3.2.2): echo replies, rate-limited error
//! generation, and received errors routed to the sockets they concern.

use core::net::{IpAddr, SocketAddr};

use super::Stack;
use super::ipv4_in::{InvokingDatagram, Ipv4Meta, defines_single_host};
use super::ipv4_out::Ipv4Tx;
use crate::error::Error;
use crate::stats::Drop;
use crate::time::Instant;
use crate::wire::{Icmpv4DstUnreachable, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, WireError, ipv4};

/// RFC 1812 §4.3.2.3: "the ICMP datagram SHOULD contain as much of the
/// original datagram as possible without the length of the ICMP datagram
/// exceeding 576 bytes." (RFC 1122 §3.2.2 asks for at least the header
/// plus 8 octets; we quote up to this total.)
pub const ICMP_ERROR_MAX_LEN: usize = 576;

impl Stack {
    pub(super) fn process_icmpv4(&mut self, now: Instant, meta: &Ipv4Meta, payload: &[u8]) {
        self.stats.traffic.icmpv4_in += 1;
        let pkt = match Icmpv4Packet::new_checked(payload) {
            Ok(p) => p,
            Err(_) => {
                self.stats.record(Drop::Icmpv4Malformed);
                return;
            }
        };
        let repr = match Icmpv4Repr::parse(&pkt, !meta.csum_valid) {
            Ok(r) => r,
            Err(WireError::BadChecksum) => {
                self.stats.record(Drop::Icmpv4BadChecksum);
                return;
            }
            Err(WireError::Unsupported) => {
                self.stats.record(Drop::Icmpv4Unsupported);
                return;
            }
            Err(_) => {
                self.stats.record(Drop::Icmpv4Malformed);
                return;
            }
        };
        let src = meta.repr.src_addr;
        match repr {
            Icmpv4Repr::EchoRequest { ident, seq_no, data } => {
                // RFC 1122 §3.2.2.6: "An ICMP Echo Request destined to an IP
                // broadcast or IP multicast address MAY be silently
                // discarded." (Linux does, by default.)
                if meta.broadcast {
                    self.stats.record(Drop::Icmpv4ErrorNotSent);
                    return;
                }
                // RFC 1122 §3.2.2.6: "Every host MUST implement an ICMP Echo
                // server function that receives Echo Requests and sends
                // corresponding Echo Replies." ... "The IP source address in
                // an ICMP Echo Reply MUST be the same as the specific-
                // destination address ... of the corresponding ICMP Echo
                // Request message." ... "Data received in an ICMP Echo
                // Request MUST be entirely included in the resulting Echo
                // Reply."
                let reply = Icmpv4Repr::EchoReply { ident, seq_no, data };
                self.send_icmpv4(now, Some(meta.repr.dst_addr), src, &reply);
            }
            Icmpv4Repr::EchoReply { ident, seq_no, data } => {
                let Some(sock) = self.echo.by_ident(ident) else {
                    self.stats.record(Drop::Icmpv4NoSocket);
                    return;
                };
                if sock.rx.push(&mut self.pool, SocketAddr::new(IpAddr::V4(src), seq_no), data) {
                    sock.wake_rx();
                } else {
                    self.stats.record(Drop::IcmpSocketQueueFull);
                }
            }
            Icmpv4Repr::DstUnreachable {
                reason,
                next_hop_mtu,
                invoking,
            } => {
                // RFC 1122 §3.2.2.1: "A Destination Unreachable message that
                // is received MUST be reported to the transport layer."
                if reason == Icmpv4DstUnreachable::FragRequired {
                    self.learn_path_mtu(now, next_hop_mtu, invoking);
                    return;
                }
                let error = match reason {
                    Icmpv4DstUnreachable::NetUnreachable => Error::NetworkUnreachable,
                    Icmpv4DstUnreachable::PortUnreachable | Icmpv4DstUnreachable::ProtoUnreachable => Error::ConnectionRefused,
                    _ => Error::HostUnreachable,
                };
                self.deliver_error_to_sender(IpAddr::V4(src), invoking, error);
            }
            Icmpv4Repr::TimeExceeded { invoking, .. } => {
                // RFC 1122 §3.2.2.4: "An incoming Time Exceeded message MUST
                // be passed to the transport layer." (Linux: EHOSTUNREACH.)
                self.deliver_error_to_sender(IpAddr::V4(src), invoking, Error::HostUnreachable);
            }
            Icmpv4Repr::ParamProblem { invoking, .. } => {
                // RFC 1122 §3.2.2.5: "A host SHOULD generate Parameter
                // Problem messages. An incoming Parameter Problem message
                // MUST be passed to the transport layer".
                self.deliver_error_to_sender(IpAddr::V4(src), invoking, Error::ProtocolError);
            }
        }
    }

    /// RFC 1191 §4: "When a host receives a Datagram Too Big message, it
    /// MUST reduce its estimate of the PMTU for the relevant path, based
    /// on the value of the Next-Hop MTU field in the message."
    fn learn_path_mtu(&mut self, now: Instant, next_hop_mtu: u16, invoking: &[u8]) {
        let Some(inv) = InvokingDatagram::parse(invoking) else {
            self.stats.record(Drop::Icmpv4Malformed);
            return;
        };
        if !self.has_address(&IpAddr::V4(inv.src)) {
            self.stats.record(Drop::Icmpv4NoSocket);
            return;
        }
        // RFC 1191 §5: an old router sends 0 in the MTU field; "the host
        // ... should ... use the next lower plateau" below the total length
        // of the quoted datagram.
        let mtu = if next_hop_mtu == 0 {
            let quoted_len = invoking.get(2..4).map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
            plateau_below(quoted_len)
        } else {
            usize::from(next_hop_mtu)
        };
        // Reports at or above the link MTU carry no news, and neither does
        // one at or above the size of the datagram it quotes (that datagram
        // would have fit: a forged or confused report).
        let quoted_len = invoking
            .get(2..4)
            .map_or(usize::MAX, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        if mtu < self.mtu() && mtu < quoted_len {
            let tcp = (inv.protocol == IpProtocol::Tcp).then(|| {
                let (sp, dp) = inv.ports();
                let local = core::net::SocketAddr::new(IpAddr::V4(inv.src), sp);
                let remote = core::net::SocketAddr::new(IpAddr::V4(inv.dst), dp);
                (local, remote, inv.tcp_seq())
            });
            self.apply_path_mtu_report(now, IpAddr::V4(inv.dst), mtu, tcp);
        }
    }

    /// Build and send one ICMPv4 message.
    pub(super) fn send_icmpv4(&mut self, now: Instant, src: Option<core::net::Ipv4Addr>, dst: core::net::Ipv4Addr, repr: &Icmpv4Repr) {
        let len = repr.buffer_len();
        let sent = self.send_ipv4(now, Ipv4Tx::new(src, dst, IpProtocol::Icmp, len), |buf, _| {
            let mut pkt = Icmpv4Packet::new_unchecked(buf);
            repr.emit(&mut pkt);
        });
        if sent.is_ok() {
            self.stats.traffic.icmpv4_out += 1;
        } else {
            self.stats.record(Drop::Ipv4NoRoute);
        }
    }

    /// Send a Destination Unreachable about a datagram we received, obeying
    /// RFC 1122 §3.2.2 and the rate limit.
    pub(super) fn send_dst_unreachable(&mut self, now: Instant, meta: &Ipv4Meta, payload: &[u8], reason: Icmpv4DstUnreachable) {
        let r = &meta.repr;
        // RFC 1122 §3.2.2: "An ICMP error message MUST NOT be sent as the
        // result of receiving: * an ICMP error message, or * a datagram
        // destined to an IP broadcast or IP multicast address, or * a
        // datagram sent as a link-layer broadcast, or * a non-initial
        // fragment, or * a datagram whose source address does not define a
        // single host".
        if meta.broadcast || r.frag_offset != 0 || !defines_single_host(r.src_addr) {
            self.stats.record(Drop::Icmpv4ErrorNotSent);
            return;
        }
        if r.next_header == IpProtocol::Icmp && payload.first().is_some_and(|&t| is_icmp_error_type(t)) {
            self.stats.record(Drop::Icmpv4ErrorNotSent);
            return;
        }
        // RFC 1812 §4.3.2.8: "a router SHOULD limit the rate at which it
        // generates ICMP error messages" — hosts too (Linux icmp_ratelimit).
        if !self.icmp_errors.try_take(now) {
            self.stats.record(Drop::Icmpv4RateLimited);
            return;
        }
        let quote_len = payload.len().min(ICMP_ERROR_MAX_LEN - ipv4::HEADER_LEN - 8 - ipv4::HEADER_LEN);
        let mut quote = self.pool.take(ipv4::HEADER_LEN + quote_len);
        {
            let mut q = Ipv4Packet::new_unchecked(&mut quote[..]);
            r.emit(&mut q, true);
        }
        quote[ipv4::HEADER_LEN..].copy_from_slice(&payload[..quote_len]);
        let repr = Icmpv4Repr::DstUnreachable {
            reason,
            next_hop_mtu: 0,
            invoking: &quote,
        };
        self.send_icmpv4(now, Some(r.dst_addr), r.src_addr, &repr);
        self.pool.give(quote);
    }
}

impl Stack {
    /// Expire reassemblies that ran out of time.
    pub(super) fn poll_reassembly(&mut self, now: Instant) {
        let pool = &mut self.pool;
        let quotes = &mut self.expired_quotes;
        let expired = self.reassembly.poll_with(now, |e| {
            if let Some(first) = e.first {
                let room = ICMP_ERROR_MAX_LEN - ipv4::HEADER_LEN - 8 - first.header.len();
                let mut q = pool.take_copy(first.header);
                q.extend_from_slice(&first.payload[..first.payload.len().min(room)]);
                quotes.push(q);
            }
        });
        for _ in 0..expired {
            self.stats.record(Drop::FragTimeout);
        }
        let mut quotes = core::mem::take(&mut self.expired_quotes);
        for q in quotes.drain(..) {
            if q.first().is_some_and(|b| b >> 4 == 6) {
                self.send_time_exceeded_reassembly_v6(now, &q);
                self.pool.give(q);
                continue;
            }
            self.send_time_exceeded_reassembly(now, &q);
            self.pool.give(q);
        }
        self.expired_quotes = quotes;
    }

    /// RFC 1122 §3.3.2: "If this timeout expires, the partially-reassembled
    /// datagram MUST be discarded and an ICMP Time Exceeded message sent to
    /// the source host (if fragment zero has been received)." Code 1 is
    /// "fragment reassembly time exceeded" (RFC 792).
    fn send_time_exceeded_reassembly(&mut self, now: Instant, quote: &[u8]) {
        let Some(inv) = InvokingDatagram::parse(quote) else { return };
        // The RFC 1122 §3.2.2 exceptions: nothing about broadcasts or
        // about datagrams from a source that names no single host.
        let about_icmp_error = inv.protocol == IpProtocol::Icmp && inv.transport.first().is_some_and(|&t| is_icmp_error_type(t));
        if self.is_ipv4_broadcast(inv.dst) || !defines_single_host(inv.src) || about_icmp_error {
            self.stats.record(Drop::Icmpv4ErrorNotSent);
            return;
        }
        if !self.icmp_errors.try_take(now) {
            self.stats.record(Drop::Icmpv4RateLimited);
            return;
        }
        let repr = Icmpv4Repr::TimeExceeded { code: 1, invoking: quote };
        self.send_icmpv4(now, Some(inv.dst), inv.src, &repr);
    }
}

/// ICMPv4 error types (RFC 792, RFC 1122 §3.2.2: destination unreachable,
/// source quench, redirect, time exceeded, parameter problem); everything
/// else (echo, timestamp, information, router discovery) is a query.
fn is_icmp_error_type(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

/// RFC 1191 §7, Table 7-1 plateaus: the largest plateau below `len`.
fn plateau_below(len: usize) -> usize {
    const PLATEAUS: [usize; 10] = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296];
    PLATEAUS.iter().copied().find(|&p| p < len).unwrap_or(super::ipv4_out::IPV4_MIN_MTU)
}
