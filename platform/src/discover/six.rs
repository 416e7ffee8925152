//! IPv6 discovery: the plan (which links are discovered, which routes reach named
//! IPv6 targets, which neighbour-table and SNMP addresses are solicited) and the
//! driver of `ksocket-core`'s [`Engine6`] over AF_PACKET sockets that carry IPv6 only.
//!
//! A scan without named targets discovers every attached Ethernet link that has an
//! IPv6 link-local address; a scan of named IPv6 targets (each range at most a /112)
//! probes them through the kernel's IPv6 routes: Neighbor Solicitation on-link, echo
//! and TCP SYN through a gateway.

use super::request::ScanRequest;
use crate::sys::netlink::{self, Net6, Snapshot};
use crate::sys::packet::PacketSocket;
use ksocket_core::engine::{Config, Instant};
use ksocket_core::engine6::{
    self, Config6, Engine6, Event6, How, Iface6, MAX_CANDIDATES, Range6, Route6, Stats6, Via6,
};
use ksocket_core::wire::{Link, Mac};
use ksocket_core::wire6::{self, Packet6, Probe6};
use smol::Async;
use std::collections::BTreeMap;
use std::io;
use std::net::Ipv6Addr;
use std::time::Duration;

/// IPv6 targets in flight per class.
const WINDOW6: usize = 1024;

/// What the IPv6 engine needs.
#[derive(Debug, Default)]
pub struct Plan6 {
    pub ifaces: Vec<Iface6>,
    pub if_index: Vec<u32>,
    pub if_names: Vec<String>,
    pub routes: Vec<Route6>,
    pub ranges: Vec<Range6>,
    pub candidates: Vec<(Ipv6Addr, u8)>,
    pub warnings: Vec<String>,
}

impl Plan6 {
    /// Nothing to do: no link to discover, no target, no candidate.
    pub fn is_empty(&self) -> bool {
        !self.ifaces.iter().any(|f| f.discover) && self.ranges.is_empty()
    }
}

/// One IPv6 address found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found6 {
    /// The node's MAC, when an answer came from the link itself.
    pub mac: Option<Mac>,
    /// Every way it answered, first seen first.
    pub hows: Vec<How>,
    pub rtt: Option<Duration>,
    /// Interface name.
    pub iface: Option<String>,
}

