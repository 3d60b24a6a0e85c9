//! IPv6 engine tests at the frame level: stacks wired back to back in
//! virtual time (DAD, NDP, echo, fragmentation, TCP, SLAAC from a crafted
//! router advertisement, DAD conflicts).

use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::test_util::drain;
use super::*;
use crate::config::{Ipv6Config, Ipv6Mode};
use crate::ip::ipv6_addr::{AddrOrigin, AddrState};
use crate::link::FrameMeta;
use crate::time::Duration;
use crate::wire::icmpv6::Icmpv6Repr;
use crate::wire::ndisc::{NdiscOption, NdiscOptions, NdiscRepr, PREFIX_FLAG_AUTONOMOUS, PREFIX_FLAG_ON_LINK, PrefixInfo, RouterAdvert};
use crate::wire::{IpProtocol, Ipv6Packet, Ipv6Repr, ethernet, ipv6};

const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xa]);
const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xb]);
const MAC_R: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x1]);

fn a6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn stack6(mac: EthernetAddress, addr: Option<&str>, seed: u8) -> Stack {
    let mut c = Config::new(mac, [seed; 32]);
    c.ipv6 = Ipv6Config {
        mode: Ipv6Mode::Eui64,
        ..Ipv6Config::default()
    };
    if let Some(a) = addr {
        c = c.address(a.parse().unwrap());
    }
    Stack::new(c, Instant::ZERO)
}

/// Run both stacks from `from` for `secs` seconds in 10 ms steps, moving
/// frames between them; returns every frame each sent.
fn run(a: &mut Stack, b: &mut Stack, from: Instant, secs: u64) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    let mut t = from;
    let end = from + Duration::from_secs(secs);
    while t <= end {
        a.poll(t);
        b.poll(t);
        for _ in 0..100 {
            let fa = drain(a);
            let fb = drain(b);
            if fa.is_empty() && fb.is_empty() {
                break;
            }
            for f in &fa {
                b.receive(t, &FrameMeta::PLAIN, f);
            }
            for f in &fb {
                a.receive(t, &FrameMeta::PLAIN, f);
            }
            sa.extend(fa);
            sb.extend(fb);
        }
        t += Duration::from_millis(10);
    }
    (sa, sb)
}

fn state(s: &Stack, addr: &str) -> Option<AddrState> {
    s.ipv6_addresses().find(|e| e.addr == a6(addr)).map(|e| e.state)
}

fn ll(mac: EthernetAddress) -> Ipv6Addr {
    crate::ip::ipv6_addr::with_iid(a6("fe80::"), crate::ip::ipv6_addr::eui64_iid(mac))
}

#[test]
fn dad_then_echo_udp_fragments_and_tcp() {
    let mut a = stack6(MAC_A, Some("fd00::a/64"), 1);
    let mut b = stack6(MAC_B, Some("fd00::b/64"), 2);
    assert_eq!(state(&a, "fd00::a"), Some(AddrState::Tentative));
    // A tentative address cannot be used yet.
    assert_eq!(
        a.udp_bind(SocketAddr::new(IpAddr::V6(a6("fd00::a")), 0)),
        Err(Error::AddressNotAvailable)
    );
    let (fa, _) = run(&mut a, &mut b, Instant::ZERO, 3);
    // DAD: one NS from :: per address, to the solicited-node group.
    let dad_probes = fa
        .iter()
        .filter(|f| {
            let ip = Ipv6Packet::new_checked(&f[ethernet::HEADER_LEN..]).unwrap();
            ip.src_addr().is_unspecified() && ip.next_header() == IpProtocol::Icmpv6 && ip.payload()[0] == 135
        })
        .count();
    assert_eq!(dad_probes, 2);
    assert_eq!(state(&a, "fd00::a"), Some(AddrState::Preferred));
    assert_eq!(state(&b, "fd00::b"), Some(AddrState::Preferred));
    assert_eq!(
        a.ipv6_addresses().find(|e| e.origin == AddrOrigin::LinkLocal).map(|e| e.addr),
        Some(ll(MAC_A))
    );

    // Ping, global and link-local.
    let t = Instant::from_secs(4);
    let h = a.echo_open(Some(77)).unwrap();
    a.echo_send(t, h, IpAddr::V6(a6("fd00::b")), 1, b"hello").unwrap();
    a.echo_send(t, h, IpAddr::V6(ll(MAC_B)), 2, b"local").unwrap();
    run(&mut a, &mut b, t, 1);
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while let Ok(EchoEvent::Reply { from, seq_no, len }) = a.echo_recv(h, &mut buf) {
        got.push((from, seq_no, buf[..len].to_vec()));
    }
    assert_eq!(
        got,
        [
            (IpAddr::V6(a6("fd00::b")), 1, b"hello".to_vec()),
            (IpAddr::V6(ll(MAC_B)), 2, b"local".to_vec())
        ]
    );
    // The neighbour is known now (the solicited NA made it REACHABLE).
    let n = a.ipv6_neighbors().find(|n| n.ip == IpAddr::V6(a6("fd00::b"))).unwrap();
    assert_eq!(n.lladdr, Some(MAC_B));

    // A 4000-byte UDP datagram is fragmented and reassembled.
    let t = Instant::from_secs(6);
    let ub = b.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 9)).unwrap();
    let ua = a.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)).unwrap();
    let data: Vec<u8> = (0..4000u32).map(|i| (i * 7) as u8).collect();
    a.udp_send_to(t, ua, &data, Some(SocketAddr::new(IpAddr::V6(a6("fd00::b")), 9)))
        .unwrap();
    let (fa, _) = run(&mut a, &mut b, t, 1);
    assert_eq!(fa.iter().filter(|f| f[ethernet::HEADER_LEN + 6] == 44).count(), 3);
    let mut rbuf = vec![0u8; 5000];
    let (n, from) = b.udp_recv_from(ub, &mut rbuf).unwrap();
    assert_eq!(&rbuf[..n], &data[..]);
    assert_eq!(from.ip(), IpAddr::V6(a6("fd00::a")));
    assert_eq!(b.stats().traffic.ipv6_reassembled, 1);

    // A closed port answers with an ICMPv6 port unreachable, which a
    // connected socket sees as "connection refused".
    let uc = a.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)).unwrap();
    a.udp_connect(uc, SocketAddr::new(IpAddr::V6(a6("fd00::b")), 10)).unwrap();
    a.udp_send_to(t, uc, b"x", None).unwrap();
    run(&mut a, &mut b, t + Duration::from_secs(1), 1);
    assert_eq!(a.udp_recv_from(uc, &mut rbuf), Err(Error::ConnectionRefused));

    // TCP over IPv6.
    let t = Instant::from_secs(10);
    let l = b.tcp_listen(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 80), 4).unwrap();
    let c = a.tcp_connect(t, SocketAddr::new(IpAddr::V6(a6("fd00::b")), 80)).unwrap();
    run(&mut a, &mut b, t, 1);
    assert!(a.tcp_is_connected(c).unwrap());
    let (s, peer) = b.tcp_accept(l).unwrap();
    assert_eq!(peer.ip(), IpAddr::V6(a6("fd00::a")));
    let payload: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    let mut sent = 0;
    let mut received = Vec::new();
    let mut t = t + Duration::from_secs(1);
    for _ in 0..200 {
        if sent < payload.len() {
            sent += a.tcp_send(t, c, &payload[sent..]).unwrap_or(0);
        }
        run(&mut a, &mut b, t, 0);
        let mut chunk = [0u8; 8192];
        while let Ok(n) = b.tcp_recv(t, s, &mut chunk) {
            if n == 0 {
                break;
            }
            received.extend_from_slice(&chunk[..n]);
        }
        if received.len() == payload.len() {
            break;
        }
        t += Duration::from_millis(50);
    }
    assert_eq!(received, payload);
    // Segments fill the IPv6 MSS (1500 - 40 - 20 = 1440 bytes of payload
    // minus options): none of them is fragmented.
    assert_eq!(a.stats().traffic.ipv6_frags_out, 3);
}

