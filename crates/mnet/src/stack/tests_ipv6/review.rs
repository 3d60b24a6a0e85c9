//! A hostile review of the IPv6 input path: a structured fuzz (every
//! header and message kind, truncated at every length, bytes flipped, with
//! lengths and checksums fixed up so the mutations reach the deep code),
//! and one test per fix the review made.

use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::{MAC_A, MAC_B, MAC_R, PEER, US, a6, drain, frame, ll, ready, udp};
use crate::link::FrameMeta;
use crate::stack::{EchoEvent, Stack};
use crate::time::{Duration, Instant};
use crate::wire::ipv6_ext::{ExtHeader, FRAGMENT_HEADER_LEN, FragmentHeader};
use crate::wire::{Icmpv6Packet, IpProtocol, TcpPacket, UdpPacket, ethernet, ipv6};

/// An ICMPv6 message body: type, code, a zero checksum (filled by
/// [`fix_up`]) and `rest`.
fn icmp(ty: u8, code: u8, rest: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(rest);
    m
}

/// An NDP option: type, length in 8-octet units, `body` padded.
fn opt(kind: u8, body: &[u8]) -> Vec<u8> {
    let units = (body.len() + 2).div_ceil(8);
    let mut o = vec![kind, units as u8];
    o.extend_from_slice(body);
    o.resize(units * 8, 0);
    o
}

/// The fixed header and transport header of a packet we could have sent
/// (fd00::a -> `to`), as quoted in an ICMPv6 error.
fn quoted(to: Ipv6Addr, next: IpProtocol, transport: &[u8]) -> Vec<u8> {
    let f = frame(a6(US), to, next, 64, transport);
    f[ethernet::HEADER_LEN..].to_vec()
}

