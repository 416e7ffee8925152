//! SNMP v1/v2c client (blocking, one UDP socket) and `ksocket snmp get|walk`.
//!
//! Walks use GetBulk on v2c and GetNext on v1 (a table's columns are walked together,
//! one varbind per column in each request: [`Client::walk_columns`]), and stop at the
//! end of the subtree, on endOfMibView, on noSuchName (v1), on a non-increasing OID
//! (reported: the walk is incomplete) and after a bound on the number of rows. GetBulk tunes itself: on a
//! timeout or tooBig the max-repetitions is halved, and a device that keeps failing
//! GetBulk is walked with GetNext. A walk that ended early says so; it never passes a
//! partial table off as whole.
//!
//! Values print as `snmpbulkwalk -On` prints them without MIBs, so the two can be diffed.

pub mod collector;
pub mod device;
pub mod names;
pub mod sweep;
pub mod v3;

mod columns;
mod transport;

pub use transport::Transport;

use crate::credentials::secret::Secret;
use ksocket_core::snmp::{Message, OidBuf, Pdu, PduSpec, Request, V3Message, Value, Version, tag};
use ksocket_core::usm::{AuthProto, PrivProto};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Where a walk stops, whatever the agent sends: it then says it is incomplete.
#[derive(Debug, Clone, Copy)]
pub struct WalkLimits {
    /// Rows (variable bindings) at most.
    pub rows: usize,
    /// Bytes of OIDs and values at most (what the caller may keep of them).
    pub bytes: usize,
    /// No request is sent after this.
    pub deadline: Option<Instant>,
}

impl WalkLimits {
    /// Whether a walk that has handed on `rows` rows and `bytes` bytes must stop here,
    /// and how it ends then (a limit, or the time limit, reached).
    fn reached(&self, rows: usize, bytes: usize) -> Option<WalkEnd> {
        if rows >= self.rows {
            return Some(WalkEnd::Incomplete(format!(
                "stopped at the limit of {} rows",
                self.rows
            )));
        }
        if bytes >= self.bytes {
            return Some(WalkEnd::Incomplete(format!(
                "stopped at the limit of {} bytes",
                self.bytes
            )));
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(WalkEnd::Incomplete("stopped: the time limit was up".into()));
        }
        None
    }

    /// The limits of `ksocket snmp walk`, which keeps nothing (it prints as it goes).
    pub const PRINTING: WalkLimits = WalkLimits {
        rows: 1_000_000,
        bytes: usize::MAX,
        deadline: None,
    };
}

/// What a row costs against [`WalkLimits::bytes`]: its OID's arcs and value bytes,
/// and what keeping it costs beside them (measured with the device record's tables:
/// about 200 bytes of index, row, tree node and allocator overhead).
pub fn row_bytes(o: &OidBuf, v: &Value<'_>) -> usize {
    let value = match v {
        Value::OctetString(b) | Value::Opaque(b) | Value::Other(_, b) => b.len(),
        Value::Oid(o) => o.arcs().count() * 4,
        _ => 8,
    };
    o.arcs().len() * 4 + value + 200
}

#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub version: Version,
    pub community: Secret,
    pub timeout: Duration,
    pub retries: u32,
    /// Listening on after a timeout before the next try (credential `retryInterval`).
    pub retry_interval: Duration,
    pub max_repetitions: u32,
    /// SNMPv3 user security; `None` for v1/v2c.
    pub v3: Option<V3Auth>,
}

/// SNMPv3 user and keys' passwords (USM).
#[derive(Clone, Debug)]
pub struct V3Auth {
    pub user: String,
    pub auth: Option<(AuthProto, Secret)>,
    /// Only with `auth` (authPriv).
    pub privacy: Option<(PrivProto, Secret)>,
    /// The contextName of requests (`-n`; empty by default, the agent's default context).
    pub context: String,
}

