//! virtio-net feature negotiation and the per-buffer header, without
//! hardware: which feature bits the driver accepts from what the device
//! offers, what that means for mnet's [`DeviceCapabilities`], and the
//! header of each buffer to and from mnet's [`FrameMeta`].

use alloc::string::String;
use alloc::vec::Vec;

use mnet::link::device::VIRTIO_NET_HDR_LEN;
use mnet::link::{ChecksumCaps, DeviceCapabilities, FrameMeta};

/// Feature bits (virtio 1.x §5.1.3 and §6).
pub mod bit {
    /// VIRTIO_NET_F_CSUM: "Device handles packets with partial checksum."
    pub const CSUM: u64 = 1 << 0;
    /// VIRTIO_NET_F_GUEST_CSUM: "Driver handles packets with partial checksum."
    pub const GUEST_CSUM: u64 = 1 << 1;
    /// VIRTIO_NET_F_MAC: the device has a MAC address in its config.
    pub const MAC: u64 = 1 << 5;
    /// VIRTIO_NET_F_GUEST_TSO4: "Driver can receive TSOv4."
    pub const GUEST_TSO4: u64 = 1 << 7;
    /// VIRTIO_NET_F_GUEST_TSO6: "Driver can receive TSOv6."
    pub const GUEST_TSO6: u64 = 1 << 8;
    /// VIRTIO_NET_F_HOST_TSO4: "Device can receive TSOv4."
    pub const HOST_TSO4: u64 = 1 << 11;
    /// VIRTIO_NET_F_HOST_TSO6: "Device can receive TSOv6."
    pub const HOST_TSO6: u64 = 1 << 12;
    /// VIRTIO_NET_F_HOST_ECN: "Device can receive TSO with ECN."
    pub const HOST_ECN: u64 = 1 << 13;
    /// VIRTIO_NET_F_STATUS: the link status field exists.
    pub const STATUS: u64 = 1 << 16;
    /// VIRTIO_F_VERSION_1: the modern interface (12-byte header).
    pub const VERSION_1: u64 = 1 << 32;
}

/// `struct virtio_net_hdr` without `num_buffers` (legacy, no MRG_RXBUF).
pub const HDR_LEN_LEGACY: usize = 10;
/// With `num_buffers` (VERSION_1).
pub const HDR_LEN_MODERN: usize = VIRTIO_NET_HDR_LEN;

/// The largest IP packet handed to the device as a super-segment (the
/// IPv4 total length field's limit).
pub const MAX_GSO_SIZE: usize = 65_535;

/// virtio 1.x §5.1.6.3.1: "If VIRTIO_NET_F_MRG_RXBUF is not negotiated: If
/// VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6 or
/// VIRTIO_NET_F_GUEST_UFO are negotiated, the driver SHOULD populate the
/// receive queue(s) with buffers of at least 65562 bytes."
pub const RX_BUF_LEN_GSO: usize = 65_562;
/// A receive or initial transmit buffer without receive offload: the
/// header and a 1514-byte frame fit.
pub const BUF_LEN: usize = 2048;
/// The Ethernet payload size this driver supports (no jumbo frames).
pub const MTU: usize = 1500;

/// The features to accept, from those the device offers; `offload` false
/// accepts none of the offloads.
///
/// virtio 1.x §5.1.3.1: "The driver MUST NOT negotiate
/// VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6 or
/// VIRTIO_NET_F_GUEST_UFO if it does not negotiate
/// VIRTIO_NET_F_GUEST_CSUM." and "A driver SHOULD NOT negotiate
/// VIRTIO_NET_F_HOST_TSO4, ... unless VIRTIO_NET_F_CSUM" and "The driver
/// SHOULD NOT negotiate VIRTIO_NET_F_HOST_ECN without also negotiating
/// VIRTIO_NET_F_HOST_TSO4 or VIRTIO_NET_F_HOST_TSO6".
///
/// mnet's capabilities have one `max_gso_size` for both families, so
/// segmentation is accepted only when the device does both (QEMU offers
/// both or neither).
pub fn select(device: u64, offload: bool) -> u64 {
    let mut want = bit::MAC | bit::STATUS | bit::VERSION_1;
    if offload {
        want |= bit::CSUM | bit::GUEST_CSUM;
        let host_tso = bit::HOST_TSO4 | bit::HOST_TSO6;
        if device & (bit::CSUM | host_tso) == bit::CSUM | host_tso {
            want |= host_tso | bit::HOST_ECN;
        }
        if device & bit::GUEST_CSUM != 0 {
            want |= bit::GUEST_TSO4 | bit::GUEST_TSO6;
        }
    }
    device & want
}

