//! IPv6 input (RFC 8200): validation, the destinations a host accepts,
//! extension headers in order, reassembly, and delivery to ICMPv6, UDP and
//! TCP.

use core::net::{IpAddr, Ipv6Addr};

use super::{Stack, TransportMeta, UdpInput};
use crate::ip::ipv6_addr::solicited_node;
use crate::ip::reassembly::{FragError, FragKey};
use crate::stats::Drop;
use crate::time::Instant;
use crate::wire::icmpv6::{Icmpv6DstUnreachable, param_problem};
use crate::wire::ipv6_ext::{ExtHeader, FRAGMENT_HEADER_LEN, FragmentHeader, RoutingHeader, UnknownOptionAction, option};
use crate::wire::{EthernetAddress, IpProtocol, Ipv6Packet, Ipv6Repr, ipv6};

/// RFC 8200 §4 names no limit on the number of extension headers; a host
/// walks at most this many before giving up on a packet (RFC 8504 §5.3:
/// hosts may impose limits on extension headers).
pub const MAX_EXTENSION_HEADERS: usize = 8;

/// All-nodes link-local multicast (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// All-routers link-local multicast (RFC 4291 §2.7.1).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// All MLDv2-capable routers (RFC 3810 §5.2.14).
pub const ALL_MLDV2_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);

/// What the upper layers need about a received packet.
#[derive(Clone, Copy)]
pub(super) struct Ipv6Meta {
    pub repr: Ipv6Repr,
    /// Sent to a multicast address.
    pub multicast: bool,
    /// The transport checksum was validated by the device.
    pub csum_valid: bool,
    /// The link-layer source of the frame; `None`: looped back.
    pub link_src: Option<EthernetAddress>,
    /// Arrived in a link-layer multicast or broadcast frame.
    pub link_multicast: bool,
    /// Carried a Fragment Header (reassembled, or an atomic fragment).
    pub fragmented: bool,
    /// Its Hop-by-Hop Options header carried a Router Alert (RFC 2711).
    pub router_alert: bool,
}

impl Stack {
    /// One IPv6 packet from the link or from loopback.
    /// `link_multicast`: the frame went to a link-layer multicast or
    /// broadcast address.
    /// `link_src`: the frame's link-layer source (`None`: looped back).
    pub(super) fn process_ipv6(
        &mut self,
        now: Instant,
        link_src: Option<EthernetAddress>,
        link_multicast: bool,
        bytes: &[u8],
        csum_valid: bool,
    ) {
        let from_wire = link_src.is_some();
        if !self.ipv6.enabled() {
            self.stats.record(Drop::Ipv6Unsupported);
            return;
        }
        self.stats.traffic.ipv6_in += 1;
        let Ok(pkt) = Ipv6Packet::new_checked(bytes) else {
            self.stats.record(Drop::Ipv6Malformed);
            return;
        };
        // RFC 8200 §3: "Version 4-bit Internet Protocol version number = 6."
        let Ok(repr) = Ipv6Repr::parse(&pkt) else {
            self.stats.record(Drop::Ipv6Malformed);
            return;
        };
        // RFC 8200 §3: Payload Length is the "Length of the IPv6 payload,
        // i.e., the rest of the packet following this IPv6 header, in
        // octets": link-layer padding or a trailer after it is not part of
        // the packet (new_checked made sure the bytes are there).
        let bytes = bytes.get(..ipv6::HEADER_LEN + usize::from(pkt.payload_len())).unwrap_or(bytes);
        let (src, dst) = (repr.src_addr, repr.dst_addr);
        // RFC 4291 §2.7: "Multicast addresses must not be used as source
        // addresses in IPv6 packets"; loopback "must never be sent outside
        // a single node" (§2.5.3); nor does the link send us our own.
        if src.is_multicast() || (from_wire && (src.is_loopback() || dst.is_loopback() || self.ipv6.addrs.is_usable(src))) {
            self.stats.record(Drop::Ipv6BadSource);
            return;
        }
        let looped_to_self = !from_wire && dst.is_loopback();
        if !self.ipv6_accepts(dst) && !looped_to_self {
            self.stats.record(Drop::Ipv6NotForUs);
            return;
        }
        let meta = Ipv6Meta {
            repr,
            multicast: dst.is_multicast(),
            csum_valid,
            link_src,
            link_multicast,
            fragmented: false,
            router_alert: false,
        };
        self.ipv6_headers(now, &meta, bytes, repr.next_header, ipv6::HEADER_LEN, true);
    }

