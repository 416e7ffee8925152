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

use crate::addr::{Permutation, mix};
use crate::engine::Instant;
use crate::timing::{Pacer, Rtt};
use crate::wire::{Link, Mac, tcp_flags};
use crate::wire6::{self, ALL_NODES, ALL_ROUTERS, Packet6, Probe6};
use core::mem::MaybeUninit;
use core::net::Ipv6Addr;
use core::time::Duration;
use heapless::Deque;

/// Most interfaces.
pub const MAX_IFACES: usize = 8;
/// Most global addresses used per interface.
pub const MAX_GLOBALS: usize = 4;
/// Most routes.
pub const MAX_ROUTES: usize = 32;
/// Most target ranges.
pub const MAX_RANGES: usize = 16;
/// Most candidate addresses (Neighbor Solicitation on a given interface).
pub const MAX_CANDIDATES: usize = 1024;
/// Most addresses in the target ranges together.
pub const MAX_TARGETS: u64 = 1 << 20;
/// Most TCP ports per routed target.
pub const MAX_PORTS: usize = 16;
/// Capacity of the event queue; drain it after every call.
pub const EVENT_QUEUE: usize = 64;

/// An interface the engine sends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iface6 {
    /// Link type (link discovery needs Ethernet).
    pub link: Link,
    /// Our MAC.
    pub mac: Mac,
    /// Our link-local address, if any.
    pub link_local: Option<Ipv6Addr>,
    /// Our global (non-link-local) addresses.
    pub globals: heapless::Vec<Ipv6Addr, MAX_GLOBALS>,
    /// Discover the neighbours of this link (multicast probes, passive listening).
    pub discover: bool,
}

/// How a route reaches its destinations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via6 {
    /// Attached: Neighbor Solicitation on Ethernet, bare packets on raw-IP links.
    OnLink,
    /// Through a gateway whose MAC the caller resolved (ignored on raw-IP links).
    Gateway {
        /// The gateway's address.
        ip: Ipv6Addr,
        /// Its MAC.
        mac: Mac,
    },
}

/// A route (longest prefix wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route6 {
    /// Destination network address.
    pub dst: Ipv6Addr,
    /// Its prefix length.
    pub prefix: u8,
    /// Index into the interfaces.
    pub iface: u8,
    /// Next hop.
    pub via: Via6,
}

impl Route6 {
    /// Whether `ip` is inside the route's destination.
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        prefix_eq(self.dst, ip, self.prefix)
    }
}

fn prefix_eq(a: Ipv6Addr, b: Ipv6Addr, prefix: u8) -> bool {
    let p = u32::from(prefix.min(128));
    let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
    u128::from(a) & mask == u128::from(b) & mask
}

/// An inclusive range of addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range6 {
    /// First address.
    pub first: Ipv6Addr,
    /// Last address.
    pub last: Ipv6Addr,
}

impl Range6 {
    /// The network `ip/prefix`; `None` if the prefix is over 128.
    pub fn cidr(ip: Ipv6Addr, prefix: u8) -> Option<Range6> {
        if prefix > 128 {
            return None;
        }
        let host = u128::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
        let x = u128::from(ip);
        Some(Range6 {
            first: Ipv6Addr::from(x & !host),
            last: Ipv6Addr::from(x | host),
        })
    }

    /// Number of addresses (saturating at `u64::MAX`).
    pub fn len(&self) -> u64 {
        let (a, b) = (u128::from(self.first), u128::from(self.last));
        if b < a {
            return 0;
        }
        u64::try_from(b - a).map_or(u64::MAX, |n| n.saturating_add(1))
    }

    /// Whether it holds no address (`last < first`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        (self.first..=self.last).contains(&ip)
    }
}

/// Engine settings.
#[derive(Clone, Debug)]
pub struct Config6 {
    /// Packets per second.
    pub rate: u32,
    /// Packets back to back before the rate applies.
    pub burst: u32,
    /// Timeout before any RTT was measured.
    pub timeout: Duration,
    /// Floor of the adaptive timeout.
    pub min_timeout: Duration,
    /// Ceiling of the adaptive timeout.
    pub max_timeout: Duration,
    /// Extra rounds for silent targets, and repeats of the multicast probes.
    pub retries: u8,
    /// TCP ports for routed targets.
    pub ports: heapless::Vec<u16, MAX_PORTS>,
    /// ICMPv6 echo to routed targets.
    pub icmp: bool,
    /// TCP SYN to routed targets.
    pub tcp: bool,
    /// Send an MLD general query on discovered links. (A query from an address lower
    /// than the link's querier makes the querier step back for its "other querier
    /// present" interval, RFC 3810 §7.6.2; nothing else changes for the link.)
    pub mld: bool,
    /// How long link discovery listens after its last multicast probe.
    pub settle: Duration,
    /// Secret of the reply cookies and of the target order.
    pub key: u64,
    /// Our source port for TCP probes.
    pub sport: u16,
}

