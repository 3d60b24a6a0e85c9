//! TCP: the per-connection engine (RFC 9293 and its companions), sans-IO.
//!
//! A [`Connection`] is one TCB. The stack feeds it segments
//! ([`Connection::on_segment`]), time ([`Connection::on_timer`] at
//! [`Connection::poll_at`]) and user calls ([`Connection::send`],
//! [`Connection::recv`], [`Connection::close`], ...), and collects what it
//! must transmit with [`Connection::poll_transmit`]. Nothing here touches a
//! device, reads a clock or wakes a task: the stack owns demultiplexing,
//! listeners, the SYN and accept queues, TIME-WAIT records
//! ([`TimeWaitRecord`]), ISN secrets ([`isn`]), SYN cookies
//! ([`syn_cookie`]) and wakers.
//!
//! What a connection speaks: every state of RFC 9293 including
//! simultaneous open and close; RFC 5961 (challenge ACKs for in-window RST
//! and SYN, ACK validation); MSS, window scale and timestamps with PAWS
//! (RFC 7323); SACK and D-SACK (RFC 2018, RFC 2883) with RFC 6675 loss
//! recovery (RFC 6582 NewReno without SACK); RFC 6298 retransmission timer
//! (200 ms floor, like Linux); NewReno and CUBIC (RFC 9438) congestion
//! control with IW10 (RFC 6928); ECN (RFC 3168); silly-window avoidance on
//! both sides, Nagle (with Minshall's refinement, as Linux), delayed ACKs,
//! persist timer and keepalive; time-based loss detection and tail loss
//! probes after RFC 8985 (RACK-TLP, adapted to a byte-range scoreboard);
//! undo of spurious recoveries with timestamps (RFC 3522, RFC 4015).
//!
//! Files: `connection.rs` (the TCB and constructors), `input.rs` (RFC 9293
//! §3.10.7 SEGMENT ARRIVES), `recovery.rs` (the ACK field, RTT, loss
//! recovery), `rack.rs` (RACK-TLP), `output.rs` (what to send), `timers.rs`,
//! `user.rs` (SEND, RECEIVE, CLOSE, ABORT, options, `TcpInfo`); the
//! building blocks each have their own module below.
//!
//! What the stack must know: `ce` in [`Connection::on_segment`] is the IP
//! header's ECN field equal to CE; `emit(segment, ect)` asks for ECT(0) in
//! the IP header; after [`SegmentOutcome::SendReset`] a connection whose
//! [`Connection::state`] is `Closed` is gone; [`Connection::close`] and
//! [`Connection::abort`] return the reset to send, if any; ICMP errors in
//! SYN-SENT close the connection (check `state()` after
//! [`Connection::on_icmp_error`]). Use one TSval offset per address pair
//! ([`isn::timestamp_offset`]) — the same for a SYN-cookie SYN-ACK and the
//! connection [`Connection::from_cookie`] restores — so TSvals never step
//! back.
//!
//! ```
//! use mnet::tcp::{Connection, State, TcpConfig};
//! use mnet::ip::rate_limit::TokenBucket;
//! use mnet::wire::{TcpRepr, TcpSeqNumber};
//! use mnet::Instant;
//!
//! let cfg = TcpConfig::default();
//! let (a, b) = ("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:80".parse().unwrap());
//! let now = Instant::from_secs(1);
//! let mut client = Connection::connect(&cfg, a, b, TcpSeqNumber(1000), 1460, now, 0);
//!
//! // The SYN comes out of poll_transmit (payload-less segments are copied
//! // out of the callback with `payload: &[]`).
//! let mut syn = None;
//! client.poll_transmit(now, &mut |seg: &TcpRepr<'_>, _ect| { syn = Some(TcpRepr { payload: &[], ..*seg }); true });
//! let syn = syn.unwrap();
//! assert!(syn.flags.contains(mnet::wire::TcpFlags::SYN));
//! assert_eq!(client.state(), State::SynSent);
//!
//! // A server built from that SYN answers; the handshake completes.
//! let mut server = Connection::accept(&cfg, b, a, &syn, TcpSeqNumber(5000), 1460, now, 0);
//! let mut bucket = TokenBucket::new(1000, 1000);
//! let mut syn_ack = None;
//! server.poll_transmit(now, &mut |seg, _| { syn_ack = Some(TcpRepr { payload: &[], ..*seg }); true });
//! client.on_segment(now, &syn_ack.unwrap(), false, &mut bucket);
//! assert!(client.is_established());
//! ```

pub mod assembler;
pub mod congestion;
pub mod isn;
pub mod recv_buffer;
pub mod ring;
pub mod rtt;
pub mod sack;
pub mod send_buffer;
pub mod state;
pub mod syn_cookie;
pub mod time_wait;

