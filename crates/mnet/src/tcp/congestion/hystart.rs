//! HyStart++ (RFC 9406): leave the first slow start when the round-trip
//! time starts to grow, before the bottleneck queue overflows.
//!
//! Standard slow start doubles the window every round until a loss; on a
//! path with a deep queue the last doubling overflows it and a burst of
//! segments is lost at once (in the simulator's 100 Mbit/s, 256-frame
//! bottleneck: ~870 drops and a timeout in the first second). HyStart++
//! watches the minimum RTT of each round: when it rises by a threshold it
//! switches to Conservative Slow Start (CSS, a quarter of the growth) and,
//! after [`CSS_ROUNDS`] rounds, to congestion avoidance. A minimum RTT that
//! falls back below the baseline during CSS means the exit was spurious:
//! slow start resumes.
//!
//! RFC 9406 §4.2: "An implementation SHOULD use HyStart++ only for the
//! initial slow start (when the ssthresh is at its initial value of
//! arbitrarily high per [RFC5681]) and fall back to using standard slow
//! start for the remainder of the connection lifetime."

use crate::time::Duration;
use core::num::NonZeroU64;

/// RFC 9406 §4.3: "MIN_RTT_THRESH = 4 msec".
pub const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
/// RFC 9406 §4.3: "MAX_RTT_THRESH = 16 msec".
pub const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
/// RFC 9406 §4.3: "MIN_RTT_DIVISOR = 8".
pub const MIN_RTT_DIVISOR: u32 = 8;
/// RFC 9406 §4.3: "N_RTT_SAMPLE = 8".
pub const N_RTT_SAMPLE: u32 = 8;
/// RFC 9406 §4.3: "CSS_GROWTH_DIVISOR = 4".
pub const CSS_GROWTH_DIVISOR: usize = 4;
/// RFC 9406 §4.3: "CSS_ROUNDS = 5".
pub const CSS_ROUNDS: u32 = 5;

/// What slow start should do with one ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowStartStep {
    /// Standard slow start: grow by the bytes acknowledged.
    Standard,
    /// Conservative Slow Start: grow by the bytes acknowledged divided by
    /// [`CSS_GROWTH_DIVISOR`].
    Conservative,
    /// CSS has run its rounds: set ssthresh to cwnd (congestion avoidance).
    Exit,
}

/// An RTT in 8 bytes where `Option<Duration>` takes 16: microseconds + 1
/// (saturating), so that zero stays representable.
fn packed(rtt: Duration) -> Option<NonZeroU64> {
    NonZeroU64::new(u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).saturating_add(1))
}

fn unpacked(rtt: Option<NonZeroU64>) -> Option<Duration> {
    rtt.map(|v| Duration::from_micros(v.get() - 1))
}

/// The HyStart++ state of one connection.
#[derive(Debug, Clone)]
pub struct HyStart {
    /// Off for good after the first slow start ended (exit, loss, timeout).
    done: bool,
    /// The end of the current round: SND.NXT when it began.
    window_end: Option<u64>,
    /// Round minimum RTTs, [`packed`] (8 bytes each: every connection
    /// carries this state through its first slow start).
    last_round_min_rtt: Option<NonZeroU64>,
    current_round_min_rtt: Option<NonZeroU64>,
    rtt_sample_count: u32,
    /// Set while in CSS: the minimum RTT that made us leave slow start.
    css_baseline_min_rtt: Option<NonZeroU64>,
    css_rounds: u32,
}

impl Default for HyStart {
    fn default() -> Self {
        HyStart::new()
    }
}

impl HyStart {
    pub const fn new() -> HyStart {
        HyStart {
            done: false,
            window_end: None,
            last_round_min_rtt: None,
            current_round_min_rtt: None,
            rtt_sample_count: 0,
            css_baseline_min_rtt: None,
            css_rounds: 0,
        }
    }

    /// The first slow start is over (a loss, a timeout, or our own exit):
    /// standard slow start from now on.
    pub fn stop(&mut self) {
        self.done = true;
        self.css_baseline_min_rtt = None;
    }

    /// Whether the connection is in Conservative Slow Start.
    pub fn in_css(&self) -> bool {
        !self.done && self.css_baseline_min_rtt.is_some()
    }

