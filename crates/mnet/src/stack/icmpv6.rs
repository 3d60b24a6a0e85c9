//! ICMPv6 (RFC 4443): echo replies, rate-limited error generation with
//! the §2.4 (e) exceptions, received errors routed to the sockets they
//! concern, and Packet Too Big into the path-MTU cache (RFC 8201).

use core::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::Stack;
use super::ipv6_in::Ipv6Meta;
use super::ipv6_out::Ipv6Tx;
use crate::error::Error;
use crate::ip::pmtu::IPV6_MIN_MTU;
use crate::stats::Drop;
use crate::time::Instant;
use crate::wire::icmpv6::{Icmpv6DstUnreachable, Icmpv6Packet, Icmpv6Repr, message, param_problem};
use crate::wire::ipv6_ext::{ExtHeader, FragmentHeader};
use crate::wire::{IpProtocol, Ipv6Packet, WireError, ipv6};

/// RFC 4443 §2.4 (c): an error carries "as much of invoking packet as
/// possible without the ICMPv6 packet exceeding the minimum IPv6 MTU".
pub const ICMPV6_ERROR_MAX_LEN: usize = IPV6_MIN_MTU;

/// The start of a packet quoted in an ICMPv6 error, walked past the
/// extension headers to the transport header.
struct InvokingPacket<'a> {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    protocol: IpProtocol,
    transport: &'a [u8],
}

impl<'a> InvokingPacket<'a> {
    fn parse(bytes: &'a [u8]) -> Option<Self> {
        let pkt = Ipv6Packet::new_quoted(bytes).ok()?;
        if pkt.version() != 6 {
            return None;
        }
        let mut next = pkt.next_header();
        let mut at = ipv6::HEADER_LEN;
        for _ in 0..super::ipv6_in::MAX_EXTENSION_HEADERS {
            let rest = bytes.get(at..)?;
            match next {
                IpProtocol::HopByHop | IpProtocol::Ipv6Opts | IpProtocol::Ipv6Route => {
                    let h = ExtHeader::parse(rest).ok()?;
                    next = h.next_header;
                    at += h.len();
                }
                IpProtocol::Ipv6Frag => {
                    let f = FragmentHeader::parse(rest).ok()?;
                    if f.offset != 0 {
                        return None;
                    }
                    next = f.next_header;
                    at += 8;
                }
                _ => break,
            }
        }
        let transport = bytes.get(at..)?;
        if transport.len() < 8 {
            return None;
        }
        Some(InvokingPacket {
            src: pkt.src_addr(),
            dst: pkt.dst_addr(),
            protocol: next,
            transport,
        })
    }
}

