//! Frame builders for the fuzz harness: IPv4 headers with any field,
//! Ethernet framing, ICMP and TCP messages with valid checksums, and the
//! damage done to a built frame. Everything a peer could put on the wire,
//! built from resolved values (the harness resolves the action's selectors).
//!
//! ```
//! // Used through `mnet_sim::fuzz`: 23 zero bytes are one echo request
//! // from the gateway, built here with a valid checksum.
//! let outcome = mnet_sim::fuzz::execute(&[0; 23]);
//! assert_eq!(outcome.stats.traffic.icmpv4_in, 1);
//! ```

use std::net::{IpAddr, Ipv4Addr};

use mnet::wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Packet, Ipv4Repr, TcpFlags, TcpPacket, TcpRepr, TcpSeqNumber,
    checksum, ethernet, ipv4,
};

use super::{Damage, Ip, Ipv4Fields};

pub(super) fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt)).collect()
}

/// A resolved IPv4 header for the frame builders.
#[derive(Clone, Copy)]
pub(super) struct Header {
    pub(super) src: Ipv4Addr,
    pub(super) dst: Ipv4Addr,
    pub(super) protocol: IpProtocol,
    pub(super) ttl: u8,
    pub(super) ident: u16,
    pub(super) tos: u8,
    pub(super) flags: u8,
    /// Bytes (a multiple of 8).
    pub(super) frag_offset: usize,
    /// Bytes of options.
    pub(super) options: usize,
}

impl Header {
    pub(super) fn new(f: &Ipv4Fields, protocol: IpProtocol) -> Header {
        Header {
            src: f.src.addr(),
            dst: f.dst.addr(),
            protocol,
            ttl: f.ttl,
            ident: f.ident,
            tos: f.tos,
            flags: f.flags,
            frag_offset: usize::from(f.frag_offset) * 8,
            options: usize::from(f.options.min(10)) * 4,
        }
    }

    pub(super) fn plain(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol) -> Header {
        let mut h = Header::new(&Ipv4Fields::new(Ip::Raw(src), Ip::Raw(dst)), protocol);
        h.ident = 0x4242;
        h
    }

    /// The header bytes (with options and a valid checksum) for `payload_len` bytes.
    pub(super) fn bytes(&self, payload_len: usize) -> Vec<u8> {
        let hl = ipv4::HEADER_LEN + self.options;
        let mut b = vec![0u8; hl];
        Ipv4Repr {
            src_addr: self.src,
            dst_addr: self.dst,
            next_header: self.protocol,
            payload_len: (self.options + payload_len).min(ipv4::MAX_PAYLOAD_LEN),
            hop_limit: self.ttl,
            dscp_ecn: self.tos,
            ident: self.ident,
            dont_frag: self.flags & 1 != 0,
            more_frags: self.flags & 2 != 0,
            frag_offset: self.frag_offset.min(0xfff8) as u16,
        }
        .emit(&mut Ipv4Packet::new_unchecked(&mut b[..]), false);
        if self.flags & 4 != 0 {
            b[6] |= 0x80;
        }
        if self.options > 0 {
            b[ipv4::HEADER_LEN..hl].fill(1); // NOP
            b[hl - 1] = 0; // end of option list
        }
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_header_len(hl);
        p.fill_checksum();
        b
    }
}

pub(super) fn eth_frame(dst: EthernetAddress, src: EthernetAddress, ethertype: EtherType, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN + body.len()];
    EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        ethertype,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    f[ethernet::HEADER_LEN..].copy_from_slice(body);
    f
}

/// A TCP segment with a valid checksum; `options` as in [`Payload::Tcp`].
#[allow(clippy::too_many_arguments)]
pub(super) fn tcp_segment(
    (src, dst): (Ipv4Addr, Ipv4Addr),
    (src_port, dst_port): (u16, u16),
    (seq, ack): (u32, u32),
    flags: u8,
    window: u16,
    options: u8,
    timestamp: Option<(u32, u32)>,
    data: &[u8],
) -> Vec<u8> {
    let flags = TcpFlags(u16::from(flags));
    let repr = TcpRepr {
        src_port,
        dst_port,
        seq_number: TcpSeqNumber(seq),
        ack_number: flags.contains(TcpFlags::ACK).then_some(TcpSeqNumber(ack)),
        flags,
        window_len: window,
        urgent_ptr: 0,
        max_seg_size: (options & 1 != 0).then_some(1460),
        window_scale: (options & 2 != 0).then_some(7),
        sack_permitted: options & 4 != 0,
        sack_ranges: [(options & 16 != 0).then_some((ack, ack.wrapping_add(100))), None, None, None],
        timestamp,
        payload: data,
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), &IpAddr::V4(src), &IpAddr::V4(dst));
    b
}

pub(super) fn icmp_message(msg_type: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = vec![msg_type, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    let sum = checksum::checksum(&m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// Apply `d` to a built frame.
pub(super) fn damage(f: &mut Vec<u8>, d: Damage) {
    const IP: usize = ethernet::HEADER_LEN;
    let is_ipv4 = f.len() >= IP + ipv4::HEADER_LEN && f[12..14] == [0x08, 0x00];
    let refill = |f: &mut Vec<u8>| {
        f[IP + 10..IP + 12].fill(0);
        let hl = (usize::from(f[IP] & 0x0f) * 4).clamp(ipv4::HEADER_LEN, f.len() - IP);
        let sum = checksum::checksum(&f[IP..IP + hl]);
        f[IP + 10..IP + 12].copy_from_slice(&sum.to_be_bytes());
    };
    match d {
        Damage::None => {}
        Damage::IpChecksum if is_ipv4 => f[IP + 11] ^= 0xff,
        Damage::TotalLen(delta) if is_ipv4 => {
            let len = u16::from_be_bytes([f[IP + 2], f[IP + 3]]).wrapping_add_signed(i16::from(delta));
            f[IP + 2..IP + 4].copy_from_slice(&len.to_be_bytes());
            refill(f);
        }
        Damage::Version(v) if is_ipv4 => {
            f[IP] = (v << 4) | (f[IP] & 0x0f);
            refill(f);
        }
        Damage::HeaderLen(v) if is_ipv4 => {
            f[IP] = (f[IP] & 0xf0) | (v & 0x0f);
            refill(f);
        }
        Damage::IpChecksum | Damage::TotalLen(_) | Damage::Version(_) | Damage::HeaderLen(_) => {}
        Damage::Truncate(n) => f.truncate(usize::from(n)),
        Damage::Pad(n) => f.resize(f.len() + usize::from(n), 0),
        Damage::TransportChecksum => {
            if let Some(b) = f.last_mut() {
                *b ^= 0x10;
            }
        }
        Damage::Flip { at, xor } => {
            if !f.is_empty() {
                let i = usize::from(at) % f.len();
                f[i] ^= xor;
            }
        }
    }
}
