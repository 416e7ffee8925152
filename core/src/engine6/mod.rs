//! The IPv6 discovery engine: sans-IO like [`crate::engine`] (the caller owns sockets
//! and clock, and runs the same loop: `poll_transmit`, `poll_event`, `poll_timeout`,
//! `handle_rx`), no allocation, state bounded by its capacities.
//!
//! Two kinds of work, in one run:
//! - **link discovery** on every interface marked `discover` (Ethernet, with a
//!   link-local address): an ICMPv6 echo to ff02::1 from the link-local address and
//!   from each global address (a node answers from the address matching ours, so both
//!   its link-local and its global addresses come back), an echo to ff02::2, and an
//!   MLDv2 general query if enabled (nodes that ignore echo still report their groups).
//!   The multicast probes go out `1 + retries` times, `settle / 2` apart (the query
//!   once); the run ends `settle` after the last. While it runs, what the link says
//!   on its own is taken too: Neighbor Solicitations, Router Advertisements, MLD
//!   reports and queries, unsolicited advertisements; every one names a node there.
//!   Then a Neighbor Solicitation goes to each *candidate* address the caller gives
//!   (the kernel's neighbour table, the gateway's SNMP table), one at a time through
//!   the window like any target.
//! - **targets**: ranges of addresses (the caller bounds each to a /112), drawn in a
//!   keyed order ([`crate::addr::Permutation`]) through the routes given: on-link ones
//!   get a Neighbor Solicitation (the ARP of IPv6), routed ones an echo and a TCP SYN
//!   to each port, to the gateway's MAC, with the reply cookie in the echo id/sequence
//!   and the TCP sequence number, as the IPv4 engine does.
//!
//! Each answer is an [`Event6::Seen`]: the address, the MAC when the answer came from
//! the link itself (never a router's MAC for a routed target), and what proved it.

mod config;
mod rx;
mod tx;

pub use config::{
    Config6, ConfigError6, EVENT_QUEUE, Iface6, MAX_CANDIDATES, MAX_GLOBALS, MAX_IFACES, MAX_PORTS,
    MAX_RANGES, MAX_ROUTES, MAX_TARGETS, Range6, Route6, Via6,
};

use crate::addr::{Permutation, mix};
use crate::engine::Instant;
use crate::timing::{Pacer, Rtt};
use crate::wire::{Link, Mac, tcp_flags};
use crate::wire6::{self, ALL_NODES, ALL_ROUTERS, Packet6, Probe6};
use core::mem::MaybeUninit;
use core::net::Ipv6Addr;
use core::time::Duration;
use heapless::Deque;

/// What proved an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// ICMPv6 echo reply (to the multicast echo or to ours).
    Echo,
    /// Neighbor Discovery: an advertisement (solicited or not) or a solicitation.
    Ndp,
    /// A Router Advertisement.
    Router,
    /// An MLD report or query.
    Mld,
    /// TCP SYN-ACK or RST from this port.
    Tcp(u16),
    /// ICMPv6 port unreachable from the target itself.
    Unreachable,
}

/// What the engine reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event6 {
    /// An address answered (one event per answer).
    Seen {
        /// The address.
        ip: Ipv6Addr,
        /// Its MAC, when the answer came from the link itself.
        mac: Option<Mac>,
        /// What it answered.
        how: How,
        /// Round-trip time, when unambiguous (first try of a target in flight).
        rtt: Option<Duration>,
        /// Interface.
        iface: u8,
    },
    /// A target or candidate is finished with.
    Done {
        /// The address.
        ip: Ipv6Addr,
        /// Whether it answered while in flight.
        answered: bool,
        /// Rounds it was sent.
        rounds: u8,
    },
    /// No route (or no usable source address) reaches this target; nothing was sent.
    NoRoute {
        /// The target.
        ip: Ipv6Addr,
    },
}

/// A frame to send, written into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Transmit6 {
    /// Interface index.
    pub iface: u8,
    /// Frame length.
    pub len: usize,
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats6 {
    /// Frames sent.
    pub sent: u64,
    /// Multicast probes (echo to ff02::1/ff02::2, MLD query).
    pub sent_multicast: u64,
    /// Neighbor Solicitations.
    pub sent_ns: u64,
    /// Unicast echo requests.
    pub sent_icmp: u64,
    /// TCP SYNs.
    pub sent_tcp: u64,
    /// Frames of retry rounds.
    pub sent_retry: u64,
    /// Targets and candidates started.
    pub started: u64,
    /// Finished.
    pub done: u64,
    /// Answered while in flight.
    pub answered: u64,
    /// Without a route.
    pub no_route: u64,
    /// Answers reported.
    pub seen: u64,
    /// Frames that were not an answer.
    pub ignored: u64,
    /// Events lost to an undrained queue.
    pub events_lost: u64,
}

