//! The transmission control block (RFC 9293 §3.3.1) and the user calls
//! (RFC 9293 §3.10.1 to §3.10.6).
//!
//! Segment arrival lives in `input.rs`, acknowledgment and loss recovery in
//! `recovery.rs`, segment output in `output.rs`, timers in `timers.rs`; all
//! are `impl Connection` blocks over the fields declared here.
//!
//! Sequence space is kept twice: as [`TcpSeqNumber`]s where the RFC
//! compares modulo 2^32 (acceptability tests), and as 64-bit *offsets*
//! from the ISNs (the SYN is offset 0, the first data byte offset 1) for
//! everything that indexes buffers and scoreboards, so internal ranges
//! never wrap.

use alloc::vec::Vec;
use core::net::SocketAddr;

use super::congestion::{Congestion, CongestionControl};
use super::recv_buffer::RecvBuffer;
use super::rtt::RttEstimator;
use super::sack::{MAX_SCOREBOARD_RANGES, SackReporter, Scoreboard};
use super::send_buffer::SendBuffer;
use super::syn_cookie;
use super::time_wait::{TimeWaitRecord, TimeWaitTimestamps};
use super::{Keepalive, MSS_DEFAULT_IPV6, SEND_BUFFER_INITIAL, State, TcpConfig};
use crate::error::{Error, Result};
use crate::ip::rate_limit::TokenBucket;
use crate::time::{Duration, Instant};
use crate::wire::{TcpFlags, TcpRepr, TcpSeqNumber};

/// What the stack must do after [`Connection::on_segment`], beyond calling
/// [`Connection::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentOutcome {
    /// Nothing more.
    Ok,
    /// Send this reset (RFC 9293 §3.10.7). If [`Connection::state`] is
    /// now `Closed`, the connection is gone as well: remove it.
    SendReset(TcpRepr<'static>),
    /// The connection is gone (reset by the peer, or fully closed): remove
    /// it. [`Connection::error`] says why, if it was an error.
    Closed,
    /// The connection entered TIME-WAIT: replace it with
    /// [`Connection::time_wait_record`].
    TimeWait,
}

/// What the stack must do after [`Connection::on_timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerOutcome {
    Ok,
    /// The connection is gone (retries exhausted: `error()` is `TimedOut`
    /// or the last ICMP soft error; or TIME-WAIT ended): remove it.
    Closed,
}

/// A snapshot of a connection, like Linux's `ss -ti`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    pub state: State,
    pub congestion: &'static str,
    /// Congestion window and slow-start threshold, bytes.
    pub cwnd: usize,
    pub ssthresh: usize,
    pub srtt: Option<Duration>,
    pub rttvar: Duration,
    pub min_rtt: Option<Duration>,
    pub rto: Duration,
    /// Effective send MSS (payload bytes per segment, options excluded).
    pub snd_mss: usize,
    /// The MSS we advertised.
    pub rcv_mss: u16,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub timestamps: bool,
    pub sack: bool,
    pub ecn: bool,
    /// Peer's window, bytes.
    pub snd_wnd: u64,
    /// Window we last offered, bytes.
    pub rcv_wnd: u64,
    /// Bytes in flight (sent, not cumulatively acknowledged).
    pub bytes_in_flight: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_out: u64,
    pub segs_in: u64,
    /// Segments retransmitted, in total.
    pub retransmits: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Fast retransmits (entries into fast recovery).
    pub fast_retransmits: u64,
    pub dsacks_received: u64,
    pub challenge_acks: u64,
    pub ecn_reductions: u64,
    /// Out-of-order ranges held now.
    pub ooo_ranges: usize,
    /// Out-of-order bytes dropped to stay within bounds.
    pub ooo_bytes_dropped: u64,
    /// Memory held by the send and receive buffers.
    pub send_buffer_bytes: usize,
    pub recv_buffer_bytes: usize,
}

/// Counters behind [`TcpInfo`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counters {
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_out: u64,
    pub segs_in: u64,
    pub retransmits: u64,
    pub timeouts: u64,
    pub fast_retransmits: u64,
    pub dsacks_received: u64,
    pub challenge_acks: u64,
    pub ecn_reductions: u64,
    pub ooo_bytes_dropped: u64,
}

/// Negotiated timestamps (RFC 7323 §3.2 "Snd.TS.OK").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timestamps {
    /// TS.Recent.
    pub recent: u32,
    /// When TS.Recent was last set (RFC 7323 §5.5 invalidates it after 24
    /// days of idleness).
    pub recent_at: Instant,
}

/// Why the connection is retransmitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RecoveryKind {
    /// Fast retransmit / fast recovery (RFC 6675 with SACK, RFC 6582
    /// without).
    Fast,
    /// After a retransmission timeout: everything un-SACKed is lost.
    Timeout,
    /// The path MTU shrank: resend what was in flight, no window change.
    PathMtu,
}

