//! Running a command on a TAP device: the stack, the executor, signals
//! (SIGINT/SIGTERM end the command, SIGUSR1 prints the counters) and the
//! counters printed on exit like `netstat -s`.

use std::cell::RefCell;
use std::fs::File;
use std::future::Future;
use std::io::{BufWriter, Read};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

use mnet::executor::{Driver, Executor, Platform, Spawner};
use mnet::link::Device;
use mnet::socket::Interface;
use mnet::{Config, Instant, Net, Stack};
use mnet_sim::PcapDevice;
use mnet_tap::{HostPlatform, Signals, TapDevice, TapOptions, random_mac};

use crate::args::{Cli, Ipv6Arg};

/// The stack's IPv6 configuration from `--ipv6`, `--ipv6-secret`,
/// `--no-slaac` and `--ipv6-gateway`.
fn ipv6_config(cli: &Cli) -> mnet::config::Ipv6Config {
    use mnet::config::{Ipv6Config, Ipv6Mode};
    let mode = match cli.ipv6 {
        Ipv6Arg::None => Ipv6Mode::Disabled,
        Ipv6Arg::Eui64 | Ipv6Arg::Static(_) => Ipv6Mode::Eui64,
        Ipv6Arg::Opaque => Ipv6Mode::Opaque {
            secret: cli.ipv6_secret.clone().map_or_else(|| random_seed().to_vec(), |h| h.0),
        },
    };
    Ipv6Config {
        mode,
        slaac: !cli.no_slaac,
        gateway: cli.ipv6_gateway,
        ..Ipv6Config::default()
    }
}

/// Before a client talks IPv6: wait (at most `DAD_WAIT`) until duplicate
/// address detection has finished, so that our addresses are usable.
pub async fn wait_for_ipv6(net: &Net, dst: std::net::IpAddr) {
    /// RFC 4862 §5.4: a random delay of up to 1 s, then one probe and 1 s
    /// of waiting; with margin.
    const DAD_WAIT: mnet::Duration = mnet::Duration::from_secs(4);
    if !dst.is_ipv6() {
        return;
    }
    let deadline = net.now() + DAD_WAIT;
    while net.with(|s| s.ipv6_status().dad_pending) && net.now() < deadline {
        net.sleep(mnet::Duration::from_millis(20)).await;
    }
}

/// `mnet addresses [--wait S]`.
pub fn addresses(cli: &Cli, wait: f64) -> u8 {
    run_on_tap(
        cli,
        |net| async move {
            let deadline = net.now() + mnet::Duration::from_secs_f64(wait);
            loop {
                let st = net.with(|s| s.ipv6_status());
                let done = !st.enabled || (!st.dad_pending && st.router_advert_seen);
                if done || net.now() >= deadline {
                    break;
                }
                net.sleep(mnet::Duration::from_millis(50)).await;
            }
            let lines = net.with(|s| {
                let mut out = Vec::new();
                for c in s.addresses().iter().filter(|c| c.address().is_ipv4()) {
                    out.push(format!("{c} preferred"));
                }
                for e in s.ipv6_addresses() {
                    out.push(format!("{}/{} {}", e.addr, e.prefix_len, e.state.name()));
                }
                if let Some(gw) = s.ipv6_gateway() {
                    out.push(format!("router {gw}"));
                }
                for r in s.ipv6_default_routers() {
                    out.push(format!("router {}", r.addr));
                }
                for d in s.ipv6_dns_servers() {
                    out.push(format!("dns {d}"));
                }
                out
            });
            for l in lines {
                println!("{l}");
            }
            0
        },
        || 130,
    )
}

/// Signals seen by the platform, and the task waiting for them.
#[derive(Default)]
struct SignalState {
    pending: Signals,
    waker: Option<Waker>,
}

/// The host platform, passing the signals it sees to [`SignalState`].
struct SignalPlatform {
    inner: HostPlatform,
    state: Rc<RefCell<SignalState>>,
}

impl Platform for SignalPlatform {
    fn now(&mut self) -> Instant {
        self.inner.now()
    }

    fn wait(&mut self, deadline: Option<Instant>) {
        self.inner.wait(deadline);
        let s = self.inner.take_seen_signals();
        if !s.is_empty() {
            let mut st = self.state.borrow_mut();
            st.pending.interrupt |= s.interrupt;
            st.pending.usr1 |= s.usr1;
            if let Some(w) = st.waker.take() {
                w.wake();
            }
        }
    }
}

/// Print every counter to stderr, like `netstat -s`.
pub fn print_stats(net: &Net) {
    eprint!("{}", net.stats());
    let (live, time_wait) = net.with(|s| (s.tcp_connection_count(), s.tcp_time_wait_count()));
    eprintln!("tcp: {live} connections, {time_wait} TIME-WAIT records");
}

