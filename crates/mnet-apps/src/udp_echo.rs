//! `udp-echo`: send every datagram back to its sender (RFC 862 over UDP).

use core::net::{IpAddr, Ipv6Addr, SocketAddr};

use alloc::vec;
use mnet::{Net, Result};

/// The largest UDP payload over IPv4 (65535 − 20 − 8).
pub const MAX_DATAGRAM: usize = 65507;

/// Echo datagrams on `port` until `limit` datagrams were echoed (forever
/// when `None`). `on_echo(peer, len)` is called for each one.
pub async fn udp_echo(net: &Net, port: u16, limit: Option<u64>, mut on_echo: impl FnMut(SocketAddr, usize)) -> Result<u64> {
    let sock = net.udp_bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port))?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut echoed = 0u64;
    while limit.is_none_or(|l| echoed < l) {
        let (len, peer) = sock.recv_from(&mut buf).await?;
        let len = len.min(buf.len());
        match sock.send_to(&buf[..len], peer).await {
            Ok(()) => {
                echoed += 1;
                on_echo(peer, len);
            }
            // A peer we cannot answer (no route, resolution failed) must
            // not stop the service for everyone else.
            Err(e) => log::debug!("udp-echo: reply to {peer} failed: {e}"),
        }
    }
    Ok(echoed)
}
