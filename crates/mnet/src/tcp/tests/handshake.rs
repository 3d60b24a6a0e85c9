//! Opening a connection: active, passive, simultaneous; SYN and SYN-ACK
//! retransmission; option negotiation.

use super::*;
use crate::error::Error;
use crate::tcp::{State, TimerOutcome};

#[test]
fn active_open_sends_syn_with_every_option() {
    // RFC 9293 §3.5: "the TCP peers must exchange each other's initial
    // sequence numbers ... by exchanging connection establishing segments
    // carrying the control bit called "SYN"".
    let cfg = TcpConfig::default();
    let mut c = Connection::connect(&cfg, client_addr(), server_addr(), TcpSeqNumber(CLIENT_ISS), 1460, t(0), 500);
    assert_eq!(c.state(), State::SynSent);
    let syn = out(&mut c, t(0));
    assert_eq!(syn.len(), 1);
    let s = &syn[0];
    // RFC 3168 §6.1.1: an ECN-setup SYN has ECE and CWR.
    assert_eq!(s.flags(), TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR);
    assert_eq!(s.seq(), CLIENT_ISS);
    assert_eq!(s.ack(), None);
    assert_eq!(s.repr.max_seg_size, Some(1460));
    assert_eq!(s.repr.window_scale, Some(7));
    assert!(s.repr.sack_permitted);
    // TSval = 1000 ms + offset 500; TSecr zero without ACK (RFC 7323 §3.2).
    assert_eq!(s.repr.timestamp, Some((1500, 0)));
    // RFC 7323 §2.2: "The window field in a segment where the SYN bit is
    // set ... MUST NOT be scaled."
    assert_eq!(s.repr.window_len, 65_535);
    assert!(!s.ect, "no ECT on a SYN");
    // Nothing more until the timer.
    assert!(out(&mut c, t(1)).is_empty());
    assert_eq!(c.poll_at(), Some(t(1000)));
}

#[test]
fn active_open_completes_on_syn_ack() {
    let mut c = Connection::connect(&plain(), client_addr(), server_addr(), TcpSeqNumber(CLIENT_ISS), 1460, t(0), 0);
    out(&mut c, t(0));
    let mut sa = seg(SERVER_ISS, Some(CLIENT_ISS + 1), TcpFlags::SYN, &[]);
    sa.max_seg_size = Some(1200);
    sa.window_len = 4000;
    // RFC 9293 §3.10.7.3: "If SND.UNA > ISS (our SYN has been ACKed),
    // change the connection state to ESTABLISHED, form an ACK segment
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send it."
    assert_eq!(feed(&mut c, t(30), &sa), SegmentOutcome::Ok);
    assert_eq!(c.state(), State::Established);
    let ack = out(&mut c, t(30));
    assert_eq!(ack.len(), 1);
    assert_eq!(
        (ack[0].flags(), ack[0].seq(), ack[0].ack()),
        (TcpFlags::ACK, CLIENT_ISS + 1, Some(SERVER_ISS + 1))
    );
    let info = c.info();
    assert_eq!(info.snd_mss, 1200);
    assert_eq!(info.snd_wnd, 4000);
    // The SYN was timed (Karn: sent once): SRTT 30 ms.
    assert_eq!(info.srtt, Some(ms(30)));
}

#[test]
fn passive_open_answers_with_syn_ack() {
    let cfg = TcpConfig::default();
    let mut syn = seg(7000, None, TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR, &[]);
    syn.src_port = 40000;
    syn.dst_port = 80;
    syn.max_seg_size = Some(1400);
    syn.window_scale = Some(9);
    syn.sack_permitted = true;
    syn.timestamp = Some((111, 0));
    let mut s = Connection::accept(&cfg, server_addr(), client_addr(), &syn, TcpSeqNumber(SERVER_ISS), 1460, t(0), 1000);
    assert_eq!(s.state(), State::SynReceived);
    let sa = out(&mut s, t(0));
    assert_eq!(sa.len(), 1);
    // RFC 9293 §3.10.7.2: "<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>"
    assert_eq!(sa[0].flags(), TcpFlags::SYN | TcpFlags::ACK | TcpFlags::ECE);
    assert_eq!((sa[0].seq(), sa[0].ack()), (SERVER_ISS, Some(7001)));
    assert_eq!(sa[0].repr.window_scale, Some(7));
    assert!(sa[0].repr.sack_permitted);
    assert_eq!(sa[0].repr.timestamp, Some((2000, 111)));
    assert_eq!((sa[0].repr.src_port, sa[0].repr.dst_port), (80, 40000));
    // The ACK completes it; the window is scaled from now on.
    let mut ack = seg(7001, Some(SERVER_ISS + 1), TcpFlags::ACK, b"hi");
    ack.src_port = 40000;
    ack.dst_port = 80;
    ack.window_len = 100;
    ack.timestamp = Some((112, 2000));
    assert_eq!(feed(&mut s, t(20), &ack), SegmentOutcome::Ok);
    assert_eq!(s.state(), State::Established);
    let info = s.info();
    assert_eq!(info.snd_wnd, 100 << 9);
    assert!(info.timestamps && info.sack && info.ecn);
    let mut buf = [0u8; 8];
    assert_eq!(s.recv(&mut buf), Ok(2));
    assert_eq!(&buf[..2], b"hi");
}

