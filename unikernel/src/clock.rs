//! Time: the monotonic clock (the TSC, calibrated against the PIT at
//! boot), the wall clock (CMOS RTC) and randomness (RDRAND, when the CPU
//! model has it: QEMU TCG's `-cpu max` does).

use core::arch::asm;
use core::arch::x86_64::{__cpuid, _rdtsc};
use core::sync::atomic::{AtomicU64, Ordering};

use mnet::Instant;

use crate::pio::{inb, outb};

/// The PIT's input clock, Hz.
const PIT_HZ: u64 = 1_193_182;
/// How long one calibration window counts (ms): a shorter window boots
/// faster, a longer one measures more precisely (the error is about one
/// PIT read, ~1 µs under TCG, ~10 µs trapped under KVM-PVM).
pub const CALIBRATION_MS: u64 = 3;
/// Calibration windows; the slowest rate wins. A vCPU descheduled for
/// more than one PIT period (55 ms) in a window misses a wrap of the
/// count, which can only make the TSC look faster.
pub const CALIBRATION_WINDOWS: usize = 3;

static TSC_BASE: AtomicU64 = AtomicU64::new(0);
/// Microseconds per TSC tick, as a 32.32 fixed-point factor.
static US_PER_TICK_Q32: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

fn rdtsc() -> u64 {
    // SAFETY: RDTSC is available on every x86_64 CPU.
    unsafe { _rdtsc() }
}

/// PIT channel 0's current count (latched: counter latch command).
fn pit_count() -> u16 {
    outb(0x43, 0x00);
    let lo = inb(0x40);
    let hi = inb(0x40);
    u16::from_le_bytes([lo, hi])
}

/// Let PIT channel 0 (mode 2, period 65536, its interrupt masked) count
/// `CALIBRATION_MS` and call `during` at its start and end. (Channel 2
/// cannot be used: its gate and output live in port 0x61, which microvm
/// lacks.) Returns false if the PIT does not count (no PIT).
fn pit_window(mut during: impl FnMut()) -> bool {
    let window = PIT_HZ * CALIBRATION_MS / 1000;
    // Channel 0, lobyte/hibyte, mode 2 (rate generator), binary; count 0 = 65536.
    outb(0x43, 0x34);
    outb(0x40, 0);
    outb(0x40, 0);
    let mut last = pit_count();
    during();
    let mut elapsed = 0u64;
    let mut spins = 0u64;
    while elapsed < window {
        let c = pit_count();
        // Counting down; a wrap reloads 65536.
        elapsed += u64::from(last.wrapping_sub(c));
        last = c;
        spins += 1;
        if spins > 10_000_000 {
            return false;
        }
    }
    during();
    true
}

/// Calibrate the TSC (and, through `apic_count`, the LAPIC timer, which
/// returns its current count). Returns the LAPIC timer's ticks per second.
pub fn calibrate(mut apic_count: impl FnMut() -> u32) -> u64 {
    let mut best: Option<(u64, u64)> = None;
    for _ in 0..CALIBRATION_WINDOWS {
        let mut tsc = [0u64; 2];
        let mut apic = [0u32; 2];
        let mut i = 0;
        let ok = pit_window(|| {
            if i < 2 {
                tsc[i] = rdtsc();
                apic[i] = apic_count();
                i += 1;
            }
        });
        if !ok || tsc[1] <= tsc[0] {
            break;
        }
        let per_s = |ticks: u64| ticks * 1000 / CALIBRATION_MS;
        let rates = (per_s(tsc[1] - tsc[0]), per_s(u64::from(apic[0].wrapping_sub(apic[1]))));
        if best.is_none_or(|b| rates.0 < b.0) {
            best = Some(rates);
        }
    }
    let (hz, apic_hz) = if let Some(rates) = best {
        rates
    } else {
        // No PIT: QEMU's TSC then runs at the host's rate, which we cannot
        // know; guess 1 GHz for both (the LAPIC timer runs at 1 GHz under
        // QEMU before its divider).
        crate::println!("clock: no PIT, guessing 1 GHz");
        (1_000_000_000, 1_000_000_000 / 16)
    };
    TSC_HZ.store(hz, Ordering::Relaxed);
    US_PER_TICK_Q32.store((1_000_000u64 << 32) / hz.max(1), Ordering::Relaxed);
    TSC_BASE.store(rdtsc(), Ordering::Relaxed);
    apic_hz.max(1)
}

