//! End-to-end tests of the unikernel (unikernel/): QEMU (TCG, microvm)
//! boots the image on a tap inside a namespace of the test's own and Linux
//! talks to it: ping, a 1 MiB TCP echo verified by SHA-256, an 8000-byte
//! (fragmented) UDP echo, two unikernels on one bridge (echo-client
//! against echo-server), and a deliberate guest fault that must print the
//! fault and fail; over IPv6 (a static fd00:: address) Linux pings it and
//! runs a TCP echo, and its echo-client runs against socat. The echo servers run with the virtio-net offloads QEMU
//! offers (checksums, TSO, coalesced receive) and the log must say so.
//! `boot_to_ping_and_throughput` measures the numbers the unikernel issue
//! asks for, with and without offloads, and prints them (no timing
//! assertions beyond generous bounds: the CI machine is shared).
//!
//! The image is built once per run (`cargo build --release` in unikernel/,
//! its own workspace); `unikernel/run` then starts QEMU. Needs root,
//! `qemu-system-x86_64` (Debian `qemu-system-x86`), iproute2, ping and
//! python3; without them the tests say they were skipped (a failure with
//! CI=true).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{ECHO_PORT, MNET_MAC, MnetProcess, Netns, TapNet, python, require_root_and_tools, say};

const QEMU: &str = "qemu-system-x86_64";

fn unikernel_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../unikernel"))
}

