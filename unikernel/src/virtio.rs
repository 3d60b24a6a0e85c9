//! Finding the virtio-net device and the DMA glue for `virtio-drivers`:
//! virtio-mmio on `-M microvm` (from `virtio_mmio.device=` entries on the
//! command line, or by scanning the MMIO window), PCI on `-M q35`
//! (configuration ports 0xcf8/0xcfc). The device itself: `virtio_net`.

use core::alloc::Layout;
use core::ptr::NonNull;

use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{Command, ConfigurationAccess, DeviceFunction, PciRoot};
use virtio_drivers::transport::{DeviceType, SomeTransport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

use crate::pio::{inl, outl};

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

/// How the NIC's interrupt reaches the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Irq {
    /// virtio-mmio: an edge on this IOAPIC input; InterruptStatus at `isr`.
    Mmio { gsi: u32, isr: u64 },
    /// virtio-pci INTx: a level on one of q35's PIRQ inputs (GSI 16–23);
    /// reading the ISR byte at `isr` deasserts it.
    PciIntx { isr: u64 },
    /// Unknown: poll.
    None,
}

/// Where the NIC was found.
pub struct Found {
    pub transport: SomeTransport<'static>,
    pub irq: Irq,
    pub what: &'static str,
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

/// `VIRTIO_PCI_CAP_ISR_CFG` (virtio 1.x §4.1.4.5).
const VIRTIO_PCI_CAP_ISR_CFG: u8 = 3;
/// The vendor-specific capability id.
const PCI_CAP_ID_VNDR: u8 = 9;

/// The address of the device's ISR status byte (a memory BAR + offset).
fn pci_isr(root: &mut PciRoot<PortCam>, df: DeviceFunction) -> Option<u64> {
    let cap = root
        .capabilities(df)
        .find(|c| c.id == PCI_CAP_ID_VNDR && (c.private_header >> 8) as u8 == VIRTIO_PCI_CAP_ISR_CFG)?;
    // struct virtio_pci_cap: bar at byte 4, offset at byte 8.
    let bar = (PortCam.read_word(df, cap.offset + 4) & 0xff) as u8;
    let offset = PortCam.read_word(df, cap.offset + 8);
    match root.bar_info(df, bar).ok()?? {
        virtio_drivers::transport::pci::bus::BarInfo::Memory { address, .. } => Some(address + u64::from(offset)),
        virtio_drivers::transport::pci::bus::BarInfo::IO { .. } => None,
    }
}

/// Find the first virtio-net device: virtio-mmio first, then PCI bus 0.
pub fn find(cmdline: &str) -> Option<Found> {
    let listed = mnet_unikernel::cmdline::virtio_mmio_devices(cmdline);
    for &(base, size, irq) in &listed {
        if mmio_is_net(base) {
            let t = mmio_transport(base, size)?;
            return Some(Found {
                transport: t.into(),
                irq: Irq::Mmio {
                    gsi: irq,
                    isr: base as u64 + MMIO_INTERRUPT_STATUS,
                },
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
                    irq: Irq::Mmio {
                        gsi: gsi_base + slot as u32,
                        isr: base as u64 + MMIO_INTERRUPT_STATUS,
                    },
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
    let irq = pci_isr(&mut root, found).map_or(Irq::None, |isr| Irq::PciIntx { isr });
    match PciTransport::new::<IdentityHal, _>(&mut root, found) {
        Ok(t) => Some(Found {
            transport: t.into(),
            irq,
            what: "virtio-pci",
        }),
        Err(e) => {
            crate::println!("virtio-pci at {found}: {e}");
            None
        }
    }
}
