//! Regression tests from the first review of the TCP glue, the executor and
//! the IPv4 input path: each one failed before its fix.
extern crate std;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr};

use super::super::Stack;
use super::super::test_util::{drain, sa, stack};
use crate::link::FrameMeta;
use crate::time::{Duration, Instant};
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Packet, Ipv4Repr, TcpFlags,
    TcpPacket, TcpRepr, TcpSeqNumber, UdpPacket, UdpRepr, ipv4, udp,
};

const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xa]);
pub(super) const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0xb]);
const MAC_P: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x9]);
const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(super) const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const IP_P: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

/// (src_port, dst_port, seq, ack, flags) of every TCP segment in frames.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // every field is parsed; tests read some
pub(super) struct Seg {
    sport: u16,
    dport: u16,
    pub(super) seq: TcpSeqNumber,
    pub(super) ack: Option<TcpSeqNumber>,
    flags: TcpFlags,
}
pub(super) fn tcp_segs(frames: &[Vec<u8>]) -> Vec<Seg> {
    let mut v = Vec::new();
    for f in frames {
        if f.len() < 34 || f[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        if ip.next_header() != IpProtocol::Tcp {
            continue;
        }
        let (s, d) = (IpAddr::V4(ip.src_addr()), IpAddr::V4(ip.dst_addr()));
        let p = TcpPacket::new_checked(ip.payload()).unwrap();
        let r = TcpRepr::parse(&p, &s, &d, true).unwrap();
        v.push(Seg {
            sport: r.src_port,
            dport: r.dst_port,
            seq: r.seq_number,
            ack: r.ack_number,
            flags: r.flags,
        });
    }
    v
}

fn arp_from_peer(target: Ipv4Addr, target_mac: EthernetAddress) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 28];
    EthernetRepr {
        src_addr: MAC_P,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    let _ = target_mac;
    ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: MAC_P,
        source_protocol_addr: IP_P,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    }
    .emit(&mut ArpPacket::new_unchecked(&mut f[14..]));
    f
}

fn tcp_from_peer(
    dst_ip: Ipv4Addr,
    dst_mac: EthernetAddress,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: Option<u32>,
    flags: TcpFlags,
) -> Vec<u8> {
    tcp_data_from_peer(dst_ip, dst_mac, (sport, dport), seq, ack, flags, &[])
}

/// A segment from the raw peer P carrying `payload`.
pub(super) fn tcp_data_from_peer(
    dst_ip: Ipv4Addr,
    dst_mac: EthernetAddress,
    (sport, dport): (u16, u16),
    seq: u32,
    ack: Option<u32>,
    flags: TcpFlags,
    payload: &[u8],
) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: sport,
        dst_port: dport,
        seq_number: TcpSeqNumber(seq),
        ack_number: ack.map(TcpSeqNumber),
        flags,
        window_len: 65535,
        urgent_ptr: 0,
        max_seg_size: if flags.contains(TcpFlags::SYN) { Some(1460) } else { None },
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        payload,
    };
    let ip = Ipv4Repr {
        src_addr: IP_P,
        dst_addr: dst_ip,
        next_header: IpProtocol::Tcp,
        payload_len: repr.buffer_len(),
        hop_limit: 64,
        dscp_ecn: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let len = 14 + ipv4::HEADER_LEN + repr.buffer_len();
    let mut f = vec![0u8; len];
    EthernetRepr {
        src_addr: MAC_P,
        dst_addr: dst_mac,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut f[14..]), true);
    repr.emit(&mut TcpPacket::new_unchecked(&mut f[34..]), &IpAddr::V4(IP_P), &IpAddr::V4(dst_ip));
    f
}

pub(super) fn seq_u32(s: TcpSeqNumber) -> u32 {
    s.0
}

/// A stack B with a listener on :80 and the raw peer's MAC learnt.
pub(super) fn b_with_listener(backlog: usize) -> (Stack, crate::slab::Handle) {
    let mut b = stack(MAC_B, IP_B, 2);
    b.poll(Instant::ZERO);
    drain(&mut b);
    b.receive(Instant::ZERO, &FrameMeta::PLAIN, &arp_from_peer(IP_B, MAC_B));
    drain(&mut b);
    let lh = b.tcp_listen(sa(IP_B, 80), backlog).unwrap();
    (b, lh)
}

