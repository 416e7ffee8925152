//! The bounds of a scan's work, whatever the network sends: each settable by a flag of
//! `ksocket scan` / `ksocket snmp device` and in ksocket.toml's `[limits]` (read by
//! the command line as its defaults, and by the service mode), docs/operations.md.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Time one host's collection may take (`--host-timeout`, `limits.hostTimeout`).
    pub host_timeout: Duration,
    /// Rows of one SNMP table (`--table-rows`, `limits.tableRows`).
    pub table_rows: usize,
    /// Bytes of one SNMP table, and of one device record (`--table-bytes`,
    /// `limits.tableBytes`).
    pub table_bytes: usize,
    /// Time the whole details phase may take (`--details-timeout`,
    /// `limits.detailsTimeout`).
    pub details_timeout: Duration,
    /// Addresses one scan probes (`--max-addresses`, `limits.maxAddresses`).
    pub max_addresses: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            host_timeout: Duration::from_secs(60),
            table_rows: 100_000,
            table_bytes: 16 << 20,
            details_timeout: Duration::from_secs(600),
            max_addresses: 65_536,
        }
    }
}

/// Limits given on the command line, over those of ksocket.toml.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    pub host_timeout: Option<Duration>,
    pub table_rows: Option<usize>,
    pub table_bytes: Option<usize>,
    pub details_timeout: Option<Duration>,
    pub max_addresses: Option<u64>,
}

impl Flags {
    /// `l` with every limit given as a flag replaced.
    pub fn over(&self, l: Limits) -> Limits {
        Limits {
            host_timeout: self.host_timeout.unwrap_or(l.host_timeout),
            table_rows: self.table_rows.unwrap_or(l.table_rows),
            table_bytes: self.table_bytes.unwrap_or(l.table_bytes),
            details_timeout: self.details_timeout.unwrap_or(l.details_timeout),
            max_addresses: self.max_addresses.unwrap_or(l.max_addresses),
        }
    }

    /// Takes one limit flag (`--host-timeout S`, `--table-rows N`, `--table-bytes N`,
    /// `--details-timeout S`, `--max-addresses N`); `Ok(false)` when `name` is none.
    pub fn take(
        &mut self,
        name: &str,
        value: &dyn Fn() -> Result<String, String>,
    ) -> Result<bool, String> {
        use crate::options::number;
        let e = |x: crate::options::OptionError| x.to_string();
        let secs = |n: u64| Duration::from_secs(n);
        match name {
            "host-timeout" => {
                self.host_timeout = Some(secs(
                    number("host-timeout", &value()?, 1, 86_400).map_err(e)?,
                ))
            }
            "table-rows" => {
                self.table_rows =
                    Some(number("table-rows", &value()?, 1, 10_000_000).map_err(e)? as usize)
            }
            "table-bytes" => {
                self.table_bytes =
                    Some(number("table-bytes", &value()?, 1 << 16, 1 << 30).map_err(e)? as usize)
            }
            "details-timeout" => {
                self.details_timeout = Some(secs(
                    number("details-timeout", &value()?, 1, 86_400).map_err(e)?,
                ))
            }
            "max-addresses" => {
                self.max_addresses =
                    Some(number("max-addresses", &value()?, 1, 1 << 32).map_err(e)?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}
