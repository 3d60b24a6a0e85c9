//! The receive buffer: in-order bytes waiting for the reader, and
//! out-of-order bytes waiting for the hole before them.
//!
//! Bytes are addressed by a 64-bit stream offset (the peer's ISN is 0, its
//! first data byte 1), so nothing here wraps. Out-of-order data is written
//! straight to its final place in the ring; the [`Assembler`] records which
//! ranges are there. The ring is only as large as the data that arrived
//! needs (never more than the right edge we advertised), and is given back
//! when empty and idle.
//!
//! The *limit* is the receive buffer size that the advertised window is
//! computed from. It starts small and grows with the reader (receive-window
//! autotuning, after Linux's dynamic right-sizing): once per round trip,
//! if the reader consumed more than in the previous round trip, the limit
//! becomes twice that amount plus room for the sender's growth, up to the
//! configured maximum. A slow reader therefore never makes the window grow.
//!
//! ```
//! use mnet::tcp::recv_buffer::RecvBuffer;
//! let mut b = RecvBuffer::new(1, 1024, 4096, 16);
//! b.accept(4, b"world");    // out of order
//! assert_eq!(b.readable(), 0);
//! b.accept(1, b"hel");      // fills the hole
//! assert_eq!(b.readable(), 8);
//! let mut out = [0u8; 16];
//! let n = b.read(&mut out);
//! assert_eq!(&out[..n], b"helworld");
//! ```

use super::assembler::{Assembler, Inserted};
use super::ring::RingBuffer;
use crate::time::{Duration, Instant};

/// What one accepted piece of data did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accepted {
    /// How far the in-order edge (RCV.NXT) moved.
    pub advanced: usize,
    /// The insertion's bookkeeping (duplicate part, containing block).
    pub inserted: Inserted,
}

/// In-order and out-of-order received bytes.
#[derive(Debug, Clone)]
pub struct RecvBuffer {
    ring: RingBuffer,
    ooo: Assembler,
    /// Stream offset of the first unread byte (the ring's head).
    read_at: u64,
    limit: usize,
    max: usize,
    // Autotuning: bytes read since `space_stamp`, and the last round's.
    copied: usize,
    space: usize,
    space_stamp: Option<Instant>,
}

impl RecvBuffer {
    /// An empty buffer whose first byte is stream offset `start`, with an
    /// initial `limit`, a `max`imum, and room for `max_ranges` out-of-order
    /// ranges.
    pub fn new(start: u64, limit: usize, max: usize, max_ranges: usize) -> RecvBuffer {
        RecvBuffer {
            ring: RingBuffer::new(),
            ooo: Assembler::new(max_ranges),
            read_at: start,
            limit: limit.min(max),
            max,
            copied: 0,
            space: 0,
            space_stamp: None,
        }
    }

    /// Moves the start (before any data arrived: the peer's ISN is learnt
    /// after the buffer is made).
    pub fn reset_start(&mut self, start: u64) {
        if self.ring.is_empty() && self.ooo.is_empty() {
            self.read_at = start;
        }
    }

    /// In-order bytes ready for the reader.
    pub fn readable(&self) -> usize {
        self.ring.len()
    }

    /// The stream offset of RCV.NXT: the first byte not yet received in
    /// order.
    pub fn next(&self) -> u64 {
        self.read_at + self.ring.len() as u64
    }

    /// The receive buffer size the window is computed from.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The configured maximum.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Free space for new data after the unread bytes: the window we may
    /// offer.
    pub fn space(&self) -> usize {
        self.limit.saturating_sub(self.ring.len())
    }

    /// Memory held.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// The out-of-order ranges.
    pub fn out_of_order(&self) -> &Assembler {
        &self.ooo
    }

