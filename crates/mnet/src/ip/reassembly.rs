//! Fragment reassembly for IPv4 (RFC 791 §3.2, RFC 1122 §3.3.2) and IPv6
//! (RFC 8200 §4.5, RFC 5722), bounded so that a flood of stray fragments
//! can neither exhaust memory nor block later datagrams.
//!
//! The engine parses the IP header and hands each fragment's payload to
//! [`Reassembler::insert`] (or [`Reassembler::insert_with_header`], which
//! also keeps fragment zero's header for the reassembled datagram and for a
//! Time Exceeded message). A complete datagram comes back as
//! [`Reassembled`], its payload in a pooled buffer the engine returns with
//! [`Reassembler::recycle`].
//!
//! Bookkeeping: fragments of a datagram are kept sorted by offset. Any
//! overlap that is not an exact duplicate discards the whole datagram, so
//! the received fragments never overlap and "all bytes present" is simply
//! "the received lengths add up to the total length" — the hole list of
//! RFC 815 collapses to one counter. Inserting costs a binary search plus a
//! shift of at most `max_fragments_per_datagram` entries.
//!
//! Bounds ([`ReassemblyConfig`]): total bytes held, datagrams in progress,
//! fragments per datagram, and a fixed timeout. A new datagram that finds
//! the table full (datagrams or bytes) evicts the oldest ones, counted by
//! [`Reassembler::take_evicted`]. Tables are keyed with a secret hash.
//!
//! ```
//! use mnet::ip::reassembly::{FragKey, Reassembler};
//! use mnet::rand::Rng;
//! use mnet::Instant;
//! let mut r = Reassembler::new(Default::default(), &mut Rng::from_seed([0; 32]));
//! let key = FragKey {
//!     src: "192.0.2.1".parse().unwrap(),
//!     dst: "192.0.2.2".parse().unwrap(),
//!     ident: 7,
//!     protocol: 17,
//! };
//! let now = Instant::from_secs(1);
//! assert!(r.insert(now, key, 8, false, b"world").unwrap().is_none());
//! let done = r.insert(now, key, 0, true, b"hello, w").unwrap().unwrap();
//! assert_eq!(done.data, b"hello, wworld");
//! r.recycle(done.data);
//! ```

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::mem::size_of;
use core::net::IpAddr;

use crate::hash::{self, HashMap};
use crate::rand::Rng;
use crate::time::{Duration, Instant};

/// Default bound on bytes held by partial datagrams (1 MiB).
pub const REASSEMBLY_MAX_BYTES: usize = 1 << 20;

/// Default bound on datagrams being reassembled at once.
pub const REASSEMBLY_MAX_DATAGRAMS: usize = 64;

/// Default bound on fragments in one datagram. The largest datagram
/// (65,535 bytes) cut for the 576-byte MTU every IPv4 host must accept
/// (RFC 791 §3.1: "All hosts must be prepared to accept datagrams of up to
/// 576 octets") takes 65,535 / 552 = 119 fragments; 128 covers it. Smaller
/// fragments than that only come from pathological links or from attacks
/// that try to make each insertion expensive.
pub const REASSEMBLY_MAX_FRAGMENTS: usize = 128;

/// RFC 1122 §3.3.2: "There MUST be a reassembly timeout. The reassembly
/// timeout value SHOULD be a fixed value, not set from the remaining TTL.
/// It is recommended that the value lie between 60 seconds and 120
/// seconds." RFC 8200 §4.5 gives IPv6 60 seconds from the first-arriving
/// fragment; 60 s satisfies both.
pub const REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(60);

/// The highest payload end offset accepted. The IPv4 Total Length and the
/// IPv6 Payload Length are 16-bit, so a fragment whose offset + length
/// exceeds 65,535 cannot belong to a valid datagram ("ping of death"). The
/// real limit is 65,535 minus the header length, which varies (IPv4
/// options, IPv6 extension headers); the engine checks
/// `header + payload <= 65,535` on the reassembled datagram, with the
/// header it knows.
pub const MAX_PAYLOAD_END: usize = 65_535;

/// Default bound on the fragment-zero header kept per datagram: an IPv4
/// header is at most 60 bytes; an IPv6 unfragmentable part (fixed header and
/// hop-by-hop/routing headers) rarely exceeds this.
pub const REASSEMBLY_MAX_HEADER: usize = 128;

/// How many spare output buffers [`Reassembler::recycle`] keeps.
pub const REASSEMBLY_POOL_BUFFERS: usize = 4;

/// Bytes counted per stored fragment beyond its payload: its slot in the
/// datagram's list (the payload's own allocation is exactly its length).
const FRAGMENT_OVERHEAD: usize = size_of::<Frag>();

