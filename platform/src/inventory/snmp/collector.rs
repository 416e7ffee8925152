//! SNMP details of scanned hosts (spec §6: after discovery, every host that answers is
//! asked for its model, versions, interfaces, neighbours), as a pipeline collector.
//!
//! 1. `prepare`: one sweep per credential, all at once (each on its own socket, with
//!    that credential's port, timeout and retries), over only the hosts the credential
//!    matches: a community is never sent to a host its file does not include. A
//!    community credential is a GET of sysDescr in v2c, then in v1 where v2c is not
//!    answered; a v3 one is engine discovery.
//! 2. `collect`: each host that answered is read over one UDP socket shared by every
//!    worker ([`Mux`]), trying the credentials that answered in the host's matching
//!    order; the first that yields a record wins. A v3 user that the engine refuses
//!    fails fast with the reason (logged), and the next credential is tried.

use super::sweep::{self, Cred};
use super::{Client, Error, Mux, Target, V3Auth, device};
use crate::credentials::secret::Secret;
use crate::credentials::{Credential, Protocol, Scope, Store};
use crate::pipeline::Collector;
use ksocket_core::snmp::Version;
use ksocket_proto::records::{CollectError, ErrorKind, Section};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// One way to ask a device over SNMP: a credential file, or `--community`.
#[derive(Clone, Debug)]
pub struct SnmpCred {
    /// The file (or `--community`), never the secret.
    pub label: String,
    pub v3: Option<V3Auth>,
    pub community: Secret,
    pub port: u16,
    pub timeout: Duration,
    pub retries: u32,
    pub retry_interval: Duration,
    pub scope: Scope,
}

impl SnmpCred {
    /// `--community`: v2c (then v1), port 161, 1 s, one retry, for every address.
    pub fn community(c: &Secret) -> SnmpCred {
        SnmpCred {
            label: "--community".into(),
            v3: None,
            community: c.clone(),
            port: 161,
            timeout: Duration::from_secs(1),
            retries: 1,
            retry_interval: Duration::ZERO,
            scope: Scope::all(),
        }
    }

    /// An snmp credential file (parse checked its v3 protocols).
    pub fn file(path: &Path, s: &crate::credentials::Snmp, scope: &Scope) -> Option<SnmpCred> {
        let v3 = s.auth_data.v3().ok()?;
        Some(SnmpCred {
            label: path.display().to_string(),
            v3,
            community: s
                .auth_data
                .community
                .clone()
                .unwrap_or_else(|| Secret::new("")),
            port: s.port,
            timeout: Duration::from_secs_f64(s.timeout.clamp(0.05, 600.0)),
            retries: s.retries,
            retry_interval: Duration::from_secs_f64(s.retry_interval.clamp(0.0, 600.0)),
            scope: scope.clone(),
        })
    }

    pub fn applies(&self, ip: Ipv4Addr) -> bool {
        self.scope.applies(ip)
    }

    /// The target of one request to `ip` with this credential, in `version`.
    pub fn target(&self, ip: Ipv4Addr, version: Version) -> Target {
        Target {
            addr: SocketAddr::from((ip, self.port)),
            version,
            community: self.community.clone(),
            timeout: self.timeout,
            retries: self.retries,
            retry_interval: self.retry_interval,
            max_repetitions: 25,
            v3: self.v3.clone(),
        }
    }
}

/// The SNMP collector of a scan: its credentials (read once), and what the sweeps found.
pub struct SnmpCollector {
    creds: Vec<SnmpCred>,
    /// Per host: the credentials (indexes) that answered, in matching order, with the
    /// version each answered with.
    answered: Mutex<BTreeMap<Ipv4Addr, Vec<(usize, Version)>>>,
    /// One socket for every collection of this scan, opened on first use.
    mux: OnceLock<Result<Arc<Mux>, String>>,
}

impl SnmpCollector {
    /// `--community` when given, else every snmp credential file of the store.
    pub fn new(store: &Store, community: Option<&Secret>) -> SnmpCollector {
        let creds = match community {
            Some(c) => vec![SnmpCred::community(c)],
            None => store
                .of(Protocol::Snmp)
                .filter_map(|e| match &e.cred {
                    Credential::Snmp(s) => SnmpCred::file(&e.path, s, &e.scope),
                    _ => None,
                })
                .collect(),
        };
        SnmpCollector {
            creds,
            answered: Mutex::new(BTreeMap::new()),
            mux: OnceLock::new(),
        }
    }

    /// The credentials that apply to `ip`, in the order they are tried.
    pub fn matching(&self, ip: Ipv4Addr) -> impl Iterator<Item = &SnmpCred> {
        self.creds.iter().filter(move |c| c.applies(ip))
    }

