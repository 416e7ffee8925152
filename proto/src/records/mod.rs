//! Result records: one [`Host`] per live host, a [`Summary`] per scan.
//!
//! JSON field names are camelCase and stable; a record carries its [`SCHEMA`] version
//! so that a reader (the controller) knows what it holds. A new field is optional
//! and bumps nothing; a field whose meaning changes bumps [`SCHEMA`], and readers keep
//! reading every version they have stored.

pub mod snmp;
pub mod ssh;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The version of the record layout this crate writes.
pub const SCHEMA: u32 = 1;

/// One live host, merged from every source that saw it, with one optional section per
/// collector that read it (`snmp` today; `ssh`, `winrm`, ... later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Host {
    pub schema: u32,
    /// The primary address: its IPv4 address if it has one, else its global IPv6
    /// address (else its link-local one).
    pub ip: IpAddr,
    /// Every address the host was seen at, IPv4 first, the primary one included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpAddr>,
    /// Its names, each with where it came from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<HostName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
    /// Who made its network interface (the IEEE registry's organisation for the MAC's
    /// prefix), or what kind of MAC it is (locally administered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_vendor: Option<String>,
    /// Its open ports among those probed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<OpenPort>,
    /// Every way the host was seen, in the order first seen.
    pub via: Vec<Provenance>,
    /// Round-trip time of its first answer, in milliseconds (three decimals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// The interface it was reached through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
    /// The credential (its file, or `--community`; never its secret) that read `snmp`,
    /// or the last one tried when `snmpError` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp_credential: Option<String>,
    /// Boxed, like `ssh`: a scan holds every host at once, most of them without
    /// either, and inline they made each host 1.2 KB instead of about 330 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp: Option<Box<snmp::Device>>,
    /// Why the SNMP record could not be read (the message; `snmpErrorKind` its class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp_error_kind: Option<ErrorKind>,
    /// The ssh credential file that logged in (never its secret), or the last tried
    /// when `sshError` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_credential: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<Box<ssh::Inventory>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_error_kind: Option<ErrorKind>,
    /// Credentials tried before the outcome that did not log in, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_attempts: Vec<ssh::Attempt>,
}

impl Host {
    /// A host seen at `ip`, with nothing else known yet.
    pub fn new(ip: impl Into<IpAddr>) -> Host {
        let ip = ip.into();
        Host {
            schema: SCHEMA,
            ip,
            addresses: vec![ip],
            names: Vec::new(),
            mac: None,
            mac_vendor: None,
            ports: Vec::new(),
            via: Vec::new(),
            rtt_ms: None,
            iface: None,
            snmp_credential: None,
            snmp: None,
            snmp_error: None,
            snmp_error_kind: None,
            ssh_credential: None,
            ssh: None,
            ssh_error: None,
            ssh_error_kind: None,
            ssh_attempts: Vec::new(),
        }
    }

    /// Adds a way the host was seen, once.
    pub fn seen(&mut self, p: Provenance) {
        if !self.via.contains(&p) {
            self.via.push(p);
        }
    }

    /// Adds an address, once: IPv4 addresses before IPv6 ones, the order of finding
    /// otherwise. The primary address becomes the IPv4 one when the host has one, else
    /// the first global IPv6 address.
    pub fn add_address(&mut self, a: IpAddr) {
        if self.addresses.contains(&a) {
            return;
        }
        let at = match a {
            IpAddr::V4(_) => self.addresses.iter().take_while(|x| x.is_ipv4()).count(),
            IpAddr::V6(_) => self.addresses.len(),
        };
        self.addresses.insert(at, a);
        self.ip = primary(&self.addresses).unwrap_or(self.ip);
    }

    /// Adds a name, once per name and source.
    pub fn add_name(&mut self, name: &str, source: NameSource) {
        if !self
            .names
            .iter()
            .any(|n| n.source == source && n.name.eq_ignore_ascii_case(name))
        {
            self.names.push(HostName {
                name: name.to_string(),
                source,
            });
        }
    }

    /// Sets the round-trip time (kept to the microsecond, as printed).
    pub fn set_rtt(&mut self, rtt: std::time::Duration) {
        self.rtt_ms = Some((rtt.as_secs_f64() * 1e6).round() / 1e3);
    }

