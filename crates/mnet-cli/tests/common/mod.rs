//! Harness for end-to-end tests of the `mnet` command against the Linux
//! kernel.
//!
//! Each test builds its own world and tears it down on drop, also when it
//! panics: a network namespace with a unique name ([`Netns`]), a fresh tap
//! inside it whose Linux side has 10.a.b.1/24 and a fixed MAC ([`TapNet`]),
//! and `mnet` running inside the namespace on that tap with 10.a.b.2/24
//! ([`MnetProcess`]). Traffic never leaves the namespace.
//!
//! Tests run as root, in release builds:
//! `cargo test --release -p mnet-cli --test e2e_ipv4 --test e2e_malformed`.
//! Without root or a tool they print "skipped: ..." and pass, unless
//! `CI=true`, where a missing privilege or tool fails the test.
//!
//! Needs (Debian packages): iproute2 (`ip`, `ss`), iputils-ping (`ping`),
//! python3 (plain sockets, asyncio), python3-scapy (the malformed-frame
//! sender and the raw TCP peer run under /usr/bin/python3), socat and
//! nftables (the TCP tests).
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mnet::stats::Drop;
pub use mnet_testnet::{describe, say, send_signal, skip};
use mnet_testnet::{drain, text, wait_timeout};

/// The Linux side's MAC (the tap interface itself).
pub const LINUX_MAC: &str = "02:00:00:00:00:01";
/// mnet's MAC (`--mac`).
pub const MNET_MAC: &str = "02:00:00:00:00:02";
/// The UDP port `mnet udp-echo` listens on in these tests.
pub const ECHO_PORT: u16 = 7;
/// The MAC of the raw packet peer (scapy) that shares the tap with Linux.
pub const RAW_PEER_MAC: &str = "02:00:00:00:00:09";

/// The `mnet` binary under test.
pub fn mnet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_mnet")
}

/// The python for plain-socket helpers: Debian's if present (it is the one
/// with scapy), otherwise whatever `python3` is on PATH.
pub fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// True when we are root, /dev/net/tun exists and every tool is on PATH
/// (or is an existing absolute path), in a release build. Otherwise
/// "skipped: ..." (a failure when `CI=true`: see [`skip`]).
pub fn require_root_and_tools(tools: &[&str]) -> bool {
    release_build() && mnet_testnet::require_root("this end-to-end test", tools)
}

/// [`require_root_and_tools`] plus Debian's python3 with scapy.
pub fn require_scapy() -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import scapy.all"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok || skip("needs /usr/bin/python3 with scapy (apt-get install python3-scapy)")
}

/// These tests run in release builds (CI runs them so); a debug build of
/// `cargo test --workspace` skips them instead of running them slowly a
/// second time. `MNET_E2E_DEBUG=1` runs them in a debug build anyway.
fn release_build() -> bool {
    if cfg!(debug_assertions) && std::env::var_os("MNET_E2E_DEBUG").is_none() {
        say("skipped: end-to-end tests run in release builds: cargo test --release -p mnet-cli --tests (or set MNET_E2E_DEBUG=1)");
        return false;
    }
    true
}

// ---------------------------------------------------------------------------

/// A network namespace of the test's own (`mnet_testnet::Netns`, named
/// `mn<pid % 10000>x<n>`, which also serves as the tap's name): it derefs
/// to that (`ip`, `run`, `run_ok`, `sysctl`, `tcp_defaults`, ...) and adds
/// [`Netns::spawn_captured`]. Dropping it kills whatever runs inside and
/// deletes it.
pub struct Netns {
    ns: mnet_testnet::Netns,
}

impl Deref for Netns {
    type Target = mnet_testnet::Netns;
    fn deref(&self) -> &mnet_testnet::Netns {
        &self.ns
    }
}

impl Netns {
    pub fn new() -> Netns {
        Netns {
            ns: mnet_testnet::Netns::new("mn"),
        }
    }

    /// Whether `ip netns list` shows a namespace called `name`.
    pub fn listed(name: &str) -> bool {
        mnet_testnet::Netns::listed(name)
    }

    /// Starts `args` inside the namespace in the background, stdout and
    /// stderr captured (`ip netns exec` execs it: the child's pid is the
    /// program's). The returned process is stopped on drop.
    pub fn spawn_captured(&self, argv: &[&str]) -> MnetProcess {
        let mut child = self
            .command(argv)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            drain(child.stdout.take().expect("stdout"), Arc::clone(&stdout)),
            drain(child.stderr.take().expect("stderr"), Arc::clone(&stderr)),
        ];
        MnetProcess {
            child,
            stdout,
            stderr,
            readers,
            status: None,
            argv: argv.join(" "),
        }
    }
}

