//! Keyed hashing for every table a peer can fill.
//!
//! A peer chooses the keys of our connection, reassembly, neighbour and
//! path-MTU tables (addresses, ports, fragment identifications). With a
//! public hash function it could pick keys that all land in one bucket and
//! turn each lookup into a scan. [`KeyedState`] keys SipHash-1-3 with 128
//! bits drawn from the stack's [`Rng`], so bucket positions are
//! unpredictable to anyone who does not know the seed.
//!
//! ```
//! use mnet::rand::Rng;
//! let mut rng = Rng::from_seed([9; 32]);
//! let mut table: mnet::hash::HashMap<u16, &str> = mnet::hash::new_map(&mut rng);
//! table.insert(80, "http");
//! assert_eq!(table.get(&80), Some(&"http"));
//! ```

use core::hash::BuildHasher;

use siphasher::sip::SipHasher13;

use crate::rand::Rng;

/// A `HashMap` whose hasher is keyed from the stack's randomness.
pub type HashMap<K, V> = hashbrown::HashMap<K, V, KeyedState>;

/// A `HashSet` whose hasher is keyed from the stack's randomness.
pub type HashSet<K> = hashbrown::HashSet<K, KeyedState>;

/// A [`BuildHasher`] for SipHash-1-3 with a secret 128-bit key.
///
/// There is deliberately no `Default`: an unkeyed table must not be built by
/// accident. `Debug` does not print the key.
#[derive(Clone)]
pub struct KeyedState {
    k0: u64,
    k1: u64,
}

impl KeyedState {
    /// A fresh secret key drawn from `rng`.
    pub fn new(rng: &mut Rng) -> KeyedState {
        KeyedState {
            k0: rng.next_u64(),
            k1: rng.next_u64(),
        }
    }
}

impl core::fmt::Debug for KeyedState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyedState { .. }")
    }
}

impl BuildHasher for KeyedState {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// An empty keyed map.
pub fn new_map<K, V>(rng: &mut Rng) -> HashMap<K, V> {
    HashMap::with_hasher(KeyedState::new(rng))
}

/// An empty keyed map with room for `capacity` entries before it grows.
pub fn with_capacity<K, V>(rng: &mut Rng, capacity: usize) -> HashMap<K, V> {
    HashMap::with_capacity_and_hasher(capacity, KeyedState::new(rng))
}

/// An empty keyed set.
pub fn new_set<K>(rng: &mut Rng) -> HashSet<K> {
    HashSet::with_hasher(KeyedState::new(rng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    #[test]
    fn map_works() {
        let mut rng = Rng::from_seed([1; 32]);
        let mut m: HashMap<IpAddr, u32> = with_capacity(&mut rng, 16);
        for i in 0..1000u32 {
            m.insert(IpAddr::V4(Ipv4Addr::from_bits(i)), i);
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.get(&IpAddr::V4(Ipv4Addr::from_bits(777))), Some(&777));
        let mut s: HashSet<u8> = new_set(&mut rng);
        assert!(s.insert(1));
        assert!(!s.insert(1));
    }

    #[test]
    fn keys_change_hashes() {
        let mut rng = Rng::from_seed([2; 32]);
        let a = KeyedState::new(&mut rng);
        let b = KeyedState::new(&mut rng);
        let x = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(a.hash_one(x), a.clone().hash_one(x));
        assert_ne!(a.hash_one(x), b.hash_one(x));
    }

    #[test]
    fn same_seed_same_key() {
        let a = KeyedState::new(&mut Rng::from_seed([3; 32]));
        let b = KeyedState::new(&mut Rng::from_seed([3; 32]));
        assert_eq!(a.hash_one(42u64), b.hash_one(42u64));
    }
}
