//! The Internet checksum (RFC 1071), the IPv4/IPv6 pseudo-headers and the
//! incremental update of RFC 1624.
//!
//! A checksum is computed in two steps: [`ones_sum`] accumulates the
//! one's-complement sum of 16-bit big-endian words (chainable: pass the
//! result of one call as `initial` of the next, as long as every chunk but
//! the last has an even length), then [`fold`] reduces it to 16 bits and the
//! caller inverts it. [`checksum`] does both for one buffer.
//!
//! ```
//! use mnet::wire::checksum::{checksum, fold, ones_sum};
//! // RFC 1071 §3's example: the words 0001 f203 f4f5 f6f7 sum to ddf2.
//! let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
//! assert_eq!(fold(ones_sum(0, &data)), 0xddf2);
//! assert_eq!(checksum(&data), !0xddf2);
//! ```

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::IpProtocol;

/// Adds the 16-bit big-endian words of `data` to `initial` in one's
/// complement arithmetic. An odd trailing byte is padded with a zero byte
/// on its right.
///
/// The result is folded to at most 16 significant bits, so results can be
/// added together (tens of thousands of them) or passed as `initial` without
/// overflowing. Chaining `ones_sum(ones_sum(0, a), b)` equals
/// `ones_sum(0, a ++ b)` when `a` has an even length.
pub fn ones_sum(initial: u32, data: &[u8]) -> u32 {
    // RFC 1071 §2 (C): "On machines that have word-sizes that are multiples
    // of 16 bits, it is possible to develop even more efficient
    // implementations. Because addition is associative, we do not have to
    // sum the integers in the order they appear in the message. Instead we
    // can add them in "parallel" by exploiting the larger word size."
    // Eight bytes per step in a 64-bit accumulator with end-around carry:
    // 2^64 - 1 is a multiple of 2^16 - 1, so the 64-bit one's-complement sum
    // folds down to the 16-bit one.
    let (words, rest) = data.as_chunks::<8>();
    let mut acc = u64::from(initial);
    let (pairs, single) = words.as_chunks::<2>();
    for [a, b] in pairs {
        // Two independent additions per iteration keep the carry chain short.
        let (s1, c1) = u64::from_be_bytes(*a).overflowing_add(u64::from_be_bytes(*b));
        let (s2, c2) = acc.overflowing_add(s1);
        acc = s2 + u64::from(c1) + u64::from(c2);
    }
    for w in single {
        acc = add_carry(acc, u64::from_be_bytes(*w));
    }
    // The tail (0..=7 bytes) starts at an even offset: padding it with zero
    // bytes on the right is the RFC's padding of an odd trailing byte.
    let mut tail = [0u8; 8];
    tail[..rest.len()].copy_from_slice(rest);
    acc = add_carry(acc, u64::from_be_bytes(tail));
    fold64(acc)
}

/// One's-complement addition of two 64-bit words (end-around carry).
fn add_carry(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    // No overflow here: when `carry` is set, `s` is at most 2^64 - 2.
    s + u64::from(carry)
}

/// Folds a 64-bit one's-complement sum to 16 significant bits.
fn fold64(mut acc: u64) -> u32 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u32
}

/// Folds a one's-complement sum to 16 bits (not inverted).
pub fn fold(sum: u32) -> u16 {
    fold64(u64::from(sum)) as u16
}

/// The Internet checksum of `data`: the one's complement of the
/// one's-complement sum of its 16-bit words.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(ones_sum(0, data))
}

/// Sum of the IPv4 pseudo-header used by TCP and UDP (RFC 9293 §3.1,
/// RFC 768): source, destination, zero, protocol, length.
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, length: u16) -> u32 {
    let s = src.to_bits();
    let d = dst.to_bits();
    (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + u32::from(u8::from(protocol)) + u32::from(length)
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1): source, destination,
/// upper-layer packet length (32 bits), three zero bytes, next header.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: IpProtocol, length: u32) -> u32 {
    let mut sum = 0u32;
    for seg in src.segments().iter().chain(dst.segments().iter()) {
        sum += u32::from(*seg);
    }
    sum + (length >> 16) + (length & 0xffff) + u32::from(u8::from(next_header))
}

/// The pseudo-header for either family. Two IPv4 addresses give the IPv4
/// pseudo-header; anything else the IPv6 one, an IPv4 address taking its
/// IPv4-mapped form (`::ffff:a.b.c.d`).
pub fn pseudo_header(src: &IpAddr, dst: &IpAddr, protocol: IpProtocol, length: u32) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            // The IPv4 pseudo-header has a 16-bit length; a longer one (a
            // segmentation-offload super-segment) is summed as two words,
            // which is what its folding would give anyway.
            let high = length >> 16;
            pseudo_header_v4(*s, *d, protocol, (length & 0xffff) as u16) + high
        }
        _ => pseudo_header_v6(&as_v6(src), &as_v6(dst), protocol, length),
    }
}

