//! End to end: the `mnet` command on a tap against the Linux kernel, IPv4.
//!
//! Run as root, in a release build (CI does exactly this):
//!
//! ```text
//! cargo test --release -p mnet-cli --test e2e_ipv4 --test e2e_malformed
//! ```
//!
//! Each test creates its own network namespace and tap and deletes them on
//! exit, also on failure; all traffic stays inside, on 10.x addresses.
//! Without root or a tool a test prints "skipped: ..." and passes, unless
//! `CI=true`. Needs the Debian packages iproute2, iputils-ping, python3.

mod common;

use std::time::Duration;

use common::{Netns, PORT_UNREACHABLE_CLIENT, TapNet, python, require_root_and_tools};
use mnet::stats::Drop;

const LINUX_TOOLS: &[&str] = &["ping", "sh", "cat"];

fn python_tools() -> Vec<&'static str> {
    let mut t = LINUX_TOOLS.to_vec();
    t.push(python());
    t
}

/// The harness itself, without mnet: a namespace with a configured tap
/// appears, and disappears on drop — also when the test panics.
#[test]
fn harness_creates_and_removes_namespace_and_tap() {
    if !require_root_and_tools(&["sh", "cat"]) {
        return;
    }
    let net = TapNet::new();
    let name = net.ns.name().to_owned();
    assert!(name.len() <= 15);
    assert!(Netns::listed(&name), "namespace {name} not listed");
    let link = net.ns.run_ok(&["ip", "-o", "link", "show", &net.tap], Duration::from_secs(5));
    assert!(link.contains(common::LINUX_MAC), "{link}");
    assert!(link.contains("mtu 1500"), "{link}");
    let addr = net
        .ns
        .run_ok(&["ip", "-o", "-4", "addr", "show", "dev", &net.tap], Duration::from_secs(5));
    assert!(addr.contains(&format!("{}/24", net.linux_ip())), "{addr}");
    let v6 = net.ns.run_ok(
        &["cat", &format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", net.tap)],
        Duration::from_secs(5),
    );
    assert_eq!(v6.trim(), "1");
    // A process inside is killed on drop.
    let mut sleeper = net.ns.command(&["sleep", "60"]).spawn().expect("spawn sleep");
    std::thread::sleep(Duration::from_millis(200));
    drop(net);
    assert!(!Netns::listed(&name), "namespace {name} still listed after drop");
    let status = sleeper.wait().expect("wait for sleep");
    assert!(!status.success(), "the process inside was not killed: {status}");

    // Cleanup on panic too.
    let name = std::thread::spawn(|| {
        let net = TapNet::new();
        let name = net.ns.name().to_owned();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _net = net;
            panic!("deliberate panic inside a test");
        }));
        assert!(result.is_err());
        name
    })
    .join()
    .expect("thread");
    assert!(!Netns::listed(&name), "namespace {name} survived a panic");
}

/// Linux pings mnet with 56, 1472 (a full 1500-byte packet) and 4000
/// bytes (fragmented by Linux, reassembled by mnet, and the reply
/// fragmented by mnet).
#[test]
fn linux_pings_mnet_also_fragmented() {
    if !require_root_and_tools(LINUX_TOOLS) {
        return;
    }
    let net = TapNet::new();
    let mut mnet = net.spawn_udp_echo();
    for size in [56, 1472, 4000] {
        net.linux_ping(&net.mnet_ip(), size, 3).assert_all_replied(size);
    }
    assert!(mnet.is_running(), "{}", mnet.report());
    let counters = mnet.counters();
    assert_eq!(counters.get(Drop::FragOverlap), 0, "{}", counters.raw);
}

/// UDP datagrams of 100, 8000 and 30000 bytes come back unchanged from
/// `mnet udp-echo` (the large ones fragmented both ways).
#[test]
fn udp_echo_round_trips_also_fragmented() {
    if !require_root_and_tools(&python_tools()) {
        return;
    }
    let net = TapNet::new();
    let mut mnet = net.spawn_udp_echo();
    for size in [100, 8000, 30000] {
        if let Err(e) = net.udp_echo_round_trip(size) {
            panic!("UDP echo of {size} bytes failed:\n{e}\nmnet:\n{}", mnet.report());
        }
    }
    assert!(mnet.is_running(), "{}", mnet.report());
}

