//! Whatever a peer sends, a connection never panics and keeps its
//! invariants; its memory stays bounded.

use alloc::vec;

use super::*;
use crate::tcp::State;

fn random_segment<'a>(rng: &mut XorShift, payload: &'a [u8], near_rcv: u32, near_snd: u32) -> TcpRepr<'a> {
    let r = rng.next();
    let jitter = |rng: &mut XorShift, base: u32| -> u32 {
        match rng.next() % 4 {
            0 => base,
            1 => base.wrapping_add((rng.next() % 70_000) as u32),
            2 => base.wrapping_sub((rng.next() % 70_000) as u32),
            _ => rng.next() as u32,
        }
    };
    let mut flags = TcpFlags((r & 0xff) as u16);
    // Resets end the game early: keep them rare.
    if r & 0x7000 != 0 {
        flags.remove(TcpFlags::RST);
    }
    // Mostly plausible segments, so deep states are reached.
    if r & 0x300 != 0 {
        flags = TcpFlags::ACK | if r & 0x400 != 0 { TcpFlags::FIN } else { TcpFlags::empty() };
    }
    let len = (rng.next() % (payload.len() as u64 + 1)) as usize;
    let mut s = seg(jitter(rng, near_rcv), None, flags, &payload[..len]);
    if flags.contains(TcpFlags::ACK) {
        s.ack_number = Some(TcpSeqNumber(jitter(rng, near_snd)));
    }
    s.window_len = (rng.next() % 3000) as u16;
    if !rng.next().is_multiple_of(4) {
        s.timestamp = Some(((rng.next() % 5000) as u32, (rng.next() % 5000) as u32));
    }
    for slot in s.sack_ranges.iter_mut() {
        if rng.next().is_multiple_of(3) {
            let a = jitter(rng, near_snd);
            *slot = Some((a, a.wrapping_add((rng.next() % 5000) as u32)));
        }
    }
    s
}

#[test]
fn random_segments_never_panic_and_keep_invariants() {
    let payload = vec![0x5au8; 3000];
    let cfg = TcpConfig::default();
    let fresh = |seed: u64| {
        client_with(&cfg, |sa| {
            sa.window_scale = Some((seed % 15) as u8);
            sa.timestamp = Some((100, 1000));
            sa.sack_permitted = true;
            sa.flags |= TcpFlags::ECE;
        })
    };
    let mut synchronized_steps = 0u32;
    for seed in 1..=8u64 {
        let mut rng = XorShift(seed * 0x9e37_79b9);
        let mut c = fresh(seed);
        let mut now = t(20);
        let mut buf = vec![0u8; 4096];
        let mut limit = TokenBucket::new(10, 10);
        for step in 0..4000u32 {
            now += Duration::from_micros(rng.next() % 50_000);
            match rng.next() % 10 {
                0 => {
                    let _ = c.send(&payload[..(rng.next() % 3000) as usize]);
                }
                1 => {
                    let _ = c.recv(&mut buf);
                }
                2 => {
                    if c.poll_at().is_some_and(|p| p <= now) {
                        let _ = c.on_timer(now);
                    }
                }
                3 if step % 500 == 499 => {
                    let _ = c.close(now);
                }
                _ => {
                    let info = c.info();
                    let near_rcv = (TcpSeqNumber(SERVER_ISS + 1) + info.bytes_received as usize).0;
                    let near_snd = (TcpSeqNumber(CLIENT_ISS + 1) + info.bytes_acked as usize).0;
                    let s = random_segment(&mut rng, &payload, near_rcv, near_snd);
                    let ce = rng.next().is_multiple_of(8);
                    let _ = c.on_segment(now, &s, ce, &mut limit);
                }
            }
            for o in out(&mut c, now) {
                // Every segment we emit is well-formed.
                assert!(o.repr.header_len() <= 60);
                assert!(o.len() <= 1460);
            }
            let info = c.info();
            assert!(info.bytes_in_flight <= (4 << 20) + 1, "{info:?}");
            assert!(info.ooo_ranges <= cfg.max_ooo_ranges);
            assert!(info.recv_buffer_bytes <= cfg.recv_buffer_max);
            assert!(info.send_buffer_bytes <= cfg.send_buffer_max);
            assert!(info.cwnd >= 1 || info.state == State::Closed);
            if c.state() == State::Closed {
                c = fresh(seed + u64::from(step));
                now = t(20);
            } else {
                synchronized_steps += 1;
            }
        }
    }
    assert!(synchronized_steps > 20_000, "{synchronized_steps}");
}

#[test]
fn an_idle_connection_is_small() {
    // An idle connection is its TCB and nothing else (buffers are given
    // back, see flow.rs): about the size of Linux's tcp_sock.
    // 1,176 bytes measured.
    let size = core::mem::size_of::<Connection>();
    assert!(size <= 1296, "{size}");
}
