//! The language of a fuzz case: [`Action`]s and their byte encoding.
//!
//! [`decode`] reads actions with a tiny cursor: past the end of the input
//! every read is zero, and a zero byte means the ordinary value of a field
//! (fields whose ordinary value is not zero are stored XORed with it), so
//! short or mostly-zero inputs still make sensible frames. [`encode`] is
//! its inverse, for writing seeds: `decode(&encode(&a)) == a` for every
//! list of at most `MAX_ACTIONS` actions whose fields are in range.
//!
//! ```
//! use mnet_sim::fuzz::{decode, encode, Action, Unit};
//! let script = vec![Action::Advance { unit: Unit::Secs, amount: 3 }, Action::Poll];
//! assert_eq!(encode(&script), [4, 2, 0, 3, 5]);
//! assert_eq!(decode(&encode(&script)), script);
//! ```

use std::net::Ipv4Addr;

use super::{GATEWAY, MAX_ACTIONS, OUR_IP, PEER, SECOND};

// ---- the actions -------------------------------------------------------------

/// One step of a fuzz case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// One structured frame.
    Receive(Frame),
    /// Raw bytes, behind a harness-built Ethernet header unless `ethertype`
    /// is [`RawType::Frame`].
    ReceiveRaw {
        ethertype: RawType,
        bytes: Vec<u8>,
    },
    /// A datagram cut into fragments, delivered in some order, with a twist.
    Fragments(Fragments),
    /// An answer to something the stack sent.
    Respond(Respond),
    /// Move the clock forward (the engine is not told until the next call).
    Advance {
        unit: Unit,
        amount: u16,
    },
    /// `poll(now)`.
    Poll,
    /// One driver step: jump to `poll_at()`, poll, transmit everything.
    Step,
    /// Drain the transmit queue; the device takes `accept` frames (0: all).
    Transmit {
        accept: u8,
    },
    UdpBind {
        addr: BindAddr,
        port: Port,
    },
    UdpConnect {
        socket: u8,
        dst: Dest,
        port: Port,
    },
    /// `to: None` sends on the connected peer.
    UdpSend {
        socket: u8,
        to: Option<(Dest, Port)>,
        len: u16,
    },
    UdpRecv {
        socket: u8,
        buf: u16,
    },
    UdpClose {
        socket: u8,
    },
    EchoOpen {
        ident: Option<u16>,
    },
    EchoSend {
        socket: u8,
        dst: Dest,
        seq: u16,
        len: u16,
    },
    EchoRecv {
        socket: u8,
        buf: u16,
    },
    EchoClose {
        socket: u8,
    },
    AddAddress {
        ip: Ip,
        prefix: u8,
    },
    RemoveAddress {
        ip: Ip,
    },
    SetGateway {
        gw: Option<Ip>,
    },
    /// The device MTU, clamped to [`MTU_RANGE`].
    SetMtu {
        mtu: u16,
    },
    TcpListen {
        port: Port,
        backlog: u8,
    },
    TcpAccept {
        listener: u8,
    },
    TcpConnect {
        dst: Dest,
        port: Port,
    },
    TcpSend {
        conn: u8,
        len: u16,
    },
    TcpRecv {
        conn: u8,
        buf: u16,
    },
    TcpClose {
        conn: u8,
        how: Close,
    },
}

/// How [`Action::TcpClose`] ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    Close,
    ShutdownWrite,
    Abort,
}

/// An IPv4 address from a small table of meaningful ones, or any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ip {
    Gateway,
    Ours,
    /// 10.0.0.3, an on-link neighbour.
    Peer,
    /// 192.0.2.1, reached through the gateway.
    OffLink,
    /// 10.0.0.99, on-link, answers only when the fuzzer says so.
    Silent,
    SubnetBroadcast,
    Broadcast,
    Unspecified,
    Loopback,
    Multicast,
    /// 240.0.0.1 (RFC 1122 §3.2.1.3: reserved, not a single host).
    ClassE,
    /// 10.0.1.2, for [`Action::AddAddress`].
    Second,
    Raw(Ipv4Addr),
}

const FIXED_IPS: [(Ip, Ipv4Addr); 12] = [
    (Ip::Gateway, GATEWAY),
    (Ip::Ours, OUR_IP),
    (Ip::Peer, PEER),
    (Ip::OffLink, Ipv4Addr::new(192, 0, 2, 1)),
    (Ip::Silent, Ipv4Addr::new(10, 0, 0, 99)),
    (Ip::SubnetBroadcast, Ipv4Addr::new(10, 0, 0, 255)),
    (Ip::Broadcast, Ipv4Addr::BROADCAST),
    (Ip::Unspecified, Ipv4Addr::UNSPECIFIED),
    (Ip::Loopback, Ipv4Addr::LOCALHOST),
    (Ip::Multicast, Ipv4Addr::new(224, 0, 0, 1)),
    (Ip::ClassE, Ipv4Addr::new(240, 0, 0, 1)),
    (Ip::Second, SECOND),
];

