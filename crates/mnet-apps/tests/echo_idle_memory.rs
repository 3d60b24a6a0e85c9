//! What an idle connection of `echo-server` costs, everything included
//! that the server process allocates for it: the engine's connection, the
//! table entries, the `TcpStream`, the echo task (its future, box and the
//! executor's bookkeeping). The speed issue asks for 10,000 idle
//! connections at no more than 2 KiB each.
//!
//! Stack B runs [`echo_server`] on mnet's executor; stack A, on the same
//! simulated link, opens [`CONNECTIONS`] connections straight on its
//! engine (no tasks), sends a few bytes on each and reads their echo; then
//! everything sits idle past the delayed ACK and the idle-buffer release.
//! A counting allocator (`mnet_testnet::counting_alloc`) measures the heap
//! of the whole thread: both ends. A's end is engine only, the cost
//! `crates/mnet/tests/idle_memory.rs` bounds; the rest is the server's.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;

use mnet::executor::{Driver, Executor};
use mnet::socket::Interface;
use mnet::wire::{EthernetAddress, IpCidr};
use mnet::{Config, Duration, Error, Instant, Net, Stack};
use mnet_apps::tcp_echo::echo_server;
use mnet_apps::tcp_server::ServerConfig;
use mnet_sim::{LinkConfig, Network, SimPlatform};
use mnet_testnet::counting_alloc::{self, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Idle connections held at once (the figure).
const CONNECTIONS: usize = 10_000;
/// Connections opened at a time.
const BATCH: usize = 500;
/// Bound on one idle connection, both ends (A's engine end and B's echo
/// server end): 2,956 bytes measured, plus about 10 %.
const BOUND_BOTH_ENDS: i64 = 3_250;

const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn stack(last: u8, ip: Ipv4Addr) -> Net {
    let mac = EthernetAddress([0x02, 0, 0, 0, 0, last]);
    let cidr = IpCidr::new(IpAddr::V4(ip), 24).expect("valid prefix");
    let mut config = Config::new(mac, [last; 32]).address(cidr);
    config.limits.tx_queue_frames = 4 * BATCH;
    Net::new(Stack::new(config, Instant::ZERO))
}

#[test]
fn an_idle_echo_server_connection_is_small() {
    let network = Network::new(7);
    let (dev_a, dev_b) = network.link(LinkConfig {
        latency: Duration::from_micros(100),
        max_in_flight: 8 * BATCH,
        ..LinkConfig::default()
    });
    let (a, b) = (stack(1, IP_A), stack(2, IP_B));
    let mut ia = Interface::new(a.clone(), dev_a);
    let mut ib = Interface::new(b.clone(), dev_b);
    let mut platform = SimPlatform::new(network);
    let mut executor = Executor::new();
    let spawner = executor.spawner();
    let drivers: &mut [&mut dyn Driver] = &mut [&mut ia, &mut ib];
    let result = executor.block_on(&mut platform, drivers, async move {
        let server = SocketAddr::new(IpAddr::V4(IP_B), 7);
        let served = Rc::new(RefCell::new(None));
        let (b2, sp, s2) = (b.clone(), spawner.clone(), served.clone());
        spawner.spawn(async move {
            let r = echo_server(&b2, &sp, ServerConfig::new(7), |_| {}).await;
            *s2.borrow_mut() = Some(r);
        });
        // Warm up: ARP both ways, one connection opened and closed, the
        // tables and pools at their working size.
        let warm = {
            let now = a.now();
            a.with(|s| s.tcp_connect(now, server))
        }
        .expect("connect");
        a.sleep(Duration::from_millis(10)).await;
        let now = a.now();
        a.with(|s| s.tcp_abort(now, warm));
        a.sleep(Duration::from_secs(1)).await;

        let before = counting_alloc::snapshot();
        let hello = [0x42u8; 100];
        let mut buf = [0u8; 256];
        let mut ends = Vec::with_capacity(CONNECTIONS);
        while ends.len() < CONNECTIONS {
            let batch: Vec<_> = (0..BATCH)
                .map(|_| {
                    {
                        let now = a.now();
                        a.with(|s| s.tcp_connect(now, server))
                    }
                    .expect("connect")
                })
                .collect();
            a.sleep(Duration::from_millis(5)).await;
            let now = a.now();
            for &h in &batch {
                assert_eq!(a.with(|s| s.tcp_send(now, h, &hello)), Ok(hello.len()));
            }
            a.sleep(Duration::from_millis(5)).await;
            let now = a.now();
            for &h in &batch {
                assert_eq!(a.with(|s| s.tcp_recv(now, h, &mut buf)), Ok(hello.len()));
                assert_eq!(a.with(|s| s.tcp_recv(now, h, &mut buf)), Err(Error::WouldBlock));
            }
            ends.extend(batch);
        }
        // Idle: past the delayed ACK and the idle-buffer release.
        a.sleep(Duration::from_secs(5)).await;
        let peak = counting_alloc::peak();
        let after = counting_alloc::snapshot();
        assert!(served.borrow().is_none(), "the server stopped: {:?}", served.borrow());
        assert_eq!(a.with(|s| s.tcp_connection_count()), CONNECTIONS);
        assert_eq!(b.with(|s| s.tcp_connection_count()), CONNECTIONS);
        (before, after, peak)
    });
    let (before, after, peak) = result;
    let per_connection = (after.live - before.live) / CONNECTIONS as i64;
    println!(
        "{CONNECTIONS} idle echo-server connections: {per_connection} bytes per connection, both ends \
         (peak while opening: {}); bound {BOUND_BOTH_ENDS}",
        (peak - before.live) / CONNECTIONS as i64
    );
    counting_alloc::print_growth(&before, &after, CONNECTIONS);
    assert!(
        per_connection <= BOUND_BOTH_ENDS,
        "an idle echo connection costs {per_connection} bytes, both ends (bound {BOUND_BOTH_ENDS})"
    );
}
