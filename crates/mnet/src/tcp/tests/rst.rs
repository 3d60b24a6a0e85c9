//! RFC 5961 (blind RST, SYN and data injection), the acceptability test,
//! and PAWS (RFC 7323 §5).

use super::*;
use crate::error::Error;
use crate::tcp::State;

/// The single ACK `c` sends now, if any.
fn one_ack(c: &mut Connection, now: Instant) -> Option<Out> {
    let mut v = out(c, now);
    assert!(v.len() <= 1, "{v:?}");
    v.pop()
}

#[test]
fn rst_at_rcv_nxt_resets() {
    // RFC 5961 §3.2: "If the RST bit is set and the sequence number exactly
    // matches the next expected sequence number (RCV.NXT), then TCP MUST
    // reset the connection."
    let mut c = client();
    assert_eq!(
        feed(&mut c, t(20), &seg(SERVER_ISS + 1, None, TcpFlags::RST, &[])),
        SegmentOutcome::Closed
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.error(), Some(Error::ConnectionReset));
    assert_eq!(c.send(b"x"), Err(Error::ConnectionReset));
    let mut buf = [0u8; 1];
    assert_eq!(c.recv(&mut buf), Err(Error::ConnectionReset));
    assert!(c.can_recv() && c.can_send());
}

#[test]
fn rst_in_window_gets_a_rate_limited_challenge_ack() {
    // RFC 5961 §3.2: "If the RST bit is set and the sequence number does
    // not exactly match the next expected sequence value, yet is within
    // the current receive window, TCP MUST send an acknowledgment
    // (challenge ACK): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>"
    let mut c = client();
    let mut limit = TokenBucket::new(1, 1);
    let rst = seg(SERVER_ISS + 1 + 1000, None, TcpFlags::RST, &[]);
    assert_eq!(c.on_segment(t(20), &rst, false, &mut limit), SegmentOutcome::Ok);
    assert_eq!(c.state(), State::Established);
    let ack = one_ack(&mut c, t(20)).expect("challenge ACK");
    assert_eq!(
        (ack.flags(), ack.seq(), ack.ack()),
        (TcpFlags::ACK, CLIENT_ISS + 1, Some(SERVER_ISS + 1))
    );
    // RFC 5961 §7: "An implementation SHOULD include an ACK throttling
    // mechanism": the bucket is empty, no second challenge ACK.
    assert_eq!(c.on_segment(t(21), &rst, false, &mut limit), SegmentOutcome::Ok);
    assert!(one_ack(&mut c, t(21)).is_none());
    assert_eq!(c.info().challenge_acks, 1);
}

#[test]
fn rst_outside_the_window_is_dropped() {
    // RFC 5961 §3.2: "If the RST bit is set and the sequence number is
    // outside the current receive window, silently drop the segment."
    let mut c = client();
    for seq in [SERVER_ISS, SERVER_ISS + 1 + 70_000, SERVER_ISS.wrapping_sub(1_000_000)] {
        assert_eq!(feed(&mut c, t(20), &seg(seq, None, TcpFlags::RST, &[])), SegmentOutcome::Ok);
        assert!(one_ack(&mut c, t(20)).is_none(), "{seq}");
    }
    assert_eq!(c.state(), State::Established);
}

#[test]
fn syn_on_an_established_connection_gets_a_challenge_ack() {
    // RFC 5961 §4.2: "If the SYN bit is set, irrespective of the sequence
    // number, TCP MUST send an ACK (also referred to as challenge ACK) to
    // the remote peer: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> After sending
    // the acknowledgment, TCP MUST drop the unacceptable segment and stop
    // processing further."
    let mut c = client();
    for seq in [SERVER_ISS + 1, SERVER_ISS + 500, 12345678] {
        assert_eq!(feed(&mut c, t(20), &seg(seq, None, TcpFlags::SYN, &[])), SegmentOutcome::Ok);
        let ack = one_ack(&mut c, t(20)).expect("challenge ACK");
        assert_eq!((ack.seq(), ack.ack()), (CLIENT_ISS + 1, Some(SERVER_ISS + 1)));
    }
    // Data on a SYN is not taken either.
    feed(&mut c, t(21), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::SYN, b"evil"));
    assert_eq!(c.recv_queue(), 0);
    assert_eq!(c.state(), State::Established);
}