impl Default for Config6 {
    fn default() -> Self {
        Config6 {
            rate: 10_000,
            burst: 32,
            timeout: Duration::from_millis(250),
            min_timeout: Duration::from_millis(50),
            max_timeout: Duration::from_secs(3),
            retries: 1,
            ports: heapless::Vec::from_slice(&crate::engine::DEFAULT_PORTS).unwrap_or_default(),
            icmp: true,
            tcp: true,
            mld: true,
            settle: Duration::from_millis(400),
            key: 0x6b73_6f63_6b65_7436,
            sport: 47_000,
        }
    }
}

/// Errors of [`Engine6::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError6 {
    /// Rate of zero.
    Rate,
    /// A route or candidate names an interface that does not exist.
    Iface,
    /// Too many interfaces, routes, ranges or candidates, or addresses over
    /// [`MAX_TARGETS`].
    Capacity,
}

impl core::fmt::Display for ConfigError6 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ConfigError6::Rate => "rate must be at least 1 packet per second",
            ConfigError6::Iface => "a route or candidate names an interface that does not exist",
            ConfigError6::Capacity => {
                "too many IPv6 interfaces, routes, ranges, candidates or addresses"
            }
        })
    }
}

impl core::error::Error for ConfigError6 {}

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

/// What [`Engine6::new`] checks of its arguments, kept for the engine.
struct Setup6 {
    ifaces: heapless::Vec<Iface6, MAX_IFACES>,
    routes: heapless::Vec<Route6, MAX_ROUTES>,
    ranges: heapless::Vec<Range6, MAX_RANGES>,
    candidates: heapless::Vec<(Ipv6Addr, u8), MAX_CANDIDATES>,
    total: u64,
}

