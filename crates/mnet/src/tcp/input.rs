//! SEGMENT ARRIVES (RFC 9293 §3.10.7), step by step as the RFC orders it:
//! sequence number (with PAWS, RFC 7323 §5.3), RST (RFC 5961 §3), SYN
//! (RFC 5961 §4), ACK (`recovery.rs`), text, FIN.

use super::connection::{Connection, SegmentOutcome, Timestamps};
use super::{OUT_OF_WINDOW_ACK_INTERVAL, State};
use crate::error::Error;
use crate::ip::rate_limit::TokenBucket;
use crate::time::{Duration, Instant};
use crate::wire::{TcpFlags, TcpRepr, TcpSeqNumber};

/// RFC 7323 §5.5: "If a connection remains idle for more than 24 days ...
/// TS.Recent ... is considered invalid".
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// The reset answering a segment that reached no connection (RFC 9293
/// §3.10.7.1, CLOSED state): "If the ACK bit is off, sequence number zero
/// is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> If the ACK bit is on,
/// <SEQ=SEG.ACK><CTL=RST>". `None` for a segment that is itself a reset
/// ("An incoming segment containing a RST is discarded").
pub fn reset_for(seg: &TcpRepr<'_>) -> Option<TcpRepr<'static>> {
    if seg.flags.contains(TcpFlags::RST) {
        return None;
    }
    let (seq, ack) = match seg.ack_number {
        Some(ack) => (ack, None),
        None => (TcpSeqNumber(0), Some(seg.seq_number + seg.segment_len())),
    };
    Some(reset_segment(seg.dst_port, seg.src_port, seq, ack))
}

/// A bare reset, <SEQ=seq><CTL=RST>, or <SEQ=seq><ACK=ack><CTL=RST,ACK>
/// when `ack` is given.
pub(super) fn reset_segment(src_port: u16, dst_port: u16, seq: TcpSeqNumber, ack: Option<TcpSeqNumber>) -> TcpRepr<'static> {
    TcpRepr {
        src_port,
        dst_port,
        seq_number: seq,
        ack_number: ack,
        flags: if ack.is_some() {
            TcpFlags::RST | TcpFlags::ACK
        } else {
            TcpFlags::RST
        },
        window_len: 0,
        urgent_ptr: 0,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        payload: &[],
    }
}

