//! The socket operations of the engine (synchronous, non-blocking): what
//! the async handles in `crate::socket` call under the lock.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::task::Waker;

use super::Stack;
use super::ipv4_out::Ipv4Tx;
use super::ipv6_out::Ipv6Tx;
use crate::error::{Error, Result};
use crate::recv_queue::RecvQueue;
use crate::slab::Handle;
use crate::time::Instant;
use crate::wire::{Icmpv4Packet, Icmpv4Repr, Icmpv6Repr, IpProtocol, UdpPacket, UdpRepr, udp};

/// A user timer registered with [`Stack::add_timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerId(Instant, u64);

/// What an echo socket received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoEvent {
    /// An echo reply with `len` data bytes (copied into the caller's buffer,
    /// truncated to its size).
    Reply { from: IpAddr, seq_no: u16, len: usize },
    /// An ICMP error (or a local resolution failure) about our request.
    Error { from: IpAddr, seq_no: u16, error: Error },
}

fn v4_of(addr: IpAddr) -> Result<Ipv4Addr> {
    match addr {
        IpAddr::V4(a) => Ok(a),
        IpAddr::V6(_) => Err(Error::InvalidInput),
    }
}

impl Stack {
    fn new_recv_queue(&self) -> RecvQueue {
        RecvQueue::new(self.limits.socket_recv_datagrams, self.limits.socket_recv_bytes)
    }

    // ---- UDP --------------------------------------------------------------

    /// Bind a UDP socket (port 0: an ephemeral port, RFC 6056).
    pub fn udp_bind(&mut self, local: SocketAddr) -> Result<Handle> {
        let ip = local.ip();
        if !ip.is_unspecified() && !self.has_address(&ip) {
            return Err(Error::AddressNotAvailable);
        }
        let q = self.new_recv_queue();
        self.udp.bind(local, q, &mut self.rng)
    }

    /// The address a UDP socket is bound to.
    pub fn udp_local_addr(&self, h: Handle) -> Result<SocketAddr> {
        self.udp.get(h).map(|s| s.local).ok_or(Error::SocketClosed)
    }

    /// Connect: only `remote` is sent to and received from.
    pub fn udp_connect(&mut self, h: Handle, remote: SocketAddr) -> Result<()> {
        if remote.port() == 0 || remote.ip().is_unspecified() {
            return Err(Error::InvalidInput);
        }
        let s = self.udp.get_mut(h).ok_or(Error::SocketClosed)?;
        s.remote = Some(remote);
        s.error = None;
        Ok(())
    }

    /// The connected peer.
    pub fn udp_peer_addr(&self, h: Handle) -> Result<SocketAddr> {
        self.udp.get(h).ok_or(Error::SocketClosed)?.remote.ok_or(Error::NotConnected)
    }

    /// Send one datagram (`dst: None` on a connected socket).
    pub fn udp_send_to(&mut self, now: Instant, h: Handle, data: &[u8], dst: Option<SocketAddr>) -> Result<()> {
        self.now = now;
        let s = self.udp.get_mut(h).ok_or(Error::SocketClosed)?;
        if let Some(e) = s.error.take() {
            return Err(e);
        }
        let dst = dst.or(s.remote).ok_or(Error::NotConnected)?;
        let local = s.local;
        if dst.port() == 0 {
            return Err(Error::InvalidInput);
        }
        let len = udp::HEADER_LEN + data.len();
        if let IpAddr::V6(dst_ip) = dst.ip() {
            let src = match local.ip() {
                IpAddr::V6(a) if !a.is_unspecified() => Some(a),
                IpAddr::V4(a) if !a.is_unspecified() => return Err(Error::AddressNotAvailable),
                _ => None,
            };
            let repr = UdpRepr {
                src_port: local.port(),
                dst_port: dst.port(),
            };
            self.send_ipv6(now, Ipv6Tx::new(src, dst_ip, IpProtocol::Udp, len).user(), |buf, src| {
                let mut pkt = UdpPacket::new_unchecked(buf);
                repr.emit_header(&mut pkt, data.len());
                pkt.payload_mut().copy_from_slice(data);
                pkt.fill_checksum(&IpAddr::V6(src), &IpAddr::V6(dst_ip));
            })?;
            self.stats.traffic.udp_out += 1;
            self.drain_loopback(now);
            return Ok(());
        }
        let src = match local.ip() {
            IpAddr::V4(a) if !a.is_unspecified() => Some(a),
            _ => None,
        };
        let dst_ip = v4_of(dst.ip())?;
        let repr = UdpRepr {
            src_port: local.port(),
            dst_port: dst.port(),
        };
        self.send_ipv4(now, Ipv4Tx::new(src, dst_ip, IpProtocol::Udp, len).user(), |buf, src| {
            let mut pkt = UdpPacket::new_unchecked(buf);
            repr.emit_header(&mut pkt, data.len());
            pkt.payload_mut().copy_from_slice(data);
            pkt.fill_checksum(&IpAddr::V4(src), &IpAddr::V4(dst_ip));
        })?;
        self.stats.traffic.udp_out += 1;
        self.drain_loopback(now);
        Ok(())
    }