/// A loss recovery episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Recovery {
    pub kind: RecoveryKind,
    /// RFC 6675 RecoveryPoint (RFC 6582 "recover"): HighData at the start.
    pub point: u64,
    /// RFC 6582 (no SACK): the inflated window of NewReno fast recovery.
    pub inflated: usize,
}

/// One TCP connection.
#[derive(Debug)]
pub struct Connection {
    pub(super) cfg: TcpConfig,
    pub(super) local: SocketAddr,
    pub(super) remote: SocketAddr,
    pub(super) state: State,
    /// Opened from a listener (RFC 9293: "the connection was initiated
    /// with a passive OPEN").
    pub(super) passive: bool,
    pub(super) error: Option<Error>,
    /// The last ICMP soft error (RFC 1122 §4.2.3.9), reported if the
    /// connection times out.
    pub(super) soft_error: Option<Error>,

    // Send sequence space, offsets from ISS (RFC 9293 §3.3.1).
    pub(super) iss: TcpSeqNumber,
    pub(super) snd_una: u64,
    /// HighData + 1: the next new offset to send (never moves back;
    /// retransmissions are tracked by the recovery state).
    pub(super) snd_nxt: u64,
    pub(super) snd_wnd: u64,
    pub(super) snd_wl1: TcpSeqNumber,
    pub(super) snd_wl2: TcpSeqNumber,
    /// RFC 5961 §5.2 MAX.SND.WND.
    pub(super) max_snd_wnd: u64,
    /// The peer's window shift (applied to windows it sends).
    pub(super) snd_wscale: u8,
    pub(super) send: SendBuffer,
    /// The end of the last segment sent shorter than the MSS (Minshall's
    /// Nagle variant).
    pub(super) last_small_end: u64,
    /// The user shut down writing: a FIN follows the queued data.
    pub(super) fin_queued: bool,
    /// Where that FIN sits (the data end when it was queued; no data can
    /// follow it).
    pub(super) fin_offset: u64,

    // Receive sequence space, offsets from IRS.
    pub(super) irs: TcpSeqNumber,
    pub(super) recv: RecvBuffer,
    /// The right edge of the window we last offered (RCV.NXT + RCV.WND).
    pub(super) rcv_adv: u64,
    /// Our window shift.
    pub(super) rcv_wscale: u8,
    /// Where the peer's FIN sits, once seen inside the window.
    pub(super) fin_at: Option<u64>,
    /// The peer's FIN was reached in order: end of stream.
    pub(super) fin_rcvd: bool,
    /// The user closed: data arriving now is answered with a reset.
    pub(super) read_closed: bool,
    /// Estimate of the peer's segment size (for delayed ACKs).
    pub(super) rcv_mss: usize,
    /// Receiver-side RTT estimate from echoed timestamps (autotuning).
    pub(super) rcv_rtt: Option<Duration>,

    // Options.
    pub(super) peer_mss: u16,
    /// The MSS we advertised.
    pub(super) adv_mss: u16,
    /// The largest payload the path allows now (set_mss).
    pub(super) path_mss: u16,
    pub(super) ts: Option<Timestamps>,
    /// We offered timestamps in our SYN (SYN-SENT).
    pub(super) ts_offered: bool,
    pub(super) ts_offset: u32,
    pub(super) sack_ok: bool,
    pub(super) ecn_ok: bool,
    /// Window scaling is in use (both SYNs carried the option).
    pub(super) ws_ok: bool,
    /// RFC 9293 §3.8.6.2.1 (4): the override timeout fired; send what the
    /// window allows even if it is small.
    pub(super) force_send: bool,
    /// RFC 7323 §4.3 Last.ACK.sent.
    pub(super) last_ack_sent: TcpSeqNumber,

    // Timers.
    pub(super) rtt: RttEstimator,
    /// Retransmission timer (SYN, SYN-ACK, data, FIN).
    pub(super) rtx_at: Option<Instant>,
    /// Consecutive expirations without progress.
    pub(super) retries: u32,
    pub(super) persist_at: Option<Instant>,
    pub(super) persist_probes: u32,
    pub(super) delack_at: Option<Instant>,
    pub(super) keepalive: Option<Keepalive>,
    pub(super) keepalive_at: Option<Instant>,
    pub(super) keepalive_probes: u32,
    pub(super) time_wait_at: Option<Instant>,
    pub(super) release_at: Option<Instant>,
    /// Karn's algorithm without timestamps: one timed offset at a time.
    pub(super) rtt_probe: Option<(u64, Instant)>,
    /// When new data was last sent (RFC 5681 §4.1 restart after idle).
    pub(super) last_send: Instant,
    /// The SYN (or SYN-ACK) had to be retransmitted.
    pub(super) syn_retransmitted: bool,