/// Bytes counted per datagram in progress: its state, its map slot and its
/// age-index entry.
const DATAGRAM_OVERHEAD: usize = size_of::<Datagram>() + 2 * size_of::<FragKey>() + 32;

/// Bounds and timers of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Bytes held by all partial datagrams together: payloads, saved
    /// headers and bookkeeping ([`REASSEMBLY_MAX_BYTES`]).
    pub max_bytes: usize,
    /// Datagrams in progress ([`REASSEMBLY_MAX_DATAGRAMS`]).
    pub max_datagrams: usize,
    /// Fragments in one datagram ([`REASSEMBLY_MAX_FRAGMENTS`]).
    pub max_fragments_per_datagram: usize,
    /// Life of a partial datagram from its first fragment ([`REASSEMBLY_TIMEOUT`]).
    pub timeout: Duration,
    /// Longest fragment-zero header kept ([`REASSEMBLY_MAX_HEADER`]).
    pub max_header_len: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_bytes: REASSEMBLY_MAX_BYTES,
            max_datagrams: REASSEMBLY_MAX_DATAGRAMS,
            max_fragments_per_datagram: REASSEMBLY_MAX_FRAGMENTS,
            timeout: REASSEMBLY_TIMEOUT,
            max_header_len: REASSEMBLY_MAX_HEADER,
        }
    }
}

/// What identifies the fragments of one datagram.
///
/// RFC 791 §3.2: "The internet identification field (ID) is used together
/// with the source and destination address, and the protocol fields, to
/// identify datagram fragments for reassembly." For IPv6 (RFC 8200 §4.5:
/// source, destination and Fragment Identification) the engine sets
/// `protocol` to 0 or to the fragment header's next header, consistently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 Identification (16 bits) or IPv6 Fragment Identification.
    pub ident: u32,
    pub protocol: u8,
}

/// A complete datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    pub key: FragKey,
    /// The header given with fragment zero to
    /// [`Reassembler::insert_with_header`] (empty if none was given).
    /// RFC 791 §3.2 makes fragment zero's header the reassembled one's.
    pub header: Vec<u8>,
    /// The whole payload. Give the buffer back with [`Reassembler::recycle`].
    pub data: Vec<u8>,
}

/// Why a fragment was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FragError {
    /// Offset + length exceeds [`MAX_PAYLOAD_END`]: the fragment is dropped,
    /// the datagram (if any) kept. RFC 8200 §4.5: "If the length and offset
    /// of a fragment are such that the Payload Length of the packet
    /// reassembled from that fragment would exceed 65,535 octets, then that
    /// fragment must be discarded".
    TooBig,
    /// It overlaps a fragment already received without being its exact
    /// duplicate: the whole datagram was discarded.
    Overlap,
    /// Same offset and length as a fragment already received: this copy is
    /// ignored, the datagram kept.
    Duplicate,
    /// The datagram reached `max_fragments_per_datagram`: it was discarded.
    TooManyFragments,
    /// Empty, offset not a multiple of 8, a non-last fragment whose length
    /// is not a multiple of 8, or a fragment-zero header longer than
    /// `max_header_len`: the fragment is dropped, the datagram kept.
    Malformed,
    /// It contradicts the datagram's end (a second, different last fragment;
    /// data past the last fragment's end): the datagram was discarded.
    Inconsistent,
}

/// A datagram given up by [`Reassembler::poll_with`] when its time ran out.
#[derive(Debug, Clone, Copy)]
pub struct Expired<'a> {
    pub key: FragKey,
    /// Fragment zero, if it arrived. RFC 1122 §3.3.2: "If this timeout
    /// expires, the partially-reassembled datagram MUST be discarded and an
    /// ICMP Time Exceeded message sent to the source host (if fragment zero
    /// has been received)."
    pub first: Option<FirstFragment<'a>>,
}

/// Fragment zero of an expired datagram: what a Time Exceeded message quotes.
#[derive(Debug, Clone, Copy)]
pub struct FirstFragment<'a> {
    /// The header given with it (empty if none was given).
    pub header: &'a [u8],
    pub payload: &'a [u8],
}

#[derive(Debug)]
struct Frag {
    offset: usize,
    data: Vec<u8>,
}

impl Frag {
    fn end(&self) -> usize {
        self.offset + self.data.len()
    }
}

