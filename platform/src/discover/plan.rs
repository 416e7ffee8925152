//! The plan of a scan, computed without sockets from what the kernel said (a netlink
//! [`Snapshot`]): the target set, and the engine's interfaces and routes, so that every
//! target leaves by the interface and next hop the kernel would use: on-link targets
//! get ARP, routed ones go to the gateway's MAC (asked of `gateway_mac`).

use super::request::ScanRequest;
use crate::sys::netlink::{self, Snapshot};
use ksocket_core::addr::{AddrSet, Range};
use ksocket_core::engine::{self, Iface, Via};
use ksocket_core::wire::{Link, Mac};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Ranges in a target set (after exclusions split it).
pub const SET_RANGES: usize = 256;

/// What the engine needs: targets, interfaces (with the kernel's index and name of
/// each) and routes.
#[derive(Debug)]
pub struct Plan {
    pub targets: AddrSet<SET_RANGES>,
    pub ifaces: Vec<Iface>,
    pub if_index: Vec<u32>,
    pub if_names: Vec<String>,
    pub routes: Vec<engine::Route>,
    /// What the operator should know (networks too large, gateways that do not
    /// answer ARP, limits reached): one line each.
    pub warnings: Vec<String>,
}

impl Plan {
    /// The interface (index into `ifaces`) of the most specific route to `ip`.
    pub fn iface_of(&self, ip: Ipv4Addr) -> u8 {
        self.routes
            .iter()
            .filter(|r| r.dst.contains(ip))
            .max_by_key(|r| r.prefix)
            .map_or(0, |r| r.iface)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("no such interface `{name}` (this box has: {have})")]
    NoSuchInterface { name: String, have: String },
    #[error("interface `{0}` is down or has no IPv4 address")]
    InterfaceDown(String),
    #[error("target set: {0}")]
    TargetSet(String),
    #[error("bad prefix from the kernel")]
    KernelPrefix,
    #[error("nothing to scan: no target left after exclusions (and our own addresses)")]
    Nothing,
    #[error(
        "{0} addresses to scan, more than the limit of {1}: name smaller targets, or raise the limit with --max-addresses N"
    )]
    TooMany(u64, u64),
    #[error("no route reaches any target (see `ip route`)")]
    NoRoute,
    #[error("no IPv6 route reaches any IPv6 target (see `ip -6 route`)")]
    NoRoute6,
}

/// Plans a scan of `req` on the box `snap` describes. `extra`: hosts the default
/// gateway's ARP table names (added when no target was named). `gateway_mac` finds the
/// MAC of a gateway on an interface (kernel index, interface, gateway address).
pub fn plan(
    req: &ScanRequest,
    snap: &Snapshot,
    extra: &BTreeMap<Ipv4Addr, Option<Mac>>,
    gateway_mac: &mut dyn FnMut(u32, &Iface, Ipv4Addr) -> Option<Mac>,
) -> Result<Plan, PlanError> {
    let usable = |l: &netlink::Link| l.up && !l.loopback && snap.addr_of(l.index).is_some();
    if let Some(name) = &req.interface {
        let l = snap.link_by_name(name).ok_or_else(|| {
            let have: Vec<&str> = snap
                .links
                .iter()
                .filter(|l| !l.loopback)
                .map(|l| l.name.as_str())
                .collect();
            PlanError::NoSuchInterface {
                name: name.clone(),
                have: have.join(", "),
            }
        })?;
        if !usable(l) {
            return Err(PlanError::InterfaceDown(name.clone()));
        }
    }
    let wanted = |index: u32| -> bool {
        snap.link(index)
            .is_some_and(|l| usable(l) && req.interface.as_ref().is_none_or(|n| *n == l.name))
    };
    let mut warnings = Vec::new();
    let targets = target_set(req, snap, extra, &wanted, &mut warnings)?;
    let mut plan = Plan {
        targets,
        ifaces: vec![],
        if_index: vec![],
        if_names: vec![],
        routes: vec![],
        warnings,
    };
    // Most specific routes first, so that the ones kept are the ones that matter.
    let mut routes: Vec<&netlink::Route> = snap.routes.iter().filter(|r| wanted(r.oif)).collect();
    routes.sort_by(|a, b| b.prefix.cmp(&a.prefix).then(a.metric.cmp(&b.metric)));
    for r in routes {
        add_route(&mut plan, snap, r, gateway_mac)?;
    }
    if plan.routes.is_empty() {
        return Err(PlanError::NoRoute);
    }
    Ok(plan)
}

