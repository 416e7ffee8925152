//! Who made a device, what it is, and its model, serial and versions, from sources in
//! a fixed order of trust:
//!
//! 1. ENTITY-MIB's chassis entry (class chassis; else the root of the containment
//!    tree; never an entry that states nothing);
//! 2. the vendor's own scalars ([`rules::RULES`], by sysObjectID's enterprise);
//! 3. standard MIBs every vendor may answer: UPS-MIB, Printer-MIB (with
//!    HOST-RESOURCES' description of the printer), the IEEE 802.11 MIB;
//! 4. sysDescr: the vendor's patterns, then the version after `Version`/`Release`.
//!
//! A field is taken from the first source that states it; `chassis.sources` names
//! that source for each field. Everything vendor-specific is data in [`rules`].

use super::enterprises;
use super::rules::{self, Field, Pat, Rule, Scalar};
use super::tables::{Cell, Table};
use super::{Chassis, Device, Kind, Vendor};
use crate::inventory::snmp::{Client, Error, Target};
use ksocket_core::snmp::{OidBuf, Value, tag};
use std::time::Instant;

mod descr;

pub(super) use descr::from_descr;
#[cfg(test)]
pub(super) use descr::version_in_descr;
use descr::{model_like, words};

/// sysObjectID's enterprise: the arc after 1.3.6.1.4.1.
pub(super) fn enterprise(sys_object_id: Option<&str>) -> Option<u32> {
    sys_object_id?
        .trim_start_matches('.')
        .strip_prefix("1.3.6.1.4.1.")?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// A value that states nothing ("", "N/A", "Unknown", "0", ...).
pub(super) fn placeholder(v: &str) -> bool {
    let v = v.trim();
    v.is_empty()
        || v.chars()
            .all(|c| c == '0' || c == '-' || c == '.' || c == ' ')
        || [
            "n/a",
            "na",
            "none",
            "unknown",
            "not available",
            "not specified",
            "not applicable",
            "null",
            "uninitialized",
        ]
        .iter()
        .any(|p| v.eq_ignore_ascii_case(p))
}

fn slot(c: &mut Chassis, f: Field) -> &mut Option<String> {
    match f {
        Field::Model => &mut c.model,
        Field::Serial => &mut c.serial_number,
        Field::Software => &mut c.software_version,
        Field::Firmware => &mut c.firmware_version,
        Field::Hardware => &mut c.hardware_version,
        Field::Manufacturer => &mut c.manufacturer,
    }
}

fn has(c: Option<&Chassis>, f: Field) -> bool {
    c.is_some_and(|c| match f {
        Field::Model => c.model.is_some(),
        Field::Serial => c.serial_number.is_some(),
        Field::Software => c.software_version.is_some(),
        Field::Firmware => c.firmware_version.is_some(),
        Field::Hardware => c.hardware_version.is_some(),
        Field::Manufacturer => c.manufacturer.is_some(),
    })
}

/// Whether `w` has the shape (`#` a digit, `A` a letter, `*` anything after, other
/// characters themselves).
fn shaped(w: &str, shape: &str) -> bool {
    let mut wc = w.chars();
    for p in shape.chars() {
        if p == '*' {
            return true;
        }
        let ok = match (p, wc.next()) {
            ('#', Some(c)) => c.is_ascii_digit(),
            ('A', Some(c)) => c.is_ascii_alphabetic(),
            (p, Some(c)) => p == c,
            (_, None) => false,
        };
        if !ok {
            return false;
        }
    }
    wc.next().is_none()
}

/// The first word of `v` with the release shape.
fn release_in<'a>(v: &'a str, shape: &str) -> Option<&'a str> {
    words(v).find(|w| shaped(w, shape))
}

