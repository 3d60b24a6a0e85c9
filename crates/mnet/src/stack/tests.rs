//! Engine tests at the frame level: two stacks wired back to back in
//! virtual time, driven through the sans-IO entry points only.

use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr};

use super::test_util::{drain, sa, stack};
use super::*;
use crate::link::FrameMeta;
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetRepr, Icmpv4DstUnreachable, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr,
    UdpPacket, UdpRepr, ipv4, udp,
};

const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xa]);
const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xb]);
const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Move frames between `a` and `b` until both are quiet; returns how many moved.
fn exchange(a: &mut Stack, b: &mut Stack, now: Instant) -> usize {
    let mut moved = 0;
    for _ in 0..1000 {
        let fa = drain(a);
        let fb = drain(b);
        if fa.is_empty() && fb.is_empty() {
            return moved;
        }
        moved += fa.len() + fb.len();
        for f in fa {
            b.receive(now, &FrameMeta::PLAIN, &f);
        }
        for f in fb {
            a.receive(now, &FrameMeta::PLAIN, &f);
        }
    }
    panic!("frames kept flowing");
}

fn pair() -> (Stack, Stack) {
    let mut a = stack(MAC_A, IP_A, 1);
    let mut b = stack(MAC_B, IP_B, 2);
    a.poll(Instant::ZERO);
    b.poll(Instant::ZERO);
    exchange(&mut a, &mut b, Instant::ZERO);
    (a, b)
}

#[test]
fn announces_static_address_twice() {
    let mut a = stack(MAC_A, IP_A, 1);
    a.poll(Instant::ZERO);
    let f = drain(&mut a);
    assert_eq!(f.len(), 1);
    let arp = ArpRepr::parse(&ArpPacket::new_checked(&f[0][14..]).unwrap()).unwrap();
    assert_eq!(arp.operation, ArpOperation::Request);
    assert_eq!(arp.source_protocol_addr, IP_A);
    assert_eq!(arp.target_protocol_addr, IP_A);
    a.poll(Instant::from_secs(1));
    assert!(drain(&mut a).is_empty());
    a.poll(Instant::from_secs(2));
    assert_eq!(drain(&mut a).len(), 1);
    a.poll(Instant::from_secs(10));
    assert!(drain(&mut a).is_empty());
}

