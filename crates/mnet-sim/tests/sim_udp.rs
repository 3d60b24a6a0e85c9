//! UDP across a faulty simulated link, checked datagram by datagram.
//!
//! Stack A (10.0.0.1) sends 1,000 datagrams of random sizes (1 to 3,000
//! bytes, so one to three fragments each) to stack B (10.0.0.2), one per
//! millisecond. Both devices are wrapped in recorders, so the tests know
//! which frames A put on the wire and which reached B, and can say exactly
//! which datagrams B must deliver. Every datagram carries its sequence
//! number and a hash ([`common::payload`]): a corrupted or invented one is
//! recognised.
//!
//! Address resolution is done first on a clean link; the faults are then
//! switched on for the measured phase.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use common::*;
use mnet::executor::Driver;
use mnet::socket::timeout;
use mnet::stats::{Drop, Traffic};
use mnet::wire::{EthernetFrame, Ipv4Packet, UdpPacket, UdpRepr};
use mnet::{Duration, Instant};
use mnet_sim::{LinkConfig, LinkStats, Ratio};

const PORT: u16 = 7;
const DATAGRAMS: usize = 1000;
const MAX_SIZE: usize = 3000;
/// UDP payload in an unfragmented 1500-byte packet (1500 − 20 − 8).
const UNFRAGMENTED_MAX: usize = 1472;
/// Time for the stragglers (reordered frames are held up to 5 ms).
const SETTLE: Duration = Duration::from_secs(2);
/// Past every reassembly timeout of the measured phase.
const DRAIN: Duration = Duration::from_secs(61);

/// The link during the measured phase.
fn lossy() -> LinkConfig {
    LinkConfig {
        loss: Ratio::from_percent(5),
        duplicate: Ratio::from_percent(5),
        reorder: Ratio::from_percent(5),
        ..LinkConfig::default()
    }
}

fn corrupting() -> LinkConfig {
    LinkConfig {
        corrupt: Ratio::from_percent(1),
        ..LinkConfig::default()
    }
}

/// One IPv4 frame of the measured phase.
#[derive(Debug, Clone)]
struct Wire {
    info: Ipv4Info,
    frame: Vec<u8>,
}

/// Everything a run produced.
struct Run {
    sizes: Vec<usize>,
    /// Frames A transmitted during the measured phase (IPv4 only).
    sent: Vec<Wire>,
    /// Frames B received during the measured phase (IPv4 only).
    received: Vec<Wire>,
    /// Frames B transmitted during the measured phase (of any kind).
    b_sent_in_phase: usize,
    /// Datagrams B's socket got, in order.
    inbox: Vec<(Instant, Vec<u8>)>,
    /// Link counters of the measured phase alone.
    link: LinkStats,
    /// B's counters at the end of the phase, and after `DRAIN` more.
    b_settled: mnet::stats::Stats,
    b_drained: mnet::stats::Stats,
    b_poll_at_drained: Option<Instant>,
    a: mnet::stats::Stats,
    end: Instant,
}

fn phase_ipv4(list: &FrameList, from: usize) -> Vec<Wire> {
    list[from..]
        .iter()
        .filter_map(|(_, f)| ipv4_info(f).map(|info| Wire { info, frame: f.clone() }))
        .collect()
}

fn minus(after: LinkStats, before: LinkStats) -> LinkStats {
    LinkStats {
        sent: after.sent - before.sent,
        delivered: after.delivered - before.delivered,
        bytes_delivered: after.bytes_delivered - before.bytes_delivered,
        dropped: after.dropped - before.dropped,
        duplicated: after.duplicated - before.duplicated,
        corrupted: after.corrupted - before.corrupted,
        reordered: after.reordered - before.reordered,
        oversize: after.oversize - before.oversize,
        queue_drops: after.queue_drops - before.queue_drops,
        no_receiver: after.no_receiver - before.no_receiver,
    }
}

