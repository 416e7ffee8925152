//! Neighbours: LLDP (LLDP-MIB, else LLDP-V2-MIB) and CDP (CISCO-CDP-MIB), one list in
//! which each entry names the protocol that found it.
//!
//! What is walked, so that a device costs no more requests than its vendor needs:
//! - lldpRemTable (its columns walked together, as every table's: a device without
//!   LLDP costs one request); lldpLocPortTable and lldpRemManAddrTable only when it
//!   has rows;
//! - LLDP-V2-MIB's lldpV2RemTable the same way, only when LLDP-MIB gave nothing (agents
//!   that implement V2 implement V1 too, as a rule; the V2 local port is an ifIndex, so
//!   no local-port table is walked);
//! - cdpCacheTable the same way, on Cisco devices (sysObjectID enterprise 9: CDP is on
//!   by default there, beside or instead of LLDP) and on any device where LLDP gave
//!   nothing. Other vendors that answer CISCO-CDP-MIB and run LLDP (HPE ProCurve) list
//!   the same peers in both, so theirs is not walked.

use super::identify::enterprise;
use super::tables::{Cell, Row, Table, ipv4, lldp_id, mac, text_id};
use super::{Error, Interface, Neighbor, Protocol, Walker};
use std::net::Ipv6Addr;

/// LLDP-MIB lldpRemEntry, lldpLocPortEntry, lldpRemManAddrEntry.
const LLDP_REM: &str = "1.0.8802.1.1.2.1.4.1.1";
const LLDP_LOC_PORT: &str = "1.0.8802.1.1.2.1.3.7.1";
const LLDP_MAN: &str = "1.0.8802.1.1.2.1.4.2.1";
/// LLDP-V2-MIB lldpV2RemEntry, lldpV2RemManAddrEntry.
const V2_REM: &str = "1.3.111.2.802.1.1.13.1.4.1.1";
const V2_MAN: &str = "1.3.111.2.802.1.1.13.1.4.2.1";
/// CISCO-CDP-MIB cdpCacheEntry.
const CDP_CACHE: &str = "1.3.6.1.4.1.9.9.23.1.2.1.1";
/// Cisco's enterprise number.
const CISCO: u32 = 9;

/// Walks and reads the device's neighbours (see the module's text for what is walked).
pub(super) async fn collect(
    w: &mut Walker<'_>,
    sys_object_id: Option<&str>,
    interfaces: &[Interface],
) -> Result<Vec<Neighbor>, Error> {
    let mut out = Vec::new();
    let rem = w
        .table("lldpRemTable", LLDP_REM, &[5, 4, 6, 7, 8, 9, 10])
        .await?;
    if !rem.is_empty() {
        let loc = w
            .table("lldpLocPortTable", LLDP_LOC_PORT, &[2, 3, 4])
            .await?;
        let man = w.table("lldpRemManAddrTable", LLDP_MAN, &[3]).await?;
        out = lldp(&rem, &loc, &man, interfaces);
    } else {
        let rem = w
            .table("lldpV2RemTable", V2_REM, &[6, 5, 7, 8, 9, 10, 11])
            .await?;
        if !rem.is_empty() {
            let man = w.table("lldpV2RemManAddrTable", V2_MAN, &[3]).await?;
            out = lldp_v2(&rem, &man, interfaces);
        }
    }
    if enterprise(sys_object_id) == Some(CISCO) || out.is_empty() {
        let cdp = w
            .table("cdpCacheTable", CDP_CACHE, &[6, 3, 4, 5, 7, 8])
            .await?;
        out.extend(cdp_neighbors(&cdp, interfaces));
    }
    Ok(out)
}

/// The name of the interface with this ifIndex: ifName, else ifDescr.
fn if_name(interfaces: &[Interface], index: u32) -> Option<String> {
    interfaces
        .iter()
        .find(|i| i.index == index)
        .and_then(|i| i.name.clone().or(i.descr.clone()))
}

