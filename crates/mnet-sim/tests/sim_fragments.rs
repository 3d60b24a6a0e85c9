//! Fragmentation and reassembly across the simulated network.
//!
//! Stack A (10.0.0.1) sends a UDP datagram of 30,000 bytes, or of 65,507
//! bytes (the largest UDP payload over IPv4), to stack B (10.0.0.2). A
//! fragments it for the 1500-byte MTU; on its way the fragments cross a
//! bridge whose filter passes them in order, reversed, duplicated, with a
//! crafted overlapping fragment, or with one fragment missing. B's
//! reassembly budget is the datagram's size plus 4 KiB, so a byte leaked
//! by the reassembly table shows up as an eviction of the next datagram.
//!
//! Every run follows the same script in virtual time: the datagram, then
//! checkpoints one microsecond before and exactly at the reassembly timeout
//! (RFC 1122 §3.3.2), then a second, clean datagram of the same size.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use mnet::executor::Driver;
use mnet::ip::reassembly::REASSEMBLY_TIMEOUT;
use mnet::stats::{Drop, Stats};
use mnet::wire::{EtherType, EthernetFrame, Icmpv4Packet, Icmpv4Repr, Ipv4Packet};
use mnet::{Duration, Instant, Net};
use mnet_sim::LinkConfig;

/// B's receiving port.
const PORT: u16 = 7;
/// A large datagram, and the largest (65,535 − 20 − 8).
const SIZES: [usize; 2] = [30_000, 65_507];
/// Fragment payload at a 1500-byte MTU: 1500 − 20, a multiple of 8.
const FRAGMENT_DATA: usize = 1480;
/// The seed of every run here (the links are fault-free: it changes nothing).
const SEED: u64 = 7;

/// How many fragments a UDP datagram of `size` bytes takes.
fn fragments_for(size: usize) -> usize {
    (size + 8).div_ceil(FRAGMENT_DATA)
}

/// What the bridge does to the first fragmented datagram it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    InOrder,
    Reversed,
    /// Every fragment twice, back to back.
    Duplicated,
    /// All but the last fragment, then a crafted fragment overlapping the
    /// second one, then the last fragment.
    Overlapping,
    /// Every fragment but the one with this index.
    Missing(usize),
}

/// What the bridge saw and did.
#[derive(Debug, Default)]
struct Shaped {
    /// IP identification of the shaped datagram.
    ident: Option<u16>,
    /// Fragments A sent for it.
    fragments: usize,
    /// Offsets (bytes) of what was forwarded for it, in order.
    forwarded: Vec<usize>,
    done: bool,
}

fn shaping_filter(shape: Shape, state: Rc<RefCell<Shaped>>) -> Filter {
    let mut held: Vec<Vec<u8>> = Vec::new();
    Box::new(move |dir, frame, out| {
        let info = match ipv4_info(&frame) {
            Some(info) if dir == Dir::LeftToRight && info.is_fragment() => info,
            _ => return out.push(frame),
        };
        let mut st = state.borrow_mut();
        if *st.ident.get_or_insert(info.ident) != info.ident || st.done {
            return out.push(frame);
        }
        st.fragments += 1;
        held.push(frame);
        // A emits a datagram's fragments in offset order: MF = 0 is the end.
        if info.more_frags {
            return;
        }
        st.done = true;
        let frames = std::mem::take(&mut held);
        let n = frames.len();
        let mut shaped: Vec<Vec<u8>> = Vec::new();
        match shape {
            Shape::InOrder => shaped = frames,
            Shape::Reversed => shaped.extend(frames.into_iter().rev()),
            Shape::Duplicated => {
                for f in frames {
                    shaped.push(f.clone());
                    shaped.push(f);
                }
            }
            Shape::Overlapping => {
                // 1000 bytes at the second fragment's offset + 8, with
                // different contents: neither a duplicate nor aligned with
                // any real fragment.
                let second = ipv4_info(&frames[1]).expect("IPv4").offset;
                let crafted = rewrite_fragment(&frames[1], second + 8, 1000, true, 0xff);
                let mut frames = frames;
                let last = frames.pop().expect("fragments");
                shaped.extend(frames);
                shaped.push(crafted);
                shaped.push(last);
            }
            Shape::Missing(k) => {
                assert!(k < n, "no fragment {k} of {n}");
                shaped.extend(frames.into_iter().enumerate().filter(|(i, _)| *i != k).map(|(_, f)| f));
            }
        }
        st.forwarded = shaped.iter().map(|f| ipv4_info(f).expect("IPv4").offset).collect();
        out.extend(shaped);
    })
}

