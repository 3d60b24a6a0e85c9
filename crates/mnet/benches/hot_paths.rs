//! Microbenchmarks of the hot paths (issue 6): the Internet checksum,
//! header parse and emit of a full-sized TCP/IPv4/Ethernet frame, TCP
//! receive of an in-order segment, TCP send of a full window, and one
//! executor round with many idle tasks beside one busy one.
//!
//! ```text
//! cargo bench -p mnet --bench hot_paths            # all
//! cargo bench -p mnet --bench hot_paths -- tcp_    # the TCP ones
//! ```
//!
//! The TCP benchmarks use two stacks wired back to back in memory (A's
//! frames go into B's `receive` and back), with a connection warmed up by
//! a bulk transfer so the window is open. `iter_custom` times only the
//! step named; the rest of each round (delivering ACKs, reading the data)
//! runs untimed. CI builds them (clippy --all-targets) but does not run them.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::task::Poll;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mnet::executor::Executor;
use mnet::link::FrameMeta;
use mnet::slab::Handle as TcpHandle;
use mnet::stack::Stack;
use mnet::wire::checksum;
use mnet::wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpCidr, IpProtocol, Ipv4Packet, Ipv4Repr, TcpFlags, TcpPacket, TcpRepr,
    TcpSeqNumber,
};
use mnet::{Config, Duration, Instant};

const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0a]);
const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0b]);
const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Payload of a full-sized segment at MTU 1500 with timestamps.
const MSS: usize = 1448;
/// The window sent per iteration of `tcp_send_full_window`.
const WINDOW: usize = 64 * 1024;

fn checksums(c: &mut Criterion) {
    let mut g = c.benchmark_group("checksum");
    for len in [MSS, 64 * 1024] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function(format!("{len}_bytes"), |b| b.iter(|| checksum::checksum(black_box(&data))));
    }
    g.finish();
}

/// A TCP/IPv4/Ethernet frame with timestamps and a full-sized payload.
struct Headers {
    eth: EthernetRepr,
    ip: Ipv4Repr,
    payload: Vec<u8>,
}

impl Headers {
    fn new() -> Headers {
        Headers {
            eth: EthernetRepr {
                src_addr: MAC_A,
                dst_addr: MAC_B,
                ethertype: EtherType::Ipv4,
            },
            ip: Ipv4Repr {
                src_addr: IP_A,
                dst_addr: IP_B,
                next_header: IpProtocol::Tcp,
                payload_len: 32 + MSS,
                hop_limit: 64,
                dscp_ecn: 0,
                ident: 1,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
            },
            payload: vec![0x5a; MSS],
        }
    }

    fn tcp(&self) -> TcpRepr<'_> {
        TcpRepr {
            src_port: 40000,
            dst_port: 5201,
            seq_number: TcpSeqNumber(123_456),
            ack_number: Some(TcpSeqNumber(654_321)),
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window_len: 4096,
            urgent_ptr: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: Some((1, 2)),
            payload: &self.payload,
        }
    }

    /// Writes the frame into `buf`; returns its length.
    fn emit(&self, buf: &mut [u8]) -> usize {
        let tcp = self.tcp();
        let (src, dst) = (IpAddr::V4(IP_A), IpAddr::V4(IP_B));
        let len = 14 + 20 + tcp.buffer_len();
        self.eth.emit(&mut EthernetFrame::new_unchecked(&mut buf[..len]));
        self.ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[14..len]), true);
        tcp.emit(&mut TcpPacket::new_unchecked(&mut buf[34..len]), &src, &dst);
        len
    }
}

/// Parses a frame like the receive path does, checksums verified.
fn parse(frame: &[u8]) -> usize {
    let eth = EthernetFrame::new_checked(frame).expect("ethernet");
    let _ = EthernetRepr::parse(&eth).expect("ethernet repr");
    let ip = Ipv4Packet::new_checked(&frame[14..]).expect("ipv4");
    let ip_repr = Ipv4Repr::parse(&ip, true).expect("ipv4 repr");
    let seg = &frame[14 + 20..14 + 20 + ip_repr.payload_len];
    let tcp = TcpPacket::new_checked(seg).expect("tcp");
    let (src, dst) = (IpAddr::V4(ip_repr.src_addr), IpAddr::V4(ip_repr.dst_addr));
    let repr = TcpRepr::parse(&tcp, &src, &dst, true).expect("tcp repr");
    repr.payload.len()
}

