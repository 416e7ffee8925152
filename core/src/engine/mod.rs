//! The discovery engine: a sans-IO state machine that decides which probe frame to
//! send when, and which received frames prove a host is up.
//!
//! The caller owns the sockets and the clock. Its loop:
//! ```text
//! loop {
//!     while let Some(t) = engine.poll_transmit(now, &mut buf) { send(t.iface, &buf[..t.len]) }
//!     while let Some(e) = engine.poll_event() { report(e) }
//!     if engine.is_finished() { break }
//!     wait for a frame or until engine.poll_timeout();
//!     engine.handle_rx(now, iface, frame);   // then drain events again
//! }
//! ```
//!
//! State is bounded and independent of the size of the target set: targets are drawn
//! one at a time from a keyed permutation of the set ([`crate::addr::Permutation`]),
//! at most `W` targets per class are in flight (two rings: on-link ARP, routed IP),
//! and replies are validated without per-probe state by a keyed cookie carried in
//! the ICMP id/sequence, the TCP sequence number and the SNMP request-id. A reply that
//! arrives after its target was retired is still validated and still reported.
//!
//! Timeouts follow the RTTs observed (RFC 6298 smoothing; a reply during a retry round
//! is sampled as the time since the first try, an upper bound), clamped between a floor
//! and a ceiling, one estimator per class.
//! A GCRA token bucket holds the packet rate. Retries go only to targets that have not
//! answered, and a target that answers gets no further probes.
//!
//! Files: `config.rs` the settings, `tx.rs` sending, `rx.rs` receiving; this one the
//! events out, the engine's state and its timers (retries, retirement). `sweep.rs`:
//! the port sweep of the live hosts discovery found (every port of the scan's list,
//! where discovery's routed probes carry at most [`MAX_PORTS`] of them and stop at the
//! first answer), built from the same cookie, pacer and RTT pieces.

mod config;
mod rx;
pub mod sweep;
mod tx;

pub use config::{
    Config, ConfigError, DEFAULT_PORTS, EVENT_QUEUE, Iface, MAX_IFACES, MAX_PORTS, MAX_ROUTES,
    Methods, RETRY_PORTS, RETRY_PREFERENCE, Route, TOP100, Via,
};

use crate::addr::{AddrSet, Permutation};
use crate::timing::{Pacer, Rtt};
use crate::wire::{self, Link, Mac, Packet, Probe};
use core::mem::MaybeUninit;
use core::net::Ipv4Addr;
use core::time::Duration;
use heapless::Deque;

/// A point in time, in nanoseconds from an origin the caller chooses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(pub u64);

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    /// Saturating.
    fn add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(d.as_nanos().min(u128::from(u64::MAX)) as u64),
        )
    }
}

impl Instant {
    /// From nanoseconds.
    pub const fn from_nanos(n: u64) -> Instant {
        Instant(n)
    }
    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Instant {
        Instant(ms * 1_000_000)
    }
    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// `self - earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// What proved a host up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// ARP reply.
    Arp,
    /// ICMP echo reply.
    Icmp,
    /// TCP SYN-ACK or RST from this port.
    Tcp(u16),
    /// SNMP response.
    Snmp,
    /// ICMP port/protocol unreachable sent by the target itself.
    Unreachable,
}

/// What the engine reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A validated reply from `ip` (one per reply: a host may produce several).
    Reply {
        /// The host.
        ip: Ipv4Addr,
        /// Its MAC, for ARP replies.
        mac: Option<Mac>,
        /// What it answered.
        method: Method,
        /// Round-trip time, when unambiguous (a first try, target still in flight).
        rtt: Option<Duration>,
        /// Interface it came in on.
        iface: u8,
    },
    /// A target is finished with.
    Done {
        /// The target.
        ip: Ipv4Addr,
        /// Whether it answered while in flight.
        answered: bool,
        /// Rounds of probes it was sent (1 + retries used).
        rounds: u8,
    },
    /// No route reaches this target; nothing was sent to it.
    NoRoute {
        /// The target.
        ip: Ipv4Addr,
    },
}

