//! The connection's timers (RFC 9293 §3.8.1, §3.8.4, §3.8.6): the
//! retransmission timer (also for SYN and SYN-ACK), delayed ACK, persist,
//! keepalive, TIME-WAIT (and the FIN-WAIT-2 limit of a closed socket), and
//! the release of idle buffer memory. The stack calls
//! [`Connection::on_timer`] when [`Connection::poll_at`] is due, then
//! [`Connection::poll_transmit`].

use super::connection::{Connection, TimerOutcome};
use super::{FIN_WAIT_2_TIMEOUT, State};
use crate::error::Error;
use crate::time::{Instant, earliest};

impl Connection {
    /// The next instant a timer needs the connection.
    pub fn poll_at(&self) -> Option<Instant> {
        let mut at = None;
        for t in [
            self.rtx_at,
            self.reo_at,
            self.tlp_at,
            self.persist_at,
            self.delack_at,
            self.keepalive_at,
            self.time_wait_at,
            self.release_at,
        ] {
            at = earliest(at, t);
        }
        at
    }

    /// Runs every timer due at `now`. `Closed` means the connection is
    /// gone (retries exhausted, keepalive unanswered, TIME-WAIT over).
    pub fn on_timer(&mut self, now: Instant) -> TimerOutcome {
        self.clock = self.clock.max(now);
        if self.state == State::Closed {
            return TimerOutcome::Closed;
        }
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);

        if due(self.time_wait_at) {
            // RFC 9293 §3.10.8: "If the time-wait timeout expires on a
            // connection, delete the TCB, enter the CLOSED state, and
            // return." (Also the FIN-WAIT-2 limit of a closed socket.)
            self.enter_closed(None);
            return TimerOutcome::Closed;
        }
        if due(self.delack_at) {
            self.delack_at = None;
            self.ack_now = true;
        }
        if due(self.reo_at) {
            self.on_reo_timer(now);
        }
        if due(self.tlp_at) && !due(self.rtx_at) {
            self.on_tlp_timer(now);
        }
        if due(self.rtx_at) {
            self.rtx_at = None;
            if let TimerOutcome::Closed = self.on_retransmission_timer(now) {
                return TimerOutcome::Closed;
            }
        }
        if due(self.persist_at) {
            self.persist_at = None;
            // RFC 1122 §4.2.2.17: "the sender MUST allow the connection to
            // stay open as long as the receiving TCP continues to send
            // acknowledgments in response to the probe segments" — an ACK
            // resets the count; silence beyond the retry limit ends it.
            if self.persist_probes >= self.cfg.max_retries {
                self.enter_closed(Some(self.soft_error.unwrap_or(Error::TimedOut)));
                return TimerOutcome::Closed;
            }
            self.persist_probes += 1;
            self.persist_backoff = self.persist_backoff.saturating_add(1);
            if self.snd_wnd == 0 {
                self.probe_due = true;
            } else {
                // RFC 9293 §3.8.6.2.1 "(4) or if the override timeout
                // occurs": the window is open but too small for the
                // silly-window rules; send what fits.
                self.force_send = true;
            }
        }
        if due(self.keepalive_at) {
            match self.keepalive {
                Some(ka) if self.keepalive_probes >= ka.probes => {
                    self.enter_closed(Some(self.soft_error.unwrap_or(Error::TimedOut)));
                    return TimerOutcome::Closed;
                }
                Some(ka) => {
                    // RFC 9293 §3.8.4: keep-alive "MUST only send
                    // keep-alive packets when no sent data is outstanding,
                    // and no data or acknowledgment packets have been
                    // received for the connection within an interval".
                    if self.snd_una == self.snd_nxt {
                        self.keepalive_due = true;
                        self.keepalive_probes += 1;
                    }
                    self.keepalive_at = Some(now + ka.interval);
                }
                None => self.keepalive_at = None,
            }
        }
        if due(self.release_at) {
            self.release_at = None;
            self.send.release();
            self.recv.release();
            self.scratch = alloc::vec::Vec::new();
            // What loss recovery left allocated (an emptied map keeps a
            // node, a cleared deque its capacity).
            if self.scoreboard.is_empty() {
                self.scoreboard.clear();
            }
            if self.rack_log.as_ref().is_some_and(|l| l.rtx.is_empty() && l.relost.is_empty()) {
                self.rack_log = None;
            }
        }
        TimerOutcome::Ok
    }

    /// The retransmission timer expired.
    fn on_retransmission_timer(&mut self, now: Instant) -> TimerOutcome {
        match self.state {
            State::SynSent | State::SynReceived => {
                let limit = if self.state == State::SynSent {
                    self.cfg.max_syn_retries
                } else {
                    self.cfg.max_synack_retries
                };
                if self.retries >= limit {
                    let e = self.soft_error.unwrap_or(Error::TimedOut);
                    self.enter_closed(Some(e));
                    return TimerOutcome::Closed;
                }
                self.retries += 1;
                // RFC 6298 §5.5 "back off the timer" and §5.4 retransmit.
                self.rtt.back_off();
                self.syn_due = true;
                self.syn_retransmitted = true;
                self.rtt_probe = None;
                self.rtx_at = Some(now + self.rtt.rto());
            }
            _ if self.snd_una < self.snd_nxt => {
                // RFC 1122 §4.2.3.5: "when the number of transmissions of
                // the same segment reaches a threshold R2 greater than R1,
                // close the connection."
                if self.retries >= self.cfg.max_retries {
                    let e = self.soft_error.unwrap_or(Error::TimedOut);
                    self.enter_closed(Some(e));
                    return TimerOutcome::Closed;
                }
                self.retries += 1;
                self.on_retransmission_timeout(now);
                // RFC 6298 §5.5: "The host MUST set RTO <- RTO * 2 ("back
                // off the timer")"; §5.6: "Start the retransmission timer,
                // such that it expires after RTO seconds".
                self.rtt.back_off();
                self.rtx_at = Some(now + self.rtt.rto());
            }
            _ => {}
        }
        TimerOutcome::Ok
    }

    /// A closed socket (no reader) left in FIN-WAIT-2 is not kept forever
    /// (Linux `tcp_fin_timeout`): the peer may never send its FIN.
    pub(super) fn arm_fin_wait_2(&mut self, now: Instant) {
        if self.state == State::FinWait2 && self.read_closed && self.time_wait_at.is_none() {
            self.time_wait_at = Some(now + FIN_WAIT_2_TIMEOUT);
        }
    }
}
