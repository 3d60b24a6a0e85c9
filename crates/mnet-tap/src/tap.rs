//! A Linux TAP interface as an [`mnet::link::Device`].
//!
//! The tap must exist already (`ip tuntap add dev NAME mode tap`): we attach
//! to it, we never create or configure it. Right after `TUNSETIFF` we set
//! the tap's offloads to exactly what we support with `TUNSETOFFLOAD`,
//! because offload flags outlive the descriptor that set them: a tap last
//! used by a program with `IFF_VNET_HDR` and TSO would otherwise hand us
//! TCP frames with partial checksums (shared/notes/peers.md, gotcha 1).
//!
//! Without `IFF_VNET_HDR` the kernel hands over complete frames of at most
//! MTU + 14 bytes with valid checksums, so every frame travels with
//! [`FrameMeta::PLAIN`].
//!
//! With offloads ([`TapOptions::offload`], the default) we open the tap
//! with `IFF_VNET_HDR`, set the header size to
//! [`VIRTIO_NET_HDR_LEN`] (12 bytes: `struct virtio_net_hdr_v1`, the same
//! layout as the legacy `virtio_net_hdr_mrg_rxbuf`; `num_buffers` unused)
//! with `TUNSETVNETHDRSZ`, make its fields little-endian with
//! `TUNSETVNETLE` (what virtio 1.0 devices use, so the unikernel's
//! virtio-net shares the code) and enable `TUN_F_CSUM | TUN_F_TSO4 |
//! TUN_F_TSO6 | TUN_F_TSO_ECN`. Every frame then starts with a header, in
//! both directions: the kernel hands over TCP frames of up to 64 KiB
//! with partial checksums (`NEEDS_CSUM`) and accepts the same from us, so
//! one `read()`/`write()` moves up to 44 segments. UDP segmentation
//! (`TUN_F_USO4/6`) is not enabled: the engine would have to split UDP
//! super-frames into datagrams, and TCP is what it would speed up. A
//! kernel that refuses any of it leaves us with a plain tap.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use mnet::link::device::VIRTIO_NET_HDR_LEN;
use mnet::link::{ChecksumCaps, Device, DeviceCapabilities, FrameMeta, TxError};

use crate::sys::{cvt, if_flags, if_index, if_mtu, ifreq_for};

/// Size of the one receive buffer: the largest frame a tap can hand over
/// (64 KiB IP packet + Ethernet header) plus room for a virtio-net header.
pub const RX_BUFFER_LEN: usize = 65_536 + 256;

/// How many frames one [`Device::receive_batch`] call reads at most.
pub const TAP_MAX_BATCH: usize = 64;

/// How many frames to read in the next [`Device::receive_batch`] with
/// [`TapDevice::set_reply_first`], from how the last one ended.
///
/// Finding the tap empty costs a `read()` that fails with EAGAIN. When
/// frames come one at a time (request/response traffic: the last batch
/// found at most one frame before the tap was empty), the next batch reads
/// one frame and returns without that probe, so the engine and the tasks
/// answer it before the device is asked again; the probe happens on the
/// next round, after the reply was written. A batch that filled its budget
/// says more are queued: the next one reads up to [`TAP_MAX_BATCH`].
pub(crate) fn next_rx_budget(handed: usize, budget: usize, found_empty: bool) -> usize {
    if found_empty && handed <= 1 {
        1
    } else if handed >= budget {
        TAP_MAX_BATCH
    } else {
        budget
    }
}

/// The `TUNSETIFF` flags: a TAP (Ethernet frames) without the 4-byte
/// packet-information prefix; `IFF_VNET_HDR` is added for offloads.
const TUN_FLAGS: libc::c_int = libc::IFF_TAP | libc::IFF_NO_PI;

/// The `TUNSETOFFLOAD` argument with a virtio-net header: exactly the
/// offloads we handle (see the module documentation). Without a header
/// it is 0.
const TUN_OFFLOADS: libc::c_uint = libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;