    // Congestion control and loss recovery.
    pub(super) cc: Congestion,
    pub(super) scoreboard: Scoreboard,
    pub(super) dupacks: u32,
    pub(super) recovery: Option<Recovery>,
    /// RFC 6675 HighRxt: the highest offset retransmitted (exclusive).
    pub(super) high_rxt: u64,
    /// RFC 6675 RescueRxt.
    pub(super) rescue_rxt: Option<u64>,
    /// Every un-SACKed offset below this is considered lost.
    pub(super) lost_below: u64,
    /// No new fast recovery until SND.UNA passes this (RFC 6582 "recover").
    pub(super) recover: u64,
    /// The window, not the application, limited the last transmission.
    pub(super) cwnd_limited: bool,
    /// The retransmission timer fired and no ACK advanced since.
    pub(super) rto_repeated: bool,

    // Acknowledgments we owe.
    pub(super) ack_now: bool,
    pub(super) unacked_bytes: usize,
    pub(super) sack_rep: SackReporter,
    /// Last ACK sent in answer to an out-of-window pure ACK.
    pub(super) last_oow_ack: Option<Instant>,
    /// A SYN or SYN-ACK must go out.
    pub(super) syn_due: bool,
    /// A zero-window probe must go out.
    pub(super) probe_due: bool,
    /// A keepalive probe must go out.
    pub(super) keepalive_due: bool,

    // ECN (RFC 3168).
    /// A CE mark arrived: set ECE on ACKs until the peer sends CWR.
    pub(super) ece_echo: bool,
    /// The window was reduced for ECE: set CWR on the next new data.
    pub(super) cwr_due: bool,
    /// React to ECE again only after SND.UNA passes this.
    pub(super) ecn_recover: u64,

    pub(super) stats: Counters,
    /// The latest `now` any entry point was given (user calls carry none).
    pub(super) clock: Instant,
    /// Room to make a payload that wraps the send ring contiguous.
    pub(super) scratch: Vec<u8>,
}

impl Connection {
    /// The common part of every constructor.
    fn base(
        cfg: &TcpConfig,
        local: SocketAddr,
        remote: SocketAddr,
        iss: TcpSeqNumber,
        mss: u16,
        now: Instant,
        ts_offset: u32,
    ) -> Connection {
        let mss = mss.max(64);
        // IPv6 has a larger default send MSS (RFC 9293 §3.7.1).
        let default_mss = if remote.is_ipv6() {
            cfg.mss_default.max(MSS_DEFAULT_IPV6)
        } else {
            cfg.mss_default
        };
        Connection {
            cfg: *cfg,
            local,
            remote,
            state: State::Closed,
            passive: false,
            error: None,
            soft_error: None,
            iss,
            snd_una: 0,
            snd_nxt: 0,
            snd_wnd: 0,
            snd_wl1: TcpSeqNumber(0),
            snd_wl2: iss,
            max_snd_wnd: 0,
            snd_wscale: 0,
            send: SendBuffer::new(SEND_BUFFER_INITIAL, cfg.send_buffer_max),
            last_small_end: 0,
            fin_queued: false,
            fin_offset: 0,
            irs: TcpSeqNumber(0),
            recv: RecvBuffer::new(1, cfg.recv_window_initial, cfg.recv_buffer_max, cfg.max_ooo_ranges),
            rcv_adv: 1,
            rcv_wscale: 0,
            fin_at: None,
            fin_rcvd: false,
            read_closed: false,
            rcv_mss: usize::from(mss.min(default_mss)),
            rcv_rtt: None,
            peer_mss: default_mss,
            adv_mss: mss,
            path_mss: mss,
            ts: None,
            ts_offered: false,
            ts_offset,
            sack_ok: false,
            ecn_ok: false,
            ws_ok: false,
            force_send: false,
            last_ack_sent: TcpSeqNumber(0),
            rtt: RttEstimator::new(cfg.rto_initial, cfg.rto_min, cfg.rto_max),
            rtx_at: None,
            retries: 0,
            persist_at: None,
            persist_probes: 0,
            delack_at: None,
            keepalive: cfg.keepalive,
            keepalive_at: None,
            keepalive_probes: 0,
            time_wait_at: None,
            release_at: None,
            rtt_probe: None,
            last_send: now,
            syn_retransmitted: false,
            cc: Congestion::new(cfg.congestion, usize::from(default_mss.min(mss)), cfg.initial_window_segments),
            scoreboard: Scoreboard::new(MAX_SCOREBOARD_RANGES),
            dupacks: 0,
            recovery: None,
            high_rxt: 0,
            rescue_rxt: None,
            lost_below: 0,
            recover: 0,
            cwnd_limited: false,
            rto_repeated: false,
            ack_now: false,
            unacked_bytes: 0,
            sack_rep: SackReporter::default(),
            last_oow_ack: None,
            syn_due: false,
            probe_due: false,
            keepalive_due: false,
            ece_echo: false,
            cwr_due: false,
            ecn_recover: 0,
            stats: Counters::default(),
            clock: now,
            scratch: Vec::new(),
        }
    }

