//! Time-based loss detection after RFC 8985 (RACK-TLP), in the form our
//! byte-range scoreboard allows.
//!
//! RACK: RFC 8985 §6.2: "a segment is marked lost if ... a segment sent
//! later has been delivered (ACKed or SACKed) and ... RACK.reo_wnd has
//! passed". First transmissions leave in sequence order, so "sent later
//! and delivered" means "SACKed above the hole"; a hole below the highest
//! SACK is therefore lost once the reordering window has elapsed, even
//! when fewer than DupThresh segments were SACKed above it (the case
//! RFC 6675's IsLost() cannot see: small windows, tail losses).
//! Retransmissions (in fast recovery and after an RTO) are logged with
//! their send times, so a lost one is found the same way: something sent
//! after it was delivered and the reordering window has passed.
//!
//! TLP: RFC 8985 §7: "The Tail Loss Probe ... sends a probe segment to
//! trigger ... feedback" when the tail of a flight goes unacknowledged:
//! after PTO = 2 * SRTT (plus the worst-case delayed ACK for a one-segment
//! flight), one new segment if there is one, else the last segment again.
//! The probe's SACK then lets RACK find the holes before it.

use super::congestion::CongestionControl;
use super::connection::{Connection, RecoveryKind};
use crate::time::{Duration, Instant};
use alloc::boxed::Box;
use alloc::collections::VecDeque;

/// The retransmissions of a recovery episode, made at its first
/// retransmission (every connection would otherwise carry two empty
/// deques, 64 bytes).
#[derive(Debug, Default)]
pub(super) struct RackLog {
    /// Retransmissions of this recovery: (start, end, when, SND.NXT then),
    /// at most [`MAX_RTX_LOG`].
    pub rtx: VecDeque<(u64, u64, Instant, u64)>,
    /// Retransmissions found lost (RACK), to be sent again, at most
    /// [`MAX_RTX_LOG`].
    pub relost: VecDeque<(u64, u64)>,
}

/// RFC 8985 §7.2: "WCDelAckT stands for worst case delayed ACK timer.
/// ... the RECOMMENDED value is 200ms".
pub const WORST_CASE_DELAYED_ACK: Duration = Duration::from_millis(200);

/// Bound on the retransmissions remembered per recovery for lost
/// retransmission detection; older ones are left to the RTO.
pub const MAX_RTX_LOG: usize = 256;

/// How far `reo_wnd_mult` may grow after D-SACKs (RFC 8985 §6.2 step 4
/// bounds RACK.reo_wnd by SRTT anyway).
const MAX_REO_WND_MULT: u32 = 16;

/// After this many recoveries without a D-SACK the multiplier is reset
/// (RFC 8985 §6.2: "RACK.reo_wnd_persist ... 16").
const REO_WND_PERSIST: u32 = 16;

impl Connection {
    /// RFC 8985 §6.2 step 4: "RACK.reo_wnd = min(RACK.min_RTT / 4 *
    /// RACK.reo_wnd_mult, SRTT)".
    pub(super) fn reo_wnd(&self) -> Duration {
        let min_rtt = self.rtt.min_rtt().unwrap_or(Duration::from_millis(1));
        let w = (min_rtt / 4).saturating_mul(self.reo_wnd_mult.max(1));
        let w = self.rtt.srtt().map_or(w, |s| w.min(s));
        w.max(Duration::from_millis(1))
    }

    /// A D-SACK reports a spurious retransmission: widen the reordering
    /// window (RFC 8985 §6.2 step 4: "RACK.reo_wnd_mult += 1").
    pub(super) fn rack_on_dsack(&mut self) {
        self.reo_wnd_mult = (self.reo_wnd_mult + 1).min(MAX_REO_WND_MULT);
        self.reo_wnd_persist = REO_WND_PERSIST;
    }

