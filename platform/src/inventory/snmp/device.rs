//! What ksocket collects from a network device over SNMP, as a typed record: the system
//! group, the chassis from ENTITY-MIB, interfaces (IF-MIB ifTable + ifXTable) with their
//! IPv4 addresses (ipAddrTable), LLDP neighbours (LLDP-MIB) and the ARP table
//! (ipNetToMediaTable). Every table walk that ends early is named in `incomplete`: a
//! partial table is never passed off as whole.

use crate::inventory::snmp::{Client, Error, Target, WalkEnd, WalkLimits, row_bytes};
use ksocket_core::snmp::{OidBuf, Value};
pub use ksocket_proto::records::snmp::{ArpEntry, Chassis, Device, IfStatus, Interface, Neighbor};
use std::collections::BTreeMap;
use std::time::Instant;

/// An owned cell of a table.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Int(i64),
    Bytes(Vec<u8>),
    /// An OID's arcs.
    Oid(Vec<u32>),
    Ip([u8; 4]),
    Unsigned(u64),
}

impl Cell {
    fn from(v: &Value<'_>) -> Option<Cell> {
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
    fn text(&self) -> Option<String> {
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
    fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            Cell::Unsigned(u) => i64::try_from(*u).ok(),
            _ => None,
        }
    }
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Cell::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// The cells of one row, by column: a few, so a vector (a map per row would cost a
/// node of its own, about 500 bytes, for each of up to 100,000 rows).
#[derive(Clone, Debug, Default, PartialEq)]
struct Row(Vec<(u32, Cell)>);

impl Row {
    fn get(&self, col: &u32) -> Option<&Cell> {
        self.0.iter().find(|(c, _)| c == col).map(|(_, v)| v)
    }

    fn insert(&mut self, col: u32, cell: Cell) {
        match self.0.iter_mut().find(|(c, _)| *c == col) {
            Some(slot) => slot.1 = cell,
            None => self.0.push((col, cell)),
        }
    }
}

/// index (the arcs after the column) -> the row's cells
type Table = BTreeMap<Vec<u32>, Row>;

fn mac(b: &[u8]) -> Option<String> {
    (b.len() == 6).then(|| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

fn status(v: Option<i64>) -> Option<IfStatus> {
    IfStatus::from_mib(v?)
}

/// LLDP ids by subtype: MAC addresses as MACs, names as text, else hex.
fn lldp_id(subtype: Option<i64>, b: Option<&[u8]>, mac_subtype: i64) -> Option<String> {
    let b = b?;
    if subtype == Some(mac_subtype)
        && let Some(m) = mac(b)
    {
        return Some(m);
    }
    text_id(b).or_else(|| Some(b.iter().map(|x| format!("{x:02x}")).collect()))
}

/// An id that is printable text, once NUL padding is cut (NX-OS pads port ids).
fn text_id(b: &[u8]) -> Option<String> {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    let b = &b[..end];
    (!b.is_empty() && b.iter().all(|c| (0x20..0x7f).contains(c)))
        .then(|| String::from_utf8_lossy(b).into_owned())
}

/// The bounds of one device record: whatever a device sends, reading it ends in
/// bounded time and memory, with what was read and the reason in `incomplete`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Rows of one table (all its columns) at most.
    pub table_rows: usize,
    /// Bytes of one table at most (see [`super::row_bytes`]).
    pub table_bytes: usize,
    /// Bytes of the whole record at most.
    pub record_bytes: usize,
    /// No request is sent after this; tables not read by then are said so.
    pub deadline: Option<Instant>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            table_rows: 100_000,
            table_bytes: 16 << 20,
            record_bytes: 16 << 20,
            deadline: None,
        }
    }
}

struct Walker<'a> {
    client: &'a mut Client,
    target: &'a Target,
    limits: Limits,
    /// Bytes the record has used.
    used: usize,
    incomplete: Vec<String>,
}

