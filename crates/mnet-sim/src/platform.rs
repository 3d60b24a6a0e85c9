//! [`SimPlatform`]: mnet's executor [`Platform`] over a virtual network.
//!
//! Waiting does not sleep: it jumps the virtual clock to whichever comes
//! first, the caller's deadline or the next frame delivery on the network.
//! A protocol run of "a few seconds" therefore takes milliseconds.
//!
//! When there is neither a deadline nor a frame in flight, nothing can ever
//! happen again: the simulation is idle. `wait` then records it and returns
//! at once without moving the clock, so the caller can see the hang (by
//! [`SimPlatform::is_idle`] or the counter) instead of spinning forever.
//!
//! Frames that are due but unread make `wait` return at once (the device
//! is readable). If the driver then reads nothing before the next `wait`,
//! those frames are for a port nobody polls, and they no longer hold the
//! clock back: `wait` goes on to the next future event. So the platform
//! assumes its driver reads its devices between two waits.
//!
//! One `SimPlatform` drives one executor. Several stacks in one simulation
//! should run on that one executor: a second executor on another thread
//! would not know this one's deadlines, and the clock could jump past them.

use mnet::Instant;
use mnet::executor::Platform;
use mnet::time::earliest;

use crate::network::Network;

/// Virtual time and virtual sleep over a [`Network`].
#[derive(Debug, Clone)]
pub struct SimPlatform {
    net: Network,
    waits: u64,
    idle_waits: u64,
    idle: bool,
    /// [`Network::frames_delivered`] when the last `wait` returned.
    delivered_at_last_wait: Option<u64>,
}

impl SimPlatform {
    pub fn new(net: Network) -> Self {
        SimPlatform {
            net,
            waits: 0,
            idle_waits: 0,
            idle: false,
            delivered_at_last_wait: None,
        }
    }

    /// The network this platform runs on.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// True if the last `wait` found nothing to wait for.
    pub fn is_idle(&self) -> bool {
        self.idle
    }

    /// How many `wait` calls found nothing to wait for.
    pub fn idle_waits(&self) -> u64 {
        self.idle_waits
    }

    /// How many `wait` calls there were.
    pub fn waits(&self) -> u64 {
        self.waits
    }
}

impl Platform for SimPlatform {
    fn now(&mut self) -> Instant {
        self.net.now()
    }

    fn wait(&mut self, deadline: Option<Instant>) {
        self.waits += 1;
        let now = self.net.now();
        let delivered = self.net.frames_delivered();
        let read_since_last_wait = self.delivered_at_last_wait != Some(delivered);
        self.delivered_at_last_wait = Some(delivered);
        let next = match self.net.next_delivery() {
            // Readable now, and the driver is reading: let it go on.
            Some(t) if t <= now && read_since_last_wait => Some(t),
            // Due but nobody read them: they wake no one.
            Some(t) if t <= now => self.net.next_delivery_after(now),
            other => other,
        };
        match earliest(deadline, next) {
            Some(wake) => {
                self.idle = false;
                // A wake time in the past returns at once: the clock never
                // goes backwards.
                self.net.clock().advance_to(wake);
            }
            None => {
                self.idle = true;
                self.idle_waits += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinkConfig;
    use mnet::link::{Device, FrameMeta};

    #[test]
    fn wait_jumps_to_the_earlier_event() {
        let net = Network::new(1);
        let (mut a, mut b) = net.link(LinkConfig::default());
        let mut platform = SimPlatform::new(net.clone());
        platform.wait(Some(Instant::from_millis(30)));
        assert_eq!(platform.now(), Instant::from_millis(30));
        a.transmit(&FrameMeta::PLAIN, &[0; 60]).unwrap();
        // The frame lands at 31 ms, before the 500 ms deadline.
        platform.wait(Some(Instant::from_millis(500)));
        assert_eq!(platform.now(), Instant::from_millis(31));
        assert!(!platform.is_idle());
        assert_eq!(b.receive_batch(&mut |_, _| {}), 1);
        // A deadline in the past does not move the clock back.
        platform.wait(Some(Instant::from_millis(3)));
        assert_eq!(net.now(), Instant::from_millis(31));
        assert_eq!(platform.waits(), 3);
        assert_eq!(platform.idle_waits(), 0);
    }

    #[test]
    fn unread_frames_do_not_stop_time() {
        let net = Network::new(1);
        let (mut a, _nobody_reads_me) = net.link(LinkConfig::default());
        let mut platform = SimPlatform::new(net.clone());
        a.transmit(&FrameMeta::PLAIN, &[0; 60]).unwrap();
        // The first wait lands on the delivery...
        platform.wait(None);
        assert_eq!(platform.now(), Instant::from_millis(1));
        // ...nobody read it since, so the next one moves on.
        platform.wait(Some(Instant::from_millis(50)));
        assert_eq!(platform.now(), Instant::from_millis(50));
        platform.wait(None);
        assert!(platform.is_idle());
        assert_eq!(platform.now(), Instant::from_millis(50));
    }

    #[test]
    fn full_batches_are_read_before_time_moves() {
        let net = Network::new(1);
        let (mut a, mut b) = net.link(LinkConfig::default());
        let mut platform = SimPlatform::new(net.clone());
        for _ in 0..200 {
            a.transmit(&FrameMeta::PLAIN, &[0; 60]).unwrap();
        }
        platform.wait(None);
        let mut read = 0;
        loop {
            let n = b.receive_batch(&mut |_, _| {});
            if n == 0 {
                break;
            }
            // Every batch is read at the time it arrived.
            assert_eq!(platform.now(), Instant::from_millis(1), "after {read}");
            read += n;
            platform.wait(Some(Instant::from_secs(1)));
        }
        assert_eq!(read, 200);
        assert_eq!(platform.now(), Instant::from_secs(1));
    }

    #[test]
    fn idle_is_recorded_not_spun() {
        let net = Network::new(1);
        let mut platform = SimPlatform::new(net.clone());
        net.clock().advance_to(Instant::from_millis(7));
        platform.wait(None);
        assert!(platform.is_idle());
        assert_eq!(platform.idle_waits(), 1);
        assert_eq!(platform.now(), Instant::from_millis(7));
        platform.wait(Some(Instant::from_secs(5)));
        assert!(!platform.is_idle());
        assert_eq!(platform.now(), Instant::from_secs(5));
    }

    #[test]
    fn five_virtual_seconds_take_no_real_time() {
        let net = Network::new(1);
        let (mut a, mut b) = net.link(LinkConfig::default());
        let mut platform = SimPlatform::new(net.clone());
        let started = std::time::Instant::now();
        let mut pongs = 0;
        // A ping every 10 ms for 5 s, answered by `b`.
        let mut next_ping = Instant::ZERO;
        while platform.now() < Instant::from_secs(5) {
            if platform.now() >= next_ping {
                a.transmit(&FrameMeta::PLAIN, &[1; 60]).unwrap();
                next_ping += mnet::Duration::from_millis(10);
            }
            let mut replies = 0;
            b.receive_batch(&mut |_, _| replies += 1);
            for _ in 0..replies {
                b.transmit(&FrameMeta::PLAIN, &[2; 60]).unwrap();
            }
            pongs += a.receive_batch(&mut |_, f| assert_eq!(f[0], 2));
            platform.wait(Some(next_ping));
        }
        assert_eq!(pongs, 500);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
