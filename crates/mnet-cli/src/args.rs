//! Command-line flags (names fixed by the issues and used by the tests).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mnet::wire::{EthernetAddress, IpCidr};

/// How long `--busy-poll` without a value spins before sleeping, in
/// microseconds (long enough for a peer's answer on the same host).
pub const BUSY_POLL_DEFAULT_USEC: &str = "50";

#[derive(Parser, Debug)]
#[command(name = "mnet", version, about = "mnet: a TCP/IP stack in Rust, as a command")]
pub struct Cli {
    /// The TAP interface to attach to (it must exist).
    #[arg(long, global = true, value_name = "NAME")]
    pub tap: Option<String>,
    /// Our IPv4 address and prefix, e.g. 10.0.0.2/24.
    #[arg(long, global = true, value_name = "CIDR", value_parser = parse_ipv4_cidr)]
    pub ipv4: Option<IpCidr>,
    /// The IPv4 default gateway.
    #[arg(long = "ipv4-gateway", global = true, value_name = "IP")]
    pub ipv4_gateway: Option<Ipv4Addr>,
    /// IPv6: none, eui64 (link-local from the MAC, plus SLAAC), opaque
    /// (RFC 7217 stable IDs), or ADDR/PREFIX (a static address in addition
    /// to the link-local one).
    #[arg(long, global = true, value_name = "MODE", default_value = "eui64", value_parser = parse_ipv6_mode)]
    pub ipv6: Ipv6Arg,
    /// The secret for `--ipv6 opaque` (hex; random per run when absent).
    #[arg(long = "ipv6-secret", global = true, value_name = "HEX", value_parser = parse_hex)]
    pub ipv6_secret: Option<HexBytes>,
    /// Do not form addresses from advertised prefixes.
    #[arg(long = "no-slaac", global = true)]
    pub no_slaac: bool,
    /// A static IPv6 default router.
    #[arg(long = "ipv6-gateway", global = true, value_name = "IP")]
    pub ipv6_gateway: Option<Ipv6Addr>,
    /// Our MAC address (default: random, locally administered).
    #[arg(long, global = true, value_name = "MAC", value_parser = parse_mac)]
    pub mac: Option<EthernetAddress>,
    /// Override the interface MTU (smaller only).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(68..))]
    pub mtu: Option<u16>,
    /// Open the tap without the virtio-net header: no checksum or
    /// segmentation offload, one MTU-sized frame per system call.
    #[arg(long = "no-offload", global = true)]
    pub no_offload: bool,
    /// Busy polling: before sleeping, spin for up to USEC microseconds
    /// (`--busy-poll`: 50) asking the tap for frames; lower latency, more CPU.
    #[arg(
        long = "busy-poll",
        global = true,
        value_name = "USEC",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = BUSY_POLL_DEFAULT_USEC
    )]
    pub busy_poll: Option<u64>,
    /// Write every frame in and out to this pcap file.
    #[arg(long, global = true, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Two stacks on an in-memory network: ping, UDP echo and a 1 MiB TCP
    /// echo under loss, every result checked (no privileges needed).
    Demo,
    /// Echo every UDP datagram to its sender until interrupted.
    UdpEcho {
        #[arg(long, value_name = "P")]
        port: u16,
    },
    /// Send ICMP echo requests, like ping(8).
    Ping(PingArgs),
    /// TCP echo server (TCP_NODELAY), any number of connections at once.
    EchoServer(ServerArgs),
    /// Send random bytes to a TCP echo server while reading the echo back;
    /// verify it by SHA-256 and print the throughput (exit 0 only on a match).
    EchoClient(EchoClientArgs),
    /// Accept TCP connections, read each to its end and discard the bytes;
    /// print bytes, rate and SHA-256 per connection (`--discard`: no hash).
    Sink(SinkArgs),
    /// Accept TCP connections, write BYTES random bytes to each, close;
    /// print bytes, rate and SHA-256 per connection.
    Source(SourceArgs),
    /// Wait for autoconfiguration (DAD, a router advertisement), then print
    /// every address as `ADDR/PREFIX STATE`, `router ADDR` and `dns ADDR`.
    Addresses {
        /// Seconds to wait at most (returns early once DAD is done and a
        /// router advertisement was processed).
        #[arg(long, value_name = "SECONDS", default_value_t = 3.0, value_parser = parse_seconds)]
        wait: f64,
    },
    /// A server for the stock `iperf3 -c` client (TCP and UDP: -u, -R, -P, -t, -n, -b, -J).
    Iperf3Server(Iperf3Args),
}

