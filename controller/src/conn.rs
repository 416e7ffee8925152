//! One agent connection (docs/protocol.md): the token, hello and welcome, the slot's
//! lease, operations out, results in (stored once, acknowledged cumulatively),
//! heartbeats.

use crate::db::{Chunk, NewHost};
use crate::state::{App, Handle};
use crate::util::{bearer, hex, random_bytes, sha256_hex};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use ksocket_proto::messages::{
    AgentMessage, Close, ControllerMessage, DecodeError, MAX_FRAME, OperationCursor, PROTOCOL,
    decode, encode,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long a new connection has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest name, version, target, instance or operation id taken from an agent.
const MAX_FIELD: usize = 256;
/// The most `unacknowledged` entries answered.
const MAX_CURSORS: usize = 1000;
/// The largest seq taken.
const MAX_SEQ: u64 = 1 << 40;
/// The capabilities this controller uses.
const USED_CAPABILITIES: [&str; 3] = ["scan", "collect:snmp", "diagnose"];

/// `GET /api/ksocket/connect`: the upgrade. The token is checked after it, so that a
/// refusal is a close code the agent understands.
pub async fn upgrade(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // Hash the token at once: only its hash goes further.
    let hash = bearer(&headers).map(|t| sha256_hex(t.as_bytes()));
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            let mut c = Conn {
                app,
                ws: socket,
                token: String::new(),
                conn_id: String::new(),
                sent: HashSet::new(),
                cancels: HashSet::new(),
                raw: None,
                renewed: std::time::Instant::now(),
            };
            c.run(hash).await;
        })
}

/// Why a connection ends.
enum End {
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// The peer closed or went away.
    Gone,
}

impl End {
    fn of(c: Close, why: &'static str) -> End {
        End::Close(c.code(), why)
    }
}

struct Conn {
    app: Arc<App>,
    ws: WebSocket,
    /// The token's name (the agent's name at this controller).
    token: String,
    conn_id: String,
    /// Operations sent on this connection.
    sent: HashSet<String>,
    /// Operations whose `cancel` was sent on this connection.
    cancels: HashSet<String>,
    /// The frame of the last records message, to store its hosts as written.
    raw: Option<Utf8Bytes>,
    /// When this connection last wrote its lease.
    renewed: std::time::Instant,
}

/// The hosts of a records message as the agent wrote them.
#[derive(Deserialize)]
struct RawHosts<'a> {
    #[serde(borrow)]
    hosts: Vec<&'a RawValue>,
}

