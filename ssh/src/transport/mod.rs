//! The SSH transport layer (RFC 4253) as a state machine: version exchange, binary
//! packets, key exchange and re-exchange, strict KEX. Bytes in ([`Transport::input`]),
//! bytes out ([`Transport::output`]), events out ([`Transport::poll`]); no socket, no
//! clock, and the only randomness is the 32-byte seed the caller gives, expanded with
//! ChaCha20.
//!
//! Bounds: the identification phase reads at most [`MAX_PRE_VERSION_LINES`] lines and
//! [`MAX_PRE_VERSION_BYTES`] bytes; a packet is buffered only after its length passed
//! the checks (at most `max_packet` plus its MAC); undelivered events and messages
//! queued during a key exchange are capped ([`MAX_BACKLOG`]).
//!
//! By concern: this file holds the state and the dispatch of each message; `ident`
//! reads the server's identification line, `packet` frames, protects and opens binary
//! packets (lengths, padding, sequence numbers, MAC or AEAD), `exchange` runs the key
//! exchange and its re-exchanges.

mod exchange;
mod ident;
mod packet;
#[cfg(test)]
mod tests;

use crate::cipher::Direction;
pub use crate::kex::Negotiated;
use crate::kex::{self, Ephemeral};
use crate::keys::PublicKey;
use crate::wire::{Reader, Write};
use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::VecDeque;
use std::fmt;
use zeroize::Zeroizing;

pub const MSG_DISCONNECT: u8 = 1;
pub const MSG_IGNORE: u8 = 2;
pub const MSG_UNIMPLEMENTED: u8 = 3;
pub const MSG_DEBUG: u8 = 4;
pub const MSG_SERVICE_REQUEST: u8 = 5;
pub const MSG_SERVICE_ACCEPT: u8 = 6;
pub const MSG_EXT_INFO: u8 = 7;

/// SSH_DISCONNECT_* reason codes (RFC 4253 §11.1) the transport itself uses.
pub const DISCONNECT_PROTOCOL_ERROR: u32 = 2;
pub const DISCONNECT_KEY_EXCHANGE_FAILED: u32 = 3;
pub const DISCONNECT_MAC_ERROR: u32 = 5;
pub const DISCONNECT_HOST_KEY_NOT_VERIFIABLE: u32 = 9;
pub const DISCONNECT_BY_APPLICATION: u32 = 11;

/// Lines a server may send before its identification (RFC 4253 §4.2).
pub const MAX_PRE_VERSION_LINES: usize = 32;
/// Bytes a server may send up to the end of its identification line.
pub const MAX_PRE_VERSION_BYTES: usize = 8192;
/// The identification line itself, CR LF included (RFC 4253 §4.2).
pub const MAX_VERSION_LINE: usize = 255;
/// Bytes of undelivered payloads, and separately of messages queued during a key
/// exchange, past which the transport fails rather than buffer more.
pub const MAX_BACKLOG: usize = 4 << 20;