impl Stack {
    pub(super) fn process_icmpv6(&mut self, now: Instant, meta: &Ipv6Meta, packet: &[u8], payload: &[u8]) {
        self.stats.traffic.icmpv6_in += 1;
        let (src, dst) = (meta.repr.src_addr, meta.repr.dst_addr);
        let Ok(pkt) = Icmpv6Packet::new_checked(payload) else {
            self.stats.record(Drop::Icmpv6Malformed);
            return;
        };
        let repr = match Icmpv6Repr::parse(&pkt, &src, &dst, !meta.csum_valid) {
            Ok(r) => r,
            Err(WireError::BadChecksum) => {
                self.stats.record(Drop::Icmpv6BadChecksum);
                return;
            }
            Err(WireError::Unsupported) => {
                self.stats.record(Drop::Icmpv6Unsupported);
                return;
            }
            Err(_) => {
                // NDP messages that fail RFC 4861 validation land here too.
                self.stats.record(if (133..=137).contains(&pkt.msg_type()) {
                    Drop::NdpInvalid
                } else {
                    Drop::Icmpv6Malformed
                });
                return;
            }
        };
        let from = IpAddr::V6(src);
        match repr {
            Icmpv6Repr::EchoRequest { ident, seq_no, data } => {
                if src.is_unspecified() {
                    self.stats.record(Drop::Ipv6BadSource);
                    return;
                }
                // RFC 4443 §4.2: "Every node MUST implement an ICMPv6 Echo
                // responder function that receives Echo Requests and
                // originates corresponding Echo Replies." ... "An Echo Reply
                // SHOULD be sent in response to an Echo Request message sent
                // to an IPv6 multicast or anycast address. In this case, the
                // source address of the reply MUST be a unicast address
                // belonging to the interface on which the Echo Request
                // message was received." ... "The data received in the ICMPv6
                // Echo Request message MUST be returned entirely and
                // unmodified in the ICMPv6 Echo Reply message."
                // A request to a group makes every member answer at once
                // (an amplifier for a spoofed source): those replies share
                // the ICMP error budget (RFC 4443 §2.4 (f) asks the same of
                // errors, for the same reason).
                if meta.multicast && !self.icmp_errors.try_take(now) {
                    self.stats.record(Drop::Icmpv6MulticastEchoRateLimited);
                    return;
                }
                let reply_src = if meta.multicast { None } else { Some(dst) };
                let reply = Icmpv6Repr::EchoReply { ident, seq_no, data };
                self.send_icmpv6(now, reply_src, src, &reply, None);
            }
            Icmpv6Repr::EchoReply { ident, seq_no, data } => {
                let Some(sock) = self.echo.by_ident(ident) else {
                    self.stats.record(Drop::Icmpv6NoSocket);
                    return;
                };
                if sock.rx.push(&mut self.pool, SocketAddr::new(from, seq_no), data) {
                    sock.wake_rx();
                } else {
                    self.stats.record(Drop::IcmpSocketQueueFull);
                }
            }
            Icmpv6Repr::DstUnreachable { reason, invoking } => {
                // RFC 4443 §3.1: "A node receiving the ICMPv6 Destination
                // Unreachable message MUST notify the upper-layer process if
                // the relevant process can be identified".
                let error = match reason {
                    Icmpv6DstUnreachable::NoRoute | Icmpv6DstUnreachable::RejectRoute => Error::NetworkUnreachable,
                    Icmpv6DstUnreachable::PortUnreachable => Error::ConnectionRefused,
                    _ => Error::HostUnreachable,
                };
                self.deliver_error_v6(from, invoking, error);
            }
            Icmpv6Repr::PacketTooBig { mtu, invoking } => self.learn_path_mtu_v6(now, mtu, invoking),
            Icmpv6Repr::TimeExceeded { invoking, .. } => {
                // RFC 4443 §3.3: "An ICMPv6 Time Exceeded message ... MUST
                // notify the upper-layer process".
                self.deliver_error_v6(from, invoking, Error::HostUnreachable);
            }
            Icmpv6Repr::ParamProblem { invoking, .. } => {
                // RFC 4443 §3.4: "A node receiving this ICMPv6 message MUST
                // notify the upper-layer process".
                self.deliver_error_v6(from, invoking, Error::ProtocolError);
            }
            Icmpv6Repr::Ndisc(n) => self.process_ndisc(now, meta, packet, n),
            Icmpv6Repr::Mld(m) => self.process_mld(now, meta, m),
        }
    }

    /// An ICMPv6 error about a packet we sent: tell the socket.
    fn deliver_error_v6(&mut self, from: IpAddr, invoking: &[u8], error: Error) {
        let Some(inv) = InvokingPacket::parse(invoking) else {
            self.stats.record(Drop::Icmpv6NoSocket);
            return;
        };
        self.deliver_error_parts(from, inv.protocol, IpAddr::V6(inv.src), IpAddr::V6(inv.dst), inv.transport, error);
    }

