//! The accept loop that every TCP server of mnet shares (`echo-server`,
//! `sink`, `source`): one task per connection, and the `--limit N`
//! meaning fixed by the TCP issue — accept N connections, then stop
//! accepting (the listener closes) and return once all N are finished.
//!
//! A connection handler is an `async` block that owns its [`TcpStream`]
//! and returns a [`Transfer`]; it finishes only after the peer acknowledged
//! everything it wrote (`flush()` before `close()`), so a server that
//! returns never leaves data unacknowledged behind.
//!
//! Concurrency: handlers run as tasks of mnet's single-threaded executor
//! (a [`Spawner`]); nothing here needs `Send`. Errors: a failed connection
//! is reported in its [`Transfer`] and counted in the [`ServeSummary`]; it
//! never stops the server. Only a failure to listen or to accept ends
//! [`serve`] with an error.
//!
//! ```no_run
//! # async fn f(net: mnet::Net, spawner: mnet::executor::Spawner) -> mnet::Result<()> {
//! use mnet_apps::tcp_server::{ServerConfig, Transfer, serve};
//! let cfg = ServerConfig::new(9000).limit(Some(1));
//! let summary = serve(&net, &spawner, cfg, |stream, _id| async move {
//!     let _ = stream.close().await;
//!     Transfer::default()
//! }, |_event| {}).await?;
//! assert_eq!(summary.accepted, 1);
//! # Ok(()) }
//! ```

use alloc::boxed::Box;
use alloc::rc::Rc;
use core::cell::RefCell;
use core::future::Future;
use core::net::{IpAddr, Ipv6Addr, SocketAddr};
use core::task::{Poll, Waker};

use mnet::executor::Spawner;
use mnet::socket::{Shutdown, TcpStream};
use mnet::tcp::TcpInfo;
use mnet::{Duration, Error, Net, Result};

/// Accept-queue length the servers ask for: the 1,000-connection test
/// opens that many connections at once. (The engine bounds its SYN queue
/// separately and answers with SYN cookies when that fills.)
pub const DEFAULT_BACKLOG: usize = 1024;

/// What a server listens on and how long it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// The local address (unspecified IP: every address of the stack).
    pub local: SocketAddr,
    /// Accept this many connections, then stop accepting and return once
    /// all are finished (`None`: accept forever).
    pub limit: Option<u64>,
    /// The accept queue's bound, passed to `tcp_listen`.
    pub backlog: usize,
}

impl ServerConfig {
    /// Every address of the stack (`::` is dual-stack: IPv4 too), `port`,
    /// no limit, the default backlog.
    pub fn new(port: u16) -> Self {
        ServerConfig {
            local: SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
            limit: None,
            backlog: DEFAULT_BACKLOG,
        }
    }

    /// Set the `--limit`.
    pub fn limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        self
    }
}

/// What one connection moved, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transfer {
    /// Bytes read from the peer.
    pub bytes_in: u64,
    /// Bytes written to the peer (and acknowledged, when `error` is `None`).
    pub bytes_out: u64,
    /// SHA-256 of the bytes read, when the handler computes it.
    pub sha256_in: Option<[u8; 32]>,
    /// SHA-256 of the bytes written, when the handler computes it.
    pub sha256_out: Option<[u8; 32]>,
    /// Why the connection ended early (`None`: it ended cleanly).
    pub error: Option<Error>,
    /// The engine's view of the connection at its end (retransmissions,
    /// RTT, window), like `ss -ti`.
    pub info: Option<TcpInfo>,
}

impl Transfer {
    /// Record `r`'s error, if any, and say whether it was `Ok`.
    pub fn ok<T>(&mut self, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }
}

/// What a server reports as it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The listener is open.
    Listening(SocketAddr),
    /// Connection `id` (counted from 1) was accepted.
    Accepted { id: u64, peer: SocketAddr },
    /// Connection `id` finished (its handler returned).
    Finished {
        id: u64,
        peer: SocketAddr,
        /// From accept to the handler's return, in the engine's time.
        elapsed: Duration,
        transfer: Box<Transfer>,
    },
    /// `--limit` connections were accepted; the listener is closed.
    StoppedAccepting { accepted: u64 },
}

/// How a server with a `--limit` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServeSummary {
    pub accepted: u64,
    /// Connections whose handler reported an error.
    pub failed: u64,
}