#[derive(Debug)]
struct Datagram {
    /// Arrival of the first fragment and a tie-breaking sequence number:
    /// this datagram's key in the age index.
    age: (Instant, u64),
    /// Sorted by offset, never overlapping.
    frags: Vec<Frag>,
    /// Sum of the fragments' lengths.
    received: usize,
    /// Payload length, known once the last fragment (MF = 0) arrived.
    total_len: Option<usize>,
    /// Highest end offset seen.
    max_end: usize,
    header: Vec<u8>,
    /// Bytes this datagram counts against `max_bytes`.
    held: usize,
}

/// The reassembly table. See the module documentation.
#[derive(Debug)]
pub struct Reassembler {
    config: ReassemblyConfig,
    map: HashMap<FragKey, Datagram>,
    /// Every datagram by age: oldest first (eviction and timeout order).
    by_age: BTreeMap<(Instant, u64), FragKey>,
    next_seq: u64,
    bytes: usize,
    /// Evictions since the last `take_evicted`.
    evicted: usize,
    /// Evictions since construction.
    evicted_total: u64,
    pool: Vec<Vec<u8>>,
}

impl Reassembler {
    pub fn new(config: ReassemblyConfig, rng: &mut Rng) -> Reassembler {
        Reassembler {
            config,
            map: hash::new_map(rng),
            by_age: BTreeMap::new(),
            next_seq: 0,
            bytes: 0,
            evicted: 0,
            evicted_total: 0,
            pool: Vec::new(),
        }
    }

    pub fn config(&self) -> &ReassemblyConfig {
        &self.config
    }

    /// Datagrams in progress.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes counted against `max_bytes` right now.
    pub fn bytes_held(&self) -> usize {
        self.bytes
    }

    /// Datagrams evicted to make room since the last call (count them as
    /// `FragEvicted` drops).
    pub fn take_evicted(&mut self) -> usize {
        core::mem::take(&mut self.evicted)
    }

    /// Datagrams evicted to make room since construction (monotonic; not
    /// reset by [`Self::take_evicted`]).
    pub fn evicted(&self) -> u64 {
        self.evicted_total
    }

    fn count_eviction(&mut self) {
        self.evicted += 1;
        self.evicted_total += 1;
    }

    /// Add one fragment's payload. `offset` is in bytes (the header field
    /// times 8), `more_fragments` is the MF flag. Returns the datagram when
    /// this fragment completed it.
    pub fn insert(
        &mut self,
        now: Instant,
        key: FragKey,
        offset: usize,
        more_fragments: bool,
        data: &[u8],
    ) -> Result<Option<Reassembled>, FragError> {
        self.insert_with_header(now, key, offset, more_fragments, &[], data)
    }

    /// [`Self::insert`], also keeping `header` when this is fragment zero
    /// (offset 0): it becomes [`Reassembled::header`] and is quoted on
    /// timeout. RFC 1122 §3.3.2: "the first fragment header needs to be
    /// saved for inclusion in a possible ICMP Time Exceeded (Reassembly
    /// Timeout) message." Ignored for other fragments.
    pub fn insert_with_header(
        &mut self,
        now: Instant,
        key: FragKey,
        offset: usize,
        more_fragments: bool,
        header: &[u8],
        data: &[u8],
    ) -> Result<Option<Reassembled>, FragError> {
        let len = data.len();
        // RFC 8200 §4.5: "If the length of a fragment, as derived from the
        // fragment packet's Payload Length field, is not a multiple of 8
        // octets and the M flag of that fragment is 1, then that fragment
        // must be discarded". The same holds for IPv4, RFC 791 §3.1: "The
        // fragment offset is measured in units of 8 octets (64 bits)." An
        // empty fragment carries nothing and can only grow our bookkeeping.
        if len == 0 || !offset.is_multiple_of(8) || (more_fragments && !len.is_multiple_of(8)) {
            return Err(FragError::Malformed);
        }
        let end = offset.checked_add(len).ok_or(FragError::TooBig)?;
        if end > MAX_PAYLOAD_END {
            return Err(FragError::TooBig);
        }
        let header: &[u8] = if offset == 0 { header } else { &[] };
        if header.len() > self.config.max_header_len {
            return Err(FragError::Malformed);
        }
        if offset == 0 && !more_fragments {
            // A whole datagram with a fragment header ("atomic fragment").
            // RFC 6946 §4: "A host that receives an IPv6 packet which
            // includes a Fragment Header with the "Fragment Offset" equal
            // to 0 and the "M" bit equal to 0 MUST process such packet in
            // isolation from any other packets/fragments". Done for IPv4
            // too (offset 0 with MF clear is simply not a fragment).
            let mut buf = self.take_buffer(len);
            buf.extend_from_slice(data);
            return Ok(Some(Reassembled {
                key,
                header: header.to_vec(),
                data: buf,
            }));
        }

        if !self.map.contains_key(&key) {
            self.admit(now, key)?;
        }
        let Some(dg) = self.map.get(&key) else {
            return Ok(None);
        };
        let pos = match check(dg, offset, end, more_fragments, &self.config) {
            Ok(pos) => pos,
            Err(FragError::Duplicate) => return Err(FragError::Duplicate),
            Err(e) => {
                // RFC 5722 §4 (with erratum 3089): "When reassembling an
                // IPv6 datagram, if one or more its constituent fragments
                // is determined to be an overlapping fragment, the entire
                // datagram (and any constituent fragments) MUST be silently
                // discarded." We apply the same rule to IPv4: overlaps have
                // no legitimate use and are how filters are evaded.
                self.discard(&key);
                return Err(e);
            }
        };

        let cost = len + FRAGMENT_OVERHEAD + header.len();
        if !self.make_room(&key, cost) {
            // This datagram alone is larger than the byte bound.
            self.discard(&key);
            self.count_eviction();
            return Ok(None);
        }
        let Some(dg) = self.map.get_mut(&key) else {
            return Ok(None);
        };
        dg.frags.insert(
            pos,
            Frag {
                offset,
                data: data.to_vec(),
            },
        );
        dg.received += len;
        dg.max_end = dg.max_end.max(end);
        if !more_fragments {
            dg.total_len = Some(end);
        }
        if offset == 0 {
            dg.header = header.to_vec();
        }
        dg.held += cost;
        self.bytes += cost;

        if dg.total_len != Some(dg.received) {
            return Ok(None);
        }
        // Complete: no overlaps and every fragment inside [0, total), so the
        // lengths adding up to the total means there is no hole.
        let Some(dg) = self.remove_datagram(&key) else {
            return Ok(None);
        };
        let mut buf = self.take_buffer(dg.received);
        for f in &dg.frags {
            buf.extend_from_slice(&f.data);
        }
        Ok(Some(Reassembled {
            key,
            header: dg.header,
            data: buf,
        }))
    }

