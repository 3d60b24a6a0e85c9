//! Structured fuzzing of the whole engine.
//!
//! The fuzz input is a list of [`Action`]s run against one [`Stack`]
//! (MAC [`OUR_MAC`], address [`OUR_IP`]/24, gateway [`GATEWAY`]): receive
//! a frame, a train of fragments or an answer to what the stack sent;
//! advance time; poll; socket calls (UDP, ICMP echo, TCP); live
//! configuration changes; drain the transmit queue. [`decode`] reads the actions from the fuzzer's bytes
//! with a tiny cursor (missing bytes read as zero, and zero bytes mean the
//! ordinary value of a field); [`encode`] is its inverse, for writing seeds.
//!
//! Frames are built structurally — Ethernet → ARP, or IPv4 → ICMP/UDP/TCP
//! with valid checksums, every field (lengths, fragment offsets and flags, IHL,
//! identification, ports, types and codes) taken from the input — so the
//! fuzzer reaches reassembly, address resolution, ICMP errors delivered to
//! sockets and TCP connections (answers to the stack's own segments carry
//! the right sequence numbers) instead of dying at a checksum. [`Damage`] and raw frames
//! cover the malformed rest.
//!
//! After every action the harness checks what must always hold, and fails
//! (panics) when it does not:
//!
//! - every transmitted frame parses as Ethernet carrying ARP or IPv4 from
//!   our MAC and one of our addresses, with correct IPv4, ICMP, UDP and TCP
//!   checksums, no offload metadata, and at most MTU + 14 bytes; our own
//!   fragments reassemble cleanly; ICMP errors obey RFC 1122 §3.2.2;
//! - `poll_at()` is never before the last completed `poll`, and after
//!   `poll(now)` (repeated a few times) it is later than `now`, so a driver
//!   never spins;
//! - the transmit queue never holds more than its configured bound.
//!
//! A log of every action and result is kept in memory and printed only
//! when a check fails or the engine panics (or always, with the environment
//! variable `MNET_FUZZ_LOG` set). Each check has a name, printed with its
//! failure; [`TOLERATE_VAR`] switches named checks off, to fuzz past a bug
//! already reported.
//!
//! ```
//! use mnet_sim::fuzz::{self, Action, Dest, Ip};
//!
//! let script = vec![
//!     Action::Poll,
//!     Action::EchoOpen { ident: Some(7) },
//!     Action::EchoSend { socket: 0, dst: Dest::V4(Ip::Gateway), seq: 1, len: 32 },
//!     Action::Transmit { accept: 0 },
//! ];
//! let bytes = fuzz::encode(&script);
//! assert_eq!(fuzz::decode(&bytes), script);
//! // The gateway's MAC is unknown: the ping waits and an ARP request goes out.
//! let outcome = fuzz::execute(&bytes);
//! assert_eq!(outcome.sent.arp_requests, 2); // the address announcement, then the request
//! assert_eq!(outcome.sent.echo_requests, 0);
//! ```

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use mnet::config::Config;
use mnet::ip::reassembly::{FragKey, Reassembler, ReassemblyConfig};
use mnet::link::device::{VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP};
use mnet::link::{DeviceCapabilities, FrameMeta};
use mnet::rand::Rng;
use mnet::slab::Handle;
use mnet::stack::{EchoEvent, Stack};
use mnet::stats::Stats;
use mnet::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, Icmpv4Packet, Icmpv4Repr, IpCidr, IpProtocol, Ipv4Packet,
    Ipv4Repr, TcpFlags, TcpPacket, TcpRepr, UdpPacket, UdpRepr, checksum, ethernet, ipv4, udp,
};
use mnet::{Duration, Error, Instant};

use crate::SimRng;

/// The MAC address of the stack under test.
pub const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
/// The address of the stack under test (a /24).
pub const OUR_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Its default gateway.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The seed of the stack's random stream: a run is a function of the input.
pub const SEED: [u8; 32] = [0x5e; 32];
/// The clock at the start of a run (not zero, as a real clock rarely is).
pub const START: Instant = Instant::from_secs(1_000);
/// Actions decoded from one input at most (the rest is ignored).
pub const MAX_ACTIONS: usize = 512;
/// Payload bytes of one structured frame at most (a jumbo frame); larger
/// lengths are clipped. Fragment trains go up to 65,535 bytes.
pub const MAX_FRAME_PAYLOAD: usize = 9000;
/// Fragments in one [`Fragments`] train at most (above the engine's
/// per-datagram bound, so that bound is reached).
pub const MAX_SERIES_FRAGMENTS: usize = 160;
/// Socket handles remembered per kind (closed ones stay, to try stale handles).
pub const MAX_HANDLES: usize = 64;
/// Recent ARP requests and IPv4 datagrams we sent, kept to answer them.
pub const REMEMBERED: usize = 16;
/// Polls at one instant after which `poll_at()` must be in the future.
pub const SETTLE_POLLS: usize = 8;
/// Bounds of [`Action::SetMtu`] (RFC 791 §3.2: "Every internet module must
/// be able to forward a datagram of 68 octets without further
/// fragmentation"; above, a jumbo frame).
pub const MTU_RANGE: (usize, usize) = (68, 9216);
/// RFC 1812 §4.3.2.3: an ICMP error should not exceed 576 bytes.
pub const ICMP_ERROR_MAX_LEN: usize = 576;
/// The environment variable naming checks to tolerate, comma-separated, to
/// fuzz past a known and reported bug (`MNET_FUZZ_TOLERATE=destination-mac`).
/// Every failure message starts with the name of its check in brackets.
pub const TOLERATE_VAR: &str = "MNET_FUZZ_TOLERATE";

const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const SECOND: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const V6_DEST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const OTHER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x99]);
const MULTICAST_MAC: EthernetAddress = EthernetAddress([0x01, 0, 0x5e, 0, 0, 0x01]);

/// The MAC address the harness uses for a peer at `ip`.
pub fn mac_of(ip: Ipv4Addr) -> EthernetAddress {
    let o = ip.octets();
    EthernetAddress([0x02, 0x00, o[0], o[1], o[2], o[3]])
}

mod action;
mod frames;

use frames::{Header, damage, eth_frame, icmp_message, pattern, tcp_segment};

pub use action::{
    Action, Arp, ArpOp, BindAddr, Body, Close, Damage, Dest, Fragments, Frame, Ident, Ip, Ipv4Fields, Mac, Meta, Order, Payload, Port,
    Quote, RawType, Respond, Twist, UdpChecksum, Unit, decode, encode,
};

// ---- running a case ----------------------------------------------------------------

/// What a run did, for tests that want more than "no check failed".
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Actions run.
    pub actions: usize,
    /// Frames the stack transmitted, by kind.
    pub sent: Sent,
    /// Datagrams `udp_recv_from` returned.
    pub udp_received: usize,
    /// Errors (other than `WouldBlock`) UDP calls returned.
    pub udp_errors: usize,
    /// Echo replies `echo_recv` returned.
    pub echo_replies: usize,
    /// Errors `echo_recv` returned as events.
    pub echo_errors: usize,
    /// Connections `tcp_accept` returned.
    pub tcp_accepted: usize,
    /// Bytes `tcp_recv` returned.
    pub tcp_received: usize,
    /// Errors (other than `WouldBlock`) TCP calls returned.
    pub tcp_errors: usize,
    /// The stack's counters at the end.
    pub stats: Stats,
    /// FNV-1a over every transmitted frame and every socket result: two
    /// runs of one input must agree.
    pub digest: u64,
}

