//! The tokio runner without root: stacks on Unix datagram socket pairs
//! (a real descriptor, so tokio's reactor, readiness and back-pressure are
//! the real thing), driven on tokio's multi-thread runtime.
//!
//! `cargo test -p mnet-tap --features tokio --test tokio_pair`

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::pair::{PAIR_MAX_BATCH, device_and_wire, pair};
use mnet::stack::EchoEvent;
use mnet::wire::EthernetAddress;
use mnet::{Config, Net};
use mnet_tap::tokio_runner::{Runner, RunnerCounts};

const A_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const B_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const A_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);
/// On the subnet, but nobody has it: ARP requests for it go unanswered.
const ABSENT_IP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 77);

/// The loop may go round this often in a second of idleness at most (a
/// busy loop would go round thousands of times).
const IDLE_LOOPS_PER_SECOND: u64 = 5;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn config(mac: [u8; 6], ip: Ipv4Addr, seed: u8) -> Config {
    Config::new(EthernetAddress(mac), [seed; 32]).address(format!("{ip}/24").parse().expect("cidr"))
}

/// Compile-time proof that a future may move between tokio workers.
fn assert_send<F: Future + Send>(f: F) -> F {
    f
}

/// `fut`, or a panic naming `what` after `secs` seconds.
async fn within<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: nothing after {secs} s"),
    }
}

/// Datagram `i` of the echo test: sizes from 1 byte to 8000 (fragmented:
/// 1473 and up do not fit one 1500-byte IP packet with their headers).
fn datagram(i: usize) -> Vec<u8> {
    let size = match i % 10 {
        9 => 8000,
        8 => 1473,
        7 => 1472,
        _ => 1 + (i * 137) % 1400,
    };
    (0..size).map(|k| (k * 31 + i * 7) as u8).collect()
}

/// Echoes every datagram that reaches port 7 of `net`.
async fn echo_server(net: Net) -> mnet::Result<()> {
    let sock = net.udp_bind("0.0.0.0:7".parse().expect("addr"))?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, peer) = sock.recv_from(&mut buf).await?;
        sock.send_to(&buf[..n.min(buf.len())], peer).await?;
    }
}

/// Pings `dst` from `net` with `sizes`, one request each; checks every reply.
async fn ping(net: Net, dst: Ipv4Addr, sizes: &[usize]) -> mnet::Result<()> {
    let sock = net.echo_socket(None)?;
    let mut buf = vec![0u8; 65_535];
    for (seq, &size) in (1u16..).zip(sizes) {
        let data: Vec<u8> = (0..size).map(|k| (k as u8) ^ (seq as u8)).collect();
        sock.send(IpAddr::V4(dst), seq, &data).await?;
        match within(5, "echo reply", sock.recv(&mut buf)).await? {
            EchoEvent::Reply { from, seq_no, len } => {
                assert_eq!((from, seq_no, len), (IpAddr::V4(dst), seq, size));
                assert_eq!(&buf[..len], &data[..], "echo data of seq {seq}");
            }
            other => panic!("ping {dst} seq {seq}: {other:?}"),
        }
    }
    Ok(())
}

