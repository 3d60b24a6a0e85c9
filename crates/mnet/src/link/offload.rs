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
    // RFC 768: "If the computed checksum is zero, it is transmitted as all
    // ones" — for TCP the two forms are the same one's-complement number.
    let sum = match !fold(ones_sum(0, &frame[start..])) {
        0 => 0xffff,
        s => s,
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::device::{VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE};
    use crate::wire::{IpProtocol, Ipv4Packet, Ipv4Repr, TcpPacket, TcpRepr, TcpSeqNumber, ipv4, tcp};
    use alloc::vec;
    use core::net::IpAddr;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    fn segment(payload: &[u8], flags: TcpFlags) -> TcpRepr<'_> {
        TcpRepr {
            src_port: 5001,
            dst_port: 40000,
            seq_number: TcpSeqNumber(0xffff_f000),
            ack_number: Some(TcpSeqNumber(77)),
            flags,
            window_len: 512,
            urgent_ptr: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: Some((1, 2)),
            payload,
        }
    }

    /// An Ethernet + IPv4 + TCP frame of `repr`, its checksum partial or
    /// complete.
    fn frame(repr: &TcpRepr<'_>, partial: bool, ident: u16) -> Vec<u8> {
        let tcp_len = repr.buffer_len();
        let mut f = vec![0u8; ethernet::HEADER_LEN + ipv4::HEADER_LEN + tcp_len];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = Ipv4Repr {
            src_addr: SRC,
            dst_addr: DST,
            next_header: IpProtocol::Tcp,
            payload_len: tcp_len,
            hop_limit: 64,
            dscp_ecn: 0,
            ident,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        ip.emit(&mut Ipv4Packet::new_unchecked(&mut f[ethernet::HEADER_LEN..]), true);
        let mut pkt = TcpPacket::new_unchecked(&mut f[ethernet::HEADER_LEN + ipv4::HEADER_LEN..]);
        let (s, d) = (IpAddr::V4(SRC), IpAddr::V4(DST));
        if partial {
            repr.emit_partial(&mut pkt, &s, &d);
        } else {
            repr.emit(&mut pkt, &s, &d);
        }
        f
    }

    fn partial_meta() -> FrameMeta {
        FrameMeta {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            csum_start: (ethernet::HEADER_LEN + ipv4::HEADER_LEN) as u16,
            csum_offset: tcp::CHECKSUM_OFFSET as u16,
            ..FrameMeta::PLAIN
        }
    }

    #[test]
    fn completing_a_partial_checksum_gives_the_full_one() {
        // Odd payload length: the last byte is padded in the sum.
        let payload: Vec<u8> = (0..1001u32).map(|i| (i * 7) as u8).collect();
        let repr = segment(&payload, TcpFlags::ACK | TcpFlags::PSH);
        let full = frame(&repr, false, 9);
        let mut partial = frame(&repr, true, 9);
        assert_ne!(partial, full, "the partial checksum differs from the full one");
        complete_partial_checksum(&partial_meta(), &mut partial).unwrap();
        assert_eq!(partial, full);
        // Metadata that points past the frame is refused, not obeyed.
        let bad = FrameMeta {
            csum_offset: 4000,
            ..partial_meta()
        };
        assert_eq!(complete_partial_checksum(&bad, &mut partial), Err(OffloadError::BadOffsets));
        // A plain frame is left alone.
        complete_partial_checksum(&FrameMeta::PLAIN, &mut partial).unwrap();
        assert_eq!(partial, full);
    }

    #[test]
    fn a_super_segment_splits_into_the_segments_the_plain_path_sends() {
        let mss = 1448;
        let payload: Vec<u8> = (0..(3 * mss + 100) as u32).map(|i| (i % 251) as u8).collect();
        let flags = TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN | TcpFlags::CWR;
        let big = frame(&segment(&payload, flags), true, 0xfffe);
        let meta = FrameMeta {
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            gso_size: mss as u16,
            hdr_len: 66,
            ..partial_meta()
        };
        let mut pieces = Vec::new();
        let n = segment_tcp(&meta, &big, &mut Vec::new(), &mut |f| pieces.push(f.to_vec())).unwrap();
        assert_eq!(n, 4);
        assert_eq!(pieces.len(), 4);
        for (i, piece) in pieces.iter().enumerate() {
            let chunk = &payload[i * mss..((i + 1) * mss).min(payload.len())];
            let mut f = flags;
            if i != 3 {
                f.remove(TcpFlags::FIN | TcpFlags::PSH);
            }
            if i != 0 {
                f.remove(TcpFlags::CWR);
            }
            let mut repr = segment(chunk, f);
            repr.seq_number += i * mss; // wraps past 2^32
            let expected = frame(&repr, false, 0xfffe_u16.wrapping_add(i as u16));
            assert_eq!(piece, &expected, "piece {i}");
            // And each piece is valid on its own.
            let ip = Ipv4Packet::new_checked(&piece[ethernet::HEADER_LEN..]).unwrap();
            assert!(ip.verify_checksum());
            let t = TcpPacket::new_checked(ip.payload()).unwrap();
            assert!(t.verify_checksum(&IpAddr::V4(SRC), &IpAddr::V4(DST)));
            assert!(piece.len() <= ethernet::HEADER_LEN + 1500);
        }
    }

    #[test]
    fn segmentation_refuses_what_it_cannot_do() {
        let big = frame(&segment(&[1; 3000], TcpFlags::ACK), true, 1);
        let mut out = |_: &[u8]| panic!("nothing may come out");
        let zero = FrameMeta {
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            gso_size: 0,
            ..partial_meta()
        };
        assert_eq!(segment_tcp(&zero, &big, &mut Vec::new(), &mut out), Err(OffloadError::Unsupported));
        let udp = FrameMeta {
            gso_type: crate::link::device::VIRTIO_NET_HDR_GSO_UDP,
            gso_size: 1000,
            ..partial_meta()
        };
        assert_eq!(segment_tcp(&udp, &big, &mut Vec::new(), &mut out), Err(OffloadError::Unsupported));
        let tso = FrameMeta {
            gso_type: VIRTIO_NET_HDR_GSO_TCPV4,
            gso_size: 1000,
            ..partial_meta()
        };
        // Cut short inside the TCP header, or empty.
        assert_eq!(
            segment_tcp(&tso, &big[..40], &mut Vec::new(), &mut out),
            Err(OffloadError::BadOffsets)
        );
        assert_eq!(segment_tcp(&tso, &[], &mut Vec::new(), &mut out), Err(OffloadError::BadOffsets));
        // A non-GSO frame with a partial checksum comes out completed.
        let small_repr = segment(&[5; 10], TcpFlags::ACK);
        let small = frame(&small_repr, true, 3);
        let mut got = Vec::new();
        let plain_gso = FrameMeta {
            gso_type: VIRTIO_NET_HDR_GSO_NONE,
            ..partial_meta()
        };
        assert_eq!(
            segment_tcp(&plain_gso, &small, &mut Vec::new(), &mut |f| got.push(f.to_vec())),
            Ok(1)
        );
        assert_eq!(got, vec![frame(&small_repr, false, 3)]);
    }
}
