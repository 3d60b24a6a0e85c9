//! Segment output: what is due, in RFC order of importance — SYN or
//! SYN-ACK, retransmissions (RFC 6675 NextSeg()), new data under the
//! congestion and receive windows with silly-window avoidance and Nagle
//! (RFC 9293 §3.7.4, §3.8.6.2.1), the FIN, window probes, keepalives, and
//! the ACK we owe (delayed per RFC 9293 §3.8.6.3).

use super::congestion::{CongestionControl, initial_window};
use super::connection::{Connection, RecoveryKind};
use super::{BUFFER_IDLE_RELEASE, State};
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpRepr};

/// One data segment to send: offsets `[start, end)` in send sequence
/// space (a FIN inside counts as its one octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    start: u64,
    end: u64,
    retransmit: bool,
    /// RFC 6675 rule (4): does not move HighRxt.
    rescue: bool,
}

/// The callback `poll_transmit` hands segments to: `(segment, ect)`,
/// returning false when the device queue is full.
pub type Emit<'e> = dyn FnMut(&TcpRepr<'_>, bool) -> bool + 'e;

impl Connection {
    /// Emits every segment that is due. `emit(segment, ect)` returns false
    /// when the device queue is full: the connection stops and resumes on
    /// the next call. `ect` asks for ECT(0) in the IP header (RFC 3168).
    pub fn poll_transmit(&mut self, now: Instant, emit: &mut Emit<'_>) {
        self.clock = self.clock.max(now);
        match self.state {
            State::Closed | State::Listen => return,
            State::SynSent | State::SynReceived => {
                if self.syn_due {
                    self.send_syn(now, emit);
                }
                return;
            }
            State::TimeWait => {
                if self.ack_now || self.delack_at.is_some_and(|t| t <= now) {
                    self.send_ack(now, emit);
                }
                return;
            }
            _ => {}
        }
        while let Some(plan) = self.next_segment(now) {
            if !self.send_data(now, plan, emit) {
                return;
            }
        }
        self.arm_persist(now);
        self.arm_tlp(now);
        if self.probe_due {
            // A zero-window probe (RFC 9293 §3.8.6.1). Like Linux it
            // carries SEG.SEQ = SND.UNA - 1 and no data: an old sequence
            // number any receiver answers with an ACK that carries its
            // current window, and no octet is committed to a closed window.
            let seq = self.snd_seq(self.snd_una) - 1;
            if !self.send_control(now, seq, emit) {
                return;
            }
            self.probe_due = false;
        }
        if self.keepalive_due {
            // RFC 1122 §4.2.3.6: a keep-alive segment has "the sequence
            // number SEG.SEQ = SND.NXT-1".
            let seq = self.snd_seq(self.snd_nxt) - 1;
            if !self.send_control(now, seq, emit) {
                return;
            }
            self.keepalive_due = false;
        }
        if self.ack_now || (self.ack_owed && !self.ack_per_batch) || self.delack_at.is_some_and(|t| t <= now) {
            self.send_ack(now, emit);
        }
        // Give idle buffers' memory back after a while.
        if self.send.is_empty() && self.recv.readable() == 0 && self.recv.out_of_order().is_empty() {
            if self.release_at.is_none() && (self.send.capacity() > 0 || self.recv.capacity() > 0) {
                self.release_at = Some(now + BUFFER_IDLE_RELEASE);
            }
        } else {
            self.release_at = None;
        }
    }

    /// The window we could offer now, before silly-window avoidance: free
    /// buffer space, capped by what the window field can say.
    pub(super) fn advertisable_window(&self) -> u64 {
        (self.recv.space() as u64).min(65_535u64 << self.rcv_wscale)
    }