/// Every kind of IPv6 packet the input path handles: (source,
/// destination, hop limit, next header, payload).
fn corpus() -> Vec<(Ipv6Addr, Ipv6Addr, u8, IpProtocol, Vec<u8>)> {
    let (peer, us, router) = (a6(PEER), a6(US), ll(MAC_B));
    let snm = a6("ff02::1:ff00:a");
    let all = a6("ff02::1");
    let far = a6("fd00:9::1");
    let mut c = Vec::new();
    // Echo, UDP to an open and a closed port, a TCP SYN.
    c.push((peer, us, 64, IpProtocol::Icmpv6, icmp(128, 0, &[0, 1, 0, 1, b'h', b'i'])));
    c.push((peer, us, 64, IpProtocol::Udp, udp(9, b"open")));
    c.push((peer, us, 64, IpProtocol::Udp, udp(10, b"closed")));
    let mut syn = vec![0u8; 20];
    syn[0..2].copy_from_slice(&5000u16.to_be_bytes());
    syn[2..4].copy_from_slice(&80u16.to_be_bytes());
    syn[4..8].copy_from_slice(&1000u32.to_be_bytes());
    syn[12] = 5 << 4;
    syn[13] = 0x02;
    syn[14..16].copy_from_slice(&65535u16.to_be_bytes());
    c.push((peer, us, 64, IpProtocol::Tcp, syn.clone()));
    // Hop-by-hop (PadN, Router Alert) -> destination options (an unknown
    // skippable option) -> routing (type 0, segments left 0) -> UDP.
    let mut chain = vec![60u8, 0, 5, 2, 0, 0, 1, 0];
    chain.extend([43u8, 0, 0x1e, 4, 0, 0, 0, 0]);
    chain.extend([17u8, 2, 0, 0, 0, 0, 0, 0]);
    chain.extend([0u8; 16]);
    chain.extend(udp(9, b"chain"));
    c.push((peer, us, 64, IpProtocol::HopByHop, chain));
    // Routing header with segments left, unknown options of each action.
    let mut rh = vec![17u8, 2, 0, 1, 0, 0, 0, 0];
    rh.extend([0u8; 16]);
    rh.extend(udp(9, b"rh"));
    c.push((peer, us, 64, IpProtocol::Ipv6Route, rh));
    for kind in [0x5eu8, 0x9e, 0xde] {
        let mut d = vec![17u8, 0, kind, 4, 0, 0, 0, 0];
        d.extend(udp(9, b"o"));
        c.push((peer, us, 64, IpProtocol::Ipv6Opts, d));
    }
    // Fragments: first, last, atomic.
    let dgram = udp(9, &[7u8; 40]);
    for (off, more, data) in [(0usize, true, &dgram[..24]), (24, false, &dgram[24..]), (0, false, &dgram[..])] {
        let mut p = vec![0u8; FRAGMENT_HEADER_LEN];
        FragmentHeader {
            next_header: IpProtocol::Udp,
            offset: off,
            more_frags: more,
            ident: 42,
        }
        .emit(&mut p);
        p.extend_from_slice(data);
        c.push((peer, us, 64, IpProtocol::Ipv6Frag, p));
    }
    // NDP: NS (resolution, DAD), NA, RA with every option, redirect.
    let mac_b = MAC_B.0;
    let mut ns = vec![0u8; 4];
    ns.extend(us.octets());
    ns.extend(opt(1, &mac_b));
    c.push((peer, snm, 255, IpProtocol::Icmpv6, icmp(135, 0, &ns)));
    let mut dad = vec![0u8; 4];
    dad.extend(us.octets());
    dad.extend(opt(14, &[1, 2, 3, 4, 5, 6]));
    c.push((Ipv6Addr::UNSPECIFIED, snm, 255, IpProtocol::Icmpv6, icmp(135, 0, &dad)));
    let mut na = vec![0x60u8, 0, 0, 0];
    na.extend(peer.octets());
    na.extend(opt(2, &mac_b));
    c.push((peer, us, 255, IpProtocol::Icmpv6, icmp(136, 0, &na)));
    let mut ra = vec![64u8, 0, 0x07, 0x08, 0, 0, 0x75, 0x30, 0, 0, 0x03, 0xe8];
    ra.extend(opt(1, &MAC_R.0));
    ra.extend(opt(5, &[0, 0, 0, 0, 0x05, 0x78]));
    let mut pi = vec![64u8, 0xc0];
    pi.extend(600u32.to_be_bytes());
    pi.extend(300u32.to_be_bytes());
    pi.extend([0u8; 4]);
    pi.extend(a6("fd00:1::").octets());
    ra.extend(opt(3, &pi));
    let mut rdnss = vec![0u8, 0];
    rdnss.extend(600u32.to_be_bytes());
    rdnss.extend(a6("fd00::53").octets());
    ra.extend(opt(25, &rdnss));
    let mut dnssl = vec![0u8, 0];
    dnssl.extend(600u32.to_be_bytes());
    dnssl.extend(b"\x07example\x03com\x00");
    ra.extend(opt(31, &dnssl));
    let mut rio = vec![48u8, 0x08];
    rio.extend(600u32.to_be_bytes());
    rio.extend(&a6("fd00:7::").octets()[..8]);
    ra.extend(opt(24, &rio));
    ra.extend(opt(200, &[1, 2, 3, 4, 5, 6]));
    c.push((ll(MAC_R), all, 255, IpProtocol::Icmpv6, icmp(134, 0, &ra)));
    let mut redirect = vec![0u8; 4];
    redirect.extend(ll(MAC_R).octets());
    redirect.extend(far.octets());
    redirect.extend(opt(2, &MAC_R.0));
    let mut rh_opt = vec![0u8; 6];
    rh_opt.extend(quoted(far, IpProtocol::Udp, &udp(9, b"r")));
    redirect.extend(opt(4, &rh_opt));
    c.push((router, us, 255, IpProtocol::Icmpv6, icmp(137, 0, &redirect)));
    // MLD: a general query (hop limit 1).
    let mut q = vec![0x03u8, 0xe8, 0, 0];
    q.extend([0u8; 16]);
    q.extend([0u8, 0, 0, 0]);
    c.push((ll(MAC_R), all, 1, IpProtocol::Icmpv6, icmp(130, 0, &q)));
    // Errors quoting packets we sent: TCP, UDP, through extension headers.
    let mut ext = vec![44u8, 0, 1, 4, 0, 0, 0, 0];
    ext.extend([17u8, 0, 0, 0, 0, 0, 0, 1]);
    ext.extend(udp(9, b"e"));
    for (ty, code, word, inv) in [
        (2u8, 0u8, 1280u32, quoted(far, IpProtocol::Tcp, &syn)),
        (2, 0, 1400, quoted(far, IpProtocol::Udp, &udp(9, b"p"))),
        (1, 4, 0, quoted(peer, IpProtocol::Udp, &udp(9, b"u"))),
        (3, 0, 0, quoted(peer, IpProtocol::Ipv6Opts, &ext)),
        (4, 1, 40, quoted(peer, IpProtocol::Tcp, &syn)),
    ] {
        let mut e = word.to_be_bytes().to_vec();
        e.extend(inv);
        c.push((peer, us, 64, IpProtocol::Icmpv6, icmp(ty, code, &e)));
    }
    c
}

/// Make the packet in `f` (an Ethernet frame) consistent again after a
/// mutation: Payload Length from the frame's length, and the upper-layer
/// checksum (and UDP length) over what is there.
fn fix_up(f: &mut [u8]) {
    let Some(ip) = f.get_mut(ethernet::HEADER_LEN..) else { return };
    if ip.len() < ipv6::HEADER_LEN {
        return;
    }
    let plen = (ip.len() - ipv6::HEADER_LEN).min(usize::from(u16::MAX)) as u16;
    ip[4..6].copy_from_slice(&plen.to_be_bytes());
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap());
    let mut next = IpProtocol::from(ip[6]);
    let mut at = ipv6::HEADER_LEN;
    for _ in 0..8 {
        match next {
            IpProtocol::HopByHop | IpProtocol::Ipv6Opts | IpProtocol::Ipv6Route => {
                let Ok(h) = ExtHeader::parse(&ip[at..]) else { return };
                next = h.next_header;
                at += h.len();
            }
            IpProtocol::Ipv6Frag => {
                let Ok(h) = FragmentHeader::parse(&ip[at..]) else { return };
                if h.offset != 0 || h.more_frags {
                    return;
                }
                next = h.next_header;
                at += FRAGMENT_HEADER_LEN;
            }
            _ => break,
        }
    }
    let rest = &mut ip[at..];
    let (s, d) = (IpAddr::V6(src), IpAddr::V6(dst));
    match next {
        IpProtocol::Icmpv6 if rest.len() >= 4 => Icmpv6Packet::new_unchecked(rest).fill_checksum(&src, &dst),
        IpProtocol::Udp if rest.len() >= 8 => {
            let len = rest.len().min(usize::from(u16::MAX)) as u16;
            rest[4..6].copy_from_slice(&len.to_be_bytes());
            UdpPacket::new_unchecked(rest).fill_checksum(&s, &d);
        }
        IpProtocol::Tcp if rest.len() >= 20 => TcpPacket::new_unchecked(rest).fill_checksum(&s, &d),
        _ => {}
    }
}