/// Sets `f` to `v` from `source` if `f` is empty and `v` states something. With a
/// release shape, a software version is the release token of `v`, and `v` without
/// one states nothing.
fn put(c: &mut Chassis, f: Field, v: &str, source: &str, release: Option<&str>) -> bool {
    let mut v = v
        .trim()
        .trim_end_matches('\0')
        .trim()
        .trim_matches('"')
        .trim();
    if f == Field::Software
        && let Some(shape) = release
    {
        match release_in(v, shape) {
            Some(t) => v = t,
            None => return false,
        }
    }
    let s = slot(c, f);
    if s.is_some() || placeholder(v) {
        return false;
    }
    *s = Some(v.to_string());
    c.sources.insert(f.key().to_string(), source.to_string());
    true
}

/// ENTITY-MIB entPhysicalTable columns read (2 descr, 5 class, 8-13); containedIn (4)
/// only when no entry is a chassis that states something ([`needs_roots`]).
pub(super) const ENTITY_COLUMNS: &[u32] = &[2, 5, 8, 9, 10, 11, 12, 13];

/// Whether finding the chassis needs the containment tree: entries, but none of class
/// chassis that states a model, serial or version.
pub(super) fn needs_roots(ent: &Table) -> bool {
    !ent.is_empty()
        && !ent.values().any(|r| {
            r.get(&5).and_then(Cell::int) == Some(3)
                && [11, 13, 10, 9].iter().any(|c| {
                    r.get(c)
                        .and_then(Cell::text)
                        .is_some_and(|v| !placeholder(&v))
                })
        })
}

/// The chassis of entPhysicalTable: the first entry of class chassis(3) that states
/// something; else the first root of the containment tree (containedIn 0) that does.
/// An empty placeholder (a stack entry with no model, serial or version) is never
/// taken, nor an entry of another device next to it.
pub(super) fn entity_chassis(ent: &Table, rule: Option<&Rule>) -> Option<(Chassis, String)> {
    let skip = rule.map(|r| r.entity_skip).unwrap_or_default();
    let release = rule.and_then(|r| r.release);
    let text = |r: &super::tables::Row, col: u32| {
        r.get(&col).and_then(Cell::text).filter(|v| !placeholder(v))
    };
    let states = |r: &super::tables::Row| [11, 13, 10, 9].iter().any(|&c| text(r, c).is_some());
    let (index, row) = ent
        .iter()
        .find(|(_, r)| r.get(&5).and_then(Cell::int) == Some(3) && states(r))
        .or_else(|| {
            ent.iter()
                .find(|(_, r)| r.get(&4).and_then(Cell::int).unwrap_or(0) == 0 && states(r))
        })?;
    let idx: String = index
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".");
    let mut c = Chassis::default();
    for (col, f, name) in [
        (13, Field::Model, "entPhysicalModelName"),
        (11, Field::Serial, "entPhysicalSerialNum"),
        (10, Field::Software, "entPhysicalSoftwareRev"),
        (9, Field::Firmware, "entPhysicalFirmwareRev"),
        (8, Field::Hardware, "entPhysicalHardwareRev"),
        (12, Field::Manufacturer, "entPhysicalMfgName"),
    ] {
        let part = |v: &String| {
            f == Field::Model
                && rule
                    .and_then(|r| r.part_number)
                    .is_some_and(|p| shaped(v.trim(), p))
        };
        if let Some(v) = text(row, col).filter(|v| !skip.contains(&f) && !part(v)) {
            put(&mut c, f, &v, &format!("{name}.{idx}"), release);
        }
    }
    // A chassis without a software version runs its supervisor's (a Catalyst 6500's),
    // or the one version all its modules state.
    if c.software_version.is_none() && !skip.contains(&Field::Software) {
        let modules: Vec<(String, String, String)> = ent
            .iter()
            .filter(|(_, r)| r.get(&5).and_then(Cell::int) == Some(9))
            .filter_map(|(i, r)| {
                let i: Vec<String> = i.iter().map(u32::to_string).collect();
                Some((i.join("."), text(r, 10)?, text(r, 2).unwrap_or_default()))
            })
            .collect();
        let sup = modules
            .iter()
            .find(|m| m.2.to_ascii_lowercase().contains("supervisor"));
        let one = modules
            .first()
            .filter(|f| modules.iter().all(|m| m.1 == f.1));
        if let Some((i, v, _)) = sup.or(one) {
            put(
                &mut c,
                Field::Software,
                v,
                &format!("entPhysicalSoftwareRev.{i}"),
                release,
            );
        }
    }
    if let Some(v) = text(row, 2) {
        c.description = Some(v);
        c.sources
            .insert("description".into(), format!("entPhysicalDescr.{idx}"));
    }
    Some((c, idx))
}

