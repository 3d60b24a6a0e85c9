//! TCP segments are built in pool buffers that are not zeroed first
//! (`Stack::take_tx_buffer`): every byte must come from the emitters.
//! Two identical stacks run one script against a raw peer; one has its
//! buffer pool filled with garbage before every step; their frames must
//! be identical.
use alloc::vec::Vec;

use super::super::Stack;
use super::super::test_util::drain;
use super::review_tests::{IP_B, MAC_B, b_with_listener, seq_u32, tcp_data_from_peer, tcp_segs};
use crate::link::FrameMeta;
use crate::time::{Duration, Instant};
use crate::wire::TcpFlags;

const PORT: u16 = 40_001;
const ISN: u32 = 7_000;

/// Runs the script on `b`, poisoning its pool before each step when asked;
/// returns every frame it sent.
fn script(poison: bool) -> Vec<Vec<u8>> {
    let (mut b, lh) = b_with_listener(8);
    let mut out = Vec::new();
    let now = Instant::ZERO + Duration::from_millis(1);
    let step = |b: &mut Stack, out: &mut Vec<Vec<u8>>, frame: Option<Vec<u8>>| {
        if poison {
            b.pool.poison(8, 70_000);
        }
        if let Some(f) = frame {
            b.receive(now, &FrameMeta::PLAIN, &f);
        }
        b.poll(now);
        let frames = drain(b);
        out.extend(frames.iter().cloned());
        frames
    };
    let peer =
        |seq: u32, ack: Option<u32>, flags: TcpFlags, payload: &[u8]| tcp_data_from_peer(IP_B, MAC_B, (PORT, 80), seq, ack, flags, payload);
    // SYN -> SYN-ACK (options), then the handshake's ACK.
    let synack = tcp_segs(&step(&mut b, &mut out, Some(peer(ISN, None, TcpFlags::SYN, &[]))))[0];
    let iss = seq_u32(synack.seq);
    step(&mut b, &mut out, Some(peer(ISN + 1, Some(iss + 1), TcpFlags::ACK, &[])));
    let (h, _) = b.tcp_accept(lh).unwrap();
    // B sends data (several segments), the peer's data arrives in and
    // out of order, then its FIN.
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    assert_eq!(b.tcp_send(now, h, &data).unwrap(), data.len());
    step(&mut b, &mut out, None);
    let ack = Some(iss + 1 + 5000);
    step(&mut b, &mut out, Some(peer(ISN + 1, ack, TcpFlags::ACK, &[1u8; 1000])));
    step(&mut b, &mut out, Some(peer(ISN + 2001, ack, TcpFlags::ACK, &[3u8; 1000])));
    step(&mut b, &mut out, Some(peer(ISN + 1001, ack, TcpFlags::ACK, &[2u8; 1000])));
    step(&mut b, &mut out, Some(peer(ISN + 3001, ack, TcpFlags::ACK | TcpFlags::FIN, &[])));
    b.tcp_close(now, h);
    step(&mut b, &mut out, None);
    out
}

#[test]
fn tcp_segments_built_in_stale_buffers_are_byte_identical() {
    let clean = script(false);
    let poisoned = script(true);
    // SYN-ACK, data, ACKs (one duplicate), FIN.
    assert!(clean.len() >= 6, "{}", clean.len());
    assert_eq!(clean.len(), poisoned.len());
    for (i, (a, b)) in clean.iter().zip(&poisoned).enumerate() {
        assert_eq!(a, b, "frame {i} differs");
    }
}