impl Ip {
    pub fn addr(self) -> Ipv4Addr {
        match self {
            Ip::Raw(a) => a,
            ip => FIXED_IPS.iter().find(|(x, _)| *x == ip).map_or(Ipv4Addr::UNSPECIFIED, |(_, a)| *a),
        }
    }
}

/// A socket's destination: IPv4 from the table, or an IPv6 address (which
/// the engine cannot reach yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    V4(Ip),
    V6,
}

/// A MAC address. `Natural` is what a well-behaved peer would put there:
/// our MAC as a destination, the sender's MAC as a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mac {
    Natural,
    Ours,
    Broadcast,
    Other,
    Multicast,
    Zero,
    Raw([u8; 6]),
}

/// A UDP or TCP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// The port of the n-th UDP socket the harness opened (7 if none).
    Socket(u8),
    Echo,
    Discard,
    Zero,
    Ephemeral,
    Raw(u16),
    /// The port of the n-th TCP listener (80 if none).
    Listener(u8),
}

/// An ICMP echo identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ident {
    /// The identifier of the n-th echo socket (0 if none).
    Socket(u8),
    Raw(u16),
}

/// The address of [`Action::UdpBind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindAddr {
    Any,
    Ours,
    Other(Ip),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Micros,
    Millis,
    Secs,
}

/// The frame metadata the device hands over (virtio-net header semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    Plain,
    DataValid,
    NeedsCsum,
    Gso,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawType {
    /// The bytes are the whole frame.
    Frame,
    Ipv4,
    Arp,
    Ipv6,
    Other(u16),
}

/// One structured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub eth_dst: Mac,
    pub eth_src: Mac,
    pub meta: Meta,
    pub body: Body,
    pub damage: Damage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Arp(Arp),
    Ipv4(Ipv4Fields, Payload),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    pub op: ArpOp,
    pub sha: Mac,
    pub spa: Ip,
    pub tha: Mac,
    pub tpa: Ip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOp {
    Request,
    Reply,
    Raw(u16),
}

/// IPv4 header fields. The header checksum and total length are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Fields {
    pub src: Ip,
    pub dst: Ip,
    pub ttl: u8,
    pub ident: u16,
    /// Bit 0: DF, bit 1: MF, bit 2: the reserved flag.
    pub flags: u8,
    /// In 8-byte units (13 bits).
    pub frag_offset: u16,
    /// 32-bit words of options (NOPs and an end-of-list), 0..=10.
    pub options: u8,
    pub tos: u8,
}

impl Ipv4Fields {
    /// An ordinary header: TTL 64, no flags, no options.
    pub fn new(src: Ip, dst: Ip) -> Self {
        Ipv4Fields {
            src,
            dst,
            ttl: 64,
            ident: 0,
            flags: 0,
            frag_offset: 0,
            options: 0,
            tos: 0,
        }
    }
}

/// What an IPv4 frame carries (lengths are payload bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    EchoRequest {
        ident: u16,
        seq: u16,
        len: u16,
    },
    EchoReply {
        ident: Ident,
        seq: u16,
        len: u16,
    },
    /// An ICMP error; `rest` is the next-hop MTU (or the pointer).
    Error {
        msg_type: u8,
        code: u8,
        rest: u16,
        quote: Quote,
    },
    /// Any ICMP type, with a valid checksum.
    Icmp {
        msg_type: u8,
        code: u8,
        len: u16,
    },
    Udp {
        src_port: Port,
        dst_port: Port,
        len: u16,
        checksum: UdpChecksum,
    },
    Other {
        protocol: u8,
        len: u16,
    },
    /// A TCP segment with a valid checksum. `flags` are the eight control
    /// bits (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ...);
    /// `options` is a set: 1 MSS, 2 window scale, 4 SACK permitted,
    /// 8 timestamps, 16 one SACK block.
    Tcp {
        src_port: Port,
        dst_port: Port,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        options: u8,
        len: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpChecksum {
    Valid,
    /// RFC 768: "An all zero transmitted checksum value means that the
    /// transmitter generated no checksum".
    Zero,
    Bad,
}

/// The datagram quoted in an ICMP error. `cut` is how many bytes after its
/// IPv4 header are quoted (RFC 792: 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quote {
    /// The `back`-th most recent datagram the stack sent.
    LastSent {
        back: u8,
        cut: u8,
    },
    Udp {
        src: Ip,
        dst: Ip,
        src_port: Port,
        dst_port: Port,
        cut: u8,
    },
    Echo {
        src: Ip,
        dst: Ip,
        ident: Ident,
        seq: u16,
        cut: u8,
    },
    Raw(Vec<u8>),
}

