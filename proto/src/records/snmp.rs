//! The SNMP section of a host: its device record as read over SNMP.

use serde::{Deserialize, Serialize};

/// What ksocket reads from a network device over SNMP: the system group, the vendor
/// (sysObjectID's enterprise) and kind of device, the chassis (model, serial, versions:
/// ENTITY-MIB, vendor scalars, sysDescr, each value with its source), interfaces
/// (IF-MIB) with their IPv4 addresses, LLDP and CDP neighbours and the ARP table. Every
/// table whose walk ended early is named in `incomplete`: a partial table is never
/// passed off as whole.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Device {
    pub sys_descr: Option<String>,
    pub sys_object_id: Option<String>,
    pub sys_name: Option<String>,
    pub sys_up_time: Option<u64>,
    pub sys_location: Option<String>,
    pub sys_contact: Option<String>,
    /// sysServices (RFC 1213): the OSI layers the device serves, as a bit mask.
    pub sys_services: Option<u8>,
    /// The organisation that owns sysObjectID's enterprise number.
    pub vendor: Option<Vendor>,
    /// What kind of device this is, and what said so.
    pub kind: Option<Kind>,
    pub kind_source: Option<String>,
    pub chassis: Option<Chassis>,
    pub interfaces: Vec<Interface>,
    /// LLDP (LLDP-MIB, LLDP-V2-MIB) and CDP neighbours, one list; each entry says
    /// which protocol found it. (Records before 0.6 named this `lldpNeighbors`.)
    #[serde(alias = "lldpNeighbors")]
    pub neighbors: Vec<Neighbor>,
    pub arp: Vec<ArpEntry>,
    /// Tables whose walk ended early, and why.
    pub incomplete: Vec<String>,
}

/// An SNMP enterprise (the arc after 1.3.6.1.4.1 in sysObjectID) and its owner.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Vendor {
    pub enterprise: u32,
    /// The organisation as the IANA enterprise registry spells it; `None` for a
    /// number the agent's table does not hold.
    pub name: Option<String>,
    /// The name engineers use ("Cisco", "HPE Aruba", "APC").
    pub short: Option<String>,
}

/// The kind of a network-attached device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Router,
    Switch,
    Firewall,
    /// A wireless controller or access point.
    Wireless,
    Printer,
    /// A UPS or PDU.
    Power,
    Storage,
    /// A server, workstation or other general-purpose host.
    Host,
    Camera,
    Other,
}

/// The device's hardware and software. Each value names where it was read from in
/// `sources` (field name → source, such as `entPhysicalModelName.1001`,
/// `NETAPP-MIB::productSerialNum.0` or `sysDescr`).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Chassis {
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub manufacturer: Option<String>,
    pub hardware_version: Option<String>,
    pub firmware_version: Option<String>,
    pub software_version: Option<String>,
    pub description: Option<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sources: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Interface {
    pub index: u32,
    pub name: Option<String>,
    pub descr: Option<String>,
    pub alias: Option<String>,
    #[serde(rename = "type")]
    pub if_type: Option<i64>,
    pub mac: Option<String>,
    /// Bits per second (ifHighSpeed when ifSpeed saturates).
    pub speed: Option<u64>,
    pub admin_status: Option<IfStatus>,
    pub oper_status: Option<IfStatus>,
    /// `a.b.c.d/len` (or `a.b.c.d` where the device gives no prefix).
    pub ipv4: Vec<String>,
}

/// ifAdminStatus / ifOperStatus (IF-MIB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum IfStatus {
    Up,
    Down,
    Testing,
    Unknown,
    Dormant,
    NotPresent,
    LowerLayerDown,
}

impl IfStatus {
    /// The status of an IF-MIB integer value; `None` for values the MIB does not name.
    pub fn from_mib(v: i64) -> Option<IfStatus> {
        Some(match v {
            1 => IfStatus::Up,
            2 => IfStatus::Down,
            3 => IfStatus::Testing,
            4 => IfStatus::Unknown,
            5 => IfStatus::Dormant,
            6 => IfStatus::NotPresent,
            7 => IfStatus::LowerLayerDown,
            _ => return None,
        })
    }
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Neighbor {
    pub protocol: Protocol,
    pub local_port: Option<String>,
    pub chassis_id: Option<String>,
    pub port_id: Option<String>,
    pub port_descr: Option<String>,
    pub sys_name: Option<String>,
    pub sys_descr: Option<String>,
    pub management_address: Option<String>,
    /// CDP's cdpCachePlatform (the peer's model).
    pub platform: Option<String>,
}

/// The discovery protocol that found a neighbour. For CDP, `sysName` holds
/// cdpCacheDeviceId, `portId` cdpCacheDevicePort and `sysDescr` cdpCacheVersion.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Protocol {
    #[default]
    Lldp,
    Cdp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArpEntry {
    pub ip: String,
    pub mac: String,
    pub if_index: u32,
}
