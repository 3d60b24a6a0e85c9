//! One ACK per receive batch (`Connection::set_ack_per_batch`): what the
//! engine sends while frames arrive and when the batch ends
//! (`Stack::poll`), against a raw peer.
use alloc::vec;

use super::super::Stack;
use super::super::test_util::drain;
use super::review_tests::{IP_B, MAC_B, b_with_listener, raw_ack, raw_syn, seq_u32, tcp_data_from_peer, tcp_segs};
use crate::link::FrameMeta;
use crate::time::{Duration, Instant};
use crate::wire::TcpFlags;

const PORT: u16 = 40_000;
const PEER_ISN: u32 = 1_000;
const SEG: usize = 1_000;

/// B accepted a connection from the raw peer; returns B and B's ISN.
fn established(now: Instant) -> (Stack, u32) {
    let (b, iss, _) = accepted(now);
    (b, iss)
}

/// [`established`], and the accepted connection's handle.
fn accepted(now: Instant) -> (Stack, u32, crate::slab::Handle) {
    let (mut b, lh) = b_with_listener(8);
    let synack = raw_syn(&mut b, now, PORT, PEER_ISN);
    raw_ack(&mut b, now, PORT, PEER_ISN, synack);
    let (h, _) = b.tcp_accept(lh).unwrap();
    (b, seq_u32(synack.seq), h)
}

/// The peer's `k`-th full segment (counted from 0) of `SEG` bytes.
fn peer_data(iss: u32, k: usize) -> vec::Vec<u8> {
    let seq = PEER_ISN + 1 + (k * SEG) as u32;
    tcp_data_from_peer(
        IP_B,
        MAC_B,
        (PORT, 80),
        seq,
        Some(iss + 1),
        TcpFlags::ACK | TcpFlags::PSH,
        &vec![k as u8; SEG],
    )
}

fn data(b: &mut Stack, now: Instant, iss: u32, k: usize) {
    b.receive(now, &FrameMeta::PLAIN, &peer_data(iss, k));
}

fn acks(b: &mut Stack) -> vec::Vec<u32> {
    tcp_segs(&drain(b)).iter().map(|s| seq_u32(s.ack.expect("an ACK"))).collect()
}

#[test]
fn in_order_segments_of_one_batch_get_one_ack_at_its_end() {
    let now = Instant::ZERO + Duration::from_millis(1);
    let (mut b, iss) = established(now);
    for k in 0..8 {
        data(&mut b, now, iss, k);
    }
    // Eight full segments, four times the every-second-segment rule: no
    // ACK yet, while the batch lasts.
    assert_eq!(b.tx_pending(), 0);
    assert_eq!(b.poll_at(), Some(now), "the batch's end is due at once");
    b.poll(now);
    assert_eq!(acks(&mut b), [PEER_ISN + 1 + 8 * SEG as u32]);
    // The next batch: one segment (below 2*RMSS) waits for the delayed
    // ACK; a second one makes it owed, sent when that batch ends.
    data(&mut b, now, iss, 8);
    b.poll(now);
    assert_eq!(acks(&mut b), [0u32; 0]);
    data(&mut b, now, iss, 9);
    assert_eq!(b.tx_pending(), 0);
    assert_eq!(acks(&mut b), [PEER_ISN + 1 + 10 * SEG as u32], "transmit also ends the batch");
}

#[test]
fn out_of_order_and_gap_fill_are_acknowledged_at_once_within_a_batch() {
    let now = Instant::ZERO + Duration::from_millis(1);
    let (mut b, iss) = established(now);
    data(&mut b, now, iss, 0);
    data(&mut b, now, iss, 1);
    // Segment 2 is lost: 3, 4 and 5 each draw an immediate duplicate ACK
    // (RFC 5681 §4.2), during the batch.
    for k in 3..6 {
        data(&mut b, now, iss, k);
    }
    assert_eq!(b.tx_pending(), 3);
    let two = PEER_ISN + 1 + 2 * SEG as u32;
    assert_eq!(acks(&mut b), [two, two, two]);
    // The retransmission fills the gap: acknowledged at once, everything.
    data(&mut b, now, iss, 2);
    assert_eq!(b.tx_pending(), 1);
    b.poll(now);
    assert_eq!(acks(&mut b), [PEER_ISN + 1 + 6 * SEG as u32]);
    // A duplicate of old data: an immediate ACK too.
    data(&mut b, now, iss, 1);
    assert_eq!(b.tx_pending(), 1);
    assert_eq!(acks(&mut b), [PEER_ISN + 1 + 6 * SEG as u32]);
}

