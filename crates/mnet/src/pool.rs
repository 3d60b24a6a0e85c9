//! Frame buffers kept for reuse, so the steady-state receive and transmit
//! paths allocate nothing per packet.

use alloc::vec::Vec;

/// A bounded free list of byte buffers.
pub struct BufferPool {
    free: Vec<Vec<u8>>,
    max_free: usize,
}

impl BufferPool {
    pub fn new(max_free: usize) -> Self {
        BufferPool {
            free: Vec::with_capacity(max_free),
            max_free,
        }
    }

    /// A buffer of exactly `len` zeroed bytes, reused when possible.
    pub fn take(&mut self, len: usize) -> Vec<u8> {
        let mut b = self.free.pop().unwrap_or_default();
        b.clear();
        b.resize(len, 0);
        b
    }

    /// A buffer holding a copy of `data`.
    pub fn take_copy(&mut self, data: &[u8]) -> Vec<u8> {
        let mut b = self.free.pop().unwrap_or_default();
        b.clear();
        b.extend_from_slice(data);
        b
    }

    /// Give a buffer back (dropped when the pool is full).
    pub fn give(&mut self, b: Vec<u8>) {
        if self.free.len() < self.max_free && b.capacity() > 0 {
            self.free.push(b);
        }
    }
}
