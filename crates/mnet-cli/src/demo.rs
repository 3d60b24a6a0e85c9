//! `mnet demo`: two stacks on the in-memory network, with loss,
//! duplication and corruption on the link, fixed seed, virtual time:
//! ping, UDP echo and a TCP echo of 1 MiB.
//! Every result is checked; the exit status is non-zero if any check fails.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use mnet::executor::{Driver, Executor};
use mnet::socket::{Interface, timeout};
use mnet::wire::{EthernetAddress, IpCidr};
use mnet::{Config, Duration, Net, Stack};
use mnet_apps::echo_client::{EchoClientConfig, echo_client};
use mnet_apps::ping::{PingConfig, PingStats, ping};
use mnet_apps::source::RandomStream;
use mnet_apps::tcp_server::ServerConfig;
use mnet_sim::{LinkConfig, Network, Ratio, SimPlatform};

use crate::args::Cli;
use crate::ping_cmd::{event_line, summary};

/// The seed of the whole run: same seed, same run, frame for frame.
pub const DEMO_SEED: u64 = 2026;
const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const ECHO_PORT: u16 = 7;
/// Attempts per UDP echo before the check fails (the link loses frames).
const UDP_ATTEMPTS: u32 = 20;
/// B's TCP echo server.
const TCP_ECHO_PORT: u16 = 7;
/// What the TCP check echoes.
const TCP_ECHO_BYTES: u64 = 1 << 20;
/// Virtual time the TCP echo may take before its check fails.
const TCP_ECHO_LIMIT: Duration = Duration::from_secs(600);

fn make_stack(mac_last: u8, ip: Ipv4Addr, seed: u8) -> Net {
    let mac = EthernetAddress([0x02, 0, 0, 0, 0, mac_last]);
    let cidr = IpCidr::new(IpAddr::V4(ip), 24).expect("valid prefix");
    Net::new(Stack::new(Config::new(mac, [seed; 32]).address(cidr), mnet::Instant::ZERO))
}

struct Checks {
    failed: Vec<String>,
    passed: usize,
}

impl Checks {
    fn check(&mut self, ok: bool, what: String) {
        if ok {
            self.passed += 1;
            println!("  ok    {what}");
        } else {
            println!("  FAIL  {what}");
            self.failed.push(what);
        }
    }
}

/// Echo `size` bytes through B's udp-echo, retrying on loss.
async fn udp_round_trip(net: &Net, size: usize) -> Result<u32, String> {
    let sock = net.udp_bind(SocketAddr::new(IpAddr::V4(IP_A), 0)).map_err(|e| e.to_string())?;
    let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let mut buf = vec![0u8; 65536];
    for attempt in 1..=UDP_ATTEMPTS {
        sock.send_to(&data, SocketAddr::new(IpAddr::V4(IP_B), ECHO_PORT))
            .await
            .map_err(|e| e.to_string())?;
        match timeout(net, Duration::from_secs(1), sock.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => {
                if from != SocketAddr::new(IpAddr::V4(IP_B), ECHO_PORT) {
                    return Err(format!("reply from the wrong peer {from}"));
                }
                if buf[..n] != data[..] {
                    return Err(format!("echo of {n} bytes differs from the {size} bytes sent"));
                }
                return Ok(attempt);
            }
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => continue, // lost on the way: try again
        }
    }
    Err(format!("no echo after {UDP_ATTEMPTS} attempts"))
}

async fn ping_check(net: &Net, checks: &mut Checks, size: usize, count: u32) {
    let mut cfg = PingConfig::new(IpAddr::V4(IP_B));
    cfg.count = Some(count);
    cfg.size = size;
    cfg.interval = Duration::from_millis(200);
    println!("PING {IP_B} {size} bytes, {count} requests:");
    let mut st = PingStats::default();
    let r = ping(net, &cfg, &mut st, |ev| println!("    {}", event_line(ev))).await;
    for line in summary(&IP_B.to_string(), &st, Duration::ZERO).lines() {
        println!("    {line}");
    }
    checks.check(r.is_ok(), format!("ping -s {size} ran: {r:?}"));
    checks.check(
        st.received > 0,
        format!(
            "ping -s {size}: {} of {} replies came back, none corrupted",
            st.received, st.transmitted
        ),
    );
    checks.check(st.errors == 0, format!("ping -s {size}: no errors ({})", st.errors));
}

