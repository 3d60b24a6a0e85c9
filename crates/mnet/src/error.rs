//! The one error type of the stack's public API.

use core::fmt;

/// What went wrong, precisely enough to act on. Converts to
/// `std::io::Error` with the matching `ErrorKind` (feature `std`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The peer answered with "port unreachable" (UDP) or a RST to our SYN (TCP).
    ConnectionRefused,
    /// The connection was reset by the peer.
    ConnectionReset,
    /// The connection was aborted locally.
    ConnectionAborted,
    /// Retransmissions or address resolution ran out of time.
    TimedOut,
    /// No route to the destination network.
    NetworkUnreachable,
    /// The next hop could not be resolved, or an ICMP host unreachable arrived.
    HostUnreachable,
    /// The local address/port is already bound.
    AddressInUse,
    /// The local address is not one of ours.
    AddressNotAvailable,
    /// An argument the caller gave is not acceptable.
    InvalidInput,
    /// The operation would exceed a configured bound (table, queue, buffer).
    WouldExceedLimit,
    /// The operation cannot complete now; try again when ready.
    WouldBlock,
    /// The socket is not connected.
    NotConnected,
    /// The socket is already connected.
    AlreadyConnected,
    /// The datagram is larger than the protocol or the path allows.
    MessageTooLong,
    /// The socket handle no longer refers to a live socket.
    SocketClosed,
    /// A protocol error that is not better described above (ICMP
    /// parameter problem, for instance).
    ProtocolError,
    /// A text could not be parsed (address, CIDR, MAC).
    Parse,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Error::ConnectionRefused => "connection refused",
            Error::ConnectionReset => "connection reset by peer",
            Error::ConnectionAborted => "connection aborted",
            Error::TimedOut => "timed out",
            Error::NetworkUnreachable => "network unreachable",
            Error::HostUnreachable => "host unreachable",
            Error::AddressInUse => "address in use",
            Error::AddressNotAvailable => "address not available",
            Error::InvalidInput => "invalid input",
            Error::WouldExceedLimit => "would exceed a configured limit",
            Error::WouldBlock => "operation would block",
            Error::NotConnected => "not connected",
            Error::AlreadyConnected => "already connected",
            Error::MessageTooLong => "message too long",
            Error::SocketClosed => "socket closed",
            Error::ProtocolError => "protocol error",
            Error::Parse => "parse error",
        };
        f.write_str(s)
    }
}

impl core::error::Error for Error {}

impl From<core::net::AddrParseError> for Error {
    fn from(_: core::net::AddrParseError) -> Self {
        Error::Parse
    }
}

#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e {
            Error::ConnectionRefused => K::ConnectionRefused,
            Error::ConnectionReset => K::ConnectionReset,
            Error::ConnectionAborted => K::ConnectionAborted,
            Error::TimedOut => K::TimedOut,
            Error::NetworkUnreachable => K::NetworkUnreachable,
            Error::HostUnreachable => K::HostUnreachable,
            Error::AddressInUse => K::AddrInUse,
            Error::AddressNotAvailable => K::AddrNotAvailable,
            Error::InvalidInput | Error::Parse => K::InvalidInput,
            Error::WouldExceedLimit => K::OutOfMemory,
            Error::WouldBlock => K::WouldBlock,
            Error::NotConnected | Error::SocketClosed => K::NotConnected,
            Error::AlreadyConnected => K::AlreadyExists,
            Error::MessageTooLong => K::InvalidInput,
            Error::ProtocolError => K::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}

impl embedded_io_async::Error for Error {
    fn kind(&self) -> embedded_io_async::ErrorKind {
        use embedded_io_async::ErrorKind as K;
        match self {
            Error::ConnectionRefused => K::ConnectionRefused,
            Error::ConnectionReset => K::ConnectionReset,
            Error::ConnectionAborted => K::ConnectionAborted,
            Error::TimedOut => K::TimedOut,
            Error::AddressInUse => K::AddrInUse,
            Error::AddressNotAvailable => K::AddrNotAvailable,
            Error::InvalidInput | Error::Parse | Error::MessageTooLong => K::InvalidInput,
            Error::WouldExceedLimit => K::OutOfMemory,
            Error::NotConnected | Error::SocketClosed => K::NotConnected,
            Error::ProtocolError => K::InvalidData,
            _ => K::Other,
        }
    }
}

/// `Result` with mnet's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