/// A stack that has sockets behind every port the corpus uses, accepts
/// router advertisements and knows fd00::b's link-local as its gateway.
fn target() -> Stack {
    let mut s = ready();
    s.ipv6.router_discovery = true;
    s.set_ipv6_gateway(Some(ll(MAC_B)));
    s.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 9)).unwrap();
    s.tcp_listen(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 80), 4).unwrap();
    s
}

/// The stack still works: it answers a ping to itself.
fn assert_alive(s: &mut Stack, t: Instant) {
    drain(s);
    let h = s.echo_open(Some(0x7777)).unwrap();
    s.echo_send(t, h, IpAddr::V6(a6(US)), 1, b"alive").unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(s.echo_recv(h, &mut buf), Ok(EchoEvent::Reply { len: 5, .. })));
}

/// RFC-breaking input never panics (debug build: arithmetic overflow
/// panics too): every corpus packet cut at every length (with and without
/// its lengths and checksum fixed up), then random byte flips.
#[test]
fn ipv6_truncation_and_bit_flip_fuzz() {
    let mut s = target();
    let mut t = Instant::from_secs(1);
    let corpus = corpus();
    let step = |s: &mut Stack, t: &mut Instant, f: &[u8], n: usize| {
        s.receive(*t, &FrameMeta::PLAIN, f);
        if n.is_multiple_of(64) {
            *t += Duration::from_millis(700);
            s.poll(*t);
            drain(s);
        }
    };
    let mut n = 0;
    for (src, dst, hop, next, payload) in &corpus {
        let whole = frame(*src, *dst, *next, *hop, payload);
        let mut fixed = whole.clone();
        fix_up(&mut fixed);
        // The unmutated packet first.
        step(&mut s, &mut t, &fixed, n);
        for len in 0..=whole.len() {
            let mut cut = fixed[..len].to_vec();
            step(&mut s, &mut t, &cut, n);
            fix_up(&mut cut);
            step(&mut s, &mut t, &cut, n + 1);
            n += 2;
        }
    }
    let mut rng = crate::wire::test_util::XorShift(0x0b5e_55ed_cafe_f00d);
    for i in 0..60_000 {
        let (src, dst, hop, next, payload) = &corpus[rng.below(corpus.len())];
        let mut f = frame(*src, *dst, *next, *hop, payload);
        fix_up(&mut f);
        // Flip bytes past the Ethernet header (not the addresses' MAC).
        for _ in 0..=rng.below(4) {
            let at = ethernet::HEADER_LEN + rng.below(f.len() - ethernet::HEADER_LEN);
            f[at] = if rng.below(2) == 0 {
                rng.next_u64() as u8
            } else {
                f[at] ^ (1 << rng.below(8))
            };
        }
        if rng.below(4) == 0 {
            let len = ethernet::HEADER_LEN + rng.below(f.len() - ethernet::HEADER_LEN + 1);
            f.truncate(len);
        }
        if rng.below(4) != 0 {
            fix_up(&mut f);
        }
        step(&mut s, &mut t, &f, i);
    }
    // Bounded state after the storm.
    let limits = s.limits.clone();
    assert!(s.ipv6.neighbors.len() <= limits.neighbor.capacity);
    assert!(s.routes.len() <= s.routes.max_routes());
    assert!(s.ipv6.addrs.iter().count() <= limits.max_addresses);
    assert!(s.stats().total_drops() > 0);
    assert_alive(&mut s, t);
}

/// The sent ICMPv6 messages of `s`: (type, ICMPv6 bytes).
fn icmp_out(s: &mut Stack) -> Vec<(u8, Vec<u8>)> {
    drain(s)
        .iter()
        .filter_map(|f| {
            let ip = crate::wire::Ipv6Packet::new_checked(&f[ethernet::HEADER_LEN..]).ok()?;
            (ip.next_header() == IpProtocol::Icmpv6).then(|| (ip.payload()[0], ip.payload().to_vec()))
        })
        .collect()
}

