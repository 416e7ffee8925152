//! Reaching the controller: the endpoint, an HTTP CONNECT proxy, TLS (rustls with
//! ring: the system's roots, a bundled fallback, `connect.caFile`,
//! `connect.pinnedSha256`, `KSOCKET_INSECURE`), and the WebSocket handshake with the
//! token in its `Authorization` header. Each step is its own function so that
//! `ksocket diagnostics connect` can say which one failed.

use crate::config::Connect;
use crate::config::connect::{Endpoint, Proxy, parse_pin};
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::Digest;
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::net::TcpStream;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Whether KSOCKET_INSECURE asks to skip certificate verification.
pub fn insecure() -> bool {
    std::env::var("KSOCKET_INSECURE").is_ok_and(|v| {
        !v.is_empty() && !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "no")
    })
}

/// Where the trusted roots came from.
#[derive(Debug, Clone)]
pub struct Roots {
    pub source: String,
}

/// The system's CA bundles, in the order distributions put them.
const SYSTEM_BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
];

fn add_pem(store: &mut RootCertStore, path: &str) -> Result<usize, String> {
    use rustls::pki_types::pem::PemObject;
    let data = crate::sys::files::read_bounded(std::path::Path::new(path), 16 << 20)
        .map_err(|e| format!("{path}: {e}"))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&data)
        .filter_map(Result::ok)
        .collect();
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("{path}: no certificate in it"));
    }
    Ok(added)
}

/// The roots: SSL_CERT_FILE or the system's bundle, else the bundled Mozilla set;
/// plus `connect.caFile`.
pub fn roots(k: &Connect) -> Result<(RootCertStore, Roots), String> {
    let mut store = RootCertStore::empty();
    let mut source = None;
    let env = std::env::var("SSL_CERT_FILE")
        .ok()
        .filter(|v| !v.is_empty());
    for p in env.iter().map(String::as_str).chain(SYSTEM_BUNDLES) {
        if std::path::Path::new(p).exists()
            && let Ok(n) = add_pem(&mut store, p)
        {
            source = Some(format!("{p} ({n} certificates)"));
            break;
        }
    }
    let mut source = source.unwrap_or_else(|| {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        format!(
            "bundled Mozilla roots ({} certificates; no system bundle found)",
            store.len()
        )
    });
    if !k.ca_file.is_empty() {
        let p = crate::config::expand(&k.ca_file);
        let n = add_pem(&mut store, &p).map_err(|e| format!("connect.caFile {e}"))?;
        source.push_str(&format!(" + connect.caFile {p} ({n})"));
    }
    Ok((store, Roots { source }))
}

/// The TLS configuration of `k`.
pub fn tls_config(k: &Connect) -> Result<ClientConfig, String> {
    // ring, not aws-lc-rs: half the size on armv7 (docs/architecture.md). rustls
    // deprecates ring's provider for lacking post-quantum key exchange, which the
    // controller's peers do not need yet.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let pin = if k.pinned_sha256.is_empty() {
        None
    } else {
        Some(parse_pin(&k.pinned_sha256).ok_or("connect.pinnedSha256 is not a SHA-256 in hex")?)
    };
    let cfg = if insecure() || pin.is_some() {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { pin, provider }))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(k)?.0)
            .with_no_client_auth()
    };
    Ok(cfg)
}