#[test]
fn udp_round_trip_resolves_arp() {
    let (mut a, mut b) = pair();
    let now = Instant::from_millis(10);
    let ha = a.udp_bind(sa(IP_A, 0)).unwrap();
    let hb = b.udp_bind(sa(Ipv4Addr::UNSPECIFIED, 7)).unwrap();
    a.udp_send_to(now, ha, b"hello", Some(sa(IP_B, 7))).unwrap();
    // The datagram waits for ARP: only a request goes out.
    let first = drain(&mut a);
    assert_eq!(first.len(), 1);
    b.receive(now, &FrameMeta::PLAIN, &first[0]);
    exchange(&mut a, &mut b, now);
    let mut buf = [0u8; 64];
    let (n, from) = b.udp_recv_from(hb, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(from, a.udp_local_addr(ha).unwrap());
    assert!(from.port() >= crate::udp::EPHEMERAL_PORT_MIN);
    assert_eq!(b.udp_recv_from(hb, &mut buf), Err(Error::WouldBlock));
}

#[test]
fn large_udp_is_fragmented_and_reassembled() {
    let (mut a, mut b) = pair();
    let now = Instant::from_millis(10);
    let ha = a.udp_bind(sa(IP_A, 1000)).unwrap();
    let hb = b.udp_bind(sa(IP_B, 7)).unwrap();
    let data: Vec<u8> = (0..30000u32).map(|i| (i * 7 % 251) as u8).collect();
    a.udp_send_to(now, ha, &data, Some(sa(IP_B, 7))).unwrap();
    exchange(&mut a, &mut b, now);
    assert!(a.stats().traffic.ipv4_frags_out >= 21, "{:?}", a.stats().traffic);
    let mut buf = vec![0u8; 65536];
    let (n, _) = b.udp_recv_from(hb, &mut buf).unwrap();
    assert_eq!(&buf[..n], &data[..]);
    assert_eq!(b.stats().traffic.ipv4_reassembled, 1);
    assert_eq!(b.stats().total_drops(), 0, "{}", b.stats());
}

#[test]
fn echo_request_gets_reply_with_same_data() {
    let (mut a, mut b) = pair();
    let now = Instant::from_millis(10);
    let h = a.echo_open(Some(0x1234)).unwrap();
    a.echo_send(now, h, IpAddr::V4(IP_B), 1, &[9u8; 4000]).unwrap();
    exchange(&mut a, &mut b, now);
    let mut buf = vec![0u8; 5000];
    let ev = a.echo_recv(h, &mut buf).unwrap();
    assert_eq!(
        ev,
        EchoEvent::Reply {
            from: IpAddr::V4(IP_B),
            seq_no: 1,
            len: 4000
        }
    );
    assert!(buf[..4000].iter().all(|&x| x == 9));
}

#[test]
fn closed_port_refuses_connected_socket() {
    let (mut a, mut b) = pair();
    let now = Instant::from_millis(10);
    let h = a.udp_bind(sa(IP_A, 0)).unwrap();
    a.udp_connect(h, sa(IP_B, 9999)).unwrap();
    a.udp_send_to(now, h, b"x", None).unwrap();
    exchange(&mut a, &mut b, now);
    assert_eq!(b.stats().drops(Drop::UdpNoPort), 1);
    let mut buf = [0u8; 8];
    assert_eq!(a.udp_recv_from(h, &mut buf), Err(Error::ConnectionRefused));
    // Reported once.
    assert_eq!(a.udp_recv_from(h, &mut buf), Err(Error::WouldBlock));
}

#[test]
fn arp_failure_reports_host_unreachable_after_three_requests() {
    let mut a = stack(MAC_A, IP_A, 1);
    a.poll(Instant::ZERO);
    drain(&mut a);
    let h = a.echo_open(Some(7)).unwrap();
    a.echo_send(Instant::ZERO, h, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99)), 1, b"x")
        .unwrap();
    let target = Ipv4Addr::new(10, 0, 0, 99);
    let requests_for = |frames: Vec<Vec<u8>>| {
        frames
            .iter()
            .filter_map(|f| ArpPacket::new_checked(&f[14..]).ok().and_then(|p| ArpRepr::parse(&p).ok()))
            .filter(|r| r.operation == ArpOperation::Request && r.target_protocol_addr == target)
            .count()
    };
    let mut requests = requests_for(drain(&mut a));
    let mut t = Instant::ZERO;
    let mut buf = [0u8; 8];
    let event = loop {
        match a.echo_recv(h, &mut buf) {
            Err(Error::WouldBlock) => {}
            other => break other,
        }
        t = a.poll_at().expect("a timer must be pending");
        assert!(t < Instant::from_secs(30), "resolution never gave up");
        a.poll(t);
        requests += requests_for(drain(&mut a));
    };
    assert_eq!(requests, 3);
    // Requests at 0, 1 and 2 s (RetransTimer); the give-up one second later.
    assert_eq!(t, Instant::from_secs(3));
    assert_eq!(a.stats().drops(Drop::ArpUnresolved), 1);
    assert_eq!(
        event,
        Ok(EchoEvent::Error {
            from: IpAddr::V4(IP_A),
            seq_no: 1,
            error: Error::HostUnreachable
        })
    );
}

#[test]
fn loopback_to_own_address() {
    let mut a = stack(MAC_A, IP_A, 1);
    let now = Instant::ZERO;
    let h1 = a.udp_bind(sa(IP_A, 1)).unwrap();
    let h2 = a.udp_bind(sa(IP_A, 2)).unwrap();
    a.udp_send_to(now, h1, b"self", Some(sa(IP_A, 2))).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(a.udp_recv_from(h2, &mut buf).unwrap(), (4, sa(IP_A, 1)));
    let e = a.echo_open(None).unwrap();
    a.echo_send(now, e, IpAddr::V4(IP_A), 3, b"ping").unwrap();
    assert!(matches!(a.echo_recv(e, &mut buf), Ok(EchoEvent::Reply { seq_no: 3, len: 4, .. })));
    a.poll(now);
    // Only the address announcement went to the wire.
    assert!(drain(&mut a).iter().all(|f| f[12..14] == [0x08, 0x06]));
}

