//! After warm-up, the receive and transmit paths allocate nothing per
//! packet (ARCHITECTURE.md, "Frame buffers kept for reuse").
//!
//! Two stacks, A and B, are wired back to back: frames go from one's
//! `transmit` straight into the other's `receive`. After a warm-up (ARP
//! resolved, sockets bound, traffic of every kind exchanged, a fragmented
//! datagram reassembled once), a counting global allocator watches 1,000
//! rounds of: a 100-byte UDP datagram A→B read by B's socket, and an ICMP
//! echo request from A's echo socket answered by B and read by A, with
//! both stacks polled. A second test does the same for a TCP connection
//! (100 bytes A→B, read by B, acknowledged). A third counts 1,000 rounds
//! of mnet's executor with 1,000 idle tasks, one that wakes itself and two
//! that wake each other (no allocation per wake or per poll). Every allocation,
//! reallocation or free in the measured window is counted; the first few
//! are recorded with a backtrace, printed if the count is not zero.
//!
//! Counting (`mnet_testnet::counting_alloc`) is per thread (thread-local
//! switch and counters), so the tests and the harness's other threads
//! cannot disturb each other's count.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use mnet::link::FrameMeta;
use mnet::stack::{EchoEvent, Stack};
use mnet::wire::{EthernetAddress, IpCidr};
use mnet::{Config, Duration, Instant};
use mnet_testnet::counting_alloc::{self, CountingAlloc};

/// Runs `f` with allocation counting on; returns (allocations, frees, traces).
fn count(f: impl FnOnce()) -> (u64, u64, String) {
    let e = counting_alloc::count_events(f);
    (e.allocs, e.frees, e.traces)
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0a]);
const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0b]);
const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const ROUNDS: u16 = 1000;
/// Small TCP rounds before measuring: 500 KB through a 64 KiB send ring.
const WARMUP_TCP_ROUNDS: u32 = 5000;

fn stack(mac: EthernetAddress, ip: Ipv4Addr, seed: u8, now: Instant) -> Stack {
    let cidr = IpCidr::new(IpAddr::V4(ip), 24).expect("valid prefix");
    Stack::new(Config::new(mac, [seed; 32]).address(cidr), now)
}

/// Move frames both ways until both stacks are quiet; returns how many moved.
fn exchange(a: &mut Stack, b: &mut Stack, now: Instant) -> usize {
    let mut moved = 0;
    for _ in 0..100 {
        let n = a.transmit(&mut |meta: &FrameMeta, f: &[u8]| {
            b.receive(now, meta, f);
            true
        }) + b.transmit(&mut |meta: &FrameMeta, f: &[u8]| {
            a.receive(now, meta, f);
            true
        });
        if n == 0 {
            return moved;
        }
        moved += n;
    }
    panic!("frames kept flowing");
}