impl Walker<'_> {
    /// Walks the given columns of a table (`entry` is the table's entry OID), within
    /// the table's and the record's limits.
    async fn table(&mut self, name: &str, entry: &str, cols: &[u32]) -> Result<Table, Error> {
        let mut t = Table::new();
        if self.limits.deadline.is_some_and(|d| Instant::now() >= d) {
            self.incomplete
                .push(format!("{name}: not read, the time limit was up"));
            return Ok(t);
        }
        if self.used >= self.limits.record_bytes {
            self.incomplete.push(format!(
                "{name}: not read, the record reached its limit of {} bytes",
                self.limits.record_bytes
            ));
            return Ok(t);
        }
        let (mut rows, mut bytes) = (0usize, 0usize);
        for &c in cols {
            let root: OidBuf = format!("{entry}.{c}").parse().expect("valid OID");
            let prefix = root.arcs().len();
            let room = self.limits.record_bytes.saturating_sub(self.used);
            let limits = WalkLimits {
                rows: self.limits.table_rows.saturating_sub(rows),
                bytes: self.limits.table_bytes.saturating_sub(bytes).min(room),
                deadline: self.limits.deadline,
            };
            let before = bytes;
            let mut add = |o: &OidBuf, v: &Value<'_>| {
                rows += 1;
                bytes += row_bytes(o, v);
                let arcs = o.arcs();
                if let Some(cell) = Cell::from(v)
                    && arcs.len() > prefix
                {
                    t.entry(arcs[prefix..].to_vec())
                        .or_default()
                        .insert(c, cell);
                }
            };
            let end = self
                .client
                .walk(self.target, &root, &limits, &mut add)
                .await;
            self.used += bytes - before;
            match end {
                Ok(WalkEnd::Complete | WalkEnd::EndOfMib) => {}
                Ok(WalkEnd::Incomplete(why)) => {
                    self.incomplete.push(format!("{name}: {why}"));
                    break;
                }
                // A device that answered before and stops now: say so, keep the rest.
                Err(Error::Timeout) if !t.is_empty() => {
                    self.incomplete.push(format!("{name}: timeout"));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(t)
    }
}

/// Where a device lacks ENTITY-MIB (or its chassis entry lacks a serial number): the
/// vendor's own scalars, by the enterprise of sysObjectID, as (enterprise, serial OID,
/// model/description OID).
const VENDOR_SCALARS: &[(u32, &str, Option<&str>)] = &[
    // Cisco OLD-CISCO-CHASSIS-MIB chassisSerialNumberString.
    (9, "1.3.6.1.4.1.9.3.6.3.0", None),
    // Juniper JUNIPER-MIB jnxBoxSerialNo, jnxBoxDescr.
    (
        2636,
        "1.3.6.1.4.1.2636.3.1.3.0",
        Some("1.3.6.1.4.1.2636.3.1.2.0"),
    ),
    // Brocade/Foundry FOUNDRY-SN-AGENT-MIB snChasSerNum.
    (1991, "1.3.6.1.4.1.1991.1.1.1.1.2.0", None),
];

/// Printer-MIB prtGeneralSerialNumber.1: printers of every vendor.
const PRINTER_SERIAL: &str = "1.3.6.1.2.1.43.5.1.1.17.1";

/// The software version a sysDescr states: the token after `Version` (Cisco IOS,
/// NX-OS, Brocade IronWare, ...) or after `JUNOS`.
pub fn version_in_descr(descr: &str) -> Option<String> {
    let words: Vec<&str> = descr.split_whitespace().collect();
    words.windows(2).find_map(|w| {
        let key = w[0].trim_end_matches(':');
        (key.eq_ignore_ascii_case("version") || key == "JUNOS")
            .then(|| w[1].trim_end_matches([',', ';', '.']).to_string())
            .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()))
    })
}

/// Fills what ENTITY-MIB did not give: serial number and model from the vendor's
/// scalars or Printer-MIB, the software version from sysDescr.
async fn fallbacks(client: &mut Client, target: &Target, d: &mut Device) {
    let has_serial = d
        .chassis
        .as_ref()
        .is_some_and(|c| c.serial_number.is_some());
    let enterprise = d
        .sys_object_id
        .as_deref()
        .and_then(|o| o.trim_start_matches('.').strip_prefix("1.3.6.1.4.1."))
        .and_then(|r| r.split('.').next())
        .and_then(|e| e.parse::<u32>().ok());
    if !has_serial {
        let mut oids: Vec<&str> = vec![PRINTER_SERIAL];
        let vendor = VENDOR_SCALARS.iter().find(|v| Some(v.0) == enterprise);
        if let Some((_, serial, model)) = vendor {
            oids.push(serial);
            oids.extend(model.iter());
        }
        let parsed: Vec<OidBuf> = oids.iter().filter_map(|o| o.parse().ok()).collect();
        let mut got: BTreeMap<String, String> = BTreeMap::new();
        // One GET; agents without these answer noSuchObject (v2c) or noSuchName (v1:
        // then nothing is filled).
        let _ = client
            .get(target, &parsed, &mut |o, v| {
                if let Some(t) = Cell::from(v).and_then(|c| c.text()) {
                    got.insert(o.to_string().trim_start_matches('.').to_string(), t);
                }
            })
            .await;
        let serial = vendor
            .and_then(|v| got.get(v.1))
            .or_else(|| got.get(PRINTER_SERIAL))
            .cloned();
        let model = vendor.and_then(|v| v.2).and_then(|m| got.get(m)).cloned();
        if serial.is_some() || model.is_some() {
            let c = d.chassis.get_or_insert_with(Chassis::default);
            c.serial_number = c.serial_number.take().or(serial);
            c.model = c.model.take().or(model);
        }
    }
    let from_descr = d.sys_descr.as_deref().and_then(version_in_descr);
    if from_descr.is_some()
        && d.chassis
            .as_ref()
            .is_none_or(|c| c.software_version.is_none())
    {
        d.chassis
            .get_or_insert_with(Chassis::default)
            .software_version = from_descr;
    }
}

