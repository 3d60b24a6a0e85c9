//! TCP segmentation offload in the simulator: stack A sends through a
//! [`SoftwareTso`] device (it builds super-segments of up to 64 KiB with
//! partial checksums; the device splits them into MSS-sized frames with
//! full checksums), stack B receives plain frames and verifies every
//! checksum. Over a clean link and a lossy one (retransmissions go one
//! MSS at a time), every byte must arrive, in order, with no checksum
//! drop, and the transfer must be as fast as without offload.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use common::*;
use mnet::executor::Driver;
use mnet::link::{Device, FrameMeta, TxError};
use mnet::socket::Shutdown;
use mnet::stats::Drop;
use mnet::wire::{IpProtocol, Ipv4Packet, TcpPacket};
use mnet::{Duration, Instant, Net};
use mnet_sim::{LinkConfig, Ratio, SoftwareTso};

const PORT: u16 = 5001;
const CHUNK: usize = 256 << 10;

struct Run {
    sha_sent: [u8; 32],
    sha_read: [u8; 32],
    bytes_read: u64,
    first_mismatch: Option<u64>,
    done_at: Instant,
    retransmits: u64,
    super_segments: u64,
    pieces: u64,
    b_bad_checksums: u64,
    super_retransmissions: u64,
}

/// Between the stack and [`SoftwareTso`]: counts super-segments that
/// resend sequence space already sent (retransmissions must go one MSS at
/// a time, never as a super-segment).
struct RtxWatch<D: Device> {
    inner: D,
    highest_end: Option<u32>,
    super_retransmissions: Rc<Cell<u64>>,
}

impl<D: Device> Device for RtxWatch<D> {
    fn capabilities(&self) -> mnet::link::DeviceCapabilities {
        self.inner.capabilities()
    }
    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        self.inner.receive_batch(sink)
    }
    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        if let Some((seq, len)) = tcp_seq_and_len(frame) {
            let end = seq.wrapping_add(len);
            let resends = self.highest_end.is_some_and(|h| (seq.wrapping_sub(h) as i32) < 0);
            if resends && meta.is_gso() {
                self.super_retransmissions.set(self.super_retransmissions.get() + 1);
            }
            if self.highest_end.is_none_or(|h| (end.wrapping_sub(h) as i32) > 0) {
                self.highest_end = Some(end);
            }
        }
        self.inner.transmit(meta, frame)
    }
}