    /// Records what a collector read from the host.
    pub fn apply(&mut self, s: Section) {
        match s {
            Section::Snmp { credential, result } => {
                self.snmp_credential = Some(credential);
                match result {
                    Ok(d) => self.snmp = Some(Box::new(d)),
                    Err(e) => {
                        self.snmp_error = Some(e.message);
                        self.snmp_error_kind = Some(e.kind);
                    }
                }
            }
            Section::Ssh {
                credential,
                attempts,
                result,
            } => {
                self.ssh_credential = credential;
                self.ssh_attempts = attempts;
                match result {
                    Ok(i) => self.ssh = Some(Box::new(i)),
                    Err(e) => {
                        self.ssh_error = Some(e.message);
                        self.ssh_error_kind = Some(e.kind);
                    }
                }
            }
        }
    }

    /// The SNMP outcome, when a collector read (or tried to read) the host.
    pub fn snmp_result(&self) -> Option<Result<&snmp::Device, CollectError>> {
        match (&self.snmp, &self.snmp_error) {
            (Some(d), _) => Some(Ok(d)),
            (None, Some(m)) => Some(Err(CollectError {
                kind: self.snmp_error_kind.unwrap_or(ErrorKind::Protocol),
                message: m.clone(),
            })),
            (None, None) => None,
        }
    }
}

/// The primary address among `addresses`: the first IPv4 one, else the first global
/// IPv6 one, else the first.
pub fn primary(addresses: &[IpAddr]) -> Option<IpAddr> {
    let global6 = |a: &&IpAddr| match a {
        IpAddr::V6(v) => !v.is_unicast_link_local() && !v.is_loopback(),
        IpAddr::V4(_) => false,
    };
    addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addresses.iter().find(global6))
        .or(addresses.first())
        .copied()
}

/// A name of a host and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostName {
    pub name: String,
    pub source: NameSource,
}

/// Where a host's name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NameSource {
    /// Reverse DNS (a PTR record) from the system's resolvers.
    Ptr,
    /// NetBIOS node status (UDP 137).
    Netbios,
    /// Multicast DNS (a reverse lookup answered by the host).
    Mdns,
}

/// An open port of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPort {
    pub proto: PortProto,
    pub port: u16,
    /// The SSH identification line, when the port speaks SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// The HTTP `Server` header, when the port speaks HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

/// The transport of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortProto {
    Tcp,
    Udp,
}

/// What one collector read from one host: its section of the host record.
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    Snmp {
        /// The credential that read it (or the last tried).
        credential: String,
        result: Result<snmp::Device, CollectError>,
    },
    Ssh {
        /// The credential that logged in (or the last tried; none when no credential
        /// could be tried, e.g. an unreachable port).
        credential: Option<String>,
        /// Credentials that did not log in before the outcome.
        attempts: Vec<ssh::Attempt>,
        result: Result<ssh::Inventory, CollectError>,
    },
}

impl Section {
    /// Whether the collector read the host.
    pub fn is_ok(&self) -> bool {
        match self {
            Section::Snmp { result, .. } => result.is_ok(),
            Section::Ssh { result, .. } => result.is_ok(),
        }
    }
}

/// Why a collection failed, in a class a program can act on and a message a person
/// can read (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectError {
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Display for CollectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The class of a collection error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// No answer in time.
    Timeout,
    /// The host refused (a closed port, an ICMP error, a socket error).
    Refused,
    /// The credential was refused (wrong community shows as a timeout; wrong v3 user,
    /// password or key is this).
    Auth,
    /// The host answered with something wrong (an error status, garbage).
    Protocol,
    /// A limit (time, rows, bytes) ended the collection before it was whole.
    Incomplete,
    /// An operation was cancelled by the controller.
    Cancelled,
    /// An operation was cut short by the agent's restart (its results so far are kept).
    Interrupted,
    /// An operation could not run (a bad parameter, no permission, a full queue).
    Failed,
    /// The host's SSH key is not the one known or pinned for it: nothing was sent.
    HostKey,
}

