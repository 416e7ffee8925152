//! The resolver configuration: the nameservers, `timeout` and `attempts` of `resolv.conf`.

use super::MAX_SERVERS;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// The resolver configuration that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolv {
    pub servers: Vec<SocketAddr>,
    /// Per try (`options timeout:N`, default 5 s).
    pub timeout: Duration,
    /// Tries of each server (`options attempts:N`, default 2).
    pub attempts: u32,
}

impl Resolv {
    /// Reads `nameserver` lines and the `timeout`/`attempts` options as glibc does (the
    /// last option wins; without any nameserver, the local one). Anything it does not
    /// know is skipped.
    pub fn parse(text: &str) -> Resolv {
        let mut r = Resolv {
            servers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
        };
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut w = line.split_whitespace();
            match w.next() {
                Some("nameserver") => {
                    let Some(a) = w.next() else { continue };
                    // A zone index (fe80::1%eth0) is not followed: such a server is
                    // skipped (it would need the interface's index).
                    if let Ok(ip) = a.parse::<IpAddr>()
                        && r.servers.len() < MAX_SERVERS
                    {
                        r.servers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("options") => {
                    for o in w {
                        if let Some(v) = o.strip_prefix("timeout:")
                            && let Ok(n) = v.parse::<u64>()
                        {
                            r.timeout = Duration::from_secs(n.clamp(1, 30));
                        } else if let Some(v) = o.strip_prefix("attempts:")
                            && let Ok(n) = v.parse::<u32>()
                        {
                            r.attempts = n.clamp(1, 5);
                        }
                    }
                }
                _ => {}
            }
        }
        if r.servers.is_empty() {
            r.servers.push(SocketAddr::from((Ipv4Addr::LOCALHOST, 53)));
        }
        r
    }

    /// [`Resolv::parse`] of `path` (at most 64 KiB); a missing or unreadable file is
    /// an empty one (glibc's default: the local nameserver).
    pub fn read(path: &Path) -> Resolv {
        match crate::sys::files::read_bounded(path, 64 * 1024) {
            Ok(b) => Resolv::parse(&String::from_utf8_lossy(&b)),
            Err(e) => {
                log::debug!("names: {} not read: {e}", path.display());
                Resolv::parse("")
            }
        }
    }
}
