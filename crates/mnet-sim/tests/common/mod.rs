//! Scaffolding shared by the simulation tests: stacks on simulated links
//! driven by mnet's executor in virtual time, plus the instruments the tests
//! look through.
//!
//! - [`Sim`]: one network, one executor, and a guarded platform that fails
//!   loudly when the simulation goes idle or passes its virtual-time limit
//!   (instead of spinning or hanging).
//! - [`Host`]: a stack on a device, with a plug that can be pulled.
//! - [`Bridge`]: two devices joined by a frame filter that may drop,
//!   duplicate, hold back, reorder or rewrite frames in flight.
//! - [`Sniffer`]: a hub port that records everything it sees.
//! - [`Recorder`]: a device wrapper that records the frames a stack
//!   received and transmitted.
//! - Self-checking payloads ([`payload`], [`identify`]): a sequence number
//!   and a hash embedded in every datagram, the rest derived from the
//!   sequence number, so a receiver can tell intact, corrupted and
//!   duplicated datagrams apart.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;

use mnet::executor::{Driver, Executor, Platform, Spawner};
use mnet::link::{Device, DeviceCapabilities, FrameMeta, TxError};
use mnet::socket::Interface;
use mnet::wire::{ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, IpCidr, IpProtocol, Ipv4Packet};
use mnet::{Config, Instant, Net, Stack};
use mnet_sim::{Network, SimClock, SimDevice, SimPlatform, SimRng};

/// `10.0.0.n`.
pub fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, n)
}

/// `02:00:00:00:00:n` (locally administered, unicast).
pub fn mac(n: u8) -> EthernetAddress {
    EthernetAddress([0x02, 0, 0, 0, 0, n])
}

/// `addr:port`.
pub fn sock(addr: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(addr), port)
}

/// Host number `n`: MAC `mac(n)`, seed `[n; 32]`, address `addr/24`.
pub fn config(n: u8, addr: Ipv4Addr) -> Config {
    let cidr = IpCidr::new(IpAddr::V4(addr), 24).expect("a /24 is a valid prefix");
    Config::new(mac(n), [n; 32]).address(cidr)
}

/// A stack started at virtual time zero.
pub fn stack(config: Config) -> Net {
    Net::new(Stack::new(config, Instant::ZERO))
}

// ---- running a simulation ---------------------------------------------------

/// A [`SimPlatform`] that panics instead of spinning when nothing can ever
/// happen again (the main future waits for something that will not come)
/// and when virtual time passes `limit`.
struct GuardedPlatform {
    inner: SimPlatform,
    limit: Instant,
}

impl Platform for GuardedPlatform {
    fn now(&mut self) -> Instant {
        self.inner.now()
    }

    fn wait(&mut self, deadline: Option<Instant>) {
        self.inner.wait(deadline);
        assert!(
            !self.inner.is_idle(),
            "simulation idle at {:?}: no timer and no frame in flight, the main future can never finish",
            self.inner.now()
        );
        assert!(
            self.inner.now() <= self.limit,
            "virtual time {:?} passed the test's limit {:?}",
            self.inner.now(),
            self.limit
        );
    }
}

/// One simulated network and the executor that runs every stack on it.
pub struct Sim {
    pub network: Network,
    executor: Executor,
}

impl Sim {
    pub fn new(seed: u64) -> Sim {
        Sim {
            network: Network::new(seed),
            executor: Executor::new(),
        }
    }

    /// Spawns tasks (servers, readers) next to the main future.
    pub fn spawner(&self) -> Spawner {
        self.executor.spawner()
    }

    /// Run `main` to completion, driving `drivers`, in virtual time; panics
    /// if the run goes idle or past `limit`.
    pub fn run<F: Future>(&mut self, drivers: &mut [&mut dyn Driver], limit: Instant, main: F) -> F::Output {
        let mut platform = GuardedPlatform {
            inner: SimPlatform::new(self.network.clone()),
            limit,
        };
        self.executor.block_on(&mut platform, drivers, main)
    }
}

// ---- hosts --------------------------------------------------------------------

/// A stack on a device, as an executor [`Driver`]. Setting the plug (see
/// [`Host::plug`]) to `false` disconnects the host: frames that reach its
/// device are read and thrown away, and its stack is no longer driven.
pub struct Host<D: Device> {
    iface: Interface<D>,
    up: Rc<Cell<bool>>,
}

impl<D: Device> Host<D> {
    pub fn new(net: &Net, device: D) -> Host<D> {
        Host {
            iface: Interface::new(net.clone(), device),
            up: Rc::new(Cell::new(true)),
        }
    }