#[test]
fn steady_state_udp_and_echo_allocate_nothing() {
    let mut now = Instant::from_secs(1);
    let mut a = stack(MAC_A, IP_A, 1, now);
    let mut b = stack(MAC_B, IP_B, 2, now);
    let to_b = SocketAddr::new(IpAddr::V4(IP_B), 7);
    let ha = a.udp_bind(SocketAddr::new(IpAddr::V4(IP_A), 4000)).expect("bind A");
    let hb = b.udp_bind(to_b).expect("bind B");
    let ea = a.echo_open(Some(0x4d4e)).expect("echo socket");
    let datagram = [0x5au8; 100];
    let ping = [0xa5u8; 56];
    let mut buf = vec![0u8; 65536];

    // Warm-up: announcements, ARP both ways, a datagram and a ping of each
    // size, one datagram fragmented and reassembled, then steady rounds.
    for t in 0..6 {
        now = Instant::from_secs(1 + t);
        a.poll(now);
        b.poll(now);
        exchange(&mut a, &mut b, now);
    }
    let big: Vec<u8> = (0..30_000u32).map(|i| i as u8).collect();
    a.udp_send_to(now, ha, &big, Some(to_b)).expect("large datagram");
    exchange(&mut a, &mut b, now);
    assert_eq!(
        b.udp_recv_from(hb, &mut buf).expect("reassembled"),
        (big.len(), a.udp_local_addr(ha).expect("bound"))
    );
    assert_eq!(b.stats().traffic.ipv4_reassembled, 1);
    let round = |a: &mut Stack, b: &mut Stack, buf: &mut [u8], now: Instant, seq: u16| {
        a.udp_send_to(now, ha, &datagram, Some(to_b)).expect("send");
        exchange(a, b, now);
        let (n, _) = b.udp_recv_from(hb, buf).expect("datagram arrived");
        assert_eq!(n, datagram.len());
        a.echo_send(now, ea, IpAddr::V4(IP_B), seq, &ping).expect("ping");
        exchange(a, b, now);
        match a.echo_recv(ea, buf) {
            Ok(EchoEvent::Reply { seq_no, len, .. }) => assert_eq!((seq_no, len), (seq, ping.len())),
            other => panic!("no echo reply: {other:?}"),
        }
        a.poll(now);
        b.poll(now);
    };
    for seq in 0..100 {
        now += Duration::from_millis(1);
        round(&mut a, &mut b, &mut buf, now, seq);
    }

    // Measure.
    let frames_before = a.stats().traffic.frames_out + b.stats().traffic.frames_out;
    let (allocs, frees, traces) = count(|| {
        for seq in 100..100 + ROUNDS {
            now += Duration::from_millis(1);
            round(&mut a, &mut b, &mut buf, now, seq);
        }
    });
    let frames = a.stats().traffic.frames_out + b.stats().traffic.frames_out - frames_before;

    assert_eq!(frames, 3 * u64::from(ROUNDS), "each round moves 3 frames");
    assert_eq!(b.stats().total_drops() + a.stats().total_drops(), 0, "{}\n{}", a.stats(), b.stats());
    assert!(
        allocs + frees == 0,
        "{allocs} allocations and {frees} frees in {ROUNDS} rounds ({frames} frames); the first:\n{traces}"
    );
}

#[test]
fn steady_state_tcp_allocates_nothing() {
    let mut now = Instant::from_secs(1);
    let mut a = stack(MAC_A, IP_A, 3, now);
    let mut b = stack(MAC_B, IP_B, 4, now);
    let listener = b.tcp_listen(SocketAddr::new(IpAddr::V4(IP_B), 80), 4).expect("listen");
    let ca = a.tcp_connect(now, SocketAddr::new(IpAddr::V4(IP_B), 80)).expect("connect");
    exchange(&mut a, &mut b, now);
    let (cb, _) = b.tcp_accept(listener).expect("accepted");
    // Each 100-byte write goes out at once (no Nagle wait for the ACK).
    a.tcp_set_nodelay(now, ca, true).expect("nodelay");
    let chunk = [0x3cu8; 100];
    let mut buf = vec![0u8; 65536];
    let round = |a: &mut Stack, b: &mut Stack, buf: &mut [u8], now: Instant| {
        assert_eq!(a.tcp_send(now, ca, &chunk).expect("send"), chunk.len());
        exchange(a, b, now);
        assert_eq!(b.tcp_recv(now, cb, buf).expect("data arrived"), chunk.len());
        exchange(a, b, now);
        a.poll(now);
        b.poll(now);
        exchange(a, b, now);
    };
    // Warm-up: a large write (full segments, window growth), then small
    // rounds until the send ring has wrapped: the first segment that
    // straddles the ring's end sizes the connection's scratch buffer, once
    // (`tcp/output.rs`, `send_data`).
    let big = vec![7u8; 1_000_000];
    let (mut sent, mut received) = (0, 0);
    for _ in 0..100_000 {
        // Until all of it was read: the last write may leave a window's
        // worth in flight.
        if received == big.len() {
            break;
        }
        now += Duration::from_millis(1);
        sent += a.tcp_send(now, ca, &big[sent..]).unwrap_or(0);
        exchange(&mut a, &mut b, now);
        while let Ok(n @ 1..) = b.tcp_recv(now, cb, &mut buf) {
            received += n;
        }
        exchange(&mut a, &mut b, now);
    }
    assert_eq!((sent, received), (big.len(), big.len()), "the bulk transfer finished");
    for _ in 0..WARMUP_TCP_ROUNDS {
        now += Duration::from_millis(1);
        round(&mut a, &mut b, &mut buf, now);
    }

    let (allocs, frees, traces) = count(|| {
        for _ in 0..ROUNDS {
            now += Duration::from_millis(1);
            round(&mut a, &mut b, &mut buf, now);
        }
    });
    assert!(
        allocs + frees == 0,
        "{allocs} allocations and {frees} frees in {ROUNDS} TCP rounds; the first:\n{traces}"
    );
    // The delayed ACK timer acknowledges the tail.
    now += Duration::from_secs(1);
    b.poll(now);
    exchange(&mut a, &mut b, now);
    assert_eq!(a.tcp_unacked(ca).expect("open"), 0, "every byte acknowledged");
}

