//! Discovery: which hosts of the targets are alive.
//!
//! 1. [`plan`]: from what the kernel said (netlink), the target set and the engine's
//!    interfaces and routes, without sockets.
//! 2. [`raw`]: the sans-IO engine of `ksocket-core` driven over AF_PACKET sockets; or,
//!    without the privilege, [`unpriv`]: ICMP datagram sockets and TCP connect().
//! 3. [`merge`]: the kernel's neighbour table and the gateway's ARP table
//!    ([`gateway`]) add what the probes did not see.
//! 4. [`six`]: IPv6, beside IPv4 on its own thread: link discovery (multicast echo,
//!    MLD, Neighbor Discovery) on every attached link when no target is named, named
//!    IPv6 targets through the routes; [`merge::ipv6`] joins each address to the host
//!    of its MAC.
//! 5. [`ports`]: the live IPv4 hosts' open ports (the sweep of `--ports` and UDP 161)
//!    and their banners; with raw packet access only.
//! 6. [`names`] (called by the pipeline after discovery): the hosts' names from
//!    reverse DNS, NetBIOS and mDNS.

pub mod gateway;
pub mod merge;
pub mod names;
pub mod oui;
pub mod plan;
pub mod ports;
pub mod raw;
pub mod request;
pub mod six;
mod unpriv;

pub use request::ScanRequest;

use crate::pipeline::interface::{Note, Sink};
use crate::sys::netlink::{self, Snapshot};
use ksocket_core::addr::{AddrSet, Range};
use ksocket_core::wire::Mac;
use ksocket_proto::records::{Host, SCHEMA, Summary};
use plan::{Plan, PlanError, SET_RANGES};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

/// The live hosts, and what it took to find them.
pub struct Discovery {
    pub hosts: BTreeMap<IpAddr, Host>,
    pub summary: Summary,
    /// The TCP ports every IPv4 host was swept for (empty: no sweep ran); a host's
    /// open ones are in its `ports`.
    pub swept: Vec<u16>,
    /// Hosts whose UDP 161 refused the sweep's SNMP probe (ICMP port unreachable).
    pub snmp_refused: BTreeSet<IpAddr>,
}