/// Collects a device record within `limits`. Fails only when the device does not
/// answer at all.
pub async fn collect(
    client: &mut Client,
    target: &Target,
    limits: Limits,
) -> Result<Device, Error> {
    let mut d = system(client, target).await?;
    let mut w = Walker {
        client,
        target,
        limits,
        used: 0,
        incomplete: Vec::new(),
    };
    let ent = w
        .table(
            "entPhysicalTable",
            "1.3.6.1.2.1.47.1.1.1.1",
            &[2, 5, 8, 9, 10, 11, 12, 13],
        )
        .await?;
    d.chassis = chassis(&ent);
    fallbacks(w.client, target, &mut d).await;
    let if_table = w
        .table("ifTable", "1.3.6.1.2.1.2.2.1", &[2, 3, 5, 6, 7, 8])
        .await?;
    let if_x = w
        .table("ifXTable", "1.3.6.1.2.1.31.1.1.1", &[1, 15, 18])
        .await?;
    // IP-MIB ipAddressTable (RFC 4293) first; the older ipAddrTable only when that
    // does not give every IPv4 address with its prefix (older devices lack the new
    // table; net-snmp answers the old one ~40x slower, 0.9 s for 120 addresses).
    let addresses = w
        .table("ipAddressTable", "1.3.6.1.2.1.4.34.1", &[3, 5])
        .await?;
    let addrs = if has_every_prefix(&addresses) {
        Table::new()
    } else {
        w.table("ipAddrTable", "1.3.6.1.2.1.4.20.1", &[2, 3])
            .await?
    };
    let by_if = addresses_by_if(&addresses, &addrs, &mut w.incomplete);
    d.interfaces = interfaces(&if_table, &if_x, by_if);
    let rem = w
        .table(
            "lldpRemTable",
            "1.0.8802.1.1.2.1.4.1.1",
            &[4, 5, 6, 7, 8, 9, 10],
        )
        .await?;
    let loc = w
        .table("lldpLocPortTable", "1.0.8802.1.1.2.1.3.7.1", &[2, 3, 4])
        .await?;
    let man = w
        .table("lldpRemManAddrTable", "1.0.8802.1.1.2.1.4.2.1", &[3])
        .await?;
    d.lldp_neighbors = lldp(&rem, &loc, &man, &d.interfaces);
    let arp = w
        .table("ipNetToMediaTable", "1.3.6.1.2.1.4.22.1", &[2])
        .await?;
    let phys = w
        .table("ipNetToPhysicalTable", "1.3.6.1.2.1.4.35.1", &[4])
        .await?;
    d.arp = arp_entries(&arp, &phys, &mut w.incomplete);
    d.incomplete = w.incomplete;
    Ok(d)
}

/// The system group (one GET).
async fn system(client: &mut Client, target: &Target) -> Result<Device, Error> {
    let sys: Vec<OidBuf> = (1..=6)
        .map(|i| format!("1.3.6.1.2.1.1.{i}.0").parse().expect("valid"))
        .collect();
    // system.i.0 -> value
    let mut got: BTreeMap<u32, Cell> = BTreeMap::new();
    client
        .get(target, &sys, &mut |o, v| {
            if let ([1, 3, 6, 1, 2, 1, 1, i, 0], Some(c)) = (o.arcs(), Cell::from(v)) {
                got.insert(*i, c);
            }
        })
        .await?;
    let s = |i: u32| got.get(&i).and_then(Cell::text);
    Ok(Device {
        sys_descr: s(1),
        sys_object_id: s(2),
        sys_up_time: got
            .get(&3)
            .and_then(Cell::int)
            .and_then(|x| u64::try_from(x).ok()),
        sys_contact: s(4),
        sys_name: s(5),
        sys_location: s(6),
        ..Device::default()
    })
}

