//! Loss: the retransmission timer (RFC 6298), fast retransmit and NewReno
//! recovery (RFC 5681, RFC 6582), SACK recovery (RFC 6675), ECN (RFC
//! 3168).

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::error::Error;
use crate::tcp::{State, TimerOutcome};

fn ack(n: u32) -> TcpRepr<'static> {
    seg(SERVER_ISS + 1, Some(n), TcpFlags::ACK, &[])
}

fn sack(n: u32, blocks: &[(u32, u32)]) -> TcpRepr<'static> {
    let mut s = ack(n);
    for (slot, b) in s.sack_ranges.iter_mut().zip(blocks) {
        *slot = Some(*b);
    }
    s
}

/// The starting sequence numbers of the data segments in `v`.
fn seqs(v: &[Out]) -> Vec<u32> {
    v.iter().filter(|s| s.len() > 0).map(|s| s.seq()).collect()
}

#[test]
fn retransmission_timer_backs_off_and_gives_up() {
    // RFC 6298 §5.4: "Retransmit the earliest segment that has not been
    // acknowledged by the TCP receiver." §5.5: "The host MUST set RTO <-
    // RTO * 2 ("back off the timer")". RFC 1122 §4.2.3.5 R2, here 15
    // retransmissions (Linux tcp_retries2).
    let mut c = client();
    c.send(&[1u8; 3000]).unwrap();
    assert_eq!(seqs(&out(&mut c, t(20))), [1001, 2001, 3001]);
    let mut expected = t(20) + ms(200);
    let mut rto = 200;
    for i in 0..15 {
        assert_eq!(c.poll_at(), Some(expected), "retry {i}");
        assert_eq!(c.on_timer(expected), TimerOutcome::Ok);
        let v = out(&mut c, expected);
        // After a timeout cwnd is one segment: only the first goes.
        assert_eq!(seqs(&v), [1001], "retry {i}");
        assert_eq!(v[0].len(), 1000);
        rto = (rto * 2).min(120_000);
        expected += ms(rto);
    }
    assert_eq!(c.on_timer(expected), TimerOutcome::Closed);
    assert_eq!(c.error(), Some(Error::TimedOut));
    assert_eq!(c.info().timeouts, 15);
}

#[test]
fn timeout_recovery_resends_in_slow_start_and_resets_backoff() {
    let mut c = client();
    c.send(&[1u8; 5000]).unwrap();
    out(&mut c, t(20));
    c.on_timer(t(220));
    assert_eq!(seqs(&out(&mut c, t(220))), [1001]);
    // The first segment's ACK: cwnd grows to 2 segments (slow start).
    feed(&mut c, t(240), &ack(2001));
    assert_eq!(seqs(&out(&mut c, t(240))), [2001, 3001]);
    feed(&mut c, t(260), &ack(4001));
    assert_eq!(seqs(&out(&mut c, t(260))), [4001, 5001]);
    feed(&mut c, t(280), &ack(6001));
    assert_eq!(c.info().bytes_in_flight, 0);
    assert_eq!(c.poll_at(), None);
    // Karn's algorithm: no sample from retransmitted data, so the backed
    // off RTO stays (RFC 6298 §5.7 keeps it until a valid measurement).
    assert_eq!(c.info().rto, ms(400));
    c.send(&[2u8; 100]).unwrap();
    out(&mut c, t(300));
    feed(&mut c, t(310), &ack(6101));
    assert_eq!(c.info().rto, ms(200), "a fresh sample clears the backoff");
}

#[test]
fn fast_retransmit_after_three_duplicate_acks() {
    // RFC 5681 §3.2: "The fast retransmit algorithm uses the arrival of 3
    // duplicate ACKs ... as an indication that a segment has been lost."
    let mut c = client(); // no SACK
    c.send(&[1u8; 8000]).unwrap();
    assert_eq!(out(&mut c, t(20)).len(), 8);
    let cwnd = c.info().cwnd;
    feed(&mut c, t(40), &ack(2001));
    out(&mut c, t(40));
    feed(&mut c, t(41), &ack(2001));
    feed(&mut c, t(41), &ack(2001));
    assert!(
        seqs(&out(&mut c, t(41))).iter().all(|&s| s > 9001),
        "limited transmit only sends new data"
    );
    feed(&mut c, t(42), &ack(2001));
    let v = out(&mut c, t(42));
    // "2. When the third duplicate ACK is received, a TCP MUST set ssthresh
    // to no more than the value given in equation (4)" ... "3. The lost
    // segment starting at SND.UNA MUST be retransmitted".
    assert_eq!(seqs(&v).first(), Some(&2001));
    assert_eq!(v[0].len(), 1000);
    let info = c.info();
    assert_eq!(info.fast_retransmits, 1);
    assert!(info.ssthresh < cwnd + 1000, "{info:?}");
    assert_eq!(info.retransmits, 1);
}

