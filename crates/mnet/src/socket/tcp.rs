//! TCP sockets: `listen`, `accept`, `connect`, `read`, `write`,
//! `shutdown`, `close`, `abort`, like the Unix API.
//!
//! A [`TcpStream`] implements `embedded_io_async::{Read, Write}` and, with
//! the `tokio` feature, `tokio::io::{AsyncRead, AsyncWrite}`.

use core::future::poll_fn;
use core::net::SocketAddr;
use core::task::{Context, Poll};

use super::Net;
use crate::error::{Error, Result};
use crate::slab::Handle;
use crate::time::Duration;

/// Which halves of a connection [`TcpStream::shutdown`] closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// No more reading: data that arrives later is discarded.
    Read,
    /// No more writing: a FIN follows the pending data.
    Write,
    Both,
}

/// A listening socket. Dropping it closes it (pending connections are reset).
pub struct TcpListener {
    net: Net,
    handle: Handle,
}

/// A TCP connection. Dropping it closes it gracefully (the engine finishes
/// sending what was written).
pub struct TcpStream {
    net: Net,
    handle: Option<Handle>,
    read_shut: bool,
}

impl Net {
    /// Listen on `local` (unspecified IP: every address; port 0: ephemeral)
    /// with an accept queue of `backlog` connections.
    pub fn tcp_listen(&self, local: SocketAddr, backlog: usize) -> Result<TcpListener> {
        let handle = self.with(|s| s.tcp_listen(local, backlog))?;
        Ok(TcpListener { net: self.clone(), handle })
    }

    /// Open a connection to `remote`; resolves once it is established.
    pub async fn tcp_connect(&self, remote: SocketAddr) -> Result<TcpStream> {
        let handle = self.with(|s| s.tcp_connect(s.now(), remote))?;
        let stream = TcpStream {
            net: self.clone(),
            handle: Some(handle),
            read_shut: false,
        };
        poll_fn(|cx| {
            self.with(|s| match s.tcp_is_connected(handle) {
                Ok(true) => Poll::Ready(Ok(())),
                Ok(false) => {
                    s.tcp_register_send(handle, cx.waker());
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(e)),
            })
        })
        .await?;
        Ok(stream)
    }

    /// [`Net::tcp_connect`] that gives up with `TimedOut` after `timeout`.
    pub async fn tcp_connect_timeout(&self, remote: SocketAddr, timeout: Duration) -> Result<TcpStream> {
        super::timeout(self, timeout, self.tcp_connect(remote)).await?
    }
}

/// The listener's accept queue when [`TcpListener::bind`] is used: like
/// Linux's default `somaxconn`.
pub const DEFAULT_BACKLOG: usize = 4096;

impl TcpListener {
    /// Listen on `local` like `bind(2)` + `listen(2)` (unspecified IP:
    /// every address; port 0: an ephemeral port) with a backlog of
    /// [`DEFAULT_BACKLOG`]; the same as [`Net::tcp_listen`].
    pub fn bind(net: &Net, local: SocketAddr) -> Result<TcpListener> {
        net.tcp_listen(local, DEFAULT_BACKLOG)
    }

    /// The next established connection and its peer.
    pub async fn accept(&self) -> Result<(TcpStream, SocketAddr)> {
        let (h, peer) = poll_fn(|cx| {
            self.net.with(|s| match s.tcp_accept(self.handle) {
                Err(Error::WouldBlock) => {
                    s.tcp_register_accept(self.handle, cx.waker());
                    Poll::Pending
                }
                r => Poll::Ready(r),
            })
        })
        .await?;
        Ok((
            TcpStream {
                net: self.net.clone(),
                handle: Some(h),
                read_shut: false,
            },
            peer,
        ))
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.net.with(|s| s.tcp_listener_addr(self.handle))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.net.with(|s| s.tcp_close_listener(s.now(), self.handle));
    }
}

impl TcpStream {
    /// Open a connection to `remote` like `connect(2)`; the same as
    /// [`Net::tcp_connect`].
    pub async fn connect(net: &Net, remote: SocketAddr) -> Result<TcpStream> {
        net.tcp_connect(remote).await
    }

    /// [`TcpStream::connect`] that gives up with `TimedOut` after `timeout`.
    pub async fn connect_timeout(net: &Net, remote: SocketAddr, timeout: Duration) -> Result<TcpStream> {
        net.tcp_connect_timeout(remote, timeout).await
    }

    fn h(&self) -> Result<Handle> {
        self.handle.ok_or(Error::SocketClosed)
    }

