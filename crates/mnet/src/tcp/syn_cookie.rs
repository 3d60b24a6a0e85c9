//! SYN cookies (RFC 4987 §3.6): a listener whose SYN queue is full answers
//! a SYN without keeping state, encoding what it must remember in the
//! SYN-ACK's sequence number.
//!
//! RFC 4987 §3.6: "the top 5 bits are t mod 32, where t is a slowly
//! incrementing time counter (typically 64 seconds), the next 3 bits are an
//! encoded MSS value, and the remaining 24 bits are a server-selected
//! secret function of the client IP address and port number, the server IP
//! address and port number, and t." Our function is SipHash-2-4 keyed with
//! a 128-bit secret, and also covers the client's ISN so a cookie answers
//! one SYN only.
//!
//! RFC 4987 §3.6 also notes that "the SYN cookie technique ... cannot
//! encode ... TCP options" beyond the MSS. Like Linux, when the client
//! offered timestamps we keep window scale, SACK-permitted and ECN in the
//! low 6 bits of the TSval we send, which the client echoes in TSecr
//! ([`syn_ack`], then [`Connection::from_cookie`](super::Connection::from_cookie)).
//!
//! ```
//! use mnet::tcp::syn_cookie::{check_cookie, make_cookie};
//! use mnet::wire::{TcpFlags, TcpRepr, TcpSeqNumber};
//! use mnet::Instant;
//! let (srv, cli) = ("10.0.0.1:80".parse().unwrap(), "10.0.0.2:5000".parse().unwrap());
//! let secret = [3u8; 16];
//! let now = Instant::from_secs(1000);
//! let cookie = make_cookie(&secret, &srv, &cli, TcpSeqNumber(777), 1460, now);
//! let ack = TcpRepr {
//!     src_port: 5000, dst_port: 80, seq_number: TcpSeqNumber(778),
//!     ack_number: Some(cookie + 1), flags: TcpFlags::ACK, window_len: 100,
//!     urgent_ptr: 0, max_seg_size: None, window_scale: None, sack_permitted: false,
//!     sack_ranges: [None; 4], timestamp: None, payload: &[],
//! };
//! assert_eq!(check_cookie(&secret, &srv, &cli, &ack, now), Some(1460));
//! ```

use core::net::SocketAddr;

use super::TcpConfig;
use super::isn::tuple_hash;
use crate::time::{Duration, Instant};
use crate::wire::{TcpFlags, TcpRepr, TcpSeqNumber};

/// RFC 4987 §3.6's "slowly incrementing time counter (typically 64
/// seconds)".
pub const COOKIE_PERIOD: Duration = Duration::from_secs(64);

/// Cookies from this many periods (the current one included) are accepted:
/// a cookie lives 64 to 128 seconds.
pub const COOKIE_MAX_AGE: u32 = 2;

/// The MSS values 3 bits can name; a SYN's MSS is rounded down to one.
pub const MSS_TABLE: [u16; 8] = [536, 1220, 1300, 1360, 1400, 1440, 1460, 8960];

/// Low TSval bits carrying the options.
const TS_OPTION_BITS: u32 = 6;
const TS_OPTION_MASK: u32 = (1 << TS_OPTION_BITS) - 1;
const WS_NONE: u32 = 0xf;
const SACK_BIT: u32 = 1 << 4;
const ECN_BIT: u32 = 1 << 5;

fn counter(now: Instant) -> u32 {
    (now.total_micros() / COOKIE_PERIOD.as_micros() as u64) as u32
}

fn mss_index(peer_mss: u16) -> u32 {
    MSS_TABLE.iter().rposition(|&m| m <= peer_mss).unwrap_or(0) as u32
}

fn cookie_hash(secret: &[u8; 16], local: &SocketAddr, remote: &SocketAddr, peer_isn: TcpSeqNumber, t: u32) -> u32 {
    let mut extra = [0u8; 14];
    extra[..6].copy_from_slice(b"cookie");
    extra[6..10].copy_from_slice(&peer_isn.0.to_be_bytes());
    extra[10..].copy_from_slice(&t.to_be_bytes());
    (tuple_hash(secret, local, remote, &extra) as u32) & 0x00ff_ffff
}

/// The cookie (our ISN) answering a SYN with sequence number `peer_isn`
/// and MSS option `peer_mss` (use the default MSS when it had none).
pub fn make_cookie(
    secret: &[u8; 16],
    local: &SocketAddr,
    remote: &SocketAddr,
    peer_isn: TcpSeqNumber,
    peer_mss: u16,
    now: Instant,
) -> TcpSeqNumber {
    let t = counter(now);
    TcpSeqNumber(((t & 31) << 27) | (mss_index(peer_mss) << 24) | cookie_hash(secret, local, remote, peer_isn, t))
}

