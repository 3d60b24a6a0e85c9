//! Two connections back to back through a seeded lossy, reordering,
//! rate-limited link: the integration test before the stack exists.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::tcp::congestion::CongestionControl;
use crate::tcp::{CongestionKind, State, TcpInfo, TimerOutcome};

/// One direction of the link.
struct Link {
    packets: Vec<(Instant, u64, Out, bool)>,
    busy_until: Instant,
    /// Bits per second.
    rate: u64,
    delay: Duration,
    /// Drop-tail queue bound, as queueing delay.
    queue_limit: Duration,
    /// With ECT: mark CE instead of queueing past this delay.
    ce_threshold: Option<Duration>,
    loss_per_mille: u64,
    reorder_per_mille: u64,
    rng: XorShift,
    serial: u64,
    dropped: u64,
    marked: u64,
}

impl Link {
    fn new(seed: u64, loss_per_mille: u64) -> Link {
        Link {
            packets: Vec::new(),
            busy_until: Instant::ZERO,
            rate: 100_000_000,
            delay: ms(10),
            queue_limit: ms(20),
            ce_threshold: None,
            loss_per_mille,
            reorder_per_mille: 10,
            rng: XorShift(seed),
            serial: 0,
            dropped: 0,
            marked: 0,
        }
    }

    fn send(&mut self, now: Instant, seg: Out) {
        if self.rng.chance(self.loss_per_mille) {
            self.dropped += 1;
            return;
        }
        let bits = (seg.payload.len() as u64 + 52) * 8;
        let tx = Duration::from_micros(bits * 1_000_000 / self.rate);
        let start = self.busy_until.max(now);
        let queued = start - now;
        if queued > self.queue_limit {
            self.dropped += 1;
            return;
        }
        let mut ce = false;
        if let Some(th) = self.ce_threshold
            && seg.ect
            && queued > th
        {
            ce = true;
            self.marked += 1;
        }
        self.busy_until = start + tx;
        let mut at = self.busy_until + self.delay;
        if self.rng.chance(self.reorder_per_mille) {
            at += ms(3);
        }
        self.serial += 1;
        self.packets.push((at, self.serial, seg, ce));
    }

    fn next_at(&self) -> Option<Instant> {
        self.packets.iter().map(|p| p.0).min()
    }

