//! Time without std: an [`Instant`] is microseconds since an arbitrary epoch
//! chosen by the runtime, a [`Duration`] is `core::time::Duration`.
//!
//! The engine never reads a clock: every entry point takes `now`.

use core::num::NonZeroU64;
use core::ops::{Add, AddAssign, Sub};

pub use core::time::Duration;

/// A point in time, in microseconds since an epoch the runtime picks.
///
/// Kept as `micros + 1` in a `NonZeroU64`: an `Option<Instant>` (every
/// timer of a connection) then takes 8 bytes, not 16. The last
/// representable instant, [`Instant::MAX`], is `u64::MAX - 1` µs
/// (half a million years); arithmetic saturates there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    micros_plus_one: NonZeroU64,
}

impl Default for Instant {
    fn default() -> Self {
        Instant::ZERO
    }
}

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant::from_micros(0);
    /// The far future: where arithmetic saturates.
    pub const MAX: Instant = Instant::from_micros(u64::MAX);

    pub const fn from_micros(micros: u64) -> Self {
        match NonZeroU64::new(micros.saturating_add(1)) {
            Some(micros_plus_one) => Instant { micros_plus_one },
            None => Instant {
                micros_plus_one: NonZeroU64::MAX,
            },
        }
    }

    pub const fn from_millis(millis: u64) -> Self {
        Instant::from_micros(millis.saturating_mul(1000))
    }

    pub const fn from_secs(secs: u64) -> Self {
        Instant::from_micros(secs.saturating_mul(1_000_000))
    }

    pub const fn total_micros(self) -> u64 {
        self.micros_plus_one.get() - 1
    }

    pub const fn total_millis(self) -> u64 {
        self.total_micros() / 1000
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.total_micros().saturating_sub(earlier.total_micros()))
    }

    /// `self + d`, saturating at the far future instead of overflowing.
    pub fn saturating_add(self, d: Duration) -> Instant {
        Instant::from_micros(self.total_micros().saturating_add(duration_micros(d)))
    }
}

fn duration_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant::from_micros(self.total_micros().saturating_sub(duration_micros(d)))
    }
}

/// The earlier of two optional deadlines (`None` means "never").
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(5);
        assert_eq!(t + Duration::from_millis(2), Instant::from_millis(7));
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(
            Instant::from_micros(u64::MAX) + Duration::from_secs(1),
            Instant::from_micros(u64::MAX)
        );
        assert_eq!(earliest(None, Some(t)), Some(t));
        assert_eq!(earliest(Some(Instant::ZERO), Some(t)), Some(Instant::ZERO));
        assert_eq!(Instant::MAX.total_micros(), u64::MAX - 1);
        assert_eq!(Instant::MAX - Instant::ZERO, Duration::from_micros(u64::MAX - 1));
        assert!(Instant::ZERO < Instant::from_micros(1));
    }

    #[test]
    fn an_optional_instant_costs_no_more_than_an_instant() {
        assert_eq!(core::mem::size_of::<Option<Instant>>(), 8);
    }
}