#[test]
fn dad_detects_a_duplicate_and_a_probe_for_our_tentative_address() {
    // B holds fd00::1 already; A configures it too: B's NA answers A's probe.
    let mut b = stack6(MAC_B, Some("fd00::1/64"), 2);
    let mut a = stack6(MAC_A, None, 1);
    run(&mut a, &mut b, Instant::ZERO, 3);
    assert_eq!(state(&b, "fd00::1"), Some(AddrState::Preferred));
    let t = Instant::from_secs(4);
    a.add_address(t, "fd00::1/64".parse().unwrap()).unwrap();
    run(&mut a, &mut b, t, 3);
    assert_eq!(state(&a, "fd00::1"), Some(AddrState::Duplicate));
    assert_eq!(state(&b, "fd00::1"), Some(AddrState::Preferred));
    assert!(!a.has_address(&IpAddr::V6(a6("fd00::1"))));
    assert_eq!(a.stats().drops(Drop::NdpDadFailed), 1);

    // Two nodes probing for the same tentative address at the same time:
    // each sees the other's probe (RFC 4862 §5.4.3) and neither keeps it.
    let t = Instant::from_secs(8);
    a.add_address(t, "fd00::2/64".parse().unwrap()).unwrap();
    b.add_address(t, "fd00::2/64".parse().unwrap()).unwrap();
    run(&mut a, &mut b, t, 3);
    assert_eq!(state(&a, "fd00::2"), Some(AddrState::Duplicate));
    assert_eq!(state(&b, "fd00::2"), Some(AddrState::Duplicate));
}

/// Build a router advertisement frame from the router R.
fn ra_frame(router_lifetime: u16, prefix: PrefixInfo, dns: Ipv6Addr) -> Vec<u8> {
    let mut opts = [0u8; 128];
    let mut n = 0;
    let dns_bytes = dns.octets();
    for o in [
        NdiscOption::SourceLinkLayer(MAC_R),
        NdiscOption::Mtu(1400),
        NdiscOption::PrefixInfo(prefix),
        NdiscOption::Rdnss {
            lifetime: 600,
            addresses: &dns_bytes,
        },
    ] {
        n += o.emit(&mut opts[n..]);
    }
    let icmp = Icmpv6Repr::Ndisc(NdiscRepr::RouterAdvert(RouterAdvert {
        hop_limit: 42,
        flags: 0,
        router_lifetime,
        reachable_time: 0,
        retrans_time: 0,
        options: NdiscOptions::new_checked(&opts[..n]).unwrap(),
    }));
    let (src, dst) = (ll(MAC_R), a6("ff02::1"));
    let mut f = vec![0u8; ethernet::HEADER_LEN + ipv6::HEADER_LEN + icmp.buffer_len()];
    EthernetRepr {
        src_addr: MAC_R,
        dst_addr: EthernetAddress([0x33, 0x33, 0, 0, 0, 1]),
        ethertype: EtherType::Ipv6,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Icmpv6,
        payload_len: icmp.buffer_len(),
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut f[ethernet::HEADER_LEN..]));
    icmp.emit(&mut f[ethernet::HEADER_LEN + ipv6::HEADER_LEN..], &src, &dst);
    f
}

