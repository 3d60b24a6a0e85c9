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

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;

use super::congestion::{Congestion, CongestionControl};
use super::recv_buffer::RecvBuffer;
use super::rtt::RttEstimator;
use super::sack::{MAX_SCOREBOARD_RANGES, SackReporter, Scoreboard};
use super::send_buffer::SendBuffer;
use super::syn_cookie;
use super::{Keepalive, MSS_DEFAULT_IPV6, SEND_BUFFER_INITIAL, State, TcpConfig};
use crate::error::Error;
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
    /// Recoveries found spurious and undone (RFC 3522 / RFC 4015).
    pub spurious_undone: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub tail_loss_probes: u64,
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
    pub spurious_undone: u64,
    pub tail_loss_probes: u64,
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

/// What undoing a spurious window reduction needs (RFC 3522 detection,
/// RFC 4015 response).
#[derive(Debug, Clone)]
pub(super) struct Undo {
    /// Congestion control as it was before the reduction.
    pub cc: Congestion,
    /// The TSval of the episode's first retransmission, once sent.
    pub first_rtx_tsval: Option<u32>,
}

/// One TCP connection.
#[derive(Debug)]
pub struct Connection {
    /// Shared by every connection of a stack, never copied: per-connection
    /// settings (TCP_NODELAY) are fields of their own.
    pub(super) cfg: Arc<TcpConfig>,
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
    /// The last SEND was cut short by the full send buffer: the writer
    /// has more and writes again once an ACK makes room (the cork in
    /// `new_data`).
    pub(super) writer_waits: bool,
    /// The stack's round is open: queued frames reach the device only at
    /// its end (`Connection::set_cork_round`).
    pub(super) cork_round: bool,
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
    /// Nagle's algorithm (RFC 9293 §3.7.4) is on: `cfg.nagle` until
    /// [`Connection::set_nodelay`] (a flag here, so that TCP_NODELAY does
    /// not give the connection a private copy of the shared config).
    pub(super) nagle: bool,
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
    /// Exponent of the persist interval: grows with every probe and only
    /// starts over when the peer opens its window (RFC 1122 §4.2.2.17:
    /// "SHOULD increase exponentially the interval between successive
    /// probes"), unlike `persist_probes`, which any answer resets.
    pub(super) persist_backoff: u32,
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
    /// The next retransmission goes regardless of the window (RFC 6675
    /// (4.3), RFC 6582 steps 2 and 5).
    pub(super) force_rtx: bool,
    /// RFC 8985 RACK reordering timer (see `rack.rs`).
    pub(super) reo_at: Option<Instant>,
    /// RFC 8985 RACK.reo_wnd_mult and RACK.reo_wnd_persist.
    pub(super) reo_wnd_mult: u32,
    pub(super) reo_wnd_persist: u32,
    /// RFC 8985 TLP: the probe timer, the outstanding probe (end, was a
    /// retransmission), the probe to send, and whether a D-SACK came for it.
    pub(super) tlp_at: Option<Instant>,
    pub(super) tlp_high: Option<(u64, bool)>,
    pub(super) tlp_due: Option<(u64, u64, bool)>,
    pub(super) tlp_dsack: bool,
    /// Retransmissions of this recovery and those found lost again (see
    /// `rack.rs`); made at the first retransmission, freed when idle.
    pub(super) rack_log: Option<alloc::boxed::Box<super::rack::RackLog>>,
    /// RFC 8985 RACK.xmit_ts, for retransmissions: when the latest-sent
    /// retransmission found delivered in this recovery left.
    pub(super) rack_rtx_delivered: Option<Instant>,
    /// Saved for undoing the current recovery's reduction if it proves
    /// spurious (timestamps only).
    pub(super) undo: Option<alloc::boxed::Box<Undo>>,
    /// The window, not the application, limited the last transmission.
    pub(super) cwnd_limited: bool,
    /// The retransmission timer fired and no ACK advanced since.
    pub(super) rto_repeated: bool,

    // Acknowledgments we owe.
    pub(super) ack_now: bool,
    /// The every-second-full-sized-segment ACK (RFC 9293 §3.8.6.3) is
    /// owed: sent at once, or with [`Connection::set_ack_per_batch`] when
    /// the receive batch ends ([`Connection::end_receive_batch`]).
    pub(super) ack_owed: bool,
    /// Owed ACKs wait for [`Connection::end_receive_batch`].
    pub(super) ack_per_batch: bool,
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
    /// The largest payload of one new-data super-segment the device
    /// splits for us (TCP segmentation offload); 0 without it. Set with
    /// [`Connection::set_tso_max`].
    pub(super) tso_max: usize,
}

/// A connection's configuration as its constructors take it: shared with
/// the stack's other connections (`&Arc<TcpConfig>`: one allocation for
/// all, the bulk of an idle connection's size otherwise) or copied from a
/// plain `&TcpConfig`.
pub struct ConfigRef(Arc<TcpConfig>);

impl From<&TcpConfig> for ConfigRef {
    fn from(cfg: &TcpConfig) -> ConfigRef {
        ConfigRef(Arc::new(*cfg))
    }
}

impl From<&Arc<TcpConfig>> for ConfigRef {
    fn from(cfg: &Arc<TcpConfig>) -> ConfigRef {
        ConfigRef(cfg.clone())
    }
}