/// Settings of one connection's transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// Allow diffie-hellman-group14-sha1 and ssh-rsa (SHA-1) host key signatures.
    pub legacy: bool,
    /// Largest packet_length accepted from the server.
    pub max_packet: usize,
    /// Re-exchange keys after this many bytes sent or received with one set of keys.
    pub rekey_bytes: u64,
    /// Re-exchange keys after this many packets sent or received with one set of keys.
    pub rekey_packets: u64,
    /// Our identification line, without CR LF ("SSH-2.0-ksocket_0.1.0").
    pub client_version: String,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            legacy: false,
            max_packet: 256 * 1024,
            rekey_bytes: 1 << 30,
            rekey_packets: 1 << 31,
            client_version: format!("SSH-2.0-ksocket_{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// What the transport reports to the connection layer.
#[derive(Debug, Clone)]
pub enum TransportEvent {
    /// The server's host key, once, after its signature over the first exchange hash
    /// verified. The caller checks it (known hosts) before trusting anything else.
    HostKey {
        key: PublicKey,
        algorithm: &'static str,
    },
    /// The first key exchange is done: [`Transport::send`] now goes out encrypted.
    Ready,
    /// A message for the connection layer (message number first), including
    /// SERVICE_ACCEPT and EXT_INFO.
    Payload(Vec<u8>),
    /// The server sent SSH_MSG_DISCONNECT.
    Disconnected { reason: u32, description: String },
}

/// Why the transport stopped. After one, the transport is closed; a DISCONNECT naming
/// the reason may be waiting in [`Transport::output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The identification exchange failed (the message says how).
    Version(String),
    /// The server announced a packet longer than `max_packet`.
    PacketTooLarge(usize),
    /// A packet's MAC or AEAD tag did not verify.
    Mac,
    /// The server broke the protocol (the message says how).
    Protocol(String),
    /// No algorithm both sides support.
    NoCommonAlgorithm {
        what: &'static str,
        server_offers: String,
    },
    /// The host key could not be read, or its signature over the exchange hash did not
    /// verify.
    HostKeySignature(String),
    /// On re-exchange the server presented another host key than the first time.
    HostKeyChanged,
    /// Too much data waiting: payloads not taken with poll, or messages queued during
    /// a key exchange.
    Backlog(&'static str),
    /// The transport was closed (by an earlier error or a DISCONNECT).
    Closed,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Version(s) => write!(f, "SSH identification: {s}"),
            TransportError::PacketTooLarge(n) => write!(
                f,
                "server announced a packet of {n} bytes, more than allowed"
            ),
            TransportError::Mac => write!(
                f,
                "a packet from the server failed its integrity check (MAC)"
            ),
            TransportError::Protocol(s) => write!(f, "SSH protocol error: {s}"),
            TransportError::NoCommonAlgorithm {
                what,
                server_offers,
            } => {
                write!(
                    f,
                    "no common {what} algorithm; the server offers: {server_offers}"
                )
            }
            TransportError::HostKeySignature(s) => write!(f, "host key: {s}"),
            TransportError::HostKeyChanged => write!(
                f,
                "the server presented a different host key on key re-exchange"
            ),
            TransportError::Backlog(s) => write!(f, "too much data waiting: {s}"),
            TransportError::Closed => write!(f, "the SSH connection is closed"),
        }
    }
}

impl std::error::Error for TransportError {}