mod connection;
mod input;
mod output;
mod rack;
mod recovery;
mod timers;
mod user;

#[cfg(test)]
mod tests;

pub use congestion::{Congestion, CongestionControl};
pub use connection::{ConfigRef, Connection, SegmentOutcome, TcpInfo, TimerOutcome};
pub use input::reset_for;
pub use output::Emit;
pub use state::State;
pub use time_wait::{TimeWaitAction, TimeWaitRecord};

use crate::ip::rate_limit::TokenBucket;
use crate::time::Duration;

/// RFC 9293 §3.7.1: "If an MSS Option is not received at connection
/// setup, TCP implementations MUST assume a default send MSS of 536
/// (576 - 40) for IPv4 or 1220 (1280 - 60) for IPv6 (MUST-15)."
pub const MSS_DEFAULT_IPV4: u16 = 536;
/// The IPv6 default of the same rule.
pub const MSS_DEFAULT_IPV6: u16 = 1220;

/// Lower bound of the RTO: Linux's `TCP_RTO_MIN` (a deliberate departure
/// from RFC 6298 §2.4's 1 second, see [`rtt`]).
pub const RTO_MIN: Duration = Duration::from_millis(200);
/// Upper bound of the RTO: Linux's `TCP_RTO_MAX`.
pub const RTO_MAX: Duration = Duration::from_secs(120);
/// RFC 6298 §2.1: "the sender SHOULD set RTO <- 1 second".
pub const RTO_INITIAL: Duration = Duration::from_secs(1);
/// RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN segment
/// and the TCP implementation is using an RTO less than 3 seconds, the RTO
/// MUST be re-initialized to 3 seconds when data transmission begins".
pub const RTO_AFTER_SYN_LOSS: Duration = Duration::from_secs(3);
/// Data retransmissions before giving up (Linux `tcp_retries2`). RFC 1122
/// §4.2.3.5: "R2 SHOULD correspond to at least 100 seconds."
pub const MAX_RETRIES: u32 = 15;
/// SYN retransmissions before giving up (Linux `tcp_syn_retries`).
pub const MAX_SYN_RETRIES: u32 = 6;
/// SYN-ACK retransmissions before giving up (Linux `tcp_synack_retries`).
pub const MAX_SYNACK_RETRIES: u32 = 5;
/// Maximum segment lifetime. RFC 9293 §3.4.2 takes "MSL = 2 minutes"; we
/// use 30 s, as Linux's 60-second TIME-WAIT does (TIME-WAIT = 2 * MSL).
pub const MSL: Duration = Duration::from_secs(30);
/// RFC 9293 §3.8.6.3: "the delay MUST be less than 0.5 seconds (MUST-40)";
/// Linux's `TCP_DELACK_MIN` is 40 ms.
pub const ACK_DELAY: Duration = Duration::from_millis(40);
/// How long a closed socket may wait in FIN-WAIT-2 for the peer's FIN
/// (Linux `tcp_fin_timeout`).
pub const FIN_WAIT_2_TIMEOUT: Duration = Duration::from_secs(60);
/// Default maximum of each socket buffer.
pub const BUFFER_MAX: usize = 4 << 20;
/// The receive window a connection starts with before autotuning grows it
/// (Linux's default `tcp_rmem` gives about 64 KiB).
pub const RECV_WINDOW_INITIAL: usize = 64 << 10;
/// The send buffer limit a connection starts with (then 2 x cwnd).
pub const SEND_BUFFER_INITIAL: usize = 64 << 10;
/// RFC 6928: an initial window of 10 segments.
pub const INITIAL_WINDOW_SEGMENTS: u32 = 10;
/// How long empty buffers keep their memory before giving it back.
pub const BUFFER_IDLE_RELEASE: Duration = Duration::from_secs(1);
/// RFC 5961 §7: "An implementation SHOULD include an ACK throttling
/// mechanism to be conservative." Linux's `tcp_challenge_ack_limit`.
pub const CHALLENGE_ACK_LIMIT: u32 = 1000;
/// Linux's `tcp_invalid_ratelimit`: one ACK per this interval per
/// connection in answer to out-of-window pure ACKs (stops ACK loops).
pub const OUT_OF_WINDOW_ACK_INTERVAL: Duration = Duration::from_millis(500);

/// The bucket the stack passes to [`Connection::on_segment`] for challenge
/// ACKs (one per stack, shared by every connection).
pub fn challenge_ack_bucket() -> TokenBucket {
    TokenBucket::new(CHALLENGE_ACK_LIMIT, CHALLENGE_ACK_LIMIT)
}