#[test]
fn ack_of_unsent_data_is_answered_and_dropped() {
    // RFC 9293 §3.10.7.4: "If the ACK acks something not yet sent (SEG.ACK
    // > SND.NXT), then send an ACK, drop the segment, and return."
    let mut c = client();
    let s = seg(SERVER_ISS + 1, Some(CLIENT_ISS + 500), TcpFlags::ACK, b"data");
    assert_eq!(feed(&mut c, t(20), &s), SegmentOutcome::Ok);
    assert_eq!(c.recv_queue(), 0, "the data rides on a bad ACK: dropped");
    let ack = one_ack(&mut c, t(20)).expect("ACK");
    assert_eq!(ack.ack(), Some(SERVER_ISS + 1));
    // RFC 5961 §5.2: too old an ACK (below SND.UNA - MAX.SND.WND) too.
    let s = seg(SERVER_ISS + 1, Some(CLIENT_ISS.wrapping_sub(200_000)), TcpFlags::ACK, b"data");
    assert_eq!(feed(&mut c, t(1000), &s), SegmentOutcome::Ok);
    assert_eq!(c.recv_queue(), 0);
    // An old ACK inside MAX.SND.WND is fine ("it can be ignored").
    let s = seg(SERVER_ISS + 1, Some(CLIENT_ISS - 10), TcpFlags::ACK, b"data");
    feed(&mut c, t(1001), &s);
    assert_eq!(c.recv_queue(), 4);
}

#[test]
fn unacceptable_segments_are_acked_pure_acks_rate_limited() {
    // RFC 9293 §3.10.7.4: "If an incoming segment is not acceptable, an
    // acknowledgment should be sent in reply (unless the RST bit is set, if
    // so drop the segment and return)".
    let mut c = client();
    // Beyond the window (65535 offered).
    let far = seg(SERVER_ISS + 1 + 70_000, Some(CLIENT_ISS + 1), TcpFlags::ACK, b"x");
    feed(&mut c, t(20), &far);
    assert_eq!(c.recv_queue(), 0);
    assert!(one_ack(&mut c, t(20)).is_some());
    // Data segments are always answered; pure ACKs out of window at most
    // once per 500 ms (no ACK ping-pong).
    feed(&mut c, t(21), &far);
    assert!(one_ack(&mut c, t(21)).is_some());
    let far_ack = seg(SERVER_ISS + 1 + 70_000, Some(CLIENT_ISS + 1), TcpFlags::ACK, &[]);
    feed(&mut c, t(22), &far_ack);
    assert!(one_ack(&mut c, t(22)).is_some());
    feed(&mut c, t(23), &far_ack);
    assert!(one_ack(&mut c, t(23)).is_none());
    feed(&mut c, t(600), &far_ack);
    assert!(one_ack(&mut c, t(600)).is_some());
}

#[test]
fn zero_window_still_takes_acks() {
    // RFC 9293 §3.10.7.4: "If the RCV.WND is zero, no segments will be
    // acceptable, but special allowance should be made to accept valid
    // ACKs, URGs, and RSTs."
    let cfg = TcpConfig {
        recv_window_initial: 2000,
        recv_buffer_max: 2000,
        ..plain()
    };
    let mut c = client_with(&cfg, |_| {});
    c.send(b"hello").unwrap();
    out(&mut c, t(20));
    // Fill our receive window completely.
    feed(
        &mut c,
        t(30),
        &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::ACK, &[1u8; 2000]),
    );
    c.on_timer(t(70));
    let ack = out(&mut c, t(70));
    assert_eq!(ack.last().unwrap().repr.window_len, 0);
    // Data plus an ACK of our 5 bytes in the closed window: the ACK counts.
    let s = seg(SERVER_ISS + 2001, Some(CLIENT_ISS + 6), TcpFlags::ACK, b"more");
    feed(&mut c, t(40), &s);
    assert_eq!(c.send_queue(), 0, "our data was acknowledged");
    assert_eq!(c.recv_queue(), 2000, "the text was not taken");
    // A RST at RCV.NXT in a zero window still resets.
    assert_eq!(
        feed(&mut c, t(41), &seg(SERVER_ISS + 2001, None, TcpFlags::RST, &[])),
        SegmentOutcome::Closed
    );
}

fn ts_client() -> Connection {
    let cfg = TcpConfig {
        timestamps: true,
        ..plain()
    };
    client_with(&cfg, |sa| sa.timestamp = Some((100, 1000)))
}

