//! A validated scan request: the typed form of `ksocket scan`'s options, built once by
//! a front end (the command line today, an operation from the controller later).

use crate::credentials::secret::Secret;
use ksocket_core::addr::Range;
use ksocket_core::engine::{self, Config, Methods};
use std::time::Duration;

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// Named targets; empty: every attached network (up to `max_prefix`) and the
    /// default gateways.
    pub targets: Vec<Range>,
    pub excludes: Vec<Range>,
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
}

impl Default for ScanRequest {
    fn default() -> ScanRequest {
        ScanRequest {
            targets: Vec::new(),
            excludes: Vec::new(),
            interface: None,
            max_prefix: 22,
            engine: Config::default(),
            community: None,
            details: true,
        }
    }
}

/// A value out of its range, or one that does not parse: which option, and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--{option}: {why}")]
pub struct OptionError {
    pub option: &'static str,
    pub why: String,
}

fn bad(option: &'static str, why: String) -> OptionError {
    OptionError { option, why }
}

/// A whole number in `lo..=hi`.
pub fn number(option: &'static str, v: &str, lo: u64, hi: u64) -> Result<u64, OptionError> {
    let n: u64 = v
        .trim()
        .parse()
        .map_err(|_| bad(option, format!("`{v}` is not a number")))?;
    if n < lo || n > hi {
        return Err(bad(option, format!("{n} is out of range ({lo} to {hi})")));
    }
    Ok(n)
}

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

    /// `--ports LIST`: TCP ports for routed targets, in order, without repeats.
    pub fn set_ports(&mut self, v: &str) -> Result<(), OptionError> {
        self.engine.ports.clear();
        for p in v.split(',').filter(|p| !p.trim().is_empty()) {
            let n = number("ports", p, 1, 65535)? as u16;
            if !self.engine.ports.contains(&n) {
                self.engine
                    .ports
                    .push(n)
                    .map_err(|_| bad("ports", format!("at most {} ports", engine::MAX_PORTS)))?;
            }
        }
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

    /// `--exclude LIST` (repeatable).
    pub fn add_excludes(&mut self, v: &str) -> Result<(), OptionError> {
        for t in v.split(',').filter(|t| !t.is_empty()) {
            let r = t
                .parse()
                .map_err(|e| bad("exclude", format!("`{t}`: {e}")))?;
            self.excludes.push(r);
        }
        Ok(())
    }
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
        assert!(r.set_ports("22,x").unwrap_err().to_string().contains("`x`"));
        r.set_methods("icmp,tcp").unwrap();
        assert!(r.engine.methods.icmp && !r.engine.methods.snmp);
        assert!(r.set_methods("carrier-pigeon").is_err());
        r.add_excludes("198.18.0.1,198.18.1.0/24").unwrap();
        assert_eq!(r.excludes.len(), 2);
    }
}