fn as_v6(addr: &IpAddr) -> Ipv6Addr {
    match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => *a,
    }
}

/// Updates `checksum` after a 16-bit word of the covered data changed from
/// `old` to `new`.
///
/// RFC 1624 §3: "HC' = ~(~HC + ~m + m')    -- [Eqn. 3]". It agrees with a
/// full recomputation except when every covered word becomes zero (a full
/// recomputation then gives 0xFFFF, this gives 0x0000); that cannot happen
/// for an IPv4 header (the version nibble) nor for TCP/UDP (the protocol in
/// the pseudo-header).
pub fn update_u16(checksum: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    !fold(sum)
}

/// [`update_u16`] for a 32-bit field (an IPv4 address, a sequence number),
/// as two 16-bit words.
pub fn update_u32(checksum: u16, old: u32, new: u32) -> u16 {
    let sum = u32::from(!checksum) + u32::from(!(old >> 16) as u16) + u32::from(!(old as u16)) + (new >> 16) + (new & 0xffff);
    !fold(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_util::XorShift;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Byte pairs, a u32 accumulator and a final fold: the textbook way.
    fn naive_sum(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        let mut i = 0;
        while i + 1 < data.len() {
            sum += u32::from(data[i]) << 8 | u32::from(data[i + 1]);
            sum = (sum & 0xffff) + (sum >> 16);
            i += 2;
        }
        if i < data.len() {
            sum += u32::from(data[i]) << 8;
            sum = (sum & 0xffff) + (sum >> 16);
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(ones_sum(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), 0x220d);
    }

    #[test]
    fn ones_sum_matches_naive_reference() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for len in 0..200 {
            for round in 0..8 {
                let mut data = vec![0u8; len];
                match round {
                    0 => data.fill(0xff),
                    1 => {}
                    _ => rng.fill(&mut data),
                }
                assert_eq!(fold(ones_sum(0, &data)), naive_sum(&data), "len {len} round {round}");
                // And at every misaligned start inside a larger buffer.
                if len > 3 {
                    assert_eq!(fold(ones_sum(0, &data[3..])), naive_sum(&data[3..]));
                }
            }
        }
    }

    #[test]
    fn ones_sum_all_ones_long_buffer_never_overflows() {
        // Carries out of every 64-bit step.
        // 0xFFFF words are a one's-complement zero: only the odd trailing
        // byte (0xFF00) remains.
        let data = vec![0xffu8; 65536 + 7];
        assert_eq!(naive_sum(&data), 0xff00);
        assert_eq!(fold(ones_sum(0, &data)), 0xff00);
        assert_eq!(fold(ones_sum(0xffff_ffff, &data)), 0xff00);
        assert_eq!(fold(ones_sum(0, &data[..65536])), 0xffff);
    }

    #[test]
    fn ones_sum_chains_over_even_chunks() {
        let mut rng = XorShift(7);
        let mut data = vec![0u8; 301];
        rng.fill(&mut data);
        for split in (0..300).step_by(2) {
            let chained = ones_sum(ones_sum(0, &data[..split]), &data[split..]);
            assert_eq!(fold(chained), naive_sum(&data), "split {split}");
        }
        // Many partial sums added together stay exact.
        let parts: Vec<u32> = data[..300].chunks(10).map(|c| ones_sum(0, c)).collect();
        let total: u32 = parts.iter().sum();
        assert_eq!(fold(total), naive_sum(&data[..300]));
    }

    #[test]
    fn odd_length_pads_with_zero_on_the_right() {
        assert_eq!(fold(ones_sum(0, &[0x12])), 0x1200);
        assert_eq!(fold(ones_sum(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn pseudo_headers() {
        let s = Ipv4Addr::new(10, 9, 1, 1);
        let d = Ipv4Addr::new(10, 9, 1, 2);
        let expect = 0x0a09 + 0x0101 + 0x0a09 + 0x0102 + 17 + 13;
        assert_eq!(pseudo_header_v4(s, d, IpProtocol::Udp, 13), expect);
        assert_eq!(pseudo_header(&s.into(), &d.into(), IpProtocol::Udp, 13), expect);

        let s6: Ipv6Addr = "fd00:1::1".parse().unwrap();
        let d6: Ipv6Addr = "fd00:1::2".parse().unwrap();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&s6.octets());
        bytes.extend_from_slice(&d6.octets());
        bytes.extend_from_slice(&70000u32.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 6]);
        let want = naive_sum(&bytes);
        assert_eq!(fold(pseudo_header_v6(&s6, &d6, IpProtocol::Tcp, 70000)), want);
        assert_eq!(fold(pseudo_header(&s6.into(), &d6.into(), IpProtocol::Tcp, 70000)), want);

        // Mixed families: the IPv4 address is used in its mapped form.
        let mapped = s.to_ipv6_mapped();
        assert_eq!(
            pseudo_header(&s.into(), &d6.into(), IpProtocol::Tcp, 20),
            pseudo_header_v6(&mapped, &d6, IpProtocol::Tcp, 20)
        );
    }

    /// Puts `checksum(data with word 0 zeroed)` into word 0 and returns it.
    fn fill(data: &mut [u8]) -> u16 {
        data[0] = 0;
        data[1] = 0;
        let c = checksum(data);
        data[..2].copy_from_slice(&c.to_be_bytes());
        c
    }

    #[test]
    fn rfc1624_example() {
        // RFC 1624 §3: other octets sum to 0xCD7A, m = 0x5555 -> m' = 0x3285;
        // recomputation gives 0x0000 and so must Eqn. 3.
        let hc = !fold(0xcd7a + 0x5555);
        assert_eq!(hc, 0xdd2f);
        assert_eq!(update_u16(hc, 0x5555, 0x3285), 0x0000);
        assert_eq!(!fold(0xcd7a + 0x3285), 0x0000);
    }

    #[test]
    fn incremental_update_matches_recomputation() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        for round in 0..2000 {
            let len = 4 + 2 * rng.below(40) + (round & 1); // odd lengths too
            let mut data = vec![0u8; len];
            rng.fill(&mut data);
            let old_sum = fill(&mut data);
            // Change one 16-bit word (not the checksum itself).
            let at = 2 + 2 * rng.below((len - 2) / 2);
            let old = u16::from_be_bytes([data[at], data[at + 1]]);
            let new = match round % 5 {
                0 => 0x0000,
                1 => 0xffff,
                2 => old,
                _ => rng.next_u64() as u16,
            };
            data[at..at + 2].copy_from_slice(&new.to_be_bytes());
            let incremental = update_u16(old_sum, old, new);
            if data[2..].iter().all(|&b| b == 0) {
                // The one documented disagreement: all covered words zero.
                assert_eq!((incremental, fill(&mut data)), (0x0000, 0xffff));
                continue;
            }
            assert_eq!(incremental, fill(&mut data), "round {round}");
            // The result verifies.
            assert_eq!(checksum(&data), 0);
        }
    }

    #[test]
    fn incremental_update_u32_matches_recomputation() {
        let mut rng = XorShift(99);
        for _ in 0..1000 {
            let mut data = vec![0u8; 24];
            rng.fill(&mut data);
            let old_sum = fill(&mut data);
            let old = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
            let new = rng.next_u64() as u32;
            data[8..12].copy_from_slice(&new.to_be_bytes());
            assert_eq!(update_u32(old_sum, old, new), fill(&mut data));
        }
    }

    #[test]
    fn incremental_update_corner_cases() {
        // Data whose new sum is 0xFFFF: recomputation gives 0x0000.
        // Words: [csum, 0x0001, x]; choose x so that 0x0001 + x' = 0xFFFF.
        let mut data = [0u8, 0, 0x00, 0x01, 0x12, 0x34];
        let hc = fill(&mut data);
        let new: u16 = 0xfffe;
        data[4..6].copy_from_slice(&new.to_be_bytes());
        let want = fill(&mut data);
        assert_eq!(want, 0x0000);
        assert_eq!(update_u16(hc, 0x1234, new), want);

        // Starting from a checksum of 0xFFFF (all other words zero).
        let mut data = [0u8; 6];
        let hc = fill(&mut data);
        assert_eq!(hc, 0xffff);
        data[2..4].copy_from_slice(&0x1234u16.to_be_bytes());
        assert_eq!(update_u16(hc, 0, 0x1234), fill(&mut data));

        // Replacing a word with its one's-complement twin (0x0000 <-> 0xFFFF)
        // leaves the checksum value unchanged.
        let mut data = [0u8, 0, 0x00, 0x00, 0xab, 0xcd];
        let hc = fill(&mut data);
        data[2..4].copy_from_slice(&[0xff, 0xff]);
        assert_eq!(update_u16(hc, 0x0000, 0xffff), fill(&mut data));
        assert_eq!(update_u16(hc, 0x0000, 0xffff), hc);
    }
}
