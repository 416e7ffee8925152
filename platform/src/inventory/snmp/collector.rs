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
use super::{Client, Error, Target, Transport, V3Auth, device};
use crate::credentials::secret::Secret;
use crate::credentials::{Credential, Protocol, Scope, Store};
use crate::limits::Limits;
use crate::pipeline::interface::{Collector, LocalFuture};
use ksocket_core::snmp::Version;
use ksocket_proto::records::{CollectError, ErrorKind, Section};
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::rc::Rc;
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
    answered: RefCell<BTreeMap<Ipv4Addr, Vec<(usize, Version)>>>,
    /// One socket for every collection of this scan, opened on first use.
    transport: OnceCell<Result<Rc<Transport>, String>>,
    limits: Limits,
}

impl SnmpCollector {
    /// `--community` when given, else every snmp credential file of the store.
    pub fn new(store: &Store, community: Option<&Secret>, limits: Limits) -> SnmpCollector {
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
            answered: RefCell::new(BTreeMap::new()),
            transport: OnceCell::new(),
            limits,
        }
    }

    /// The credentials that apply to `ip`, in the order they are tried.
    pub fn matching(&self, ip: Ipv4Addr) -> impl Iterator<Item = &SnmpCred> {
        self.creds.iter().filter(move |c| c.applies(ip))
    }

    async fn sweep_one(&self, c: &SnmpCred, ips: &[Ipv4Addr]) -> BTreeMap<Ipv4Addr, Version> {
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
        let mut hit = |h: &sweep::Hit| {
            let v = match probes[h.cred] {
                Cred::Community(v, _) => v,
                Cred::V3Discovery => Version::V2c,
            };
            got.insert(h.ip, v);
        };
        if let Err(e) = sweep::sweep(ips, &probes, &o, &mut hit).await {
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
        Error::Status { .. } | Error::NotSnmp(_) => ErrorKind::Protocol,
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

    fn applies(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v) => self.matching(v).next().is_some(),
            IpAddr::V6(_) => false,
        }
    }

    fn prepare<'a>(&'a self, hosts: &'a [IpAddr]) -> LocalFuture<'a, Vec<IpAddr>> {
        Box::pin(async move {
            let v4 = crate::pipeline::interface::ipv4_only(hosts);
            self.sweep_all(&v4)
                .await
                .into_iter()
                .map(IpAddr::V4)
                .collect()
        })
    }

    fn collect(&self, ip: IpAddr, deadline: Instant) -> LocalFuture<'_, Section> {
        match ip {
            IpAddr::V4(v) => Box::pin(self.collect_host(v, deadline)),
            IpAddr::V6(_) => {
                let s = self.timed_out("IPv6 hosts are not collected".into());
                Box::pin(async move { s })
            }
        }
    }

    fn timed_out(&self, why: String) -> Section {
        Section::Snmp {
            credential: String::new(),
            result: Err(CollectError {
                kind: ErrorKind::Timeout,
                message: why,
            }),
        }
    }
}

impl SnmpCollector {
    /// Sweeps every credential over the hosts it matches, all at once; remembers which
    /// answered each host.
    async fn sweep_all(&self, hosts: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
        let members: Vec<Vec<Ipv4Addr>> = self
            .creds
            .iter()
            .map(|c| hosts.iter().copied().filter(|ip| c.applies(*ip)).collect())
            .collect();
        let ex = smol::LocalExecutor::new();
        let sweeps: Vec<_> = self
            .creds
            .iter()
            .zip(&members)
            .enumerate()
            .filter(|(_, (_, ips))| !ips.is_empty())
            .map(|(k, (c, ips))| (k, ex.spawn(self.sweep_one(c, ips))))
            .collect();
        let mut by_host: BTreeMap<Ipv4Addr, Vec<(usize, Version)>> = BTreeMap::new();
        ex.run(async {
            for (k, task) in sweeps {
                for (ip, v) in task.await {
                    by_host.entry(ip).or_default().push((k, v));
                }
            }
        })
        .await;
        let out = by_host.keys().copied().collect();
        *self.answered.borrow_mut() = by_host;
        out
    }

    /// Reads the record of `ip` with the credentials that answered it, in order, by
    /// `deadline` (a record cut short says so in `incomplete`).
    async fn collect_host(&self, ip: Ipv4Addr, deadline: Instant) -> Section {
        let list = self.answered.borrow().get(&ip).cloned().unwrap_or_default();
        let transport = self
            .transport
            .get_or_init(|| Transport::new().map_err(|e| e.to_string()));
        let mut client = match transport {
            Ok(t) => Client::with(t.clone()),
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
            let limits = device::Limits {
                table_rows: self.limits.table_rows,
                table_bytes: self.limits.table_bytes,
                record_bytes: self.limits.table_bytes,
                deadline: Some(deadline),
            };
            if Instant::now() >= deadline {
                break;
            }
            match device::collect(&mut client, &c.target(ip, version), limits).await {
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