#[test]
fn syn_received_rejects_a_bad_ack_with_a_reset() {
    let mut syn = seg(7000, None, TcpFlags::SYN, &[]);
    syn.src_port = 40000;
    syn.dst_port = 80;
    let mut s = Connection::accept(
        &plain(),
        server_addr(),
        client_addr(),
        &syn,
        TcpSeqNumber(SERVER_ISS),
        1460,
        t(0),
        0,
    );
    out(&mut s, t(0));
    // RFC 9293 §3.10.7.4, SYN-RECEIVED: "If the segment acknowledgment is
    // not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send
    // it."
    let bad = seg(7001, Some(SERVER_ISS + 100), TcpFlags::ACK, &[]);
    match feed(&mut s, t(5), &bad) {
        SegmentOutcome::SendReset(r) => {
            assert_eq!(r.seq_number, TcpSeqNumber(SERVER_ISS + 100));
            assert!(r.flags.contains(TcpFlags::RST));
            assert_eq!((r.src_port, r.dst_port), (80, 40000));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.state(), State::SynReceived);
}

#[test]
fn simultaneous_open() {
    // RFC 9293 §3.5, Figure 7 ("Simultaneous Connection Synchronization"):
    // both SYNs cross; each side moves to SYN-RECEIVED, sends SYN,ACK, and
    // reaches ESTABLISHED on the other's SYN,ACK.
    let cfg = plain();
    let mut a = Connection::connect(&cfg, client_addr(), server_addr(), TcpSeqNumber(100), 1460, t(0), 0);
    let mut b = Connection::connect(&cfg, server_addr(), client_addr(), TcpSeqNumber(300), 1460, t(0), 0);
    let syn_a = out(&mut a, t(0)).remove(0);
    let syn_b = out(&mut b, t(0)).remove(0);
    assert_eq!(feed(&mut a, t(10), &syn_b.repr()), SegmentOutcome::Ok);
    assert_eq!(feed(&mut b, t(10), &syn_a.repr()), SegmentOutcome::Ok);
    assert_eq!((a.state(), b.state()), (State::SynReceived, State::SynReceived));
    let sa_a = out(&mut a, t(10)).remove(0);
    let sa_b = out(&mut b, t(10)).remove(0);
    // "<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>"
    assert_eq!(
        (sa_a.flags(), sa_a.seq(), sa_a.ack()),
        (TcpFlags::SYN | TcpFlags::ACK, 100, Some(301))
    );
    assert_eq!(feed(&mut a, t(20), &sa_b.repr()), SegmentOutcome::Ok);
    assert_eq!(feed(&mut b, t(20), &sa_a.repr()), SegmentOutcome::Ok);
    assert_eq!((a.state(), b.state()), (State::Established, State::Established));
    // Data flows both ways.
    a.send(b"ping").unwrap();
    let d = out(&mut a, t(20));
    assert_eq!((d[0].seq(), d[0].payload.as_slice()), (101, &b"ping"[..]));
    feed(&mut b, t(30), &d[0].repr());
    let mut buf = [0u8; 4];
    assert_eq!(b.recv(&mut buf), Ok(4));
}

#[test]
fn syn_retransmission_backs_off_then_gives_up() {
    // RFC 6298 §5.5 doubles the timer; Linux tcp_syn_retries = 6 gives
    // up 1 + 2 + 4 + 8 + 16 + 32 + 64 = 127 s after the first SYN.
    let mut c = Connection::connect(&plain(), client_addr(), server_addr(), TcpSeqNumber(CLIENT_ISS), 1460, t(0), 0);
    assert_eq!(out(&mut c, t(0)).len(), 1);
    let mut at = 0u64;
    for i in 0..6 {
        at += 1000 << i;
        assert_eq!(c.poll_at(), Some(t(at)), "retry {i}");
        assert_eq!(c.on_timer(t(at)), TimerOutcome::Ok);
        let syn = out(&mut c, t(at));
        assert_eq!(syn.len(), 1);
        assert_eq!((syn[0].flags(), syn[0].seq()), (TcpFlags::SYN, CLIENT_ISS));
    }
    at += 64_000;
    assert_eq!(c.poll_at(), Some(t(at)));
    assert_eq!(c.on_timer(t(at)), TimerOutcome::Closed);
    assert_eq!(c.error(), Some(Error::TimedOut));
    assert_eq!(at, 127_000);
}

#[test]
fn lost_syn_means_three_second_rto_and_one_segment_window() {
    let mut c = Connection::connect(&plain(), client_addr(), server_addr(), TcpSeqNumber(CLIENT_ISS), 1460, t(0), 0);
    out(&mut c, t(0));
    c.on_timer(t(1000));
    out(&mut c, t(1000));
    let sa = seg(SERVER_ISS, Some(CLIENT_ISS + 1), TcpFlags::SYN, &[]);
    feed(&mut c, t(1050), &sa);
    let info = c.info();
    // RFC 6298 §5.7: "the RTO MUST be re-initialized to 3 seconds when
    // data transmission begins" (no timestamps: Karn forbids a sample).
    assert_eq!(info.rto, ms(3000));
    assert_eq!(info.srtt, None);
    // RFC 5681 §3.1: "if the SYN or SYN/ACK is lost, the initial window
    // used by a sender after a correctly transmitted SYN MUST be one
    // segment".
    assert_eq!(info.cwnd, 536);
}

#[test]
fn syn_ack_is_resent_on_duplicate_syn_and_timer() {
    let mut syn = seg(7000, None, TcpFlags::SYN, &[]);
    syn.src_port = 40000;
    syn.dst_port = 80;
    let mut s = Connection::accept(
        &plain(),
        server_addr(),
        client_addr(),
        &syn,
        TcpSeqNumber(SERVER_ISS),
        1460,
        t(0),
        0,
    );
    assert_eq!(out(&mut s, t(0)).len(), 1);
    // The client did not get it and sends its SYN again.
    assert_eq!(feed(&mut s, t(300), &syn), SegmentOutcome::Ok);
    let again = out(&mut s, t(300));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].flags(), TcpFlags::SYN | TcpFlags::ACK);
    // The timer retransmits too, then gives up (tcp_synack_retries = 5).
    let mut n = 0;
    let mut now = t(300);
    while let Some(at) = s.poll_at() {
        now = at;
        if s.on_timer(now) == TimerOutcome::Closed {
            break;
        }
        n += out(&mut s, now).len();
    }
    assert_eq!(n, 5);
    assert_eq!(s.state(), State::Closed);
    assert!(now > t(30_000));
}