/// Plans IPv6 discovery for `req`: link discovery when no target at all is named,
/// named IPv6 targets through the routes. `snmp_nd`: IPv6 neighbours the gateway's
/// SNMP table names (solicited on the link whose prefix holds them). `gateway_mac`
/// finds a gateway's MAC (kernel interface index, interface, gateway).
pub fn plan6(
    req: &ScanRequest,
    snap: &Snapshot,
    net: &Net6,
    snmp_nd: &[Ipv6Addr],
    gateway_mac: &mut dyn FnMut(u32, &Iface6, Ipv6Addr) -> Option<Mac>,
) -> Plan6 {
    let mut p = Plan6::default();
    let wanted = |l: &netlink::Link| {
        l.up && !l.loopback && req.interface.as_ref().is_none_or(|n| *n == l.name)
    };
    let link_mode = req.targets.is_empty() && req.targets6.is_empty();
    if link_mode {
        for l in snap.links.iter().filter(|l| wanted(l)) {
            if !l.ethernet || l.noarp || net.link_local(l.index).is_none() {
                continue;
            }
            if add_iface(&mut p, snap, net, l.index, true).is_none() {
                break;
            }
        }
        // On-link routes of the discovered links: answers from them carry their MAC.
        for r in &net.routes {
            if let (None, Some(i)) = (r.gateway, p.if_index.iter().position(|&x| x == r.oif))
                && !wire6::is_link_local(r.dst)
                && p.routes.len() < engine6::MAX_ROUTES
            {
                p.routes.push(Route6 {
                    dst: r.dst,
                    prefix: r.prefix,
                    iface: i as u8,
                    via: Via6::OnLink,
                });
            }
        }
        let ours = |ip: &Ipv6Addr| net.addrs.iter().any(|a| a.local == *ip);
        let mut cands: Vec<(Ipv6Addr, u8)> = Vec::new();
        for n in net
            .neighs
            .iter()
            .filter(|n| n.usable && !ours(&n.ip) && !req.excluded6(n.ip))
        {
            if let Some(i) = p.if_index.iter().position(|&x| x == n.index) {
                cands.push((n.ip, i as u8));
            }
        }
        for ip in snmp_nd
            .iter()
            .filter(|ip| !ours(ip) && !req.excluded6(**ip))
        {
            let on = p
                .routes
                .iter()
                .filter(|r| r.contains(*ip))
                .max_by_key(|r| r.prefix);
            if let Some(r) = on {
                cands.push((*ip, r.iface));
            }
        }
        cands.sort();
        cands.dedup();
        if cands.len() > MAX_CANDIDATES {
            p.warnings.push(format!(
                "{} IPv6 neighbours known; only {MAX_CANDIDATES} are solicited",
                cands.len()
            ));
            cands.truncate(MAX_CANDIDATES);
        }
        p.candidates = cands;
        return p;
    }
    if req.targets6.is_empty() {
        return p;
    }
    p.ranges = subtract6(&req.targets6, &req.excludes6);
    if p.ranges.is_empty() {
        return p;
    }
    let mut routes: Vec<&netlink::Route6> = net
        .routes
        .iter()
        .filter(|r| snap.link(r.oif).is_some_and(wanted) && !wire6::is_link_local(r.dst))
        .collect();
    routes.sort_by(|a, b| b.prefix.cmp(&a.prefix).then(a.metric.cmp(&b.metric)));
    for r in routes {
        let Some(dst) = Range6::cidr(r.dst, r.prefix) else {
            continue;
        };
        let reaches = p
            .ranges
            .iter()
            .any(|t| t.first <= dst.last && dst.first <= t.last);
        let dup = p
            .routes
            .iter()
            .any(|x| x.dst == dst.first && x.prefix == r.prefix);
        if !reaches || dup || p.routes.len() >= engine6::MAX_ROUTES {
            continue;
        }
        let i = match p.if_index.iter().position(|&x| x == r.oif) {
            Some(i) => i,
            None => match add_iface(&mut p, snap, net, r.oif, false) {
                Some(i) => i,
                None => continue,
            },
        };
        let via = match r.gateway {
            None => Via6::OnLink,
            Some(gw) if p.ifaces[i].link == Link::RawIp => Via6::Gateway {
                ip: gw,
                mac: [0; 6],
            },
            Some(gw) => {
                let known = net
                    .neighs
                    .iter()
                    .find(|n| n.index == r.oif && n.ip == gw && n.usable)
                    .and_then(|n| n.mac);
                match known.or_else(|| gateway_mac(r.oif, &p.ifaces[i], gw)) {
                    Some(mac) => Via6::Gateway { ip: gw, mac },
                    None => {
                        p.warnings.push(format!(
                            "IPv6 gateway {gw} on {} does not answer Neighbor Solicitation: \
                             targets behind it are skipped",
                            p.if_names[i]
                        ));
                        continue;
                    }
                }
            }
        };
        p.routes.push(Route6 {
            dst: dst.first,
            prefix: r.prefix,
            iface: i as u8,
            via,
        });
    }
    p
}

/// Adds interface `index` to the plan (at most [`engine6::MAX_IFACES`]); its position.
fn add_iface(
    p: &mut Plan6,
    snap: &Snapshot,
    net: &Net6,
    index: u32,
    discover: bool,
) -> Option<usize> {
    let l = snap.link(index)?;
    if p.ifaces.len() >= engine6::MAX_IFACES {
        p.warnings.push(format!(
            "more than {} IPv6 interfaces: {} is left out",
            engine6::MAX_IFACES,
            l.name
        ));
        return None;
    }
    let eth = l.ethernet && !l.noarp && !l.pointopoint;
    let mut f = Iface6 {
        link: if eth { Link::Ethernet } else { Link::RawIp },
        mac: l.mac.unwrap_or([0; 6]),
        link_local: net.link_local(index),
        globals: Default::default(),
        discover: discover && eth,
    };
    for a in net.globals(index) {
        if f.globals.push(a.local).is_err() {
            break;
        }
    }
    p.ifaces.push(f);
    p.if_index.push(index);
    p.if_names.push(l.name.clone());
    Some(p.ifaces.len() - 1)
}

