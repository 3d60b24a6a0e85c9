//! Flow control (RFC 9293 §3.8.6): windows, zero-window probes,
//! silly-window avoidance on both sides, Nagle, delayed ACKs,
//! reassembly and SACK blocks, buffer memory.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::error::Error;
use crate::tcp::State;

fn ack_with_window(ack: u32, window: u16) -> TcpRepr<'static> {
    let mut s = seg(SERVER_ISS + 1, Some(ack), TcpFlags::ACK, &[]);
    s.window_len = window;
    s
}

#[test]
fn segments_respect_mss_and_window() {
    let mut c = client(); // peer MSS 1000, window 65535
    c.send(&[5u8; 4500]).unwrap();
    let v = out(&mut c, t(20));
    assert_eq!(v.iter().map(Out::len).collect::<Vec<_>>(), [1000, 1000, 1000, 1000, 500]);
    assert!(v[4].has(TcpFlags::PSH), "the end of the write is pushed");
    // A 1200-byte window stops the next write after 1200 bytes in flight
    // beyond SND.UNA.
    feed(&mut c, t(40), &ack_with_window(CLIENT_ISS + 4501, 1200));
    c.send(&[6u8; 4000]).unwrap();
    let v = out(&mut c, t(40));
    assert_eq!(v.iter().map(Out::len).collect::<Vec<_>>(), [1000]);
}

#[test]
fn zero_window_probes_back_off_and_stop_when_the_window_opens() {
    // RFC 9293 §3.8.6.1: "The transmitting host SHOULD send the first
    // zero-window probe when a zero window has existed for the
    // retransmission timeout period (SHLD-29) (Section 3.8.1), and SHOULD
    // increase exponentially the interval between successive probes
    // (SHLD-30)."
    let mut c = client();
    feed(&mut c, t(20), &ack_with_window(CLIENT_ISS + 1, 0));
    c.send(b"waiting").unwrap();
    assert!(out(&mut c, t(20)).is_empty(), "no data into a zero window");
    // RTO is 200 ms (SRTT 10 ms from the handshake, floor 200 ms).
    assert_eq!(c.poll_at(), Some(t(220)));
    let mut at = 220;
    for i in 0..4 {
        assert_eq!(c.poll_at(), Some(t(at)), "probe {i}");
        c.on_timer(t(at));
        let p = out(&mut c, t(at));
        assert_eq!(p.len(), 1);
        // An old sequence number, no data: any receiver answers it.
        assert_eq!((p[0].seq(), p[0].len(), p[0].flags()), (CLIENT_ISS, 0, TcpFlags::ACK));
        at += 200 << (i + 1);
    }
    // The answer still says zero: probing goes on (the probes are not
    // retransmissions that could time the connection out).
    feed(&mut c, t(3000), &ack_with_window(CLIENT_ISS + 1, 0));
    assert_eq!(c.state(), State::Established);
    // The window opens: the data goes at once and probing stops.
    feed(&mut c, t(3100), &ack_with_window(CLIENT_ISS + 1, 1000));
    let v = out(&mut c, t(3100));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].payload.as_slice(), b"waiting");
    assert!(c.poll_at().is_some_and(|p| p == t(3100) + ms(200)), "only the RTO now");
}

#[test]
fn sender_silly_window_avoidance() {
    // RFC 9293 §3.8.6.2.1: send when "(1) ... min(D,U) >= Eff.snd.MSS;
    // (2) ... [SND.NXT = SND.UNA and] PUSHed and D <= U ... (3) ...
    // [SND.NXT = SND.UNA and] min(D,U) >= Fs * Max(SND.WND); (4) or if the
    // override timeout occurs."
    let mut c = client(); // Max(SND.WND) = 65535
    feed(&mut c, t(20), &ack_with_window(CLIENT_ISS + 1, 300));
    c.send(&[1u8; 5000]).unwrap();
    // U = 300 < MSS, D > U, 300 < 65535 / 2: nothing goes.
    assert!(out(&mut c, t(20)).is_empty());
    // The override timeout (the persist timer) sends what fits.
    let at = c.poll_at().unwrap();
    c.on_timer(at);
    let v = out(&mut c, at);
    assert_eq!(v.iter().map(Out::len).collect::<Vec<_>>(), [300]);
    // A window of half the maximum seen is enough by rule (3).
    feed(&mut c, t(600), &ack_with_window(CLIENT_ISS + 301, 32_768));
    let v = out(&mut c, t(600));
    assert!(v.iter().map(Out::len).sum::<usize>() >= 4700);
}

