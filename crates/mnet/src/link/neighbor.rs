//! The neighbour cache: IP address → link-layer address, with the packets
//! waiting for a resolution. ARP (RFC 826, RFC 1122 §2.3.2) uses it with
//! `L = EthernetAddress`; NDP reuses it for IPv6.
//!
//! The cache is pure: it never sends anything. Each call takes `now` and
//! says what the engine should do — send a request, transmit released
//! packets, fail packets whose next hop never answered.
//!
//! Life of an entry:
//!
//! - **Incomplete**: created by [`NeighborCache::enqueue`] for a packet to
//!   an unknown neighbour ([`EnqueueOutcome::SendRequest`]: broadcast a
//!   request now). Requests are repeated every `retrans_timer` by
//!   [`NeighborCache::poll`]; after `max_probes` requests without an answer
//!   the entry is removed and every waiting packet fails.
//! - **Reachable**: an address is known ([`NeighborCache::fill`]).
//!   [`NeighborCache::lookup`] returns it.
//! - **Stale** (reachable for longer than `reachable_time`): still used, but
//!   the first lookup starts a revalidation (**Probe**): unicast requests to
//!   the known address, one per `retrans_timer`; an answer makes it
//!   Reachable again, `max_probes` unanswered ones remove it. An entry
//!   nobody looks up is never probed; it just waits to be reused or evicted.
//!
//! Bounds: `capacity` entries (when full, the least recently used entry is
//! evicted, reported so it can be counted), `max_pending_per_neighbor`
//! packets per neighbour and `max_pending_total` in all.
//!
//! Costs: lookups are O(1) (keyed hash map); the LRU order is an intrusive
//! doubly-linked list threaded through a slab, so touching and evicting are
//! O(1); retransmission timers sit in a `BTreeSet`, so [`NeighborCache::poll`]
//! and [`NeighborCache::poll_at`] are O(log n) per due timer — nothing scans
//! the table.
//!
//! ```
//! use mnet::link::neighbor::{EnqueueOutcome, FillOutcome, NeighborAction, NeighborCache};
//! use mnet::rand::Rng;
//! use mnet::wire::EthernetAddress;
//! use mnet::Instant;
//!
//! let mut cache: NeighborCache<EthernetAddress, &str> =
//!     NeighborCache::new(Default::default(), &mut Rng::from_seed([0; 32]));
//! let gw = "10.0.0.1".parse().unwrap();
//! let now = Instant::from_secs(1);
//! assert_eq!(cache.lookup(now, gw), None);
//! // No address yet: the packet waits, and a request goes out now.
//! assert!(matches!(cache.enqueue(now, gw, "ping"), EnqueueOutcome::SendRequest { .. }));
//! // The reply arrives: the waiting packet is released.
//! let mac = EthernetAddress([2, 0, 0, 0, 0, 1]);
//! match cache.fill(now, gw, mac, true) {
//!     FillOutcome::Resolved { packets } => assert_eq!(packets, ["ping"]),
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(cache.lookup(now, gw), Some(mac));
//! ```

use alloc::collections::{BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::net::IpAddr;

use crate::hash::{self, HashMap};
use crate::rand::Rng;
use crate::time::{Duration, Instant};

/// Default bound on entries.
pub const NEIGHBOR_CACHE_CAPACITY: usize = 1024;

/// Default life of a confirmed entry before it must be revalidated. RFC 1122
/// §2.3.2.1 (on timeouts and unicast polls): "Again, the timeout should be
/// on the order of a minute".
pub const REACHABLE_TIME: Duration = Duration::from_secs(60);

/// Default interval between two requests for the same neighbour. RFC 1122
/// §2.3.2.1: "A mechanism to prevent ARP flooding (repeatedly sending an ARP
/// Request for the same IP address, at a high rate) MUST be included. The
/// recommended maximum rate is 1 per second per destination."
pub const RETRANS_TIMER: Duration = Duration::from_secs(1);

/// Default number of unanswered requests after which a neighbour is given
/// up (Linux's `mcast_solicit` and `ucast_solicit` are both 3; RFC 4861's
/// MAX_MULTICAST_SOLICIT and MAX_UNICAST_SOLICIT are 3 as well).
pub const MAX_PROBES: u8 = 3;

/// Default bound on packets waiting for one neighbour. RFC 1122 §2.3.2.2
/// asks for at least one; a burst (a TCP window, the fragments of one
/// datagram) needs more.
pub const MAX_PENDING_PER_NEIGHBOR: usize = 16;

/// Default bound on packets waiting for all neighbours together.
pub const MAX_PENDING_TOTAL: usize = 256;

/// RFC 4861 §10: "DELAY_FIRST_PROBE_TIME 5 seconds". The default here is
/// zero (ARP probes a stale entry at its first use); the NDP cache sets it.
pub const DELAY_FIRST_PROBE_TIME: Duration = Duration::from_secs(5);

/// Bounds and timers of a [`NeighborCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborConfig {
    /// Most entries ([`NEIGHBOR_CACHE_CAPACITY`]; at least 1).
    pub capacity: usize,
    /// Life of a confirmed entry ([`REACHABLE_TIME`]).
    pub reachable_time: Duration,
    /// Interval between requests to one neighbour ([`RETRANS_TIMER`]).
    pub retrans_timer: Duration,
    /// Unanswered requests before giving up ([`MAX_PROBES`]).
    pub max_probes: u8,
    /// Packets waiting per neighbour ([`MAX_PENDING_PER_NEIGHBOR`]).
    pub max_pending_per_neighbor: usize,
    /// Packets waiting in all ([`MAX_PENDING_TOTAL`]).
    pub max_pending_total: usize,
    /// Time in DELAY before the first probe of a stale entry that was used
    /// (zero: probe at once, as ARP does; NDP uses [`DELAY_FIRST_PROBE_TIME`]).
    pub delay_first_probe_time: Duration,
}

impl Default for NeighborConfig {
    fn default() -> Self {
        NeighborConfig {
            capacity: NEIGHBOR_CACHE_CAPACITY,
            reachable_time: REACHABLE_TIME,
            retrans_timer: RETRANS_TIMER,
            max_probes: MAX_PROBES,
            max_pending_per_neighbor: MAX_PENDING_PER_NEIGHBOR,
            max_pending_total: MAX_PENDING_TOTAL,
            delay_first_probe_time: Duration::ZERO,
        }
    }
}

/// What a neighbour discovery message said about a neighbour (RFC 4861
/// §7.2.5, §7.2.3): whether it confirms reachability and may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NudUpdate {
    /// A Neighbor Advertisement (else: a solicitation, RA or redirect
    /// carrying a source link-layer address).
    pub advert: bool,
    /// The advertisement's S flag.
    pub solicited: bool,
    /// The advertisement's O flag.
    pub override_flag: bool,
}

