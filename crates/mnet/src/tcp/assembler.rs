//! Out-of-order bookkeeping for the receive side: which byte ranges above
//! RCV.NXT have arrived.
//!
//! RFC 9293 §3.10.7.4: "Segments with higher beginning sequence numbers
//! may be held for later processing." The assembler only records *where*
//! data is; the bytes themselves sit in the receive ring at their final
//! place, so filling a hole never copies.
//!
//! Ranges are keyed by a 64-bit stream offset (bytes since the peer's ISN),
//! so they never wrap. They are kept disjoint and non-adjacent in a
//! `BTreeMap`: an insertion costs O(log n) plus one removal per range it
//! swallows, and every range is swallowed at most once, so no arrival
//! pattern a peer can choose makes the work quadratic. The number of ranges
//! is bounded ([`MAX_RANGES`]); past it the highest range is given up, as
//! RFC 2018 §8 allows: "the data receiver is permitted to discard data in
//! its queue that has not been acknowledged to the data sender, even if the
//! data has already been reported in a SACK option."
//!
//! ```
//! use mnet::tcp::assembler::Assembler;
//! let mut a = Assembler::new(16);
//! a.insert(10, 20);
//! a.insert(30, 40);
//! a.insert(20, 30); // fills the hole: one range 10..40
//! assert_eq!(a.ranges().collect::<Vec<_>>(), vec![(10, 40)]);
//! assert_eq!(a.take_front(10), Some(40));
//! ```

use alloc::collections::BTreeMap;

/// Default bound on the number of disjoint out-of-order ranges held per
/// connection. Each costs a few tens of bytes; a legitimate sender with a
/// 4 MiB window and heavy loss stays far below it.
pub const MAX_RANGES: usize = 1024;

/// What an insertion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Inserted {
    /// Bytes that were not held before.
    pub new_bytes: u64,
    /// The first part of the insertion that was already held (for D-SACK,
    /// RFC 2883), if any.
    pub duplicate: Option<(u64, u64)>,
    /// The range that now contains the insertion (`None` if it was refused).
    pub block: Option<(u64, u64)>,
    /// Bytes of a higher range given up to make room (RFC 2018 §8 reneging).
    pub evicted: u64,
}

/// Disjoint ranges `[start, end)` of stream offsets.
#[derive(Debug, Clone)]
pub struct Assembler {
    ranges: BTreeMap<u64, u64>,
    max_ranges: usize,
    bytes: u64,
}

impl Assembler {
    /// An empty assembler holding at most `max_ranges` ranges (at least 1).
    pub fn new(max_ranges: usize) -> Assembler {
        Assembler {
            ranges: BTreeMap::new(),
            max_ranges: max_ranges.max(1),
            bytes: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of disjoint ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The ranges, lowest first.
    pub fn ranges(&self) -> impl DoubleEndedIterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|(&s, &e)| (s, e))
    }

    /// The end of the highest range.
    pub fn highest(&self) -> Option<u64> {
        self.ranges.last_key_value().map(|(_, &e)| e)
    }

    /// The range that contains offset `at`, if any.
    pub fn containing(&self, at: u64) -> Option<(u64, u64)> {
        let (&s, &e) = self.ranges.range(..=at).next_back()?;
        (at < e).then_some((s, e))
    }

    /// The first range that starts after `at`, if any.
    pub fn first_after(&self, at: u64) -> Option<(u64, u64)> {
        use core::ops::Bound;
        self.ranges
            .range((Bound::Excluded(at), Bound::Unbounded))
            .next()
            .map(|(&s, &e)| (s, e))
    }

    /// Records `[start, end)` as held, merging with neighbours.
    pub fn insert(&mut self, start: u64, end: u64) -> Inserted {
        let mut out = Inserted::default();
        if start >= end {
            return out;
        }
        // The range at or before `start` that touches it, and whether any
        // range starts inside (or right at the end of) the new one.
        let pred = self
            .ranges
            .range(..=start)
            .next_back()
            .map(|(&s, &e)| (s, e))
            .filter(|&(_, e)| e >= start);
        let follower = self.ranges.range(start..=end).next().is_some();
        if pred.is_none() && !follower && self.ranges.len() >= self.max_ranges {
            // A new range is needed and there is no room.
            match self.ranges.last_key_value() {
                Some((&last, _)) if last > start => {
                    // Give up the highest range to keep the lower data,
                    // which is nearer to being delivered.
                    if let Some((ls, le)) = self.ranges.pop_last() {
                        self.bytes -= le - ls;
                        out.evicted = le - ls;
                    }
                }
                _ => return out,
            }
        }
        let mut covered = 0u64;
        let mut note = |a: u64, b: u64, out: &mut Inserted| {
            let (a, b) = (a.max(start), b.min(end));
            if a < b {
                covered += b - a;
                if out.duplicate.is_none() {
                    out.duplicate = Some((a, b));
                }
            }
        };
        let (mut s, mut e) = (start, end);
        if let Some((ps, pe)) = pred {
            self.ranges.remove(&ps);
            self.bytes -= pe - ps;
            note(ps, pe, &mut out);
            s = ps;
            e = e.max(pe);
        }
        while let Some((ns, ne)) = self.ranges.range(s..=e).next().map(|(&ns, &ne)| (ns, ne)) {
            self.ranges.remove(&ns);
            self.bytes -= ne - ns;
            note(ns, ne, &mut out);
            e = e.max(ne);
        }
        self.ranges.insert(s, e);
        self.bytes += e - s;
        out.new_bytes = (end - start) - covered;
        out.block = Some((s, e));
        out
    }

