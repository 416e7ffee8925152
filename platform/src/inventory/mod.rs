//! Collectors: what the agent reads from each live host (SNMP today; SSH, WinRM and
//! vSphere later), each in its own folder.

pub mod snmp;
pub mod ssh;