use crate::wire::EthernetRepr;

#[test]
fn router_advert_gives_slaac_router_mtu_dns_and_lifetimes() {
    let mut a = stack6(MAC_A, None, 1);
    let mut quiet = stack6(MAC_B, None, 2);
    let (fa, _) = run(&mut a, &mut quiet, Instant::ZERO, 3);
    // Router solicitations: from the link-local address, to all-routers.
    let rs: Vec<_> = fa
        .iter()
        .filter_map(|f| Ipv6Packet::new_checked(&f[ethernet::HEADER_LEN..]).ok())
        .filter(|p| p.next_header() == IpProtocol::Icmpv6 && p.payload()[0] == 133)
        .map(|p| (p.src_addr(), p.dst_addr(), p.hop_limit()))
        .collect();
    assert_eq!(rs.first(), Some(&(ll(MAC_A), a6("ff02::2"), 255)));
    assert!(!a.ipv6_status().router_advert_seen);

    let t = Instant::from_secs(4);
    let prefix = PrefixInfo {
        prefix_len: 64,
        flags: PREFIX_FLAG_ON_LINK | PREFIX_FLAG_AUTONOMOUS,
        valid_lifetime: 100,
        preferred_lifetime: 50,
        prefix: a6("fd00:1::"),
    };
    a.receive(t, &FrameMeta::PLAIN, &ra_frame(1800, prefix, a6("fd00::53")));
    assert!(a.ipv6_status().router_advert_seen);
    let slaac = crate::ip::ipv6_addr::with_iid(a6("fd00:1::"), crate::ip::ipv6_addr::eui64_iid(MAC_A));
    let st = |a: &Stack| a.ipv6_addresses().find(|e| e.addr == slaac).map(|e| e.state);
    assert_eq!(st(&a), Some(AddrState::Tentative));
    assert_eq!(a.ipv6_default_routers().map(|r| r.addr).collect::<Vec<_>>(), [ll(MAC_R)]);
    assert_eq!(a.ipv6_dns_servers().collect::<Vec<_>>(), [a6("fd00::53")]);
    assert_eq!(a.path_mtu(t, IpAddr::V6(a6("2001:db8::1"))), 1400);
    run(&mut a, &mut quiet, t, 2);
    assert_eq!(st(&a), Some(AddrState::Preferred));
    // Routed through the router (its address came with the RA).
    let t = Instant::from_secs(7);
    let h = a.echo_open(None).unwrap();
    a.echo_send(t, h, IpAddr::V6(a6("2001:db8::1")), 1, b"x").unwrap();
    let out = drain(&mut a);
    let f = out.last().unwrap();
    assert_eq!(EthernetFrame::new_checked(&f[..]).unwrap().dst_addr(), MAC_R);
    let ip = Ipv6Packet::new_checked(&f[ethernet::HEADER_LEN..]).unwrap();
    assert_eq!((ip.src_addr(), ip.hop_limit()), (slaac, 42));
    // Preferred lifetime (50 s) -> deprecated; valid (100 s) -> gone.
    a.poll(Instant::from_secs(4 + 50));
    assert_eq!(st(&a), Some(AddrState::Deprecated));
    // A new RA with a short valid lifetime: the two-hour rule keeps the
    // remaining 50 s (<= 2 h) instead of 10 s.
    let t = Instant::from_secs(55);
    let short = PrefixInfo {
        valid_lifetime: 10,
        preferred_lifetime: 10,
        ..prefix
    };
    a.receive(t, &FrameMeta::PLAIN, &ra_frame(1800, short, a6("fd00::53")));
    a.poll(Instant::from_secs(70));
    assert_eq!(st(&a), Some(AddrState::Deprecated));
    a.poll(Instant::from_secs(104));
    assert_eq!(st(&a), None);
    assert!(!a.has_address(&IpAddr::V6(slaac)));
    // Router lifetime zero removes the router.
    a.receive(Instant::from_secs(105), &FrameMeta::PLAIN, &ra_frame(0, prefix, a6("fd00::53")));
    assert_eq!(a.ipv6_default_routers().count(), 0);
}

#[test]
fn hosts_ignore_router_solicitations_and_bad_hop_limits() {
    let mut a = stack6(MAC_A, None, 1);
    let mut b = stack6(MAC_B, None, 2);
    let (fa, fb) = run(&mut a, &mut b, Instant::ZERO, 3);
    // B's router solicitations reached A and got no answer: a host is not
    // in the all-routers group, and sends no advertisement.
    assert!(fb.iter().any(|f| f.len() > 54 && f[ethernet::HEADER_LEN + 40] == 133));
    assert!(a.stats().drops(Drop::Ipv6NotForUs) >= 1);
    assert!(!fa.iter().any(|f| f.len() > 54 && f[ethernet::HEADER_LEN + 40] == 134));
    // An RA with hop limit 64 (could have been forwarded) is invalid.
    let mut f = ra_frame(
        1800,
        PrefixInfo {
            prefix_len: 64,
            flags: PREFIX_FLAG_AUTONOMOUS,
            valid_lifetime: 100,
            preferred_lifetime: 50,
            prefix: a6("fd00:1::"),
        },
        a6("fd00::53"),
    );
    f[ethernet::HEADER_LEN + 7] = 64;
    a.receive(Instant::from_secs(4), &FrameMeta::PLAIN, &f);
    assert_eq!(a.stats().drops(Drop::NdpInvalid), 1);
    assert_eq!(a.ipv6_default_routers().count(), 0);
}

