//! The bounded receive queue of a datagram socket (UDP, ICMP echo):
//! datagrams wait here until the application reads them.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::SocketAddr;

use crate::pool::BufferPool;

/// One queued datagram. `data` is a pooled buffer.
#[derive(Debug)]
pub struct Datagram {
    /// Who sent it (for ICMP echo replies the port is the echo sequence number).
    pub peer: SocketAddr,
    pub data: Vec<u8>,
}

/// Bounded by datagram count and by bytes.
#[derive(Debug)]
pub struct RecvQueue {
    queue: VecDeque<Datagram>,
    bytes: usize,
    max_datagrams: usize,
    max_bytes: usize,
}

impl RecvQueue {
    pub fn new(max_datagrams: usize, max_bytes: usize) -> Self {
        RecvQueue {
            queue: VecDeque::new(),
            bytes: 0,
            max_datagrams,
            max_bytes,
        }
    }

    /// Copy `data` in; `false` (nothing queued) when a bound would be exceeded.
    pub fn push(&mut self, pool: &mut BufferPool, peer: SocketAddr, data: &[u8]) -> bool {
        if self.queue.len() >= self.max_datagrams || self.bytes + data.len() > self.max_bytes {
            return false;
        }
        self.bytes += data.len();
        self.queue.push_back(Datagram {
            peer,
            data: pool.take_copy(data),
        });
        true
    }

    /// Copy the oldest datagram into `buf` (truncating, like `recvfrom`),
    /// returning its full length and sender; the buffer goes back to the pool.
    pub fn pop_into(&mut self, pool: &mut BufferPool, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        let d = self.queue.pop_front()?;
        self.bytes -= d.data.len();
        let n = d.data.len().min(buf.len());
        buf[..n].copy_from_slice(&d.data[..n]);
        let out = (d.data.len(), d.peer);
        pool.give(d.data);
        Some(out)
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Return every buffer to the pool.
    pub fn clear(&mut self, pool: &mut BufferPool) {
        for d in self.queue.drain(..) {
            pool.give(d.data);
        }
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_count_and_bytes() {
        let mut pool = BufferPool::new(8);
        let peer: SocketAddr = "10.0.0.1:7".parse().unwrap();
        let mut q = RecvQueue::new(2, 10);
        assert!(q.push(&mut pool, peer, &[1; 4]));
        assert!(!q.push(&mut pool, peer, &[1; 7]), "bytes bound");
        assert!(q.push(&mut pool, peer, &[2; 6]));
        assert!(!q.push(&mut pool, peer, &[]), "count bound");
        let mut buf = [0u8; 2];
        assert_eq!(q.pop_into(&mut pool, &mut buf), Some((4, peer)));
        assert_eq!(buf, [1, 1]);
        assert_eq!(q.len(), 1);
    }
}