/// What the standard MIBs said: they tell the kind of device too.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Answered {
    pub ups: bool,
    pub printer: bool,
    pub dot11: bool,
    /// A vendor object that stated a field, by the rule's `answers` prefix.
    pub kind: Option<Kind>,
}

/// HOST-RESOURCES-MIB hrDeviceDescr.1: a printer's model, when Printer-MIB answers.
const HR_DEVICE_DESCR: Scalar = Scalar {
    field: Field::Model,
    oid: "1.3.6.1.2.1.25.3.2.1.3.1",
    name: "HOST-RESOURCES-MIB::hrDeviceDescr.1",
    column: false,
    first_word: false,
};

/// Reads what ENTITY-MIB left empty: the vendor's scalars (with, for a device whose
/// sysObjectID is a generic agent's, the scalars of makers known to use one) and the
/// standard MIBs, in one GET; then the vendor's table columns and, if the model is
/// still unknown, the IEEE 802.11 MIB, in one GETNEXT (their first rows). Nothing is
/// sent when ENTITY-MIB gave every field. Returns what answered, and the maker a
/// generic agent's probe found.
pub(super) async fn read_scalars(
    client: &mut Client,
    target: &Target,
    enterprise: Option<u32>,
    rule: Option<&'static Rule>,
    c: &mut Option<Chassis>,
    deadline: Option<Instant>,
) -> (Answered, Option<u32>) {
    let mut answered = Answered::default();
    let mut maker = None;
    let release = rule.and_then(|r| r.release);
    let vendor: &[Scalar] = rule.map(|r| r.scalars).unwrap_or_default();
    let generic = enterprise.is_none_or(|e| rules::GENERIC.contains(&e));
    let probes = rules::GENERIC_PROBES
        .iter()
        .filter(|_| generic)
        .flat_map(|(m, list)| list.iter().map(move |s| (Some(*m), s)));
    let mut gets: Vec<(Option<u32>, &Scalar)> = vendor
        .iter()
        .map(|s| (None, s))
        .chain(probes)
        .chain(rules::STANDARD.iter().map(|s| (None, s)))
        .filter(|(_, s)| !s.column && !has(c.as_ref(), s.field))
        .collect();
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return (answered, maker);
    }
    if !gets.is_empty() && !has(c.as_ref(), Field::Model) {
        gets.push((None, &HR_DEVICE_DESCR));
    }
    let list: Vec<&Scalar> = gets.iter().map(|(_, s)| *s).collect();
    let got = if list.is_empty() {
        Vec::new()
    } else {
        read(client, target, tag::GET, &list).await
    };
    let chassis = c.get_or_insert_with(Chassis::default);
    let standard = |s: &Scalar| s.oid.starts_with("1.3.6.1.2.1.");
    // The vendor's scalars (and a generic agent's maker's) first.
    for (i, _, v) in &got {
        let (m, s) = gets[*i];
        let v = if s.first_word {
            words(v).next().unwrap_or_default()
        } else {
            v
        };
        if !standard(s) && put(chassis, s.field, v, s.name, release) {
            maker = maker.or(m);
            let by = rule.map(|r| r.answers).unwrap_or_default();
            if let Some((_, k)) = by.iter().find(|(p, _)| s.oid.starts_with(p)) {
                answered.kind = answered.kind.or(Some(*k));
            }
        }
    }
    // Then its table columns (and the found maker's), and the IEEE 802.11 MIB.
    let probe_cols = rules::GENERIC_PROBES
        .iter()
        .filter(|(m, _)| Some(*m) == maker)
        .flat_map(|(_, list)| list.iter());
    let mut cols: Vec<&Scalar> = vendor
        .iter()
        .chain(probe_cols)
        .filter(|s| s.column && !has(Some(chassis), s.field))
        .collect();
    // The IEEE 802.11 MIB, for wireless vendors and unknown ones (not for every host).
    if chassis.model.is_none() && rule.is_none_or(|r| r.kind == Some(Kind::Wireless)) {
        cols.extend(rules::DOT11);
    }
    if !cols.is_empty() && deadline.is_none_or(|d| Instant::now() < d) {
        for (i, idx, v) in read(client, target, tag::GET_NEXT, &cols).await {
            let s = cols[i];
            if put(chassis, s.field, &v, &format!("{}.{idx}", s.name), release) {
                answered.dot11 |= s.oid.starts_with("1.2.840.10036.");
            }
        }
    }
    // Then the standard MIBs: UPS-MIB, Printer-MIB with the printer's hrDeviceDescr.
    let hr = got
        .iter()
        .find(|(i, ..)| list[*i].oid == HR_DEVICE_DESCR.oid);
    for (i, _, v) in &got {
        let s = gets[*i].1;
        if !standard(s) || s.oid == HR_DEVICE_DESCR.oid {
            continue;
        }
        let printer = s.oid.starts_with("1.3.6.1.2.1.43.");
        answered.printer |= printer;
        answered.ups |= s.oid.starts_with("1.3.6.1.2.1.33.");
        put(chassis, s.field, v, s.name, release);
        if printer && let Some((_, _, model)) = hr {
            put(chassis, Field::Model, model, HR_DEVICE_DESCR.name, None);
        }
    }
    if *chassis == Chassis::default() {
        *c = None;
    }
    (answered, maker)
}

