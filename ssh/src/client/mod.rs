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
//!
//! By concern: this file is the [`Client`]; `events` holds what both report
//! ([`Event`], [`AuthOutcome`], [`ClientError`]); `connection` the [`Connection`]'s
//! state and the dispatch of each payload; `userauth` the authentication requests and
//! replies; `channels` the channels (open, exec, data, windows, close).

mod channels;
mod connection;
mod events;
#[cfg(test)]
mod tests;
mod userauth;

pub use connection::Connection;
pub use events::{AuthOutcome, ClientError, Event, open_reason};
pub use userauth::MAX_KBD_ROUNDS;

use crate::auth;
use crate::channel::{ChannelId, ExitSignal};
use crate::keys::{PrivateKey, PublicKey};
use crate::transport::{Transport, TransportConfig, TransportEvent};
use events::Result;
use std::fmt;
use zeroize::Zeroizing;

/// SSH_DISCONNECT_PROTOCOL_ERROR.
const DISCONNECT_PROTOCOL_ERROR: u32 = 2;
/// SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE.
const DISCONNECT_HOST_KEY_NOT_VERIFIABLE: u32 = 9;

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