// ---------------------------------------------------------------------------

/// How to build a [`TapNet`].
#[derive(Debug, Clone)]
pub struct TapOptions {
    /// The tap's transmit queue (frames the Linux side may queue towards
    /// mnet). The kernel's default of 1000 drops bursts.
    pub txqueuelen: u32,
    pub mtu: u32,
}

impl Default for TapOptions {
    fn default() -> Self {
        TapOptions {
            txqueuelen: 1000,
            mtu: 1500,
        }
    }
}

/// A namespace with a fresh tap: Linux side 10.a.b.1/24 with [`LINUX_MAC`],
/// IPv6 off on the tap (no link-up noise), link up; mnet gets 10.a.b.2/24
/// and [`MNET_MAC`].
pub struct TapNet {
    pub ns: Netns,
    pub tap: String,
    pub a: u8,
    pub b: u8,
}

impl TapNet {
    pub fn new() -> TapNet {
        TapNet::with_options(TapOptions::default())
    }

    pub fn with_options(opts: TapOptions) -> TapNet {
        let ns = Netns::new();
        let tap = ns.name().to_owned();
        let (a, b) = ns.subnet();
        let net = TapNet { ns, tap, a, b };
        let tap = net.tap.as_str();
        net.ns.ip(&["tuntap", "add", "dev", tap, "mode", "tap"]);
        net.ns.ip(&["link", "set", tap, "address", LINUX_MAC, "mtu", &opts.mtu.to_string()]);
        net.ns.ip(&["link", "set", tap, "txqueuelen", &opts.txqueuelen.to_string()]);
        net.ns.ip(&["addr", "add", &format!("{}/24", net.linux_ip()), "dev", tap]);
        net.ns.sysctl(&format!("net.ipv6.conf.{tap}.disable_ipv6"), "1");
        net.ns.ip(&["link", "set", tap, "up"]);
        net
    }

    pub fn linux_ip(&self) -> String {
        format!("10.{}.{}.1", self.a, self.b)
    }

    pub fn mnet_ip(&self) -> String {
        format!("10.{}.{}.2", self.a, self.b)
    }

    /// An address on the subnet that nobody has.
    pub fn absent_ip(&self) -> String {
        format!("10.{}.{}.77", self.a, self.b)
    }

    /// The raw packet peer's address (a host the kernel does not know;
    /// see tests/tcp_raw_peer.py).
    pub fn raw_peer_ip(&self) -> String {
        format!("10.{}.{}.9", self.a, self.b)
    }

    /// The kernel peer's TCP settings for reproducible runs: see
    /// [`Netns::tcp_defaults`].
    pub fn linux_tcp_defaults(&self) {
        self.ns.tcp_defaults();
    }

    /// Drops `percent` % of the frames in each direction on the tap, at
    /// random, with nftables in the netdev family (this kernel has no
    /// netem): an ingress chain (mnet to Linux) and an egress chain (Linux
    /// to mnet), each with a counter. The egress hook sees a packet before
    /// generic segmentation, so the tap's `gso_max_segs` goes to 1 first:
    /// Linux's TCP then hands over one segment per packet and each frame
    /// is dropped on its own (connections opened afterwards).
    pub fn add_random_loss(&self, percent: u32) {
        let tap = &self.tap;
        self.ns.ip(&["link", "set", "dev", tap, "gso_max_segs", "1"]);
        let cmds = [
            "add table netdev mnetloss".to_owned(),
            format!("add chain netdev mnetloss from_mnet {{ type filter hook ingress device \"{tap}\" priority 0 ; }}"),
            format!("add rule netdev mnetloss from_mnet numgen random mod 100 < {percent} counter drop"),
            format!("add chain netdev mnetloss to_mnet {{ type filter hook egress device \"{tap}\" priority 0 ; }}"),
            format!("add rule netdev mnetloss to_mnet numgen random mod 100 < {percent} counter drop"),
        ];
        for c in &cmds {
            self.ns.run_ok(&["nft", c], Duration::from_secs(5));
        }
    }

