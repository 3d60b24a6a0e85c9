//! ARP across the simulated network: resolution among three stacks on a
//! hub, resolution failure reported to the sender, revalidation of stale
//! entries and expiry of a vanished neighbour over a long virtual run, and
//! two stacks that claim the same address.
//!
//! Every hub has a passive sniffer port, so the tests count the ARP frames
//! that really crossed the wire, with their times. Links are fault-free and
//! have the default 1 ms latency: round trips are exactly 2 ms.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use mnet::executor::Driver;
use mnet::socket::{EchoSocket, timeout};
use mnet::stack::EchoEvent;
use mnet::stats::{Drop, Stats};
use mnet::wire::{ArpOperation, ArpRepr, EthernetAddress};
use mnet::{Duration, Error, Instant, Net};
use mnet_sim::LinkConfig;

const SEED: u64 = 11;
/// One hop on a hub.
const HOP: Duration = Duration::from_millis(1);
/// When the tests start their traffic: after the announcements sent at 0.
const START: Instant = Instant::from_millis(100);
/// Nobody on the hub has this address.
const NOBODY: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 99);

/// Send echo request `seq` to `dst` and wait up to `wait` for what comes
/// back: the event and the time it took, or `None` on timeout.
async fn ping(net: &Net, sock: &EchoSocket, dst: Ipv4Addr, seq: u16, wait: Duration) -> Option<(EchoEvent, Duration)> {
    let start = net.now();
    sock.send(IpAddr::V4(dst), seq, b"are you there").await.expect("echo send");
    let mut buf = [0u8; 64];
    match timeout(net, wait, sock.recv(&mut buf)).await {
        Ok(Ok(event)) => Some((event, net.now() - start)),
        Ok(Err(e)) => panic!("echo recv failed: {e}"),
        Err(_) => None,
    }
}

fn reply(from: Ipv4Addr, seq_no: u16) -> EchoEvent {
    EchoEvent::Reply {
        from: IpAddr::V4(from),
        seq_no,
        len: 13,
    }
}

/// The kinds of ARP frame on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArpKind {
    /// RFC 5227 announcement: sender and target address are the same.
    Announcement,
    /// A request sent to the broadcast address.
    BroadcastRequest,
    /// A request sent to one station (revalidation).
    UnicastRequest,
    Reply,
}

/// One ARP frame seen by the sniffer.
#[derive(Debug, Clone, Copy)]
struct ArpSeen {
    at: Instant,
    kind: ArpKind,
    eth_src: EthernetAddress,
    repr: ArpRepr,
}

fn arp_frames(log: &FrameList) -> Vec<ArpSeen> {
    log.iter()
        .filter_map(|(at, f)| {
            let repr = arp_of(f)?;
            let kind = match repr.operation {
                ArpOperation::Reply => ArpKind::Reply,
                _ if repr.source_protocol_addr == repr.target_protocol_addr => ArpKind::Announcement,
                _ if eth_dst(f).is_some_and(|d| d.is_broadcast()) => ArpKind::BroadcastRequest,
                _ => ArpKind::UnicastRequest,
            };
            Some(ArpSeen {
                at: *at,
                kind,
                eth_src: eth_src(f).expect("ethernet"),
                repr,
            })
        })
        .collect()
}

fn count(seen: &[ArpSeen], kind: ArpKind, from: EthernetAddress) -> usize {
    seen.iter().filter(|s| s.kind == kind && s.eth_src == from).count()
}

/// Every drop reason with a non-zero count.
fn drops(stats: &Stats) -> Vec<(Drop, u64)> {
    stats.all_drops().filter(|(_, n)| *n > 0).collect()
}

