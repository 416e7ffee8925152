//! What ksocket collects from a network device over SNMP, as a typed record: the system
//! group, the chassis from ENTITY-MIB, interfaces (IF-MIB ifTable + ifXTable) with their
//! IPv4 addresses, LLDP neighbours (LLDP-MIB) and the ARP table. This file walks the
//! device within its limits; [`tables`] turns the tables into the record. Every table
//! walk that ends early is named in `incomplete`: a partial table is never passed off
//! as whole.

pub(crate) mod enterprises;
mod identify;
mod neighbors;
mod rules;
mod tables;

use crate::inventory::snmp::{Client, Error, Target, WalkEnd, WalkLimits, row_bytes};
use ksocket_core::snmp::{OidBuf, Value};
pub use ksocket_proto::records::snmp::{
    ArpEntry, Chassis, Device, IfStatus, Interface, Kind, Neighbor, Protocol, Vendor,
};
use std::collections::BTreeMap;
use std::time::Instant;
use tables::{Cell, Table, addresses_by_if, arp_entries, has_every_prefix, interfaces};

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
    /// Walks the given columns of a table (`entry` is the table's entry OID) together,
    /// in one [`Client::walk_columns`] (a table costs about the requests of its longest
    /// column), within the table's and the record's limits.
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
        // All the columns in one walk: each request names every column still going.
        let roots: Vec<OidBuf> = cols
            .iter()
            .map(|c| format!("{entry}.{c}").parse().expect("valid OID"))
            .collect();
        let prefix = entry.trim_start_matches('.').split('.').count();
        let room = self.limits.record_bytes.saturating_sub(self.used);
        let limits = WalkLimits {
            rows: self.limits.table_rows,
            bytes: self.limits.table_bytes.min(room),
            deadline: self.limits.deadline,
        };
        let mut bytes = 0usize;
        let mut add = |o: &OidBuf, v: &Value<'_>| {
            bytes += row_bytes(o, v);
            // Rows come only from inside a root: arcs[prefix] is the column.
            if let ([c, index @ ..], Some(cell)) =
                (o.arcs().get(prefix..).unwrap_or_default(), Cell::from(v))
                && !index.is_empty()
            {
                t.entry(index.to_vec()).or_default().insert(*c, cell);
            }
        };
        let end = self
            .client
            .walk_columns(self.target, &roots, &limits, &mut add)
            .await;
        self.used += bytes;
        match end {
            Ok(WalkEnd::Complete | WalkEnd::EndOfMib) => {}
            Ok(WalkEnd::Incomplete(why)) => self.incomplete.push(format!("{name}: {why}")),
            // A device that answered before and stops now: say so, keep the rest.
            Err(Error::Timeout) if !t.is_empty() => {
                self.incomplete.push(format!("{name}: timeout"));
            }
            // An error-status to this table (the system group answered before): the
            // table is said unread, the rest of the record is kept.
            Err(e @ Error::Status { .. }) => self.incomplete.push(format!("{name}: {e}")),
            Err(e) => return Err(e),
        }
        Ok(t)
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
            identify::ENTITY_COLUMNS,
        )
        .await?;
    let mut ent = ent;
    if identify::needs_roots(&ent) {
        let contained = w
            .table("entPhysicalTable", "1.3.6.1.2.1.47.1.1.1.1", &[4])
            .await?;
        for (i, r) in contained {
            if let (Some(row), Some(c)) = (ent.get_mut(&i), r.get(&4)) {
                row.insert(4, c.clone());
            }
        }
    }
    let enterprise = identify::enterprise(d.sys_object_id.as_deref());
    let rule = enterprise.and_then(rules::rule);
    let chassis_index = match identify::entity_chassis(&ent, rule) {
        Some((c, i)) => {
            d.chassis = Some(c);
            Some(i)
        }
        None => None,
    };
    let (answered, maker) = identify::read_scalars(
        w.client,
        target,
        enterprise,
        rule,
        &mut d.chassis,
        limits.deadline,
    )
    .await;
    let rule = maker.and_then(rules::rule).or(rule);
    identify::from_descr(&mut d.chassis, d.sys_descr.as_deref(), rule);
    if rule.is_some_and(|r| r.entity_name)
        && d.chassis.as_ref().is_none_or(|c| c.model.is_none())
        && let Some(i) = &chassis_index
        && limits.deadline.is_none_or(|d| Instant::now() < d)
    {
        identify::entity_name(w.client, target, i, &mut d.chassis).await;
    }
    d.vendor = identify::vendor(&d, maker);
    (d.kind, d.kind_source) = match identify::kind(&d, rule, answered) {
        Some((k, why)) => (Some(k), Some(why)),
        None => (None, None),
    };
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
    d.neighbors = neighbors::collect(&mut w, d.sys_object_id.as_deref(), &d.interfaces).await?;
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
    let mut sys: Vec<OidBuf> = (1..=7)
        .map(|i| format!("1.3.6.1.2.1.1.{i}.0").parse().expect("valid"))
        .collect();
    // system.i.0 -> value
    let mut got: BTreeMap<u32, Cell> = BTreeMap::new();
    // SNMPv1 fails the whole GET for one object the agent lacks (sysServices, say):
    // that object is dropped and the rest asked again, once per object at most.
    for _ in 0..7 {
        let r = client
            .get(target, &sys, &mut |o, v| {
                if let ([1, 3, 6, 1, 2, 1, 1, i, 0], Some(c)) = (o.arcs(), Cell::from(v)) {
                    got.insert(*i, c);
                }
            })
            .await;
        match r {
            Err(Error::Status { status: 2, index })
                if index >= 1
                    && usize::try_from(index).is_ok_and(|i| i <= sys.len())
                    && sys.len() > 1 =>
            {
                sys.remove(usize::try_from(index - 1).unwrap_or(0));
                got.clear();
            }
            r => {
                r?;
                break;
            }
        }
    }
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
        sys_services: got
            .get(&7)
            .and_then(Cell::int)
            .and_then(|x| u8::try_from(x).ok()),
        ..Device::default()
    })
}

#[cfg(test)]
mod tests {
    use super::identify::version_in_descr;

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