/// Connections in flight, shared by the accept loop and the handler tasks.
#[derive(Default)]
struct Tracker {
    open: u64,
    failed: u64,
    /// The accept loop, waiting for `open` to reach zero.
    waiter: Option<Waker>,
}

/// What [`serve`]'s accept loop shares with its connection tasks.
struct Shared<H, E> {
    net: Net,
    /// Makes each connection's future, called inside its task.
    handler: RefCell<H>,
    on_event: RefCell<E>,
    tracker: RefCell<Tracker>,
}

/// Listen on `cfg.local` and run `handler(stream, id)` as a task of
/// `spawner` for every accepted connection; `on_event` hears about each.
/// Returns only with a `limit` (or on a listen/accept error): after
/// `limit` connections were accepted and every handler has returned.
pub async fn serve<H, Fut, E>(net: &Net, spawner: &Spawner, cfg: ServerConfig, handler: H, on_event: E) -> Result<ServeSummary>
where
    H: FnMut(TcpStream, u64) -> Fut + 'static,
    Fut: Future<Output = Transfer> + 'static,
    E: FnMut(&ServerEvent) + 'static,
{
    // One `Rc` for all the task needs from here: every idle connection's
    // task holds it. The handler is called inside the task: a future
    // moved into a task and then awaited is stored twice in it (once as
    // the captured value, once as the awaited one).
    let shared = Rc::new(Shared {
        net: net.clone(),
        handler: RefCell::new(handler),
        on_event: RefCell::new(on_event),
        tracker: RefCell::new(Tracker::default()),
    });
    let listener = net.tcp_listen(cfg.local, cfg.backlog)?;
    (shared.on_event.borrow_mut())(&ServerEvent::Listening(listener.local_addr()?));
    let mut accepted = 0u64;
    while cfg.limit.is_none_or(|l| accepted < l) {
        let (stream, peer) = listener.accept().await?;
        accepted += 1;
        let id = accepted;
        (shared.on_event.borrow_mut())(&ServerEvent::Accepted { id, peer });
        shared.tracker.borrow_mut().open += 1;
        let started = net.now();
        let shared = shared.clone();
        spawner.spawn(async move {
            let work = (shared.handler.borrow_mut())(stream, id);
            let transfer = work.await;
            let elapsed = shared.net.now() - started;
            (shared.on_event.borrow_mut())(&ServerEvent::Finished {
                id,
                peer,
                elapsed,
                transfer: Box::new(transfer),
            });
            let mut t = shared.tracker.borrow_mut();
            t.open -= 1;
            t.failed += u64::from(transfer.error.is_some());
            if let Some(w) = t.waiter.take() {
                w.wake();
            }
        });
    }
    // "then stops accepting": connections still queued are reset.
    drop(listener);
    (shared.on_event.borrow_mut())(&ServerEvent::StoppedAccepting { accepted });
    core::future::poll_fn(|cx| {
        let mut t = shared.tracker.borrow_mut();
        if t.open == 0 {
            Poll::Ready(())
        } else {
            t.waiter = Some(cx.waker().clone());
            Poll::Pending
        }
    })
    .await;
    let failed = shared.tracker.borrow().failed;
    Ok(ServeSummary { accepted, failed })
}

/// Send our FIN after the data, wait until the peer acknowledged all of
/// it, then hand the connection to the engine to finish.
pub async fn finish(mut stream: TcpStream, mut t: Transfer) -> Transfer {
    let ok = t.ok(stream.shutdown(Shutdown::Write).await).is_some() && t.ok(stream.flush().await).is_some();
    if !ok {
        return fail(stream, t);
    }
    t.info = stream.info().ok();
    t.ok(stream.close().await);
    t
}

/// The connection failed (`t.error` says why): keep the engine's view of
/// it, then reset it.
pub fn fail(stream: TcpStream, mut t: Transfer) -> Transfer {
    t.info = stream.info().ok();
    stream.abort();
    t
}

#[cfg(test)]
mod tests {
    //! The servers and the echo client, two stacks on a simulated lossy
    //! link (virtual time: seconds of protocol time take milliseconds).
    extern crate std;

    use alloc::vec;
    use alloc::vec::Vec;
    use core::cell::RefCell;
    use core::net::{IpAddr, Ipv4Addr, SocketAddr};

