//! Vendors the recordings corpus lacks, checked against their published MIBs: one
//! synthetic recording per vendor (platform/tests/data/mib-devices/, built from the MIB
//! objects `rules.rs` reads, see its README) served by one snmpsimd in a lab namespace;
//! `ksocket snmp device` must state the vendor, kind, model, serial and versions the MIB
//! objects hold, and name those objects in `chassis.sources`.
//!
//! The expected values follow from the MIBs (and, for the sysDescr-only vendors, from
//! the sysDescr form), not from running ksocket.
//!
//! Root only (skipped otherwise).
use ksocket_lab::corpus::SimLab;
use ksocket_lab::require_root;
use ksocket_lab::snmpsim;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const KSOCKET: &str = env!("CARGO_BIN_EXE_ksocket");

/// One chassis field: its key in the record, the value (None: must be absent) and the
/// source `chassis.sources` must name for it.
type Field = (&'static str, Option<&'static str>, &'static str);

struct Want {
    /// The recording's file stem, its community.
    community: &'static str,
    enterprise: u32,
    kind: &'static str,
    fields: &'static [Field],
}

const fn f(key: &'static str, value: &'static str, source: &'static str) -> Field {
    (key, Some(value), source)
}

const fn none(key: &'static str) -> Field {
    (key, None, "")
}

const MODEL: &str = "model";
const SERIAL: &str = "serialNumber";
const SW: &str = "softwareVersion";
const FW: &str = "firmwareVersion";
const HW: &str = "hardwareVersion";

static WANT: &[Want] = &[
    Want {
        community: "mikrotik",
        enterprise: 14988,
        kind: "router",
        fields: &[
            f(MODEL, "RB951G-2HnD", "MIKROTIK-MIB::mtxrBoardName.0"),
            f(SERIAL, "6427061D9B2A", "MIKROTIK-MIB::mtxrSerialNumber.0"),
            f(SW, "6.49.10", "MIKROTIK-MIB::mtxrLicVersion.0"),
            f(FW, "6.48.6", "MIKROTIK-MIB::mtxrFirmwareVersion.0"),
        ],
    },
    Want {
        community: "mikrotik-noboard",
        enterprise: 14988,
        kind: "router",
        fields: &[
            f(MODEL, "RB750GL", "sysDescr"),
            f(SERIAL, "5E3A05C1B8D2", "MIKROTIK-MIB::mtxrSerialNumber.0"),
            f(SW, "6.40.5", "MIKROTIK-MIB::mtxrLicVersion.0"),
        ],
    },
    Want {
        community: "yamaha",
        enterprise: 1182,
        kind: "router",
        fields: &[
            f(MODEL, "RTX1210", "sysDescr"),
            none(SERIAL),
            f(SW, "14.01.29", "sysDescr"),
        ],
    },
    Want {
        community: "nec",
        enterprise: 119,
        kind: "router",
        fields: &[
            f(MODEL, "IX2215", "sysDescr"),
            none(SERIAL),
            f(SW, "10.7.18", "sysDescr"),
        ],
    },
    Want {
        community: "allied",
        enterprise: 207,
        kind: "switch",
        fields: &[
            f(MODEL, "x230-10GP", "AT-RESOURCE-MIB::rscBoardName.1.1"),
            f(
                SERIAL,
                "A052223163700021",
                "AT-RESOURCE-MIB::rscBoardSerialNumber.1.1",
            ),
            f(SW, "5.4.9-2.3", "AT-SETUP-MIB::currSoftVersion.0"),
        ],
    },
    Want {
        community: "zyxel",
        enterprise: 890,
        kind: "firewall",
        fields: &[
            f(MODEL, "USG FLEX 100", "ZYXEL-ES-COMMON::sysProductModel.0"),
            f(
                SERIAL,
                "S202L21180123",
                "ZYXEL-ES-COMMON::sysProductSerialNumber.0",
            ),
            f(SW, "V5.37(ABUH.1)", "ZYXEL-ES-COMMON::sysSwVersionString.0"),
            f(HW, "V1.0", "ZYXEL-ES-COMMON::sysHwVersionString.0"),
        ],
    },
    Want {
        community: "tplink",
        enterprise: 11863,
        kind: "switch",
        fields: &[
            f(
                MODEL,
                "T2600G-28TS",
                "TPLINK-SYSINFO-MIB::tpSysInfoHwVersion.0",
            ),
            f(
                SERIAL,
                "2175012000153",
                "TPLINK-SYSINFO-MIB::tpSysInfoSerialNum.0",
            ),
            f(
                SW,
                "2.0.0 Build 20170628 Rel.55184(s)",
                "TPLINK-SYSINFO-MIB::tpSysInfoSwVersion.0",
            ),
            f(
                HW,
                "T2600G-28TS 2.0",
                "TPLINK-SYSINFO-MIB::tpSysInfoHwVersion.0",
            ),
        ],
    },
    Want {
        // The older MIB's object 8 is uptime (TimeTicks): no serial.
        community: "tplink-oldmib",
        enterprise: 11863,
        kind: "switch",
        fields: &[
            f(
                MODEL,
                "T2600G-28TS",
                "TPLINK-SYSINFO-MIB::tpSysInfoHwVersion.0",
            ),
            none(SERIAL),
            f(
                SW,
                "2.0.0 Build 20170628 Rel.55184(s)",
                "TPLINK-SYSINFO-MIB::tpSysInfoSwVersion.0",
            ),
            f(
                HW,
                "T2600G-28TS 2.0",
                "TPLINK-SYSINFO-MIB::tpSysInfoHwVersion.0",
            ),
        ],
    },
    Want {
        community: "netgear",
        enterprise: 4526,
        kind: "switch",
        fields: &[
            f(
                MODEL,
                "GS724Tv4",
                "NETGEAR-SWITCHING-MIB::agentInventoryMachineModel.0",
            ),
            f(
                SERIAL,
                "2LX1357E00123",
                "NETGEAR-SWITCHING-MIB::agentInventorySerialNumber.0",
            ),
            f(
                SW,
                "6.3.1.4",
                "NETGEAR-SWITCHING-MIB::agentInventorySoftwareVersion.0",
            ),
        ],
    },
    Want {
        // sysObjectID is net-snmp's: the vendor is the maker whose MIB answered.
        community: "synology",
        enterprise: 6574,
        kind: "storage",
        fields: &[
            f(MODEL, "DS920+", "SYNOLOGY-SYSTEM-MIB::modelName.0"),
            f(
                SERIAL,
                "2040PDN123456",
                "SYNOLOGY-SYSTEM-MIB::serialNumber.0",
            ),
            f(SW, "DSM 7.1.1-42962", "SYNOLOGY-SYSTEM-MIB::version.0"),
        ],
    },
    Want {
        community: "qnap",
        enterprise: 24681,
        kind: "storage",
        fields: &[
            f(MODEL, "TS-453D", "NAS-MIB::modelName.0"),
            f(SERIAL, "Q203I12345", "NAS-MIB::enclosureSerialNum.1"),
            // NAS-MIB states no firmware (LibreNMS reads ENTITY-MIB's).
            none(SW),
        ],
    },
    Want {
        community: "extreme",
        enterprise: 1916,
        kind: "switch",
        fields: &[
            f(MODEL, "X440G2-48p-10G4", "sysDescr"),
            f(SERIAL, "1726G-01234", "entPhysicalSerialNum.1"),
            f(SW, "30.7.1.1", "sysDescr"),
        ],
    },
    Want {
        community: "dell-n",
        enterprise: 674,
        kind: "switch",
        fields: &[
            f(
                MODEL,
                "N2024",
                "Dell-Vendor-MIB::productIdentificationDisplayName.0",
            ),
            f(
                SERIAL,
                "CN0W6PX22829853B0058",
                "Dell-Vendor-MIB::productIdentificationSerialNumber.1",
            ),
            f(
                SW,
                "6.3.3.10",
                "Dell-Vendor-MIB::productIdentificationVersion.0",
            ),
        ],
    },
    Want {
        community: "force10",
        enterprise: 6027,
        kind: "switch",
        fields: &[
            f(
                MODEL,
                "S4810-01-64F",
                "F10-S-SERIES-CHASSIS-MIB::chStackUnitModelID.1",
            ),
            f(
                SERIAL,
                "HADL132U20045",
                "F10-S-SERIES-CHASSIS-MIB::chStackUnitSerialNumber.1",
            ),
            f(
                SW,
                "9.14(1.0)",
                "F10-S-SERIES-CHASSIS-MIB::chStackUnitCodeVersion.1",
            ),
        ],
    },
    Want {
        community: "unifi",
        enterprise: 41112,
        kind: "wireless",
        fields: &[
            f(MODEL, "UAP-AC-Pro", "UBNT-UniFi-MIB::unifiApSystemModel.0"),
            // UBNT-UniFi-MIB has no serial object.
            none(SERIAL),
            f(SW, "6.5.28.14491", "UBNT-UniFi-MIB::unifiApSystemVersion.0"),
        ],
    },
    Want {
        // A UniFi AP behind net-snmp's sysObjectID.
        community: "unifi-netsnmp",
        enterprise: 41112,
        kind: "wireless",
        fields: &[
            f(MODEL, "U6-Pro", "UBNT-UniFi-MIB::unifiApSystemModel.0"),
            none(SERIAL),
            f(SW, "6.6.55.15189", "UBNT-UniFi-MIB::unifiApSystemVersion.0"),
        ],
    },
    Want {
        community: "edgeswitch",
        enterprise: 4413,
        kind: "switch",
        fields: &[
            f(
                MODEL,
                "ES-24-250W",
                "EdgeSwitch-SWITCHING-MIB::agentInventoryMachineModel.0",
            ),
            f(
                SERIAL,
                "F09FC2A1B2C3",
                "EdgeSwitch-SWITCHING-MIB::agentInventorySerialNumber.0",
            ),
            f(
                SW,
                "1.9.3.5387484",
                "EdgeSwitch-SWITCHING-MIB::agentInventorySoftwareVersion.0",
            ),
        ],
    },
    Want {
        community: "eaton-epdu",
        enterprise: 534,
        kind: "power",
        fields: &[
            f(
                MODEL,
                "Eaton ePDU MA 1P IN:C20 16A OUT:20xC13, 4xC19M",
                "EATON-EPDU-MIB::productName.0",
            ),
            f(SERIAL, "GD43J22042", "EATON-EPDU-MIB::serialNumber.0"),
            // The ePDU MIB states the unit's firmware, no other software.
            none(SW),
            f(FW, "04.01.0004", "EATON-EPDU-MIB::firmwareVersion.0"),
        ],
    },
    Want {
        // The vendor's serial is read before Printer-MIB's (same value here).
        community: "brother",
        enterprise: 2435,
        kind: "printer",
        fields: &[
            f(
                MODEL,
                "Brother HL-L5100DN series",
                "HOST-RESOURCES-MIB::hrDeviceDescr.1",
            ),
            f(
                SERIAL,
                "E78123A8N123456",
                "BROTHER-MIB::brInfoSerialNumber.0",
            ),
            none(SW),
        ],
    },
    Want {
        community: "hp-printer",
        enterprise: 11,
        kind: "printer",
        fields: &[
            f(
                MODEL,
                "HP LaserJet Pro M404dn",
                "HOST-RESOURCES-MIB::hrDeviceDescr.1",
            ),
            f(
                SERIAL,
                "PHBBK12345",
                "Printer-MIB::prtGeneralSerialNumber.1",
            ),
            none(SW),
        ],
    },
    Want {
        community: "ruckus-zd",
        enterprise: 25053,
        kind: "wireless",
        fields: &[
            f(
                MODEL,
                "ZD1200",
                "RUCKUS-ZD-SYSTEM-MIB::ruckusZDSystemModel.0",
            ),
            f(
                SERIAL,
                "361602000123",
                "RUCKUS-ZD-SYSTEM-MIB::ruckusZDSystemSerialNumber.0",
            ),
            f(
                SW,
                "10.1.2.0 build 275",
                "RUCKUS-ZD-SYSTEM-MIB::ruckusZDSystemVersion.0",
            ),
        ],
    },
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mib-devices")
}

fn read(name: &str) -> Vec<u8> {
    let p = data_dir().join(format!("{name}.snmprec"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Serves the recordings of `names` with one snmpsimd; returns the lab and the agent.
fn serve(tag: &str, names: &[&str]) -> (SimLab, std::process::Child) {
    let mut sim = SimLab::new(tag).unwrap();
    let dir = snmpsim::data_dir(&mut sim.lab, "mib").unwrap();
    for n in names {
        std::fs::write(dir.join("data").join(format!("{n}.snmprec")), read(n)).unwrap();
    }
    let communities: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let agent = snmpsim::start(
        &sim.lab,
        [&sim.client, &sim.agent],
        sim.ip,
        &dir,
        &communities,
        &[],
        Duration::from_secs(60),
    )
    .expect("snmpsimd serves the synthetic recordings");
    (sim, agent)
}

/// `ksocket snmp device -c COMMUNITY IP`: the record.
fn device(sim: &SimLab, community: &str) -> serde_json::Value {
    let o = sim
        .lab
        .exec(
            &sim.client,
            &[KSOCKET, "snmp", "device", "-c", community, sim.ip],
            Duration::from_secs(30),
        )
        .unwrap();
    assert!(
        o.status.success(),
        "{community}: ksocket failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{community}: not JSON ({e}): {:?}", o.stdout))
}

fn text(v: &serde_json::Value) -> Option<&str> {
    v.as_str()
}

/// The data directory holds one file per expected vendor, each a plain-text snmprec
/// that says it is synthetic, with its lines in OID order (snmpsimd searches the file
/// by OID: an unsorted line would silently not answer).
#[test]
fn recordings_are_synthetic_sorted_and_all_checked() {
    let mut files: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".snmprec")
                .map(str::to_string)
        })
        .collect();
    files.sort();
    let mut wanted: Vec<String> = WANT.iter().map(|w| w.community.to_string()).collect();
    wanted.sort();
    assert_eq!(
        files, wanted,
        "every recording has expectations, and only those"
    );
    for w in WANT {
        let text = String::from_utf8(read(w.community)).expect("plain text");
        assert!(
            text.starts_with("# Synthetic"),
            "{}: the first line must say the recording is synthetic",
            w.community
        );
        let mut last: Option<Vec<u32>> = None;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let mut parts = line.splitn(3, '|');
            let (oid, ty) = (parts.next().unwrap(), parts.next());
            assert!(
                ty.is_some() && parts.next().is_some(),
                "{}: {line}",
                w.community
            );
            let arcs: Vec<u32> = oid
                .split('.')
                .map(|a| {
                    a.parse()
                        .unwrap_or_else(|_| panic!("{}: {line}", w.community))
                })
                .collect();
            if let Some(prev) = &last {
                assert!(*prev < arcs, "{}: {oid} is out of OID order", w.community);
            }
            last = Some(arcs);
        }
        // Every vendor states (or is expected to lack) model, serial and software.
        for key in [MODEL, SERIAL, SW] {
            let here = w.fields.iter().any(|(k, ..)| *k == key);
            assert!(here, "{}: no expectation for {key}", w.community);
        }
    }
}

