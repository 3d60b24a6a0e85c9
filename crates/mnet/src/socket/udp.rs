//! UDP sockets: `send_to`, `recv_from`, `connect`, like the Unix API.

use core::future::poll_fn;
use core::net::SocketAddr;
use core::task::Poll;

use super::Net;
use crate::error::{Error, Result};
use crate::slab::Handle;

/// A bound UDP socket. Closed when dropped.
pub struct UdpSocket {
    net: Net,
    handle: Handle,
}

impl Net {
    /// Bind a UDP socket to `local` (port 0: an ephemeral port; an
    /// unspecified IP: every address).
    pub fn udp_bind(&self, local: SocketAddr) -> Result<UdpSocket> {
        let handle = self.with(|s| s.udp_bind(local))?;
        Ok(UdpSocket { net: self.clone(), handle })
    }
}

impl UdpSocket {
    /// The bound address (with the chosen port).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.net.with(|s| s.udp_local_addr(self.handle))
    }

    /// The connected peer.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        self.net.with(|s| s.udp_peer_addr(self.handle))
    }

    /// Only exchange datagrams with `remote` from now on; ICMP errors
    /// about them are reported (e.g. `ConnectionRefused`).
    pub fn connect(&self, remote: SocketAddr) -> Result<()> {
        self.net.with(|s| s.udp_connect(self.handle, remote))
    }

    /// Send one datagram to `dst`; waits while the transmit queue is full.
    pub async fn send_to(&self, data: &[u8], dst: SocketAddr) -> Result<()> {
        self.send_inner(data, Some(dst)).await
    }

    /// Send one datagram to the connected peer.
    pub async fn send(&self, data: &[u8]) -> Result<()> {
        self.send_inner(data, None).await
    }

    async fn send_inner(&self, data: &[u8], dst: Option<SocketAddr>) -> Result<()> {
        poll_fn(|cx| {
            self.net.with(|s| match s.udp_send_to(s.now(), self.handle, data, dst) {
                Err(Error::WouldBlock) => {
                    s.register_tx_space(cx.waker());
                    Poll::Pending
                }
                r => Poll::Ready(r),
            })
        })
        .await
    }

    /// Try to receive without waiting (`WouldBlock` when nothing is queued).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        self.net.with(|s| s.udp_recv_from(self.handle, buf))
    }

    /// Receive one datagram: its full length (the copy is truncated to
    /// `buf`) and its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        poll_fn(|cx| {
            self.net.with(|s| match s.udp_recv_from(self.handle, buf) {
                Err(Error::WouldBlock) => {
                    s.udp_register_recv(self.handle, cx.waker());
                    Poll::Pending
                }
                r => Poll::Ready(r),
            })
        })
        .await
    }

    /// Receive from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.net.with(|s| s.udp_close(self.handle));
    }
}