/// Builds the image once; returns its path.
fn image() -> &'static str {
    static IMAGE: OnceLock<Result<String, String>> = OnceLock::new();
    let r = IMAGE.get_or_init(|| {
        let dir = unikernel_dir();
        let out = Command::new("cargo")
            .args(["build", "--release", "--quiet"])
            .current_dir(&dir)
            .output()
            .map_err(|e| format!("cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!("building the unikernel failed:\n{}", String::from_utf8_lossy(&out.stderr)));
        }
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| dir.join("target"), PathBuf::from);
        let image = target.join("x86_64-unknown-linux-gnu/release/mnet-unikernel");
        if !image.exists() {
            return Err(format!("no image at {}", image.display()));
        }
        Ok(image.display().to_string())
    });
    match r {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn ready() -> bool {
    require_root_and_tools(&[QEMU, "ping", "env"])
}

/// `unikernel/run --tap TAP --ipv4 IP/24 --mac MAC APP...` inside `ns`.
fn spawn_unikernel(ns: &Netns, tap: &str, ip: &str, mac: &str, app: &[&str]) -> MnetProcess {
    let image_env = format!("MNET_UNIKERNEL_IMAGE={}", image());
    let run = unikernel_dir().join("run").display().to_string();
    let cidr = format!("{ip}/24");
    let mut argv = vec![
        "env",
        image_env.as_str(),
        run.as_str(),
        "--tap",
        tap,
        "--ipv4",
        cidr.as_str(),
        "--mac",
        mac,
    ];
    argv.extend_from_slice(app);
    ns.spawn_captured(&argv)
}

fn spawn_on(net: &TapNet, app: &[&str]) -> MnetProcess {
    spawn_unikernel(&net.ns, &net.tap, &net.mnet_ip(), MNET_MAC, app)
}

/// Linux sends `bytes` random bytes to HOST:PORT over TCP while reading the
/// echo; prints "echo N bytes in S s (R Mbit/s) sha256 match" and exits 0
/// only when the SHA-256 of what came back equals what was sent.
const TCP_ECHO_CLIENT: &str = r#"
import hashlib, os, socket, sys, threading, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(n)
s = socket.create_connection((host, port), timeout=20)
t0 = time.monotonic()
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
th = threading.Thread(target=send)
th.start()
h = hashlib.sha256()
got = 0
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    h.update(b)
    got += len(b)
th.join()
dt = time.monotonic() - t0
ok = got == n and h.hexdigest() == hashlib.sha256(data).hexdigest()
print("echo %d of %d bytes in %.3f s (%.1f Mbit/s) sha256 %s" % (got, n, dt, n * 8 / dt / 1e6, "match" if ok else "MISMATCH"))
sys.exit(0 if ok else 1)
"#;

fn tcp_echo(net: &TapNet, ip: &str, bytes: usize) -> Result<f64, String> {
    tcp_echo_in(&net.ns, ip, bytes)
}

fn tcp_echo_in(ns: &Netns, ip: &str, bytes: usize) -> Result<f64, String> {
    let out = ns.run(
        &[python(), "-c", TCP_ECHO_CLIENT, ip, "7", &bytes.to_string()],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(common::describe(&out));
    }
    // "... (R Mbit/s) ..."
    let rate = stdout
        .split_once('(')
        .and_then(|(_, r)| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| format!("no rate in {stdout:?}"))?;
    Ok(rate)
}

fn wait_listening(p: &MnetProcess) {
    if !p.wait_for_stdout("listening on", Duration::from_secs(60)) {
        panic!("the unikernel did not start listening ({}):\n{}", p.argv, p.report());
    }
}

/// The offloads the log line "offloads ..." names (`-v`).
fn offloads(uk: &MnetProcess) -> String {
    let out = uk.stdout();
    out.lines()
        .find_map(|l| l.split_once("offloads ").map(|(_, r)| r.split(',').next().unwrap_or("").to_owned()))
        .unwrap_or_else(|| panic!("no offloads in the log:\n{}", uk.report()))
}

#[test]
fn echo_server_answers_ping_and_a_1mib_tcp_echo() {
    if !ready() {
        return;
    }
    let net = TapNet::new();
    let mut uk = spawn_on(&net, &["-v", "echo-server", "--port", "7"]);
    wait_listening(&uk);
    // QEMU's tap backend (vnet_hdr) offers them all.
    assert_eq!(offloads(&uk), "tx-csum tso rx-csum rx-gso", "{}", uk.report());
    net.wait_until_answering(&mut uk, Duration::from_secs(10));
    net.linux_ping(&net.mnet_ip(), 56, 3).assert_all_replied(56);
    net.linux_ping(&net.mnet_ip(), 3000, 2).assert_all_replied(3000);
    let rate = tcp_echo(&net, &net.mnet_ip(), 1 << 20).unwrap_or_else(|e| panic!("1 MiB TCP echo: {e}\n{}", uk.report()));
    say(&format!(
        "unikernel: 1 MiB TCP echo from Linux verified by SHA-256 ({rate:.1} Mbit/s)"
    ));
    assert!(
        uk.wait_for_stdout("echoed 1048576 bytes", Duration::from_secs(5)),
        "{}",
        uk.report()
    );
    assert!(uk.is_running(), "the unikernel stopped:\n{}", uk.report());
}

/// The PCI path: `-M q35` (SeaBIOS), virtio-net-pci (modern: the 12-byte
/// header, where microvm's virtio-mmio is legacy with 10 bytes) with its
/// INTx routed through the IOAPIC.
#[test]
fn q35_virtio_pci_echo_server() {
    if !ready() {
        return;
    }
    let net = TapNet::new();
    let mut uk = spawn_on(&net, &["--machine", "q35", "-v", "echo-server", "--port", "7"]);
    wait_listening(&uk);
    assert!(uk.stdout().contains("virtio-pci NIC"), "{}", uk.report());
    // The modern device (12-byte header) offers the same offloads.
    assert_eq!(offloads(&uk), "tx-csum tso rx-csum rx-gso", "{}", uk.report());
    net.wait_until_answering(&mut uk, Duration::from_secs(10));
    net.linux_ping(&net.mnet_ip(), 56, 2).assert_all_replied(56);
    tcp_echo(&net, &net.mnet_ip(), 1 << 20).unwrap_or_else(|e| panic!("1 MiB TCP echo on q35: {e}\n{}", uk.report()));
}

/// KVM (a nested PVM on these machines: the image runs in ring 3 there,
/// see unikernel/src/boot.rs): the echo server and a guest fault. Runs
/// only where /dev/kvm exists; its absence is not a failure, even in CI.
#[test]
fn kvm_echo_server_and_fault() {
    if !ready() {
        return;
    }
    if !std::path::Path::new("/dev/kvm").exists() {
        say("skipped: no /dev/kvm (the KVM variant of the unikernel tests)");
        return;
    }
    let net = TapNet::new();
    let mut uk = spawn_on(&net, &["--accel", "kvm", "echo-server", "--port", "7"]);
    wait_listening(&uk);
    net.wait_until_answering(&mut uk, Duration::from_secs(10));
    net.linux_ping(&net.mnet_ip(), 56, 2).assert_all_replied(56);
    let rate = tcp_echo(&net, &net.mnet_ip(), 1 << 20).unwrap_or_else(|e| panic!("1 MiB TCP echo under KVM: {e}\n{}", uk.report()));
    say(&format!(
        "unikernel: 1 MiB TCP echo under KVM verified by SHA-256 ({rate:.1} Mbit/s)"
    ));
    drop(uk);
    let mut uk = spawn_on(&net, &["--accel", "kvm", "fault"]);
    let status = uk.wait_exit(Duration::from_secs(30));
    let report = uk.report();
    assert_eq!(status.and_then(|s| s.code()), Some(3), "{report}");
    assert!(report.contains("FAULT: #PF page fault (vector 14)"), "{report}");
    assert!(report.contains("page fault address 0x8000000000"), "{report}");
}

#[test]
fn udp_echo_answers_an_8000_byte_datagram() {
    if !ready() {
        return;
    }
    let net = TapNet::new();
    let mut uk = spawn_on(&net, &["udp-echo", "--port", &ECHO_PORT.to_string()]);
    wait_listening(&uk);
    net.wait_until_answering(&mut uk, Duration::from_secs(10));
    net.udp_echo_round_trip(8000)
        .unwrap_or_else(|e| panic!("8000-byte UDP echo: {e}\n{}", uk.report()));
    net.udp_echo_round_trip(100)
        .unwrap_or_else(|e| panic!("100-byte UDP echo: {e}\n{}", uk.report()));
}

#[test]
fn a_guest_fault_is_printed_and_fails() {
    if !ready() {
        return;
    }
    let net = TapNet::new();
    let mut uk = spawn_on(&net, &["fault"]);
    let status = uk.wait_exit(Duration::from_secs(30));
    let report = uk.report();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(3),
        "run must exit 3 on a guest fault:\n{report}"
    );
    assert!(report.contains("FAULT: #PF page fault (vector 14)"), "{report}");
    assert!(report.contains("page fault address 0x8000000000"), "{report}");
    assert!(report.contains("run: the guest faulted"), "{report}");

    // A stack overflow hits the guard page below the stack.
    let mut uk = spawn_on(&net, &["fault", "stack"]);
    let status = uk.wait_exit(Duration::from_secs(30));
    let report = uk.report();
    assert_eq!(status.and_then(|s| s.code()), Some(3), "{report}");
    assert!(report.contains("(stack overflow)"), "{report}");
}

