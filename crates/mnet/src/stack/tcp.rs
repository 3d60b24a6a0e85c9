//! TCP in the engine: demultiplexing by 4-tuple, listeners with a bounded
//! SYN queue and accept queue (SYN cookies beyond it), TIME_WAIT kept as
//! compact records, one timer structure for every connection, and the
//! socket operations. The per-connection protocol lives in `crate::tcp`.

use crate::waker_set::WakerSet;
use alloc::boxed::Box;
use alloc::collections::{BTreeSet, VecDeque};
use alloc::sync::Arc;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::task::Waker;

use super::Stack;
use super::ipv4_in::Ipv4Meta;
use super::ipv4_out::Ipv4Tx;
use crate::error::{Error, Result};
use crate::hash::{self, HashMap};
use crate::ip::rate_limit::TokenBucket;
use crate::link::FrameMeta;
use crate::link::device::{VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4};
use crate::rand::Rng;
use crate::slab::{Handle, Slab};
use crate::stats::Drop;
use crate::tcp::isn::{initial_sequence_number, timestamp_offset};
use crate::tcp::syn_cookie::{check_cookie, make_cookie, syn_ack};
use crate::tcp::{Connection, SegmentOutcome, State, TcpConfig, TimeWaitAction, TimeWaitRecord, TimerOutcome};
use crate::time::Instant;
use crate::udp::{EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN};
use crate::wire::{IpProtocol, TcpFlags, TcpPacket, TcpRepr, TcpSeqNumber, WireError, ethernet, ipv4, tcp};
use core::hash::BuildHasher;
use hashbrown::HashTable;

/// RFC 5961 §7: "An implementation SHOULD include a ... system-wide
/// limit on the number of challenge ACKs" (Linux: 1000 per second).
pub const CHALLENGE_ACK_RATE: u32 = 1000;
/// Burst of [`CHALLENGE_ACK_RATE`].
pub const CHALLENGE_ACK_BURST: u32 = 100;

/// The largest accept queue a listener may ask for (Linux's default
/// `net.core.somaxconn`).
pub const MAX_LISTEN_BACKLOG: usize = 4096;

/// `ECT(0)` in the two ECN bits of the IP header (RFC 3168 §5).
const ECN_ECT0: u8 = 0b10;
/// `CE` (RFC 3168 §5).
const ECN_CE: u8 = 0b11;

type Tuple = (SocketAddr, SocketAddr);

/// One connection and the tasks waiting on it.
struct TcpSock {
    conn: Connection,
    rx_waker: WakerSet,
    tx_waker: WakerSet,
    /// The listener it came from, until `accept` takes it.
    listener: Option<Handle>,
    /// In the listener's accept queue already.
    queued: bool,
    /// The user dropped or closed the handle: the engine finishes alone.
    orphan: bool,
    /// The instant registered in the timer set.
    timer: Option<Instant>,
    /// Stopped sending because the transmit queue was full.
    blocked: bool,
    /// Counted in its listener's SYN queue.
    in_syn_queue: bool,
    /// In `TcpTable::ack_batch`: an ACK (or a corked tail) waits for the
    /// end of the batch.
    ack_queued: bool,
}

struct Listener {
    local: SocketAddr,
    backlog: usize,
    /// Connections in SYN-RECEIVED for this listener.
    syn_queue: usize,
    accept_queue: VecDeque<Handle>,
    waker: WakerSet,
}

/// Everything TCP of one stack.
pub(crate) struct TcpTable {
    config: Arc<TcpConfig>,
    /// Boxed: the slab's vector grows by doubling, and a pointer per
    /// spare slot costs far less than a whole connection; moving a
    /// connection out and back (`tcp_service`) moves a pointer.
    conns: Slab<Box<TcpSock>>,
    /// The 4-tuple index: each entry is the tuple's keyed hash and the
    /// connection's handle, 16 bytes (a `(Tuple, Handle)` entry is 72);
    /// the tuple itself is compared in the connection ([`TcpTable::find`]).
    by_tuple: HashTable<(u64, Handle)>,
    /// The key of `by_tuple`'s hashes.
    tuple_hasher: hash::KeyedState,
    /// How many connections use each local (address, port): port choice
    /// in O(1) instead of a scan of every connection.
    local_ports: HashMap<(IpAddr, u16), u32>,
    listeners: Slab<Listener>,
    listen_by_local: HashMap<(IpAddr, u16), Handle>,
    time_wait: HashMap<Tuple, TimeWaitRecord>,
    time_wait_expiry: BTreeSet<(Instant, Tuple)>,
    timers: BTreeSet<(Instant, Handle)>,
    /// Connections waiting for room in the transmit queue.
    blocked: VecDeque<Handle>,
    /// Connections whose ACK waits for the end of the receive batch
    /// ([`Connection::set_ack_per_batch`]), or whose tail was corked while
    /// the batch was held ([`Connection::set_cork_round`]); the `ack_queued` flag bounds
    /// it by the connection count.
    ack_batch: alloc::vec::Vec<Handle>,
    /// [`Stack::hold_receive_batch`]: the batch ends at
    /// [`Stack::end_receive_batch`] only.
    hold_batch: bool,
    isn_secret: [u8; 16],
    cookie_secret: [u8; 16],
    challenge_acks: TokenBucket,
    max_connections: usize,
    max_time_wait: usize,
    syn_backlog: usize,
    /// A listener on `::` also takes IPv4 (see `Ipv6Config::v6only`).
    pub(super) dual_stack: bool,
}

impl TcpTable {
    pub fn new(config: TcpConfig, limits: &crate::config::Limits, rng: &mut Rng) -> Self {
        let (max_connections, max_time_wait, syn_backlog) = (limits.tcp_connections, limits.tcp_time_wait, limits.tcp_syn_backlog);
        let mut isn_secret = [0u8; 16];
        rng.fill_bytes(&mut isn_secret);
        let mut cookie_secret = [0u8; 16];
        rng.fill_bytes(&mut cookie_secret);
        TcpTable {
            config: Arc::new(config),
            conns: Slab::new(max_connections),
            by_tuple: HashTable::new(),
            tuple_hasher: hash::KeyedState::new(rng),
            local_ports: hash::new_map(rng),
            listeners: Slab::new(limits.tcp_listeners),
            listen_by_local: hash::new_map(rng),
            time_wait: hash::new_map(rng),
            time_wait_expiry: BTreeSet::new(),
            timers: BTreeSet::new(),
            blocked: VecDeque::new(),
            ack_batch: alloc::vec::Vec::new(),
            hold_batch: false,
            isn_secret,
            cookie_secret,
            challenge_acks: TokenBucket::new(CHALLENGE_ACK_RATE, CHALLENGE_ACK_BURST),
            max_connections,
            max_time_wait,
            syn_backlog,
            dual_stack: true,
        }
    }