    /// If the lowest range starts at or before `at`, removes it and returns
    /// its end: the new in-order edge.
    pub fn take_front(&mut self, at: u64) -> Option<u64> {
        let (&s, &e) = self.ranges.first_key_value()?;
        if s > at {
            return None;
        }
        self.ranges.remove(&s);
        self.bytes -= e - s;
        Some(e)
    }

    /// Forgets everything below `at` (data delivered another way).
    pub fn discard_below(&mut self, at: u64) {
        while let Some((&s, &e)) = self.ranges.first_key_value() {
            if s >= at {
                break;
            }
            self.ranges.remove(&s);
            self.bytes -= e - s;
            if e > at {
                self.ranges.insert(at, e);
                self.bytes += e - at;
                break;
            }
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.ranges.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn all(a: &Assembler) -> Vec<(u64, u64)> {
        a.ranges().collect()
    }

    #[test]
    fn merges_overlaps_and_adjacency() {
        let mut a = Assembler::new(MAX_RANGES);
        assert_eq!(a.insert(10, 20).new_bytes, 10);
        assert_eq!(a.insert(30, 40).new_bytes, 10);
        assert_eq!(all(&a), vec![(10, 20), (30, 40)]);
        // Adjacent on the left, overlapping on the right.
        let r = a.insert(20, 35);
        assert_eq!(r.new_bytes, 10);
        assert_eq!(r.duplicate, Some((30, 35)));
        assert_eq!(r.block, Some((10, 40)));
        assert_eq!(all(&a), vec![(10, 40)]);
        assert_eq!(a.bytes(), 30);
        // Fully inside: all duplicate.
        let r = a.insert(12, 18);
        assert_eq!((r.new_bytes, r.duplicate), (0, Some((12, 18))));
        // Spanning several.
        a.insert(50, 60);
        a.insert(70, 80);
        let r = a.insert(5, 100);
        assert_eq!(r.new_bytes, 95 - 30 - 20);
        assert_eq!(all(&a), vec![(5, 100)]);
        assert_eq!(a.bytes(), 95);
        assert_eq!(a.insert(7, 7), Inserted::default());
    }

    #[test]
    fn take_front_and_discard() {
        let mut a = Assembler::new(MAX_RANGES);
        a.insert(10, 20);
        a.insert(30, 40);
        assert_eq!(a.take_front(9), None);
        assert_eq!(a.take_front(10), Some(20));
        a.discard_below(35);
        assert_eq!(all(&a), vec![(35, 40)]);
        assert_eq!(a.bytes(), 5);
        assert_eq!(a.containing(36), Some((35, 40)));
        assert_eq!(a.containing(40), None);
        assert_eq!(a.highest(), Some(40));
    }

    #[test]
    fn bound_evicts_the_highest_range() {
        let mut a = Assembler::new(3);
        a.insert(10, 11);
        a.insert(20, 21);
        a.insert(30, 31);
        // Above everything: refused.
        let r = a.insert(40, 41);
        assert_eq!(r.block, None);
        assert_eq!(all(&a), vec![(10, 11), (20, 21), (30, 31)]);
        // Below the highest: the highest goes.
        let r = a.insert(15, 16);
        assert_eq!(r.evicted, 1);
        assert_eq!(all(&a), vec![(10, 11), (15, 16), (20, 21)]);
        // Merging needs no room.
        let r = a.insert(11, 15);
        assert_eq!(r.evicted, 0);
        assert_eq!(all(&a), vec![(10, 16), (20, 21)]);
        assert_eq!(a.bytes(), 7);
    }

    #[test]
    fn hostile_one_byte_gaps_stay_bounded_and_fast() {
        // A peer sends 1-byte segments every other byte of a 4 MiB window,
        // in descending order (the worst order for naive lists), then
        // fills the holes. The bound holds and the whole run is O(n log n).
        let mut a = Assembler::new(MAX_RANGES);
        let n = 1u64 << 21;
        for i in (0..n).rev() {
            a.insert(2 * i + 1, 2 * i + 2);
            assert!(a.len() <= MAX_RANGES);
        }
        assert_eq!(a.len(), MAX_RANGES);
        // The kept ranges are the lowest ones: 1..2, 3..4, ...
        assert_eq!(a.ranges().next(), Some((1, 2)));
        assert_eq!(a.highest(), Some(2 * MAX_RANGES as u64));
        for i in 0..n {
            a.insert(2 * i, 2 * i + 1);
            assert!(a.len() <= MAX_RANGES);
        }
        // The holes below the highest kept byte are filled and merged.
        assert_eq!(a.take_front(0), Some(2 * MAX_RANGES as u64 + 1));
        assert_eq!(a.len(), MAX_RANGES - 1);
    }
}