/// Build an IPv4+UDP frame from B to A by hand.
fn udp_frame(src_port: u16, dst_port: u16, payload: &[u8], corrupt_udp: bool, pad: usize) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: IP_B,
        dst_addr: IP_A,
        next_header: IpProtocol::Udp,
        payload_len: udp::HEADER_LEN + payload.len(),
        hop_limit: 64,
        dscp_ecn: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let len = 14 + ipv4::HEADER_LEN + udp::HEADER_LEN + payload.len();
    let mut f = vec![0u8; len + pad];
    EthernetRepr {
        src_addr: MAC_B,
        dst_addr: MAC_A,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut f[14..]), true);
    let mut u = UdpPacket::new_unchecked(&mut f[34..len]);
    UdpRepr { src_port, dst_port }.emit_header(&mut u, payload.len());
    u.payload_mut().copy_from_slice(payload);
    u.fill_checksum(&IpAddr::V4(IP_B), &IpAddr::V4(IP_A));
    if corrupt_udp {
        f[len - 1] ^= 0x10;
    }
    f
}

#[test]
fn ethernet_padding_is_trimmed_and_bad_checksums_counted() {
    let mut a = stack(MAC_A, IP_A, 1);
    let h = a.udp_bind(sa(IP_A, 7)).unwrap();
    a.receive(Instant::ZERO, &FrameMeta::PLAIN, &udp_frame(5, 7, b"ab", false, 12));
    let mut buf = [0u8; 16];
    assert_eq!(a.udp_recv_from(h, &mut buf).unwrap(), (2, sa(IP_B, 5)));
    a.receive(Instant::ZERO, &FrameMeta::PLAIN, &udp_frame(5, 7, b"ab", true, 0));
    assert_eq!(a.stats().drops(Drop::UdpBadChecksum), 1);
    assert_eq!(a.udp_recv_from(h, &mut buf), Err(Error::WouldBlock));
}

#[test]
fn port_unreachable_is_rate_limited() {
    let mut a = stack(MAC_A, IP_A, 1);
    a.poll(Instant::ZERO);
    drain(&mut a);
    // Teach A where B is, so errors can go out.
    let arp = ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: MAC_B,
        source_protocol_addr: IP_B,
        target_hardware_addr: MAC_A,
        target_protocol_addr: IP_A,
    };
    let mut f = vec![0u8; 42];
    EthernetRepr {
        src_addr: MAC_B,
        dst_addr: MAC_A,
        ethertype: EtherType::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    arp.emit(&mut ArpPacket::new_unchecked(&mut f[14..]));
    a.receive(Instant::ZERO, &FrameMeta::PLAIN, &f);
    for _ in 0..1000 {
        a.receive(Instant::ZERO, &FrameMeta::PLAIN, &udp_frame(5, 9, b"x", false, 0));
    }
    let sent = drain(&mut a);
    assert!(!sent.is_empty());
    assert!(sent.len() < 1000);
    assert_eq!(a.stats().drops(Drop::Icmpv4RateLimited) as usize, 1000 - sent.len());
    let icmp = Icmpv4Packet::new_checked(&sent[0][34..]).unwrap();
    let repr = Icmpv4Repr::parse(&icmp, true).unwrap();
    assert!(matches!(
        repr,
        Icmpv4Repr::DstUnreachable {
            reason: Icmpv4DstUnreachable::PortUnreachable,
            ..
        }
    ));
}

#[test]
fn conflicting_arp_is_counted_and_defended() {
    let mut a = stack(MAC_A, IP_A, 1);
    a.poll(Instant::ZERO);
    drain(&mut a);
    let arp = ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: MAC_B,
        source_protocol_addr: IP_A,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: IP_A,
    };
    let mut f = vec![0u8; 42];
    EthernetRepr {
        src_addr: MAC_B,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    arp.emit(&mut ArpPacket::new_unchecked(&mut f[14..]));
    a.receive(Instant::from_secs(1), &FrameMeta::PLAIN, &f);
    a.receive(Instant::from_secs(2), &FrameMeta::PLAIN, &f);
    assert_eq!(a.stats().drops(Drop::ArpConflict), 2);
    // One defence per DEFEND_INTERVAL.
    assert_eq!(drain(&mut a).len(), 1);
    a.receive(Instant::from_secs(12), &FrameMeta::PLAIN, &f);
    assert_eq!(drain(&mut a).len(), 1);
}

