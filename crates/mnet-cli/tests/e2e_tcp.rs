//! End to end: mnet's TCP against the Linux kernel's, on a tap.
//!
//! Run as root, in a release build (CI does exactly this):
//!
//! ```text
//! cargo test --release -p mnet-cli --test e2e_tcp
//! ```
//!
//! Each test creates its own network namespace and tap and deletes them on
//! exit, also on failure; all traffic stays inside, on 10.x addresses.
//! The kernel side runs CUBIC (when it has it) and keeps no metrics between
//! connections (shared/notes/peers.md). Loss comes from nftables (this
//! kernel has no netem). Without root or a tool a test prints "skipped:
//! ..." and passes, unless `CI=true`. Needs the Debian packages iproute2,
//! socat, nftables, coreutils (sha256sum, head), python3.
//!
//! `measure_tcp_throughput` (ignored) prints mnet's throughput over the tap,
//! with offloads and with `--no-offload`, next to Linux's over a veth: `cargo test --release -p mnet-cli --test
//! e2e_tcp -- --ignored --nocapture measure`.

mod common;

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use common::{MnetProcess, Netns, TapNet, describe, python, require_root_and_tools, send_signal};

/// The 100 MB of the issue (10^8 bytes).
const BIG: u64 = 100_000_000;
/// What moves through 5 % loss each way.
const LOSSY: u64 = 20_000_000;