#[test]
fn resolution_among_three_stacks_on_a_hub() {
    let mut sim = Sim::new(SEED);
    let mut ports = sim.network.hub(4, LinkConfig::default());
    let (mut sniffer, wire) = Sniffer::new(ports.pop().expect("port"));
    let nets: Vec<Net> = (1..=3).map(|n| stack(config(n, ip(n)))).collect();
    let mut hosts: Vec<_> = nets.iter().zip(ports).map(|(net, dev)| Host::new(net, dev)).collect();

    let main = async {
        let socks: Vec<EchoSocket> = nets.iter().map(|n| n.echo_socket(None).expect("echo socket")).collect();
        let mut results = Vec::new();
        // Start after the first RFC 5227 announcements have landed: an
        // announcement from the peer would resolve a pending request early
        // (RFC 826 merge), making the first round trip 1 ms shorter.
        nets[0].sleep_until(START).await;
        // First round: A→B, A→C, B→C need resolution.
        for (from, to) in [(0usize, 1usize), (0, 2), (1, 2)] {
            let to_ip = ip(to as u8 + 1);
            results.push((from, to, ping(&nets[from], &socks[from], to_ip, 1, Duration::from_secs(2)).await));
        }
        // Second round: all six directions, every address already known.
        for (from, to) in [(0usize, 1usize), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)] {
            let to_ip = ip(to as u8 + 1);
            results.push((from, to, ping(&nets[from], &socks[from], to_ip, 2, Duration::from_secs(2)).await));
        }
        // Past the second RFC 5227 announcement of everyone.
        nets[0].sleep_until(Instant::from_secs(5)).await;
        results
    };
    let mut drivers: Vec<&mut dyn Driver> = hosts.iter_mut().map(|h| h as &mut dyn Driver).collect();
    drivers.push(&mut sniffer);
    let results = sim.run(&mut drivers, Instant::from_secs(10), main);

    for (i, (from, to, result)) in results.iter().enumerate() {
        let seq = if i < 3 { 1 } else { 2 };
        let (event, rtt) = result.unwrap_or_else(|| panic!("ping {from}→{to} (seq {seq}) got no answer"));
        assert_eq!(event, reply(ip(*to as u8 + 1), seq), "ping {from}→{to}");
        // Resolution costs exactly one extra round trip, once per pair.
        let expected = if i < 3 { 4 * HOP } else { 2 * HOP };
        assert_eq!(rtt, expected, "ping {from}→{to} (seq {seq})");
    }

    let seen = arp_frames(&wire.borrow());
    let (ma, mb, mc) = (mac(1), mac(2), mac(3));
    // Two announcements each (RFC 5227 §2.3: ANNOUNCE_NUM = 2).
    for m in [ma, mb, mc] {
        assert_eq!(count(&seen, ArpKind::Announcement, m), 2, "announcements of {m:?}");
        assert_eq!(count(&seen, ArpKind::UnicastRequest, m), 0);
    }
    // A asked for B and C; B asked for C; C asked nobody (it learned A and
    // B from their requests, RFC 826's merge rule).
    assert_eq!(count(&seen, ArpKind::BroadcastRequest, ma), 2);
    assert_eq!(count(&seen, ArpKind::BroadcastRequest, mb), 1);
    assert_eq!(count(&seen, ArpKind::BroadcastRequest, mc), 0);
    assert_eq!(count(&seen, ArpKind::Reply, ma), 0);
    assert_eq!(count(&seen, ArpKind::Reply, mb), 1);
    assert_eq!(count(&seen, ArpKind::Reply, mc), 2);
    assert_eq!(seen.len(), 12, "ARP frames on the wire: {seen:#?}");

    let stats: Vec<Stats> = nets.iter().map(Net::stats).collect();
    let mut unicast_frames = 0;
    for (i, s) in stats.iter().enumerate() {
        assert_eq!(s.traffic.arp_out, 4, "host {i}:\n{s}");
        // Each saw exactly one request for a neighbour's address.
        assert_eq!(s.drops(Drop::ArpNotForUs), 1, "host {i}:\n{s}");
        unicast_frames += s.traffic.frames_out;
        let other: Vec<_> = drops(s)
            .into_iter()
            .filter(|(d, _)| !matches!(d, Drop::ArpNotForUs | Drop::EthNotForUs))
            .collect();
        assert_eq!(other, vec![], "host {i}:\n{s}");
    }
    // 9 broadcasts (6 announcements, 3 requests); on a hub every unicast
    // frame also reaches the one stack it is not for.
    unicast_frames -= 9;
    let not_for_us: u64 = stats.iter().map(|s| s.drops(Drop::EthNotForUs)).sum();
    assert_eq!(not_for_us, unicast_frames);
}

/// A, B and a sniffer on a hub, run until `limit`.
fn two_on_a_hub<F: std::future::Future>(limit: Instant, main: impl FnOnce(Net, Net) -> F) -> (F::Output, Vec<ArpSeen>, Stats, Stats) {
    let mut sim = Sim::new(SEED);
    let mut ports = sim.network.hub(3, LinkConfig::default());
    let (mut sniffer, wire) = Sniffer::new(ports.pop().expect("port"));
    let b_dev = ports.pop().expect("port");
    let a_dev = ports.pop().expect("port");
    let a = stack(config(1, ip(1)));
    let b = stack(config(2, ip(2)));
    let mut host_a = Host::new(&a, a_dev);
    let mut host_b = Host::new(&b, b_dev);
    let drivers: &mut [&mut dyn Driver] = &mut [&mut host_a, &mut host_b, &mut sniffer];
    let out = sim.run(drivers, limit, main(a.clone(), b.clone()));
    let seen = arp_frames(&wire.borrow());
    (out, seen, a.stats(), b.stats())
}

