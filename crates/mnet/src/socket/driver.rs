//! Pairing a [`Net`] with its device, for the executor's run loop.

use super::Net;
use crate::executor::Driver;
use crate::link::Device;
use crate::time::Instant;

/// One stack on one device.
pub struct Interface<D: Device> {
    pub net: Net,
    pub device: D,
}

impl<D: Device> Interface<D> {
    /// Tell the stack what the device can do, and pair them.
    pub fn new(net: Net, device: D) -> Self {
        let caps = device.capabilities();
        net.with(|s| s.set_capabilities(caps));
        Interface { net, device }
    }
}

impl<D: Device> Driver for Interface<D> {
    fn drive(&mut self, now: Instant) -> bool {
        self.net.poll_device_until_flush(now, &mut self.device)
    }

    fn flush(&mut self, _now: Instant) -> bool {
        self.net.flush_device(&mut self.device)
    }

    fn poll_at(&self) -> Option<Instant> {
        self.net.poll_at()
    }
}