/// (ACK number, window field) of every TCP segment `b` queued.
fn acks_and_windows(b: &mut Stack) -> vec::Vec<(u32, u16)> {
    windows_of(&drain(b))
}

/// (ACK number, window field) of every TCP segment in `frames`.
fn windows_of(frames: &[vec::Vec<u8>]) -> vec::Vec<(u32, u16)> {
    use crate::wire::{Ipv4Packet, TcpPacket};
    frames
        .iter()
        .filter_map(|f| {
            let ip = Ipv4Packet::new_checked(&f[14..]).ok()?;
            let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
            Some((tcp.ack_number().0, tcp.window_len()))
        })
        .collect()
}

/// Sixty segments: 60,000 of the 65,536 bytes of B's receive buffer
/// (the raw peer does not scale windows).
const FILL: usize = 60;

fn read_all(b: &mut Stack, now: Instant, h: crate::slab::Handle) -> usize {
    let mut buf = vec![0u8; 1 << 17];
    b.tcp_recv(now, h, &mut buf).unwrap()
}

#[test]
fn without_a_held_batch_the_batch_ack_and_the_window_update_are_two_segments() {
    let now = Instant::ZERO + Duration::from_millis(1);
    let (mut b, iss, h) = accepted(now);
    for k in 0..FILL {
        data(&mut b, now, iss, k);
    }
    b.poll(now);
    let end = PEER_ISN + 1 + (FILL * SEG) as u32;
    let first = acks_and_windows(&mut b);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, end);
    assert!(first[0].1 < 8_000, "the nearly full buffer's window: {first:?}");
    assert_eq!(read_all(&mut b, now, h), FILL * SEG);
    assert_eq!(acks_and_windows(&mut b), [(end, 65_535)], "the window update follows on its own");
}

#[test]
fn a_held_batch_and_the_read_that_follows_send_one_ack_with_the_opened_window() {
    let now = Instant::ZERO + Duration::from_millis(1);
    let (mut b, iss, h) = accepted(now);
    // The executor's round: drive (receive, poll, transmit), tasks, flush.
    b.hold_receive_batch();
    for k in 0..FILL {
        data(&mut b, now, iss, k);
    }
    b.poll(now);
    assert_eq!(acks_and_windows(&mut b), [], "the batch's ACK waits for the flush");
    assert_eq!(read_all(&mut b, now, h), FILL * SEG);
    assert_eq!(b.tx_pending(), 0, "the window update joins the batch's ACK");
    assert!(b.receive_batch_held());
    b.end_receive_batch();
    assert!(!b.receive_batch_held());
    let end = PEER_ISN + 1 + (FILL * SEG) as u32;
    assert_eq!(acks_and_windows(&mut b), [(end, 65_535)], "one ACK, carrying the opened window");
    // Nothing more is owed.
    b.poll(now + Duration::from_secs(1));
    assert_eq!(acks_and_windows(&mut b), []);
}

#[test]
fn a_held_batch_without_a_read_sends_its_ack_at_the_end() {
    let now = Instant::ZERO + Duration::from_millis(1);
    let (mut b, iss) = established(now);
    b.hold_receive_batch();
    for k in 0..4 {
        data(&mut b, now, iss, k);
    }
    b.poll(now);
    assert_eq!(acks_and_windows(&mut b), []);
    b.end_receive_batch();
    assert_eq!(acks_and_windows(&mut b), [(PEER_ISN + 1 + 4 * SEG as u32, 65_535 - 4 * SEG as u16)]);
}

#[test]
fn a_held_batch_still_acknowledges_out_of_order_data_at_once() {
    let now = Instant::ZERO + Duration::from_millis(1);
    let (mut b, iss) = established(now);
    b.hold_receive_batch();
    data(&mut b, now, iss, 0);
    data(&mut b, now, iss, 1);
    data(&mut b, now, iss, 3);
    let two = PEER_ISN + 1 + 2 * SEG as u32;
    assert_eq!(acks(&mut b), [two], "the duplicate ACK (RFC 5681 §4.2) does not wait");
    b.end_receive_batch();
    assert_eq!(acks(&mut b), [0u32; 0], "the duplicate ACK covered everything in order");
}

