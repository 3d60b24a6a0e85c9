//! TIME-WAIT as a compact record (about 40 bytes instead of a whole TCB).
//!
//! RFC 9293 §3.10.7.4, TIME-WAIT: "The only thing that can arrive in this
//! state is a retransmission of the remote FIN. Acknowledge it, and restart
//! the 2 MSL timeout." The record keeps just what answering that, and
//! deciding on a new SYN for the same 4-tuple (RFC 6191), needs.
//!
//! ```
//! use mnet::tcp::{TimeWaitAction, TimeWaitRecord};
//! use mnet::wire::{TcpFlags, TcpRepr, TcpSeqNumber};
//! use mnet::{Duration, Instant};
//! let now = Instant::from_secs(10);
//! let tw = TimeWaitRecord::new(TcpSeqNumber(100), TcpSeqNumber(500), 1000, None, now + Duration::from_secs(60), Duration::from_secs(60));
//! assert_eq!(tw.expires(), Instant::from_secs(70));
//! ```

use crate::time::{Duration, Instant};
use crate::wire::{TcpFlags, TcpRepr, TcpSeqNumber};

/// What the stack does with a segment that hit a TIME-WAIT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeWaitAction {
    /// Nothing to send.
    Drop,
    /// Send this ACK (the stack may rate-limit it).
    Ack(TcpRepr<'static>),
    /// Send this reset. (No rule implemented here produces it; kept for
    /// the stack's interface.)
    Rst(TcpRepr<'static>),
    /// The segment is a SYN that may open a new incarnation (RFC 6191):
    /// remove the record and hand the SYN to the listener, with an ISN
    /// above [`TimeWaitRecord::reopen_iss`].
    Reopen,
}

/// Timestamps state of the closed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWaitTimestamps {
    /// TS.Recent: the last TSval seen from the peer.
    pub recent: u32,
    /// Our TSval offset.
    pub offset: u32,
}

/// A connection in TIME-WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWaitRecord {
    /// Our SND.NXT (after our FIN).
    snd_nxt: TcpSeqNumber,
    /// Our RCV.NXT (after the peer's FIN).
    rcv_nxt: TcpSeqNumber,
    /// The Window field to send, already scaled.
    window: u16,
    ts: Option<TimeWaitTimestamps>,
    /// Microseconds of the deadline.
    expires: Instant,
    /// 2 * MSL, milliseconds (u32: 49 days at most).
    linger_ms: u32,
    /// Whether a new incarnation would use timestamps (our configuration).
    timestamps_enabled: bool,
}

impl TimeWaitRecord {
    /// A record expiring at `expires`; `linger` (2 * MSL) is the time a
    /// retransmitted FIN restarts. New incarnations are assumed to use
    /// timestamps if the peer offers them (see
    /// [`TimeWaitRecord::set_timestamps_enabled`]).
    pub fn new(
        snd_nxt: TcpSeqNumber,
        rcv_nxt: TcpSeqNumber,
        window: u16,
        ts: Option<TimeWaitTimestamps>,
        expires: Instant,
        linger: Duration,
    ) -> TimeWaitRecord {
        TimeWaitRecord {
            snd_nxt,
            rcv_nxt,
            window,
            ts,
            expires,
            linger_ms: u32::try_from(linger.as_millis()).unwrap_or(u32::MAX),
            timestamps_enabled: true,
        }
    }

    /// Whether this side would use timestamps in a new incarnation
    /// ([`TcpConfig::timestamps`]).
    pub fn set_timestamps_enabled(&mut self, on: bool) {
        self.timestamps_enabled = on;
    }

    /// When the record may be removed (2 * MSL after the last FIN).
    pub fn expires(&self) -> Instant {
        self.expires
    }

    pub fn snd_nxt(&self) -> TcpSeqNumber {
        self.snd_nxt
    }

    pub fn rcv_nxt(&self) -> TcpSeqNumber {
        self.rcv_nxt
    }

    /// RFC 1122 §4.2.2.13: a host that reopens from TIME-WAIT "(a) assigns
    /// its initial sequence number for the new connection to be larger
    /// than the largest sequence number it used on the previous connection
    /// incarnation". Like Linux we leave a window's worth of room.
    pub fn reopen_iss(&self) -> TcpSeqNumber {
        self.snd_nxt + (65_535 + 2)
    }

