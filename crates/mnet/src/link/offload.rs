//! What a device does with offload metadata, done in software: completing
//! a partial checksum and splitting a TCP super-segment into MSS-sized
//! frames (the kernel's `skb_checksum_help` and `tcp_gso_segment`, written
//! from the virtio spec and RFC 9293, not from their code).
//!
//! The engine never needs these on its fast path: it builds super-segments
//! only for a device that advertised segmentation, and otherwise builds
//! MSS-sized segments with complete checksums itself. They serve devices
//! that must emulate the offload (the simulator's TSO mode, a virtio
//! device in front of a link without it), the engine's own fallbacks
//! (fragmenting a datagram whose checksum was left partial) and tests,
//! which compare a split super-segment with what the plain path sends.
//!
//! ```
//! use mnet::link::{FrameMeta, offload::segment_tcp};
//! // Not a super-segment: handed over unchanged.
//! let frame = [0u8; 60];
//! let mut out = Vec::new();
//! let n = segment_tcp(&FrameMeta::PLAIN, &frame, &mut Vec::new(), &mut |f| out.push(f.to_vec())).unwrap();
//! assert_eq!((n, out.len()), (1, 1));
//! ```

use alloc::vec::Vec;

use super::device::{FrameMeta, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6};
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::checksum::{fold, ones_sum, pseudo_header_v4, pseudo_header_v6};
use crate::wire::{IpProtocol, TcpFlags, ethernet};

/// Why a frame's offload metadata cannot be carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffloadError {
    /// `csum_start`/`csum_offset` point outside the frame, or the headers
    /// the metadata names are cut short.
    BadOffsets,
    /// A `gso_type` this code does not segment (UDP, unknown), or a
    /// `gso_size` of zero.
    Unsupported,
}

/// IPv6 header length (no extension headers are segmented here).
const IPV6_HEADER_LEN: usize = 40;
/// Offset of the checksum inside a TCP header.
const TCP_CHECKSUM_OFFSET: usize = crate::wire::tcp::CHECKSUM_OFFSET;
/// Offset of the flags byte inside a TCP header (after the data offset).
const TCP_FLAGS_OFFSET: usize = 13;

