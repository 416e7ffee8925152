//! Channels (RFC 4254): opening sessions and direct-tcpip, exec, data both ways within
//! the windows, EOF and close, and the server's channel messages.

use super::connection::Connection;
use super::events::{ClientError, Event, Result};
use crate::channel::{self, Channel, ChannelId, ExitSignal, Kind, Msg, Request, State};
use zeroize::Zeroizing;

impl Connection {
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

    pub(super) fn handle_channel(&mut self, m: Msg<'_>) -> Result<()> {
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
}
