//! One simulated Ethernet segment: a point-to-point link (two ports) or a
//! hub (any number of ports, each frame goes to every other port).
//!
//! The path of a frame sent on port `p`:
//!
//! 1. Oversize check: frames longer than `mtu + 14` are dropped (`oversize`).
//! 2. Serialization (only with `bandwidth_bps`): the frame waits behind the
//!    frames port `p` sent before it, then takes `len * 8 / bandwidth`
//!    seconds on the wire. At most `queue_frames` frames may be waiting or
//!    on the wire; a frame that finds the queue full is tail-dropped
//!    (`queue_drops`).
//! 3. Propagation: `latency` plus a jitter uniform in `0..=jitter`. Jitter
//!    never reorders: a frame is never delivered before one its port sent
//!    earlier (as on a real wire); reordering is the `reorder` fault's job.
//! 4. Faults, drawn separately for each receiving port: loss, corruption,
//!    duplication, reordering (see [`crate::FaultConfig`]).
//! 5. The receiving port holds at most `max_in_flight` undelivered frames;
//!    more are dropped (`queue_drops`). A port whose device was dropped
//!    gets nothing (`no_receiver`).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use mnet::{Duration, Instant};

use crate::fault::{ETHERNET_HEADER_LEN, FaultConfig, Ratio, corrupt_one_bit};
use crate::pool::BufferPool;
use crate::rng::SimRng;

/// The default one-way latency of a link.
pub const DEFAULT_LATENCY: Duration = Duration::from_millis(1);
/// The default IP MTU of a link (Ethernet payload bytes).
pub const DEFAULT_MTU: usize = 1500;
/// The default bound of a port's transmit queue (Linux's default
/// `txqueuelen`).
pub const DEFAULT_QUEUE_FRAMES: usize = 1000;
/// The default bound of undelivered frames waiting for one receiving port.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 16_384;

/// How a simulated link behaves, in each direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub latency: Duration,
    /// Extra delay uniform in `0..=jitter`, order-preserving.
    pub jitter: Duration,
    /// Probability that a frame is lost.
    pub loss: Ratio,
    /// Probability that a frame is delivered twice.
    pub duplicate: Ratio,
    /// Probability that a frame is delayed by up to `reorder_delay` more,
    /// so that later frames overtake it.
    pub reorder: Ratio,
    /// Probability that one bit at a byte offset ≥ 14 is flipped.
    pub corrupt: Ratio,
    /// The largest extra delay of a reordered frame.
    pub reorder_delay: Duration,
    /// The IP MTU: frames longer than `mtu + 14` bytes are dropped.
    pub mtu: usize,
    /// Serialization rate in bits per second (`None` or `Some(0)`: no limit).
    /// Frame bytes are counted as given (no preamble, FCS or gap).
    pub bandwidth_bps: Option<u64>,
    /// Frames that may wait for (or be in) serialization on one port; more
    /// are tail-dropped. Only used with `bandwidth_bps`.
    pub queue_frames: usize,
    /// Undelivered frames one receiving port may hold; more are dropped.
    pub max_in_flight: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: DEFAULT_LATENCY,
            jitter: Duration::ZERO,
            loss: Ratio::ZERO,
            duplicate: Ratio::ZERO,
            reorder: Ratio::ZERO,
            corrupt: Ratio::ZERO,
            reorder_delay: crate::fault::DEFAULT_REORDER_DELAY,
            mtu: DEFAULT_MTU,
            bandwidth_bps: None,
            queue_frames: DEFAULT_QUEUE_FRAMES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

impl LinkConfig {
    /// The fault part of this configuration.
    pub fn faults(&self) -> FaultConfig {
        FaultConfig {
            loss: self.loss,
            duplicate: self.duplicate,
            reorder: self.reorder,
            corrupt: self.corrupt,
            reorder_delay: self.reorder_delay,
        }
    }

    /// The longest frame (Ethernet header included) the link carries.
    pub fn max_frame_len(&self) -> usize {
        self.mtu.saturating_add(ETHERNET_HEADER_LEN)
    }
}