/// The value of `--ipv6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Arg {
    None,
    Eui64,
    Opaque,
    Static(IpCidr),
}

fn parse_ipv6_mode(s: &str) -> Result<Ipv6Arg, String> {
    match s {
        "none" => Ok(Ipv6Arg::None),
        "eui64" => Ok(Ipv6Arg::Eui64),
        "opaque" => Ok(Ipv6Arg::Opaque),
        _ => {
            let c: IpCidr = s
                .parse()
                .map_err(|_| format!("'{s}' is not none, eui64, opaque or an IPv6 address with a prefix like fd00::2/64"))?;
            if !c.address().is_ipv6() {
                return Err(format!("'{s}' is not an IPv6 address"));
            }
            Ok(Ipv6Arg::Static(c))
        }
    }
}

/// Bytes given in hex on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

fn parse_hex(s: &str) -> Result<HexBytes, String> {
    let bad = || format!("'{s}' is not a hex string like 00112233445566778899aabbccddeeff");
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or_else(bad))
        .collect::<Result<Vec<u8>, String>>()
        .map(HexBytes)
}

#[derive(Args, Debug, Clone, Copy)]
pub struct Iperf3Args {
    /// The TCP port to listen on.
    #[arg(long, value_name = "P", default_value_t = mnet_apps::iperf3::DEFAULT_PORT)]
    pub port: u16,
    /// Serve one test, then exit (0 when it succeeded).
    #[arg(long)]
    pub once: bool,
}

/// `--port P [--limit N]`: the flags every TCP server shares.
#[derive(Args, Debug, Clone, Copy)]
pub struct ServerArgs {
    /// The TCP port to listen on.
    #[arg(long, value_name = "P")]
    pub port: u16,
    /// Accept N connections, then stop accepting and exit once all N are
    /// closed and their data acknowledged (default: run until interrupted).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
}

#[derive(Args, Debug, Clone, Copy)]
pub struct EchoClientArgs {
    /// The echo server, e.g. 10.0.0.1:7.
    #[arg(value_name = "HOST:PORT")]
    pub server: SocketAddr,
    /// Bytes to send (suffixes K, M, G: binary multiples).
    #[arg(long, value_name = "N", default_value = "1048576", value_parser = parse_bytes)]
    pub bytes: u64,
}

#[derive(Args, Debug, Clone, Copy)]
pub struct SinkArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Only count the bytes, do not hash them (a benchmark's receiver).
    #[arg(long)]
    pub discard: bool,
}

#[derive(Args, Debug, Clone, Copy)]
pub struct SourceArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Bytes to write to each connection (suffixes K, M, G: binary multiples).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub bytes: u64,
    /// Do not compute the SHA-256 of what is sent (it costs more CPU than
    /// sending: for measuring the stack alone).
    #[arg(long = "no-digest")]
    pub no_digest: bool,
}

#[derive(Args, Debug)]
pub struct PingArgs {
    /// The host to ping.
    pub host: IpAddr,
    /// Stop after COUNT requests.
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u32>,
    /// Data bytes per request.
    #[arg(short = 's', value_name = "SIZE", default_value_t = 56, value_parser = clap::value_parser!(u16).range(..=65507))]
    pub size: u16,
    /// Seconds between requests.
    #[arg(short = 'i', value_name = "SECONDS", default_value_t = 1.0, value_parser = parse_seconds)]
    pub interval: f64,
    /// Seconds to wait for replies after the last request.
    #[arg(short = 'W', value_name = "SECONDS", default_value_t = 2.0, value_parser = parse_seconds)]
    pub wait: f64,
}

fn parse_ipv4_cidr(s: &str) -> Result<IpCidr, String> {
    let c: IpCidr = s
        .parse()
        .map_err(|_| format!("'{s}' is not an IPv4 address with a prefix, like 10.0.0.2/24"))?;
    if !c.address().is_ipv4() {
        return Err(format!("'{s}' is not an IPv4 address"));
    }
    Ok(c)
}

fn parse_mac(s: &str) -> Result<EthernetAddress, String> {
    let mac: EthernetAddress = s
        .parse()
        .map_err(|_| format!("'{s}' is not a MAC address like 02:00:00:00:00:01"))?;
    if mac.is_multicast() {
        return Err(format!("'{s}' is a multicast MAC address"));
    }
    Ok(mac)
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds between 0 and 3600")),
    }
}