/// What [`NeighborCache::poll`] asks the engine to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeighborAction<L, P> {
    /// Send a request for `ip`: broadcast (ARP) / multicast (NDP) when
    /// `unicast_to` is `None`, else to that address (revalidation).
    SendRequest { ip: IpAddr, unicast_to: Option<L> },
    /// `ip` did not answer `max_probes` requests: its entry is gone (upper
    /// layers may be told the host is unreachable).
    Unreachable { ip: IpAddr },
    /// A packet that waited for `ip` cannot be sent: the neighbour did not
    /// answer, or its entry was evicted or removed. Count the drop, answer
    /// "host unreachable" where appropriate, recycle the buffer.
    Failed { ip: IpAddr, packet: P },
}

/// What [`NeighborCache::enqueue`] did with a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum EnqueueOutcome<L, P> {
    /// A new Incomplete entry holds the packet: send a broadcast request for
    /// the address now (it counts as the first of `max_probes`). `evicted`
    /// is the entry that made room, if the cache was full (count it).
    SendRequest { evicted: Option<IpAddr> },
    /// Queued behind a request already in flight.
    Queued,
    /// Queued, but the neighbour's queue was full: its oldest packet was
    /// dropped and is handed back (count it, recycle it). RFC 1122 §2.3.2.2
    /// keeps the latest: "The link layer SHOULD save (rather than discard)
    /// at least one (the latest) packet of each set of packets destined to
    /// the same unresolved IP address".
    QueuedDroppedOldest(P),
    /// Not queued: `max_pending_total` packets wait already (or the
    /// per-neighbour bound is 0). The packet is handed back.
    Rejected(P),
    /// The address is known after all: send the packet to `lladdr` now.
    Resolved { lladdr: L, packet: P },
}

/// What [`NeighborCache::fill`] did with an address learned from the link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum FillOutcome<P> {
    /// No entry existed and `create` was false: nothing stored.
    Ignored,
    /// A new Reachable entry; `evicted` made room for it (count it).
    Created { evicted: Option<IpAddr> },
    /// An existing entry was confirmed; `changed` if the address differs
    /// from the one stored.
    Updated { changed: bool },
    /// An Incomplete entry was resolved: send these packets (oldest first)
    /// to the new address.
    Resolved { packets: Vec<P> },
}

/// An entry's state, for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NeighborState {
    /// Requests are being sent; no address yet.
    Incomplete,
    /// An address is known (stale once `expires_at` has passed).
    Reachable,
    /// RFC 4861 §7.3.2 STALE: "Less than ReachableTime milliseconds have
    /// elapsed since the last positive confirmation ... was received"
    /// is false; no traffic has asked for a probe yet.
    Stale,
    /// RFC 4861 §7.3.2 DELAY: used while stale; a probe follows unless
    /// reachability is confirmed within the delay.
    Delay,
    /// An address is known and being revalidated.
    Probe,
}

/// One entry, as [`NeighborCache::iter`] shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborView<L> {
    pub ip: IpAddr,
    pub lladdr: Option<L>,
    pub state: NeighborState,
    /// Packets waiting for the address.
    pub pending: usize,
    /// When a known address becomes stale (needs revalidation on use).
    pub expires_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State<L> {
    Incomplete,
    Reachable(L),
    Stale(L),
    Delay(L),
    Probe(L),
}

impl<L: Copy> State<L> {
    fn lladdr(&self) -> Option<L> {
        match *self {
            State::Incomplete => None,
            State::Reachable(l) | State::Stale(l) | State::Delay(l) | State::Probe(l) => Some(l),
        }
    }
}

/// "No slot" in the LRU links.
const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Entry<L, P> {
    ip: IpAddr,
    state: State<L>,
    /// Requests sent in the current Incomplete or Probe episode.
    probes: u8,
    /// When the address was last confirmed.
    confirmed: Instant,
    /// Next retransmission (or give-up) time, mirrored in `timers`.
    timer: Option<Instant>,
    pending: VecDeque<P>,
    /// Neighbour towards the most recently used end.
    newer: u32,
    /// Neighbour towards the least recently used end.
    older: u32,
}

/// The neighbour cache. `L` is the link-layer address type, `P` the type
/// of a packet waiting for resolution (the engine's choice).
#[derive(Debug)]
pub struct NeighborCache<L, P> {
    config: NeighborConfig,
    map: HashMap<IpAddr, u32>,
    slots: Vec<Option<Entry<L, P>>>,
    free: Vec<u32>,
    /// Most recently used slot.
    mru: u32,
    /// Least recently used slot (the next to evict).
    lru: u32,
    timers: BTreeSet<(Instant, u32)>,
    /// Packets held: in entries plus in `failed`.
    pending_total: usize,
    /// Packets of evicted/removed entries, handed out by the next poll.
    failed: VecDeque<(IpAddr, P)>,
    failed_at: Instant,
}

impl<L: Copy + PartialEq, P> NeighborCache<L, P> {
    pub fn new(config: NeighborConfig, rng: &mut Rng) -> NeighborCache<L, P> {
        let capacity = config.capacity.clamp(1, (NIL - 1) as usize);
        let config = NeighborConfig { capacity, ..config };
        NeighborCache {
            config,
            map: hash::with_capacity(rng, capacity.min(NEIGHBOR_CACHE_CAPACITY)),
            slots: Vec::new(),
            free: Vec::new(),
            mru: NIL,
            lru: NIL,
            timers: BTreeSet::new(),
            pending_total: 0,
            failed: VecDeque::new(),
            failed_at: Instant::ZERO,
        }
    }

    pub fn config(&self) -> &NeighborConfig {
        &self.config
    }

    /// Change the timers (RFC 4861 §6.3.4: routers advertise ReachableTime
    /// and RetransTimer); running timers keep their deadlines.
    pub fn set_timers(&mut self, reachable_time: Duration, retrans_timer: Duration) {
        self.config.reachable_time = reachable_time;
        self.config.retrans_timer = retrans_timer;
    }

    /// Entries in the cache.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Packets waiting (for resolution, or to be failed by the next poll).
    pub fn pending_total(&self) -> usize {
        self.pending_total
    }

    // ----- slab, LRU list, timers -----

    fn entry(&self, idx: u32) -> Option<&Entry<L, P>> {
        self.slots.get(idx as usize).and_then(Option::as_ref)
    }

    fn entry_mut(&mut self, idx: u32) -> Option<&mut Entry<L, P>> {
        self.slots.get_mut(idx as usize).and_then(Option::as_mut)
    }

    fn unlink(&mut self, idx: u32) {
        let Some(e) = self.entry(idx) else { return };
        let (newer, older) = (e.newer, e.older);
        match self.entry_mut(newer) {
            Some(n) => n.older = older,
            None => self.mru = older,
        }
        match self.entry_mut(older) {
            Some(o) => o.newer = newer,
            None => self.lru = newer,
        }
    }

    fn push_mru(&mut self, idx: u32) {
        let old_mru = self.mru;
        let Some(e) = self.entry_mut(idx) else { return };
        e.newer = NIL;
        e.older = old_mru;
        match self.entry_mut(old_mru) {
            Some(m) => m.newer = idx,
            None => self.lru = idx,
        }
        self.mru = idx;
    }

