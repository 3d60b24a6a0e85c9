//! A device over one end of a Unix datagram socket pair: one datagram is
//! one Ethernet frame. The other end is another [`PairDevice`] (two stacks
//! on one wire) or a plain socket the test reads and writes (the wire).
//!
//! The device's send buffer is as small as Linux allows (a few frames in
//! flight) and the batch bound is small, so both back-pressure
//! (`TxError::Full`) and full batches happen in these tests.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mnet::link::{Device, DeviceCapabilities, FrameMeta, TxError};

/// Frames one `receive_batch` hands over at most: small, so that a burst
/// takes several batches.
pub const PAIR_MAX_BATCH: usize = 4;

/// Largest frame: MTU 1500 plus the Ethernet header.
const MAX_FRAME: usize = 1514;

pub struct PairDevice {
    sock: UnixDatagram,
    buf: Vec<u8>,
    /// Frames the socket refused with EAGAIN (shared, so that the test
    /// can read it while the runner owns the device).
    refused: Arc<AtomicU64>,
}

impl PairDevice {
    fn new(sock: UnixDatagram) -> PairDevice {
        sock.set_nonblocking(true).expect("non-blocking");
        // A connected pair ignores `max_dgram_qlen`; only the sender's
        // buffer pushes back. Linux raises this to its minimum (4608).
        let size: libc::c_int = 1;
        // SAFETY: `size` is a c_int that outlives the call and its length
        // is passed; the descriptor is open.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_SNDBUF: {}", io::Error::last_os_error());
        PairDevice {
            sock,
            buf: vec![0; MAX_FRAME + 1],
            refused: Arc::default(),
        }
    }

    /// How many frames the socket refused with EAGAIN (back-pressure), live.
    pub fn refused(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.refused)
    }
}

/// Two devices on one wire.
pub fn pair() -> (PairDevice, PairDevice) {
    let (a, b) = UnixDatagram::pair().expect("socketpair");
    (PairDevice::new(a), PairDevice::new(b))
}

/// A device, and the wire's other end for the test (blocking).
pub fn device_and_wire() -> (PairDevice, UnixDatagram) {
    let (a, b) = UnixDatagram::pair().expect("socketpair");
    (PairDevice::new(a), b)
}

impl AsFd for PairDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl Device for PairDevice {
    fn capabilities(&self) -> DeviceCapabilities {
        DeviceCapabilities {
            mtu: 1500,
            max_batch: PAIR_MAX_BATCH,
            ..DeviceCapabilities::default()
        }
    }

    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        let mut handed = 0;
        while handed < PAIR_MAX_BATCH {
            match self.sock.recv(&mut self.buf) {
                Ok(len) => {
                    handed += 1;
                    // A datagram longer than a frame is truncated: drop it.
                    if len <= MAX_FRAME {
                        sink(&FrameMeta::PLAIN, &self.buf[..len]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("pair device: recv: {e}"),
            }
        }
        handed
    }

    fn transmit(&mut self, _meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        match self.sock.send(frame) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(TxError::Full)
            }
            // The other end is gone (test over): the wire is cut.
            Err(_) => Err(TxError::Failed),
        }
    }
}
