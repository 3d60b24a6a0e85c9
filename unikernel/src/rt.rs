//! What the precompiled linux-gnu `core`/`alloc` expect from a C runtime
//! (`memcpy`, `memset`, `memmove`, `memcmp`, `bcmp`, `rust_eh_personality`),
//! the heap allocator and the panic handler.
//!
//! The copies use `rep movs`/`rep stos` in inline assembly so that LLVM
//! cannot turn them back into calls to themselves; `memcpy` and `memset`
//! move quadwords, then the last bytes: under TCG every iteration of a
//! `rep` costs about the same whatever its width.

use core::arch::asm;
use core::panic::PanicInfo;

use linked_list_allocator::LockedHeap;

use crate::exit::{self, ExitCode};

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Give the allocator `[start, start + size)`.
///
/// # Safety
/// The range must be unused RAM, identity mapped, and given only once.
pub unsafe fn init_heap(start: usize, size: usize) {
    // SAFETY: the caller promises the range is free RAM owned by nobody else.
    unsafe { HEAP.lock().init(start as *mut u8, size) };
}

/// Bytes of heap in use and free.
pub fn heap_usage() -> (usize, usize) {
    let h = HEAP.lock();
    (h.used(), h.free())
}

/// # Safety
/// The C contract of `memcpy`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller passes valid, non-overlapping ranges of `n`
    // bytes: `n / 8` quadwords, then the `n % 8` bytes after them.
    unsafe {
        asm!(
            "rep movsq",
            "mov rcx, {tail}",
            "rep movsb",
            tail = in(reg) n % 8,
            inout("rcx") n / 8 => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags)
        );
    }
    dst
}

/// # Safety
/// The C contract of `memmove`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) <= (src as usize) || (dst as usize) >= (src as usize).wrapping_add(n) {
        // SAFETY: a forward copy is correct when dst is below src or the ranges do not overlap.
        unsafe {
            asm!("rep movsb", inout("rcx") n => _, inout("rdi") dst => _, inout("rsi") src => _, options(nostack, preserves_flags));
        }
    } else if n > 0 {
        // SAFETY: overlapping with dst above src: copy backwards (direction
        // flag set for the copy only, cleared again as the ABI requires).
        unsafe {
            asm!(
                "std",
                "rep movsb",
                "cld",
                inout("rcx") n => _,
                inout("rdi") dst.add(n - 1) => _,
                inout("rsi") src.add(n - 1) => _,
                options(nostack)
            );
        }
    }
    dst
}

/// # Safety
/// The C contract of `memset`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    // The byte in all eight bytes of a quadword.
    let fill = u64::from(c as u8) * 0x0101_0101_0101_0101;
    // SAFETY: the caller passes a valid range of `n` bytes: `n / 8`
    // quadwords, then the `n % 8` bytes after them (`al` is the byte).
    unsafe {
        asm!(
            "rep stosq",
            "mov rcx, {tail}",
            "rep stosb",
            tail = in(reg) n % 8,
            inout("rcx") n / 8 => _,
            inout("rdi") dst => _,
            in("rax") fill,
            options(nostack, preserves_flags)
        );
    }
    dst
}

/// # Safety
/// The C contract of `memcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller passes two valid ranges of `n` bytes; volatile
        // reads keep LLVM from recognising this loop as a call to memcmp.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// # Safety
/// The C contract of `bcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// Never called (panic = abort), but the precompiled crates name it.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}

/// Never called (panic = abort), but the precompiled liballoc names it.
#[unsafe(no_mangle)]
pub extern "C" fn _Unwind_Resume() -> ! {
    exit::exit(ExitCode::Fault)
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    crate::serial::force_unlock();
    crate::println!("PANIC: {info}");
    exit::exit(ExitCode::Fault)
}