#[test]
fn bad_arguments_exit_2() {
    if !ready() {
        return;
    }
    let net = TapNet::new();
    let mut uk = spawn_on(&net, &["echo-server"]);
    let status = uk.wait_exit(Duration::from_secs(30));
    let report = uk.report();
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{report}");
    assert!(report.contains("echo-server needs --port P"), "{report}");
}

/// Two unikernels on one bridge: echo-client against echo-server (1 MiB,
/// SHA-256); the client exits 0, the server (`--limit 1`) too.
#[test]
fn two_unikernels_on_a_bridge() {
    if !ready() {
        return;
    }
    let ns = Netns::new();
    let name = ns.name().to_owned();
    let (br, tap_s, tap_c) = (format!("{name}b"), format!("{name}s"), format!("{name}c"));
    ns.ip(&["link", "add", &br, "type", "bridge"]);
    for tap in [&tap_s, &tap_c] {
        ns.ip(&["tuntap", "add", "dev", tap, "mode", "tap"]);
        ns.ip(&["link", "set", tap, "master", &br]);
        ns.ip(&["link", "set", tap, "up"]);
    }
    ns.ip(&["link", "set", &br, "up"]);
    let server = spawn_unikernel(
        &ns,
        &tap_s,
        "10.250.0.2",
        "02:00:00:00:01:02",
        &["echo-server", "--port", "7", "--limit", "1"],
    );
    wait_listening(&server);
    let mut server = server;
    let mut client = spawn_unikernel(
        &ns,
        &tap_c,
        "10.250.0.3",
        "02:00:00:00:01:03",
        &["echo-client", "10.250.0.2:7", "--bytes", "1M"],
    );
    let c = client.wait_exit(Duration::from_secs(120));
    assert_eq!(
        c.and_then(|s| s.code()),
        Some(0),
        "echo-client:\n{}\nserver:\n{}",
        client.report(),
        server.report()
    );
    assert!(client.stdout().contains("echo-client: echo matches"), "{}", client.report());
    let s = server.wait_exit(Duration::from_secs(30));
    assert_eq!(s.and_then(|s| s.code()), Some(0), "echo-server:\n{}", server.report());
    assert!(server.stdout().contains("echoed 1048576 bytes"), "{}", server.report());
    say(&format!(
        "unikernel: two unikernels on a bridge: {}",
        client.stdout().lines().find(|l| l.contains("Mbit/s")).unwrap_or("?")
    ));
}