/// The targets: named ones, or every attached network and default gateway (and the
/// gateway's ARP table), less exclusions and our own addresses.
fn target_set(
    req: &ScanRequest,
    snap: &Snapshot,
    extra: &BTreeMap<Ipv4Addr, Option<Mac>>,
    wanted: &dyn Fn(u32) -> bool,
    warnings: &mut Vec<String>,
) -> Result<AddrSet<SET_RANGES>, PlanError> {
    let mut targets: AddrSet<SET_RANGES> = AddrSet::new();
    let cap = |e: ksocket_core::addr::Error| PlanError::TargetSet(e.to_string());
    if req.targets.is_empty() {
        for a in snap.addrs.iter().filter(|a| wanted(a.index)) {
            let name = snap.link(a.index).map(|l| l.name.as_str()).unwrap_or("");
            let net = Range::cidr(a.local, a.prefix).ok_or(PlanError::KernelPrefix)?;
            if a.prefix < req.max_prefix {
                warnings.push(format!(
                    "{net} on {name} is larger than /{} and is not scanned whole; \
                     name it as a target to scan it, or raise --max-prefix",
                    req.max_prefix
                ));
                continue;
            }
            targets.insert(net).map_err(cap)?;
        }
        for r in snap
            .routes
            .iter()
            .filter(|r| r.prefix == 0 && wanted(r.oif))
        {
            if let Some(gw) = r.gateway {
                targets.insert(Range::single(gw)).map_err(cap)?;
            }
        }
        // Hosts from the gateway's ARP table: all of them when no target was named
        // (with named targets, those inside are already in the set), when unicast.
        let mut odd = 0;
        for ip in extra.keys() {
            if !unicast(snap, *ip) {
                odd += 1;
                continue;
            }
            if targets.insert(Range::single(*ip)).is_err() {
                warnings.push(
                    "the gateway's ARP table is too scattered to add whole; the rest is left out"
                        .into(),
                );
                break;
            }
        }
        if odd > 0 {
            warnings.push(format!(
                "{odd} entries of the gateway's ARP table are not unicast host addresses (broadcast, multicast, reserved): not probed"
            ));
        }
    } else {
        for t in &req.targets {
            targets.insert(*t).map_err(cap)?;
        }
    }
    // Never loopback, multicast, reserved or "this network", whatever was named.
    for (first, last, _) in super::request::SPECIAL {
        targets.remove(Range { first, last }).map_err(cap)?;
    }
    for e in &req.excludes {
        targets.remove(*e).map_err(cap)?;
    }
    for a in &snap.addrs {
        targets.remove(Range::single(a.local)).map_err(cap)?;
    }
    if targets.is_empty() {
        return Err(PlanError::Nothing);
    }
    let max = req.limits.max_addresses;
    if targets.len() > max {
        return Err(PlanError::TooMany(targets.len(), max));
    }
    Ok(targets)
}

/// Whether `ip` is a unicast host address: not in a special range, and not the
/// network or broadcast address of an attached network.
fn unicast(snap: &Snapshot, ip: Ipv4Addr) -> bool {
    let x = u32::from(ip);
    super::request::special(x).is_none()
        && !snap.addrs.iter().any(|a| {
            Range::cidr(a.local, a.prefix)
                .is_some_and(|n| a.prefix < 31 && (x == n.first || x == n.last))
        })
}

