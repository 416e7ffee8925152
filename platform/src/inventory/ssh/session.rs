//! Drives the sans-IO SSH client (`ksocket_ssh::client::Client`) over one TCP socket,
//! on smol: a chain of clients, the first over TCP, each next one carried in a
//! direct-tcpip channel of the one before (agent → hop 1 → hop 2 → target), all pumped
//! by one loop (no thread, no second socket). Every wait is bounded by
//! [`Options::timeout`]: connect, key exchange, each authentication attempt, each wait
//! for a command's output.
//!
//! Nothing belonging to authentication leaves before the caller calls an `auth_*`
//! method, which it does only after checking [`Session::host_key`]: a password never
//! goes to a host whose key was not checked.

// platform/tests/ssh_session.rs compiles this file alone (the platform is a binary):
// of this crate it uses only `crate::sys::random`.
// The collector uses these entry points as it lands; the tests use them all.
#![allow(dead_code)]

use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use ksocket_ssh::channel::ChannelId;
use ksocket_ssh::client::{AuthOutcome, Client, ClientError, Event, open_reason};
use ksocket_ssh::keys::{PrivateKey, PublicKey};
use ksocket_ssh::transport::{TransportConfig, TransportError};
use smol::Async;

/// stderr kept of one command (the rest is read and dropped).
pub const STDERR_CAP: usize = 16 * 1024;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes owed to the server (or to a carrier channel) past which no more is read.
const OUTPUT_BACKLOG: usize = 1 << 20;
/// Events without output one command may bring (exit status, EOF...: a handful).
const MAX_IDLE_EVENTS: u32 = 1000;
/// SSH_DISCONNECT_BY_APPLICATION.
const DISCONNECT_BY_APPLICATION: u32 = 11;
/// The longest [`Session::close`] waits to flush its DISCONNECT.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct Options {
    /// Per step: connect, key exchange, each authentication attempt, each wait for
    /// output of a command.
    pub timeout: Duration,
    /// Allow the SHA-1 algorithms (diffie-hellman-group14-sha1, ssh-rsa).
    pub legacy: bool,
    /// The most bytes (stdout and stderr together) one command may produce; past it
    /// the command's channel is closed and [`SshError::OutputTooLarge`] returned.
    pub max_output: usize,
    /// The host's time limit: no step goes past it, whatever `timeout` says (a host
    /// that keeps sending renews no deadline beyond it).
    pub until: Option<Instant>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(10),
            legacy: false,
            max_output: 64 << 20,
            until: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    Success,
    /// The server refused; it accepts these methods.
    Refused {
        methods: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exit {
    /// The exit status; None when killed by a signal, or when the server sent none (or
    /// the caller stopped reading).
    pub status: Option<u32>,
    /// The signal's name ("KILL", "TERM"...) when killed by one.
    pub signal: Option<String>,
    /// stderr, up to [`STDERR_CAP`] bytes.
    pub stderr: Vec<u8>,
}

/// Why a session step failed. Never holds a password.
#[derive(Debug)]
pub enum SshError {
    /// The TCP connection could not be made (refused, unreachable).
    Connect(io::Error),
    /// The socket failed after connecting.
    Io(io::Error),
    /// The named step took longer than [`Options::timeout`].
    Timeout(&'static str),
    /// The server (or a hop's tunnel) closed the connection.
    Closed(String),
    /// The server broke the protocol, or offered nothing we speak.
    Protocol(String),
    /// The host key's signature did not verify, or it changed on re-key.
    HostKey(String),
    /// A hop refused to open a channel (the tunnel's target, or a session).
    ChannelOpen { reason: u32, description: String },
    /// The credential could not be used (key unusable, no signature algorithm in
    /// common, a call out of order).
    Auth(String),
    /// The server refused to run the command.
    ExecRefused,
    /// The command printed more than [`Options::max_output`] bytes.
    OutputTooLarge(usize),
}

/// What kind of failure, for reports and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Nothing listens, or the network or a hop refused.
    Refused,
    Timeout,
    Auth,
    Protocol,
    HostKey,
    /// The connection went away.
    Closed,
    /// A bound of ours (output size).
    Limit,
}

impl SshError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SshError::Connect(e) if e.kind() == io::ErrorKind::TimedOut => ErrorKind::Timeout,
            SshError::Connect(_) | SshError::ChannelOpen { .. } => ErrorKind::Refused,
            SshError::Io(_) | SshError::Closed(_) => ErrorKind::Closed,
            SshError::Timeout(_) => ErrorKind::Timeout,
            SshError::Protocol(_) | SshError::ExecRefused => ErrorKind::Protocol,
            SshError::HostKey(_) => ErrorKind::HostKey,
            SshError::Auth(_) => ErrorKind::Auth,
            SshError::OutputTooLarge(_) => ErrorKind::Limit,
        }
    }
}