    /// Poll-style read, for adapters.
    pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        if self.read_shut {
            return Poll::Ready(Ok(0));
        }
        let h = match self.h() {
            Ok(h) => h,
            Err(e) => return Poll::Ready(Err(e)),
        };
        self.net.with(|s| match s.tcp_recv(s.now(), h, buf) {
            Err(Error::WouldBlock) => {
                s.tcp_register_recv(h, cx.waker());
                Poll::Pending
            }
            r => Poll::Ready(r),
        })
    }

    /// Poll-style [`TcpStream::read_with`].
    pub fn poll_read_with(&mut self, cx: &mut Context<'_>, f: &mut dyn FnMut(&[u8]) -> usize) -> Poll<Result<usize>> {
        if self.read_shut {
            return Poll::Ready(Ok(0));
        }
        let h = match self.h() {
            Ok(h) => h,
            Err(e) => return Poll::Ready(Err(e)),
        };
        self.net.with(|s| match s.tcp_recv_with(s.now(), h, f) {
            Err(Error::WouldBlock) => {
                s.tcp_register_recv(h, cx.waker());
                Poll::Pending
            }
            r => Poll::Ready(r),
        })
    }

    /// Poll-style [`TcpStream::writable`].
    pub fn poll_writable(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize>> {
        let h = match self.h() {
            Ok(h) => h,
            Err(e) => return Poll::Ready(Err(e)),
        };
        self.net.with(|s| match s.tcp_send_space(h) {
            Ok(0) => {
                s.tcp_register_send(h, cx.waker());
                Poll::Pending
            }
            r => Poll::Ready(r),
        })
    }

    /// Poll-style write, for adapters.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        let h = match self.h() {
            Ok(h) => h,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.net.with(|s| match s.tcp_send(s.now(), h, buf) {
            Err(Error::WouldBlock) | Ok(0) => {
                s.tcp_register_send(h, cx.waker());
                Poll::Pending
            }
            r => Poll::Ready(r),
        })
    }

    /// Poll until everything written is acknowledged.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let h = match self.h() {
            Ok(h) => h,
            Err(e) => return Poll::Ready(Err(e)),
        };
        self.net.with(|s| match s.tcp_unacked(h) {
            Ok(0) => Poll::Ready(Ok(())),
            Ok(_) => {
                s.tcp_register_send(h, cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        })
    }

    /// Read into `buf`; `Ok(0)` at the end of the stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Read without a copy: waits for data, then lends it to `f` where it
    /// lies in the receive buffer (one or two slices, in order: the second
    /// only if `f` took all of the first); `f` returns how many bytes it
    /// consumed, and the rest stays for the next read. Returns the total;
    /// `Ok(0)` at the end of the stream (`f` is never called with an
    /// empty slice; if it consumes nothing the result is `Ok(0)` too).
    ///
    /// ```no_run
    /// # async fn f(mut stream: mnet::socket::TcpStream) -> mnet::Result<()> {
    /// let mut total = 0u64;
    /// while stream.read_with(|data| { total += data.len() as u64; data.len() }).await? > 0 {}
    /// # Ok(()) }
    /// ```
    pub async fn read_with(&mut self, mut f: impl FnMut(&[u8]) -> usize) -> Result<usize> {
        poll_fn(|cx| self.poll_read_with(cx, &mut f)).await
    }

    /// Waits until the send buffer has room; returns how many bytes a
    /// [`TcpStream::try_write`] takes now.
    pub async fn writable(&mut self) -> Result<usize> {
        poll_fn(|cx| self.poll_writable(cx)).await
    }

    /// Write what fits now, without waiting (`WouldBlock`: none fits).
    pub fn try_write(&mut self, buf: &[u8]) -> Result<usize> {
        let h = self.h()?;
        self.net.with(|s| s.tcp_send(s.now(), h, buf))
    }

    /// Write some of `buf`; waits while the send buffer is full.
    pub async fn write(&mut self, buf: &[u8]) -> Result<usize> {
        poll_fn(|cx| self.poll_write(cx, buf)).await
    }

    /// Write all of `buf`.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf).await?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Write without a buffer of one's own: waits until the send buffer
    /// has room, then lends `fill` up to `max` bytes of it; `fill` writes
    /// the data in place and returns how many bytes it wrote (clamped to
    /// the slice), which are sent like [`TcpStream::write`]'s. One copy
    /// fewer than `write` for data that is produced rather than held
    /// (a generator, a file read straight into the slice).
    ///
    /// `fill` runs once, with the engine locked: it must not use this
    /// stream or its `Net`. `Ok(0)` when `max` is 0 or `fill` wrote nothing.
    ///
    /// ```
    /// # async fn f(mut stream: mnet::socket::TcpStream) -> mnet::Result<()> {
    /// let n = stream.write_with(4096, |space| {
    ///     space.fill(b'x');
    ///     space.len()
    /// }).await?;
    /// assert!(n <= 4096);
    /// # Ok(()) }
    /// ```
    pub async fn write_with(&mut self, max: usize, fill: impl FnOnce(&mut [u8]) -> usize) -> Result<usize> {
        let mut fill = Some(fill);
        poll_fn(|cx| {
            let h = match self.h() {
                Ok(h) => h,
                Err(e) => return Poll::Ready(Err(e)),
            };
            self.net.with(|s| {
                let Some(f) = fill.take() else { return Poll::Ready(Ok(0)) };
                let mut unused = Some(f);
                let r = s.tcp_send_with(s.now(), h, max, |space| unused.take().map_or(0, |f| f(space)));
                match r {
                    Err(Error::WouldBlock) => {
                        // Not called: keep it for the next poll.
                        fill = unused;
                        s.tcp_register_send(h, cx.waker());
                        Poll::Pending
                    }
                    r => Poll::Ready(r),
                }
            })
        })
        .await
    }

    /// Wait until everything written has been acknowledged by the peer.
    pub async fn flush(&mut self) -> Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Close one or both directions.
    pub async fn shutdown(&mut self, how: Shutdown) -> Result<()> {
        let h = self.h()?;
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.read_shut = true;
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            self.net.with(|s| s.tcp_shutdown_write(s.now(), h))?;
        }
        Ok(())
    }

    /// Graceful close: the FIN follows the pending data. Returns at once;
    /// the engine finishes the job.
    pub async fn close(mut self) -> Result<()> {
        if let Some(h) = self.handle.take() {
            self.net.with(|s| s.tcp_close(s.now(), h));
        }
        Ok(())
    }

    /// Reset the connection (RST).
    pub fn abort(mut self) {
        if let Some(h) = self.handle.take() {
            self.net.with(|s| s.tcp_abort(s.now(), h));
        }
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        let h = self.h()?;
        self.net.with(|s| s.tcp_local_addr(h))
    }

    pub fn peer_addr(&self) -> Result<SocketAddr> {
        let h = self.h()?;
        self.net.with(|s| s.tcp_peer_addr(h))
    }

    /// Disable (true) or enable Nagle's algorithm.
    pub fn set_nodelay(&self, on: bool) -> Result<()> {
        let h = self.h()?;
        self.net.with(|s| s.tcp_set_nodelay(s.now(), h, on))
    }

    /// Send keepalive probes after `idle` without traffic (`None`: off).
    pub fn set_keepalive(&self, idle: Option<Duration>) -> Result<()> {
        let h = self.h()?;
        let ka = idle.map(|idle| crate::tcp::Keepalive {
            idle,
            ..crate::tcp::Keepalive::default()
        });
        self.net.with(|s| s.tcp_set_keepalive(s.now(), h, ka))
    }

    /// Congestion window, RTT and negotiated options, like `ss -ti`.
    pub fn info(&self) -> Result<crate::tcp::TcpInfo> {
        let h = self.h()?;
        self.net.with(|s| s.tcp_info(h))
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.net.with(|s| s.tcp_close(s.now(), h));
        }
    }
}

