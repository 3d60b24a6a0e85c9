//! `iperf3-server`: a server that the stock `iperf3` 3.x client drives
//! unchanged — TCP tests, forward and reverse (`-R`), parallel streams
//! (`-P`), by time (`-t`), bytes (`-n`) or blocks (`-k`), with the
//! results the client prints (and puts in its `-J` JSON).
//!
//! The protocol, as the iperf3 client speaks it (learnt from its
//! behaviour and its `--debug` output):
//!
//! 1. The client opens the control connection and writes a cookie of
//!    [`COOKIE_SIZE`] bytes (36 characters and a NUL).
//! 2. The server answers with one state byte at each step:
//!    `PARAM_EXCHANGE`; the client writes its parameters as JSON behind a
//!    4-byte big-endian length (`{"tcp":true,"time":10,"parallel":1,
//!    "len":131072,"reverse":true,...}`).
//! 3. `CREATE_STREAMS`: the client opens `parallel` data connections to
//!    the same port, each starting with the same cookie.
//! 4. `TEST_START`, `TEST_RUNNING`: data flows, client to server, or
//!    server to client with `reverse`.
//! 5. The client ends the test (its timer or byte count) by writing
//!    `TEST_END`; the server stops its streams and writes
//!    `EXCHANGE_RESULTS`; the client writes its results JSON, the server
//!    its own (`{"cpu_util_total":..,"sender_has_retransmits":..,
//!    "streams":[{"id":1,"bytes":..,"retransmits":..,...}]}`), then
//!    `DISPLAY_RESULTS`; the client answers `IPERF_DONE` and closes.
//!
//! Stream ids follow the client's numbering: 1, 3, 4, 5, ... (the client
//! gives its second stream id 3); the client finds its streams in the
//! results by these ids.
//!
//! UDP tests (`-u`) are [`crate::iperf3_udp`]'s: packets, loss and
//! jitter counted, or (with `-R`) datagrams paced at the client's `-b`.
//!
//! One test runs at a time: a control connection that arrives during a
//! test gets `ACCESS_DENIED`, like iperf3's own server. What the server
//! cannot do (`--bidir`) it refuses with `SERVER_ERROR` and
//! the client prints iperf3's "not implemented yet".
//!
//! Concurrency: the accept loop, each test's control task and each data
//! stream are tasks of mnet's single-threaded executor; they share state
//! through `Rc<RefCell<_>>` and are never blocked on each other (a stream
//! blocked in a write stops when the test ends).
//!
//! ```no_run
//! # async fn f(net: mnet::Net, spawner: mnet::executor::Spawner) -> mnet::Result<()> {
//! use mnet_apps::iperf3::{Iperf3Config, Iperf3Event, iperf3_server};
//! let summary = iperf3_server(&net, &spawner, Iperf3Config::new(5201).once(true), |ev| {
//!     if let Iperf3Event::Finished(report) = ev {
//!         let _ = report.total_bytes();
//!     }
//! })
//! .await?;
//! assert_eq!(summary.tests, 1);
//! # Ok(()) }
//! ```

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt::{self, Write as _};
use core::future::{Future, poll_fn};
use core::net::{IpAddr, Ipv6Addr, SocketAddr};
use core::pin::pin;
use core::task::{Poll, Waker};

use mnet::executor::Spawner;
use mnet::socket::{TcpStream, timeout};
use mnet::{Duration, Instant, Net};

use crate::iperf3_json::{JsonObject, write_f64};
use crate::iperf3_udp::UdpStreamStats;
use crate::source::RandomStream;

/// The port iperf3 uses unless told otherwise.
pub const DEFAULT_PORT: u16 = 5201;
/// Length of the cookie that opens every connection of a test (36
/// printable characters and a NUL).
pub const COOKIE_SIZE: usize = 37;
/// Most parallel streams per test (iperf3's own bound, `-P 128`).
pub const MAX_STREAMS: usize = 128;
/// Largest block (`-l`) accepted for TCP: iperf3's bound, 1 MiB.
pub const MAX_BLOCKSIZE: usize = 1 << 20;
/// Largest JSON message accepted from a client (parameters, results).
pub const MAX_JSON_LEN: usize = 64 * 1024;
/// How long each handshake step may take (cookie, parameters, data
/// connections, results) before the test is abandoned.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Keepalive on the control connection while a test runs: a client that
/// vanished without a FIN ends the test instead of holding it forever.
pub const CONTROL_KEEPALIVE: Duration = Duration::from_secs(10);
/// Accept-queue length of the listener.
pub const BACKLOG: usize = MAX_STREAMS + 8;
/// Accepted connections that may wait for their cookie at once; more are
/// reset (a test needs at most MAX_STREAMS + 1).
pub const MAX_HANDSHAKES: usize = MAX_STREAMS + 16;

/// The control connection's state bytes (iperf3's numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum State {
    TestStart = 1,
    TestRunning = 2,
    TestEnd = 4,
    ParamExchange = 9,
    CreateStreams = 10,
    ServerTerminate = 11,
    ClientTerminate = 12,
    ExchangeResults = 13,
    DisplayResults = 14,
    IperfDone = 16,
    AccessDenied = -1,
    ServerError = -2,
}

impl State {
    pub fn byte(self) -> u8 {
        (self as i8) as u8
    }
}

/// iperf3's error numbers that this server sends after `SERVER_ERROR`.
pub mod ierr {
    /// "number of parallel streams too large".
    pub const NUM_STREAMS: u32 = 6;
    /// "block size too large".
    pub const BLOCK_SIZE: u32 = 7;
    /// "not implemented yet".
    pub const UNIMPLEMENTED: u32 = 13;
}

/// What the server listens on and how long it runs.
#[derive(Debug, Clone, Copy)]
pub struct Iperf3Config {
    /// The local address (unspecified IP: every address of the stack).
    pub local: SocketAddr,
    /// Serve one test, then return (`iperf3 -s -1`).
    pub once: bool,
    /// Seed of the bytes sent in reverse tests.
    pub seed: [u8; 32],
    /// Process CPU time so far (user, system), for the `cpu_util_*`
    /// fields of the results; `None`: report 0.
    pub cpu_time: Option<fn() -> (Duration, Duration)>,
}

impl Iperf3Config {
    /// Every IPv4 address of the stack, `port`, tests until stopped.
    pub fn new(port: u16) -> Self {
        Iperf3Config {
            // `::` takes IPv4 and IPv6 clients alike (dual-stack sockets).
            local: SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
            once: false,
            seed: [0x1f; 32],
            cpu_time: None,
        }
    }

    /// Serve one test, then return.
    pub fn once(mut self, once: bool) -> Self {
        self.once = once;
        self
    }
}