/// Adds route `r` to the plan when it reaches a target and no better route to the same
/// destination is there; its interface is added on first use.
fn add_route(
    plan: &mut Plan,
    snap: &Snapshot,
    r: &netlink::Route,
    gateway_mac: &mut dyn FnMut(u32, &Iface, Ipv4Addr) -> Option<Mac>,
) -> Result<(), PlanError> {
    let Some(dst) = Range::cidr(r.dst, r.prefix) else {
        return Ok(());
    };
    let reaches = |t: &Range| t.first <= dst.last && dst.first <= t.last;
    // Keep only routes that reach some target, and the best one per destination.
    if !plan.targets.ranges().iter().any(reaches) || plan.routes.iter().any(|x| x.dst == dst) {
        return Ok(());
    }
    let Some(link) = snap.link(r.oif) else {
        return Ok(());
    };
    let i = match plan.if_index.iter().position(|&x| x == r.oif) {
        Some(i) => i,
        None => {
            if plan.ifaces.len() >= engine::MAX_IFACES {
                plan.warnings.push(format!(
                    "more than {} interfaces: {} is left out",
                    engine::MAX_IFACES,
                    link.name
                ));
                return Ok(());
            }
            let Some(ip) = r.prefsrc.or(snap.addr_of(r.oif).map(|a| a.local)) else {
                return Ok(());
            };
            let eth = link.ethernet && !link.noarp && !link.pointopoint;
            plan.ifaces.push(Iface {
                link: if eth { Link::Ethernet } else { Link::RawIp },
                mac: link.mac.unwrap_or([0; 6]),
                ip,
            });
            plan.if_index.push(r.oif);
            plan.if_names.push(link.name.clone());
            plan.ifaces.len() - 1
        }
    };
    let via = match r.gateway {
        None => Via::OnLink,
        Some(gw) if plan.ifaces[i].link == Link::RawIp => Via::Gateway {
            ip: gw,
            mac: [0; 6],
        },
        Some(gw) => match gateway_mac(r.oif, &plan.ifaces[i], gw) {
            Some(mac) => Via::Gateway { ip: gw, mac },
            None => {
                plan.warnings.push(format!(
                    "gateway {gw} on {} does not answer ARP: targets behind it are skipped",
                    link.name
                ));
                return Ok(());
            }
        },
    };
    if plan.routes.len() >= engine::MAX_ROUTES {
        plan.warnings.push(format!(
            "more than {} routes reach the targets; {dst} is left out",
            engine::MAX_ROUTES
        ));
        return Ok(());
    }
    plan.routes.push(engine::Route {
        dst,
        prefix: r.prefix,
        iface: i as u8,
        via,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::netlink::{Addr, Link as NlLink, Route};

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// A box with eth0 198.18.1.10/24 (default route via .1) and a point-to-point
    /// tun0 198.19.0.2 with a route to 198.19.4.0/24.
    fn snapshot() -> Snapshot {
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
        let route = |dst: &str, prefix, gateway: Option<&str>, oif| Route {
            dst: ip(dst),
            prefix,
            gateway: gateway.map(ip),
            oif,
            prefsrc: None,
            metric: 0,
        };
        Snapshot {
            links: vec![link(2, "eth0", true, false), link(3, "tun0", false, true)],
            addrs: vec![
                Addr {
                    index: 2,
                    local: ip("198.18.1.10"),
                    prefix: 24,
                },
                Addr {
                    index: 3,
                    local: ip("198.19.0.2"),
                    prefix: 32,
                },
            ],
            routes: vec![
                route("0.0.0.0", 0, Some("198.18.1.1"), 2),
                route("198.18.1.0", 24, None, 2),
                route("198.19.4.0", 24, Some("198.19.0.1"), 3),
            ],
        }
    }

    const GW_MAC: Mac = [2, 0, 0, 0, 0, 0x99];

    fn arp_ok(_: u32, _: &Iface, _: Ipv4Addr) -> Option<Mac> {
        Some(GW_MAC)
    }

    #[test]
    fn a_default_scan_covers_the_attached_network_and_the_gateway_without_ourselves() {
        let p = plan(
            &ScanRequest::default(),
            &snapshot(),
            &BTreeMap::new(),
            &mut arp_ok,
        )
        .unwrap();
        // 198.18.1.0/24 less our own .10; tun0's /32 is our own address.
        assert_eq!(p.targets.len(), 255);
        assert!(!p.targets.contains(ip("198.18.1.10")));
        assert!(p.targets.contains(ip("198.18.1.1")));
        assert_eq!(p.if_names, ["eth0"]);
        // The on-link /24 and the default route (to the gateway, reached on-link too).
        let on_link = p.routes.iter().find(|r| r.prefix == 24).unwrap();
        assert_eq!(on_link.via, Via::OnLink);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn named_targets_route_through_the_kernels_choice() {
        let req = ScanRequest {
            targets: vec![
                "198.19.4.0/28".parse().unwrap(),
                "198.18.200.7".parse().unwrap(),
            ],
            excludes: vec!["198.19.4.0".parse().unwrap()],
            ..ScanRequest::default()
        };
        let p = plan(&req, &snapshot(), &BTreeMap::new(), &mut arp_ok).unwrap();
        assert_eq!(p.targets.len(), 16);
        // 198.19.4.0/24 leaves by tun0 without a link layer; 198.18.200.7 by the
        // default route, to the gateway's MAC.
        let tun = p.routes.iter().find(|r| r.prefix == 24).unwrap();
        assert_eq!(p.ifaces[usize::from(tun.iface)].link, Link::RawIp);
        let def = p.routes.iter().find(|r| r.prefix == 0).unwrap();
        assert_eq!(
            def.via,
            Via::Gateway {
                ip: ip("198.18.1.1"),
                mac: GW_MAC
            }
        );
        assert_eq!(
            p.if_names[usize::from(p.iface_of(ip("198.19.4.3")))],
            "tun0"
        );
        assert_eq!(
            p.if_names[usize::from(p.iface_of(ip("198.18.200.7")))],
            "eth0"
        );
    }

    #[test]
    fn a_silent_gateway_and_large_networks_are_warned_about_not_fatal() {
        let mut snap = snapshot();
        snap.addrs[0].prefix = 16;
        snap.routes[1].prefix = 16;
        let mut req = ScanRequest::default();
        let p = plan(&req, &snap, &BTreeMap::new(), &mut |_, _, _| None);
        // /16 is over --max-prefix 22: only the gateway is left, and it is on-link.
        let p = p.unwrap();
        assert_eq!(p.targets.len(), 1);
        assert!(
            p.warnings[0].contains("larger than /22"),
            "{:?}",
            p.warnings
        );
        req.targets = vec!["198.19.200.1".parse().unwrap()];
        let e = plan(&req, &snap, &BTreeMap::new(), &mut |_, _, _| None).unwrap_err();
        assert_eq!(e, PlanError::NoRoute);
        req.interface = Some("wlan9".into());
        let e = plan(&req, &snap, &BTreeMap::new(), &mut arp_ok).unwrap_err();
        assert!(e.to_string().contains("this box has: eth0, tun0"), "{e}");
    }

    #[test]
    fn scans_are_bounded_in_size_and_never_reach_special_ranges() {
        let whole = ScanRequest {
            targets: vec!["0.0.0.0/0".parse().unwrap()],
            ..ScanRequest::default()
        };
        let e = plan(&whole, &snapshot(), &BTreeMap::new(), &mut arp_ok).unwrap_err();
        assert!(
            matches!(e, PlanError::TooMany(n, 65_536) if n > 3_000_000_000),
            "{e}"
        );
        assert!(e.to_string().contains("--max-addresses"), "{e}");
        let big = ScanRequest {
            targets: vec!["198.18.0.0/15".parse().unwrap()],
            limits: crate::limits::Limits {
                max_addresses: 1 << 17,
                ..Default::default()
            },
            ..ScanRequest::default()
        };
        assert!(plan(&big, &snapshot(), &BTreeMap::new(), &mut arp_ok).is_ok());
        // Loopback, multicast and reserved addresses inside a named range are left out.
        let wide = ScanRequest {
            targets: vec!["126.255.255.254-128.0.0.1".parse().unwrap()],
            ..ScanRequest::default()
        };
        let p = plan(&wide, &snapshot(), &BTreeMap::new(), &mut arp_ok).unwrap();
        assert_eq!(p.targets.len(), 4);
        assert!(!p.targets.contains(ip("127.0.0.1")));
    }

    #[test]
    fn the_gateways_arp_table_adds_hosts_only_to_a_default_scan() {
        let extra: BTreeMap<Ipv4Addr, Option<Mac>> = [
            (ip("198.18.9.9"), None),
            (ip("224.0.0.251"), None),
            (ip("198.18.1.255"), None), // eth0's broadcast
            (ip("255.255.255.255"), None),
        ]
        .into_iter()
        .collect();
        let p = plan(&ScanRequest::default(), &snapshot(), &extra, &mut arp_ok).unwrap();
        assert!(p.targets.contains(ip("198.18.9.9")));
        assert!(!p.targets.contains(ip("224.0.0.251")));
        assert!(
            p.warnings.iter().any(|w| w.starts_with("3 entries")),
            "{:?}",
            p.warnings
        );
        let req = ScanRequest {
            targets: vec!["198.18.1.0/29".parse().unwrap()],
            ..ScanRequest::default()
        };
        let p = plan(&req, &snapshot(), &extra, &mut arp_ok).unwrap();
        assert!(!p.targets.contains(ip("198.18.9.9")));
    }
}