#[test]
fn frag_needed_lowers_path_mtu() {
    let (mut a, mut b) = pair();
    let now = Instant::from_millis(1);
    // B tells A that the path to B has an MTU of 1000.
    let mut quote = vec![0u8; 28];
    Ipv4Repr {
        src_addr: IP_A,
        dst_addr: IP_B,
        next_header: IpProtocol::Udp,
        payload_len: 1480,
        hop_limit: 64,
        dscp_ecn: 0,
        ident: 9,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    }
    .emit(&mut Ipv4Packet::new_unchecked(&mut quote[..]), true);
    let msg = Icmpv4Repr::DstUnreachable {
        reason: Icmpv4DstUnreachable::FragRequired,
        next_hop_mtu: 1000,
        invoking: &quote,
    };
    b.send_icmpv4(now, Some(IP_B), IP_A, &msg);
    exchange(&mut a, &mut b, now);
    assert_eq!(a.path_mtu(now, IpAddr::V4(IP_B)), 1000);
    // The cache ages out (RFC 1191 §6.3).
    assert_eq!(a.path_mtu(now + crate::time::Duration::from_secs(3600), IpAddr::V4(IP_B)), 1500);
}

#[test]
fn garbage_never_panics() {
    let mut a = stack(MAC_A, IP_A, 1);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let good = udp_frame(5, 7, b"hello", false, 0);
    for i in 0..20000u32 {
        let mut f = good.clone();
        let len = (next() as usize) % (f.len() + 1);
        f.truncate(len);
        for _ in 0..(next() % 4) {
            if !f.is_empty() {
                let at = (next() as usize) % f.len();
                f[at] = next() as u8;
            }
        }
        if i % 3 == 0 && f.len() > 14 {
            // Keep the frame addressed to us so the deeper layers see it.
            f[..6].copy_from_slice(&MAC_A.0);
        }
        a.receive(Instant::from_micros(u64::from(i)), &FrameMeta::PLAIN, &f);
        a.poll(Instant::from_micros(u64::from(i)));
        drain(&mut a);
    }
    assert!(a.stats().total_drops() > 0);
}

#[test]
fn addresses_change_at_run_time() {
    let (mut a, mut b) = pair();
    let now = Instant::from_millis(1);
    let extra = Ipv4Addr::new(10, 0, 0, 3);
    b.add_address(now, IpCidr::new(IpAddr::V4(extra), 24).unwrap()).unwrap();
    assert_eq!(
        b.add_address(now, IpCidr::new(IpAddr::V4(extra), 24).unwrap()),
        Err(Error::AddressInUse)
    );
    let h = a.echo_open(None).unwrap();
    a.echo_send(now, h, IpAddr::V4(extra), 1, b"x").unwrap();
    exchange(&mut a, &mut b, now);
    let mut buf = [0u8; 4];
    assert!(matches!(a.echo_recv(h, &mut buf), Ok(EchoEvent::Reply { seq_no: 1, .. })));
    b.remove_address(IpAddr::V4(extra)).unwrap();
    assert_eq!(b.remove_address(IpAddr::V4(extra)), Err(Error::AddressNotAvailable));
    let before = b.stats().drops(Drop::Ipv4NotForUs);
    a.echo_send(now, h, IpAddr::V4(extra), 2, b"x").unwrap();
    exchange(&mut a, &mut b, now);
    assert_eq!(a.echo_recv(h, &mut buf), Err(Error::WouldBlock));
    assert_eq!(b.stats().drops(Drop::Ipv4NotForUs), before + 1);
    // The first address still works, and its on-link route stayed.
    a.echo_send(now, h, IpAddr::V4(IP_B), 3, b"x").unwrap();
    exchange(&mut a, &mut b, now);
    assert!(matches!(a.echo_recv(h, &mut buf), Ok(EchoEvent::Reply { seq_no: 3, .. })));
}

#[test]
fn broadcast_reaches_wildcard_socket_without_icmp_errors() {
    let (mut a, mut b) = pair();
    let now = Instant::from_millis(1);
    let ha = a.udp_bind(sa(IP_A, 0)).unwrap();
    let hb = b.udp_bind(sa(Ipv4Addr::UNSPECIFIED, 67)).unwrap();
    for dst in [Ipv4Addr::new(10, 0, 0, 255), Ipv4Addr::BROADCAST] {
        a.udp_send_to(now, ha, b"hi", Some(sa(dst, 67))).unwrap();
        let frames = drain(&mut a);
        assert_eq!(frames.len(), 1);
        assert_eq!(&frames[0][..6], &[0xff; 6], "broadcast needs no ARP");
        b.receive(now, &FrameMeta::PLAIN, &frames[0]);
        let mut buf = [0u8; 4];
        assert_eq!(b.udp_recv_from(hb, &mut buf).unwrap().0, 2);
        // To a closed port: counted, but no ICMP error about a broadcast.
        a.udp_send_to(now, ha, b"hi", Some(sa(dst, 68))).unwrap();
        for f in drain(&mut a) {
            b.receive(now, &FrameMeta::PLAIN, &f);
        }
        assert!(drain(&mut b).is_empty());
    }
    assert_eq!(b.stats().drops(Drop::UdpNoPort), 2);
}