    /// Active open (RFC 9293 §3.10.1): state SYN-SENT; the SYN comes out of
    /// the next [`Connection::poll_transmit`]. `mss` is the largest payload
    /// the path allows (MTU minus IP and TCP headers); it is what we
    /// advertise.
    pub fn connect(
        cfg: &TcpConfig,
        local: SocketAddr,
        remote: SocketAddr,
        iss: TcpSeqNumber,
        mss: u16,
        now: Instant,
        ts_offset: u32,
    ) -> Connection {
        let mut c = Connection::base(cfg, local, remote, iss, mss, now, ts_offset);
        c.state = State::SynSent;
        c.syn_due = true;
        c.ts_offered = cfg.timestamps;
        if cfg.window_scaling {
            c.rcv_wscale = cfg.window_scale();
        }
        c.keepalive_at = None;
        c
    }

    /// Takes the options of the peer's SYN (RFC 9293 §3.7.1, RFC 7323,
    /// RFC 2018, RFC 3168): each is used only if both sides offered it.
    pub(super) fn adopt_syn_options(&mut self, syn: &TcpRepr<'_>, now: Instant) {
        if let Some(mss) = syn.max_seg_size {
            // RFC 9293 §3.7.1: the send MSS is the peer's MSS option; a
            // nonsensical value is raised to a floor that still works.
            self.peer_mss = mss.max(64);
        }
        // RFC 7323 §2.2: "This option is an offer, not a promise; both
        // sides MUST send Window Scale options in their <SYN> segments to
        // enable window scaling in either direction."
        match (self.cfg.window_scaling, syn.window_scale) {
            (true, Some(shift)) => {
                self.snd_wscale = shift.min(crate::wire::tcp::MAX_WINDOW_SCALE);
                self.rcv_wscale = self.cfg.window_scale();
                self.ws_ok = true;
            }
            _ => {
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
                self.ws_ok = false;
            }
        }
        // RFC 7323 §3.2: timestamps are used when both <SYN> and <SYN,ACK>
        // carry TSopt.
        self.ts = match (self.cfg.timestamps, syn.timestamp) {
            (true, Some((tsval, _))) => Some(Timestamps {
                recent: tsval,
                recent_at: now,
            }),
            _ => None,
        };
        // RFC 2018 §2: "The SACK-permitted option ... may be sent in a SYN
        // by a TCP that has been extended to receive (and presumably
        // process) the SACK option once the connection has opened."
        self.sack_ok = self.cfg.sack && syn.sack_permitted;
        self.cc
            .set_window(super::congestion::initial_window(self.cfg.initial_window_segments, self.eff_mss()));
    }

    /// Passive open from a SYN the listener accepted (RFC 9293 §3.10.7.2):
    /// state SYN-RECEIVED; the SYN-ACK comes out of `poll_transmit`.
    #[allow(clippy::too_many_arguments)]
    pub fn accept(
        cfg: &TcpConfig,
        local: SocketAddr,
        remote: SocketAddr,
        syn: &TcpRepr<'_>,
        iss: TcpSeqNumber,
        mss: u16,
        now: Instant,
        ts_offset: u32,
    ) -> Connection {
        let mut c = Connection::base(cfg, local, remote, iss, mss, now, ts_offset);
        c.state = State::SynReceived;
        c.passive = true;
        // "Set RCV.NXT to SEG.SEQ+1, IRS is set to SEG.SEQ, and any other
        // control or text should be queued for processing later. ISS
        // should be selected and a SYN segment sent of the form:
        // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>"
        c.irs = syn.seq_number;
        c.adopt_syn_options(syn, now);
        // RFC 3168 §6.1.1: "If the SYN packet ... has both ECE and CWR set
        // ... the host ... sends an ECN-setup SYN-ACK packet".
        c.ecn_ok = cfg.ecn && syn.flags.contains(TcpFlags::ECE | TcpFlags::CWR);
        // RFC 7323 §2.2: the SYN's window is never scaled.
        c.snd_wnd = u64::from(syn.window_len);
        c.max_snd_wnd = c.snd_wnd;
        c.snd_wl1 = syn.seq_number;
        c.snd_wl2 = iss;
        c.syn_due = true;
        c
    }

