//! MLDv2 (RFC 3810) for a host: reports for the solicited-node groups of
//! our addresses and for joined groups, so that switches snooping
//! multicast still deliver neighbour discovery; answers to queries.

use alloc::vec::Vec;
use core::net::Ipv6Addr;

use super::Stack;
use super::ipv6_in::{ALL_MLDV2_ROUTERS, Ipv6Meta};
use super::ipv6_out::Ipv6Tx;
use crate::error::{Error, Result};
use crate::ip::ipv6_addr::{AddrOrigin, AddrState, solicited_node};
use crate::time::{Duration, Instant, earliest};
use crate::wire::IpProtocol;
use crate::wire::icmpv6::Icmpv6Repr;
use crate::wire::mld::{MldRecord, MldRepr, RECORD_LEN, record_type};

/// RFC 3810 §9.1: "Robustness Variable ... Default: 2": an unsolicited
/// report is sent this many times.
pub const ROBUSTNESS_VARIABLE: u8 = 2;
/// RFC 3810 §9.11: "Unsolicited Report Interval ... Default: 1 second".
pub const UNSOLICITED_REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Pending reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct MldState {
    /// State-change reports still to send (retransmissions).
    change_left: u8,
    change_at: Option<Instant>,
    /// A current-state report answering a query.
    query_at: Option<Instant>,
    /// Groups left, with the leave reports still to send (bounded by
    /// the number of groups a stack can have).
    leaving: Vec<(Ipv6Addr, u8)>,
    leave_at: Option<Instant>,
}

impl MldState {
    pub fn poll_at(&self) -> Option<Instant> {
        earliest(earliest(self.change_at, self.query_at), self.leave_at)
    }
}

impl Stack {
    /// Our groups: solicited-node groups of every address (tentative
    /// included), then joined groups; no duplicates. RFC 3810 §6: the
    /// all-nodes group is never reported.
    fn mld_groups(&self) -> Vec<Ipv6Addr> {
        let mut g: Vec<Ipv6Addr> = Vec::new();
        let all = self
            .ipv6
            .addrs
            .iter()
            .filter(|e| e.state != AddrState::Duplicate)
            .map(|e| solicited_node(e.addr))
            .chain(self.ipv6.groups.iter().copied());
        for a in all {
            if !g.contains(&a) {
                g.push(a);
            }
        }
        g
    }

    /// Group membership changed: RFC 3810 §6.1: "the node ... immediately
    /// transmits a State Change Report ... To cover the possibility of the
    /// State Change Report being missed by one or more multicast routers,
    /// it is retransmitted [Robustness Variable] - 1 more times, at
    /// intervals chosen at random from the range (0, [Unsolicited Report
    /// Interval])."
    pub(super) fn mld_joined(&mut self, now: Instant) {
        self.ipv6.mld.change_left = ROBUSTNESS_VARIABLE;
        self.ipv6.mld.change_at = Some(now);
    }

    /// Join a multicast group (bounded by `ipv6_multicast_groups`).
    pub fn ipv6_join_group(&mut self, now: Instant, group: Ipv6Addr) -> Result<()> {
        if !group.is_multicast() {
            return Err(Error::InvalidInput);
        }
        if self.ipv6.groups.contains(&group) {
            return Ok(());
        }
        if self.ipv6.groups.len() >= self.limits.ipv6_multicast_groups {
            return Err(Error::WouldExceedLimit);
        }
        self.ipv6.groups.push(group);
        self.mld_joined(now);
        Ok(())
    }

    /// Leave a group joined with [`Self::ipv6_join_group`].
    pub fn ipv6_leave_group(&mut self, now: Instant, group: Ipv6Addr) -> Result<()> {
        let Some(i) = self.ipv6.groups.iter().position(|g| *g == group) else {
            return Err(Error::InvalidInput);
        };
        self.ipv6.groups.swap_remove(i);
        self.mld_left(now, group);
        Ok(())
    }

    /// An address is gone: its DAD stops and its solicited-node group may
    /// be left.
    pub(super) fn ipv6_address_removed(&mut self, addr: Ipv6Addr) {
        self.ipv6.dad.retain(|d| d.addr != addr);
        let now = self.now;
        self.mld_left(now, solicited_node(addr));
    }

    /// A group may have been left (a group removed, or the last address
    /// with this solicited-node group gone): RFC 3810 §6.1, the change is
    /// reported as a CHANGE_TO_INCLUDE_MODE record with no sources,
    /// [Robustness Variable] times.
    pub(super) fn mld_left(&mut self, now: Instant, group: Ipv6Addr) {
        if self.mld_groups().contains(&group) {
            return;
        }
        let bound = self.limits.max_addresses + self.limits.ipv6_multicast_groups;
        let st = &mut self.ipv6.mld;
        st.leaving.retain(|(g, _)| *g != group);
        if st.leaving.len() < bound {
            st.leaving.push((group, ROBUSTNESS_VARIABLE));
            st.leave_at = Some(now);
        }
    }