impl fmt::Display for SshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SshError::Connect(e) => write!(f, "cannot connect: {e}"),
            SshError::Io(e) => write!(f, "connection failed: {e}"),
            SshError::Timeout(step) => write!(f, "timed out ({step})"),
            SshError::Closed(s) => write!(f, "connection closed: {s}"),
            SshError::Protocol(s) => write!(f, "{s}"),
            SshError::HostKey(s) => write!(f, "{s}"),
            SshError::ChannelOpen {
                reason,
                description,
            } => {
                write!(
                    f,
                    "channel refused ({}): {description}",
                    open_reason(*reason)
                )
            }
            SshError::Auth(s) => write!(f, "authentication: {s}"),
            SshError::ExecRefused => write!(f, "the server refused to run the command"),
            SshError::OutputTooLarge(n) => write!(f, "the command printed more than {n} bytes"),
        }
    }
}

impl std::error::Error for SshError {}

impl From<ClientError> for SshError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Transport(t) => match t {
                TransportError::HostKeySignature(_) | TransportError::HostKeyChanged => {
                    SshError::HostKey(t.to_string())
                }
                TransportError::Closed => SshError::Closed(t.to_string()),
                t => SshError::Protocol(t.to_string()),
            },
            ClientError::HostKeyChanged { .. } => SshError::HostKey(e.to_string()),
            ClientError::ChannelOpenFailed {
                reason,
                description,
            } => SshError::ChannelOpen {
                reason,
                description,
            },
            ClientError::Closed(s) => SshError::Closed(s),
            ClientError::AuthRefused { .. }
            | ClientError::HostKeyNotAccepted
            | ClientError::NoSignatureAlgorithm(_)
            | ClientError::Key(_) => SshError::Auth(e.to_string()),
            e => SshError::Protocol(e.to_string()),
        }
    }
}

/// One SSH connection of the chain.
struct Hop {
    client: Client,
    /// The channel of the previous hop that carries this one (None for the first).
    carrier: Option<ChannelId>,
    host_key: Option<PublicKey>,
    banner: Option<String>,
}

/// A chain of SSH connections over one TCP socket; the last is the one `auth_*`,
/// `exec` and `host_key` apply to.
pub struct Session {
    stream: Async<TcpStream>,
    hops: Vec<Hop>,
    opts: Options,
    buf: Vec<u8>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("hops", &self.hops.len())
            .finish_non_exhaustive()
    }
}

fn new_client(opts: &Options) -> Result<Client, SshError> {
    let entropy = crate::sys::random::bytes::<32>().map_err(SshError::Io)?;
    let cfg = TransportConfig {
        legacy: opts.legacy,
        ..TransportConfig::default()
    };
    Ok(Client::new(cfg, entropy))
}

impl Session {
    /// TCP connect to the first hop and key exchange; returns once the server's host
    /// key is known and its signature verified (nothing authenticated yet).
    pub async fn connect(addr: SocketAddr, opts: &Options) -> Result<Session, SshError> {
        let stream = smol::future::or(
            async {
                Async::<TcpStream>::connect(addr)
                    .await
                    .map_err(SshError::Connect)
            },
            async {
                let d = Instant::now() + opts.timeout;
                smol::Timer::at(opts.until.map_or(d, |u| d.min(u))).await;
                Err(SshError::Timeout("TCP connect"))
            },
        )
        .await?;
        let _ = stream.get_ref().set_nodelay(true);
        let hop = Hop {
            client: new_client(opts)?,
            carrier: None,
            host_key: None,
            banner: None,
        };
        let mut s = Session {
            stream,
            hops: vec![hop],
            opts: opts.clone(),
            buf: vec![0; READ_CHUNK],
        };
        s.handshake().await?;
        Ok(s)
    }

