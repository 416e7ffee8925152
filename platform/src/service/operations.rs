//! Operations from the controller: validated into the same [`ScanRequest`] the command
//! line builds, queued (`connect.maxOperations`), run (`connect.maxRunningOperations`
//! at once, each on its own thread through the one scan pipeline), their records cut
//! into chunks and written to the spool, which the connection sends.

use super::Shared;
use crate::config::Config;
use crate::discover::ScanRequest;
use crate::pipeline::interface::Progress;
use crate::pipeline::{self, Note, Sink};
use ksocket_proto::messages::{AgentMessage, Operation};
use ksocket_proto::records::{CheckResult, CollectError, ErrorKind, Host, SCHEMA, Summary};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Hosts in one chunk at most, and how long a host waits for others to join it.
const CHUNK_HOSTS: usize = 200;
const CHUNK_BYTES: usize = 256 * 1024;
const CHUNK_WAIT: Duration = Duration::from_millis(250);
/// Progress is sent at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// What the operation threads tell the connection.
#[derive(Debug)]
pub enum Event {
    /// Results were spooled: send them.
    Spooled,
    Progress(AgentMessage),
    /// An operation's thread ended (its `done`/`failed` is spooled).
    Finished(String),
}

/// A validated operation, ready to run.
#[derive(Debug, Clone)]
pub enum Work {
    Scan(Box<ScanRequest>),
    Collect(Vec<Ipv4Addr>, Box<ScanRequest>),
    Diagnose,
}

fn failed(message: String) -> CollectError {
    CollectError {
        kind: ErrorKind::Failed,
        message,
    }
}

/// The [`Work`] of an operation, or why it cannot run.
pub fn validate(op: &Operation, config: &Config) -> Result<Work, CollectError> {
    let mut r = ScanRequest {
        limits: config.limits.get(),
        ..ScanRequest::default()
    };
    match op {
        Operation::Scan {
            targets,
            excludes,
            details,
            ports,
            rate,
            names,
            sweep,
        } => {
            for t in targets {
                r.add_target(t).map_err(failed)?;
            }
            if !excludes.is_empty() {
                r.add_excludes(&excludes.join(","))
                    .map_err(|e| failed(e.to_string()))?;
            }
            if let Some(d) = details {
                r.details = *d;
            }
            if let Some(n) = names {
                r.names = *n;
            }
            if let Some(s) = sweep {
                r.sweep = *s;
            }
            if let Some(p) = ports {
                let v: Vec<String> = p.iter().map(u16::to_string).collect();
                r.set_ports(&v.join(","))
                    .map_err(|e| failed(e.to_string()))?;
            }
            if let Some(rate) = rate {
                if !(1..=10_000_000).contains(rate) {
                    return Err(failed(format!("rate {rate} is not 1 to 10000000")));
                }
                r.engine.rate = *rate;
                r.sweep_rate = *rate;
            }
            Ok(Work::Scan(Box::new(r)))
        }
        Operation::Collect { hosts, protocols } => {
            if let Some(p) = protocols.iter().find(|p| p.as_str() != "snmp") {
                return Err(failed(format!(
                    "protocol `{p}` is not collected by this agent (it reads snmp)"
                )));
            }
            // Addresses, CIDRs or ranges, as `ksocket scan` takes them; special
            // addresses (loopback, multicast, ...) are left out, at most 65536 in all.
            let mut ips = Vec::new();
            for h in hosts {
                let range: ksocket_core::addr::Range =
                    h.parse().map_err(|e| failed(format!("host `{h}`: {e}")))?;
                let n = (range.last - range.first) as usize + 1;
                if ips.len() + n > 65_536 {
                    return Err(failed("collect takes at most 65536 addresses".into()));
                }
                ips.extend(
                    (range.first..=range.last)
                        .filter(|ip| crate::discover::request::special(*ip).is_none())
                        .map(Ipv4Addr::from),
                );
            }
            if ips.is_empty() {
                return Err(failed(
                    "collect needs at least one address that is not loopback, multicast or reserved"
                        .into(),
                ));
            }
            r.details = true;
            Ok(Work::Collect(ips, Box::new(r)))
        }
        Operation::Diagnose => Ok(Work::Diagnose),
    }
}