#[test]
fn syn_sent_ack_checks_and_resets() {
    // RFC 9293 §3.10.7.3: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a
    // reset (unless the RST bit is set, if so drop the segment and return)
    // <SEQ=SEG.ACK><CTL=RST>".
    let mut c = Connection::connect(&plain(), client_addr(), server_addr(), TcpSeqNumber(CLIENT_ISS), 1460, t(0), 0);
    out(&mut c, t(0));
    match feed(&mut c, t(5), &seg(SERVER_ISS, Some(CLIENT_ISS + 7), TcpFlags::SYN, &[])) {
        SegmentOutcome::SendReset(r) => assert_eq!((r.seq_number.0, r.ack_number), (CLIENT_ISS + 7, None)),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.state(), State::SynSent);
    // A RST with an unacceptable ACK: dropped.
    assert_eq!(
        feed(&mut c, t(6), &seg(0, Some(CLIENT_ISS), TcpFlags::RST, &[])),
        SegmentOutcome::Ok
    );
    // A RST without ACK: "drop the segment and return".
    assert_eq!(feed(&mut c, t(7), &seg(0, None, TcpFlags::RST, &[])), SegmentOutcome::Ok);
    assert_eq!(c.state(), State::SynSent);
    // A RST whose ACK acknowledges the SYN: "connection reset" (refused).
    assert_eq!(
        feed(&mut c, t(8), &seg(0, Some(CLIENT_ISS + 1), TcpFlags::RST, &[])),
        SegmentOutcome::Closed
    );
    assert_eq!(c.error(), Some(Error::ConnectionRefused));
    // A plain ACK without SYN in SYN-SENT: "drop the segment and return".
    let mut c = Connection::connect(&plain(), client_addr(), server_addr(), TcpSeqNumber(CLIENT_ISS), 1460, t(0), 0);
    out(&mut c, t(0));
    assert_eq!(
        feed(&mut c, t(5), &seg(SERVER_ISS, Some(CLIENT_ISS + 1), TcpFlags::ACK, &[])),
        SegmentOutcome::Ok
    );
    assert_eq!(c.state(), State::SynSent);
}

