//! [`FaultDevice`]: the simulated link's faults (loss, duplication,
//! reordering, corruption; see [`FaultConfig`]) around any [`Device`], in
//! either direction — for the real TAP device in end-to-end tests, where
//! the kernel has no netem.
//!
//! Reordering holds a frame back: a held received frame is handed over by
//! a later `receive_batch` once the clock has passed its release time; a
//! held transmitted frame goes out on a later `transmit`, `flush` or
//! `receive_batch` call (or [`FaultDevice::release_due`]).
//! [`FaultDevice::next_release`] tells a platform when to wake for them.
//! At most `max_held` frames are held per direction; beyond that a frame
//! the dice chose to reorder passes undelayed.
//!
//! Corruption and offload metadata: a one-bit flip must stay detectable.
//! A received frame loses its `DATA_VALID` mark when corrupted (its
//! checksums were never checked against the flipped bit). A frame whose L4
//! checksum is still partial (`NEEDS_CSUM`) gets its checksum completed
//! first, as a device would, and the flag cleared, so the flip lands after
//! the checksum. Segmentation super-frames (`gso_type` set) are never
//! corrupted (the device below would compute fresh checksums per segment);
//! they count as `corrupt_skipped`.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use mnet::link::device::{VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_NONE};
use mnet::link::{Device, DeviceCapabilities, FrameMeta, TxError};
use mnet::{Duration, Instant};

use crate::fault::{FaultConfig, complete_partial_checksum, corrupt_one_bit};
use crate::pcap::ClockFn;
use crate::pool::BufferPool;
use crate::rng::SimRng;

/// The default bound of frames held back for reordering, per direction.
pub const DEFAULT_MAX_HELD: usize = 1024;

/// Counters of one direction of a [`FaultDevice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirectionStats {
    /// Frames that came through (before faults).
    pub frames: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub corrupted: u64,
    pub reordered: u64,
    /// Frames chosen for corruption that could not be (too short, or an
    /// offload super-frame).
    pub corrupt_skipped: u64,
}

/// Counters of a [`FaultDevice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultStats {
    /// Frames received from the inner device.
    pub rx: DirectionStats,
    /// Frames transmitted to the inner device.
    pub tx: DirectionStats,
}

/// A frame held back for reordering.
#[derive(Debug)]
struct Held {
    at: Instant,
    seq: u64,
    meta: FrameMeta,
    frame: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The state of one direction.
#[derive(Debug)]
struct Direction {
    config: FaultConfig,
    rng: SimRng,
    held: BinaryHeap<Reverse<Held>>,
    stats: DirectionStats,
}

/// What one direction made of a frame: whether to pass it now, hold it,
/// or both, and with which bytes.
struct Fate {
    copies: u8,
    delay: Option<Duration>,
    meta: FrameMeta,
    /// The frame was copied (and damaged) into the scratch buffer.
    damaged: bool,
}

impl Direction {
    fn new(seed: u64, index: u64) -> Self {
        Direction {
            config: FaultConfig::NONE,
            rng: SimRng::derive(seed, index),
            held: BinaryHeap::new(),
            stats: DirectionStats::default(),
        }
    }