/// How a host was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provenance {
    /// An ARP reply to our request.
    Arp,
    /// An ICMP echo reply.
    Icmp,
    /// A TCP answer (SYN-ACK or RST) on this port.
    Tcp(u16),
    /// An SNMP answer to our probe.
    Snmp,
    /// An ICMP error (port unreachable) about one of our probes, from the host.
    IcmpUnreach,
    /// The kernel's neighbour table (a recently confirmed entry on a scanned link).
    Neigh,
    /// The default gateway's ARP table, read over SNMP.
    SnmpArp,
    /// An IPv6 Neighbor Advertisement answering our solicitation.
    Ndp,
    /// An ICMPv6 echo reply.
    Icmp6,
    /// An MLD report (the host said which multicast groups it listens to).
    Mld,
    /// The default gateway's IPv6 neighbour table (ipNetToPhysicalTable), over SNMP.
    SnmpNd,
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::Arp => f.write_str("arp"),
            Provenance::Icmp => f.write_str("icmp"),
            Provenance::Tcp(p) => write!(f, "tcp/{p}"),
            Provenance::Snmp => f.write_str("snmp"),
            Provenance::IcmpUnreach => f.write_str("icmp-unreach"),
            Provenance::Neigh => f.write_str("neigh"),
            Provenance::SnmpArp => f.write_str("snmp-arp"),
            Provenance::Ndp => f.write_str("ndp"),
            Provenance::Icmp6 => f.write_str("icmp6"),
            Provenance::Mld => f.write_str("mld"),
            Provenance::SnmpNd => f.write_str("snmp-nd"),
        }
    }
}

impl FromStr for Provenance {
    type Err = String;
    fn from_str(s: &str) -> Result<Provenance, String> {
        Ok(match s {
            "arp" => Provenance::Arp,
            "icmp" => Provenance::Icmp,
            "snmp" => Provenance::Snmp,
            "icmp-unreach" => Provenance::IcmpUnreach,
            "neigh" => Provenance::Neigh,
            "snmp-arp" => Provenance::SnmpArp,
            "ndp" => Provenance::Ndp,
            "icmp6" => Provenance::Icmp6,
            "mld" => Provenance::Mld,
            "snmp-nd" => Provenance::SnmpNd,
            _ => match s.strip_prefix("tcp/").map(str::parse) {
                Some(Ok(p)) => Provenance::Tcp(p),
                _ => return Err(format!("unknown provenance `{s}`")),
            },
        })
    }
}

