//! The tables beside the vendors' rules: the probes for devices behind a generic agent,
//! the standard MIBs every device is asked, and the words of sysDescr.

use super::{Field::*, Kind, Scalar, col, s};

pub(super) const SYNOLOGY: [Scalar; 3] = [
    s(
        Model,
        "1.3.6.1.4.1.6574.1.5.1.0",
        "SYNOLOGY-SYSTEM-MIB::modelName.0",
    ),
    s(
        Serial,
        "1.3.6.1.4.1.6574.1.5.2.0",
        "SYNOLOGY-SYSTEM-MIB::serialNumber.0",
    ),
    s(
        Software,
        "1.3.6.1.4.1.6574.1.5.3.0",
        "SYNOLOGY-SYSTEM-MIB::version.0",
    ),
];

pub(super) const UNIFI: [Scalar; 2] = [
    s(
        Model,
        "1.3.6.1.4.1.41112.1.6.3.3.0",
        "UBNT-UniFi-MIB::unifiApSystemModel.0",
    ),
    s(
        Software,
        "1.3.6.1.4.1.41112.1.6.3.6.0",
        "UBNT-UniFi-MIB::unifiApSystemVersion.0",
    ),
];

pub(super) const QNAP: [Scalar; 3] = [
    s(Model, "1.3.6.1.4.1.24681.1.2.12.0", "NAS-MIB::modelName.0"),
    col(
        Model,
        "1.3.6.1.4.1.24681.1.4.1.1.1.1.1.2.1.3",
        "NAS-MIB::enclosureModel",
    ),
    col(
        Serial,
        "1.3.6.1.4.1.24681.1.4.1.1.1.1.1.2.1.4",
        "NAS-MIB::enclosureSerialNum",
    ),
];

/// Makers whose devices answer with a generic agent's sysObjectID (Synology's is
/// net-snmp's): their scalars ride along in the GET of such devices, and the maker
/// is the vendor when one answers.
pub(in super::super) static GENERIC_PROBES: &[(u32, &[Scalar])] = &[
    (6574, &SYNOLOGY),
    // UniFi APs that answer with net-snmp's sysObjectID (LibreNMS unifi.yaml; MIB only).
    (41112, &UNIFI),
    // Hikvision cameras that give no sysObjectID (recording: hikvision).
    (
        39165,
        &[
            s(
                Model,
                "1.3.6.1.4.1.39165.1.1.0",
                "HIK-DEVICE-MIB::deviceType.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.39165.1.3.0",
                "HIK-DEVICE-MIB::softwVersion.0",
            ),
        ],
    ),
    // IBM System x IMM (recording: ibm-x3550-m3).
    (
        2,
        &[
            s(
                Model,
                "1.3.6.1.4.1.2.3.51.3.1.5.2.1.5.0",
                "IMM-MIB::machineLevelVpd productName.0 (name unknown)",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.2.3.51.3.1.5.2.1.3.0",
                "IMM-MIB::machineLevelSerialNumber.0",
            ),
        ],
    ),
    // Emerson UPSes behind a UCD agent (recording: ucdavis-sic).
    (
        13400,
        &[s(
            Model,
            "1.3.6.1.4.1.13400.2.3.1.2.0",
            "enterprises.13400.2.3.1.2.0 (name unknown)",
        )],
    ),
    // MacroSAN arrays (recording: unknown-007).
    (
        35904,
        &[s(
            Model,
            "1.3.6.1.4.1.35904.1.2.1.1.0",
            "enterprises.35904.1.2.1.1.0 (name unknown)",
        )],
    ),
    // Huawei UPS5000 behind a Linux card (recording: huawei-gse200m).
    (
        2011,
        &[
            s(
                Model,
                "1.3.6.1.4.1.2011.6.174.1.1.1.2.0",
                "enterprises.2011.6.174.1.1.1.2.0 (name unknown)",
            ),
            col(
                Serial,
                "1.3.6.1.4.1.2011.6.174.1.2.100.1.5",
                "enterprises.2011.6.174.1.2.100.1.5 (name unknown)",
            ),
            col(
                Software,
                "1.3.6.1.4.1.2011.6.174.1.2.100.1.3",
                "enterprises.2011.6.174.1.2.100.1.3 (name unknown)",
            ),
        ],
    ),
];