/// A frame to send, written into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// Interface index (into the engine's interfaces).
    pub iface: u8,
    /// Frame length in the buffer.
    pub len: usize,
    /// The target the frame is about.
    pub target: Ipv4Addr,
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames sent.
    pub sent: u64,
    /// ARP requests sent.
    pub sent_arp: u64,
    /// ICMP echo requests sent.
    pub sent_icmp: u64,
    /// TCP SYNs sent.
    pub sent_tcp: u64,
    /// UDP probes sent.
    pub sent_udp: u64,
    /// Frames sent in retry rounds.
    pub sent_retry: u64,
    /// Targets that got at least one retry round.
    pub retried: u64,
    /// Targets taken from the set.
    pub started: u64,
    /// Targets finished.
    pub done: u64,
    /// Targets that answered while in flight.
    pub answered: u64,
    /// Targets without a route.
    pub no_route: u64,
    /// Valid replies.
    pub replies: u64,
    /// Frames received that were not a valid reply to us.
    pub ignored: u64,
    /// Events lost because the queue was not drained.
    pub events_lost: u64,
}

impl Stats {
    /// Nothing counted yet.
    pub const ZERO: Stats = Stats {
        sent: 0,
        sent_arp: 0,
        sent_icmp: 0,
        sent_tcp: 0,
        sent_udp: 0,
        sent_retry: 0,
        retried: 0,
        started: 0,
        done: 0,
        answered: 0,
        no_route: 0,
        replies: 0,
        ignored: 0,
        events_lost: 0,
    };
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    ip: u32,
    /// When the last probe of the current round left.
    sent: Instant,
    /// When the first probe of the first round left.
    first: Instant,
    /// Rounds started (1 = first try).
    rounds: u8,
    /// Probes of the current round already sent.
    next: u8,
    route: u8,
    answered: bool,
}

/// What [`Engine::new`] checks of its arguments, kept for the engine.
struct Setup {
    ifaces: heapless::Vec<Iface, MAX_IFACES>,
    routes: heapless::Vec<Route, MAX_ROUTES>,
    retry_ports: heapless::Vec<u16, RETRY_PORTS>,
}

impl Setup {
    fn check(cfg: &Config, ifaces: &[Iface], routes: &[Route]) -> Result<Setup, ConfigError> {
        if cfg.rate == 0 {
            return Err(ConfigError::Rate);
        }
        let ifaces = heapless::Vec::from_slice(ifaces).map_err(|_| ConfigError::Capacity)?;
        let routes: heapless::Vec<Route, MAX_ROUTES> =
            heapless::Vec::from_slice(routes).map_err(|_| ConfigError::Capacity)?;
        if routes.iter().any(|r| usize::from(r.iface) >= ifaces.len()) {
            return Err(ConfigError::RouteIface);
        }
        let mut retry_ports = heapless::Vec::new();
        for p in RETRY_PREFERENCE
            .iter()
            .filter(|p| cfg.ports.contains(p))
            .chain(cfg.ports.iter().filter(|p| !RETRY_PREFERENCE.contains(p)))
        {
            if retry_ports.push(*p).is_err() {
                break;
            }
        }
        Ok(Setup {
            ifaces,
            routes,
            retry_ports,
        })
    }
}

const ONLINK: usize = 0;
const ROUTED: usize = 1;

/// The discovery engine over a target set of at most `T` ranges, with at most `W`
/// targets in flight per class.
pub struct Engine<const T: usize, const W: usize> {
    cfg: Config,
    ifaces: heapless::Vec<Iface, MAX_IFACES>,
    routes: heapless::Vec<Route, MAX_ROUTES>,
    targets: AddrSet<T>,
    order: Permutation,
    next_target: u64,
    rings: [Deque<Slot, W>; 2],
    rtt: [Rtt; 2],
    events: Deque<Event, EVENT_QUEUE>,
    pacer: Pacer,
    ip_id: u16,
    stats: Stats,
    /// The TCP ports of retry rounds (see [`RETRY_PREFERENCE`]).
    retry_ports: heapless::Vec<u16, RETRY_PORTS>,
}