impl Stats6 {
    /// Nothing counted yet.
    pub const ZERO: Stats6 = Stats6 {
        sent: 0,
        sent_multicast: 0,
        sent_ns: 0,
        sent_icmp: 0,
        sent_tcp: 0,
        sent_retry: 0,
        started: 0,
        done: 0,
        answered: 0,
        no_route: 0,
        seen: 0,
        ignored: 0,
        events_lost: 0,
    };
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    ip: Ipv6Addr,
    iface: u8,
    /// Gateway MAC for routed targets (unused on raw-IP links).
    gw: Mac,
    sent: Instant,
    first: Instant,
    rounds: u8,
    next: u8,
    answered: bool,
}

const ONLINK: usize = 0;
const ROUTED: usize = 1;
/// The cookie kind of multicast echoes (any responder, one cookie).
const MCAST: u16 = 0xffff;

/// The IPv6 engine with at most `W` targets in flight per class (on-link, routed).
pub struct Engine6<const W: usize> {
    cfg: Config6,
    ifaces: heapless::Vec<Iface6, MAX_IFACES>,
    routes: heapless::Vec<Route6, MAX_ROUTES>,
    ranges: heapless::Vec<Range6, MAX_RANGES>,
    candidates: heapless::Vec<(Ipv6Addr, u8), MAX_CANDIDATES>,
    total: u64,
    order: Permutation,
    next_work: u64,
    /// Multicast probes: (round, index within the round).
    mc_round: u8,
    mc_next: usize,
    mc_last: Option<Instant>,
    rings: [Deque<Slot, W>; 2],
    rtt: [Rtt; 2],
    events: Deque<Event6, EVENT_QUEUE>,
    pacer: Pacer,
    settled: bool,
    stats: Stats6,
}

impl<const W: usize> Engine6<W> {
    /// An engine that discovers the links of `ifaces` marked `discover`, solicits each
    /// `(address, interface)` of `candidates`, and probes every address of `ranges`
    /// through `routes`.
    ///
    /// The engine is large (two rings of `W` targets, the candidates): a caller that
    /// keeps it on the heap uses [`Engine6::init`], which builds it in place.
    pub fn new(
        cfg: Config6,
        ifaces: &[Iface6],
        routes: &[Route6],
        ranges: &[Range6],
        candidates: &[(Ipv6Addr, u8)],
    ) -> Result<Self, ConfigError6> {
        let mut e = Self::BLANK;
        e.arm(cfg, ifaces, routes, ranges, candidates)?;
        Ok(e)
    }