fn headers(c: &mut Criterion) {
    let h = Headers::new();
    let mut buf = vec![0u8; 1514];
    let len = h.emit(&mut buf);
    assert_eq!(len, 1514);
    assert_eq!(parse(&buf[..len]), MSS);
    let mut g = c.benchmark_group("headers");
    g.throughput(Throughput::Elements(1));
    // Both include the TCP checksum over the payload (no offload).
    g.bench_function("emit_tcp_ipv4_ethernet", |b| b.iter(|| black_box(&h).emit(black_box(&mut buf))));
    let frame = buf.clone();
    g.bench_function("parse_tcp_ipv4_ethernet", |b| b.iter(|| parse(black_box(&frame))));
    g.finish();
}

/// Two stacks back to back with an open, warmed-up connection A -> B.
struct Pair {
    a: Stack,
    b: Stack,
    ca: TcpHandle,
    cb: TcpHandle,
    now: Instant,
    buf: Vec<u8>,
    /// Frames A sent and B has not yet received.
    in_flight: Vec<Vec<u8>>,
}

/// Initial (and idle-restart) window of the stacks, in segments: large
/// enough that a 64 KiB write leaves at once after the untimed pauses
/// between iterations (RFC 5681 §4.1 restarts an idle connection's
/// window from the initial window).
const INITIAL_WINDOW_SEGMENTS: u32 = 64;

fn stack(mac: EthernetAddress, ip: Ipv4Addr, seed: u8, now: Instant) -> Stack {
    let cidr = IpCidr::new(IpAddr::V4(ip), 24).expect("prefix");
    let mut config = Config::new(mac, [seed; 32]).address(cidr);
    config.tcp.initial_window_segments = INITIAL_WINDOW_SEGMENTS;
    Stack::new(config, now)
}

impl Pair {
    fn new() -> Pair {
        let now = Instant::from_secs(1);
        let mut a = stack(MAC_A, IP_A, 1, now);
        let mut b = stack(MAC_B, IP_B, 2, now);
        let listener = b.tcp_listen(SocketAddr::new(IpAddr::V4(IP_B), 80), 4).expect("listen");
        let ca = a.tcp_connect(now, SocketAddr::new(IpAddr::V4(IP_B), 80)).expect("connect");
        let mut p = Pair {
            a,
            b,
            ca,
            cb: ca,
            now,
            buf: vec![0; 1 << 20],
            in_flight: Vec::new(),
        };
        p.exchange();
        p.cb = p.b.tcp_accept(listener).expect("accepted").0;
        // Warm up: 8 MB, so slow start is over and the window is open.
        let data = vec![7u8; 256 * 1024];
        for _ in 0..32 {
            p.send(&data);
            p.deliver_all();
        }
        p
    }

    fn tick(&mut self) {
        self.now += Duration::from_micros(100);
    }

    /// Frames both ways until nothing moves; B reads what arrived.
    fn exchange(&mut self) {
        let now = self.now;
        for _ in 0..10_000 {
            let (a, b) = (&mut self.a, &mut self.b);
            let n = a.transmit(&mut |meta: &FrameMeta, f: &[u8]| {
                b.receive(now, meta, f);
                true
            }) + b.transmit(&mut |meta: &FrameMeta, f: &[u8]| {
                a.receive(now, meta, f);
                true
            });
            while let Ok(1..) = self.b.tcp_recv(now, self.cb, &mut self.buf) {}
            if n == 0 {
                return;
            }
        }
        panic!("frames kept flowing");
    }

    /// Queue all of `data` on A (delivering as needed).
    fn send(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            self.tick();
            let n = self.a.tcp_send(self.now, self.ca, data).unwrap_or(0);
            data = &data[n..];
            self.exchange();
        }
    }

    /// Deliver until A has nothing unacknowledged, advancing time (delayed ACKs).
    fn deliver_all(&mut self) {
        for _ in 0..1000 {
            self.exchange();
            if self.a.tcp_unacked(self.ca).unwrap_or(0) == 0 {
                return;
            }
            self.now += Duration::from_millis(50);
            self.a.poll(self.now);
            self.b.poll(self.now);
        }
        panic!("the data was never acknowledged");
    }

    /// A's frames into `in_flight` (not delivered).
    fn capture(&mut self) -> usize {
        let q = &mut self.in_flight;
        self.a.transmit(&mut |_meta: &FrameMeta, f: &[u8]| {
            q.push(f.to_vec());
            true
        })
    }
}

