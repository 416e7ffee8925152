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

use crate::cipher::{self, Direction};
pub use crate::kex::Negotiated;
use crate::kex::{self, Ephemeral, HashAlg};
use crate::keys::PublicKey;
use crate::wire::{Reader, Write};
use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
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

    /// Consumes bytes of the identification phase; returns how many.
    fn read_version(&mut self, data: &[u8]) -> Result<usize, TransportError> {
        let (take, eol) = match data.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (data.len(), false),
        };
        self.version_bytes += take;
        if self.version_bytes > MAX_PRE_VERSION_BYTES {
            return Err(TransportError::Version(format!(
                "server sent no SSH-2.0 identification in its first {MAX_PRE_VERSION_BYTES} bytes"
            )));
        }
        self.line.extend_from_slice(&data[..take]);
        if !eol {
            if self.line.starts_with(b"SSH-") && self.line.len() > MAX_VERSION_LINE {
                return Err(TransportError::Version(
                    "identification line longer than 255 bytes".into(),
                ));
            }
            return Ok(take);
        }
        let mut line = std::mem::take(&mut self.line);
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.starts_with(b"SSH-") {
            if line.len() + 2 > MAX_VERSION_LINE {
                return Err(TransportError::Version(
                    "identification line longer than 255 bytes".into(),
                ));
            }
            if !line.iter().all(|b| (0x20..0x7f).contains(b)) {
                return Err(TransportError::Version(
                    "identification line holds non-printable bytes".into(),
                ));
            }
            let s = String::from_utf8_lossy(&line).into_owned();
            if !(s.starts_with("SSH-2.0-") || s.starts_with("SSH-1.99-")) {
                let shown: String = s.chars().take(64).collect();
                return Err(TransportError::Version(format!(
                    "server does not speak SSH 2.0 ({shown})"
                )));
            }
            self.server_version = Some(s);
            self.phase = Phase::Packets;
        } else {
            self.lines += 1;
            if self.lines > MAX_PRE_VERSION_LINES {
                return Err(TransportError::Version(format!(
                    "server sent no SSH-2.0 identification in its first {MAX_PRE_VERSION_LINES} lines"
                )));
            }
        }
        Ok(take)
    }

    /// Consumes bytes of packets; returns how many. Buffers at most one packet, after
    /// its length is checked.
    fn read_packet(&mut self, data: &[u8]) -> Result<usize, TransportError> {
        let need = match self.in_len {
            None => self.rx.head_len(),
            Some(len) => 4 + len + self.rx.tag_len(),
        };
        let take = need.saturating_sub(self.inbuf.len()).min(data.len());
        self.inbuf.extend_from_slice(&data[..take]);
        if self.inbuf.len() < need {
            return Ok(take);
        }
        if self.in_len.is_none() {
            let head = self.rx.head_len();
            let len = self.rx.read_length(self.rx_seq, &mut self.inbuf[..head]) as usize;
            self.check_length(len)?;
            self.in_len = Some(len);
            self.inbuf
                .reserve_exact((4 + len + self.rx.tag_len()).saturating_sub(self.inbuf.len()));
            if self.inbuf.len() < 4 + len + self.rx.tag_len() {
                return Ok(take);
            }
        }
        let len = self.in_len.take().unwrap_or(0);
        let mut pkt = std::mem::take(&mut self.inbuf);
        self.rx
            .open(self.rx_seq, &mut pkt)
            .map_err(|_| TransportError::Mac)?;
        let padding = usize::from(*pkt.get(4).ok_or_else(|| protocol("short packet"))?);
        if padding < 4 || padding + 1 >= len {
            return Err(protocol(format!(
                "bad padding length {padding} in a packet of {len} bytes"
            )));
        }
        let payload = pkt
            .get(5..4 + len - padding)
            .ok_or_else(|| protocol("short packet"))?
            .to_vec();
        pkt.clear();
        self.inbuf = pkt;
        let seq = self.rx_seq;
        self.rx_seq = self.rx_seq.wrapping_add(1);
        if self.rx_seq == 0 && !self.ready {
            return Err(protocol(
                "sequence number wrapped during the initial key exchange",
            ));
        }
        self.rx_bytes += (4 + len) as u64;
        self.rx_packets += 1;
        self.rx_total += 1;
        self.handle(seq, payload)?;
        if self.out.len() > 2 * MAX_BACKLOG {
            return Err(TransportError::Backlog("output the caller has not written"));
        }
        self.maybe_rekey();
        Ok(take)
    }

    fn check_length(&self, len: usize) -> Result<(), TransportError> {
        if len > self.cfg.max_packet {
            return Err(TransportError::PacketTooLarge(len));
        }
        if len < 5 {
            return Err(protocol(format!("packet length {len} is too small")));
        }
        let bs = self.rx.block();
        let covered = if self.rx.length_apart() { len } else { len + 4 };
        if covered % bs != 0 {
            return Err(protocol(format!(
                "packet length {len} is not a multiple of the cipher block ({bs})"
            )));
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

    fn start_kex(&mut self) {
        let mut cookie = [0u8; 16];
        self.rng.fill_bytes(&mut cookie);
        let ours = kex::build_kexinit(cookie, self.cfg.legacy, self.session_id.is_none());
        self.send_packet(&ours);
        self.kex = Some(Kex {
            ours,
            theirs: None,
            neg: None,
            eph: None,
            ignore_guess: false,
            new_rx: None,
        });
    }

    fn maybe_rekey(&mut self) {
        if self.kex.is_some() || !self.ready || self.phase != Phase::Packets {
            return;
        }
        let c = &self.cfg;
        if self.tx_bytes >= c.rekey_bytes
            || self.rx_bytes >= c.rekey_bytes
            || self.tx_packets >= c.rekey_packets
            || self.rx_packets >= c.rekey_packets
        {
            self.start_kex();
        }
    }

    fn on_kexinit(&mut self, payload: Vec<u8>) -> Result<(), TransportError> {
        if self.kex.as_ref().is_some_and(|k| k.theirs.is_some()) {
            return Err(protocol("second KEXINIT during a key exchange"));
        }
        let first = self.session_id.is_none();
        let theirs = kex::parse_kexinit(&payload).map_err(|m| protocol(m.to_string()))?;
        let mut neg = kex::negotiate(&theirs, self.cfg.legacy).map_err(|e| {
            TransportError::NoCommonAlgorithm {
                what: e.what,
                server_offers: e.server_offers,
            }
        })?;
        if first {
            self.strict = neg.strict_kex;
            if self.strict && self.rx_total > 1 {
                return Err(protocol(
                    "KEXINIT was not the server's first packet (strict KEX)",
                ));
            }
        } else {
            neg.strict_kex = self.strict;
        }
        let ignore_guess = kex::guess_was_wrong(&theirs, &neg);
        if self.kex.is_none() {
            self.start_kex();
        }
        let (eph, init) = Ephemeral::new(neg.kex, &mut self.rng);
        self.send_packet(&init);
        if let Some(k) = self.kex.as_mut() {
            k.theirs = Some(payload);
            k.neg = Some(neg);
            k.eph = Some(eph);
            k.ignore_guess = ignore_guess;
        }
        Ok(())
    }

    fn on_kex_message(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        let Some(k) = self.kex.as_mut() else {
            return Err(protocol("key exchange message outside a key exchange"));
        };
        if k.ignore_guess {
            k.ignore_guess = false;
            return Ok(());
        }
        let (Some(neg), Some(theirs)) = (k.neg.clone(), k.theirs.as_ref()) else {
            return Err(protocol("key exchange message before KEXINIT"));
        };
        if payload.first() != Some(&kex::MSG_KEX_REPLY) || k.new_rx.is_some() {
            return Err(protocol(format!(
                "unexpected key exchange message {}",
                payload.first().copied().unwrap_or(0)
            )));
        }
        let Some(eph) = k.eph.take() else {
            return Err(protocol("key exchange reply without our INIT"));
        };
        let reply = kex::parse_reply(neg.kex, payload).map_err(|m| protocol(m.to_string()))?;
        let shared = eph.shared(reply.server_public).map_err(|f| match f {
            kex::KexFailure::Malformed(m) => protocol(m.to_string()),
            kex::KexFailure::BadPublic(s) => protocol(s),
        })?;
        let hash = HashAlg::of(neg.kex);
        let v_s = self.server_version.as_deref().unwrap_or("").as_bytes();
        let v_c = self.cfg.client_version.replace(['\r', '\n'], "");
        let h = kex::exchange_hash(
            hash,
            v_c.as_bytes(),
            v_s,
            &k.ours,
            theirs,
            reply.host_key,
            &eph,
            reply.server_public,
            &shared,
        );
        drop(eph);
        let key = PublicKey::from_blob(reply.host_key)
            .map_err(|e| TransportError::HostKeySignature(e.to_string()))?;
        if !key_fits(key.key_type(), neg.host_key_algorithm) {
            return Err(TransportError::HostKeySignature(format!(
                "server sent a {} key for algorithm {}",
                key.key_type(),
                neg.host_key_algorithm
            )));
        }
        key.verify(neg.host_key_algorithm, &h, reply.signature)
            .map_err(|e| {
                TransportError::HostKeySignature(format!("signature over the exchange hash: {e}"))
            })?;
        let first = self.session_id.is_none();
        if first {
            self.session_id = Some(h.clone());
            self.host_key = Some(key.clone());
            self.events.push_back(TransportEvent::HostKey {
                key,
                algorithm: neg.host_key_algorithm,
            });
        } else if self.host_key.as_ref().map(|k| k.blob()) != Some(key.blob()) {
            return Err(TransportError::HostKeyChanged);
        }
        let sid = self.session_id.clone().unwrap_or_default();
        let bad = |_| protocol("negotiated an unknown cipher");
        let c2s = cipher::cipher_spec(neg.cipher_client_to_server)
            .ok_or(())
            .map_err(bad)?;
        let s2c = cipher::cipher_spec(neg.cipher_server_to_client)
            .ok_or(())
            .map_err(bad)?;
        let m_c2s = neg.mac_client_to_server.and_then(cipher::mac_spec);
        let m_s2c = neg.mac_server_to_client.and_then(cipher::mac_spec);
        let d = kex::derive_all(hash, &shared, &h, &sid, c2s, s2c, m_c2s, m_s2c);
        let new_tx = Direction::new(c2s, m_c2s, &d.key_c2s, &d.iv_c2s, &d.mac_c2s)
            .map_err(|_| protocol("key setup failed"))?;
        let new_rx = Direction::new(s2c, m_s2c, &d.key_s2c, &d.iv_s2c, &d.mac_s2c)
            .map_err(|_| protocol("key setup failed"))?;
        if let Some(k) = self.kex.as_mut() {
            k.new_rx = Some(new_rx);
        }
        // NEWKEYS goes out under the old keys; everything after under the new.
        self.send_packet(&[kex::MSG_NEWKEYS]);
        self.tx = new_tx;
        if self.strict {
            self.tx_seq = 0;
        }
        self.tx_bytes = 0;
        self.tx_packets = 0;
        while let Some(p) = self.queued.pop_front() {
            self.queued_bytes = self.queued_bytes.saturating_sub(p.len());
            self.send_packet(&p);
        }
        Ok(())
    }

    fn on_newkeys(&mut self) -> Result<(), TransportError> {
        let Some(new_rx) = self.kex.as_mut().and_then(|k| k.new_rx.take()) else {
            return Err(protocol("NEWKEYS before the key exchange reply"));
        };
        let neg = self.kex.take().and_then(|k| k.neg);
        self.rx = new_rx;
        if self.strict {
            self.rx_seq = 0;
        }
        self.rx_bytes = 0;
        self.rx_packets = 0;
        self.exchanges += 1;
        if let Some(n) = neg {
            if n.kex == kex::KEX_LEGACY && !self.legacy_seen.contains(&kex::KEX_LEGACY) {
                self.legacy_seen.push(kex::KEX_LEGACY);
            }
            if n.host_key_algorithm == kex::HOST_KEY_LEGACY
                && !self.legacy_seen.contains(&kex::HOST_KEY_LEGACY)
            {
                self.legacy_seen.push(kex::HOST_KEY_LEGACY);
            }
            self.negotiated = Some(n);
        }
        if !self.ready {
            self.ready = true;
            self.events.push_back(TransportEvent::Ready);
        }
        Ok(())
    }

    /// Frames, protects and queues one packet.
    fn send_packet(&mut self, payload: &[u8]) {
        let bs = self.tx.block();
        let fixed = if self.tx.length_apart() { 1 } else { 5 };
        let mut pad = bs - (fixed + payload.len()) % bs;
        if pad < 4 {
            pad += bs;
        }
        let len = 1 + payload.len() + pad;
        let mut p = Vec::with_capacity(4 + len + self.tx.tag_len());
        p.put_u32(len as u32);
        p.put_u8(pad as u8);
        p.extend_from_slice(payload);
        let at = p.len();
        p.resize(at + pad, 0);
        self.rng.fill_bytes(&mut p[at..]);
        self.tx.seal(self.tx_seq, &mut p);
        self.out.extend_from_slice(&p);
        self.tx_seq = self.tx_seq.wrapping_add(1);
        self.tx_bytes += (4 + len) as u64;
        self.tx_packets += 1;
    }
}

/// Whether a host key of type `key_type` can sign with `algorithm`.
fn key_fits(key_type: &str, algorithm: &str) -> bool {
    match algorithm {
        "rsa-sha2-256" | "rsa-sha2-512" | "ssh-rsa" => key_type == "ssh-rsa",
        a => key_type == a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kex::{MSG_KEX_INIT, MSG_KEX_REPLY, MSG_KEXINIT, MSG_NEWKEYS};
    use ed25519_dalek::Signer;

    /// A cleartext packet (before the first NEWKEYS).
    fn clear_packet(payload: &[u8]) -> Vec<u8> {
        let mut d = Direction::clear();
        frame(&mut d, 0, payload)
    }

    fn frame(d: &mut Direction, seq: u32, payload: &[u8]) -> Vec<u8> {
        let bs = d.block();
        let fixed = if d.length_apart() { 1 } else { 5 };
        let mut pad = bs - (fixed + payload.len()) % bs;
        if pad < 4 {
            pad += bs;
        }
        let mut p = Vec::new();
        p.put_u32((1 + payload.len() + pad) as u32);
        p.put_u8(pad as u8);
        p.extend_from_slice(payload);
        p.resize(p.len() + pad, 0);
        d.seal(seq, &mut p);
        p
    }

    fn server_kexinit(kex: &str, cipher: &str) -> Vec<u8> {
        let mut p = vec![MSG_KEXINIT];
        p.extend_from_slice(&[1; 16]);
        for l in [
            kex,
            "ssh-ed25519",
            cipher,
            cipher,
            "hmac-sha2-256-etm@openssh.com",
            "hmac-sha2-256-etm@openssh.com",
            "none",
            "none",
            "",
            "",
        ] {
            p.put_string(l.as_bytes());
        }
        p.put_bool(false);
        p.put_u32(0);
        p
    }

    /// A minimal SSH server: curve25519-sha256, an Ed25519 host key, the cipher given;
    /// answers SERVICE_REQUEST and global requests.
    struct Server {
        strict: bool,
        kex: String,
        cipher: String,
        host: ed25519_dalek::SigningKey,
        tx: Direction,
        rx: Direction,
        tx_seq: u32,
        rx_seq: u32,
        next_rx: Option<Direction>,
        buf: Vec<u8>,
        out: Vec<u8>,
        v_c: Option<Vec<u8>>,
        i_c: Vec<u8>,
        i_s: Vec<u8>,
        session_id: Option<Vec<u8>>,
        /// Sent its KEXINIT for the exchange in progress.
        in_kex: bool,
        kexes: u32,
        got: Vec<u8>,
        /// Sign the exchange hash with another key than the one presented.
        forge: bool,
    }

    impl Server {
        fn new(strict: bool, cipher: &str) -> Server {
            let kex = if strict {
                "curve25519-sha256,kex-strict-s-v00@openssh.com"
            } else {
                "curve25519-sha256"
            };
            let mut s = Server {
                strict,
                kex: kex.into(),
                cipher: cipher.into(),
                host: ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
                tx: Direction::clear(),
                rx: Direction::clear(),
                tx_seq: 0,
                rx_seq: 0,
                next_rx: None,
                buf: Vec::new(),
                out: b"SSH-2.0-Fake_1.0\r\n".to_vec(),
                v_c: None,
                i_c: Vec::new(),
                i_s: Vec::new(),
                session_id: None,
                in_kex: false,
                kexes: 0,
                got: Vec::new(),
                forge: false,
            };
            s.send_kexinit();
            s
        }

        fn send_kexinit(&mut self) {
            self.i_s = server_kexinit(&self.kex, &self.cipher);
            let p = self.i_s.clone();
            self.send(&p);
            self.in_kex = true;
        }

        /// A KEXINIT whose first kex is not the one negotiated, with
        /// first_kex_packet_follows set, then the (wrong) guessed packet.
        fn send_kexinit_with_wrong_guess(&mut self) {
            let mut p = server_kexinit("ecdh-sha2-nistp256,curve25519-sha256", &self.cipher);
            let n = p.len();
            p[n - 5] = 1;
            self.i_s = p.clone();
            self.send(&p);
            self.in_kex = true;
            let mut guess = vec![MSG_KEX_INIT];
            guess.put_string(&[4; 65]);
            self.send(&guess);
        }

        fn send(&mut self, payload: &[u8]) {
            let p = frame(&mut self.tx, self.tx_seq, payload);
            self.tx_seq = self.tx_seq.wrapping_add(1);
            self.out.extend_from_slice(&p);
        }

        fn host_blob(&self) -> Vec<u8> {
            let mut b = Vec::new();
            b.put_string(b"ssh-ed25519");
            b.put_string(self.host.verifying_key().as_bytes());
            b
        }

        /// Takes the client's bytes, answers into `out`.
        fn feed(&mut self, data: &[u8]) {
            self.buf.extend_from_slice(data);
            if self.v_c.is_none() {
                let Some(i) = self.buf.iter().position(|&b| b == b'\n') else {
                    return;
                };
                let line = self.buf[..i - 1].to_vec();
                self.buf.drain(..=i);
                self.v_c = Some(line);
            }
            loop {
                let head = self.rx.head_len();
                if self.buf.len() < head {
                    return;
                }
                let mut probe = self.buf[..head].to_vec();
                // read_length may decrypt (CTR); work on a copy of the whole packet.
                let mut rx_probe_len = [0u8; 4];
                rx_probe_len.copy_from_slice(&probe[..4]);
                let len = if self.rx.name() == "none"
                    || self.rx.length_apart() && self.rx.name() != "chacha20-poly1305@openssh.com"
                {
                    u32::from_be_bytes(rx_probe_len) as usize
                } else {
                    self.rx.read_length(self.rx_seq, &mut probe) as usize
                };
                let total = 4 + len + self.rx.tag_len();
                if self.buf.len() < total {
                    return;
                }
                let mut pkt: Vec<u8> = self.buf.drain(..total).collect();
                self.rx
                    .open(self.rx_seq, &mut pkt)
                    .expect("client packet authentic");
                self.rx_seq = self.rx_seq.wrapping_add(1);
                let pad = pkt[4] as usize;
                let payload = pkt[5..4 + len - pad].to_vec();
                self.handle(payload);
            }
        }

        fn handle(&mut self, p: Vec<u8>) {
            self.got.push(p[0]);
            match p[0] {
                MSG_KEXINIT => {
                    self.i_c = p;
                    if !self.in_kex {
                        self.send_kexinit();
                    }
                }
                MSG_KEX_INIT => {
                    let mut r = Reader::new(&p[1..]);
                    let q_c: [u8; 32] = r.string("q").unwrap().try_into().unwrap();
                    let eph = x25519_dalek::StaticSecret::from([9u8; 32]);
                    let q_s = x25519_dalek::PublicKey::from(&eph);
                    let shared = eph.diffie_hellman(&x25519_dalek::PublicKey::from(q_c));
                    let mut k = Vec::new();
                    k.put_mpint(shared.as_bytes());
                    let (mut qc_enc, mut qs_enc) = (Vec::new(), Vec::new());
                    qc_enc.put_string(&q_c);
                    qs_enc.put_string(q_s.as_bytes());
                    let blob = self.host_blob();
                    let v_c = self.v_c.clone().unwrap();
                    let h = kex::exchange_hash_encoded(
                        HashAlg::Sha256,
                        &v_c,
                        b"SSH-2.0-Fake_1.0",
                        &self.i_c,
                        &self.i_s,
                        &blob,
                        &qc_enc,
                        &qs_enc,
                        &k,
                    );
                    let sid = self.session_id.get_or_insert_with(|| h.clone()).clone();
                    let mut sig = Vec::new();
                    sig.put_string(b"ssh-ed25519");
                    let signer = if self.forge {
                        ed25519_dalek::SigningKey::from_bytes(&[8; 32])
                    } else {
                        self.host.clone()
                    };
                    sig.put_string(&signer.sign(&h).to_bytes());
                    let mut reply = vec![MSG_KEX_REPLY];
                    reply.put_string(&blob);
                    reply.put_string(q_s.as_bytes());
                    reply.put_string(&sig);
                    self.send(&reply);
                    self.send(&[MSG_NEWKEYS]);
                    let c = cipher::cipher_spec(&self.cipher).unwrap();
                    let m = if c.aead {
                        None
                    } else {
                        cipher::mac_spec("hmac-sha2-256-etm@openssh.com")
                    };
                    let d = kex::derive_all(HashAlg::Sha256, &k, &h, &sid, c, c, m, m);
                    self.tx = Direction::new(c, m, &d.key_s2c, &d.iv_s2c, &d.mac_s2c).unwrap();
                    self.next_rx =
                        Some(Direction::new(c, m, &d.key_c2s, &d.iv_c2s, &d.mac_c2s).unwrap());
                    if self.strict {
                        self.tx_seq = 0;
                    }
                }
                MSG_NEWKEYS => {
                    self.rx = self.next_rx.take().expect("NEWKEYS after reply");
                    if self.strict {
                        self.rx_seq = 0;
                    }
                    self.in_kex = false;
                    self.kexes += 1;
                }
                MSG_SERVICE_REQUEST => {
                    let mut a = vec![MSG_SERVICE_ACCEPT];
                    a.put_string(b"ssh-userauth");
                    self.send(&a);
                }
                80 => self.send(&[82]),
                _ => {}
            }
        }
    }

    fn pump(c: &mut Transport, s: &mut Server) -> Vec<TransportEvent> {
        let mut events = Vec::new();
        for _ in 0..20 {
            let out = c.output().to_vec();
            c.consume_output(out.len());
            s.feed(&out);
            let back = std::mem::take(&mut s.out);
            if out.is_empty() && back.is_empty() {
                break;
            }
            c.input(&back).expect("client accepts the server's bytes");
            while let Some(e) = c.poll() {
                events.push(e);
            }
        }
        events
    }

    fn names(events: &[TransportEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                TransportEvent::HostKey { algorithm, .. } => format!("hostkey {algorithm}"),
                TransportEvent::Ready => "ready".into(),
                TransportEvent::Payload(p) => format!("payload {}", p[0]),
                TransportEvent::Disconnected { reason, .. } => format!("disconnected {reason}"),
            })
            .collect()
    }

    #[test]
    fn full_exchange_with_every_cipher_strict_or_not_and_rekeys() {
        for cipher in [
            "chacha20-poly1305@openssh.com",
            "aes256-gcm@openssh.com",
            "aes128-gcm@openssh.com",
            "aes128-ctr",
            "aes256-ctr",
        ] {
            for strict in [true, false] {
                let mut c = Transport::new(
                    TransportConfig {
                        rekey_packets: 5,
                        ..TransportConfig::default()
                    },
                    [5; 32],
                );
                let mut s = Server::new(strict, cipher);
                // Queued before the exchange, sent after NEWKEYS.
                let mut req = vec![MSG_SERVICE_REQUEST];
                req.put_string(b"ssh-userauth");
                c.send(&req).unwrap();
                let ev = pump(&mut c, &mut s);
                assert_eq!(
                    names(&ev),
                    ["hostkey ssh-ed25519", "ready", "payload 6"],
                    "{cipher} strict={strict}"
                );
                assert!(c.is_ready());
                let n = c.negotiated().unwrap();
                assert_eq!((n.cipher_client_to_server, n.strict_kex), (cipher, strict));
                // Global requests: the 5-packet limit forces client-initiated re-exchanges.
                for _ in 0..12 {
                    let mut g = vec![80u8];
                    g.put_string(b"keepalive@openssh.com");
                    g.put_bool(true);
                    c.send(&g).unwrap();
                    let ev = pump(&mut c, &mut s);
                    assert_eq!(names(&ev), ["payload 82"], "{cipher} strict={strict}");
                }
                assert!(
                    c.key_exchanges() >= 3,
                    "{cipher}: {} exchanges",
                    c.key_exchanges()
                );
                assert_eq!(c.key_exchanges(), u64::from(s.kexes));
                // Caller-initiated.
                let before = c.key_exchanges();
                c.rekey();
                assert!(c.in_key_exchange());
                pump(&mut c, &mut s);
                assert_eq!(c.key_exchanges(), before + 1);
                // Server-initiated.
                let before = c.key_exchanges();
                s.send_kexinit();
                pump(&mut c, &mut s);
                assert_eq!(c.key_exchanges(), before + 1);
                assert!(c.legacy_used().is_empty());
            }
        }
    }

    #[test]
    fn a_wrong_guess_of_the_server_is_skipped() {
        let mut c = Transport::new(TransportConfig::default(), [4; 32]);
        let mut s = Server::new(false, "aes256-gcm@openssh.com");
        s.out.truncate(b"SSH-2.0-Fake_1.0\r\n".len());
        s.tx_seq = 0;
        s.send_kexinit_with_wrong_guess();
        let ev = pump(&mut c, &mut s);
        assert_eq!(names(&ev), ["hostkey ssh-ed25519", "ready"]);
        assert_eq!(c.negotiated().map(|n| n.kex), Some("curve25519-sha256"));
    }

    #[test]
    fn a_bad_host_signature_or_a_changed_host_key_is_refused() {
        let mut c = Transport::new(TransportConfig::default(), [1; 32]);
        let mut s = Server::new(true, "aes128-ctr");
        s.forge = true;
        let out = c.output().to_vec();
        c.consume_output(out.len());
        s.feed(&out);
        let back = std::mem::take(&mut s.out);
        c.input(&back).unwrap();
        let out = c.output().to_vec();
        c.consume_output(out.len());
        s.feed(&out);
        let back = std::mem::take(&mut s.out);
        assert!(matches!(
            c.input(&back),
            Err(TransportError::HostKeySignature(_))
        ));
        assert!(c.poll().is_none(), "no HostKey event for an unverified key");
        assert!(!c.is_ready());

        let mut c = Transport::new(TransportConfig::default(), [1; 32]);
        let mut s = Server::new(true, "aes128-ctr");
        pump(&mut c, &mut s);
        assert!(c.is_ready());
        // Re-exchange with another host key.
        s.host = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
        s.send_kexinit();
        let out = c.output().to_vec();
        s.feed(&out);
        let back = std::mem::take(&mut s.out);
        c.input(&back).unwrap();
        let out = c.output().to_vec();
        c.consume_output(out.len());
        s.feed(&out);
        let back = std::mem::take(&mut s.out);
        assert_eq!(c.input(&back), Err(TransportError::HostKeyChanged));
        assert_eq!(c.input(b"x"), Err(TransportError::Closed));
        assert!(c.send(&[50]).is_err());
    }

    fn after_version(server_packets: &[Vec<u8>]) -> (Transport, Result<(), TransportError>) {
        let mut c = Transport::new(TransportConfig::default(), [2; 32]);
        let mut data = b"SSH-2.0-Test\r\n".to_vec();
        for p in server_packets {
            data.extend_from_slice(p);
        }
        let r = c.input(&data);
        (c, r)
    }

    #[test]
    fn identification_rules() {
        let ok = |s: &[u8]| {
            let mut c = Transport::new(TransportConfig::default(), [0; 32]);
            // Byte by byte: any split works.
            for b in s {
                c.input(&[*b])?;
            }
            Ok::<_, TransportError>(c.server_version().map(str::to_string))
        };
        assert_eq!(
            ok(b"hello\r\nworld\nSSH-2.0-OpenSSH_9.2 Debian\r\n")
                .unwrap()
                .as_deref(),
            Some("SSH-2.0-OpenSSH_9.2 Debian")
        );
        assert_eq!(
            ok(b"SSH-1.99-Old\n").unwrap().as_deref(),
            Some("SSH-1.99-Old")
        );
        assert!(matches!(
            ok(b"SSH-1.5-Old\r\n"),
            Err(TransportError::Version(_))
        ));
        let many = "banner\r\n".repeat(MAX_PRE_VERSION_LINES + 1) + "SSH-2.0-x\r\n";
        assert!(matches!(
            ok(many.as_bytes()),
            Err(TransportError::Version(_))
        ));
        let long = vec![b'a'; MAX_PRE_VERSION_BYTES + 1];
        assert!(matches!(ok(&long), Err(TransportError::Version(_))));
        let mut longv = b"SSH-2.0-".to_vec();
        longv.resize(300, b'x');
        assert!(matches!(ok(&longv), Err(TransportError::Version(_))));
        assert!(matches!(
            ok(b"SSH-2.0-\x01bad\r\n"),
            Err(TransportError::Version(_))
        ));
        let e = TransportError::Version("server sent no SSH-2.0 identification".into());
        assert_eq!(
            e.to_string(),
            "SSH identification: server sent no SSH-2.0 identification"
        );
    }

    #[test]
    fn we_open_with_our_version_and_kexinit() {
        let c = Transport::new(
            TransportConfig {
                client_version: "SSH-2.0-ksocket_test".into(),
                ..TransportConfig::default()
            },
            [0; 32],
        );
        let out = c.output();
        assert!(out.starts_with(b"SSH-2.0-ksocket_test\r\n"));
        let pkt = &out[22..];
        let len = u32::from_be_bytes([pkt[0], pkt[1], pkt[2], pkt[3]]) as usize;
        assert_eq!(pkt.len(), 4 + len);
        let pad = pkt[4] as usize;
        let k = kex::parse_kexinit(&pkt[5..4 + len - pad]).unwrap();
        assert!(k.kex.contains("kex-strict-c-v00@openssh.com") && k.kex.contains("ext-info-c"));
    }

    #[test]
    fn hostile_lengths_and_paddings_are_errors() {
        let (_, r) = after_version(&[vec![0xff, 0xff, 0xff, 0xff]]);
        assert_eq!(r, Err(TransportError::PacketTooLarge(0xffff_ffff)));
        let (_, r) = after_version(&[vec![0, 0, 0, 1, 0]]);
        assert!(matches!(r, Err(TransportError::Protocol(_))));
        // Not a multiple of 8 with the length.
        let (_, r) = after_version(&[vec![0, 0, 0, 9, 4, 1, 2, 3, 4, 5, 6, 7, 8]]);
        assert!(matches!(r, Err(TransportError::Protocol(_))));
        // Padding length 3 (< 4), and padding swallowing the payload.
        let (_, r) = after_version(&[vec![0, 0, 0, 12, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
        assert!(matches!(r, Err(TransportError::Protocol(_))));
        let (_, r) = after_version(&[vec![0, 0, 0, 12, 11, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
        assert!(matches!(r, Err(TransportError::Protocol(_))));
        // A big length within the limit is not allocated before it arrives.
        let (c, r) = after_version(&[vec![0, 3, 0xff, 0xfc]]);
        assert!(r.is_ok());
        assert!(c.inbuf.capacity() <= 4 + 0x3fffc + 64);
        let (_, r) = after_version(&[clear_packet(&[50, 1, 2])]);
        assert!(
            matches!(r, Err(TransportError::Protocol(s)) if s.contains("before the key exchange"))
        );
        let (_, r) = after_version(&[clear_packet(&server_kexinit(
            "diffie-hellman-group1-sha1",
            "aes128-ctr",
        ))]);
        assert!(matches!(
            r,
            Err(TransportError::NoCommonAlgorithm {
                what: "key exchange",
                ..
            })
        ));
        let mut garbage = server_kexinit("curve25519-sha256", "aes128-ctr");
        garbage.truncate(40);
        let (_, r) = after_version(&[clear_packet(&garbage)]);
        assert!(matches!(r, Err(TransportError::Protocol(_))));
    }

    #[test]
    fn strict_kex_refuses_anything_before_or_inside_the_first_exchange() {
        let ignore = clear_packet(&[MSG_IGNORE, 0, 0, 0, 0]);
        let strict = clear_packet(&server_kexinit(
            "curve25519-sha256,kex-strict-s-v00@openssh.com",
            "aes128-ctr",
        ));
        let loose = clear_packet(&server_kexinit("curve25519-sha256", "aes128-ctr"));
        let (_, r) = after_version(&[ignore.clone(), strict.clone()]);
        assert!(matches!(r, Err(TransportError::Protocol(s)) if s.contains("strict")));
        let (_, r) = after_version(&[strict.clone(), ignore.clone()]);
        assert!(matches!(r, Err(TransportError::Protocol(s)) if s.contains("strict")));
        // Without strict KEX an IGNORE is fine, and our KEX_ECDH_INIT goes out.
        let (c, r) = after_version(&[ignore, loose]);
        assert!(r.is_ok());
        assert!(c.kex.as_ref().is_some_and(|k| k.eph.is_some()));
        // A DISCONNECT is reported.
        let mut d = vec![MSG_DISCONNECT];
        d.put_u32(2);
        d.put_string(b"go away");
        d.put_string(b"");
        let (mut c, r) = after_version(&[clear_packet(&d)]);
        assert!(r.is_ok());
        assert!(
            matches!(c.poll(), Some(TransportEvent::Disconnected { reason: 2, description }) if description == "go away")
        );
    }

    #[test]
    fn a_flipped_bit_after_keys_is_a_mac_error() {
        let mut c = Transport::new(TransportConfig::default(), [3; 32]);
        let mut s = Server::new(true, "chacha20-poly1305@openssh.com");
        pump(&mut c, &mut s);
        assert!(c.is_ready());
        s.send(&[80, 0, 0, 0, 0]);
        let mut back = std::mem::take(&mut s.out);
        let n = back.len();
        back[n - 20] ^= 4;
        assert_eq!(c.input(&back), Err(TransportError::Mac));
        // A DISCONNECT (MAC error) is queued for the server.
        assert!(!c.output().is_empty());
    }

    #[test]
    fn send_refuses_transport_messages() {
        let mut c = Transport::new(TransportConfig::default(), [3; 32]);
        assert!(c.send(&[]).is_err());
        assert!(c.send(&[MSG_KEXINIT]).is_err());
        assert!(c.send(&[MSG_NEWKEYS]).is_err());
        let before = c.output().len();
        c.send(&[50]).unwrap();
        assert_eq!(
            c.output().len(),
            before,
            "queued until the exchange is done"
        );
        let big = vec![94u8; MAX_BACKLOG / 4];
        let mut r = Ok(());
        for _ in 0..5 {
            r = r.and(c.send(&big[..200_000]));
        }
        assert!(r.is_ok());
        let mut r = Ok(());
        for _ in 0..30 {
            r = r.and(c.send(&big[..200_000]));
        }
        assert_eq!(
            r,
            Err(TransportError::Backlog(
                "messages queued during the key exchange"
            ))
        );
    }
}
