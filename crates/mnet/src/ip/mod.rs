//! IPv4 and IPv6 support tables: routes, fragment reassembly, path MTU,
//! ICMP rate limiting, IPv6 addresses (SLAAC lifetimes, DAD states) and
//! what router advertisements taught (routers, prefixes, DNS).

pub mod ipv6_addr;
pub mod pmtu;
pub mod rate_limit;
pub mod reassembly;
pub mod route;
pub mod router_list;