    /// ACKs wait for the end of the receive batch ([`Stack::poll`]).
    pub fn acks_pending(&self) -> bool {
        !self.ack_batch.is_empty()
    }

    /// The receive batch stays open until [`Stack::end_receive_batch`].
    pub fn batch_held(&self) -> bool {
        self.hold_batch
    }

    pub fn poll_at(&self) -> Option<Instant> {
        let a = self.timers.first().map(|t| t.0);
        let b = self.time_wait_expiry.first().map(|t| t.0);
        crate::time::earliest(a, b)
    }

    fn find_listener(&self, local: &SocketAddr) -> Option<Handle> {
        let wild = match local.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED),
        };
        // A listener on `::` also accepts IPv4 (like Linux with
        // net.ipv6.bindv6only=0; IPv4 peers appear as IPv4 addresses, not
        // IPv4-mapped ones) when no IPv4 listener takes the port.
        let wild6 = IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED);
        self.listen_by_local
            .get(&(local.ip(), local.port()))
            .or_else(|| self.listen_by_local.get(&(wild, local.port())))
            .or_else(|| self.dual_stack.then(|| self.listen_by_local.get(&(wild6, local.port()))).flatten())
            .copied()
    }

    fn port_in_use(&self, ip: IpAddr, port: u16) -> bool {
        self.listen_by_local.contains_key(&(ip, port)) || self.local_ports.contains_key(&(ip, port))
    }

    /// The connection with this 4-tuple.
    fn find(&self, tuple: &Tuple) -> Option<Handle> {
        let hash = self.tuple_hasher.hash_one(tuple);
        // A connection out of the slab for the moment (`tcp_service`) is
        // taken at its word by its keyed hash; its caller finds it stale.
        let same = |&(hh, h): &(u64, Handle)| hh == hash && self.conns.get(h).is_none_or(|s| (s.conn.local(), s.conn.remote()) == *tuple);
        self.by_tuple.find(hash, same).map(|&(_, h)| h)
    }

    /// Index a connection under its 4-tuple and its local address.
    fn index(&mut self, tuple: Tuple, h: Handle) {
        let hash = self.tuple_hasher.hash_one(tuple);
        // A tuple names one connection: a newer one replaces the entry.
        if let Some(old) = self.find(&tuple)
            && let Ok(entry) = self.by_tuple.find_entry(hash, |&(_, x)| x == old)
        {
            entry.remove();
        }
        self.by_tuple.insert_unique(hash, (hash, h), |&(hh, _)| hh);
        *self.local_ports.entry((tuple.0.ip(), tuple.0.port())).or_insert(0) += 1;
    }

    /// Remove connection `h` from the indexes (if the 4-tuple still
    /// names `h`: a new incarnation may have taken it).
    fn unindex(&mut self, tuple: &Tuple, h: Handle) {
        let hash = self.tuple_hasher.hash_one(tuple);
        let Ok(entry) = self.by_tuple.find_entry(hash, |&(_, x)| x == h) else {
            return;
        };
        entry.remove();
        let key = (tuple.0.ip(), tuple.0.port());
        if let Some(n) = self.local_ports.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.local_ports.remove(&key);
            }
        }
    }
}

/// The offload metadata of an IPv4 TCP segment whose checksum is left
/// partial: virtio spec §5.1.6.2, "csum_start is set to the offset within
/// the packet to begin checksumming, and csum_offset indicates how many
/// bytes after the csum_start the new (16 bit ones' complement) checksum
/// is placed"; a payload above `seg_size` also asks for segmentation
/// ("gso_size is the maximum size of each packet beyond that header").
pub(super) fn tcp_offload_meta(repr: &TcpRepr<'_>, seg_size: usize, max_gso_size: usize, v6: bool) -> FrameMeta {
    let ip_header = if v6 { crate::wire::ipv6::HEADER_LEN } else { ipv4::HEADER_LEN };
    let l4_start = ethernet::HEADER_LEN + ip_header;
    let mut meta = FrameMeta {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        csum_start: l4_start as u16,
        csum_offset: tcp::CHECKSUM_OFFSET as u16,
        ..FrameMeta::PLAIN
    };
    if repr.payload.len() > seg_size && max_gso_size > 0 {
        meta.gso_type = if v6 {
            crate::link::device::VIRTIO_NET_HDR_GSO_TCPV6
        } else {
            VIRTIO_NET_HDR_GSO_TCPV4
        };
        meta.gso_size = u16::try_from(seg_size).unwrap_or(u16::MAX);
        meta.hdr_len = (l4_start + repr.header_len()) as u16;
    }
    meta
}

/// Whether `seg` would complete the handshake of `sock`, a half-open
/// child, while its listener's accept queue is full: then the segment is
/// dropped and the child stays in SYN-RECEIVED.
///
/// RFC 9293 leaves a full accept queue to the implementation (§3.10.7.3,
/// SYN-RECEIVED: "If the segment acknowledgment is acceptable, then enter
/// ESTABLISHED state" — nothing forces us to find it acceptable now).
/// Linux's default, `tcp_abort_on_overflow` = 0, drops the final ACK:
/// "If listening service is too slow to accept new connections, reset
/// them. Default state is FALSE. It means that if overflow occurred due
/// to a burst, connection will recover." (ip-sysctl). It recovers because
/// the child keeps retransmitting its SYN-ACK (RFC 9293 §3.8.1) and the
/// peer answers with its ACK again, or retransmits the data or FIN that
/// carried it; once the application accepted, there is room. A child
/// whose SYN-ACK retransmissions run out is freed without a reset.
fn accept_queue_overflow(sock: &TcpSock, listeners: &Slab<Listener>, seg: &TcpRepr<'_>) -> bool {
    let (Some(lh), false) = (sock.listener, sock.queued) else {
        return false;
    };
    sock.conn.state() == State::SynReceived
        && seg.flags.contains(TcpFlags::ACK)
        && !seg.flags.intersects(TcpFlags::RST | TcpFlags::SYN)
        && listeners.get(lh).is_some_and(|l| l.accept_queue.len() >= l.backlog)
}

/// Wake the readers when there is something to read (data, end of
/// stream, an error), and the other waiters (connect, write, flush,
/// close) on every change: their conditions are varied and cheap to
/// re-check, and a reader woken for nothing would re-poll per segment.
fn wake_both(s: &mut TcpSock) {
    if s.conn.can_recv() {
        s.rx_waker.wake_all();
    }
    s.tx_waker.wake_all();
}