/// Checks the ACK that completes a cookie handshake (ACK set, SYN and RST
/// clear, SEG.ACK - 1 a valid cookie for SEG.SEQ - 1 issued at most
/// [`COOKIE_MAX_AGE`] periods ago). Returns the MSS the cookie encodes.
pub fn check_cookie(secret: &[u8; 16], local: &SocketAddr, remote: &SocketAddr, ack: &TcpRepr<'_>, now: Instant) -> Option<u16> {
    if ack.flags.intersects(TcpFlags::SYN | TcpFlags::RST) {
        return None;
    }
    let cookie = (ack.ack_number? - 1).0;
    let peer_isn = ack.seq_number - 1;
    let t_now = counter(now);
    let age = t_now.wrapping_sub(cookie >> 27) & 31;
    if age >= COOKIE_MAX_AGE {
        return None;
    }
    let t = t_now.wrapping_sub(age);
    if cookie & 0x00ff_ffff != cookie_hash(secret, local, remote, peer_isn, t) {
        return None;
    }
    MSS_TABLE.get(((cookie >> 24) & 7) as usize).copied()
}

/// The options a cookie connection remembers through the TSval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CookieOptions {
    /// The shift the client offered (its window scale), if any.
    pub window_scale: Option<u8>,
    pub sack: bool,
    pub ecn: bool,
}

/// The TSval to send: `ts_now` with its low bits replaced by `opts`, never
/// later than `ts_now` (so TSvals stay monotonic).
pub fn encode_tsval(ts_now: u32, opts: CookieOptions) -> u32 {
    let ws = opts.window_scale.map_or(WS_NONE, |s| u32::from(s.min(14)));
    let bits = ws | if opts.sack { SACK_BIT } else { 0 } | if opts.ecn { ECN_BIT } else { 0 };
    let v = (ts_now & !TS_OPTION_MASK) | bits;
    if (v.wrapping_sub(ts_now) as i32) > 0 {
        v.wrapping_sub(TS_OPTION_MASK + 1)
    } else {
        v
    }
}

/// The options hidden in an echoed TSval.
pub fn decode_tsecr(tsecr: u32) -> CookieOptions {
    let ws = tsecr & 0xf;
    CookieOptions {
        window_scale: (ws != WS_NONE).then_some(ws.min(14) as u8),
        sack: tsecr & SACK_BIT != 0,
        ecn: tsecr & ECN_BIT != 0,
    }
}

