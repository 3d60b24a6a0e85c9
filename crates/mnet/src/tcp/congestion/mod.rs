//! Congestion control behind one interface.
//!
//! The connection owns loss *detection* and *recovery* (duplicate ACKs,
//! SACK scoreboard, RTO, RFC 6675 / RFC 6582 retransmission rules); an
//! algorithm owns only the *window*: how cwnd grows on ACKs and what
//! ssthresh and cwnd become on a congestion signal. This is the split
//! Linux makes between `tcp_input.c` and its `tcp_congestion_ops`, and it
//! leaves room for a paced algorithm: [`CongestionControl::pacing_rate`].
//!
//! Two algorithms ship: [`NewReno`] (RFC 5681 with the RFC 6582 recovery
//! the connection runs) and [`Cubic`] (RFC 9438, integer arithmetic, the
//! default). [`Congestion`] dispatches between them without allocation.
//!
//! ```
//! use mnet::tcp::congestion::{AckSample, Congestion, CongestionControl};
//! use mnet::tcp::CongestionKind;
//! use mnet::Instant;
//! let mut cc = Congestion::new(CongestionKind::NewReno, 1000, 10);
//! assert_eq!(cc.window(), 10_000); // IW10 (RFC 6928)
//! cc.on_ack(Instant::ZERO, &AckSample { acked: 2000, mss: 1000, ..AckSample::default() });
//! assert_eq!(cc.window(), 12_000); // slow start
//! cc.on_congestion_event(Instant::ZERO, 12_000, 1000);
//! assert_eq!((cc.window(), cc.ssthresh()), (6_000, 6_000));
//! ```

pub mod cubic;
pub mod hystart;
pub mod newreno;

pub use cubic::Cubic;
pub use hystart::{HyStart, SlowStartStep};
pub use newreno::NewReno;

use super::CongestionKind;
use crate::time::{Duration, Instant};

/// What one acknowledgment told the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckSample {
    /// Bytes newly acknowledged (cumulatively).
    pub acked: usize,
    /// The sender's maximum segment size (SMSS).
    pub mss: usize,
    /// Smoothed round-trip time, if measured.
    pub srtt: Option<Duration>,
    /// Smallest round-trip time seen, if measured.
    pub min_rtt: Option<Duration>,
    /// Whether the window, rather than the application or the peer's
    /// receive window, limited sending when this data left.
    pub cwnd_limited: bool,
    /// The RTT measured from this ACK, if any (HyStart++ watches it).
    pub rtt: Option<Duration>,
    /// The stream offset acknowledged up to, and SND.NXT (HyStart++
    /// counts rounds with them).
    pub ack: u64,
    pub snd_nxt: u64,
}

impl Default for AckSample {
    fn default() -> Self {
        AckSample {
            acked: 0,
            mss: 536,
            srtt: None,
            min_rtt: None,
            cwnd_limited: true,
            rtt: None,
            ack: 0,
            snd_nxt: 0,
        }
    }
}

/// A congestion control algorithm: the window and its reactions.
pub trait CongestionControl {
    /// The congestion window, bytes.
    fn window(&self) -> usize;

    /// The slow start threshold, bytes (`usize::MAX` until the first
    /// congestion event).
    fn ssthresh(&self) -> usize;

    /// Whether the sender is in slow start.
    fn in_slow_start(&self) -> bool {
        self.window() < self.ssthresh()
    }

    /// New data was cumulatively acknowledged outside loss recovery.
    fn on_ack(&mut self, now: Instant, ack: &AckSample);

    /// Loss detected by duplicate ACKs or SACK, or an ECN echo: set
    /// ssthresh and bring cwnd down to it. `flight` is FlightSize.
    fn on_congestion_event(&mut self, now: Instant, flight: usize, mss: usize);

    /// Loss recovery ended (the recovery point was acknowledged).
    fn on_recovery_exit(&mut self, _now: Instant, _flight: usize, _mss: usize) {}

    /// The retransmission timer expired. `repeated` is true when the
    /// segment had already been retransmitted by the timer.
    fn on_retransmit_timeout(&mut self, now: Instant, flight: usize, mss: usize, repeated: bool);

    /// The connection sent nothing for longer than an RTO: restart from
    /// at most `restart_window` (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, now: Instant, restart_window: usize);

    /// Forces the window (RFC 5681 §3.1's one-segment window after a lost
    /// SYN).
    fn set_window(&mut self, cwnd: usize);

    /// Leave slow start without a loss (HyStart++): ssthresh = cwnd.
    fn end_slow_start(&mut self);

    /// Bytes per second to pace at, if the algorithm paces.
    fn pacing_rate(&self) -> Option<u64> {
        None
    }

    /// A short name, like Linux's `tcp_congestion_control` values.
    fn name(&self) -> &'static str;
}

/// The initial window of RFC 6928 §2: "min (10*MSS, max (2*MSS, 14600))",
/// with `segments` in place of 10.
pub fn initial_window(segments: u32, mss: usize) -> usize {
    let n = segments.max(1) as usize;
    (n * mss).min((2 * mss).max(n * 1460))
}

/// The shipped algorithms, dispatched without allocation.
#[derive(Debug, Clone)]
pub enum Algorithm {
    NewReno(NewReno),
    Cubic(Cubic),
}

/// A connection's congestion control: the algorithm, and HyStart++ for
/// its first slow start.
#[derive(Debug, Clone)]
pub struct Congestion {
    alg: Algorithm,
    hystart: HyStart,
}

