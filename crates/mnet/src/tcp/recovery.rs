//! The sender's side of an acknowledgment: RFC 9293 §3.10.7.4 "Fifth,
//! check the ACK field", RTT measurement (RFC 6298, RFC 7323 §4), loss
//! detection and recovery (RFC 5681, RFC 6582, RFC 6675), the
//! retransmission timeout's effect on the window, and ECN echoes
//! (RFC 3168 §6.1.2).

use super::congestion::{AckSample, CongestionControl};
use super::connection::{Connection, Recovery, RecoveryKind};
use super::sack::DUP_THRESH;
use super::{OUT_OF_WINDOW_ACK_INTERVAL, SEND_BUFFER_INITIAL};
use crate::ip::rate_limit::TokenBucket;
use crate::time::{Duration, Instant};
use crate::wire::{TcpFlags, TcpRepr, TcpSeqNumber};

impl Connection {
    /// Processes the ACK field of an acceptable segment. Returns false when
    /// the segment must be dropped here.
    pub(super) fn process_ack(&mut self, now: Instant, seg: &TcpRepr<'_>, ack: TcpSeqNumber, bucket: &mut TokenBucket) -> bool {
        let una_seq = self.snd_seq(self.snd_una);
        let nxt_seq = self.snd_seq(self.snd_nxt);
        // RFC 9293 §3.10.7.4: "If the ACK acks something not yet sent
        // (SEG.ACK > SND.NXT), then send an ACK, drop the segment, and
        // return." RFC 5961 §5.2: "All incoming segments whose ACK value
        // doesn't satisfy the above condition [(SND.UNA - MAX.SND.WND) =<
        // SEG.ACK =< SND.NXT] MUST be discarded and an ACK sent back."
        if ack > nxt_seq || ack < una_seq - (self.max_snd_wnd.min(1 << 30) as usize) {
            if seg.payload.is_empty() {
                if let Some(last) = self.last_oow_ack
                    && now < last + OUT_OF_WINDOW_ACK_INTERVAL
                {
                    return false;
                }
                self.last_oow_ack = Some(now);
            }
            if bucket.try_take(now) {
                self.stats.challenge_acks += 1;
                self.ack_now = true;
            }
            return false;
        }
        let ack_off = self.snd_off(ack).unwrap_or(0);
        let prev_una = self.snd_una;

        // RFC 6675 §5: "Upon the receipt of any ACK containing SACK
        // information, the scoreboard MUST be updated via the Update ()
        // routine."
        let mut newly_sacked = 0;
        let mut dsack = false;
        if self.sack_ok && seg.sack_ranges.iter().any(Option::is_some) {
            let mut blocks = [(0u64, 0u64); 4];
            let mut n = 0;
            for (l, r) in seg.sack_ranges.iter().flatten() {
                let to_off = |v: u32| -> u64 {
                    let d = i64::from(TcpSeqNumber(v).signed_diff(una_seq));
                    (self.snd_una as i64 + d).max(0) as u64
                };
                blocks[n] = (to_off(*l), to_off(*r));
                n += 1;
            }
            let upd = self.scoreboard.update(&blocks[..n], ack_off.max(self.snd_una), self.snd_nxt);
            if upd.dsack {
                dsack = true;
                self.stats.dsacks_received += 1;
                self.tlp_dsack = true;
                self.rack_on_dsack();
            }
            newly_sacked = upd.newly_sacked;
        }

        if ack_off > self.snd_una {
            self.on_new_ack(now, seg, ack_off, dsack);
            self.tlp_on_ack(now, ack_off);
            self.tlp_at = None;
        } else if ack_off == self.snd_una {
            // RFC 5681 §2: "An acknowledgment is considered a "duplicate"
            // ... when (a) the receiver of the ACK has outstanding data,
            // (b) the incoming acknowledgment carries no data, (c) the SYN
            // and FIN bits are both off, (d) the acknowledgment number is
            // equal to the greatest acknowledgment received on the given
            // connection (TCP.UNA from [RFC793]) and (e) the advertised
            // window in the incoming acknowledgment equals the advertised
            // window in the last incoming acknowledgment. Alternatively, a
            // TCP that utilizes selective acknowledgments (SACKs) ... can
            // leverage the SACK information to determine when an incoming
            // ACK is a "duplicate" (e.g., if the ACK contains previously
            // unknown SACK information)."
            let outstanding = self.snd_nxt > self.snd_una;
            let bare = seg.payload.is_empty() && !seg.flags.intersects(TcpFlags::SYN | TcpFlags::FIN);
            let same_window = (u64::from(seg.window_len) << self.snd_wscale) == self.snd_wnd;
            let dup = outstanding && bare && if self.sack_ok { newly_sacked > 0 } else { same_window };
            if dup {
                self.dupacks += 1;
                self.on_dupack(now);
            }
        }

        self.rack_detect(now);
        if self.recovery.is_some() {
            self.rack_detect_lost_retransmissions(now);
        }

        // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be
        // updated. If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2
        // =< SEG.ACK)), set SND.WND <- SEG.WND, set SND.WL1 <- SEG.SEQ, and
        // set SND.WL2 <- SEG.ACK."
        if ack_off >= prev_una && (self.snd_wl1 < seg.seq_number || (self.snd_wl1 == seg.seq_number && self.snd_wl2 <= ack)) {
            // RFC 7323 §2.3: "the window field (SEG.WND) in the header of
            // every incoming segment, with the exception of <SYN>
            // segments, MUST be left-shifted by Snd.Wind.Shift bits".
            self.snd_wnd = u64::from(seg.window_len) << self.snd_wscale;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seg.seq_number;
            self.snd_wl2 = ack;
            if self.snd_wnd > 0 {
                self.persist_at = None;
            }
        }

        // RFC 3168 §6.1.2: "If the sender receives an ECN-Echo (ECE) ACK
        // packet (that is, an ACK packet with the ECN-Echo flag set in the
        // TCP header), then the sender knows that congestion was
        // encountered in the network on the path from the sender to the
        // receiver. The indication of congestion should be treated just as
        // a congestion loss in non-ECN-Capable TCP." ... "the TCP source
        // should not react to congestion indications more than once every
        // window of data (or more loosely, more than once every round-trip
        // time)."
        if self.ecn_ok && seg.flags.contains(TcpFlags::ECE) {
            if self.snd_una > self.ecn_recover && self.recovery.is_none() {
                let flight = (self.snd_nxt - self.snd_una) as usize;
                let mss = self.eff_mss();
                self.cc.on_congestion_event(now, flight, mss);
                self.ecn_recover = self.snd_nxt;
                self.stats.ecn_reductions += 1;
            }
            // "the TCP sender ... set[s] the CWR flag in the TCP header of
            // the first new data packet sent after the window reduction".
            self.cwr_due = true;
        }
        true
    }