/// The SYN-ACK answering `syn` with `cookie` as our ISN, offering `mss`.
/// `ts_offset` is the connection's TSval offset; the options the SYN asked
/// for are granted only when timestamps carry them back.
pub fn syn_ack(cfg: &TcpConfig, syn: &TcpRepr<'_>, cookie: TcpSeqNumber, mss: u16, now: Instant, ts_offset: u32) -> TcpRepr<'static> {
    let ts = (cfg.timestamps && syn.timestamp.is_some()).then(|| {
        let opts = CookieOptions {
            window_scale: if cfg.window_scaling { syn.window_scale } else { None },
            sack: cfg.sack && syn.sack_permitted,
            ecn: cfg.ecn && syn.flags.contains(TcpFlags::ECE | TcpFlags::CWR),
        };
        let ts_now = (now.total_millis() as u32).wrapping_add(ts_offset);
        (encode_tsval(ts_now, opts), syn.timestamp.map_or(0, |(v, _)| v), opts)
    });
    let opts = ts.map(|(_, _, o)| o).unwrap_or_default();
    let mut flags = TcpFlags::SYN | TcpFlags::ACK;
    if opts.ecn {
        // RFC 3168 §6.1.1: the SYN-ACK of an ECN-setup sets ECE, not CWR.
        flags |= TcpFlags::ECE;
    }
    TcpRepr {
        src_port: syn.dst_port,
        dst_port: syn.src_port,
        seq_number: cookie,
        ack_number: Some(syn.seq_number + 1),
        flags,
        // RFC 7323 §2.2: "The window field in a segment where the SYN bit
        // is set (i.e., a <SYN> or <SYN,ACK>) MUST NOT be scaled."
        window_len: cfg.recv_window_initial.min(65_535) as u16,
        urgent_ptr: 0,
        max_seg_size: Some(mss),
        window_scale: opts.window_scale.map(|_| cfg.window_scale()),
        sack_permitted: opts.sack,
        sack_ranges: [None; 4],
        timestamp: ts.map(|(v, e, _)| (v, e)),
        payload: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (SocketAddr, SocketAddr) {
        ("10.0.0.1:80".parse().unwrap(), "10.0.0.2:5000".parse().unwrap())
    }

    fn ack_for(cookie: TcpSeqNumber, peer_isn: u32) -> TcpRepr<'static> {
        TcpRepr {
            src_port: 5000,
            dst_port: 80,
            seq_number: TcpSeqNumber(peer_isn) + 1,
            ack_number: Some(cookie + 1),
            flags: TcpFlags::ACK,
            window_len: 1000,
            urgent_ptr: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            payload: &[],
        }
    }

    #[test]
    fn cookie_round_trip_and_mss_rounding() {
        let (s, c) = addrs();
        let now = Instant::from_secs(5000);
        for (offered, kept) in [(1460, 1460), (1459, 1440), (9000, 8960), (100, 536), (1220, 1220)] {
            let k = make_cookie(&[1; 16], &s, &c, TcpSeqNumber(42), offered, now);
            assert_eq!(check_cookie(&[1; 16], &s, &c, &ack_for(k, 42), now), Some(kept));
        }
    }

    #[test]
    fn cookie_rejections() {
        let (s, c) = addrs();
        let now = Instant::from_secs(5000);
        let k = make_cookie(&[1; 16], &s, &c, TcpSeqNumber(42), 1460, now);
        // Other secret, other client port, other ISN, a flipped bit.
        assert_eq!(check_cookie(&[2; 16], &s, &c, &ack_for(k, 42), now), None);
        let c2: SocketAddr = "10.0.0.2:5001".parse().unwrap();
        assert_eq!(check_cookie(&[1; 16], &s, &c2, &ack_for(k, 42), now), None);
        assert_eq!(check_cookie(&[1; 16], &s, &c, &ack_for(k, 43), now), None);
        assert_eq!(check_cookie(&[1; 16], &s, &c, &ack_for(TcpSeqNumber(k.0 ^ 1), 42), now), None);
        // Age: accepted up to two periods, refused after.
        let later = now + COOKIE_PERIOD;
        assert!(check_cookie(&[1; 16], &s, &c, &ack_for(k, 42), later).is_some());
        let too_late = now + COOKIE_PERIOD * 2;
        assert_eq!(check_cookie(&[1; 16], &s, &c, &ack_for(k, 42), too_late), None);
        // RST or SYN set: not a handshake ACK.
        let mut rst = ack_for(k, 42);
        rst.flags |= TcpFlags::RST;
        assert_eq!(check_cookie(&[1; 16], &s, &c, &rst, now), None);
        let mut no_ack = ack_for(k, 42);
        no_ack.ack_number = None;
        assert_eq!(check_cookie(&[1; 16], &s, &c, &no_ack, now), None);
    }

    #[test]
    fn tsval_carries_options_and_stays_monotonic() {
        let opts = CookieOptions {
            window_scale: Some(7),
            sack: true,
            ecn: false,
        };
        for now in [0u32, 63, 64, 1_000_000, u32::MAX] {
            let v = encode_tsval(now, opts);
            assert!((now.wrapping_sub(v) as i32) >= 0 && now.wrapping_sub(v) < 64, "{now} {v}");
            assert_eq!(decode_tsecr(v), opts);
        }
        assert_eq!(decode_tsecr(encode_tsval(5000, CookieOptions::default())), CookieOptions::default());
    }

    #[test]
    fn syn_ack_grants_options_only_with_timestamps() {
        let cfg = TcpConfig::default();
        let mut syn = ack_for(TcpSeqNumber(0), 99);
        syn.flags = TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR;
        syn.ack_number = None;
        syn.window_scale = Some(9);
        syn.sack_permitted = true;
        let plain = syn_ack(&cfg, &syn, TcpSeqNumber(7), 1460, Instant::from_secs(9), 0);
        assert_eq!((plain.window_scale, plain.sack_permitted, plain.timestamp), (None, false, None));
        assert!(!plain.flags.contains(TcpFlags::ECE));
        syn.timestamp = Some((1234, 0));
        let r = syn_ack(&cfg, &syn, TcpSeqNumber(7), 1460, Instant::from_secs(9), 0);
        assert_eq!(r.window_scale, Some(cfg.window_scale()));
        assert!(r.sack_permitted && r.flags.contains(TcpFlags::ECE | TcpFlags::SYN | TcpFlags::ACK));
        let (tsval, tsecr) = r.timestamp.unwrap();
        assert_eq!(tsecr, 1234);
        assert_eq!(
            decode_tsecr(tsval),
            CookieOptions {
                window_scale: Some(9),
                sack: true,
                ecn: true
            }
        );
        assert_eq!(r.ack_number, Some(TcpSeqNumber(101)));
    }
}