    /// Create the state for a new datagram, evicting the oldest datagrams
    /// while the table is at its datagram bound.
    fn admit(&mut self, now: Instant, key: FragKey) -> Result<(), FragError> {
        if self.config.max_datagrams == 0 {
            self.count_eviction();
            return Err(FragError::TooManyFragments);
        }
        while self.map.len() >= self.config.max_datagrams {
            if !self.evict_oldest(None) {
                break;
            }
        }
        let age = (now, self.next_seq);
        self.next_seq += 1;
        self.map.insert(
            key,
            Datagram {
                age,
                frags: Vec::new(),
                received: 0,
                total_len: None,
                max_end: 0,
                header: Vec::new(),
                held: DATAGRAM_OVERHEAD,
            },
        );
        self.by_age.insert(age, key);
        self.bytes += DATAGRAM_OVERHEAD;
        Ok(())
    }

    /// Evict the oldest datagrams other than `key` until `cost` more bytes
    /// fit. `false` if they cannot fit even with `key` alone left.
    fn make_room(&mut self, key: &FragKey, cost: usize) -> bool {
        while self.bytes + cost > self.config.max_bytes {
            if !self.evict_oldest(Some(key)) {
                return false;
            }
        }
        true
    }

    /// Evict the oldest datagram that is not `spare`. `false` if none.
    fn evict_oldest(&mut self, spare: Option<&FragKey>) -> bool {
        let victim = self.by_age.values().find(|k| Some(*k) != spare).copied();
        match victim {
            Some(k) => {
                self.discard(&k);
                self.count_eviction();
                true
            }
            None => false,
        }
    }

    fn remove_datagram(&mut self, key: &FragKey) -> Option<Datagram> {
        let dg = self.map.remove(key)?;
        self.by_age.remove(&dg.age);
        self.bytes -= dg.held;
        Some(dg)
    }

    fn discard(&mut self, key: &FragKey) {
        self.remove_datagram(key);
    }

    /// Drop the partial datagram with this key, if any (e.g. the engine
    /// found fragment zero unacceptable). Returns whether one was dropped.
    pub fn remove(&mut self, key: &FragKey) -> bool {
        self.remove_datagram(key).is_some()
    }

    /// An empty buffer with room for `len` bytes, from the pool if possible.
    fn take_buffer(&mut self, len: usize) -> Vec<u8> {
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.reserve(len);
        buf
    }

