//! Stack configuration: addresses, routes and every named bound.
//!
//! Configuration is live: addresses and routes can be changed on a running
//! [`Stack`](crate::stack::Stack) as well.

use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::ip::reassembly::ReassemblyConfig;
use crate::ip::router_list::{MAX_DEFAULT_ROUTERS, MAX_DNS_SERVERS, MAX_ONLINK_PREFIXES, MAX_SEARCH_DOMAINS, MAX_SLAAC_ADDRESSES};
use crate::link::neighbor::NeighborConfig;
use crate::wire::{EthernetAddress, IpCidr};

/// RFC 1122 §3.2.1.7: "The current suggested value [for TTL] will be
/// published in the "Assigned Numbers" RFC" — 64 today (IANA), as Linux.
pub const DEFAULT_TTL: u8 = 64;

/// Bounds on every table and queue the engine keeps.
#[derive(Debug, Clone)]
pub struct Limits {
    /// ARP (and later NDP) neighbour cache and its pending-packet queues.
    pub neighbor: NeighborConfig,
    /// IPv4/IPv6 fragment reassembly.
    pub reassembly: ReassemblyConfig,
    /// Addresses on the interface (all families).
    pub max_addresses: usize,
    /// Sockets of each kind (UDP, ICMP echo).
    pub max_sockets: usize,
    /// Datagrams waiting in one UDP or ICMP socket until read.
    pub socket_recv_datagrams: usize,
    /// Bytes waiting in one UDP or ICMP socket until read.
    pub socket_recv_bytes: usize,
    /// Frames waiting for the device (back-pressure beyond that).
    pub tx_queue_frames: usize,
    /// Packets looped back to our own addresses, waiting for the next poll.
    pub loopback_packets: usize,
    /// Frame buffers kept for reuse (no allocation per packet after warm-up).
    pub buffer_pool: usize,
    /// Path-MTU cache entries.
    pub pmtu_entries: usize,
    /// Entries in the routing table.
    pub max_routes: usize,
    /// Live TCP connections (TIME_WAIT records not counted).
    pub tcp_connections: usize,
    /// TIME_WAIT records (compact; like Linux's tcp_max_tw_buckets).
    pub tcp_time_wait: usize,
    /// Connections in SYN-RECEIVED per listener at most (beyond: SYN cookies).
    pub tcp_syn_backlog: usize,
    /// Listening TCP sockets.
    pub tcp_listeners: usize,
    /// IPv6 default routers learned from router advertisements.
    pub ipv6_default_routers: usize,
    /// IPv6 on-link prefixes learned from router advertisements.
    pub ipv6_onlink_prefixes: usize,
    /// Addresses SLAAC may form from advertised prefixes (a share of
    /// `max_addresses`, so advertisements cannot take every slot from
    /// configured and DHCP addresses).
    pub ipv6_slaac_addresses: usize,
    /// DNS servers learned from RDNSS options.
    pub ipv6_dns_servers: usize,
    /// Search domains learned from DNSSL options.
    pub ipv6_search_domains: usize,
    /// Multicast groups an application may join (beyond the solicited-node
    /// groups of our addresses).
    pub ipv6_multicast_groups: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            neighbor: NeighborConfig::default(),
            reassembly: ReassemblyConfig::default(),
            max_addresses: 16,
            max_sockets: 1024,
            socket_recv_datagrams: 256,
            socket_recv_bytes: 256 * 1024,
            tx_queue_frames: 1024,
            loopback_packets: 256,
            buffer_pool: 512,
            pmtu_entries: 256,
            max_routes: 256,
            tcp_connections: 65536,
            tcp_time_wait: 65536,
            tcp_syn_backlog: 1024,
            tcp_listeners: 1024,
            ipv6_default_routers: MAX_DEFAULT_ROUTERS,
            ipv6_onlink_prefixes: MAX_ONLINK_PREFIXES,
            ipv6_slaac_addresses: MAX_SLAAC_ADDRESSES,
            ipv6_dns_servers: MAX_DNS_SERVERS,
            ipv6_search_domains: MAX_SEARCH_DOMAINS,
            ipv6_multicast_groups: 16,
        }
    }
}