/// Frames through the tap so far: (Linux to the unikernel, the
/// unikernel to Linux). A super-segment counts once.
fn frames(net: &TapNet) -> Frames {
    Frames(net.tap_stat("tx_packets"), net.tap_stat("rx_packets"))
}

#[derive(Debug, Clone, Copy)]
struct Frames(u64, u64);

impl std::ops::Sub for Frames {
    type Output = Frames;
    fn sub(self, o: Frames) -> Frames {
        Frames(self.0 - o.0, self.1 - o.1)
    }
}

/// The issue's numbers: QEMU start to the first answered ping (the ARP
/// entry is static so that only the boot counts), and TCP throughput from
/// Linux into the unikernel's echo-server, with and without offloads (and
/// the frames each way: fewer with segmentation and coalescing), next to
/// `mnet echo-server` on a TAP, in the same run.
#[test]
fn boot_to_ping_and_throughput() {
    if !ready() {
        return;
    }
    const BYTES: usize = 16 << 20;
    let net = TapNet::new();
    net.ns.ip(&[
        "neigh",
        "replace",
        &net.mnet_ip(),
        "lladdr",
        MNET_MAC,
        "dev",
        &net.tap,
        "nud",
        "permanent",
    ]);
    // `ping -c 1 -w 10 -i 0.002`: a request every 2 ms until the first reply.
    let _ = image();
    let start = Instant::now();
    let uk = spawn_on(&net, &["echo-server", "--port", "7"]);
    let ip = net.mnet_ip();
    let ping = net.ns.run(
        &["ping", "-n", "-q", "-c", "1", "-w", "10", "-i", "0.002", &ip],
        Duration::from_secs(15),
    );
    let boot = start.elapsed();
    assert!(
        ping.status.success(),
        "no ping answered:\n{}\n{}",
        common::describe(&ping),
        uk.report()
    );
    say(&format!(
        "unikernel: run start to first answered ping: {:.1} ms",
        boot.as_secs_f64() * 1000.0
    ));
    assert!(boot < Duration::from_secs(10), "{boot:?}");
    wait_listening(&uk);
    let before = frames(&net);
    let uk_rate = tcp_echo(&net, &ip, BYTES).unwrap_or_else(|e| panic!("unikernel echo: {e}\n{}", uk.report()));
    let offload_frames = frames(&net) - before;
    drop(uk);
    let uk = spawn_on(&net, &["--no-offload", "-v", "echo-server", "--port", "7"]);
    wait_listening(&uk);
    assert_eq!(offloads(&uk), "none", "{}", uk.report());
    let before = frames(&net);
    let plain_rate = tcp_echo(&net, &ip, BYTES).unwrap_or_else(|e| panic!("unikernel echo --no-offload: {e}\n{}", uk.report()));
    let plain_frames = frames(&net) - before;
    drop(uk);
    say(&format!(
        "unikernel: 16 MiB TCP echo, frames Linux->unikernel / unikernel->Linux on the tap: {} / {} with offloads, {} / {} without",
        offload_frames.0, offload_frames.1, plain_frames.0, plain_frames.1
    ));
    // Without offloads every frame carries at most one MSS (1460 bytes);
    // with them both sides send super-segments, and Linux coalesces less
    // on a loaded machine: at least two segments per frame on average.
    let segments = (BYTES / 1460) as u64;
    assert!(plain_frames.0 >= segments && plain_frames.1 >= segments, "{plain_frames:?}");
    assert!(
        offload_frames.0 < segments / 2 && offload_frames.1 < segments / 2,
        "{offload_frames:?}"
    );

    let tap_net = TapNet::new();
    let mnet = tap_net.spawn_tcp_server(&["echo-server", "--port", "7"]);
    let tap_rate = tcp_echo(&tap_net, &tap_net.mnet_ip(), BYTES).unwrap_or_else(|e| panic!("mnet echo: {e}\n{}", mnet.report()));
    say(&format!(
        "unikernel: 16 MiB TCP echo from Linux: unikernel (QEMU TCG, virtio-net) {uk_rate:.1} Mbit/s with offloads, {plain_rate:.1} Mbit/s without; mnet echo-server on a TAP {tap_rate:.1} Mbit/s"
    ));
}