/// Raw peer: send SYN from `port`, return B's ISN from its SYN-ACK.
pub(super) fn raw_syn(b: &mut Stack, now: Instant, port: u16, isn: u32) -> Seg {
    b.receive(
        now,
        &FrameMeta::PLAIN,
        &tcp_from_peer(IP_B, MAC_B, port, 80, isn, None, TcpFlags::SYN),
    );
    let segs = tcp_segs(&drain(b));
    assert_eq!(segs.len(), 1, "{segs:?}");
    segs[0]
}
pub(super) fn raw_ack(b: &mut Stack, now: Instant, port: u16, isn: u32, synack: Seg) {
    b.receive(
        now,
        &FrameMeta::PLAIN,
        &tcp_from_peer(
            IP_B,
            MAC_B,
            port,
            80,
            isn.wrapping_add(1),
            Some(seq_u32(synack.seq).wrapping_add(1)),
            TcpFlags::ACK,
        ),
    );
    drain(b);
}

#[test]
fn r1_syn_ack_to_listener_must_be_reset_not_accepted() {
    let (mut b, _lh) = b_with_listener(8);
    let now = Instant::from_millis(1);
    b.receive(
        now,
        &FrameMeta::PLAIN,
        &tcp_from_peer(IP_B, MAC_B, 1000, 80, 5000, Some(777), TcpFlags::SYN | TcpFlags::ACK),
    );
    let segs = tcp_segs(&drain(&mut b));
    std::println!("reply to SYN|ACK: {segs:?}");
    assert_eq!(b.tcp_connection_count(), 0, "SYN|ACK to a LISTEN socket created a connection");
    assert!(segs.iter().any(|s| s.flags.contains(TcpFlags::RST) && seq_u32(s.seq) == 777));
}

#[test]
fn r2_syn_queue_counter_double_decrement_on_accept_overflow() {
    let (mut b, lh) = b_with_listener(1);
    let now = Instant::from_millis(1);
    let s1 = raw_syn(&mut b, now, 1001, 100);
    raw_ack(&mut b, now, 1001, 100, s1); // queued, accept queue now full
    let s2 = raw_syn(&mut b, now, 1002, 200);
    let _s3 = raw_syn(&mut b, now, 1003, 300); // stays half-open
    assert_eq!(b.tcp.listeners.get(lh).unwrap().syn_queue, 2);
    raw_ack(&mut b, now, 1002, 200, s2); // overflow: the ACK is dropped
    // 1002 stays half-open beside 1003 (accept_queue_overflow).
    assert_eq!(b.tcp.listeners.get(lh).unwrap().syn_queue, 2, "syn_queue drifted");
    // Once 1001 is accepted, 1002's retransmitted ACK completes it: it
    // leaves the SYN queue exactly once.
    assert!(b.tcp_accept(lh).is_ok());
    raw_ack(&mut b, now, 1002, 200, s2);
    assert_eq!(b.tcp.listeners.get(lh).unwrap().syn_queue, 1, "syn_queue drifted");
}