    use mnet::executor::{Driver, Executor};
    use mnet::socket::Interface;
    use mnet::wire::{EthernetAddress, IpCidr};
    use mnet::{Config, Instant, Net, Stack};
    use mnet_sim::{LinkConfig, Network, Ratio, SimPlatform};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::echo_client::{EchoClientConfig, echo_client};
    use crate::sink::SinkMode;
    use crate::source::RandomStream;

    const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn stack(last: u8, ip: Ipv4Addr) -> Net {
        let mac = EthernetAddress([0x02, 0, 0, 0, 0, last]);
        let cidr = IpCidr::new(IpAddr::V4(ip), 24).unwrap();
        Net::new(Stack::new(Config::new(mac, [last; 32]).address(cidr), Instant::ZERO))
    }

    /// Runs `main(a, b, spawner)` with A and B on a 1 ms link losing
    /// `loss_percent` % of the frames.
    fn run<F: core::future::Future>(loss_percent: u32, main: impl FnOnce(Net, Net, Spawner) -> F) -> F::Output {
        let network = Network::new(7);
        let (dev_a, dev_b) = network.link(LinkConfig {
            latency: Duration::from_millis(1),
            loss: Ratio::from_percent(loss_percent),
            ..LinkConfig::default()
        });
        let (a, b) = (stack(1, IP_A), stack(2, IP_B));
        let mut ia = Interface::new(a.clone(), dev_a);
        let mut ib = Interface::new(b.clone(), dev_b);
        let mut platform = SimPlatform::new(network);
        let mut executor = Executor::new();
        let spawner = executor.spawner();
        let drivers: &mut [&mut dyn Driver] = &mut [&mut ia, &mut ib];
        executor.block_on(&mut platform, drivers, main(a, b, spawner))
    }

