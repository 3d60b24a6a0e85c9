//! ICMP echo sockets (what `ping` uses): send echo requests with our
//! identifier, receive the matching replies and the errors routers and
//! hosts send about our requests.

use crate::waker_set::WakerSet;
use alloc::collections::VecDeque;
use core::net::IpAddr;

use crate::error::{Error, Result};
use crate::hash::{self, HashMap};
use crate::pool::BufferPool;
use crate::rand::Rng;
use crate::recv_queue::RecvQueue;
use crate::slab::{Handle, Slab};

/// Errors kept per socket until read; older ones are dropped first.
pub const ECHO_SOCKET_MAX_ERRORS: usize = 16;

/// An ICMP error about one of our echo requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoError {
    /// Who reported it (a router, the destination, or ourselves when
    /// address resolution failed).
    pub from: IpAddr,
    pub seq_no: u16,
    pub error: Error,
}

/// One echo socket.
#[derive(Debug)]
pub struct EchoSocket {
    pub ident: u16,
    /// Replies; a datagram's peer port is the echo sequence number.
    pub rx: RecvQueue,
    pub errors: VecDeque<EchoError>,
    pub rx_waker: WakerSet,
}

impl EchoSocket {
    pub fn wake_rx(&mut self) {
        self.rx_waker.wake_all();
    }

    pub fn push_error(&mut self, e: EchoError) {
        if self.errors.len() >= ECHO_SOCKET_MAX_ERRORS {
            self.errors.pop_front();
        }
        self.errors.push_back(e);
        self.wake_rx();
    }
}

/// Every echo socket of a stack, by identifier.
pub struct EchoTable {
    sockets: Slab<EchoSocket>,
    by_ident: HashMap<u16, Handle>,
}

impl EchoTable {
    pub fn new(capacity: usize, rng: &mut Rng) -> Self {
        EchoTable {
            sockets: Slab::new(capacity),
            by_ident: hash::new_map(rng),
        }
    }

    /// Open a socket with `ident`, or a random free one.
    pub fn open(&mut self, ident: Option<u16>, rx: RecvQueue, rng: &mut Rng) -> Result<Handle> {
        let ident = match ident {
            Some(i) if self.by_ident.contains_key(&i) => return Err(Error::AddressInUse),
            Some(i) => i,
            None => {
                let mut found = None;
                for _ in 0..64 {
                    let i = rng.next_u32() as u16;
                    if !self.by_ident.contains_key(&i) {
                        found = Some(i);
                        break;
                    }
                }
                found.ok_or(Error::AddressInUse)?
            }
        };
        let sock = EchoSocket {
            ident,
            rx,
            errors: VecDeque::new(),
            rx_waker: WakerSet::new(),
        };
        let h = self.sockets.insert(sock).map_err(|_| Error::WouldExceedLimit)?;
        self.by_ident.insert(ident, h);
        Ok(h)
    }

    pub fn close(&mut self, h: Handle, pool: &mut BufferPool) {
        if let Some(mut s) = self.sockets.remove(h) {
            self.by_ident.remove(&s.ident);
            s.rx.clear(pool);
            s.wake_rx();
        }
    }

    pub fn by_ident(&mut self, ident: u16) -> Option<&mut EchoSocket> {
        let h = *self.by_ident.get(&ident)?;
        self.sockets.get_mut(h)
    }

    pub fn get_mut(&mut self, h: Handle) -> Option<&mut EchoSocket> {
        self.sockets.get_mut(h)
    }
}
