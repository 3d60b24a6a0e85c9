//! Exceptions and interrupts: the IDT, the TSS with its interrupt stacks,
//! the local APIC timer and the IOAPIC route of the NIC's interrupt.
//!
//! Every CPU exception prints its name, error code, RIP (and CR2 for a
//! page fault) and ends the VM with [`ExitCode::Fault`]. Two interrupts
//! exist, both only to end a `hlt`: the LAPIC timer ([`TIMER_VECTOR`]) and
//! the NIC ([`NIC_VECTOR`]; its stub also acknowledges a virtio-mmio
//! interrupt so the next used buffer raises a new edge). Interrupts are
//! enabled only inside [`halt_until`], between `sti` and `hlt`.
//!
//! All gates run on IST stacks (set up by `boot`): an interrupt never
//! touches the stack of the code it interrupted (the precompiled `core`
//! uses the red zone).

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};

use mnet::{Duration, Instant};

use crate::exit::{self, ExitCode};
use crate::virtio::Irq;

/// The LAPIC timer's vector.
pub const TIMER_VECTOR: u8 = 0x20;
/// The NIC's vector.
pub const NIC_VECTOR: u8 = 0x21;
/// Spurious-interrupt vector (no EOI).
pub const SPURIOUS_VECTOR: u8 = 0xff;

/// The local APIC's MMIO base (xAPIC mode).
const LAPIC_BASE: usize = 0xfee0_0000;
const LAPIC_SVR: usize = 0xf0;
const LAPIC_LVT_TIMER: usize = 0x320;
const LAPIC_TIMER_INITIAL: usize = 0x380;
const LAPIC_TIMER_CURRENT: usize = 0x390;
const LAPIC_TIMER_DIVIDE: usize = 0x3e0;
/// LVT mask bit.
const LVT_MASKED: u32 = 1 << 16;
/// Divide configuration 0b0011: divide by 16.
const DIVIDE_BY_16: u32 = 0x3;

/// The first IOAPIC (GSIs 0–23) and microvm's second one (GSIs 24–47).
const IOAPIC_BASES: [usize; 2] = [0xfec0_0000, 0xfec1_0000];
const IOAPIC_PINS: u32 = 24;

/// LAPIC timer ticks per second (after the divider), from calibration.
static APIC_HZ: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" {
    /// The unmapped page below the stack (`boot`).
    static uk_stack_guard: u8;
}

/// The exception frame handed to ring 3 (see `uk_exc_common`).
#[unsafe(no_mangle)]
static mut uk_fault_frame: [u64; 7] = [0; 7];

/// CR2 at the last exception (saved by the stub: ring 3 cannot read CR2).
#[unsafe(no_mangle)]
static uk_fault_cr2: AtomicU64 = AtomicU64::new(0);

/// The address of the register the NIC stub reads to acknowledge the
/// interrupt (0: none): a virtio-mmio InterruptStatus (written back to
/// InterruptACK at +4) or, with [`uk_nic_isr_kind`] = 2, a virtio-pci
/// ISR byte (reading it deasserts INTx).
#[unsafe(no_mangle)]
static uk_nic_isr: AtomicU64 = AtomicU64::new(0);
/// 1: virtio-mmio, 2: virtio-pci.
#[unsafe(no_mangle)]
static uk_nic_isr_kind: AtomicU64 = AtomicU64::new(0);