#[test]
fn newreno_partial_ack_retransmits_the_next_hole() {
    // RFC 6582 §3.2 step 5: on a partial ACK "Retransmit the first
    // unacknowledged segment."
    let cfg = TcpConfig {
        congestion: crate::tcp::CongestionKind::NewReno,
        ..plain()
    };
    let mut c = client_with(&cfg, |_| {});
    c.send(&[1u8; 8000]).unwrap();
    out(&mut c, t(20));
    // Segments 1001 and 4001 are lost.
    for _ in 0..3 {
        feed(&mut c, t(40), &ack(1001));
    }
    assert_eq!(seqs(&out(&mut c, t(40))).first(), Some(&1001));
    // The retransmission fills the first hole: partial ACK up to 4001.
    feed(&mut c, t(60), &ack(4001));
    let v = out(&mut c, t(60));
    assert_eq!(seqs(&v).first(), Some(&4001));
    // The full ACK ends recovery: cwnd = ssthresh (RFC 6582 option 2).
    feed(&mut c, t(80), &ack(9001));
    out(&mut c, t(80));
    let info = c.info();
    assert_eq!(info.cwnd, info.ssthresh);
    assert_eq!(info.fast_retransmits, 1, "one recovery episode for both losses");
}

fn sack_client(cwnd_segments: u32) -> Connection {
    let cfg = TcpConfig {
        sack: true,
        initial_window_segments: cwnd_segments,
        ..plain()
    };
    client_with(&cfg, |sa| sa.sack_permitted = true)
}

#[test]
fn sack_recovery_retransmits_exactly_the_holes() {
    // RFC 6675 §4 NextSeg() rule (1): the smallest unSACKed sequence number
    // greater than HighRxt that IsLost() is retransmitted; SACKed data
    // never is.
    let mut c = sack_client(10);
    c.send(&[1u8; 10_000]).unwrap();
    assert_eq!(out(&mut c, t(20)).len(), 10);
    // Lost: 2001..3001 and 5001..6001. Everything else SACKed.
    let b = |a: u32, z: u32| (a, z);
    feed(&mut c, t(40), &sack(1001, &[b(1001, 1001)])); // a plain dup
    feed(&mut c, t(40), &ack(2001));
    feed(&mut c, t(41), &sack(2001, &[b(3001, 4001)]));
    feed(&mut c, t(42), &sack(2001, &[b(3001, 5001)]));
    let v = out(&mut c, t(42));
    assert!(
        seqs(&v).is_empty() || seqs(&v).iter().all(|&s| s >= 11_001),
        "not yet lost: {:?}",
        seqs(&v)
    );
    feed(&mut c, t(43), &sack(2001, &[b(6001, 7001), b(3001, 5001)]));
    let v = out(&mut c, t(43));
    // Three segments SACKed above 2001 (RFC 6675 IsLost): recovery starts
    // and 2001 is resent (rule 1). CUBIC leaves cwnd at 7000 with 5000 in
    // the pipe, so rule (3) also resends the other hole, 5001 (below the
    // highest SACK, not yet "lost"). No new data exists (rule 2).
    assert_eq!(seqs(&v), [2001, 5001]);
    let info = c.info();
    assert_eq!(info.retransmits, 2);
    assert_eq!(info.fast_retransmits, 1);
    // More SACKs: nothing is sent twice, nothing SACKed is sent at all.
    feed(&mut c, t(44), &sack(2001, &[b(6001, 11_001), b(3001, 5001)]));
    assert!(seqs(&out(&mut c, t(44))).is_empty());
    // The retransmissions arrive: recovery ends with a cumulative ACK.
    feed(&mut c, t(60), &sack(5001, &[b(6001, 11_001)]));
    feed(&mut c, t(61), &ack(11_001));
    assert_eq!(c.info().bytes_in_flight, 0);
    assert_eq!(c.info().retransmits, 2, "nothing SACKed was resent");
}

