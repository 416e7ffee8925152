//! The connection layer's state, without its transport: what it holds, and the
//! dispatch of each payload to authentication (`userauth`) or channels (`channels`).

use super::events::{ClientError, Event, Result, malformed};
use crate::auth::Secret;
use crate::channel::{self, Channel};
use std::collections::VecDeque;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Service {
    NotRequested,
    Requested,
    Accepted,
}

/// The authentication attempt in progress. Secrets are zeroed when dropped.
pub(super) enum Attempt {
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
    pub(super) outbox: Vec<Secret>,
    pub(super) events: VecDeque<Event>,
    pub(super) host_key_accepted: bool,
    pub(super) service: Service,
    /// An authentication request waiting for SERVICE_ACCEPT.
    pub(super) pending: Option<Secret>,
    pub(super) attempt: Attempt,
    pub(super) methods: Option<Vec<String>>,
    pub(super) server_sig_algs: Option<Vec<String>>,
    pub(super) authenticated: bool,
    pub(super) channels: Vec<Option<Channel>>,
    pub(super) legacy_used: Vec<&'static str>,
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