    /// Receive one datagram into `buf` (truncated to its size); returns the
    /// datagram's full length and sender. `WouldBlock` when none is queued.
    pub fn udp_recv_from(&mut self, h: Handle, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        let s = self.udp.get_mut(h).ok_or(Error::SocketClosed)?;
        if let Some(e) = s.error.take() {
            return Err(e);
        }
        s.rx.pop_into(&mut self.pool, buf).ok_or(Error::WouldBlock)
    }

    /// Wake `waker` when the socket has a datagram or an error.
    pub fn udp_register_recv(&mut self, h: Handle, waker: &Waker) {
        if let Some(s) = self.udp.get_mut(h) {
            if s.rx.is_empty() && s.error.is_none() {
                s.rx_waker.register(waker);
            } else {
                waker.wake_by_ref();
            }
        } else {
            waker.wake_by_ref();
        }
    }

    /// Close a UDP socket.
    pub fn udp_close(&mut self, h: Handle) {
        self.udp.close(h, &mut self.pool);
    }

    /// Wake `waker` when the transmit queue has room again.
    pub fn register_tx_space(&mut self, waker: &Waker) {
        // The same threshold as the wake-up in `transmit`: waking earlier
        // would only make the sender spin.
        if self.tx.len() <= self.limits.tx_queue_frames / 2 {
            waker.wake_by_ref();
        } else if !self.tx_waiters.iter().any(|w| w.will_wake(waker)) {
            self.tx_waiters.push(waker.clone());
        }
    }

    // ---- ICMP echo ----------------------------------------------------------

    /// Open an echo socket with identifier `ident`, or a random free one.
    pub fn echo_open(&mut self, ident: Option<u16>) -> Result<Handle> {
        let q = self.new_recv_queue();
        self.echo.open(ident, q, &mut self.rng)
    }

    /// The echo identifier of a socket.
    pub fn echo_ident(&mut self, h: Handle) -> Result<u16> {
        self.echo.get_mut(h).map(|s| s.ident).ok_or(Error::SocketClosed)
    }

    /// Send an echo request.
    pub fn echo_send(&mut self, now: Instant, h: Handle, dst: IpAddr, seq_no: u16, data: &[u8]) -> Result<()> {
        self.now = now;
        let ident = self.echo_ident(h)?;
        if let IpAddr::V6(dst) = dst {
            let repr = Icmpv6Repr::EchoRequest { ident, seq_no, data };
            self.send_ipv6(
                now,
                Ipv6Tx::new(None, dst, IpProtocol::Icmpv6, repr.buffer_len()).user(),
                |buf, src| {
                    repr.emit(buf, &src, &dst);
                },
            )?;
            self.stats.traffic.icmpv6_out += 1;
            self.drain_loopback(now);
            return Ok(());
        }
        let dst = v4_of(dst)?;
        let repr = Icmpv4Repr::EchoRequest { ident, seq_no, data };
        self.send_ipv4(now, Ipv4Tx::new(None, dst, IpProtocol::Icmp, repr.buffer_len()).user(), |buf, _| {
            let mut pkt = Icmpv4Packet::new_unchecked(buf);
            repr.emit(&mut pkt);
        })?;
        self.stats.traffic.icmpv4_out += 1;
        self.drain_loopback(now);
        Ok(())
    }

    /// Receive the next reply or error; `WouldBlock` when there is none.
    pub fn echo_recv(&mut self, h: Handle, buf: &mut [u8]) -> Result<EchoEvent> {
        let s = self.echo.get_mut(h).ok_or(Error::SocketClosed)?;
        if let Some(e) = s.errors.pop_front() {
            return Ok(EchoEvent::Error {
                from: e.from,
                seq_no: e.seq_no,
                error: e.error,
            });
        }
        let (len, from) = s.rx.pop_into(&mut self.pool, buf).ok_or(Error::WouldBlock)?;
        Ok(EchoEvent::Reply {
            from: from.ip(),
            seq_no: from.port(),
            len,
        })
    }

    /// Wake `waker` when the echo socket has something to read.
    pub fn echo_register_recv(&mut self, h: Handle, waker: &Waker) {
        match self.echo.get_mut(h) {
            Some(s) if s.rx.is_empty() && s.errors.is_empty() => s.rx_waker.register(waker),
            _ => waker.wake_by_ref(),
        }
    }

    /// Close an echo socket.
    pub fn echo_close(&mut self, h: Handle) {
        self.echo.close(h, &mut self.pool);
    }

    // ---- timers ---------------------------------------------------------------

    /// Wake `waker` once `at` has passed (the engine's `poll_at` includes it).
    pub fn add_timer(&mut self, at: Instant, waker: Waker) -> TimerId {
        self.next_timer_id += 1;
        let id = TimerId(at, self.next_timer_id);
        self.timers.insert((at, self.next_timer_id), waker);
        id
    }

    /// Forget a timer (no effect if it already fired).
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.timers.remove(&(id.0, id.1));
    }

    /// The time of the last input, poll or clock advance.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Move the engine's idea of "now" forward without running timers, so
    /// socket operations from tasks that run between driver rounds (under
    /// tokio) see the real time. Never moves backwards.
    pub fn advance_clock(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }
}
