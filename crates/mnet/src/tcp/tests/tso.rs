//! Segmentation offload: new data leaves as super-segments of whole MSS
//! pieces, bounded by cwnd, the peer's window and the device; everything
//! else (retransmissions) stays one MSS.

use alloc::vec;
use alloc::vec::Vec;

use super::*;

/// A client (MSS 1000, initial window 10 segments) with `bytes` queued.
fn loaded(tso_max: usize, bytes: usize) -> Connection {
    let mut c = client();
    c.set_tso_max(tso_max);
    let data: Vec<u8> = (0..bytes as u64).map(pattern).collect();
    assert_eq!(c.send(&data).unwrap(), bytes, "the send buffer takes it all");
    c
}

fn lens(v: &[Out]) -> Vec<usize> {
    v.iter().map(Out::len).collect()
}

#[test]
fn new_data_goes_out_as_one_super_segment_per_window() {
    let mut c = loaded(64_000, 60_000);
    assert_eq!(c.tso_segment_size(), 1000);
    let first = out(&mut c, t(20));
    // The initial window (RFC 6928: 10 segments) in one super-segment.
    assert_eq!(lens(&first), vec![10_000]);
    assert_eq!(first[0].seq(), CLIENT_ISS + 1);
    assert_eq!(first[0].payload, (0..10_000).map(pattern).collect::<Vec<u8>>());
    // Its acknowledgment doubles cwnd (slow start): the next is twice as big.
    assert_eq!(
        feed(
            &mut c,
            t(30),
            &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1 + 10_000), TcpFlags::ACK, &[])
        ),
        SegmentOutcome::Ok
    );
    let second = out(&mut c, t(30));
    assert_eq!(lens(&second), vec![20_000]);
    assert_eq!(second[0].seq(), CLIENT_ISS + 1 + 10_000);
}

#[test]
fn the_device_limit_bounds_a_super_segment() {
    let mut c = loaded(4_500, 60_000);
    // 4 whole pieces fit in 4500 bytes; cwnd allows 10,000.
    assert_eq!(lens(&out(&mut c, t(20))), vec![4_000, 4_000, 2_000]);
}

#[test]
fn a_window_cut_super_segment_ends_on_a_whole_piece() {
    let mut c = client();
    c.set_tso_max(64_000);
    // The peer offers 5,500 bytes.
    let mut w = seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::ACK, &[]);
    w.window_len = 5_500;
    feed(&mut c, t(15), &w);
    c.send(&[7u8; 50_000]).unwrap();
    // 5 whole pieces; the 500-byte tail is a silly segment and waits.
    assert_eq!(lens(&out(&mut c, t(20))), vec![5_000]);
}

#[test]
fn without_offload_every_segment_is_one_mss() {
    let mut c = loaded(0, 30_000);
    let segs = out(&mut c, t(20));
    assert_eq!(lens(&segs), vec![1_000; 10]);
}

#[test]
fn a_retransmission_after_a_super_segment_is_one_mss() {
    let mut c = loaded(64_000, 30_000);
    assert_eq!(lens(&out(&mut c, t(20))), vec![10_000]);
    // Nothing comes back: the retransmission timer fires.
    let rto_at = t(20) + Duration::from_secs(3);
    c.on_timer(rto_at);
    let rtx = out(&mut c, rto_at);
    assert!(!rtx.is_empty());
    assert_eq!(rtx[0].seq(), CLIENT_ISS + 1, "the first unacknowledged octet");
    assert_eq!(rtx[0].len(), 1_000, "retransmissions go one MSS at a time");
}