impl Stack {
    /// The largest TCP payload per segment towards `remote`.
    fn tcp_mss_for(&mut self, now: Instant, remote: IpAddr) -> u16 {
        let mtu = self.path_mtu(now, remote);
        let overhead = match remote {
            IpAddr::V4(_) => ipv4::HEADER_LEN + tcp::HEADER_LEN,
            IpAddr::V6(_) => crate::wire::ipv6::HEADER_LEN + tcp::HEADER_LEN,
        };
        u16::try_from(mtu.saturating_sub(overhead)).unwrap_or(u16::MAX).max(64)
    }

    /// The largest super-segment payload for a connection to `remote`:
    /// the device's segmentation limit less the headers, or 0 when the
    /// device cannot segment (or `remote` is ours: loopback gets plain
    /// segments).
    fn tcp_tso_max(&self, remote: IpAddr) -> usize {
        let caps = &self.caps;
        if caps.max_gso_size == 0 || !caps.checksum.tx_partial || self.has_address(&remote) || remote.is_loopback() {
            return 0;
        }
        let (max_datagram, ip_header) = match remote {
            IpAddr::V4(_) => (super::ipv4_out::IPV4_MAX_DATAGRAM, ipv4::HEADER_LEN),
            IpAddr::V6(dst) if self.ipv6.addrs.is_usable(dst) => return 0,
            IpAddr::V6(_) => (
                crate::wire::ipv6::HEADER_LEN + crate::wire::ipv6::MAX_PAYLOAD_LEN,
                crate::wire::ipv6::HEADER_LEN,
            ),
        };
        caps.max_gso_size
            .min(max_datagram)
            .saturating_sub(ip_header + tcp::HEADER_LEN + crate::wire::tcp::MAX_OPTIONS_LEN)
    }

    /// Send one TCP segment; `false` when the transmit queue is full.
    fn tcp_emit(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, repr: &TcpRepr<'_>, ect: bool) -> bool {
        self.tcp_emit_sized(now, local, remote, repr, ect, usize::MAX)
    }

    /// [`Stack::tcp_emit`] for a segment whose payload may exceed
    /// `seg_size`, the connection's MSS: a super-segment for a device
    /// with segmentation offload, split there into `seg_size` pieces.
    fn tcp_emit_sized(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        repr: &TcpRepr<'_>,
        ect: bool,
        seg_size: usize,
    ) -> bool {
        if let (IpAddr::V6(src), IpAddr::V6(dst)) = (local.ip(), remote.ip()) {
            return self.tcp_emit_v6(now, src, dst, repr, if ect { ECN_ECT0 } else { 0 }, seg_size);
        }
        let (IpAddr::V4(src), IpAddr::V4(dst)) = (local.ip(), remote.ip()) else {
            self.stats.record(Drop::Ipv6Unsupported);
            return true;
        };
        let to_self = self.has_address(&IpAddr::V4(dst)) || dst.is_loopback();
        if !to_self && !self.tx_has_room(1) {
            return false;
        }
        let mut tx = Ipv4Tx::new(Some(src), dst, IpProtocol::Tcp, repr.buffer_len());
        // RFC 1191 §3: hosts doing path-MTU discovery set DF on what they
        // send — except at the floor the cache clamps forged tiny MTUs to,
        // where the path may really be smaller (Linux does the same).
        tx.dont_frag = !self.pmtu.is_clamped(now, IpAddr::V4(dst));
        tx.dscp_ecn = if ect { ECN_ECT0 } else { 0 };
        // A device that completes checksums gets them partial (the payload
        // is read once, by the copy); a super-segment asks it to split.
        let partial = !to_self && self.caps.checksum.tx_partial;
        if partial {
            tx.meta = tcp_offload_meta(repr, seg_size, self.caps.max_gso_size, false);
        }
        // The payload goes into the frame as it is built (one copy).
        let sent = self.send_ipv4_with_tail(now, tx, repr.payload, |buf, src| {
            let mut pkt = TcpPacket::new_unchecked(buf);
            repr.emit_around_payload(&mut pkt, &IpAddr::V4(src), &IpAddr::V4(dst), partial);
        });
        match sent {
            Ok(()) => self.stats.traffic.tcp_out += 1,
            Err(_) => self.stats.record(Drop::Ipv4NoRoute),
        }
        true
    }

    /// Let connection `h` send what is due, re-arm its timer, wake its tasks;
    /// remove it when it is finished.
    fn tcp_service(&mut self, now: Instant, h: Handle) {
        let Some(mut sock) = self.tcp.conns.take(h) else { return };
        let (local, remote) = (sock.conn.local(), sock.conn.remote());
        // RFC 1191 §6.4: segments follow the path MTU as it shrinks.
        let mss = self.tcp_mss_for(now, remote.ip());
        if mss < sock.conn.path_mss() {
            sock.conn.set_mss(mss);
        }
        sock.conn.set_tso_max(self.tcp_tso_max(remote.ip()));
        let seg_size = sock.conn.tso_segment_size();
        let mut refused = false;
        // A held batch is the host loop's round: what is queued now
        // reaches the device at its end (`Connection::corks_tail`).
        let round = self.tcp.hold_batch;
        sock.conn.set_cork_round(round);
        sock.conn.poll_transmit(now, &mut |repr, ect| {
            let ok = self.tcp_emit_sized(now, local, remote, repr, ect, seg_size);
            refused |= !ok;
            ok
        });
        if round && !sock.ack_queued && sock.conn.has_unsent() {
            // Asked again, without the cork, when the round ends.
            sock.ack_queued = true;
            self.tcp.ack_batch.push(h);
        }
        if refused && !sock.blocked {
            // Back-pressure: serviced again when the device drains the
            // queue (the flag bounds the list by the connection count).
            sock.blocked = true;
            self.tcp.blocked.push_back(h);
        }
        wake_both(&mut sock);
        // Accepted connections become visible once ESTABLISHED.
        if let (Some(lh), false) = (sock.listener, sock.queued)
            && sock.conn.is_established()
        {
            self.tcp_leave_syn_queue(&mut sock);
            if let Some(l) = self.tcp.listeners.get_mut(lh) {
                if l.accept_queue.len() < l.backlog {
                    l.accept_queue.push_back(h);
                    sock.queued = true;
                    l.waker.wake_all();
                } else {
                    // Not reached from the wire (`accept_queue_overflow`
                    // keeps such a child in SYN-RECEIVED); should a child
                    // become ESTABLISHED another way, refuse it loudly.
                    self.stats.record(Drop::TcpAcceptQueueFull);
                    if let Some(rst) = sock.conn.abort() {
                        self.tcp_emit(now, local, remote, &rst, false);
                    }
                }
            } else {
                // The listener was closed while this child was half-open:
                // nobody can accept it, so reset it (and let it go).
                sock.listener = None;
                sock.orphan = true;
                if let Some(rst) = sock.conn.abort() {
                    self.tcp_emit(now, local, remote, &rst, false);
                }
            }
        }
        let finished = sock.conn.state() == State::Closed && (sock.orphan || sock.listener.is_some() && !sock.queued);
        let time_wait = sock.conn.state() == State::TimeWait && sock.orphan;
        if let Some(t) = sock.timer.take() {
            self.tcp.timers.remove(&(t, h));
        }
        if finished || time_wait {
            if time_wait {
                self.tcp_enter_time_wait(now, &sock.conn);
            }
            self.tcp_leave_syn_queue(&mut sock);
            self.tcp.unindex(&(local, remote), h);
            self.tcp.conns.release(h);
            return;
        }
        if sock.conn.state() == State::Closed {
            // RFC 9293 §3.3.2: "CLOSED - represents no connection state at
            // all." The application may still hold the handle (to read the
            // error, or before it calls close), but the 4-tuple is free: a
            // new SYN from it goes to the listener, not to a reset from
            // the old incarnation (which a client sees as "connection
            // refused"). Linux unhashes a socket when it enters TCP_CLOSE.
            self.tcp.unindex(&(local, remote), h);
        }
        if let Some(at) = sock.conn.poll_at() {
            sock.timer = Some(at);
            self.tcp.timers.insert((at, h));
        }
        self.tcp.conns.restore(h, sock);
    }

