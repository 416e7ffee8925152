//! The default gateway's ARP tables (ipNetToMediaTable, ipNetToPhysicalTable) over
//! SNMP (spec §6): the hosts it knows become targets of a default scan, and get the
//! provenance `snmp-arp`; the IPv6 rows of ipNetToPhysicalTable (its neighbour cache)
//! are solicited on the links that hold them, and get `snmp-nd`. Credentials: `--community`, else the snmp credential files
//! that match the gateway, tried in order until one answers.

use super::request::ScanRequest;
use crate::inventory::snmp::collector::SnmpCollector;
use crate::inventory::snmp::{Client, WalkLimits, block_on};
use crate::pipeline::interface::{Note, Sink};
use crate::sys::netlink::Snapshot;
use ksocket_core::snmp::{OidBuf, Value, Version};
use ksocket_core::wire::Mac;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// ipNetToMediaPhysAddress (index ifIndex.a.b.c.d).
const NET_TO_MEDIA: [u32; 10] = [1, 3, 6, 1, 2, 1, 4, 22, 1, 2];
/// ipNetToPhysicalPhysAddress (index ifIndex.1(ipv4).4.a.b.c.d).
const NET_TO_PHYSICAL: [u32; 10] = [1, 3, 6, 1, 2, 1, 4, 35, 1, 4];

/// The IPv4 address and MAC of one ARP table row, when the row is a complete IPv4
/// entry: `None` for other rows (IPv6, incomplete); `Err` for an index with an arc
/// over 255 (a malformed row, counted, never truncated into another address).
pub fn arp_row(oid: &OidBuf, v: &Value<'_>) -> Option<Result<(Ipv4Addr, Mac), ()>> {
    let arcs = oid.arcs();
    let addr = if arcs.starts_with(&NET_TO_MEDIA) && arcs.len() == 15 {
        &arcs[11..15]
    } else if arcs.starts_with(&NET_TO_PHYSICAL) && arcs.len() == 17 && arcs[11..13] == [1, 4] {
        &arcs[13..17]
    } else {
        return None;
    };
    let mut ip = [0u8; 4];
    for (b, a) in ip.iter_mut().zip(addr) {
        match u8::try_from(*a) {
            Ok(x) => *b = x,
            Err(_) => return Some(Err(())),
        }
    }
    match v {
        Value::OctetString(m) if m.len() == 6 && m.iter().any(|&b| b != 0) => {
            Some(Ok((ip.into(), [m[0], m[1], m[2], m[3], m[4], m[5]])))
        }
        _ => None, // incomplete entry
    }
}

/// The IPv6 address and MAC of an ipNetToPhysicalTable row (index
/// ifIndex.2(ipv6).16.<16 bytes>) with a MAC; `Err` for an arc over 255.
pub fn nd_row(oid: &OidBuf, v: &Value<'_>) -> Option<Result<(Ipv6Addr, Mac), ()>> {
    let arcs = oid.arcs();
    if !(arcs.starts_with(&NET_TO_PHYSICAL) && arcs.len() == 29 && arcs[11..13] == [2, 16]) {
        return None;
    }
    let mut ip = [0u8; 16];
    for (b, a) in ip.iter_mut().zip(&arcs[13..29]) {
        match u8::try_from(*a) {
            Ok(x) => *b = x,
            Err(_) => return Some(Err(())),
        }
    }
    let ip = Ipv6Addr::from(ip);
    match v {
        Value::OctetString(m)
            if m.len() == 6 && m.iter().any(|&b| b != 0) && !ip.is_multicast() =>
        {
            Some(Ok((ip, [m[0], m[1], m[2], m[3], m[4], m[5]])))
        }
        _ => None,
    }
}

/// What the default gateways' tables hold: IPv4 (ARP) and IPv6 (neighbour cache).
#[derive(Debug, Default)]
pub struct GatewayTables {
    pub arp: BTreeMap<Ipv4Addr, Option<Mac>>,
    pub nd: BTreeMap<Ipv6Addr, Mac>,
}