/// A full accept queue drops the handshake's last ACK instead of
/// resetting (Linux's tcp_abort_on_overflow = 0): the child stays in
/// SYN-RECEIVED, retransmits its SYN-ACK, and the peer's next ACK gets in
/// once the application has accepted.
#[test]
fn accept_queue_overflow_keeps_the_child_for_the_peers_retry() {
    let (mut b, lh) = b_with_listener(1);
    let now = Instant::from_millis(1);
    let s1 = raw_syn(&mut b, now, 1001, 100);
    raw_ack(&mut b, now, 1001, 100, s1); // queued: the accept queue is full
    let s2 = raw_syn(&mut b, now, 1002, 200);
    let ack2 = tcp_from_peer(IP_B, MAC_B, 1002, 80, 201, Some(seq_u32(s2.seq).wrapping_add(1)), TcpFlags::ACK);
    b.receive(now, &FrameMeta::PLAIN, &ack2);
    let segs = tcp_segs(&drain(&mut b));
    assert!(segs.is_empty(), "no reset, no reply: {segs:?}");
    assert_eq!(b.stats().drops(crate::stats::Drop::TcpAcceptQueueFull), 1);
    assert_eq!(b.tcp_connection_count(), 2, "the child is kept");
    // The child retransmits its SYN-ACK (RFC 9293 §3.8.1) ...
    let later = now + Duration::from_secs(3);
    b.poll(later);
    let segs = tcp_segs(&drain(&mut b));
    assert!(
        segs.iter()
            .any(|s| s.dport == 1002 && s.flags.contains(TcpFlags::SYN | TcpFlags::ACK)),
        "{segs:?}"
    );
    // ... the application accepts the first connection, and the peer's
    // answer to the SYN-ACK completes the second.
    let (_h1, p1) = b.tcp_accept(lh).unwrap();
    assert_eq!(p1.port(), 1001);
    b.receive(later, &FrameMeta::PLAIN, &ack2);
    let segs = tcp_segs(&drain(&mut b));
    assert!(segs.iter().all(|s| !s.flags.contains(TcpFlags::RST)), "{segs:?}");
    let (_h2, p2) = b.tcp_accept(lh).expect("the retried handshake is accepted");
    assert_eq!(p2.port(), 1002);
}

#[test]
fn r3_syn_queue_counter_decremented_for_cookie_connections() {
    let (mut b, lh) = b_with_listener(1); // SYN queue limit = min(1024, 2) = 2
    let now = Instant::from_millis(1);
    let _ = raw_syn(&mut b, now, 1001, 100);
    let _ = raw_syn(&mut b, now, 1002, 200);
    assert_eq!(b.tcp.listeners.get(lh).unwrap().syn_queue, 2);
    let c = raw_syn(&mut b, now, 1003, 300); // cookie
    assert_eq!(b.tcp_connection_count(), 2);
    raw_ack(&mut b, now, 1003, 300, c);
    assert_eq!(b.tcp_connection_count(), 3, "cookie handshake should complete");
    assert_eq!(
        b.tcp.listeners.get(lh).unwrap().syn_queue,
        2,
        "syn_queue drifted (cookie conn never counted)"
    );
}

#[test]
fn r4_listener_closed_with_half_open_child_leaks_connection() {
    let (mut b, lh) = b_with_listener(8);
    let mut now = Instant::from_millis(1);
    let s1 = raw_syn(&mut b, now, 1001, 100);
    b.tcp_close_listener(now, lh);
    raw_ack(&mut b, now, 1001, 100, s1); // child becomes ESTABLISHED, owner gone
    // peer closes: FIN
    b.receive(
        now,
        &FrameMeta::PLAIN,
        &tcp_from_peer(
            IP_B,
            MAC_B,
            1001,
            80,
            101,
            Some(seq_u32(s1.seq).wrapping_add(1)),
            TcpFlags::FIN | TcpFlags::ACK,
        ),
    );
    drain(&mut b);
    for _ in 0..200 {
        now += Duration::from_secs(60);
        b.poll(now);
        drain(&mut b);
    }
    assert_eq!(
        b.tcp_connection_count(),
        0,
        "ownerless connection kept for 200 minutes (CLOSE-WAIT forever)"
    );
}

/// Carry frames between A and B until both are quiet; B's frames are
/// also appended to `log`.
fn exchange(a: &mut Stack, b: &mut Stack, now: Instant, log: &mut Vec<Vec<u8>>) {
    for _ in 0..1000 {
        let fa = drain(a);
        let fb = drain(b);
        if fa.is_empty() && fb.is_empty() {
            return;
        }
        for f in fa {
            b.receive(now, &FrameMeta::PLAIN, &f);
        }
        for f in fb {
            log.push(f.clone());
            a.receive(now, &FrameMeta::PLAIN, &f);
        }
    }
}