/// Counts only while its drive number is in `from..to` (switches this
/// thread's counting at the start of a round).
struct CountingWindow {
    drives: u32,
    from: u32,
    to: u32,
}

impl mnet::executor::Driver for CountingWindow {
    fn drive(&mut self, _: Instant) -> bool {
        self.drives += 1;
        counting_alloc::set_counting((self.from..self.to).contains(&self.drives));
        false
    }
    fn flush(&mut self, _: Instant) -> bool {
        false
    }
    fn poll_at(&self) -> Option<Instant> {
        None
    }
}

#[test]
fn executor_rounds_allocate_nothing() {
    use mnet::executor::{Executor, Platform};
    use std::rc::Rc;
    use std::task::{Poll, Waker};

    struct Still;
    impl Platform for Still {
        fn now(&mut self) -> Instant {
            Instant::ZERO
        }
        fn wait(&mut self, _: Option<Instant>) {
            panic!("a task is always woken");
        }
    }
    let mut ex = Executor::new();
    let spawner = ex.spawner();
    for _ in 0..1000 {
        spawner.spawn(std::future::pending::<()>());
    }
    // One task wakes itself; two more wake each other in turn.
    spawner.spawn(std::future::poll_fn(|cx| {
        cx.waker().wake_by_ref();
        Poll::<()>::Pending
    }));
    let other: [Rc<RefCell<Option<Waker>>>; 2] = Default::default();
    for me in 0..2 {
        let other = other.clone();
        spawner.spawn(std::future::poll_fn(move |cx| {
            other[me].borrow_mut().replace(cx.waker().clone());
            if let Some(w) = other[1 - me].borrow().as_ref() {
                w.wake_by_ref();
            }
            Poll::<()>::Pending
        }));
    }
    let mut window = CountingWindow {
        drives: 0,
        from: 10,
        to: 10 + u32::from(ROUNDS),
    };
    counting_alloc::reset_events();
    let mut left = u32::from(ROUNDS) + 20;
    ex.block_on(
        &mut Still,
        &mut [&mut window],
        std::future::poll_fn(|cx| {
            left -= 1;
            if left == 0 {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        }),
    );
    counting_alloc::set_counting(false);
    let counting_alloc::Events { allocs, frees, traces } = counting_alloc::events();
    assert!(window.drives > window.to, "the window closed before main ended");
    assert_eq!((allocs, frees), (0, 0), "{ROUNDS} executor rounds allocated:\n{traces}");
    assert_eq!(ex.task_count(), 1003);
}