/// The header length for the negotiated features (no MRG_RXBUF).
pub fn hdr_len(negotiated: u64) -> usize {
    if negotiated & bit::VERSION_1 != 0 {
        HDR_LEN_MODERN
    } else {
        HDR_LEN_LEGACY
    }
}

/// Whether the device may hand over frames larger than the MTU, which
/// calls for [`RX_BUF_LEN_GSO`]-byte receive buffers.
pub fn rx_gso(negotiated: u64) -> bool {
    negotiated & (bit::GUEST_TSO4 | bit::GUEST_TSO6) != 0
}

/// What mnet may ask of a device with these features.
pub fn capabilities(negotiated: u64, max_batch: usize) -> DeviceCapabilities {
    let tso = bit::HOST_TSO4 | bit::HOST_TSO6;
    DeviceCapabilities {
        mtu: MTU,
        checksum: ChecksumCaps {
            tx_partial: negotiated & bit::CSUM != 0,
            rx_offload: negotiated & bit::GUEST_CSUM != 0,
        },
        max_gso_size: if negotiated & tso == tso { MAX_GSO_SIZE } else { 0 },
        rx_coalesce: rx_gso(negotiated),
        max_batch,
    }
}

/// The offloads in effect, for the log: "tx-csum tso rx-csum rx-gso" or
/// "none".
pub fn summary(negotiated: u64) -> String {
    let caps = capabilities(negotiated, 0);
    let words: Vec<&str> = [
        (caps.checksum.tx_partial, "tx-csum"),
        (caps.max_gso_size > 0, "tso"),
        (caps.checksum.rx_offload, "rx-csum"),
        (caps.rx_coalesce, "rx-gso"),
    ]
    .into_iter()
    .filter_map(|(on, w)| on.then_some(w))
    .collect();
    if words.is_empty() { String::from("none") } else { words.join(" ") }
}

/// The metadata of a received buffer (`buf` starts with a `hdr_len`-byte
/// header); `None` when the buffer is shorter than the header. Without
/// GUEST_CSUM the device sets no flags, and a plain frame is all we take.
///
/// virtio 1.x §5.1.6.4.1: "If VIRTIO_NET_F_GUEST_CSUM is not negotiated,
/// the device MUST set flags to zero and SHOULD supply a fully checksummed
/// packet to the driver."
pub fn rx_meta(buf: &[u8], hdr_len: usize, negotiated: u64) -> Option<FrameMeta> {
    let mut h = [0u8; VIRTIO_NET_HDR_LEN];
    let src = buf.get(..hdr_len)?;
    let n = hdr_len.min(VIRTIO_NET_HDR_LEN);
    h[..n].copy_from_slice(src.get(..n)?);
    if negotiated & bit::GUEST_CSUM == 0 {
        return Some(FrameMeta::PLAIN);
    }
    FrameMeta::from_virtio_hdr(&h)
}

