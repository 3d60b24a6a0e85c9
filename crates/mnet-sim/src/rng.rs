//! A small, seeded, deterministic pseudo-random generator for fault
//! injection: SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom
//! number generators", OOPSLA 2014). Not cryptographic, and it need not be:
//! it only decides which frames a simulated link damages. Same seed, same
//! sequence, on every platform.

/// The SplitMix64 increment (the "golden gamma", 2^64 / φ rounded to odd).
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// A SplitMix64 generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        SimRng { state: seed }
    }

    /// An independent generator for sub-stream `index` (a link, a device),
    /// derived from `seed` so that adding a stream leaves the others as
    /// they were.
    pub fn derive(seed: u64, index: u64) -> Self {
        let mut mixer = SimRng::new(seed ^ mix(index.wrapping_add(1)));
        SimRng::new(mixer.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    /// A value uniform in `0..bound` (0 when `bound` is 0), by the
    /// multiply-high method; the bias is below `bound / 2^64`.
    pub fn below(&mut self, bound: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(bound);
        // The high half of a 64x64 product is below `bound`: it fits.
        u64::try_from(wide >> 64).unwrap_or(0)
    }

    /// A value uniform in `low..=high` (`low` when `high < low`).
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        let span = high - low;
        match span.checked_add(1) {
            Some(n) => low + self.below(n),
            None => self.next_u64(),
        }
    }
}

/// The SplitMix64 output function (a variant of MurmurHash3's finaliser).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_splitmix64() {
        // Reference values of SplitMix64 seeded with 1234567 (from the
        // public-domain C reference by Sebastiano Vigna).
        let mut rng = SimRng::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(rng.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn same_seed_same_sequence() {
        let mut a = SimRng::new(7);
        let mut b = SimRng::new(7);
        let mut c = SimRng::new(8);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..100).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn derived_streams_differ() {
        let mut a = SimRng::derive(1, 0);
        let mut b = SimRng::derive(1, 1);
        assert_ne!(a.next_u64(), b.next_u64());
        assert_eq!(SimRng::derive(1, 5), SimRng::derive(1, 5));
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = SimRng::new(99);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            let v = rng.below(10);
            assert!(v < 10);
            seen[v as usize] += 1;
        }
        for count in seen {
            assert!((800..1200).contains(&count), "count {count}");
        }
        assert_eq!(rng.below(0), 0);
        for _ in 0..1000 {
            let v = rng.between(5, 7);
            assert!((5..=7).contains(&v));
        }
        assert_eq!(rng.between(9, 3), 9);
    }
}