/// The verifier of a pinned certificate (or of none at all, for KSOCKET_INSECURE).
/// Signatures are still checked: the peer must hold the certificate's key.
#[derive(Debug)]
struct Pinned {
    pin: Option<[u8; 32]>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self.pin {
            None => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            Some(p) => {
                let got: [u8; 32] = sha2::Sha256::digest(end_entity.as_ref()).into();
                if got == p {
                    Ok(rustls::client::danger::ServerCertVerified::assertion())
                } else {
                    Err(rustls::Error::General(format!(
                        "the controller's certificate (SHA-256 {}) is not the pinned one \
                         (connect.pinnedSha256)",
                        data_encoding::HEXLOWER.encode(&got)
                    )))
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The byte stream under the WebSocket: TCP, or TLS over TCP.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_close(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}

pub type Ws = async_tungstenite::WebSocketStream<Conn>;

/// Which step of connecting failed, and why.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("resolve {0}: {1}")]
    Dns(String, String),
    #[error("TCP connection to {0}: {1}")]
    Tcp(String, String),
    #[error("proxy {0}: {1}")]
    Proxy(String, String),
    #[error("TLS with {0}: {1}")]
    Tls(String, String),
    #[error("WebSocket handshake with {0}: {1}")]
    WebSocket(String, String),
    #[error("{0}")]
    Config(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Resolves `host:port` (bounded by the caller's timeout).
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, DialError> {
    let target = format!("{host}:{port}");
    let h = host.to_string();
    smol::net::resolve(target.as_str())
        .await
        .map_err(|e| DialError::Dns(h, e.to_string()))
        .and_then(|v| {
            if v.is_empty() {
                Err(DialError::Dns(host.to_string(), "no address".into()))
            } else {
                Ok(v)
            }
        })
}

/// A TCP connection to the first address of `host` that answers.
pub async fn tcp(host: &str, port: u16) -> Result<TcpStream, DialError> {
    let addrs = resolve(host, port).await?;
    let mut last = String::new();
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    Err(DialError::Tcp(format!("{host}:{port}"), last))
}

/// Asks `proxy` (already connected as `s`) for a tunnel to `host:port`.
pub async fn proxy_tunnel(
    s: &mut TcpStream,
    p: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), DialError> {
    let pe = |e: String| DialError::Proxy(format!("{}:{}", p.host, p.port), e);
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(a) = &p.auth {
        req.push_str(&format!("Proxy-Authorization: {a}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| pe(e.to_string()))?;
    // Read the answer's head byte by byte (bounded), leaving the tunnel's bytes.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(pe("an answer head over 16 KiB".into()));
        }
        let n = s.read(&mut b).await.map_err(|e| pe(e.to_string()))?;
        if n == 0 {
            return Err(pe("closed the connection before answering".into()));
        }
        head.push(b[0]);
    }
    let line = String::from_utf8_lossy(&head);
    let status = line.lines().next().unwrap_or("").to_string();
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if code != "200" {
        let why = if code == "407" {
            "refused: proxy authentication required or wrong (HTTP 407)".to_string()
        } else {
            format!(
                "refused the tunnel: `{}`",
                status.chars().take(120).collect::<String>()
            )
        };
        return Err(pe(why));
    }
    Ok(())
}

/// The byte stream to the controller: TCP (through the proxy, if any), then TLS.
pub async fn stream(
    ep: &Endpoint,
    proxy: Option<&Proxy>,
    tls: Option<Arc<ClientConfig>>,
) -> Result<Conn, DialError> {
    let s = match proxy {
        Some(p) => {
            let mut s = tcp(&p.host, p.port).await?;
            proxy_tunnel(&mut s, p, &ep.host, ep.port).await?;
            s
        }
        None => tcp(&ep.host, ep.port).await?,
    };
    if !ep.tls {
        return Ok(Conn::Plain(s));
    }
    let cfg = tls.ok_or_else(|| DialError::Config("no TLS configuration".into()))?;
    let name = ServerName::try_from(ep.host.clone())
        .map_err(|e| DialError::Tls(ep.host.clone(), e.to_string()))?;
    let t = TlsConnector::from(cfg)
        .connect(name, s)
        .await
        .map_err(|e| DialError::Tls(ep.host.clone(), e.to_string()))?;
    Ok(Conn::Tls(Box::new(t)))
}

/// The WebSocket handshake over `conn`, the token in `Authorization`.
pub async fn websocket(ep: &Endpoint, conn: Conn, token: &str) -> Result<Ws, DialError> {
    use async_tungstenite::tungstenite::client::IntoClientRequest;
    use async_tungstenite::tungstenite::http::HeaderValue;
    let we = |e: String| DialError::WebSocket(ep.url(), e);
    let mut req = ep
        .url()
        .into_client_request()
        .map_err(|e| we(e.to_string()))?;
    let auth = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| we("connect.token has characters a header cannot carry".into()))?;
    req.headers_mut().insert("Authorization", auth);
    let ua = format!("ksocket/{}", env!("CARGO_PKG_VERSION"));
    if let Ok(v) = HeaderValue::from_str(&ua) {
        req.headers_mut().insert("User-Agent", v);
    }
    let cfg = async_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(ksocket_proto::messages::MAX_FRAME))
        .max_frame_size(Some(ksocket_proto::messages::MAX_FRAME));
    let (ws, _) = async_tungstenite::client_async_with_config(req, conn, Some(cfg))
        .await
        .map_err(|e| {
            // Never echo the request (it has the token): the error's own text only.
            let m = match e {
                async_tungstenite::tungstenite::Error::Http(r) => {
                    format!("the server answered HTTP {}", r.status())
                }
                e => e.to_string(),
            };
            we(m)
        })?;
    Ok(ws)
}

/// The whole way to an open WebSocket, bounded by `limit`.
pub async fn dial(
    k: &Connect,
    ep: &Endpoint,
    tls: Option<Arc<ClientConfig>>,
    limit: Duration,
) -> Result<Ws, DialError> {
    let proxy = Proxy::for_endpoint(k, ep).map_err(DialError::Config)?;
    let token = k.token.expose().to_string();
    let work = async {
        let conn = stream(ep, proxy.as_ref(), tls).await?;
        websocket(ep, conn, &token).await
    };
    smol::future::or(work, async {
        smol::Timer::after(limit).await;
        Err(DialError::Timeout(limit))
    })
    .await
}