    /// A child leaves its listener's SYN queue (once, whatever the path).
    fn tcp_leave_syn_queue(&mut self, sock: &mut TcpSock) {
        if !core::mem::take(&mut sock.in_syn_queue) {
            return;
        }
        if let Some(l) = sock.listener.and_then(|lh| self.tcp.listeners.get_mut(lh)) {
            l.syn_queue = l.syn_queue.saturating_sub(1);
        }
    }

    fn tcp_enter_time_wait(&mut self, now: Instant, conn: &Connection) {
        let tuple = (conn.local(), conn.remote());
        let rec = conn.time_wait_record(now);
        if self.tcp.time_wait.len() >= self.tcp.max_time_wait {
            // Like Linux's tcp_max_tw_buckets: the record is not kept.
            self.stats.record(Drop::TcpTimeWaitFull);
            return;
        }
        self.tcp.time_wait_expiry.insert((rec.expires(), tuple));
        self.tcp.time_wait.insert(tuple, rec);
    }

    /// The transmit queue drained: let blocked connections send again.
    pub(super) fn tcp_unblock(&mut self, now: Instant) {
        let mut budget = self.tcp.blocked.len();
        while budget > 0 && self.tx_has_room(1) {
            budget -= 1;
            let Some(h) = self.tcp.blocked.pop_front() else { break };
            if let Some(s) = self.tcp.conns.get_mut(h) {
                s.blocked = false;
                self.tcp_service(now, h);
            }
        }
    }

    /// Keep the receive batch open across [`Stack::poll`] and
    /// [`Stack::transmit`] until [`Stack::end_receive_batch`], for a host
    /// loop that runs the application between reading the device and a
    /// last transmit (the executor's round: drive, tasks, flush). The
    /// ACK a batch owes then leaves once, after the application read the
    /// data, carrying the window its reads opened; a window update that a
    /// read makes due while the batch is held joins that ACK instead of
    /// leaving on its own.
    ///
    /// RFC 1122 §4.2.3.2: "A delayed ACK gives the application an
    /// opportunity to update the window and perhaps to send an immediate
    /// response." RFC 9293 §3.8.6.3 bounds the delay: "an ACK SHOULD be
    /// generated for at least every second full-sized segment or 2*RMSS
    /// bytes of new data ... and MUST be generated within 500 ms of the
    /// arrival of the first unacknowledged packet (MUST-40)". The batch
    /// is held for one round of the loop (microseconds: the tasks that
    /// were woken run once); the caller must end it in the same round,
    /// and the delayed-ACK timer stays armed as the bound regardless.
    /// Immediate ACKs (out of order, duplicates, FIN) never wait.
    pub fn hold_receive_batch(&mut self) {
        self.tcp.hold_batch = true;
    }

    /// Whether [`Stack::hold_receive_batch`] holds the batch open.
    pub fn receive_batch_held(&self) -> bool {
        self.tcp.hold_batch
    }

    /// End the receive batch (held or not): every connection that owes an
    /// ACK for it queues one now (see [`Stack::hold_receive_batch`]).
    pub fn end_receive_batch(&mut self) {
        self.tcp.hold_batch = false;
        let now = self.now;
        self.tcp_end_receive_batch(now);
        self.drain_loopback(now);
    }

    /// The receive batch is over: send the ACKs that waited for its end,
    /// one per connection (see [`Connection::set_ack_per_batch`]).
    pub(super) fn tcp_end_receive_batch(&mut self, now: Instant) {
        let batch = core::mem::take(&mut self.tcp.ack_batch);
        for &h in &batch {
            let Some(sock) = self.tcp.conns.get_mut(h) else { continue };
            sock.ack_queued = false;
            if sock.conn.end_receive_batch() | sock.conn.has_unsent() {
                self.tcp_service(now, h);
            }
        }
        // Keep the vector's memory for the next batch.
        let mut batch = batch;
        batch.clear();
        if self.tcp.ack_batch.is_empty() {
            self.tcp.ack_batch = batch;
        }
    }

    /// Timers of every TCP connection and TIME_WAIT record that are due.
    pub(super) fn poll_tcp(&mut self, now: Instant) {
        while let Some(&(at, h)) = self.tcp.timers.first() {
            if at > now {
                break;
            }
            self.tcp.timers.pop_first();
            let Some(sock) = self.tcp.conns.get_mut(h) else { continue };
            sock.timer = None;
            if sock.conn.on_timer(now) == TimerOutcome::Closed {
                self.stats.record(Drop::TcpRetransmitTimeout);
            }
            self.tcp_service(now, h);
        }
        while let Some(&(at, tuple)) = self.tcp.time_wait_expiry.first() {
            if at > now {
                break;
            }
            self.tcp.time_wait_expiry.pop_first();
            if self.tcp.time_wait.get(&tuple).is_some_and(|r| r.expires() == at) {
                self.tcp.time_wait.remove(&tuple);
            }
        }
    }

