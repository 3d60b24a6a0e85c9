//! End to end: the stock `iperf3` client (Debian's 3.12) against
//! `mnet iperf3-server --once` on a tap.
//!
//! Run as root, in a release build (CI does exactly this):
//!
//! ```text
//! cargo test --release -p mnet-cli --test e2e_iperf3
//! ```
//!
//! Each test creates its own network namespace and tap and deletes them on
//! exit; traffic stays inside, on 10.x addresses. The client runs with
//! `-J`; its JSON must show the test completed, with byte counts equal to
//! what mnet printed (the receiver's count is the server's in forward
//! tests, the sender's in reverse tests). Without root or iperf3 a test
//! prints "skipped: ..." and passes, unless `CI=true`. Needs the Debian
//! packages iproute2 and iperf3.

mod common;

use std::time::Duration;

use common::{MnetProcess, TapNet, describe, require_root_and_tools};
use serde_json::Value;

/// What one test run gave: the client's JSON and mnet's per-stream and
/// total byte counts.
struct Run {
    json: Value,
    mnet_streams: Vec<(u64, u64)>,
    mnet_total: u64,
    mnet_stdout: String,
}

/// `id bytes` of each "test 1 stream ID from ...: VERB BYTES bytes" line,
/// and the "test 1: VERB BYTES bytes" total.
fn mnet_counts(stdout: &str, verb: &str) -> (Vec<(u64, u64)>, Option<u64>) {
    let bytes_after = |line: &str| -> Option<u64> { line.split(&format!(": {verb} ")).nth(1)?.split_whitespace().next()?.parse().ok() };
    let mut streams = Vec::new();
    let mut total = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("iperf3-server: test 1 stream ") {
            let id = rest.split_whitespace().next().and_then(|i| i.parse().ok());
            if let (Some(id), Some(b)) = (id, bytes_after(line)) {
                streams.push((id, b));
            }
        } else if line.starts_with("iperf3-server: test 1: ") {
            total = bytes_after(line);
        }
    }
    (streams, total)
}

fn bytes(json: &Value, path: &[&str]) -> u64 {
    let mut v = json;
    for p in path {
        v = &v[*p];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("no number at {path:?} in the iperf3 JSON:\n{json:#}"))
}

/// Starts `mnet iperf3-server --once`, runs `iperf3 -c MNET -J ARGS`,
/// waits for mnet to exit by itself; both must succeed.
fn run_iperf3(args: &[&str], reverse: bool) -> Option<Run> {
    if !require_root_and_tools(&["iperf3"]) {
        return None;
    }
    let net = TapNet::new();
    net.linux_tcp_defaults();
    let mut mnet: MnetProcess = net.spawn_tcp_server(&["iperf3-server", "--once"]);
    let ip = net.mnet_ip();
    let mut argv = vec!["iperf3", "-c", ip.as_str(), "-J"];
    argv.extend_from_slice(args);
    let out = net.ns.run(&argv, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "iperf3 {args:?}: {}\nmnet:\n{}",
        describe(&out),
        mnet.report()
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("iperf3 -J output: {e}\n{}", describe(&out)));
    assert!(json.get("error").is_none(), "iperf3 reported an error:\n{json:#}");
    let status = mnet.wait_exit(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "mnet iperf3-server --once did not exit 0 after the test:\n{}",
        mnet.report()
    );
    let stdout = mnet.stdout();
    assert!(stdout.contains("iperf3-server: done: 1 tests, 0 failed"), "{}", mnet.report());
    let (mnet_streams, total) = mnet_counts(&stdout, if reverse { "sent" } else { "received" });
    let mnet_total = total.unwrap_or_else(|| panic!("no total line:\n{}", mnet.report()));
    assert_eq!(mnet_streams.iter().map(|s| s.1).sum::<u64>(), mnet_total, "{stdout}");
    Some(Run {
        json,
        mnet_streams,
        mnet_total,
        mnet_stdout: stdout,
    })
}

/// Linux sends for 1 s: the client's receiver bytes are mnet's count.
#[test]
fn iperf3_forward_one_second() {
    let Some(r) = run_iperf3(&["-t", "1"], false) else { return };
    let sent = bytes(&r.json, &["end", "sum_sent", "bytes"]);
    let received = bytes(&r.json, &["end", "sum_received", "bytes"]);
    assert_eq!(received, r.mnet_total, "{}", r.mnet_stdout);
    assert!(received > 1_000_000 && received <= sent, "sent {sent}, received {received}");
    assert_eq!(r.json["start"]["test_start"]["reverse"], 0);
    assert_eq!(r.mnet_streams.len(), 1);
    common::say(&format!(
        "iperf3 -t 1: {:.0} Mbit/s into mnet",
        bytes_per_s(&r.json, "sum_received") * 8e-6
    ));
}

/// `-R`: mnet sends for 1 s; the client's sender bytes are mnet's count
/// (from the results mnet sent), its receiver bytes its own.
#[test]
fn iperf3_reverse_one_second() {
    let Some(r) = run_iperf3(&["-R", "-t", "1"], true) else { return };
    let sent = bytes(&r.json, &["end", "sum_sent", "bytes"]);
    let received = bytes(&r.json, &["end", "sum_received", "bytes"]);
    assert_eq!(sent, r.mnet_total, "{}", r.mnet_stdout);
    assert!(received > 1_000_000 && received <= sent, "sent {sent}, received {received}");
    assert_eq!(r.json["start"]["test_start"]["reverse"], 1);
    // mnet, the sender, reports retransmissions (a number, not -1).
    assert!(r.json["end"]["sum_sent"]["retransmits"].is_u64(), "{:#}", r.json["end"]);
    common::say(&format!(
        "iperf3 -R -t 1: {:.0} Mbit/s out of mnet",
        bytes_per_s(&r.json, "sum_received") * 8e-6
    ));
}