/// The ARP tables (and IPv6 neighbour caches) of every default gateway (of the chosen
/// interface). A gateway that does not answer is said in one note and skipped.
pub fn arp_tables(
    req: &ScanRequest,
    snap: &Snapshot,
    snmp: &SnmpCollector,
    sink: &mut dyn Sink,
) -> GatewayTables {
    let mut tables = GatewayTables::default();
    let found = &mut tables.arp;
    let nd = &mut tables.nd;
    let gws: Vec<Ipv4Addr> = snap
        .routes
        .iter()
        .filter(|r| {
            r.prefix == 0
                && snap
                    .link(r.oif)
                    .is_some_and(|l| req.interface.as_ref().is_none_or(|n| *n == l.name))
        })
        .filter_map(|r| r.gateway)
        .collect();
    if gws.is_empty() {
        return tables;
    }
    let Ok(mut client) = Client::new() else {
        return tables;
    };
    for gw in gws {
        let creds: Vec<_> = snmp.matching(gw).collect();
        if creds.is_empty() {
            sink.note(Note::warn(format!(
                "gateway {gw}: no snmp credential file matches; its ARP table is not read"
            )));
        }
        for cred in creds {
            sink.note(Note::info(format!(
                "gateway {gw}: credential {} matches",
                cred.label
            )));
            let t = cred.target(gw, Version::V2c);
            log::debug!(
                "gateway {gw}: reading its ARP table with {t:?} ({})",
                cred.label
            );
            let (mut rows, mut rows6, mut malformed) = (0usize, 0usize, 0usize);
            for root in [NET_TO_MEDIA, NET_TO_PHYSICAL] {
                let root = OidBuf::from_arcs(&root).expect("short OID");
                let mut add = |oid: &OidBuf, v: &Value<'_>| match arp_row(oid, v) {
                    Some(Ok((ip, mac))) => {
                        rows += 1;
                        found.insert(ip, Some(mac));
                    }
                    Some(Err(())) => malformed += 1,
                    None => match nd_row(oid, v) {
                        Some(Ok((ip, mac))) => {
                            rows6 += 1;
                            nd.insert(ip, mac);
                        }
                        Some(Err(())) => malformed += 1,
                        None => {}
                    },
                };
                // An ARP table of at most a /16's worth of rows (what a scan takes).
                let limits = WalkLimits {
                    rows: 65_536,
                    bytes: 16 << 20,
                    deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(60)),
                };
                if let Err(e) = block_on(client.walk(&t, &root, &limits, &mut add)) {
                    sink.note(Note::warn(format!(
                        "gateway {gw} ({}): SNMP {e}",
                        cred.label
                    )));
                    break;
                }
            }
            if malformed > 0 {
                sink.note(Note::warn(format!(
                    "gateway {gw}: {malformed} ARP entries with a malformed index (an arc over 255) ignored"
                )));
            }
            if rows + rows6 > 0 {
                sink.note(Note::info(format!(
                    "gateway {gw}: {rows} entries in its ARP tables, {rows6} IPv6 neighbours"
                )));
                break;
            }
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(s: &str) -> OidBuf {
        s.parse().unwrap()
    }

    #[test]
    fn arp_rows_are_read_from_both_tables_and_bad_arcs_are_refused() {
        let mac = Value::OctetString(&[2, 0, 0, 0, 0, 7]);
        assert_eq!(
            arp_row(&oid("1.3.6.1.2.1.4.22.1.2.3.198.18.200.44"), &mac),
            Some(Ok((Ipv4Addr::new(198, 18, 200, 44), [2, 0, 0, 0, 0, 7])))
        );
        assert_eq!(
            arp_row(&oid("1.3.6.1.2.1.4.35.1.4.3.1.4.198.18.200.45"), &mac),
            Some(Ok((Ipv4Addr::new(198, 18, 200, 45), [2, 0, 0, 0, 0, 7])))
        );
        // 198.18.200.300 is not 198.18.200.44.
        assert_eq!(
            arp_row(&oid("1.3.6.1.2.1.4.22.1.2.3.198.18.200.300"), &mac),
            Some(Err(()))
        );
        // IPv6 rows, incomplete entries and short indexes are not rows.
        assert_eq!(
            arp_row(
                &oid("1.3.6.1.2.1.4.35.1.4.3.2.16.32.1.0.2.0.0.0.0.0.0.0.0.0.0.0.1"),
                &mac
            ),
            None
        );
        assert_eq!(
            arp_row(
                &oid("1.3.6.1.2.1.4.22.1.2.3.198.18.200.44"),
                &Value::OctetString(&[0; 6])
            ),
            None
        );
        assert_eq!(arp_row(&oid("1.3.6.1.2.1.4.22.1.2.3.198.18"), &mac), None);
        // The IPv6 row is a neighbour-cache row; an arc over 255 is refused.
        assert_eq!(
            nd_row(
                &oid("1.3.6.1.2.1.4.35.1.4.3.2.16.32.1.0.2.0.0.0.0.0.0.0.0.0.0.0.1"),
                &mac
            ),
            Some(Ok(("2001:2::1".parse().unwrap(), [2, 0, 0, 0, 0, 7])))
        );
        assert_eq!(
            nd_row(
                &oid("1.3.6.1.2.1.4.35.1.4.3.2.16.32.1.0.2.0.0.0.0.0.0.0.0.0.0.0.256"),
                &mac
            ),
            Some(Err(()))
        );
        assert_eq!(
            nd_row(&oid("1.3.6.1.2.1.4.35.1.4.3.1.4.198.18.200.45"), &mac),
            None
        );
    }
}
