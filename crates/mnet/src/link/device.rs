//! The device contract: what a platform (TAP, virtio-net, the in-memory
//! network) offers the engine.
//!
//! Frames are Ethernet II frames without FCS. Each frame travels with a
//! [`FrameMeta`] that has exactly the semantics of the virtio-net header
//! (`struct virtio_net_hdr`, virtio spec §5.1.6), because TAP with
//! `IFF_VNET_HDR` and virtio-net both speak it: one offload path serves the
//! host and the unikernel.
//!
//! Devices work in batches: [`Device::receive_batch`] hands over every frame
//! that is ready (up to a bound the device picks), and
//! [`Device::transmit`] may refuse a frame with [`TxError::Full`], which is
//! back-pressure: the engine keeps the frame and tries again later.

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the L4 checksum is partial (pseudo-header
/// sum only); complete it over `csum_start..` and store at
/// `csum_start + csum_offset`.
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the device already validated the checksums.
pub const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;

/// `VIRTIO_NET_HDR_GSO_NONE`.
pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`.
pub const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_UDP`.
pub const VIRTIO_NET_HDR_GSO_UDP: u8 = 3;
/// `VIRTIO_NET_HDR_GSO_TCPV6`.
pub const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_ECN` (flag or-ed into `gso_type`).
pub const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// Per-frame offload metadata with virtio-net header semantics.
/// The all-zero value means "a plain, complete frame".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameMeta {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl FrameMeta {
    /// A complete frame with valid checksums and no segmentation.
    pub const PLAIN: FrameMeta = FrameMeta {
        flags: 0,
        gso_type: VIRTIO_NET_HDR_GSO_NONE,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    /// The device (or the kernel behind a TAP) already validated checksums.
    pub fn checksum_valid(&self) -> bool {
        self.flags & VIRTIO_NET_HDR_F_DATA_VALID != 0
    }

    /// The L4 checksum holds only the pseudo-header sum.
    pub fn needs_csum(&self) -> bool {
        self.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0
    }
}

/// Which checksums a device computes or verifies for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChecksumCaps {
    /// On transmit the device completes L4 checksums given
    /// `VIRTIO_NET_HDR_F_NEEDS_CSUM` metadata.
    pub tx_partial: bool,
    /// On receive the device may mark frames `DATA_VALID` / `NEEDS_CSUM`.
    pub rx_offload: bool,
}

/// What a device can do. The engine reads it once at attach time and when
/// the platform says it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceCapabilities {
    /// The IP MTU of the link (Ethernet payload size), e.g. 1500.
    pub mtu: usize,
    pub checksum: ChecksumCaps,
    /// The largest TCP segment (headers included) the device accepts with
    /// gso metadata; 0 when it cannot segment.
    pub max_gso_size: usize,
    /// The device may deliver coalesced (GRO) frames larger than the MTU.
    pub rx_coalesce: bool,
    /// How many frames the platform moves per wakeup at most.
    pub max_batch: usize,
}

impl Default for DeviceCapabilities {
    fn default() -> Self {
        DeviceCapabilities {
            mtu: 1500,
            checksum: ChecksumCaps::default(),
            max_gso_size: 0,
            rx_coalesce: false,
            max_batch: 64,
        }
    }
}

/// Why a device did not take a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxError {
    /// The transmit queue is full: back-pressure, retry later.
    Full,
    /// The device failed for good (link gone).
    Failed,
}

/// A network device as the engine's driver loop sees it.
pub trait Device {
    fn capabilities(&self) -> DeviceCapabilities;

    /// Hand every ready frame (up to `capabilities().max_batch`) to `sink`,
    /// which must not keep the slice. Returns how many frames were handed.
    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize;

    /// Queue one frame for transmission.
    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError>;

    /// Called after a burst of `transmit` calls, so batching devices can
    /// flush. The default does nothing.
    fn flush(&mut self) {}
}

impl<D: Device + ?Sized> Device for &mut D {
    fn capabilities(&self) -> DeviceCapabilities {
        (**self).capabilities()
    }
    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        (**self).receive_batch(sink)
    }
    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        (**self).transmit(meta, frame)
    }
    fn flush(&mut self) {
        (**self).flush()
    }
}

impl<D: Device + ?Sized> Device for alloc::boxed::Box<D> {
    fn capabilities(&self) -> DeviceCapabilities {
        (**self).capabilities()
    }
    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        (**self).receive_batch(sink)
    }
    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        (**self).transmit(meta, frame)
    }
    fn flush(&mut self) {
        (**self).flush()
    }
}