/// Transmitted frames by kind (a fragmented datagram counts once, when
/// its last fragment went out, plus once per fragment in `fragments`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    pub frames: usize,
    pub arp_requests: usize,
    pub arp_replies: usize,
    pub echo_requests: usize,
    pub echo_replies: usize,
    pub dst_unreachable: usize,
    /// Time exceeded and parameter problem.
    pub other_icmp_errors: usize,
    pub udp: usize,
    pub tcp: usize,
    pub tcp_resets: usize,
    pub fragments: usize,
}

/// Run a fuzz input; panics (after printing the log) when a check fails.
/// The fuzz target calls this.
pub fn run(data: &[u8]) {
    let _ = execute(data);
}

/// [`run`], returning what happened.
pub fn execute(data: &[u8]) -> Outcome {
    execute_actions(&decode(data))
}

/// Run a list of actions (at most [`MAX_ACTIONS`]).
pub fn execute_actions(actions: &[Action]) -> Outcome {
    let mut h = Harness::new(actions);
    for (i, a) in actions.iter().take(MAX_ACTIONS).enumerate() {
        h.log.push(Note::Action(i, h.now));
        h.apply(a);
        h.check_bounds();
        h.out.actions += 1;
    }
    h.note("end: drain everything".into());
    h.drain(0);
    h.check_bounds();
    if std::env::var_os("MNET_FUZZ_LOG").is_some() {
        h.print_log();
    }
    h.out.stats = h.stack.stats().clone();
    h.out.clone()
}

/// One line of the log, formatted only when printed.
enum Note {
    /// The index of an action in the script, and the time it ran.
    Action(usize, Instant),
    Text(String),
}

struct Harness<'a> {
    /// The actions being run (for the log).
    script: &'a [Action],
    stack: Stack,
    now: Instant,
    /// The time of the last `poll` after which nothing was due.
    settled: Instant,
    udp: Vec<Handle>,
    echo: Vec<Handle>,
    listeners: Vec<Handle>,
    conns: Vec<Handle>,
    /// Every address ever configured: frames queued before a removal may
    /// still carry one.
    ever: Vec<IpCidr>,
    /// The largest MTU in force since the transmit queue was last empty.
    mtu_high: usize,
    tx_limit: usize,
    sent_arp: VecDeque<ArpRepr>,
    /// Whole datagrams we sent (reassembled when fragmented).
    sent_ip: VecDeque<Vec<u8>>,
    own_fragments: Reassembler,
    out: Outcome,
    log: Vec<Note>,
    printed: bool,
    /// Checks switched off by [`TOLERATE_VAR`].
    tolerate: Vec<String>,
    /// An address was added or removed during the run.
    config_changed: bool,
}

impl Drop for Harness<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.printed {
            eprintln!("mnet fuzz: the engine panicked; log of the case:");
            self.print_log();
        }
    }
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn class_e(a: Ipv4Addr) -> bool {
    a.octets()[0] >= 240 && !a.is_broadcast()
}

impl<'a> Harness<'a> {
    fn new(script: &'a [Action]) -> Harness<'a> {
        let cidr = IpCidr::new(IpAddr::V4(OUR_IP), 24).expect("a /24 is a valid prefix");
        let config = Config::new(OUR_MAC, SEED).address(cidr).gateway(GATEWAY);
        let tx_limit = config.limits.tx_queue_frames;
        let stack = Stack::new(config, START);
        let mtu = stack.mtu();
        let own = ReassemblyConfig {
            max_fragments_per_datagram: 2 * tx_limit,
            max_bytes: 16 << 20,
            ..ReassemblyConfig::default()
        };
        Harness {
            script,
            stack,
            now: START,
            settled: START,
            udp: Vec::new(),
            echo: Vec::new(),
            listeners: Vec::new(),
            conns: Vec::new(),
            ever: vec![cidr],
            mtu_high: mtu,
            tx_limit,
            sent_arp: VecDeque::new(),
            sent_ip: VecDeque::new(),
            own_fragments: Reassembler::new(own, &mut Rng::from_seed([1; 32])),
            out: Outcome {
                actions: 0,
                sent: Sent::default(),
                udp_received: 0,
                udp_errors: 0,
                echo_replies: 0,
                echo_errors: 0,
                tcp_accepted: 0,
                tcp_received: 0,
                tcp_errors: 0,
                stats: Stats::default(),
                digest: 0xcbf2_9ce4_8422_2325,
            },
            log: Vec::new(),
            printed: false,
            tolerate: std::env::var(TOLERATE_VAR)
                .map(|v| v.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect())
                .unwrap_or_default(),
            config_changed: false,
        }
    }

    fn note(&mut self, line: String) {
        self.log.push(Note::Text(line));
    }

    fn print_log(&self) {
        for note in &self.log {
            match note {
                Note::Action(i, t) => match self.script.get(*i) {
                    Some(a) => eprintln!("  #{i} t={}us {a:?}", t.total_micros()),
                    None => eprintln!("  #{i}"),
                },
                Note::Text(l) => eprintln!("  {l}"),
            }
        }
    }

    fn fail(&mut self, msg: String) -> ! {
        self.printed = true;
        eprintln!("mnet fuzz: check failed: {msg}\nlog of the case:");
        self.print_log();
        panic!("mnet fuzz: {msg}");
    }

    fn digest(&mut self, bytes: &[u8]) {
        self.out.digest = fnv(self.out.digest, bytes);
    }

    fn result<T: core::fmt::Debug>(&mut self, r: &T) {
        let s = format!("  -> {r:?}");
        self.digest(s.as_bytes());
        self.note(s);
    }

    // ---- selectors -----------------------------------------------------------

    fn mac(&self, m: Mac, natural: EthernetAddress) -> EthernetAddress {
        match m {
            Mac::Natural => natural,
            Mac::Ours => OUR_MAC,
            Mac::Broadcast => EthernetAddress::BROADCAST,
            Mac::Other => OTHER_MAC,
            Mac::Multicast => MULTICAST_MAC,
            Mac::Zero => EthernetAddress([0; 6]),
            Mac::Raw(b) => EthernetAddress(b),
        }
    }

    fn port(&self, p: Port) -> u16 {
        match p {
            Port::Socket(n) => self
                .pick(&self.udp, n)
                .and_then(|h| self.stack.udp_local_addr(h).ok())
                .map_or(7, |a| a.port()),
            Port::Echo => 7,
            Port::Discard => 9,
            Port::Zero => 0,
            Port::Ephemeral => mnet::udp::EPHEMERAL_PORT_MIN,
            Port::Raw(v) => v,
            Port::Listener(n) => self
                .pick(&self.listeners, n)
                .and_then(|h| self.stack.tcp_listener_addr(h).ok())
                .map_or(80, |a| a.port()),
        }
    }

    fn ident(&mut self, i: Ident) -> u16 {
        match i {
            Ident::Socket(n) => match self.pick(&self.echo, n) {
                Some(h) => self.stack.echo_ident(h).unwrap_or(0),
                None => 0,
            },
            Ident::Raw(v) => v,
        }
    }

    fn pick(&self, handles: &[Handle], n: u8) -> Option<Handle> {
        if handles.is_empty() {
            return None;
        }
        handles.get(usize::from(n) % handles.len()).copied()
    }

    fn dest(d: Dest) -> IpAddr {
        match d {
            Dest::V4(ip) => IpAddr::V4(ip.addr()),
            Dest::V6 => IpAddr::V6(V6_DEST),
        }
    }

    fn ever_ours(&self, a: Ipv4Addr) -> bool {
        self.ever.iter().any(|c| c.address() == IpAddr::V4(a))
    }

    fn broadcast_like(&self, a: Ipv4Addr) -> bool {
        a.is_broadcast() || self.ever.iter().any(|c| c.broadcast() == Some(a))
    }

    // ---- building frames ---------------------------------------------------------

    /// A transport message with valid checksums; lengths are clipped to `cap`.
    fn transport(&mut self, p: &Payload, src: Ipv4Addr, dst: Ipv4Addr, cap: usize) -> (IpProtocol, Vec<u8>) {
        let clip = |len: u16| usize::from(len).min(cap);
        match p {
            Payload::EchoRequest { ident, seq, len } => {
                let ([a, b], [c, d]) = (ident.to_be_bytes(), seq.to_be_bytes());
                (IpProtocol::Icmp, icmp_message(8, 0, [a, b, c, d], &pattern(clip(*len), 0x11)))
            }
            Payload::EchoReply { ident, seq, len } => {
                let [a, b] = self.ident(*ident).to_be_bytes();
                let [c, d] = seq.to_be_bytes();
                (IpProtocol::Icmp, icmp_message(0, 0, [a, b, c, d], &pattern(clip(*len), 0x22)))
            }
            Payload::Error {
                msg_type,
                code,
                rest,
                quote,
            } => {
                let [c, d] = rest.to_be_bytes();
                // Parameter problem keeps its pointer in the first byte.
                let r = if *msg_type == 12 { [d, 0, 0, 0] } else { [0, 0, c, d] };
                let body = self.quote(quote);
                (IpProtocol::Icmp, icmp_message(*msg_type, *code, r, &body))
            }
            Payload::Icmp { msg_type, code, len } => (
                IpProtocol::Icmp,
                icmp_message(*msg_type, *code, [0, 1, 0, 1], &pattern(clip(*len), 0x33)),
            ),
            Payload::Udp {
                src_port,
                dst_port,
                len,
                checksum,
            } => {
                let n = clip(*len).min(udp::MAX_PAYLOAD_LEN);
                let mut b = vec![0u8; udp::HEADER_LEN + n];
                let mut u = UdpPacket::new_unchecked(&mut b[..]);
                UdpRepr {
                    src_port: self.port(*src_port),
                    dst_port: self.port(*dst_port),
                }
                .emit_header(&mut u, n);
                u.payload_mut().copy_from_slice(&pattern(n, 0x44));
                let (s, d) = (IpAddr::V4(src), IpAddr::V4(dst));
                match checksum {
                    UdpChecksum::Valid => u.fill_checksum(&s, &d),
                    UdpChecksum::Zero => u.set_checksum(0),
                    UdpChecksum::Bad => {
                        u.fill_checksum(&s, &d);
                        let bad = u.checksum() ^ 0x0101;
                        u.set_checksum(bad);
                    }
                }
                (IpProtocol::Udp, b)
            }
            Payload::Other { protocol, len } => (IpProtocol::from(*protocol), pattern(clip(*len), 0x55)),
            Payload::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                window,
                options,
                len,
            } => {
                let ports = (self.port(*src_port), self.port(*dst_port));
                let ts = (options & 8 != 0).then_some((*seq, *ack));
                let data = pattern(clip(*len), 0x5a);
                let seg = tcp_segment((src, dst), ports, (*seq, *ack), *flags, *window, *options, ts, &data);
                (IpProtocol::Tcp, seg)
            }
        }
    }