    /// Resolution of a neighbour failed: the sender of a waiting packet
    /// sees host unreachable (RFC 4861 §7.3.3: "the sender SHOULD ... send
    /// ICMP destination unreachable indications").
    pub(super) fn report_unreachable_locally_v6(&mut self, _now: Instant, ip_packet: &[u8]) {
        let from = InvokingPacket::parse(ip_packet).map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |p| IpAddr::V6(p.src));
        self.deliver_error_v6(from, ip_packet, Error::HostUnreachable);
    }

    /// RFC 8201 §4: "When a node receives a Packet Too Big message, it MUST
    /// reduce its estimate of the PMTU for the relevant path, based on the
    /// value of the MTU field in the message." ... "A node MUST NOT reduce
    /// its estimate of the Path MTU below the IPv6 minimum link MTU." The
    /// cache ignores reports below 1280 and ages entries out (§4: "a node
    /// SHOULD ... attempt to detect an increase"), so nothing is sticky.
    fn learn_path_mtu_v6(&mut self, now: Instant, mtu: u32, invoking: &[u8]) {
        let Some(inv) = InvokingPacket::parse(invoking) else {
            self.stats.record(Drop::Icmpv6Malformed);
            return;
        };
        // Only about packets we sent.
        if !self.ipv6.addrs.is_usable(inv.src) {
            self.stats.record(Drop::Icmpv6NoSocket);
            return;
        }
        let mtu = usize::try_from(mtu).unwrap_or(usize::MAX);
        if mtu >= self.mtu() {
            return;
        }
        let quoted = super::ipv4_in::QuotedTransport(inv.transport);
        let tcp = (inv.protocol == IpProtocol::Tcp).then(|| {
            let (sp, dp) = quoted.ports();
            (
                SocketAddr::new(IpAddr::V6(inv.src), sp),
                SocketAddr::new(IpAddr::V6(inv.dst), dp),
                quoted.tcp_seq(),
            )
        });
        self.apply_path_mtu_report(now, IpAddr::V6(inv.dst), mtu, tcp);
    }

    /// Build and send one ICMPv6 message. `hop_limit` `None`: the default.
    pub(super) fn send_icmpv6(
        &mut self,
        now: Instant,
        src: Option<Ipv6Addr>,
        dst: Ipv6Addr,
        repr: &Icmpv6Repr,
        hop_limit: Option<u8>,
    ) -> bool {
        let mut tx = Ipv6Tx::new(src, dst, IpProtocol::Icmpv6, repr.buffer_len());
        tx.hop_limit = hop_limit;
        self.send_icmpv6_tx(now, tx, repr)
    }

    /// Send one ICMPv6 message described by `tx` (its length and protocol
    /// set for `repr`).
    pub(super) fn send_icmpv6_tx(&mut self, now: Instant, tx: Ipv6Tx, repr: &Icmpv6Repr) -> bool {
        let dst = tx.dst;
        let sent = self.send_ipv6(now, tx, |buf, src| repr.emit(buf, &src, &dst));
        if sent.is_ok() {
            self.stats.traffic.icmpv6_out += 1;
        } else {
            self.stats.record(Drop::Ipv6NoRoute);
        }
        sent.is_ok()
    }

    /// RFC 4443 §2.4 (e): whether an error may be sent about this packet.
    /// `multicast_ok` for the exceptions of (e.3): Packet Too Big and a
    /// Parameter Problem code 2 for an option whose action bits say so.
    fn icmpv6_error_allowed(&mut self, now: Instant, meta: &Ipv6Meta, packet: &[u8], multicast_ok: bool) -> bool {
        let r = &meta.repr;
        // "(e.1) An ICMPv6 error message. (e.2) An ICMPv6 Redirect message."
        let about_error = InvokingPacket::parse(packet).is_some_and(|p| {
            p.protocol == IpProtocol::Icmpv6 && p.transport.first().is_some_and(|&t| message::is_error(t) || t == message::REDIRECT)
        });
        // "(e.3) An IPv6 packet destined to an IPv6 multicast address" ...
        // "(e.4) A packet sent as a link-layer multicast (the exceptions
        // from e.3 apply to this case, too). (e.5) A packet sent as a
        // link-layer broadcast (the exceptions from e.3 apply to this case,
        // too)." ... "(e.6) An IPv6 packet whose source address does not uniquely
        // identify a single node -- e.g., the IPv6 Unspecified Address, an
        // IPv6 multicast address".
        if about_error
            || ((meta.multicast || meta.link_multicast) && !multicast_ok)
            || r.src_addr.is_unspecified()
            || r.src_addr.is_multicast()
            || meta.link_src.is_none() && r.src_addr.is_loopback()
        {
            self.stats.record(Drop::Icmpv6ErrorNotSent);
            return false;
        }
        // "(f) Finally, in order to limit the bandwidth and forwarding costs
        // incurred by originating ICMPv6 error messages, an IPv6 node MUST
        // limit the rate of ICMPv6 error messages it originates."
        if !self.icmp_errors.try_take(now) {
            self.stats.record(Drop::Icmpv6RateLimited);
            return false;
        }
        true
    }

    /// Send an error quoting `packet`.
    fn send_icmpv6_error(&mut self, now: Instant, meta: &Ipv6Meta, packet: &[u8], build: impl FnOnce(&[u8]) -> Icmpv6Repr<'_>) {
        let quote_len = packet.len().min(ICMPV6_ERROR_MAX_LEN - ipv6::HEADER_LEN - 8);
        let quote = self.pool.take_copy(&packet[..quote_len]);
        let repr = build(&quote);
        let src = (!meta.multicast).then_some(meta.repr.dst_addr);
        self.send_icmpv6(now, src, meta.repr.src_addr, &repr, None);
        self.pool.give(quote);
    }

    /// Parameter Problem (RFC 4443 §3.4) pointing at `pointer` in `packet`.
    pub(super) fn send_param_problem(&mut self, now: Instant, meta: &Ipv6Meta, packet: &[u8], code: u8, pointer: usize) {
        if !self.icmpv6_error_allowed(now, meta, packet, false) {
            return;
        }
        self.send_icmpv6_error(now, meta, packet, |q| Icmpv6Repr::ParamProblem {
            code,
            pointer: pointer as u32,
            invoking: q,
        });
    }

    /// Parameter Problem for an unrecognised option whose action is "10"
    /// (RFC 8200 §4.2: sent "regardless of whether or not the packet's
    /// Destination Address was a multicast address").
    pub(super) fn send_param_problem_always(&mut self, now: Instant, meta: &Ipv6Meta, packet: &[u8], code: u8, pointer: usize) {
        debug_assert_eq!(code, param_problem::UNRECOGNIZED_OPTION);
        if !self.icmpv6_error_allowed(now, meta, packet, true) {
            return;
        }
        self.send_icmpv6_error(now, meta, packet, |q| Icmpv6Repr::ParamProblem {
            code,
            pointer: pointer as u32,
            invoking: q,
        });
    }

    /// Destination Unreachable (RFC 4443 §3.1).
    pub(super) fn send_dst_unreachable_v6(&mut self, now: Instant, meta: &Ipv6Meta, packet: &[u8], reason: Icmpv6DstUnreachable) {
        if !self.icmpv6_error_allowed(now, meta, packet, false) {
            return;
        }
        self.send_icmpv6_error(now, meta, packet, |q| Icmpv6Repr::DstUnreachable { reason, invoking: q });
    }

    /// RFC 8200 §4.5: "If insufficient fragments are received to complete
    /// reassembly of a packet within 60 seconds of the reception of the
    /// first-arriving fragment of that packet, reassembly of that packet
    /// must be abandoned and all the fragments that have been received for
    /// that packet must be discarded. If the first fragment (i.e., the one
    /// with a Fragment Offset of zero) has been received, an ICMP Time
    /// Exceeded -- Fragment Reassembly Time Exceeded message should be sent
    /// to the source of that fragment." `quote` is the fixed header and the
    /// first fragment's data.
    pub(super) fn send_time_exceeded_reassembly_v6(&mut self, now: Instant, quote: &[u8]) {
        let Ok(pkt) = Ipv6Packet::new_quoted(quote) else { return };
        let src = pkt.src_addr();
        let dst = pkt.dst_addr();
        if dst.is_multicast() || src.is_unspecified() || src.is_multicast() {
            self.stats.record(Drop::Icmpv6ErrorNotSent);
            return;
        }
        if !self.icmp_errors.try_take(now) {
            self.stats.record(Drop::Icmpv6RateLimited);
            return;
        }
        let len = quote.len().min(ICMPV6_ERROR_MAX_LEN - ipv6::HEADER_LEN - 8);
        let repr = Icmpv6Repr::TimeExceeded {
            code: 1,
            invoking: &quote[..len],
        };
        self.send_icmpv6(now, Some(dst), src, &repr, None);
    }
}