    fn sweep_one(&self, c: &SnmpCred, ips: &[Ipv4Addr]) -> BTreeMap<Ipv4Addr, Version> {
        // Community credentials are tried with v2c and, where that is not answered,
        // v1 (old printers, UPSs and switches speak only v1); the version that
        // answered is the one the record is read with.
        let probes = match &c.v3 {
            Some(_) => vec![Cred::V3Discovery],
            None => vec![
                Cred::Community(Version::V2c, c.community.clone()),
                Cred::Community(Version::V1, c.community.clone()),
            ],
        };
        let o = sweep::Opts {
            port: c.port,
            timeout: c.timeout,
            retries: c.retries,
            ..sweep::Opts::default()
        };
        let mut got = BTreeMap::new();
        if let Err(e) = sweep::sweep(ips, &probes, &o, &mut |h| {
            let v = match probes[h.cred] {
                Cred::Community(v, _) => v,
                Cred::V3Discovery => Version::V2c,
            };
            got.insert(h.ip, v);
        }) {
            log::warn!("snmp sweep with {}: {e}", c.label);
        }
        log::info!(
            "snmp: {} of {} hosts answer credential {}",
            got.len(),
            ips.len(),
            c.label
        );
        got
    }
}

/// The class of an SNMP client error.
pub fn error_kind(e: &Error) -> ErrorKind {
    match e {
        Error::Timeout => ErrorKind::Timeout,
        Error::Status { .. } => ErrorKind::Protocol,
        Error::Io(_) => ErrorKind::Refused,
        Error::Usm(why) if why.contains("undecodable") || why.contains("another request") => {
            ErrorKind::Protocol
        }
        Error::Usm(_) => ErrorKind::Auth,
    }
}

impl Collector for SnmpCollector {
    fn name(&self) -> &'static str {
        "snmp"
    }

    fn applies(&self, ip: Ipv4Addr) -> bool {
        self.matching(ip).next().is_some()
    }

    fn prepare(&self, hosts: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
        let members: Vec<Vec<Ipv4Addr>> = self
            .creds
            .iter()
            .map(|c| hosts.iter().copied().filter(|ip| c.applies(*ip)).collect())
            .collect();
        let answered: Vec<BTreeMap<Ipv4Addr, Version>> = std::thread::scope(|s| {
            let jobs: Vec<_> = self
                .creds
                .iter()
                .zip(&members)
                .filter(|(_, ips)| !ips.is_empty())
                .map(|(c, ips)| s.spawn(move || self.sweep_one(c, ips)))
                .collect();
            jobs.into_iter()
                .map(|j| j.join().unwrap_or_default())
                .collect()
        });
        let mut by_host: BTreeMap<Ipv4Addr, Vec<(usize, Version)>> = BTreeMap::new();
        let used = members.iter().enumerate().filter(|(_, m)| !m.is_empty());
        for ((k, _), got) in used.zip(&answered) {
            for (ip, v) in got {
                by_host.entry(*ip).or_default().push((k, *v));
            }
        }
        let out = by_host.keys().copied().collect();
        if let Ok(mut a) = self.answered.lock() {
            *a = by_host;
        }
        out
    }

    fn collect(&self, ip: Ipv4Addr, deadline: Instant) -> Section {
        let list = self
            .answered
            .lock()
            .ok()
            .and_then(|a| a.get(&ip).cloned())
            .unwrap_or_default();
        let mux = self
            .mux
            .get_or_init(|| Mux::new().map_err(|e| e.to_string()));
        let mut client = match mux {
            Ok(m) => Client::with(m.clone()),
            Err(e) => {
                return Section::Snmp {
                    credential: String::new(),
                    result: Err(CollectError {
                        kind: ErrorKind::Refused,
                        message: format!("cannot open a UDP socket: {e}"),
                    }),
                };
            }
        };
        let mut last = None;
        for (k, version) in list {
            let c = &self.creds[k];
            if Instant::now() >= deadline && last.is_some() {
                break;
            }
            match device::collect(&mut client, &c.target(ip, version)) {
                Ok(d) => {
                    log::info!("host {ip}: SNMP details read with {}", c.label);
                    return Section::Snmp {
                        credential: c.label.clone(),
                        result: Ok(d),
                    };
                }
                Err(e) => {
                    log::warn!("host {ip}: SNMP with {}: {e}", c.label);
                    last = Some((c.label.clone(), e));
                }
            }
        }
        let (credential, e) = last.unwrap_or_else(|| (String::new(), Error::Timeout));
        Section::Snmp {
            credential,
            result: Err(CollectError {
                kind: error_kind(&e),
                message: e.to_string(),
            }),
        }
    }
}
