//! Random MAC addresses for interfaces that were not given one.

use std::fs::File;
use std::io::Read;

use mnet::wire::EthernetAddress;

/// Turns six arbitrary bytes into a locally administered unicast MAC.
///
/// IEEE 802-2014 §8.2: the least significant bit of the first octet is the
/// I/G bit (0 = individual, i.e. unicast) and the next bit is the U/L bit
/// (1 = locally administered, so it never collides with a vendor's OUI).
pub fn locally_administered_unicast(mut bytes: [u8; 6]) -> EthernetAddress {
    bytes[0] = (bytes[0] & !0x01) | 0x02;
    EthernetAddress(bytes)
}

/// A random locally administered unicast MAC, from `/dev/urandom`.
///
/// If `/dev/urandom` cannot be read (a very strange host), the bytes come
/// from std's randomly keyed hasher instead, so this never fails.
pub fn random_mac() -> EthernetAddress {
    let mut bytes = [0u8; 6];
    let read = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if let Err(e) = read {
        log::warn!("cannot read /dev/urandom ({e}); using a hasher-derived MAC");
        bytes = fallback_bytes();
    }
    locally_administered_unicast(bytes)
}

fn fallback_bytes() -> [u8; 6] {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is keyed from the OS's randomness once per process.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    let v = h.finish().to_le_bytes();
    [v[0], v[1], v[2], v[3], v[4], v[5]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_forced() {
        let m = locally_administered_unicast([0xff; 6]);
        assert_eq!(m.0, [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]);
        let m = locally_administered_unicast([0x00; 6]);
        assert_eq!(m.0, [0x02, 0, 0, 0, 0, 0]);
        let m = locally_administered_unicast([0x01, 1, 2, 3, 4, 5]);
        assert_eq!(m.0, [0x02, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn random_macs_are_local_unicast_and_differ() {
        let macs: Vec<EthernetAddress> = (0..16).map(|_| random_mac()).collect();
        for m in &macs {
            assert!(m.is_unicast(), "{m}");
            assert!(m.is_local(), "{m}");
        }
        // 16 draws of 46 random bits: a repeat means the source is broken.
        for (i, a) in macs.iter().enumerate() {
            for b in &macs[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn fallback_is_local_unicast() {
        let m = locally_administered_unicast(fallback_bytes());
        assert!(m.is_unicast() && m.is_local());
    }
}
