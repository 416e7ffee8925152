//! The service mode, `ksocket connect` (spec §1, §3; docs/protocol.md): the agent
//! connects out to its controller, takes operations, runs them through the one scan
//! pipeline, and sends every result back through the spool, so that none is lost.
//!
//! - [`dial`]: endpoint, proxy, TLS, WebSocket handshake.
//! - [`spool`]: the on-disk journal of results not yet acknowledged.
//! - [`operations`]: the queue and the threads that run operations.
//! - this file: the connection's life (hello, welcome, heartbeats, acks) and the
//!   reconnection policy of `connect.resume*`.

pub mod dial;
pub mod operations;
pub mod spool;

use crate::config::connect::{Endpoint, Proxy};
use crate::config::{self, Config};
use crate::diagnostics::local::Check;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use ksocket_proto::messages::{
    self, AgentInfo, AgentMessage, Close, ControllerMessage, DecodeError, PROTOCOL,
};
use operations::{Event, Ops};
use smol::stream::StreamExt;
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

/// How a connection ended.
#[derive(Debug)]
enum End {
    /// The controller closed it, with this code and reason.
    Closed(u16, String),
    /// It broke, or a timeout said it is dead.
    Lost(String),
}

enum Ev {
    Frame(Option<Result<Message, async_tungstenite::tungstenite::Error>>),
    Op(Event),
    Tick,
}

type Sender = async_tungstenite::WebSocketSender<dial::Conn>;

/// How long one frame may take to leave (a peer that stops reading, or a link that
/// died without a reset, must not hold the connection's loop forever).
const SEND_LIMIT: Duration = Duration::from_secs(30);

async fn send(tx: &mut Sender, m: &AgentMessage) -> Result<(), End> {
    send_text(
        tx,
        String::from_utf8(messages::encode(m)).unwrap_or_default(),
    )
    .await
}

async fn send_text(tx: &mut Sender, text: String) -> Result<(), End> {
    smol::future::or(
        async {
            tx.send(Message::text(text))
                .await
                .map_err(|e| End::Lost(format!("sending: {e}")))
        },
        async {
            smol::Timer::after(SEND_LIMIT).await;
            Err(End::Lost(format!(
                "sending: no progress in {} s (the controller stopped reading)",
                SEND_LIMIT.as_secs()
            )))
        },
    )
    .await
}

async fn close(tx: &mut Sender, c: Close, why: &str) {
    let f = CloseFrame {
        code: CloseCode::from(c.code()),
        reason: why.to_string().into(),
    };
    let _ = smol::future::or(async { tx.close(Some(f)).await.map(|_| ()) }, async {
        smol::Timer::after(Duration::from_secs(2)).await;
        Ok(())
    })
    .await;
}

fn closed(f: Option<CloseFrame>) -> End {
    match f {
        Some(f) => End::Closed(u16::from(f.code), f.reason.to_string()),
        None => End::Closed(1005, "no reason given".into()),
    }
}