    /// The shared switch: `plug().set(false)` pulls the cable.
    pub fn plug(&self) -> Rc<Cell<bool>> {
        self.up.clone()
    }
}

impl<D: Device> Driver for Host<D> {
    fn drive(&mut self, now: Instant) -> bool {
        if self.up.get() {
            return self.iface.drive(now);
        }
        let mut discarded = false;
        while self.iface.device.receive_batch(&mut |_, _| {}) > 0 {
            discarded = true;
        }
        discarded
    }

    fn poll_at(&self) -> Option<Instant> {
        if self.up.get() { self.iface.poll_at() } else { None }
    }
}

// ---- instruments --------------------------------------------------------------

/// Frames with the virtual time they passed.
pub type FrameList = Vec<(Instant, Vec<u8>)>;

/// What a [`Recorder`] saw.
#[derive(Default)]
pub struct FrameLog {
    /// Frames the device handed to the stack.
    pub rx: FrameList,
    /// Frames the stack handed to the device.
    pub tx: FrameList,
}

pub type SharedLog = Rc<RefCell<FrameLog>>;

/// A device that records every frame going through it in either direction.
pub struct Recorder<D: Device> {
    inner: D,
    clock: SimClock,
    log: SharedLog,
}

impl<D: Device> Recorder<D> {
    pub fn new(inner: D, clock: SimClock) -> (Recorder<D>, SharedLog) {
        let log = SharedLog::default();
        (
            Recorder {
                inner,
                clock,
                log: log.clone(),
            },
            log,
        )
    }
}

impl<D: Device> Device for Recorder<D> {
    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }

    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        let Recorder { inner, clock, log } = self;
        let now = clock.now();
        inner.receive_batch(&mut |meta, frame| {
            log.borrow_mut().rx.push((now, frame.to_vec()));
            sink(meta, frame);
        })
    }

    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        let result = self.inner.transmit(meta, frame);
        if result.is_ok() {
            self.log.borrow_mut().tx.push((self.clock.now(), frame.to_vec()));
        }
        result
    }

    fn flush(&mut self) {
        self.inner.flush();
    }
}

/// A passive port (of a hub) that records every frame reaching it.
pub struct Sniffer {
    dev: SimDevice,
    clock: SimClock,
    log: Rc<RefCell<FrameList>>,
}

impl Sniffer {
    pub fn new(dev: SimDevice) -> (Sniffer, Rc<RefCell<FrameList>>) {
        let log = Rc::new(RefCell::new(Vec::new()));
        let clock = dev.network().clock();
        (
            Sniffer {
                dev,
                clock,
                log: log.clone(),
            },
            log,
        )
    }
}

impl Driver for Sniffer {
    fn drive(&mut self, _now: Instant) -> bool {
        let mut seen = false;
        let now = self.clock.now();
        while self.dev.receive_batch(&mut |_, f| self.log.borrow_mut().push((now, f.to_vec()))) > 0 {
            seen = true;
        }
        seen
    }

    fn poll_at(&self) -> Option<Instant> {
        None
    }
}

/// The direction a frame crosses a [`Bridge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    LeftToRight,
    RightToLeft,
}

/// Decides the fate of one frame crossing a bridge: push what to send on
/// (nothing drops it; a filter may also keep frames and push them later).
pub type Filter = Box<dyn FnMut(Dir, Vec<u8>, &mut Vec<Vec<u8>>)>;

/// Two devices joined by a filter (a learning-free L2 bridge). Every frame
/// that arrives within one drive is filtered in arrival order.
pub struct Bridge {
    left: SimDevice,
    right: SimDevice,
    filter: Filter,
}

impl Bridge {
    pub fn new(left: SimDevice, right: SimDevice, filter: Filter) -> Bridge {
        Bridge { left, right, filter }
    }

    fn pass(from: &mut SimDevice, to: &mut SimDevice, dir: Dir, filter: &mut Filter) -> bool {
        let mut arrived = Vec::new();
        while from.receive_batch(&mut |_, f| arrived.push(f.to_vec())) > 0 {}
        if arrived.is_empty() {
            return false;
        }
        let mut out = Vec::new();
        for frame in arrived {
            filter(dir, frame, &mut out);
        }
        for frame in out {
            // A simulated device never refuses a frame.
            to.transmit(&FrameMeta::PLAIN, &frame).expect("sim transmit");
        }
        true
    }
}

impl Driver for Bridge {
    fn drive(&mut self, _now: Instant) -> bool {
        let Bridge { left, right, filter } = self;
        let a = Bridge::pass(left, right, Dir::LeftToRight, filter);
        let b = Bridge::pass(right, left, Dir::RightToLeft, filter);
        a || b
    }

