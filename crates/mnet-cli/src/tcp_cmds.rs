//! The TCP commands: `echo-server`, `echo-client`, `sink`, `source`.
//!
//! Output (tests parse it; one fact a line, on stdout):
//!
//! ```text
//! echo-server: listening on 0.0.0.0:7
//! sink: connection 1 from 10.0.0.1:40000: received 1048576 bytes in 0.010 s (838.9 Mbit/s) sha256 <hex>
//! source: connection 1 to 10.0.0.1:40002: sent 1048576 bytes in 0.010 s (838.9 Mbit/s) sha256 <hex>
//! echo-server: connection 1 from 10.0.0.1:40004: echoed 1048576 bytes in 0.020 s
//! sink: done: 1 connections, 0 failed
//! (`sink --discard`: the connection line ends at the rate, no sha256)
//! echo-client: connected to 10.0.0.1:7 from 10.0.0.2:49152 in 0.412 ms
//! echo-client: sent 1048576 bytes, received 1048576 bytes in 0.020 s (419.4 Mbit/s each way)
//! echo-client: sha256 sent <hex> received <hex>
//! echo-client: echo matches
//! ```
//!
//! `sink` and `source` follow each connection line with the engine's view
//! of it, like `ss -ti` (`... connection 1 tcp: cubic sack ts wscale:7,7
//! mss:1448 srtt:... retransmits:... timeouts:...`); `echo-server` logs it
//! with `-v`. A failed connection prints `... error: <what> after N bytes
//! in, M out`.
//! Exit status: 0 when every connection ended cleanly (echo-client: when
//! the echo matched), 1 otherwise, 2 for bad arguments.

use std::fmt::Write as _;

use mnet::tcp::TcpInfo;
use mnet::{Duration, Net};
use mnet_apps::echo_client::{EchoClientConfig, EchoClientError, EchoReport, echo_client};
use mnet_apps::sink::SinkMode;
use mnet_apps::source::RandomStream;
use mnet_apps::tcp_server::{ServeSummary, ServerConfig, ServerEvent, Transfer};

use crate::args::{Cli, EchoClientArgs, ServerArgs, SinkArgs, SourceArgs};
use crate::host::{random_seed, run_on_tap, run_on_tap_with_spawner};

/// After a command's work is done, how long it waits at most for its
/// connections to finish their closing handshakes (our FIN acknowledged)
/// before the process exits.
pub const CLOSE_LINGER: Duration = Duration::from_secs(5);
/// How often the linger checks the connection count.
const LINGER_POLL: Duration = Duration::from_millis(5);

/// `abcd...` of a digest.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Megabits per second (10^6 bits).
pub fn mbit_per_s(bytes: u64, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if secs <= 0.0 { 0.0 } else { bytes as f64 * 8.0 / secs / 1e6 }
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// Wait (at most [`CLOSE_LINGER`]) until the engine holds no connection
/// but TIME_WAIT records: every FIN we sent was acknowledged.
async fn linger(net: &Net) {
    let end = net.now() + CLOSE_LINGER;
    while net.with(|s| s.tcp_connection_count()) > 0 && net.now() < end {
        net.sleep(LINGER_POLL).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Echo,
    Sink(SinkMode),
    Source,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Echo => "echo-server",
            Server::Sink(_) => "sink",
            Server::Source => "source",
        }
    }
}

/// The line for one finished connection.
fn finished_line(kind: Server, id: u64, peer: std::net::SocketAddr, elapsed: Duration, t: &Transfer) -> String {
    let name = kind.name();
    if let Some(e) = t.error {
        return format!(
            "{name}: connection {id} with {peer}: error: {e} after {} bytes in, {} out, {} s",
            t.bytes_in,
            t.bytes_out,
            secs(elapsed)
        );
    }
    let digest = |d: Option<[u8; 32]>| d.map(|d| format!(" sha256 {}", hex(&d))).unwrap_or_default();
    match kind {
        Server::Echo => format!(
            "{name}: connection {id} from {peer}: echoed {} bytes in {} s",
            t.bytes_out,
            secs(elapsed)
        ),
        Server::Sink(_) => format!(
            "{name}: connection {id} from {peer}: received {} bytes in {} s ({:.1} Mbit/s){}",
            t.bytes_in,
            secs(elapsed),
            mbit_per_s(t.bytes_in, elapsed),
            digest(t.sha256_in)
        ),
        Server::Source => format!(
            "{name}: connection {id} to {peer}: sent {} bytes in {} s ({:.1} Mbit/s){}",
            t.bytes_out,
            secs(elapsed),
            mbit_per_s(t.bytes_out, elapsed),
            digest(t.sha256_out)
        ),
    }
}

