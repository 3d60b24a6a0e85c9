//! A byte ring that grows with demand and gives its memory back when idle:
//! the storage under [`SendBuffer`](super::send_buffer::SendBuffer) and
//! [`RecvBuffer`](super::recv_buffer::RecvBuffer).
//!
//! The ring holds `len` bytes starting at `head`; bytes past `len` (up to
//! the capacity) may also hold data the owner placed there with
//! [`RingBuffer::write_at`] (out-of-order segments) and commits later.
//! Growing copies the whole old capacity, so such data survives a resize.
//! Nothing here panics on any argument: lengths are clamped.

use alloc::vec::Vec;

/// A growable ring of bytes.
#[derive(Debug, Default, Clone)]
pub struct RingBuffer {
    buf: Vec<u8>,
    head: usize,
    len: usize,
}

impl RingBuffer {
    /// An empty ring that owns no memory.
    pub const fn new() -> RingBuffer {
        RingBuffer {
            buf: Vec::new(),
            head: 0,
            len: 0,
        }
    }

    /// Bytes the ring can hold without growing.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Committed bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room after the committed bytes.
    pub fn free(&self) -> usize {
        self.capacity() - self.len
    }

    /// Makes the capacity at least `want` (at most `max`), doubling so that
    /// a stream of small growths costs amortised O(1) per byte. Keeps every
    /// byte of the old capacity in order from `head`.
    pub fn reserve(&mut self, want: usize, max: usize) {
        let want = want.min(max);
        if want <= self.capacity() {
            return;
        }
        let new_cap = self.capacity().saturating_mul(2).max(want).clamp(MIN_CAPACITY.min(max), max);
        let new_cap = new_cap.max(want);
        self.relocate(new_cap, self.capacity());
    }

    /// Moves the first `keep` bytes (from `head`) into a fresh buffer of
    /// `new_cap` bytes (`keep <= new_cap`).
    fn relocate(&mut self, new_cap: usize, keep: usize) {
        let keep = keep.min(new_cap).min(self.capacity());
        let mut fresh = alloc::vec![0u8; new_cap];
        let (a, b) = self.slices(0, keep);
        fresh[..a.len()].copy_from_slice(a);
        fresh[a.len()..a.len() + b.len()].copy_from_slice(b);
        self.buf = fresh;
        self.head = 0;
    }

    /// Gives memory back: the capacity becomes `max(target, keep, len)`,
    /// keeping the first `keep` bytes (at least the committed ones). A
    /// target of 0 on an empty ring frees everything.
    pub fn shrink(&mut self, target: usize, keep: usize) {
        let keep = keep.max(self.len);
        let new_cap = target.max(keep);
        if new_cap >= self.capacity() {
            return;
        }
        if new_cap == 0 {
            self.buf = Vec::new();
            self.head = 0;
            return;
        }
        self.relocate(new_cap, keep);
    }

    /// Two slices covering `len` bytes starting `offset` bytes after the
    /// head (clamped to the capacity).
    fn slices(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let cap = self.capacity();
        if cap == 0 || offset >= cap {
            return (&[], &[]);
        }
        let len = len.min(cap - offset);
        let start = (self.head + offset) % cap;
        let first = len.min(cap - start);
        (&self.buf[start..start + first], &self.buf[..len - first])
    }

    /// The `len` bytes at `offset` from the head, as (up to) two slices.
    pub fn read_at(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        self.slices(offset, len)
    }

    /// Copies bytes at `offset` into `out`; returns how many (clamped to
    /// the capacity).
    pub fn copy_out(&self, offset: usize, out: &mut [u8]) -> usize {
        let (a, b) = self.slices(offset, out.len());
        out[..a.len()].copy_from_slice(a);
        out[a.len()..a.len() + b.len()].copy_from_slice(b);
        a.len() + b.len()
    }

    /// Writes `data` at `offset` from the head without committing it;
    /// returns how many bytes fit in the capacity.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        let cap = self.capacity();
        if cap == 0 || offset >= cap {
            return 0;
        }
        let n = data.len().min(cap - offset);
        let start = (self.head + offset) % cap;
        let first = n.min(cap - start);
        self.buf[start..start + first].copy_from_slice(&data[..first]);
        self.buf[..n - first].copy_from_slice(&data[first..n]);
        n
    }

    /// Marks `n` more bytes after the committed ones as committed (clamped
    /// to the capacity).
    pub fn commit(&mut self, n: usize) {
        self.len = (self.len + n).min(self.capacity());
    }

    /// Lets `fill` write up to `max` bytes straight into the room after
    /// the committed bytes (the first contiguous part of it) and commits
    /// the count `fill` returns (clamped to the room it was given).
    /// `fill` is not called when there is no room or `max` is 0.
    pub fn push_with(&mut self, max: usize, fill: impl FnOnce(&mut [u8]) -> usize) -> usize {
        let cap = self.capacity();
        if cap == 0 || self.len >= cap || max == 0 {
            return 0;
        }
        let start = (self.head + self.len) % cap;
        // Contiguous room: up to the end of the storage, or up to the head
        // when the free part wraps.
        let end = if start >= self.head { cap } else { self.head };
        let room = (end - start).min(max);
        let Some(space) = self.buf.get_mut(start..start + room) else {
            return 0;
        };
        let n = fill(space).min(room);
        self.commit(n);
        n
    }

    /// Appends as much of `data` as fits; returns the count.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = self.write_at(self.len, data);
        self.commit(n);
        n
    }

    /// Drops `n` bytes from the head (clamped to the committed length).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        if n == 0 {
            return;
        }
        self.len -= n;
        self.head = (self.head + n) % self.capacity();
    }
}

