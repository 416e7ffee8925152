//! User authentication (RFC 4252): none, password, keyboard-interactive and publickey
//! requests, the ssh-userauth service request before the first, and the server's
//! replies.

use super::connection::{Attempt, Connection, Service};
use super::events::{AuthOutcome, ClientError, Event, Result, malformed};
use crate::auth::{self, Secret};
use std::collections::VecDeque;
use zeroize::Zeroizing;

/// Keyboard-interactive rounds answered before giving up.
pub const MAX_KBD_ROUNDS: u8 = 4;

impl Connection {
    pub(super) fn check_auth_start(&self, method: &str) -> Result<()> {
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

    pub(super) fn handle_auth(&mut self, code: u8, p: &[u8]) -> Result<()> {
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
}