/// One GET (of scalars) or GETNEXT (of columns: their first rows) of `list`: for each
/// object that answered with a string, (its position in `list`, the index arcs after
/// it (GETNEXT), the text). Vendor objects are all strings: a number where a string
/// belongs (an older MIB's different object at the same OID) is not taken. On SNMPv1,
/// which fails a whole request for one missing object, the object the agent names is
/// dropped and the rest asked again (as many times as there are objects, at most).
async fn read(
    client: &mut Client,
    target: &Target,
    kind: u8,
    list: &[&Scalar],
) -> Vec<(usize, String, String)> {
    let mut ask: Vec<(usize, OidBuf)> = list
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, s.oid.parse().ok()?)))
        .collect();
    for _ in 0..=list.len() {
        if ask.is_empty() {
            break;
        }
        let oids: Vec<OidBuf> = ask.iter().map(|(_, o)| o.clone()).collect();
        let r = client
            .request(target, kind, 0, 0, &oids, |p| {
                let mut out = Vec::new();
                for (n, (o, v)) in p.varbinds.into_iter().enumerate() {
                    let (Ok(o), Some((i, asked))) = (OidBuf::from_oid(&o), ask.get(n)) else {
                        continue;
                    };
                    let Value::OctetString(b) = v else { continue };
                    let (a, q) = (o.arcs(), asked.arcs());
                    let idx = if kind == tag::GET {
                        if a != q {
                            continue;
                        }
                        String::new()
                    } else {
                        if a.len() <= q.len() || !a.starts_with(q) {
                            continue;
                        }
                        a[q.len()..]
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(".")
                    };
                    if let Some(t) = Cell::Bytes(b.to_vec()).text() {
                        out.push((*i, idx, t));
                    }
                }
                out
            })
            .await;
        match r {
            Ok(out) => return out,
            Err(Error::Status { status: 2, index }) if index >= 1 => {
                let at = usize::try_from(index - 1).unwrap_or(usize::MAX);
                if at >= ask.len() {
                    break;
                }
                ask.remove(at);
            }
            Err(_) => break,
        }
    }
    Vec::new()
}