    /// A connection restored from a valid SYN-cookie ACK (RFC 4987 §3.6):
    /// ESTABLISHED at once. `iss` is the cookie (SEG.ACK - 1), `peer_mss`
    /// what [`syn_cookie::check_cookie`] returned, `mss` ours. Window
    /// scale, SACK and ECN come back from the echoed TSval when the peer
    /// uses timestamps ([`syn_cookie::syn_ack`]). Any data or FIN the ACK
    /// carries is processed here.
    #[allow(clippy::too_many_arguments)]
    pub fn from_cookie(
        cfg: &TcpConfig,
        local: SocketAddr,
        remote: SocketAddr,
        ack: &TcpRepr<'_>,
        iss: TcpSeqNumber,
        peer_mss: u16,
        mss: u16,
        now: Instant,
        ts_offset: u32,
    ) -> Connection {
        let mut c = Connection::base(cfg, local, remote, iss, mss, now, ts_offset);
        c.passive = true;
        c.irs = ack.seq_number - 1;
        c.peer_mss = peer_mss.max(64);
        if let (true, Some((tsval, tsecr))) = (cfg.timestamps, ack.timestamp) {
            let opts = syn_cookie::decode_tsecr(tsecr);
            c.ts = Some(Timestamps {
                recent: tsval,
                recent_at: now,
            });
            if let (true, Some(shift)) = (cfg.window_scaling, opts.window_scale) {
                c.snd_wscale = shift;
                c.rcv_wscale = cfg.window_scale();
                c.ws_ok = true;
            }
            c.sack_ok = cfg.sack && opts.sack;
            c.ecn_ok = cfg.ecn && opts.ecn;
        }
        c.cc.set_window(super::congestion::initial_window(cfg.initial_window_segments, c.eff_mss()));
        c.snd_una = 1;
        c.snd_nxt = 1;
        c.high_rxt = 1;
        c.snd_wnd = u64::from(ack.window_len) << c.snd_wscale;
        c.max_snd_wnd = c.snd_wnd;
        c.snd_wl1 = ack.seq_number;
        c.snd_wl2 = ack.ack_number.unwrap_or(iss + 1);
        // The SYN-ACK offered the unscaled initial window.
        c.rcv_adv = 1 + cfg.recv_window_initial.min(65_535) as u64;
        c.last_ack_sent = ack.seq_number;
        c.state = State::Established;
        c.on_established(now);
        // Data riding on the handshake ACK.
        if ack.segment_len() > 0 {
            let mut none = TokenBucket::new(0, 0);
            let _ = c.on_segment(now, ack, false, &mut none);
        }
        c
    }

    /// Bookkeeping when the handshake completes.
    pub(super) fn on_established(&mut self, now: Instant) {
        // RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN
        // segment and the TCP implementation is using an RTO less than 3
        // seconds, the RTO MUST be re-initialized to 3 seconds when data
        // transmission begins (i.e., after the three-way handshake
        // completes)."
        if self.syn_retransmitted && !self.rtt.has_sample() {
            self.rtt.set_base_rto(super::RTO_AFTER_SYN_LOSS);
        }
        self.rtt.reset_backoff();
        // RFC 5681 §3.1: "if the SYN or SYN/ACK is lost, the initial window
        // used by a sender after a correctly transmitted SYN MUST be one
        // segment consisting of at most SMSS bytes."
        if self.syn_retransmitted {
            self.cc.set_window(self.eff_mss());
        }
        self.retries = 0;
        self.rtx_at = None;
        self.last_send = now;
        self.restart_keepalive(now);
    }

    // ----- sequence space helpers -----

    /// Our sequence number at send offset `off`.
    pub(super) fn snd_seq(&self, off: u64) -> TcpSeqNumber {
        self.iss + (off as u32 as usize)
    }

    /// The send offset of sequence number `seq`, relative to SND.UNA
    /// (negative results are `None`).
    pub(super) fn snd_off(&self, seq: TcpSeqNumber) -> Option<u64> {
        let d = i64::from(seq.signed_diff(self.snd_seq(self.snd_una)));
        u64::try_from(self.snd_una as i64 + d).ok()
    }

    /// RCV.NXT as an offset: in-order data, plus one for a FIN reached.
    pub(super) fn rcv_nxt_off(&self) -> u64 {
        self.recv.next() + u64::from(self.fin_rcvd)
    }

    /// RCV.NXT.
    pub(super) fn rcv_nxt(&self) -> TcpSeqNumber {
        self.irs + (self.rcv_nxt_off() as u32 as usize)
    }

    /// The receive offset of `seq`, relative to RCV.NXT.
    pub(super) fn rcv_off(&self, seq: TcpSeqNumber) -> i64 {
        self.rcv_nxt_off() as i64 + i64::from(seq.signed_diff(self.rcv_nxt()))
    }

    /// The offset just past the data queued by the user (where the FIN
    /// goes).
    pub(super) fn data_end(&self) -> u64 {
        self.snd_una.max(1) + self.send.len() as u64
    }

    /// The offset of our FIN, once queued.
    pub(super) fn fin_off(&self) -> Option<u64> {
        self.fin_queued.then_some(self.fin_offset)
    }