    /// RFC 3810 §6.2: on a query, "the node ... schedules a report ... at a
    /// random time within [Maximum Response Delay]".
    pub(super) fn process_mld(&mut self, now: Instant, meta: &Ipv6Meta, m: MldRepr<'_>) {
        let MldRepr::Query { max_resp_code, group } = m else { return };
        // RFC 3810 §6.2: "Upon reception of an MLD message that contains a
        // Query, the node checks if the source address of the message is a
        // valid link-local address, if the hop limit is set to 1, and if the
        // Router Alert option is present in the Hop-By-Hop Options header.
        // If any of these checks fails, the packet is dropped."
        if !crate::ip::ipv6_addr::is_link_local(meta.repr.src_addr) || meta.repr.hop_limit != 1 || !meta.router_alert {
            self.stats.record(crate::stats::Drop::MldInvalid);
            return;
        }
        let ours = self.mld_groups();
        if !group.is_unspecified() && !ours.contains(&group) {
            return;
        }
        // RFC 3810 §5.1.3: codes below 32768 are milliseconds (larger ones
        // are floating point; we cap at the largest exact value).
        let max_ms = u64::from(max_resp_code.min(32767)).max(1);
        let delay = Duration::from_millis(u64::from(self.rng.range_u32(0, max_ms as u32)));
        let at = now + delay;
        if self.ipv6.mld.query_at.is_none_or(|t| t > at) {
            self.ipv6.mld.query_at = Some(at);
        }
    }

    pub(super) fn poll_mld(&mut self, now: Instant) {
        let (change_at, change_left, query_at, leave_at) = {
            let st = &self.ipv6.mld;
            (st.change_at, st.change_left, st.query_at, st.leave_at)
        };
        if change_at.is_some_and(|t| t <= now) {
            self.ipv6.mld.change_left = change_left.saturating_sub(1);
            self.ipv6.mld.change_at = if self.ipv6.mld.change_left > 0 {
                let us = u32::try_from(UNSOLICITED_REPORT_INTERVAL.as_micros()).unwrap_or(u32::MAX);
                Some(now + Duration::from_micros(u64::from(self.rng.range_u32(1, us))))
            } else {
                None
            };
            self.send_mld_report(now, record_type::CHANGE_TO_EXCLUDE);
        }
        if leave_at.is_some_and(|t| t <= now) {
            let groups: Vec<Ipv6Addr> = self.ipv6.mld.leaving.iter().map(|(g, _)| *g).collect();
            self.send_mld_records(now, record_type::CHANGE_TO_INCLUDE, &groups);
            let st = &mut self.ipv6.mld;
            for (_, left) in st.leaving.iter_mut() {
                *left = left.saturating_sub(1);
            }
            st.leaving.retain(|(_, left)| *left > 0);
            st.leave_at = if st.leaving.is_empty() {
                None
            } else {
                let us = u32::try_from(UNSOLICITED_REPORT_INTERVAL.as_micros()).unwrap_or(u32::MAX);
                Some(now + Duration::from_micros(u64::from(self.rng.range_u32(1, us))))
            };
        }
        if query_at.is_some_and(|t| t <= now) {
            self.ipv6.mld.query_at = None;
            self.send_mld_report(now, record_type::MODE_IS_EXCLUDE);
        }
    }

    /// RFC 3810 §5.2: one report with a record per group, "sent with a
    /// valid IPv6 link-local source address, or the unspecified address
    /// (::), if the sending interface has not acquired a valid link-local
    /// address yet", to "the all MLDv2-capable routers multicast address
    /// (FF02::16)", hop limit 1 with a Router Alert option (§5).
    fn send_mld_report(&mut self, now: Instant, kind: u8) {
        let groups = self.mld_groups();
        self.send_mld_records(now, kind, &groups);
    }

    /// One report with a `kind` record for each group.
    fn send_mld_records(&mut self, now: Instant, kind: u8, groups: &[Ipv6Addr]) {
        if groups.is_empty() {
            return;
        }
        let mut records = self.pool.take(groups.len() * RECORD_LEN);
        for (i, &group) in groups.iter().enumerate() {
            MldRecord { kind, group }.emit(&mut records[i * RECORD_LEN..]);
        }
        let src = self
            .ipv6
            .addrs
            .iter()
            .find(|e| e.origin == AddrOrigin::LinkLocal && matches!(e.state, AddrState::Preferred | AddrState::Deprecated))
            .map_or(Ipv6Addr::UNSPECIFIED, |e| e.addr);
        let repr = Icmpv6Repr::Mld(MldRepr::Report {
            count: groups.len() as u16,
            records: &records,
        });
        let mut tx = Ipv6Tx::new(Some(src), ALL_MLDV2_ROUTERS, IpProtocol::Icmpv6, repr.buffer_len());
        tx.hop_limit = Some(1);
        tx.router_alert = true;
        if self.send_ipv6(now, tx, |buf, src| repr.emit(buf, &src, &ALL_MLDV2_ROUTERS)).is_ok() {
            self.stats.traffic.icmpv6_out += 1;
            self.stats.traffic.mld_out += 1;
        }
        self.pool.give(records);
    }
}
