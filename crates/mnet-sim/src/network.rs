//! The virtual network: every link and hub of one simulation, one shared
//! virtual clock and one seed.
//!
//! A [`Network`] is a cheap-clone handle (`Arc<Mutex<..>>`, `Send + Sync`).
//! Devices made by [`Network::link`] and [`Network::hub`] keep a handle, so
//! the network lives as long as any of them. Every random decision comes
//! from a generator derived from the seed and the link's index: the same
//! seed and the same sequence of calls give the same run.

use std::sync::{Arc, Mutex, MutexGuard};

use mnet::Instant;

use crate::clock::SimClock;
use crate::device::SimDevice;
use crate::link::{LinkConfig, LinkId, LinkStats, Segment};
use crate::pool::BufferPool;
use crate::rng::SimRng;

/// A shared handle on a virtual network.
#[derive(Debug, Clone)]
pub struct Network {
    clock: SimClock,
    inner: Arc<Mutex<NetworkState>>,
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct NetworkState {
    seed: u64,
    links: Vec<Segment>,
    pub(crate) pool: BufferPool,
    /// Send order across the whole network, to break delivery-time ties.
    next_seq: u64,
    /// Frames handed to devices so far, over the whole network.
    delivered: u64,
}

impl NetworkState {
    pub(crate) fn segment(&self, link: LinkId) -> Option<&Segment> {
        self.links.get(link.0)
    }

    /// Send `frame` from `port` of `link` at `now`.
    pub(crate) fn transmit(&mut self, link: LinkId, port: usize, frame: &[u8], now: Instant) {
        let NetworkState { links, pool, next_seq, .. } = self;
        if let Some(segment) = links.get_mut(link.0) {
            segment.transmit(port, frame, now, pool, next_seq);
        }
    }

    /// Move up to `max` frames due for `port` of `link` into `out`.
    pub(crate) fn take_due(&mut self, link: LinkId, port: usize, now: Instant, max: usize, out: &mut Vec<Vec<u8>>) -> usize {
        let taken = match self.links.get_mut(link.0) {
            Some(segment) => segment.take_due(port, now, max, out),
            None => 0,
        };
        self.delivered += taken as u64;
        taken
    }

    /// The device of `port` on `link` was dropped.
    pub(crate) fn detach(&mut self, link: LinkId, port: usize) {
        let NetworkState { links, pool, .. } = self;
        if let Some(segment) = links.get_mut(link.0) {
            segment.detach(port, pool);
        }
    }
}

impl Network {
    /// An empty network whose clock starts at [`Instant::ZERO`] and whose
    /// faults are drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Network::with_clock(seed, SimClock::new())
    }

    /// An empty network on an existing clock.
    pub fn with_clock(seed: u64, clock: SimClock) -> Self {
        Network {
            clock,
            inner: Arc::new(Mutex::new(NetworkState {
                seed,
                links: Vec::new(),
                pool: BufferPool::default(),
                next_seq: 0,
                delivered: 0,
            })),
        }
    }

    /// The network's virtual clock (a clone shares the same time).
    pub fn clock(&self) -> SimClock {
        self.clock.clone()
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// A point-to-point link: what one device transmits, the other
    /// receives, with `config` applied in each direction.
    pub fn link(&self, config: LinkConfig) -> (SimDevice, SimDevice) {
        let link = self.add_segment(2, config);
        (SimDevice::new(self.clone(), link, 0), SimDevice::new(self.clone(), link, 1))
    }

    /// A shared segment with `ports` devices: every frame a device
    /// transmits goes to every other device (so broadcast works among
    /// three or more stacks). Faults are drawn for each receiving port.
    pub fn hub(&self, ports: usize, config: LinkConfig) -> Vec<SimDevice> {
        let link = self.add_segment(ports, config);
        (0..ports).map(|port| SimDevice::new(self.clone(), link, port)).collect()
    }

    fn add_segment(&self, ports: usize, config: LinkConfig) -> LinkId {
        let mut state = self.lock();
        let id = LinkId(state.links.len());
        let rng = SimRng::derive(state.seed, id.0 as u64);
        state.links.push(Segment::new(config, ports, rng));
        id
    }

    /// The earliest time at which some frame becomes deliverable (it may be
    /// in the past if a device has not read it yet), or `None` when
    /// nothing is in flight.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.lock().links.iter().filter_map(Segment::next_delivery).min()
    }

    /// The earliest delivery strictly after `t`: frames already due that
    /// no device reads (a port nobody polls) are left out.
    pub fn next_delivery_after(&self, t: Instant) -> Option<Instant> {
        self.lock().links.iter().filter_map(|segment| segment.next_delivery_after(t)).min()
    }

    /// Frames handed to devices so far, over the whole network (a driver
    /// that reads nothing between two waits leaves it unchanged).
    pub fn frames_delivered(&self) -> u64 {
        self.lock().delivered
    }