    /// An RTT sample from an ACK that acknowledged new data up to
    /// `ack_off`: from the echoed timestamp (RFC 7323 §4.1), else from the
    /// one timed segment (RFC 6298 §3, Karn's algorithm: "RTT samples MUST
    /// NOT be made using segments that were retransmitted").
    /// Returns the sample taken.
    pub(super) fn sample_rtt_on_ack(&mut self, now: Instant, seg: &TcpRepr<'_>, ack_off: u64) -> Option<Duration> {
        if self.ts.is_some()
            && let Some((_, tsecr)) = seg.timestamp
            && tsecr != 0
        {
            let ms = self.ts_val(now).wrapping_sub(tsecr);
            // An echo from the future or from long ago is no measurement.
            if ms < 600_000 {
                let rtt = Duration::from_millis(u64::from(ms));
                self.rtt.sample(rtt);
                self.rtt_probe = None;
                return Some(rtt);
            }
        }
        if let Some((off, sent)) = self.rtt_probe
            && ack_off > off
        {
            let rtt = now - sent;
            self.rtt.sample(rtt);
            self.rtt_probe = None;
            return Some(rtt);
        }
        None
    }

    /// SND.UNA < SEG.ACK =< SND.NXT: "SND.UNA <- SEG.ACK. Any segments on
    /// the retransmission queue that are thereby entirely acknowledged are
    /// removed."
    /// `dsack`: the ACK reports a duplicate, so its timestamp echo belongs
    /// to an older segment (RFC 7323 §4.3 does not update TS.Recent for
    /// it) and measures loss recovery, not the path: no RTT sample then.
    fn on_new_ack(&mut self, now: Instant, seg: &TcpRepr<'_>, ack_off: u64, dsack: bool) {
        let acked = (ack_off - self.snd_una) as usize;
        let mss = self.eff_mss();
        let data_acked = ack_off.min(self.data_end()).saturating_sub(self.snd_una.max(1));
        self.send.ack(data_acked as usize);
        self.stats.bytes_acked += data_acked;
        let pipe_before = self.pipe();
        let window_before = self.effective_window();
        self.snd_una = ack_off;
        self.scoreboard.advance(ack_off);
        self.high_rxt = self.high_rxt.max(ack_off);
        let rtt = if dsack { None } else { self.sample_rtt_on_ack(now, seg, ack_off) };
        self.retries = 0;
        self.rto_repeated = false;
        // RFC 6298 §5.2: "When all outstanding data has been acknowledged,
        // turn off the retransmission timer." §5.3: "When an ACK is
        // received that acknowledges new data, restart the retransmission
        // timer so that it will expire after RTO seconds (for the current
        // value of RTO)."
        self.rtx_at = (self.snd_una < self.snd_nxt).then(|| now + self.rtt.rto());

        let sample = AckSample {
            acked,
            mss,
            srtt: self.rtt.srtt(),
            min_rtt: self.rtt.min_rtt(),
            cwnd_limited: self.cwnd_limited || pipe_before + mss >= window_before,
            rtt,
            ack: ack_off,
            snd_nxt: self.snd_nxt,
        };
        match self.recovery {
            // RFC 6675 §5: "(b) ... once a cumulative ACK that covers
            // RecoveryPoint is received ... the loss recovery phase ends";
            // RFC 6582 §3.2 step 5, full acknowledgment.
            Some(rec) if ack_off >= rec.point => {
                self.recovery = None;
                self.dupacks = 0;
                self.rescue_rxt = None;
                self.rack_clear_log();
                self.rack_rtx_delivered = None;
                match rec.kind {
                    RecoveryKind::Fast => self.cc.on_recovery_exit(now, (self.snd_nxt - self.snd_una) as usize, mss),
                    RecoveryKind::Timeout => self.cc.on_ack(now, &sample),
                    RecoveryKind::PathMtu => {}
                }
                self.maybe_undo(seg);
            }
            Some(mut rec) => {
                match rec.kind {
                    RecoveryKind::Fast if !self.sack_ok => {
                        // RFC 6582 §3.2 step 5, partial acknowledgment:
                        // "Retransmit the first unacknowledged segment. ...
                        // deflate the congestion window by the amount of
                        // new data acknowledged by the Cumulative
                        // Acknowledgment field. If the partial ACK
                        // acknowledges at least one SMSS of new data, then
                        // add back SMSS bytes to the congestion window."
                        self.lost_below = self.lost_below.max(self.snd_una + 1);
                        self.force_rtx = true;
                        rec.inflated = rec.inflated.saturating_sub(acked);
                        if acked >= mss {
                            rec.inflated += mss;
                        }
                        rec.inflated = rec.inflated.max(mss);
                    }
                    // After a timeout the window grows by slow start while
                    // the holes are resent (RFC 5681 §3.1).
                    RecoveryKind::Timeout => self.cc.on_ack(now, &sample),
                    _ => {}
                }
                self.recovery = Some(rec);
            }
            None => {
                self.dupacks = 0;
                self.cc.on_ack(now, &sample);
            }
        }
        if self.sack_ok && matches!(self.recovery, Some(r) if r.kind != RecoveryKind::PathMtu) {
            self.lost_below = self.lost_below.max(self.scoreboard.lost_below(DUP_THRESH, mss));
        }
        // The send buffer follows the window (like Linux sizing sk_sndbuf
        // from cwnd): twice the window keeps the pipe full while the
        // application refills.
        let limit = (2 * self.cc.window()).max(SEND_BUFFER_INITIAL);
        self.send.set_limit(limit);
    }