/// B as seen at one point of the script.
#[derive(Debug, Clone)]
struct Snapshot {
    at: Instant,
    b: Stats,
    /// When B's engine next needs a poll: `None` means no reassembly state
    /// (nor anything else) is left waiting.
    b_poll_at: Option<Instant>,
    delivered: usize,
}

struct Outcome {
    shaped: Shaped,
    /// Datagrams B's socket received, with the time.
    delivered: Vec<(Instant, Vec<u8>)>,
    /// When the shaped datagram's first frame reached B.
    arrival: Instant,
    /// One second after the first datagram was sent.
    after_send: Snapshot,
    /// One second after the second datagram, when it was sent early.
    early: Option<Snapshot>,
    before_timeout: Snapshot,
    at_timeout: Snapshot,
    /// One second after the second datagram was sent.
    end: Snapshot,
    a: Stats,
    b_log: SharedLog,
}

fn snapshot(net: &Net, at: Instant, inbox: &Inbox) -> Snapshot {
    Snapshot {
        at,
        b: net.stats(),
        b_poll_at: net.poll_at(),
        delivered: inbox.borrow().len(),
    }
}

/// Run the script with `shape` applied to the first datagram. The second
/// datagram goes 30 s after the first arrived when `second_early`, else
/// right after the reassembly timeout.
fn run_case(shape: Shape, size: usize, second_early: bool) -> Outcome {
    let mut sim = Sim::new(SEED);
    let clock = sim.network.clock();
    let (a_dev, left) = sim.network.link(LinkConfig::default());
    let (right, b_dev) = sim.network.link(LinkConfig::default());
    let a = stack(config(1, ip(1)));
    let mut b_config = config(2, ip(2));
    b_config.limits.reassembly.max_bytes = size + 4096;
    let b = stack(b_config);
    let (b_dev, b_log) = Recorder::new(b_dev, clock.clone());
    let shaped = Rc::new(RefCell::new(Shaped::default()));
    let mut bridge = Bridge::new(left, right, shaping_filter(shape, shaped.clone()));
    let mut host_a = Host::new(&a, a_dev);
    let mut host_b = Host::new(&b, b_dev);
    let inbox = Inbox::default();
    let server = b.udp_bind(sock(ip(2), PORT)).expect("bind B");
    sim.spawner().spawn(collect(b.clone(), server, inbox.clone()));

    let main = async {
        let tx = a.udp_bind(sock(ip(1), 0)).expect("bind A");
        tx.send_to(&payload(0, size), sock(ip(2), PORT))
            .await
            .expect("send the first datagram");
        a.sleep(Duration::from_secs(1)).await;
        let after_send = snapshot(&b, clock.now(), &inbox);
        let ident = shaped.borrow().ident.expect("A fragmented the datagram");
        let arrival = b_log
            .borrow()
            .rx
            .iter()
            .find(|(_, f)| ipv4_info(f).is_some_and(|i| i.ident == ident))
            .map(|(t, _)| *t)
            .expect("a fragment reached B");
        let mut early = None;
        if second_early {
            a.sleep_until(arrival + Duration::from_secs(30)).await;
            tx.send_to(&payload(1, size), sock(ip(2), PORT))
                .await
                .expect("send the second datagram");
            a.sleep(Duration::from_secs(1)).await;
            early = Some(snapshot(&b, clock.now(), &inbox));
        }
        a.sleep_until(arrival + (REASSEMBLY_TIMEOUT - Duration::from_micros(1))).await;
        let before_timeout = snapshot(&b, clock.now(), &inbox);
        a.sleep_until(arrival + REASSEMBLY_TIMEOUT).await;
        let at_timeout = snapshot(&b, clock.now(), &inbox);
        if !second_early {
            tx.send_to(&payload(1, size), sock(ip(2), PORT))
                .await
                .expect("send the second datagram");
            a.sleep(Duration::from_secs(1)).await;
        }
        let end = snapshot(&b, clock.now(), &inbox);
        (arrival, after_send, early, before_timeout, at_timeout, end)
    };
    let drivers: &mut [&mut dyn Driver] = &mut [&mut host_a, &mut bridge, &mut host_b];
    let (arrival, after_send, early, before_timeout, at_timeout, end) = sim.run(drivers, Instant::from_secs(200), main);
    let delivered = inbox.borrow().clone();
    let shaped = shaped.take();
    Outcome {
        shaped,
        delivered,
        arrival,
        after_send,
        early,
        before_timeout,
        at_timeout,
        end,
        a: a.stats(),
        b_log,
    }
}