/// The largest IP packet we hand the kernel as a super-segment: the IPv4
/// total length field's limit (the tap's own `gso_max_size` is 64 KiB).
pub const TAP_MAX_GSO_SIZE: usize = 65_535;

/// What [`TapDevice::open_with`] asks of the tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapOptions {
    /// Use the virtio-net header with checksum and segmentation offload
    /// (if the kernel agrees). Off: one plain frame per system call.
    pub offload: bool,
}

impl Default for TapOptions {
    fn default() -> Self {
        TapOptions { offload: true }
    }
}

/// Frame and error counts of one tap (the engine counts protocol drops).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapCounters {
    /// Frames read from the tap.
    pub rx_frames: u64,
    /// Bytes read from the tap.
    pub rx_bytes: u64,
    /// Reads that failed with something other than "no more frames".
    pub rx_errors: u64,
    /// Frames written to the tap.
    pub tx_frames: u64,
    /// Bytes written to the tap.
    pub tx_bytes: u64,
    /// Writes refused with EAGAIN (back-pressure).
    pub tx_full: u64,
    /// Writes that failed otherwise.
    pub tx_errors: u64,
    /// Frames read that the kernel had coalesced (a `gso_type`).
    pub rx_gso: u64,
    /// Super-segments written for the kernel to split.
    pub tx_gso: u64,
}

/// An open TAP interface.
pub struct TapDevice {
    file: File,
    name: String,
    mtu: usize,
    /// Every frame has a virtio-net header and the kernel offloads.
    offload: bool,
    rx_buf: Box<[u8]>,
    /// Frames the next `receive_batch` reads at most ([`next_rx_budget`]
    /// with `reply_first`, else always [`TAP_MAX_BATCH`]).
    rx_budget: usize,
    reply_first: bool,
    counters: TapCounters,
    /// An error episode is logged once; the flag clears on the next success.
    rx_error_logged: bool,
    tx_error_logged: bool,
}

impl std::fmt::Debug for TapDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapDevice")
            .field("name", &self.name)
            .field("fd", &self.file.as_raw_fd())
            .field("mtu", &self.mtu)
            .field("offload", &self.offload)
            .finish_non_exhaustive()
    }
}

/// How long [`TapDevice::open`] waits for the kernel side to come up.
pub const LINK_UP_WAIT: Duration = Duration::from_secs(1);

/// How often [`TapDevice::open`] looks at the flags meanwhile (it takes
/// ~0.1 ms on an idle machine).
const LINK_UP_POLL: Duration = Duration::from_micros(50);

/// Waits (at most [`LINK_UP_WAIT`]) until the kernel reports the tap
/// `IFF_RUNNING` after we attached, when it is administratively up.
///
/// Attaching turns the carrier on, but the kernel activates the tap's
/// transmit queue later, from its link-watch work; until then it silently
/// drops what it sends us (a first ARP reply, a RST). Under load that
/// window grew long enough to swallow the reply to our first ARP request
/// (18 of 250 fresh taps under load, each costing a 1 s ARP retry; none
/// of 250 with this wait).
fn wait_until_running(name: &str) {
    let start = Instant::now();
    loop {
        match if_flags(name) {
            Ok(flags) if flags & libc::IFF_UP == 0 => return, // down: nothing will come up
            Ok(flags) if flags & libc::IFF_RUNNING != 0 => break,
            Ok(_) if start.elapsed() < LINK_UP_WAIT => std::thread::sleep(LINK_UP_POLL),
            Ok(_) => {
                log::warn!("tap {name}: the kernel side is up but not running after {LINK_UP_WAIT:?}");
                return;
            }
            Err(e) => {
                log::warn!("tap {name}: reading its flags: {e}");
                return;
            }
        }
    }
    log::debug!("tap {name}: running after {:?}", start.elapsed());
}

impl TapDevice {
    /// Attaches to the existing TAP interface `name` in the calling thread's
    /// network namespace, with offloads when the kernel has them.
    ///
    /// Fails with `NotFound` when no interface has that name (we never
    /// create one), and with the kernel's error when `name` is not a tap,
    /// another process holds it, or we lack CAP_NET_ADMIN.
    pub fn open(name: &str) -> io::Result<TapDevice> {
        TapDevice::open_with(name, TapOptions::default())
    }

