//! [`SoftwareTso`]: segmentation and checksum offload in software, around
//! any [`Device`] that has none — so the engine's TSO path runs in the
//! simulator (and on any device) exactly as it runs on a TAP with
//! `IFF_VNET_HDR`.
//!
//! It advertises transmit checksum offload and segmentation up to
//! [`SOFTWARE_TSO_MAX`] bytes; what the engine hands it with offload
//! metadata is split into MSS-sized frames with complete checksums
//! ([`mnet::link::offload::segment_tcp`]) before it reaches the inner
//! device, which sees only plain frames. Received frames pass unchanged.
//!
//! ```
//! use mnet::link::Device;
//! use mnet_sim::{LinkConfig, Network, SoftwareTso};
//! let net = Network::new(1);
//! let (a, _b) = net.link(LinkConfig::default());
//! let a = SoftwareTso::new(a);
//! assert!(a.capabilities().max_gso_size > 0 && a.capabilities().checksum.tx_partial);
//! ```

use std::sync::{Arc, Mutex};

use mnet::link::offload::segment_tcp;
use mnet::link::{Device, DeviceCapabilities, FrameMeta, TxError};

/// The largest super-segment (IP packet) [`SoftwareTso`] accepts.
pub const SOFTWARE_TSO_MAX: usize = 65_535;

/// Counters of a [`SoftwareTso`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TsoStats {
    /// Super-segments the engine handed over.
    pub super_segments: u64,
    /// Frames they became.
    pub pieces: u64,
    /// Frames whose partial checksum was completed (pieces included).
    pub checksums_completed: u64,
    /// Frames refused: metadata that could not be carried out.
    pub refused: u64,
}

/// A device wrapper that splits TCP super-segments in software.
#[derive(Debug)]
pub struct SoftwareTso<D: Device> {
    inner: D,
    scratch: Vec<u8>,
    /// Shared, so a test can read them while a driver owns the device.
    stats: Arc<Mutex<TsoStats>>,
}

impl<D: Device> SoftwareTso<D> {
    pub fn new(inner: D) -> Self {
        SoftwareTso {
            inner,
            scratch: Vec::new(),
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> TsoStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// The counters, readable after the device moved into a driver.
    pub fn stats_handle(&self) -> Arc<Mutex<TsoStats>> {
        self.stats.clone()
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The wrapped device.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

impl<D: Device> Device for SoftwareTso<D> {
    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = self.inner.capabilities();
        caps.checksum.tx_partial = true;
        caps.max_gso_size = SOFTWARE_TSO_MAX;
        caps
    }

    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        self.inner.receive_batch(sink)
    }

    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        if !meta.is_gso() && !meta.needs_csum() {
            return self.inner.transmit(meta, frame);
        }
        let inner = &mut self.inner;
        let mut result = Ok(());
        let split = segment_tcp(meta, frame, &mut self.scratch, &mut |piece| {
            if result.is_ok() {
                result = inner.transmit(&FrameMeta::PLAIN, piece);
            }
        });
        let Ok(mut stats) = self.stats.lock() else {
            return result;
        };
        match split {
            Ok(n) => {
                stats.checksums_completed += n as u64;
                if meta.is_gso() {
                    stats.super_segments += 1;
                    stats.pieces += n as u64;
                }
                result
            }
            Err(_) => {
                stats.refused += 1;
                Err(TxError::Failed)
            }
        }
    }

    fn flush(&mut self) {
        self.inner.flush()
    }
}