    /// The Window field for the next segment, and RCV.WND's new right edge.
    ///
    /// RFC 9293 §3.8.6.2.2: "The suggested SWS avoidance algorithm for the
    /// receiver is to keep RCV.NXT+RCV.WND fixed until the reduction
    /// satisfies: RCV.BUFF - RCV.USER - RCV.WND >= min( Fr * RCV.BUFF,
    /// Eff.snd.MSS ) where Fr is a fraction whose recommended value is
    /// 1/2". The right edge never moves left (RFC 9293 §3.8.6: "the
    /// mechanisms ... strongly discourage shrinking the window").
    pub(super) fn select_window(&mut self) -> u16 {
        let nxt = self.rcv_nxt_off();
        let current = self.rcv_adv.saturating_sub(nxt);
        let space = self.advertisable_window();
        let step = (self.recv.limit() as u64 / 2).min(u64::from(self.adv_mss)).max(1);
        let wnd = if space >= current + step { space } else { current };
        let shift = self.rcv_wscale;
        let mut field = wnd >> shift;
        if field << shift < current {
            field += 1;
        }
        let field = field.min(65_535);
        self.rcv_adv = self.rcv_adv.max(nxt + (field << shift));
        field as u16
    }

    /// Header fields every segment of a synchronized connection carries:
    /// <ACK=RCV.NXT>, the window, timestamps, SACK blocks, ECE.
    fn header(&mut self, now: Instant, seq: crate::wire::TcpSeqNumber, mut flags: TcpFlags) -> TcpRepr<'static> {
        let window_len = self.select_window();
        let mut sack_ranges = [None; 4];
        // RFC 2018 §4: "If sent at all, SACK options SHOULD be included in
        // all ACKs which do not ACK the highest sequence number in the data
        // receiver's queue."
        if self.sack_ok && (self.sack_rep.has_dsack() || !self.recv.out_of_order().is_empty()) {
            let nxt = self.recv.next();
            let blocks = self.sack_rep.blocks(self.recv.out_of_order(), nxt);
            for (slot, (s, e)) in sack_ranges.iter_mut().zip(blocks.iter().flatten()) {
                *slot = Some(((self.irs + (*s as u32 as usize)).0, (self.irs + (*e as u32 as usize)).0));
            }
        }
        if self.ece_echo {
            flags |= TcpFlags::ECE;
        }
        TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq_number: seq,
            ack_number: Some(self.rcv_nxt()),
            flags: flags | TcpFlags::ACK,
            window_len,
            urgent_ptr: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges,
            timestamp: self.ts.map(|t| (self.ts_val(now), t.recent)),
            payload: &[],
        }
    }

    /// Bookkeeping once a segment carrying <ACK=RCV.NXT> left.
    fn acked_all(&mut self) {
        self.ack_now = false;
        self.ack_owed = false;
        self.delack_at = None;
        self.unacked_bytes = 0;
        self.last_ack_sent = self.rcv_nxt();
        self.stats.segs_out += 1;
    }

    /// SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED).
    fn send_syn(&mut self, now: Instant, emit: &mut Emit<'_>) -> bool {
        let syn_ack = self.state == State::SynReceived;
        let mut flags = TcpFlags::SYN;
        let window_len = self.cfg.recv_window_initial.min(65_535) as u16;
        let repr = if syn_ack {
            // RFC 3168 §6.1.1: "Host B sets the ECE flag ... in the
            // SYN-ACK packet" (and not CWR).
            if self.ecn_ok {
                flags |= TcpFlags::ECE;
            }
            TcpRepr {
                src_port: self.local.port(),
                dst_port: self.remote.port(),
                seq_number: self.iss,
                ack_number: Some(self.rcv_nxt()),
                flags: flags | TcpFlags::ACK,
                // RFC 7323 §2.2: the window of a <SYN,ACK> is not scaled.
                window_len,
                urgent_ptr: 0,
                max_seg_size: Some(self.adv_mss),
                window_scale: self.ws_ok.then_some(self.rcv_wscale),
                sack_permitted: self.sack_ok,
                sack_ranges: [None; 4],
                timestamp: self.ts.map(|t| (self.ts_val(now), t.recent)),
                payload: &[],
            }
        } else {
            // RFC 3168 §6.1.1: "Host A sets the ECE and CWR flags in the
            // TCP header of the SYN packet" to ask for ECN.
            if self.cfg.ecn {
                flags |= TcpFlags::ECE | TcpFlags::CWR;
            }
            TcpRepr {
                src_port: self.local.port(),
                dst_port: self.remote.port(),
                seq_number: self.iss,
                ack_number: None,
                flags,
                window_len,
                urgent_ptr: 0,
                max_seg_size: Some(self.adv_mss),
                window_scale: self.cfg.window_scaling.then_some(self.rcv_wscale),
                sack_permitted: self.cfg.sack,
                sack_ranges: [None; 4],
                // RFC 7323 §3.2: "the TSecr field ... MUST be zero" when
                // the ACK bit is off.
                timestamp: self.ts_offered.then(|| (self.ts_val(now), 0)),
                payload: &[],
            }
        };
        // SYNs and SYN-ACKs never carry ECT (RFC 3168 §6.1.1).
        if !emit(&repr, false) {
            return false;
        }
        if self.snd_nxt == 0 {
            self.snd_nxt = 1;
            // Karn: time the SYN only on its first transmission.
            if !self.syn_retransmitted {
                self.rtt_probe = Some((0, now));
            }
        } else {
            self.stats.retransmits += 1;
        }
        if syn_ack {
            self.rcv_adv = self.rcv_adv.max(self.rcv_nxt_off() + u64::from(window_len));
            self.last_ack_sent = self.rcv_nxt();
        }
        self.syn_due = false;
        self.ack_now = false;
        self.stats.segs_out += 1;
        if self.rtx_at.is_none() {
            self.rtx_at = Some(now + self.rtt.rto());
        }
        true
    }

    /// A pure ACK: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    fn send_ack(&mut self, now: Instant, emit: &mut Emit<'_>) -> bool {
        let seq = self.snd_seq(self.snd_nxt);
        self.send_control(now, seq, emit)
    }

    /// A segment without data at `seq` (ACK, window probe, keepalive).
    fn send_control(&mut self, now: Instant, seq: crate::wire::TcpSeqNumber, emit: &mut Emit<'_>) -> bool {
        let repr = self.header(now, seq, TcpFlags::ACK);
        // RFC 3168 §6.1.4: "pure acknowledgement packets (e.g., packets
        // that do not contain any accompanying data) MUST be sent with the
        // not-ECT codepoint."
        if !emit(&repr, false) {
            return false;
        }
        self.acked_all();
        true
    }

    /// RFC 6675 §4 NextSeg(), and outside recovery the ordinary choice of
    /// new data. `None`: nothing may go now.
    fn next_segment(&mut self, now: Instant) -> Option<Plan> {
        let mss = self.segment_payload_max() as u64;
        let window = self.effective_window() as u64;
        let pipe = self.pipe() as u64;
        let room = window.saturating_sub(pipe);
        let fin_off = self.fin_off();
        let seg_end = |start: u64, hole_end: u64, limit: u64| -> u64 {
            let mut end = hole_end.min(start + mss).min(limit);
            // A FIN rides along without taking payload space.
            if let Some(f) = fin_off
                && end == f
                && hole_end > f
                && limit > f
            {
                end = f + 1;
            }
            end
        };

        // A tail loss probe goes first, whatever the window says (RFC 8985
        // §7.3).
        if let Some((start, end, retransmit)) = self.tlp_due.take()
            && start >= self.snd_una
            && end > start
        {
            return Some(Plan {
                start,
                end,
                retransmit,
                rescue: true,
            });
        }
        if let Some(rec) = self.recovery {
            // RFC 6675 §5 (C): "If cwnd - pipe >= 1 SMSS, the sender SHOULD
            // transmit one or more segments".
            // The first retransmission of an episode (and of each NewReno
            // partial ACK) goes at once: RFC 6675 (4.3) "Retransmit the
            // first data segment presumed dropped", RFC 6582 step 5
            // "retransmit the first unacknowledged segment".
            if room < mss && rec.kind != RecoveryKind::PathMtu && !self.force_rtx {
                self.cwnd_limited = true;
                return None;
            }
            // Retransmissions RACK found lost go first (RFC 8985 §6.2),
            // after an RTO as in fast recovery.
            if rec.kind != RecoveryKind::PathMtu
                && let Some((start, end)) = self.next_relost(mss)
            {
                return Some(Plan {
                    start,
                    end,
                    retransmit: true,
                    rescue: true,
                });
            }
            // "(1) If there exists a smallest unSACKed sequence number 'S2'
            // that meets the following three criteria for determining
            // loss, the sequence range of one segment of up to SMSS octets
            // starting with S2 MUST be returned. (1.a) S2 is greater than
            // HighRxt. (1.b) S2 is less than the highest octet covered by
            // any received SACK. (1.c) IsLost (S2) returns true."
            let from = self.high_rxt.max(self.snd_una);
            let (hs, he) = self.scoreboard.hole_at(from);
            if hs < self.lost_below && hs < self.snd_nxt {
                return Some(Plan {
                    start: hs,
                    end: seg_end(hs, he, self.snd_nxt),
                    retransmit: true,
                    rescue: false,
                });
            }
            if rec.kind == RecoveryKind::PathMtu {
                return self.new_data(now, room.max(mss));
            }
            // "(2) If no sequence number 'S2' per rule (1) exists but there
            // exists available unsent data and the receiver's advertised
            // window allows, the sequence range of one segment of up to
            // SMSS octets of previously unsent data starting with sequence
            // number HighData+1 MUST be returned."
            if let Some(plan) = self.new_data(now, room) {
                return Some(plan);
            }
            if rec.kind == RecoveryKind::Fast && self.sack_ok {
                // "(3) If the conditions for rules (1) and (2) fail, but
                // there exists an unSACKed sequence number 'S3' that meets
                // the criteria for detecting loss given in steps (1.a) and
                // (1.b) above (specifically excluding step (1.c)), then one
                // segment of up to SMSS octets starting with S3 SHOULD be
                // returned."
                if let Some(high) = self.scoreboard.highest_sacked()
                    && hs < high
                    && hs < self.snd_nxt
                {
                    return Some(Plan {
                        start: hs,
                        end: seg_end(hs, he, self.snd_nxt),
                        retransmit: true,
                        rescue: false,
                    });
                }
                // "(4) If the conditions for (1), (2), and (3) fail, but
                // there exists outstanding unSACKed data, we provide the
                // opportunity for a single "rescue" retransmission per
                // entry into loss recovery. If HighACK is greater than
                // RescueRxt (or RescueRxt is undefined), then one segment
                // of up to SMSS octets that MUST include the highest
                // outstanding unSACKed sequence number SHOULD be returned,
                // and RescueRxt set to RecoveryPoint. HighRxt MUST NOT be
                // updated."
                if self.rescue_rxt.is_none_or(|r| self.snd_una > r) {
                    let top = self.highest_unsacked()?;
                    let start = top.saturating_sub(mss - 1).max(self.snd_una);
                    self.rescue_rxt = Some(rec.point);
                    return Some(Plan {
                        start,
                        end: top + 1,
                        retransmit: true,
                        rescue: true,
                    });
                }
            }
            return None;
        }
        self.new_data(now, room)
    }

    /// The highest un-SACKed offset below SND.NXT, if any.
    fn highest_unsacked(&self) -> Option<u64> {
        let mut top = self.snd_nxt.checked_sub(1)?;
        for (s, e) in self.scoreboard.ranges().rev() {
            if top >= e {
                break;
            }
            if top >= s {
                top = s.checked_sub(1)?;
            }
        }
        (top >= self.snd_una).then_some(top)
    }

    /// New data (or the FIN) if the windows, silly-window avoidance and
    /// Nagle allow it.
    fn new_data(&mut self, now: Instant, room: u64) -> Option<Plan> {
        let mss = self.segment_payload_max() as u64;
        let data_end = self.data_end();
        let unsent = data_end.saturating_sub(self.snd_nxt);
        let fin_pending = self.fin_off().is_some() && !self.fin_sent();
        if unsent == 0 && !fin_pending {
            self.cwnd_limited = false;
            return None;
        }
        // RFC 9293 §3.8.6.1: "the sending TCP peer ... MUST NOT send data
        // with a sequence number higher than SND.UNA+SND.WND"; U below.
        let usable = (self.snd_una + self.snd_wnd).saturating_sub(self.snd_nxt);
        if unsent == 0 {
            // Only the FIN is left: it needs one octet of window.
            if usable == 0 {
                return None;
            }
            return Some(Plan {
                start: self.snd_nxt,
                end: self.snd_nxt + 1,
                retransmit: false,
                rescue: false,
            });
        }
        if room < unsent.min(mss) {
            self.cwnd_limited = true;
            return None;
        }
        self.cwnd_limited = room < unsent;
        let mut len = unsent.min(self.new_data_burst(room, mss)).min(usable);
        // A super-segment cut short by the peer's window ends on a full
        // piece while more data waits: its small tail would be the silly
        // segment the rule below holds back.
        if len > mss && len < unsent {
            len -= len % mss;
        }
        if len == 0 {
            return None;
        }
        // RFC 9293 §3.8.6.2.1 (sender silly-window avoidance), with D the
        // queued data and U the usable window: "Send data: (1) if a
        // maximum-sized segment can be sent, i.e., if: min(D,U) >=
        // Eff.snd.MSS; (2) or if the data is pushed and all queued data can
        // be sent now, i.e., if: [SND.NXT = SND.UNA and] PUSHed and D <= U
        // (the bracketed condition is imposed by the Nagle algorithm); (3)
        // or if at least a fraction Fs of the maximum window can be sent,
        // i.e., if: [SND.NXT = SND.UNA and] min(D,U) >= Fs * Max(SND.WND);
        // (4) or if the override timeout occurs." Fs = 1/2; every write
        // counts as PUSHed. RFC 9293 §3.7.4 (Nagle): "If there is
        // unacknowledged data (i.e., SND.NXT > SND.UNA), then the sending
        // TCP endpoint buffers all user data (regardless of the PSH bit)
        // until the outstanding data has been acknowledged or until the
        // TCP endpoint can send a full-sized segment". A queued FIN ends
        // the wait, as in Linux. Like Linux we apply Minshall's refinement
        // (draft-minshall-nagle): only an unacknowledged *small* segment
        // holds the next small one back, so a write that is not a multiple
        // of the MSS does not wait a round trip for its tail.
        let nagle_ok = !self.nagle || self.last_small_end <= self.snd_una || fin_pending;
        if self.nagle && !fin_pending && !self.force_send && self.corks_tail(len, unsent, mss) {
            return None;
        }
        let ok = len >= mss || (nagle_ok && (len == unsent || (self.max_snd_wnd > 0 && len >= self.max_snd_wnd / 2))) || self.force_send;
        if !ok {
            return None;
        }
        self.force_send = false;
        // RFC 5681 §4.1: "a TCP SHOULD set cwnd to no more than RW before
        // beginning transmission if the TCP has not sent data in an
        // interval exceeding the retransmission timeout."
        if self.snd_nxt == self.snd_una && now - self.last_send > self.rtt.rto() {
            let rw = initial_window(self.cfg.initial_window_segments, mss as usize);
            self.cc.on_idle_restart(now, rw);
        }
        let mut end = self.snd_nxt + len;
        if fin_pending && end == data_end && usable > len {
            end += 1;
        }
        Some(Plan {
            start: self.snd_nxt,
            end,
            retransmit: false,
            rescue: false,
        })
    }

    /// Whether the tail of the queued data — `len` octets, all that is
    /// unsent, shorter than a full burst — waits for the writer's next
    /// bytes instead of leaving as a short segment of its own.
    ///
    /// Nagle's rule, stretched to a burst: RFC 9293 §3.7.4: "If there is
    /// unacknowledged data (i.e., SND.NXT > SND.UNA), then the sending TCP
    /// endpoint buffers all user data (regardless of the PSH bit) until
    /// the outstanding data has been acknowledged or until the TCP
    /// endpoint can send a full-sized segment". With segmentation offload
    /// the full-sized unit is the burst (`new_data_burst`): a writer that
    /// streams 64 KiB writes against 45-MSS bursts would otherwise send a
    /// short extra frame every few writes, each a device write and an
    /// ACK's worth of work at the receiver. Linux holds such tails too
    /// ("autocork": while earlier data of the socket is still queued
    /// below TCP).
    ///
    /// Held only while at least a full burst is in flight (its ACK comes
    /// promptly, RFC 9293 §3.8.6.3: "at least every second full-sized
    /// segment"; below that the tail leaves, so the pipe never drains
    /// because of it), and one of:
    /// - the stack's round is open ([`Connection::set_cork_round`]): what
    ///   was queued before reaches the device only at the round's end,
    ///   when the stack asks again without the cork — autocork's own
    ///   condition; a writer that writes again in the round merges the
    ///   tail into a full burst, and a message's end leaves at the round's
    ///   end, microseconds later;
    /// - the last SEND was cut short by the full send buffer: the writer
    ///   has more bytes than fit, so this tail is not a message's end; the
    ///   ACK that makes room lets the writer merge it.
    ///
    /// Never while duplicate ACKs arrive or loss is being repaired: then
    /// every new segment is worth its duplicate ACK (RFC 3042, limited
    /// transmit) and the ACK clock is not to be trusted. The caller checks
    /// that Nagle is on (TCP_NODELAY never waits) and that no FIN follows.
    fn corks_tail(&self, len: u64, unsent: u64, mss: u64) -> bool {
        if self.dupacks > 0 || self.recovery.is_some() {
            return false;
        }
        let burst = self.new_data_burst(u64::MAX, mss);
        let in_flight = self.snd_nxt.saturating_sub(self.snd_una);
        (self.writer_waits || self.cork_round) && len == unsent && len < burst && in_flight >= burst
    }

    /// While the stack's round is open (see [`Connection::corks_tail`]),
    /// new data shorter than a full burst may wait for more from the
    /// writer; the stack clears this and asks again when the round ends.
    pub fn set_cork_round(&mut self, on: bool) {
        self.cork_round = on;
    }

    /// Data is queued that has not been sent yet.
    pub fn has_unsent(&self) -> bool {
        self.data_end() > self.snd_nxt
    }

    /// Builds and emits one data segment; false if the device is full.
    fn send_data(&mut self, now: Instant, plan: Plan, emit: &mut Emit<'_>) -> bool {
        let Plan {
            start,
            end,
            retransmit,
            rescue,
        } = plan;
        let fin_off = self.fin_off();
        let mut payload_end = fin_off.map_or(end, |f| end.min(f));
        let mut fin = fin_off.is_some_and(|f| start <= f && f < end);
        // Every segment, retransmissions and probes included, must fit the
        // path with the options it carries now (SACK blocks come and go);
        // new data may form a super-segment the device splits at that size.
        let max = if retransmit {
            self.segment_payload_max() as u64
        } else {
            self.new_data_burst(u64::MAX, self.segment_payload_max() as u64)
        };
        let mut end = end;
        if payload_end.saturating_sub(start) > max {
            payload_end = start + max;
            end = payload_end;
            fin = false;
        }
        let len = payload_end.saturating_sub(start) as usize;
        let buf_off = start.saturating_sub(self.snd_una.max(1)) as usize;
        let mut flags = TcpFlags::ACK;
        if fin {
            flags |= TcpFlags::FIN;
        }
        if len > 0 && payload_end == self.data_end() {
            flags |= TcpFlags::PSH;
        }
        // RFC 3168 §6.1.2: CWR on "the first new data packet sent after
        // the window reduction"; §6.1.5: retransmissions carry no ECT.
        let cwr = self.cwr_due && !retransmit && len > 0;
        if cwr {
            flags |= TcpFlags::CWR;
        }
        let ect = self.ecn_ok && !retransmit && len > 0;
        let mut repr = self.header(now, self.snd_seq(start), flags);
        let (a, b) = self.send.slice(buf_off, len);
        let payload: &[u8] = if b.is_empty() {
            a
        } else {
            self.scratch.clear();
            self.scratch.extend_from_slice(a);
            self.scratch.extend_from_slice(b);
            &self.scratch
        };
        debug_assert_eq!(payload.len(), len, "the send buffer holds every unacknowledged byte");
        let repr_ts = repr.timestamp;
        repr.payload = payload;
        if !emit(&repr, ect) {
            return false;
        }
        self.acked_all();
        if retransmit {
            self.stats.retransmits += 1;
            self.force_rtx = false;
            // RFC 3522 RetransmitTS: the TSval of the first retransmission.
            if let (Some(undo), Some((tsval, _))) = (self.undo.as_mut(), repr_ts)
                && undo.first_rtx_tsval.is_none()
            {
                undo.first_rtx_tsval = Some(tsval);
            }
            if !rescue {
                self.high_rxt = self.high_rxt.max(end);
            }
            if self.recovery.is_some_and(|r| r.kind != RecoveryKind::PathMtu) {
                self.rack_log_retransmission(start, end, now);
            }
            // Karn: a retransmission spoils the timed segment.
            self.rtt_probe = None;
        } else {
            self.snd_nxt = self.snd_nxt.max(end);
            self.last_send = now;
            // RFC 8985 §7.2: the PTO restarts after new data is sent.
            self.tlp_at = None;
            // A super-segment's last piece may be the small one.
            let max = self.segment_payload_max().max(1);
            if len < max || !len.is_multiple_of(max) {
                self.last_small_end = end;
            }
            if cwr {
                self.cwr_due = false;
            }
            if self.ts.is_none() && self.rtt_probe.is_none() {
                self.rtt_probe = Some((start, now));
            }
        }
        self.persist_at = None;
        // RFC 6298 §5.1: "Every time a packet containing data is sent
        // (including a retransmission), if the timer is not running, start
        // it running so that it will expire after RTO seconds".
        if self.rtx_at.is_none() {
            self.rtx_at = Some(now + self.rtt.rto());
        }
        true
    }

    /// Tells the connection that its device splits TCP super-segments
    /// (segmentation offload) of up to `max_payload` payload bytes; 0
    /// turns it off (every segment is then at most one MSS, as without).
    ///
    /// What goes out as a super-segment is only new data: one `[start,
    /// end)` range of send sequence space with the headers of its first
    /// piece, which the device cuts into pieces of
    /// [`Connection::tso_segment_size`] octets. Everything that tracks
    /// sequence space (SND.NXT, the SACK scoreboard, RACK, the RTT probe)
    /// is byte-based and sees exactly the octets that left; only the
    /// segment count differs. Retransmissions, tail-loss probes and
    /// rescue retransmissions are always built one MSS at a time, so
    /// repair works at the granularity of the pieces on the wire, as
    /// without offload.
    pub fn set_tso_max(&mut self, max_payload: usize) {
        self.tso_max = max_payload;
    }

    /// The payload per piece of a super-segment: the MSS this connection
    /// uses now, options included (`gso_size` of the virtio-net header).
    pub fn tso_segment_size(&self) -> usize {
        self.segment_payload_max()
    }

    /// How much new data one segment may carry: one MSS, or with
    /// segmentation offload as many whole MSS as the device takes and
    /// `room` (the congestion window's) allows. A segment that must carry
    /// CWR stays one MSS (the device would copy the flag to every piece
    /// unless told `VIRTIO_NET_HDR_GSO_ECN`).
    fn new_data_burst(&self, room: u64, mss: u64) -> u64 {
        let mss = mss.max(1);
        let tso = self.tso_max as u64;
        if tso < 2 * mss || self.cwr_due {
            return mss;
        }
        (tso / mss).min(room / mss).max(1) * mss
    }

    /// Arms the persist timer when queued data (or the FIN) waits for the
    /// peer's window with nothing in flight to bring an ACK (RFC 9293
    /// §3.8.6.1: "The transmitting host SHOULD send the first zero-window
    /// probe when a zero window has existed for the retransmission timeout
    /// period (SHLD-29) (Section 3.8.1), and SHOULD increase exponentially
    /// the interval between successive probes (SHLD-30)."), or the
    /// override timeout of silly-window avoidance.
    fn arm_persist(&mut self, now: Instant) {
        let waiting = (self.data_end() > self.snd_nxt || (self.fin_off().is_some() && !self.fin_sent())) && self.snd_nxt == self.snd_una;
        if !waiting {
            self.persist_at = None;
            return;
        }
        if self.persist_at.is_none() {
            let backoff = 1u32 << self.persist_backoff.min(16);
            let delay = self.rtt.rto().saturating_mul(backoff).min(self.cfg.rto_max);
            self.persist_at = Some(now + delay);
        }
    }
}