impl Conn {
    async fn run(&mut self, hash: Option<String>) {
        let end = self.session(hash).await;
        if !self.conn_id.is_empty() {
            self.app.unregister(&self.token, &self.conn_id);
            if let Err(e) = self.app.db.lease_release(&self.token, &self.conn_id).await {
                eprintln!("agent {}: releasing its slot: {e}", self.token);
            }
        }
        if let End::Close(code, why) = end {
            if !self.token.is_empty() && code != 1000 {
                println!("agent {}: closed {code} ({why})", self.token);
            }
            let _ = self
                .ws
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: why.into(),
                })))
                .await;
            // Let the peer answer the close, briefly.
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Some(Ok(m)) = self.ws.recv().await {
                    if matches!(m, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
    }

    /// The next message: Ok(None) when the peer closed.
    async fn next(&mut self) -> Result<Option<AgentMessage>, End> {
        loop {
            let m = match self.ws.recv().await {
                None => return Ok(None),
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    return Err(match e.into_inner().downcast_ref::<tungstenite::Error>() {
                        Some(tungstenite::Error::Capacity(_)) => {
                            End::of(Close::TooBig, "a frame over 1 MiB")
                        }
                        Some(tungstenite::Error::Protocol(_)) => {
                            End::of(Close::Protocol, "a WebSocket protocol error")
                        }
                        _ => End::Gone,
                    });
                }
            };
            match m {
                Message::Text(t) => {
                    return match decode::<AgentMessage>(t.as_bytes()) {
                        Ok(m) => {
                            if let AgentMessage::Records { .. } = m {
                                // Keep the records as the agent wrote them.
                                self.raw = Some(t.clone());
                            }
                            Ok(Some(m))
                        }
                        Err(DecodeError::TooBig(_)) => {
                            Err(End::of(Close::TooBig, "a frame over 1 MiB"))
                        }
                        Err(DecodeError::Invalid(_)) => {
                            Err(End::of(Close::Protocol, "not a message of protocol 1"))
                        }
                    };
                }
                Message::Binary(_) => {
                    return Err(End::of(Close::Protocol, "binary frames are not messages"));
                }
                Message::Close(_) => return Ok(None),
                Message::Ping(_) | Message::Pong(_) => continue,
            }
        }
    }

    async fn send(&mut self, m: &ControllerMessage) -> Result<(), End> {
        let text = String::from_utf8(encode(m)).map_err(|_| End::Gone)?;
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| End::Gone)
    }

    async fn session(&mut self, hash: Option<String>) -> End {
        let db_err = |e: crate::db::DbError| {
            eprintln!("database: {e}");
            End::Close(1011, "the controller's database failed")
        };
        // The token.
        let Some(hash) = hash else {
            return End::of(Close::BadToken, "no bearer token");
        };
        let tok = match self.app.db.token_by_hash(&hash).await {
            Ok(Some(t)) => t,
            Ok(None) => return End::of(Close::BadToken, "unknown token"),
            Err(e) => return db_err(e),
        };
        if tok.revoked.is_some() {
            return End::of(Close::Revoked, "this token was revoked");
        }
        if tok.operator {
            return End::of(Close::BadToken, "an operator token is not an agent token");
        }
        self.token = tok.name;
        // Hello.
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, self.next()).await {
            Err(_) => return End::of(Close::Protocol, "no hello within 10 s"),
            Ok(Err(e)) => return e,
            Ok(Ok(None)) => return End::Gone,
            Ok(Ok(Some(m))) => m,
        };
        let AgentMessage::Hello {
            protocol,
            agent,
            capabilities,
            unacknowledged,
        } = hello
        else {
            return End::of(Close::Protocol, "the first message must be hello");
        };
        if protocol != PROTOCOL {
            return End::of(Close::Version, "this controller speaks protocol 1");
        }
        if [&agent.name, &agent.version, &agent.target, &agent.instance]
            .iter()
            .any(|f| f.len() > MAX_FIELD)
            || agent.instance.is_empty()
            || capabilities.len() > 64
            || capabilities.iter().any(|c| c.len() > 64)
            || unacknowledged.len() > MAX_CURSORS
            || unacknowledged.iter().any(|c| c.op.len() > MAX_FIELD)
        {
            return End::of(Close::Protocol, "hello: a field over its limit");
        }
        // The slot.
        let conn_id = format!("conn-{}", hex(&random_bytes::<8>()));
        let until = crate::util::now_ms().saturating_add(self.app.lease_ms);
        match self
            .app
            .db
            .lease_acquire(
                &self.token,
                &agent.instance,
                &conn_id,
                &self.app.controller_id,
                until,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return End::of(
                    Close::SlotTaken,
                    "the slot of this token is held by another agent instance",
                );
            }
            Err(e) => return db_err(e),
        }
        self.conn_id = conn_id;
        let handle = Arc::new(Handle::new(self.conn_id.clone()));
        self.app.register(&self.token, handle.clone());
        // Another controller holding this slot's old connection checks at once.
        let _ = self.app.db.notify(&format!("lease:{}", self.token)).await;
        if let Err(e) = self
            .app
            .db
            .agent_hello(
                &self.token,
                &agent.instance,
                &agent.version,
                &agent.target,
                &capabilities,
            )
            .await
        {
            return db_err(e);
        }
        // Welcome.
        let mut stored = Vec::with_capacity(unacknowledged.len());
        for c in &unacknowledged {
            match self.app.db.stored_cursor(&self.token, &c.op).await {
                Ok(s) => stored.push(OperationCursor {
                    op: c.op.clone(),
                    last_seq: s,
                }),
                Err(e) => return db_err(e),
            }
        }
        let caps = capabilities
            .iter()
            .filter(|c| USED_CAPABILITIES.contains(&c.as_str()))
            .cloned()
            .collect();
        let welcome = ControllerMessage::Welcome {
            protocol: PROTOCOL,
            capabilities: caps,
            stored,
        };
        if let Err(e) = self.send(&welcome).await {
            return e;
        }
        println!(
            "agent {}: connected (instance {}, version {}, {})",
            self.token, agent.instance, agent.version, agent.target
        );
        if let Err(e) = self.dispatch().await {
            return e;
        }
        // The conversation.
        let idle = Duration::from_millis(u64::try_from(self.app.lease_ms).unwrap_or(u64::MAX));
        loop {
            tokio::select! {
                r = tokio::time::timeout(idle, self.next()) => {
                    let m = match r {
                        Err(_) => return End::Close(1001, "no message within the lease"),
                        Ok(Err(e)) => return e,
                        Ok(Ok(None)) => return End::Gone,
                        Ok(Ok(Some(m))) => m,
                    };
                    if let Err(e) = self.handle(m).await {
                        return e;
                    }
                }
                _ = handle.wake.notified() => {
                    if let Err(e) = self.dispatch().await {
                        return e;
                    }
                }
                _ = handle.stop.notified() => {
                    let code = handle.stop_code.load(Ordering::SeqCst);
                    return if code == Close::Revoked.code() {
                        End::of(Close::Revoked, "this token was revoked")
                    } else {
                        End::of(Close::Replaced, "replaced by a newer connection of the same instance")
                    };
                }
            }
        }
    }

    /// Sends the operations of this agent not yet accepted or refused (once per
    /// connection), marking the queued ones sent, then a `cancel` for each operation
    /// with the agent whose cancel was asked for (once per connection, after the
    /// operation itself when it went out again).
    async fn dispatch(&mut self) -> Result<(), End> {
        let db_err = |e: crate::db::DbError| {
            eprintln!("database: {e}");
            End::Close(1011, "the controller's database failed")
        };
        let ops = self.app.db.ops_pending(&self.token).await.map_err(db_err)?;
        for (id, body) in ops {
            if self.sent.contains(&id) {
                continue;
            }
            let operation = match serde_json::from_str(&body) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("operation {id}: its stored body does not decode: {e}");
                    continue;
                }
            };
            // Marked before it goes: an operation cancelled while queued is not sent.
            // One marked but not delivered (the connection fails) is sent again after
            // the next welcome, like every sent operation.
            if !self.app.db.op_mark_sent(&id).await.map_err(db_err)? {
                continue;
            }
            self.send(&ControllerMessage::Operation {
                id: id.clone(),
                operation,
            })
            .await?;
            self.sent.insert(id);
        }
        let cancels = self
            .app
            .db
            .ops_to_cancel(&self.token)
            .await
            .map_err(db_err)?;
        for op in cancels {
            if self.cancels.contains(&op) {
                continue;
            }
            self.send(&ControllerMessage::Cancel { op: op.clone() })
                .await?;
            println!("agent {}: cancel {op} sent", self.token);
            self.cancels.insert(op);
        }
        Ok(())
    }

    async fn handle(&mut self, m: AgentMessage) -> Result<(), End> {
        let db_err = |e: crate::db::DbError| {
            eprintln!("database: {e}");
            End::Close(1011, "the controller's database failed")
        };
        match m {
            AgentMessage::Hello { .. } => {
                return Err(End::of(Close::Protocol, "hello twice"));
            }
            AgentMessage::Heartbeat { seq } => {
                // Every heartbeat checks that the lease names this connection; the
                // lease is written (renewed) once a sixth of its length has passed,
                // which keeps it alive with a wide margin for far fewer writes.
                let renew_every = Duration::from_millis(
                    u64::try_from(self.app.lease_ms / 6)
                        .unwrap_or(1000)
                        .max(1000),
                );
                let held = if self.renewed.elapsed() >= renew_every {
                    let until = crate::util::now_ms().saturating_add(self.app.lease_ms);
                    let held = self
                        .app
                        .db
                        .lease_renew(&self.token, &self.conn_id, until)
                        .await
                        .map_err(db_err)?;
                    self.renewed = std::time::Instant::now();
                    held
                } else {
                    self.app
                        .db
                        .lease_held(&self.token, &self.conn_id)
                        .await
                        .map_err(db_err)?
                };
                if !held {
                    return Err(self.lost_slot().await);
                }
                self.send(&ControllerMessage::Heartbeat { seq }).await?;
            }
            AgentMessage::Accepted { op, running } => {
                check_op(&op)?;
                self.app
                    .db
                    .op_accepted(&self.token, &op, running)
                    .await
                    .map_err(db_err)?;
            }
            AgentMessage::Refused { op, error } => {
                check_op(&op)?;
                let e = serde_json::to_string(&error).unwrap_or_default();
                self.app
                    .db
                    .op_refused(&self.token, &op, &e)
                    .await
                    .map_err(db_err)?;
            }
            AgentMessage::Progress {
                op,
                probed,
                total,
                up,
            } => {
                check_op(&op)?;
                let c = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                self.app
                    .db
                    .op_progress(&self.token, &op, c(probed), c(total), c(up))
                    .await
                    .map_err(db_err)?;
            }
            AgentMessage::Records { op, seq, hosts } => {
                check_op(&op)?;
                check_seq(seq)?;
                let raw = self.raw.take().unwrap_or_default();
                let raw: RawHosts<'_> = serde_json::from_str(raw.as_str())
                    .map_err(|_| End::of(Close::Protocol, "records: hosts unreadable"))?;
                if raw.hosts.len() != hosts.len() {
                    return Err(End::of(Close::Protocol, "records: hosts unreadable"));
                }
                let rows = hosts
                    .iter()
                    .zip(raw.hosts)
                    .map(|(h, r)| NewHost {
                        ip: h.ip.to_string(),
                        rschema: i64::from(h.schema),
                        json: r.get().to_string(),
                        mac: h.mac.map(|m| m.to_string()),
                    })
                    .collect();
                self.store(&op, seq, Chunk::Records(rows)).await?;
            }
            AgentMessage::Done { op, seq, summary } => {
                check_op(&op)?;
                check_seq(seq)?;
                let s = serde_json::to_string(&summary).unwrap_or_default();
                self.store(&op, seq, Chunk::Done(s)).await?;
            }
            AgentMessage::Failed { op, seq, error } => {
                check_op(&op)?;
                check_seq(seq)?;
                let e = serde_json::to_string(&error).unwrap_or_default();
                self.store(&op, seq, Chunk::Failed(e)).await?;
            }
        }
        Ok(())
    }

    /// Stores a chunk (once) and acknowledges what is stored.
    async fn store(&mut self, op: &str, seq: u64, chunk: Chunk) -> Result<(), End> {
        let s = self
            .app
            .db
            .store_chunk(&self.token, op, seq, chunk)
            .await
            .map_err(|e| {
                eprintln!("database: {e}");
                End::Close(1011, "the controller's database failed")
            })?;
        let ack = if s.known {
            s.contiguous
        } else {
            // Not an operation of this agent here (deleted by retention, or never
            // ours): nothing to store, and the agent may forget it.
            println!(
                "agent {}: a chunk of an unknown operation ({} bytes of id), acknowledged, not stored",
                self.token,
                op.len()
            );
            seq
        };
        if ack > 0 {
            self.send(&ControllerMessage::Ack {
                op: op.to_string(),
                seq: ack,
            })
            .await?;
        }
        Ok(())
    }

    /// The lease row names another connection: replaced, or the token revoked.
    async fn lost_slot(&mut self) -> End {
        match self.app.db.token_by_name(&self.token).await {
            Ok(Some(t)) if t.revoked.is_some() => End::of(Close::Revoked, "this token was revoked"),
            _ => End::of(
                Close::Replaced,
                "replaced by a newer connection of the same instance",
            ),
        }
    }
}

fn check_op(op: &str) -> Result<(), End> {
    if op.is_empty() || op.len() > MAX_FIELD {
        return Err(End::of(Close::Protocol, "an operation id over its limit"));
    }
    Ok(())
}

fn check_seq(seq: u64) -> Result<(), End> {
    if seq == 0 || seq > MAX_SEQ {
        return Err(End::of(Close::Protocol, "a chunk seq out of range"));
    }
    Ok(())
}
