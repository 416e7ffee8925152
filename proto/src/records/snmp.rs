//! The SNMP section of a host: its device record as read over SNMP.

use serde::{Deserialize, Serialize};

/// What ksocket reads from a network device over SNMP: the system group, the chassis
/// (ENTITY-MIB, else vendor scalars), interfaces (IF-MIB) with their IPv4 addresses,
/// LLDP neighbours and the ARP table. Every table whose walk ended early is named in
/// `incomplete`: a partial table is never passed off as whole.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Device {
    pub sys_descr: Option<String>,
    pub sys_object_id: Option<String>,
    pub sys_name: Option<String>,
    pub sys_up_time: Option<u64>,
    pub sys_location: Option<String>,
    pub sys_contact: Option<String>,
    pub chassis: Option<Chassis>,
    pub interfaces: Vec<Interface>,
    pub lldp_neighbors: Vec<Neighbor>,
    pub arp: Vec<ArpEntry>,
    /// Tables whose walk ended early, and why.
    pub incomplete: Vec<String>,
}

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
    pub local_port: Option<String>,
    pub chassis_id: Option<String>,
    pub port_id: Option<String>,
    pub port_descr: Option<String>,
    pub sys_name: Option<String>,
    pub sys_descr: Option<String>,
    pub management_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArpEntry {
    pub ip: String,
    pub mac: String,
    pub if_index: u32,
}
