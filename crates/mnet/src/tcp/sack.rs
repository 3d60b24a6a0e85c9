//! Selective acknowledgments: the blocks we report as a receiver (RFC 2018,
//! with D-SACK, RFC 2883) and the scoreboard we keep as a sender (RFC 6675).
//!
//! Both sides work in 64-bit stream offsets (bytes since the ISN), so the
//! ranges never wrap; the connection converts to and from sequence numbers.
//!
//! ```
//! use mnet::tcp::sack::Scoreboard;
//! let mut sb = Scoreboard::new(64);
//! // 10 segments of 100 bytes in flight from offset 1; 3 after a hole.
//! sb.update(&[(301, 601)], 1, 1001);
//! assert_eq!(sb.sacked_bytes(), 300);
//! // RFC 6675 IsLost: more than (DupThresh - 1) * SMSS bytes SACKed above.
//! assert_eq!(sb.lost_below(3, 100), 301);
//! // SetPipe: 1..301 lost (not counted), 601..1001 in flight.
//! assert_eq!(sb.pipe(1, 1001, 301, 1), 400);
//! ```

use super::assembler::Assembler;

/// RFC 6675 §2: "DupThresh: The number of duplicate acknowledgments
/// required to trigger a fast retransmission." ... "DupThresh = 3".
pub const DUP_THRESH: u32 = 3;

/// Bound on the ranges in a sender's scoreboard.
pub const MAX_SCOREBOARD_RANGES: usize = 256;

/// The receiver's memory of what it reported, to build SACK options.
///
/// RFC 2018 §4: "The first SACK block (i.e., the one immediately following
/// the kind and length fields in the option) MUST specify the contiguous
/// block of data containing the segment which triggered this ACK, unless
/// that segment advanced the Acknowledgment Number field in the header."
/// ... "The SACK option SHOULD be filled out by repeating the most recently
/// reported SACK blocks (based on first SACK blocks in previous SACK
/// options) that are not subsets of a SACK block already included in the
/// SACK option being constructed."
#[derive(Debug, Clone, Default)]
pub struct SackReporter {
    /// A byte inside each recently reported block, most recent first: the
    /// first `recent_len` entries.
    recent: [u64; 4],
    recent_len: u8,
    /// A duplicate range to report once (RFC 2883); empty (`start ==
    /// end`) when there is none (compact: every connection has one).
    dsack: (u64, u64),
}

impl SackReporter {
    /// A segment landed out of order at `at` (any offset inside it).
    pub fn on_out_of_order(&mut self, at: u64) {
        let mut next = [at, 0, 0, 0];
        let mut i = 1;
        for &p in self.recent() {
            if i < next.len() && p != at {
                next[i] = p;
                i += 1;
            }
        }
        self.recent = next;
        self.recent_len = i as u8;
    }

    /// The recently reported offsets, most recent first.
    fn recent(&self) -> &[u64] {
        self.recent.get(..usize::from(self.recent_len)).unwrap_or(&[])
    }

    /// RFC 2883 §4: "If the data receiver receives a duplicate segment, it
    /// SHOULD report the duplicate ... in the first SACK block" (a D-SACK).
    pub fn on_duplicate(&mut self, start: u64, end: u64) {
        if start < end {
            self.dsack = (start, end);
        }
    }

    /// Whether a D-SACK waits to be sent.
    pub fn has_dsack(&self) -> bool {
        self.dsack.0 < self.dsack.1
    }

    /// The blocks for the next ACK, most important first, given the
    /// out-of-order data held and RCV.NXT. The D-SACK is reported once.
    pub fn blocks(&mut self, held: &Assembler, rcv_nxt: u64) -> [Option<(u64, u64)>; 4] {
        let mut out = [None; 4];
        let mut n = 0;
        // Blocks after a D-SACK are not compared with it: its companion
        // block may equal it, which is how the sender recognises it.
        let mut first = 0;
        let mut push = |b: (u64, u64), out: &mut [Option<(u64, u64)>; 4], first: usize| {
            if n < out.len() && !out[first..n].contains(&Some(b)) {
                out[n] = Some(b);
                n += 1;
            }
        };
        if self.has_dsack() {
            let (s, e) = core::mem::take(&mut self.dsack);
            push((s, e), &mut out, 0);
            first = 1;
            // RFC 2883 §4: "If the D-SACK block reports a duplicate
            // contiguous sequence from a (possibly larger) block of data in
            // the receiver's data queue above the cumulative
            // acknowledgement, then the second SACK block in that SACK
            // option should specify that (possibly larger) block of data."
            if s >= rcv_nxt
                && let Some(block) = held.containing(s)
            {
                push(block, &mut out, first);
            }
        }
        let mut kept = [0; 4];
        let mut k = 0;
        for &p in self.recent() {
            if p < rcv_nxt {
                continue; // delivered
            }
            if let Some(block) = held.containing(p) {
                push(block, &mut out, first);
                kept[k] = p;
                k += 1;
            }
        }
        self.recent = kept;
        self.recent_len = k as u8;
        out
    }