/// The engine's view of a finished connection, one line (like `ss -ti`).
pub fn info_line(i: &TcpInfo) -> String {
    let ms = |d: Option<Duration>| d.map_or_else(|| "-".to_owned(), |d| format!("{:.3}", d.as_secs_f64() * 1000.0));
    let mut opts = Vec::new();
    if i.sack {
        opts.push("sack".to_owned());
    }
    if i.timestamps {
        opts.push("ts".to_owned());
    }
    if i.ecn {
        opts.push("ecn".to_owned());
    }
    opts.push(format!("wscale:{},{}", i.snd_wscale, i.rcv_wscale));
    format!(
        "{} {} mss:{} srtt:{} ms rto:{} ms cwnd:{} ssthresh:{} segs_out:{} segs_in:{} retransmits:{} fast_retransmits:{} timeouts:{} tail_loss_probes:{} dsacks:{} spurious_undone:{}",
        i.congestion,
        opts.join(" "),
        i.snd_mss,
        ms(i.srtt),
        ms(Some(i.rto)),
        i.cwnd,
        i.ssthresh,
        i.segs_out,
        i.segs_in,
        i.retransmits,
        i.fast_retransmits,
        i.timeouts,
        i.tail_loss_probes,
        i.dsacks_received,
        i.spurious_undone
    )
}

fn server_events(kind: Server) -> impl FnMut(&ServerEvent) + 'static {
    move |ev| match ev {
        ServerEvent::Listening(addr) => println!("{}: listening on {addr}", kind.name()),
        ServerEvent::Accepted { id, peer } => log::debug!("{}: connection {id} from {peer}", kind.name()),
        ServerEvent::Finished {
            id,
            peer,
            elapsed,
            transfer,
        } => {
            println!("{}", finished_line(kind, *id, *peer, *elapsed, transfer));
            if let Some(info) = &transfer.info {
                if kind == Server::Echo && transfer.error.is_none() {
                    log::info!("{}: connection {id} tcp: {}", kind.name(), info_line(info));
                } else {
                    println!("{}: connection {id} tcp: {}", kind.name(), info_line(info));
                }
            }
        }
        ServerEvent::StoppedAccepting { accepted } => {
            log::info!("{}: accepted {accepted} connections, no longer accepting", kind.name())
        }
    }
}

/// `bytes` and `digest`: what a source writes to each connection, and
/// whether it hashes it.
fn run_server(cli: &Cli, kind: Server, args: &ServerArgs, bytes: u64, digest: bool) -> u8 {
    let cfg = ServerConfig::new(args.port).limit(args.limit);
    let seed = random_seed();
    run_on_tap_with_spawner(
        cli,
        move |net, spawner| async move {
            let events = server_events(kind);
            let r: mnet::Result<ServeSummary> = match kind {
                Server::Echo => mnet_apps::tcp_echo::echo_server(&net, &spawner, cfg, events).await,
                Server::Sink(mode) => mnet_apps::sink::sink(&net, &spawner, cfg, mode, events).await,
                Server::Source => mnet_apps::source::source(&net, &spawner, cfg, bytes, RandomStream::new(seed), digest, events).await,
            };
            linger(&net).await;
            match r {
                Ok(s) => {
                    println!("{}: done: {} connections, {} failed", kind.name(), s.accepted, s.failed);
                    u8::from(s.failed > 0)
                }
                Err(e) => {
                    eprintln!("mnet: {}: {e}", kind.name());
                    1
                }
            }
        },
        || 0,
    )
}

/// `mnet echo-server --port P [--limit N]`.
pub fn echo_server(cli: &Cli, args: &ServerArgs) -> u8 {
    run_server(cli, Server::Echo, args, 0, false)
}

