//! What the client reports ([`Event`], [`AuthOutcome`]) and why it stops or refuses a
//! call ([`ClientError`]).

use crate::channel::{self, ChannelId, ExitSignal};
use crate::keys::{KeyError, PublicKey};
use crate::transport::TransportError;
use crate::wire::Malformed;
use std::fmt;

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
    /// [`Client::accept_host_key`](super::Client::accept_host_key).
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
    /// Data or extended data is buffered: [`Client::data`](super::Client::data),
    /// [`Client::ext_data`](super::Client::ext_data).
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
    /// stays readable until [`Client::close`](super::Client::close) releases it.
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

pub(super) type Result<T, E = ClientError> = std::result::Result<T, E>;

pub(super) fn malformed(m: Malformed) -> ClientError {
    ClientError::Protocol(m.to_string())
}