    /// Forgets everything (the connection left the states that receive).
    pub fn clear(&mut self) {
        *self = SackReporter::default();
    }
}

/// What one ACK's SACK blocks did to the scoreboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SackUpdate {
    /// Bytes SACKed for the first time.
    pub newly_sacked: u64,
    /// The first block was a D-SACK (RFC 2883 §4).
    pub dsack: bool,
}

/// The sender's scoreboard (RFC 6675 §3): which bytes above SND.UNA the
/// receiver has SACKed.
#[derive(Debug, Clone)]
pub struct Scoreboard {
    sacked: Assembler,
}

impl Scoreboard {
    pub fn new(max_ranges: usize) -> Scoreboard {
        Scoreboard {
            sacked: Assembler::new(max_ranges),
        }
    }

    /// RFC 6675 §4 Update(): "Every octet that is cumulatively acknowledged
    /// or SACKed is marked as such" — for the blocks of one ACK, given
    /// HighACK (`una`) and HighData (`nxt`, exclusive end).
    pub fn update(&mut self, blocks: &[(u64, u64)], una: u64, nxt: u64) -> SackUpdate {
        let mut out = SackUpdate::default();
        self.advance(una);
        for (i, &(s, e)) in blocks.iter().enumerate() {
            if s >= e {
                continue;
            }
            if i == 0 {
                // RFC 2883 §4 (the sender's view): a first block at or
                // below the cumulative ACK, or inside the second block,
                // reports a duplicate.
                let inside_second = blocks.get(1).is_some_and(|&(s2, e2)| s2 <= s && e <= e2);
                if e <= una || inside_second {
                    out.dsack = true;
                    continue;
                }
            }
            // Blocks past SND.NXT are bogus: ignore them (RFC 2018 gives a
            // receiver no reason to send them). A block reaching below
            // SND.UNA only repeats what the cumulative ACK says.
            let s = s.max(una);
            if e > nxt || s >= e {
                continue;
            }
            out.newly_sacked += self.sacked.insert(s, e).new_bytes;
        }
        out
    }

    /// The cumulative ACK moved to `una`: forget what it covers.
    pub fn advance(&mut self, una: u64) {
        self.sacked.discard_below(una);
    }

    /// Forgets everything (RFC 2018 §8 allows the receiver to renege).
    pub fn clear(&mut self) {
        self.sacked.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.sacked.is_empty()
    }

    /// Bytes SACKed above SND.UNA.
    pub fn sacked_bytes(&self) -> u64 {
        self.sacked.bytes()
    }

    /// The end of the highest SACKed range.
    pub fn highest_sacked(&self) -> Option<u64> {
        self.sacked.highest()
    }

    /// Whether `at` has been SACKed.
    pub fn is_sacked(&self, at: u64) -> bool {
        self.sacked.containing(at).is_some()
    }

    /// The first offset at or after `at` that is not SACKed, and the end
    /// of that hole (`u64::MAX` when no SACKed range follows).
    pub fn hole_at(&self, at: u64) -> (u64, u64) {
        let start = self.sacked.containing(at).map_or(at, |(_, e)| e);
        let end = self.sacked.first_after(start).map_or(u64::MAX, |(s, _)| s);
        (start, end)
    }

    /// RFC 6675 §4 IsLost (SeqNum): "This routine returns whether the given
    /// sequence number is considered to be lost. The routine returns true
    /// when either DupThresh discontiguous SACKed sequences have arrived
    /// above 'SeqNum' or more than (DupThresh - 1) * SMSS bytes with
    /// sequence numbers greater than 'SeqNum' have been SACKed."
    ///
    /// IsLost only gets truer further down, so one offset answers it for
    /// all: every un-SACKed offset below the returned one is lost (0 when
    /// none is).
    pub fn lost_below(&self, dup_thresh: u32, smss: usize) -> u64 {
        let mut bytes = 0u64;
        let mut count = 0u32;
        let limit = u64::from(dup_thresh.saturating_sub(1)) * smss as u64;
        for (s, e) in self.sacked.ranges().rev() {
            bytes += e - s;
            count += 1;
            if count >= dup_thresh || bytes > limit {
                return s;
            }
        }
        0
    }

    /// RFC 6675 §4 SetPipe(): "for each octet between HighACK and HighData
    /// that has not been SACKed: if IsLost is false, add one to pipe; if
    /// the octet has been retransmitted, add one to pipe" — with every
    /// un-SACKed octet below `lost_below` lost and every one below
    /// `high_rxt` retransmitted.
    pub fn pipe(&self, una: u64, nxt: u64, lost_below: u64, high_rxt: u64) -> u64 {
        let mut pipe = 0u64;
        let mut at = una;
        while at < nxt {
            let (hs, he) = self.hole_at(at);
            if hs >= nxt {
                break;
            }
            let he = he.min(nxt);
            // Not lost: counts once.
            let nl = hs.max(lost_below);
            if nl < he {
                pipe += he - nl;
            }
            // Retransmitted: counts once more.
            let rx = he.min(high_rxt);
            if hs < rx {
                pipe += rx - hs;
            }
            at = he;
        }
        pipe
    }

