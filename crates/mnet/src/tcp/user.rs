//! The user calls of RFC 9293 §3.10.1 to §3.10.6 (SEND, RECEIVE, CLOSE,
//! ABORT, and the socket options), readiness for the stack's wakers, and
//! introspection (`TcpInfo`, the TIME-WAIT record).

use super::congestion::CongestionControl;
use super::connection::{Connection, Recovery, RecoveryKind, TcpInfo};
use super::time_wait::{TimeWaitRecord, TimeWaitTimestamps};
use super::{Keepalive, State};
use crate::error::{Error, Result};
use crate::time::{Duration, Instant};
use crate::wire::TcpRepr;
use core::net::SocketAddr;

impl Connection {
    /// SEND (RFC 9293 §3.10.2): copies what fits into the send buffer.
    /// `WouldBlock` when it is full; `NotConnected` after a shutdown or
    /// close; the connection's error once it failed.
    pub fn send(&mut self, data: &[u8]) -> Result<usize> {
        if let Some(e) = self.error {
            return Err(e);
        }
        // RFC 9293 §3.10.2: in FIN-WAIT-1/2, CLOSING, LAST-ACK, TIME-WAIT
        // "Return "error: connection closing" and do not service request."
        if !self.state.sends_data() || self.fin_queued {
            return Err(Error::NotConnected);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let n = self.send.write(data);
        self.writer_waits = n < data.len();
        if n == 0 {
            return Err(Error::WouldBlock);
        }
        self.release_at = None;
        Ok(n)
    }

    /// SEND with the bytes written in place: `fill` gets up to `max` bytes
    /// of the send buffer and returns how many it wrote
    /// ([`super::send_buffer::SendBuffer::write_with`]). The same errors as
    /// [`Connection::send`]; `fill` runs only when some room is free.
    pub fn send_with(&mut self, max: usize, fill: impl FnOnce(&mut [u8]) -> usize) -> Result<usize> {
        if let Some(e) = self.error {
            return Err(e);
        }
        // RFC 9293 §3.10.2, as in `send`.
        if !self.state.sends_data() || self.fin_queued {
            return Err(Error::NotConnected);
        }
        if max == 0 {
            return Ok(0);
        }
        let room = self.send.space();
        if room == 0 {
            self.writer_waits = true;
            return Err(Error::WouldBlock);
        }
        let n = self.send.write_with(max, fill);
        self.writer_waits = room < max && n == room;
        if n > 0 {
            self.release_at = None;
        }
        Ok(n)
    }

    /// RECEIVE (RFC 9293 §3.10.3): copies in-order data out. `Ok(0)` is
    /// the end of the stream (FIN received and everything read);
    /// `WouldBlock` when nothing is there yet.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize> {
        let empty = buf.is_empty();
        self.recv_by(empty, &mut |r| r.read(buf))
    }

    /// RECEIVE without a copy: lends the in-order data to `f` in place
    /// (see [`super::recv_buffer::RecvBuffer::read_with`]); `f` returns how
    /// many bytes it consumed. Like [`Connection::recv`] otherwise (`f`
    /// is only called with data; `Ok(0)` is the end of the stream when `f`
    /// consumes something of every call).
    pub fn recv_with(&mut self, f: &mut dyn FnMut(&[u8]) -> usize) -> Result<usize> {
        self.recv_by(false, &mut |r| r.read_with(f))
    }

    /// Bytes the user may write now (0 after a shutdown or close, or once
    /// the connection failed).
    pub fn send_space(&self) -> usize {
        if self.error.is_some() || !self.state.sends_data() || self.fin_queued {
            return 0;
        }
        self.send.space()
    }

