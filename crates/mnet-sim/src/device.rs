//! [`SimDevice`]: one port of a simulated link or hub, as an
//! [`mnet::link::Device`].
//!
//! `transmit` copies the frame into a pooled buffer and schedules it on the
//! link at the clock's current time; `receive_batch` hands over the frames
//! whose delivery time has come, in delivery order. The device never
//! refuses a frame: a full link queue drops it, as a router would, and
//! counts it in [`crate::LinkStats`].
//!
//! The sink runs without the network's lock held, so it may transmit on
//! other devices of the same network (a bridge or a router in a test).

use mnet::link::{ChecksumCaps, Device, DeviceCapabilities, FrameMeta, TxError};

use crate::link::LinkId;
use crate::network::Network;

/// The most frames one `receive_batch` call hands over.
pub const SIM_MAX_BATCH: usize = 64;

/// One port of a simulated link or hub.
#[derive(Debug)]
pub struct SimDevice {
    net: Network,
    link: LinkId,
    port: usize,
    /// Frames taken from the network, waiting for the sink; kept between
    /// calls so its capacity is reused.
    batch: Vec<Vec<u8>>,
}

impl SimDevice {
    pub(crate) fn new(net: Network, link: LinkId, port: usize) -> Self {
        SimDevice {
            net,
            link,
            port,
            batch: Vec::with_capacity(SIM_MAX_BATCH),
        }
    }

    /// The link or hub this device is attached to.
    pub fn link_id(&self) -> LinkId {
        self.link
    }

    /// The port number on that link (0 or 1 for a point-to-point link).
    pub fn port(&self) -> usize {
        self.port
    }

    /// The network this device belongs to.
    pub fn network(&self) -> &Network {
        &self.net
    }
}

impl Drop for SimDevice {
    /// Nobody will read this port again: stop queueing frames for it.
    fn drop(&mut self) {
        self.net.lock().detach(self.link, self.port);
    }
}

impl Device for SimDevice {
    fn capabilities(&self) -> DeviceCapabilities {
        let mtu = self.net.link_config(self.link).map_or(crate::link::DEFAULT_MTU, |c| c.mtu);
        DeviceCapabilities {
            mtu,
            checksum: ChecksumCaps {
                tx_partial: false,
                rx_offload: false,
            },
            max_gso_size: 0,
            rx_coalesce: false,
            max_batch: SIM_MAX_BATCH,
        }
    }

    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        let now = self.net.now();
        // Left over only if a sink panicked half-way through a batch.
        self.batch.clear();
        let taken = self.net.lock().take_due(self.link, self.port, now, SIM_MAX_BATCH, &mut self.batch);
        if taken == 0 {
            return 0;
        }
        for frame in &self.batch {
            sink(&FrameMeta::PLAIN, frame);
        }
        let mut state = self.net.lock();
        for frame in self.batch.drain(..) {
            state.pool.recycle(frame);
        }
        taken
    }

    fn transmit(&mut self, _meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        // The device offers no offloads, so the metadata carries nothing it
        // must act on; a frame that asked for one anyway arrives as sent
        // (with its partial checksum), and the receiver drops it.
        let now = self.net.now();
        self.net.lock().transmit(self.link, self.port, frame, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinkConfig;

    #[test]
    fn batches_are_bounded_and_in_order() {
        let net = Network::new(1);
        let (mut a, mut b) = net.link(LinkConfig::default());
        for i in 0..150u32 {
            let mut f = vec![0u8; 60];
            f[14..18].copy_from_slice(&i.to_be_bytes());
            a.transmit(&FrameMeta::PLAIN, &f).unwrap();
        }
        net.step();
        let mut seen = Vec::new();
        let counts: Vec<usize> = (0..4)
            .map(|_| {
                b.receive_batch(&mut |meta, f| {
                    assert_eq!(*meta, FrameMeta::PLAIN);
                    seen.push(u32::from_be_bytes([f[14], f[15], f[16], f[17]]));
                })
            })
            .collect();
        assert_eq!(counts, vec![64, 64, 22, 0]);
        assert_eq!(seen, (0..150).collect::<Vec<u32>>());
    }

    #[test]
    fn capabilities_have_no_offloads() {
        let net = Network::new(1);
        let (a, b) = net.link(LinkConfig {
            mtu: 9000,
            ..LinkConfig::default()
        });
        let caps = a.capabilities();
        assert_eq!(caps.mtu, 9000);
        assert_eq!(caps.max_gso_size, 0);
        assert!(!caps.checksum.tx_partial && !caps.checksum.rx_offload);
        assert!(!caps.rx_coalesce);
        assert_eq!((a.port(), b.port()), (0, 1));
        assert_eq!(a.link_id(), b.link_id());
    }

    #[test]
    fn sink_may_transmit_on_the_same_network() {
        // A two-port bridge: what arrives on `b` is forwarded out of `c`.
        let net = Network::new(1);
        let (mut a, mut b) = net.link(LinkConfig::default());
        let (mut c, mut d) = net.link(LinkConfig::default());
        a.transmit(&FrameMeta::PLAIN, &[7u8; 60]).unwrap();
        net.step();
        let forwarded = b.receive_batch(&mut |meta, f| c.transmit(meta, f).unwrap());
        assert_eq!(forwarded, 1);
        assert_eq!(net.step(), Some(mnet::Instant::from_millis(2)));
        let mut got = Vec::new();
        d.receive_batch(&mut |_, f| got.push(f.to_vec()));
        assert_eq!(got, vec![vec![7u8; 60]]);
    }
}
