//! The faults a simulated link (or a [`crate::FaultDevice`]) applies to
//! frames: loss, duplication, reordering and corruption, each with a
//! probability drawn from a seeded [`SimRng`].
//!
//! Corruption flips exactly one bit at a byte offset of 14 or more: a real
//! NIC drops frames whose Ethernet header (or anything else) is damaged
//! because their FCS fails, so what reaches a stack damaged is damage the
//! FCS missed — modelled here as a single flipped bit past the Ethernet
//! header, which the IPv4 header checksum or the UDP/TCP/ICMP checksum
//! always catches (a ones'-complement sum detects every single-bit error).

use mnet::Duration;

use crate::rng::SimRng;

/// The length of an Ethernet II header (destination, source, EtherType).
pub const ETHERNET_HEADER_LEN: usize = 14;

/// One million: the denominator of a [`Ratio`].
pub const PARTS_PER_MILLION: u32 = 1_000_000;

/// A probability in parts per million (0 = never, 1 000 000 = always).
/// Integer so that a configuration is exact and hashable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ratio(u32);

impl Ratio {
    /// Never.
    pub const ZERO: Ratio = Ratio(0);
    /// Always.
    pub const ONE: Ratio = Ratio(PARTS_PER_MILLION);

    /// `ppm` parts per million, clamped to [`Ratio::ONE`].
    pub const fn from_ppm(ppm: u32) -> Ratio {
        if ppm > PARTS_PER_MILLION {
            Ratio(PARTS_PER_MILLION)
        } else {
            Ratio(ppm)
        }
    }

    /// `percent` out of a hundred, clamped to [`Ratio::ONE`].
    pub const fn from_percent(percent: u32) -> Ratio {
        Ratio::from_ppm(percent.saturating_mul(PARTS_PER_MILLION / 100))
    }

    /// A fraction in `0.0..=1.0` (NaN and negatives give zero, values above
    /// one give one), rounded to the nearest part per million.
    pub fn from_fraction(fraction: f64) -> Ratio {
        if fraction.is_nan() || fraction <= 0.0 {
            return Ratio::ZERO;
        }
        if fraction >= 1.0 {
            return Ratio::ONE;
        }
        // In range 0..=1e6 after the checks above, so the cast is exact.
        Ratio((fraction * f64::from(PARTS_PER_MILLION)).round() as u32)
    }

    /// Parts per million.
    pub const fn ppm(self) -> u32 {
        self.0
    }

    /// As a fraction in `0.0..=1.0`.
    pub fn as_fraction(self) -> f64 {
        f64::from(self.0) / f64::from(PARTS_PER_MILLION)
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Draw once: true with this probability. A zero ratio draws nothing,
    /// so a fault-free configuration leaves the random stream untouched.
    pub(crate) fn sample(self, rng: &mut SimRng) -> bool {
        match self.0 {
            0 => false,
            PARTS_PER_MILLION => true,
            ppm => rng.below(u64::from(PARTS_PER_MILLION)) < u64::from(ppm),
        }
    }
}

/// The default largest extra delay of a reordered frame.
pub const DEFAULT_REORDER_DELAY: Duration = Duration::from_millis(5);

/// Per-frame fault probabilities for one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultConfig {
    /// Probability that a frame is dropped.
    pub loss: Ratio,
    /// Probability that a frame is delivered twice.
    pub duplicate: Ratio,
    /// Probability that a frame is held back by an extra delay, uniform in
    /// `1 µs..=reorder_delay`, so that frames sent after it overtake it.
    pub reorder: Ratio,
    /// Probability that one bit of a frame, at a byte offset of at least
    /// [`ETHERNET_HEADER_LEN`], is flipped. Frames of 14 bytes or fewer are
    /// never corrupted.
    pub corrupt: Ratio,
    /// The largest extra delay of a reordered frame.
    pub reorder_delay: Duration,
}

