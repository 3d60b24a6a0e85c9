//! End to end: the `mnet` command on a tap against the Linux kernel, IPv6.
//!
//! Run as root, in a release build:
//!
//! ```text
//! cargo test --release -p mnet-cli --test e2e_ipv6
//! ```
//!
//! Each test creates its own namespace and tap (deleted on exit, also on
//! failure), with fd00:a:b::/64 on the link: Linux fd00:a:b::1 (no DAD,
//! shared/notes/peers.md gotcha 4), mnet fd00:a:b::2. Needs the Debian
//! packages iproute2, iputils-ping, python3, socat, ndisc6 and radvd.

mod common;

use std::time::{Duration, Instant};

use common::{MnetProcess, Netns, TapNet, describe, python, require_root_and_tools};

/// Linux's link-local address on the tap (EUI-64 of 02:00:00:00:00:01).
const LINUX_LL: &str = "fe80::ff:fe00:1";
/// mnet's link-local address (EUI-64 of 02:00:00:00:00:02).
const MNET_LL: &str = "fe80::ff:fe00:2";

/// A [`TapNet`] with IPv6 on: Linux has fd00:a:b::1/64 and its link-local
/// address without DAD.
struct V6Net {
    net: TapNet,
}

impl V6Net {
    fn new() -> V6Net {
        let net = TapNet::new();
        let tap = net.tap.clone();
        net.ns.sysctl(&format!("net.ipv6.conf.{tap}.accept_dad"), "0");
        net.ns.sysctl(&format!("net.ipv6.conf.{tap}.disable_ipv6"), "0");
        let v = V6Net { net };
        v.net
            .ns
            .ip(&["-6", "addr", "add", &format!("{}/64", v.linux_ip()), "dev", &tap, "nodad"]);
        v
    }

    fn prefix(&self) -> String {
        format!("fd00:{:x}:{:x}::", self.net.a, self.net.b)
    }

    fn linux_ip(&self) -> String {
        format!("{}1", self.prefix())
    }

    fn mnet_ip(&self) -> String {
        format!("{}2", self.prefix())
    }

    fn argv(&self, ipv6: &str, command: &[&str]) -> Vec<String> {
        let mut argv = vec![common::mnet_bin().to_owned()];
        argv.extend(self.net.mnet_global_args());
        argv.extend(["--ipv6".to_owned(), ipv6.to_owned()]);
        argv.extend(command.iter().map(|s| s.to_string()));
        argv
    }

    /// `mnet --ipv6 fd00:a:b::2/64 COMMAND` in the background.
    fn spawn(&self, command: &[&str]) -> MnetProcess {
        let argv = self.argv(&format!("{}/64", self.mnet_ip()), command);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.net.ns.spawn_captured(&argv)
    }

    /// `mnet --ipv6 IPV6 COMMAND` to completion.
    fn run(&self, ipv6: &str, command: &[&str], timeout: Duration) -> std::process::Output {
        let argv = self.argv(ipv6, command);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        self.net.ns.run(&argv, timeout)
    }

    fn ns(&self) -> &Netns {
        &self.net.ns
    }

    /// radvd advertising on the tap every 3-10 s (forwarding on, as it
    /// requires), with `options` inside its `interface TAP { ... }`; returns
    /// it and its scratch directory (named after `tag`).
    fn radvd(&self, tag: &str, options: &str) -> (MnetProcess, String) {
        self.ns().sysctl("net.ipv6.conf.all.forwarding", "1");
        let dir = tempdir(tag);
        let conf = format!("{dir}/radvd.conf");
        let body = format!(
            "interface {} {{\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n MaxRtrAdvInterval 10;\n{options}}};\n",
            self.net.tap
        );
        std::fs::write(&conf, body).expect("write radvd.conf");
        let pid = format!("{dir}/radvd.pid");
        let radvd = self
            .ns()
            .spawn_captured(&["radvd", "-n", "-C", &conf, "-p", &pid, "-m", "stderr", "-u", "root"]);
        (radvd, dir)
    }

