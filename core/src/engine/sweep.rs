//! The port sweep: which of a list of TCP ports (and UDP 161) the live hosts answer
//! on, after discovery found them. Sans-IO, like the discovery engine, and sharing its
//! pieces: the reply cookie (in the SYN's sequence number and the SNMP request-id),
//! the [`Pacer`] and the RTT estimator ([`Rtt`]).
//!
//! The caller feeds live hosts one at a time ([`Sweep::push`], while
//! [`Sweep::has_room`]) with their next hop: the interface, and the destination MAC
//! (the host's own on-link, the gateway's for a routed host). At most `W` hosts are in
//! flight, each with a fixed bitmap of its ports: state is bounded whatever the number
//! of hosts. Each host gets a SYN to every port of the list it has no answer for yet
//! (ports the discovery engine already heard from are passed in as known and not
//! probed again) and the SNMP v2c probe to UDP 161; after a timeout (the adaptive RTO),
//! the ports still silent get another round, `retries` times; then the host is done.
//! Probes go round robin over the hosts in flight, so that each host sees a fraction of
//! the rate; an answer to a host's latest probe is an RTT sample.
//!
//! It reports, per host and port: open (SYN-ACK), closed (RST); UDP 161 answered (an
//! SNMP response with our request-id) or closed (ICMP port unreachable from the host
//! itself); and when the host is done, how many ports stayed silent (filtered). Like
//! the engine, the sweep never completes a handshake itself: the kernel answers a
//! SYN-ACK to our reserved port with a RST.

use super::{Config, ConfigError, EVENT_QUEUE, Iface, Instant, MAX_IFACES, Transmit, cookie};
use crate::timing::{Pacer, Rtt};
use crate::wire::{self, Link, Mac, Packet, Probe};
use core::net::Ipv4Addr;
use core::time::Duration;

/// Most ports of a sweep list (nmap's top 100 and more fit).
pub const MAX_SWEEP_PORTS: usize = 256;

const WORDS: usize = MAX_SWEEP_PORTS / 32;

/// A set of port indices (into the sweep's list).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bits([u32; WORDS]);

impl Bits {
    fn get(&self, i: usize) -> bool {
        self.0[i / 32] & (1 << (i % 32)) != 0
    }
    fn set(&mut self, i: usize) {
        self.0[i / 32] |= 1 << (i % 32);
    }
    fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

/// A live host to sweep, and how to reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host.
    pub ip: Ipv4Addr,
    /// Index of the interface to send on.
    pub iface: u8,
    /// The next hop's MAC: the host's own when on-link, its gateway's when routed
    /// (ignored on raw-IP links).
    pub mac: Mac,
}

/// What the sweep reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepEvent {
    /// A TCP port answered: SYN-ACK (`open`) or RST.
    Tcp {
        /// The host.
        ip: Ipv4Addr,
        /// The port.
        port: u16,
        /// SYN-ACK.
        open: bool,
    },
    /// UDP 161 answered: an SNMP response (`open`), or an ICMP port unreachable from the
    /// host itself (closed). No answer proves nothing: an agent with another
    /// community stays silent.
    Udp161 {
        /// The host.
        ip: Ipv4Addr,
        /// An SNMP response came back.
        open: bool,
    },
    /// A host is finished with.
    Done {
        /// The host.
        ip: Ipv4Addr,
        /// TCP ports that never answered (filtered).
        silent: u16,
        /// Rounds of probes it was sent.
        rounds: u8,
    },
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Frames sent.
    pub sent: u64,
    /// TCP SYNs sent.
    pub sent_tcp: u64,
    /// SNMP probes sent.
    pub sent_udp: u64,
    /// Frames sent in retry rounds.
    pub sent_retry: u64,
    /// Hosts taken.
    pub hosts: u64,
    /// Hosts finished.
    pub done: u64,
    /// Ports found open.
    pub open: u64,
    /// Ports found closed.
    pub closed: u64,
    /// Ports silent at the end (filtered).
    pub filtered: u64,
    /// Frames received that were not a valid answer to the sweep.
    pub ignored: u64,
    /// Events lost because the queue was not drained.
    pub events_lost: u64,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    t: Target,
    /// Ports answered or known before.
    done: Bits,
    /// UDP 161 answered, known, or not probed.
    udp_done: bool,
    /// Rounds started (1 = first).
    round: u8,
    /// Next probe index of the round: ports `0..n`, then `n` for UDP 161; past it, the
    /// round is sent.
    next: u16,
    /// When the last probe left (after the round: when the round's last one left).
    sent: Instant,
}

