//! The IPv6 engine's settings: its capacities, the interfaces, routes and ranges it
//! works through, and what [`Engine6::new`] checks and refuses.
//!
//! [`Engine6::new`]: super::Engine6::new

use crate::wire::{Link, Mac};
use core::net::Ipv6Addr;
use core::time::Duration;

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

pub(super) fn prefix_eq(a: Ipv6Addr, b: Ipv6Addr, prefix: u8) -> bool {
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

impl Config6 {
    /// Every number zero, nothing on: a placeholder written before the real
    /// configuration (all-zero, so that writing it is a memset: see `Engine6::init`).
    pub(super) const BLANK: Config6 = Config6 {
        rate: 0,
        burst: 0,
        timeout: Duration::ZERO,
        min_timeout: Duration::ZERO,
        max_timeout: Duration::ZERO,
        retries: 0,
        ports: heapless::Vec::new(),
        icmp: false,
        tcp: false,
        mld: false,
        settle: Duration::ZERO,
        key: 0,
        sport: 0,
    };
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

/// Errors of [`Engine6::new`](super::Engine6::new).
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