#[derive(Debug)]
pub enum Error {
    /// No answer after every retry (a wrong community looks like this too).
    Timeout,
    /// Datagrams came from the agent, but none was an SNMP answer to the request.
    NotSnmp(usize),
    /// The agent answered with an error-status.
    Status { status: i64, index: i64 },
    /// A socket error.
    Io(io::Error),
    /// SNMPv3 security: the agent's Report, or a check of ours, said why.
    Usm(&'static str),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Timeout => f.write_str("timeout: no response (wrong community, or no agent)"),
            Error::NotSnmp(n) => write!(
                f,
                "answers that are not SNMP: {n} datagrams from the agent, none an answer to the request"
            ),
            Error::Status { status, index } => write!(
                f,
                "error-status {} ({}) at index {index}",
                status,
                status_name(*status)
            ),
            Error::Io(e) => write!(f, "{e}"),
            Error::Usm(why) => f.write_str(why),
        }
    }
}

fn status_name(s: i64) -> &'static str {
    match s {
        0 => "noError",
        1 => "tooBig",
        2 => "noSuchName",
        3 => "badValue",
        4 => "readOnly",
        5 => "genErr",
        6 => "noAccess",
        16 => "authorizationError",
        _ => "other",
    }
}

/// How a walk ended.
#[derive(Debug, PartialEq, Eq)]
pub enum WalkEnd {
    /// The subtree was read to its end.
    Complete,
    /// v1: the agent said noSuchName past the last object of its whole MIB.
    EndOfMib,
    /// It stopped early, for this reason.
    Incomplete(String),
}

/// Runs `fut` to its end on this thread (smol): the SNMP client's one I/O model for
/// callers that are not async themselves.
pub fn block_on<T>(fut: impl std::future::Future<Output = T>) -> T {
    smol::block_on(fut)
}

pub struct Client {
    transport: Rc<Transport>,
    buf: Vec<u8>,
    /// SNMPv3 sessions, one per (agent, credential): see [`v3::SessionKey`].
    sessions: HashMap<v3::SessionKey, v3::Session>,
}

impl Client {
    /// A client with a socket of its own.
    pub fn new() -> io::Result<Client> {
        Ok(Client::with(Transport::new()?))
    }

    /// A client sharing `transport`'s socket.
    pub fn with(transport: Rc<Transport>) -> Client {
        Client {
            transport,
            buf: vec![0; 65535],
            sessions: HashMap::new(),
        }
    }