/// Something that goes wrong with a built frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    None,
    IpChecksum,
    /// Total Length changed by this much (header checksum kept valid).
    TotalLen(i8),
    Version(u8),
    HeaderLen(u8),
    Truncate(u16),
    /// Link-layer padding after the datagram.
    Pad(u8),
    TransportChecksum,
    Flip {
        at: u16,
        xor: u8,
    },
}

/// A datagram sent as fragments of `size` bytes (rounded down to a
/// multiple of 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragments {
    pub ip: Ipv4Fields,
    pub payload: Payload,
    pub size: u16,
    pub order: Order,
    pub twist: Twist,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    InOrder,
    Reversed,
    LastFirst,
    Shuffle(u8),
}

/// What is wrong with a fragment train (the n picks a fragment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Twist {
    None,
    Duplicate(u8),
    /// One fragment starts 8 bytes early (or the first ends 8 bytes late).
    Overlap(u8),
    Hole(u8),
    /// An extra last fragment after the end.
    PastEnd,
    /// The last fragment still says "more fragments".
    LastKeepsMore,
    /// One fragment is a few bytes short.
    Shrink(u8),
    /// An extra fragment at offset 65,528 (the "ping of death").
    BeyondMax,
}

/// An answer to what the stack sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Respond {
    /// To the latest ARP request for an address that is not ours.
    ArpReply,
    /// To the latest echo request.
    EchoReply,
    /// An ICMP error about the `back`-th latest datagram, from its destination.
    Error {
        msg_type: u8,
        code: u8,
        rest: u16,
        back: u8,
        cut: u8,
    },
    /// A datagram back to the latest UDP datagram's source.
    UdpReply { len: u16 },
    /// A segment answering the latest TCP segment: its sequence number is
    /// what that segment acknowledged, its acknowledgment what it carried
    /// (each moved by a delta); `len` bytes of data.
    Tcp { flags: u8, seq_delta: i8, ack_delta: i8, len: u16 },
}

// ---- decoding and encoding ---------------------------------------------------------

/// Reads the fuzz input; past its end every read is zero.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        self.data[start..end].to_vec()
    }
}

fn put8(w: &mut Vec<u8>, v: u8) {
    w.push(v);
}

fn put16(w: &mut Vec<u8>, v: u16) {
    w.extend_from_slice(&v.to_be_bytes());
}