    /// Queues our FIN after the data written so far.
    fn queue_fin(&mut self) {
        if !self.fin_queued {
            self.fin_queued = true;
            self.fin_offset = self.data_end();
        }
    }

    /// Our FIN has been sent.
    pub(super) fn fin_sent(&self) -> bool {
        self.fin_off().is_some_and(|f| self.snd_nxt > f)
    }

    /// Our FIN has been acknowledged.
    pub(super) fn fin_acked(&self) -> bool {
        self.fin_off().is_some_and(|f| self.snd_una > f)
    }

    /// TCP option bytes on every data segment (timestamps: 10 + 2 NOPs).
    pub(super) fn option_overhead(&self) -> usize {
        if self.ts.is_some() { 12 } else { 0 }
    }

    /// Eff.snd.MSS (RFC 9293 §3.7.1): "The MSS value to be sent in an MSS
    /// option must be less than or equal to: MMS_R - 20 ... Eff.snd.MSS =
    /// min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize", i.e. the
    /// smaller of the peer's MSS and our path's, less our option bytes.
    pub fn eff_mss(&self) -> usize {
        let mss = usize::from(self.peer_mss.min(self.path_mss));
        mss.saturating_sub(self.option_overhead()).max(32)
    }

    /// Our TSval now.
    pub(super) fn ts_val(&self, now: Instant) -> u32 {
        (now.total_millis() as u32).wrapping_add(self.ts_offset)
    }

    pub(super) fn restart_keepalive(&mut self, now: Instant) {
        self.keepalive_probes = 0;
        self.keepalive_at = match (self.keepalive, self.state) {
            (Some(ka), State::Established | State::CloseWait) => Some(now + ka.idle),
            _ => None,
        };
    }

    /// Ends the connection: state CLOSED, every timer off.
    pub(super) fn enter_closed(&mut self, error: Option<Error>) {
        self.state = State::Closed;
        if error.is_some() {
            self.error = error;
        }
        self.rtx_at = None;
        self.persist_at = None;
        self.delack_at = None;
        self.keepalive_at = None;
        self.time_wait_at = None;
        self.release_at = None;
        self.syn_due = false;
        self.probe_due = false;
        self.keepalive_due = false;
        self.ack_now = false;
        self.recovery = None;
        self.send.ack(self.send.len());
        self.send.release();
        self.scratch = Vec::new();
        self.sack_rep.clear();
        self.scoreboard.clear();
    }

    /// Enters TIME-WAIT (RFC 9293 §3.10.7.4: "Start the time-wait timer,
    /// turn off the other timers").
    pub(super) fn enter_time_wait(&mut self, now: Instant) {
        self.state = State::TimeWait;
        self.rtx_at = None;
        self.persist_at = None;
        self.keepalive_at = None;
        self.delack_at = None;
        self.recovery = None;
        self.time_wait_at = Some(now + self.cfg.msl * 2);
        self.scratch = Vec::new();
        self.send.release();
    }