    /// Roll the dice for one frame; a damaged copy is left in `scratch`.
    /// `None`: the frame is lost.
    fn decide(&mut self, meta: &FrameMeta, frame: &[u8], scratch: &mut Vec<u8>, max_held: usize) -> Option<Fate> {
        self.stats.frames += 1;
        let verdict = self.config.roll(&mut self.rng);
        if verdict.drop {
            self.stats.dropped += 1;
            return None;
        }
        let mut meta = *meta;
        let mut damaged = false;
        if verdict.corrupt {
            damaged = damage(&mut meta, frame, scratch, &mut self.rng);
            if damaged {
                self.stats.corrupted += 1;
            } else {
                self.stats.corrupt_skipped += 1;
            }
        }
        let copies = if verdict.duplicate {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        let delay = match verdict.extra_delay {
            Some(extra) if self.held.len() + usize::from(copies) <= max_held => {
                self.stats.reordered += 1;
                Some(extra)
            }
            _ => None,
        };
        Some(Fate {
            copies,
            delay,
            meta,
            damaged,
        })
    }

    fn hold(&mut self, at: Instant, seq: &mut u64, meta: FrameMeta, frame: Vec<u8>) {
        self.held.push(Reverse(Held {
            at,
            seq: *seq,
            meta,
            frame,
        }));
        *seq += 1;
    }

    /// The earliest held frame if it is due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<Held> {
        match self.held.peek() {
            Some(Reverse(first)) if first.at <= now => self.held.pop().map(|Reverse(h)| h),
            _ => None,
        }
    }
}

/// Copy `frame` into `scratch` and flip one bit past the Ethernet header,
/// completing a partial checksum first. Returns false (scratch unused)
/// when the frame cannot be corrupted detectably.
fn damage(meta: &mut FrameMeta, frame: &[u8], scratch: &mut Vec<u8>, rng: &mut SimRng) -> bool {
    if meta.gso_type & !VIRTIO_NET_HDR_GSO_ECN != VIRTIO_NET_HDR_GSO_NONE {
        return false;
    }
    scratch.clear();
    scratch.extend_from_slice(frame);
    if meta.needs_csum() {
        let start = usize::from(meta.csum_start);
        let offset = usize::from(meta.csum_offset);
        if !complete_partial_checksum(scratch, start, offset) {
            return false;
        }
        meta.flags &= !VIRTIO_NET_HDR_F_NEEDS_CSUM;
    }
    if corrupt_one_bit(scratch, rng).is_none() {
        return false;
    }
    meta.flags &= !VIRTIO_NET_HDR_F_DATA_VALID;
    true
}

/// Seeded faults around any device, in both directions.
pub struct FaultDevice<D: Device> {
    inner: D,
    rx: Direction,
    tx: Direction,
    clock: ClockFn,
    max_held: usize,
    pool: BufferPool,
    scratch: Vec<u8>,
    seq: u64,
}

impl<D: Device> FaultDevice<D> {
    /// Wrap `inner` with no faults yet (set them with [`Self::with_rx`],
    /// [`Self::with_tx`], [`Self::with_both`]). Receive and transmit draw
    /// from separate streams derived from `seed`.
    pub fn new(inner: D, seed: u64, clock: impl Fn() -> Instant + Send + 'static) -> Self {
        FaultDevice {
            inner,
            rx: Direction::new(seed, 0),
            tx: Direction::new(seed, 1),
            clock: Box::new(clock),
            max_held: DEFAULT_MAX_HELD,
            pool: BufferPool::default(),
            scratch: Vec::new(),
            seq: 0,
        }
    }

    /// Faults for frames received from the inner device.
    pub fn with_rx(mut self, config: FaultConfig) -> Self {
        self.rx.config = config;
        self
    }

    /// Faults for frames transmitted to the inner device.
    pub fn with_tx(mut self, config: FaultConfig) -> Self {
        self.tx.config = config;
        self
    }

    /// The same faults in both directions.
    pub fn with_both(self, config: FaultConfig) -> Self {
        self.with_rx(config).with_tx(config)
    }

    /// Bound the frames held back for reordering, per direction.
    pub fn with_max_held(mut self, max_held: usize) -> Self {
        self.max_held = max_held;
        self
    }

    pub fn set_rx(&mut self, config: FaultConfig) {
        self.rx.config = config;
    }

    pub fn set_tx(&mut self, config: FaultConfig) {
        self.tx.config = config;
    }