#[test]
fn receiver_silly_window_avoidance_and_window_updates() {
    // RFC 9293 §3.8.6.2.2: "keep RCV.NXT+RCV.WND fixed until the reduction
    // satisfies: RCV.BUFF - RCV.USER - RCV.WND >= min( Fr * RCV.BUFF,
    // Eff.snd.MSS )".
    let cfg = TcpConfig {
        recv_window_initial: 8000,
        recv_buffer_max: 8000,
        ..plain()
    };
    let mut c = client_with(&cfg, |_| {});
    // The peer fills the 8000-byte window.
    for i in 0..8u32 {
        feed(
            &mut c,
            t(20),
            &seg(SERVER_ISS + 1 + i * 1000, Some(CLIENT_ISS + 1), TcpFlags::ACK, &[0u8; 1000]),
        );
    }
    let v = out(&mut c, t(20));
    assert_eq!(v.last().unwrap().repr.window_len, 0);
    // Reading 300 bytes would open a silly 300-byte window: no update, and
    // the next ACK still offers 0.
    let mut buf = vec![0u8; 8000];
    assert_eq!(c.recv(&mut buf[..300]), Ok(300));
    assert!(out(&mut c, t(21)).is_empty(), "no window update for 300 bytes");
    feed(&mut c, t(22), &seg(SERVER_ISS + 9001, Some(CLIENT_ISS + 1), TcpFlags::ACK, b"x"));
    let v = out(&mut c, t(22));
    assert_eq!(v.last().unwrap().repr.window_len, 0);
    // Reading enough for a full segment opens the window, and the update
    // is sent at once (the sender may be waiting for it).
    assert_eq!(c.recv(&mut buf[..2000]), Ok(2000));
    let v = out(&mut c, t(23));
    assert_eq!(v.len(), 1, "window update");
    assert_eq!(v[0].repr.window_len, 2300);
    assert_eq!(v[0].ack(), Some(SERVER_ISS + 8001));
}

#[test]
fn nagle_holds_small_segments_while_data_is_unacknowledged() {
    // RFC 9293 §3.7.4: "If there is unacknowledged data (i.e., SND.NXT >
    // SND.UNA), then the sending TCP endpoint buffers all user data
    // (regardless of the PSH bit) until the outstanding data has been
    // acknowledged or until the TCP endpoint can send a full-sized
    // segment".
    // Like Linux, with Minshall's refinement: it is an unacknowledged
    // *small* segment that holds the next small one back.
    let mut c = client();
    c.send(b"one").unwrap();
    assert_eq!(out(&mut c, t(20)).len(), 1);
    c.send(b"two").unwrap();
    assert!(out(&mut c, t(21)).is_empty());
    c.send(&[0u8; 997]).unwrap();
    // 1000 bytes queued: a full segment may go.
    let v = out(&mut c, t(22));
    assert_eq!(v.iter().map(Out::len).collect::<Vec<_>>(), [1000]);
    c.send(b"tail").unwrap();
    assert!(out(&mut c, t(23)).is_empty(), "\"one\" is still unacknowledged");
    feed(&mut c, t(30), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 4), TcpFlags::ACK, &[]));
    let v = out(&mut c, t(30));
    assert_eq!(v.len(), 1, "only full-sized data is in flight now");
    assert_eq!(v[0].payload.as_slice(), b"tail");
    c.send(b"more").unwrap();
    assert!(out(&mut c, t(31)).is_empty(), "\"tail\" is unacknowledged");
    feed(&mut c, t(40), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1008), TcpFlags::ACK, &[]));
    assert_eq!(out(&mut c, t(40)).len(), 1);
    // TCP_NODELAY: small writes go at once.
    c.set_nodelay(true);
    c.send(b"a").unwrap();
    assert_eq!(out(&mut c, t(31)).len(), 1);
    c.send(b"b").unwrap();
    assert_eq!(out(&mut c, t(32)).len(), 1);
}

