//! The test harness: a fresh database per test (SQLite in a temp dir, or a new
//! PostgreSQL database on the cluster of KSOCKET_TEST_POSTGRES), the built binary run
//! as real processes, and a fake agent speaking the protocol with ksocket-proto types.
//! Everything is on 127.0.0.1; every wait is bounded.

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use ksocket_proto::messages::{
    AgentInfo, AgentMessage, ControllerMessage, OperationCursor, PROTOCOL, decode, encode,
};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub const BIN: &str = env!("CARGO_BIN_EXE_ksocket-controller");
/// The longest any single wait of a test lasts.
pub const WAIT: Duration = Duration::from_secs(15);

/// Runs `$body(backend)` as two tests: on SQLite, and on PostgreSQL when
/// KSOCKET_TEST_POSTGRES is set (else the PostgreSQL variant says it skips).
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match super::common::Backend::postgres() {
                    Some(b) => super::$name(b).await,
                    None => super::common::skip(stringify!($name)),
                }
            }
        }
    };
}

pub fn skip(name: &str) {
    eprintln!(
        "SKIP {name} on PostgreSQL: KSOCKET_TEST_POSTGRES is not set \
         (scripts/controller-test.sh sets it)"
    );
}

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The URL of a throwaway cluster's maintenance database.
    Postgres(String),
}

impl Backend {
    pub fn postgres() -> Option<Backend> {
        std::env::var("KSOCKET_TEST_POSTGRES")
            .ok()
            .filter(|u| !u.is_empty())
            .map(Backend::Postgres)
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One test's controller world: a data dir and a database of its own.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub database: Option<String>,
    /// (maintenance URL, database name) to drop at the end.
    pg: Option<(String, String)>,
}

fn with_db(url: &str, db: &str) -> String {
    // postgres://user@host:port/name?params -> .../db
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    format!("{}/{db}{query}", &base[..host_end])
}

impl Env {
    pub async fn new(b: &Backend) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        match b {
            Backend::Sqlite => Env {
                dir,
                database: None,
                pg: None,
            },
            Backend::Postgres(url) => {
                let name = format!(
                    "ksc_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .subsec_nanos()
                );
                use sqlx::Connection;
                use sqlx::Executor;
                let mut c = sqlx::PgConnection::connect(url)
                    .await
                    .expect("KSOCKET_TEST_POSTGRES does not answer");
                c.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create database");
                let _ = c.close().await;
                Env {
                    dir,
                    database: Some(with_db(url, &name)),
                    pg: Some((url.clone(), name)),
                }
            }
        }
    }

