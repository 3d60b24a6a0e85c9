//! IPv4 input (RFC 791, RFC 1122 §3.2.1): validation, local delivery,
//! reassembly, and demultiplexing to ICMP and UDP.

use core::net::{IpAddr, SocketAddr};

use super::{Stack, TransportMeta, UdpInput};
use crate::error::Error;
use crate::ip::reassembly::{FragError, FragKey};
use crate::link::FrameMeta;
use crate::link::device::{VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6};
use crate::stats::Drop;
use crate::time::Instant;
use crate::wire::{IpProtocol, Ipv4Packet, Ipv4Repr, TcpSeqNumber, UdpPacket, UdpRepr, WireError, quoted_ports};

/// What the transport layer needs to know about the datagram it got.
#[derive(Clone, Copy)]
pub(super) struct Ipv4Meta {
    pub repr: Ipv4Repr,
    /// Sent to a broadcast address (no ICMP errors about it, no echo reply).
    pub broadcast: bool,
    /// The checksum of the transport layer was validated by the device.
    pub csum_valid: bool,
}

impl Ipv4Meta {
    /// The family-neutral view TCP and UDP input take.
    pub fn transport(&self) -> TransportMeta {
        TransportMeta {
            src: IpAddr::V4(self.repr.src_addr),
            dst: IpAddr::V4(self.repr.dst_addr),
            dscp_ecn: self.repr.dscp_ecn,
            broadcast: self.broadcast,
            csum_valid: self.csum_valid,
        }
    }
}

impl Stack {
    /// One IPv4 packet, from the link (`from_wire`) or from loopback.
    pub(super) fn process_ipv4(&mut self, now: Instant, from_wire: bool, link_broadcast: bool, bytes: &[u8], csum_valid: bool) {
        self.stats.traffic.ipv4_in += 1;
        let pkt = match Ipv4Packet::new_checked(bytes) {
            Ok(p) => p,
            Err(_) => {
                self.stats.record(Drop::Ipv4Malformed);
                return;
            }
        };
        // RFC 1122 §3.2.1.1: "A datagram whose version number is not 4
        // MUST be silently discarded."
        if pkt.version() != 4 {
            self.stats.record(Drop::Ipv4BadVersion);
            return;
        }
        // RFC 1122 §3.2.1.2: "A host MUST verify the IP header checksum on
        // every received datagram and silently discard every datagram that
        // has a bad checksum."
        // A device's DATA_VALID / NEEDS_CSUM speak of the transport
        // checksum; the 20-byte header checksum is still ours to check.
        let repr = match Ipv4Repr::parse(&pkt, true) {
            Ok(r) => r,
            Err(WireError::BadChecksum) => {
                self.stats.record(Drop::Ipv4BadChecksum);
                return;
            }
            Err(_) => {
                self.stats.record(Drop::Ipv4Malformed);
                return;
            }
        };
        // RFC 1122 §3.2.1.3: "A host MUST silently discard an incoming
        // datagram containing an IP source address that is invalid by the
        // rules of this section." (broadcast, multicast, class E)
        if !is_host_source(repr.src_addr) || self.is_ipv4_broadcast(repr.src_addr) {
            self.stats.record(Drop::Ipv4BadSource);
            return;
        }
        // RFC 1122 §3.2.1.3 (g): "Internal host loopback address.
        // Addresses of this form MUST NOT appear outside a host." Nor can
        // a datagram from the wire come from one of our own addresses.
        if from_wire && (repr.src_addr.is_loopback() || repr.dst_addr.is_loopback() || self.has_address(&IpAddr::V4(repr.src_addr))) {
            self.stats.record(Drop::Ipv4Martian);
            return;
        }
        let broadcast = self.is_ipv4_broadcast(repr.dst_addr);
        // RFC 1122 §3.3.4.2 (single-homed, no forwarding): we accept only
        // datagrams for our addresses or broadcast; a host is not a router.
        if !broadcast && !self.has_address(&IpAddr::V4(repr.dst_addr)) && !repr.dst_addr.is_loopback() {
            self.stats.record(Drop::Ipv4NotForUs);
            return;
        }
        // RFC 1122 §3.3.6: a datagram sent to a link-layer broadcast but a
        // unicast IP address "SHOULD be silently discarded".
        if link_broadcast && !broadcast {
            self.stats.record(Drop::Ipv4NotForUs);
            return;
        }
        let meta = Ipv4Meta {
            repr,
            broadcast,
            csum_valid,
        };
        if repr.more_frags || repr.frag_offset != 0 {
            self.stats.traffic.ipv4_frags_in += 1;
            self.reassemble(now, meta, &bytes[..pkt.header_len()], pkt.payload());
            return;
        }
        self.deliver_ipv4(now, &meta, pkt.payload(), true);
    }

