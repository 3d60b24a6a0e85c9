//! Test support for the tokio runner's tests.
//!
//! - [`Netns`]: a network namespace of the test's own with a fresh tap
//!   (Linux side 10.a.b.1/24, IPv6 off), deleted on drop, also when the
//!   test panics; [`Netns::open_tap`] attaches to the tap from a thread
//!   that entered the namespace (the descriptor then works from any
//!   thread). Root only: [`require_root`] says "skipped: ..." otherwise,
//!   and fails when `CI=true`.
//! - [`pair`]: a device over a Unix datagram socket pair, so the runner's
//!   loop runs on a real descriptor without root.
#![allow(dead_code)]

pub mod pair;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mnet_tap::TapDevice;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The Linux side's MAC (the tap interface itself).
pub const LINUX_MAC: &str = "02:00:00:00:00:01";

/// True when we are root, /dev/net/tun exists and every tool is on PATH.
/// Otherwise prints "skipped: WHAT needs ... (missing: ...)" and returns
/// false, or panics when `CI=true` (CI must never skip silently).
pub fn require_root(what: &str, tools: &[&str]) -> bool {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root".to_owned());
    }
    if !Path::new("/dev/net/tun").exists() {
        missing.push("/dev/net/tun".to_owned());
    }
    for tool in ["ip"].iter().chain(tools) {
        if !on_path(tool) {
            missing.push(format!("`{tool}`"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!("{what} needs root and tools (missing: {})", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but the test cannot run: {why}");
    }
    // The real stderr: the harness captures eprintln! of passing tests.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
    false
}

fn is_root() -> bool {
    // The effective uid is the second number on the "Uid:" line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A namespace named `mt<pid % 10000>x<n>` (≤ 15 bytes, so the name is
/// also the tap's name) holding a tap whose Linux side is 10.a.b.1/24.
/// Dropping it kills whatever runs inside and deletes it.
pub struct Netns {
    name: String,
    a: u8,
    b: u8,
}

impl Netns {
    /// A fresh namespace with the tap up (IPv6 off on it: no link-up
    /// noise on the wire).
    pub fn with_tap() -> Netns {
        let pid = std::process::id() % 10_000;
        for _ in 0..50 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("mt{pid}x{n}");
            assert!(name.len() <= 15, "{name}");
            let out = Command::new("ip").args(["netns", "add", &name]).output().expect("run ip netns add");
            if !out.status.success() {
                assert!(text(&out.stderr).contains("exists"), "ip netns add {name}: {}", text(&out.stderr));
                continue;
            }
            // A /24 per test from pid and counter, in 10.0.0.0/8.
            let k = (pid % 1000) * 60 + n % 60; // < 60000
            let ns = Netns {
                name,
                a: u8::try_from(1 + k / 250).unwrap_or(1),
                b: u8::try_from(1 + k % 250).unwrap_or(1),
            };
            let tap = ns.name.clone();
            ns.ip(&["link", "set", "lo", "up"]);
            ns.ip(&["tuntap", "add", "dev", &tap, "mode", "tap"]);
            ns.ip(&["link", "set", &tap, "address", LINUX_MAC, "mtu", "1500"]);
            ns.ip(&["addr", "add", &format!("{}/24", ns.linux_ip()), "dev", &tap]);
            ns.run_ok(
                &["sysctl", "-qw", &format!("net.ipv6.conf.{tap}.disable_ipv6=1")],
                Duration::from_secs(5),
            );
            ns.ip(&["link", "set", &tap, "up"]);
            return ns;
        }
        panic!("could not find a free namespace name");
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tap's name (the namespace's).
    pub fn tap(&self) -> &str {
        &self.name
    }

    pub fn linux_ip(&self) -> String {
        format!("10.{}.{}.1", self.a, self.b)
    }

    pub fn mnet_ip(&self) -> String {
        format!("10.{}.{}.2", self.a, self.b)
    }

    /// `ip -n NS ARGS`; panics unless it succeeds.
    pub fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").arg("-n").arg(&self.name).args(args).output().expect("run ip");
        assert!(
            out.status.success(),
            "ip -n {} {}: {}",
            self.name,
            args.join(" "),
            text(&out.stderr)
        );
    }

    /// Runs `args` inside the namespace, killed after `timeout`.
    pub fn run(&self, args: &[&str], timeout: Duration) -> Output {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
        let end = Instant::now() + timeout;
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() >= end {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The pipes hold little (a few lines), so waiting last is safe.
        child.wait_with_output().expect("wait")
    }

    /// Runs `args` inside the namespace; panics unless it succeeds.
    /// Returns its stdout.
    pub fn run_ok(&self, args: &[&str], timeout: Duration) -> String {
        let out = self.run(args, timeout);
        assert!(
            out.status.success(),
            "{}: {}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Attaches to the tap from a thread that entered the namespace.
    pub fn open_tap(&self) -> TapDevice {
        let name = self.name.clone();
        std::thread::spawn(move || {
            let ns = File::open(format!("/var/run/netns/{name}")).expect("open netns file");
            // SAFETY: setns takes a descriptor we own and a flag; it moves
            // only this short-lived thread (CLONE_NEWNET is per thread).
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            TapDevice::open(&name).expect("open the tap")
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Kill what runs inside first, or the namespace lingers.
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.name]).output() {
            for pid in text(&out.stdout).split_whitespace().filter_map(|p| p.parse::<libc::pid_t>().ok()) {
                if pid > 1 {
                    // SAFETY: kill takes no pointers; `pid` runs inside the
                    // namespace this test created.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        match Command::new("ip").args(["netns", "del", &self.name]).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!("warning: ip netns del {}: {}", self.name, text(&o.stderr)),
            Err(e) => eprintln!("warning: ip netns del {}: {e}", self.name),
        }
    }
}
