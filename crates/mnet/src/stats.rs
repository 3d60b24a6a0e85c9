//! Counters: every drop has a reason and a counter, readable like
//! `netstat -s`. Recording is an array index: no allocation, no hashing.

macro_rules! drop_reasons {
    ($($(#[doc = $doc:literal])* $name:ident => $text:literal,)*) => {
        /// Why the engine dropped a frame, a packet or a datagram.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum Drop { $($(#[doc = $doc])* $name,)* }

        impl Drop {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Drop] = &[$(Drop::$name,)*];
            /// A short, stable, human-readable name (`netstat -s` style).
            pub fn name(self) -> &'static str {
                match self { $(Drop::$name => $text,)* }
            }
        }
    };
}

drop_reasons! {
    EthTruncated => "ethernet: truncated frame",
    EthNotForUs => "ethernet: destination is not our MAC",
    EthUnknownType => "ethernet: unknown ethertype",
    EthBadOffload => "ethernet: offload metadata we cannot honour",
    ArpMalformed => "arp: malformed or unsupported packet",
    ArpNotForUs => "arp: request not for our address",
    ArpConflict => "arp: packet claims one of our addresses",
    ArpCacheFull => "arp: cache full, entry evicted",
    ArpPendingFull => "arp: pending-resolution queue full",
    ArpUnresolved => "arp: next hop never answered",
    Ipv4Malformed => "ipv4: malformed header or bad lengths",
    Ipv4BadVersion => "ipv4: version is not 4",
    Ipv4BadChecksum => "ipv4: bad header checksum",
    Ipv4BadSource => "ipv4: bad source address",
    Ipv4Martian => "ipv4: loopback address seen on the wire",
    Ipv4NotForUs => "ipv4: destination is not ours",
    Ipv4UnknownProtocol => "ipv4: unknown protocol",
    Ipv4NoRoute => "ipv4: no route to destination",
    Ipv4TtlExpired => "ipv4: ttl expired",
    FragMalformed => "fragments: malformed fragment",
    FragOverlap => "fragments: overlapping fragments, datagram discarded",
    FragDuplicate => "fragments: duplicate fragment ignored",
    FragTooBig => "fragments: datagram would exceed 65535 bytes",
    FragTimeout => "fragments: reassembly timed out",
    FragEvicted => "fragments: datagram evicted to make room",
    FragTooMany => "fragments: too many fragments in one datagram",
    FragInconsistent => "fragments: inconsistent end of datagram, datagram discarded",
    FragNeededDf => "fragments: datagram larger than MTU with DF set",
    Icmpv4Malformed => "icmpv4: malformed message",
    Icmpv4BadChecksum => "icmpv4: bad checksum",
    Icmpv4Unsupported => "icmpv4: unsupported message type",
    Icmpv4RateLimited => "icmpv4: error not sent, rate limited",
    Icmpv4NoSocket => "icmpv4: echo reply or error for no socket",
    Icmpv4ErrorNotSent => "icmpv4: error not sent (rule of RFC 1122)",
    UdpMalformed => "udp: malformed header",
    UdpBadChecksum => "udp: bad checksum",
    UdpNoPort => "udp: no socket on destination port",
    UdpRecvQueueFull => "udp: socket receive queue full",
    IcmpSocketQueueFull => "icmp socket: receive queue full",
    Ipv6Malformed => "ipv6: malformed header or extension header",
    Ipv6Unsupported => "ipv6: disabled on this stack",
    Ipv6BadSource => "ipv6: bad source address",
    Ipv6NotForUs => "ipv6: destination is not ours",
    Ipv6NoRoute => "ipv6: no route to destination",
    Ipv6UnknownProtocol => "ipv6: unknown next header",
    Ipv6UnknownOption => "ipv6: unrecognized option with a discard action",
    Ipv6RoutingHeader => "ipv6: routing header with segments left",
    Ipv6ExtHeaders => "ipv6: too many extension headers",
    Ipv6IncompleteChain => "ipv6: first fragment without the whole header chain (RFC 7112)",
    Icmpv6Malformed => "icmpv6: malformed message",
    Icmpv6BadChecksum => "icmpv6: bad checksum",
    Icmpv6Unsupported => "icmpv6: unsupported message type",
    Icmpv6RateLimited => "icmpv6: error not sent, rate limited",
    Icmpv6MulticastEchoRateLimited => "icmpv6: reply to a multicast echo request not sent, rate limited",
    Icmpv6ErrorNotSent => "icmpv6: error not sent (rule of RFC 4443 §2.4)",
    Icmpv6NoSocket => "icmpv6: echo reply or error for no socket",
    NdpInvalid => "ndp: message failed validation (RFC 4861)",
    NdpRedirectKeptRoute => "ndp: redirect did not replace a host route it did not make",
    NdpBadDnsServer => "ndp: RDNSS address unusable as a DNS server (unspecified, loopback, multicast), ignored",
    NdpRouterSolicitIgnored => "ndp: router solicitation ignored (we are a host)",
    NdpCacheFull => "ndp: neighbour cache full, entry evicted",
    NdpPendingFull => "ndp: pending-resolution queue full",
    NdpUnresolved => "ndp: neighbour never answered",
    NdpAddressConflict => "ndp: another node claims one of our addresses",
    NdpDadFailed => "ndp: duplicate address detected, address not used",
    MldInvalid => "mld: query failed validation (RFC 3810 §6.2)",
    SlaacLimit => "ndp: no SLAAC address formed, ipv6_slaac_addresses reached",
    TcpMalformed => "tcp: malformed segment",
    TcpUnsupported => "tcp: not supported yet",
    TcpBadChecksum => "tcp: bad checksum",
    TcpNoListener => "tcp: no connection or listener (reset sent)",
    TcpSynQueueFull => "tcp: SYN queue full, answered with a SYN cookie",
    TcpAcceptQueueFull => "tcp: accept queue full, handshake ACK dropped (the peer retries)",
    TcpTimeWaitFull => "tcp: TIME_WAIT table full, record not kept",
    TcpConnectionLimit => "tcp: connection limit reached",
    TcpRetransmitTimeout => "tcp: connection timed out (retransmissions exhausted)",
    TcpListenNoSyn => "tcp: segment without SYN to a listening port",
    TcpBroadcast => "tcp: segment to a broadcast address",
    TcpStale => "tcp: segment for a connection being torn down",
    TcpIcmpOutOfWindow => "tcp: ICMP error quoting a sequence number not in flight (RFC 5927)",
    TxQueueFull => "transmit: engine queue full",
    TxTooBig => "transmit: packet larger than any MTU allows",
    LoopbackFull => "loopback: queue full",
}

