//! End to end: TCP rules that Linux never provokes, driven by a raw packet
//! peer against `mnet echo-server` on a tap.
//!
//! Run as root, in a release build (CI does exactly this):
//!
//! ```text
//! cargo test --release -p mnet-cli --test e2e_tcp_raw
//! ```
//!
//! The peer is tests/tcp_raw_peer.py (scapy under /usr/bin/python3, Debian
//! package python3-scapy): a host of its own on the tap's subnet
//! ([`common::RAW_PEER_MAC`], 10.a.b.9) that the kernel does not know, so
//! the kernel neither answers nor resets what mnet sends it. Each test runs
//! one scenario of the script (its docstring quotes the RFC rule) and then
//! checks that mnet is still alive and serving. Each takes a few seconds.

mod common;

use std::time::Duration;

use common::{Counters, MNET_MAC, MnetProcess, RAW_PEER_MAC, TapNet, describe, require_root_and_tools, require_scapy};
use mnet::stats::Drop;

const PORT: u16 = 7000;

/// Starts `mnet echo-server` on a fresh tap.
fn setup() -> Option<(TapNet, MnetProcess)> {
    if !require_root_and_tools(&["/usr/bin/python3", "ping", "ss"]) || !require_scapy() {
        return None;
    }
    let net = TapNet::new();
    net.linux_tcp_defaults();
    let mut mnet = net.spawn_tcp_server(&["echo-server", "--port", &PORT.to_string()]);
    net.wait_until_answering(&mut mnet, Duration::from_secs(10));
    Some((net, mnet))
}

/// Runs one scenario of tcp_raw_peer.py; panics with its output and
/// mnet's unless it passes. Returns the counters before and after.
fn scenario(net: &TapNet, mnet: &mut MnetProcess, name: &str) -> (Counters, Counters) {
    let before = mnet.counters();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tcp_raw_peer.py");
    let port = PORT.to_string();
    let (peer_ip, mnet_ip) = (net.raw_peer_ip(), net.mnet_ip());
    let args = [
        "/usr/bin/python3",
        script,
        "--iface",
        &net.tap,
        "--peer-mac",
        RAW_PEER_MAC,
        "--peer-ip",
        &peer_ip,
        "--mnet-mac",
        MNET_MAC,
        "--mnet-ip",
        &mnet_ip,
        "--port",
        &port,
        "--scenario",
        name,
    ];
    let out = net.ns.run(&args, Duration::from_secs(40));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("PASS {name}")),
        "scenario {name}: {}\nmnet:\n{}",
        describe(&out),
        mnet.report()
    );
    eprintln!("{}", stdout.trim());
    assert!(mnet.is_running(), "mnet died during {name}:\n{}", mnet.report());
    let after = mnet.counters();
    (before, after)
}

/// mnet still serves: Linux pings it and a kernel TCP connection echoes.
fn still_serving(net: &TapNet, mnet: &mut MnetProcess) {
    net.linux_ping(&net.mnet_ip(), 56, 1).assert_all_replied(56);
    let py = common::python();
    let script = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.settimeout(5)
s.sendall(b"still serving")
got = b""
while len(got) < 13:
    c = s.recv(100)
    if not c:
        break
    got += c
sys.exit(0 if got == b"still serving" else 1)
"#;
    let out = net
        .ns
        .run(&[py, "-c", script, &net.mnet_ip(), &PORT.to_string()], Duration::from_secs(20));
    assert!(
        out.status.success(),
        "echo after the scenario: {}\nmnet:\n{}",
        describe(&out),
        mnet.report()
    );
    assert!(!mnet.stderr().contains("panicked"), "{}", mnet.report());
}

/// RFC 5961 §3.2: a RST inside the window but not at RCV.NXT gets a
/// challenge ACK and the connection lives on; outside the window it is
/// dropped silently; at exactly RCV.NXT it resets.
#[test]
fn rst_in_window_gets_a_challenge_ack() {
    let Some((net, mut mnet)) = setup() else { return };
    scenario(&net, &mut mnet, "rst_in_window");
    still_serving(&net, &mut mnet);
}

/// RFC 5961 §4.2: a SYN on an established connection gets a challenge ACK.
#[test]
fn syn_in_window_gets_a_challenge_ack() {
    let Some((net, mut mnet)) = setup() else { return };
    scenario(&net, &mut mnet, "syn_in_window");
    still_serving(&net, &mut mnet);
}

/// RFC 7323 §5.3 (PAWS): a segment whose timestamp is older than
/// TS.Recent is dropped and acknowledged; the same bytes with a fresh
/// timestamp are taken.
#[test]
fn paws_drops_old_timestamps_and_acks() {
    let Some((net, mut mnet)) = setup() else { return };
    scenario(&net, &mut mnet, "paws");
    still_serving(&net, &mut mnet);
}

/// RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17: against a zero window mnet sends
/// window probes with exponential backoff, and resumes when it opens.
#[test]
fn zero_window_gets_probes_with_backoff() {
    let Some((net, mut mnet)) = setup() else { return };
    scenario(&net, &mut mnet, "zero_window");
    still_serving(&net, &mut mnet);
}

/// 2,000 SYNs from random ports: mnet answers, stays responsive, a Linux
/// connection made right after succeeds and echoes, and a handshake
/// completed with one of the flood's SYN-ACKs works (SYN cookies when the
/// SYN queue is full).
#[test]
fn syn_flood_leaves_mnet_responsive() {
    let Some((net, mut mnet)) = setup() else { return };
    let (before, after) = scenario(&net, &mut mnet, "syn_flood");
    let d = after.since(&before);
    eprintln!("counters during the flood:\n{}", d.table());
    assert!(
        d.get(Drop::TcpSynQueueFull) > 0,
        "2,000 SYNs never filled the SYN queue (no SYN cookie counted):\n{}",
        d.table()
    );
    still_serving(&net, &mut mnet);
}

/// RFC 9293 §3.10.7.4: data beyond the window or entirely old is dropped
/// and acknowledged; a segment straddling RCV.NXT gives only its new part.
#[test]
fn out_of_window_data_is_dropped_and_acked() {
    let Some((net, mut mnet)) = setup() else { return };
    scenario(&net, &mut mnet, "out_of_window");
    still_serving(&net, &mut mnet);
}
