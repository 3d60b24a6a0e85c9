//! Virtual time shared by everything in one simulation.
//!
//! A [`SimClock`] is a counter of microseconds behind an `Arc`: cloning it is
//! cheap and every clone reads the same time. Time moves only when someone
//! calls [`SimClock::advance_to`] (usually `wait` of [`crate::SimPlatform`]), and
//! it never moves backwards, so "five seconds of protocol time" costs only
//! the CPU the protocol needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mnet::{Duration, Instant};

/// A shared virtual clock (`Send + Sync`, cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct SimClock {
    micros: Arc<AtomicU64>,
}

impl SimClock {
    /// A clock at [`Instant::ZERO`].
    pub fn new() -> Self {
        SimClock::default()
    }

    /// A clock that starts at `start`.
    pub fn starting_at(start: Instant) -> Self {
        SimClock {
            micros: Arc::new(AtomicU64::new(start.total_micros())),
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.micros.load(Ordering::Acquire))
    }

    /// Move the clock forward to `t`. A `t` in the past is ignored: time
    /// never goes backwards. Returns the time after the call.
    pub fn advance_to(&self, t: Instant) -> Instant {
        let before = self.micros.fetch_max(t.total_micros(), Ordering::AcqRel);
        Instant::from_micros(before.max(t.total_micros()))
    }

    /// Move the clock forward by `d`. Returns the time after the call.
    pub fn advance_by(&self, d: Duration) -> Instant {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let before = self
            .micros
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |m| Some(m.saturating_add(micros)))
            // The closure always returns `Some`, so this arm never runs.
            .unwrap_or_else(|m| m);
        Instant::from_micros(before.saturating_add(micros))
    }

    /// A closure reading this clock, for the middleware devices
    /// ([`crate::PcapDevice`], [`crate::FaultDevice`]) that take one.
    pub fn source(&self) -> impl Fn() -> Instant + Send + Sync + 'static {
        let clock = self.clone();
        move || clock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_and_never_goes_back() {
        let clock = SimClock::new();
        let other = clock.clone();
        assert_eq!(clock.now(), Instant::ZERO);
        assert_eq!(clock.advance_to(Instant::from_millis(5)), Instant::from_millis(5));
        assert_eq!(other.now(), Instant::from_millis(5));
        assert_eq!(clock.advance_to(Instant::from_millis(2)), Instant::from_millis(5));
        assert_eq!(other.now(), Instant::from_millis(5));
        assert_eq!(other.advance_by(Duration::from_micros(250)), Instant::from_micros(5_250));
        assert_eq!(clock.now(), Instant::from_micros(5_250));
        let source = clock.source();
        assert_eq!(source(), Instant::from_micros(5_250));
    }

    #[test]
    fn starts_where_asked_and_saturates() {
        let clock = SimClock::starting_at(Instant::from_secs(3));
        assert_eq!(clock.now(), Instant::from_secs(3));
        clock.advance_to(Instant::from_micros(u64::MAX));
        assert_eq!(clock.advance_by(Duration::from_secs(1)), Instant::from_micros(u64::MAX));
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SimClock>();
    }
}