/// The IPv6 engine's settings from the scan's (rate, timeouts, retries, ports, methods).
pub fn config6(c: &Config) -> Config6 {
    let mut ports = Config6::default().ports;
    ports.clear();
    for p in &c.ports {
        let _ = ports.push(*p);
    }
    Config6 {
        rate: c.rate,
        burst: c.burst,
        timeout: c.timeout,
        min_timeout: c.min_timeout,
        max_timeout: c.max_timeout,
        retries: c.retries,
        ports,
        icmp: c.methods.icmp,
        tcp: c.methods.tcp,
        key: c.key,
        sport: c.sport,
        ..Config6::default()
    }
}

/// Runs the IPv6 engine over the plan; `Ok(None)` without the privilege for raw sockets.
pub fn run6(
    cfg: Config6,
    plan: &Plan6,
) -> io::Result<Option<(BTreeMap<Ipv6Addr, Found6>, Stats6)>> {
    let mut socks = Vec::new();
    for (i, f) in plan.ifaces.iter().enumerate() {
        match PacketSocket::open6(plan.if_index[i], f.link == Link::Ethernet) {
            Ok(s) => socks.push(Async::new(s)?),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok(None),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot open a packet socket on {}: {e}", plan.if_names[i]),
                ));
            }
        }
    }
    // On the heap, written once (see raw::run).
    let mut slot = Box::new_uninit();
    let eng: &mut Engine6<WINDOW6> = Engine6::init(
        &mut slot,
        cfg,
        &plan.ifaces,
        &plan.routes,
        &plan.ranges,
        &plan.candidates,
    )
    .map_err(|e| io::Error::other(format!("IPv6 scan setup: {e}")))?;
    let mut found = BTreeMap::new();
    smol::block_on(drive(eng, &socks, plan, &mut found))?;
    Ok(Some((found, *eng.stats())))
}

