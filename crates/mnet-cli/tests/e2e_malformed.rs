//! End to end: 10,000 malformed frames written into mnet's tap from the
//! Linux side leave it alive, answering and echoing, with drop counters
//! that account for them.
//!
//! Run as root, in a release build (CI does exactly this):
//!
//! ```text
//! cargo test --release -p mnet-cli --test e2e_ipv4 --test e2e_malformed
//! ```
//!
//! The frames come from tests/malformed.py (scapy under /usr/bin/python3,
//! Debian package python3-scapy), sent through a raw AF_PACKET socket on
//! the tap inside the test's own namespace. Each category of frame says how
//! many drops a correct stack must count for it right away (see the
//! script); this test checks mnet's counters against that.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Counters, LINUX_MAC, MNET_MAC, TapNet, TapOptions, require_root_and_tools, require_scapy};
use mnet::stats::Drop;

const FRAMES: u32 = 10_000;
const SEED: u32 = 20_240_601;

/// What malformed.py reported: frames and immediate minimum drops per
/// category, and how many frames the socket took.
#[derive(Debug, Default)]
struct Sent {
    categories: BTreeMap<String, (u64, u64)>,
    sent: u64,
    send_errors: u64,
}

impl Sent {
    fn parse(stdout: &str) -> Sent {
        let mut s = Sent::default();
        for line in stdout.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["category", name, frames, min] => {
                    let frames = frames.parse().expect("frames");
                    let min = min.parse().expect("min drops");
                    s.categories.insert((*name).to_owned(), (frames, min));
                }
                ["sent", n] => s.sent = n.parse().expect("sent"),
                ["send_errors", n] => s.send_errors = n.parse().expect("send_errors"),
                _ => {}
            }
        }
        s
    }

    fn min_drops(&self, category: &str) -> u64 {
        self.categories
            .get(category)
            .map(|c| c.1)
            .unwrap_or_else(|| panic!("no category {category} in malformed.py's output"))
    }

    fn total_frames(&self) -> u64 {
        self.categories.values().map(|c| c.0).sum()
    }

    fn total_min_drops(&self) -> u64 {
        self.categories.values().map(|c| c.1).sum()
    }
}

/// Reasons whose count must cover at least 90 % of the given categories'
/// minimum drops: each category breaks exactly one thing, so one reason
/// describes it. (Other categories are covered by the total only.)
const EXACT: &[(&[Drop], &[&str])] = &[
    (&[Drop::Ipv4BadChecksum], &["ipv4_bad_checksum", "frag_bad_checksum"]),
    (&[Drop::Icmpv4BadChecksum], &["icmp_bad_checksum"]),
    (&[Drop::UdpBadChecksum], &["udp_bad_checksum", "frag_reassembled_bad_udp"]),
    (&[Drop::FragOverlap], &["frag_overlap"]),
    (&[Drop::FragOverlap, Drop::FragDuplicate], &["frag_overlap", "frag_duplicate"]),
    (
        &[Drop::FragTooBig, Drop::FragMalformed],
        &["frag_too_big", "frag_not_multiple_of_8"],
    ),
    (&[Drop::UdpNoPort], &["udp_closed_port"]),
    (&[Drop::EthNotForUs], &["eth_not_for_us"]),
    (&[Drop::EthUnknownType], &["eth_unknown_type"]),
    (&[Drop::Ipv4NotForUs], &["ipv4_not_for_us"]),
    (&[Drop::Ipv4UnknownProtocol], &["ipv4_unknown_protocol"]),
    (&[Drop::Icmpv4Unsupported], &["icmp_unknown_type"]),
];

/// Reasons that must simply be non-zero afterwards.
const NON_ZERO: &[Drop] = &[
    Drop::Ipv4BadChecksum,
    Drop::Icmpv4BadChecksum,
    Drop::UdpBadChecksum,
    Drop::Ipv4Malformed,
    Drop::UdpMalformed,
    Drop::Icmpv4Malformed,
    Drop::ArpMalformed,
    Drop::FragOverlap,
];

