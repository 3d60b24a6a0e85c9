//! The virtio-net device (virtio 1.x §5.1, and the legacy layout) behind
//! mnet's [`Device`] trait, over `virtio-drivers`' transports and
//! virtqueues.
//!
//! Why not `virtio-drivers`' own `VirtIONetRaw`: it notifies the device
//! after every buffer (an exit to QEMU each time; here a whole receive
//! refill or a transmit burst costs one, at `flush`), and it negotiates
//! `VIRTIO_F_EVENT_IDX`, whose `should_notify` check in that crate does
//! not handle the 16-bit index wrapping (a batch that crosses the wrap
//! would never be notified). Without EVENT_IDX the device says through
//! `VRING_USED_F_NO_NOTIFY` when it needs no notification.
//!
//! Buffers: [`QUEUE_SIZE`] receive buffers stay posted; each received
//! frame is handed to the engine and its buffer posted again. Transmit
//! copies each frame (after a zeroed header: no offloads yet) into one of
//! [`QUEUE_SIZE`] transmit buffers, reclaimed as the device completes
//! them; with all in flight `transmit` answers `TxError::Full`.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use bitflags::bitflags;
use mnet::link::{Device, DeviceCapabilities, FrameMeta, TxError};
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::{SomeTransport, Transport};

use crate::virtio::IdentityHal;

/// Descriptors per virtqueue (and buffers per direction).
pub const QUEUE_SIZE: usize = 256;
/// One buffer: the virtio-net header and a 1514-byte frame fit.
pub const BUF_LEN: usize = 2048;
/// The Ethernet payload size this driver supports (no jumbo frames).
pub const MTU: usize = 1500;
/// Frames handed to the engine per `receive_batch` at most.
pub const MAX_BATCH: usize = 64;

/// Queue indices (virtio 1.x §5.1.2).
const RECEIVEQ: u16 = 0;
const TRANSMITQ: u16 = 1;

bitflags! {
    /// The feature bits this driver negotiates (virtio 1.x §5.1.3, §6).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Features: u64 {
        /// VIRTIO_NET_F_MAC: the device has a MAC address in its config.
        const MAC = 1 << 5;
        /// VIRTIO_NET_F_STATUS: the link status field exists.
        const STATUS = 1 << 16;
        /// VIRTIO_F_VERSION_1: the modern interface (12-byte header).
        const VERSION_1 = 1 << 32;
    }
}

/// `struct virtio_net_hdr` without `num_buffers` (legacy, no MRG_RXBUF).
const HDR_LEN_LEGACY: usize = 10;
/// With `num_buffers` (VERSION_1).
const HDR_LEN_MODERN: usize = 12;

type Queue = VirtQueue<IdentityHal, QUEUE_SIZE>;

/// A virtio-net NIC as an mnet [`Device`].
pub struct VirtioNet {
    transport: SomeTransport<'static>,
    rx: Queue,
    tx: Queue,
    hdr_len: usize,
    mac: [u8; 6],
    rx_bufs: Vec<Box<[u8]>>,
    /// Receive buffer index by descriptor token (head index).
    rx_by_token: Vec<Option<u16>>,
    tx_bufs: Vec<Box<[u8]>>,
    /// (buffer index, length) by descriptor token.
    tx_by_token: Vec<Option<(u16, u16)>>,
    tx_free: Vec<u16>,
    /// Buffers were added since the last notification.
    rx_unnotified: bool,
    tx_unnotified: bool,
    /// Used entries the driver could not match (a device bug).
    pub errors: u64,
}

impl VirtioNet {
    /// Initialise the device (virtio 1.x §3.1.1) and post every receive buffer.
    pub fn new(mut transport: SomeTransport<'static>) -> Result<Self, virtio_drivers::Error> {
        let negotiated = transport.begin_init(Features::MAC | Features::STATUS | Features::VERSION_1);
        let mut mac = [0u8; 6];
        if negotiated.contains(Features::MAC) {
            for (i, b) in mac.iter_mut().enumerate() {
                *b = transport.read_config_space::<u8>(i)?;
            }
        }
        let rx = Queue::new(&mut transport, RECEIVEQ, false, false)?;
        let tx = Queue::new(&mut transport, TRANSMITQ, false, false)?;
        transport.finish_init();
        let hdr_len = if negotiated.contains(Features::VERSION_1) {
            HDR_LEN_MODERN
        } else {
            HDR_LEN_LEGACY
        };
        let mut nic = VirtioNet {
            transport,
            rx,
            tx,
            hdr_len,
            mac,
            rx_bufs: (0..QUEUE_SIZE).map(|_| vec![0u8; BUF_LEN].into_boxed_slice()).collect(),
            rx_by_token: vec![None; QUEUE_SIZE],
            tx_bufs: (0..QUEUE_SIZE).map(|_| vec![0u8; BUF_LEN].into_boxed_slice()).collect(),
            tx_by_token: vec![None; QUEUE_SIZE],
            tx_free: (0..QUEUE_SIZE as u16).collect(),
            rx_unnotified: false,
            tx_unnotified: false,
            errors: 0,
        };
        for i in 0..QUEUE_SIZE as u16 {
            nic.post_rx(i);
        }
        nic.notify();
        Ok(nic)
    }

    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Whether a received frame waits.
    pub fn rx_pending(&self) -> bool {
        self.rx.can_pop()
    }