/// Identifies a link or hub inside its [`crate::Network`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub(crate) usize);

impl LinkId {
    /// The position of the link in [`crate::Network::stats`].
    pub fn index(self) -> usize {
        self.0
    }
}

/// Counters of one link or hub, both directions together. On a hub a sent
/// frame fans out to several ports, and the fault counters count copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Frames handed to `transmit`.
    pub sent: u64,
    /// Frames (copies) handed to a receiving device.
    pub delivered: u64,
    /// Bytes of the delivered frames.
    pub bytes_delivered: u64,
    /// Copies lost to the `loss` fault.
    pub dropped: u64,
    /// Copies delivered twice.
    pub duplicated: u64,
    /// Copies with one bit flipped.
    pub corrupted: u64,
    /// Copies held back so later frames overtook them.
    pub reordered: u64,
    /// Frames longer than `mtu + 14`, dropped.
    pub oversize: u64,
    /// Frames (copies) dropped because a bounded queue was full.
    pub queue_drops: u64,
    /// Copies not queued because the receiving device was dropped.
    pub no_receiver: u64,
}

/// A frame on its way to one port.
#[derive(Debug)]
struct InFlight {
    at: Instant,
    /// Network-wide send order: ties at the same instant keep it.
    seq: u64,
    frame: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for InFlight {}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// One attachment point of a segment.
#[derive(Debug, Default)]
struct Port {
    /// False once the port's device was dropped: nothing is queued for it.
    detached: bool,
    /// Frames on their way to this port, earliest first.
    incoming: BinaryHeap<Reverse<InFlight>>,
    /// When the wire is free for this port's next frame (nanoseconds).
    busy_until_ns: u64,
    /// Serialization end times (ns) of this port's frames not yet on the
    /// wire completely; bounded by `queue_frames`.
    tx_queue: VecDeque<u64>,
    /// The latest delivery time given to a frame this port sent (jitter
    /// must not reorder).
    last_delivery: Instant,
}

/// A link (two ports) or a hub (n ports) and its state.
#[derive(Debug)]
pub(crate) struct Segment {
    config: LinkConfig,
    rng: SimRng,
    ports: Vec<Port>,
    stats: LinkStats,
}

impl Segment {
    pub fn new(config: LinkConfig, ports: usize, rng: SimRng) -> Self {
        Segment {
            config,
            rng,
            ports: (0..ports).map(|_| Port::default()).collect(),
            stats: LinkStats::default(),
        }
    }

    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: LinkConfig) {
        self.config = config;
    }

    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Send `frame` from port `from` at time `now`.
    pub fn transmit(&mut self, from: usize, frame: &[u8], now: Instant, pool: &mut BufferPool, seq: &mut u64) {
        let Segment { config, rng, ports, stats } = self;
        stats.sent += 1;
        if frame.len() > config.max_frame_len() {
            stats.oversize += 1;
            log::debug!("sim: dropped a {}-byte frame on a link of mtu {}", frame.len(), config.mtu);
            return;
        }
        let Some(port) = ports.get_mut(from) else {
            return;
        };
        let Some(wire_done) = serialize(config, port, frame.len(), now) else {
            stats.queue_drops += 1;
            return;
        };
        let jitter = match u64::try_from(config.jitter.as_micros()) {
            Ok(0) => 0,
            Ok(max) => rng.between(0, max),
            Err(_) => rng.next_u64(),
        };
        let base = (wire_done + config.latency + Duration::from_micros(jitter)).max(port.last_delivery);
        port.last_delivery = base;

        let faults = config.faults();
        for (to, port) in ports.iter_mut().enumerate() {
            if to == from {
                continue;
            }
            if port.detached {
                stats.no_receiver += 1;
                continue;
            }
            let verdict = faults.roll(rng);
            if verdict.drop {
                stats.dropped += 1;
                continue;
            }
            if port.incoming.len() >= config.max_in_flight {
                stats.queue_drops += 1;
                continue;
            }
            let mut copy = pool.copy_of(frame);
            if verdict.corrupt && corrupt_one_bit(&mut copy, rng).is_some() {
                stats.corrupted += 1;
            }
            let at = match verdict.extra_delay {
                Some(extra) => {
                    stats.reordered += 1;
                    base + extra
                }
                None => base,
            };
            if verdict.duplicate && port.incoming.len() + 1 < config.max_in_flight {
                stats.duplicated += 1;
                let twin = pool.copy_of(&copy);
                push(port, at, seq, twin);
            }
            push(port, at, seq, copy);
        }
    }