#[test]
fn a_held_batch_ack_is_still_bounded_by_the_delayed_ack_timer() {
    let now = Instant::ZERO + Duration::from_millis(1);
    let (mut b, iss) = established(now);
    b.hold_receive_batch();
    data(&mut b, now, iss, 0);
    data(&mut b, now, iss, 1);
    let due = b.poll_at().expect("a deadline");
    assert_eq!(due, now, "an open batch owes its ACK now");
    // Nobody ends the batch: the delayed-ACK timer sends the ACK.
    let later = now + Duration::from_millis(500);
    b.poll(later);
    assert_eq!(acks(&mut b), [PEER_ISN + 1 + 2 * SEG as u32]);
}

/// A device of queues: what the Net test below feeds and collects.
struct QueueDevice {
    inbox: alloc::collections::VecDeque<vec::Vec<u8>>,
    sent: vec::Vec<vec::Vec<u8>>,
}

impl crate::link::Device for QueueDevice {
    fn capabilities(&self) -> crate::link::DeviceCapabilities {
        crate::link::DeviceCapabilities::default()
    }
    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        let n = self.inbox.len();
        for f in self.inbox.drain(..) {
            sink(&FrameMeta::PLAIN, &f);
        }
        n
    }
    fn transmit(&mut self, _: &FrameMeta, frame: &[u8]) -> Result<(), crate::link::TxError> {
        self.sent.push(frame.to_vec());
        Ok(())
    }
}

#[test]
fn the_executor_round_sends_one_ack_per_batch_and_read() {
    let now = Instant::ZERO + Duration::from_millis(1);
    let (b, iss, h) = accepted(now);
    let frames = (0..FILL).map(|k| peer_data(iss, k)).collect();
    let net = crate::socket::Net::new(b);
    let mut dev = QueueDevice {
        inbox: frames,
        sent: vec::Vec::new(),
    };
    assert!(net.poll_device_until_flush(now, &mut dev));
    assert!(dev.sent.is_empty(), "no ACK before the tasks ran");
    // The task reads.
    let mut buf = vec![0u8; 1 << 17];
    assert_eq!(net.with(|s| s.tcp_recv(now, h, &mut buf)), Ok(FILL * SEG));
    assert!(net.flush_device(&mut dev));
    let end = PEER_ISN + 1 + (FILL * SEG) as u32;
    assert_eq!(windows_of(&dev.sent), [(end, 65_535)]);
    // A round without a flush: the next drive ends the open batch first.
    dev.sent.clear();
    dev.inbox.push_back(peer_data(iss, FILL));
    dev.inbox.push_back(peer_data(iss, FILL + 1));
    net.poll_device_until_flush(now, &mut dev);
    assert!(dev.sent.is_empty());
    net.poll_device_until_flush(now, &mut dev);
    let end = end + 2 * SEG as u32;
    assert_eq!(windows_of(&dev.sent), [(end, 65_535 - 2 * SEG as u16)]);
}

/// Payload lengths of every TCP segment `b` queued.
fn payload_lens(b: &mut Stack) -> vec::Vec<usize> {
    use crate::wire::{Ipv4Packet, TcpPacket};
    drain(b)
        .iter()
        .filter_map(|f| {
            let ip = Ipv4Packet::new_checked(&f[14..]).ok()?;
            let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
            Some(tcp.payload().len())
        })
        .collect()
}

#[test]
fn a_tail_corked_in_a_held_batch_leaves_when_the_batch_ends() {
    let now = Instant::ZERO + Duration::from_millis(1);
    let (mut b, iss, h) = accepted(now);
    // Without a device that segments, a burst is one MSS (1460 here).
    b.hold_receive_batch();
    assert_eq!(b.tcp_send(now, h, &[7u8; 2_500]), Ok(2_500));
    assert_eq!(payload_lens(&mut b), [1_460], "the short tail waits for the round's end");
    b.end_receive_batch();
    assert_eq!(payload_lens(&mut b), [1_040]);
    // The peer acknowledges both.
    let a = tcp_data_from_peer(IP_B, MAC_B, (PORT, 80), PEER_ISN + 1, Some(iss + 1 + 2_500), TcpFlags::ACK, &[]);
    b.receive(now, &FrameMeta::PLAIN, &a);
    // Outside a held batch the same write leaves whole at once.
    assert_eq!(b.tcp_send(now, h, &[8u8; 2_500]), Ok(2_500));
    assert_eq!(payload_lens(&mut b), [1_460, 1_040]);
}