impl embedded_io_async::ErrorType for TcpStream {
    type Error = Error;
}

impl embedded_io_async::Read for TcpStream {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        TcpStream::read(self, buf).await
    }
}

impl embedded_io_async::Write for TcpStream {
    async fn write(&mut self, buf: &[u8]) -> Result<usize> {
        TcpStream::write(self, buf).await
    }

    async fn flush(&mut self) -> Result<()> {
        TcpStream::flush(self).await
    }
}

#[cfg(feature = "tokio")]
mod tokio_io {
    use core::pin::Pin;
    use core::task::{Context, Poll};

    use super::TcpStream;

    impl tokio::io::AsyncRead for TcpStream {
        fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<std::io::Result<()>> {
            let this = self.get_mut();
            match TcpStream::poll_read(this, cx, buf.initialize_unfilled()) {
                Poll::Ready(Ok(n)) => {
                    buf.advance(n);
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
                Poll::Pending => Poll::Pending,
            }
        }
    }

    impl tokio::io::AsyncWrite for TcpStream {
        fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
            TcpStream::poll_write(self.get_mut(), cx, buf).map_err(Into::into)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            TcpStream::poll_flush(self.get_mut(), cx).map_err(Into::into)
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            let this = self.get_mut();
            let r = match this.handle {
                Some(h) => this.net.with(|s| s.tcp_shutdown_write(s.now(), h)),
                None => Ok(()),
            };
            Poll::Ready(r.map_err(Into::into))
        }
    }
}
