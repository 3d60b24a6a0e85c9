//! Command-line flags (names fixed by the issues and used by the tests).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mnet::wire::{EthernetAddress, IpCidr};

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
    /// Our MAC address (default: random, locally administered).
    #[arg(long, global = true, value_name = "MAC", value_parser = parse_mac)]
    pub mac: Option<EthernetAddress>,
    /// Override the interface MTU (smaller only).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(68..))]
    pub mtu: Option<u16>,
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
    /// Two stacks on an in-memory network: ping and UDP echo under loss,
    /// every result checked (no privileges needed).
    Demo,
    /// Echo every UDP datagram to its sender until interrupted.
    UdpEcho {
        #[arg(long, value_name = "P")]
        port: u16,
    },
    /// Send ICMP echo requests, like ping(8).
    Ping(PingArgs),
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