/// Signed comparison of two 32-bit timestamps (RFC 7323 §5.2: "...
/// compared using ... 32-bit unsigned arithmetic modulo 2^32").
fn ts_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Connection {
    /// One received segment for this connection (checksum verified, 4-tuple
    /// matched). `ce`: the IP header carried ECN CE. `challenge_acks`
    /// throttles RFC 5961 challenge ACKs (one bucket per stack).
    pub fn on_segment(&mut self, now: Instant, seg: &TcpRepr<'_>, ce: bool, challenge_acks: &mut TokenBucket) -> SegmentOutcome {
        self.clock = self.clock.max(now);
        self.stats.segs_in += 1;
        match self.state {
            // RFC 9293 §3.10.7.1: "If the state is CLOSED (i.e., TCB does
            // not exist) then all data in the incoming segment is
            // discarded. An incoming segment containing a RST is discarded.
            // An incoming segment not containing a RST causes a RST to be
            // sent in response."
            State::Closed => reset_for(seg).map_or(SegmentOutcome::Closed, SegmentOutcome::SendReset),
            State::Listen => SegmentOutcome::Ok,
            State::SynSent => self.on_segment_syn_sent(now, seg, ce),
            _ => self.on_segment_synchronized(now, seg, ce, challenge_acks),
        }
    }

    /// RFC 9293 §3.10.7.3, SYN-SENT STATE.
    fn on_segment_syn_sent(&mut self, now: Instant, seg: &TcpRepr<'_>, ce: bool) -> SegmentOutcome {
        let flags = seg.flags;
        let rst = flags.contains(TcpFlags::RST);
        // "First, check the ACK bit: If the ACK bit is set, If SEG.ACK =<
        // ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is
        // set, if so drop the segment and return) <SEQ=SEG.ACK><CTL=RST>
        // and discard the segment. Return. If SND.UNA < SEG.ACK =< SND.NXT,
        // then the ACK is acceptable."
        let mut ack_ok = false;
        if let Some(ack) = seg.ack_number {
            if ack <= self.iss || ack > self.snd_seq(self.snd_nxt) {
                if rst {
                    return SegmentOutcome::Ok;
                }
                return SegmentOutcome::SendReset(self.reset_segment(ack, None));
            }
            ack_ok = true;
        }
        // "Second, check the RST bit: ... If the ACK was acceptable, then
        // signal to the user "error: connection reset", drop the segment,
        // enter CLOSED state, delete TCB, and return. Otherwise (no ACK),
        // drop the segment and return."
        if rst {
            if ack_ok {
                self.enter_closed(Some(Error::ConnectionRefused));
                return SegmentOutcome::Closed;
            }
            return SegmentOutcome::Ok;
        }
        // "Fourth, check the SYN bit: This step should be reached only if
        // the ACK is ok, or there is no ACK, and the segment did not
        // contain a RST."
        if !flags.contains(TcpFlags::SYN) {
            // "Fifth, if neither of the SYN or RST bits is set, then drop
            // the segment and return."
            return SegmentOutcome::Ok;
        }
        // "If the SYN bit is on and the security/compartment is acceptable,
        // then RCV.NXT is set to SEG.SEQ+1, IRS is set to SEG.SEQ."
        self.irs = seg.seq_number;
        let offered_window = self.cfg.recv_window_initial.min(65_535) as u64;
        self.rcv_adv = 1 + offered_window;
        self.last_ack_sent = self.rcv_nxt();
        // Options: we offered all of them (per our configuration) in the
        // SYN, so each is on if the peer's SYN carries it too.
        self.adopt_syn_options(seg, now);
        if !self.ts_offered {
            self.ts = None;
        }
        // RFC 7323 §2.2: the window of a <SYN,ACK> is never scaled.
        self.snd_wnd = u64::from(seg.window_len);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = seg.seq_number;
        self.snd_wl2 = seg.ack_number.unwrap_or(self.iss);
        if ack_ok {
            // RFC 3168 §6.1.1: "if the SYN-ACK packet has ECE set and CWR
            // unset, then Host A ... is ECN-capable".
            self.ecn_ok = self.cfg.ecn && flags.contains(TcpFlags::ECE) && !flags.contains(TcpFlags::CWR);
            // "SND.UNA should be advanced to equal SEG.ACK (if there is an
            // ACK), and any segments on the retransmission queue that are
            // thereby acknowledged should be removed."
            self.snd_una = 1;
            self.high_rxt = 1;
            let _ = self.sample_rtt_on_ack(now, seg, 1);
            // "If SND.UNA > ISS (our SYN has been ACKed), change the
            // connection state to ESTABLISHED, form an ACK segment
            // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
            self.state = if self.fin_queued { State::FinWait1 } else { State::Established };
            self.syn_due = false;
            self.on_established(now);
            self.ack_now = true;
            // "If there are other controls or text in the segment, then
            // continue processing at the sixth step below where the URG bit
            // is checked; otherwise, return."
            self.process_text_and_fin(now, seg, 1, ce)
        } else {
            // Simultaneous open: "Otherwise, enter SYN-RECEIVED, form a
            // SYN,ACK segment <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> and send
            // it." (Text is left for the peer to retransmit.)
            self.ecn_ok = self.cfg.ecn && flags.contains(TcpFlags::ECE | TcpFlags::CWR);
            self.state = State::SynReceived;
            self.syn_due = true;
            SegmentOutcome::Ok
        }
    }

    /// An ACK in answer to an unacceptable segment. Pure ACKs are answered
    /// at most once per [`OUT_OF_WINDOW_ACK_INTERVAL`] (two endpoints that
    /// disagree on the window must not ACK each other forever); segments
    /// with data always are.
    fn ack_unacceptable(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        if seg.payload.is_empty() {
            if let Some(last) = self.last_oow_ack
                && now < last + OUT_OF_WINDOW_ACK_INTERVAL
            {
                return;
            }
            self.last_oow_ack = Some(now);
        }
        self.ack_now = true;
    }

    /// A challenge ACK (RFC 5961 §3.2, §4.2, §5.2), throttled by the
    /// stack's bucket (RFC 5961 §7).
    fn challenge_ack(&mut self, now: Instant, bucket: &mut TokenBucket) {
        if bucket.try_take(now) {
            self.stats.challenge_acks += 1;
            self.ack_now = true;
        }
    }

    /// RFC 9293 §3.10.7.4, "Otherwise" (SYN-RECEIVED and the synchronized
    /// states).
    fn on_segment_synchronized(&mut self, now: Instant, seg: &TcpRepr<'_>, ce: bool, bucket: &mut TokenBucket) -> SegmentOutcome {
        let flags = seg.flags;
        let rst = flags.contains(TcpFlags::RST);
        let syn = flags.contains(TcpFlags::SYN);

        // SYN-RECEIVED: the peer retransmitted its SYN, so our SYN-ACK was
        // lost; send it again (RFC 9293 §3.8.1 retransmits the SYN-ACK).
        if self.state == State::SynReceived && syn && seg.ack_number.is_none() && seg.seq_number == self.irs {
            self.syn_due = true;
            return SegmentOutcome::Ok;
        }
        // Simultaneous open (RFC 9293 §3.5, Figure 7, line 6): in
        // SYN-RECEIVED the peer's SYN,ACK <SEQ=IRS><ACK=SND.NXT> completes
        // the handshake. Its SYN repeats one we have; what remains is the
        // ACK (and any text), processed as such (as Linux does).
        if self.state == State::SynReceived
            && !self.passive
            && syn
            && !rst
            && seg.ack_number == Some(self.snd_seq(self.snd_nxt))
            && seg.seq_number + 1 == self.rcv_nxt()
        {
            let mut rest = *seg;
            rest.flags.remove(TcpFlags::SYN);
            rest.seq_number = seg.seq_number + 1;
            return self.on_segment_synchronized(now, &rest, ce, bucket);
        }
        // TIME-WAIT: "The only thing that can arrive in this state is a
        // retransmission of the remote FIN. Acknowledge it, and restart the
        // 2 MSL timeout."
        if self.state == State::TimeWait
            && !rst
            && flags.contains(TcpFlags::FIN)
            && seg.seq_number + seg.payload.len() + 1 == self.rcv_nxt()
        {
            self.ack_now = true;
            self.time_wait_at = Some(now + self.cfg.msl.saturating_mul(2));
            return SegmentOutcome::Ok;
        }

        if let Some(ts) = self.ts
            && !rst
        {
            let Some((tsval, _)) = seg.timestamp else {
                // RFC 7323 §3.2: "If a non-<RST> segment is received
                // without a TSopt, a TCP SHOULD silently drop the segment."
                return SegmentOutcome::Ok;
            };
            // RFC 7323 §5.3 R1: "If there is a Timestamps option in the
            // arriving segment, SEG.TSval < TS.Recent, and if TS.Recent is
            // valid (see later discussion), then treat the arriving segment
            // as not acceptable: Send an acknowledgment in reply as
            // specified in [RFC793], page 69, and drop the segment."
            if ts_before(tsval, ts.recent) && now < ts.recent_at + PAWS_IDLE {
                self.ack_unacceptable(now, seg);
                return SegmentOutcome::Ok;
            }
        }

        // "First, check sequence number": the four cases of RFC 9293
        // §3.10.7.4 (table "Segment Length / Receive Window / Test").
        let nxt = self.rcv_nxt_off() as i64;
        let wnd = self.rcv_adv.saturating_sub(self.rcv_nxt_off()) as i64;
        let off = self.rcv_off(seg.seq_number);
        let len = seg.segment_len() as i64;
        let in_window = |x: i64| nxt <= x && x < nxt + wnd;
        let acceptable = match (len, wnd) {
            (0, 0) => off == nxt,
            (0, _) => in_window(off),
            (_, 0) => false,
            _ => in_window(off) || in_window(off + len - 1),
        };
        // "If the RCV.WND is zero, no segments will be acceptable, but
        // special allowance should be made to accept valid ACKs, URGs, and
        // RSTs." A segment at RCV.NXT in a zero window is processed for
        // its controls; its text is dropped below (it lies past the edge).
        let controls_ok = acceptable || (wnd == 0 && off == nxt);
        if !controls_ok {
            // "If an incoming segment is not acceptable, an acknowledgment
            // should be sent in reply (unless the RST bit is set, if so
            // drop the segment and return)"
            if rst {
                return SegmentOutcome::Ok;
            }
            if syn {
                // RFC 5961 §4.2: a SYN "irrespective of the sequence
                // number" gets a challenge ACK.
                self.challenge_ack(now, bucket);
                return SegmentOutcome::Ok;
            }
            // RFC 2883 §4: a duplicate segment is reported in a D-SACK.
            if self.sack_ok && !seg.payload.is_empty() && off < nxt {
                let end = (off + seg.payload.len() as i64).min(nxt);
                if off >= 0 && end > off {
                    self.sack_rep.on_duplicate(off as u64, end as u64);
                }
            }
            self.ack_unacceptable(now, seg);
            return SegmentOutcome::Ok;
        }

        // "Second, check the RST bit" (RFC 5961 §3.2): "1) If the RST bit
        // is set and the sequence number is outside the current receive
        // window, silently drop the segment. 2) If the RST bit is set and
        // the sequence number exactly matches the next expected sequence
        // number (RCV.NXT), then TCP MUST reset the connection. 3) If the
        // RST bit is set and the sequence number does not exactly match
        // the next expected sequence value, yet is within the current
        // receive window, TCP MUST send an acknowledgment (challenge ACK)".
        if rst {
            if off != nxt {
                if in_window(off) {
                    self.challenge_ack(now, bucket);
                }
                return SegmentOutcome::Ok;
            }
            return match self.state {
                // "If this connection was initiated with a passive OPEN
                // (i.e., came from the LISTEN state), then return this
                // connection to LISTEN state and return. The user need not
                // be informed. If this connection was initiated with an
                // active OPEN (i.e., came from SYN-SENT state), then the
                // connection was refused".
                State::SynReceived => {
                    let e = if self.passive { None } else { Some(Error::ConnectionRefused) };
                    self.enter_closed(e);
                    SegmentOutcome::Closed
                }
                // "If the RST bit is set, then any outstanding RECEIVEs and
                // SEND should receive "reset" responses. ... Enter the
                // CLOSED state, delete the TCB, and return."
                State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                    self.enter_closed(Some(Error::ConnectionReset));
                    SegmentOutcome::Closed
                }
                // CLOSING, LAST-ACK, TIME-WAIT: "If the RST bit is set, then
                // enter the CLOSED state, delete the TCB, and return."
                _ => {
                    self.enter_closed(None);
                    SegmentOutcome::Closed
                }
            };
        }

        // RFC 7323 §4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ <=
        // Last.ACK.sent, then SEG.TSval is copied to TS.Recent; otherwise,
        // it is ignored."
        if let (Some(ts), Some((tsval, tsecr))) = (self.ts.as_mut(), seg.timestamp) {
            if !ts_before(tsval, ts.recent) && seg.seq_number <= self.last_ack_sent {
                *ts = Timestamps {
                    recent: tsval,
                    recent_at: now,
                };
            }
            // Receiver-side RTT for window autotuning: data segments echo
            // the TSval of one of our recent ACKs.
            if !seg.payload.is_empty() && tsecr != 0 {
                let sample = (now.total_millis() as u32).wrapping_add(self.ts_offset).wrapping_sub(tsecr);
                if sample < 60_000 {
                    let s = Duration::from_millis(u64::from(sample.max(1)));
                    self.rcv_rtt = Some(self.rcv_rtt.map_or(s, |r| (r * 7 + s) / 8));
                }
            }
        }

        // "Fourth, check the SYN bit": RFC 5961 §4.2: "If the SYN bit is
        // set, irrespective of the sequence number, TCP MUST send an ACK
        // (also referred to as challenge ACK) to the remote peer:
        // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> After sending the
        // acknowledgment, TCP MUST drop the unacceptable segment and stop
        // processing further." In SYN-RECEIVED of a passive open, RFC 9293
        // returns the connection to LISTEN instead.
        if syn {
            if self.state == State::SynReceived && self.passive {
                self.enter_closed(None);
                return SegmentOutcome::Closed;
            }
            self.challenge_ack(now, bucket);
            return SegmentOutcome::Ok;
        }

        // "Fifth, check the ACK field: if the ACK bit is off, drop the
        // segment and return".
        let Some(ack) = seg.ack_number else {
            return SegmentOutcome::Ok;
        };
        // The peer answers: keepalive and persist probing start over.
        self.restart_keepalive(now);
        self.persist_probes = 0;
        if seg.window_len != 0 {
            self.persist_backoff = 0;
        }
        if self.state == State::SynReceived {
            // "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED
            // state and continue processing with the variables below set
            // to: SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <-
            // SEG.ACK. If the segment acknowledgment is not acceptable,
            // form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it."
            if !(ack > self.snd_seq(self.snd_una) && ack <= self.snd_seq(self.snd_nxt)) {
                return SegmentOutcome::SendReset(self.reset_segment(ack, None));
            }
            self.snd_una = 1;
            self.high_rxt = 1;
            self.snd_wnd = u64::from(seg.window_len) << self.snd_wscale;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seg.seq_number;
            self.snd_wl2 = ack;
            self.syn_due = false;
            let _ = self.sample_rtt_on_ack(now, seg, 1);
            self.state = if self.fin_queued { State::FinWait1 } else { State::Established };
            self.on_established(now);
            // Data the peer already sent with this ACK continues below.
        }
        if !self.process_ack(now, seg, ack, bucket) {
            return SegmentOutcome::Ok;
        }
        // Our FIN acknowledged moves the closing states on.
        if self.fin_acked() {
            match self.state {
                // "FIN-WAIT-1 STATE: In addition to the processing for the
                // ESTABLISHED state, if the FIN segment is now acknowledged,
                // then enter FIN-WAIT-2 and continue processing in that
                // state."
                State::FinWait1 => {
                    self.state = State::FinWait2;
                    self.arm_fin_wait_2(now);
                }
                // "CLOSING STATE: ... if the ACK acknowledges our FIN, then
                // enter the TIME-WAIT state; otherwise, ignore the segment."
                State::Closing => {
                    self.enter_time_wait(now);
                    return SegmentOutcome::TimeWait;
                }
                // "LAST-ACK STATE: The only thing that can arrive in this
                // state is an acknowledgment of our FIN. If our FIN is now
                // acknowledged, delete the TCB, enter the CLOSED state, and
                // return."
                State::LastAck => {
                    self.enter_closed(None);
                    return SegmentOutcome::Closed;
                }
                _ => {}
            }
        }
        // Receiver side of ECN (RFC 3168 §6.1.3): CWR stops the echo, CE
        // starts it ("the TCP receiver sets the ECN-Echo flag in the TCP
        // header of the subsequent ACK packet").
        if self.ecn_ok {
            if flags.contains(TcpFlags::CWR) {
                self.ece_echo = false;
            }
            if ce && acceptable && seg.segment_len() > 0 {
                if !self.ece_echo {
                    self.ack_now = true;
                }
                self.ece_echo = true;
            }
        }
        if !acceptable {
            // Zero-window segment: controls done, text dropped, ACK sent.
            if !seg.payload.is_empty() {
                self.ack_now = true;
            }
            return SegmentOutcome::Ok;
        }
        let data_off = off.max(0) as u64;
        self.process_text_and_fin(now, seg, data_off, ce)
    }

    /// Steps six to eight: "Sixth, check the URG bit" (urgent data is
    /// delivered inline, RFC 6093 §4 recommends no new use of it),
    /// "Seventh, process the segment text", "Eighth, check the FIN bit".
    /// `data_off` is the receive offset of the first payload byte.
    fn process_text_and_fin(&mut self, now: Instant, seg: &TcpRepr<'_>, data_off: u64, ce: bool) -> SegmentOutcome {
        let _ = ce;
        let payload = seg.payload;
        let end = data_off + payload.len() as u64;
        if !payload.is_empty() {
            if !self.state.receives_data() {
                // "CLOSE-WAIT STATE ... CLOSING STATE ... LAST-ACK STATE
                // ... TIME-WAIT STATE: This should not occur since a FIN has
                // been received from the remote side. Ignore the segment
                // text."
            } else if self.read_closed && end > self.recv.next() {
                // RFC 1122 §4.2.2.13 via RFC 9293 §3.10.4: "if new data is
                // received after CLOSE is called, its TCP SHOULD send a RST
                // to show that data was lost."
                let rst = self.reset_segment(self.snd_seq(self.snd_nxt), None);
                self.enter_closed(Some(Error::ConnectionAborted));
                return SegmentOutcome::SendReset(rst);
            } else {
                self.accept_text(now, data_off, payload);
            }
        }
        if seg.flags.contains(TcpFlags::FIN) && self.fin_at.is_none() && self.state.receives_data() && end <= self.rcv_adv {
            self.fin_at = Some(end);
        }
        self.check_fin(now)
    }

    /// "Once in the ESTABLISHED state, it is possible to deliver segment
    /// data to user RECEIVE buffers." Trims to the window, reassembles,
    /// and decides how soon to acknowledge.
    fn accept_text(&mut self, now: Instant, data_off: u64, payload: &[u8]) {
        let nxt = self.recv.next();
        let end = data_off + payload.len() as u64;
        // The part before RCV.NXT is a duplicate: RFC 2883 D-SACK, and an
        // immediate ACK.
        if data_off < nxt {
            if self.sack_ok {
                self.sack_rep.on_duplicate(data_off, end.min(nxt));
            }
            self.ack_now = true;
        }
        // Keep within the window we offered, and before a known FIN.
        let right = self.rcv_adv.min(self.fin_at.unwrap_or(u64::MAX));
        let s = data_off.max(nxt);
        let e = end.min(right);
        if s >= e {
            self.ack_now = true;
            return;
        }
        let Some(slice) = payload.get((s - data_off) as usize..(e - data_off) as usize) else {
            return;
        };
        let had_holes = !self.recv.out_of_order().is_empty();
        let r = self.recv.accept(s, slice);
        self.stats.bytes_received += r.inserted.new_bytes;
        self.stats.ooo_bytes_dropped += r.inserted.evicted;
        if r.inserted.block.is_none() {
            // No room for one more out-of-order range.
            self.stats.ooo_bytes_dropped += e - s;
        }
        if let (true, Some((ds, de))) = (self.sack_ok, r.inserted.duplicate) {
            self.sack_rep.on_duplicate(ds, de);
            self.ack_now = true;
        }
        self.rcv_mss = self.rcv_mss.max(slice.len()).min(usize::from(self.adv_mss));
        if r.advanced == 0 {
            // RFC 5681 §4.2: "A TCP receiver SHOULD send an immediate
            // duplicate ACK when an out-of-order segment arrives."
            if r.inserted.block.is_some() {
                self.sack_rep.on_out_of_order(s);
            }
            self.ack_now = true;
            return;
        }
        self.release_at = None;
        // RFC 5681 §4.2: "a TCP receiver SHOULD send an immediate ACK when
        // the incoming segment fills in all or part of a gap in the
        // sequence space."
        if had_holes {
            self.ack_now = true;
        }
        // RFC 9293 §3.8.6.3: "an ACK SHOULD be generated for at least every
        // second full-sized segment or 2*RMSS bytes of new data ... and
        // MUST be generated within 500 ms of the arrival of the first
        // unacknowledged packet". The owed ACK leaves with this segment's
        // processing, or once for the whole receive batch (see
        // `Connection::set_ack_per_batch`); the delayed-ACK timer stays
        // armed as the bound either way.
        self.unacked_bytes += r.advanced;
        if self.unacked_bytes >= 2 * self.rcv_mss {
            self.ack_owed = true;
        }
        if self.delack_at.is_none() {
            self.delack_at = Some(now + self.cfg.delayed_ack);
        }
    }

    /// "Eighth, check the FIN bit", once the data before it is all here.
    pub(super) fn check_fin(&mut self, now: Instant) -> SegmentOutcome {
        let Some(fin) = self.fin_at else {
            return SegmentOutcome::Ok;
        };
        if self.fin_rcvd || self.recv.next() != fin {
            return SegmentOutcome::Ok;
        }
        // "If the FIN bit is set, signal the user "connection closing" and
        // return any pending RECEIVEs with same message, advance RCV.NXT
        // over the FIN, and send an acknowledgment for the FIN."
        self.fin_rcvd = true;
        match self.state {
            // "SYN-RECEIVED STATE, ESTABLISHED STATE: Enter the CLOSE-WAIT
            // state."
            State::SynReceived | State::Established => {
                self.state = State::CloseWait;
                // The acknowledgment may wait like any other (RFC 9293
                // §3.8.6.3: "A TCP implementation SHOULD implement a
                // delayed ACK ... the delay MUST be less than 0.5
                // seconds"): an application that answers the end of the
                // stream at once — its own FIN, a last reply — carries it,
                // one segment instead of two (Linux does the same).
                let by = now + self.cfg.delayed_ack;
                self.delack_at = Some(self.delack_at.map_or(by, |t| t.min(by)));
                SegmentOutcome::Ok
            }
            _ => self.fin_ends_our_side(now),
        }
    }

    /// The peer's FIN in FIN-WAIT-1, FIN-WAIT-2 (and, repeated, later):
    /// acknowledged at once, it may end the connection.
    fn fin_ends_our_side(&mut self, now: Instant) -> SegmentOutcome {
        self.ack_now = true;
        self.delack_at = None;
        match self.state {
            // "FIN-WAIT-1 STATE: If our FIN has been ACKed (perhaps in this
            // segment), then enter TIME-WAIT, start the time-wait timer,
            // turn off the other timers; otherwise, enter the CLOSING
            // state."
            State::FinWait1 => {
                if self.fin_acked() {
                    self.enter_time_wait(now);
                    SegmentOutcome::TimeWait
                } else {
                    self.state = State::Closing;
                    SegmentOutcome::Ok
                }
            }
            // "FIN-WAIT-2 STATE: Enter the TIME-WAIT state. Start the
            // time-wait timer, turn off the other timers."
            State::FinWait2 => {
                self.enter_time_wait(now);
                SegmentOutcome::TimeWait
            }
            _ => SegmentOutcome::Ok,
        }
    }
}
