//! A validated scan request: the typed form of `ksocket scan`'s options, built once by
//! a front end (the command line today, an operation from the controller later).

use crate::credentials::secret::Secret;
use ksocket_core::addr::Range;
use ksocket_core::engine::sweep::MAX_SWEEP_PORTS;
use ksocket_core::engine::{self, Config, Methods};
use ksocket_core::engine6::Range6;
use std::net::Ipv6Addr;
use std::time::Duration;

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// Named targets; empty: every attached network (up to `max_prefix`) and the
    /// default gateways.
    pub targets: Vec<Range>,
    /// Named IPv6 targets (each at most a /112). With no target at all, every attached
    /// link is discovered over IPv6 too.
    pub targets6: Vec<Range6>,
    pub excludes: Vec<Range>,
    /// IPv6 addresses left out (`--exclude` with an IPv6 address or network, any
    /// prefix length): never probed as named targets nor solicited, and dropped from
    /// what link discovery finds.
    pub excludes6: Vec<Range6>,
    /// Only this interface.
    pub interface: Option<String>,
    /// Largest attached network scanned whole without named targets.
    pub max_prefix: u8,
    /// The engine's rate, timeouts, retries, ports and methods (key and source port
    /// are set by the driver).
    pub engine: Config,
    /// An SNMP v2c community to use instead of the snmp credential files.
    pub community: Option<Secret>,
    /// Ask found hosts for their details (SNMP device records).
    pub details: bool,
    /// Look up the found hosts' names (reverse DNS, NetBIOS, mDNS: `--no-names` off).
    pub names: bool,
    /// The bounds of the scan's work (addresses, per host, per table, details).
    pub limits: crate::limits::Limits,
    /// Read the default gateway's ARP table over SNMP also when targets are named
    /// (a scan without targets always does).
    pub gateway_arp: bool,
    /// The TCP ports of the port sweep of live hosts (`--ports`; discovery's routed
    /// probes take the first [`engine::MAX_PORTS`] of them).
    pub ports: Vec<u16>,
    /// Sweep the live hosts' ports and read their banners (`--no-ports`: not).
    pub sweep: bool,
    /// Packets per second of the port sweep: [`SWEEP_RATE`] unless `--rate` was given,
    /// which then caps discovery and the sweep alike.
    pub sweep_rate: u32,
}

/// The port sweep's default rate. Its probes go only to hosts that answered, spread
/// over all of them (200 live hosts at 25,000 packets per second is 125 per host per
/// second), where discovery's default 10,000 covers silent addresses too; at 10,000 a
/// sweep of nmap's top 100 ports over a /24 of 200 hosts takes 2 s by the rate alone.
pub const SWEEP_RATE: u32 = 25_000;

/// Ranges that are never scanned: "this network" (0/8), loopback (127/8), multicast
/// (224/4) and reserved (240/4, with the limited broadcast), as (first, last, name).
pub const SPECIAL: [(u32, u32, &str); 4] = [
    (0x0000_0000, 0x00ff_ffff, "unspecified (0.0.0.0/8)"),
    (0x7f00_0000, 0x7fff_ffff, "loopback (127.0.0.0/8)"),
    (0xe000_0000, 0xefff_ffff, "multicast (224.0.0.0/4)"),
    (
        0xf000_0000,
        0xffff_ffff,
        "reserved or broadcast (240.0.0.0/4)",
    ),
];

/// The special range `ip` lies in, if any.
pub fn special(ip: u32) -> Option<&'static str> {
    SPECIAL
        .iter()
        .find(|(f, l, _)| (*f..=*l).contains(&ip))
        .map(|s| s.2)
}

impl Default for ScanRequest {
    fn default() -> ScanRequest {
        ScanRequest {
            targets: Vec::new(),
            targets6: Vec::new(),
            excludes: Vec::new(),
            excludes6: Vec::new(),
            interface: None,
            max_prefix: 22,
            engine: Config::default(),
            community: None,
            details: true,
            names: true,
            limits: crate::limits::Limits::default(),
            gateway_arp: false,
            ports: engine::DEFAULT_PORTS.to_vec(),
            sweep: true,
            sweep_rate: SWEEP_RATE,
        }
    }
}

use crate::options::bad;
pub use crate::options::{OptionError, number};