/// The test parameters a client sent (the members this server reads).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestParams {
    pub udp: bool,
    /// `-R`: the server sends.
    pub reverse: bool,
    pub bidirectional: bool,
    /// `-t` in seconds (0 with `-n`/`-k`).
    pub time: u64,
    /// `-O`: seconds at the start that the results leave out.
    pub omit: u64,
    /// `-n`: bytes to move in total (0: not set).
    pub bytes: u64,
    /// `-k`: blocks to move in total (0: not set).
    pub blocks: u64,
    /// `-P`.
    pub parallel: usize,
    /// `-l`: bytes per write.
    pub len: usize,
    /// `-N`.
    pub no_delay: bool,
    /// `-b`: bits per second per stream (UDP; 0: unlimited).
    pub rate: u64,
    pub client_version: Option<String>,
}

impl TestParams {
    /// Reads the parameters from the client's JSON. An absent `parallel`
    /// means 1, an absent `len` iperf3's TCP default of 128 KiB.
    pub fn from_json(o: &JsonObject) -> TestParams {
        let uint = |k: &str| o.int(k).and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
        TestParams {
            udp: o.bool("udp").unwrap_or(false),
            reverse: o.bool("reverse").unwrap_or(false),
            bidirectional: o.bool("bidirectional").unwrap_or(false),
            time: uint("time"),
            omit: uint("omit"),
            bytes: uint("num"),
            blocks: uint("blockcount"),
            parallel: usize::try_from(uint("parallel")).unwrap_or(usize::MAX).max(1),
            len: o
                .get("len")
                .map_or(128 * 1024, |_| usize::try_from(uint("len")).unwrap_or(usize::MAX)),
            no_delay: o.bool("nodelay").unwrap_or(false),
            rate: uint("bandwidth"),
            client_version: o.str("client_version").map(String::from),
        }
    }

    /// The iperf3 error number for a test this server will not run.
    pub fn refusal(&self) -> Option<(u32, &'static str)> {
        if self.bidirectional {
            return Some((ierr::UNIMPLEMENTED, "bidirectional tests are not implemented"));
        }
        if self.parallel > MAX_STREAMS {
            return Some((ierr::NUM_STREAMS, "too many parallel streams"));
        }
        if self.len == 0 || self.len > MAX_BLOCKSIZE || (self.udp && self.len > crate::iperf3_udp::UDP_MAX_DATAGRAM) {
            return Some((ierr::BLOCK_SIZE, "bad block size"));
        }
        None
    }

    /// Bytes the sender may write in total (`-n`, or `-k` blocks), if bounded.
    pub fn byte_budget(&self) -> Option<u64> {
        if self.bytes > 0 {
            Some(self.bytes)
        } else if self.blocks > 0 {
            Some(self.blocks.saturating_mul(self.len as u64))
        } else {
            None
        }
    }
}

/// How a test failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Iperf3Error {
    /// The control connection failed (reset, timed out, ...).
    Io(mnet::Error),
    /// The client broke the protocol.
    Protocol(&'static str),
    /// The client asked for what this server does not do (it was told).
    Refused(&'static str),
    /// The client ended the test early (`CLIENT_TERMINATE`, e.g. Ctrl-C).
    ClientTerminated,
}

impl From<mnet::Error> for Iperf3Error {
    fn from(e: mnet::Error) -> Self {
        Iperf3Error::Io(e)
    }
}

impl fmt::Display for Iperf3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Iperf3Error::Io(e) => write!(f, "control connection: {e}"),
            Iperf3Error::Protocol(what) => write!(f, "protocol error: {what}"),
            Iperf3Error::Refused(what) => write!(f, "refused: {what}"),
            Iperf3Error::ClientTerminated => f.write_str("the client terminated the test"),
        }
    }
}

/// One data stream of a finished test, as the server counted it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamReport {
    /// The id the client knows the stream by (1, 3, 4, ...).
    pub id: u32,
    pub peer: SocketAddr,
    /// Bytes received (forward) or written (reverse) during the test,
    /// after the omitted seconds.
    pub bytes: u64,
    /// Segments retransmitted (reverse tests; the engine's count).
    pub retransmits: Option<u64>,
    /// Why the stream ended before the test did, if it did.
    pub error: Option<mnet::Error>,
    /// Packets, loss and jitter of a UDP stream.
    pub udp: Option<UdpStreamStats>,
}

/// A finished (or failed) test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestReport {
    /// Tests counted from 1.
    pub id: u64,
    pub peer: SocketAddr,
    pub params: TestParams,
    pub streams: Vec<StreamReport>,
    /// From `TEST_RUNNING` (after the omitted seconds) to `TEST_END`.
    pub duration: Duration,
    pub error: Option<Iperf3Error>,
}

impl TestReport {
    pub fn total_bytes(&self) -> u64 {
        self.streams.iter().map(|s| s.bytes).sum()
    }
}

/// What the server reports as it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Iperf3Event {
    Listening(SocketAddr),
    /// A test's parameters arrived.
    Started {
        id: u64,
        peer: SocketAddr,
        params: TestParams,
    },
    Finished(Box<TestReport>),
    /// A connection that was neither a new test nor one of the running
    /// test's streams was turned away.
    Denied {
        peer: SocketAddr,
    },
}

/// How a `--once` server ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Iperf3Summary {
    pub tests: u64,
    pub failed: u64,
}

/// Where a server's events go (shared by its tasks).
type EventSink = Rc<RefCell<dyn FnMut(&Iperf3Event)>>;

/// The running test as the accept loop sees it.
struct Active {
    cookie: [u8; COOKIE_SIZE],
    /// Data connections still expected (set at `CREATE_STREAMS`).
    wanted: usize,
    arrived: Vec<(TcpStream, SocketAddr)>,
    waker: Option<Waker>,
}

/// State shared by the accept loop and the test tasks.
#[derive(Default)]
struct Server {
    active: Option<Active>,
    tests: u64,
    failed: u64,
    /// Connections waiting for their cookie (at most [`MAX_HANDSHAKES`]).
    handshakes: usize,
    /// The accept loop of a `--once` server, waiting for its test.
    done_waker: Option<Waker>,
    finished_once: bool,
}