    /// Advance the clock to the next delivery if that is in the future.
    /// Returns the delivery time, or `None` when nothing is in flight.
    pub fn step(&self) -> Option<Instant> {
        let next = self.next_delivery()?;
        self.clock.advance_to(next);
        Some(next)
    }

    /// Counters of every link and hub, indexed by [`LinkId::index`].
    pub fn stats(&self) -> Vec<LinkStats> {
        self.lock().links.iter().map(Segment::stats).collect()
    }

    /// Counters of one link or hub.
    pub fn link_stats(&self, link: LinkId) -> Option<LinkStats> {
        self.lock().segment(link).map(Segment::stats)
    }

    /// The configuration of a link or hub.
    pub fn link_config(&self, link: LinkId) -> Option<LinkConfig> {
        self.lock().segment(link).map(|s| *s.config())
    }

    /// Change a link's behaviour from now on (frames in flight keep their
    /// delivery times). Returns false if there is no such link.
    pub fn set_link_config(&self, link: LinkId, config: LinkConfig) -> bool {
        match self.lock().links.get_mut(link.0) {
            Some(segment) => {
                segment.set_config(config);
                true
            }
            None => false,
        }
    }

    /// Frames transmitted but not yet read, over the whole network.
    pub fn pending_frames(&self) -> usize {
        self.lock().links.iter().map(Segment::pending).sum()
    }

    /// How many frame buffers the network has allocated so far (the pool
    /// recycles them; a steady flow stops allocating).
    pub fn buffer_allocations(&self) -> u64 {
        self.lock().pool.allocations()
    }

    /// Lock the shared state. A panic in another thread while it held the
    /// lock leaves plain counters and queues behind, which stay usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, NetworkState> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Ratio;
    use mnet::Duration;
    use mnet::link::{Device, FrameMeta};

    fn frame(tag: u32, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[..6].copy_from_slice(&[0xff; 6]);
        f[14..18].copy_from_slice(&tag.to_be_bytes());
        f
    }

    fn tag(f: &[u8]) -> u32 {
        u32::from_be_bytes([f[14], f[15], f[16], f[17]])
    }