    /// [`TapDevice::open`] with explicit options.
    pub fn open_with(name: &str, options: TapOptions) -> io::Result<TapDevice> {
        // TUNSETIFF creates the interface when the name is free; check first
        // so that attaching never configures the kernel side.
        if if_index(name)?.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no interface {name:?}: create it first, e.g. `ip tuntap add dev {name} mode tap`"),
            ));
        }
        let mut offload = false;
        let mut attached = None;
        if options.offload {
            match attach(name, TUN_FLAGS | libc::IFF_VNET_HDR) {
                Ok(file) if enable_vnet_offloads(&file, name) => {
                    offload = true;
                    attached = Some(file);
                }
                // Otherwise the header (of a size we could not set) would
                // still frame every read and write: close, attach without.
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    log::warn!("tap {name}: no IFF_VNET_HDR ({e}); offloads off");
                }
                Err(e) => return Err(e),
            }
        }
        let file = match attached {
            Some(file) => file,
            None => {
                let file = attach(name, TUN_FLAGS)?;
                // peers.md gotcha 1: offloads persist on the tap; say
                // exactly ours: none.
                set_offloads(&file, 0).map_err(|e| io::Error::new(e.kind(), format!("TUNSETOFFLOAD {name}: {e}")))?;
                file
            }
        };
        wait_until_running(name);
        let mtu = if_mtu(name)?;
        log::debug!(
            "attached to tap {name} (mtu {mtu}, offloads {})",
            if offload { "on" } else { "off" }
        );
        Ok(TapDevice {
            file,
            name: name.to_owned(),
            mtu,
            offload,
            rx_buf: vec![0u8; RX_BUFFER_LEN].into_boxed_slice(),
            rx_budget: TAP_MAX_BATCH,
            reply_first: false,
            counters: TapCounters::default(),
            rx_error_logged: false,
            tx_error_logged: false,
        })
    }

    /// Overrides the MTU read from the interface (e.g. `--mtu`).
    pub fn with_mtu(mut self, mtu: usize) -> TapDevice {
        self.mtu = mtu;
        self
    }

    /// Reply first: when frames arrive one at a time, `receive_batch`
    /// returns after one frame without looking for the next (a `read()`
    /// that would find the tap empty), so the answer is written first and
    /// the look happens on the next call ([`next_rx_budget`]). A batch then
    /// ends before EAGAIN although the count is below
    /// [`TAP_MAX_BATCH`]: only for a runtime that calls `receive_batch`
    /// again before it sleeps whenever a batch handed frames (mnet's
    /// executor does; [`crate::tokio_runner`] needs batches that end at
    /// EAGAIN and leaves this off). Off by default.
    pub fn set_reply_first(&mut self, on: bool) {
        self.reply_first = on;
        self.rx_budget = if on { 1 } else { TAP_MAX_BATCH };
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The IP MTU in use (from the interface unless overridden).
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// The tap's descriptor, for [`crate::HostPlatform::new`].
    pub fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Frame and error counts so far.
    pub fn counters(&self) -> TapCounters {
        self.counters
    }

    /// Whether frames carry a virtio-net header with checksum and
    /// segmentation offload.
    pub fn offloads(&self) -> bool {
        self.offload
    }

    /// One `writev` of the virtio-net header and the frame.
    fn write_with_header(&self, meta: &FrameMeta, frame: &[u8]) -> io::Result<usize> {
        let hdr = meta.to_virtio_hdr();
        let iov = [
            libc::iovec {
                iov_base: hdr.as_ptr() as *mut libc::c_void,
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: frame.as_ptr() as *mut libc::c_void,
                iov_len: frame.len(),
            },
        ];
        // SAFETY: both iovecs point at live, initialised buffers (`hdr` on
        // our stack, `frame` borrowed) of the given lengths for the whole
        // call; writev only reads them. The fd is open.
        let n = unsafe { libc::writev(self.file.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int) };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
    }
}

