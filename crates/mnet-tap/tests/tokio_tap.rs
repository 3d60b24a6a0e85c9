//! The tokio runner on a real TAP device against the Linux kernel, in a
//! network namespace the test creates and deletes. Root only (otherwise
//! "skipped: ..."; with `CI=true` a missing privilege fails).
//!
//! `cargo test --release -p mnet-tap --features tokio --test tokio_tap`

mod common;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use common::Netns;
use mnet::stack::EchoEvent;
use mnet::wire::EthernetAddress;
use mnet::{Config, Net};
use mnet_tap::tokio_runner;

const MNET_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// The Linux side: 100 datagrams to `host:port`, sizes from 1 byte to
/// 8000 (fragmented both ways), each echo checked byte for byte, sender
/// included. Prints "ok N fragmented M".
const UDP_CLIENT: &str = r#"
import os, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
def size(i):
    return {9: 8000, 8: 1473, 7: 1472}.get(i % 10, 1 + (i * 137) % 1400)
fragmented = 0
for i in range(100):
    payload = os.urandom(size(i))
    s.sendto(payload, (host, port))
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        sys.exit("no echo for datagram %d (%d bytes)" % (i, len(payload)))
    if peer != (host, port) or data != payload:
        sys.exit("datagram %d: %d bytes back from %s, sent %d" % (i, len(data), peer, len(payload)))
    fragmented += len(payload) > 1472
print("ok", i + 1, "fragmented", fragmented)
"#;

fn assert_send<F: Future + Send>(f: F) -> F {
    f
}

async fn within<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: nothing after {secs} s"),
    }
}

/// Echoes every datagram that reaches port 7.
async fn echo_server(net: Net) -> mnet::Result<()> {
    let sock = net.udp_bind("0.0.0.0:7".parse().expect("addr"))?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, peer) = sock.recv_from(&mut buf).await?;
        sock.send_to(&buf[..n.min(buf.len())], peer).await?;
    }
}

/// Pings `dst` with `sizes`, one request each; checks every reply.
async fn ping(net: Net, dst: Ipv4Addr, sizes: &[usize]) -> mnet::Result<()> {
    let sock = net.echo_socket(None)?;
    let mut buf = vec![0u8; 65_535];
    for (seq, &size) in (1u16..).zip(sizes) {
        let data: Vec<u8> = (0..size).map(|k| (k as u8) ^ (seq as u8)).collect();
        sock.send(IpAddr::V4(dst), seq, &data).await?;
        match within(5, "echo reply from Linux", sock.recv(&mut buf)).await? {
            EchoEvent::Reply { from, seq_no, len } => {
                assert_eq!((from, seq_no, len), (IpAddr::V4(dst), seq, size));
                assert_eq!(&buf[..len], &data[..], "echo data of seq {seq}");
            }
            other => panic!("ping {dst} seq {seq}: {other:?}"),
        }
    }
    Ok(())
}

/// The userspace-networking story on a real tap: open the device, get
/// `(net, runner)`, spawn the runner on a 2-worker runtime, serve UDP echo
/// from one task and ping Linux from another; Linux's client checks 100
/// echoes (20 of them fragmented both ways: 1473 and 8000 bytes). Then,
/// idle, the runner sleeps.
#[test]
fn udp_echo_and_ping_against_linux_on_a_multi_thread_runtime() {
    if !mnet_testnet::require_root("the tokio runner on a real tap", &["python3", "sysctl"]) {
        return;
    }
    let ns = Arc::new(Netns::with_tap());
    let tap = ns.open_tap();
    let linux_ip: Ipv4Addr = ns.linux_ip().parse().expect("ip");
    let mnet_ip = ns.mnet_ip();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let config = Config::new(EthernetAddress(MNET_MAC), [9; 32]).address(format!("{mnet_ip}/24").parse().expect("cidr"));
        let (net, runner) = tokio_runner::open(tap, config).expect("open");
        let counters = runner.counters();
        let run = tokio::spawn(assert_send(runner.run()));
        let server = tokio::spawn(assert_send(echo_server(net.clone())));

        // Linux's client, in the namespace, off the runtime's workers.
        let client = tokio::task::spawn_blocking({
            let ns = Arc::clone(&ns);
            let mnet_ip = mnet_ip.clone();
            move || ns.run_ok(&["python3", "-c", UDP_CLIENT, &mnet_ip, "7"], Duration::from_secs(120))
        });
        let out = client.await.expect("the Linux client");
        assert_eq!(out.trim(), "ok 100 fragmented 20", "{out}");

        let pinger = tokio::spawn(assert_send(ping(net.clone(), linux_ip, &[56, 3000, 0])));
        within(30, "ping Linux", pinger).await.expect("task").expect("ping");

        // Idle now: a handful of rounds in a second, not thousands.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = counters.get();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = counters.get();
        eprintln!("runner: {after:?}; idle second: {} rounds", after.loops - before.loops);
        assert!(after.loops - before.loops <= 5, "busy while idle: {before:?} -> {after:?}");
        assert!(after.device_wakes > 0 && after.socket_wakes > 0, "{after:?}");

        // Every datagram came in and went out once; the 8000- and
        // 1473-byte ones were reassembled here and fragmented back.
        let stats = net.stats();
        let t = &stats.traffic;
        assert_eq!((t.udp_in, t.udp_out), (100, 100), "{stats}");
        assert!(t.ipv4_reassembled >= 20 && t.ipv4_frags_out >= 80, "{stats}");
        assert_eq!(stats.total_drops(), 0, "{stats}");
        server.abort();
        run.abort();
    });
}