impl ScanRequest {
    /// `--timeout MS`: the initial reply timeout; the adaptive bounds widen to hold it.
    pub fn set_timeout_ms(&mut self, v: &str) -> Result<(), OptionError> {
        let ms = number("timeout", v, 1, 60_000)?;
        let c = &mut self.engine;
        c.timeout = Duration::from_millis(ms);
        c.min_timeout = c.min_timeout.min(c.timeout);
        c.max_timeout = c.max_timeout.max(c.timeout);
        Ok(())
    }

    /// `--ports LIST`: the TCP ports probed, in order, without repeats, or `top100`
    /// (nmap's 100 most often open): the live hosts' port sweep probes all of them,
    /// discovery's routed probes the first [`engine::MAX_PORTS`] (the order of `top100`
    /// is by frequency, so the most telling ones).
    pub fn set_ports(&mut self, v: &str) -> Result<(), OptionError> {
        let mut ports: Vec<u16> = Vec::new();
        for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let add: &[u16] = if p == "top100" {
                &engine::TOP100
            } else {
                &[number("ports", p, 1, 65535)? as u16]
            };
            for n in add {
                if !ports.contains(n) {
                    ports.push(*n);
                }
            }
        }
        if ports.is_empty() {
            return Err(bad(
                "ports",
                "no port named (use --no-ports to sweep none)".into(),
            ));
        }
        if ports.len() > MAX_SWEEP_PORTS {
            return Err(bad("ports", format!("at most {MAX_SWEEP_PORTS} ports")));
        }
        self.engine.ports = ports.iter().copied().take(engine::MAX_PORTS).collect();
        self.ports = ports;
        Ok(())
    }

    /// `--methods LIST`: arp, icmp, tcp, snmp.
    pub fn set_methods(&mut self, v: &str) -> Result<(), OptionError> {
        let mut m = Methods {
            arp: false,
            icmp: false,
            tcp: false,
            snmp: false,
        };
        for x in v.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            match x {
                "arp" => m.arp = true,
                "icmp" => m.icmp = true,
                "tcp" => m.tcp = true,
                "snmp" => m.snmp = true,
                _ => {
                    return Err(bad(
                        "methods",
                        format!("`{x}` is not one of arp, icmp, tcp, snmp"),
                    ));
                }
            }
        }
        self.engine.methods = m;
        Ok(())
    }

    /// A named target (an address, a CIDR or a range): one wholly inside a range that
    /// is never scanned (loopback, multicast, ...) is refused.
    pub fn add_target(&mut self, t: &str) -> Result<(), String> {
        if t.contains(':') {
            let r = parse_target6(t)?;
            self.targets6.push(r);
            return Ok(());
        }
        let r: Range = t.parse().map_err(|e| format!("target `{t}`: {e}"))?;
        if let Some(kind) = special(r.first).filter(|_| special(r.last) == special(r.first)) {
            return Err(format!("target `{t}` is {kind}: never scanned"));
        }
        self.targets.push(r);
        Ok(())
    }

    /// `--exclude LIST` (repeatable): IPv4 addresses, CIDRs or ranges, IPv6 addresses
    /// or networks.
    pub fn add_excludes(&mut self, v: &str) -> Result<(), OptionError> {
        for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if t.contains(':') {
                let r = parse_exclude6(t).map_err(|e| bad("exclude", e))?;
                self.excludes6.push(r);
                continue;
            }
            let r = t
                .parse()
                .map_err(|e| bad("exclude", format!("`{t}`: {e}")))?;
            self.excludes.push(r);
        }
        Ok(())
    }

    /// Whether `ip` is one of the IPv6 excludes.
    pub fn excluded6(&self, ip: Ipv6Addr) -> bool {
        self.excludes6.iter().any(|r| r.first <= ip && ip <= r.last)
    }
}

/// Widest IPv6 target range: a /112 (65,536 addresses).
pub const MAX_PREFIX6: u8 = 112;

/// An IPv6 exclude: an address or a network `addr/prefix` of any length.
fn parse_exclude6(t: &str) -> Result<Range6, String> {
    let (a, p) = t.split_once('/').unwrap_or((t, "128"));
    let addr: Ipv6Addr = a
        .parse()
        .map_err(|_| format!("`{t}`: not an IPv6 address"))?;
    p.parse::<u8>()
        .ok()
        .and_then(|p| Range6::cidr(addr, p))
        .ok_or_else(|| format!("`{t}`: bad prefix length (0 to 128)"))
}