#[test]
fn dsack_is_counted() {
    // RFC 2883 §4: a first block below the cumulative ACK reports a
    // duplicate.
    let mut c = sack_client(10);
    c.send(&[1u8; 3000]).unwrap();
    out(&mut c, t(20));
    feed(&mut c, t(40), &ack(3001));
    feed(&mut c, t(41), &sack(3001, &[(1001, 2001)]));
    assert_eq!(c.info().dsacks_received, 1);
}

#[test]
fn rtt_from_timestamps_and_karn_without() {
    // RFC 7323 §4.1 measures from TSecr; RFC 6298 §3 (Karn): "RTT samples
    // MUST NOT be made using segments that were retransmitted".
    let cfg = TcpConfig {
        timestamps: true,
        ..plain()
    };
    let mut c = client_with(&cfg, |sa| sa.timestamp = Some((50, 1000)));
    c.send(&[1u8; 1000]).unwrap();
    let v = out(&mut c, t(100));
    let tsval = v[0].repr.timestamp.unwrap().0;
    let mut a = ack(2001);
    a.timestamp = Some((60, tsval));
    feed(&mut c, t(145), &a);
    // The handshake measured 10 ms; this sample is 45 ms: SRTT = 7/8 * 10
    // + 1/8 * 45.
    assert_eq!(c.info().srtt, Some(Duration::from_micros(14_375)));
    // Without timestamps a retransmitted segment is not timed.
    let mut c = client();
    c.send(&[1u8; 1000]).unwrap();
    out(&mut c, t(20));
    c.on_timer(t(220));
    out(&mut c, t(220));
    feed(&mut c, t(900), &ack(2001));
    assert_eq!(c.info().srtt, Some(ms(10)), "no sample from the retransmission");
}

fn ecn_client() -> Connection {
    let cfg = TcpConfig { ecn: true, ..plain() };
    client_with(&cfg, |sa| sa.flags |= TcpFlags::ECE)
}

#[test]
fn ecn_negotiation_and_ect_marking() {
    // RFC 3168 §6.1.1: a SYN-ACK with ECE set and CWR clear accepts ECN.
    let mut c = ecn_client();
    assert!(c.info().ecn);
    c.send(b"data").unwrap();
    let v = out(&mut c, t(20));
    assert!(v[0].ect, "data carries ECT(0)");
    // A SYN-ACK with both ECE and CWR is not an ECN-setup SYN-ACK.
    let cfg = TcpConfig { ecn: true, ..plain() };
    let c2 = client_with(&cfg, |sa| sa.flags |= TcpFlags::ECE | TcpFlags::CWR);
    assert!(!c2.info().ecn);
    // RFC 3168 §6.1.4: pure ACKs are not ECT; §6.1.5: retransmissions are
    // not ECT.
    feed(&mut c, t(30), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::ACK, b"x"));
    c.on_timer(t(70));
    let v = out(&mut c, t(70));
    assert!(v.iter().all(|s| !s.ect));
    let at = c.poll_at().unwrap();
    c.on_timer(at);
    let v = out(&mut c, at);
    assert_eq!(seqs(&v), [CLIENT_ISS + 1]);
    assert!(!v[0].ect);
}

#[test]
fn ecn_ce_is_echoed_until_cwr() {
    // RFC 3168 §6.1.3: after a CE packet "the TCP receiver sets the
    // ECN-Echo flag in the TCP header of the subsequent ACK packet" and
    // keeps doing so until a CWR arrives.
    let mut c = ecn_client();
    let d = seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::ACK, b"marked");
    c.on_segment(t(20), &d, true, &mut bucket());
    let v = out(&mut c, t(20));
    assert_eq!(v.len(), 1, "the first CE is acknowledged at once");
    assert!(v[0].has(TcpFlags::ECE));
    let d = seg(SERVER_ISS + 7, Some(CLIENT_ISS + 1), TcpFlags::ACK, b"clean");
    c.on_segment(t(30), &d, false, &mut bucket());
    c.on_timer(t(70));
    assert!(out(&mut c, t(70))[0].has(TcpFlags::ECE), "still echoing");
    let d = seg(SERVER_ISS + 12, Some(CLIENT_ISS + 1), TcpFlags::ACK | TcpFlags::CWR, b"cwr");
    c.on_segment(t(80), &d, false, &mut bucket());
    c.on_timer(t(120));
    assert!(!out(&mut c, t(120))[0].has(TcpFlags::ECE), "CWR stops the echo");
}