/// Two stacks on one wire, each driven by its runner on a 2-worker
/// runtime; the echo server, the client and the pings are separate tokio
/// tasks, so every future involved must be `Send`.
#[test]
fn two_stacks_echo_udp_and_ping_from_tokio_tasks() {
    runtime().block_on(async {
        let (dev_a, dev_b) = pair();
        let refused = [dev_a.refused(), dev_b.refused()];
        let (net_a, runner_a) = Runner::new(dev_a, config(A_MAC, A_IP, 1)).expect("runner a");
        let (net_b, runner_b) = Runner::new(dev_b, config(B_MAC, B_IP, 2)).expect("runner b");
        let counts_a = runner_a.counters();
        let run_a = tokio::spawn(assert_send(runner_a.run()));
        let run_b = tokio::spawn(assert_send(runner_b.run()));
        let server = tokio::spawn(assert_send(echo_server(net_b.clone())));

        let client_net = net_a.clone();
        let client = tokio::spawn(assert_send(async move {
            let sock = client_net.udp_bind("0.0.0.0:0".parse().expect("addr"))?;
            let server = SocketAddr::new(IpAddr::V4(B_IP), 7);
            let mut buf = vec![0u8; 65_535];
            for i in 0..100 {
                let payload = datagram(i);
                sock.send_to(&payload, server).await?;
                let (n, from) = within(5, "udp echo", sock.recv_from(&mut buf)).await?;
                assert_eq!(from, server, "datagram {i}");
                assert_eq!(n, payload.len(), "datagram {i}");
                assert_eq!(&buf[..n], &payload[..], "datagram {i}");
            }
            mnet::Result::Ok(100)
        }));
        let echoed = within(60, "the echo client", client).await.expect("client task").expect("client");
        assert_eq!(echoed, 100);

        // Both directions at once, each from its own task.
        let ping_ab = tokio::spawn(assert_send(ping(net_a.clone(), B_IP, &[56, 3000, 0, 1472])));
        let ping_ba = tokio::spawn(assert_send(ping(net_b.clone(), A_IP, &[56, 8000])));
        within(30, "ping a->b", ping_ab).await.expect("task").expect("ping a->b");
        within(30, "ping b->a", ping_ba).await.expect("task").expect("ping b->a");

        let stats = net_b.stats();
        assert_eq!((stats.traffic.udp_in, stats.traffic.udp_out), (100, 100), "{stats}");
        assert!(stats.traffic.ipv4_reassembled >= 20, "{stats}");
        assert_eq!(stats.total_drops(), 0, "{stats}");
        let c = counts_a.get();
        assert!(c.device_wakes > 0 && c.socket_wakes > 0, "{c:?}");
        eprintln!(
            "runner a: {c:?}; frames refused (back-pressure) a={} b={}",
            refused[0].load(Ordering::Relaxed),
            refused[1].load(Ordering::Relaxed)
        );

        server.abort();
        run_a.abort();
        run_b.abort();
        assert!(run_a.await.expect_err("aborted").is_cancelled());
        assert!(run_b.await.expect_err("aborted").is_cancelled());
    });
}

/// An ARP request (RFC 826) from `sender_mac`/`sender_ip` for `target`.
fn arp_request(sender_mac: [u8; 6], sender_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&sender_mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&sender_mac);
    f.extend_from_slice(&sender_ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// `(operation, sender ip, target ip)` of an ARP frame.
fn parse_arp(frame: &[u8]) -> Option<(u16, Ipv4Addr, Ipv4Addr)> {
    if frame.len() < 42 || frame[12..14] != [0x08, 0x06] {
        return None;
    }
    let ip = |at: usize| Ipv4Addr::new(frame[at], frame[at + 1], frame[at + 2], frame[at + 3]);
    Some((u16::from_be_bytes([frame[20], frame[21]]), ip(28), ip(38)))
}

const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;

/// Reads every frame from the wire in a thread, with its arrival time.
fn wire_reader(wire: UnixDatagram) -> mpsc::Receiver<(Instant, Vec<u8>)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 2048];
        while let Ok(n) = wire.recv(&mut buf) {
            if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next frame for which `pred` holds, within `limit`.
fn next_frame(rx: &mpsc::Receiver<(Instant, Vec<u8>)>, limit: Duration, pred: impl Fn(&[u8]) -> bool) -> Option<Instant> {
    let end = Instant::now() + limit;
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        let (at, frame) = rx.recv_timeout(left).ok()?;
        if pred(&frame) {
            return Some(at);
        }
    }
}

fn delta(a: RunnerCounts, b: RunnerCounts) -> RunnerCounts {
    RunnerCounts {
        loops: b.loops - a.loops,
        device_wakes: b.device_wakes - a.device_wakes,
        socket_wakes: b.socket_wakes - a.socket_wakes,
        timer_wakes: b.timer_wakes - a.timer_wakes,
        full_batches: b.full_batches - a.full_batches,
    }
}