/// Resolve addresses on a clean link, switch `faults` on, send the
/// datagrams, let the stragglers in, then wait out reassembly.
fn run(seed: u64, faults: LinkConfig, datagrams: usize) -> Run {
    let mut sim = Sim::new(seed);
    let clock = sim.network.clock();
    let (a_dev, b_dev) = sim.network.link(LinkConfig::default());
    let link_id = a_dev.link_id();
    let (a_dev, a_log) = Recorder::new(a_dev, clock.clone());
    let (b_dev, b_log) = Recorder::new(b_dev, clock.clone());
    let a = stack(config(1, ip(1)));
    let b = stack(config(2, ip(2)));
    let mut host_a = Host::new(&a, a_dev);
    let mut host_b = Host::new(&b, b_dev);
    let inbox = Inbox::default();
    let server = b.udp_bind(sock(ip(2), PORT)).expect("bind B");
    sim.spawner().spawn(collect(b.clone(), server, inbox.clone()));
    let sizes = random_sizes(seed, datagrams, 1, MAX_SIZE);
    let network = sim.network.clone();

    let main = async {
        // Resolve both ways on the clean link (B learns A from A's request).
        let echo = a.echo_socket(None).expect("echo socket");
        echo.send(IpAddr::V4(ip(2)), 1, b"warm-up").await.expect("echo");
        let mut buf = [0u8; 16];
        timeout(&a, Duration::from_secs(1), echo.recv(&mut buf))
            .await
            .expect("warm-up timed out")
            .expect("warm-up echo");
        // Past the RFC 5227 announcements too: nothing but our traffic now.
        a.sleep_until(Instant::from_secs(3)).await;
        let marks = (a_log.borrow().tx.len(), b_log.borrow().rx.len(), b_log.borrow().tx.len());
        let before = network.link_stats(link_id).expect("link");
        assert!(network.set_link_config(link_id, faults));
        let tx = a.udp_bind(sock(ip(1), 0)).expect("bind A");
        let start = a.now();
        for (seq, &size) in sizes.iter().enumerate() {
            a.sleep_until(start + Duration::from_millis(seq as u64)).await;
            tx.send_to(&payload(seq as u32, size), sock(ip(2), PORT)).await.expect("send");
        }
        a.sleep(SETTLE).await;
        let link = minus(network.link_stats(link_id).expect("link"), before);
        let b_settled = b.stats();
        a.sleep(DRAIN).await;
        (marks, link, b_settled)
    };
    let drivers: &mut [&mut dyn Driver] = &mut [&mut host_a, &mut host_b];
    let ((a_mark, b_mark, b_tx_mark), link, b_settled) = sim.run(drivers, Instant::from_secs(200), main);
    let sent = phase_ipv4(&a_log.borrow().tx, a_mark);
    let received = phase_ipv4(&b_log.borrow().rx, b_mark);
    let b_sent_in_phase = b_log.borrow().tx.len() - b_tx_mark;
    let inbox = inbox.borrow().clone();
    Run {
        sizes,
        sent,
        received,
        b_sent_in_phase,
        inbox,
        link,
        b_settled,
        b_drained: b.stats(),
        b_poll_at_drained: b.poll_at(),
        a: a.stats(),
        end: clock.now(),
    }
}

/// The fragments of one datagram: (offset, length) in bytes.
type Fragments = Vec<(usize, usize)>;

/// A's datagrams of the phase: IP identification → sequence number, and
/// the fragments each was cut into.
fn datagrams_sent(run: &Run) -> (BTreeMap<u16, u32>, Vec<Fragments>) {
    let mut seq_of = BTreeMap::new();
    let mut fragments: Vec<Fragments> = Vec::new();
    for w in &run.sent {
        let next = fragments.len() as u32;
        let seq = *seq_of.entry(w.info.ident).or_insert(next);
        if seq == next {
            fragments.push(Vec::new());
        }
        fragments[seq as usize].push((w.info.offset, w.info.payload_len));
    }
    assert_eq!(fragments.len(), run.sizes.len(), "A sent one IP datagram per UDP datagram");
    for (seq, frags) in fragments.iter().enumerate() {
        let expected = if run.sizes[seq] <= UNFRAGMENTED_MAX {
            1
        } else {
            (run.sizes[seq] + 8).div_ceil(1480)
        };
        assert_eq!(frags.len(), expected, "datagram {seq} of {} bytes", run.sizes[seq]);
    }
    (seq_of, fragments)
}