#[test]
fn ecn_echo_halves_the_window_once_per_window_and_sends_cwr() {
    // RFC 3168 §6.1.2: ECE "should be treated just as a congestion loss"
    // and "the TCP source should not react to congestion indications more
    // than once every window of data"; CWR goes on "the first new data
    // packet sent after the window reduction".
    let mut c = ecn_client();
    c.send(&[1u8; 6000]).unwrap();
    out(&mut c, t(20));
    let before = c.info().cwnd;
    let mut e = ack(2001);
    e.flags |= TcpFlags::ECE;
    feed(&mut c, t(40), &e);
    let after = c.info().cwnd;
    assert!(after < before, "{before} -> {after}");
    assert_eq!(c.info().ecn_reductions, 1);
    // More echoes in the same window: no further reduction.
    let mut e2 = ack(3001);
    e2.flags |= TcpFlags::ECE;
    feed(&mut c, t(41), &e2);
    assert_eq!(c.info().ecn_reductions, 1);
    c.send(&[2u8; 1000]).unwrap();
    feed(&mut c, t(50), &ack(7001));
    let v = out(&mut c, t(50));
    let data: Vec<_> = v.iter().filter(|s| s.len() > 0).collect();
    assert!(data[0].has(TcpFlags::CWR));
    assert!(data.iter().skip(1).all(|s| !s.has(TcpFlags::CWR)));
    assert_eq!(c.state(), State::Established);
}

#[test]
fn path_mtu_shrink_resends_smaller_without_touching_cwnd() {
    let mut c = client();
    c.send(&[1u8; 3000]).unwrap();
    out(&mut c, t(20));
    let cwnd = c.info().cwnd;
    c.set_mss(600);
    let v = out(&mut c, t(25));
    assert_eq!(v.iter().map(Out::len).collect::<Vec<_>>(), [600, 600, 600, 600, 600]);
    assert_eq!(seqs(&v)[0], CLIENT_ISS + 1);
    assert_eq!(c.info().cwnd, cwnd);
    assert_eq!(c.info().snd_mss, 600);
}

fn ts_sack_client() -> Connection {
    let cfg = TcpConfig {
        sack: true,
        timestamps: true,
        ..plain()
    };
    client_with(&cfg, |sa| {
        sa.sack_permitted = true;
        sa.timestamp = Some((100, 1000));
    })
}

fn ts_ack(n: u32, blocks: &[(u32, u32)], tsecr: u32) -> TcpRepr<'static> {
    let mut s = sack(n, blocks);
    s.timestamp = Some((200, tsecr));
    s
}

/// Sends five segments at t(20) (TSval 1020), makes the first look lost
/// by SACKs at t(40), and returns the connection after the fast
/// retransmission (TSval 1040) with the congestion window it had before.
fn reordered_first_segment() -> (Connection, usize, u32) {
    let mut c = ts_sack_client();
    let mss = c.info().snd_mss as u32;
    c.send(&vec![1u8; 5 * mss as usize]).unwrap();
    assert_eq!(out(&mut c, t(20)).len(), 5);
    let before = c.info().cwnd;
    let s = CLIENT_ISS + 1;
    for k in 2..=4 {
        feed(&mut c, t(40), &ts_ack(s, &[(s + mss, s + k * mss)], 1020));
    }
    let v = out(&mut c, t(40));
    assert_eq!(seqs(&v), [s]);
    assert_eq!(v[0].repr.timestamp.map(|t| t.0), Some(1040));
    assert!(c.info().cwnd < before);
    (c, before, s + 5 * mss)
}

#[test]
fn spurious_fast_retransmit_is_undone() {
    // RFC 3522 §3.2: "If the value of the Timestamp Echo Reply field of the
    // acceptable ACK's Timestamps option is smaller than the value of
    // RetransmitTS ... the retransmission was spurious"; RFC 4015 restores
    // the window.
    let (mut c, before, end) = reordered_first_segment();
    // The original first segment arrives after all: the full ACK echoes its
    // TSval (1020), older than the retransmission's (1040).
    feed(&mut c, t(60), &ts_ack(end, &[], 1020));
    let info = c.info();
    assert_eq!(info.spurious_undone, 1);
    assert_eq!(info.cwnd, before);
}

#[test]
fn real_loss_is_not_undone() {
    let (mut c, before, end) = reordered_first_segment();
    // The retransmission filled the hole: the ACK echoes its TSval.
    feed(&mut c, t(60), &ts_ack(end, &[], 1040));
    let info = c.info();
    assert_eq!(info.spurious_undone, 0);
    assert!(info.cwnd < before);
}