    fn post_rx(&mut self, idx: u16) {
        let Some(buf) = self.rx_bufs.get_mut(usize::from(idx)) else {
            return;
        };
        // SAFETY: the buffer lives in `rx_bufs` (heap, never moved, not
        // touched) until its token is popped in `receive_batch`.
        match unsafe { self.rx.add(&[], &mut [&mut buf[..]]) } {
            Ok(token) => {
                if let Some(slot) = self.rx_by_token.get_mut(usize::from(token)) {
                    *slot = Some(idx);
                    self.rx_unnotified = true;
                }
            }
            Err(_) => self.errors += 1,
        }
    }

    /// Reclaim transmit buffers the device has finished with.
    fn reclaim_tx(&mut self) {
        while let Some(token) = self.tx.peek_used() {
            let Some((idx, len)) = self.tx_by_token.get_mut(usize::from(token)).and_then(Option::take) else {
                self.errors += 1;
                return;
            };
            let buf = &self.tx_bufs[usize::from(idx)][..usize::from(len)];
            // SAFETY: the same buffer as added for this token.
            if unsafe { self.tx.pop_used(token, &[buf], &mut []) }.is_err() {
                self.errors += 1;
                return;
            }
            self.tx_free.push(idx);
        }
    }

    /// Tell the device about new buffers, unless it said it needs no
    /// notification (`VRING_USED_F_NO_NOTIFY`).
    fn notify(&mut self) {
        if core::mem::take(&mut self.rx_unnotified) && self.rx.should_notify() {
            self.transport.notify(RECEIVEQ);
        }
        if core::mem::take(&mut self.tx_unnotified) && self.tx.should_notify() {
            self.transport.notify(TRANSMITQ);
        }
    }
}

impl Device for VirtioNet {
    fn capabilities(&self) -> DeviceCapabilities {
        DeviceCapabilities {
            mtu: MTU,
            max_batch: MAX_BATCH,
            ..DeviceCapabilities::default()
        }
    }

    fn receive_batch(&mut self, sink: &mut dyn FnMut(&FrameMeta, &[u8])) -> usize {
        let mut n = 0;
        while n < MAX_BATCH {
            let Some(token) = self.rx.peek_used() else {
                break;
            };
            let Some(idx) = self.rx_by_token.get_mut(usize::from(token)).and_then(Option::take) else {
                self.errors += 1;
                break;
            };
            let buf = &mut self.rx_bufs[usize::from(idx)];
            // SAFETY: the same buffer as added for this token.
            match unsafe { self.rx.pop_used(token, &[], &mut [&mut buf[..]]) } {
                Ok(len) => {
                    if let Some(frame) = buf.get(self.hdr_len..len as usize) {
                        sink(&FrameMeta::PLAIN, frame);
                        n += 1;
                    }
                }
                Err(_) => {
                    self.errors += 1;
                    break;
                }
            }
            self.post_rx(idx);
        }
        self.notify();
        n
    }

    fn transmit(&mut self, _meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        self.reclaim_tx();
        let Some(idx) = self.tx_free.pop() else {
            return Err(TxError::Full);
        };
        let len = self.hdr_len + frame.len();
        let buf = &mut self.tx_bufs[usize::from(idx)];
        if len > buf.len() {
            // Larger than the MTU allows: the engine never sends such a frame.
            self.tx_free.push(idx);
            return Err(TxError::Failed);
        }
        buf[..self.hdr_len].fill(0);
        buf[self.hdr_len..len].copy_from_slice(frame);
        // SAFETY: the buffer is not touched until `reclaim_tx` pops its token.
        match unsafe { self.tx.add(&[&buf[..len]], &mut []) } {
            Ok(token) => {
                if let Some(slot) = self.tx_by_token.get_mut(usize::from(token)) {
                    *slot = Some((idx, len as u16));
                }
                self.tx_unnotified = true;
                Ok(())
            }
            Err(_) => {
                self.tx_free.push(idx);
                Err(TxError::Full)
            }
        }
    }

    fn flush(&mut self) {
        self.notify();
    }
}
