//! Token buckets: how the stack limits the ICMP errors it originates.
//!
//! RFC 4443 §2.4(f): "Finally, in order to limit the bandwidth and
//! forwarding costs incurred by originating ICMPv6 error messages, an IPv6
//! node MUST limit the rate of ICMPv6 error messages it originates."
//! ... "A recommended method for implementing the rate-limiting function is
//! a token bucket, limiting the average rate of transmission to N, where N
//! can be either packets/second or a fraction of the attached link's
//! bandwidth, but allowing up to B error messages to be transmitted in a
//! burst, as long as the long-term average is not exceeded."
//!
//! RFC 1812 §4.3.2.8 asks the same of IPv4 routers ("A router SHOULD also be
//! able to limit the rate at which it sends other sorts of ICMP error
//! messages (Destination Unreachable, Redirect, Time Exceeded, Parameter
//! Problem)."); a host gains from it too, since errors to a spoofed source
//! are a reflection vector.
//!
//! Arithmetic is integer and exact: the bucket counts micro-tokens
//! (1 token = 1,000,000 units) and `rate` tokens per second add exactly
//! `rate` units per microsecond elapsed, so no rounding error accumulates
//! however often it is polled.
//!
//! ```
//! use mnet::ip::rate_limit::TokenBucket;
//! use mnet::Instant;
//! let mut bucket = TokenBucket::new(10, 2); // 10/s, bursts of 2
//! let t = Instant::from_secs(1);
//! assert!(bucket.try_take(t));
//! assert!(bucket.try_take(t));
//! assert!(!bucket.try_take(t));
//! assert!(bucket.try_take(t + core::time::Duration::from_millis(100)));
//! ```

use crate::time::Instant;

/// Default rate of ICMP errors the stack originates, per second, across all
/// destinations: Linux's `net.ipv4.icmp_msgs_per_sec` default (1000).
pub const ICMP_ERROR_RATE: u32 = 1000;

/// Default burst of ICMP errors: Linux's `net.ipv4.icmp_msgs_burst` default (50).
pub const ICMP_ERROR_BURST: u32 = 50;

/// Units per token.
const UNIT: u64 = 1_000_000;

/// A token bucket: `burst` tokens at most, refilled at `rate_per_sec`.
/// It starts full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    rate_per_sec: u32,
    burst: u32,
    /// Micro-tokens available, at most `burst * UNIT`.
    level: u64,
    /// When `level` was last brought up to date; `None` before first use.
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilled at `rate_per_sec` tokens per
    /// second. A rate of 0 never refills; a burst of 0 never allows anything.
    pub fn new(rate_per_sec: u32, burst: u32) -> TokenBucket {
        TokenBucket {
            rate_per_sec,
            burst,
            level: u64::from(burst) * UNIT,
            last: None,
        }
    }

    /// The default bucket for ICMP errors ([`ICMP_ERROR_RATE`], [`ICMP_ERROR_BURST`]).
    pub fn icmp_errors() -> TokenBucket {
        TokenBucket::new(ICMP_ERROR_RATE, ICMP_ERROR_BURST)
    }

    pub fn rate_per_sec(&self) -> u32 {
        self.rate_per_sec
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    fn refill(&mut self, now: Instant) {
        let cap = u64::from(self.burst) * UNIT;
        match self.last {
            // A clock that steps back adds nothing and does not move `last`.
            Some(last) if now <= last => {}
            Some(last) => {
                let elapsed = now.total_micros() - last.total_micros();
                let add = elapsed.saturating_mul(u64::from(self.rate_per_sec));
                self.level = self.level.saturating_add(add).min(cap);
                self.last = Some(now);
            }
            None => self.last = Some(now),
        }
    }

    /// Take one token if there is one: `true` means "send".
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.level >= UNIT {
            self.level -= UNIT;
            true
        } else {
            false
        }
    }

    /// Whole tokens available at `now` (brings the bucket up to date).
    pub fn available(&mut self, now: Instant) -> u32 {
        self.refill(now);
        u32::try_from(self.level / UNIT).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn burst_then_rate() {
        let mut b = TokenBucket::new(10, 3);
        let t0 = Instant::from_secs(100);
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0));
        // 10/s: one token every 100 ms.
        assert!(!b.try_take(t0 + Duration::from_millis(99)));
        assert!(b.try_take(t0 + Duration::from_millis(100)));
        assert!(!b.try_take(t0 + Duration::from_millis(100)));
        // A long pause refills only up to the burst.
        let t1 = t0 + Duration::from_secs(3600);
        assert_eq!(b.available(t1), 3);
    }

    #[test]
    fn no_drift_with_frequent_polls() {
        // 7 tokens/s, burst 10, polled every 1 ms from 1 s to 10.999 s:
        // earned 9.999 s * 7 = 69.993 -> 69 whole tokens, plus the 10 the
        // bucket starts with. Rounding per poll would lose or gain tokens.
        let mut b = TokenBucket::new(7, 10);
        let mut t = Instant::from_secs(1);
        let mut sent = 0;
        for _ in 0..10_000 {
            if b.try_take(t) {
                sent += 1;
            }
            t += Duration::from_millis(1);
        }
        assert_eq!(sent, 79);
        // Odd steps (333 µs) up to 10.99999 s: the same count, and the
        // 70th earned token appears exactly at 11 s.
        let mut b = TokenBucket::new(7, 10);
        let mut t = Instant::from_secs(1);
        let mut sent = 0;
        while t < Instant::from_secs(11) {
            if b.try_take(t) {
                sent += 1;
            }
            t += Duration::from_micros(333);
        }
        assert_eq!(sent, 79);
        assert!(!b.try_take(Instant::from_micros(10_999_999)));
        assert!(b.try_take(Instant::from_secs(11)));
    }

    #[test]
    fn clock_going_back_gives_nothing() {
        let mut b = TokenBucket::new(1, 1);
        assert!(b.try_take(Instant::from_secs(10)));
        assert!(!b.try_take(Instant::from_secs(5)));
        assert!(!b.try_take(Instant::from_micros(10_999_999)));
        assert!(b.try_take(Instant::from_secs(11)));
    }

    #[test]
    fn degenerate_parameters() {
        let mut zero_burst = TokenBucket::new(1000, 0);
        assert!(!zero_burst.try_take(Instant::ZERO));
        assert!(!zero_burst.try_take(Instant::from_secs(10)));
        let mut zero_rate = TokenBucket::new(0, 2);
        assert!(zero_rate.try_take(Instant::ZERO));
        assert!(zero_rate.try_take(Instant::ZERO));
        assert!(!zero_rate.try_take(Instant::from_secs(1_000_000)));
        let mut huge = TokenBucket::new(u32::MAX, u32::MAX);
        assert!(huge.try_take(Instant::ZERO));
        assert!(huge.try_take(Instant::from_micros(u64::MAX)));
    }

    #[test]
    fn icmp_defaults() {
        let mut b = TokenBucket::icmp_errors();
        let t = Instant::from_secs(1);
        let sent = (0..100).filter(|_| b.try_take(t)).count();
        assert_eq!(sent, ICMP_ERROR_BURST as usize);
        // One more per millisecond at 1000/s.
        assert!(b.try_take(t + Duration::from_millis(1)));
        assert!(!b.try_take(t + Duration::from_millis(1)));
    }
}