/// A value with a byte encoding: `decode(encode(x)) == x`.
trait Codec: Sized {
    fn decode(c: &mut Cursor<'_>) -> Self;
    fn encode(&self, w: &mut Vec<u8>);
}

impl Ip {
    fn decode_tag(tag: u8, c: &mut Cursor<'_>) -> Ip {
        match FIXED_IPS.get(usize::from(tag % 13)) {
            Some((ip, _)) => *ip,
            None => Ip::Raw(Ipv4Addr::from_bits(c.u32())),
        }
    }
}

impl Codec for Ip {
    fn decode(c: &mut Cursor<'_>) -> Self {
        let tag = c.u8();
        Ip::decode_tag(tag, c)
    }
    fn encode(&self, w: &mut Vec<u8>) {
        match self {
            Ip::Raw(a) => {
                put8(w, 12);
                w.extend_from_slice(&a.octets());
            }
            ip => put8(w, FIXED_IPS.iter().position(|(x, _)| x == ip).unwrap_or(0) as u8),
        }
    }
}

impl Codec for Dest {
    fn decode(c: &mut Cursor<'_>) -> Self {
        match c.u8() {
            0xff => Dest::V6,
            tag => Dest::V4(Ip::decode_tag(tag, c)),
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        match self {
            Dest::V4(ip) => ip.encode(w),
            Dest::V6 => put8(w, 0xff),
        }
    }
}

impl Codec for Mac {
    fn decode(c: &mut Cursor<'_>) -> Self {
        match c.u8() % 7 {
            0 => Mac::Natural,
            1 => Mac::Ours,
            2 => Mac::Broadcast,
            3 => Mac::Other,
            4 => Mac::Multicast,
            5 => Mac::Zero,
            _ => {
                let mut m = [0u8; 6];
                m.iter_mut().for_each(|b| *b = c.u8());
                Mac::Raw(m)
            }
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        let tag = match self {
            Mac::Natural => 0,
            Mac::Ours => 1,
            Mac::Broadcast => 2,
            Mac::Other => 3,
            Mac::Multicast => 4,
            Mac::Zero => 5,
            Mac::Raw(m) => {
                put8(w, 6);
                w.extend_from_slice(m);
                return;
            }
        };
        put8(w, tag);
    }
}

impl Codec for Port {
    fn decode(c: &mut Cursor<'_>) -> Self {
        match c.u8() % 7 {
            0 => Port::Socket(c.u8()),
            1 => Port::Echo,
            2 => Port::Discard,
            3 => Port::Zero,
            4 => Port::Ephemeral,
            5 => Port::Raw(c.u16()),
            _ => Port::Listener(c.u8()),
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        match *self {
            Port::Socket(n) => w.extend_from_slice(&[0, n]),
            Port::Echo => put8(w, 1),
            Port::Discard => put8(w, 2),
            Port::Zero => put8(w, 3),
            Port::Ephemeral => put8(w, 4),
            Port::Raw(p) => {
                put8(w, 5);
                put16(w, p);
            }
            Port::Listener(n) => w.extend_from_slice(&[6, n]),
        }
    }
}

impl Codec for Ident {
    fn decode(c: &mut Cursor<'_>) -> Self {
        match c.u8() % 2 {
            0 => Ident::Socket(c.u8()),
            _ => Ident::Raw(c.u16()),
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        match *self {
            Ident::Socket(n) => w.extend_from_slice(&[0, n]),
            Ident::Raw(v) => {
                put8(w, 1);
                put16(w, v);
            }
        }
    }
}

impl Codec for Meta {
    fn decode(c: &mut Cursor<'_>) -> Self {
        [Meta::Plain, Meta::DataValid, Meta::NeedsCsum, Meta::Gso][usize::from(c.u8() % 4)]
    }
    fn encode(&self, w: &mut Vec<u8>) {
        put8(w, *self as u8);
    }
}

impl Codec for Damage {
    fn decode(c: &mut Cursor<'_>) -> Self {
        match c.u8() % 9 {
            0 => Damage::None,
            1 => Damage::IpChecksum,
            2 => Damage::TotalLen(c.u8() as i8),
            3 => Damage::Version(c.u8()),
            4 => Damage::HeaderLen(c.u8()),
            5 => Damage::Truncate(c.u16()),
            6 => Damage::Pad(c.u8()),
            7 => Damage::TransportChecksum,
            _ => Damage::Flip { at: c.u16(), xor: c.u8() },
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        match *self {
            Damage::None => put8(w, 0),
            Damage::IpChecksum => put8(w, 1),
            Damage::TotalLen(d) => w.extend_from_slice(&[2, d as u8]),
            Damage::Version(v) => w.extend_from_slice(&[3, v]),
            Damage::HeaderLen(v) => w.extend_from_slice(&[4, v]),
            Damage::Truncate(n) => {
                put8(w, 5);
                put16(w, n);
            }
            Damage::Pad(n) => w.extend_from_slice(&[6, n]),
            Damage::TransportChecksum => put8(w, 7),
            Damage::Flip { at, xor } => {
                put8(w, 8);
                put16(w, at);
                put8(w, xor);
            }
        }
    }
}

impl Codec for Arp {
    fn decode(c: &mut Cursor<'_>) -> Self {
        let op = match c.u8() % 3 {
            0 => ArpOp::Request,
            1 => ArpOp::Reply,
            _ => ArpOp::Raw(c.u16()),
        };
        Arp {
            op,
            sha: Mac::decode(c),
            spa: Ip::decode(c),
            tha: Mac::decode(c),
            tpa: Ip::decode(c),
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        match self.op {
            ArpOp::Request => put8(w, 0),
            ArpOp::Reply => put8(w, 1),
            ArpOp::Raw(v) => {
                put8(w, 2);
                put16(w, v);
            }
        }
        self.sha.encode(w);
        self.spa.encode(w);
        self.tha.encode(w);
        self.tpa.encode(w);
    }
}

impl Codec for Ipv4Fields {
    fn decode(c: &mut Cursor<'_>) -> Self {
        Ipv4Fields {
            src: Ip::decode(c),
            // XOR with the ordinary value: zero bytes give a datagram to us,
            // with TTL 64.
            dst: {
                let tag = c.u8() ^ 1;
                Ip::decode_tag(tag, c)
            },
            ttl: c.u8() ^ 64,
            ident: c.u16(),
            flags: c.u8() & 7,
            frag_offset: c.u16() & 0x1fff,
            options: c.u8() % 11,
            tos: c.u8(),
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        self.src.encode(w);
        let at = w.len();
        self.dst.encode(w);
        w[at] ^= 1;
        put8(w, self.ttl ^ 64);
        put16(w, self.ident);
        put8(w, self.flags);
        put16(w, self.frag_offset);
        put8(w, self.options);
        put8(w, self.tos);
    }
}

impl Codec for Quote {
    fn decode(c: &mut Cursor<'_>) -> Self {
        // Cuts are XORed with 8: zero bytes quote the 8 bytes RFC 792 asks for.
        match c.u8() % 4 {
            0 => Quote::LastSent {
                back: c.u8(),
                cut: c.u8() ^ 8,
            },
            1 => Quote::Udp {
                src: Ip::decode(c),
                dst: Ip::decode(c),
                src_port: Port::decode(c),
                dst_port: Port::decode(c),
                cut: c.u8() ^ 8,
            },
            2 => Quote::Echo {
                src: Ip::decode(c),
                dst: Ip::decode(c),
                ident: Ident::decode(c),
                seq: c.u16(),
                cut: c.u8() ^ 8,
            },
            _ => {
                let n = c.u8();
                Quote::Raw(c.bytes(usize::from(n)))
            }
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        match self {
            Quote::LastSent { back, cut } => w.extend_from_slice(&[0, *back, cut ^ 8]),
            Quote::Udp {
                src,
                dst,
                src_port,
                dst_port,
                cut,
            } => {
                put8(w, 1);
                src.encode(w);
                dst.encode(w);
                src_port.encode(w);
                dst_port.encode(w);
                put8(w, cut ^ 8);
            }
            Quote::Echo { src, dst, ident, seq, cut } => {
                put8(w, 2);
                src.encode(w);
                dst.encode(w);
                ident.encode(w);
                put16(w, *seq);
                put8(w, cut ^ 8);
            }
            Quote::Raw(b) => {
                let b = &b[..b.len().min(255)];
                w.extend_from_slice(&[3, b.len() as u8]);
                w.extend_from_slice(b);
            }
        }
    }
}

/// Error message types by tag: destination unreachable, time exceeded,
/// parameter problem, then any.
const ERROR_TYPES: [u8; 3] = [3, 11, 12];

fn decode_error_type(c: &mut Cursor<'_>) -> u8 {
    match ERROR_TYPES.get(usize::from(c.u8() % 4)) {
        Some(t) => *t,
        None => c.u8(),
    }
}

fn encode_error_type(w: &mut Vec<u8>, t: u8) {
    match ERROR_TYPES.iter().position(|x| *x == t) {
        Some(i) => put8(w, i as u8),
        None => w.extend_from_slice(&[3, t]),
    }
}

impl Codec for Payload {
    fn decode(c: &mut Cursor<'_>) -> Self {
        match c.u8() % 7 {
            0 => Payload::EchoRequest {
                ident: c.u16(),
                seq: c.u16(),
                len: c.u16(),
            },
            1 => Payload::EchoReply {
                ident: Ident::decode(c),
                seq: c.u16(),
                len: c.u16(),
            },
            2 => Payload::Error {
                msg_type: decode_error_type(c),
                code: c.u8(),
                rest: c.u16(),
                quote: Quote::decode(c),
            },
            3 => Payload::Icmp {
                msg_type: c.u8(),
                code: c.u8(),
                len: c.u16(),
            },
            4 => Payload::Udp {
                src_port: Port::decode(c),
                dst_port: Port::decode(c),
                len: c.u16(),
                checksum: [UdpChecksum::Valid, UdpChecksum::Zero, UdpChecksum::Bad][usize::from(c.u8() % 3)],
            },
            5 => Payload::Other {
                protocol: c.u8(),
                len: c.u16(),
            },
            _ => Payload::Tcp {
                src_port: Port::decode(c),
                dst_port: Port::decode(c),
                seq: c.u32(),
                ack: c.u32(),
                // XOR with SYN: zero bytes open a connection.
                flags: c.u8() ^ 0x02,
                window: c.u16() ^ 0xffff,
                options: c.u8(),
                len: c.u16(),
            },
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        match self {
            Payload::EchoRequest { ident, seq, len } => {
                put8(w, 0);
                put16(w, *ident);
                put16(w, *seq);
                put16(w, *len);
            }
            Payload::EchoReply { ident, seq, len } => {
                put8(w, 1);
                ident.encode(w);
                put16(w, *seq);
                put16(w, *len);
            }
            Payload::Error {
                msg_type,
                code,
                rest,
                quote,
            } => {
                put8(w, 2);
                encode_error_type(w, *msg_type);
                put8(w, *code);
                put16(w, *rest);
                quote.encode(w);
            }
            Payload::Icmp { msg_type, code, len } => {
                w.extend_from_slice(&[3, *msg_type, *code]);
                put16(w, *len);
            }
            Payload::Udp {
                src_port,
                dst_port,
                len,
                checksum,
            } => {
                put8(w, 4);
                src_port.encode(w);
                dst_port.encode(w);
                put16(w, *len);
                put8(w, *checksum as u8);
            }
            Payload::Other { protocol, len } => {
                w.extend_from_slice(&[5, *protocol]);
                put16(w, *len);
            }
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
                put8(w, 6);
                src_port.encode(w);
                dst_port.encode(w);
                w.extend_from_slice(&seq.to_be_bytes());
                w.extend_from_slice(&ack.to_be_bytes());
                put8(w, flags ^ 0x02);
                put16(w, window ^ 0xffff);
                put8(w, *options);
                put16(w, *len);
            }
        }
    }
}

impl Codec for Frame {
    fn decode(c: &mut Cursor<'_>) -> Self {
        let eth_dst = Mac::decode(c);
        let eth_src = Mac::decode(c);
        let meta = Meta::decode(c);
        let body = match c.u8() % 2 {
            0 => {
                let ip = Ipv4Fields::decode(c);
                Body::Ipv4(ip, Payload::decode(c))
            }
            _ => Body::Arp(Arp::decode(c)),
        };
        Frame {
            eth_dst,
            eth_src,
            meta,
            body,
            damage: Damage::decode(c),
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        self.eth_dst.encode(w);
        self.eth_src.encode(w);
        self.meta.encode(w);
        match &self.body {
            Body::Ipv4(ip, p) => {
                put8(w, 0);
                ip.encode(w);
                p.encode(w);
            }
            Body::Arp(a) => {
                put8(w, 1);
                a.encode(w);
            }
        }
        self.damage.encode(w);
    }
}

impl Codec for Fragments {
    fn decode(c: &mut Cursor<'_>) -> Self {
        let ip = Ipv4Fields::decode(c);
        let payload = Payload::decode(c);
        // XOR with 1480: zero bytes give the fragments of a 1500-byte MTU.
        let size = c.u16() ^ 1480;
        let order = match c.u8() % 4 {
            0 => Order::InOrder,
            1 => Order::Reversed,
            2 => Order::LastFirst,
            _ => Order::Shuffle(c.u8()),
        };
        let twist = match c.u8() % 8 {
            0 => Twist::None,
            1 => Twist::Duplicate(c.u8()),
            2 => Twist::Overlap(c.u8()),
            3 => Twist::Hole(c.u8()),
            4 => Twist::PastEnd,
            5 => Twist::LastKeepsMore,
            6 => Twist::Shrink(c.u8()),
            _ => Twist::BeyondMax,
        };
        Fragments {
            ip,
            payload,
            size,
            order,
            twist,
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        self.ip.encode(w);
        self.payload.encode(w);
        put16(w, self.size ^ 1480);
        match self.order {
            Order::InOrder => put8(w, 0),
            Order::Reversed => put8(w, 1),
            Order::LastFirst => put8(w, 2),
            Order::Shuffle(s) => w.extend_from_slice(&[3, s]),
        }
        match self.twist {
            Twist::None => put8(w, 0),
            Twist::Duplicate(n) => w.extend_from_slice(&[1, n]),
            Twist::Overlap(n) => w.extend_from_slice(&[2, n]),
            Twist::Hole(n) => w.extend_from_slice(&[3, n]),
            Twist::PastEnd => put8(w, 4),
            Twist::LastKeepsMore => put8(w, 5),
            Twist::Shrink(n) => w.extend_from_slice(&[6, n]),
            Twist::BeyondMax => put8(w, 7),
        }
    }
}

impl Codec for Respond {
    fn decode(c: &mut Cursor<'_>) -> Self {
        match c.u8() % 5 {
            0 => Respond::ArpReply,
            1 => Respond::EchoReply,
            2 => Respond::Error {
                msg_type: decode_error_type(c),
                code: c.u8(),
                rest: c.u16(),
                back: c.u8(),
                cut: c.u8() ^ 8,
            },
            3 => Respond::UdpReply { len: c.u16() },
            _ => Respond::Tcp {
                // XOR with ACK: zero bytes acknowledge.
                flags: c.u8() ^ 0x10,
                seq_delta: c.u8() as i8,
                ack_delta: c.u8() as i8,
                len: c.u16(),
            },
        }
    }
    fn encode(&self, w: &mut Vec<u8>) {
        match *self {
            Respond::ArpReply => put8(w, 0),
            Respond::EchoReply => put8(w, 1),
            Respond::Error {
                msg_type,
                code,
                rest,
                back,
                cut,
            } => {
                put8(w, 2);
                encode_error_type(w, msg_type);
                put8(w, code);
                put16(w, rest);
                w.extend_from_slice(&[back, cut ^ 8]);
            }
            Respond::UdpReply { len } => {
                put8(w, 3);
                put16(w, len);
            }
            Respond::Tcp {
                flags,
                seq_delta,
                ack_delta,
                len,
            } => {
                w.extend_from_slice(&[4, flags ^ 0x10, seq_delta as u8, ack_delta as u8]);
                put16(w, len);
            }
        }
    }
}

/// Opcodes, in the order of [`Action`]'s variants.
const OPCODES: u8 = 27;

impl Codec for Action {
    fn decode(c: &mut Cursor<'_>) -> Self {
        match c.u8() % OPCODES {
            0 => Action::Receive(Frame::decode(c)),
            1 => {
                let ethertype = match c.u8() % 5 {
                    0 => RawType::Frame,
                    1 => RawType::Ipv4,
                    2 => RawType::Arp,
                    3 => RawType::Ipv6,
                    _ => RawType::Other(c.u16()),
                };
                let n = c.u16();
                Action::ReceiveRaw {
                    ethertype,
                    bytes: c.bytes(usize::from(n)),
                }
            }
            2 => Action::Fragments(Fragments::decode(c)),
            3 => Action::Respond(Respond::decode(c)),
            4 => Action::Advance {
                unit: [Unit::Micros, Unit::Millis, Unit::Secs][usize::from(c.u8() % 3)],
                amount: c.u16(),
            },
            5 => Action::Poll,
            6 => Action::Step,
            7 => Action::Transmit { accept: c.u8() },
            8 => Action::UdpBind {
                addr: match c.u8() % 3 {
                    0 => BindAddr::Any,
                    1 => BindAddr::Ours,
                    _ => BindAddr::Other(Ip::decode(c)),
                },
                port: Port::decode(c),
            },
            9 => Action::UdpConnect {
                socket: c.u8(),
                dst: Dest::decode(c),
                port: Port::decode(c),
            },
            10 => {
                let socket = c.u8();
                let to = match c.u8() % 2 {
                    0 => Some((Dest::decode(c), Port::decode(c))),
                    _ => None,
                };
                Action::UdpSend { socket, to, len: c.u16() }
            }
            11 => Action::UdpRecv {
                socket: c.u8(),
                buf: c.u16() ^ 2048,
            },
            12 => Action::UdpClose { socket: c.u8() },
            13 => Action::EchoOpen {
                ident: match c.u8() % 2 {
                    0 => None,
                    _ => Some(c.u16()),
                },
            },
            14 => Action::EchoSend {
                socket: c.u8(),
                dst: Dest::decode(c),
                seq: c.u16(),
                len: c.u16(),
            },
            15 => Action::EchoRecv {
                socket: c.u8(),
                buf: c.u16() ^ 2048,
            },
            16 => Action::EchoClose { socket: c.u8() },
            17 => Action::AddAddress {
                ip: Ip::decode(c),
                prefix: (c.u8() ^ 24) % 33,
            },
            18 => Action::RemoveAddress { ip: Ip::decode(c) },
            19 => Action::SetGateway {
                gw: match c.u8() % 2 {
                    0 => Some(Ip::decode(c)),
                    _ => None,
                },
            },
            20 => Action::SetMtu { mtu: c.u16() },
            21 => Action::TcpListen {
                port: Port::decode(c),
                backlog: c.u8(),
            },
            22 => Action::TcpAccept { listener: c.u8() },
            23 => Action::TcpConnect {
                dst: Dest::decode(c),
                port: Port::decode(c),
            },
            24 => Action::TcpSend {
                conn: c.u8(),
                len: c.u16(),
            },
            25 => Action::TcpRecv {
                conn: c.u8(),
                buf: c.u16() ^ 2048,
            },
            _ => Action::TcpClose {
                conn: c.u8(),
                how: [Close::Close, Close::ShutdownWrite, Close::Abort][usize::from(c.u8() % 3)],
            },
        }
    }