/// Sequence number and payload length of an IPv4 TCP frame.
fn tcp_seq_and_len(frame: &[u8]) -> Option<(u32, u32)> {
    let ip = Ipv4Packet::new_checked(frame.get(14..)?).ok()?;
    if ip.next_header() != IpProtocol::Tcp {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    Some((tcp.seq_number().0, tcp.payload().len() as u32))
}

fn link(loss_percent: u32) -> LinkConfig {
    LinkConfig {
        latency: Duration::from_millis(5),
        bandwidth_bps: Some(200_000_000),
        queue_frames: 256,
        loss: Ratio::from_percent(loss_percent),
        ..LinkConfig::default()
    }
}

/// What B read: bytes, their SHA-256, the first offset that differed.
type ReadReport = Rc<RefCell<Option<(u64, [u8; 32], Option<u64>)>>>;

async fn read_all(b: Net, seed: u64, out: ReadReport) {
    let listener = b.tcp_listen(sock(ip(2), PORT), 4).expect("B: listen");
    let (mut s, _) = listener.accept().await.expect("B: accept");
    let (mut buf, mut want) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    let (mut n_total, mut hash, mut mismatch) = (0u64, Sha256::new(), None);
    loop {
        let n = s.read(&mut buf).await.expect("B: read");
        if n == 0 {
            break;
        }
        pattern_fill(seed, n_total, &mut want[..n]);
        if mismatch.is_none()
            && let Some(i) = buf[..n].iter().zip(&want[..n]).position(|(x, y)| x != y)
        {
            mismatch = Some(n_total + i as u64);
        }
        hash.update(&buf[..n]);
        n_total += n as u64;
    }
    s.close().await.expect("B: close");
    *out.borrow_mut() = Some((n_total, hash.finish(), mismatch));
}

fn transfer(tso: bool, loss_percent: u32, bytes: u64, seed: u64) -> Run {
    let mut sim = Sim::new(seed);
    let (a_dev, b_dev) = sim.network.link(link(loss_percent));
    let a = stack(config(1, ip(1)));
    let b = stack(config(2, ip(2)));
    let a_dev = SoftwareTso::new(a_dev);
    let tso_stats = a_dev.stats_handle();
    let a_dev: Box<dyn Device> = if tso { Box::new(a_dev) } else { Box::new(a_dev.into_inner()) };
    let super_retransmissions = Rc::new(Cell::new(0));
    let a_dev = RtxWatch {
        inner: a_dev,
        highest_end: None,
        super_retransmissions: super_retransmissions.clone(),
    };
    let mut host_a = Host::new(&a, a_dev);
    let mut host_b = Host::new(&b, b_dev);
    let out = Rc::new(RefCell::new(None));
    sim.spawner().spawn(read_all(b.clone(), seed, out.clone()));
    let main = async {
        let mut s = a.tcp_connect(sock(ip(2), PORT)).await.expect("A: connect");
        let (mut buf, mut off, mut hash) = (vec![0u8; CHUNK], 0u64, Sha256::new());
        while off < bytes {
            let n = (bytes - off).min(CHUNK as u64) as usize;
            pattern_fill(seed, off, &mut buf[..n]);
            hash.update(&buf[..n]);
            s.write_all(&buf[..n]).await.expect("A: write");
            off += n as u64;
        }
        s.shutdown(Shutdown::Write).await.expect("A: shutdown");
        let mut tail = [0u8; 8];
        assert_eq!(s.read(&mut tail).await.expect("A: read EOF"), 0);
        let retransmits = s.info().expect("A: info").retransmits;
        s.close().await.expect("A: close");
        (hash.finish(), a.now(), retransmits)
    };
    let drivers: &mut [&mut dyn Driver] = &mut [&mut host_a, &mut host_b];
    let (sha_sent, done_at, retransmits) = sim.run(drivers, Instant::from_secs(600), main);
    let (bytes_read, sha_read, first_mismatch) = out.borrow_mut().take().expect("B finished");
    let tso = *tso_stats.lock().expect("stats");
    Run {
        sha_sent,
        sha_read,
        bytes_read,
        first_mismatch,
        done_at,
        retransmits,
        super_segments: tso.super_segments,
        pieces: tso.pieces,
        b_bad_checksums: b.stats().drops(Drop::TcpBadChecksum),
        super_retransmissions: super_retransmissions.get(),
    }
}

fn check(run: &Run, bytes: u64, what: &str) {
    assert_eq!(run.bytes_read, bytes, "{what}: B read {} of {bytes} bytes", run.bytes_read);
    assert_eq!(run.first_mismatch, None, "{what}: B read other bytes than A wrote");
    assert_eq!(run.sha_read, run.sha_sent, "{what}: SHA-256 differs");
    assert_eq!(run.b_bad_checksums, 0, "{what}: checksum drops at B");
}

#[test]
fn tso_transfer_over_a_clean_link_is_intact_and_as_fast() {
    let bytes = 20_000_000;
    let on = transfer(true, 0, bytes, 11);
    let off = transfer(false, 0, bytes, 11);
    check(&on, bytes, "TSO");
    check(&off, bytes, "no TSO");
    assert!(on.super_segments > 100, "{} super-segments", on.super_segments);
    // Nearly every data segment left inside a super-segment. (Acks of
    // every second segment open the window two MSS at a time, so most
    // super-segments here have two pieces; a Linux receiver acks each
    // coalesced 64 KiB frame instead.)
    let segments = bytes / 1448;
    assert!(on.pieces * 10 >= segments * 9, "{} pieces of {segments} segments", on.pieces);
    assert_eq!(off.super_segments, 0);
    // The wire is the bottleneck either way: TSO must not cost throughput.
    let (t_on, t_off) = (on.done_at.total_micros(), off.done_at.total_micros());
    assert!(t_on * 10 <= t_off * 11, "TSO took {t_on} µs, plain {t_off} µs");
}

#[test]
fn tso_transfer_under_loss_repairs_at_mss_granularity() {
    let bytes = 5_000_000;
    for seed in [3, 4] {
        let on = transfer(true, 2, bytes, seed);
        check(&on, bytes, "TSO, 2 % loss");
        assert!(on.retransmits > 0, "seed {seed}: no loss was repaired");
        assert_eq!(on.super_retransmissions, 0, "seed {seed}: a retransmission left as a super-segment");
        assert!(on.super_segments > 0);
    }
}
