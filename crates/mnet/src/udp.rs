//! UDP sockets (RFC 768): the table the engine demultiplexes into, keyed
//! by local address and port. The engine does the packet work; this file
//! owns binding, ephemeral ports and per-socket state.

use crate::waker_set::WakerSet;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::{Error, Result};
use crate::hash::{self, HashMap};
use crate::pool::BufferPool;
use crate::rand::Rng;
use crate::recv_queue::RecvQueue;
use crate::slab::{Handle, Slab};

/// RFC 6056 §2.1: "the dynamic ports ... range from 49152 to 65535"
/// (the IANA suggestion; Linux uses 32768–60999).
pub const EPHEMERAL_PORT_MIN: u16 = 49152;
/// See [`EPHEMERAL_PORT_MIN`].
pub const EPHEMERAL_PORT_MAX: u16 = 65535;

/// One UDP socket.
#[derive(Debug)]
pub struct UdpSocket {
    /// The bound address; an unspecified IP receives on every address.
    pub local: SocketAddr,
    /// Set by `connect`: the only peer we send to and accept from.
    pub remote: Option<SocketAddr>,
    pub rx: RecvQueue,
    /// An asynchronous error (ICMP) reported on the next operation.
    pub error: Option<Error>,
    pub rx_waker: WakerSet,
}

impl UdpSocket {
    pub fn wake_rx(&mut self) {
        self.rx_waker.wake_all();
    }
}

/// Every UDP socket of a stack.
pub struct UdpTable {
    sockets: Slab<UdpSocket>,
    by_local: HashMap<(IpAddr, u16), Handle>,
    /// Sockets per (family is IPv4, port): a wildcard bind checks for a
    /// conflict in O(1) instead of scanning every socket.
    per_port: HashMap<(bool, u16), u32>,
    /// A socket on `::` also receives IPv4 (see `Ipv6Config::v6only`).
    pub dual_stack: bool,
}

fn unspecified_like(ip: &IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

impl UdpTable {
    pub fn new(capacity: usize, rng: &mut Rng) -> Self {
        UdpTable {
            sockets: Slab::new(capacity),
            by_local: hash::new_map(rng),
            per_port: hash::new_map(rng),
            dual_stack: true,
        }
    }

    fn port_in_use(&self, ip: &IpAddr, port: u16) -> bool {
        if self.by_local.contains_key(&(*ip, port)) {
            return true;
        }
        // A wildcard bind conflicts with every specific bind of the family
        // and the other way round (no SO_REUSEADDR semantics).
        let wild = unspecified_like(ip);
        if *ip == wild {
            self.per_port.contains_key(&(ip.is_ipv4(), port))
        } else {
            self.by_local.contains_key(&(wild, port))
        }
    }

    /// RFC 6056 §3.3.1, Algorithm 1 (Simple Port Randomization):
    /// "next_ephemeral = min_ephemeral + (random() % num_ephemeral)", then
    /// step through the range until a free port is found.
    fn ephemeral_port(&self, ip: &IpAddr, rng: &mut Rng) -> Result<u16> {
        let num = u32::from(EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN) + 1;
        let mut offset = rng.range_u32(0, num);
        for _ in 0..num {
            let port = EPHEMERAL_PORT_MIN + offset as u16;
            if !self.port_in_use(ip, port) {
                return Ok(port);
            }
            offset = (offset + 1) % num;
        }
        Err(Error::AddressInUse)
    }

    /// Bind a socket; port 0 picks an ephemeral port.
    pub fn bind(&mut self, local: SocketAddr, queue: RecvQueue, rng: &mut Rng) -> Result<Handle> {
        let ip = local.ip();
        let port = match local.port() {
            0 => self.ephemeral_port(&ip, rng)?,
            p if self.port_in_use(&ip, p) => return Err(Error::AddressInUse),
            p => p,
        };
        let local = SocketAddr::new(ip, port);
        let sock = UdpSocket {
            local,
            remote: None,
            rx: queue,
            error: None,
            rx_waker: WakerSet::new(),
        };
        let h = self.sockets.insert(sock).map_err(|_| Error::WouldExceedLimit)?;
        self.by_local.insert((ip, port), h);
        *self.per_port.entry((ip.is_ipv4(), port)).or_insert(0) += 1;
        Ok(h)
    }

    pub fn get_mut(&mut self, h: Handle) -> Option<&mut UdpSocket> {
        self.sockets.get_mut(h)
    }

    pub fn get(&self, h: Handle) -> Option<&UdpSocket> {
        self.sockets.get(h)
    }

    /// Close a socket; its queued datagrams go back to the pool.
    pub fn close(&mut self, h: Handle, pool: &mut BufferPool) {
        if let Some(mut s) = self.sockets.remove(h) {
            self.by_local.remove(&(s.local.ip(), s.local.port()));
            let key = (s.local.is_ipv4(), s.local.port());
            if let Some(n) = self.per_port.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.per_port.remove(&key);
                }
            }
            s.rx.clear(pool);
            s.wake_rx();
        }
    }

    /// The socket a datagram to `dst:port` from `src` belongs to: an exact
    /// bind first, then the wildcard; a connected socket only accepts its peer.
    /// A socket bound to `::` also receives IPv4 datagrams when no IPv4
    /// socket has the port (dual stack, like Linux's bindv6only=0).
    pub fn lookup(&self, dst: &IpAddr, port: u16, src: &SocketAddr) -> Option<Handle> {
        let h = self
            .by_local
            .get(&(*dst, port))
            .or_else(|| self.by_local.get(&(unspecified_like(dst), port)))
            .or_else(|| {
                self.dual_stack
                    .then(|| self.by_local.get(&(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)))
                    .flatten()
            })?;
        let s = self.sockets.get(*h)?;
        match s.remote {
            Some(r) if r != *src => None,
            _ => Some(*h),
        }
    }

    /// The socket bound to exactly `local` (for ICMP errors about what it sent).
    pub fn lookup_sender(&self, local: &SocketAddr) -> Option<Handle> {
        self.by_local
            .get(&(local.ip(), local.port()))
            .or_else(|| self.by_local.get(&(unspecified_like(&local.ip()), local.port())))
            .or_else(|| {
                self.dual_stack
                    .then(|| self.by_local.get(&(IpAddr::V6(Ipv6Addr::UNSPECIFIED), local.port())))
                    .flatten()
            })
            .copied()
    }

    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }
}