/// What B's socket got: datagram → how many times. Panics on anything
/// that is not an intact copy of a sent datagram.
fn deliveries(run: &Run) -> (BTreeMap<u32, usize>, usize) {
    let mut counts = BTreeMap::new();
    let mut ambiguous = 0;
    for (at, data) in &run.inbox {
        match identify(data, &run.sizes) {
            Identified::Seq(s) => *counts.entry(s).or_insert(0) += 1,
            Identified::Ambiguous(_) => ambiguous += 1,
            Identified::Invalid => panic!("B delivered a corrupted datagram of {} bytes at {at:?}", data.len()),
        }
    }
    (counts, ambiguous)
}

#[test]
fn datagrams_survive_loss_duplication_and_reordering() {
    let run = run(2026, lossy(), DATAGRAMS);
    let (seq_of, fragments) = datagrams_sent(&run);
    let (counts, ambiguous) = deliveries(&run);

    // A model of reassembly, without bounds, fed with the frames B really
    // received in the order it received them: a datagram is delivered when
    // every one of its fragments is present; a fragment already present is
    // a duplicate; a copy arriving after completion starts over (and may
    // build the datagram again, a legitimate duplicate at the UDP level).
    let mut present: BTreeMap<u32, BTreeSet<usize>> = BTreeMap::new();
    let mut expected: BTreeMap<u32, usize> = BTreeMap::new();
    let mut duplicate_fragments = 0u64;
    for w in &run.received {
        let seq = *seq_of.get(&w.info.ident).expect("B got a frame A never sent");
        let needed = fragments[seq as usize].len();
        let have = present.entry(seq).or_default();
        if needed > 1 && !have.insert(w.info.offset) {
            duplicate_fragments += 1;
            continue;
        }
        if needed == 1 || have.len() == needed {
            present.remove(&seq);
            *expected.entry(seq).or_insert(0) += 1;
        }
    }
    let leftovers = present.values().filter(|p| !p.is_empty()).count() as u64;
    assert_eq!(ambiguous, 0, "choose a seed without identical tiny datagrams");
    // Exactly those datagrams, exactly that often: nothing lost inside B
    // (the table's bounds only ever evicted dead leftovers), nothing made up.
    assert_eq!(counts, expected, "deliveries differ from the model");
    let delivered: BTreeSet<u32> = counts.keys().copied().collect();

    // The faults really happened: the checks above had work to do.
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    assert!(
        run.link.dropped >= 20 && run.link.duplicated >= 20 && run.link.reordered >= 20,
        "{:?}",
        run.link
    );
    assert!(duplicates >= 10, "{duplicates} duplicates delivered");
    assert!(DATAGRAMS - delivered.len() >= 20, "only {} lost", DATAGRAMS - delivered.len());
    let order: Vec<u32> = run
        .inbox
        .iter()
        .filter_map(|(_, d)| match identify(d, &run.sizes) {
            Identified::Seq(s) => Some(s),
            _ => None,
        })
        .collect();
    let inversions = order.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(inversions >= 10, "only {inversions} datagrams overtaken");

    // B dropped nothing but duplicate fragments and the leftovers of
    // incomplete datagrams: evicted when the table (64 datagrams) filled
    // up, the others at the reassembly timeout. Nothing waits at the end.
    let b = &run.b_drained;
    let unexpected: Vec<(Drop, u64)> = b
        .all_drops()
        .filter(|(d, n)| *n > 0 && !matches!(d, Drop::FragDuplicate | Drop::FragTimeout | Drop::FragEvicted))
        .collect();
    assert_eq!(unexpected, vec![], "{b}");
    assert_eq!(b.drops(Drop::FragDuplicate), duplicate_fragments, "{b}");
    assert_eq!(run.b_settled.drops(Drop::FragTimeout), 0);
    assert_eq!(b.drops(Drop::FragTimeout) + b.drops(Drop::FragEvicted), leftovers, "{b}");
    assert!(duplicate_fragments > 0 && leftovers > 0);
    assert_eq!(
        b.traffic.udp_in as usize,
        run.inbox.len(),
        "B's UDP layer lost datagrams on the way to the socket"
    );
    assert_eq!(run.b_poll_at_drained, None, "reassembly state left behind");
    assert_eq!(run.b_sent_in_phase, 0);
    assert_eq!(run.a.total_drops(), 0, "{}", run.a);
}