/// Idle, the runner sleeps (a handful of rounds in a second, not
/// thousands); it wakes for each of its three reasons: a socket operation
/// from another task, a frame on the device, and the engine's timer.
#[test]
fn the_runner_sleeps_when_idle_and_wakes_for_sockets_frames_and_timers() {
    runtime().block_on(async {
        let (dev, wire) = device_and_wire();
        let writer = wire.try_clone().expect("clone wire");
        let frames = wire_reader(wire);
        let (net, runner) = Runner::new(dev, config(A_MAC, A_IP, 3)).expect("runner");
        let counters = runner.counters();
        let run = tokio::spawn(assert_send(runner.run()));

        // Idle: the start-up announcement went out at once; the next is
        // ANNOUNCE_INTERVAL (2 s) later, outside this window.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = counters.get();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = delta(before, counters.get());
        assert!(idle.loops <= IDLE_LOOPS_PER_SECOND, "busy while idle: {idle:?}");

        // A socket operation from this task (not the runner's) queues an
        // ARP request: the driver waker must wake the runner to send it.
        let before = counters.get();
        let sock = net.udp_bind("0.0.0.0:0".parse().expect("addr")).expect("bind");
        let sent_at = Instant::now();
        assert_send(sock.send_to(b"hello", SocketAddr::new(IpAddr::V4(ABSENT_IP), 9)))
            .await
            .expect("send");
        let is_request_for_absent = |f: &[u8]| parse_arp(f) == Some((ARP_REQUEST, A_IP, ABSENT_IP));
        let first = next_frame(&frames, Duration::from_secs(2), is_request_for_absent).expect("ARP request after send_to");
        assert!(
            first - sent_at < Duration::from_millis(500),
            "ARP request {:?} after send_to",
            first - sent_at
        );
        assert!(delta(before, counters.get()).socket_wakes >= 1, "{:?}", counters.get());

        // Unanswered, the request is repeated every RETRANS_TIMER (1 s):
        // the engine's timer must wake the runner. (Look for one gap of a
        // second rather than the first: while the engine's clock is stale,
        // see `sleep_and_timeout_...`, the first repeat comes at once.)
        let before = counters.get();
        let mut last = first;
        let repeat_gap = loop {
            let Some(at) = next_frame(&frames, Duration::from_secs(3), is_request_for_absent) else {
                panic!("no repeated ARP request a second apart: {:?}", counters.get());
            };
            let gap = at - std::mem::replace(&mut last, at);
            if gap >= Duration::from_millis(500) {
                break gap;
            }
        };
        assert!(
            repeat_gap >= Duration::from_millis(800) && repeat_gap < Duration::from_millis(2000),
            "repeated after {repeat_gap:?}"
        );
        assert!(delta(before, counters.get()).timer_wakes >= 1, "{:?}", counters.get());

        // A frame on the device: an ARP request for us gets its reply.
        let before = counters.get();
        let peer = Ipv4Addr::new(10, 9, 0, 50);
        let written_at = Instant::now();
        writer
            .send(&arp_request([2, 0, 0, 0, 0, 0x50], peer, A_IP))
            .expect("write the wire");
        let reply = next_frame(&frames, Duration::from_secs(2), |f| parse_arp(f) == Some((ARP_REPLY, A_IP, peer))).expect("ARP reply");
        assert!(
            reply - written_at < Duration::from_millis(500),
            "ARP reply after {:?}",
            reply - written_at
        );
        assert!(delta(before, counters.get()).device_wakes >= 1, "{:?}", counters.get());

        run.abort();
    });
}