// ---- input rules, driven with crafted frames --------------------------------

const PEER: &str = "fd00::b";
const US: &str = "fd00::a";

/// A stack with fd00::a/64 usable at once (DAD off) that already knows
/// fd00::b's MAC (from a solicitation), and the frames it sent so far
/// drained.
fn ready() -> Stack {
    let mut c = Config::new(MAC_A, [1; 32]).address("fd00::a/64".parse().unwrap());
    c.ipv6 = Ipv6Config {
        mode: Ipv6Mode::Eui64,
        dup_addr_detect_transmits: 0,
        router_discovery: false,
        ..Ipv6Config::default()
    };
    let mut s = Stack::new(c, Instant::ZERO);
    s.poll(Instant::ZERO);
    let mut opts = [0u8; 8];
    let n = NdiscOption::SourceLinkLayer(MAC_B).emit(&mut opts);
    let ns = Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
        target: a6(US),
        options: NdiscOptions::new_checked(&opts[..n]).unwrap(),
    });
    let mut body = vec![0u8; ns.buffer_len()];
    ns.emit(&mut body, &a6(PEER), &a6("ff02::1:ff00:a"));
    let f = frame(a6(PEER), a6("ff02::1:ff00:a"), IpProtocol::Icmpv6, 255, &body);
    s.receive(Instant::ZERO, &FrameMeta::PLAIN, &f);
    drain(&mut s);
    s
}

fn frame(src: Ipv6Addr, dst: Ipv6Addr, next: IpProtocol, hop_limit: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN + ipv6::HEADER_LEN + payload.len()];
    let dst_mac = if dst.is_multicast() {
        crate::ip::ipv6_addr::multicast_mac(dst)
    } else {
        MAC_A
    };
    EthernetRepr {
        src_addr: MAC_B,
        dst_addr: dst_mac,
        ethertype: EtherType::Ipv6,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: next,
        payload_len: payload.len(),
        hop_limit,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut f[ethernet::HEADER_LEN..]));
    f[ethernet::HEADER_LEN + ipv6::HEADER_LEN..].copy_from_slice(payload);
    f
}

/// A UDP datagram from fd00::b:5000 to fd00::a:`port` (checksum filled).
fn udp(port: u16, data: &[u8]) -> Vec<u8> {
    let mut u = vec![0u8; 8 + data.len()];
    let repr = crate::wire::UdpRepr {
        src_port: 5000,
        dst_port: port,
    };
    let mut p = crate::wire::UdpPacket::new_unchecked(&mut u[..]);
    repr.emit_header(&mut p, data.len());
    p.payload_mut().copy_from_slice(data);
    p.fill_checksum(&IpAddr::V6(a6(PEER)), &IpAddr::V6(a6(US)));
    u
}

/// The ICMPv6 messages `s` sent: (type, code, rest-of-header word).
fn icmp_sent(s: &mut Stack) -> Vec<(u8, u8, u32)> {
    drain(s)
        .iter()
        .filter_map(|f| {
            let ip = Ipv6Packet::new_checked(&f[ethernet::HEADER_LEN..]).ok()?;
            (ip.next_header() == IpProtocol::Icmpv6).then(|| {
                let p = ip.payload();
                (p[0], p[1], u32::from_be_bytes([p[4], p[5], p[6], p[7]]))
            })
        })
        .collect()
}

#[test]
fn extension_header_rules() {
    let t = Instant::from_secs(1);
    let mut s = ready();
    let sock = s.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 9)).unwrap();
    let mut buf = [0u8; 64];

    // Destination options with PadN, then UDP: delivered.
    let mut p = vec![17u8, 0, 1, 4, 0, 0, 0, 0];
    p.extend(udp(9, b"opts"));
    s.receive(t, &FrameMeta::PLAIN, &frame(a6(PEER), a6(US), IpProtocol::Ipv6Opts, 64, &p));
    assert_eq!(s.udp_recv_from(sock, &mut buf).map(|(n, _)| n), Ok(4));

    // An unknown option with action 00: skipped; 01: silently discarded;
    // 10: discarded with a Parameter Problem code 2 pointing at it.
    for (kind, delivered, error) in [(0x1e, true, false), (0x5e, false, false), (0x9e, false, true)] {
        let mut p = vec![17u8, 0, kind, 4, 0, 0, 0, 0];
        p.extend(udp(9, b"x"));
        s.receive(t, &FrameMeta::PLAIN, &frame(a6(PEER), a6(US), IpProtocol::Ipv6Opts, 64, &p));
        assert_eq!(s.udp_recv_from(sock, &mut buf).is_ok(), delivered, "option {kind:#x}");
        let sent = icmp_sent(&mut s);
        if error {
            // RFC 4443 §3.4 pointer: 40 (fixed header) + 2.
            assert_eq!(sent, [(4, 2, 42)]);
        } else {
            assert!(sent.is_empty(), "{sent:?}");
        }
    }

    // Routing header type 0 with segments left: Parameter Problem code 0
    // pointing at the routing type (RFC 5095, RFC 8200 §4.4).
    let mut p = vec![17u8, 2, 0, 1, 0, 0, 0, 0];
    p.extend([0u8; 16]);
    p.extend(udp(9, b"rh0"));
    s.receive(t, &FrameMeta::PLAIN, &frame(a6(PEER), a6(US), IpProtocol::Ipv6Route, 64, &p));
    assert!(s.udp_recv_from(sock, &mut buf).is_err());
    assert_eq!(icmp_sent(&mut s), [(4, 0, 42)]);
    // Segments left zero: ignored, the datagram is delivered.
    let mut p = vec![17u8, 2, 0, 0, 0, 0, 0, 0];
    p.extend([0u8; 16]);
    p.extend(udp(9, b"rh0"));
    s.receive(t, &FrameMeta::PLAIN, &frame(a6(PEER), a6(US), IpProtocol::Ipv6Route, 64, &p));
    assert!(s.udp_recv_from(sock, &mut buf).is_ok());

    // An unknown next header: Parameter Problem code 1 pointing at the
    // Next Header field (offset 6 of the fixed header).
    s.receive(
        t,
        &FrameMeta::PLAIN,
        &frame(a6(PEER), a6(US), IpProtocol::Unknown(253), 64, &[0; 8]),
    );
    assert_eq!(icmp_sent(&mut s), [(4, 1, 6)]);
    // A hop-by-hop header anywhere but first: code 1 too (pointer: the
    // destination options header's Next Header field at 40).
    let mut p = vec![0u8, 0, 1, 4, 0, 0, 0, 0];
    p.extend([17u8, 0, 1, 4, 0, 0, 0, 0]);
    s.receive(t, &FrameMeta::PLAIN, &frame(a6(PEER), a6(US), IpProtocol::Ipv6Opts, 64, &p));
    assert_eq!(icmp_sent(&mut s), [(4, 1, 40)]);
    // No error about a packet to a multicast address (RFC 4443 §2.4 e.3).
    s.receive(
        t,
        &FrameMeta::PLAIN,
        &frame(a6(PEER), a6("ff02::1"), IpProtocol::Unknown(253), 64, &[0; 8]),
    );
    assert!(icmp_sent(&mut s).is_empty());
    assert!(s.stats().drops(Drop::Icmpv6ErrorNotSent) >= 1);
}

