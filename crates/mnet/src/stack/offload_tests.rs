//! The engine with a device that offloads: TCP super-segments and partial
//! checksums on transmit, coalesced frames and NEEDS_CSUM / DATA_VALID on
//! receive. Two stacks are wired by hand, frames and metadata passed as a
//! TAP passes them (a super-segment from one arrives whole at the other,
//! as Linux's GRO would hand it over).

use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::Stack;
use crate::config::Config;
use crate::link::device::{VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4};
use crate::link::offload::segment_tcp;
use crate::link::{ChecksumCaps, DeviceCapabilities, FrameMeta};
use crate::stats::Drop;
use crate::time::{Duration, Instant};
use crate::wire::{EthernetAddress, IpCidr, Ipv4Packet, TcpPacket, ethernet, ipv4, tcp};

const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xa]);
const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xb]);
const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 5001;

fn stack(mac: EthernetAddress, ip: Ipv4Addr, seed: u8, offload: bool) -> Stack {
    let cidr = IpCidr::new(IpAddr::V4(ip), 24).unwrap();
    let mut s = Stack::new(Config::new(mac, [seed; 32]).address(cidr), Instant::ZERO);
    s.set_capabilities(DeviceCapabilities {
        mtu: 1500,
        checksum: ChecksumCaps {
            tx_partial: offload,
            rx_offload: offload,
        },
        max_gso_size: if offload { 65_535 } else { 0 },
        rx_coalesce: offload,
        max_batch: 64,
    });
    s
}

type Frames = Vec<(FrameMeta, Vec<u8>)>;

fn drain(s: &mut Stack) -> Frames {
    let mut out = Vec::new();
    s.transmit(&mut |m: &FrameMeta, f: &[u8]| {
        out.push((*m, f.to_vec()));
        true
    });
    out
}

/// What crossed the wire in one direction.
#[derive(Default)]
struct WireLog {
    frames: usize,
    super_segments: usize,
    partial: usize,
    largest: usize,
}

/// Moves frames both ways until both stacks are quiet at `now`; A's
/// frames reach B whole, or split in software when `split`.
fn pump(a: &mut Stack, b: &mut Stack, now: Instant, split: bool, log: &mut WireLog) {
    for _ in 0..10_000 {
        let from_a = drain(a);
        let from_b = drain(b);
        if from_a.is_empty() && from_b.is_empty() {
            return;
        }
        for (meta, f) in &from_a {
            log.frames += 1;
            log.super_segments += usize::from(meta.is_gso());
            log.partial += usize::from(meta.needs_csum());
            log.largest = log.largest.max(f.len());
            if split {
                let mut scratch = Vec::new();
                segment_tcp(meta, f, &mut scratch, &mut |piece| b.receive(now, &FrameMeta::PLAIN, piece)).unwrap();
            } else {
                b.receive(now, meta, f);
            }
        }
        for (meta, f) in &from_b {
            a.receive(now, meta, f);
        }
    }
    panic!("the stacks never went quiet");
}