    fn poll_at(&self) -> Option<Instant> {
        None
    }
}

// ---- looking into frames --------------------------------------------------------

/// The IPv4 facts of a frame, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Info {
    pub ident: u16,
    /// Fragment offset in bytes.
    pub offset: usize,
    pub more_frags: bool,
    pub protocol: IpProtocol,
    pub header_len: usize,
    pub payload_len: usize,
}

impl Ipv4Info {
    pub fn is_fragment(&self) -> bool {
        self.more_frags || self.offset != 0
    }
}

/// The IPv4 header facts of an Ethernet frame, `None` for anything else.
pub fn ipv4_info(frame: &[u8]) -> Option<Ipv4Info> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EtherType::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    Some(Ipv4Info {
        ident: ip.ident(),
        offset: usize::from(ip.frag_offset()),
        more_frags: ip.more_frags(),
        protocol: ip.next_header(),
        header_len: ip.header_len(),
        payload_len: ip.payload().len(),
    })
}

/// The ARP packet of an Ethernet frame, `None` for anything else.
pub fn arp_of(frame: &[u8]) -> Option<ArpRepr> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EtherType::Arp {
        return None;
    }
    ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()
}

/// The destination MAC of a frame.
pub fn eth_dst(frame: &[u8]) -> Option<EthernetAddress> {
    EthernetFrame::new_checked(frame).ok().map(|e| e.dst_addr())
}

/// The source MAC of a frame.
pub fn eth_src(frame: &[u8]) -> Option<EthernetAddress> {
    EthernetFrame::new_checked(frame).ok().map(|e| e.src_addr())
}

/// Rewrite an IPv4 fragment frame: keep its first `payload_len` payload
/// bytes, XOR them with `xor`, move it to `offset` (bytes) with the given
/// MF flag, and recompute the header checksum. The frame must be IPv4.
pub fn rewrite_fragment(frame: &[u8], offset: usize, payload_len: usize, more_frags: bool, xor: u8) -> Vec<u8> {
    let info = ipv4_info(frame).expect("an IPv4 frame");
    let start = 14 + info.header_len;
    let mut out = frame[..start + payload_len].to_vec();
    for b in &mut out[start..] {
        *b ^= xor;
    }
    let mut ip = Ipv4Packet::new_unchecked(&mut out[14..]);
    ip.set_total_len(u16::try_from(info.header_len + payload_len).expect("fits"));
    ip.set_frag_offset(u16::try_from(offset).expect("fits"));
    ip.set_more_frags(more_frags);
    ip.fill_checksum();
    out
}

// ---- self-checking payloads --------------------------------------------------------

/// FNV-1a, 64 bits.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Bytes of a payload before the body: the sequence number (u32, little
/// endian) and the hash (u64, little endian).
pub const PAYLOAD_HEADER: usize = 12;

/// Datagram `seq` of `len` bytes: `seq` (4 bytes LE), then FNV-1a of
/// (seq, len, body) (8 bytes LE), then a body drawn from a generator seeded
/// with `seq`. Shorter datagrams carry a prefix of the same bytes.
pub fn payload(seq: u32, len: usize) -> Vec<u8> {
    let body_len = len.saturating_sub(PAYLOAD_HEADER);
    let mut rng = SimRng::new(u64::from(seq) ^ 0x5eed_0fda_7a00);
    let body: Vec<u8> = (0..body_len).map(|_| rng.next_u64() as u8).collect();
    let hash = fnv1a(&[&seq.to_le_bytes(), &(len as u64).to_le_bytes(), &body]);
    let mut out = Vec::with_capacity(len.max(PAYLOAD_HEADER));
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&hash.to_le_bytes());
    out.extend_from_slice(&body);
    out.truncate(len);
    out
}

/// What a received datagram is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identified {
    /// Exactly datagram `seq` as it was sent.
    Seq(u32),
    /// An intact copy of one of several sent datagrams that are identical
    /// (only possible for datagrams shorter than 4 bytes).
    Ambiguous(Vec<u32>),
    /// Not any datagram that was sent: corrupted (or forged).
    Invalid,
}