    /// After each ACK: is a hole below the highest SACK waiting to be
    /// declared lost? Arms (or clears) the reordering timer.
    pub(super) fn rack_detect(&mut self, now: Instant) {
        if !self.sack_ok {
            return;
        }
        let Some(high) = self.scoreboard.highest_sacked() else {
            self.reo_at = None;
            return;
        };
        let from = self.lost_below.max(self.snd_una);
        let (hole, _) = self.scoreboard.hole_at(from);
        if hole >= high {
            self.reo_at = None;
            return;
        }
        if self.reo_at.is_none() {
            self.reo_at = Some(now + self.reo_wnd());
        }
    }

    /// Remembers a retransmission for lost-retransmission detection.
    pub(super) fn rack_log_retransmission(&mut self, start: u64, end: u64, now: Instant) {
        let snd_nxt = self.snd_nxt;
        let log = self.rack_log.get_or_insert_with(Box::default);
        if log.rtx.len() >= MAX_RTX_LOG {
            log.rtx.pop_front();
        }
        log.rtx.push_back((start, end, now, snd_nxt));
    }

    /// Forgets the retransmissions of a recovery that ended (the memory
    /// stays for the next one until the connection goes idle).
    pub(super) fn rack_clear_log(&mut self) {
        if let Some(log) = self.rack_log.as_deref_mut() {
            log.rtx.clear();
            log.relost.clear();
        }
    }

    /// RFC 8985 §6.2 applied to retransmissions: one is lost when data sent
    /// after it (new data above the SND.NXT of that moment, or a later
    /// retransmission) was delivered and the reordering window has passed
    /// since it left. Lost ones are queued to be sent again; an unexpired
    /// one arms the reordering timer.
    pub(super) fn rack_detect_lost_retransmissions(&mut self, now: Instant) {
        if !self.sack_ok || self.rack_log.as_ref().is_none_or(|l| l.rtx.is_empty()) {
            return;
        }
        // Out of the connection while it is read beside the scoreboard.
        let Some(mut log) = self.rack_log.take() else {
            return;
        };
        let highest = self.scoreboard.highest_sacked().unwrap_or(0).max(self.snd_una);
        let reo_wnd = self.reo_wnd();
        let mut later_delivered = false;
        let mut i = log.rtx.len();
        while i > 0 {
            i -= 1;
            let Some(&(start, end, sent, nxt_then)) = log.rtx.get(i) else {
                break;
            };
            let (hole, _) = self.scoreboard.hole_at(start.max(self.snd_una));
            if hole >= end {
                // Delivered (cumulatively or SACKed). Like RACK.xmit_ts of
                // RFC 8985 §6.2 step 2 (the send time of the most recently
                // sent segment that has been delivered), the latest such
                // time is kept after the entry goes, so that a
                // retransmission sent before it is still known to be
                // overtaken on a later ACK or when the reordering timer
                // fires.
                later_delivered = true;
                self.rack_rtx_delivered = Some(self.rack_rtx_delivered.map_or(sent, |t| t.max(sent)));
                log.rtx.remove(i);
                continue;
            }
            // RFC 8985 §6.2: "a segment is marked lost if ... a segment
            // sent later has been delivered": a later retransmission (in
            // this pass, or remembered from an earlier one), or new data
            // above the SND.NXT of the moment this one left.
            let overtaken = later_delivered || highest > nxt_then || self.rack_rtx_delivered.is_some_and(|t| t > sent);
            if !overtaken {
                continue;
            }
            let deadline = sent + reo_wnd;
            if now >= deadline {
                log.rtx.remove(i);
                if log.relost.len() < MAX_RTX_LOG {
                    log.relost.push_back((hole, end));
                }
            } else {
                self.reo_at = Some(self.reo_at.map_or(deadline, |t| t.min(deadline)));
            }
        }
        self.rack_log = Some(log);
    }

    /// The next piece of a lost retransmission to send again, at most
    /// `mss` bytes of what is still un-SACKed.
    pub(super) fn next_relost(&mut self, mss: u64) -> Option<(u64, u64)> {
        let log = self.rack_log.as_deref_mut()?;
        while let Some((start, end)) = log.relost.pop_front() {
            let (hs, he) = self.scoreboard.hole_at(start.max(self.snd_una));
            if hs >= end || hs >= self.snd_nxt {
                continue;
            }
            let stop = he.min(end).min(hs + mss).min(self.snd_nxt);
            if stop < end {
                log.relost.push_front((stop, end));
            }
            return Some((hs, stop));
        }
        None
    }

