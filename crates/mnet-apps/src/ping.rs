//! `ping`: ICMP echo with a per-reply round-trip time and a ping(8)-like
//! summary.

use alloc::vec;
use alloc::vec::Vec;
use core::net::IpAddr;

use mnet::socket::timeout;
use mnet::stack::EchoEvent;
use mnet::{Duration, Error, Instant, Net};

/// Send times are kept for this many outstanding sequence numbers.
pub const PING_WINDOW: usize = 1024;

/// What to do.
#[derive(Debug, Clone)]
pub struct PingConfig {
    pub dst: IpAddr,
    /// Requests to send (`None`: until the future is dropped).
    pub count: Option<u32>,
    /// Data bytes per request (ping's `-s`, default 56).
    pub size: usize,
    /// Time between requests (ping's `-i`, default 1 s).
    pub interval: Duration,
    /// How long to wait for replies after the last request (ping's `-W`).
    pub wait: Duration,
    /// The echo identifier (`None`: random).
    pub ident: Option<u16>,
}

impl PingConfig {
    pub fn new(dst: IpAddr) -> Self {
        PingConfig {
            dst,
            count: None,
            size: 56,
            interval: Duration::from_secs(1),
            wait: Duration::from_secs(2),
            ident: None,
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingEvent {
    Reply {
        from: IpAddr,
        seq: u16,
        bytes: usize,
        rtt: Duration,
    },
    /// The reply's data differs from what we sent.
    Corrupt {
        from: IpAddr,
        seq: u16,
    },
    Error {
        from: IpAddr,
        seq: u16,
        error: Error,
    },
    /// A request could not be sent.
    SendFailed {
        seq: u16,
        error: Error,
    },
}

/// Counters for the summary; updated as the ping runs, so they stay valid
/// when the ping future is dropped (interrupted).
#[derive(Debug, Clone, Default)]
pub struct PingStats {
    pub transmitted: u32,
    pub received: u32,
    pub errors: u32,
    pub duplicates: u32,
    rtt_min: Option<Duration>,
    rtt_max: Duration,
    rtt_sum_us: u128,
    rtt_sq_sum_us: u128,
}

impl PingStats {
    fn record_rtt(&mut self, rtt: Duration) {
        self.rtt_min = Some(self.rtt_min.map_or(rtt, |m| m.min(rtt)));
        self.rtt_max = self.rtt_max.max(rtt);
        let us = rtt.as_micros();
        self.rtt_sum_us += us;
        self.rtt_sq_sum_us += us * us;
    }

    /// Percentage of requests without a reply.
    pub fn loss_percent(&self) -> u32 {
        if self.transmitted == 0 {
            return 0;
        }
        let lost = self.transmitted.saturating_sub(self.received);
        ((u64::from(lost) * 100) / u64::from(self.transmitted)) as u32
    }

    /// (min, avg, max, mdev) round-trip times, when any reply came back.
    pub fn rtt(&self) -> Option<(Duration, Duration, Duration, Duration)> {
        let min = self.rtt_min?;
        let n = u128::from(self.received.max(1));
        let avg = self.rtt_sum_us / n;
        let var = (self.rtt_sq_sum_us / n).saturating_sub(avg * avg);
        let mdev = isqrt(var);
        let us = |v: u128| Duration::from_micros(u64::try_from(v).unwrap_or(u64::MAX));
        Some((min, us(avg), self.rtt_max, us(mdev)))
    }

    /// Every request got its reply.
    pub fn all_answered(&self) -> bool {
        self.transmitted > 0 && self.received >= self.transmitted
    }
}

fn isqrt(v: u128) -> u128 {
    if v < 2 {
        return v;
    }
    let mut x = v;
    let mut y = x.div_ceil(2);
    while y < x {
        x = y;
        y = (x + v / x) / 2;
    }
    x
}

fn pattern_byte(i: usize) -> u8 {
    (i & 0xff) as u8
}

/// Run the ping, calling `on_event` for every reply and error.
pub async fn ping(net: &Net, cfg: &PingConfig, stats: &mut PingStats, mut on_event: impl FnMut(&PingEvent)) -> mnet::Result<()> {
    let sock = net.echo_socket(cfg.ident)?;
    let data: Vec<u8> = (0..cfg.size).map(pattern_byte).collect();
    let mut buf = vec![0u8; cfg.size.max(1)];
    let mut sent_at: Vec<Option<Instant>> = vec![None; PING_WINDOW];
    let mut seq: u16 = 0;
    let mut next_send = net.now();
    let mut last_deadline: Option<Instant> = None;
    loop {
        let now = net.now();
        let more_to_send = cfg.count.is_none_or(|c| stats.transmitted < c);
        if more_to_send && now >= next_send {
            seq = seq.wrapping_add(1);
            match sock.send(cfg.dst, seq, &data).await {
                Ok(()) => {
                    stats.transmitted += 1;
                    sent_at[usize::from(seq) % PING_WINDOW] = Some(net.now());
                }
                Err(error) => {
                    stats.transmitted += 1;
                    stats.errors += 1;
                    on_event(&PingEvent::SendFailed { seq, error });
                }
            }
            next_send = now + cfg.interval;
            if cfg.count.is_some_and(|c| stats.transmitted >= c) {
                last_deadline = Some(net.now() + cfg.wait);
            }
            continue;
        }
        if cfg.count.is_some() && stats.received + stats.errors >= stats.transmitted && !more_to_send {
            return Ok(());
        }
        let until = if more_to_send { next_send } else { last_deadline.unwrap_or(now) };
        if now >= until && !more_to_send {
            return Ok(());
        }
        let wait = until - now;
        match timeout(net, wait, sock.recv(&mut buf)).await {
            Err(_) => continue, // the interval or the final wait elapsed
            Ok(Err(e)) => return Err(e),
            Ok(Ok(EchoEvent::Reply { from, seq_no, len })) => {
                let slot = &mut sent_at[usize::from(seq_no) % PING_WINDOW];
                let Some(t0) = slot.take() else {
                    stats.duplicates += 1;
                    continue;
                };
                if len != data.len() || buf[..len.min(buf.len())] != data[..] {
                    stats.errors += 1;
                    on_event(&PingEvent::Corrupt { from, seq: seq_no });
                    continue;
                }
                let rtt = net.now() - t0;
                stats.received += 1;
                stats.record_rtt(rtt);
                on_event(&PingEvent::Reply {
                    from,
                    seq: seq_no,
                    bytes: len + 8,
                    rtt,
                });
            }
            Ok(Ok(EchoEvent::Error { from, seq_no, error })) => {
                if sent_at[usize::from(seq_no) % PING_WINDOW].take().is_some() {
                    stats.errors += 1;
                }
                on_event(&PingEvent::Error { from, seq: seq_no, error });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_math() {
        let mut s = PingStats {
            transmitted: 4,
            received: 3,
            ..Default::default()
        };
        for ms in [1, 2, 3] {
            s.record_rtt(Duration::from_millis(ms));
        }
        assert_eq!(s.loss_percent(), 25);
        let (min, avg, max, mdev) = s.rtt().unwrap();
        assert_eq!(min, Duration::from_millis(1));
        assert_eq!(avg, Duration::from_millis(2));
        assert_eq!(max, Duration::from_millis(3));
        assert_eq!(mdev.as_micros(), 816); // sqrt(2/3) ms
        assert!(!s.all_answered());
        assert_eq!(isqrt(1_000_000), 1000);
    }
}