#[test]
fn options_off_when_the_peer_does_not_offer_them() {
    // RFC 7323 §2.2: "both sides MUST send Window Scale options in their
    // <SYN> segments to enable window scaling in either direction."
    let cfg = TcpConfig::default();
    let c = client_with(&cfg, |sa| {
        sa.max_seg_size = None;
        sa.window_len = 3000;
    });
    let info = c.info();
    assert_eq!((info.snd_wscale, info.rcv_wscale), (0, 0));
    assert!(!info.timestamps && !info.sack && !info.ecn);
    // RFC 9293 §3.7.1: without an MSS option, 536.
    assert_eq!(info.snd_mss, 536);
    assert_eq!(info.snd_wnd, 3000);
    // With the options: scaled windows, timestamps and SACK on, ECN only
    // with ECE set and CWR clear on the SYN-ACK.
    let c = client_with(&cfg, |sa| {
        sa.window_scale = Some(3);
        sa.timestamp = Some((9, 1000));
        sa.sack_permitted = true;
        sa.flags |= TcpFlags::ECE;
    });
    let info = c.info();
    assert_eq!((info.snd_wscale, info.rcv_wscale), (3, 7));
    assert!(info.timestamps && info.sack && info.ecn);
    // Options take 12 bytes of every segment with timestamps.
    assert_eq!(info.snd_mss, 1000 - 12);
}

#[test]
fn icmp_errors_hard_in_syn_sent_soft_later() {
    // RFC 1122 §4.2.3.9: soft errors do not abort a synchronized
    // connection; in SYN-SENT the error ends connect() at once.
    let mut c = Connection::connect(&plain(), client_addr(), server_addr(), TcpSeqNumber(CLIENT_ISS), 1460, t(0), 0);
    out(&mut c, t(0));
    c.on_icmp_error(Error::HostUnreachable, t(5));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.error(), Some(Error::HostUnreachable));

    let mut c = client();
    c.on_icmp_error(Error::NetworkUnreachable, t(20));
    assert_eq!(c.state(), State::Established);
    assert_eq!(c.error(), None);
    // When the connection later times out, the soft error is the reason.
    c.send(b"x").unwrap();
    out(&mut c, t(20));
    loop {
        let now = c.poll_at().unwrap();
        if c.on_timer(now) == TimerOutcome::Closed {
            break;
        }
        out(&mut c, now);
    }
    assert_eq!(c.error(), Some(Error::NetworkUnreachable));
}

#[test]
fn syn_cookie_handshake_restores_the_options() {
    // RFC 4987 §3.6: the listener keeps no state; the ACK brings back the
    // MSS in the cookie and (with timestamps) the other options in TSecr.
    use crate::tcp::syn_cookie::{check_cookie, make_cookie, syn_ack};
    let cfg = TcpConfig::default();
    let secret = [9u8; 16];
    let ts_offset = 4242; // the same offset for the SYN-ACK and the connection
    let mut client = Connection::connect(&cfg, client_addr(), server_addr(), TcpSeqNumber(CLIENT_ISS), 1460, t(0), 7);
    let syn = out(&mut client, t(0)).remove(0);
    let cookie = make_cookie(&secret, &server_addr(), &client_addr(), syn.repr.seq_number, 1460, t(5));
    let sa = syn_ack(&cfg, &syn.repr(), cookie, 1460, t(5), ts_offset);
    assert_eq!(feed(&mut client, t(10), &sa), SegmentOutcome::Ok);
    assert!(client.is_established());
    client.send(b"request").unwrap();
    let v = out(&mut client, t(10));
    // The first data segment completes the handshake for the server.
    let ack = &v[0];
    let peer_mss = check_cookie(&secret, &server_addr(), &client_addr(), &ack.repr(), t(15)).expect("valid cookie");
    assert_eq!(peer_mss, 1460);
    let iss = ack.repr.ack_number.unwrap() - 1;
    let mut server = Connection::from_cookie(
        &cfg,
        server_addr(),
        client_addr(),
        &ack.repr(),
        iss,
        peer_mss,
        1460,
        t(15),
        ts_offset,
    );
    assert_eq!(server.state(), State::Established);
    let info = server.info();
    assert!(info.timestamps && info.sack && info.ecn, "{info:?}");
    assert_eq!((info.snd_wscale, info.rcv_wscale), (7, 7));
    let mut buf = [0u8; 16];
    assert_eq!(server.recv(&mut buf), Ok(7));
    assert_eq!(&buf[..7], b"request");
    // The reply reaches the client, which accepts its timestamps (PAWS):
    // the server's TSvals continue those of the SYN-ACK.
    server.send(b"response").unwrap();
    for s in out(&mut server, t(20)) {
        feed(&mut client, t(30), &s.repr());
    }
    assert_eq!(client.recv(&mut buf), Ok(8));
    assert_eq!(&buf[..8], b"response");
}