#[test]
fn delayed_ack_timing() {
    // RFC 9293 §3.8.6.3: "an ACK SHOULD be generated for at least every
    // second full-sized segment or 2*RMSS bytes of new data ... and MUST be
    // generated within 500 ms of the arrival of the first unacknowledged
    // packet". We delay at most 40 ms.
    let mut c = client();
    feed(
        &mut c,
        t(20),
        &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::ACK, &[0u8; 1000]),
    );
    assert!(out(&mut c, t(20)).is_empty(), "delayed");
    assert_eq!(c.poll_at(), Some(t(60)));
    assert!(out(&mut c, t(59)).is_empty());
    c.on_timer(t(60));
    let v = out(&mut c, t(60));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].ack(), Some(SERVER_ISS + 1001));
    // Two full segments: ACK at once.
    feed(
        &mut c,
        t(70),
        &seg(SERVER_ISS + 1001, Some(CLIENT_ISS + 1), TcpFlags::ACK, &[0u8; 1000]),
    );
    assert!(out(&mut c, t(70)).is_empty());
    feed(
        &mut c,
        t(71),
        &seg(SERVER_ISS + 2001, Some(CLIENT_ISS + 1), TcpFlags::ACK, &[0u8; 1000]),
    );
    let v = out(&mut c, t(71));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].ack(), Some(SERVER_ISS + 3001));
    // A reply carries the ACK: nothing delayed remains.
    feed(&mut c, t(80), &seg(SERVER_ISS + 3001, Some(CLIENT_ISS + 1), TcpFlags::ACK, b"req"));
    c.send(b"resp").unwrap();
    let v = out(&mut c, t(80));
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].ack(), v[0].len()), (Some(SERVER_ISS + 3004), 4));
    assert_ne!(c.poll_at(), Some(t(120)));
}

fn sack_client() -> Connection {
    let cfg = TcpConfig { sack: true, ..plain() };
    client_with(&cfg, |sa| sa.sack_permitted = true)
}

fn data(off: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| pattern(u64::from(off) + i as u64)).collect()
}

#[test]
fn out_of_order_data_is_reassembled_and_sacked() {
    // RFC 5681 §4.2: "A TCP receiver SHOULD send an immediate duplicate ACK
    // when an out-of-order segment arrives." RFC 2018 §4: "The first SACK
    // block ... MUST specify the contiguous block of data containing the
    // segment which triggered this ACK".
    let mut c = sack_client();
    let base = SERVER_ISS + 1;
    let d3 = data(2000, 1000);
    feed(&mut c, t(20), &seg(base + 2000, Some(CLIENT_ISS + 1), TcpFlags::ACK, &d3));
    let v = out(&mut c, t(20));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].ack(), Some(base));
    assert_eq!(v[0].repr.sack_ranges[0], Some((base + 2000, base + 3000)));
    let d5 = data(4000, 1000);
    feed(&mut c, t(21), &seg(base + 4000, Some(CLIENT_ISS + 1), TcpFlags::ACK, &d5));
    let v = out(&mut c, t(21));
    assert_eq!(
        v[0].repr.sack_ranges[..2],
        [Some((base + 4000, base + 5000)), Some((base + 2000, base + 3000))]
    );
    // A duplicate of held data: D-SACK first (RFC 2883), then its block.
    feed(&mut c, t(22), &seg(base + 2000, Some(CLIENT_ISS + 1), TcpFlags::ACK, &d3));
    let v = out(&mut c, t(22));
    assert_eq!(
        v[0].repr.sack_ranges[..2],
        [Some((base + 2000, base + 3000)), Some((base + 2000, base + 3000))]
    );
    // Filling the first hole: immediate ACK (RFC 5681 §4.2 "fills in all or
    // part of a gap"), cumulative up to the second hole.
    feed(&mut c, t(23), &seg(base, Some(CLIENT_ISS + 1), TcpFlags::ACK, &data(0, 2000)));
    let v = out(&mut c, t(23));
    assert_eq!(v[0].ack(), Some(base + 3000));
    assert_eq!(v[0].repr.sack_ranges[0], Some((base + 4000, base + 5000)));
    feed(
        &mut c,
        t(24),
        &seg(base + 3000, Some(CLIENT_ISS + 1), TcpFlags::ACK, &data(3000, 1000)),
    );
    let v = out(&mut c, t(24));
    assert_eq!(v[0].ack(), Some(base + 5000));
    assert_eq!(v[0].repr.sack_ranges, [None; 4]);
    let mut buf = vec![0u8; 6000];
    assert_eq!(c.recv(&mut buf), Ok(5000));
    assert_eq!(&buf[..5000], &data(0, 5000)[..]);
    // A duplicate of delivered data: D-SACK below the cumulative ACK.
    feed(&mut c, t(25), &seg(base + 100, Some(CLIENT_ISS + 1), TcpFlags::ACK, &data(100, 50)));
    let v = out(&mut c, t(25));
    assert_eq!(v[0].repr.sack_ranges[0], Some((base + 100, base + 150)));
}

