//! CUBIC (RFC 9438) in integer arithmetic.
//!
//! Windows are in bytes, time in milliseconds. RFC 9438 works in segments
//! and seconds; with SMSS bytes per segment its formulas become:
//!
//! - §4.2 eq. (1): W_cubic(t) = C * (t - K)^3 + W_max, C = 0.4 segments/s^3,
//!   so in bytes and milliseconds W_cubic = W_max + 4 * d^3 * SMSS / 10^10
//!   with d = t - K in ms;
//! - §4.2 eq. (2): K = cubic_root((W_max - cwnd_epoch) / C), so
//!   K_ms = cbrt((W_max - cwnd_epoch) * 2.5 * 10^9 / SMSS);
//! - §4.3 eq. (4): W_est grows by alpha_cubic * segments_acked / cwnd per
//!   ACK, alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic) = 9/17 for
//!   beta_cubic = 0.7.
//!
//! Fractions are carried in remainders, so the window drifts by less than
//! a byte however small each ACK is.

use super::{AckSample, CongestionControl, MAX_WINDOW, slow_start};
use crate::time::{Duration, Instant};

/// RFC 9438 §4.6: "beta_cubic SHOULD be set to 0.7", as a fraction.
const BETA_NUM: usize = 7;
const BETA_DEN: usize = 10;

/// The furthest |t - K| used, ms (about 2.8 hours): keeps d^3 in range.
const MAX_D_MS: i128 = 10_000_000;

/// Integer cube root: the largest r with r^3 <= n.
fn cbrt(n: u128) -> u64 {
    if n == 0 {
        return 0;
    }
    // 2^43 cubed overflows nothing below 2^129; n < 2^128 so r < 2^43.
    let (mut lo, mut hi) = (0u64, 1u64 << 43);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let m = u128::from(mid);
        if m.checked_mul(m).and_then(|sq| sq.checked_mul(m)).is_some_and(|cube| cube <= n) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// CUBIC state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cubic {
    cwnd: usize,
    ssthresh: usize,
    /// W_max: the window before the last reduction, bytes.
    w_max: usize,
    /// cwnd_prior: the window at the last congestion event.
    cwnd_prior: usize,
    /// The start of the current congestion-avoidance epoch.
    epoch_start: Option<Instant>,
    /// K, ms.
    k_ms: u64,
    /// W_est (§4.3), bytes, and its fractional remainder (numerator over
    /// 17 * cwnd).
    w_est: usize,
    w_est_rem: u64,
    /// Fractional remainder of cwnd increases (numerator over cwnd).
    cwnd_rem: u64,
}

impl Cubic {
    pub fn new(initial_window: usize) -> Cubic {
        Cubic {
            cwnd: initial_window,
            ssthresh: usize::MAX,
            w_max: 0,
            cwnd_prior: 0,
            epoch_start: None,
            k_ms: 0,
            w_est: initial_window,
            w_est_rem: 0,
            cwnd_rem: 0,
        }
    }

    /// W_cubic at `d_ms` = t - K, bytes (never negative).
    fn w_cubic(&self, d_ms: i128, mss: usize) -> usize {
        let d = d_ms.clamp(-MAX_D_MS, MAX_D_MS);
        let delta = 4 * d * d * d * mss as i128 / 10_000_000_000;
        let w = self.w_max as i128 + delta;
        w.clamp(0, MAX_WINDOW as i128) as usize
    }

    /// RFC 9438 §4.6 with fast convergence (§4.7).
    fn reduce(&mut self, mss: usize) {
        // §4.7: "if (cwnd < W_max AND fast_convergence enabled) { W_max =
        // cwnd * (1 + beta_cubic) / 2 } else { W_max = cwnd }"
        self.w_max = if self.cwnd < self.w_max {
            self.cwnd * (BETA_DEN + BETA_NUM) / (2 * BETA_DEN)
        } else {
            self.cwnd
        };
        // §4.6: "cwnd_prior = cwnd ... ssthresh = cwnd * beta_cubic ...
        // ssthresh = max(ssthresh, 2) // threshold is at least 2 MSS".
        self.cwnd_prior = self.cwnd;
        self.ssthresh = (self.cwnd * BETA_NUM / BETA_DEN).max(2 * mss);
        self.epoch_start = None;
        self.w_est_rem = 0;
        self.cwnd_rem = 0;
    }

    /// Starts a congestion-avoidance epoch (§4.2).
    fn start_epoch(&mut self, now: Instant, mss: usize) {
        self.epoch_start = Some(now);
        self.w_est = self.cwnd;
        self.w_est_rem = 0;
        if self.cwnd < self.w_max {
            // K = cubic_root((W_max - cwnd_epoch) / C), C = 0.4.
            let gap = (self.w_max - self.cwnd) as u128;
            self.k_ms = cbrt(gap * 2_500_000_000 / mss.max(1) as u128);
        } else {
            // §4.2: "K is set to 0 if cwnd_epoch is larger than W_max", and
            // the plateau moves up to where we are.
            self.k_ms = 0;
            self.w_max = self.cwnd;
        }
    }