/// Listen on `cfg.local` and serve iperf3 tests; `on_event` hears about
/// each. Returns only with `cfg.once` (after the first test) or when
/// listening/accepting fails.
pub async fn iperf3_server(
    net: &Net,
    spawner: &Spawner,
    cfg: Iperf3Config,
    on_event: impl FnMut(&Iperf3Event) + 'static,
) -> mnet::Result<Iperf3Summary> {
    let on_event: EventSink = Rc::new(RefCell::new(on_event));
    let server = Rc::new(RefCell::new(Server::default()));
    let listener = net.tcp_listen(cfg.local, BACKLOG)?;
    (on_event.borrow_mut())(&Iperf3Event::Listening(listener.local_addr()?));
    loop {
        let accepted = {
            let mut accept = pin!(listener.accept());
            poll_fn(|cx| {
                let mut s = server.borrow_mut();
                if s.finished_once {
                    return Poll::Ready(None);
                }
                s.done_waker = Some(cx.waker().clone());
                drop(s);
                accept.as_mut().poll(cx).map(Some)
            })
            .await
        };
        let Some(accepted) = accepted else { break };
        let (stream, peer) = accepted?;
        {
            let mut s = server.borrow_mut();
            if s.handshakes >= MAX_HANDSHAKES {
                drop(s);
                stream.abort();
                continue;
            }
            s.handshakes += 1;
        }
        let (net2, spawner2, server2, events) = (net.clone(), spawner.clone(), server.clone(), on_event.clone());
        spawner.spawn(async move {
            dispatch(net2, spawner2, cfg, server2, events, stream, peer).await;
        });
    }
    let s = server.borrow();
    Ok(Iperf3Summary {
        tests: s.tests,
        failed: s.failed,
    })
}

/// A new connection: read its cookie, then make it a test's control
/// connection, one of the running test's streams, or turn it away.
async fn dispatch(
    net: Net,
    spawner: Spawner,
    cfg: Iperf3Config,
    server: Rc<RefCell<Server>>,
    on_event: EventSink,
    mut stream: TcpStream,
    peer: SocketAddr,
) {
    let mut cookie = [0u8; COOKIE_SIZE];
    let got = timeout(&net, HANDSHAKE_TIMEOUT, read_exact(&mut stream, &mut cookie)).await;
    server.borrow_mut().handshakes -= 1;
    if !matches!(got, Ok(Ok(()))) {
        stream.abort();
        return;
    }
    let role = {
        let mut s = server.borrow_mut();
        let once_taken = cfg.once && s.tests > 0;
        match &mut s.active {
            None if !once_taken => {
                s.active = Some(Active {
                    cookie,
                    wanted: 0,
                    arrived: Vec::new(),
                    waker: None,
                });
                s.tests += 1;
                Some(s.tests)
            }
            Some(a) if a.cookie == cookie && a.wanted > a.arrived.len() => {
                a.arrived.push((stream, peer));
                if let Some(w) = a.waker.take() {
                    w.wake();
                }
                return;
            }
            _ => None,
        }
    };
    let Some(id) = role else {
        (on_event.borrow_mut())(&Iperf3Event::Denied { peer });
        let _ = stream.write_all(&[State::AccessDenied.byte()]).await;
        let _ = stream.close().await;
        return;
    };
    let report = run_test(&net, &spawner, &cfg, &server, &on_event, stream, peer, id).await;
    let mut s = server.borrow_mut();
    s.active = None;
    s.failed += u64::from(report.error.is_some());
    if cfg.once {
        s.finished_once = true;
        if let Some(w) = s.done_waker.take() {
            w.wake();
        }
    }
    drop(s);
    (on_event.borrow_mut())(&Iperf3Event::Finished(Box::new(report)));
}

/// Per-stream counters and the stop flags, shared by a test's tasks.
struct Streams {
    /// The test ended (TEST_END).
    stopped: bool,
    bytes: Vec<u64>,
    /// Bytes the senders may still start blocks for (`-n`/`-k`), if bounded.
    budget: Option<u64>,
    /// Each stream task's waker (woken by `stop`), by stream index.
    wakers: Vec<Option<Waker>>,
    /// Each stream once its task ended, with the error that ended it.
    ended: Vec<Option<(TcpStream, Option<mnet::Error>)>>,
    running: usize,
    control: Option<Waker>,
}

impl Streams {
    fn stop(&mut self) {
        self.stopped = true;
        for w in self.wakers.iter_mut().filter_map(Option::take) {
            w.wake();
        }
    }
}

/// Runs `fut` unless or until the test stops (`None` then).
async fn unless_stopped<F: Future>(shared: &RefCell<Streams>, index: usize, fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if shared.borrow().stopped {
            return Poll::Ready(None);
        }
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if let Some(slot) = shared.borrow_mut().wakers.get_mut(index) {
            *slot = Some(cx.waker().clone());
        }
        Poll::Pending
    })
    .await
}

/// A sending stream: blocks until the test stops or the budget is spent
/// (like iperf3, a block starts while the budget is not yet spent).
async fn send_blocks(shared: &RefCell<Streams>, index: usize, stream: &mut TcpStream, block: &[u8]) -> Option<mnet::Error> {
    loop {
        let spent = {
            let mut s = shared.borrow_mut();
            if s.stopped {
                return None;
            }
            match &mut s.budget {
                Some(0) => true,
                Some(b) => {
                    *b = b.saturating_sub(block.len() as u64);
                    false
                }
                None => false,
            }
        };
        if spent {
            // `-n`/`-k` reached: wait for the client's TEST_END.
            unless_stopped(shared, index, core::future::pending::<()>()).await;
            return None;
        }
        let mut rest = block;
        while !rest.is_empty() {
            // Written in place (`write_with`): the block goes straight into
            // the send buffer, as `mnet source` does.
            let fill = |space: &mut [u8]| {
                let n = space.len().min(rest.len());
                if let (Some(dst), Some(src)) = (space.get_mut(..n), rest.get(..n)) {
                    dst.copy_from_slice(src);
                }
                n
            };
            match unless_stopped(shared, index, stream.write_with(rest.len(), fill)).await {
                None => return None,
                Some(Ok(n)) => {
                    rest = rest.get(n..).unwrap_or_default();
                    if let Some(b) = shared.borrow_mut().bytes.get_mut(index) {
                        *b += n as u64;
                    }
                }
                Some(Err(e)) => return Some(e),
            }
        }
    }
}

/// A receiving stream: read and count until the test stops.
async fn receive(shared: &RefCell<Streams>, index: usize, stream: &mut TcpStream) -> Option<mnet::Error> {
    loop {
        // Counted where they lie in the receive buffer (no copy).
        match unless_stopped(shared, index, stream.read_with(|data| data.len())).await {
            None | Some(Ok(0)) => return None,
            Some(Ok(n)) => {
                if let Some(b) = shared.borrow_mut().bytes.get_mut(index) {
                    *b += n as u64;
                }
            }
            Some(Err(e)) => return Some(e),
        }
    }
}

