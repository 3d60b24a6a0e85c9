//! virtio-net behind mnet's [`Device`] trait, through the `virtio-drivers`
//! crate: virtio-mmio on `-M microvm` (from the `virtio_mmio.device=`
//! entries QEMU appends to the command line, or by scanning the MMIO
//! window), PCI on `-M q35` (configuration ports 0xcf8/0xcfc).
//!
//! Buffers: [`QUEUE_SIZE`] receive buffers stay posted; each received
//! frame is handed to the engine and its buffer posted again at once.
//! Transmit copies each frame into one of [`QUEUE_SIZE`] transmit buffers
//! (header first) and reclaims buffers as the device completes them; when
//! all are in flight, `transmit` answers `TxError::Full` (back-pressure).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ptr::NonNull;

use mnet::link::{Device, DeviceCapabilities, FrameMeta, TxError};
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{Command, ConfigurationAccess, DeviceFunction, PciRoot};
use virtio_drivers::transport::{DeviceType, SomeTransport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// Descriptors per virtqueue (and buffers per direction).
pub const QUEUE_SIZE: usize = 256;
/// One buffer: the 12-byte virtio-net header and a 1514-byte frame fit.
pub const BUF_LEN: usize = 2048;
/// The Ethernet payload size this driver supports (no jumbo frames).
pub const MTU: usize = 1500;
/// Frames handed to the engine per `receive_batch` at most.
pub const MAX_BATCH: usize = 64;

/// The microvm virtio-mmio window and its slots.
const MMIO_WINDOW: usize = 0xfeb0_0000;
const MMIO_SLOT: usize = 0x200;
const MMIO_SLOTS: usize = 24;
/// virtio-mmio magic "virt" and the network device id.
const MMIO_MAGIC: u32 = 0x7472_6976;
const DEVICE_ID_NET: u32 = 1;
/// Offset of InterruptStatus in a virtio-mmio header.
const MMIO_INTERRUPT_STATUS: u64 = 0x60;

/// The unikernel's DMA: memory is identity mapped, so a physical address
/// is the virtual one.
pub struct IdentityHal;

// SAFETY: allocations come from the global heap (zeroed, page aligned,
// exclusively owned until dealloc); physical = virtual under the boot
// page tables; no IOMMU, so sharing is the identity.
unsafe impl Hal for IdentityHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let layout = Layout::from_size_align(pages * PAGE_SIZE, PAGE_SIZE).expect("DMA layout");
        // SAFETY: the layout has a non-zero size (virtio-drivers asks for >= 1 page).
        let p = unsafe { alloc::alloc::alloc_zeroed(layout) };
        let Some(p) = NonNull::new(p) else {
            alloc::alloc::handle_alloc_error(layout)
        };
        (p.as_ptr() as PhysAddr, p)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        let layout = Layout::from_size_align(pages * PAGE_SIZE, PAGE_SIZE).expect("DMA layout");
        // SAFETY: `vaddr` came from `dma_alloc` with this layout.
        unsafe { alloc::alloc::dealloc(vaddr.as_ptr(), layout) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as *mut u8).expect("MMIO at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// PCI configuration space through ports 0xcf8/0xcfc (mechanism #1).
pub struct PortCam;

impl PortCam {
    fn select(df: DeviceFunction, offset: u8) {
        let addr = 0x8000_0000u32
            | (u32::from(df.bus) << 16)
            | (u32::from(df.device) << 11)
            | (u32::from(df.function) << 8)
            | u32::from(offset & 0xfc);
        outl(0xcf8, addr);
    }
}

fn outl(port: u16, v: u32) {
    // SAFETY: port I/O to the PCI configuration mechanism; no memory touched.
    unsafe { core::arch::asm!("out dx, eax", in("dx") port, in("eax") v, options(nomem, nostack, preserves_flags)) };
}

fn inl(port: u16) -> u32 {
    let v: u32;
    // SAFETY: as in `outl`.
    unsafe { core::arch::asm!("in eax, dx", in("dx") port, out("eax") v, options(nomem, nostack, preserves_flags)) };
    v
}

impl ConfigurationAccess for PortCam {
    fn read_word(&self, df: DeviceFunction, offset: u8) -> u32 {
        Self::select(df, offset);
        inl(0xcfc)
    }
    fn write_word(&mut self, df: DeviceFunction, offset: u8, data: u32) {
        Self::select(df, offset);
        outl(0xcfc, data);
    }
    unsafe fn unsafe_clone(&self) -> Self {
        PortCam
    }
}

/// Where the NIC was found.
pub struct Found {
    pub transport: SomeTransport<'static>,
    /// The IOAPIC input (GSI) of its interrupt, when known.
    pub gsi: Option<u32>,
    /// The virtio-mmio InterruptStatus register address (MMIO only).
    pub isr_addr: u64,
    pub what: &'static str,
}

/// `virtio_mmio.device=<size>@<base>:<irq>` entries of the command line.
pub fn mmio_from_cmdline(cmdline: &str) -> Vec<(usize, usize, u32)> {
    let mut out = Vec::new();
    for tok in cmdline.split_ascii_whitespace() {
        let Some(spec) = tok.strip_prefix("virtio_mmio.device=") else {
            continue;
        };
        let parsed = (|| {
            let (size, rest) = spec.split_once('@')?;
            let (base, irq) = rest.split_once(':')?;
            let size = parse_size(size)?;
            let base = usize::from_str_radix(base.strip_prefix("0x")?, 16).ok()?;
            let irq = irq.parse().ok()?;
            Some((base, size, irq))
        })();
        if let Some(p) = parsed {
            out.push(p);
        }
    }
    out
}

fn parse_size(s: &str) -> Option<usize> {
    let (digits, mult) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1024),
        _ => (s, 1),
    };
    digits.parse::<usize>().ok().map(|n| n * mult)
}