    /// A TCP segment for us (RFC 9293 §3.10.7, "SEGMENT ARRIVES").
    pub(super) fn process_tcp(&mut self, now: Instant, meta: &Ipv4Meta, payload: &[u8]) {
        self.process_tcp_ip(now, &meta.transport(), payload);
    }

    /// [`Self::process_tcp`] for either family.
    pub(super) fn process_tcp_ip(&mut self, now: Instant, meta: &super::TransportMeta, payload: &[u8]) {
        self.stats.traffic.tcp_in += 1;
        let (src, dst) = (meta.src, meta.dst);
        if meta.broadcast {
            // RFC 9293 §3.9.1... TCP is unicast only; RFC 1122 §4.2.3.10:
            // "A TCP implementation MUST silently discard an incoming SYN
            // segment that is addressed to a broadcast or multicast address."
            self.stats.record(Drop::TcpBroadcast);
            return;
        }
        let Ok(pkt) = TcpPacket::new_checked(payload) else {
            self.stats.record(Drop::TcpMalformed);
            return;
        };
        let seg = match TcpRepr::parse(&pkt, &src, &dst, !meta.csum_valid) {
            Ok(s) => s,
            Err(WireError::BadChecksum) => {
                self.stats.record(Drop::TcpBadChecksum);
                return;
            }
            Err(_) => {
                self.stats.record(Drop::TcpMalformed);
                return;
            }
        };
        let local = SocketAddr::new(dst, seg.dst_port);
        let remote = SocketAddr::new(src, seg.src_port);
        let ce = meta.dscp_ecn & 0b11 == ECN_CE;

        if let Some(h) = self.tcp.find(&(local, remote)) {
            let Some(sock) = self.tcp.conns.get_mut(h) else {
                self.stats.record(Drop::TcpStale);
                return;
            };
            if accept_queue_overflow(sock, &self.tcp.listeners, &seg) {
                self.stats.record(Drop::TcpAcceptQueueFull);
                return;
            }
            let unacked = sock.conn.send_queue();
            let outcome = sock.conn.on_segment(now, &seg, ce, &mut self.tcp.challenge_acks);
            if sock.conn.send_queue() < unacked {
                // New data acknowledged: forward progress (RFC 4861 §7.3.1).
                self.ipv6_forward_progress(now, remote.ip());
            }
            match outcome {
                SegmentOutcome::SendReset(rst) => {
                    self.tcp_emit(now, local, remote, &rst, false);
                }
                SegmentOutcome::Ok | SegmentOutcome::Closed | SegmentOutcome::TimeWait => {}
            }
            self.tcp_service(now, h);
            if let Some(sock) = self.tcp.conns.get_mut(h)
                && !sock.ack_queued
                && sock.conn.ack_waits_for_batch_end()
            {
                sock.ack_queued = true;
                self.tcp.ack_batch.push(h);
            }
            return;
        }

        let mut min_iss = None;
        if let Some(rec) = self.tcp.time_wait.get_mut(&(local, remote)) {
            let expires = rec.expires();
            let action = rec.on_segment(now, &seg);
            let (new_expires, reopen_iss) = (rec.expires(), rec.reopen_iss());
            if new_expires != expires {
                // RFC 9293 §3.10.7.4: a retransmitted FIN restarts the
                // 2 MSL timeout; the index moves with it (one entry per
                // record, however often the peer repeats its FIN).
                self.tcp.time_wait_expiry.remove(&(expires, (local, remote)));
                self.tcp.time_wait_expiry.insert((new_expires, (local, remote)));
            }
            match action {
                TimeWaitAction::Drop => return,
                TimeWaitAction::Ack(reply) | TimeWaitAction::Rst(reply) => {
                    // RFC 5961 §7: replies to blind segments are rate-limited.
                    if self.tcp.challenge_acks.try_take(now) {
                        self.tcp_emit(now, local, remote, &reply, false);
                    }
                    return;
                }
                TimeWaitAction::Reopen => {
                    // RFC 6191 §2: a new SYN whose timestamp (or sequence
                    // number) is above the old incarnation's may reuse it.
                    self.tcp.time_wait.remove(&(local, remote));
                    self.tcp.time_wait_expiry.remove(&(new_expires, (local, remote)));
                    min_iss = Some(reopen_iss);
                }
            }
        }

        if let Some(lh) = self.tcp.find_listener(&local) {
            self.tcp_listen_segment(now, lh, (local, remote), &seg, min_iss);
            return;
        }
        self.stats.record(Drop::TcpNoListener);
        self.tcp_reset_closed(now, local, remote, &seg);
    }

    /// RFC 9293 §3.10.7.1 (CLOSED): "If the incoming segment has the ACK
    /// bit set, the reset takes its sequence number from the ACK field of
    /// the segment, otherwise the reset has sequence number zero and the
    /// ACK field is set to the sum of the sequence number and segment
    /// length of the incoming segment." — and "An incoming segment
    /// containing a RST is discarded."
    fn tcp_reset_closed(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, seg: &TcpRepr<'_>) {
        if let Some(rst) = crate::tcp::reset_for(seg) {
            self.tcp_emit(now, local, remote, &rst, false);
        }
    }