/// virtio spec §5.1.6.2: the device computes "the new (16 bit ones'
/// complement) checksum" over `csum_start..` and places it at
/// `csum_start + csum_offset`; the field holds the pseudo-header sum
/// beforehand, so summing it in completes the checksum. Does nothing when
/// `meta` does not ask for it.
pub fn complete_partial_checksum(meta: &FrameMeta, frame: &mut [u8]) -> Result<(), OffloadError> {
    if !meta.needs_csum() {
        return Ok(());
    }
    let start = usize::from(meta.csum_start);
    let at = start + usize::from(meta.csum_offset);
    if at + 2 > frame.len() {
        return Err(OffloadError::BadOffsets);
    }
    let sum = !fold(ones_sum(0, &frame[start..]));
    frame[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    Ok(())
}

/// Where the headers of a TCP super-frame end, and what kind it is.
struct TcpFrameLayout {
    ip_start: usize,
    tcp_start: usize,
    payload_start: usize,
    v6: bool,
}

fn tcp_layout(meta: &FrameMeta, frame: &[u8]) -> Result<TcpFrameLayout, OffloadError> {
    let ip_start = ethernet::HEADER_LEN;
    let v6 = match meta.gso_type & !super::device::VIRTIO_NET_HDR_GSO_ECN {
        VIRTIO_NET_HDR_GSO_TCPV4 => false,
        VIRTIO_NET_HDR_GSO_TCPV6 => true,
        _ => return Err(OffloadError::Unsupported),
    };
    let ip_len = if v6 {
        IPV6_HEADER_LEN
    } else {
        let ihl = frame.get(ip_start).ok_or(OffloadError::BadOffsets)?;
        usize::from(ihl & 0x0f) * 4
    };
    let tcp_start = ip_start + ip_len;
    let off = frame.get(tcp_start + 12).ok_or(OffloadError::BadOffsets)?;
    let payload_start = tcp_start + usize::from(off >> 4) * 4;
    if ip_len < 20 || payload_start < tcp_start + 20 || payload_start > frame.len() {
        return Err(OffloadError::BadOffsets);
    }
    Ok(TcpFrameLayout {
        ip_start,
        tcp_start,
        payload_start,
        v6,
    })
}

/// Splits a TCP super-frame (`meta.gso_type` TCPv4/TCPv6, `gso_size` the
/// payload per segment) into complete frames with full checksums, and
/// hands each to `out` (built in `scratch`, reused). A frame that is not a
/// super-segment is handed over with its partial checksum completed.
/// Returns the number of frames handed over.
///
/// Each piece carries the super-segment's headers with, as RFC 9293 §3.4
/// requires of any segment, the sequence number of its first octet; the
/// IPv4 identification advances by one per piece; FIN and PSH stay only
/// on the last piece and CWR only on the first (RFC 3168 §6.1.2: CWR on
/// "the first new data packet" after a reduction).
pub fn segment_tcp(meta: &FrameMeta, frame: &[u8], scratch: &mut Vec<u8>, out: &mut dyn FnMut(&[u8])) -> Result<usize, OffloadError> {
    if !meta.is_gso() {
        scratch.clear();
        scratch.extend_from_slice(frame);
        complete_partial_checksum(meta, scratch)?;
        out(scratch);
        return Ok(1);
    }
    let gso_size = usize::from(meta.gso_size);
    if gso_size == 0 {
        return Err(OffloadError::Unsupported);
    }
    let l = tcp_layout(meta, frame)?;
    let (headers, payload) = frame.split_at(l.payload_start);
    let seq0 = u32::from_be_bytes(read4(frame, l.tcp_start + 4)?);
    let flags0 = *frame.get(l.tcp_start + TCP_FLAGS_OFFSET).ok_or(OffloadError::BadOffsets)?;
    let ident0 = if l.v6 {
        0
    } else {
        u16::from_be_bytes(read2(frame, l.ip_start + 4)?)
    };
    let count = payload.len().div_ceil(gso_size).max(1);
    for i in 0..count {
        let chunk = payload
            .get(i * gso_size..((i + 1) * gso_size).min(payload.len()))
            .unwrap_or_default();
        let first = i == 0;
        let last = i + 1 == count;
        scratch.clear();
        scratch.extend_from_slice(headers);
        scratch.extend_from_slice(chunk);
        let ip_total = scratch.len() - l.ip_start;
        let tcp_len = scratch.len() - l.tcp_start;
        if l.v6 {
            let plen = u16::try_from(tcp_len).map_err(|_| OffloadError::BadOffsets)?;
            scratch[l.ip_start + 4..l.ip_start + 6].copy_from_slice(&plen.to_be_bytes());
        } else {
            let total = u16::try_from(ip_total).map_err(|_| OffloadError::BadOffsets)?;
            let ip = &mut scratch[l.ip_start..l.tcp_start];
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip[4..6].copy_from_slice(&ident0.wrapping_add(i as u16).to_be_bytes());
            ip[10..12].copy_from_slice(&[0, 0]);
            let c = !fold(ones_sum(0, ip));
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
        let seq = seq0.wrapping_add((i * gso_size) as u32);
        let tcp = &mut scratch[l.tcp_start..];
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        let mut flags = flags0;
        if !last {
            flags &= !((TcpFlags::FIN.0 | TcpFlags::PSH.0) as u8);
        }
        if !first {
            flags &= !(TcpFlags::CWR.0 as u8);
        }
        tcp[TCP_FLAGS_OFFSET] = flags;
        tcp[TCP_CHECKSUM_OFFSET..TCP_CHECKSUM_OFFSET + 2].copy_from_slice(&[0, 0]);
        let ip = &scratch[l.ip_start..l.tcp_start];
        let pseudo = if l.v6 {
            let src: [u8; 16] = ip.get(8..24).and_then(|s| s.try_into().ok()).ok_or(OffloadError::BadOffsets)?;
            let dst: [u8; 16] = ip.get(24..40).and_then(|s| s.try_into().ok()).ok_or(OffloadError::BadOffsets)?;
            pseudo_header_v6(&Ipv6Addr::from(src), &Ipv6Addr::from(dst), IpProtocol::Tcp, tcp_len as u32)
        } else {
            let src: [u8; 4] = ip.get(12..16).and_then(|s| s.try_into().ok()).ok_or(OffloadError::BadOffsets)?;
            let dst: [u8; 4] = ip.get(16..20).and_then(|s| s.try_into().ok()).ok_or(OffloadError::BadOffsets)?;
            pseudo_header_v4(Ipv4Addr::from(src), Ipv4Addr::from(dst), IpProtocol::Tcp, tcp_len as u16)
        };
        let sum = !fold(ones_sum(pseudo, &scratch[l.tcp_start..]));
        scratch[l.tcp_start + TCP_CHECKSUM_OFFSET..l.tcp_start + TCP_CHECKSUM_OFFSET + 2].copy_from_slice(&sum.to_be_bytes());
        out(scratch);
    }
    Ok(count)
}

fn read2(b: &[u8], at: usize) -> Result<[u8; 2], OffloadError> {
    b.get(at..at + 2).and_then(|s| s.try_into().ok()).ok_or(OffloadError::BadOffsets)
}

fn read4(b: &[u8], at: usize) -> Result<[u8; 4], OffloadError> {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).ok_or(OffloadError::BadOffsets)
}