/// Frames that wait beyond one batch are all read (the runner goes round
/// again instead of sleeping on readiness it already consumed), and frames
/// the device refused (back-pressure) all go out once the wire drains
/// (the runner waits for the device to become writable again).
#[test]
fn bursts_take_several_batches_and_back_pressure_loses_nothing() {
    const SENDERS: u8 = 40;
    runtime().block_on(async {
        let (dev, wire) = device_and_wire();
        let refused = dev.refused();
        let (net, runner) = Runner::new(dev, config(A_MAC, A_IP, 4)).expect("runner");
        let counters = runner.counters();
        let sender = |k: u8| (Ipv4Addr::new(10, 9, 0, 100 + k), [2, 0, 0, 0, 1, k]);

        // Frames already queued when the runner starts: three batches.
        // Nobody reads the wire, so nothing else makes the device's
        // descriptor ready again: a runner that slept after a full batch
        // would leave frames unread here.
        let early = u8::try_from(PAIR_MAX_BATCH * 3).expect("small");
        wire.set_nonblocking(true).expect("non-blocking");
        for k in 0..early {
            let (ip, mac) = sender(k);
            wire.send(&arp_request(mac, ip, A_IP)).expect("queue a frame");
        }
        let run = tokio::spawn(assert_send(runner.run()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let c = counters.get();
        assert_eq!(net.stats().traffic.arp_in, u64::from(early), "{c:?}");
        assert!(c.full_batches >= 2, "{c:?}");

        // The rest while it runs; still nobody reads the wire, so its
        // queue is full and the device refuses replies.
        let wire = tokio::task::spawn_blocking(move || {
            wire.set_nonblocking(false).expect("blocking");
            for k in early..SENDERS {
                let (ip, mac) = sender(k);
                wire.send(&arp_request(mac, ip, A_IP)).expect("write the wire");
            }
            wire
        })
        .await
        .expect("writer");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(net.stats().traffic.arp_in, u64::from(SENDERS), "{:?}", counters.get());
        assert!(
            refused.load(Ordering::Relaxed) >= 1,
            "the wire never pushed back: {:?}",
            counters.get()
        );

        // Now drain the wire: every sender gets its reply.
        let frames = wire_reader(wire);
        let mut answered = BTreeSet::new();
        while answered.len() < usize::from(SENDERS) {
            let Ok((_, f)) = frames.recv_timeout(Duration::from_secs(3)) else {
                panic!("replies stopped after {} of {SENDERS}: {:?}", answered.len(), counters.get());
            };
            if let Some((ARP_REPLY, from, to)) = parse_arp(&f) {
                assert_eq!(from, A_IP);
                answered.insert(to);
            }
        }
        let expected: BTreeSet<Ipv4Addr> = (0..SENDERS).map(|k| sender(k).0).collect();
        assert_eq!(answered, expected);
        run.abort();
    });
}

/// Timers from any task follow real time: `Net::sleep` and
/// `mnet::socket::timeout` under tokio.
///
/// Fails today: socket operations read the engine's clock (`Stack::now`),
/// which only the runner's last round set; under tokio, tasks run while
/// the runner sleeps, so after 700 ms of idleness a 300 ms sleep ends at
/// once. Needs a clock in `mnet::Net` (see the tokio runner's report).
#[test]
fn sleep_and_timeout_from_tokio_tasks_follow_real_time() {
    runtime().block_on(async {
        let (dev, _wire) = device_and_wire();
        let (net, runner) = Runner::new(dev, config(A_MAC, A_IP, 5)).expect("runner");
        let run = tokio::spawn(assert_send(runner.run()));
        // Let the engine's clock go stale: nothing moves for a while.
        tokio::time::sleep(Duration::from_millis(700)).await;

        let sleeper = net.clone();
        let slept = tokio::spawn(assert_send(async move {
            let t = Instant::now();
            sleeper.sleep(mnet::Duration::from_millis(300)).await;
            t.elapsed()
        }));
        let slept = within(5, "Net::sleep", slept).await.expect("task");
        assert!(
            slept >= Duration::from_millis(295) && slept < Duration::from_millis(800),
            "slept {slept:?} for 300 ms"
        );

        let sock = net.udp_bind("0.0.0.0:0".parse().expect("addr")).expect("bind");
        let t = Instant::now();
        let mut buf = [0u8; 16];
        let r = assert_send(mnet::socket::timeout(
            &net,
            mnet::Duration::from_millis(200),
            sock.recv_from(&mut buf),
        ))
        .await;
        assert_eq!(r.err(), Some(mnet::Error::TimedOut));
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_millis(195) && waited < Duration::from_millis(700),
            "timed out after {waited:?} for 200 ms"
        );
        run.abort();
    });
}