    /// RFC 3522 §3.2 (Eifel detection): "If the value of the Timestamp
    /// Echo Reply field of the acceptable ACK's Timestamps option is
    /// smaller than the value of RetransmitTS, then ... the retransmission
    /// was spurious." Checked on the ACK that ends recovery: if it echoes a
    /// TSval from before the first retransmission, every byte it covers was
    /// delivered by an original transmission (a reordering, not a loss),
    /// and RFC 4015's response restores the window ("cwnd ... and
    /// ssthresh ... to their values before the retransmission").
    fn maybe_undo(&mut self, seg: &TcpRepr<'_>) {
        let Some(undo) = self.undo.take() else {
            return;
        };
        if let (Some(first), Some((_, tsecr))) = (undo.first_rtx_tsval, seg.timestamp)
            && tsecr != 0
            && (tsecr.wrapping_sub(first) as i32) < 0
        {
            self.cc = undo.cc.clone();
            self.stats.spurious_undone += 1;
        }
    }

    /// Saves what an undo needs when a reduction starts.
    fn arm_undo(&mut self) {
        // One allocation per recovery episode, none per segment.
        self.undo = self.ts.is_some().then(|| {
            alloc::boxed::Box::new(super::connection::Undo {
                cc: self.cc.clone(),
                first_rtx_tsval: None,
            })
        });
    }