/// The operations of this process: queued, running, and their cancel switches.
pub struct Ops {
    max_queued: usize,
    max_running: usize,
    queue: VecDeque<(String, Work)>,
    running: HashMap<String, Arc<AtomicBool>>,
}

impl Ops {
    pub fn new(max_queued: u32, max_running: u32) -> Ops {
        Ops {
            max_queued: max_queued.max(1) as usize,
            max_running: max_running.max(1) as usize,
            queue: VecDeque::new(),
            running: HashMap::new(),
        }
    }

    /// Operations queued and running.
    pub fn load(&self) -> (usize, usize) {
        (self.queue.len(), self.running.len())
    }

    /// An operation arrived: the answer to send, if any. A known id is answered from
    /// what is queued, running or spooled, never run again.
    pub fn receive(
        &mut self,
        id: &str,
        op: &Operation,
        shared: &Arc<Shared>,
        config: &Config,
    ) -> Option<AgentMessage> {
        if self.running.contains_key(id) {
            return Some(AgentMessage::Accepted {
                op: id.into(),
                running: true,
            });
        }
        if self.queue.iter().any(|(q, _)| q == id) {
            return Some(AgentMessage::Accepted {
                op: id.into(),
                running: false,
            });
        }
        if shared.spool().knows(id) {
            log::info!("operation {id} again: already run, its results are in the spool");
            return None;
        }
        let refuse = |error| {
            Some(AgentMessage::Refused {
                op: id.into(),
                error,
            })
        };
        if self.queue.len() + self.running.len() >= self.max_queued {
            log::warn!(
                "operation {id} refused: {} operations queued or running (connect.maxOperations)",
                self.max_queued
            );
            return refuse(failed(format!(
                "the agent's queue is full: {} operations (connect.maxOperations)",
                self.max_queued
            )));
        }
        let work = match validate(op, config) {
            Ok(w) => w,
            Err(e) => {
                log::warn!("operation {id} refused: {}", e.message);
                return refuse(e);
            }
        };
        let json = serde_json::to_string(op).unwrap_or_default();
        if let Err(e) = shared.spool().open_op(id, &json) {
            log::error!("operation {id} refused: cannot write the spool: {e}");
            return refuse(failed(format!("the agent cannot write its spool: {e}")));
        }
        self.queue.push_back((id.to_string(), work));
        let running = self.start_next(shared, config).contains(&id.to_string());
        log::info!(
            "operation {id} accepted ({})",
            if running { "running" } else { "queued" }
        );
        Some(AgentMessage::Accepted {
            op: id.into(),
            running,
        })
    }

    /// Starts queued operations while there is room; returns those started.
    pub fn start_next(&mut self, shared: &Arc<Shared>, config: &Config) -> Vec<String> {
        let mut started = Vec::new();
        while self.running.len() < self.max_running {
            let Some((id, work)) = self.queue.pop_front() else {
                break;
            };
            let cancel = Arc::new(AtomicBool::new(false));
            self.running.insert(id.clone(), cancel.clone());
            spawn(id.clone(), work, shared.clone(), config.clone(), cancel);
            started.push(id);
        }
        started
    }

    /// A `cancel`: a queued operation ends at once, a running one at its next progress
    /// report of discovery (200 ms) or its next host.
    pub fn cancel(&mut self, id: &str, shared: &Arc<Shared>) {
        if let Some(c) = self.running.get(id) {
            log::info!("operation {id}: cancel asked; it stops now");
            c.store(true, Ordering::Relaxed);
        } else if let Some(i) = self.queue.iter().position(|(q, _)| q == id) {
            self.queue.remove(i);
            log::info!("operation {id} cancelled before it ran");
            let seq = shared.spool().next_seq(id);
            let m = AgentMessage::Failed {
                op: id.into(),
                seq,
                error: CollectError {
                    kind: ErrorKind::Cancelled,
                    message: "cancelled before it ran".into(),
                },
            };
            shared.append_waiting(&m, None);
            shared.notify(Event::Spooled);
        }
    }

