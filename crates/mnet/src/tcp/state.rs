//! The connection states of RFC 9293 §3.3.2.
//!
//! "A connection progresses through a series of states during its
//! lifetime. The states are: LISTEN, SYN-SENT, SYN-RECEIVED, ESTABLISHED,
//! FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT, and
//! the fictional state CLOSED."
//!
//! LISTEN belongs to the stack's listener table; a
//! [`Connection`](super::Connection) never is in it, and leaves TIME-WAIT
//! for a compact [`TimeWaitRecord`](super::TimeWaitRecord) as soon as the
//! stack asks.

use core::fmt;

/// A TCP connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl State {
    /// RFC 9293 §3.10.7.4 groups every state after the handshake as the
    /// "synchronized states": ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2,
    /// CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT (and SYN-RECEIVED shares
    /// most of their processing).
    pub fn is_synchronized(self) -> bool {
        matches!(
            self,
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait | State::Closing | State::LastAck | State::TimeWait
        )
    }

    /// States in which the peer may still send us data (no FIN received).
    pub fn receives_data(self) -> bool {
        matches!(self, State::SynReceived | State::Established | State::FinWait1 | State::FinWait2)
    }

    /// States in which we may still queue data (no FIN queued by us).
    pub fn sends_data(self) -> bool {
        matches!(self, State::SynSent | State::SynReceived | State::Established | State::CloseWait)
    }

    /// States in which our FIN has been sent or queued.
    pub fn fin_queued(self) -> bool {
        matches!(
            self,
            State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck | State::TimeWait
        )
    }

    /// The name RFC 9293 uses.
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups() {
        assert!(!State::SynReceived.is_synchronized());
        assert!(State::TimeWait.is_synchronized());
        assert!(State::FinWait2.receives_data());
        assert!(!State::CloseWait.receives_data());
        assert!(State::CloseWait.sends_data());
        assert!(!State::FinWait1.sends_data());
        assert!(State::LastAck.fin_queued());
        assert_eq!(alloc::format!("{}", State::FinWait1), "FIN-WAIT-1");
    }
}