    /// Sends one request and calls `f` with the matching response; retries on timeout.
    pub async fn request<R>(
        &mut self,
        t: &Target,
        kind: u8,
        a: i64,
        b: i64,
        oids: &[OidBuf],
        f: impl FnOnce(&Pdu<'_>) -> R,
    ) -> Result<R, Error> {
        if let Some(v3) = t.v3.clone() {
            return self
                .request_v3(
                    t,
                    &v3,
                    PduSpec {
                        kind,
                        request_id: 0,
                        a,
                        b,
                        oids,
                    },
                    f,
                )
                .await;
        }
        let id = self.transport.next_id();
        let req = Request {
            version: t.version,
            community: t.community.expose().as_bytes(),
            kind,
            request_id: id,
            a,
            b,
        };
        let msg = req
            .encode(&mut self.buf, oids)
            .map_err(|e| Error::Io(io::Error::other(e.to_string())))?;
        let msg = msg.to_vec();
        // Anything that does not decode, or answers another request, is ignored.
        let resp = self
            .transport
            .exchange(t, &msg, i64::from(id), |b| {
                Message::decode(b)
                    .is_ok_and(|m| m.pdu.kind == tag::RESPONSE && m.pdu.request_id == id)
            })
            .await?;
        let m = Message::decode(&resp).map_err(|_| Error::Usm("undecodable answer"))?;
        if m.pdu.error_status != 0 {
            return Err(Error::Status {
                status: m.pdu.error_status,
                index: m.pdu.error_index,
            });
        }
        Ok(f(&m.pdu))
    }

    async fn request_v3<R>(
        &mut self,
        t: &Target,
        v3: &V3Auth,
        spec: PduSpec<'_>,
        f: impl FnOnce(&Pdu<'_>) -> R,
    ) -> Result<R, Error> {
        let transport = self.transport.clone();
        let session = self
            .sessions
            .entry(v3::SessionKey::new(t.addr, v3))
            .or_insert_with(|| {
                let ids = transport.clone();
                // The privacy salt counter starts anywhere (RFC 3826 wants it
                // unpredictable across restarts), its low bits left to count.
                let salt = (crate::sys::random::u64() & 0xffff_ffff) << 24;
                v3::Session::new(v3.clone(), Box::new(move || ids.next_id()), salt)
            });
        let mut out = session.start(spec, Instant::now())?;
        loop {
            let id = i64::from(out.msg_id);
            let resp = match transport
                .exchange(t, &out.msg, id, |b| {
                    V3Message::decode(b).is_ok_and(|m| m.msg_id == id)
                })
                .await
            {
                Err(Error::Timeout) => return Err(session.timeout()),
                r => r?,
            };
            let mut plain = Vec::new();
            match session.handle(&resp, &mut plain, Instant::now())? {
                v3::Next::Send(o) => out = o,
                v3::Next::Answer(pdu) if pdu.error_status != 0 => {
                    return Err(Error::Status {
                        status: pdu.error_status,
                        index: pdu.error_index,
                    });
                }
                v3::Next::Answer(pdu) => return Ok(f(&pdu)),
            }
        }
    }

    /// GET: calls `out` with each (oid, value). (An OID of over 128 arcs cannot answer
    /// a request of ours, whose OIDs fit; it is passed over.)
    pub async fn get(
        &mut self,
        t: &Target,
        oids: &[OidBuf],
        out: &mut dyn FnMut(&OidBuf, &Value<'_>),
    ) -> Result<(), Error> {
        self.request(t, tag::GET, 0, 0, oids, |p| {
            for (o, v) in p.varbinds {
                if let Ok(o) = OidBuf::from_oid(&o) {
                    out(&o, &v);
                }
            }
        })
        .await
    }

    /// Walks the subtree under `root`, calling `out` for each row in order.
    pub async fn walk(
        &mut self,
        t: &Target,
        root: &OidBuf,
        limits: &WalkLimits,
        out: &mut dyn FnMut(&OidBuf, &Value<'_>),
    ) -> Result<WalkEnd, Error> {
        let mut last = root.clone();
        let mut rows = 0usize;
        let mut bytes = 0usize;
        let mut reps = i64::from(t.max_repetitions.clamp(1, 200));
        let mut bulk = t.version == Version::V2c;
        loop {
            if let Some(end) = limits.reached(rows, bytes) {
                return Ok(end);
            }
            let (kind, b) = if bulk {
                (tag::GET_BULK, reps)
            } else {
                (tag::GET_NEXT, 0)
            };
            let step = self
                .request(t, kind, 0, b, std::slice::from_ref(&last), |pdu| {
                    walk_step(pdu, root, &last, (rows, &mut bytes), limits, out)
                })
                .await;
            match step {
                Ok(Step::More(o, n)) => {
                    rows += n;
                    last = *o;
                }
                Ok(Step::End) => return Ok(WalkEnd::Complete),
                Ok(Step::Bad(why)) => return Ok(WalkEnd::Incomplete(why)),
                // v1: noSuchName past the last object ends the walk.
                Err(Error::Status { status: 2, .. }) if !bulk => return Ok(WalkEnd::EndOfMib),
                Err(Error::Status { status: 1, .. }) if bulk && reps > 1 => {
                    reps = (reps / 2).max(1)
                }
                // Any other error to a GetBulk (genErr, say, from agents that mishandle
                // it): walk on from here with GetNext.
                Err(Error::Status { status, .. }) if bulk => {
                    log::debug!(
                        "{}: GetBulk answered {}; walking on with GetNext",
                        t.addr,
                        status_name(status)
                    );
                    bulk = false;
                }
                // Silence to the first request: nothing answers (a wrong community
                // looks like this); one timeout (with its retries) is all it costs.
                Err(Error::Timeout) if rows == 0 => return Err(Error::Timeout),
                Err(Error::Timeout) if bulk => {
                    // A large response may be what is lost: retry small, and on a
                    // device that answered before, fall back to GetNext.
                    if reps > 1 {
                        reps /= 2;
                    } else {
                        bulk = false;
                    }
                }
                Err(e) if rows > 0 => return Ok(WalkEnd::Incomplete(format!("{e}"))),
                Err(e) => return Err(e),
            }
        }
    }
}

/// What one response of a walk says.
#[derive(Debug, PartialEq)]
enum Step {
    /// Go on from this OID; this many rows were handed on.
    More(Box<OidBuf>, usize),
    End,
    /// The walk stops here, incomplete, for this reason.
    Bad(String),
}

/// One response of a walk under `root` that asked for what follows `last`, with
/// `rows` handed on so far and `bytes` counted: hands each row inside the subtree to
/// `out`, as snmpbulkwalk prints them (exceptions included; one outside the subtree,
/// or an exception, ends the walk after this response), checks that each OID follows
/// the one requested, and never hands on more than the limits allow.
fn walk_step(
    pdu: &Pdu<'_>,
    root: &OidBuf,
    last: &OidBuf,
    (rows, bytes): (usize, &mut usize),
    limits: &WalkLimits,
    out: &mut dyn FnMut(&OidBuf, &Value<'_>),
) -> Step {
    let mut next: Option<OidBuf> = None;
    let mut n = 0usize;
    let mut end = false;
    for (o, v) in pdu.varbinds {
        if !o.starts_with(root.arcs()) {
            end = true;
            continue;
        }
        let Ok(ob) = OidBuf::from_oid(&o) else {
            return Step::Bad("an OID longer than 128 arcs".into());
        };
        // Within the limits, row by row: a response never takes more.
        if rows + n >= limits.rows || *bytes >= limits.bytes {
            return Step::More(Box::new(last.clone()), n);
        }
        *bytes += row_bytes(&ob, &v);
        out(&ob, &v);
        n += 1;
        if v.is_exception() {
            end = true;
            continue;
        }
        if ob <= *last {
            return Step::Bad(format!("OID not increasing at {ob}"));
        }
        next = Some(ob);
    }
    match next {
        Some(o) if !end => Step::More(Box::new(o), n),
        _ => Step::End,
    }
}

#[cfg(test)]
mod tests {
    use super::columns::{Column, columns_step};
    use super::*;

    /// A response PDU naming `oids` (NULL values), decoded as the client sees it.
    fn response(oids: &[&str]) -> Vec<u8> {
        let oids: Vec<OidBuf> = oids.iter().map(|o| o.parse().unwrap()).collect();
        let mut buf = vec![0u8; 2048];
        Request {
            version: Version::V2c,
            community: b"c",
            kind: tag::RESPONSE,
            request_id: 1,
            a: 0,
            b: 0,
        }
        .encode(&mut buf, &oids)
        .unwrap()
        .to_vec()
    }

    fn step(oids: &[&str], last: &str, rows: usize, limits: WalkLimits) -> (Step, usize) {
        let msg = response(oids);
        let m = Message::decode(&msg).unwrap();
        let (root, last): (OidBuf, OidBuf) =
            ("1.3.6.1.2.1.2".parse().unwrap(), last.parse().unwrap());
        let mut seen = 0;
        let mut bytes = 0;
        let s = walk_step(
            &m.pdu,
            &root,
            &last,
            (rows, &mut bytes),
            &limits,
            &mut |_, _| seen += 1,
        );
        (s, seen)
    }

    #[test]
    fn walk_stop_rules() {
        let open = WalkLimits::PRINTING;
        let o = |s: &str| Box::new(s.parse::<OidBuf>().unwrap());
        // Rows inside the subtree: go on from the last.
        assert_eq!(
            step(
                &["1.3.6.1.2.1.2.1.0", "1.3.6.1.2.1.2.2.1.1.1"],
                "1.3.6.1.2.1.2",
                0,
                open
            ),
            (Step::More(o("1.3.6.1.2.1.2.2.1.1.1"), 2), 2)
        );
        // A row past the subtree ends the walk after the rows before it.
        assert_eq!(
            step(
                &["1.3.6.1.2.1.2.2.1.1.9", "1.3.6.1.2.1.3.1.0"],
                "1.3.6.1.2.1.2.2.1.1.1",
                0,
                open
            ),
            (Step::End, 1)
        );
        // An OID that does not follow the one asked for: incomplete, said where.
        let (s, _) = step(&["1.3.6.1.2.1.2.2.1.1.1"], "1.3.6.1.2.1.2.2.1.1.5", 0, open);
        assert_eq!(
            s,
            Step::Bad("OID not increasing at .1.3.6.1.2.1.2.2.1.1.1".into())
        );
        // The row limit: never more rows than allowed, even inside one response.
        let three = [
            "1.3.6.1.2.1.2.2.1.1.1",
            "1.3.6.1.2.1.2.2.1.1.2",
            "1.3.6.1.2.1.2.2.1.1.3",
        ];
        let rows = WalkLimits { rows: 10, ..open };
        let (_, seen) = step(&three, "1.3.6.1.2.1.2", 8, rows);
        assert_eq!(seen, 2);
        // The byte limit likewise.
        let bytes = WalkLimits { bytes: 1, ..open };
        let (_, seen) = step(&three, "1.3.6.1.2.1.2", 0, bytes);
        assert_eq!(seen, 1);
    }

    /// `response`, with the values of the varbinds numbered in `ends` made
    /// endOfMibView (the test OIDs hold no arc 5 followed by arc 0, so each `05 00`
    /// is a NULL value).
    fn response_ending(oids: &[&str], ends: &[usize]) -> Vec<u8> {
        let mut msg = response(oids);
        let nulls: Vec<usize> = (0..msg.len() - 1)
            .filter(|&i| msg[i] == 0x05 && msg[i + 1] == 0x00)
            .collect();
        assert_eq!(nulls.len(), oids.len());
        for &k in ends {
            msg[nulls[k]] = tag::END_OF_MIB_VIEW;
        }
        msg
    }

    fn columns(roots: &[&str], lasts: &[&str]) -> Vec<Column> {
        roots
            .iter()
            .zip(lasts)
            .map(|(r, l)| Column {
                root: r.parse().unwrap(),
                last: l.parse().unwrap(),
                done: false,
            })
            .collect()
    }

    /// One `columns_step` on `msg`: its result and the OIDs handed on.
    fn col_step(
        msg: &[u8],
        cols: &mut [Column],
        live: &[usize],
        rows: usize,
        limits: WalkLimits,
    ) -> (Result<usize, String>, Vec<String>) {
        let m = Message::decode(msg).unwrap();
        let mut seen = Vec::new();
        let mut bytes = 0;
        let r = columns_step(
            &m.pdu,
            cols,
            live,
            (rows, &mut bytes),
            &limits,
            &mut |o, _| seen.push(o.to_string()),
        );
        (r, seen)
    }

    const C2: &str = "1.3.6.1.2.1.2.2.1.2";
    const C3: &str = "1.3.6.1.2.1.2.2.1.3";
    const C4: &str = "1.3.6.1.2.1.2.2.1.4";

    #[test]
    fn columns_interleaved() {
        let open = WalkLimits::PRINTING;
        let mut cols = columns(&[C2, C3], &[C2, C3]);
        let msg = response(&[
            "1.3.6.1.2.1.2.2.1.2.1",
            "1.3.6.1.2.1.2.2.1.3.1",
            "1.3.6.1.2.1.2.2.1.2.2",
            "1.3.6.1.2.1.2.2.1.3.2",
        ]);
        let (r, seen) = col_step(&msg, &mut cols, &[0, 1], 0, open);
        assert_eq!(r, Ok(4));
        assert_eq!(seen.len(), 4);
        assert_eq!(cols[0].last.to_string(), ".1.3.6.1.2.1.2.2.1.2.2");
        assert_eq!(cols[1].last.to_string(), ".1.3.6.1.2.1.2.2.1.3.2");
        assert!(!cols[0].done && !cols[1].done);
        // Only the columns going are asked for: varbind k is live[k % 2].
        let mut cols = columns(&[C2, C3, C4], &[C2, C3, C4]);
        cols[0].done = true;
        let msg = response(&["1.3.6.1.2.1.2.2.1.3.7", "1.3.6.1.2.1.2.2.1.4.7"]);
        let (r, _) = col_step(&msg, &mut cols, &[1, 2], 0, open);
        assert_eq!(r, Ok(2));
        assert_eq!(cols[2].last.to_string(), ".1.3.6.1.2.1.2.2.1.4.7");
        // No varbind at all ends every column going (as a single walk ends).
        let (r, seen) = col_step(&response(&[]), &mut cols, &[1, 2], 0, open);
        assert_eq!((r, seen.len()), (Ok(0), 0));
        assert!(cols.iter().all(|c| c.done));
    }

    #[test]
    fn column_ending_early_or_on_an_exception() {
        let open = WalkLimits::PRINTING;
        let mut cols = columns(&[C2, C3], &["1.3.6.1.2.1.2.2.1.2.2", C3]);
        // The second column runs past its root at once; what the agent sends for it
        // later (even back inside the root) is passed over.
        let msg = response(&[
            "1.3.6.1.2.1.2.2.1.2.3",
            "1.3.6.1.2.1.2.2.1.4.1",
            "1.3.6.1.2.1.2.2.1.2.4",
            "1.3.6.1.2.1.2.2.1.3.9",
        ]);
        let (r, seen) = col_step(&msg, &mut cols, &[0, 1], 0, open);
        assert_eq!(r, Ok(2));
        assert_eq!(seen, [".1.3.6.1.2.1.2.2.1.2.3", ".1.3.6.1.2.1.2.2.1.2.4"]);
        assert!(!cols[0].done && cols[1].done);
        // An exception is handed on (as snmpbulkwalk prints it) and ends its column
        // only; it is no OID going backwards.
        let mut cols = columns(&[C2, C3], &["1.3.6.1.2.1.2.2.1.2.4", C3]);
        let msg = response_ending(
            &[
                "1.3.6.1.2.1.2.2.1.2.4",
                "1.3.6.1.2.1.2.2.1.3.1",
                "1.3.6.1.2.1.2.2.1.2.4",
                "1.3.6.1.2.1.2.2.1.3.2",
            ],
            &[0, 2],
        );
        let (r, seen) = col_step(&msg, &mut cols, &[0, 1], 0, open);
        assert_eq!(r, Ok(3));
        assert_eq!(seen.len(), 3);
        assert!(cols[0].done && !cols[1].done);
        assert_eq!(cols[1].last.to_string(), ".1.3.6.1.2.1.2.2.1.3.2");
    }

    #[test]
    fn column_not_increasing_stops_the_walk() {
        let open = WalkLimits::PRINTING;
        // The first column is fine; the second goes back from .3.4 to .3.2.
        let mut cols = columns(&[C2, C3], &[C2, "1.3.6.1.2.1.2.2.1.3.4"]);
        let msg = response(&["1.3.6.1.2.1.2.2.1.2.1", "1.3.6.1.2.1.2.2.1.3.2"]);
        let (r, seen) = col_step(&msg, &mut cols, &[0, 1], 0, open);
        assert_eq!(
            r,
            Err("OID not increasing at .1.3.6.1.2.1.2.2.1.3.2".to_string())
        );
        assert_eq!(seen, [".1.3.6.1.2.1.2.2.1.2.1"]);
        // The same OID twice within one column, in one response.
        let mut cols = columns(&[C2, C3], &[C2, C3]);
        let msg = response(&[
            "1.3.6.1.2.1.2.2.1.2.1",
            "1.3.6.1.2.1.2.2.1.3.1",
            "1.3.6.1.2.1.2.2.1.2.1",
            "1.3.6.1.2.1.2.2.1.3.2",
        ]);
        let (r, _) = col_step(&msg, &mut cols, &[0, 1], 0, open);
        assert!(r.is_err());
    }

    #[test]
    fn column_limits_inside_one_response() {
        let open = WalkLimits::PRINTING;
        let four = [
            "1.3.6.1.2.1.2.2.1.2.1",
            "1.3.6.1.2.1.2.2.1.3.1",
            "1.3.6.1.2.1.2.2.1.2.2",
            "1.3.6.1.2.1.2.2.1.3.2",
        ];
        let msg = response(&four);
        // 7 rows handed on before, 10 at most: 3 of these 4.
        let mut cols = columns(&[C2, C3], &[C2, C3]);
        let rows = WalkLimits { rows: 10, ..open };
        let (r, seen) = col_step(&msg, &mut cols, &[0, 1], 7, rows);
        assert_eq!((r, seen.len()), (Ok(3), 3));
        // What was not handed on is asked for again (were the walk to go on).
        assert_eq!(cols[1].last.to_string(), ".1.3.6.1.2.1.2.2.1.3.1");
        // The byte limit: the first row passes it.
        let mut cols = columns(&[C2, C3], &[C2, C3]);
        let bytes = WalkLimits { bytes: 1, ..open };
        let (r, seen) = col_step(&msg, &mut cols, &[0, 1], 0, bytes);
        assert_eq!((r, seen.len()), (Ok(1), 1));
    }
}
