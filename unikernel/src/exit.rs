//! Ending the VM through QEMU's isa-debug-exit device (port 0xf4): writing
//! v makes QEMU exit with status 2v+1. `unikernel/run` maps these back:
//! 0x10 + the application's status, and [`ExitCode::Fault`] for a CPU
//! fault or a panic. (A triple fault under `-no-reboot` makes QEMU exit 0,
//! which `run` reports as a failure too.)

use core::arch::asm;

/// The isa-debug-exit port (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;
/// The value written for application status 0; status s writes this + s.
pub const APP_EXIT_BASE: u32 = 0x10;

/// How the unikernel ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The application's own status (0 success, 1 failure, 2 usage).
    App(u8),
    /// A CPU exception or a panic (QEMU status 63).
    Fault,
}

impl ExitCode {
    /// The value written to the isa-debug-exit port.
    pub fn port_value(self) -> u32 {
        match self {
            ExitCode::App(s) => APP_EXIT_BASE + u32::from(s.min(0x0e)),
            ExitCode::Fault => 0x1f,
        }
    }
}

/// Leave QEMU with `code`; halts forever if no isa-debug-exit device exists.
pub fn exit(code: ExitCode) -> ! {
    crate::pio::outl(DEBUG_EXIT_PORT, code.port_value());
    // Without the device the write was ignored: stop here (`cli`/`hlt`
    // only in ring 0).
    loop {
        if crate::boot::ring3() {
            core::hint::spin_loop();
        } else {
            // SAFETY: stopping the CPU for good.
            unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
        }
    }
}
