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

    /// A buffer of exactly `len` bytes whose contents are whatever the
    /// reused buffer held (zeroes where it grows): for a caller that
    /// writes every byte, so a 64 KiB super-segment is not zeroed before
    /// its payload is copied over it. No `unsafe`: the bytes are always
    /// initialized, only stale.
    pub fn take_for_overwrite(&mut self, len: usize) -> Vec<u8> {
        let mut b = self.free.pop().unwrap_or_default();
        if b.len() >= len {
            b.truncate(len);
        } else {
            b.resize(len, 0);
        }
        b
    }

    /// Fills the free buffers (and `extra` new ones of `len` bytes) with
    /// garbage: tests of callers of [`BufferPool::take_for_overwrite`]
    /// show that no stale byte leaks into what they build.
    #[cfg(test)]
    pub fn poison(&mut self, extra: usize, len: usize) {
        for _ in 0..extra {
            if self.free.len() < self.max_free {
                self.free.push(alloc::vec![0; len]);
            }
        }
        for b in &mut self.free {
            let cap = b.capacity().max(len);
            b.resize(cap, 0);
            b.fill(0xa5);
        }
    }

    /// A buffer holding a copy of `data`.
    pub fn take_copy(&mut self, data: &[u8]) -> Vec<u8> {
        let mut b = self.free.pop().unwrap_or_default();
        b.clear();
        b.extend_from_slice(data);
        b
    }

    /// Give a buffer back (dropped when the pool is full); its contents
    /// stay (see [`BufferPool::take_for_overwrite`]).
    pub fn give(&mut self, b: Vec<u8>) {
        if self.free.len() < self.max_free && b.capacity() > 0 {
            self.free.push(b);
        }
    }
}