    /// Stores `data` that starts at stream offset `at`, which must be at or
    /// after [`RecvBuffer::next`] (the caller trims duplicates and the part
    /// beyond the window it advertised). Data beyond `max` is cut.
    pub fn accept(&mut self, at: u64, data: &[u8]) -> Accepted {
        let next = self.next();
        if at < next || data.is_empty() {
            return Accepted::default();
        }
        let Ok(offset) = usize::try_from(at - self.read_at) else {
            return Accepted::default();
        };
        if offset >= self.max {
            return Accepted::default();
        }
        let len = data.len().min(self.max - offset);
        self.ring.reserve(offset + len, self.max);
        let written = self.ring.write_at(offset, &data[..len]);
        let end = at + written as u64;
        if at == next && self.ooo.is_empty() {
            // The common case, in order with no hole: straight to the
            // reader, without the out-of-order map (whose node would stay
            // allocated in every idle connection).
            if written == 0 {
                return Accepted::default();
            }
            self.ring.commit(written);
            let inserted = Inserted {
                new_bytes: written as u64,
                block: Some((at, end)),
                ..Inserted::default()
            };
            return Accepted {
                advanced: written,
                inserted,
            };
        }
        let inserted = self.ooo.insert(at, end);
        let mut advanced = 0;
        if inserted.block.is_some()
            && let Some(edge) = self.ooo.take_front(next)
        {
            let n = (edge - next) as usize;
            self.ring.commit(n);
            advanced = n;
        }
        Accepted { advanced, inserted }
    }

