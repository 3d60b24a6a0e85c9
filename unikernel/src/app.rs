//! The stack on the NIC, mnet's executor, and the applications of
//! `mnet-apps` (the same code the `mnet` command runs). Output lines match
//! the `mnet` command's, so tests parse both alike.

use alloc::rc::Rc;
use alloc::string::String;
use core::cell::RefCell;
use core::fmt::Write as _;

use mnet::executor::{Driver, Executor, Platform, Spawner};
use mnet::link::{Device, DeviceCapabilities, FrameMeta, TxError};
use mnet::socket::Interface;
use mnet::wire::EthernetAddress;
use mnet::{Config, Duration, Instant, Net, Stack};
use mnet_apps::echo_client::{EchoClientConfig, EchoClientError, EchoReport, echo_client};
use mnet_apps::source::RandomStream;
use mnet_apps::tcp_server::{ServerConfig, ServerEvent};

use crate::virtio_net::VirtioNet;
use crate::{clock, interrupts, println, virtio};
use mnet_unikernel::cmdline::{App, Cmd, Ipv6Arg};

/// The longest `hlt` when the NIC's interrupt is routed (a timer then
/// wakes the executor even with no deadline).
pub const IDLE_MAX: Duration = Duration::from_secs(1);
/// The longest `hlt` when the NIC has no interrupt (PCI): polling period.
pub const POLL_INTERVAL: Duration = Duration::from_micros(500);
/// How long a finished application waits for its connections' closing
/// handshakes before the VM exits.
pub const CLOSE_LINGER: Duration = Duration::from_secs(5);

/// The NIC, shared by the interface (frames) and the platform (to check
/// for frames before halting).
struct SharedNic(Rc<RefCell<VirtioNet>>);

impl Device for SharedNic {
    fn capabilities(&self) -> DeviceCapabilities {
        self.0.borrow().capabilities()
    }
    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        self.0.borrow_mut().receive_batch(sink)
    }
    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        self.0.borrow_mut().transmit(meta, frame)
    }
    fn flush(&mut self) {
        self.0.borrow_mut().flush()
    }
}

/// The executor's platform: the TSC clock and `hlt`.
struct UkPlatform {
    nic: Rc<RefCell<VirtioNet>>,
    nic_irq: bool,
}

impl Platform for UkPlatform {
    fn now(&mut self) -> Instant {
        clock::now()
    }