    #[test]
    fn echo_server_with_limit_serves_concurrent_clients_then_returns() {
        let (summary, reports, events) = run(1, |a, b, spawner| async move {
            let events = Rc::new(RefCell::new(Vec::new()));
            let ev = events.clone();
            let server = crate::tcp_echo::echo_server(&b, &spawner, ServerConfig::new(7).limit(Some(3)), move |e| {
                ev.borrow_mut().push(e.clone())
            });
            let reports = Rc::new(RefCell::new(Vec::new()));
            for i in 0..3u8 {
                let (a, reports) = (a.clone(), reports.clone());
                spawner.spawn(async move {
                    let cfg = EchoClientConfig::new(
                        SocketAddr::new(IpAddr::V4(IP_B), 7),
                        100_000 + u64::from(i),
                        RandomStream::new([i; 32]),
                    );
                    let r = echo_client(&a, &cfg).await;
                    reports.borrow_mut().push(r);
                });
            }
            let summary = server.await;
            (summary, reports, events)
        });
        assert_eq!(summary, Ok(ServeSummary { accepted: 3, failed: 0 }));
        let reports = reports.borrow();
        assert_eq!(reports.len(), 3, "{reports:?}");
        for r in reports.iter() {
            let r = r.as_ref().expect("echo client");
            assert!(r.matched(), "{r:?}");
            assert!(r.eof, "the server closed after the echo");
            assert!(r.sent >= 100_000);
        }
        let events = events.borrow();
        assert!(
            matches!(events.first(), Some(ServerEvent::Listening(a)) if a.port() == 7),
            "{events:?}"
        );
        let finished: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Finished { transfer, .. } => Some(**transfer),
                _ => None,
            })
            .collect();
        assert_eq!(finished.len(), 3);
        assert!(
            finished
                .iter()
                .all(|t| t.error.is_none() && t.bytes_in == t.bytes_out && t.bytes_in >= 100_000)
        );
        assert!(events.contains(&ServerEvent::StoppedAccepting { accepted: 3 }));
    }

    #[test]
    fn sink_and_source_report_the_sha256_of_what_moved() {
        let (sink_events, source_events, read_digest, written_digest) = run(2, |a, b, spawner| async move {
            let sink_ev = Rc::new(RefCell::new(Vec::new()));
            let source_ev = Rc::new(RefCell::new(Vec::new()));
            let (e1, e2) = (sink_ev.clone(), source_ev.clone());
            let (b1, b2, s1, s2) = (b.clone(), b.clone(), spawner.clone(), spawner.clone());
            spawner.spawn(async move {
                crate::sink::sink(&b1, &s1, ServerConfig::new(9).limit(Some(1)), SinkMode::Sha256, move |e| {
                    e1.borrow_mut().push(e.clone())
                })
                .await
                .unwrap();
            });
            spawner.spawn(async move {
                let data = RandomStream::new([9; 32]);
                crate::source::source(&b2, &s2, ServerConfig::new(19).limit(Some(1)), 300_000, data, true, move |e| {
                    e2.borrow_mut().push(e.clone())
                })
                .await
                .unwrap();
            });
            // Write 250,000 bytes to the sink.
            let mut s = a.tcp_connect(SocketAddr::new(IpAddr::V4(IP_B), 9)).await.unwrap();
            let mut data = vec![0u8; 250_000];
            RandomStream::new([5; 32]).fill(&mut data);
            s.write_all(&data).await.unwrap();
            s.shutdown(Shutdown::Write).await.unwrap();
            s.flush().await.unwrap();
            assert_eq!(s.read(&mut [0u8; 16]).await.unwrap(), 0, "the sink sends nothing");
            s.close().await.unwrap();
            let written: [u8; 32] = Sha256::digest(&data).into();
            // Read the source to its end.
            let mut s = a.tcp_connect(SocketAddr::new(IpAddr::V4(IP_B), 19)).await.unwrap();
            let mut hash = Sha256::new();
            let mut buf = vec![0u8; 8192];
            let mut total = 0usize;
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                total += n;
                hash.update(&buf[..n]);
            }
            assert_eq!(total, 300_000);
            s.close().await.unwrap();
            // Let both servers see their connection finish.
            a.sleep(Duration::from_secs(2)).await;
            let read: [u8; 32] = hash.finalize().into();
            (sink_ev, source_ev, read, written)
        });
        let finished = |events: &Rc<RefCell<Vec<ServerEvent>>>| {
            events.borrow().iter().find_map(|e| match e {
                ServerEvent::Finished { transfer, .. } => Some(**transfer),
                _ => None,
            })
        };
        let sunk = finished(&sink_events).expect("the sink finished its connection");
        assert_eq!((sunk.bytes_in, sunk.bytes_out, sunk.error), (250_000, 0, None));
        assert_eq!(sunk.sha256_in, Some(written_digest));
        let sourced = finished(&source_events).expect("the source finished its connection");
        assert_eq!((sourced.bytes_in, sourced.bytes_out, sourced.error), (0, 300_000, None));
        assert_eq!(sourced.sha256_out, Some(read_digest));
    }

    #[test]
    fn a_discarding_sink_counts_without_hashing() {
        let events = run(2, |a, b, spawner| async move {
            let ev = Rc::new(RefCell::new(Vec::new()));
            let e1 = ev.clone();
            spawner.clone().spawn(async move {
                crate::sink::sink(&b, &spawner, ServerConfig::new(9).limit(Some(1)), SinkMode::Discard, move |e| {
                    e1.borrow_mut().push(e.clone())
                })
                .await
                .unwrap();
            });
            let mut s = a.tcp_connect(SocketAddr::new(IpAddr::V4(IP_B), 9)).await.unwrap();
            s.write_all(&vec![7u8; 123_457]).await.unwrap();
            s.shutdown(Shutdown::Write).await.unwrap();
            s.flush().await.unwrap();
            assert_eq!(s.read(&mut [0u8; 16]).await.unwrap(), 0, "the sink sends nothing");
            s.close().await.unwrap();
            a.sleep(Duration::from_secs(2)).await;
            ev
        });
        let sunk = events
            .borrow()
            .iter()
            .find_map(|e| match e {
                ServerEvent::Finished { transfer, .. } => Some(**transfer),
                _ => None,
            })
            .expect("the sink finished its connection");
        assert_eq!(
            (sunk.bytes_in, sunk.bytes_out, sunk.error, sunk.sha256_in),
            (123_457, 0, None, None)
        );
    }

    #[test]
    fn echo_client_reports_a_refused_connection() {
        let r = run(0, |a, _b, _spawner| async move {
            let cfg = EchoClientConfig::new(SocketAddr::new(IpAddr::V4(IP_B), 4444), 10, RandomStream::new([1; 32]));
            echo_client(&a, &cfg).await
        });
        match r {
            Err(crate::echo_client::EchoClientError::Connect { error, after }) => {
                assert_eq!(error, Error::ConnectionRefused);
                // One round trip on a 1 ms link (plus ARP): far below a second.
                assert!(after < Duration::from_millis(100), "{after:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