/// Which datagrams B's socket got, in order, each checked byte for byte.
fn delivered_seqs(out: &Outcome, size: usize) -> Vec<u32> {
    out.delivered
        .iter()
        .map(|(_, d)| match identify(d, &[size, size]) {
            Identified::Seq(s) => s,
            other => panic!(
                "size {size}: B received a datagram that was never sent ({} bytes): {other:?}",
                d.len()
            ),
        })
        .collect()
}

/// Checks every run shares: A fragmented both datagrams as expected and
/// dropped nothing, the second (clean) datagram arrived without evicting
/// anything, and B holds no reassembly state at the end.
fn check_common(out: &Outcome, size: usize) {
    let n = fragments_for(size);
    assert_eq!(out.shaped.fragments, n, "size {size}: fragments of the first datagram");
    assert_eq!(
        out.a.traffic.ipv4_frags_out,
        2 * n as u64,
        "size {size}: A fragmented both datagrams"
    );
    assert_eq!(out.a.total_drops(), 0, "size {size}: A dropped something:\n{}", out.a);
    assert_eq!(
        out.end.b.drops(Drop::FragEvicted),
        0,
        "size {size}: reassembly memory was not returned:\n{}",
        out.end.b
    );
    assert_eq!(out.end.b_poll_at, None, "size {size}: B still has reassembly state at the end");
    assert!(out.at_timeout.at == out.arrival + REASSEMBLY_TIMEOUT);
}

#[test]
fn in_order_fragments_reassemble() {
    for size in SIZES {
        let out = run_case(Shape::InOrder, size, false);
        check_common(&out, size);
        let n = fragments_for(size) as u64;
        assert_eq!(out.after_send.delivered, 1, "size {size}");
        assert_eq!(delivered_seqs(&out, size), vec![0, 1], "size {size}");
        assert_eq!(out.end.b.traffic.ipv4_frags_in, 2 * n, "size {size}");
        assert_eq!(out.end.b.traffic.ipv4_reassembled, 2, "size {size}");
        assert_eq!(out.end.b.total_drops(), 0, "size {size}:\n{}", out.end.b);
        // Nothing was left behind to time out.
        assert_eq!(out.before_timeout.b_poll_at, None, "size {size}");
    }
}

#[test]
fn reversed_fragments_reassemble() {
    for size in SIZES {
        let out = run_case(Shape::Reversed, size, false);
        check_common(&out, size);
        let n = fragments_for(size);
        // B really got them last to first.
        let ident = out.shaped.ident.expect("ident");
        let offsets: Vec<usize> = out
            .b_log
            .borrow()
            .rx
            .iter()
            .filter_map(|(_, f)| ipv4_info(f).filter(|i| i.ident == ident).map(|i| i.offset))
            .collect();
        let expected: Vec<usize> = (0..n).rev().map(|i| i * FRAGMENT_DATA).collect();
        assert_eq!(offsets, expected, "size {size}: arrival order at B");
        assert_eq!(out.after_send.delivered, 1, "size {size}");
        assert_eq!(delivered_seqs(&out, size), vec![0, 1], "size {size}");
        assert_eq!(out.end.b.traffic.ipv4_reassembled, 2, "size {size}");
        assert_eq!(out.end.b.total_drops(), 0, "size {size}:\n{}", out.end.b);
        assert_eq!(out.before_timeout.b_poll_at, None, "size {size}");
    }
}

