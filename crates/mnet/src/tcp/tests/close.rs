//! Every way a connection ends (RFC 9293 §3.6): active, passive and
//! simultaneous close, FIN with and without the ACK of ours, TIME-WAIT,
//! resets on close with unread data, ABORT.

use super::*;
use crate::error::Error;
use crate::tcp::{ACK_DELAY, State, TimeWaitAction, TimerOutcome};

fn fin_of(v: &[Out]) -> &Out {
    v.iter().find(|s| s.has(TcpFlags::FIN)).expect("a FIN")
}

#[test]
fn active_close_through_time_wait() {
    // RFC 9293 §3.6, Figure 12 (normal close sequence).
    let mut c = client();
    c.send(b"bye").unwrap();
    // Only the write side: the reader keeps reading (a close() would reset
    // on the data that follows, see below).
    c.shutdown_write(t(20));
    assert_eq!(c.state(), State::FinWait1);
    let v = out(&mut c, t(20));
    // The FIN rides on the last data ("Queue this until all preceding SENDs
    // have been segmentized, then form a FIN segment and send it").
    assert_eq!(v.len(), 1);
    assert!(v[0].has(TcpFlags::FIN | TcpFlags::ACK));
    assert_eq!((v[0].seq(), v[0].payload.as_slice()), (CLIENT_ISS + 1, &b"bye"[..]));
    assert_eq!(c.send(b"more"), Err(Error::NotConnected));
    assert_eq!(c.send_with(4, |_| panic!("closing: not called")), Err(Error::NotConnected));
    // "FIN-WAIT-1 STATE: ... if the FIN segment is now acknowledged, then
    // enter FIN-WAIT-2".
    assert_eq!(
        feed(&mut c, t(30), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 5), TcpFlags::ACK, &[])),
        SegmentOutcome::Ok
    );
    assert_eq!(c.state(), State::FinWait2);
    assert_eq!(c.unacked_or_unsent(), 0);
    // Data can still arrive in FIN-WAIT-2, then the peer's FIN.
    feed(&mut c, t(40), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 5), TcpFlags::ACK, b"tail"));
    let outcome = feed(&mut c, t(41), &seg(SERVER_ISS + 5, Some(CLIENT_ISS + 5), TcpFlags::FIN, &[]));
    // "FIN-WAIT-2 STATE: Enter the TIME-WAIT state."
    assert_eq!(outcome, SegmentOutcome::TimeWait);
    assert_eq!(c.state(), State::TimeWait);
    let ack = out(&mut c, t(41));
    assert_eq!(ack.len(), 1);
    assert_eq!(
        (ack[0].flags(), ack[0].seq(), ack[0].ack()),
        (TcpFlags::ACK, CLIENT_ISS + 5, Some(SERVER_ISS + 6))
    );
    // The reader gets the tail and then the end of the stream.
    let mut buf = [0u8; 16];
    assert_eq!(c.recv(&mut buf), Ok(4));
    assert_eq!(c.recv(&mut buf), Ok(0));
    // The compact record answers for the 4-tuple from now on.
    let mut tw = c.time_wait_record(t(41));
    assert_eq!(tw.snd_nxt(), TcpSeqNumber(CLIENT_ISS + 5));
    assert_eq!(tw.rcv_nxt(), TcpSeqNumber(SERVER_ISS + 6));
    // TIME-WAIT lasts 2 MSL = 60 s.
    assert_eq!(tw.expires(), t(41) + ms(60_000));
    let mut refin = seg(SERVER_ISS + 5, Some(CLIENT_ISS + 5), TcpFlags::FIN, &[]);
    refin.src_port = 80;
    assert!(matches!(tw.on_segment(t(100), &refin), TimeWaitAction::Ack(_)));
    assert_eq!(tw.expires(), t(100) + ms(60_000));
    // The connection itself would close when the timer ends.
    assert_eq!(c.poll_at(), Some(t(41) + ms(60_000)));
    assert_eq!(c.on_timer(t(41) + ms(60_000)), TimerOutcome::Closed);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.error(), None);
}