    /// Whether a packet to `dst` is for us: a usable address, all-nodes,
    /// the solicited-node group of any of our addresses (tentative ones
    /// included, for DAD), or a joined group. RFC 4862 §5.4: a tentative
    /// address itself accepts nothing.
    fn ipv6_accepts(&self, dst: Ipv6Addr) -> bool {
        if dst.is_multicast() {
            return dst == ALL_NODES || self.ipv6.addrs.iter().any(|e| solicited_node(e.addr) == dst) || self.ipv6.groups.contains(&dst);
        }
        self.ipv6.addrs.is_usable(dst)
    }

    /// Walk the headers of `packet` from `at` (where header `next` starts).
    /// `whole` is false for a reassembled datagram (`packet` is then the
    /// fixed header quote followed by the reassembled payload).
    fn ipv6_headers(&mut self, now: Instant, meta: &Ipv6Meta, packet: &[u8], mut next: IpProtocol, mut at: usize, whole: bool) {
        let mut meta = *meta;
        let meta = &mut meta;
        // Offset of the Next Header field that named `next`.
        let mut nh_field = 6;
        for count in 0..=MAX_EXTENSION_HEADERS {
            if count == MAX_EXTENSION_HEADERS {
                self.stats.record(Drop::Ipv6ExtHeaders);
                return;
            }
            let Some(rest) = packet.get(at..) else {
                self.stats.record(Drop::Ipv6Malformed);
                return;
            };
            match next {
                IpProtocol::HopByHop | IpProtocol::Ipv6Opts => {
                    // RFC 8200 §4.1: "The Hop-by-Hop Options header, when
                    // present, must immediately follow the IPv6 header."
                    // (In a reassembled datagram the Fragmentable Part
                    // follows a Fragment Header, so never there.)
                    if next == IpProtocol::HopByHop && (at != ipv6::HEADER_LEN || !whole) {
                        self.send_param_problem(now, meta, packet, param_problem::UNRECOGNIZED_NEXT_HEADER, nh_field);
                        return;
                    }
                    let Ok(h) = ExtHeader::parse(rest) else {
                        self.stats.record(Drop::Ipv6Malformed);
                        return;
                    };
                    let Some(router_alert) = self.ipv6_options(now, meta, packet, at, &h) else {
                        return;
                    };
                    meta.router_alert |= router_alert && next == IpProtocol::HopByHop;
                    nh_field = at;
                    next = h.next_header;
                    at += h.len();
                }
                IpProtocol::Ipv6Route => {
                    let Ok(h) = ExtHeader::parse(rest) else {
                        self.stats.record(Drop::Ipv6Malformed);
                        return;
                    };
                    let Ok(r) = RoutingHeader::parse(&h) else {
                        self.stats.record(Drop::Ipv6Malformed);
                        return;
                    };
                    // RFC 8200 §4.4: "If Segments Left is zero, the node
                    // must ignore the Routing header and proceed to process
                    // the next header in the packet". Otherwise a host that
                    // forwards nothing recognises no routing type (RFC 5095
                    // §3: type 0 is treated as unrecognised): "the node
                    // must discard the packet and send an ICMP Parameter
                    // Problem, Code 0, message to the packet's Source
                    // Address, pointing to the unrecognized Routing Type."
                    if r.segments_left != 0 {
                        self.stats.record(Drop::Ipv6RoutingHeader);
                        self.send_param_problem(now, meta, packet, param_problem::ERRONEOUS_FIELD, at + 2);
                        return;
                    }
                    nh_field = at;
                    next = h.next_header;
                    at += h.len();
                }
                IpProtocol::Ipv6Frag => {
                    let Ok(f) = FragmentHeader::parse(rest) else {
                        self.stats.record(Drop::Ipv6Malformed);
                        return;
                    };
                    let payload = &rest[FRAGMENT_HEADER_LEN..];
                    // RFC 6946 §4: "A host that receives an IPv6 packet that
                    // includes a Fragment Header with the "Fragment Offset"
                    // equal to 0 and the "M" flag equal to 0 MUST process
                    // such packet in isolation from any other packets/
                    // fragments, even if such packets/fragments contain the
                    // same set {IPv6 Source Address, IPv6 Destination
                    // Address, Fragment Identification}."
                    if f.is_atomic() {
                        self.stats.traffic.ipv6_atomic_frags_in += 1;
                        meta.fragmented = true;
                        nh_field = at;
                        next = f.next_header;
                        at += FRAGMENT_HEADER_LEN;
                        continue;
                    }
                    if !whole {
                        // A fragment inside a reassembled datagram.
                        self.stats.record(Drop::FragMalformed);
                        return;
                    }
                    self.stats.traffic.ipv6_frags_in += 1;
                    self.reassemble_ipv6(now, meta, packet, f, payload);
                    return;
                }
                IpProtocol::Ipv6NoNxt => return,
                IpProtocol::Icmpv6 | IpProtocol::Udp | IpProtocol::Tcp => {
                    self.deliver_ipv6(now, meta, next, packet, at);
                    return;
                }
                _ => {
                    // RFC 8200 §4: "it should discard the packet and send an
                    // ICMP Parameter Problem message to the source of the
                    // packet, with an ICMP Code value of 1 ("unrecognized
                    // Next Header type encountered") and the ICMP Pointer
                    // field containing the offset of the unrecognized value
                    // within the original packet."
                    self.stats.record(Drop::Ipv6UnknownProtocol);
                    self.send_param_problem(now, meta, packet, param_problem::UNRECOGNIZED_NEXT_HEADER, nh_field);
                    return;
                }
            }
        }
    }