    /// Mark `idx` as the most recently used.
    fn touch(&mut self, idx: u32) {
        if self.mru != idx {
            self.unlink(idx);
            self.push_mru(idx);
        }
    }

    fn set_timer(&mut self, idx: u32, at: Option<Instant>) {
        let Some(e) = self.entry_mut(idx) else { return };
        let old = core::mem::replace(&mut e.timer, at);
        if let Some(old) = old {
            self.timers.remove(&(old, idx));
        }
        if let Some(at) = at {
            self.timers.insert((at, idx));
        }
    }

    /// Take `idx` out of every structure. Its pending packets stay counted
    /// in `pending_total`: the caller fails or defers them.
    fn remove_idx(&mut self, idx: u32) -> Option<Entry<L, P>> {
        self.set_timer(idx, None);
        self.unlink(idx);
        let e = self.slots.get_mut(idx as usize)?.take()?;
        self.free.push(idx);
        self.map.remove(&e.ip);
        Some(e)
    }

    /// Hand `pending` to the next poll as failures.
    fn defer_failed(&mut self, at: Instant, ip: IpAddr, pending: VecDeque<P>) {
        if pending.is_empty() {
            return;
        }
        if self.failed.is_empty() {
            self.failed_at = at;
        }
        self.failed.extend(pending.into_iter().map(|p| (ip, p)));
    }

    /// Whether an entry nobody asked for (learned from a request or a
    /// solicitation) must not be made: the cache is full and its least
    /// recently used entry is still resolving. Making it would evict that
    /// resolution and fail its packets, so a flood of requests from made-up
    /// sources could make every resolution fail.
    fn unasked_entry_would_evict_a_resolution(&self) -> bool {
        self.map.len() >= self.config.capacity && self.entry(self.lru).is_some_and(|e| e.state == State::Incomplete)
    }