#[test]
fn ten_thousand_malformed_frames_neither_crash_nor_confuse_mnet() {
    if !require_root_and_tools(&["ping", "sh", "cat"]) || !require_scapy() {
        return;
    }
    // A long transmit queue on the tap, so that the kernel hands every
    // frame to mnet instead of dropping a burst (checked below anyway).
    let net = TapNet::with_options(TapOptions {
        txqueuelen: 20_000,
        ..TapOptions::default()
    });
    let mut mnet = net.spawn_udp_echo();
    net.udp_echo_round_trip(100)
        .unwrap_or_else(|e| panic!("warm-up echo failed: {e}\n{}", mnet.report()));

    let before = mnet.counters();
    let tx_before = net.tap_stat("tx_packets");
    let dropped_before = net.tap_stat("tx_dropped");

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/malformed.py");
    let out = net.ns.run(
        &[
            "/usr/bin/python3",
            script,
            "--iface",
            &net.tap,
            "--mnet-mac",
            MNET_MAC,
            "--mnet-ip",
            &net.mnet_ip(),
            "--linux-mac",
            LINUX_MAC,
            "--linux-ip",
            &net.linux_ip(),
            "--count",
            &FRAMES.to_string(),
            "--seed",
            &SEED.to_string(),
        ],
        Duration::from_secs(300),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "malformed.py failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = Sent::parse(&stdout);
    assert_eq!(sent.total_frames(), u64::from(FRAMES), "{stdout}");
    assert_eq!(sent.send_errors, 0, "{stdout}");
    assert_eq!(sent.sent, u64::from(FRAMES), "{stdout}");

    // Let mnet work through its queue, then make sure it is still there.
    std::thread::sleep(Duration::from_secs(1));
    assert!(mnet.is_running(), "mnet died under malformed frames:\n{}", mnet.report());

    // How many frames reached mnet: the tap counts what it queued for the
    // reader and what it dropped because the reader was too slow.
    let reached = net.tap_stat("tx_packets") - tx_before;
    let kernel_dropped = net.tap_stat("tx_dropped") - dropped_before;
    println!(
        "frames sent {}, handed to mnet {reached}, dropped by the tap {kernel_dropped}",
        sent.sent
    );
    assert!(
        reached >= sent.sent * 95 / 100,
        "only {reached} of {} frames reached mnet (tap dropped {kernel_dropped}): the test says nothing",
        sent.sent
    );

    // Still answering: pings (also fragmented) and a fragmented UDP echo.
    for size in [56, 4000] {
        net.linux_ping(&net.mnet_ip(), size, 3).assert_all_replied(size);
    }
    net.udp_echo_round_trip(8000)
        .unwrap_or_else(|e| panic!("fragmented echo after the flood failed: {e}\n{}", mnet.report()));

    let after = mnet.counters();
    let delta = after.since(&before);
    println!("drops counted during the flood and checks:\n{}", delta.table());

    // The total accounts for the frames that were certainly bad for us
    // (scaled by the share that reached mnet).
    let must = sent.total_min_drops() * reached.min(sent.sent) / sent.sent.max(1);
    let mut failures = Vec::new();
    if delta.total() * 10 < must * 9 {
        failures.push(format!("total drops {} < 90% of {must} certainly bad frames", delta.total()));
    }
    for (reasons, categories) in EXACT {
        let counted: u64 = reasons.iter().map(|&r| delta.get(r)).sum();
        let expected: u64 = categories.iter().map(|c| sent.min_drops(c)).sum();
        let names: Vec<&str> = reasons.iter().map(|r| r.name()).collect();
        println!("{counted:>8} counted for {expected:>5} expected: {names:?} <- {categories:?}");
        if counted * 10 < expected * 9 {
            failures.push(format!("{names:?}: {counted} < 90% of {expected} ({categories:?})"));
        }
    }
    for &reason in NON_ZERO {
        if delta.get(reason) == 0 {
            failures.push(format!("no drops counted as {:?} ({})", reason, reason.name()));
        }
    }
    for (name, (frames, min)) in &sent.categories {
        println!("{frames:>8} frames {min:>6} certain drops  {name}");
    }
    assert!(
        failures.is_empty(),
        "counters do not account for the malformed frames:\n  {}\nreport after:\n{}",
        failures.join("\n  "),
        after.raw
    );

    // A clean exit on SIGTERM, counters included, no panic.
    let (status, stderr) = mnet.stop();
    let status = status.unwrap_or_else(|| panic!("mnet ignored SIGTERM:\n{stderr}"));
    assert!(status.code().is_some(), "mnet died of a signal: {status}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let at_exit = Counters::parse(&stderr);
    assert!(at_exit.total() >= after.total(), "counters at exit went backwards:\n{stderr}");
}