    /// A duplicate ACK arrived (`self.dupacks` already counted it).
    fn on_dupack(&mut self, now: Instant) {
        let mss = self.eff_mss();
        if let Some(mut rec) = self.recovery {
            if rec.kind == RecoveryKind::Fast && !self.sack_ok {
                // RFC 5681 §3.2 step 4: "For each additional duplicate ACK
                // received (after the third), cwnd MUST be incremented by
                // SMSS. This artificially inflates the congestion window in
                // order to reflect the additional segment that has left the
                // network."
                rec.inflated += mss;
                self.recovery = Some(rec);
            }
            if self.sack_ok && rec.kind != RecoveryKind::PathMtu {
                self.lost_below = self.lost_below.max(self.scoreboard.lost_below(DUP_THRESH, mss));
            }
            return;
        }
        // RFC 6582 §3.2 step 2: "If the Cumulative Acknowledgment field
        // didn't cover more than "recover", ... do not enter the Fast
        // Retransmit and Fast Recovery procedure". `recover` holds HighData
        // as an exclusive offset (SND.NXT then), so an ACK equal to it
        // covers the last octet sent; RFC 6675 §5.1: "a new recovery phase
        // ... MUST NOT be initiated until HighACK is greater than or equal
        // to the new value of RecoveryPoint." Only SND.UNA < recover waits.
        if self.snd_una < self.recover {
            return;
        }
        // RFC 6675 §5: "(1) If DupAcks >= DupThresh, go to step (4). ...
        // (2) If DupAcks < DupThresh but IsLost (HighACK + 1) returns true
        // -- indicating at least three segments have arrived above the
        // current cumulative acknowledgment point, which is taken to
        // indicate loss -- go to step (4)."
        let is_lost = self.sack_ok && self.scoreboard.lost_below(DUP_THRESH, mss) > self.snd_una;
        if self.dupacks >= DUP_THRESH || is_lost {
            self.enter_fast_recovery(now);
        }
    }

    /// RFC 6675 §5 step (4) / RFC 6582 §3.2 step 2: "Invoke fast
    /// retransmit and enter loss recovery as follows: (4.1) RecoveryPoint =
    /// HighData ... (4.2) ssthresh = cwnd = (FlightSize / 2) ... (4.3)
    /// Retransmit the first data segment presumed dropped -- the segment
    /// starting with sequence number HighACK + 1. To prevent repeated
    /// retransmission of the same data or a premature rescue
    /// retransmission, set both HighRxt and RescueRxt to the highest
    /// sequence number in the retransmitted segment."
    pub(super) fn enter_fast_recovery(&mut self, now: Instant) {
        let mss = self.eff_mss();
        let flight = (self.snd_nxt - self.snd_una) as usize;
        self.arm_undo();
        self.cc.on_congestion_event(now, flight, mss);
        self.stats.fast_retransmits += 1;
        self.tlp_at = None;
        // RFC 8985 §6.2: the widened reordering window lasts 16 recoveries.
        if self.reo_wnd_persist > 0 {
            self.reo_wnd_persist -= 1;
        } else {
            self.reo_wnd_mult = 1;
        }
        self.recovery = Some(Recovery {
            kind: RecoveryKind::Fast,
            point: self.snd_nxt,
            // RFC 5681 §3.2 step 3 (without SACK): "cwnd MUST be set to
            // ssthresh plus 3*SMSS."
            inflated: self.cc.window() + 3 * mss,
        });
        self.recover = self.snd_nxt;
        self.high_rxt = self.snd_una;
        self.rescue_rxt = Some(self.snd_una + mss as u64);
        let sack_lost = if self.sack_ok {
            self.scoreboard.lost_below(DUP_THRESH, mss)
        } else {
            0
        };
        self.lost_below = sack_lost.max(self.snd_una + 1);
        self.force_rtx = true;
        // A loss reduction also answers any ECN echo of this window.
        self.ecn_recover = self.snd_nxt;
        self.rtt_probe = None;
    }

