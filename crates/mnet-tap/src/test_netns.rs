//! Test support: a network namespace of the test's own, removed on drop
//! (also when the test panics), and entering it from one thread.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// True when running as root with `tools` on PATH. Otherwise prints
/// "skipped: ... needs root and tools (missing: ...)" and returns false, or panics when `CI=true`
/// (CI must never skip silently).
pub fn require_root(what: &str, tools: &[&str]) -> bool {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root".to_owned());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        missing.push("/dev/net/tun".to_owned());
    }
    for tool in tools {
        if !on_path(tool) {
            missing.push(format!("tool `{tool}`"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = format!("{what} needs root and tools (missing: {})", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true and {why}");
    }
    say_skipped(&why);
    false
}

fn is_root() -> bool {
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

/// A namespace named `<prefix><pid % 10000><n>` (≤ 15 bytes, so the name
/// doubles as a unique interface name), deleted on drop.
pub struct TestNetns {
    name: String,
    subnet: (u8, u8),
}

impl TestNetns {
    pub fn new(prefix: &str) -> TestNetns {
        assert!(prefix.len() <= 4);
        let pid = std::process::id();
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}{}x{n}", pid % 10_000);
            assert!(name.len() <= 15, "{name}");
            let ok = Command::new("ip")
                .args(["netns", "add", &name])
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success());
            if ok.unwrap_or(false) {
                let k = (pid % 200) * 50 + n % 50;
                let subnet = (u8::try_from(20 + k / 250).unwrap_or(20), u8::try_from(k % 250 + 1).unwrap_or(1));
                let ns = TestNetns { name, subnet };
                ns.ip(&["link", "set", "lo", "up"]);
                return ns;
            }
        }
        panic!("could not create a network namespace");
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `(a, b)` of a 10.a.b.0/24 for this test.
    pub fn subnet(&self) -> (u8, u8) {
        self.subnet
    }

    /// `ip -n NS ARGS`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        let out = Command::new("ip").arg("-n").arg(&self.name).args(args).output().expect("run ip");
        assert!(
            out.status.success(),
            "ip -n {} {args:?}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `ip netns exec NS ARGS`, which must succeed.
    pub fn exec(&self, args: &[&str]) {
        let out = self.command(args).output().expect("run ip netns exec");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `ip netns exec NS ARGS` in the background.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn in netns")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        // peers.md gotcha 10: kill what runs inside before deleting.
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.name]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<libc::pid_t>()
                    && pid > 1
                {
                    // SAFETY: kill takes no pointers; `pid` is a process
                    // that runs inside the namespace this test created.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Moves the calling thread (only it) into namespace `name`.
pub fn enter(name: &str) {
    let ns = File::open(format!("/var/run/netns/{name}")).expect("open netns file");
    // SAFETY: setns takes a descriptor we own and a flag; it changes only the
    // calling thread's network namespace (CLONE_NEWNET is per thread).
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

/// Prints "skipped: WHY" on the real stderr: the test harness captures
/// `println!`/`eprintln!` of passing tests, but not direct writes.
fn say_skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}
