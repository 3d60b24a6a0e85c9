//! The kernel command line: the `mnet` command's network flags, then the
//! application and its arguments.
//!
//! ```text
//! [--ipv4 CIDR] [--ipv4-gateway IP] [--ipv6 MODE] [--ipv6-secret HEX]
//! [--no-slaac] [--ipv6-gateway IP] [--mac MAC] [--no-offload] [-v|-vv] APP [ARGS]
//! MODE: none | eui64 (the default) | opaque | ADDR/PREFIX
//! APP: udp-echo --port P
//!      echo-server --port P [--limit N]
//!      echo-client HOST:PORT [--bytes N]
//!      fault [stack]        (a deliberate page fault or stack overflow, for tests)
//! ```
//! Words the loader adds (`virtio_mmio.device=...`) are skipped.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use mnet::wire::{EthernetAddress, IpCidr};

pub const USAGE: &str = "usage: [--ipv4 CIDR] [--ipv4-gateway IP] [--ipv6 none|eui64|opaque|ADDR/PREFIX] \
[--ipv6-secret HEX] [--no-slaac] [--ipv6-gateway IP] [--mac MAC] [--no-offload] [-v] \
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

/// The value of `--ipv6`, as for the `mnet` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ipv6Arg {
    /// No IPv6.
    None,
    /// A link-local address from the MAC (modified EUI-64), plus SLAAC.
    #[default]
    Eui64,
    /// RFC 7217 stable opaque identifiers (keyed by `--ipv6-secret`, or
    /// random per boot).
    Opaque,
    /// A static address in addition to the EUI-64 link-local one.
    Static(IpCidr),
}

fn parse_ipv6(v: &str) -> Result<Ipv6Arg, String> {
    match v {
        "none" => Ok(Ipv6Arg::None),
        "eui64" => Ok(Ipv6Arg::Eui64),
        "opaque" => Ok(Ipv6Arg::Opaque),
        _ => {
            let c: IpCidr = parse_value(v, "--ipv6")?;
            if !c.address().is_ipv6() {
                return Err(format!("--ipv6: '{c}' is not IPv6"));
            }
            Ok(Ipv6Arg::Static(c))
        }
    }
}

/// Everything the command line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub ipv4: Option<IpCidr>,
    pub ipv4_gateway: Option<Ipv4Addr>,
    pub ipv6: Ipv6Arg,
    pub ipv6_gateway: Option<Ipv6Addr>,
    /// `--ipv6-secret HEX`: the key of `--ipv6 opaque`.
    pub ipv6_secret: Option<Vec<u8>>,
    /// `--no-slaac`: form no addresses from advertised prefixes.
    pub no_slaac: bool,
    pub mac: Option<EthernetAddress>,
    /// `--no-offload`: negotiate no checksum or segmentation offload.
    pub no_offload: bool,
    pub verbose: u8,
    pub app: App,
}

/// Bytes written as hex digits, two per byte (at least one byte).
fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let digits = s.as_bytes();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| char::from(c).to_digit(16);
    digits
        .chunks_exact(2)
        .map(|pair| Some(((nibble(pair[0])? << 4) | nibble(pair[1])?) as u8))
        .collect()
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
    let (mut ipv6, mut ipv6_gateway, mut no_offload) = (Ipv6Arg::default(), None, false);
    let (mut ipv6_secret, mut no_slaac) = (None, false);
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
            "--ipv6" => ipv6 = parse_ipv6(value(&mut it, w)?)?,
            "--ipv6-gateway" => ipv6_gateway = Some(parse_value(value(&mut it, w)?, w)?),
            "--mac" => mac = Some(parse_value(value(&mut it, w)?, w)?),
            "--no-offload" => no_offload = true,
            "--ipv6-secret" => {
                let v = value(&mut it, w)?;
                ipv6_secret = Some(parse_hex(v).ok_or_else(|| format!("--ipv6-secret: '{v}' is not an even number of hex digits"))?);
            }
            "--no-slaac" => no_slaac = true,
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
        ipv6,
        ipv6_gateway,
        ipv6_secret,
        no_slaac,
        mac,
        no_offload,
        verbose,
        app,
    })
}

/// `virtio_mmio.device=<size>@<base>:<irq>` entries of the command line.
pub fn virtio_mmio_devices(cmdline: &str) -> Vec<(usize, usize, u32)> {
    let mut out = Vec::new();
    for tok in cmdline.split_ascii_whitespace() {
        let Some(spec) = tok.strip_prefix("virtio_mmio.device=") else {
            continue;
        };
        let parsed = (|| {
            let (size, rest) = spec.split_once('@')?;
            let (base, irq) = rest.split_once(':')?;
            let size = parse_size(size)?;
            let base = usize::from_str_radix(base.strip_prefix("0x")?, 16).ok()?;
            let irq = irq.parse().ok()?;
            Some((base, size, irq))
        })();
        if let Some(p) = parsed {
            out.push(p);
        }
    }
    out
}

