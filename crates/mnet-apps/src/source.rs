//! `source`: accept, write a given number of bytes, close — the sending end
//! of a throughput test (a Linux `socat`/`nc` reads them).
//!
//! The bytes are random, from a [`RandomStream`] seeded by the caller, so
//! that a reader can verify them by SHA-256: the digest of what each
//! connection wrote is reported in its [`Transfer`] (unless the caller
//! asks for none: hashing costs more CPU than sending). The stream is
//! generated straight into the connection's send buffer
//! ([`TcpStream::write_with`]): no buffer of the application's between.
//!
//! ```no_run
//! # async fn f(net: mnet::Net, spawner: mnet::executor::Spawner) -> mnet::Result<()> {
//! use mnet_apps::source::{RandomStream, source};
//! use mnet_apps::tcp_server::ServerConfig;
//! let data = RandomStream::new([7; 32]);
//! source(&net, &spawner, ServerConfig::new(5001).limit(Some(1)), 1 << 20, data, true, |_| {}).await?;
//! # Ok(()) }
//! ```

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;

use mnet::rand::Rng;
use mnet::socket::TcpStream;
use mnet::{Net, Result};
use sha2::{Digest, Sha256};

use crate::tcp_server::{ServeSummary, ServerConfig, ServerEvent, Transfer, fail, finish, serve};

/// Length of the random block a [`RandomStream`] repeats: a prime just
/// under 1 MiB, so no segment size lines up with it and a lost, repeated
/// or misplaced segment changes the digest.
pub const RANDOM_BLOCK_LEN: usize = 1_048_573;

/// Bytes asked of one `write_with` call at most.
pub const SOURCE_CHUNK: usize = 64 * 1024;

/// An endless, cheap stream of random-looking bytes: one random block of
/// [`RANDOM_BLOCK_LEN`] bytes (drawn once from a seeded ChaCha20),
/// repeated. Clones share the block and start at offset 0.
#[derive(Clone)]
pub struct RandomStream {
    block: Rc<[u8]>,
    pos: usize,
}

impl RandomStream {
    pub fn new(seed: [u8; 32]) -> Self {
        let mut block: Vec<u8> = vec![0; RANDOM_BLOCK_LEN];
        Rng::from_seed(seed).fill_bytes(&mut block);
        RandomStream {
            block: block.into(),
            pos: 0,
        }
    }

    /// The same stream again from offset 0.
    pub fn restart(&self) -> Self {
        RandomStream {
            block: self.block.clone(),
            pos: 0,
        }
    }

    /// Fill `out` with the next bytes of the stream.
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            let src = self.block.get(self.pos..).unwrap_or_default();
            let n = src.len().min(out.len() - done);
            if let (Some(dst), Some(src)) = (out.get_mut(done..done + n), src.get(..n)) {
                dst.copy_from_slice(src);
            }
            done += n;
            self.pos += n;
            if self.pos >= self.block.len() {
                self.pos = 0;
            }
        }
    }
}

/// Write `bytes` bytes of `data` to `stream`, then close gracefully once
/// the peer acknowledged all of them. Reads nothing. With `digest`, the
/// SHA-256 of the bytes is reported in [`Transfer::sha256_out`].
pub async fn source_connection(mut stream: TcpStream, bytes: u64, mut data: RandomStream, digest: bool) -> Transfer {
    let mut t = Transfer::default();
    let mut hash = digest.then(Sha256::new);
    while t.bytes_out < bytes {
        let max = usize::try_from(bytes - t.bytes_out).unwrap_or(usize::MAX).min(SOURCE_CHUNK);
        let wrote = stream
            .write_with(max, |space| {
                data.fill(space);
                if let Some(h) = hash.as_mut() {
                    h.update(&*space);
                }
                space.len()
            })
            .await;
        match t.ok(wrote) {
            Some(n) if n > 0 => t.bytes_out += n as u64,
            _ => return fail(stream, t),
        }
    }
    t.sha256_out = hash.map(|h| h.finalize().into());
    finish(stream, t).await
}

/// `source`: [`source_connection`] for every connection accepted on `cfg`
/// (see [`serve`] for `limit`); every connection gets the same bytes.
pub async fn source(
    net: &Net,
    spawner: &mnet::executor::Spawner,
    cfg: ServerConfig,
    bytes: u64,
    data: RandomStream,
    digest: bool,
    on_event: impl FnMut(&ServerEvent) + 'static,
) -> Result<ServeSummary> {
    serve(
        net,
        spawner,
        cfg,
        move |stream, _id| source_connection(stream, bytes, data.restart(), digest),
        on_event,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_stream_repeats_its_block_and_restarts() {
        let mut a = RandomStream::new([3; 32]);
        let mut first = vec![0u8; RANDOM_BLOCK_LEN + 10];
        a.fill(&mut first[..1000]);
        a.fill(&mut first[1000..]);
        // The block repeats after exactly RANDOM_BLOCK_LEN bytes.
        assert_eq!(first[..10], first[RANDOM_BLOCK_LEN..]);
        assert_ne!(first[..10], first[10..20]);
        // A restart gives the same bytes; another seed gives others.
        let mut again = vec![0u8; 4096];
        a.restart().fill(&mut again);
        assert_eq!(again[..], first[..4096]);
        let mut other = vec![0u8; 4096];
        RandomStream::new([4; 32]).fill(&mut other);
        assert_ne!(other, again);
    }
}