    fn congestion_avoidance(&mut self, now: Instant, acked: usize, mss: usize, srtt: Duration) {
        if self.epoch_start.is_none() {
            self.start_epoch(now, mss);
        }
        let start = self.epoch_start.unwrap_or(now);
        let t_ms = (now - start).as_millis() as i128;
        let rtt_ms = srtt.as_millis() as i128;
        let cwnd = self.cwnd.max(1) as u128;

        // §4.3 eq. (4): W_est = W_est + alpha_cubic * segments_acked / cwnd,
        // alpha_cubic = 9/17 until W_est reaches cwnd_prior, then 1
        // ("Once W_est has grown to reach the cwnd at the time of most
        // recently setting ssthresh ... the sender SHOULD set alpha_cubic
        // to 1").
        let (a_num, a_den) = if self.w_est >= self.cwnd_prior { (1u128, 1u128) } else { (9, 17) };
        let num = u128::from(self.w_est_rem) + a_num * acked as u128 * mss as u128;
        let den = a_den * cwnd;
        self.w_est = self.w_est.saturating_add((num / den) as usize).min(MAX_WINDOW);
        // The remainder is below 17 * cwnd <= 17 * 2^30: it fits.
        self.w_est_rem = (num % den) as u64;

        // §4.2: W_cubic(t) at t and at t + RTT (the target, §4.4).
        let w_now = self.w_cubic(t_ms - self.k_ms as i128, mss);
        if w_now < self.w_est {
            // §4.3: "if W_cubic(t) is less than W_est ... CUBIC is in the
            // Reno-friendly region and cwnd SHOULD be set to W_est".
            if self.w_est > self.cwnd {
                self.cwnd = self.w_est;
            }
            return;
        }
        // §4.4: target = W_cubic(t + RTT), at least cwnd and at most
        // 1.5 * cwnd; "cwnd MUST be incremented by (target - cwnd)/cwnd for
        // each received new ACK" (in bytes: times acked / SMSS segments).
        let target = self
            .w_cubic(t_ms + rtt_ms - self.k_ms as i128, mss)
            .clamp(self.cwnd, self.cwnd + self.cwnd / 2);
        let num = u128::from(self.cwnd_rem) + (target - self.cwnd) as u128 * acked as u128;
        self.cwnd = self.cwnd.saturating_add((num / cwnd) as usize).min(MAX_WINDOW);
        self.cwnd_rem = (num % cwnd) as u64;
    }

    /// W_max, bytes (for tests and `TcpInfo`).
    pub fn w_max(&self) -> usize {
        self.w_max
    }

    /// K, milliseconds.
    pub fn k(&self) -> Duration {
        Duration::from_millis(self.k_ms)
    }
}