/// ENTITY-MIB entPhysicalTable: the first chassis (class 3), else the first entry.
fn chassis(ent: &Table) -> Option<Chassis> {
    let r = ent
        .values()
        .find(|r| r.get(&5).and_then(Cell::int) == Some(3))
        .or_else(|| ent.values().next())?;
    let t = |c: u32| r.get(&c).and_then(Cell::text);
    Some(Chassis {
        description: t(2),
        hardware_version: t(8),
        firmware_version: t(9),
        software_version: t(10),
        serial_number: t(11),
        manufacturer: t(12),
        model: t(13),
    })
}

/// An IPv4 address from four index arcs; `None` when an arc is over 255 (a malformed
/// row, never truncated into another address).
fn ipv4(arcs: &[u32]) -> Option<[u8; 4]> {
    let [a, b, c, d] = arcs else { return None };
    Some([
        u8::try_from(*a).ok()?,
        u8::try_from(*b).ok()?,
        u8::try_from(*c).ok()?,
        u8::try_from(*d).ok()?,
    ])
}

/// Says in `notes` how many rows of `table` had a malformed index.
fn malformed(notes: &mut Vec<String>, table: &str, n: usize) {
    if n > 0 {
        notes.push(format!("{table}: {n} rows with a malformed index ignored"));
    }
}

/// The prefix length an ipAddressPrefix points at (the last arc of the prefix row).
fn prefix_len(c: Option<&Cell>) -> Option<u32> {
    match c {
        Some(Cell::Oid(o)) => o.last().copied().filter(|b| *b <= 32),
        _ => None,
    }
}

/// Whether ipAddressTable gives IPv4 addresses, each with its prefix.
fn has_every_prefix(addresses: &Table) -> bool {
    let mut v4 = addresses
        .iter()
        .filter(|(i, _)| i.starts_with(&[1, 4]))
        .peekable();
    v4.peek().is_some() && v4.all(|(_, a)| prefix_len(a.get(&5)).is_some())
}