    pub fn stats(&self) -> FaultStats {
        FaultStats {
            rx: self.rx.stats,
            tx: self.tx.stats,
        }
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// When the earliest held frame (either direction) is due.
    pub fn next_release(&self) -> Option<Instant> {
        let first = |d: &Direction| d.held.peek().map(|Reverse(h)| h.at);
        mnet::time::earliest(first(&self.rx), first(&self.tx))
    }

    /// Transmit the held frames that are due. Stops at the first frame the
    /// inner device refuses (it stays held).
    pub fn release_due(&mut self) {
        let now = (self.clock)();
        while let Some(held) = self.tx.pop_due(now) {
            match self.inner.transmit(&held.meta, &held.frame) {
                Ok(()) => self.pool.recycle(held.frame),
                Err(TxError::Full) => {
                    self.tx.held.push(Reverse(held));
                    break;
                }
                Err(TxError::Failed) => self.pool.recycle(held.frame),
            }
        }
    }
}

impl<D: Device> Device for FaultDevice<D> {
    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }

    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        self.release_due();
        let now = (self.clock)();
        let mut handed = 0;
        while let Some(held) = self.rx.pop_due(now) {
            sink(&held.meta, &held.frame);
            handed += 1;
            self.pool.recycle(held.frame);
        }
        let FaultDevice {
            inner,
            rx,
            max_held,
            pool,
            scratch,
            seq,
            ..
        } = self;
        inner.receive_batch(&mut |meta, frame| {
            let Some(fate) = rx.decide(meta, frame, scratch, *max_held) else {
                return;
            };
            let bytes: &[u8] = if fate.damaged { scratch } else { frame };
            for _ in 0..fate.copies {
                match fate.delay {
                    Some(extra) => rx.hold(now + extra, seq, fate.meta, pool.copy_of(bytes)),
                    None => {
                        sink(&fate.meta, bytes);
                        handed += 1;
                    }
                }
            }
        });
        handed
    }

    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        self.release_due();
        let now = (self.clock)();
        let Some(fate) = self.tx.decide(meta, frame, &mut self.scratch, self.max_held) else {
            return Ok(());
        };
        let bytes: &[u8] = if fate.damaged { &self.scratch } else { frame };
        if let Some(extra) = fate.delay {
            for _ in 0..fate.copies {
                let copy = self.pool.copy_of(bytes);
                self.tx.hold(now + extra, &mut self.seq, fate.meta, copy);
            }
            return Ok(());
        }
        self.inner.transmit(&fate.meta, bytes)?;
        if fate.copies > 1 {
            // The duplicate is the network's extra: if the device refuses
            // it, it is simply not duplicated.
            let _ = self.inner.transmit(&fate.meta, bytes);
        }
        Ok(())
    }

    fn flush(&mut self) {
        self.release_due();
        self.inner.flush();
    }
}

