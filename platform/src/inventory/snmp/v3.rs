//! The SNMPv3 (USM) session of one user with one agent, sans-IO: a state machine fed
//! the agent's answers and the time, that says what to send next. No socket and no
//! clock inside; the client ([`super::Client`]) moves the bytes.
//!
//! One request goes: engine discovery when the agent's engine is not known yet (an
//! empty, unauthenticated request; its Report carries engine ID, boots and time, and
//! the user's keys are localised to it), then the request, signed and encrypted as the
//! user's level says. Reports are acted on: notInTimeWindow takes the agent's clock and
//! sends again, unknownEngineID discovers again (at most [`MAX_ROUNDS`] rounds in all);
//! the others are errors that name the mistake (unknown user, wrong digest, ...).
//!
//! A session belongs to one (agent address, user, protocols, passwords): keys made
//! with a wrong password never serve another credential (see [`SessionKey`]).

use super::{Error, V3Auth};
use ksocket_core::snmp::{
    OidBuf, Pdu, PduSpec, ScopedData, ScopedPdu, Usm, V3Data, V3Message, V3Request,
    encode_scoped_pdu, flags, tag,
};
use ksocket_core::usm::{self, AuthProto};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::Instant;

/// Requests sent for one call at most (the first, a resynchronised one, one after a
/// rediscovery), discovery not counted.
pub const MAX_ROUNDS: usize = 3;

/// What a session is keyed by: the agent, and a digest of everything the keys depend
/// on (user, protocols, passwords, context), so that no state of one credential is
/// ever used for another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    addr: SocketAddr,
    digest: [u8; 32],
}

impl SessionKey {
    pub fn new(addr: SocketAddr, v3: &V3Auth) -> SessionKey {
        let mut h = Sha256::new();
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        };
        field(v3.user.as_bytes());
        field(v3.context.as_bytes());
        if let Some((p, s)) = &v3.auth {
            field(format!("{p:?}").as_bytes());
            field(s.expose().as_bytes());
        }
        if let Some((p, s)) = &v3.privacy {
            field(format!("{p:?}").as_bytes());
            field(s.expose().as_bytes());
        }
        SessionKey {
            addr,
            digest: h.finalize().into(),
        }
    }
}

/// What we know of the agent's SNMP engine, and the keys localised to it.
#[derive(Clone)]
struct Engine {
    id: Vec<u8>,
    boots: i64,
    time: i64,
    at: Instant,
    kauth: Option<usm::Key>,
    kpriv: Option<usm::Key>,
}

/// A message to send, and the msgID its answer carries.
#[derive(Debug)]
pub struct Outgoing {
    pub msg: Vec<u8>,
    pub msg_id: i32,
}

/// What to do after an answer.
pub enum Next<'a> {
    Send(Outgoing),
    /// The answer to the request (error-status not checked yet).
    Answer(Pdu<'a>),
}

/// The request being made (owned, so it outlives the steps).
struct Pending {
    kind: u8,
    a: i64,
    b: i64,
    oids: Vec<OidBuf>,
    request_id: i32,
    rounds: usize,
    discovering: bool,
}

pub struct Session {
    user: V3Auth,
    engine: Option<Engine>,
    pending: Option<Pending>,
    salt: u64,
    /// Fresh ids for msgID and request-id.
    ids: Box<dyn FnMut() -> i32>,
}

impl Session {
    /// A session of `user`; `ids` gives fresh message and request ids; `salt` starts
    /// the privacy salt counter (RFC 3826 wants it unpredictable across restarts).
    pub fn new(user: V3Auth, ids: Box<dyn FnMut() -> i32>, salt: u64) -> Session {
        Session {
            user,
            engine: None,
            pending: None,
            salt,
            ids,
        }
    }

    /// Starts a request; returns the first message (engine discovery when the engine
    /// is not known yet).
    pub fn start(&mut self, spec: PduSpec<'_>, now: Instant) -> Result<Outgoing, Error> {
        let request_id = (self.ids)();
        self.pending = Some(Pending {
            kind: spec.kind,
            a: spec.a,
            b: spec.b,
            oids: spec.oids.to_vec(),
            request_id,
            rounds: 0,
            discovering: self.engine.is_none(),
        });
        if self.engine.is_none() {
            return self.discovery();
        }
        self.request(now)
    }

