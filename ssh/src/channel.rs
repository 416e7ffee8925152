//! Channels (RFC 4254): the messages, built and parsed (every count and length
//! bounded), and one channel's state: its windows both ways, what it has buffered for
//! the caller, exit status, EOF and close.

use crate::wire::{Malformed, Reader, Write};

pub const MSG_GLOBAL_REQUEST: u8 = 80;
pub const MSG_REQUEST_SUCCESS: u8 = 81;
pub const MSG_REQUEST_FAILURE: u8 = 82;
pub const MSG_CHANNEL_OPEN: u8 = 90;
pub const MSG_CHANNEL_OPEN_CONFIRMATION: u8 = 91;
pub const MSG_CHANNEL_OPEN_FAILURE: u8 = 92;
pub const MSG_CHANNEL_WINDOW_ADJUST: u8 = 93;
pub const MSG_CHANNEL_DATA: u8 = 94;
pub const MSG_CHANNEL_EXTENDED_DATA: u8 = 95;
pub const MSG_CHANNEL_EOF: u8 = 96;
pub const MSG_CHANNEL_CLOSE: u8 = 97;
pub const MSG_CHANNEL_REQUEST: u8 = 98;
pub const MSG_CHANNEL_SUCCESS: u8 = 99;
pub const MSG_CHANNEL_FAILURE: u8 = 100;

/// SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (RFC 4254 §5.1).
pub const OPEN_ADMINISTRATIVELY_PROHIBITED: u32 = 1;

/// The most channels open at once on one connection.
pub const MAX_CHANNELS: usize = 8;
/// Our receive window: what the peer may send on a channel before we adjust it, hence
/// also the most a channel buffers for the caller.
pub const WINDOW: u32 = 2 * 1024 * 1024;
/// The largest data packet we accept, and the largest we send.
pub const MAX_PACKET: u32 = 32 * 1024;
/// The longest description or signal name kept from the peer.
pub const MAX_TEXT: usize = 256;

/// A channel, by our number for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelId(pub u32);

/// How a command ended by a signal (RFC 4254 §6.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitSignal {
    /// Without the "SIG" prefix, as sent: "TERM", "KILL"...
    pub signal: String,
    pub core_dumped: bool,
    pub message: String,
}

// ---------------------------------------------------------------- messages we send

/// CHANNEL_OPEN "session".
pub fn open_session(sender: u32) -> Vec<u8> {
    let mut b = vec![MSG_CHANNEL_OPEN];
    b.put_string(b"session");
    b.put_u32(sender);
    b.put_u32(WINDOW);
    b.put_u32(MAX_PACKET);
    b
}

/// CHANNEL_OPEN "direct-tcpip" (RFC 4254 §7.2).
pub fn open_direct_tcpip(
    sender: u32,
    host: &str,
    port: u16,
    orig_host: &str,
    orig_port: u16,
) -> Vec<u8> {
    let mut b = vec![MSG_CHANNEL_OPEN];
    b.put_string(b"direct-tcpip");
    b.put_u32(sender);
    b.put_u32(WINDOW);
    b.put_u32(MAX_PACKET);
    b.put_string(host.as_bytes());
    b.put_u32(u32::from(port));
    b.put_string(orig_host.as_bytes());
    b.put_u32(u32::from(orig_port));
    b
}

/// CHANNEL_REQUEST "exec" with want-reply.
pub fn exec(recipient: u32, command: &str) -> Vec<u8> {
    let mut b = vec![MSG_CHANNEL_REQUEST];
    b.put_u32(recipient);
    b.put_string(b"exec");
    b.put_bool(true);
    b.put_string(command.as_bytes());
    b
}

pub fn data(recipient: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(data.len() + 9);
    b.push(MSG_CHANNEL_DATA);
    b.put_u32(recipient);
    b.put_string(data);
    b
}

pub fn window_adjust(recipient: u32, bytes: u32) -> Vec<u8> {
    let mut b = vec![MSG_CHANNEL_WINDOW_ADJUST];
    b.put_u32(recipient);
    b.put_u32(bytes);
    b
}

fn with_recipient(code: u8, recipient: u32) -> Vec<u8> {
    let mut b = vec![code];
    b.put_u32(recipient);
    b
}

pub fn eof(recipient: u32) -> Vec<u8> {
    with_recipient(MSG_CHANNEL_EOF, recipient)
}

