//! Packet capture in the classic libpcap file format, readable by tcpdump
//! and Wireshark: [`PcapWriter`] writes the file, [`PcapDevice`] wraps any
//! [`Device`] and records every frame it receives and transmits.
//!
//! The format (see the `pcap-savefile(5)` man page): a 24-byte global
//! header — magic `0xa1b2c3d4` (microsecond timestamps), version 2.4,
//! time zone 0, accuracy 0, snapshot length, link type — then, per packet,
//! a 16-byte record header (seconds, microseconds, captured length,
//! original length) followed by the captured bytes. Everything is written
//! little-endian; readers detect the byte order from the magic.

use std::io::{self, Write};

use mnet::Instant;
use mnet::link::{Device, DeviceCapabilities, FrameMeta, TxError};

/// The pcap magic number for microsecond timestamps.
pub const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// `LINKTYPE_ETHERNET`: frames start with an Ethernet II header.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Bytes of each frame written at most (tcpdump's default snapshot
/// length); longer frames (offload super-frames) are truncated and keep
/// their original length in the record.
pub const PCAP_SNAPLEN: u32 = 262_144;
/// The length of the file header.
pub const PCAP_GLOBAL_HEADER_LEN: usize = 24;
/// The length of each record header.
pub const PCAP_RECORD_HEADER_LEN: usize = 16;

