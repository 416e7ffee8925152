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

use crate::addr::{AddrSet, Permutation, Range};
use crate::timing::{Pacer, Rtt};
use crate::wire::{self, Link, Mac, Packet, Probe};
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

/// Most interfaces one engine drives.
pub const MAX_IFACES: usize = 8;
/// Most routes one engine knows.
pub const MAX_ROUTES: usize = 32;
/// Most TCP ports probed per routed target.
pub const MAX_PORTS: usize = 16;
/// Capacity of the event queue; drain it after every call.
pub const EVENT_QUEUE: usize = 64;

/// The default TCP ports (spec §6): SSH, Telnet, SMTP, DNS, HTTP, MS-RPC, NetBIOS,
/// HTTPS, SMB, submission, WinRM.
pub const DEFAULT_PORTS: [u16; 11] = [22, 23, 25, 53, 80, 135, 139, 443, 445, 587, 5985];

/// TCP ports a retry round re-probes, at most [`RETRY_PORTS`] of them: these first
/// (the services most often left open by host firewalls), then the configured ports in
/// their order. The first round probes every configured port; a retry exists for a
/// lost probe or answer, and re-sending every port to every silent address doubled the
/// packets of a routed scan for nothing the lab could find.
pub const RETRY_PREFERENCE: [u16; 4] = [443, 80, 22, 445];
/// Most TCP ports in a retry round.
pub const RETRY_PORTS: usize = 4;

/// An interface the engine sends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iface {
    /// Link type.
    pub link: Link,
    /// Our MAC address (ignored on raw-IP links).
    pub mac: Mac,
    /// Our IPv4 address on this interface (the source of every probe).
    pub ip: Ipv4Addr,
}

/// How a route reaches its destinations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Directly attached: ARP on Ethernet, bare IP on raw-IP links.
    OnLink,
    /// Through a gateway, whose MAC the caller resolved (ignored on raw-IP links).
    Gateway {
        /// The gateway's address.
        ip: Ipv4Addr,
        /// The gateway's MAC address.
        mac: Mac,
    },
}

/// One entry of the routing table the engine follows (longest prefix wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination network.
    pub dst: Range,
    /// Its prefix length (for longest-prefix match).
    pub prefix: u8,
    /// Index into the engine's interfaces.
    pub iface: u8,
    /// Next hop.
    pub via: Via,
}

/// Which probes routed targets get. On-link targets on Ethernet always get ARP,
/// the only way to reach them at layer 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Methods {
    /// ARP for on-link targets.
    pub arp: bool,
    /// ICMP echo.
    pub icmp: bool,
    /// TCP SYN to each port.
    pub tcp: bool,
    /// SNMP v2c get on UDP 161.
    pub snmp: bool,
}

impl Default for Methods {
    fn default() -> Self {
        Methods {
            arp: true,
            icmp: true,
            tcp: true,
            snmp: true,
        }
    }
}

/// Engine settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Packets per second (all interfaces together).
    pub rate: u32,
    /// Packets that may leave back to back before the rate applies.
    pub burst: u32,
    /// Timeout before any RTT was measured.
    pub timeout: Duration,
    /// Floor of the adaptive timeout.
    pub min_timeout: Duration,
    /// Ceiling of the adaptive timeout.
    pub max_timeout: Duration,
    /// Extra rounds of probes for targets that stay silent.
    pub retries: u8,
    /// TCP ports for routed targets.
    pub ports: heapless::Vec<u16, MAX_PORTS>,
    /// Probe methods.
    pub methods: Methods,
    /// Secret of the reply cookies and of the target order.
    pub key: u64,
    /// Our source port for TCP and UDP probes (the caller reserves it).
    pub sport: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rate: 10_000,
            burst: 32,
            timeout: Duration::from_millis(250),
            min_timeout: Duration::from_millis(50),
            max_timeout: Duration::from_secs(3),
            retries: 1,
            ports: heapless::Vec::from_slice(&DEFAULT_PORTS).unwrap_or_default(),
            methods: Methods::default(),
            key: 0x6b73_6f63_6b65_7421,
            sport: 47_000,
        }
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

/// Errors of [`Engine::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Rate of zero.
    Rate,
    /// A route names an interface that does not exist.
    RouteIface,
    /// Too many interfaces or routes.
    Capacity,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ConfigError::Rate => "rate must be at least 1 packet per second",
            ConfigError::RouteIface => "a route names an interface that does not exist",
            ConfigError::Capacity => "too many interfaces or routes",
        })
    }
}

