//! `echo-client`: connect to a TCP echo server, send N random bytes while
//! reading the echo at the same time, and verify it: byte for byte against
//! the sent stream (the first differing offset is reported) and by SHA-256.
//!
//! Sending and receiving run in one task as a select loop over the one
//! stream: each turn offers the unsent bytes to `poll_write` and a buffer
//! to `poll_read`, and sleeps only when neither can proceed (both leave
//! the task's waker with the engine). (An echo server
//! stops reading once its own send buffer fills, so a client that wrote
//! everything before reading would deadlock with it.)
//!
//! ```no_run
//! # async fn f(net: mnet::Net) {
//! use mnet_apps::echo_client::{EchoClientConfig, echo_client};
//! use mnet_apps::source::RandomStream;
//! let cfg = EchoClientConfig::new("10.0.0.1:7".parse().unwrap(), 1 << 20, RandomStream::new([1; 32]));
//! match echo_client(&net, &cfg).await {
//!     Ok(report) if report.matched() => {}
//!     other => panic!("{other:?}"),
//! }
//! # }
//! ```

use alloc::vec;
use core::future::Future;
use core::net::SocketAddr;
use core::pin::pin;
use core::task::{Context, Poll};

use mnet::socket::{Shutdown, TcpStream, timeout};
use mnet::{Duration, Error, Net};
use sha2::{Digest, Sha256};

use crate::source::RandomStream;

/// Bytes per `write` and per `read`.
pub const ECHO_CLIENT_CHUNK: usize = 64 * 1024;
/// Turns of the select loop before it yields to the executor (which then
/// moves frames): keeps one busy connection from starving the device.
pub const SELECT_BUDGET: usize = 64;
/// How long to wait for the server's end of stream after the whole echo
/// came back.
pub const DEFAULT_EOF_WAIT: Duration = Duration::from_secs(5);

/// What to do.
#[derive(Clone)]
pub struct EchoClientConfig {
    pub remote: SocketAddr,
    /// Bytes to send (and expect back).
    pub bytes: u64,
    /// Where the bytes come from.
    pub data: RandomStream,
    /// See [`DEFAULT_EOF_WAIT`].
    pub eof_wait: Duration,
}

impl EchoClientConfig {
    pub fn new(remote: SocketAddr, bytes: u64, data: RandomStream) -> Self {
        EchoClientConfig {
            remote,
            bytes,
            data,
            eof_wait: DEFAULT_EOF_WAIT,
        }
    }
}

/// What happened on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EchoReport {
    /// From the first SYN to ESTABLISHED.
    pub connect_time: Duration,
    pub local: Option<SocketAddr>,
    pub sent: u64,
    pub received: u64,
    /// From ESTABLISHED to the last echoed byte.
    pub elapsed: Duration,
    pub sha256_sent: [u8; 32],
    pub sha256_received: [u8; 32],
    /// Offset of the first echoed byte that differs from the sent one
    /// (bytes beyond those sent count as differing).
    pub first_mismatch: Option<u64>,
    /// The server ended its stream (after the whole echo, or early).
    pub eof: bool,
}

impl EchoReport {
    /// Everything sent came back, unchanged, and nothing else.
    pub fn matched(&self) -> bool {
        self.sent == self.received && self.first_mismatch.is_none() && self.sha256_sent == self.sha256_received
    }
}

/// Why the client stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoClientError {
    /// The connection could not be opened (refused, timed out, ...).
    Connect { error: Error, after: Duration },
    /// The connection failed midway; `report` holds what was done.
    Transfer { error: Error, report: EchoReport },
}

/// Poll a freshly made future once (`shutdown`, which completes at once).
fn poll_once<F: Future>(fut: F, cx: &mut Context<'_>) -> Poll<F::Output> {
    pin!(fut).poll(cx)
}

/// Checks echoed bytes against the stream that was sent.
struct Verifier {
    expected: RandomStream,
    scratch: alloc::vec::Vec<u8>,
    hash: Sha256,
}