    /// RFC 791 §3.2, "Reassembly": "The internet identification field (ID)
    /// is used together with the source and destination address, and the
    /// protocol fields, to identify datagram fragments for reassembly."
    fn reassemble(&mut self, now: Instant, mut meta: Ipv4Meta, header: &[u8], payload: &[u8]) {
        let r = &meta.repr;
        let key = FragKey {
            src: IpAddr::V4(r.src_addr),
            dst: IpAddr::V4(r.dst_addr),
            ident: u32::from(r.ident),
            protocol: u8::from(r.next_header),
        };
        // Fragment zero's header is kept to quote in a Time Exceeded.
        let result = self.insert_fragment(now, key, usize::from(r.frag_offset), r.more_frags, header, payload);
        match result {
            Ok(None) => {}
            Ok(Some(done)) => {
                self.stats.traffic.ipv4_reassembled += 1;
                meta.repr.payload_len = done.data.len();
                meta.repr.more_frags = false;
                meta.repr.frag_offset = 0;
                self.deliver_ipv4(now, &meta, &done.data, true);
                self.reassembly.recycle(done.data);
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

    /// A complete datagram for us: hand it to its protocol.
    /// `first_fragment` is false only for datagrams we must not answer
    /// with ICMP errors.
    pub(super) fn deliver_ipv4(&mut self, now: Instant, meta: &Ipv4Meta, payload: &[u8], first_fragment: bool) {
        match meta.repr.next_header {
            IpProtocol::Icmp => self.process_icmpv4(now, meta, payload),
            IpProtocol::Udp => self.process_udp(now, meta, payload),
            IpProtocol::Tcp => self.process_tcp(now, meta, payload),
            _ => {
                self.stats.record(Drop::Ipv4UnknownProtocol);
                // RFC 1122 §3.2.2.1: "A host SHOULD generate Destination
                // Unreachable messages with code: 2 (Protocol Unreachable),
                // when the designated transport protocol is not supported".
                if first_fragment {
                    self.send_dst_unreachable(now, meta, payload, crate::wire::Icmpv4DstUnreachable::ProtoUnreachable);
                }
            }
        }
    }

    /// What a received frame's offload metadata says about its transport
    /// checksum: `Some(true)` when it needs no verification, `Some(false)`
    /// when it must be verified, `None` when the frame must be dropped.
    ///
    /// Only a device we told to offload (`rx_offload`) may send metadata.
    /// The virtio spec (§5.1.6.4, "Processing of Incoming Packets", in
    /// substance): with `NEEDS_CSUM` the device has validated the
    /// checksums up to `csum_start + csum_offset` and left the transport
    /// checksum holding the pseudo-header sum only; with `DATA_VALID` it
    /// has validated the packet's checksum. Behind a TAP the sender is the
    /// host kernel itself, which leaves the checksum partial because the
    /// data never crossed a wire; Linux treats such a receive
    /// (CHECKSUM_PARTIAL) as verified too. The offsets must still lie
    /// inside the frame. A coalesced (GRO) TCP frame needs nothing more:
    /// its IP total length covers it whole.
    pub(super) fn rx_offload_checksum_valid(&self, meta: &FrameMeta, frame_len: usize) -> Option<bool> {
        if *meta == FrameMeta::PLAIN {
            return Some(false);
        }
        if !self.caps.checksum.rx_offload {
            // Partial checksums and super-frames only come from offloads
            // we did not enable.
            return (!meta.needs_csum() && !meta.is_gso()).then_some(meta.checksum_valid());
        }
        let tcp_gso = matches!(
            meta.gso_type & !VIRTIO_NET_HDR_GSO_ECN,
            VIRTIO_NET_HDR_GSO_NONE | VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_TCPV6
        );
        if !tcp_gso {
            return None;
        }
        if meta.needs_csum() {
            let at = usize::from(meta.csum_start) + usize::from(meta.csum_offset) + 2;
            return (at <= frame_len).then_some(true);
        }
        Some(meta.checksum_valid())
    }

    /// UDP over IPv4: a closed port gets a port unreachable.
    fn process_udp(&mut self, now: Instant, meta: &Ipv4Meta, payload: &[u8]) {
        if let UdpInput::NoPort = self.udp_input(now, &meta.transport(), payload) {
            // RFC 1122 §4.1.3.1: "If a datagram arrives addressed to a UDP
            // port for which there is no pending LISTEN call, UDP SHOULD
            // send an ICMP Port Unreachable message."
            self.send_dst_unreachable(now, meta, payload, crate::wire::Icmpv4DstUnreachable::PortUnreachable);
        }
    }

    /// RFC 768 / RFC 1122 §4.1.3 (both families): verify the checksum,
    /// find the socket, queue the datagram.
    pub(super) fn udp_input(&mut self, _now: Instant, meta: &TransportMeta, payload: &[u8]) -> UdpInput {
        self.stats.traffic.udp_in += 1;
        let (src, dst) = (meta.src, meta.dst);
        let Ok(pkt) = UdpPacket::new_checked(payload) else {
            self.stats.record(Drop::UdpMalformed);
            return UdpInput::Dropped;
        };
        // RFC 1122 §4.1.3.4: "If a UDP datagram is received with a checksum
        // that is non-zero and invalid, UDP MUST silently discard the
        // datagram."
        let udp = match UdpRepr::parse(&pkt, &src, &dst, !meta.csum_valid) {
            Ok(u) => u,
            Err(WireError::BadChecksum) => {
                self.stats.record(Drop::UdpBadChecksum);
                return UdpInput::Dropped;
            }
            Err(_) => {
                self.stats.record(Drop::UdpMalformed);
                return UdpInput::Dropped;
            }
        };
        let peer = SocketAddr::new(src, udp.src_port);
        let Some(h) = self.udp.lookup(&dst, udp.dst_port, &peer) else {
            self.stats.record(Drop::UdpNoPort);
            return UdpInput::NoPort;
        };
        let data = pkt.payload();
        let Some(sock) = self.udp.get_mut(h) else {
            return UdpInput::Dropped;
        };
        if sock.rx.push(&mut self.pool, peer, data) {
            sock.wake_rx();
        } else {
            self.stats.record(Drop::UdpRecvQueueFull);
        }
        UdpInput::Delivered
    }

    /// An error about a datagram we sent, from the network or from our own
    /// address resolution: tell the socket that sent it.
    pub(super) fn deliver_error_to_sender(&mut self, from: IpAddr, invoking: &[u8], error: Error) {
        let Some(inv) = InvokingDatagram::parse(invoking) else { return };
        self.deliver_error_parts(from, inv.protocol, IpAddr::V4(inv.src), IpAddr::V4(inv.dst), inv.transport, error);
    }

    /// The family-neutral part of [`Self::deliver_error_to_sender`]:
    /// `transport` is the quoted transport header (at least 8 bytes).
    pub(super) fn deliver_error_parts(
        &mut self,
        from: IpAddr,
        protocol: IpProtocol,
        src: IpAddr,
        dst: IpAddr,
        transport: &[u8],
        error: Error,
    ) {
        let inv = QuotedTransport(transport);
        match protocol {
            IpProtocol::Udp => {
                let (src_port, dst_port) = inv.ports();
                let local = SocketAddr::new(src, src_port);
                let remote = SocketAddr::new(dst, dst_port);
                let Some(h) = self.udp.lookup_sender(&local) else {
                    self.stats.record(Drop::Icmpv4NoSocket);
                    return;
                };
                if let Some(sock) = self.udp.get_mut(h) {
                    // RFC 1122 §4.1.3.3: "UDP MUST pass to the application
                    // layer all ICMP error messages that it receives from
                    // the IP layer." Like Linux, an unconnected socket
                    // cannot tell which send failed, so only a connected
                    // one is told.
                    if sock.remote == Some(remote) {
                        sock.error = Some(error);
                        sock.wake_rx();
                    }
                }
            }
            IpProtocol::Tcp => {
                let (src_port, dst_port) = inv.ports();
                let local = SocketAddr::new(src, src_port);
                let remote = SocketAddr::new(dst, dst_port);
                self.tcp_icmp_error(self.now, local, remote, inv.tcp_seq(), error);
            }
            IpProtocol::Icmp | IpProtocol::Icmpv6 => {
                let (ident, seq_no) = inv.echo_ident_seq();
                match self.echo.by_ident(ident) {
                    Some(s) => s.push_error(crate::icmp_socket::EchoError { from, seq_no, error }),
                    None => self.stats.record(Drop::Icmpv4NoSocket),
                }
            }
            _ => self.stats.record(Drop::Icmpv4NoSocket),
        }
    }

    /// Address resolution failed for a packet we wanted to send: the
    /// sender sees host unreachable, as if an ICMP error had come back.
    pub(super) fn report_unreachable_locally(&mut self, now: Instant, ip_packet: &[u8]) {
        if ip_packet.first().is_some_and(|b| b >> 4 == 6) {
            self.report_unreachable_locally_v6(now, ip_packet);
            return;
        }
        let from = InvokingDatagram::parse(ip_packet).map_or(IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED), |d| IpAddr::V4(d.src));
        self.deliver_error_to_sender(from, ip_packet, Error::HostUnreachable);
    }
}

/// Whether `a` may be the source of a datagram at all (RFC 1122 §3.2.1.3):
/// not broadcast, not multicast (class D), not reserved (class E, 240/4).
/// `0.0.0.0` is allowed ("this host", used while configuring, e.g. DHCP).
pub(super) fn is_host_source(a: core::net::Ipv4Addr) -> bool {
    !(a.is_broadcast() || a.is_multicast() || a.octets()[0] >= 240)
}

/// Whether we may send an ICMP error to `a`: RFC 1122 §3.2.2, "a datagram
/// whose source address does not define a single host -- e.g., a zero
/// address, a loopback address, a broadcast address, a multicast address,
/// or a Class E address" gets none.
pub(super) fn defines_single_host(a: core::net::Ipv4Addr) -> bool {
    is_host_source(a) && !a.is_unspecified() && !a.is_loopback()
}

/// The start of a datagram quoted in an ICMP error: IP header plus at
/// least 8 bytes of transport header (RFC 792: "Internet Header + 64 bits
/// of Original Data Datagram"). Parsed leniently, because the quote is
/// usually cut short.
pub(super) struct InvokingDatagram<'a> {
    pub src: core::net::Ipv4Addr,
    pub dst: core::net::Ipv4Addr,
    pub protocol: IpProtocol,
    pub transport: &'a [u8],
}

/// The quoted transport header of an ICMP error (at least 8 bytes).
pub(super) struct QuotedTransport<'a>(pub &'a [u8]);

