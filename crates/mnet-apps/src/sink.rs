//! `sink`: accept, read to the end of the stream, discard — the receiving
//! end of a throughput test. Each connection reports its byte count, its
//! duration and, with [`SinkMode::Sha256`], the SHA-256 of what it read (so
//! a sender can be checked without storing the data); [`SinkMode::Discard`]
//! only counts (a benchmark's receiver, doing no more work per byte than
//! the other stacks' sinks it is compared with).
//!
//! ```no_run
//! # async fn f(net: mnet::Net, spawner: mnet::executor::Spawner) -> mnet::Result<()> {
//! use mnet_apps::sink::{SinkMode, sink};
//! use mnet_apps::tcp_server::{ServerConfig, ServerEvent};
//! sink(&net, &spawner, ServerConfig::new(5001).limit(Some(1)), SinkMode::Sha256, |ev| {
//!     if let ServerEvent::Finished { transfer, .. } = ev {
//!         let _ = (transfer.bytes_in, transfer.sha256_in);
//!     }
//! })
//! .await?;
//! # Ok(()) }
//! ```

use mnet::socket::TcpStream;
use mnet::{Net, Result};
use sha2::{Digest, Sha256};

use crate::tcp_server::{ServeSummary, ServerConfig, ServerEvent, Transfer, fail, finish, serve};

/// What a sink does with the bytes it reads besides counting them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    /// Hash them: [`Transfer::sha256_in`] holds their SHA-256.
    Sha256,
    /// Nothing: [`Transfer::sha256_in`] stays `None`.
    Discard,
}

/// Read `stream` to its end, discarding (and hashing, per `mode`); then
/// close gracefully.
pub async fn sink_connection(mut stream: TcpStream, mode: SinkMode) -> Transfer {
    let mut t = Transfer::default();
    let mut hash = (mode == SinkMode::Sha256).then(Sha256::new);
    loop {
        // The bytes are looked at where they lie in the receive buffer:
        // no copy after the one from the frame.
        let read = stream.read_with(|data| {
            if let Some(h) = hash.as_mut() {
                h.update(data);
            }
            data.len()
        });
        match t.ok(read.await) {
            Some(0) => break,
            Some(n) => t.bytes_in += n as u64,
            None => {
                return fail(stream, t);
            }
        }
    }
    t.sha256_in = hash.map(|h| h.finalize().into());
    finish(stream, t).await
}

/// `sink`: [`sink_connection`] for every connection accepted on `cfg` (see
/// [`serve`] for `limit`).
pub async fn sink(
    net: &Net,
    spawner: &mnet::executor::Spawner,
    cfg: ServerConfig,
    mode: SinkMode,
    on_event: impl FnMut(&ServerEvent) + 'static,
) -> Result<ServeSummary> {
    serve(net, spawner, cfg, move |stream, _id| sink_connection(stream, mode), on_event).await
}