    /// Packets due by `now`, in arrival order.
    fn due(&mut self, now: Instant) -> Vec<(Out, bool)> {
        let mut due: Vec<_> = Vec::new();
        let mut i = 0;
        while i < self.packets.len() {
            if self.packets[i].0 <= now {
                due.push(self.packets.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|p| (p.0, p.1));
        due.into_iter().map(|(_, _, s, ce)| (s, ce)).collect()
    }
}

const TRACE: bool = false;

struct Outcome {
    elapsed: Duration,
    client: TcpInfo,
    server: TcpInfo,
}

/// Moves `total` bytes from a client to a server over links with the
/// given loss; verifies every byte and the close. Returns timing and info.
fn transfer(
    cfg: &TcpConfig,
    total: u64,
    loss_per_mille: u64,
    reorder_per_mille: u64,
    seed: u64,
    ce_threshold: Option<Duration>,
) -> Outcome {
    let mut ab = Link::new(seed, loss_per_mille);
    let mut ba = Link::new(seed ^ 0x5555, loss_per_mille);
    ab.ce_threshold = ce_threshold;
    ab.reorder_per_mille = reorder_per_mille;
    ba.reorder_per_mille = reorder_per_mille;
    let mut challenge = bucket();
    let start = t(0);
    let mut now = start;
    let mut client = Connection::connect(cfg, client_addr(), server_addr(), TcpSeqNumber(CLIENT_ISS), 1460, now, 77);
    let mut server: Option<Connection> = None;
    let mut sent = 0u64;
    let mut received = 0u64;
    let mut server_eof = false;
    let mut client_closed_at = None;
    let mut buf = vec![0u8; 64 * 1024];
    let mut chunk = vec![0u8; 64 * 1024];
    let mut steps = 0u64;
    loop {
        steps += 1;
        assert!(steps < 5_000_000, "no progress: sent {sent} received {received}");
        // Deliveries.
        for (s, ce) in ab.due(now) {
            match server.as_mut() {
                Some(srv) => {
                    let _ = srv.on_segment(now, &s.repr(), ce, &mut challenge);
                }
                None if s.has(TcpFlags::SYN) => {
                    server = Some(Connection::accept(
                        cfg,
                        server_addr(),
                        client_addr(),
                        &s.repr(),
                        TcpSeqNumber(SERVER_ISS),
                        1460,
                        now,
                        99,
                    ));
                }
                None => {}
            }
        }
        for (s, ce) in ba.due(now) {
            let _ = client.on_segment(now, &s.repr(), ce, &mut challenge);
        }
        // Timers.
        if client.poll_at().is_some_and(|x| x <= now) && client.on_timer(now) == TimerOutcome::Closed {
            assert!(client.error().is_none(), "client failed: {:?}", client.error());
        }
        if let Some(srv) = server.as_mut()
            && srv.poll_at().is_some_and(|x| x <= now)
            && srv.on_timer(now) == TimerOutcome::Closed
        {
            assert!(srv.error().is_none(), "server failed: {:?}", srv.error());
        }
        // Applications.
        while sent < total && client.is_established() {
            let n = (total - sent).min(chunk.len() as u64) as usize;
            for (i, b) in chunk[..n].iter_mut().enumerate() {
                *b = pattern(sent + i as u64);
            }
            match client.send(&chunk[..n]) {
                Ok(k) => sent += k as u64,
                Err(crate::Error::WouldBlock) => break,
                Err(e) => panic!("send: {e:?}"),
            }
        }
        if sent == total && client_closed_at.is_none() && client.is_established() {
            client.close(now);
            client_closed_at = Some(now);
        }
        if let Some(srv) = server.as_mut() {
            loop {
                match srv.recv(&mut buf) {
                    Ok(0) => {
                        if !server_eof {
                            server_eof = true;
                            assert!(srv.close(now).is_none());
                        }
                        break;
                    }
                    Ok(n) => {
                        for (i, b) in buf[..n].iter().enumerate() {
                            assert_eq!(*b, pattern(received + i as u64), "byte {}", received + i as u64);
                        }
                        received += n as u64;
                    }
                    Err(crate::Error::WouldBlock) => break,
                    Err(e) => panic!("recv: {e:?}"),
                }
            }
        }
        // Transmissions.
        for s in out(&mut client, now) {
            if TRACE {
                std::eprintln!(
                    "{:?} C> {:?} seq {} ack {:?} len {} win {}",
                    now - start,
                    s.flags(),
                    s.seq(),
                    s.ack(),
                    s.len(),
                    s.repr.window_len
                );
            }
            ab.send(now, s);
        }
        if let Some(srv) = server.as_mut() {
            for s in out(srv, now) {
                if TRACE {
                    std::eprintln!(
                        "{:?} S> {:?} seq {} ack {:?} len {} win {}",
                        now - start,
                        s.flags(),
                        s.seq(),
                        s.ack(),
                        s.len(),
                        s.repr.window_len
                    );
                }
                ba.send(now, s);
            }
        }
        let srv_done = server.as_ref().is_some_and(|s| s.state() == State::Closed);
        let cli_done = matches!(client.state(), State::TimeWait | State::Closed);
        if srv_done && cli_done && received == total {
            break;
        }
        // Next event.
        let mut next = None;
        for x in [
            ab.next_at(),
            ba.next_at(),
            client.poll_at(),
            server.as_ref().and_then(|s| s.poll_at()),
        ] {
            next = crate::time::earliest(next, x);
        }
        let Some(next) = next else {
            panic!(
                "stalled at {:?}: client {:?} server {:?} sent {sent} received {received}",
                now - start,
                client.info(),
                server.as_ref().map(|s| s.info())
            );
        };
        now = now.max(next);
    }
    assert_eq!(received, total);
    let srv = server.unwrap();
    if TRACE || std::env::var("TCP_LOOPBACK_REPORT").is_ok() {
        std::eprintln!(
            "{:?} client {:?}\nserver {:?}\nlinks: dropped {} {} marked {}",
            now - start,
            client.info(),
            srv.info(),
            ab.dropped,
            ba.dropped,
            ab.marked
        );
    }
    assert!(srv.error().is_none() && client.error().is_none());
    Outcome {
        elapsed: now - start,
        client: client.info(),
        server: srv.info(),
    }
}

#[test]
fn clean_link_moves_a_megabyte() {
    let cfg = TcpConfig::default();
    let o = transfer(&cfg, 1 << 20, 0, 0, 1, None);
    // 1 MiB at 100 Mbit/s is 84 ms of wire time; slow start from IW10
    // over a 20 ms RTT adds a few round trips.
    assert!(o.elapsed < ms(600), "{:?}", o.elapsed);
    assert!(o.client.timestamps && o.client.sack && o.client.ecn);
    assert_eq!(o.client.snd_wscale, 7);
    assert!(o.client.srtt.is_some());
}

#[test]
fn ten_megabytes_with_five_percent_loss_sack_cubic() {
    let cfg = TcpConfig::default();
    let o = transfer(&cfg, 10 << 20, 50, 10, 7, None);
    assert!(o.client.retransmits > 0);
    assert!(o.client.fast_retransmits > 0, "{:?}", o.client);
    assert!(o.elapsed < Duration::from_secs(120), "{:?}", o.elapsed);
}

#[test]
fn ten_megabytes_with_five_percent_loss_newreno_no_sack() {
    let cfg = TcpConfig {
        sack: false,
        congestion: CongestionKind::NewReno,
        ..TcpConfig::default()
    };
    let o = transfer(&cfg, 10 << 20, 50, 10, 11, None);
    assert!(!o.client.sack);
    assert!(o.client.fast_retransmits > 0);
    assert!(o.elapsed < Duration::from_secs(300), "{:?}", o.elapsed);
}

#[test]
fn plain_options_still_work_with_loss() {
    let o = transfer(&plain(), 2 << 20, 20, 10, 3, None);
    assert!(!o.client.timestamps && !o.client.sack && !o.client.ecn);
    assert_eq!(o.client.snd_wscale, 0);
}

#[test]
fn ecn_marks_reduce_the_window_without_loss() {
    let cfg = TcpConfig::default();
    let o = transfer(&cfg, 4 << 20, 0, 0, 5, Some(ms(2)));
    assert!(o.client.ecn_reductions > 0, "{:?}", o.client);
    assert!(o.server.ecn);
}

#[test]
fn congestion_window_after_transfer_is_sane() {
    let cfg = TcpConfig::default();
    let o = transfer(&cfg, 2 << 20, 10, 10, 9, None);
    assert!(o.client.cwnd >= o.client.snd_mss);
    let _ = crate::tcp::Congestion::new(CongestionKind::Cubic, 1000, 10).window();
}

#[test]
fn twenty_percent_loss_still_completes() {
    let cfg = TcpConfig::default();
    let o = transfer(&cfg, 256 << 10, 200, 20, 13, None);
    assert!(o.client.retransmits > 10);
}

#[test]
fn many_seeds_with_loss_and_reordering() {
    for seed in 1..=12u64 {
        let cfg = TcpConfig {
            congestion: if seed % 2 == 0 {
                CongestionKind::NewReno
            } else {
                CongestionKind::Cubic
            },
            sack: seed % 3 != 0,
            timestamps: seed % 4 != 0,
            ..TcpConfig::default()
        };
        let loss = [0, 10, 50, 100][(seed % 4) as usize];
        transfer(&cfg, 512 << 10, loss, 30, seed * 7919, None);
    }
}
