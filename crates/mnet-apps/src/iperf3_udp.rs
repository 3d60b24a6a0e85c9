//! UDP tests of the iperf3 server (`iperf3 -u`, both directions).
//!
//! As the iperf3 client does it (seen on the wire): after
//! `CREATE_STREAMS` each stream's UDP socket sends the 4 bytes
//! [`UDP_CONNECT_MSG`] to the server's port and waits for
//! [`UDP_CONNECT_REPLY`]. Every data datagram then starts with the
//! sender's clock (seconds and microseconds, 32-bit big-endian each) and
//! a packet count (32-bit big-endian, from 1). The receiver counts bytes,
//! the highest packet count, lost and out-of-order packets, and the
//! interarrival jitter of RFC 3550 §6.4.1 — the difference of transit
//! times, so the two clocks need not agree. In reverse tests (`-R`) the
//! server sends such datagrams to each stream at the client's `-b` rate,
//! paced every [`PACING_INTERVAL`].
//!
//! ```
//! use mnet::Instant;
//! use mnet_apps::iperf3_udp::UdpStreamStats;
//! let mut s = UdpStreamStats::default();
//! let datagram = |n: u32| [&[0, 0, 0, 1][..], &[0, 0, 0, 0], &n.to_be_bytes(), &[0; 20]].concat();
//! s.on_datagram(&datagram(1), Instant::from_millis(10));
//! s.on_datagram(&datagram(3), Instant::from_millis(11));
//! assert_eq!((s.packets, s.lost, s.bytes), (3, 1, 64));
//! ```

use alloc::vec::Vec;
use core::net::SocketAddr;

use mnet::socket::UdpSocket;
use mnet::{Duration, Instant, Net};

/// What a client's stream socket sends first ("9876").
pub const UDP_CONNECT_MSG: [u8; 4] = *b"9876";
/// The server's answer ("6789").
pub const UDP_CONNECT_REPLY: [u8; 4] = *b"6789";
/// Bytes of the header at the start of every data datagram.
pub const UDP_HEADER_LEN: usize = 12;
/// Largest datagram read (iperf3's UDP block limit is below 64 KiB).
pub const UDP_MAX_DATAGRAM: usize = 65_536;
/// How often a sending test tops up each stream to its rate (iperf3's
/// default `pacing_timer`, 1 ms).
pub const PACING_INTERVAL: Duration = Duration::from_millis(1);
/// The rate used when the client asks for an unlimited one (`-b 0`),
/// bits per second per stream.
pub const UNLIMITED_RATE: u64 = 10_000_000_000;

/// One UDP stream as the receiver counts it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct UdpStreamStats {
    pub bytes: u64,
    /// The highest packet count seen (iperf3's "packets").
    pub packets: u64,
    /// Packets missing between the counts seen (iperf3's "errors").
    pub lost: u64,
    pub out_of_order: u64,
    /// Interarrival jitter (RFC 3550 §6.4.1), in seconds.
    pub jitter: f64,
    /// The previous packet's transit time (arrival - sent), microseconds.
    prev_transit: Option<i64>,
}

impl UdpStreamStats {
    /// Count one datagram that arrived at `arrival` (a short one counts
    /// its bytes only).
    pub fn on_datagram(&mut self, d: &[u8], arrival: Instant) {
        self.bytes += d.len() as u64;
        let (Some(sec), Some(usec), Some(count)) = (be32(d, 0), be32(d, 4), be32(d, 8)) else {
            return;
        };
        let count = u64::from(count);
        if count > self.packets {
            self.lost += count - self.packets - 1;
            self.packets = count;
        } else {
            // A late packet that was counted as lost when its successor came.
            self.out_of_order += 1;
            self.lost = self.lost.saturating_sub(1);
        }
        // RFC 3550 §6.4.1: "D(i,j) = (Rj - Ri) - (Sj - Si) = (Rj - Sj) - (Ri - Si)"
        // and "J(i) = J(i-1) + (|D(i-1,i)| - J(i-1))/16".
        let sent = i64::from(sec) * 1_000_000 + i64::from(usec);
        let transit = i64::try_from(arrival.total_micros()).unwrap_or(i64::MAX).wrapping_sub(sent);
        if let Some(prev) = self.prev_transit {
            let d = transit.wrapping_sub(prev).unsigned_abs() as f64 / 1e6;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.prev_transit = Some(transit);
    }

    /// Start counting afresh (after the omitted seconds).
    pub fn reset(&mut self) {
        *self = UdpStreamStats {
            packets: self.packets,
            prev_transit: self.prev_transit,
            ..UdpStreamStats::default()
        };
    }
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes)
}

/// Waits for `n` streams to say [`UDP_CONNECT_MSG`]; answers each with
/// [`UDP_CONNECT_REPLY`]. Returns their addresses in order of arrival (the
/// client's stream order). Other datagrams are ignored.
pub async fn accept_streams(sock: &UdpSocket, n: usize) -> mnet::Result<Vec<SocketAddr>> {
    let mut peers: Vec<SocketAddr> = Vec::new();
    let mut buf = [0u8; 64];
    while peers.len() < n {
        let (len, from) = sock.recv_from(&mut buf).await?;
        if buf.get(..len) == Some(&UDP_CONNECT_MSG[..]) {
            if !peers.contains(&from) {
                peers.push(from);
            }
            // A repeated hello lost our reply: answer again.
            sock.send_to(&UDP_CONNECT_REPLY, from).await?;
        }
    }
    Ok(peers)
}

