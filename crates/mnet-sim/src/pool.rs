//! Recycled frame buffers: the simulator copies every frame, but the copies
//! live in `Vec`s that go back to a bounded free list after delivery, so a
//! steady flow of traffic stops allocating once the pool has warmed up.

/// How many free buffers a pool keeps at most; more are freed.
pub const POOL_MAX_BUFFERS: usize = 4096;

/// A bounded free list of frame buffers.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Vec<Vec<u8>>,
    /// Buffers created because the free list was empty (for tests and stats).
    allocations: u64,
}

impl BufferPool {
    /// A buffer holding a copy of `bytes`, reused from the free list when
    /// one is there.
    pub fn copy_of(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut buffer = match self.free.pop() {
            Some(buffer) => buffer,
            None => {
                self.allocations += 1;
                Vec::with_capacity(bytes.len())
            }
        };
        buffer.clear();
        buffer.extend_from_slice(bytes);
        buffer
    }

    /// Give a buffer back; it is freed if the pool is full.
    pub fn recycle(&mut self, buffer: Vec<u8>) {
        if self.free.len() < POOL_MAX_BUFFERS {
            self.free.push(buffer);
        }
    }

    /// How many buffers were allocated because none was free.
    pub fn allocations(&self) -> u64 {
        self.allocations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_buffers() {
        let mut pool = BufferPool::default();
        let a = pool.copy_of(&[1, 2, 3]);
        assert_eq!(a, [1, 2, 3]);
        assert_eq!(pool.allocations(), 1);
        pool.recycle(a);
        let b = pool.copy_of(&[9; 100]);
        assert_eq!(b, vec![9; 100]);
        assert_eq!(pool.allocations(), 1);
        let c = pool.copy_of(&[7]);
        assert_eq!(pool.allocations(), 2);
        pool.recycle(b);
        pool.recycle(c);
        assert_eq!(pool.free.len(), 2);
    }

    #[test]
    fn stays_bounded() {
        let mut pool = BufferPool::default();
        for _ in 0..POOL_MAX_BUFFERS + 10 {
            pool.recycle(Vec::new());
        }
        assert_eq!(pool.free.len(), POOL_MAX_BUFFERS);
    }
}