fn mmio_is_net(base: usize) -> bool {
    // SAFETY: `base` is inside the identity-mapped virtio-mmio window; the
    // magic and device-id registers are plain 32-bit reads.
    unsafe {
        let p = base as *const u32;
        p.read_volatile() == MMIO_MAGIC && p.add(2).read_volatile() == DEVICE_ID_NET
    }
}

fn mmio_transport(base: usize, size: usize) -> Option<MmioTransport<'static>> {
    let header = NonNull::new(base as *mut VirtIOHeader)?;
    // SAFETY: a virtio-mmio device answered at `base` (magic and device id
    // checked); its registers stay mapped for the whole run.
    unsafe { MmioTransport::new(header, size) }.ok()
}

/// Find the first virtio-net device: virtio-mmio first, then PCI bus 0.
pub fn find(cmdline: &str) -> Option<Found> {
    let listed = mmio_from_cmdline(cmdline);
    for &(base, size, irq) in &listed {
        if mmio_is_net(base) {
            let t = mmio_transport(base, size)?;
            return Some(Found {
                transport: t.into(),
                gsi: Some(irq),
                isr_addr: base as u64 + MMIO_INTERRUPT_STATUS,
                what: "virtio-mmio",
            });
        }
    }
    if listed.is_empty() {
        for slot in 0..MMIO_SLOTS {
            let base = MMIO_WINDOW + slot * MMIO_SLOT;
            if mmio_is_net(base) {
                let t = mmio_transport(base, MMIO_SLOT)?;
                // QEMU wires slot i to GSI 24 + i when microvm has its
                // second IOAPIC (24 slots), to GSI 5 + i otherwise (8 slots).
                let gsi_base = if crate::interrupts::ioapic_present(1) { 24 } else { 5 };
                return Some(Found {
                    transport: t.into(),
                    gsi: Some(gsi_base + slot as u32),
                    isr_addr: base as u64 + MMIO_INTERRUPT_STATUS,
                    what: "virtio-mmio",
                });
            }
        }
    }
    find_pci()
}

fn find_pci() -> Option<Found> {
    // Without a PCI host bridge (microvm) every read is all ones: no device.
    let mut root = PciRoot::new(PortCam);
    let found = root
        .enumerate_bus(0)
        .find(|(_, info)| virtio_drivers::transport::pci::virtio_device_type(info) == Some(DeviceType::Network))
        .map(|(df, _)| df)?;
    root.set_command(found, Command::MEMORY_SPACE | Command::IO_SPACE | Command::BUS_MASTER);
    match PciTransport::new::<IdentityHal, _>(&mut root, found) {
        Ok(t) => Some(Found {
            transport: t.into(),
            gsi: None,
            isr_addr: 0,
            what: "virtio-pci",
        }),
        Err(e) => {
            crate::println!("virtio-pci at {found}: {e}");
            None
        }
    }
}

/// A virtio-net NIC as an mnet [`Device`].
pub struct VirtioNic {
    raw: VirtIONetRaw<IdentityHal, SomeTransport<'static>, QUEUE_SIZE>,
    rx_bufs: Vec<Box<[u8]>>,
    /// The descriptor token of each posted receive buffer.
    rx_tokens: Vec<Option<u16>>,
    tx_bufs: Vec<Box<[u8]>>,
    /// Free transmit buffers.
    tx_free: Vec<usize>,
    /// (token, buffer index, frame length incl. header) in flight.
    tx_inflight: Vec<(u16, usize, usize)>,
    pub rx_errors: u64,
}