#[test]
fn tail_loss_probe_resends_the_last_segment_before_the_rto() {
    // RFC 8985 §7.2: "PTO = 2 * SRTT"; §7.3: with nothing new to send,
    // "retransmit the highest-sequence segment sent so far".
    let mut c = sack_client(10); // SRTT 10 ms from the handshake
    c.send(&[1u8; 3000]).unwrap();
    assert_eq!(out(&mut c, t(20)).len(), 3);
    assert_eq!(c.poll_at(), Some(t(40)), "the probe timer, not the 200 ms RTO");
    c.on_timer(t(40));
    let v = out(&mut c, t(40));
    assert_eq!(seqs(&v), [3001]);
    assert_eq!(c.info().tail_loss_probes, 1);
    // The RTO follows the probe.
    assert_eq!(c.poll_at(), Some(t(240)));
    // The probe's ACK SACKs it: the earlier segments are lost once the
    // reordering window (min RTT / 4) passes — RACK, not the RTO.
    feed(&mut c, t(50), &sack(1001, &[(3001, 4001)]));
    let at = c.poll_at().unwrap();
    assert!(at <= t(53), "{at:?}");
    c.on_timer(at);
    assert_eq!(seqs(&out(&mut c, at)), [1001, 2001]);
    assert_eq!(c.info().timeouts, 0);
}

#[test]
fn rack_marks_a_hole_lost_with_a_single_sack_after_the_reordering_window() {
    let mut c = sack_client(10);
    c.send(&[1u8; 2000]).unwrap();
    out(&mut c, t(20));
    // Only one segment after the hole: RFC 6675 IsLost() cannot fire.
    feed(&mut c, t(30), &sack(1001, &[(2001, 3001)]));
    assert!(seqs(&out(&mut c, t(30))).is_empty());
    let at = c.poll_at().unwrap();
    assert_eq!(at, t(30) + Duration::from_micros(2500));
    c.on_timer(at);
    assert_eq!(seqs(&out(&mut c, at)), [1001]);
    assert_eq!(c.info().fast_retransmits, 1);
}

#[test]
fn a_lost_retransmission_is_sent_again_without_a_timeout() {
    // RFC 8985 §6.2 applied to retransmissions: data sent after the
    // retransmission was delivered, the retransmission was not.
    let mut c = sack_client(20);
    c.send(&[1u8; 6000]).unwrap();
    assert_eq!(out(&mut c, t(20)).len(), 6);
    let s = CLIENT_ISS + 1;
    for k in 2..=4 {
        feed(&mut c, t(30), &sack(s, &[(s + 1000, s + k * 1000)]));
    }
    assert_eq!(seqs(&out(&mut c, t(30))).first(), Some(&s));
    // New data goes out after the retransmission.
    c.send(&[2u8; 1000]).unwrap();
    feed(&mut c, t(31), &sack(s, &[(s + 1000, s + 6000)]));
    let v = out(&mut c, t(31));
    assert!(seqs(&v).contains(&(s + 6000)), "{:?}", seqs(&v));
    // That new data is SACKed; the retransmission of `s` is not.
    feed(&mut c, t(45), &sack(s, &[(s + 1000, s + 7000)]));
    let mut again = seqs(&out(&mut c, t(45)));
    if again.is_empty() {
        let at = c.poll_at().unwrap();
        c.on_timer(at);
        again = seqs(&out(&mut c, at));
    }
    assert_eq!(again, [s]);
    assert_eq!(c.info().timeouts, 0);
}

#[test]
fn a_loss_right_after_a_recovery_point_is_fast_retransmitted() {
    // RFC 6675 §5.1: "a new recovery phase ... MUST NOT be initiated until
    // HighACK is greater than or equal to the new value of
    // RecoveryPoint" — equal is enough. A cumulative ACK landing exactly on
    // RecoveryPoint ends the episode, and the very next segment's loss
    // starts a new one.
    let mut c = sack_client(10);
    c.send(&[1u8; 10_000]).unwrap();
    assert_eq!(out(&mut c, t(20)).len(), 10);
    feed(&mut c, t(30), &sack(1001, &[(2001, 5001)]));
    assert_eq!(seqs(&out(&mut c, t(30))), [1001]);
    // Full ACK of RecoveryPoint (11001): recovery ends there.
    feed(&mut c, t(40), &ack(11_001));
    c.send(&[2u8; 10_000]).unwrap();
    let v = seqs(&out(&mut c, t(40)));
    assert!(v.len() >= 4, "{v:?}");
    assert_eq!(v[0], 11_001);
    // 11001 is lost; three segments above it are SACKed (IsLost).
    feed(&mut c, t(50), &sack(11_001, &[(12_001, 13_001)]));
    feed(&mut c, t(51), &sack(11_001, &[(12_001, 14_001)]));
    feed(&mut c, t(52), &sack(11_001, &[(12_001, 15_001)]));
    assert_eq!(seqs(&out(&mut c, t(52))).first(), Some(&11_001));
    assert_eq!(c.info().fast_retransmits, 2);
    assert_eq!(c.info().timeouts, 0);
}

