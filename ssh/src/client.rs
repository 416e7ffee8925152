//! The connection layer, sans-IO: user authentication (RFC 4252) and channels (RFC
//! 4254) over a [`Transport`].
//!
//! [`Connection`] is the protocol without the transport: payloads in, payloads out,
//! events for the caller (so it is tested and fuzzed alone). [`Client`] owns a
//! [`Transport`] and a `Connection` and is what a driver uses: bytes from the socket
//! into [`Client::input`], [`Client::output`] to the socket, [`Client::poll`] for
//! events, calls to authenticate, open channels, run commands.
//!
//! The host key comes first ([`Event::HostKey`]); nothing that belongs to
//! authentication (not even the ssh-userauth service request) leaves before the caller
//! calls [`Client::accept_host_key`]: a password never goes to a host whose key the
//! caller has not checked.

use std::collections::VecDeque;
use std::fmt;

use crate::auth::{self, Secret};
use crate::channel::{self, Channel, ChannelId, ExitSignal, Kind, Msg, Request, State};
use crate::keys::{KeyError, PrivateKey, PublicKey};
use crate::transport::{Transport, TransportConfig, TransportError, TransportEvent};
use crate::wire::Malformed;
use zeroize::Zeroizing;

/// Keyboard-interactive rounds answered before giving up.
pub const MAX_KBD_ROUNDS: u8 = 4;

/// SSH_DISCONNECT_PROTOCOL_ERROR.
const DISCONNECT_PROTOCOL_ERROR: u32 = 2;
/// SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE.
const DISCONNECT_HOST_KEY_NOT_VERIFIABLE: u32 = 9;

/// What an authentication attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    Success,
    /// Refused; `methods` may continue, `partial` if this method succeeded but more are
    /// required.
    Failure {
        methods: Vec<String>,
        partial: bool,
    },
}

/// What happened, for the caller.
#[derive(Debug)]
pub enum Event {
    /// The server's host key, its signature over the exchange verified. Check it, then
    /// [`Client::accept_host_key`].
    HostKey {
        key: PublicKey,
        algorithm: &'static str,
    },
    /// The first key exchange is complete.
    Ready,
    /// A message to show before authentication (cut, control characters dropped).
    Banner(String),
    Auth(AuthOutcome),
    ChannelOpened(ChannelId),
    ChannelOpenFailed {
        channel: ChannelId,
        reason: u32,
        description: String,
    },
    /// The server accepted a request sent with want-reply (exec).
    RequestSuccess(ChannelId),
    RequestFailure(ChannelId),
    /// Data or extended data is buffered: [`Client::data`], [`Client::ext_data`].
    Data(ChannelId),
    ExitStatus {
        channel: ChannelId,
        status: u32,
    },
    ExitSignal {
        channel: ChannelId,
        signal: ExitSignal,
    },
    Eof(ChannelId),
    /// The server closed the channel (our CLOSE has been sent too); its buffered data
    /// stays readable until [`Client::close`] releases it.
    Closed(ChannelId),
    Disconnected {
        reason: u32,
        description: String,
    },
}

/// Why the client stopped or refused a call. Never holds a password.
#[derive(Debug)]
pub enum ClientError {
    Transport(TransportError),
    /// The server broke the protocol (the connection is closed with PROTOCOL_ERROR).
    Protocol(String),
    /// Authentication was asked before the caller accepted the host key (or before
    /// there was one).
    HostKeyNotAccepted,
    /// A re-key presented another host key than the accepted one.
    HostKeyChanged {
        accepted: String,
        presented: String,
    },
    /// The server does not accept this method (it named those it does).
    AuthRefused {
        methods: Vec<String>,
    },
    ChannelOpenFailed {
        reason: u32,
        description: String,
    },
    TooManyChannels,
    NoSuchChannel(ChannelId),
    /// The channel is not open (yet, or any more) for what was asked.
    ChannelNotOpen(ChannelId),
    /// A call the state does not allow (authenticating twice, a channel before
    /// authentication...), named.
    InvalidState(&'static str),
    /// The key's algorithms and the server's server-sig-algs have none in common (an RSA
    /// key, a server that only takes ssh-rsa, legacy off).
    NoSignatureAlgorithm(&'static str),
    Key(KeyError),
    /// The connection is closed (the server disconnected, or an earlier error).
    Closed(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Transport(e) => write!(f, "{e}"),
            ClientError::Protocol(s) => write!(f, "protocol error: {s}"),
            ClientError::HostKeyNotAccepted => {
                write!(
                    f,
                    "the host key has not been accepted: authentication withheld"
                )
            }
            ClientError::HostKeyChanged {
                accepted,
                presented,
            } => write!(
                f,
                "the host key changed during re-key (accepted {accepted}, presented {presented})"
            ),
            ClientError::AuthRefused { methods } => {
                write!(
                    f,
                    "authentication refused (the server accepts: {})",
                    methods.join(",")
                )
            }
            ClientError::ChannelOpenFailed {
                reason,
                description,
            } => {
                write!(
                    f,
                    "channel open refused ({}, {reason}): {description}",
                    open_reason(*reason)
                )
            }
            ClientError::TooManyChannels => {
                write!(
                    f,
                    "too many channels open (at most {})",
                    channel::MAX_CHANNELS
                )
            }
            ClientError::NoSuchChannel(c) => write!(f, "no channel {}", c.0),
            ClientError::ChannelNotOpen(c) => write!(f, "channel {} is not open", c.0),
            ClientError::InvalidState(s) => write!(f, "{s}"),
            ClientError::NoSignatureAlgorithm(t) => write!(
                f,
                "no signature algorithm for this {t} key that the server accepts (ssh-rsa needs legacy)"
            ),
            ClientError::Key(e) => write!(f, "{e}"),
            ClientError::Closed(s) => write!(f, "connection closed: {s}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<TransportError> for ClientError {
    fn from(e: TransportError) -> Self {
        ClientError::Transport(e)
    }
}

impl From<KeyError> for ClientError {
    fn from(e: KeyError) -> Self {
        ClientError::Key(e)
    }
}

/// The name of a CHANNEL_OPEN_FAILURE reason (RFC 4254 §5.1).
pub fn open_reason(reason: u32) -> &'static str {
    match reason {
        1 => "administratively prohibited",
        2 => "connect failed",
        3 => "unknown channel type",
        4 => "resource shortage",
        _ => "unknown reason",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    NotRequested,
    Requested,
    Accepted,
}

/// The authentication attempt in progress. Secrets are zeroed when dropped.
enum Attempt {
    Idle,
    None,
    Password,
    Keyboard {
        password: Secret,
        rounds: u8,
    },
    /// Signed requests still to try (one per signature algorithm), and the algorithm of
    /// the one in flight.
    PublicKey {
        rest: VecDeque<(&'static str, Vec<u8>)>,
        current: &'static str,
    },
}

impl fmt::Debug for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Attempt::Idle => "Idle",
            Attempt::None => "None",
            Attempt::Password => "Password",
            Attempt::Keyboard { .. } => "Keyboard",
            Attempt::PublicKey { .. } => "PublicKey",
        })
    }
}

/// The connection layer without its transport: [`Connection::handle`] takes a payload
/// the transport decrypted; what it sends is queued in [`Connection::take_outgoing`].
pub struct Connection {
    outbox: Vec<Secret>,
    events: VecDeque<Event>,
    host_key_accepted: bool,
    service: Service,
    /// An authentication request waiting for SERVICE_ACCEPT.
    pending: Option<Secret>,
    attempt: Attempt,
    methods: Option<Vec<String>>,
    server_sig_algs: Option<Vec<String>>,
    authenticated: bool,
    channels: Vec<Option<Channel>>,
    legacy_used: Vec<&'static str>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("service", &self.service)
            .field("attempt", &self.attempt)
            .field("authenticated", &self.authenticated)
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

impl Default for Connection {
    fn default() -> Self {
        Connection::new()
    }
}

type Result<T, E = ClientError> = std::result::Result<T, E>;

fn malformed(m: Malformed) -> ClientError {
    ClientError::Protocol(m.to_string())
}

impl Connection {
    pub fn new() -> Connection {
        Connection {
            outbox: Vec::new(),
            events: VecDeque::new(),
            host_key_accepted: false,
            service: Service::NotRequested,
            pending: None,
            attempt: Attempt::Idle,
            methods: None,
            server_sig_algs: None,
            authenticated: false,
            channels: (0..channel::MAX_CHANNELS).map(|_| None).collect(),
            legacy_used: Vec::new(),
        }
    }