fn parse_size(s: &str) -> Option<usize> {
    let (digits, mult) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1024),
        _ => (s, 1),
    };
    digits.parse::<usize>().ok().map(|n| n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Cmd {
        parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn network_flags_and_apps() {
        let c = cmd("--ipv4 10.0.0.2/24 --ipv4-gateway 10.0.0.1 --mac 02:00:00:00:00:02 -v echo-server --port 7 --limit 3");
        assert_eq!(c.ipv4, Some("10.0.0.2/24".parse().unwrap()));
        assert_eq!(c.ipv4_gateway, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(c.mac, Some(EthernetAddress([2, 0, 0, 0, 0, 2])));
        assert_eq!(c.verbose, 1);
        assert_eq!(c.app, App::EchoServer { port: 7, limit: Some(3) });
        assert_eq!((c.ipv6, c.ipv6_gateway, c.no_offload), (Ipv6Arg::Eui64, None, false));
        let c = cmd("--ipv6 fd00::2/64 --ipv6-gateway fd00::1 --no-offload udp-echo --port 7");
        assert_eq!(c.ipv6, Ipv6Arg::Static("fd00::2/64".parse().unwrap()));
        assert_eq!(c.ipv6_gateway, Some("fd00::1".parse().unwrap()));
        assert!(c.no_offload);
        assert_eq!((c.ipv6_secret.clone(), c.no_slaac), (None, false));
        let c = cmd("--ipv6 opaque --ipv6-secret 00ff7A --no-slaac udp-echo --port 7");
        assert_eq!(
            (c.ipv6, c.ipv6_secret, c.no_slaac),
            (Ipv6Arg::Opaque, Some(alloc::vec![0, 255, 0x7a]), true)
        );
        assert_eq!(cmd("--ipv6 none udp-echo --port 7").ipv6, Ipv6Arg::None);
        assert_eq!(cmd("--ipv6 opaque udp-echo --port 7").ipv6, Ipv6Arg::Opaque);
        assert_eq!(cmd("--ipv6 eui64 udp-echo --port 7").ipv6, Ipv6Arg::Eui64);
        assert_eq!(cmd("udp-echo --port 9").app, App::UdpEcho { port: 9 });
        assert_eq!(
            cmd("-vv echo-client 10.0.0.1:7 --bytes 64K").app,
            App::EchoClient {
                server: "10.0.0.1:7".parse().unwrap(),
                bytes: 65_536
            }
        );
        assert_eq!(
            cmd("echo-client 10.0.0.1:7").app,
            App::EchoClient {
                server: "10.0.0.1:7".parse().unwrap(),
                bytes: 1 << 20
            }
        );
        assert_eq!(cmd("fault").app, App::Fault { stack: false });
        assert_eq!(cmd("fault stack").app, App::Fault { stack: true });
    }

    #[test]
    fn loader_words_are_skipped() {
        let c = cmd("--ipv4 10.0.0.2/24 udp-echo --port 7 virtio_mmio.device=512@0xfeb00e00:12");
        assert_eq!(c.app, App::UdpEcho { port: 7 });
        assert_eq!(
            virtio_mmio_devices("x virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.device=1K@0xfeb00c00:11 y"),
            alloc::vec![(0xfeb0_0e00, 512, 12), (0xfeb0_0c00, 1024, 11)]
        );
        assert!(virtio_mmio_devices("virtio_mmio.device=512@feb00e00:12 virtio_mmio.device=x@0x1:2").is_empty());
    }

    #[test]
    fn bad_command_lines_are_errors() {
        for (line, needle) in [
            ("", "no application"),
            ("--ipv4 10.0.0.2/24", "no application"),
            ("echo-server", "needs --port"),
            ("udp-echo --port 70000", "not valid"),
            ("--ipv4 fd00::2/64 udp-echo --port 7", "not IPv4"),
            ("--ipv4 10.0.0.2 udp-echo --port 7", "not valid"),
            ("--mac zz udp-echo --port 7", "not valid"),
            ("--ipv6 10.0.0.2/24 udp-echo --port 7", "not IPv6"),
            ("--ipv6 slaac udp-echo --port 7", "not valid"),
            ("--ipv6-gateway 10.0.0.1 udp-echo --port 7", "not valid"),
            ("--ipv6-secret 0g udp-echo --port 7", "hex"),
            ("--ipv6-secret abc udp-echo --port 7", "hex"),
            ("--ipv6-secret é1 udp-echo --port 7", "hex"),
            ("echo-client", "needs HOST:PORT"),
            ("echo-client 10.0.0.1:7 --bytes 1T", "not a byte count"),
            ("echo-client 10.0.0.1:7 --bytes 99999999999999999999G", "not a byte count"),
            ("echo-server --port 7 --frob", "unexpected"),
            ("ping 10.0.0.1", "unknown application"),
            ("fault heap", "unknown kind"),
            ("--ipv4", "needs a value"),
        ] {
            match parse(line) {
                Ok(c) => panic!("{line:?} parsed as {c:?}"),
                Err(e) => assert!(e.contains(needle), "{line:?}: {e}"),
            }
        }
    }
}