#[test]
fn hostile_one_byte_segments_with_gaps_stay_bounded() {
    // A peer spraying 1-byte segments with gaps over the whole window: the
    // out-of-order bookkeeping stays within its bound and the work stays
    // O(n log n); once the gaps are filled every byte is right.
    let cfg = TcpConfig {
        recv_window_initial: 65_535,
        max_ooo_ranges: 1024,
        ..plain()
    };
    let mut c = client_with(&cfg, |_| {});
    let base = SERVER_ISS + 1;
    let window = 65_000u32;
    for i in (1..window / 2).rev() {
        let off = 2 * i;
        feed(&mut c, t(20), &seg(base + off, Some(CLIENT_ISS + 1), TcpFlags::ACK, &data(off, 1)));
        assert!(c.info().ooo_ranges <= 1024);
    }
    assert_eq!(c.info().ooo_ranges, 1024);
    assert!(c.info().ooo_bytes_dropped > 0);
    // Honest retransmission fills everything in order.
    let mut off = 0u32;
    while off < window {
        let n = 1000.min(window - off);
        feed(
            &mut c,
            t(30),
            &seg(base + off, Some(CLIENT_ISS + 1), TcpFlags::ACK, &data(off, n as usize)),
        );
        off += n;
    }
    let mut buf = vec![0u8; window as usize];
    assert_eq!(c.recv(&mut buf), Ok(window as usize));
    assert_eq!(buf, data(0, window as usize));
    assert_eq!(c.info().ooo_ranges, 0);
}

#[test]
fn send_buffer_fills_then_would_block() {
    let cfg = TcpConfig {
        send_buffer_max: 10_000,
        ..plain()
    };
    let mut c = client_with(&cfg, |_| {});
    assert_eq!(c.send(&[0u8; 30_000]), Ok(10_000));
    assert_eq!(c.send(b"x"), Err(Error::WouldBlock));
    assert!(!c.can_send());
    out(&mut c, t(20));
    feed(&mut c, t(30), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 5001), TcpFlags::ACK, &[]));
    assert!(c.can_send());
    assert_eq!(c.send(&[0u8; 30_000]), Ok(5000));
}

#[test]
fn send_with_writes_in_place_and_the_bytes_go_out() {
    let cfg = TcpConfig {
        send_buffer_max: 10_000,
        ..plain()
    };
    let mut c = client_with(&cfg, |_| {});
    assert_eq!(c.send_with(0, |_| panic!("max 0: not called")), Ok(0));
    let n = c.send_with(4, |space| {
        space.copy_from_slice(b"lend");
        4
    });
    assert_eq!(n, Ok(4));
    let v = out(&mut c, t(20));
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].seq(), v[0].payload.as_slice()), (CLIENT_ISS + 1, &b"lend"[..]));
    // Full: WouldBlock, and the closure is not called.
    assert_eq!(c.send_with(30_000, |s| s.len()), Ok(10_000 - 4));
    assert_eq!(c.send_with(1, |_| panic!("full: not called")), Err(Error::WouldBlock));
}

#[test]
fn idle_buffers_give_their_memory_back() {
    let mut c = client();
    c.send(&[0u8; 3000]).unwrap();
    out(&mut c, t(20));
    assert!(c.info().send_buffer_bytes > 0);
    feed(&mut c, t(30), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 3001), TcpFlags::ACK, b"ok"));
    let mut buf = [0u8; 4];
    assert_eq!(c.recv(&mut buf), Ok(2));
    out(&mut c, t(30));
    // One second of idleness later, nothing is held.
    let at = c.poll_at().unwrap();
    assert!(at <= t(1030));
    c.on_timer(t(1030));
    let info = c.info();
    assert_eq!((info.send_buffer_bytes, info.recv_buffer_bytes), (0, 0));
}