/// RFC 8200 §3: Payload Length is "the rest of the packet following this
/// IPv6 header"; bytes after it (link-layer padding or trailer) are not
/// part of the packet. An echo request followed by 4 trailer bytes is
/// answered, and the reply carries exactly the request's data.
#[test]
fn bytes_after_payload_length_are_not_part_of_the_packet() {
    let mut s = target();
    let t = Instant::from_secs(1);
    let mut f = frame(a6(PEER), a6(US), IpProtocol::Icmpv6, 64, &icmp(128, 0, &[0, 1, 0, 1, b'h', b'i']));
    fix_up(&mut f);
    f.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    s.receive(t, &FrameMeta::PLAIN, &f);
    let out = icmp_out(&mut s);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].0, &out[0].1[4..]), (129, &[0u8, 1, 0, 1, b'h', b'i'][..]));
}

/// Echo requests to a group we belong to are answered (RFC 4443 §4.2),
/// but no faster than the ICMP error budget: 200 at one instant get
/// ICMP_ERROR_BURST replies; 200 unicast requests get 200.
#[test]
fn multicast_echo_requests_are_rate_limited() {
    let mut s = target();
    let t = Instant::from_secs(1);
    for (dst, expected) in [(a6("ff02::1"), crate::ip::rate_limit::ICMP_ERROR_BURST as usize), (a6(US), 200)] {
        drain(&mut s);
        for _ in 0..200 {
            let mut f = frame(a6(PEER), dst, IpProtocol::Icmpv6, 64, &icmp(128, 0, &[0, 1, 0, 1, b'h', b'i']));
            fix_up(&mut f);
            s.receive(t, &FrameMeta::PLAIN, &f);
        }
        let replies = icmp_out(&mut s).iter().filter(|(ty, _)| *ty == 129).count();
        assert_eq!(replies, expected, "to {dst}");
    }
    assert_eq!(s.stats().drops(crate::stats::Drop::Icmpv6MulticastEchoRateLimited), 150);
}

/// A router advertisement from fe80::..:1 (router lifetime 1800 s) with
/// these options, as a frame with its checksum filled.
fn ra_with(options: &[u8]) -> Vec<u8> {
    let mut ra = vec![64u8, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0];
    ra.extend_from_slice(options);
    let mut f = frame(ll(MAC_R), a6("ff02::1"), IpProtocol::Icmpv6, 255, &icmp(134, 0, &ra));
    fix_up(&mut f);
    f
}

/// A unicast solicitation without a Source Link-Layer Address option
/// (RFC 4861 §4.3 lets unicast ones omit it) from a source we do not know
/// is answered straight to the frame's link-layer source: no resolution of
/// the (possibly made-up) source is started, no cache entry made.
#[test]
fn solicitation_without_lladdr_is_answered_to_the_frame_source() {
    let mut s = target();
    let t = Instant::from_secs(1);
    drain(&mut s);
    let stranger = a6("fd00::99");
    let mut body = vec![0u8; 4];
    body.extend_from_slice(&a6(US).octets());
    let mut f = frame(stranger, a6(US), IpProtocol::Icmpv6, 255, &icmp(135, 0, &body));
    fix_up(&mut f);
    s.receive(t, &FrameMeta::PLAIN, &f);
    let out = drain(&mut s);
    let kinds: Vec<(crate::wire::EthernetAddress, u8)> = out
        .iter()
        .map(|f| {
            (
                crate::wire::EthernetFrame::new_checked(&f[..]).unwrap().dst_addr(),
                f[ethernet::HEADER_LEN + ipv6::HEADER_LEN],
            )
        })
        .collect();
    // One Neighbor Advertisement (136) to the frame's source MAC; no
    // Neighbor Solicitation (135) of our own.
    assert_eq!(kinds, [(MAC_B, 136)]);
    assert!(s.ipv6.neighbors.get(IpAddr::V6(stranger)).is_none());
}

/// RDNSS addresses that cannot be a DNS server (`::`, `::1`, a group) are
/// counted and ignored; the unicast one beside them is kept.
#[test]
fn rdnss_keeps_only_unicast_servers() {
    let mut s = target();
    let t = Instant::from_secs(1);
    let mut body = vec![0u8, 0, 0, 0, 2, 88];
    for a in ["::", "::1", "ff02::1", "fd00::53"] {
        body.extend_from_slice(&a6(a).octets());
    }
    s.receive(t, &FrameMeta::PLAIN, &ra_with(&opt(25, &body)));
    assert_eq!(s.ipv6_dns_servers().collect::<Vec<_>>(), [a6("fd00::53")]);
    assert_eq!(s.stats().drops(crate::stats::Drop::NdpBadDnsServer), 3);
}

/// A Prefix Information option, on-link only (no SLAAC).
fn onlink_prefix(prefix: Ipv6Addr, valid: u32) -> Vec<u8> {
    let mut pi = vec![64u8, 0x80];
    pi.extend(valid.to_be_bytes());
    pi.extend(valid.to_be_bytes());
    pi.extend([0u8; 4]);
    pi.extend(prefix.octets());
    opt(3, &pi)
}

