//! The engine's settings: its capacities and default ports, the interfaces and
//! routes it sends through, which probes routed targets get, and what [`Engine::new`]
//! refuses.
//!
//! [`Engine::new`]: super::Engine::new

use crate::addr::Range;
use crate::wire::{Link, Mac};
use core::net::Ipv4Addr;
use core::time::Duration;

/// Most interfaces one engine drives.
pub const MAX_IFACES: usize = 8;
/// Most routes one engine knows.
pub const MAX_ROUTES: usize = 32;
/// Most TCP ports probed per routed target by discovery (the first of the scan's
/// port list; the port sweep of live hosts probes all of them, see
/// [`sweep`](super::sweep)).
pub const MAX_PORTS: usize = 16;
/// Capacity of the event queue; drain it after every call.
pub const EVENT_QUEUE: usize = 64;

/// The default TCP ports (spec §6): SSH, Telnet, SMTP, DNS, HTTP, MS-RPC, NetBIOS,
/// HTTPS, SMB, submission, WinRM over HTTP and HTTPS.
pub const DEFAULT_PORTS: [u16; 12] = [22, 23, 25, 53, 80, 135, 139, 443, 445, 587, 5985, 5986];

/// nmap's 100 most frequently open TCP ports, most frequent first (nmap 7.93's
/// `nmap-services`; the same set `nmap --top-ports 100` probes). Generated with:
/// `grep -v '^#' /usr/share/nmap/nmap-services | awk '$2 ~ /\/tcp$/ {split($2,a,"/");
/// print $3, a[1]}' | sort -k1,1gr -k2,2n | head -100 | awk '{print $2}' | paste -sd,`
pub const TOP100: [u16; 100] = [
    80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995, 993,
    5900, 1025, 587, 8888, 199, 1720, 465, 548, 113, 81, 6001, 10000, 514, 5060, 179, 1026, 2000,
    8443, 8000, 32768, 554, 26, 1433, 49152, 2001, 515, 8008, 49154, 1027, 5666, 646, 5000, 5631,
    631, 49153, 8081, 2049, 88, 79, 5800, 106, 2121, 1110, 49155, 6000, 513, 990, 5357, 427, 49156,
    543, 544, 5101, 144, 7, 389, 8009, 3128, 444, 9999, 5009, 7070, 5190, 3000, 5432, 1900, 3986,
    13, 1029, 9, 5051, 6646, 49157, 1028, 873, 1755, 2717, 4899, 9100, 119, 37,
];

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

impl Config {
    /// Every number zero, no port, no method: a placeholder written before the real
    /// configuration (all-zero, so that writing it is a memset: see `Engine::init`).
    pub(super) const BLANK: Config = Config {
        rate: 0,
        burst: 0,
        timeout: Duration::ZERO,
        min_timeout: Duration::ZERO,
        max_timeout: Duration::ZERO,
        retries: 0,
        ports: heapless::Vec::new(),
        methods: Methods {
            arp: false,
            icmp: false,
            tcp: false,
            snmp: false,
        },
        key: 0,
        sport: 0,
    };
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

/// Errors of [`Engine::new`](super::Engine::new).
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