impl Verifier {
    fn check(&mut self, report: &mut EchoReport, got: &[u8]) {
        self.hash.update(got);
        let mut offset = report.received;
        report.received += got.len() as u64;
        if report.first_mismatch.is_some() {
            return;
        }
        for piece in got.chunks(self.scratch.len().max(1)) {
            let Some(exp) = self.scratch.get_mut(..piece.len()) else {
                return;
            };
            self.expected.fill(exp);
            if let Some(i) = exp.iter().zip(piece).position(|(a, b)| a != b) {
                report.first_mismatch = Some(offset + i as u64);
                return;
            }
            offset += piece.len() as u64;
        }
    }
}

/// Run the echo client (see the module documentation).
pub async fn echo_client(net: &Net, cfg: &EchoClientConfig) -> Result<EchoReport, EchoClientError> {
    let mut report = EchoReport::default();
    let t0 = net.now();
    let mut stream: TcpStream = net.tcp_connect(cfg.remote).await.map_err(|error| EchoClientError::Connect {
        error,
        after: net.now() - t0,
    })?;
    let t1 = net.now();
    report.connect_time = t1 - t0;
    report.local = stream.local_addr().ok();
    let r = exchange(&mut stream, cfg, &mut report).await;
    report.elapsed = net.now() - t1;
    if let Err(error) = r {
        stream.abort();
        return Err(EchoClientError::Transfer { error, report });
    }
    if !report.eof {
        // The whole echo is back; the server should now end its stream.
        let mut buf = vec![0u8; 4096];
        loop {
            match timeout(net, cfg.eof_wait, stream.read(&mut buf)).await {
                Ok(Ok(0)) => {
                    report.eof = true;
                    break;
                }
                Ok(Ok(n)) => {
                    // More than was sent: an echo server never does that.
                    report.first_mismatch.get_or_insert(report.received);
                    report.received += n.min(buf.len()) as u64;
                }
                Ok(Err(error)) => {
                    stream.abort();
                    return Err(EchoClientError::Transfer { error, report });
                }
                Err(_) => break, // no end of stream in time: reported as eof = false
            }
        }
    }
    if let Err(error) = stream.close().await {
        return Err(EchoClientError::Transfer { error, report });
    }
    Ok(report)
}

/// The select loop: write all of `cfg.bytes` (then our FIN) while reading
/// the echo, until all of it came back or the server ended its stream.
async fn exchange(stream: &mut TcpStream, cfg: &EchoClientConfig, report: &mut EchoReport) -> mnet::Result<()> {
    let total = cfg.bytes;
    let mut data = cfg.data.restart();
    let mut sent_hash = Sha256::new();
    let mut verifier = Verifier {
        expected: cfg.data.restart(),
        scratch: vec![0u8; ECHO_CLIENT_CHUNK],
        hash: Sha256::new(),
    };
    let mut out = vec![0u8; ECHO_CLIENT_CHUNK];
    let (mut out_pos, mut out_len) = (0usize, 0usize);
    let mut inbuf = vec![0u8; ECHO_CLIENT_CHUNK];
    let mut shut = false;
    let r = core::future::poll_fn(|cx| {
        for _ in 0..SELECT_BUDGET {
            let mut progress = false;
            if report.sent < total {
                if out_pos == out_len {
                    let n = usize::try_from(total - report.sent).unwrap_or(usize::MAX).min(out.len());
                    data.fill(&mut out[..n]);
                    sent_hash.update(&out[..n]);
                    (out_pos, out_len) = (0, n);
                }
                match stream.poll_write(cx, &out[out_pos..out_len]) {
                    Poll::Ready(Ok(n)) => {
                        let n = n.min(out_len - out_pos);
                        out_pos += n;
                        report.sent += n as u64;
                        progress |= n > 0;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            } else if !shut {
                match poll_once(stream.shutdown(Shutdown::Write), cx) {
                    Poll::Ready(Ok(())) => {
                        shut = true;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            }
            match stream.poll_read(cx, &mut inbuf) {
                Poll::Ready(Ok(0)) => {
                    report.eof = true;
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Ok(n)) => {
                    let n = n.min(inbuf.len());
                    if report.received + n as u64 > total {
                        report.first_mismatch.get_or_insert(total);
                    }
                    verifier.check(report, &inbuf[..n]);
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            if shut && report.received >= total {
                return Poll::Ready(Ok(()));
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
    report.sha256_sent = sent_hash.finalize().into();
    report.sha256_received = verifier.hash.finalize().into();
    r
}