fn tcp_receive(c: &mut Criterion) {
    let mut p = Pair::new();
    let segment = vec![0x42u8; MSS];
    let meta = FrameMeta::default();
    let mut g = c.benchmark_group("tcp");
    g.throughput(Throughput::Bytes(MSS as u64));
    // Timed: B receives one in-order, full-sized data segment (checksums,
    // demultiplexing, SEGMENT ARRIVES, queueing) and the application
    // reads it. Untimed: A sends it, B's ACKs go back.
    g.bench_function("tcp_receive_in_order_segment", |bench| {
        bench.iter_custom(|iters| {
            let mut total = StdDuration::ZERO;
            for _ in 0..iters {
                p.tick();
                p.a.tcp_send(p.now, p.ca, &segment).expect("send");
                p.in_flight.clear();
                p.capture();
                let frames = std::mem::take(&mut p.in_flight);
                let now = p.now;
                let t0 = StdInstant::now();
                for f in &frames {
                    p.b.receive(now, &meta, f);
                }
                let n = p.b.tcp_recv(now, p.cb, &mut p.buf).unwrap_or(0);
                total += t0.elapsed();
                black_box(n);
                p.exchange();
                if p.a.tcp_unacked(p.ca).unwrap_or(0) > 256 * 1024 {
                    p.deliver_all();
                }
            }
            total
        })
    });
    g.finish();
}

fn tcp_send(c: &mut Criterion) {
    let mut p = Pair::new();
    let window = vec![0x24u8; WINDOW];
    let meta = FrameMeta::default();
    // Frame buffers reused across iterations, like a device's.
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut g = c.benchmark_group("tcp");
    g.throughput(Throughput::Bytes(WINDOW as u64));
    // Timed: the application writes 64 KiB and A builds every segment the
    // window allows (payload copied once into each frame), which the sink
    // copies once more into a reused buffer (as a device write would).
    // Untimed: delivery to B, B's reads and ACKs.
    // Check once that a whole window leaves in one go (else this would
    // measure a window-limited trickle).
    p.tick();
    let queued = p.a.tcp_send(p.now, p.ca, &window).expect("send");
    let mut sent = 0usize;
    let frames = p.a.transmit(&mut |_meta: &FrameMeta, f: &[u8]| {
        sent += f.len().saturating_sub(14 + 20 + 32);
        true
    });
    let info = p.a.tcp_info(p.ca).expect("info");
    eprintln!(
        "tcp_send_full_window: {queued} bytes queued, {frames} frames, {sent} payload bytes; cwnd {} snd_wnd {} in flight {}",
        info.cwnd, info.snd_wnd, info.bytes_in_flight
    );
    p.deliver_all();
    g.bench_function("tcp_send_full_window", |bench| {
        bench.iter_custom(|iters| {
            let mut total = StdDuration::ZERO;
            for _ in 0..iters {
                p.tick();
                let now = p.now;
                let mut k = 0usize;
                let t0 = StdInstant::now();
                let queued = p.a.tcp_send(now, p.ca, &window).unwrap_or(0);
                p.a.transmit(&mut |_meta: &FrameMeta, f: &[u8]| {
                    match pool.get_mut(k) {
                        Some(b) => {
                            b.clear();
                            b.extend_from_slice(f);
                        }
                        None => pool.push(f.to_vec()),
                    }
                    k += 1;
                    true
                });
                total += t0.elapsed();
                black_box(queued);
                for f in &pool[..k] {
                    p.b.receive(now, &meta, f);
                }
                p.deliver_all();
            }
            total
        })
    });
    g.finish();
}

/// Pending `n` times (waking itself each time), then ready.
fn yield_times(n: u64) -> impl Future<Output = ()> {
    let mut left = n;
    std::future::poll_fn(move |cx| {
        if left == 0 {
            return Poll::Ready(());
        }
        left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

/// One executor round (`block_on`'s loop: main polled, woken tasks
/// polled) with `idle` tasks that never wake (an echo task per idle
/// connection) and one task that wakes itself every round.
fn executor_round(c: &mut Criterion) {
    let mut g = c.benchmark_group("executor");
    for idle in [0usize, 10_000] {
        let mut ex = Executor::new();
        let spawner = ex.spawner();
        for _ in 0..idle {
            spawner.spawn(std::future::pending::<()>());
        }
        spawner.spawn(async {
            loop {
                yield_times(1).await;
            }
        });
        // Warm-up: the first round polls every new task once.
        ex.block_on_local(yield_times(2));
        assert_eq!(ex.task_count(), idle + 1);
        g.bench_function(format!("round_{idle}_idle_1_woken"), |bench| {
            bench.iter_custom(|iters| {
                let t0 = StdInstant::now();
                ex.block_on_local(yield_times(iters));
                t0.elapsed()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, checksums, headers, tcp_receive, tcp_send, executor_round);
criterion_main!(benches);