/// A Route Information option (RFC 4191 §2.3) for a /48, medium preference.
fn route_info(prefix: Ipv6Addr, lifetime: u32) -> Vec<u8> {
    let mut rio = vec![48u8, 0];
    rio.extend(lifetime.to_be_bytes());
    rio.extend(&prefix.octets()[..8]);
    opt(24, &rio)
}

/// Routes learned from router advertisements live exactly as long as their
/// entries in the bounded prefix and route-information lists: advertising
/// more prefixes than the lists hold (with growing lifetimes, so older
/// ones are pushed out; or infinite ones, which the full list refuses)
/// leaves no route behind, so a peer cannot fill the routing table with
/// routes that never expire.
#[test]
fn evicted_ra_prefixes_and_routes_leave_no_route_behind() {
    let mut s = target();
    let base = s.routes.len();
    let cap = s.limits.ipv6_onlink_prefixes;
    let t = Instant::from_secs(1);
    for i in 0..(3 * cap as u16) {
        let mut opts = onlink_prefix(Ipv6Addr::new(0xfd10, i, 0, 0, 0, 0, 0, 0), 600 + u32::from(i));
        opts.extend(route_info(Ipv6Addr::new(0xfd20, i, 0, 0, 0, 0, 0, 0), 600 + u32::from(i)));
        s.receive(t, &FrameMeta::PLAIN, &ra_with(&opts));
    }
    // Infinite lifetimes into full lists of finite ones push those out.
    for i in 0..(3 * cap as u16) {
        let mut opts = onlink_prefix(Ipv6Addr::new(0xfd30, i, 0, 0, 0, 0, 0, 0), u32::MAX);
        opts.extend(route_info(Ipv6Addr::new(0xfd40, i, 0, 0, 0, 0, 0, 0), u32::MAX));
        s.receive(t, &FrameMeta::PLAIN, &ra_with(&opts));
    }
    let learned: Vec<_> = s.routes.iter().filter(|r| r.cidr.prefix_len() != 128).copied().collect();
    let prefixes = s.ipv6.prefixes.iter().count();
    let infos = s.ipv6.route_infos.iter().count();
    assert_eq!((prefixes, infos), (cap, cap));
    assert_eq!(s.routes.len(), base + prefixes + infos);
    for r in &learned {
        let IpAddr::V6(a) = r.cidr.address() else { continue };
        let first = a.segments()[0];
        // Every learned route is backed by a list entry.
        match first {
            0xfd10 | 0xfd30 => assert!(s.ipv6.prefixes.contains(&r.cidr), "{r:?}"),
            0xfd20 | 0xfd40 => assert!(s.ipv6.route_infos.iter().any(|(c, _)| *c == r.cidr), "{r:?}"),
            _ => {}
        }
    }
}

/// An advertised prefix that equals the subnet of a static address, then
/// withdrawn (valid lifetime 0) or expired, leaves the static address's
/// on-link route in place: neighbours on fd00::/64 stay on-link.
#[test]
fn withdrawn_ra_prefix_keeps_a_static_address_subnet_on_link() {
    let mut s = target();
    let subnet = crate::wire::IpCidr::new(IpAddr::V6(a6("fd00::")), 64).unwrap();
    let on_link = |s: &Stack| s.routes.iter().any(|r| r.cidr == subnet && r.via.is_none());
    assert!(on_link(&s));
    let t = Instant::from_secs(1);
    s.receive(t, &FrameMeta::PLAIN, &ra_with(&onlink_prefix(a6("fd00::"), 600)));
    assert!(s.ipv6.prefixes.contains(&subnet));
    s.receive(t, &FrameMeta::PLAIN, &ra_with(&onlink_prefix(a6("fd00::"), 0)));
    assert!(!s.ipv6.prefixes.contains(&subnet));
    assert!(on_link(&s), "withdrawal removed the static subnet's route");
    // The same through expiry.
    s.receive(t, &FrameMeta::PLAIN, &ra_with(&onlink_prefix(a6("fd00::"), 10)));
    s.poll(t + Duration::from_secs(11));
    assert!(!s.ipv6.prefixes.contains(&subnet));
    assert!(on_link(&s), "expiry removed the static subnet's route");
    // An advertised prefix of its own still comes and goes.
    let other = crate::wire::IpCidr::new(IpAddr::V6(a6("fd00:5::")), 64).unwrap();
    s.receive(t, &FrameMeta::PLAIN, &ra_with(&onlink_prefix(a6("fd00:5::"), 600)));
    assert!(s.routes.iter().any(|r| r.cidr == other));
    s.receive(t, &FrameMeta::PLAIN, &ra_with(&onlink_prefix(a6("fd00:5::"), 0)));
    assert!(!s.routes.iter().any(|r| r.cidr == other));
}