/// The chassis' entPhysicalName as its model (for vendors whose chassis entry names
/// the model there), with a trailing "frame" or "chassis" cut: one GET.
pub(super) async fn entity_name(
    client: &mut Client,
    target: &Target,
    index: &str,
    c: &mut Option<Chassis>,
) {
    let name = format!("1.3.6.1.2.1.47.1.1.1.1.7.{index}");
    let Ok(oid) = name.parse::<OidBuf>() else {
        return;
    };
    let mut got = None;
    let _ = client
        .get(target, &[oid], &mut |_, v| {
            if let Value::OctetString(b) = v {
                got = Cell::Bytes(b.to_vec()).text();
            }
        })
        .await;
    if let Some(v) = got {
        let v = v
            .trim_end_matches(" frame")
            .trim_end_matches(" chassis")
            .trim_end_matches(" Chassis");
        if model_like(Field::Model, v) {
            let chassis = c.get_or_insert_with(Chassis::default);
            put(
                chassis,
                Field::Model,
                v,
                &format!("entPhysicalName.{index}"),
                None,
            );
        }
    }
}

/// The vendor: sysObjectID's enterprise; for a generic agent's (net-snmp), the maker
/// sysDescr names, if any.
pub(super) fn vendor(d: &Device, maker: Option<u32>) -> Option<Vendor> {
    let mut e = maker.or(enterprise(d.sys_object_id.as_deref()));
    let c = d.chassis.as_ref();
    let texts = [
        d.sys_descr.as_deref(),
        c.and_then(|c| c.manufacturer.as_deref()),
        c.and_then(|c| c.model.as_deref()),
    ];
    let names = |word: &str| {
        texts
            .iter()
            .flatten()
            .any(|t| words(t).any(|x| x.eq_ignore_ascii_case(word)))
    };
    if e.is_none_or(|e| rules::GENERIC.contains(&e))
        && let Some((_, m)) = rules::MAKERS.iter().find(|(w, _)| names(w))
    {
        e = Some(*m);
    } else if let Some((_, _, m)) = rules::BORROWED
        .iter()
        .find(|(n, w, _)| Some(*n) == e && names(w))
    {
        e = Some(*m);
    }
    // 0 is reserved: no vendor.
    let e = e.filter(|e| *e != 0);
    let e = e?;
    let known = enterprises::lookup(e);
    Some(Vendor {
        enterprise: e,
        name: known.map(|k| k.name.to_string()),
        short: known.map(|k| k.short.to_string()),
    })
}

/// The kind a vendor's model series says.
fn series(rule: Option<&Rule>, model: Option<&str>) -> Option<Kind> {
    let model = model?;
    rule?.series.iter().find_map(|(p, k)| {
        words(model)
            .any(|w| {
                w.strip_prefix(p).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit() || c == '-')
                })
            })
            .then_some(*k)
    })
}