/// What the port sweep of the IPv4 hosts adds beside their records.
#[derive(Default)]
struct Swept4 {
    ports: Vec<u16>,
    snmp_refused: BTreeSet<Ipv4Addr>,
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

/// Finds the live hosts of `req` on the box `snap` describes; `gw`: the default
/// gateway's ARP table and IPv6 neighbour cache (see [`gateway::arp_tables`]). IPv4 and IPv6 discovery run at
/// once (IPv6 on a thread of its own); IPv6 addresses join the host of their MAC.
pub fn discover(
    req: &ScanRequest,
    snap: &Snapshot,
    gw: &gateway::GatewayTables,
    sink: &mut dyn Sink,
) -> Result<Discovery, DiscoverError> {
    let arp = &gw.arp;
    let nd: Vec<std::net::Ipv6Addr> = gw.nd.keys().copied().collect();
    // No target at all: every attached link, over both. Named targets: their families.
    let want4 = !req.targets.is_empty() || req.targets6.is_empty();
    let want6 = !req.targets6.is_empty() || req.targets.is_empty();
    let net6 = netlink::Net6::read();
    let own6: Vec<std::net::Ipv6Addr> = net6
        .as_ref()
        .map(|n| n.addrs.iter().map(|a| a.local).collect())
        .unwrap_or_default();
    let plan6 = if want6 {
        match &net6 {
            Ok(net) => Some(six::plan6(req, snap, net, &nd, &mut six::gateway_mac6)),
            Err(e) => {
                sink.note(Note::warn(format!(
                    "IPv6 is not scanned: the kernel's IPv6 state cannot be read: {e}"
                )));
                None
            }
        }
    } else {
        None
    };
    if let Some(p) = &plan6 {
        for w in &p.warnings {
            sink.note(Note::warn(w.clone()));
        }
    }
    // Every named IPv6 address excluded: nothing of IPv6 to do.
    let all6_excluded =
        !req.targets6.is_empty() && plan6.as_ref().is_some_and(|p| p.ranges.is_empty());
    if all6_excluded && !want4 {
        return Err(PlanError::Nothing.into());
    }
    if !all6_excluded
        && !req.targets6.is_empty()
        && plan6.as_ref().is_none_or(|p| p.routes.is_empty())
    {
        if !want4 {
            return Err(PlanError::NoRoute6.into());
        }
        sink.note(Note::warn(PlanError::NoRoute6.to_string()));
    }
    let plan6 = plan6.filter(|p| !p.is_empty() && (p.ranges.is_empty() || !p.routes.is_empty()));
    let plan = if want4 {
        match plan::plan(req, snap, arp, &mut raw::gateway_mac) {
            Ok(p) => Some(p),
            // An IPv6-only box (or link) scanned without targets: IPv6 alone.
            Err(e) if req.targets.is_empty() && plan6.is_some() => {
                sink.note(Note::warn(format!("IPv4 is not scanned: {e}")));
                None
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    if let Some(p) = &plan {
        for w in &p.warnings {
            sink.note(Note::warn(w.clone()));
        }
    }
    let (_udp, _tcp, sport) = raw::reserve_port().map_err(DiscoverError::Port)?;
    let mut cfg = req.engine.clone();
    cfg.sport = sport;
    cfg.key = crate::sys::random::u64();
    let mut cfg6 = six::config6(&cfg);
    cfg6.key = crate::sys::random::u64();
    let started = std::time::Instant::now();
    let (v4, v6) = std::thread::scope(|s| {
        let v6 = plan6.as_ref().map(|p6| {
            std::thread::Builder::new()
                .name("discover6".into())
                .spawn_scoped(s, move || six::run6(cfg6, p6))
        });
        let v4 = match &plan {
            Some(p) => discover4(req, &cfg, p, arp, sink).map(Some),
            None => Ok(None),
        };
        let v6 = match v6 {
            None => Ok(None),
            Some(Err(e)) => Err(DiscoverError::Engine(e)),
            Some(Ok(h)) => h
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("IPv6 discovery failed")))
                .map_err(DiscoverError::Engine),
        };
        (v4, v6)
    });
    let (hosts4, mut summary, swept) =
        v4?.unwrap_or_else(|| (BTreeMap::new(), empty_summary(), Swept4::default()));
    let mut hosts: BTreeMap<IpAddr, Host> = hosts4
        .into_iter()
        .map(|(ip, h)| (IpAddr::V4(ip), h))
        .collect();
    match v6? {
        Some((found, st)) => {
            summary.probed += st.started;
            summary.sent += st.sent;
            if let Some(r) = summary.retries.as_mut() {
                *r += st.sent_retry;
            }
            summary.no_route += st.no_route;
            merge::ipv6(&mut hosts, found);
        }
        None if plan6.is_some() => sink.note(Note::warn(
            "IPv6 is not scanned: it needs raw packet access (run as root, or setcap \
             cap_net_raw+ep on the binary)",
        )),
        None => {}
    }
    merge::gateway_nd(req, &mut hosts, &gw.nd, &own6);
    merge::exclude6(&mut hosts, req);
    // Keyed by the primary address, which a merge may have changed (a global address
    // found after the link-local one).
    let mut hosts = merge::rekey(hosts);
    oui::fill(hosts.values_mut());
    summary.discovery_seconds = started.elapsed().as_secs_f64();
    summary.hosts = hosts.len() as u64;
    for (ip, h) in &hosts {
        log::debug!(
            "host {ip} up: via {:?}, mac {:?}, addresses {:?}, rtt {:?}",
            h.via,
            h.mac,
            h.addresses,
            h.rtt_ms
        );
    }
    Ok(Discovery {
        hosts,
        summary,
        swept: swept.ports,
        snmp_refused: swept.snmp_refused.into_iter().map(IpAddr::V4).collect(),
    })
}

fn empty_summary() -> Summary {
    Summary {
        schema: SCHEMA,
        hosts: 0,
        probed: 0,
        sent: 0,
        retries: Some(0),
        retried: 0,
        no_route: 0,
        unprivileged: false,
        discovery_seconds: 0.0,
        details: Vec::new(),
        checks: Vec::new(),
    }
}

/// IPv4 discovery of `plan`: the engine (or the unprivileged fallback), then the
/// kernel's neighbour table and the gateway's ARP table; then the port sweep of the
/// hosts found (unless `--no-ports`).
fn discover4(
    req: &ScanRequest,
    cfg: &ksocket_core::engine::Config,
    plan: &Plan,
    arp: &BTreeMap<Ipv4Addr, Option<Mac>>,
    sink: &mut dyn Sink,
) -> Result<(BTreeMap<Ipv4Addr, Host>, Summary, Swept4), DiscoverError> {
    let mut hosts = BTreeMap::new();
    let mut raw_access = false;
    let summary = match raw::open_sockets(plan).map_err(DiscoverError::Socket)? {
        Some(socks) => {
            raw_access = true;
            let st = raw::run(cfg.clone(), plan, socks, &mut hosts, &mut |p| {
                sink.progress(p);
                !sink.cancelled()
            })
            .map_err(DiscoverError::Engine)?;
            Summary {
                probed: st.probed,
                sent: st.sent,
                retries: Some(st.retries),
                retried: st.retried,
                no_route: st.no_route,
                ..empty_summary()
            }
        }
        None => unprivileged(cfg, plan, &mut hosts, sink)?,
    };
    // Only adds provenance: a kernel (or emulator) that refuses the dump loses nothing.
    match netlink::neighbours() {
        Ok(n) => merge::neighbours(plan, &mut hosts, &n),
        Err(e) => log::warn!("neighbour table not read: {e}"),
    }
    merge::gateway_arp(plan, &mut hosts, arp);
    let mut swept = Swept4::default();
    if req.sweep && !hosts.is_empty() {
        if raw_access {
            swept = sweep_ports(req, cfg, plan, &mut hosts, sink)?;
        } else {
            sink.note(Note::warn(
                "no raw packet access: ports were not swept (no ports, no banners)",
            ));
        }
    }
    Ok((hosts, summary, swept))
}

/// The port sweep of `hosts` (see [`ports`]), then their banners.
fn sweep_ports(
    req: &ScanRequest,
    cfg: &ksocket_core::engine::Config,
    plan: &Plan,
    hosts: &mut BTreeMap<Ipv4Addr, Host>,
    sink: &mut dyn Sink,
) -> Result<Swept4, DiscoverError> {
    let t0 = std::time::Instant::now();
    let socks = raw::open_sockets(plan)
        .map_err(DiscoverError::Socket)?
        .ok_or_else(|| DiscoverError::Socket(std::io::ErrorKind::PermissionDenied.into()))?;
    let cancelled = || sink.cancelled();
    let mut cfg = cfg.clone();
    cfg.rate = req.sweep_rate;
    let s = ports::sweep(
        &cfg,
        plan,
        socks,
        &req.ports,
        cfg.methods.snmp,
        hosts,
        &cancelled,
    )
    .map_err(DiscoverError::Engine)?;
    let sweep_s = t0.elapsed().as_secs_f64();
    let banners = ports::banners::read(
        hosts,
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(2),
    );
    log::info!(
        "ports swept: {} hosts, {} probes ({} retries), {} open, {} closed, {} filtered, \
         {} hosts without a MAC, {sweep_s:.3} s; {banners} banners read, {:.3} s in all",
        s.stats.hosts,
        s.stats.sent,
        s.stats.sent_retry,
        s.stats.open,
        s.stats.closed,
        s.stats.filtered,
        s.no_mac,
        t0.elapsed().as_secs_f64()
    );
    Ok(Swept4 {
        ports: req.ports.clone(),
        snmp_refused: s.snmp_refused,
    })
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