/// One data stream: read (forward) or write (reverse) until the test stops.
async fn stream_task(shared: Rc<RefCell<Streams>>, index: usize, mut stream: TcpStream, reverse: bool, block: Rc<[u8]>) {
    let error = if reverse {
        send_blocks(&shared, index, &mut stream, &block).await
    } else {
        receive(&shared, index, &mut stream).await
    };
    let mut s = shared.borrow_mut();
    if let Some(slot) = s.ended.get_mut(index) {
        *slot = Some((stream, error));
    }
    s.running -= 1;
    if let Some(w) = s.control.take() {
        w.wake();
    }
}

async fn read_exact(stream: &mut TcpStream, mut buf: &mut [u8]) -> mnet::Result<()> {
    while !buf.is_empty() {
        let n = stream.read(buf).await?;
        if n == 0 {
            return Err(mnet::Error::ConnectionReset);
        }
        buf = buf.get_mut(n..).unwrap_or_default();
    }
    Ok(())
}

/// Reads one length-prefixed JSON message (at most [`MAX_JSON_LEN`] bytes).
async fn read_json(stream: &mut TcpStream) -> Result<JsonObject, Iperf3Error> {
    let mut len = [0u8; 4];
    read_exact(stream, &mut len).await?;
    let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
    if len > MAX_JSON_LEN {
        return Err(Iperf3Error::Protocol("JSON message too long"));
    }
    let mut text = vec![0u8; len];
    read_exact(stream, &mut text).await?;
    JsonObject::parse(&text).map_err(|_| Iperf3Error::Protocol("bad JSON message"))
}

async fn write_json(stream: &mut TcpStream, text: &str) -> mnet::Result<()> {
    let len = u32::try_from(text.len()).map_err(|_| mnet::Error::InvalidInput)?;
    let mut msg = Vec::with_capacity(4 + text.len());
    msg.extend_from_slice(&len.to_be_bytes());
    msg.extend_from_slice(text.as_bytes());
    stream.write_all(&msg).await
}

async fn send_state(stream: &mut TcpStream, state: State) -> mnet::Result<()> {
    stream.write_all(&[state.byte()]).await
}

async fn read_state(stream: &mut TcpStream) -> mnet::Result<i8> {
    let mut b = [0u8; 1];
    read_exact(stream, &mut b).await?;
    Ok(i8::from_ne_bytes(b))
}

/// The id the client gives its `index`-th stream (0-based): 1, 3, 4, 5, ...
pub fn stream_id(index: usize) -> u32 {
    let i = u32::try_from(index).unwrap_or(u32::MAX);
    if i == 0 { 1 } else { i.saturating_add(2) }
}

/// Runs one test on its control connection; always returns a report.
#[allow(clippy::too_many_arguments)]
async fn run_test(
    net: &Net,
    spawner: &Spawner,
    cfg: &Iperf3Config,
    server: &Rc<RefCell<Server>>,
    on_event: &EventSink,
    mut control: TcpStream,
    peer: SocketAddr,
    id: u64,
) -> TestReport {
    let mut report = TestReport {
        id,
        peer,
        params: TestParams::default(),
        streams: Vec::new(),
        duration: Duration::ZERO,
        error: None,
    };
    let mut data: Vec<(TcpStream, SocketAddr)> = Vec::new();
    let r = test_steps(net, spawner, cfg, server, on_event, &mut control, &mut report, &mut data).await;
    if let Err(e) = r {
        report.error = Some(e);
    }
    // Streams that arrived but never ran, and those that did: reset (the
    // client has its results or has given up).
    if let Some(a) = server.borrow_mut().active.as_mut() {
        data.append(&mut a.arrived);
    }
    for (s, _) in data {
        s.abort();
    }
    if report.error.is_some() {
        control.abort();
    } else {
        let _ = control.close().await;
    }
    report
}

#[allow(clippy::too_many_arguments)]
async fn test_steps(
    net: &Net,
    spawner: &Spawner,
    cfg: &Iperf3Config,
    server: &Rc<RefCell<Server>>,
    on_event: &EventSink,
    control: &mut TcpStream,
    report: &mut TestReport,
    data: &mut Vec<(TcpStream, SocketAddr)>,
) -> Result<(), Iperf3Error> {
    let hs = |e: mnet::Error| Iperf3Error::Io(e);
    // The state bytes are small writes answered at once.
    control.set_nodelay(true)?;
    send_state(control, State::ParamExchange).await?;
    let params = timeout(net, HANDSHAKE_TIMEOUT, read_json(control)).await.map_err(hs)??;
    let params = TestParams::from_json(&params);
    report.params = params.clone();
    (on_event.borrow_mut())(&Iperf3Event::Started {
        id: report.id,
        peer: report.peer,
        params: params.clone(),
    });
    if let Some((errno, what)) = params.refusal() {
        // SERVER_ERROR, then iperf3's error number and errno (0), each a
        // 4-byte big-endian integer.
        let mut msg = vec![State::ServerError.byte()];
        msg.extend_from_slice(&errno.to_be_bytes());
        msg.extend_from_slice(&0u32.to_be_bytes());
        control.write_all(&msg).await?;
        let _ = timeout(net, HANDSHAKE_TIMEOUT, control.flush()).await;
        return Err(Iperf3Error::Refused(what));
    }
    if params.udp {
        return udp_steps(net, cfg, control, report).await;
    }

    // CREATE_STREAMS: wait for `parallel` data connections with our cookie.
    if let Some(a) = server.borrow_mut().active.as_mut() {
        a.wanted = params.parallel;
    }
    send_state(control, State::CreateStreams).await?;
    let arrived = timeout(
        net,
        HANDSHAKE_TIMEOUT,
        poll_fn(|cx| {
            let mut s = server.borrow_mut();
            let Some(a) = s.active.as_mut() else {
                return Poll::Ready(());
            };
            if a.arrived.len() >= a.wanted {
                return Poll::Ready(());
            }
            a.waker = Some(cx.waker().clone());
            Poll::Pending
        }),
    )
    .await;
    if let Some(a) = server.borrow_mut().active.as_mut() {
        data.append(&mut a.arrived);
        a.wanted = 0;
    }
    if arrived.is_err() || data.len() < params.parallel {
        return Err(Iperf3Error::Protocol("the data connections did not arrive"));
    }

    // TEST_START, TEST_RUNNING: the streams run as tasks of their own.
    let n = data.len();
    let shared = Rc::new(RefCell::new(Streams {
        stopped: false,
        bytes: vec![0; n],
        budget: params.byte_budget(),
        wakers: (0..n).map(|_| None).collect(),
        ended: (0..n).map(|_| None).collect(),
        running: n,
        control: None,
    }));
    let block: Rc<[u8]> = {
        let mut b = vec![0u8; params.len];
        if params.reverse {
            RandomStream::new(cfg.seed).fill(&mut b);
        }
        b.into()
    };
    let peers: Vec<SocketAddr> = data.iter().map(|(_, p)| *p).collect();
    for (i, (stream, _)) in data.drain(..).enumerate() {
        if params.no_delay {
            let _ = stream.set_nodelay(true);
        }
        spawner.spawn(stream_task(shared.clone(), i, stream, params.reverse, block.clone()));
    }
    send_state(control, State::TestStart).await?;
    send_state(control, State::TestRunning).await?;
    let cpu0 = cfg.cpu_time.map(|f| f());
    let mut started = net.now();
    control.set_keepalive(Some(CONTROL_KEEPALIVE))?;
    let reset = || shared.borrow_mut().bytes.iter_mut().for_each(|b| *b = 0);
    let result = run_until_end(net, control, &params, &mut started, &reset).await;
    let ended = net.now();
    shared.borrow_mut().stop();
    // Every stream task returns its stream once it saw the stop.
    poll_fn(|cx| {
        let mut s = shared.borrow_mut();
        if s.running == 0 {
            return Poll::Ready(());
        }
        s.control = Some(cx.waker().clone());
        Poll::Pending
    })
    .await;
    report.duration = ended - started;
    let (ended_streams, bytes) = {
        let mut s = shared.borrow_mut();
        (core::mem::take(&mut s.ended), core::mem::take(&mut s.bytes))
    };
    for (i, slot) in ended_streams.into_iter().enumerate() {
        let (stream, error) = match slot {
            Some((st, e)) => (Some(st), e),
            None => (None, None),
        };
        let retransmits = if params.reverse {
            stream.as_ref().and_then(|st| st.info().ok()).map(|info| info.retransmits)
        } else {
            None
        };
        report.streams.push(StreamReport {
            id: stream_id(i),
            peer: peers.get(i).copied().unwrap_or(report.peer),
            bytes: bytes.get(i).copied().unwrap_or(0),
            retransmits,
            error,
            udp: None,
        });
        if let Some(st) = stream {
            data.push((st, peers.get(i).copied().unwrap_or(report.peer)));
        }
    }
    let congestion = data.first().and_then(|(st, _)| st.info().ok()).map(|i| i.congestion);
    // The test is over: close the data connections now, as iperf3's own
    // server does. After its TEST_END a reverse client drains its streams
    // with blocking reads of whole blocks; only our FIN ends them.
    for (st, _) in data.drain(..) {
        let _ = st.close().await;
    }
    result?;

    exchange_results(net, cfg, control, report, congestion, cpu0).await
}

