//! What the stages of the pipeline speak: where results go ([`Sink`], [`Note`],
//! [`Progress`]) and what a collector is ([`Collector`]). Discovery and the collectors
//! import this file, never the pipeline that runs them.

use ksocket_proto::records::{Host, Section};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

/// How far a scan has come, for a progress line.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub probed: u64,
    pub total: u64,
    pub up: u64,
    pub sent: u64,
}

/// Where a scan's results go, as they come.
pub trait Sink {
    /// A host whose record is complete (every collector that applies to it is done).
    fn host(&mut self, h: Host) -> std::io::Result<()>;
    /// Something the operator should know.
    fn note(&mut self, n: Note);
    /// How far discovery has come (at most every 200 ms).
    fn progress(&mut self, _p: Progress) {}
    /// Whether the scan should stop now (a cancelled operation): discovery checks it
    /// with each progress report, and the details phase at each host.
    fn cancelled(&self) -> bool {
        false
    }
}

/// A message for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub level: log::Level,
    pub text: String,
}

impl Note {
    pub fn info(text: impl Into<String>) -> Note {
        Note {
            level: log::Level::Info,
            text: text.into(),
        }
    }
    pub fn warn(text: impl Into<String>) -> Note {
        Note {
            level: log::Level::Warn,
            text: text.into(),
        }
    }
}

/// A future of a collector, run on the pipeline's one thread (smol).
pub type LocalFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

/// One kind of detail collection (SNMP today; SSH, WinRM, vSphere later). Its futures
/// run together on one thread: a collector waits on sockets, never on threads.
pub trait Collector {
    /// Its name in summaries and logs (`snmp`).
    fn name(&self) -> &'static str;
    /// Whether some credential of this collector applies to `ip`.
    fn applies(&self, ip: IpAddr) -> bool;
    /// A batch step over the hosts it applies to, before any collection; returns the
    /// hosts to collect (SNMP: those that answered a credential's sweep).
    fn prepare<'a>(&'a self, hosts: &'a [IpAddr]) -> LocalFuture<'a, Vec<IpAddr>>;
    /// Collects one host, and is done by `deadline` (with what it has then).
    fn collect(&self, ip: IpAddr, deadline: Instant) -> LocalFuture<'_, Section>;
    /// The section of a host whose collection was cut short or never started.
    fn timed_out(&self, why: String) -> Section;
}

/// The IPv4 addresses among `hosts`: the SNMP and SSH collectors read IPv4 hosts only
/// (an IPv6-only host is listed with what discovery found).
pub fn ipv4_only(hosts: &[IpAddr]) -> Vec<Ipv4Addr> {
    hosts
        .iter()
        .filter_map(|h| match h {
            IpAddr::V4(v) => Some(*v),
            IpAddr::V6(_) => None,
        })
        .collect()
}
