//! Test support for tests that run against the Linux kernel: a network
//! namespace of the test's own ([`Netns`], deleted on drop, also when the
//! test panics), the skip rule ([`require_root`], [`skip`]) and helpers for
//! child processes.
//!
//! The skip rule: a test that needs root or a tool it cannot find prints
//! "skipped: WHY" on the real stderr and passes, except with `CI=true`,
//! where it fails (CI must never skip silently).
//!
//! ```no_run
//! use mnet_testnet::{Netns, require_root};
//! use std::time::Duration;
//! if require_root("this test", &["ping"]) {
//!     let ns = Netns::new("ex");
//!     let (a, b) = ns.subnet();
//!     ns.ip(&["addr", "add", &format!("10.{a}.{b}.1/24"), "dev", "lo"]);
//!     ns.run_ok(&["ping", "-c", "1", &format!("10.{a}.{b}.1")], Duration::from_secs(5));
//! } // the namespace is gone here
//! ```
//!
//! [`counting_alloc`] is a global allocator that counts a thread's live
//! heap, for the memory tests.

pub mod counting_alloc;

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Whether `CI=true`: then a missing privilege or tool is a failure.
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Prints a line on the real stderr (the test harness captures
/// `println!`/`eprintln!` of passing tests, but not direct writes).
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Reports a missing precondition: prints "skipped: WHY" and returns
/// false, or panics when `CI=true`.
pub fn skip(why: &str) -> bool {
    if ci() {
        panic!("CI=true but the test cannot run: {why}");
    }
    say(&format!("skipped: {why}"));
    false
}

/// Whether the effective uid is 0 (the second number on the "Uid:" line).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Whether `tool` is on PATH (or, given as an absolute path, exists).
pub fn on_path(tool: &str) -> bool {
    if tool.starts_with('/') {
        return Path::new(tool).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
}

/// True when we are root, /dev/net/tun exists and `ip` and every one of
/// `tools` are on PATH. Otherwise [`skip`]s: "WHAT needs root and tools
/// (missing: ...)".
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
    missing.is_empty() || skip(&format!("{what} needs root and tools (missing: {})", missing.join(", ")))
}

/// Lossy UTF-8.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Status, stdout and stderr of a finished command, for failure messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Waits for `child` at most `timeout`; kills it when it overstays.
/// Returns its status, or `None` when it had to be killed.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends signal `sig` ("TERM", "USR1", "KILL", ...) to `pid` with the
/// shell's `kill` builtin.
pub fn send_signal(pid: u32, sig: &str) {
    let _ = Command::new("sh")
        .args(["-c", &format!("kill -s {sig} {pid} 2>/dev/null")])
        .status();
}

/// Reads a pipe to its end into a shared buffer, in a thread.
pub fn drain<R: Read + Send + 'static>(mut pipe: R, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// A network namespace of the test's own, named
/// `<prefix><pid % 10000>x<n>` (at most 15 bytes, so the name also serves
/// as an interface name), with a 10.a.b.0/24 of its own ([`Netns::subnet`]).
/// Dropping it kills whatever runs inside and deletes it.
pub struct Netns {
    name: String,
    subnet: (u8, u8),
}

impl Netns {
    /// A new namespace with `lo` up. `prefix`: at most 3 bytes, telling
    /// the test binaries apart in `ip netns list`.
    pub fn new(prefix: &str) -> Netns {
        assert!(prefix.len() <= 3, "{prefix}");
        let pid = std::process::id();
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}{}x{n}", pid % 10_000);
            assert!(name.len() <= 15, "{name}");
            let out = Command::new("ip").args(["netns", "add", &name]).output().expect("run ip netns add");
            if out.status.success() {
                // A /24 per namespace from pid and counter. Namespaces
                // already isolate addresses; distinct subnets keep captures
                // and logs unambiguous.
                let k = (pid % 1000) * 60 + n % 60; // < 60,000
                let subnet = (u8::try_from(1 + k / 250).unwrap_or(1), u8::try_from(1 + k % 250).unwrap_or(1));
                let ns = Netns { name, subnet };
                ns.ip(&["link", "set", "lo", "up"]);
                return ns;
            }
            assert!(text(&out.stderr).contains("exists"), "ip netns add {name}: {}", text(&out.stderr));
        }
        panic!("could not find a free namespace name");
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `(a, b)` of this namespace's 10.a.b.0/24.
    pub fn subnet(&self) -> (u8, u8) {
        self.subnet
    }

    /// Whether `ip netns list` shows a namespace called `name`.
    pub fn listed(name: &str) -> bool {
        let out = Command::new("ip").args(["netns", "list"]).output().expect("ip netns list");
        text(&out.stdout).lines().any(|l| l.split_whitespace().next() == Some(name))
    }

    /// `ip -n NS ARGS`; panics unless it succeeds.
    pub fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").arg("-n").arg(&self.name).args(args).output().expect("run ip");
        assert!(out.status.success(), "ip -n {} {}: {}", self.name, args.join(" "), describe(&out));
    }

    /// A command that runs `args` inside the namespace (`ip netns exec`
    /// execs it: a child's pid is the program's).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args).stdin(Stdio::null());
        c
    }

    /// Runs `args` inside the namespace; killed after `timeout`.
    pub fn run(&self, args: &[&str], timeout: Duration) -> Output {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let r1 = drain(child.stdout.take().expect("stdout"), Arc::clone(&stdout));
        let r2 = drain(child.stderr.take().expect("stderr"), Arc::clone(&stderr));
        let status = wait_timeout(&mut child, timeout);
        let _ = r1.join();
        let _ = r2.join();
        let mut stderr = std::mem::take(&mut *stderr.lock().unwrap_or_else(|e| e.into_inner()));
        let status = status.unwrap_or_else(|| {
            stderr.extend_from_slice(format!("\n[harness: killed after {timeout:?}]\n").as_bytes());
            child.wait().expect("wait")
        });
        let stdout = std::mem::take(&mut *stdout.lock().unwrap_or_else(|e| e.into_inner()));
        Output { status, stdout, stderr }
    }

    /// Runs `args` inside the namespace; panics unless it succeeds.
    /// Returns its stdout.
    pub fn run_ok(&self, args: &[&str], timeout: Duration) -> String {
        let out = self.run(args, timeout);
        assert!(out.status.success(), "{}: {}", args.join(" "), describe(&out));
        text(&out.stdout)
    }

    /// Starts `args` inside the namespace in the background, output
    /// discarded; the namespace's drop kills it.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"))
    }

    /// Writes `value` to a file under /proc/sys inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        self.run_ok(&["sh", "-c", &format!("echo {value} > {path}")], Duration::from_secs(5));
    }

    /// The kernel's TCP settings for reproducible runs
    /// (shared/notes/peers.md gotcha 8): CUBIC when the namespace may use
    /// it, no metrics carried between connections. Outside the initial
    /// namespace the kernel accepts only the algorithms of the global
    /// `tcp_allowed_congestion_control` as default; when CUBIC is not among
    /// them the kernel's default stays (said on stderr), and the host's
    /// global list is left alone.
    pub fn tcp_defaults(&self) {
        let path = "/proc/sys/net/ipv4/tcp_congestion_control";
        let out = self.run(&["sh", "-c", &format!("echo cubic > {path}")], Duration::from_secs(5));
        if !out.status.success() {
            let cc = self.run_ok(&["cat", path], Duration::from_secs(5));
            say(&format!(
                "note: cubic is not allowed in a namespace here (tcp_allowed_congestion_control); Linux keeps {}",
                cc.trim()
            ));
        }
        self.sysctl("net.ipv4.tcp_no_metrics_save", "1");
    }

    /// Waits until a TCP socket of the namespace listens on `port`.
    pub fn wait_tcp_listening(&self, port: u16, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            let out = self.run(&["ss", "-ltnH", &format!("sport = :{port}")], Duration::from_secs(5));
            if !text(&out.stdout).trim().is_empty() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Moves the calling thread (only it) into this namespace; see
    /// [`enter`].
    pub fn enter(&self) {
        enter(&self.name);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // shared/notes/peers.md gotcha 10: kill what runs inside first, or
        // the namespace lingers.
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.name]).output() {
            for pid in text(&out.stdout).split_whitespace().filter_map(|p| p.parse::<u32>().ok()) {
                if pid > 1 {
                    send_signal(pid, "KILL");
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

/// Moves the calling thread (only it: CLONE_NEWNET is per thread) into
/// namespace `name`. Run it in a thread of its own: a descriptor opened
/// there (a tap, a socket) keeps working from any thread afterwards.
pub fn enter(name: &str) {
    let ns = File::open(format!("/var/run/netns/{name}")).expect("open netns file");
    // SAFETY: setns takes a descriptor we own (open for the whole call)
    // and a flag; it changes only the calling thread's network namespace.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_is_made_and_deleted() {
        if !require_root("mnet-testnet's namespace test", &[]) {
            return;
        }
        let (name, mut child) = {
            let ns = Netns::new("tn");
            assert!(Netns::listed(ns.name()));
            let (a, b) = ns.subnet();
            ns.ip(&["addr", "add", &format!("10.{a}.{b}.1/24"), "dev", "lo"]);
            let out = ns.run_ok(&["ip", "-4", "-o", "addr", "show", "dev", "lo"], Duration::from_secs(5));
            assert!(out.contains(&format!("10.{a}.{b}.1/24")), "{out}");
            // Something running inside does not keep it alive.
            let child = ns.spawn(&["sleep", "60"]);
            // (Once `ip netns exec` has entered the namespace.)
            let pid = child.id().to_string();
            let end = Instant::now() + Duration::from_secs(10);
            while !text(
                &Command::new("ip")
                    .args(["netns", "pids", ns.name()])
                    .output()
                    .expect("ip netns pids")
                    .stdout,
            )
            .split_whitespace()
            .any(|p| p == pid)
            {
                assert!(Instant::now() < end, "sleep never entered {}", ns.name());
                std::thread::sleep(Duration::from_millis(10));
            }
            (ns.name().to_owned(), child)
        };
        assert!(!Netns::listed(&name), "{name} still listed");
        // ... and was killed with it.
        let status = child.wait().expect("wait");
        assert!(!status.success(), "{status}");
    }

    #[test]
    fn names_fit_an_interface_and_subnets_differ() {
        if !require_root("mnet-testnet's naming test", &[]) {
            return;
        }
        let a = Netns::new("tn");
        let b = Netns::new("tn");
        assert!(a.name().len() <= 15 && b.name().len() <= 15);
        assert_ne!(a.name(), b.name());
        assert_ne!(a.subnet(), b.subnet());
    }

    #[test]
    fn a_killed_command_says_so() {
        if !require_root("mnet-testnet's timeout test", &["sleep"]) {
            return;
        }
        let ns = Netns::new("tn");
        let t = Instant::now();
        let out = ns.run(&["sleep", "30"], Duration::from_millis(200));
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("killed after"), "{}", describe(&out));
    }
}