impl Setup6 {
    fn check(
        cfg: &Config6,
        ifaces: &[Iface6],
        routes: &[Route6],
        ranges: &[Range6],
        candidates: &[(Ipv6Addr, u8)],
    ) -> Result<Setup6, ConfigError6> {
        if cfg.rate == 0 {
            return Err(ConfigError6::Rate);
        }
        let cap = |_| ConfigError6::Capacity;
        let ifaces: heapless::Vec<Iface6, MAX_IFACES> =
            heapless::Vec::from_slice(ifaces).map_err(cap)?;
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
        Ok(Setup6 {
            ifaces,
            routes: heapless::Vec::from_slice(routes).map_err(cap)?,
            ranges: heapless::Vec::from_slice(ranges).map_err(cap)?,
            candidates: heapless::Vec::from_slice(candidates).map_err(cap)?,
            total,
        })
    }
}

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
        let setup = Setup6::check(&cfg, ifaces, routes, ranges, candidates)?;
        Ok(Self::assemble(cfg, setup))
    }

    /// [`Engine6::new`], written into `slot` (say a `Box::new_uninit()`): built once
    /// and written once (see [`crate::engine::Engine::init`]). The engine holds
    /// nothing to drop.
    pub fn init<'a>(
        slot: &'a mut MaybeUninit<Self>,
        cfg: Config6,
        ifaces: &[Iface6],
        routes: &[Route6],
        ranges: &[Range6],
        candidates: &[(Ipv6Addr, u8)],
    ) -> Result<&'a mut Self, ConfigError6> {
        let setup = Setup6::check(&cfg, ifaces, routes, ranges, candidates)?;
        Ok(slot.write(Self::assemble(cfg, setup)))
    }

    #[inline(always)]
    fn assemble(cfg: Config6, s: Setup6) -> Self {
        Engine6 {
            order: Permutation::new(s.total, cfg.key),
            pacer: Pacer::new(cfg.rate, cfg.burst),
            routes: s.routes,
            ranges: s.ranges,
            candidates: s.candidates,
            cfg,
            ifaces: s.ifaces,
            total: s.total,
            next_work: 0,
            mc_round: 0,
            mc_next: 0,
            mc_last: None,
            rings: [Deque::new(), Deque::new()],
            rtt: [Rtt::default(); 2],
            events: Deque::new(),
            settled: false,
            stats: Stats6::default(),
        }
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

    /// The next frame to send now, written into `buf`, if the rate allows one.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit6> {
        self.handle_timeout(now);
        if !self.pacer.allows(now.0) {
            return None;
        }
        if self.mc_ready_at().is_some_and(|t| t <= now)
            && let Some(t) = self.send_multicast(now, buf)
        {
            return Some(t);
        }
        for class in [ONLINK, ROUTED] {
            if self.tail_sending(class) {
                return self.send(now, class, buf);
            }
        }
        while self.next_work < self.work_count() {
            if self.events.len() >= EVENT_QUEUE - 1 {
                return None;
            }
            let Some((ip, placed)) = self.place(self.next_work) else {
                // Past the ranges' end (cannot happen: work_count counts them).
                self.next_work += 1;
                continue;
            };
            let Some((iface, class, gw)) = placed else {
                self.next_work += 1;
                self.stats.no_route += 1;
                self.push_event(Event6::NoRoute { ip });
                continue;
            };
            if self.rings[class].is_full() {
                return None;
            }
            self.next_work += 1;
            self.stats.started += 1;
            let _ = self.rings[class].push_back(Slot {
                ip,
                iface,
                gw,
                sent: now,
                first: now,
                rounds: 1,
                next: 0,
                answered: false,
            });
            return self.send(now, class, buf);
        }
        None
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

    fn send_multicast(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit6> {
        let round = self.mc_round;
        let mut k = self.mc_next;
        let mut found = None;
        for i in 0..self.ifaces.len() {
            let n = self.mc_count(i, round);
            if k < n {
                found = Some((i, k));
                break;
            }
            k -= n;
        }
        self.mc_next += 1;
        if self.mc_next >= self.mc_round_len(round) {
            self.mc_round += 1;
            self.mc_next = 0;
        }
        let (i, k) = found?;
        let f = &self.ifaces[i];
        let ll = f.link_local?;
        let c = self.cookie(Ipv6Addr::UNSPECIFIED, MCAST);
        let echo = Probe6::Echo {
            id: (c >> 16) as u16,
            seq: c as u16,
        };
        let g = f.globals.len();
        let (src, dst, probe) = if k == 0 {
            (ll, ALL_NODES, echo)
        } else if k <= g {
            (f.globals[k - 1], ALL_NODES, echo)
        } else if k == g + 1 {
            (ll, ALL_ROUTERS, echo)
        } else {
            let ms = (self.cfg.settle / 2).as_millis().clamp(1, 32_767) as u16;
            (ll, ALL_NODES, Probe6::MldQuery { max_resp_ms: ms })
        };
        let link = Some((f.mac, wire6::multicast_mac(dst)));
        let len = wire6::emit_ipv6(buf, link, src, dst, 255, probe).ok()?;
        self.stats.sent += 1;
        self.stats.sent_multicast += 1;
        self.pacer.take(now.0);
        self.mc_last = Some(now);
        Some(Transmit6 {
            iface: i as u8,
            len,
        })
    }

    fn send(&mut self, now: Instant, class: usize, buf: &mut [u8]) -> Option<Transmit6> {
        let s = *self.rings[class].back()?;
        let f = self.ifaces.get(usize::from(s.iface))?;
        let src = self.source(s.iface, s.ip, class == ONLINK)?;
        let len = if class == ONLINK {
            let group = wire6::solicited_node(s.ip);
            let link = Some((f.mac, wire6::multicast_mac(group)));
            let p = Probe6::Solicit {
                target: s.ip,
                mac: f.mac,
            };
            self.stats.sent_ns += 1;
            wire6::emit_ipv6(buf, link, src, group, 255, p).ok()?
        } else {
            let link = match f.link {
                Link::Ethernet => Some((f.mac, s.gw)),
                Link::RawIp => None,
            };
            let mut k = s.next;
            let probe = if self.cfg.icmp && k == 0 {
                let c = self.cookie(s.ip, 0);
                self.stats.sent_icmp += 1;
                Probe6::Echo {
                    id: (c >> 16) as u16,
                    seq: c as u16,
                }
            } else {
                k -= u8::from(self.cfg.icmp);
                let dport = *self.cfg.ports.get(usize::from(k))?;
                self.stats.sent_tcp += 1;
                Probe6::Syn {
                    sport: self.cfg.sport,
                    dport,
                    seq: self.cookie(s.ip, dport),
                }
            };
            wire6::emit_ipv6(buf, link, src, s.ip, 64, probe).ok()?
        };
        if let Some(b) = self.rings[class].back_mut() {
            b.next += 1;
            b.sent = now;
            if b.rounds > 1 {
                self.stats.sent_retry += 1;
            }
        }
        self.stats.sent += 1;
        self.pacer.take(now.0);
        Some(Transmit6 {
            iface: s.iface,
            len,
        })
    }

    /// Takes one frame received on interface `iface`.
    pub fn handle_rx(&mut self, now: Instant, iface: u8, frame: &[u8]) {
        match self.classify(iface, frame) {
            Some((ip, mac, how)) => self.seen(now, ip, mac, how, iface),
            None => self.stats.ignored += 1,
        }
    }

    /// Whether an answer from `ip` on `iface` came from the link itself (its frame's
    /// source MAC is the node's own).
    fn answered_on_link(&self, iface: u8, ip: Ipv6Addr) -> bool {
        wire6::is_link_local(ip)
            || self
                .lookup(ip)
                .is_some_and(|r| r.iface == iface && r.via == Via6::OnLink)
            || self.ifaces[usize::from(iface)]
                .globals
                .iter()
                .any(|g| prefix_eq(*g, ip, 64))
    }

    fn in_flight(&self, class: usize, ip: Ipv6Addr, iface: u8) -> bool {
        self.rings[class]
            .iter()
            .any(|s| s.ip == ip && s.iface == iface)
    }

    fn classify(&self, iface: u8, frame: &[u8]) -> Option<(Ipv6Addr, Option<Mac>, How)> {
        let f = self.ifaces.get(usize::from(iface))?;
        let fr = wire6::parse(f.link, frame).ok()?;
        let discover = f.discover;
        let usable = |ip: Ipv6Addr| {
            !ip.is_unspecified()
                && !ip.is_multicast()
                && !ip.is_loopback()
                && !(0..self.ifaces.len()).any(|i| self.ours(i as u8, ip))
        };
        let (ip, link_mac, how) = match fr.packet {
            Packet6::EchoReply { src, dst, id, seq } if self.ours(iface, dst) && usable(src) => {
                let got = (u32::from(id) << 16) | u32::from(seq);
                if got == self.cookie(Ipv6Addr::UNSPECIFIED, MCAST) && discover {
                    // An answer to a link-scope multicast: from the link.
                    return Some((src, fr.src_mac, How::Echo));
                }
                (got == self.cookie(src, 0)).then_some((src, fr.src_mac, How::Echo))?
            }
            Packet6::Tcp {
                src,
                dst,
                sport,
                dport,
                ack,
                flags,
                ..
            } if self.ours(iface, dst)
                && usable(src)
                && dport == self.cfg.sport
                && (flags & (tcp_flags::SYN | tcp_flags::ACK)
                    == tcp_flags::SYN | tcp_flags::ACK
                    || flags & tcp_flags::RST != 0)
                && ack == self.cookie(src, sport).wrapping_add(1) =>
            {
                (src, fr.src_mac, How::Tcp(sport))
            }
            Packet6::Unreachable {
                src,
                dst,
                code: 4,
                quote,
            } if self.ours(iface, dst)
                && usable(src)
                && quote.src == dst
                && quote.dst == src
                && quote.next_header == 6
                && quote.a == self.cfg.sport =>
            {
                (src, fr.src_mac, How::Unreachable)
            }
            Packet6::NeighborAdvert { target, tll, .. }
                if usable(target) && (discover || self.in_flight(ONLINK, target, iface)) =>
            {
                return Some((target, tll.or(fr.src_mac), How::Ndp));
            }
            Packet6::NeighborSolicit { src, sll, .. } if discover && usable(src) => {
                return Some((src, sll.or(fr.src_mac), How::Ndp));
            }
            Packet6::RouterAdvert { src, sll } if discover && usable(src) => {
                return Some((src, sll.or(fr.src_mac), How::Router));
            }
            Packet6::MldReport { src } | Packet6::MldQuery { src }
                if discover && usable(src) && wire6::is_link_local(src) =>
            {
                return Some((src, fr.src_mac, How::Mld));
            }
            _ => return None,
        };
        let mac = if self.answered_on_link(iface, ip) {
            link_mac
        } else {
            None
        };
        Some((ip, mac, how))
    }

    fn seen(&mut self, now: Instant, ip: Ipv6Addr, mac: Option<Mac>, how: How, iface: u8) {
        self.stats.seen += 1;
        let class = match how {
            How::Ndp => ONLINK,
            _ => ROUTED,
        };
        let mut rtt = None;
        if let Some(s) = self.rings[class]
            .iter_mut()
            .find(|s| s.ip == ip && s.iface == iface)
            && !s.answered
        {
            s.answered = true;
            self.stats.answered += 1;
            let r = if s.rounds == 1 {
                let r = now.since(s.sent);
                rtt = Some(r);
                r
            } else {
                now.since(s.first).min(self.cfg.max_timeout)
            };
            self.rtt[class].sample(r);
        }
        self.push_event(Event6::Seen {
            ip,
            mac,
            how,
            rtt,
            iface,
        });
        while self.rings[class].front().is_some_and(|s| s.answered) {
            if let Some(s) = self.rings[class].pop_front() {
                self.stats.done += 1;
                self.push_event(Event6::Done {
                    ip: s.ip,
                    answered: true,
                    rounds: s.rounds,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