    /// The bytes quoted in an ICMP error.
    fn quote(&mut self, q: &Quote) -> Vec<u8> {
        match q {
            Quote::LastSent { back, cut } => self.recent_datagram(*back).map_or_else(Vec::new, |d| {
                let hl = Ipv4Packet::new_checked(&d[..]).map_or(ipv4::HEADER_LEN, |p| p.header_len());
                d[..d.len().min(hl + usize::from(*cut))].to_vec()
            }),
            Quote::Udp {
                src,
                dst,
                src_port,
                dst_port,
                cut,
            } => {
                let mut t = [self.port(*src_port), self.port(*dst_port), 40, 0].map(u16::to_be_bytes).concat();
                t.extend_from_slice(&pattern(32, 0x66));
                Self::quoted(src.addr(), dst.addr(), IpProtocol::Udp, &t, *cut)
            }
            Quote::Echo { src, dst, ident, seq, cut } => {
                let mut t = [8u16 << 8, 0, self.ident(*ident), *seq].map(u16::to_be_bytes).concat();
                t.extend_from_slice(&pattern(32, 0x77));
                Self::quoted(src.addr(), dst.addr(), IpProtocol::Icmp, &t, *cut)
            }
            Quote::Raw(b) => b.clone(),
        }
    }

    fn quoted(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, transport: &[u8], cut: u8) -> Vec<u8> {
        let mut d = Header::plain(src, dst, protocol).bytes(transport.len());
        d.extend_from_slice(&transport[..transport.len().min(usize::from(cut))]);
        d
    }

    fn recent_datagram(&self, back: u8) -> Option<Vec<u8>> {
        let n = self.sent_ip.len();
        if n == 0 {
            return None;
        }
        self.sent_ip.get(n - 1 - usize::from(back) % n).cloned()
    }

    fn build_frame(&mut self, f: &Frame) -> (FrameMeta, Vec<u8>) {
        let mut frame = match &f.body {
            Body::Arp(a) => {
                let spa = a.spa.addr();
                let repr = ArpRepr {
                    operation: match a.op {
                        ArpOp::Request => ArpOperation::Request,
                        ArpOp::Reply => ArpOperation::Reply,
                        ArpOp::Raw(v) => ArpOperation::from(v),
                    },
                    source_hardware_addr: self.mac(a.sha, mac_of(spa)),
                    source_protocol_addr: spa,
                    target_hardware_addr: self.mac(a.tha, if a.op == ArpOp::Reply { OUR_MAC } else { EthernetAddress([0; 6]) }),
                    target_protocol_addr: a.tpa.addr(),
                };
                let mut body = [0u8; 28];
                repr.emit(&mut ArpPacket::new_unchecked(&mut body[..]));
                let src = self.mac(f.eth_src, repr.source_hardware_addr);
                eth_frame(self.mac(f.eth_dst, OUR_MAC), src, EtherType::Arp, &body)
            }
            Body::Ipv4(fields, payload) => {
                let (src, dst) = (fields.src.addr(), fields.dst.addr());
                let (protocol, t) = self.transport(payload, src, dst, MAX_FRAME_PAYLOAD);
                let mut ip = Header::new(fields, protocol).bytes(t.len());
                ip.extend_from_slice(&t);
                eth_frame(self.mac(f.eth_dst, OUR_MAC), self.mac(f.eth_src, mac_of(src)), EtherType::Ipv4, &ip)
            }
        };
        damage(&mut frame, f.damage);
        let meta = match f.meta {
            Meta::Plain => FrameMeta::PLAIN,
            Meta::DataValid => FrameMeta {
                flags: VIRTIO_NET_HDR_F_DATA_VALID,
                ..FrameMeta::PLAIN
            },
            Meta::NeedsCsum => FrameMeta {
                flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
                csum_start: 34,
                csum_offset: 6,
                ..FrameMeta::PLAIN
            },
            Meta::Gso => FrameMeta {
                gso_type: VIRTIO_NET_HDR_GSO_UDP,
                gso_size: 1472,
                hdr_len: 42,
                ..FrameMeta::PLAIN
            },
        };
        (meta, frame)
    }

