//! `echo-server`: TCP echo (RFC 862) with TCP_NODELAY, one task per
//! connection, any number of connections at once.
//!
//! Each connection echoes what it reads until the peer's end of stream,
//! then sends its own FIN after the last echoed byte and waits until the
//! peer acknowledged everything before it counts as finished (the
//! `--limit` contract of [`crate::tcp_server`]).
//!
//! ```no_run
//! # async fn f(net: mnet::Net, spawner: mnet::executor::Spawner) -> mnet::Result<()> {
//! use mnet_apps::tcp_echo::echo_server;
//! use mnet_apps::tcp_server::ServerConfig;
//! // Echo on port 7 for two connections, then return.
//! let summary = echo_server(&net, &spawner, ServerConfig::new(7).limit(Some(2)), |_| {}).await?;
//! assert_eq!(summary.failed, 0);
//! # Ok(()) }
//! ```

use alloc::vec;

use mnet::socket::TcpStream;
use mnet::{Net, Result};

use crate::tcp_server::{ServeSummary, ServerConfig, ServerEvent, Transfer, fail, finish, serve};

/// Bytes read (and written back) per step of one connection.
pub const ECHO_CHUNK: usize = 16 * 1024;

/// Echo everything `stream` delivers back to it until end of stream, then
/// close gracefully once the peer has acknowledged every echoed byte.
pub async fn echo_connection(mut stream: TcpStream) -> Transfer {
    let mut t = Transfer::default();
    // TCP_NODELAY: an echo answers each read at once (no Nagle wait for
    // the rest of a small write that will never come).
    if t.ok(stream.set_nodelay(true)).is_none() {
        return fail(stream, t);
    }
    let mut buf = vec![0u8; ECHO_CHUNK];
    loop {
        let n = match t.ok(stream.read(&mut buf).await) {
            Some(0) => break,
            Some(n) => n.min(buf.len()),
            None => {
                return fail(stream, t);
            }
        };
        t.bytes_in += n as u64;
        if t.ok(stream.write_all(&buf[..n]).await).is_none() {
            return fail(stream, t);
        }
        t.bytes_out += n as u64;
    }
    finish(stream, t).await
}

/// `echo-server`: [`echo_connection`] for every connection accepted on
/// `cfg` (see [`serve`] for `limit`).
pub async fn echo_server(
    net: &Net,
    spawner: &mnet::executor::Spawner,
    cfg: ServerConfig,
    on_event: impl FnMut(&ServerEvent) + 'static,
) -> Result<ServeSummary> {
    serve(net, spawner, cfg, |stream, _id| echo_connection(stream), on_event).await
}