/// `mnet sink --port P [--limit N] [--discard]`.
pub fn sink(cli: &Cli, args: &SinkArgs) -> u8 {
    let mode = if args.discard { SinkMode::Discard } else { SinkMode::Sha256 };
    run_server(cli, Server::Sink(mode), &args.server, 0, false)
}

/// `mnet source --port P --bytes BYTES [--limit N]`.
pub fn source(cli: &Cli, args: &SourceArgs) -> u8 {
    run_server(cli, Server::Source, &args.server, args.bytes, !args.no_digest)
}

fn print_echo_report(r: &EchoReport) {
    println!(
        "echo-client: sent {} bytes, received {} bytes in {} s ({:.1} Mbit/s each way)",
        r.sent,
        r.received,
        secs(r.elapsed),
        mbit_per_s(r.received, r.elapsed)
    );
    println!(
        "echo-client: sha256 sent {} received {}",
        hex(&r.sha256_sent),
        hex(&r.sha256_received)
    );
}

/// `mnet echo-client HOST:PORT [--bytes N]`.
pub fn echo_client_cmd(cli: &Cli, args: &EchoClientArgs) -> u8 {
    let server = args.server;
    let cfg = EchoClientConfig::new(server, args.bytes, RandomStream::new(random_seed()));
    run_on_tap(
        cli,
        move |net| async move {
            crate::host::wait_for_ipv6(&net, server.ip()).await;
            let r = echo_client(&net, &cfg).await;
            linger(&net).await;
            match r {
                Ok(rep) => {
                    println!(
                        "echo-client: connected to {server} from {} in {:.3} ms",
                        rep.local.map_or_else(|| "?".to_owned(), |a| a.to_string()),
                        rep.connect_time.as_secs_f64() * 1000.0
                    );
                    print_echo_report(&rep);
                    if !rep.eof {
                        println!("echo-client: the server did not end its stream after the echo");
                    }
                    if rep.matched() {
                        println!("echo-client: echo matches");
                        0
                    } else {
                        match rep.first_mismatch {
                            Some(off) => println!("echo-client: echo DIFFERS, first at byte {off}"),
                            None => println!("echo-client: echo DIFFERS ({} of {} bytes came back)", rep.received, rep.sent),
                        }
                        1
                    }
                }
                Err(EchoClientError::Connect { error, after }) => {
                    eprintln!(
                        "mnet: echo-client: connect to {server}: {error} (after {:.3} ms)",
                        after.as_secs_f64() * 1000.0
                    );
                    1
                }
                Err(EchoClientError::Transfer { error, report }) => {
                    print_echo_report(&report);
                    eprintln!(
                        "mnet: echo-client: {error} after sending {} and receiving {} bytes",
                        report.sent, report.received
                    );
                    1
                }
            }
        },
        || 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(mbit_per_s(1_000_000, Duration::from_secs(8)), 1.0);
        assert_eq!(mbit_per_s(5, Duration::ZERO), 0.0);
        let t = Transfer {
            bytes_in: 10,
            sha256_in: Some([1; 32]),
            ..Transfer::default()
        };
        let peer = "10.0.0.1:4000".parse().unwrap();
        let line = finished_line(Server::Sink(SinkMode::Sha256), 3, peer, Duration::from_millis(1500), &t);
        assert_eq!(
            line,
            format!(
                "sink: connection 3 from 10.0.0.1:4000: received 10 bytes in 1.500 s (0.0 Mbit/s) sha256 {}",
                "01".repeat(32)
            )
        );
        let discarded = Transfer {
            bytes_in: 10,
            ..Transfer::default()
        };
        let line = finished_line(Server::Sink(SinkMode::Discard), 3, peer, Duration::from_millis(1500), &discarded);
        assert_eq!(
            line,
            "sink: connection 3 from 10.0.0.1:4000: received 10 bytes in 1.500 s (0.0 Mbit/s)"
        );
        let failed = Transfer {
            error: Some(mnet::Error::ConnectionReset),
            bytes_out: 7,
            ..Transfer::default()
        };
        let line = finished_line(Server::Source, 1, peer, Duration::ZERO, &failed);
        assert!(line.contains("error: connection reset by peer after 0 bytes in, 7 out"), "{line}");
    }
}