    /// The retransmission timer expired with data outstanding (RFC 6298
    /// §5.4 to §5.6; RFC 5681 §3.1 for the window; RFC 6675 §5.1 for the
    /// scoreboard: "If an RTO occurs during loss recovery as specified in
    /// this document, RecoveryPoint MUST be set to HighData. Further, the
    /// new value of RecoveryPoint MUST be preserved and the loss recovery
    /// algorithm outlined in this document MUST be terminated.").
    pub(super) fn on_retransmission_timeout(&mut self, now: Instant) {
        let mss = self.eff_mss();
        let flight = (self.snd_nxt - self.snd_una) as usize;
        if !self.rto_repeated && self.recovery.is_none_or(|r| r.kind == RecoveryKind::PathMtu) {
            self.arm_undo();
        } else if self.rto_repeated {
            // A second timeout: the first was no reordering (RFC 4015
            // undoes one spurious timeout, not a dead path).
            self.undo = None;
        }
        self.cc.on_retransmit_timeout(now, flight, mss, self.rto_repeated);
        self.rto_repeated = true;
        self.stats.timeouts += 1;
        self.recovery = Some(Recovery {
            kind: RecoveryKind::Timeout,
            point: self.snd_nxt,
            inflated: 0,
        });
        self.recover = self.snd_nxt;
        // Everything not SACKed is presumed lost and resent from SND.UNA
        // ("retransmit the earliest segment that has not been acknowledged
        // by the TCP receiver", RFC 6298 §5.4), as the window allows.
        self.high_rxt = self.snd_una;
        self.lost_below = self.snd_nxt;
        self.rescue_rxt = None;
        self.dupacks = 0;
        self.rtt_probe = None;
        self.ecn_recover = self.snd_nxt;
        self.force_rtx = false;
        self.tlp_at = None;
        self.tlp_high = None;
        self.tlp_due = None;
        self.reo_at = None;
        self.rack_clear_log();
        self.rack_rtx_delivered = None;
    }

    /// The window the sender may fill: cwnd, NewReno's inflated window in
    /// fast recovery without SACK, and RFC 3042 limited transmit ("...the
    /// sender can transmit new segments upon the receipt of the first two
    /// consecutive duplicate ACKs ... the amount of outstanding data
    /// would remain less than or equal to the congestion window plus 2
    /// segments").
    pub(super) fn effective_window(&self) -> usize {
        match self.recovery {
            Some(Recovery {
                kind: RecoveryKind::Fast,
                inflated,
                ..
            }) if !self.sack_ok => inflated,
            // A path MTU resend does not wait for the window.
            Some(Recovery {
                kind: RecoveryKind::PathMtu,
                ..
            }) => self.cc.window().max(self.eff_mss()),
            Some(_) => self.cc.window(),
            None => self.cc.window() + self.dupacks.min(2) as usize * self.eff_mss(),
        }
    }

    /// Bytes presumed in the network: RFC 6675 SetPipe() in recovery,
    /// otherwise FlightSize less what the receiver SACKed. NewReno without
    /// SACK compares FlightSize with its inflated window.
    pub(super) fn pipe(&self) -> usize {
        let flight = self.snd_nxt.saturating_sub(self.snd_una);
        let pipe = match self.recovery {
            Some(Recovery {
                kind: RecoveryKind::Fast, ..
            }) if !self.sack_ok => flight,
            Some(_) => self.scoreboard.pipe(self.snd_una, self.snd_nxt, self.lost_below, self.high_rxt),
            None => flight.saturating_sub(self.scoreboard.sacked_bytes()),
        };
        pipe as usize
    }
}