impl QuotedTransport<'_> {
    /// UDP/TCP (source, destination) ports.
    pub fn ports(&self) -> (u16, u16) {
        quoted_ports(self.0).unwrap_or_default()
    }

    /// The TCP sequence number of a quoted segment (bytes 4..8).
    pub fn tcp_seq(&self) -> TcpSeqNumber {
        match self.0.get(4..8) {
            Some(b) => TcpSeqNumber(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            None => TcpSeqNumber(0),
        }
    }

    /// ICMP echo identifier and sequence number (bytes 4..8 of the header).
    pub fn echo_ident_seq(&self) -> (u16, u16) {
        match self.0.get(4..8) {
            Some(b) => (u16::from_be_bytes([b[0], b[1]]), u16::from_be_bytes([b[2], b[3]])),
            None => (0, 0),
        }
    }
}

impl<'a> InvokingDatagram<'a> {
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let pkt = Ipv4Packet::new_quoted(bytes).ok()?;
        if pkt.version() != 4 {
            return None;
        }
        let transport = bytes.get(pkt.header_len()..)?;
        if transport.len() < 8 {
            return None;
        }
        Some(InvokingDatagram {
            src: pkt.src_addr(),
            dst: pkt.dst_addr(),
            protocol: pkt.next_header(),
            transport,
        })
    }

    /// UDP/TCP (source, destination) ports.
    pub fn ports(&self) -> (u16, u16) {
        quoted_ports(self.transport).unwrap_or_default()
    }

    /// The TCP sequence number of a quoted segment (bytes 4..8).
    pub fn tcp_seq(&self) -> TcpSeqNumber {
        QuotedTransport(self.transport).tcp_seq()
    }
}