    /// Frames dropped by [`TapNet::add_random_loss`]: (mnet to Linux,
    /// Linux to mnet).
    pub fn random_loss_drops(&self) -> (u64, u64) {
        let out = self
            .ns
            .run_ok(&["nft", "list", "table", "netdev", "mnetloss"], Duration::from_secs(5));
        let mut counts = Vec::new();
        for line in out.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let Some(i) = words.iter().position(|w| *w == "packets") {
                counts.push(words.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(0));
            }
        }
        (counts.first().copied().unwrap_or(0), counts.get(1).copied().unwrap_or(0))
    }

    /// Starts an mnet TCP server (`echo-server`, `sink`, `source` ...) and
    /// waits until it prints "listening on".
    pub fn spawn_tcp_server(&self, command: &[&str]) -> MnetProcess {
        let mnet = self.spawn_mnet(command);
        if !mnet.wait_for_stdout("listening on", Duration::from_secs(10)) {
            panic!("mnet did not start listening ({}):\n{}", mnet.argv, mnet.report());
        }
        mnet
    }

    /// The global flags: `--tap NAME --ipv4 10.a.b.2/24 --mac MNET_MAC`.
    pub fn mnet_global_args(&self) -> Vec<String> {
        vec![
            "--tap".into(),
            self.tap.clone(),
            "--ipv4".into(),
            format!("{}/24", self.mnet_ip()),
            "--mac".into(),
            MNET_MAC.into(),
        ]
    }

    fn mnet_argv(&self, command: &[&str]) -> Vec<String> {
        let mut argv = vec![mnet_bin().to_owned()];
        argv.extend(self.mnet_global_args());
        argv.extend(command.iter().map(|s| s.to_string()));
        argv
    }

    /// Starts `mnet GLOBALS COMMAND...` inside the namespace, in the
    /// background (`ip netns exec` execs it, so the child's pid is mnet's).
    pub fn spawn_mnet(&self, command: &[&str]) -> MnetProcess {
        let argv = self.mnet_argv(command);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.ns.spawn_captured(&argv)
    }

    /// `mnet GLOBALS udp-echo --port 7`, once it answers pings.
    pub fn spawn_udp_echo(&self) -> MnetProcess {
        let mut mnet = self.spawn_mnet(&["udp-echo", "--port", &ECHO_PORT.to_string()]);
        self.wait_until_answering(&mut mnet, Duration::from_secs(10));
        mnet
    }

    /// Pings mnet from Linux (one echo, 1 s wait) until it answers; panics
    /// with mnet's output if it exits or stays silent for `limit`.
    pub fn wait_until_answering(&self, mnet: &mut MnetProcess, limit: Duration) {
        let end = Instant::now() + limit;
        let ip = self.mnet_ip();
        loop {
            if !mnet.is_running() {
                panic!("mnet exited before answering ({}):\n{}", mnet.argv, mnet.report());
            }
            let out = self
                .ns
                .run(&["ping", "-n", "-q", "-c", "1", "-W", "1", &ip], Duration::from_secs(5));
            if out.status.success() {
                return;
            }
            if Instant::now() >= end {
                panic!("mnet did not answer ping within {limit:?} ({}):\n{}", mnet.argv, mnet.report());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `mnet GLOBALS COMMAND...` to completion (killed after `timeout`).
    pub fn run_mnet(&self, command: &[&str], timeout: Duration) -> Output {
        let argv = self.mnet_argv(command);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.ns.run(&argv, timeout)
    }

    /// Linux pings `dst` `count` times with `size` bytes of payload.
    pub fn linux_ping(&self, dst: &str, size: usize, count: u32) -> PingResult {
        PingResult::parse(&self.ping_output(&[], dst, size, count))
    }

    /// `ping [FLAGS] -n -c COUNT -i 0.2 -W 2 -s SIZE DST` from the Linux
    /// side, to completion (`FLAGS`: e.g. `-6`).
    pub fn ping_output(&self, flags: &[&str], dst: &str, size: usize, count: u32) -> Output {
        let (count_s, size_s) = (count.to_string(), size.to_string());
        let mut argv = vec!["ping"];
        argv.extend_from_slice(flags);
        argv.extend(["-n", "-c", &count_s, "-i", "0.2", "-W", "2", "-s", &size_s, dst]);
        self.ns.run(&argv, Duration::from_secs(u64::from(count) + 15))
    }

    /// Sends `size` random bytes to mnet's UDP echo port from a Linux
    /// socket and checks that the same bytes come back (3 tries of 2 s).
    pub fn udp_echo_round_trip(&self, size: usize) -> Result<(), String> {
        let out = self.ns.run(
            &[
                python(),
                "-c",
                UDP_ECHO_CLIENT,
                &self.mnet_ip(),
                &ECHO_PORT.to_string(),
                &size.to_string(),
            ],
            Duration::from_secs(20),
        );
        if out.status.success() { Ok(()) } else { Err(describe(&out)) }
    }

    /// A counter of the tap from /sys (e.g. "tx_packets": frames the Linux
    /// side handed to mnet; "tx_dropped": frames the kernel dropped because
    /// mnet did not read them in time).
    pub fn tap_stat(&self, name: &str) -> u64 {
        let path = format!("/sys/class/net/{}/statistics/{name}", self.tap);
        let out = self.ns.run_ok(&["cat", &path], Duration::from_secs(5));
        out.trim().parse().unwrap_or_else(|_| panic!("{path}: {out:?}"))
    }
}

/// Connected UDP socket, IPv4 or IPv6 as `host` is written; argv: host
/// port size. Exit 0 when the echo equals what was sent, 3 on a mismatch,
/// 1 when nothing came back.
pub const UDP_ECHO_CLIENT: &str = r#"
import os, socket, sys
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
s = socket.socket(family, socket.SOCK_DGRAM)
s.settimeout(2.0)
s.connect(addr)
payload = os.urandom(size)
for attempt in range(3):
    s.send(payload)
    try:
        data = s.recv(65535)
    except socket.timeout:
        print("attempt %d: timeout" % attempt)
        continue
    if data == payload:
        print("echoed %d bytes" % len(data))
        sys.exit(0)
    print("mismatch: sent %d bytes, got %d" % (size, len(data)))
    sys.exit(3)
sys.exit(1)
"#;

/// A connected UDP socket sends to a port where nobody listens; the ICMP
/// port unreachable that comes back makes the next recv fail with
/// ECONNREFUSED. argv: host port. Exit 0 on ECONNREFUSED.
pub const PORT_UNREACHABLE_CLIENT: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
s.connect((host, port))
for attempt in range(5):
    try:
        s.send(b"anybody there?")
        data = s.recv(2048)
        print("unexpected answer: %r" % data)
        sys.exit(4)
    except ConnectionRefusedError:
        print("ECONNREFUSED")
        sys.exit(0)
    except socket.timeout:
        print("attempt %d: timeout" % attempt)
sys.exit(1)
"#;

/// The outcome of a Linux `ping`.
#[derive(Debug)]
pub struct PingResult {
    pub transmitted: u32,
    pub received: u32,
    /// The "N bytes from" sizes of the replies.
    pub reply_sizes: Vec<usize>,
    pub output: String,
}

impl PingResult {
    fn parse(out: &Output) -> PingResult {
        let output = describe(out);
        let stdout = text(&out.stdout);
        let mut transmitted = 0;
        let mut received = 0;
        let mut reply_sizes = Vec::new();
        for line in stdout.lines() {
            if line.contains("packets transmitted") {
                let nums: Vec<u32> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|t| t.parse().ok()).collect();
                transmitted = nums.first().copied().unwrap_or(0);
                received = nums.get(1).copied().unwrap_or(0);
            } else if let Some((size, _)) = line.split_once(" bytes from ")
                && let Ok(n) = size.trim().parse()
            {
                reply_sizes.push(n);
            }
        }
        PingResult {
            transmitted,
            received,
            reply_sizes,
            output,
        }
    }

    /// Every request got exactly one reply of `size` + 8 bytes (ICMP header).
    pub fn assert_all_replied(&self, size: usize) {
        assert!(
            self.transmitted > 0 && self.received == self.transmitted && self.reply_sizes.len() == self.transmitted as usize,
            "ping -s {size}: {}/{} replies\n{}",
            self.received,
            self.transmitted,
            self.output
        );
        assert!(
            self.reply_sizes.iter().all(|&n| n == size + 8),
            "ping -s {size}: reply sizes {:?}\n{}",
            self.reply_sizes,
            self.output
        );
    }
}

// ---------------------------------------------------------------------------

/// A running `mnet` (or another background program, see
/// [`Netns::spawn_captured`]). Dropping it stops it (SIGTERM, then SIGKILL).
pub struct MnetProcess {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
    pub argv: String,
}

impl MnetProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        if self.status.is_none()
            && let Ok(Some(status)) = self.child.try_wait()
        {
            self.status = Some(status);
        }
        self.status.is_none()
    }

    pub fn stdout(&self) -> String {
        text(&self.stdout.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn stderr(&self) -> String {
        text(&self.stderr.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Waits until stdout contains `needle` (at most `limit`, or until the
    /// process exits).
    pub fn wait_for_stdout(&self, needle: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        loop {
            if self.stdout().contains(needle) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the process to exit by itself, at most `limit`; then
    /// waits for its output to be read. `None` if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        while self.is_running() {
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.status
    }

    /// Status (if exited), stdout and stderr, for failure messages.
    pub fn report(&self) -> String {
        format!(
            "status {:?}\n--- stdout\n{}--- stderr\n{}",
            self.status,
            self.stdout(),
            self.stderr()
        )
    }

    pub fn signal(&self, sig: &str) {
        if self.status.is_none() {
            send_signal(self.pid(), sig);
        }
    }

    /// Sends SIGUSR1 and parses the counters mnet prints to stderr.
    pub fn counters(&mut self) -> Counters {
        assert!(self.is_running(), "mnet is not running:\n{}", self.report());
        let before = self.stderr.lock().unwrap_or_else(|e| e.into_inner()).len();
        self.signal("USR1");
        let new = self.wait_for_output_after(before, Duration::from_secs(5));
        let counters = Counters::parse(&new);
        assert!(
            counters.seen_any_line || new.contains("drop"),
            "no counters on stderr after SIGUSR1:\n{}",
            self.report()
        );
        counters
    }

    /// Waits until stderr grew past `offset` and then stayed unchanged for
    /// 300 ms (a complete report), at most `limit`; returns the new text.
    fn wait_for_output_after(&self, offset: usize, limit: Duration) -> String {
        let end = Instant::now() + limit;
        let mut last_len = offset;
        let mut stable_since = Instant::now();
        loop {
            let len = self.stderr.lock().unwrap_or_else(|e| e.into_inner()).len();
            if len != last_len {
                last_len = len;
                stable_since = Instant::now();
            } else if len > offset && stable_since.elapsed() >= Duration::from_millis(300) {
                break;
            }
            if Instant::now() >= end {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let all = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        text(all.get(offset..).unwrap_or_default())
    }

    /// SIGTERM, then waits up to 5 s (SIGKILL after that). Returns the exit
    /// status (`None` if it had to be killed) and everything it wrote to
    /// stderr, counters at exit included.
    pub fn stop(&mut self) -> (Option<ExitStatus>, String) {
        if self.is_running() {
            self.signal("TERM");
            // `None` when it had to be killed: it did not stop by itself.
            self.status = wait_timeout(&mut self.child, Duration::from_secs(5));
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (self.status, self.stderr())
    }
}

impl std::ops::Drop for MnetProcess {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

// ---------------------------------------------------------------------------

/// Counters parsed from mnet's `netstat -s`-style stderr: lines
/// `    <count> <reason>` where reason is a [`Drop::name`].
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub drops: BTreeMap<&'static str, u64>,
    /// A line naming a drop reason was seen (zero counts may be omitted).
    pub seen_any_line: bool,
    pub raw: String,
}

impl Counters {
    /// Parses the last report in `text`: later lines overwrite earlier ones.
    pub fn parse(text: &str) -> Counters {
        let mut c = Counters {
            raw: text.to_owned(),
            ..Counters::default()
        };
        for line in text.lines() {
            let line = line.trim();
            let Some((count, reason)) = line.split_once(char::is_whitespace) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            let reason = reason.trim();
            if let Some(d) = Drop::ALL.iter().find(|d| d.name() == reason) {
                c.drops.insert(d.name(), count);
                c.seen_any_line = true;
            }
        }
        c
    }

    pub fn get(&self, reason: Drop) -> u64 {
        self.drops.get(reason.name()).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.drops.values().sum()
    }

    /// `self - before`, reason by reason.
    pub fn since(&self, before: &Counters) -> Counters {
        let mut c = Counters {
            raw: self.raw.clone(),
            seen_any_line: self.seen_any_line,
            ..Counters::default()
        };
        for (&name, &n) in &self.drops {
            let old = before.drops.get(name).copied().unwrap_or(0);
            c.drops.insert(name, n.saturating_sub(old));
        }
        c
    }

    pub fn table(&self) -> String {
        self.drops
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(name, n)| format!("{n:>8} {name}\n"))
            .collect()
    }
}

#[cfg(test)]
mod harness_tests {
    use super::*;

    #[test]
    fn counters_parse_netstat_style_lines() {
        let text = "traffic:\n    5 frames in (300 bytes), 2 frames out (84 bytes)\ndrops: 3 total\n    2 ipv4: bad header checksum\n    1 udp: no socket on destination port\nnoise 7 lines\n";
        let c = Counters::parse(text);
        assert_eq!(c.get(Drop::Ipv4BadChecksum), 2);
        assert_eq!(c.get(Drop::UdpNoPort), 1);
        assert_eq!(c.total(), 3);
        let later = Counters::parse("    5 ipv4: bad header checksum\n    1 udp: no socket on destination port\n");
        let d = later.since(&c);
        assert_eq!(d.get(Drop::Ipv4BadChecksum), 3);
        assert_eq!(d.get(Drop::UdpNoPort), 0);
        assert_eq!(d.total(), 3);
    }
}