/// Requests for `target` seen on the wire, with their times.
fn requests_for(seen: &[ArpSeen], target: Ipv4Addr) -> Vec<(Instant, ArpKind)> {
    seen.iter()
        .filter(|s| s.repr.operation == ArpOperation::Request && s.repr.target_protocol_addr == target && s.kind != ArpKind::Announcement)
        .map(|s| (s.at, s.kind))
        .collect()
}

#[test]
fn resolution_failure_reports_host_unreachable_to_echo() {
    let t0 = Instant::from_secs(10);
    let ((events, second), seen, a, _b) = two_on_a_hub(Instant::from_secs(30), |a, _b| async move {
        let sock = a.echo_socket(None).expect("echo socket");
        a.sleep_until(t0).await;
        // Three requests queue behind one resolution.
        for (seq, at) in [(1u16, 0u64), (2, 500), (3, 1500)] {
            a.sleep_until(t0 + Duration::from_millis(at)).await;
            sock.send(IpAddr::V4(NOBODY), seq, b"hello?").await.expect("send");
        }
        let mut buf = [0u8; 16];
        let mut events = Vec::new();
        for _ in 0..3 {
            let ev = sock.recv(&mut buf).await.expect("recv");
            events.push((a.now(), ev));
        }
        // No negative caching: a new send starts a new resolution.
        a.sleep_until(t0 + Duration::from_secs(5)).await;
        sock.send(IpAddr::V4(NOBODY), 4, b"hello?").await.expect("send");
        let ev = sock.recv(&mut buf).await.expect("recv");
        (events, (a.now(), ev))
    });
    let unreachable = |seq_no| EchoEvent::Error {
        from: IpAddr::V4(ip(1)),
        seq_no,
        error: Error::HostUnreachable,
    };
    // RFC 1122 §2.3.2.1 rate (1 per second), 3 requests, then give up one
    // RetransTimer after the last: every waiting packet fails at once.
    let give_up = t0 + Duration::from_secs(3);
    assert_eq!(
        events,
        vec![(give_up, unreachable(1)), (give_up, unreachable(2)), (give_up, unreachable(3))]
    );
    assert_eq!(second, (t0 + Duration::from_secs(8), unreachable(4)));
    let requests = requests_for(&seen, NOBODY);
    let expected: Vec<(Instant, ArpKind)> = [0u64, 1, 2, 5, 6, 7]
        .iter()
        .map(|s| (t0 + Duration::from_secs(*s) + HOP, ArpKind::BroadcastRequest))
        .collect();
    assert_eq!(requests, expected);
    assert_eq!(a.drops(Drop::ArpUnresolved), 4, "{a}");
    // Not one echo request reached the wire.
    assert_eq!(a.traffic.frames_out, a.traffic.arp_out, "{a}");
}

#[test]
fn resolution_failure_reports_host_unreachable_to_connected_udp() {
    let t0 = Instant::from_secs(10);
    let ((connected, once_more, unconnected), seen, a, _b) = two_on_a_hub(Instant::from_secs(30), |a, _b| async move {
        let conn = a.udp_bind(sock(ip(1), 0)).expect("bind");
        conn.connect(sock(NOBODY, 9)).expect("connect");
        let free = a.udp_bind(sock(ip(1), 0)).expect("bind");
        a.sleep_until(t0).await;
        conn.send(b"connected").await.expect("send");
        free.send_to(b"unconnected", sock(NOBODY, 9)).await.expect("send_to");
        let mut buf = [0u8; 16];
        let connected = (conn.recv(&mut buf).await, a.now());
        // Reported once.
        let once_more = conn.try_recv_from(&mut buf).map(|_| ());
        // RFC 1122 §4.1.3.3 passes ICMP errors up, but an unconnected
        // socket cannot tell which send failed (Linux behaves the same).
        let unconnected = timeout(&a, Duration::from_secs(5), free.recv_from(&mut buf)).await.map(|_| ());
        (connected, once_more, unconnected)
    });
    assert_eq!(connected, (Err(Error::HostUnreachable), t0 + Duration::from_secs(3)));
    assert_eq!(once_more, Err(Error::WouldBlock));
    assert_eq!(unconnected, Err(Error::TimedOut));
    let requests = requests_for(&seen, NOBODY);
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(a.drops(Drop::ArpUnresolved), 2, "{a}");
}

