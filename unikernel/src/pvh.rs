//! The PVH `hvm_start_info` the loader passes in `%ebx`: the kernel
//! command line and the memory map.

/// `XEN_HVM_START_MAGIC_VALUE`.
pub const START_MAGIC: u32 = 0x336e_c578;
/// Memory-map entry type for usable RAM (E820 type 1).
pub const MEMMAP_RAM: u32 = 1;
/// The longest command line kept.
pub const MAX_CMDLINE: usize = 4096;

#[repr(C)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct MemmapEntry {
    addr: u64,
    size: u64,
    kind: u32,
    reserved: u32,
}

/// What the unikernel takes from the start info.
pub struct BootInfo {
    cmdline: [u8; MAX_CMDLINE],
    cmdline_len: usize,
    /// The largest RAM range below 4 GiB that does not hold the image.
    pub heap: Option<(usize, usize)>,
}

impl BootInfo {
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }
}

/// Read the start info at `addr`, avoiding `[kernel_start, kernel_end)`.
///
/// # Safety
/// `addr` must be the start-info address the PVH loader passed, identity mapped.
pub unsafe fn read(addr: usize, kernel_start: usize, kernel_end: usize) -> Result<BootInfo, &'static str> {
    // SAFETY: the caller passes the loader's start-info pointer.
    let si = unsafe { &*(addr as *const StartInfo) };
    if si.magic != START_MAGIC {
        return Err("no PVH start info (bad magic)");
    }
    let mut info = BootInfo {
        cmdline: [0; MAX_CMDLINE],
        cmdline_len: 0,
        heap: None,
    };
    if si.cmdline_paddr != 0 {
        let p = si.cmdline_paddr as *const u8;
        while info.cmdline_len < MAX_CMDLINE {
            // SAFETY: the command line is a NUL-terminated string the loader placed in RAM.
            let b = unsafe { p.add(info.cmdline_len).read() };
            if b == 0 {
                break;
            }
            info.cmdline[info.cmdline_len] = b;
            info.cmdline_len += 1;
        }
    }
    if si.version >= 1 && si.memmap_paddr != 0 {
        let entries = si.memmap_paddr as *const MemmapEntry;
        for i in 0..si.memmap_entries.min(128) as usize {
            // SAFETY: `memmap_entries` entries follow `memmap_paddr` (PVH version 1).
            let e = unsafe { entries.add(i).read() };
            if e.kind != MEMMAP_RAM {
                continue;
            }
            let mut start = e.addr as usize;
            let end = (e.addr.saturating_add(e.size)).min(1 << 32) as usize;
            // The image sits at the start of the RAM above 1 MiB.
            if start < kernel_end && end > kernel_start {
                start = kernel_end;
            }
            // Keep the low megabyte (start info, command line) untouched.
            start = start.max(1 << 20);
            if end > start && info.heap.is_none_or(|(_, s)| end - start > s) {
                info.heap = Some((start, end - start));
            }
        }
    }
    Ok(info)
}