#[test]
fn fragments_overlaps_and_atomic() {
    let t = Instant::from_secs(1);
    let mut s = ready();
    let sock = s.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 9)).unwrap();
    let mut buf = [0u8; 256];
    let dgram = udp(9, &[7u8; 40]); // 48 bytes
    let frag = |off: usize, more: bool, ident: u32, data: &[u8]| {
        let mut p = vec![0u8; 8];
        crate::wire::ipv6_ext::FragmentHeader {
            next_header: IpProtocol::Udp,
            offset: off,
            more_frags: more,
            ident,
        }
        .emit(&mut p);
        p.extend_from_slice(data);
        frame(a6(PEER), a6(US), IpProtocol::Ipv6Frag, 64, &p)
    };
    // RFC 6946: an atomic fragment is processed on its own.
    s.receive(t, &FrameMeta::PLAIN, &frag(0, false, 1, &dgram));
    assert_eq!(s.udp_recv_from(sock, &mut buf).map(|(n, _)| n), Ok(40));
    assert_eq!(s.stats().traffic.ipv6_atomic_frags_in, 1);
    // Two fragments, in reverse order: reassembled.
    s.receive(t, &FrameMeta::PLAIN, &frag(24, false, 2, &dgram[24..]));
    s.receive(t, &FrameMeta::PLAIN, &frag(0, true, 2, &dgram[..24]));
    assert_eq!(s.udp_recv_from(sock, &mut buf).map(|(n, _)| n), Ok(40));
    // RFC 5722: overlapping fragments discard the whole datagram, even
    // when the rest would complete it.
    s.receive(t, &FrameMeta::PLAIN, &frag(0, true, 3, &dgram[..24]));
    s.receive(t, &FrameMeta::PLAIN, &frag(16, true, 3, &dgram[16..32]));
    s.receive(t, &FrameMeta::PLAIN, &frag(24, false, 3, &dgram[24..]));
    assert!(s.udp_recv_from(sock, &mut buf).is_err());
    assert_eq!(s.stats().drops(Drop::FragOverlap), 1);
    // RFC 7112: a first fragment that cuts the UDP header: discarded,
    // Parameter Problem code 3.
    drain(&mut s);
    s.receive(t, &FrameMeta::PLAIN, &frag(0, true, 5, &dgram[..0]));
    let mut opts_first = vec![17u8, 0, 1, 4, 0, 0, 0, 0];
    opts_first.extend_from_slice(&dgram[..4]);
    let mut p = vec![0u8; 8];
    crate::wire::ipv6_ext::FragmentHeader {
        next_header: IpProtocol::Ipv6Opts,
        offset: 0,
        more_frags: true,
        ident: 6,
    }
    .emit(&mut p);
    p.extend(opts_first);
    s.receive(t, &FrameMeta::PLAIN, &frame(a6(PEER), a6(US), IpProtocol::Ipv6Frag, 64, &p));
    assert_eq!(s.stats().drops(Drop::Ipv6IncompleteChain), 2);
    let errors: Vec<_> = icmp_sent(&mut s).into_iter().filter(|m| m.0 < 128).collect();
    assert_eq!(errors, [(4, 3, 0), (4, 3, 0)]);
    // A lone first fragment times out after 60 s: Time Exceeded code 1.
    drain(&mut s);
    s.receive(t, &FrameMeta::PLAIN, &frag(0, true, 4, &dgram[..24]));
    s.poll(t + Duration::from_secs(61));
    // (Neighbour discovery may revalidate fd00::b meanwhile: errors only.)
    let errors: Vec<_> = icmp_sent(&mut s).into_iter().filter(|m| m.0 < 128).collect();
    assert_eq!(errors, [(3, 1, 0)]);
}