#[test]
fn stale_entries_are_revalidated_by_unicast_then_expire_when_the_peer_leaves() {
    const PINGS: u16 = 600;
    let mut sim = Sim::new(SEED);
    let mut ports = sim.network.hub(3, LinkConfig::default());
    let (mut sniffer, wire) = Sniffer::new(ports.pop().expect("port"));
    let b_dev = ports.pop().expect("port");
    let a_dev = ports.pop().expect("port");
    let a = stack(config(1, ip(1)));
    let b = stack(config(2, ip(2)));
    let mut host_a = Host::new(&a, a_dev);
    let mut host_b = Host::new(&b, b_dev);
    let plug_b = host_b.plug();
    let leave = Instant::from_millis(600_500);
    let t1 = Instant::from_secs(700);

    let main = async {
        let sock = a.echo_socket(None).expect("echo socket");
        // Phase 1: one ping a second for ten minutes (ten ARP lifetimes).
        let mut rtts = Vec::new();
        for seq in 0..PINGS {
            a.sleep_until(START + Duration::from_secs(u64::from(seq))).await;
            match ping(&a, &sock, ip(2), seq, Duration::from_millis(500)).await {
                Some((ev, rtt)) if ev == reply(ip(2), seq) => rtts.push(rtt),
                other => panic!("ping {seq}: {other:?}"),
            }
        }
        // Phase 2: B leaves; A's entry goes stale while nobody uses it.
        a.sleep_until(leave).await;
        plug_b.set(false);
        a.sleep_until(t1).await;
        // A stale entry is still used while it is being revalidated...
        let lost = ping(&a, &sock, ip(2), 1000, Duration::from_millis(3500)).await;
        // ...and is gone after three unanswered unicast polls: the next
        // send starts a broadcast resolution, which fails.
        let failed = ping(&a, &sock, ip(2), 1001, Duration::from_secs(5)).await;
        (rtts, lost, failed, a.now())
    };
    let drivers: &mut [&mut dyn Driver] = &mut [&mut host_a, &mut host_b, &mut sniffer];
    let (rtts, lost, failed, end) = sim.run(drivers, Instant::from_secs(800), main);

    // Traffic never waited for ARP after the first resolution.
    assert_eq!(rtts.len(), usize::from(PINGS));
    assert_eq!(rtts[0], 4 * HOP);
    let slow: Vec<(usize, Duration)> = rtts.iter().copied().enumerate().skip(1).filter(|(_, r)| *r != 2 * HOP).collect();
    assert_eq!(slow, vec![], "pings that were not one plain round trip");

    let seen = arp_frames(&wire.borrow());
    let phase1: Vec<&ArpSeen> = seen.iter().filter(|s| s.at < leave).collect();
    let of_kind = |kind: ArpKind| -> Vec<&ArpSeen> { phase1.iter().copied().filter(|s| s.kind == kind).collect() };
    // One broadcast resolution, at the very start, answered by B.
    let broadcasts: Vec<(Instant, EthernetAddress)> = of_kind(ArpKind::BroadcastRequest).iter().map(|s| (s.at, s.eth_src)).collect();
    assert_eq!(broadcasts, vec![(START + HOP, mac(1))]);
    assert_eq!(of_kind(ArpKind::Announcement).len(), 4);
    // Revalidation: RFC 1122 §2.3.2.1 unicast polls of an entry in use
    // once it is older than REACHABLE_TIME (60 s). Whichever side finds its
    // entry stale first polls; the poll (and its answer) refresh both ends,
    // so the next poll comes one lifetime later, from the other side:
    // - A's entry was last confirmed by B's second announcement (2.001 s):
    //   stale at 62.001, so ping 62 (62.1 s) makes A poll;
    // - B's entry was refreshed by that poll (62.101): stale at 122.101,
    //   exactly when ping 122 reaches B, so B polls;
    // - A's was refreshed by B's poll (122.102): ping 182 (182.1) is
    //   1 ms early, ping 183 makes A poll; and so on.
    // Few frames (one request and one reply a minute), never a broadcast.
    let polls: Vec<(Instant, EthernetAddress)> = of_kind(ArpKind::UnicastRequest).iter().map(|s| (s.at, s.eth_src)).collect();
    let expected: Vec<(Instant, EthernetAddress)> = [62_101u64, 122_102, 183_101, 243_102, 304_101, 364_102, 425_101, 485_102, 546_101]
        .iter()
        .enumerate()
        .map(|(i, ms)| (Instant::from_millis(*ms), if i % 2 == 0 { mac(1) } else { mac(2) }))
        .collect();
    assert_eq!(polls, expected);
    // Every poll answered at once, by the station polled.
    for poll in of_kind(ArpKind::UnicastRequest) {
        let answered = of_kind(ArpKind::Reply)
            .iter()
            .any(|r| r.at == poll.at + HOP && r.repr.target_hardware_addr == poll.eth_src);
        assert!(answered, "unanswered poll {poll:?}");
    }
    assert_eq!(of_kind(ArpKind::Reply).len(), polls.len() + 1);
    assert_eq!(phase1.len(), 4 + 2 + 2 * polls.len(), "{phase1:#?}");

    // Phase 2.
    assert_eq!(lost, None, "B is gone, yet something answered");
    let phase2: Vec<(Instant, ArpKind)> = seen.iter().filter(|s| s.at >= leave).map(|s| (s.at, s.kind)).collect();
    let after = |ms: u64, kind| (t1 + Duration::from_millis(ms) + HOP, kind);
    assert_eq!(
        phase2,
        vec![
            after(0, ArpKind::UnicastRequest),
            after(1000, ArpKind::UnicastRequest),
            after(2000, ArpKind::UnicastRequest),
            after(3500, ArpKind::BroadcastRequest),
            after(4500, ArpKind::BroadcastRequest),
            after(5500, ArpKind::BroadcastRequest),
        ]
    );
    assert_eq!(
        failed,
        Some((
            EchoEvent::Error {
                from: IpAddr::V4(ip(1)),
                seq_no: 1001,
                error: Error::HostUnreachable
            },
            Duration::from_secs(3)
        ))
    );
    assert_eq!(end, t1 + Duration::from_millis(6500));
    let sa = a.stats();
    assert_eq!(sa.drops(Drop::ArpUnresolved), 1, "{sa}");
}