    /// Pings `dst` from Linux until one echo comes back (mnet's DAD takes
    /// 1-2 s); panics with mnet's output after `limit`.
    fn wait_answering(&self, mnet: &mut MnetProcess, dst: &str, limit: Duration) {
        let end = Instant::now() + limit;
        loop {
            assert!(mnet.is_running(), "mnet exited:\n{}", mnet.report());
            let out = self
                .ns()
                .run(&["ping", "-6", "-n", "-q", "-c", "1", "-W", "1", dst], Duration::from_secs(5));
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < end,
                "mnet did not answer {dst} within {limit:?}:\n{}",
                mnet.report()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ping(&self, dst: &str, size: usize, count: u32) -> std::process::Output {
        self.net.ping_output(&["-6"], dst, size, count)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn received(out: &std::process::Output) -> u32 {
    let t = text(&out.stdout);
    t.split(',')
        .find_map(|p| p.trim().strip_suffix(" received").and_then(|n| n.trim().parse().ok()))
        .unwrap_or(0)
}

/// Linux pings mnet's global and link-local addresses, with 56 bytes and
/// 4000 bytes (fragmented by Linux, reassembled by mnet, and the reply
/// fragmented by mnet); then, after Linux's neighbour entry for mnet went
/// STALE, pings still work (Linux probes, mnet answers the unicast NS).
#[test]
fn linux_pings_mnet_global_link_local_fragmented_and_after_stale() {
    if !require_root_and_tools(&["ping", "sh"]) {
        return;
    }
    let v = V6Net::new();
    let mut mnet = v.spawn(&["udp-echo", "--port", "7"]);
    v.wait_answering(&mut mnet, &v.mnet_ip(), Duration::from_secs(10));
    for (dst, size) in [
        (v.mnet_ip(), 56),
        (v.mnet_ip(), 4000),
        (format!("{MNET_LL}%{}", v.net.tap), 56),
        (format!("{MNET_LL}%{}", v.net.tap), 3000),
    ] {
        let out = v.ping(&dst, size, 3);
        assert_eq!(
            received(&out),
            3,
            "ping {dst} -s {size}: {}\nmnet:\n{}",
            describe(&out),
            mnet.report()
        );
    }
    // Force Linux's entry to STALE; the next ping goes out, Linux moves to
    // DELAY then PROBE and sends a unicast NS that mnet must answer.
    v.ns().ip(&[
        "-6",
        "neigh",
        "change",
        &v.mnet_ip(),
        "dev",
        &v.net.tap,
        "lladdr",
        common::MNET_MAC,
        "nud",
        "stale",
    ]);
    let out = v.ping(&v.mnet_ip(), 56, 1);
    assert_eq!(received(&out), 1, "{}", describe(&out));
    std::thread::sleep(Duration::from_secs(7));
    let neigh = v.ns().run_ok(
        &["ip", "-6", "neigh", "show", &v.mnet_ip(), "dev", &v.net.tap],
        Duration::from_secs(5),
    );
    // DELAY lasts 5 s, then Linux probes with a unicast NS: answered, the
    // entry is REACHABLE (unanswered, it would be PROBE or FAILED now).
    assert!(neigh.contains("REACHABLE"), "after the probe: {neigh}");
    let out = v.ping(&v.mnet_ip(), 56, 2);
    assert_eq!(received(&out), 2, "{}", describe(&out));
    let c = mnet.counters();
    assert_eq!(c.get(mnet::stats::Drop::Icmpv6BadChecksum), 0, "{}", c.table());
}

/// `mnet ping` to Linux's global and link-local addresses, also with a
/// payload that mnet fragments.
#[test]
fn mnet_pings_linux() {
    if !require_root_and_tools(&["ping"]) {
        return;
    }
    let v = V6Net::new();
    for (dst, size) in [(v.linux_ip(), "56"), (v.linux_ip(), "3000"), (LINUX_LL.to_owned(), "56")] {
        let out = v.run(
            &format!("{}/64", v.mnet_ip()),
            &["ping", "-c", "3", "-i", "0.2", "-s", size, &dst],
            Duration::from_secs(20),
        );
        let t = text(&out.stdout);
        assert!(out.status.success(), "mnet ping {dst} -s {size}: {}", describe(&out));
        assert!(t.contains("3 packets transmitted, 3 received"), "{t}");
    }
}

/// A UDP datagram of 3000 bytes (fragmented both ways) through mnet's
/// udp-echo, from a Linux socket.
#[test]
fn udp_fragmented_both_ways() {
    if !require_root_and_tools(&["ping", python()]) {
        return;
    }
    let v = V6Net::new();
    let mut mnet = v.spawn(&["udp-echo", "--port", "7"]);
    v.wait_answering(&mut mnet, &v.mnet_ip(), Duration::from_secs(10));
    for size in [100, 3000, 20000] {
        let out = v.ns().run(
            &[python(), "-c", common::UDP_ECHO_CLIENT, &v.mnet_ip(), "7", &size.to_string()],
            Duration::from_secs(20),
        );
        assert!(
            out.status.success(),
            "udp echo of {size} bytes: {}\nmnet:\n{}",
            describe(&out),
            mnet.report()
        );
    }
    let c = mnet.counters();
    assert_eq!(c.get(mnet::stats::Drop::UdpBadChecksum), 0, "{}", c.table());
}

/// `mnet echo-client [fd00:a:b::1]:7` against a Linux socat echo server:
/// 100 MiB verified by SHA-256.
#[test]
fn tcp_echo_over_ipv6_sha256() {
    if !require_root_and_tools(&["socat", "ss"]) {
        return;
    }
    let v = V6Net::new();
    v.net.linux_tcp_defaults();
    let server = v.ns().spawn_captured(&[
        "socat",
        &format!("TCP6-LISTEN:7,bind=[{}],reuseaddr,fork", v.linux_ip()),
        "EXEC:cat",
    ]);
    assert!(
        v.ns().wait_tcp_listening(7, Duration::from_secs(5)),
        "socat did not listen:\n{}",
        server.report()
    );
    let started = Instant::now();
    let out = v.run(
        &format!("{}/64", v.mnet_ip()),
        &["echo-client", &format!("[{}]:7", v.linux_ip()), "--bytes", "100M"],
        Duration::from_secs(240),
    );
    let t = text(&out.stdout);
    assert!(out.status.success(), "echo-client: {}\nsocat:\n{}", describe(&out), server.report());
    common::say(&format!("tcp echo over ipv6, 100 MiB: {:?}; {}", started.elapsed(), t.trim()));
}

/// ndisc6 (Linux) solicits mnet's addresses: the advertisement carries
/// mnet's MAC; rdisc6 (a router solicitation) gets no answer from a host
/// (RFC 4861 §6.2.6).
#[test]
fn ndisc6_gets_advertisements_and_rdisc6_nothing() {
    if !require_root_and_tools(&["ping", "ndisc6", "rdisc6"]) {
        return;
    }
    let v = V6Net::new();
    let mut mnet = v.spawn(&["udp-echo", "--port", "7"]);
    v.wait_answering(&mut mnet, &v.mnet_ip(), Duration::from_secs(10));
    for target in [v.mnet_ip(), MNET_LL.to_owned()] {
        let out = v.ns().run(
            &["ndisc6", "-n", "-r", "3", "-w", "1000", &target, &v.net.tap],
            Duration::from_secs(10),
        );
        let t = text(&out.stdout);
        assert!(
            out.status.success(),
            "ndisc6 {target}: {}\nmnet:\n{}",
            describe(&out),
            mnet.report()
        );
        assert!(t.to_uppercase().contains("02:00:00:00:00:02"), "ndisc6 {target}: {t}");
    }
    let out = v
        .ns()
        .run(&["rdisc6", "-n", "-r", "2", "-w", "500", &v.net.tap], Duration::from_secs(10));
    assert!(!out.status.success(), "rdisc6 got an answer from a host: {}", describe(&out));
    assert!(!text(&out.stdout).contains("Hop limit"), "{}", describe(&out));
}

/// mnet configures fd00:a:b::1, which Linux holds: DAD finds the
/// duplicate and mnet does not use it.
#[test]
fn dad_detects_an_address_linux_holds() {
    if !require_root_and_tools(&[]) {
        return;
    }
    let v = V6Net::new();
    let out = v.run(
        &format!("{}/64", v.linux_ip()),
        &["addresses", "--wait", "4"],
        Duration::from_secs(20),
    );
    let t = text(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(t.lines().any(|l| l == format!("{}/64 duplicate", v.linux_ip())), "{t}");
    assert!(t.lines().any(|l| l == format!("{MNET_LL}/64 preferred")), "{t}");
}

/// radvd advertises fd00:a:b::/64 with an RDNSS server: `mnet addresses`
/// shows the SLAAC address, the default router and the DNS server.
#[test]
fn radvd_slaac_router_and_dns() {
    if !require_root_and_tools(&["radvd", "sh"]) {
        return;
    }
    let v = V6Net::new();
    let dns = format!("{}53", v.prefix());
    let (radvd, dir) = v.radvd(
        &v.net.tap,
        &format!(
            " AdvDefaultPreference high;\n \
             prefix {p}/64 {{ AdvOnLink on; AdvAutonomous on; AdvValidLifetime 3600; AdvPreferredLifetime 1800; }};\n \
             RDNSS {dns} {{ AdvRDNSSLifetime 600; }};\n",
            p = v.prefix()
        ),
    );
    let out = v.run("eui64", &["addresses", "--wait", "15"], Duration::from_secs(30));
    let t = text(&out.stdout);
    assert!(out.status.success(), "{}\nradvd:\n{}", describe(&out), radvd.report());
    let slaac = format!("{}ff:fe00:2/64 preferred", v.prefix());
    assert!(t.lines().any(|l| l == slaac), "no '{slaac}':\n{t}\nradvd:\n{}", radvd.report());
    assert!(t.lines().any(|l| l == format!("router {LINUX_LL}")), "{t}");
    assert!(t.lines().any(|l| l == format!("dns {dns}")), "{t}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--ipv6 opaque --ipv6-secret HEX`: the SLAAC address from radvd's
/// prefix uses an RFC 7217 identifier: not the EUI-64 one, the same in two
/// runs with the same secret, another with another secret.
#[test]
fn opaque_identifiers_are_stable_per_secret() {
    if !require_root_and_tools(&["radvd", "sh"]) {
        return;
    }
    let v = V6Net::new();
    let (radvd, dir) = v.radvd(&format!("{}o", v.net.tap), &format!(" prefix {}/64 {{ }};\n", v.prefix()));
    let slaac = |secret: &str| {
        let argv = v.argv("opaque", &["--ipv6-secret", secret, "addresses", "--wait", "15"]);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = v.ns().run(&argv, Duration::from_secs(30));
        let t = text(&out.stdout);
        assert!(out.status.success(), "{}\nradvd:\n{}", describe(&out), radvd.report());
        t.lines()
            .find(|l| l.starts_with(&format!("fd00:{:x}:{:x}:", v.net.a, v.net.b)) && l.ends_with(" preferred"))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no SLAAC address:\n{t}\nradvd:\n{}", radvd.report()))
    };
    let first = slaac("00112233445566778899aabbccddeeff");
    let again = slaac("00112233445566778899aabbccddeeff");
    let other = slaac("ffeeddccbbaa99887766554433221100");
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert_ne!(first, format!("{}ff:fe00:2/64 preferred", v.prefix()));
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir(tag: &str) -> String {
    let dir = format!("/tmp/mnet-e2e-{tag}-{}", std::process::id());
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// Path MTU discovery through a router: the tap's namespace routes to a
/// second namespace over a link with an MTU of 1280; mnet's full-size TCP
/// segments get a Packet Too Big from the Linux router, the path MTU drops
/// and the 8 MiB echo transfer completes (SHA-256 checked).
#[test]
fn packet_too_big_through_a_router() {
    if !require_root_and_tools(&["socat", "ss", "nstat", "sh"]) {
        return;
    }
    let v = V6Net::new();
    let far = Netns::new();
    let (r, h) = (v.ns().name().to_owned(), far.name().to_owned());
    let far_prefix = format!("fd00:{:x}:{:x}::", v.net.a, u16::from(v.net.b) + 0x100);
    let (router_far, host_far) = (format!("{far_prefix}1"), format!("{far_prefix}2"));
    v.ns().ip(&["link", "add", "vr", "type", "veth", "peer", "name", "vh", "netns", &h]);
    v.ns().sysctl("net.ipv6.conf.all.forwarding", "1");
    v.ns().sysctl("net.ipv6.conf.vr.accept_dad", "0");
    far.sysctl("net.ipv6.conf.vh.accept_dad", "0");
    v.ns().ip(&["-6", "addr", "add", &format!("{router_far}/64"), "dev", "vr", "nodad"]);
    far.ip(&["-6", "addr", "add", &format!("{host_far}/64"), "dev", "vh", "nodad"]);
    v.ns().ip(&["link", "set", "vr", "up"]);
    far.ip(&["link", "set", "vh", "up"]);
    far.ip(&["link", "set", "lo", "up"]);
    // The router's side of the far link has an MTU of 1280; the far host's
    // side 1500, and it advertises an MSS of 1440 (sending at most 1280
    // itself): mnet's full-size segments reach the router, which cannot
    // forward them and answers Packet Too Big.
    v.ns().ip(&["link", "set", "vr", "mtu", "1280"]);
    far.ip(&[
        "-6",
        "route",
        "add",
        "default",
        "via",
        &router_far,
        "dev",
        "vh",
        "mtu",
        "1280",
        "advmss",
        "1440",
    ]);
    let _ = (&r, &h);
    let server = far.spawn_captured(&["socat", &format!("TCP6-LISTEN:7,bind=[{host_far}],reuseaddr,fork"), "EXEC:cat"]);
    assert!(
        far.wait_tcp_listening(7, Duration::from_secs(5)),
        "socat did not listen:\n{}",
        server.report()
    );
    let argv = {
        let mut a = v.argv(&format!("{}/64", v.mnet_ip()), &[]);
        a.truncate(a.len());
        a.extend([
            "--ipv6-gateway".to_owned(),
            v.linux_ip(),
            "echo-client".to_owned(),
            format!("[{host_far}]:7"),
            "--bytes".to_owned(),
            "8M".to_owned(),
        ]);
        a
    };
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = v.ns().run(&argv, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "echo-client through the router: {}\nsocat:\n{}",
        describe(&out),
        server.report()
    );
    assert!(text(&out.stdout).contains("echo matches"), "{}", describe(&out));
    let ptb = v.ns().run_ok(&["nstat", "-az", "Icmp6OutPktTooBigs"], Duration::from_secs(5));
    let n: u64 = ptb
        .lines()
        .find(|l| l.starts_with("Icmp6OutPktTooBigs"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    assert!(n >= 1, "the router sent no Packet Too Big: {ptb}");
    common::say(&format!(
        "packet too big through a router: {n} PTB sent by Linux, transfer completed"
    ));
}

/// The stock iperf3 client over IPv6, both directions (`-t 1`, then
/// `-R -t 1`): `mnet iperf3-server --once` serves each, and the byte
/// counts in iperf3's JSON match what mnet printed.
#[test]
fn iperf3_over_ipv6_both_directions() {
    if !require_root_and_tools(&["iperf3"]) {
        return;
    }
    let v = V6Net::new();
    v.net.linux_tcp_defaults();
    for reverse in [false, true] {
        let mut mnet = v.spawn(&["iperf3-server", "--once"]);
        v.wait_answering(&mut mnet, &v.mnet_ip(), Duration::from_secs(10));
        let ip = v.mnet_ip();
        let mut argv = vec!["iperf3", "-6", "-c", ip.as_str(), "-J", "-t", "1"];
        if reverse {
            argv.push("-R");
        }
        let out = v.ns().run(&argv, Duration::from_secs(60));
        assert!(out.status.success(), "{argv:?}: {}\nmnet:\n{}", describe(&out), mnet.report());
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("iperf3 -J: {e}\n{}", describe(&out)));
        assert!(json.get("error").is_none(), "iperf3 reported an error:\n{json:#}");
        assert_eq!(json["start"]["connected"][0]["remote_host"], ip.as_str(), "{:#}", json["start"]);
        let status = mnet.wait_exit(Duration::from_secs(15));
        assert!(status.is_some_and(|s| s.success()), "mnet iperf3-server --once:\n{}", mnet.report());
        let (side, verb) = if reverse {
            ("sum_sent", "sent")
        } else {
            ("sum_received", "received")
        };
        let bytes = json["end"][side]["bytes"].as_u64().unwrap_or(0);
        let stdout = mnet.stdout();
        assert!(bytes > 1_000_000, "{side}: {bytes} bytes\n{stdout}");
        assert!(
            stdout.lines().any(|l| l.contains(verb) && l.contains(&format!(" {bytes} bytes"))),
            "mnet did not report {verb} {bytes} bytes:\n{stdout}"
        );
        let rate = json["end"]["sum_received"]["bits_per_second"].as_f64().unwrap_or(0.0) * 1e-6;
        common::say(&format!("iperf3 over IPv6{}: {rate:.0} Mbit/s", if reverse { " -R" } else { "" }));
    }
}
