//! Multicast Listener Discovery version 2 (RFC 3810 §5): queries (v1 and
//! v2 forms) and reports.

use core::net::Ipv6Addr;

use super::bytes::{read_ipv6, read_u16, write_u16};
use super::icmpv6::message;
use super::{WireError, WireResult};

/// Multicast address record types (RFC 3810 §5.2.12).
pub mod record_type {
    /// "MODE_IS_EXCLUDE": the current state, in answer to a query.
    pub const MODE_IS_EXCLUDE: u8 = 2;
    /// "CHANGE_TO_INCLUDE_MODE": with no sources, leaving a group.
    pub const CHANGE_TO_INCLUDE: u8 = 3;
    /// "CHANGE_TO_EXCLUDE_MODE": with no sources, joining a group.
    pub const CHANGE_TO_EXCLUDE: u8 = 4;
}

/// Length of one record without sources or auxiliary data.
pub const RECORD_LEN: usize = 20;

/// One multicast address record with no sources (all that a host that
/// joins whole groups sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MldRecord {
    pub kind: u8,
    pub group: Ipv6Addr,
}

impl MldRecord {
    /// Write at the start of `b` (at least [`RECORD_LEN`] bytes).
    pub fn emit(&self, b: &mut [u8]) {
        b[0] = self.kind;
        b[1] = 0;
        write_u16(b, 2..4, 0);
        b[4..20].copy_from_slice(&self.group.octets());
    }
}

/// An MLD message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MldRepr<'a> {
    /// RFC 3810 §5.1: a general query has the unspecified group.
    Query { max_resp_code: u16, group: Ipv6Addr },
    /// RFC 3810 §5.2: `records` are the encoded multicast address records,
    /// `count` of them.
    Report { count: u16, records: &'a [u8] },
}

impl<'a> MldRepr<'a> {
    /// Parse a whole ICMPv6 message (checksum verified by the caller).
    pub fn parse(b: &'a [u8]) -> WireResult<MldRepr<'a>> {
        match b.first() {
            Some(&message::MLD_QUERY) => {
                // RFC 3810 §5.1.14: a query of 24 octets is MLDv1, of 28 or
                // more MLDv2; other lengths are invalid.
                if b.len() < 24 || (b.len() > 24 && b.len() < 28) {
                    return Err(WireError::Truncated);
                }
                Ok(MldRepr::Query {
                    max_resp_code: read_u16(b, 4..6),
                    group: read_ipv6(b, 8..24),
                })
            }
            Some(&message::MLDV2_REPORT) => {
                if b.len() < 8 {
                    return Err(WireError::Truncated);
                }
                let count = read_u16(b, 6..8);
                // Every record must be there (sources and aux data included).
                let mut rest = &b[8..];
                for _ in 0..count {
                    if rest.len() < RECORD_LEN {
                        return Err(WireError::Truncated);
                    }
                    let len = RECORD_LEN + usize::from(rest[1]) * 4 + usize::from(read_u16(rest, 2..4)) * 16;
                    rest = rest.get(len..).ok_or(WireError::Truncated)?;
                }
                Ok(MldRepr::Report { count, records: &b[8..] })
            }
            _ => Err(WireError::Unsupported),
        }
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            MldRepr::Query { .. } => 24,
            MldRepr::Report { records, .. } => 8 + records.len(),
        }
    }

    /// Write the message (checksum left zero).
    pub fn emit(&self, b: &mut [u8]) {
        match *self {
            MldRepr::Query { max_resp_code, group } => {
                b[..24].fill(0);
                b[0] = message::MLD_QUERY;
                write_u16(b, 4..6, max_resp_code);
                b[8..24].copy_from_slice(&group.octets());
            }
            MldRepr::Report { count, records } => {
                b[..8].fill(0);
                b[0] = message::MLDV2_REPORT;
                write_u16(b, 6..8, count);
                b[8..8 + records.len()].copy_from_slice(records);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::icmpv6::{Icmpv6Packet, Icmpv6Repr};
    use alloc::vec;

    /// The report Linux sends when it joins ff02::1:ff00:2 (tcpdump shows
    /// "multicast listener report v2, 1 group record(s)"): one
    /// CHANGE_TO_EXCLUDE record with no sources.
    #[test]
    fn report_round_trip() {
        let group: Ipv6Addr = "ff02::1:ff00:2".parse().unwrap();
        let mut recs = [0u8; RECORD_LEN];
        MldRecord {
            kind: record_type::CHANGE_TO_EXCLUDE,
            group,
        }
        .emit(&mut recs);
        let repr = Icmpv6Repr::Mld(MldRepr::Report { count: 1, records: &recs });
        let (s, d) = ("fe80::1".parse().unwrap(), "ff02::16".parse().unwrap());
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(&mut buf, &s, &d);
        assert_eq!(&buf[..8], &[143, 0, buf[2], buf[3], 0, 0, 0, 1]);
        assert_eq!(&buf[8..12], &[4, 0, 0, 0]);
        let p = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Icmpv6Repr::parse(&p, &s, &d, true), Ok(repr));
        // A count larger than the records present is truncated.
        buf[7] = 2;
        assert_eq!(MldRepr::parse(&buf), Err(WireError::Truncated));
    }

    #[test]
    fn queries() {
        let mut q = [0u8; 28];
        q[0] = 130;
        q[4..6].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(
            MldRepr::parse(&q),
            Ok(MldRepr::Query {
                max_resp_code: 1000,
                group: Ipv6Addr::UNSPECIFIED
            })
        );
        assert_eq!(MldRepr::parse(&q[..24]).map(|_| ()), Ok(()));
        assert_eq!(MldRepr::parse(&q[..26]), Err(WireError::Truncated));
    }
}