    /// A segment for a listening socket (RFC 9293 §3.10.7.2, LISTEN).
    fn tcp_listen_segment(&mut self, now: Instant, lh: Handle, (local, remote): Tuple, seg: &TcpRepr<'_>, min_iss: Option<TcpSeqNumber>) {
        let f = seg.flags;
        // "first check for an RST: An incoming RST segment could not be
        // valid since it could not have been sent in response to anything
        // sent by this incarnation of the connection. An incoming RST
        // should be ignored."
        if f.contains(TcpFlags::RST) {
            return;
        }
        if f.contains(TcpFlags::ACK) {
            // Perhaps the end of a SYN-cookie handshake (RFC 4987 §3.6).
            if !f.contains(TcpFlags::SYN)
                && let Some(peer_mss) = check_cookie(&self.tcp.cookie_secret, &local, &remote, seg, now)
                && let Some(iss) = seg.ack_number.map(|a| a - 1usize)
            {
                let backlog_room = self.tcp.listeners.get(lh).is_some_and(|l| l.accept_queue.len() < l.backlog);
                if backlog_room && self.tcp.conns.len() < self.tcp.max_connections {
                    let mss = self.tcp_mss_for(now, remote.ip());
                    let ts_offset = timestamp_offset(&self.tcp.isn_secret, local.ip(), remote.ip());
                    let conn = Connection::from_cookie(&self.tcp.config, local, remote, seg, iss, peer_mss, mss, now, ts_offset);
                    self.tcp_insert(now, conn, Some(lh), false);
                    return;
                }
                self.stats.record(if backlog_room {
                    Drop::TcpConnectionLimit
                } else {
                    Drop::TcpAcceptQueueFull
                });
                return;
            }
            // "second check for an ACK: Any acknowledgment is bad if it
            // arrives on a connection still in the LISTEN state. An
            // acceptable reset segment should be formed for any arriving
            // ACK-bearing segment."
            self.stats.record(Drop::TcpNoListener);
            self.tcp_reset_closed(now, local, remote, seg);
            return;
        }
        if !f.contains(TcpFlags::SYN) {
            // "any other control or text-bearing segment ... drop the
            // segment and return."
            self.stats.record(Drop::TcpListenNoSyn);
            return;
        }
        let Some(l) = self.tcp.listeners.get(lh) else { return };
        let syn_room = l.syn_queue < self.tcp.syn_backlog.min(l.backlog.saturating_mul(2)).max(1);
        let mss = self.tcp_mss_for(now, remote.ip());
        if syn_room && self.tcp.conns.len() < self.tcp.max_connections {
            let mut iss = initial_sequence_number(&self.tcp.isn_secret, &local, &remote, now);
            // RFC 1122 §4.2.2.13: a connection reopened from TIME-WAIT must
            // use an ISN "larger than the largest sequence number it used on
            // the previous connection incarnation".
            if let Some(min) = min_iss
                && iss < min
            {
                iss = min;
            }
            let ts_offset = timestamp_offset(&self.tcp.isn_secret, local.ip(), remote.ip());
            let conn = Connection::accept(&self.tcp.config, local, remote, seg, iss, mss, now, ts_offset);
            self.tcp_insert(now, conn, Some(lh), true);
            return;
        }
        // RFC 4987 §3.6: under SYN flood, answer statelessly with a cookie.
        self.stats.record(Drop::TcpSynQueueFull);
        let peer_mss = seg.max_seg_size.unwrap_or(536);
        let cookie = make_cookie(&self.tcp.cookie_secret, &local, &remote, seg.seq_number, peer_mss, now);
        let ts_offset = timestamp_offset(&self.tcp.isn_secret, local.ip(), remote.ip());
        let synack = syn_ack(&self.tcp.config, seg, cookie, mss, now, ts_offset);
        self.tcp_emit(now, local, remote, &synack, false);
    }

    /// Add a connection; `in_syn_queue`: a half-open child counted in its
    /// listener's SYN queue.
    fn tcp_insert(&mut self, now: Instant, mut conn: Connection, listener: Option<Handle>, in_syn_queue: bool) -> Option<Handle> {
        let tuple = (conn.local(), conn.remote());
        // The device hands frames over in batches (`Device::receive_batch`,
        // then `Stack::poll`): one ACK per batch, like one per GRO frame.
        conn.set_ack_per_batch(true);
        let sock = Box::new(TcpSock {
            conn,
            rx_waker: WakerSet::new(),
            tx_waker: WakerSet::new(),
            listener,
            queued: false,
            orphan: false,
            timer: None,
            blocked: false,
            in_syn_queue,
            ack_queued: false,
        });
        let Ok(h) = self.tcp.conns.insert(sock) else {
            self.stats.record(Drop::TcpConnectionLimit);
            return None;
        };
        if in_syn_queue && let Some(l) = listener.and_then(|lh| self.tcp.listeners.get_mut(lh)) {
            l.syn_queue += 1;
        }
        self.tcp.index(tuple, h);
        self.tcp_service(now, h);
        Some(h)
    }

    // ---- socket operations ------------------------------------------------

    /// Listen on `local` with an accept queue of `backlog` connections.
    pub fn tcp_listen(&mut self, local: SocketAddr, backlog: usize) -> Result<Handle> {
        let ip = local.ip();
        if !ip.is_unspecified() && !self.has_address(&ip) {
            return Err(Error::AddressNotAvailable);
        }
        let port = match local.port() {
            0 => self.tcp_ephemeral_port(ip, None)?,
            p if self.tcp.listen_by_local.contains_key(&(ip, p)) => return Err(Error::AddressInUse),
            p => p,
        };
        let local = SocketAddr::new(ip, port);
        let l = Listener {
            local,
            backlog: backlog.clamp(1, MAX_LISTEN_BACKLOG),
            syn_queue: 0,
            accept_queue: VecDeque::new(),
            waker: WakerSet::new(),
        };
        let h = self.tcp.listeners.insert(l).map_err(|_| Error::WouldExceedLimit)?;
        self.tcp.listen_by_local.insert((ip, port), h);
        Ok(h)
    }

    /// The address a listener is bound to.
    pub fn tcp_listener_addr(&self, lh: Handle) -> Result<SocketAddr> {
        self.tcp.listeners.get(lh).map(|l| l.local).ok_or(Error::SocketClosed)
    }

    /// Take an established connection from the accept queue.
    pub fn tcp_accept(&mut self, lh: Handle) -> Result<(Handle, SocketAddr)> {
        let l = self.tcp.listeners.get_mut(lh).ok_or(Error::SocketClosed)?;
        while let Some(h) = l.accept_queue.pop_front() {
            if let Some(s) = self.tcp.conns.get_mut(h) {
                s.listener = None;
                return Ok((h, s.conn.remote()));
            }
        }
        Err(Error::WouldBlock)
    }

    /// Wake `waker` when the listener has a connection to accept.
    pub fn tcp_register_accept(&mut self, lh: Handle, waker: &Waker) {
        match self.tcp.listeners.get_mut(lh) {
            Some(l) if l.accept_queue.is_empty() => l.waker.register(waker),
            _ => waker.wake_by_ref(),
        }
    }

    /// Close a listener; connections not yet accepted are reset.
    pub fn tcp_close_listener(&mut self, now: Instant, lh: Handle) {
        let Some(l) = self.tcp.listeners.remove(lh) else { return };
        self.tcp.listen_by_local.remove(&(l.local.ip(), l.local.port()));
        for h in l.accept_queue {
            self.tcp_abort(now, h);
        }
    }