/// The TSC's rate measured at boot.
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Monotonic time since calibration.
pub fn now() -> Instant {
    let ticks = rdtsc().wrapping_sub(TSC_BASE.load(Ordering::Relaxed));
    let us = (u128::from(ticks) * u128::from(US_PER_TICK_Q32.load(Ordering::Relaxed))) >> 32;
    Instant::from_micros(us as u64)
}

fn cmos(reg: u8) -> u8 {
    outb(0x70, reg);
    inb(0x71)
}

/// The wall clock: seconds since the Unix epoch from the CMOS RTC (UTC,
/// as QEMU sets it), or `None` when it reads as nonsense.
pub fn wall_clock() -> Option<u64> {
    // No RTC: the port reads as all ones.
    if cmos(0x0a) == 0xff {
        return None;
    }
    // Wait out an update in progress (status A bit 7: at most 2 ms), then
    // read until two reads agree.
    let read = || {
        let end = now().saturating_add(mnet::Duration::from_millis(3));
        while cmos(0x0a) & 0x80 != 0 && now() < end {}
        [cmos(0x00), cmos(0x02), cmos(0x04), cmos(0x07), cmos(0x08), cmos(0x09), cmos(0x32)]
    };
    let mut r = read();
    for _ in 0..4 {
        let again = read();
        if again == r {
            break;
        }
        r = again;
    }
    let status_b = cmos(0x0b);
    let bcd = status_b & 0x04 == 0;
    let conv = |v: u8| if bcd { (v & 0x0f) + (v >> 4) * 10 } else { v };
    let (sec, min) = (conv(r[0]), conv(r[1]));
    let hour = if status_b & 0x02 == 0 && r[2] & 0x80 != 0 {
        // 12-hour clock, PM.
        (conv(r[2] & 0x7f) % 12) + 12
    } else {
        conv(r[2] & 0x7f)
    };
    let (day, month) = (conv(r[3]), conv(r[4]));
    let century = match conv(r[6]) {
        c @ 19..=21 => u64::from(c),
        _ => 20,
    };
    let year = century * 100 + u64::from(conv(r[5]));
    mnet_unikernel::civil::unix_time(year, month, day, hour, min, sec)
}

/// Whether the CPU has RDRAND (CPUID.1:ECX bit 30).
pub fn has_rdrand() -> bool {
    __cpuid(1).ecx & (1 << 30) != 0
}

/// One 64-bit random number from RDRAND (retried as Intel advises).
pub fn rdrand() -> Option<u64> {
    if !has_rdrand() {
        return None;
    }
    for _ in 0..10 {
        let v: u64;
        let ok: u8;
        // SAFETY: RDRAND exists (checked above); it only writes registers.
        unsafe { asm!("rdrand {v}", "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok, options(nomem, nostack)) };
        if ok != 0 {
            return Some(v);
        }
    }
    None
}

/// 32 bytes of seed for the stack's CSPRNG: RDRAND when present, mixed
/// with the TSC and the wall clock (the only entropy without RDRAND).
pub fn seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    let wall = wall_clock().unwrap_or(0);
    for (i, chunk) in seed.chunks_exact_mut(8).enumerate() {
        let r = rdrand().unwrap_or(0) ^ rdtsc().rotate_left(17 * i as u32) ^ wall.rotate_left(29 * i as u32);
        chunk.copy_from_slice(&r.to_le_bytes());
    }
    seed
}