pub fn close(recipient: u32) -> Vec<u8> {
    with_recipient(MSG_CHANNEL_CLOSE, recipient)
}

pub fn channel_failure(recipient: u32) -> Vec<u8> {
    with_recipient(MSG_CHANNEL_FAILURE, recipient)
}

/// CHANNEL_OPEN_FAILURE, refusing a channel the server tried to open.
pub fn open_failure(recipient: u32, reason: u32, description: &str) -> Vec<u8> {
    let mut b = with_recipient(MSG_CHANNEL_OPEN_FAILURE, recipient);
    b.put_u32(reason);
    b.put_string(description.as_bytes());
    b.put_string(b"");
    b
}

pub fn request_failure() -> Vec<u8> {
    vec![MSG_REQUEST_FAILURE]
}

// ---------------------------------------------------------------- messages we receive

/// A connection-protocol message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg<'a> {
    GlobalRequest {
        name: String,
        want_reply: bool,
    },
    RequestSuccess,
    RequestFailure,
    /// The server opening a channel to us (always refused).
    Open {
        kind: String,
        sender: u32,
    },
    OpenConfirmation {
        recipient: u32,
        sender: u32,
        window: u32,
        max_packet: u32,
    },
    OpenFailure {
        recipient: u32,
        reason: u32,
        description: String,
    },
    WindowAdjust {
        recipient: u32,
        bytes: u32,
    },
    Data {
        recipient: u32,
        data: &'a [u8],
    },
    ExtendedData {
        recipient: u32,
        code: u32,
        data: &'a [u8],
    },
    Eof {
        recipient: u32,
    },
    Close {
        recipient: u32,
    },
    Request {
        recipient: u32,
        request: Request,
        want_reply: bool,
    },
    Success {
        recipient: u32,
    },
    Failure {
        recipient: u32,
    },
}

/// A channel request from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    ExitStatus(u32),
    ExitSignal(ExitSignal),
    /// Any other (keepalive@openssh.com, ...), by name, cut at [`MAX_TEXT`].
    Other(String),
}

/// Parses a message numbered 80 to 100; `Ok(None)` for any other number.
pub fn parse(p: &[u8]) -> Result<Option<Msg<'_>>, Malformed> {
    let mut r = Reader::new(p);
    let code = r.u8("message number")?;
    let m = match code {
        MSG_GLOBAL_REQUEST => {
            let name = crate::auth::text(r.string("global request name")?, MAX_TEXT);
            let want_reply = r.bool("global request want reply")?;
            Msg::GlobalRequest { name, want_reply }
        }
        MSG_REQUEST_SUCCESS => Msg::RequestSuccess,
        MSG_REQUEST_FAILURE => Msg::RequestFailure,
        MSG_CHANNEL_OPEN => {
            let kind = crate::auth::text(r.string("channel open type")?, MAX_TEXT);
            let sender = r.u32("channel open sender")?;
            Msg::Open { kind, sender }
        }
        MSG_CHANNEL_OPEN_CONFIRMATION => Msg::OpenConfirmation {
            recipient: r.u32("open confirmation recipient")?,
            sender: r.u32("open confirmation sender")?,
            window: r.u32("open confirmation window")?,
            max_packet: r.u32("open confirmation max packet")?,
        },
        MSG_CHANNEL_OPEN_FAILURE => {
            let recipient = r.u32("open failure recipient")?;
            let reason = r.u32("open failure reason")?;
            let description = crate::auth::text(r.string("open failure description")?, MAX_TEXT);
            Msg::OpenFailure {
                recipient,
                reason,
                description,
            }
        }
        MSG_CHANNEL_WINDOW_ADJUST => Msg::WindowAdjust {
            recipient: r.u32("window adjust recipient")?,
            bytes: r.u32("window adjust bytes")?,
        },
        MSG_CHANNEL_DATA => Msg::Data {
            recipient: r.u32("data recipient")?,
            data: r.string("data")?,
        },
        MSG_CHANNEL_EXTENDED_DATA => Msg::ExtendedData {
            recipient: r.u32("extended data recipient")?,
            code: r.u32("extended data type")?,
            data: r.string("extended data")?,
        },
        MSG_CHANNEL_EOF => Msg::Eof {
            recipient: r.u32("eof recipient")?,
        },
        MSG_CHANNEL_CLOSE => Msg::Close {
            recipient: r.u32("close recipient")?,
        },
        MSG_CHANNEL_REQUEST => {
            let recipient = r.u32("channel request recipient")?;
            let name = r.string("channel request type")?;
            let want_reply = r.bool("channel request want reply")?;
            let request = match name {
                b"exit-status" => Request::ExitStatus(r.u32("exit status")?),
                b"exit-signal" => {
                    let signal = crate::auth::text(r.string("exit signal name")?, MAX_TEXT);
                    let core_dumped = r.bool("exit signal core dumped")?;
                    let message = crate::auth::text(r.string("exit signal message")?, MAX_TEXT);
                    Request::ExitSignal(ExitSignal {
                        signal,
                        core_dumped,
                        message,
                    })
                }
                other => Request::Other(crate::auth::text(other, MAX_TEXT)),
            };
            Msg::Request {
                recipient,
                request,
                want_reply,
            }
        }
        MSG_CHANNEL_SUCCESS => Msg::Success {
            recipient: r.u32("channel success recipient")?,
        },
        MSG_CHANNEL_FAILURE => Msg::Failure {
            recipient: r.u32("channel failure recipient")?,
        },
        _ => return Ok(None),
    };
    Ok(Some(m))
}