    fn wait(&mut self, deadline: Option<Instant>) {
        if self.nic.borrow().rx_pending() {
            return;
        }
        let max = if self.nic_irq { IDLE_MAX } else { POLL_INTERVAL };
        interrupts::halt_until(clock::now(), deadline, max);
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn mbit_per_s(bytes: u64, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if secs <= 0.0 { 0.0 } else { bytes as f64 * 8.0 / secs / 1e6 }
}

/// How long a client waits for duplicate address detection before it
/// talks IPv6. RFC 4862 §5.4: a random delay of up to
/// MAX_RTR_SOLICITATION_DELAY (1 s), then one probe and RetransTimer (1 s)
/// of waiting; with margin.
pub const DAD_WAIT: Duration = Duration::from_secs(4);

/// Before a client talks IPv6: wait (at most [`DAD_WAIT`]) until duplicate
/// address detection has finished, so that our addresses are usable.
async fn wait_for_ipv6(net: &Net, dst: core::net::IpAddr) {
    if !dst.is_ipv6() {
        return;
    }
    let deadline = net.now() + DAD_WAIT;
    while net.with(|s| s.ipv6_status().dad_pending) && net.now() < deadline {
        net.sleep(Duration::from_millis(20)).await;
    }
}

/// Wait (at most [`CLOSE_LINGER`]) until no connection but TIME_WAIT is left.
async fn linger(net: &Net) {
    let end = net.now() + CLOSE_LINGER;
    while net.with(|s| s.tcp_connection_count()) > 0 && net.now() < end {
        net.sleep(Duration::from_millis(5)).await;
    }
}

fn server_event(ev: &ServerEvent) {
    match ev {
        ServerEvent::Listening(addr) => println!("echo-server: listening on {addr}"),
        ServerEvent::Accepted { id, peer } => log::info!("echo-server: connection {id} from {peer}"),
        ServerEvent::Finished {
            id,
            peer,
            elapsed,
            transfer,
        } => match transfer.error {
            None => println!(
                "echo-server: connection {id} from {peer}: echoed {} bytes in {:.3} s",
                transfer.bytes_out,
                elapsed.as_secs_f64()
            ),
            Some(e) => println!(
                "echo-server: connection {id} with {peer}: error: {e} after {} bytes in, {} out, {:.3} s",
                transfer.bytes_in,
                transfer.bytes_out,
                elapsed.as_secs_f64()
            ),
        },
        ServerEvent::StoppedAccepting { accepted } => log::info!("echo-server: accepted {accepted} connections, no longer accepting"),
    }
}

fn print_echo_report(r: &EchoReport) {
    println!(
        "echo-client: sent {} bytes, received {} bytes in {:.3} s ({:.1} Mbit/s each way)",
        r.sent,
        r.received,
        r.elapsed.as_secs_f64(),
        mbit_per_s(r.received, r.elapsed)
    );
    println!(
        "echo-client: sha256 sent {} received {}",
        hex(&r.sha256_sent),
        hex(&r.sha256_received)
    );
}

async fn run_app(app: App, net: Net, spawner: Spawner) -> u8 {
    match app {
        App::UdpEcho { port } => {
            println!("udp-echo: listening on 0.0.0.0:{port}");
            match mnet_apps::udp_echo::udp_echo(&net, port, None, |peer, len| log::info!("udp-echo: echoed {len} bytes to {peer}")).await {
                Ok(_) => 0,
                Err(e) => {
                    println!("udp-echo: {e}");
                    1
                }
            }
        }
        App::EchoServer { port, limit } => {
            let cfg = ServerConfig::new(port).limit(limit);
            let r = mnet_apps::tcp_echo::echo_server(&net, &spawner, cfg, server_event).await;
            linger(&net).await;
            match r {
                Ok(s) => {
                    println!("echo-server: done: {} connections, {} failed", s.accepted, s.failed);
                    u8::from(s.failed > 0)
                }
                Err(e) => {
                    println!("echo-server: {e}");
                    1
                }
            }
        }
        App::EchoClient { server, bytes } => {
            wait_for_ipv6(&net, server.ip()).await;
            let cfg = EchoClientConfig::new(server, bytes, RandomStream::new(clock::seed()));
            let r = echo_client(&net, &cfg).await;
            linger(&net).await;
            match r {
                Ok(rep) => {
                    match rep.local {
                        Some(l) => println!(
                            "echo-client: connected to {server} from {l} in {:.3} ms",
                            rep.connect_time.as_secs_f64() * 1000.0
                        ),
                        None => println!("echo-client: connected to {server}"),
                    }
                    print_echo_report(&rep);
                    if rep.matched() {
                        println!("echo-client: echo matches");
                        0
                    } else {
                        println!("echo-client: echo DIFFERS ({} of {} bytes came back)", rep.received, rep.sent);
                        1
                    }
                }
                Err(EchoClientError::Connect { error, after }) => {
                    println!(
                        "echo-client: connect to {server}: {error} (after {:.3} ms)",
                        after.as_secs_f64() * 1000.0
                    );
                    1
                }
                Err(EchoClientError::Transfer { error, report }) => {
                    print_echo_report(&report);
                    println!(
                        "echo-client: {error} after sending {} and receiving {} bytes",
                        report.sent, report.received
                    );
                    1
                }
            }
        }
        App::Fault { stack: true } => {
            println!("fault: recursing until the stack overflows");
            println!("fault: depth {}?!", recurse(0));
            1
        }
        App::Fault { stack: false } => {
            println!("fault: reading unmapped memory at 0x8000000000");
            // SAFETY: deliberately not safe: the address is outside the
            // identity map, so the read raises a page fault, which is the point.
            let v = unsafe { (0x80_0000_0000usize as *const u64).read_volatile() };
            println!("fault: read {v:#x}?!");
            1
        }
    }
}

/// Recurse without end (each frame keeps a page of stack alive).
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let mut page = [0u8; 4096];
    page[(depth % 4096) as usize] = depth as u8;
    core::hint::black_box(&mut page);
    recurse(depth + 1) + u64::from(page[0])
}

/// The stack's IPv6 configuration from `--ipv6`, `--ipv6-secret`,
/// `--no-slaac` and `--ipv6-gateway`,
/// with the meanings the `mnet` command gives them.
fn ipv6_config(cmd: &Cmd) -> mnet::config::Ipv6Config {
    use mnet::config::{Ipv6Config, Ipv6Mode};
    let mode = match cmd.ipv6 {
        Ipv6Arg::None => Ipv6Mode::Disabled,
        Ipv6Arg::Eui64 | Ipv6Arg::Static(_) => Ipv6Mode::Eui64,
        Ipv6Arg::Opaque => Ipv6Mode::Opaque {
            secret: cmd.ipv6_secret.clone().unwrap_or_else(|| clock::seed().to_vec()),
        },
    };
    Ipv6Config {
        mode,
        slaac: !cmd.no_slaac,
        gateway: cmd.ipv6_gateway,
        ..Ipv6Config::default()
    }
}

/// Bring up the NIC and the stack, run the application, return its status.
pub fn run(cmd: &Cmd, cmdline: &str) -> u8 {
    let Some(found) = virtio::find(cmdline) else {
        println!("mnet-unikernel: no virtio-net device");
        return 1;
    };
    let virtio::Found { transport, irq, what } = found;
    log::debug!("found the NIC");
    let nic = match VirtioNet::new(transport, !cmd.no_offload) {
        Ok(n) => n,
        Err(e) => {
            println!("mnet-unikernel: virtio-net: {e}");
            return 1;
        }
    };
    log::debug!("NIC initialised");
    let nic_irq = interrupts::route_nic_irq(irq);
    let mac = cmd.mac.unwrap_or(EthernetAddress(nic.mac()));
    let mut config = Config::new(mac, clock::seed());
    if let Some(c) = cmd.ipv4 {
        config.addresses.push(c);
    }
    config.ipv4_gateway = cmd.ipv4_gateway;
    config.ipv6 = ipv6_config(cmd);
    if let Ipv6Arg::Static(c) = cmd.ipv6 {
        config.addresses.push(c);
    }
    let net = Net::new(Stack::new(config, clock::now()));
    log::debug!("stack created");
    log::info!(
        "{what} NIC {mac}, features {:#x}, offloads {}, interrupt {}",
        nic.features(),
        mnet_unikernel::net_features::summary(nic.features()),
        if nic_irq {
            alloc::format!("{irq:?}")
        } else {
            String::from("none (polling)")
        }
    );
    let nic = Rc::new(RefCell::new(nic));
    let mut iface = Interface::new(net.clone(), SharedNic(nic.clone()));
    let mut platform = UkPlatform { nic, nic_irq };
    let mut executor = Executor::new();
    let spawner = executor.spawner();
    let main = run_app(cmd.app, net.clone(), spawner);
    let drivers: &mut [&mut dyn Driver] = &mut [&mut iface];
    let code = executor.block_on(&mut platform, drivers, main);
    // Let the last frames (a reply just queued) reach the device.
    iface.drive(clock::now());
    code
}
