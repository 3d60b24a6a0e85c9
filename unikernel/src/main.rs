//! mnet as a unikernel: a freestanding x86_64 image that QEMU boots with
//! PVH (`-kernel`), driving one virtio-net NIC with mnet and running one
//! application from `mnet-apps`, chosen on the kernel command line (see
//! `cmdline`). The application's exit status leaves through isa-debug-exit
//! (see `exit`); `unikernel/run` is the way to start it.
//!
//! Boot order: `boot` (assembly: long mode, paging, SSE) → serial console
//! → IDT/TSS → start info (command line, memory map) → heap → LAPIC +
//! TSC calibration → the application (`app`).
#![no_std]
#![no_main]

extern crate alloc;

mod app;
mod boot;
mod clock;
mod exit;
mod interrupts;
mod pio;
mod pvh;
mod rt;
mod serial;
mod virtio;
mod virtio_net;

use core::ptr::addr_of;

use exit::ExitCode;
use mnet_unikernel::cmdline;

unsafe extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// Called by `boot` in long mode with the PVH start-info address.
#[unsafe(no_mangle)]
extern "C" fn uk_main(start_info: u32) -> ! {
    serial::init();
    interrupts::init();
    // Linker-script symbols: only their addresses are used.
    let (kstart, kend) = (addr_of!(__kernel_start) as usize, addr_of!(__kernel_end) as usize);
    // SAFETY: `start_info` is what the PVH loader passed in %ebx.
    let info = match unsafe { pvh::read(start_info as usize, kstart, kend) } {
        Ok(i) => i,
        Err(e) => {
            println!("mnet-unikernel: {e}");
            exit::exit(ExitCode::Fault)
        }
    };
    let Some((heap_start, heap_size)) = info.heap else {
        println!("mnet-unikernel: no RAM for a heap in the memory map");
        exit::exit(ExitCode::Fault)
    };
    // SAFETY: the range is RAM from the memory map, outside the image and
    // the low megabyte, used by nothing else.
    unsafe { rt::init_heap(heap_start, heap_size) };
    interrupts::lapic_init();
    let apic_hz = clock::calibrate(interrupts::lapic_timer_count);
    interrupts::set_timer_rate(apic_hz);

    let cmd = match cmdline::parse(info.cmdline()) {
        Ok(c) => c,
        Err(e) => {
            println!("mnet-unikernel: {e}");
            println!("{}", cmdline::USAGE);
            exit::exit(ExitCode::App(2))
        }
    };
    serial::init_log(cmd.verbose);
    log::info!(
        "mnet-unikernel: image {} KiB, heap {} MiB at {heap_start:#x}, TSC {} MHz, LAPIC timer {} MHz, RDRAND {}, wall clock {:?}",
        (kend - kstart) / 1024,
        heap_size >> 20,
        clock::tsc_hz() / 1_000_000,
        apic_hz / 1_000_000,
        clock::has_rdrand(),
        clock::wall_clock()
    );
    let code = app::run(&cmd, info.cmdline());
    let (used, free) = rt::heap_usage();
    log::info!("mnet-unikernel: exit {code}, heap {used} bytes used, {free} free");
    exit::exit(ExitCode::App(code))
}