/// The smallest allocation the ring makes (one page).
pub const MIN_CAPACITY: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_consume_wraps_and_keeps_order() {
        let mut r = RingBuffer::new();
        assert_eq!(r.capacity(), 0);
        assert_eq!(r.push(b"abc"), 0, "no memory until reserved");
        r.reserve(10, 10);
        assert_eq!(r.capacity(), 10);
        assert_eq!(r.push(b"0123456789xyz"), 10);
        r.consume(7);
        assert_eq!(r.push(b"abcdef"), 6);
        assert_eq!(r.len(), 9);
        let mut out = [0u8; 9];
        assert_eq!(r.copy_out(0, &mut out), 9);
        assert_eq!(&out, b"789abcdef");
        let (a, b) = r.read_at(1, 5);
        assert_eq!([a, b].concat(), b"89abc");
    }

    #[test]
    fn push_with_lends_the_contiguous_room_and_commits_what_was_written() {
        let mut r = RingBuffer::new();
        assert_eq!(r.push_with(5, |_| panic!("no memory: not called")), 0);
        r.reserve(10, 10);
        // Writes 4 of the 6 bytes it may.
        let n = r.push_with(6, |space| {
            assert_eq!(space.len(), 6);
            space[..4].copy_from_slice(b"abcd");
            4
        });
        assert_eq!((n, r.len()), (4, 4));
        // A count larger than the slice is clamped to it.
        assert_eq!(r.push_with(3, |_| 99), 3);
        assert_eq!(r.len(), 7);
        r.consume(6);
        // Free: 3 bytes to the end of the storage, then 6 before the head.
        let n = r.push_with(100, |space| {
            assert_eq!(space.len(), 3, "only up to the end of the storage");
            space.copy_from_slice(b"xyz");
            3
        });
        assert_eq!(n, 3);
        let n = r.push_with(100, |space| {
            assert_eq!(space.len(), 6, "then from the start up to the head");
            space.copy_from_slice(b"012345");
            6
        });
        assert_eq!(n, 6);
        assert_eq!(r.free(), 0);
        assert_eq!(r.push_with(1, |_| panic!("full: not called")), 0);
        let mut out = [0u8; 10];
        assert_eq!(r.copy_out(0, &mut out), 10);
        assert_eq!(&out[1..], b"xyz012345");
        assert_eq!(r.push_with(0, |_| panic!("max 0: not called")), 0);
    }

    #[test]
    fn growth_keeps_uncommitted_bytes() {
        let mut r = RingBuffer::new();
        r.reserve(8, 8);
        assert_eq!(r.capacity(), 8);
        r.push(b"123456");
        r.consume(5);
        // Out-of-order bytes past the committed one, across the wrap.
        assert_eq!(r.write_at(3, b"XYZW"), 4);
        r.reserve(20, 64);
        assert!(r.capacity() >= 20);
        let mut out = [0u8; 7];
        r.copy_out(0, &mut out);
        assert_eq!(&out[..1], b"6");
        assert_eq!(&out[3..7], b"XYZW");
        r.commit(6);
        assert_eq!(r.len(), 7);
    }

    #[test]
    fn shrink_and_free() {
        let mut r = RingBuffer::new();
        r.reserve(100, 1 << 20);
        assert_eq!(r.capacity(), MIN_CAPACITY);
        r.push(b"hello");
        r.shrink(0, 0);
        assert_eq!(r.capacity(), 5, "never below the committed bytes");
        let mut out = [0u8; 5];
        r.copy_out(0, &mut out);
        assert_eq!(&out, b"hello");
        r.consume(5);
        r.shrink(0, 0);
        assert_eq!(r.capacity(), 0);
        // Out-of-range requests are clamped, never panic.
        assert_eq!(r.write_at(3, b"x"), 0);
        assert_eq!(r.read_at(9, 9), (&[][..], &[][..]));
        r.consume(10);
        r.commit(10);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn reserve_respects_max() {
        let mut r = RingBuffer::new();
        r.reserve(1 << 30, 1000);
        assert_eq!(r.capacity(), 1000);
        r.reserve(10, 1000);
        assert_eq!(r.capacity(), 1000);
    }
}