/// Traffic counters (not drops).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub frames_in: u64,
    pub frames_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub ipv4_in: u64,
    pub ipv4_out: u64,
    pub ipv4_frags_in: u64,
    pub ipv4_reassembled: u64,
    pub ipv4_frags_out: u64,
    pub ipv6_in: u64,
    pub ipv6_out: u64,
    pub ipv6_frags_in: u64,
    pub ipv6_atomic_frags_in: u64,
    pub ipv6_reassembled: u64,
    pub ipv6_frags_out: u64,
    pub icmpv6_in: u64,
    pub icmpv6_out: u64,
    pub ndp_in: u64,
    pub ndp_out: u64,
    pub mld_out: u64,
    pub arp_in: u64,
    pub arp_out: u64,
    pub icmpv4_in: u64,
    pub icmpv4_out: u64,
    pub udp_in: u64,
    pub udp_out: u64,
    pub tcp_in: u64,
    pub tcp_out: u64,
    pub loopback: u64,
}

/// All counters of one stack.
#[derive(Debug, Clone)]
pub struct Stats {
    drops: [u64; Drop::ALL.len()],
    pub traffic: Traffic,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            drops: [0; Drop::ALL.len()],
            traffic: Traffic::default(),
        }
    }
}

impl Stats {
    /// Count one drop.
    #[inline]
    pub fn record(&mut self, reason: Drop) {
        let slot = &mut self.drops[reason as usize];
        *slot = slot.saturating_add(1);
    }

    /// How many times `reason` happened.
    pub fn drops(&self, reason: Drop) -> u64 {
        self.drops[reason as usize]
    }

    /// Every drop reason with its count, zeros included.
    pub fn all_drops(&self) -> impl Iterator<Item = (Drop, u64)> + '_ {
        Drop::ALL.iter().map(|&d| (d, self.drops[d as usize]))
    }

    /// Sum of all drops.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

impl core::fmt::Display for Stats {
    /// `netstat -s` style: traffic, then every non-zero drop reason.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let t = &self.traffic;
        writeln!(f, "traffic:")?;
        writeln!(
            f,
            "    {} frames in ({} bytes), {} frames out ({} bytes)",
            t.frames_in, t.bytes_in, t.frames_out, t.bytes_out
        )?;
        writeln!(
            f,
            "    ipv4: {} in, {} out, {} fragments in, {} reassembled, {} fragments out",
            t.ipv4_in, t.ipv4_out, t.ipv4_frags_in, t.ipv4_reassembled, t.ipv4_frags_out
        )?;
        if t.ipv6_in + t.ipv6_out > 0 {
            writeln!(
                f,
                "    ipv6: {} in, {} out, {} fragments in ({} atomic), {} reassembled, {} fragments out",
                t.ipv6_in, t.ipv6_out, t.ipv6_frags_in, t.ipv6_atomic_frags_in, t.ipv6_reassembled, t.ipv6_frags_out
            )?;
            writeln!(
                f,
                "    icmpv6: {} in, {} out; ndp: {} in, {} out; mld: {} out",
                t.icmpv6_in, t.icmpv6_out, t.ndp_in, t.ndp_out, t.mld_out
            )?;
        }
        writeln!(
            f,
            "    arp: {} in, {} out; icmpv4: {} in, {} out; udp: {} in, {} out; tcp: {} in, {} out; loopback: {}",
            t.arp_in, t.arp_out, t.icmpv4_in, t.icmpv4_out, t.udp_in, t.udp_out, t.tcp_in, t.tcp_out, t.loopback
        )?;
        writeln!(f, "drops: {} total", self.total_drops())?;
        for (d, n) in self.all_drops().filter(|(_, n)| *n > 0) {
            writeln!(f, "    {n} {}", d.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_and_read() {
        let mut s = Stats::default();
        s.record(Drop::UdpNoPort);
        s.record(Drop::UdpNoPort);
        assert_eq!(s.drops(Drop::UdpNoPort), 2);
        assert_eq!(s.total_drops(), 2);
        assert_eq!(s.all_drops().count(), Drop::ALL.len());
    }
}