/// The port sweep, with at most `W` hosts in flight.
pub struct Sweep<const W: usize> {
    ports: heapless::Vec<u16, MAX_SWEEP_PORTS>,
    udp161: bool,
    key: u64,
    sport: u16,
    retries: u8,
    timeouts: [Duration; 3],
    ifaces: heapless::Vec<Iface, MAX_IFACES>,
    slots: [Option<Slot>; W],
    /// The slot that sent last: the next probe goes to the next host with one to send
    /// (round robin, so that each host sees a fraction of the rate).
    cursor: usize,
    rtt: Rtt,
    pacer: Pacer,
    events: heapless::Deque<SweepEvent, EVENT_QUEUE>,
    ip_id: u16,
    stats: SweepStats,
}

impl<const W: usize> Sweep<W> {
    /// A sweep of `ports` (TCP, in order, without repeats: a repeat is dropped) and, if
    /// `udp161`, the SNMP probe, over `ifaces`, with the rate, burst, timeouts,
    /// retries, key and source port of `cfg`.
    pub fn new(
        cfg: &Config,
        ports: &[u16],
        udp161: bool,
        ifaces: &[Iface],
    ) -> Result<Self, ConfigError> {
        if cfg.rate == 0 {
            return Err(ConfigError::Rate);
        }
        let mut list = heapless::Vec::new();
        for p in ports {
            if !list.contains(p) {
                list.push(*p).map_err(|_| ConfigError::Capacity)?;
            }
        }
        Ok(Sweep {
            ports: list,
            udp161,
            key: cfg.key,
            sport: cfg.sport,
            retries: cfg.retries,
            timeouts: [cfg.timeout, cfg.min_timeout, cfg.max_timeout],
            ifaces: heapless::Vec::from_slice(ifaces).map_err(|_| ConfigError::Capacity)?,
            slots: [None; W],
            cursor: 0,
            rtt: Rtt::default(),
            pacer: Pacer::new(cfg.rate, cfg.burst),
            events: heapless::Deque::new(),
            ip_id: 0x4000,
            stats: SweepStats::default(),
        })
    }

    /// The ports swept, in order.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The counters so far.
    pub fn stats(&self) -> &SweepStats {
        &self.stats
    }

    /// The current timeout (after a round's last probe).
    pub fn timeout(&self) -> Duration {
        let [t, lo, hi] = self.timeouts;
        self.rtt.rto(t, lo, hi)
    }

    /// Whether another host can be pushed now.
    pub fn has_room(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }

    /// True when no host is in flight and no event is pending.
    pub fn is_finished(&self) -> bool {
        self.slots.iter().all(Option::is_none) && self.events.is_empty()
    }

    /// Takes host `t`; `known_tcp`: ports whose answer is known already (not probed,
    /// not reported), `known_udp`: UDP 161 likewise. A host with nothing left to probe
    /// is done at once. Gives `t` back when no room is left (see [`Sweep::has_room`])
    /// or its interface does not exist.
    pub fn push(
        &mut self,
        now: Instant,
        t: Target,
        known_tcp: &[u16],
        known_udp: bool,
    ) -> Result<(), Target> {
        if usize::from(t.iface) >= self.ifaces.len() {
            return Err(t);
        }
        let Some(free) = self.slots.iter_mut().find(|s| s.is_none()) else {
            return Err(t);
        };
        let mut done = Bits::default();
        for (i, p) in self.ports.iter().enumerate() {
            if known_tcp.contains(p) {
                done.set(i);
            }
        }
        *free = Some(Slot {
            t,
            done,
            udp_done: known_udp || !self.udp161,
            round: 1,
            next: 0,
            sent: now,
        });
        self.stats.hosts += 1;
        Ok(())
    }