/// A and B connected via the stacks; A closed first and keeps a TIME_WAIT
/// record. Returns both stacks, B's FIN (to replay) and the time.
fn time_wait_pair() -> (Stack, Stack, Vec<u8>, Instant) {
    let mut a = stack(MAC_A, IP_A, 1);
    let mut b = stack(MAC_B, IP_B, 2);
    let mut now = Instant::ZERO;
    a.poll(now);
    b.poll(now);
    let mut b_frames: Vec<Vec<u8>> = Vec::new();
    let ex = exchange;
    ex(&mut a, &mut b, now, &mut b_frames);
    now = Instant::from_millis(1);
    let lh = b.tcp_listen(sa(IP_B, 80), 8).unwrap();
    let ha = a.tcp_connect(now, sa(IP_B, 80)).unwrap();
    ex(&mut a, &mut b, now, &mut b_frames);
    let (hb, _) = b.tcp_accept(lh).unwrap();
    a.tcp_close(now, ha);
    ex(&mut a, &mut b, now, &mut b_frames);
    b.tcp_close(now, hb);
    b_frames.clear();
    ex(&mut a, &mut b, now, &mut b_frames);
    assert_eq!(a.tcp_time_wait_count(), 1);
    let fin = b_frames
        .iter()
        .find(|f| {
            tcp_segs(core::slice::from_ref(f))
                .first()
                .is_some_and(|s| s.flags.contains(TcpFlags::FIN))
        })
        .expect("B's FIN")
        .clone();
    (a, b, fin, now)
}

/// A and B connected via the stacks; A closes first -> A keeps a TIME_WAIT
/// record. B's FIN is replayed (a retransmitted FIN, our last ACK was lost):
/// the record's deadline restarts but the expiry index is not updated.
#[test]
fn r5_time_wait_record_leaks_after_retransmitted_fin() {
    let (mut a, mut b, fin, mut now) = time_wait_pair();
    // 10 s later the peer retransmits its FIN.
    now += Duration::from_secs(10);
    a.poll(now);
    a.receive(now, &FrameMeta::PLAIN, &fin);
    drain(&mut a);
    // Two hours later the record must be gone.
    for _ in 0..120 {
        now += Duration::from_secs(60);
        a.poll(now);
        b.poll(now);
        drain(&mut a);
        drain(&mut b);
    }
    std::println!("poll_at after: {:?}", a.tcp.poll_at());
    assert_eq!(a.tcp_time_wait_count(), 0, "TIME_WAIT record never expires");
}

/// Each retransmitted FIN restarts the record's 2 MSL: the expiry index
/// keeps one entry per record, not one per FIN (a peer repeating its FIN
/// must not grow it).
#[test]
fn time_wait_expiry_index_keeps_one_entry_per_record() {
    let (mut a, _b, fin, mut now) = time_wait_pair();
    for _ in 0..1000 {
        now += Duration::from_millis(1);
        a.receive(now, &FrameMeta::PLAIN, &fin);
        drain(&mut a);
    }
    assert_eq!(a.tcp_time_wait_count(), 1);
    assert_eq!(a.tcp.time_wait_expiry.len(), 1, "one index entry per record");
}

/// The transmit queue is full when a connection with nothing in flight
/// gets data: no timer is armed and `tcp.blocked` is never filled, so the
/// data is never sent, even after the queue drains.
#[test]
fn r6_tcp_stalls_forever_after_tx_queue_full() {
    let mut a = stack(MAC_A, IP_A, 1);
    let mut b = stack(MAC_B, IP_B, 2);
    let mut now = Instant::ZERO;
    a.poll(now);
    b.poll(now);
    let ex = |a: &mut Stack, b: &mut Stack, now: Instant| {
        for _ in 0..1000 {
            let fa = drain(a);
            let fb = drain(b);
            if fa.is_empty() && fb.is_empty() {
                return;
            }
            for f in fa {
                b.receive(now, &FrameMeta::PLAIN, &f);
            }
            for f in fb {
                a.receive(now, &FrameMeta::PLAIN, &f);
            }
        }
    };
    ex(&mut a, &mut b, now);
    now = Instant::from_millis(1);
    let lh = b.tcp_listen(sa(IP_B, 80), 8).unwrap();
    let ha = a.tcp_connect(now, sa(IP_B, 80)).unwrap();
    ex(&mut a, &mut b, now);
    let (hb, _) = b.tcp_accept(lh).unwrap();
    // Fill A's transmit queue with UDP datagrams (not drained).
    let hu = a.udp_bind(sa(IP_A, 0)).unwrap();
    while a.udp_send_to(now, hu, b"x", Some(sa(IP_B, 9))).is_ok() {}
    assert_eq!(a.tx_pending(), a.limits.tx_queue_frames);
    assert_eq!(a.tcp_send(now, ha, b"hello").unwrap(), 5);
    std::println!("a.poll_at with data blocked: {:?}", a.poll_at());
    // The device drains the queue; drop the UDP frames.
    drain(&mut a);
    for _ in 0..100 {
        now += Duration::from_secs(1);
        a.poll(now);
        b.poll(now);
        ex(&mut a, &mut b, now);
    }
    let mut buf = [0u8; 16];
    assert_eq!(b.tcp_recv(now, hb, &mut buf), Ok(5), "data never left A");
}