/// One connection: hello, welcome, then operations, results and heartbeats until it
/// ends.
async fn session(st: &mut State, ws: dial::Ws) -> End {
    let k = st.config.connect.clone();
    let (mut tx, mut rx) = ws.split();
    let hello = hello(&st.config, &st.instance, &st.shared.spool());
    if let Err(e) = send(&mut tx, &hello).await {
        return e;
    }
    // The welcome, within requestTimeout.
    let deadline = Instant::now() + secs(k.request_timeout);
    let welcome = loop {
        let f = smol::future::or(async { Some(rx.next().await) }, async {
            smol::Timer::at(deadline).await;
            None
        })
        .await;
        match f {
            None => return End::Lost("no welcome within connect.requestTimeout".into()),
            Some(None) => return End::Lost("closed before the welcome".into()),
            Some(Some(Err(e))) => return End::Lost(e.to_string()),
            Some(Some(Ok(Message::Close(f)))) => return closed(f),
            Some(Some(Ok(Message::Text(t)))) => {
                match messages::decode::<ControllerMessage>(t.as_bytes()) {
                    Ok(ControllerMessage::Welcome {
                        stored, protocol, ..
                    }) => break (stored, protocol),
                    Ok(_) => {}
                    Err(e) => {
                        close(&mut tx, Close::Protocol, "not a welcome").await;
                        return End::Lost(format!("the controller's answer: {e}"));
                    }
                }
            }
            Some(Some(Ok(_))) => {}
        }
    };
    {
        let mut sp = st.shared.spool();
        for c in &welcome.0 {
            if let Err(e) = sp.ack(&c.op, c.last_seq) {
                log::warn!("spool: {e}");
            }
        }
        sp.unsend_all();
    }
    st.shared.space.notify_all();
    log::info!(
        "connected (protocol {}), {} result messages to send, {} operations queued, {} running",
        welcome.1,
        st.shared.spool().pending(),
        st.ops.load().0,
        st.ops.load().1
    );
    let hb_every = secs(k.heartbeat_interval);
    let hb_timeout = secs(k.heartbeat_timeout);
    let req_timeout = secs(k.request_timeout);
    let mut hb_seq = 0u64;
    let mut hb_next = Instant::now() + hb_every;
    let mut hb_waiting: Option<Instant> = None;
    let mut resends = 0u32;
    loop {
        // Send what the spool holds and this connection has not carried yet.
        loop {
            let next = st.shared.spool().next_unsent();
            match next {
                Ok(Some((_, _, bytes))) => {
                    let text = String::from_utf8(bytes).unwrap_or_default();
                    if let Err(e) = send_text(&mut tx, text).await {
                        return e;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    log::error!("spool: cannot read a message: {e}");
                    break;
                }
            }
        }
        let tick = Instant::now() + Duration::from_millis(500);
        let ev = smol::future::or(
            async { Ev::Frame(rx.next().await) },
            smol::future::or(
                async {
                    match st.events.recv().await {
                        Ok(e) => Ev::Op(e),
                        Err(_) => Ev::Tick,
                    }
                },
                async {
                    smol::Timer::at(tick).await;
                    Ev::Tick
                },
            ),
        )
        .await;
        match ev {
            Ev::Frame(None) => return End::Lost("the controller closed the connection".into()),
            Ev::Frame(Some(Err(e))) => return End::Lost(e.to_string()),
            Ev::Frame(Some(Ok(Message::Close(f)))) => return closed(f),
            Ev::Frame(Some(Ok(Message::Text(t)))) => {
                match messages::decode::<ControllerMessage>(t.as_bytes()) {
                    Ok(m) => {
                        if let Some(reply) = handle(st, m, &mut hb_waiting)
                            && let Err(e) = send(&mut tx, &reply).await
                        {
                            return e;
                        }
                    }
                    Err(e) => {
                        let c = match e {
                            DecodeError::TooBig(_) => Close::TooBig,
                            DecodeError::Invalid(_) => Close::Protocol,
                        };
                        close(&mut tx, c, "a message was not understood").await;
                        return End::Lost(format!("the controller sent {e}"));
                    }
                }
            }
            Ev::Frame(Some(Ok(Message::Binary(_)))) => {
                close(&mut tx, Close::Protocol, "binary frames are not spoken").await;
                return End::Lost("the controller sent a binary frame".into());
            }
            Ev::Frame(Some(Ok(_))) => {}
            Ev::Op(Event::Spooled) => {}
            Ev::Op(Event::Progress(m)) => {
                if let Err(e) = send(&mut tx, &m).await {
                    return e;
                }
            }
            Ev::Op(Event::Finished(id)) => {
                st.ops.finished(&id);
                st.ops.start_next(&st.shared, &st.config);
            }
            Ev::Tick => {}
        }
        let now = Instant::now();
        if let Some(t) = hb_waiting
            && now - t > hb_timeout
        {
            return End::Lost(format!(
                "no heartbeat answer within {:.0} s (connect.heartbeatTimeout)",
                hb_timeout.as_secs_f64()
            ));
        }
        if now >= hb_next {
            hb_seq += 1;
            hb_next = now + hb_every;
            if hb_waiting.is_none() {
                hb_waiting = Some(now);
            }
            if let Err(e) = send(&mut tx, &AgentMessage::Heartbeat { seq: hb_seq }).await {
                return e;
            }
        }
        let oldest = st.shared.spool().oldest_in_flight();
        if oldest.is_some_and(|t| now - t > req_timeout) {
            resends += 1;
            if resends > k.request_retries {
                return End::Lost(format!(
                    "results not acknowledged after {} resends (connect.requestRetries)",
                    k.request_retries
                ));
            }
            log::warn!("results not acknowledged within connect.requestTimeout: sending again");
            st.shared.spool().unsend_all();
        }
    }
}

/// One message of the controller; the answer to send, if any.
fn handle(
    st: &mut State,
    m: ControllerMessage,
    hb_waiting: &mut Option<Instant>,
) -> Option<AgentMessage> {
    match m {
        ControllerMessage::Operation { id, operation } => {
            if id.is_empty() || id.len() > 128 {
                return Some(AgentMessage::Refused {
                    op: id.chars().take(128).collect(),
                    error: ksocket_proto::records::CollectError {
                        kind: ksocket_proto::records::ErrorKind::Failed,
                        message: "an operation id is 1 to 128 characters".into(),
                    },
                });
            }
            st.ops.receive(&id, &operation, &st.shared, &st.config)
        }
        ControllerMessage::Cancel { op } => {
            st.ops.cancel(&op, &st.shared);
            None
        }
        ControllerMessage::Ack { op, seq } => {
            if let Err(e) = st.shared.spool().ack(&op, seq) {
                log::warn!("spool: {e}");
            }
            st.shared.space.notify_all();
            None
        }
        ControllerMessage::Heartbeat { .. } => {
            *hb_waiting = None;
            None
        }
        ControllerMessage::Welcome { .. } => None,
    }
}

/// `diagnostics connect` and `authenticate`: the steps of connecting, each with its
/// outcome; `authenticate` also says hello (as a distinct instance, so that a running
/// agent keeps its slot and the check fails while it holds it, as spec §4 says).
pub fn diagnose(config: &Config, authenticate: bool) -> Vec<Check> {
    use crate::diagnostics::local::Outcome;
    let k = &config.connect;
    let mut out = Vec::new();
    let mut push = |what: &str, o: Outcome| {
        out.push(Check {
            what: what.into(),
            outcome: o,
        })
    };
    let ep = match Endpoint::of(k) {
        Ok(e) => e,
        Err(e) => {
            push("Endpoint", Outcome::Ng(e));
            return out;
        }
    };
    let limit = secs(k.request_timeout.min(30.0));
    let proxy = match Proxy::for_endpoint(k, &ep) {
        Ok(p) => p,
        Err(e) => {
            push("Proxy", Outcome::Ng(e));
            return out;
        }
    };
    let timed = |f| {
        smol::block_on(smol::future::or(f, async {
            smol::Timer::after(limit).await;
            Err(dial::DialError::Timeout(limit))
        }))
    };
    let (host, port) = match &proxy {
        Some(p) => (p.host.clone(), p.port),
        None => (ep.host.clone(), ep.port),
    };
    match timed(Box::pin(async { dial::resolve(&host, port).await })) {
        Ok(v) => push(
            &format!("Resolve DNS forward lookup ({host})"),
            Outcome::Ok(
                v.iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ),
        Err(e) => {
            push(
                &format!("Resolve DNS forward lookup ({host})"),
                Outcome::Ng(e.to_string()),
            );
            return out;
        }
    }
    let tls = if ep.tls {
        match dial::tls_config(k) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                push("TLS configuration", Outcome::Ng(e));
                return out;
            }
        }
    } else {
        None
    };
    let via = proxy
        .as_ref()
        .map_or(String::new(), |p| format!(" via {}:{}", p.host, p.port));
    let conn = smol::block_on(smol::future::or(
        async { dial::stream(&ep, proxy.as_ref(), tls).await.map(Some) },
        async {
            smol::Timer::after(limit).await;
            Err(dial::DialError::Timeout(limit))
        },
    ));
    let conn = match conn {
        Ok(Some(c)) => {
            push(
                &format!(
                    "Establish {} connection ({}:{}{via})",
                    if ep.tls { "TLS" } else { "TCP" },
                    ep.host,
                    ep.port
                ),
                Outcome::Ok(String::new()),
            );
            c
        }
        Ok(None) => return out,
        Err(e) => {
            push(
                &format!("Establish connection ({}:{}{via})", ep.host, ep.port),
                Outcome::Ng(e.to_string()),
            );
            return out;
        }
    };
    let token = k.token.expose().to_string();
    let ws = smol::block_on(smol::future::or(
        async { dial::websocket(&ep, conn, &token).await.map(Some) },
        async {
            smol::Timer::after(limit).await;
            Err(dial::DialError::Timeout(limit))
        },
    ));
    let ws = match ws {
        Ok(Some(w)) => {
            push("Establish websocket", Outcome::Ok(ep.url()));
            w
        }
        Ok(None) => return out,
        Err(e) => {
            push("Establish websocket", Outcome::Ng(e.to_string()));
            return out;
        }
    };
    let (mut tx, mut rx) = ws.split();
    if !authenticate {
        smol::block_on(close_normal(&mut tx));
        return out;
    }
    let instance = match instance_id() {
        Ok(i) => format!("{i}-diagnostics"),
        Err(e) => {
            push(
                "Complete authentication",
                Outcome::Ng(format!("instance id: {e}")),
            );
            return out;
        }
    };
    let spool = Spool::memory(1 << 20);
    let h = hello(config, &instance, &spool);
    let r: Result<String, String> = smol::block_on(smol::future::or(
        async {
            send(&mut tx, &h).await.map_err(|e| format!("{e:?}"))?;
            loop {
                match rx.next().await {
                    None => return Err("the controller closed the connection".into()),
                    Some(Err(e)) => return Err(e.to_string()),
                    Some(Ok(Message::Close(f))) => {
                        return Err(match closed(f) {
                            End::Closed(c, why) => format!("refused ({c}): {why}"),
                            End::Lost(w) => w,
                        });
                    }
                    Some(Ok(Message::Text(t))) => {
                        if let Ok(ControllerMessage::Welcome { protocol, .. }) =
                            messages::decode::<ControllerMessage>(t.as_bytes())
                        {
                            return Ok(format!("protocol {protocol}"));
                        }
                    }
                    Some(Ok(_)) => {}
                }
            }
        },
        async {
            smol::Timer::after(limit).await;
            Err(format!("no answer within {} s", limit.as_secs()))
        },
    ));
    match r {
        Ok(d) => {
            smol::block_on(close_normal(&mut tx));
            push("Complete authentication", Outcome::Ok(d));
        }
        Err(e) => push("Complete authentication", Outcome::Ng(e)),
    }
    out
}

async fn close_normal(tx: &mut Sender) {
    let f = CloseFrame {
        code: CloseCode::Normal,
        reason: "diagnostics done".into(),
    };
    let _ = smol::future::or(async { tx.close(Some(f)).await.map(|_| ()) }, async {
        smol::Timer::after(Duration::from_secs(2)).await;
        Ok(())
    })
    .await;
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
            hosts: (0..50).map(|i| Host::new([198, 18, 1, i].into())).collect(),
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