/// RFC 3810 §6.2: a query whose hop limit is not 1 (it may have been
/// forwarded from off-link), or without a Router Alert, is dropped and
/// schedules no report; with hop limit 1 and a Router Alert it is answered.
#[test]
fn mld_query_with_hop_limit_other_than_one_or_no_router_alert_is_dropped() {
    let mut s = target();
    let t = Instant::from_secs(5);
    s.poll(t);
    drain(&mut s);
    let mut q = vec![0u8, 10, 0, 0];
    q.extend([0u8; 16]);
    q.extend([0u8, 0, 0, 0]);
    let reports = |s: &mut Stack| {
        drain(s)
            .iter()
            .filter(|f| f.get(ethernet::HEADER_LEN + 6) == Some(&0) && f.get(ethernet::HEADER_LEN + 48) == Some(&143))
            .count()
    };
    for (hop, alert, answered) in [(64u8, true, 0usize), (255, true, 0), (1, false, 0), (1, true, 1)] {
        let (next, mut body) = if alert {
            (
                IpProtocol::HopByHop,
                crate::wire::ipv6_ext::router_alert_hop_by_hop(IpProtocol::Icmpv6).to_vec(),
            )
        } else {
            (IpProtocol::Icmpv6, Vec::new())
        };
        body.extend(icmp(130, 0, &q));
        let mut f = frame(ll(MAC_R), a6("ff02::1"), next, hop, &body);
        fix_up(&mut f);
        s.receive(t, &FrameMeta::PLAIN, &f);
        s.poll(t + Duration::from_millis(20));
        assert_eq!(reports(&mut s), answered, "hop limit {hop}, router alert {alert}");
    }
    assert_eq!(s.stats().drops(crate::stats::Drop::MldInvalid), 3);
}

/// RFC 4443 §2.4 (e.4, e.5): no ICMPv6 error about a packet that came in
/// a link-layer broadcast or multicast frame, even when its IPv6
/// destination is our unicast address (a reflection an on-link sender
/// could otherwise aim at every host at once). Sent to our MAC, the same
/// datagram to a closed port gets its Port Unreachable.
#[test]
fn no_icmpv6_error_about_a_link_layer_broadcast_or_multicast_frame() {
    let mut s = target();
    let t = Instant::from_secs(1);
    for (dst_mac, errors) in [([0xffu8; 6], 0usize), ([0x33, 0x33, 0, 0, 0, 1], 0), (MAC_A.0, 1)] {
        let mut f = frame(a6(PEER), a6(US), IpProtocol::Udp, 64, &udp(10, b"closed"));
        f[..6].copy_from_slice(&dst_mac);
        s.receive(t, &FrameMeta::PLAIN, &f);
        let out = icmp_out(&mut s);
        assert_eq!(out.iter().filter(|(ty, _)| *ty == 1).count(), errors, "{dst_mac:x?}: {out:?}");
    }
    assert_eq!(s.stats().drops(crate::stats::Drop::Icmpv6ErrorNotSent), 2);
}

/// A Prefix Information option (on-link and autonomous, /64).
fn slaac_prefix(prefix: Ipv6Addr) -> Vec<u8> {
    let mut pi = vec![64u8, 0xc0];
    pi.extend(600u32.to_be_bytes());
    pi.extend(300u32.to_be_bytes());
    pi.extend([0u8; 4]);
    pi.extend(prefix.octets());
    opt(3, &pi)
}

/// An advertised multicast or `::/64` prefix forms no SLAAC address and no
/// on-link route (before the fix `::/64` gave the host `::ff:fe00:a`, a
/// source address in the IPv4-compatible range, and multicast prefixes got
/// on-link routes; RFC 4291 §2.7 forbids multicast sources).
#[test]
fn ra_multicast_or_unspecified_prefix_forms_no_address() {
    let mut s = target();
    let t = Instant::from_secs(1);
    let before = s.ipv6.addrs.iter().count();
    let routes = s.routes.len();
    for p in ["ff02::", "ff0e:1::", "::"] {
        s.receive(t, &FrameMeta::PLAIN, &ra_with(&slaac_prefix(a6(p))));
    }
    let addrs: Vec<_> = s.ipv6.addrs.iter().map(|e| e.addr).collect();
    assert_eq!(addrs.len(), before, "{addrs:?}");
    assert_eq!(s.routes.len(), routes);
    // A unicast prefix still works.
    s.receive(t, &FrameMeta::PLAIN, &ra_with(&slaac_prefix(a6("fd00:3::"))));
    assert_eq!(s.ipv6.addrs.iter().count(), before + 1);
}

/// A neighbour solicitation from `src` (with its link-layer address `mac`)
/// for our address, to its solicited-node group.
fn ns_from(src: Ipv6Addr, mac: [u8; 6]) -> Vec<u8> {
    let mut ns = vec![0u8; 4];
    ns.extend(a6(US).octets());
    ns.extend(opt(1, &mac));
    let mut f = frame(src, a6("ff02::1:ff00:a"), IpProtocol::Icmpv6, 255, &icmp(135, 0, &ns));
    fix_up(&mut f);
    f
}

