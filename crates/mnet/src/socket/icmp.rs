//! ICMP echo sockets, for `ping`.

use core::future::poll_fn;
use core::net::IpAddr;
use core::task::Poll;

use super::Net;
use crate::error::{Error, Result};
use crate::slab::Handle;
use crate::stack::EchoEvent;

/// An ICMP echo socket with its own identifier. Closed when dropped.
pub struct EchoSocket {
    net: Net,
    handle: Handle,
}

impl Net {
    /// Open an echo socket (`ident: None` picks a random free identifier).
    pub fn echo_socket(&self, ident: Option<u16>) -> Result<EchoSocket> {
        let handle = self.with(|s| s.echo_open(ident))?;
        Ok(EchoSocket { net: self.clone(), handle })
    }
}

impl EchoSocket {
    /// The echo identifier this socket matches replies by.
    pub fn ident(&self) -> Result<u16> {
        self.net.with(|s| s.echo_ident(self.handle))
    }

    /// Send an echo request with `data`.
    pub async fn send(&self, dst: IpAddr, seq_no: u16, data: &[u8]) -> Result<()> {
        poll_fn(|cx| {
            self.net.with(|s| match s.echo_send(s.now(), self.handle, dst, seq_no, data) {
                Err(Error::WouldBlock) => {
                    s.register_tx_space(cx.waker());
                    Poll::Pending
                }
                r => Poll::Ready(r),
            })
        })
        .await
    }

    /// The next reply (data copied into `buf`) or error.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<EchoEvent> {
        poll_fn(|cx| {
            self.net.with(|s| match s.echo_recv(self.handle, buf) {
                Err(Error::WouldBlock) => {
                    s.echo_register_recv(self.handle, cx.waker());
                    Poll::Pending
                }
                r => Poll::Ready(r),
            })
        })
        .await
    }
}

impl Drop for EchoSocket {
    fn drop(&mut self) {
        self.net.with(|s| s.echo_close(self.handle));
    }
}