/// IPv4 addresses (`a.b.c.d/len`) per ifIndex, from ipAddrTable (index a.b.c.d:
/// ifIndex, netmask) and ipAddressTable (index 1.4.a.b.c.d: ifIndex, prefix).
fn addresses_by_if(
    addresses: &Table,
    addrs: &Table,
    notes: &mut Vec<String>,
) -> BTreeMap<u32, Vec<String>> {
    let mut by_if: BTreeMap<u32, Vec<String>> = BTreeMap::new();
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
        let list = by_if.entry(ifx).or_default();
        if !list
            .iter()
            .any(|x| x.split('/').next() == Some(ip.as_str()))
        {
            list.push(match bits {
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
fn mbit(h: i64) -> Option<u64> {
    u64::try_from(h).ok()?.checked_mul(1_000_000)
}

/// IF-MIB ifTable and ifXTable, with each interface's addresses.
fn interfaces(
    if_table: &Table,
    if_x: &Table,
    mut by_if: BTreeMap<u32, Vec<String>>,
) -> Vec<Interface> {
    let mut out = Vec::new();
    for (idx, r) in if_table {
        let Some(&index) = idx.first() else { continue };
        let x = if_x.get(idx);
        let t = |c: u32| r.get(&c).and_then(Cell::text);
        let speed = match (
            r.get(&5).and_then(Cell::int),
            x.and_then(|x| x.get(&15)).and_then(Cell::int),
        ) {
            (Some(s), Some(h)) if s >= i64::from(u32::MAX) && h > 0 => mbit(h),
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

/// LLDP-MIB: lldpRemTable (index timeMark.localPortNum.remIndex), local ports from
/// lldpLocPortTable. Juniper indexes remote entries by ifIndex rather than by
/// lldpLocPortNum: when a port number is not in lldpLocPortTable, it is read as an
/// ifIndex and named from the interfaces.
fn lldp(rem: &Table, loc: &Table, man: &Table, interfaces: &[Interface]) -> Vec<Neighbor> {
    let mut out = Vec::new();
    for (idx, r) in rem {
        if idx.len() < 3 {
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
            .or_else(|| {
                interfaces
                    .iter()
                    .find(|i| i.index == port)
                    .and_then(|i| i.name.clone().or(i.descr.clone()))
            });
        // Management address: index ...timeMark.port.remIndex.addrSubtype.len.addr
        let management_address = man.keys().find_map(|k| {
            (k.len() >= 9 && k[..3] == idx[..3] && k[3] == 1 && k[4] == 4).then(|| {
                k[5..9]
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(".")
            })
        });
        out.push(Neighbor {
            local_port,
            chassis_id: lldp_id(
                r.get(&4).and_then(Cell::int),
                r.get(&5).and_then(Cell::bytes),
                4,
            ),
            port_id: lldp_id(
                r.get(&6).and_then(Cell::int),
                r.get(&7).and_then(Cell::bytes),
                3,
            ),
            port_descr: r.get(&8).and_then(Cell::text),
            sys_name: r.get(&9).and_then(Cell::text),
            sys_descr: r.get(&10).and_then(Cell::text),
            management_address,
        });
    }
    out
}

/// ARP: ipNetToMediaPhysAddress (index ifIndex.a.b.c.d), and IP-MIB's
/// ipNetToPhysicalPhysAddress (index ifIndex.type(1=ipv4).4.a.b.c.d) for what the older
/// table lacks.
fn arp_entries(arp: &Table, phys: &Table, notes: &mut Vec<String>) -> Vec<ArpEntry> {
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
        if m == "00:00:00:00:00:00" || !seen.insert((if_index, ip)) {
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
mod tests {
    use super::*;

    /// A table from (index, column, cell) triples.
    fn table(rows: &[(&[u32], u32, Cell)]) -> Table {
        let mut t = Table::new();
        for (idx, col, cell) in rows {
            t.entry(idx.to_vec())
                .or_default()
                .insert(*col, cell.clone());
        }
        t
    }

    fn text(s: &str) -> Cell {
        Cell::Bytes(s.as_bytes().to_vec())
    }

    #[test]
    fn the_chassis_is_the_chassis_class_else_the_first_entry() {
        let ent = table(&[
            (&[1], 5, Cell::Int(10)), // a port
            (&[1], 13, text("SFP-10G")),
            (&[2], 5, Cell::Int(3)),
            (&[2], 11, text("FOC1234X0AB")),
            (&[2], 13, text("WS-C3560-24TS")),
        ]);
        let c = chassis(&ent).unwrap();
        assert_eq!(c.model.as_deref(), Some("WS-C3560-24TS"));
        assert_eq!(c.serial_number.as_deref(), Some("FOC1234X0AB"));
        assert_eq!(chassis(&Table::new()), None);
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

    #[test]
    fn lldp_ports_and_arp_entries_are_mapped() {
        // A neighbour on local port 5 (not in lldpLocPortTable: read as ifIndex 5).
        let rem = table(&[
            (&[0, 5, 1], 4, Cell::Int(4)),
            (&[0, 5, 1], 5, Cell::Bytes(vec![2, 0, 0, 0, 0, 1])),
            (&[0, 5, 1], 6, Cell::Int(5)),
            (&[0, 5, 1], 7, text("ge-0/0/1")),
            (&[0, 5, 1], 9, text("peer")),
        ]);
        let man = table(&[(&[0, 5, 1, 1, 4, 198, 18, 9, 2], 3, Cell::Int(2))]);
        let ifs = vec![Interface {
            index: 5,
            name: Some("xe-0/0/5".into()),
            ..Interface::default()
        }];
        let n = lldp(&rem, &Table::new(), &man, &ifs);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].local_port.as_deref(), Some("xe-0/0/5"));
        assert_eq!(n[0].chassis_id.as_deref(), Some("02:00:00:00:00:01"));
        assert_eq!(n[0].port_id.as_deref(), Some("ge-0/0/1"));
        assert_eq!(n[0].management_address.as_deref(), Some("198.18.9.2"));
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

    /// sysDescr values of the recorded devices (tests/data/recorded) and of snmpd.
    #[test]
    fn software_versions_read_from_sys_descr() {
        for (descr, want) in [
            (
                "Cisco IOS Software, C3560 Software (C3560-IPSERVICESK9-M), Version 12.2(55)SE3, RELEASE SOFTWARE (fc1)",
                Some("12.2(55)SE3"),
            ),
            (
                "Cisco NX-OS(tm) n5000, Software (n5000-uk9), Version 6.0(2)N2(3), RELEASE SOFTWARE Copyright (c) 2002-2012",
                Some("6.0(2)N2(3)"),
            ),
            (
                "Brocade Communications Systems, Inc. ICX6430-24, IronWare Version 08.0.30tT311 Compiled on Oct 23 2015",
                Some("08.0.30tT311"),
            ),
            (
                "Juniper Networks, Inc. mx960 internet router, kernel JUNOS 16.1R6.7, Build date: 2017-12-14",
                Some("16.1R6.7"),
            ),
            (
                "Linux vm 6.1.0-13-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 x86_64",
                None,
            ),
            ("Version of nothing", None),
        ] {
            assert_eq!(version_in_descr(descr).as_deref(), want, "{descr}");
        }
    }
}
