//! IPv4 and IPv6 support tables: routes, fragment reassembly, path MTU,
//! ICMP rate limiting.

pub mod pmtu;
pub mod rate_limit;
pub mod reassembly;
pub mod route;