impl Connection {
    /// The common part of every constructor.
    fn base(
        cfg: &Arc<TcpConfig>,
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
            cfg: cfg.clone(),
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
            writer_waits: false,
            cork_round: false,
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
            nagle: cfg.nagle,
            last_ack_sent: TcpSeqNumber(0),
            rtt: RttEstimator::new(cfg.rto_initial, cfg.rto_min, cfg.rto_max),
            rtx_at: None,
            retries: 0,
            persist_at: None,
            persist_probes: 0,
            persist_backoff: 0,
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
            force_rtx: false,
            reo_at: None,
            reo_wnd_mult: 1,
            reo_wnd_persist: 0,
            tlp_at: None,
            tlp_high: None,
            tlp_due: None,
            tlp_dsack: false,
            rack_log: None,
            rack_rtx_delivered: None,
            undo: None,
            cwnd_limited: false,
            rto_repeated: false,
            ack_now: false,
            ack_owed: false,
            ack_per_batch: false,
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
            tso_max: 0,
        }
    }

    /// Active open (RFC 9293 §3.10.1): state SYN-SENT; the SYN comes out of
    /// the next [`Connection::poll_transmit`]. `mss` is the largest payload
    /// the path allows (MTU minus IP and TCP headers); it is what we
    /// advertise.
    pub fn connect(
        cfg: impl Into<ConfigRef>,
        local: SocketAddr,
        remote: SocketAddr,
        iss: TcpSeqNumber,
        mss: u16,
        now: Instant,
        ts_offset: u32,
    ) -> Connection {
        let cfg = cfg.into().0;
        let mut c = Connection::base(&cfg, local, remote, iss, mss, now, ts_offset);
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
        cfg: impl Into<ConfigRef>,
        local: SocketAddr,
        remote: SocketAddr,
        syn: &TcpRepr<'_>,
        iss: TcpSeqNumber,
        mss: u16,
        now: Instant,
        ts_offset: u32,
    ) -> Connection {
        let cfg = cfg.into().0;
        let mut c = Connection::base(&cfg, local, remote, iss, mss, now, ts_offset);
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
        cfg: impl Into<ConfigRef>,
        local: SocketAddr,
        remote: SocketAddr,
        ack: &TcpRepr<'_>,
        iss: TcpSeqNumber,
        peer_mss: u16,
        mss: u16,
        now: Instant,
        ts_offset: u32,
    ) -> Connection {
        let cfg = cfg.into().0;
        let mut c = Connection::base(&cfg, local, remote, iss, mss, now, ts_offset);
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

    /// SND.UNA =< `seq` < SND.NXT: `seq` starts a segment still in flight
    /// (the test RFC 5927 §4.1 asks of a sequence number quoted in ICMP).
    pub fn seq_in_flight(&self, seq: TcpSeqNumber) -> bool {
        let una = self.snd_seq(self.snd_una);
        seq >= una && seq < self.snd_seq(self.snd_nxt)
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
    pub(super) fn queue_fin(&mut self) {
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

    /// The largest segment payload the path allows, as last set by
    /// [`Connection::set_mss`] (or at creation).
    pub fn path_mss(&self) -> u16 {
        self.path_mss
    }

    /// The payload room of the next data segment: [`Connection::eff_mss`]
    /// less the SACK option while we have SACK blocks to report (RFC 2018
    /// §4 puts them in every ACK, data segments included). RFC 9293 §3.7.1:
    /// "the TCP header size ... includes TCP options" — a full segment
    /// with SACK blocks must still fit the path MTU (Linux's
    /// tcp_current_mss does the same).
    pub(super) fn segment_payload_max(&self) -> usize {
        let sack_pending = self.sack_ok && (self.sack_rep.has_dsack() || !self.recv.out_of_order().is_empty());
        if !sack_pending {
            return self.eff_mss();
        }
        // Options are at most 40 bytes; what timestamps leave goes to SACK.
        let sack_room = crate::wire::tcp::MAX_OPTIONS_LEN - self.option_overhead();
        self.eff_mss().saturating_sub(sack_room).max(32)
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
        self.reo_at = None;
        self.tlp_at = None;
        self.persist_at = None;
        self.delack_at = None;
        self.keepalive_at = None;
        self.time_wait_at = None;
        self.release_at = None;
        self.syn_due = false;
        self.probe_due = false;
        self.keepalive_due = false;
        self.ack_now = false;
        self.ack_owed = false;
        self.recovery = None;
        self.rack_log = None;
        self.rack_rtx_delivered = None;
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
        self.reo_at = None;
        self.tlp_at = None;
        self.persist_at = None;
        self.keepalive_at = None;
        self.delack_at = None;
        self.recovery = None;
        self.time_wait_at = Some(now + self.cfg.msl.saturating_mul(2));
        self.scratch = Vec::new();
        self.send.release();
    }

    /// A reset <SEQ=seq><ACK=ack><CTL=RST(,ACK)> on this connection's ports.
    pub(super) fn reset_segment(&self, seq: TcpSeqNumber, ack: Option<TcpSeqNumber>) -> TcpRepr<'static> {
        super::input::reset_segment(self.local.port(), self.remote.port(), seq, ack)
    }
}