/// A datagram needing 3 frames when 1 frame of room is left: WouldBlock,
/// and register_tx_space wakes at once (room for 1) -> busy loop.
#[test]
fn r7_register_tx_space_wakes_immediately_for_multi_frame_datagram() {
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicUsize, Ordering};
    struct Count(AtomicUsize);
    impl alloc::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let mut a = stack(MAC_A, IP_A, 1);
    let now = Instant::ZERO;
    let hu = a.udp_bind(sa(IP_A, 0)).unwrap();
    // Broadcast: no ARP needed.
    let bcast = Ipv4Addr::new(10, 0, 0, 255);
    while a.tx_pending() < a.limits.tx_queue_frames - 1 {
        a.udp_send_to(now, hu, b"x", Some(sa(bcast, 9))).unwrap();
    }
    let big = vec![0u8; 4000];
    assert_eq!(
        a.udp_send_to(now, hu, &big, Some(sa(bcast, 9))),
        Err(crate::error::Error::WouldBlock)
    );
    let c = Arc::new(Count(AtomicUsize::new(0)));
    let w = core::task::Waker::from(c.clone());
    a.register_tx_space(&w);
    assert_eq!(
        c.0.load(Ordering::SeqCst),
        0,
        "woken although the datagram still cannot fit (busy loop)"
    );
}

/// mnet's executor never returns to the drivers while a task keeps waking
/// itself: run_ready() loops as long as any task was woken.
#[test]
fn r8_executor_starves_drivers_with_self_waking_task() {
    use crate::executor::{Driver, Executor, Platform};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        struct P;
        impl Platform for P {
            fn now(&mut self) -> Instant {
                Instant::ZERO
            }
            fn wait(&mut self, _: Option<Instant>) {}
        }
        struct D(std::rc::Rc<core::cell::Cell<u32>>);
        impl Driver for D {
            fn drive(&mut self, _: Instant) -> bool {
                self.0.set(self.0.get() + 1);
                false
            }
            fn poll_at(&self) -> Option<Instant> {
                None
            }
        }
        let count = std::rc::Rc::new(core::cell::Cell::new(0));
        let mut d = D(count.clone());
        let mut ex = Executor::new();
        let sp = ex.spawner();
        let c2 = count.clone();
        ex.block_on(&mut P, &mut [&mut d], async move {
            // A spawned task that waits for the driver to run 10 more times
            // by yielding (wake itself, return Pending).
            let start = c2.get();
            sp.spawn(async move {
                core::future::poll_fn(|cx| {
                    if c2.get() >= start + 10 {
                        core::task::Poll::Ready(())
                    } else {
                        cx.waker().wake_by_ref();
                        core::task::Poll::Pending
                    }
                })
                .await
            });
        });
        // main is done; now run the spawned one via another block_on.
        let _ = tx.send(());
    });
    // block_on returns when main completes, which it does immediately; the
    // starvation shows when main itself yields:
    assert!(rx.recv_timeout(std::time::Duration::from_secs(5)).is_ok());

    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        struct P;
        impl Platform for P {
            fn now(&mut self) -> Instant {
                Instant::ZERO
            }
            fn wait(&mut self, _: Option<Instant>) {}
        }
        struct D(std::rc::Rc<core::cell::Cell<u32>>);
        impl Driver for D {
            fn drive(&mut self, _: Instant) -> bool {
                self.0.set(self.0.get() + 1);
                false
            }
            fn poll_at(&self) -> Option<Instant> {
                None
            }
        }
        let count = std::rc::Rc::new(core::cell::Cell::new(0));
        let mut d = D(count.clone());
        let mut ex = Executor::new();
        let sp = ex.spawner();
        let c2 = count.clone();
        let done = std::rc::Rc::new(core::cell::Cell::new(false));
        let done2 = done.clone();
        sp.spawn(async move {
            let start = c2.get();
            core::future::poll_fn(|cx| {
                if c2.get() >= start + 10 {
                    done2.set(true);
                    core::task::Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    core::task::Poll::Pending
                }
            })
            .await
        });
        let done3 = done.clone();
        ex.block_on(
            &mut P,
            &mut [&mut d],
            core::future::poll_fn(move |cx| {
                if done3.get() {
                    core::task::Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    core::task::Poll::Pending
                }
            }),
        );
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(std::time::Duration::from_secs(5)).is_ok(),
        "executor hung: a self-waking spawned task starves the drivers"
    );
}

