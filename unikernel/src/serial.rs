//! The console: COM1 (16550 UART at 0x3f8), `print!`/`println!` and the
//! `log` backend (`-v` on the command line for info, `-vv` for debug).

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::pio::{inb, outb};

const COM1: u16 = 0x3f8;
/// Line status register: transmitter holding register empty.
const LSR_THRE: u8 = 0x20;

/// One writer at a time (an exception may interrupt a print: it calls
/// [`force_unlock`] first).
static LOCK: AtomicBool = AtomicBool::new(false);

/// 115200 8N1, FIFOs on, interrupts off.
pub fn init() {
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x80);
    outb(COM1, 0x01);
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);
    outb(COM1 + 2, 0xc7);
    outb(COM1 + 4, 0x03);
}

fn put(b: u8) {
    let mut spins = 0u32;
    while inb(COM1 + 5) & LSR_THRE == 0 && spins < 100_000 {
        spins += 1;
    }
    outb(COM1, b);
}

struct Com1;

impl Write for Com1 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                put(b'\r');
            }
            put(b);
        }
        Ok(())
    }
}

/// Break the lock of an interrupted writer (fault and panic paths only).
pub fn force_unlock() {
    LOCK.store(false, Ordering::Release);
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    while LOCK.swap(true, Ordering::Acquire) {
        core::hint::spin_loop();
    }
    let _ = Com1.write_fmt(args);
    LOCK.store(false, Ordering::Release);
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::serial::_print(format_args!($($arg)*)));
}

#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::serial::_print(format_args!("{}\n", format_args!($($arg)*))));
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let t = crate::clock::now();
            crate::println!(
                "[{:>4}.{:06}] {:<5} {}",
                t.total_micros() / 1_000_000,
                t.total_micros() % 1_000_000,
                r.level(),
                r.args()
            );
        }
    }
    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Install the logger: `verbose` 0 → warnings, 1 → info, 2+ → debug.
pub fn init_log(verbose: u8) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(match verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        2 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    });
}