impl<const T: usize, const W: usize> Engine<T, W> {
    /// An engine that will probe every address of `targets`, reaching them through
    /// `routes` over `ifaces`.
    ///
    /// The engine is large (two rings of `W` targets): a caller that keeps it on the
    /// heap uses [`Engine::init`], which builds it in place.
    pub fn new(
        cfg: Config,
        ifaces: &[Iface],
        routes: &[Route],
        targets: AddrSet<T>,
    ) -> Result<Self, ConfigError> {
        let setup = Setup::check(&cfg, ifaces, routes)?;
        let mut e = Self::BLANK;
        e.arm(cfg, setup, targets);
        Ok(e)
    }

    /// [`Engine::new`], built in `slot` (say a `Box::new_uninit()`), for a caller that
    /// keeps the engine on the heap: a blank engine, every byte zero, is written there
    /// (a memset), then its configuration. A returned `Result<Engine>` moved into
    /// place goes through the stack, more than once (the scan's frame was 806 KB that
    /// way). The engine holds nothing to drop, so a slot never dropped as an engine
    /// leaks nothing.
    pub fn init<'a>(
        slot: &'a mut MaybeUninit<Self>,
        cfg: Config,
        ifaces: &[Iface],
        routes: &[Route],
        targets: AddrSet<T>,
    ) -> Result<&'a mut Self, ConfigError> {
        let setup = Setup::check(&cfg, ifaces, routes)?;
        let e = slot.write(Self::BLANK);
        e.arm(cfg, setup, targets);
        Ok(e)
    }

    /// An engine with nothing set up: all zero, rings empty.
    const BLANK: Self = Engine {
        cfg: Config::BLANK,
        ifaces: heapless::Vec::new(),
        routes: heapless::Vec::new(),
        targets: AddrSet::new(),
        order: Permutation::EMPTY,
        next_target: 0,
        rings: [Deque::new(), Deque::new()],
        rtt: [Rtt::NONE; 2],
        events: Deque::new(),
        pacer: Pacer::IDLE,
        ip_id: 0,
        stats: Stats::ZERO,
        retry_ports: heapless::Vec::new(),
    };

    /// Sets up a blank engine: every field [`Engine::BLANK`] leaves at zero that must
    /// not be.
    fn arm(&mut self, cfg: Config, s: Setup, targets: AddrSet<T>) {
        self.order = Permutation::new(targets.len(), cfg.key);
        self.pacer = Pacer::new(cfg.rate, cfg.burst);
        self.cfg = cfg;
        self.ifaces = s.ifaces;
        self.routes = s.routes;
        self.targets = targets;
        self.ip_id = 1;
        self.retry_ports = s.retry_ports;
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The number of targets in the set.
    pub fn target_count(&self) -> u64 {
        self.targets.len()
    }

    /// The current timeout of a class (0 on-link, 1 routed).
    pub fn timeout(&self, class: usize) -> Duration {
        self.rtt[class & 1].rto(self.cfg.timeout, self.cfg.min_timeout, self.cfg.max_timeout)
    }

    /// True when every target was probed and retired and no event is pending.
    pub fn is_finished(&self) -> bool {
        self.next_target >= self.targets.len()
            && self.rings.iter().all(|r| r.is_empty())
            && self.events.is_empty()
    }

    /// The next event, if any. Drain after every call into the engine.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When the engine next needs [`Engine::poll_transmit`] to be called, if ever.
    /// May be in the past: call it at once then.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Instant| t = Some(t.map_or(x, |y| y.min(x)));
        if self.wants_to_send() {
            at(Instant(self.pacer.ready_at()));
        }
        for class in [ONLINK, ROUTED] {
            let ring = &self.rings[class];
            let tail_sending = ring.back().is_some_and(|s| self.is_sending(class, s));
            if let Some(h) = ring.front() {
                let retry = !h.answered && h.rounds <= self.cfg.retries;
                // A retry waits for the round in progress, which the send time covers.
                if !(self.is_sending(class, h) || retry && tail_sending) {
                    at(h.sent + self.timeout(class));
                }
            }
        }
        t
    }

    fn wants_to_send(&self) -> bool {
        self.can_admit()
            || [ONLINK, ROUTED]
                .iter()
                .any(|&c| self.rings[c].back().is_some_and(|s| self.is_sending(c, s)))
    }

    /// Whether the next target could start now (its ring has room, or it has no route).
    fn can_admit(&self) -> bool {
        if self.next_target >= self.targets.len() {
            return false;
        }
        let Some(ip) = self.targets.nth(self.order.apply(self.next_target)) else {
            return false;
        };
        match self.lookup(u32::from(ip)) {
            None => true,
            Some(r) => !self.rings[self.class_of(r)].is_full(),
        }
    }

    /// Probes of a round: ARP alone on-link; routed, ICMP, the TCP ports (all in the
    /// first round, [`Engine::retry_ports`] in retries) and SNMP, as enabled.
    fn probes(&self, class: usize, round: u8) -> u8 {
        if class == ONLINK {
            return 1;
        }
        let m = self.cfg.methods;
        let n = usize::from(m.icmp)
            + if m.tcp { self.ports(round).len() } else { 0 }
            + usize::from(m.snmp);
        n as u8
    }

    /// The TCP ports of a round.
    fn ports(&self, round: u8) -> &[u16] {
        if round > 1 {
            &self.retry_ports
        } else {
            &self.cfg.ports
        }
    }

    fn is_sending(&self, class: usize, s: &Slot) -> bool {
        !s.answered && s.next < self.probes(class, s.rounds)
    }

    fn class_of(&self, route: u8) -> usize {
        let r = &self.routes[usize::from(route)];
        let link = self.ifaces[usize::from(r.iface)].link;
        match (link, r.via) {
            (Link::Ethernet, Via::OnLink) => ONLINK,
            _ => ROUTED,
        }
    }

    fn lookup(&self, ip: u32) -> Option<u8> {
        let a = Ipv4Addr::from(ip);
        let mut best: Option<(u8, u8)> = None;
        for (i, r) in self.routes.iter().enumerate() {
            if r.dst.contains(a) && best.is_none_or(|(p, _)| r.prefix > p) {
                best = Some((r.prefix, i as u8));
            }
        }
        best.map(|(_, i)| i)
    }

    fn push_event(&mut self, e: Event) {
        if self.events.push_back(e).is_err() {
            self.stats.events_lost += 1;
        }
    }

    /// Retires expired targets and starts retry rounds. Called by `poll_transmit`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for class in [ONLINK, ROUTED] {
            loop {
                if self.events.len() >= EVENT_QUEUE - 1 {
                    return; // let the caller drain first
                }
                let timeout = self.timeout(class);
                let Some(h) = self.rings[class].front().copied() else {
                    break;
                };
                if !h.answered && (self.is_sending(class, &h) || now < (h.sent + timeout)) {
                    break;
                }
                let sending_tail = self.rings[class]
                    .back()
                    .is_some_and(|s| self.is_sending(class, s));
                if !h.answered && h.rounds <= self.cfg.retries {
                    // A retry round: only once the tail finished its round, so the
                    // ring stays in order of transmission.
                    if sending_tail {
                        break;
                    }
                    let mut s = h;
                    let _ = self.rings[class].pop_front();
                    if s.rounds == 1 {
                        self.stats.retried += 1;
                    }
                    s.rounds += 1;
                    s.next = 0;
                    s.sent = now;
                    let _ = self.rings[class].push_back(s);
                    // Only one retry round starts at a time: it goes out before more.
                    break;
                }
                let _ = self.rings[class].pop_front();
                self.stats.done += 1;
                self.push_event(Event::Done {
                    ip: Ipv4Addr::from(h.ip),
                    answered: h.answered,
                    rounds: h.rounds,
                });
            }
        }
    }

    /// The reply cookie of target `ip` for probe kind `kind` (0 ICMP, else the port).
    fn cookie(&self, ip: u32, kind: u16) -> u32 {
        cookie(self.cfg.key, ip, kind)
    }
}

/// The reply cookie under `key` of target `ip` for probe kind `kind` (0 ICMP, else the
/// port): the ICMP id/sequence, the TCP sequence number, the SNMP request-id (31 bits).
/// The discovery engine and the port sweep share it, so a late answer to one is still
/// recognised by the other.
pub(crate) fn cookie(key: u64, ip: u32, kind: u16) -> u32 {
    let x = crate::addr::mix(key ^ (u64::from(ip) << 16) ^ u64::from(kind));
    (x ^ (x >> 32)) as u32
}