/// Identify `data` among datagrams `0..sizes.len()` of the given sizes.
/// Datagrams of 12 bytes or more carry their hash, which is checked on its
/// own before the content is compared with what was sent.
pub fn identify(data: &[u8], sizes: &[usize]) -> Identified {
    if data.len() >= 4 {
        let seq = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let Some(&len) = sizes.get(seq as usize) else {
            return Identified::Invalid;
        };
        if data.len() >= PAYLOAD_HEADER {
            let body = &data[PAYLOAD_HEADER..];
            let hash = fnv1a(&[&seq.to_le_bytes(), &(data.len() as u64).to_le_bytes(), body]);
            if data[4..12] != hash.to_le_bytes() {
                return Identified::Invalid;
            }
        }
        if len == data.len() && payload(seq, len) == data {
            return Identified::Seq(seq);
        }
        return Identified::Invalid;
    }
    let matches: Vec<u32> = (0..sizes.len() as u32)
        .filter(|&s| sizes[s as usize] == data.len() && payload(s, data.len()) == data)
        .collect();
    match matches.len() {
        0 => Identified::Invalid,
        1 => Identified::Seq(matches[0]),
        _ => Identified::Ambiguous(matches),
    }
}

/// `n` sizes uniform in `low..=high`, drawn from `seed`.
pub fn random_sizes(seed: u64, n: usize, low: usize, high: usize) -> Vec<usize> {
    let mut rng = SimRng::new(seed);
    (0..n).map(|_| rng.between(low as u64, high as u64) as usize).collect()
}

/// A shared list a receiving task fills and the test reads afterwards.
pub type Inbox = Rc<RefCell<Vec<(Instant, Vec<u8>)>>>;

/// Receive datagrams on `socket` forever, appending each with its arrival
/// time (the engine's time) to `inbox`.
pub async fn collect(net: Net, socket: mnet::socket::UdpSocket, inbox: Inbox) {
    let mut buf = vec![0u8; 65536];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, _)) => inbox.borrow_mut().push((net.now(), buf[..n].to_vec())),
            Err(e) => panic!("receiver: {e}"),
        }
    }
}

// ---- byte streams checked by hash ------------------------------------------------

/// A reproducible byte stream that any position of can be regenerated on
/// its own: byte `p` is byte `p % 8` (little endian) of SplitMix64's output
/// for `seed + p / 8`. A sender writes it, a receiver checks what it reads
/// against it position by position, so a mismatch is located exactly.
pub fn pattern_fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut pos = offset;
    let mut i = 0;
    while i < buf.len() {
        let word = SimRng::new(seed.wrapping_add(pos / 8)).next_u64().to_le_bytes();
        let start = (pos % 8) as usize;
        let take = (8 - start).min(buf.len() - i);
        buf[i..i + take].copy_from_slice(&word[start..start + take]);
        i += take;
        pos += take as u64;
    }
}

/// SHA-256 (FIPS 180-4), streaming: `update` any number of times, then
/// `finish`. Written from the standard for the tests (no dependency).
#[derive(Clone)]
pub struct Sha256 {
    state: [u32; 8],
    block: [u8; 64],
    filled: usize,
    total: u64,
}

/// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the
/// cube roots of the first 64 primes.
const SHA256_K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
    0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
    0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
    0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
    0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

impl Default for Sha256 {
    fn default() -> Self {
        Sha256::new()
    }
}

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256 {
            // FIPS 180-4 §5.3.3: the initial hash value.
            state: [
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
            ],
            block: [0; 64],
            filled: 0,
            total: 0,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.filled > 0 {
            let take = (64 - self.filled).min(data.len());
            self.block[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled < 64 {
                return;
            }
            let block = self.block;
            self.compress(&block);
            self.filled = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            self.compress(block.try_into().expect("64 bytes"));
        }
        let rest = blocks.remainder();
        self.block[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    /// FIPS 180-4 §5.1.1 padding, then the digest.
    pub fn finish(mut self) -> [u8; 32] {
        let bits = self.total.wrapping_mul(8);
        let mut pad = vec![0x80u8];
        let after = (self.filled + 1) % 64;
        let zeros = if after <= 56 { 56 - after } else { 120 - after };
        pad.resize(1 + zeros, 0);
        pad.extend_from_slice(&bits.to_be_bytes());
        let total = self.total;
        self.update(&pad);
        self.total = total;
        debug_assert_eq!(self.filled, 0);
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// FIPS 180-4 §6.2.2: the hash computation of one 512-bit block.
    fn compress(&mut self, block: &[u8; 64]) {
        let mut w = [0u32; 64];
        for (t, word) in block.chunks_exact(4).enumerate() {
            w[t] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for t in 16..64 {
            let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
            let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16].wrapping_add(s0).wrapping_add(w[t - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = self.state;
        for t in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = h.wrapping_add(s1).wrapping_add(ch).wrapping_add(SHA256_K[t]).wrapping_add(w[t]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (s, v) in self.state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *s = s.wrapping_add(v);
        }
    }
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