#[test]
fn passive_close() {
    // RFC 9293 §3.6: the peer's FIN moves us to CLOSE-WAIT; our CLOSE
    // sends a FIN and enters LAST-ACK; its ACK closes.
    let mut c = client();
    feed(&mut c, t(20), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::FIN, b"last"));
    assert_eq!(c.state(), State::CloseWait);
    // "send an acknowledgment for the FIN" — after the delayed-ACK time
    // at the latest, so that our answer can carry it.
    assert!(out(&mut c, t(20)).is_empty(), "the ACK of the FIN waits");
    assert_eq!(c.poll_at(), Some(t(20) + ACK_DELAY));
    let mut buf = [0u8; 8];
    assert_eq!(c.recv(&mut buf), Ok(4));
    assert_eq!(c.recv(&mut buf), Ok(0), "end of stream");
    assert!(c.can_recv());
    // Writing is still allowed in CLOSE-WAIT.
    assert_eq!(c.send(b"reply"), Ok(5));
    assert!(c.close(t(30)).is_none());
    assert_eq!(c.state(), State::LastAck);
    let v = out(&mut c, t(30));
    assert_eq!(v.len(), 1, "one segment: the reply, our FIN and the ACK of theirs");
    let fin = fin_of(&v);
    assert_eq!((fin.seq(), fin.payload.as_slice()), (CLIENT_ISS + 1, &b"reply"[..]));
    assert_eq!(fin.ack(), Some(SERVER_ISS + 6));
    // "LAST-ACK STATE: ... If our FIN is now acknowledged, delete the TCB,
    // enter the CLOSED state, and return."
    assert_eq!(
        feed(&mut c, t(40), &seg(SERVER_ISS + 6, Some(CLIENT_ISS + 6), TcpFlags::ACK, &[])),
        SegmentOutcome::Ok
    );
    assert_eq!(c.state(), State::LastAck, "the data is acknowledged, not the FIN");
    assert_eq!(
        feed(&mut c, t(41), &seg(SERVER_ISS + 6, Some(CLIENT_ISS + 7), TcpFlags::ACK, &[])),
        SegmentOutcome::Closed
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.error(), None);
}

#[test]
fn ack_of_a_fin_leaves_alone_when_the_application_is_silent() {
    // RFC 9293 §3.8.6.3: the delayed ACK "MUST be less than 0.5 seconds".
    let mut c = client();
    feed(&mut c, t(20), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::FIN, &[]));
    assert_eq!(c.state(), State::CloseWait);
    assert!(out(&mut c, t(20)).is_empty());
    let at = c.poll_at().expect("the delayed-ACK timer");
    assert!(at <= t(20) + ms(500), "{at:?}");
    c.on_timer(at);
    let ack = out(&mut c, at);
    assert_eq!(ack.len(), 1);
    assert_eq!((ack[0].flags(), ack[0].ack()), (TcpFlags::ACK, Some(SERVER_ISS + 2)));
    // A retransmitted FIN (our ACK was lost) is answered at once.
    feed(&mut c, t(900), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::FIN, &[]));
    let again = out(&mut c, t(900));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].ack(), Some(SERVER_ISS + 2));
}

#[test]
fn simultaneous_close() {
    // RFC 9293 §3.6, Figure 13: both FINs cross; FIN-WAIT-1 -> CLOSING ->
    // TIME-WAIT.
    let mut c = client();
    c.close(t(20));
    let fin = out(&mut c, t(20));
    assert_eq!(fin_of(&fin).seq(), CLIENT_ISS + 1);
    // The peer's FIN does not acknowledge ours.
    assert_eq!(
        feed(&mut c, t(21), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::FIN, &[])),
        SegmentOutcome::Ok
    );
    assert_eq!(c.state(), State::Closing);
    let ack = out(&mut c, t(21));
    assert_eq!(ack.last().unwrap().ack(), Some(SERVER_ISS + 2));
    // "CLOSING STATE: ... if the ACK acknowledges our FIN, then enter the
    // TIME-WAIT state".
    assert_eq!(
        feed(&mut c, t(30), &seg(SERVER_ISS + 2, Some(CLIENT_ISS + 2), TcpFlags::ACK, &[])),
        SegmentOutcome::TimeWait
    );
    assert_eq!(c.state(), State::TimeWait);
}

#[test]
fn fin_with_the_ack_of_ours_goes_straight_to_time_wait() {
    // "FIN-WAIT-1 STATE: If our FIN has been ACKed (perhaps in this
    // segment), then enter TIME-WAIT".
    let mut c = client();
    c.close(t(20));
    out(&mut c, t(20));
    let outcome = feed(&mut c, t(30), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 2), TcpFlags::FIN, &[]));
    assert_eq!(outcome, SegmentOutcome::TimeWait);
}

#[test]
fn our_fin_is_retransmitted() {
    let mut c = client();
    c.close(t(20));
    let first = out(&mut c, t(20));
    assert_eq!(first.len(), 1);
    let at = c.poll_at().unwrap();
    c.on_timer(at);
    let again = out(&mut c, at);
    assert_eq!(again.len(), 1);
    assert!(again[0].has(TcpFlags::FIN));
    assert_eq!(again[0].seq(), CLIENT_ISS + 1);
}

#[test]
fn out_of_order_fin_waits_for_the_data_before_it() {
    let mut c = client();
    // FIN after a hole of 3 bytes.
    feed(&mut c, t(20), &seg(SERVER_ISS + 4, Some(CLIENT_ISS + 1), TcpFlags::FIN, b"def"));
    assert_eq!(c.state(), State::Established);
    let mut buf = [0u8; 8];
    assert_eq!(c.recv(&mut buf), Err(Error::WouldBlock));
    feed(&mut c, t(21), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::ACK, b"abc"));
    assert_eq!(c.state(), State::CloseWait);
    assert_eq!(c.recv(&mut buf), Ok(6));
    assert_eq!(&buf[..6], b"abcdef");
    assert_eq!(c.recv(&mut buf), Ok(0));
    let ack = out(&mut c, t(21));
    assert_eq!(ack.last().unwrap().ack(), Some(SERVER_ISS + 8));
}