/// How the corrupted frames of a run were accounted for.
#[derive(Debug)]
struct Accounted {
    corrupted: u64,
    /// Frames dropped by the IPv4 header checks (one flip each).
    ip_drops: u64,
    /// Datagrams dropped by the UDP checks.
    udp_drops: u64,
    /// Fragmented datagrams left incomplete by an IP-level drop, dropped
    /// at the reassembly timeout.
    timeouts: u64,
    /// Damaged datagrams whose UDP checksum still verifies: two flips of
    /// the same bit of the same 16-bit column in opposite directions
    /// cancel out in a ones'-complement sum. Delivered, as RFC 768 wants.
    escaped: u64,
}

/// What B's UDP layer makes of the datagram rebuilt from `frames` (the
/// fragments as B received them, every IPv4 header intact): `Some(data)`
/// if it passes the length and checksum checks, `None` if it is dropped.
fn udp_verdict(frames: &[&Wire]) -> Option<Vec<u8>> {
    let mut parts: Vec<(usize, &[u8])> = frames
        .iter()
        .map(|w| {
            let start = 14 + w.info.header_len;
            (w.info.offset, &w.frame[start..start + w.info.payload_len])
        })
        .collect();
    parts.sort_by_key(|(offset, _)| *offset);
    let datagram: Vec<u8> = parts.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    let eth = EthernetFrame::new_checked(&frames[0].frame[..]).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let (src, dst) = (IpAddr::V4(ip.src_addr()), IpAddr::V4(ip.dst_addr()));
    let udp = UdpPacket::new_checked(&datagram[..]).ok()?;
    UdpRepr::parse(&udp, &src, &dst, true).ok()?;
    Some(udp.payload().to_vec())
}