    /// Payloads to hand to the transport, in order (each zeroed when dropped).
    pub fn take_outgoing(&mut self) -> Vec<Secret> {
        std::mem::take(&mut self.outbox)
    }

    pub fn poll(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn accept_host_key(&mut self) {
        self.host_key_accepted = true;
    }

    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// The methods the server last said can continue, once it said.
    pub fn auth_methods(&self) -> Option<&[String]> {
        self.methods.as_deref()
    }

    /// The server's server-sig-algs (RFC 8308), once it sent EXT_INFO.
    pub fn server_sig_algs(&self) -> Option<&[String]> {
        self.server_sig_algs.as_deref()
    }

    /// Legacy algorithms this layer used ("ssh-rsa" for user authentication).
    pub fn legacy_used(&self) -> &[&'static str] {
        &self.legacy_used
    }

    // ------------------------------------------------------------ authentication

    fn check_auth_start(&self, method: &str) -> Result<()> {
        if !self.host_key_accepted {
            return Err(ClientError::HostKeyNotAccepted);
        }
        if self.authenticated {
            return Err(ClientError::InvalidState("already authenticated"));
        }
        if !matches!(self.attempt, Attempt::Idle) {
            return Err(ClientError::InvalidState(
                "an authentication attempt is in progress",
            ));
        }
        if let Some(m) = &self.methods
            && method != "none"
            && !m.iter().any(|x| x == method)
        {
            return Err(ClientError::AuthRefused { methods: m.clone() });
        }
        Ok(())
    }

    fn send_auth(&mut self, request: Secret) {
        match self.service {
            Service::Accepted => self.outbox.push(request),
            Service::Requested => self.pending = Some(request),
            Service::NotRequested => {
                self.outbox.push(Zeroizing::new(auth::service_request(
                    auth::SERVICE_USERAUTH,
                )));
                self.service = Service::Requested;
                self.pending = Some(request);
            }
        }
    }

    /// The "none" method: learns which methods the server accepts (or succeeds).
    pub fn auth_none(&mut self, user: &str) -> Result<()> {
        self.check_auth_start("none")?;
        self.attempt = Attempt::None;
        self.send_auth(Zeroizing::new(auth::request_none(user)));
        Ok(())
    }

    pub fn auth_password(&mut self, user: &str, password: &[u8]) -> Result<()> {
        self.check_auth_start("password")?;
        self.attempt = Attempt::Password;
        self.send_auth(auth::request_password(user, password));
        Ok(())
    }

    /// Keyboard-interactive, answering every prompt that mentions a password with
    /// `password` (others empty), for at most [`MAX_KBD_ROUNDS`] rounds.
    pub fn auth_keyboard_interactive(&mut self, user: &str, password: &[u8]) -> Result<()> {
        self.check_auth_start("keyboard-interactive")?;
        self.attempt = Attempt::Keyboard {
            password: Zeroizing::new(password.to_vec()),
            rounds: 0,
        };
        self.send_auth(Zeroizing::new(auth::request_keyboard_interactive(user)));
        Ok(())
    }

    /// Publickey with requests already signed, one per algorithm, best first; the next
    /// is tried when the server refuses one and still offers publickey.
    pub fn auth_publickey_signed(&mut self, requests: Vec<(&'static str, Vec<u8>)>) -> Result<()> {
        self.check_auth_start("publickey")?;
        let mut rest: VecDeque<_> = requests.into();
        let Some((current, first)) = rest.pop_front() else {
            return Err(ClientError::InvalidState("no publickey request to send"));
        };
        self.attempt = Attempt::PublicKey { rest, current };
        self.send_auth(Zeroizing::new(first));
        Ok(())
    }

    fn auth_failed(&mut self, methods: Vec<String>, partial: bool) {
        self.methods = Some(methods.clone());
        self.attempt = Attempt::Idle;
        self.events
            .push_back(Event::Auth(AuthOutcome::Failure { methods, partial }));
    }

    fn handle_auth(&mut self, code: u8, p: &[u8]) -> Result<()> {
        match code {
            auth::MSG_SERVICE_ACCEPT => {
                let name = auth::parse_service_accept(p).map_err(malformed)?;
                if self.service != Service::Requested || name != auth::SERVICE_USERAUTH {
                    return Err(ClientError::Protocol(format!(
                        "unexpected SERVICE_ACCEPT {:?}",
                        auth::text(name.as_bytes(), 64)
                    )));
                }
                self.service = Service::Accepted;
                if let Some(r) = self.pending.take() {
                    self.outbox.push(r);
                }
            }
            auth::MSG_EXT_INFO => {
                if let Some(algs) = auth::parse_ext_info(p).map_err(malformed)? {
                    self.server_sig_algs = Some(algs);
                }
            }
            auth::MSG_USERAUTH_FAILURE => {
                let (methods, partial) = auth::parse_failure(p).map_err(malformed)?;
                match &mut self.attempt {
                    Attempt::Idle => {
                        return Err(ClientError::Protocol(
                            "USERAUTH_FAILURE with no request".into(),
                        ));
                    }
                    Attempt::PublicKey { rest, current }
                        if !partial && methods.iter().any(|m| m == "publickey") =>
                    {
                        if let Some((alg, next)) = rest.pop_front() {
                            *current = alg;
                            self.outbox.push(Zeroizing::new(next));
                            self.methods = Some(methods);
                            return Ok(());
                        }
                        self.auth_failed(methods, partial);
                    }
                    _ => self.auth_failed(methods, partial),
                }
            }
            auth::MSG_USERAUTH_SUCCESS => {
                if matches!(self.attempt, Attempt::Idle) {
                    return Err(ClientError::Protocol(
                        "USERAUTH_SUCCESS with no request".into(),
                    ));
                }
                if let Attempt::PublicKey {
                    current: "ssh-rsa", ..
                } = self.attempt
                {
                    self.legacy_used.push("ssh-rsa (user key signature, SHA-1)");
                }
                self.attempt = Attempt::Idle;
                self.authenticated = true;
                self.events.push_back(Event::Auth(AuthOutcome::Success));
            }
            auth::MSG_USERAUTH_BANNER => {
                let b = auth::parse_banner(p).map_err(malformed)?;
                if !self.authenticated {
                    self.events.push_back(Event::Banner(b));
                }
            }
            auth::MSG_USERAUTH_60 => match &mut self.attempt {
                Attempt::Password => {
                    // PASSWD_CHANGEREQ: the password is right but expired; we do not
                    // change passwords.
                    let methods = self.methods.clone().unwrap_or_default();
                    self.auth_failed(methods, false);
                }
                Attempt::Keyboard { password, rounds } => {
                    let req = auth::parse_info_request(p).map_err(malformed)?;
                    *rounds += 1;
                    if *rounds > MAX_KBD_ROUNDS {
                        let methods = self.methods.clone().unwrap_or_default();
                        self.auth_failed(methods, false);
                    } else {
                        let resp = auth::answer_prompts(&req, password);
                        self.outbox.push(resp);
                    }
                }
                // PK_OK answers a query without signature; we never send one.
                _ => {}
            },
            _ => {}
        }
        Ok(())
    }

    // ------------------------------------------------------------ channels

    fn open(&mut self, kind: Kind, msg: impl FnOnce(u32) -> Vec<u8>) -> Result<ChannelId> {
        if !self.authenticated {
            return Err(ClientError::InvalidState(
                "channel open before authentication",
            ));
        }
        let Some(i) = self.channels.iter().position(Option::is_none) else {
            return Err(ClientError::TooManyChannels);
        };
        self.channels[i] = Some(Channel::new(kind));
        self.outbox.push(Zeroizing::new(msg(i as u32)));
        Ok(ChannelId(i as u32))
    }

    /// Opens a session channel ([`Event::ChannelOpened`] when the server confirms).
    pub fn open_session(&mut self) -> Result<ChannelId> {
        self.open(Kind::Session, channel::open_session)
    }

    /// Opens a direct-tcpip channel to `host:port` from the server.
    pub fn open_direct_tcpip(&mut self, host: &str, port: u16) -> Result<ChannelId> {
        self.open(Kind::DirectTcpip, |id| {
            channel::open_direct_tcpip(id, host, port, "127.0.0.1", 0)
        })
    }

    fn get(&self, c: ChannelId) -> Result<&Channel> {
        self.channels
            .get(c.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(ClientError::NoSuchChannel(c))
    }

    fn get_mut(&mut self, c: ChannelId) -> Result<&mut Channel> {
        self.channels
            .get_mut(c.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(ClientError::NoSuchChannel(c))
    }

    fn get_open(&mut self, c: ChannelId) -> Result<&mut Channel> {
        let ch = self.get_mut(c)?;
        if ch.state != State::Open || ch.close_sent || ch.close_received {
            return Err(ClientError::ChannelNotOpen(c));
        }
        Ok(ch)
    }

    /// Sends "exec" with want-reply ([`Event::RequestSuccess`] or `RequestFailure`).
    pub fn exec(&mut self, c: ChannelId, command: &str) -> Result<()> {
        let ch = self.get_open(c)?;
        if ch.kind != Kind::Session {
            return Err(ClientError::InvalidState(
                "exec on a channel that is not a session",
            ));
        }
        let m = channel::exec(ch.remote, command);
        self.outbox.push(Zeroizing::new(m));
        Ok(())
    }

    /// Sends as much of `data` as the server's window allows, in packets no larger than
    /// its maximum (and ours); returns how much was taken (0 when the window is shut:
    /// call again after more input).
    pub fn send_data(&mut self, c: ChannelId, data: &[u8]) -> Result<usize> {
        let ch = self.get_open(c)?;
        if ch.eof_sent {
            return Err(ClientError::InvalidState("data after EOF"));
        }
        let (n, packet) = ch.sendable(data.len());
        ch.remote_window -= n as u32;
        let remote = ch.remote;
        for chunk in data[..n].chunks(packet) {
            self.outbox
                .push(Zeroizing::new(channel::data(remote, chunk)));
        }
        Ok(n)
    }

    /// How much [`Connection::send_data`] would take now.
    pub fn send_window(&self, c: ChannelId) -> usize {
        self.get(c)
            .map(|ch| {
                if ch.state == State::Open {
                    ch.remote_window as usize
                } else {
                    0
                }
            })
            .unwrap_or(0)
    }

    pub fn send_eof(&mut self, c: ChannelId) -> Result<()> {
        let ch = self.get_open(c)?;
        if !ch.eof_sent {
            ch.eof_sent = true;
            let m = channel::eof(ch.remote);
            self.outbox.push(Zeroizing::new(m));
        }
        Ok(())
    }

    /// Data (stdout, or a tunnel's bytes) received and not consumed yet.
    pub fn data(&self, c: ChannelId) -> &[u8] {
        self.get(c).map(|ch| &ch.data[..]).unwrap_or(&[])
    }

    /// Extended data (stderr) received and not consumed yet.
    pub fn ext_data(&self, c: ChannelId) -> &[u8] {
        self.get(c).map(|ch| &ch.ext[..]).unwrap_or(&[])
    }

    /// The caller is done with the first `n` bytes of [`Connection::data`]; the window
    /// is given back to the server as it is consumed.
    pub fn consume(&mut self, c: ChannelId, n: usize) {
        self.consume_inner(c, n, false);
    }

    pub fn consume_ext(&mut self, c: ChannelId, n: usize) {
        self.consume_inner(c, n, true);
    }

    fn consume_inner(&mut self, c: ChannelId, n: usize, ext: bool) {
        let Ok(ch) = self.get_mut(c) else { return };
        let buf = if ext { &mut ch.ext } else { &mut ch.data };
        let n = n.min(buf.len());
        buf.drain(..n);
        if let Some(adj) = ch.consumed(n) {
            let m = channel::window_adjust(ch.remote, adj);
            self.outbox.push(Zeroizing::new(m));
        }
    }

    /// The exit status or signal received on a channel, if any.
    pub fn exit(&self, c: ChannelId) -> (Option<u32>, Option<&ExitSignal>) {
        match self.get(c) {
            Ok(ch) => (ch.exit_status, ch.exit_signal.as_ref()),
            Err(_) => (None, None),
        }
    }

    /// Closes the channel (CLOSE sent if not yet) and releases it: its buffers are
    /// dropped and its slot reused once the server's CLOSE has come too.
    pub fn close(&mut self, c: ChannelId) {
        let Ok(ch) = self.get_mut(c) else { return };
        ch.released = true;
        ch.data = Vec::new();
        ch.ext = Vec::new();
        if ch.state == State::Open && !ch.close_sent {
            ch.close_sent = true;
            let m = channel::close(ch.remote);
            self.outbox.push(Zeroizing::new(m));
        }
        self.reap(c);
    }

    fn reap(&mut self, c: ChannelId) {
        if let Some(slot) = self.channels.get_mut(c.0 as usize)
            && slot.as_ref().is_some_and(Channel::finished)
        {
            *slot = None;
        }
    }

    fn channel_for(&mut self, recipient: u32, what: &str) -> Result<&mut Channel> {
        match self
            .channels
            .get_mut(recipient as usize)
            .and_then(Option::as_mut)
        {
            Some(ch) => Ok(ch),
            None => Err(ClientError::Protocol(format!(
                "{what} for unknown channel {recipient}"
            ))),
        }
    }

    fn open_channel_for(&mut self, recipient: u32, what: &str) -> Result<&mut Channel> {
        let ch = self.channel_for(recipient, what)?;
        if ch.state != State::Open {
            return Err(ClientError::Protocol(format!(
                "{what} for channel {recipient}, not open"
            )));
        }
        Ok(ch)
    }

    fn push_data_event(&mut self, c: ChannelId) {
        if !matches!(self.events.back(), Some(Event::Data(x)) if *x == c) {
            self.events.push_back(Event::Data(c));
        }
    }

    fn handle_channel(&mut self, m: Msg<'_>) -> Result<()> {
        if !self.authenticated && !matches!(m, Msg::GlobalRequest { .. } | Msg::Open { .. }) {
            return Err(ClientError::Protocol(
                "channel message before authentication".into(),
            ));
        }
        match m {
            Msg::GlobalRequest { want_reply, .. } => {
                if want_reply {
                    self.outbox.push(Zeroizing::new(channel::request_failure()));
                }
            }
            Msg::RequestSuccess | Msg::RequestFailure => {
                return Err(ClientError::Protocol(
                    "global request reply with no request".into(),
                ));
            }
            Msg::Open { sender, .. } => {
                let m = channel::open_failure(
                    sender,
                    channel::OPEN_ADMINISTRATIVELY_PROHIBITED,
                    "this client accepts no channels",
                );
                self.outbox.push(Zeroizing::new(m));
            }
            Msg::OpenConfirmation {
                recipient,
                sender,
                window,
                max_packet,
            } => {
                let ch = self.channel_for(recipient, "OPEN_CONFIRMATION")?;
                if ch.state != State::Opening {
                    return Err(ClientError::Protocol(format!(
                        "OPEN_CONFIRMATION for channel {recipient}, not opening"
                    )));
                }
                ch.state = State::Open;
                ch.remote = sender;
                ch.remote_window = window;
                ch.remote_max_packet = max_packet;
                if ch.released {
                    ch.close_sent = true;
                    self.outbox.push(Zeroizing::new(channel::close(sender)));
                } else {
                    self.events
                        .push_back(Event::ChannelOpened(ChannelId(recipient)));
                }
            }
            Msg::OpenFailure {
                recipient,
                reason,
                description,
            } => {
                let ch = self.channel_for(recipient, "OPEN_FAILURE")?;
                if ch.state != State::Opening {
                    return Err(ClientError::Protocol(format!(
                        "OPEN_FAILURE for channel {recipient}, not opening"
                    )));
                }
                ch.state = State::Failed;
                let c = ChannelId(recipient);
                if ch.released {
                    self.reap(c);
                } else {
                    self.events.push_back(Event::ChannelOpenFailed {
                        channel: c,
                        reason,
                        description,
                    });
                }
            }
            Msg::WindowAdjust { recipient, bytes } => {
                let ch = self.open_channel_for(recipient, "WINDOW_ADJUST")?;
                ch.remote_window = ch.remote_window.saturating_add(bytes);
            }
            Msg::Data { recipient, data } => {
                let ch = self.open_channel_for(recipient, "DATA")?;
                ch.receive(data.len())
                    .map_err(|e| ClientError::Protocol(e.into()))?;
                if ch.released {
                    // Nobody reads it: given back at once.
                    let adj = ch.consumed(data.len());
                    self.adjust(recipient, adj);
                } else {
                    ch.data.extend_from_slice(data);
                    self.push_data_event(ChannelId(recipient));
                }
            }
            Msg::ExtendedData {
                recipient,
                code,
                data,
            } => {
                let ch = self.open_channel_for(recipient, "EXTENDED_DATA")?;
                ch.receive(data.len())
                    .map_err(|e| ClientError::Protocol(e.into()))?;
                if ch.released || code != 1 {
                    let adj = ch.consumed(data.len());
                    self.adjust(recipient, adj);
                } else {
                    ch.ext.extend_from_slice(data);
                    self.push_data_event(ChannelId(recipient));
                }
            }
            Msg::Eof { recipient } => {
                let ch = self.open_channel_for(recipient, "EOF")?;
                ch.eof_received = true;
                if !ch.released {
                    self.events.push_back(Event::Eof(ChannelId(recipient)));
                }
            }
            Msg::Close { recipient } => {
                let ch = self.open_channel_for(recipient, "CLOSE")?;
                if ch.close_received {
                    return Err(ClientError::Protocol(format!(
                        "second CLOSE for channel {recipient}"
                    )));
                }
                ch.close_received = true;
                let released = ch.released;
                if !ch.close_sent {
                    ch.close_sent = true;
                    let m = channel::close(ch.remote);
                    self.outbox.push(Zeroizing::new(m));
                }
                let c = ChannelId(recipient);
                if released {
                    self.reap(c);
                } else {
                    self.events.push_back(Event::Closed(c));
                }
            }
            Msg::Request {
                recipient,
                request,
                want_reply,
            } => {
                let ch = self.open_channel_for(recipient, "CHANNEL_REQUEST")?;
                let c = ChannelId(recipient);
                let remote = ch.remote;
                match request {
                    Request::ExitStatus(status) => {
                        ch.exit_status = Some(status);
                        if !ch.released {
                            self.events
                                .push_back(Event::ExitStatus { channel: c, status });
                        }
                    }
                    Request::ExitSignal(signal) => {
                        ch.exit_signal = Some(signal.clone());
                        if !ch.released {
                            self.events
                                .push_back(Event::ExitSignal { channel: c, signal });
                        }
                    }
                    Request::Other(_) => {
                        if want_reply && !ch.close_sent {
                            self.outbox
                                .push(Zeroizing::new(channel::channel_failure(remote)));
                        }
                    }
                }
            }
            Msg::Success { recipient } => {
                self.open_channel_for(recipient, "CHANNEL_SUCCESS")?;
                self.events
                    .push_back(Event::RequestSuccess(ChannelId(recipient)));
            }
            Msg::Failure { recipient } => {
                self.open_channel_for(recipient, "CHANNEL_FAILURE")?;
                self.events
                    .push_back(Event::RequestFailure(ChannelId(recipient)));
            }
        }
        Ok(())
    }

    fn adjust(&mut self, recipient: u32, adj: Option<u32>) {
        if let Some(n) = adj
            && let Ok(ch) = self.get(ChannelId(recipient))
        {
            let m = channel::window_adjust(ch.remote, n);
            self.outbox.push(Zeroizing::new(m));
        }
    }

    /// One payload from the transport (a message numbered 5 and up). Unknown numbers
    /// are ignored; a malformed or out-of-place message is a protocol error.
    pub fn handle(&mut self, p: &[u8]) -> Result<()> {
        let Some(&code) = p.first() else {
            return Err(ClientError::Protocol("empty message".into()));
        };
        match code {
            5..=79 => self.handle_auth(code, p),
            _ => match channel::parse(p).map_err(malformed)? {
                Some(m) => self.handle_channel(m),
                None => Ok(()),
            },
        }
    }
}

/// An SSH client: a [`Transport`] and the connection layer over it.
pub struct Client {
    transport: Transport,
    conn: Connection,
    host_key: Option<(PublicKey, &'static str)>,
    ready: bool,
    legacy: bool,
    closed: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("conn", &self.conn)
            .field("ready", &self.ready)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client whose version line and KEXINIT are already queued in [`Client::output`].
    pub fn new(cfg: TransportConfig, entropy: [u8; 32]) -> Client {
        let legacy = cfg.legacy;
        Client {
            transport: Transport::new(cfg, entropy),
            conn: Connection::new(),
            host_key: None,
            ready: false,
            legacy,
            closed: None,
        }
    }

    fn check_open(&self) -> Result<()> {
        match &self.closed {
            Some(s) => Err(ClientError::Closed(s.clone())),
            None => Ok(()),
        }
    }

    /// Bytes from the server. An error is final: the connection is closed (with a
    /// DISCONNECT queued when it is the server's fault).
    pub fn input(&mut self, data: &[u8]) -> Result<()> {
        self.check_open()?;
        if let Err(e) = self.transport.input(data) {
            self.closed = Some(e.to_string());
            return Err(ClientError::Transport(e));
        }
        match self.pump() {
            Ok(()) => Ok(()),
            Err(e) => {
                let code = match e {
                    ClientError::HostKeyChanged { .. } => DISCONNECT_HOST_KEY_NOT_VERIFIABLE,
                    _ => DISCONNECT_PROTOCOL_ERROR,
                };
                let msg = e.to_string();
                self.transport.disconnect(code, &msg);
                self.closed = Some(msg);
                Err(e)
            }
        }
    }

    fn pump(&mut self) -> Result<()> {
        while let Some(ev) = self.transport.poll() {
            match ev {
                TransportEvent::HostKey { key, algorithm } => match &self.host_key {
                    None => {
                        self.host_key = Some((key.clone(), algorithm));
                        self.conn
                            .events
                            .push_back(Event::HostKey { key, algorithm });
                    }
                    Some((k, _)) if k.blob() == key.blob() => {}
                    Some((k, _)) => {
                        return Err(ClientError::HostKeyChanged {
                            accepted: k.fingerprint(),
                            presented: key.fingerprint(),
                        });
                    }
                },
                TransportEvent::Ready => {
                    if !self.ready {
                        self.ready = true;
                        self.conn.events.push_back(Event::Ready);
                    }
                }
                TransportEvent::Payload(p) => {
                    let p = Zeroizing::new(p);
                    self.conn.handle(&p)?;
                }
                TransportEvent::Disconnected {
                    reason,
                    description,
                } => {
                    let d = auth::text(description.as_bytes(), 256);
                    self.closed = Some(format!("the server disconnected ({reason}): {d}"));
                    self.conn.events.push_back(Event::Disconnected {
                        reason,
                        description: d,
                    });
                }
            }
        }
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        for p in self.conn.take_outgoing() {
            self.transport.send(&p)?;
        }
        Ok(())
    }

    /// Bytes to write to the server.
    pub fn output(&self) -> &[u8] {
        self.transport.output()
    }

    pub fn consume_output(&mut self, n: usize) {
        self.transport.consume_output(n);
    }

    pub fn poll(&mut self) -> Option<Event> {
        self.conn.poll()
    }

    /// The caller checked the host key ([`Event::HostKey`]): authentication may go.
    pub fn accept_host_key(&mut self) -> Result<()> {
        self.check_open()?;
        if self.host_key.is_none() {
            return Err(ClientError::HostKeyNotAccepted);
        }
        self.conn.accept_host_key();
        Ok(())
    }

    pub fn host_key(&self) -> Option<&PublicKey> {
        self.host_key.as_ref().map(|(k, _)| k)
    }

    pub fn host_key_algorithm(&self) -> Option<&'static str> {
        self.host_key.as_ref().map(|(_, a)| *a)
    }

    pub fn is_ready(&self) -> bool {
        self.ready
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Why the connection is closed, in words, once it is.
    pub fn closed_reason(&self) -> Option<&str> {
        self.closed.as_deref()
    }

    pub fn server_version(&self) -> Option<&str> {
        self.transport.server_version()
    }

    pub fn session_id(&self) -> Option<&[u8]> {
        self.transport.session_id()
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Legacy algorithms in use: the transport's, and "ssh-rsa" if a user key signed
    /// with SHA-1.
    pub fn legacy_used(&self) -> Vec<&'static str> {
        let mut v = self.transport.legacy_used();
        v.extend_from_slice(self.conn.legacy_used());
        v
    }

    pub fn is_authenticated(&self) -> bool {
        self.conn.is_authenticated()
    }

    pub fn auth_methods(&self) -> Option<&[String]> {
        self.conn.auth_methods()
    }

    fn after<T>(&mut self, r: Result<T>) -> Result<T> {
        let v = r?;
        self.flush()?;
        Ok(v)
    }

    /// The "none" method (learns the methods; some servers let it through).
    pub fn auth_none(&mut self, user: &str) -> Result<()> {
        self.check_open()?;
        let r = self.conn.auth_none(user);
        self.after(r)
    }

    pub fn auth_password(&mut self, user: &str, password: &str) -> Result<()> {
        self.check_open()?;
        let r = self.conn.auth_password(user, password.as_bytes());
        self.after(r)
    }

    pub fn auth_keyboard_interactive(&mut self, user: &str, password: &str) -> Result<()> {
        self.check_open()?;
        let r = self
            .conn
            .auth_keyboard_interactive(user, password.as_bytes());
        self.after(r)
    }

    /// Publickey with the key's best algorithm the server accepts. For RSA the choice
    /// follows the server's server-sig-algs: call this after the "none" answer (by
    /// then EXT_INFO has come) or rsa-sha2-512 is assumed.
    pub fn auth_publickey(&mut self, user: &str, key: &PrivateKey) -> Result<()> {
        self.check_open()?;
        self.conn.check_auth_start("publickey")?;
        let Some(session_id) = self.transport.session_id() else {
            return Err(ClientError::InvalidState(
                "publickey before the key exchange is complete",
            ));
        };
        let algs =
            auth::signature_algorithms(key.algorithms(), self.conn.server_sig_algs(), self.legacy);
        if algs.is_empty() {
            return Err(ClientError::NoSignatureAlgorithm(key.public().key_type()));
        }
        let blob = key.public().blob();
        let mut requests = Vec::with_capacity(algs.len());
        for alg in algs {
            let data = Zeroizing::new(auth::publickey_signed_data(session_id, user, alg, blob));
            let sig = key.sign(alg, &data)?;
            requests.push((alg, auth::request_publickey(user, alg, blob, &sig)));
        }
        let r = self.conn.auth_publickey_signed(requests);
        self.after(r)
    }

    pub fn open_session(&mut self) -> Result<ChannelId> {
        self.check_open()?;
        let r = self.conn.open_session();
        self.after(r)
    }

    pub fn open_direct_tcpip(&mut self, host: &str, port: u16) -> Result<ChannelId> {
        self.check_open()?;
        let r = self.conn.open_direct_tcpip(host, port);
        self.after(r)
    }

    pub fn exec(&mut self, c: ChannelId, command: &str) -> Result<()> {
        self.check_open()?;
        let r = self.conn.exec(c, command);
        self.after(r)
    }

    pub fn send_data(&mut self, c: ChannelId, data: &[u8]) -> Result<usize> {
        self.check_open()?;
        let r = self.conn.send_data(c, data);
        self.after(r)
    }

    pub fn send_window(&self, c: ChannelId) -> usize {
        self.conn.send_window(c)
    }

    pub fn send_eof(&mut self, c: ChannelId) -> Result<()> {
        self.check_open()?;
        let r = self.conn.send_eof(c);
        self.after(r)
    }

    pub fn data(&self, c: ChannelId) -> &[u8] {
        self.conn.data(c)
    }

    pub fn ext_data(&self, c: ChannelId) -> &[u8] {
        self.conn.ext_data(c)
    }

    pub fn consume(&mut self, c: ChannelId, n: usize) -> Result<()> {
        self.conn.consume(c, n);
        self.flush_if_open()
    }

    pub fn consume_ext(&mut self, c: ChannelId, n: usize) -> Result<()> {
        self.conn.consume_ext(c, n);
        self.flush_if_open()
    }

    pub fn exit(&self, c: ChannelId) -> (Option<u32>, Option<&ExitSignal>) {
        self.conn.exit(c)
    }

    /// Closes and releases a channel (see [`Connection::close`]).
    pub fn close(&mut self, c: ChannelId) -> Result<()> {
        self.conn.close(c);
        self.flush_if_open()
    }

    fn flush_if_open(&mut self) -> Result<()> {
        if self.closed.is_some() {
            self.conn.take_outgoing();
            return Ok(());
        }
        self.flush()
    }

    /// Queues a DISCONNECT; nothing is sent after it.
    pub fn disconnect(&mut self, reason: u32, description: &str) {
        if self.closed.is_none() {
            self.transport.disconnect(reason, description);
            self.closed = Some(format!("disconnected by us: {description}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Reader, Write};

    fn msg(code: u8, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut b = vec![code];
        f(&mut b);
        b
    }

    fn out_codes(c: &mut Connection) -> Vec<u8> {
        c.take_outgoing().iter().map(|p| p[0]).collect()
    }

    fn service_accept() -> Vec<u8> {
        msg(6, |b| b.put_string(b"ssh-userauth"))
    }

    fn failure(methods: &[&str], partial: bool) -> Vec<u8> {
        msg(51, |b| {
            b.put_name_list(methods.iter().copied());
            b.put_bool(partial);
        })
    }

    fn authenticated() -> Connection {
        let mut c = Connection::new();
        c.accept_host_key();
        c.auth_none("u").unwrap();
        c.handle(&service_accept()).unwrap();
        c.handle(&[52]).unwrap();
        c.take_outgoing();
        while c.poll().is_some() {}
        c
    }

    fn open(c: &mut Connection) -> ChannelId {
        let id = c.open_session().unwrap();
        c.take_outgoing();
        c.handle(&msg(91, |b| {
            b.put_u32(id.0);
            b.put_u32(100 + id.0);
            b.put_u32(1000);
            b.put_u32(300);
        }))
        .unwrap();
        assert!(matches!(c.poll(), Some(Event::ChannelOpened(x)) if x == id));
        id
    }

    #[test]
    fn nothing_leaves_before_the_host_key_is_accepted() {
        let mut c = Connection::new();
        assert!(matches!(
            c.auth_password("u", b"pw"),
            Err(ClientError::HostKeyNotAccepted)
        ));
        assert!(matches!(
            c.auth_none("u"),
            Err(ClientError::HostKeyNotAccepted)
        ));
        assert!(c.take_outgoing().is_empty());
        c.accept_host_key();
        c.auth_password("u", b"pw").unwrap();
        // The service request goes first; the password waits for SERVICE_ACCEPT.
        assert_eq!(out_codes(&mut c), [5]);
        c.handle(&service_accept()).unwrap();
        let out = c.take_outgoing();
        assert_eq!(out.len(), 1);
        assert!(out[0].ends_with(b"\0\0\0\x02pw"));
        c.handle(&failure(&["publickey", "password"], false))
            .unwrap();
        match c.poll() {
            Some(Event::Auth(AuthOutcome::Failure {
                methods,
                partial: false,
            })) => {
                assert_eq!(methods, ["publickey", "password"])
            }
            e => panic!("{e:?}"),
        }
        // A method the server does not offer is refused without sending.
        assert!(matches!(
            c.auth_keyboard_interactive("u", b"pw"),
            Err(ClientError::AuthRefused { .. })
        ));
        c.auth_password("u", b"pw2").unwrap();
        assert_eq!(out_codes(&mut c), [50]);
        c.handle(&[52]).unwrap();
        assert!(matches!(c.poll(), Some(Event::Auth(AuthOutcome::Success))));
        assert!(c.is_authenticated());
        assert!(c.auth_none("u").is_err());
        // Debug never shows a password.
        c.auth_methods();
        assert!(!format!("{c:?}").contains("pw"));
    }

    #[test]
    fn keyboard_interactive_rounds() {
        let mut c = Connection::new();
        c.accept_host_key();
        c.auth_keyboard_interactive("u", b"hunter2").unwrap();
        c.handle(&service_accept()).unwrap();
        assert_eq!(out_codes(&mut c), [5, 50]);
        let info = |prompts: &[&str]| {
            msg(60, |b| {
                b.put_string(b"");
                b.put_string(b"");
                b.put_string(b"");
                b.put_u32(prompts.len() as u32);
                for p in prompts {
                    b.put_string(p.as_bytes());
                    b.put_bool(false);
                }
            })
        };
        c.handle(&info(&["Password: "])).unwrap();
        let out = c.take_outgoing();
        assert!(out[0].ends_with(b"\0\0\0\x01\0\0\0\x07hunter2"));
        c.handle(&info(&[])).unwrap();
        assert_eq!(&c.take_outgoing()[0][..], b"\x3d\0\0\0\0");
        c.handle(&info(&[])).unwrap();
        c.handle(&info(&[])).unwrap();
        assert_eq!(c.take_outgoing().len(), 2);
        // A fifth round: given up.
        c.handle(&info(&[])).unwrap();
        assert!(c.take_outgoing().is_empty());
        assert!(matches!(
            c.poll(),
            Some(Event::Auth(AuthOutcome::Failure { .. }))
        ));
        // Stray rounds afterwards are ignored.
        c.handle(&info(&["Password:"])).unwrap();
        assert!(c.take_outgoing().is_empty());
    }

    #[test]
    fn publickey_tries_the_next_algorithm() {
        let mut c = Connection::new();
        c.accept_host_key();
        c.auth_none("u").unwrap();
        c.handle(&service_accept()).unwrap();
        c.handle(&failure(&["publickey"], false)).unwrap();
        c.take_outgoing();
        while c.poll().is_some() {}
        c.auth_publickey_signed(vec![
            ("rsa-sha2-512", vec![50, 1]),
            ("ssh-rsa", vec![50, 2]),
        ])
        .unwrap();
        assert_eq!(&c.take_outgoing()[0][..], [50, 1]);
        c.handle(&failure(&["publickey"], false)).unwrap();
        assert!(c.poll().is_none());
        assert_eq!(&c.take_outgoing()[0][..], [50, 2]);
        c.handle(&[52]).unwrap();
        assert!(matches!(c.poll(), Some(Event::Auth(AuthOutcome::Success))));
        assert_eq!(c.legacy_used(), ["ssh-rsa (user key signature, SHA-1)"]);
    }

    #[test]
    fn ext_info_banner_and_unexpected_auth_messages() {
        let mut c = Connection::new();
        let mut b = vec![7];
        b.put_u32(1);
        b.put_string(b"server-sig-algs");
        b.put_string(b"rsa-sha2-256");
        c.handle(&b).unwrap();
        assert_eq!(c.server_sig_algs().unwrap(), ["rsa-sha2-256"]);
        c.handle(&msg(53, |b| {
            b.put_string(b"Welcome");
            b.put_string(b"");
        }))
        .unwrap();
        assert!(matches!(c.poll(), Some(Event::Banner(s)) if s == "Welcome"));
        assert!(c.handle(&[52]).is_err());
        assert!(c.handle(&failure(&[], false)).is_err());
        assert!(c.handle(&service_accept()).is_err());
        assert!(c.handle(&[]).is_err());
        // Channel messages before authentication.
        assert!(c.handle(&msg(96, |b| b.put_u32(0))).is_err());
    }

    #[test]
    fn channel_life() {
        let mut c = authenticated();
        let id = open(&mut c);
        c.exec(id, "echo hi").unwrap();
        let out = c.take_outgoing();
        let mut r = Reader::new(&out[0]);
        assert_eq!(r.u8("").unwrap(), 98);
        assert_eq!(r.u32("").unwrap(), 100);
        c.handle(&msg(99, |b| b.put_u32(id.0))).unwrap();
        assert!(matches!(c.poll(), Some(Event::RequestSuccess(_))));
        for _ in 0..2 {
            c.handle(&msg(94, |b| {
                b.put_u32(id.0);
                b.put_string(b"hi\n");
            }))
            .unwrap();
        }
        c.handle(&msg(95, |b| {
            b.put_u32(id.0);
            b.put_u32(1);
            b.put_string(b"err");
        }))
        .unwrap();
        // Data events coalesce.
        assert!(matches!(c.poll(), Some(Event::Data(_))));
        assert!(c.poll().is_none());
        assert_eq!(c.data(id), b"hi\nhi\n");
        assert_eq!(c.ext_data(id), b"err");
        c.consume(id, 3);
        assert_eq!(c.data(id), b"hi\n");
        c.handle(&msg(98, |b| {
            b.put_u32(id.0);
            b.put_string(b"keepalive@openssh.com");
            b.put_bool(true);
        }))
        .unwrap();
        assert_eq!(&c.take_outgoing()[0][..], b"\x64\0\0\0\x64");
        c.handle(&msg(98, |b| {
            b.put_u32(id.0);
            b.put_string(b"exit-status");
            b.put_bool(false);
            b.put_u32(3);
        }))
        .unwrap();
        assert!(matches!(
            c.poll(),
            Some(Event::ExitStatus { status: 3, .. })
        ));
        c.handle(&msg(96, |b| b.put_u32(id.0))).unwrap();
        c.handle(&msg(97, |b| b.put_u32(id.0))).unwrap();
        assert!(matches!(c.poll(), Some(Event::Eof(_))));
        assert!(matches!(c.poll(), Some(Event::Closed(_))));
        assert_eq!(&c.take_outgoing()[0][..], b"\x61\0\0\0\x64");
        // Buffered data stays readable until released; then the slot is free.
        assert_eq!(c.data(id), b"hi\n");
        assert_eq!(c.exit(id).0, Some(3));
        c.close(id);
        assert!(c.take_outgoing().is_empty());
        assert!(matches!(c.data(id), []));
        assert!(c.handle(&msg(96, |b| b.put_u32(id.0))).is_err());
    }

    #[test]
    fn windows_and_packets_on_send() {
        let mut c = authenticated();
        let id = open(&mut c);
        // Window 1000, packets of at most 300.
        assert_eq!(c.send_data(id, &[7; 2000]).unwrap(), 1000);
        let out = c.take_outgoing();
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].len(), 9 + 300);
        assert_eq!(out[3].len(), 9 + 100);
        assert_eq!(c.send_data(id, &[7; 10]).unwrap(), 0);
        c.handle(&msg(93, |b| {
            b.put_u32(id.0);
            b.put_u32(u32::MAX);
        }))
        .unwrap();
        c.handle(&msg(93, |b| {
            b.put_u32(id.0);
            b.put_u32(u32::MAX);
        }))
        .unwrap();
        assert_eq!(c.send_window(id), u32::MAX as usize);
        c.send_eof(id).unwrap();
        assert!(c.send_data(id, b"x").is_err());
    }

    #[test]
    fn window_given_back_as_consumed_and_floods_refused() {
        let mut c = authenticated();
        let id = open(&mut c);
        let chunk = vec![0u8; channel::MAX_PACKET as usize];
        let data = msg(94, |b| {
            b.put_u32(id.0);
            b.put_string(&chunk);
        });
        let n = (channel::WINDOW / channel::MAX_PACKET) as usize;
        for _ in 0..n {
            c.handle(&data).unwrap();
        }
        assert_eq!(c.data(id).len(), channel::WINDOW as usize);
        // The window is full: one more byte is the peer's error.
        let more = msg(94, |b| {
            b.put_u32(id.0);
            b.put_string(b"x");
        });
        let mut c2 = authenticated();
        let id2 = open(&mut c2);
        assert_eq!(id2, id);
        for _ in 0..n {
            c2.handle(&data).unwrap();
        }
        assert!(matches!(c2.handle(&more), Err(ClientError::Protocol(_))));
        // Consuming half gives it back.
        c.consume(id, channel::WINDOW as usize / 2);
        let out = c.take_outgoing();
        assert_eq!(
            &out[0][..],
            channel::window_adjust(100, channel::WINDOW / 2)
        );
        c.handle(&more).unwrap();
    }

    #[test]
    fn global_requests_and_server_opens_refused_and_channel_cap() {
        let mut c = authenticated();
        c.handle(&msg(80, |b| {
            b.put_string(b"keepalive@openssh.com");
            b.put_bool(true);
        }))
        .unwrap();
        c.handle(&msg(80, |b| {
            b.put_string(b"hostkeys-00@openssh.com");
            b.put_bool(false);
            b.put_string(b"blob");
        }))
        .unwrap();
        assert_eq!(out_codes(&mut c), [82]);
        c.handle(&msg(90, |b| {
            b.put_string(b"x11");
            b.put_u32(5);
            b.put_u32(0);
            b.put_u32(0);
        }))
        .unwrap();
        let out = c.take_outgoing();
        let mut r = Reader::new(&out[0]);
        assert_eq!(r.u8("").unwrap(), 92);
        assert_eq!(r.u32("").unwrap(), 5);
        assert_eq!(r.u32("").unwrap(), 1);
        for _ in 0..channel::MAX_CHANNELS {
            c.open_direct_tcpip("127.0.0.1", 22).unwrap();
        }
        assert!(matches!(
            c.open_session(),
            Err(ClientError::TooManyChannels)
        ));
        // An open refused: the event, then the slot is reused after release.
        c.handle(&msg(92, |b| {
            b.put_u32(2);
            b.put_u32(2);
            b.put_string(b"Connection refused");
            b.put_string(b"");
        }))
        .unwrap();
        assert!(matches!(
            c.poll(),
            Some(Event::ChannelOpenFailed {
                channel: ChannelId(2),
                reason: 2,
                ..
            })
        ));
        c.close(ChannelId(2));
        assert_eq!(c.open_session().unwrap(), ChannelId(2));
        // Confirmation for a channel not opening, or unknown.
        assert!(
            c.handle(&msg(91, |b| {
                b.put_u32(200);
                b.put_u32(0);
                b.put_u32(0);
                b.put_u32(0);
            }))
            .is_err()
        );
    }
}