    fn recv_by(&mut self, buf_empty: bool, take: &mut dyn FnMut(&mut super::recv_buffer::RecvBuffer) -> usize) -> Result<usize> {
        if self.recv.readable() > 0 && !buf_empty {
            let before = self.advertisable_window();
            let n = take(&mut self.recv);
            let rtt = self.rcv_rtt.or(self.rtt.srtt()).unwrap_or(Duration::from_millis(100));
            self.recv.autotune(self.clock, rtt, self.rcv_mss);
            self.maybe_window_update(before);
            return Ok(n);
        }
        if self.fin_rcvd {
            return Ok(0);
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.state {
            State::Closed => Ok(0),
            _ if buf_empty => Ok(0),
            _ => Err(Error::WouldBlock),
        }
    }

    /// After the reader drained, offer the larger window at once if the
    /// sender may be waiting for it (RFC 9293 §3.8.6.2.2: the window is
    /// updated when it grows by min(RCV.BUFF/2, Eff.snd.MSS); Linux sends
    /// the update when the window at least doubles).
    fn maybe_window_update(&mut self, before: u64) {
        if !self.state.receives_data() {
            return;
        }
        let after = self.advertisable_window();
        let offered = self.rcv_adv.saturating_sub(self.rcv_nxt_off());
        let step = (self.recv.limit() as u64 / 2).min(u64::from(self.adv_mss));
        if after > before && after >= offered + step && after >= 2 * offered.max(1) {
            self.ack_now = true;
        }
    }

    /// SHUTDOWN of the write side: a FIN follows the queued data (RFC 9293
    /// §3.10.4 CLOSE for the sending direction).
    pub fn shutdown_write(&mut self, now: Instant) {
        match self.state {
            // "queue for processing after entering ESTABLISHED state"
            State::SynSent | State::SynReceived => self.queue_fin(),
            // "Queue this until all preceding SENDs have been segmentized,
            // then form a FIN segment and send it. In any case, enter
            // FIN-WAIT-1 state."
            State::Established => {
                self.queue_fin();
                self.state = State::FinWait1;
            }
            // "Queue this request until all preceding SENDs have been
            // segmentized; then send a FIN segment, enter LAST-ACK state."
            State::CloseWait => {
                self.queue_fin();
                self.state = State::LastAck;
            }
            _ => {}
        }
        self.release_at = None;
        self.clock = self.clock.max(now);
    }

    /// CLOSE (RFC 9293 §3.10.4): graceful; the engine finishes the job. If
    /// unread data is pending, the connection is reset instead and the
    /// reset to send is returned (RFC 9293 §3.10.4 via RFC 1122
    /// §4.2.2.13: "If such a host issues a CLOSE call while received data
    /// is still pending in TCP, or if new data is received after CLOSE is
    /// called, its TCP SHOULD send a RST to show that data was lost.").
    pub fn close(&mut self, now: Instant) -> Option<TcpRepr<'static>> {
        self.read_closed = true;
        match self.state {
            // "Delete the TCB and return "error: closing" responses to any
            // queued SENDs, or RECEIVEs."
            State::SynSent | State::Listen => {
                self.enter_closed(None);
                return None;
            }
            State::Closed | State::TimeWait => return None,
            _ => {}
        }
        if self.recv.readable() > 0 || !self.recv.out_of_order().is_empty() {
            return self.abort_with(Error::ConnectionAborted);
        }
        self.shutdown_write(now);
        self.arm_fin_wait_2(now);
        None
    }

