//! What an idle TCP connection costs: the speed issue asks for 10,000
//! concurrent idle connections at no more than 2 KiB each, with the
//! buffers of an idle connection empty.
//!
//! Two stacks, A and B, are wired back to back (sans-IO: frames go from
//! one's `transmit` into the other's `receive`). B listens; A opens
//! [`CONNECTIONS`] connections; every connection carries a small exchange
//! each way (so its buffers were used), then all sit idle past the delayed
//! ACK. A counting global allocator measures the heap the two stacks hold
//! for them: live bytes after, minus live bytes before the first connect.
//! Every connection has two ends (A's and B's); the cost of one end
//! includes its share of the tables (4-tuple hash, timers, port counts).
//!
//! The counters (`mnet_testnet::counting_alloc`) are per thread, so the
//! harness's other threads cannot disturb them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use mnet::link::FrameMeta;
use mnet::stack::Stack;
use mnet::wire::{EthernetAddress, IpCidr};
use mnet::{Config, Duration, Error, Instant};
use mnet_testnet::counting_alloc::{self, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0a]);
const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0b]);
const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Idle connections held at once (the figure).
const CONNECTIONS: usize = 10_000;
/// Connections opened per round of frame exchange.
const BATCH: usize = 500;
/// The bound per connection end, in bytes: the goal is 2,048;
/// 1,362 measured, plus 10 %, so that a regression fails.
const GOAL: i64 = 1_500;

fn stack(mac: EthernetAddress, ip: Ipv4Addr, seed: u8, now: Instant) -> Stack {
    let cidr = IpCidr::new(IpAddr::V4(ip), 24).expect("valid prefix");
    let mut config = Config::new(mac, [seed; 32]).address(cidr);
    config.limits.tx_queue_frames = 4 * BATCH;
    Stack::new(config, now)
}

fn exchange(a: &mut Stack, b: &mut Stack, now: Instant) {
    for _ in 0..1000 {
        let n = a.transmit(&mut |meta: &FrameMeta, f: &[u8]| {
            b.receive(now, meta, f);
            true
        }) + b.transmit(&mut |meta: &FrameMeta, f: &[u8]| {
            a.receive(now, meta, f);
            true
        });
        if n == 0 {
            return;
        }
    }
    panic!("frames kept flowing");
}

#[test]
fn ten_thousand_idle_connections_cost_well_under_2_kib_per_end() {
    let mut now = Instant::from_secs(1);
    let mut a = stack(MAC_A, IP_A, 1, now);
    let mut b = stack(MAC_B, IP_B, 2, now);
    let server = SocketAddr::new(IpAddr::V4(IP_B), 80);
    let listener = b.tcp_listen(server, 4096).expect("listen");
    // Warm up: ARP resolved both ways, the frame pool filled.
    for t in 0..4 {
        now = Instant::from_secs(1 + t);
        a.poll(now);
        b.poll(now);
        exchange(&mut a, &mut b, now);
    }
    let warm = a.tcp_connect(now, server).expect("warm-up connect");
    exchange(&mut a, &mut b, now);
    let (warm_b, _) = b.tcp_accept(listener).expect("warm-up accept");
    a.tcp_abort(now, warm);
    b.tcp_abort(now, warm_b);
    exchange(&mut a, &mut b, now);

    let before = counting_alloc::snapshot();
    let mut ends = Vec::with_capacity(CONNECTIONS);
    let hello = [0x42u8; 100];
    let mut buf = [0u8; 256];
    while ends.len() < CONNECTIONS {
        now += Duration::from_millis(1);
        let batch: Vec<_> = (0..BATCH).map(|_| a.tcp_connect(now, server).expect("connect")).collect();
        exchange(&mut a, &mut b, now);
        for ha in batch {
            let (hb, _) = b.tcp_accept(listener).expect("accept");
            assert_eq!(a.tcp_send(now, ha, &hello), Ok(hello.len()));
            assert_eq!(b.tcp_send(now, hb, &hello), Ok(hello.len()));
            ends.push((ha, hb));
        }
        exchange(&mut a, &mut b, now);
        for &(ha, hb) in &ends[ends.len() - BATCH..] {
            assert_eq!(a.tcp_recv(now, ha, &mut buf), Ok(hello.len()));
            assert_eq!(b.tcp_recv(now, hb, &mut buf), Ok(hello.len()));
            assert_eq!(b.tcp_recv(now, hb, &mut buf), Err(Error::WouldBlock));
        }
    }
    // Idle: past the delayed ACK and any idle-buffer release.
    for ms in [50, 250, 1000, 5000] {
        let t = now + Duration::from_millis(ms);
        a.poll(t);
        b.poll(t);
        exchange(&mut a, &mut b, t);
    }
    let peak = counting_alloc::peak();
    let after = counting_alloc::snapshot();
    assert_eq!(a.tcp_connection_count(), CONNECTIONS);
    assert_eq!(b.tcp_connection_count(), CONNECTIONS);
    let per_end = (after.live - before.live) / (2 * CONNECTIONS as i64);
    let peak_per_end = (peak - before.live) / (2 * CONNECTIONS as i64);
    println!(
        "{CONNECTIONS} idle connections: {} bytes held by both stacks, {per_end} bytes per connection end \
         (peak while opening: {peak_per_end} bytes per end); goal {GOAL}",
        after.live - before.live
    );
    // The breakdown: live allocations the connections added, by size
    // class, per connection end.
    counting_alloc::print_growth(&before, &after, 2 * CONNECTIONS);
    assert!(per_end <= GOAL, "an idle connection end costs {per_end} bytes (goal {GOAL})");
    drop(ends);
}