    /// The reordering window passed: every un-SACKed byte below the
    /// highest SACK is lost (RFC 8985 §6.3 "RACK reordering timer").
    pub(super) fn on_reo_timer(&mut self, now: Instant) {
        self.reo_at = None;
        self.rack_detect_lost_retransmissions(now);
        let Some(high) = self.scoreboard.highest_sacked() else {
            return;
        };
        if high <= self.snd_una {
            return;
        }
        match self.recovery {
            Some(r) if r.kind != RecoveryKind::PathMtu => {}
            Some(_) => return,
            None => {
                // As in `on_dupack`: an ACK of `recover` itself (HighData
                // then, exclusive) has covered RecoveryPoint.
                if self.snd_una < self.recover {
                    return;
                }
                self.enter_fast_recovery(now);
            }
        }
        self.lost_below = self.lost_below.max(high);
    }

    /// Arms the probe timeout when a flight is out and no recovery runs
    /// (RFC 8985 §7.2: "PTO = 2 * SRTT ... If FlightSize is one segment,
    /// PTO += WCDelAckT ... PTO = min(PTO, RTO)").
    pub(super) fn arm_tlp(&mut self, now: Instant) {
        let flight = self.snd_nxt.saturating_sub(self.snd_una);
        let eligible = self.sack_ok && self.recovery.is_none() && flight > 0 && self.tlp_high.is_none() && self.state.is_synchronized();
        let Some(srtt) = self.rtt.srtt().filter(|_| eligible) else {
            self.tlp_at = None;
            return;
        };
        if self.tlp_at.is_some() {
            return;
        }
        let mut pto = srtt.saturating_mul(2);
        if flight <= self.eff_mss() as u64 {
            pto += WORST_CASE_DELAYED_ACK;
        }
        pto = pto.min(self.rtt.rto());
        self.tlp_at = Some(now + pto);
    }

    /// The probe timeout fired: RFC 8985 §7.3: "If a previously unsent
    /// segment exists AND the receive window allows, send one new segment
    /// ... Otherwise, retransmit the highest-sequence segment sent so far".
    /// The RTO is re-armed behind it.
    pub(super) fn on_tlp_timer(&mut self, now: Instant) {
        self.tlp_at = None;
        if self.recovery.is_some() || self.snd_nxt <= self.snd_una {
            return;
        }
        let mss = self.eff_mss() as u64;
        let unsent = self.data_end().saturating_sub(self.snd_nxt);
        let usable = (self.snd_una + self.snd_wnd).saturating_sub(self.snd_nxt);
        let probe = if unsent > 0 && usable > 0 {
            let len = unsent.min(mss).min(usable);
            (self.snd_nxt, self.snd_nxt + len, false)
        } else {
            let start = self.snd_nxt.saturating_sub(mss).max(self.snd_una);
            (start, self.snd_nxt, true)
        };
        self.tlp_due = Some(probe);
        self.tlp_high = Some((probe.1, probe.2));
        self.tlp_dsack = false;
        self.rtx_at = Some(now + self.rtt.rto());
        self.stats.tail_loss_probes += 1;
    }

    /// An ACK reached the probe's end (RFC 8985 §7.4). If the probe was a
    /// retransmission and no D-SACK said it was a duplicate, it repaired a
    /// lost tail: "the sender MUST invoke a congestion control response
    /// equivalent to fast recovery".
    pub(super) fn tlp_on_ack(&mut self, now: Instant, ack_off: u64) {
        let Some((end, was_rtx)) = self.tlp_high else {
            return;
        };
        if ack_off < end {
            return;
        }
        self.tlp_high = None;
        if was_rtx && !self.tlp_dsack && self.recovery.is_none() && self.snd_una > self.recover {
            let mss = self.eff_mss();
            let window = self.cc.window();
            self.cc.on_congestion_event(now, window, mss);
            self.recover = self.snd_nxt;
        }
    }
}
