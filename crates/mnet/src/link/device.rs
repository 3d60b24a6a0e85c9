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

/// Size of the virtio-net header as mnet exchanges it: `struct
/// virtio_net_hdr_v1` (virtio spec §5.1.6, "struct virtio_net_hdr"), which
/// has the same 12-byte layout as the legacy `virtio_net_hdr_mrg_rxbuf`:
/// `flags` u8, `gso_type` u8, then `hdr_len`, `gso_size`, `csum_start`,
/// `csum_offset` and `num_buffers` as little-endian u16. A TAP is told this
/// size with `TUNSETVNETHDRSZ` and little-endian fields with
/// `TUNSETVNETLE`; `num_buffers` is written 0 and ignored on receive (we
/// never merge receive buffers).
pub const VIRTIO_NET_HDR_LEN: usize = 12;

/// Per-frame offload metadata with virtio-net header semantics.
/// The all-zero value means "a plain, complete frame".
///
/// virtio spec §5.1.6.2: "If the driver negotiated VIRTIO_NET_F_CSUM, it
/// can skip checksumming the packet: flags has the
/// VIRTIO_NET_HDR_F_NEEDS_CSUM set, csum_start is set to the offset within
/// the packet to begin checksumming, and csum_offset indicates how many
/// bytes after the csum_start the new (16 bit ones' complement) checksum
/// is placed by the device." and "gso_size is the maximum size of each
/// packet beyond that header".
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

    /// A segmentation request (or a coalesced receive): `gso_type` is not
    /// `VIRTIO_NET_HDR_GSO_NONE`.
    pub fn is_gso(&self) -> bool {
        self.gso_type & !VIRTIO_NET_HDR_GSO_ECN != VIRTIO_NET_HDR_GSO_NONE
    }

    /// Reads a [`VIRTIO_NET_HDR_LEN`]-byte header; `None` when `hdr` is
    /// shorter. Fields are not checked here: the receive path checks
    /// `csum_start`/`csum_offset` against the frame it describes.
    pub fn from_virtio_hdr(hdr: &[u8]) -> Option<FrameMeta> {
        let h: &[u8; VIRTIO_NET_HDR_LEN] = hdr.get(..VIRTIO_NET_HDR_LEN)?.try_into().ok()?;
        let le = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
        Some(FrameMeta {
            flags: h[0],
            gso_type: h[1],
            hdr_len: le(2),
            gso_size: le(4),
            csum_start: le(6),
            csum_offset: le(8),
        })
    }

    /// The [`VIRTIO_NET_HDR_LEN`]-byte header for this metadata
    /// (`num_buffers` 0).
    pub fn to_virtio_hdr(&self) -> [u8; VIRTIO_NET_HDR_LEN] {
        let mut h = [0u8; VIRTIO_NET_HDR_LEN];
        h[0] = self.flags;
        h[1] = self.gso_type;
        h[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        h[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        h[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        h[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        h
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
    /// The largest TCP segment (IP packet, headers included) the device
    /// accepts with gso metadata; 0 when it cannot segment. Segmentation
    /// needs `checksum.tx_partial` too.
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

#[cfg(test)]
mod tests {
    use super::*;

    // The header of a TCPv4 super-frame as a TAP with TSO hands it over:
    // partial checksum at 34 + 16 (Ethernet + IPv4, then the TCP checksum
    // field), gso_size 1448 (MSS 1460 less timestamps), hdr_len 66.
    const KERNEL_TSO_HDR: [u8; 12] = [0x01, 0x01, 0x42, 0x00, 0xa8, 0x05, 0x22, 0x00, 0x10, 0x00, 0x00, 0x00];

    #[test]
    fn virtio_header_parses_and_emits_back() {
        let meta = FrameMeta::from_virtio_hdr(&KERNEL_TSO_HDR).unwrap();
        assert_eq!(
            meta,
            FrameMeta {
                flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
                gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
                hdr_len: 66,
                gso_size: 1448,
                csum_start: 34,
                csum_offset: 16,
            }
        );
        assert!(meta.needs_csum() && !meta.checksum_valid() && meta.is_gso());
        assert_eq!(meta.to_virtio_hdr(), KERNEL_TSO_HDR);
        assert_eq!(FrameMeta::PLAIN.to_virtio_hdr(), [0; 12]);
        assert_eq!(FrameMeta::from_virtio_hdr(&[0; 12]), Some(FrameMeta::PLAIN));
        assert_eq!(FrameMeta::from_virtio_hdr(&KERNEL_TSO_HDR[..11]), None);
        // num_buffers is ignored on receive.
        let mut with_buffers = KERNEL_TSO_HDR;
        with_buffers[10] = 1;
        assert_eq!(FrameMeta::from_virtio_hdr(&with_buffers), Some(meta));
        let valid = FrameMeta::from_virtio_hdr(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert!(valid.checksum_valid() && !valid.needs_csum() && !valid.is_gso());
        let ecn_only = FrameMeta {
            gso_type: VIRTIO_NET_HDR_GSO_ECN,
            ..FrameMeta::PLAIN
        };
        assert!(!ecn_only.is_gso());
    }
}