#[test]
fn packet_too_big_lowers_the_path_mtu_but_not_below_1280() {
    let t = Instant::from_secs(1);
    let mut s = ready();
    let far = a6("fd00:9::1");
    s.set_ipv6_gateway(Some(a6(PEER)));
    // A PTB quoting a packet we sent to `far`.
    let ptb = |mtu: u32| {
        let mut quoted = vec![0u8; 48];
        Ipv6Repr {
            src_addr: a6(US),
            dst_addr: far,
            next_header: IpProtocol::Udp,
            payload_len: 1452,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut Ipv6Packet::new_unchecked(&mut quoted[..]));
        let repr = Icmpv6Repr::PacketTooBig { mtu, invoking: &quoted };
        let mut body = vec![0u8; repr.buffer_len()];
        repr.emit(&mut body, &a6(PEER), &a6(US));
        frame(a6(PEER), a6(US), IpProtocol::Icmpv6, 64, &body)
    };
    assert_eq!(s.path_mtu(t, IpAddr::V6(far)), 1500);
    s.receive(t, &FrameMeta::PLAIN, &ptb(1000));
    assert_eq!(s.path_mtu(t, IpAddr::V6(far)), 1500, "below 1280 is ignored");
    s.receive(t, &FrameMeta::PLAIN, &ptb(1400));
    assert_eq!(s.path_mtu(t, IpAddr::V6(far)), 1400);
    // A 2000-byte datagram now leaves in fragments of at most 1400 bytes.
    let u = s.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)).unwrap();
    s.udp_send_to(t, u, &[1u8; 2000], Some(SocketAddr::new(IpAddr::V6(far), 9)))
        .unwrap();
    let frames = drain(&mut s);
    assert_eq!(frames.len(), 2);
    assert!(frames.iter().all(|f| f.len() - ethernet::HEADER_LEN <= 1400));
    // Not sticky: the entry ages out (RFC 8201 §4).
    assert_eq!(s.path_mtu(t + Duration::from_secs(3600), IpAddr::V6(far)), 1500);
}

#[test]
fn mld_reports_solicited_node_groups_and_answers_queries() {
    let mut a = stack6(MAC_A, Some("fd00::a/64"), 1);
    let mut quiet = stack6(MAC_B, None, 2);
    let (fa, _) = run(&mut a, &mut quiet, Instant::ZERO, 3);
    let reports: Vec<_> = fa
        .iter()
        .filter_map(|f| {
            let ip = Ipv6Packet::new_checked(&f[ethernet::HEADER_LEN..]).ok()?;
            (ip.next_header() == IpProtocol::HopByHop).then(|| {
                let p = ip.payload();
                // Router Alert in the hop-by-hop header, then an MLDv2 report.
                assert_eq!(&p[..4], &[58, 0, 5, 2]);
                (ip.dst_addr(), ip.hop_limit(), p[8], u16::from_be_bytes([p[14], p[15]]))
            })
        })
        .collect();
    // Robustness 2: each state change is reported twice. fd00::a and
    // fe80::ff:fe00:a share their low 24 bits: one group, ff02::1:ff00:a.
    assert!(reports.len() >= 2, "{reports:?}");
    assert!(reports.iter().all(|&(dst, hl, t, _)| dst == a6("ff02::16") && hl == 1 && t == 143));
    assert_eq!(reports.last().map(|r| r.3), Some(1));
    // A general query is answered within its maximum response delay.
    let mut q = [0u8; 28];
    let query = Icmpv6Repr::Mld(crate::wire::MldRepr::Query {
        max_resp_code: 1000,
        group: Ipv6Addr::UNSPECIFIED,
    });
    query.emit(&mut q, &ll(MAC_R), &a6("ff02::1"));
    // RFC 3810 §5: queries carry a Router Alert in a Hop-by-Hop header.
    let mut body = crate::wire::ipv6_ext::router_alert_hop_by_hop(IpProtocol::Icmpv6).to_vec();
    body.extend_from_slice(&q[..24]);
    let qf = frame(ll(MAC_R), a6("ff02::1"), IpProtocol::HopByHop, 1, &body);
    let t = Instant::from_secs(5);
    a.receive(t, &FrameMeta::PLAIN, &qf);
    a.poll(t + Duration::from_millis(1000));
    let after: Vec<u8> = drain(&mut a)
        .iter()
        .filter_map(|f| {
            let ip = Ipv6Packet::new_checked(&f[ethernet::HEADER_LEN..]).ok()?;
            (ip.next_header() == IpProtocol::HopByHop).then(|| ip.payload()[8 + 8])
        })
        .collect();
    // One report, its record of type MODE_IS_EXCLUDE (2).
    assert_eq!(after, [2]);
}