/// The `hdr_len`-byte header for a frame to transmit. `num_buffers` (the
/// twelfth and last two bytes) is 0: virtio 1.x §5.1.6.2.1 "The driver
/// MUST set num_buffers to zero."
pub fn tx_hdr(meta: &FrameMeta, hdr_len: usize) -> ([u8; VIRTIO_NET_HDR_LEN], usize) {
    (meta.to_virtio_hdr(), hdr_len.min(VIRTIO_NET_HDR_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mnet::link::device::{VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4};

    /// What QEMU 7.2's virtio-net on a tap with a vnet header offers
    /// (modern), among the bits we know.
    const QEMU_TAP: u64 = bit::CSUM
        | bit::GUEST_CSUM
        | bit::MAC
        | bit::GUEST_TSO4
        | bit::GUEST_TSO6
        | bit::HOST_TSO4
        | bit::HOST_TSO6
        | bit::HOST_ECN
        | bit::STATUS
        | bit::VERSION_1
        | (1 << 15) // MRG_RXBUF: not ours
        | (1 << 9); // GUEST_ECN: not ours

    #[test]
    fn selection_follows_the_offer() {
        let all = select(QEMU_TAP, true);
        assert_eq!(all, QEMU_TAP & !(1 << 15) & !(1 << 9));
        let caps = capabilities(all, 64);
        assert!(caps.checksum.tx_partial && caps.checksum.rx_offload && caps.rx_coalesce);
        assert_eq!(caps.max_gso_size, 65_535);
        assert_eq!((hdr_len(all), rx_gso(all)), (12, true));
        assert_eq!(summary(all), "tx-csum tso rx-csum rx-gso");

        let none = select(QEMU_TAP, false);
        assert_eq!(none, bit::MAC | bit::STATUS | bit::VERSION_1);
        assert_eq!(
            capabilities(none, 64),
            DeviceCapabilities {
                mtu: 1500,
                max_batch: 64,
                ..DeviceCapabilities::default()
            }
        );
        assert!(!rx_gso(none));
        assert_eq!(summary(none), "none");

        // Segmentation without the checksum feature, or for one family
        // only, is not taken; receive TSO needs GUEST_CSUM.
        let odd = select(bit::HOST_TSO4 | bit::HOST_TSO6 | bit::GUEST_TSO4 | bit::MAC, true);
        assert_eq!(odd, bit::MAC);
        let v4_only = select(bit::CSUM | bit::HOST_TSO4 | bit::HOST_ECN, true);
        assert_eq!(v4_only, bit::CSUM);
        assert_eq!(capabilities(v4_only, 64).max_gso_size, 0);
        assert_eq!(summary(v4_only), "tx-csum");
        // Legacy: a 10-byte header.
        assert_eq!(hdr_len(select(QEMU_TAP & !bit::VERSION_1, true)), 10);
    }

    #[test]
    fn headers_map_to_frame_meta() {
        // A coalesced TCPv4 frame as Linux hands it to a tap: partial
        // checksum at 34 + 16, 1448-byte segments.
        let hdr = [1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0, 0, 0];
        let meta = rx_meta(&hdr, 12, select(QEMU_TAP, true)).unwrap();
        assert_eq!(
            meta,
            FrameMeta {
                flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
                gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
                hdr_len: 66,
                gso_size: 1448,
                csum_start: 34,
                csum_offset: 16
            }
        );
        // Legacy 10-byte header: the same fields.
        assert_eq!(rx_meta(&hdr[..10], 10, select(QEMU_TAP, true)), Some(meta));
        // Without GUEST_CSUM whatever the device wrote is ignored.
        assert_eq!(rx_meta(&hdr, 12, select(QEMU_TAP, false)), Some(FrameMeta::PLAIN));
        let valid = rx_meta(&[VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 12, QEMU_TAP).unwrap();
        assert!(valid.checksum_valid() && !valid.is_gso());
        // Too short for the header.
        assert_eq!(rx_meta(&hdr[..9], 10, QEMU_TAP), None);

        let (h, n) = tx_hdr(&meta, 10);
        assert_eq!((&h[..n], n), (&hdr[..10], 10));
        let (h, n) = tx_hdr(&meta, 12);
        assert_eq!((&h[..n], n), (&hdr[..], 12));
    }
}
