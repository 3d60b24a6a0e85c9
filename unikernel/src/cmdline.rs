//! The kernel command line: the `mnet` command's network flags, then the
//! application and its arguments.
//!
//! ```text
//! [--ipv4 CIDR] [--ipv4-gateway IP] [--mac MAC] [-v|-vv] APP [ARGS]
//! APP: udp-echo --port P
//!      echo-server --port P [--limit N]
//!      echo-client HOST:PORT [--bytes N]
//!      fault [stack]        (a deliberate page fault or stack overflow, for tests)
//! ```
//! Words the loader adds (`virtio_mmio.device=...`) are skipped.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr};

use mnet::wire::{EthernetAddress, IpCidr};

pub const USAGE: &str = "usage: [--ipv4 CIDR] [--ipv4-gateway IP] [--mac MAC] [-v] \
(udp-echo --port P | echo-server --port P [--limit N] | echo-client HOST:PORT [--bytes N] | fault [stack])";

/// The application to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    UdpEcho {
        port: u16,
    },
    EchoServer {
        port: u16,
        limit: Option<u64>,
    },
    EchoClient {
        server: SocketAddr,
        bytes: u64,
    },
    /// A deliberate fault, for tests: a page fault, or (`fault stack`) a
    /// stack overflow into the guard page.
    Fault {
        stack: bool,
    },
}

/// Everything the command line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub ipv4: Option<IpCidr>,
    pub ipv4_gateway: Option<Ipv4Addr>,
    pub mac: Option<EthernetAddress>,
    pub verbose: u8,
    pub app: App,
}

/// A byte count: digits, optionally followed by K, M or G (binary multiples).
fn parse_bytes(s: &str) -> Option<u64> {
    let (digits, mult) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1u64 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

fn value<'a>(words: &mut impl Iterator<Item = &'a str>, flag: &str) -> Result<&'a str, String> {
    words.next().ok_or_else(|| format!("{flag} needs a value"))
}

fn parse_value<T: core::str::FromStr>(v: &str, flag: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{flag}: '{v}' is not valid"))
}

/// Parse the command line.
pub fn parse(cmdline: &str) -> Result<Cmd, String> {
    let words: Vec<&str> = cmdline
        .split_ascii_whitespace()
        .filter(|w| !w.starts_with("virtio_mmio.") && !w.starts_with("console="))
        .collect();
    let mut it = words.into_iter();
    let (mut ipv4, mut ipv4_gateway, mut mac, mut verbose) = (None, None, None, 0u8);
    let app_name = loop {
        let Some(w) = it.next() else {
            return Err(String::from("no application given"));
        };
        match w {
            "--ipv4" => {
                let c: IpCidr = parse_value(value(&mut it, w)?, w)?;
                if !c.address().is_ipv4() {
                    return Err(format!("--ipv4: '{c}' is not IPv4"));
                }
                ipv4 = Some(c);
            }
            "--ipv4-gateway" => ipv4_gateway = Some(parse_value(value(&mut it, w)?, w)?),
            "--mac" => mac = Some(parse_value(value(&mut it, w)?, w)?),
            "-v" | "--verbose" => verbose = verbose.saturating_add(1),
            "-vv" => verbose = verbose.saturating_add(2),
            app => break app,
        }
    };
    let mut port = None;
    let mut limit = None;
    let mut bytes = 1u64 << 20;
    let mut positional = None;
    while let Some(w) = it.next() {
        match w {
            "--port" => port = Some(parse_value::<u16>(value(&mut it, w)?, w)?),
            "--limit" => limit = Some(parse_value::<u64>(value(&mut it, w)?, w)?).filter(|&n| n > 0),
            "--bytes" => {
                let v = value(&mut it, w)?;
                bytes = parse_bytes(v).ok_or_else(|| format!("--bytes: '{v}' is not a byte count"))?;
            }
            w if !w.starts_with('-') && positional.is_none() => positional = Some(w),
            w => return Err(format!("{app_name}: unexpected '{w}'")),
        }
    }
    let need_port = || port.ok_or_else(|| format!("{app_name} needs --port P"));
    let app = match app_name {
        "udp-echo" => App::UdpEcho { port: need_port()? },
        "echo-server" => App::EchoServer { port: need_port()?, limit },
        "echo-client" => {
            let s = positional.ok_or_else(|| String::from("echo-client needs HOST:PORT"))?;
            App::EchoClient {
                server: parse_value(s, "echo-client")?,
                bytes,
            }
        }
        "fault" => match positional {
            None => App::Fault { stack: false },
            Some("stack") => App::Fault { stack: true },
            Some(other) => return Err(format!("fault: unknown kind '{other}' (stack)")),
        },
        other => return Err(format!("unknown application '{other}'")),
    };
    Ok(Cmd {
        ipv4,
        ipv4_gateway,
        mac,
        verbose,
        app,
    })
}