#[test]
fn duplicated_fragments_reassemble_once() {
    for size in SIZES {
        let out = run_case(Shape::Duplicated, size, false);
        check_common(&out, size);
        let n = fragments_for(size) as u64;
        assert_eq!(out.shaped.forwarded.len() as u64, 2 * n, "size {size}");
        // Delivered once: the copies of fragments 0..n-1 arrive while the
        // datagram is incomplete and are ignored as duplicates...
        assert_eq!(out.after_send.delivered, 1, "size {size}");
        assert_eq!(
            out.after_send.b.drops(Drop::FragDuplicate),
            n - 1,
            "size {size}:\n{}",
            out.after_send.b
        );
        assert_eq!(out.after_send.b.traffic.ipv4_frags_in, 2 * n, "size {size}");
        assert_eq!(out.after_send.b.traffic.ipv4_reassembled, 1, "size {size}");
        // ...and the copy of the last one, arriving after completion, starts
        // a new partial datagram that times out exactly on time.
        assert_eq!(out.before_timeout.b.drops(Drop::FragTimeout), 0, "size {size}");
        assert_eq!(out.before_timeout.b_poll_at, Some(out.arrival + REASSEMBLY_TIMEOUT), "size {size}");
        assert_eq!(out.at_timeout.b.drops(Drop::FragTimeout), 1, "size {size}");
        assert_eq!(out.at_timeout.b_poll_at, None, "size {size}");
        assert_eq!(delivered_seqs(&out, size), vec![0, 1], "size {size}");
        assert_eq!(out.end.b.total_drops(), n, "size {size}:\n{}", out.end.b);
    }
}

#[test]
fn overlapping_fragment_discards_the_datagram() {
    for size in SIZES {
        let out = run_case(Shape::Overlapping, size, false);
        check_common(&out, size);
        let n = fragments_for(size);
        let mut expected: Vec<usize> = (0..n - 1).map(|i| i * FRAGMENT_DATA).collect();
        expected.push(FRAGMENT_DATA + 8);
        expected.push((n - 1) * FRAGMENT_DATA);
        assert_eq!(out.shaped.forwarded, expected, "size {size}");
        // RFC 5722 §4, applied to IPv4 too: the whole datagram is discarded.
        assert_eq!(out.after_send.delivered, 0, "size {size}: a datagram with an overlap was delivered");
        assert_eq!(out.after_send.b.drops(Drop::FragOverlap), 1, "size {size}:\n{}", out.after_send.b);
        assert_eq!(out.after_send.b.traffic.ipv4_reassembled, 0, "size {size}");
        // The last fragment came after the discard: alone, it times out.
        assert_eq!(out.before_timeout.b.drops(Drop::FragTimeout), 0, "size {size}");
        assert_eq!(out.at_timeout.b.drops(Drop::FragTimeout), 1, "size {size}");
        assert_eq!(out.at_timeout.b_poll_at, None, "size {size}");
        // The clean datagram afterwards is untouched by any of it.
        assert_eq!(delivered_seqs(&out, size), vec![1], "size {size}");
        assert_eq!(out.end.b.total_drops(), 2, "size {size}:\n{}", out.end.b);
    }
}