/// IPv6: `--ipv6 fd00:a:b::2/64`; Linux (fd00:a:b::1, no DAD) pings the
/// static address (also 3000 bytes: fragments) and runs a 1 MiB TCP echo
/// over IPv6 (TSO and coalesced receive for TCPv6), verified by SHA-256;
/// then the unikernel's echo-client runs 1 MiB against socat on Linux.
#[test]
fn ipv6_ping_and_tcp_echo() {
    if !ready() {
        return;
    }
    let net = TapNet::new();
    let tap = net.tap.clone();
    net.ns.sysctl(&format!("net.ipv6.conf.{tap}.disable_ipv6"), "0");
    let prefix = format!("fd00:{:x}:{:x}::", net.a, net.b);
    let (linux6, uk6) = (format!("{prefix}1"), format!("{prefix}2"));
    net.ns.ip(&["-6", "addr", "add", &format!("{linux6}/64"), "dev", &tap, "nodad"]);
    let ipv6 = format!("{uk6}/64");
    let mut uk = spawn_on(&net, &["--ipv6", &ipv6, "-v", "echo-server", "--port", "7"]);
    wait_listening(&uk);
    // The static address answers once duplicate address detection is over
    // (about a second): ping until the first reply.
    let first = net.ns.run(
        &["ping", "-n", "-q", "-c", "1", "-w", "10", "-i", "0.2", &uk6],
        Duration::from_secs(15),
    );
    assert!(
        first.status.success(),
        "no ping6 answered:\n{}\n{}",
        common::describe(&first),
        uk.report()
    );
    net.linux_ping(&uk6, 56, 3).assert_all_replied(56);
    net.linux_ping(&uk6, 3000, 2).assert_all_replied(3000);
    let rate = tcp_echo_in(&net.ns, &uk6, 1 << 20).unwrap_or_else(|e| panic!("1 MiB TCP echo over IPv6: {e}\n{}", uk.report()));
    say(&format!(
        "unikernel: 1 MiB TCP echo over IPv6 verified by SHA-256 ({rate:.1} Mbit/s)"
    ));
    assert!(
        uk.wait_for_stdout("echoed 1048576 bytes", Duration::from_secs(5)),
        "{}",
        uk.report()
    );
    // The peer is Linux's IPv6 address (not an IPv4-mapped one).
    assert!(uk.stdout().contains(&format!("from [{linux6}]:")), "{}", uk.report());
    assert!(uk.is_running(), "the unikernel stopped:\n{}", uk.report());
    drop(uk);

    // The other way: the unikernel's echo-client (which waits for DAD)
    // against a Linux echo server on fd00:a:b::1.
    if !require_root_and_tools(&["socat", "ss"]) {
        return;
    }
    let server = net
        .ns
        .spawn_captured(&["socat", &format!("TCP6-LISTEN:7,bind=[{linux6}],reuseaddr,fork"), "EXEC:cat"]);
    assert!(
        net.ns.wait_tcp_listening(7, Duration::from_secs(5)),
        "socat did not listen:\n{}",
        server.report()
    );
    let target = format!("[{linux6}]:7");
    let mut client = spawn_on(&net, &["--ipv6", &ipv6, "echo-client", &target, "--bytes", "1M"]);
    let status = client.wait_exit(Duration::from_secs(60));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "echo-client:\n{}\nsocat:\n{}",
        client.report(),
        server.report()
    );
    assert!(client.stdout().contains(&format!("from [{uk6}]:")), "{}", client.report());
    assert!(client.stdout().contains("echo-client: echo matches"), "{}", client.report());
    say(&format!(
        "unikernel: echo-client over IPv6 against socat: {}",
        client.stdout().lines().find(|l| l.contains("Mbit/s")).unwrap_or("?")
    ));
}