// ---------------------------------------------------------------- one channel

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Session,
    DirectTcpip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// CHANNEL_OPEN sent, no answer yet.
    Opening,
    Open,
    /// Refused by the server (the slot waits for the caller to release it).
    Failed,
}

/// One channel's state.
#[derive(Debug)]
pub struct Channel {
    pub kind: Kind,
    pub state: State,
    /// The server's number for it, once confirmed.
    pub remote: u32,
    /// What we may still send (the server's window).
    pub remote_window: u32,
    pub remote_max_packet: u32,
    /// What the server may still send before we adjust.
    local_window: u32,
    /// Consumed by the caller, not yet given back by WINDOW_ADJUST.
    unadjusted: u32,
    /// Data (stdout) received, not yet consumed.
    pub data: Vec<u8>,
    /// Extended data (stderr) received, not yet consumed.
    pub ext: Vec<u8>,
    pub eof_received: bool,
    pub eof_sent: bool,
    pub close_received: bool,
    pub close_sent: bool,
    /// The caller is done with it: the slot is freed once both closes have passed.
    pub released: bool,
    pub exit_status: Option<u32>,
    pub exit_signal: Option<ExitSignal>,
}

impl Channel {
    pub fn new(kind: Kind) -> Channel {
        Channel {
            kind,
            state: State::Opening,
            remote: 0,
            remote_window: 0,
            remote_max_packet: 0,
            local_window: WINDOW,
            unadjusted: 0,
            data: Vec::new(),
            ext: Vec::new(),
            eof_received: false,
            eof_sent: false,
            close_received: false,
            close_sent: false,
            released: false,
            exit_status: None,
            exit_signal: None,
        }
    }

