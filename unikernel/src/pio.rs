//! Port I/O: `in`/`out` of one byte or one doubleword through %dx.
//!
//! In ring 0 (TCG) they run as they are. In ring 3 (KVM-PVM, see `boot`)
//! each one raises #GP; the #GP stub of `interrupts` recognises exactly
//! these four one-byte opcodes (0xec `in al,dx`, 0xed `in eax,dx`, 0xee
//! `out dx,al`, 0xef `out dx,eax`), performs the access at CPL 0 (where
//! the hypervisor emulates it) and resumes after it. (PVM ignores IOPL and
//! answers `int n` from ring 3 with #UD, so neither IOPL 3 nor a
//! software-interrupt gate works there.)

use core::arch::asm;

pub fn outb(port: u16, v: u8) {
    // SAFETY: port I/O on the devices this image owns (UART, PIC, PIT,
    // CMOS, PCI configuration, isa-debug-exit); no memory is touched.
    unsafe { asm!("out dx, al", in("dx") port, in("al") v, options(nomem, nostack, preserves_flags)) };
}

pub fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: as in `outb`.
    unsafe { asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack, preserves_flags)) };
    v
}

pub fn outl(port: u16, v: u32) {
    // SAFETY: as in `outb`.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") v, options(nomem, nostack, preserves_flags)) };
}

pub fn inl(port: u16) -> u32 {
    let v: u32;
    // SAFETY: as in `outb`.
    unsafe { asm!("in eax, dx", in("dx") port, out("eax") v, options(nomem, nostack, preserves_flags)) };
    v
}