    /// Process the options of a hop-by-hop or destination options header:
    /// `None` when the packet must be discarded, else whether a Router
    /// Alert option was among them.
    fn ipv6_options(&mut self, now: Instant, meta: &Ipv6Meta, packet: &[u8], at: usize, h: &ExtHeader<'_>) -> Option<bool> {
        let mut router_alert = false;
        for opt in h.options() {
            let Ok((off, kind, _data)) = opt else {
                self.stats.record(Drop::Ipv6Malformed);
                return None;
            };
            if kind == option::ROUTER_ALERT {
                router_alert = true;
                continue;
            }
            if matches!(kind, option::PAD1 | option::PADN) {
                continue;
            }
            // RFC 8200 §4.2: the two high-order bits say what to do with
            // an option we do not recognise.
            match UnknownOptionAction::of(kind) {
                UnknownOptionAction::Skip => continue,
                UnknownOptionAction::Discard => {}
                UnknownOptionAction::DiscardSendError => {
                    self.send_param_problem_always(now, meta, packet, param_problem::UNRECOGNIZED_OPTION, at + off);
                }
                UnknownOptionAction::DiscardSendErrorUnlessMulticast => {
                    if !meta.multicast {
                        self.send_param_problem(now, meta, packet, param_problem::UNRECOGNIZED_OPTION, at + off);
                    }
                }
            }
            self.stats.record(Drop::Ipv6UnknownOption);
            return None;
        }
        Some(router_alert)
    }