impl CongestionControl for Cubic {
    fn window(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn on_ack(&mut self, now: Instant, ack: &AckSample) {
        // RFC 9438 §4.6 note on application-limited flows: cwnd "MUST" be
        // kept from growing when it is not what limits the sender.
        if !ack.cwnd_limited {
            return;
        }
        // §4.10: "CUBIC MUST employ a slow-start algorithm, when cwnd is no
        // more than ssthresh."
        let rest = slow_start(&mut self.cwnd, self.ssthresh, ack.acked);
        if self.cwnd < self.ssthresh || rest == 0 {
            return;
        }
        let srtt = ack.srtt.unwrap_or(Duration::from_millis(100));
        self.congestion_avoidance(now, rest, ack.mss.max(1), srtt);
    }

    fn on_congestion_event(&mut self, _now: Instant, _flight: usize, mss: usize) {
        self.reduce(mss);
        self.cwnd = self.ssthresh;
    }

    fn on_retransmit_timeout(&mut self, _now: Instant, _flight: usize, mss: usize, repeated: bool) {
        // §4.8: "In the case of a timeout, CUBIC follows Reno to reduce cwnd
        // [RFC5681] but sets ssthresh using beta_cubic (same as in
        // Section 4.6)". The loss window is one segment.
        if !repeated {
            self.reduce(mss);
        }
        self.epoch_start = None;
        self.cwnd = mss;
    }

    fn on_idle_restart(&mut self, _now: Instant, restart_window: usize) {
        self.cwnd = self.cwnd.min(restart_window);
        // The cubic curve measures time in congestion avoidance; an idle
        // period is not such time.
        self.epoch_start = None;
    }

    fn set_window(&mut self, cwnd: usize) {
        self.cwnd = cwnd.min(MAX_WINDOW);
    }

    /// RFC 9438 §4.10: "When CUBIC uses HyStart++ [RFC9406], it may exit
    /// the first slow start without incurring any packet loss and thus
    /// W_max is undefined. In this special case, CUBIC sets cwnd_prior =
    /// cwnd and switches to congestion avoidance. It then increases its
    /// congestion window using Figure 1, where t is the elapsed time since
    /// the beginning of the current congestion avoidance stage, K is set to
    /// 0, and W_max is set to the congestion window size at the beginning
    /// of the current congestion avoidance stage."
    fn end_slow_start(&mut self) {
        self.cwnd_prior = self.cwnd;
        self.ssthresh = self.cwnd;
        self.w_max = self.cwnd;
        self.epoch_start = None;
    }

    fn name(&self) -> &'static str {
        "cubic"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    fn ack(acked: usize) -> AckSample {
        AckSample {
            acked,
            mss: MSS,
            srtt: Some(Duration::from_millis(100)),
            ..AckSample::default()
        }
    }

    #[test]
    fn integer_cube_root() {
        for n in [0u128, 1, 7, 8, 26, 27, 1000, 999_999, 1 << 60, u128::MAX] {
            let r = u128::from(cbrt(n));
            assert!(r * r * r <= n, "{n}");
            assert!((r + 1).checked_pow(3).is_none_or(|c| c > n), "{n}");
        }
    }

    #[test]
    fn reduction_is_beta_0_7_with_fast_convergence() {
        let mut c = Cubic::new(100 * MSS);
        c.on_congestion_event(Instant::ZERO, 100 * MSS, MSS);
        assert_eq!(c.window(), 70 * MSS);
        assert_eq!(c.ssthresh(), 70 * MSS);
        assert_eq!(c.w_max(), 100 * MSS);
        // A second loss below W_max: W_max = cwnd * (1 + 0.7) / 2.
        c.on_congestion_event(Instant::ZERO, 70 * MSS, MSS);
        assert_eq!(c.w_max(), 59_500);
        assert_eq!(c.window(), 49 * MSS);
    }

    #[test]
    fn k_matches_rfc_formula() {
        // W_max = 100 segments, cwnd = 70: K = cbrt(30 / 0.4) = cbrt(75) s
        // = 4.217 s.
        let mut c = Cubic::new(100 * MSS);
        c.on_congestion_event(Instant::ZERO, 100 * MSS, MSS);
        c.on_ack(Instant::from_secs(1), &ack(MSS));
        let k = c.k().as_millis();
        assert!((4216..=4218).contains(&k), "K = {k} ms");
    }

    #[test]
    fn concave_then_plateau_then_convex() {
        // After a reduction cwnd climbs back towards W_max, slows near it
        // (the plateau around K), then probes beyond it.
        let mut c = Cubic::new(100 * MSS);
        c.on_congestion_event(Instant::ZERO, 100 * MSS, MSS);
        let rtt = Duration::from_millis(100);
        let mut t = Instant::from_secs(1);
        let mut samples = alloc::vec::Vec::new();
        for _ in 0..200 {
            // One window of ACKs per round trip.
            let segs = c.window() / MSS;
            for _ in 0..segs {
                c.on_ack(t, &ack(MSS));
            }
            samples.push(c.window());
            t += rtt;
        }
        let at = |secs: f64| samples[(secs * 10.0) as usize - 1];
        assert!(at(1.0) > 70 * MSS, "grows from the reduced window");
        assert!(at(4.2) <= 101 * MSS && at(4.2) >= 97 * MSS, "plateau near W_max at K: {}", at(4.2));
        let early = at(1.5) - at(1.0);
        let flat = at(4.5) - at(4.0);
        let late = at(9.0) - at(8.5);
        assert!(early > flat && late > flat, "concave/convex: {early} {flat} {late}");
        assert!(at(12.0) > 120 * MSS);
    }

    #[test]
    fn reno_friendly_region_on_short_rtt() {
        // With a tiny window and short RTT, W_est (Reno's linear growth)
        // beats the cubic curve: cwnd still grows by about alpha_cubic
        // segments per round trip.
        let mut c = Cubic::new(10 * MSS);
        c.on_congestion_event(Instant::ZERO, 10 * MSS, MSS);
        assert_eq!(c.window(), 7 * MSS);
        let mut t = Instant::from_secs(1);
        for _ in 0..10 {
            let segs = c.window() / MSS;
            for _ in 0..segs {
                c.on_ack(
                    t,
                    &AckSample {
                        srtt: Some(Duration::from_millis(1)),
                        ..ack(MSS)
                    },
                );
            }
            t += Duration::from_millis(1);
        }
        assert!(c.window() >= 11 * MSS, "{}", c.window());
    }

    #[test]
    fn timeout_sets_one_segment() {
        let mut c = Cubic::new(50 * MSS);
        c.on_retransmit_timeout(Instant::ZERO, 50 * MSS, MSS, false);
        assert_eq!((c.window(), c.ssthresh()), (MSS, 35 * MSS));
        c.on_retransmit_timeout(Instant::ZERO, MSS, MSS, true);
        assert_eq!(c.ssthresh(), 35 * MSS);
        // Slow start back to ssthresh, then congestion avoidance.
        for _ in 0..100 {
            c.on_ack(Instant::from_secs(1), &ack(MSS));
        }
        assert!(c.window() > 35 * MSS);
    }
}