/// A byte count: digits, optionally followed by K, M or G (KiB, MiB, GiB).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a byte count like 1048576, 64K, 100M or 1G");
    let t = s.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&t[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(mult).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        assert_eq!(parse_bytes("1048576"), Ok(1_048_576));
        assert_eq!(parse_bytes("64K"), Ok(65_536));
        assert_eq!(parse_bytes("100M"), Ok(104_857_600));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("M").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("1T").is_err());
        assert!(parse_bytes("99999999999999999999G").is_err());
        assert!(parse_bytes("20000000000G").is_err());
    }

    #[test]
    fn busy_poll_is_off_unless_asked_and_defaults_to_50_us() {
        let off = Cli::try_parse_from(["mnet", "echo-server", "--port", "7"]).unwrap();
        assert_eq!(off.busy_poll, None);
        let bare = Cli::try_parse_from(["mnet", "--busy-poll", "echo-server", "--port", "7"]).unwrap();
        assert_eq!(bare.busy_poll, Some(50));
        assert!(matches!(bare.command, Command::EchoServer(_)));
        let given = Cli::try_parse_from(["mnet", "--busy-poll=200", "echo-server", "--port", "7"]).unwrap();
        assert_eq!(given.busy_poll, Some(200));
        let after = Cli::try_parse_from(["mnet", "echo-server", "--port", "7", "--busy-poll=10"]).unwrap();
        assert_eq!(after.busy_poll, Some(10));
        assert!(Cli::try_parse_from(["mnet", "--busy-poll=x", "echo-server", "--port", "7"]).is_err());
    }

    #[test]
    fn tcp_subcommands_parse() {
        let cli = Cli::try_parse_from(["mnet", "echo-server", "--port", "7", "--limit", "1000"]).unwrap();
        match cli.command {
            Command::EchoServer(a) => assert_eq!((a.port, a.limit), (7, Some(1000))),
            c => panic!("{c:?}"),
        }
        let cli = Cli::try_parse_from(["mnet", "echo-client", "10.0.0.1:7"]).unwrap();
        match cli.command {
            Command::EchoClient(a) => {
                assert_eq!(a.server, "10.0.0.1:7".parse::<SocketAddr>().unwrap());
                assert_eq!(a.bytes, 1 << 20);
            }
            c => panic!("{c:?}"),
        }
        let cli = Cli::try_parse_from(["mnet", "source", "--port", "5001", "--bytes", "100M"]).unwrap();
        match cli.command {
            Command::Source(a) => assert_eq!((a.server.port, a.server.limit, a.bytes), (5001, None, 100 << 20)),
            c => panic!("{c:?}"),
        }
        assert!(Cli::try_parse_from(["mnet", "source", "--port", "5001"]).is_err());
        let cli = Cli::try_parse_from(["mnet", "--ipv6", "fd00::2/64", "echo-client", "[fd00::1]:7"]).unwrap();
        assert_eq!(cli.ipv6, Ipv6Arg::Static("fd00::2/64".parse().unwrap()));
        match cli.command {
            Command::EchoClient(a) => assert_eq!(a.server, "[fd00::1]:7".parse::<SocketAddr>().unwrap()),
            c => panic!("{c:?}"),
        }
        let cli = Cli::try_parse_from(["mnet", "--ipv6", "opaque", "--ipv6-secret", "00ff", "addresses", "--wait", "10"]).unwrap();
        assert_eq!((cli.ipv6, cli.ipv6_secret), (Ipv6Arg::Opaque, Some(HexBytes(vec![0, 255]))));
        assert!(matches!(cli.command, Command::Addresses { wait } if wait == 10.0));
        assert_eq!(Cli::try_parse_from(["mnet", "addresses"]).unwrap().ipv6, Ipv6Arg::Eui64);
        assert!(Cli::try_parse_from(["mnet", "--ipv6", "10.0.0.1/24", "addresses"]).is_err());
        assert!(Cli::try_parse_from(["mnet", "--ipv6-secret", "0g", "addresses"]).is_err());
        match Cli::try_parse_from(["mnet", "iperf3-server"]).unwrap().command {
            Command::Iperf3Server(a) => assert_eq!((a.port, a.once), (5201, false)),
            c => panic!("{c:?}"),
        }
        match Cli::try_parse_from(["mnet", "iperf3-server", "--port", "5300", "--once"])
            .unwrap()
            .command
        {
            Command::Iperf3Server(a) => assert_eq!((a.port, a.once), (5300, true)),
            c => panic!("{c:?}"),
        }
        assert!(Cli::try_parse_from(["mnet", "sink", "--port", "1", "--limit", "0"]).is_err());
    }
}