    /// Whether a SYN may start a new incarnation (RFC 6191 §2): the
    /// timestamps comparison when both incarnations use them, else the
    /// sequence number comparison.
    fn syn_acceptable(&self, seg: &TcpRepr<'_>) -> bool {
        let new_ts = self.timestamps_enabled && seg.timestamp.is_some();
        let seq_later = seg.seq_number > self.rcv_nxt;
        match (self.ts, seg.timestamp) {
            // RFC 6191 §2, previous incarnation used timestamps: "If TCP
            // Timestamps would be enabled for the new incarnation of the
            // connection, and the timestamp contained in the incoming SYN
            // segment is greater than the last timestamp seen on the
            // previous incarnation of the connection (for that direction of
            // the data transfer), honor the connection request". If equal,
            // the sequence number decides; without timestamps in the new
            // incarnation, the sequence number alone decides.
            (Some(ts), Some((tsval, _))) if new_ts => {
                let d = tsval.wrapping_sub(ts.recent) as i32;
                d > 0 || (d == 0 && seq_later)
            }
            (Some(_), _) => seq_later,
            // Previous incarnation without timestamps: "If TCP Timestamps
            // would be enabled for the new incarnation of the connection,
            // honor the incoming connection request." Else the sequence
            // number must be greater.
            (None, _) => new_ts || seq_later,
        }
    }