/// 32 bytes from the kernel's random source. The engine derives its
/// secrets from them (RFC 6528 ISNs, SYN cookies, port choice, hash keys),
/// so without one mnet refuses to start (exit status 1) rather than run
/// with guessable secrets.
pub(crate) fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    if let Err(e) = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut seed)) {
        eprintln!("mnet: cannot read /dev/urandom ({e}): refusing to run with predictable TCP and SYN-cookie secrets");
        std::process::exit(1);
    }
    seed
}

/// Open the tap, build the stack and run `app` on it until it finishes or
/// a SIGINT/SIGTERM arrives (then `on_interrupt` gives the exit status).
/// Returns the exit status.
pub fn run_on_tap<F, Fut>(cli: &Cli, app: F, on_interrupt: impl FnOnce() -> u8) -> u8
where
    F: FnOnce(Net) -> Fut,
    Fut: Future<Output = u8>,
{
    run_on_tap_with_spawner(cli, move |net, _spawner| app(net), on_interrupt)
}

/// [`run_on_tap`] for apps that run tasks of their own (a server with a
/// task per connection): `app` also gets the executor's [`Spawner`].
pub fn run_on_tap_with_spawner<F, Fut>(cli: &Cli, app: F, on_interrupt: impl FnOnce() -> u8) -> u8
where
    F: FnOnce(Net, Spawner) -> Fut,
    Fut: Future<Output = u8>,
{
    let Some(tap_name) = cli.tap.as_deref() else {
        eprintln!("mnet: this command needs --tap NAME");
        return 2;
    };
    let options = TapOptions { offload: !cli.no_offload };
    let mut tap = match TapDevice::open_with(tap_name, options) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("mnet: cannot attach to tap '{tap_name}': {e}");
            return 1;
        }
    };
    if let Some(mtu) = cli.mtu {
        tap = tap.with_mtu(usize::from(mtu));
    }
    // The executor below drives again whenever a batch handed frames.
    tap.set_reply_first(true);
    let mut platform = match HostPlatform::new(tap.as_raw_fd()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mnet: cannot set up epoll/signals: {e}");
            return 1;
        }
    };
    platform.set_busy_poll(cli.busy_poll.map(std::time::Duration::from_micros));
    let state = Rc::new(RefCell::new(SignalState::default()));
    let mut platform = SignalPlatform {
        inner: platform,
        state: state.clone(),
    };
    let mac = cli.mac.unwrap_or_else(random_mac);
    let mut config = Config::new(mac, random_seed());
    config.mtu = cli.mtu.map(usize::from);
    if let Some(c) = cli.ipv4 {
        config.addresses.push(c);
    }
    config.ipv4_gateway = cli.ipv4_gateway;
    config.ipv6 = ipv6_config(cli);
    if let Ipv6Arg::Static(c) = cli.ipv6 {
        config.addresses.push(c);
    }
    let net = Net::new(Stack::new(config, platform.now()));
    log::info!(
        "attached to {tap_name} as {mac}, MTU {}, offloads {}",
        tap.mtu(),
        if tap.offloads() { "on" } else { "off" }
    );

    let device: Box<dyn Device> = match &cli.pcap {
        None => Box::new(tap),
        Some(path) => {
            let file = match File::create(path) {
                Ok(f) => BufWriter::new(f),
                Err(e) => {
                    eprintln!("mnet: cannot create {}: {e}", path.display());
                    return 1;
                }
            };
            // Not `net.now()`: the device is called with the engine locked.
            let started = std::time::Instant::now();
            let clock = move || mnet::Instant::from_micros(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
            match PcapDevice::new(tap, file, clock) {
                Ok(d) => Box::new(d),
                Err(e) => {
                    eprintln!("mnet: cannot write {}: {e}", path.display());
                    return 1;
                }
            }
        }
    };
    let mut iface = Interface::new(net.clone(), device);
    let mut executor = Executor::new();
    let spawner = executor.spawner();

    let app_net = net.clone();
    let stats_net = net.clone();
    let main = async move {
        let mut app = pin!(app(app_net, spawner));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(code) = app.as_mut().poll(cx) {
                return Poll::Ready(Some(code));
            }
            let mut st = state.borrow_mut();
            if std::mem::take(&mut st.pending.usr1) {
                print_stats(&stats_net);
            }
            if st.pending.interrupt {
                return Poll::Ready(None);
            }
            st.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    };
    let drivers: &mut [&mut dyn Driver] = &mut [&mut iface];
    let result = executor.block_on(&mut platform, drivers, main);
    // Let the last frames (a reply just queued) reach the device.
    let now = platform.now();
    iface.drive(now);
    let code = match result {
        Some(code) => code,
        None => on_interrupt(),
    };
    print_stats(&net);
    code
}

/// `mnet udp-echo --port P`.
pub fn udp_echo(cli: &Cli, port: u16) -> u8 {
    run_on_tap(
        cli,
        |net| async move {
            match mnet_apps::udp_echo::udp_echo(&net, port, None, |peer, len| log::debug!("echoed {len} bytes to {peer}")).await {
                Ok(_) => 0,
                Err(e) => {
                    eprintln!("mnet: udp-echo: {e}");
                    1
                }
            }
        },
        || 0,
    )
}