#[test]
fn conflicting_hosts_both_count_the_conflict() {
    let mut sim = Sim::new(SEED);
    let mut ports = sim.network.hub(4, LinkConfig::default());
    let (mut sniffer, wire) = Sniffer::new(ports.pop().expect("port"));
    // A and C both claim 10.0.0.1; B is an innocent bystander.
    let a = stack(config(1, ip(1)));
    let b = stack(config(2, ip(2)));
    let c = stack(config(3, ip(1)));
    let c_dev = ports.pop().expect("port");
    let b_dev = ports.pop().expect("port");
    let a_dev = ports.pop().expect("port");
    let mut host_a = Host::new(&a, a_dev);
    let mut host_b = Host::new(&b, b_dev);
    let mut host_c = Host::new(&c, c_dev);
    let drivers: &mut [&mut dyn Driver] = &mut [&mut host_a, &mut host_b, &mut host_c, &mut sniffer];
    sim.run(drivers, Instant::from_secs(40), b.sleep_until(Instant::from_secs(30)));

    // Each hears the other's announcement at 1 ms (conflict, RFC 5227
    // §2.4), defends once with an announcement, hears the other's defence
    // at 2 ms (conflict, within DEFEND_INTERVAL: no second defence), and
    // hears the other's second announcement at 2.001 s (conflict).
    let (sa, sb, sc) = (a.stats(), b.stats(), c.stats());
    assert_eq!(sa.drops(Drop::ArpConflict), 3, "{sa}");
    assert_eq!(sc.drops(Drop::ArpConflict), 3, "{sc}");
    assert_eq!(sb.drops(Drop::ArpConflict), 0, "{sb}");
    let seen = arp_frames(&wire.borrow());
    for m in [mac(1), mac(3)] {
        let times: Vec<Instant> = seen
            .iter()
            .filter(|s| s.eth_src == m)
            .map(|s| {
                assert_eq!(s.kind, ArpKind::Announcement, "{s:?}");
                assert_eq!(s.repr.source_protocol_addr, ip(1));
                s.at
            })
            .collect();
        assert_eq!(
            times,
            vec![Instant::ZERO + HOP, Instant::ZERO + 2 * HOP, Instant::from_secs(2) + HOP],
            "announcements and defence of {m:?}"
        );
    }
    assert_eq!(count(&seen, ArpKind::Announcement, mac(2)), 2);
    assert_eq!(seen.len(), 8, "{seen:#?}");
    for (name, s) in [("A", &sa), ("B", &sb), ("C", &sc)] {
        let other: Vec<_> = drops(s).into_iter().filter(|(d, _)| *d != Drop::ArpConflict).collect();
        assert_eq!(other, vec![], "{name}:\n{s}");
    }
}
