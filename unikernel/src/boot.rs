//! PVH entry: from 32-bit protected mode (paging off, `%ebx` = the
//! `hvm_start_info` address, no stack) to long mode and Rust.
//!
//! The entry code zeroes .bss, identity-maps the first 4 GiB with 2 MiB
//! pages (RAM, the LAPIC/IOAPIC and the microvm virtio-mmio window at
//! 0xfeb00000, q35's PCI BARs), turns on PAE, long mode and SSE (the
//! precompiled `core` uses SSE), loads the GDT and calls `uk_main` with
//! the start-info address. The GDT keeps two slots free for the TSS that
//! `interrupts` fills in (selector [`TSS_SELECTOR`]).

use core::arch::global_asm;

/// The 64-bit code segment.
pub const CODE_SELECTOR: u16 = 0x08;
/// The TSS descriptor (two GDT slots).
pub const TSS_SELECTOR: u16 = 0x18;

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
    or $0x3, %eax
    mov %eax, uk_pml4
    mov $uk_pd, %eax
    or $0x3, %eax
    mov %eax, uk_pdpt
    add $0x1000, %eax
    mov %eax, uk_pdpt + 8
    add $0x1000, %eax
    mov %eax, uk_pdpt + 16
    add $0x1000, %eax
    mov %eax, uk_pdpt + 24

    /* 2048 entries of 2 MiB: present, writable, large page */
    xor %ecx, %ecx
1:
    mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, uk_pd(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jb 1b

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
    mov %esi, %edi
    call uk_main
2:
    cli
    hlt
    jmp 2b

    .section .data.uk_gdt, "aw"
    .balign 16
    .global uk_gdt
uk_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0
    .quad 0
uk_gdt_end:
    .balign 8
    .global uk_gdt_ptr
uk_gdt_ptr:
    .word uk_gdt_end - uk_gdt - 1
    .quad uk_gdt

    .section .bss.uk_paging, "aw", @nobits
    .balign 4096
uk_pml4:
    .skip 4096
uk_pdpt:
    .skip 4096
uk_pd:
    .skip 4 * 4096

    .section .bss.uk_stack, "aw", @nobits
    .balign 16
    .global uk_stack_bottom
uk_stack_bottom:
    .skip 1024 * 1024
    .global uk_stack_top
uk_stack_top:
    "#,
    options(att_syntax)
);
