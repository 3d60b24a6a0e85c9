//! The cork (`Connection::corks_tail`): with segmentation offload a tail
//! shorter than a full burst waits for the writer's next bytes while a
//! full burst is in flight — during the stack's round, or while the writer
//! is blocked on a full send buffer — and never with TCP_NODELAY, for a
//! write that fit, or during loss recovery.

use alloc::vec;
use alloc::vec::Vec;

use super::*;

/// A client (MSS 1000) whose device takes 4,500 bytes: bursts of 4,000.
fn offloading() -> Connection {
    let mut c = client();
    c.set_tso_max(4_500);
    c
}

fn lens(v: &[Out]) -> Vec<usize> {
    v.iter().map(Out::len).collect()
}

fn ack(c: &mut Connection, now: Instant, acked: u32) {
    let a = seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1 + acked), TcpFlags::ACK, &[]);
    assert_eq!(feed(c, now, &a), SegmentOutcome::Ok);
}

#[test]
fn a_write_that_fits_sends_its_tail_at_once() {
    let mut c = offloading();
    assert_eq!(c.send(&[1u8; 6_500]).unwrap(), 6_500);
    // Not blocked, no round: a message's end never waits (Minshall's
    // Nagle lets the first short segment go).
    assert_eq!(lens(&out(&mut c, t(20))), vec![4_000, 2_500]);
}

#[test]
fn during_the_round_the_tail_waits_and_leaves_when_the_round_ends() {
    let mut c = offloading();
    c.set_cork_round(true);
    assert_eq!(c.send(&[1u8; 6_500]).unwrap(), 6_500);
    assert_eq!(lens(&out(&mut c, t(20))), vec![4_000], "a full burst in flight: the tail waits");
    assert!(c.has_unsent());
    // The writer writes again in the same round: the tail is merged into
    // a full burst.
    assert_eq!(c.send(&[2u8; 2_000]).unwrap(), 2_000);
    let second = out(&mut c, t(20));
    assert_eq!(lens(&second), vec![4_000]);
    assert_eq!(second[0].seq(), CLIENT_ISS + 1 + 4_000);
    // The round ends: what is left leaves, nothing waits for an ACK.
    c.set_cork_round(false);
    let last = out(&mut c, t(20));
    assert_eq!(lens(&last), vec![500]);
    assert_eq!(last[0].seq(), CLIENT_ISS + 1 + 8_000);
    assert!(!c.has_unsent());
}

#[test]
fn with_nodelay_the_round_does_not_cork() {
    let mut c = offloading();
    c.set_nodelay(true);
    c.set_cork_round(true);
    assert_eq!(c.send(&[1u8; 6_500]).unwrap(), 6_500);
    assert_eq!(lens(&out(&mut c, t(20))), vec![4_000, 2_500]);
}

#[test]
fn a_blocked_writer_s_tail_waits_for_the_ack_that_makes_room() {
    let mut c = client();
    c.set_tso_max(2_500); // bursts of 2,000
    c.send.set_limit(7_000);
    // The writer has 8,000 bytes: cut short by the full buffer.
    assert_eq!(c.send(&[1u8; 8_000]).unwrap(), 7_000);
    assert_eq!(lens(&out(&mut c, t(20))), vec![2_000; 3], "the 1,000-byte tail waits");
    // An ACK makes room (the buffer held at 7,000 bytes); the writer
    // writes at once, again more than fits: the tail is merged into a full
    // burst, and the new tail waits.
    ack(&mut c, t(30), 2_000);
    c.send.set_limit(7_000);
    assert_eq!(c.send(&[2u8; 3_000]).unwrap(), 2_000);
    let next = out(&mut c, t(30));
    assert_eq!(lens(&next), vec![2_000]);
    assert_eq!(next[0].seq(), CLIENT_ISS + 1 + 6_000);
    assert!(c.has_unsent());
    // Everything acknowledged: nothing in flight, the tail leaves.
    ack(&mut c, t(40), 8_000);
    let tail = out(&mut c, t(40));
    assert_eq!(lens(&tail), vec![1_000]);
    assert_eq!(tail[0].seq(), CLIENT_ISS + 1 + 8_000);
}

#[test]
fn duplicate_acks_end_the_cork() {
    let mut c = offloading();
    c.set_cork_round(true);
    assert_eq!(c.send(&[1u8; 6_500]).unwrap(), 6_500);
    assert_eq!(lens(&out(&mut c, t(20))), vec![4_000]);
    // A duplicate ACK (a segment was lost): new data is worth its own
    // duplicate ACK (RFC 3042).
    ack(&mut c, t(30), 0);
    assert_eq!(lens(&out(&mut c, t(30))), vec![2_500]);
}