/// An IPv6 target: an address or a network `addr/prefix` of at most [`MAX_PREFIX6`]
/// bits of host part; link-local (it needs a zone), multicast, loopback and the
/// unspecified address are refused.
fn parse_target6(t: &str) -> Result<Range6, String> {
    let (a, p) = t.split_once('/').unwrap_or((t, "128"));
    let addr: Ipv6Addr = a
        .parse()
        .map_err(|_| format!("target `{t}`: not an IPv6 address"))?;
    let prefix: u8 = p
        .parse()
        .ok()
        .filter(|p| *p <= 128)
        .ok_or_else(|| format!("target `{t}`: bad prefix length (0 to 128)"))?;
    if prefix < MAX_PREFIX6 {
        return Err(format!(
            "target `{t}`: IPv6 ranges wider than /{MAX_PREFIX6} (65,536 addresses) are not scanned; \
             name smaller ranges"
        ));
    }
    let kind = if addr.is_unicast_link_local() {
        Some("link-local (fe80::/10): found by link discovery, a scan without targets")
    } else if addr.is_multicast() {
        Some("multicast (ff00::/8)")
    } else if addr.is_loopback() || addr.is_unspecified() {
        Some("loopback or unspecified")
    } else {
        None
    };
    if let Some(k) = kind {
        return Err(format!("target `{t}` is {k}: never scanned"));
    }
    Range6::cidr(addr, prefix).ok_or_else(|| format!("target `{t}`: bad prefix length"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_range_checked_and_named() {
        let mut r = ScanRequest::default();
        r.set_timeout_ms("5000").unwrap();
        assert_eq!(r.engine.max_timeout, Duration::from_secs(5));
        assert_eq!(
            r.set_timeout_ms("0").unwrap_err().to_string(),
            "--timeout: 0 is out of range (1 to 60000)"
        );
        r.set_ports("22,80,22,443").unwrap();
        assert_eq!(r.engine.ports.as_slice(), &[22, 80, 443]);
        assert_eq!(r.ports, [22, 80, 443]);
        assert!(r.set_ports("22,x").unwrap_err().to_string().contains("`x`"));
        assert!(r.set_ports(",").is_err());
        // top100: all swept, the 16 most frequent probed by discovery; repeats dropped.
        r.set_ports("5985,top100,80").unwrap();
        assert_eq!(r.ports.len(), 101);
        assert_eq!(r.ports[..3], [5985, 80, 23]);
        assert_eq!(r.engine.ports.len(), engine::MAX_PORTS);
        assert_eq!(r.engine.ports[..2], [5985, 80]);
        let many: Vec<String> = (1..=300).map(|p| p.to_string()).collect();
        assert!(
            r.set_ports(&many.join(","))
                .unwrap_err()
                .to_string()
                .contains("at most")
        );
        r.set_methods("icmp,tcp").unwrap();
        assert!(r.engine.methods.icmp && !r.engine.methods.snmp);
        assert!(r.set_methods("carrier-pigeon").is_err());
        r.add_excludes("198.18.0.1,198.18.1.0/24").unwrap();
        assert_eq!(r.excludes.len(), 2);
        for t in [
            "127.0.0.1",
            "224.0.0.0/4",
            "255.255.255.255",
            "0.0.0.0",
            "239.1.2.3/24",
        ] {
            assert!(
                r.add_target(t).unwrap_err().contains("never scanned"),
                "{t}"
            );
        }
        r.add_target("0.0.0.0/0").unwrap(); // refused by the plan's size limit instead
        r.add_target("2001:2::/112").unwrap();
        r.add_target("2001:2:1::7").unwrap();
        assert_eq!(r.targets6.len(), 2);
        r.add_excludes("2001:2::5, 198.18.0.9,2001:2:0:1::/64")
            .unwrap();
        assert_eq!((r.excludes.len(), r.excludes6.len()), (3, 2));
        assert!(r.excluded6("2001:2::5".parse().unwrap()));
        assert!(r.excluded6("2001:2:0:1::ffff".parse().unwrap()));
        assert!(!r.excluded6("2001:2::6".parse().unwrap()));
        assert_eq!(
            r.add_excludes("2001:2::/129").unwrap_err().to_string(),
            "--exclude: `2001:2::/129`: bad prefix length (0 to 128)"
        );
        assert_eq!(r.targets6[0].len(), 65_536);
        assert!(r.add_target("2001:2::/111").unwrap_err().contains("/112"));
        for t in ["fe80::1", "ff02::1", "::1", "::"] {
            assert!(
                r.add_target(t).unwrap_err().contains("never scanned"),
                "{t}"
            );
        }
        assert!(r.add_target("2001:2::/129").is_err());
        assert!(r.add_target("300.1.1.1").is_err());
    }
}