/// Opens `/dev/net/tun` and attaches it to the tap `name` with `flags`.
fn attach(name: &str, flags: libc::c_int) -> io::Result<File> {
    let mut req = ifreq_for(name)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")
        .map_err(|e| io::Error::new(e.kind(), format!("/dev/net/tun: {e}")))?;
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes the `ifreq` we pass, which lives
    // on our stack for the whole call; the fd is open.
    cvt(unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut libc::ifreq) })
        .map_err(|e| io::Error::new(e.kind(), format!("TUNSETIFF {name} (is it a tap, and free?): {e}")))?;
    Ok(file)
}

/// `TUNSETOFFLOAD`: exactly the `TUN_F_*` bits in `flags`.
fn set_offloads(file: &File, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its argument by value (an unsigned long
    // of TUN_F_* bits); no memory is passed.
    cvt(unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETOFFLOAD, flags as libc::c_ulong) }).map(drop)
}

/// After `TUNSETIFF` with `IFF_VNET_HDR`: the header size, its byte order
/// and the offloads. `false` (logged) when the kernel refused one of them;
/// the caller then turns offloads off.
fn enable_vnet_offloads(file: &File, name: &str) -> bool {
    let fd = file.as_raw_fd();
    let hdr_len = VIRTIO_NET_HDR_LEN as libc::c_int;
    // SAFETY: TUNSETVNETHDRSZ reads one c_int through the pointer, which
    // points at `hdr_len` on our stack for the whole call.
    if let Err(e) = cvt(unsafe { libc::ioctl(fd, libc::TUNSETVNETHDRSZ, &hdr_len as *const libc::c_int) }) {
        log::warn!("tap {name}: TUNSETVNETHDRSZ {hdr_len}: {e}; offloads off");
        return false;
    }
    let little_endian: libc::c_int = 1;
    // SAFETY: TUNSETVNETLE reads one c_int through the pointer, which
    // points at `little_endian` on our stack for the whole call.
    if let Err(e) = cvt(unsafe { libc::ioctl(fd, libc::TUNSETVNETLE, &little_endian as *const libc::c_int) }) {
        // A little-endian host uses little-endian headers anyway.
        if cfg!(target_endian = "big") {
            log::warn!("tap {name}: TUNSETVNETLE: {e}; offloads off");
            return false;
        }
    }
    if let Err(e) = set_offloads(file, TUN_OFFLOADS) {
        log::warn!("tap {name}: TUNSETOFFLOAD {TUN_OFFLOADS:#x}: {e}; offloads off");
        return false;
    }
    true
}

