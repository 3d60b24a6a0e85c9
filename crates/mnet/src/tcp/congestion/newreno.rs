//! Reno/NewReno window arithmetic (RFC 5681 §3.1, §3.2; RFC 6582 recovery
//! is run by the connection, which calls [`NewReno::on_congestion_event`]
//! when it enters fast recovery).

use super::{AckSample, CongestionControl, MAX_WINDOW, slow_start};
use crate::time::Instant;

/// RFC 5681 congestion window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReno {
    cwnd: usize,
    ssthresh: usize,
    /// RFC 3465 §2.1 bytes counted towards the next increase in
    /// congestion avoidance.
    bytes_acked: usize,
}

impl NewReno {
    /// RFC 5681 §3.1: "The initial value of ssthresh SHOULD be set
    /// arbitrarily high (e.g., to the size of the largest possible
    /// advertised window)".
    pub fn new(initial_window: usize) -> NewReno {
        NewReno {
            cwnd: initial_window,
            ssthresh: usize::MAX,
            bytes_acked: 0,
        }
    }

    /// RFC 5681 §3.1 equation (4): "ssthresh = max (FlightSize / 2, 2*SMSS)".
    fn halve(flight: usize, mss: usize) -> usize {
        (flight / 2).max(2 * mss)
    }
}

impl CongestionControl for NewReno {
    fn window(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn on_ack(&mut self, _now: Instant, ack: &AckSample) {
        // RFC 7661 §4.3 (and RFC 5681's intent): a window the sender does
        // not fill says nothing about the path, so it does not grow.
        if !ack.cwnd_limited {
            return;
        }
        let rest = slow_start(&mut self.cwnd, self.ssthresh, ack.acked);
        if self.cwnd < self.ssthresh {
            return;
        }
        // RFC 3465 §2.1 (congestion avoidance with byte counting): "When
        // bytes_acked becomes greater than or equal to the value of the
        // congestion window, bytes_acked is reduced by the value of cwnd.
        // Next, cwnd is incremented by a full-sized segment (SMSS)."
        self.bytes_acked = self.bytes_acked.saturating_add(rest);
        if self.bytes_acked >= self.cwnd {
            self.bytes_acked -= self.cwnd;
            self.cwnd = (self.cwnd + ack.mss).min(MAX_WINDOW);
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, flight: usize, mss: usize) {
        // RFC 5681 §3.2 step 2: "When the third duplicate ACK is received,
        // a TCP MUST set ssthresh to no more than the value given in
        // equation (4)"; RFC 6675 §5 (4.2): "ssthresh = cwnd = (FlightSize / 2)".
        self.ssthresh = Self::halve(flight, mss);
        self.cwnd = self.ssthresh;
        self.bytes_acked = 0;
    }

    fn on_retransmit_timeout(&mut self, _now: Instant, flight: usize, mss: usize, repeated: bool) {
        // RFC 5681 §3.1: "When a TCP sender detects segment loss using the
        // retransmission timer and the given segment has not yet been
        // resent by way of the retransmission timer, the value of ssthresh
        // MUST be set to no more than the value given in equation (4)"
        // ... "Furthermore, upon a timeout (as specified in [RFC2988]) cwnd
        // MUST be set to no more than the loss window, LW, which equals 1
        // full-sized segment (regardless of the value of IW)."
        if !repeated {
            self.ssthresh = Self::halve(flight, mss);
        }
        self.cwnd = mss;
        self.bytes_acked = 0;
    }

    fn on_idle_restart(&mut self, _now: Instant, restart_window: usize) {
        self.cwnd = self.cwnd.min(restart_window);
    }

    fn set_window(&mut self, cwnd: usize) {
        self.cwnd = cwnd.min(MAX_WINDOW);
    }

    fn end_slow_start(&mut self) {
        self.ssthresh = self.cwnd;
    }

    fn name(&self) -> &'static str {
        "reno"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(acked: usize) -> AckSample {
        AckSample {
            acked,
            mss: 1000,
            ..AckSample::default()
        }
    }

    #[test]
    fn slow_start_then_linear_growth() {
        let mut r = NewReno::new(10_000);
        let t = Instant::ZERO;
        r.on_ack(t, &ack(10_000));
        assert_eq!(r.window(), 20_000, "slow start doubles per window");
        r.on_congestion_event(t, 20_000, 1000);
        assert_eq!((r.window(), r.ssthresh()), (10_000, 10_000));
        // One SMSS per window of acknowledged bytes.
        for _ in 0..10 {
            r.on_ack(t, &ack(1000));
        }
        assert_eq!(r.window(), 11_000);
        for _ in 0..10 {
            r.on_ack(t, &ack(1000));
        }
        assert_eq!(r.window(), 11_000, "11 segments needed now");
        r.on_ack(t, &ack(1000));
        assert_eq!(r.window(), 12_000);
    }

    #[test]
    fn no_growth_when_application_limited() {
        let mut r = NewReno::new(10_000);
        r.on_ack(
            Instant::ZERO,
            &AckSample {
                cwnd_limited: false,
                ..ack(5000)
            },
        );
        assert_eq!(r.window(), 10_000);
    }

    #[test]
    fn timeout_loss_window_and_held_ssthresh() {
        let mut r = NewReno::new(10_000);
        r.on_retransmit_timeout(Instant::ZERO, 30_000, 1000, false);
        assert_eq!((r.window(), r.ssthresh()), (1000, 15_000));
        // "the value of ssthresh is held constant" on a repeated timeout.
        r.on_retransmit_timeout(Instant::ZERO, 1000, 1000, true);
        assert_eq!((r.window(), r.ssthresh()), (1000, 15_000));
        // Never below 2*SMSS.
        r.on_congestion_event(Instant::ZERO, 1000, 1000);
        assert_eq!(r.ssthresh(), 2000);
    }
}