    /// RFC 6056 §3.3.1 (Algorithm 1): a random ephemeral port such that the
    /// 4-tuple (or, for a listener, the port) is free.
    fn tcp_ephemeral_port(&mut self, ip: IpAddr, remote: Option<SocketAddr>) -> Result<u16> {
        let num = u32::from(EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN) + 1;
        let mut offset = self.rng.range_u32(0, num);
        for _ in 0..num {
            let port = EPHEMERAL_PORT_MIN + offset as u16;
            let local = SocketAddr::new(ip, port);
            let free = match remote {
                Some(r) => {
                    self.tcp.find(&(local, r)).is_none()
                        && !self.tcp.time_wait.contains_key(&(local, r))
                        && !self.tcp.listen_by_local.contains_key(&(ip, port))
                }
                None => !self.tcp.port_in_use(ip, port),
            };
            if free {
                return Ok(port);
            }
            offset = (offset + 1) % num;
        }
        Err(Error::AddressInUse)
    }

    /// Active open towards `remote`; the SYN goes out at once.
    pub fn tcp_connect(&mut self, now: Instant, remote: SocketAddr) -> Result<Handle> {
        self.now = now;
        let src = match remote.ip() {
            IpAddr::V6(dst) => {
                if remote.port() == 0 || dst.is_unspecified() || dst.is_multicast() {
                    return Err(Error::InvalidInput);
                }
                self.route_ipv6(dst)?;
                IpAddr::V6(self.select_ipv6_source(None, dst)?)
            }
            IpAddr::V4(dst) => {
                if remote.port() == 0 || dst.is_unspecified() || dst.is_broadcast() || dst.is_multicast() {
                    return Err(Error::InvalidInput);
                }
                let next = self.route_ipv4(dst)?;
                IpAddr::V4(self.select_ipv4_source(None, dst, next)?)
            }
        };
        if self.tcp.conns.len() >= self.tcp.max_connections {
            return Err(Error::WouldExceedLimit);
        }
        let port = self.tcp_ephemeral_port(src, Some(remote))?;
        let local = SocketAddr::new(src, port);
        let iss = initial_sequence_number(&self.tcp.isn_secret, &local, &remote, now);
        let mss = self.tcp_mss_for(now, remote.ip());
        let ts_offset = timestamp_offset(&self.tcp.isn_secret, local.ip(), remote.ip());
        let conn = Connection::connect(&self.tcp.config, local, remote, iss, mss, now, ts_offset);
        let h = self.tcp_insert(now, conn, None, false).ok_or(Error::WouldExceedLimit)?;
        self.drain_loopback(now);
        Ok(h)
    }

    fn tcp_sock(&mut self, h: Handle) -> Result<&mut TcpSock> {
        self.tcp.conns.get_mut(h).map(|s| &mut **s).ok_or(Error::SocketClosed)
    }

    /// `Ok(true)` once ESTABLISHED (or later), the error if it failed.
    pub fn tcp_is_connected(&mut self, h: Handle) -> Result<bool> {
        let s = self.tcp_sock(h)?;
        if let Some(e) = s.conn.error() {
            return Err(e);
        }
        Ok(!matches!(s.conn.state(), State::SynSent | State::SynReceived | State::Listen))
    }

    /// [`Stack::tcp_send`] with the bytes written in place by `fill` (see
    /// `Connection::send_with`): no copy from a buffer of the caller's.
    pub fn tcp_send_with(&mut self, now: Instant, h: Handle, max: usize, fill: impl FnOnce(&mut [u8]) -> usize) -> Result<usize> {
        self.now = now;
        let n = self.tcp_sock(h)?.conn.send_with(max, fill)?;
        if n > 0 {
            self.tcp_service(now, h);
            self.drain_loopback(now);
        }
        Ok(n)
    }

    /// Copy `data` into the send buffer (as much as fits).
    pub fn tcp_send(&mut self, now: Instant, h: Handle, data: &[u8]) -> Result<usize> {
        self.now = now;
        let n = self.tcp_sock(h)?.conn.send(data)?;
        self.tcp_service(now, h);
        self.drain_loopback(now);
        Ok(n)
    }

    /// Read received data (`Ok(0)`: end of stream).
    pub fn tcp_recv(&mut self, now: Instant, h: Handle, buf: &mut [u8]) -> Result<usize> {
        self.tcp_recv_by(now, h, |c| c.recv(buf))
    }

    /// Lend received data to `f` in place; it returns how many bytes it
    /// consumed (`Ok(0)`: end of stream). See [`Connection::recv_with`].
    pub fn tcp_recv_with(&mut self, now: Instant, h: Handle, f: &mut dyn FnMut(&[u8]) -> usize) -> Result<usize> {
        self.tcp_recv_by(now, h, |c| c.recv_with(f))
    }

    fn tcp_recv_by(&mut self, now: Instant, h: Handle, read: impl FnOnce(&mut Connection) -> Result<usize>) -> Result<usize> {
        self.now = now;
        let sock = self.tcp.conns.get_mut(h).ok_or(Error::SocketClosed)?;
        let n = read(&mut sock.conn)?;
        // A window update the read made due joins the held batch's ACK
        // (see `Stack::hold_receive_batch`).
        if self.tcp.hold_batch && sock.conn.hold_ack_for_batch_end() && !sock.ack_queued {
            sock.ack_queued = true;
            self.tcp.ack_batch.push(h);
        }
        // Reading may open the window: let the connection say so.
        self.tcp_service(now, h);
        self.drain_loopback(now);
        Ok(n)
    }

    /// Bytes a `tcp_send` would take now (`Ok(0)`: the send buffer is
    /// full); the connection's error, or `NotConnected` after a shutdown.
    pub fn tcp_send_space(&mut self, h: Handle) -> Result<usize> {
        let conn = &self.tcp_sock(h)?.conn;
        if let Some(e) = conn.error() {
            return Err(e);
        }
        if !conn.state().sends_data() {
            return Err(Error::NotConnected);
        }
        Ok(conn.send_space())
    }

    /// Bytes written but not yet acknowledged (0: `flush` is done).
    pub fn tcp_unacked(&mut self, h: Handle) -> Result<usize> {
        let s = self.tcp_sock(h)?;
        match (s.conn.unacked_or_unsent(), s.conn.error()) {
            (0, _) => Ok(0),
            (_, Some(e)) => Err(e),
            (n, None) => Ok(n),
        }
    }

    /// Send a FIN after the pending data.
    pub fn tcp_shutdown_write(&mut self, now: Instant, h: Handle) -> Result<()> {
        self.tcp_sock(h)?.conn.shutdown_write(now);
        self.tcp_service(now, h);
        self.drain_loopback(now);
        Ok(())
    }