/// A UDP test: the streams say hello on our port, then we count their
/// datagrams (or send ours, `-R`) until `TEST_END`.
async fn udp_steps(net: &Net, cfg: &Iperf3Config, control: &mut TcpStream, report: &mut TestReport) -> Result<(), Iperf3Error> {
    let params = report.params.clone();
    let sock = net.udp_bind(cfg.local)?;
    send_state(control, State::CreateStreams).await?;
    let peers = match timeout(net, HANDSHAKE_TIMEOUT, crate::iperf3_udp::accept_streams(&sock, params.parallel)).await {
        Ok(r) => r?,
        Err(_) => return Err(Iperf3Error::Protocol("the UDP streams did not arrive")),
    };
    send_state(control, State::TestStart).await?;
    send_state(control, State::TestRunning).await?;
    let cpu0 = cfg.cpu_time.map(|f| f());
    let stats = RefCell::new(vec![UdpStreamStats::default(); peers.len()]);
    let mut started = net.now();
    control.set_keepalive(Some(CONTROL_KEEPALIVE))?;
    let reset = || stats.borrow_mut().iter_mut().for_each(UdpStreamStats::reset);
    let result = {
        let mut end = pin!(run_until_end(net, control, &params, &mut started, &reset));
        let mut block = vec![0u8; params.len.max(crate::iperf3_udp::UDP_HEADER_LEN)];
        RandomStream::new(cfg.seed).fill(&mut block);
        let mut moving: core::pin::Pin<Box<dyn Future<Output = mnet::Error> + '_>> = if params.reverse {
            Box::pin(crate::iperf3_udp::send(
                net,
                &sock,
                &peers,
                &mut block,
                params.rate,
                params.byte_budget(),
                &stats,
            ))
        } else {
            Box::pin(crate::iperf3_udp::receive(&sock, &peers, &stats, || net.now()))
        };
        poll_fn(|cx| {
            if let Poll::Ready(r) = end.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            match moving.as_mut().poll(cx) {
                Poll::Ready(e) => Poll::Ready(Err(Iperf3Error::Io(e))),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    };
    report.duration = net.now() - started;
    drop(sock);
    for (i, (st, peer)) in stats.into_inner().into_iter().zip(peers).enumerate() {
        report.streams.push(StreamReport {
            id: stream_id(i),
            peer,
            bytes: st.bytes,
            retransmits: None,
            error: None,
            udp: Some(st),
        });
    }
    result?;
    exchange_results(net, cfg, control, report, None, cpu0).await
}

/// `EXCHANGE_RESULTS` (the client's JSON, then ours), `DISPLAY_RESULTS`,
/// and the client's `IPERF_DONE`.
async fn exchange_results(
    net: &Net,
    cfg: &Iperf3Config,
    control: &mut TcpStream,
    report: &TestReport,
    congestion: Option<&str>,
    cpu0: Option<(Duration, Duration)>,
) -> Result<(), Iperf3Error> {
    let hs = |e: mnet::Error| Iperf3Error::Io(e);
    send_state(control, State::ExchangeResults).await?;
    let _client_results = timeout(net, HANDSHAKE_TIMEOUT, read_json(control)).await.map_err(hs)??;
    let cpu = match (cpu0, cfg.cpu_time) {
        (Some(c0), Some(f)) => {
            let c1 = f();
            let wall = report.duration.as_secs_f64().max(1e-6);
            let user = (c1.0.saturating_sub(c0.0)).as_secs_f64() / wall * 100.0;
            let sys = (c1.1.saturating_sub(c0.1)).as_secs_f64() / wall * 100.0;
            (user, sys)
        }
        _ => (0.0, 0.0),
    };
    write_json(control, &results_json(report, congestion, cpu)).await?;
    send_state(control, State::DisplayResults).await?;
    match timeout(net, HANDSHAKE_TIMEOUT, read_state(control)).await.map_err(hs)? {
        Ok(s) if s == State::IperfDone as i8 => Ok(()),
        // A client that closes without IPERF_DONE has its results.
        Err(mnet::Error::ConnectionReset) => Ok(()),
        Ok(_) => Err(Iperf3Error::Protocol("expected IPERF_DONE")),
        Err(e) => Err(e.into()),
    }
}

/// Reads the control connection while the test runs, until `TEST_END`.
/// After `-O` seconds the counters restart (`started` moves).
async fn run_until_end(
    net: &Net,
    control: &mut TcpStream,
    params: &TestParams,
    started: &mut Instant,
    reset: &dyn Fn(),
) -> Result<(), Iperf3Error> {
    let mut omit_until = (params.omit > 0).then(|| *started + Duration::from_secs(params.omit));
    loop {
        let state = match omit_until {
            Some(at) => match timeout(net, at - net.now(), read_state(control)).await {
                Ok(r) => r?,
                Err(_) => {
                    // The omitted seconds are over: count from here.
                    reset();
                    *started = net.now();
                    omit_until = None;
                    continue;
                }
            },
            None => read_state(control).await?,
        };
        match state {
            s if s == State::TestEnd as i8 => return Ok(()),
            s if s == State::ClientTerminate as i8 => return Err(Iperf3Error::ClientTerminated),
            _ => return Err(Iperf3Error::Protocol("unexpected state byte while running")),
        }
    }
}

/// The server's results message (what `iperf3 -c` prints as the server's
/// side, and puts in its `-J` output).
pub fn results_json(report: &TestReport, congestion: Option<&str>, cpu_percent: (f64, f64)) -> String {
    let mut j = String::new();
    j.push_str("{\"cpu_util_total\":");
    write_f64(&mut j, cpu_percent.0 + cpu_percent.1);
    j.push_str(",\"cpu_util_user\":");
    write_f64(&mut j, cpu_percent.0);
    j.push_str(",\"cpu_util_system\":");
    write_f64(&mut j, cpu_percent.1);
    // The sender says whether it counts retransmissions; a receiver -1.
    let has_retransmits = match (report.params.reverse, report.params.udp) {
        (false, _) => -1,
        (true, false) => 1,
        (true, true) => 0,
    };
    let _ = write!(j, ",\"sender_has_retransmits\":{has_retransmits}");
    if let Some(cc) = congestion {
        j.push_str(",\"congestion_used\":");
        crate::iperf3_json::write_str(&mut j, cc);
    }
    j.push_str(",\"streams\":[");
    let end = report.duration.as_secs_f64();
    for (i, s) in report.streams.iter().enumerate() {
        if i > 0 {
            j.push(',');
        }
        let retransmits = s.retransmits.map_or(-1, |r| i64::try_from(r).unwrap_or(i64::MAX));
        let _ = write!(
            j,
            "{{\"id\":{},\"bytes\":{},\"retransmits\":{retransmits},\"jitter\":",
            s.id, s.bytes
        );
        let udp = s.udp.unwrap_or_default();
        write_f64(&mut j, udp.jitter);
        let _ = write!(
            j,
            ",\"errors\":{},\"omitted_errors\":0,\"packets\":{},\"start_time\":0,\"end_time\":",
            udp.lost, udp.packets
        );
        write_f64(&mut j, end);
        j.push('}');
    }
    j.push_str("]}");
    j
}

#[cfg(test)]
mod tests {
    //! The server against a scripted iperf3 client on a second stack
    //! (simulated link, virtual time): the exact byte sequence of the
    //! protocol, forward and reverse, parallel, refusals, a busy server.
    extern crate std;

    use super::*;
    use core::net::Ipv4Addr;
    use mnet::executor::{Driver, Executor};
    use mnet::socket::Interface;
    use mnet::wire::{EthernetAddress, IpCidr};
    use mnet::{Config, Stack};
    use mnet_sim::{LinkConfig, Network, SimPlatform};

    const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const COOKIE: &[u8; COOKIE_SIZE] = b"abcdefghijklmnopqrstuvwxyz0123456789\0";

    fn stack(last: u8, ip: Ipv4Addr) -> Net {
        let mac = EthernetAddress([0x02, 0, 0, 0, 0, last]);
        let cidr = IpCidr::new(IpAddr::V4(ip), 24).unwrap();
        Net::new(Stack::new(Config::new(mac, [last; 32]).address(cidr), Instant::ZERO))
    }

    fn run<F: Future>(main: impl FnOnce(Net, Net, Spawner) -> F) -> F::Output {
        let network = Network::new(3);
        let (dev_a, dev_b) = network.link(LinkConfig {
            latency: Duration::from_millis(1),
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

    fn server_addr() -> SocketAddr {
        SocketAddr::new(IpAddr::V4(IP_B), DEFAULT_PORT)
    }

    async fn expect_state(s: &mut TcpStream, want: State) {
        assert_eq!(read_state(s).await.unwrap(), want as i8, "waiting for {want:?}");
    }

    /// What the scripted client saw.
    #[derive(Debug)]
    struct ClientSide {
        /// Bytes the client sent (forward) or read (reverse), per stream.
        moved: Vec<u64>,
        results: JsonObject,
        results_text: String,
    }

    /// A client that speaks like `iperf3 -c`: params JSON, streams, data
    /// for `run_for`, TEST_END, results.
    async fn client(a: &Net, params: &str, streams: usize, reverse: bool, run_for: Duration) -> ClientSide {
        let mut ctl = a.tcp_connect(server_addr()).await.unwrap();
        ctl.write_all(COOKIE).await.unwrap();
        expect_state(&mut ctl, State::ParamExchange).await;
        write_json(&mut ctl, params).await.unwrap();
        expect_state(&mut ctl, State::CreateStreams).await;
        let mut data = Vec::new();
        for _ in 0..streams {
            let mut s = a.tcp_connect(server_addr()).await.unwrap();
            s.write_all(COOKIE).await.unwrap();
            data.push(s);
        }
        expect_state(&mut ctl, State::TestStart).await;
        expect_state(&mut ctl, State::TestRunning).await;
        let end = a.now() + run_for;
        let mut moved = vec![0u64; streams];
        let block = vec![7u8; 8192];
        let mut buf = vec![0u8; 65536];
        while a.now() < end {
            for (i, s) in data.iter_mut().enumerate() {
                let step = if reverse {
                    timeout(a, Duration::from_millis(5), s.read(&mut buf)).await
                } else {
                    timeout(a, Duration::from_millis(5), s.write(&block)).await
                };
                if let Ok(Ok(n)) = step {
                    moved[i] += n as u64;
                }
            }
        }
        ctl.write_all(&[State::TestEnd.byte()]).await.unwrap();
        expect_state(&mut ctl, State::ExchangeResults).await;
        write_json(
            &mut ctl,
            "{\"cpu_util_total\":1,\"cpu_util_user\":1,\"cpu_util_system\":0,\"sender_has_retransmits\":0,\"streams\":[]}",
        )
        .await
        .unwrap();
        let mut len = [0u8; 4];
        read_exact(&mut ctl, &mut len).await.unwrap();
        let mut text = vec![0u8; u32::from_be_bytes(len) as usize];
        read_exact(&mut ctl, &mut text).await.unwrap();
        expect_state(&mut ctl, State::DisplayResults).await;
        ctl.write_all(&[State::IperfDone.byte()]).await.unwrap();
        let results_text = String::from_utf8(text).unwrap();
        let results = JsonObject::parse(results_text.as_bytes()).unwrap();
        ctl.close().await.unwrap();
        for s in data {
            s.abort();
        }
        ClientSide {
            moved,
            results,
            results_text,
        }
    }

    fn serve_once(b: &Net, spawner: &Spawner) -> Rc<RefCell<Vec<Iperf3Event>>> {
        let events = Rc::new(RefCell::new(Vec::new()));
        let ev = events.clone();
        let (b, sp) = (b.clone(), spawner.clone());
        spawner.spawn(async move {
            let summary = iperf3_server(&b, &sp, Iperf3Config::new(DEFAULT_PORT).once(true), move |e| {
                ev.borrow_mut().push(e.clone())
            })
            .await
            .unwrap();
            assert_eq!(summary.tests, 1);
        });
        events
    }

    fn finished(events: &RefCell<Vec<Iperf3Event>>) -> TestReport {
        events
            .borrow()
            .iter()
            .find_map(|e| match e {
                Iperf3Event::Finished(r) => Some((**r).clone()),
                _ => None,
            })
            .expect("a finished test")
    }

    #[test]
    fn forward_test_with_two_streams_reports_what_the_server_received() {
        let (client, report) = run(|a, b, spawner| async move {
            let events = serve_once(&b, &spawner);
            let params = r#"{"tcp":true,"omit":0,"time":1,"num":0,"blockcount":0,"parallel":2,"len":8192,"pacing_timer":1000,"client_version":"3.12"}"#;
            let c = client(&a, params, 2, false, Duration::from_millis(500)).await;
            a.sleep(Duration::from_millis(50)).await;
            (c, finished(&events))
        });
        assert_eq!(report.error, None, "{report:?}");
        assert_eq!(report.params.parallel, 2);
        assert!(!report.params.reverse);
        assert_eq!(report.streams.iter().map(|s| s.id).collect::<Vec<_>>(), [1, 3]);
        for (s, sent) in report.streams.iter().zip(&client.moved) {
            // The server stops counting at TEST_END; data still in flight is not counted.
            assert!(s.bytes > 0 && s.bytes <= *sent, "{s:?} sent {sent}");
            assert_eq!(s.retransmits, None);
        }
        assert!(report.duration >= Duration::from_millis(490), "{report:?}");
        // The results message carries the same numbers.
        let r = &client.results;
        assert_eq!(r.int("sender_has_retransmits"), Some(-1));
        assert!(
            client
                .results_text
                .contains(&alloc::format!("{{\"id\":1,\"bytes\":{},", report.streams[0].bytes))
        );
        assert!(
            client
                .results_text
                .contains(&alloc::format!("{{\"id\":3,\"bytes\":{},", report.streams[1].bytes))
        );
        assert!(r.get("cpu_util_total").is_some() && r.get("cpu_util_user").is_some() && r.get("cpu_util_system").is_some());
        assert_eq!(r.str("congestion_used"), Some("cubic"));
    }

    #[test]
    fn reverse_test_with_a_byte_budget_stops_sending_at_it() {
        let (client, report) = run(|a, b, spawner| async move {
            let events = serve_once(&b, &spawner);
            let params = r#"{"tcp":true,"omit":0,"time":0,"num":100000,"blockcount":0,"parallel":1,"reverse":true,"len":30000,"client_version":"3.12"}"#;
            let c = client(&a, params, 1, true, Duration::from_millis(800)).await;
            a.sleep(Duration::from_millis(50)).await;
            (c, finished(&events))
        });
        assert_eq!(report.error, None, "{report:?}");
        assert!(report.params.reverse);
        assert_eq!(report.params.bytes, 100_000);
        assert_eq!(report.streams.len(), 1);
        // Whole blocks of 30,000 bytes until 100,000 are reached.
        assert_eq!(report.streams[0].bytes, 120_000);
        assert_eq!(client.moved, [120_000]);
        // The sender reports the engine's retransmission count (a tail
        // loss probe may count on a lossless link).
        let retransmits = report.streams[0].retransmits.expect("a sender counts retransmissions");
        assert!(retransmits <= 2, "{report:?}");
        assert_eq!(client.results.int("sender_has_retransmits"), Some(1));
        let want = alloc::format!("{{\"id\":1,\"bytes\":120000,\"retransmits\":{retransmits},");
        assert!(client.results_text.contains(&want), "{}", client.results_text);
    }

    #[test]
    fn bidir_is_refused_with_server_error_and_a_busy_server_denies() {
        let (got, denied_state, report) = run(|a, b, spawner| async move {
            let events = serve_once(&b, &spawner);
            let mut ctl = a.tcp_connect(server_addr()).await.unwrap();
            ctl.write_all(COOKIE).await.unwrap();
            expect_state(&mut ctl, State::ParamExchange).await;
            // A second client while the first test is in its handshake.
            let mut other = a.tcp_connect(server_addr()).await.unwrap();
            other.write_all(b"zyxwvutsrqponmlkjihgfedcba9876543210\0").await.unwrap();
            let denied_state = read_state(&mut other).await.unwrap();
            write_json(&mut ctl, r#"{"tcp":true,"bidirectional":true,"parallel":1,"len":1460}"#)
                .await
                .unwrap();
            let mut got = [0u8; 9];
            read_exact(&mut ctl, &mut got).await.unwrap();
            a.sleep(Duration::from_millis(50)).await;
            (got, denied_state, finished(&events))
        });
        assert_eq!(denied_state, State::AccessDenied as i8);
        assert_eq!(got, [State::ServerError.byte(), 0, 0, 0, 13, 0, 0, 0, 0]);
        assert_eq!(report.error, Some(Iperf3Error::Refused("bidirectional tests are not implemented")));
    }

    #[test]
    fn udp_test_counts_packets_loss_and_reports_them() {
        let (results, report) = run(|a, b, spawner| async move {
            let events = serve_once(&b, &spawner);
            let mut ctl = a.tcp_connect(server_addr()).await.unwrap();
            ctl.write_all(COOKIE).await.unwrap();
            expect_state(&mut ctl, State::ParamExchange).await;
            write_json(&mut ctl, r#"{"udp":true,"time":1,"parallel":1,"len":1000,"bandwidth":1000000}"#)
                .await
                .unwrap();
            expect_state(&mut ctl, State::CreateStreams).await;
            let udp = a.udp_bind(SocketAddr::new(IpAddr::V4(IP_A), 40000)).unwrap();
            udp.send_to(&crate::iperf3_udp::UDP_CONNECT_MSG, server_addr()).await.unwrap();
            let mut reply = [0u8; 16];
            let (n, _) = udp.recv_from(&mut reply).await.unwrap();
            assert_eq!(&reply[..n], b"6789");
            expect_state(&mut ctl, State::TestStart).await;
            expect_state(&mut ctl, State::TestRunning).await;
            // 50 datagrams 1 ms apart; number 10 is "lost".
            for count in 1..=50u32 {
                let mut d = vec![0u8; 1000];
                d[4..8].copy_from_slice(&(count * 1000).to_be_bytes());
                d[8..12].copy_from_slice(&count.to_be_bytes());
                if count != 10 {
                    udp.send_to(&d, server_addr()).await.unwrap();
                }
                a.sleep(Duration::from_millis(1)).await;
            }
            a.sleep(Duration::from_millis(20)).await;
            ctl.write_all(&[State::TestEnd.byte()]).await.unwrap();
            expect_state(&mut ctl, State::ExchangeResults).await;
            write_json(&mut ctl, "{\"streams\":[]}").await.unwrap();
            let results = read_json(&mut ctl).await.unwrap();
            expect_state(&mut ctl, State::DisplayResults).await;
            ctl.write_all(&[State::IperfDone.byte()]).await.unwrap();
            a.sleep(Duration::from_millis(50)).await;
            (results, finished(&events))
        });
        assert_eq!(report.error, None, "{report:?}");
        let s = &report.streams[0];
        let udp = s.udp.expect("UDP counters");
        assert_eq!((s.id, s.bytes, udp.packets, udp.lost, udp.out_of_order), (1, 49_000, 50, 1, 0));
        // Sent 1 ms apart over a fixed-latency link: little jitter.
        assert!(udp.jitter < 0.001, "{udp:?}");
        assert_eq!(results.int("sender_has_retransmits"), Some(-1));
        assert_eq!(results.get("streams"), Some(&crate::iperf3_json::JsonValue::Nested));
    }

    #[test]
    fn reverse_udp_test_paces_datagrams_at_the_asked_rate() {
        let (got, counts, report) = run(|a, b, spawner| async move {
            let events = serve_once(&b, &spawner);
            let mut ctl = a.tcp_connect(server_addr()).await.unwrap();
            ctl.write_all(COOKIE).await.unwrap();
            expect_state(&mut ctl, State::ParamExchange).await;
            // 800 kbit/s of 1000-byte datagrams: 100 per second.
            write_json(
                &mut ctl,
                r#"{"udp":true,"reverse":true,"time":1,"parallel":1,"len":1000,"bandwidth":800000}"#,
            )
            .await
            .unwrap();
            expect_state(&mut ctl, State::CreateStreams).await;
            let udp = a.udp_bind(SocketAddr::new(IpAddr::V4(IP_A), 40001)).unwrap();
            udp.send_to(&crate::iperf3_udp::UDP_CONNECT_MSG, server_addr()).await.unwrap();
            let mut buf = vec![0u8; 2048];
            let (n, _) = udp.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"6789");
            expect_state(&mut ctl, State::TestStart).await;
            expect_state(&mut ctl, State::TestRunning).await;
            let end = a.now() + Duration::from_millis(500);
            let (mut got, mut counts) = (0u64, Vec::new());
            while let Ok(Ok((n, _))) = timeout(&a, end - a.now(), udp.recv_from(&mut buf)).await {
                got += n as u64;
                counts.push(u32::from_be_bytes(buf[8..12].try_into().unwrap()));
            }
            ctl.write_all(&[State::TestEnd.byte()]).await.unwrap();
            expect_state(&mut ctl, State::ExchangeResults).await;
            write_json(&mut ctl, "{\"streams\":[]}").await.unwrap();
            let _ = read_json(&mut ctl).await.unwrap();
            expect_state(&mut ctl, State::DisplayResults).await;
            ctl.write_all(&[State::IperfDone.byte()]).await.unwrap();
            a.sleep(Duration::from_millis(50)).await;
            (got, counts, finished(&events))
        });
        assert_eq!(report.error, None, "{report:?}");
        // Half a second at 100 datagrams/s (one more may be in flight).
        assert!((48..=52).contains(&counts.len()), "{} datagrams", counts.len());
        assert_eq!(counts, (1..=counts.len() as u32).collect::<Vec<_>>(), "numbered from 1, in order");
        assert_eq!(got, counts.len() as u64 * 1000);
        let s = &report.streams[0];
        let sent = s.udp.expect("UDP counters").packets;
        assert!(sent >= counts.len() as u64 && sent <= counts.len() as u64 + 2, "sent {sent}");
        assert_eq!(s.bytes, sent * 1000);
    }

    #[test]
    fn stream_ids_follow_the_client() {
        assert_eq!((0..5).map(stream_id).collect::<Vec<_>>(), [1, 3, 4, 5, 6]);
    }

    #[test]
    fn params_defaults_and_bounds() {
        let p = TestParams::from_json(&JsonObject::parse(b"{\"tcp\":true}").unwrap());
        assert_eq!((p.parallel, p.len, p.reverse, p.time), (1, 131072, false, 0));
        assert_eq!(p.refusal(), None);
        assert_eq!(p.byte_budget(), None);
        let p = TestParams::from_json(&JsonObject::parse(b"{\"parallel\":129,\"blockcount\":3,\"len\":10}").unwrap());
        assert_eq!(p.refusal().map(|r| r.0), Some(ierr::NUM_STREAMS));
        assert_eq!(p.byte_budget(), Some(30));
        let p = TestParams::from_json(&JsonObject::parse(b"{\"len\":2000000}").unwrap());
        assert_eq!(p.refusal().map(|r| r.0), Some(ierr::BLOCK_SIZE));
        let p = TestParams::from_json(&JsonObject::parse(b"{\"bidirectional\":true}").unwrap());
        assert_eq!(p.refusal().map(|r| r.0), Some(ierr::UNIMPLEMENTED));
    }
}