/// Receives data datagrams forever, counting them into `stats` by sender
/// (index in `peers`); datagrams from others are ignored.
pub async fn receive(
    sock: &UdpSocket,
    peers: &[SocketAddr],
    stats: &core::cell::RefCell<Vec<UdpStreamStats>>,
    now: impl Fn() -> Instant,
) -> mnet::Error {
    let mut buf = alloc::vec![0u8; UDP_MAX_DATAGRAM];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((len, from)) => {
                let at = now();
                if let (Some(i), Some(d)) = (peers.iter().position(|p| *p == from), buf.get(..len))
                    && let Some(s) = stats.borrow_mut().get_mut(i)
                {
                    s.on_datagram(d, at);
                }
            }
            Err(e) => return e,
        }
    }
}

/// Sends `block`-sized datagrams to every peer at `rate` bits/s each
/// until `budget` bytes (if any) are sent in total; returns only on a
/// socket error (the caller drops it when the test ends). Counts what
/// each stream sent into `stats` (`packets` = datagrams sent).
pub async fn send(
    net: &Net,
    sock: &UdpSocket,
    peers: &[SocketAddr],
    block: &mut [u8],
    rate: u64,
    mut budget: Option<u64>,
    stats: &core::cell::RefCell<Vec<UdpStreamStats>>,
) -> mnet::Error {
    let rate = if rate == 0 { UNLIMITED_RATE } else { rate };
    let len = block.len().max(UDP_HEADER_LEN) as u64;
    let start = net.now();
    loop {
        let elapsed = (net.now() - start).as_micros();
        // Bytes each stream may have sent by now.
        let allowed = u64::try_from(u128::from(rate) * elapsed / 8_000_000).unwrap_or(u64::MAX);
        for (i, peer) in peers.iter().enumerate() {
            loop {
                let (sent, count) = match stats.borrow().get(i) {
                    Some(s) => (s.bytes, s.packets),
                    None => break,
                };
                if sent.saturating_add(len) > allowed.max(len) || budget == Some(0) {
                    break;
                }
                let now = net.now().total_micros();
                let sec = u32::try_from(now / 1_000_000).unwrap_or(u32::MAX);
                let usec = (now % 1_000_000) as u32;
                let header = [
                    sec.to_be_bytes(),
                    usec.to_be_bytes(),
                    u32::try_from(count + 1).unwrap_or(u32::MAX).to_be_bytes(),
                ];
                for (dst, src) in block.chunks_mut(4).zip(header) {
                    dst.copy_from_slice(&src);
                }
                match sock.send_to(block, *peer).await {
                    Ok(()) => {}
                    // A full queue: try again at the next tick.
                    Err(mnet::Error::WouldBlock | mnet::Error::WouldExceedLimit) => break,
                    Err(e) => return e,
                }
                if let Some(s) = stats.borrow_mut().get_mut(i) {
                    s.bytes += len;
                    s.packets += 1;
                }
                if let Some(b) = &mut budget {
                    *b = b.saturating_sub(len);
                }
            }
        }
        net.sleep(PACING_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(sec: u32, usec: u32, count: u32, len: usize) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&sec.to_be_bytes());
        d.extend_from_slice(&usec.to_be_bytes());
        d.extend_from_slice(&count.to_be_bytes());
        d.resize(len, 0x55);
        d
    }

    #[test]
    fn counts_loss_reordering_and_jitter() {
        let mut s = UdpStreamStats::default();
        // Sent every 10 ms; arrivals 5 ms later, then one 7 ms later.
        s.on_datagram(&datagram(100, 0, 1, 1448), Instant::from_micros(5_000));
        s.on_datagram(&datagram(100, 10_000, 2, 1448), Instant::from_micros(15_000));
        assert_eq!(s.jitter, 0.0);
        s.on_datagram(&datagram(100, 20_000, 3, 1448), Instant::from_micros(27_000));
        // |D| = 2 ms: J = 0 + (0.002 - 0) / 16.
        assert!((s.jitter - 0.002 / 16.0).abs() < 1e-12, "{}", s.jitter);
        // 4 and 5 missing, then 5 arrives late.
        s.on_datagram(&datagram(100, 50_000, 6, 1448), Instant::from_micros(57_000));
        assert_eq!((s.packets, s.lost, s.out_of_order), (6, 2, 0));
        s.on_datagram(&datagram(100, 40_000, 5, 1448), Instant::from_micros(58_000));
        assert_eq!((s.packets, s.lost, s.out_of_order), (6, 1, 1));
        assert_eq!(s.bytes, 5 * 1448);
        // Short datagrams count their bytes only.
        s.on_datagram(&[1, 2, 3], Instant::from_micros(60_000));
        assert_eq!((s.bytes, s.packets), (5 * 1448 + 3, 6));
        s.reset();
        assert_eq!((s.bytes, s.packets, s.lost, s.jitter), (0, 6, 0, 0.0));
        s.on_datagram(&datagram(100, 60_000, 7, 100), Instant::from_micros(67_000));
        assert_eq!((s.bytes, s.packets, s.lost), (100, 7, 0));
    }
}