/// `mnet ping` reaches the Linux side (also with 3000 bytes, fragmented
/// both ways) and exits 0; towards an absent host it exits non-zero.
#[test]
fn mnet_pings_linux() {
    if !require_root_and_tools(LINUX_TOOLS) {
        return;
    }
    let net = TapNet::new();
    let linux = net.linux_ip();
    for (size, args) in [
        (56, vec!["ping", linux.as_str(), "-c", "3"]),
        (3000, vec!["ping", linux.as_str(), "-c", "3", "-s", "3000", "-i", "0.2"]),
    ] {
        let out = net.run_mnet(&args, Duration::from_secs(30));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "mnet {args:?}: {}\n--- stdout\n{stdout}--- stderr\n{stderr}",
            out.status
        );
        // A line per reply, as ping(8) prints it: "3008 bytes from 10.a.b.1: ...".
        let replies = stdout
            .lines()
            .filter(|l| l.contains(&format!("{} bytes from {linux}", size + 8)))
            .count();
        assert_eq!(replies, 3, "mnet {args:?}: expected 3 reply lines\n{stdout}");
    }
    let absent = net.absent_ip();
    let out = net.run_mnet(&["ping", &absent, "-c", "2", "-i", "0.2"], Duration::from_secs(40));
    assert!(
        !out.status.success() && out.status.code().is_some(),
        "mnet ping of an absent host must exit non-zero by itself: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}

/// After Linux forgets mnet's MAC, it resolves it again and still reaches
/// mnet.
#[test]
fn linux_reaches_mnet_after_neigh_flush() {
    if !require_root_and_tools(LINUX_TOOLS) {
        return;
    }
    let net = TapNet::new();
    let mnet = net.spawn_udp_echo();
    let neigh = net.ns.run_ok(&["ip", "neigh", "show", "dev", &net.tap], Duration::from_secs(5));
    assert!(neigh.contains(common::MNET_MAC), "Linux has not learnt mnet's MAC: {neigh}");
    for round in 0..2 {
        net.ns.run_ok(&["ip", "neigh", "flush", "dev", &net.tap], Duration::from_secs(5));
        let neigh = net.ns.run_ok(&["ip", "neigh", "show", "dev", &net.tap], Duration::from_secs(5));
        assert!(!neigh.contains("REACHABLE"), "round {round}: flush left {neigh}");
        net.linux_ping(&net.mnet_ip(), 56, 2).assert_all_replied(56);
        let neigh = net.ns.run_ok(&["ip", "neigh", "show", "dev", &net.tap], Duration::from_secs(5));
        assert!(neigh.contains(common::MNET_MAC), "round {round}: {neigh}\n{}", mnet.report());
    }
}

/// A datagram to a closed mnet port comes back as ICMP port unreachable:
/// a connected Linux UDP socket sees ECONNREFUSED. SIGTERM then stops mnet
/// cleanly, and the counters it prints at exit include the drop.
#[test]
fn closed_port_gives_port_unreachable_and_counters_at_exit() {
    if !require_root_and_tools(&python_tools()) {
        return;
    }
    let net = TapNet::new();
    let mut mnet = net.spawn_udp_echo();
    let out = net.ns.run(
        &[python(), "-c", PORT_UNREACHABLE_CLIENT, &net.mnet_ip(), "9"],
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "no port unreachable from mnet: {}\n{}\nmnet:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        mnet.report()
    );
    let (status, stderr) = mnet.stop();
    let status = status.unwrap_or_else(|| panic!("mnet ignored SIGTERM for 5 s:\n{stderr}"));
    assert!(
        status.code().is_some(),
        "mnet died of a signal instead of shutting down: {status}\n{stderr}"
    );
    let counters = common::Counters::parse(&stderr);
    assert!(
        counters.get(Drop::UdpNoPort) >= 1,
        "counters at exit lack the closed-port drop:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// SIGUSR1 prints the counters and mnet keeps running.
#[test]
fn sigusr1_prints_counters_and_keeps_running() {
    if !require_root_and_tools(&python_tools()) {
        return;
    }
    let net = TapNet::new();
    let mut mnet = net.spawn_udp_echo();
    let before = mnet.counters();
    let _ = net.ns.run(
        &[python(), "-c", PORT_UNREACHABLE_CLIENT, &net.mnet_ip(), "9"],
        Duration::from_secs(20),
    );
    let after = mnet.counters();
    assert!(
        after.since(&before).get(Drop::UdpNoPort) >= 1,
        "before:\n{}\nafter:\n{}",
        before.raw,
        after.raw
    );
    assert!(mnet.is_running(), "{}", mnet.report());
    net.linux_ping(&net.mnet_ip(), 56, 1).assert_all_replied(56);
}