/// A flood of neighbour solicitations from made-up sources (RFC 4861
/// §7.2.3 would make a STALE entry for each) cannot push out a resolution
/// in progress: the packet waiting for fd00::77 still leaves when fd00::77
/// answers. Each solicitation is still answered, straight to the MAC it
/// gave, and no solicitation of ours goes out for the made-up sources.
#[test]
fn neighbor_solicit_flood_keeps_a_pending_resolution() {
    let mut s = target();
    let config = crate::link::neighbor::NeighborConfig {
        capacity: 8,
        ..*s.ipv6.neighbors.config()
    };
    s.ipv6.neighbors = crate::link::neighbor::NeighborCache::new(config, &mut crate::rand::Rng::from_seed([3; 32]));
    let t = Instant::from_secs(1);
    let u = s.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)).unwrap();
    let waiting = a6("fd00::77");
    s.udp_send_to(t, u, b"waiting", Some(SocketAddr::new(IpAddr::V6(waiting), 9)))
        .unwrap();
    drain(&mut s);
    let mut answered = 0;
    for i in 0..100u16 {
        let mac = [0x02, 0x55, 0, 0, (i >> 8) as u8, i as u8];
        s.receive(t, &FrameMeta::PLAIN, &ns_from(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0x1000, i), mac));
        for f in drain(&mut s) {
            let ty = f[ethernet::HEADER_LEN + ipv6::HEADER_LEN];
            assert_ne!(ty, 135, "a solicitation went out for a made-up source");
            if ty == 136 && f[..6] == mac {
                answered += 1;
            }
        }
    }
    assert_eq!(answered, 100);
    // fd00::77 answers: the waiting datagram leaves.
    let mut na = vec![0x60u8, 0, 0, 0];
    na.extend(waiting.octets());
    na.extend(opt(2, &[0x02, 0x77, 0, 0, 0, 0x77]));
    let mut f = frame(waiting, a6(US), IpProtocol::Icmpv6, 255, &icmp(136, 0, &na));
    fix_up(&mut f);
    s.receive(t, &FrameMeta::PLAIN, &f);
    let out = drain(&mut s);
    assert!(
        out.iter()
            .any(|f| f[..6] == [0x02, 0x77, 0, 0, 0, 0x77] && f[ethernet::HEADER_LEN + 6] == 17),
        "the waiting datagram was lost"
    );
}

/// A Redirect from the current first hop (fe80::..:b, the gateway) sending
/// `destination` to fe80::..:1.
fn redirect_for(destination: Ipv6Addr) -> Vec<u8> {
    let mut r = vec![0u8; 4];
    r.extend(ll(MAC_R).octets());
    r.extend(destination.octets());
    r.extend(opt(2, &MAC_R.0));
    let mut f = frame(ll(MAC_B), a6(US), IpProtocol::Icmpv6, 255, &icmp(137, 0, &r));
    fix_up(&mut f);
    f
}

/// Redirects (which anyone on the link can forge in the first hop's name)
/// for ever more destinations keep at most MAX_REDIRECTS host routes, and
/// those expire: the routing table cannot be filled with routes that never
/// go away.
#[test]
fn redirect_routes_are_bounded_and_expire() {
    use crate::stack::ndp::{MAX_REDIRECTS, REDIRECT_LIFETIME_SECS};
    let mut s = target();
    let host_routes = |s: &Stack| s.routes.iter().filter(|r| r.cidr.prefix_len() == 128).count();
    let t = Instant::from_secs(1);
    for i in 0..(3 * MAX_REDIRECTS as u16) {
        s.receive(
            t + Duration::from_millis(u64::from(i)),
            &FrameMeta::PLAIN,
            &redirect_for(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, i)),
        );
    }
    assert_eq!(host_routes(&s), MAX_REDIRECTS);
    // The newest redirect is honoured.
    let newest = crate::wire::IpCidr::new(
        IpAddr::V6(Ipv6Addr::new(0xfd00, 9, 0, 0, 0, 0, 0, 3 * MAX_REDIRECTS as u16 - 1)),
        128,
    )
    .unwrap();
    assert!(s.routes.iter().any(|r| r.cidr == newest));
    s.poll(t + Duration::from_secs(u64::from(REDIRECT_LIFETIME_SECS) + 1));
    assert_eq!(host_routes(&s), 0);
}

/// `payload` (an upper-layer message of type `next`) behind a Fragment
/// Header: offset `off`, More Fragments `more`, identification 7.
fn in_fragment(next: IpProtocol, off: usize, more: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; FRAGMENT_HEADER_LEN];
    FragmentHeader {
        next_header: next,
        offset: off,
        more_frags: more,
        ident: 7,
    }
    .emit(&mut p);
    p.extend_from_slice(payload);
    p
}