/// A's echo-client sends 1 MiB of random bytes to B's echo-server over the
/// lossy link and checks every byte that comes back.
async fn tcp_echo_check(net: &Net, checks: &mut Checks) {
    let server = SocketAddr::new(IpAddr::V4(IP_B), TCP_ECHO_PORT);
    println!("TCP echo {TCP_ECHO_BYTES} bytes to {server}:");
    let cfg = EchoClientConfig::new(server, TCP_ECHO_BYTES, RandomStream::new([DEMO_SEED as u8; 32]));
    let r = timeout(net, TCP_ECHO_LIMIT, echo_client(net, &cfg)).await;
    let (ok, what) = match r {
        Ok(Ok(rep)) => {
            println!(
                "    {} bytes each way in {:.3} s of virtual time ({:.1} Mbit/s), connected in {:.1} ms",
                rep.received,
                rep.elapsed.as_secs_f64(),
                crate::tcp_cmds::mbit_per_s(rep.received, rep.elapsed),
                rep.connect_time.as_secs_f64() * 1000.0
            );
            println!("    sha256 sent     {}", crate::tcp_cmds::hex(&rep.sha256_sent));
            println!("    sha256 received {}", crate::tcp_cmds::hex(&rep.sha256_received));
            let what = if rep.matched() {
                format!("TCP echo of {TCP_ECHO_BYTES} bytes came back intact (SHA-256 and byte for byte)")
            } else {
                format!(
                    "TCP echo of {TCP_ECHO_BYTES} bytes: {} bytes came back, first difference at {:?}",
                    rep.received, rep.first_mismatch
                )
            };
            (rep.matched(), what)
        }
        Ok(Err(e)) => (false, format!("TCP echo of {TCP_ECHO_BYTES} bytes: {e:?}")),
        Err(_) => (
            false,
            format!("TCP echo of {TCP_ECHO_BYTES} bytes: not done within {TCP_ECHO_LIMIT:?} of virtual time"),
        ),
    };
    checks.check(ok, what);
}

pub fn run(_cli: &Cli) -> u8 {
    let network = Network::new(DEMO_SEED);
    let link = LinkConfig {
        latency: Duration::from_millis(5),
        loss: Ratio::from_percent(2),
        duplicate: Ratio::from_percent(1),
        corrupt: Ratio::from_ppm(5_000),
        ..LinkConfig::default()
    };
    let (dev_a, dev_b) = network.link(link);
    let a = make_stack(0xa, IP_A, 1);
    let b = make_stack(0xb, IP_B, 2);
    let mut ia = Interface::new(a.clone(), dev_a);
    let mut ib = Interface::new(b.clone(), dev_b);
    let mut platform = SimPlatform::new(network.clone());
    let mut executor = Executor::new();
    let spawner = executor.spawner();
    println!("mnet demo: A {IP_A} <-> B {IP_B}, link 5 ms, 2% loss, 1% duplication, 0.5% one-bit corruption, seed {DEMO_SEED}");

    let (a2, b2) = (a.clone(), b.clone());
    let main = async move {
        let mut checks = Checks {
            failed: Vec::new(),
            passed: 0,
        };
        let b3 = b2.clone();
        spawner.spawn(async move {
            if let Err(e) = mnet_apps::udp_echo::udp_echo(&b2, ECHO_PORT, None, |_, _| {}).await {
                println!("udp-echo on B stopped: {e}");
            }
        });
        let tcp_spawner = spawner.clone();
        spawner.spawn(async move {
            let cfg = ServerConfig::new(TCP_ECHO_PORT);
            if let Err(e) = mnet_apps::tcp_echo::echo_server(&b3, &tcp_spawner, cfg, |_| {}).await {
                println!("echo-server on B stopped: {e}");
            }
        });
        ping_check(&a2, &mut checks, 56, 10).await;
        ping_check(&a2, &mut checks, 4000, 10).await;
        for size in [100usize, 30000] {
            let r = udp_round_trip(&a2, size).await;
            let what = match &r {
                Ok(n) => format!("UDP echo of {size} bytes came back intact (attempt {n})"),
                Err(e) => format!("UDP echo of {size} bytes: {e}"),
            };
            checks.check(r.is_ok(), what);
        }
        tcp_echo_check(&a2, &mut checks).await;
        checks
    };
    let drivers: &mut [&mut dyn Driver] = &mut [&mut ia, &mut ib];
    let checks = executor.block_on(&mut platform, drivers, main);
    let sa = a.stats();
    let sb = b.stats();
    println!("link: {:?}", network.stats());
    println!("counters of A:\n{sa}counters of B:\n{sb}");
    println!("virtual time: {:?}", network.now());
    if checks.failed.is_empty() {
        println!("demo: all {} checks passed", checks.passed);
        0
    } else {
        println!(
            "demo: {} of {} checks FAILED",
            checks.failed.len(),
            checks.failed.len() + checks.passed
        );
        1
    }
}