impl Congestion {
    /// A fresh algorithm of `kind` with the initial window for `mss`.
    pub fn new(kind: CongestionKind, mss: usize, initial_segments: u32) -> Congestion {
        let iw = initial_window(initial_segments, mss);
        let alg = match kind {
            CongestionKind::NewReno => Algorithm::NewReno(NewReno::new(iw)),
            CongestionKind::Cubic => Algorithm::Cubic(Cubic::new(iw)),
        };
        Congestion {
            alg,
            hystart: HyStart::new(),
        }
    }

    /// The algorithm itself.
    pub fn algorithm(&self) -> &Algorithm {
        &self.alg
    }

    /// Whether HyStart++ holds the first slow start in its conservative
    /// phase.
    pub fn in_css(&self) -> bool {
        self.hystart.in_css()
    }

    fn inner(&self) -> &dyn CongestionControl {
        match &self.alg {
            Algorithm::NewReno(c) => c,
            Algorithm::Cubic(c) => c,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn CongestionControl {
        match &mut self.alg {
            Algorithm::NewReno(c) => c,
            Algorithm::Cubic(c) => c,
        }
    }
}

impl CongestionControl for Congestion {
    fn window(&self) -> usize {
        self.inner().window()
    }
    fn ssthresh(&self) -> usize {
        self.inner().ssthresh()
    }
    fn on_ack(&mut self, now: Instant, ack: &AckSample) {
        if !(ack.cwnd_limited && self.inner().in_slow_start()) {
            return self.inner_mut().on_ack(now, ack);
        }
        match self.hystart.on_ack(ack.ack, ack.snd_nxt, ack.rtt) {
            SlowStartStep::Standard => self.inner_mut().on_ack(now, ack),
            // RFC 9406 §4.2: in CSS "cwnd = cwnd + (min(N, L * SMSS) /
            // CSS_GROWTH_DIVISOR)".
            SlowStartStep::Conservative => {
                let css = AckSample {
                    acked: ack.acked / hystart::CSS_GROWTH_DIVISOR,
                    ..*ack
                };
                self.inner_mut().on_ack(now, &css)
            }
            SlowStartStep::Exit => {
                self.inner_mut().end_slow_start();
                self.inner_mut().on_ack(now, ack)
            }
        }
    }
    fn on_congestion_event(&mut self, now: Instant, flight: usize, mss: usize) {
        // RFC 9406 §4.2: "If loss or ECN-marking is observed anytime during
        // standard slow start or CSS, enter congestion avoidance".
        self.hystart.stop();
        self.inner_mut().on_congestion_event(now, flight, mss)
    }
    fn on_recovery_exit(&mut self, now: Instant, flight: usize, mss: usize) {
        self.inner_mut().on_recovery_exit(now, flight, mss)
    }
    fn on_retransmit_timeout(&mut self, now: Instant, flight: usize, mss: usize, repeated: bool) {
        self.hystart.stop();
        self.inner_mut().on_retransmit_timeout(now, flight, mss, repeated)
    }
    fn on_idle_restart(&mut self, now: Instant, restart_window: usize) {
        self.inner_mut().on_idle_restart(now, restart_window)
    }
    fn set_window(&mut self, cwnd: usize) {
        self.inner_mut().set_window(cwnd)
    }
    fn end_slow_start(&mut self) {
        self.hystart.stop();
        self.inner_mut().end_slow_start()
    }
    fn pacing_rate(&self) -> Option<u64> {
        self.inner().pacing_rate()
    }
    fn name(&self) -> &'static str {
        self.inner().name()
    }
}

/// Slow start shared by both algorithms.
///
/// RFC 5681 §3.1 increments cwnd "by at most SMSS bytes for each ACK
/// received that cumulatively acknowledges new data"; RFC 3465 (§2.2,
/// §3.2) counts bytes instead, up to a limit L of 2*SMSS per ACK to offset
/// delayed ACKs. Like Linux we count every byte acknowledged (a receiver
/// that coalesces segments, GRO/LRO, acknowledges many per ACK and would
/// otherwise stall slow start), but never past ssthresh: the remainder is
/// returned for congestion avoidance.
pub(crate) fn slow_start(cwnd: &mut usize, ssthresh: usize, acked: usize) -> usize {
    let room = ssthresh.saturating_sub(*cwnd);
    let used = acked.min(room);
    *cwnd = cwnd.saturating_add(used).min(MAX_WINDOW);
    acked - used
}

/// A ceiling for cwnd, far above any window TCP can use (2^30 bytes =
/// RFC 7323's maximum window, 2^30 - 1, rounded).
pub const MAX_WINDOW: usize = 1 << 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6928_initial_window() {
        assert_eq!(initial_window(10, 1460), 14_600);
        assert_eq!(initial_window(10, 536), 5_360);
        // Jumbo MSS: capped at max(2*MSS, 14600).
        assert_eq!(initial_window(10, 8960), 17_920);
        assert_eq!(initial_window(1, 1460), 1460);
    }

    #[test]
    fn dispatch_names() {
        assert_eq!(Congestion::new(CongestionKind::Cubic, 1000, 10).name(), "cubic");
        assert_eq!(Congestion::new(CongestionKind::NewReno, 1000, 10).name(), "reno");
        assert_eq!(Congestion::new(CongestionKind::Cubic, 1000, 10).pacing_rate(), None);
    }

    #[test]
    fn slow_start_stops_at_ssthresh() {
        let mut cwnd = 10_000;
        assert_eq!(slow_start(&mut cwnd, 12_000, 5_000), 3_000);
        assert_eq!(cwnd, 12_000);
    }
}