    fn receive_all(dev: &mut SimDevice) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while dev.receive_batch(&mut |_, f| got.push(f.to_vec())) > 0 {}
        got
    }

    #[test]
    fn delivery_latency_is_exact() {
        let net = Network::new(1);
        let config = LinkConfig {
            latency: Duration::from_micros(2_345),
            ..LinkConfig::default()
        };
        let (mut a, mut b) = net.link(config);
        net.clock().advance_to(Instant::from_millis(10));
        a.transmit(&FrameMeta::PLAIN, &frame(1, 60)).unwrap();
        let expected = Instant::from_micros(12_345);
        assert_eq!(net.next_delivery(), Some(expected));
        net.clock().advance_to(Instant::from_micros(12_344));
        assert!(receive_all(&mut b).is_empty());
        assert!(receive_all(&mut a).is_empty());
        assert_eq!(net.step(), Some(expected));
        assert_eq!(net.now(), expected);
        assert_eq!(receive_all(&mut b), vec![frame(1, 60)]);
        assert_eq!(net.next_delivery(), None);
        assert_eq!(net.step(), None);
        // And the other direction.
        b.transmit(&FrameMeta::PLAIN, &frame(2, 60)).unwrap();
        assert_eq!(net.step(), Some(expected + Duration::from_micros(2_345)));
        assert_eq!(receive_all(&mut a), vec![frame(2, 60)]);
        let stats = net.link_stats(a.link_id()).unwrap();
        assert_eq!((stats.sent, stats.delivered), (2, 2));
    }

    #[test]
    fn loss_ratio_is_roughly_right() {
        let net = Network::new(2024);
        let (mut a, mut b) = net.link(LinkConfig {
            loss: Ratio::from_percent(20),
            ..LinkConfig::default()
        });
        let f = frame(0, 64);
        let mut received = 0usize;
        for _ in 0..100 {
            for _ in 0..1000 {
                a.transmit(&FrameMeta::PLAIN, &f).unwrap();
            }
            net.step();
            received += receive_all(&mut b).len();
        }
        assert!((79_000..81_000).contains(&received), "received {received}");
        let stats = net.stats()[0];
        assert_eq!(stats.sent, 100_000);
        assert_eq!(stats.dropped + stats.delivered, 100_000);
        assert_eq!(stats.delivered as usize, received);
        // 100k frames through a pool: buffers were recycled.
        assert!(net.buffer_allocations() <= 1000, "{}", net.buffer_allocations());
    }

    #[test]
    fn duplicates_arrive_twice() {
        let net = Network::new(5);
        let (mut a, mut b) = net.link(LinkConfig {
            duplicate: Ratio::ONE,
            ..LinkConfig::default()
        });
        for i in 0..3 {
            a.transmit(&FrameMeta::PLAIN, &frame(i, 60)).unwrap();
        }
        net.step();
        let tags: Vec<u32> = receive_all(&mut b).iter().map(|f| tag(f)).collect();
        assert_eq!(tags, vec![0, 0, 1, 1, 2, 2]);
        assert_eq!(net.stats()[0].duplicated, 3);
    }

    #[test]
    fn reorder_reorders() {
        let net = Network::new(77);
        let (mut a, mut b) = net.link(LinkConfig {
            reorder: Ratio::from_percent(30),
            reorder_delay: Duration::from_millis(2),
            ..LinkConfig::default()
        });
        for i in 0..1000u32 {
            net.clock().advance_to(Instant::from_micros(u64::from(i) * 10));
            a.transmit(&FrameMeta::PLAIN, &frame(i, 60)).unwrap();
        }
        let mut tags = Vec::new();
        while net.step().is_some() {
            tags.extend(receive_all(&mut b).iter().map(|f| tag(f)));
        }
        assert_eq!(tags.len(), 1000);
        let inversions = tags.windows(2).filter(|w| w[0] > w[1]).count();
        assert!(inversions > 100, "only {inversions} inversions");
        let mut sorted = tags.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
        let reordered = net.stats()[0].reordered;
        assert!((250..350).contains(&reordered), "reordered {reordered}");
    }

    #[test]
    fn corrupt_flips_one_bit_past_ethernet_header() {
        let net = Network::new(8);
        let (mut a, mut b) = net.link(LinkConfig {
            corrupt: Ratio::ONE,
            ..LinkConfig::default()
        });
        let original = frame(42, 100);
        for _ in 0..500 {
            a.transmit(&FrameMeta::PLAIN, &original).unwrap();
        }
        net.step();
        let got = receive_all(&mut b);
        assert_eq!(got.len(), 500);
        let mut offsets = std::collections::HashSet::new();
        for f in &got {
            let diff: Vec<usize> = (0..100).filter(|&i| f[i] != original[i]).collect();
            assert_eq!(diff.len(), 1);
            assert!(diff[0] >= 14);
            assert_eq!((f[diff[0]] ^ original[diff[0]]).count_ones(), 1);
            offsets.insert(diff[0]);
        }
        assert!(offsets.len() > 50, "offsets spread: {}", offsets.len());
        assert_eq!(net.stats()[0].corrupted, 500);
    }

    #[test]
    fn oversize_frames_are_dropped() {
        let net = Network::new(1);
        let (mut a, mut b) = net.link(LinkConfig {
            mtu: 100,
            ..LinkConfig::default()
        });
        assert_eq!(a.capabilities().mtu, 100);
        a.transmit(&FrameMeta::PLAIN, &frame(1, 115)).unwrap();
        a.transmit(&FrameMeta::PLAIN, &frame(2, 114)).unwrap();
        net.step();
        let got = receive_all(&mut b);
        assert_eq!(got.len(), 1);
        assert_eq!(tag(&got[0]), 2);
        assert_eq!(net.stats()[0].oversize, 1);
    }

    #[test]
    fn hub_delivers_to_every_other_port() {
        let net = Network::new(3);
        let mut ports = net.hub(4, LinkConfig::default());
        ports[1].transmit(&FrameMeta::PLAIN, &frame(9, 60)).unwrap();
        net.step();
        for (i, port) in ports.iter_mut().enumerate() {
            let got = receive_all(port);
            if i == 1 {
                assert!(got.is_empty());
            } else {
                assert_eq!(got, vec![frame(9, 60)], "port {i}");
            }
        }
        let stats = net.stats()[0];
        assert_eq!((stats.sent, stats.delivered), (1, 3));
    }

    #[test]
    fn links_are_independent() {
        let net = Network::new(3);
        let (mut a, _b) = net.link(LinkConfig::default());
        let (_c, mut d) = net.link(LinkConfig::default());
        a.transmit(&FrameMeta::PLAIN, &frame(1, 60)).unwrap();
        net.step();
        assert!(receive_all(&mut d).is_empty());
        assert_eq!(net.stats().len(), 2);
        assert_eq!(net.pending_frames(), 1);
    }

    /// Run a faulty exchange and record every delivery (time, frame).
    fn faulty_run(seed: u64) -> (Vec<(Instant, Vec<u8>)>, Vec<LinkStats>) {
        let net = Network::new(seed);
        let config = LinkConfig {
            latency: Duration::from_micros(500),
            jitter: Duration::from_micros(300),
            loss: Ratio::from_percent(10),
            duplicate: Ratio::from_percent(5),
            reorder: Ratio::from_percent(10),
            corrupt: Ratio::from_percent(5),
            bandwidth_bps: Some(100_000_000),
            ..LinkConfig::default()
        };
        let (mut a, mut b) = net.link(config);
        let mut hub = net.hub(3, config);
        let mut log = Vec::new();
        for i in 0..2000u32 {
            net.clock().advance_to(Instant::from_micros(u64::from(i) * 37));
            a.transmit(&FrameMeta::PLAIN, &frame(i, 60 + (i as usize % 900))).unwrap();
            hub[0].transmit(&FrameMeta::PLAIN, &frame(i, 60)).unwrap();
            for dev in std::iter::once(&mut b).chain(hub.iter_mut()) {
                dev.receive_batch(&mut |_, f| log.push((net.now(), f.to_vec())));
            }
        }
        while net.step().is_some() {
            for dev in std::iter::once(&mut b).chain(hub.iter_mut()) {
                dev.receive_batch(&mut |_, f| log.push((net.now(), f.to_vec())));
            }
        }
        (log, net.stats())
    }

    #[test]
    fn same_seed_same_run() {
        let (log1, stats1) = faulty_run(1234);
        let (log2, stats2) = faulty_run(1234);
        let (log3, _) = faulty_run(4321);
        assert!(log1.len() > 3000);
        assert_eq!(log1, log2);
        assert_eq!(stats1, stats2);
        assert_ne!(log1, log3);
        for stats in &stats1 {
            assert!(stats.dropped > 0 && stats.duplicated > 0);
            assert!(stats.corrupted > 0 && stats.reordered > 0);
        }
    }

    #[test]
    fn bandwidth_queue_is_bounded() {
        let net = Network::new(1);
        // 1 Mbit/s: a 1250-byte frame takes 10 ms; queue of 5 frames.
        let (mut a, mut b) = net.link(LinkConfig {
            bandwidth_bps: Some(1_000_000),
            queue_frames: 5,
            ..LinkConfig::default()
        });
        for i in 0..20 {
            a.transmit(&FrameMeta::PLAIN, &frame(i, 1250)).unwrap();
        }
        let stats = net.stats()[0];
        assert_eq!(stats.queue_drops, 15);
        // The first frame is off the wire after 10 ms and arrives 1 ms later.
        assert_eq!(net.next_delivery(), Some(Instant::from_millis(11)));
        // After 20 ms two frames left the queue: two more fit.
        net.clock().advance_to(Instant::from_millis(20));
        for i in 20..25 {
            a.transmit(&FrameMeta::PLAIN, &frame(i, 1250)).unwrap();
        }
        assert_eq!(net.stats()[0].queue_drops, 18);
        let mut tags = Vec::new();
        while net.step().is_some() {
            tags.extend(receive_all(&mut b).iter().map(|f| tag(f)));
        }
        assert_eq!(tags, vec![0, 1, 2, 3, 4, 20, 21]);
        // The last one left the wire at 70 ms.
        assert_eq!(net.now(), Instant::from_millis(71));
    }

    #[test]
    fn in_flight_is_bounded() {
        let net = Network::new(1);
        let (mut a, mut b) = net.link(LinkConfig {
            max_in_flight: 10,
            ..LinkConfig::default()
        });
        for i in 0..25 {
            a.transmit(&FrameMeta::PLAIN, &frame(i, 60)).unwrap();
        }
        assert_eq!(net.pending_frames(), 10);
        assert_eq!(net.stats()[0].queue_drops, 15);
        net.step();
        assert_eq!(receive_all(&mut b).len(), 10);
    }

    #[test]
    fn dropped_devices_receive_nothing() {
        let net = Network::new(1);
        let mut ports = net.hub(3, LinkConfig::default());
        ports[0].transmit(&FrameMeta::PLAIN, &frame(1, 60)).unwrap();
        assert_eq!(net.pending_frames(), 2);
        drop(ports.pop());
        assert_eq!(net.pending_frames(), 1);
        ports[0].transmit(&FrameMeta::PLAIN, &frame(2, 60)).unwrap();
        assert_eq!(net.pending_frames(), 2);
        assert_eq!(net.stats()[0].no_receiver, 1);
        net.step();
        assert_eq!(receive_all(&mut ports[1]).len(), 2);
        assert_eq!(net.frames_delivered(), 2);
    }

    #[test]
    fn config_can_change_live() {
        let net = Network::new(1);
        let (mut a, mut b) = net.link(LinkConfig::default());
        let id = a.link_id();
        let mut config = net.link_config(id).unwrap();
        config.loss = Ratio::ONE;
        assert!(net.set_link_config(id, config));
        a.transmit(&FrameMeta::PLAIN, &frame(1, 60)).unwrap();
        assert_eq!(net.step(), None);
        assert!(receive_all(&mut b).is_empty());
        assert_eq!(net.stats()[0].dropped, 1);
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Network>();
        check::<SimDevice>();
    }
}