impl<D: Device + core::fmt::Debug> core::fmt::Debug for FaultDevice<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FaultDevice")
            .field("inner", &self.inner)
            .field("rx", &self.rx.config)
            .field("tx", &self.tx.config)
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ratio, SimClock};
    use std::collections::VecDeque;

    /// A device that records what it transmits and hands out a queue.
    #[derive(Debug, Default)]
    struct Wire {
        incoming: VecDeque<(FrameMeta, Vec<u8>)>,
        sent: Vec<(FrameMeta, Vec<u8>)>,
        full: bool,
    }

    impl Device for Wire {
        fn capabilities(&self) -> DeviceCapabilities {
            DeviceCapabilities::default()
        }
        fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
            let n = self.incoming.len();
            for (meta, frame) in self.incoming.drain(..) {
                sink(&meta, &frame);
            }
            n
        }
        fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
            if self.full {
                return Err(TxError::Full);
            }
            self.sent.push((*meta, frame.to_vec()));
            Ok(())
        }
    }

    fn frame(tag: u32) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[14..18].copy_from_slice(&tag.to_be_bytes());
        f
    }

    fn tag(f: &[u8]) -> u32 {
        u32::from_be_bytes([f[14], f[15], f[16], f[17]])
    }

    fn device(seed: u64, clock: &SimClock) -> FaultDevice<Wire> {
        FaultDevice::new(Wire::default(), seed, clock.source())
    }

    fn receive(dev: &mut FaultDevice<Wire>) -> Vec<(FrameMeta, Vec<u8>)> {
        let mut got = Vec::new();
        let n = dev.receive_batch(&mut |m, f| got.push((*m, f.to_vec())));
        assert_eq!(n, got.len());
        got
    }

    #[test]
    fn no_faults_pass_everything_unchanged() {
        let clock = SimClock::new();
        let mut dev = device(1, &clock);
        dev.inner_mut().incoming.push_back((FrameMeta::PLAIN, frame(1)));
        dev.transmit(&FrameMeta::PLAIN, &frame(2)).unwrap();
        assert_eq!(receive(&mut dev), vec![(FrameMeta::PLAIN, frame(1))]);
        assert_eq!(dev.inner().sent, vec![(FrameMeta::PLAIN, frame(2))]);
        assert_eq!(dev.stats().rx.frames, 1);
        assert_eq!(dev.stats().tx.frames, 1);
    }

    #[test]
    fn tx_loss_ratio() {
        let clock = SimClock::new();
        let mut dev = device(5, &clock).with_tx(FaultConfig {
            loss: Ratio::from_percent(25),
            ..FaultConfig::NONE
        });
        for i in 0..20_000 {
            dev.transmit(&FrameMeta::PLAIN, &frame(i)).unwrap();
        }
        let sent = dev.inner().sent.len();
        assert!((14_600..15_400).contains(&sent), "sent {sent}");
        assert_eq!(dev.stats().tx.dropped as usize, 20_000 - sent);
        assert_eq!(dev.stats().rx, DirectionStats::default());
    }

    #[test]
    fn rx_duplicates() {
        let clock = SimClock::new();
        let mut dev = device(5, &clock).with_rx(FaultConfig {
            duplicate: Ratio::ONE,
            ..FaultConfig::NONE
        });
        for i in 0..3 {
            dev.inner_mut().incoming.push_back((FrameMeta::PLAIN, frame(i)));
        }
        let tags: Vec<u32> = receive(&mut dev).iter().map(|(_, f)| tag(f)).collect();
        assert_eq!(tags, vec![0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn rx_reorder_holds_frames_until_due() {
        let clock = SimClock::new();
        let mut dev = device(9, &clock).with_rx(FaultConfig {
            reorder: Ratio::from_percent(50),
            reorder_delay: Duration::from_millis(1),
            ..FaultConfig::NONE
        });
        let mut tags = Vec::new();
        for i in 0..200u32 {
            clock.advance_to(Instant::from_micros(u64::from(i) * 100));
            dev.inner_mut().incoming.push_back((FrameMeta::PLAIN, frame(i)));
            tags.extend(receive(&mut dev).iter().map(|(_, f)| tag(f)));
        }
        let release = dev.next_release().expect("frames still held");
        clock.advance_to(release + Duration::from_millis(1));
        tags.extend(receive(&mut dev).iter().map(|(_, f)| tag(f)));
        assert_eq!(dev.next_release(), None);
        assert_eq!(tags.len(), 200);
        assert!(tags.windows(2).filter(|w| w[0] > w[1]).count() > 20);
        let mut sorted = tags.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..200).collect::<Vec<u32>>());
    }

    #[test]
    fn tx_reorder_releases_on_flush_and_respects_backpressure() {
        let clock = SimClock::new();
        let mut dev = device(3, &clock).with_tx(FaultConfig {
            reorder: Ratio::ONE,
            reorder_delay: Duration::from_micros(500),
            ..FaultConfig::NONE
        });
        dev.transmit(&FrameMeta::PLAIN, &frame(1)).unwrap();
        assert!(dev.inner().sent.is_empty());
        let due = dev.next_release().unwrap();
        assert!(due > Instant::ZERO && due <= Instant::from_micros(500));
        clock.advance_to(due);
        dev.inner_mut().full = true;
        dev.flush();
        assert!(dev.inner().sent.is_empty());
        assert_eq!(dev.next_release(), Some(due));
        dev.inner_mut().full = false;
        dev.flush();
        assert_eq!(dev.inner().sent, vec![(FrameMeta::PLAIN, frame(1))]);
        assert_eq!(dev.stats().tx.reordered, 1);
    }

    #[test]
    fn held_frames_are_bounded() {
        let clock = SimClock::new();
        let mut dev = device(3, &clock)
            .with_tx(FaultConfig {
                reorder: Ratio::ONE,
                ..FaultConfig::NONE
            })
            .with_max_held(4);
        for i in 0..10 {
            dev.transmit(&FrameMeta::PLAIN, &frame(i)).unwrap();
        }
        assert_eq!(dev.stats().tx.reordered, 4);
        assert_eq!(dev.inner().sent.len(), 6);
    }

    #[test]
    fn rx_corruption_clears_data_valid() {
        let clock = SimClock::new();
        let mut dev = device(3, &clock).with_rx(FaultConfig {
            corrupt: Ratio::ONE,
            ..FaultConfig::NONE
        });
        let meta = FrameMeta {
            flags: VIRTIO_NET_HDR_F_DATA_VALID,
            ..FrameMeta::PLAIN
        };
        for i in 0..100 {
            dev.inner_mut().incoming.push_back((meta, frame(i)));
        }
        for (i, (meta, got)) in receive(&mut dev).into_iter().enumerate() {
            assert!(!meta.checksum_valid());
            let original = frame(i as u32);
            let bits: u32 = got.iter().zip(&original).map(|(a, b)| (a ^ b).count_ones()).sum();
            assert_eq!(bits, 1);
            assert_eq!(got[..14], original[..14]);
        }
        assert_eq!(dev.stats().rx.corrupted, 100);
    }

    #[test]
    fn tx_corruption_completes_partial_checksum_and_skips_gso() {
        let clock = SimClock::new();
        let mut dev = device(3, &clock).with_tx(FaultConfig {
            corrupt: Ratio::ONE,
            ..FaultConfig::NONE
        });
        let partial = FrameMeta {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 6,
            ..FrameMeta::PLAIN
        };
        let mut original = vec![0x5au8; 80];
        original[40..42].copy_from_slice(&0x1234u16.to_be_bytes());
        dev.transmit(&partial, &original).unwrap();
        let (meta, sent) = dev.inner().sent[0].clone();
        assert!(!meta.needs_csum());
        let mut completed = original.clone();
        assert!(complete_partial_checksum(&mut completed, 34, 6));
        let bits: u32 = sent.iter().zip(&completed).map(|(a, b)| (a ^ b).count_ones()).sum();
        assert_eq!(bits, 1);

        let gso = FrameMeta {
            gso_type: mnet::link::device::VIRTIO_NET_HDR_GSO_TCPV4,
            gso_size: 1448,
            ..partial
        };
        dev.transmit(&gso, &original).unwrap();
        assert_eq!(dev.inner().sent[1], (gso, original));
        assert_eq!(dev.stats().tx.corrupted, 1);
        assert_eq!(dev.stats().tx.corrupt_skipped, 1);
    }

    #[test]
    fn same_seed_same_faults() {
        let run = |seed| {
            let clock = SimClock::new();
            let mut dev = device(seed, &clock).with_both(FaultConfig {
                loss: Ratio::from_percent(10),
                duplicate: Ratio::from_percent(10),
                reorder: Ratio::from_percent(10),
                corrupt: Ratio::from_percent(10),
                reorder_delay: Duration::from_micros(300),
            });
            let mut log = Vec::new();
            for i in 0..1000 {
                clock.advance_to(Instant::from_micros(u64::from(i) * 50));
                dev.transmit(&FrameMeta::PLAIN, &frame(i)).unwrap();
                dev.inner_mut().incoming.push_back((FrameMeta::PLAIN, frame(i)));
                log.extend(receive(&mut dev).into_iter().map(|(_, f)| f));
            }
            (log, dev.inner().sent.clone(), dev.stats())
        };
        let (a, b) = (run(17), run(17));
        assert_eq!(a, b);
        assert_ne!(a.0, run(18).0);
        assert!(a.2.rx.corrupted > 50 && a.2.tx.reordered > 50);
    }
}