#[test]
fn redirect_to_a_better_first_hop() {
    let t = Instant::from_secs(1);
    let mut s = ready();
    let router = ll(MAC_B);
    s.set_ipv6_gateway(Some(router));
    let dst = a6("fd00:9::1");
    let better = ll(MAC_R);
    // RFC 4861 §8.1: from the current first hop, link-local, hop limit 255.
    let mut opts = [0u8; 8];
    let n = NdiscOption::TargetLinkLayer(MAC_R).emit(&mut opts);
    let redirect = Icmpv6Repr::Ndisc(NdiscRepr::Redirect {
        target: better,
        destination: dst,
        options: NdiscOptions::new_checked(&opts[..n]).unwrap(),
    });
    let mut body = vec![0u8; redirect.buffer_len()];
    redirect.emit(&mut body, &router, &a6(US));
    // From someone else: ignored.
    s.receive(
        t,
        &FrameMeta::PLAIN,
        &frame(ll(MAC_R), a6(US), IpProtocol::Icmpv6, 255, &{
            let mut b = body.clone();
            redirect.emit(&mut b, &ll(MAC_R), &a6(US));
            b
        }),
    );
    assert_eq!(s.stats().drops(Drop::NdpInvalid), 1);
    s.receive(t, &FrameMeta::PLAIN, &frame(router, a6(US), IpProtocol::Icmpv6, 255, &body));
    // Now packets to `dst` go to the better router's MAC (from the TLLA).
    let h = s.echo_open(None).unwrap();
    s.echo_send(t, h, IpAddr::V6(dst), 1, b"x").unwrap();
    let f = drain(&mut s).pop().unwrap();
    assert_eq!(EthernetFrame::new_checked(&f[..]).unwrap().dst_addr(), MAC_R);
}

/// A host route the user made is not replaced by a redirect (nor removed
/// when the redirect's lifetime ends); the redirect's target is still
/// learned.
#[test]
fn redirect_keeps_a_users_host_route() {
    let t = Instant::from_secs(1);
    let mut s = ready();
    let router = ll(MAC_B);
    let dst = a6("fd00:9::1");
    let host = crate::wire::IpCidr::new(IpAddr::V6(dst), 128).unwrap();
    s.add_route(crate::ip::route::Route {
        cidr: host,
        via: Some(IpAddr::V6(router)),
        metric: 7,
    })
    .unwrap();
    let mut opts = [0u8; 8];
    let n = NdiscOption::TargetLinkLayer(MAC_R).emit(&mut opts);
    let redirect = Icmpv6Repr::Ndisc(NdiscRepr::Redirect {
        target: ll(MAC_R),
        destination: dst,
        options: NdiscOptions::new_checked(&opts[..n]).unwrap(),
    });
    let mut body = vec![0u8; redirect.buffer_len()];
    redirect.emit(&mut body, &router, &a6(US));
    s.receive(t, &FrameMeta::PLAIN, &frame(router, a6(US), IpProtocol::Icmpv6, 255, &body));
    assert_eq!(s.stats().drops(Drop::NdpRedirectKeptRoute), 1);
    let routes = |s: &Stack| {
        s.routes()
            .iter()
            .filter(|r| r.cidr == host)
            .map(|r| (r.via, r.metric))
            .collect::<Vec<_>>()
    };
    assert_eq!(routes(&s), [(Some(IpAddr::V6(router)), 7)]);
    assert!(s.ipv6.neighbors.get(IpAddr::V6(ll(MAC_R))).is_some());
    s.poll(t + Duration::from_secs(3600));
    assert_eq!(routes(&s), [(Some(IpAddr::V6(router)), 7)]);
}

/// Bad input never panics: random IPv6 packets (valid fixed header,
/// random next headers and bodies, some with valid-looking extension
/// headers, fragments and ICMPv6 types) into a running stack.
#[test]
fn random_ipv6_input_never_panics() {
    let mut s = ready();
    let _u = s.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 9)).unwrap();
    let mut rng = crate::wire::test_util::XorShift(0x5eed_1234_abcd_0001);
    let nexts = [0u8, 6, 17, 43, 44, 58, 59, 60, 253];
    let dsts = [a6(US), a6("ff02::1"), a6("ff02::1:ff00:a"), ll(MAC_A)];
    let mut t = Instant::from_secs(1);
    for i in 0..20_000 {
        let len = rng.below(200);
        let mut body = vec![0u8; len];
        rng.fill(&mut body);
        let next = nexts[rng.below(nexts.len())];
        // Often make the first bytes look like a real header of that kind.
        if len >= 8 && rng.below(2) == 0 {
            body[0] = nexts[rng.below(nexts.len())];
            body[1] = (rng.below(4)) as u8;
        }
        if next == 58 && len >= 8 {
            body[0] = [1u8, 2, 3, 4, 128, 129, 130, 133, 134, 135, 136, 137, 143][rng.below(13)];
            if rng.below(2) == 0 {
                body[1] = 0;
            }
            let (src, dst) = (a6(PEER), dsts[i % dsts.len()]);
            if rng.below(2) == 0 {
                crate::wire::Icmpv6Packet::new_unchecked(&mut body[..]).fill_checksum(&src, &dst);
            }
        }
        let hop = if rng.below(2) == 0 { 255 } else { 64 };
        let f = frame(a6(PEER), dsts[i % dsts.len()], IpProtocol::from(next), hop, &body);
        s.receive(t, &FrameMeta::PLAIN, &f);
        if i % 100 == 0 {
            t += Duration::from_secs(1);
            s.poll(t);
            drain(&mut s);
        }
    }
    // Still answers a ping.
    drain(&mut s);
    let h = s.echo_open(Some(5)).unwrap();
    s.echo_send(t, h, IpAddr::V6(a6(US)), 1, b"alive").unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(s.echo_recv(h, &mut buf), Ok(EchoEvent::Reply { len: 5, .. })));
}