// Exception stubs: push a zero error code where the CPU pushes none, then
// the vector, and call `uk_fault` with the frame. They never return.
global_asm!(
    r#"
    .macro EXC_NOERR n
    .balign 16
uk_exc_\n:
    push $0
    push $\n
    jmp uk_exc_common
    .endm
    .macro EXC_ERR n
    .balign 16
uk_exc_\n:
    push $\n
    jmp uk_exc_common
    .endm

    /* #GP: a port access from ring 3 (opcode 0xec-0xef at RIP, see
       `pio`) or a `hlt` (0xf4, see `halt_for`) is performed here at
       CPL 0 and stepped over; anything else is a fault. */
    .macro EXC_GP
    .balign 16
uk_exc_13:
    push %rsi
    mov 16(%rsp), %rsi
    testb $3, 24(%rsp)
    jz 9f
    movzbl (%rsi), %esi
    cmp $0xec, %esi
    je 1f
    cmp $0xed, %esi
    je 2f
    cmp $0xee, %esi
    je 3f
    cmp $0xef, %esi
    je 4f
    cmp $0xf4, %esi
    je 6f
9:
    pop %rsi
    push $13
    jmp uk_exc_common
1:
    in %dx, %al
    jmp 5f
2:
    in %dx, %eax
    jmp 5f
3:
    out %al, %dx
    jmp 5f
4:
    out %eax, %dx
    jmp 5f
6:
    sti
    hlt
    cli
5:
    pop %rsi
    addq $1, 8(%rsp)
    add $8, %rsp
    iretq
    .endm

    .section .text.uk_interrupts, "ax"
    EXC_NOERR 0
    EXC_NOERR 1
    EXC_NOERR 2
    EXC_NOERR 3
    EXC_NOERR 4
    EXC_NOERR 5
    EXC_NOERR 6
    EXC_NOERR 7
    EXC_ERR 8
    EXC_NOERR 9
    EXC_ERR 10
    EXC_ERR 11
    EXC_ERR 12
    EXC_GP
    EXC_ERR 14
    EXC_NOERR 15
    EXC_NOERR 16
    EXC_ERR 17
    EXC_NOERR 18
    EXC_NOERR 19
    EXC_NOERR 20
    EXC_ERR 21
    EXC_NOERR 22
    EXC_NOERR 23
    EXC_NOERR 24
    EXC_NOERR 25
    EXC_NOERR 26
    EXC_NOERR 27
    EXC_NOERR 28
    EXC_ERR 29
    EXC_ERR 30
    EXC_NOERR 31

    /* In ring 0 call `uk_fault`; from ring 3 (KVM) return to ring 3 at
       `uk_fault` on its own stack: compiled Rust must not run at CPL 0. */
uk_exc_common:
    mov %cr2, %rax
    mov %rax, uk_fault_cr2(%rip)
    mov %rsp, %rdi
    testb $3, 24(%rsp)
    jnz 1f
    and $-16, %rsp
    call uk_fault
1:
    /* Copy the frame out of IST1 first: the port I/O of the printing
       raises #GP on the same stack. */
    mov %rsp, %rsi
    lea uk_fault_frame(%rip), %rdi
    mov $7, %ecx
    rep movsq
    lea uk_fault_frame(%rip), %rdi
    pushq $0x2b
    pushq $uk_fault_stack_top - 8
    pushq $0x0002
    pushq $0x33
    pushq $uk_fault
    iretq

    .balign 16
    .global uk_irq_eoi
uk_irq_eoi:
    push %rax
    mov $0xfee000b0, %eax
    movl $0, (%rax)
    pop %rax
    iretq

    .balign 16
    .global uk_irq_nic
uk_irq_nic:
    push %rax
    push %rdx
    mov uk_nic_isr(%rip), %rdx
    test %rdx, %rdx
    jz 2f
    cmpq $2, uk_nic_isr_kind(%rip)
    je 3f
    mov (%rdx), %eax
    mov %eax, 4(%rdx)
    jmp 2f
3:
    movb (%rdx), %al
2:
    mov $0xfee000b0, %eax
    movl $0, (%rax)
    pop %rdx
    pop %rax
    iretq

    .balign 16
    .global uk_irq_spurious
uk_irq_spurious:
    iretq

    .section .rodata.uk_exception_stubs, "a"
    .balign 8
    .global uk_exception_stubs
uk_exception_stubs:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad uk_exc_\n
    .endr
    "#,
    options(att_syntax)
);

