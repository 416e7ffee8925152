//! Device details of scanned hosts over SNMP (spec §6: after discovery, every host that
//! answers is asked for its model, versions, interfaces, neighbours).
//!
//! 1. One sweep per credential, all at once (each on its own socket, with that
//!    credential's port, timeout and retries), over only the hosts the credential
//!    matches: a community is never sent to a host its file does not include. A
//!    community credential is a GET of sysDescr in v2c, then in v1 where v2c is not
//!    answered; a v3 one is engine discovery.
//! 2. Each host that answered is collected by one of a few workers sharing one UDP
//!    socket ([`crate::inventory::snmp::Mux`]), trying the credentials that answered in the host's
//!    matching order; the first that yields a record wins. A v3 user that the engine
//!    refuses fails fast with the reason (logged), and the next credential is tried.

use crate::discover::SnmpCred;
use crate::inventory::snmp::device::{self, Device};
use crate::inventory::snmp::sweep::{self, Cred};
use crate::inventory::snmp::{Client, Mux, Target};
use ksocket_core::snmp::Version;
use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;

/// Most devices collected at once (each has one request in flight).
const WORKERS: usize = 8;

/// A host to collect, with the credentials that answered it (in its matching order)
/// and the SNMP version each answered with.
type Work = (Ipv4Addr, Vec<(SnmpCred, Version)>);

/// What came back for one host.
pub struct Collected {
    /// The credential that worked (its file, or `--community`), or the last one tried.
    pub credential: String,
    /// The record, or why no credential that answered the sweep could read it (say, a
    /// v3 user the engine does not know).
    pub device: Result<Device, String>,
}

/// Collects the device record of every host in `hosts` that answers one of its
/// credentials (given in matching order).
pub fn collect(hosts: &BTreeMap<Ipv4Addr, Vec<SnmpCred>>) -> BTreeMap<Ipv4Addr, Collected> {
    // Distinct credentials (by label), and the hosts each one matches.
    let mut creds: Vec<SnmpCred> = Vec::new();
    let mut members: Vec<Vec<Ipv4Addr>> = Vec::new();
    for (ip, list) in hosts {
        for c in list {
            let k = match creds.iter().position(|x| x.label == c.label) {
                Some(k) => k,
                None => {
                    creds.push(c.clone());
                    members.push(Vec::new());
                    creds.len() - 1
                }
            };
            members[k].push(*ip);
        }
    }
    if creds.is_empty() {
        return BTreeMap::new();
    }
    // 1. Who answers which credential.
    // Community credentials are tried with v2c and, where that is not answered, v1
    // (old printers, UPSs and switches speak only v1); the version that answered is
    // the one the record is read with.
    let answered: Vec<BTreeMap<Ipv4Addr, Version>> = std::thread::scope(|s| {
        let jobs: Vec<_> = creds
            .iter()
            .zip(&members)
            .map(|(c, ips)| {
                s.spawn(move || {
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
                })
            })
            .collect();
        jobs.into_iter()
            .map(|j| j.join().unwrap_or_default())
            .collect()
    });
    // 2. Collect each host that answered, credentials in its own order.
    let queue: Mutex<VecDeque<Work>> = Mutex::new(
        hosts
            .iter()
            .filter_map(|(ip, list)| {
                let ok: Vec<(SnmpCred, Version)> = list
                    .iter()
                    .filter_map(|c| {
                        let k = creds.iter().position(|x| x.label == c.label)?;
                        answered[k].get(ip).map(|v| (c.clone(), *v))
                    })
                    .collect();
                (!ok.is_empty()).then_some((*ip, ok))
            })
            .collect(),
    );
    let out = Mutex::new(BTreeMap::new());
    let mux = match Mux::new() {
        Ok(m) => m,
        Err(e) => {
            log::warn!("snmp: cannot open a UDP socket: {e}");
            return BTreeMap::new();
        }
    };
    let workers = queue.lock().map(|q| q.len()).unwrap_or(0).clamp(1, WORKERS);
    std::thread::scope(|s| {
        for _ in 0..workers {
            let mut client = Client::with(mux.clone());
            let (queue, out) = (&queue, &out);
            s.spawn(move || {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                    let Some((ip, list)) = next else { return };
                    let mut last = None;
                    for (c, version) in list {
                        let t = Target {
                            addr: SocketAddr::from((ip, c.port)),
                            version,
                            community: c.community.clone(),
                            timeout: c.timeout,
                            retries: c.retries,
                            retry_interval: c.retry_interval,
                            max_repetitions: 25,
                            v3: c.v3.clone(),
                        };
                        match device::collect(&mut client, &t) {
                            Ok(d) => {
                                log::info!("host {ip}: SNMP details read with {}", c.label);
                                last = Some(Collected {
                                    credential: c.label.clone(),
                                    device: Ok(d),
                                });
                                break;
                            }
                            Err(e) => {
                                log::warn!("host {ip}: SNMP with {}: {e}", c.label);
                                last = Some(Collected {
                                    credential: c.label.clone(),
                                    device: Err(e.to_string()),
                                });
                            }
                        }
                    }
                    if let (Some(c), Ok(mut o)) = (last, out.lock()) {
                        o.insert(ip, c);
                    }
                }
            });
        }
    });
    out.into_inner().unwrap_or_default()
}