/// RFC 6980: NDP messages carrying a Fragment Header are ignored, both an
/// atomic fragment and one reassembled from two fragments: a router
/// advertisement that arrives that way teaches nothing. The same RA
/// unfragmented is taken.
#[test]
fn fragmented_router_advert_is_ignored() {
    let mut s = target();
    let t = Instant::from_secs(1);
    let ra = ra_with(&slaac_prefix(a6("fd00:3::")));
    // The RA's ICMPv6 message, checksum filled (fe80::..:1 -> ff02::1).
    let msg = ra[ethernet::HEADER_LEN + ipv6::HEADER_LEN..].to_vec();
    let send = |s: &mut Stack, payload: Vec<u8>| {
        let f = frame(ll(MAC_R), a6("ff02::1"), IpProtocol::Ipv6Frag, 255, &payload);
        s.receive(t, &FrameMeta::PLAIN, &f);
    };
    send(&mut s, in_fragment(IpProtocol::Icmpv6, 0, false, &msg));
    send(&mut s, in_fragment(IpProtocol::Icmpv6, 0, true, &msg[..16]));
    send(&mut s, in_fragment(IpProtocol::Icmpv6, 16, false, &msg[16..]));
    assert_eq!(s.stats().traffic.ipv6_reassembled, 1);
    assert_eq!(s.ipv6_default_routers().count(), 0);
    assert!(!s.ipv6_status().router_advert_seen);
    assert_eq!(s.stats().drops(crate::stats::Drop::NdpInvalid), 2);
    s.receive(t, &FrameMeta::PLAIN, &ra);
    assert_eq!(s.ipv6_default_routers().count(), 1);
}

/// Router advertisements with many autonomous prefixes form at most
/// `ipv6_slaac_addresses` addresses: configured (and DHCP) addresses still
/// find room in the shared address table afterwards.
#[test]
fn slaac_addresses_leave_room_for_configured_ones() {
    let mut s = target();
    let limit = s.limits.ipv6_slaac_addresses;
    assert!(limit < s.limits.max_addresses - 2);
    let t = Instant::from_secs(1);
    let mut opts = Vec::new();
    for i in 0..16u16 {
        opts.extend(slaac_prefix(Ipv6Addr::new(0xfd00, 0x100 + i, 0, 0, 0, 0, 0, 0)));
    }
    s.receive(t, &FrameMeta::PLAIN, &ra_with(&opts));
    let slaac = s
        .ipv6
        .addrs
        .iter()
        .filter(|e| e.origin == crate::ip::ipv6_addr::AddrOrigin::Slaac)
        .count();
    assert_eq!(slaac, limit);
    assert_eq!(s.stats().drops(crate::stats::Drop::SlaacLimit), (16 - limit) as u64);
    // After DAD the table still takes an IPv4 address and a static IPv6 one.
    s.poll(t + Duration::from_secs(5));
    s.add_address(t, "10.0.0.9/24".parse().unwrap()).unwrap();
    s.add_address(t, "fd00:aa::1/64".parse().unwrap()).unwrap();
}

/// RFC 8200 §4.1: a Hop-by-Hop Options header only ever directly follows
/// the IPv6 header; one that starts the reassembled Fragmentable Part came
/// after a Fragment Header and is an error (Parameter Problem code 1), not
/// a way to deliver the datagram inside it.
#[test]
fn hop_by_hop_inside_a_fragmented_datagram_is_rejected() {
    let mut s = target();
    let t = Instant::from_secs(1);
    let mut body = vec![17u8, 0, 1, 4, 0, 0, 0, 0];
    body.extend(udp(9, &[5u8; 24]));
    let send = |s: &mut Stack, off: usize, more: bool, data: &[u8]| {
        let f = frame(
            a6(PEER),
            a6(US),
            IpProtocol::Ipv6Frag,
            64,
            &in_fragment(IpProtocol::HopByHop, off, more, data),
        );
        s.receive(t, &FrameMeta::PLAIN, &f);
    };
    send(&mut s, 0, true, &body[..24]);
    send(&mut s, 24, false, &body[24..]);
    assert_eq!(s.stats().traffic.ipv6_reassembled, 1);
    assert_eq!(s.stats().traffic.udp_in, 0);
    let errors: Vec<_> = icmp_out(&mut s).into_iter().filter(|(ty, _)| *ty == 4).map(|(_, m)| m[1]).collect();
    assert_eq!(errors, [1]);
}

/// A router advertisement asking for a 1 ms Retrans Timer and Reachable
/// Time gets the floors: DAD and NUD keep waiting long enough for an
/// answer to cross the link.
#[test]
fn ra_timers_have_floors() {
    use crate::stack::ndp::{MIN_BASE_REACHABLE_TIME, MIN_RETRANS_TIMER};
    let mut s = target();
    let mut ra = vec![64u8, 0, 0x07, 0x08, 0, 0, 0, 1, 0, 0, 0, 1];
    ra.extend(opt(1, &MAC_R.0));
    let mut f = frame(ll(MAC_R), a6("ff02::1"), IpProtocol::Icmpv6, 255, &icmp(134, 0, &ra));
    fix_up(&mut f);
    s.receive(Instant::from_secs(1), &FrameMeta::PLAIN, &f);
    assert!(s.ipv6_status().router_advert_seen);
    let cfg = *s.ipv6.neighbors.config();
    assert_eq!(cfg.retrans_timer, MIN_RETRANS_TIMER);
    // ReachableTime is 0.5 to 1.5 times the (floored) base.
    assert!(cfg.reachable_time >= MIN_BASE_REACHABLE_TIME / 2, "{:?}", cfg.reachable_time);
}
