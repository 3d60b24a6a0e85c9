//! Ending the VM through QEMU's isa-debug-exit device (the values:
//! `mnet_unikernel::exit_code`).

use core::arch::asm;

pub use mnet_unikernel::exit_code::{DEBUG_EXIT_PORT, ExitCode};

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