/// A management address from the index arcs that follow a remote entry's index in
/// lldpRemManAddrTable / lldpV2RemManAddrTable: `subtype.len.addr...` (IANA address
/// family 1 = IPv4, 2 = IPv6). IPv4 first, else IPv6.
fn management_address(man: &Table, rem_index: &[u32]) -> Option<String> {
    let rows = man
        .range(rem_index.to_vec()..)
        .take_while(|(k, _)| k.starts_with(rem_index))
        .map(|(k, _)| &k[rem_index.len()..]);
    let mut v6 = None;
    for k in rows {
        match k {
            [1, 4, a @ ..] if a.len() == 4 => {
                if let Some([a, b, c, d]) = ipv4(a) {
                    return Some(format!("{a}.{b}.{c}.{d}"));
                }
            }
            [2, 16, a @ ..] if a.len() == 16 && v6.is_none() => {
                let b: Option<Vec<u8>> = a.iter().map(|x| u8::try_from(*x).ok()).collect();
                v6 = b
                    .and_then(|b| <[u8; 16]>::try_from(b).ok())
                    .map(|b| Ipv6Addr::from(b).to_string());
            }
            _ => {}
        }
    }
    v6
}

/// LLDP-MIB: lldpRemTable (index timeMark.localPortNum.remIndex), local ports from
/// lldpLocPortTable. Juniper indexes remote entries by ifIndex rather than by
/// lldpLocPortNum: when a port number is not in lldpLocPortTable, it is read as an
/// ifIndex and named from the interfaces.
pub(super) fn lldp(
    rem: &Table,
    loc: &Table,
    man: &Table,
    interfaces: &[Interface],
) -> Vec<Neighbor> {
    let mut out = Vec::new();
    for (idx, r) in rem {
        if idx.len() != 3 {
            continue;
        }
        let port = idx[1];
        let local_port = loc
            .get(&vec![port])
            .and_then(|l| {
                // The port's name: its id when that is an interface name (JunOS),
                // else its description (NX-OS ids are MACs), else the id.
                let id = l.get(&3).and_then(Cell::bytes).and_then(text_id);
                let desc = l.get(&4).and_then(Cell::text);
                match l.get(&2).and_then(Cell::int) {
                    Some(5) => id.or(desc),
                    _ => desc.or(id),
                }
            })
            .or_else(|| if_name(interfaces, port));
        out.push(remote(r, 4, local_port, management_address(man, idx)));
    }
    out
}

/// LLDP-V2-MIB: lldpV2RemTable, index timeMark.localIfIndex.destAddressIndex.remIndex
/// (the local port is an ifIndex; the destination address index says which of the
/// LLDP group MACs the peer spoke to). Its columns are LLDP-MIB's, one further on.
pub(super) fn lldp_v2(rem: &Table, man: &Table, interfaces: &[Interface]) -> Vec<Neighbor> {
    rem.iter()
        .filter(|(idx, _)| idx.len() == 4)
        .map(|(idx, r)| {
            remote(
                r,
                5,
                if_name(interfaces, idx[1]),
                management_address(man, idx),
            )
        })
        .collect()
}

/// A remote LLDP entry whose chassis-id subtype is column `first` (4 in LLDP-MIB, 5 in
/// LLDP-V2-MIB); the chassis id, port-id subtype, port id, port description, system
/// name and description follow it.
fn remote(
    r: &Row,
    first: u32,
    local_port: Option<String>,
    management_address: Option<String>,
) -> Neighbor {
    let c = |i: u32| r.get(&(first + i));
    Neighbor {
        protocol: Protocol::Lldp,
        local_port,
        chassis_id: lldp_id(c(0).and_then(Cell::int), c(1).and_then(Cell::bytes), 4),
        port_id: lldp_id(c(2).and_then(Cell::int), c(3).and_then(Cell::bytes), 3),
        port_descr: c(4).and_then(Cell::text),
        sys_name: c(5).and_then(Cell::text),
        sys_descr: c(6).and_then(Cell::text),
        management_address,
        platform: None,
    }
}