    /// The last message got no answer in time (after every retry).
    pub fn timeout(&self) -> Error {
        match &self.pending {
            // The engine answered discovery, so it is there: an agent that cannot
            // decrypt a request (AES-CFB cannot tell) drops it without a Report.
            Some(p) if !p.discovering && self.user.privacy.is_some() => Error::Usm(
                "no answer to the encrypted request though the engine answered discovery: wrong privacy password (or protocol)?",
            ),
            _ => Error::Timeout,
        }
    }

    /// Feeds the answer to the last message (`resp`, whose msgID matched); `plain` is
    /// scratch space for a decrypted scoped PDU, which the answer may borrow.
    pub fn handle<'a>(
        &mut self,
        resp: &'a [u8],
        plain: &'a mut Vec<u8>,
        now: Instant,
    ) -> Result<Next<'a>, Error> {
        let discovering = self.pending.as_ref().is_some_and(|p| p.discovering);
        if discovering {
            self.learn_engine(resp, now)?;
            if let Some(p) = self.pending.as_mut() {
                p.discovering = false;
            }
            return Ok(Next::Send(self.request(now)?));
        }
        let m = V3Message::decode(resp).map_err(|_| Error::Usm("undecodable answer"))?;
        let eng = self.engine.clone().ok_or(Error::Usm("no engine"))?;
        self.check_auth(&m, &eng, resp)?;
        let sp = match m.data {
            ScopedData::Plain(sp) => sp,
            ScopedData::Encrypted(ct) => self.decrypt(&m, &eng, ct, plain)?,
        };
        if sp.pdu.kind == tag::REPORT {
            return self.report(&sp.pdu, &m, now).map(Next::Send);
        }
        let want = self.pending.as_ref().map_or(0, |p| p.request_id);
        if sp.pdu.kind != tag::RESPONSE || sp.pdu.request_id != want {
            return Err(Error::Usm("answer to another request"));
        }
        self.pending = None;
        Ok(Next::Answer(sp.pdu))
    }

    fn discovery(&mut self) -> Result<Outgoing, Error> {
        let (msg_id, request_id) = ((self.ids)(), (self.ids)());
        let mut buf = vec![0u8; 512];
        let (msg, _) = V3Request::discovery(msg_id, request_id)
            .encode(&mut buf)
            .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        Ok(Outgoing {
            msg: msg.to_vec(),
            msg_id,
        })
    }

    /// Engine discovery's Report: the engine, and the user's keys localised to it.
    fn learn_engine(&mut self, resp: &[u8], now: Instant) -> Result<(), Error> {
        let m = V3Message::decode(resp)
            .map_err(|_| Error::Usm("engine discovery: undecodable answer"))?;
        if m.usm.engine_id.is_empty() {
            return Err(Error::Usm("engine discovery: the agent sent no engine ID"));
        }
        let id = m.usm.engine_id;
        let key = |p: Option<(AuthProto, &super::Secret)>| -> Result<Option<usm::Key>, Error> {
            match p {
                None => Ok(None),
                Some((proto, pass)) => {
                    let ku = usm::password_to_key(proto, pass.expose().as_bytes())
                        .map_err(|_| Error::Usm("empty password"))?;
                    Ok(Some(usm::localize(proto, &ku, id)))
                }
            }
        };
        let u = &self.user;
        let kauth = key(u.auth.as_ref().map(|(p, s)| (*p, s)))?;
        let kpriv = match (u.auth.as_ref().map(|(p, _)| *p), &u.privacy) {
            (Some(a), Some((pp, pass))) => {
                key(Some((a, pass)))?.map(|k| usm::privacy_key(a, *pp, &k, id))
            }
            _ => None,
        };
        self.engine = Some(Engine {
            id: id.to_vec(),
            boots: m.usm.boots,
            time: m.usm.time,
            at: now,
            kauth,
            kpriv,
        });
        Ok(())
    }

    /// The request, signed and encrypted as the user's level says.
    fn request(&mut self, now: Instant) -> Result<Outgoing, Error> {
        let eng = self.engine.clone().ok_or(Error::Usm("no engine"))?;
        let p = self.pending.as_mut().ok_or(Error::Usm("no request"))?;
        p.rounds += 1;
        if p.rounds > MAX_ROUNDS {
            return Err(Error::Usm("not in time window, even after resynchronising"));
        }
        let pdu = PduSpec {
            kind: p.kind,
            request_id: p.request_id,
            a: p.a,
            b: p.b,
            oids: &p.oids,
        };
        let msg_id = (self.ids)();
        let boots = eng.boots;
        let time = eng.time + now.saturating_duration_since(eng.at).as_secs() as i64;
        let auth = self.user.auth.as_ref().map(|(a, _)| *a);
        let privacy = self.user.privacy.as_ref().map(|(p, _)| *p);
        let mut fl = flags::REPORTABLE;
        if auth.is_some() {
            fl |= flags::AUTH;
        }
        let io = |e: ksocket_core::snmp::Error| Error::Io(std::io::Error::other(e.to_string()));
        let mut encrypted = Vec::new();
        let mut salt = [0u8; 8];
        let data = match (privacy, &eng.kpriv) {
            (Some(pp), Some(kp)) => {
                fl |= flags::PRIV;
                let mut sb = vec![0u8; 65535];
                let sp = encode_scoped_pdu(&mut sb, &eng.id, self.user.context.as_bytes(), pdu)
                    .map_err(io)?;
                let mut b = sp.to_vec();
                let n0 = b.len();
                b.resize(n0 + 8, 0);
                self.salt = self.salt.wrapping_add(1);
                let (n, s) = usm::encrypt(pp, kp, boots, time, self.salt, &mut b, n0)
                    .map_err(|_| Error::Usm("encryption failed"))?;
                salt = s;
                encrypted.extend_from_slice(&b[..n]);
                V3Data::Encrypted(&encrypted)
            }
            _ => V3Data::Plain {
                context_engine_id: &eng.id,
                context_name: self.user.context.as_bytes(),
                pdu,
            },
        };
        let req = V3Request {
            msg_id,
            max_size: 65507,
            flags: fl,
            usm: Usm {
                engine_id: &eng.id,
                boots,
                time,
                user: self.user.user.as_bytes(),
                auth_params: b"",
                priv_params: if privacy.is_some() { &salt } else { b"" },
            },
            auth_len: auth.map_or(0, AuthProto::mac_len),
            data,
        };
        let mut buf = vec![0u8; 65535];
        let (msg, off) = req.encode(&mut buf).map_err(io)?;
        if let (Some(p), Some(k)) = (auth, &eng.kauth) {
            usm::sign(p, k, msg, off).map_err(|_| Error::Usm("signing failed"))?;
        }
        Ok(Outgoing {
            msg: msg.to_vec(),
            msg_id,
        })
    }

    fn check_auth(&self, m: &V3Message<'_>, eng: &Engine, resp: &[u8]) -> Result<(), Error> {
        if m.flags & flags::AUTH == 0 {
            return Ok(());
        }
        let (Some((p, _)), Some(k)) = (&self.user.auth, &eng.kauth) else {
            return Err(Error::Usm("unexpected authenticated answer"));
        };
        let mut scratch = vec![0u8; resp.len()];
        let n = m.usm.auth_params.len();
        if usm::verify(*p, k, resp, m.auth_params_offset, n, &mut scratch).unwrap_or(false) {
            Ok(())
        } else {
            Err(Error::Usm(
                "the answer failed authentication (wrong authentication password?)",
            ))
        }
    }

    fn decrypt<'a>(
        &self,
        m: &V3Message<'_>,
        eng: &Engine,
        ct: &[u8],
        plain: &'a mut Vec<u8>,
    ) -> Result<ScopedPdu<'a>, Error> {
        let (Some((pp, _)), Some(kp)) = (&self.user.privacy, &eng.kpriv) else {
            return Err(Error::Usm("unexpected encrypted answer"));
        };
        let wrong = || Error::Usm("cannot decrypt the answer (wrong privacy password?)");
        plain.clear();
        plain.extend_from_slice(ct);
        let pt = usm::decrypt(*pp, kp, m.usm.boots, m.usm.time, m.usm.priv_params, plain)
            .map_err(|_| wrong())?;
        ScopedPdu::decode(pt).map_err(|_| wrong())
    }

    /// A Report from the agent: resynchronise or rediscover and send again, or say
    /// what is wrong.
    fn report(
        &mut self,
        pdu: &Pdu<'_>,
        m: &V3Message<'_>,
        now: Instant,
    ) -> Result<Outgoing, Error> {
        let oid = pdu
            .varbinds
            .clone()
            .next()
            .and_then(|(o, _)| OidBuf::from_oid(&o).ok());
        let arcs = oid.as_ref().map_or(&[][..], |o| o.arcs());
        // usmStats (1.3.6.1.6.3.15.1.1.N.0)
        let stat = match arcs {
            [1, 3, 6, 1, 6, 3, 15, 1, 1, n, 0] => *n,
            _ => return Err(Error::Usm("the agent sent a Report")),
        };
        match stat {
            2 => {
                // notInTimeWindow: take the agent's clock and send again.
                if let Some(e) = self.engine.as_mut() {
                    e.boots = m.usm.boots;
                    e.time = m.usm.time;
                    e.at = now;
                }
                self.request(now)
            }
            4 => {
                // unknownEngineID: the agent restarted with another engine.
                self.engine = None;
                let p = self.pending.as_mut().ok_or(Error::Usm("no request"))?;
                p.rounds += 1;
                if p.rounds > MAX_ROUNDS {
                    return Err(Error::Usm("the agent keeps changing its engine ID"));
                }
                p.discovering = true;
                self.discovery()
            }
            3 => Err(Error::Usm("unknown user name")),
            5 => Err(Error::Usm("wrong authentication password (wrong digest)")),
            6 => Err(Error::Usm("wrong privacy password (decryption error)")),
            1 => Err(Error::Usm("security level not supported for this user")),
            _ => Err(Error::Usm("the agent sent a Report")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::secret::Secret;
    use ksocket_core::usm::PrivProto;

    /// An agent, in a few lines: engine `ENGINE`, answers as the test says.
    const ENGINE: &[u8] = b"\x80\x00\x1f\x88\x04kst-test";

    fn user(auth: &str, privacy: Option<&str>) -> V3Auth {
        V3Auth {
            user: "mon".into(),
            auth: Some((AuthProto::Sha256, Secret::new(auth))),
            privacy: privacy.map(|p| (PrivProto::Aes128, Secret::new(p))),
            context: String::new(),
        }
    }

    fn session(u: V3Auth) -> Session {
        let mut n = 100;
        Session::new(
            u,
            Box::new(move || {
                n += 1;
                n
            }),
            7,
        )
    }

    /// The agent's answer to `req` (msgID), of `kind` with `oid`, signed with the
    /// user's localised key when `auth` is given.
    fn answer(
        msg_id: i64,
        kind: u8,
        request_id: i32,
        oid: &str,
        time: i64,
        auth: Option<&str>,
    ) -> Vec<u8> {
        let oids: [OidBuf; 1] = [oid.parse().unwrap()];
        let pdu = PduSpec {
            kind,
            request_id,
            a: 0,
            b: 0,
            oids: &oids,
        };
        let key = auth.map(|a| {
            let ku = usm::password_to_key(AuthProto::Sha256, a.as_bytes()).unwrap();
            usm::localize(AuthProto::Sha256, &ku, ENGINE)
        });
        let req = V3Request {
            msg_id: msg_id as i32,
            max_size: 65507,
            flags: if key.is_some() { flags::AUTH } else { 0 },
            usm: Usm {
                engine_id: ENGINE,
                boots: 3,
                time,
                user: b"mon",
                auth_params: b"",
                priv_params: b"",
            },
            auth_len: if key.is_some() {
                AuthProto::Sha256.mac_len()
            } else {
                0
            },
            data: V3Data::Plain {
                context_engine_id: ENGINE,
                context_name: b"",
                pdu,
            },
        };
        let mut buf = vec![0u8; 2048];
        let (msg, off) = req.encode(&mut buf).unwrap();
        if let Some(k) = key {
            usm::sign(AuthProto::Sha256, &k, msg, off).unwrap();
        }
        msg.to_vec()
    }

    fn sent(o: &Outgoing) -> (i64, Option<i32>, i64) {
        let m = V3Message::decode(&o.msg).unwrap();
        let rid = match m.data {
            ScopedData::Plain(sp) => Some(sp.pdu.request_id),
            ScopedData::Encrypted(_) => None,
        };
        (m.msg_id, rid, m.usm.time)
    }

    const SYS_DESCR: &str = "1.3.6.1.2.1.1.1.0";
    const NOT_IN_TIME_WINDOW: &str = "1.3.6.1.6.3.15.1.1.2.0";
    const UNKNOWN_ENGINE_ID: &str = "1.3.6.1.6.3.15.1.1.4.0";
    const WRONG_DIGEST: &str = "1.3.6.1.6.3.15.1.1.5.0";

    /// A GET of sysDescr started on `s`: the discovery message.
    fn get(s: &mut Session) -> Outgoing {
        let oids: [OidBuf; 1] = [SYS_DESCR.parse().unwrap()];
        let spec = PduSpec {
            kind: tag::GET,
            request_id: 0,
            a: 0,
            b: 0,
            oids: &oids,
        };
        s.start(spec, Instant::now()).unwrap()
    }

    /// The agent answers `to` with a `kind` PDU naming `oid`, at agent time `time`,
    /// signed with `auth`'s key: the session's next message, or `None` when the
    /// answer was the response.
    fn agent(
        s: &mut Session,
        to: &Outgoing,
        kind: u8,
        oid: &str,
        time: i64,
        auth: Option<&str>,
    ) -> Result<Option<Outgoing>, Error> {
        let (mid, rid, _) = sent(to);
        let resp = answer(mid, kind, rid.unwrap(), oid, time, auth);
        let mut plain = Vec::new();
        Ok(match s.handle(&resp, &mut plain, Instant::now())? {
            Next::Send(o) => Some(o),
            Next::Answer(p) => {
                assert_eq!(p.request_id, rid.unwrap());
                None
            }
        })
    }

    #[test]
    fn discovery_then_a_signed_request_then_the_answer() {
        let mut s = session(user("authpass1", None));
        let d = get(&mut s);
        let req = agent(&mut s, &d, tag::REPORT, UNKNOWN_ENGINE_ID, 500, None)
            .unwrap()
            .expect("a request after discovery");
        assert_eq!(sent(&req).2, 500, "the agent's clock");
        let done = agent(
            &mut s,
            &req,
            tag::RESPONSE,
            SYS_DESCR,
            500,
            Some("authpass1"),
        );
        assert!(matches!(done, Ok(None)), "answered");
    }

    #[test]
    fn reports_resynchronise_or_name_the_mistake() {
        let mut s = session(user("authpass1", None));
        let d = get(&mut s);
        let req = agent(&mut s, &d, tag::REPORT, UNKNOWN_ENGINE_ID, 10, None)
            .unwrap()
            .unwrap();
        // notInTimeWindow, signed: send again with the agent's new clock.
        let again = agent(
            &mut s,
            &req,
            tag::REPORT,
            NOT_IN_TIME_WINDOW,
            9000,
            Some("authpass1"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(sent(&again).2, 9000);
        // Wrong digest: said as such.
        let e = agent(&mut s, &again, tag::REPORT, WRONG_DIGEST, 9000, None).unwrap_err();
        assert!(e.to_string().contains("wrong digest"), "{e}");
        // An answer signed with another key fails authentication.
        let mut s = session(user("authpass1", None));
        let d = get(&mut s);
        let req = agent(&mut s, &d, tag::REPORT, UNKNOWN_ENGINE_ID, 10, None)
            .unwrap()
            .unwrap();
        let forged = agent(
            &mut s,
            &req,
            tag::RESPONSE,
            SYS_DESCR,
            10,
            Some("otherpass"),
        );
        assert!(
            matches!(forged, Err(Error::Usm(m)) if m.contains("failed authentication")),
            "{forged:?}"
        );
    }

    #[test]
    fn sessions_of_different_credentials_never_share_a_key() {
        let addr: SocketAddr = "198.18.0.1:161".parse().unwrap();
        let right = SessionKey::new(addr, &user("authpass1", Some("privpass1")));
        assert_eq!(
            right,
            SessionKey::new(addr, &user("authpass1", Some("privpass1")))
        );
        for other in [
            user("authpass2", Some("privpass1")),
            user("authpass1", Some("privpass2")),
            user("authpass1", None),
        ] {
            assert_ne!(right, SessionKey::new(addr, &other));
        }
        let elsewhere: SocketAddr = "198.18.0.2:161".parse().unwrap();
        assert_ne!(
            right,
            SessionKey::new(elsewhere, &user("authpass1", Some("privpass1")))
        );
    }
}
