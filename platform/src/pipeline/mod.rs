//! The scan pipeline, one for every front end (the command line today, the service
//! mode's operations next):
//!
//! validated [`ScanRequest`] → plan (pure) → discover (the engine driver) → host names
//! ([`discover::names`]) → match
//! credentials → collect details → records handed to a [`Sink`] as each host completes.
//!
//! Collectors share one small interface ([`Collector`]): which hosts they apply to, a
//! batch step over those (SNMP sweeps its credentials), and the collection of one host
//! with a deadline, giving that host's section of the record. SSH, WinRM and vSphere
//! slot in beside SNMP without touching the pipeline. Library code never prints:
//! messages for the operator go to the sink as [`Note`]s.

use crate::context::Context;
use crate::discover::{self, ScanRequest};
use crate::inventory::snmp::collector::SnmpCollector;
use crate::inventory::ssh::collector::{MAX_AUTH_FAILURES, SshCollector};
use crate::limits::Limits;
use ksocket_proto::records::{DetailsSummary, Host, PortProto, Section, Summary};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub mod interface;

pub use interface::{Collector, Note, Sink};

/// Hosts collected at once (each has one request in flight per collector).
pub const WORKERS: usize = 8;

/// How long after its deadline a collection is cut short from outside (a collector
/// stops by itself at its deadline, with what it has; this is the backstop).
const GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read interfaces and routes from the kernel (netlink): {0}")]
    Netlink(std::io::Error),
    #[error(transparent)]
    Discover(#[from] discover::DiscoverError),
    #[error("writing results: {0}")]
    Sink(std::io::Error),
}

/// Runs a whole scan: discovery, then details, every host handed to `sink` as soon as
/// its record is complete.
pub fn scan(ctx: &Context, req: &ScanRequest, sink: &mut dyn Sink) -> Result<Summary, ScanError> {
    log::info!(
        "scan starting: {} targets named, options {:?}",
        req.targets.len(),
        req
    );
    let snap = crate::sys::netlink::Snapshot::read().map_err(ScanError::Netlink)?;
    let snmp = SnmpCollector::new(&ctx.credentials, req.community.as_ref(), req.limits);
    for p in &ctx.credentials.problems {
        sink.note(Note::warn(format!("credential file skipped: {p}")));
    }
    // The default gateway's ARP table over SNMP (spec §6): its hosts become targets of
    // a scan without named targets; with named ones, only when asked for.
    let gw = if req.targets.is_empty() && req.targets6.is_empty() || req.gateway_arp {
        discover::gateway::arp_tables(req, &snap, &snmp, sink)
    } else {
        discover::gateway::GatewayTables::default()
    };
    let mut found = discover::discover(req, &snap, &gw, sink)?;
    // Names of every live host at once, in a bounded time (discover::names).
    if req.names
        && !sink.cancelled()
        && let Err(e) = discover::names::name_hosts(&mut found.hosts, &snap, req.engine.rate)
    {
        sink.note(Note::warn(format!("host names not looked up: {e}")));
    }
    let mut summary = found.summary;
    let mut ssh = ssh_collector(ctx);
    if !found.swept.is_empty() {
        // SSH only where the sweep found its port open (ports it did not sweep are
        // still probed by the collector).
        let open = found
            .hosts
            .iter()
            .filter_map(|(ip, h)| match ip {
                IpAddr::V4(v) => {
                    let tcp = h.ports.iter().filter(|p| p.proto == PortProto::Tcp);
                    Some((*v, tcp.map(|p| p.port).collect()))
                }
                IpAddr::V6(_) => None,
            })
            .collect();
        ssh = ssh.swept(found.swept.clone(), open);
    }
    // SNMP skips the hosts whose UDP 161 refused the sweep's probe (ICMP port
    // unreachable); silence proves nothing (an agent with another community than the
    // probe's `public` does not answer it), so silent hosts are still asked.
    let snmp = Skipping {
        inner: &snmp,
        skip: found.snmp_refused,
    };
    let collectors: Vec<&dyn Collector> = if req.details {
        vec![&snmp, &ssh]
    } else {
        vec![]
    };
    summary.details =
        collect(found.hosts, &collectors, &req.limits, WORKERS, sink).map_err(ScanError::Sink)?;
    log::info!(
        "scan done: {} hosts up, {} addresses probed, {} sent, {:.2} s",
        summary.hosts,
        summary.probed,
        summary.sent,
        summary.discovery_seconds
    );
    Ok(summary)
}

/// A collector that does not apply to some hosts.
struct Skipping<'a> {
    inner: &'a dyn Collector,
    skip: std::collections::BTreeSet<IpAddr>,
}

