//! The service mode, `ksocket connect` (spec §1, §3; docs/protocol.md): the agent
//! connects out to its controller, takes operations, runs them through the one scan
//! pipeline, and sends every result back through the spool, so that none is lost.
//!
//! - [`dial`]: proxy tunnel, TLS, WebSocket handshake (the values come from
//!   `config::connect`).
//! - [`spool`]: the on-disk journal of results not yet acknowledged.
//! - [`operations`]: the queue and the threads that run operations.
//! - [`session`](mod@session): one connection's life (hello, welcome, heartbeats, acks).
//! - [`diagnose`](mod@diagnose): `ksocket diagnostics connect` and `authenticate`.
//! - this file: what the threads share, the hello, and `run`: the reconnection
//!   policy of `connect.resume*`.

pub mod diagnose;
pub mod dial;
pub mod operations;
mod session;
pub mod spool;

pub use diagnose::diagnose;

use crate::config::connect::Endpoint;
use crate::config::{self, Config};
use ksocket_proto::messages::{AgentInfo, AgentMessage, Close, PROTOCOL};
use operations::{Event, Ops};
use session::{End, session};
use spool::Spool;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the operation threads and the connection share: the spool, a signal for room
/// in it, and the connection's event queue.
pub struct Shared {
    spool: Mutex<Spool>,
    space: Condvar,
    events: smol::channel::Sender<Event>,
}

impl Shared {
    pub fn spool(&self) -> MutexGuard<'_, Spool> {
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn notify(&self, e: Event) {
        let _ = self.events.try_send(e);
    }

    /// Appends a result message, waiting while the spool is full (back-pressure on the
    /// operation). Gives up only when `cancel` is set (false: not written).
    pub fn append_waiting(&self, m: &AgentMessage, cancel: Option<&AtomicBool>) -> bool {
        let mut said = false;
        let mut errors = 0u32;
        let mut g = self.spool();
        loop {
            match g.append(m) {
                Ok(Ok(())) => return true,
                Ok(Err(full)) => {
                    if !said {
                        log::warn!(
                            "spool full: {} of {} bytes wait for the controller's \
                             acknowledgement (connect.spoolSize); the operation waits",
                            full.used,
                            full.max
                        );
                        said = true;
                    }
                    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                        return false;
                    }
                    g = self
                        .space
                        .wait_timeout(g, Duration::from_secs(1))
                        .map(|r| r.0)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
                Err(e) => {
                    errors += 1;
                    log::error!("spool: cannot write: {e} (attempt {errors}, again in 1 s)");
                    if errors >= 600 {
                        log::error!("spool: giving up on a result message after 600 attempts");
                        return false;
                    }
                    drop(g);
                    std::thread::sleep(Duration::from_secs(1));
                    g = self.spool();
                }
            }
        }
    }
}

/// How `ksocket connect` ended.
#[derive(Debug)]
pub enum Exit {
    /// The controller refused in a way retrying cannot fix (4100 and up).
    Permanent(String),
    /// resumeRetries attempts in a row failed.
    GaveUp(String),
    /// It could not start (the spool, the instance id, the TLS configuration).
    Failed(String),
}