#[test]
fn missing_fragment_times_out_and_frees_memory() {
    for size in SIZES {
        let n = fragments_for(size);
        let out = run_case(Shape::Missing(n / 2), size, false);
        check_common(&out, size);
        assert_eq!(out.shaped.forwarded.len(), n - 1, "size {size}");
        assert_eq!(out.after_send.delivered, 0, "size {size}: an incomplete datagram was delivered");
        assert_eq!(out.after_send.b.total_drops(), 0, "size {size}:\n{}", out.after_send.b);
        // RFC 1122 §3.3.2: a fixed reassembly timeout, counted from the
        // first fragment (60 s here), not a microsecond earlier.
        assert_eq!(out.before_timeout.b.drops(Drop::FragTimeout), 0, "size {size}");
        assert_eq!(out.before_timeout.b_poll_at, Some(out.arrival + REASSEMBLY_TIMEOUT), "size {size}");
        assert_eq!(out.before_timeout.delivered, 0, "size {size}");
        assert_eq!(out.at_timeout.b.drops(Drop::FragTimeout), 1, "size {size}:\n{}", out.at_timeout.b);
        // Memory returned: nothing left to wait for, and the next datagram
        // of the same size fits a budget that cannot hold two.
        assert_eq!(out.at_timeout.b_poll_at, None, "size {size}");
        assert_eq!(delivered_seqs(&out, size), vec![1], "size {size}");
        assert_eq!(out.end.b.traffic.ipv4_reassembled, 1, "size {size}");
        assert_eq!(out.end.b.total_drops(), 1, "size {size}:\n{}", out.end.b);
    }
}

/// The control for the memory checks above: while the partial datagram is
/// held, the same budget cannot take a second one, so the oldest is evicted.
#[test]
fn partial_datagram_holds_memory_until_evicted() {
    for size in SIZES {
        let n = fragments_for(size);
        let out = run_case(Shape::Missing(n / 2), size, true);
        let early = out.early.as_ref().expect("second datagram sent early");
        assert_eq!(early.delivered, 1, "size {size}");
        assert_eq!(early.b.drops(Drop::FragEvicted), 1, "size {size}:\n{}", early.b);
        assert_eq!(delivered_seqs(&out, size), vec![1], "size {size}");
        // Evicted, so it never times out.
        assert_eq!(out.at_timeout.b.drops(Drop::FragTimeout), 0, "size {size}");
        assert_eq!(out.at_timeout.b_poll_at, None, "size {size}");
        assert_eq!(out.end.b.total_drops(), 1, "size {size}:\n{}", out.end.b);
    }
}

/// ICMP Time Exceeded messages (type 11) B sent, with the code and the
/// quoted IP identification.
fn time_exceeded_sent(out: &Outcome) -> Vec<(Instant, u8, u16)> {
    out.b_log
        .borrow()
        .tx
        .iter()
        .filter_map(|(t, f)| {
            let eth = EthernetFrame::new_checked(&f[..]).ok()?;
            if eth.ethertype() != EtherType::Ipv4 {
                return None;
            }
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            let icmp = Icmpv4Packet::new_checked(ip.payload()).ok()?;
            match Icmpv4Repr::parse(&icmp, true).ok()? {
                Icmpv4Repr::TimeExceeded { code, invoking } => {
                    let quoted = Ipv4Packet::new_quoted(invoking).ok()?;
                    Some((*t, code, quoted.ident()))
                }
                _ => None,
            }
        })
        .collect()
}

/// RFC 1122 §3.3.2: "If this timeout expires, the partially-reassembled
/// datagram MUST be discarded and an ICMP Time Exceeded message sent to
/// the source host (if fragment zero has been received)."
#[test]

fn reassembly_timeout_sends_time_exceeded_when_fragment_zero_arrived() {
    for size in SIZES {
        let n = fragments_for(size);
        let out = run_case(Shape::Missing(n / 2), size, false);
        let ident = out.shaped.ident.expect("ident");
        // Code 1: "fragment reassembly time exceeded" (RFC 792).
        assert_eq!(
            time_exceeded_sent(&out),
            vec![(out.arrival + REASSEMBLY_TIMEOUT, 1, ident)],
            "size {size}"
        );
        assert_eq!(out.a.traffic.icmpv4_in, 1, "size {size}: A did not receive the Time Exceeded");
    }
}

/// The other half of the same rule: without fragment zero there is nothing
/// to quote, and no Time Exceeded may be sent.
#[test]
fn reassembly_timeout_is_silent_without_fragment_zero() {
    for size in SIZES {
        let out = run_case(Shape::Missing(0), size, false);
        check_common(&out, size);
        assert_eq!(out.at_timeout.b.drops(Drop::FragTimeout), 1, "size {size}");
        assert_eq!(time_exceeded_sent(&out), vec![], "size {size}");
        assert_eq!(delivered_seqs(&out, size), vec![1], "size {size}");
    }
}
