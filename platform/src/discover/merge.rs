//! What other sources add to the hosts the probes found: the kernel's neighbour table
//! (hosts it confirmed recently on a scanned link) and the default gateway's ARP table;
//! and the IPv6 addresses found, joined to hosts by MAC.

use super::plan::Plan;
use super::six::Found6;
use crate::sys::netlink::Neigh;
use ksocket_core::engine6::How;
use ksocket_core::wire::Mac;
use ksocket_proto::records::{self, Host, Provenance};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Adds the neighbour table's entries on scanned links: confirmed ones as hosts of
/// their own, any usable one to a host already found (its MAC, `neigh`).
pub fn neighbours(plan: &Plan, hosts: &mut BTreeMap<Ipv4Addr, Host>, neighs: &[Neigh]) {
    for n in neighs {
        let Some(i) = plan.if_index.iter().position(|&x| x == n.index) else {
            continue;
        };
        if !plan.targets.contains(n.ip) || !n.usable {
            continue;
        }
        if n.confirmed || hosts.contains_key(&n.ip) {
            let h = hosts.entry(n.ip).or_insert_with(|| Host::new(n.ip));
            h.iface = plan.if_names.get(i).cloned();
            if h.mac.is_none() {
                h.mac = n.mac.map(records::Mac);
            }
            h.seen(Provenance::Neigh);
        }
    }
}

/// Adds the gateway's ARP entries inside the targets (`snmp-arp`); a host seen only
/// there gets the interface of its route.
pub fn gateway_arp(
    plan: &Plan,
    hosts: &mut BTreeMap<Ipv4Addr, Host>,
    arp: &BTreeMap<Ipv4Addr, Option<Mac>>,
) {
    for (ip, mac) in arp {
        if !plan.targets.contains(*ip) {
            continue;
        }
        let h = hosts.entry(*ip).or_insert_with(|| Host::new(*ip));
        if h.mac.is_none() && h.via.is_empty() {
            h.iface = plan.if_names.get(usize::from(plan.iface_of(*ip))).cloned();
        }
        if h.mac.is_none() {
            h.mac = mac.map(records::Mac);
        }
        h.seen(Provenance::SnmpArp);
    }
}

/// Drops the IPv6 addresses `--exclude` names from every host (link discovery hears
/// whoever answers the multicast), and a host left without an address.
pub fn exclude6(hosts: &mut BTreeMap<IpAddr, Host>, req: &super::ScanRequest) {
    if req.excludes6.is_empty() {
        return;
    }
    hosts.retain(|_, h| {
        h.addresses.retain(|a| match a {
            IpAddr::V6(v) => !req.excluded6(*v),
            IpAddr::V4(_) => true,
        });
        match records::primary(&h.addresses) {
            Some(p) => {
                h.ip = p;
                true
            }
            None => false,
        }
    });
}

/// The provenance of an IPv6 answer.
pub fn provenance6(h: How) -> Provenance {
    match h {
        How::Echo => Provenance::Icmp6,
        How::Ndp | How::Router => Provenance::Ndp,
        How::Mld => Provenance::Mld,
        How::Tcp(p) => Provenance::Tcp(p),
        How::Unreachable => Provenance::IcmpUnreach,
    }
}

/// Adds the IPv6 addresses found: those with a MAC join the host of that MAC (found
/// over IPv4, or made of every IPv6 address of the MAC, keyed by its global address,
/// else its link-local one); those without (answers through a router) join the host
/// that already has the address, or are hosts of their own.
pub fn ipv6(hosts: &mut BTreeMap<IpAddr, Host>, found: BTreeMap<Ipv6Addr, Found6>) {
    let mut by_mac: BTreeMap<Mac, Vec<(Ipv6Addr, Found6)>> = BTreeMap::new();
    let mut lone = Vec::new();
    for (ip, f) in found {
        match f.mac {
            // A group MAC or none at all names no one node.
            Some(m) if m[0] & 1 == 0 && m != [0; 6] => by_mac.entry(m).or_default().push((ip, f)),
            _ => lone.push((ip, f)),
        }
    }
    for (mac, group) in by_mac {
        let known = hosts
            .iter()
            .find(|(_, h)| h.mac == Some(records::Mac(mac)))
            .map(|(k, _)| *k);
        let key = match known {
            Some(k) => k,
            None => {
                let mut h = Host::new(group[0].0);
                for (ip, _) in &group {
                    h.add_address(IpAddr::V6(*ip));
                }
                h.mac = Some(records::Mac(mac));
                let k = h.ip;
                hosts.entry(k).or_insert(h);
                k
            }
        };
        if let Some(h) = hosts.get_mut(&key) {
            for (ip, f) in group {
                join(h, ip, f);
            }
        }
    }
    for (ip, f) in lone {
        let a = IpAddr::V6(ip);
        let key = hosts
            .iter()
            .find(|(_, h)| h.addresses.contains(&a))
            .map_or(a, |(k, _)| *k);
        join(hosts.entry(key).or_insert_with(|| Host::new(a)), ip, f);
    }
}

/// The hosts keyed by their primary address; two hosts with one primary address
/// become one (addresses and provenance joined).
pub fn rekey(hosts: BTreeMap<IpAddr, Host>) -> BTreeMap<IpAddr, Host> {
    let mut out: BTreeMap<IpAddr, Host> = BTreeMap::new();
    for h in hosts.into_values() {
        match out.get_mut(&h.ip) {
            Some(x) => {
                for a in h.addresses {
                    x.add_address(a);
                }
                for p in h.via {
                    x.seen(p);
                }
            }
            None => {
                out.insert(h.ip, h);
            }
        }
    }
    out
}