#[test]
fn default_gateway_is_used_off_link() {
    let mut a = stack(MAC_A, IP_A, 1);
    a.set_ipv4_gateway(Some(IP_B)).unwrap();
    a.poll(Instant::ZERO);
    drain(&mut a);
    let h = a.udp_bind(sa(IP_A, 0)).unwrap();
    a.udp_send_to(Instant::ZERO, h, b"x", Some(sa(Ipv4Addr::new(10, 9, 9, 9), 53)))
        .unwrap();
    let f = drain(&mut a);
    let arp = ArpRepr::parse(&ArpPacket::new_checked(&f[0][14..]).unwrap()).unwrap();
    assert_eq!(arp.target_protocol_addr, IP_B, "ARP for the gateway, not the destination");
    a.set_ipv4_gateway(None).unwrap();
    assert_eq!(
        a.udp_send_to(Instant::ZERO, h, b"x", Some(sa(Ipv4Addr::new(10, 9, 9, 9), 53))),
        Err(Error::NetworkUnreachable)
    );
}

#[test]
fn tcp_connect_transfer_close() {
    let (mut a, mut b) = pair();
    let mut now = Instant::from_millis(1);
    let lh = b.tcp_listen(sa(IP_B, 80), 8).unwrap();
    let ha = a.tcp_connect(now, sa(IP_B, 80)).unwrap();
    exchange(&mut a, &mut b, now);
    assert_eq!(a.tcp_is_connected(ha), Ok(true));
    let (hb, peer) = b.tcp_accept(lh).unwrap();
    assert_eq!(peer, a.tcp_local_addr(ha).unwrap());
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    for _ in 0..100_000 {
        if sent < data.len() {
            sent += a.tcp_send(now, ha, &data[sent..]).unwrap_or(0);
            if sent == data.len() {
                a.tcp_shutdown_write(now, ha).unwrap();
            }
        }
        exchange(&mut a, &mut b, now);
        loop {
            match b.tcp_recv(now, hb, &mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("recv: {e:?}"),
            }
        }
        if got.len() == data.len() && b.tcp_recv(now, hb, &mut buf) == Ok(0) {
            break;
        }
        exchange(&mut a, &mut b, now);
        let next = crate::time::earliest(a.poll_at(), b.poll_at()).unwrap_or(now + crate::time::Duration::from_millis(1));
        now = next.max(now + crate::time::Duration::from_micros(100));
        a.poll(now);
        b.poll(now);
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data);
    b.tcp_close(now, hb);
    a.tcp_close(now, ha);
    for _ in 0..100 {
        exchange(&mut a, &mut b, now);
        now += crate::time::Duration::from_millis(50);
        a.poll(now);
        b.poll(now);
    }
    assert_eq!(b.tcp_connection_count(), 0, "{}", b.stats());
    // The side that closed first keeps a compact TIME_WAIT record.
    assert_eq!(a.tcp_connection_count(), 0);
    assert_eq!(a.tcp_time_wait_count(), 1);
    assert_eq!(a.stats().total_drops(), 0, "{}", a.stats());
}

#[test]
fn tcp_connect_to_closed_port_is_refused() {
    let (mut a, mut b) = pair();
    let now = Instant::from_millis(1);
    let ha = a.tcp_connect(now, sa(IP_B, 81)).unwrap();
    exchange(&mut a, &mut b, now);
    assert_eq!(a.tcp_is_connected(ha), Err(Error::ConnectionRefused));
    assert_eq!(b.stats().drops(Drop::TcpNoListener), 1);
}