/// Keepalive parameters (RFC 9293 §3.8.4; RFC 1122 §4.2.3.6: "This
/// interval MUST be configurable and MUST default to no less than two
/// hours.").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before the first probe (Linux `tcp_keepalive_time`, 2 h).
    pub idle: Duration,
    /// Time between unanswered probes (Linux `tcp_keepalive_intvl`, 75 s).
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped (Linux
    /// `tcp_keepalive_probes`, 9).
    pub probes: u32,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            probes: 9,
        }
    }
}

/// Which congestion control algorithm a connection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CongestionKind {
    /// RFC 9438 (the default, as in Linux).
    #[default]
    Cubic,
    /// RFC 5681 / RFC 6582.
    NewReno,
}

/// Per-connection parameters. Every field has a documented default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConfig {
    /// Send MSS assumed when the peer sends no MSS option: 536
    /// ([`MSS_DEFAULT_IPV4`]); IPv6 connections use at least
    /// [`MSS_DEFAULT_IPV6`].
    pub mss_default: u16,
    /// [`RTO_MIN`].
    pub rto_min: Duration,
    /// [`RTO_MAX`].
    pub rto_max: Duration,
    /// [`RTO_INITIAL`].
    pub rto_initial: Duration,
    /// [`MAX_RETRIES`]: consecutive retransmission timeouts before
    /// `TimedOut`.
    pub max_retries: u32,
    /// [`MAX_SYN_RETRIES`].
    pub max_syn_retries: u32,
    /// [`MAX_SYNACK_RETRIES`].
    pub max_synack_retries: u32,
    /// [`MSL`]; TIME-WAIT lasts twice this.
    pub msl: Duration,
    /// Nagle's algorithm (RFC 9293 §3.7.4), on by default.
    pub nagle: bool,
    /// [`ACK_DELAY`].
    pub delayed_ack: Duration,
    /// Keepalive, off by default.
    pub keepalive: Option<Keepalive>,
    /// [`BUFFER_MAX`].
    pub send_buffer_max: usize,
    /// [`BUFFER_MAX`]; also decides the window scale we offer.
    pub recv_buffer_max: usize,
    /// [`RECV_WINDOW_INITIAL`].
    pub recv_window_initial: usize,
    /// [`INITIAL_WINDOW_SEGMENTS`].
    pub initial_window_segments: u32,
    /// CUBIC by default.
    pub congestion: CongestionKind,
    /// Bound on out-of-order ranges held ([`assembler::MAX_RANGES`]).
    pub max_ooo_ranges: usize,
    /// SACK-permitted offered and accepted (RFC 2018).
    pub sack: bool,
    /// Timestamps offered and accepted (RFC 7323).
    pub timestamps: bool,
    /// Window scaling offered and accepted (RFC 7323).
    pub window_scaling: bool,
    /// ECN negotiated (RFC 3168).
    pub ecn: bool,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss_default: MSS_DEFAULT_IPV4,
            rto_min: RTO_MIN,
            rto_max: RTO_MAX,
            rto_initial: RTO_INITIAL,
            max_retries: MAX_RETRIES,
            max_syn_retries: MAX_SYN_RETRIES,
            max_synack_retries: MAX_SYNACK_RETRIES,
            msl: MSL,
            nagle: true,
            delayed_ack: ACK_DELAY,
            keepalive: None,
            send_buffer_max: BUFFER_MAX,
            recv_buffer_max: BUFFER_MAX,
            recv_window_initial: RECV_WINDOW_INITIAL,
            initial_window_segments: INITIAL_WINDOW_SEGMENTS,
            congestion: CongestionKind::Cubic,
            max_ooo_ranges: assembler::MAX_RANGES,
            sack: true,
            timestamps: true,
            window_scaling: true,
            ecn: true,
        }
    }
}

impl TcpConfig {
    /// The window scale we offer: the smallest shift that lets the window
    /// field cover the receive buffer maximum (RFC 7323 §2.3, at most 14).
    pub fn window_scale(&self) -> u8 {
        let mut shift = 0u8;
        while shift < crate::wire::tcp::MAX_WINDOW_SCALE && (65_535usize << shift) < self.recv_buffer_max {
            shift += 1;
        }
        shift
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn window_scale_covers_the_buffer() {
        let c = TcpConfig::default();
        assert_eq!(c.window_scale(), 7, "4 MiB needs a shift of 7");
        let small = TcpConfig {
            recv_buffer_max: 65_535,
            ..c
        };
        assert_eq!(small.window_scale(), 0);
        let huge = TcpConfig {
            recv_buffer_max: usize::MAX,
            ..c
        };
        assert_eq!(huge.window_scale(), 14);
    }
}