    /// The earliest delivery time of any frame on this segment.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.ports
            .iter()
            .filter_map(|port| port.incoming.peek().map(|Reverse(f)| f.at))
            .min()
    }

    /// The earliest delivery time strictly after `t` (frames due at or
    /// before `t` that nobody reads do not count).
    pub fn next_delivery_after(&self, t: Instant) -> Option<Instant> {
        self.ports
            .iter()
            .filter_map(|port| match port.incoming.peek() {
                Some(Reverse(first)) if first.at > t => Some(first.at),
                Some(_) => port.incoming.iter().map(|Reverse(f)| f.at).filter(|&at| at > t).min(),
                None => None,
            })
            .min()
    }

    /// The device of `port` is gone: free what waits for it, queue nothing
    /// more.
    pub fn detach(&mut self, port: usize, pool: &mut BufferPool) {
        if let Some(port) = self.ports.get_mut(port) {
            port.detached = true;
            for Reverse(frame) in port.incoming.drain() {
                pool.recycle(frame.frame);
            }
        }
    }

    /// Move up to `max` frames due at `now` for port `port` into `out`, in
    /// delivery order. Returns how many were moved.
    pub fn take_due(&mut self, port: usize, now: Instant, max: usize, out: &mut Vec<Vec<u8>>) -> usize {
        let Some(port) = self.ports.get_mut(port) else {
            return 0;
        };
        let mut moved = 0;
        while moved < max {
            match port.incoming.peek() {
                Some(Reverse(first)) if first.at <= now => {}
                _ => break,
            }
            let Some(Reverse(frame)) = port.incoming.pop() else {
                break;
            };
            self.stats.delivered += 1;
            self.stats.bytes_delivered += frame.frame.len() as u64;
            out.push(frame.frame);
            moved += 1;
        }
        moved
    }

    /// Frames not yet delivered, over all ports.
    pub fn pending(&self) -> usize {
        self.ports.iter().map(|p| p.incoming.len()).sum()
    }
}

fn push(port: &mut Port, at: Instant, seq: &mut u64, frame: Vec<u8>) {
    port.incoming.push(Reverse(InFlight { at, seq: *seq, frame }));
    *seq += 1;
}