    /// A new entry, most recently used, evicting the least recently used
    /// one when full.
    fn insert_entry(&mut self, now: Instant, ip: IpAddr, state: State<L>) -> (u32, Option<IpAddr>) {
        let mut evicted = None;
        if self.map.len() >= self.config.capacity {
            let victim = self.lru;
            if let Some(e) = self.remove_idx(victim) {
                evicted = Some(e.ip);
                self.defer_failed(now, e.ip, e.pending);
            }
        }
        let entry = Entry {
            ip,
            state,
            probes: 0,
            confirmed: now,
            timer: None,
            pending: VecDeque::new(),
            newer: NIL,
            older: NIL,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                if let Some(slot) = self.slots.get_mut(i as usize) {
                    *slot = Some(entry);
                }
                i
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(ip, idx);
        self.push_mru(idx);
        (idx, evicted)
    }

    // ----- the engine's interface -----

    /// The link address for `ip`, if one is usable: reachable, or stale
    /// (then this use starts a revalidation: [`Self::poll_at`] becomes `now`
    /// and the next [`Self::poll`] sends a unicast request). `None` for an
    /// unknown or Incomplete neighbour: call [`Self::enqueue`].
    pub fn lookup(&mut self, now: Instant, ip: IpAddr) -> Option<L> {
        let idx = *self.map.get(&ip)?;
        self.touch(idx);
        let reachable_time = self.config.reachable_time;
        let delay = self.config.delay_first_probe_time;
        let e = self.entry_mut(idx)?;
        match e.state {
            State::Incomplete => None,
            State::Probe(l) | State::Delay(l) => Some(l),
            State::Reachable(_) | State::Stale(_) => {
                let l = e.state.lladdr()?;
                let stale = matches!(e.state, State::Stale(_));
                if stale || now.saturating_duration_since(e.confirmed) >= reachable_time {
                    if delay > Duration::ZERO {
                        // RFC 4861 §7.3.3: "The first time a node sends a
                        // packet to a neighbor whose entry is STALE, the
                        // sender changes the state to DELAY and sets a timer
                        // to expire in DELAY_FIRST_PROBE_TIME seconds."
                        e.state = State::Delay(l);
                        e.probes = 0;
                        self.set_timer(idx, Some(now + delay));
                        return Some(l);
                    }
                    // RFC 1122 §2.3.2.1, IMPLEMENTATION (2): "Unicast Poll --
                    // Actively poll the remote host by periodically sending
                    // a point-to-point ARP Request to it, and delete the
                    // entry if no ARP Reply is received from N successive
                    // polls." We poll only entries in use, and keep using
                    // the address meanwhile.
                    e.state = State::Probe(l);
                    e.probes = 0;
                    self.set_timer(idx, Some(now));
                }
                Some(l)
            }
        }
    }

    /// Hold `packet` until `ip` is resolved. See [`EnqueueOutcome`].
    pub fn enqueue(&mut self, now: Instant, ip: IpAddr, packet: P) -> EnqueueOutcome<L, P> {
        let per_neighbor = self.config.max_pending_per_neighbor;
        let total_full = self.pending_total >= self.config.max_pending_total;
        if let Some(&idx) = self.map.get(&ip) {
            let incomplete = self.entry(idx).is_some_and(|e| e.state == State::Incomplete);
            if !incomplete {
                return match self.lookup(now, ip) {
                    Some(lladdr) => EnqueueOutcome::Resolved { lladdr, packet },
                    None => EnqueueOutcome::Rejected(packet),
                };
            }
            self.touch(idx);
            let Some(e) = self.entry_mut(idx) else {
                return EnqueueOutcome::Rejected(packet);
            };
            if per_neighbor == 0 {
                return EnqueueOutcome::Rejected(packet);
            }
            if e.pending.len() >= per_neighbor {
                // Keep the latest (RFC 1122 §2.3.2.2): the total is unchanged.
                let oldest = e.pending.pop_front();
                e.pending.push_back(packet);
                return match oldest {
                    Some(old) => EnqueueOutcome::QueuedDroppedOldest(old),
                    None => EnqueueOutcome::Queued,
                };
            }
            if total_full {
                return EnqueueOutcome::Rejected(packet);
            }
            e.pending.push_back(packet);
            self.pending_total += 1;
            return EnqueueOutcome::Queued;
        }
        if per_neighbor == 0 || total_full {
            return EnqueueOutcome::Rejected(packet);
        }
        let (idx, evicted) = self.insert_entry(now, ip, State::Incomplete);
        let retrans = self.config.retrans_timer;
        if let Some(e) = self.entry_mut(idx) {
            // The caller sends the first request now.
            e.probes = 1;
            e.pending.push_back(packet);
            self.pending_total += 1;
        }
        self.set_timer(idx, Some(now + retrans));
        EnqueueOutcome::SendRequest { evicted }
    }

    /// Record that `ip` is at `lladdr`, learned from a reply, or from a
    /// request or announcement on the link. `create` says whether a missing
    /// entry may be made; an existing one (Incomplete included) is always
    /// updated. RFC 826, packet reception: "If the pair <protocol type,
    /// sender protocol address> is already in my translation table, update
    /// the sender hardware address field of the entry with the new
    /// information in the packet and set Merge_flag to true." ... "?Am I the
    /// target protocol address? Yes: If Merge_flag is false, add the triplet
    /// <protocol type, sender protocol address, sender hardware address> to
    /// the translation table." — so the engine passes
    /// `create = (target is one of our addresses)`. Like
    /// [`Self::update_nud`], an entry is not created when that would evict
    /// one still resolving (`Ignored`; the caller answers the request from
    /// the packet itself).
    ///
    /// The entry becomes Reachable and its life restarts. RFC 1122 §2.3.2.1
    /// (1): "this timeout should be restarted when the cache entry is
    /// "refreshed" (by observing the source fields, regardless of target
    /// address, of an ARP broadcast from the system in question)."
    pub fn fill(&mut self, now: Instant, ip: IpAddr, lladdr: L, create: bool) -> FillOutcome<P> {
        if let Some(&idx) = self.map.get(&ip) {
            self.touch(idx);
            self.set_timer(idx, None);
            let Some(e) = self.entry_mut(idx) else {
                return FillOutcome::Ignored;
            };
            let before = core::mem::replace(&mut e.state, State::Reachable(lladdr));
            e.confirmed = now;
            e.probes = 0;
            match before {
                State::Incomplete => {
                    // RFC 1122 §2.3.2.2: "... and transmit the saved packet
                    // when the address has been resolved."
                    let packets: Vec<P> = core::mem::take(&mut e.pending).into();
                    self.pending_total -= packets.len();
                    FillOutcome::Resolved { packets }
                }
                State::Reachable(old) | State::Stale(old) | State::Delay(old) | State::Probe(old) => {
                    FillOutcome::Updated { changed: old != lladdr }
                }
            }
        } else if create && !self.unasked_entry_would_evict_a_resolution() {
            let (_, evicted) = self.insert_entry(now, ip, State::Reachable(lladdr));
            FillOutcome::Created { evicted }
        } else {
            FillOutcome::Ignored
        }
    }

    /// RFC 4861 neighbour-discovery input about `ip` (§7.2.3 for
    /// solicitations and router messages, §7.2.5 for advertisements).
    /// `lladdr` is the link-layer address option, if any. Creates entries
    /// only for solicitations/router messages with an address (STALE), as
    /// §7.2.5 says of advertisements: "If no entry exists, the advertisement
    /// SHOULD be silently discarded."
    pub fn update_nud(&mut self, now: Instant, ip: IpAddr, lladdr: Option<L>, how: NudUpdate) -> FillOutcome<P> {
        let Some(&idx) = self.map.get(&ip) else {
            return match (lladdr, how.advert) {
                (Some(l), false) => {
                    // §7.2.3: "If an entry does not already exist, the node
                    // SHOULD create a new one and set its reachability state
                    // to STALE". A SHOULD: an entry nobody asked for never
                    // pushes out one that has packets waiting for its
                    // resolution (else a flood of solicitations from made-up
                    // sources makes every resolution fail); it is then not
                    // made.
                    if self.unasked_entry_would_evict_a_resolution() {
                        return FillOutcome::Ignored;
                    }
                    let (_, evicted) = self.insert_entry(now, ip, State::Stale(l));
                    FillOutcome::Created { evicted }
                }
                _ => FillOutcome::Ignored,
            };
        };
        self.touch(idx);
        let Some(e) = self.entry_mut(idx) else {
            return FillOutcome::Ignored;
        };
        let old = e.state;
        if let State::Incomplete = old {
            let Some(l) = lladdr else { return FillOutcome::Ignored };
            // §7.2.5: "If the advertisement's Solicited flag is set, the
            // state of the entry is set to REACHABLE; otherwise, it is set
            // to STALE." (§7.2.3 for solicitations: STALE.)
            e.state = if how.advert && how.solicited {
                State::Reachable(l)
            } else {
                State::Stale(l)
            };
            e.confirmed = now;
            e.probes = 0;
            let packets: Vec<P> = core::mem::take(&mut e.pending).into();
            self.pending_total -= packets.len();
            self.set_timer(idx, None);
            return FillOutcome::Resolved { packets };
        }
        let Some(cur) = old.lladdr() else { return FillOutcome::Ignored };
        let changed = lladdr.is_some_and(|l| l != cur);
        if !how.advert {
            // §7.2.3: "If a cache entry already exists and its cached
            // link-layer address differs from the one in the received
            // Source Link-Layer option, the cached address should be
            // replaced by the received address, and the entry's
            // reachability state MUST be set to STALE."
            if let (true, Some(l)) = (changed, lladdr) {
                e.state = State::Stale(l);
                self.set_timer(idx, None);
            }
            return FillOutcome::Updated { changed };
        }
        // §7.2.5: "If the Override flag is clear and the supplied link-layer
        // address differs from that in the cache, then ... If the state of
        // the entry is REACHABLE, set it to STALE, but do not update the
        // entry in any other way. Otherwise, the received advertisement
        // should be ignored".
        if !how.override_flag && changed {
            if let State::Reachable(l) = old {
                e.state = State::Stale(l);
            }
            return FillOutcome::Updated { changed: false };
        }
        // "If the Override flag is set, or the supplied link-layer address
        // is the same as that in the cache, or no Target Link-Layer Address
        // option was supplied, the received advertisement MUST update the
        // Neighbor Cache entry as follows: ... If the Solicited flag is
        // set, the state of the entry MUST be set to REACHABLE. If the
        // Solicited flag is zero and the link-layer address was updated
        // with a different address, the state MUST be set to STALE.
        // Otherwise, the entry's state remains unchanged."
        let l = lladdr.unwrap_or(cur);
        if how.solicited {
            e.state = State::Reachable(l);
            e.confirmed = now;
            e.probes = 0;
            self.set_timer(idx, None);
        } else if changed {
            e.state = State::Stale(l);
            self.set_timer(idx, None);
        }
        FillOutcome::Updated { changed }
    }

    /// RFC 4861 §7.3.1: "a neighbor is considered reachable if the node has
    /// recently received a confirmation that packets sent recently to the
    /// neighbor were received by its IP layer. Positive confirmation can be
    /// gathered in two ways: hints from upper-layer protocols that indicate
    /// a connection is making "forward progress", or receipt of a Neighbor
    /// Advertisement message that is a response to a Neighbor Solicitation
    /// message." This is the first way. Returns whether an entry changed.
    pub fn confirm(&mut self, now: Instant, ip: IpAddr) -> bool {
        let Some(&idx) = self.map.get(&ip) else { return false };
        let Some(e) = self.entry_mut(idx) else { return false };
        let Some(l) = e.state.lladdr() else { return false };
        e.state = State::Reachable(l);
        e.confirmed = now;
        e.probes = 0;
        self.set_timer(idx, None);
        true
    }

    /// Run due timers: retransmit requests, give up on silent neighbours,
    /// and hand out packets of evicted or removed entries.
    pub fn poll(&mut self, now: Instant, actions: &mut impl FnMut(NeighborAction<L, P>)) {
        while let Some((ip, packet)) = self.failed.pop_front() {
            self.pending_total -= 1;
            actions(NeighborAction::Failed { ip, packet });
        }
        let retrans = self.config.retrans_timer;
        let max_probes = self.config.max_probes;
        while let Some(&(at, idx)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(e) = self.entry_mut(idx) else { continue };
            e.timer = None;
            let ip = e.ip;
            let unicast_to = match e.state {
                State::Reachable(_) | State::Stale(_) => continue,
                State::Incomplete => None,
                State::Probe(l) => Some(l),
                State::Delay(l) => {
                    // RFC 4861 §7.3.3: "If the entry is still in the DELAY
                    // state when the timer expires, the entry's state
                    // changes to PROBE."
                    e.state = State::Probe(l);
                    e.probes = 0;
                    Some(l)
                }
            };
            if e.probes < max_probes {
                e.probes += 1;
                self.set_timer(idx, Some(now + retrans));
                actions(NeighborAction::SendRequest { ip, unicast_to });
                continue;
            }
            // `max_probes` requests went unanswered for `retrans_timer` each.
            let Some(e) = self.remove_idx(idx) else { continue };
            actions(NeighborAction::Unreachable { ip });
            for packet in e.pending {
                self.pending_total -= 1;
                actions(NeighborAction::Failed { ip, packet });
            }
        }
    }

    /// When [`Self::poll`] next has work, or `None`.
    pub fn poll_at(&self) -> Option<Instant> {
        let timer = self.timers.first().map(|&(at, _)| at);
        if self.failed.is_empty() {
            timer
        } else {
            crate::time::earliest(timer, Some(self.failed_at))
        }
    }

    /// Remove `ip`'s entry. Packets waiting for it fail at the next poll
    /// (which is due at once). Returns whether there was an entry.
    pub fn remove(&mut self, ip: IpAddr) -> bool {
        let Some(&idx) = self.map.get(&ip) else {
            return false;
        };
        match self.remove_idx(idx) {
            Some(e) => {
                self.defer_failed(Instant::ZERO, ip, e.pending);
                true
            }
            None => false,
        }
    }

    /// The entry for `ip`, for display and tests.
    pub fn get(&self, ip: IpAddr) -> Option<NeighborView<L>> {
        let idx = *self.map.get(&ip)?;
        self.entry(idx).map(|e| self.view(e))
    }

    fn view(&self, e: &Entry<L, P>) -> NeighborView<L> {
        let (lladdr, state) = match e.state {
            State::Incomplete => (None, NeighborState::Incomplete),
            State::Reachable(l) => (Some(l), NeighborState::Reachable),
            State::Stale(l) => (Some(l), NeighborState::Stale),
            State::Delay(l) => (Some(l), NeighborState::Delay),
            State::Probe(l) => (Some(l), NeighborState::Probe),
        };
        NeighborView {
            ip: e.ip,
            lladdr,
            state,
            pending: e.pending.len(),
            expires_at: lladdr.map(|_| e.confirmed + self.config.reachable_time),
        }
    }

    /// Every entry, most recently used first.
    pub fn iter(&self) -> impl Iterator<Item = NeighborView<L>> + '_ {
        let mut idx = self.mru;
        core::iter::from_fn(move || {
            let e = self.entry(idx)?;
            idx = e.older;
            Some(self.view(e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::EthernetAddress;
    use alloc::vec;
    use core::net::{Ipv4Addr, Ipv6Addr};

    type Cache = NeighborCache<EthernetAddress, u32>;

    fn cache(config: NeighborConfig) -> Cache {
        NeighborCache::new(config, &mut Rng::from_seed([7; 32]))
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from_bits(0x0A00_0000 + n))
    }

    fn mac(n: u8) -> EthernetAddress {
        EthernetAddress([2, 0, 0, 0, 0, n])
    }

    fn secs(s: u64) -> Instant {
        Instant::from_secs(s)
    }

    fn poll(c: &mut Cache, now: Instant) -> Vec<NeighborAction<EthernetAddress, u32>> {
        let mut out = Vec::new();
        c.poll(now, &mut |a| out.push(a));
        out
    }

    /// The cache's internal structures agree with each other.
    fn check_invariants(c: &Cache) {
        assert!(c.len() <= c.config.capacity);
        assert_eq!(c.iter().count(), c.len());
        assert_eq!(c.slots.iter().flatten().count(), c.len());
        assert_eq!(c.slots.len(), c.len() + c.free.len());
        let timers = c.slots.iter().flatten().filter(|e| e.timer.is_some()).count();
        assert_eq!(timers, c.timers.len());
        let queued: usize = c.slots.iter().flatten().map(|e| e.pending.len()).sum();
        assert_eq!(queued + c.failed.len(), c.pending_total);
        assert!(c.pending_total <= c.config.max_pending_total);
    }

    #[test]
    fn resolution_success() {
        let mut c = cache(NeighborConfig::default());
        let t = secs(10);
        assert_eq!(c.lookup(t, ip(1)), None);
        assert_eq!(c.enqueue(t, ip(1), 100), EnqueueOutcome::SendRequest { evicted: None });
        // Further packets queue behind the request in flight: no new request.
        assert_eq!(c.enqueue(t, ip(1), 101), EnqueueOutcome::Queued);
        assert!(poll(&mut c, t).is_empty());
        assert_eq!(c.lookup(t, ip(1)), None);
        assert_eq!(c.get(ip(1)).unwrap().state, NeighborState::Incomplete);
        assert_eq!(c.pending_total(), 2);
        let t2 = t + Duration::from_millis(300);
        assert_eq!(c.fill(t2, ip(1), mac(1), false), FillOutcome::Resolved { packets: vec![100, 101] });
        assert_eq!(c.pending_total(), 0);
        assert_eq!(c.lookup(t2, ip(1)), Some(mac(1)));
        assert_eq!(c.poll_at(), None);
        assert_eq!(
            c.enqueue(t2, ip(1), 102),
            EnqueueOutcome::Resolved {
                lladdr: mac(1),
                packet: 102
            }
        );
        assert_eq!(c.get(ip(1)).unwrap().expires_at, Some(t2 + REACHABLE_TIME));
        check_invariants(&c);
    }

    #[test]
    fn failure_after_exactly_three_requests_one_second_apart() {
        let mut c = cache(NeighborConfig::default());
        let t0 = secs(100);
        // Request 1 goes out with the first packet.
        assert!(matches!(c.enqueue(t0, ip(9), 1), EnqueueOutcome::SendRequest { .. }));
        assert_eq!(c.enqueue(t0, ip(9), 2), EnqueueOutcome::Queued);
        let mut requests = vec![t0];
        let mut failed = Vec::new();
        let mut unreachable = None;
        let mut t = t0;
        while t <= t0 + Duration::from_secs(10) {
            c.poll(t, &mut |a| match a {
                NeighborAction::SendRequest { ip: i, unicast_to: None } if i == ip(9) => requests.push(t),
                NeighborAction::Unreachable { ip: i } if i == ip(9) => unreachable = Some(t),
                NeighborAction::Failed { ip: i, packet } if i == ip(9) => failed.push((t, packet)),
                other => panic!("{other:?}"),
            });
            t += Duration::from_millis(100);
        }
        assert_eq!(requests, vec![t0, t0 + Duration::from_secs(1), t0 + Duration::from_secs(2)]);
        let t_fail = t0 + Duration::from_secs(3);
        assert_eq!(unreachable, Some(t_fail));
        assert_eq!(failed, vec![(t_fail, 1), (t_fail, 2)]);
        assert!(c.is_empty());
        assert_eq!(c.pending_total(), 0);
        assert_eq!(c.poll_at(), None);
        // A later packet starts over with a new request.
        assert!(matches!(c.enqueue(t, ip(9), 3), EnqueueOutcome::SendRequest { .. }));
        check_invariants(&c);
    }

    #[test]
    fn poll_at_follows_the_schedule() {
        let mut c = cache(NeighborConfig::default());
        let t0 = secs(1);
        let _ = c.enqueue(t0, ip(1), 0);
        assert_eq!(c.poll_at(), Some(t0 + RETRANS_TIMER));
        assert!(poll(&mut c, t0 + Duration::from_millis(999)).is_empty());
        assert_eq!(
            poll(&mut c, t0 + RETRANS_TIMER),
            vec![NeighborAction::SendRequest {
                ip: ip(1),
                unicast_to: None
            }]
        );
        assert_eq!(c.poll_at(), Some(t0 + 2 * RETRANS_TIMER));
    }

    #[test]
    fn lru_eviction_order() {
        let mut c = cache(NeighborConfig {
            capacity: 3,
            ..NeighborConfig::default()
        });
        let t = secs(1);
        for n in 1..=3 {
            assert_eq!(c.fill(t, ip(n), mac(n as u8), true), FillOutcome::Created { evicted: None });
        }
        // Use 1, so 2 is now the least recently used.
        assert_eq!(c.lookup(t, ip(1)), Some(mac(1)));
        assert_eq!(c.fill(t, ip(4), mac(4), true), FillOutcome::Created { evicted: Some(ip(2)) });
        assert_eq!(c.fill(t, ip(5), mac(5), true), FillOutcome::Created { evicted: Some(ip(3)) });
        // Refreshing 1 by a fill counts as use too.
        assert_eq!(c.fill(t, ip(1), mac(1), false), FillOutcome::Updated { changed: false });
        assert_eq!(c.enqueue(t, ip(6), 60), EnqueueOutcome::SendRequest { evicted: Some(ip(4)) });
        let order: Vec<IpAddr> = c.iter().map(|v| v.ip).collect();
        assert_eq!(order, vec![ip(6), ip(1), ip(5)]);
        assert_eq!(c.lookup(t, ip(2)), None);
        check_invariants(&c);
    }

    #[test]
    fn evicting_an_incomplete_entry_fails_its_packets() {
        let mut c = cache(NeighborConfig {
            capacity: 1,
            ..NeighborConfig::default()
        });
        let t = secs(1);
        let _ = c.enqueue(t, ip(1), 10);
        let _ = c.enqueue(t, ip(1), 11);
        // A resolution of our own may take the place of an older one.
        assert_eq!(c.enqueue(t, ip(2), 20), EnqueueOutcome::SendRequest { evicted: Some(ip(1)) });
        assert_eq!(c.pending_total(), 3);
        assert_eq!(c.poll_at(), Some(t));
        assert_eq!(
            poll(&mut c, t),
            vec![
                NeighborAction::Failed { ip: ip(1), packet: 10 },
                NeighborAction::Failed { ip: ip(1), packet: 11 },
            ]
        );
        assert_eq!(c.pending_total(), 1);
        check_invariants(&c);
    }

    /// ARP requests for our address from made-up senders (RFC 826 would
    /// add each sender) never evict an entry still resolving; once the
    /// resolving entry is gone from the LRU end they are created again.
    #[test]
    fn arp_requests_never_evict_a_resolution_in_progress() {
        let mut c = cache(NeighborConfig {
            capacity: 2,
            ..NeighborConfig::default()
        });
        let t = secs(1);
        let _ = c.enqueue(t, ip(1), 10);
        assert_eq!(c.fill(t, ip(2), mac(2), true), FillOutcome::Created { evicted: None });
        for n in 3..50 {
            assert_eq!(c.fill(t, ip(n), mac(n as u8), true), FillOutcome::Ignored);
        }
        assert_eq!(c.pending_total(), 1);
        assert_eq!(c.fill(t, ip(1), mac(1), false), FillOutcome::Resolved { packets: vec![10] });
        assert_eq!(c.fill(t, ip(3), mac(3), true), FillOutcome::Created { evicted: Some(ip(2)) });
        check_invariants(&c);
    }

    /// NDP input about a neighbour we did not ask about (a solicitation
    /// from a new source) never evicts an entry still resolving: its
    /// packets survive a flood of solicitations from made-up sources.
    #[test]
    fn unsolicited_entries_never_evict_a_resolution_in_progress() {
        let mut c = cache(NeighborConfig {
            capacity: 3,
            ..NeighborConfig::default()
        });
        let t = secs(1);
        let ns = NudUpdate {
            advert: false,
            solicited: false,
            override_flag: false,
        };
        let _ = c.enqueue(t, ip(1), 10);
        for n in 2..=3 {
            assert_eq!(
                c.update_nud(t, ip(n), Some(mac(n as u8)), ns),
                FillOutcome::Created { evicted: None }
            );
        }
        // Full, and the least recently used entry is resolving: refused.
        for n in 4..100 {
            assert_eq!(c.update_nud(t, ip(n), Some(mac(n as u8)), ns), FillOutcome::Ignored);
        }
        assert_eq!(c.get(ip(1)).map(|v| v.state), Some(NeighborState::Incomplete));
        assert_eq!(c.pending_total(), 1);
        // The answer still releases the packet.
        let na = NudUpdate {
            advert: true,
            solicited: true,
            override_flag: true,
        };
        assert_eq!(
            c.update_nud(t, ip(1), Some(mac(1)), na),
            FillOutcome::Resolved { packets: vec![10] }
        );
        // Resolved entries are fair game for LRU eviction again.
        assert!(matches!(
            c.update_nud(t, ip(4), Some(mac(4)), ns),
            FillOutcome::Created { evicted: Some(_) }
        ));
        check_invariants(&c);
    }

    #[test]
    fn pending_bounds() {
        let mut c = cache(NeighborConfig {
            max_pending_per_neighbor: 4,
            max_pending_total: 6,
            ..NeighborConfig::default()
        });
        let t = secs(1);
        assert!(matches!(c.enqueue(t, ip(1), 0), EnqueueOutcome::SendRequest { .. }));
        for p in 1..4 {
            assert_eq!(c.enqueue(t, ip(1), p), EnqueueOutcome::Queued);
        }
        // Per neighbour: the oldest goes, the latest stays.
        assert_eq!(c.enqueue(t, ip(1), 4), EnqueueOutcome::QueuedDroppedOldest(0));
        assert_eq!(c.pending_total(), 4);
        assert!(matches!(c.enqueue(t, ip(2), 20), EnqueueOutcome::SendRequest { .. }));
        assert_eq!(c.enqueue(t, ip(2), 21), EnqueueOutcome::Queued);
        // In total: 6 wait, the next is handed back and no entry is made.
        assert_eq!(c.enqueue(t, ip(2), 22), EnqueueOutcome::Rejected(22));
        assert_eq!(c.enqueue(t, ip(3), 30), EnqueueOutcome::Rejected(30));
        assert_eq!(c.len(), 2);
        // A full neighbour still rotates at the total bound.
        assert_eq!(c.enqueue(t, ip(1), 5), EnqueueOutcome::QueuedDroppedOldest(1));
        check_invariants(&c);
        assert_eq!(c.fill(t, ip(1), mac(1), true), FillOutcome::Resolved { packets: vec![2, 3, 4, 5] });
        assert_eq!(c.pending_total(), 2);
        assert!(matches!(c.enqueue(t, ip(3), 30), EnqueueOutcome::SendRequest { .. }));
        check_invariants(&c);
    }

    #[test]
    fn stale_entry_is_revalidated_by_unicast() {
        let mut c = cache(NeighborConfig::default());
        let t0 = secs(1);
        assert_eq!(c.fill(t0, ip(1), mac(1), true), FillOutcome::Created { evicted: None });
        let fresh = t0 + REACHABLE_TIME - Duration::from_micros(1);
        assert_eq!(c.lookup(fresh, ip(1)), Some(mac(1)));
        assert_eq!(c.poll_at(), None);
        // Stale: still used, and a unicast request is due now.
        let stale = t0 + REACHABLE_TIME;
        assert_eq!(c.lookup(stale, ip(1)), Some(mac(1)));
        assert_eq!(c.get(ip(1)).unwrap().state, NeighborState::Probe);
        assert_eq!(c.poll_at(), Some(stale));
        assert_eq!(
            poll(&mut c, stale),
            vec![NeighborAction::SendRequest {
                ip: ip(1),
                unicast_to: Some(mac(1))
            }]
        );
        // Lookups meanwhile do not add requests.
        for ms in [1, 200, 999] {
            assert_eq!(c.lookup(stale + Duration::from_millis(ms), ip(1)), Some(mac(1)));
        }
        assert!(poll(&mut c, stale + Duration::from_millis(999)).is_empty());
        // The answer arrives: reachable again, no more requests.
        let t_ans = stale + Duration::from_millis(1500);
        assert_eq!(
            poll(&mut c, t_ans),
            vec![NeighborAction::SendRequest {
                ip: ip(1),
                unicast_to: Some(mac(1))
            }]
        );
        assert_eq!(c.fill(t_ans, ip(1), mac(1), false), FillOutcome::Updated { changed: false });
        assert_eq!(c.get(ip(1)).unwrap().state, NeighborState::Reachable);
        assert_eq!(c.poll_at(), None);
        assert_eq!(c.lookup(t_ans + Duration::from_secs(5), ip(1)), Some(mac(1)));
        assert_eq!(c.poll_at(), None);
        check_invariants(&c);
    }

    #[test]
    fn unanswered_revalidation_removes_the_entry() {
        let mut c = cache(NeighborConfig::default());
        let t0 = secs(1);
        let _ = c.fill(t0, ip(1), mac(1), true);
        let stale = t0 + REACHABLE_TIME;
        assert_eq!(c.lookup(stale, ip(1)), Some(mac(1)));
        let mut sent = 0;
        let mut gone = None;
        for s in 0..10 {
            let t = stale + Duration::from_secs(s);
            for a in poll(&mut c, t) {
                match a {
                    NeighborAction::SendRequest { unicast_to: Some(m), .. } => {
                        assert_eq!(m, mac(1));
                        sent += 1;
                    }
                    NeighborAction::Unreachable { ip: i } => gone = Some((i, s)),
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(sent, MAX_PROBES);
        assert_eq!(gone, Some((ip(1), 3)));
        assert_eq!(c.lookup(stale + Duration::from_secs(10), ip(1)), None);
        check_invariants(&c);
    }

    #[test]
    fn fill_rules() {
        let mut c = cache(NeighborConfig::default());
        let t = secs(1);
        // RFC 826: no entry and not for us: nothing stored.
        assert_eq!(c.fill(t, ip(1), mac(1), false), FillOutcome::Ignored);
        assert!(c.is_empty());
        assert_eq!(c.fill(t, ip(1), mac(1), true), FillOutcome::Created { evicted: None });
        // A new address replaces the old one.
        assert_eq!(c.fill(t, ip(1), mac(2), false), FillOutcome::Updated { changed: true });
        assert_eq!(c.lookup(t, ip(1)), Some(mac(2)));
        // IPv6 keys live alongside.
        let v6 = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
        assert_eq!(c.fill(t, v6, mac(6), true), FillOutcome::Created { evicted: None });
        assert_eq!(c.lookup(t, v6), Some(mac(6)));
        assert!(c.remove(v6));
        assert!(!c.remove(v6));
        assert_eq!(c.len(), 1);
        check_invariants(&c);
    }

    #[test]
    fn remove_fails_waiting_packets() {
        let mut c = cache(NeighborConfig::default());
        let t = secs(5);
        let _ = c.enqueue(t, ip(1), 7);
        assert!(c.remove(ip(1)));
        assert!(c.poll_at().is_some_and(|at| at <= t));
        assert_eq!(poll(&mut c, t), vec![NeighborAction::Failed { ip: ip(1), packet: 7 }]);
        assert_eq!(c.poll_at(), None);
        check_invariants(&c);
    }

    #[test]
    fn hundred_thousand_inserts_stay_bounded() {
        let mut c = cache(NeighborConfig::default());
        let mut rng = Rng::from_seed([3; 32]);
        let mut t = secs(1);
        let mut evictions = 0;
        for n in 0..100_000u32 {
            let addr = ip(rng.next_u32() & 0x00ff_ffff);
            match n % 4 {
                0 => match c.enqueue(t, addr, n) {
                    EnqueueOutcome::SendRequest { evicted: Some(_) } => evictions += 1,
                    EnqueueOutcome::Rejected(p) => assert_eq!(p, n),
                    _ => {}
                },
                1 => {
                    if let FillOutcome::Created { evicted: Some(_) } = c.fill(t, addr, mac(n as u8), true) {
                        evictions += 1;
                    }
                }
                2 => {
                    let _ = c.lookup(t, addr);
                }
                _ => {
                    let _ = poll(&mut c, t);
                }
            }
            assert!(c.len() <= NEIGHBOR_CACHE_CAPACITY);
            assert!(c.pending_total() <= MAX_PENDING_TOTAL);
            if n % 10_000 == 0 {
                check_invariants(&c);
            }
            t += Duration::from_millis(1);
        }
        // Full, but for Incomplete entries that just failed.
        assert!(c.len() > NEIGHBOR_CACHE_CAPACITY - 50, "{}", c.len());
        assert!(c.slots.len() <= NEIGHBOR_CACHE_CAPACITY);
        assert!(evictions > 20_000, "{evictions}");
        check_invariants(&c);
        // Let every resolution still in progress fail first: an entry nobody
        // asked for never evicts one (see
        // arp_requests_never_evict_a_resolution_in_progress).
        for k in 0..=u64::from(MAX_PROBES) {
            let _ = poll(&mut c, t + Duration::from_secs(k + 1));
        }
        t += Duration::from_secs(u64::from(MAX_PROBES) + 1);
        assert_eq!(c.pending_total(), 0);
        // 100,000 new addresses learned in a row: one eviction each once full.
        let before = c.len();
        let mut evictions = 0;
        for n in 0..100_000u32 {
            if let FillOutcome::Created { evicted: Some(_) } = c.fill(t, ip(0x0100_0000 + n), mac(1), true) {
                evictions += 1;
            }
            assert!(c.len() <= NEIGHBOR_CACHE_CAPACITY);
        }
        assert_eq!(evictions, 100_000 - (NEIGHBOR_CACHE_CAPACITY - before));
        assert_eq!(c.len(), NEIGHBOR_CACHE_CAPACITY);
        check_invariants(&c);
    }

    /// RFC 4861 §7.3.2 / Appendix C: INCOMPLETE -> REACHABLE (solicited NA)
    /// -> STALE (ReachableTime passes) -> DELAY (used) -> PROBE (after
    /// DELAY_FIRST_PROBE_TIME) -> REACHABLE (solicited NA), and PROBE ->
    /// deleted after MAX_UNICAST_SOLICIT unanswered probes.
    #[test]
    fn nud_transitions() {
        let cfg = NeighborConfig {
            delay_first_probe_time: DELAY_FIRST_PROBE_TIME,
            reachable_time: Duration::from_secs(30),
            ..NeighborConfig::default()
        };
        let mut c = cache(cfg);
        let n = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2));
        let t0 = Instant::from_secs(10);
        assert!(matches!(c.enqueue(t0, n, 1), EnqueueOutcome::SendRequest { .. }));
        let na = |solicited, override_flag| NudUpdate {
            advert: true,
            solicited,
            override_flag,
        };
        assert_eq!(
            c.update_nud(t0, n, Some(mac(2)), na(true, true)),
            FillOutcome::Resolved { packets: vec![1] }
        );
        assert_eq!(c.get(n).unwrap().state, NeighborState::Reachable);
        // ReachableTime later the entry is stale: the next use moves it to DELAY.
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(c.lookup(t1, n), Some(mac(2)));
        assert_eq!(c.get(n).unwrap().state, NeighborState::Delay);
        assert_eq!(c.poll_at(), Some(t1 + DELAY_FIRST_PROBE_TIME));
        // Nothing before the delay ends; then PROBE with a unicast NS.
        let mut acts = vec![];
        c.poll(t1 + Duration::from_secs(4), &mut |a| acts.push(a));
        assert!(acts.is_empty());
        let t2 = t1 + DELAY_FIRST_PROBE_TIME;
        c.poll(t2, &mut |a| acts.push(a));
        assert_eq!(
            acts,
            [NeighborAction::SendRequest {
                ip: n,
                unicast_to: Some(mac(2))
            }]
        );
        assert_eq!(c.get(n).unwrap().state, NeighborState::Probe);
        // A solicited NA makes it REACHABLE again.
        assert_eq!(c.update_nud(t2, n, None, na(true, false)), FillOutcome::Updated { changed: false });
        assert_eq!(c.get(n).unwrap().state, NeighborState::Reachable);
        assert_eq!(c.poll_at(), None);
        // An unsolicited NA with O=0 and another address: REACHABLE -> STALE, address kept.
        let _ = c.update_nud(t2, n, Some(mac(3)), na(false, false));
        let v = c.get(n).unwrap();
        assert_eq!((v.state, v.lladdr), (NeighborState::Stale, Some(mac(2))));
        // With O=1 the address is replaced, still STALE.
        let _ = c.update_nud(t2, n, Some(mac(3)), na(false, true));
        let v = c.get(n).unwrap();
        assert_eq!((v.state, v.lladdr), (NeighborState::Stale, Some(mac(3))));
        // An upper-layer confirmation makes it REACHABLE.
        assert!(c.confirm(t2, n));
        assert_eq!(c.get(n).unwrap().state, NeighborState::Reachable);
        // STALE -> DELAY -> PROBE, then MAX_UNICAST_SOLICIT probes without answer: deleted.
        let t3 = t2 + Duration::from_secs(30);
        c.lookup(t3, n);
        let mut acts = vec![];
        let mut t = t3;
        for _ in 0..10 {
            t = c.poll_at().unwrap_or(t);
            c.poll(t, &mut |a| acts.push(a));
        }
        let probes = acts.iter().filter(|a| matches!(a, NeighborAction::SendRequest { .. })).count();
        assert_eq!(probes, usize::from(MAX_PROBES));
        assert!(acts.contains(&NeighborAction::Unreachable { ip: n }));
        assert!(c.get(n).is_none());
        check_invariants(&c);
    }

    /// RFC 4861 §7.2.3: a solicitation with a source link-layer address
    /// creates a STALE entry; an advertisement for an unknown neighbour
    /// creates nothing (§7.2.5).
    #[test]
    fn nud_entries_from_solicitations() {
        let mut c = cache(NeighborConfig {
            delay_first_probe_time: DELAY_FIRST_PROBE_TIME,
            ..NeighborConfig::default()
        });
        let n = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 9));
        let t = Instant::from_secs(1);
        let na = NudUpdate {
            advert: true,
            solicited: false,
            override_flag: true,
        };
        assert_eq!(c.update_nud(t, n, Some(mac(9)), na), FillOutcome::Ignored);
        let ns = NudUpdate {
            advert: false,
            solicited: false,
            override_flag: false,
        };
        assert_eq!(c.update_nud(t, n, Some(mac(9)), ns), FillOutcome::Created { evicted: None });
        assert_eq!(c.get(n).unwrap().state, NeighborState::Stale);
        // A stale entry is usable at once (DELAY starts, no packet waits).
        assert_eq!(c.lookup(t, n), Some(mac(9)));
        assert_eq!(c.get(n).unwrap().state, NeighborState::Delay);
        check_invariants(&c);
    }
}
