//! PVH entry: from 32-bit protected mode (paging off, `%ebx` = the
//! `hvm_start_info` address, no stack) to long mode and Rust.
//!
//! The entry code zeroes .bss, identity-maps the first 4 GiB with 2 MiB
//! pages (RAM, the LAPIC/IOAPIC and the microvm virtio-mmio window at
//! 0xfeb00000, q35's PCI BARs; user-accessible, see below; the first 4 MiB
//! in 4 KiB pages with an unmapped guard page below the stack), turns on PAE,
//! long mode and SSE (the precompiled `core` uses SSE), loads the GDT, the
//! TSS (IST1 for exceptions, IST2 for interrupts) and the IDT (the stubs
//! of `interrupts`), and calls `uk_main` with the start-info address.
//!
//! Ring 3 under KVM: `/dev/kvm` on these machines is a nested PVM whose
//! CPL-0 guest code runs in an instruction emulator that cannot execute
//! SSE. When CPUID 0x40000000 names KVM, the entry code therefore drops to
//! ring 3 (IOPL 0: PVM ignores IOPL) before any compiled Rust runs, and sets
//! [`uk_ring3`]. Everything that needs CPL 0 happens here or in assembly
//! stubs: descriptor tables, CR2, and port I/O (an `in`/`out` in ring 3
//! raises #GP, whose stub performs it at CPL 0 and steps over it; see
//! `pio`). Interrupts stay off and the idle loop spins (no `hlt` in ring
//! 3). Under TCG the image stays in ring 0 and halts when idle.
//!
//! GDT: 0x08 kernel code, 0x10 kernel data, 0x18 TSS (two slots), 0x28
//! user data (DPL 3), 0x30 user code (DPL 3).

use core::arch::global_asm;
use core::sync::atomic::{AtomicU8, Ordering};

unsafe extern "C" {
    /// 1 when the image runs in ring 3 (KVM), 0 in ring 0 (TCG).
    static uk_ring3: AtomicU8;
}

/// Whether the image runs in ring 3 (it cannot `hlt` there).
pub fn ring3() -> bool {
    // SAFETY: a byte written once by the entry code before Rust runs.
    unsafe { uk_ring3.load(Ordering::Relaxed) != 0 }
}

// The PVH ELF note: name "Xen", type 18 (XEN_ELFNOTE_PHYS32_ENTRY), the
// 32-bit physical entry address.
global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .balign 4
    .quad uk_start32
    "#,
    options(att_syntax)
);