    /// An operation's thread ended.
    pub fn finished(&mut self, id: &str) {
        self.running.remove(id);
    }
}

/// Runs one operation on its own thread (the pipeline blocks), its records cut into
/// chunks by a second thread that writes them to the spool.
fn spawn(id: String, work: Work, shared: Arc<Shared>, config: Config, cancel: Arc<AtomicBool>) {
    let name = format!("op-{}", id.chars().take(8).collect::<String>());
    let r = std::thread::Builder::new().name(name).spawn(move || {
        let t0 = Instant::now();
        let (tx, rx) = mpsc::sync_channel::<Host>(256);
        let first_seq = shared.spool().next_seq(&id);
        let w_shared = shared.clone();
        let w_id = id.clone();
        let w_cancel = cancel.clone();
        let writer = std::thread::Builder::new()
            .name("op-chunks".into())
            .spawn(move || chunker(&w_id, first_seq, rx, &w_shared, &w_cancel));
        let mut sink = ChannelSink {
            id: id.clone(),
            tx: Some(tx),
            cancel: cancel.clone(),
            shared: shared.clone(),
            last_progress: None,
        };
        let ctx = crate::context::Context::new(&config);
        let result = match &work {
            Work::Scan(r) => pipeline::scan(&ctx, r, &mut sink).map_err(|e| e.to_string()),
            Work::Collect(ips, r) => collect(&ctx, ips, r, &mut sink),
            Work::Diagnose => Ok(diagnose()),
        };
        sink.tx = None;
        let next = match writer {
            Ok(h) => h.join().unwrap_or(first_seq),
            Err(_) => first_seq,
        };
        let m = match result {
            Ok(summary) => AgentMessage::Done {
                op: id.clone(),
                seq: next,
                summary,
            },
            Err(e) => AgentMessage::Failed {
                op: id.clone(),
                seq: next,
                error: if cancel.load(Ordering::Relaxed) {
                    CollectError {
                        kind: ErrorKind::Cancelled,
                        message: "cancelled; the records sent before are kept".into(),
                    }
                } else {
                    failed(e)
                },
            },
        };
        log::info!(
            "operation {id}: {} in {:.2} s, {} chunks",
            match &m {
                AgentMessage::Done { .. } => "done",
                _ => "failed",
            },
            t0.elapsed().as_secs_f64(),
            next - first_seq
        );
        shared.append_waiting(&m, None);
        shared.notify(Event::Spooled);
        shared.notify(Event::Finished(id));
    });
    if let Err(e) = r {
        log::error!("cannot start an operation thread: {e}");
    }
}

fn collect(
    ctx: &crate::context::Context,
    ips: &[Ipv4Addr],
    r: &ScanRequest,
    sink: &mut dyn Sink,
) -> Result<Summary, String> {
    let snmp = crate::inventory::snmp::collector::SnmpCollector::new(
        &ctx.credentials,
        r.community.as_ref(),
        r.limits,
    );
    let hosts: BTreeMap<std::net::IpAddr, Host> = ips
        .iter()
        .map(|ip| (std::net::IpAddr::V4(*ip), Host::new(*ip)))
        .collect();
    let n = hosts.len() as u64;
    let ssh = pipeline::ssh_collector(ctx);
    let details = pipeline::collect(hosts, &[&snmp, &ssh], &r.limits, pipeline::WORKERS, sink)
        .map_err(|e| e.to_string())?;
    Ok(Summary {
        schema: SCHEMA,
        hosts: n,
        probed: 0,
        sent: 0,
        retries: None,
        retried: 0,
        no_route: 0,
        unprivileged: false,
        discovery_seconds: 0.0,
        details,
        checks: Vec::new(),
    })
}