    /// ABORT (RFC 9293 §3.10.5): state CLOSED; returns the reset to send,
    /// if the state calls for one ("SYN-RECEIVED STATE ... ESTABLISHED
    /// STATE ... CLOSE-WAIT STATE: Send a reset segment:
    /// <SEQ=SND.NXT><CTL=RST>").
    pub fn abort(&mut self) -> Option<TcpRepr<'static>> {
        self.abort_with(Error::ConnectionAborted)
    }

    fn abort_with(&mut self, error: Error) -> Option<TcpRepr<'static>> {
        let rst = match self.state {
            State::SynReceived | State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                Some(self.reset_segment(self.snd_seq(self.snd_nxt), None))
            }
            _ => None,
        };
        self.enter_closed(Some(error));
        rst
    }

    /// An ICMP error for this connection (RFC 1122 §4.2.3.9). In SYN-SENT
    /// it ends the connection (as Linux does: there is no data to lose
    /// and the user is waiting for connect); in every other state it is a
    /// soft error: "TCP MUST NOT abort the connection" for Destination
    /// Unreachable codes 0, 1, 5, and it is reported only if the
    /// connection later times out.
    pub fn on_icmp_error(&mut self, error: Error, now: Instant) {
        self.clock = self.clock.max(now);
        match self.state {
            State::SynSent => self.enter_closed(Some(error)),
            State::Closed | State::TimeWait => {}
            _ => self.soft_error = Some(error),
        }
    }

    /// The path MTU shrank (RFC 1191 §6.4 / RFC 8201 §5.4): segments go out
    /// smaller from now on, and what is in flight with the old size is
    /// sent again at once, without touching the congestion window ("a
    /// retransmission caused by a Packet Too Big message should not change
    /// the congestion window").
    pub fn set_mss(&mut self, mss: u16) {
        let mss = mss.max(64);
        let shrank = mss < self.path_mss;
        self.path_mss = mss;
        if shrank && self.state.is_synchronized() && self.snd_nxt > self.snd_una && self.recovery.is_none() {
            self.recovery = Some(Recovery {
                kind: RecoveryKind::PathMtu,
                point: self.snd_nxt,
                inflated: 0,
            });
            self.high_rxt = self.snd_una;
            self.lost_below = self.snd_nxt;
            self.rescue_rxt = None;
        }
    }

    /// Acknowledge in-order data once per receive batch instead of after
    /// every second full-sized segment: the owed ACK waits until
    /// [`Connection::end_receive_batch`]. Immediate ACKs (out of order,
    /// gap fill, duplicate, FIN, ECN-Echo, window update, challenge) and
    /// ACKs carried by data still leave at once (a window update joins
    /// the batch's ACK while the stack holds the batch: see
    /// [`Connection::hold_ack_for_batch_end`]).
    ///
    /// RFC 9293 §3.8.6.3: "an ACK SHOULD be generated for at least every
    /// second full-sized segment or 2*RMSS bytes of new data (where RMSS
    /// is the MSS specified by the TCP endpoint receiving the segments to
    /// be acknowledged, or the default value if not specified) (SHLD-19),
    /// and MUST be generated within 500 ms of the arrival of the first
    /// unacknowledged packet (MUST-40)." RFC 5681 §4.2 calls the first
    /// part a SHOULD "meaning that an implementor should indeed only
    /// deviate from this requirement after careful consideration of the
    /// implications", and adds: "Out-of-order data segments SHOULD be
    /// acknowledged immediately, in order to accelerate loss recovery."
    ///
    /// The implications: every frame of one batch arrived before the stack
    /// looked at any of them (a single device read loop, microseconds), so
    /// ACKs for each would leave back to back at the same instant and
    /// clock out nothing that one cumulative ACK does not; the sender's
    /// ACK clock sees what a receive-coalescing device (GRO, LRO) produces
    /// anyway, one ACK per super-segment, and senders count bytes acked,
    /// not ACKs (RFC 3465, RFC 5681 §3.1). Loss recovery is untouched:
    /// its duplicate ACKs are immediate. The 500 ms bound is kept by the
    /// delayed-ACK timer, which stays armed.
    pub fn set_ack_per_batch(&mut self, on: bool) {
        self.ack_per_batch = on;
    }

    /// The receive batch is over: an ACK owed under
    /// [`Connection::set_ack_per_batch`] becomes due now. Returns whether
    /// one was owed.
    pub fn end_receive_batch(&mut self) -> bool {
        if self.ack_owed {
            self.ack_now = true;
        }
        self.ack_owed
    }

    /// While the stack holds the receive batch open past the application's
    /// reads (`Stack::hold_receive_batch`): an ACK made due at once — a
    /// window update after a read — waits for the batch's end instead, so
    /// the batch's ACK and the window update leave as one segment.
    /// Returns whether an ACK now waits for the batch's end.
    pub fn hold_ack_for_batch_end(&mut self) -> bool {
        if self.ack_per_batch && self.ack_now {
            self.ack_now = false;
            self.ack_owed = true;
        }
        self.ack_waits_for_batch_end()
    }

    /// An ACK is owed that waits for [`Connection::end_receive_batch`].
    pub fn ack_waits_for_batch_end(&self) -> bool {
        self.ack_per_batch && self.ack_owed
    }

    /// TCP_NODELAY: turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, on: bool) {
        self.nagle = !on;
    }

    /// Turns keepalive on or off (RFC 9293 §3.8.4).
    pub fn set_keepalive(&mut self, ka: Option<Keepalive>) {
        self.keepalive = ka;
        self.restart_keepalive(self.clock);
    }

    // ----- readiness and introspection -----

    pub fn state(&self) -> State {
        self.state
    }

    /// Data, end of stream, or an error is waiting for the reader.
    pub fn can_recv(&self) -> bool {
        self.recv.readable() > 0 || self.fin_rcvd || self.error.is_some() || self.state == State::Closed
    }

    /// The send buffer has room (in a state that sends), or an error is
    /// waiting for the writer.
    pub fn can_send(&self) -> bool {
        self.error.is_some()
            || self.state == State::Closed
            || (matches!(self.state, State::Established | State::CloseWait) && !self.fin_queued && self.send.space() > 0)
    }

    /// Why the connection failed: `ConnectionRefused` (RST to our SYN),
    /// `ConnectionReset`, `TimedOut`, an ICMP error, `ConnectionAborted`.
    pub fn error(&self) -> Option<Error> {
        self.error
    }

    /// The handshake completed (any synchronized state).
    pub fn is_established(&self) -> bool {
        self.state.is_synchronized()
    }

    /// Bytes the connection still owns for the user: queued, sent but not
    /// acknowledged, plus an unacknowledged FIN.
    pub fn unacked_or_unsent(&self) -> usize {
        self.send.len() + usize::from(self.fin_queued && !self.fin_acked())
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Bytes ready to read.
    pub fn recv_queue(&self) -> usize {
        self.recv.readable()
    }

    /// Bytes written and not yet acknowledged.
    pub fn send_queue(&self) -> usize {
        self.send.len()
    }

    /// A snapshot like `ss -ti`.
    pub fn info(&self) -> TcpInfo {
        TcpInfo {
            state: self.state,
            congestion: self.cc.name(),
            cwnd: self.cc.window(),
            ssthresh: self.cc.ssthresh(),
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            min_rtt: self.rtt.min_rtt(),
            rto: self.rtt.rto(),
            snd_mss: self.eff_mss(),
            rcv_mss: self.adv_mss,
            snd_wscale: self.snd_wscale,
            rcv_wscale: self.rcv_wscale,
            timestamps: self.ts.is_some(),
            sack: self.sack_ok,
            ecn: self.ecn_ok,
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_adv.saturating_sub(self.rcv_nxt_off()),
            bytes_in_flight: self.snd_nxt.saturating_sub(self.snd_una),
            bytes_acked: self.stats.bytes_acked,
            bytes_received: self.stats.bytes_received,
            segs_out: self.stats.segs_out,
            segs_in: self.stats.segs_in,
            retransmits: self.stats.retransmits,
            timeouts: self.stats.timeouts,
            fast_retransmits: self.stats.fast_retransmits,
            dsacks_received: self.stats.dsacks_received,
            challenge_acks: self.stats.challenge_acks,
            ecn_reductions: self.stats.ecn_reductions,
            spurious_undone: self.stats.spurious_undone,
            tail_loss_probes: self.stats.tail_loss_probes,
            ooo_ranges: self.recv.out_of_order().len(),
            ooo_bytes_dropped: self.stats.ooo_bytes_dropped,
            send_buffer_bytes: self.send.capacity(),
            recv_buffer_bytes: self.recv.capacity(),
        }
    }

    /// The compact TIME-WAIT record that replaces this connection.
    pub fn time_wait_record(&self, now: Instant) -> TimeWaitRecord {
        let linger = self.cfg.msl.saturating_mul(2);
        let window = (self.rcv_adv.saturating_sub(self.rcv_nxt_off()) >> self.rcv_wscale).min(65_535) as u16;
        let mut record = TimeWaitRecord::new(
            self.snd_seq(self.snd_nxt),
            self.rcv_nxt(),
            window,
            self.ts.map(|t| TimeWaitTimestamps {
                recent: t.recent,
                offset: self.ts_offset,
            }),
            self.time_wait_at.unwrap_or(now + linger),
            linger,
        );
        record.set_timestamps_enabled(self.cfg.timestamps);
        record
    }
}