/// When a frame of `len` bytes sent at `now` has left the wire, or `None`
/// when the port's queue is full (tail drop).
fn serialize(config: &LinkConfig, port: &mut Port, len: usize, now: Instant) -> Option<Instant> {
    let bps = match config.bandwidth_bps {
        Some(bps) if bps > 0 => bps,
        _ => return Some(now),
    };
    let now_ns = now.total_micros().saturating_mul(1000);
    while port.tx_queue.front().is_some_and(|&done| done <= now_ns) {
        port.tx_queue.pop_front();
    }
    if port.tx_queue.len() >= config.queue_frames {
        return None;
    }
    let bits = u128::from(len as u64) * 8;
    let wire_ns = (bits * 1_000_000_000).div_ceil(u128::from(bps));
    let wire_ns = u64::try_from(wire_ns).unwrap_or(u64::MAX);
    let done_ns = now_ns.max(port.busy_until_ns).saturating_add(wire_ns);
    port.busy_until_ns = done_ns;
    port.tx_queue.push_back(done_ns);
    Some(Instant::from_micros(done_ns.div_ceil(1000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(segment: &mut Segment, port: usize, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        segment.take_due(port, now, usize::MAX, &mut out);
        out
    }

    #[test]
    fn serialization_spaces_frames() {
        // 1 Mbit/s: a 125-byte frame takes exactly 1 ms on the wire.
        let config = LinkConfig {
            latency: Duration::ZERO,
            bandwidth_bps: Some(1_000_000),
            ..LinkConfig::default()
        };
        let mut segment = Segment::new(config, 2, SimRng::new(1));
        let mut pool = BufferPool::default();
        let mut seq = 0;
        for i in 0..3u8 {
            segment.transmit(0, &[i; 125], Instant::ZERO, &mut pool, &mut seq);
        }
        assert_eq!(segment.next_delivery(), Some(Instant::from_millis(1)));
        assert_eq!(drain(&mut segment, 1, Instant::from_micros(999)).len(), 0);
        assert_eq!(drain(&mut segment, 1, Instant::from_millis(1)), vec![vec![0; 125]]);
        assert_eq!(segment.next_delivery(), Some(Instant::from_millis(2)));
        assert_eq!(drain(&mut segment, 1, Instant::from_millis(3)).len(), 2);
        assert_eq!(segment.stats().delivered, 3);
        assert_eq!(segment.stats().bytes_delivered, 375);
    }

    #[test]
    fn jitter_preserves_order() {
        let config = LinkConfig {
            jitter: Duration::from_millis(5),
            ..LinkConfig::default()
        };
        let mut segment = Segment::new(config, 2, SimRng::new(9));
        let mut pool = BufferPool::default();
        let mut seq = 0;
        for i in 0..200u16 {
            let now = Instant::from_micros(u64::from(i) * 100);
            segment.transmit(0, &i.to_be_bytes(), now, &mut pool, &mut seq);
        }
        let got = drain(&mut segment, 1, Instant::from_secs(1));
        let order: Vec<u16> = got.iter().map(|f| u16::from_be_bytes([f[0], f[1]])).collect();
        assert_eq!(order, (0..200).collect::<Vec<u16>>());
    }

    #[test]
    fn bad_port_is_ignored() {
        let mut segment = Segment::new(LinkConfig::default(), 2, SimRng::new(1));
        let mut pool = BufferPool::default();
        let mut seq = 0;
        segment.transmit(7, &[0; 60], Instant::ZERO, &mut pool, &mut seq);
        assert_eq!(segment.pending(), 0);
        assert_eq!(drain(&mut segment, 9, Instant::from_secs(1)).len(), 0);
    }

    #[test]
    fn next_delivery_after_skips_stale_frames() {
        let mut segment = Segment::new(LinkConfig::default(), 3, SimRng::new(1));
        let mut pool = BufferPool::default();
        let mut seq = 0;
        segment.transmit(0, &[0; 60], Instant::ZERO, &mut pool, &mut seq);
        segment.transmit(0, &[0; 60], Instant::from_millis(5), &mut pool, &mut seq);
        assert_eq!(segment.next_delivery(), Some(Instant::from_millis(1)));
        let later = segment.next_delivery_after(Instant::from_millis(2));
        assert_eq!(later, Some(Instant::from_millis(6)));
        assert_eq!(segment.next_delivery_after(Instant::from_millis(6)), None);
    }

    #[test]
    fn detached_ports_get_nothing() {
        let mut segment = Segment::new(LinkConfig::default(), 3, SimRng::new(1));
        let mut pool = BufferPool::default();
        let mut seq = 0;
        segment.transmit(0, &[0; 60], Instant::ZERO, &mut pool, &mut seq);
        assert_eq!(segment.pending(), 2);
        segment.detach(2, &mut pool);
        assert_eq!(segment.pending(), 1);
        segment.transmit(0, &[0; 60], Instant::ZERO, &mut pool, &mut seq);
        assert_eq!(segment.pending(), 2);
        assert_eq!(segment.stats().no_receiver, 1);
        assert_eq!(drain(&mut segment, 1, Instant::from_secs(1)).len(), 2);
    }
}