/// RFC 4861 §7.3.1: acknowledgments of new data keep the neighbour
/// REACHABLE, so a connection busy for longer than ReachableTime (at most
/// 45 s) sends no NUD probes; an idle neighbour is probed.
#[test]
fn tcp_progress_confirms_reachability() {
    let mut a = stack6(MAC_A, Some("fd00::a/64"), 1);
    let mut b = stack6(MAC_B, Some("fd00::b/64"), 2);
    run(&mut a, &mut b, Instant::ZERO, 3);
    let t = Instant::from_secs(4);
    let l = b.tcp_listen(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 80), 4).unwrap();
    let c = a.tcp_connect(t, SocketAddr::new(IpAddr::V6(a6("fd00::b")), 80)).unwrap();
    run(&mut a, &mut b, t, 0);
    let (s, _) = b.tcp_accept(l).unwrap();
    let unicast_ns = |frames: &[Vec<u8>]| {
        frames
            .iter()
            .filter(|f| {
                let ip = Ipv6Packet::new_checked(&f[ethernet::HEADER_LEN..]).unwrap();
                ip.next_header() == IpProtocol::Icmpv6 && ip.payload()[0] == 135 && !ip.dst_addr().is_multicast()
            })
            .count()
    };
    let mut probes_a = 0;
    let mut buf = [0u8; 4096];
    for sec in 0..90 {
        let now = t + Duration::from_secs(sec);
        a.tcp_send(now, c, &[9u8; 1000]).unwrap();
        let (fa, _) = run(&mut a, &mut b, now, 0);
        probes_a += unicast_ns(&fa);
        while b.tcp_recv(now, s, &mut buf).is_ok_and(|n| n > 0) {}
    }
    assert_eq!(probes_a, 0, "A probed B although B acknowledged data all along");
    // One-way UDP gives no such hint: the entry goes STALE, DELAY, PROBE.
    let u = a.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)).unwrap();
    let _sink = b.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 9)).unwrap();
    let mut probes = 0;
    for sec in 100..190 {
        let now = t + Duration::from_secs(sec);
        a.udp_send_to(now, u, b"x", Some(SocketAddr::new(IpAddr::V6(a6("fd00::b")), 9)))
            .unwrap();
        let (fa, _) = run(&mut a, &mut b, now, 0);
        probes += unicast_ns(&fa);
        a.poll(now + Duration::from_millis(500));
        b.poll(now + Duration::from_millis(500));
        let (fa, _) = run(&mut a, &mut b, now + Duration::from_millis(500), 0);
        probes += unicast_ns(&fa);
    }
    assert!(probes >= 1, "without forward progress the neighbour is probed");
}

/// A listener or UDP socket on `::` takes IPv4 too, unless `v6only`.
#[test]
fn wildcard_v6_sockets_take_ipv4_unless_v6only() {
    for v6only in [false, true] {
        let mk = |mac, ip: &str, seed| {
            let mut c = Config::new(mac, [seed; 32]).address(ip.parse().unwrap());
            c.ipv6 = Ipv6Config {
                mode: Ipv6Mode::Eui64,
                v6only,
                ..Ipv6Config::default()
            };
            Stack::new(c, Instant::ZERO)
        };
        let mut a = mk(MAC_A, "10.0.0.1/24", 1);
        let mut b = mk(MAC_B, "10.0.0.2/24", 2);
        run(&mut a, &mut b, Instant::ZERO, 3);
        let t = Instant::from_secs(4);
        let l = b.tcp_listen(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 80), 4).unwrap();
        let u = b.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 9)).unwrap();
        let c = a.tcp_connect(t, "10.0.0.2:80".parse().unwrap()).unwrap();
        let ua = a.udp_bind("0.0.0.0:0".parse().unwrap()).unwrap();
        a.udp_send_to(t, ua, b"v4", Some("10.0.0.2:9".parse().unwrap())).unwrap();
        run(&mut a, &mut b, t, 1);
        let mut buf = [0u8; 8];
        if v6only {
            assert_eq!(a.tcp_is_connected(c), Err(Error::ConnectionRefused));
            assert!(b.udp_recv_from(u, &mut buf).is_err());
        } else {
            assert_eq!(a.tcp_is_connected(c), Ok(true));
            let (_, peer) = b.tcp_accept(l).unwrap();
            assert_eq!(peer.ip(), "10.0.0.1".parse::<IpAddr>().unwrap());
            assert_eq!(b.udp_recv_from(u, &mut buf).map(|(n, _)| n), Ok(2));
        }
    }
}

/// Leaving a group (or losing the last address of a solicited-node
/// group) is reported as CHANGE_TO_INCLUDE with no sources, twice.
#[test]
fn mld_leave_reports() {
    let mut a = stack6(MAC_A, Some("fd00::1:2/64"), 1);
    let mut quiet = stack6(MAC_B, None, 2);
    run(&mut a, &mut quiet, Instant::ZERO, 3);
    let t = Instant::from_secs(4);
    a.remove_address(IpAddr::V6(a6("fd00::1:2"))).unwrap();
    let (fa, _) = run(&mut a, &mut quiet, t, 2);
    let leaves: Vec<Ipv6Addr> = fa
        .iter()
        .filter_map(|f| {
            let ip = Ipv6Packet::new_checked(&f[ethernet::HEADER_LEN..]).ok()?;
            let p = ip.payload();
            (ip.next_header() == IpProtocol::HopByHop && p[8] == 143 && p[16] == 3).then(|| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&p[20..36]);
                Ipv6Addr::from(o)
            })
        })
        .collect();
    assert_eq!(leaves, [a6("ff02::1:ff01:2"), a6("ff02::1:ff01:2")]);
    assert!(a.ipv6_addresses().all(|e| e.addr != a6("fd00::1:2")));
    assert!(!a.has_address(&IpAddr::V6(a6("fd00::1:2"))));
}

/// Review tests: a structured fuzz of the IPv6 input path and the fixes a
/// hostile review of the IPv6 code found.
mod review;