/// The stack as an exception stub leaves it.
#[repr(C)]
pub struct FaultFrame {
    vector: u64,
    error: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

const EXCEPTION_NAMES: [&str; 32] = [
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor segment overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved 15",
    "#MF x87 floating point",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD floating point",
    "#VE virtualization",
    "#CP control protection",
    "reserved 22",
    "reserved 23",
    "reserved 24",
    "reserved 25",
    "reserved 26",
    "reserved 27",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security",
    "reserved 31",
];

/// Print the fault and end the VM with a failure.
#[unsafe(no_mangle)]
extern "C" fn uk_fault(frame: &FaultFrame) -> ! {
    crate::serial::force_unlock();
    let name = EXCEPTION_NAMES.get(frame.vector as usize).copied().unwrap_or("unknown");
    crate::println!(
        "FAULT: {name} (vector {}) error {:#x} at rip {:#x} rsp {:#x} rflags {:#x}",
        frame.vector,
        frame.error,
        frame.rip,
        frame.rsp,
        frame.rflags
    );
    if frame.vector == 14 {
        let cr2 = uk_fault_cr2.load(Ordering::Relaxed);
        let guard = core::ptr::addr_of!(uk_stack_guard) as u64;
        let what = if (guard..guard + 4096).contains(&cr2) {
            " (stack overflow)"
        } else {
            ""
        };
        crate::println!("FAULT: page fault address {cr2:#x}{what}");
    }
    exit::exit(ExitCode::Fault)
}

/// Mask the legacy 8259 PICs: every interrupt goes through the APICs.
/// (The IDT and TSS are loaded by the entry code, `boot`.)
pub fn init() {
    crate::pio::outb(0x21, 0xff);
    crate::pio::outb(0xa1, 0xff);
}

fn lapic_read(reg: usize) -> u32 {
    // SAFETY: the LAPIC page is identity mapped; aligned 32-bit MMIO read.
    unsafe { ((LAPIC_BASE + reg) as *const u32).read_volatile() }
}

fn lapic_write(reg: usize, v: u32) {
    // SAFETY: the LAPIC page is identity mapped; aligned 32-bit MMIO write.
    unsafe { ((LAPIC_BASE + reg) as *mut u32).write_volatile(v) }
}

/// Enable the local APIC and start its timer counting down (masked) so
/// that the clock calibration can measure its rate.
pub fn lapic_init() {
    lapic_write(LAPIC_SVR, 0x100 | u32::from(SPURIOUS_VECTOR));
    lapic_write(LAPIC_TIMER_DIVIDE, DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    lapic_write(LAPIC_TIMER_INITIAL, u32::MAX);
}

/// The timer's current count (for calibration).
pub fn lapic_timer_count() -> u32 {
    lapic_read(LAPIC_TIMER_CURRENT)
}

/// Record the calibrated timer rate and stop the free-running count.
pub fn set_timer_rate(hz: u64) {
    APIC_HZ.store(hz, Ordering::Relaxed);
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    // One-shot mode, unmasked.
    lapic_write(LAPIC_LVT_TIMER, u32::from(TIMER_VECTOR));
}

/// Whether IOAPIC `index` (0 or 1) answers (its version register is not all ones).
pub fn ioapic_present(index: usize) -> bool {
    let Some(&base) = IOAPIC_BASES.get(index) else {
        return false;
    };
    // SAFETY: the IOAPIC window is identity mapped; an absent IOAPIC reads as all ones.
    let version = unsafe {
        (base as *mut u32).write_volatile(1);
        ((base + 0x10) as *const u32).read_volatile()
    };
    version != u32::MAX && version != 0
}

/// Route the NIC's interrupt to [`NIC_VECTOR`]; false if it cannot be.
pub fn route_nic_irq(irq: Irq) -> bool {
    match irq {
        Irq::Mmio { gsi, isr } => {
            uk_nic_isr.store(isr, Ordering::Relaxed);
            uk_nic_isr_kind.store(1, Ordering::Relaxed);
            route_gsi(gsi, false)
        }
        Irq::PciIntx { isr } => {
            uk_nic_isr.store(isr, Ordering::Relaxed);
            uk_nic_isr_kind.store(2, Ordering::Relaxed);
            // Which PIRQ the slot's INTx uses depends on the chipset's
            // routing registers; only the NIC is on them (-nodefaults), so
            // all eight wake us.
            (Q35_PIRQ_GSI..Q35_PIRQ_GSI + 8).all(|gsi| route_gsi(gsi, true))
        }
        Irq::None => false,
    }
}

/// q35 (ICH9) wires PIRQA–H to IOAPIC inputs 16–23.
const Q35_PIRQ_GSI: u32 = 16;

/// Route IOAPIC input `gsi` (active high; edge or level) to [`NIC_VECTOR`].
fn route_gsi(gsi: u32, level: bool) -> bool {
    let Some(&base) = IOAPIC_BASES.get((gsi / IOAPIC_PINS) as usize) else {
        return false;
    };
    let pin = gsi % IOAPIC_PINS;
    let write = |reg: u32, v: u32| {
        // SAFETY: the IOAPIC window is identity mapped; IOREGSEL at +0, IOWIN at +0x10.
        unsafe {
            (base as *mut u32).write_volatile(reg);
            ((base + 0x10) as *mut u32).write_volatile(v);
        }
    };
    // Destination: APIC id 0 (the boot CPU), physical mode.
    write(0x11 + 2 * pin, 0);
    // Fixed delivery, physical, active high, edge (or level: bit 15), unmasked.
    write(0x10 + 2 * pin, u32::from(NIC_VECTOR) | if level { 1 << 15 } else { 0 });
    true
}

/// Halt until an interrupt or until `d` has passed (the LAPIC timer,
/// one-shot). Interrupts that became pending while they were off wake the
/// `hlt` at once (`sti` takes effect after the next instruction).
pub fn halt_for(d: Duration) {
    let hz = APIC_HZ.load(Ordering::Relaxed);
    let ticks = (d.as_micros() * u128::from(hz) / 1_000_000).clamp(1, u128::from(u32::MAX)) as u32;
    lapic_write(LAPIC_TIMER_INITIAL, ticks);
    if crate::boot::ring3() {
        // SAFETY: `hlt` raises #GP in ring 3; the #GP stub runs `sti; hlt;
        // cli` at CPL 0 and returns after it.
        unsafe { asm!("hlt", options(nomem, nostack)) };
    } else {
        // SAFETY: interrupts are enabled only for the `hlt`; every vector
        // that can arrive has a gate on its own stack.
        unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
    }
    lapic_write(LAPIC_TIMER_INITIAL, 0);
}

/// Halt until `deadline` (at most `max` from `now`) or an interrupt.
pub fn halt_until(now: Instant, deadline: Option<Instant>, max: Duration) {
    let limit = now.saturating_add(max);
    let until = deadline.map_or(limit, |d| d.min(limit));
    let d = until.saturating_duration_since(now);
    if !d.is_zero() {
        halt_for(d);
    }
}