/// Both directions carry data over a lossy link, so data segments carry SACK
/// blocks: they must still fit the MTU (a 1460-byte payload with
/// timestamps and SACK options does not).
#[test]
fn tcp_data_segments_with_sack_blocks_fit_the_mtu() {
    let (mut a, mut b) = pair();
    let mut now = Instant::from_millis(1);
    let lh = b.tcp_listen(sa(IP_B, 80), 8).unwrap();
    let ha = a.tcp_connect(now, sa(IP_B, 80)).unwrap();
    exchange(&mut a, &mut b, now);
    let (hb, _) = b.tcp_accept(lh).unwrap();
    let data = vec![7u8; 200_000];
    let mut sent = 0;
    let mut got = 0;
    let mut got_b = 0;
    let mut sent_a = 0;
    let mut sack_data = 0;
    let data_with_sack = |f: &[u8]| -> bool {
        let Ok(ip) = Ipv4Packet::new_checked(&f[14..]) else { return false };
        let (s, d) = (IpAddr::V4(ip.src_addr()), IpAddr::V4(ip.dst_addr()));
        let Ok(t) = crate::wire::TcpPacket::new_checked(ip.payload()) else {
            return false;
        };
        crate::wire::TcpRepr::parse(&t, &s, &d, true).is_ok_and(|r| !r.payload.is_empty() && r.sack_ranges[0].is_some())
    };
    let mut lost = 0u32;
    let mut buf = vec![0u8; 65536];
    for _ in 0..100_000 {
        if sent < data.len() {
            sent += b.tcp_send(now, hb, &data[sent..]).unwrap_or(0);
        }
        if sent_a < data.len() {
            sent_a += a.tcp_send(now, ha, &data[sent_a..]).unwrap_or(0);
        }
        for f in drain(&mut b) {
            assert!(f.len() <= 1514, "B sent a {}-byte frame", f.len());
            sack_data += usize::from(data_with_sack(&f));
            lost += 1;
            if !lost.is_multiple_of(7) {
                a.receive(now, &FrameMeta::PLAIN, &f);
            }
        }
        for f in drain(&mut a) {
            assert!(f.len() <= 1514, "A sent a {}-byte frame", f.len());
            sack_data += usize::from(data_with_sack(&f));
            lost += 1;
            if !lost.is_multiple_of(11) {
                b.receive(now, &FrameMeta::PLAIN, &f);
            }
        }
        while let Ok(n) = a.tcp_recv(now, ha, &mut buf) {
            if n == 0 {
                break;
            }
            got += n;
        }
        while let Ok(n) = b.tcp_recv(now, hb, &mut buf) {
            if n == 0 {
                break;
            }
            got_b += n;
        }
        if got == data.len() && got_b == data.len() {
            break;
        }
        now += crate::time::Duration::from_millis(1);
        a.poll(now);
        b.poll(now);
    }
    assert_eq!((got, got_b), (data.len(), data.len()));
    assert_eq!(a.stats().drops(Drop::FragNeededDf) + b.stats().drops(Drop::FragNeededDf), 0);
    assert!(sack_data > 0, "the scenario never put SACK blocks on a data segment");
}

/// The start of a TCP segment A sent to B, as an ICMP error quotes it:
/// the IPv4 header and the first 8 bytes (ports and sequence number).
fn quoted_tcp(sport: u16, dport: u16, seq: u32, payload_len: usize) -> Vec<u8> {
    let mut quote = vec![0u8; 28];
    Ipv4Repr {
        src_addr: IP_A,
        dst_addr: IP_B,
        next_header: IpProtocol::Tcp,
        payload_len,
        hop_limit: 64,
        dscp_ecn: 0,
        ident: 9,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    }
    .emit(&mut Ipv4Packet::new_unchecked(&mut quote[..]), true);
    quote[20..22].copy_from_slice(&sport.to_be_bytes());
    quote[22..24].copy_from_slice(&dport.to_be_bytes());
    quote[24..28].copy_from_slice(&seq.to_be_bytes());
    quote
}

/// A's SYN to B, kept from B (only ARP is exchanged): (handle, source
/// port, ISS).
fn syn_sent(a: &mut Stack, b: &mut Stack, now: Instant) -> (crate::slab::Handle, u16, u32) {
    let h = a.tcp_connect(now, sa(IP_B, 80)).unwrap();
    a.poll(now);
    for _ in 0..3 {
        for f in drain(a) {
            if f.get(23) == Some(&6) {
                let tcp = &f[34..];
                return (
                    h,
                    u16::from_be_bytes([tcp[0], tcp[1]]),
                    u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
                );
            }
            b.receive(now, &FrameMeta::PLAIN, &f);
        }
        for f in drain(b) {
            a.receive(now, &FrameMeta::PLAIN, &f);
        }
    }
    panic!("no SYN");
}