/// Standard MIBs read by every device that lacks a field after ENTITY-MIB, in the same
/// GET as the vendor's scalars (agents without them answer noSuchObject).
pub(in super::super) static STANDARD: &[Scalar] = &[
    s(
        Manufacturer,
        "1.3.6.1.2.1.33.1.1.1.0",
        "UPS-MIB::upsIdentManufacturer.0",
    ),
    s(Model, "1.3.6.1.2.1.33.1.1.2.0", "UPS-MIB::upsIdentModel.0"),
    s(
        Software,
        "1.3.6.1.2.1.33.1.1.3.0",
        "UPS-MIB::upsIdentUPSSoftwareVersion.0",
    ),
    s(
        Serial,
        "1.3.6.1.2.1.43.5.1.1.17.1",
        "Printer-MIB::prtGeneralSerialNumber.1",
    ),
];

/// IEEE 802.11 MIB dot11ResourceInfoTable columns (index ifIndex): the first row is
/// read with one GETNEXT when the model is still unknown.
pub(in super::super) static DOT11: &[Scalar] = &[
    col(
        Manufacturer,
        "1.2.840.10036.3.1.2.1.2",
        "IEEE802dot11-MIB::dot11manufacturerName",
    ),
    col(
        Model,
        "1.2.840.10036.3.1.2.1.3",
        "IEEE802dot11-MIB::dot11manufacturerProductName",
    ),
    col(
        Software,
        "1.2.840.10036.3.1.2.1.4",
        "IEEE802dot11-MIB::dot11manufacturerProductVersion",
    ),
];

/// Words after which any sysDescr states its software version (Cisco IOS and NX-OS,
/// Arista EOS, IronWare, JunOS, NetApp's `Release`, ProCurve's `revision`).
pub(in super::super) static VERSION_MARKERS: &[&str] = &["Version", "JUNOS", "Release", "revision"];

/// Makers named in a sysDescr, for devices whose sysObjectID is a generic agent's
/// (net-snmp, UCD) rather than their maker's: (word, enterprise).
pub(in super::super) static MAKERS: &[(&str, u32)] = &[
    ("Hikvision", 39165),
    ("SAMSUNG", 36849),
    ("Isilon", 12124),
    ("Synology", 6574),
    ("QNAP", 24681),
    ("Netentsec", 37157),
];

/// Numbers whose devices are another maker's when they name it (in sysDescr, or the
/// chassis' manufacturer or model): Hikvision recorders answer with 50001, registered
/// to Scildon; Eaton UPSes with Merlin Gerin's 705 (MGE, whose UPS business Eaton
/// bought). (number, word, maker)
pub(in super::super) static BORROWED: &[(u32, &str, u32)] =
    &[(50001, "Hikvision", 39165), (705, "Eaton", 534)];

/// Enterprises of generic SNMP agents: their number says nothing of the maker (net-snmp,
/// UCD, and Vyatta, whose number appliances built on it keep; 0 is reserved).
pub(in super::super) static GENERIC: &[u32] = &[0, 8072, 2021, 30803];

/// Words of sysDescr (or the chassis description) that say the kind, tried in order
/// (a "Routing Switch" is a switch; a "Wireless Switch" is wireless).
pub(in super::super) static KIND_WORDS: &[(&str, Kind)] = &[
    ("firewall", Kind::Firewall),
    ("ngfw", Kind::Firewall),
    ("wireless", Kind::Wireless),
    ("wlan", Kind::Wireless),
    ("access point", Kind::Wireless),
    ("switch", Kind::Switch),
    ("router", Kind::Router),
    ("ups", Kind::Power),
    ("pdu", Kind::Power),
    ("printer", Kind::Printer),
    ("camera", Kind::Camera),
    ("ipcam", Kind::Camera),
    ("video recorder", Kind::Camera),
    ("nas", Kind::Storage),
    ("onefs", Kind::Storage),
    ("windows", Kind::Host),
];
