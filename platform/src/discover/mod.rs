//! Discovery: which hosts of the targets are alive.
//!
//! 1. [`plan`]: from what the kernel said (netlink), the target set and the engine's
//!    interfaces and routes, without sockets.
//! 2. [`raw`]: the sans-IO engine of `ksocket-core` driven over AF_PACKET sockets; or,
//!    without the privilege, [`unpriv`]: ICMP datagram sockets and TCP connect().
//! 3. [`merge`]: the kernel's neighbour table and the gateway's ARP table
//!    ([`gateway`]) add what the probes did not see.

pub mod gateway;
pub mod merge;
pub mod oui;
pub mod plan;
pub mod raw;
pub mod request;
mod unpriv;

pub use request::ScanRequest;

use crate::pipeline::interface::{Note, Sink};
use crate::sys::netlink::{self, Snapshot};
use ksocket_core::addr::{AddrSet, Range};
use ksocket_core::wire::Mac;
use ksocket_proto::records::{Host, SCHEMA, Summary};
use plan::{Plan, PlanError, SET_RANGES};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The live hosts, and what it took to find them.
pub struct Discovery {
    pub hosts: BTreeMap<Ipv4Addr, Host>,
    pub summary: Summary,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("cannot reserve a source port: {0}")]
    Port(std::io::Error),
    #[error("{0}")]
    Socket(std::io::Error),
    #[error("scan failed: {0}")]
    Engine(std::io::Error),
}

/// Finds the live hosts of `req` on the box `snap` describes; `arp`: the default
/// gateway's ARP table (see [`gateway::arp_tables`]).
pub fn discover(
    req: &ScanRequest,
    snap: &Snapshot,
    arp: &BTreeMap<Ipv4Addr, Option<Mac>>,
    sink: &mut dyn Sink,
) -> Result<Discovery, DiscoverError> {
    let plan = plan::plan(req, snap, arp, &mut raw::gateway_mac)?;
    for w in &plan.warnings {
        sink.note(Note::warn(w.clone()));
    }
    let (_udp, _tcp, sport) = raw::reserve_port().map_err(DiscoverError::Port)?;
    let mut cfg = req.engine.clone();
    cfg.sport = sport;
    cfg.key = crate::sys::random::u64();
    let started = std::time::Instant::now();
    let mut hosts = BTreeMap::new();
    let mut summary = match raw::open_sockets(&plan).map_err(DiscoverError::Socket)? {
        Some(socks) => {
            let st = raw::run(cfg, &plan, socks, &mut hosts, &mut |p| {
                sink.progress(p);
                !sink.cancelled()
            })
            .map_err(DiscoverError::Engine)?;
            Summary {
                schema: SCHEMA,
                hosts: 0,
                probed: st.probed,
                sent: st.sent,
                retries: Some(st.retries),
                retried: st.retried,
                no_route: st.no_route,
                unprivileged: false,
                discovery_seconds: 0.0,
                details: Vec::new(),
                checks: Vec::new(),
            }
        }
        None => unprivileged(&cfg, &plan, &mut hosts, sink)?,
    };
    summary.discovery_seconds = started.elapsed().as_secs_f64();
    // Only adds provenance: a kernel (or emulator) that refuses the dump loses nothing.
    match netlink::neighbours() {
        Ok(n) => merge::neighbours(&plan, &mut hosts, &n),
        Err(e) => log::warn!("neighbour table not read: {e}"),
    }
    merge::gateway_arp(&plan, &mut hosts, arp);
    summary.hosts = hosts.len() as u64;
    for (ip, h) in &hosts {
        log::debug!(
            "host {ip} up: via {:?}, mac {:?}, rtt {:?}",
            h.via,
            h.mac,
            h.rtt_ms
        );
    }
    Ok(Discovery { hosts, summary })
}

/// The fallback without raw packet access, over the targets some route reaches.
fn unprivileged(
    cfg: &ksocket_core::engine::Config,
    plan: &Plan,
    hosts: &mut BTreeMap<Ipv4Addr, Host>,
    sink: &mut dyn Sink,
) -> Result<Summary, DiscoverError> {
    sink.note(Note::warn(
        "no raw packet access (run as root, or setcap cap_net_raw+ep on the binary); \
         falling back to ICMP datagram sockets and TCP connect(): results may be incomplete \
         (no ARP probes: on-link hosts that answer nothing above ARP can be missed)",
    ));
    let mut reachable: AddrSet<SET_RANGES> = AddrSet::new();
    for t in plan.targets.ranges() {
        for r in &plan.routes {
            let (first, last) = (t.first.max(r.dst.first), t.last.min(r.dst.last));
            if first <= last {
                reachable
                    .insert(Range { first, last })
                    .map_err(|e| PlanError::TargetSet(e.to_string()))?;
            }
        }
    }
    let no_route = plan.targets.len() - reachable.len();
    let (found, s) = unpriv::scan(cfg, &reachable, cfg.key);
    for w in s.warnings {
        sink.note(Note::warn(w));
    }
    for (ip, f) in found {
        let mut h = Host::new(ip);
        h.via = f.via;
        if let Some(r) = f.rtt {
            h.set_rtt(r);
        }
        h.iface = plan.if_names.get(usize::from(plan.iface_of(ip))).cloned();
        hosts.insert(ip, h);
    }
    Ok(Summary {
        schema: SCHEMA,
        hosts: 0,
        probed: s.probed,
        sent: s.probes,
        retries: None,
        retried: s.retried,
        no_route,
        unprivileged: true,
        discovery_seconds: 0.0,
        details: Vec::new(),
        checks: Vec::new(),
    })
}
