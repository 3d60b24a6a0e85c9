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
    let (mut b, lh) = b_with_listener(8);
    let synack = raw_syn(&mut b, now, PORT, PEER_ISN);
    raw_ack(&mut b, now, PORT, PEER_ISN, synack);
    b.tcp_accept(lh).unwrap();
    (b, seq_u32(synack.seq))
}

/// The peer's `k`-th full segment (counted from 0) of `SEG` bytes.
fn data(b: &mut Stack, now: Instant, iss: u32, k: usize) {
    let seq = PEER_ISN + 1 + (k * SEG) as u32;
    let f = tcp_data_from_peer(
        IP_B,
        MAC_B,
        (PORT, 80),
        seq,
        Some(iss + 1),
        TcpFlags::ACK | TcpFlags::PSH,
        &vec![k as u8; SEG],
    );
    b.receive(now, &FrameMeta::PLAIN, &f);
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