/// Everything a [`Stack`](crate::stack::Stack) needs at construction.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our MAC address.
    pub mac: EthernetAddress,
    /// Static addresses, with their prefix (an on-link route each).
    pub addresses: Vec<IpCidr>,
    /// The IPv4 default gateway.
    pub ipv4_gateway: Option<Ipv4Addr>,
    /// Override the device's MTU (smaller only).
    pub mtu: Option<usize>,
    /// The seed of the stack's CSPRNG stream (ISNs, ports, IP IDs, hash keys).
    pub seed: [u8; 32],
    /// TTL of the datagrams we originate.
    pub ttl: u8,
    pub limits: Limits,
    /// TCP behaviour and per-connection bounds.
    pub tcp: crate::tcp::TcpConfig,
    /// IPv6: link-local address, SLAAC, router discovery.
    pub ipv6: Ipv6Config,
}

/// How the link-local interface identifier (and SLAAC addresses) are formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ipv6Mode {
    /// No IPv6 at all: frames are dropped, sends fail.
    Disabled,
    /// Modified EUI-64 from the MAC (RFC 4291 Appendix A).
    Eui64,
    /// Stable opaque identifiers (RFC 7217) keyed by this secret.
    Opaque { secret: Vec<u8> },
}

/// RFC 4862 §5.1: "DupAddrDetectTransmits ... Default: 1".
pub const DUP_ADDR_DETECT_TRANSMITS: u8 = 1;

/// IPv6 behaviour.
///
/// ```
/// use mnet::config::{Config, Ipv6Config, Ipv6Mode};
/// use mnet::ip::ipv6_addr::AddrState;
/// use mnet::{Instant, Stack};
/// let mac = mnet::wire::EthernetAddress([0x02, 0, 0, 0, 0, 1]);
/// let mut config = Config::new(mac, [7; 32]).address("fd00::2/64".parse().unwrap());
/// config.ipv6 = Ipv6Config { mode: Ipv6Mode::Eui64, ..Ipv6Config::default() };
/// let stack = Stack::new(config, Instant::ZERO);
/// // The link-local address and the static one start tentative (DAD).
/// let addrs: Vec<_> = stack.ipv6_addresses().map(|e| (e.addr.to_string(), e.state)).collect();
/// assert_eq!(addrs, [("fe80::ff:fe00:1".to_string(), AddrState::Tentative), ("fd00::2".to_string(), AddrState::Tentative)]);
/// ```
#[derive(Debug, Clone)]
pub struct Ipv6Config {
    pub mode: Ipv6Mode,
    /// Form addresses from advertised prefixes (RFC 4862 §5.5.3).
    pub slaac: bool,
    /// Send router solicitations and act on advertisements.
    pub router_discovery: bool,
    /// A static default router (in addition to advertised ones).
    pub gateway: Option<Ipv6Addr>,
    /// Neighbour solicitations per DAD run; 0 disables DAD (RFC 4862 §5.1).
    pub dup_addr_detect_transmits: u8,
    /// Sockets bound to `::` take IPv6 only. By default (false) a TCP
    /// listener or UDP socket on `::` also takes IPv4 when no IPv4 socket
    /// has the port, like Linux with `net.ipv6.bindv6only=0`; IPv4 peers
    /// then appear as IPv4 addresses (not IPv4-mapped IPv6 ones).
    pub v6only: bool,
}

impl Default for Ipv6Config {
    /// IPv6 off: a stack built with [`Config::new`] speaks IPv4 only until
    /// told otherwise.
    fn default() -> Self {
        Ipv6Config {
            mode: Ipv6Mode::Disabled,
            slaac: true,
            router_discovery: true,
            gateway: None,
            dup_addr_detect_transmits: DUP_ADDR_DETECT_TRANSMITS,
            v6only: false,
        }
    }
}

impl Config {
    /// A configuration with one MAC and no addresses yet.
    pub fn new(mac: EthernetAddress, seed: [u8; 32]) -> Config {
        Config {
            mac,
            addresses: Vec::new(),
            ipv4_gateway: None,
            mtu: None,
            seed,
            ttl: DEFAULT_TTL,
            limits: Limits::default(),
            tcp: crate::tcp::TcpConfig::default(),
            ipv6: Ipv6Config::default(),
        }
    }

    /// Add a static address with its prefix.
    pub fn address(mut self, cidr: IpCidr) -> Config {
        self.addresses.push(cidr);
        self
    }

    /// Set the IPv4 default gateway.
    pub fn gateway(mut self, gw: Ipv4Addr) -> Config {
        self.ipv4_gateway = Some(gw);
        self
    }
}
