//! Round-trip time estimation and the retransmission timeout (RFC 6298),
//! with millisecond resolution.
//!
//! RFC 6298 §2 in short: the first measurement R sets SRTT <- R,
//! RTTVAR <- R/2; later ones RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
//! and SRTT <- (1 - alpha) * SRTT + alpha * R' with alpha = 1/8, beta = 1/4;
//! always RTO <- SRTT + max (G, K*RTTVAR) with K = 4.
//!
//! Departure, as in Linux and the TCP issue: the lower bound is
//! [`RTO_MIN`](super::RTO_MIN) (200 ms) instead of RFC 6298 §2.4's 1 s
//! ("Whenever RTO is computed, if it is less than 1 second, then the RTO
//! SHOULD be rounded up to 1 second."). Both bounds are configurable.
//!
//! ```
//! use mnet::tcp::rtt::RttEstimator;
//! use mnet::Duration;
//! let mut e = RttEstimator::new(Duration::from_secs(1), Duration::from_millis(200), Duration::from_secs(120));
//! e.sample(Duration::from_millis(100));
//! assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
//! assert_eq!(e.rto(), Duration::from_millis(300)); // 100 + 4 * 50
//! e.back_off();
//! assert_eq!(e.rto(), Duration::from_millis(600));
//! ```

use crate::time::Duration;
use core::num::NonZeroU64;

/// Clock granularity G of RFC 6298 §2: our timers tick in microseconds,
/// our timestamps in milliseconds.
pub const CLOCK_GRANULARITY: Duration = Duration::from_millis(1);

/// Largest backoff exponent kept (2^16 times any RTO is past any maximum).
const MAX_BACKOFF_SHIFT: u32 = 16;

/// SRTT, RTTVAR and the RTO with its exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttEstimator {
    /// Microseconds; `None` before the first measurement. Samples are at
    /// least [`CLOCK_GRANULARITY`], never zero: `NonZeroU64` keeps the
    /// `Option`s of this estimator (one per connection) at 8 bytes.
    srtt: Option<NonZeroU64>,
    rttvar: u64,
    /// The RTO before backoff, microseconds.
    base_rto: u64,
    backoff: u32,
    min: u64,
    max: u64,
    /// Smallest RTT seen, microseconds (for congestion control).
    min_rtt: Option<NonZeroU64>,
    latest: Option<NonZeroU64>,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl RttEstimator {
    /// RFC 6298 §2.1: "Until a round-trip time (RTT) measurement has been
    /// made for a segment sent between the sender and receiver, the sender
    /// SHOULD set RTO <- 1 second".
    pub fn new(initial: Duration, min: Duration, max: Duration) -> RttEstimator {
        let (min, max) = (micros(min), micros(max).max(micros(min)));
        RttEstimator {
            srtt: None,
            rttvar: 0,
            base_rto: micros(initial).clamp(min, max),
            backoff: 0,
            min,
            max,
            min_rtt: None,
            latest: None,
        }
    }

    /// Feeds one measurement (RFC 6298 §2.2, §2.3) and clears the backoff:
    /// a fresh sample means the path answers again.
    pub fn sample(&mut self, rtt: Duration) {
        // A zero measurement (same millisecond) counts as the clock
        // granularity.
        let r = micros(rtt).max(micros(CLOCK_GRANULARITY));
        match self.srtt {
            None => {
                // RFC 6298 §2.2: "SRTT <- R, RTTVAR <- R/2"
                self.srtt = NonZeroU64::new(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let srtt = srtt.get();
                // RFC 6298 §2.3: "RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|
                // SRTT <- (1 - alpha) * SRTT + alpha * R'" with alpha = 1/8,
                // beta = 1/4, RTTVAR updated first.
                let diff = srtt.abs_diff(r);
                self.rttvar = (3 * self.rttvar + diff) / 4;
                self.srtt = NonZeroU64::new((7 * srtt + r) / 8);
            }
        }
        let srtt = self.srtt.map_or(r, NonZeroU64::get);
        // RFC 6298 §2.3: "RTO <- SRTT + max (G, K*RTTVAR)" with K = 4.
        let var = (4 * self.rttvar).max(micros(CLOCK_GRANULARITY));
        self.base_rto = srtt.saturating_add(var).clamp(self.min, self.max);
        self.backoff = 0;
        self.min_rtt = NonZeroU64::new(self.min_rtt.map_or(r, |m| m.get().min(r)));
        self.latest = NonZeroU64::new(r);
    }

    /// RFC 6298 §5.5: "The host MUST set RTO <- RTO * 2 ("back off the
    /// timer")." The maximum still bounds it (§2.5: "A maximum value MAY be
    /// placed on RTO provided it is at least 60 seconds.").
    pub fn back_off(&mut self) {
        self.backoff = (self.backoff + 1).min(MAX_BACKOFF_SHIFT);
    }

    /// Clears the backoff without a sample.
    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
    }

    /// How many times the timer has been backed off.
    pub fn backoff(&self) -> u32 {
        self.backoff
    }

    /// The current RTO, backoff included.
    pub fn rto(&self) -> Duration {
        Duration::from_micros(self.base_rto.saturating_mul(1u64 << self.backoff).min(self.max))
    }

    /// Sets the un-backed-off RTO (RFC 6298 §5.7's 3 s after a lost SYN).
    pub fn set_base_rto(&mut self, rto: Duration) {
        self.base_rto = micros(rto).clamp(self.min, self.max);
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.srtt.map(|v| Duration::from_micros(v.get()))
    }

    pub fn rttvar(&self) -> Duration {
        Duration::from_micros(self.rttvar)
    }

    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt.map(|v| Duration::from_micros(v.get()))
    }

    pub fn latest(&self) -> Option<Duration> {
        self.latest.map(|v| Duration::from_micros(v.get()))
    }

    /// Whether any measurement was made.
    pub fn has_sample(&self) -> bool {
        self.srtt.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn est() -> RttEstimator {
        RttEstimator::new(ms(1000), ms(200), ms(120_000))
    }

    #[test]
    fn initial_rto_is_one_second() {
        let e = est();
        assert_eq!(e.rto(), ms(1000));
        assert_eq!(e.srtt(), None);
    }

    #[test]
    fn rfc6298_updates() {
        let mut e = est();
        e.sample(ms(400));
        // SRTT 400, RTTVAR 200, RTO 400 + 800.
        assert_eq!(e.rto(), ms(1200));
        e.sample(ms(200));
        // RTTVAR = 3/4*200 + 1/4*200 = 200; SRTT = 7/8*400 + 1/8*200 = 375.
        assert_eq!(e.rttvar(), ms(200));
        assert_eq!(e.srtt(), Some(ms(375)));
        assert_eq!(e.rto(), ms(1175));
        assert_eq!(e.min_rtt(), Some(ms(200)));
    }

    #[test]
    fn floor_and_ceiling() {
        let mut e = est();
        for _ in 0..50 {
            e.sample(ms(1));
        }
        assert_eq!(e.rto(), ms(200), "min RTO 200 ms");
        for _ in 0..40 {
            e.back_off();
        }
        assert_eq!(e.rto(), ms(120_000), "max RTO");
        e.sample(ms(1));
        assert_eq!(e.backoff(), 0);
        assert_eq!(e.rto(), ms(200));
    }

    #[test]
    fn backoff_doubles() {
        let mut e = est();
        let mut last = e.rto();
        for _ in 0..5 {
            e.back_off();
            assert_eq!(e.rto(), last * 2);
            last = e.rto();
        }
        e.reset_backoff();
        assert_eq!(e.rto(), ms(1000));
    }
}