    /// Copies in-order bytes into `out`, consuming them; returns the count.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let want = out.len().min(self.ring.len());
        let n = self.ring.copy_out(0, &mut out[..want]);
        self.ring.consume(n);
        self.read_at += n as u64;
        self.copied = self.copied.saturating_add(n);
        n
    }

    /// Lends the in-order bytes to `f` where they lie, as one or two slices
    /// in order (the second only when the ring wraps and `f` took all of
    /// the first); `f` returns how many it consumed. Returns the total.
    pub fn read_with(&mut self, f: &mut dyn FnMut(&[u8]) -> usize) -> usize {
        let (a, b) = self.ring.read_at(0, self.ring.len());
        let mut n = f(a).min(a.len());
        if n == a.len() && !b.is_empty() {
            n += f(b).min(b.len());
        }
        self.ring.consume(n);
        self.read_at += n as u64;
        self.copied = self.copied.saturating_add(n);
        n
    }

    /// Drops everything received (the reader closed: RFC 9293 §3.10.4 says
    /// data arriving after CLOSE is answered with a reset).
    pub fn discard(&mut self) {
        let n = self.ring.len();
        self.ring.consume(n);
        self.read_at += n as u64;
        self.ooo.clear();
    }

    /// Receive-window autotuning, called after reads with the current round
    /// trip estimate and the peer's segment size: once per round trip, if
    /// the reader consumed more than in the last one, grow the limit to
    /// twice the amount read plus 16 segments (room for the sender's
    /// slow-start doubling), up to the maximum.
    pub fn autotune(&mut self, now: Instant, rtt: Duration, mss: usize) {
        let Some(stamp) = self.space_stamp else {
            self.space_stamp = Some(now);
            self.copied = 0;
            return;
        };
        if now - stamp < rtt {
            return;
        }
        if self.copied > self.space {
            let want = self.copied.saturating_mul(2).saturating_add(mss.saturating_mul(16));
            if want > self.limit {
                self.limit = want.min(self.max);
            }
            self.space = self.copied;
        }
        self.copied = 0;
        self.space_stamp = Some(now);
    }

    /// Gives memory back when nothing is held.
    pub fn release(&mut self) {
        if self.ring.is_empty() && self.ooo.is_empty() {
            self.ring.shrink(0, 0);
            // An emptied map may keep its node: let it go.
            self.ooo.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn drain(b: &mut RecvBuffer) -> Vec<u8> {
        let mut out = vec![0u8; b.readable()];
        let n = b.read(&mut out);
        out.truncate(n);
        out
    }

    #[test]
    fn in_order_and_reassembly() {
        let mut b = RecvBuffer::new(1, 64, 1 << 20, 8);
        assert_eq!(b.accept(1, b"ab").advanced, 2);
        assert_eq!(b.next(), 3);
        let r = b.accept(6, b"fg");
        assert_eq!(r.advanced, 0);
        assert_eq!(r.inserted.block, Some((6, 8)));
        let r = b.accept(4, b"de");
        assert_eq!(r.inserted.block, Some((4, 8)));
        assert_eq!(b.accept(3, b"c").advanced, 5);
        assert_eq!(drain(&mut b), b"abcdefg");
        assert_eq!(b.next(), 8);
        assert!(b.out_of_order().is_empty());
        // Duplicate of held out-of-order data is reported.
        b.accept(10, b"xy");
        let r = b.accept(10, b"xy");
        assert_eq!(r.inserted.duplicate, Some((10, 12)));
        assert_eq!(r.inserted.new_bytes, 0);
        // Stale data (before RCV.NXT) is not the buffer's business.
        assert_eq!(b.accept(2, b"zz"), Accepted::default());
    }

    #[test]
    fn read_with_lends_in_place_across_the_wrap() {
        let mut b = RecvBuffer::new(0, 4096, 4096, 8);
        let data: Vec<u8> = (0..4096u32).map(|i| i as u8).collect();
        assert_eq!(b.accept(0, &data[..3000]).advanced, 3000);
        // Partial consumption: the rest stays, and only one call is made
        // when the first slice is not taken whole.
        let mut calls = Vec::new();
        assert_eq!(
            b.read_with(&mut |d| {
                calls.push(d.len());
                100
            }),
            100
        );
        assert_eq!(calls, [3000]);
        assert_eq!(b.readable(), 2900);
        assert_eq!(b.read_with(&mut |d| d.len()), 2900);
        // The ring wraps: 3000 bytes from offset 3000 of a 4096-byte ring
        // are lent as two slices, in order.
        assert_eq!(b.accept(3000, &data[..3000]).advanced, 3000);
        let mut seen = Vec::new();
        let mut lens = Vec::new();
        let n = b.read_with(&mut |d| {
            lens.push(d.len());
            seen.extend_from_slice(d);
            d.len()
        });
        assert_eq!((n, lens.len(), seen.as_slice()), (3000, 2, &data[..3000]));
        assert_eq!(b.readable(), 0);
        // A consumer that over-reports is clamped.
        b.accept(6000, b"xyz");
        assert_eq!(b.read_with(&mut |_| 99), 3);
        assert_eq!(b.next(), 6003);
    }

    #[test]
    fn memory_follows_use() {
        let mut b = RecvBuffer::new(1, 1 << 16, 1 << 20, 8);
        assert_eq!(b.capacity(), 0);
        b.accept(1, &[1u8; 100]);
        assert!(b.capacity() >= 100);
        drain(&mut b);
        b.release();
        assert_eq!(b.capacity(), 0);
        // Far beyond the maximum: cut, never panics.
        let r = b.accept(u64::MAX - 4, b"abcdefgh");
        assert_eq!(r, Accepted::default());
    }

    #[test]
    fn autotune_follows_the_reader() {
        let mut b = RecvBuffer::new(1, 65_536, 4 << 20, 8);
        let rtt = Duration::from_millis(10);
        let mut t = Instant::from_secs(1);
        b.autotune(t, rtt, 1448);
        let mut at = 1u64;
        let mut limits = Vec::new();
        for _ in 0..12 {
            // The reader takes the whole window every round trip.
            let n = b.space();
            let chunk = vec![0u8; n];
            b.accept(at, &chunk);
            at += n as u64;
            drain(&mut b);
            t += rtt;
            b.autotune(t, rtt, 1448);
            limits.push(b.limit());
        }
        assert!(limits.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*limits.last().unwrap(), 4 << 20);
        // A reader that stops reading makes no growth.
        let mut slow = RecvBuffer::new(1, 65_536, 4 << 20, 8);
        slow.autotune(t, rtt, 1448);
        slow.accept(1, &vec![0u8; 60_000]);
        slow.autotune(t + rtt, rtt, 1448);
        assert_eq!(slow.limit(), 65_536);
    }
}