    /// The frames of a fragment train.
    fn build_fragments(&mut self, s: &Fragments) -> Vec<Vec<u8>> {
        let (src, dst) = (s.ip.src.addr(), s.ip.dst.addr());
        let (protocol, data) = self.transport(&s.payload, src, dst, usize::MAX);
        let header = Header::new(&s.ip, protocol);
        let min = data.len().div_ceil(MAX_SERIES_FRAGMENTS).next_multiple_of(8);
        let size = (usize::from(s.size) & !7).max(8).max(min);
        // (offset, length, more fragments)
        let mut pieces: Vec<(usize, usize, bool)> = (0..data.len().max(1))
            .step_by(size)
            .map(|off| (off, size.min(data.len() - off), off + size < data.len()))
            .collect();
        let n = pieces.len();
        let at = |k: u8| usize::from(k) % n;
        match s.twist {
            Twist::None => {}
            Twist::Duplicate(k) => pieces.insert(at(k) + 1, pieces[at(k)]),
            Twist::Overlap(k) => {
                let p = &mut pieces[at(k)];
                if p.0 >= 8 {
                    *p = (p.0 - 8, p.1 + 8, p.2);
                } else {
                    p.1 += 8;
                }
            }
            Twist::Hole(k) if n > 1 => {
                pieces.remove(at(k));
            }
            Twist::Hole(_) => {}
            Twist::PastEnd => pieces.push((data.len().next_multiple_of(8), 8, false)),
            Twist::LastKeepsMore => {
                if let Some(p) = pieces.last_mut() {
                    p.2 = true;
                }
            }
            Twist::Shrink(k) => {
                let p = &mut pieces[at(k)];
                p.1 = p.1.saturating_sub(usize::from(k % 7) + 1);
            }
            Twist::BeyondMax => pieces.push((65528, 16, false)),
        }
        match s.order {
            Order::InOrder => {}
            Order::Reversed => pieces.reverse(),
            Order::LastFirst => pieces.rotate_right(1),
            Order::Shuffle(seed) => {
                let mut rng = SimRng::new(u64::from(seed));
                for i in (1..pieces.len()).rev() {
                    let j = rng.below(i as u64 + 1) as usize;
                    pieces.swap(i, j);
                }
            }
        }
        let eth_src = mac_of(src);
        pieces
            .iter()
            .map(|&(off, len, more)| {
                let mut piece = data.get(off.min(data.len())..(off + len).min(data.len())).unwrap_or(&[]).to_vec();
                piece.resize(len, 0);
                let mut h = header;
                h.frag_offset = off.min(0xfff8) & !7;
                h.flags = (h.flags & !2) | if more { 2 } else { 0 };
                let mut ip = h.bytes(piece.len());
                ip.extend_from_slice(&piece);
                eth_frame(OUR_MAC, eth_src, EtherType::Ipv4, &ip)
            })
            .collect()
    }

    /// The frames of an IPv4 datagram from a peer, fragmented for a
    /// 1500-byte MTU when larger.
    fn datagram_frames(&self, src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, data: &[u8]) -> Vec<Vec<u8>> {
        let mut h = Header::plain(src, dst, protocol);
        let per = 1480;
        let mut frames = Vec::new();
        let mut off = 0;
        loop {
            let len = per.min(data.len() - off);
            h.frag_offset = off;
            h.flags = if off + len < data.len() { 2 } else { 0 };
            let mut ip = h.bytes(len);
            ip.extend_from_slice(&data[off..off + len]);
            frames.push(eth_frame(OUR_MAC, mac_of(src), EtherType::Ipv4, &ip));
            off += len;
            if off >= data.len() {
                return frames;
            }
        }
    }

    fn respond(&mut self, r: Respond) -> Vec<Vec<u8>> {
        match r {
            Respond::ArpReply => {
                let Some(req) = self
                    .sent_arp
                    .iter()
                    .rev()
                    .find(|a| a.operation == ArpOperation::Request && !self.ever_ours(a.target_protocol_addr))
                    .copied()
                else {
                    return Vec::new();
                };
                let ip = req.target_protocol_addr;
                let reply = ArpRepr {
                    operation: ArpOperation::Reply,
                    source_hardware_addr: mac_of(ip),
                    source_protocol_addr: ip,
                    target_hardware_addr: OUR_MAC,
                    target_protocol_addr: req.source_protocol_addr,
                };
                let mut body = [0u8; 28];
                reply.emit(&mut ArpPacket::new_unchecked(&mut body[..]));
                vec![eth_frame(OUR_MAC, mac_of(ip), EtherType::Arp, &body)]
            }
            Respond::EchoReply => {
                let found = self.sent_ip.iter().rev().find_map(|d| {
                    let p = Ipv4Packet::new_checked(&d[..]).ok()?;
                    let body = p.payload();
                    (p.next_header() == IpProtocol::Icmp && body.first() == Some(&8) && body.len() >= 8)
                        .then(|| (p.src_addr(), p.dst_addr(), body.to_vec()))
                });
                let Some((src, dst, mut body)) = found else { return Vec::new() };
                body[0] = 0;
                body[2..4].fill(0);
                let sum = checksum::checksum(&body);
                body[2..4].copy_from_slice(&sum.to_be_bytes());
                self.datagram_frames(dst, src, IpProtocol::Icmp, &body)
            }
            Respond::Error {
                msg_type,
                code,
                rest,
                back,
                cut,
            } => {
                let Some(d) = self.recent_datagram(back) else { return Vec::new() };
                let Ok(p) = Ipv4Packet::new_checked(&d[..]) else {
                    return Vec::new();
                };
                let (src, dst, hl) = (p.src_addr(), p.dst_addr(), p.header_len());
                let [c, e] = rest.to_be_bytes();
                let r = if msg_type == 12 { [e, 0, 0, 0] } else { [0, 0, c, e] };
                let quote = &d[..d.len().min(hl + usize::from(cut))];
                self.datagram_frames(dst, src, IpProtocol::Icmp, &icmp_message(msg_type, code, r, quote))
            }
            Respond::UdpReply { len } => {
                let found = self.sent_ip.iter().rev().find_map(|d| {
                    let p = Ipv4Packet::new_checked(&d[..]).ok()?;
                    let u = UdpPacket::new_checked(p.payload()).ok()?;
                    (p.next_header() == IpProtocol::Udp).then(|| (p.src_addr(), p.dst_addr(), u.src_port(), u.dst_port()))
                });
                let Some((src, dst, sport, dport)) = found else { return Vec::new() };
                let n = usize::from(len).min(udp::MAX_PAYLOAD_LEN);
                let mut b = vec![0u8; udp::HEADER_LEN + n];
                let mut u = UdpPacket::new_unchecked(&mut b[..]);
                UdpRepr {
                    src_port: dport,
                    dst_port: sport,
                }
                .emit_header(&mut u, n);
                u.payload_mut().copy_from_slice(&pattern(n, 0x88));
                u.fill_checksum(&IpAddr::V4(dst), &IpAddr::V4(src));
                self.datagram_frames(dst, src, IpProtocol::Udp, &b)
            }
            Respond::Tcp {
                flags,
                seq_delta,
                ack_delta,
                len,
            } => {
                let found = self.sent_ip.iter().rev().find_map(|d| {
                    let p = Ipv4Packet::new_checked(&d[..]).ok()?;
                    let (src, dst) = (IpAddr::V4(p.src_addr()), IpAddr::V4(p.dst_addr()));
                    let t = TcpPacket::new_checked(p.payload()).ok()?;
                    let r = TcpRepr::parse(&t, &src, &dst, false).ok()?;
                    let next = r.seq_number.0.wrapping_add(r.segment_len() as u32);
                    (p.next_header() == IpProtocol::Tcp).then(|| {
                        let ack = r.ack_number.map(|a| a.0);
                        (p.src_addr(), p.dst_addr(), (r.src_port, r.dst_port), next, ack, r.timestamp)
                    })
                });
                let Some((src, dst, (sport, dport), next, their_ack, ts)) = found else {
                    return Vec::new();
                };
                // Our sequence number: what they acknowledged, or an ISN.
                let seq = their_ack.unwrap_or(0x1000_0000).wrapping_add_signed(i32::from(seq_delta));
                let ack = next.wrapping_add_signed(i32::from(ack_delta));
                // A SYN offers the usual options; timestamps are echoed when they use them.
                let options = if flags & 0x02 != 0 { 1 | 2 | 4 } else { 0 };
                let ts = ts.map(|(val, _)| (seq, val));
                let data = pattern(usize::from(len), 0x77);
                let seg = tcp_segment((dst, src), (dport, sport), (seq, ack), flags, 65535, options, ts, &data);
                self.datagram_frames(dst, src, IpProtocol::Tcp, &seg)
            }
        }
    }