impl AsRawFd for TapDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for TapDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl Device for TapDevice {
    fn capabilities(&self) -> DeviceCapabilities {
        DeviceCapabilities {
            mtu: self.mtu,
            checksum: ChecksumCaps {
                tx_partial: self.offload,
                rx_offload: self.offload,
            },
            max_gso_size: if self.offload { TAP_MAX_GSO_SIZE } else { 0 },
            rx_coalesce: self.offload,
            max_batch: TAP_MAX_BATCH,
        }
    }

    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        let budget = self.rx_budget.clamp(1, TAP_MAX_BATCH);
        let mut handed = 0;
        let mut found_empty = false;
        while handed < budget {
            match (&self.file).read(&mut self.rx_buf) {
                // A tap read returns one whole frame; 0 would be an empty
                // frame, which the kernel never produces: stop the batch.
                Ok(0) => {
                    found_empty = true;
                    break;
                }
                Ok(len) => {
                    self.rx_error_logged = false;
                    let (meta, frame) = if !self.offload {
                        (FrameMeta::PLAIN, self.rx_buf.get(..len))
                    } else {
                        match FrameMeta::from_virtio_hdr(&self.rx_buf[..len]) {
                            Some(meta) => (meta, self.rx_buf.get(VIRTIO_NET_HDR_LEN..len)),
                            None => (FrameMeta::PLAIN, None),
                        }
                    };
                    let Some(frame) = frame else {
                        // Shorter than the header we asked for.
                        self.counters.rx_errors += 1;
                        continue;
                    };
                    self.counters.rx_frames += 1;
                    self.counters.rx_bytes += frame.len() as u64;
                    self.counters.rx_gso += u64::from(meta.is_gso());
                    handed += 1;
                    sink(&meta, frame);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    found_empty = true;
                    break;
                }
                Err(e) => {
                    self.counters.rx_errors += 1;
                    if !self.rx_error_logged {
                        self.rx_error_logged = true;
                        log::warn!("tap {}: read failed: {e}", self.name);
                    }
                    found_empty = true;
                    break;
                }
            }
        }
        if self.reply_first {
            self.rx_budget = next_rx_budget(handed, budget, found_empty);
        }
        handed
    }

    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        if !self.offload && (meta.is_gso() || meta.needs_csum()) {
            // We announced no offloads; the engine must not ask for any.
            self.counters.tx_errors += 1;
            log::warn!("tap {}: frame with offload metadata {meta:?} refused", self.name);
            return Err(TxError::Failed);
        }
        loop {
            let written = if self.offload {
                self.write_with_header(meta, frame)
            } else {
                (&self.file).write(frame)
            };
            match written {
                Ok(_) => {
                    self.tx_error_logged = false;
                    self.counters.tx_frames += 1;
                    self.counters.tx_bytes += frame.len() as u64;
                    self.counters.tx_gso += u64::from(meta.is_gso());
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.counters.tx_full += 1;
                    return Err(TxError::Full);
                }
                Err(e) => {
                    self.counters.tx_errors += 1;
                    if !self.tx_error_logged {
                        self.tx_error_logged = true;
                        log::warn!("tap {}: write of {} bytes ({meta:?}) failed: {e}", self.name, frame.len());
                    }
                    // The kernel refused this frame (bad metadata, too
                    // big): it is dropped and counted, like a frame a NIC
                    // rejects; retrying it would block the queue for good.
                    if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EMSGSIZE)) {
                        return Ok(());
                    }
                    return Err(TxError::Failed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HostPlatform;
    use mnet::Duration;
    use mnet::executor::Platform;
    use mnet_testnet::{Netns as TestNetns, enter, require_root};

    #[test]
    fn one_frame_at_a_time_is_read_without_a_probe() {
        // Request/response: one frame, then the tap was empty.
        assert_eq!(next_rx_budget(1, TAP_MAX_BATCH, true), 1);
        assert_eq!(next_rx_budget(0, TAP_MAX_BATCH, true), 1);
        assert_eq!(next_rx_budget(0, 1, true), 1);
        // A batch of one that did not look further: more may wait.
        assert_eq!(next_rx_budget(1, 1, false), TAP_MAX_BATCH);
        // Bulk: several frames in a row keep the full batch.
        assert_eq!(next_rx_budget(2, TAP_MAX_BATCH, true), TAP_MAX_BATCH);
        assert_eq!(next_rx_budget(TAP_MAX_BATCH, TAP_MAX_BATCH, false), TAP_MAX_BATCH);
    }

    #[test]
    fn a_missing_tap_is_not_created() {
        // Works without root: the existence check comes before TUNSETIFF.
        let err = TapDevice::open("mnetnosuch0").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert_eq!(
            TapDevice::open("this-name-is-too-long").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
    const KERNEL_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

    /// An ARP request (RFC 826) from the kernel side for `target`.
    fn is_arp_request_for(frame: &[u8], target: [u8; 4]) -> bool {
        frame.len() >= 42
            && frame[0..6] == [0xff; 6]
            && frame[6..12] == KERNEL_MAC
            && frame[12..14] == [0x08, 0x06]
            && frame[20..22] == [0, 1]
            && frame[38..42] == target
    }

    fn arp_reply(our_ip: [u8; 4], kernel_ip: [u8; 4]) -> Vec<u8> {
        let mut f = Vec::with_capacity(42);
        f.extend_from_slice(&KERNEL_MAC);
        f.extend_from_slice(&OUR_MAC);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 2]);
        f.extend_from_slice(&OUR_MAC);
        f.extend_from_slice(&our_ip);
        f.extend_from_slice(&KERNEL_MAC);
        f.extend_from_slice(&kernel_ip);
        f
    }

    fn is_echo_request_to_us(frame: &[u8], our_ip: [u8; 4]) -> bool {
        frame.len() >= 42
            && frame[0..6] == OUR_MAC
            && frame[12..14] == [0x08, 0x00]
            && frame[23] == 1 // ICMP
            && frame[30..34] == our_ip
            && frame[34] == 8 // echo request
    }

    /// Reads frames until `pred` matches one or `limit` passes. ARP and
    /// ICMP frames carry no offload metadata, header or not.
    fn read_until(tap: &mut TapDevice, platform: &mut HostPlatform, limit: Duration, pred: &dyn Fn(&[u8]) -> bool) -> bool {
        let end = platform.now() + limit;
        while platform.now() < end {
            let mut found = false;
            tap.receive_batch(&mut |meta, frame| {
                assert!(!meta.is_gso() && !meta.needs_csum(), "{meta:?}");
                found |= pred(frame);
            });
            if found {
                return true;
            }
            platform.wait(Some(end));
        }
        false
    }

    /// The kernel side pings an address on the tap's subnet: we read its
    /// ARP request from the tap, answer it, and then read the ICMP echo
    /// request the kernel sends to our MAC: read, write and read again.
    #[test]
    fn kernel_frames_round_trip_through_a_real_tap() {
        round_trip(TapOptions { offload: false });
    }

    /// The same with the virtio-net header before every frame.
    #[test]
    fn kernel_frames_round_trip_with_the_virtio_header() {
        round_trip(TapOptions { offload: true });
    }

    fn round_trip(options: TapOptions) {
        if !require_root("a real tap", &["ip", "ping"]) {
            return;
        }
        let ns = TestNetns::new("tpt");
        let tap = ns.name().to_owned(); // a unique name, ≤ 15 bytes
        let (a, b) = ns.subnet();
        let kernel_ip = [10, a, b, 1];
        let our_ip = [10, a, b, 2];
        ns.ip(&["tuntap", "add", "dev", &tap, "mode", "tap"]);
        ns.ip(&["link", "set", &tap, "address", "02:00:00:00:00:01", "mtu", "1400"]);
        ns.ip(&["addr", "add", &format!("10.{a}.{b}.1/24"), "dev", &tap]);
        ns.sysctl(&format!("net.ipv6.conf.{tap}.disable_ipv6"), "1");
        ns.ip(&["link", "set", &tap, "up"]);

        let ns_name = ns.name().to_owned();
        let worker = std::thread::spawn(move || {
            enter(&ns_name);
            let mut dev = TapDevice::open_with(&tap, options).expect("open tap");
            assert_eq!(dev.mtu(), 1400, "MTU comes from the interface");
            assert_eq!(dev.offloads(), options.offload, "this kernel has IFF_VNET_HDR and TSO");
            let caps = dev.capabilities();
            assert_eq!(caps.mtu, 1400);
            assert_eq!(caps.max_batch, TAP_MAX_BATCH);
            if options.offload {
                assert_eq!(caps.max_gso_size, TAP_MAX_GSO_SIZE);
                assert!(caps.checksum.tx_partial && caps.checksum.rx_offload && caps.rx_coalesce);
            } else {
                assert_eq!(caps.max_gso_size, 0);
                assert_eq!(caps.checksum, ChecksumCaps::default());
            }
            let mut platform = HostPlatform::new(dev.as_raw_fd()).expect("platform");
            let got_arp = read_until(&mut dev, &mut platform, Duration::from_secs(8), &|f| is_arp_request_for(f, our_ip));
            assert!(got_arp, "no ARP request from the kernel");
            dev.transmit(&FrameMeta::PLAIN, &arp_reply(our_ip, kernel_ip)).expect("transmit");
            let got_echo = read_until(&mut dev, &mut platform, Duration::from_secs(8), &|f| {
                is_echo_request_to_us(f, our_ip)
            });
            assert!(got_echo, "no ICMP echo request to our MAC after our ARP reply");
            let c = dev.counters();
            assert!(c.rx_frames >= 2 && c.tx_frames == 1 && c.tx_errors == 0, "{c:?}");
        });
        // The kernel side: ping an address on the tap's subnet, so it ARPs.
        let mut ping = ns.spawn(&["ping", "-c", "10", "-i", "0.5", "-W", "1", &format!("10.{a}.{b}.2")]);
        let result = worker.join();
        let _ = ping.kill();
        let _ = ping.wait();
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }

    /// With the header on, a frame whose metadata the kernel refuses (a
    /// partial checksum outside the frame) is dropped and counted, not
    /// reported as a dead link; a good frame after it goes through.
    #[test]
    fn a_frame_the_kernel_refuses_is_dropped_and_counted() {
        if !require_root("a real tap", &["ip"]) {
            return;
        }
        let ns = TestNetns::new("tpx");
        let tap = ns.name().to_owned();
        ns.ip(&["tuntap", "add", "dev", &tap, "mode", "tap"]);
        ns.ip(&["link", "set", &tap, "up"]);
        let ns_name = ns.name().to_owned();
        std::thread::spawn(move || {
            enter(&ns_name);
            let mut dev = TapDevice::open(&tap).expect("open");
            assert!(dev.offloads());
            let frame = arp_reply([10, 0, 0, 2], [10, 0, 0, 1]);
            let bad = FrameMeta {
                flags: mnet::link::device::VIRTIO_NET_HDR_F_NEEDS_CSUM,
                csum_start: 4000,
                csum_offset: 16,
                ..FrameMeta::PLAIN
            };
            assert_eq!(dev.transmit(&bad, &frame), Ok(()));
            assert_eq!(dev.counters().tx_errors, 1, "{:?}", dev.counters());
            assert_eq!(dev.transmit(&FrameMeta::PLAIN, &frame), Ok(()));
            let c = dev.counters();
            assert_eq!((c.tx_frames, c.tx_errors), (1, 1), "{c:?}");
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    }

    /// With reply-first, three queued frames come out as one batch of one
    /// (no look for a second), then the other two and the empty tap; off,
    /// as one batch of three.
    #[test]
    fn reply_first_reads_one_frame_then_the_rest() {
        if !require_root("a real tap", &["ip", "bash"]) {
            return;
        }
        let ns = TestNetns::new("tpq");
        let tap = ns.name().to_owned();
        let (a, b) = ns.subnet();
        ns.ip(&["tuntap", "add", "dev", &tap, "mode", "tap"]);
        ns.ip(&["link", "set", &tap, "address", "02:00:00:00:00:01"]);
        ns.ip(&["addr", "add", &format!("10.{a}.{b}.1/24"), "dev", &tap]);
        ns.sysctl(&format!("net.ipv6.conf.{tap}.disable_ipv6"), "1");
        ns.ip(&["link", "set", &tap, "up"]);
        // No ARP: the kernel sends straight to our MAC.
        ns.ip(&["neigh", "add", &format!("10.{a}.{b}.2"), "lladdr", "02:00:00:00:00:02", "dev", &tap]);
        let ns_name = ns.name().to_owned();
        std::thread::spawn(move || {
            enter(&ns_name);
            let send_three = || {
                let script = format!("for i in 1 2 3; do echo x$i > /dev/udp/10.{a}.{b}.2/9; done");
                let st = std::process::Command::new("bash").args(["-c", &script]).status();
                assert!(st.is_ok_and(|s| s.success()));
                std::thread::sleep(Duration::from_millis(50));
            };
            let mut dev = TapDevice::open(&tap).expect("open");
            let drain = |dev: &mut TapDevice| dev.receive_batch(&mut |_, _| {});
            // Whatever the link-up sent.
            std::thread::sleep(Duration::from_millis(50));
            while drain(&mut dev) > 0 {}

            send_three();
            assert_eq!(drain(&mut dev), 3, "off: one batch to EAGAIN");
            assert_eq!(drain(&mut dev), 0);

            dev.set_reply_first(true);
            send_three();
            assert_eq!(drain(&mut dev), 1, "the first frame alone, though two more wait");
            assert_eq!(drain(&mut dev), 2, "then the rest");
            assert_eq!(drain(&mut dev), 0);
            // The tap was found empty after several frames: bulk, the full
            // batch, then (found empty with none) one at a time again.
            send_three();
            assert_eq!(drain(&mut dev), 1);
            assert_eq!(drain(&mut dev), 2);
            send_three();
            assert_eq!(drain(&mut dev), 3, "after a batch of several: the full batch");
            assert_eq!(drain(&mut dev), 0);
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    }

    #[test]
    fn a_busy_tap_cannot_be_opened_twice() {
        if !require_root("a real tap", &["ip"]) {
            return;
        }
        let ns = TestNetns::new("tpb");
        let tap = ns.name().to_owned();
        ns.ip(&["tuntap", "add", "dev", &tap, "mode", "tap"]);
        let ns_name = ns.name().to_owned();
        std::thread::spawn(move || {
            enter(&ns_name);
            let first = TapDevice::open(&tap).expect("first open");
            assert_eq!(first.mtu(), 1500);
            assert!(TapDevice::open(&tap).is_err(), "a second attach must fail");
            drop(first);
            // Other tests of this binary start processes meanwhile: between
            // its fork and exec a child holds a copy of every descriptor,
            // ours too (O_CLOEXEC closes it only at exec), and the tap
            // stays busy for that moment. Reopening must succeed once it
            // has passed.
            let end = std::time::Instant::now() + std::time::Duration::from_secs(2);
            loop {
                match TapDevice::open(&tap) {
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::ResourceBusy && std::time::Instant::now() < end => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    Err(e) => panic!("reopen after close: {e}"),
                }
            }
            // A non-tap interface is refused, not reconfigured.
            assert!(TapDevice::open("lo").is_err());
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    }

    /// `open` returns only once the kernel side runs (its transmit queue is
    /// active), so our first ARP request's reply is not dropped; a tap
    /// that is administratively down is opened without waiting.
    #[test]
    fn open_returns_once_the_kernel_side_runs() {
        if !require_root("a real tap", &["ip"]) {
            return;
        }
        let ns = TestNetns::new("tpr");
        let tap = ns.name().to_owned();
        ns.ip(&["tuntap", "add", "dev", &tap, "mode", "tap"]);
        let ns_name = ns.name().to_owned();
        std::thread::spawn(move || {
            enter(&ns_name);
            let t0 = Instant::now();
            let down = TapDevice::open(&tap).expect("open while down");
            assert!(
                t0.elapsed() < Duration::from_millis(100),
                "a down tap made open wait {:?}",
                t0.elapsed()
            );
            assert_eq!(if_flags(&tap).unwrap() & libc::IFF_RUNNING, 0);
            drop(down);
            // Carrier-off reaches the flags up to 1 s late, so every round
            // uses a fresh tap that has never had a carrier.
            for round in 0..20 {
                let name = format!("r{round}");
                for args in [&["tuntap", "add", "dev", &name, "mode", "tap"][..], &["link", "set", &name, "up"]] {
                    let st = std::process::Command::new("ip").arg("-n").arg(&ns_name).args(args).status();
                    assert!(st.is_ok_and(|s| s.success()), "ip {args:?}");
                }
                let dev = TapDevice::open(&name).expect("open");
                let flags = if_flags(&name).unwrap();
                assert_ne!(
                    flags & libc::IFF_RUNNING,
                    0,
                    "round {round}: open returned before the tap ran (flags {flags:#x})"
                );
                drop(dev);
            }
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    }
}