/// `-P 2`: two streams, ids 1 and 3 as the client numbers them; each
/// stream's receiver count in the JSON is mnet's.
#[test]
fn iperf3_two_parallel_streams() {
    let Some(r) = run_iperf3(&["-P", "2", "-t", "1"], false) else {
        return;
    };
    let streams = r.json["end"]["streams"].as_array().expect("end.streams");
    assert_eq!(streams.len(), 2, "{:#}", r.json["end"]);
    let ids: Vec<u64> = r.mnet_streams.iter().map(|s| s.0).collect();
    assert_eq!(ids, [1, 3]);
    let mut from_json: Vec<u64> = streams.iter().map(|s| bytes(s, &["receiver", "bytes"])).collect();
    let mut from_mnet: Vec<u64> = r.mnet_streams.iter().map(|s| s.1).collect();
    from_json.sort_unstable();
    from_mnet.sort_unstable();
    assert_eq!(from_json, from_mnet, "{}", r.mnet_stdout);
    assert!(from_mnet.iter().all(|&b| b > 0));
    assert_eq!(bytes(&r.json, &["end", "sum_received", "bytes"]), r.mnet_total);
}

/// `-n 20M`: the client sends 20 MiB (whole blocks) and ends the test.
#[test]
fn iperf3_forward_by_bytes() {
    let Some(r) = run_iperf3(&["-n", "20M"], false) else { return };
    let sent = bytes(&r.json, &["end", "sum_sent", "bytes"]);
    assert!(sent >= 20 << 20, "sent {sent}");
    assert_eq!(bytes(&r.json, &["end", "sum_received", "bytes"]), r.mnet_total);
    assert!(r.mnet_total > 0 && r.mnet_total <= sent);
}

/// `-R -P 2 -n 10M`: mnet stops starting blocks once 10 MiB are sent.
#[test]
fn iperf3_reverse_parallel_by_bytes() {
    let Some(r) = run_iperf3(&["-R", "-P", "2", "-n", "10M"], true) else {
        return;
    };
    let sent = bytes(&r.json, &["end", "sum_sent", "bytes"]);
    assert_eq!(sent, r.mnet_total);
    // Whole blocks of 128 KiB, at most one more per stream than needed.
    assert!(((10 << 20)..=(10 << 20) + 2 * 131072).contains(&sent), "sent {sent}");
    assert_eq!(sent % 131072, 0, "whole blocks");
    let received = bytes(&r.json, &["end", "sum_received", "bytes"]);
    assert!(received >= 10 << 20 && received <= sent, "received {received} of {sent}");
    assert_eq!(r.mnet_streams.len(), 2);
}

fn bytes_per_s(json: &Value, sum: &str) -> f64 {
    json["end"][sum]["bits_per_second"].as_f64().unwrap_or(0.0) / 8.0
}

/// `-u -b 20M`: UDP datagrams into mnet; the client's receiver numbers
/// (bytes, packets, loss) are mnet's.
#[test]
fn iperf3_udp_forward() {
    let Some(r) = run_iperf3(&["-u", "-t", "1", "-b", "20M"], false) else {
        return;
    };
    let rx = &r.json["end"]["sum_received"];
    assert_eq!(bytes(rx, &["bytes"]), r.mnet_total, "{}", r.mnet_stdout);
    let packets = bytes(rx, &["packets"]);
    // 20 Mbit/s of 1448-byte datagrams for 1 s: about 1,700.
    assert!((1000..=2500).contains(&packets), "{packets} packets\n{rx:#}");
    let lost = bytes(rx, &["lost_packets"]);
    let line = r.mnet_stdout.lines().find(|l| l.contains(" stream 1 ")).expect("stream line");
    assert!(line.contains(&format!("packets {packets} lost {lost} ")), "{line}\n{rx:#}");
    assert!(rx["jitter_ms"].as_f64().is_some_and(|j| (0.0..50.0).contains(&j)), "{rx:#}");
}

/// `-u -R -b 20M`: mnet paces datagrams to the client at 20 Mbit/s; the
/// client's sender numbers are mnet's, and it received about that rate.
#[test]
fn iperf3_udp_reverse() {
    let Some(r) = run_iperf3(&["-u", "-R", "-t", "1", "-b", "20M"], true) else {
        return;
    };
    let sent = &r.json["end"]["sum_sent"];
    assert_eq!(bytes(sent, &["bytes"]), r.mnet_total, "{}", r.mnet_stdout);
    // 20 Mbit/s for about a second, within pacing and timing slack.
    assert!((1_500_000..=3_500_000).contains(&r.mnet_total), "{}", r.mnet_stdout);
    let rx = &r.json["end"]["sum_received"];
    let received = bytes(rx, &["packets"]);
    let lost = bytes(rx, &["lost_packets"]);
    assert!(received > 1000 && lost * 100 <= received, "{rx:#}");
    let line = r.mnet_stdout.lines().find(|l| l.contains(" stream 1 ")).expect("stream line");
    assert!(
        line.contains(&format!(" packets {}", bytes(sent, &["packets"]))),
        "{line}\n{sent:#}"
    );
}