fn tools(extra: &[&'static str]) -> Vec<&'static str> {
    let mut t = vec!["sh", "bash", "cat", "ss", "socat", "sha256sum", "head", "stat"];
    t.extend_from_slice(extra);
    t
}

/// A file under /tmp removed on drop.
struct TempFile(String);

impl TempFile {
    fn new(net: &TapNet, what: &str) -> TempFile {
        TempFile(format!("/tmp/mnet-e2e-{}-{what}.bin", net.tap))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `sha256sum FILE` and the file's size.
fn sha256_and_size(ns: &Netns, file: &str) -> (String, u64) {
    let sum = ns.run_ok(&["sha256sum", file], Duration::from_secs(60));
    let size = ns.run_ok(&["stat", "-c", "%s", file], Duration::from_secs(5));
    (
        sum.split_whitespace().next().unwrap_or_default().to_owned(),
        size.trim().parse().expect("stat size"),
    )
}

/// One connection line of `sink`/`source`: (bytes, sha256, Mbit/s).
fn transfer_line(stdout: &str, verb: &str) -> Option<(u64, String, f64)> {
    let line = stdout.lines().find(|l| l.contains(&format!(": {verb} ")))?;
    let after = line.split(&format!(": {verb} ")).nth(1)?;
    let bytes = after.split_whitespace().next()?.parse().ok()?;
    let sha = line.split("sha256 ").nth(1)?.trim().to_owned();
    let rate = line.split('(').nth(1)?.split_whitespace().next()?.parse().ok()?;
    Some((bytes, sha, rate))
}

/// Waits for a `--limit` server to exit by itself with status 0.
fn expect_clean_exit(mnet: &mut MnetProcess, limit: Duration) -> ExitStatus {
    let status = mnet
        .wait_exit(limit)
        .unwrap_or_else(|| panic!("mnet did not exit by itself within {limit:?} ({}):\n{}", mnet.argv, mnet.report()));
    assert!(status.success(), "mnet exited with {status} ({}):\n{}", mnet.argv, mnet.report());
    assert!(!mnet.stderr().contains("panicked"), "{}", mnet.report());
    status
}

/// Linux sends `bytes` random bytes with socat to `mnet sink --limit 1`;
/// the sink's count and SHA-256 must match the file's.
fn linux_to_mnet(net: &TapNet, bytes: u64, port: u16, timeout: Duration, loss: Option<u32>) {
    let mut mnet = net.spawn_tcp_server(&["sink", "--port", &port.to_string(), "--limit", "1"]);
    let file = TempFile::new(net, "to-mnet");
    net.ns.run_ok(
        &["sh", "-c", &format!("head -c {bytes} /dev/urandom > {}", file.0)],
        Duration::from_secs(60),
    );
    let (sum, size) = sha256_and_size(&net.ns, &file.0);
    assert_eq!(size, bytes);
    if let Some(p) = loss {
        net.add_random_loss(p);
    }
    let t0 = Instant::now();
    let out = net.ns.run(
        &["socat", "-u", &format!("FILE:{}", file.0), &format!("TCP:{}:{port}", net.mnet_ip())],
        timeout,
    );
    assert!(out.status.success(), "socat sender: {}\nmnet:\n{}", describe(&out), mnet.report());
    expect_clean_exit(&mut mnet, timeout.saturating_sub(t0.elapsed()).max(Duration::from_secs(10)));
    let stdout = mnet.stdout();
    let (got, sha, rate) = transfer_line(&stdout, "received").unwrap_or_else(|| panic!("no sink line:\n{}", mnet.report()));
    assert_eq!(got, bytes, "sink byte count\n{}", mnet.report());
    assert_eq!(sha, sum, "sink SHA-256 differs from the file's\n{}", mnet.report());
    eprintln!("Linux -> mnet: {bytes} bytes at {rate:.1} Mbit/s (sink's clock), loss {loss:?}");
}

/// `mnet source --bytes N --limit 1` sends to a Linux socat reader; the
/// file's size and SHA-256 must match what the source reports.
fn mnet_to_linux(net: &TapNet, bytes: u64, port: u16, timeout: Duration, loss: Option<u32>) {
    let mut mnet = net.spawn_tcp_server(&["source", "--port", &port.to_string(), "--bytes", &bytes.to_string(), "--limit", "1"]);
    let file = TempFile::new(net, "from-mnet");
    if let Some(p) = loss {
        net.add_random_loss(p);
    }
    let out = net.ns.run(
        &[
            "socat",
            "-u",
            &format!("TCP:{}:{port}", net.mnet_ip()),
            &format!("CREATE:{}", file.0),
        ],
        timeout,
    );
    assert!(out.status.success(), "socat reader: {}\nmnet:\n{}", describe(&out), mnet.report());
    expect_clean_exit(&mut mnet, Duration::from_secs(15));
    let (sum, size) = sha256_and_size(&net.ns, &file.0);
    let stdout = mnet.stdout();
    let (sent, sha, rate) = transfer_line(&stdout, "sent").unwrap_or_else(|| panic!("no source line:\n{}", mnet.report()));
    assert_eq!(sent, bytes, "{}", mnet.report());
    assert_eq!(size, bytes, "Linux read {size} bytes of {bytes}\n{}", mnet.report());
    assert_eq!(sum, sha, "the bytes Linux read differ from what mnet sent\n{}", mnet.report());
    eprintln!("mnet -> Linux: {bytes} bytes at {rate:.1} Mbit/s (source's clock), loss {loss:?}");
}

/// 100 MB from a Linux socat into `mnet sink`, verified by SHA-256.
#[test]
fn linux_sends_100mb_to_mnet_sink() {
    if !require_root_and_tools(&tools(&[])) {
        return;
    }
    let net = TapNet::new();
    net.linux_tcp_defaults();
    linux_to_mnet(&net, BIG, 5001, Duration::from_secs(180), None);
}

/// 100 MB from `mnet source` into a Linux socat, verified by SHA-256.
#[test]
fn mnet_source_sends_100mb_to_linux() {
    if !require_root_and_tools(&tools(&[])) {
        return;
    }
    let net = TapNet::new();
    net.linux_tcp_defaults();
    mnet_to_linux(&net, BIG, 5002, Duration::from_secs(180), None);
}

/// 20 MB Linux -> mnet with 5 % of the frames dropped in each direction.
#[test]
fn linux_to_mnet_20mb_under_5_percent_loss_both_ways() {
    if !require_root_and_tools(&tools(&["nft"])) {
        return;
    }
    let net = TapNet::new();
    net.linux_tcp_defaults();
    linux_to_mnet(&net, LOSSY, 5003, Duration::from_secs(240), Some(5));
    let (from_mnet, to_mnet) = net.random_loss_drops();
    assert!(from_mnet > 0 && to_mnet > 0, "nftables dropped {from_mnet} / {to_mnet} frames");
    eprintln!("nftables dropped {from_mnet} frames from mnet and {to_mnet} to mnet");
}

/// 20 MB mnet -> Linux with 5 % of the frames dropped in each direction.
#[test]
fn mnet_to_linux_20mb_under_5_percent_loss_both_ways() {
    if !require_root_and_tools(&tools(&["nft"])) {
        return;
    }
    let net = TapNet::new();
    net.linux_tcp_defaults();
    mnet_to_linux(&net, LOSSY, 5004, Duration::from_secs(240), Some(5));
    let (from_mnet, to_mnet) = net.random_loss_drops();
    assert!(from_mnet > 0 && to_mnet > 0, "nftables dropped {from_mnet} / {to_mnet} frames");
    eprintln!("nftables dropped {from_mnet} frames from mnet and {to_mnet} to mnet");
}

/// 1,000 connections from Linux (python asyncio), all open at once, to
/// `mnet echo-server --limit 1000`: every echo correct, and the server
/// exits 0 once all of them are closed.
#[test]
fn thousand_concurrent_linux_connections_to_echo_server() {
    let py = python();
    if !require_root_and_tools(&tools(&[py])) {
        return;
    }
    let net = TapNet::new();
    net.linux_tcp_defaults();
    let mut mnet = net.spawn_tcp_server(&["echo-server", "--port", "7000", "--limit", "1000"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tcp_many_clients.py");
    let out = net.ns.run(&[py, script, &net.mnet_ip(), "7000", "1000"], Duration::from_secs(180));
    assert!(out.status.success(), "clients: {}\nmnet:\n{}", describe(&out), mnet.report());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("connected 1000 in"), "{stdout}");
    assert!(stdout.contains("echoed 1000 of 1000 connections correctly"), "{stdout}");
    expect_clean_exit(&mut mnet, Duration::from_secs(30));
    assert!(
        mnet.stdout().contains("echo-server: done: 1000 connections, 0 failed"),
        "{}",
        mnet.report()
    );
    eprintln!("{}", stdout.trim());
}

/// `mnet echo-client` against a Linux `socat ... EXEC:cat` echo server:
/// 1 MiB (the default) and 16 MiB come back intact.
#[test]
fn mnet_echo_client_against_linux_socat() {
    if !require_root_and_tools(&tools(&[])) {
        return;
    }
    let net = TapNet::new();
    net.linux_tcp_defaults();
    let _server = net.ns.spawn_captured(&["socat", "TCP-LISTEN:7100,fork,reuseaddr", "EXEC:cat"]);
    assert!(net.ns.wait_tcp_listening(7100, Duration::from_secs(10)), "socat did not listen");
    let target = format!("{}:7100", net.linux_ip());
    for extra in [&[][..], &["--bytes", "16M"][..]] {
        let mut args = vec!["echo-client", target.as_str()];
        args.extend_from_slice(extra);
        let out = net.run_mnet(&args, Duration::from_secs(120));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "mnet {args:?}: {}", describe(&out));
        assert!(stdout.contains("echo-client: echo matches"), "{stdout}");
        let want = if extra.is_empty() { 1 << 20 } else { 16 << 20 };
        assert!(stdout.contains(&format!("sent {want} bytes, received {want} bytes")), "{stdout}");
        eprintln!("{}", stdout.lines().find(|l| l.contains("Mbit/s")).unwrap_or_default());
    }
}

/// Connecting to a closed Linux port fails with "connection refused"
/// within 100 ms (Linux answers the SYN with a RST), timed by mnet.
#[test]
fn connect_to_closed_linux_port_is_refused_within_100ms() {
    if !require_root_and_tools(&tools(&[])) {
        return;
    }
    let net = TapNet::new();
    let t0 = Instant::now();
    let out = net.run_mnet(&["echo-client", &format!("{}:9", net.linux_ip())], Duration::from_secs(30));
    let wall = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr.contains("connection refused"), "{}", describe(&out));
    let ms: f64 = stderr
        .split("(after ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no '(after X ms)' in: {stderr}"));
    assert!(ms < 100.0, "connection refused after {ms} ms (want < 100 ms)\n{stderr}");
    // The whole process (tap, ARP, SYN, RST, exit) stays quick too.
    assert!(wall < Duration::from_secs(5), "mnet took {wall:?}\n{}", describe(&out));
    eprintln!("refused after {ms:.3} ms; process {wall:?}");
}

/// Listens, accepts one connection, prints "accepted", never reads.
const SILENT_LISTENER: &str = r#"
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(1)
print("listening", flush=True)
c, a = s.accept()
print("accepted %s:%d" % a, flush=True)
time.sleep(120)
"#;

/// A Linux listener that vanishes (killed while the connection is open,
/// with unread data: the kernel answers with a RST) resets mnet's
/// connection: `echo-client` fails with "connection reset" at once.
#[test]
fn vanishing_linux_listener_resets_mnet_connection() {
    let py = python();
    if !require_root_and_tools(&tools(&[py])) {
        return;
    }
    let net = TapNet::new();
    net.linux_tcp_defaults();
    let listener = net.ns.spawn_captured(&[py, "-c", SILENT_LISTENER, "7200"]);
    assert!(
        listener.wait_for_stdout("listening", Duration::from_secs(10)),
        "{}",
        listener.report()
    );
    let mut mnet = net.spawn_mnet(&["echo-client", &format!("{}:7200", net.linux_ip()), "--bytes", "64M"]);
    assert!(
        listener.wait_for_stdout("accepted", Duration::from_secs(10)),
        "listener: {}\nmnet: {}",
        listener.report(),
        mnet.report()
    );
    // Let mnet fill the listener's receive buffer, then kill the listener.
    std::thread::sleep(Duration::from_millis(500));
    assert!(mnet.is_running(), "{}", mnet.report());
    send_signal(listener.pid(), "KILL");
    let t0 = Instant::now();
    let status = mnet
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("mnet still running 10 s after the peer vanished:\n{}", mnet.report()));
    let took = t0.elapsed();
    assert_eq!(status.code(), Some(1), "{}", mnet.report());
    assert!(mnet.stderr().contains("connection reset"), "{}", mnet.report());
    assert!(
        took < Duration::from_secs(2),
        "reset noticed only after {took:?}\n{}",
        mnet.report()
    );
    eprintln!("reset noticed {took:?} after the kill");
}

/// Opens a connection, exchanges 100 kB, prints "ready", stays open.
const HOLDING_CLIENT: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
data = b"x" * 100000
s.sendall(data)
got = b""
while len(got) < len(data):
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
print("ready %d" % len(got), flush=True)
time.sleep(60)
"#;

/// `ss -tin` on the Linux side shows SACK, timestamps and window scaling
/// negotiated with mnet (on a connection Linux opened to mnet).
#[test]
fn linux_negotiates_sack_timestamps_and_window_scaling_with_mnet() {
    let py = python();
    if !require_root_and_tools(&tools(&[py])) {
        return;
    }
    let net = TapNet::new();
    net.linux_tcp_defaults();
    let mnet = net.spawn_tcp_server(&["echo-server", "--port", "7300"]);
    let client = net.ns.spawn_captured(&[py, "-c", HOLDING_CLIENT, &net.mnet_ip(), "7300"]);
    assert!(
        client.wait_for_stdout("ready 100000", Duration::from_secs(20)),
        "client: {}\nmnet: {}",
        client.report(),
        mnet.report()
    );
    // `-o`: iproute2 6.1 prints "ts" and "sack" only with --options.
    let ss = net.ns.run_ok(
        &["ss", "-tinoH", "state", "established", "dst", &net.mnet_ip()],
        Duration::from_secs(5),
    );
    let words: Vec<&str> = ss.split_whitespace().collect();
    assert!(words.contains(&"ts"), "no timestamps in ss -tin:\n{ss}");
    assert!(words.contains(&"sack"), "no SACK in ss -tin:\n{ss}");
    let wscale = words
        .iter()
        .find_map(|w| w.strip_prefix("wscale:"))
        .unwrap_or_else(|| panic!("no window scaling in ss -tin:\n{ss}"));
    let (snd, rcv) = wscale.split_once(',').expect("wscale:A,B");
    let snd: u8 = snd.parse().expect("snd wscale");
    let rcv: u8 = rcv.parse().expect("rcv wscale");
    // snd_wscale is mnet's shift: with megabyte buffers it must be > 0.
    assert!(snd > 0 && rcv > 0, "wscale:{snd},{rcv}\n{ss}");
    eprintln!("ss -tin: {}", ss.trim());
}

// ---------------------------------------------------------------------------
// Throughput, printed (not asserted): mnet over the tap next to Linux over
// a veth, same machine, same run.

/// Reads a TCP stream to its end; prints "bytes N seconds S" measured from
/// the first byte to the end of stream. argv: `listen PORT` or
/// `connect HOST PORT`.
const RATE_RECEIVER: &str = r#"
import socket, sys, time
if sys.argv[1] == "listen":
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", int(sys.argv[2])))
    l.listen(1)
    print("listening", flush=True)
    s, _ = l.accept()
else:
    s = socket.create_connection((sys.argv[2], int(sys.argv[3])))
buf = bytearray(1 << 20)
n = s.recv_into(buf)
t0 = time.monotonic()
total = n
while n:
    n = s.recv_into(buf)
    total += n
print("bytes %d seconds %.6f" % (total, time.monotonic() - t0), flush=True)
"#;

fn receiver_rate(stdout: &str) -> Option<f64> {
    let line = stdout.lines().find(|l| l.starts_with("bytes "))?;
    let w: Vec<&str> = line.split_whitespace().collect();
    let bytes: f64 = w.get(1)?.parse().ok()?;
    let secs: f64 = w.get(3)?.parse().ok()?;
    Some(bytes * 8.0 / secs / 1e6)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A second namespace joined to `net`'s by a veth pair: 10.250.N.1 (in
/// `net`) and 10.250.N.2 (in the returned namespace), MTU 1500.
fn veth_peer(net: &TapNet) -> Netns {
    let other = Netns::new();
    let n = net.b;
    net.ns
        .ip(&["link", "add", "vthA", "type", "veth", "peer", "name", "vthB", "netns", other.name()]);
    net.ns.ip(&["addr", "add", &format!("10.250.{n}.1/24"), "dev", "vthA"]);
    other.ip(&["addr", "add", &format!("10.250.{n}.2/24"), "dev", "vthB"]);
    net.ns.ip(&["link", "set", "vthA", "up"]);
    other.ip(&["link", "set", "vthB", "up"]);
    other.tcp_defaults();
    other
}

/// Runs `sender` (a shell command sending BYTES) against a receiver
/// started in `rx_ns` with `rx_args`; returns the receiver's rate.
fn linux_rate(rx_ns: &Netns, tx_ns: &Netns, port: u16, sender: &str) -> f64 {
    let py = python();
    let rx = rx_ns.spawn_captured(&[py, "-c", RATE_RECEIVER, "listen", &port.to_string()]);
    assert!(rx.wait_for_stdout("listening", Duration::from_secs(10)), "{}", rx.report());
    tx_ns.run_ok(&["bash", "-c", sender], Duration::from_secs(600));
    assert!(rx.wait_for_stdout("seconds", Duration::from_secs(60)), "{}", rx.report());
    receiver_rate(&rx.stdout()).expect("receiver rate")
}

#[test]
#[ignore = "a measurement, minutes long: run with --ignored --nocapture"]
fn measure_tcp_throughput() {
    let py = python();
    if !require_root_and_tools(&tools(&[py])) {
        return;
    }
    let bytes: u64 = std::env::var("MNET_THROUGHPUT_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 30);
    let rounds: usize = std::env::var("MNET_THROUGHPUT_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let with_ethtool = std::process::Command::new("ethtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let net = TapNet::new();
    net.linux_tcp_defaults();
    let sender = |host: &str, port: u16| format!("head -c {bytes} /dev/zero | socat -u -b 262144 STDIN TCP:{host}:{port}");
    let (mut to_mnet, mut from_mnet, mut from_mnet_src, mut veth_on, mut veth_off) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut to_mnet_plain, mut from_mnet_plain) = (vec![], vec![]);
    let veth = veth_peer(&net);
    let veth_plain = net_for_plain_veth(with_ethtool);
    for round in 0..rounds {
        // Linux -> mnet sink (the sink's clock: accept to end of stream).
        let mut sink = net.spawn_tcp_server(&["sink", "--port", "5101", "--limit", "1"]);
        net.ns
            .run_ok(&["bash", "-c", &sender(&net.mnet_ip(), 5101)], Duration::from_secs(600));
        expect_clean_exit(&mut sink, Duration::from_secs(60));
        let (_, _, r) = transfer_line(&sink.stdout(), "received").expect("sink line");
        to_mnet.push(r);
        // mnet source -> Linux (the Linux receiver's clock; the source's too).
        let mut source = net.spawn_tcp_server(&["source", "--port", "5102", "--bytes", &bytes.to_string(), "--limit", "1"]);
        let out = net.ns.run_ok(
            &[py, "-c", RATE_RECEIVER, "connect", &net.mnet_ip(), "5102"],
            Duration::from_secs(600),
        );
        expect_clean_exit(&mut source, Duration::from_secs(60));
        from_mnet.push(receiver_rate(&out).expect("receiver line"));
        from_mnet_src.push(transfer_line(&source.stdout(), "sent").expect("source line").2);
        // The same two transfers with --no-offload (one frame per segment).
        let mut sink = net.spawn_tcp_server(&["--no-offload", "sink", "--port", "5105", "--limit", "1"]);
        net.ns
            .run_ok(&["bash", "-c", &sender(&net.mnet_ip(), 5105)], Duration::from_secs(600));
        expect_clean_exit(&mut sink, Duration::from_secs(60));
        to_mnet_plain.push(transfer_line(&sink.stdout(), "received").expect("sink line").2);
        let mut source = net.spawn_tcp_server(&[
            "--no-offload",
            "source",
            "--port",
            "5106",
            "--bytes",
            &bytes.to_string(),
            "--limit",
            "1",
        ]);
        let out = net.ns.run_ok(
            &[py, "-c", RATE_RECEIVER, "connect", &net.mnet_ip(), "5106"],
            Duration::from_secs(600),
        );
        expect_clean_exit(&mut source, Duration::from_secs(60));
        from_mnet_plain.push(receiver_rate(&out).expect("receiver line"));
        // Linux -> Linux over the veth (offloads on: 64 KiB segments).
        let host = format!("10.250.{}.2", net.b);
        veth_on.push(linux_rate(&veth, &net.ns, 5103, &sender(&host, 5103)));
        if let Some((a, b, host)) = &veth_plain {
            veth_off.push(linux_rate(b, a, 5104, &sender(host, 5104)));
        }
        eprintln!(
            "round {round}: Linux->mnet {:.0} (no offload {:.0}), mnet->Linux {:.0} (source {:.0}; no offload {:.0}), veth {:.0}{} Mbit/s",
            to_mnet[round],
            to_mnet_plain[round],
            from_mnet[round],
            from_mnet_src[round],
            from_mnet_plain[round],
            veth_on[round],
            veth_off
                .get(round)
                .map(|v| format!(", veth no offloads {v:.0}"))
                .unwrap_or_default()
        );
    }
    eprintln!("medians of {rounds} rounds, {bytes} bytes each, MTU 1500:");
    eprintln!("  Linux -> mnet (tap)        {:>8.0} Mbit/s", median(&mut to_mnet));
    eprintln!("  mnet -> Linux (tap)        {:>8.0} Mbit/s", median(&mut from_mnet));
    eprintln!("  Linux -> mnet (tap, --no-offload) {:>8.0} Mbit/s", median(&mut to_mnet_plain));
    eprintln!("  mnet -> Linux (tap, --no-offload) {:>8.0} Mbit/s", median(&mut from_mnet_plain));
    eprintln!("  Linux -> Linux (veth)      {:>8.0} Mbit/s", median(&mut veth_on));
    if !veth_off.is_empty() {
        eprintln!("  Linux -> Linux (veth, no offloads) {:>8.0} Mbit/s", median(&mut veth_off));
    }
}

/// Two fresh namespaces joined by a veth with every offload off (real
/// 1500-byte segments), when ethtool is there.
fn net_for_plain_veth(with_ethtool: bool) -> Option<(Netns, Netns, String)> {
    if !with_ethtool {
        return None;
    }
    let a = Netns::new();
    let b = Netns::new();
    a.ip(&["link", "add", "vtpA", "type", "veth", "peer", "name", "vtpB", "netns", b.name()]);
    a.ip(&["addr", "add", "10.251.0.1/24", "dev", "vtpA"]);
    b.ip(&["addr", "add", "10.251.0.2/24", "dev", "vtpB"]);
    a.ip(&["link", "set", "vtpA", "up"]);
    b.ip(&["link", "set", "vtpB", "up"]);
    for ns in [&a, &b] {
        ns.tcp_defaults();
    }
    for (ns, dev) in [(&a, "vtpA"), (&b, "vtpB")] {
        ns.run_ok(
            &[
                "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off",
            ],
            Duration::from_secs(5),
        );
    }
    Some((a, b, "10.251.0.2".to_owned()))
}