/// The kind of device and what said so: the standard MIBs it answers, the words of
/// its sysDescr and chassis description, the vendor's rule, sysServices, and a
/// generic agent's sysObjectID (a host).
pub(super) fn kind(d: &Device, rule: Option<&Rule>, answered: Answered) -> Option<(Kind, String)> {
    if answered.printer {
        return Some((Kind::Printer, "Printer-MIB".into()));
    }
    if answered.ups {
        return Some((Kind::Power, "UPS-MIB".into()));
    }
    if let Some(k) = answered.kind {
        return Some((k, "vendor MIB".into()));
    }
    if let Some(k) = series(rule, d.chassis.as_ref().and_then(|c| c.model.as_deref())) {
        return Some((k, "model".into()));
    }
    let texts = [
        ("sysDescr", d.sys_descr.as_deref()),
        (
            "entPhysicalDescr",
            d.chassis.as_ref().and_then(|c| c.description.as_deref()),
        ),
    ];
    for (src, t) in texts {
        let Some(t) = t else { continue };
        let t = t.to_ascii_lowercase();
        let ws: Vec<&str> = words(&t).collect();
        for (w, k) in rules::KIND_WORDS {
            let hit = if w.contains(' ') {
                t.contains(w)
            } else {
                ws.iter().any(|x| x == w)
            };
            if hit {
                return Some((*k, src.into()));
            }
        }
    }
    if let Some(k) = rule.and_then(|r| r.kind) {
        return Some((k, "vendor".into()));
    }
    if answered.dot11 {
        return Some((Kind::Wireless, "IEEE802dot11-MIB".into()));
    }
    let e = enterprise(d.sys_object_id.as_deref());
    if e.is_some_and(|e| rules::GENERIC.contains(&e) || e == 311) {
        return Some((Kind::Host, "sysObjectID".into()));
    }
    // sysServices: layer 2 (2), layer 3 (4), end-to-end (8), applications (64).
    // A device that bridges is a switch (most that also route are layer-3 switches;
    // routers rarely say layer 2), one that only routes a router, one that serves
    // only end-to-end and applications a host.
    let s = d.sys_services?;
    let k = if s & 0x02 != 0 {
        Kind::Switch
    } else if s & 0x04 != 0 {
        Kind::Router
    } else if s & 0x48 != 0 {
        Kind::Host
    } else {
        return None;
    };
    Some((k, "sysServices".into()))
}

#[cfg(test)]
mod tests {
    use super::super::tables::Row;
    use super::descr::after;
    use super::*;

    #[test]
    fn words_after_markers() {
        let apc = "APC Web/SNMP Management Card (MB:v4.1.0 PF:v6.7.2 PN:apc_hw05_aos_672.bin AF1:v6.7.2 AN1:apc_hw05_rpdu2g_672.bin MN:AP7902B HR:B2 SN: 5A1551F39430 MD:10/07/2018)";
        assert_eq!(after(apc, "MN:"), Some("AP7902B"));
        assert_eq!(after(apc, "SN:"), Some("5A1551F39430"));
        assert_eq!(after(apc, "HR:"), Some("B2"));
        // "PN:" must not be read inside "AN1:...": markers start a word.
        assert_eq!(after("xPN:1 PN:2", "PN:"), Some("2"));
        assert_eq!(
            after(
                "ArubaOS (MODEL: Aruba7010), Version 8.3.0.0 (64659)",
                "MODEL:"
            ),
            Some("Aruba7010")
        );
        assert_eq!(after("MN:", "MN:"), None);
    }

    #[test]
    fn placeholders_state_nothing() {
        for p in ["", " ", "N/A", "unknown", "0", "--", "Uninitialized"] {
            assert!(placeholder(p), "{p:?}");
        }
        for v in ["0A1", "V05", "FOC1408Z61U"] {
            assert!(!placeholder(v), "{v:?}");
        }
    }

    fn row(cells: &[(u32, Cell)]) -> Row {
        let mut r = Row::default();
        for (c, v) in cells {
            r.insert(*c, v.clone());
        }
        r
    }

    fn b(s: &str) -> Cell {
        Cell::Bytes(s.as_bytes().to_vec())
    }

    /// Aruba 7210 (snmpsim-data network/wifi/aruba-7210): the only roots are empty
    /// stack entries; no chassis is better than a wrong one.
    #[test]
    fn an_empty_stack_placeholder_is_not_a_chassis() {
        let mut t = Table::new();
        t.insert(
            vec![1000],
            row(&[
                (2, b("Aruba MAS Stack")),
                (4, Cell::Int(0)),
                (5, Cell::Int(11)),
            ]),
        );
        t.insert(
            vec![1001],
            row(&[
                (2, b("Aruba MAS Stack")),
                (4, Cell::Int(1000)),
                (5, Cell::Int(11)),
                (13, b("")),
            ]),
        );
        assert_eq!(entity_chassis(&t, None), None);
    }