impl core::error::Error for ConfigError {}

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
    pub fn new(
        cfg: Config,
        ifaces: &[Iface],
        routes: &[Route],
        targets: AddrSet<T>,
    ) -> Result<Self, ConfigError> {
        if cfg.rate == 0 {
            return Err(ConfigError::Rate);
        }
        let ifaces = heapless::Vec::from_slice(ifaces).map_err(|_| ConfigError::Capacity)?;
        let routes: heapless::Vec<Route, MAX_ROUTES> =
            heapless::Vec::from_slice(routes).map_err(|_| ConfigError::Capacity)?;
        if routes.iter().any(|r| usize::from(r.iface) >= ifaces.len()) {
            return Err(ConfigError::RouteIface);
        }
        let order = Permutation::new(targets.len(), cfg.key);
        let pacer = Pacer::new(cfg.rate, cfg.burst);
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
        Ok(Engine {
            cfg,
            ifaces,
            routes,
            targets,
            order,
            next_target: 0,
            rings: [Deque::new(), Deque::new()],
            rtt: [Rtt::default(); 2],
            events: Deque::new(),
            pacer,
            ip_id: 1,
            retry_ports,
            stats: Stats::default(),
        })
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

    /// The next frame to send now, written into `buf`, if the rate allows one.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.handle_timeout(now);
        // Rate: GCRA.
        if !self.pacer.allows(now.0) {
            return None;
        }
        // Finish the round in progress, on-link first (ARP is one frame per target).
        for class in [ONLINK, ROUTED] {
            if let Some(s) = self.rings[class].back().copied()
                && self.is_sending(class, &s)
            {
                return self.send(now, class, buf);
            }
        }
        // Admit a new target.
        while self.next_target < self.targets.len() {
            if self.events.len() >= EVENT_QUEUE - 1 {
                return None;
            }
            let i = self.order.apply(self.next_target);
            let ip = u32::from(self.targets.nth(i)?);
            let Some(route) = self.lookup(ip) else {
                self.next_target += 1;
                self.stats.no_route += 1;
                self.push_event(Event::NoRoute {
                    ip: Ipv4Addr::from(ip),
                });
                continue;
            };
            let class = self.class_of(route);
            if self.rings[class].is_full() {
                return None;
            }
            if class == ROUTED && self.probes(ROUTED, 1) == 0 {
                // Every routed method is off: nothing to send, finished at once.
                self.next_target += 1;
                self.stats.started += 1;
                self.stats.done += 1;
                self.push_event(Event::Done {
                    ip: Ipv4Addr::from(ip),
                    answered: false,
                    rounds: 0,
                });
                continue;
            }
            self.next_target += 1;
            self.stats.started += 1;
            let slot = Slot {
                ip,
                sent: now,
                first: now,
                rounds: 1,
                next: 0,
                route,
                answered: false,
            };
            let _ = self.rings[class].push_back(slot);
            return self.send(now, class, buf);
        }
        None
    }

    /// Sends the next probe of the tail slot of `class`.
    fn send(&mut self, now: Instant, class: usize, buf: &mut [u8]) -> Option<Transmit> {
        let s = *self.rings[class].back()?;
        let route = self.routes[usize::from(s.route)];
        let iface = self.ifaces[usize::from(route.iface)];
        let dst = Ipv4Addr::from(s.ip);
        let len = if class == ONLINK {
            self.stats.sent_arp += 1;
            wire::emit_arp_request(buf, iface.mac, iface.ip, dst).ok()?
        } else {
            let link = match (iface.link, route.via) {
                (Link::RawIp, _) => None,
                (Link::Ethernet, Via::Gateway { mac, .. }) => Some((iface.mac, mac)),
                (Link::Ethernet, Via::OnLink) => return None, // on-link Ethernet is ONLINK
            };
            let m = self.cfg.methods;
            let mut k = s.next;
            let probe = if m.icmp && k == 0 {
                let c = self.cookie(s.ip, 0);
                self.stats.sent_icmp += 1;
                Probe::Echo {
                    id: (c >> 16) as u16,
                    seq: c as u16,
                }
            } else {
                k -= u8::from(m.icmp);
                let ports = self.ports(s.rounds);
                let nports = if m.tcp { ports.len() as u8 } else { 0 };
                if k < nports {
                    let dport = ports[usize::from(k)];
                    self.stats.sent_tcp += 1;
                    Probe::Syn {
                        sport: self.cfg.sport,
                        dport,
                        seq: self.cookie(s.ip, dport),
                    }
                } else {
                    self.stats.sent_udp += 1;
                    let payload = wire::snmp_probe(self.cookie(s.ip, 161));
                    let id = self.next_ip_id();
                    let p = Probe::Udp {
                        sport: self.cfg.sport,
                        dport: 161,
                        payload: &payload,
                    };
                    let len = wire::emit_ipv4(buf, link, iface.ip, dst, id, p).ok()?;
                    return Some(self.sent(now, class, route.iface, dst, len));
                }
            };
            let id = self.next_ip_id();
            wire::emit_ipv4(buf, link, iface.ip, dst, id, probe).ok()?
        };
        Some(self.sent(now, class, route.iface, dst, len))
    }

    fn sent(
        &mut self,
        now: Instant,
        class: usize,
        iface: u8,
        dst: Ipv4Addr,
        len: usize,
    ) -> Transmit {
        if let Some(s) = self.rings[class].back_mut() {
            s.next += 1;
            s.sent = now;
            if s.rounds > 1 {
                self.stats.sent_retry += 1;
            }
        }
        self.stats.sent += 1;
        self.pacer.take(now.0);
        Transmit {
            iface,
            len,
            target: dst,
        }
    }

    fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    /// The reply cookie of target `ip` for probe kind `kind` (0 ICMP, else the port).
    fn cookie(&self, ip: u32, kind: u16) -> u32 {
        let x = crate::addr::mix(self.cfg.key ^ (u64::from(ip) << 16) ^ u64::from(kind));
        (x ^ (x >> 32)) as u32
    }

    /// Takes one frame received on interface `iface`.
    pub fn handle_rx(&mut self, now: Instant, iface: u8, frame: &[u8]) {
        let found = self
            .ifaces
            .get(usize::from(iface))
            .and_then(|&ifc| self.classify(ifc, iface, frame));
        match found {
            Some((ip, mac, method)) if self.targets.contains(ip) => {
                self.reply(now, ip, mac, method, iface)
            }
            _ => self.stats.ignored += 1,
        }
    }

    /// The target a frame answers, if it is an answer to one of our probes (cookie,
    /// addresses and ports checked): its address, MAC (ARP) and how it answered.
    fn classify(
        &self,
        ifc: Iface,
        iface: u8,
        frame: &[u8],
    ) -> Option<(Ipv4Addr, Option<Mac>, Method)> {
        let f = wire::parse(ifc.link, frame).ok()?;
        match f.packet {
            Packet::Arp {
                op: 2,
                sender_mac,
                sender_ip,
                target_mac,
                target_ip,
            } if target_ip == ifc.ip
                && target_mac == ifc.mac
                && self.is_onlink(sender_ip, iface) =>
            {
                Some((sender_ip, Some(sender_mac), Method::Arp))
            }
            Packet::EchoReply { src, dst, id, seq } if dst == ifc.ip => {
                let c = self.cookie(u32::from(src), 0);
                (id == (c >> 16) as u16 && seq == c as u16).then_some((src, None, Method::Icmp))
            }
            Packet::Tcp {
                src,
                dst,
                sport,
                dport,
                ack,
                flags,
                ..
            } if dst == ifc.ip
                && dport == self.cfg.sport
                && (flags & (wire::tcp_flags::SYN | wire::tcp_flags::ACK)
                    == wire::tcp_flags::SYN | wire::tcp_flags::ACK
                    || flags & wire::tcp_flags::RST != 0) =>
            {
                let c = self.cookie(u32::from(src), sport);
                (ack == c.wrapping_add(1)).then_some((src, None, Method::Tcp(sport)))
            }
            Packet::Udp {
                src,
                dst,
                sport: 161,
                dport,
                payload,
            } if dst == ifc.ip && dport == self.cfg.sport => {
                let c = self.cookie(u32::from(src), 161) & 0x7fff_ffff;
                (wire::snmp_request_id(payload) == Some(c)).then_some((src, None, Method::Snmp))
            }
            Packet::Unreachable {
                src,
                dst,
                code: 2 | 3,
                quote,
            } if dst == ifc.ip && quote.src == ifc.ip && quote.dst == src => {
                let ok = match quote.protocol {
                    17 => quote.a == self.cfg.sport && quote.b == 161,
                    6 => quote.a == self.cfg.sport,
                    _ => false,
                };
                ok.then_some((src, None, Method::Unreachable))
            }
            _ => None,
        }
    }

    /// An answer from target `ip`: its slot is answered (the RTT sampled), an event
    /// says so, and answered slots at the head of the ring leave.
    fn reply(&mut self, now: Instant, ip: Ipv4Addr, mac: Option<Mac>, method: Method, iface: u8) {
        self.stats.replies += 1;
        let class = if method == Method::Arp {
            ONLINK
        } else {
            ROUTED
        };
        let mut rtt = None;
        if let Some(s) = self.rings[class].iter_mut().find(|s| s.ip == u32::from(ip))
            && !s.answered
        {
            s.answered = true;
            self.stats.answered += 1;
            if s.rounds == 1 {
                let r = now.since(s.sent);
                rtt = Some(r);
                self.rtt[class].sample(r);
            } else {
                // Which round this answers is unknown (ARP has no cookie). Unlike
                // Karn's rule, sample the upper bound `now - first`: a slow network
                // then raises the timeout instead of being retried forever, and a
                // fast lossy one only nudges it up from the floor.
                let r = now.since(s.first).min(self.cfg.max_timeout);
                self.rtt[class].sample(r);
            }
        }
        self.push_event(Event::Reply {
            ip,
            mac,
            method,
            rtt,
            iface,
        });
        // Answered slots at the head leave at once, freeing the window.
        while self.rings[class].front().is_some_and(|s| s.answered) {
            if let Some(s) = self.rings[class].pop_front() {
                self.stats.done += 1;
                self.push_event(Event::Done {
                    ip: Ipv4Addr::from(s.ip),
                    answered: true,
                    rounds: s.rounds,
                });
            }
        }
    }

    fn is_onlink(&self, ip: Ipv4Addr, iface: u8) -> bool {
        self.lookup(u32::from(ip)).is_some_and(|r| {
            let r = &self.routes[usize::from(r)];
            r.iface == iface && r.via == Via::OnLink
        })
    }
}
