//! The send buffer: bytes the user wrote that the peer has not yet
//! acknowledged (sent or not).
//!
//! RFC 9293 §3.8.1: "the data is held in a retransmission queue until it is
//! acknowledged". Byte 0 of the buffer is SND.UNA (once the SYN is
//! acknowledged). The buffer's *limit* grows with the congestion window
//! (the connection calls [`SendBuffer::set_limit`]), up to the configured
//! maximum, much as Linux sizes `sk_sndbuf` from cwnd; memory is taken
//! only for bytes actually queued and given back when the buffer has been
//! empty for a while ([`SendBuffer::release`]).
//!
//! ```
//! use mnet::tcp::send_buffer::SendBuffer;
//! let mut b = SendBuffer::new(8, 64);
//! assert_eq!(b.write(b"hello world"), 8); // the limit, not the max
//! b.ack(6);
//! let (a, rest) = b.slice(0, 10);
//! assert_eq!([a, rest].concat(), b"wo");
//! ```

use super::ring::RingBuffer;

/// Unacknowledged and unsent bytes.
#[derive(Debug, Clone)]
pub struct SendBuffer {
    ring: RingBuffer,
    limit: usize,
    max: usize,
}

impl SendBuffer {
    /// An empty buffer accepting `limit` bytes now, `max` at most.
    pub fn new(limit: usize, max: usize) -> SendBuffer {
        SendBuffer {
            ring: RingBuffer::new(),
            limit: limit.min(max),
            max,
        }
    }

    /// Bytes queued (unacknowledged and unsent).
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Bytes the user may still write.
    pub fn space(&self) -> usize {
        self.limit.saturating_sub(self.ring.len())
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Memory held.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Sets the limit (clamped to the maximum). Lowering it below what is
    /// queued drops nothing; it only stops further writes.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(self.max);
    }

    /// Copies as much of `data` as the limit allows; returns the count.
    pub fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.space());
        if n == 0 {
            return 0;
        }
        self.ring.reserve(self.ring.len() + n, self.limit.max(self.ring.len() + n));
        self.ring.push(&data[..n])
    }

    /// [`SendBuffer::write`] without the caller's own buffer: `fill` writes
    /// up to `max` bytes (fewer when the limit or the ring's contiguous
    /// room is smaller) in place and returns how many it wrote, which are
    /// then queued. `fill` is not called when no byte fits.
    pub fn write_with(&mut self, max: usize, fill: impl FnOnce(&mut [u8]) -> usize) -> usize {
        let n = max.min(self.space());
        if n == 0 {
            return 0;
        }
        self.ring.reserve(self.ring.len() + n, self.limit.max(self.ring.len() + n));
        self.ring.push_with(n, fill)
    }

    /// Forgets the first `n` bytes (acknowledged).
    pub fn ack(&mut self, n: usize) {
        self.ring.consume(n);
    }

    /// The bytes at `offset..offset + len` (clamped to what is queued), as
    /// up to two slices.
    pub fn slice(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let len = len.min(self.ring.len().saturating_sub(offset));
        self.ring.read_at(offset, len)
    }

    /// Gives memory back when nothing is queued.
    pub fn release(&mut self) {
        if self.ring.is_empty() {
            self.ring.shrink(0, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds_writes_and_memory() {
        let mut b = SendBuffer::new(10_000, 20_000);
        let data = [7u8; 30_000];
        assert_eq!(b.write(&data), 10_000);
        assert_eq!(b.write(&data), 0);
        assert!(b.capacity() <= 16_384 && b.capacity() >= 10_000);
        b.set_limit(1 << 30);
        assert_eq!(b.limit(), 20_000);
        assert_eq!(b.write(&data), 10_000);
        assert_eq!(b.len(), 20_000);
        b.ack(20_000);
        assert!(b.is_empty());
        assert!(b.capacity() > 0);
        b.release();
        assert_eq!(b.capacity(), 0);
    }

    #[test]
    fn write_with_fills_in_place_within_the_limit() {
        let mut b = SendBuffer::new(10_000, 20_000);
        let n = b.write_with(30_000, |space| {
            assert_eq!(space.len(), 10_000, "the limit, not the request");
            space.fill(3);
            space.len()
        });
        assert_eq!((n, b.len()), (10_000, 10_000));
        assert_eq!(b.write_with(1, |_| panic!("full: not called")), 0);
        b.ack(4_000);
        // Fewer than offered: only those are queued.
        assert_eq!(
            b.write_with(100, |space| {
                space[..10].fill(9);
                10
            }),
            10
        );
        assert_eq!(b.len(), 6_010);
        let (x, y) = b.slice(6_000, 100);
        assert_eq!([x, y].concat(), [9u8; 10]);
        assert!(b.capacity() <= 16_384, "{}", b.capacity());
    }

    #[test]
    fn slices_past_the_end_are_clamped() {
        let mut b = SendBuffer::new(100, 100);
        b.write(b"abcdef");
        let (x, y) = b.slice(4, 100);
        assert_eq!([x, y].concat(), b"ef");
        let (x, y) = b.slice(10, 5);
        assert!(x.is_empty() && y.is_empty());
        b.ack(100);
        assert!(b.is_empty());
    }
}
