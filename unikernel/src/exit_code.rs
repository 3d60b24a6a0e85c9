//! The unikernel's exit status as written to QEMU's isa-debug-exit device
//! (port 0xf4): writing v makes QEMU exit with status 2v+1. The guest
//! writes 0x10 + the application's status (QEMU 33, 35, ...) and 0x1f for
//! a CPU fault or a panic (QEMU 63); `unikernel/run` maps these back. (A
//! triple fault under `-no-reboot` makes QEMU exit 0, which `run`
//! reports as a failure too.)

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

/// QEMU's exit status for a value written to isa-debug-exit.
pub fn qemu_status(port_value: u32) -> u32 {
    (port_value << 1) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statuses `unikernel/run` maps: 33 success, 35 + 2(s-1) for
    /// status s, 63 a fault; all odd and distinct from QEMU's own 0 and 1.
    #[test]
    fn qemu_statuses_match_run() {
        assert_eq!(qemu_status(ExitCode::App(0).port_value()), 33);
        assert_eq!(qemu_status(ExitCode::App(1).port_value()), 35);
        assert_eq!(qemu_status(ExitCode::App(2).port_value()), 37);
        assert_eq!(qemu_status(ExitCode::Fault.port_value()), 63);
        // Large statuses saturate below the fault code.
        assert_eq!(qemu_status(ExitCode::App(200).port_value()), 61);
    }
}