    /// Give back a [`Reassembled::data`] buffer once the datagram has been
    /// processed, so the next one needs no allocation. At most
    /// [`REASSEMBLY_POOL_BUFFERS`] are kept; buffers larger than a datagram
    /// can be are dropped.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < REASSEMBLY_POOL_BUFFERS && buf.capacity() <= 2 * MAX_PAYLOAD_END {
            buf.clear();
            self.pool.push(buf);
        }
    }

    /// Discard every datagram whose time ran out. Returns how many (count
    /// them as `FragTimeout`).
    pub fn poll(&mut self, now: Instant) -> usize {
        self.poll_with(now, |_| {})
    }

    /// [`Self::poll`], showing each expired datagram to `on_expired` first,
    /// so the engine can send ICMP Time Exceeded (code 1, "fragment
    /// reassembly time exceeded") when fragment zero had arrived.
    pub fn poll_with(&mut self, now: Instant, mut on_expired: impl FnMut(Expired<'_>)) -> usize {
        let mut n = 0;
        while let Some((&(created, _), &key)) = self.by_age.first_key_value() {
            if now < created + self.config.timeout {
                break;
            }
            let Some(dg) = self.remove_datagram(&key) else {
                // Unreachable: the index and the map agree. Keep the loop finite.
                self.by_age.pop_first();
                continue;
            };
            let first = dg.frags.first().filter(|f| f.offset == 0).map(|f| FirstFragment {
                header: &dg.header,
                payload: &f.data,
            });
            on_expired(Expired { key, first });
            n += 1;
        }
        n
    }

    /// When the oldest datagram times out.
    pub fn poll_at(&self) -> Option<Instant> {
        self.by_age
            .first_key_value()
            .map(|(&(created, _), _)| created + self.config.timeout)
    }
}