    /// Graceful close: the handle is gone, the engine finishes the job.
    pub fn tcp_close(&mut self, now: Instant, h: Handle) {
        let Ok(s) = self.tcp_sock(h) else { return };
        let rst = s.conn.close(now);
        let (local, remote) = (s.conn.local(), s.conn.remote());
        s.orphan = true;
        s.rx_waker.clear();
        s.tx_waker.clear();
        // RFC 1122 §4.2.2.13: closing with unread data resets.
        if let Some(rst) = rst {
            self.tcp_emit(now, local, remote, &rst, false);
        }
        self.tcp_service(now, h);
        self.drain_loopback(now);
    }

    /// Reset the connection and forget it.
    pub fn tcp_abort(&mut self, now: Instant, h: Handle) {
        let Ok(s) = self.tcp_sock(h) else { return };
        let (local, remote) = (s.conn.local(), s.conn.remote());
        let rst = s.conn.abort();
        s.orphan = true;
        if let Some(rst) = rst {
            self.tcp_emit(now, local, remote, &rst, false);
        }
        self.tcp_service(now, h);
    }

    /// Wake `waker` when `h` can be read (data, end of stream or error).
    pub fn tcp_register_recv(&mut self, h: Handle, waker: &Waker) {
        match self.tcp.conns.get_mut(h) {
            Some(s) if !s.conn.can_recv() => s.rx_waker.register(waker),
            _ => waker.wake_by_ref(),
        }
    }

    /// Wake `waker` when `h` changes state or can take more data.
    pub fn tcp_register_send(&mut self, h: Handle, waker: &Waker) {
        if let Some(s) = self.tcp.conns.get_mut(h) {
            s.tx_waker.register(waker);
        } else {
            waker.wake_by_ref();
        }
    }

    pub fn tcp_local_addr(&self, h: Handle) -> Result<SocketAddr> {
        self.tcp.conns.get(h).map(|s| s.conn.local()).ok_or(Error::SocketClosed)
    }

    pub fn tcp_peer_addr(&self, h: Handle) -> Result<SocketAddr> {
        self.tcp.conns.get(h).map(|s| s.conn.remote()).ok_or(Error::SocketClosed)
    }

    pub fn tcp_set_nodelay(&mut self, now: Instant, h: Handle, on: bool) -> Result<()> {
        self.tcp_sock(h)?.conn.set_nodelay(on);
        self.tcp_service(now, h);
        Ok(())
    }

    pub fn tcp_set_keepalive(&mut self, now: Instant, h: Handle, ka: Option<crate::tcp::Keepalive>) -> Result<()> {
        self.tcp_sock(h)?.conn.set_keepalive(ka);
        self.tcp_service(now, h);
        Ok(())
    }

    /// Connection details, like `ss -ti`.
    pub fn tcp_info(&self, h: Handle) -> Result<crate::tcp::TcpInfo> {
        self.tcp.conns.get(h).map(|s| s.conn.info()).ok_or(Error::SocketClosed)
    }

    /// Live connections (TIME_WAIT records not included).
    pub fn tcp_connection_count(&self) -> usize {
        self.tcp.conns.len()
    }

    /// TIME_WAIT records held.
    pub fn tcp_time_wait_count(&self) -> usize {
        self.tcp.time_wait.len()
    }

    /// An ICMP error about a segment we sent (RFC 1122 §4.2.3.9) or a new
    /// path MTU.
    pub(super) fn tcp_icmp_error(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, seq: TcpSeqNumber, error: Error) {
        let Some(h) = self.tcp_icmp_target(local, remote, seq) else {
            return;
        };
        if let Some(s) = self.tcp.conns.get_mut(h) {
            s.conn.on_icmp_error(error, now);
        }
        self.tcp_service(now, h);
    }

    /// The live connection an ICMP error quoting a segment `(local,
    /// remote)` with sequence number `seq` concerns; counts the drop when
    /// there is none.
    ///
    /// RFC 5927 §4.1: "TCP SHOULD check that the TCP sequence number
    /// contained in the payload of the ICMP error message is within the
    /// range SND.UNA =< SEG.SEQ < SND.NXT." (Linux counts the others as
    /// OutOfWindowIcmps.) Without it, a blind attacker who guesses the
    /// ports can abort a connection in SYN-SENT or shrink its segments.
    fn tcp_icmp_target(&mut self, local: SocketAddr, remote: SocketAddr, seq: TcpSeqNumber) -> Option<Handle> {
        let Some(h) = self.tcp.find(&(local, remote)) else {
            self.stats.record(if local.is_ipv6() {
                Drop::Icmpv6NoSocket
            } else {
                Drop::Icmpv4NoSocket
            });
            return None;
        };
        if !self.tcp.conns.get(h).is_some_and(|s| s.conn.seq_in_flight(seq)) {
            self.stats.record(Drop::TcpIcmpOutOfWindow);
            return None;
        }
        Some(h)
    }

    /// A Fragmentation Needed (IPv4) or Packet Too Big (IPv6) report of
    /// `mtu` towards `dst`, about a datagram that was a TCP segment
    /// `(local, remote, seq)` when `tcp` is given.
    ///
    /// RFC 5927 §7.2: a forged report can "reduce the throughput of the
    /// connection"; like every ICMP error for TCP it must quote a
    /// connection and a sequence number in flight, else it changes nothing.
    /// Datagram sockets read the path MTU at each send; TCP connections
    /// read it whenever they are serviced (RFC 1191 §6.4: "the TCP layer
    /// ... must ... reduce the size of the segments it sends"): the quoted
    /// connection reacts now, others to that host at their next event.
    pub(super) fn apply_path_mtu_report(
        &mut self,
        now: Instant,
        dst: IpAddr,
        mtu: usize,
        tcp: Option<(SocketAddr, SocketAddr, TcpSeqNumber)>,
    ) {
        let conn = match tcp {
            Some((local, remote, seq)) => match self.tcp_icmp_target(local, remote, seq) {
                Some(h) => Some(h),
                None => return,
            },
            None => None,
        };
        if self.pmtu.update(now, dst, mtu)
            && let Some(h) = conn
        {
            self.tcp_service(now, h);
        }
    }
}

#[cfg(test)]
#[path = "tcp_review_tests.rs"]
mod review_tests;

#[cfg(test)]
#[path = "tcp_ack_batch_tests.rs"]
mod ack_batch_tests;

#[cfg(test)]
#[path = "tcp_tx_buffer_tests.rs"]
mod tx_buffer_tests;

#[cfg(test)]
mod size_tests {
    #[test]
    fn an_idle_connection_record_is_small() {
        // What every connection holds in the slab's box, idle or not
        // (1,256 bytes measured: the TCB and two waker sets; see
        // tests/idle_memory.rs for the whole cost of an idle connection).
        let size = core::mem::size_of::<super::TcpSock>();
        assert!(size <= 1384, "{size}");
    }
}