impl FaultConfig {
    /// No faults at all.
    pub const NONE: FaultConfig = FaultConfig {
        loss: Ratio::ZERO,
        duplicate: Ratio::ZERO,
        reorder: Ratio::ZERO,
        corrupt: Ratio::ZERO,
        reorder_delay: DEFAULT_REORDER_DELAY,
    };

    /// True when no fault can happen.
    pub fn is_none(&self) -> bool {
        self.loss.is_zero() && self.duplicate.is_zero() && self.reorder.is_zero() && self.corrupt.is_zero()
    }

    /// Decide the fate of one frame. The draws happen in a fixed order
    /// (loss, corrupt, duplicate, reorder), and only for non-zero ratios.
    pub(crate) fn roll(&self, rng: &mut SimRng) -> Verdict {
        let FaultConfig {
            loss,
            duplicate,
            reorder,
            corrupt,
            reorder_delay,
        } = *self;
        if loss.sample(rng) {
            return Verdict {
                drop: true,
                ..Verdict::default()
            };
        }
        let corrupt = corrupt.sample(rng);
        let duplicate = duplicate.sample(rng);
        let extra_delay = if reorder.sample(rng) {
            let max = u64::try_from(reorder_delay.as_micros()).unwrap_or(u64::MAX);
            Some(Duration::from_micros(rng.between(1, max.max(1))))
        } else {
            None
        };
        Verdict {
            drop: false,
            corrupt,
            duplicate,
            extra_delay,
        }
    }
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig::NONE
    }
}

/// What [`FaultConfig::roll`] decided for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Verdict {
    pub drop: bool,
    pub corrupt: bool,
    pub duplicate: bool,
    /// `Some`: hold the frame back this much longer (reorder).
    pub extra_delay: Option<Duration>,
}

/// Flip one random bit at a byte offset of at least
/// [`ETHERNET_HEADER_LEN`]. Returns the `(byte offset, bit)` flipped, or
/// `None` (and leaves the frame alone) when it has no byte past the header.
pub(crate) fn corrupt_one_bit(frame: &mut [u8], rng: &mut SimRng) -> Option<(usize, u8)> {
    let span = frame.len().checked_sub(ETHERNET_HEADER_LEN)?;
    if span == 0 {
        return None;
    }
    let span = u64::try_from(span).ok()?;
    let offset = ETHERNET_HEADER_LEN + usize::try_from(rng.below(span)).ok()?;
    let bit = u8::try_from(rng.below(8)).ok()?;
    let byte = frame.get_mut(offset)?;
    *byte ^= 1 << bit;
    Some((offset, bit))
}