/// A sends `len` bytes to B; returns what B read and the wire log.
fn transfer(a_offload: bool, b_offload: bool, split: bool, len: usize) -> (Vec<u8>, Vec<u8>, WireLog, Stack, Stack) {
    let mut a = stack(MAC_A, IP_A, 1, a_offload);
    let mut b = stack(MAC_B, IP_B, 2, b_offload);
    let mut log = WireLog::default();
    let mut now = Instant::ZERO;
    let lh = b.tcp_listen(SocketAddr::new(IpAddr::V4(IP_B), PORT), 4).unwrap();
    let h = a.tcp_connect(now, SocketAddr::new(IpAddr::V4(IP_B), PORT)).unwrap();
    let data: Vec<u8> = (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut bh = None;
    let mut buf = vec![0u8; 256 * 1024];
    for _ in 0..100_000 {
        now += Duration::from_micros(200);
        a.poll(now);
        b.poll(now);
        if sent < data.len()
            && let Ok(n) = a.tcp_send(now, h, &data[sent..])
        {
            sent += n;
        }
        pump(&mut a, &mut b, now, split, &mut log);
        if bh.is_none() {
            bh = b.tcp_accept(lh).ok().map(|(h, _)| h);
        }
        if let Some(bh) = bh {
            while let Ok(n) = b.tcp_recv(now, bh, &mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
        }
        pump(&mut a, &mut b, now, split, &mut log);
        if got.len() == data.len() {
            break;
        }
    }
    (data, got, log, a, b)
}

#[test]
fn super_segments_go_out_whole_and_are_received_whole() {
    let (data, got, log, a, b) = transfer(true, true, false, 2_000_000);
    assert_eq!(got.len(), data.len());
    assert!(got == data, "B read other bytes than A wrote");
    assert!(log.super_segments > 0, "no super-segment in {} frames", log.frames);
    assert!(log.largest > 1514 * 10, "largest frame {} bytes", log.largest);
    assert!(log.largest <= ethernet::HEADER_LEN + 65_535);
    // Every TCP segment A sent to a device that completes checksums left
    // its checksum partial (the ARP exchange is the rest).
    assert!(log.partial + 3 >= log.frames, "{} of {} frames partial", log.partial, log.frames);
    for s in [&a, &b] {
        assert_eq!(s.stats().drops(Drop::TcpBadChecksum), 0);
        assert_eq!(s.stats().drops(Drop::EthBadOffload), 0);
    }
    // Fewer frames than MSS-sized segments would need, by far.
    assert!(log.frames < data.len() / 1448 / 4, "{} frames", log.frames);
}

#[test]
fn super_segments_split_in_software_arrive_intact_at_a_plain_receiver() {
    // The receiver verifies every checksum: each piece's checksum, built
    // from A's partial one, must be right.
    let (data, got, log, _a, b) = transfer(true, false, true, 1_000_000);
    assert!(got == data, "B read {} bytes, other than A wrote", got.len());
    assert!(log.super_segments > 0);
    assert_eq!(b.stats().drops(Drop::TcpBadChecksum), 0);
    assert_eq!(b.stats().drops(Drop::EthBadOffload), 0);
}

#[test]
fn without_offload_every_segment_is_plain_and_fits_the_mtu() {
    let (data, got, log, _a, _b) = transfer(false, false, false, 500_000);
    assert!(got == data);
    assert_eq!((log.super_segments, log.partial), (0, 0));
    assert!(log.largest <= ethernet::HEADER_LEN + 1500, "{}", log.largest);
}

/// B, ready for A's data, and A's first data super-segment to it.
fn first_super_segment() -> (Stack, FrameMeta, Vec<u8>) {
    let mut a = stack(MAC_A, IP_A, 1, true);
    let mut b = stack(MAC_B, IP_B, 2, true);
    let mut now = Instant::ZERO;
    b.tcp_listen(SocketAddr::new(IpAddr::V4(IP_B), PORT), 4).unwrap();
    let h = a.tcp_connect(now, SocketAddr::new(IpAddr::V4(IP_B), PORT)).unwrap();
    let mut log = WireLog::default();
    pump(&mut a, &mut b, now, false, &mut log);
    now += Duration::from_millis(1);
    a.tcp_send(now, h, &[7u8; 20_000]).unwrap();
    let frames = drain(&mut a);
    let (meta, f) = frames.into_iter().find(|(m, _)| m.is_gso()).expect("a super-segment");
    (b, meta, f)
}

#[test]
fn receive_checks_follow_the_metadata() {
    let (_, meta, frame) = first_super_segment();
    assert_eq!(meta.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
    assert_eq!(usize::from(meta.csum_start), ethernet::HEADER_LEN + ipv4::HEADER_LEN);
    assert_eq!(usize::from(meta.csum_offset), tcp::CHECKSUM_OFFSET);
    assert!(meta.needs_csum());
    let ip = Ipv4Packet::new_checked(&frame[ethernet::HEADER_LEN..]).unwrap();
    assert_eq!(
        usize::from(ip.total_len()),
        frame.len() - ethernet::HEADER_LEN,
        "the IP length covers it all"
    );
    let t = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(!t.verify_checksum(&IpAddr::V4(IP_A), &IpAddr::V4(IP_B)), "partial, not complete");
    let now = Instant::from_millis(2);
    let run = |meta: FrameMeta, frame: &[u8], offload: bool| {
        let (mut b, _, _) = first_super_segment();
        if !offload {
            b.set_capabilities(DeviceCapabilities::default());
        }
        drain(&mut b);
        b.receive(now, &meta, frame);
        // Accepted: B acknowledges the data at once (more than 2 MSS).
        let acks = drain(&mut b).len();
        (b.stats().drops(Drop::TcpBadChecksum), b.stats().drops(Drop::EthBadOffload), acks)
    };
    // NEEDS_CSUM from the host: taken as validated.
    assert_eq!(run(meta, &frame, true), (0, 0, 1));
    // The same frame from a device we never enabled offloads on: dropped.
    assert_eq!(run(meta, &frame, false), (0, 1, 0));
    // Offsets outside the frame: dropped.
    let bad = FrameMeta {
        csum_offset: u16::MAX,
        ..meta
    };
    assert_eq!(run(bad, &frame, true), (0, 1, 0));
    // A UDP segmentation type we did not ask for: dropped.
    let udp = FrameMeta {
        gso_type: crate::link::device::VIRTIO_NET_HDR_GSO_UDP,
        ..meta
    };
    assert_eq!(run(udp, &frame, true), (0, 1, 0));
    // Without metadata the partial checksum is just wrong: dropped.
    assert_eq!(run(FrameMeta::PLAIN, &frame, true), (1, 0, 0));
    // DATA_VALID: the device vouches for it, nothing is verified.
    let valid = FrameMeta {
        flags: VIRTIO_NET_HDR_F_DATA_VALID,
        ..FrameMeta::PLAIN
    };
    assert_eq!(run(valid, &frame, true), (0, 0, 1));
    // The IP header checksum is checked whatever the metadata says.
    let mut broken_ip = frame.clone();
    broken_ip[ethernet::HEADER_LEN + 8] ^= 1; // TTL
    let needs = FrameMeta {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        ..meta
    };
    let (mut b, _, _) = first_super_segment();
    b.receive(now, &needs, &broken_ip);
    assert_eq!(b.stats().drops(Drop::Ipv4BadChecksum), 1);
}

/// RFC 9293 §3.8.6.3: "an ACK SHOULD be generated for at least every
/// second full-sized segment or 2*RMSS bytes of new data": counted in
/// bytes, a coalesced frame of 10 segments gets one ACK at once, and the
/// same data in 10 plain frames gets one ACK per two.
#[test]
fn acks_follow_bytes_not_frames() {
    let (mut b, meta, frame) = first_super_segment();
    let now = Instant::from_millis(2);
    drain(&mut b);
    b.receive(now, &meta, &frame);
    let acks = drain(&mut b);
    assert_eq!(acks.len(), 1, "one ACK for the coalesced frame");
    let ip = Ipv4Packet::new_checked(&frame[ethernet::HEADER_LEN..]).unwrap();
    let data = TcpPacket::new_checked(ip.payload()).unwrap();
    let ack_ip = Ipv4Packet::new_checked(&acks[0].1[ethernet::HEADER_LEN..]).unwrap();
    let ack = TcpPacket::new_checked(ack_ip.payload()).unwrap();
    assert_eq!(
        ack.ack_number(),
        data.seq_number() + data.payload().len(),
        "it acknowledges all of it"
    );

    let (mut b, meta, frame) = first_super_segment();
    drain(&mut b);
    let mut pieces = Vec::new();
    segment_tcp(&meta, &frame, &mut Vec::new(), &mut |p| pieces.push(p.to_vec())).unwrap();
    assert_eq!(pieces.len(), 10, "the initial window");
    let mut acks = 0;
    for p in &pieces {
        b.receive(now, &FrameMeta::PLAIN, p);
        acks += drain(&mut b).len();
    }
    assert_eq!(acks, 5, "one ACK per two full-sized segments");
}