    /// One ACK during slow start that acknowledged up to `ack` (a stream
    /// offset), with SND.NXT at `snd_nxt` and `rtt` measured from it.
    pub fn on_ack(&mut self, ack: u64, snd_nxt: u64, rtt: Option<Duration>) -> SlowStartStep {
        if self.done {
            return SlowStartStep::Standard;
        }
        // §4.2: "At the start of each round during standard slow start
        // [RFC5681] and CSS, initialize the variables used to compute the
        // last round's and current round's minimum RTT: lastRoundMinRTT =
        // currentRoundMinRTT; currentRoundMinRTT = infinity;
        // rttSampleCount = 0". A round ends when the ACK passes the
        // SND.NXT of its start.
        if self.window_end.is_none_or(|end| ack >= end) {
            self.window_end = Some(snd_nxt);
            self.last_round_min_rtt = self.current_round_min_rtt;
            self.current_round_min_rtt = None;
            self.rtt_sample_count = 0;
            if self.css_baseline_min_rtt.is_some() {
                self.css_rounds += 1;
                // §4.2: "If CSS_ROUNDS rounds are complete, enter
                // congestion avoidance by setting the ssthresh to the
                // current cwnd."
                if self.css_rounds >= CSS_ROUNDS {
                    self.stop();
                    return SlowStartStep::Exit;
                }
            }
        }
        // "Keep track of the minimum observed RTT: currentRoundMinRTT =
        // min(currentRoundMinRTT, currRTT); rttSampleCount += 1".
        if let Some(rtt) = rtt {
            self.current_round_min_rtt = packed(unpacked(self.current_round_min_rtt).map_or(rtt, |m| m.min(rtt)));
            self.rtt_sample_count += 1;
        }
        let (Some(current), Some(last)) = (unpacked(self.current_round_min_rtt), unpacked(self.last_round_min_rtt)) else {
            return self.step();
        };
        if self.rtt_sample_count < N_RTT_SAMPLE {
            return self.step();
        }
        match unpacked(self.css_baseline_min_rtt) {
            None => {
                // "RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT /
                // MIN_RTT_DIVISOR, MAX_RTT_THRESH)); if (currentRoundMinRTT
                // >= (lastRoundMinRTT + RttThresh)) cssBaselineMinRtt =
                // currentRoundMinRTT; exit slow start and enter CSS".
                let thresh = (last / MIN_RTT_DIVISOR).min(MAX_RTT_THRESH).max(MIN_RTT_THRESH);
                if current >= last + thresh {
                    self.css_baseline_min_rtt = packed(current);
                    self.css_rounds = 0;
                }
            }
            Some(baseline) => {
                // "if (currentRoundMinRTT < cssBaselineMinRtt)
                // cssBaselineMinRtt = infinity; resume slow start including
                // HyStart++".
                if current < baseline {
                    self.css_baseline_min_rtt = None;
                }
            }
        }
        self.step()
    }

    fn step(&self) -> SlowStartStep {
        if self.in_css() {
            SlowStartStep::Conservative
        } else {
            SlowStartStep::Standard
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    /// Feeds one round of `samples` ACKs with RTT `rtt`, the round
    /// starting at `start` with SND.NXT `start + 100`: the step of its last
    /// ACK, or `Exit` if any ACK said so.
    fn round(h: &mut HyStart, start: u64, rtt: u64, samples: u64) -> SlowStartStep {
        let mut step = SlowStartStep::Standard;
        for i in 0..samples {
            step = h.on_ack(start + i, start + 100, ms(rtt));
            if step == SlowStartStep::Exit {
                return step;
            }
        }
        step
    }

    #[test]
    fn a_steady_rtt_keeps_standard_slow_start() {
        let mut h = HyStart::new();
        for r in 0..10 {
            assert_eq!(round(&mut h, r * 100, 20, 10), SlowStartStep::Standard);
        }
    }

    #[test]
    fn rising_rtt_enters_css_then_congestion_avoidance_after_css_rounds() {
        let mut h = HyStart::new();
        round(&mut h, 0, 20, 10);
        round(&mut h, 100, 20, 10);
        // 20 ms + max(4, min(20/8, 16)) = 24 ms: 23 ms is not enough ...
        assert_eq!(round(&mut h, 200, 23, 10), SlowStartStep::Standard);
        // ... (the last round's minimum is now 23 ms) 27 ms is.
        assert_eq!(round(&mut h, 300, 27, 10), SlowStartStep::Conservative);
        // Fewer than N_RTT_SAMPLE samples in a round decide nothing.
        let mut exit_at = None;
        for r in 4..4 + u64::from(CSS_ROUNDS) + 1 {
            if round(&mut h, r * 100, 28, 10) == SlowStartStep::Exit {
                exit_at = Some(r);
                break;
            }
        }
        assert_eq!(exit_at, Some(4 + u64::from(CSS_ROUNDS) - 1), "CSS lasts CSS_ROUNDS rounds");
        assert_eq!(
            round(&mut h, 1000, 200, 10),
            SlowStartStep::Standard,
            "HyStart++ is for the first slow start only"
        );
    }

    #[test]
    fn a_falling_rtt_during_css_resumes_slow_start() {
        let mut h = HyStart::new();
        round(&mut h, 0, 20, 10);
        assert_eq!(round(&mut h, 100, 30, 10), SlowStartStep::Conservative);
        // The baseline is 30 ms; a round whose minimum is 21 ms says the
        // exit was spurious.
        assert_eq!(round(&mut h, 200, 21, 10), SlowStartStep::Standard);
        assert!(!h.in_css());
    }

    #[test]
    fn too_few_samples_decide_nothing() {
        let mut h = HyStart::new();
        round(&mut h, 0, 20, 10);
        assert_eq!(round(&mut h, 100, 50, u64::from(N_RTT_SAMPLE) - 1), SlowStartStep::Standard);
    }

    #[test]
    fn stopped_stays_standard() {
        let mut h = HyStart::new();
        h.stop();
        round(&mut h, 0, 20, 10);
        assert_eq!(round(&mut h, 100, 50, 10), SlowStartStep::Standard);
    }
}