    fn inner(&self) -> &Hop {
        &self.hops[self.hops.len() - 1]
    }

    fn inner_mut(&mut self) -> &mut Hop {
        let n = self.hops.len() - 1;
        &mut self.hops[n]
    }

    /// The innermost hop's host key (verified against its signature of the exchange).
    pub fn host_key(&self) -> &PublicKey {
        // Set by handshake before connect or tunnel return.
        self.inner()
            .host_key
            .as_ref()
            .expect("host key known after the key exchange")
    }

    pub fn server_version(&self) -> &str {
        self.inner().client.server_version().unwrap_or("")
    }

    /// Legacy (SHA-1) algorithms the innermost hop uses.
    pub fn legacy_used(&self) -> Vec<&'static str> {
        self.inner().client.legacy_used()
    }

    /// The methods the innermost hop said it accepts, once it said.
    pub fn auth_methods(&self) -> Option<&[String]> {
        self.inner().client.auth_methods()
    }

    /// The innermost hop's pre-authentication banner, if it sent one.
    pub fn banner(&self) -> Option<&str> {
        self.inner().banner.as_deref()
    }

    /// How many SSH connections are chained (1 without tunnels).
    pub fn hops(&self) -> usize {
        self.hops.len()
    }

    /// Authenticates the innermost hop with a password: "password" when offered,
    /// otherwise "keyboard-interactive" (prompts mentioning a password answered with
    /// it). Accepts the host key: call only after checking it.
    pub async fn auth_password(
        &mut self,
        user: &str,
        password: &str,
    ) -> Result<AuthResult, SshError> {
        self.inner_mut().client.accept_host_key()?;
        let methods = match self.learn_methods(user).await? {
            Some(m) => m,
            None => return Ok(AuthResult::Success),
        };
        if methods.iter().any(|m| m == "password") {
            self.inner_mut().client.auth_password(user, password)?;
            self.auth_outcome("password authentication").await
        } else if methods.iter().any(|m| m == "keyboard-interactive") {
            self.inner_mut()
                .client
                .auth_keyboard_interactive(user, password)?;
            self.auth_outcome("keyboard-interactive authentication")
                .await
        } else {
            Ok(AuthResult::Refused { methods })
        }
    }

    /// Authenticates the innermost hop with a key (for RSA, rsa-sha2-512/256 as the
    /// server announces; ssh-rsa only with legacy). Accepts the host key: call only
    /// after checking it.
    pub async fn auth_key(&mut self, user: &str, key: &PrivateKey) -> Result<AuthResult, SshError> {
        self.inner_mut().client.accept_host_key()?;
        let methods = match self.learn_methods(user).await? {
            Some(m) => m,
            None => return Ok(AuthResult::Success),
        };
        if !methods.iter().any(|m| m == "publickey") {
            return Ok(AuthResult::Refused { methods });
        }
        self.inner_mut().client.auth_publickey(user, key)?;
        self.auth_outcome("publickey authentication").await
    }

    /// The methods, asked with "none" when not known yet (None: "none" let us in).
    /// Asking first also makes sure EXT_INFO (server-sig-algs) has arrived.
    async fn learn_methods(&mut self, user: &str) -> Result<Option<Vec<String>>, SshError> {
        if let Some(m) = self.inner().client.auth_methods() {
            return Ok(Some(m.to_vec()));
        }
        self.inner_mut().client.auth_none(user)?;
        match self.auth_outcome("authentication (none)").await? {
            AuthResult::Success => Ok(None),
            AuthResult::Refused { methods } => Ok(Some(methods)),
        }
    }

    async fn auth_outcome(&mut self, step: &'static str) -> Result<AuthResult, SshError> {
        let deadline = self.step_deadline();
        loop {
            match self.next_event(deadline, step).await? {
                Event::Auth(AuthOutcome::Success) => return Ok(AuthResult::Success),
                Event::Auth(AuthOutcome::Failure { methods, .. }) => {
                    return Ok(AuthResult::Refused { methods });
                }
                Event::Banner(b) => self.inner_mut().banner = Some(b),
                _ => {}
            }
        }
    }

    /// Opens a direct-tcpip channel from the innermost (authenticated) hop to
    /// `host:port` and runs the key exchange of a new hop inside it; afterwards
    /// `host_key`, `auth_*` and `exec` apply to the new hop.
    pub async fn tunnel(&mut self, host: &str, port: u16) -> Result<(), SshError> {
        let ch = self.inner_mut().client.open_direct_tcpip(host, port)?;
        self.wait_open(ch, "tunnel open").await?;
        let client = new_client(&self.opts)?;
        self.hops.push(Hop {
            client,
            carrier: Some(ch),
            host_key: None,
            banner: None,
        });
        if let Err(e) = self.handshake().await {
            // Back to the hop before (its channel closed), so the session stays whole.
            self.hops.pop();
            if !self.inner().client.is_closed() {
                let _ = self.inner_mut().client.close(ch);
            }
            return Err(e);
        }
        Ok(())
    }

    async fn wait_open(&mut self, ch: ChannelId, step: &'static str) -> Result<(), SshError> {
        let deadline = self.step_deadline();
        loop {
            match self.next_event(deadline, step).await? {
                Event::ChannelOpened(c) if c == ch => return Ok(()),
                Event::ChannelOpenFailed {
                    channel,
                    reason,
                    description,
                } if channel == ch => {
                    self.inner_mut().client.close(ch)?;
                    return Err(SshError::ChannelOpen {
                        reason,
                        description,
                    });
                }
                _ => {}
            }
        }
    }

    /// Runs `cmd` on the innermost hop; stdout goes to `out` chunk by chunk as it
    /// arrives (never all buffered); stderr is kept up to [`STDERR_CAP`]. When `out`
    /// breaks, the channel is closed and the exit returned without status.
    pub async fn exec(
        &mut self,
        cmd: &str,
        out: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<Exit, SshError> {
        let ch = self.inner_mut().client.open_session()?;
        self.wait_open(ch, "session open").await?;
        let r = self.exec_on(ch, cmd, out).await;
        if !self.inner().client.is_closed() {
            // Releases the channel (CLOSE sent if not yet); the session stays usable.
            let _ = self.inner_mut().client.close(ch);
        }
        r
    }

    async fn exec_on(
        &mut self,
        ch: ChannelId,
        cmd: &str,
        out: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<Exit, SshError> {
        self.inner_mut().client.exec(ch, cmd)?;
        let mut exit = Exit::default();
        let mut total = 0usize;
        let max = self.opts.max_output;
        // Each event renews the deadline: events that carry no output are bounded too,
        // so a server cannot hold the command forever with them.
        let mut idle_events = 0u32;
        loop {
            let deadline = self.step_deadline();
            let ev = self
                .next_event(deadline, "reading the command's output")
                .await?;
            if !matches!(ev, Event::Data(_)) {
                idle_events += 1;
                if idle_events > MAX_IDLE_EVENTS {
                    return Err(SshError::Protocol(
                        "the server sent too many messages without output".into(),
                    ));
                }
            }
            match ev {
                Event::RequestFailure(c) if c == ch => return Err(SshError::ExecRefused),
                Event::Data(c) if c == ch => {
                    let client = &mut self.inner_mut().client;
                    let e = client.ext_data(ch);
                    let n = e.len();
                    // stderr past the cap is dropped, but counts against max_output.
                    total = total.saturating_add(n);
                    let keep = n.min(STDERR_CAP - exit.stderr.len());
                    exit.stderr.extend_from_slice(&e[..keep]);
                    client.consume_ext(ch, n)?;
                    let d = client.data(ch);
                    let n = d.len();
                    total = total.saturating_add(n);
                    if total > max {
                        return Err(SshError::OutputTooLarge(max));
                    }
                    if n > 0 {
                        let flow = out(d);
                        client.consume(ch, n)?;
                        if flow.is_break() {
                            return Ok(Exit {
                                status: None,
                                signal: None,
                                stderr: exit.stderr,
                            });
                        }
                    }
                }
                Event::ExitStatus { channel, status } if channel == ch => {
                    exit.status = Some(status)
                }
                Event::ExitSignal { channel, signal } if channel == ch => {
                    exit.signal = Some(signal.signal)
                }
                Event::Closed(c) if c == ch => return Ok(exit),
                _ => {}
            }
        }
    }

    /// Sends DISCONNECT to every hop, innermost first, waits (briefly) for it to be
    /// written, and closes the socket.
    pub async fn close(mut self) {
        let deadline = Instant::now() + self.opts.timeout.min(CLOSE_GRACE);
        for i in (0..self.hops.len()).rev() {
            self.hops[i]
                .client
                .disconnect(DISCONNECT_BY_APPLICATION, "done");
            if i > 0 {
                let _ = self.route_out_one(i);
            }
        }
        while !self.hops[0].client.output().is_empty() && Instant::now() < deadline {
            match self.write_some() {
                Ok(true) => continue,
                Ok(false) => {}
                Err(_) => break,
            }
            let ready = smol::future::or(
                async {
                    let _ = self.stream.writable().await;
                    true
                },
                async {
                    smol::Timer::at(deadline).await;
                    false
                },
            )
            .await;
            if !ready {
                break;
            }
        }
    }

    // ---------------------------------------------------------------- the pump

    /// Runs the key exchange of the innermost hop: its host key, verified, then Ready.
    async fn handshake(&mut self) -> Result<(), SshError> {
        let deadline = self.step_deadline();
        loop {
            match self.next_event(deadline, "key exchange").await? {
                Event::HostKey { key, .. } => self.inner_mut().host_key = Some(key),
                Event::Ready => {
                    if self.inner().host_key.is_none() {
                        return Err(SshError::Protocol(
                            "key exchange done without a host key".into(),
                        ));
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
    }

    /// Now plus the step timeout, never past the host's limit.
    fn step_deadline(&self) -> Instant {
        let d = Instant::now() + self.opts.timeout;
        self.opts.until.map_or(d, |u| d.min(u))
    }

    /// The innermost hop's next event, pumping the socket until one comes or
    /// `deadline` passes.
    async fn next_event(
        &mut self,
        deadline: Instant,
        step: &'static str,
    ) -> Result<Event, SshError> {
        loop {
            if let Some(ev) = self.inner_mut().client.poll() {
                if let Event::Disconnected {
                    reason,
                    description,
                } = ev
                {
                    return Err(SshError::Closed(format!(
                        "the server disconnected ({reason}): {description}"
                    )));
                }
                return Ok(ev);
            }
            // Checked at every turn: a server that keeps sending what makes no event
            // (IGNORE, keepalives) cannot hold the step past its deadline.
            if Instant::now() >= deadline {
                return Err(SshError::Timeout(step));
            }
            self.round(deadline, step).await?;
            // A socket that is always readable never makes this future wait: let the
            // other hosts of the same thread (and their timers) run between turns.
            smol::future::yield_now().await;
        }
    }

    /// One turn: inner hops' output into their carriers, the first hop's output to the
    /// socket, one read from it routed inwards; waits for the socket (or the deadline)
    /// only when nothing moved.
    async fn round(&mut self, deadline: Instant, step: &'static str) -> Result<(), SshError> {
        for i in (1..self.hops.len()).rev() {
            self.route_out_one(i)?;
        }
        let wrote = self.write_some()?;
        // Backpressure: while the server does not take what we owe it (replies to its
        // requests pile up), nothing more is read from it.
        let may_read = self.hops[0].client.output().len() < OUTPUT_BACKLOG;
        let read = may_read && self.read_some()?;
        let routed = self.route_in()?;
        self.check_outer_hops()?;
        if wrote || read || routed {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(SshError::Timeout(step));
        }
        let want_write = !self.hops[0].client.output().is_empty();
        let stream = &self.stream;
        let ready = smol::future::or(
            async {
                match (want_write, may_read) {
                    (true, true) => smol::future::or(stream.readable(), stream.writable()).await,
                    (true, false) => stream.writable().await,
                    _ => stream.readable().await,
                }
                .map(|()| true)
            },
            async {
                smol::Timer::at(deadline).await;
                Ok(false)
            },
        )
        .await
        .map_err(SshError::Io)?;
        if !ready {
            return Err(SshError::Timeout(step));
        }
        Ok(())
    }

    /// Moves hop `i`'s output into its carrier channel on hop `i - 1`, as far as that
    /// channel's window allows.
    fn route_out_one(&mut self, i: usize) -> Result<(), SshError> {
        let (outer, inner) = self.hops.split_at_mut(i);
        let hop = &mut inner[0];
        let prev = &mut outer[i - 1];
        let Some(carrier) = hop.carrier else {
            return Ok(());
        };
        loop {
            let out = hop.client.output();
            if out.is_empty() || prev.client.is_closed() {
                return Ok(());
            }
            let n = prev.client.send_data(carrier, out)?;
            if n == 0 {
                return Ok(());
            }
            hop.client.consume_output(n);
        }
    }

    /// Writes what the first hop has for the socket; true if anything was written.
    fn write_some(&mut self) -> Result<bool, SshError> {
        let mut wrote = false;
        loop {
            let out = self.hops[0].client.output();
            if out.is_empty() {
                return Ok(wrote);
            }
            let mut s = self.stream.get_ref();
            match s.write(out) {
                Ok(0) => return Err(SshError::Closed("the socket accepts no more data".into())),
                Ok(n) => {
                    self.hops[0].client.consume_output(n);
                    wrote = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(wrote),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SshError::Io(e)),
            }
        }
    }

    /// Reads once from the socket into the first hop; true if anything was read.
    fn read_some(&mut self) -> Result<bool, SshError> {
        let mut s = self.stream.get_ref();
        let n = match s.read(&mut self.buf) {
            Ok(0) => return Err(SshError::Closed(self.closed_reason(0))),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(SshError::Io(e)),
        };
        self.hops[0].client.input(&self.buf[..n])?;
        Ok(true)
    }

    /// Moves each carrier channel's data into the hop it carries, outermost first
    /// (held back while that hop owes more than [`OUTPUT_BACKLOG`]: the carrier's
    /// window then shuts and the server waits); true if anything moved.
    fn route_in(&mut self) -> Result<bool, SshError> {
        let mut moved = false;
        for i in 1..self.hops.len() {
            let (outer, inner) = self.hops.split_at_mut(i);
            let hop = &mut inner[0];
            let prev = &mut outer[i - 1];
            let Some(carrier) = hop.carrier else { continue };
            let data = prev.client.data(carrier);
            if data.is_empty() || hop.client.output().len() >= OUTPUT_BACKLOG {
                continue;
            }
            let n = data.len();
            hop.client.input(data)?;
            prev.client.consume(carrier, n)?;
            moved = true;
        }
        Ok(moved)
    }

    /// Why hop `i`'s connection is gone, in words.
    fn closed_reason(&self, i: usize) -> String {
        let mut s = match self.hops[i].client.closed_reason() {
            Some(r) => r.to_string(),
            None => "the server closed the connection".to_string(),
        };
        if self.hops.len() > 1 {
            s = format!("hop {}: {s}", i + 1);
        }
        s
    }

    /// Events of the hops that carry others: a disconnect, or the carrier channel's
    /// EOF or close, ends the session; anything else is of no interest.
    fn check_outer_hops(&mut self) -> Result<(), SshError> {
        for i in 0..self.hops.len() - 1 {
            let carrier = self.hops[i + 1].carrier;
            while let Some(ev) = self.hops[i].client.poll() {
                match ev {
                    Event::Disconnected { .. } => {
                        return Err(SshError::Closed(self.closed_reason(i)));
                    }
                    Event::Eof(c) | Event::Closed(c) if Some(c) == carrier => {
                        let inner = &self.hops[i + 1].client;
                        return Err(SshError::Closed(match inner.closed_reason() {
                            Some(r) => format!("hop {}: {r}", i + 2),
                            None => {
                                format!("hop {}: the tunnel through hop {} closed", i + 2, i + 1)
                            }
                        }));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}
