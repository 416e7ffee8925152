//! The tables of a device, as walked (index arcs to a row of cells), and the pure
//! functions that turn them into the record: chassis, addresses, interfaces, ARP
//! entries (neighbours: [`super::neighbors`]). No I/O: each is unit-tested on tables built by hand.

use super::{ArpEntry, IfStatus, Interface};
use ksocket_core::snmp::Value;
use std::collections::BTreeMap;

/// An owned cell of a table.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Cell {
    Int(i64),
    Bytes(Vec<u8>),
    /// An OID's arcs.
    Oid(Vec<u32>),
    Ip([u8; 4]),
    Unsigned(u64),
}

impl Cell {
    pub(super) fn from(v: &Value<'_>) -> Option<Cell> {
        Some(match v {
            Value::Integer(i) => Cell::Int(*i),
            Value::OctetString(b) | Value::Opaque(b) => Cell::Bytes(b.to_vec()),
            Value::Oid(o) => Cell::Oid(o.arcs().collect()),
            Value::IpAddress(a) => Cell::Ip(*a),
            Value::Counter32(x) | Value::Gauge32(x) | Value::TimeTicks(x) => {
                Cell::Unsigned(u64::from(*x))
            }
            Value::Counter64(x) => Cell::Unsigned(*x),
            _ => return None,
        })
    }
    pub(super) fn text(&self) -> Option<String> {
        match self {
            Cell::Bytes(b) => Some(
                String::from_utf8_lossy(b)
                    .trim_end_matches('\0')
                    .trim()
                    .to_string(),
            )
            .filter(|s| !s.is_empty()),
            Cell::Oid(o) => Some(o.iter().map(|a| format!(".{a}")).collect()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Unsigned(u) => Some(u.to_string()),
            Cell::Ip(a) => Some(format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])),
        }
    }
    pub(super) fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            Cell::Unsigned(u) => i64::try_from(*u).ok(),
            _ => None,
        }
    }
    pub(super) fn bytes(&self) -> Option<&[u8]> {
        match self {
            Cell::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// The cells of one row, by column: a few, so a vector (a map per row would cost a
/// node of its own, about 500 bytes, for each of up to 100,000 rows).
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Row(Vec<(u32, Cell)>);

impl Row {
    pub(super) fn get(&self, col: &u32) -> Option<&Cell> {
        self.0.iter().find(|(c, _)| c == col).map(|(_, v)| v)
    }

    pub(super) fn insert(&mut self, col: u32, cell: Cell) {
        match self.0.iter_mut().find(|(c, _)| *c == col) {
            Some(slot) => slot.1 = cell,
            None => self.0.push((col, cell)),
        }
    }
}

/// index (the arcs after the column) -> the row's cells
pub(super) type Table = BTreeMap<Vec<u32>, Row>;

pub(super) fn mac(b: &[u8]) -> Option<String> {
    (b.len() == 6).then(|| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

pub(super) fn status(v: Option<i64>) -> Option<IfStatus> {
    IfStatus::from_mib(v?)
}

/// LLDP ids by subtype: MAC addresses as MACs, names as text, else hex.
pub(super) fn lldp_id(subtype: Option<i64>, b: Option<&[u8]>, mac_subtype: i64) -> Option<String> {
    let b = b?;
    if subtype == Some(mac_subtype)
        && let Some(m) = mac(b)
    {
        return Some(m);
    }
    text_id(b).or_else(|| Some(b.iter().map(|x| format!("{x:02x}")).collect()))
}

/// An id that is printable text, once NUL padding is cut (NX-OS pads port ids).
pub(super) fn text_id(b: &[u8]) -> Option<String> {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    let b = &b[..end];
    (!b.is_empty() && b.iter().all(|c| (0x20..0x7f).contains(c)))
        .then(|| String::from_utf8_lossy(b).into_owned())
}

/// An IPv4 address from four index arcs; `None` when an arc is over 255 (a malformed
/// row, never truncated into another address).
pub(super) fn ipv4(arcs: &[u32]) -> Option<[u8; 4]> {
    let [a, b, c, d] = arcs else { return None };
    Some([
        u8::try_from(*a).ok()?,
        u8::try_from(*b).ok()?,
        u8::try_from(*c).ok()?,
        u8::try_from(*d).ok()?,
    ])
}

/// Says in `notes` how many rows of `table` had a malformed index.
pub(super) fn malformed(notes: &mut Vec<String>, table: &str, n: usize) {
    if n > 0 {
        notes.push(format!("{table}: {n} rows with a malformed index ignored"));
    }
}

/// ipAddressPrefixEntry (IP-MIB): the rows ipAddressPrefix points at.
const PREFIX_ENTRY: [u32; 9] = [1, 3, 6, 1, 2, 1, 4, 32, 1];

/// The prefix length an ipAddressPrefix points at: the last arc of an
/// ipAddressPrefixTable row (net-snmp `...32.1.5.ifIndex.1.4.a.b.c.d.len`, NX-OS
/// `...32.1.ifIndex.1.a.b.c.d.len`). Not a length: zeroDotZero (APC, Ruijie, D-Link:
/// "no prefix known"), a pointer elsewhere, and a last arc of 0 (agents that end the
/// pointer with a `.0`, Slackware's and Phoenixtec's: no interface address is on a /0).
/// Those addresses take ipAddrTable's netmask instead.
pub(super) fn prefix_len(c: Option<&Cell>) -> Option<u32> {
    match c {
        Some(Cell::Oid(o)) if o.len() > PREFIX_ENTRY.len() && o.starts_with(&PREFIX_ENTRY) => {
            o.last().copied().filter(|b| (1..=32).contains(b))
        }
        _ => None,
    }
}

/// Whether ipAddressTable gives IPv4 addresses, each with its prefix.
pub(super) fn has_every_prefix(addresses: &Table) -> bool {
    let mut v4 = addresses
        .iter()
        .filter(|(i, _)| i.starts_with(&[1, 4]))
        .peekable();
    v4.peek().is_some() && v4.all(|(_, a)| prefix_len(a.get(&5)).is_some())
}

/// IPv4 addresses (`a.b.c.d/len`) per ifIndex, from ipAddrTable (index a.b.c.d:
/// ifIndex, netmask) and ipAddressTable (index 1.4.a.b.c.d: ifIndex, prefix).
pub(super) fn addresses_by_if(
    addresses: &Table,
    addrs: &Table,
    notes: &mut Vec<String>,
) -> BTreeMap<u32, Vec<String>> {
    let mut by_if: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    // The addresses already listed, per interface (a set: an agent may list tens of
    // thousands on one interface; a scan of the list for each would be quadratic).
    let mut seen: std::collections::HashSet<(u32, [u8; 4])> = std::collections::HashSet::new();
    let (mut bad_old, mut bad_new) = (0, 0);
    for (ip, a) in addrs {
        let (Some(ifx), Some(mask)) = (
            a.get(&2).and_then(Cell::int),
            a.get(&3).and_then(Cell::text),
        ) else {
            continue;
        };
        let (Some([a1, a2, a3, a4]), Ok(ifx)) = (ipv4(ip), u32::try_from(ifx)) else {
            bad_old += 1;
            continue;
        };
        let bits: u32 = mask
            .split('.')
            .filter_map(|o| o.parse::<u8>().ok())
            .map(|o| o.count_ones())
            .sum();
        seen.insert((ifx, [a1, a2, a3, a4]));
        by_if
            .entry(ifx)
            .or_default()
            .push(format!("{a1}.{a2}.{a3}.{a4}/{bits}"));
    }
    for (idx, a) in addresses {
        let [1, 4, ref addr @ ..] = idx[..] else {
            continue;
        };
        let Some(ifx) = a.get(&3).and_then(Cell::int) else {
            continue;
        };
        let (Some([a1, a2, a3, a4]), Ok(ifx)) = (ipv4(addr), u32::try_from(ifx)) else {
            bad_new += 1;
            continue;
        };
        let bits = prefix_len(a.get(&5));
        let ip = format!("{a1}.{a2}.{a3}.{a4}");
        if seen.insert((ifx, [a1, a2, a3, a4])) {
            by_if.entry(ifx).or_default().push(match bits {
                Some(b) => format!("{ip}/{b}"),
                None => ip,
            });
        }
    }
    malformed(notes, "ipAddrTable", bad_old);
    malformed(notes, "ipAddressTable", bad_new);
    by_if
}

/// ifHighSpeed (Mbit/s) in bit/s; `None` for what no interface runs at.
pub(super) fn mbit(h: i64) -> Option<u64> {
    u64::try_from(h).ok()?.checked_mul(1_000_000)
}

/// IF-MIB ifTable and ifXTable, with each interface's addresses.
pub(super) fn interfaces(
    if_table: &Table,
    if_x: &Table,
    mut by_if: BTreeMap<u32, Vec<String>>,
) -> Vec<Interface> {
    let mut out = Vec::new();
    for (idx, r) in if_table {
        let Some(&index) = idx.first() else { continue };
        let x = if_x.get(idx);
        let t = |c: u32| r.get(&c).and_then(Cell::text);
        let high = x
            .and_then(|x| x.get(&15))
            .and_then(Cell::int)
            .filter(|h| *h > 0);
        let speed = match (r.get(&5).and_then(Cell::int), high) {
            (Some(s), Some(h)) if s >= i64::from(u32::MAX) => mbit(h),
            // ifSpeed's 4294967295 means "see ifHighSpeed"; without one (NetApp,
            // Ruijie) the speed is unknown, not 4.29 Gbit/s.
            (Some(s), None) if s >= i64::from(u32::MAX) => None,
            (Some(s), _) => u64::try_from(s).ok(),
            (None, Some(h)) => mbit(h),
            _ => None,
        };
        let ipv4 = by_if.remove(&index).unwrap_or_default();
        out.push(Interface {
            index,
            name: x.and_then(|x| x.get(&1)).and_then(Cell::text),
            descr: t(2),
            alias: x.and_then(|x| x.get(&18)).and_then(Cell::text),
            if_type: r.get(&3).and_then(Cell::int),
            mac: r.get(&6).and_then(Cell::bytes).and_then(mac),
            speed,
            admin_status: status(r.get(&7).and_then(Cell::int)),
            oper_status: status(r.get(&8).and_then(Cell::int)),
            ipv4,
        });
    }
    out
}

/// Whether an ARP entry names a neighbour: not an incomplete entry (zero MAC), not
/// the static entries agents list for broadcast and multicast (a MAC with the group
/// bit set: ff:ff:ff:ff:ff:ff for a subnet's network and broadcast addresses on D-Link,
/// 01:00:5e:.. for multicast groups), not a multicast or limited-broadcast address.
/// (A subnet broadcast address with a unicast MAC is kept: no agent was seen to list
/// one, and telling it apart needs the prefix of an interface the entry may not be on.)
pub(super) fn is_neighbour(ip: [u8; 4], mac: &str) -> bool {
    let group = u8::from_str_radix(mac.get(..2).unwrap_or("01"), 16).map_or(true, |b| b & 1 == 1);
    mac != "00:00:00:00:00:00" && !group && ip[0] < 224
}

/// ARP: ipNetToMediaPhysAddress (index ifIndex.a.b.c.d), and IP-MIB's
/// ipNetToPhysicalPhysAddress (index ifIndex.type(1=ipv4).4.a.b.c.d) for what the older
/// table lacks.
pub(super) fn arp_entries(arp: &Table, phys: &Table, notes: &mut Vec<String>) -> Vec<ArpEntry> {
    let mut out = Vec::new();
    let old = arp.iter().filter_map(|(idx, r)| match &idx[..] {
        [ifx, addr @ ..] if addr.len() == 4 => Some((*ifx, ipv4(addr), r.get(&2))),
        _ => None,
    });
    let new = phys.iter().filter_map(|(idx, r)| match &idx[..] {
        [ifx, 1, 4, addr @ ..] if addr.len() == 4 => Some((*ifx, ipv4(addr), r.get(&4))),
        _ => None,
    });
    let mut seen = std::collections::BTreeSet::new();
    let mut bad = 0;
    for (if_index, ip, cell) in old.chain(new) {
        let Some(ip) = ip else {
            bad += 1;
            continue;
        };
        let Some(m) = cell.and_then(Cell::bytes).and_then(mac) else {
            continue;
        };
        if !is_neighbour(ip, &m) || !seen.insert((if_index, ip)) {
            continue;
        }
        out.push(ArpEntry {
            ip: format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]),
            mac: m,
            if_index,
        });
    }
    malformed(notes, "ipNetToMediaTable/ipNetToPhysicalTable", bad);
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A table from (index, column, cell) triples.
    pub(in super::super) fn table(rows: &[(&[u32], u32, Cell)]) -> Table {
        let mut t = Table::new();
        for (idx, col, cell) in rows {
            t.entry(idx.to_vec())
                .or_default()
                .insert(*col, cell.clone());
        }
        t
    }

    pub(in super::super) fn text(s: &str) -> Cell {
        Cell::Bytes(s.as_bytes().to_vec())
    }

    #[test]
    fn interfaces_get_their_addresses_speeds_and_states() {
        let if_table = table(&[
            (&[2], 2, text("eth0")),
            (&[2], 3, Cell::Int(6)),
            (&[2], 5, Cell::Unsigned(u64::from(u32::MAX))),
            (&[2], 6, Cell::Bytes(vec![2, 0, 0, 0, 0, 9])),
            (&[2], 7, Cell::Int(1)),
            (&[2], 8, Cell::Int(7)),
        ]);
        let if_x = table(&[(&[2], 1, text("Te1/0/1")), (&[2], 15, Cell::Int(10_000))]);
        // ipAddressTable: 198.18.3.1 on ifIndex 2, prefix row ending in 24.
        let new = table(&[
            (&[1, 4, 198, 18, 3, 1], 3, Cell::Int(2)),
            (
                &[1, 4, 198, 18, 3, 1],
                5,
                Cell::Oid(vec![
                    1, 3, 6, 1, 2, 1, 4, 32, 1, 5, 2, 1, 4, 198, 18, 3, 0, 24,
                ]),
            ),
        ]);
        assert!(has_every_prefix(&new));
        // ipAddrTable adds a second address with its netmask.
        let old = table(&[
            (&[198, 18, 4, 1], 2, Cell::Int(2)),
            (&[198, 18, 4, 1], 3, Cell::Ip([255, 255, 254, 0])),
        ]);
        let mut notes = Vec::new();
        let ifs = interfaces(&if_table, &if_x, addresses_by_if(&new, &old, &mut notes));
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(ifs.len(), 1);
        let i = &ifs[0];
        assert_eq!(i.name.as_deref(), Some("Te1/0/1"));
        assert_eq!(
            i.speed,
            Some(10_000_000_000),
            "ifHighSpeed where ifSpeed saturates"
        );
        assert_eq!(i.mac.as_deref(), Some("02:00:00:00:00:09"));
        assert_eq!(
            (i.admin_status, i.oper_status),
            (Some(IfStatus::Up), Some(IfStatus::LowerLayerDown))
        );
        assert_eq!(i.ipv4, ["198.18.4.1/23", "198.18.3.1/24"]);
    }

    /// The recordings' wrong values: ipAddressPrefix at zeroDotZero (APC 7902B) or at a
    /// row ending in `.0` (Slackware) is no prefix length, ipAddrTable's netmask is;
    /// ifSpeed 4294967295 without ifHighSpeed (NetApp FAS3270) is no speed.
    #[test]
    fn prefixes_at_zero_dot_zero_or_dot_zero_and_saturated_speeds_are_not_values() {
        let apc = table(&[
            (&[1, 4, 192, 168, 0, 54], 3, Cell::Int(2)),
            (&[1, 4, 192, 168, 0, 54], 5, Cell::Oid(vec![0, 0])),
        ]);
        let slackware = table(&[
            (&[1, 4, 195, 218, 254, 105], 3, Cell::Int(2)),
            (
                &[1, 4, 195, 218, 254, 105],
                5,
                Cell::Oid(vec![
                    1, 3, 6, 1, 2, 1, 4, 32, 1, 5, 2, 1, 4, 215, 218, 234, 183, 0,
                ]),
            ),
        ]);
        // NX-OS points at prefix rows without a column arc: still a prefix.
        let nxos = table(&[
            (&[1, 4, 10, 40, 1, 253], 3, Cell::Int(2)),
            (
                &[1, 4, 10, 40, 1, 253],
                5,
                Cell::Oid(vec![
                    1, 3, 6, 1, 2, 1, 4, 32, 1, 151060550, 1, 10, 40, 1, 0, 24,
                ]),
            ),
        ]);
        assert!(!has_every_prefix(&apc) && !has_every_prefix(&slackware));
        assert!(has_every_prefix(&nxos));
        let mut notes = Vec::new();
        let by_if = addresses_by_if(&nxos, &Table::new(), &mut notes);
        assert_eq!(by_if[&2], ["10.40.1.253/24"]);
        let old = table(&[
            (&[192, 168, 0, 54], 2, Cell::Int(2)),
            (&[192, 168, 0, 54], 3, Cell::Ip([255, 255, 255, 0])),
        ]);
        let by_if = addresses_by_if(&apc, &old, &mut notes);
        assert_eq!(by_if[&2], ["192.168.0.54/24"]);
        // Without ipAddrTable the address stands without a length, never as /0.
        let by_if = addresses_by_if(&slackware, &Table::new(), &mut notes);
        assert_eq!(by_if[&2], ["195.218.254.105"]);
        let if_table = table(&[
            (&[1], 5, Cell::Unsigned(u64::from(u32::MAX))),
            (&[2], 5, Cell::Unsigned(u64::from(u32::MAX))),
            (&[3], 5, Cell::Unsigned(1_000_000_000)),
        ]);
        let if_x = table(&[(&[2], 15, Cell::Int(0)), (&[3], 15, Cell::Int(1000))]);
        let ifs = interfaces(&if_table, &if_x, BTreeMap::new());
        let speeds: Vec<Option<u64>> = ifs.iter().map(|i| i.speed).collect();
        assert_eq!(speeds, [None, None, Some(1_000_000_000)]);
    }

    /// D-Link DES-3200's ARP table lists its subnet's network and broadcast addresses
    /// with ff:ff:ff:ff:ff:ff; other agents list multicast groups (01:00:5e:..): none
    /// of those is a neighbour.
    #[test]
    fn broadcast_and_multicast_arp_entries_are_not_neighbours() {
        let ff = || Cell::Bytes(vec![0xff; 6]);
        let arp = table(&[
            (&[5121, 10, 2, 0, 0], 2, ff()),
            (
                &[5121, 10, 2, 0, 20],
                2,
                Cell::Bytes(vec![0x4c, 0x5e, 0x0c, 0x24, 0x28, 0x0a]),
            ),
            (&[5121, 10, 2, 0, 255], 2, ff()),
            (
                &[3, 239, 255, 255, 250],
                2,
                Cell::Bytes(vec![1, 0, 0x5e, 0x7f, 0xff, 0xfa]),
            ),
            (&[3, 224, 0, 0, 251], 2, Cell::Bytes(vec![2, 0, 0, 0, 0, 1])),
        ]);
        let mut notes = Vec::new();
        let a = arp_entries(&arp, &Table::new(), &mut notes);
        let got: Vec<(&str, &str)> = a.iter().map(|e| (e.ip.as_str(), e.mac.as_str())).collect();
        assert_eq!(got, [("10.2.0.20", "4c:5e:0c:24:28:0a")]);
    }

    #[test]
    fn arp_entries_are_mapped() {
        // ARP from both tables, once each; incomplete (zero) MACs left out.
        let arp = table(&[
            (&[2, 198, 18, 3, 7], 2, Cell::Bytes(vec![2, 0, 0, 0, 0, 7])),
            (&[2, 198, 18, 3, 8], 2, Cell::Bytes(vec![0; 6])),
        ]);
        let phys = table(&[
            (
                &[2, 1, 4, 198, 18, 3, 7],
                4,
                Cell::Bytes(vec![2, 0, 0, 0, 0, 7]),
            ),
            (
                &[2, 1, 4, 198, 18, 3, 9],
                4,
                Cell::Bytes(vec![2, 0, 0, 0, 0, 9]),
            ),
        ]);
        let mut notes = Vec::new();
        let a = arp_entries(&arp, &phys, &mut notes);
        let ips: Vec<&str> = a.iter().map(|e| e.ip.as_str()).collect();
        assert_eq!(ips, ["198.18.3.7", "198.18.3.9"]);
        // An index arc over 255 is a malformed row, counted, never another address.
        let arp = table(&[(
            &[2, 198, 18, 3, 300],
            2,
            Cell::Bytes(vec![2, 0, 0, 0, 0, 7]),
        )]);
        let a = arp_entries(&arp, &Table::new(), &mut notes);
        assert!(a.is_empty());
        assert_eq!(
            notes,
            ["ipNetToMediaTable/ipNetToPhysicalTable: 1 rows with a malformed index ignored"]
        );
    }
}