/// `diagnose`: the checks of `ksocket diagnostics system config`, as the operation's
/// summary (no host records).
fn diagnose() -> Summary {
    use crate::diagnostics::local::{self, Outcome};
    let checks = [local::system(), local::config()]
        .into_iter()
        .flatten()
        .map(|c| {
            let (ok, detail) = match c.outcome {
                Outcome::Ok(d) => (true, d),
                Outcome::Ng(d) => (false, d),
            };
            CheckResult {
                what: c.what,
                ok,
                detail,
            }
        })
        .collect();
    Summary {
        schema: SCHEMA,
        hosts: 0,
        probed: 0,
        sent: 0,
        retries: None,
        retried: 0,
        no_route: 0,
        unprivileged: false,
        discovery_seconds: 0.0,
        details: Vec::new(),
        checks,
    }
}

/// The pipeline's sink of an operation: hosts go to the chunker (waiting when it is
/// behind: back-pressure), progress to the connection.
struct ChannelSink {
    id: String,
    tx: Option<mpsc::SyncSender<Host>>,
    cancel: Arc<AtomicBool>,
    shared: Arc<Shared>,
    last_progress: Option<Instant>,
}

impl Sink for ChannelSink {
    fn host(&mut self, h: Host) -> std::io::Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("cancelled"));
        }
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| std::io::Error::other("closed"))?;
        tx.send(h)
            .map_err(|_| std::io::Error::other("the spool writer stopped"))
    }

    fn note(&mut self, n: Note) {
        log::log!(n.level, "operation {}: {}", self.id, n.text);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    fn progress(&mut self, p: Progress) {
        let now = Instant::now();
        if self.last_progress.is_some_and(|t| now - t < PROGRESS_EVERY) {
            return;
        }
        self.last_progress = Some(now);
        self.shared.notify(Event::Progress(AgentMessage::Progress {
            op: self.id.clone(),
            probed: p.probed,
            total: p.total,
            up: p.up,
        }));
    }
}

/// Cuts the hosts of `rx` into chunks (by count, size, or [`CHUNK_WAIT`] after the
/// first host of a chunk) and spools each; returns the next seq.
fn chunker(
    id: &str,
    mut seq: u64,
    rx: mpsc::Receiver<Host>,
    shared: &Shared,
    cancel: &AtomicBool,
) -> u64 {
    let mut hosts: Vec<Host> = Vec::new();
    let mut bytes = 0usize;
    let mut since: Option<Instant> = None;
    loop {
        let got = match since {
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(t) => rx.recv_timeout(CHUNK_WAIT.saturating_sub(t.elapsed())),
        };
        let end = match got {
            Ok(h) => {
                bytes += serde_json::to_vec(&h).map_or(0, |v| v.len());
                hosts.push(h);
                since.get_or_insert_with(Instant::now);
                false
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => true,
        };
        let due = since.is_some_and(|t| t.elapsed() >= CHUNK_WAIT);
        if !hosts.is_empty() && (end || due || hosts.len() >= CHUNK_HOSTS || bytes >= CHUNK_BYTES) {
            let m = AgentMessage::Records {
                op: id.to_string(),
                seq,
                hosts: std::mem::take(&mut hosts),
            };
            if shared.append_waiting(&m, Some(cancel)) {
                shared.notify(Event::Spooled);
                seq += 1;
            }
            bytes = 0;
            since = None;
        }
        if end {
            return seq;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(names: Option<bool>, sweep: Option<bool>, ports: Option<Vec<u16>>) -> ScanRequest {
        let op = Operation::Scan {
            targets: vec!["198.18.0.0/24".into()],
            excludes: vec![],
            details: None,
            ports,
            rate: Some(2000),
            names,
            sweep,
        };
        match validate(&op, &Config::default()) {
            Ok(Work::Scan(r)) => *r,
            _ => panic!("a valid scan was not taken"),
        }
    }

    #[test]
    fn a_scan_operation_takes_the_options_of_the_command_line() {
        let d = scan(None, None, None);
        assert!(
            d.names && d.sweep,
            "names and the port sweep are on by default"
        );
        assert_eq!(d.ports, ScanRequest::default().ports);
        let r = scan(Some(false), Some(false), Some(vec![22, 443]));
        assert!(!r.names, "names: false is --no-names");
        assert!(!r.sweep, "sweep: false is --no-ports");
        assert_eq!(r.ports, vec![22, 443]);
        assert_eq!((r.engine.rate, r.sweep_rate), (2000, 2000));
    }
}