/// CISCO-CDP-MIB cdpCacheTable, index ifIndex.deviceIndex: the device id (a name, or a
/// MAC some agents give as 6 raw bytes), its port, its software version (as
/// `sysDescr`), its platform, and its address (cdpCacheAddressType 1 = IPv4, 20 =
/// IPv6).
pub(super) fn cdp_neighbors(cdp: &Table, interfaces: &[Interface]) -> Vec<Neighbor> {
    let mut out = Vec::new();
    for (idx, r) in cdp {
        let [if_index, _] = idx[..] else { continue };
        let address = match (
            r.get(&3).and_then(Cell::int),
            r.get(&4).and_then(Cell::bytes),
        ) {
            (Some(1), Some(&[a, b, c, d])) => Some(format!("{a}.{b}.{c}.{d}")),
            (Some(20), Some(b)) => <[u8; 16]>::try_from(b)
                .ok()
                .map(|b| Ipv6Addr::from(b).to_string()),
            _ => None,
        };
        out.push(Neighbor {
            protocol: Protocol::Cdp,
            local_port: if_name(interfaces, if_index),
            chassis_id: None,
            port_id: r.get(&7).and_then(Cell::text),
            port_descr: None,
            sys_name: r.get(&6).and_then(Cell::bytes).and_then(|b| {
                text_id(b).or_else(|| mac(b)).or_else(|| {
                    (!b.is_empty()).then(|| b.iter().map(|x| format!("{x:02x}")).collect())
                })
            }),
            sys_descr: r.get(&5).and_then(Cell::text),
            management_address: address,
            platform: r.get(&8).and_then(Cell::text),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tables::tests::{table, text};
    use super::*;

    fn ifs() -> Vec<Interface> {
        [(5, "xe-0/0/5"), (10101, "Gi1/0/1")]
            .into_iter()
            .map(|(index, n)| Interface {
                index,
                name: Some(n.into()),
                ..Interface::default()
            })
            .collect()
    }

    #[test]
    fn lldp_ports_and_addresses_are_mapped() {
        // A neighbour on local port 5 (not in lldpLocPortTable: read as ifIndex 5).
        let rem = table(&[
            (&[0, 5, 1], 4, Cell::Int(4)),
            (&[0, 5, 1], 5, Cell::Bytes(vec![2, 0, 0, 0, 0, 1])),
            (&[0, 5, 1], 6, Cell::Int(5)),
            (&[0, 5, 1], 7, text("ge-0/0/1")),
            (&[0, 5, 1], 9, text("peer")),
            // A malformed index (two arcs) is no neighbour.
            (&[0, 5], 9, text("odd")),
        ]);
        let man = table(&[
            (&[0, 5, 1, 1, 4, 198, 18, 9, 2], 3, Cell::Int(2)),
            // Another neighbour's address (index 0.5.10) is not this one's.
            (&[0, 5, 10, 1, 4, 198, 18, 9, 3], 3, Cell::Int(2)),
        ]);
        let n = lldp(&rem, &Table::new(), &man, &ifs());
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].protocol, Protocol::Lldp);
        assert_eq!(n[0].local_port.as_deref(), Some("xe-0/0/5"));
        assert_eq!(n[0].chassis_id.as_deref(), Some("02:00:00:00:00:01"));
        assert_eq!(n[0].port_id.as_deref(), Some("ge-0/0/1"));
        assert_eq!(n[0].sys_name.as_deref(), Some("peer"));
        assert_eq!(n[0].management_address.as_deref(), Some("198.18.9.2"));
    }

    /// LLDP-V2-MIB rows as the MIB shapes them: index timeMark.ifIndex.destIndex.remIndex,
    /// columns one further on than LLDP-MIB's; an IPv6 management address only.
    #[test]
    fn lldp_v2_rows_are_read_with_their_extra_index_arcs() {
        let i: &[u32] = &[0, 10101, 1, 3];
        let rem = table(&[
            (i, 5, Cell::Int(4)),
            (i, 6, Cell::Bytes(vec![2, 0, 0, 0, 0, 0x42])),
            (i, 7, Cell::Int(5)),
            (i, 8, text("Ethernet1/25")),
            (i, 9, text("uplink")),
            (i, 10, text("core-1")),
            (i, 11, text("NX-OS 9.3")),
        ]);
        let mut a: Vec<u32> = vec![0, 10101, 1, 3, 2, 16, 0x20, 0x01, 0, 2];
        a.extend([0; 11]);
        a.push(1);
        let man = table(&[(a.as_slice(), 3, Cell::Int(2))]);
        let n = lldp_v2(&rem, &man, &ifs());
        assert_eq!(n.len(), 1);
        let n = &n[0];
        assert_eq!(n.local_port.as_deref(), Some("Gi1/0/1"));
        assert_eq!(n.chassis_id.as_deref(), Some("02:00:00:00:00:42"));
        assert_eq!(n.port_id.as_deref(), Some("Ethernet1/25"));
        assert_eq!(n.port_descr.as_deref(), Some("uplink"));
        assert_eq!(n.sys_name.as_deref(), Some("core-1"));
        assert_eq!(n.sys_descr.as_deref(), Some("NX-OS 9.3"));
        assert_eq!(n.management_address.as_deref(), Some("2001:2::1"));
    }

    /// cdpCacheTable rows shaped like the recordings: a Catalyst 3750's access point
    /// (text device id, IPv4 address) and an HPE ProCurve's entry (device id as 6 raw
    /// bytes, address type 65535 with no address).
    #[test]
    fn cdp_rows_become_neighbours() {
        let ap: &[u32] = &[10101, 1307];
        let hp: &[u32] = &[8, 1];
        let cdp = table(&[
            (ap, 3, Cell::Int(1)),
            (ap, 4, Cell::Bytes(vec![172, 28, 2, 68])),
            (
                ap,
                5,
                text("Cisco IOS Software, C1600 Software (AP1G2-K9W8-M)"),
            ),
            (ap, 6, text("E-DJ-1F-101indoor")),
            (ap, 7, text("GigabitEthernet0")),
            (ap, 8, text("cisco AIR-CAP1602I-C-K9")),
            (hp, 3, Cell::Int(65535)),
            (hp, 4, Cell::Bytes(vec![])),
            (hp, 6, Cell::Bytes(vec![0xe8, 0x39, 0x35, 0x1a, 0xca, 0x99])),
            // Malformed: one index arc.
            (&[7], 6, text("odd")),
        ]);
        let n = cdp_neighbors(&cdp, &ifs());
        assert_eq!(n.len(), 2);
        let (hp, ap) = (&n[0], &n[1]);
        assert_eq!(ap.protocol, Protocol::Cdp);
        assert_eq!(ap.local_port.as_deref(), Some("Gi1/0/1"));
        assert_eq!(ap.sys_name.as_deref(), Some("E-DJ-1F-101indoor"));
        assert_eq!(ap.port_id.as_deref(), Some("GigabitEthernet0"));
        assert_eq!(ap.platform.as_deref(), Some("cisco AIR-CAP1602I-C-K9"));
        assert_eq!(ap.management_address.as_deref(), Some("172.28.2.68"));
        assert!(ap.sys_descr.as_deref().unwrap().starts_with("Cisco IOS"));
        assert_eq!(hp.sys_name.as_deref(), Some("e8:39:35:1a:ca:99"));
        assert_eq!(
            (hp.local_port.as_deref(), hp.management_address.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn the_enterprise_of_a_sys_object_id() {
        assert_eq!(enterprise(Some(".1.3.6.1.4.1.9.1.516")), Some(9));
        assert_eq!(enterprise(Some("1.3.6.1.4.1.2636.1.1.1.2.25")), Some(2636));
        assert_eq!(enterprise(Some("1.3.6.1.2.1.1")), None);
        assert_eq!(enterprise(None), None);
    }
}
