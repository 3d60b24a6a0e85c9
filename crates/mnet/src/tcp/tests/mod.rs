//! Segment-level tests of the connection engine: `TcpRepr`s in, `TcpRepr`s
//! out, at virtual times. Each test quotes the rule it checks.

mod close;
mod cork;
mod flow;
mod handshake;
mod loopback;
mod loss;
mod robust;
mod rst;
mod tso;

use alloc::vec::Vec;
use core::net::SocketAddr;

use super::{Connection, SegmentOutcome, TcpConfig};
use crate::ip::rate_limit::TokenBucket;
use crate::time::{Duration, Instant};
use crate::wire::{TcpFlags, TcpRepr, TcpSeqNumber};

pub(super) const CLIENT_ISS: u32 = 1000;
pub(super) const SERVER_ISS: u32 = 5000;

pub(super) fn client_addr() -> SocketAddr {
    "10.0.0.1:40000".parse().unwrap()
}

pub(super) fn server_addr() -> SocketAddr {
    "10.0.0.2:80".parse().unwrap()
}

/// Virtual time: `ms` milliseconds after t0 = 1 s.
pub(super) fn t(ms: u64) -> Instant {
    Instant::from_millis(1000 + ms)
}

pub(super) fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// A plain configuration: no options, so segments are easy to write by
/// hand. Tests turn options on as they need them.
pub(super) fn plain() -> TcpConfig {
    TcpConfig {
        sack: false,
        timestamps: false,
        window_scaling: false,
        ecn: false,
        ..TcpConfig::default()
    }
}

pub(super) fn bucket() -> TokenBucket {
    TokenBucket::new(1000, 1000)
}

/// A segment that left a connection, with its payload copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Out {
    pub repr: TcpRepr<'static>,
    pub payload: Vec<u8>,
    pub ect: bool,
}

impl Out {
    pub fn repr(&self) -> TcpRepr<'_> {
        TcpRepr {
            payload: &self.payload,
            ..self.repr
        }
    }
    pub fn flags(&self) -> TcpFlags {
        self.repr.flags
    }
    pub fn has(&self, f: TcpFlags) -> bool {
        self.repr.flags.contains(f)
    }
    pub fn seq(&self) -> u32 {
        self.repr.seq_number.0
    }
    pub fn ack(&self) -> Option<u32> {
        self.repr.ack_number.map(|a| a.0)
    }
    pub fn len(&self) -> usize {
        self.payload.len()
    }
}

/// Everything `c` transmits at `now`.
pub(super) fn out(c: &mut Connection, now: Instant) -> Vec<Out> {
    let mut v = Vec::new();
    c.poll_transmit(now, &mut |seg: &TcpRepr<'_>, ect| {
        v.push(Out {
            repr: TcpRepr { payload: &[], ..*seg },
            payload: seg.payload.to_vec(),
            ect,
        });
        true
    });
    v
}

/// A segment from the peer (ports of the server talking to the client by
/// default: callers swap as needed).
pub(super) fn seg(seq: u32, ack: Option<u32>, flags: TcpFlags, payload: &[u8]) -> TcpRepr<'_> {
    TcpRepr {
        src_port: 80,
        dst_port: 40000,
        seq_number: TcpSeqNumber(seq),
        ack_number: ack.map(TcpSeqNumber),
        flags: if ack.is_some() { flags | TcpFlags::ACK } else { flags },
        window_len: 65_535,
        urgent_ptr: 0,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        payload,
    }
}

/// Feeds one segment.
pub(super) fn feed(c: &mut Connection, now: Instant, s: &TcpRepr<'_>) -> SegmentOutcome {
    c.on_segment(now, s, false, &mut bucket())
}

/// A client that completed the handshake with `cfg`: SND.NXT = 1001,
/// RCV.NXT = 5001. The peer's SYN-ACK carried `synack` adjustments.
pub(super) fn client_with(cfg: &TcpConfig, synack: impl FnOnce(&mut TcpRepr<'static>)) -> Connection {
    let mut c = Connection::connect(cfg, client_addr(), server_addr(), TcpSeqNumber(CLIENT_ISS), 1460, t(0), 0);
    let syn = out(&mut c, t(0));
    assert_eq!(syn.len(), 1);
    let mut sa = seg(SERVER_ISS, Some(CLIENT_ISS + 1), TcpFlags::SYN, &[]);
    sa.max_seg_size = Some(1000);
    synack(&mut sa);
    assert_eq!(feed(&mut c, t(10), &sa), SegmentOutcome::Ok);
    assert!(c.is_established());
    let ack = out(&mut c, t(10));
    assert_eq!(ack.len(), 1, "the ACK completing the handshake");
    c
}

/// An established plain client with MSS 1000 both ways.
pub(super) fn client() -> Connection {
    client_with(&plain(), |_| {})
}

/// A deterministic pseudo-random stream for payloads and loss.
#[derive(Debug, Clone)]
pub(super) struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// True with probability `percent` / 100.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

/// The byte at stream position `i` of the test payload.
pub(super) fn pattern(i: u64) -> u8 {
    let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x >> 56) as u8 ^ (i as u8)
}