#[test]
fn receive_window_grows_with_a_fast_reader() {
    // Autotuning: a reader that keeps up makes the offered window grow
    // beyond the initial 64 KiB (RFC 7323 scaling carries it).
    let cfg = TcpConfig::default();
    let mut c = client_with(&cfg, |sa| {
        sa.window_scale = Some(7);
        sa.timestamp = Some((1, 1000));
    });
    let base = SERVER_ISS + 1;
    let mut off = 0u32;
    let mut buf = vec![0u8; 8 << 20];
    let mut window = 0;
    for round in 0..20u64 {
        let now = t(20 + round * 10);
        for _ in 0..400 {
            let mut s = seg(base + off, Some(CLIENT_ISS + 1), TcpFlags::ACK, &[0u8; 1448]);
            s.timestamp = Some((2 + round as u32, 1000 + round as u32 * 10));
            let before = c.recv_queue();
            feed(&mut c, now, &s);
            if c.recv_queue() == before {
                break; // the window is full
            }
            off += (c.recv_queue() - before) as u32;
        }
        while c.recv(&mut buf).is_ok_and(|n| n > 0) {}
        for a in out(&mut c, now) {
            window = u32::from(a.repr.window_len) << 7;
        }
    }
    assert!(window > 256 * 1024, "window {window}");
}

#[test]
fn keepalive_probes_then_gives_up() {
    // RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6: keep-alive probes on an idle
    // connection, "SEG.SEQ = SND.NXT-1"; off by default.
    let mut c = client();
    assert_eq!(c.poll_at(), None, "keepalive is off by default");
    c.set_keepalive(Some(crate::tcp::Keepalive {
        idle: ms(10_000),
        interval: ms(1000),
        probes: 3,
    }));
    assert_eq!(c.poll_at(), Some(t(10) + ms(10_000)));
    let mut at = t(10) + ms(10_000);
    for i in 0..3 {
        assert_eq!(c.on_timer(at), crate::tcp::TimerOutcome::Ok);
        let p = out(&mut c, at);
        assert_eq!(p.len(), 1, "probe {i}");
        assert_eq!((p[0].seq(), p[0].len()), (CLIENT_ISS, 0));
        assert_eq!(c.poll_at(), Some(at + ms(1000)));
        at += ms(1000);
    }
    assert_eq!(c.on_timer(at), crate::tcp::TimerOutcome::Closed);
    assert_eq!(c.error(), Some(Error::TimedOut));
}

#[test]
fn keepalive_answered_keeps_the_connection() {
    let mut c = client();
    c.set_keepalive(Some(crate::tcp::Keepalive {
        idle: ms(10_000),
        interval: ms(1000),
        probes: 2,
    }));
    let at = t(10) + ms(10_000);
    c.on_timer(at);
    assert_eq!(out(&mut c, at).len(), 1);
    // The peer answers the probe: idle again, probes counted from zero.
    feed(&mut c, at + ms(20), &seg(SERVER_ISS + 1, Some(CLIENT_ISS + 1), TcpFlags::ACK, &[]));
    assert_eq!(c.poll_at(), Some(at + ms(20) + ms(10_000)));
    assert_eq!(c.state(), State::Established);
}

#[test]
fn unanswered_zero_window_probes_time_out() {
    // RFC 1122 §4.2.2.17 keeps a connection open "as long as the receiving
    // TCP continues to send acknowledgments in response to the probe
    // segments"; a peer that has gone silent is given up after the retry
    // limit, as Linux does.
    let mut c = client();
    feed(&mut c, t(20), &ack_with_window(CLIENT_ISS + 1, 0));
    c.send(b"stuck").unwrap();
    out(&mut c, t(20));
    let mut probes = 0;
    loop {
        let at = c.poll_at().unwrap();
        if c.on_timer(at) == crate::tcp::TimerOutcome::Closed {
            break;
        }
        probes += out(&mut c, at).len();
    }
    assert_eq!(probes, 15);
    assert_eq!(c.error(), Some(Error::TimedOut));
}