/// Where a fragment `[offset, end)` goes in `dg`, or why it cannot.
fn check(dg: &Datagram, offset: usize, end: usize, more_fragments: bool, config: &ReassemblyConfig) -> Result<usize, FragError> {
    match dg.total_len {
        Some(total) if end > total || (!more_fragments && end != total) => {
            return Err(FragError::Inconsistent);
        }
        None if !more_fragments && dg.max_end > end => return Err(FragError::Inconsistent),
        _ => {}
    }
    let pos = dg.frags.partition_point(|f| f.offset < offset);
    if let Some(next) = dg.frags.get(pos) {
        if next.offset == offset && next.end() == end {
            // RFC 8200 §4.5: "an implementation may choose to detect this
            // case and drop exact duplicate fragments while keeping the
            // other fragments belonging to the same packet."
            return Err(FragError::Duplicate);
        }
        if next.offset < end {
            return Err(FragError::Overlap);
        }
    }
    if let Some(prev) = pos.checked_sub(1).and_then(|i| dg.frags.get(i))
        && prev.end() > offset
    {
        return Err(FragError::Overlap);
    }
    if dg.frags.len() >= config.max_fragments_per_datagram {
        return Err(FragError::TooManyFragments);
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use core::net::Ipv4Addr;

    fn key(ident: u32) -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            ident,
            protocol: 17,
        }
    }

    fn reassembler() -> Reassembler {
        Reassembler::new(ReassemblyConfig::default(), &mut Rng::from_seed([1; 32]))
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    /// Cut `data` into fragments of `size` bytes (a multiple of 8).
    fn cut(data: &[u8], size: usize) -> Vec<(usize, bool, Vec<u8>)> {
        data.chunks(size)
            .enumerate()
            .map(|(i, c)| (i * size, (i + 1) * size < data.len(), c.to_vec()))
            .collect()
    }

    fn feed(r: &mut Reassembler, now: Instant, k: FragKey, frags: &[(usize, bool, Vec<u8>)]) -> Option<Reassembled> {
        let mut out = None;
        for (i, (off, mf, d)) in frags.iter().enumerate() {
            let got = r.insert(now, k, *off, *mf, d).unwrap();
            if i + 1 < frags.len() {
                assert!(got.is_none(), "completed early at fragment {i}");
            }
            out = got;
        }
        out
    }

    #[test]
    fn in_order() {
        let mut r = reassembler();
        let data = payload(4000);
        let frags = cut(&data, 1480);
        let done = feed(&mut r, Instant::ZERO, key(1), &frags).unwrap();
        assert_eq!(done.data, data);
        assert_eq!(done.key, key(1));
        assert!(r.is_empty());
        assert_eq!(r.bytes_held(), 0);
        assert_eq!(r.poll_at(), None);
    }

    #[test]
    fn reversed() {
        let mut r = reassembler();
        let data = payload(10_000);
        let mut frags = cut(&data, 1232);
        frags.reverse();
        let done = feed(&mut r, Instant::ZERO, key(2), &frags).unwrap();
        assert_eq!(done.data, data);
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn shuffled_many_times() {
        let mut rng = Rng::from_seed([9; 32]);
        let mut r = reassembler();
        for round in 0..50u32 {
            let data = payload(500 + 977 * round as usize % 60_000);
            // Random fragment sizes, but within the 128-fragment bound.
            let min = data.len().div_ceil(REASSEMBLY_MAX_FRAGMENTS).next_multiple_of(8);
            let mut frags = cut(&data, min.max(8 * rng.range_u32(1, 186) as usize));
            for i in (1..frags.len()).rev() {
                let j = rng.range_u32(0, i as u32 + 1) as usize;
                frags.swap(i, j);
            }
            let done = feed(&mut r, Instant::ZERO, key(round), &frags).unwrap();
            assert_eq!(done.data, data, "round {round}");
            r.recycle(done.data);
        }
        assert!(r.is_empty());
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn duplicates_are_ignored() {
        let mut r = reassembler();
        let data = payload(3000);
        let frags = cut(&data, 1000 / 8 * 8);
        let (o0, m0, d0) = &frags[0];
        assert_eq!(r.insert(Instant::ZERO, key(3), *o0, *m0, d0), Ok(None));
        let held = r.bytes_held();
        assert_eq!(r.insert(Instant::ZERO, key(3), *o0, *m0, d0), Err(FragError::Duplicate));
        assert_eq!(r.bytes_held(), held);
        let (ol, ml, dl) = frags.last().unwrap();
        assert_eq!(r.insert(Instant::ZERO, key(3), *ol, *ml, dl), Ok(None));
        assert_eq!(r.insert(Instant::ZERO, key(3), *ol, *ml, dl), Err(FragError::Duplicate));
        let mut done = None;
        for (o, m, d) in &frags[1..frags.len() - 1] {
            done = r.insert(Instant::ZERO, key(3), *o, *m, d).unwrap();
        }
        assert_eq!(done.unwrap().data, data);
    }

    #[test]
    fn overlap_discards_datagram() {
        let mut r = reassembler();
        let t = Instant::ZERO;
        assert_eq!(r.insert(t, key(4), 0, true, &[1; 16]), Ok(None));
        assert_eq!(r.insert(t, key(4), 32, true, &[1; 16]), Ok(None));
        // Overlaps the end of [0, 16).
        assert_eq!(r.insert(t, key(4), 8, true, &[2; 16]), Err(FragError::Overlap));
        assert!(r.is_empty());
        assert_eq!(r.bytes_held(), 0);
        // Same offset, different length: also an overlap.
        assert_eq!(r.insert(t, key(5), 0, true, &[1; 16]), Ok(None));
        assert_eq!(r.insert(t, key(5), 0, true, &[1; 24]), Err(FragError::Overlap));
        assert!(r.is_empty());
        // Covering a received fragment entirely.
        assert_eq!(r.insert(t, key(6), 16, true, &[1; 8]), Ok(None));
        assert_eq!(r.insert(t, key(6), 8, true, &[1; 32]), Err(FragError::Overlap));
        assert!(r.is_empty());
        // Touching is not overlapping.
        assert_eq!(r.insert(t, key(7), 16, false, &[1; 8]), Ok(None));
        assert!(r.insert(t, key(7), 0, true, &[1; 16]).unwrap().is_some());
    }

    #[test]
    fn inconsistent_end_discards() {
        let mut r = reassembler();
        let t = Instant::ZERO;
        assert_eq!(r.insert(t, key(8), 16, false, &[1; 8]), Ok(None));
        // A second last fragment with another end.
        assert_eq!(r.insert(t, key(8), 32, false, &[1; 8]), Err(FragError::Inconsistent));
        assert!(r.is_empty());
        // Data past the end.
        assert_eq!(r.insert(t, key(9), 16, false, &[1; 8]), Ok(None));
        assert_eq!(r.insert(t, key(9), 24, true, &[1; 8]), Err(FragError::Inconsistent));
        assert!(r.is_empty());
        // A last fragment below data already seen.
        assert_eq!(r.insert(t, key(10), 64, true, &[1; 8]), Ok(None));
        assert_eq!(r.insert(t, key(10), 8, false, &[1; 8]), Err(FragError::Inconsistent));
        assert!(r.is_empty());
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn malformed_fragments() {
        let mut r = reassembler();
        let t = Instant::ZERO;
        assert_eq!(r.insert(t, key(1), 0, true, &[]), Err(FragError::Malformed));
        assert_eq!(r.insert(t, key(1), 0, true, &[1; 12]), Err(FragError::Malformed));
        assert_eq!(r.insert(t, key(1), 4, false, &[1; 8]), Err(FragError::Malformed));
        assert_eq!(
            r.insert_with_header(t, key(1), 0, true, &[0; REASSEMBLY_MAX_HEADER + 1], &[1; 8]),
            Err(FragError::Malformed)
        );
        assert!(r.is_empty());
        // A malformed fragment does not disturb a datagram in progress.
        assert_eq!(r.insert(t, key(1), 0, true, &[1; 8]), Ok(None));
        assert_eq!(r.insert(t, key(1), 8, true, &[1; 9]), Err(FragError::Malformed));
        assert_eq!(r.len(), 1);
        // The last fragment may have any length.
        assert_eq!(r.insert(t, key(1), 8, false, &[2; 9]).unwrap().unwrap().data.len(), 17);
    }

    #[test]
    fn oversized() {
        let mut r = reassembler();
        let t = Instant::ZERO;
        assert_eq!(r.insert(t, key(1), 0, true, &[0; 64]), Ok(None));
        assert_eq!(r.insert(t, key(1), 65_528, false, &[0; 8]), Err(FragError::TooBig));
        assert_eq!(r.insert(t, key(1), 65_520, true, &[0; 16]), Err(FragError::TooBig));
        assert_eq!(r.insert(t, key(1), usize::MAX - 7, false, &[0; 9]), Err(FragError::TooBig));
        // The datagram survives a dropped oversized fragment.
        assert_eq!(r.len(), 1);
        // Ending exactly at 65,535 is accepted.
        assert_eq!(r.insert(t, key(2), 65_520, false, &[0; 15]), Ok(None));
    }

    #[test]
    fn largest_datagram() {
        let mut r = reassembler();
        let data = payload(MAX_PAYLOAD_END);
        let done = feed(&mut r, Instant::ZERO, key(1), &cut(&data, 552)).unwrap();
        assert_eq!(done.data.len(), MAX_PAYLOAD_END);
        assert_eq!(done.data, data);
    }

    #[test]
    fn too_many_fragments() {
        let mut r = Reassembler::new(
            ReassemblyConfig {
                max_fragments_per_datagram: 4,
                ..ReassemblyConfig::default()
            },
            &mut Rng::from_seed([1; 32]),
        );
        let t = Instant::ZERO;
        for i in 0..4 {
            assert_eq!(r.insert(t, key(1), i * 16, true, &[0; 8]), Ok(None));
        }
        assert_eq!(r.insert(t, key(1), 200, true, &[0; 8]), Err(FragError::TooManyFragments));
        assert!(r.is_empty());
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn missing_fragment_times_out() {
        let mut r = reassembler();
        let t0 = Instant::from_secs(5);
        let hdr = [0x45u8; 20];
        assert_eq!(r.insert_with_header(t0, key(1), 0, true, &hdr, &[9; 8]), Ok(None));
        assert_eq!(r.insert(t0 + Duration::from_secs(30), key(1), 16, false, &[9; 8]), Ok(None));
        assert_eq!(r.insert(t0 + Duration::from_secs(1), key(2), 8, false, &[9; 8]), Ok(None));
        assert_eq!(r.poll_at(), Some(t0 + REASSEMBLY_TIMEOUT));
        assert_eq!(r.poll(t0 + REASSEMBLY_TIMEOUT - Duration::from_micros(1)), 0);
        let mut seen = Vec::new();
        let n = r.poll_with(t0 + REASSEMBLY_TIMEOUT, |e| {
            let first = e.first.unwrap();
            seen.push((e.key, first.header.to_vec(), first.payload.to_vec()));
        });
        assert_eq!(n, 1);
        assert_eq!(seen, vec![(key(1), hdr.to_vec(), vec![9; 8])]);
        // The timer runs from the first fragment, not the latest one.
        assert_eq!(r.poll_at(), Some(t0 + Duration::from_secs(1) + REASSEMBLY_TIMEOUT));
        let mut had_first = None;
        assert_eq!(r.poll_with(Instant::from_secs(1000), |e| had_first = Some(e.first.is_some())), 1);
        assert_eq!(had_first, Some(false));
        assert!(r.is_empty());
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn header_of_fragment_zero_is_kept() {
        let mut r = reassembler();
        let t = Instant::ZERO;
        assert_eq!(r.insert_with_header(t, key(1), 8, false, &[7; 20], &[2; 8]), Ok(None));
        let done = r.insert_with_header(t, key(1), 0, true, &[5; 24], &[1; 8]).unwrap().unwrap();
        assert_eq!(done.header, vec![5; 24]);
        assert_eq!(done.data, [[1u8; 8], [2u8; 8]].concat());
    }

    #[test]
    fn atomic_fragment_is_independent() {
        let mut r = reassembler();
        let t = Instant::ZERO;
        assert_eq!(r.insert(t, key(1), 8, false, &[2; 8]), Ok(None));
        let done = r.insert(t, key(1), 0, false, &[1; 5]).unwrap().unwrap();
        assert_eq!(done.data, [1; 5]);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn full_table_evicts_oldest() {
        let mut r = Reassembler::new(
            ReassemblyConfig {
                max_datagrams: 3,
                ..ReassemblyConfig::default()
            },
            &mut Rng::from_seed([1; 32]),
        );
        for i in 0..3u32 {
            assert_eq!(r.insert(Instant::from_secs(u64::from(i)), key(i), 8, false, &[0; 8]), Ok(None));
        }
        assert_eq!(r.insert(Instant::from_secs(9), key(9), 8, false, &[0; 8]), Ok(None));
        assert_eq!(r.take_evicted(), 1);
        assert_eq!(r.take_evicted(), 0);
        assert_eq!(r.evicted(), 1);
        assert_eq!(r.len(), 3);
        // key(0) went; starting it again evicts the oldest now, key(1).
        assert_eq!(r.insert(Instant::from_secs(9), key(0), 0, true, &[0; 8]), Ok(None));
        assert_eq!(r.take_evicted(), 1);
        assert!(!r.remove(&key(1)));
        // key(2) survived and completes.
        assert!(r.insert(Instant::from_secs(9), key(2), 0, true, &[0; 8]).unwrap().is_some());
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn byte_bound_evicts_oldest() {
        let max_bytes = 20_000;
        let mut r = Reassembler::new(
            ReassemblyConfig {
                max_bytes,
                ..ReassemblyConfig::default()
            },
            &mut Rng::from_seed([1; 32]),
        );
        let t = Instant::ZERO;
        for i in 0..10u32 {
            r.insert(t, key(i), 0, true, &[0; 4000]).unwrap();
            assert!(r.bytes_held() <= max_bytes);
        }
        assert!(r.take_evicted() >= 5);
        // A datagram larger than the whole bound is given up, counted.
        let mut big = None;
        for (o, m, d) in cut(&payload(30_000), 1480) {
            big = r.insert(t, key(99), o, m, &d).unwrap();
            assert!(r.bytes_held() <= max_bytes);
        }
        assert!(big.is_none());
        assert!(r.take_evicted() >= 1);
    }

    #[test]
    fn flood_of_strays_does_not_block_a_good_datagram() {
        let mut rng = Rng::from_seed([42; 32]);
        let mut r = reassembler();
        let config = *r.config();
        let mut t = Instant::from_secs(1);
        let src = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 66));
        let mut buf = vec![0u8; 1480];
        for _ in 0..10_000 {
            let k = FragKey {
                src,
                dst: key(0).dst,
                ident: rng.next_u32() & 0xffff,
                protocol: 17,
            };
            let off = 8 * rng.range_u32(0, 8000) as usize;
            let len = 8 * rng.range_u32(1, 186) as usize;
            rng.fill_bytes(&mut buf[..len]);
            let _ = r.insert(t, k, off, true, &buf[..len]);
            assert!(r.bytes_held() <= config.max_bytes);
            assert!(r.len() <= config.max_datagrams);
            t += Duration::from_micros(100);
        }
        assert!(r.take_evicted() > 9_000);
        let data = payload(20_000);
        let done = feed(&mut r, t, key(7), &cut(&data, 1480)).unwrap();
        assert_eq!(done.data, data);
        // Accounting matches what is stored.
        let stored: usize = r
            .map
            .values()
            .map(|d| DATAGRAM_OVERHEAD + d.header.len() + d.frags.iter().map(|f| f.data.len() + FRAGMENT_OVERHEAD).sum::<usize>())
            .sum();
        assert_eq!(stored, r.bytes_held());
        // Everything left times out.
        let left = r.len();
        assert_eq!(r.poll(t + REASSEMBLY_TIMEOUT), left);
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn recycled_buffers_are_reused() {
        let mut r = reassembler();
        let data = payload(3000);
        let done = feed(&mut r, Instant::ZERO, key(1), &cut(&data, 1480)).unwrap();
        let ptr = done.data.as_ptr();
        r.recycle(done.data);
        let again = feed(&mut r, Instant::ZERO, key(2), &cut(&data, 1480)).unwrap();
        assert_eq!(again.data.as_ptr(), ptr);
        assert_eq!(again.data, data);
        for _ in 0..10 {
            r.recycle(Vec::with_capacity(10));
        }
        assert_eq!(r.pool.len(), REASSEMBLY_POOL_BUFFERS);
    }
}