    /// The ACK this record sends: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    fn ack(&self, now: Instant, seg: &TcpRepr<'_>) -> TcpRepr<'static> {
        TcpRepr {
            src_port: seg.dst_port,
            dst_port: seg.src_port,
            seq_number: self.snd_nxt,
            ack_number: Some(self.rcv_nxt),
            flags: TcpFlags::ACK,
            window_len: self.window,
            urgent_ptr: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: self.ts.map(|ts| ((now.total_millis() as u32).wrapping_add(ts.offset), ts.recent)),
            payload: &[],
        }
    }

    /// One segment for this 4-tuple.
    pub fn on_segment(&mut self, now: Instant, seg: &TcpRepr<'_>) -> TimeWaitAction {
        let flags = seg.flags;
        // RFC 1337 §3 (TIME-WAIT assassination hazards), fix (1): "Ignore
        // RST segments in TIME-WAIT state." RFC 9293 §3.10.7.4 leaves the
        // RST path to RFC 5961, whose exact-match rule this also satisfies
        // conservatively.
        if flags.contains(TcpFlags::RST) {
            return TimeWaitAction::Drop;
        }
        if flags.contains(TcpFlags::SYN) && !flags.contains(TcpFlags::ACK) {
            if self.syn_acceptable(seg) {
                return TimeWaitAction::Reopen;
            }
            // RFC 9293 §3.10.7.4 (synchronized states, SYN bit): "If the
            // SYN bit is set in these synchronized states, it may be either
            // a legitimate new connection attempt (e.g., in the case of
            // TIME-WAIT), an error where the connection should be reset, or
            // the result of an attack attempt, as described in RFC 5961";
            // the challenge ACK lets a peer that lost its state reset us.
            return TimeWaitAction::Ack(self.ack(now, seg));
        }
        // RFC 7323 §5.3 R1: a segment whose TSval is older than TS.Recent
        // is not acceptable; an ACK is sent in reply.
        if let (Some(ts), Some((tsval, _))) = (self.ts, seg.timestamp)
            && (tsval.wrapping_sub(ts.recent) as i32) < 0
        {
            return TimeWaitAction::Ack(self.ack(now, seg));
        }
        // The retransmitted FIN: "Acknowledge it, and restart the 2 MSL
        // timeout."
        if flags.contains(TcpFlags::FIN) && seg.seq_number + seg.payload.len() + 1 == self.rcv_nxt {
            if let (Some(ts), Some((tsval, _))) = (self.ts.as_mut(), seg.timestamp) {
                ts.recent = tsval;
            }
            self.expires = now + Duration::from_millis(u64::from(self.linger_ms));
            return TimeWaitAction::Ack(self.ack(now, seg));
        }
        // Anything else is old or unacceptable: RFC 9293 §3.10.7.4, "If an
        // incoming segment is not acceptable, an acknowledgment should be
        // sent in reply". An ACK that acknowledges nothing new needs none.
        if seg.segment_len() == 0 && seg.ack_number.is_some_and(|a| a == self.snd_nxt) {
            return TimeWaitAction::Drop;
        }
        TimeWaitAction::Ack(self.ack(now, seg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINGER: Duration = Duration::from_secs(60);

    fn record(ts: Option<u32>) -> TimeWaitRecord {
        TimeWaitRecord::new(
            TcpSeqNumber(1000),
            TcpSeqNumber(5000),
            512,
            ts.map(|recent| TimeWaitTimestamps { recent, offset: 7 }),
            Instant::from_secs(60),
            LINGER,
        )
    }

    fn seg(flags: TcpFlags, seq: u32, ts: Option<u32>) -> TcpRepr<'static> {
        TcpRepr {
            src_port: 4000,
            dst_port: 80,
            seq_number: TcpSeqNumber(seq),
            ack_number: flags.contains(TcpFlags::ACK).then_some(TcpSeqNumber(1000)),
            flags,
            window_len: 100,
            urgent_ptr: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: ts.map(|v| (v, 0)),
            payload: &[],
        }
    }

    #[test]
    fn record_is_compact() {
        assert!(
            core::mem::size_of::<TimeWaitRecord>() <= 48,
            "{}",
            core::mem::size_of::<TimeWaitRecord>()
        );
    }

    #[test]
    fn retransmitted_fin_is_acked_and_restarts_the_timer() {
        // RFC 9293 §3.10.7.4: "Acknowledge it, and restart the 2 MSL timeout."
        let mut tw = record(None);
        let now = Instant::from_secs(30);
        match tw.on_segment(now, &seg(TcpFlags::FIN | TcpFlags::ACK, 4999, None)) {
            TimeWaitAction::Ack(a) => {
                assert_eq!(a.seq_number, TcpSeqNumber(1000));
                assert_eq!(a.ack_number, Some(TcpSeqNumber(5000)));
                assert_eq!((a.src_port, a.dst_port, a.window_len), (80, 4000, 512));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(tw.expires(), now + LINGER);
    }

    #[test]
    fn rst_is_ignored() {
        // RFC 1337: "Ignore RST segments in TIME-WAIT state."
        let mut tw = record(None);
        assert_eq!(
            tw.on_segment(Instant::from_secs(1), &seg(TcpFlags::RST, 5000, None)),
            TimeWaitAction::Drop
        );
        assert_eq!(tw.expires(), Instant::from_secs(60));
    }

    #[test]
    fn rfc6191_reuse_with_timestamps() {
        let t = Instant::from_secs(1);
        let mut tw = record(Some(100));
        // Newer timestamp: reopen, whatever the sequence number.
        assert_eq!(tw.on_segment(t, &seg(TcpFlags::SYN, 1, Some(101))), TimeWaitAction::Reopen);
        // Older timestamp: stay, challenge ACK.
        assert!(matches!(
            tw.on_segment(t, &seg(TcpFlags::SYN, 9000, Some(99))),
            TimeWaitAction::Ack(_)
        ));
        // Equal timestamp: the sequence number decides.
        assert_eq!(tw.on_segment(t, &seg(TcpFlags::SYN, 5001, Some(100))), TimeWaitAction::Reopen);
        assert!(matches!(
            tw.on_segment(t, &seg(TcpFlags::SYN, 4000, Some(100))),
            TimeWaitAction::Ack(_)
        ));
        // No timestamp in the new SYN: the sequence number decides.
        assert_eq!(tw.on_segment(t, &seg(TcpFlags::SYN, 5001, None)), TimeWaitAction::Reopen);
        assert!(matches!(tw.on_segment(t, &seg(TcpFlags::SYN, 4999, None)), TimeWaitAction::Ack(_)));
    }

    #[test]
    fn rfc6191_reuse_without_timestamps() {
        let t = Instant::from_secs(1);
        let mut tw = record(None);
        // The new incarnation would use timestamps: honour it.
        assert_eq!(tw.on_segment(t, &seg(TcpFlags::SYN, 1, Some(5))), TimeWaitAction::Reopen);
        tw.set_timestamps_enabled(false);
        assert!(matches!(tw.on_segment(t, &seg(TcpFlags::SYN, 1, Some(5))), TimeWaitAction::Ack(_)));
        assert_eq!(tw.on_segment(t, &seg(TcpFlags::SYN, 6000, None)), TimeWaitAction::Reopen);
        assert!(tw.reopen_iss() > tw.snd_nxt());
    }

    #[test]
    fn paws_and_stray_segments() {
        let t = Instant::from_secs(1);
        let mut tw = record(Some(100));
        // Old timestamp: ACK in reply (RFC 7323 R1).
        match tw.on_segment(t, &seg(TcpFlags::ACK, 5000, Some(50))) {
            TimeWaitAction::Ack(a) => assert_eq!(a.timestamp, Some((1007, 100))),
            other => panic!("{other:?}"),
        }
        // A bare duplicate ACK of our FIN: nothing to say.
        assert_eq!(tw.on_segment(t, &seg(TcpFlags::ACK, 5000, Some(100))), TimeWaitAction::Drop);
        // Data after the FIN: ACK.
        let mut data = seg(TcpFlags::ACK, 5000, Some(100));
        data.payload = b"late";
        assert!(matches!(tw.on_segment(t, &data), TimeWaitAction::Ack(_)));
    }
}