fn ts_seg(seq: u32, tsval: u32, payload: &[u8]) -> TcpRepr<'_> {
    let mut s = seg(seq, Some(CLIENT_ISS + 1), TcpFlags::ACK, payload);
    s.timestamp = Some((tsval, 1010));
    s
}

#[test]
fn paws_drops_old_timestamps() {
    // RFC 7323 §5.3 R1: "If there is a Timestamps option in the arriving
    // segment, SEG.TSval < TS.Recent, and if TS.Recent is valid (see later
    // discussion), then treat the arriving segment as not acceptable: Send
    // an acknowledgment in reply as specified in [RFC793], page 69, and
    // drop the segment."
    let mut c = ts_client();
    feed(&mut c, t(20), &ts_seg(SERVER_ISS + 1, 200, b"new"));
    assert_eq!(c.recv_queue(), 3);
    out(&mut c, t(20));
    // An old duplicate from a previous wrap of the sequence space: in
    // window, but its TSval is older.
    feed(&mut c, t(21), &ts_seg(SERVER_ISS + 4, 150, b"old"));
    assert_eq!(c.recv_queue(), 3, "PAWS rejected it");
    let ack = out(&mut c, t(21));
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].ack(), Some(SERVER_ISS + 4));
    // Our ACKs echo TS.Recent (RFC 7323 §4.3): 200, the last valid one.
    assert_eq!(ack[0].repr.timestamp.map(|(_, e)| e), Some(200));
    // An equal TSval is fine (not "less than").
    feed(&mut c, t(22), &ts_seg(SERVER_ISS + 4, 200, b"ok!"));
    assert_eq!(c.recv_queue(), 6);
    // A RST is exempt from PAWS (RFC 7323 §5.2 recommends RSTs be
    // "acceptable regardless of their timestamp").
    let mut rst = seg(SERVER_ISS + 7, None, TcpFlags::RST, &[]);
    rst.timestamp = Some((1, 0));
    assert_eq!(feed(&mut c, t(23), &rst), SegmentOutcome::Closed);
}

#[test]
fn timestamps_wrap_modulo_2_32() {
    let mut c = ts_client();
    // TS.Recent is 100; each step is less than 2^31 ahead of the last.
    // RFC 7323 §4.3 updates TS.Recent only from segments at or before
    // Last.ACK.sent, so the test ACKs (delayed-ACK timer) in between.
    feed(&mut c, t(20), &ts_seg(SERVER_ISS + 1, 0x7fff_0000, b"a"));
    c.on_timer(t(60));
    out(&mut c, t(60));
    feed(&mut c, t(61), &ts_seg(SERVER_ISS + 2, 0xf000_0000, b"b"));
    c.on_timer(t(101));
    out(&mut c, t(101));
    // Past the wrap: still newer.
    feed(&mut c, t(102), &ts_seg(SERVER_ISS + 3, 3, b"c"));
    assert_eq!(c.recv_queue(), 3);
    // And 2^31 - 1 behind is older.
    c.on_timer(t(142));
    out(&mut c, t(142));
    feed(&mut c, t(143), &ts_seg(SERVER_ISS + 4, 0x8000_0005, b"d"));
    assert_eq!(c.recv_queue(), 3);
}

#[test]
fn segments_without_timestamps_are_dropped_once_negotiated() {
    // RFC 7323 §3.2: "If a non-<RST> segment is received without a TSopt,
    // a TCP SHOULD silently drop the segment."
    let mut c = ts_client();
    feed(&mut c, t(20), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::ACK, b"no ts"));
    assert_eq!(c.recv_queue(), 0);
    assert!(out(&mut c, t(20)).is_empty(), "silently");
}

#[test]
fn segment_that_acks_our_fin_from_the_future_is_refused() {
    // An ACK for data never sent does not move SND.UNA (no FIN-WAIT-2
    // shortcut for a forged ACK).
    let mut c = client();
    c.close(t(20));
    assert_eq!(c.state(), State::FinWait1);
    out(&mut c, t(20));
    feed(&mut c, t(30), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 3), TcpFlags::ACK, &[]));
    assert_eq!(c.state(), State::FinWait1);
    feed(&mut c, t(31), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 2), TcpFlags::ACK, &[]));
    assert_eq!(c.state(), State::FinWait2);
}