/// Find every frame the link corrupted (B's copy differs from A's),
/// predict what B must have dropped or delivered for it, and compare with
/// B's counters and with what B's socket got.
fn account_for_corruption(run: &Run) -> Accounted {
    let (seq_of, fragments) = datagrams_sent(run);

    // No loss, duplication or reordering: B got exactly A's frames, in
    // order; compare them to find every flipped bit.
    assert_eq!(run.received.len(), run.sent.len());
    assert_eq!(run.b_sent_in_phase, 0, "B sent something: the link's counts would mix directions");
    // Datagram → (flips in IPv4 headers, flips elsewhere).
    let mut flips: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    let mut frames_of: BTreeMap<u32, Vec<&Wire>> = BTreeMap::new();
    let mut corrupted = 0;
    for (sent, got) in run.sent.iter().zip(&run.received) {
        let seq = seq_of[&sent.info.ident];
        frames_of.entry(seq).or_default().push(got);
        assert_eq!(sent.frame.len(), got.frame.len());
        let diff: Vec<usize> = (0..sent.frame.len()).filter(|&i| sent.frame[i] != got.frame[i]).collect();
        let Some(&at) = diff.first() else { continue };
        corrupted += 1;
        assert_eq!(diff.len(), 1, "more than one byte changed");
        assert_eq!((sent.frame[at] ^ got.frame[at]).count_ones(), 1, "more than one bit flipped");
        assert!(at >= 14, "the Ethernet header was damaged");
        let entry = flips.entry(seq).or_default();
        if at < 14 + sent.info.header_len {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    assert_eq!(corrupted, run.link.corrupted, "the link's count of corrupted frames");

    // What B must have done with each damaged datagram.
    let mut ip_drops = 0u64;
    let mut udp_drops = 0u64;
    let mut timeouts = 0u64;
    let mut lost = BTreeSet::new();
    let mut escaped: Vec<Vec<u8>> = Vec::new();
    for (&seq, &(header, payload)) in &flips {
        let frames = fragments[seq as usize].len();
        lost.insert(seq);
        if header > 0 {
            // RFC 1122 §3.2.1.2: the header checksum catches any one flip.
            ip_drops += header as u64;
            // The other fragments wait for the dropped one until the
            // reassembly timeout.
            if frames > header {
                timeouts += 1;
            }
            continue;
        }
        match udp_verdict(&frames_of[&seq]) {
            None => udp_drops += 1,
            Some(data) => {
                assert_ne!(payload, 1, "datagram {seq}: a single flipped bit passed the UDP checksum");
                escaped.push(data);
            }
        }
    }
    let b = &run.b_drained;
    let ip_counted = b.drops(Drop::Ipv4BadChecksum) + b.drops(Drop::Ipv4Malformed) + b.drops(Drop::Ipv4BadVersion);
    let udp_counted = b.drops(Drop::UdpBadChecksum) + b.drops(Drop::UdpMalformed);
    assert_eq!(ip_counted, ip_drops, "IP-level drops vs flips in IP headers:\n{b}");
    assert_eq!(udp_counted, udp_drops, "UDP-level drops vs datagrams with flipped data:\n{b}");
    assert_eq!(run.b_settled.drops(Drop::FragTimeout), 0);
    assert_eq!(b.drops(Drop::FragTimeout), timeouts, "{b}");
    assert_eq!(b.total_drops(), ip_drops + udp_drops + timeouts, "drops of other kinds:\n{b}");
    assert_eq!(run.b_poll_at_drained, None, "reassembly state left behind");

    // Every undamaged datagram arrived once, intact; of the damaged ones,
    // exactly those the checksum cannot see arrived, as they were damaged.
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    let mut escaped_left = escaped.clone();
    for (at, data) in &run.inbox {
        match identify(data, &run.sizes) {
            Identified::Seq(s) => *counts.entry(s).or_insert(0) += 1,
            Identified::Ambiguous(seqs) => panic!("ambiguous datagram {seqs:?}: choose another seed"),
            Identified::Invalid => match escaped_left.iter().position(|e| e == data) {
                Some(i) => {
                    escaped_left.swap_remove(i);
                }
                None => panic!(
                    "B delivered a corrupted datagram of {} bytes at {at:?} that its checksum should have caught",
                    data.len()
                ),
            },
        }
    }
    assert_eq!(escaped_left.len(), 0, "datagrams that pass every check were not delivered");
    assert!(counts.values().all(|&c| c == 1), "a datagram was delivered twice");
    let delivered: BTreeSet<u32> = counts.keys().copied().collect();
    let expected: BTreeSet<u32> = (0..run.sizes.len() as u32).filter(|s| !lost.contains(s)).collect();
    assert_eq!(delivered, expected);
    Accounted {
        corrupted,
        ip_drops,
        udp_drops,
        timeouts,
        escaped: escaped.len() as u64,
    }
}

/// 1 % of frames damaged (one bit each): every damaged frame is dropped,
/// by the IPv4 header checksum or, once its datagram is whole, by the UDP
/// checksum; no damaged byte reaches the application.
#[test]
fn corrupted_frames_are_all_dropped_and_accounted() {
    let run = run(7, corrupting(), DATAGRAMS);
    let accounted = account_for_corruption(&run);
    assert!(accounted.corrupted >= 8, "only {accounted:?}: the test checks little");
    assert_eq!(accounted.escaped, 0, "{accounted:?}");
    assert_eq!(accounted.ip_drops + accounted.udp_drops, accounted.corrupted, "{accounted:?}");
}

/// The same accounting at 10 % over twice the datagrams, so that flips
/// land in IPv4 headers (a small target: 20 bytes of up to 1500), also of
/// fragments whose siblings then time out, and several flips land in one
/// datagram. The engine must still do exactly what the checksums allow.
#[test]
fn corrupted_headers_and_fragments_are_accounted_at_a_high_rate() {
    let faults = LinkConfig {
        corrupt: Ratio::from_percent(10),
        ..LinkConfig::default()
    };
    let run = run(31, faults, 2 * DATAGRAMS);
    let accounted = account_for_corruption(&run);
    assert!(accounted.corrupted >= 250, "{accounted:?}");
    assert!(accounted.ip_drops >= 3, "{accounted:?}");
    assert!(accounted.timeouts >= 1, "{accounted:?}");
    assert!(accounted.udp_drops >= 100, "{accounted:?}");
    // At this rate some datagrams take two flips that cancel out: the
    // checksum cannot see them, and they must be delivered (as damaged).
    assert!(accounted.escaped >= 1, "{accounted:?}");
}

#[test]
fn udp_echo_round_trips_under_loss_with_retries() {
    const REQUESTS: usize = 50;
    const MAX_ATTEMPTS: u32 = 20;
    let mut sim = Sim::new(99);
    let (a_dev, b_dev) = sim.network.link(lossy());
    let a = stack(config(1, ip(1)));
    let b = stack(config(2, ip(2)));
    let mut host_a = Host::new(&a, a_dev);
    let mut host_b = Host::new(&b, b_dev);
    let echoed = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let counter = echoed.clone();
    let b2 = b.clone();
    sim.spawner().spawn(async move {
        let served = mnet_apps::udp_echo::udp_echo(&b2, PORT, None, |_, _| counter.set(counter.get() + 1)).await;
        panic!("udp-echo stopped: {served:?}");
    });
    let sizes = random_sizes(99, REQUESTS, 1, MAX_SIZE);

    let main = async {
        let sock = a.udp_bind(sock(ip(1), 0)).expect("bind");
        let server = sock_addr_b();
        let mut buf = vec![0u8; 65536];
        let mut attempts = Vec::new();
        let mut stale = 0;
        for (seq, &size) in sizes.iter().enumerate() {
            let request = payload(seq as u32, size);
            let mut attempt = 0;
            'retry: loop {
                attempt += 1;
                assert!(attempt <= MAX_ATTEMPTS, "request {seq}: no echo after {MAX_ATTEMPTS} attempts");
                sock.send_to(&request, server).await.expect("send");
                let deadline = a.now() + Duration::from_millis(300);
                loop {
                    let left = deadline.saturating_duration_since(a.now());
                    match timeout(&a, left, sock.recv_from(&mut buf)).await {
                        Err(_) => continue 'retry,
                        Ok(Err(e)) => panic!("recv: {e}"),
                        Ok(Ok((n, from))) => {
                            assert_eq!(from, server);
                            if buf[..n] == request[..] {
                                break 'retry;
                            }
                            // A late or duplicated echo of an earlier request:
                            // intact, never anything else.
                            match identify(&buf[..n], &sizes) {
                                Identified::Seq(s) if (s as usize) < seq => stale += 1,
                                other => panic!("request {seq}: unexpected reply {other:?} ({n} bytes)"),
                            }
                        }
                    }
                }
            }
            attempts.push(attempt);
        }
        (attempts, stale)
    };
    let drivers: &mut [&mut dyn Driver] = &mut [&mut host_a, &mut host_b];
    let (attempts, stale_replies) = sim.run(drivers, Instant::from_secs(600), main);
    let retries: u32 = attempts.iter().map(|a| a - 1).sum();
    // Each attempt needs its request and its reply (one to three frames
    // each way) through 5 % loss: about one in six fails.
    assert!((1..=30).contains(&retries), "{retries} retries: {attempts:?}");
    let echoed = echoed.get();
    let replies_seen = (REQUESTS + stale_replies) as u64;
    assert!(echoed >= replies_seen, "A got {replies_seen} replies, B echoed only {echoed}");
    let sb = b.stats();
    assert_eq!(sb.traffic.udp_in, echoed, "B's socket got every datagram B's UDP accepted:\n{sb}");
    let bad: Vec<(Drop, u64)> = sb
        .all_drops()
        .chain(a.stats().all_drops())
        .filter(|(d, n)| *n > 0 && !matches!(d, Drop::FragDuplicate | Drop::FragTimeout | Drop::ArpPendingFull))
        .collect();
    assert_eq!(bad, vec![], "A:\n{}\nB:\n{sb}", a.stats());
}

fn sock_addr_b() -> std::net::SocketAddr {
    sock(ip(2), PORT)
}

/// Everything observable of a lossy run, for comparing runs.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    link: LinkStats,
    a: (Traffic, Vec<(Drop, u64)>),
    b: (Traffic, Vec<(Drop, u64)>),
    inbox: Vec<(Instant, usize)>,
    end: Instant,
}

fn fingerprint(run: &Run) -> Fingerprint {
    Fingerprint {
        link: run.link,
        a: (run.a.traffic, run.a.all_drops().collect()),
        b: (run.b_drained.traffic, run.b_drained.all_drops().collect()),
        inbox: run.inbox.iter().map(|(t, d)| (*t, d.len())).collect(),
        end: run.end,
    }
}

#[test]
fn same_seed_same_run() {
    let first = fingerprint(&run(4242, lossy(), DATAGRAMS));
    let again = fingerprint(&run(4242, lossy(), DATAGRAMS));
    assert_eq!(first, again);
    // And the seed matters: another one loses other frames.
    let other = fingerprint(&run(4243, lossy(), DATAGRAMS));
    assert_ne!(first.link, other.link);
    assert_ne!(first.inbox, other.inbox);
}
