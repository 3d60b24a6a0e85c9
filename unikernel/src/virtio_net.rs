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
//! Offloads (feature choice and header mapping in `net_features`, a
//! library unit-tested on the host): checksum offload both ways (CSUM,
//! GUEST_CSUM), segmentation (HOST_TSO4/6) and coalesced receive
//! (GUEST_TSO4/6) when the device offers them; `offload: false` takes
//! none. Each buffer starts with the virtio-net header, mapped to and from
//! mnet's `FrameMeta`.
//!
//! Buffers: [`QUEUE_SIZE`] receive buffers stay posted ([`BUF_LEN`]
//! bytes, or [`RX_BUF_LEN_GSO`] with coalesced receive, where
//! [`RX_BUFS_GSO`] of them are posted to bound memory); each received
//! frame is handed to the engine and its buffer posted again. Transmit
//! copies the header and each frame into one of [`QUEUE_SIZE`] transmit
//! buffers (each grows to the largest frame it carried: a super-segment
//! is up to 64 KiB), reclaimed as the device completes them; with all in
//! flight `transmit` answers `TxError::Full`.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use bitflags::bitflags;
use mnet::link::{Device, DeviceCapabilities, FrameMeta, TxError};
use mnet_unikernel::net_features::{self, BUF_LEN, RX_BUF_LEN_GSO, bit};
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::{SomeTransport, Transport};

use crate::virtio::IdentityHal;

/// Descriptors per virtqueue (and buffers per direction).
pub const QUEUE_SIZE: usize = 256;
/// Receive buffers posted with coalesced receive ([`RX_BUF_LEN_GSO`]
/// bytes each: 8 MiB in all).
pub const RX_BUFS_GSO: usize = 128;
/// Frames handed to the engine per `receive_batch` at most.
pub const MAX_BATCH: usize = 64;

/// Queue indices (virtio 1.x §5.1.2).
const RECEIVEQ: u16 = 0;
const TRANSMITQ: u16 = 1;

bitflags! {
    /// Feature bits as `virtio-drivers` wants them (the values are in
    /// `net_features::bit`, which decides which ones to accept).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Features: u64 {
        const _ = !0;
    }
}

type Queue = VirtQueue<IdentityHal, QUEUE_SIZE>;

/// A virtio-net NIC as an mnet [`Device`].
pub struct VirtioNet {
    transport: SomeTransport<'static>,
    rx: Queue,
    tx: Queue,
    hdr_len: usize,
    /// The negotiated feature bits.
    features: u64,
    mac: [u8; 6],
    rx_bufs: Vec<Box<[u8]>>,
    /// Receive buffer index by descriptor token (head index).
    rx_by_token: Vec<Option<u16>>,
    tx_bufs: Vec<Vec<u8>>,
    /// (buffer index, length) by descriptor token.
    tx_by_token: Vec<Option<(u16, usize)>>,
    tx_free: Vec<u16>,
    /// Buffers were added since the last notification.
    rx_unnotified: bool,
    tx_unnotified: bool,
    /// Used entries the driver could not match (a device bug).
    pub errors: u64,
}

impl VirtioNet {
    /// Initialise the device (virtio 1.x §3.1.1), with the offloads it
    /// offers unless `offload` is false, and post every receive buffer.
    pub fn new(mut transport: SomeTransport<'static>, offload: bool) -> Result<Self, virtio_drivers::Error> {
        let offered = transport.read_device_features();
        let features = transport
            .begin_init(Features::from_bits_retain(net_features::select(offered, offload)))
            .bits();
        let mut mac = [0u8; 6];
        if features & bit::MAC != 0 {
            for (i, b) in mac.iter_mut().enumerate() {
                *b = transport.read_config_space::<u8>(i)?;
            }
        }
        let rx = Queue::new(&mut transport, RECEIVEQ, false, false)?;
        let tx = Queue::new(&mut transport, TRANSMITQ, false, false)?;
        transport.finish_init();
        let (rx_count, rx_len) = if net_features::rx_gso(features) {
            (RX_BUFS_GSO, RX_BUF_LEN_GSO)
        } else {
            (QUEUE_SIZE, BUF_LEN)
        };
        let mut nic = VirtioNet {
            transport,
            rx,
            tx,
            hdr_len: net_features::hdr_len(features),
            features,
            mac,
            rx_bufs: (0..rx_count).map(|_| vec![0u8; rx_len].into_boxed_slice()).collect(),
            rx_by_token: vec![None; QUEUE_SIZE],
            tx_bufs: (0..QUEUE_SIZE).map(|_| Vec::with_capacity(BUF_LEN)).collect(),
            tx_by_token: vec![None; QUEUE_SIZE],
            tx_free: (0..QUEUE_SIZE as u16).collect(),
            rx_unnotified: false,
            tx_unnotified: false,
            errors: 0,
        };
        for i in 0..rx_count as u16 {
            nic.post_rx(i);
        }
        nic.notify();
        Ok(nic)
    }

    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The negotiated feature bits (`net_features::bit`).
    pub fn features(&self) -> u64 {
        self.features
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
            let buf = &self.tx_bufs[usize::from(idx)][..len];
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
        net_features::capabilities(self.features, MAX_BATCH)
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
                    let meta = buf
                        .get(..len as usize)
                        .and_then(|b| net_features::rx_meta(b, self.hdr_len, self.features));
                    match (meta, buf.get(self.hdr_len..len as usize)) {
                        (Some(meta), Some(frame)) => {
                            sink(&meta, frame);
                            n += 1;
                        }
                        // Shorter than the header: a device bug.
                        _ => self.errors += 1,
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

    fn transmit(&mut self, meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        self.reclaim_tx();
        let len = self.hdr_len + frame.len();
        if len > self.hdr_len + mnet::wire::ethernet::HEADER_LEN + net_features::MAX_GSO_SIZE {
            // Larger than any super-segment: the engine never sends such a frame.
            return Err(TxError::Failed);
        }
        let Some(idx) = self.tx_free.pop() else {
            return Err(TxError::Full);
        };
        let buf = &mut self.tx_bufs[usize::from(idx)];
        let (hdr, hdr_len) = net_features::tx_hdr(meta, self.hdr_len);
        buf.clear();
        buf.extend_from_slice(&hdr[..hdr_len]);
        buf.extend_from_slice(frame);
        // SAFETY: the buffer is not touched until `reclaim_tx` pops its token.
        match unsafe { self.tx.add(&[&buf[..len]], &mut []) } {
            Ok(token) => {
                if let Some(slot) = self.tx_by_token.get_mut(usize::from(token)) {
                    *slot = Some((idx, len));
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