#[test]
fn close_with_unread_data_sends_a_reset() {
    // RFC 1122 §4.2.2.13 (RFC 9293 §3.10.4): "If such a host issues a CLOSE
    // call while received data is still pending in TCP, or if new data is
    // received after CLOSE is called, its TCP SHOULD send a RST to show
    // that data was lost."
    let mut c = client();
    feed(&mut c, t(20), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::ACK, b"unread"));
    let rst = c.close(t(21)).expect("a reset");
    assert!(rst.flags.contains(TcpFlags::RST));
    assert_eq!(rst.seq_number, TcpSeqNumber(CLIENT_ISS + 1));
    assert_eq!(c.state(), State::Closed);
    assert!(out(&mut c, t(21)).is_empty());
}

#[test]
fn data_after_close_sends_a_reset() {
    let mut c = client();
    assert!(c.close(t(20)).is_none());
    out(&mut c, t(20));
    feed(&mut c, t(25), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 2), TcpFlags::ACK, &[]));
    assert_eq!(c.state(), State::FinWait2);
    match feed(&mut c, t(30), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 2), TcpFlags::ACK, b"late")) {
        SegmentOutcome::SendReset(r) => assert_eq!(r.seq_number, TcpSeqNumber(CLIENT_ISS + 2)),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn shutdown_write_keeps_reading() {
    let mut c = client();
    c.shutdown_write(t(20));
    out(&mut c, t(20));
    feed(
        &mut c,
        t(25),
        &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 2), TcpFlags::ACK, b"still here"),
    );
    assert_eq!(c.state(), State::FinWait2);
    assert_eq!(c.recv_queue(), 10);
    // No FIN-WAIT-2 limit while the user may still read.
    assert_eq!(c.poll_at(), Some(t(25) + ms(40)), "only the delayed ACK");
}

#[test]
fn closed_socket_leaves_fin_wait_2_after_a_minute() {
    let mut c = client();
    c.close(t(20));
    out(&mut c, t(20));
    feed(&mut c, t(25), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 2), TcpFlags::ACK, &[]));
    assert_eq!(c.state(), State::FinWait2);
    assert_eq!(c.poll_at(), Some(t(25) + ms(60_000)));
    assert_eq!(c.on_timer(t(25) + ms(60_000)), TimerOutcome::Closed);
}

#[test]
fn abort_sends_rst_in_synchronized_states_only() {
    // RFC 9293 §3.10.5: "ESTABLISHED STATE ... Send a reset segment:
    // <SEQ=SND.NXT><CTL=RST>"; "SYN-SENT STATE: ... delete the TCB".
    let mut c = client();
    c.send(b"pending").unwrap();
    out(&mut c, t(20));
    let rst = c.abort().expect("a reset");
    assert_eq!(rst.seq_number, TcpSeqNumber(CLIENT_ISS + 8));
    assert_eq!(rst.flags, TcpFlags::RST);
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.error(), Some(Error::ConnectionAborted));
    assert_eq!(c.poll_at(), None);

    let mut s = Connection::connect(&plain(), client_addr(), server_addr(), TcpSeqNumber(CLIENT_ISS), 1460, t(0), 0);
    out(&mut s, t(0));
    assert!(s.abort().is_none());
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn closed_connection_answers_with_reset() {
    // RFC 9293 §3.10.7.1: "If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>";
    // "If the ACK bit is off, sequence number zero is used,
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>".
    let mut c = client();
    c.abort();
    match feed(&mut c, t(30), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::ACK, b"abc")) {
        SegmentOutcome::SendReset(r) => assert_eq!((r.seq_number.0, r.ack_number, r.flags), (CLIENT_ISS + 1, None, TcpFlags::RST)),
        other => panic!("{other:?}"),
    }
    let r = crate::tcp::reset_for(&seg(77, None, TcpFlags::SYN, &[])).unwrap();
    assert_eq!((r.seq_number.0, r.ack_number.map(|a| a.0)), (0, Some(78)));
    assert_eq!(r.flags, TcpFlags::RST | TcpFlags::ACK);
    assert!(crate::tcp::reset_for(&seg(77, None, TcpFlags::RST, &[])).is_none());
}

#[test]
fn peer_reset_in_closing_states_closes_quietly() {
    let mut c = client();
    feed(&mut c, t(20), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::FIN, &[]));
    c.close(t(21));
    assert_eq!(c.state(), State::LastAck);
    // "CLOSING STATE, LAST-ACK STATE, TIME-WAIT STATE: If the RST bit is
    // set, then enter the CLOSED state, delete the TCB, and return."
    assert_eq!(
        feed(&mut c, t(30), &seg(SERVER_ISS + 2, None, TcpFlags::RST, &[])),
        SegmentOutcome::Closed
    );
    assert_eq!(c.error(), None);
}