#[test]
fn rack_starts_recovery_right_after_a_timeout_was_fully_acknowledged() {
    // After an RTO, RecoveryPoint is HighData (RFC 6675 §5.1); once it is
    // cumulatively acknowledged, RACK (RFC 8985 §6.2: a segment is lost
    // when a later one "has been delivered" and "RACK.reo_wnd has passed")
    // may start a new recovery for the next segment.
    let mut c = sack_client(10);
    c.send(&[1u8; 3000]).unwrap();
    assert_eq!(out(&mut c, t(20)).len(), 3);
    // Everything lost: the probe, then the RTO.
    let at = c.poll_at().unwrap();
    c.on_timer(at);
    out(&mut c, at);
    c.on_timer(t(240));
    assert_eq!(seqs(&out(&mut c, t(240))), [1001]);
    assert_eq!(c.info().timeouts, 1);
    // The retransmission (and the rest) arrive: ACK of RecoveryPoint.
    feed(&mut c, t(250), &ack(4001));
    c.send(&[2u8; 2000]).unwrap();
    assert_eq!(seqs(&out(&mut c, t(250))), [4001, 5001]);
    // 4001 is lost, 5001 is SACKed.
    feed(&mut c, t(260), &sack(4001, &[(5001, 6001)]));
    let at = c.poll_at().unwrap();
    assert!(at <= t(263), "the reordering timer, not the RTO: {at:?}");
    c.on_timer(at);
    assert_eq!(seqs(&out(&mut c, at)), [4001]);
    assert_eq!(c.info().fast_retransmits, 1);
    assert_eq!(c.info().timeouts, 1);
}

#[test]
fn a_lost_retransmission_after_a_timeout_is_sent_again() {
    // RFC 8985 §6.2 after an RTO: of two retransmissions, the later one
    // was SACKed, the earlier one was not: it is lost and goes again
    // before NextSeg() moves on to higher holes.
    let mut c = sack_client(10);
    c.send(&[1u8; 10_000]).unwrap();
    assert_eq!(out(&mut c, t(20)).len(), 10);
    c.on_timer(t(220));
    assert_eq!(c.info().timeouts, 1);
    assert_eq!(seqs(&out(&mut c, t(220))), [1001]);
    feed(&mut c, t(230), &ack(2001));
    assert_eq!(seqs(&out(&mut c, t(230))), [2001, 3001]);
    // The retransmission of 2001 is lost; that of 3001 arrives.
    feed(&mut c, t(240), &sack(2001, &[(3001, 4001)]));
    // 2001 first; then, the window allowing, NextSeg() goes on at HighRxt.
    assert_eq!(seqs(&out(&mut c, t(240))), [2001, 4001]);
    assert_eq!(c.info().timeouts, 1);
}

#[test]
fn an_overtaken_retransmission_is_remembered_until_its_window_passes() {
    // RFC 8985 §6.2: the retransmission of 1001 is overtaken by the later
    // retransmission of 5001, whose delivery is reported before 1001's
    // reordering window has passed; when the window passes, 1001 is lost.
    let mut c = sack_client(10);
    c.send(&[1u8; 10_000]).unwrap();
    assert_eq!(out(&mut c, t(20)).len(), 10);
    feed(&mut c, t(30), &sack(1001, &[(2001, 5001)]));
    assert_eq!(seqs(&out(&mut c, t(30))), [1001]);
    feed(&mut c, t(31), &sack(1001, &[(6001, 11_001), (2001, 5001)]));
    assert_eq!(seqs(&out(&mut c, t(31))), [5001]);
    // 5001's retransmission arrives, 1001's does not.
    feed(&mut c, t(32), &sack(1001, &[(2001, 11_001)]));
    assert!(seqs(&out(&mut c, t(32))).is_empty());
    let at = c.poll_at().unwrap();
    assert!(at < t(40), "the reordering timer, not the RTO: {at:?}");
    c.on_timer(at);
    assert_eq!(seqs(&out(&mut c, at)), [1001]);
    assert_eq!(c.info().timeouts, 0);
}