    /// Another Env on the same database (a second controller of a fleet), with its
    /// own data dir.
    pub fn sibling(&self) -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
            database: self.database.clone(),
            pg: None,
        }
    }

    fn base_args(&self) -> Vec<String> {
        let mut a = vec!["--data".to_string(), self.dir.path().display().to_string()];
        if let Some(d) = &self.database {
            a.push("--database".into());
            a.push(d.clone());
        }
        a
    }

    /// Runs a command of the CLI: (exit code, stdout, stderr).
    pub async fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let mut cmd = Command::new(BIN);
        cmd.args(self.base_args()).args(args).kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .expect("the command did not end within 120 s")
            .expect("run the binary");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A command that must succeed: its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.cli(args).await;
        assert_eq!(code, 0, "{args:?} failed: {out}\n{err}");
        out
    }

    /// `scan --agent AGENT TARGETS` through the CLI: the id of the operation queued.
    pub async fn scan(&self, agent: &str, targets: &str) -> String {
        self.ok(&["scan", "--agent", agent, targets])
            .await
            .trim()
            .to_string()
    }

    /// A new token: its secret (the last line printed).
    pub async fn token(&self, name: &str, operator: bool) -> String {
        let mut a = vec!["token", "create", name];
        if operator {
            a.push("--operator");
        }
        let out = self.ok(&a).await;
        out.lines().last().unwrap_or_default().trim().to_string()
    }

    /// `serve` on 127.0.0.1, a port the system picks.
    pub async fn serve(&self, extra: &[&str]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(self.base_args())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut fingerprint = None;
        let url = tokio::time::timeout(WAIT, async {
            while let Ok(Some(l)) = lines.next_line().await {
                eprintln!("[serve] {l}");
                if let Some(fp) = l.split(" sha256 ").nth(1) {
                    fingerprint = Some(fp.trim().to_string());
                }
                if let Some(u) = l.strip_prefix("listening on ") {
                    return Some(u.trim().to_string());
                }
            }
            None
        })
        .await
        .expect("serve did not start within 15 s")
        .expect("serve ended before listening");
        // Keep reading its output (to the test's stderr), so it never blocks.
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                eprintln!("[serve] {l}");
            }
        });
        let http = url
            .replace("wss://", "https://")
            .replace("ws://", "http://")
            .replace("/api/ksocket/connect", "");
        let addr = http
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_string();
        Server {
            child,
            url,
            addr,
            fingerprint,
        }
    }

    /// `operations --format json`, one operation.
    pub async fn operation(&self, id: &str) -> serde_json::Value {
        let out = self.ok(&["operations", "--format", "json"]).await;
        let v: serde_json::Value = serde_json::from_str(&out).expect("operations json");
        v.as_array()
            .and_then(|a| a.iter().find(|o| o["id"] == id).cloned())
            .unwrap_or_else(|| panic!("no operation {id} in {out}"))
    }

    pub async fn results(&self, id: &str) -> Vec<serde_json::Value> {
        let out = self.ok(&["results", id, "--format", "json"]).await;
        serde_json::from_str::<Vec<serde_json::Value>>(&out).expect("results json")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some((url, name)) = self.pg.take() {
            // Dropped from a thread of its own: Drop cannot await, and may run
            // inside the test's runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    use sqlx::Connection;
                    use sqlx::Executor;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&url).await {
                        let _ = c
                            .execute(
                                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                            )
                            .await;
                        let _ = c.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub struct Server {
    pub child: Child,
    /// ws://127.0.0.1:PORT/api/ksocket/connect or wss://...
    pub url: String,
    /// 127.0.0.1:PORT
    pub addr: String,
    pub fingerprint: Option<String>,
}

impl Server {
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(WAIT, self.child.wait()).await;
    }

    /// A plain HTTP/1.1 request: (status, body).
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::time::timeout(WAIT, TcpStream::connect(&self.addr))
            .await
            .expect("connect timeout")
            .expect("connect");
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() {
            req.push_str("Content-Type: application/json\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
            .await
            .expect("read timeout")
            .expect("read");
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        (status, body)
    }
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    for _ in 0..100_000 {
        let Some((len, after)) = rest.split_once("\r\n") else {
            break;
        };
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// What the controller did next.
#[derive(Debug)]
pub enum Event {
    Msg(ControllerMessage),
    Closed(u16, String),
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Ws = tokio_tungstenite::WebSocketStream<Box<dyn Io>>;

/// A fake agent.
pub struct Agent {
    ws: Ws,
}

/// TLS: accept only the certificate whose SHA-256 is `pin`.
#[derive(Debug)]
struct Pin {
    pin: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pin {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use sha2::Digest;
        let got: String = sha2::Sha256::digest(end_entity.as_ref())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if got == self.pin {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!("pin mismatch: {got}")))
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            m,
            c,
            d,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl Agent {
    /// Connects to `url` with `token`; over TLS, the certificate must match `pin`.
    pub async fn connect(url: &str, token: &str, pin: Option<&str>) -> Result<Agent, String> {
        let mut req = url.into_client_request().map_err(|e| e.to_string())?;
        req.headers_mut().insert(
            "Authorization",
            format!("Bearer {token}").parse().map_err(|_| "header")?,
        );
        let hostport = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .ok_or("url")?
            .to_string();
        let tcp = tokio::time::timeout(WAIT, TcpStream::connect(&hostport))
            .await
            .map_err(|_| "connect timeout")?
            .map_err(|e| e.to_string())?;
        let io: Box<dyn Io> = if url.starts_with("wss://") {
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pin {
                    pin: pin.ok_or("wss needs a pin")?.to_string(),
                    provider,
                }))
                .with_no_client_auth();
            let conn = tokio_rustls::TlsConnector::from(Arc::new(cfg));
            let name =
                rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
            Box::new(
                tokio::time::timeout(WAIT, conn.connect(name, tcp))
                    .await
                    .map_err(|_| "tls timeout")?
                    .map_err(|e| e.to_string())?,
            )
        } else {
            Box::new(tcp)
        };
        let cfg = WebSocketConfig::default().max_message_size(Some(4 << 20));
        let (ws, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::client_async_with_config(req, io, Some(cfg)),
        )
        .await
        .map_err(|_| "handshake timeout")?
        .map_err(|e| e.to_string())?;
        Ok(Agent { ws })
    }

    pub async fn send(&mut self, m: &AgentMessage) {
        let text = String::from_utf8(encode(m)).unwrap();
        self.send_text(text).await;
    }

    pub async fn send_text(&mut self, t: String) {
        let _ = tokio::time::timeout(WAIT, self.ws.send(Message::Text(t.into()))).await;
    }

    pub async fn send_binary(&mut self, b: Vec<u8>) {
        let _ = tokio::time::timeout(WAIT, self.ws.send(Message::Binary(b.into()))).await;
    }

    /// The next message or close, within `WAIT`.
    pub async fn recv(&mut self) -> Event {
        self.recv_within(WAIT)
            .await
            .expect("nothing from the controller in time")
    }

    /// The next message or close within `d`, None if nothing came.
    pub async fn recv_within(&mut self, d: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let m = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match m {
                None => return Some(Event::Closed(1006, "ended without a close".into())),
                Some(Err(e)) => return Some(Event::Closed(1006, e.to_string())),
                Some(Ok(Message::Text(t))) => {
                    let m: ControllerMessage =
                        decode(t.as_bytes()).expect("the controller sent a bad message");
                    return Some(Event::Msg(m));
                }
                Some(Ok(Message::Close(f))) => {
                    return Some(match f {
                        Some(f) => Event::Closed(u16::from(f.code), f.reason.to_string()),
                        None => Event::Closed(1005, String::new()),
                    });
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next message that is not a heartbeat answer; panics on a close.
    pub async fn msg(&mut self) -> ControllerMessage {
        loop {
            match self.recv().await {
                Event::Msg(ControllerMessage::Heartbeat { .. }) => continue,
                Event::Msg(m) => return m,
                Event::Closed(c, r) => panic!("closed {c} ({r}) while a message was expected"),
            }
        }
    }

    /// Waits for the close, skipping messages; its code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        for _ in 0..1000 {
            if let Event::Closed(c, r) = self.recv().await {
                return (c, r);
            }
        }
        panic!("no close");
    }

    pub fn hello(name: &str, instance: &str, unack: Vec<(String, u64)>) -> AgentMessage {
        AgentMessage::Hello {
            protocol: PROTOCOL,
            agent: AgentInfo {
                name: name.into(),
                version: "0.1.0-test".into(),
                target: "x86_64-unknown-linux-musl".into(),
                instance: instance.into(),
            },
            capabilities: vec!["scan".into(), "collect:snmp".into(), "diagnose".into()],
            unacknowledged: unack
                .into_iter()
                .map(|(op, last_seq)| OperationCursor { op, last_seq })
                .collect(),
        }
    }

    /// Connects and says hello: the agent and the welcome's stored cursors.
    pub async fn join(
        url: &str,
        token: &str,
        instance: &str,
        unack: Vec<(String, u64)>,
        pin: Option<&str>,
    ) -> (Agent, Vec<OperationCursor>) {
        let mut a = Agent::connect(url, token, pin).await.expect("connect");
        a.send(&Agent::hello("edge", instance, unack)).await;
        match a.recv().await {
            Event::Msg(ControllerMessage::Welcome {
                protocol,
                capabilities,
                stored,
            }) => {
                assert_eq!(protocol, PROTOCOL);
                assert_eq!(
                    capabilities,
                    vec![
                        "scan".to_string(),
                        "collect:snmp".to_string(),
                        "diagnose".to_string()
                    ]
                );
                (a, stored)
            }
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    /// Closes cleanly.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(WAIT, self.ws.close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    /// Drops the connection without a close (a cut).
    pub fn cut(self) {
        drop(self);
    }
}

/// A host record as the agent sends it.
pub fn host(ip: [u8; 4]) -> ksocket_proto::records::Host {
    let mut h = ksocket_proto::records::Host::new(std::net::Ipv4Addr::from(ip));
    h.seen(ksocket_proto::records::Provenance::Arp);
    h
}