    /// Data (or extended data) arrived: counted against our window; more than the
    /// window, or a packet larger than we allowed, is the peer's protocol error.
    pub fn receive(&mut self, len: usize) -> Result<(), &'static str> {
        if len > MAX_PACKET as usize {
            return Err("channel data larger than the maximum packet we allowed");
        }
        if len > self.local_window as usize {
            return Err("channel data beyond the window we allowed");
        }
        if self.eof_received || self.close_received {
            return Err("channel data after EOF or close");
        }
        self.local_window -= len as u32;
        Ok(())
    }

    /// The caller consumed `n` bytes: the WINDOW_ADJUST to send, if any (once half the
    /// window has been consumed, so a caller that drains everything always leaves the
    /// peer more than half a window).
    pub fn consumed(&mut self, n: usize) -> Option<u32> {
        self.unadjusted = self
            .unadjusted
            .saturating_add(n.min(WINDOW as usize) as u32);
        if self.unadjusted >= WINDOW / 2 && !self.close_received && !self.close_sent {
            let n = self.unadjusted;
            self.unadjusted = 0;
            self.local_window = self.local_window.saturating_add(n);
            return Some(n);
        }
        None
    }

    /// How much of `len` may be sent now, and in packets of what size.
    pub fn sendable(&self, len: usize) -> (usize, usize) {
        let n = len.min(self.remote_window as usize);
        let packet = (self.remote_max_packet.min(MAX_PACKET) as usize).max(1);
        (n, packet)
    }

    /// Both closes passed and the caller released it: the slot can be reused.
    pub fn finished(&self) -> bool {
        self.released && ((self.close_sent && self.close_received) || self.state == State::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_encode_as_rfc_4254() {
        let b = open_direct_tcpip(3, "10.0.0.2", 22, "127.0.0.1", 0);
        let mut r = Reader::new(&b);
        assert_eq!(r.u8("").unwrap(), 90);
        assert_eq!(r.utf8("").unwrap(), "direct-tcpip");
        assert_eq!(r.u32("").unwrap(), 3);
        assert_eq!(r.u32("").unwrap(), WINDOW);
        assert_eq!(r.u32("").unwrap(), MAX_PACKET);
        assert_eq!(r.utf8("").unwrap(), "10.0.0.2");
        assert_eq!(r.u32("").unwrap(), 22);
        assert_eq!(r.utf8("").unwrap(), "127.0.0.1");
        assert_eq!(r.u32("").unwrap(), 0);
        assert!(r.is_empty());
        let b = exec(7, "uname -a");
        assert_eq!(
            &b[..],
            b"\x62\0\0\0\x07\0\0\0\x04exec\x01\0\0\0\x08uname -a"
        );
        assert_eq!(window_adjust(1, 2), b"\x5d\0\0\0\x01\0\0\0\x02");
        assert_eq!(data(1, b"ab"), b"\x5e\0\0\0\x01\0\0\0\x02ab");
    }

    #[test]
    fn server_messages_parse() {
        let mut b = vec![98];
        b.put_u32(0);
        b.put_string(b"exit-signal");
        b.put_bool(false);
        b.put_string(b"KILL");
        b.put_bool(true);
        b.put_string(b"killed");
        b.put_string(b"");
        assert_eq!(
            parse(&b).unwrap(),
            Some(Msg::Request {
                recipient: 0,
                want_reply: false,
                request: Request::ExitSignal(ExitSignal {
                    signal: "KILL".into(),
                    core_dumped: true,
                    message: "killed".into()
                })
            })
        );
        let mut b = vec![98];
        b.put_u32(1);
        b.put_string(b"exit-status");
        b.put_bool(false);
        b.put_u32(3);
        assert!(matches!(
            parse(&b).unwrap(),
            Some(Msg::Request {
                recipient: 1,
                request: Request::ExitStatus(3),
                ..
            })
        ));
        assert!(parse(&b[..b.len() - 1]).is_err());
        let mut b = vec![80];
        b.put_string(b"keepalive@openssh.com");
        b.put_bool(true);
        assert_eq!(
            parse(&b).unwrap(),
            Some(Msg::GlobalRequest {
                name: "keepalive@openssh.com".into(),
                want_reply: true
            })
        );
        let mut b = vec![95];
        b.put_u32(0);
        b.put_u32(1);
        b.put_string(b"err");
        assert_eq!(
            parse(&b).unwrap(),
            Some(Msg::ExtendedData {
                recipient: 0,
                code: 1,
                data: b"err"
            })
        );
        let mut b = vec![92];
        b.put_u32(0);
        b.put_u32(2);
        b.put_string(&[b'x'; 1000]);
        b.put_string(b"");
        match parse(&b).unwrap() {
            Some(Msg::OpenFailure {
                reason: 2,
                description,
                ..
            }) => {
                assert_eq!(description.len(), MAX_TEXT)
            }
            m => panic!("{m:?}"),
        }
        assert_eq!(parse(&[52]).unwrap(), None);
        assert!(parse(&[]).is_err());
        assert!(parse(&[94, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn windows() {
        let mut c = Channel::new(Kind::Session);
        // A flood past the window is refused; so is a packet past the maximum.
        assert!(c.receive(MAX_PACKET as usize + 1).is_err());
        for _ in 0..WINDOW / MAX_PACKET {
            c.receive(MAX_PACKET as usize).unwrap();
        }
        assert!(c.receive(1).is_err());
        // Consuming half the window gives it back in one adjust.
        assert_eq!(c.consumed((WINDOW / 2 - 1) as usize), None);
        assert_eq!(c.consumed(1), Some(WINDOW / 2));
        c.receive(MAX_PACKET as usize).unwrap();
        c.remote_window = 100;
        c.remote_max_packet = 40;
        assert_eq!(c.sendable(1000), (100, 40));
        c.remote_max_packet = 0;
        assert_eq!(c.sendable(10), (10, 1));
    }
}