#[test]
fn icmp_error_for_tcp_must_quote_a_sequence_number_in_flight() {
    // RFC 5927 §4.1: "TCP SHOULD check that the TCP sequence number
    // contained in the payload of the ICMP error message is within the
    // range SND.UNA =< SEG.SEQ < SND.NXT."
    let (mut a, mut b) = pair();
    let now = Instant::from_millis(1);
    let (h, sport, iss) = syn_sent(&mut a, &mut b, now);
    let unreachable = |quote: &[u8], b: &mut Stack, a: &mut Stack| {
        let msg = Icmpv4Repr::DstUnreachable {
            reason: Icmpv4DstUnreachable::HostUnreachable,
            next_hop_mtu: 0,
            invoking: quote,
        };
        b.send_icmpv4(now, Some(IP_B), IP_A, &msg);
        for f in drain(b) {
            a.receive(now, &FrameMeta::PLAIN, &f);
        }
    };
    // A blind attacker who guessed the ports but not the ISS: ignored.
    for wrong in [iss.wrapping_sub(1), iss.wrapping_add(1), iss ^ 0x8000_0000] {
        unreachable(&quoted_tcp(sport, 80, wrong, 20), &mut b, &mut a);
    }
    assert_eq!(a.stats().drops(Drop::TcpIcmpOutOfWindow), 3);
    assert_eq!(a.tcp_is_connected(h), Ok(false), "still in SYN-SENT");
    // The genuine error (quoting the SYN itself) ends the attempt.
    unreachable(&quoted_tcp(sport, 80, iss, 20), &mut b, &mut a);
    assert_eq!(a.tcp_is_connected(h), Err(Error::HostUnreachable));
    assert_eq!(a.stats().drops(Drop::TcpIcmpOutOfWindow), 3);
}

#[test]
fn packet_too_big_for_tcp_must_quote_a_sequence_number_in_flight() {
    // RFC 5927 §7.2: forged "fragmentation needed" messages can make a
    // connection use tiny segments; the sequence check guards it too.
    let (mut a, mut b) = pair();
    let now = Instant::from_millis(1);
    let (_h, sport, iss) = syn_sent(&mut a, &mut b, now);
    let too_big = |quote: &[u8], b: &mut Stack, a: &mut Stack| {
        let msg = Icmpv4Repr::DstUnreachable {
            reason: Icmpv4DstUnreachable::FragRequired,
            next_hop_mtu: 1000,
            invoking: quote,
        };
        b.send_icmpv4(now, Some(IP_B), IP_A, &msg);
        for f in drain(b) {
            a.receive(now, &FrameMeta::PLAIN, &f);
        }
    };
    too_big(&quoted_tcp(sport, 80, iss.wrapping_add(5000), 1480), &mut b, &mut a);
    assert_eq!(a.path_mtu(now, IpAddr::V4(IP_B)), 1500, "a forged report changed the path MTU");
    assert_eq!(a.stats().drops(Drop::TcpIcmpOutOfWindow), 1);
    // No connection at all on the quoted ports: not ours either.
    too_big(&quoted_tcp(sport.wrapping_add(1), 80, iss, 1480), &mut b, &mut a);
    assert_eq!(a.path_mtu(now, IpAddr::V4(IP_B)), 1500);
    too_big(&quoted_tcp(sport, 80, iss, 1480), &mut b, &mut a);
    assert_eq!(a.path_mtu(now, IpAddr::V4(IP_B)), 1000);
}

#[test]
fn listener_count_is_bounded_by_its_own_limit() {
    let cidr = IpCidr::new(IpAddr::V4(IP_A), 24).unwrap();
    let mut config = Config::new(MAC_A, [1; 32]).address(cidr);
    config.limits.tcp_listeners = 2;
    let mut a = Stack::new(config, Instant::ZERO);
    let l1 = a.tcp_listen(sa(IP_A, 1), 8).unwrap();
    a.tcp_listen(sa(IP_A, 2), 8).unwrap();
    assert_eq!(a.tcp_listen(sa(IP_A, 3), 8), Err(Error::WouldExceedLimit));
    // Closing one makes room again.
    a.tcp_close_listener(Instant::ZERO, l1);
    a.tcp_listen(sa(IP_A, 3), 8).unwrap();
}