    /// The next event, if any. Drain after every call into the sweep.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SweepEvent> {
        self.events.pop_front()
    }

    /// When [`Sweep::poll_transmit`] should next be called, if anything is in flight.
    /// May be in the past: call it at once then.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let rto = self.timeout();
        let mut t: Option<Instant> = None;
        for s in self.slots.iter().flatten() {
            let at = if self.pending_probe(s).is_some() {
                Instant(self.pacer.ready_at())
            } else {
                s.sent + rto
            };
            t = Some(t.map_or(at, |x| x.min(at)));
        }
        t
    }

    /// The next probe index of slot `s` in its round, skipping answered ports.
    fn pending_probe(&self, s: &Slot) -> Option<u16> {
        let n = self.ports.len();
        let mut k = usize::from(s.next);
        while k < n && s.done.get(k) {
            k += 1;
        }
        if k < n || (k == n && !s.udp_done) {
            Some(k as u16)
        } else {
            None
        }
    }

    /// Whether every probe of the slot was answered.
    fn complete(&self, s: &Slot) -> bool {
        s.udp_done && s.done.count() as usize >= self.ports.len()
    }

    fn push_event(&mut self, e: SweepEvent) {
        if self.events.push_back(e).is_err() {
            self.stats.events_lost += 1;
        }
    }

    /// Finishes hosts whose last round timed out (or that have nothing left to ask),
    /// and starts retry rounds. Called by `poll_transmit`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let rto = self.timeout();
        for i in 0..W {
            if self.events.len() >= EVENT_QUEUE - 1 {
                return; // let the caller drain first
            }
            let Some(s) = self.slots[i] else { continue };
            let complete = self.complete(&s);
            if !complete && (self.pending_probe(&s).is_some() || now < s.sent + rto) {
                continue;
            }
            if !complete && s.round <= self.retries {
                if let Some(x) = self.slots[i].as_mut() {
                    x.round += 1;
                    x.next = 0;
                    x.sent = now;
                }
                continue;
            }
            self.finish(i);
        }
    }

    fn finish(&mut self, i: usize) {
        let Some(s) = self.slots[i].take() else {
            return;
        };
        let silent = (self.ports.len() as u32).saturating_sub(s.done.count()) as u16;
        self.stats.done += 1;
        self.stats.filtered += u64::from(silent);
        self.push_event(SweepEvent::Done {
            ip: s.t.ip,
            silent,
            rounds: s.round,
        });
    }

    /// The next frame to send now, written into `buf`, if the rate allows one.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.handle_timeout(now);
        if !self.pacer.allows(now.0) || self.events.len() >= EVENT_QUEUE - 1 {
            return None;
        }
        // The next host after the last one served with a probe to send.
        let (i, k) = (1..=W)
            .map(|d| (self.cursor + d) % W)
            .find_map(|i| Some((i, self.pending_probe(self.slots[i].as_ref()?)?)))?;
        self.cursor = i;
        let s = self.slots[i]?;
        let ifc = self.ifaces[usize::from(s.t.iface)];
        let link = match ifc.link {
            Link::Ethernet => Some((ifc.mac, s.t.mac)),
            Link::RawIp => None,
        };
        self.ip_id = self.ip_id.wrapping_add(1);
        let ip = u32::from(s.t.ip);
        let len = if usize::from(k) < self.ports.len() {
            let dport = self.ports[usize::from(k)];
            let probe = Probe::Syn {
                sport: self.sport,
                dport,
                seq: cookie(self.key, ip, dport),
            };
            self.stats.sent_tcp += 1;
            wire::emit_ipv4(buf, link, ifc.ip, s.t.ip, self.ip_id, probe).ok()?
        } else {
            let payload = wire::snmp_probe(cookie(self.key, ip, 161));
            let probe = Probe::Udp {
                sport: self.sport,
                dport: 161,
                payload: &payload,
            };
            self.stats.sent_udp += 1;
            wire::emit_ipv4(buf, link, ifc.ip, s.t.ip, self.ip_id, probe).ok()?
        };
        if let Some(x) = self.slots[i].as_mut() {
            x.next = k + 1;
            x.sent = now;
        }
        self.stats.sent += 1;
        if s.round > 1 {
            self.stats.sent_retry += 1;
        }
        self.pacer.take(now.0);
        Some(Transmit {
            iface: s.t.iface,
            len,
            target: s.t.ip,
        })
    }

    /// Takes one frame received on interface `iface`.
    pub fn handle_rx(&mut self, now: Instant, iface: u8, frame: &[u8]) {
        let Some(ifc) = self.ifaces.get(usize::from(iface)).copied() else {
            self.stats.ignored += 1;
            return;
        };
        let Ok(f) = wire::parse(ifc.link, frame) else {
            self.stats.ignored += 1;
            return;
        };
        let sport = self.sport;
        match f.packet {
            Packet::Tcp {
                src,
                dst,
                sport: port,
                dport,
                ack,
                flags,
                ..
            } if dst == ifc.ip && dport == sport => {
                use wire::tcp_flags::{ACK, RST, SYN};
                let synack = flags & (SYN | ACK | RST) == SYN | ACK;
                let rst = flags & RST != 0;
                let Some(k) = self.ports.iter().position(|p| *p == port) else {
                    self.stats.ignored += 1;
                    return;
                };
                if !(synack || rst) || ack != cookie(self.key, u32::from(src), port).wrapping_add(1)
                {
                    self.stats.ignored += 1;
                    return;
                }
                if self.answered(now, src, k, |s| {
                    let new = !s.done.get(k);
                    s.done.set(k);
                    new
                }) {
                    if synack {
                        self.stats.open += 1;
                    } else {
                        self.stats.closed += 1;
                    }
                    self.push_event(SweepEvent::Tcp {
                        ip: src,
                        port,
                        open: synack,
                    });
                    self.finish_if_complete(src);
                }
            }
            Packet::Udp {
                src,
                dst,
                sport: 161,
                dport,
                payload,
            } if self.udp161 && dst == ifc.ip && dport == sport => {
                let c = cookie(self.key, u32::from(src), 161) & 0x7fff_ffff;
                if wire::snmp_request_id(payload) != Some(c) {
                    self.stats.ignored += 1;
                    return;
                }
                if self.answered(now, src, self.ports.len(), |s| {
                    !core::mem::replace(&mut s.udp_done, true)
                }) {
                    self.push_event(SweepEvent::Udp161 {
                        ip: src,
                        open: true,
                    });
                    self.finish_if_complete(src);
                }
            }
            Packet::Unreachable {
                src,
                dst,
                code: 3,
                quote,
            } if self.udp161
                && dst == ifc.ip
                && quote.src == ifc.ip
                && quote.dst == src
                && quote.protocol == 17
                && quote.a == sport
                && quote.b == 161 =>
            {
                // No cookie in an ICMP quote: believed only while the host is in
                // flight, its UDP probe sent and unanswered.
                let sent = self.slots.iter().flatten().any(|s| {
                    s.t.ip == src && !s.udp_done && (s.round > 1 || self.pending_probe(s).is_none())
                });
                if sent
                    && self.answered(now, src, self.ports.len(), |s| {
                        !core::mem::replace(&mut s.udp_done, true)
                    })
                {
                    self.push_event(SweepEvent::Udp161 {
                        ip: src,
                        open: false,
                    });
                    self.finish_if_complete(src);
                } else {
                    self.stats.ignored += 1;
                }
            }
            _ => self.stats.ignored += 1,
        }
    }

    /// An answer from `ip` to probe `k` (a port index, or the port count for UDP 161):
    /// `mark` records it in the host's slot and says whether it is new. True also for
    /// a host no longer in flight (a late answer, still validated by its cookie): the
    /// caller keeps a set. An answer to the host's latest probe of its first round
    /// (sent once: no ambiguity) is an RTT sample.
    fn answered(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        k: usize,
        mark: impl FnOnce(&mut Slot) -> bool,
    ) -> bool {
        let Some(s) = self.slots.iter_mut().flatten().find(|s| s.t.ip == ip) else {
            return true;
        };
        let new = mark(s);
        if new && s.round == 1 && usize::from(s.next) == k + 1 {
            let r = now.since(s.sent);
            self.rtt.sample(r);
        }
        new
    }

    /// A host every probe of which was answered finishes at once (after the event of
    /// its last answer).
    fn finish_if_complete(&mut self, ip: Ipv4Addr) {
        let i = self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.t.ip == ip && self.complete(s)));
        if let Some(i) = i {
            self.finish(i);
        }
    }
}