global_asm!(
    r#"
    .section .text.uk_boot32, "ax"
    .code32
    .global uk_start32
uk_start32:
    cli
    cld
    mov %ebx, %esi

    /* zero .bss (page tables and stacks live there) */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    /* PML4[0] -> PDPT; PDPT[0..4] -> 4 page directories */
    mov $uk_pdpt, %eax
    or $0x7, %eax
    mov %eax, uk_pml4
    mov $uk_pd, %eax
    or $0x7, %eax
    mov %eax, uk_pdpt
    add $0x1000, %eax
    mov %eax, uk_pdpt + 8
    add $0x1000, %eax
    mov %eax, uk_pdpt + 16
    add $0x1000, %eax
    mov %eax, uk_pdpt + 24

    /* 2048 entries of 2 MiB: present, writable, user, large page */
    xor %ecx, %ecx
1:
    mov %ecx, %eax
    shl $21, %eax
    or $0x87, %eax
    mov %eax, uk_pd(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jb 1b

    /* The first 4 MiB (the image) in 4 KiB pages, so that the page
       below the stack can be left out: a stack overflow then faults
       (and is printed) instead of overwriting what lies below. */
    xor %ecx, %ecx
4:
    mov %ecx, %eax
    shl $12, %eax
    or $0x7, %eax
    mov %eax, uk_pt(,%ecx,8)
    inc %ecx
    cmp $1024, %ecx
    jb 4b
    mov $uk_stack_guard, %eax
    shr $12, %eax
    cmp $1024, %eax
    jae 5f
    movl $0, uk_pt(,%eax,8)
5:
    mov $uk_pt, %eax
    or $0x7, %eax
    mov %eax, uk_pd
    add $0x1000, %eax
    mov %eax, uk_pd + 8

    mov $uk_pml4, %eax
    mov %eax, %cr3

    /* CR4: PAE (5), OSFXSR (9), OSXMMEXCPT (10) */
    mov %cr4, %eax
    or $0x620, %eax
    mov %eax, %cr4

    /* EFER.LME */
    mov $0xC0000080, %ecx
    rdmsr
    or $0x100, %eax
    wrmsr

    /* CR0: PG, MP, PE set; EM clear */
    mov %cr0, %eax
    and $0xFFFFFFFB, %eax
    or $0x80000003, %eax
    mov %eax, %cr0

    lgdt uk_gdt_ptr
    ljmp $0x08, $uk_start64

    .code64
uk_start64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    mov $uk_stack_top, %rsp
    xor %ebp, %ebp

    /* TSS: IST1 (exceptions), IST2 (interrupts); rsp0 for completeness;
       no I/O bitmap: ring 3 does port I/O through the `pio` gate. */
    mov $uk_ist1_top, %rax
    mov %rax, uk_tss + 0x24
    mov $uk_ist2_top, %rax
    mov %rax, uk_tss + 0x2c
    mov %rax, uk_tss + 0x04
    movw $104, uk_tss + 0x66
    /* its descriptor: limit 103, base, type 9 (available 64-bit TSS), present */
    mov $uk_tss, %rax
    movw $103, uk_gdt + 0x18
    movw %ax, uk_gdt + 0x1a
    shr $16, %rax
    movb %al, uk_gdt + 0x1c
    movb $0x89, uk_gdt + 0x1d
    movb $0, uk_gdt + 0x1e
    movb %ah, uk_gdt + 0x1f
    shr $16, %rax
    movl %eax, uk_gdt + 0x20
    movl $0, uk_gdt + 0x24
    mov $0x18, %ax
    ltr %ax

    /* IDT: the 32 exception stubs on IST1, the interrupts on IST2 */
    xor %ecx, %ecx
3:
    mov uk_exception_stubs(,%rcx,8), %rax
    mov $1, %edx
    call uk_set_gate
    inc %ecx
    cmp $32, %ecx
    jb 3b
    mov $0x20, %ecx
    mov $uk_irq_eoi, %rax
    mov $2, %edx
    call uk_set_gate
    mov $0x21, %ecx
    mov $uk_irq_nic, %rax
    call uk_set_gate
    mov $0xff, %ecx
    mov $uk_irq_spurious, %rax
    call uk_set_gate
    lidt uk_idt_ptr

    /* KVM (CPUID 0x40000000 = "KVMKVMKVM"): continue in ring 3 */
    mov $0x40000000, %eax
    xor %ecx, %ecx
    cpuid
    cmp $0x4b4d564b, %ebx
    jne uk_enter_rust
    movb $1, uk_ring3
    pushq $0x2b
    pushq $uk_stack_top
    pushq $0x0002
    pushq $0x33
    pushq $uk_ring3_entry
    iretq
uk_ring3_entry:
    mov $0x2b, %ax
    mov %ax, %ds
    mov %ax, %es
uk_enter_rust:
    mov %esi, %edi
    call uk_main
2:
    pause
    jmp 2b

    /* IDT gate %ecx := interrupt gate to %rax, IST %dl, selector 0x08 */
uk_set_gate:
    mov %rcx, %r8
    shl $4, %r8
    add $uk_idt, %r8
    movw %ax, (%r8)
    movw $0x08, 2(%r8)
    movb %dl, 4(%r8)
    movb $0x8e, 5(%r8)
    mov %rax, %r9
    shr $16, %r9
    movw %r9w, 6(%r8)
    shr $16, %r9
    movl %r9d, 8(%r8)
    movl $0, 12(%r8)
    ret

    .section .data.uk_gdt, "aw"
    .balign 16
    .global uk_gdt
uk_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0
    .quad 0
    .quad 0x00cff2000000ffff
    .quad 0x00affa000000ffff
uk_gdt_end:
    .balign 8
    .global uk_gdt_ptr
uk_gdt_ptr:
    .word uk_gdt_end - uk_gdt - 1
    .quad uk_gdt

    .balign 8
uk_idt_ptr:
    .word 4095
    .quad uk_idt
    .global uk_ring3
uk_ring3:
    .byte 0

    .section .bss.uk_tables, "aw", @nobits
    .balign 4096
uk_idt:
    .skip 4096
    .balign 16
uk_tss:
    .skip 104

    .section .bss.uk_paging, "aw", @nobits
    .balign 4096
uk_pml4:
    .skip 4096
uk_pdpt:
    .skip 4096
uk_pd:
    .skip 4 * 4096
uk_pt:
    .skip 2 * 4096

    .section .bss.uk_stack, "aw", @nobits
    .balign 4096
    .global uk_stack_guard
uk_stack_guard:
    .skip 4096
    .global uk_stack_bottom
uk_stack_bottom:
    .skip 1024 * 1024
    .global uk_stack_top
uk_stack_top:
    .balign 16
    .skip 16384
uk_ist1_top:
    .skip 16384
uk_ist2_top:
    .skip 16384
    .global uk_fault_stack_top
uk_fault_stack_top:
    "#,
    options(att_syntax)
);