/// A datagram to 127.0.0.1 arriving from the wire is delivered.
#[test]
fn r9_loopback_destination_from_the_wire_is_accepted() {
    let mut a = stack(MAC_A, IP_A, 1);
    let h = a.udp_bind(sa(Ipv4Addr::UNSPECIFIED, 7)).unwrap();
    let payload = b"hi";
    let dst = Ipv4Addr::LOCALHOST;
    let ip = Ipv4Repr {
        src_addr: IP_P,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: udp::HEADER_LEN + payload.len(),
        hop_limit: 64,
        dscp_ecn: 0,
        ident: 1,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let len = 14 + 20 + 8 + payload.len();
    let mut f = vec![0u8; len];
    EthernetRepr {
        src_addr: MAC_P,
        dst_addr: MAC_A,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut f[14..]), true);
    let mut u = UdpPacket::new_unchecked(&mut f[34..]);
    UdpRepr { src_port: 5, dst_port: 7 }.emit_header(&mut u, payload.len());
    u.payload_mut().copy_from_slice(payload);
    u.fill_checksum(&IpAddr::V4(IP_P), &IpAddr::V4(dst));
    a.receive(Instant::ZERO, &FrameMeta::PLAIN, &f);
    let mut buf = [0u8; 8];
    assert!(
        a.udp_recv_from(h, &mut buf).is_err(),
        "127.0.0.1 from the wire reached a socket (RFC 1122 §3.2.1.3 (g))"
    );
}

#[test]
fn r10_huge_backlog_overflows_on_first_syn() {
    let mut b = stack(MAC_B, IP_B, 2);
    b.receive(Instant::ZERO, &FrameMeta::PLAIN, &arp_from_peer(IP_B, MAC_B));
    drain(&mut b);
    let _lh = b.tcp_listen(sa(IP_B, 80), usize::MAX).unwrap();
    let _ = raw_syn(&mut b, Instant::from_millis(1), 1001, 100);
}

/// A full TIME-WAIT table (Limits::tcp_time_wait) keeps no record for the
/// next active close, like Linux's tcp_max_tw_buckets: the connection is
/// freed all the same and the table stays at its bound.
#[test]
fn time_wait_table_full_drops_the_record_and_frees_the_connection() {
    let mut cfg = crate::config::Config::new(MAC_A, [1; 32]).address(crate::wire::IpCidr::new(IpAddr::V4(IP_A), 24).unwrap());
    cfg.limits.tcp_time_wait = 2;
    let mut a = Stack::new(cfg, Instant::ZERO);
    let mut b = stack(MAC_B, IP_B, 2);
    let now = Instant::from_millis(1);
    let mut log = Vec::new();
    let lh = b.tcp_listen(sa(IP_B, 80), 8).unwrap();
    for _ in 0..5 {
        let ha = a.tcp_connect(now, sa(IP_B, 80)).unwrap();
        exchange(&mut a, &mut b, now, &mut log);
        let (hb, _) = b.tcp_accept(lh).unwrap();
        a.tcp_close(now, ha);
        exchange(&mut a, &mut b, now, &mut log);
        b.tcp_close(now, hb);
        exchange(&mut a, &mut b, now, &mut log);
    }
    assert_eq!(a.tcp_time_wait_count(), 2, "the table holds its bound");
    assert_eq!(a.stats().drops(crate::stats::Drop::TcpTimeWaitFull), 3);
    assert_eq!(
        (a.tcp_connection_count(), b.tcp_connection_count()),
        (0, 0),
        "every connection is freed"
    );
    assert_eq!(a.tcp.time_wait_expiry.len(), 2);
}