    /// RFC 8200 §4.5: fragments are reassembled by (source, destination,
    /// Fragment Identification); RFC 5722 §4: "If any of the fragments
    /// being reassembled overlap with any other fragments being
    /// reassembled for the same packet, reassembly of that packet must be
    /// abandoned and all the fragments that have been received for that
    /// packet must be discarded, and no ICMP error messages should be sent."
    fn reassemble_ipv6(&mut self, now: Instant, meta: &Ipv6Meta, packet: &[u8], f: FragmentHeader, payload: &[u8]) {
        // RFC 7112 §5: "When a host receives a First Fragment (i.e., a
        // fragment whose Fragment Offset is zero) that does not satisfy the
        // above-stated requirements [the entire IPv6 header chain], it
        // SHOULD discard that packet and also MAY send an ICMPv6 error
        // message to the source address of the offending packet (subject
        // to the rules for ICMPv6 errors specified in [RFC4443]). ... the
        // ICMPv6 error message ... (Type 4, Code 3)".
        if f.offset == 0 && !has_header_chain(f.next_header, payload) {
            self.stats.record(Drop::Ipv6IncompleteChain);
            self.send_param_problem(now, meta, packet, param_problem::INCOMPLETE_HEADER_CHAIN, 0);
            return;
        }
        let r = &meta.repr;
        let key = FragKey {
            src: IpAddr::V6(r.src_addr),
            dst: IpAddr::V6(r.dst_addr),
            ident: f.ident,
            // The key's protocol keeps the first fragment's next header; all
            // fragments of a datagram carry the same one.
            protocol: f.next_header.into(),
        };
        // The headers up to the fragment header are what a Time Exceeded
        // quotes (just the fixed header if they are long).
        let mut header = packet.get(..packet.len() - payload.len()).unwrap_or(&[]);
        if header.len() > self.reassembly.config().max_header_len {
            header = packet.get(..ipv6::HEADER_LEN).unwrap_or(&[]);
        }
        let result = self.insert_fragment(now, key, f.offset, f.more_frags, header, payload);
        match result {
            Ok(None) => {}
            Ok(Some(done)) => {
                self.stats.traffic.ipv6_reassembled += 1;
                // Rebuild a packet: fixed header (next header = the
                // fragment's) followed by the reassembled payload.
                let total = ipv6::HEADER_LEN + done.data.len();
                let mut whole = self.pool.take(total);
                let mut repr = meta.repr;
                repr.next_header = f.next_header;
                repr.payload_len = done.data.len();
                repr.emit(&mut Ipv6Packet::new_unchecked(&mut whole[..]));
                whole[ipv6::HEADER_LEN..].copy_from_slice(&done.data);
                self.reassembly.recycle(done.data);
                let meta = Ipv6Meta {
                    repr,
                    fragmented: true,
                    ..*meta
                };
                self.ipv6_headers(now, &meta, &whole, IpProtocol::from(key.protocol), ipv6::HEADER_LEN, false);
                self.pool.give(whole);
            }
            Err(e) => self.stats.record(match e {
                FragError::TooBig => Drop::FragTooBig,
                FragError::Overlap => Drop::FragOverlap,
                FragError::Duplicate => Drop::FragDuplicate,
                FragError::TooManyFragments => Drop::FragTooMany,
                FragError::Malformed => Drop::FragMalformed,
                FragError::Inconsistent => Drop::FragInconsistent,
            }),
        }
    }

    /// The upper-layer header starts at `at` of `packet`.
    fn deliver_ipv6(&mut self, now: Instant, meta: &Ipv6Meta, proto: IpProtocol, packet: &[u8], at: usize) {
        let payload = packet.get(at..).unwrap_or(&[]);
        let r = &meta.repr;
        let tm = TransportMeta {
            src: IpAddr::V6(r.src_addr),
            dst: IpAddr::V6(r.dst_addr),
            dscp_ecn: r.traffic_class,
            broadcast: meta.multicast,
            csum_valid: meta.csum_valid,
        };
        match proto {
            IpProtocol::Icmpv6 => self.process_icmpv6(now, meta, packet, payload),
            IpProtocol::Tcp => {
                if r.src_addr.is_unspecified() {
                    self.stats.record(Drop::Ipv6BadSource);
                    return;
                }
                self.process_tcp_ip(now, &tm, payload);
            }
            _ => {
                if r.src_addr.is_unspecified() {
                    self.stats.record(Drop::Ipv6BadSource);
                    return;
                }
                if let UdpInput::NoPort = self.udp_input(now, &tm, payload) {
                    // RFC 4443 §3.1: "Destination Unreachable ... Code 4 ...
                    // if the transport protocol (e.g., UDP) has no listener"
                    // (never about a multicast destination, §2.4 (e.3)).
                    if !meta.multicast {
                        self.send_dst_unreachable_v6(now, meta, packet, Icmpv6DstUnreachable::PortUnreachable);
                    }
                }
            }
        }
    }
}

/// Whether `payload` (after a first fragment's header) holds the whole
/// header chain: every extension header and the fixed part of the
/// upper-layer header (RFC 7112 §5).
fn has_header_chain(mut next: IpProtocol, mut payload: &[u8]) -> bool {
    for _ in 0..MAX_EXTENSION_HEADERS {
        match next {
            IpProtocol::HopByHop | IpProtocol::Ipv6Opts | IpProtocol::Ipv6Route => {
                let Ok(h) = ExtHeader::parse(payload) else { return false };
                next = h.next_header;
                payload = &payload[h.len()..];
            }
            IpProtocol::Ipv6NoNxt => return true,
            IpProtocol::Tcp => return payload.len() >= crate::wire::tcp::HEADER_LEN,
            IpProtocol::Udp => return payload.len() >= crate::wire::udp::HEADER_LEN,
            IpProtocol::Icmpv6 => return payload.len() >= 4,
            // An unknown upper layer: its header length is unknown.
            _ => return !payload.is_empty(),
        }
    }
    false
}
