//! Test support for the tokio runner's tests.
//!
//! - [`Netns`]: a network namespace of the test's own (`mnet_testnet`)
//!   with a fresh tap (Linux side 10.a.b.1/24, IPv6 off), deleted on drop,
//!   also when the test panics; [`Netns::open_tap`] attaches to the tap
//!   from a thread that entered the namespace (the descriptor then works
//!   from any thread). Root only: `mnet_testnet::require_root` says "skipped: ..."
//!   otherwise, and fails when `CI=true`.
//! - [`pair`]: a device over a Unix datagram socket pair, so the runner's
//!   loop runs on a real descriptor without root.
#![allow(dead_code)]

pub mod pair;

use std::ops::Deref;

use mnet_tap::TapDevice;

/// The Linux side's MAC (the tap interface itself).
pub const LINUX_MAC: &str = "02:00:00:00:00:01";

/// A namespace holding a tap named like it, whose Linux side is
/// 10.a.b.1/24. Derefs to the namespace (`run`, `run_ok`, `ip`, ...).
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
    /// A fresh namespace with the tap up (IPv6 off on it: no link-up
    /// noise on the wire).
    pub fn with_tap() -> Netns {
        let ns = Netns {
            ns: mnet_testnet::Netns::new("mt"),
        };
        let tap = ns.tap().to_owned();
        ns.ip(&["tuntap", "add", "dev", &tap, "mode", "tap"]);
        ns.ip(&["link", "set", &tap, "address", LINUX_MAC, "mtu", "1500"]);
        ns.ip(&["addr", "add", &format!("{}/24", ns.linux_ip()), "dev", &tap]);
        ns.sysctl(&format!("net.ipv6.conf.{tap}.disable_ipv6"), "1");
        ns.ip(&["link", "set", &tap, "up"]);
        ns
    }

    /// The tap's name (the namespace's).
    pub fn tap(&self) -> &str {
        self.ns.name()
    }

    pub fn linux_ip(&self) -> String {
        let (a, b) = self.subnet();
        format!("10.{a}.{b}.1")
    }

    pub fn mnet_ip(&self) -> String {
        let (a, b) = self.subnet();
        format!("10.{a}.{b}.2")
    }

    /// Attaches to the tap from a thread that entered the namespace.
    pub fn open_tap(&self) -> TapDevice {
        let name = self.tap().to_owned();
        std::thread::spawn(move || {
            mnet_testnet::enter(&name);
            TapDevice::open(&name).expect("open the tap")
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}