    fn encode(&self, w: &mut Vec<u8>) {
        match self {
            Action::Receive(f) => {
                put8(w, 0);
                f.encode(w);
            }
            Action::ReceiveRaw { ethertype, bytes } => {
                put8(w, 1);
                match ethertype {
                    RawType::Frame => put8(w, 0),
                    RawType::Ipv4 => put8(w, 1),
                    RawType::Arp => put8(w, 2),
                    RawType::Ipv6 => put8(w, 3),
                    RawType::Other(t) => {
                        put8(w, 4);
                        put16(w, *t);
                    }
                }
                let b = &bytes[..bytes.len().min(usize::from(u16::MAX))];
                put16(w, b.len() as u16);
                w.extend_from_slice(b);
            }
            Action::Fragments(f) => {
                put8(w, 2);
                f.encode(w);
            }
            Action::Respond(r) => {
                put8(w, 3);
                r.encode(w);
            }
            Action::Advance { unit, amount } => {
                w.extend_from_slice(&[4, *unit as u8]);
                put16(w, *amount);
            }
            Action::Poll => put8(w, 5),
            Action::Step => put8(w, 6),
            Action::Transmit { accept } => w.extend_from_slice(&[7, *accept]),
            Action::UdpBind { addr, port } => {
                put8(w, 8);
                match addr {
                    BindAddr::Any => put8(w, 0),
                    BindAddr::Ours => put8(w, 1),
                    BindAddr::Other(ip) => {
                        put8(w, 2);
                        ip.encode(w);
                    }
                }
                port.encode(w);
            }
            Action::UdpConnect { socket, dst, port } => {
                w.extend_from_slice(&[9, *socket]);
                dst.encode(w);
                port.encode(w);
            }
            Action::UdpSend { socket, to, len } => {
                w.extend_from_slice(&[10, *socket]);
                match to {
                    Some((d, p)) => {
                        put8(w, 0);
                        d.encode(w);
                        p.encode(w);
                    }
                    None => put8(w, 1),
                }
                put16(w, *len);
            }
            Action::UdpRecv { socket, buf } => {
                w.extend_from_slice(&[11, *socket]);
                put16(w, buf ^ 2048);
            }
            Action::UdpClose { socket } => w.extend_from_slice(&[12, *socket]),
            Action::EchoOpen { ident } => match ident {
                None => w.extend_from_slice(&[13, 0]),
                Some(i) => {
                    w.extend_from_slice(&[13, 1]);
                    put16(w, *i);
                }
            },
            Action::EchoSend { socket, dst, seq, len } => {
                w.extend_from_slice(&[14, *socket]);
                dst.encode(w);
                put16(w, *seq);
                put16(w, *len);
            }
            Action::EchoRecv { socket, buf } => {
                w.extend_from_slice(&[15, *socket]);
                put16(w, buf ^ 2048);
            }
            Action::EchoClose { socket } => w.extend_from_slice(&[16, *socket]),
            Action::AddAddress { ip, prefix } => {
                put8(w, 17);
                ip.encode(w);
                put8(w, prefix ^ 24);
            }
            Action::RemoveAddress { ip } => {
                put8(w, 18);
                ip.encode(w);
            }
            Action::SetGateway { gw } => match gw {
                Some(ip) => {
                    w.extend_from_slice(&[19, 0]);
                    ip.encode(w);
                }
                None => w.extend_from_slice(&[19, 1]),
            },
            Action::SetMtu { mtu } => {
                put8(w, 20);
                put16(w, *mtu);
            }
            Action::TcpListen { port, backlog } => {
                put8(w, 21);
                port.encode(w);
                put8(w, *backlog);
            }
            Action::TcpAccept { listener } => w.extend_from_slice(&[22, *listener]),
            Action::TcpConnect { dst, port } => {
                put8(w, 23);
                dst.encode(w);
                port.encode(w);
            }
            Action::TcpSend { conn, len } => {
                w.extend_from_slice(&[24, *conn]);
                put16(w, *len);
            }
            Action::TcpRecv { conn, buf } => {
                w.extend_from_slice(&[25, *conn]);
                put16(w, buf ^ 2048);
            }
            Action::TcpClose { conn, how } => w.extend_from_slice(&[26, *conn, *how as u8]),
        }
    }
}

/// The actions in a fuzz input (at most [`MAX_ACTIONS`]).
pub fn decode(data: &[u8]) -> Vec<Action> {
    let mut c = Cursor { data, pos: 0 };
    let mut actions = Vec::new();
    while !c.is_empty() && actions.len() < MAX_ACTIONS {
        actions.push(Action::decode(&mut c));
    }
    actions
}

/// The bytes that [`decode`] turns into `actions`.
pub fn encode(actions: &[Action]) -> Vec<u8> {
    let mut w = Vec::new();
    for a in actions {
        a.encode(&mut w);
    }
    w
}