    /// [`Engine6::new`], built in `slot` (say a `Box::new_uninit()`): a blank engine
    /// (every byte zero: a memset) written there, then its configuration; no copy of
    /// the engine goes through the stack (see [`crate::engine::Engine::init`]). The
    /// engine holds nothing to drop.
    pub fn init<'a>(
        slot: &'a mut MaybeUninit<Self>,
        cfg: Config6,
        ifaces: &[Iface6],
        routes: &[Route6],
        ranges: &[Range6],
        candidates: &[(Ipv6Addr, u8)],
    ) -> Result<&'a mut Self, ConfigError6> {
        let e = slot.write(Self::BLANK);
        e.arm(cfg, ifaces, routes, ranges, candidates)?;
        Ok(e)
    }

    /// An engine with nothing set up: all zero, rings empty.
    const BLANK: Self = Engine6 {
        cfg: Config6::BLANK,
        ifaces: heapless::Vec::new(),
        routes: heapless::Vec::new(),
        ranges: heapless::Vec::new(),
        candidates: heapless::Vec::new(),
        total: 0,
        order: Permutation::EMPTY,
        next_work: 0,
        mc_round: 0,
        mc_next: 0,
        mc_last: None,
        rings: [Deque::new(), Deque::new()],
        rtt: [Rtt::NONE; 2],
        events: Deque::new(),
        pacer: Pacer::IDLE,
        settled: false,
        stats: Stats6::ZERO,
    };

    /// Checks the arguments and sets up a blank engine with them, copying each list
    /// straight into its place (the candidates alone are 20 KB: no copy through the
    /// stack).
    fn arm(
        &mut self,
        cfg: Config6,
        ifaces: &[Iface6],
        routes: &[Route6],
        ranges: &[Range6],
        candidates: &[(Ipv6Addr, u8)],
    ) -> Result<(), ConfigError6> {
        if cfg.rate == 0 {
            return Err(ConfigError6::Rate);
        }
        let n = ifaces.len();
        if routes.iter().any(|r| usize::from(r.iface) >= n)
            || candidates.iter().any(|c| usize::from(c.1) >= n)
        {
            return Err(ConfigError6::Iface);
        }
        let mut total: u64 = 0;
        for r in ranges {
            total = total.saturating_add(r.len());
        }
        if total > MAX_TARGETS {
            return Err(ConfigError6::Capacity);
        }
        let cap = |_| ConfigError6::Capacity;
        self.ifaces.extend_from_slice(ifaces).map_err(cap)?;
        self.routes.extend_from_slice(routes).map_err(cap)?;
        self.ranges.extend_from_slice(ranges).map_err(cap)?;
        self.candidates.extend_from_slice(candidates).map_err(cap)?;
        self.order = Permutation::new(total, cfg.key);
        self.pacer = Pacer::new(cfg.rate, cfg.burst);
        self.total = total;
        self.cfg = cfg;
        Ok(())
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats6 {
        &self.stats
    }

    /// Targets and candidates in all.
    pub fn work_count(&self) -> u64 {
        self.total + self.candidates.len() as u64
    }

    /// True when every probe was sent and answered or timed out, link discovery has
    /// settled, and no event is pending.
    pub fn is_finished(&self) -> bool {
        self.mc_done()
            && (self.settled || self.mc_last.is_none())
            && self.next_work >= self.work_count()
            && self.rings.iter().all(|r| r.is_empty())
            && self.events.is_empty()
    }

    /// The next event, if any. Drain after every call into the engine.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event6> {
        self.events.pop_front()
    }

    fn timeout(&self, class: usize) -> Duration {
        self.rtt[class].rto(self.cfg.timeout, self.cfg.min_timeout, self.cfg.max_timeout)
    }

    /// The multicast probes of one interface in round `round` (0 = first).
    fn mc_count(&self, i: usize, round: u8) -> usize {
        let f = &self.ifaces[i];
        if !f.discover || f.link != Link::Ethernet || f.link_local.is_none() {
            return 0;
        }
        2 + f.globals.len() + usize::from(self.cfg.mld && round == 0)
    }

    fn mc_round_len(&self, round: u8) -> usize {
        (0..self.ifaces.len())
            .map(|i| self.mc_count(i, round))
            .sum()
    }

    fn mc_done(&self) -> bool {
        self.mc_round > self.cfg.retries || self.mc_round_len(0) == 0
    }

    /// When the multicast round in progress may send (rounds after the first wait
    /// `settle / 2` after the previous round's last probe).
    fn mc_ready_at(&self) -> Option<Instant> {
        if self.mc_done() {
            return None;
        }
        match (self.mc_round, self.mc_next, self.mc_last) {
            (0, _, _) | (_, 1.., _) | (_, _, None) => Some(Instant(0)),
            (_, 0, Some(t)) => Some(t + self.cfg.settle / 2),
        }
    }

    /// When the engine next needs [`Engine6::poll_transmit`] to be called, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Instant| t = Some(t.map_or(x, |y| y.min(x)));
        if let Some(r) = self.mc_ready_at() {
            at(r.max(Instant(self.pacer.ready_at())));
        }
        if let (true, Some(last), false) = (self.mc_done(), self.mc_last, self.settled) {
            at(last + self.cfg.settle);
        }
        if self.can_admit() || self.tail_sending(ONLINK) || self.tail_sending(ROUTED) {
            at(Instant(self.pacer.ready_at()));
        }
        for class in [ONLINK, ROUTED] {
            if let Some(h) = self.rings[class].front()
                && !self.is_sending(class, h)
            {
                at(h.sent + self.timeout(class));
            }
        }
        t
    }

    /// Whether [`Engine6::poll_transmit`] can take the next target now: there is
    /// one, and the ring of its class has room (a target without a route is
    /// consumed at once). Checking only "some ring has room" spun the caller: the
    /// engine asked to be polled now while the target waited for the other ring.
    fn can_admit(&self) -> bool {
        if self.next_work >= self.work_count() {
            return false;
        }
        match self.place(self.next_work) {
            Some((_, Some((_, class, _)))) => !self.rings[class].is_full(),
            Some((_, None)) | None => true,
        }
    }

    /// The `n`-th piece of work (candidates first, then the ranges in the
    /// scrambled order): its address and, if it has a usable route, the interface,
    /// ring class and gateway MAC it is probed through.
    #[allow(clippy::type_complexity)]
    fn place(&self, n: u64) -> Option<(Ipv6Addr, Option<(u8, usize, [u8; 6])>)> {
        let c = self.candidates.len() as u64;
        let (ip, known_iface) = if n < c {
            let (ip, i) = self.candidates[n as usize];
            (ip, Some(i))
        } else {
            let k = self.order.apply(n - c);
            (self.nth(k)?, None)
        };
        let route = match known_iface {
            Some(i) => Some((i, Via6::OnLink)),
            None => self.lookup(ip).map(|r| (r.iface, r.via)),
        };
        let placed = route.and_then(|(i, via)| {
            let f = self.ifaces.get(usize::from(i))?;
            let class = match (f.link, via) {
                (Link::Ethernet, Via6::OnLink) => ONLINK,
                _ => ROUTED,
            };
            let gw = match via {
                Via6::Gateway { mac, .. } => mac,
                Via6::OnLink => [0; 6],
            };
            let usable = self.source(i, ip, class == ONLINK).is_some()
                && (class == ONLINK || self.probes(ROUTED) > 0);
            usable.then_some((i, class, gw))
        });
        Some((ip, placed))
    }

    fn probes(&self, class: usize) -> u8 {
        if class == ONLINK {
            1
        } else {
            (usize::from(self.cfg.icmp)
                + if self.cfg.tcp {
                    self.cfg.ports.len()
                } else {
                    0
                }) as u8
        }
    }

    fn is_sending(&self, class: usize, s: &Slot) -> bool {
        !s.answered && s.next < self.probes(class)
    }

    fn tail_sending(&self, class: usize) -> bool {
        self.rings[class]
            .back()
            .is_some_and(|s| self.is_sending(class, s))
    }

    fn push_event(&mut self, e: Event6) {
        if self.events.push_back(e).is_err() {
            self.stats.events_lost += 1;
        }
    }

    fn lookup(&self, ip: Ipv6Addr) -> Option<&Route6> {
        self.routes
            .iter()
            .filter(|r| r.contains(ip))
            .max_by_key(|r| r.prefix)
    }

    /// Our source address on `iface` toward `dst`: link-local for link-local
    /// destinations, else the global sharing the longest prefix with it, else
    /// link-local on Ethernet (Neighbor Discovery may use it for any target).
    fn source(&self, iface: u8, dst: Ipv6Addr, onlink: bool) -> Option<Ipv6Addr> {
        let f = self.ifaces.get(usize::from(iface))?;
        if wire6::is_link_local(dst) {
            return f.link_local;
        }
        let common = |a: &Ipv6Addr| (u128::from(*a) ^ u128::from(dst)).leading_zeros();
        f.globals
            .iter()
            .max_by_key(|a| common(a))
            .copied()
            .or(if onlink { f.link_local } else { None })
    }

    fn ours(&self, iface: u8, ip: Ipv6Addr) -> bool {
        self.ifaces
            .get(usize::from(iface))
            .is_some_and(|f| f.link_local == Some(ip) || f.globals.contains(&ip))
    }

    /// The reply cookie of `ip` for probe kind `kind` (0 echo, else the TCP port).
    fn cookie(&self, ip: Ipv6Addr, kind: u16) -> u32 {
        let x = u128::from(ip);
        let h = mix((x >> 64) as u64 ^ (u64::from(kind) << 48));
        let v = mix(self.cfg.key ^ h ^ (x as u64));
        (v ^ (v >> 32)) as u32
    }

    /// Retires expired targets, starts retry rounds, notes when discovery settled.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let (true, Some(last)) = (self.mc_done(), self.mc_last)
            && now >= last + self.cfg.settle
        {
            self.settled = true;
        }
        for class in [ONLINK, ROUTED] {
            loop {
                if self.events.len() >= EVENT_QUEUE - 1 {
                    return;
                }
                let Some(h) = self.rings[class].front().copied() else {
                    break;
                };
                if !h.answered && (self.is_sending(class, &h) || now < h.sent + self.timeout(class))
                {
                    break;
                }
                if !h.answered && h.rounds <= self.cfg.retries {
                    if self.tail_sending(class) {
                        break;
                    }
                    let _ = self.rings[class].pop_front();
                    let mut s = h;
                    s.rounds += 1;
                    s.next = 0;
                    s.sent = now;
                    let _ = self.rings[class].push_back(s);
                    break;
                }
                let _ = self.rings[class].pop_front();
                self.stats.done += 1;
                self.push_event(Event6::Done {
                    ip: h.ip,
                    answered: h.answered,
                    rounds: h.rounds,
                });
            }
        }
    }

    /// The `k`-th address of the target ranges.
    fn nth(&self, mut k: u64) -> Option<Ipv6Addr> {
        for r in &self.ranges {
            if k < r.len() {
                return Some(Ipv6Addr::from(u128::from(r.first) + u128::from(k)));
            }
            k -= r.len();
        }
        None
    }
}

#[cfg(test)]
mod tests;