    // ---- running actions ---------------------------------------------------------

    fn receive(&mut self, meta: &FrameMeta, frame: &[u8]) {
        self.stack.receive(self.now, meta, frame);
    }

    fn apply(&mut self, a: &Action) {
        match a {
            Action::Receive(f) => {
                let (meta, frame) = self.build_frame(f);
                self.receive(&meta, &frame);
            }
            Action::ReceiveRaw { ethertype, bytes } => {
                let t = match ethertype {
                    RawType::Frame => {
                        self.receive(&FrameMeta::PLAIN, bytes);
                        return;
                    }
                    RawType::Ipv4 => EtherType::Ipv4,
                    RawType::Arp => EtherType::Arp,
                    RawType::Ipv6 => EtherType::Ipv6,
                    RawType::Other(t) => EtherType::from(*t),
                };
                let frame = eth_frame(OUR_MAC, mac_of(GATEWAY), t, bytes);
                self.receive(&FrameMeta::PLAIN, &frame);
            }
            Action::Fragments(s) => {
                for f in self.build_fragments(s) {
                    self.receive(&FrameMeta::PLAIN, &f);
                }
            }
            Action::Respond(r) => {
                let frames = self.respond(*r);
                self.note(format!("  -> {} frames", frames.len()));
                for f in frames {
                    self.receive(&FrameMeta::PLAIN, &f);
                }
            }
            Action::Advance { unit, amount } => {
                let n = u64::from(*amount);
                self.now += match unit {
                    Unit::Micros => Duration::from_micros(n),
                    Unit::Millis => Duration::from_millis(n),
                    Unit::Secs => Duration::from_secs(n),
                };
            }
            Action::Poll => self.poll(),
            Action::Step => {
                if let Some(at) = self.stack.poll_at() {
                    self.now = self.now.max(at);
                }
                self.poll();
                self.drain(0);
            }
            Action::Transmit { accept } => self.drain(usize::from(*accept)),
            Action::UdpBind { addr, port } => {
                let ip = match addr {
                    BindAddr::Any => Ipv4Addr::UNSPECIFIED,
                    BindAddr::Ours => OUR_IP,
                    BindAddr::Other(ip) => ip.addr(),
                };
                let local = SocketAddr::new(IpAddr::V4(ip), self.port(*port));
                let r = self.stack.udp_bind(local);
                self.result(&r);
                if let Ok(h) = r
                    && self.udp.len() < MAX_HANDLES
                {
                    self.udp.push(h);
                }
            }
            Action::UdpConnect { socket, dst, port } => {
                let Some(h) = self.pick(&self.udp, *socket) else { return };
                let remote = SocketAddr::new(Self::dest(*dst), self.port(*port));
                let r = self.stack.udp_connect(h, remote);
                self.result(&r);
            }
            Action::UdpSend { socket, to, len } => {
                let Some(h) = self.pick(&self.udp, *socket) else { return };
                let dst = to.map(|(d, p)| SocketAddr::new(Self::dest(d), self.port(p)));
                let data = pattern(usize::from(*len), 0x99);
                let r = self.stack.udp_send_to(self.now, h, &data, dst);
                if matches!(r, Err(e) if e != Error::WouldBlock) {
                    self.out.udp_errors += 1;
                }
                self.result(&r);
            }
            Action::UdpRecv { socket, buf } => {
                let Some(h) = self.pick(&self.udp, *socket) else { return };
                let mut b = vec![0u8; usize::from(*buf)];
                let r = self.stack.udp_recv_from(h, &mut b);
                match r {
                    Ok((n, _)) => {
                        self.require("recv-length", n <= udp::MAX_PAYLOAD_LEN, || {
                            format!("udp_recv_from returned {n} bytes")
                        });
                        self.out.udp_received += 1;
                    }
                    Err(Error::WouldBlock) => {}
                    Err(_) => self.out.udp_errors += 1,
                }
                self.result(&r);
            }
            Action::UdpClose { socket } => {
                if let Some(h) = self.pick(&self.udp, *socket) {
                    self.stack.udp_close(h);
                }
            }
            Action::EchoOpen { ident } => {
                let r = self.stack.echo_open(*ident);
                self.result(&r);
                if let Ok(h) = r
                    && self.echo.len() < MAX_HANDLES
                {
                    self.echo.push(h);
                }
            }
            Action::EchoSend { socket, dst, seq, len } => {
                let Some(h) = self.pick(&self.echo, *socket) else { return };
                let data = pattern(usize::from(*len), 0xaa);
                let r = self.stack.echo_send(self.now, h, Self::dest(*dst), *seq, &data);
                self.result(&r);
            }
            Action::EchoRecv { socket, buf } => {
                let Some(h) = self.pick(&self.echo, *socket) else { return };
                let mut b = vec![0u8; usize::from(*buf)];
                let r = self.stack.echo_recv(h, &mut b);
                match r {
                    Ok(EchoEvent::Reply { len, .. }) => {
                        self.require("recv-length", len <= ipv4::MAX_PAYLOAD_LEN, || {
                            format!("echo_recv returned {len} bytes")
                        });
                        self.out.echo_replies += 1;
                    }
                    Ok(EchoEvent::Error { .. }) => self.out.echo_errors += 1,
                    Err(_) => {}
                }
                self.result(&r);
            }
            Action::EchoClose { socket } => {
                if let Some(h) = self.pick(&self.echo, *socket) {
                    self.stack.echo_close(h);
                }
            }
            Action::AddAddress { ip, prefix } => {
                let r = IpCidr::new(IpAddr::V4(ip.addr()), *prefix)
                    .ok_or(Error::InvalidInput)
                    .and_then(|c| self.stack.add_address(self.now, c).map(|()| c));
                self.result(&r);
                if let Ok(c) = r {
                    self.config_changed = true;
                    if !self.ever.contains(&c) {
                        self.ever.push(c);
                    }
                }
            }
            Action::RemoveAddress { ip } => {
                let r = self.stack.remove_address(IpAddr::V4(ip.addr()));
                self.config_changed |= r.is_ok();
                self.result(&r);
            }
            Action::SetGateway { gw } => {
                let r = self.stack.set_ipv4_gateway(gw.map(Ip::addr));
                self.result(&r);
            }
            Action::SetMtu { mtu } => {
                let mtu = usize::from(*mtu).clamp(MTU_RANGE.0, MTU_RANGE.1);
                self.stack.set_capabilities(DeviceCapabilities {
                    mtu,
                    ..DeviceCapabilities::default()
                });
            }
            Action::TcpListen { port, backlog } => {
                let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), self.port(*port));
                let r = self.stack.tcp_listen(local, usize::from(*backlog));
                self.result(&r);
                self.tcp_result(&r);
                if let Ok(h) = r
                    && self.listeners.len() < MAX_HANDLES
                {
                    self.listeners.push(h);
                }
            }
            Action::TcpAccept { listener } => {
                let Some(h) = self.pick(&self.listeners, *listener) else { return };
                let r = self.stack.tcp_accept(h);
                self.result(&r);
                self.tcp_result(&r);
                if let Ok((c, _)) = r {
                    self.out.tcp_accepted += 1;
                    if self.conns.len() < MAX_HANDLES {
                        self.conns.push(c);
                    }
                }
            }
            Action::TcpConnect { dst, port } => {
                let remote = SocketAddr::new(Self::dest(*dst), self.port(*port));
                let r = self.stack.tcp_connect(self.now, remote);
                self.result(&r);
                self.tcp_result(&r);
                if let Ok(c) = r
                    && self.conns.len() < MAX_HANDLES
                {
                    self.conns.push(c);
                }
            }
            Action::TcpSend { conn, len } => {
                let Some(h) = self.pick(&self.conns, *conn) else { return };
                let data = pattern(usize::from(*len), 0xbb);
                let r = self.stack.tcp_send(self.now, h, &data);
                self.result(&r);
                self.tcp_result(&r);
                if let Ok(n) = r {
                    self.require("tcp-send-length", n <= data.len(), || {
                        format!("tcp_send took {n} of {} bytes", data.len())
                    });
                }
            }
            Action::TcpRecv { conn, buf } => {
                let Some(h) = self.pick(&self.conns, *conn) else { return };
                let mut b = vec![0u8; usize::from(*buf)];
                let r = self.stack.tcp_recv(self.now, h, &mut b);
                self.result(&r);
                self.tcp_result(&r);
                if let Ok(n) = r {
                    self.require("recv-length", n <= b.len(), || {
                        format!("tcp_recv returned {n} bytes into {}", b.len())
                    });
                    self.out.tcp_received += n;
                }
            }
            Action::TcpClose { conn, how } => {
                let Some(h) = self.pick(&self.conns, *conn) else { return };
                match how {
                    Close::Close => self.stack.tcp_close(self.now, h),
                    Close::Abort => self.stack.tcp_abort(self.now, h),
                    Close::ShutdownWrite => {
                        let r = self.stack.tcp_shutdown_write(self.now, h);
                        self.result(&r);
                        self.tcp_result(&r);
                    }
                }
            }
        }
    }

    fn tcp_result<T>(&mut self, r: &Result<T, Error>) {
        if matches!(r, Err(e) if *e != Error::WouldBlock) {
            self.out.tcp_errors += 1;
        }
    }

    /// `poll(now)`, repeated while something is still due: after a few
    /// rounds `poll_at()` must be in the future, or a driver would spin.
    fn poll(&mut self) {
        let now = self.now;
        self.stack.poll(now);
        for _ in 0..SETTLE_POLLS {
            match self.stack.poll_at() {
                Some(at) if at <= now => self.stack.poll(now),
                _ => break,
            }
        }
        if let Some(at) = self.stack.poll_at().filter(|at| *at <= now) {
            let msg = format!(
                "poll_at() = {}us is still at or before now = {}us after {SETTLE_POLLS} polls: a driver would spin",
                at.total_micros(),
                now.total_micros()
            );
            self.require("poll-spins", false, || msg);
        }
        self.settled = now;
    }

    /// Bounds that hold after every action.
    fn check_bounds(&mut self) {
        let pending = self.stack.tx_pending();
        let limit = self.tx_limit;
        self.require("tx-queue-bound", pending <= limit, || {
            format!("{pending} frames queued for the device, bound {limit}")
        });
        if let Some(at) = self.stack.poll_at() {
            let settled = self.settled;
            self.require("poll-at-in-the-past", at >= settled, || {
                format!(
                    "poll_at() = {}us is before the last completed poll at {}us: a deadline was set in the past",
                    at.total_micros(),
                    settled.total_micros()
                )
            });
        }
        self.mtu_high = self.mtu_high.max(self.stack.mtu());
    }

    /// Hand queued frames to a device that takes `accept` of them (0: all)
    /// and check each.
    fn drain(&mut self, accept: usize) {
        let limit = if accept == 0 { usize::MAX } else { accept };
        let mut frames: Vec<(FrameMeta, Vec<u8>)> = Vec::new();
        let mut offered = 0usize;
        let taken = self.stack.transmit(&mut |meta: &FrameMeta, f: &[u8]| {
            offered += 1;
            if frames.len() >= limit {
                return false;
            }
            frames.push((*meta, f.to_vec()));
            true
        });
        let (took, bound) = (frames.len(), self.tx_limit);
        self.require("transmit-count", taken == took && offered <= took + 1 && taken <= bound, || {
            format!("transmit returned {taken}, the device took {took} and was offered {offered} (bound {bound})")
        });
        self.own_fragments.poll(self.now);
        for (meta, f) in &frames {
            self.digest(f);
            self.out.sent.frames += 1;
            if let Err(e) = self.check_frame(meta, f) {
                let hex: String = f.iter().map(|b| format!("{b:02x}")).collect();
                self.fail(format!("transmitted frame: {e}\n  frame: {hex}"));
            }
        }
        self.note(format!("  -> transmitted {taken}, {} still queued", self.stack.tx_pending()));
        if self.stack.tx_pending() == 0 {
            self.mtu_high = self.stack.mtu();
        }
    }

    // ---- checking what the stack sent ---------------------------------------------

    fn check_frame(&mut self, meta: &FrameMeta, f: &[u8]) -> Result<(), String> {
        self.ensure("offload-metadata", *meta == FrameMeta::PLAIN, || {
            format!("offload metadata {meta:?}, but no offload was enabled")
        })?;
        let max = self.mtu_high + ethernet::HEADER_LEN;
        self.ensure("frame-size", f.len() <= max, || {
            format!("{} bytes, more than MTU + 14 = {max}", f.len())
        })?;
        let eth = EthernetFrame::new_checked(f).map_err(|e| format!("ethernet: {e}"))?;
        let (src, dst) = (eth.src_addr(), eth.dst_addr());
        self.ensure("source-mac", src == OUR_MAC, || format!("source MAC {src:?} is not ours"))?;
        // A frame to our own MAC (or to a group other than broadcast) reaches no neighbour.
        self.ensure(
            "destination-mac",
            dst.is_broadcast() || (dst.is_unicast() && dst != OUR_MAC),
            || format!("destination MAC {dst:?}"),
        )?;
        match eth.ethertype() {
            EtherType::Arp => self.check_arp(dst, eth.payload()),
            EtherType::Ipv4 => self.check_ipv4(dst, eth.payload()),
            other => Err(format!("[ethertype] {other:?}: we speak only ARP and IPv4")),
        }
    }

    fn check_arp(&mut self, eth_dst: EthernetAddress, p: &[u8]) -> Result<(), String> {
        let pkt = ArpPacket::new_checked(p).map_err(|e| format!("arp: {e}"))?;
        let r = ArpRepr::parse(&pkt).map_err(|e| format!("arp: {e}"))?;
        self.ensure("arp-length", p.len() == r.buffer_len(), || {
            format!("arp: {} bytes after the Ethernet header", p.len())
        })?;
        let (sha, spa, tpa) = (r.source_hardware_addr, r.source_protocol_addr, r.target_protocol_addr);
        self.ensure("arp-sender", sha == OUR_MAC && self.ever_ours(spa), || {
            format!("arp: sender {sha:?} / {spa} is not us")
        })?;
        // RFC 1122 §3.2.1.3: loopback addresses "MUST NOT appear outside a host".
        for a in [spa, tpa] {
            let odd = a.is_loopback() || a.is_multicast() || a.is_broadcast() || a.is_unspecified();
            self.ensure("arp-address", !odd, || format!("arp: address {a} on the wire"))?;
        }
        match r.operation {
            ArpOperation::Request => self.out.sent.arp_requests += 1,
            ArpOperation::Reply => self.out.sent.arp_replies += 1,
            ArpOperation::Unknown(_) => {}
        }
        // RFC 826: a request is broadcast (or unicast to revalidate); the
        // reply goes back to the requester only.
        let well_addressed = match r.operation {
            ArpOperation::Request => true,
            ArpOperation::Reply => eth_dst == r.target_hardware_addr && eth_dst.is_unicast(),
            ArpOperation::Unknown(_) => false,
        };
        self.ensure("arp-operation", well_addressed, || format!("arp: {:?} to {eth_dst:?}", r.operation))?;
        if self.sent_arp.len() >= REMEMBERED {
            self.sent_arp.pop_front();
        }
        self.sent_arp.push_back(r);
        Ok(())
    }

    fn check_ipv4(&mut self, eth_dst: EthernetAddress, p: &[u8]) -> Result<(), String> {
        let pkt = Ipv4Packet::new_checked(p).map_err(|e| format!("ipv4: {e}"))?;
        let r = Ipv4Repr::parse(&pkt, true).map_err(|e| format!("ipv4: {e}"))?;
        let (hl, total) = (pkt.header_len(), usize::from(pkt.total_len()));
        self.ensure("ipv4-lengths", hl == ipv4::HEADER_LEN && total == p.len(), || {
            format!("ipv4: header {hl} / total {total} in {} bytes", p.len())
        })?;
        self.ensure("ipv4-flags-ttl", !pkt.reserved_flag() && r.hop_limit > 0, || {
            "ipv4: reserved flag or TTL 0".into()
        })?;
        let (s, d) = (r.src_addr, r.dst_addr);
        self.ensure("ipv4-source", self.ever_ours(s), || format!("ipv4: source {s} is not ours"))?;
        // RFC 1122 §3.2.1.3: "{ 127, <any> } ... MUST NOT appear outside a host."
        self.ensure("loopback-on-wire", !s.is_loopback(), || format!("ipv4: source {s} on the wire"))?;
        // Once addresses changed, a frame queued earlier may be to a new one.
        let ours = !self.config_changed && self.stack.has_address(&IpAddr::V4(d));
        let odd = d.is_unspecified() || d.is_loopback() || d.is_multicast() || ours;
        self.ensure("ipv4-destination", !odd, || {
            format!("ipv4: destination {d} must not be on the wire")
        })?;
        // RFC 1122 §3.3.6: a link-layer broadcast carries an IP broadcast.
        let mismatch = eth_dst.is_broadcast() != self.broadcast_like(d) && (eth_dst.is_broadcast() || d.is_broadcast());
        self.ensure("ipv4-broadcast", !mismatch, || format!("ipv4: destination {d} sent to {eth_dst:?}"))?;
        if !(r.more_frags || r.frag_offset != 0) {
            return self.check_datagram(p);
        }
        self.out.sent.fragments += 1;
        // RFC 791 §3.2: fragments other than the last carry a multiple of 8 bytes.
        let ok = !(r.dont_frag || (r.more_frags && r.payload_len % 8 != 0));
        self.ensure("fragment-fields", ok, || {
            format!("ipv4: fragment with DF {} / {} bytes", r.dont_frag, r.payload_len)
        })?;
        let key = FragKey {
            src: IpAddr::V4(s),
            dst: IpAddr::V4(d),
            ident: u32::from(r.ident),
            protocol: u8::from(r.next_header),
        };
        let header = &p[..ipv4::HEADER_LEN];
        let done =
            match self
                .own_fragments
                .insert_with_header(self.now, key, usize::from(r.frag_offset), r.more_frags, header, pkt.payload())
            {
                Ok(done) => done,
                Err(e) => {
                    self.ensure("fragment-reassembly", false, || {
                        format!("our own fragments do not reassemble: {e:?}")
                    })?;
                    None
                }
            };
        let Some(done) = done else { return Ok(()) };
        let total = ipv4::HEADER_LEN + done.data.len();
        self.ensure("datagram-size", total <= usize::from(u16::MAX), || {
            format!("ipv4: fragments of a {total}-byte datagram")
        })?;
        let mut whole = done.header.clone();
        whole.extend_from_slice(&done.data);
        {
            let mut w = Ipv4Packet::new_unchecked(&mut whole[..]);
            w.set_total_len(total.min(usize::from(u16::MAX)) as u16);
            w.set_more_frags(false);
            w.set_frag_offset(0);
            w.fill_checksum();
        }
        self.own_fragments.recycle(done.data);
        self.check_datagram(&whole)
    }

    /// A whole datagram we sent: its transport message must be valid.
    fn check_datagram(&mut self, d: &[u8]) -> Result<(), String> {
        let pkt = Ipv4Packet::new_checked(d).map_err(|e| format!("ipv4: {e}"))?;
        let (src, dst) = (IpAddr::V4(pkt.src_addr()), IpAddr::V4(pkt.dst_addr()));
        let payload = pkt.payload();
        match pkt.next_header() {
            IpProtocol::Icmp => {
                let icmp = Icmpv4Packet::new_checked(payload).map_err(|e| format!("icmp: {e}"))?;
                match Icmpv4Repr::parse(&icmp, true).map_err(|e| format!("icmp: {e}"))? {
                    Icmpv4Repr::EchoRequest { .. } => self.out.sent.echo_requests += 1,
                    Icmpv4Repr::EchoReply { .. } => self.out.sent.echo_replies += 1,
                    Icmpv4Repr::DstUnreachable { invoking, .. } => {
                        self.out.sent.dst_unreachable += 1;
                        self.check_icmp_error(d.len(), pkt.dst_addr(), invoking)?;
                    }
                    Icmpv4Repr::TimeExceeded { invoking, .. } | Icmpv4Repr::ParamProblem { invoking, .. } => {
                        self.out.sent.other_icmp_errors += 1;
                        self.check_icmp_error(d.len(), pkt.dst_addr(), invoking)?;
                    }
                }
            }
            IpProtocol::Udp => {
                let u = UdpPacket::new_checked(payload).map_err(|e| format!("udp: {e}"))?;
                UdpRepr::parse(&u, &src, &dst, true).map_err(|e| format!("udp: {e}"))?;
                let ok = usize::from(u.len()) == payload.len() && u.checksum() != 0 && u.src_port() != 0;
                self.ensure("udp-fields", ok, || {
                    format!(
                        "udp: length {} of {}, checksum {}, source port {}",
                        u.len(),
                        payload.len(),
                        u.checksum(),
                        u.src_port()
                    )
                })?;
                self.out.sent.udp += 1;
            }
            IpProtocol::Tcp => {
                let t = TcpPacket::new_checked(payload).map_err(|e| format!("tcp: {e}"))?;
                let r = TcpRepr::parse(&t, &src, &dst, true).map_err(|e| format!("tcp: {e}"))?;
                // RFC 9293 §3.10.7.1: a reset is never answered, and a SYN
                // carries no RST.
                let (syn, rst) = (r.flags.contains(TcpFlags::SYN), r.flags.contains(TcpFlags::RST));
                self.ensure("tcp-flags", !(syn && rst), || format!("tcp: flags {:#x}", r.flags.bits()))?;
                self.out.sent.tcp += 1;
                self.out.sent.tcp_resets += usize::from(rst);
            }
            other => return Err(format!("[protocol] we sent {other:?}, which we do not speak")),
        }
        if self.sent_ip.len() >= REMEMBERED {
            self.sent_ip.pop_front();
        }
        self.sent_ip.push_back(d.to_vec());
        Ok(())
    }

    /// RFC 1122 §3.2.2: "An ICMP error message MUST NOT be sent as the
    /// result of receiving: * an ICMP error message, or * a datagram
    /// destined to an IP broadcast or IP multicast address, or * a datagram
    /// sent as a link-layer broadcast, or * a non-initial fragment, or * a
    /// datagram whose source address does not define a single host -- e.g.,
    /// a zero address, a loopback address, a broadcast address, a multicast
    /// address, or a Class E address." And: "Every ICMP error message
    /// includes the Internet header and at least the first 8 data octets of
    /// the datagram that triggered the error".
    fn check_icmp_error(&self, total_len: usize, to: Ipv4Addr, invoking: &[u8]) -> Result<(), String> {
        self.ensure("icmp-error-size", total_len <= ICMP_ERROR_MAX_LEN, || {
            format!("icmp error of {total_len} bytes")
        })?;
        let q = Ipv4Packet::new_quoted(invoking).map_err(|e| format!("icmp error quotes a bad header: {e}"))?;
        let (qsrc, qdst) = (q.src_addr(), q.dst_addr());
        self.ensure("icmp-error-destination", to == qsrc, || {
            format!("icmp error to {to} about a datagram from {qsrc}")
        })?;
        let not_a_host = qsrc.is_unspecified() || qsrc.is_loopback() || qsrc.is_multicast() || class_e(qsrc) || self.broadcast_like(qsrc);
        self.ensure("icmp-error-source", !not_a_host, || {
            format!("icmp error about a datagram from {qsrc}, which is not a single host")
        })?;
        let group = qdst.is_multicast() || self.broadcast_like(qdst);
        self.ensure("icmp-error-broadcast", !group, || {
            format!("icmp error about a datagram to broadcast/multicast {qdst}")
        })?;
        self.ensure("icmp-error-fragment", q.frag_offset() == 0, || {
            "icmp error about a non-initial fragment".into()
        })?;
        let quoted = &invoking[q.header_len().min(invoking.len())..];
        let original = usize::from(q.total_len()).saturating_sub(q.header_len());
        self.ensure("icmp-error-quote", quoted.len() >= original.min(8), || {
            format!("icmp error quotes {} of {original} data bytes", quoted.len())
        })?;
        let about_error = q.next_header() == IpProtocol::Icmp && quoted.first().is_some_and(|t| matches!(t, 3 | 4 | 5 | 11 | 12));
        self.ensure("icmp-error-about-error", !about_error, || "icmp error about an icmp error".into())
    }

    /// `Ok` when `ok` or when the check `name` is tolerated (see
    /// [`TOLERATE_VAR`]); else the message, prefixed with the check's name.
    fn ensure(&self, name: &'static str, ok: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
        if ok || self.tolerate.iter().any(|t| t == name) {
            Ok(())
        } else {
            Err(format!("[{name}] {}", msg()))
        }
    }

    /// [`Harness::ensure`], failing the case at once.
    fn require(&mut self, name: &'static str, ok: bool, msg: impl FnOnce() -> String) {
        if let Err(e) = self.ensure(name, ok, msg) {
            self.fail(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bytes_decode_to_ordinary_actions() {
        // Opcode 0, then zeros: an echo request from the gateway to us.
        let actions = decode(&[0; 20]);
        match &actions[0] {
            Action::Receive(Frame {
                eth_dst: Mac::Natural,
                body: Body::Ipv4(ip, Payload::EchoRequest { .. }),
                damage: Damage::None,
                ..
            }) => assert_eq!((ip.src, ip.dst, ip.ttl), (Ip::Gateway, Ip::Ours, 64)),
            other => panic!("{other:?}"),
        }
        assert!(decode(&[]).is_empty());
        assert_eq!(decode(&[5; 2000]).len(), MAX_ACTIONS);
    }

    #[test]
    fn frames_built_from_specs_parse_with_valid_checksums() {
        let mut h = Harness::new(&[]);
        let frame = Frame {
            eth_dst: Mac::Natural,
            eth_src: Mac::Natural,
            meta: Meta::Plain,
            body: Body::Ipv4(
                Ipv4Fields {
                    options: 3,
                    ..Ipv4Fields::new(Ip::Peer, Ip::Ours)
                },
                Payload::Udp {
                    src_port: Port::Raw(5000),
                    dst_port: Port::Echo,
                    len: 11,
                    checksum: UdpChecksum::Valid,
                },
            ),
            damage: Damage::None,
        };
        let (_, f) = h.build_frame(&frame);
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        let r = Ipv4Repr::parse(&ip, true).unwrap();
        assert_eq!((ip.header_len(), r.src_addr, r.dst_addr), (32, PEER, OUR_IP));
        let u = UdpPacket::new_checked(ip.payload()).unwrap();
        let repr = UdpRepr::parse(&u, &IpAddr::V4(PEER), &IpAddr::V4(OUR_IP), true).unwrap();
        assert_eq!((repr.src_port, repr.dst_port, u.payload().len()), (5000, 7, 11));
    }

    #[test]
    fn fragment_trains_cover_the_datagram() {
        let mut h = Harness::new(&[]);
        let train = Fragments {
            ip: Ipv4Fields::new(Ip::Peer, Ip::Ours),
            payload: Payload::EchoRequest {
                ident: 1,
                seq: 2,
                len: 3000,
            },
            size: 1000,
            order: Order::Reversed,
            twist: Twist::None,
        };
        let frames = h.build_fragments(&train);
        // 3008 bytes of ICMP in 1000-byte pieces (rounded down to 1000 = 125 * 8).
        assert_eq!(frames.len(), 4);
        let offsets: Vec<u16> = frames
            .iter()
            .map(|f| Ipv4Packet::new_checked(&f[14..]).unwrap().frag_offset())
            .collect();
        assert_eq!(offsets, [3000, 2000, 1000, 0]);
        let out = execute_actions(&[
            Action::Fragments(train),
            Action::Transmit { accept: 0 },
            Action::Respond(Respond::ArpReply),
            Action::Step,
        ]);
        assert_eq!(out.stats.traffic.ipv4_reassembled, 1);
        assert_eq!(out.sent.echo_replies, 1);
        assert_eq!(out.sent.fragments, 3, "the 3008-byte reply is fragmented for a 1500 MTU");
    }

    #[test]
    #[should_panic(expected = "source MAC")]
    fn a_bad_transmitted_frame_fails_the_case() {
        let mut h = Harness::new(&[]);
        h.printed = true;
        let f = eth_frame(OUR_MAC, OTHER_MAC, EtherType::Arp, &[0; 28]);
        if let Err(e) = h.check_frame(&FrameMeta::PLAIN, &f) {
            panic!("{e}");
        }
    }

    #[test]
    fn named_checks_can_be_tolerated() {
        let mut h = Harness::new(&[]);
        let e = h.ensure("source-mac", false, || "bad".into()).unwrap_err();
        assert_eq!(e, "[source-mac] bad");
        h.tolerate.push("source-mac".into());
        assert_eq!(h.ensure("source-mac", false, || "bad".into()), Ok(()));
        assert!(h.ensure("destination-mac", false, || "bad".into()).is_err());
    }

    #[test]
    fn icmp_error_rules_are_checked() {
        let h = Harness::new(&[]);
        let about_broadcast = Harness::quoted(PEER, Ipv4Addr::BROADCAST, IpProtocol::Udp, &[0; 8], 8);
        assert!(h.check_icmp_error(56, PEER, &about_broadcast).unwrap_err().contains("broadcast"));
        let about_error = Harness::quoted(PEER, OUR_IP, IpProtocol::Icmp, &[3, 3, 0, 0, 0, 0, 0, 0], 8);
        assert!(
            h.check_icmp_error(56, PEER, &about_error)
                .unwrap_err()
                .contains("about an icmp error")
        );
        let fine = Harness::quoted(PEER, OUR_IP, IpProtocol::Udp, &[0; 8], 8);
        assert_eq!(h.check_icmp_error(56, PEER, &fine), Ok(()));
        assert!(h.check_icmp_error(56, GATEWAY, &fine).unwrap_err().contains("to 10.0.0.1"));
    }
}