/// The agent's instance id: made at its first start, kept under
/// `$KSOCKET_HOME/var/lib/ksocket/instance`.
pub fn instance_id() -> Result<String, String> {
    let dir = PathBuf::from(config::expand("$KSOCKET_HOME/var/lib/ksocket"));
    let path = dir.join("instance");
    let valid = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    match crate::sys::files::read_bounded(&path, 256) {
        Ok(b) => {
            let s = String::from_utf8_lossy(&b).trim().to_string();
            if valid(&s) {
                return Ok(s);
            }
            return Err(format!(
                "{}: not an instance id (32 hex digits); remove it to make a new one",
                path.display()
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    crate::sys::files::create_dirs(&dir, 0o755).map_err(|e| format!("{}: {e}", dir.display()))?;
    let id = data_encoding::HEXLOWER
        .encode(&crate::sys::random::bytes::<16>().map_err(|e| format!("random: {e}"))?);
    match crate::sys::files::create_new(&path, format!("{id}\n").as_bytes(), 0o644) {
        Ok(()) => Ok(id),
        // Another process made it first: take that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => instance_id(),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The spool's directory.
pub fn spool_dir() -> PathBuf {
    PathBuf::from(config::expand("$KSOCKET_HOME/var/spool/ksocket"))
}

/// The `hello` of this agent.
pub fn hello(config: &Config, instance: &str, spool: &Spool) -> AgentMessage {
    AgentMessage::Hello {
        protocol: PROTOCOL,
        agent: AgentInfo {
            name: config.connect.name.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            target: env!("KSOCKET_TARGET").into(),
            instance: instance.into(),
        },
        capabilities: vec!["scan".into(), "collect:snmp".into(), "diagnose".into()],
        unacknowledged: spool.cursors(),
    }
}

fn secs(x: f64) -> Duration {
    Duration::from_secs_f64(x.clamp(0.001, 86_400.0))
}

/// The wait before reconnection attempt `n` (1, 2, ...): half a second more at each
/// attempt up to `resumePlateau` attempts (5 s with the defaults), less up to a
/// quarter at random so that a fleet does not come back all at once.
pub fn backoff(n: u32, plateau: u32) -> Duration {
    let step = n.clamp(1, plateau.max(1)) as f64 * 0.5;
    let jitter = 0.75 + (crate::sys::random::u64() % 1000) as f64 / 4000.0;
    Duration::from_secs_f64(step * jitter)
}

/// `ksocket connect`: serves the controller until a permanent refusal or
/// `connect.resumeRetries` failed attempts.
pub fn run(config: &Config) -> Exit {
    use crate::system_service::notify;
    // Before any other thread exists: SIGTERM (systemctl stop) and SIGINT are taken by
    // a thread that tells the service manager, then ends the process (the spool is
    // safe at any point: it survives kill -9).
    if let Err(e) = crate::sys::signals::on_termination(|sig| {
        notify::say("STOPPING=1");
        log::info!("ksocket connect: stopping (signal {sig})");
        log::logger().flush();
        std::process::exit(if sig == libc::SIGINT { 130 } else { 0 });
    }) {
        log::warn!("cannot take termination signals: {e}");
    }
    let exit = serve(config);
    notify::say("STOPPING=1");
    exit
}

fn serve(config: &Config) -> Exit {
    let k = &config.connect;
    let ep = match Endpoint::of(k) {
        Ok(e) => e,
        Err(e) => return Exit::Failed(e),
    };
    let instance = match instance_id() {
        Ok(i) => i,
        Err(e) => return Exit::Failed(format!("instance id: {e}")),
    };
    let max = k.spool_size as u64 * (1 << 20);
    let spool = if std::env::var("KSOCKET_SPOOL").as_deref() == Ok("memory") {
        log::warn!("KSOCKET_SPOOL=memory: results are NOT kept on disk (benchmarks only)");
        Spool::memory(max)
    } else {
        match Spool::open(&spool_dir(), max) {
            Ok((s, r)) => {
                for (f, off, n) in &r.truncated {
                    log::warn!(
                        "spool: {}: a record torn by a crash at byte {off} ({n} bytes) was cut off",
                        f.display()
                    );
                }
                for d in &r.damaged {
                    log::error!("spool: {d}");
                }
                for op in &r.interrupted {
                    log::warn!(
                        "operation {op} was cut short by the agent's stop: reported interrupted"
                    );
                }
                if r.pending > 0 {
                    log::info!("spool: {} result messages to send again", r.pending);
                }
                s
            }
            Err(e) => return Exit::Failed(e.to_string()),
        }
    };
    let tls = if ep.tls {
        if dial::insecure() {
            log::warn!(
                "KSOCKET_INSECURE is set: the controller's certificate is NOT verified; \
                 anyone on the path can pose as the controller"
            );
        }
        match dial::tls_config(k) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => return Exit::Failed(e),
        }
    } else {
        None
    };
    // The configuration is loaded, the spool open: ready (systemd's Type=notify).
    crate::system_service::notify::say("READY=1");
    let (tx, rx) = smol::channel::unbounded();
    let shared = Arc::new(Shared {
        spool: Mutex::new(spool),
        space: Condvar::new(),
        events: tx,
    });
    let mut st = State {
        config: config.clone(),
        shared,
        events: rx,
        ops: Ops::new(k.max_operations, k.max_running_operations),
        instance,
    };
    log::info!(
        "ksocket connect: {} as `{}`, instance {}",
        ep.url(),
        k.name,
        st.instance
    );
    smol::block_on(async {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let t0 = Instant::now();
            match dial::dial(k, &ep, tls.clone(), secs(k.resume_timeout)).await {
                Ok(ws) => {
                    let end = session(&mut st, ws).await;
                    let lived = t0.elapsed();
                    if lived >= secs(k.resume_threshold) {
                        attempt = 0;
                    }
                    match end {
                        End::Closed(code, why) => match Close::from_code(code) {
                            Some(c) if c.is_permanent() => {
                                return Exit::Permanent(format!(
                                    "the controller refused this agent ({code}): {why}"
                                ));
                            }
                            _ => log::warn!("connection closed by the controller ({code}): {why}"),
                        },
                        End::Lost(why) => log::warn!("connection lost: {why}"),
                    }
                }
                Err(e) => log::warn!("connecting to {} (attempt {attempt}): {e}", ep.url()),
            }
            if attempt >= k.resume_retries.max(1) {
                return Exit::GaveUp(format!(
                    "no connection to {} after {attempt} attempts (connect.resumeRetries)",
                    ep.url()
                ));
            }
            let d = backoff(attempt.max(1), k.resume_plateau);
            log::info!("reconnecting in {:.1} s", d.as_secs_f64());
            st.idle(d).await;
        }
    })
}

struct State {
    config: Config,
    shared: Arc<Shared>,
    events: smol::channel::Receiver<Event>,
    ops: Ops,
    instance: String,
}

impl State {
    /// Between connections: operations go on (their results are spooled); progress
    /// is dropped.
    async fn idle(&mut self, d: Duration) {
        let until = Instant::now() + d;
        loop {
            let ev = smol::future::or(async { self.events.recv().await.ok() }, async {
                smol::Timer::at(until).await;
                None
            })
            .await;
            match ev {
                Some(Event::Finished(id)) => {
                    self.ops.finished(&id);
                    self.ops.start_next(&self.shared, &self.config);
                }
                Some(_) => {}
                None => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksocket_proto::records::Host;

    #[test]
    fn backoff_grows_to_its_plateau_and_stays_under_5_s() {
        for n in 1..50 {
            let d = backoff(n, 10);
            let top = n.min(10) as f64 * 0.5;
            assert!(d.as_secs_f64() <= top + 1e-9 && d.as_secs_f64() >= top * 0.75 - 1e-9);
        }
        assert!(backoff(1000, 10) <= Duration::from_secs(5));
    }

    fn shared(max: u64) -> (Arc<Shared>, smol::channel::Receiver<Event>) {
        let (tx, rx) = smol::channel::unbounded();
        (
            Arc::new(Shared {
                spool: Mutex::new(Spool::memory(max)),
                space: Condvar::new(),
                events: tx,
            }),
            rx,
        )
    }

    fn chunk(seq: u64) -> AgentMessage {
        AgentMessage::Records {
            op: "op".into(),
            seq,
            hosts: (0..50)
                .map(|i| Host::new(std::net::Ipv4Addr::from([198, 18, 1, i])))
                .collect(),
        }
    }

    #[test]
    fn a_full_spool_holds_the_operation_back_until_acknowledged() {
        let (sh, _rx) = shared(8 * 1024);
        let mut seq = 0;
        while sh.spool().append(&chunk(seq + 1)).unwrap().is_ok() {
            seq += 1;
        }
        assert!(seq >= 1);
        let (sh2, next) = (sh.clone(), seq + 1);
        let writer = std::thread::spawn(move || sh2.append_waiting(&chunk(next), None));
        std::thread::sleep(Duration::from_millis(300));
        assert!(!writer.is_finished(), "it did not wait for room");
        sh.spool().ack("op", seq).unwrap();
        sh.space.notify_all();
        assert!(writer.join().unwrap());
        assert_eq!(sh.spool().pending(), 1);
        // A cancelled operation stops waiting, and writes nothing.
        let cancel = AtomicBool::new(true);
        while sh.spool().append(&chunk(100)).unwrap().is_ok() {}
        assert!(!sh.append_waiting(&chunk(101), Some(&cancel)));
    }

    #[test]
    fn an_operation_is_never_run_twice() {
        let (sh, _rx) = shared(1 << 20);
        let mut cfg = Config::default();
        cfg.connect.max_operations = 2;
        cfg.connect.max_running_operations = 1;
        let mut ops = Ops::new(2, 1);
        // A scan the agent refuses before running (a loopback target): nothing spooled.
        let bad = ksocket_proto::messages::Operation::Scan {
            targets: vec!["127.0.0.1".into()],
            excludes: vec![],
            details: None,
            ports: None,
            rate: None,
            names: None,
            sweep: None,
        };
        assert!(matches!(
            ops.receive("x", &bad, &sh, &cfg),
            Some(AgentMessage::Refused { .. })
        ));
        // A collect of one lab address (no credential: nothing is sent anywhere).
        let op = ksocket_proto::messages::Operation::Collect {
            hosts: vec!["198.18.0.9".into()],
            protocols: vec!["snmp".into()],
        };
        assert!(matches!(
            ops.receive("a", &op, &sh, &cfg),
            Some(AgentMessage::Accepted { running: true, .. })
        ));
        assert!(matches!(
            ops.receive("a", &op, &sh, &cfg),
            Some(AgentMessage::Accepted { running: true, .. })
        ));
        assert!(matches!(
            ops.receive("b", &op, &sh, &cfg),
            Some(AgentMessage::Accepted { running: false, .. })
        ));
        assert!(matches!(
            ops.receive("c", &op, &sh, &cfg),
            Some(AgentMessage::Refused { .. })
        ));
        // Once finished and spooled, the same id gets no new run.
        let t0 = Instant::now();
        while !sh.spool().finished("a") && t0.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        ops.finished("a");
        assert!(sh.spool().finished("a"));
        assert_eq!(ops.receive("a", &op, &sh, &cfg), None);
    }
}