/// Adds the gateway's IPv6 neighbours (`snmp-nd`) but our own addresses: to the host
/// with the address or the MAC, else as hosts of their own; with named IPv6 targets,
/// only those inside.
pub fn gateway_nd(
    req: &super::ScanRequest,
    hosts: &mut BTreeMap<IpAddr, Host>,
    nd: &BTreeMap<Ipv6Addr, Mac>,
    own: &[Ipv6Addr],
) {
    for (ip, mac) in nd.iter().filter(|(ip, _)| !own.contains(ip)) {
        let named = !req.targets6.is_empty() || !req.targets.is_empty();
        if named && !req.targets6.iter().any(|r| r.contains(*ip)) {
            continue;
        }
        let a = IpAddr::V6(*ip);
        let m = Some(records::Mac(*mac));
        let key = hosts
            .iter()
            .find(|(_, h)| h.addresses.contains(&a))
            .or_else(|| hosts.iter().find(|(_, h)| h.mac == m))
            .map(|(k, _)| *k);
        let h = match key {
            Some(k) => hosts.get_mut(&k),
            None => {
                let mut h = Host::new(a);
                h.mac = m;
                Some(hosts.entry(a).or_insert(h))
            }
        };
        if let Some(h) = h {
            h.add_address(a);
            h.seen(Provenance::SnmpNd);
        }
    }
}

fn join(h: &mut Host, ip: Ipv6Addr, f: Found6) {
    h.add_address(IpAddr::V6(ip));
    if h.mac.is_none() {
        h.mac = f.mac.map(records::Mac);
    }
    if h.iface.is_none() {
        h.iface = f.iface;
    }
    if let (None, Some(r)) = (h.rtt_ms, f.rtt) {
        h.set_rtt(r);
    }
    for how in f.hows {
        h.seen(provenance6(how));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(mac: Option<Mac>, hows: &[How]) -> Found6 {
        Found6 {
            mac,
            hows: hows.to_vec(),
            rtt: None,
            iface: Some("eth0".into()),
        }
    }

    #[test]
    fn ipv6_addresses_join_the_host_of_their_mac() {
        let m1: Mac = [2, 0, 0, 0, 0, 1];
        let m2: Mac = [2, 0, 0, 0, 0, 2];
        let v4: IpAddr = "198.18.0.10".parse().unwrap();
        let mut h = Host::new(v4);
        h.mac = Some(records::Mac(m1));
        h.seen(Provenance::Arp);
        let mut hosts: BTreeMap<IpAddr, Host> = [(v4, h)].into_iter().collect();
        let ip = |s: &str| -> Ipv6Addr { s.parse().unwrap() };
        let f: BTreeMap<Ipv6Addr, Found6> = [
            (ip("fe80::1"), found(Some(m1), &[How::Mld])),
            (ip("2001:2::a"), found(Some(m1), &[How::Echo])),
            (ip("fe80::2"), found(Some(m2), &[How::Echo, How::Mld])),
            (ip("2001:2::b"), found(Some(m2), &[How::Echo])),
            (ip("fe80::3"), found(Some([2, 0, 0, 0, 0, 3]), &[How::Ndp])),
            (ip("2001:2:1::7"), found(None, &[How::Tcp(22)])),
        ]
        .into_iter()
        .collect();
        ipv6(&mut hosts, f);
        assert_eq!(hosts.len(), 4, "{:?}", hosts.keys());
        // Dual stack: the IPv4 host, its IPv6 addresses after its IPv4 one.
        let d = &hosts[&v4];
        assert_eq!(d.ip, v4);
        assert_eq!(
            d.addresses,
            vec![v4, "2001:2::a".parse().unwrap(), "fe80::1".parse().unwrap()]
        );
        assert_eq!(
            d.via,
            vec![Provenance::Arp, Provenance::Icmp6, Provenance::Mld]
        );
        // IPv6 only: keyed by its global address, link-local included.
        let g: IpAddr = "2001:2::b".parse().unwrap();
        assert_eq!(hosts[&g].ip, g);
        assert_eq!(hosts[&g].addresses.len(), 2);
        assert_eq!(hosts[&g].mac, Some(records::Mac(m2)));
        // Link-local only; routed, without a MAC.
        assert!(hosts.contains_key(&"fe80::3".parse::<IpAddr>().unwrap()));
        let r = &hosts[&"2001:2:1::7".parse::<IpAddr>().unwrap()];
        assert_eq!((r.mac, r.via.clone()), (None, vec![Provenance::Tcp(22)]));

        // --exclude: the addresses go, a host left without any goes, and a host keyed
        // by an excluded address gets its next one as primary.
        let mut req = super::super::ScanRequest::default();
        req.add_excludes("2001:2::a,fe80::3,2001:2::b").unwrap();
        exclude6(&mut hosts, &req);
        assert_eq!(hosts[&v4].addresses, vec![v4, "fe80::1".parse().unwrap()]);
        assert!(
            !hosts
                .values()
                .any(|h| h.addresses.contains(&"fe80::3".parse().unwrap()))
        );
        assert_eq!(hosts.len(), 3, "the link-local-only host is gone");
        assert_eq!(hosts[&g].ip, "fe80::2".parse::<IpAddr>().unwrap());
        assert_eq!(rekey(hosts).len(), 3);
    }
}