/// Writes a pcap stream to any [`Write`].
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Write the global header (Ethernet, microsecond timestamps).
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut header = [0u8; PCAP_GLOBAL_HEADER_LEN];
        header[0..4].copy_from_slice(&PCAP_MAGIC_MICROS.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes()); // version major
        header[6..8].copy_from_slice(&4u16.to_le_bytes()); // version minor
        // 8..12 thiszone = 0 (UTC), 12..16 sigfigs = 0.
        header[16..20].copy_from_slice(&PCAP_SNAPLEN.to_le_bytes());
        header[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    /// Append one frame captured at `at`.
    pub fn write_frame(&mut self, at: Instant, frame: &[u8]) -> io::Result<()> {
        let micros = at.total_micros();
        // Seconds wrap after the year 2106 of the capture's epoch: the
        // classic format has only 32 bits for them.
        let secs = (micros / 1_000_000) as u32;
        let usecs = (micros % 1_000_000) as u32;
        let original = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let captured = original.min(PCAP_SNAPLEN);
        let mut record = [0u8; PCAP_RECORD_HEADER_LEN];
        record[0..4].copy_from_slice(&secs.to_le_bytes());
        record[4..8].copy_from_slice(&usecs.to_le_bytes());
        record[8..12].copy_from_slice(&captured.to_le_bytes());
        record[12..16].copy_from_slice(&original.to_le_bytes());
        self.out.write_all(&record)?;
        let body = frame.get(..captured as usize).unwrap_or(frame);
        self.out.write_all(body)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer (not flushed).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Flush and give back the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A clock closure for the middleware devices.
pub type ClockFn = Box<dyn Fn() -> Instant + Send>;

/// A device that records every frame it receives and transmits into a
/// pcap stream, then passes it on unchanged.
///
/// A write error stops the capture (the device keeps working) and is kept
/// for [`PcapDevice::error`]. The writer is flushed on [`Device::flush`]
/// and on drop.
pub struct PcapDevice<D: Device, W: Write> {
    inner: D,
    writer: Option<PcapWriter<W>>,
    clock: ClockFn,
    error: Option<io::Error>,
    frames: u64,
}

impl<D: Device, W: Write> PcapDevice<D, W> {
    /// Wrap `inner`, writing the pcap header to `out` now. `clock` gives
    /// each record's timestamp (a [`crate::SimClock::source`] in a
    /// simulation, a wall clock on a real device).
    pub fn new(inner: D, out: W, clock: impl Fn() -> Instant + Send + 'static) -> io::Result<Self> {
        Ok(PcapDevice {
            inner,
            writer: Some(PcapWriter::new(out)?),
            clock: Box::new(clock),
            error: None,
            frames: 0,
        })
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// Frames written so far.
    pub fn frames_captured(&self) -> u64 {
        self.frames
    }

    /// The write error that stopped the capture, if any.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Stop capturing: flush and give back the writer (`None` if a write
    /// error already stopped the capture or it was taken before).
    pub fn take_writer(&mut self) -> Option<W> {
        let writer = self.writer.take()?;
        match writer.into_inner() {
            Ok(out) => Some(out),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }

    fn record(writer: &mut Option<PcapWriter<W>>, error: &mut Option<io::Error>, frames: &mut u64, at: Instant, frame: &[u8]) {
        if let Some(w) = writer {
            match w.write_frame(at, frame) {
                Ok(()) => *frames += 1,
                Err(e) => {
                    *error = Some(e);
                    *writer = None;
                }
            }
        }
    }
}

impl<D: Device, W: Write> Device for PcapDevice<D, W> {
    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }

    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        let PcapDevice {
            inner,
            writer,
            clock,
            error,
            frames,
        } = self;
        inner.receive_batch(&mut |meta, frame| {
            Self::record(writer, error, frames, clock(), frame);
            sink(meta, frame);
        })
    }

    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        self.inner.transmit(meta, frame)?;
        let now = (self.clock)();
        Self::record(&mut self.writer, &mut self.error, &mut self.frames, now, frame);
        Ok(())
    }

    fn flush(&mut self) {
        self.inner.flush();
        if let Some(w) = &mut self.writer
            && let Err(e) = w.flush()
        {
            self.error = Some(e);
            self.writer = None;
        }
    }
}

impl<D: Device, W: Write> Drop for PcapDevice<D, W> {
    fn drop(&mut self) {
        if let Some(w) = &mut self.writer {
            // Nobody is left to tell about an error here.
            let _ = w.flush();
        }
    }
}

impl<D: Device + core::fmt::Debug, W: Write> core::fmt::Debug for PcapDevice<D, W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PcapDevice")
            .field("inner", &self.inner)
            .field("capturing", &self.writer.is_some())
            .field("frames", &self.frames)
            .field("error", &self.error)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LinkConfig, Network};

    /// An ARP request "who-has 10.0.0.<target> tell 10.0.0.1", padded to 60 bytes.
    fn arp_request(target: u8) -> Vec<u8> {
        let mut f = Vec::with_capacity(60);
        f.extend_from_slice(&[0xff; 6]); // broadcast
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]); // source MAC
        f.extend_from_slice(&[0x08, 0x06]); // ARP
        f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]); // Ethernet/IPv4, request
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 10, 0, 0, 1]); // sender
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, target]); // target
        f.resize(60, 0);
        f
    }

    /// Capture 2 transmitted and 1 received frames into `out`.
    fn capture<W: Write>(out: W) -> PcapDevice<crate::SimDevice, W> {
        let net = Network::new(1);
        let (a, mut b) = net.link(LinkConfig::default());
        net.clock().advance_to(Instant::from_micros(1_500_000));
        let mut dev = PcapDevice::new(a, out, net.clock().source()).unwrap();
        dev.transmit(&FrameMeta::PLAIN, &arp_request(2)).unwrap();
        dev.transmit(&FrameMeta::PLAIN, &arp_request(3)).unwrap();
        b.transmit(&FrameMeta::PLAIN, &arp_request(4)).unwrap();
        net.step();
        let mut received = 0;
        dev.receive_batch(&mut |_, f| {
            assert_eq!(f, arp_request(4));
            received += 1;
        });
        assert_eq!(received, 1);
        dev.flush();
        assert_eq!(dev.frames_captured(), 3);
        dev
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn header_and_records_parse() {
        let mut bytes = Vec::new();
        drop(capture(&mut bytes));
        assert_eq!(&bytes[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u16::from_le_bytes([bytes[4], bytes[5]]), 2);
        assert_eq!(u16::from_le_bytes([bytes[6], bytes[7]]), 4);
        assert_eq!(u32_at(&bytes, 8), 0);
        assert_eq!(u32_at(&bytes, 12), 0);
        assert_eq!(u32_at(&bytes, 16), PCAP_SNAPLEN);
        assert_eq!(u32_at(&bytes, 20), LINKTYPE_ETHERNET);
        let mut at = PCAP_GLOBAL_HEADER_LEN;
        let mut records = Vec::new();
        while at < bytes.len() {
            let (secs, usecs) = (u32_at(&bytes, at), u32_at(&bytes, at + 4));
            let (caplen, len) = (u32_at(&bytes, at + 8), u32_at(&bytes, at + 12));
            assert_eq!(caplen, len);
            at += PCAP_RECORD_HEADER_LEN;
            records.push((secs, usecs, bytes[at..at + caplen as usize].to_vec()));
            at += caplen as usize;
        }
        assert_eq!(at, bytes.len());
        assert_eq!(
            records,
            vec![
                (1, 500_000, arp_request(2)),
                (1, 500_000, arp_request(3)),
                (1, 501_000, arp_request(4)),
            ]
        );
    }

    #[test]
    fn long_frames_are_truncated_to_snaplen() {
        let mut writer = PcapWriter::new(Vec::new()).unwrap();
        writer
            .write_frame(Instant::from_micros(3), &vec![0xab; PCAP_SNAPLEN as usize + 10])
            .unwrap();
        let bytes = writer.into_inner().unwrap();
        let at = PCAP_GLOBAL_HEADER_LEN;
        assert_eq!(u32_at(&bytes, at + 4), 3);
        assert_eq!(u32_at(&bytes, at + 8), PCAP_SNAPLEN);
        assert_eq!(u32_at(&bytes, at + 12), PCAP_SNAPLEN + 10);
        assert_eq!(bytes.len(), at + PCAP_RECORD_HEADER_LEN + PCAP_SNAPLEN as usize);
    }

    /// A writer that fails after `budget` bytes.
    struct Failing {
        budget: usize,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::Error::other("disk full"));
            }
            let n = buf.len().min(self.budget);
            self.budget -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_error_stops_capture_not_traffic() {
        let net = Network::new(1);
        let (a, mut b) = net.link(LinkConfig::default());
        let out = Failing { budget: 90 };
        let mut dev = PcapDevice::new(a, out, net.clock().source()).unwrap();
        for _ in 0..3 {
            dev.transmit(&FrameMeta::PLAIN, &arp_request(2)).unwrap();
        }
        assert_eq!(dev.frames_captured(), 0);
        assert!(dev.error().is_some());
        assert!(dev.take_writer().is_none());
        net.step();
        assert_eq!(b.receive_batch(&mut |_, _| {}), 3);
    }

    #[test]
    fn tcpdump_reads_the_file() {
        let tcpdump = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(tcpdump) = tcpdump else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("tcpdump is not installed and CI=true");
            }
            println!("skipped tcpdump check: not installed");
            return;
        };
        let path = std::env::temp_dir().join(format!(
            "mnet-sim-pcap-{}-{:?}.pcap",
            std::process::id(),
            std::thread::current().id()
        ));
        {
            let file = std::fs::File::create(&path).unwrap();
            let mut dev = capture(io::BufWriter::new(file));
            // Dropping the device flushes the BufWriter.
            assert!(dev.error().is_none());
            dev.flush();
        }
        let output = std::process::Command::new(tcpdump)
            .arg("-r")
            .arg(&path)
            .arg("-nn")
            .output()
            .expect("run tcpdump");
        let _ = std::fs::remove_file(&path);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "tcpdump failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 3, "tcpdump printed:\n{stdout}");
        assert!(lines[0].contains("who-has 10.0.0.2 tell 10.0.0.1"), "{stdout}");
        assert!(lines[2].contains("who-has 10.0.0.4 tell 10.0.0.1"), "{stdout}");
    }
}