impl Collector for Skipping<'_> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn applies(&self, ip: IpAddr) -> bool {
        !self.skip.contains(&ip) && self.inner.applies(ip)
    }
    fn prepare<'a>(&'a self, hosts: &'a [IpAddr]) -> interface::LocalFuture<'a, Vec<IpAddr>> {
        self.inner.prepare(hosts)
    }
    fn collect(&self, ip: IpAddr, deadline: Instant) -> interface::LocalFuture<'_, Section> {
        self.inner.collect(ip, deadline)
    }
    fn timed_out(&self, why: String) -> Section {
        self.inner.timed_out(why)
    }
}

/// The SSH collector of a scan or a service-mode `collect`: every ssh credential file,
/// and only hosts whose SSH port answers.
pub fn ssh_collector(ctx: &Context) -> SshCollector {
    SshCollector::new(&ctx.credentials, MAX_AUTH_FAILURES).probing_ports()
}

/// Collects the details of `hosts` with every collector that applies, handing each
/// host to `sink` once all of its collectors are done: hosts no collector applies to
/// at once, the others as they complete. A slow host holds back only itself; each has
/// `limits.host_timeout`, and the whole phase `limits.details_timeout` (hosts not
/// collected by then say so).
pub fn collect(
    hosts: BTreeMap<IpAddr, Host>,
    collectors: &[&dyn Collector],
    limits: &Limits,
    workers: usize,
    sink: &mut dyn Sink,
) -> std::io::Result<Vec<DetailsSummary>> {
    let t0 = Instant::now();
    let phase_end = t0 + limits.details_timeout;
    let ips: Vec<IpAddr> = hosts.keys().copied().collect();
    let matched: Vec<Vec<IpAddr>> = collectors
        .iter()
        .map(|c| ips.iter().copied().filter(|ip| c.applies(*ip)).collect())
        .collect();
    let state = RefCell::new(Details {
        hosts,
        pending: BTreeMap::new(),
        read: vec![0; collectors.len()],
        sink,
        error: None,
    });
    let queue = RefCell::new(Vec::new().into_iter());
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(async {
        // Batch steps of all collectors at once.
        let steps: Vec<_> = collectors
            .iter()
            .zip(&matched)
            .map(|(c, m)| {
                ex.spawn(async move {
                    if m.is_empty() {
                        vec![]
                    } else {
                        c.prepare(m).await
                    }
                })
            })
            .collect();
        let self_queue = &queue;
        let mut queue = Vec::new();
        for (k, step) in steps.into_iter().enumerate() {
            for ip in step.await {
                queue.push((ip, k));
            }
        }
        queue.sort();
        state.borrow_mut().start(&ips, &queue);
        let workers = state.borrow().pending.len().clamp(1, workers.max(1));
        *self_queue.borrow_mut() = queue.into_iter();
        let queue = self_queue;
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let state = &state;
                ex.spawn(async move {
                    loop {
                        let next = queue.borrow_mut().next();
                        let Some((ip, k)) = next else { return };
                        if state.borrow().error.is_some() {
                            return;
                        }
                        let c = collectors[k];
                        let now = Instant::now();
                        let section = if now >= phase_end {
                            c.timed_out(format!(
                                "not collected: the details phase's {} s were up",
                                limits.details_timeout.as_secs()
                            ))
                        } else {
                            let deadline = (now + limits.host_timeout).min(phase_end);
                            let cut = async {
                                smol::Timer::at(deadline + GRACE).await;
                                c.timed_out(format!(
                                    "cut short {} s after its time limit",
                                    GRACE.as_secs()
                                ))
                            };
                            smol::future::or(c.collect(ip, deadline), cut).await
                        };
                        state.borrow_mut().done(ip, k, section);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
    }));
    drop(ex);
    let state = state.into_inner();
    if let Some(e) = state.error {
        return Err(e);
    }
    let seconds = t0.elapsed().as_secs_f64();
    Ok(collectors
        .iter()
        .enumerate()
        .filter(|(k, _)| !matched[*k].is_empty())
        .map(|(k, c)| DetailsSummary {
            collector: c.name().to_string(),
            matched: matched[k].len() as u64,
            read: state.read[k],
            seconds,
        })
        .collect())
}

/// The hosts of a details phase: those still waiting for collectors, and the sink
/// they go to when done.
struct Details<'s> {
    hosts: BTreeMap<IpAddr, Host>,
    /// Collectors still to finish, per host.
    pending: BTreeMap<IpAddr, usize>,
    /// Sections read, per collector.
    read: Vec<u64>,
    sink: &'s mut dyn Sink,
    /// The sink failed (a closed pipe): stop.
    error: Option<std::io::Error>,
}

impl Details<'_> {
    /// Counts what each host waits for; hosts with nothing to collect are complete.
    fn start(&mut self, ips: &[IpAddr], queue: &[(IpAddr, usize)]) {
        for (ip, _) in queue.iter().filter(|(ip, _)| self.hosts.contains_key(ip)) {
            *self.pending.entry(*ip).or_default() += 1;
        }
        for ip in ips {
            if !self.pending.contains_key(ip)
                && let Some(h) = self.hosts.remove(ip)
            {
                self.emit(h);
            }
        }
    }

    fn done(&mut self, ip: IpAddr, k: usize, section: Section) {
        let Some(h) = self.hosts.get_mut(&ip) else {
            return;
        };
        self.read[k] += u64::from(section.is_ok());
        h.apply(section);
        let left = self.pending.get_mut(&ip).map(|n| {
            *n -= 1;
            *n
        });
        if left == Some(0)
            && let Some(h) = self.hosts.remove(&ip)
        {
            self.emit(h);
        }
    }

    fn emit(&mut self, h: Host) {
        if self.error.is_none()
            && let Err(e) = self.sink.host(h)
        {
            self.error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::interface::LocalFuture;
    use super::*;
    use ksocket_proto::records::snmp::Device;
    use std::net::Ipv4Addr;

    fn last(ip: IpAddr) -> u8 {
        match ip {
            IpAddr::V4(v) => v.octets()[3],
            IpAddr::V6(v) => v.octets()[15],
        }
    }

    /// A collector that applies to every host but .1, takes `slow` for .2 and 10 ms
    /// for the others.
    struct Fake {
        slow: Duration,
    }

    impl Collector for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn applies(&self, ip: IpAddr) -> bool {
            last(ip) != 1
        }
        fn prepare<'a>(&'a self, hosts: &'a [IpAddr]) -> LocalFuture<'a, Vec<IpAddr>> {
            Box::pin(async { hosts.to_vec() })
        }
        fn timed_out(&self, why: String) -> Section {
            Section::Snmp {
                credential: "fake".into(),
                result: Err(ksocket_proto::records::CollectError {
                    kind: ksocket_proto::records::ErrorKind::Timeout,
                    message: why,
                }),
            }
        }
        fn collect(&self, ip: IpAddr, _deadline: Instant) -> LocalFuture<'_, Section> {
            let d = if last(ip) == 2 {
                self.slow
            } else {
                Duration::from_millis(10)
            };
            Box::pin(async move {
                smol::Timer::after(d).await;
                Section::Snmp {
                    credential: "fake".into(),
                    result: Ok(Device {
                        sys_name: Some(ip.to_string()),
                        ..Device::default()
                    }),
                }
            })
        }
    }

    #[derive(Default)]
    struct Memory {
        hosts: Vec<(Instant, Host)>,
    }

    impl Sink for Memory {
        fn host(&mut self, h: Host) -> std::io::Result<()> {
            self.hosts.push((Instant::now(), h));
            Ok(())
        }
        fn note(&mut self, _n: Note) {}
    }

    #[test]
    fn records_stream_out_as_hosts_complete_and_a_slow_host_holds_back_only_itself() {
        let hosts: BTreeMap<IpAddr, Host> = (1..=20)
            .map(|i| {
                let ip = IpAddr::V4(Ipv4Addr::new(198, 18, 0, i));
                (ip, Host::new(ip))
            })
            .collect();
        let fake = Fake {
            slow: Duration::from_millis(1500),
        };
        let mut sink = Memory::default();
        let t0 = Instant::now();
        let limits = Limits::default();
        let s = collect(hosts, &[&fake], &limits, 4, &mut sink).unwrap();
        assert_eq!(sink.hosts.len(), 20);
        // .1 has no collector: out first, at once.
        assert_eq!(sink.hosts[0].1.ip, Ipv4Addr::new(198, 18, 0, 1));
        assert!(sink.hosts[0].1.snmp.is_none());
        // The slow host is last, and every other host was out well before it.
        let (slow_at, slow) = &sink.hosts[19];
        assert_eq!(slow.ip, Ipv4Addr::new(198, 18, 0, 2));
        let others_done = sink.hosts[18].0;
        assert!(
            *slow_at - others_done > Duration::from_millis(1000),
            "the others waited for the slow host"
        );
        assert!(others_done - t0 < Duration::from_millis(1000));
        assert_eq!(
            slow.snmp.as_ref().unwrap().sys_name.as_deref(),
            Some("198.18.0.2")
        );
        assert_eq!((s[0].matched, s[0].read), (19, 19));
    }
}