/// Complete a partial L4 checksum the way a device honouring
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM` would: the ones'-complement sum of
/// `frame[csum_start..]` (whose checksum field holds the pseudo-header sum)
/// is complemented and stored at `csum_start + csum_offset`. A zero result
/// is stored as `0xffff` (RFC 768: "If the computed checksum is zero, it is
/// transmitted as all ones"; for TCP both forms are the same number).
/// Returns false, leaving the frame alone, when the offsets do not fit.
pub(crate) fn complete_partial_checksum(frame: &mut [u8], csum_start: usize, csum_offset: usize) -> bool {
    let (Ok(csum_start), Ok(csum_offset)) = (u16::try_from(csum_start), u16::try_from(csum_offset)) else {
        return false;
    };
    let meta = mnet::link::FrameMeta {
        flags: mnet::link::device::VIRTIO_NET_HDR_F_NEEDS_CSUM,
        csum_start,
        csum_offset,
        ..mnet::link::FrameMeta::PLAIN
    };
    mnet::link::offload::complete_partial_checksum(&meta, frame).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_constructors() {
        assert_eq!(Ratio::from_percent(1).ppm(), 10_000);
        assert_eq!(Ratio::from_percent(500), Ratio::ONE);
        assert_eq!(Ratio::from_ppm(2_000_000), Ratio::ONE);
        assert_eq!(Ratio::from_fraction(0.25).ppm(), 250_000);
        assert_eq!(Ratio::from_fraction(-1.0), Ratio::ZERO);
        assert_eq!(Ratio::from_fraction(f64::NAN), Ratio::ZERO);
        assert_eq!(Ratio::from_fraction(3.0), Ratio::ONE);
        assert!((Ratio::from_ppm(500_000).as_fraction() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn zero_and_one_draw_nothing() {
        let mut rng = SimRng::new(5);
        let before = rng.clone();
        assert!(!Ratio::ZERO.sample(&mut rng));
        assert!(Ratio::ONE.sample(&mut rng));
        assert_eq!(rng, before);
        assert_eq!(FaultConfig::NONE.roll(&mut rng), Verdict::default());
        assert_eq!(rng, before);
    }

    #[test]
    fn sample_rate_is_close() {
        let mut rng = SimRng::new(11);
        let ratio = Ratio::from_percent(10);
        let hits = (0..100_000).filter(|_| ratio.sample(&mut rng)).count();
        assert!((9_500..10_500).contains(&hits), "hits {hits}");
    }

    #[test]
    fn corrupt_flips_exactly_one_bit_past_the_header() {
        let mut rng = SimRng::new(3);
        for len in [15usize, 16, 60, 1514] {
            for _ in 0..200 {
                let original = vec![0u8; len];
                let mut frame = original.clone();
                let (offset, bit) = corrupt_one_bit(&mut frame, &mut rng).expect("corrupted");
                assert!(offset >= ETHERNET_HEADER_LEN && offset < len);
                assert_eq!(frame[offset], 1 << bit);
                let flipped: u32 = frame.iter().zip(&original).map(|(a, b)| (a ^ b).count_ones()).sum();
                assert_eq!(flipped, 1);
            }
        }
        let mut short = [0u8; 14];
        assert_eq!(corrupt_one_bit(&mut short, &mut rng), None);
        assert_eq!(short, [0u8; 14]);
        assert_eq!(corrupt_one_bit(&mut [], &mut rng), None);
    }

    #[test]
    fn reorder_delay_is_bounded() {
        let mut rng = SimRng::new(4);
        let config = FaultConfig {
            reorder: Ratio::ONE,
            reorder_delay: Duration::from_micros(300),
            ..FaultConfig::NONE
        };
        for _ in 0..1000 {
            let verdict = config.roll(&mut rng);
            let extra = verdict.extra_delay.expect("always reordered");
            assert!(extra >= Duration::from_micros(1) && extra <= Duration::from_micros(300));
            assert!(!verdict.drop && !verdict.corrupt && !verdict.duplicate);
        }
        let lossy = FaultConfig {
            loss: Ratio::ONE,
            ..config
        };
        assert!(lossy.roll(&mut rng).drop);
    }

    /// Ones'-complement sum of `bytes` plus `extra`, folded.
    fn folded_sum(bytes: &[u8], extra: u32) -> u16 {
        let mut sum = extra;
        for chunk in bytes.chunks(2) {
            let hi = u32::from(chunk[0]) << 8;
            sum += hi | chunk.get(1).map_or(0, |&b| u32::from(b));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn partial_checksum_completes_to_a_valid_sum() {
        for len in [40usize, 41, 75] {
            let mut frame: Vec<u8> = (0..len as u32).map(|i| (i * 37 + 11) as u8).collect();
            let pseudo: u16 = 0x1c2f;
            // csum_start 20, csum_offset 6 (the UDP checksum field).
            frame[26..28].copy_from_slice(&pseudo.to_be_bytes());
            let before = frame.clone();
            assert!(complete_partial_checksum(&mut frame, 20, 6));
            assert_eq!(frame[..26], before[..26]);
            assert_eq!(frame[28..], before[28..]);
            // The receiver's check: pseudo-header + segment sums to 0xffff.
            assert_eq!(folded_sum(&frame[20..], u32::from(pseudo)), 0xffff, "len {len}");
        }
        let mut short = vec![0u8; 27];
        assert!(!complete_partial_checksum(&mut short, 20, 6));
        assert!(!complete_partial_checksum(&mut short, usize::MAX, 6));
        assert_eq!(short, vec![0u8; 27]);
    }
}