    /// The SACKed ranges, lowest first.
    pub fn ranges(&self) -> impl DoubleEndedIterator<Item = (u64, u64)> + '_ {
        self.sacked.ranges()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn reporter_orders_by_recency_and_drops_delivered() {
        let mut held = Assembler::new(16);
        let mut r = SackReporter::default();
        held.insert(100, 200);
        r.on_out_of_order(150);
        held.insert(300, 400);
        r.on_out_of_order(300);
        held.insert(500, 600);
        r.on_out_of_order(599);
        assert_eq!(r.blocks(&held, 50), [Some((500, 600)), Some((300, 400)), Some((100, 200)), None]);
        // A segment extending the first block moves it to the front.
        held.insert(200, 250);
        r.on_out_of_order(200);
        assert_eq!(r.blocks(&held, 50), [Some((100, 250)), Some((500, 600)), Some((300, 400)), None]);
        // Delivered blocks disappear.
        held.discard_below(400);
        assert_eq!(r.blocks(&held, 400), [Some((500, 600)), None, None, None]);
    }

    #[test]
    fn reporter_dsack_first_and_once() {
        let mut held = Assembler::new(16);
        let mut r = SackReporter::default();
        held.insert(300, 400);
        r.on_out_of_order(300);
        // Duplicate below RCV.NXT.
        r.on_duplicate(10, 20);
        assert_eq!(r.blocks(&held, 100), [Some((10, 20)), Some((300, 400)), None, None]);
        assert_eq!(r.blocks(&held, 100), [Some((300, 400)), None, None, None]);
        // Duplicate inside a held block: the block follows (RFC 2883 §4).
        r.on_duplicate(320, 330);
        assert_eq!(r.blocks(&held, 100), [Some((320, 330)), Some((300, 400)), None, None]);
    }

    #[test]
    fn scoreboard_update_clips_and_detects_dsack() {
        let mut sb = Scoreboard::new(MAX_SCOREBOARD_RANGES);
        let u = sb.update(&[(200, 300), (400, 500)], 100, 1000);
        assert_eq!(
            u,
            SackUpdate {
                newly_sacked: 200,
                dsack: false
            }
        );
        // Same again: nothing new.
        assert_eq!(sb.update(&[(200, 300)], 100, 1000).newly_sacked, 0);
        // D-SACK below the cumulative ACK.
        assert!(sb.update(&[(50, 100), (400, 500)], 100, 1000).dsack);
        // D-SACK inside the second block.
        assert!(sb.update(&[(420, 430), (400, 500)], 100, 1000).dsack);
        // Beyond SND.NXT: ignored.
        assert_eq!(sb.update(&[(900, 1100)], 100, 1000).newly_sacked, 0);
        // Cumulative ACK inside a block trims it.
        sb.advance(250);
        assert_eq!(sb.ranges().collect::<Vec<_>>(), [(250, 300), (400, 500)]);
        assert_eq!(sb.sacked_bytes(), 150);
    }

    #[test]
    fn holes_and_is_lost() {
        let mut sb = Scoreboard::new(MAX_SCOREBOARD_RANGES);
        // SMSS 100: segments at 0, 100, ..., 900. SACKed: 200..300, 500..600.
        sb.update(&[(200, 300), (500, 600)], 0, 1000);
        assert_eq!(sb.hole_at(0), (0, 200));
        assert_eq!(sb.hole_at(250), (300, 500));
        assert_eq!(sb.hole_at(600), (600, u64::MAX));
        // Only 200 bytes SACKed and 2 ranges: nothing lost yet.
        assert_eq!(sb.lost_below(DUP_THRESH, 100), 0);
        sb.update(&[(700, 800)], 0, 1000);
        // Three discontiguous ranges above 0..200 and 300..500: lost.
        assert_eq!(sb.lost_below(DUP_THRESH, 100), 200);
        // Pipe: holes 0..200 (lost), 300..500 (not lost: only 2 ranges,
        // 200 bytes above it), 600..700, 800..1000.
        assert_eq!(sb.pipe(0, 1000, 200, 0), 200 + 100 + 200);
        // After retransmitting 0..100: one more.
        assert_eq!(sb.pipe(0, 1000, 200, 100), 600);
    }

    #[test]
    fn bytes_rule_of_is_lost() {
        let mut sb = Scoreboard::new(MAX_SCOREBOARD_RANGES);
        // One contiguous SACKed range of 3 segments: > 2 * SMSS bytes.
        sb.update(&[(100, 400)], 0, 400);
        assert_eq!(sb.lost_below(DUP_THRESH, 100), 100);
        let mut sb = Scoreboard::new(MAX_SCOREBOARD_RANGES);
        sb.update(&[(100, 300)], 0, 400);
        assert_eq!(sb.lost_below(DUP_THRESH, 100), 0, "exactly 2 * SMSS is not more");
    }
}