    /// A reset <SEQ=seq><ACK=ack><CTL=RST(,ACK)> on this connection's ports.
    pub(super) fn reset_segment(&self, seq: TcpSeqNumber, ack: Option<TcpSeqNumber>) -> TcpRepr<'static> {
        TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            seq_number: seq,
            ack_number: ack,
            flags: if ack.is_some() {
                TcpFlags::RST | TcpFlags::ACK
            } else {
                TcpFlags::RST
            },
            window_len: 0,
            urgent_ptr: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            payload: &[],
        }
    }

    // ----- user calls -----

    /// SEND (RFC 9293 §3.10.2): copies what fits into the send buffer.
    /// `WouldBlock` when it is full; `NotConnected` after a shutdown or
    /// close; the connection's error once it failed.
    pub fn send(&mut self, data: &[u8]) -> Result<usize> {
        if let Some(e) = self.error {
            return Err(e);
        }
        // RFC 9293 §3.10.2: in FIN-WAIT-1/2, CLOSING, LAST-ACK, TIME-WAIT
        // "Return "error: connection closing" and do not service request."
        if !self.state.sends_data() || self.fin_queued {
            return Err(Error::NotConnected);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let n = self.send.write(data);
        if n == 0 {
            return Err(Error::WouldBlock);
        }
        self.release_at = None;
        Ok(n)
    }

    /// RECEIVE (RFC 9293 §3.10.3): copies in-order data out. `Ok(0)` is
    /// the end of the stream (FIN received and everything read);
    /// `WouldBlock` when nothing is there yet.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.recv.readable() > 0 && !buf.is_empty() {
            let before = self.advertisable_window();
            let n = self.recv.read(buf);
            let rtt = self.rcv_rtt.or(self.rtt.srtt()).unwrap_or(Duration::from_millis(100));
            self.recv.autotune(self.clock, rtt, self.rcv_mss);
            self.maybe_window_update(before);
            return Ok(n);
        }
        if self.fin_rcvd {
            return Ok(0);
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.state {
            State::Closed => Ok(0),
            _ if buf.is_empty() => Ok(0),
            _ => Err(Error::WouldBlock),
        }
    }

    /// After the reader drained, offer the larger window at once if the
    /// sender may be waiting for it (RFC 9293 §3.8.6.2.2: the window is
    /// updated when it grows by min(RCV.BUFF/2, Eff.snd.MSS); Linux sends
    /// the update when the window at least doubles).
    fn maybe_window_update(&mut self, before: u64) {
        if !self.state.receives_data() {
            return;
        }
        let after = self.advertisable_window();
        let offered = self.rcv_adv.saturating_sub(self.rcv_nxt_off());
        let step = (self.recv.limit() as u64 / 2).min(u64::from(self.adv_mss));
        if after > before && after >= offered + step && after >= 2 * offered.max(1) {
            self.ack_now = true;
        }
    }

    /// SHUTDOWN of the write side: a FIN follows the queued data (RFC 9293
    /// §3.10.4 CLOSE for the sending direction).
    pub fn shutdown_write(&mut self, now: Instant) {
        match self.state {
            // "queue for processing after entering ESTABLISHED state"
            State::SynSent | State::SynReceived => self.queue_fin(),
            // "Queue this until all preceding SENDs have been segmentized,
            // then form a FIN segment and send it. In any case, enter
            // FIN-WAIT-1 state."
            State::Established => {
                self.queue_fin();
                self.state = State::FinWait1;
            }
            // "Queue this request until all preceding SENDs have been
            // segmentized; then send a FIN segment, enter LAST-ACK state."
            State::CloseWait => {
                self.queue_fin();
                self.state = State::LastAck;
            }
            _ => {}
        }
        self.release_at = None;
        self.clock = self.clock.max(now);
    }

    /// CLOSE (RFC 9293 §3.10.4): graceful; the engine finishes the job. If
    /// unread data is pending, the connection is reset instead and the
    /// reset to send is returned (RFC 9293 §3.10.4 via RFC 1122
    /// §4.2.2.13: "If such a host issues a CLOSE call while received data
    /// is still pending in TCP, or if new data is received after CLOSE is
    /// called, its TCP SHOULD send a RST to show that data was lost.").
    pub fn close(&mut self, now: Instant) -> Option<TcpRepr<'static>> {
        self.read_closed = true;
        match self.state {
            // "Delete the TCB and return "error: closing" responses to any
            // queued SENDs, or RECEIVEs."
            State::SynSent | State::Listen => {
                self.enter_closed(None);
                return None;
            }
            State::Closed | State::TimeWait => return None,
            _ => {}
        }
        if self.recv.readable() > 0 || !self.recv.out_of_order().is_empty() {
            return self.abort_with(Error::ConnectionAborted);
        }
        self.shutdown_write(now);
        self.arm_fin_wait_2(now);
        None
    }

    /// ABORT (RFC 9293 §3.10.5): state CLOSED; returns the reset to send,
    /// if the state calls for one ("SYN-RECEIVED STATE ... ESTABLISHED
    /// STATE ... CLOSE-WAIT STATE: Send a reset segment:
    /// <SEQ=SND.NXT><CTL=RST>").
    pub fn abort(&mut self) -> Option<TcpRepr<'static>> {
        self.abort_with(Error::ConnectionAborted)
    }

    fn abort_with(&mut self, error: Error) -> Option<TcpRepr<'static>> {
        let rst = match self.state {
            State::SynReceived | State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                Some(self.reset_segment(self.snd_seq(self.snd_nxt), None))
            }
            _ => None,
        };
        self.enter_closed(Some(error));
        rst
    }

    /// An ICMP error for this connection (RFC 1122 §4.2.3.9). In SYN-SENT
    /// it ends the connection (as Linux does: there is no data to lose
    /// and the user is waiting for connect); in every other state it is a
    /// soft error: "TCP MUST NOT abort the connection" for Destination
    /// Unreachable codes 0, 1, 5, and it is reported only if the
    /// connection later times out.
    pub fn on_icmp_error(&mut self, error: Error, now: Instant) {
        self.clock = self.clock.max(now);
        match self.state {
            State::SynSent => self.enter_closed(Some(error)),
            State::Closed | State::TimeWait => {}
            _ => self.soft_error = Some(error),
        }
    }

    /// The path MTU shrank (RFC 1191 §6.4 / RFC 8201 §5.4): segments go out
    /// smaller from now on, and what is in flight with the old size is
    /// sent again at once, without touching the congestion window ("a
    /// retransmission caused by a Packet Too Big message should not change
    /// the congestion window").
    pub fn set_mss(&mut self, mss: u16) {
        let mss = mss.max(64);
        let shrank = mss < self.path_mss;
        self.path_mss = mss;
        if shrank && self.state.is_synchronized() && self.snd_nxt > self.snd_una && self.recovery.is_none() {
            self.recovery = Some(Recovery {
                kind: RecoveryKind::PathMtu,
                point: self.snd_nxt,
                inflated: 0,
            });
            self.high_rxt = self.snd_una;
            self.lost_below = self.snd_nxt;
            self.rescue_rxt = None;
        }
    }

    /// TCP_NODELAY: turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&mut self, on: bool) {
        self.cfg.nagle = !on;
    }

    /// Turns keepalive on or off (RFC 9293 §3.8.4).
    pub fn set_keepalive(&mut self, ka: Option<Keepalive>) {
        self.keepalive = ka;
        self.restart_keepalive(self.clock);
    }

    // ----- readiness and introspection -----

    pub fn state(&self) -> State {
        self.state
    }

    /// Data, end of stream, or an error is waiting for the reader.
    pub fn can_recv(&self) -> bool {
        self.recv.readable() > 0 || self.fin_rcvd || self.error.is_some() || self.state == State::Closed
    }

    /// The send buffer has room (in a state that sends), or an error is
    /// waiting for the writer.
    pub fn can_send(&self) -> bool {
        self.error.is_some()
            || self.state == State::Closed
            || (matches!(self.state, State::Established | State::CloseWait) && !self.fin_queued && self.send.space() > 0)
    }

    /// Why the connection failed: `ConnectionRefused` (RST to our SYN),
    /// `ConnectionReset`, `TimedOut`, an ICMP error, `ConnectionAborted`.
    pub fn error(&self) -> Option<Error> {
        self.error
    }

    /// The handshake completed (any synchronized state).
    pub fn is_established(&self) -> bool {
        self.state.is_synchronized()
    }

    /// Bytes the connection still owns for the user: queued, sent but not
    /// acknowledged, plus an unacknowledged FIN.
    pub fn unacked_or_unsent(&self) -> usize {
        self.send.len() + usize::from(self.fin_queued && !self.fin_acked())
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Bytes ready to read.
    pub fn recv_queue(&self) -> usize {
        self.recv.readable()
    }

    /// Bytes written and not yet acknowledged.
    pub fn send_queue(&self) -> usize {
        self.send.len()
    }

    /// A snapshot like `ss -ti`.
    pub fn info(&self) -> TcpInfo {
        TcpInfo {
            state: self.state,
            congestion: self.cc.name(),
            cwnd: self.cc.window(),
            ssthresh: self.cc.ssthresh(),
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            min_rtt: self.rtt.min_rtt(),
            rto: self.rtt.rto(),
            snd_mss: self.eff_mss(),
            rcv_mss: self.adv_mss,
            snd_wscale: self.snd_wscale,
            rcv_wscale: self.rcv_wscale,
            timestamps: self.ts.is_some(),
            sack: self.sack_ok,
            ecn: self.ecn_ok,
            snd_wnd: self.snd_wnd,
            rcv_wnd: self.rcv_adv.saturating_sub(self.rcv_nxt_off()),
            bytes_in_flight: self.snd_nxt.saturating_sub(self.snd_una),
            bytes_acked: self.stats.bytes_acked,
            bytes_received: self.stats.bytes_received,
            segs_out: self.stats.segs_out,
            segs_in: self.stats.segs_in,
            retransmits: self.stats.retransmits,
            timeouts: self.stats.timeouts,
            fast_retransmits: self.stats.fast_retransmits,
            dsacks_received: self.stats.dsacks_received,
            challenge_acks: self.stats.challenge_acks,
            ecn_reductions: self.stats.ecn_reductions,
            ooo_ranges: self.recv.out_of_order().len(),
            ooo_bytes_dropped: self.stats.ooo_bytes_dropped,
            send_buffer_bytes: self.send.capacity(),
            recv_buffer_bytes: self.recv.capacity(),
        }
    }

    /// The compact TIME-WAIT record that replaces this connection.
    pub fn time_wait_record(&self, now: Instant) -> TimeWaitRecord {
        let linger = self.cfg.msl * 2;
        let window = (self.rcv_adv.saturating_sub(self.rcv_nxt_off()) >> self.rcv_wscale).min(65_535) as u16;
        let mut record = TimeWaitRecord::new(
            self.snd_seq(self.snd_nxt),
            self.rcv_nxt(),
            window,
            self.ts.map(|t| TimeWaitTimestamps {
                recent: t.recent,
                offset: self.ts_offset,
            }),
            self.time_wait_at.unwrap_or(now + linger),
            linger,
        );
        record.set_timestamps_enabled(self.cfg.timestamps);
        record
    }
}