/// A connection that reached CLOSED while the application still holds its
/// handle no longer owns the 4-tuple: the client's next SYN from the same
/// port (Linux reuses TIME-WAIT ports with tcp_tw_reuse) reaches the
/// listener, instead of a reset that the client reports as "connection
/// refused".
#[test]
fn syn_reusing_the_tuple_of_a_closed_but_held_connection_reaches_the_listener() {
    let (mut b, lh) = b_with_listener(8);
    let now = Instant::from_millis(1);
    let s1 = raw_syn(&mut b, now, 1001, 100);
    raw_ack(&mut b, now, 1001, 100, s1);
    let (hb, _) = b.tcp_accept(lh).unwrap();
    let their_ack = Some(seq_u32(s1.seq).wrapping_add(1));
    b.receive(
        now,
        &FrameMeta::PLAIN,
        &tcp_from_peer(IP_B, MAC_B, 1001, 80, 101, their_ack, TcpFlags::FIN | TcpFlags::ACK),
    );
    drain(&mut b);
    // The application answers with its FIN and keeps the handle.
    b.tcp_shutdown_write(now, hb).unwrap();
    let fin = tcp_segs(&drain(&mut b))
        .into_iter()
        .find(|s| s.flags.contains(TcpFlags::FIN))
        .expect("our FIN");
    let fin_acked = Some(seq_u32(fin.seq).wrapping_add(1));
    b.receive(
        now,
        &FrameMeta::PLAIN,
        &tcp_from_peer(IP_B, MAC_B, 1001, 80, 102, fin_acked, TcpFlags::ACK),
    );
    drain(&mut b);
    assert_eq!(b.tcp_unacked(hb), Ok(0), "the handle is still valid");
    // Two seconds later the client connects again from the same port.
    let later = now + Duration::from_secs(2);
    let s2 = raw_syn(&mut b, later, 1001, 50_000);
    assert_eq!(s2.flags, TcpFlags::SYN | TcpFlags::ACK, "{s2:?}");
    raw_ack(&mut b, later, 1001, 50_000, s2);
    let (h2, p2) = b.tcp_accept(lh).expect("the new incarnation is accepted");
    assert_eq!(p2.port(), 1001);
    // The old handle closes without disturbing the new connection.
    b.tcp_close(later, hb);
    assert_eq!(b.tcp_is_connected(h2), Ok(true));
    assert_eq!(b.tcp_connection_count(), 1);
}

/// A child kept in SYN-RECEIVED for a full accept queue is bounded: when
/// its SYN-ACK retransmissions run out (MAX_SYNACK_RETRIES) it is freed,
/// without a reset.
#[test]
fn child_kept_for_a_full_accept_queue_is_freed_when_its_retries_run_out() {
    let (mut b, _lh) = b_with_listener(1);
    let mut now = Instant::from_millis(1);
    let s1 = raw_syn(&mut b, now, 1001, 100);
    raw_ack(&mut b, now, 1001, 100, s1); // the accept queue is full
    let s2 = raw_syn(&mut b, now, 1002, 200);
    raw_ack(&mut b, now, 1002, 200, s2); // dropped: the child stays
    assert_eq!(b.tcp_connection_count(), 2);
    let mut segs = Vec::new();
    for _ in 0..600 {
        now += Duration::from_secs(1);
        b.poll(now);
        segs.extend(tcp_segs(&drain(&mut b)));
    }
    assert_eq!(b.tcp_connection_count(), 1, "only the queued connection is left");
    let synacks = segs.iter().filter(|s| s.dport == 1002 && s.flags.contains(TcpFlags::SYN)).count();
    assert_eq!(synacks as u32, crate::tcp::MAX_SYNACK_RETRIES, "{segs:?}");
    assert!(
        segs.iter().all(|s| !(s.dport == 1002 && s.flags.contains(TcpFlags::RST))),
        "{segs:?}"
    );
}