fn protocol(s: impl Into<String>) -> TransportError {
    TransportError::Protocol(s.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Version,
    Packets,
    Closed,
}

/// One key exchange in progress.
struct Kex {
    /// Our KEXINIT payload.
    ours: Vec<u8>,
    /// The server's KEXINIT payload, once received.
    theirs: Option<Vec<u8>>,
    neg: Option<Negotiated>,
    eph: Option<Ephemeral>,
    /// The server guessed wrong: ignore its next kex packet.
    ignore_guess: bool,
    /// Our NEWKEYS is sent; the server's keys wait for its NEWKEYS.
    new_rx: Option<Direction>,
}

/// A client's SSH transport. See the module documentation.
pub struct Transport {
    cfg: TransportConfig,
    rng: ChaCha20Rng,
    phase: Phase,
    out: Vec<u8>,
    events: VecDeque<TransportEvent>,
    events_bytes: usize,
    // identification
    line: Vec<u8>,
    lines: usize,
    version_bytes: usize,
    server_version: Option<String>,
    // reading
    inbuf: Vec<u8>,
    in_len: Option<usize>,
    rx: Direction,
    rx_seq: u32,
    rx_bytes: u64,
    rx_packets: u64,
    rx_total: u64,
    // writing
    tx: Direction,
    tx_seq: u32,
    tx_bytes: u64,
    tx_packets: u64,
    /// Plaintext (a login's password can wait here): wiped when dropped.
    queued: VecDeque<Zeroizing<Vec<u8>>>,
    queued_bytes: usize,
    // key exchange
    kex: Option<Kex>,
    session_id: Option<Vec<u8>>,
    host_key: Option<PublicKey>,
    negotiated: Option<Negotiated>,
    strict: bool,
    ready: bool,
    /// Closed by an error (input is refused), not by a DISCONNECT (input is ignored).
    failed: bool,
    exchanges: u64,
    legacy_seen: Vec<&'static str>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("phase", &self.phase)
            .field("server_version", &self.server_version)
            .field("negotiated", &self.negotiated)
            .field("ready", &self.ready)
            .field("kex_in_progress", &self.kex.is_some())
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport that has queued our identification line and first KEXINIT.
    /// `entropy` must come from the OS's random source: every ephemeral key, cookie and
    /// padding byte is drawn from it.
    pub fn new(cfg: TransportConfig, entropy: [u8; 32]) -> Transport {
        let mut t = Transport {
            rng: ChaCha20Rng::from_seed(entropy),
            phase: Phase::Version,
            out: Vec::with_capacity(4096),
            events: VecDeque::new(),
            events_bytes: 0,
            line: Vec::new(),
            lines: 0,
            version_bytes: 0,
            server_version: None,
            inbuf: Vec::new(),
            in_len: None,
            rx: Direction::clear(),
            rx_seq: 0,
            rx_bytes: 0,
            rx_packets: 0,
            rx_total: 0,
            tx: Direction::clear(),
            tx_seq: 0,
            tx_bytes: 0,
            tx_packets: 0,
            queued: VecDeque::new(),
            queued_bytes: 0,
            kex: None,
            session_id: None,
            host_key: None,
            negotiated: None,
            strict: false,
            ready: false,
            failed: false,
            exchanges: 0,
            legacy_seen: Vec::new(),
            cfg,
        };
        let v = t.cfg.client_version.replace(['\r', '\n'], "");
        t.out.extend_from_slice(v.as_bytes());
        t.out.extend_from_slice(b"\r\n");
        t.start_kex();
        t
    }

    /// Feeds bytes read from the server, split anywhere. On error the transport is
    /// closed (a DISCONNECT may be queued in [`Self::output`]).
    pub fn input(&mut self, data: &[u8]) -> Result<(), TransportError> {
        match self.phase {
            Phase::Closed => {
                return if self.failed {
                    Err(TransportError::Closed)
                } else {
                    Ok(())
                };
            }
            Phase::Version | Phase::Packets => {}
        }
        let r = self.input_inner(data);
        if let Err(e) = &r {
            self.fail(e);
        }
        r
    }

    /// Bytes waiting to be written to the server.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Marks `n` bytes of [`Self::output`] as written.
    pub fn consume_output(&mut self, n: usize) {
        let n = n.min(self.out.len());
        self.out.drain(..n);
    }

    /// The next event, if any. Call after every [`Self::input`].
    pub fn poll(&mut self) -> Option<TransportEvent> {
        let e = self.events.pop_front()?;
        if let TransportEvent::Payload(p) = &e {
            self.events_bytes = self.events_bytes.saturating_sub(p.len());
        }
        Some(e)
    }

    /// Sends a connection-layer message (message number 5, 6 or 50 and up; IGNORE is
    /// allowed too). While a key exchange runs it is queued and sent, in order, with
    /// the new keys.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        if self.phase == Phase::Closed {
            return Err(TransportError::Closed);
        }
        match payload.first() {
            None => return Err(protocol("empty message")),
            Some(&m)
                if m >= 50
                    || m == MSG_SERVICE_REQUEST
                    || m == MSG_SERVICE_ACCEPT
                    || m == MSG_IGNORE => {}
            Some(&m) => {
                return Err(protocol(format!(
                    "message {m} belongs to the transport, not the connection layer"
                )));
            }
        }
        if payload.len() > self.cfg.max_packet.max(35000) - 64 {
            return Err(protocol(format!(
                "message of {} bytes is too large to send",
                payload.len()
            )));
        }
        let in_kex = self.kex.as_ref().is_some_and(|k| k.new_rx.is_none());
        if in_kex || !self.queued.is_empty() {
            if self.queued_bytes + payload.len() > MAX_BACKLOG {
                return Err(TransportError::Backlog(
                    "messages queued during the key exchange",
                ));
            }
            self.queued_bytes += payload.len();
            self.queued.push_back(Zeroizing::new(payload.to_vec()));
            return Ok(());
        }
        self.send_packet(payload);
        self.maybe_rekey();
        Ok(())
    }

    /// The first key exchange is done and the host key's signature verified.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// H of the first key exchange.
    pub fn session_id(&self) -> Option<&[u8]> {
        self.session_id.as_deref()
    }

    /// The server's identification line, without CR LF.
    pub fn server_version(&self) -> Option<&str> {
        self.server_version.as_deref()
    }

    /// The algorithms of the keys in use (after the first exchange).
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Key exchanges completed on this connection (1 after the first, more after
    /// re-exchanges).
    pub fn key_exchanges(&self) -> u64 {
        self.exchanges
    }

    /// Starts a key re-exchange now (the caller's clock says the keys are old, for
    /// instance). Nothing happens before the first exchange is done or while one runs.
    pub fn rekey(&mut self) {
        if self.kex.is_none() && self.ready && self.phase == Phase::Packets {
            self.start_kex();
        }
    }

    /// Whether a key exchange is in progress.
    pub fn in_key_exchange(&self) -> bool {
        self.kex.is_some()
    }

    /// Legacy (SHA-1) algorithms negotiated in any exchange of this connection.
    pub fn legacy_used(&self) -> Vec<&'static str> {
        self.legacy_seen.clone()
    }

    /// Queues SSH_MSG_DISCONNECT and closes the transport.
    pub fn disconnect(&mut self, reason: u32, description: &str) {
        if self.phase == Phase::Closed {
            return;
        }
        let mut p = Vec::with_capacity(16 + description.len());
        p.put_u8(MSG_DISCONNECT);
        p.put_u32(reason);
        p.put_string(description.as_bytes());
        p.put_string(b"");
        self.send_packet(&p);
        self.phase = Phase::Closed;
    }

    // ---- internals ----

    fn fail(&mut self, e: &TransportError) {
        if self.phase == Phase::Packets {
            let (code, text) = match e {
                TransportError::Mac => (DISCONNECT_MAC_ERROR, "MAC error"),
                TransportError::NoCommonAlgorithm { .. } => {
                    (DISCONNECT_KEY_EXCHANGE_FAILED, "no common algorithm")
                }
                TransportError::HostKeySignature(_) | TransportError::HostKeyChanged => (
                    DISCONNECT_HOST_KEY_NOT_VERIFIABLE,
                    "host key not verifiable",
                ),
                TransportError::Backlog(_) => (DISCONNECT_BY_APPLICATION, "backlog"),
                _ => (DISCONNECT_PROTOCOL_ERROR, "protocol error"),
            };
            self.disconnect(code, text);
        }
        self.phase = Phase::Closed;
        self.failed = true;
        self.inbuf = Vec::new();
        self.queued.clear();
        self.kex = None;
    }

    fn input_inner(&mut self, mut data: &[u8]) -> Result<(), TransportError> {
        while !data.is_empty() {
            match self.phase {
                Phase::Closed => return Ok(()),
                Phase::Version => {
                    let n = self.read_version(data)?;
                    data = &data[n..];
                }
                Phase::Packets => {
                    let n = self.read_packet(data)?;
                    data = &data[n..];
                }
            }
        }
        Ok(())
    }

    /// In the initial key exchange with strict KEX, every message but the exchange's own
    /// is fatal (Terrapin countermeasure).
    fn strict_initial(&self) -> bool {
        self.strict && !self.ready
    }

    fn handle(&mut self, seq: u32, payload: Vec<u8>) -> Result<(), TransportError> {
        let Some(&msg) = payload.first() else {
            return Err(protocol("empty message"));
        };
        // Between the server's KEXINIT and its NEWKEYS.
        let server_in_kex = self.kex.as_ref().is_some_and(|k| k.theirs.is_some());
        match msg {
            MSG_DISCONNECT => {
                let mut r = Reader::new(&payload[1..]);
                let reason = r.u32("DISCONNECT reason").unwrap_or(0);
                let description = r
                    .string("DISCONNECT description")
                    .map(|d| String::from_utf8_lossy(d).chars().take(1024).collect())
                    .unwrap_or_default();
                self.events.push_back(TransportEvent::Disconnected {
                    reason,
                    description,
                });
                self.phase = Phase::Closed;
                Ok(())
            }
            MSG_IGNORE | MSG_DEBUG | MSG_UNIMPLEMENTED => {
                if self.strict_initial() {
                    return Err(protocol(format!(
                        "message {msg} during the initial key exchange (strict KEX)"
                    )));
                }
                Ok(())
            }
            kex::MSG_KEXINIT => self.on_kexinit(payload),
            kex::MSG_NEWKEYS => self.on_newkeys(),
            30..=49 if server_in_kex => self.on_kex_message(&payload),
            _ => {
                if !self.ready {
                    return Err(protocol(format!(
                        "message {msg} before the key exchange finished"
                    )));
                }
                if server_in_kex {
                    return Err(protocol(format!("message {msg} during a key exchange")));
                }
                if msg >= 50
                    || msg == MSG_SERVICE_ACCEPT
                    || msg == MSG_SERVICE_REQUEST
                    || msg == MSG_EXT_INFO
                {
                    self.events_bytes += payload.len();
                    if self.events_bytes > MAX_BACKLOG + self.cfg.max_packet {
                        return Err(TransportError::Backlog(
                            "messages the caller has not taken with poll",
                        ));
                    }
                    self.events.push_back(TransportEvent::Payload(payload));
                } else {
                    let mut p = Vec::with_capacity(5);
                    p.put_u8(MSG_UNIMPLEMENTED);
                    p.put_u32(seq);
                    self.send_packet(&p);
                }
                Ok(())
            }
        }
    }
}
