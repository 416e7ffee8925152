//! The rules, one per vendor, in the order they are tried.

use super::generic::{QNAP, SYNOLOGY, UNIFI};
use super::{BASE, Field, Kind, Pat, Rule, col, s, word};

use Field::*;

// Each rule: checked against a recording of a real device (snmpsim-data, named), or
// only against the vendor's published MIB ("MIB only"). docs/architecture.md lists them.
pub(in super::super) static RULES: &[Rule] = &[
    Rule {
        // Cisco: ENTITY-MIB on IOS and NX-OS; CISCO-STACK-MIB on CatOS; chassisId
        // (which defaults to the serial, operators may set it) last. Recordings:
        // cisco-c3560, cisco-c3750, cisco-n5000, cisco-unmarked-0.
        enterprises: &[9],
        kind: None,
        scalars: &[
            s(
                Serial,
                "1.3.6.1.4.1.9.5.1.2.19.0",
                "CISCO-STACK-MIB::chassisSerialNumberString.0",
            ),
            s(
                Model,
                "1.3.6.1.4.1.9.5.1.2.16.0",
                "CISCO-STACK-MIB::chassisModel.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.9.3.6.3.0",
                "OLD-CISCO-CHASSIS-MIB::chassisId.0",
            ),
            // Wireless LAN controllers (recording: cisco-controller).
            s(
                Serial,
                "1.3.6.1.4.1.14179.1.1.1.4.0",
                "AIRESPACE-SWITCHING-MIB::agentInventorySerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.14179.1.1.1.14.0",
                "AIRESPACE-SWITCHING-MIB::agentInventoryProductVersion.0",
            ),
            col(
                Software,
                "1.3.6.1.4.1.9.5.1.3.1.1.20",
                "CISCO-STACK-MIB::moduleSwVersion",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Juniper (recordings: juniper-mx960 JunOS 12.3, 13.3, 16.1).
        enterprises: &[2636],
        kind: None,
        scalars: &[s(
            Serial,
            "1.3.6.1.4.1.2636.3.1.3.0",
            "JUNIPER-MIB::jnxBoxSerialNo.0",
        )],
        descr: &[Pat::After(Model, "Inc.")],
        // An MX's entPhysicalModelName is the midplane's part number (710-030012);
        // an EX's is its model (EX2300-24T).
        part_number: Some("###-######"),
        ..BASE
    },
    Rule {
        // Arista (recording: arista-dcs-7150s): ENTITY-MIB; sysDescr names the model.
        enterprises: &[30065],
        kind: Some(Kind::Switch),
        scalars: &[],
        descr: &[Pat::After(Model, "running on an Arista Networks")],
        ..BASE
    },
    Rule {
        // Brocade/Foundry IronWare, Ruckus ICX (recording: brocade-icx6430-24).
        enterprises: &[1991],
        kind: None,
        scalars: &[
            s(
                Serial,
                "1.3.6.1.4.1.1991.1.1.1.1.2.0",
                "FOUNDRY-SN-AGENT-MIB::snChasSerNum.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.1991.1.1.2.1.11.0",
                "FOUNDRY-SN-AGENT-MIB::snAgImgVer.0",
            ),
        ],
        descr: &[
            Pat::Word(Model, "ICX"),
            Pat::Word(Model, "FCX"),
            Pat::Word(Model, "FastIron"),
        ],
        ..BASE
    },
    Rule {
        // Brocade Fibre Channel, Fabric OS (recordings: brocade-ds-5100b,
        // brocade-fiber-channel, brocade-unknown-001).
        enterprises: &[1588],
        kind: Some(Kind::Switch),
        scalars: &[
            s(
                Software,
                "1.3.6.1.4.1.1588.2.1.1.1.1.6.0",
                "SW-MIB::swFirmwareVersion.0",
            ),
            s(Serial, "1.3.6.1.4.1.1588.2.1.1.1.1.10.0", "SW-MIB::swSsn.0"),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Ruckus wireless: ZoneDirector, then the AP's own hardware info (MIB only;
        // the corpus' SmartCell Gateway answers neither).
        enterprises: &[25053],
        kind: Some(Kind::Wireless),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.25053.1.2.1.1.1.1.9.0",
                "RUCKUS-ZD-SYSTEM-MIB::ruckusZDSystemModel.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.25053.1.2.1.1.1.1.15.0",
                "RUCKUS-ZD-SYSTEM-MIB::ruckusZDSystemSerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.25053.1.2.1.1.1.1.18.0",
                "RUCKUS-ZD-SYSTEM-MIB::ruckusZDSystemVersion.0",
            ),
            s(
                Model,
                "1.3.6.1.4.1.25053.1.1.2.1.1.1.1.0",
                "RUCKUS-HWINFO-MIB::ruckusHwInfoModelNumber.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.25053.1.1.2.1.1.1.2.0",
                "RUCKUS-HWINFO-MIB::ruckusHwInfoSerialNumber.0",
            ),
            // SmartCell Gateway (recording: ruckus-smartcell-gateway).
            s(
                Serial,
                "1.3.6.1.4.1.25053.1.3.1.1.1.15.13.0",
                "RUCKUS-SCG-SYSTEM-MIB::ruckusSystemStatsSerialNumber.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // HP ProCurve / Aruba-OS switches (recording: hpe-procurve-516733-b21): ENTITY-MIB,
        // then the HTTP management MIB every ProCurve answers.
        enterprises: &[11],
        kind: None,
        scalars: &[
            s(
                Serial,
                "1.3.6.1.4.1.11.2.36.1.1.2.9.0",
                "SEMI-MIB::hpHttpMgSerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.11.2.14.11.5.1.1.3.0",
                "NETSWITCH-MIB::hpSwitchOsVersion.0",
            ),
            s(
                Firmware,
                "1.3.6.1.4.1.11.2.14.11.5.1.1.4.0",
                "NETSWITCH-MIB::hpSwitchRomVersion.0",
            ),
            // BladeSystem Onboard Administrator (recording: hp-onboard-administrator).
            col(
                Model,
                "1.3.6.1.4.1.232.22.2.3.1.1.1.3",
                "CPQRACK-MIB::cpqRackCommonEnclosureModel",
            ),
            col(
                Serial,
                "1.3.6.1.4.1.232.22.2.3.1.1.1.7",
                "CPQRACK-MIB::cpqRackCommonEnclosureSerialNum",
            ),
            col(
                Software,
                "1.3.6.1.4.1.232.22.2.3.1.1.1.8",
                "CPQRACK-MIB::cpqRackCommonEnclosureFWRev",
            ),
        ],
        descr: &[Pat::After(Software, "revision")],
        ..BASE
    },
    Rule {
        // Aruba controllers (recordings: aruba-7010, aruba-7020, aruba-7210).
        enterprises: &[14823],
        kind: Some(Kind::Wireless),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.14823.2.2.1.2.1.3.0",
                "WLSX-SYSTEMEXT-MIB::wlsxSysExtModelName.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.14823.2.2.1.2.1.29.0",
                "WLSX-SYSTEMEXT-MIB::wlsxSysExtSerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.14823.2.2.1.2.1.28.0",
                "WLSX-SYSTEMEXT-MIB::wlsxSysExtSwVersion.0",
            ),
            s(
                Model,
                "1.3.6.1.4.1.14823.2.2.1.1.1.2.0",
                "WLSX-SWITCH-MIB::wlsxModelName.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.14823.2.2.1.1.1.12.0",
                "WLSX-SWITCH-MIB::wlsxSwitchLicenseSerialNumber.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.14823.2.2.1.2.1.11.0",
                "WLSX-SYSTEMEXT-MIB::wlsxSysExtLicenseSerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.14823.2.3.3.1.1.4.0",
                "AI-AP-MIB::aiVirtualControllerVersion.0",
            ),
        ],
        descr: &[Pat::After(Model, "MODEL:")],
        // The 7210's ENTITY-MIB lists a switch stack member, not the controller.
        entity_skip: &[Model, Serial, Software],
        ..BASE
    },
    Rule {
        // Huawei VRP (recordings: huawei-s5720, huawei-s12704, huawei-acu2, ME60).
        enterprises: &[2011],
        kind: None,
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.2011.5.25.31.6.5.0",
                "HUAWEI-ENTITY-EXTENT-MIB::hwEntitySystemModel.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.2011.5.25.31.6.3.0",
                "HUAWEI-ENTITY-EXTENT-MIB::hwEntitySoftwareVersion.0",
            ),
            // Servers' iBMC (recording: empirical-hw-mgmt).
            s(
                Model,
                "1.3.6.1.4.1.2011.2.235.1.1.1.6.0",
                "HUAWEI-SERVER-IBMC-MIB::deviceName.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.2011.2.235.1.1.1.7.0",
                "HUAWEI-SERVER-IBMC-MIB::deviceSerialNo.0",
            ),
            // OceanStor arrays, under Huawei-Symantec's number (recording: huawei-ism).
            s(
                Serial,
                "1.3.6.1.4.1.34774.4.1.1.1.0",
                "ISM-STORAGE-SVC-MIB::deviceId.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.34774.4.1.1.6.0",
                "ISM-STORAGE-SVC-MIB::version.0",
            ),
        ],
        descr: &[Pat::First(Model)],
        // VRP's release token: the version engineers quote.
        release: Some("V###R###*"),
        entity_name: true,
        series: &[
            ("S", Kind::Switch),
            ("CE", Kind::Switch),
            ("AR", Kind::Router),
            ("NE", Kind::Router),
            ("ME", Kind::Router),
            ("MultiserviceEngine", Kind::Router),
            ("CX", Kind::Router),
            ("ACU", Kind::Wireless),
            ("AC", Kind::Wireless),
            ("AP", Kind::Wireless),
            ("USG", Kind::Firewall),
            ("Eudemon", Kind::Firewall),
            ("UPS", Kind::Power),
        ],
        answers: &[
            ("1.3.6.1.4.1.34774.4.", Kind::Storage),
            ("1.3.6.1.4.1.2011.2.235.", Kind::Host),
        ],
        ..BASE
    },
    Rule {
        // H3C Comware (recordings: h3c-*): ENTITY-MIB; its extension's serial by row.
        enterprises: &[25506],
        kind: None,
        scalars: &[col(
            Serial,
            "1.3.6.1.4.1.25506.2.6.1.2.1.1.2",
            "HH3C-ENTITY-EXT-MIB::hh3cEntityExtManuSerialNum",
        )],
        descr: &[Pat::After(Model, "Platform Software")],
        series: &[
            ("SR", Kind::Router),
            ("MSR", Kind::Router),
            ("WX", Kind::Wireless),
            ("WA", Kind::Wireless),
            ("LSQ1WCMD", Kind::Wireless),
            ("S", Kind::Switch),
            ("E", Kind::Switch),
        ],
        ..BASE
    },
    Rule {
        // MikroTik RouterOS (MIB only).
        enterprises: &[14988],
        kind: Some(Kind::Router),
        scalars: &[
            s(
                Serial,
                "1.3.6.1.4.1.14988.1.1.7.3.0",
                "MIKROTIK-MIB::mtxrSerialNumber.0",
            ),
            s(
                Firmware,
                "1.3.6.1.4.1.14988.1.1.7.4.0",
                "MIKROTIK-MIB::mtxrFirmwareVersion.0",
            ),
            s(
                Model,
                "1.3.6.1.4.1.14988.1.1.7.9.0",
                "MIKROTIK-MIB::mtxrBoardName.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.14988.1.1.4.4.0",
                "MIKROTIK-MIB::mtxrLicVersion.0",
            ),
        ],
        descr: &[Pat::After(Model, "RouterOS")],
        ..BASE
    },
    Rule {
        // Fortinet (recording: fortinet-xcu): ENTITY-MIB, then the MIBs.
        enterprises: &[12356],
        kind: Some(Kind::Firewall),
        scalars: &[
            s(
                Serial,
                "1.3.6.1.4.1.12356.100.1.1.1.0",
                "FORTINET-CORE-MIB::fnSysSerial.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.12356.101.4.1.1.0",
                "FORTINET-FORTIGATE-MIB::fgSysVersion.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Palo Alto (recording: paloalto-pa-5000).
        enterprises: &[25461],
        kind: Some(Kind::Firewall),
        scalars: &[
            s(
                Software,
                "1.3.6.1.4.1.25461.2.1.2.1.1.0",
                "PAN-COMMON-MIB::panSysSwVersion.0",
            ),
            s(
                Hardware,
                "1.3.6.1.4.1.25461.2.1.2.1.2.0",
                "PAN-COMMON-MIB::panSysHwVersion.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.25461.2.1.2.1.3.0",
                "PAN-COMMON-MIB::panSysSerialNumber.0",
            ),
            s(
                Model,
                "1.3.6.1.4.1.25461.2.1.2.2.1.0",
                "PAN-COMMON-MIB::panChassisType.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Ubiquiti: airOS answers the IEEE 802.11 MIB (recording: ubiquiti-m5);
        // UniFi APs their own (MIB only), some behind net-snmp's sysObjectID (see
        // GENERIC_PROBES).
        enterprises: &[41112, 10002],
        kind: Some(Kind::Wireless),
        scalars: &UNIFI,
        descr: &[],
        ..BASE
    },
    Rule {
        // Ubiquiti EdgeSwitch / UniFi switches, FASTPATH-based (MIB only).
        enterprises: &[4413],
        kind: Some(Kind::Switch),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.4413.1.1.1.1.1.3.0",
                "EdgeSwitch-SWITCHING-MIB::agentInventoryMachineModel.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.4413.1.1.1.1.1.4.0",
                "EdgeSwitch-SWITCHING-MIB::agentInventorySerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.4413.1.1.1.1.1.13.0",
                "EdgeSwitch-SWITCHING-MIB::agentInventorySoftwareVersion.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Dell PowerConnect / N-series (MIB only; Dell OS10 and iDRAC use ENTITY-MIB or
        // other branches).
        enterprises: &[674],
        kind: None,
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.674.10895.3000.1.2.100.1.0",
                "Dell-Vendor-MIB::productIdentificationDisplayName.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.674.10895.3000.1.2.100.4.0",
                "Dell-Vendor-MIB::productIdentificationVersion.0",
            ),
            col(
                Serial,
                "1.3.6.1.4.1.674.10895.3000.1.2.100.8.1.2",
                "Dell-Vendor-MIB::productIdentificationSerialNumber",
            ),
            s(
                Model,
                "1.3.6.1.4.1.674.10892.5.1.3.12.0",
                "IDRAC-MIB-SMIv2::systemModelName.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.674.10892.5.1.3.2.0",
                "IDRAC-MIB-SMIv2::systemServiceTag.0",
            ),
            s(
                Firmware,
                "1.3.6.1.4.1.674.10892.5.1.1.8.0",
                "IDRAC-MIB-SMIv2::racFirmwareVersion.0",
            ),
        ],
        descr: &[],
        answers: &[("1.3.6.1.4.1.674.10895.", Kind::Switch)],
        ..BASE
    },
    Rule {
        // Dell Networking / Force10 (MIB only).
        enterprises: &[6027],
        kind: Some(Kind::Switch),
        scalars: &[
            s(
                Serial,
                "1.3.6.1.4.1.6027.3.1.1.1.2.0",
                "F10-CHASSIS-MIB::chSerialNumber.0",
            ),
            col(
                Model,
                "1.3.6.1.4.1.6027.3.10.1.2.2.1.7",
                "F10-S-SERIES-CHASSIS-MIB::chStackUnitModelID",
            ),
            col(
                Software,
                "1.3.6.1.4.1.6027.3.10.1.2.2.1.10",
                "F10-S-SERIES-CHASSIS-MIB::chStackUnitCodeVersion",
            ),
            col(
                Serial,
                "1.3.6.1.4.1.6027.3.10.1.2.2.1.12",
                "F10-S-SERIES-CHASSIS-MIB::chStackUnitSerialNumber",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Extreme (MIB only): ENTITY-MIB on EXOS; the model in sysDescr's parentheses.
        enterprises: &[1916],
        kind: Some(Kind::Switch),
        scalars: &[],
        descr: &[Pat::After(Model, "ExtremeXOS")],
        ..BASE
    },
    Rule {
        // Netgear smart (.11) and managed (.10) switches (MIB only).
        enterprises: &[4526],
        kind: Some(Kind::Switch),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.4526.11.1.1.1.3.0",
                "NETGEAR-SWITCHING-MIB::agentInventoryMachineModel.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.4526.11.1.1.1.4.0",
                "NETGEAR-SWITCHING-MIB::agentInventorySerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.4526.11.1.1.1.13.0",
                "NETGEAR-SWITCHING-MIB::agentInventorySoftwareVersion.0",
            ),
            s(
                Model,
                "1.3.6.1.4.1.4526.10.1.1.1.3.0",
                "FASTPATH-SWITCHING-MIB::agentInventoryMachineModel.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.4526.10.1.1.1.4.0",
                "FASTPATH-SWITCHING-MIB::agentInventorySerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.4526.10.1.1.1.13.0",
                "FASTPATH-SWITCHING-MIB::agentInventorySoftwareVersion.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // TP-Link JetStream (MIB only). The serial's number was uptime in an older
        // MIB: only a string is taken (see `identify`).
        enterprises: &[11863],
        kind: Some(Kind::Switch),
        scalars: &[
            word(
                Model,
                "1.3.6.1.4.1.11863.6.1.1.5.0",
                "TPLINK-SYSINFO-MIB::tpSysInfoHwVersion.0",
            ),
            s(
                Hardware,
                "1.3.6.1.4.1.11863.6.1.1.5.0",
                "TPLINK-SYSINFO-MIB::tpSysInfoHwVersion.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.11863.6.1.1.6.0",
                "TPLINK-SYSINFO-MIB::tpSysInfoSwVersion.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.11863.6.1.1.8.0",
                "TPLINK-SYSINFO-MIB::tpSysInfoSerialNum.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Zyxel, the ES common MIB of ZLD firewalls, NXC and newer switches (MIB only).
        enterprises: &[890],
        kind: None,
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.890.1.15.3.1.11.0",
                "ZYXEL-ES-COMMON::sysProductModel.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.890.1.15.3.1.12.0",
                "ZYXEL-ES-COMMON::sysProductSerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.890.1.15.3.1.6.0",
                "ZYXEL-ES-COMMON::sysSwVersionString.0",
            ),
            s(
                Hardware,
                "1.3.6.1.4.1.890.1.15.3.1.15.0",
                "ZYXEL-ES-COMMON::sysHwVersionString.0",
            ),
        ],
        descr: &[],
        // 890.1.15 covers ZLD firewalls, NWA/NXC wireless and XGS/XS switches; the
        // model's series says which (LibreNMS zywall.yaml's list).
        series: &[
            ("USG", Kind::Firewall),
            ("ATP", Kind::Firewall),
            ("ZyWALL", Kind::Firewall),
            ("VPN", Kind::Firewall),
            ("NWA", Kind::Wireless),
            ("WAX", Kind::Wireless),
            ("WAC", Kind::Wireless),
            ("NXC", Kind::Wireless),
            ("XGS", Kind::Switch),
            ("XS", Kind::Switch),
            ("XMG", Kind::Switch),
            ("GS", Kind::Switch),
        ],
        ..BASE
    },
    Rule {
        // D-Link (recordings: dlink-des3038, dlink-des3200): the model in sysDescr.
        enterprises: &[171],
        kind: Some(Kind::Switch),
        scalars: &[
            s(
                Serial,
                "1.3.6.1.4.1.171.12.1.1.12.0",
                "AGENT-GENERAL-MIB::agentSerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.2.1.16.19.2.0",
                "RMON2-MIB::probeSoftwareRev.0",
            ),
            s(
                Hardware,
                "1.3.6.1.2.1.16.19.3.0",
                "RMON2-MIB::probeHardwareRev.0",
            ),
        ],
        descr: &[
            Pat::Word(Model, "DES-"),
            Pat::Word(Model, "DGS-"),
            Pat::Word(Model, "DXS-"),
            Pat::Word(Model, "DWS-"),
        ],
        ..BASE
    },
    Rule {
        // Allied Telesis AlliedWare Plus, and older AT switches (MIB only).
        enterprises: &[207],
        kind: Some(Kind::Switch),
        scalars: &[
            s(
                Software,
                "1.3.6.1.4.1.207.8.4.4.4.500.2.1.1.0",
                "AT-SETUP-MIB::currSoftVersion.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.207.8.15.1.7.2.0",
                "AtiSwitch-MIB::atiswitchSwVersion.0",
            ),
            col(
                Model,
                "1.3.6.1.4.1.207.8.4.4.3.21.1.1.4",
                "AT-RESOURCE-MIB::rscBoardName",
            ),
            col(
                Serial,
                "1.3.6.1.4.1.207.8.4.4.3.21.1.1.8",
                "AT-RESOURCE-MIB::rscBoardSerialNumber",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Yamaha RT/RTX routers: sysDescr `RTX1210 Rev.14.01.29 (...)` (no MIB text
        // could be checked: sysDescr only).
        enterprises: &[1182],
        kind: Some(Kind::Router),
        scalars: &[],
        descr: &[Pat::First(Model), Pat::After(Software, "Rev.")],
        ..BASE
    },
    Rule {
        // NEC IX routers: `IX Series IX2215 ... Version 10.7.18` (sysDescr only). NEC's
        // number is also its QX switches': the kind by the model's series.
        enterprises: &[119],
        kind: None,
        scalars: &[],
        descr: &[Pat::After(Model, "Series")],
        series: &[("IX", Kind::Router), ("QX", Kind::Switch)],
        ..BASE
    },
    Rule {
        // APC (Schneider Electric) UPSes, PDUs and transfer switches behind a Network
        // Management Card (recordings: apc-7902b, apc-8641, apc-8932).
        enterprises: &[318],
        kind: Some(Kind::Power),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.318.1.1.1.1.1.1.0",
                "PowerNet-MIB::upsBasicIdentModel.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.318.1.1.1.1.2.3.0",
                "PowerNet-MIB::upsAdvIdentSerialNumber.0",
            ),
            s(
                Firmware,
                "1.3.6.1.4.1.318.1.1.1.1.2.1.0",
                "PowerNet-MIB::upsAdvIdentFirmwareRevision.0",
            ),
            s(
                Model,
                "1.3.6.1.4.1.318.1.1.12.1.5.0",
                "PowerNet-MIB::rPDUIdentModelNumber.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.318.1.1.12.1.6.0",
                "PowerNet-MIB::rPDUIdentSerialNumber.0",
            ),
            s(
                Model,
                "1.3.6.1.4.1.318.1.1.4.1.4.0",
                "PowerNet-MIB::sPDUIdentModelNumber.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.318.1.1.4.1.5.0",
                "PowerNet-MIB::sPDUIdentSerialNumber.0",
            ),
            s(
                Model,
                "1.3.6.1.4.1.318.1.1.8.1.5.0",
                "PowerNet-MIB::atsIdentModelNumber.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.318.1.1.8.1.6.0",
                "PowerNet-MIB::atsIdentSerialNumber.0",
            ),
            col(
                Model,
                "1.3.6.1.4.1.318.1.1.26.2.1.8",
                "PowerNet-MIB::rPDU2IdentModelNumber",
            ),
            col(
                Serial,
                "1.3.6.1.4.1.318.1.1.26.2.1.9",
                "PowerNet-MIB::rPDU2IdentSerialNumber",
            ),
        ],
        descr: &[
            Pat::After(Model, "MN:"),
            Pat::After(Serial, "SN:"),
            Pat::After(Hardware, "HR:"),
            Pat::After(Software, "PF:"),
        ],
        ..BASE
    },
    Rule {
        // Eaton: XUPS-MIB, then the ePDU MIB (MIB only; the corpus' Eaton answers UPS-MIB).
        enterprises: &[534],
        kind: Some(Kind::Power),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.534.1.1.2.0",
                "XUPS-MIB::xupsIdentModel.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.534.1.1.3.0",
                "XUPS-MIB::xupsIdentSoftwareVersion.0",
            ),
            s(
                Model,
                "1.3.6.1.4.1.534.6.6.7.1.2.1.2.0",
                "EATON-EPDU-MIB::productName.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.534.6.6.7.1.2.1.4.0",
                "EATON-EPDU-MIB::serialNumber.0",
            ),
            s(
                Firmware,
                "1.3.6.1.4.1.534.6.6.7.1.2.1.5.0",
                "EATON-EPDU-MIB::firmwareVersion.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // MGE (Eaton) UPSes (recordings: eaton-93e-80, eaton-9px-partial).
        enterprises: &[705],
        kind: Some(Kind::Power),
        scalars: &[
            // Eaton's own MIB first: upsmgIdentModelName holds a number on the 93E.
            s(
                Model,
                "1.3.6.1.4.1.534.1.1.2.0",
                "XUPS-MIB::xupsIdentModel.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.705.1.1.7.0",
                "MG-SNMP-UPS-MIB::upsmgIdentSerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.705.1.1.4.0",
                "MG-SNMP-UPS-MIB::upsmgIdentFirmwareVersion.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Vertiv / Liebert: the managed device behind the card (recording: vertiv-power).
        enterprises: &[476],
        kind: None,
        scalars: &[
            col(
                Model,
                "1.3.6.1.4.1.476.1.42.2.4.2.1.4",
                "LIEBERT-GP-AGENT-MIB::lgpAgentDeviceModel",
            ),
            col(
                Serial,
                "1.3.6.1.4.1.476.1.42.2.4.2.1.7",
                "LIEBERT-GP-AGENT-MIB::lgpAgentDeviceSerialNumber",
            ),
            col(
                Firmware,
                "1.3.6.1.4.1.476.1.42.2.4.2.1.5",
                "LIEBERT-GP-AGENT-MIB::lgpAgentDeviceFirmwareVersion",
            ),
        ],
        descr: &[],
        // Liebert makes UPSes and cooling units: the series says which.
        series: &[
            ("PEX", Kind::Other),
            ("CRV", Kind::Other),
            ("DS", Kind::Other),
            ("GXT", Kind::Power),
            ("NX", Kind::Power),
            ("APM", Kind::Power),
        ],
        ..BASE
    },
    Rule {
        // NetApp Data ONTAP (recordings: netapp-fas3270, netapp-ontap-8-2-3).
        enterprises: &[789],
        kind: Some(Kind::Storage),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.789.1.1.5.0",
                "NETAPP-MIB::productModel.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.789.1.1.9.0",
                "NETAPP-MIB::productSerialNum.0",
            ),
            s(
                Firmware,
                "1.3.6.1.4.1.789.1.1.6.0",
                "NETAPP-MIB::productFirmwareVersion.0",
            ),
        ],
        descr: &[Pat::After(Software, "Release")],
        ..BASE
    },
    Rule {
        // Synology DSM (MIB only). Its sysObjectID is net-snmp's: see GENERIC_PROBES.
        enterprises: &[6574],
        kind: Some(Kind::Storage),
        scalars: &SYNOLOGY,
        descr: &[],
        ..BASE
    },
    Rule {
        // QNAP (MIB only).
        enterprises: &[24681],
        kind: Some(Kind::Storage),
        scalars: &QNAP,
        descr: &[],
        ..BASE
    },
    Rule {
        // Hikvision cameras and recorders (recordings: hikvision, hikvision-network-video-recorder).
        enterprises: &[39165, 50001],
        kind: Some(Kind::Camera),
        scalars: &[
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
            s(
                Hardware,
                "1.3.6.1.4.1.39165.1.2.0",
                "HIK-DEVICE-MIB::hardwVersion.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Brother printers (MIB only): its own serial (read before the standard
        // Printer-MIB's, as every vendor's); the model from Printer-MIB's hrDeviceDescr.
        enterprises: &[2435],
        kind: Some(Kind::Printer),
        scalars: &[s(
            Serial,
            "1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.1.0",
            "BROTHER-MIB::brInfoSerialNumber.0",
        )],
        descr: &[],
        ..BASE
    },
    // Vendors of the recordings corpus (snmpsim-data), checked against those
    // recordings only. "name unknown": the vendor publishes no MIB we could read; the
    // object was identified from the recording alone.
    Rule {
        // Ruijie (recordings: ruijie-n18010, ruijie-s5750, ruijie-m18000).
        enterprises: &[4881],
        kind: Some(Kind::Switch),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.4881.1.1.10.2.56.1.1.18.0",
                "RUIJIE-AC-MGMT-MIB::ruijieAcPID.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.4881.1.1.10.2.56.1.1.20.0",
                "RUIJIE-AC-MGMT-MIB::ruijieAcSN.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.4881.1.1.10.2.56.1.1.34.0",
                "RUIJIE-AC-MGMT-MIB::ruijieAcSwVer.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.4881.1.1.10.2.1.1.24.0",
                "RUIJIE-SYSTEM-MIB::systemSerialno.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.4881.1.1.10.2.1.1.2.0",
                "RUIJIE-SYSTEM-MIB::systemSWVersion.0",
            ),
        ],
        descr: &[Pat::Paren(Model)],
        ..BASE
    },
    Rule {
        // BDCOM (recording: bdcom-s5612): the mother card of NMS-CHASSIS.
        enterprises: &[3320],
        kind: Some(Kind::Switch),
        scalars: &[
            col(
                Serial,
                "1.3.6.1.4.1.3320.3.6.10.1.4",
                "NMS-CHASSIS::nmscardSerial",
            ),
            col(
                Software,
                "1.3.6.1.4.1.3320.3.6.10.1.6",
                "NMS-CHASSIS::nmscardSwVersion",
            ),
        ],
        descr: &[Pat::After(Model, "BDCOM(tm)")],
        ..BASE
    },
    Rule {
        // Digital China Networks (recordings: dcrs-5980, dcs-3726c), Accton-style.
        enterprises: &[6339],
        kind: Some(Kind::Switch),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.6339.1.1.5.3.1.1.5.1.0",
                "swProdName.0 (Accton-style; name unknown)",
            ),
            s(
                Software,
                "1.3.6.1.4.1.6339.1.1.5.3.1.1.5.4.0",
                "swProdVersion.0 (Accton-style; name unknown)",
            ),
            col(
                Serial,
                "1.3.6.1.4.1.6339.1.1.5.3.1.1.3.1.10",
                "swSerialNumber (Accton-style; name unknown)",
            ),
        ],
        descr: &[Pat::After(Serial, "serial number")],
        ..BASE
    },
    Rule {
        // Maipu (recording: maipu-sm4200): the model first in sysDescr.
        enterprises: &[5651],
        kind: Some(Kind::Switch),
        scalars: &[s(
            Software,
            "1.3.6.1.4.1.5651.6.7.2.100.1.3.0",
            "enterprises.5651.6.7.2.100.1.3.0 (name unknown)",
        )],
        descr: &[Pat::First(Model)],
        ..BASE
    },
    Rule {
        // Metel PoE boxes (recording: metel-poe-box).
        enterprises: &[38616],
        kind: Some(Kind::Switch),
        scalars: &[],
        descr: &[Pat::First(Model), Pat::After(Software, "fw:")],
        ..BASE
    },
    Rule {
        // ZTE (recordings: zte-zrx10, zte-zxr10-5250, zte-embsys-cgel): the chassis'
        // entPhysicalModelName says only the series.
        enterprises: &[3902],
        kind: None,
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.3902.15.2.30.1.6.0",
                "enterprises.3902.15.2.30.1.6.0 (name unknown)",
            ),
            s(
                Software,
                "1.3.6.1.4.1.3902.15.2.30.1.25.0",
                "enterprises.3902.15.2.30.1.25.0 (name unknown)",
            ),
            col(
                Model,
                "1.3.6.1.4.1.3902.2505.1.1.15.101.1.1.29",
                "enterprises.3902.2505.1.1.15.101.1.1.29 (name unknown)",
            ),
            col(
                Software,
                "1.3.6.1.4.1.3902.2505.1.1.15.101.1.1.37",
                "enterprises.3902.2505.1.1.15.101.1.1.37 (name unknown)",
            ),
        ],
        descr: &[Pat::Two(Model, "ZXR10")],
        entity_skip: &[Model],
        ..BASE
    },
    Rule {
        // DPtech (recording: dptech-dpx800-a5): entPhysicalModelName is a stack label.
        enterprises: &[31648],
        kind: None,
        scalars: &[],
        descr: &[Pat::Word(Model, "DPX")],
        entity_skip: &[Model],
        ..BASE
    },
    Rule {
        // Trapeze / Juniper WLC (recordings: juniper-wlc2800, juniper-ac).
        enterprises: &[14525],
        kind: Some(Kind::Wireless),
        scalars: &[
            s(
                Serial,
                "1.3.6.1.4.1.14525.4.2.1.1.0",
                "TRAPEZE-NETWORKS-BASIC-MIB::trpzSerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.14525.4.2.1.4.0",
                "TRAPEZE-NETWORKS-BASIC-MIB::trpzVersionString.0",
            ),
        ],
        descr: &[Pat::Word(Model, "WLC")],
        ..BASE
    },
    Rule {
        // Meru (recording: meru-networks-controller).
        enterprises: &[15983],
        kind: Some(Kind::Wireless),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.15983.1.1.3.1.13.2.0",
                "MERU-GLOBAL-STATISTICS-MIB::mwSystemGeneralModel.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.15983.1.1.4.1.1.32.0",
                "MERU-CONFIG-WNC-MIB::mwWncVarsManSerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.15983.1.1.3.1.13.3.0",
                "MERU-GLOBAL-STATISTICS-MIB::mwSystemGeneralVersion.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Tripp Lite (recording: tripplite-poweralert): the managed unit, not the card.
        enterprises: &[850],
        kind: Some(Kind::Power),
        scalars: &[
            col(
                Model,
                "1.3.6.1.4.1.850.1.1.1.2.1.5",
                "TRIPPLITE-PRODUCTS::tlpDeviceModel",
            ),
            col(
                Serial,
                "1.3.6.1.4.1.850.1.1.2.1.1.5",
                "TRIPPLITE-PRODUCTS::tlpDeviceIdentSerialNum",
            ),
            col(
                Software,
                "1.3.6.1.4.1.850.1.1.2.1.1.4",
                "TRIPPLITE-PRODUCTS::tlpDeviceIdentFirmwareVersion",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Geist (recording: geist-temperature-sensor).
        enterprises: &[21239],
        kind: Some(Kind::Other),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.21239.5.1.1.8.0",
                "GEIST-V5-MIB::productModelNumber.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.21239.5.1.1.10.0",
                "GEIST-V5-MIB::productSerialNumber.0",
            ),
            s(
                Software,
                "1.3.6.1.4.1.21239.5.1.1.2.0",
                "GEIST-V5-MIB::productVersion.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // IBM AIX on Power (recording: ibm-power-chrp).
        enterprises: &[2],
        kind: Some(Kind::Host),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.2.6.191.1.3.6.0",
                "IBM-AIX-MIB::aixSeMachineType.0",
            ),
            s(
                Serial,
                "1.3.6.1.4.1.2.6.191.1.3.7.0",
                "IBM-AIX-MIB::aixSeSerialNumber.0",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Isilon OneFS (recording: isilon-onefs).
        enterprises: &[12124],
        kind: Some(Kind::Storage),
        scalars: &[
            col(
                Model,
                "1.3.6.1.4.1.12124.2.51.1.4",
                "ISILON-MIB::chassisModel",
            ),
            col(
                Serial,
                "1.3.6.1.4.1.12124.2.51.1.3",
                "ISILON-MIB::chassisSerialNumber",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // NSFOCUS (recordings: nsfocus-ads, nsfocus-osms).
        enterprises: &[19849],
        kind: Some(Kind::Firewall),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.19849.6.1.1.0",
                "enterprises.19849.6.1.1.0 (name unknown)",
            ),
            s(
                Software,
                "1.3.6.1.4.1.19849.6.1.4.0",
                "enterprises.19849.6.1.4.0 (name unknown)",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // VSS Monitoring / NetScout (recording: vss-monitoring-optimizer-2400-span).
        enterprises: &[21671],
        kind: Some(Kind::Other),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.21671.4.1.1.0",
                "enterprises.21671.4.1.1.0 (name unknown)",
            ),
            s(
                Software,
                "1.3.6.1.4.1.21671.4.1.2.0",
                "enterprises.21671.4.1.2.0 (name unknown)",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // Venustech (recordings: venus-*): sysDescr `VENUS VSOS-V0600R0705B20180507`.
        enterprises: &[15227],
        kind: Some(Kind::Firewall),
        scalars: &[],
        descr: &[Pat::After(Software, "VSOS-")],
        ..BASE
    },
    Rule {
        // Clavister (recording: clavister-amaranten).
        enterprises: &[5089],
        kind: Some(Kind::Firewall),
        scalars: &[],
        descr: &[Pat::After(Software, "Firewall")],
        ..BASE
    },
    Rule {
        // Emerson Network Power UPSes (recording: emerson-network-power).
        enterprises: &[13400],
        kind: Some(Kind::Power),
        scalars: &[
            s(
                Model,
                "1.3.6.1.4.1.13400.2.1.2.1.1.1.0",
                "enterprises.13400.2.1.2.1.1.1.0 (name unknown)",
            ),
            s(
                Software,
                "1.3.6.1.4.1.13400.2.1.2.1.2.1.0",
                "enterprises.13400.2.1.2.1.2.1.0 (name unknown)",
            ),
            s(
                Model,
                "1.3.6.1.4.1.13400.2.3.1.2.0",
                "enterprises.13400.2.3.1.2.0 (name unknown)",
            ),
        ],
        descr: &[],
        ..BASE
    },
    Rule {
        // INFOSEC (recording: infosec-nsae-6500): `Hardware: INFOSEC NSAE 6500 ... Software:
        // NSAE Rel.NSAE.8.4.0.8`.
        enterprises: &[27971],
        kind: None,
        scalars: &[],
        descr: &[Pat::Two(Model, "NSAE"), Pat::After(Software, "Rel.NSAE.")],
        ..BASE
    },
    Rule {
        // Topsec (recording: topsec-ngfw4000-uf).
        enterprises: &[14331],
        kind: Some(Kind::Firewall),
        scalars: &[s(
            Model,
            "1.3.6.1.4.1.14331.5.5.1.3.2.0",
            "enterprises.14331.5.5.1.3.2.0 (name unknown)",
        )],
        descr: &[],
        ..BASE
    },
    Rule {
        // WRD Tech sensors (recording: wds-ips-1022).
        enterprises: &[37940],
        kind: None,
        scalars: &[],
        descr: &[Pat::Word(Model, "IPS-")],
        ..BASE
    },
    Rule {
        // Ingrasys power switches (recording: ingrasys-power-switch): `(SN 1112...)`.
        enterprises: &[2468],
        kind: Some(Kind::Power),
        scalars: &[],
        descr: &[Pat::After(Serial, "SN")],
        ..BASE
    },
    Rule {
        // MacroSAN arrays (recording: unknown-007; found by a generic agent's probe).
        enterprises: &[35904],
        kind: Some(Kind::Storage),
        ..BASE
    },
    Rule {
        // Samsung iPolis cameras (recording: samsung-ipolis).
        enterprises: &[36849],
        kind: Some(Kind::Camera),
        scalars: &[],
        descr: &[],
        ..BASE
    },
    Rule {
        // Vyatta and the appliances built on it: a router OS. Its number is also
        // GENERIC: the maker named in sysDescr is the vendor.
        enterprises: &[30803],
        kind: Some(Kind::Router),
        ..BASE
    },
    Rule {
        // Net-SNMP on a plain host: the kernel release (`Linux NAME 3.10.0-514.el7.x86_64 ...`).
        enterprises: &[8072, 2021],
        kind: None,
        scalars: &[],
        descr: &[Pat::Nth(Software, "Linux", 2)],
        ..BASE
    },
];