#[test]
fn mib_only_vendors() {
    require_root!();
    let t0 = Instant::now();
    let names: Vec<&str> = WANT.iter().map(|w| w.community).collect();
    let (sim, mut agent) = serve("mibdev", &names);
    let mut fails = Vec::new();
    for w in WANT {
        let rec = device(&sim, w.community);
        let c = w.community;
        let got_e = rec["vendor"]["enterprise"].as_u64();
        if got_e != Some(u64::from(w.enterprise)) {
            fails.push(format!(
                "{c}: vendor.enterprise {got_e:?}, want {}",
                w.enterprise
            ));
        }
        if text(&rec["kind"]) != Some(w.kind) {
            fails.push(format!(
                "{c}: kind {:?} (by {:?}), want {}",
                rec["kind"], rec["kindSource"], w.kind
            ));
        }
        let chassis = &rec["chassis"];
        for (key, want, source) in w.fields {
            let got = text(&chassis[*key]);
            if got != *want {
                fails.push(format!("{c}: chassis.{key} {got:?}, want {want:?}"));
                continue;
            }
            let src = text(&chassis["sources"][*key]);
            if want.is_some() && src != Some(*source) {
                fails.push(format!(
                    "{c}: chassis.sources.{key} {src:?}, want {source:?}"
                ));
            }
        }
    }
    let _ = agent.kill();
    let _ = agent.wait();
    println!(
        "{} synthetic MIB devices in {:.1} s",
        WANT.len(),
        t0.elapsed().as_secs_f64()
    );
    sim.lab.teardown().unwrap();
    assert!(
        fails.is_empty(),
        "{} mismatch(es):\n  {}",
        fails.len(),
        fails.join("\n  ")
    );
}