impl VirtioNic {
    /// Initialise the device and post every receive buffer.
    pub fn new(transport: SomeTransport<'static>) -> Result<Self, virtio_drivers::Error> {
        let mut raw = VirtIONetRaw::new(transport)?;
        let mut rx_bufs: Vec<Box<[u8]>> = (0..QUEUE_SIZE).map(|_| alloc::vec![0u8; BUF_LEN].into_boxed_slice()).collect();
        let mut rx_tokens = alloc::vec![None; QUEUE_SIZE];
        for (i, buf) in rx_bufs.iter_mut().enumerate() {
            // SAFETY: the buffer lives in `rx_bufs` (heap, never moved or
            // touched) until its token completes in `receive_batch`.
            rx_tokens[i] = Some(unsafe { raw.receive_begin(buf)? });
        }
        let tx_bufs = (0..QUEUE_SIZE).map(|_| alloc::vec![0u8; BUF_LEN].into_boxed_slice()).collect();
        raw.enable_interrupts();
        Ok(VirtioNic {
            raw,
            rx_bufs,
            rx_tokens,
            tx_bufs,
            tx_free: (0..QUEUE_SIZE).collect(),
            tx_inflight: Vec::with_capacity(QUEUE_SIZE),
            rx_errors: 0,
        })
    }

    pub fn mac(&self) -> [u8; 6] {
        self.raw.mac_address()
    }

    /// Reclaim transmit buffers the device has finished with.
    fn reclaim_tx(&mut self) {
        while let Some(token) = self.raw.poll_transmit() {
            let Some(pos) = self.tx_inflight.iter().position(|&(t, _, _)| t == token) else {
                break;
            };
            let (_, idx, len) = self.tx_inflight.swap_remove(pos);
            // SAFETY: the same buffer (and length) as passed to `transmit_begin` for this token.
            let _ = unsafe { self.raw.transmit_complete(token, &self.tx_bufs[idx][..len]) };
            self.tx_free.push(idx);
        }
    }

    /// Whether a received frame waits.
    pub fn rx_pending(&self) -> bool {
        self.raw.poll_receive().is_some()
    }
}

impl Device for VirtioNic {
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
            let Some(token) = self.raw.poll_receive() else {
                break;
            };
            let Some(idx) = self.rx_tokens.iter().position(|&t| t == Some(token)) else {
                // Not ours: nothing sensible to do but stop.
                self.rx_errors += 1;
                break;
            };
            self.rx_tokens[idx] = None;
            // SAFETY: the buffer passed to `receive_begin` for this token.
            match unsafe { self.raw.receive_complete(token, &mut self.rx_bufs[idx]) } {
                Ok((hdr, len)) => {
                    if let Some(frame) = self.rx_bufs[idx].get(hdr..hdr + len) {
                        sink(&FrameMeta::PLAIN, frame);
                        n += 1;
                    }
                }
                Err(_) => self.rx_errors += 1,
            }
            // SAFETY: as in `new`: the buffer stays put until its token completes.
            match unsafe { self.raw.receive_begin(&mut self.rx_bufs[idx]) } {
                Ok(t) => self.rx_tokens[idx] = Some(t),
                Err(_) => self.rx_errors += 1,
            }
        }
        n
    }

    fn transmit(&mut self, _meta: &FrameMeta, frame: &[u8]) -> Result<(), TxError> {
        self.reclaim_tx();
        let Some(idx) = self.tx_free.pop() else {
            return Err(TxError::Full);
        };
        let buf = &mut self.tx_bufs[idx];
        let Ok(hdr) = self.raw.fill_buffer_header(buf) else {
            self.tx_free.push(idx);
            return Err(TxError::Failed);
        };
        let len = hdr + frame.len();
        let Some(dst) = buf.get_mut(hdr..len) else {
            // Larger than the MTU allows: the engine never sends such a frame.
            self.tx_free.push(idx);
            return Err(TxError::Failed);
        };
        dst.copy_from_slice(frame);
        // SAFETY: the buffer is not touched until `reclaim_tx` completes its token.
        match unsafe { self.raw.transmit_begin(&self.tx_bufs[idx][..len]) } {
            Ok(token) => {
                self.tx_inflight.push((token, idx, len));
                Ok(())
            }
            Err(_) => {
                self.tx_free.push(idx);
                Err(TxError::Full)
            }
        }
    }
}
