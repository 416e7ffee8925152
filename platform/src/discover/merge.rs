//! What other sources add to the hosts the probes found: the kernel's neighbour table
//! (hosts it confirmed recently on a scanned link) and the default gateway's ARP table.

use super::plan::Plan;
use crate::sys::netlink::Neigh;
use ksocket_core::wire::Mac;
use ksocket_proto::records::{self, Host, Provenance};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

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