impl Serialize for Provenance {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Provenance {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Provenance, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A MAC address, written `aa:bb:cc:dd:ee:ff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> Result<Mac, String> {
        let mut m = [0u8; 6];
        let mut parts = s.split(':');
        for b in &mut m {
            *b = parts
                .next()
                .filter(|p| p.len() == 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("`{s}` is not a MAC address"))?;
        }
        if parts.next().is_some() {
            return Err(format!("`{s}` is not a MAC address"));
        }
        Ok(Mac(m))
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Mac, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What a scan did, once it is over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub schema: u32,
    /// Live hosts found.
    pub hosts: u64,
    /// Addresses probed.
    pub probed: u64,
    /// Packets sent (probes, when unprivileged).
    pub sent: u64,
    /// Retransmissions (`None` when unprivileged: the kernel's own are not seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    /// Silent addresses that were probed again.
    pub retried: u64,
    /// Targets no route reaches.
    pub no_route: u64,
    /// Discovery without raw sockets (ICMP datagram sockets and TCP connect()).
    pub unprivileged: bool,
    /// Seconds of discovery.
    pub discovery_seconds: f64,
    /// Hosts a collector was asked to read, and how many it read, per collector.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<DetailsSummary>,
    /// The checks of a `diagnose` operation (`ksocket diagnostics system config`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
}

/// One check of a diagnosis: what was checked, whether it passed, and a detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub what: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What one collector did in a scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailsSummary {
    /// `snmp`, later `ssh`, ...
    pub collector: String,
    /// Hosts some credential of this collector matched.
    pub matched: u64,
    /// Hosts whose section was read.
    pub read: u64,
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_without_details_stays_small() {
        // A /16 of live hosts is 65536 of them in memory at once (docs/performance.md).
        let size = std::mem::size_of::<Host>();
        assert!(
            size <= 400,
            "Host is {size} bytes: box what most hosts do not have"
        );
    }

    #[test]
    fn a_host_round_trips_with_todays_field_names() {
        let mut h = Host::new(std::net::Ipv4Addr::new(198, 18, 0, 7));
        h.mac = Some(Mac([0, 0x1b, 0x21, 0xaa, 0xbb, 0xcc]));
        h.seen(Provenance::Arp);
        h.seen(Provenance::Tcp(22));
        h.seen(Provenance::Arp);
        h.set_rtt(std::time::Duration::from_micros(1234));
        h.iface = Some("eth0".into());
        h.apply(Section::Snmp {
            credential: "snmp/10-v3.toml".into(),
            result: Err(CollectError {
                kind: ErrorKind::Auth,
                message: "wrong authentication password (wrong digest)".into(),
            }),
        });
        let j = serde_json::to_string(&h).unwrap();
        assert_eq!(
            j,
            "{\"schema\":1,\"ip\":\"198.18.0.7\",\"addresses\":[\"198.18.0.7\"],\"mac\":\"00:1b:21:aa:bb:cc\",\"via\":[\"arp\",\"tcp/22\"],\
             \"rttMs\":1.234,\"iface\":\"eth0\",\"snmpCredential\":\"snmp/10-v3.toml\",\
             \"snmpError\":\"wrong authentication password (wrong digest)\",\"snmpErrorKind\":\"auth\"}"
        );
        let back: Host = serde_json::from_str(&j).unwrap();
        assert_eq!(back, h);
        assert_eq!(
            back.snmp_result().unwrap().unwrap_err().kind,
            ErrorKind::Auth
        );
    }

    #[test]
    fn the_primary_address_is_the_ipv4_one_else_a_global_ipv6_one() {
        let ll: IpAddr = "fe80::1".parse().unwrap();
        let g: IpAddr = "2001:2::7".parse().unwrap();
        let v4: IpAddr = "198.18.0.7".parse().unwrap();
        let mut h = Host::new(ll);
        assert_eq!(h.ip, ll);
        h.add_address(g);
        assert_eq!(h.ip, g);
        h.add_address(v4);
        h.add_address(g);
        assert_eq!(h.ip, v4);
        assert_eq!(h.addresses, [v4, ll, g]);
        h.add_name("printer.lab", NameSource::Mdns);
        h.add_name("PRINTER.lab", NameSource::Mdns);
        h.add_name("printer.lab", NameSource::Ptr);
        assert_eq!(h.names.len(), 2);
        let j = serde_json::to_string(&h.names).unwrap();
        assert_eq!(
            j,
            r#"[{"name":"printer.lab","source":"mdns"},{"name":"printer.lab","source":"ptr"}]"#
        );
        for p in ["ndp", "icmp6", "mld", "snmp-nd"] {
            assert_eq!(p.parse::<Provenance>().unwrap().to_string(), p);
        }
    }

    #[test]
    fn provenance_and_mac_parse_what_they_print() {
        for p in [
            Provenance::Arp,
            Provenance::Icmp,
            Provenance::Tcp(5985),
            Provenance::Snmp,
            Provenance::IcmpUnreach,
            Provenance::Neigh,
            Provenance::SnmpArp,
        ] {
            assert_eq!(p.to_string().parse::<Provenance>(), Ok(p));
        }
        assert!("tcp/x".parse::<Provenance>().is_err());
        assert!("00:11:22:33:44".parse::<Mac>().is_err());
        assert!("00:11:22:33:44:55:66".parse::<Mac>().is_err());
        assert_eq!(
            "0a:0B:22:33:44:55".parse::<Mac>(),
            Ok(Mac([10, 11, 0x22, 0x33, 0x44, 0x55]))
        );
    }

    #[test]
    fn unknown_fields_of_later_schemas_are_ignored() {
        let j = "{\"schema\":2,\"ip\":\"198.18.0.1\",\"via\":[\"icmp\"],\"aliases\":[\"a\"]}";
        let h: Host = serde_json::from_str(j).unwrap();
        assert_eq!((h.schema, h.via.as_slice()), (2, &[Provenance::Icmp][..]));
    }
}
