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

use alloc::boxed::Box;

use mnet::socket::TcpStream;
use mnet::{Error, Net, Result};

use crate::tcp_server::{ServeSummary, ServerConfig, ServerEvent, Transfer, fail, finish, serve};

/// Bytes moved per copy of one echo step: a buffer on the stack of the
/// step (it never lives across an `await`, so an idle connection's task
/// holds no buffer at all; the engine's receive and send buffers are the
/// only per-connection memory).
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
    loop {
        // Wait for data, then for room to echo it (back-pressure: a peer
        // that does not read its echo stops us reading).
        if t.ok(stream.readable().await).is_none() {
            return fail(stream, t);
        }
        let Some(room) = t.ok(stream.writable().await) else {
            return fail(stream, t);
        };
        // Nothing ran since the two waits: the data is still there and
        // `room` bytes fit in the send buffer.
        let step = echo_step(&mut stream, room, &mut t);
        match t.ok(step) {
            Some(true) => {}
            Some(false) => break,
            None => return fail(stream, t),
        }
    }
    // Boxed: the closing handshake's future would otherwise size every
    // idle connection's task (once per connection, at its end).
    Box::pin(finish(stream, t)).await
}

/// Moves up to `room` bytes from the receive to the send buffer, without
/// waiting; `Ok(false)` at the end of the stream.
fn echo_step(stream: &mut TcpStream, mut room: usize, t: &mut Transfer) -> Result<bool> {
    let mut chunk = [0u8; ECHO_CHUNK];
    while room > 0 {
        let want = room.min(chunk.len());
        let n = match stream.try_read(&mut chunk[..want]) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(Error::WouldBlock) => break,
            Err(e) => return Err(e),
        };
        t.bytes_in += n as u64;
        // `n <= room`: the send buffer takes all of it.
        if stream.try_write(&chunk[..n])? != n {
            return Err(Error::WouldBlock);
        }
        t.bytes_out += n as u64;
        room -= n;
    }
    Ok(true)
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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn future_size<F: core::future::Future>(_: impl Fn(TcpStream) -> F) -> usize {
        core::mem::size_of::<F>()
    }

    #[test]
    fn an_echo_task_holds_no_buffer_across_awaits() {
        // The step's chunk lives on the stack only: the task itself (what
        // an idle connection costs besides the engine) stays small.
        let size = future_size(echo_connection);
        std::println!("echo_connection future: {size} bytes");
        // The state that waits holds the stream and its Transfer record
        // (352 bytes here), nothing else of size.
        assert!(size <= core::mem::size_of::<Transfer>() + 128, "{size}");
    }
}