    /// Cisco 3750 stack (network/switch/cisco-c3750): the chassis inside the stack.
    #[test]
    fn the_chassis_entry_wins_over_the_stack_root() {
        let mut t = Table::new();
        t.insert(
            vec![1],
            row(&[
                (2, b("Catalyst 37xx Switch Stack")),
                (4, Cell::Int(0)),
                (5, Cell::Int(11)),
            ]),
        );
        t.insert(
            vec![1001],
            row(&[
                (2, b("WS-C3750G-12S")),
                (4, Cell::Int(1)),
                (5, Cell::Int(3)),
                (10, b("12.2(50)SE5")),
                (11, b("FDO1622Y10H")),
                (13, b("WS-C3750G-12S-S")),
            ]),
        );
        let (c, index) = entity_chassis(&t, None).unwrap();
        assert_eq!(index, "1001");
        assert_eq!(c.model.as_deref(), Some("WS-C3750G-12S-S"));
        assert_eq!(c.serial_number.as_deref(), Some("FDO1622Y10H"));
        assert_eq!(
            c.sources.get("model").map(String::as_str),
            Some("entPhysicalModelName.1001")
        );
    }

    #[test]
    fn sys_descr_patterns() {
        let mut c = None;
        from_descr(
            &mut c,
            Some("D-Link DES-3028 Fast Ethernet Switch"),
            rules::rule(171),
        );
        assert_eq!(c.unwrap().model.as_deref(), Some("DES-3028"));
        let mut c = None;
        from_descr(
            &mut c,
            Some("NetApp Release 8.2.3 7-Mode: Thu Jan 15 21:30:45 PST 2015"),
            rules::rule(789),
        );
        assert_eq!(c.unwrap().software_version.as_deref(), Some("8.2.3"));
        let mut c = None;
        from_descr(
            &mut c,
            Some(
                "S5720-36C-EI-AC \r\nHuawei Versatile Routing Platform Software\r\n VRP (R) software,Version 5.160 (S5720 V200R007C00SPC500)",
            ),
            rules::rule(2011),
        );
        assert_eq!(c.unwrap().model.as_deref(), Some("S5720-36C-EI-AC"));
    }

    /// Whatever a device puts in sysDescr (any bytes that are text, multi-byte
    /// characters next to markers, markers at the end), reading it never panics and
    /// every value it gives is a piece of the input. 5,000 pseudo-random strings
    /// (xorshift, fixed seed) through every vendor's patterns.
    #[test]
    fn any_sys_descr_is_read_without_panic() {
        const PIECES: &[&str] = &[
            "Version",
            "version",
            "Release",
            "JUNOS",
            "revision",
            "HardWare",
            "BootRom",
            "MN:",
            "SN:",
            "SN",
            "MODEL:",
            "(",
            ")",
            ",",
            ";",
            "|",
            " ",
            "  ",
            "\r\n",
            "\t",
            "v",
            "V",
            "1",
            "12.2(55)SE3",
            "V200R007C00SPC500",
            "DES-",
            "ZXR10",
            "Linux",
            "Inc.",
            "fw:",
            "Rel.NSAE.",
            "VSOS-",
            "Platform Software",
            "running on an Arista Networks",
            "é",
            "中文",
            "\u{0}",
            "\"",
            "DPX",
            "WLC",
            "IPS-",
            "BDCOM(tm)",
            "Series",
            "Rev.",
            ".",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5_000 {
            let n = (next() % 12) as usize;
            let d: String = (0..n)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            for r in rules::RULES.iter().map(Some).chain([None]) {
                let mut c = None;
                from_descr(&mut c, Some(&d), r);
                if let Some(c) = c {
                    for v in [&c.model, &c.serial_number, &c.software_version]
                        .into_iter()
                        .flatten()
                    {
                        assert!(
                            d.contains(v.as_str()) || v.contains(' '),
                            "{v:?} is not in {d:?}"
                        );
                    }
                }
            }
            let _ = version_in_descr(&d);
        }
    }
}