async fn drive(
    eng: &mut Engine6<WINDOW6>,
    socks: &[Async<PacketSocket>],
    plan: &Plan6,
    found: &mut BTreeMap<Ipv6Addr, Found6>,
) -> io::Result<()> {
    let started = std::time::Instant::now();
    let now = || Instant::from_nanos(started.elapsed().as_nanos() as u64);
    let mut buf = vec![0u8; 2048];
    let mut rbuf = vec![0u8; 65536];
    loop {
        let t = now();
        while let Some(tx) = eng.poll_transmit(t, &mut buf) {
            super::raw::send(&socks[usize::from(tx.iface)], &buf[..tx.len]).await?;
        }
        drain(eng, plan, found);
        if eng.is_finished() {
            return Ok(());
        }
        let timer = match eng.poll_timeout() {
            Some(d) => smol::Timer::at(started + Duration::from_nanos(d.as_nanos())),
            None => smol::Timer::after(Duration::from_millis(100)),
        };
        let readable = smol::future::poll_fn(|cx| {
            for s in socks {
                if let std::task::Poll::Ready(r) = s.poll_readable(cx) {
                    return std::task::Poll::Ready(r);
                }
            }
            std::task::Poll::Pending
        });
        smol::future::or(readable, async {
            timer.await;
            Ok(())
        })
        .await?;
        for (i, s) in socks.iter().enumerate() {
            for _ in 0..4096 {
                match s.get_ref().recv(&mut rbuf) {
                    Ok(n) => {
                        eng.handle_rx(now(), i as u8, &rbuf[..n]);
                        drain(eng, plan, found);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

fn drain(eng: &mut Engine6<WINDOW6>, plan: &Plan6, found: &mut BTreeMap<Ipv6Addr, Found6>) {
    while let Some(e) = eng.poll_event() {
        if let Event6::Seen {
            ip,
            mac,
            how,
            rtt,
            iface,
        } = e
        {
            let f = found.entry(ip).or_insert_with(|| Found6 {
                mac: None,
                hows: Vec::new(),
                rtt: None,
                iface: plan.if_names.get(usize::from(iface)).cloned(),
            });
            if f.mac.is_none() {
                f.mac = mac;
            }
            if f.rtt.is_none() {
                f.rtt = rtt;
            }
            if !f.hows.contains(&how) {
                f.hows.push(how);
            }
        }
    }
}

/// The MAC of an IPv6 gateway asked with our own Neighbor Solicitation (3 tries,
/// 300 ms each), as the kernel would before its first packet.
pub fn gateway_mac6(oif: u32, ifc: &Iface6, gw: Ipv6Addr) -> Option<Mac> {
    let src = if wire6::is_link_local(gw) {
        ifc.link_local
    } else {
        ifc.globals.first().copied().or(ifc.link_local)
    }?;
    let sock = match PacketSocket::open6(oif, true) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Some([0; 6]),
        Err(_) => return None,
    };
    let sock = Async::new(sock).ok()?;
    let group = wire6::solicited_node(gw);
    let mut buf = [0u8; 128];
    let mut rbuf = [0u8; 2048];
    smol::block_on(async {
        for _ in 0..3 {
            let probe = Probe6::Solicit {
                target: gw,
                mac: ifc.mac,
            };
            let link = Some((ifc.mac, wire6::multicast_mac(group)));
            let n = wire6::emit_ipv6(&mut buf, link, src, group, 255, probe).ok()?;
            super::raw::send(&sock, &buf[..n]).await.ok()?;
            let deadline = std::time::Instant::now() + Duration::from_millis(300);
            let answer = async {
                loop {
                    let _ = sock.readable().await;
                    while let Ok(n) = sock.get_ref().recv(&mut rbuf) {
                        if let Ok(f) = wire6::parse(Link::Ethernet, &rbuf[..n])
                            && let Packet6::NeighborAdvert { target, tll, .. } = f.packet
                            && target == gw
                            && let Some(mac) = tll.or(f.src_mac)
                        {
                            return Some(mac);
                        }
                    }
                }
            };
            let timeout = async {
                smol::Timer::at(deadline).await;
                None
            };
            if let Some(mac) = smol::future::or(answer, timeout).await {
                return Some(mac);
            }
        }
        None
    })
}

/// `ranges` without the addresses of `ex`, in order.
pub fn subtract6(ranges: &[Range6], ex: &[Range6]) -> Vec<Range6> {
    let mut out: Vec<(u128, u128)> = ranges
        .iter()
        .map(|r| (u128::from(r.first), u128::from(r.last)))
        .collect();
    for e in ex {
        let (a, b) = (u128::from(e.first), u128::from(e.last));
        out = out
            .into_iter()
            .flat_map(|(f, l)| {
                if b < f || l < a {
                    return vec![(f, l)];
                }
                let mut keep = Vec::new();
                if f < a {
                    keep.push((f, a - 1));
                }
                if b < l {
                    keep.push((b + 1, l));
                }
                keep
            })
            .collect();
    }
    out.into_iter()
        .map(|(f, l)| Range6 {
            first: Ipv6Addr::from(f),
            last: Ipv6Addr::from(l),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_cut_named_ranges() {
        let r = |a: &str, b: &str| Range6 {
            first: a.parse().unwrap(),
            last: b.parse().unwrap(),
        };
        let t = [r("2001:2::", "2001:2::ff"), r("2001:2:1::", "2001:2:1::3")];
        let ex = [
            r("2001:2::10", "2001:2::1f"),
            r("2001:2::ff", "2001:2::ff"),
            r("2001:2:1::", "2001:2:1::ffff"),
        ];
        assert_eq!(
            subtract6(&t, &ex),
            vec![r("2001:2::", "2001:2::f"), r("2001:2::20", "2001:2::fe")]
        );
        assert_eq!(subtract6(&t, &[]), t.to_vec());
        assert!(subtract6(&t, &[r("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]).is_empty());
    }
    use crate::sys::netlink::{Addr6, Link as NlLink, Neigh6, Route6 as NlRoute6};

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// eth0 (Ethernet, fe80::1 and 2001:2::1/64, default via fe80::fe) and tun0
    /// (point-to-point, 2001:2:5::2/128 with a route to 2001:2:6::/64).
    fn boxes() -> (Snapshot, Net6) {
        let link = |index, name: &str, ethernet, pointopoint| NlLink {
            index,
            name: name.into(),
            ethernet,
            mac: ethernet.then_some([2, 0, 0, 0, 0, index as u8]),
            up: true,
            loopback: false,
            pointopoint,
            noarp: pointopoint,
        };
        let snap = Snapshot {
            links: vec![link(2, "eth0", true, false), link(3, "tun0", false, true)],
            ..Snapshot::default()
        };
        let addr = |index, s: &str, _prefix: u8| Addr6 {
            index,
            local: ip(s),
        };
        let route = |dst: &str, prefix, gateway: Option<&str>, oif| NlRoute6 {
            dst: ip(dst),
            prefix,
            gateway: gateway.map(ip),
            oif,
            metric: 0,
        };
        let net = Net6 {
            addrs: vec![
                addr(2, "fe80::1", 64),
                addr(2, "2001:2::1", 64),
                addr(3, "2001:2:5::2", 128),
            ],
            routes: vec![
                route("fe80::", 64, None, 2),
                route("2001:2::", 64, None, 2),
                route("::", 0, Some("fe80::fe"), 2),
                route("2001:2:6::", 64, None, 3),
            ],
            neighs: vec![
                Neigh6 {
                    index: 2,
                    ip: ip("fe80::fe"),
                    mac: Some([2, 0, 0, 0, 0, 0xfe]),
                    usable: true,
                },
                Neigh6 {
                    index: 2,
                    ip: ip("2001:2::1"),
                    mac: Some([2, 0, 0, 0, 0, 2]),
                    usable: true,
                },
            ],
        };
        (snap, net)
    }

    #[test]
    fn a_default_scan_discovers_ethernet_links_and_solicits_known_neighbours() {
        let (snap, net) = boxes();
        let p = plan6(
            &ScanRequest::default(),
            &snap,
            &net,
            &[ip("2001:2::99"), ip("2001:2:77::1")],
            &mut |_, _, _| None,
        );
        assert_eq!(p.if_names, ["eth0"], "tun0 has no link layer to discover");
        assert!(p.ifaces[0].discover);
        assert_eq!(p.ifaces[0].link_local, Some(ip("fe80::1")));
        assert_eq!(p.ifaces[0].globals.as_slice(), &[ip("2001:2::1")]);
        // The gateway from the neighbour table, the SNMP address on eth0's prefix; not
        // our own address, not an SNMP address no link holds.
        assert_eq!(
            p.candidates,
            vec![(ip("2001:2::99"), 0), (ip("fe80::fe"), 0)]
        );
        assert!(p.ranges.is_empty() && !p.is_empty());
    }

    #[test]
    fn named_targets_follow_the_routes() {
        let (snap, net) = boxes();
        let req = ScanRequest {
            targets6: vec![
                Range6::cidr(ip("2001:2:6::"), 120).unwrap(),
                Range6::cidr(ip("2001:2:9::"), 120).unwrap(),
            ],
            ..ScanRequest::default()
        };
        let p = plan6(&req, &snap, &net, &[], &mut |_, _, _| None);
        assert_eq!(p.if_names, ["tun0", "eth0"]);
        assert!(p.ifaces.iter().all(|f| !f.discover));
        assert_eq!(p.ifaces[0].link, Link::RawIp);
        // 2001:2:9:: leaves by the default route, to the gateway's MAC from the table.
        let def = p.routes.iter().find(|r| r.prefix == 0).unwrap();
        assert_eq!(
            def.via,
            Via6::Gateway {
                ip: ip("fe80::fe"),
                mac: [2, 0, 0, 0, 0, 0xfe]
            }
        );
        assert!(p.candidates.is_empty());
        // IPv4 targets only: no IPv6 work at all.
        let v4 = ScanRequest {
            targets: vec!["198.18.0.1".parse().unwrap()],
            ..ScanRequest::default()
        };
        assert!(plan6(&v4, &snap, &net, &[], &mut |_, _, _| None).is_empty());
    }
}
